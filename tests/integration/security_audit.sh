#!/bin/bash
# Issue 3, tamper-evident audit: `cdsync-aggregator verify` re-verifies the
# kept signed batches, the hash chains, the history and the current
# values. An untouched database verifies clean; each edit made behind the
# daemon's back (change a value, change / delete a history row, swap or
# alter a batch, invent a value) is named with agent, seq and field.
. "$(dirname "$0")/lib.sh"
# Create each agent's database before its daemon starts: a first open by
# the daemon and a `submit` at the same instant can race on the WAL switch.
prime() { for a in "$@"; do agent "$a" receipts > /dev/null 2>&1; done; }
echo "1..23"
agg_init agg
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
agent_init a1 27901
agent_init a2 27904
agg_start agg
prime a1 a2
agent_start a1
agent_start a2
db=$(agg_db agg)
for p in 01 02 03; do
    agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 2025$p --value 1$p > /dev/null
    wait_for 20 outbox_empty a1
done
gen_csv "$T/a2.csv" 27904 6
agent a2 import "$T/a2.csv" > /dev/null
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 7 > /dev/null
check "a1 delivered" wait_for 20 outbox_empty a1
check "a2 delivered" wait_for 20 outbox_empty a2
A1=$(sqlq "$db" "SELECT fpr FROM agent WHERE label = 'a1';")
A2=$(sqlq "$db" "SELECT fpr FROM agent WHERE label = 'a2';")
KEY=$T/agg/state/aggregator.key

# verify STATE_DIR: run verify on a database copy (or the live one).
verify() { "$AGG" -c "$T/agg/aggregator.ini" --state-dir "$1" --identity "$KEY" verify; }
out=$(verify "$T/agg/state"); rc=$?
diag "$(printf '%s\n' "$out" | tail -1)"
expect_eq "untouched database verifies clean (exit 0)" "$rc" 0
check "  ... having checked every batch, history row and value" \
    eval 'printf "%s" "$out" | grep -q "4 batches\|[1-9][0-9]* batches, 10 history rows, 9 values checked; 0 problems"'

# Behind the running daemon's back: change a current value.
sqlite3 "$db" "PRAGMA busy_timeout=5000; UPDATE datavalue SET value = '999' WHERE org_unit = '27901' AND period = '202502';" > /dev/null
out=$(verify "$T/agg/state"); rc=$?
expect_eq "changed value: verify fails" "$rc" 1
check "changed value: named (key, field, stored and expected)" \
    eval 'printf "%s" "$out" | grep -q "value org_unit=27901 indicator=TTHC_TONG period=202502 disagg=default field=value stored=999 expected=102"'
sqlite3 "$db" "PRAGMA busy_timeout=5000; UPDATE datavalue SET value = '102' WHERE org_unit = '27901' AND period = '202502';" > /dev/null
vq() { verify "$@" > /dev/null; }
check "repaired: clean again" vq "$T/agg/state"
agg_stop agg

# History and kept batches are append-only in the schema itself (store.h):
# the database refuses an edit of update_log or batch, whoever asks.
edit="UPDATE update_log SET value = '5' WHERE seq = 2 AND agent_id = (SELECT id FROM agent WHERE label = 'a1');"
if err=$(sqlite3 "$db" "$edit" 2>&1); then
    not_ok "the database refuses an edit of a history row (it was accepted)"
else
    check "the database refuses an edit of a history row" \
        eval 'printf "%s" "$err" | grep -q "update_log is append-only"'
fi
if err=$(sqlite3 "$db" "DELETE FROM batch WHERE id = (SELECT min(id) FROM batch);" 2>&1); then
    not_ok "the database refuses to delete a kept batch (it was deleted)"
else
    check "the database refuses to delete a kept batch" \
        eval 'printf "%s" "$err" | grep -q "batch is append-only"'
fi

# Each further edit on its own copy of the database. An attacker with the
# file can drop the append-only triggers first; so does each edit here,
# and verify must still find it.
UNGUARD="DROP TRIGGER IF EXISTS update_log_no_update; DROP TRIGGER IF EXISTS update_log_no_delete; DROP TRIGGER IF EXISTS batch_no_update; DROP TRIGGER IF EXISTS batch_no_delete;"
copy() { rm -rf "$T/c"; mkdir -p "$T/c"; sqlite3 "$db" ".backup $T/c/aggregator.db"; sqlite3 "$T/c/aggregator.db" "$UNGUARD $1" || diag "the edit of the copy failed: $1"; }
copy "$edit"
out=$(verify "$T/c"); rc=$?
expect_eq "changed history row: verify fails" "$rc" 1
check "changed history row: named (agent, seq, field)" \
    eval 'printf "%s" "$out" | grep -q "history agent=$A1 seq=2 batch=[0-9]* field=value stored=5 signed=102"'

copy "DELETE FROM update_log WHERE seq = 3 AND agent_id = (SELECT id FROM agent WHERE label = 'a2');"
out=$(verify "$T/c"); rc=$?
expect_eq "deleted history row: verify fails" "$rc" 1
check "deleted history row: named (agent, seq)" \
    eval 'printf "%s" "$out" | grep -q "history agent=$A2 seq=3..3 problem=missing_rows"'

# Swap the envelopes of a1's first two batches.
copy "CREATE TEMP TABLE s AS SELECT id, envelope FROM batch WHERE agent_id = (SELECT id FROM agent WHERE label = 'a1') ORDER BY id LIMIT 2;
      UPDATE batch SET envelope = (SELECT envelope FROM s WHERE s.id <> batch.id) WHERE id IN (SELECT id FROM s);"
out=$(verify "$T/c"); rc=$?
expect_eq "swapped batches: verify fails" "$rc" 1
check "swapped batches: each batch named" \
    eval '[ $(printf "%s" "$out" | grep -c "batch id=[0-9]* agent=$A1 problem=range_differs") = 2 ]'
check "swapped batches: the history rows they back are named" \
    eval 'printf "%s" "$out" | grep -q "history agent=$A1 seq=1 batch=[0-9]* problem=not_in_signed_batch"'

# Alter one byte inside a kept batch (its value text).
copy "UPDATE batch SET envelope = CAST(replace(CAST(envelope AS TEXT), '103', '104') AS BLOB) WHERE first_seq = 3 AND agent_id = (SELECT id FROM agent WHERE label = 'a1');"
out=$(verify "$T/c"); rc=$?
expect_eq "altered batch bytes: verify fails" "$rc" 1
check "altered batch bytes: bad signature named" \
    eval 'printf "%s" "$out" | grep -q "batch id=[0-9]* agent=$A1 problem=bad_signature"'

# A value that no signed update ever carried.
copy "INSERT INTO datavalue(org_unit, indicator, period, disagg, value, num, deleted, comment, stored_by, followup, hlc, agent_id, agent_seq, period_start, period_end, updated_at_ms, signed_hlc) SELECT '27910', indicator, period, disagg, value, num, deleted, comment, stored_by, followup, hlc, agent_id, agent_seq, period_start, period_end, updated_at_ms, signed_hlc FROM datavalue LIMIT 1;"
out=$(verify "$T/c"); rc=$?
expect_eq "invented value: verify fails" "$rc" 1
check "invented value: named" \
    eval 'printf "%s" "$out" | grep -q "value org_unit=27910 .* problem=not_from_any_signed_update"'

# A deleted current value.
copy "DELETE FROM datavalue WHERE (org_unit, period, indicator, disagg) = (SELECT org_unit, period, indicator, disagg FROM datavalue WHERE org_unit = '27904' LIMIT 1);"
out=$(verify "$T/c"); rc=$?
expect_eq "deleted value: verify fails" "$rc" 1
check "deleted value: named" eval 'printf "%s" "$out" | grep -q "value org_unit=27904 .* problem=missing"'
copy "SELECT 1;" > /dev/null
check "an untouched copy verifies clean" vq "$T/c"
