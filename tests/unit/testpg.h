/*  testpg: unit tests that run on both stores. Without CDS_TEST_PG_URL a
 *  test runs on SQLite files only; with it (tests/integration/pg_ops.sh
 *  starts a server of tests/pg/pg.sh and sets it) each case runs again
 *  on PostgreSQL, in a database of its own made on that server, so cases
 *  never see each other's rows (as with one SQLite file each).
 *  The server-side helpers (the URL, a fresh database, an emptied one,
 *  an admin statement) live here once; teststore.h builds the reports'
 *  two-pass runs on them.
 *
 *  Invariant: a helper that cannot do its job fails the test there.
 *  Header only, like testdb.h; include it after <cmocka.h>. */
#ifndef TESTS_UNIT_TESTPG_H
#define TESTS_UNIT_TESTPG_H

#include "cds_sql.h"
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* TESTDB_UNGUARD (testdb.h) on PostgreSQL: the append-only guards are
 * triggers there too, whatever their names (the tests connect as a
 * superuser, who may disable them). */
#define TESTPG_UNGUARD                                                       \
    "ALTER TABLE update_log DISABLE TRIGGER USER;"                           \
    "ALTER TABLE batch DISABLE TRIGGER USER;"

/* The server's URL, or NULL: the PostgreSQL runs are skipped. */
static inline const char *
testpg_url(void)
{
    const char *u = getenv("CDS_TEST_PG_URL");
    return u && *u ? u : NULL;
}

/* Run sql (one or more statements, no rows) on the database at url on
 * its own connection, as the tests' superuser: the test fails, with the
 * server's message, if it does not succeed. */
static inline void
testpg_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("testpg: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* Make a new empty database on the server of CDS_TEST_PG_URL and write
 * its URL (the same with the database name replaced) into buf. */
static inline const char *
testpg_fresh(char *buf, size_t len)
{
    static int n;
    const char *url = testpg_url();
    assert_non_null(url);
    const char *slash = strrchr(url, '/');
    assert_non_null(slash);
    char name[64], sql[256];
    snprintf(name, sizeof name, "cdsut_%ld_%d", (long) getpid(), n++);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE template0"
             " LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'", name);
    testpg_exec(url, sql);
    const char *query = strchr(slash, '?');
    snprintf(buf, len, "%.*s/%s%s", (int) (slash - url), url, name,
             query ? query : "");
    return buf;
}

/* Empty the database at url (the public schema dropped and made anew),
 * so the next store_open creates the schema as `run` does on a new
 * server: for tests that keep one database for all their cases. */
static inline void
testpg_reset(const char *url)
{
    testpg_exec(url, "SET client_min_messages = warning;"
                     " DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

/* The first column of the first row of sql on either backend. */
static inline int64_t
testsql_int(cds_sql_t *db, const char *sql)
{
    cds_sql_stmt_t *st = cds_sql_prepare(db, sql, 0);
    assert_non_null(st);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    int64_t v = cds_sql_col_int64(st, 0);
    cds_sql_finalize(&st);
    return v;
}

/* The backend a case runs on, from its cmocka state before setup. */
#define TESTPG_STATE_PG ((void *) "pg")
static inline int
testpg_is_pg(void *const *state)
{
    return *state == TESTPG_STATE_PG;
}

/* Run the n cases on SQLite; with CDS_TEST_PG_URL set, again on
 * PostgreSQL (initial state TESTPG_STATE_PG). Non-zero if any failed. */
static inline int
testpg_run(const struct CMUnitTest *tests, size_t n)
{
    int rc = _cmocka_run_group_tests("sqlite", tests, n, NULL, NULL);
    if (!testpg_url())
        return rc;
    struct CMUnitTest *pg = calloc(n, sizeof *pg);
    assert_non_null(pg);
    for (size_t i = 0; i < n; i++) {
        pg[i] = tests[i];
        pg[i].initial_state = TESTPG_STATE_PG;
    }
    rc |= _cmocka_run_group_tests("postgresql", pg, n, NULL, NULL);
    free(pg);
    return rc;
}

#endif
