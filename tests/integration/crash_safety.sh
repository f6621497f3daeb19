#!/bin/bash
# Done-when 3: kill -9 of the aggregator during ingest of 50,000 updates from
# several agents, and kill -9 of an agent while sending, then restart: every
# update present exactly once, no (agent, seq) twice, no outbox row lost.
. "$(dirname "$0")/lib.sh"
echo "1..14"
AGENTS="c1 c2 c3 c4 c5"
# Tây Ninh units (from 2025-07): 10,000 distinct monthly keys each fit in
# their lifetime (gen_csv); an old commune has only 4,518. The province is
# in no data set: the agents' catalog is a copy without datasets.csv
# beside it (the same bytes: the same catalog version).
OUS="27898-2025 27907-2025 27925-2025 27868-2025 80-2025"
agg_init agg
mkdir -p "$T/cat"; cp "$CATALOG" "$T/cat/catalog.csv"
set -- $OUS
for a in $AGENTS; do
    agent_init "$a" "$1"
    sed -i "s#^catalog = .*#catalog = $T/cat/catalog.csv#" "$T/$a/agent.ini"
    for f in 0 1 2 3 4 5 6 7 8 9; do
        gen_csv "$T/$a-$f.csv" "$1" 1000 $((f * 1000)) $((f * 3))
        agent "$a" import "$T/$a-$f.csv" > /dev/null || not_ok "import $a $f"
    done
    # The expected final table for this agent's org unit (last file wins: keys are distinct).
    cat "$T"/$a-*.csv | grep -v '^dataelement' | awk -F, '{print $3","$1","$2","$6}' | sort > "$T/$a.want"
    shift
done
total=0; for a in $AGENTS; do total=$((total + $(agent_depth "$a"))); done
expect_eq "50,000 updates queued across 5 agents" "$total" 50000

db=$(agg_db agg)
applied() { aggq agg "SELECT count(*) FROM update_log;" 2>/dev/null || echo 0; }
above() { [ "$(applied)" -ge "$1" ]; }

for a in $AGENTS; do agent_start "$a"; done
agg_start agg
kills=0
for thr in 4000 15000 27000; do
    if wait_for 120 above $thr; then
        agg_kill9 agg; kills=$((kills + 1))
        diag "aggregator killed at $(applied) applied"
        agg_start agg
    fi
done
expect_eq "aggregator killed three times mid-ingest" "$kills" 3

# kill -9 one agent while it is sending, then restart it.
depth_below() { [ "$(agent_depth c3)" -lt "$1" ]; }
if wait_for 120 depth_below 9000; then agent_kill9 c3; ok "agent c3 killed while sending"; else not_ok "agent c3 never started sending"; fi
agent_start c3
agg_kill9 agg; agg_start agg    # and once more while agents resend

for a in $AGENTS; do check "outbox of $a drains" wait_for 180 outbox_empty "$a"; done
expect_eq "history: 50,000 rows, no (agent, seq) twice" \
    "$(aggq agg "SELECT count(*), count(DISTINCT agent_id || ':' || seq) FROM update_log;")" "50000|50000"
expect_eq "every agent's seqs 1..10000 present" \
    "$(aggq agg "SELECT group_concat(c, ' ') FROM (SELECT count(*) || '/' || min(seq) || '-' || max(seq) AS c FROM update_log GROUP BY agent_id) AS x;")" \
    "10000/1-10000 10000/1-10000 10000/1-10000 10000/1-10000 10000/1-10000"
bad=0
set -- $OUS
for a in $AGENTS; do
    aggq agg "SELECT org_unit || ',' || indicator || ',' || period || ',' || value FROM datavalue WHERE org_unit = '$1';" | sort > "$T/$a.got"
    cmp -s "$T/$a.got" "$T/$a.want" || { bad=1; diag "$a differs: $(diff "$T/$a.want" "$T/$a.got" | head -5)"; }
    shift
done
expect_eq "consolidated values equal what each commune queued" "$bad" 0
# (SQLite's own check of its file; a PostgreSQL store has none to run.)
if [ "$CDS_TEST_STORE" = sqlite ]; then
    expect_eq "aggregator database passes integrity_check" "$(aggq agg "PRAGMA integrity_check;")" ok
fi
