#!/bin/bash
# The backup/restore drill (docs/OPERATIONS.md "Backup and restore"):
# agents sync, an online `backup` while the aggregator runs, more syncs,
# stop, `restore`; `run` refuses naming accept-restore; `accept-restore`;
# run; agents sync again; the updates acked after the backup are listed by
# `restores` as lost (the agents no longer hold them), everything else is
# there once, `verify` is clean. Also: no overwrite without --force, the
# daemon lock, a damaged backup refused, owners kept, a missing mark.
. "$(dirname "$0")/lib.sh"
echo "1..41"
agg_init agg
agent_init a1 27928
agent_init a2 27901
db=$(agg_db agg)
B=$T/bk/agg.db; mkdir -p "$T/bk"
agg_start agg
for a in a1 a2; do agent_start $a; done
drained() { outbox_empty a1 && outbox_empty a2; }

gen_csv "$T/A1.csv" 27928 100 0 0; gen_csv "$T/A2.csv" 27901 100 0 0
agent a1 import "$T/A1.csv" > /dev/null; agent a2 import "$T/A2.csv" > /dev/null
check "first 200 delivered" wait_for 60 drained

# -- backup while the aggregator runs --------------------------------------
# A copy taken while agents push is one consistent snapshot.
gen_csv "$T/L1.csv" 27928 3000 5000 0; agent a1 import "$T/L1.csv" > /dev/null
check "a backup during a load succeeds" agg agg backup "$T/bk/load.db"
diag "the copy holds $(sqlq "$T/bk/load.db" "SELECT count(*) FROM update_log;") of 3200 rows"
expect_eq "... and passes the integrity check" "$(sqlq "$T/bk/load.db" "PRAGMA integrity_check;")" ok
check "the load is delivered" wait_for 60 drained
check "backup while running succeeds" agg agg backup "$B"
ls_modes() { stat -c %a "$B" "$B.identity" "$B.catalog.csv" "$B.manifest" | tr '\n' ' '; }
expect_eq "four files, mode 0600" "$(ls_modes)" "600 600 600 600 "
expect_eq "the copy holds what was acked" "$(sqlq "$B" "SELECT count(*) FROM update_log;")" 3200
expect_eq "manifest counter = the copy's commit counter" \
    "$(sed -n 's/^commit_counter=//p' "$B.manifest")" "$(sqlq "$B" "SELECT counter FROM commit_mark;")"
expect_eq "manifest digest of the database" \
    "$(sed -n 's/^sha256 database //p' "$B.manifest")" "$(sha256sum "$B" | cut -d' ' -f1)"
check "the identity copy is the identity" cmp -s "$B.identity" "$T/agg/state/aggregator.key"
agg agg backup "$B" > /dev/null 2> "$T/over.err"; st=$?
expect_eq "an existing FILE is not overwritten (exit 1)" "$st" 1
check "... and the refusal names --force" grep -q -- "--force" "$T/over.err"
check "--force overwrites" agg agg backup "$B" --force
agg agg backup "$db" --force > /dev/null 2> "$T/live.err"; st=$?
expect_eq "the live database is never a backup target (exit 1)" "$st $(grep -c 'live database' "$T/live.err")" "1 1"

# -- acked after the backup: these are what the restore loses ---------------
gen_csv "$T/B1.csv" 27928 50 100 0; gen_csv "$T/B2.csv" 27901 50 100 0
agent a1 import "$T/B1.csv" > /dev/null; agent a2 import "$T/B2.csv" > /dev/null
check "50 more each delivered and acked" wait_for 60 drained

agg agg restore "$B" > /dev/null 2> "$T/busy.err"; st=$?
expect_eq "restore refused while the daemon runs (exit 4)" "$st" 4
check "... naming the running aggregator" grep -q "running" "$T/busy.err"
agg_stop agg
mark_sum=$(sha256sum < "$db.commitmark")

# A damaged backup is refused and changes nothing.
mkdir -p "$T/bad"; for f in "$B"*; do cp "$f" "$T/bad/"; done
printf 'X' | dd of="$T/bad/agg.db" bs=1 seek=5000 conv=notrunc 2>/dev/null
db_sum=$(sha256sum < "$db")
agg agg restore "$T/bad/agg.db" > /dev/null 2> "$T/bad.err"; st=$?
expect_eq "a damaged backup is refused (exit 4)" "$st" 4
check "... naming the digest" grep -q "differs from the manifest" "$T/bad.err"
expect_eq "... and the database is untouched" "$(sha256sum < "$db")" "$db_sum"

# -- restore, owned like the files it replaces ------------------------------
chown 65534:65534 "$db"; chmod 640 "$db"
check "restore succeeds" agg agg restore "$B"
expect_eq "the restored database keeps the owner and mode" "$(stat -c '%u %a' "$db")" "65534 640"
expect_eq "the daemon lock file is the database owner's" "$(stat -c %u "$db.lock")" 65534
expect_eq "the commit mark is untouched" "$(sha256sum < "$db.commitmark")" "$mark_sum"
check "the replaced database is kept" test -s "$db.pre-restore"
timeout 20 "$AGG" -c "$T/agg/aggregator.ini" run > "$T/refused.log" 2>&1; st=$?
expect_eq "run refuses the restored database (exit 4)" "$st" 4
check "... saying it is behind its mark and naming accept-restore" \
    grep -q "behind the commit mark.*accept-restore" "$T/refused.log"
chown 65534:65534 "$db.commitmark"
check "accept-restore" agg agg accept-restore --note "drill"
expect_eq "the mark stays the database owner's" "$(stat -c %u "$db.commitmark")" 65534

# -- back in service ------------------------------------------------------
agg_start agg
gen_csv "$T/C1.csv" 27928 20 150 0; gen_csv "$T/C2.csv" 27901 20 150 0
agent a1 import "$T/C1.csv" > /dev/null; agent a2 import "$T/C2.csv" > /dev/null
check "agents sync again after the restore" wait_for 60 drained
agg agg accept-restore > /dev/null 2>&1; st=$?
expect_eq "accept-restore refused while the daemon runs (exit 4)" "$st" 4
lost() { [ "$(agg agg restores | grep -c -e 'seq=3101\.\.3150' -e 'seq=101\.\.150')" = 2 ]; }
check "restores lists each agent's 50 post-backup updates as lost" wait_for 30 lost
expect_eq "history: all acked before the backup + 20 each after, each once" \
    "$(sqlq "$db" "SELECT count(*), count(DISTINCT agent_id || ':' || seq), max(seq) FROM update_log;")" "3240|3240|3170"
agg agg verify > "$T/verify.out"; st=$?
expect_eq "verify: the only problems are the two lost ranges" \
    "$st $(grep -c . "$T/verify.out") $(grep -c -e 'seq=3101\.\.3150 problem=missing_rows' -e 'seq=101\.\.150 problem=missing_rows' "$T/verify.out")" "1 3 2"
agg_stop agg

# -- no mark at all: restore writes one, so run still refuses --------------
rm -f "$db.commitmark"
check "restore without a mark" agg agg restore "$B"
timeout 20 "$AGG" -c "$T/agg/aggregator.ini" run > "$T/refused2.log" 2>&1; st=$?
check "run refuses until accept-restore (exit $st)" grep -q "accept-restore" "$T/refused2.log"

# -- the old way (copy the file, delete the mark): agents are stuck --------
# run adopts the copy (no mark), agents hold acks it lacks; `health` must
# say so (AHEAD, critical) with the fix, and the fix must work.
rm -f "$db.commitmark"
for a in a1 a2; do agent_stop $a; echo "heartbeat_ms = 200" >> "$T/$a/agent.ini"; agent_start $a; done
agg_start agg
ahead() { agg agg health > "$T/health.out"; [ $? = 2 ] && [ "$(grep -c AHEAD "$T/health.out")" = 2 ]; }
check "health: both communes AHEAD, critical (exit 2)" wait_for 30 ahead
check "... naming the fix" grep -q "accept-restore --force" "$T/health.out"
agg_stop agg
check "accept-restore --force" agg agg accept-restore --force --note "stuck communes"
agg_start agg
gen_csv "$T/D1.csv" 27928 10 170 0; agent a1 import "$T/D1.csv" > /dev/null
check "agents sync again" wait_for 60 drained
healthy() { agg agg health > "$T/health2.out" && ! grep -q AHEAD "$T/health2.out"; }
check "health: OK again" wait_for 30 healthy
exit $FAILED
