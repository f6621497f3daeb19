#!/bin/bash
# The dashboard in a real browser, as a district officer uses it (issue 16
# item 1-2): headless Chromium driven by playwright-core (tests/browser/,
# npm lock file committed) walks every view on demo-like data (Đức Huệ's 11
# communes over four quarters, three of them not reported in 2025Q2, the
# merged Xã Đức Huệ shown through its predecessors, and a made-up district
# of 300 communes) and checks what is on screen against
# the CLI: names not codes, vi-VN numbers computed from the raw values,
# totals equal to `rollup`, reporting progress equal to `completeness`,
# history times in Vietnam time, who has not reported with their contact
# (deploy/contacts.csv: tel: and mailto: links), operators' health in words, Vietnamese
# errors that clear stale content, the official report printed to A4 PDF.
# Screenshots (1366x768 and 390 px) and the PDF pages (pdftoppm):
# $BUILD/test-artifacts/dashboard/. `make test` installs chromium,
# poppler-utils and playwright-core (tests/browser/setup.sh); run alone
# without them, the test says SKIP.
. "$(dirname "$0")/lib.sh"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ] \
   || ! command -v node > /dev/null || ! command -v pdftoppm > /dev/null; then
    echo "1..1"; echo "ok 1 - dashboard browser test # SKIP chromium, pdftoppm or playwright-core not installed"
    exit 0
fi
echo "1..41"
port=$(free_port)
# the org units plus a district of 300 communes (the chart at province scale)
ORGUNITS=$T/orgunits.csv
{
    cat "$TOP/deploy/orgunits.csv"
    echo "899,Huyện Thử Nghiệm,80,,"
    for i in $(seq 1 300); do echo "899$(printf %03d "$i"),Xã Thử Nghiệm $i,899,,"; done
} > "$ORGUNITS"
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
cat >> "$T/agg/aggregator.ini" <<INI
http_listen = 127.0.0.1:$port
dashboard = $TOP/deploy/dashboard/index.html
orgunit_map = $TOP/deploy/orgunit_map.csv
INI
# demo-like data: 11 communes, 2024Q3..2025Q2; 27922, 27925, 27928 have not
# reported 2025Q2, and only the first 7 have reporting teams (TO_CNSCD)
{
    echo "dataelement,period,orgunit,value,storedby"
    i=0
    for ou in 27898 27901 27904 27907 27910 27913 27916 27919 27922 27925 27928; do
        i=$((i + 1)); k=0
        for pe in 2024Q3 2024Q4 2025Q1 2025Q2; do
            [ $pe = 2025Q2 ] && [ $i -ge 9 ] && continue
            hgd=$((2100 + i * 173 + k * 11))
            echo "HGD_TONG,$pe,$ou,$hgd,can.bo.$ou"
            echo "HGD_CAPQUANG_SO,$pe,$ou,$((hgd * (70 + i + k * 3) / 100)),can.bo.$ou"
            echo "DSTT_TONG,$pe,$ou,$((6000 + i * 511)),can.bo.$ou"
            echo "DSTT_SMARTPHONE_SO,$pe,$ou,$(((6000 + i * 511) * (60 + k * 4 + i) / 100)),can.bo.$ou"
            [ $i -le 7 ] && echo "TO_CNSCD,$pe,$ou,$((i % 4 + 3)),can.bo.$ou"
            k=$((k + 1))
        done
    done
    for i in $(seq 1 300); do echo "HGD_TONG,2025Q2,899$(printf %03d "$i"),$(((i * 7919) % 4000 + 500)),can.bo.899"; done
} > "$T/demo.csv"
agg agg import "$T/demo.csv" > /dev/null
# one value corrected later: its history has two rows
# and one implausible: more smartphone users than adults (a rule violation)
printf 'dataelement,period,orgunit,value,storedby\nHGD_TONG,2025Q2,27898,2310,chuyen.vien.huyen\nDSTT_SMARTPHONE_SO,2025Q2,27904,9999,can.bo.27904\n' > "$T/fix.csv"
# and a fibre share entered as 99.9 % where 27901's counts give less: a
# derived ratio, shown from its counts with the entered value marked
echo "HGD_CAPQUANG,2025Q2,27901,99.9,can.bo.27901" >> "$T/fix.csv"
agg agg import "$T/fix.csv" > /dev/null
tok=$(agg agg token add browser | head -1)
agent_init may1 27901
agent_init may2 27904
agg_start agg
agent_start may1
check "HTTP up" wait_for 10 curl -sf "http://127.0.0.1:$port/healthz"
inds="HGD_TONG,HGD_CAPQUANG_SO,HGD_CAPQUANG,DSTT_TONG,DSTT_SMARTPHONE,TO_CNSCD"
set -- $(echo "$inds" | tr ',' ' ')
args=(); for i in "$@"; do args+=(--indicator "$i"); done
agg agg query --org-unit 801 --period 2025Q2 --wide --format json "${args[@]}" > "$T/wide.json"
agg agg rollup --org-unit 801 --period 2025Q2 --format json "${args[@]}" > "$T/rollup.json"
# completeness of what communes enter: the RATIO indicators are computed
agg agg completeness --org-unit 801 --period 2025Q2 --format json --indicator HGD_TONG \
    --indicator HGD_CAPQUANG_SO --indicator DSTT_TONG --indicator TO_CNSCD > "$T/compl.json"
agg agg rank --org-unit 801 --indicator HGD_CAPQUANG --period 2025Q2 --format json > "$T/rank.json"
agg agg validate --org-unit 801 --period 2025Q2 --format json > "$T/validate.json"
agg agg history --org-unit 27898 --indicator HGD_TONG --period 2025Q2 --format json > "$T/history.json"
agg agg query --org-unit 899 --period 2025Q2 --wide --format json --indicator HGD_TONG > "$T/wide300.json"
# Xã Đức Huệ (made on 2025-07-01 from three communes) for 2025Q2: its predecessors
agg agg query --org-unit 27925-2025 --period 2025Q2 --wide --format json --indicator HGD_TONG > "$T/merged.json"
agg agg rollup --org-unit 27925-2025 --period 2025Q2 --format json --indicator HGD_TONG > "$T/merged_rollup.json"
for pe in 2024Q3 2024Q4 2025Q1 2025Q2; do
    agg agg rollup --org-unit 801 --period $pe --format json --indicator HGD_TONG
done | jq -s '[.[] | {period, value: .rows[0].value}]' > "$T/trend.json"
# the running agent has said hello: the operations view has a live machine
heard() { curl -sf -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/health" \
              | jq -e '[.agents[] | select(.last_seen_ms > 0)] | length == 1' > /dev/null; }
check "agent seen by the aggregator" wait_for 20 heard
out=$BUILD/test-artifacts/dashboard; mkdir -p "$out"; rm -f "$out"/*.png "$out"/*.pdf
BASE_URL="http://127.0.0.1:$port" TOKEN="$tok" DATA="$T" INDS="$inds" OUT_DIR="$out" FIRST=3 \
    timeout 240 node "$TOP/tests/browser/dashboard.mjs" || FAILED=1
# the browser's 37 checks (fewer when it stopped early: then it said not ok)
TESTNO=$(cat "$T/tap_last" 2> /dev/null || echo 39)
pdftoppm -png -r 70 "$out/report.pdf" "$out/report-page" 2> /dev/null
pages=$(ls "$out"/report-page-*.png 2> /dev/null | wc -l)
pdftotext -layout "$out/report.pdf" "$T/report.txt" 2> /dev/null
check "printed report: $pages A4 page(s), national heading, no form or buttons" \
    eval '[ "$pages" -ge 1 ] && grep -q "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "$T/report.txt" &&
          ! grep -q "Mã truy cập\|Tiến độ báo cáo\|DHIS2 JSON" "$T/report.txt" &&
          pdfinfo "$out/report.pdf" | grep -q "Page size:.*(A4)"'
# the .xlsx the Excel button fetched: the form's heading, rollup's total
/usr/bin/python3 - "$out/report.xlsx" "$T/rollup.json" > "$T/xlsx.txt" 2>&1 <<'PY'
import json, sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1]).active
cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
total = {r["indicator"]: r["value"] for r in json.load(open(sys.argv[2]))["rows"]}
print("heading", all(any(isinstance(c, str) and w in c for c in cells)
      for w in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "UBND HUYỆN ĐỨC HUỆ", "15/BC-UBND", "Nguyễn Văn An")))
print("total", total["HGD_TONG"] in cells)
PY
check "Excel file: the form's heading and rollup's total ($(tr '\n' ' ' < "$T/xlsx.txt"))" \
    eval '[ "$(cat "$T/xlsx.txt")" = "$(printf "heading True\ntotal True")" ]'
diag "screenshots and PDF pages in $out"
