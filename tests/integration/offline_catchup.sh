#!/bin/bash
# Done-when 2: with the aggregator down an agent queues 10,000 updates; when
# it comes up all arrive exactly once and the outbox empties.
. "$(dirname "$0")/lib.sh"
echo "1..6"
agg_init agg
agent_init a1 27868-2025
agent_start a1          # the daemon runs, the aggregator does not yet

okq=0
for f in 0 1 2 3 4 5 6 7 8 9; do
    gen_csv "$T/part$f.csv" 27868-2025 1000 $((f * 1000))
    agent a1 import "$T/part$f.csv" > /dev/null || okq=1
done
expect_eq "10 files of 1,000 rows queued while offline" "$okq" 0
expect_eq "outbox holds 10,000 updates" "$(agent_depth a1)" 10000

agg_start agg
check "outbox empties after the aggregator comes up" wait_for 120 outbox_empty a1
db=$(agg_db agg)
expect_eq "10,000 updates in history, each (agent, seq) once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM update_log;")" \
    "10000|10000|1|10000"
expect_eq "all applied, none rejected" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE status = 0;")" 10000
expect_eq "current table has the 10,000 distinct keys" \
    "$(aggq agg "SELECT count(*) FROM datavalue WHERE org_unit = '27868-2025';")" 10000
