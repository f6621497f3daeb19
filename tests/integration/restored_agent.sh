#!/bin/bash
# Done-when 4: an agent whose database is replaced by an older copy
# reconnects without reusing a sequence number and without losing or
# duplicating data — even when it queued new values before reconnecting.
. "$(dirname "$0")/lib.sh"
echo "1..9"
agg_init agg
agent_init a1 27928
agg_start agg
db=$(agg_db agg)

gen_csv "$T/A.csv" 27928 300 0 0
agent a1 import "$T/A.csv" > /dev/null
agent_start a1
check "first 300 delivered" wait_for 60 outbox_empty a1
agent_stop a1
gen_csv "$T/B.csv" 27928 100 300 0
agent a1 import "$T/B.csv" > /dev/null           # seq 301..400, not yet sent
sqlite3 "$(agent_db a1)" ".backup '$T/backup.db'"   # the old backup
expect_eq "backup holds 100 pending rows" "$(sqlq "$T/backup.db" "SELECT count(*) FROM outbox;")" 100

agent_start a1
gen_csv "$T/C.csv" 27928 200 400 0
agent a1 import "$T/C.csv" > /dev/null           # seq 401..600
check "400 more delivered" wait_for 60 outbox_empty a1
agent_stop a1
expect_eq "aggregator applied 600" "$(aggq agg "SELECT max(seq) FROM update_log;")" 600

# Disk dies; the commune restores last month's backup, and an officer
# enters new values before the link comes back.
rm -f "$(agent_db a1)" "$(agent_db a1)-wal" "$(agent_db a1)-shm"
cp "$T/backup.db" "$(agent_db a1)"
gen_csv "$T/D.csv" 27928 100 1000 500
agent a1 import "$T/D.csv" > /dev/null           # locally seq 401..500 again
agent_start a1
check "restored agent drains" wait_for 60 outbox_empty a1

expect_eq "history: 700 updates, seqs 1..700, each once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM update_log;")" "700|700|1|700"
expect_eq "no equivocation was raised" \
    "$(aggq agg "SELECT count(*) FROM reject;")" 0
# Every value ever queued is in the consolidated table (all keys distinct).
cat "$T"/[ABCD].csv | grep -v '^dataelement' | awk -F, '{print $3","$1","$2","$6}' | sort > "$T/want"
aggq agg "SELECT org_unit || ',' || indicator || ',' || period || ',' || value FROM datavalue;" | sort > "$T/got"
check "consolidated table holds all 700 values exactly" cmp -s "$T/want" "$T/got"
expect_eq "the renumbered rows came after 600" \
    "$(aggq agg "SELECT min(seq) FROM update_log WHERE comment = 'row 1000, generated';")" 601
