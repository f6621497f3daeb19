#!/bin/bash
# Issue 3, key lifecycle: keygen/enroll/agents print nothing secret;
# enroll is idempotent; the agent listing shows fingerprints; an admin
# rotates a commune to a new key with `enroll NEW --replaces OLD` (old
# revoked and linked, same org units), and history keeps which identity
# signed which update; the whole database still verifies.
. "$(dirname "$0")/lib.sh"
# Create each agent's database before its daemon starts: a first open by
# the daemon and a `submit` at the same instant can race on the WAL switch.
prime() { for a in "$@"; do agent "$a" receipts > /dev/null 2>&1; done; }
echo "1..15"
agg_init agg
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
agent_init a1 27901
db=$(agg_db agg)
# secrets FILE: the base64 secret values of an identity file, one a line.
secrets() { sed -n 's/^\(sign\|curve\)_secret = //p' "$1"; }
no_secret_in() { # TEXT-FILE IDENTITY-FILE...
    f=$1; shift
    for id in "$@"; do
        for s in $(secrets "$id"); do grep -qF -- "$s" "$f" && return 1; done
    done
    return 0
}
AKEY=$T/a1/state/agent.key
GKEY=$T/agg/state/aggregator.key
check "identity files are mode 0600" eval '[ "$(stat -c %a "$AKEY")" = 600 ] && [ "$(stat -c %a "$GKEY")" = 600 ]'
check "the secrets are really in the key files (test is meaningful)" eval '[ "$(secrets "$AKEY" | wc -l)" = 2 ]'
cp "$T/a1/pubid" "$T/out.keygen"
check "keygen printed only the public identity" eval 'grep -qx "cds1:[A-Za-z0-9_-]*" "$T/out.keygen" && no_secret_in "$T/out.keygen" "$AKEY"'

PUB=$(cat "$T/a1/pubid")
agg agg enroll "$PUB" --org-unit 27901 --label a1 > "$T/out.enroll1" 2>&1
e1=$?
agg agg enroll "$PUB" --org-unit 27901 --label a1 > "$T/out.enroll2" 2>&1
e2=$?
expect_eq "enroll again: same result (idempotent)" "$e1:$e2:$(grep -v '^ts=' "$T/out.enroll1")" \
    "0:0:$(grep -v '^ts=' "$T/out.enroll2")"
expect_eq "  ... still one agent" "$(aggq agg "SELECT count(*) FROM agent;")" 1
agg agg agents > "$T/out.agents" 2>&1
agg agg agents --json > "$T/out.agents.json" 2>&1
OLD=$(aggq agg "SELECT fpr FROM agent WHERE label = 'a1';")
check "agents lists the fingerprint" grep -q "$OLD" "$T/out.agents"
check "enroll and agents print nothing secret" eval 'no_secret_in "$T/out.enroll1" "$AKEY" "$GKEY" && no_secret_in "$T/out.agents" "$AKEY" "$GKEY" && no_secret_in "$T/out.agents.json" "$AKEY" "$GKEY"'

agg_start agg
prime a1
agent_start a1
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 1 > /dev/null
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202502 --value 2 > /dev/null
check "old key delivers" wait_for 20 outbox_empty a1
agent_stop a1

# Rotation: a new identity in a fresh state dir, enrolled by the admin.
mkdir -p "$T/a1new"
sed "s#$T/a1/state#$T/a1new/state#" "$T/a1/agent.ini" > "$T/a1new/agent.ini"
"$AGENT" -c "$T/a1new/agent.ini" keygen --label a1 > "$T/a1new/pubid"
out=$(agg agg enroll "$(cat "$T/a1new/pubid")" --replaces "$OLD" 2>&1)
NEW=$(aggq agg "SELECT fpr FROM agent WHERE revoked_at_ms IS NULL;")
check "rotation prints the new key and the one it replaces" eval 'printf "%s" "$out" | grep -q "enrolled $NEW .*org_units=27901 replaces=$OLD"'
expect_eq "old key revoked and linked to the new one" \
    "$(aggq agg "SELECT CASE WHEN revoked_at_ms IS NOT NULL THEN 1 ELSE 0 END || ':' || (SELECT fpr FROM agent n WHERE n.id = o.replaced_by) FROM agent o WHERE fpr = '$OLD';")" "1:$NEW"
expect_eq "new key has the old one's org units" \
    "$(aggq agg "SELECT group_concat(org_unit) FROM agent_orgunit u JOIN agent a ON a.id = u.agent_id WHERE a.fpr = '$NEW';")" 27901
prime a1new
agent_start a1new
agent a1new submit --org-unit 27901 --indicator TTHC_TONG --period 202502 --value 3 > /dev/null
check "new key delivers" wait_for 20 outbox_empty a1new
expect_eq "history keeps which identity signed which update" \
    "$(aggq agg "SELECT group_concat(x, ' ') FROM (SELECT a.fpr || '/' || l.seq || '/' || l.value AS x FROM update_log l JOIN agent a ON a.id = l.agent_id ORDER BY l.received_at_ms, l.seq) AS o;")" \
    "$OLD/1/1 $OLD/2/2 $NEW/1/3"
expect_eq "the newest value wins" "$(aggq agg "SELECT value FROM datavalue WHERE period = '202502';")" 3
check "the rotated database verifies clean" eval '"$AGG" -c "$T/agg/aggregator.ini" verify > /dev/null'
