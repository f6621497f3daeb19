#!/bin/bash
# District admin commands end to end (issue 5): an agent's value arrives
# over the wire, the district corrects it centrally with `import`, and
# `history` shows both changes verified; `rollup` gives sum(num)/sum(den);
# `completeness` lists who reported and, from deploy/contacts.csv (beside
# the catalog), whom to call about the others; `export` -> `import` into a fresh
# aggregator -> `export` gives the same values; bad input exits 1/2.
. "$(dirname "$0")/lib.sh"
echo "1..16"
agg_init agg
# this test needs no HTTP listener (another test may hold the default port)
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
agent_init a1 27901
# queued before the daemon starts (no race with its first open)
agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2025Q1 --value 1000 > /dev/null &&
agent a1 submit --org-unit 27901 --indicator HGD_CAPQUANG_SO --period 2025Q1 --value 900 > /dev/null
check "agent values submitted" [ $? = 0 ]
agg_start agg
agent_start a1
check "agent outbox drains" wait_for 20 outbox_empty a1

cat > "$T/fix.csv" <<'CSV'
dataelement,period,orgunit,value,storedby,comment
HGD_TONG,2025Q1,27904,100,huyen,
HGD_CAPQUANG_SO,2025Q1,27904,10,huyen,
HGD_TONG,2025Q1,27901,1100,huyen,"sửa theo biên bản, 12/4"
CSV
out=$(agg agg import "$T/fix.csv")
diag "$out"
check "central import applied" grep -q "3 applied, 0 rejected" <<< "$out"
expect_eq "the aggregator's own corrections identity is not a commune in health" \
    "$(agg agg health --format json | jq '[.. | objects | select(.label? == "aggregator (central corrections)")] | length')" 0

h=$(agg agg history --org-unit 27901 --indicator HGD_TONG --period 2025Q1 --format csv)
diag "$h"
expect_eq "history: two changes, both verified" \
    "$(printf '%s\n' "$h" | tail -n +2 | grep -c ',verified,')" 2
expect_eq "history: 1000 -> 1100 by the district, current" \
    "$(printf '%s\n' "$h" | grep -c ',1000,1100,applied,huyen,.*,true,')" 1

r=$(agg agg rollup --org-unit 801 --period 2025Q1 --indicator HGD_CAPQUANG --format json)
expect_eq "rollup: (1000... corrected) 910/1200 = 75.83 %" \
    "$(jq -r '.rows[0].value' <<< "$r") $(jq -r '.rows[0].org_units' <<< "$r")" "75.83 2/11"

c=$(agg agg completeness --org-unit 801 --period 2025Q1 --indicator HGD_TONG --format json)
expect_eq "completeness: 2 of 11 units" "$(jq -r '.unitsComplete, .units' <<< "$c" | tr '\n' ' ')" "2 11 "
# whom to call: the contact of every unit still owing, none for the complete
expect_eq "completeness: contacts of the 9 units not complete" \
    "$(jq -r '[.rows[] | select(.status != "complete" and .contact_name != "")] | length' <<< "$c")" 9
expect_eq "... Xã Mỹ Thạnh Tây's: person, post, phone, e-mail (deploy/contacts.csv:6)" \
    "$(jq -r '.rows[] | select(.orgunit == "27910") | [.contact_name, .contact_title, .contact_phone, .contact_email] | join("|")' <<< "$c")" \
    "Huỳnh Thị Kim Ngân|Công chức Văn phòng - Thống kê|0272 000 0105|ngan.htk@mythanhtay.example"
csv=$(agg agg completeness --org-unit 801 --period 2025Q1 --indicator HGD_TONG --format csv)
done1=$(jq -r '[.rows[] | select(.status == "complete")][0].orgunit' <<< "$c")
expect_eq "... CSV: the four contact columns; a complete unit's empty" \
    "$(head -1 <<< "$csv" | tr -d '\r' | cut -d, -f10-) $(tr -d '\r' <<< "$csv" | grep -c "^$done1,.*,,,,\$")" \
    "contact_name,contact_title,contact_phone,contact_email 1"

agg agg export --format dhis2-json > "$T/export.json"
expect_eq "export: DHIS2 field names" \
    "$(jq -r '.dataValues[0] | keys_unsorted | join(",")' "$T/export.json")" \
    "dataElement,period,orgUnit,categoryOptionCombo,attributeOptionCombo,value,storedBy,created,lastUpdated,comment,followup"

agg_init fresh
out=$(agg fresh import "$T/export.json")
check "round trip: import into a fresh aggregator" grep -q "4 applied" <<< "$out"
agg fresh export --format dhis2-json > "$T/export2.json"
strip='[.dataValues[] | del(.created, .lastUpdated)]'
expect_eq "round trip: identical values" \
    "$(jq -c "$strip" "$T/export.json")" "$(jq -c "$strip" "$T/export2.json")"

agg agg export --format csv --bom --org-unit 27901 > "$T/excel.csv"
expect_eq "spreadsheet CSV starts with a BOM" "$(head -c 3 "$T/excel.csv" | od -An -tx1 | tr -d ' ')" "efbbbf"

printf 'dataelement,period,orgunit,value\nHGD_TONG,2025Q1,27901,abc\n' > "$T/bad.csv"
agg agg import "$T/bad.csv" > /dev/null 2> "$T/bad.err"
rc=$?
expect_eq "bad import row: exit 1, file:line: field named" \
    "$rc $(grep -c 'bad.csv:2: value:' "$T/bad.err")" "1 1"
agg agg rollup --org-unit 801 > /dev/null 2>&1
expect_eq "rollup without --period: usage (exit 2)" "$?" 2
