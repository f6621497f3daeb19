/*  testpg: the PostgreSQL run of a unit test (CDS_TEST_PG_URL, set by the
 *  tests/integration/pg_*.sh scripts that start a server of tests/pg/pg.sh).
 *
 *  Invariant: testpg_reset leaves the database without any table, so the
 *  next store_open creates the schema as `run` does on a new server.
 *  Header only, like testdb.h; include it after <cmocka.h>. */
#ifndef TESTS_UNIT_TESTPG_H
#define TESTS_UNIT_TESTPG_H

#include <libpq-fe.h>
#include <stdlib.h>

/* The URL of this run's PostgreSQL database, or NULL (SQLite only). */
static inline const char *
testpg_url(void)
{
    const char *env = getenv("CDS_TEST_PG_URL");
    return env && *env ? env : NULL;
}

/* Empty the database at url (the public schema dropped and made anew). */
static inline void
testpg_reset(const char *url)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SET client_min_messages = warning;"
                            " DROP SCHEMA public CASCADE;"
                            " CREATE SCHEMA public");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

#endif
