/*  store_read_test: the read API of store (store.h "reading the core
 *  tables"): a SELECT is prepared and iterated; anything that could write
 *  (a write statement, a second statement, a data-modifying CTE, a
 *  locking read, a write hidden in the PostgreSQL text only) is refused,
 *  while the same words inside quotes, comments or identifiers are not;
 *  store_read_begin gives one snapshot over several reads while another
 *  connection commits; store_read_limit stops a statement over its cost
 *  and says so. On SQLite, and again on PostgreSQL with CDS_TEST_PG_URL
 *  (teststore.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cds_log.h"
#include "cds_sql.h"
#include "testdir.h"
#include "teststore.h"

static const uint8_t PK[CDS_PK_BYTES] = { 0x42 };

typedef struct {
    char dir[64];
    store_t *store;
} fx_t;

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/store_read_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    fx->store = teststore_open(fx->dir);
    const char *units[] = { "P" };
    int64_t id;
    assert_int_equal(store_agent_enroll(fx->store, PK, PK, "a", units, 1, 1,
                                        &id), CDS_OK);
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    store_destroy(&fx->store);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static int64_t
count_agents(store_t *s)
{
    cds_sql_stmt_t *st = store_read(s, "SELECT count(*) FROM agent", NULL);
    assert_non_null(st);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    int64_t n = cds_sql_col_int64(st, 0);
    assert_int_equal(cds_sql_step(st), CDS_SQL_DONE);
    cds_sql_finalize(&st);
    return n;
}

static void
test_select_and_refusals(void **state)
{
    fx_t *fx = *state;
    cds_sql_stmt_t *st = store_read(
        fx->store, "SELECT label, 'UPDATE; DELETE' AS \"insert\" FROM agent"
                   " WHERE id = :id -- DROP TABLE agent\n"
                   " /* ; INSERT */ ORDER BY label",
        "SELECT label, 'UPDATE; DELETE' AS \"insert\" FROM agent"
        " WHERE id = :id ORDER BY label COLLATE \"C\"");
    assert_non_null(st);
    cds_sql_bind_int64(st, ":id", 1);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_string_equal(cds_sql_col_text(st, 0), "a");
    assert_string_equal(cds_sql_col_text(st, 1), "UPDATE; DELETE");
    assert_int_equal(cds_sql_step(st), CDS_SQL_DONE);
    cds_sql_finalize(&st);
    const char *bad[] = {
        "DELETE FROM datavalue",
        "UPDATE agent SET label = 'x'",
        "SELECT 1; DELETE FROM agent",
        "WITH d AS (DELETE FROM batch RETURNING id) SELECT * FROM d",
        "SELECT * FROM agent FOR UPDATE",
        "PRAGMA user_version = 3",
        "INSERT INTO agent(id) SELECT 9",
        "   ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_null(store_read(fx->store, bad[i], NULL));
        /* a write in the other backend's text is refused on both */
        assert_null(store_read(fx->store, "SELECT 1", bad[i]));
    }
    assert_int_equal(count_agents(fx->store), 1);
}

/* A snapshot does not see what another connection commits meanwhile;
 * after store_read_end the next read does. */
static void
test_snapshot(void **state)
{
    fx_t *fx = *state;
    int e = 0;
    store_t *w = store_open(teststore_where(), 0, &e);
    assert_non_null(w);
    assert_int_equal(store_read_begin(fx->store), CDS_OK);
    assert_int_equal(count_agents(fx->store), 1);
    const uint8_t pk2[CDS_PK_BYTES] = { 0x43 };
    const char *units[] = { "P" };
    int64_t id;
    assert_int_equal(store_agent_enroll(w, pk2, pk2, "b", units, 1, 2, &id),
                     CDS_OK);
    assert_int_equal(count_agents(fx->store), 1);
    store_read_end(fx->store);
    assert_int_equal(count_agents(fx->store), 2);
    store_destroy(&w);
}

/* A statement over its cost is stopped and the bound says so; a cheap one
 * under the same bound runs. */
static void
test_limit(void **state)
{
    fx_t *fx = *state;
    store_limit_t lim = { .steps = 100000, .ms = 200 };
    assert_int_equal(store_read_limit(fx->store, &lim), CDS_OK);
    assert_int_equal(count_agents(fx->store), 1);
    store_read_unlimit(fx->store, &lim);
    assert_false(lim.exceeded);
    assert_int_equal(store_read_limit(fx->store, &lim), CDS_OK);
    cds_sql_stmt_t *st = store_read(
        fx->store,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
        " WHERE i < 100000000) SELECT count(*) FROM n",
        "SELECT count(*) FROM generate_series(1, 1000000000)");
    assert_non_null(st);
    assert_true(cds_sql_step(st) != CDS_SQL_ROW);
    cds_sql_finalize(&st);
    store_read_unlimit(fx->store, &lim);
    assert_true(lim.exceeded);
    /* unlimited again */
    assert_int_equal(count_agents(fx->store), 1);
}

int
main(void)
{
    cds_log_init("store_read_test", CDS_LOG_ERROR);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_select_and_refusals), T(test_snapshot), T(test_limit),
    };
    return teststore_main("store_read", tests, sizeof tests / sizeof *tests);
}
