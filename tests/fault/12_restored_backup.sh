#!/bin/bash
# Scenario 12: an agent's database restored from an old backup while other
# agents keep sending (same org unit: their writes interleave). The
# restored agent must not reuse a sequence number with other content: its
# new rows are renumbered after what the aggregator holds. The checker's
# record follows the renumbering (trigger on UPDATE OF seq).
. "$(dirname "$0")/lib.sh"
agg_init agg
for i in 1 2 3; do fagent_init "a$i" 27922 || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
N=$((200 * FAULT_SCALE))
backup_pending a1 27922 "$N"
gen_csv "$T/C.csv" 27922 "$N" $((2 * N)) 1; fimport a1 "$T/C.csv" > /dev/null
for r in 1 2; do load "$r" "$N"; done                 # the others keep sending
check "all delivered before the disk dies" wait_for 60 drained_all
restore_backup a1                                    # harvests what a1 queued
gen_csv "$T/D.csv" 27922 "$N" $((10 * N)) 7; fimport a1 "$T/D.csv" > /dev/null  # reused local seqs
echo a1 >> "$T/renumbered.txt"; sqlite3 "$T/acked.db" "INSERT INTO renumbered VALUES ('a1');"
agent_start a1
for r in 3 4; do load "$r" "$N"; done
check "every outbox drains after the restore" wait_for 60 drained_all
expect_eq "no equivocation raised" "$(aggq agg "SELECT count(*) FROM reject;")" 0
no_content_twice
finish "restored backup: no seq reused, nothing lost"
