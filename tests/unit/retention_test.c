/*  retention_test: health buckets past the windows are counted and
 *  deleted in steps of STORE_PRUNE_STEP rows, newer ones kept, on SQLite
 *  (through a store: retention_count / retention_prune, rejects kept with
 *  a cutoff < 0) and, when CDS_TEST_PG_URL names a PostgreSQL database
 *  (tests/integration/pg_commitmark.sh sets it), on PostgreSQL through a
 *  store there (retention_count_buckets / retention_prune_buckets on its
 *  connection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdir.h"
#include "testpg.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_sql.h"
#include "retention.h"
#include "store.h"

#define OLD_BUCKETS (2 * STORE_PRUNE_STEP + STORE_PRUNE_STEP / 2)
#define CUTOFF 30000                   /* health_bucket_cutoff(NOW_MS) */
#define NOW_MS ((uint64_t) (CUTOFF + 288 + 1) * 300000u)

/* OLD_BUCKETS buckets below the cutoff and 10 at and above it, for agent
 * id (one statement, the same text on both backends). */
static void
fill(cds_sql_t *db, int64_t agent)
{
    cds_sql_stmt_t *st = cds_sql_prepare(db,
        "INSERT INTO agent_health_bucket(agent_id, bucket)"
        " WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g"
        "  WHERE x < CAST(:n AS BIGINT))"
        " SELECT CAST(:id AS BIGINT), CASE WHEN x <= CAST(:old AS BIGINT)"
        "  THEN x ELSE CAST(:cut AS BIGINT) + x - CAST(:old AS BIGINT) - 1"
        "  END FROM g", 0);
    assert_non_null(st);
    cds_sql_bind_int64(st, ":n", OLD_BUCKETS + 10);
    cds_sql_bind_int64(st, ":id", agent);
    cds_sql_bind_int64(st, ":old", OLD_BUCKETS);
    cds_sql_bind_int64(st, ":cut", CUTOFF);
    assert_int_equal(cds_sql_run(st), CDS_OK);
    cds_sql_finalize(&st);
}

static int64_t
left(cds_sql_t *db)
{
    cds_sql_stmt_t *st = cds_sql_prepare(db,
        "SELECT count(*) FROM agent_health_bucket", 0);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    int64_t n = cds_sql_col_int64(st, 0);
    cds_sql_finalize(&st);
    return n;
}

/* One agent enrolled in store: its id. */
static int64_t
enrolled(store_t *store)
{
    uint8_t pk[32], curve[32];
    memset(pk, 1, sizeof pk);
    memset(curve, 2, sizeof curve);
    const char *units[] = { "OU1" };
    int64_t id = 0;
    assert_int_equal(store_agent_enroll(store, pk, curve, "a", units, 1, 1000,
                                        &id), CDS_OK);
    return id;
}

static void
test_sqlite_store(void **state)
{
    (void) state;
    char dir[] = "/tmp/cds-retention.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/aggregator.db", dir);
    int err = 0;
    store_t *store = store_open(path, 0, &err);
    assert_non_null(store);
    int64_t id = enrolled(store);
    fill(store_sql(store), id);
    retention_counts_t n;
    assert_int_equal(retention_count(store, -1, NOW_MS, &n), CDS_OK);
    assert_int_equal(n.buckets, OLD_BUCKETS);
    assert_int_equal(n.rejects + n.knocks, 0);
    assert_int_equal(retention_prune(store, -1, NOW_MS, &n), CDS_OK);
    assert_int_equal(n.buckets, OLD_BUCKETS);
    assert_int_equal(left(store_sql(store)), 10);
    assert_int_equal(retention_count(store, -1, NOW_MS, &n), CDS_OK);
    assert_int_equal(n.buckets, 0);
    store_destroy(&store);
    testdir_remove(dir);
}

static void
test_postgresql(void **state)
{
    int err = 0;
    testpg_reset(*state);              /* store_open makes the schema */
    store_t *store = store_open(*state, 0, &err);
    assert_non_null(store);
    cds_sql_t *db = store_sql(store);
    int64_t id = enrolled(store);
    fill(db, id);
    int64_t n = 0;
    assert_int_equal(retention_count_buckets(db, NOW_MS, &n), CDS_OK);
    assert_int_equal(n, OLD_BUCKETS);
    n = 0;
    uint64_t before = cds_sql_write_commits();
    assert_int_equal(retention_prune_buckets(db, NOW_MS, &n), CDS_OK);
    assert_int_equal(n, OLD_BUCKETS);
    assert_int_equal(cds_sql_write_commits() - before, 3);  /* in steps */
    assert_int_equal(left(db), 10);
    store_destroy(&store);
}

int
main(void)
{
    cds_log_init("retention_test", CDS_LOG_ERROR);
    const char *pg = getenv("CDS_TEST_PG_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_store),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_prestate(test_postgresql, (void *) pg),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (pg && *pg)
        rc |= cmocka_run_group_tests(pg_tests, NULL, NULL);
    return rc;
}
