#!/bin/bash
# Issue 18 item 5 on Windows: the officer's page served by the Windows
# agent (build/win/cdsync-agent.exe, libmicrohttpd linked in) under
# wine64, fetched with curl from Linux (Wine's sockets are the host's):
# `open` prints a one-time login link on 127.0.0.1 and listens there
# only; the link logs in once and is refused when reused; the form lists
# the catalog's indicators with their Vietnamese names; a bad value is
# refused naming it; a value submitted through the page is in the outbox,
# as `status` (under Wine) shows; a CSV with a bad row names that row and
# queues nothing; the daemon then delivers the page's value. With
# headless Chromium (tests/browser), one screenshot of the page as the
# Windows agent serves it ($BUILD/test-artifacts/winpage/page.png).
# `make windows-test` runs it, after tests/windows/windows_agent.sh.
# Skips, saying why, when the .exe is not built. Bounds are wide: Wine
# starts each command in about a second.
. "$(dirname "$0")/wine_lib.sh"
wine_plan 17
# The browser: `open` calls ShellExecuteW on page-login.html; Wine hands
# it to winebrowser, which runs the host's xdg-open: here a stand-in first
# in PATH that only notes what it was asked to open.
mkdir -p "$T/bin"
cat > "$T/bin/xdg-open" <<SH
#!/bin/sh
printf '%s\n' "\$1" >> "$T/browser.args"
SH
chmod +x "$T/bin/xdg-open"
export PATH="$T/bin:$PATH"
end_wine        # start without a wineserver left by another script
port=$(free_port)   # the page's (lib.sh: the kernel's pick)
agg_init agg "tcp://127.0.0.1:$(free_port)"
check "keygen under Wine, enrolled at the aggregator" agent_init w1 27907-2025
echo "http_listen = 127.0.0.1:$port" >> "$T/w1/agent.ini"
agg_start agg
U="http://127.0.0.1:$port"

out=$(agent w1 --http-listen 0.0.0.0:$port open 2>&1); rc=$?
check "a non-loopback listen address is refused (exit $rc)" \
    eval '[ $rc = 3 ] && grep -q "loopback" <<< "$out"'

# open_page FILE [ARGS]: `open` in the background, its output in FILE; the
# link in $url. stop_page: kill -9 (Windows has no SIGTERM:
# windows_agent.sh); under Wine its port stays taken (above), so a second
# `open` takes another.
open_page() {
    local f=$1; shift
    "$AGENT" -c "$T/w1/agent.ini" "$@" open > "$f" 2>&1 &
    OPEN_PID=$!; PIDS="$PIDS $OPEN_PID"
    url=
    wait_for 60 grep -q "^http://" "$f" && url=$(grep -m1 "^http://" "$f" | tr -d '\r')
}
stop_page() { kill -9 "$OPEN_PID" 2>/dev/null; wait "$OPEN_PID" 2>/dev/null; }

open_page "$T/open1.out"
check "open prints a one-time login link on 127.0.0.1" \
    grep -q "^http://127.0.0.1:$port/login?t=[0-9a-f]\{64\}$" <<< "$url"
diag "$(tr -d '\r' < "$T/open1.out" | grep -v '^ts=' | head -n 1)"
login_file=$(wait_for 30 test -s "$T/browser.args" && head -n 1 "$T/browser.args")
check "ShellExecuteW hands the browser page-login.html, which holds the link" \
    eval 'grep -q "^Đã mở trang" "$T/open1.out" && [ "$login_file" = "file://$T/w1/state/page-login.html" ] && grep -qF "url=$url\"" "$T/w1/state/page-login.html"'
diag "the browser was asked to open $login_file"
check "the page listens on 127.0.0.1 only" \
    eval 'ss -Hltn "sport = :$port" | awk "{ print \$4 }" | grep -qx "127.0.0.1:$port"'
code=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$U/api/state")
expect_eq "no cookie: 401" "$code" 401
curl -s -m 20 -D "$T/h1" -o /dev/null -c "$T/jar" "$url"
check "the link logs in: a session cookie and a redirect" \
    eval 'grep -q "^HTTP/1.1 303" "$T/h1" && grep -qi "^set-cookie: cdsync_page=" "$T/h1"'
code=$(curl -s -m 20 -o "$T/r2" -w '%{http_code}' -c "$T/jar2" "$url")
check "the same link used again: 403, no session" \
    eval '[ "$code" = 403 ] && grep -q "đã được dùng" "$T/r2" && ! grep -q cdsync_page "$T/jar2"'
curl -s -m 20 -b "$T/jar" "$U/api/state" > "$T/state.json"
csrf=$(jq -r .csrf "$T/state.json")
check "the state answers with the session cookie" [ ${#csrf} = 64 ]
name=$(jq -r '.units[] | select(.code == "27907-2025") | .rows[] | select(.indicator == "TO_CNSCD") | .name_vi' "$T/state.json")
expect_eq "the form lists the catalog's indicators in Vietnamese" \
    "$name" "$(awk -F, '$1 == "TO_CNSCD" { print $2 }' "$CATALOG")"
pe=$(jq -r '.units[] | select(.code == "27907-2025") | .rows[] | select(.indicator == "HGD_TONG") | .period' "$T/state.json")

post() { # post PATH BODY: status code; body in $T/p
    curl -s -m 20 -o "$T/p" -w '%{http_code}' -b "$T/jar" -H "X-CSRF-Token: $csrf" \
        -H 'Content-Type: application/json' --data-binary "$2" "$U$1"
}
val() { printf '{"org_unit":"%s","indicator":"%s","period":"%s","value":"%s"}' "$@"; }
code=$(post /api/check "$(val 27907-2025 HGD_TONG "$pe" 12a)")
check "a bad value: 400 naming the field and the value in Vietnamese" \
    eval '[ "$code" = 400 ] && jq -r .error "$T/p" | grep -q "^Giá trị không hợp lệ (value «12a», HGD_TONG 27907-2025"'
code=$(post /api/submit "$(val 27907-2025 HGD_TONG "$pe" 1200)")
expect_eq "a value submitted through the page: 200" "$code" 200
expect_eq "... is in the outbox, as status says" \
    "$(agent w1 status --json 2> /dev/null | jq -r '"\(.queue.depth) \(.last_seq)"')" "1 1"

printf 'dataelement,period,orgunit,value\nHGD_TONG,%s,27907-2025,5\nHGD_TONG,%s,27907-2025,-x\n' \
    "$pe" "$pe" > "$T/bad.csv"
code=$(curl -s -m 20 -o "$T/p" -w '%{http_code}' -b "$T/jar" -H "X-CSRF-Token: $csrf" \
    -H 'X-File-Name: s%E1%BB%91-li%E1%BB%87u.csv' --data-binary @"$T/bad.csv" "$U/api/import")
check "a CSV with a bad row: 400, the row named, nothing queued" \
    eval '[ "$code" = 400 ] && jq -r ".rows[]" "$T/p" | grep -q "^số-liệu.csv:3: value" && [ "$(agent_depth w1)" = 1 ]'
diag "$(jq -r '.error, .rows[]' "$T/p" | tr '\n' ' ')"

# One screenshot of the page the Windows agent serves (Chromium on Linux).
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
    stop_page
    port2=$(free_port)
    open_page "$T/open2.out" --http-listen "127.0.0.1:$port2"
    art=$BUILD/test-artifacts/winpage; mkdir -p "$art"; rm -f "$art/page.png"
    # The link sets the cookie and redirects to the page; --virtual-time-
    # budget lets its script fetch the state before the picture.
    timeout 90 "$chromium" --headless=new --no-sandbox --disable-gpu \
        --user-data-dir="$T/chromium" --window-size=1100,1260 \
        --virtual-time-budget=8000 --screenshot="$art/page.png" "$url" \
        > "$T/chromium.log" 2>&1
    check "a screenshot of the page under Wine ($art/page.png)" [ -s "$art/page.png" ]
else
    ok "a screenshot of the page under Wine # SKIP no chromium"
fi
stop_page

agent_start w1
check "the daemon delivers the page's value" wait_for 120 outbox_empty w1
expect_eq "the aggregator holds it" \
    "$(aggq agg "SELECT value FROM datavalue WHERE org_unit = '27907-2025' AND indicator = 'HGD_TONG' AND period = '$pe';")" 1200
agent_kill9 w1
end_wine
[ "$FAILED" = 0 ]
