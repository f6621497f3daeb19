#!/bin/sh
# Run the Windows unit tests (built by `make windows-test`) under wine64:
#   sh deploy/windows/wine_test.sh WIN_DIR name...
# One line per test, then "N passed, N failed, N not built". A test whose
# .exe is missing did not build (the make output above says why) and
# counts as not built, never as passed. Each runs with its own
# temporary directory (TMPDIR) and from the top of the tree (the tests
# read deploy/*.csv), with a 300 s bound; the Wine prefix is WIN_DIR/wine.
set -u
WIN=$1; shift
# Debian's wine64 package puts the loader in /usr/lib/wine (the wine
# package adds /usr/bin/wine64); either will do.
WINE=${WINE:-$(command -v wine64 || echo /usr/lib/wine/wine64)}
[ -x "$WINE" ] || { echo "wine_test: wine64 missing: sh deploy/windows/deps.sh" >&2; exit 1; }
export WINEPREFIX="$(cd "$WIN" && pwd)/wine" WINEDEBUG=-all
WINESERVER=${WINESERVER:-$(command -v wineserver || echo /usr/lib/wine/wineserver)}
# Make the prefix first, in the plain environment, and let wineboot
# finish: a prefix born inside the first test's run (its TMPDIR, deleted
# after it) left ShellExecuteW unable to open a file in every later
# script of the prefix (tests/windows/page.sh).
if [ ! -d "$WINEPREFIX/drive_c" ]; then
    timeout 180 "$WINE" wineboot -i > /dev/null 2>&1
    timeout 120 "$WINESERVER" -w
fi
# session_model_test's 2,000 randomized schedules take 200-400 s under
# Wine (SQLite over Wine's file calls), near the 300 s bound: 500 here.
# The 2,000 run natively, under ASan and under qemu (make test, arm64-test).
export SESSION_SCHEDULES=${SESSION_SCHEDULES:-500}
pass=0 fail=0 absent=0 failed=""
for t in "$@"; do
    exe="$WIN/tests/$t.exe"
    if [ ! -f "$exe" ]; then
        echo "NOT BUILT $t"; absent=$((absent + 1)); continue
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cdsync-wine.XXXXXX")
    t0=$(date +%s)
    if TMPDIR=$dir TMP=$dir TEMP=$dir timeout 300 "$WINE" "$exe" > "$dir/out" 2>&1; then
        echo "PASS $t ($(($(date +%s) - t0))s)"; pass=$((pass + 1)); rm -rf "$dir"
    else
        echo "FAIL $t ($(($(date +%s) - t0))s): $dir/out"; tail -n 15 "$dir/out" | sed 's/^/    /'
        fail=$((fail + 1)); failed="$failed $t"
    fi
done
echo "$pass passed, $fail failed, $absent not built${failed:+ (failed:$failed)}"
[ "$fail" = 0 ] && [ "$absent" = 0 ]
