#!/bin/bash
# Issue 19 item 2: CDS_TRACE (common/cds_trace.h). Without it the agent,
# `submit` and the aggregator write no trace at all; with it one submitted
# update leaves every line tests/bench/trace_steps.py follows (submit,
# agent_wake, agent_read, agent_sent, agg_batch, agent_ack,
# agent_recorded) with the fields it reads, in the order they happened,
# and the script follows the update from submit to ack recorded.
. "$(dirname "$0")/lib.sh"
echo "1..12"
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
agent_init a1 27901
TR=$T/trace

# --- off: no CDS_TRACE in any process ------------------------------------
unset CDS_TRACE
agg_start agg
agent_start a1
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null
check "off: the update is synced" wait_for 20 outbox_empty a1
agent_stop a1
agg_stop agg
check "off: no trace file anywhere in the test dir" \
    [ -z "$(find "$T" -name 'trace*' -print -quit)" ]

# --- on: the same three processes share one file -------------------------
export CDS_TRACE=$TR
agg_start agg
agent_start a1
check "on: agent reconnected" wait_for 20 \
    sh -c "[ \"\$(sqlite3 -batch -noheader '$(agent_db a1)' 'PRAGMA busy_timeout=2000; SELECT conn_state FROM meta;' | tail -1)\" = connected ]"
check "on: submit accepted" agent a1 submit --org-unit 27901 --indicator TO_CNSCD_TV --period 2025Q2 --value 8
check "on: the update is synced" wait_for 20 outbox_empty a1
check "on: the ack was recorded" wait_for 10 grep -q ' agent_recorded acked=' "$TR"
agent_stop a1
agg_stop agg
unset CDS_TRACE
diag "$(cat "$TR")"

# Every line: "MICROSECONDS EVENT key=value...".
check "every line is US EVENT key=value" \
    awk 'NF < 2 || $1 !~ /^[0-9]+$/ || $2 !~ /^[a-z_]+$/ { bad = 1 }
         { for (i = 3; i <= NF; i++) if ($i !~ /^[a-z_]+=[0-9]+$/) bad = 1 }
         END { exit bad || NR == 0 }' "$TR"
s=$(awk '$2 == "submit" { for (i = 3; i <= NF; i++) if ($i ~ /^seq=/) print substr($i, 5) }' "$TR" | tail -1)
check "submit line with seq and begin" grep -Eq "^[0-9]+ submit seq=$s begin=[0-9]+$" "$TR"
# The events of that update, each once, with their fields. Lines of two
# processes land in the file in whatever order they were written (the
# aggregator writes agg_batch after its replies went out, and the agent
# may write agent_ack before that), so the file's order is not checked:
# the next check compares the times that causality orders.
events=$(awk -v s="$s" '
    function has(k) { for (i = 3; i <= NF; i++) if ($i ~ "^" k "=") return 1; return 0 }
    function val(k) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2) + 0; return -1 }
    $2 == "submit" && val("seq") == s { n["submit"]++ }
    $2 == "agent_read" && val("first") <= s && s <= val("last") { n["read"]++ }
    $2 == "agent_sent" && val("first") <= s && s <= val("last") { n["sent"]++ }
    $2 == "agg_batch" && val("first") <= s && s <= val("last") &&
        has("recv") && has("take") && has("begin") && has("commit") &&
        has("mark") && has("reply") { n["agg"]++ }
    $2 == "agent_ack" && val("first") <= s && s <= val("last") &&
        has("acked") && val("status") == 0 { n["ack"]++ }
    $2 == "agent_recorded" && val("acked") >= s && !rec { n["recorded"]++; rec = 1 }
    END { split("submit read sent agg ack recorded", k, " ")
          for (j = 1; j <= 6; j++) printf "%s=%d ", k[j], n[k[j]] }' "$TR")
expect_eq "one update's lines, each once" "$events" \
    "submit=1 read=1 sent=1 agg=1 ack=1 recorded=1 "
check "the daemon said it was woken" grep -Eq '^[0-9]+ agent_wake ' "$TR"
# One CLOCK_MONOTONIC for all three processes: what one process did before
# another could see it is earlier. submit began before the agent read the
# update; the agent read it (and stamped agent_read) before sending, so
# before the aggregator received it; the aggregator's mark came before its
# reply, so before the agent verified the ack; within each process the
# steps are in program order. (agent_sent and reply are stamped after the
# send returns, so they may come after the other side's next stamp.)
check "steps in causal order across the three processes" awk -v s="$s" '
    function val(k) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2) + 0; return -1 }
    $2 == "submit" && val("seq") == s { b = val("begin"); c = $1 }
    $2 == "agent_read" && val("first") <= s && s <= val("last") { rd = $1 }
    $2 == "agent_sent" && val("first") <= s && s <= val("last") { sent = $1 }
    $2 == "agent_ack" && val("first") <= s && s <= val("last") { ack = $1 }
    $2 == "agent_recorded" && val("acked") >= s && !rec { rec = $1 }
    $2 == "agg_batch" && val("first") <= s && s <= val("last") {
        ok = val("recv") <= val("take") && val("begin") <= val("take") &&
             val("take") <= val("commit") && val("commit") <= val("mark") &&
             val("mark") <= val("reply"); r = val("recv"); m = val("mark") }
    END { exit !(ok && b && c && rd && sent && ack && rec &&
                 b <= c && b <= rd && rd <= sent && rd <= r && m <= ack &&
                 ack <= rec) }' "$TR"
out=$(/usr/bin/python3 "$TOP/tests/bench/trace_steps.py" "$TR" 0)
diag "$out"
check "trace_steps.py follows the update end to end" \
    [ "$(printf '%s\n' "$out" | awk '$1 == "total" { print $4 }')" -ge 1 ]
