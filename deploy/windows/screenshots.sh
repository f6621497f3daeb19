#!/bin/bash
# Screenshots of the installer's pages for docs/AGENT.md ("Installing on a
# commune PC (Windows)"): cdsync-agent-setup.exe run by wine64 in a Wine
# virtual desktop on an Xvfb display, driven by xdotool key presses, each
# page captured with ImageMagick's `import` and trimmed to the window, then
# optipng'd when it is installed. Not a test: a tool to redo the pictures
# after the pages change.
#
#   bash deploy/windows/screenshots.sh [BUILD_DIR] [OUT_DIR]   (build, docs/img)
#
# Needs (Debian): xvfb xdotool imagemagick wine64, optionally optipng;
# fonts-dejavu-core for the Vietnamese letters (Wine falls back to the
# system's fonts through fontconfig for the glyphs its own Tahoma lacks).
set -eu
BUILD=${1:-build}
OUT=${2:-docs/img}
SETUP=$BUILD/win/cdsync-agent-setup.exe
WINE=${WINE:-$(command -v wine64 || echo /usr/lib/wine/wine64)}
WINESERVER=${WINESERVER:-$(command -v wineserver || echo /usr/lib/wine/wineserver)}
for t in Xvfb xdotool import; do
    command -v $t > /dev/null || { echo "screenshots: $t missing (apt-get install xvfb xdotool imagemagick)" >&2; exit 1; }
done
[ -f "$SETUP" ] || { echo "screenshots: no $SETUP: make windows-installer" >&2; exit 1; }
mkdir -p "$OUT"
T=$(mktemp -d /tmp/cdsync-shots.XXXXXX)
export WINEPREFIX=$T/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
DISP=:$((70 + $$ % 200))
Xvfb "$DISP" -screen 0 800x600x24 -nolisten tcp > "$T/xvfb.log" 2>&1 &
XPID=$!
finish() {
    timeout 20 "$WINESERVER" -k 2> /dev/null || true
    kill "$XPID" 2> /dev/null || true
    wait "$XPID" 2> /dev/null || true
    rm -rf "$T"
}
trap finish EXIT
export DISPLAY=$DISP
# wait_for SECONDS CMD...: poll every 0.2 s until CMD succeeds, bounded.
wait_for() {
    local n=$(($1 * 5)); shift
    while [ $n -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.2; n=$((n - 1)); done
    echo "screenshots: timed out waiting for: $*" >&2; return 1
}
wait_for 20 xdotool getdisplaygeometry
timeout 120 "$WINE" wineboot -i > /dev/null 2>&1
timeout 120 "$WINESERVER" -w
# The virtual desktop draws the dialogs' title bars (there is no window
# manager on Xvfb).
"$WINE" explorer /desktop=setup,640x480 "$SETUP" > "$T/setup.log" 2>&1 &
desk() {     # the virtual desktop's X window; fails until it exists
    local w; w=$(xdotool search --name 'setup - Wine desktop' 2> /dev/null | head -1)
    [ -n "$w" ] && echo "$w"
}
wait_for 60 desk
# The desktop's picture, to tell when a page has changed and settled.
snap() { import -window "$(desk)" "$T/now.png" && md5sum < "$T/now.png"; }
changed() { [ "$(snap)" != "$LAST" ]; }
settled() { local a; a=$(snap); sleep 0.3; [ "$a" = "$(snap)" ]; }
# shot NAME: once the page stopped changing (a blinking caret may keep it
# from settling: then after the bound), capture it, trimmed to the window.
shot() {
    wait_for 30 settled || true
    import -window "$(desk)" "$T/raw.png"
    LAST=$(md5sum < "$T/raw.png")
    convert "$T/raw.png" -trim +repage "$OUT/$1.png"
    command -v optipng > /dev/null && optipng -quiet -o5 "$OUT/$1.png" || true
    echo "screenshots: $OUT/$1.png"
}
# Keys go to the focused X window: Wine ignores synthetic (--window) events.
# next KEY: press it and wait until the page has changed.
key() { xdotool windowfocus --sync "$(desk)"; xdotool key "$@"; }
next() { LAST=$(snap); key "$@"; wait_for 60 changed; }
type_text() { xdotool windowfocus --sync "$(desk)"; xdotool type --delay 5 "$1"; }
LAST=$(snap)                 # the empty desktop
wait_for 60 changed          # the language dialog is drawn
shot installer-0-language
next Return                  # Tiếng Việt, the default
shot installer-1-welcome
next Return                  # Next
shot installer-2-licence
next Return                  # I agree
wait_for 30 settled || true
next Return                  # the directory page: Next
wait_for 30 settled
type_text "tcp://tinh.example.vn:7701"; key Tab
KEY=$(cat "${SHOT_KEY_FILE:-/dev/null}" 2> /dev/null || true)
type_text "${KEY:-cds1:36TRN6CK0SEkDVeDeeU_skrDAQPPlrLozT2DqNjY9mQ-yanfIZl47T_BsV020kj_f_IAxA5yB_CtCKj-BP19Sw}"
key Tab; type_text "27901"
shot installer-3-server
next Return                  # Next: install
wait_for 120 test -f "$WINEPREFIX/drive_c/Program Files/cdsync/uninstall.exe"
wait_for 30 settled || true
next Return                  # Next (after "Completed")
shot installer-4-identity
next Return
shot installer-5-finish
key Return
timeout 60 "$WINESERVER" -w || true
