/*  cds_sql_test: the one statement interface behaves the same on both
 *  backends. Every test runs on a fresh SQLite file; when CDS_TEST_PG_URL
 *  names a PostgreSQL database (tests/integration/pg_sql.sh starts a
 *  server and sets it), every test runs there too, on fresh tables.
 *  Covered: parameters by name (repeated, next to `::` casts and inside
 *  quotes), every type in and out (NULL, int64 extremes, doubles, UTF-8
 *  text, blobs with NUL bytes), nested statements, re-running after DONE,
 *  changes counts, transactions and rollback, persistent statements
 *  reused across runs, the failure of a constraint as a cds_err, and
 *  runs pipelined on PostgreSQL (cds_sql_run_deferred) with a failure
 *  reported by the next call and no COMMIT after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_err.h"
#include "cds_sql.h"

static char dir[] = "/tmp/cds_sql_test.XXXXXX";

static const char *const lite_schema[] = {
    "CREATE TABLE kv (k TEXT PRIMARY KEY, i INTEGER, d DOUBLE PRECISION,"
    " b BLOB, t TEXT)",
};
static const char *const pg_schema[] = {
    "CREATE TABLE kv (k TEXT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION,"
    " b BYTEA, t TEXT)",
};
static const cds_sql_schema_t schema = {lite_schema, 1, pg_schema, 1};

/* A fresh connection of the backend the test's state names. */
static int
setup(void **state)
{
    const char *where = *state;
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
        assert_int_equal(cds_sql_exec(db, "TRUNCATE kv"), CDS_OK);
    *state = db;
    return 0;
}

static int
teardown(void **state)
{
    cds_sql_t *db = *state;
    cds_sql_close(&db);
    return 0;
}

static void
put(cds_sql_t *db, const char *k, int64_t i, double d, const void *b,
    size_t bn, const char *t)
{
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "INSERT INTO kv (k, i, d, b, t) VALUES (:k, :i, :d, :b, :t)", 0);
    assert_non_null(st);
    cds_sql_bind_text(st, ":k", k);
    cds_sql_bind_int64(st, ":i", i);
    cds_sql_bind_double(st, ":d", d);
    if (b)
        cds_sql_bind_blob(st, ":b", b, bn);
    else
        cds_sql_bind_null(st, ":b");
    cds_sql_bind_text(st, ":t", t);
    assert_int_equal(cds_sql_run(st), CDS_OK);
    assert_int_equal(cds_sql_changes(st), 1);
    cds_sql_finalize(&st);
}

static void
types_round_trip(void **state)
{
    cds_sql_t *db = *state;
    const uint8_t blob[] = {0, 1, 0xff, 0, '\\', 'x'};
    put(db, "max", INT64_MAX, 0.1, blob, sizeof blob, "Đức Huệ: 'q' \"d\"");
    put(db, "min", INT64_MIN, -1e300, NULL, 0, NULL);
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "SELECT k, i, d, b, t FROM kv WHERE k = :k OR k = :k", 0);
    cds_sql_bind_text(st, ":k", "max");
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_string_equal(cds_sql_col_text(st, 0), "max");
    assert_int_equal(cds_sql_col_type(st, 1), CDS_SQL_INTEGER);
    assert_true(cds_sql_col_int64(st, 1) == INT64_MAX);
    assert_true(cds_sql_col_double(st, 2) == 0.1);
    assert_int_equal(cds_sql_col_type(st, 3), CDS_SQL_BLOB);
    const void *b = cds_sql_col_blob(st, 3);
    assert_int_equal(cds_sql_col_bytes(st, 3), sizeof blob);
    assert_memory_equal(b, blob, sizeof blob);
    assert_string_equal(cds_sql_col_text(st, 4), "Đức Huệ: 'q' \"d\"");
    assert_int_equal(cds_sql_step(st), CDS_SQL_DONE);
    cds_sql_reset(st);
    cds_sql_bind_text(st, ":k", "min");
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_true(cds_sql_col_int64(st, 1) == INT64_MIN);
    assert_true(cds_sql_col_double(st, 2) == -1e300);
    assert_int_equal(cds_sql_col_type(st, 3), CDS_SQL_NULL);
    assert_null(cds_sql_col_blob(st, 3));
    assert_null(cds_sql_col_text(st, 4));
    assert_int_equal(cds_sql_col_count(st), 5);
    cds_sql_finalize(&st);
}

/* Quotes and comments hold no parameters; a cast is not one either. */
static void
parameters_in_context(void **state)
{
    cds_sql_t *db = *state;
    put(db, "a:b", 7, 0, NULL, 0, "?");
    cds_sql_stmt_t *st = cds_sql_prepare2(
        db,
        "SELECT count(*), CAST(:n AS BIGINT) + 1 FROM kv -- :nope ?\n"
        " WHERE k = 'a:b' AND t = '?' AND i = :i",
        "SELECT count(*), :n::bigint + 1 FROM kv -- :nope ?\n"
        " WHERE k = 'a:b' AND t = '?' AND i = :i", 0);
    assert_non_null(st);
    assert_false(cds_sql_has_param(st, ":nope"));
    cds_sql_bind_int64(st, ":n", 41);
    cds_sql_bind_int64(st, ":i", 7);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_int_equal(cds_sql_col_int64(st, 0), 1);
    assert_int_equal(cds_sql_col_int64(st, 1), 42);
    cds_sql_finalize(&st);
}

/* A statement nested in another's rows; a persistent one run again. */
static void
nested_and_persistent(void **state)
{
    cds_sql_t *db = *state;
    for (int i = 0; i < 5; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        put(db, k, i, i, NULL, 0, k);
    }
    cds_sql_stmt_t *out = cds_sql_prepare(db, "SELECT k, i FROM kv ORDER BY k",
                                          0);
    cds_sql_stmt_t *in = cds_sql_prepare(
        db, "UPDATE kv SET d = d + :by WHERE k = :k", CDS_SQL_PERSIST);
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    int rows = 0;
    while (cds_sql_step(out) == CDS_SQL_ROW) {
        cds_sql_bind_text(in, ":k", cds_sql_col_text(out, 0));
        cds_sql_bind_double(in, ":by", 0.5);
        assert_int_equal(cds_sql_run(in), CDS_OK);
        assert_int_equal(cds_sql_changes(in), 1);
        cds_sql_reset(in);
        rows++;
    }
    assert_int_equal(rows, 5);
    assert_int_equal(cds_sql_commit(db), CDS_OK);
    /* a step after DONE runs the statement again */
    assert_int_equal(cds_sql_step(out), CDS_SQL_ROW);
    cds_sql_finalize(&out);
    cds_sql_finalize(&in);
    out = cds_sql_prepare(db, "SELECT sum(d) FROM kv", 0);
    assert_int_equal(cds_sql_step(out), CDS_SQL_ROW);
    assert_true(cds_sql_col_double(out, 0) == 10 + 2.5);
    cds_sql_finalize(&out);
}

static void
rollback_and_errors(void **state)
{
    cds_sql_t *db = *state;
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    put(db, "gone", 1, 1, NULL, 0, NULL);
    assert_int_equal(cds_sql_rollback(db), CDS_OK);
    put(db, "dup", 1, 1, NULL, 0, NULL);
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "INSERT INTO kv (k) VALUES (:k)", CDS_SQL_PERSIST);
    cds_sql_bind_text(st, ":k", "dup");
    assert_int_equal(cds_sql_run(st), CDS_ERROR); /* primary key */
    cds_sql_reset(st);
    cds_sql_bind_text(st, ":k", "new");
    assert_int_equal(cds_sql_run(st), CDS_OK);
    cds_sql_finalize(&st);
    st = cds_sql_prepare(db, "SELECT k FROM kv ORDER BY k", 0);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_string_equal(cds_sql_col_text(st, 0), "dup");
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_string_equal(cds_sql_col_text(st, 0), "new");
    assert_int_equal(cds_sql_step(st), CDS_SQL_DONE);
    cds_sql_finalize(&st);
    int v = 0;
    assert_int_equal(cds_sql_version(db, &v), CDS_OK);
    assert_int_equal(v, 1);
    /* SQLite refuses bad SQL at prepare, PostgreSQL at the first step */
    st = cds_sql_prepare(db, "SELEC nothing", 0);
    if (cds_sql_backend(db) == CDS_SQL_SQLITE)
        assert_null(st);
    else
        assert_int_equal(cds_sql_step(st), CDS_ERROR);
    cds_sql_finalize(&st);
}

/* count(*) of kv rows whose k starts with prefix. */
static int
count_like(cds_sql_t *db, const char *prefix)
{
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "SELECT count(*) FROM kv WHERE k LIKE :p", 0);
    char p[32];
    snprintf(p, sizeof p, "%s%%", prefix);
    cds_sql_bind_text(st, ":p", p);
    int rc = cds_sql_step(st), n = rc == CDS_SQL_ROW ? cds_sql_col_int(st, 0)
                                                     : -rc;
    cds_sql_finalize(&st);
    return n;
}

/* cds_sql_run_deferred: pipelined on PostgreSQL inside a transaction.
 * Rows sent are seen by the next read; bindings may be reused at once;
 * a failure comes back from the next call and no COMMIT follows it. */
static void
deferred_runs(void **state)
{
    cds_sql_t *db = *state;
    bool pg = cds_sql_backend(db) == CDS_SQL_POSTGRESQL;
    put(db, "dup", 1, 1, NULL, 0, NULL);
    cds_sql_stmt_t *ins = cds_sql_prepare(
        db, "INSERT INTO kv (k, i) VALUES (:k, :i)", CDS_SQL_PERSIST);
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "p%03d", i);
        cds_sql_bind_text_ref(ins, ":k", k);
        cds_sql_bind_int64(ins, ":i", i);
        assert_int_equal(cds_sql_run_deferred(ins), CDS_OK);
        cds_sql_reset(ins);
        memset(k, 'x', sizeof k - 1);    /* libpq has its copy */
    }
    assert_int_equal(count_like(db, "p"), 100);
    assert_int_equal(cds_sql_commit(db), CDS_OK);
    /* a failure among sent statements: reported, nothing committed */
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    cds_sql_bind_text(ins, ":k", "q1");
    cds_sql_bind_int64(ins, ":i", 1);
    assert_int_equal(cds_sql_run_deferred(ins), CDS_OK);
    cds_sql_reset(ins);
    cds_sql_bind_text(ins, ":k", "dup");
    cds_sql_bind_int64(ins, ":i", 2);
    int rc = cds_sql_run_deferred(ins);  /* PostgreSQL: only sent */
    cds_sql_reset(ins);
    assert_int_equal(rc, pg ? CDS_OK : CDS_ERROR);
    if (pg)
        assert_int_not_equal(cds_sql_commit(db), CDS_OK);
    cds_sql_rollback(db);
    assert_int_equal(count_like(db, "q"), 0);
    /* ... or from the next statement that reads */
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    cds_sql_bind_text(ins, ":k", "dup");
    cds_sql_bind_int64(ins, ":i", 3);
    rc = cds_sql_run_deferred(ins);
    cds_sql_reset(ins);
    if (pg)
        assert_int_equal(count_like(db, "p"), -CDS_ERROR);
    else
        assert_int_equal(rc, CDS_ERROR);
    assert_int_equal(cds_sql_rollback(db), CDS_OK);
    assert_int_equal(count_like(db, "p"), 100);  /* the connection goes on */
    cds_sql_finalize(&ins);
}

#define BOTH(fn)                                                             \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, NULL),     \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, pg)

int
main(void)
{
    const char *pg_env = getenv("CDS_TEST_PG_URL");
    void *pg = pg_env && *pg_env ? (void *) pg_env : NULL;
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest lite_only[] = {
        cmocka_unit_test_prestate_setup_teardown(types_round_trip, setup,
                                                 teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(parameters_in_context, setup,
                                                 teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(nested_and_persistent, setup,
                                                 teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(rollback_and_errors, setup,
                                                 teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(deferred_runs, setup,
                                                 teardown, NULL),
    };
    const struct CMUnitTest both[] = {
        BOTH(types_round_trip), BOTH(parameters_in_context),
        BOTH(nested_and_persistent), BOTH(rollback_and_errors),
        BOTH(deferred_runs),
    };
    int rc = pg ? cmocka_run_group_tests(both, NULL, NULL)
                : cmocka_run_group_tests(lite_only, NULL, NULL);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
