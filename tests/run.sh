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
set -u
BUILD=${BUILD:-build}
export BUILD
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
logdir=${TEST_LOGDIR:-$BUILD/test-logs}
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed_names=""

count() { # $1 = name, $2 = log file, $3 = exit status
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
        failed_names="$failed_names $1"
        printf 'FAIL %-40s %d passed, %d failed (log: %s)\n' "$1" "$p" "$f" "$2"
        grep '^not ok' "$2" | sed 's/^/     /' | head -20
    else
        printf 'ok   %-40s %d passed%s\n' "$1" "$p" "$( [ "$s" != 0 ] && echo ", $s skipped")"
    fi
}

TEST_STORES=${TEST_STORES:-sqlite pg}
has_store() { case " $TEST_STORES " in *" $1 "*) return 0 ;; esac; return 1; }
PG_SET="integration/roundtrip integration/conflicts integration/crash_safety
  integration/offline_catchup integration/restored_agent integration/clock_skew
  integration/agent_clock integration/knocking
  integration/retention integration/reload integration/admin integration/admin_api
  integration/dhis2_import integration/adx
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

for t in "$BUILD"/tests/*_test; do
    [ -x "$t" ] || continue
    name=unit/$(basename "$t")
    case "$name" in *${TESTS:-}*) ;; *) continue ;; esac
    log=$logdir/$(basename "$t").log
    # shellcheck disable=SC2086  # the runner is a command and its options
    CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 ${TEST_RUNNER:-} "$t" > "$log" 2>&1
    count "$name" "$log" $?
done

has_store sqlite && for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    [ "$(basename "$t")" = lib.sh ] && continue   # helpers, not a test
    name=integration/$(basename "$t" .sh)
    case "$name" in *${TESTS:-}*) ;; *) continue ;; esac
    log=$logdir/$(basename "$t" .sh).log
    timeout 900 bash "$t" > "$log" 2>&1
    count "$name" "$log" $?
done

# PostgreSQL checks (tests/pg/*.sh, each on its own throw-away server;
# pg.sh is the harness they source, not a test; aggq_dialect.sh is a
# tool run by hand: it replays the whole PG_SET in SQLite mode, which the
# @pg runs below now check for real).
for t in tests/pg/*.sh; do
    [ -f "$t" ] || continue
    case "$(basename "$t")" in pg.sh|aggq_dialect.sh) continue ;; esac
    name=pg/$(basename "$t" .sh)
    case "$name" in *${TESTS:-}*) ;; *) continue ;; esac
    log=$logdir/pg-$(basename "$t" .sh).log
    timeout 900 bash "$t" > "$log" 2>&1
    count "$name" "$log" $?
done

# The fault-injection suite, short form (tests/fault/NN_*.sh; see
# docs/RELIABILITY.md). Figures of each run go to $logdir/fault-figures.
has_store sqlite && for t in tests/fault/[0-9][0-9]_*.sh; do
    [ -f "$t" ] || continue
    case "$t" in */[0-9][0-9]_pg_*) continue ;; esac   # PostgreSQL only
    name=fault/$(basename "$t" .sh)
    case "$name" in *${TESTS:-}*) ;; *) continue ;; esac
    log=$logdir/fault-$(basename "$t" .sh).log
    case "$logdir" in /*) figs=$logdir ;; *) figs=$top/$logdir ;; esac
    FAULT_FIGURES=$figs/fault-figures timeout 600 bash "$t" > "$log" 2>&1
    count "$name" "$log" $?
done

# The PostgreSQL runs: PG_SET, then the PostgreSQL-only scenarios.
has_store pg && for base in $PG_SET $(ls tests/fault/[0-9][0-9]_pg_*.sh 2>/dev/null | sed 's|^tests/||; s|\.sh$||'); do
    t=tests/$base.sh
    [ -f "$t" ] || { echo "run.sh: PG_SET names $t, which does not exist" >&2; fail=$((fail + 1)); continue; }
    name=$base@pg
    case "$name" in *${TESTS:-}*) ;; *) continue ;; esac
    log=$logdir/pg-$(echo "$base" | tr / -).log
    case "$logdir" in /*) figs=$logdir ;; *) figs=$top/$logdir ;; esac
    case "$base" in fault/*) to=600 ;; *) to=900 ;; esac
    CDS_TEST_STORE=pg FAULT_FIGURES=$figs/fault-figures-pg timeout "$to" bash "$t" > "$log" 2>&1
    count "$name" "$log" $?
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
if [ "$skip" != 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
