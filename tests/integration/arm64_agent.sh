#!/bin/bash
# Issue 18 item 4: the ARM64 agent (cross-built by `make arm64`, run here
# under qemu-user) syncs with the native aggregator over TCP on 127.0.0.1:
# keygen, enroll, submit, run until every value is acked, status says so,
# and each value is exactly once in the aggregator's history, also after
# the daemon's restart. Seen only from outside: the programs' output and
# the two SQLite files (the arm64 agent's outbox is read by the native
# sqlite3: the format is the same).
# `make arm64-test` runs it with ARM64_AGENT set; without it (`make test`)
# it skips, so the suite does not pay qemu's time.
. "$(dirname "$0")/lib.sh"
if [ -z "${ARM64_AGENT:-}" ]; then
    echo "1..1"
    echo "ok 1 # skip ARM64_AGENT not set (make arm64-test runs this)"
    exit 0
fi
echo "1..12"
case "$ARM64_AGENT" in /*) ;; *) ARM64_AGENT=$TOP/$ARM64_AGENT ;; esac
# The :arm64 libraries are multiarch, under /usr/lib/aarch64-linux-gnu:
# the loader's prefix is / (docs/AGENT.md "ARM64 boxes").
QEMU=${QEMU:-qemu-aarch64}
AGENT=$T/arm64-agent
printf '#!/bin/sh\nexec %s -L / "%s" "$@"\n' "$QEMU" "$ARM64_AGENT" > "$AGENT"
chmod +x "$AGENT"

# e_machine, bytes 18-19 of the ELF header: 0xb7 is AArch64.
expect_eq "the agent under test is an AArch64 binary" \
    "$(od -An -tx1 -j18 -N2 "$ARM64_AGENT" | tr -d ' ')" b700
expect_eq "the aggregator is a native one" \
    "$(od -An -tx1 -j18 -N2 "$AGG" | tr -d ' ')" \
    "$(od -An -tx1 -j18 -N2 "$(command -v sh)" | tr -d ' ')"

port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
check "arm64 keygen and enroll" agent_init a1 27901
check "keygen printed a public identity" grep -qx 'cds1:[A-Za-z0-9_-]*' "$T/a1/pubid"

agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null &&
agent a1 submit --org-unit 27901 --indicator NTM8_4 --period 2024 --value có > /dev/null &&
agent a1 submit --org-unit 27901 --indicator HGD_CAPQUANG_SO --period 2025Q2 --value 1850 \
    --comment "Ấp 3, đo lại" > /dev/null
check "three submits accepted by the arm64 agent" [ $? = 0 ]
expect_eq "three values queued" "$(agent_depth a1)" 3

agg_start agg
agent_start a1
# qemu runs the agent several times slower than native: a wider bound.
check "the arm64 daemon's outbox drains (acked)" wait_for 120 outbox_empty a1

st=$(agent a1 status --json 2>"$T/status.err")
diag "status: $(printf '%s' "$st" | jq -c '{running, state, queue, last_seq, acked_seq, health}')"
expect_eq "status --json: running, queue empty, seqs 1-3 acked, OK" \
    "$(printf '%s' "$st" | jq -r '"\(.running) \(.queue.depth) \(.last_seq) \(.acked_seq) \(.health.state)"')" \
    "true 0 3 3 OK"

expect_eq "each value once in the aggregator's history" \
    "$(aggq agg "SELECT count(*), count(DISTINCT agent_id || ':' || seq) FROM update_log;")" "3|3"
out=$(agg agg query --org-unit 27901 --format csv)
diag "$out"
expect_eq "the district has the three values, the comment's UTF-8 intact" \
    "$(printf '%s\n' "$out" | tail -n +2 | grep -c .):$(printf '%s\n' "$out" | grep -c 'Ấp 3, đo lại')" "3:1"
# A restarted arm64 daemon connects again and sends nothing twice.
since=$(printf '%s' "$st" | jq -r .state_since_ms)
agent_stop a1
agent_start a1
# Connected by the new daemon: agent.state written after the first one's.
connected() {
    agent a1 status --json 2>/dev/null \
        | jq -e --argjson t "$since" '.running and .state == "connected" and .state_since_ms > $t'
}
check "the restarted arm64 daemon connects again" wait_for 120 connected
expect_eq "after the restart, still each value once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT agent_id || ':' || seq) FROM update_log;")" "3|3"
agent_stop a1
