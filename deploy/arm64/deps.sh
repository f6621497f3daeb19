#!/bin/sh
# Install what `make arm64` and `make arm64-test` need (docs/AGENT.md
# "ARM64 boxes"): Debian's cross compiler for aarch64, qemu-user to run
# the result here, and the agent's -dev libraries as :arm64 multiarch
# packages beside the native ones. Only Debian's archive is used.
# The :arm64 packages are those of the agent's link line (Makefile
# ARM64=1 PKGS) and cmocka for its unit tests. czmq is not one: no agent or
# common source calls it, and libczmq-dev:arm64 cannot co-install with the
# amd64 one (it pulls libnss3-dev:arm64, not Multi-Arch: same, and apt
# would remove libczmq-dev, libnss3-dev, libnspr4-dev, libxmlsec1-dev).
# libpq and libxlsxwriter are the aggregator's (libpq-dev is not
# Multi-Arch: same either); the -dev packages below all are.
#
# deploy/deps.sh does the installing: idempotent (nothing, and no network,
# when all is there), root or sudo, and never removes a package (apt is
# asked first; on a shared build machine nothing amd64 may go).
set -eu
ARCH=arm64
PKGS="crossbuild-essential-arm64 qemu-user"
for p in libzmq3-dev libprotobuf-c-dev libsodium-dev libsqlite3-dev \
         libinih-dev libjansson-dev libmicrohttpd-dev libcsv-dev libcmocka-dev \
         libxml2-dev; do
    PKGS="$PKGS $p:$ARCH"
done
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    if [ "$(id -u)" = 0 ]; then dpkg --add-architecture "$ARCH"
    elif command -v sudo >/dev/null 2>&1; then sudo dpkg --add-architecture "$ARCH"
    else echo "arm64 deps: run as root (dpkg --add-architecture $ARCH)" >&2; exit 1
    fi
fi
DEPS_PKGS=$PKGS exec sh "$(dirname "$0")/../deps.sh"
