#!/bin/bash
# Data sets and unit lifetimes (issue 15, parts 1 and 2), with the shipped
# deploy/datasets.csv and deploy/orgunits.csv:
# (1) the aggregator refuses a value for a unit outside its lifetime
#     (org_unit_closed): 27901 in 2025Q3 (dissolved 2025-06-30),
#     27907-2025 in 2025Q2 (created 2025-07-01), 801 in 2026Q1; the
#     refusals are in `rejects`, the valid rows are applied;
# (2) a commune's agent without the org-unit file queues such a value; the
#     aggregator refuses it and the agent's `status` lists it with the
#     reason; with the files beside its catalog the agent refuses it at
#     `submit` and at `import`, and refuses an indicator outside the unit's
#     data sets naming datasets.csv:line;
# (3) completeness counts only the cells of the data sets, by hand below;
#     a dissolved district is said so in words, not "0 of 0 (0.0%)".
. "$(dirname "$0")/lib.sh"
echo "1..28"
DS=$TOP/deploy/datasets.csv
agg_init agg
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"

# (1) central import through ingest: 3 out of lifetime, 6 valid
cat > "$T/vals.csv" <<'CSV'
dataelement,period,orgunit,value,storedby
TO_CNSCD,2025Q3,27901,5,huyen
TO_CNSCD,2025Q2,27907-2025,5,huyen
TO_CNSCD,2026Q1,801,5,huyen
HGD_TONG,2025Q2,27901,1000,huyen
HGD_CAPQUANG_SO,2025Q2,27901,850,huyen
TO_CNSCD,2025Q2,27901,7,huyen
TO_CNSCD_TV,2025Q2,27901,35,huyen
HGD_TONG,2025Q2,27904,1200,huyen
TO_CNSCD,2025Q3,27907-2025,9,huyen
CSV
out=$(agg agg import "$T/vals.csv" 2>&1)
diag "$out"
check "import: 6 applied, 3 refused" grep -q "6 applied, 3 rejected" <<< "$out"
rj=$(agg agg rejects --format json --reason org_unit_closed)
expect_eq "rejects: 3 org_unit_closed" "$(jq 'length' <<< "$rj")" 3
check "  27901 in 2025Q3: 'valid until 2025-06-30'" \
    grep -q 'org unit \\"27901\\" does not exist in 2025Q3 (valid until 2025-06-30)' <<< "$rj"
check "  27907-2025 in 2025Q2: 'valid from 2025-07-01'" \
    grep -q 'org unit \\"27907-2025\\" does not exist in 2025Q2 (valid from 2025-07-01)' <<< "$rj"
check "  801 in 2026Q1" grep -q 'org unit \\"801\\" does not exist in 2026Q1' <<< "$rj"
expect_eq "query shows no value for 27901 in 2025Q3" \
    "$(agg agg query --org-unit 27901 --period 2025Q3 --format csv | tail -n +2 | wc -l)" 0

# (3) completeness by data set. 801 in 2025Q2: 11 communes exist; each
# owes CDS_XA_QUY's entered cells HGD_TONG HGD_CAPQUANG_SO TO_CNSCD
# TO_CNSCD_TV = 4 (HGD_CAPQUANG is a ratio, derived) -> 11 x 4 = 44.
# Reported: 27901 all 4, 27904 HGD_TONG = 5; complete units: 27901 = 1.
c=$(agg agg completeness --org-unit 801 --period 2025Q2 --format json)
expect_eq "801 2025Q2: 5 of 44 values, 1 of 11 units" \
    "$(jq -r '[.values, .valuesExpected, .unitsComplete, .units] | join(" ")' <<< "$c")" "5 44 1 11"
expect_eq "  27904 misses the other 3 cells" \
    "$(jq -r '.rows[] | select(.orgunit == "27904") | .missing' <<< "$c")" \
    "HGD_CAPQUANG_SO,TO_CNSCD,TO_CNSCD_TV"
# 801 in 2025 (Yearly): NTM_TC8 = NTM8_1..NTM8_4, 11 communes -> 44
c=$(agg agg completeness --org-unit 801 --period 2025 --format json)
expect_eq "801 2025: 0 of 44 values" "$(jq -r '[.values, .valuesExpected] | join(" ")' <<< "$c")" "0 44"
# 80-2025 in 2025Q3: the 4 new communes x 4 cells = 16; 27907-2025 gave 1
c=$(agg agg completeness --org-unit 80-2025 --period 2025Q3 --format json)
expect_eq "80-2025 2025Q3: 1 of 16 values, 4 units" \
    "$(jq -r '[.values, .valuesExpected, .units] | join(" ")' <<< "$c")" "1 16 4"
# the dashboard's table (query --wide) counts the same cells: 27901 4/4,
# 27904 1/4, 1 of 11 complete, and the sum of k/n agrees with the above
w=$(agg agg query --org-unit 801 --period 2025Q2 --wide --format json)
expect_eq "wide 2025Q2: 27901 4/4, 27904 1/4, 1 of 11 complete" \
    "$(jq -r '[(.rows[] | select(.orgUnit == "27901" or .orgUnit == "27904") | .reported), .complete, .units] | join(" ")' <<< "$w")" \
    "4/4 1/4 1 11"
expect_eq "wide and completeness agree: 5 of 44 cells" \
    "$(jq -r '[.rows[].reported | split("/") | map(tonumber)] | [(map(.[0]) | add), (map(.[1]) | add)] | join(" ")' <<< "$w")" "5 44"
# weekly: no data set of that type -> no unit is expected
c=$(agg agg completeness --org-unit 801 --period 2025W10 --format json)
expect_eq "801 2025W10: nothing expected" "$(jq -r '[.values, .valuesExpected, .units] | join(" ")' <<< "$c")" "0 0 0"
# the dissolved district, in words
t=$(agg agg completeness --org-unit 801 --period 2026Q1)
diag "$t"
check "801 2026Q1: said dissolved, in words" \
    grep -q "Huyện Đức Huệ (801) không còn tồn tại trong 2026Q1 (giải thể 2025-06-30)" <<< "$t"
check "  and no '0 of 0'" bash -c '! grep -q "0 of 0" <<< "$1"' _ "$t"
expect_eq "  JSON note" "$(agg agg completeness --org-unit 801 --period 2026Q1 --format json | jq -r .note)" \
    "Huyện Đức Huệ (801) không còn tồn tại trong 2026Q1 (giải thể 2025-06-30)"
# the dashboard's table says it too
w=$(agg agg query --org-unit 801 --period 2026Q1 --wide)
check "wide 801 2026Q1: the sentence, not '0 of 0'" \
    bash -c 'grep -q "^Huyện Đức Huệ (801) không còn tồn tại trong 2026Q1 (giải thể 2025-06-30)$" <<< "$1" && ! grep -q "0 of 0" <<< "$1"' _ "$w"
expect_eq "  wide JSON note for 27907-2025 in 2025Q2" \
    "$(agg agg query --org-unit 27907-2025 --period 2025Q2 --wide --format json | jq -r .note)" \
    "Xã Mỹ Quý (27907-2025) chưa tồn tại trong 2025Q2 (thành lập 2025-07-01)"

# (2) an agent without the org-unit file: the aggregator refuses, status says why
mkdir -p "$T/cat"; cp "$CATALOG" "$T/cat/catalog.csv"
agent_init a1 27901
sed -i "s#^catalog = .*#catalog = $T/cat/catalog.csv#" "$T/a1/agent.ini"
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q3 --value 6 > /dev/null
check "a1 (no org-unit file) queues 27901 2025Q3" [ $? = 0 ]
agg_start agg
agent_start a1
check "a1 drains" wait_for 30 outbox_empty a1
st=$(agent a1 --lang en status 2>&1)
diag "$st"
check "a1 status lists the refusal with its reason" \
    grep -Eq '27901 +TO_CNSCD +2025Q3 +6 +org_unit_closed +.*does not exist in 2025Q3' <<< "$st"

# the files beside the shipped catalog: refused at the agent
agent_init a2 27901,801
out=$(agent a2 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q3 --value 6 2>&1); rc=$?
diag "$out"
check "a2 submit 27901 2025Q3 refused (exit 1), lifetime named" \
    bash -c '[ "$1" = 1 ] && grep -q "Xã Mỹ Quý Đông: org unit \"27901\" does not exist in 2025Q3 (valid until 2025-06-30)" <<< "$2"' _ "$rc" "$out"
out=$(agent a2 submit --org-unit 801 --indicator NTM8_4 --period 2024 --value true 2>&1); rc=$?
diag "$out"
check "a2 submit NTM8_4 for 801: not in its data sets, datasets.csv:2 named" \
    bash -c '[ "$1" = 1 ] && grep -q "is not in a data set of org unit \"801\" for this period ($2:2: data set NTM_TC8" <<< "$3"' _ "$rc" "$DS" "$out"
printf 'dataelement,period,orgunit,value\nTO_CNSCD,2025Q2,27901,4\nHSCV_TONG,2025Q2,27901,40\n' > "$T/a2.csv"
out=$(agent a2 import "$T/a2.csv" 2>&1); rc=$?
diag "$out"
check "a2 import: HSCV_TONG refused at a2.csv:3, nothing queued" \
    bash -c '[ "$1" = 1 ] && grep -q "a2.csv:3: .*indicator \"HSCV_TONG\" is in no data set" <<< "$2" && [ "$3" = 0 ]' _ "$rc" "$out" "$(agent_depth a2)"
out=$(agent a2 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 6 2>&1)
check "a2 submit in the unit's data set and lifetime: queued" grep -q "queued seq" <<< "$out"

# --check-config names every bad data-set row, at both programs
printf 'code,name_vi,period_type,deadline_days,indicators,org_units\nA,Tên,Quarterly,,XYZ,27901\nB,Tên,Yearly,,NTM8_1,nowhere\n' > "$T/bad_ds.csv"
"$AGG" -c "$T/agg/aggregator.ini" --datasets "$T/bad_ds.csv" --check-config > "$T/cc.out" 2>&1; rc=$?
diag "$(cat "$T/cc.out")"
check "aggregator --check-config: exit != 0, both rows named" \
    bash -c '[ "$1" != 0 ] && grep -q "bad_ds.csv:2: indicators: not in the catalog (value \"XYZ\")" "$2" && grep -q "bad_ds.csv:3: org_units: no org unit with this code" "$2"' _ "$rc" "$T/cc.out"
"$AGENT" -c "$T/a2/agent.ini" --datasets "$T/bad_ds.csv" --check-config > "$T/cc.out" 2>&1; rc=$?
check "agent --check-config: exit != 0, row named" \
    bash -c '[ "$1" != 0 ] && grep -q "bad_ds.csv:3: org_units: no org unit with this code" "$2"' _ "$rc" "$T/cc.out"
out=$(agent a2 --datasets "$T/bad_ds.csv" submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 6 2>&1); rc=$?
diag "$out"
check "agent with a bad configured data-set file refuses to work (exit 3)" \
    bash -c '[ "$1" = 3 ] && grep -q "bad_ds.csv:2: indicators" <<< "$2"' _ "$rc" "$out"
