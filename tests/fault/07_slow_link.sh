#!/bin/bash
# Scenario 7: a slow link (64 kbit/s, tc tbf on the loopback of a private
# network namespace holding both agents and aggregator) under full load:
# every agent has more queued than the link carries in its ack timeout, so
# ack timeouts fire while the bytes are still on their way. Everything must
# arrive, once, without a resend storm: after a timeout the agent asks
# (hello) before resending, and on a link that is slow but working the
# answer says the batch arrived. Short form: 2 agents x 400 rows (about
# 10 s of link) with a 3 s ack timeout; FAULT_SCALE>=4 (make chaos): 4x
# the load with the shipped 10 s.
[ -z "${IN_NETNS:-}" ] && exec unshare -rn env IN_NETNS=1 bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
# A WAN-sized MTU: tbf drops any packet larger than its bucket, and
# loopback's 64 KiB segments would never pass.
ip link set lo mtu 1500 && ip link set lo up || { not_ok "no loopback in the namespace"; exit 1; }
# 3 s: less than one agent's 32 kB batch needs on the shared link; at
# FAULT_SCALE>=4 the shipped default (deploy/agent.ini), 10 s.
ACK_TIMEOUT_MS=3000; [ "$FAULT_SCALE" -ge 4 ] && ACK_TIMEOUT_MS=10000
AGG_PORT=$(free_port)
agg_init agg "tcp://127.0.0.1:$AGG_PORT"
for i in 1 2; do fagent_init "a$i" 27928 || not_ok "init a$i"; done
load 1 $((400 * FAULT_SCALE))
tc qdisc add dev lo root tbf rate 64kbit burst 8kb latency 2s || not_ok "tc tbf"
fault "link limited to 64 kbit/s"
t0=$(date +%s)
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
check "outboxes drain over 64 kbit/s" wait_for $((120 * FAULT_SCALE)) drained_all
diag "drained in $(($(date +%s) - t0)) s; tc: $(tc -s qdisc show dev lo | grep -o 'Sent [0-9]* bytes')"
sent=$(cat "$T"/a*/log | grep -c 'event=batch_sent')
need=$((2 * ((400 * FAULT_SCALE + 499) / 500)))
timeouts=$(cat "$T"/a*/log | grep -c 'event=ack_timeout')
diag "batches sent: $sent (without a resend: $need); ack timeouts: $timeouts"
check "no resend storm (batches sent <= needed + 1 per agent)" [ "$sent" -le $((need + 2)) ]
tc qdisc del dev lo root
finish "slow link: no loss, no duplicate"
