#!/bin/bash
# Data-quality checks (issue 15): `validate` over a district for one
# period with the shipped rules (deploy/rules.csv beside the catalog),
# derived ratios and outliers; exit codes, JSON, --check-config. Every
# expected number is worked out by hand below.
. "$(dirname "$0")/lib.sh"
echo "1..25"
agg_init agg
port=$(free_port)
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:$port" >> "$T/agg/aggregator.ini"

# 27901: 2434 fibre households of 1600: share 2434 / 1600 = 152.125 %,
#        violates HGD_CAPQUANG_LE_TONG (2434 <= 1600 is false).
# 27904: counts 852 / 1000 give 85.2 %; the commune entered 99.9:
#        |99.9 - 85.2| = 14.7 > 0.05, a "derived" warning.
# 27907: HGD_TONG 100, 110, 90, 100 in 2024Q2..2025Q1, 130 in 2025Q2:
#        mean = 400 / 4 = 100; squares 0 + 100 + 100 + 0 = 200,
#        sd = sqrt(200 / 3) = 8.16497; z = 30 / 8.16497 = 3.674 > 3: outlier.
#        change from 2025Q1: (130 - 100) / 100 = 30 % <= 50: not flagged.
#        DSTT_TONG 1000 in 2025Q1, 1600 in 2025Q2: +60 % > 50: outlier
#        (one earlier value: no z-score).
# 27910: 500 of 1000, nothing earlier: clean.
# 27913: 0 then 50: no change in % of 0, one earlier value: no z: clean.
# 27916: 100 four times then 101: sd 0 (no z), change 1 % <= 50: clean.
cat > "$T/v.csv" <<'CSV'
dataelement,period,orgunit,value,storedby,comment
HGD_TONG,2025Q2,27901,1600,xa,
HGD_CAPQUANG_SO,2025Q2,27901,2434,xa,
HGD_TONG,2025Q2,27904,1000,xa,
HGD_CAPQUANG_SO,2025Q2,27904,852,xa,
HGD_CAPQUANG,2025Q2,27904,99.9,xa,
HGD_TONG,2024Q2,27907,100,xa,
HGD_TONG,2024Q3,27907,110,xa,
HGD_TONG,2024Q4,27907,90,xa,
HGD_TONG,2025Q1,27907,100,xa,
HGD_TONG,2025Q2,27907,130,xa,
DSTT_TONG,2025Q1,27907,1000,xa,
DSTT_TONG,2025Q2,27907,1600,xa,
HGD_TONG,2025Q2,27910,1000,xa,
HGD_CAPQUANG_SO,2025Q2,27910,500,xa,
HGD_TONG,2025Q1,27913,0,xa,
HGD_TONG,2025Q2,27913,50,xa,
HGD_TONG,2024Q2,27916,100,xa,
HGD_TONG,2024Q3,27916,100,xa,
HGD_TONG,2024Q4,27916,100,xa,
HGD_TONG,2025Q1,27916,100,xa,
HGD_TONG,2025Q2,27916,101,xa,
CSV
out=$(agg agg import "$T/v.csv")
check "values imported" grep -q "21 applied, 0 rejected" <<< "$out"

j=$(agg agg validate --org-unit 801 --period 2025Q2 --format json); rc=$?
diag "$j"
expect_eq "violations exit 1" "$rc" 1
expect_eq "four violations in the district, none for 27910/27913/27916" \
    "$(jq -r '.violations, ([.rows[].org_unit] | unique | join(","))' <<< "$j" | tr '\n' ' ')" "4 27901,27904,27907 "
expect_eq "152.1 % case: HGD_CAPQUANG_SO <= HGD_TONG broken, 2434 vs 1600" \
    "$(jq -r '.rows[] | select(.kind == "rule") | [.org_unit, .code, .severity, .left, .operator, .right, .left_value, .right_value] | join(" ")' <<< "$j")" \
    "27901 HGD_CAPQUANG_LE_TONG error HGD_CAPQUANG_SO <= HGD_TONG 2434 1600"
expect_eq "rule carries its Vietnamese description" \
    "$(jq -r '.rows[] | select(.kind == "rule") | .description' <<< "$j")" \
    "Số hộ gia đình có đường Internet cáp quang băng rộng không được lớn hơn tổng số hộ gia đình"
expect_eq "entered 99.9 for a derived ratio whose counts give 85.2" \
    "$(jq -r '.rows[] | select(.kind == "derived") | [.org_unit, .code, .left_value, .right_value, .right] | join(" ")' <<< "$j")" \
    "27904 HGD_CAPQUANG 99.9 85.2 HGD_CAPQUANG_SO * 100 / HGD_TONG"
expect_eq "z-score outlier: 130 against mean 100 of 4 periods" \
    "$(jq -r '.rows[] | select(.kind == "outlier" and .operator == "z-score") | [.org_unit, .code, .left_value, .right_value] | join(" ")' <<< "$j")" \
    "27907 HGD_TONG 130 100"
check "z = 3.67 in the description" grep -q 'z = 3.67 so với 4 kỳ' <<< "$j"
expect_eq "change outlier: 1600 after 1000 (+60 %)" \
    "$(jq -r '.rows[] | select(.operator == "change %") | [.org_unit, .code, .left_value, .right_value, .right] | join(" ")' <<< "$j")" \
    "27907 DSTT_TONG 1600 1000 2025Q1"

r=$(agg agg rollup --org-unit 27904 --period 2025Q2 --indicator HGD_CAPQUANG --format json)
expect_eq "the entered ratio is ignored: rollup gives 852 / 1000 = 85.2" \
    "$(jq -r '.rows[0].value' <<< "$r")" "85.2"

agg agg validate --org-unit 27910 --period 2025Q2 > "$T/clean.txt"; rc=$?
expect_eq "clean commune: exit 0, no violation" "$rc $(tail -1 "$T/clean.txt")" "0 0 violations"

# outlier keys: with the z-score off and a 20 % bound, 27907 has
# HGD_TONG +30 % and DSTT_TONG +60 %: two change rows, no z row.
j=$(agg agg validate --org-unit 27907 --period 2025Q2 --format json --outlier-z 0 --outlier-pct 20)
expect_eq "outlier keys configurable" \
    "$(jq -r '[.rows[] | .operator] | join(",")' <<< "$j")" "change %,change %"

agg agg validate --org-unit 99999 --period 2025Q2 2> "$T/e.txt"; rc=$?
expect_eq "unknown org unit: exit 1 with the reason" \
    "$rc $(cat "$T/e.txt")" "1 cdsync-aggregator: validate: org unit \"99999\": not in the org-unit list"

printf 'code,name_vi,left,operator,right\nR1,x,HGD_TONG +,<=,5\n' > "$T/bad.csv"
agg agg --check-config --rules "$T/bad.csv" > "$T/cc.txt" 2>&1; rc=$?
expect_eq "check-config names the bad rule file:line" "$rc $(grep bad.csv "$T/cc.txt")" \
    "3 $T/bad.csv:2: left: column 11: expression ends too early (value \"HGD_TONG +\")"

# follow-up flag: set, shown by validate, set twice refused, cleared,
# history in order with notes and the actor ($USER).
cell=(--org-unit 27901 --indicator HGD_CAPQUANG_SO --period 2025Q2)
USER=tinh agg agg followup set "${cell[@]}" --note "gọi xã kiểm tra" > /dev/null
expect_eq "followup set: exit 0" "$?" 0
j=$(agg agg validate --org-unit 27901 --period 2025Q2 --format json)
expect_eq "validate shows the flag on the rule's cell" \
    "$(jq -r '.rows[] | select(.kind == "rule") | .followup' <<< "$j")" true
agg agg followup set "${cell[@]}" 2> "$T/e.txt"
expect_eq "set twice: exit 1, says so" "$? $(cat "$T/e.txt")" \
    "1 cdsync-aggregator: followup: 27901 HGD_CAPQUANG_SO 2025Q2: already flagged for follow-up"
USER=huyen agg agg followup clear "${cell[@]}" --note "xã đã sửa" > /dev/null
expect_eq "followup clear: exit 0" "$?" 0
agg agg followup clear "${cell[@]}" 2> /dev/null
expect_eq "clear when not flagged: exit 1" "$?" 1
h=$(agg agg followup history "${cell[@]}" --format json)
diag "$h"
expect_eq "history: set then clear, notes and actors kept" \
    "$(jq -r '[.followup] + [.rows[] | .action + "/" + .note + "/" + .actor] | join(";")' <<< "$h")" \
    "false;set/gọi xã kiểm tra/tinh;clear/xã đã sửa/huyen"
j=$(agg agg validate --org-unit 27901 --period 2025Q2 --format json)
expect_eq "validate: flag cleared" \
    "$(jq -r '.rows[] | select(.kind == "rule") | .followup' <<< "$j")" false
agg agg followup set --org-unit 27901 --indicator NOPE --period 2025Q2 2> "$T/e.txt"
expect_eq "unknown indicator: exit 1" "$? $(cat "$T/e.txt")" \
    "1 cdsync-aggregator: followup: indicator \"NOPE\": not in the catalog"

# the HTTP route gives what the CLI gives
tok=$(agg agg token add dq | head -1)
agg_start agg
base="http://127.0.0.1:$port"
check "HTTP up" wait_for 10 curl -sf "$base/healthz"
auth=(-H "Authorization: Bearer $tok")
expect_eq "GET /api/validate equals validate --format json" \
    "$(curl -sf "${auth[@]}" "$base/api/validate?org_unit=801&period=2025Q2" | jq -c .)" \
    "$(agg agg validate --org-unit 801 --period 2025Q2 --format json | jq -c .)"
code=$(curl -s -o "$T/r" -w '%{http_code}' "${auth[@]}" "$base/api/validate?org_unit=99999&period=2025Q2")
expect_eq "unknown org unit over HTTP: 400 with the reason" "$code $(jq -r .error "$T/r")" \
    "400 org unit \"99999\": not in the org-unit list"
