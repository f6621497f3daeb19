/*  rank_test: attain.c and rank.c on a fixed data set (Đức Huệ, the
 *  shipped catalog and org units), every expected number computed by hand
 *  in the comments: a unit's chain of ancestors, the judgement of a
 *  figure and of a stored value, the report cells, and the ranking with a
 *  tie, a unit without a target and one without a value; rank_run's
 *  refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>

#include "admin_fixture.h"
#include "attain.h"
#include "rank.h"

static const char *const DATA =
    "dataelement,period,orgunit,value\n"
    /* fibre households 2025Q1: 27901 880/1000 = 88 %, 27904 76/100 = 76 %,
     * 27907 440/500 = 88 % (ties with 27901), 27910 a total alone. */
    "HGD_TONG,2025Q1,27901,1000\nHGD_CAPQUANG_SO,2025Q1,27901,880\n"
    "HGD_TONG,2025Q1,27904,100\nHGD_CAPQUANG_SO,2025Q1,27904,76\n"
    "HGD_TONG,2025Q1,27907,500\nHGD_CAPQUANG_SO,2025Q1,27907,440\n"
    "HGD_TONG,2025Q1,27910,300\n"
    "HGD_TONG,2025Q1,27913,200\nHGD_CAPQUANG_SO,2025Q1,27913,190\n"
    "DSTT_DVCTT,2025Q1,27901,45\n";

/* HGD_CAPQUANG: 80 % for four communes by their own rows (27904 with
 * close_within 5); 27913 has a row for 2024 only, so none for 2025.
 * DSTT_DVCTT: 50 % for every unit below 80. */
static const char *const TARGETS =
    "indicator,org_unit,year,target,close_within,source_vi\n"
    "HGD_CAPQUANG,27901,2025,80,,QĐ 411\n"
    "HGD_CAPQUANG,27904,2025,80,5,QĐ 411\n"
    "HGD_CAPQUANG,27907,2025,80,,QĐ 411\n"
    "HGD_CAPQUANG,27910,2025,80,,QĐ 411\n"
    "HGD_CAPQUANG,27913,2024,80,,QĐ 411\n"
    "DSTT_DVCTT,under:80,2025,50,,QĐ 411\n";

typedef struct {
    afx_t *fx;
    cds_targets_t *targets;
} rt_t;

static int
setup(void **state)
{
    rt_t *rt = calloc(1, sizeof *rt);
    char path[256], err[512];
    rt->fx = afx_new(NULL, NULL, NULL);
    assert_int_equal(afx_import(rt->fx, "data.csv", DATA,
                                afx_ms(2025, 7, 10, 0), NULL), CDS_OK);
    afx_write(rt->fx, "targets.csv", TARGETS, path);
    rt->targets = cds_targets_load(path, rt->fx->catalog, NULL, err,
                                   sizeof err);
    if (!rt->targets)
        fail_msg("%s", err);
    *state = rt;
    return 0;
}

static int
teardown(void **state)
{
    rt_t *rt = *state;
    cds_targets_destroy(&rt->targets);
    afx_destroy(&rt->fx);
    free(rt);
    return 0;
}

static void
test_chain(void **state)
{
    rt_t *rt = *state;
    char **chain = NULL;
    size_t n = 0;
    assert_int_equal(attain_chain(rt->fx->store, "27901", &chain, &n),
                     CDS_OK);
    assert_int_equal(n, 4);
    assert_string_equal(chain[0], "27901");
    assert_string_equal(chain[1], "801");
    assert_string_equal(chain[2], "80");
    assert_string_equal(chain[3], "VN");
    attain_chain_free(chain, n);
    assert_int_equal(attain_chain(rt->fx->store, "NOPE", &chain, &n),
                     CDS_EUNKNOWNORGUNIT);
    assert_null(chain);
}

static void
test_judge_and_cells(void **state)
{
    rt_t *rt = *state;
    const cds_indicator_t *ind = cds_catalog_find(rt->fx->catalog,
                                                  "HGD_CAPQUANG");
    const char *chain[] = { "27904", "801", "80", "VN" };
    attain_t a;
    attain_bufs_t b;
    const char *cells[ATTAIN_COLS];
    /* 76 of 80: 95 %, close_within 5 -> close (95 >= 100 - 5). */
    attain_judge(rt->targets, ind, chain, 4, "2025Q1", true, 76, 1, &a);
    assert_true(a.has_pct);
    assert_true(fabs(a.pct - 95.0) < 1e-9);
    attain_cells(&a, &b, cells);
    assert_string_equal(cells[0], "80");
    assert_string_equal(cells[1], "95.00");
    assert_string_equal(cells[2], "close");
    assert_string_equal(cells[3], "QĐ 411");
    assert_string_equal(cells[4], "");
    /* No value: the target shown, the reason said. */
    attain_judge(rt->targets, ind, chain, 4, "2025Q1", false, 0, 1, &a);
    attain_cells(&a, &b, cells);
    assert_false(a.has_pct);
    assert_string_equal(cells[0], "80");
    assert_string_equal(cells[2], "");
    assert_string_equal(cells[4], "no value for 2025Q1");
    /* 2026: no row. */
    attain_judge(rt->targets, ind, chain, 4, "2026Q1", true, 76, 1, &a);
    assert_null(a.t);
    assert_string_equal(a.reason, "no target for HGD_CAPQUANG in 2026");
}

static void
test_value(void **state)
{
    rt_t *rt = *state;
    attain_cache_t cache = { 0 };
    attain_t a;
    /* An entered 45 % against under:80's 50 %: 90 %, close. */
    assert_int_equal(attain_value(rt->fx->store, rt->targets,
                                  rt->fx->catalog, &cache, "27901",
                                  "DSTT_DVCTT", "2025Q1", "45", &a), CDS_OK);
    assert_true(a.has_pct && fabs(a.pct - 90.0) < 1e-9);
    assert_int_equal(a.state, CDS_TARGET_CLOSE);
    assert_string_equal(cache.ou, "27901");     /* kept for the next row */
    /* A count without a target: nothing. */
    assert_int_equal(attain_value(rt->fx->store, rt->targets,
                                  rt->fx->catalog, &cache, "27901",
                                  "HGD_TONG", "2025Q1", "1000", &a), CDS_OK);
    assert_null(a.t);
    attain_cache_free(&cache);
    assert_null(cache.ou);
}

static json_t *
rank_json(rt_t *rt, const char *ou, const char *de, const char *pe,
          int want)
{
    rank_opts_t o = { .org_unit = ou, .indicator = de, .period = pe,
                      .catalog = rt->fx->catalog, .targets = rt->targets };
    char *buf = NULL, err[256] = "";
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int rc = rank_run(rt->fx->store, &o, REPORT_JSON, out, err, sizeof err);
    fclose(out);
    assert_int_equal(rc, want);
    json_t *j = rc == CDS_OK ? json_loads(buf, 0, NULL) : NULL;
    free(buf);
    return j;
}

static void
test_rank(void **state)
{
    rt_t *rt = *state;
    /* 88/80 = 110 % for 27901 and 27907 (tie: rank 1, 1), 76/80 = 95 %
     * for 27904 (rank 3); then the communes with no 2025 row (27913's
     * only row is for 2024), then 27910 (a total without the fibre
     * count: no value). */
    json_t *j = rank_json(rt, "801", "HGD_CAPQUANG", "2025Q1", CDS_OK);
    assert_non_null(j);
    json_t *rows = json_object_get(j, "rows");
    assert_int_equal(json_array_size(rows), 11);
    static const struct {
        int rank;
        const char *ou;
        double pct;
        const char *state;
    } want[] = { { 1, "27901", 110, "met" }, { 1, "27907", 110, "met" },
                 { 3, "27904", 95, "close" } };
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(rows, i);
        assert_int_equal(json_integer_value(json_object_get(r, "rank")),
                         want[i].rank);
        assert_string_equal(json_string_value(json_object_get(r, "org_unit")),
                            want[i].ou);
        assert_true(fabs(json_number_value(json_object_get(r, "attainment"))
                         - want[i].pct) < 1e-9);
        assert_string_equal(json_string_value(json_object_get(r, "state")),
                            want[i].state);
    }
    /* rows 3..9: no target, by code (27898, 27913 with its 95 % share,
     * 27916 ... 27928), unranked. */
    static const char *const no_target[] = { "27898", "27913", "27916",
                                             "27919", "27922", "27925",
                                             "27928" };
    json_t *r;
    for (size_t i = 0; i < 7; i++) {
        r = json_array_get(rows, 3 + i);
        assert_string_equal(json_string_value(json_object_get(r,
                                                              "org_unit")),
                            no_target[i]);
        assert_true(json_is_null(json_object_get(r, "rank")));
        assert_string_equal(json_string_value(json_object_get(r, "reason")),
                            "no target for HGD_CAPQUANG in 2025");
    }
    /* 27913's share is shown even so: 190/200 = 95 %. */
    r = json_array_get(rows, 4);
    assert_true(fabs(json_number_value(json_object_get(r, "value")) - 95)
                < 1e-9);
    r = json_array_get(rows, 10);
    assert_string_equal(json_string_value(json_object_get(r, "org_unit")),
                        "27910");
    assert_non_null(strstr(json_string_value(json_object_get(r, "reason")),
                           "no value for 2025Q1"));
    assert_int_equal(json_integer_value(json_object_get(j, "ranked")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "year")), 2025);
    json_decref(j);
}

static void
test_rank_refusals(void **state)
{
    rt_t *rt = *state;
    assert_null(rank_json(rt, "801", "NOPE", "2025Q1",
                          CDS_EUNKNOWNINDICATOR));
    assert_null(rank_json(rt, "801", "HGD_CAPQUANG", "2025Q5",
                          CDS_EBADPERIOD));
    assert_null(rank_json(rt, "999", "HGD_CAPQUANG", "2025Q1",
                          CDS_EUNKNOWNORGUNIT));
    assert_null(rank_json(rt, NULL, "HGD_CAPQUANG", "2025Q1", CDS_EUSAGE));
    cds_targets_t *keep = rt->targets;
    rt->targets = NULL;                /* no targets file */
    assert_null(rank_json(rt, "801", "HGD_CAPQUANG", "2025Q1", CDS_EUSAGE));
    rt->targets = keep;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_judge_and_cells, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rank_refusals, setup, teardown),
    };
    /* Twice with CDS_TEST_PG_URL: SQLite, then PostgreSQL (teststore.h;
     * tests/integration/pg_report.sh). */
    return teststore_main("rank", tests, sizeof tests / sizeof *tests);
}
