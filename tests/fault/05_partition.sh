#!/bin/bash
# Scenario 5: a network partition, then heal; then link flapping. Runs in
# a private network namespace (unshare -rn) where `ip link set lo down`
# cuts every TCP connection between agents and aggregator without a FIN or
# RST, as a dead rural line does. Short form: 6 s partition and 4 flaps
# of 1-2 s; FAULT_SCALE>=10 (make chaos): the issue's 60 s. Batches are in
# flight at the partition; a short partition then drops both ends' TCP
# connections (ss -K), as the heartbeat timeouts of a long one do, so an
# agent that never resends an unanswered batch is caught.
[ -z "${IN_NETNS:-}" ] && exec unshare -rn env IN_NETNS=1 bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
ip link set lo up || { not_ok "no loopback in the namespace"; exit 1; }
PART_S=$((6 * FAULT_SCALE)); [ $PART_S -gt 60 ] && PART_S=60
FLAPS=$((4 * FAULT_SCALE))
AGG_PORT=$(free_port)
agg_init agg "tcp://127.0.0.1:$AGG_PORT"
for i in 1 2 3 4; do fagent_init "a$i" "$([ $i -le 2 ] && echo 27916 || echo 27919)" || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
load 1 $((150 * FAULT_SCALE))
check "first load delivered" wait_for 60 drained_all
ip link set lo down; fault "partition for $PART_S s"
# Batches sent into the dead link: in flight (sent, unacked) when the
# connections die below.
sent0=$(cat "$T"/a*/log | grep -c 'event=batch_sent')
load 2 $((150 * FAULT_SCALE))
base=$(applied)
inflight() { [ "$(cat "$T"/a*/log | grep -c 'event=batch_sent')" -gt "$sent0" ]; }
check "batches in flight into the partition" wait_for 10 inflight
sleep "$PART_S"
expect_eq "nothing crossed the partition" "$(applied)" "$base"
if [ "$PART_S" -lt 20 ]; then
    # The short form is shorter than the timeouts (the agent's 15 s ZMTP
    # heartbeat, the aggregator's TCP keepalive / user timeout) after which
    # a long partition kills both ends' connections and everything in
    # flight on them; do that now (ss -K), so the batches above must be
    # resent by the agent (TCP alone would retransmit them after the heal).
    ss -K "( sport = :$AGG_PORT or dport = :$AGG_PORT )" > /dev/null 2>&1
    left=$(ss -tn "( sport = :$AGG_PORT or dport = :$AGG_PORT )" | grep -c ESTAB)
    expect_eq "connections dropped during the partition" "$left" 0
fi
ip link set lo up; diag "healed; $(( $(cat "$T"/a*/log | grep -c 'event=batch_sent') - sent0 )) batches sent into it"
check "batches in flight at the partition arrive after the heal" wait_for 90 drained_all
for f in $(seq 1 "$FLAPS"); do
    load $((f + 2)) $((50 * FAULT_SCALE))
    sleep "0.$(rnd 10)"
    ip link set lo down; fault "flap $f: link down"
    sleep "1.$(rnd 10)"
    ip link set lo up
done
check "outboxes drain after flapping" wait_for 120 drained_all
finish "partition and flapping: no loss, no duplicate"
