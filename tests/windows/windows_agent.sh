#!/bin/bash
# Issue 18 item 3: the Windows agent (build/win/cdsync-agent.exe) run by
# wine64 against the Linux aggregator on 127.0.0.1: keygen, submit, run,
# receipts, each value exactly once. Outside tests/integration on purpose:
# `make windows-test` runs it, `make test` does not (yet: docs/WINDOWS.md).
# Skips, saying why, when the .exe is not built (the libinih blocker).
. "$(dirname "$0")/../integration/lib.sh"
WIN_EXE=$BUILD/win/cdsync-agent.exe
WINE=${WINE:-$(command -v wine64 || echo /usr/lib/wine/wine64)}
if [ ! -f "$WIN_EXE" ] || [ ! -x "$WINE" ]; then
    echo "1..0 # SKIP no $WIN_EXE or no wine64: sh deploy/windows/deps.sh && make windows (docs/WINDOWS.md)"
    exit 0
fi
echo "1..7"
# lib.sh's helpers run $AGENT: make it the .exe under Wine. Wine maps the
# Unix paths of the test directory through its Z: drive.
cat > "$T/wine-agent" <<SH
#!/bin/sh
WINEPREFIX=$BUILD/win/wine WINEDEBUG=-all exec "$WINE" "$WIN_EXE" "\$@"
SH
chmod +x "$T/wine-agent"
AGENT=$T/wine-agent
port=$((20000 + $$ % 20000))
agg_init agg "tcp://127.0.0.1:$port"
check "keygen under Wine, enrolled at the aggregator" agent_init w1 27901
check "the public identity is a cds1: id" grep -q '^cds1:' "$T/w1/pubid"
agg_start agg
agent w1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null &&
agent w1 submit --org-unit 27901 --indicator NTM8_4 --period 2024 --value có > /dev/null &&
agent w1 submit --org-unit 27901 --indicator TO_CNSCD_TV --period 2025Q2 --value 41 \
    --comment "Tổ ấp 3, mới lập" > /dev/null
check "three submits accepted" [ $? = 0 ]
agent_start w1
check "the Windows agent's outbox drains" wait_for 60 outbox_empty w1
out=$(agg agg query --org-unit 801 --format csv)
diag "$out"
expect_eq "exactly three values at the district" "$(printf '%s\n' "$out" | tail -n +2 | grep -c .)" 3
expect_eq "history has each update once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT agent_id || ':' || seq) FROM update_log;")" "3|3"
check "receipts listed by the Windows agent" agent w1 receipts
