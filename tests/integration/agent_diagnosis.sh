#!/bin/bash
# A commune that stops syncing says why (docs/OPERATIONS.md "Agent
# status"): the agent reads ZeroMQ's socket monitor and tells apart
# (1) nobody listening at the endpoint: `status` WARNING "unreachable"
#     naming the endpoint, CRITICAL past agent.status_disconnected_ms, and
#     a warn-level log line with the endpoint (the agent runs at
#     log_level=warn);
# (2) a wrong server_key and (3) a key the aggregator does not know: the
#     CURVE handshake is refused, "handshake_failed";
# (4) once the aggregator is up / the key enrolled, status is OK again;
# (5) a key revoked while connected: the aggregator answers one signed
#     Notice and drops the rest; status says "revoked" (CRITICAL) with the
#     date (more in agent_reasons.sh).
# Advice is Vietnamese by default, English with agent.lang = en.
. "$(dirname "$0")/lib.sh"
echo "1..14"
port=$(free_port)
EP="tcp://127.0.0.1:$port"
agg_init agg "$EP"
agg_init other "ipc://$T/other.sock"          # never started: only its key
LOG_LEVEL=warn agent_init a1 27916
LOG_LEVEL=warn agent_init a2 27916
sed -i "s|^server_key = .*|server_key = $(cat "$T/other/pubid")|" "$T/a2/agent.ini"
# a3: configured like a1 but never enrolled at the aggregator.
mkdir -p "$T/a3"
sed "s|$T/a1/|$T/a3/|; s|can.bo.a1|can.bo.a3|" "$T/a1/agent.ini" > "$T/a3/agent.ini"
agent a3 keygen --label a3 > "$T/a3/pubid"

# status_has NAME PATTERN: `status` of NAME matches PATTERN (extended).
status_has() { agent "$1" status 2>/dev/null | grep -Eq "$2"; }
status_rc() { agent "$@" status > /dev/null 2>&1; echo $?; }

# (1) no aggregator listening
agent_start a1
check "unreachable: status names the state and the endpoint" wait_for 20 \
    status_has a1 "^health: +WARNING \(unreachable: .*$EP"
agent a1 status > "$T/s1.out" 2>&1; rc=$?
diag "$(grep health "$T/s1.out")"
expect_eq "unreachable: WARNING at once (exit 1), not OK" "$rc" 1
check "the advice is Vietnamese by default" \
    grep -q "Không kết nối được máy chủ tổng hợp $EP" "$T/s1.out"
check "agent.lang = en: English advice" \
    sh -c "'$AGENT' -c '$T/a1/agent.ini' --lang en status | grep -q 'Cannot reach the aggregator at $EP: check the network link'"
expect_eq "CRITICAL past the not-connected threshold" \
    "$(status_rc a1 --status-disconnected-ms 0)" 2
check "the log says it at warn with the endpoint and the kernel's reason" \
    grep -Eq "level=warn .*event=unreachable endpoint=\"?$EP\"? error=\"Connection refused\"" "$T/a1/log"

# (4, first half) the aggregator comes up
agg_start agg
check "aggregator up: status returns to OK" wait_for 30 status_has a1 "^health: +OK"
check "the recovery is logged at warn" \
    grep -Eq "level=warn .*event=reconnected endpoint=\"?$EP" "$T/a1/log"

# (2) wrong server_key
agent_start a2
check "wrong server_key: status says the handshake was refused" wait_for 30 \
    status_has a2 "^health: +WARNING \(handshake_failed: .*$EP"
check "wrong server_key: warn log with the endpoint and both causes" \
    grep -Eq "level=warn .*event=handshake_failed endpoint=\"?$EP.*not enrolled or was revoked" "$T/a2/log"
diag "$(grep -m1 handshake_failed "$T/a2/log")"

# (3) not enrolled, (4) then enrolled
agent_start a3
check "not enrolled: handshake refused" wait_for 30 \
    status_has a3 "^health: +WARNING \(handshake_failed: .*$EP"
agent a3 --lang en status > "$T/s3.out" 2>&1
diag "$(grep health "$T/s3.out")"
check "the advice names both causes" grep -q "server_key.*enroll" "$T/s3.out"
agg agg enroll "$(cat "$T/a3/pubid")" --org-unit 27916 --label a3 > /dev/null
check "enrolled: status returns to OK" wait_for 40 status_has a3 "^health: +OK"

# revoked at the district while connected: told by a signed Notice (it
# used to be dropped silently until a redial's handshake was refused).
agg agg revoke "$(cat "$T/a3/pubid")" > /dev/null
agent a3 submit --org-unit 27916 --indicator TTHC_TONG --period 202401 --value 7 > /dev/null
check "revoked while connected: status says revoked, not handshake_failed" wait_for 60 \
    status_has a3 "^health: +CRITICAL \(revoked: .* $(date -u +%Y-%m-%d) "
diag "$(grep -m1 'event=revoked' "$T/a3/log")"
