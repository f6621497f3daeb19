#!/bin/bash
# Scenario 1: kill -9 of the aggregator at random moments (>= 10 times in
# one run) during ingest from 20 agents. Agents keep importing between the
# kills, and share org units, so keys collide and the last-writer-wins
# replay is checked too.
. "$(dirname "$0")/lib.sh"

NA=20; PER=$((40 * FAULT_SCALE)); KILLS=$((10 * FAULT_SCALE))
OUS=(27898 27901 27904 27907 27910 27913 27916 27919 27922 27925)
agg_init agg
for i in $(seq 1 $NA); do fagent_init "a$i" "${OUS[$((i % 10))]}" || not_ok "init a$i"; done
db=$(agg_db agg)
applied() { aggq agg "SELECT count(*) FROM update_log;" 2>/dev/null || echo 0; }
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
kills=0; total=0
while [ $kills -lt $KILLS ]; do
    # Load arrives: a chunk imported by every agent (overlapping keys).
    for i in $(seq 1 $NA); do
        gen_csv "$T/a$i-$kills.csv" "${OUS[$((i % 10))]}" "$PER" $((kills * 7)) $((i + kills))
        fimport "a$i" "$T/a$i-$kills.csv" > /dev/null && total=$((total + PER))
    done
    sleep "0.$(rnd 5)$(rnd 10)"          # a random moment during ingest
    n=$(applied)
    agg_kill9 agg; kills=$((kills + 1)); fault "aggregator kill -9 at $n/$total applied"
    agg_start agg
done
expect_eq "aggregator killed $KILLS times during ingest" "$kills" "$KILLS"
check "all 20 outboxes drain after the kills" wait_for $((60 * FAULT_SCALE)) drained_all
expect_eq "history holds every update" "$(applied)" "$total"
for a in $FAGENTS; do agent_stop "$a"; done
agg_stop agg
run_checker
echo "1..$TESTNO"
