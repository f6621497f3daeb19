#!/bin/bash
# Issue 3, signed receipts: `verify-receipt` proves delivery with nothing
# but the aggregator's public identity; a forged receipt, a receipt checked
# against another aggregator, and a receipt for other data all fail.
. "$(dirname "$0")/lib.sh"
# Create each agent's database before its daemon starts: a first open by
# the daemon and a `submit` at the same instant can race on the WAL switch.
prime() { for a in "$@"; do agent "$a" receipts > /dev/null 2>&1; done; }
echo "1..14"
agg_init agg
agg_init other                      # a second aggregator identity, never run
# No HTTP here (its default port may be taken by another test).
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
agent_init a1 27901
agent_init a2 27904
agg_start agg
prime a1 a2
agent_start a1
agent_start a2
SRV=$(cat "$T/agg/pubid")
OTHER=$(cat "$T/other/pubid")
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 11 > /dev/null
agent a2 submit --org-unit 27904 --indicator TTHC_TONG --period 202501 --value 22 > /dev/null
check "a1 delivered" wait_for 20 outbox_empty a1
check "a2 delivered" wait_for 20 outbox_empty a2
agent_stop a1
agent_stop a2
# verify-receipt needs no aggregator, no network, no agent secret.
vr() { "$AGENT" --state-dir "$T/$1/state" verify-receipt "${@:2}"; }
head1=$(sqlq "$(agent_db a1)" "SELECT lower(hex(acked_head)) FROM meta;")
head2=$(sqlq "$(agent_db a2)" "SELECT lower(hex(acked_head)) FROM meta;")
id1=$(sqlq "$(agent_db a1)" "SELECT max(id) FROM receipts WHERE status = 0;")

out=$(vr a1 "$id1" --server-key "$SRV" --seq 1 --head "$head1")
check "a real receipt verifies (by ID, with seq and chain head)" [ $? = 0 ]
a1fpr=$(aggq agg "SELECT fpr FROM agent WHERE label = 'a1';")
check "it names the agent and the aggregator commit time" \
    eval 'printf "%s\n" "$out" | grep -q "agent:      $a1fpr" && printf "%s\n" "$out" | grep -q "committed:  20"'

# The same receipt as a file, from `receipts --json`, anywhere.
agent a1 receipts --json | jq -r ".[] | select(.id == $id1) | .envelope_base64" > "$T/r.b64"
base64 -d "$T/r.b64" > "$T/r.bin"
vf() { "$AGENT" --state-dir "$T/nowhere" verify-receipt --file "$@" > /dev/null; }
check "a receipt file (base64) verifies with only the server key" vf "$T/r.b64" --server-key "$SRV"
check "a receipt file (raw bytes) verifies" vf "$T/r.bin" --server-key "$SRV"

# Forged: one byte of the signed body changed, or the signature.
len=$(stat -c %s "$T/r.bin")
cp "$T/r.bin" "$T/forged.bin"
printf '\x07' | dd of="$T/forged.bin" bs=1 seek=$((len - 75)) conv=notrunc 2>/dev/null
err=$("$AGENT" --state-dir "$T/nowhere" verify-receipt --file "$T/forged.bin" --server-key "$SRV" 2>&1)
expect_eq "a receipt with an altered body fails (exit 1)" "$?" 1
check "  ... and says it is not valid" eval 'printf "%s" "$err" | grep -q "NOT valid"'
cp "$T/r.bin" "$T/forged2.bin"
printf '\x00\x00' | dd of="$T/forged2.bin" bs=1 seek=$((len - 2)) conv=notrunc 2>/dev/null
"$AGENT" --state-dir "$T/nowhere" verify-receipt --file "$T/forged2.bin" --server-key "$SRV" 2>/dev/null
expect_eq "a receipt with an altered signature fails" "$?" 1
"$AGENT" --state-dir "$T/nowhere" verify-receipt --file "$T/r.bin" --server-key "$OTHER" 2>/dev/null
expect_eq "a receipt checked against another aggregator fails" "$?" 1

# A genuine receipt, but for other data.
vr a1 "$id1" --server-key "$SRV" --head "$head2" 2>/dev/null
expect_eq "a1's receipt does not prove a2's data (chain head)" "$?" 1
vr a1 "$id1" --server-key "$SRV" --seq 99 2>/dev/null
expect_eq "a receipt does not cover later seqs" "$?" 1
vr a1 999 --server-key "$SRV" 2>/dev/null
expect_eq "an unknown receipt ID fails" "$?" 1
vr a1 "$id1" 2>/dev/null
expect_eq "no server key: usage error" "$?" 2
