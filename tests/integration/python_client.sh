#!/bin/bash
# docs/PROTOCOL.md is enough to write a client: tests/python/client.py,
# written from the document only, creates an identity the aggregator
# enrols, syncs over CURVE on 127.0.0.1, and gets exactly the answers the
# document promises (re-ack of a resend, per-update rejection codes,
# ACK_GAP, ACK_REFUSED chain_broken, request-id echo, probe results, the
# published metadata version, fetched scoped and signed for the client).
# Then the aggregator holds every value exactly once, `verify` is clean,
# and a receipt the Python client kept verifies with cdsync-agent.
. "$(dirname "$0")/lib.sh"
echo "1..29"
CLIENT=$TOP/tests/python/client.py
# Debian's interpreter: python3-zmq/-nacl/-protobuf (deploy/deps.sh) are
# installed for it, not for a python3 that PATH may put first.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import zmq, nacl.signing, google.protobuf' 2>/dev/null \
    || ! command -v protoc > /dev/null; then
    not_ok "python3-zmq, python3-nacl, python3-protobuf and protoc are installed (deploy/deps.sh)"
    exit 1
fi
# Generated at test time, never committed.
export CDSYNC_PB_DIR=$T/pb
mkdir -p "$CDSYNC_PB_DIR" "$T/receipts"
protoc --python_out="$CDSYNC_PB_DIR" -I "$TOP/proto" cdsync.proto

# The document's test vectors are what this implementation computes.
vec=$("$PY" "$CLIENT" vectors)
diag "$vec"
missing=$(printf '%s\n' "$vec" | while read -r name v; do
    grep -qF -- "$v" "$TOP/docs/PROTOCOL.md" || echo "$name"; done)
expect_eq "PROTOCOL.md prints the test vectors the Python client computes" \
    "$(printf '%s\n' "$vec" | wc -l):$missing" "6:"

port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
AGGPUB=$(cat "$T/agg/pubid")
agg_start agg

# Identities: the Python client writes the documented file format; it
# reads the C-written one of the aggregator to the same cds1: string.
pypub=$("$PY" "$CLIENT" keygen --identity "$T/py.key" --label py-27901)
check "Python keygen prints a cds1: identity" \
    [ "${pypub#cds1:}" != "$pypub" ] && [ ${#pypub} = 91 ]
expect_eq "identity file is mode 0600" "$(stat -c %a "$T/py.key")" 600
expect_eq "Python reads the C identity file to the same cds1:" \
    "$("$PY" "$CLIENT" pubid --identity "$T/agg/state/aggregator.key")" "$AGGPUB"
check "aggregator enrols the Python identity" \
    agg agg enroll "$pypub" --org-unit 27901 --label py-27901
# One published metadata version: the HelloAnswer names it
# (metadata_latest, PROTOCOL.md "Metadata").
mkdir -p "$T/meta"
cp "$TOP/deploy/catalog.csv" "$TOP/deploy/orgunits.csv" "$TOP/deploy/orgunit_map.csv" "$T/meta/"
agg agg metadata publish "$T/meta" --yes > /dev/null 2>&1

"$PY" "$CLIENT" scenario --identity "$T/py.key" --server-key "$AGGPUB" \
    --endpoint "tcp://127.0.0.1:$port" --catalog "$CATALOG" \
    --org-unit 27901 --count 250 --batch 100 --receipts "$T/receipts" \
    --expected "$T/expected.tsv" > "$T/scenario.out" 2> "$T/scenario.err"
rc=$?
sed 's/^/# /' "$T/scenario.out" "$T/scenario.err"
expect_eq "scenario ran to the end" "$rc" 0
line() { grep "^step=$1 " "$T/scenario.out" | head -1; }
expect_eq "hello of a new agent: applied 0" \
    "$(line hello)" "step=hello applied=0 error=0 matched=0 mismatch=0 resend_from=0 metadata_latest=1"
expect_eq "three batches of good updates: ACK_OK, no rejection" \
    "$(grep '^step=sync ' "$T/scenario.out" | head -3 | cut -d' ' -f2- | tr '\n' ';')" \
    "status=ACK_OK acked=100 error=0 rejections=-;status=ACK_OK acked=200 error=0 rejections=-;status=ACK_OK acked=250 error=0 rejections=-;"
expect_eq "resend of an acked batch: re-acked at applied, no effect" \
    "$(line resend)" "step=resend status=ACK_OK acked=250 error=0 rejections=-"
expect_eq "bad values: per-update bad_value (15) and out_of_range (16)" \
    "$(line bad_values)" "step=bad_values status=ACK_OK acked=253 error=0 rejections=252:15,253:16"
expect_eq "batch past applied+1: ACK_GAP with acked = applied" \
    "$(line gap)" "step=gap status=ACK_GAP acked=253 error=0 rejections=-"
expect_eq "resend from acked+1 after the gap" \
    "$(line after_gap)" "step=after_gap status=ACK_OK acked=260 error=0 rejections=-"
expect_eq "wrong head: ACK_REFUSED chain_broken (19), acked = applied" \
    "$(line bad_head)" "step=bad_head status=ACK_REFUSED acked=260 error=19 rejections=-"
expect_eq "the refused range sent again with its real head" \
    "$(grep '^step=sync ' "$T/scenario.out" | tail -1)" \
    "step=sync status=ACK_OK acked=262 error=0 rejections=-"
expect_eq "heartbeat answered with the applied seq" \
    "$(line heartbeat)" "step=heartbeat applied=262 metadata_latest=1"
expect_eq "metadata fetched, verified, scoped to 27901 and its ancestors" \
    "$(line metadata)" "step=metadata version=1 files=catalog.csv,orgunit_map.csv,orgunits.csv units=27901,80,801,VN"
meta_of_py() { [ "$(agg agg health --format json | jq -r '.[] | select(.label == "py-27901") | "\(.metadata_version) \(.metadata_latest)"')" = "1 1" ]; }
check "health: the heartbeat's metadata version 1, latest 1" wait_for 15 meta_of_py
expect_eq "an answer to an earlier request was ignored" \
    "$(line ignored)" "step=ignored count=1"
expect_eq "probe: highest match and lowest mismatch" \
    "$(line probe)" "step=probe applied=262 error=0 matched=262 mismatch=2 resend_from=0 metadata_latest=1"

# The aggregator's side: each update once, the right content.
db=$(agg_db agg)
expect_eq "history: 262 updates, seqs 1..262, each once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM update_log;")" \
    "262|262|1|262"
expect_eq "history: the two bad values recorded with their codes" \
    "$(aggq agg "SELECT group_concat(seq || ':' || status) FROM (SELECT seq, status FROM update_log WHERE status != 0 ORDER BY seq) AS x;")" \
    "252:15,253:16"
out=$(agg agg query --org-unit 27901 --no-subtree --format json)
expect_eq "query: 260 values" "$(jq '.dataValues | length' <<< "$out")" 260
# as stored: query shows a derived ratio (TTHC_ONLINE) from its counts,
# not as entered (docs/ADMIN.md "Data-quality rules")
got=$(aggq agg "SELECT indicator, period, value, coalesce(comment, ''), coalesce(stored_by, '') FROM datavalue WHERE org_unit = '27901' AND deleted = 0;" | tr '|' '\t' | sort)
want=$(sort "$T/expected.tsv")
check "store: every value as the client sent it (key, value, comment, storedby)" \
    [ "$got" = "$want" ]
[ "$got" = "$want" ] || diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -5 | sed 's/^/# /'
h=$(agg agg history --org-unit 27901 --indicator TTHC_ONLINE --period 190001 --format csv)
diag "$h"
expect_eq "history of one key: one change" "$(printf '%s\n' "$h" | tail -n +2 | grep -c .)" 1
v=$(agg agg verify 2>&1); vrc=$?
diag "$v"
expect_eq "verify is clean" "$vrc:$(printf '%s\n' "$v" | tail -1 | grep -c '; 0 problems$')" "0:1"
expect_eq "the refused batch is in the reject table as chain_broken" \
    "$(aggq agg "SELECT count(*) FROM reject WHERE code = 19;")" 1

# A receipt kept by the Python client is one for the C verifier too.
last=$(ls "$T/receipts" | sort | tail -1)
check "receipt $last verifies with cdsync-agent verify-receipt" \
    "$AGENT" -c /dev/null verify-receipt --file "$T/receipts/$last" \
    --server-key "$AGGPUB" --seq 262

# The C agent takes over the Python-written identity file (so the C loader
# accepts the documented format) and continues the same agent's chain:
# its first pending seq is below the applied 262, so it probes and
# renumbers to 263 (PROTOCOL.md "Agent state machine").
mkdir -p "$T/ca"
cat > "$T/ca/agent.ini" <<INI
[agent]
state_dir = $T/ca/state
identity = $T/py.key
catalog = $CATALOG
org_units = 27901
server = tcp://127.0.0.1:$port
server_key = $AGGPUB
ack_timeout_ms = 3000
backoff_max_ms = 2000
stored_by = can.bo.c
INI
"$AGENT" -c "$T/ca/agent.ini" submit --org-unit 27901 --indicator TO_CNSCD \
    --period 2025Q2 --value 7 > /dev/null
"$AGENT" -c "$T/ca/agent.ini" run >> "$T/ca/log" 2>&1 &
PIDS="$PIDS $!"; ca_pid=$!
applied() { [ "$(aggq agg "SELECT max(seq) FROM update_log;")" = 263 ]; }
check "the C agent with the Python identity file continues at seq 263" \
    wait_for 30 applied
kill -TERM "$ca_pid" 2>/dev/null; wait "$ca_pid" 2>/dev/null
expect_eq "verify is still clean" \
    "$(agg agg verify 2>&1 | tail -1 | grep -c '; 0 problems$')" 1
