#!/bin/bash
# The dashboard in a real browser (issue 5 items 7-8): headless Chromium
# driven by playwright-core (tests/browser/, npm lock file committed) logs
# in with a token, shows a period, and the table must equal `query --wide`
# for the same data; opens a history, downloads an export, switches to
# English and opens the health page. Screenshots: $BUILD/test-artifacts/.
# `make test` installs chromium and playwright-core (tests/browser/setup.sh);
# run alone without them, the test says SKIP.
. "$(dirname "$0")/lib.sh"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ] \
   || ! command -v node > /dev/null; then
    echo "1..1"; echo "ok 1 - dashboard browser test # SKIP chromium or playwright-core not installed"
    exit 0
fi
echo "1..12"
port=$((20000 + ($$ * 13) % 20000))
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
cat >> "$T/agg/aggregator.ini" <<INI
http_listen = 127.0.0.1:$port
dashboard = $TOP/deploy/dashboard/index.html
INI
# demo data: 8 of the 11 communes, 2025Q2
{
    echo "dataelement,period,orgunit,value,storedby"
    i=0
    for ou in 27898 27901 27904 27907 27910 27913 27916 27919; do
        i=$((i + 1))
        echo "HGD_TONG,2025Q2,$ou,$((900 + i * 37)),can.bo.$ou"
        echo "HGD_CAPQUANG_SO,2025Q2,$ou,$((600 + i * 29)),can.bo.$ou"
        [ $i -le 6 ] && echo "TO_CNSCD,2025Q2,$ou,$((i % 4 + 1)),can.bo.$ou"
        [ $i -le 4 ] && echo "HGD_TONG,2025Q1,$ou,$((880 + i * 37)),can.bo.$ou"
    done
} > "$T/demo.csv"
agg agg import "$T/demo.csv" > /dev/null
tok=$(agg agg token add browser | head -1)
agg_start agg
check "HTTP up" wait_for 10 curl -sf "http://127.0.0.1:$port/healthz"
inds="HGD_TONG,HGD_CAPQUANG_SO,HGD_CAPQUANG,TO_CNSCD"
set -- $(echo "$inds" | tr ',' ' ')
args=(); for i in "$@"; do args+=(--indicator "$i"); done
agg agg query --org-unit 801 --period 2025Q2 --wide --format json "${args[@]}" > "$T/expected.json"
bars=$(agg agg query --org-unit 801 --indicator HGD_TONG --from 2024Q3 --to 2025Q2 --format csv | tail -n +2 | grep -c .)
out=$BUILD/test-artifacts/dashboard; mkdir -p "$out"
BASE_URL="http://127.0.0.1:$port" TOKEN="$tok" EXPECTED="$T/expected.json" \
OU=801 PERIOD=2025Q2 INDS="$inds" OUT_DIR="$out" FIRST=2 CHART_BARS=$bars \
    timeout 120 node "$TOP/tests/browser/dashboard.mjs" || FAILED=1
diag "screenshots in $out"
