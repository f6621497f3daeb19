#!/bin/bash
# `make bench`: measures cdsync against its physical limits and against a
# Mosquitto pipeline, all in this one run, and prints ONE table (issue 7;
# results and method: docs/PERFORMANCE.md).
#
#   BENCH_SCALE=1     workload size factor (0.005 = the smoke run in make test)
#   BENCH_REPS=3      repetitions; every figure is the median of its runs
#   BENCH_IDLE_S=60   window for the agent's idle CPU
#   BENCH_HOLD_S=20   window for the aggregator's CPU with idle agents
#   BENCH_LAT_S=20    seconds of steady 1,000 updates/s per latency run
#   BENCH_HB_S=30     heartbeat interval of the simulated idle agents
#                     (6-sync: strace counts the aggregator's fsyncs then)
#   BENCH_OUT=FILE    also write the table (and tab-separated rows) there
#   BENCH_TMP=/tmp    where the temporary databases live (the disk measured)
#   BENCH_CATCHUP_REPS=BENCH_REPS   runs of the 1,000,000-update catch-up
#   BENCH_PG=1        0: skip the PostgreSQL rows (1b-pg*, 2-10-pg*), which
#                     then say "skipped" (paired SQLite-only runs)
#   BENCH_COUNTRY=1   0: skip phase 10, the country reconnecting (minutes)
#   BENCH_COUNTRY_ROWS=300   one commune's week of backlog (updates)
#   BENCH_COUNTRY_BATCH=1000 updates per batch (the agent's batch_max)
#   BENCH_COUNTRY_ACK_TIMEOUT_MS=10000  silence before an agent says Hello
#                     again (the agent's ack_timeout_ms)
#   BENCH_TRACE_RATE=500 BENCH_TRACE_S=5  phase trace: one agent, every
#                     update's steps (CDS_TRACE, tests/bench/trace_steps.py)
#   BENCH_ONLY="limits e2e latency trace catchup binary wine import scale mosquitto views country"
#                     only those phases; BENCH_ONLY=profile: the callgrind
#                     profile of the aggregator into BENCH_PROFILE_OUT
#   KEEP=1            keep the temporary directory (and the catch-up run)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
AGENT=$BUILD/cdsync-agent
AGG=$BUILD/cdsync-aggregator
BL=$BUILD/bench/bench_limits
BA=$BUILD/bench/bench_agents
SCALE=${BENCH_SCALE:-1}
REPS=${BENCH_REPS:-3}
IDLE_S=${BENCH_IDLE_S:-60}
HOLD_S=${BENCH_HOLD_S:-20}
HB_S=${BENCH_HB_S:-30}
W=$(mktemp -d "${BENCH_TMP:-/tmp}/cdsync-bench.XXXXXX")
export TMPDIR=$W
PIDS=""
MOSQ_DIR=""

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    [ -n "$MOSQ_DIR" ] && rm -rf "$MOSQ_DIR"
    if [ -z "${KEEP:-}" ]; then rm -rf "$W"; else echo "# kept $W" >&2; fi
}
trap cleanup EXIT
# The PostgreSQL harness (row 1b-pg); its EXIT trap runs before ours.
PG_TMP=${BENCH_TMP:-/tmp}
. "$TOP/tests/pg/pg.sh"
. "$TOP/tests/ports.sh"
log() { echo "bench: $*" >&2; }

# sc N [MIN]: N scaled by BENCH_SCALE, at least MIN (default 1).
sc() { awk -v n="$1" -v s="$SCALE" -v m="${2:-1}" \
           'BEGIN { v = int(n * s); if (v < m) v = m; print v }'; }
# median of the numbers on stdin ("FAIL" when there are none).
median() { grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g | awk '{ a[NR] = $1 }
    END { if (NR == 0) { print "FAIL"; exit }
          print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { v = $1; print v }" 2>/dev/null; }
isnum() { case "$1" in ''|FAIL|*[!0-9.e+-]*) return 1 ;; esac; }
# ratio A B: A / B, or FAIL.
ratio() { if isnum "$1" && isnum "$2" && [ "$(calc "$2 != 0")" = 1 ]; then
              calc "$1 / $2"; else echo FAIL; fi; }
# ratio_na A B: as ratio, but n/a when A is n/a or skipped (not measured).
ratio_na() { case "$1" in n/a|skipped) echo n/a ;; *) ratio "$1" "$2" ;; esac; }

# --- the table ------------------------------------------------------------
ROWS=()
declare -A R_WHAT R_VAL R_UNIT R_TARGET R_VERDICT
# row ID WHAT VALUE UNIT [TARGET VERDICT]
row() {
    ROWS+=("$1"); R_WHAT[$1]=$2; R_VAL[$1]=$3; R_UNIT[$1]=$4
    R_TARGET[$1]=${5:-}; R_VERDICT[$1]=${6:-}
    log "$1 $2: $3 $4"
}
# verdict VALUE OP BOUND: met / missed / n/a
verdict() { if isnum "$1"; then
                [ "$(calc "$1 $2 $3")" = 1 ] && echo met || echo missed
            else echo "n/a"; fi; }
# refrow ID WHAT RATIO ["OP BOUND"]: a row of an end-to-end figure's ratio
# to a reference (a limit), with its target and verdict when given. A
# ratio above 1.05 means the reference does not bound the figure (it does
# other or less work than the pipeline: docs/PERFORMANCE.md "Limits that
# bound, and the fsync floor"); the verdict column then carries REF_WARN.
REF_WARN="WARNING: ratio > 1.05, the reference does not bound this figure"
refrow() {
    local v="" w=""
    isnum "$3" && [ "$(calc "$3 > 1.05")" = 1 ] && w=$REF_WARN
    [ -n "${4:-}" ] && v=$(verdict "$3" "${4% *}" "${4#* }")
    row "$1" "$2" "$3" x "${4:-}" "$v${v:+${w:+; }}$w"
}
fmt() { if isnum "$1"; then awk -v v="$1" 'BEGIN {
            if (v >= 1000) printf "%\047.0f", v; else if (v >= 100) printf "%.0f", v;
            else if (v >= 10) printf "%.1f", v; else printf "%.3g", v }';
        else printf '%s' "$1"; fi; }

print_table() {
    local cpu disk
    cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
    disk=$(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 " (" $7 ")" }')
    echo "cdsync bench  $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "command: BENCH_SCALE=$SCALE BENCH_REPS=$REPS BENCH_IDLE_S=$IDLE_S BENCH_HOLD_S=$HOLD_S make bench"
    echo "machine: $(nproc) cores, $cpu, $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
    echo "temp dir: $W: $disk; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "versions: sqlite $(sqlite3 --version | cut -d' ' -f1), libzmq $(pkg-config --modversion libzmq), libsodium $(pkg-config --modversion libsodium), mosquitto $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null), postgresql $("$(pg_bin 2>/dev/null)/postgres" -V 2>/dev/null | awk '{ print $3 }')"
    echo "every figure: median of $REPS runs unless the row says otherwise"
    printf '%-15s %-58s %14s %-12s %-22s %s\n' id measure median unit target verdict
    for id in "${ROWS[@]}"; do
        printf '%-15s %-58s %14s %-12s %-22s %s\n' "$id" "${R_WHAT[$id]}" \
            "$(fmt "${R_VAL[$id]}")" "${R_UNIT[$id]}" "${R_TARGET[$id]}" \
            "${R_VERDICT[$id]}"
    done
}

# --- fixtures ---------------------------------------------------------------
# The bench catalog: 1,000 INTEGER indicators, any period type; org units
# BOU00001..BOU00100 under VN (one per agent).
make_fixtures() {
    { echo "code,name_vi,value_type"
      for i in $(seq 0 999); do printf 'BI%04d,Bench %d,INTEGER\n' "$i" "$i"; done
    } > "$W/catalog.csv"
    { echo "code,name,parent,valid_from,valid_to"; echo "VN,Root,,,"
      for i in $(seq 1 100); do printf 'BOU%05d,Bench unit %d,VN,,\n' "$i" "$i"; done
    } > "$W/orgunits.csv"
}

# gen_csv FILE OU N START: rows START.. of bench_util.h's generator as CSV.
gen_csv() {
    awk -v ou="$2" -v n="$3" -v s="$4" 'BEGIN {
        print "dataelement,period,orgunit,categoryoptioncombo,value,storedby,comment";
        for (i = s; i < s + n; i++) {
            m = int(i / 1000);
            printf "BI%04d,%04d%02d,%s,,%d,bench,\"bench row %d, generated to give each update ~100 bytes\"\n",
                i % 1000, 1900 + int(m / 12), m % 12 + 1, ou, (i * 7) % 100000, i;
        } }' > "$1"
}

# free_port: a port of the bench's band (tests/ports.sh), not handed out
# before in this run.
free_port() { band_port above "$W/ports"; }
# listening PID PORT LOG: waits up to 30 s until PID itself listens on PORT
# (a probe that connects could reach another process that took the port
# first); when PID exits first or the time is up, says so with LOG's last
# lines.
listening() {
    local n=600
    while [ "$n" -gt 0 ]; do
        listens "$1" "$2" && return 0
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05; n=$((n - 1))
    done
    if kill -0 "$1" 2>/dev/null; then log "pid $1 not listening on port $2 after 30 s; $3 ends:"
    else log "pid $1 exited before listening on port $2; $3 ends:"; fi
    tail -5 "$3" 2>/dev/null | sed 's/^/bench:   /' >&2
    return 1
}
wait_for() { local n=$(($1 * 20)); shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.05; n=$((n - 1)); done
    return 1; }

# agg_conf ROOT PORT: aggregator config for a run rooted at ROOT.
agg_conf() {
    cat > "$1/aggregator.ini" <<INI
[aggregator]
state_dir = $1/agg
identity = $W/aggregator.key
catalog = $W/catalog.csv
orgunits = $W/orgunits.csv
listen = tcp://127.0.0.1:$2
log_level = info
$AGG_EXTRA
${AGG_STORE:+store = $AGG_STORE}
INI
}
# agent_conf ROOT K PORT: config of agent K (unit BOU0000K), deploy defaults.
agent_conf() {
    mkdir -p "$1/a$2"
    cat > "$1/a$2/agent.ini" <<INI
[agent]
state_dir = $1/a$2/state
catalog = $W/catalog.csv
org_units = $(printf 'BOU%05d' "$2")
server = tcp://127.0.0.1:$3
server_key = $(cat "$W/aggregator.pubid")
batch_max = 1000
window = 16
queue_max = 0
log_level = info
${AGENT_EXTRA:-}
INI
}
# prepare ROOT N B: aggregator state + N enrolled agents with B queued each.
prepare() {
    local root=$1 n=$2 b=$3 k
    mkdir -p "$root/agg"; agg_conf "$root" 1
    for k in $(seq 1 "$n"); do
        agent_conf "$root" "$k" 1
        "$AGENT" -c "$root/a$k/agent.ini" keygen --label "a$k" > "$root/a$k/pubid" || return 1
        "$AGG" -c "$root/aggregator.ini" enroll "$(cat "$root/a$k/pubid")" \
            --org-unit "$(printf 'BOU%05d' "$k")" --label "a$k" > /dev/null || return 1
        local done_=0 chunk
        while [ "$done_" -lt "$b" ]; do
            chunk=$((b - done_)); [ "$chunk" -gt 100000 ] && chunk=100000
            gen_csv "$W/gen.csv" "$(printf 'BOU%05d' "$k")" "$chunk" "$done_"
            "$AGENT" -c "$root/a$k/agent.ini" import "$W/gen.csv" > /dev/null || return 1
            done_=$((done_ + chunk))
        done
    done
}
# instance TMPL RUN PORT: copy a prepared template and point it at PORT.
instance() {
    rm -rf "$2"; cp -a "$1" "$2" || return 1
    agg_conf "$2" "$3"
    for d in "$2"/a[0-9]*/; do [ -d "$d" ] || continue; agent_conf "$2" "$(basename "$d" | tr -d a)" "$3"; done
}
start_agg() { # ROOT PORT -> AGG_PID
    "$AGG" -c "$1/aggregator.ini" run >> "$1/agg.log" 2>&1 &
    AGG_PID=$!; PIDS="$PIDS $AGG_PID"
    listening "$AGG_PID" "$2" "$1/agg.log"
}
stop_pid() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
start_agents() { # ROOT N -> APIDS
    APIDS=""
    for k in $(seq 1 "$2"); do
        "$AGENT" -c "$1/a$k/agent.ini" run >> "$1/a$k/log" 2>&1 &
        APIDS="$APIDS $!"
    done
    PIDS="$PIDS $APIDS"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
rss_kib() { awk -v k="${2:-VmRSS}:" '$1 == k { print $2 }' "/proc/$1/status"; }

# store_enroll ROOT N: enrol agents 1..N of ROOT into the store ROOT's
# aggregator.ini names (AGG_STORE: a fresh PostgreSQL database; the
# template's enrolments are in its SQLite file). On failure the enrol's
# exit status is in ENROLL_RC (>= 128: killed by a signal), its messages
# in $W/enroll.err.
store_enroll() {
    local k
    for k in $(seq 1 "$2"); do
        "$AGG" -c "$1/aggregator.ini" enroll "$(cat "$1/a$k/pubid")" \
            --org-unit "$(printf 'BOU%05d' "$k")" --label "a$k" \
            > /dev/null 2> "$W/enroll.err" || { ENROLL_RC=$?; return 1; }
    done
}

# e2e_run TMPL N: one durable-ingest run; writes "seconds peak_rss hwm"
# (peak VmRSS / VmHWM of agent 1 while sending, KiB) to $W/e2e.out. With
# AGG_STORE set, the aggregator's store is that URL (agents enrolled into
# it first; status 3 when that enrolment fails: store_enroll).
e2e_run() {
    local tmpl=$1 n=$2 run=$W/run port t0 dbs=() k a1
    rm -f "$W/e2e.out"
    port=$(free_port)
    instance "$tmpl" "$run" "$port" || return 1
    if [ -n "${AGG_STORE:-}" ]; then store_enroll "$run" "$n" || return 3; fi
    start_agg "$run" "$port" || { stop_pid "$AGG_PID"; return 1; }
    for k in $(seq 1 "$n"); do dbs+=("$run/a$k/state/agent.db"); done
    t0=$(date +%s%N)
    start_agents "$run" "$n"
    set -- $APIDS; a1=$1
    if "$BA" drain "$t0" 900 "$a1" "${dbs[@]}" > "$W/drain.out"; then
        echo "$(cat "$W/drain.out") $(rss_kib "$a1" VmHWM)" > "$W/e2e.out"
        io_bytes "$AGG_PID" "$a1" "$run" > "$W/e2e.io"
    fi
    for p in $APIDS; do stop_pid "$p"; done
    stop_pid "$AGG_PID"
    [ -s "$W/e2e.out" ]
}

# io_bytes AGG_PID AGENT1_PID ROOT: "agg_write_bytes agg_files agent_write_bytes
# agent_files": what each process has caused to be written to storage so
# far (/proc/PID/io write_bytes: the database, its WAL and every
# checkpoint of it, logs) and the size of its database + WAL files now.
# Read when the outboxes are empty, before the processes stop (so the
# closing checkpoint, at most one WAL's worth, is not in it).
io_bytes() {
    local wb fs
    for p in "$1" "$2"; do
        wb=$(awk '$1 == "write_bytes:" { print $2 }' "/proc/$p/io" 2>/dev/null)
        if [ "$p" = "$1" ]; then fs=$(cat "$3"/agg/*.db "$3"/agg/*.db-wal 2>/dev/null | wc -c)
        else fs=$(cat "$3"/a1/state/agent.db "$3"/a1/state/agent.db-wal 2>/dev/null | wc -c); fi
        printf '%s %s ' "${wb:-FAIL}" "$fs"
    done
    echo
}

# reps CMD...: run CMD BENCH_REPS times, one number per line on stdout.
reps() { for _ in $(seq 1 "$REPS"); do "$@"; done; }

# ===== 1. limits =============================================================
# limits_pg N: (b) on PostgreSQL: the same table, key and upsert, prepared,
# 1,000 rows per transaction, on a harness server (tests/pg/pg.sh: fsync
# and synchronous_commit on) whose files are on the same disk as 1b's;
# one round trip per row, and pipelined. Server stopped before phase 1c.
limits_pg() {
    local url="" v
    if [ "${BENCH_PG:-1}" = 0 ]; then log "1b-pg: skipped (BENCH_PG=0)"
    elif pg_start 2>> "$W/limits.log"; then url=$(pg_url bench)
        log "1b-pg: PostgreSQL $PG_BIN, start ${PG_START_S:-?} s"; fi
    for v in plain pipeline; do
        if [ -n "$url" ]; then
            reps "$BL" pg-bare "$url" "$1" 1000 "$v" 2>> "$W/limits.log" > "$W/1b-pg-$v"
        else : > "$W/1b-pg-$v"; fi
    done
    pg_stop
    LIM_BPG=$(median < "$W/1b-pg-plain")
    LIM_BPGPIPE=$(median < "$W/1b-pg-pipeline")
    if [ "${BENCH_PG:-1}" = 0 ]; then LIM_BPG=skipped; LIM_BPGPIPE=skipped; fi
    row 1b-pg "  (b) on PostgreSQL: prepared, 1 round trip/row, $1 keys" "$LIM_BPG" rows/s
    row 1b-pg/b "    ratio to (b) on SQLite" "$(ratio_na "$LIM_BPG" "$LIM_B")" x
    row 1b-pgpipe "  (b) on PostgreSQL: prepared, pipelined per txn" "$LIM_BPGPIPE" rows/s
    row 1b-pgpipe/b "    ratio to (b) on SQLite" "$(ratio_na "$LIM_BPGPIPE" "$LIM_B")" x
}

phase_limits() {
    local nb nz
    log "1a: aggregator SQL work ($E2E_TOTAL updates, ${GROUP}x${BATCH} per txn)"
    reps "$BL" sql-agg "$W/orgunits.csv" "$E2E_TOTAL" "$GROUP" "$BATCH" \
        2>> "$W/limits.log" > "$W/1a"
    LIM_A=$(median < "$W/1a")
    ENV=$(grep -o 'envelope [0-9]*' "$W/limits.log" | tail -1 | cut -d' ' -f2)
    ENV=${ENV:-59000}
    row 1a "limit (a): aggregator SQL (store.h), ${GROUP}x${BATCH} upd/txn" "$LIM_A" upd/s
    nb=$(sc 1000000 1000)
    log "1b: bare reference ($nb keys)"
    reps "$BL" sql-bare "$W" "$nb" 1000 2>> "$W/limits.log" > "$W/1b"
    LIM_B=$(median < "$W/1b")
    row 1b "limit (b): bare upsert, WAL, FULL, 1000 rows/txn, $nb keys" "$LIM_B" rows/s
    limits_pg "$nb"
    reps "$BL" verify "$ENV" 2>> "$W/limits.log" > "$W/1c"
    LIM_C=$(median < "$W/1c")
    row 1c "limit (c): Ed25519 verify, 1 core, $ENV B (1 batch)" "$LIM_C" verify/s
    row 1c-upd "  (c) as updates/s at $BATCH updates per batch" "$(calc "$LIM_C * $BATCH")" upd/s
    nz=$(sc 20000 500)
    reps "$BL" zmq "$ENV" "$nz" 2>> "$W/limits.log" > "$W/1d"
    LIM_D=$(median < "$W/1d")
    row 1d "limit (d): ZeroMQ DEALER->ROUTER tcp lo, $ENV B msgs" "$LIM_D" msg/s
    row 1d-upd "  (d) as updates/s at $BATCH updates per message" "$(calc "$LIM_D * $BATCH")" upd/s
    reps "$BL" zmq "$ENV" "$nz" curve 2>> "$W/limits.log" > "$W/1d-curve"
    row 1d-curve "  (d) with CURVE encryption (as the aggregator uses)" "$(median < "$W/1d-curve")" msg/s
}

# ===== 2. end-to-end durable ingest ==========================================
phase_e2e() {
    local n b r
    for n in 1 10 100; do
        b=$((E2E_TOTAL / n)); [ "$b" -lt 1 ] && b=1
        log "2: $n agents x $b queued updates: preparing"
        prepare "$W/tmpl-$n" "$n" "$b" || { row "2-$n" "durable ingest, $n agents" FAIL upd/s; continue; }
        : > "$W/2-$n"
        for r in $(seq 1 "$REPS"); do
            rm -f "$W/trace-$n-$r"
            CDS_TRACE_GROUPS=$W/trace-$n-$r e2e_run "$W/tmpl-$n" "$n" \
                && awk -v t=$((n * b)) '{ print t / $1 }' "$W/e2e.out" >> "$W/2-$n"
        done
        E2E[$n]=$(median < "$W/2-$n")
        row "2-$n" "durable ingest: $n agents x $b queued, start->outboxes empty" "${E2E[$n]}" upd/s
        e2e_limits "$n"
        [ "$n" = 10 ] && e2e_pg "$W/tmpl-$n" "$n" "$b"
        rm -rf "$W/tmpl-$n" "$W/run"
    done
}

# e2e_limits N: the limits of row 2-N replayed from its own runs (issue
# 19): every run's aggregator wrote its committed groups to
# $W/trace-N-R (CDS_TRACE_GROUPS, aggregator/core/server.h "Group
# trace"); bench_limits replay runs exactly those transactions, batches
# and keys as (a) the aggregator's statements on a fresh store with the
# daemon's checkpointer and (b) the bare upsert. Medians over the runs;
# ratios above 1.05 carry REF_WARN (docs/PERFORMANCE.md explains them).
e2e_limits() {
    local n=$1 t la lb ta="" tb="" tab=""
    : > "$W/2-$n-a"; : > "$W/2-$n-b"
    for t in "$W"/trace-"$n"-*; do
        [ -s "$t" ] || continue
        "$BL" replay "$W/orgunits.csv" "$t" agg 2>> "$W/limits.log" >> "$W/2-$n-a"
        "$BL" replay "$W/orgunits.csv" "$t" bare 2>> "$W/limits.log" >> "$W/2-$n-b"
        awk '{ g++; m += NF - ($NF ~ /^t=/) } END { if (g) printf "trace %s: %d groups, %.1f batches/group\n", FILENAME, g, m / g }' "$t" >&2
    done
    la=$(median < "$W/2-$n-a"); lb=$(median < "$W/2-$n-b")
    [ "$n" = 10 ] && { ta=">= 0.70"; tb=">= 0.50"; tab=">= 0.50"; }
    row "2-$n/a-lim" "  limit (a) replayed from these runs' group traces" "$la" upd/s
    row "2-$n/b-lim" "  limit (b) replayed: bare upsert, same keys and txns" "$lb" upd/s
    refrow "2-$n/a" "  ratio to limit (a) replayed" "$(ratio "${E2E[$n]}" "$la")" "$ta"
    refrow "2-$n/b" "  ratio to limit (b) replayed" "$(ratio "${E2E[$n]}" "$lb")" "$tb"
    refrow "2-$n/ab" "  (a) replayed / (b) replayed" "$(ratio "$la" "$lb")" "$tab"
    row "2-$n/a1" "  ratio to 1a (generic: 1 agent, ${GROUP}x${BATCH} upd/txn)" "$(ratio "${E2E[$n]}" "$LIM_A")" x
}

# pg_refused ID: why the aggregator could not enrol into its PostgreSQL
# store, into `why` and the log: a refusal (no such option, a build
# without the PostgreSQL schema) is "not available"; a crash is "failed".
pg_refused() {
    local msg
    msg=$(grep -v -m1 'level=info' "$W/enroll.err"); msg=${msg:-no error logged}
    if [ "$ENROLL_RC" -ge 128 ]; then
        why="PostgreSQL store failed (enroll killed by signal $((ENROLL_RC - 128)))"
        log "$1: the aggregator crashed on store = postgresql://... (enroll, signal $((ENROLL_RC - 128))): $msg"
    else
        why="PostgreSQL store not available"
        log "$1: the aggregator refused store = postgresql://...: $msg"
    fi
}

# e2e_pg TMPL N B: rows 2-N-pg: the runs of 2-N (same template: agents,
# keys, outboxes) with the aggregator's `store = postgresql://...` on a
# harness server started here (tests/pg/pg.sh, as 1b-pg's: fsync and
# synchronous_commit on, files on the same disk), a fresh database each
# run; ratios to the bare PostgreSQL references 1b-pg / 1b-pgpipe (target
# >= 0.50, issue 14) and to 2-N on SQLite. When the aggregator refuses the
# store or the server does not start, the row says so and the bench goes on.
e2e_pg() {
    local tmpl=$1 n=$2 b=$3 r url why="" v rc id=2-$2-pg
    : > "$W/$id"
    if [ "${BENCH_PG:-1}" = 0 ]; then why="skipped (BENCH_PG=0)"
    elif ! pg_start 2>> "$W/e2e-pg.log"; then why="PostgreSQL server did not start"
    else
        for r in $(seq 1 "$REPS"); do
            url=$(pg_url "e2e$r") || { why="CREATE DATABASE failed"; break; }
            AGG_STORE=$url e2e_run "$tmpl" "$n"; rc=$?
            if [ "$rc" = 0 ]; then
                awk -v t=$((n * b)) '{ print t / $1 }' "$W/e2e.out" >> "$W/$id"
            elif [ "$rc" = 3 ]; then
                pg_refused "$id"; break
            fi
        done
        pg_stop
    fi
    v=$(median < "$W/$id"); [ -n "$why" ] && v=n/a
    row "$id" "durable ingest, store on PostgreSQL: $n agents x $b${why:+: $why}" "$v" upd/s
    refrow "$id/pg" "  ratio to 1b-pg (bare PostgreSQL, 1 round trip/row)" "$(ratio_na "$v" "$LIM_BPG")" ">= 0.50"
    refrow "$id/pgpipe" "  ratio to 1b-pgpipe (bare PostgreSQL, pipelined)" "$(ratio_na "$v" "$LIM_BPGPIPE")" ">= 0.50"
    row "$id/sqlite" "  ratio to 2-$n (the same ingest, store on SQLite)" "$(ratio_na "$v" "${E2E[$n]}")" x
}

# ===== 7. import ============================================================
phase_import() {
    local n r t0 t1 port
    n=$(sc 100000 100)
    prepare "$W/tmpl-imp" 1 0 || return 1
    gen_csv "$W/imp.csv" BOU00001 "$n" 0
    : > "$W/7"
    for r in $(seq 1 "$REPS"); do
        rm -rf "$W/run"; cp -a "$W/tmpl-imp" "$W/run"; agent_conf "$W/run" 1 1
        t0=$(date +%s%N)
        "$AGENT" -c "$W/run/a1/agent.ini" import "$W/imp.csv" > /dev/null \
            && t1=$(date +%s%N) && calc "$n / (($t1 - $t0) / 1e9)" >> "$W/7"
    done
    local v; v=$(median < "$W/7")
    row 7 "import: cdsync-agent import of a $n-row CSV" "$v" rows/s ">= 100000" "$(verdict "$v" ">=" 100000)"
    rm -rf "$W/run" "$W/tmpl-imp"
}

# ===== 4. catch-up (+ 5. agent RSS while sending) ===========================
phase_catchup() {
    local n r target
    n=$(sc 1000000 1000)
    log "4: one agent with $n queued: preparing"
    prepare "$W/tmpl-cu" 1 "$n" || return 1
    : > "$W/4"; : > "$W/5s"; : > "$W/5h"; : > "$W/4wb"; : > "$W/4fs"; : > "$W/4awb"; : > "$W/4afs"
    for r in $(seq 1 "${BENCH_CATCHUP_REPS:-$REPS}"); do
        if e2e_run "$W/tmpl-cu" 1; then
            awk '{ print $1 }' "$W/e2e.out" >> "$W/4"
            awk '{ print $2 }' "$W/e2e.out" >> "$W/5s"
            awk '{ print $3 }' "$W/e2e.out" >> "$W/5h"
            awk -v n="$n" '{ print $1 / n > "'"$W/4-wb"'"; print $2 / n > "'"$W/4-fs"'";
                print $3 / n > "'"$W/4-awb"'"; print $4 / n > "'"$W/4-afs"'" }' "$W/e2e.io"
            cat "$W/4-wb" >> "$W/4wb"; cat "$W/4-fs" >> "$W/4fs"
            cat "$W/4-awb" >> "$W/4awb"; cat "$W/4-afs" >> "$W/4afs"
        fi
    done
    local v; v=$(median < "$W/4"); target=$(calc "12 * $n / 1000000")
    row 4 "catch-up: 1 agent, $n queued -> outbox empty (${BENCH_CATCHUP_REPS:-$REPS} runs)" "$v" s "<= $target s" "$(verdict "$v" "<=" "$target")"
    row 4-rate "  as updates/s" "$(ratio "$n" "$v")" upd/s
    v=$(median < "$W/4wb")
    row 4-bytes "aggregator bytes written per update (write_bytes: db+WAL+ckpt)" "$v" bytes "<= 350" "$(verdict "$v" "<=" 350)"
    row 4-bytes-db "  its database + WAL file size per update at the end" "$(median < "$W/4fs")" bytes
    row 4-bytes-agent "agent bytes written per update (write_bytes, import excluded)" "$(median < "$W/4awb")" bytes
    row 4-bytes-agent-db "  its outbox + WAL file size per update at the end" "$(median < "$W/4afs")" bytes
    row 5-rss-send "agent RSS while sending (peak VmRSS sampled, catch-up)" "$(median < "$W/5s")" KiB
    row 5-hwm-send "agent VmHWM at the end of the catch-up" "$(median < "$W/5h")" KiB
    [ -n "${KEEP:-}" ] || rm -rf "$W/run" "$W/tmpl-cu"
}

# ===== 3. latency (+ 5. agent idle) =========================================
agent_connected() {
    [ "$(sqlite3 -batch -noheader "$1" "PRAGMA busy_timeout=2000; SELECT conn_state FROM meta;" 2>/dev/null | tail -1)" = connected ]
}
# fsync_floor: this disk's fdatasync latency (bench_limits fsync, a
# preallocated file in $W: the file system of every database here), and
# the floor of submit -> ack recorded: 4 synchronous writes in a row
# (agent outbox commit, the aggregator's group commit, its commit mark,
# the agent's ack record). FLOOR50 / FLOOR99: 4 x fsync p50 / p99, ms.
fsync_floor() {
    reps "$BL" fsync "$W" "$(sc 2000 200)" 2>> "$W/lat.log" > "$W/3-fsync"
    local f50 f99
    f50=$(awk '{ print $1 }' "$W/3-fsync" | median)
    f99=$(awk '{ print $2 }' "$W/3-fsync" | median)
    FLOOR50=$(isnum "$f50" && calc "4 * $f50" || echo FAIL)
    FLOOR99=$(isnum "$f99" && calc "4 * $f99" || echo FAIL)
    row 3-fsync-p50 "disk: 4 KiB pwrite+fdatasync in the temp dir: p50" "$f50" ms
    row 3-fsync-p99 "  p99" "$f99" ms
    row 3-floor "  floor submit->ack recorded: 4 fsyncs x p50 (outbox, group, mark, ack)" "$FLOOR50" ms
    row 3-floor99 "  the same at fsync p99" "$FLOOR99" ms
}

# lat_stages: where a latency run's time goes on the aggregator, from its
# group trace (server.h "Group trace": t=QUEUED,APPLY,COMMIT,MARK,REPLY
# microseconds per group): medians over every group of the runs, in ms.
lat_stages() {
    local k name
    k=1
    for name in "queued (received -> BEGIN)" "apply" "COMMIT" "commit mark" "replies sent"; do
        row "3-agg-$k" "  aggregator per group, median: $name" "$(grep -o 't=[0-9,]*' "$W/trace-lat" 2>/dev/null \
            | cut -c3- | awk -F, -v k="$k" '{ print $k / 1000 }' | median)" ms
        k=$((k + 1))
    done
}

phase_latency() {
    local port run=$W/run a1 t0 t1 ticks secs r out
    secs=$(calc "int(${BENCH_LAT_S:-20} * ($SCALE < 1 ? $SCALE * 10 : 1))")
    [ "$secs" -lt 2 ] && secs=2
    prepare "$W/tmpl-lat" 1 0 || return 1
    port=$(free_port); instance "$W/tmpl-lat" "$run" "$port"
    rm -f "$W/trace-lat"
    CDS_TRACE_GROUPS=$W/trace-lat start_agg "$run" "$port" || return 1
    start_agents "$run" 1; a1=${APIDS# }
    if ! wait_for 30 agent_connected "$run/a1/state/agent.db"; then
        log "agent did not connect"; return 1; fi
    sleep 1                            # let start-up allocations settle
    # The targets are on PSS and private memory (issue 19): RSS counts
    # every shared-library page mapped (libc, libzmq, libsqlite3 ...),
    # which the machine holds once for all its processes. PSS splits them
    # among their users; private (clean + dirty) is the agent's own.
    local pss priv
    pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$a1/smaps_rollup")
    priv=$(awk '$1 ~ /^Private_(Clean|Dirty):$/ { s += $2 } END { print s }' "/proc/$a1/smaps_rollup")
    row 5-pss-idle "agent PSS idle (connected, empty outbox; shared pages split)" "$pss" KiB "<= 4096" "$(verdict "$pss" "<=" 4096)"
    row 5-priv-idle "  agent private memory idle (clean + dirty: its own heap, stacks, data)" "$priv" KiB "<= 2048" "$(verdict "$priv" "<=" 2048)"
    row 5-rss-idle "  agent RSS idle (counts shared library pages whole; no target)" "$(rss_kib "$a1")" KiB
    t0=$(cpu_ticks "$a1"); sleep "$IDLE_S"; t1=$(cpu_ticks "$a1")
    ticks=$(calc "($t1 - $t0) / $(getconf CLK_TCK) / $IDLE_S * 100")
    row 5-cpu-idle "agent CPU idle over ${IDLE_S} s" "$ticks" "%" "~0 (<= 0.1)" "$(verdict "$ticks" "<=" 0.1)"
    : > "$W/3"
    for r in $(seq 1 "$REPS"); do
        "$BA" load "$run/a1/state" BOU00001 1000 "$secs" $(( (r - 1) * 1000 * secs )) >> "$W/3" 2>> "$W/lat.log"
    done
    LAT_P99=$(awk '{ print $2 }' "$W/3" | median)
    local p50 bound
    p50=$(awk '{ print $1 }' "$W/3" | median); LAT_P50=$p50
    fsync_floor
    bound=$(isnum "$FLOOR99" && calc "$FLOOR99 + 2" || echo FAIL)
    row 3-p50 "latency submit->ack recorded @1000 upd/s ($secs s runs): p50" "$p50" ms
    row 3-p50/floor "  p50 / floor at fsync p50 (3-floor)" "$(ratio "$p50" "$FLOOR50")" x
    row 3-p99 "  p99 (target: floor at fsync p99 + 2 ms)" "$LAT_P99" ms "<= $(fmt "$bound") ms" "$(verdict "$LAT_P99" "<=" "$bound")"
    row 3-p999 "  p99.9" "$(awk '{ print $3 }' "$W/3" | median)" ms
    row 3-rate "  submit rate achieved" "$(awk '{ print $4 }' "$W/3" | median)" upd/s
    stop_pid "$a1"; stop_pid "$AGG_PID"
    lat_stages                         # the trace is complete once stopped
    rm -rf "$run" "$W/tmpl-lat"
    LAT_SECS=$secs
}

# ===== 3t. one update, step by step (issue 19 item 2) =====================
# One agent at BENCH_TRACE_RATE updates/s (default 500) for BENCH_TRACE_S
# seconds (default 5), the loader, the agent and the aggregator all with
# CDS_TRACE (common/cds_trace.h) into one file; tests/bench/trace_steps.py
# follows each update through it. Rows 3t-STEP: p50 of each step, ms (p99
# in the row's text); 3t-fsync-p50: this disk's fdatasync p50 beside them
# (fsync_floor, run here when phase latency did not). One run (no medians).
TRACE_STEPS="outbox:submit->committed_in_outbox wake:committed->daemon_woken read:woken->batch_read send:read->sent net:sent->received_by_ROUTER writer:received->taken_by_writer commit:taken->COMMIT_returned mark:COMMIT->commit_mark_synced reply:mark->replies_sent back:reply_sent->ack_verified_by_agent record:ack_verified->ack_recorded total:submit->ack_recorded"
phase_trace() {
    local port run=$W/run-tr a1 rate secs st name what v
    rate=${BENCH_TRACE_RATE:-500}; secs=${BENCH_TRACE_S:-5}
    prepare "$W/tmpl-tr" 1 0 || return 1
    port=$(free_port); instance "$W/tmpl-tr" "$run" "$port"
    rm -f "$W/trace-upd"
    CDS_TRACE=$W/trace-upd start_agg "$run" "$port" || return 1
    CDS_TRACE=$W/trace-upd start_agents "$run" 1; a1=${APIDS# }
    if ! wait_for 30 agent_connected "$run/a1/state/agent.db"; then
        log "trace: agent did not connect"; return 1; fi
    CDS_TRACE=$W/trace-upd "$BA" load "$run/a1/state" BOU00001 "$rate" "$secs" 0 \
        > "$W/3t-load" 2>> "$W/lat.log"
    stop_pid "$a1"; stop_pid "$AGG_PID"
    [ -n "${FLOOR50:-}" ] || fsync_floor
    python3 "$TOP/tests/bench/trace_steps.py" "$W/trace-upd" > "$W/3t" 2>> "$W/lat.log"
    for st in $TRACE_STEPS; do
        name=${st%%:*}; what=$(echo "${st#*:}" | tr _ ' ')
        v=$(awk -v k="$name" '$1 == k { print $2 " " $3 }' "$W/3t")
        row "3t-$name" "  traced @$rate/s, p50 (p99 ${v#* }): $what" "${v%% *}" ms
    done
    row 3t-after-ack "  traced: share of updates whose read waited for an ack" "$(awk '$1 == "read_after_ack" { print $2 }' "$W/3t")" ""
    row 3t-per-batch "  traced: updates per batch" "$(awk '$1 == "updates_per_batch" { print $2 }' "$W/3t")" ""
    row 3t-load "  traced: loader's own p50 submit->row gone (bench_agents load)" "$(awk '{ print $1 }' "$W/3t-load")" ms
    [ -n "${KEEP:-}" ] || rm -rf "$run" "$W/tmpl-tr"
}

phase_binary() {
    strip -o "$W/agent.stripped" "$AGENT"
    row 5-bin "agent binary size (as built, -O2 -g)" "$(stat -c %s "$AGENT")" bytes
    row 5-bin-strip "agent binary size stripped" "$(stat -c %s "$W/agent.stripped")" bytes
    # The ARM64 agent (`make arm64`; `make bench` builds it when the cross
    # toolchain is installed): n/a without it.
    local arm=$TOP/build/arm64/cdsync-agent
    if [ -f "$arm" ] && aarch64-linux-gnu-strip -o "$W/agent-arm64.stripped" "$arm"; then
        row 5-bin-arm64 "ARM64 agent binary size (as built, -O2 -g)" "$(stat -c %s "$arm")" bytes
        row 5-bin-arm64-strip "ARM64 agent binary size stripped" \
            "$(stat -c %s "$W/agent-arm64.stripped")" bytes
    else
        row 5-bin-arm64 "ARM64 agent binary size (make arm64: not built)" n/a bytes
    fi
    # The Windows agent and its installer (`make windows`,
    # `make windows-installer`; `make bench` builds them when the Windows
    # deps are there): n/a without them.
    local exe=$BUILD/win/cdsync-agent.exe setup=$BUILD/win/cdsync-agent-setup.exe
    if [ -f "$exe" ] && x86_64-w64-mingw32-strip -o "$W/agent-win.stripped" "$exe"; then
        row 5-bin-win "Windows agent .exe size (static, as built)" "$(stat -c %s "$exe")" bytes
        row 5-bin-win-strip "Windows agent .exe size stripped" \
            "$(stat -c %s "$W/agent-win.stripped")" bytes
    else
        row 5-bin-win "Windows agent .exe size (make windows: not built)" n/a bytes
    fi
    if [ -f "$setup" ]; then
        row 5-bin-win-setup "Windows installer cdsync-agent-setup.exe size" \
            "$(stat -c %s "$setup")" bytes
    else
        row 5-bin-win-setup "Windows installer (make windows-installer: not built)" n/a bytes
    fi
}

# The Windows agent's idle memory (issue 18 item 6), under Wine: not a
# Windows figure. Wine runs cdsync-agent.exe in one Linux process (the
# wine64-preloader the launcher execs into, keeping its pid) that also
# maps Wine's own DLLs (ntdll, kernel32, ws2_32, ...) and talks to a
# separate wineserver; its smaps_rollup after a sync, idle and connected,
# is an upper bound of the .exe's working set on Windows, where the
# system DLLs are shared by every process. n/a without the .exe or wine64.
phase_wine() {
    local exe=$BUILD/win/cdsync-agent.exe root=$W/wine port pid pss priv rss
    local wine=${WINE:-$(command -v wine64 || echo /usr/lib/wine/wine64)}
    if [ ! -f "$exe" ] || [ ! -x "$wine" ]; then
        row 5-wine-pss-idle "Windows agent idle under Wine (make windows: not built)" n/a KiB
        return 0
    fi
    cp "$exe" "$W/cdsync-agent.exe"; exe=$W/cdsync-agent.exe   # as the others
    wa() { WINEPREFIX=$BUILD/win/wine WINEDEBUG=-all "$wine" "$exe" "$@"; }
    port=$(free_port); mkdir -p "$root/agg"
    agg_conf "$root" "$port"; agent_conf "$root" 1 "$port"
    wa -c "$root/a1/agent.ini" keygen --label wine > "$root/a1/pubid" 2> "$W/wine.log" &&
    "$AGG" -c "$root/aggregator.ini" enroll "$(cat "$root/a1/pubid")" \
        --org-unit BOU00001 --label wine > /dev/null &&
    gen_csv "$W/gen.csv" BOU00001 1000 0 &&
    wa -c "$root/a1/agent.ini" import "$W/gen.csv" > /dev/null 2>> "$W/wine.log" &&
    start_agg "$root" "$port" || { log "wine: setup failed ($W/wine.log)"; return 1; }
    WINEPREFIX=$BUILD/win/wine WINEDEBUG=-all "$wine" "$exe" -c "$root/a1/agent.ini" run \
        >> "$root/a1/log" 2>&1 &
    pid=$!; PIDS="$PIDS $pid"
    wine_synced() { agent_connected "$1" && [ "$(sqlite3 -batch -noheader "$1" \
        "PRAGMA busy_timeout=2000; SELECT count(*) FROM outbox;" 2>/dev/null | tail -1)" = 0 ]; }
    if ! wait_for 120 wine_synced "$root/a1/state/agent.db"; then
        log "wine: the agent did not sync ($root/a1/log)"; kill -9 "$pid"; stop_pid "$AGG_PID"; return 1
    fi
    sleep 2                            # let the post-sync allocations settle
    if ! tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'cdsync-agent\.exe'; then
        log "wine: pid $pid is not the agent: $(tr '\0' ' ' < "/proc/$pid/cmdline")"
        kill -9 "$pid"; stop_pid "$AGG_PID"; return 1
    fi
    pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$pid/smaps_rollup")
    priv=$(awk '$1 ~ /^Private_(Clean|Dirty):$/ { s += $2 } END { print s }' "/proc/$pid/smaps_rollup")
    rss=$(rss_kib "$pid")
    row 5-wine-pss-idle "Windows agent idle PSS under Wine, not Windows (1 run)" "$pss" KiB
    row 5-wine-priv-idle "  private memory (its own and Wine's, one Linux process)" "$priv" KiB
    row 5-wine-rss-idle "  RSS (Wine's DLLs counted whole)" "$rss" KiB
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    # Wine keeps a killed process's sockets while its wineserver lives.
    WINEPREFIX=$BUILD/win/wine "$(command -v wineserver || echo /usr/lib/wine/wineserver)" -k 2>/dev/null
    stop_pid "$AGG_PID"; rm -rf "$root"
}

# ===== 6. aggregator with many idle agents ==================================
all_ready() { local f; for f in "$@"; do grep -q '^ready' "$f" 2>/dev/null || return 1; done; }
# scale_connect N HB_S PORT: N simulated agents (<= 4,000 per process) say
# Hello to the aggregator on PORT, then heartbeat every HB_S s; waits until
# all are answered. Sets SIMS (pids), ANS (answered), TANS (seconds until
# the last Hello was answered, slowest simulator).
scale_connect() {
    local n=$1 p per first=0 files=()
    p=$(( (n + 3999) / 4000 )); per=$(( (n + p - 1) / p )); SIMS=""
    rm -f "$W"/sim*.out
    while [ "$first" -lt "$n" ]; do
        [ $((first + per)) -gt "$n" ] && per=$((n - first))
        "$BA" idle-connect "$W/ids" "$first" "$per" "tcp://127.0.0.1:$3" \
            "$(cat "$W/aggregator.pubid")" "$2" > "$W/sim$first.out" 2>> "$W/sim.log" &
        SIMS="$SIMS $!"; files+=("$W/sim$first.out"); first=$((first + per))
    done
    PIDS="$PIDS $SIMS"
    wait_for 400 all_ready "${files[@]}" || log "6: not every simulated agent got an answer"
    ANS=$(cat "${files[@]}" | awk '{ s += $2 } END { print s + 0 }')
    TANS=$(cat "${files[@]}" | awk '$3 > m { m = $3 } END { print m + 0 }')
}
# start_agg_traced ROOT PORT: start_agg under strace, which stops the
# daemon only at the calls traced (--seccomp-bpf): fsync, fdatasync and
# pwrite64 (SQLite's writes), with times, into $W/strace.out. AGG_PID is
# the aggregator, TRACE_PID strace.
start_agg_traced() {
    strace -f --seccomp-bpf -qq -ttt -y -e trace=fsync,fdatasync,pwrite64 \
        -o "$W/strace.out" "$AGG" -c "$1/aggregator.ini" run >> "$1/agg.log" 2>&1 &
    TRACE_PID=$!; PIDS="$PIDS $TRACE_PID"
    # strace's child that runs the aggregator: the one whose program is
    # the aggregator. Not just any child: --seccomp-bpf first forks a
    # short-lived child of its own to probe the kernel, and taking that
    # one ("exited before listening") failed a CI run's row 6-50.
    local n=600 p exe; AGG_PID=""; exe=$(readlink -f "$AGG")
    while [ -z "$AGG_PID" ] && [ "$n" -gt 0 ] && kill -0 "$TRACE_PID" 2>/dev/null; do
        for p in $(pgrep -P "$TRACE_PID"); do
            [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$exe" ] && { AGG_PID=$p; break; }
        done
        [ -n "$AGG_PID" ] || sleep 0.05; n=$((n - 1))
    done
    [ -n "$AGG_PID" ] || { log "strace started no aggregator"; return 1; }
    listening "$AGG_PID" "$2" "$1/agg.log"
}
# synced T0 T1 DIR: "SYNCS BYTES" between T0 and T1 (s since the epoch):
# fsync + fdatasync calls, and bytes pwrite64 put into files under DIR.
synced() {
    awk -v t0="$1" -v t1="$2" -v d="$3" '$2 >= t0 && $2 < t1 {
        if ($3 ~ /^f(data)?sync\(/) s++
        else if ($3 ~ /^pwrite64\(/ && index($0, "<" d) && $NF ~ /^[0-9]+$/) b += $NF }
        END { print s + 0, b + 0 }' "$W/strace.out"
}
phase_scale() {
    local nmax n port run=$W/run base rss t0 t1 w0 w1 cpu pa s ncyc cyc_s syncs wbytes
    nmax=$(sc 10000 50)
    mkdir -p "$W/tmpl-idle/agg" "$W/ids"; agg_conf "$W/tmpl-idle" 1
    log "6: enrolling $nmax idle agents"
    "$BA" idle-enroll "$W/ids" "$nmax" "$W/tmpl-idle/agg/aggregator.db" "$W/orgunits.csv" || return 1
    for n in $(sc 1000 20) "$nmax"; do
        port=$(free_port); instance "$W/tmpl-idle" "$run" "$port"
        TRACE_PID=""
        if [ "$n" = "$nmax" ] && command -v strace > /dev/null; then
            start_agg_traced "$run" "$port" || return 1
        else
            start_agg "$run" "$port" || return 1
        fi
        sleep 1; base=$(rss_kib "$AGG_PID")
        scale_connect "$n" "$HB_S" "$port"
        sleep 2
        w0=$(date +%s.%N)
        t0=$(cpu_ticks "$AGG_PID"); sleep "$HOLD_S"; t1=$(cpu_ticks "$AGG_PID")
        w1=$(date +%s.%N)
        rss=$(rss_kib "$AGG_PID")
        if ! kill -0 "$AGG_PID" 2>/dev/null; then
            log "6: the aggregator exited with $n agents connected; $run/agg.log ends:"
            tail -5 "$run/agg.log" | sed 's/^/bench:   /' >&2
        fi
        cpu=$(calc "($t1 - $t0) / $(getconf CLK_TCK) / $HOLD_S * 100")
        # Every agent connecting at once must be answered (issue 7: before
        # the fix in aggregator/core/server.c socket_setup, 10-15 % never were).
        row "6-$n-ans" "agents answered, all connecting at once (1 run)" "$ANS" agents "= $n" "$( [ "$ANS" = "$n" ] && echo met || echo missed)"
        row "6-$n-t" "  seconds until the last Hello was answered" "$TANS" s
        row "6-$n-rss" "aggregator RSS, $n idle agents connected ($ANS answered, 1 run)" "$rss" KiB
        pa=$(ratio "$(calc "$rss - $base")" "$ANS")
        if [ "$n" = "$nmax" ]; then
            row "6-$n-per" "  memory per connected agent (RSS - $base KiB base)/$ANS" "$pa" KiB/agent "<= 32" "$(verdict "$pa" "<=" 32)"
        else
            row "6-$n-per" "  memory per connected agent (RSS - $base KiB base)/$ANS" "$pa" KiB/agent
        fi
        row "6-$n-cpu" "  aggregator CPU, heartbeat every ${HB_S} s per agent" "$cpu" "%"
        if [ -n "$TRACE_PID" ]; then
            # Heartbeats are held in memory and written together
            # (aggregator/core/health.h): not one synced write each.
            read -r syncs wbytes < <(synced "$w0" "$w1" "$run/agg")
            s=$(calc "$syncs / ($w1 - $w0)")
            row "6-sync" "  aggregator fsync+fdatasync/s, $n agents heartbeat every ${HB_S} s (strace, 1 run)" "$s" "/s" "<= 1" "$(verdict "$s" "<=" 1)"
            row "6-sync/t" "  ratio to the 1/s target" "$(calc "$s / 1")" x "<= 1" "$(verdict "$s" "<=" 1)"
            row "6-hb-bytes" "  bytes SQLite wrote (pwrite64) per heartbeat" "$(calc "$wbytes / ($ANS * ($w1 - $w0) / $HB_S)")" B
        fi
        for s in $SIMS; do stop_pid "$s"; done
        if [ -n "$TRACE_PID" ]; then
            kill -TERM "$AGG_PID" 2>/dev/null; wait "$TRACE_PID" 2>/dev/null
        else
            stop_pid "$AGG_PID"
        fi
    done
    # Long-run memory: libzmq's pipe queues grow in 256-message chunks and
    # keep a spare, so an idle agent's memory rises until ~512 messages
    # have passed each way (~4 h of 30-s heartbeats). Heartbeats every
    # 0.1 s for 70 s reach that state in minutes.
    ncyc=$(sc 300 10); cyc_s=$(sc 70 3)
    port=$(free_port); instance "$W/tmpl-idle" "$run" "$port"
    start_agg "$run" "$port" || return 1
    sleep 1; base=$(rss_kib "$AGG_PID")
    scale_connect "$ncyc" 0.1 "$port"
    # Measured half-way and at the end: equal figures show the growth
    # has levelled off (bounded by the pipe chunks, not per heartbeat).
    sleep "$(calc "$cyc_s / 2")"; rss=$(rss_kib "$AGG_PID")
    row "6-cyc-half" "memory per agent after ~$(calc "int($cyc_s * 5)") heartbeats each ($ANS agents)" "$(ratio "$(calc "$rss - $base")" "$ANS")" KiB/agent
    sleep "$(calc "$cyc_s / 2")"; rss=$(rss_kib "$AGG_PID")
    pa=$(ratio "$(calc "$rss - $base")" "$ANS")
    row "6-cyc-per" "  memory per agent after ~$(calc "int($cyc_s * 10)") heartbeats each ($ANS agents)" "$pa" KiB/agent
    for s in $SIMS; do stop_pid "$s"; done
    stop_pid "$AGG_PID"
    rm -rf "$run" "$W/tmpl-idle" "$W/ids"
}

# ===== 8. the Mosquitto pipeline ============================================
mosq_start() {
    MOSQ_DIR=$(mktemp -d /tmp/cdsync-bench-mosq.XXXXXX)
    chown mosquitto "$MOSQ_DIR" 2>/dev/null
    MOSQ_PORT=$(free_port)
    cat > "$MOSQ_DIR/mosquitto.conf" <<CONF
listener $MOSQ_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $MOSQ_DIR/
max_inflight_messages 100
max_queued_messages 0
log_dest stderr
CONF
    mosquitto -c "$MOSQ_DIR/mosquitto.conf" 2>> "$W/mosquitto.log" &
    MOSQ_PID=$!; PIDS="$PIDS $MOSQ_PID"
    listening "$MOSQ_PID" "$MOSQ_PORT" "$W/mosquitto.log"
}
# mosq_run N_PUB PER_PUB RATE [durable]: one pipeline run; the sink's
# output line with the throughput (from the publishers' start) appended.
# durable: the equal-durability pipeline (mqtt_pub.c --durable, mqtt_sink.c
# ack; docs/PERFORMANCE.md "The Mosquitto pipelines"): each publisher's
# queue filled before the clock starts (as the agents' outboxes are), the
# end is when the last publisher has deleted its last acked update, and
# the latencies are the publisher's (queue INSERT -> DELETE after the
# sink's ack), the line then "END_NS P50 P99 P999 N THROUGHPUT" with the
# median publisher's latencies (one publisher in the latency runs).
mosq_run() {
    local np=$1 per=$2 rate=$3 mode=${4:-} total=$(($1 * $2)) t0 k pubs="" sp ou
    rm -f "$W/sink.db"* "$W/sink.ready" "$W"/mq-q*.db* "$W"/mq-pub*.out
    if [ -n "$mode" ] && [ "$rate" = 0 ]; then
        for k in $(seq 1 "$np"); do
            "$BUILD_BENCH/mqtt_pub" --fill "$W/mq-q$k.db" "$(printf 'BOU%05d' "$k")"                 "$per" 0 2>> "$W/mosquitto.log" || return 1
        done
    fi
    "$BUILD_BENCH/mqtt_sink" 127.0.0.1 "$MOSQ_PORT" cdsync/bench "$W/sink.db"         "$total" "$W/sink.ready" ${mode:+ack} > "$W/sink.out" 2>> "$W/mosquitto.log" &
    sp=$!
    wait_for 10 test -f "$W/sink.ready" || { kill "$sp"; return 1; }
    t0=$(date +%s%N)
    for k in $(seq 1 "$np"); do
        ou=$(printf 'BOU%05d' "$k")
        if [ -n "$mode" ]; then
            "$BUILD_BENCH/mqtt_pub" --durable "$W/mq-q$k.db" 127.0.0.1 "$MOSQ_PORT"                 cdsync/bench "$ou" "$per" "$rate" 0 > "$W/mq-pub$k.out" 2>> "$W/mosquitto.log" &
        else
            "$BUILD_BENCH/mqtt_pub" 127.0.0.1 "$MOSQ_PORT" cdsync/bench                 "$ou" "$per" "$rate" 0 2>> "$W/mosquitto.log" &
        fi
        pubs="$pubs $!"
    done
    wait "$sp" || { for p in $pubs; do kill "$p" 2>/dev/null; done; return 1; }
    for p in $pubs; do wait "$p" || return 1; done
    if [ -n "$mode" ]; then
        cat "$W"/mq-pub*.out | sort -n -k1,1 | awk -v t0="$t0" -v n="$total" \
            '{ e = $1; l[NR] = $0 } END { split(l[int((NR + 1) / 2)], m, " ");
               print e, m[2], m[3], m[4], n, n / ((e - t0) / 1e9) }'
    else
        awk -v t0="$t0" -v n="$total" '{ print $0, n / (($1 - t0) / 1e9) }' "$W/sink.out"
    fi
}
phase_mosquitto() {
    local r per m id what
    mosq_start || { log "mosquitto did not start"; return 1; }
    per=$((E2E_TOTAL / 10)); [ "$per" -lt 1 ] && per=1
    for m in "" durable; do
        : > "$W/8t$m"; : > "$W/8l$m"
        for r in $(seq 1 "$REPS"); do mosq_run 10 "$per" 0 $m >> "$W/8t$m"; done
        for r in $(seq 1 "$REPS"); do mosq_run 1 $((1000 * LAT_SECS)) 1000 $m >> "$W/8l$m"; done
    done
    stop_pid "$MOSQ_PID"
    MQ_TPUT=$(awk '{ print $6 }' "$W/8tdurable" | median)
    MQ_P50=$(awk '{ print $2 }' "$W/8ldurable" | median)
    MQ_P99=$(awk '{ print $3 }' "$W/8ldurable" | median)
    row 8d-tput "Mosquitto, equal durability (queue FULL, ack after sink COMMIT): 10 pub x $per" "$MQ_TPUT" upd/s
    row 8d-p50 "  latency queue INSERT->deleted on the sink's ack @1000/s: p50" "$MQ_P50" ms
    row 8d-p99 "  p99" "$MQ_P99" ms
    row 8d-p999 "  p99.9" "$(awk '{ print $4 }' "$W/8ldurable" | median)" ms
    row 8-tput "Mosquitto, NO durability (publisher keeps nothing; PUBACK = broker has it): 10 x $per" "$(awk '{ print $6 }' "$W/8t" | median)" upd/s
    row 8-p50 "  latency publish->committed at the sink @1000/s: p50" "$(awk '{ print $2 }' "$W/8l" | median)" ms
    row 8-p99 "  p99" "$(awk '{ print $3 }' "$W/8l" | median)" ms
    row 8-p999 "  p99.9" "$(awk '{ print $4 }' "$W/8l" | median)" ms
    local rt rp r5
    rt=$(ratio "${E2E[10]:-FAIL}" "$MQ_TPUT"); rp=$(ratio "${LAT_P99:-FAIL}" "$MQ_P99")
    r5=$(ratio "${LAT_P50:-FAIL}" "$MQ_P50")
    row R-tput "ratio cdsync (2-10) / Mosquitto equal durability (8d-tput)" "$rt" x ">= 2" "$(verdict "$rt" ">=" 2)"
    row R-p50 "ratio cdsync p50 (3-p50) / Mosquitto equal durability p50" "$r5" x
    row R-p99 "ratio cdsync p99 (3-p99) / Mosquitto equal durability p99" "$rp" x "< 1" "$(verdict "$rp" "<" 1)"
    row R0-tput "ratio cdsync (2-10) / Mosquitto NO durability (8-tput)" "$(ratio "${E2E[10]:-FAIL}" "${R_VAL[8-tput]}")" x
    row R0-p99 "ratio cdsync p99 (3-p99) / Mosquitto NO durability p99" "$(ratio "${LAT_P99:-FAIL}" "${R_VAL[8-p99]}")" x
}

# ===== 10. a country reconnecting (issue 19 item 5) ========================
# Vietnam after the 2025 reform: 34 provinces, 3,321 communes (sc(3321)),
# each one agent (tests/tools/swarm: its own Ed25519/CURVE identity,
# enrolled for its own commune, its own CURVE connection and hash chain,
# real signed batches) with one week of backlog, BENCH_COUNTRY_ROWS
# updates (300: docs/PERFORMANCE.md "A country reconnecting" says why),
# sent as the agent does by default (batches of up to batch_max 1,000).
# All connect at once to one aggregator (deploy/catalog.csv). Time to
# drain every agent, the aggregator's peak RSS (VmHWM) and CPU time, and
# fairness: the slowest agent's drain time / the median agent's. An agent
# not answered within BENCH_COUNTRY_ACK_TIMEOUT_MS (10,000: the agent's
# ack_timeout_ms) says Hello again and resends, as the daemon does: those
# Hellos are counted. BENCH_COUNTRY=0 skips the phase.
country_units() { # N ORGUNITS_CSV LIST
    awk -v n="$1" -v list="$3" 'BEGIN {
        print "code,name,parent,valid_from,valid_to"; print "VN,Việt Nam,,,";
        for (p = 1; p <= 34; p++) printf "P%02d,Tỉnh %d,VN,,\n", p, p;
        for (i = 1; i <= n; i++) {
            printf "C%05d,Xã %d,P%02d,,\n", i, i, (i - 1) % 34 + 1;
            printf "C%05d\n", i > list } }' > "$2"
}
# country_ini ROOT PORT
country_ini() {
    cat > "$1/aggregator.ini" <<INI
[aggregator]
state_dir = $1/state
identity = $W/country/aggregator.key
catalog = $TOP/deploy/catalog.csv
orgunits = $W/country/orgunits.csv
listen = tcp://127.0.0.1:$2
log_level = warn
$AGG_EXTRA
INI
}
# country_run R: one reconnect; "SECONDS MEDIAN_S CPU_S HWM_KIB HELLOS
# DRAINED NOFILE" into $W/country/run-R.
country_run() {
    local d=$W/country run=$W/country/run port t0 c0 c1 hwm nofile rc=0
    rm -rf "$run"; cp -a "$d/tmpl" "$run" || return 1
    port=$(free_port); country_ini "$run" "$port"
    start_agg "$run" "$port" || { stop_pid "$AGG_PID"; return 1; }
    nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$AGG_PID/limits")
    c0=$(cpu_ticks "$AGG_PID")
    SWARM_ACK_TIMEOUT_MS=$CTMO "$SWARM" run "tcp://127.0.0.1:$port" "$(cat "$d/pubid")" "$d/keys" "$CN" \
        "$CROWS" "@$d/units" 900 /dev/null "$d/times-$1" "$CBATCH" \
        > "$d/swarm-$1.out" 2>> "$d/swarm.log" || rc=1
    c1=$(cpu_ticks "$AGG_PID"); hwm=$(rss_kib "$AGG_PID" VmHWM)
    stop_pid "$AGG_PID"
    # connections the aggregator cut (connguard: more than
    # max_pending_handshakes in their handshake; the agents reconnect)
    # (connguard logs a window's first cut, then its count if more than one)
    awk '/reason=pending_handshakes_over_cap/ && /event=connection_refused / { c += p; p = 1 }
         /reason=pending_handshakes_over_cap/ && /event=connections_refused_summary/ {
             if (match($0, /count=[0-9]+/)) c += substr($0, RSTART + 6, RLENGTH - 6); p = 0 }
         END { print c + p }' "$run/agg.log" > "$d/refused-$1"
    log "10: run $1: $(cat "$d/swarm-$1.out")"
    sort -n -k2,2 "$d/times-$1" | awk -v c="$(calc "($c1 - $c0) / $(getconf CLK_TCK)")" \
        -v h="$hwm" -v f="$nofile" '
        { t[NR] = $2; if ($2 >= 0) d++; he += $3 }
        END { print (d == NR ? t[NR] / 1000 : "FAIL"), t[int((NR + 1) / 2)] / 1000, c, h, he, d, f }' \
        | paste -d' ' - "$d/refused-$1" > "$d/run-$1"
    rm -rf "$run"
    return "$rc"
}
phase_country() {
    local d=$W/country r v
    if [ "${BENCH_COUNTRY:-1}" = 0 ]; then
        row 10-drain "country reconnect: skipped (BENCH_COUNTRY=0)" n/a s; return 0; fi
    CN=$(sc 3321 20); CROWS=${BENCH_COUNTRY_ROWS:-300}; CBATCH=${BENCH_COUNTRY_BATCH:-1000}
    CTMO=${BENCH_COUNTRY_ACK_TIMEOUT_MS:-10000}
    SWARM=$W/bin/swarm
    mkdir -p "$d/keys" "$d/tmpl"
    country_units "$CN" "$d/orgunits.csv" "$d/units"
    country_ini "$d/tmpl" 1
    "$AGG" -c "$d/tmpl/aggregator.ini" keygen --label bench-country > "$d/pubid" || return 1
    # a first start loads the org units into the store (swarm enroll needs them)
    country_ini "$d/tmpl" "$(free_port)"
    start_agg "$d/tmpl" "$(awk -F: '/^listen/ { print $3 }' "$d/tmpl/aggregator.ini")" || return 1
    stop_pid "$AGG_PID"
    log "10: enrolling $CN agents, one commune each"
    "$SWARM" enroll "$d/tmpl/state/aggregator.db" "$d/keys" "$CN" "@$d/units" \
        2>> "$d/swarm.log" || return 1
    for r in $(seq 1 "$REPS"); do country_run "$r" || log "10: run $r: not every agent drained"; done
    col() { cat "$d"/run-* 2>/dev/null | awk -v k="$1" '{ print $k }' | median; }
    v=$(col 1)
    row 10-drain "country reconnect: $CN agents x $CROWS queued, all at once -> all drained" "$v" s "<= 300 s" "$(verdict "$v" "<=" 300)"
    row 10-rate "  as updates/s" "$(ratio "$((CN * CROWS))" "$v")" upd/s
    row 10-med "  median agent's drain time" "$(col 2)" s
    v=$(cat "$d"/run-* 2>/dev/null | awk '$1 != "FAIL" && $2 > 0 { print $1 / $2 }' | median)
    row 10-fair "  fairness: slowest agent / median agent (median of the runs' ratios)" "$v" x "<= 3" "$(verdict "$v" "<=" 3)"
    row 10-drained "  agents drained (of $CN)" "$(col 6)" agents "= $CN" "$( [ "$(col 6)" = "$CN" ] && echo met || echo missed)"
    row 10-hellos "  Hellos beyond one per agent (retries after ${CTMO} ms of silence)" "$(calc "$(col 5) - $CN")" hellos
    row 10-cpu "  aggregator CPU time (user + system) during the drain" "$(col 3)" s
    row 10-hwm "  aggregator peak RSS (VmHWM)" "$(col 4)" KiB
    row 10-nofile "  aggregator open-files limit (soft, after daemon_raise_nofile)" "$(col 7)" fds
    row 10-cut "  connections cut: over max_pending_handshakes (agents reconnect)" "$(col 8)" conns
    rm -rf "$d/tmpl"
}

# ===== 9. dashboard views at province scale (issue 16 item 5) ==============
# One province, districts of 30 communes, sc(300) communes, every entered
# indicator of deploy/catalog.csv over 8 quarters (tests/bench/views_data.py)
# loaded with `cdsync-aggregator import`; deploy's data sets, targets and
# rules. Views (deploy/dashboard): summary = Tổng hợp, reporting = Tiến độ
# báo cáo, targets = Chỉ tiêu, trend = Xu hướng, quality = Chất lượng số
# liệu, history = Lịch sử, operations = Vận hành; start = the page's first
# load. Each view = the /api/ calls the dashboard makes for it, in parallel
# as its Promise.all does (curl --parallel), timed from the first request to
# the last answer. Cold: the first call after the aggregator started (one
# per start, BENCH_REPS starts); warm: BENCH_REPS calls after it.
VIEWS="start summary reporting targets trend quality history operations"
declare -A VIEW_WHAT=([start]="view start: indicators + org units"
    [summary]="view summary: query --wide + rollup + completeness"
    [reporting]="view reporting: completeness of the province"
    [targets]="view targets: rank of the districts, 1 indicator"
    [trend]="view trend: query --wide 1 ind. + 8 quarters rollup"
    [quality]="view quality: validate (rules, ratios, outliers)"
    [history]="view history: one commune's value"
    [operations]="view operations: health")
# view_urls VIEW: the view's request paths, one a line.
view_urls() {
    local q="org_unit=90&period=2025Q4" pe
    case $1 in
    start) echo "/api/indicators"; echo "/api/orgunits" ;;
    summary) echo "/api/query?$q&indicator=$V_ALL&wide=1"
             echo "/api/rollup?$q&indicator=$V_ALL"
             echo "/api/completeness?$q&indicator=$V_OWED" ;;
    reporting) echo "/api/completeness?$q&indicator=$V_OWED" ;;
    targets) echo "/api/rank?$q&indicator=HSCV_ONLINE" ;;
    trend) echo "/api/query?$q&indicator=HGD_CAPQUANG&wide=1"
             for pe in 2024Q1 2024Q2 2024Q3 2024Q4 2025Q1 2025Q2 2025Q3 2025Q4; do
                 echo "/api/rollup?org_unit=90&period=$pe&indicator=HGD_CAPQUANG"; done ;;
    quality) echo "/api/validate?$q" ;;
    history) echo "/api/history?org_unit=90001&period=2025Q4&indicator=HGD_TONG" ;;
    operations) echo "/api/health" ;;
    esac
}
# time_view PORT TOKEN VIEW: seconds for all of the view's calls, or FAIL
# unless every one answered 200.
time_view() {
    local args=() u t0 t1 codes
    while read -r u; do args+=(-o /dev/null "http://127.0.0.1:$1$u"); done < <(view_urls "$3")
    t0=$(date +%s%N)
    codes=$(curl -sS --parallel --parallel-max 16 -H "Authorization: Bearer $2" \
                 -w '%{http_code}\n' "${args[@]}")
    t1=$(date +%s%N)
    if [ -n "$codes" ] && ! grep -qv '^200$' <<< "$codes"; then
        calc "($t1 - $t0) / 1e9"
    else log "9: view $3: HTTP ${codes//$'\n'/ }"; echo FAIL; fi
}
# views_page PORT TOKEN: the same views in headless Chromium, from the
# click to the view on screen (tests/browser/views_bench.mjs, REPS walks)
# into $d/page.out; nothing (no 9b rows) without Chromium and
# playwright-core (tests/browser/setup.sh).
views_page() {
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && command -v node > /dev/null \
        && [ -d "$TOP/tests/browser/node_modules/playwright-core" ] \
        || { log "9: no Chromium/playwright-core: page rows left out"; return 0; }
    BASE_URL="http://127.0.0.1:$1" TOKEN="$2" OU=90 YEAR=2025 QUARTER=4 CELL=90001 \
        REPS="$REPS" timeout 600 node "$TOP/tests/browser/views_bench.mjs" > "$d/page.out" \
        || log "9: views_bench.mjs failed"
}
phase_views() {
    local d=$W/views n port hport tok r v vals
    mkdir -p "$d"; cp deploy/catalog.csv deploy/datasets.csv deploy/rules.csv deploy/targets.csv "$d/"
    n=$(sc 300 6)
    vals=$(python3 tests/bench/views_data.py "$d/catalog.csv" "$d" "$n") || return 1
    port=$(free_port); hport=$(free_port)
    cat > "$d/aggregator.ini" <<INI
[aggregator]
state_dir = $d/state
catalog = $d/catalog.csv
orgunits = $d/orgunits.csv
listen = tcp://127.0.0.1:$port
http_listen = 127.0.0.1:$hport
log_level = warn
dashboard = $TOP/deploy/dashboard/index.html
INI
    "$AGG" -c "$d/aggregator.ini" keygen --label bench-views > /dev/null || return 1
    log "9: importing $vals values of $n communes"
    "$AGG" -c "$d/aggregator.ini" import "$d/values.csv" > "$d/import.out" || return 1
    # one enrolled agent per commune (never connected: SILENT in health)
    mkdir -p "$d/ids"
    "$BA" idle-enroll "$d/ids" "$n" "$d/state/aggregator.db" "$d/orgunits.csv" 9 || return 1
    tok=$("$AGG" -c "$d/aggregator.ini" token add bench | grep -m1 '^cdst_') || return 1
    V_ALL=$(python3 -c 'import csv, sys; print(",".join(r["code"] for r in csv.DictReader(open(sys.argv[1]))))' "$d/catalog.csv")
    V_OWED=$(python3 -c 'import csv, sys; print(",".join(r["code"] for r in csv.DictReader(open(sys.argv[1])) if r["aggregation"] != "RATIO"))' "$d/catalog.csv")
    for v in $VIEWS; do : > "$d/c-$v"; : > "$d/w-$v"; done
    for r in $(seq 1 "$REPS"); do
        "$AGG" -c "$d/aggregator.ini" run >> "$d/agg.log" 2>&1 &
        AGG_PID=$!; PIDS="$PIDS $AGG_PID"
        listening "$AGG_PID" "$hport" "$d/agg.log" || { stop_pid "$AGG_PID"; return 1; }
        for v in $VIEWS; do time_view "$hport" "$tok" "$v" >> "$d/c-$v"; done
        for v in $VIEWS; do time_view "$hport" "$tok" "$v" >> "$d/w-$v"; done
        [ "$r" = 1 ] && views_page "$hport" "$tok"
        stop_pid "$AGG_PID"
    done
    for v in $VIEWS; do
        local c w; c=$(median < "$d/c-$v"); w=$(median < "$d/w-$v")
        row "9-$v" "${VIEW_WHAT[$v]}, cold" "$c" s "<= 1 s" "$(verdict "$c" "<=" 1)"
        row "9-$v-w" "  warm (the same calls again)" "$w" s "<= 1 s" "$(verdict "$w" "<=" 1)"
    done
    for v in start login summary reporting targets quality trend history operations; do
        [ -s "$d/page.out" ] || break
        w=$(awk -v k="page-$v" '$1 == k { print $2 }' "$d/page.out" | median)
        row "9b-$v" "view $v in Chromium: click -> on screen" "$w" s "<= 1 s" "$(verdict "$w" "<=" 1)"
    done
    log "9: $n communes, $vals values; views timed against $(wc -l < "$d/orgunits.csv") org units"
}

# ===== profile (not in the table): callgrind of the aggregator under load ====
# BENCH_ONLY=profile: 10 agents with 1,000 x BENCH_SCALE queued each drain
# into an aggregator run under valgrind --tool=callgrind; the annotated
# profile goes to ${BENCH_PROFILE_OUT:-$W}/callgrind.txt.
phase_profile() {
    local n=10 b run=$W/run port t0 dbs=() k out=${BENCH_PROFILE_OUT:-$W} tries=2400
    mkdir -p "$out" || return 1
    b=$(sc 1000 10)
    AGENT_EXTRA="ack_timeout_ms = 600000" prepare "$W/tmpl-prof" "$n" "$b" || return 1
    port=$(free_port)
    AGENT_EXTRA="ack_timeout_ms = 600000" instance "$W/tmpl-prof" "$run" "$port"
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
        "$AGG" -c "$run/aggregator.ini" run >> "$run/agg.log" 2>&1 &
    AGG_PID=$!; PIDS="$PIDS $AGG_PID"
    while ! listens "$AGG_PID" "$port"; do   # callgrind starts slowly: 120 s
        kill -0 "$AGG_PID" 2>/dev/null && [ "$tries" -gt 0 ] \
            || { listening "$AGG_PID" "$port" "$run/agg.log"; return 1; }
        sleep 0.05; tries=$((tries - 1))
    done
    for k in $(seq 1 "$n"); do dbs+=("$run/a$k/state/agent.db"); done
    t0=$(date +%s%N)
    start_agents "$run" "$n"
    "$BA" drain "$t0" 1800 0 "${dbs[@]}" || log "profile: outboxes not drained"
    for p in $APIDS; do stop_pid "$p"; done
    stop_pid "$AGG_PID"
    callgrind_annotate --inclusive=yes "$out/callgrind.out" 2>/dev/null | head -60 > "$out/callgrind-inclusive.txt"
    callgrind_annotate "$out/callgrind.out" 2>/dev/null | head -60 > "$out/callgrind.txt"
    log "profile: $((n * b)) updates; $out/callgrind.txt"
}

# ===== main ==================================================================
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Private copies: a rebuild of build/ during the run must not break it.
mkdir -p "$W/bin"
for b in "$AGENT" "$AGG" "$BL" "$BA" "$BUILD/bench/mqtt_sink" "$BUILD/bench/mqtt_pub" \
         "$BUILD/tools/swarm"; do
    cp "$b" "$W/bin/" || { log "missing $b (make bench builds it)"; exit 2; }
done
AGENT=$W/bin/cdsync-agent; AGG=$W/bin/cdsync-aggregator
# The HTTP endpoint has a fixed default port: off, so runs never collide.
AGG_EXTRA=""
"$AGG" --help 2>&1 | grep -q -- --http-listen && AGG_EXTRA="http_listen ="
BL=$W/bin/bench_limits; BA=$W/bin/bench_agents; BUILD_BENCH=$W/bin
command -v mosquitto > /dev/null || { log "mosquitto missing (deploy/deps.sh)"; exit 2; }
declare -A E2E
GROUP=64; BATCH=1000; LAT_SECS=2; LAT_P99=FAIL; LAT_P50=FAIL; LIM_A=FAIL; LIM_B=FAIL; MQ_TPUT=FAIL
LIM_BPG=FAIL; LIM_BPGPIPE=FAIL; AGG_STORE=""; ENROLL_RC=0
E2E_TOTAL=$(sc 200000 100)
make_fixtures
agg_conf "$W" 1
"$AGG" -c "$W/aggregator.ini" keygen --label bench-agg > "$W/aggregator.pubid" || exit 2
log "work dir $W, scale $SCALE, $REPS runs per figure"
# BENCH_ONLY="limits e2e ...": run only those phases (debugging).
if [ "${BENCH_ONLY:-}" = profile ]; then phase_profile; exit $?; fi
for ph in limits e2e latency trace catchup binary wine import scale mosquitto views country; do
    case " ${BENCH_ONLY:-$ph} " in *" $ph "*) ;; *) continue ;; esac
    "phase_$ph" || log "phase $ph failed"
done
print_table > "$W/table.txt"
cat "$W/table.txt"
if [ -n "${BENCH_OUT:-}" ]; then
    cp "$W/table.txt" "$BENCH_OUT"
    for id in "${ROWS[@]}"; do printf '%s\t%s\t%s\n' "$id" "${R_VAL[$id]}" "${R_UNIT[$id]}"; done > "$BENCH_OUT.tsv"
fi
