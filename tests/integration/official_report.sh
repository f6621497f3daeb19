#!/bin/bash
# Official reports (issue 16 item 2): `report` writes the .xlsx in the
# Vietnamese administrative form; tests/python/xlsx_report_check.py opens
# it with python3-openpyxl and checks the heading, the unit names, every
# figure cell against `rollup --format csv` (and totals computed by hand
# below), the number formats, the frozen header and the print setup; the
# same over HTTP (/api/report). The file is written whole or not at all,
# never over an existing file without --force. --bom puts a BOM before
# every CSV the commands print (query, rollup, completeness, history,
# export, report) and is refused with a non-CSV format.
. "$(dirname "$0")/lib.sh"
echo "1..26"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import openpyxl' 2>/dev/null; then
    not_ok "python3-openpyxl is installed (deploy/deps.sh)"
    exit 1
fi
CHECK=$TOP/tests/python/xlsx_report_check.py
port=$(free_port)
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:$port" >> "$T/agg/aggregator.ini"

# Three communes of Huyện Đức Huệ (801) report for 2025Q2; TTHC_* are
# monthly counts (SUM over the quarter).
cat > "$T/d.csv" <<'CSV'
dataelement,period,orgunit,value
HGD_TONG,2025Q2,27901,31141
HGD_CAPQUANG_SO,2025Q2,27901,26825
HGD_TONG,2025Q2,27904,100
HGD_CAPQUANG_SO,2025Q2,27904,10
HGD_TONG,2025Q2,27898,2000
HGD_CAPQUANG_SO,2025Q2,27898,1500
TTHC_TONG,202504,27901,40
TTHC_ONLINE_SO,202504,27901,30
TTHC_TONG,202505,27901,60
TTHC_ONLINE_SO,202505,27901,45
CSV
agg agg import "$T/d.csv" > /dev/null
check "values imported" [ $? = 0 ]

IND=(--indicator HGD_TONG --indicator HGD_CAPQUANG_SO --indicator HGD_CAPQUANG
     --indicator TTHC_TONG --indicator TTHC_ONLINE_SO --indicator TTHC_ONLINE)
# rollup of the district and of each of its communes: what every cell must be
mkdir -p "$T/rollup"
for ou in 801 $(awk -F, '$3 == "801" { print $1 }' "$ORGUNITS"); do
    agg agg rollup --org-unit "$ou" --period 2025Q2 "${IND[@]}" --format csv \
        > "$T/rollup/$ou.csv" || echo "rollup $ou failed" >&2
done
# By hand: households 31141 + 100 + 2000 = 33241; fibre 26825 + 10 + 1500 =
# 28335 -> 28335 / 33241 = 85.24 %; applications online (30 + 45) /
# (40 + 60) = 75 % (monthly counts summed over the quarter).
HAND=(total:HGD_TONG=33241 total:HGD_CAPQUANG_SO=28335
      total:HGD_CAPQUANG=85.2411 total:TTHC_ONLINE=75)
HEAD=(issuer="UBND HUYỆN ĐỨC HUỆ" number="Số: 12/BC-UBND"
      "date_line=Đức Huệ, ngày 15 tháng 07 năm 2025"
      "title=Kết quả chuyển đổi số Quý 2 năm 2025" signer="Nguyễn Văn An")

agg agg report --org-unit 801 --period 2025Q2 "${IND[@]}" --out "$T/r.xlsx" \
    --unit-name "UBND HUYỆN ĐỨC HUỆ" --number "Số: 12/BC-UBND" \
    --place "Đức Huệ" --date 2025-07-15 --signer "Nguyễn Văn An" > "$T/out" 2> "$T/err"
expect_eq "report --out FILE: exit 0, names the file" "$? $(grep -c "$T/r.xlsx" "$T/out")" "0 1"
"$PY" "$CHECK" "$T/r.xlsx" "$CATALOG" "$ORGUNITS" 801 2025Q2 "$T/rollup" \
    "${HEAD[@]}" "${HAND[@]}" > "$T/check.out" 2>&1
rc=$?
diag "$(cat "$T/check.out")"
check "xlsx: heading, names, every figure = rollup, formats, frozen header, A4" [ $rc = 0 ]
check "xlsx: the check looked at 12 rows (11 communes, total) of 6 indicators" grep -q "checked 12 rows x 6 indicators" "$T/check.out"
expect_eq "the hand totals agree with rollup (district row)" \
    "$(awk -F, '$1 == "HGD_TONG" || $1 == "HGD_CAPQUANG" { printf "%s ", $4 }' "$T/rollup/801.csv")" \
    "33241 85.24 "

# the checker fails when a figure is wrong (it is not a rubber stamp)
sed 's/^HGD_TONG,SUM,\([A-Z]*\),33241,/HGD_TONG,SUM,\1,33242,/' "$T/rollup/801.csv" > "$T/bad801.csv"
mkdir -p "$T/badroll" && cp "$T/rollup/"*.csv "$T/badroll/" && cp "$T/bad801.csv" "$T/badroll/801.csv"
"$PY" "$CHECK" "$T/r.xlsx" "$CATALOG" "$ORGUNITS" 801 2025Q2 "$T/badroll" > "$T/bad.out" 2>&1
expect_eq "checker: a total that differs from rollup is found" "$? $(grep -c 'total HGD_TONG' "$T/bad.out")" "1 1"

# every default indicator of the quarter (no --indicator), checked the same way
mkdir -p "$T/rollall"
for ou in 801 $(awk -F, '$3 == "801" { print $1 }' "$ORGUNITS"); do
    agg agg rollup --org-unit "$ou" --period 2025Q2 --format csv > "$T/rollall/$ou.csv"
done
agg agg report --org-unit 801 --period 2025Q2 --out "$T/all.xlsx" > /dev/null
"$PY" "$CHECK" "$T/all.xlsx" "$CATALOG" "$ORGUNITS" 801 2025Q2 "$T/rollall" \
    issuer="Huyện Đức Huệ" > "$T/all.out" 2>&1
rc=$?
diag "$(tail -1 "$T/all.out")"
check "xlsx with the default indicators: every cell = rollup" [ $rc = 0 ]

# output file safety
before=$(sha256sum < "$T/r.xlsx")
agg agg report --org-unit 801 --period 2025Q2 --out "$T/r.xlsx" > /dev/null 2> "$T/err"
expect_eq "existing file: exit 2, 'already exists', file unchanged" \
    "$? $(grep -c 'already exists' "$T/err") $(sha256sum < "$T/r.xlsx")" "2 1 $before"
agg agg report --org-unit 801 --period 2025Q2 --indicator HGD_TONG --out "$T/r.xlsx" --force > /dev/null
check "--force replaces it" [ "$(sha256sum < "$T/r.xlsx")" != "$before" ]
agg agg report --org-unit 801 --period 2025Q9 --out "$T/bad.xlsx" > /dev/null 2> "$T/err"
expect_eq "bad period: exit 1, message names it, no file" \
    "$? $(grep -c 'period: "2025Q9"' "$T/err") $(ls "$T"/bad.xlsx* 2>/dev/null | wc -l)" "1 1 0"
agg agg report --org-unit NOPE --period 2025Q2 --out "$T/bad.xlsx" > /dev/null 2> "$T/err"
expect_eq "unknown org unit: refused, no file" \
    "$(grep -c 'org-unit: "NOPE"' "$T/err") $(ls "$T"/bad.xlsx* 2>/dev/null | wc -l)" "1 0"
agg agg report --org-unit 801 --period 2025Q2 --date 2025-13-01 --out "$T/bad.xlsx" > /dev/null 2> "$T/err"
expect_eq "bad --date: exit 2, names it" "$? $(grep -c 'date: "2025-13-01"' "$T/err")" "2 1"
agg agg report --org-unit 801 --period 2025Q2 > /dev/null 2> "$T/err"
expect_eq "no --out: exit 2" "$? $(grep -c -- '--out' "$T/err")" "2 1"
agg agg report --org-unit 801 --period 2025Q2 --format pdf --out "$T/bad.pdf" > /dev/null 2> "$T/err"
expect_eq "unknown format: exit 2" "$? $(grep -c 'xlsx or csv' "$T/err")" "2 1"
expect_eq "no temporary file left beside the targets" "$(ls "$T" | grep -c '\.tmp-')" 0

# the CSV form: the same figures, a BOM with --bom
agg agg report --org-unit 801 --period 2025Q2 "${IND[@]}" --format csv --bom --out "$T/r.csv" > /dev/null
expect_eq "report --format csv --bom starts with a BOM" "$(head -c 3 "$T/r.csv" | od -An -tx1 | tr -d ' ')" "efbbbf"
expect_eq "report csv: the total row is rollup's figures" \
    "$(tail -1 "$T/r.csv" | cut -d, -f4- | tr -d '\r')" \
    "$(tail -n +2 "$T/rollup/801.csv" | cut -d, -f4 | paste -sd,)"
agg agg report --org-unit 801 --period 2025Q2 --bom --out "$T/bom.xlsx" > /dev/null 2> "$T/err"
expect_eq "--bom with xlsx: exit 2" "$?" 2

# --bom on every command that prints CSV: a BOM, then exactly the output without it
bom_ok() {  # command args...: BOM + the same bytes as without --bom
    local a b
    a=$(agg agg "$@" --format csv | od -An -tx1 | tr -d ' \n')
    b=$(agg agg "$@" --format csv --bom | od -An -tx1 | tr -d ' \n')
    [ -n "$a" ] && [ "$b" = "efbbbf$a" ]
}
check "rollup --bom" bom_ok rollup --org-unit 801 --period 2025Q2 --indicator HGD_TONG
check "completeness --bom" bom_ok completeness --org-unit 801 --period 2025Q2 --indicator HGD_TONG
check "history --bom" bom_ok history --org-unit 27901 --period 2025Q2 --indicator HGD_TONG
check "query --bom" bom_ok query --org-unit 801 --period 2025Q2
agg agg rollup --org-unit 801 --period 2025Q2 --format json --bom > "$T/j" 2> "$T/err"
expect_eq "--bom with json: exit 2, nothing printed" "$? $(wc -c < "$T/j") $(grep -c 'only with --format csv' "$T/err")" "2 0 1"

# over HTTP, for the dashboard's button
tok=$(agg agg token add report | head -1)
agg_start agg
base="http://127.0.0.1:$port"
check "HTTP up" wait_for 10 curl -sf "$base/healthz"
q="org_unit=801&period=2025Q2&indicator=HGD_TONG,HGD_CAPQUANG_SO,HGD_CAPQUANG,TTHC_TONG,TTHC_ONLINE_SO,TTHC_ONLINE"
q="$q&date=2025-07-15&place=%C4%90%E1%BB%A9c%20Hu%E1%BB%87&number=S%E1%BB%91%3A%2012%2FBC-UBND"
ct=$(curl -s -o "$T/h.xlsx" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $tok" "$base/api/report?$q")
"$PY" "$CHECK" "$T/h.xlsx" "$CATALOG" "$ORGUNITS" 801 2025Q2 "$T/rollup" \
    number="Số: 12/BC-UBND" "date_line=Đức Huệ, ngày 15 tháng 07 năm 2025" \
    "${HAND[@]}" > "$T/http.out" 2>&1
rc=$?
diag "$ct $(tail -1 "$T/http.out")"
expect_eq "GET /api/report: 200 xlsx, every cell = rollup" \
    "$ct $rc" "200 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet 0"
code=$(curl -s -o "$T/e" -w '%{http_code}' -H "Authorization: Bearer $tok" "$base/api/report?org_unit=801&period=2025Q9")
expect_eq "GET /api/report bad period: 400 JSON" "$code $(jq -r .error "$T/e" | grep -c period)" "400 1"
exit $FAILED
