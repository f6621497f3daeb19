#!/bin/bash
# The agent's clock offset (docs/PROTOCOL.md "Clock offset"): a commune PC
# whose clock is 10 minutes slow (libfaketime on the daemon and the CLI)
# measures the aggregator's clock from its answers, stores the offset,
# stamps submitted values with the aggregator's time, and `status` says
# SKEWED (exit 1) in plain words with what to do (Vietnamese, or English
# with --lang en); with agent.max_clock_skew_ms = 0 the check is off. A PC
# 2 h 03 min fast is told so in hours and minutes.
. "$(dirname "$0")/lib.sh"
echo "1..9"
[ -n "$FT_LIB" ] || { echo "not ok 1 - libfaketime missing (deploy/deps.sh)"; exit 1; }
ft_cli() { ft "-10m" "$@"; }
agg_init agg
agent_init a1 27916
agent_init a2 27913
agg_start agg
ft_agent_start a1 "-10m"      # its pid is the agent's: the cleanup stops it
offset() { sqlq "$(agent_db a1)" "SELECT clock_offset_ms FROM meta;"; }
measured() { o=$(offset); [ -n "$o" ] && [ "$o" -gt 590000 ] && [ "$o" -lt 610000 ]; }
check "the daemon measures the aggregator 10 min ahead" wait_for 30 measured
diag "offset_ms=$(offset)"
before=$(date +%s%3N)
ft_cli "$AGENT" -c "$T/a1/agent.ini" submit --org-unit 27916 --indicator TTHC_TONG \
    --period 202401 --value 5 > /dev/null
after=$(date +%s%3N)
check "outbox empties" wait_for 30 outbox_empty a1
hlc_ms=$(aggq agg "SELECT hlc >> 16 FROM update_log ORDER BY seq DESC LIMIT 1;")
diag "stamp $hlc_ms, true time $before..$after"
check "the value is stamped with the aggregator's time, not the slow clock" \
    [ "${hlc_ms:-0}" -ge $((before - 5000)) -a "${hlc_ms:-0}" -le $((after + 5000)) ]
ft_cli "$AGENT" -c "$T/a1/agent.ini" status > "$T/status.out" 2>/dev/null; rc=$?
diag "$(grep -E '^(clock|health)' "$T/status.out")"
expect_eq "status exits 1 (SKEWED)" "$rc" 1
check "status says SKEWED, how far and what to do (Vietnamese by default)" \
    grep -Eq '^health: +SKEWED \(đồng hồ máy chậm hơn máy chủ tổng hợp (10 phút 0[0-9]|9 phút 5[0-9]) giây: chỉnh lại ngày giờ' "$T/status.out"
ft_cli "$AGENT" -c "$T/a1/agent.ini" --lang en status > "$T/status.en" 2>/dev/null
diag "$(grep -E '^health' "$T/status.en")"
check "... and in English with --lang en" \
    grep -Eq "^health: +SKEWED \(clock is (10 min 0[0-9]|9 min 5[0-9]) s behind the aggregator: fix this PC's time" "$T/status.en"
expect_eq "status --json: SKEWED, code 1" \
    "$(ft_cli "$AGENT" -c "$T/a1/agent.ini" status --json 2>/dev/null | jq -r '"\(.health.code) \(.health.state)"')" "1 SKEWED"
ft_cli "$AGENT" -c "$T/a1/agent.ini" --max-clock-skew-ms 0 status > /dev/null 2>&1
expect_eq "agent.max_clock_skew_ms = 0 switches the check off" "$?" 0
ft_agent_start a2 "+123m"
skewed2() {
    ft "+123m" "$AGENT" -c "$T/a2/agent.ini" --lang en status > "$T/status2.en" 2>/dev/null
    grep -Eq "^health: +SKEWED \(clock is 2 h 0[23] min ahead of the aggregator: fix this PC's time" "$T/status2.en"
}
check "a PC 2 h 03 min fast: status says it in hours and minutes" wait_for 30 skewed2
diag "$(grep -E '^health' "$T/status2.en")"
