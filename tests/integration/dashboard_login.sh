#!/bin/bash
# The login page in a real browser (issue 16 item 3, account.h): headless
# Chromium via playwright-core (tests/browser/login.mjs) gets a Vietnamese
# message for a wrong password, logs in, sees who is logged in on the
# dashboard, cannot read the HttpOnly cookie from script, reads its own
# district and is refused another unit, and logs out. Screenshots:
# $BUILD/test-artifacts/login/. Without chromium or playwright-core: SKIP
# (tests/browser/setup.sh installs them for `make test`).
. "$(dirname "$0")/lib.sh"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ] \
   || ! command -v node > /dev/null; then
    echo "1..1"; echo "ok 1 - login browser test # SKIP chromium or playwright-core not installed"
    exit 0
fi
echo "1..8"
port=$(free_port)
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
cat >> "$T/agg/aggregator.ini" <<INI
http_listen = 127.0.0.1:$port
dashboard = $TOP/deploy/dashboard/index.html
INI
printf 'HGD_TONG,2025Q1,27901,1000\n' | sed '1i dataelement,period,orgunit,value' > "$T/d.csv"
agg agg import "$T/d.csv" > /dev/null
printf '%s\n' 'mật-khẩu-huyện-1' | agg agg user add can.bo --role district_admin --org-unit 801 --password-stdin > /dev/null
agg_start agg
check "HTTP up" wait_for 10 curl -sf "http://127.0.0.1:$port/healthz"
out=$BUILD/test-artifacts/login; mkdir -p "$out"
BASE_URL="http://127.0.0.1:$port" USER_NAME=can.bo PASSWORD='mật-khẩu-huyện-1' \
OTHER_OU=27907-2025 OUT_DIR="$out" FIRST=2 \
    timeout 120 node "$TOP/tests/browser/login.mjs" || FAILED=1
diag "screenshots in $out"
