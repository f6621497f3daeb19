#!/bin/sh
# Runs every test: the cmocka unit binaries (TAP output) and the integration
# scripts (which print TAP "ok"/"not ok" lines). Ends with the line
# "N passed, N failed[, N skipped]" and exits non-zero on any failure.
#   TESTS=pattern sh tests/run.sh    run only tests whose name matches
#   TEST_LOGDIR=dir sh tests/run.sh  keep logs there (two runs at once)
#   TEST_RUNNER="qemu-aarch64 -L /"  runs each unit binary through it
#                                    (`make arm64-test`, docs/AGENT.md)
# The aggregator's store: every integration script and fault scenario runs
# with the SQLite store; the set PG_SET below runs again with a PostgreSQL
# store (CDS_TEST_STORE=pg: a real server per script, tests/pg/pg.sh),
# named "...@pg"; scenarios tests/fault/NN_pg_*.sh run only that way.
#   TESTS=@pg sh tests/run.sh          only the PostgreSQL runs
#   TEST_STORES=sqlite sh tests/run.sh only the SQLite runs (default "sqlite pg")
# docs/POSTGRESQL.md ("Test suites on PostgreSQL") says why a script is
# left out of PG_SET.
#   TEST_JOBS=N sh tests/run.sh        N tests at once (default 2 x nproc);
#                                      TEST_JOBS=1: one after the other
#   TEST_SERIAL="name ..."             tests run alone after the others
#                                      (default: the list below)
# Each ok/FAIL line ends with the test's seconds; before the final line
# come the 10 slowest tests (all in $TEST_LOGDIR/times), the wall time
# and the last 40 lines of each failed test's log.
set -u
BUILD=${BUILD:-build}
export BUILD
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
logdir=${TEST_LOGDIR:-$BUILD/test-logs}
prev_times=$(cat "$logdir/times" 2>/dev/null)   # the last run's, for the order
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed_names=""; failed_logs=""

count() { # $1 = name, $2 = log file, $3 = exit status, $4 = seconds
    p=$(grep -c '^ok ' "$2" | tr -d ' ')
    s=$(grep -c '^ok .*# [Ss][Kk][Ii][Pp]' "$2" | tr -d ' ')
    f=$(grep -c '^not ok ' "$2" | tr -d ' ')
    p=$((p - s))
    if [ "$3" != 0 ] && [ "$f" = 0 ]; then
        f=1   # crashed or exited non-zero without saying which test
        echo "not ok - $1 exited with status $3" >> "$2"
    fi
    if [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ]; then
        f=1; echo "not ok - $1 ran no test" >> "$2"
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    if [ "$f" != 0 ]; then
        failed_names="$failed_names $1"; failed_logs="$failed_logs $2"
        printf 'FAIL %-40s %d passed, %d failed %7ss (log: %s)\n' "$1" "$p" "$f" "$4" "$2"
        grep '^not ok' "$2" | sed 's/^/     /' | head -20
    else
        printf 'ok   %-40s %-22s %7ss\n' "$1" "$p passed$( [ "$s" != 0 ] && echo ", $s skipped")" "$4"
    fi
}

TEST_STORES=${TEST_STORES:-sqlite pg}
has_store() { case " $TEST_STORES " in *" $1 "*) return 0 ;; esac; return 1; }
PG_SET="integration/roundtrip integration/conflicts integration/crash_safety
  integration/offline_catchup integration/restored_agent integration/clock_skew
  integration/agent_clock integration/knocking
  integration/retention integration/reload integration/admin integration/admin_api
  integration/dhis2_import integration/adx integration/dhis2_push
  integration/accounts integration/approval
  integration/monitoring integration/frame_flood
  integration/python_client integration/security_keys integration/security_replay
  integration/security_receipts integration/bad_input_aggregator
  integration/usb_carry integration/official_report integration/merges
  integration/targets integration/validate integration/datasets integration/derived
  integration/metadata_publish integration/metadata_announce integration/metadata_fetch
  integration/metadata_recheck integration/metadata_versions
  fault/01_kill_aggregator fault/02_kill_agents fault/03_failpoints
  fault/04_acks_lost fault/06_sigstop fault/08_reset_mid_batch
  fault/11_clock_jumps fault/12_restored_backup fault/13_swarm
  fault/18_skewed_clocks fault/21_restored_aggregator"

# Each test is queued as one line "kind name script log" in $queue, then
# run by the pool below: TEST_JOBS at a time, each in its own process with
# its own log; the main loop alone prints, a test's block at once when it
# completes, so lines never interleave. Tests are independent: each has
# its own mktemp directory, its own PostgreSQL server (tests/pg/pg.sh:
# a port `ss` shows free, retried on a lost race), ports chosen per
# process, and the fault scenarios that change network or mounts do it in
# a private namespace (unshare). TEST_SERIAL names the few that must run
# alone (after the pool, one at a time): see the list and its reasons.
queue=$logdir/.queue; : > "$queue"
enqueue() { # $1 = kind, $2 = name, $3 = script, $4 = log
    case "$2" in *${TESTS:-}*) ;; *) return 0 ;; esac
    echo "$1 $2 $3 $4" >> "$queue"
}

for t in "$BUILD"/tests/*_test; do
    [ -x "$t" ] || continue
    enqueue unit "unit/$(basename "$t")" "$t" "$logdir/$(basename "$t").log"
done

has_store sqlite && for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    [ "$(basename "$t")" = lib.sh ] && continue   # helpers, not a test
    enqueue it "integration/$(basename "$t" .sh)" "$t" "$logdir/$(basename "$t" .sh).log"
done

# PostgreSQL checks (tests/pg/*.sh, each on its own throw-away server;
# pg.sh is the harness they source, not a test; aggq_dialect.sh is a
# tool run by hand: it replays the whole PG_SET in SQLite mode, which the
# @pg runs below now check for real).
for t in tests/pg/*.sh; do
    [ -f "$t" ] || continue
    case "$(basename "$t")" in pg.sh|aggq_dialect.sh) continue ;; esac
    enqueue it "pg/$(basename "$t" .sh)" "$t" "$logdir/pg-$(basename "$t" .sh).log"
done

# The fault-injection suite, short form (tests/fault/NN_*.sh; see
# docs/RELIABILITY.md). Figures of each run go to $logdir/fault-figures
# (one line appended per run).
has_store sqlite && for t in tests/fault/[0-9][0-9]_*.sh; do
    [ -f "$t" ] || continue
    case "$t" in */[0-9][0-9]_pg_*) continue ;; esac   # PostgreSQL only
    enqueue fault "fault/$(basename "$t" .sh)" "$t" "$logdir/fault-$(basename "$t" .sh).log"
done

# The PostgreSQL runs: PG_SET, then the PostgreSQL-only scenarios.
has_store pg && for base in $PG_SET $(ls tests/fault/[0-9][0-9]_pg_*.sh 2>/dev/null | sed 's|^tests/||; s|\.sh$||'); do
    t=tests/$base.sh
    [ -f "$t" ] || { echo "run.sh: PG_SET names $t, which does not exist" >&2; fail=$((fail + 1)); continue; }
    enqueue pg "$base@pg" "$t" "$logdir/pg-$(echo "$base" | tr / -).log"
done

case "$logdir" in /*) figs=$logdir ;; *) figs=$top/$logdir ;; esac
# run_job KIND SCRIPT: one test, output to stdout (the caller redirects).
run_job() {
    case "$1" in
    unit) # shellcheck disable=SC2086  # the runner is a command and its options
        CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 ${TEST_RUNNER:-} "$2" ;;
    it) timeout 900 bash "$2" ;;
    fault) FAULT_FIGURES=$figs/fault-figures timeout 600 bash "$2" ;;
    pg) case "$2" in */fault/*) to=600 ;; *) to=900 ;; esac
        CDS_TEST_STORE=pg FAULT_FIGURES=$figs/fault-figures-pg timeout "$to" bash "$2" ;;
    esac
}

# TEST_JOBS: how many tests at once. Most of a test's time is spent
# waiting (on daemons, syncs, timeouts it provokes), so twice the cores.
TEST_JOBS=${TEST_JOBS:-$(( $(nproc 2>/dev/null || echo 1) * 2 ))}
# Tests that run alone, after the others (a name matches a word here):
#   fault/13_swarm: hundreds of agents against one aggregator, it
#     saturates both cores by itself and its bounds assume it has them;
#   integration/monitoring, integration/nagios: they time how soon an
#     agent turns SILENT (within silent_after_ms + 1 s) and expect every
#     heartbeat on time; on a loaded machine (2026-12-03, load 20-35,
#     4 tests at once) both failed so.
TEST_SERIAL=${TEST_SERIAL-fault/13_swarm fault/13_swarm@pg integration/monitoring
  integration/monitoring@pg integration/nagios}
is_serial() { case " $TEST_SERIAL " in *" $1 "*) return 0 ;; esac; return 1; }

st=$logdir/.status; mkdir -p "$st"; : > "$logdir/times"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# start N KIND NAME SCRIPT LOG: runs job N in the background; when it ends
# $st/N holds "exit-status milliseconds".
start() {
    ( t0=$(now_ms); run_job "$2" "$4" < /dev/null > "$5" 2>&1; rc=$?
      echo "$rc $(( $(now_ms) - t0 ))" > "$st/$1.tmp"; mv "$st/$1.tmp" "$st/$1" ) &
}
# reap: reports every finished job of $running (in queue order).
reap() {
    still=""
    for r in $running; do
        if [ -f "$st/$r" ]; then
            read -r rc ms < "$st/$r"
            # shellcheck disable=SC2086  # the queue line: kind name script log
            set -- $(sed -n "${r}p" "$queue")
            secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
            echo "$secs $2" >> "$logdir/times"
            count "$2" "$4" "$rc" "$secs"
        else
            still="$still $r"
        fi
    done
    running=$still
}
# The longest tests start first, so that the last minutes are not one
# long test alone: by the seconds of the last run in this log directory,
# else TEST_FIRST (the slowest of a 2-core CI run), else in queue order.
TEST_FIRST=${TEST_FIRST-unit/session_model_test integration/bench_smoke
  integration/metadata_fetch integration/monitoring integration/agent_reasons
  integration/metadata_reform integration/security_transport fault/03_failpoints
  integration/crash_safety integration/fd_flood integration/official_report}
# order: queue line numbers, longest expected first.
order() {
    awk -v prev="$prev_times" -v first="$TEST_FIRST" '
        BEGIN { n = split(prev, p, "\n"); for (i = 1; i <= n; i++) { split(p[i], f, " "); secs[f[2]] = f[1] }
                n = split(first, w, " "); for (i = 1; i <= n; i++) { early[w[i]] = 1; early[w[i] "@pg"] = 1 } }
        { k = ($2 in secs) ? secs[$2] : (($2 in early) ? 1000 : 0); printf "%s %d\n", k, NR }
    ' "$queue" | sort -s -k1,1 -rn | cut -d' ' -f2
}
# pool JOBS FILTER: runs the queued jobs that FILTER (serial|parallel) selects.
pool() {
    running=""; max=$1; which=$2
    for j in $(order); do
        # shellcheck disable=SC2046  # the queue line: kind name script log
        set -- $(sed -n "${j}p" "$queue")
        if is_serial "$2"; then [ "$which" = serial ] || continue
        else [ "$which" = parallel ] || continue; fi
        while [ "$(echo $running | wc -w)" -ge "$max" ]; do
            reap; [ "$(echo $running | wc -w)" -ge "$max" ] && sleep 0.1
        done
        start "$j" "$1" "$2" "$3" "$4"; running="$running $j"
    done
    while [ -n "$running" ]; do reap; [ -n "$running" ] && sleep 0.1; done
}
suite_t0=$(now_ms)
pool "$TEST_JOBS" parallel
pool 1 serial

if [ -s "$logdir/times" ]; then
    ms=$(( $(now_ms) - suite_t0 ))
    echo "slowest tests (seconds; all in $logdir/times), $TEST_JOBS at a time, wall $((ms / 1000)) s:"
    sort -rn "$logdir/times" | head -10 | sed 's/^/  /'
fi
# A failed test's own log, last lines, so that a CI run's output alone
# says what went wrong (its build directory is gone after the run).
for l in $failed_logs; do
    echo "--- last 40 lines of $l"
    tail -n 40 "$l" | cut -c1-400
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
if [ "$skip" != 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
