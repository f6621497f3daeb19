#!/bin/bash
# The commit-mark guard on a real PostgreSQL (tests/pg/pg.sh), through
# tests/tools/cmarkpg (commitmark through a store on the server). Each
# cmarkpg run is a daemon start; the mark file
# is the daemon's, in its state dir. Scenarios (docs/POSTGRESQL.md "When
# the store goes back in time"):
#   - new database: mark created with the server's facts; restart: ok;
#   - a dump taken 3 acking commits ago reloaded into a re-created
#     database: behind, refused (the message names the re-created
#     database), accept-restore, then ok;
#   - a dump taken after the last ack reloaded: moved (new OID), runs;
#   - the same database name on another cluster: other_cluster, refused;
#   - under a running daemon: the connection is lost and the server it
#     comes back to is behind: the next acking commit is refused (nothing
#     acked) until a reconnect finds it whole again;
#   - failover to an up-to-date streaming replica (promoted: timeline 2):
#     moved, runs, the mark takes timeline 2;
#   - failover to a replica that lacked the last acked commits (a base
#     backup promoted): behind, refused.
# Then dbsize on PostgreSQL: the database and reject sizes from the server.
# First of all, tests/unit/commitmark_test and retention_test run again on
# this server.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"
CM=$BUILD/tools/cmarkpg

# cm URL BASE CMD...: one cmarkpg run, one command per argument; its
# answers on stdout, its log appended to $T/cm.log.
cm() {
    local url=$1 base=$2
    shift 2
    printf '%s\n' "$@" quit | "$CM" "$url" "$base" 2>> "$T/cm.log"
}
state_of() { echo "$1" | sed -n 's/^check state=\([a-z_]*\).*/\1/p' | tail -1; }
fact() { echo "$1" | sed -n "s/^facts .*$2=\\([^ ]*\\).*/\\1/p"; }

pg_start || { not_ok "pg_start"; exit 1; }

# The unit tests, again on this server (tests/unit/commitmark_test.c).
out=$(CDS_TEST_PG_URL=$(pg_url) "$BUILD/tests/commitmark_test" 2>&1); rc=$?
echo "$out" | grep -E '^\[ *(OK|FAILED|ERROR|LINE|PASSED) ' | sed 's/^/# /'
expect_eq "commitmark_test passes on SQLite and PostgreSQL" "$rc" 0
expect_eq "  and ran its 7 PostgreSQL cases (each through a store there)" \
    "$(echo "$out" | sed -n '/PASSED  \] 10 /,$p' | grep -c '^\[       OK \]')" 7

out=$(CDS_TEST_PG_URL=$(pg_url) "$BUILD/tests/retention_test" 2>&1); rc=$?
echo "$out" | grep -E '^\[ *(OK|FAILED|ERROR|LINE|PASSED) ' | sed 's/^/# /'
expect_eq "retention_test passes on SQLite and PostgreSQL (buckets in steps)" "$rc" 0
expect_eq "  and ran its PostgreSQL case" \
    "$(echo "$out" | grep -cE '^\[       OK \] test_postgresql')" 1

url=$(pg_url cdsdb)
B=$T/state/aggregator.db
mkdir -p "$T/state"

out=$(cm "$url" "$B" check group group group facts)
expect_eq "new database: mark created" "$(state_of "$out")" created
expect_eq "  three acking commits" "$(echo "$out" | grep -c '^group ok')" 3
sys=$(fact "$out" system_id); oid=$(fact "$out" oid)
check "  the server's system identifier read" test -n "$sys" -a "$sys" != 0
expect_eq "  timeline 1" "$(fact "$out" timeline)" 1
check "  the mark file is CDSMARK2 with the facts" \
    sh -c "head -c 8 '$B.commitmark' | grep -q CDSMARK2"
expect_eq "restart: ok" "$(state_of "$(cm "$url" "$B" check)")" ok

# A dump now (counter 3), three more acked commits, then the database is
# dropped and the dump reloaded: the restored copy lacks them.
PGPASSWORD=$PG_PASS "$PG_BIN/pg_dump" -Fc -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_SUPER" -f "$T/old.dump" cdsdb 2>> "$T/cm.log"
check "pg_dump at counter 3" test -s "$T/old.dump"
out=$(cm "$url" "$B" check group group group)
expect_eq "  three more acked commits" "$(echo "$out" | grep -c '^group ok')" 3
reload() {
    pg_psql - -c "DROP DATABASE cdsdb" -c "CREATE DATABASE cdsdb" \
        > /dev/null 2>> "$T/cm.log"
    PGPASSWORD=$PG_PASS "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_SUPER" -d cdsdb "$1" 2>> "$T/cm.log"
}
reload "$T/old.dump"
out=$(cm "$url" "$B" check)
expect_eq "older dump reloaded: behind" "$(state_of "$out")" behind
check "  refused (runs=0)" sh -c "echo \"\$1\" | grep -q 'runs=0'" _ "$out"
check "  the message names the re-created database and the missing commits" \
    sh -c "echo \"\$1\" | grep -q 'counter 3 is behind the commit mark 6.*re-created (OID'" _ "$out"
out=$(cm "$url" "$B" check "accept restored dump" check group)
expect_eq "accept-restore, then ok" "$(state_of "$out")" ok
check "  and acking commits go on" sh -c "echo \"\$1\" | grep -q '^group ok counter=4'" _ "$out"

# A dump taken after the last ack, reloaded into a re-created database:
# nothing acked is missing; the mark takes the new OID.
PGPASSWORD=$PG_PASS "$PG_BIN/pg_dump" -Fc -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_SUPER" -f "$T/new.dump" cdsdb 2>> "$T/cm.log"
reload "$T/new.dump"
out=$(cm "$url" "$B" check facts)
expect_eq "current dump reloaded: moved (runs)" "$(state_of "$out")" moved
check "  the message says the database was re-created, counter intact" \
    sh -c "echo \"\$1\" | grep -q 'counter 4 intact.*OID'" _ "$out"
check "  new OID" test "$(fact "$out" oid)" != "$oid"
expect_eq "  then ok" "$(state_of "$(cm "$url" "$B" check)")" ok

# The same database name on another cluster, loaded from the same dump.
A_DIR=$PG_DIR A_PORT=$PG_PORT A_SOCK=$PG_SOCK A_PASS=$PG_PASS A_WD=$PG_WATCHDOG
PG_WATCHDOG=""
if pg_start; then
    url2=$(pg_url cdsdb)
    PGPASSWORD=$PG_PASS "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_SUPER" -d cdsdb "$T/new.dump" 2>> "$T/cm.log"
    out=$(cm "$url2" "$B" check facts)
    expect_eq "same name on another cluster: other_cluster" "$(state_of "$out")" other_cluster
    check "  refused, the message says another cluster" \
        sh -c "echo \"\$1\" | grep -q 'runs=0' && echo \"\$1\" | grep -q 'another PostgreSQL cluster'" _ "$out"
    check "  other system identifier" test "$(fact "$out" system_id)" != "$sys"
    pg_stop
else
    not_ok "second pg_start"
fi
PG_DIR=$A_DIR PG_PORT=$A_PORT PG_SOCK=$A_SOCK PG_PASS=$A_PASS PG_WATCHDOG=$A_WD
expect_eq "the first cluster is ours again" "$(state_of "$(cm "$url" "$B" check)")" ok

# Under a running daemon: the connection drops and the server it comes
# back to is behind the mark (as after a failover to a lagging replica).
coproc CMP { "$CM" "$url" "$B" 2>> "$T/cm.log"; }
ask() {        # one command, its first answer line in $reply (bounded)
    echo "$1" >&"${CMP[1]}"
    read -t 30 -r reply <&"${CMP[0]}" || reply=timeout
    [ "$1" = check ] && { read -t 30 -r _ <&"${CMP[0]}" || reply=timeout; }
    return 0
}
# group_after_loss: once the killed backend is gone, groups until the
# lost connection is seen (busy) and restored: the answer of the first
# group on the new connection.
gone() { [ "$(pg_psql "$url" -Atc "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid")" = 0 ]; }
group_after_loss() {
    local i
    wait_for 30 gone || diag "backend $pid still there"
    for i in 1 2 3; do
        ask group
        case "$reply" in "group error=busy") continue ;; *) return 0 ;; esac
    done
}
ask check; expect_eq "daemon: started on the whole database" "$reply" "check state=ok runs=1"
ask group; expect_eq "  acks (counter 5)" "$reply" "group ok counter=5"
ask pid; pid=${reply#pid=}
pg_psql "$url" -c "UPDATE commit_mark SET counter = counter - 1" \
    -c "SELECT pg_terminate_backend($pid)" > /dev/null 2>> "$T/cm.log"
group_after_loss
expect_eq "  reconnected to a database behind the mark: acking refused" "$reply" "group error=corrupt"
ask group
expect_eq "  and refused again (nothing acked until it is whole)" "$reply" "group error=corrupt"
check "  logged commit_mark_refused" grep -q 'event=commit_mark_refused state=behind' "$T/cm.log"
ask pid; pid=${reply#pid=}
pg_psql "$url" -c "UPDATE commit_mark SET counter = counter + 1" \
    -c "SELECT pg_terminate_backend($pid)" > /dev/null 2>> "$T/cm.log"
group_after_loss
expect_eq "  the next reconnect finds it whole: acks again" "$reply" "group ok counter=6"
echo quit >&"${CMP[1]}"
# bash unsets CMP_PID once the coprocess has exited (set -u: guard it).
if [ -n "${CMP_PID:-}" ]; then wait "$CMP_PID" 2>/dev/null; fi

# Failover. s1: a base backup now (counter 6), never started until the
# end: a replica that lags. Two more acked commits. s2: a streaming
# replica, caught up after one more commit. The primary stops; s2 is
# promoted (timeline 2): moved, runs. Then s1 is promoted: behind.
S1_WD="" S2_WD=""
stop_extra() {
    local s
    for s in s1 s2; do
        [ -n "$A_DIR" ] && [ -f "$A_DIR/$s/data/postmaster.pid" ] && \
            as_pg "$PG_BIN/pg_ctl" -D "$A_DIR/$s/data" -m immediate -w -t 10 stop > /dev/null 2>&1
    done
    [ -n "$S1_WD" ] && kill -KILL "$S1_WD" 2>/dev/null
    [ -n "$S2_WD" ] && kill -KILL "$S2_WD" 2>/dev/null
    return 0
}
trap 'stop_extra; pg_stop; cleanup' EXIT
# replica NAME: a base backup of the primary as a standby (-R), in
# $PG_DIR/NAME/data, with its own watchdog.
replica() {
    as_pg mkdir -m 0700 "$PG_DIR/$1"
    as_pg env PGPASSWORD="$PG_PASS" "$PG_BIN/pg_basebackup" -h 127.0.0.1 \
        -p "$PG_PORT" -U "$PG_SUPER" -D "$PG_DIR/$1/data" -R -X stream \
        -c fast 2>> "$T/cm.log" || return 1
    local keep=$PG_DIR keepwd=$PG_WATCHDOG
    PG_DIR=$keep/$1; pg_watchdog; eval "${2}=\$PG_WATCHDOG"
    PG_DIR=$keep; PG_WATCHDOG=$keepwd
}
# run_replica NAME: start it on a free port, put in $port (bounded by
# pg_ctl -w; up to 3 ports, as pg_start: another test may take one).
run_replica() {
    local try
    for try in 1 2 3; do
        port=$(pg_free_port) || return 1
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/$1/data" -l "$PG_DIR/$1/log" \
            -w -t 30 -o "-c listen_addresses=127.0.0.1 -p $port \
            -c unix_socket_directories=$PG_DIR/$1 -c fsync=on \
            -c synchronous_commit=on" start > /dev/null && return 0
    done
    return 1
}
replica s1 S1_WD; check "base backup s1 (counter 6)" test -f "$PG_DIR/s1/data/standby.signal"
out=$(cm "$url" "$B" group group)
expect_eq "  two more acked commits" "$(echo "$out" | tail -1)" "group ok counter=8"
replica s2 S2_WD
run_replica s2; check "streaming replica s2 started" test $? = 0; p2=$port
out=$(cm "$url" "$B" group)
expect_eq "  one more acked commit" "$out" "group ok counter=9"
lsn=$(pg_psql "$url" -Atc "SELECT pg_current_wal_lsn()")
url_s2="postgresql://$PG_SUPER:$PG_PASS@127.0.0.1:$p2/cdsdb"
caught_up() { [ "$(pg_psql "$url_s2" -Atc "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ]; }
check "  s2 replayed the primary's WAL" wait_for 30 caught_up
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop > /dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/s2/data" -w -t 30 promote > /dev/null
out=$(cm "$url_s2" "$B" check facts group)
expect_eq "failover to the up-to-date replica: moved (runs)" "$(state_of "$out")" moved
expect_eq "  on timeline 2" "$(fact "$out" timeline)" 2
check "  the message names the new timeline" sh -c "echo \"\$1\" | grep -q 'timeline 1 -> 2'" _ "$out"
check "  same system identifier" test "$(fact "$out" system_id)" = "$sys"
check "  acks go on (counter 10)" sh -c "echo \"\$1\" | grep -q '^group ok counter=10'" _ "$out"
expect_eq "  restart: ok" "$(state_of "$(cm "$url_s2" "$B" check)")" ok

run_replica s1; p3=$port
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/s1/data" -w -t 30 promote > /dev/null
url_s1="postgresql://$PG_SUPER:$PG_PASS@127.0.0.1:$p3/cdsdb"
out=$(cm "$url_s1" "$B" check)
expect_eq "failover to the lagging replica: behind" "$(state_of "$out")" behind
check "  refused: 4 acknowledged commits missing" \
    sh -c "echo \"\$1\" | grep -q 'runs=0' && echo \"\$1\" | grep -q 'counter 6 is behind the commit mark 10 in .*: the last 4 acknowledged'" _ "$out"

# dbsize on PostgreSQL: sizes from the server, the WAL unknown (-1).
pg_psql "$url_s2" -c "INSERT INTO reject(at_ms, code, raw) SELECT g, 1, decode(repeat('ab', 500), 'hex') FROM generate_series(1, 200) g" > /dev/null
out=$(cm "$url_s2" "$B" size)
check "dbsize: database bytes from pg_database_size" \
    sh -c "echo \"\$1\" | grep -Eq '^size rc=ok db=[1-9][0-9]{5,} '" _ "$out"
check "  reject bytes and rows, wal unknown" \
    sh -c "echo \"\$1\" | grep -Eq 'rejects=[1-9][0-9]{3,} rows=200 wal=-1'" _ "$out"
check "no log line shows the password" sh -c "! grep -qF \"\$1\" '$T/cm.log'" _ "$PG_PASS"
stop_extra
pg_stop
echo "1..$TESTNO"
