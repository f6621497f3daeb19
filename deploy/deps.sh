#!/bin/sh
# Install exactly the Debian 12 packages cdsync needs to build, test and run
# its demo, and to build its Debian packages (`make deb`), when they are
# missing. Needs root (or sudo). Idempotent: does
# nothing, and needs no network, when everything is already installed.
# Never removes a package: apt is asked first (-s) and nothing is
# installed when it would remove one (the machine may be shared).
# DEPS_PKGS="pkg pkg:arch ..." installs those instead (deploy/arm64/deps.sh).
set -eu
PKGS="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev \
libzmq3-dev libczmq-dev libsodium-dev libsqlite3-dev sqlite3 libinih-dev \
libcsv-dev libcmocka-dev libmicrohttpd-dev libjansson-dev libxlsxwriter-dev \
libxml2-dev libxml2-utils libcurl4-openssl-dev ca-certificates \
iproute2 procps jq python3-openpyxl xxd \
faketime python3 python3-zmq python3-protobuf python3-nacl protobuf-compiler \
prometheus curl \
mosquitto libmosquitto-dev mosquitto-clients strace \
postgresql libpq-dev \
clang-14 libclang-rt-14-dev \
debhelper dpkg-dev fakeroot lintian"
missing=""
PKGS=${DEPS_PKGS:-$PKGS}
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "deps: missing packages:$missing; run as root or install sudo" >&2
        exit 1
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
removed=$($SUDO apt-get -s install --no-install-recommends $missing \
    | sed -n 's/^Remv \([^ ]*\).*/\1/p' | tr '\n' ' ')
if [ -n "$removed" ]; then
    echo "deps: apt would remove: ${removed}so nothing was installed" >&2
    exit 1
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
