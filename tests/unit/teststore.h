/*  teststore: the store a report's unit test runs on, on both backends.
 *
 *  A test binary calls teststore_main instead of cmocka_run_group_tests:
 *  its tests run on a fresh SQLite file each (teststore_open(dir)), and,
 *  when CDS_TEST_PG_URL names a PostgreSQL database
 *  (tests/integration/pg_report.sh starts one and sets it), all again on
 *  that database, each store in a schema of its own made empty first
 *  (search_path in the URL: a test may hold two stores at once), so both
 *  passes start from the same nothing. What a report printed is
 *  handed to teststore_same: the first pass records it, the PostgreSQL
 *  pass fails unless it printed the very same bytes at the same point
 *  (issue 14: same outputs on both backends, not only the same asserts).
 *
 *  The server helpers (testpg_url, testpg_exec) are testpg.h's. Header
 *  only, like testdir.h; include it after <cmocka.h>. */
#ifndef TESTS_UNIT_TESTSTORE_H
#define TESTS_UNIT_TESTSTORE_H

#include "store.h"
#include "testpg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TESTSTORE_MAX_OUTS 256

static int teststore_pass;             /* 0 SQLite, 1 PostgreSQL */
static char *teststore_outs[TESTSTORE_MAX_OUTS];
static size_t teststore_n;             /* recorded (pass 0) / compared */
static size_t teststore_opens;         /* teststore_open calls this pass */
static size_t teststore_start[TESTSTORE_MAX_OUTS]; /* teststore_n at each */
static char teststore_last[1024];      /* where the last store is */

/* An empty schema ts_k in the PostgreSQL database; out receives the URL
 * that works in it (search_path), so store_open migrates from 0. */
static inline void
teststore_pg_schema(const char *url, size_t k, char *out, size_t len)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SET client_min_messages = warning;"
             "DROP SCHEMA IF EXISTS ts_%zu CASCADE; CREATE SCHEMA ts_%zu",
             k, k);
    testpg_exec(url, sql);
    snprintf(out, len, "%s%coptions=-csearch_path%%3Dts_%zu", url,
             strchr(url, '?') ? '&' : '?', k);
}

/* Where the last teststore_open opened: a file path or a URL. */
static inline const char *
teststore_where(void)
{
    return teststore_last;
}

/* A fresh store: dir/agg.db on the first pass, the emptied server on the
 * second. */
static inline store_t *
teststore_open(const char *dir)
{
    int e = 0;
    /* Outputs align by test, even after a failed or skipped one. */
    size_t k = teststore_opens++;
    assert_true(k < TESTSTORE_MAX_OUTS);
    if (teststore_pass == 0)
        teststore_start[k] = teststore_n;
    else
        teststore_n = teststore_start[k];
    if (teststore_pass == 0)
        snprintf(teststore_last, sizeof teststore_last, "%s/agg.db", dir);
    else
        teststore_pg_schema(testpg_url(), k, teststore_last,
                            sizeof teststore_last);
    store_t *s = store_open(teststore_last, 0, &e);
    assert_non_null(s);
    return s;
}

/* out is what a report printed: recorded on the first pass, compared on
 * the second. */
static inline void
teststore_same(const char *out)
{
    size_t i = teststore_n++;
    assert_true(i < TESTSTORE_MAX_OUTS);
    if (teststore_pass == 0) {
        teststore_outs[i] = strdup(out ? out : "(null)");
        assert_non_null(teststore_outs[i]);
        return;
    }
    if (!teststore_outs[i])
        fail_msg("output %zu: the SQLite pass had none", i);
    assert_string_equal(out ? out : "(null)", teststore_outs[i]);
}

/* Run tests[0..n) on SQLite, then, with a URL, on PostgreSQL. */
static inline int
teststore_main(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    if (testpg_url()) {
        char pg[128];
        snprintf(pg, sizeof pg, "%s (PostgreSQL)", name);
        teststore_pass = 1;
        teststore_n = teststore_opens = 0;
        print_message("teststore: the PostgreSQL pass\n");
        rc |= _cmocka_run_group_tests(pg, tests, n, NULL, NULL);
    }
    for (size_t i = 0; i < TESTSTORE_MAX_OUTS; i++)
        free(teststore_outs[i]);
    return rc;
}

#endif
