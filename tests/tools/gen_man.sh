#!/bin/sh
# gen_man.sh BUILD [OUTDIR]: write the OPTIONS of docs/man/cdsync-*.1 from
# the programs' option tables (`--help-man`), between the GENERATED OPTIONS
# markers, so the pages cannot drift from the flags. OUTDIR (default
# docs/man) receives the pages; tests/integration/cli_contract.sh writes
# them to a temporary directory and compares.
set -eu
BUILD=${1:?usage: gen_man.sh BUILD [OUTDIR]}
OUT=${2:-docs/man}
DIR=$(cd "$(dirname "$0")/../.." && pwd)
for prog in cdsync-agent cdsync-aggregator; do
    page=$DIR/docs/man/$prog.1
    grep -q '^\.\\" BEGIN GENERATED OPTIONS' "$page" || {
        echo "gen_man.sh: $page: no BEGIN GENERATED OPTIONS marker" >&2
        exit 1
    }
    opts=$(mktemp)
    "$BUILD/$prog" --help-man >"$opts"
    awk -v opts="$opts" '
        /^\.\\" BEGIN GENERATED OPTIONS/ {
            print; while ((getline l < opts) > 0) print l; skip = 1; next
        }
        /^\.\\" END GENERATED OPTIONS/ { skip = 0 }
        !skip { print }
    ' "$page" >"$OUT/$prog.1.new"
    rm -f "$opts"
    mv "$OUT/$prog.1.new" "$OUT/$prog.1"
done
