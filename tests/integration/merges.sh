#!/bin/bash
# One merge rule everywhere (issue 15 part 3, docs/ORGUNITS.md "One merge
# rule"): Xã Đông Thành (27898-2025) was made on 2025-07-01 from TT Đông
# Thành 27898, Mỹ Thạnh Tây 27910, Mỹ Thạnh Đông 27913 and Mỹ Bình 27928
# (deploy/orgunit_map.csv). Every expected number below is computed by
# hand in a comment, never by the program; query --wide, rollup,
# completeness and the HTTP API (what the dashboard draws) must agree.
. "$(dirname "$0")/lib.sh"
echo "1..31"
port=$(free_port)
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:$port" >> "$T/agg/aggregator.ini"

cat > "$T/d.csv" <<'CSV'
dataelement,period,orgunit,value
HGD_TONG,2025Q2,27898,900
HGD_TONG,2025Q2,27910,410
HGD_TONG,2025Q2,27913,520
HGD_TONG,2025Q2,27928,300
HGD_CAPQUANG_SO,2025Q2,27898,600
HGD_CAPQUANG_SO,2025Q2,27910,200
CBCC_TONG,2025,27898,20
CBCC_TONG,2025,27910,18
CBCC_TONG,2025,27898-2025,61
CBCC_DAOTAO_SO,2025,27898,5
CBCC_DAOTAO_SO,2025,27913,7
NTM8_1,2025,27898,1
NTM8_1,2025,27898-2025,1
TTHC_TONG,202501,27898,10
TTHC_TONG,202506,27898,15
TTHC_TONG,202503,27910,7
TTHC_TONG,202507,27898-2025,30
TTHC_TONG,202512,27898-2025,40
CSV
agg agg import "$T/d.csv" > /dev/null
expect_eq "the values are imported" "$(agg agg query --format csv | tail -n +2 | grep -c .)" 18

# roll OU PE DE: "value covered expected" of one rollup figure.
roll() {
    agg agg rollup --org-unit "$1" --period "$2" --indicator "$3" \
        --format json | jq -r '.rows[0] | "\(.value) \(.covered) \(.expected)"'
}
# (rollup and completeness load deploy/orgunit_map.csv into the store;
# query, a read-only listing, uses the mapping stored there.)

# 1. A successor and a period before its creation: its predecessors.
# HGD_TONG (stock) 2025Q2 = 900 + 410 + 520 + 300 = 2130, 4 of 4 units.
expect_eq "rollup 27898-2025 2025Q2 HGD_TONG: the four predecessors" \
    "$(roll 27898-2025 2025Q2 HGD_TONG)" "2130 4 4"
# HGD_CAPQUANG_SO = 600 + 200 = 800, 2 of the 4 reported.
expect_eq "rollup 27898-2025 2025Q2 HGD_CAPQUANG_SO: 2 of 4" \
    "$(roll 27898-2025 2025Q2 HGD_CAPQUANG_SO)" "800 2 4"
wide() { agg agg query --org-unit 27898-2025 --period "$1" --wide \
    --format json "${@:2}"; }
w=$(wide 2025Q2 --indicator HGD_TONG --indicator HGD_CAPQUANG_SO)
expect_eq "query --wide 27898-2025 2025Q2: rows are the predecessors" \
    "$(echo "$w" | jq -r '[.rows[].orgUnit] | join(" ")')" \
    "27898 27910 27913 27928"
# reported: 27898 and 27910 both indicators, 27913 and 27928 one of two.
expect_eq "... each row's reported cells" \
    "$(echo "$w" | jq -r '[.rows[].reported] | join(" ")')" "2/2 2/2 1/2 1/2"
expect_eq "... 2 of 4 units complete" \
    "$(echo "$w" | jq -r '"\(.complete) \(.units)"')" "2 4"
# Table form: 4 rows and the summary, no lone red "0/2" row of 27898-2025.
t=$(agg agg query --org-unit 27898-2025 --period 2025Q2 --wide \
    --indicator HGD_TONG --indicator HGD_CAPQUANG_SO)
check "table: no row for 27898-2025 itself" sh -c "! echo \"\$1\" | grep -q '^27898-2025 '" _ "$t"
# The last line says first that 27898-2025 did not exist yet (lifetimes,
# docs/ADMIN.md "Completeness"), then its predecessors' count.
check "table: '... chưa tồn tại trong 2025Q2 (thành lập 2025-07-01); 2 of 4 org units complete'" \
    sh -c "echo \"\$1\" | grep -qx '.*(27898-2025) chưa tồn tại trong 2025Q2 (thành lập 2025-07-01); 2 of 4 org units complete'" _ "$t"
# ... and their total row, rollup's figures: 2130 and 800.
expect_eq "table: the total row of the predecessors" \
    "$(echo "$t" | awk '$1 == "total" {print $2, $3, $4}')" "27898-2025 2130 800"
c=$(agg agg completeness --org-unit 27898-2025 --period 2025Q2 \
    --indicator HGD_TONG --indicator HGD_CAPQUANG_SO --format json)
expect_eq "completeness 27898-2025 2025Q2: the same four units" \
    "$(echo "$c" | jq -r '[.rows[].orgunit] | join(" ")')" \
    "27898 27910 27913 27928"

# 2. A stock across the 2025-07-01 merge: the successor's value where it
# reported, never both: CBCC_TONG 2025 = 61 (not 20 + 18 + 61 = 99).
expect_eq "yearly stock across the merge: 61, one unit of one" \
    "$(roll 27898-2025 2025 CBCC_TONG)" "61 1 1"
# The old district, whose units have no successor inside it: 20 + 18 = 38,
# 2 of its 11 communes.
expect_eq "801 in 2025: its own communes, 20 + 18 = 38" \
    "$(roll 801 2025 CBCC_TONG)" "38 2 11"
# Successor silent: the predecessors' sum, 5 + 7 = 12; expected = the two
# that reported + the successor that owes = 3.
expect_eq "successor silent: the predecessors' sum 5 + 7 = 12" \
    "$(roll 27898-2025 2025 CBCC_DAOTAO_SO)" "12 2 3"

# 3. Yes/no: units that exist at the period's end: 27898-2025 only, one
# "yes" (27898's "yes" does not make it 2 communes). Stored as "true".
expect_eq "yes/no counts one commune once" \
    "$(roll 27898-2025 2025 NTM8_1)" "1 1 1"

# 4. A flow sums the parts each unit existed: 10 + 15 + 7 (Jan-Jun, old
# units) + 30 + 40 (Jul-Dec, the new commune) = 102; 3 units.
expect_eq "flow over the year: 10 + 15 + 7 + 30 + 40 = 102" \
    "$(roll 27898-2025 2025 TTHC_TONG)" "102 3 5"
expect_eq "flow, second half only: 30 + 40 = 70" \
    "$(roll 27898-2025 2025S2 TTHC_TONG)" "70 1 1"

# 5. query --wide, rollup and completeness agree cell by cell, for the
# period before the merge and for the year across it. Each wide column:
# its cells add up to its total row and to rollup's value, its filled
# cells are rollup's "covered", its rows rollup's "expected"; each row's
# reported count is completeness's. (CBCC_DAOTAO_SO is left out: with its successor silent,
# the figure falls back to predecessors that owe no row.)
agree() { # PE DE...
    local pe=$1 args=() d; shift
    for d in "$@"; do args+=(--indicator "$d"); done
    local w c
    w=$(wide "$pe" "${args[@]}")
    c=$(agg agg completeness --org-unit 27898-2025 --period "$pe" \
        "${args[@]}" --format json)
    for d in "$@"; do
        local sum n rows
        sum=$(echo "$w" | jq -r --arg d "$d" \
            '[.rows[].values[$d] | select(. != null)
              | if . == "true" then 1 elif . == "false" then 0
                else tonumber end] | add // 0')
        n=$(echo "$w" | jq -r --arg d "$d" \
            '[.rows[].values[$d] | select(. != null)] | length')
        rows=$(echo "$w" | jq -r '.rows | length')
        [ "$(echo "$w" | jq -r --arg d "$d" '.total.values[$d]')" = "$sum" ] || {
            diag "$pe $d: wide total row is not the sum of its rows ($sum)"
            return 1; }
        [ "$(roll 27898-2025 "$pe" "$d")" = "$sum $n $rows" ] || {
            diag "$pe $d: wide '$sum $n $rows', rollup '$(roll 27898-2025 "$pe" "$d")'"
            return 1; }
    done
    [ "$(echo "$w" | jq -c '[.rows[] | [.orgUnit, (.reported | split("/")[0] | tonumber)]]')" \
      = "$(echo "$c" | jq -c '[.rows[] | [.orgunit, .reported]]')" ] || {
        diag "wide/completeness differ: $w $c"; return 1; }
}
check "2025Q2: wide, rollup and completeness agree cell by cell" \
    agree 2025Q2 HGD_TONG HGD_CAPQUANG_SO
check "2025: wide, rollup and completeness agree cell by cell" \
    agree 2025 CBCC_TONG NTM8_1
w=$(wide 2025 --indicator CBCC_TONG --indicator NTM8_1)
expect_eq "query --wide 27898-2025 2025: the successor alone (61, yes)" \
    "$(echo "$w" | jq -c '[.rows[] | [.orgUnit, .values.CBCC_TONG, .values.NTM8_1]]')" \
    '[["27898-2025","61","true"]]'
expect_eq "... and its total: 61 officials, 1 commune" \
    "$(echo "$w" | jq -c '[.total.values.CBCC_TONG, .total.values.NTM8_1, .total.covered.NTM8_1]')" \
    '["61","1",1]'

# 6. The listings: query's long form, export and history of the new
# commune for 2025Q2 give its predecessors' values, keyed to their own
# codes: 4 HGD_TONG + 2 HGD_CAPQUANG_SO + 27898's TTHC_TONG of 202506
# (a month of Q2) = 7 values; 27898 has 3 of them.
expect_eq "query long form 27898-2025 2025Q2: the predecessors' 7 values" \
    "$(agg agg query --org-unit 27898-2025 --period 2025Q2 --format csv \
        | tail -n +2 | cut -d, -f1 | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" \
    "27898:3 27910:2 27913:1 27928:1 "
expect_eq "export 27898-2025 2025Q2: the same 7, old codes" \
    "$(agg agg export --org-unit 27898-2025 --period 2025Q2 --format dhis2-csv \
        | tail -n +2 | cut -d, -f3 | sort | tr -d '\r' | tr '\n' ' ')" \
    "27898 27898 27898 27910 27910 27913 27928 "
# Second half of 2025: the predecessors had no unit then; the new commune's
# two months 202507 and 202512 (its yearly 2025 values lie outside 2025S2).
expect_eq "export 27898-2025 2025S2: the new commune's 2 months only" \
    "$(agg agg export --org-unit 27898-2025 --period 2025S2 --format dhis2-csv \
        | tail -n +2 | cut -d, -f2,3 | tr -d '\r' | tr '\n' ' ')" \
    "202507,27898-2025 202512,27898-2025 "
h=$(agg agg history --org-unit 27898-2025 --indicator HGD_TONG --period 2025Q2 --format json)
expect_eq "history 27898-2025 HGD_TONG 2025Q2: the predecessors' updates" \
    "$(echo "$h" | jq -r '[.rows[] | "\(.org_unit)=\(.new)"] | join(" ")')" \
    "27898=900 27910=410 27913=520 27928=300"

# 7. The HTTP API the dashboard draws from: the same rows and total.
tok=$(agg agg token add dashboard | head -1)
agg_start agg
base="http://127.0.0.1:$port"
check "HTTP up" wait_for 10 curl -sf "$base/healthz"
auth=(-H "Authorization: Bearer $tok")
q="org_unit=27898-2025&period=2025Q2&indicator=HGD_TONG"
a=$(curl -sf "${auth[@]}" "$base/api/query?$q&wide=1")
expect_eq "API wide rows: the predecessors" \
    "$(echo "$a" | jq -r '[.rows[].orgUnit] | join(" ")')" \
    "27898 27910 27913 27928"
expect_eq "API wide cells: 900 410 520 300" \
    "$(echo "$a" | jq -r '[.rows[].values.HGD_TONG] | join(" ")')" \
    "900 410 520 300"
expect_eq "API wide total: 2130" "$(echo "$a" | jq -r '.total.values.HGD_TONG')" 2130
expect_eq "API total row (rollup): 2130, 4 of 4" \
    "$(curl -sf "${auth[@]}" "$base/api/rollup?$q" \
        | jq -r '.rows[0] | "\(.value) \(.covered) \(.expected)"')" "2130 4 4"
expect_eq "API completeness: the same four units" \
    "$(curl -sf "${auth[@]}" "$base/api/completeness?$q" \
        | jq -r '[.rows[].orgunit] | join(" ")')" "27898 27910 27913 27928"
expect_eq "API yearly stock across the merge: 61" \
    "$(curl -sf "${auth[@]}" "$base/api/rollup?org_unit=27898-2025&period=2025&indicator=CBCC_TONG" \
        | jq -r '.rows[0].value')" 61
agg_stop agg
