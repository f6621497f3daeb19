#!/bin/bash
# Issue 3, transport: CURVE + ZAP on every agent<->aggregator connection.
# An unknown key, a revoked key (new connection, and an agent that was
# already connected when it was revoked) and a client without CURVE cannot
# deliver a single update (checked in the database), the operator sees why
# (log + knock table: refused handshakes grouped per key and address),
# and a batch signed by A over a connection
# authenticated as B is rejected. Over TCP on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
# at_least_one CMD...: the count CMD prints is >= 1 (run again at each poll).
at_least_one() { [ "$("$@")" -ge 1 ] 2>/dev/null; }
# Create each agent's database before its daemon starts: a first open by
# the daemon and a `submit` at the same instant can race on the WAL switch.
prime() { for a in "$@"; do agent "$a" receipts > /dev/null 2>&1; done; }
echo "1..32"
BADPEER=$BUILD/tools/badpeer
# A port below the ephemeral range (32768+) that nothing uses right now.
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
# No HTTP here (its default port may be taken by another test).
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
agent_init good 27901
agent_init live 27904              # connected, then revoked
agent_init evil 27913              # enrolled; used for the nocurve client
agent_init alice 27898             # A: signs
agent_init bob 27907               # B: owns the connection
agent_init rev 27910               # revoked before it ever connects
mkdir -p "$T/stranger"
"$AGENT" --state-dir "$T/stranger/state" keygen > /dev/null   # never enrolled
agg agg revoke "$(cat "$T/rev/pubid")" > /dev/null
agg_start agg
prime good live
agent_start good
agent_start live
db=$(agg_db agg)
SRV=$(cat "$T/agg/pubid")
bp() { "$BADPEER" "$agg_EP" "$SRV" "$1" "$2" ${3:-}; }
key() { echo "$T/$1/state/agent.key"; }
values_of() { aggq agg "SELECT count(*) FROM datavalue WHERE org_unit = '$1';"; }
rejects() { aggq agg "SELECT count(*) FROM reject WHERE code = $1 ${2:+AND $2};"; }
knocks() { aggq agg "SELECT count(*) FROM knock WHERE code = $1 ${2:+AND $2};"; }
logged() { grep -q -- "$1" "$T/agg/log"; }

agent good submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 1 > /dev/null
check "an enrolled agent syncs over CURVE" wait_for 20 outbox_empty good
check "the aggregator says CURVE is on" logged "curve=on"
# Secrets hygiene: neither daemon can write a core file (cds_harden.h).
nocore() { grep -Eq '^Max core file size +0 +0 ' "/proc/$1/limits"; }
check "the aggregator runs with core dumps disabled" nocore "$agg_PID"
check "the agent runs with core dumps disabled" nocore "$good_PID"

# 1. Unknown key: the handshake itself is refused (ZAP), nothing arrives.
expect_eq "unknown key: no answer" "$(bp "$(key stranger)" good 27916)" "noreply"
expect_eq "unknown key: nothing applied" "$(values_of 27916)" 0
check "unknown key: knock recorded (unknown_key, curve key and address)" \
    wait_for 5 at_least_one knocks 8 "length(curve_pk) = 32 AND address = '127.0.0.1'"
check "unknown key: operator log names the reason" logged "event=zap_denied reason=unknown_key"

# 2. Revoked before connecting: same, with reason revoked.
expect_eq "revoked key: no answer" "$(bp "$(key rev)" good 27910)" "noreply"
expect_eq "revoked key: nothing applied" "$(values_of 27910)" 0
check "revoked key: ZAP denial recorded with the agent's key" \
    wait_for 5 at_least_one knocks 9 "curve_pk = (SELECT curve_pk FROM agent WHERE revoked_at_ms != 0 AND label = 'rev')"
check "revoked key: operator log names the reason" logged "event=zap_denied reason=revoked"

# 3. A client without CURVE, even with an enrolled signing key. Which side
# notices the mechanism mismatch first is a race: the aggregator records
# either "mechanism_mismatch" or "connection closed during handshake".
expect_eq "client without CURVE: no answer" "$(bp "$(key evil)" nocurve 27913)" "noreply"
expect_eq "client without CURVE: nothing applied" "$(values_of 27913)" 0
check "client without CURVE: handshake failure recorded" \
    wait_for 5 at_least_one knocks 5 "length(curve_pk) = 0"
check "client without CURVE: operator log names the reason" logged "event=handshake_failed"
expect_eq "control: the same key with CURVE is accepted" \
    "$(bp "$(key evil)" good 27913)" "ack ok ok acked=1 rejections="

# 4. Signed by A, sent over a connection authenticated as B.
expect_eq "A's batch over B's connection: no answer" \
    "$(BADPEER_TRANSPORT_KEY=$(key bob) bp "$(key alice)" blind 27898)" "noreply"
expect_eq "A's batch over B's connection: nothing applied" "$(values_of 27898)" 0
check "A's batch over B's connection: key_mismatch recorded" \
    wait_for 5 at_least_one rejects 10 "message LIKE '%connection authenticated as%'"
# 4b. A forgery: B's connection, a batch naming A with a signature that
# does not verify. No answer at all (no refusal signed for A sent to B),
# recorded key_mismatch, not bad_signature.
nbad=$(rejects 7 "1")
expect_eq "a forgery naming A over B's connection: no answer" \
    "$(BADPEER_TRANSPORT_KEY=$(key bob) bp "$(key alice)" forge 27898)" "noreply"
check "... recorded key_mismatch" \
    wait_for 5 at_least_one rejects 10 "message LIKE 'claims signer%'"
expect_eq "... and not as bad_signature" "$(rejects 7 "1")" "$nbad"
expect_eq "control: A's batch over A's connection is accepted" \
    "$(bp "$(key alice)" blind 27898)" "ack ok ok acked=1 rejections="
expect_eq "bob applied nothing" "$(aggq agg "SELECT applied_seq FROM agent WHERE label = 'bob';")" 0

# 5. An agent already connected when revoked is cut off within seconds.
agent live submit --org-unit 27904 --indicator TTHC_TONG --period 202501 --value 1 > /dev/null
check "live agent syncs before revocation" wait_for 20 outbox_empty live
before=$(aggq agg "SELECT applied_seq FROM agent WHERE label = 'live';")
agg agg revoke "$(cat "$T/live/pubid")" > /dev/null
t0=$(date +%s%N)
agent live submit --org-unit 27904 --indicator TTHC_TONG --period 202502 --value 2 > /dev/null
agent live submit --org-unit 27904 --indicator TTHC_TONG --period 202503 --value 3 > /dev/null
live_pk_hex=$(aggq agg "SELECT hex(sign_pk) FROM agent WHERE label = 'live';")
check "revoked live agent: its next message is refused within 5 s" \
    wait_for 5 at_least_one rejects 9 "hex(agent_pk) = '$live_pk_hex' AND field = 'signer'"
t1=$(date +%s%N)
diag "revocation cut-off observed after $(( (t1 - t0) / 1000000 )) ms"
expect_eq "revoked live agent: nothing more applied (applied_seq)" \
    "$(aggq agg "SELECT applied_seq FROM agent WHERE label = 'live';")" "$before"
expect_eq "revoked live agent: nothing more applied (values)" "$(values_of 27904)" 1
check "revoked live agent: no ack, its outbox keeps the rows" [ "$(agent_depth live)" -ge 2 ]

# The good agent was never disturbed.
agent good submit --org-unit 27901 --indicator TTHC_TONG --period 202502 --value 2 > /dev/null
check "the good agent keeps syncing" wait_for 20 outbox_empty good
check "the aggregator is still running" kill -0 "$agg_PID"
