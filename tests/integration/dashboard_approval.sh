#!/bin/bash
# Corrections and approval in a real browser (issue 16 item 4): a district
# admin approves the quarter with the button, the commune's later value is
# listed as pending and accepted, a cell is corrected with a reason that
# history shows with who; a viewer sees neither panel. Headless Chromium
# via playwright-core (tests/browser/approval.mjs). Screenshots:
# $BUILD/test-artifacts/approval/. Without chromium or playwright-core:
# SKIP (tests/browser/setup.sh installs them for `make test`).
. "$(dirname "$0")/lib.sh"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ] \
   || ! command -v node > /dev/null; then
    echo "1..1"; echo "ok 1 - approval browser test # SKIP chromium or playwright-core not installed"
    exit 0
fi
echo "1..10"
port=$(free_port)
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
cat >> "$T/agg/aggregator.ini" <<INI
http_listen = 127.0.0.1:$port
dashboard = $TOP/deploy/dashboard/index.html
INI
agent_init a1 27901
pw='mật-khẩu-huyện-1'
printf '%s\n' "$pw" | agg agg user add can.bo --role district_admin --org-unit 801 --password-stdin > /dev/null
printf '%s\n' "$pw" | agg agg user add xem --role viewer --org-unit 801 --password-stdin > /dev/null
agg_start agg
agent_start a1
check "HTTP up" wait_for 10 curl -sf "http://127.0.0.1:$port/healthz"
# SUBMIT VALUE: the commune's agent sends VALUE and its outbox empties.
cat > "$T/submit.sh" <<SH
"$AGENT" -c "$T/a1/agent.ini" submit --org-unit 27901 --indicator HGD_TONG --period 2025Q1 --value "\$1" > /dev/null
for i in \$(seq 200); do
    [ "\$(sqlite3 "$T/a1/state/agent.db" 'PRAGMA busy_timeout=5000; SELECT count(*) FROM outbox;' | tail -1)" = 0 ] && exit 0
    sleep 0.1
done
exit 1
SH
check "the commune's first value arrives" bash "$T/submit.sh" 1000
out=$BUILD/test-artifacts/approval; mkdir -p "$out"
BASE_URL="http://127.0.0.1:$port" ADMIN=can.bo VIEWER=xem PASSWORD="$pw" SUBMIT="$T/submit.sh" \
OUT_DIR="$out" FIRST=3 timeout 180 node "$TOP/tests/browser/approval.mjs" || FAILED=1
diag "screenshots in $out"
