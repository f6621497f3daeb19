#!/bin/bash
# The reports and the HTTP API's tokens on PostgreSQL (issue 14): the unit
# tests of query, export, history, rollup, completeness, the tokens and
# store's read API (store_read_test) run against a real server of the
# harness (tests/pg/pg.sh), after their SQLite pass, in the same program.
# teststore.h empties the database before each test and fails a test
# whose report prints other bytes than on SQLite at the same point, so a
# pass here means: same assertions, same outputs, both backends.
# The databases sort text by a language's rules (ICU "en": "_z" and "a9"
# before "B9"), not by bytes as SQLite does, so a report text whose order
# shows and lacks STORE_SQL_BYTE_ORDER prints another order and fails.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"

# icu_url N: a new database whose default collation is ICU's English.
icu_url() {
    pg_psql - -c "CREATE DATABASE rep$1 TEMPLATE template0 ENCODING 'UTF8'
        LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'" > /dev/null \
        || return 1
    echo "postgresql://$PG_SUPER:$PG_PASS@127.0.0.1:$PG_PORT/rep$1"
}

pg_start || { not_ok "pg_start"; exit 1; }
url=$(icu_url 0) || { not_ok "a database with an ICU collation"; exit 1; }
check "its text order is not bytes (\"a9\" before \"B9\")" test \
    "$(pg_psql "$url" -Atc "SELECT string_agg(x, ' ' ORDER BY x)
        FROM (VALUES ('B9'), ('a9')) v(x)")" = "a9 B9"
n=0
for mod in store_read query export history rollup rank completeness api; do
    bin=$BUILD/tests/${mod}_test
    n=$((n + 1)); url=$(icu_url $n)
    out=$(CDS_TEST_PG_URL=$url "$bin" 2>&1); rc=$?
    echo "$out" | grep -E '^\[ *(FAILED|ERROR|LINE|SKIPPED) ' | head -20 \
        | sed 's/^/# /'
    lite=$(echo "$out" | sed -n '/^teststore: the PostgreSQL pass/q;p' \
        | grep -c '^\[       OK \]')
    pg=$(echo "$out" | sed -n '/^teststore: the PostgreSQL pass/,$p' \
        | grep -c '^\[       OK \]')
    expect_eq "$mod: passes on SQLite and PostgreSQL (exit status)" "$rc" 0
    what="every test ran on PostgreSQL too ($lite on SQLite, $pg there)"
    check "$mod: $what" test "$lite" -gt 0 -a "$pg" = "$lite"
    check "$mod: no log line shows the password" \
        sh -c '! echo "$1" | grep -qF "$2"' _ "$out" "$PG_PASS"
done
pg_stop
echo "1..$TESTNO"
