#!/bin/bash
# Scenario 8: connection reset in the middle of a batch. The fault proxy
# resets every connection after a random 1..N bytes towards the aggregator,
# so batches are cut part-way, again and again on each reconnect; the
# aggregator must store nothing of a cut batch (a ZMTP frame is all or
# nothing) and agents must resend it whole. Then resets also hit at random
# in both directions (acks cut), then the link heals.
. "$(dirname "$0")/lib.sh"
proxied_setup 3 27898 27901 27904 || not_ok "setup"
for a in $FAGENTS; do echo "batch_max = 100" >> "$T/$a/agent.ini"; done
proxy_set reset_bytes=12000
load 1 $((300 * FAULT_SCALE))
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
resets() { grep -c "injected reset" "$T/proxy.log"; }
enough() { [ "$(resets)" -ge $((10 * FAULT_SCALE)) ]; }
check "at least $((10 * FAULT_SCALE)) batches cut mid-stream" wait_for $((30 * FAULT_SCALE)) enough
proxy_set reset_prob=0.05
load 2 $((300 * FAULT_SCALE))
sleep 3
proxy_set; diag "link healthy"
check "outboxes drain" wait_for 90 drained_all
r=$(resets); for i in $(seq 1 "$r"); do FAULTS=$((FAULTS + 1)); done
diag "resets injected: $r"
finish "resets mid-batch: no loss, no duplicate, no partial batch"
