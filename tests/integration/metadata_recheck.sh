#!/bin/bash
# Values queued under an older metadata version (issue 20, item 3): the
# agent checks its pending values again when a new version comes into use
# (and at rollback), before it sends. Version 1: Mỹ Quý Đông (27901) still
# open, NTM8_3 in the catalog. The agent, offline, queues four values under
# it; version 2 (the 2025 reform: 27901 closed on 2025-06-30 and merged
# into 27907-2025; NTM8_3 retired, replaced by NTM8_9) is published; the
# agent reconnects, fetches version 2 first, holds the two values it no
# longer accepts (with the reason and the suggested successor) and sends
# the two valid ones exactly once. The officer withdraws one held value;
# a rollback to version 1 makes the other sendable again and it arrives.
. "$(dirname "$0")/lib.sh"
echo "1..25"
agg_init agg
agent_init a1 27901
agg_start agg

m=$T/m; mkdir -p "$m"
cp "$TOP/deploy/catalog.csv" "$TOP/deploy/orgunits.csv" "$TOP/deploy/orgunit_map.csv" \
   "$TOP/deploy/datasets.csv" "$m/"
# Version 1: 27901 without its end date.
sed 's/^27901,Xã Mỹ Quý Đông,801,,2025-06-30$/27901,Xã Mỹ Quý Đông,801,,/' "$TOP/deploy/orgunits.csv" > "$m/orgunits.csv"
check "version 1 leaves 27901 open" grep -q '^27901,Xã Mỹ Quý Đông,801,,$' "$m/orgunits.csv"
agg agg metadata publish "$m" --yes > /dev/null 2>&1
json() { agent a1 status --json 2>/dev/null | jq -r "$1"; }
in_use_is() { [ "$(json .metadata.in_use)" = "$1" ]; }
agent_start a1
check "a1 fetched version 1" wait_for 15 in_use_is 1
agent_stop a1

sub() { agent a1 submit --org-unit 27901 --indicator "$1" --period "$2" --value "$3" > /dev/null; }
check "offline, under version 1: NTM8_3 2025 queued (retired in version 2)" sub NTM8_3 2025 true
check "... NTM8_1 2026 queued (27901 closed in version 2)" sub NTM8_1 2026 true
check "... NTM8_1 2025 and NTM8_2 2025 queued (valid in both)" bash -c "$(declare -f agent sub); T='$T' AGENT='$AGENT'; sub NTM8_1 2025 true && sub NTM8_2 2025 false"
expect_eq "... four pending" "$(agent_depth a1)" 4

# Version 2: the deploy files (27901 closed, mapped to 27907-2025); NTM8_3
# retired, NTM8_9 replaces it (column replaces), in its data set.
cp "$TOP/deploy/orgunits.csv" "$m/orgunits.csv"
meta_retire_ntm8_3 "$m"
agg agg metadata publish "$m" --yes > "$T/pub.out" 2>&1
expect_eq "version 2 published" "$(aggq agg 'SELECT max(version) FROM metadata_version')" 2

agent_start a1
held_n() { [ "$(json '.held | length')" = "$1" ]; }
arrived() { [ "$(aggq agg "SELECT count(*) FROM update_log")" -ge "$1" ]; }
check "a1 uses version 2" wait_for 15 in_use_is 2
check "... two values held" wait_for 15 held_n 2
check "... the two valid ones arrived" wait_for 15 arrived 2
check "... fetched before sending (metadata_first)" grep -q 'event=metadata_first' "$T/a1/log"
expect_eq "... exactly once, nothing else sent" \
    "$(aggq agg "SELECT indicator || '/' || period || '/' || status FROM update_log ORDER BY seq" | paste -sd ' ')" \
    "NTM8_1/2025/0 NTM8_2/2025/0"
expect_eq "... nothing refused at the aggregator" "$(aggq agg 'SELECT count(*) FROM reject')" 0
expect_eq "held: the retired indicator, with its replacement" \
    "$(json '.held[] | select(.dataelement == "NTM8_3") | "\(.period) \(.code_name) \(.suggestion)"')" \
    "2025 unknown_indicator indicator=NTM8_9"
expect_eq "held: the merged commune, with its successor" \
    "$(json '.held[] | select(.dataelement == "NTM8_1") | "\(.period) \(.code_name) \(.suggestion)"')" \
    "2026 org_unit_closed org_unit=27907-2025"
LANG=C agent a1 status > "$T/st.txt"
check "status text: held, in words, with the suggestion" \
    bash -c "grep -q '^held:        2 values kept back' '$T/st.txt' && grep -q 'NTM8_3 2025 = true: chỉ tiêu không còn trong danh mục.*đề xuất: indicator=NTM8_9' '$T/st.txt'"
check "... health WARNING names the held values" grep -q '^health:      WARNING (2 giá trị bị giữ lại' "$T/st.txt"
agent a1 pending-values > "$T/pv.txt"
check "pending-values lists both with their ids" bash -c "grep -q '^2 values held back' '$T/pv.txt' && [ \$(grep -c '^[0-9]*  27901  NTM8_' '$T/pv.txt') = 2 ]"

# The officer's page shows them as a state in words, with the successor.
agent_page_state a1 "$T/state.json" "?lang=en"
expect_eq "page /api/state: the held values are kept_back, with reason and successor" \
    "$(jq -r '[.values[] | select(.state == "kept_back") | "\(.indicator)/\(.period): \(.reason) -> \(.suggestion)"] | sort | join("; ")' "$T/state.json")" \
    "NTM8_1/2026: the unit no longer exists in this period (merged or closed) -> org_unit=27907-2025; NTM8_3/2025: indicator no longer in the catalog (retired) -> indicator=NTM8_9"
check "... page.html words the state" grep -q 'kept_back: "Chưa gửi: không còn hợp lệ theo danh mục mới"' "$TOP/agent/page.html"

# The officer withdraws the merged commune's value (a new value would be
# entered for 27907-2025 by its own agent).
id=$(json '.held[] | select(.dataelement == "NTM8_1") | .id')
check "withdraw the 2026 value" bash -c "'$AGENT' -c '$T/a1/agent.ini' pending-values withdraw $id | grep -q 'withdrawn held value $id'"
agent a1 pending-values withdraw 999 > /dev/null 2>&1; rc=$?
expect_eq "... an unknown id: exit 3, nothing changed" "$rc $(json '.held | length')" "3 1"

# Rollback to version 1: NTM8_3 is valid again and is sent, unchanged.
agent a1 metadata rollback > "$T/rb.out"
check "rollback to version 1 with the daemon running" grep -q 'version 1 in use again (was 2)' "$T/rb.out"
check "... the held value is released and arrives" wait_for 15 arrived 3
expect_eq "... it is the NTM8_3 value, as queued, nothing held" \
    "$(aggq agg "SELECT indicator || '/' || period || '/' || value || '/' || status FROM update_log WHERE seq = 3") $(json '.held | length')" \
    "NTM8_3/2025/true/0 0"
agent_stop a1; agg_stop agg
exit $FAILED
