#!/bin/bash
# make chaos: every fault scenario at a larger size (FAULT_SCALE, default
# 4: the issue's full durations where the short form scales them down),
# each with its seed printed and re-runnable:
#     make chaos SEED=1234            one seed for every scenario
#     SEED=1234 FAULT_SCALE=4 bash tests/fault/05_partition.sh
# Ends with the totals (faults injected, updates checked, lost, duplicated)
# and fails unless every scenario passed and >= 100 faults were injected.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd); cd "$top" || exit 2
export BUILD=${BUILD:-build} FAULT_SCALE=${FAULT_SCALE:-4}
logs=$top/$BUILD/chaos-logs; rm -rf "$logs"; mkdir -p "$logs"
export FAULT_FIGURES=$logs/figures
failed=""
# The session model test at chaos size (tests/unit/session_model_test.c).
SESSION_SCHEDULES=${SESSION_SCHEDULES:-20000} "$BUILD/tests/session_model_test" \
    > "$logs/session_model.log" 2>&1 || failed="$failed session_model"
grep '^# ' "$logs/session_model.log" | tail -1
for t in tests/fault/[0-9][0-9]_*.sh; do
    n=$(basename "$t" .sh)
    seed=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    start=$(date +%s)
    SEED=$seed timeout 1800 bash "$t" > "$logs/$n.log" 2>&1; st=$?
    f=$(grep -c '^not ok' "$logs/$n.log")
    if [ "$st" != 0 ] || [ "$f" != 0 ]; then failed="$failed $n"; r=FAIL; else r=ok; fi
    printf '%-4s %-24s seed %-6s %4ss  %s\n' "$r" "$n" "$seed" $(($(date +%s) - start)) \
        "$(grep '^# checker: queued' "$logs/$n.log" | tail -1 | sed 's/^# checker: //')"
done
awk '{
    for (i = 1; i <= NF; i++) {
        v = $(i + 1); gsub(",", "", v)
        if ($i == "faults") faults += v; if ($i == "queued") q += v
        if ($i == "lost") lost += v; if ($i == "duplicated") dup += v
        if ($i == "undelivered") und += v
    }
} END { printf "chaos: faults %d, updates checked %d, lost %d, duplicated %d, undelivered %d\n", faults, q, lost, dup, und
        exit !(faults >= 100 && lost == 0 && dup == 0) }' "$FAULT_FIGURES"; ok=$?
[ -n "$failed" ] && echo "chaos: failed:$failed (logs: $logs)"
[ -z "$failed" ] && [ "$ok" = 0 ]
