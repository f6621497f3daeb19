#!/bin/bash
# The backup/restore drill (docs/OPERATIONS.md "Backup and restore"):
# agents sync, an online `backup` while the aggregator runs, more syncs,
# stop, `restore`; `run` refuses naming accept-restore; `accept-restore`;
# run; agents sync again; the updates acked after the backup come back:
# the agents resend the signed batches they kept (docs/RELIABILITY.md
# "Resend from"), `restores` lists each range as recovered, everything is
# there once, `verify` is clean. Also: no overwrite without --force, the
# daemon lock, a damaged backup refused, owners kept, a missing mark, and
# agents that keep nothing (keep_days = 0): their loss is recorded.
. "$(dirname "$0")/lib.sh"
echo "1..46"
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

# -- acked after the backup: the restore loses these, the agents keep them --
gen_csv "$T/B1.csv" 27928 50 100 0; gen_csv "$T/B2.csv" 27901 50 100 0
agent a1 import "$T/B1.csv" > /dev/null; agent a2 import "$T/B2.csv" > /dev/null
check "50 more each delivered and acked" wait_for 60 drained
kept() { agent "$1" status --json | python3 -c 'import json, sys; k = json.load(sys.stdin)["kept"]; sys.exit(not (k["count"] > 0 and k["last_seq"] == int(sys.argv[1]) and k["bytes"] > 0))' "$2"; }
check "status --json: a1 keeps its signed batches up to seq 3150" kept a1 3150
check "status: a2 keeps its signed batches up to seq 150" \
    sh -c "'$AGENT' -c '$T/a2/agent.ini' status | grep -q '^kept: .*seq 1\.\.150 '"

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
agg agg accept-restore --note "drill" > "$T/accept.out"; st=$?
expect_eq "accept-restore" "$st" 0
check "... naming each agent's applied seq in the restored copy" \
    grep -q 'label="a2" applied_seq=100:' "$T/accept.out"
expect_eq "the mark stays the database owner's" "$(stat -c %u "$db.commitmark")" 65534

# -- back in service ------------------------------------------------------
agg_start agg
gen_csv "$T/C1.csv" 27928 20 150 0; gen_csv "$T/C2.csv" 27901 20 150 0
agent a1 import "$T/C1.csv" > /dev/null; agent a2 import "$T/C2.csv" > /dev/null
check "agents sync again after the restore" wait_for 60 drained
agg agg accept-restore > /dev/null 2>&1; st=$?
expect_eq "accept-restore refused while the daemon runs (exit 4)" "$st" 4
back() { [ "$(agg agg restores | grep -c -e 'seq=3101\.\.3150 .* recovered=50 not_recovered=0$' -e 'seq=101\.\.150 .* recovered=50 not_recovered=0$')" = 2 ]; }
check "restores lists each agent's 50 post-backup updates as recovered" wait_for 30 back
expect_eq "history: everything acked, before and after the backup, + 20 each, each once" \
    "$(sqlq "$db" "SELECT count(*), count(DISTINCT agent_id || ':' || seq), max(seq) FROM update_log;")" "3340|3340|3170"
check "the agents resent their kept batches" grep -q 'event=batch_resent' "$T/a1/log" "$T/a2/log"
agg agg verify > "$T/verify.out"; st=$?
expect_eq "verify: clean (nothing lost)" "$st" 0
agg_stop agg

# -- no mark at all: restore writes one, so run still refuses --------------
rm -f "$db.commitmark"
check "restore without a mark" agg agg restore "$B"
timeout 20 "$AGG" -c "$T/agg/aggregator.ini" run > "$T/refused2.log" 2>&1; st=$?
check "run refuses until accept-restore (exit $st)" grep -q "accept-restore" "$T/refused2.log"

# -- the old way (copy the file, delete the mark), agents keeping nothing --
# run adopts the copy (no mark), agents hold acks it lacks and no kept
# batch to resend (keep_days = 0 prunes them at start); `health` must say
# so (AHEAD, critical) with the fix, and the fix must work.
rm -f "$db.commitmark"
for a in a1 a2; do agent_stop $a; printf 'heartbeat_ms = 200\nkeep_days = 0\n' >> "$T/$a/agent.ini"; agent_start $a; done
check "keep_days = 0: nothing kept" wait_for 15 sh -c "'$AGENT' -c '$T/a1/agent.ini' status | grep -q '^kept: *none'"
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
agg agg restores > "$T/restores2.out"; diag "restores: $(tr '\n' ' ' < "$T/restores2.out" | cut -c1-600)"
expect_eq "restores (the copy's own event 1): both ranges not recovered" \
    "$(grep '^lost restore=1 ' "$T/restores2.out" | grep -c 'recovered=0 not_recovered=70$')" 2
exit $FAILED
