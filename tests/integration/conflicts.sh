#!/bin/bash
# Done-when 5: one key written by two agents gives the same final value in
# every arrival order (last writer by HLC wins; ties by agent key).
. "$(dirname "$0")/lib.sh"
echo "1..5"
agg_init X
agg_init Y
# Two machines of the same commune (an old PC and its replacement), both
# enrolled for 27898 at both aggregators.
agent_init a1 27898 X
agent_init a2 27898 X
for a in a1 a2; do
    agg Y enroll "$(cat "$T/$a/pubid")" --org-unit 27898 > /dev/null
done
for i in 1 2 3; do
    agent a1 submit --org-unit 27898 --indicator TO_CNSCD --period 2024Q$i --value $((10 + i)) > /dev/null
    agent a2 submit --org-unit 27898 --indicator TO_CNSCD --period 2024Q$i --value $((20 + i)) > /dev/null
    agent a2 submit --org-unit 27898 --indicator TO_CNSCD_TV --period 2024Q$i --value $((50 + i)) > /dev/null
    agent a1 submit --org-unit 27898 --indicator TO_CNSCD_TV --period 2024Q$i --value $((40 + i)) > /dev/null
done
agent a2 submit --org-unit 27898 --indicator NTM8_2 --period 2024 --value true > /dev/null
agent a1 submit --org-unit 27898 --indicator NTM8_2 --period 2024 --delete > /dev/null

# Same queued data, delivered to Y: a copy of each agent pointed at Y.
for a in a1 a2; do
    mkdir -p "$T/${a}y"; cp -a "$T/$a/state" "$T/${a}y/state"
    sed -e "s#$T/$a/state#$T/${a}y/state#" -e "s#^server = .*#server = $Y_EP#" \
        -e "s#^server_key = .*#server_key = $(cat "$T/Y/pubid")#" "$T/$a/agent.ini" > "$T/${a}y/agent.ini"
done

table() { aggq "$1" "SELECT indicator, period, value, CAST(deleted AS INTEGER), hlc FROM datavalue ORDER BY 1, 2;"; }
# X: a1 first, then a2.
agg_start X
agent_start a1; wait_for 30 outbox_empty a1; agent_stop a1
agent_start a2; wait_for 30 outbox_empty a2; agent_stop a2
# Y: a2 first, then a1.
agg_start Y
agent_start a2y; wait_for 30 outbox_empty a2y; agent_stop a2y
agent_start a1y; wait_for 30 outbox_empty a1y; agent_stop a1y
expect_eq "X received all 14 updates" "$(aggq X "SELECT count(*) FROM update_log;")" 14
expect_eq "Y received all 14 updates" "$(aggq Y "SELECT count(*) FROM update_log;")" 14
check "same consolidated table in both arrival orders" [ "$(table X)" = "$(table Y)" ]
expect_eq "later submission wins (a2's TO_CNSCD)" \
    "$(agg X query --indicator TO_CNSCD --format csv | tail -n +2 | awk -F, '{print $6}' | tr '\n' ' ')" "21 22 23 "
expect_eq "the later delete wins over the earlier value" \
    "$(agg X query --indicator NTM8_2 --format csv | tail -n +2 | wc -l | tr -d ' ')" 0
