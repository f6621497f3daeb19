#!/bin/bash
# The operator modules on PostgreSQL: the unit tests of rejects, audit
# (`verify`), health, enroll and auth (knocks) run on SQLite and again on
# a real PostgreSQL of the harness (tests/pg/pg.sh), each case in a
# database of its own (tests/unit/testpg.h): every case must pass on both.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"

pg_start || { not_ok "pg_start"; exit 1; }
url=$(pg_url)
for t in rejects_test audit_test health_test enroll_test auth_test; do
    out=$(CDS_TEST_PG_URL=$url CMOCKA_MESSAGE_OUTPUT=TAP \
          "$BUILD/tests/$t" 2>&1); rc=$?
    echo "$out" | grep -E '^(not ok|# )' | sed 's/^/# /'
    expect_eq "$t passes on both stores" "$rc" 0
    n_lite=$(echo "$out" | sed '/^# ok - sqlite/q' | grep -c '^ok ')
    n_pg=$(echo "$out" | sed '1,/^# ok - sqlite/d' | grep -c '^ok ')
    expect_eq "  and its $n_lite cases on PostgreSQL too" "$n_pg" "$n_lite"
    check "  no line shows the password" sh -c '! echo "$1" | grep -qF "$2"' _ "$out" "$PG_PASS"
done
pg_stop
echo "1..$TESTNO"
