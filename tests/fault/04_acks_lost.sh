#!/bin/bash
# Scenario 4: acks lost in one direction only. The proxy discards every
# byte from the aggregator to the agents (acks, hello answers) while the
# agents' batches still arrive and are committed. Agents must keep their
# outboxes (nothing acked reached them), resend, and after the heal catch
# up without a duplicate. Short form: 8 s of loss; FAULT_SCALE>=4 (make
# chaos): 30 s, as in the issue.
. "$(dirname "$0")/lib.sh"
LOSS_S=$((8 * FAULT_SCALE)); [ $LOSS_S -gt 30 ] && LOSS_S=30
proxied_setup 4 27907 27910 || not_ok "setup"
load 1 $((200 * FAULT_SCALE))
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
check "first load delivered with the link healthy" wait_for 60 drained_all
base=$(applied)
proxy_set drop_down=1; fault "acks dropped (aggregator -> agents) for $LOSS_S s"
load 2 $((200 * FAULT_SCALE))
grows() { [ "$(applied)" -gt "$base" ]; }
check "aggregator commits while acks are lost" wait_for 20 grows
sleep "$LOSS_S"
kept=0; for a in $FAGENTS; do [ "$(agent_depth "$a")" = $((200 * FAULT_SCALE)) ] && kept=$((kept + 1)); done
expect_eq "no agent dropped a row it saw no ack for" "$kept" 4
proxy_set; diag "acks flow again"
check "outboxes drain after the heal" wait_for 60 drained_all
finish "acks lost one way: no loss, no duplicate"
