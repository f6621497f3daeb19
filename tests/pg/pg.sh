# PostgreSQL test harness: a throw-away server of Debian's `postgresql`
# package (deploy/deps.sh), started by the test itself. Source it from a
# bash test script (after tests/integration/lib.sh if you use that):
#
#   . "$TOP/tests/pg/pg.sh"
#   pg_start || exit 1        # initdb in a fresh temp dir, start, wait ready
#   url=$(pg_url)             # a new database: postgresql://user:pw@127.0.0.1:port/db
#   pg_psql "$url" -c 'SELECT 1'
#   pg_stop                   # fast shutdown, directory removed
#
# Fault scenarios take the server away under a running client and bring it
# back, same directory, port and data (tests/fault/NN_pg_*.sh):
#   pg_restart fast|immediate # pg_ctl restart -m MODE (immediate: a crash,
#                             # WAL recovery at start); waits until ready
#   pg_halt fast|immediate    # stop, keep everything; pg_resume starts it
#   pg_resume                 # again on PG_PORT and waits until ready
#
# The server:
#   - runs as an unprivileged user: postgres refuses to run as root, and CI
#     runs the tests as root. As root we run it as PG_TEST_USER (default
#     `nobody`, which every Debian system has: no user is created); as any
#     other user, as that user. The directory is chowned to it.
#   - listens on 127.0.0.1 only, on a port `ss` shows free (retried on a
#     lost race with another test), and on a unix socket inside its
#     directory (never /var/run/postgresql: no clash with a system cluster).
#   - fsync=on, synchronous_commit=on, full_page_writes=on: we measure and
#     test durability, so the settings are those a deployment must have.
#   - a superuser `cdsync` with a random password (scram-sha-256 over TCP,
#     so URLs carry a password as real ones do); trust on the unix socket,
#     which only root and the server's user can reach (directory 0700).
#   - is stopped by pg_stop, by the EXIT trap, and, if the test shell is
#     killed with SIGKILL (no trap runs), by a watchdog that sees the
#     shell gone: no server outlives its test.
#
# Variables after pg_start: PG_DIR (temp dir), PG_PORT, PG_SOCK (socket
# dir), PG_BIN (server binaries), PG_SUPER, PG_PASS, PG_USER (OS user).
# Timings of the last start/stop (seconds) in PG_START_S / PG_STOP_S.

PG_DIR=""
PG_PORT=""
PG_WATCHDOG=""

# pg_bin: the directory holding initdb, pg_ctl and postgres. Debian puts
# them in /usr/lib/postgresql/<major>/bin, not on PATH; `pg_config
# --bindir` belongs to libpq-dev and may name another version's (or no)
# server. PG_BIN in the environment wins; else the newest major installed.
pg_bin() {
    local d best=""
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return 0; fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] \
            && best=$d
    done
    [ -n "$best" ] || { echo "pg: no PostgreSQL server under /usr/lib/postgresql/*/bin (deploy/deps.sh installs postgresql)" >&2; return 1; }
    echo "$best"
}

# as_pg CMD...: CMD as the server's user (runuser when we are root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

# pg_free_port: a TCP port nothing listens on or uses on this machine, of
# PostgreSQL's band (tests/ports.sh: under the ephemeral range, where the
# kernel and the bench do not pick).
. "$(dirname "${BASH_SOURCE[0]}")/../ports.sh"
pg_free_port() { band_port below; }

pg_now() { date +%s.%N; }
pg_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# pg_init_dir: fresh temp dir owned by the server's user, initdb into it.
pg_init_dir() {
    local base=${PG_TMP:-/tmp}
    PG_DIR=$(mktemp -d "$base/cdsync-pg.XXXXXX") || return 1
    PG_SOCK=$PG_DIR/sock
    mkdir -p "$PG_SOCK"
    PG_PASS=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$PG_PASS" > "$PG_DIR/pwfile"
    chmod 0700 "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown -R "$PG_USER:" "$PG_DIR"
    # The parent must be searchable by the server's user (a TMPDIR of
    # 0700 root would not be): say so rather than fail obscurely.
    as_pg test -w "$PG_DIR" || {
        echo "pg: $PG_DIR not writable by $PG_USER (set PG_TMP to a world-searchable dir)" >&2
        return 1; }
    # --no-sync: initdb's own flush of the new cluster (~3 s here) is of
    # files a test throws away; the server then runs with fsync on.
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_SUPER" \
        --pwfile="$PG_DIR/pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync \
        > "$PG_DIR/initdb.log" 2>&1 || {
        echo "pg: initdb failed:" >&2; sed 's/^/pg:   /' "$PG_DIR/initdb.log" >&2
        return 1; }
    rm -f "$PG_DIR/pwfile"
}

# pg_ready: one bounded readiness probe of the server (TCP, as a client
# would reach it).
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1; }

# pg_launch PORT: start postmaster on PORT and wait, up to 30 s, until it
# accepts connections. pg_ctl -w watches its child: a postmaster that
# exits (port taken) fails at once rather than at the deadline; then
# pg_isready confirms over TCP, as clients will connect (bounded: 5 s).
pg_launch() {
    PG_PORT=$1
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT \
            -c unix_socket_directories=$PG_SOCK \
            -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
            -c max_connections=30" start > /dev/null || return 1
    pg_wait_ready
}
# pg_wait_ready: bounded (5 s) wait until the server answers over TCP.
pg_wait_ready() {
    local i
    for i in $(seq 1 100); do     # 100 x 50 ms
        pg_ready && return 0
        sleep 0.05
    done
    return 1
}

# pg_restart MODE: pg_ctl restart -m MODE (fast: clients disconnected, a
# clean shutdown; immediate: no shutdown checkpoint, recovery from WAL at
# start), same options (postmaster.opts); 0 once ready again.
pg_restart() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
        -m "${1:-fast}" -w -t 30 restart > /dev/null && pg_wait_ready
}
# pg_halt MODE: stop the server, keep its directory (pg_resume restarts).
pg_halt() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w -t 30 stop > /dev/null
}
# pg_resume: start the halted server again on PG_PORT; 0 once ready.
pg_resume() { pg_launch "$PG_PORT"; }

# pg_watchdog: stops the server if the shell that started it disappears
# without running its EXIT trap (SIGKILL, a crashed runner).
pg_watchdog() {
    local owner=$$ dir=$PG_DIR bin=$PG_BIN user=$PG_USER
    ( trap '' INT TERM HUP
      while kill -0 "$owner" 2>/dev/null && [ -d "$dir/data" ]; do sleep 1; done
      if [ -f "$dir/data/postmaster.pid" ]; then
          if [ "$(id -u)" = 0 ]; then
              runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop
          else "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop; fi
          rm -rf "$dir"
      fi ) < /dev/null > /dev/null 2>&1 &
    PG_WATCHDOG=$!
}

# pg_start: initdb + start; up to 3 ports tried (another test may take the
# one we picked between `ss` and bind). 0 when ready.
pg_start() {
    local t0 try port
    t0=$(pg_now)
    PG_BIN=$(pg_bin) || return 1
    PG_SUPER=cdsync
    if [ "$(id -u)" = 0 ]; then PG_USER=${PG_TEST_USER:-nobody}; else PG_USER=$(id -un); fi
    pg_init_dir || { pg_stop; return 1; }
    pg_watchdog
    for try in 1 2 3; do
        port=$(pg_free_port) || break
        if pg_launch "$port"; then
            PG_START_S=$(pg_secs "$t0" "$(pg_now)")
            return 0
        fi
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop > /dev/null 2>&1
        echo "pg: start on port $port failed (try $try):" >&2
        tail -5 "$PG_DIR/server.log" 2>/dev/null | sed 's/^/pg:   /' >&2
    done
    pg_stop
    return 1
}

# pg_psql URL|- ARGS...: psql with no startup file, stopping on the first
# error; "-" is the superuser on the unix socket, database postgres.
pg_psql() {
    local url=$1; shift
    [ -n "$url" ] || { echo "pg_psql: empty URL" >&2; return 2; }
    if [ "$url" = - ]; then
        PGPASSWORD= "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" \
            -p "$PG_PORT" -U "$PG_SUPER" -d postgres "$@"
    else
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"
    fi
}

# pg_url [NAME]: create a fresh database (default t1, t2, ...) and print
# its URL (superuser, TCP, password inline). The counter is a file: pg_url
# runs in $(...), a subshell, where a variable's increment would be lost.
pg_url() {
    local name=${1:-} n
    if [ -z "$name" ]; then
        n=$(( $(cat "$PG_DIR/dbn" 2>/dev/null || echo 0) + 1 ))
        echo "$n" > "$PG_DIR/dbn"; name=t$n
    fi
    pg_psql - -c "CREATE DATABASE \"$name\"" > /dev/null || return 1
    echo "postgresql://$PG_SUPER:$PG_PASS@127.0.0.1:$PG_PORT/$name"
}

# pg_stop: fast shutdown (bounded), immediate if that fails; remove the
# directory. Safe to call twice and before pg_start.
pg_stop() {
    local t0
    t0=$(pg_now)
    if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop > /dev/null 2>&1 \
            || as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop > /dev/null 2>&1
    fi
    if [ -n "$PG_WATCHDOG" ]; then
        kill -KILL "$PG_WATCHDOG" 2>/dev/null   # it ignores TERM
        wait "$PG_WATCHDOG" 2>/dev/null
        PG_WATCHDOG=""
    fi
    [ -n "$PG_DIR" ] && [ -z "${KEEP:-}" ] && rm -rf "$PG_DIR"
    [ -n "${KEEP:-}" ] && [ -n "$PG_DIR" ] && echo "# kept $PG_DIR" >&2
    PG_DIR=""
    PG_STOP_S=$(pg_secs "$t0" "$(pg_now)")
}

# The EXIT trap: ours first, then the one set before we were sourced
# (lib.sh's cleanup). INT/TERM (tests/run.sh's timeout) become an exit so
# the EXIT trap runs.
pg_prev_trap=$(trap -p EXIT | sed "s/^trap -- '\\(.*\\)' EXIT\$/\\1/")
# shellcheck disable=SC2064
trap "pg_stop; $pg_prev_trap" EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
