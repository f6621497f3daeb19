#!/bin/bash
# Scenario 17: an agent restored from an old backup says Hello; the
# aggregator freezes (SIGSTOP ~6 s) with that Hello in flight (a fault
# proxy holds every chunk 300 ms, so the stop lands after the connection is
# up and before the answer). Its Hellos time out and queue behind the
# stall; on SIGCONT their answers arrive at once. A stale answer to an
# earlier, probe-less Hello must not be taken for the answer to the probing
# one (request ids): the restored rows the aggregator holds are matched,
# never renumbered (their content would be applied under two seqs).
. "$(dirname "$0")/lib.sh"
STALL_S=$((6 * FAULT_SCALE)); [ $STALL_S -gt 20 ] && STALL_S=20
ACK_TIMEOUT_MS=1500 BACKOFF_MAX_MS=1000
export ACK_TIMEOUT_MS BACKOFF_MAX_MS
proxied_setup 2 27922 || not_ok "setup"
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
N=$((200 * FAULT_SCALE))
backup_pending a1 27922 "$N"
load 1 "$N"                                      # both agents
check "all delivered before the disk dies" wait_for 60 drained_all
restore_backup a1
proxy_set "delay_ms=300"
: > "$T/a1/log"
agent_start a1
check "the restored agent connects and says Hello" wait_for 30 grep -q 'event=hello_sent' "$T/a1/log"
kill -STOP "$agg_PID"; fault "aggregator SIGSTOP for $STALL_S s, a Hello in flight"
check "Hellos time out behind the stall" wait_for 20 sh -c "[ \$(grep -c 'event=hello_timeout' '$T/a1/log') -ge 2 ]"
sleep "$STALL_S"
kill -CONT "$agg_PID"; diag "aggregator continued after $(hellos a1) Hellos"
proxy_set ""
check "the restored agent syncs after the stall" wait_for 30 grep -q 'event=synced' "$T/a1/log"
load 2 "$N"                                      # after the probe: see 12
check "every outbox drains after the stall" wait_for 60 drained_all
check "the restored rows were matched, not renumbered" sh -c "grep -q 'event=probe_matched' '$T/a1/log' && ! grep -q 'event=renumbered' '$T/a1/log'"
no_content_twice
finish "stall with a restored agent: no loss, no duplicate"
