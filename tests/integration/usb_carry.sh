#!/bin/bash
# Issue 21 item 3: a commune with no link carries its signed batches to the
# district in a file (export-batches), the district applies them through
# the normal ingest path (import-batches) and writes a signed receipt file,
# and the commune records it (import-receipt). A damaged file is refused
# whole; a file imported twice, or batches the link delivers later, change
# nothing. Both stores (PG_SET).
. "$(dirname "$0")/lib.sh"
echo "1..65"
agg_init agg
agent_init a1 27901
agent_init a2 27904
agg_start agg            # running: import-batches works beside the daemon
U=$T/usb; mkdir -p "$U"
hist() { aggq agg "SELECT count(*) FROM update_log;"; }
vals() { aggq agg "SELECT count(*) FROM datavalue;"; }
n_receipts() { sqlq "$(agent_db "$1")" "SELECT count(*) FROM receipts;"; }

# a1 never runs its daemon: offline for the whole test.
gen_csv "$T/a1.csv" 27901 2500
agent a1 import "$T/a1.csv" > /dev/null &&
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null
check "a1 queued 2501 updates" [ "$(agent_depth a1)" = 2501 ]
gen_csv "$T/a2.csv" 27904 30
agent a2 import "$T/a2.csv" > /dev/null

out=$(agent a1 --lang vi export-batches --to "$U/a1.cds" 2>&1); rc=$?
diag "$out"
expect_eq "export-batches exits 0" "$rc" 0
check "export says what it wrote, in Vietnamese" \
    grep -q "đã ghi 3 lô, 2501 giá trị, seq 1..2501" <<< "$out"
check "the file begins with its magic line and a readable summary" \
    sh -c "head -c 15 '$U/a1.cds' | grep -qx 'CDSYNC-CARRY 1' && head -n 12 '$U/a1.cds' | grep -q 'seq 1..2501'"
check "the summary names periods and indicators" \
    sh -c "head -n 12 '$U/a1.cds' | grep -q 'Chỉ tiêu / indicators: .*TTHC_TONG' && head -n 12 '$U/a1.cds' | grep -q 'Kỳ báo cáo / periods: 190001'"
check "the summary gives the Viet Nam time" grep -q "(UTC+07:00)" "$U/a1.cds"
expect_eq "rows stay pending after export" "$(agent_depth a1)" 2501
st=$(agent a1 status)
check "status shows the export as carried" grep -q "^carried: .*seq 1..2501" <<< "$st"
diag "$(grep carried <<< "$st")"

# Path tricks and bounds on writing: never over an existing file or link.
cp "$U/a1.cds" "$T/a1.copy"
agent a1 export-batches --to "$U/a1.cds" > /dev/null 2> "$T/err"; rc=$?
check "export over an existing file is refused (exit $rc)" [ "$rc" != 0 ]
check "... with the reason" grep -q "already exists" "$T/err"
check "... and the file is unchanged" cmp -s "$U/a1.cds" "$T/a1.copy"
ln -s "$T/elsewhere" "$U/link.cds"
agent a1 export-batches --to "$U/link.cds" > /dev/null 2> "$T/err"; rc=$?
check "export to a symlink is refused (exit $rc)" [ "$rc" != 0 ] && [ ! -e "$T/elsewhere" ]
agent a1 export-batches --to "$U/nodir/x.cds" > /dev/null 2> "$T/err"
check "export into a missing directory is refused" grep -q "nodir" "$T/err"
check "no temporary file is left behind" [ -z "$(ls "$U" | grep tmp)" ]

# One flipped byte anywhere: refused, nothing applied.
size=$(stat -c %s "$U/a1.cds")
hdr=$(( $(head -c 200 "$U/a1.cds" | sed -n 2p | sed 's/summary-bytes //') + 40 ))
for pos in 0 5 20 $hdr $((hdr + 30)) $((size / 2)) $((size - 40)) $((size - 1)); do
    cp "$U/a1.cds" "$T/bad.cds"
    b=$(od -An -tu1 -j "$pos" -N1 "$T/bad.cds" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (b ^ 1) & 255 )))" | dd of="$T/bad.cds" bs=1 seek="$pos" conv=notrunc 2> /dev/null
    agg agg import-batches "$T/bad.cds" --receipt "$U/bad-$pos.rcpt" > /dev/null 2> "$T/err"; rc=$?
    if [ "$rc" != 0 ] && grep -Eq "checksum|not a cdsync carry file" "$T/err" \
        && [ "$(hist)" = 0 ] && [ ! -e "$U/bad-$pos.rcpt" ]; then
        ok "a byte flipped at offset $pos of $size is refused, nothing applied"
    else
        not_ok "flip at $pos: rc=$rc hist=$(hist) err=$(cat "$T/err")"
    fi
done
diag "$(cat "$T/err")"
head -c $((size - 10)) "$U/a1.cds" > "$T/short.cds"
agg agg import-batches "$T/short.cds" --receipt "$U/short.rcpt" > /dev/null 2> "$T/err"
check "a truncated file is refused" [ $? != 0 ] && [ "$(hist)" = 0 ]

# Useless without the enrolment of that key.
mkdir -p "$T/a3"
sed "s|$T/a1/state|$T/a3/state|" "$T/a1/agent.ini" > "$T/a3/agent.ini"
agent a3 keygen --label a3 > /dev/null
agent a3 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --value 1 > /dev/null
agent a3 export-batches --to "$U/a3.cds" > /dev/null
agg agg import-batches "$U/a3.cds" --receipt "$U/a3.rcpt" > /dev/null 2> "$T/err"; rc=$?
check "a file of a key not enrolled here is refused (exit $rc)" \
    sh -c "[ $rc != 0 ] && grep -q 'not enrolled here' '$T/err'"
expect_eq "... nothing applied" "$(hist)" 0
agg agg enroll "$(agent a3 pubid)" --org-unit 27901 --label a3 > /dev/null &&
agg agg revoke "$(agent a3 pubid)" > /dev/null
agg agg import-batches "$U/a3.cds" --receipt "$U/a3.rcpt" > /dev/null 2> "$T/err"; rc=$?
check "a file of a revoked key is refused (exit $rc)" \
    sh -c "[ $rc != 0 ] && grep -q 'revoked' '$T/err' && [ ! -e '$U/a3.rcpt' ]"
agg agg import-batches "$U/none.cds" > /dev/null 2> "$T/err"; rc=$?
check "a missing file is named (exit $rc)" sh -c "[ $rc != 0 ] && grep -q 'none.cds' '$T/err'"

# A copy of the store as it is now (nothing of a1 applied): the restored
# aggregator of the last part.
agg_stop agg
if [ "$CDS_TEST_STORE" = pg ]; then
    dbname=$(agg_store agg); dbname=${dbname##*/}
    PGPASSWORD=$PG_PASS "$PG_BIN/pg_dump" -Fc -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_SUPER" -f "$T/old.dump" "$dbname" 2> "$T/dump.err"
    check "a copy of the store (pg_dump)" test -s "$T/old.dump"
else
    sqlite3 "$(agg_db agg)" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
    cp "$(agg_db agg)" "$T/old.db"
    check "a copy of the store (file)" test -s "$T/old.db"
fi
agg_start agg

# The good file: applied through ingest, receipt written.
out=$(agg agg import-batches "$U/a1.cds" --receipt "$U/a1.rcpt" 2>&1); rc=$?
diag "$out"
expect_eq "import-batches exits 0" "$rc" 0
expect_eq "every update is in history once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT seq) FROM update_log;")" "2501|2501"
check "import says what it applied" grep -q "2501 update(s) applied, 0 rejected, 0 already held" <<< "$out"
v1=$(vals)
check "a receipt file was written" [ -s "$U/a1.rcpt" ]
# Imported twice: re-acked, nothing changes.
agg agg import-batches "$U/a1.cds" --receipt "$U/a1-again.rcpt" > "$T/out2" 2>&1; rc=$?
expect_eq "a second import exits 0" "$rc" 0
check "... applies nothing" grep -q "0 update(s) applied, 0 rejected, 2501 already held" "$T/out2"
expect_eq "... history unchanged" "$(hist)" 2501
expect_eq "... values unchanged" "$(vals)" "$v1"
agg agg import-batches "$U/a1.cds" --receipt "$U/a1.rcpt" > /dev/null 2> "$T/err"
check "an existing receipt file is never overwritten" grep -q "already exists" "$T/err"

agg agg import-batches "$U/a1.rcpt" --receipt "$U/x.rcpt" > /dev/null 2> "$T/err"
check "a receipt file given to import-batches is refused as such" grep -q "a receipt file" "$T/err"
agent a1 import-receipt "$U/a1.cds" > /dev/null 2> "$T/err"
check "a batches file given to import-receipt is refused as such" grep -q "a batches file" "$T/err"

# Receipts: another agent's, or tampered, are refused.
agent a2 import-receipt "$U/a1.rcpt" > /dev/null 2> "$T/err"; rc=$?
check "a2 refuses a1's receipt (exit $rc)" sh -c "[ $rc != 0 ] && grep -q 'another\|this agent is' '$T/err'"
rsize=$(stat -c %s "$U/a1.rcpt")
cp "$U/a1.rcpt" "$T/bad.rcpt"
printf 'X' | dd of="$T/bad.rcpt" bs=1 seek=$((rsize / 2)) conv=notrunc 2> /dev/null
agent a1 import-receipt "$T/bad.rcpt" > /dev/null 2> "$T/err"; rc=$?
check "a tampered receipt is refused (exit $rc)" sh -c "[ $rc != 0 ] && grep -q checksum '$T/err'"
expect_eq "... nothing recorded" "$(agent_depth a1):$(n_receipts a1)" "2501:0"

# The officer carries the receipt back.
out=$(agent a1 --lang en import-receipt "$U/a1.rcpt" 2>&1); rc=$?
diag "$out"
expect_eq "import-receipt exits 0" "$rc" 0
expect_eq "the outbox drains" "$(agent_depth a1)" 0
expect_eq "one receipt per batch is recorded" "$(n_receipts a1)" 3
carried_none() { agent "$1" status | grep -q '^carried: *none'; }
check "status no longer shows anything carried" carried_none a1
check "a stored receipt verifies with server_key alone" \
    agent a1 verify-receipt 3 --server-key "$(cat "$T/agg/pubid")" --seq 2501
expect_eq "the acked batches are kept (as after a link ack)" \
    "$(sqlq "$(agent_db a1)" "SELECT count(*), min(first_seq), max(last_seq) FROM sent_batch;")" "3|1|2501"
agent a1 --lang en import-receipt "$U/a1-again.rcpt" > "$T/out3" 2>&1
check "the second receipt changes nothing" \
    sh -c "grep -q '3 already recorded' '$T/out3' && [ \"\$(sqlite3 '$(agent_db a1)' 'SELECT count(*) FROM outbox')\" = 0 ]"

# --kept: the acked batches again (what a restored aggregator lost).
agent a1 export-batches --to "$U/a1-kept.cds" > /dev/null 2> "$T/err"
check "nothing pending: export without --kept refuses" grep -q "nothing pending" "$T/err"
out=$(agent a1 --lang en export-batches --kept --to "$U/a1-kept.cds" 2>&1)
check "export --kept writes the 3 kept batches" grep -q "wrote 3 batch(es), 2501 update(s), seq 1..2501" <<< "$out"
agg agg import-batches "$U/a1-kept.cds" --receipt "$U/a1-kept.rcpt" > "$T/out5" 2>&1
check "importing kept batches re-acks them, nothing new" \
    sh -c "grep -q '0 update(s) applied, 0 rejected, 2501 already held' '$T/out5'"
expect_eq "... history unchanged" "$(hist)" 2501

# a2: carried by file, then the link comes back before the receipt does.
agent a2 export-batches --to "$U/a2.cds" > /dev/null
agg agg import-batches "$U/a2.cds" --receipt "$U/a2.rcpt" > /dev/null
h=$(hist); v=$(vals)
agent_start a2
check "the link delivers a2's carried batches (re-acked)" wait_for 20 outbox_empty a2
expect_eq "... history counts unchanged" "$(hist)" "$h"
expect_eq "... values unchanged" "$(vals)" "$v"
agent a2 --lang en import-receipt "$U/a2.rcpt" > "$T/out4" 2>&1
check "the late receipt is accepted and changes nothing" \
    sh -c "grep -q '1 already recorded' '$T/out4' && [ \"\$(sqlite3 '$(agent_db a2)' 'SELECT count(*) FROM outbox')\" = 0 ]"

# The district's database goes back to the copy taken before a1's file
# was applied (docs/OPERATIONS.md "Backup and restore"). a1 has acked
# seq 1..2501 and queues one more: a file of only its pending batch does
# not continue what the aggregator holds, and is refused whole; the file
# with the kept batches repairs the loss (docs/RELIABILITY.md).
agent_stop a2
agg_stop agg
if [ "$CDS_TEST_STORE" = pg ]; then
    pg_psql - -c "DROP DATABASE \"$dbname\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$dbname\"" > /dev/null 2>> "$T/dump.err"
    PGPASSWORD=$PG_PASS "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_SUPER" -d "$dbname" "$T/old.dump" 2>> "$T/dump.err"
    rm -f "$T/agg/pg_compat"
else
    rm -f "$(agg_db agg)-wal" "$(agg_db agg)-shm"; cp "$T/old.db" "$(agg_db agg)"
fi
agg agg accept-restore --note "usb_carry" > "$T/accept.out" 2>&1
check "accept-restore of the older copy" grep -q "^accepted restore " "$T/accept.out"
agg_start agg
a1hist() { aggq agg "SELECT count(*), count(DISTINCT u.seq) FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'a1';"; }
expect_eq "the restored store holds nothing of a1" "$(a1hist)" "0|0"
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --value 8 > /dev/null
agent a1 export-batches --to "$U/a1-next.cds" > /dev/null
agg agg import-batches "$U/a1-next.cds" --receipt "$U/a1-next.rcpt" > /dev/null 2> "$T/err"; rc=$?
diag "$(cat "$T/err")"
check "a file that skips seqs the aggregator lost is refused (exit $rc)" \
    sh -c "[ $rc != 0 ] && grep -q 'seq 2502..2502' '$T/err' && grep -q 'missing (export again with --kept' '$T/err'"
expect_eq "... nothing applied" "$(a1hist)" "0|0"
check "... no receipt written" test ! -e "$U/a1-next.rcpt"
agent a1 export-batches --kept --to "$U/a1-all.cds" > /dev/null
out=$(agg agg import-batches "$U/a1-all.cds" --receipt "$U/a1-all.rcpt" 2>&1)
check "the file with the kept batches applies all 2502 (1..2501 kept, 2502 pending)" \
    grep -q "2502 update(s) applied, 0 rejected, 0 already held" <<< "$out"
expect_eq "... each once" "$(a1hist)" "2502|2502"
agent a1 --lang en import-receipt "$U/a1-all.rcpt" > /dev/null 2>&1
expect_eq "a1 records the receipt: nothing pending" "$(agent_depth a1)" 0
exit $FAILED
