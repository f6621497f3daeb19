# Shared helpers for integration tests: real cdsync-agent and
# cdsync-aggregator processes in a temporary directory, talking over ipc://
# (or tcp on 127.0.0.1). Source it from a test script:  . "$(dirname "$0")/lib.sh"
# Prints TAP lines ("ok N - ...", "not ok N - ..."); tests/run.sh counts them.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
AGENT=$BUILD/cdsync-agent
AGG=$BUILD/cdsync-aggregator
CATALOG=$TOP/deploy/catalog.csv
ORGUNITS=$TOP/deploy/orgunits.csv
T=$(mktemp -d /tmp/cdsync-it.XXXXXX)
PIDS=""
TESTNO=0
FAILED=0

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    if [ "$FAILED" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
trap cleanup EXIT

ok()     { TESTNO=$((TESTNO + 1)); echo "ok $TESTNO - $*"; }
not_ok() { TESTNO=$((TESTNO + 1)); FAILED=1; echo "not ok $TESTNO - $*"; }
# check NAME CMD...: one TAP line from a command's success.
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# expect_eq NAME GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}
diag() { echo "# $*"; }
# free_port: a TCP port of 127.0.0.1 that nothing holds now, chosen by the
# kernel (bind to port 0). Tests run side by side (tests/run.sh TEST_JOBS):
# a port computed from $$ could be another test's, or a connection's.
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: poll a condition every 50 ms until a deadline.
wait_for() {
    local secs=$1 i=0 n   # local: callers' loop variables must survive
    shift
    n=$((secs * 20))
    while [ $i -lt $n ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

# --- aggregator ---------------------------------------------------------
# agg_init [NAME] [ENDPOINT]: state dir, identity and config for one aggregator.
# In pg mode (CDS_TEST_STORE=pg) it also starts this script's PostgreSQL
# server on first use (agg_pg_server) and gives the aggregator a database
# of its own on it: `store = URL` in its ini, the URL in $T/NAME/store_url.
agg_init() {
    local err
    AN=${1:-agg}
    d=$T/$AN; mkdir -p "$d"
    ep=${2:-ipc://$T/$AN.sock}
    cat > "$d/aggregator.ini" <<INI
[aggregator]
state_dir = $d/state
catalog = $CATALOG
orgunits = $ORGUNITS
listen = $ep
log_level = ${LOG_LEVEL:-info}
http_listen = 127.0.0.1:0
INI
    if [ "$CDS_TEST_STORE" = pg ]; then
        agg_pg_server || return 1
        pg_url > "$d/store_url" || { pg_bail "cannot create a database for $AN"; return 1; }
        echo "store = $(cat "$d/store_url")" >> "$d/aggregator.ini"
    fi
    if ! "$AGG" -c "$d/aggregator.ini" keygen --label "$AN" > "$d/pubid" 2> "$d/keygen.err"; then
        err=$(head -1 "$d/keygen.err")
        cat "$d/keygen.err" >&2
        [ "$CDS_TEST_STORE" = pg ] \
            && pg_bail "aggregator refused the PostgreSQL store (store = postgresql://...): $err"
        return 1
    fi
    cat "$d/keygen.err" >&2
    eval "${AN}_EP=\$ep"
}
agg() { an=$1; shift; "$AGG" -c "$T/$an/aggregator.ini" "$@"; }
agg_db() { echo "$T/$1/state/aggregator.db"; }
agg_start() {
    an=${1:-agg}
    "$AGG" -c "$T/$an/aggregator.ini" run >> "$T/$an/log" 2>&1 &
    pid=$!; PIDS="$PIDS $pid"; eval "${an}_PID=$pid"
}
agg_stop() { # TERM and wait
    an=${1:-agg}; eval "pid=\$${an}_PID"
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}
agg_kill9() { an=${1:-agg}; eval "pid=\$${an}_PID"; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
# sqlq DB SQL: one query through the sqlite3 shell (read-only use).
sqlq() { sqlite3 -batch -noheader "$1" "PRAGMA busy_timeout=5000; $2" | tail -n +2; }

# --- the aggregator's store: SQLite file or PostgreSQL database ----------
# CDS_TEST_STORE=sqlite (default): <state_dir>/aggregator.db, as deployed by
# default. CDS_TEST_STORE=pg: one throw-away PostgreSQL server per test
# script (tests/pg/pg.sh, started by the first agg_init), one database per
# aggregator. Agents always keep SQLite. tests/run.sh runs a chosen set of
# scripts both ways (names ending "@pg"; docs/POSTGRESQL.md lists it).
CDS_TEST_STORE=${CDS_TEST_STORE:-sqlite}
case "$CDS_TEST_STORE" in
sqlite | pg) ;;
*) echo "not ok - CDS_TEST_STORE=$CDS_TEST_STORE: want sqlite or pg"; exit 2 ;;
esac
# pg_bail MESSAGE: the one line a pg-mode failure of the harness prints
# (tests/run.sh shows it), then the script stops: nothing after it can run.
# $T is not kept for it (no aggregator ran: nothing there to look at).
pg_bail() { not_ok "$1"; echo "Bail out! $1"; FAILED=0; exit 1; }
# agg_pg_server: this script's PostgreSQL server, started once (pg.sh's
# EXIT trap, chained after lib.sh's cleanup, stops it).
agg_pg_server() {
    [ -n "${PG_DIR:-}" ] && return 0
    . "$TOP/tests/pg/pg.sh"
    # Aggregators die first (cleanup), then the server: a live aggregator
    # would see its server vanish and log noise into the kept logs.
    trap 'cleanup; pg_stop' EXIT
    pg_start || pg_bail "pg_start: the test PostgreSQL server did not start (tests/pg/pg.sh)"
    diag "PostgreSQL test server on 127.0.0.1:$PG_PORT, start took ${PG_START_S} s"
    echo "$PG_START_S" > "$T/pg_start_s"
}
# agg_store NAME: where that aggregator keeps its data: the SQLite file or
# the postgresql:// URL (what tests/fault/checker.sh takes).
agg_store() {
    if [ "$CDS_TEST_STORE" = pg ]; then cat "$T/$1/store_url"; else agg_db "$1"; fi
}
# aggq NAME SQL: a read of aggregator NAME's store, whichever the backend,
# printed as `sqlite3 -batch -noheader` does: one row a line, columns
# separated by '|', NULL as empty. The SQL must mean the same to both
# (coalesce, CAST(x AS DOUBLE PRECISION), no typeof(); booleans as
# CASE/CAST(... AS INTEGER): PostgreSQL would print t/f). For the tests'
# convenience only, pg mode adds hex(bytea), group_concat(x[, sep]) and a
# domain `blob` (= bytea) to the TEST database (aggq_pg_compat), after the
# aggregator made its schema: the product never relies on them.
# AGGQ_TRACE=FILE (SQLite mode): every query is also appended to FILE
# (database path, TAB, SQL, NUL) for tests/pg/aggq_dialect.sh, which
# replays them on a PostgreSQL copy of the final databases.
aggq() {
    if [ "$CDS_TEST_STORE" != pg ]; then
        [ -n "${AGGQ_TRACE:-}" ] && printf '%s\t%s\0' "$(agg_db "$1")" "$2" >> "$AGGQ_TRACE"
        sqlq "$(agg_db "$1")" "$2"
        return
    fi
    aggq_pg_compat "$1" || return 1
    printf '%s\n' "$2" | pg_psql "$(cat "$T/$1/store_url")" -At -F'|' -f -
}
# blob HEX: a blob literal in the store's dialect (X'..' / '\x..'::bytea).
blob() { if [ "$CDS_TEST_STORE" = pg ]; then echo "'\\x$1'::bytea"; else echo "X'$1'"; fi; }
# aggq_pg_compat NAME: SQLite's hex(), group_concat() and BLOB, as SQL
# functions in NAME's test database; once (marker file), test-only.
aggq_pg_compat() {
    [ -e "$T/$1/pg_compat" ] && return 0
    pg_psql "$(cat "$T/$1/store_url")" -f "$TOP/tests/pg/aggq_compat.sql" > /dev/null || return 1
    : > "$T/$1/pg_compat"
}

# meta_retire_ntm8_3 DIR: DIR/catalog.csv and DIR/datasets.csv as deploy's
# with NTM8_3 retired and NTM8_9 replacing it (column replaces) in its data
# set: the metadata tests' version 2 (metadata_recheck, metadata_versions).
meta_retire_ntm8_3() {
    awk -F, 'NR == 1 { print $0 ",replaces"; next }
             $1 == "NTM8_3" { sub(/^NTM8_3,/, "NTM8_9,"); print $0 ",NTM8_3"; next }
             { print $0 "," }' "$TOP/deploy/catalog.csv" > "$1/catalog.csv"
    sed 's/ NTM8_3 / NTM8_9 /' "$TOP/deploy/datasets.csv" > "$1/datasets.csv"
}

# --- agents -------------------------------------------------------------
# agent_init NAME ORGUNITS [AGGNAME]: identity, config, enrolment.
agent_init() {
    n=$1; ous=$2; an=${3:-agg}
    d=$T/$n; mkdir -p "$d"
    eval "ep=\$${an}_EP"
    cat > "$d/agent.ini" <<INI
[agent]
state_dir = $d/state
catalog = $CATALOG
org_units = $ous
server = $ep
server_key = $(cat "$T/$an/pubid")
ack_timeout_ms = ${ACK_TIMEOUT_MS:-3000}
backoff_max_ms = ${BACKOFF_MAX_MS:-2000}
stored_by = can.bo.$n
log_level = ${LOG_LEVEL:-info}
INI
    "$AGENT" -c "$d/agent.ini" keygen --label "$n" > "$d/pubid" || return 1
    set --
    for ou in $(echo "$ous" | tr ',' ' '); do set -- "$@" --org-unit "$ou"; done
    agg "$an" enroll "$(cat "$d/pubid")" "$@" --label "$n" > /dev/null || return 1
}
agent() { n=$1; shift; "$AGENT" -c "$T/$n/agent.ini" "$@"; }
agent_db() { echo "$T/$1/state/agent.db"; }
agent_start() {
    n=$1
    "$AGENT" -c "$T/$n/agent.ini" run >> "$T/$n/log" 2>&1 &
    pid=$!; PIDS="$PIDS $pid"; eval "${n}_PID=$pid"
}
agent_stop() { n=$1; eval "pid=\$${n}_PID"; kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
agent_kill9() { n=$1; eval "pid=\$${n}_PID"; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
# outbox depth of an agent, read from its database.
agent_depth() { sqlq "$(agent_db "$1")" "SELECT count(*) FROM outbox;"; }
outbox_empty() { [ "$(agent_depth "$1")" = 0 ]; }

# gen_csv FILE OU N [START] [VALUE_BASE]: N distinct monthly keys for org unit
# OU (3 monthly indicators x months from 1900) as a DHIS2 dataValueSet CSV.
# Org units take no value outside their lifetime (docs/ORGUNITS.md): for
# the Đức Huệ communes months wrap within 1900-01..2024-12 (any N <= 4500
# consecutive keys stay distinct); for a Tây Ninh commune (code ending in
# -2025) they run from 2025-07 and wrap after 11000 months (N <= 33000).
gen_csv() {
    awk -v ou="$2" -v n="$3" -v start="${4:-0}" -v base="${5:-0}" 'BEGIN {
        split("TTHC_TONG TTHC_ONLINE_SO TTHC_ONLINE", de, " ");
        y0 = 1900; m0 = 0; wrap = 1500;
        if (ou ~ /-2025$/) { y0 = 2025; m0 = 6; wrap = 11000; }
        print "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup,deleted";
        for (i = start; i < start + n; i++) {
            k = i % 3; d = de[k + 1]; m = int(i / 3) % wrap + m0;
            y = y0 + int(m / 12); mo = (m % 12) + 1;
            v = (k == 2) ? (base + i) % 101 : base + (i * 7) % 1000;
            printf "%s,%d%02d,%s,,,%d,gen,,\"row %d, generated\",false,false\n", d, y, mo, ou, v, i;
        }
    }' > "$1"
}

# --- faked clocks (libfaketime, deploy/deps.sh) --------------------------
# ft OFFSET CMD...: CMD with its wall clock moved by OFFSET ("-2h", "+0",
# "+23h"), in-process (LD_PRELOAD: $! stays the program's pid). The
# monotonic clock is left alone: timers and timeouts stay true. Returns 1
# (runs nothing) without libfaketime.
FT_LIB=
for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
    [ -r "$f" ] && FT_LIB=$f && break
done
ft() {
    local off=$1; shift
    [ -n "$FT_LIB" ] || return 1
    FAKETIME="$off" FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 \
    LD_PRELOAD="$FT_LIB${LD_PRELOAD:+:$LD_PRELOAD}" \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "$@"
}
# ft_agent_start NAME OFFSET: agent_start with its clock moved by OFFSET.
# Not `ft ... &`: a function in the background runs in a subshell, so $!
# would be that subshell and the cleanup's kill -9 would orphan the agent.
ft_agent_start() {
    [ -n "$FT_LIB" ] || return 1
    FAKETIME="$2" FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 \
    LD_PRELOAD="$FT_LIB${LD_PRELOAD:+:$LD_PRELOAD}" \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
        "$AGENT" -c "$T/$1/agent.ini" run >> "$T/$1/log" 2>&1 &
    pid=$!; PIDS="$PIDS $pid"; eval "${1}_PID=$pid"
}

# --- the officer's local page ---------------------------------------------
# agent_page_state NAME OUT [QUERY]: open NAME's local page (`open` on a port of
# 127.0.0.1; a port taken by someone else: the next, at most 5 tries), log
# in with its one-time link, write its /api/state[QUERY] to OUT, close it.
# 1 when the page never came up.
agent_page_state() {
    local try port=0 opid
    for try in 1 2 3 4 5; do
        port=$((20000 + ($$ * 29 + try * 103) % 20000))
        env -u DISPLAY -u WAYLAND_DISPLAY "$AGENT" -c "$T/$1/agent.ini" \
            --http-listen "127.0.0.1:$port" open > "$T/$1/open.out" 2>&1 &
        opid=$!; PIDS="$PIDS $opid"
        wait_for 10 sh -c "grep -q '^http://' '$T/$1/open.out' || ! kill -0 $opid"
        grep -q "^http://" "$T/$1/open.out" && break
    done
    grep -q "^http://" "$T/$1/open.out" || return 1
    curl -s -o /dev/null -c "$T/$1/jar" "$(grep -m1 '^http://' "$T/$1/open.out")"
    curl -s -b "$T/$1/jar" "http://127.0.0.1:$port/api/state${3:-}" > "$2"
    kill -TERM "$opid" 2>/dev/null; wait "$opid" 2>/dev/null
    return 0
}
