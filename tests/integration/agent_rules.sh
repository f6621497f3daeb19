#!/bin/bash
# Entry warnings at the agent (issue 15, agent/entrycheck.h): rules whose
# indicators all have a value among the commune's own values (pending in
# its outbox, plus the new ones) are checked at submit and import and
# warned about; the values are queued anyway. Derived ratios entered are
# warned as ignored. Numbers worked out by hand below.
. "$(dirname "$0")/lib.sh"
echo "1..15"
agg_init agg
agent_init a1 27901          # no daemon: values stay pending in the outbox

agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2025Q2 --value 1600 > /dev/null 2> "$T/w1"
expect_eq "one side only: no rule checked, no warning" "$? $(grep -c "^warning" "$T/w1")" "0 0"

# 2434 <= 1600 is false (a share of 2434 / 1600 = 152.1 %)
agent a1 submit --org-unit 27901 --indicator HGD_CAPQUANG_SO --period 2025Q2 --value 2434 > "$T/o2" 2> "$T/w2"
rc=$?
diag "$(cat "$T/w2")"
expect_eq "rule broken with the pending total: warned, still queued" "$rc $(grep -c '^queued seq' "$T/o2")" "0 1"
expect_eq "the warning names the rule and both sides" "$(grep '^warning' "$T/w2")" \
    "warning: 27901 2025Q2: rule HGD_CAPQUANG_LE_TONG (error, Số hộ gia đình có đường Internet cáp quang băng rộng không được lớn hơn tổng số hộ gia đình): HGD_CAPQUANG_SO <= HGD_TONG does not hold (2434, 1600); queued anyway"

# a file: 852 of 1000 households, and an entered share 99.9 for the
# derived ratio: 852 * 100 / 1000 = 85.2; 852 <= 1000 holds.
cat > "$T/f.csv" <<'CSV'
dataelement,period,orgunit,value
HGD_TONG,2025Q1,27901,1000
HGD_CAPQUANG_SO,2025Q1,27901,852
HGD_CAPQUANG,2025Q1,27901,99.9
CSV
agent a1 import "$T/f.csv" > "$T/o3" 2> "$T/w3"
rc=$?
diag "$(cat "$T/w3")"
expect_eq "import: queued all 3" "$rc $(grep -c 'queued 3 updates' "$T/o3")" "0 1"
expect_eq "derived ratio entered: warned as ignored, with the counts' ratio" "$(grep '^warning' "$T/w3")" \
    "warning: 27901 2025Q1: HGD_CAPQUANG is derived from HGD_CAPQUANG_SO / HGD_TONG; the entered value 99.9 is ignored (its counts give 85.2)"
expect_eq "five values pending" "$(agent_depth a1)" 5

# 2024Q4: the entered 85.2 is what 852 * 100 / 1000 gives (within 0.05):
# nothing to say. 2024Q3: a share without its counts: the district will
# have no figure from it.
cat > "$T/g.csv" <<'CSV'
dataelement,period,orgunit,value
HGD_TONG,2024Q4,27901,1000
HGD_CAPQUANG_SO,2024Q4,27901,852
HGD_CAPQUANG,2024Q4,27901,85.2
HGD_CAPQUANG,2024Q3,27901,50
CSV
agent a1 import "$T/g.csv" > /dev/null 2> "$T/w6"
expect_eq "a matching derived value is not warned; one without counts is" \
    "$? $(grep '^warning' "$T/w6")" \
    "0 warning: 27901 2024Q3: HGD_CAPQUANG is derived from HGD_CAPQUANG_SO / HGD_TONG; the entered value 50 is ignored (enter its counts)"
expect_eq "nine values pending" "$(agent_depth a1)" 9

# correcting the total to 2500 in 2025Q2: 2434 <= 2500 now holds
agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2025Q2 --value 2500 > /dev/null 2> "$T/w4"
expect_eq "a later value replaces the pending one: no warning" "$? $(grep -c "^warning" "$T/w4")" "0 0"

printf 'code,name_vi,left,operator,right\nR1,x,HGD_TONG,<==,5\n' > "$T/bad.csv"
agent a1 --check-config --rules "$T/bad.csv" > "$T/cc" 2>&1
rc=$?
expect_eq "check-config: a bad agent.rules file is named with its line" \
    "$rc $(grep -c "bad.csv:2: operator: not one of" "$T/cc")" "3 1"
agent a1 submit --rules "$T/bad.csv" --org-unit 27901 --indicator HGD_TONG --period 2025Q2 --value 1 > /dev/null 2> "$T/w5"
expect_eq "submit refuses to start with a bad rules file (exit 3), nothing queued" \
    "$? $(agent_depth a1)" "3 10"

# 60 months (2000-01..2004-12), each with 120 online of 100 files (rule
# broken) and an entered share of 90 where the counts give 120 (derived):
# 2 x 60 = 120 warnings: the first 100 listed, then "... and 20 more".
awk 'BEGIN { print "dataelement,period,orgunit,value";
    for (y = 2000; y <= 2004; y++) for (m = 1; m <= 12; m++) {
        p = sprintf("%d%02d", y, m);
        print "TTHC_TONG," p ",27901,100"; print "TTHC_ONLINE_SO," p ",27901,120";
        print "TTHC_ONLINE," p ",27901,90" } }' > "$T/big.csv"
agent a1 import "$T/big.csv" > "$T/o7" 2> "$T/w7"
expect_eq "many warnings: 100 listed, then the count; all 180 queued" \
    "$? $(grep -c '^warning: 27901' "$T/w7") $(grep -c '^warning: ... and 20 more$' "$T/w7") $(grep -c 'queued 180 updates' "$T/o7")" \
    "0 100 1 1"
expect_eq "first warning: 200001's derived share" "$(grep -m1 '^warning' "$T/w7")" \
    "warning: 27901 200001: TTHC_ONLINE is derived from TTHC_ONLINE_SO / TTHC_TONG; the entered value 90 is ignored (its counts give 120)"

# A pending delete removes the value it follows from the set the rules
# see: 2023Q4's total entered then deleted, so HGD_CAPQUANG_LE_TONG has one
# side only when 2434 households with fibre come; 2023Q3 keeps its total
# and the same 2434 breaks the rule. (A file may not hold a key twice.)
agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2023Q4 --value 1600 > /dev/null 2>&1
agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2023Q4 --delete > /dev/null 2>&1
agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2023Q3 --value 1600 > /dev/null 2>&1
cat > "$T/d.csv" <<'CSV'
dataelement,period,orgunit,value
HGD_CAPQUANG_SO,2023Q4,27901,2434
HGD_CAPQUANG_SO,2023Q3,27901,2434
CSV
agent a1 import "$T/d.csv" > "$T/o8" 2> "$T/w8"
rc=$?
diag "$(cat "$T/w8")"
expect_eq "a pending delete: its period not warned, the other is" \
    "$rc $(grep -c '^warning' "$T/w8") $(grep -c '^warning: 27901 2023Q3: rule HGD_CAPQUANG_LE_TONG' "$T/w8")" "0 1 1"
expect_eq "both rows queued" "$(grep -c 'queued 2 updates' "$T/o8")" 1
