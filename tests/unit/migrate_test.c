/*  migrate_test: the digest migrate-store compares (migrate.h step 4) is
 *  the same for the same rows on SQLite and PostgreSQL, whatever the row
 *  order and the column types each backend gives them (booleans, double
 *  precision, bytea), and changes when one byte of one value changes, a
 *  row goes missing or a row is there twice. The PostgreSQL half runs when
 *  CDS_TEST_PG_URL names a database (tests/integration/migrate_store.sh
 *  starts a server and sets it); it reads more rows than one cursor page,
 *  so the paging is covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cds_err.h"
#include "cds_sql.h"
#include "migrate.h"

#define ROWS 25000                      /* > one FETCH page (10,000) */

static char dir[] = "/tmp/migrate_test.XXXXXX";

static const char *const lite_schema[] = {
    "CREATE TABLE t (k TEXT PRIMARY KEY, i INTEGER, flag INTEGER, d REAL,"
    " b BLOB, e BLOB, n TEXT, u TEXT)",
};
static const char *const pg_schema[] = {
    "CREATE TABLE t (k TEXT PRIMARY KEY, i BIGINT, flag BOOLEAN,"
    " d DOUBLE PRECISION, b BYTEA, e BYTEA, n TEXT, u TEXT)",
};
static const cds_sql_schema_t schema = { lite_schema, 1, pg_schema, 1 };
static const char *const cols[] = { "k", "i", "flag", "d", "b", "e", "n",
                                    "u" };

static cds_sql_t *
open_db(const char *where)
{
    static int n;
    char path[128];
    if (!where) {
        snprintf(path, sizeof path, "%s/t%d.db", dir, n++);
        where = path;
    }
    int err = 0;
    cds_sql_t *db = cds_sql_open(where, &schema, 0, &err);
    assert_non_null(db);
    if (cds_sql_backend(db) == CDS_SQL_POSTGRESQL)
        assert_int_equal(cds_sql_exec(db, "TRUNCATE t"), CDS_OK);
    return db;
}

/* Rows from..to (step, so the order can be reversed); row `flip` gets one
 * blob byte changed (-1: none). */
static void
fill(cds_sql_t *db, int from, int to, int step, int flip)
{
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "INSERT INTO t (k, i, flag, d, b, e, n, u) VALUES"
            " (:k, :i, :flag, :d, :b, :e, NULL, :u)", 0);
    assert_non_null(st);
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    for (int r = from; r != to + step; r += step) {
        char k[32];
        uint8_t b[5] = { 0, (uint8_t) r, 0xff, (uint8_t) (r >> 8), 0 };
        if (r == flip)
            b[4] = 1;
        snprintf(k, sizeof k, "key %d", r);
        cds_sql_bind_text(st, ":k", k);
        cds_sql_bind_int64(st, ":i", r % 7 == 0 ? INT64_MIN + r : r * 1000);
        cds_sql_bind_text(st, ":flag", r & 1 ? "1" : "0");  /* PG: boolean */
        cds_sql_bind_double(st, ":d", r % 3 ? r / 7.0 : (double) r);
        cds_sql_bind_blob(st, ":b", b, sizeof b);
        cds_sql_bind_blob(st, ":e", "", 0);
        cds_sql_bind_text(st, ":u", "Xã Mỹ Thạnh Bắc");
        assert_int_equal(cds_sql_run(st), CDS_OK);
        cds_sql_reset(st);
    }
    assert_int_equal(cds_sql_commit(db), CDS_OK);
    cds_sql_finalize(&st);
}

static void
digest(cds_sql_t *db, uint8_t sum[MIGRATE_DIGEST_BYTES], int64_t *rows)
{
    assert_int_equal(migrate_digest(db, "t", cols, 8, sum, rows), CDS_OK);
}

/* SQLite: order does not matter; a byte, a missing or a doubled row do. */
static void
test_digest_sqlite(void **state)
{
    cds_sql_t *a = open_db(NULL), *b = open_db(NULL), *c = open_db(NULL);
    uint8_t da[32], db_[32], dc[32];
    int64_t na, nb, nc;
    fill(a, 1, 500, 1, -1);
    fill(b, 500, 1, -1, -1);
    fill(c, 1, 500, 1, 250);
    digest(a, da, &na);
    digest(b, db_, &nb);
    digest(c, dc, &nc);
    assert_int_equal(na, 500);
    assert_int_equal(nb, 500);
    assert_memory_equal(da, db_, 32);
    assert_memory_not_equal(da, dc, 32);
    /* A row missing, then that row twice (a multiset: no cancelling). */
    assert_int_equal(cds_sql_exec(b, "DELETE FROM t WHERE k = 'key 7'"),
                     CDS_OK);
    digest(b, db_, &nb);
    assert_int_equal(nb, 499);
    assert_memory_not_equal(da, db_, 32);
    assert_int_equal(cds_sql_exec(a, "CREATE TABLE u AS SELECT * FROM t;"
                                     " INSERT INTO u SELECT * FROM t"
                                     " WHERE k = 'key 8'"), CDS_OK);
    int64_t nu;
    uint8_t du[32];
    assert_int_equal(migrate_digest(a, "u", cols, 8, du, &nu), CDS_OK);
    assert_int_equal(nu, 501);
    assert_memory_not_equal(da, du, 32);
    cds_sql_close(&a);
    cds_sql_close(&b);
    cds_sql_close(&c);
}

/* The same rows on both backends, inserted in opposite orders. */
static void
test_digest_both(void **state)
{
    cds_sql_t *lite = open_db(NULL), *pg = open_db(*state);
    uint8_t dl[32], dp[32];
    int64_t nl, np;
    fill(lite, 1, ROWS, 1, -1);
    fill(pg, ROWS, 1, -1, -1);
    digest(lite, dl, &nl);
    digest(pg, dp, &np);
    assert_int_equal(nl, ROWS);
    assert_int_equal(np, ROWS);
    assert_memory_equal(dl, dp, 32);
    assert_int_equal(cds_sql_exec(pg, "UPDATE t SET flag = NOT flag"
                                      " WHERE k = 'key 9'"), CDS_OK);
    digest(pg, dp, &np);
    assert_memory_not_equal(dl, dp, 32);
    cds_sql_close(&lite);
    cds_sql_close(&pg);
}

int
main(void)
{
    const char *pg_env = getenv("CDS_TEST_PG_URL");
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest lite_only[] = {
        cmocka_unit_test(test_digest_sqlite),
    };
    const struct CMUnitTest both[] = {
        cmocka_unit_test(test_digest_sqlite),
        cmocka_unit_test_prestate(test_digest_both, (void *) pg_env),
    };
    int rc = pg_env && *pg_env ? cmocka_run_group_tests(both, NULL, NULL)
                               : cmocka_run_group_tests(lite_only, NULL, NULL);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
