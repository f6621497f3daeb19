#!/bin/sh
# Installs what the browser tests need (tests/integration/dashboard.sh):
# Debian's chromium, poppler-utils (pdftoppm: the printed report's pages),
# node and npm when missing, and playwright-core pinned by
# package-lock.json (npm ci) when tests/browser/node_modules is absent or
# older than the lock file. Called by `make test`, so the browser tests run on
# a fresh machine instead of being skipped. Idempotent; no network when all
# is there. Never `npx playwright install`: it downloads a browser build.
set -eu
cd "$(dirname "$0")"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
command -v pdftoppm >/dev/null 2>&1 || need="$need poppler-utils"
# Only what is missing: some images ship a NodeSource nodejs that bundles
# npm and conflicts with Debian's npm package.
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
    echo "browser-deps: installing:$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ ! -d node_modules/playwright-core ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "browser-deps: npm ci (playwright-core, tests/browser/package-lock.json)" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi
