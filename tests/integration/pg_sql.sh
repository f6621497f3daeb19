#!/bin/bash
# common/cds_sql (one statement interface, two backends) against a real
# PostgreSQL of the harness (tests/pg/pg.sh): the unit tests of
# tests/unit/cds_sql_test.c run on SQLite and on PostgreSQL, the same
# assertions on both (the test runs them on SQLite alone without a URL).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"

pg_start || { not_ok "pg_start"; exit 1; }
url=$(pg_url)
out=$(CDS_TEST_PG_URL=$url "$BUILD/tests/cds_sql_test" 2>&1); rc=$?
echo "$out" | grep -E '^\[ *(OK|FAILED|ERROR|LINE|PASSED) ' | sed 's/^/# /'
expect_eq "cds_sql_test passes on both backends" "$rc" 0
expect_eq "  and ran 10 cases (5 per backend)" \
    "$(echo "$out" | grep -c '^\[       OK \]')" 10
check "  no log line shows the password" sh -c "! echo \"\$1\" | grep -qF \"\$2\"" _ "$out" "$PG_PASS"
pg_stop
echo "1..$TESTNO"
