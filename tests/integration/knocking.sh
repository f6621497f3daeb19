#!/bin/bash
# Operations, who is knocking: refused handshakes are grouped per (client
# CURVE key, peer address) in the knock table, not one reject row per
# attempt, and `health` lists them with the commune a revoked key was
# enrolled for. Real processes over TCP on 127.0.0.1; badpeer's "knock"
# case reconnects every 10 ms, like a commune that keeps retrying.
. "$(dirname "$0")/lib.sh"
echo "1..14"
BADPEER=$BUILD/tools/badpeer
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
agent_init good 27901              # enrolled: used with a wrong server key
agent_init rev 27910               # revoked: keeps trying
mkdir -p "$T/stranger"
STRANGER=$("$AGENT" --state-dir "$T/stranger/state" keygen)   # never enrolled
agg agg revoke "$(cat "$T/rev/pubid")" > /dev/null
agg_start agg
db=$(agg_db agg)
SRV=$(cat "$T/agg/pubid")
key() { echo "$T/$1/state/agent.key"; }
knock() { BADPEER_COUNT=$3 "$BADPEER" "$agg_EP" "$1" "$2" knock; }
health_rc() { agg agg health > /dev/null 2>&1; echo $?; }
rc_before=$(health_rc)

expect_eq "revoked key: 200 connections made" \
    "$(knock "$SRV" "$(key rev)" 200)" "knock connected=200"
expect_eq "unknown key: 50 connections made" \
    "$(knock "$SRV" "$T/stranger/state/agent.key" 50)" "knock connected=50"
expect_eq "wrong server key: 50 connections made" \
    "$(knock "$STRANGER" "$(key good)" 50)" "knock connected=50"

# Counts reach the database within AUTH_KNOCK_WRITE_MS (10 s) of the last
# attempt; each group is one row however many attempts.
sum() { aggq agg "SELECT coalesce(sum(count), 0) FROM knock WHERE $1;"; }
sum_ge() { test "$(sum "$1")" -ge "$2"; }   # re-read at every poll
rev_sql="code = 9 AND curve_pk = (SELECT curve_pk FROM agent WHERE label = 'rev')"
check "revoked key: every attempt counted" wait_for 30 sum_ge "$rev_sql" 200
check "unknown key: every attempt counted" wait_for 30 sum_ge "code = 8" 50
check "wrong server key: failures counted without a key" \
    wait_for 30 sum_ge "length(curve_pk) = 0" 50
rows=$(aggq agg "SELECT count(*) FROM knock;")
diag "knock rows: $rows"
check "300 attempts, at most a few rows (got $rows)" test "$rows" -le 4
expect_eq "no reject row per attempt" "$(aggq agg "SELECT count(*) FROM reject;")" 0

out=$(agg agg health)
diag "$(echo "$out" | sed -n '/knocking/,$p')"
check "health lists the revoked key with its commune" \
    grep -Eq "revoked key +rev \[27910\] +127\.0\.0\.1 +2[0-9][0-9]" <<< "$out"
check "health lists the unknown key" grep -q "unknown key .* 127\.0\.0\.1" <<< "$out"
# The address of a failed handshake is read when the main loop takes the
# connection's accept event; a connection already closed by then is
# "unknown" (docs/OPERATIONS.md; under ASan on a loaded machine all 50
# were). Any address it does give is the peer's.
hf=$(grep -E "^- +handshake failed " <<< "$out" | awk '{ print $5 }' | sort -u | tr '\n' ' ')
check "health lists the wrong server key by address: 127.0.0.1 or unknown (got: $hf)" \
    eval '[ -n "$hf" ] && [ -z "$(echo $hf | tr " " "\n" | grep -Ev "^(127\.0\.0\.1|unknown)$")" ]'
json=$(agg agg health --format json)
expect_eq "health json: the revoked key's commune" \
    "$(jq -r '.[] | select(.knock and .reason == "revoked key") | .enrolled_as.label + " " + .enrolled_as.org_units + " " + .address' <<< "$json")" \
    "rev 27910 127.0.0.1"
expect_eq "health json: agents unchanged (knocks have no label)" \
    "$(jq -r '[.[] | select(.label == "rev")] | length' <<< "$json")" 1
expect_eq "health exit code unchanged by knocks" "$(health_rc)" "$rc_before"
