#!/bin/bash
# The store and ingest against a real PostgreSQL of the harness
# (tests/pg/pg.sh): tests/unit/store_test.c and ingest_test.c run their
# backend-neutral cases there (CDS_TEST_PG_URL), each on an empty schema
# that store_open creates (the one PostgreSQL migration); the same
# assertions as on SQLite. No log line may show the URL's password.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"

pg_start || { not_ok "pg_start"; exit 1; }
url=$(pg_url)
for t in store_test ingest_test; do
    out=$(CDS_TEST_PG_URL=$url "$BUILD/tests/$t" 2>&1); rc=$?
    echo "$out" | grep -E '^\[ *(FAILED|ERROR|LINE|PASSED) ' | sed 's/^/# /'
    expect_eq "$t passes on PostgreSQL" "$rc" 0
    check "  and ran its cases there" sh -c \
        "echo \"\$1\" | grep -q '^\[  PASSED  \] [1-9]'" _ "$out"
    check "  no log line shows the password" sh -c \
        "! echo \"\$1\" | grep -qF \"\$2\"" _ "$out" "$PG_PASS"
done
pg_stop
echo "1..$TESTNO"
