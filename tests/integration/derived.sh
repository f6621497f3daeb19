#!/bin/bash
# Derived ratios in `query` (long and --wide, and so /api/query behind the
# dashboard) and `export` (issue 15; docs/ADMIN.md "Data-quality rules"):
# a catalog RATIO naming its counts shows the value of the unit's own
# counts for the period (rollup's arithmetic and formatting), never the
# entered one; an entered value more than 0.05 away, or with no counts to
# check it, is named in "entered"; the DHIS2 exports leave the ratio out.
# Every expected number is worked out by hand below.
. "$(dirname "$0")/lib.sh"
echo "1..17"
agg_init agg
port=$(free_port)
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:$port" >> "$T/agg/aggregator.ini"

# HGD_CAPQUANG = 100 * HGD_CAPQUANG_SO / HGD_TONG (PERCENTAGE), 2025Q2:
# 27901: 700 / 1000 = 70 %; entered 70.04: |70.04 - 70| = 0.04 <= 0.05,
#        shown "70" (an integer prints as one), nothing flagged.
# 27904: 852 / 1000 = 85.2 % ("85.20": two decimals); entered 99.9:
#        |99.9 - 85.2| = 14.7 > 0.05, flagged "99.9".
# 27907: 200 / 800 = 25 %, nothing entered: "25", nothing flagged.
# 27910: 500 fibre households, no HGD_TONG: no value (""); its entered
#        50 cannot be checked, so it is flagged "50".
# The district (rollup): (700 + 852 + 200) / (1000 + 1000 + 800)
#        = 1752 / 2800 = 62.5714 % -> "62.57" (27910 has no denominator).
cat > "$T/v.csv" <<'CSV'
dataelement,period,orgunit,value,storedby,comment
HGD_TONG,2025Q2,27901,1000,xa,
HGD_CAPQUANG_SO,2025Q2,27901,700,xa,
HGD_CAPQUANG,2025Q2,27901,70.04,xa,
HGD_TONG,2025Q2,27904,1000,xa,
HGD_CAPQUANG_SO,2025Q2,27904,852,xa,
HGD_CAPQUANG,2025Q2,27904,99.9,xa,
HGD_TONG,2025Q2,27907,800,xa,
HGD_CAPQUANG_SO,2025Q2,27907,200,xa,
HGD_CAPQUANG_SO,2025Q2,27910,500,xa,
HGD_CAPQUANG,2025Q2,27910,50,xa,
CSV
out=$(agg agg import "$T/v.csv")
check "values imported" grep -q "10 applied, 0 rejected" <<< "$out"

ind=(--indicator HGD_TONG --indicator HGD_CAPQUANG_SO --indicator HGD_CAPQUANG)
w=$(agg agg query --org-unit 801 --period 2025Q2 --wide --format json "${ind[@]}")
diag "$w"
sel='.rows[] | select(.orgUnit == "27901" or .orgUnit == "27904" or .orgUnit == "27907" or .orgUnit == "27910")'
expect_eq "--wide json: each commune's own counts, never the entered value" \
    "$(jq -r "[$sel | .orgUnit + \"=\" + (.values.HGD_CAPQUANG // \"\")] | join(\" \")" <<< "$w")" \
    "27901=70 27904=85.20 27907=25 27910="
expect_eq "--wide json: \"entered\" names 99.9 (14.7 away) and 50 (no counts)" \
    "$(jq -c "[$sel | .entered]" <<< "$w")" \
    '[{},{"HGD_CAPQUANG":"99.9"},{},{"HGD_CAPQUANG":"50"}]'
r=$(agg agg rollup --org-unit 801 --period 2025Q2 --format json "${ind[@]}")
expect_eq "--wide total row = rollup: 1752 / 2800 = 62.57" \
    "$(jq -r '.total.values.HGD_CAPQUANG' <<< "$w") $(jq -r '.rows[] | select(.indicator == "HGD_CAPQUANG") | .value' <<< "$r")" \
    "62.57 62.57"

c=$(agg agg query --org-unit 801 --period 2025Q2 --wide --format csv "${ind[@]}" | tr -d '\r')
expect_eq "--wide csv: the columns as before, \"entered\" appended last" \
    "$(head -1 <<< "$c")" "orgunit,orgunitname,HGD_TONG,HGD_CAPQUANG_SO,HGD_CAPQUANG,reported,entered"
expect_eq "--wide csv: 27904's row" \
    "$(grep '^27904,' <<< "$c" | cut -d, -f3-5,7)" "1000,852,85.20,HGD_CAPQUANG=99.9"
t=$(agg agg query --org-unit 801 --period 2025Q2 --wide "${ind[@]}")
check "--wide table: 85.20 and HGD_CAPQUANG=99.9 on 27904's row" \
    eval 'grep "^27904 " <<< "$t" | grep -q "85.20 .*HGD_CAPQUANG=99.9"'

# the long form: one row per stored value; the ratio's row shows the
# derived value, the entered one in the last column when flagged.
l=$(agg agg query --org-unit 801 --period 2025Q2 --indicator HGD_CAPQUANG --format csv | tr -d '\r')
diag "$l"
# (the shipped targets file adds target, attainment, state before it)
expect_eq "long csv: header as before plus \"entered\" last" \
    "$(head -1 <<< "$l")" \
    "orgunit,orgunitname,dataelement,period,categoryoptioncombo,value,storedby,lastupdated,comment,followup,agent,target,attainment,state,entered"
expect_eq "long csv: value and entered of 27901, 27904, 27910" \
    "$(tail -n +2 <<< "$l" | awk -F, '{ printf "%s:%s:%s ", $1, $6, $NF }')" \
    "27901:70: 27904:85.20:99.9 27910::50 "
j=$(agg agg query --org-unit 801 --period 2025Q2 --indicator HGD_CAPQUANG --format json)
expect_eq "long json: \"value\" derived, \"entered\" only when flagged" \
    "$(jq -c '[.dataValues[] | [.orgUnit, .value, .entered]]' <<< "$j")" \
    '[["27901","70",null],["27904","85.20","99.9"],["27910","","50"]]'
expect_eq "long form: a count is shown as stored" \
    "$(agg agg query --org-unit 27904 --period 2025Q2 --indicator HGD_CAPQUANG_SO --format json | jq -r '.dataValues[0].value')" \
    "852"

# export: DHIS2 never takes a value for an indicator (it computes it from
# the counts), so the DHIS2 files carry the counts and not the ratio; the
# spreadsheet csv shows what query shows.
e=$(agg agg export --org-unit 801 --period 2025Q2 --format dhis2-json)
expect_eq "dhis2-json: the 7 counts, no HGD_CAPQUANG" \
    "$(jq -r '([.dataValues[].dataElement] | unique | join(",")), (.dataValues | length)' <<< "$e" | tr '\n' ' ')" \
    "HGD_CAPQUANG_SO,HGD_TONG 7 "
expect_eq "dhis2-csv: no HGD_CAPQUANG row either (header + 7)" \
    "$(agg agg export --org-unit 801 --period 2025Q2 --format dhis2-csv | grep -c '')" \
    "8"
check "dhis2-csv: no HGD_CAPQUANG row" \
    eval '! agg agg export --org-unit 801 --period 2025Q2 --format dhis2-csv | grep -q "^HGD_CAPQUANG,"'
x=$(agg agg export --org-unit 27904 --period 2025Q2 --format csv | tr -d '\r')
expect_eq "csv export: 85.20 with 99.9 entered, header ends in entered" \
    "$(head -1 <<< "$x" | awk -F, '{print $NF}') $(grep ',HGD_CAPQUANG,' <<< "$x" | awk -F, '{ print $7, $NF }')" \
    "entered 85.20 99.9"

# the dashboard's source: /api/query gives what the CLI gives
tok=$(agg agg token add dq | head -1)
agg_start agg
base="http://127.0.0.1:$port"
check "HTTP up" wait_for 10 curl -sf "$base/healthz"
expect_eq "GET /api/query?wide=1 equals query --wide --format json" \
    "$(curl -sf -H "Authorization: Bearer $tok" "$base/api/query?org_unit=801&period=2025Q2&wide=1&indicator=HGD_TONG,HGD_CAPQUANG_SO,HGD_CAPQUANG" | jq -c .)" \
    "$(jq -c . <<< "$w")"
