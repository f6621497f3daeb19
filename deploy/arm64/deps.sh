#!/bin/sh
# Install what `make arm64` and `make arm64-test` need (docs/AGENT.md
# "ARM64 boxes"): Debian's cross compiler for aarch64, qemu-user to run
# the result here, and the agent's -dev libraries as :arm64 multiarch
# packages beside the native ones. Only Debian's archive is used.
# The :arm64 packages are those of the agent's link line (Makefile
# ARM64_PKGS) and cmocka for its unit tests. czmq is not one: no agent or
# common source calls it, and libczmq-dev:arm64 cannot co-install with the
# amd64 one (it pulls libnss3-dev:arm64, not Multi-Arch: same, and apt
# would remove libczmq-dev, libnss3-dev, libnspr4-dev, libxmlsec1-dev).
#
# Safe on a shared build machine: apt is first asked (-s) what it would
# do, and nothing is installed when it would remove any package. Each
# -dev package below is Multi-Arch: same in Debian 12 and co-installs with
# its amd64 twin. libpq and libxlsxwriter are the aggregator's, not the
# agent's (libpq-dev is not Multi-Arch: same either).
# Idempotent: does nothing, and needs no network, when all is installed.
# Needs root (or sudo).
set -eu
ARCH=arm64
NATIVE="crossbuild-essential-arm64 qemu-user"
CROSS="libzmq3-dev libprotobuf-c-dev libsodium-dev \
libsqlite3-dev libinih-dev libjansson-dev libmicrohttpd-dev libcsv-dev \
libcmocka-dev"
missing=""
for p in $NATIVE; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
for p in $CROSS; do
    dpkg-query -W -f='${Status}' "$p:$ARCH" 2>/dev/null \
        | grep -q "install ok installed" || missing="$missing $p:$ARCH"
done
[ -z "$missing" ] && exit 0
echo "arm64 deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "arm64 deps: missing packages:$missing; run as root or install sudo" >&2
        exit 1
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Waits for another apt or dpkg run (up to 10 minutes) rather than fail.
apt() { $SUDO apt-get -o DPkg::Lock::Timeout=600 "$@"; }
dpkg --print-foreign-architectures | grep -qx "$ARCH" \
    || $SUDO dpkg --add-architecture "$ARCH"
apt update -qq
# shellcheck disable=SC2086
plan=$(apt -s install --no-install-recommends $missing)
removed=$(printf '%s\n' "$plan" | sed -n 's/^Remv \([^ ]*\).*/\1/p' | tr '\n' ' ')
if [ -n "$removed" ]; then
    echo "arm64 deps: apt would remove: ${removed}so nothing was installed" >&2
    echo "arm64 deps: (wanted:$missing)" >&2
    exit 1
fi
# shellcheck disable=SC2086
apt install -y -qq --no-install-recommends $missing >/dev/null
