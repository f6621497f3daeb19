#!/bin/bash
# Done-when 6: bad input at the aggregator — wrong signature, unknown key,
# org unit not enrolled for that key, unknown indicator, bad period,
# out-of-range value, oversized message, garbage bytes, a resend with changed
# content — each rejected with its reason code and recorded, while a good
# agent keeps syncing in the same test.
. "$(dirname "$0")/lib.sh"
echo "1..28"
BADPEER=$BUILD/tools/badpeer
agg_init agg
agent_init good 27901
agent_init evil 27913          # enrolled, but only for 27913
mkdir -p "$T/stranger"
"$AGENT" --state-dir "$T/stranger/state" keygen > /dev/null   # never enrolled
agg_start agg
agent_start good
db=$(agg_db agg)
SRV=$(cat "$T/agg/pubid")
bp() { "$BADPEER" "$agg_EP" "$SRV" "$1" "$2" ${3:-}; }
EVIL=$T/evil/state/agent.key
ngood=0
submit_good() {
    ngood=$((ngood + 1))
    agent good submit --org-unit 27901 --indicator TTHC_TONG --period 2024$(printf %02d $ngood) --value $((100 + ngood)) > /dev/null
}

expect_eq "hello from an enrolled key" "$(bp "$EVIL" hello)" "hello applied=0"
submit_good
expect_eq "wrong signature refused" "$(bp "$EVIL" bad_sig)" "ack refused bad_signature acked=0 rejections="
submit_good
# With CURVE, an unknown key cannot even open a connection (ZAP denial):
# the refusal is counted in the knock table (unknown_key, its curve key and
# address; docs/OPERATIONS.md "Who is knocking"), not one reject per try.
expect_eq "unknown key refused" "$(bp "$T/stranger/state/agent.key" good)" "noreply"
submit_good
expect_eq "org unit not enrolled for that key" "$(bp "$EVIL" org_unit 27901)" "ack ok ok acked=1 rejections=org_unit_not_allowed"
submit_good
expect_eq "unknown indicator" "$(bp "$EVIL" unknown_indicator 27913)" "ack ok ok acked=2 rejections=unknown_indicator"
expect_eq "bad period" "$(bp "$EVIL" bad_period 27913)" "ack ok ok acked=3 rejections=bad_period"
submit_good
expect_eq "out-of-range value" "$(bp "$EVIL" out_of_range 27913)" "ack ok ok acked=4 rejections=out_of_range"
expect_eq "invalid UTF-8 in a text field" "$(bp "$EVIL" bad_utf8 27913)" "ack ok ok acked=5 rejections=bad_field"
expect_eq "batch naming another key than its signer" "$(bp "$EVIL" key_mismatch 27913)" "ack refused key_mismatch acked=5 rejections="
expect_eq "gap answered with the expected seq" "$(bp "$EVIL" gap 27913)" "ack gap ok acked=5 rejections="
submit_good
expect_eq "oversized message: no reply" "$(bp "$EVIL" oversized)" "noreply"
expect_eq "garbage bytes: no reply" "$(bp "$EVIL" garbage)" "noreply"
submit_good
out=$(bp "$EVIL" equivocation 27913)
expect_eq "resend with changed content refused as equivocation" "$out" \
    "ack ok ok acked=6 rejections=
ack refused equivocation acked=6 rejections="
expect_eq "the first content is kept" \
    "$(aggq agg "SELECT value FROM datavalue WHERE org_unit='27913' AND indicator='TO_CNSCD';")" 5

# Every refusal is recorded with its reason and raw bytes.
knocked() { [ "$(aggq agg "SELECT count(*) FROM knock WHERE code = 8 AND length(curve_pk) = 32 AND count >= 1;")" -ge 1 ]; }
check "knock table has the unknown key with its curve key" wait_for 10 knocked
expect_eq "... and no reject row per attempt" \
    "$(aggq agg "SELECT count(*) FROM reject WHERE code = 8;")" 0
for r in bad_signature key_mismatch too_big malformed equivocation; do
    expect_eq "reject log has $r with raw bytes" \
        "$(aggq agg "SELECT CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM reject r WHERE code = $(
            case $r in bad_signature) echo 7;; unknown_key) echo 8;; key_mismatch) echo 10;;
                       too_big) echo 4;; malformed) echo 5;; equivocation) echo 18;; esac) AND length(raw) > 0;")" 1
done
expect_eq "per-update rejections kept in history with their codes" \
    "$(aggq agg "SELECT group_concat(status, ',') FROM (SELECT status FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'evil' ORDER BY seq) AS x;")" \
    "11,12,14,16,17,0"
# The comment that is not UTF-8 is not kept in the history row (PostgreSQL's
# text cannot hold it; the kept signed batch has the bytes), and a retry
# does not run the update again with the field empty.
expect_eq "the bad_field update's comment is not kept (NULL)" \
    "$(aggq agg "SELECT count(*) FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'evil' AND u.status = 17 AND u.comment IS NULL;")" 1
useq=$(aggq agg "SELECT u.seq FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'evil' AND u.status = 17;")
ufpr=$(agg agg agents --json | jq -r '.[] | select(.label == "evil") | .fingerprint')
agg agg rejects retry "$ufpr:$useq" > "$T/retry.utf8" 2>&1; rc=$?
expect_eq "retry of it: exit 1, not retried (field comment not kept)" \
    "$rc:$(grep -c "not retried: field comment is not kept" "$T/retry.utf8")" "1:1"
expect_eq "... and nothing was applied or recorded by the retry" \
    "$(aggq agg "SELECT count(*) FROM update_status s JOIN agent a ON a.id = s.agent_id WHERE a.label = 'evil';")" 0

submit_good
check "the good agent kept syncing throughout" wait_for 20 outbox_empty good
expect_eq "all of the good agent's values arrived" \
    "$(aggq agg "SELECT count(*) FROM datavalue WHERE org_unit='27901';")" "$ngood"
check "the aggregator is still running" kill -0 "$agg_PID"
