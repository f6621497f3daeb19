#!/bin/bash
# Issue 3, replay: a captured batch replayed to the same aggregator (even
# after a newer value for the same key) changes nothing; replayed to a
# second aggregator where the same agent is enrolled, it is refused
# (the first aggregator's identity is under the signature).
. "$(dirname "$0")/lib.sh"
# Create each agent's database before its daemon starts: a first open by
# the daemon and a `submit` at the same instant can race on the WAL switch.
prime() { for a in "$@"; do agent "$a" receipts > /dev/null 2>&1; done; }
echo "1..10"
BADPEER=$BUILD/tools/badpeer
agg_init agg
agg_init agg2
for a in agg agg2; do
    grep -q '^http_listen' "$T/$a/aggregator.ini" || echo "http_listen =" >> "$T/$a/aggregator.ini"
done
agent_init a1 27901
agg agg2 enroll "$(cat "$T/a1/pubid")" --org-unit 27901 --label a1 > /dev/null
agg_start agg
agg_start agg2
prime a1
agent_start a1
db=$(agg_db agg)
db2=$(agg_db agg2)
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 5 > /dev/null
check "a1 delivered" wait_for 20 outbox_empty a1
aggq agg "SELECT hex(envelope) FROM batch WHERE first_seq = 1;" | xxd -r -p > "$T/b1.bin"
state() { aggq agg "SELECT (SELECT count(*) FROM update_log) || ':' || (SELECT count(*) FROM batch) || ':' || (SELECT applied_seq FROM agent) || ':' || (SELECT group_concat(org_unit || indicator || period || value || hlc, ';') FROM datavalue);"; }
bp() { BADPEER_FILE=$T/b1.bin "$BADPEER" "$1" "$(cat "$T/$2/pubid")" "$T/a1/state/agent.key" replay; }

before=$(state)
expect_eq "replay to the same aggregator is re-acked" "$(bp "$agg_EP" agg)" "ack ok ok acked=1 rejections="
expect_eq "  ... and changes nothing" "$(state)" "$before"

# A newer value for the same key, then the old batch again.
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 6 > /dev/null
check "newer value delivered" wait_for 20 outbox_empty a1
before=$(state)
expect_eq "replaying the old batch is re-acked" "$(bp "$agg_EP" agg)" "ack ok ok acked=2 rejections="
expect_eq "  ... and does not roll the value back" "$(state)" "$before"
expect_eq "the current value is the newer one" \
    "$(aggq agg "SELECT value FROM datavalue WHERE period = '202501';")" 6

# The same bytes to another aggregator: signed for the first one.
expect_eq "replay to a second aggregator is refused" "$(bp "$agg2_EP" agg2)" \
    "ack refused bad_signature acked=0 rejections="
expect_eq "  ... nothing applied there" \
    "$(aggq agg2 "SELECT count(*) FROM update_log;"):$(aggq agg2 "SELECT count(*) FROM datavalue;")" "0:0"
expect_eq "  ... and the refusal is recorded with its bytes" \
    "$(aggq agg2 "SELECT count(*) FROM reject WHERE code = 7 AND length(raw) > 0;")" 1
