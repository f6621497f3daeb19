/*  testdb: read one integer from a database in a unit test.
 *
 *  Invariant: the query must prepare and return a row, else the test
 *  fails there. Header only, like testdir.h; include it after <cmocka.h>. */
#ifndef TESTS_UNIT_TESTDB_H
#define TESTS_UNIT_TESTDB_H

#include <sqlite3.h>
#include <stdint.h>

/* Prefix of a tamper test's SQL: history and kept batches are
 * append-only by triggers (store.h); an attacker with the file drops them first, as
 * this does, and `verify` must still find the edit. */
#define TESTDB_UNGUARD                                                       \
    "DROP TRIGGER IF EXISTS update_log_no_update;"                           \
    "DROP TRIGGER IF EXISTS update_log_no_delete;"                           \
    "DROP TRIGGER IF EXISTS batch_no_update;"                                \
    "DROP TRIGGER IF EXISTS batch_no_delete;"

/* The first column of the first row of sql (count(*), a flag, a seq). */
static inline int64_t
testdb_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

#endif
