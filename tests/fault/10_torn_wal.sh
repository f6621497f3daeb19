#!/bin/bash
# Scenario 10: damaged aggregator storage. (a) A corrupted page in the
# database file: startup must detect it (quick_check), refuse to run with a
# clear message, and the agents keep their outboxes (nothing is acked by an
# aggregator that does not run); restoring the last good copy recovers.
# (b) A torn WAL: the aggregator killed mid-ingest, then its -wal file
# truncated at a frame boundary just before the commit frame of its last
# acknowledged group commit (the one that bumped commit_mark). SQLite reads
# that as a valid older state; the commit mark (aggregator/core/commitmark.h)
# must make startup refuse, the agents keep their outboxes, and after
# `accept-restore` the system runs again: the acked updates the torn WAL
# lost are recorded per agent and come back, the agents resending the
# signed batches they kept (docs/RELIABILITY.md "Resend from"): nothing
# lost, nothing duplicated, nothing excused.
. "$(dirname "$0")/lib.sh"
agg_init agg
for i in 1 2; do fagent_init "a$i" 27901 || not_ok "init a$i"; done
db=$(agg_db agg)
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
load 1 $((500 * FAULT_SCALE))
check "first load delivered" wait_for 60 drained_all
agg_stop agg
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
cp "$db" "$T/good.db"
# (a) Overwrite the header and cell pointers of a b-tree page of update_log
# with garbage (garbage in free space would be harmless and undetectable).
pgsz=$(sqlq "$db" "PRAGMA page_size;")
pg=$(sqlite3 "$db" "SELECT max(pageno) FROM dbstat WHERE name = 'update_log';" 2>/dev/null)
[ -n "$pg" ] || pg=$(($(stat -c %s "$db") / pgsz - 2))
printf 'cdsync-fault-injection-garbage%.0s' $(seq 1 40) | dd of="$db" bs=1 seek=$(( (pg - 1) * pgsz )) conv=notrunc 2>/dev/null
fault "page $pg of the aggregator database overwritten"
load 2 $((200 * FAULT_SCALE))
"$AGG" -c "$T/agg/aggregator.ini" run > "$T/agg/refused.log" 2>&1 &
rp=$!
dead() { ! kill -0 "$rp" 2>/dev/null; }
if wait_for 20 dead; then wait "$rp"; st=$?; else kill -9 "$rp"; st=running; fi
# (one function: `check NAME [ a ] && [ b ]` would test only [ a ])
refused() { [ "$st" != 0 ] && [ "$st" != running ]; }
check "startup refuses a corrupted database (exit $st)" refused
diag "it said: $(grep -v 'level=info' "$T/agg/refused.log" | tail -2 | tr '\n' ' ' | cut -c1-300)"
check "the refusal names the integrity check" grep -qi "integrity" "$T/agg/refused.log"
kept=0; for a in $FAGENTS; do [ "$(agent_depth "$a")" = $((200 * FAULT_SCALE)) ] && kept=$((kept + 1)); done
expect_eq "agents keep their outboxes while it refuses" "$kept" 2
cp "$T/good.db" "$db"; rm -f "$db-wal" "$db-shm"
agg_start agg; diag "last good copy restored"
check "outboxes drain after the restore" wait_for 60 drained_all
run_checker "corrupt page: refused, restored, no loss, no duplicate"
# (b) torn WAL: a load delivered and acked (outboxes empty), then kill -9
# (no checkpoint at close hides the WAL).
agg_stop agg
markpg=$(sqlq "$db" "SELECT rootpage FROM sqlite_master WHERE name = 'commit_mark';")
# Not scaled: 1,000 rows per agent stay well under the 1,000 WAL pages
# that wake a checkpoint (cds_ckpt.h), so the commit cut below is still
# only in the WAL, as it would be on a real torn write.
load 3 1000
agg_start agg
check "load 3 delivered and acked" wait_for 60 drained_all
agg_kill9 agg
# What the aggregator had really stored at the kill, before the "disk"
# loses anything: every ack it sent must be in there.
mkdir -p "$T/untorn"; cp "$db" "$db-wal" "$T/untorn/"
for a in $FAGENTS; do harvest "$a"; done
out=$(sh "$FDIR/checker.sh" "$T/untorn/$(basename "$db")" "$T/acked.db" "$T/cli_acked" 2>&1 | tail -1)
diag "at the kill: $out"
echo "$out" | grep -q ' lost 0, .*duplicated 0, phantom 0, corrupt 0, table 0,' \
    && ok "at the kill: nothing acked that was not stored" \
    || not_ok "at the kill: nothing acked that was not stored"
wal=$(stat -c %s "$db-wal"); frame=$((24 + pgsz))
frames=$(( (wal - 32) / frame ))
# The commit frame of the last transaction that wrote the commit_mark
# page, within the current WAL generation (header salt).
cut=$(python3 - "$db-wal" "$pgsz" "$markpg" <<'PY'
import struct, sys
p, ps, mp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = open(p, 'rb').read(); n = (len(d) - 32) // (24 + ps)
salt = d[16:24]                  # frames of an older WAL generation differ
cut, marked = -1, False
for i in range(n):
    h = d[32 + i * (24 + ps):32 + i * (24 + ps) + 24]
    if h[8:16] != salt:
        break
    marked = marked or struct.unpack('>I', h[0:4])[0] == mp
    if struct.unpack('>I', h[4:8])[0]:
        if marked:
            cut = i
        marked = False
print(cut)
PY
)
if [ "$cut" -lt 0 ]; then not_ok "the WAL holds a marked group commit"; cut=0; fi
truncate -s $((32 + cut * frame)) "$db-wal"
fault "WAL of $frames frames truncated at frame $cut (the commit frame of the last acked group)"
"$AGG" -c "$T/agg/aggregator.ini" run > "$T/agg/torn.log" 2>&1 &
rp=$!
if wait_for 20 dead; then wait "$rp"; st=$?; else kill -9 "$rp"; st=running; fi
check "startup refuses the torn WAL (exit $st)" refused
diag "it said: $(grep -v 'level=info' "$T/agg/torn.log" | tail -1 | cut -c1-400)"
check "the refusal names both counters and accept-restore" \
    grep -q "behind the commit mark.*acknowledged.*accept-restore" "$T/agg/torn.log"
# Agents keep what is not acked while it refuses (and queue more).
before=""; for a in $FAGENTS; do before="$before $(agent_depth "$a")"; done
load 4 $((200 * FAULT_SCALE))
kept=0; set -- $before
for a in $FAGENTS; do
    [ "$(agent_depth "$a")" -ge $(($1 + 200 * FAULT_SCALE)) ] && kept=$((kept + 1)); shift
done
expect_eq "agents keep their outboxes while it refuses" "$kept" 2
accept() { agg agg accept-restore --note "fault test 10b" > "$T/agg/accept.out" 2>&1 \
               && grep -q "^accepted restore 1 (behind)" "$T/agg/accept.out"; }
check "accept-restore records the event" accept
diag "accept-restore said: $(head -c 300 "$T/agg/accept.out")"
agg_start agg
check "outboxes drain after accept-restore" wait_for 90 drained_all
load 5 $((100 * FAULT_SCALE))
check "agents keep syncing new updates after it" wait_for 60 drained_all
agg agg restores > "$T/agg/restores.out" 2>&1
diag "restores: $(tr '\n' ' ' < "$T/agg/restores.out" | cut -c1-400)"
# The missing ranges are visible, per agent, in the database, the log and
# `restores` (as recovered); those ranges (and only those) would be
# excused below, yet every row in them must be back.
sqlite3 "$T/acked.db" "ATTACH '$db' AS g; INSERT INTO excused
    SELECT a.label, l.first_seq, l.last_seq FROM g.restore_loss l
    JOIN g.agent a ON a.id = l.agent_id;"
nloss=$(sqlq "$db" "SELECT count(*) FROM restore_loss;")
nlog=$(grep -c 'event=acked_updates_resend' "$T/agg/log")
nlist=$(grep -c '^lost ' "$T/agg/restores.out")
listed() { [ "$nloss" -gt 0 ] && [ "$nlog" = "$nloss" ] && [ "$nlist" = "$nloss" ]; }
check "each missing range logged and listed ($nloss range(s))" listed
back() { [ "$(grep -c '^lost .* not_recovered=0$' "$T/agg/restores.out")" = "$nloss" ]; }
check "restores: every range recovered" back
grep -q '^restore 1 .*reason=behind' "$T/agg/restores.out" \
    && ok "restores lists the accepted event" || not_ok "restores lists the accepted event"
for a in $FAGENTS; do agent_stop "$a"; harvest "$a"; done
agg_stop agg
out=$(sh "$FDIR/checker.sh" "$db" "$T/acked.db" "$T/cli_acked" $(for a in $FAGENTS; do agent_db "$a"; done)); rc=$?
echo "$out"
check "torn WAL: after accept-restore only the recorded ranges are missing ($FAULTS faults)" [ "$rc" = 0 ]
check "the acked updates of the cut commit all came back (0 excused)" \
    grep -q ' lost 0, excused 0,' <<< "$out"
echo "$out" | tail -1 | sed "s/^# checker: /# figures: faults $FAULTS, /" >> "${FAULT_FIGURES:-/dev/null}"
echo "1..$TESTNO"
