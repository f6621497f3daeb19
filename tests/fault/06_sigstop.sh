#!/bin/bash
# Scenario 6: the aggregator frozen (SIGSTOP), then continued. Agents must
# notice (ack timeouts and ZMTP heartbeats), back off, keep memory bounded
# while their outboxes grow, and catch up after SIGCONT. Short form: 8 s
# frozen; FAULT_SCALE>=4 (make chaos): 30 s, as in the issue.
. "$(dirname "$0")/lib.sh"
FREEZE_S=$((8 * FAULT_SCALE)); [ $FREEZE_S -gt 30 ] && FREEZE_S=30
agg_init agg
for i in 1 2 3 4; do fagent_init "a$i" "$([ $i -le 2 ] && echo 27922 || echo 27925)" || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
load 1 $((100 * FAULT_SCALE))
check "first load delivered" wait_for 60 drained_all
rss0=0; for a in $FAGENTS; do eval "p=\$${a}_PID"; rss0=$((rss0 + $(rss_kb "$p"))); done
kill -STOP "$agg_PID"; fault "aggregator SIGSTOP for $FREEZE_S s"
base=$(applied)
# Load keeps arriving while it is frozen.
for r in 2 3 4 5; do load $r $((200 * FAULT_SCALE)); sleep $((FREEZE_S / 4)); done
rss1=0; for a in $FAGENTS; do eval "p=\$${a}_PID"; rss1=$((rss1 + $(rss_kb "$p"))); done
diag "agents' RSS: ${rss0} kB before, ${rss1} kB after $FREEZE_S s frozen with $((800 * FAULT_SCALE)) rows queued each"
check "agents' memory bounded while frozen (< 2x + 16 MB)" [ "$rss1" -lt $((rss0 * 2 + 16384)) ]
backed=0; for a in $FAGENTS; do grep -q 'event=ack_timeout\|backoff\|state=backoff' "$T/$a/log" && backed=$((backed + 1)); done
expect_eq "every agent noticed and backed off" "$backed" 4
expect_eq "the frozen aggregator stored nothing while stopped" "$(applied)" "$base"
kill -CONT "$agg_PID"; diag "aggregator continued"
check "outboxes drain after SIGCONT" wait_for 90 drained_all
finish "SIGSTOP aggregator: no loss, no duplicate"
