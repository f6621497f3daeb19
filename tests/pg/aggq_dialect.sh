#!/bin/bash
# aggq_dialect.sh: checks that the tests' reads of the aggregator's store
# (aggq, tests/integration/lib.sh) print the same on PostgreSQL as on
# SQLite, before the PostgreSQL store exists to run them for real.
#
#   bash tests/pg/aggq_dialect.sh [SCRIPT...]   (default: run.sh's PG_SET)
#
# Runs each script (tests/integration/NAME.sh, tests/fault/NN_NAME.sh;
# give them as integration/NAME, fault/NN_NAME) in SQLite mode with
# AGGQ_TRACE and KEEP=1, then copies every aggregator database left into
# a throw-away PostgreSQL server (pg.sh) and compares each traced read
# query's output on both (tests/pg/aggq_dialect.py). Removes the kept
# test dirs afterwards. Exits 1 on any difference or failed script.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
BUILD=${BUILD:-build}; export BUILD
W=$(mktemp -d /tmp/cdsync-dialect.XXXXXX)
. "$TOP/tests/pg/pg.sh"
trap 'pg_stop; rm -rf "$W"' EXIT
set -- "${@:-$(sed -n '/^PG_SET="/,/"$/p' tests/run.sh | tr -d '"' | sed 's/^PG_SET=//')}"
# shellcheck disable=SC2048,SC2086
set -- $*
rc=0
for s in "$@"; do
    log=$W/$(echo "$s" | tr / -).log
    if ! KEEP=1 AGGQ_TRACE=$W/trace CDS_TEST_STORE=sqlite timeout 900 bash "tests/$s.sh" > "$log" 2>&1 \
            || grep -q '^not ok' "$log"; then
        echo "aggq_dialect: $s failed in SQLite mode:"; grep '^not ok' "$log" | head -5; rc=1
    fi
    sed -n 's/^# kept \(\/tmp\/cdsync-it\.[A-Za-z0-9]*\)$/\1/p' "$log" >> "$W/kept"
done
[ -s "$W/trace" ] || { echo "aggq_dialect: no query traced"; exit 1; }
pg_start || exit 1
/usr/bin/python3 "$TOP/tests/pg/aggq_dialect.py" "$W/trace" "$PG_SOCK" "$PG_PORT" "$PG_SUPER" "$PG_BIN/psql" || rc=1
while read -r d; do rm -rf "$d"; done < "$W/kept"
exit $rc
