# Shared by the scripts that run cdsync-agent.exe under wine64 against the
# Linux aggregator (windows_agent.sh, page.sh): source it after setting
# nothing; it sources tests/integration/lib.sh. wine_plan N prints the TAP
# plan, or skips (exit 0, saying why) when the .exe or wine64 is missing;
# then lib.sh's helpers run $AGENT, the .exe under Wine (exec: the pid kept
# is the Windows process's own, so kill -9 kills the agent; Wine maps the
# test directory's Unix paths through its Z: drive). end_wine ends the
# prefix's wineserver: Wine keeps a killed process's sockets open while it
# lives, and a wineserver left by one script (with its services.exe and
# environment) made ShellExecuteW fail in the next.
. "$(dirname "$0")/../integration/lib.sh"
WIN_EXE=$BUILD/win/cdsync-agent.exe
WINE=${WINE:-$(command -v wine64 || echo /usr/lib/wine/wine64)}
WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
end_wine() { WINEPREFIX=$BUILD/win/wine "$WINESERVER" -k 2> /dev/null; }
wine_plan() {
    if [ ! -f "$WIN_EXE" ] || [ ! -x "$WINE" ]; then
        echo "1..0 # SKIP no $WIN_EXE or no wine64: sh deploy/windows/deps.sh && make windows (docs/WINDOWS.md)"
        exit 0
    fi
    echo "1..$1"
    cat > "$T/wine-agent" <<SH
#!/bin/sh
WINEPREFIX=$BUILD/win/wine WINEDEBUG=-all exec "$WINE" "$WIN_EXE" "\$@"
SH
    chmod +x "$T/wine-agent"
    AGENT=$T/wine-agent
}
