#!/bin/bash
# Scenario 11: clock jumps and skew on agents (libfaketime on the agent's
# import/submit, where the hybrid logical clock stamps updates). Agents
# share an org unit, so they overwrite each other's keys and the merge
# order (effective hlc, agent_pk, agent_seq) decides (docs/DESIGN.md
# "Clock skew"). a1's clock jumps 3 days back then 20 hours forward, then
# back to true time; a2 runs 2 hours behind; a3 jumps 3 days forward once.
# The daemons run on true time, so these stamps are not shifted: those
# far ahead are clamped to arrival, none refused. Required: each agent's
# hlc increases with seq whatever its clock does, except where a stamp
# more than 5 min ahead of the (offset-corrected) clock is stepped back
# from (docs/PROTOCOL.md "Clock offset": logged hlc_step_back; the
# aggregator keeps one agent's effective stamps increasing); history ==
# queued; the table equals the last-writer-wins replay by effective
# stamp; nothing lost or refused. (Scenario 18: daemons on wrong clocks.)
. "$(dirname "$0")/lib.sh"
command -v faketime > /dev/null || { echo "not ok 1 - faketime missing (deploy/deps.sh)"; exit 1; }
agg_init agg
for i in 1 2 3; do fagent_init "a$i" 27919 || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
N=$((100 * FAULT_SCALE))
# ft_import OFFSET AGENT x ROUND: import under a faked clock.
ft_import() {
    gen_csv "$T/$2-$4.csv" 27919 "$N" 0 "$4"
    out=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 faketime -f "$1" "$AGENT" -c "$T/$2/agent.ini" import "$T/$2-$4.csv" 2>&1); rc=$?
    echo "$out" >> "$T/imports.log"
    r=$(echo "$out" | sed -n 's/^queued [0-9]* updates (seq \([0-9]*\)\.\.\([0-9]*\))$/\1 \2/p')
    [ "$rc" = 0 ] && [ -n "$r" ] && echo "$2 $r" >> "$T/cli_acked"
    [ "$1" = "+0" ] || fault "$2 clock at $1"
}
round=0
for step in "a1 +0" "a2 -2h" "a1 -3d" "a2 -2h" "a1 +20h" "a2 -2h" "a1 +0" "a3 +0" "a3 +3d" "a3 +0" "a1 +0" "a2 -2h"; do
    set -- $step; round=$((round + 1))
    ft_import "$2" "$1" x "$round"
done
check "outboxes drain" wait_for 60 drained_all
for a in $FAGENTS; do harvest "$a"; done
back() { # decreases of hlc along seq; $1: only those under 5 min (unexplained)
    sqlite3 "$T/acked.db" "SELECT count(*) FROM (SELECT label, hlc, lag(hlc) OVER (PARTITION BY label ORDER BY seq) AS p FROM acked) WHERE p IS NOT NULL AND hlc <= p ${1:+AND (p >> 16) - (hlc >> 16) <= 300000};"
}
expect_eq "each agent's hlc increases with seq but for step-backs over 5 min" "$(back small)" 0
expect_eq "... and each step back was logged" "$(back)" "$(grep -c 'event=hlc_step_back' "$T/imports.log")"
expect_eq "no update refused for its clock" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE status != 0;")" 0
diag "updates clamped to arrival (stamped too far ahead): $(aggq agg "SELECT count(*) FROM update_log WHERE message LIKE 'clamped:%';")"
finish "clock jumps: merge order right, nothing lost"
