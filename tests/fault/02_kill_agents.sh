#!/bin/bash
# Scenario 2: kill -9 of agents at random moments, while importing (the
# CLI killed mid-import: all or nothing is queued) and while sending (the
# daemon killed mid-stream, then restarted).
. "$(dirname "$0")/lib.sh"
KILLS=$((8 * FAULT_SCALE)); ROWS=$((2000 * FAULT_SCALE))
agg_init agg
for i in 1 2 3 4; do fagent_init "a$i" "$([ $i -le 2 ] && echo 27907 || echo 27910)" || not_ok "init a$i"; done
# 1. kill -9 of `import` at random moments (no daemon running, so the
# outbox depth shows exactly what the killed import left behind).
# Calibrate: how long one import of ROWS takes here (ms); kills land at a
# random moment inside that time.
gen_csv "$T/cal.csv" 27907 "$ROWS" 90000 0
t0=$(date +%s%N); fimport a1 "$T/cal.csv" > /dev/null; t1=$(date +%s%N)
imp_ms=$(((t1 - t0) / 1000000 + 1)); diag "one import of $ROWS rows takes $imp_ms ms"
partial=0; done_n=0
for k in $(seq 1 "$KILLS"); do
    a=a$((1 + $(rnd 4)))
    ou=$(sed -n 's/^org_units = //p' "$T/$a/agent.ini")
    gen_csv "$T/imp$k.csv" "$ou" "$ROWS" $((k * 100)) "$k"
    d0=$(agent_depth "$a")
    "$AGENT" -c "$T/$a/agent.ini" import "$T/imp$k.csv" > "$T/imp$k.out" 2>&1 &
    ip=$!
    sleep "$(awk -v ms="$(rnd "$imp_ms")" 'BEGIN {printf "%.3f", ms / 1000}')"
    kill -9 "$ip" 2>/dev/null; fault "kill -9 of import into $a"
    wait "$ip" 2>/dev/null
    grep -q '^queued' "$T/imp$k.out" && echo "$a $(sed -n 's/^queued [0-9]* updates (seq \([0-9]*\)\.\.\([0-9]*\))$/\1 \2/p' "$T/imp$k.out")" >> "$T/cli_acked"
    d1=$(agent_depth "$a")
    case $((d1 - d0)) in 0) ;; "$ROWS") done_n=$((done_n + 1)) ;; *) partial=$((partial + 1)); diag "$a: import killed left $((d1 - d0)) of $ROWS rows" ;; esac
done
expect_eq "a killed import queues all or nothing" "$partial" 0
diag "$done_n of $KILLS killed imports had committed before the kill"
# 2. kill -9 of agent daemons while sending.
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
load 1 $((300 * FAULT_SCALE))
for k in $(seq 1 "$KILLS"); do
    a=a$((1 + $(rnd 4)))
    sleep "0.$(rnd 5)$(rnd 10)"
    agent_kill9 "$a"; fault "kill -9 of agent $a while sending (depth $(agent_depth "$a"))"
    [ $((k % 3)) = 0 ] && load $((k + 1)) $((100 * FAULT_SCALE))
    agent_start "$a"
done
check "outboxes drain" wait_for 90 drained_all
finish "agents killed: no loss, no duplicate, nothing partial"
