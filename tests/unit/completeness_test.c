/*  completeness_test: who reported, who did not, % complete, last report
 *  time, late and overdue, by hand on a fixed data set (Đức Huệ, 2025Q1,
 *  deadline 15 days after the quarter = 2025-04-16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "admin_fixture.h"
#include "completeness.h"

static int
setup(void **state)
{
    afx_t *fx = afx_new(NULL, NULL, NULL);
    /* on time (2025-04-10): 27901, 27904 complete; 27910 half */
    assert_int_equal(afx_import(fx, "a.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q1,27901,1000\n"
                                "HGD_CAPQUANG_SO,2025Q1,27901,900\n"
                                "HGD_TONG,2025Q1,27904,100\n"
                                "HGD_CAPQUANG_SO,2025Q1,27904,10\n"
                                "HGD_CAPQUANG_SO,2025Q1,27910,5\n",
                                afx_ms(2025, 4, 10, 8), NULL), CDS_OK);
    /* late (2025-04-20): 27907 */
    assert_int_equal(afx_import(fx, "b.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q1,27907,500\n"
                                "HGD_CAPQUANG_SO,2025Q1,27907,250\n",
                                afx_ms(2025, 4, 20, 8), NULL), CDS_OK);
    /* a correction of an on-time value: last report moves, not late */
    assert_int_equal(afx_import(fx, "c.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q1,27901,1010\n",
                                afx_ms(2025, 4, 25, 8), NULL), CDS_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    afx_t *fx = *state;
    afx_destroy(&fx);
    return 0;
}

static const char *const INDS[] = { "HGD_TONG", "HGD_CAPQUANG_SO" };

static completeness_opts_t
opts(afx_t *fx, uint64_t now)
{
    completeness_opts_t o = { .org_unit = "801", .period = "2025Q1",
                              .indicators = INDS, .n_indicators = 2,
                              .catalog = fx->catalog, .now_ms = now };
    o.deadline_days[CDS_PT_QUARTERLY] = 15;
    return o;
}

static const completeness_unit_t *
unit(const completeness_t *c, const char *code)
{
    for (size_t i = 0; i < c->n_units; i++)
        if (strcmp(c->units[i].code, code) == 0)
            return &c->units[i];
    fail_msg("no unit %s", code);
    return NULL;
}

static void
test_hand_computed(void **state)
{
    afx_t *fx = *state;
    completeness_t c;
    char err[256];
    completeness_opts_t o = opts(fx, afx_ms(2025, 5, 1, 0));
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err), CDS_OK);
    assert_int_equal(c.n_units, 11);
    assert_int_equal(c.units_complete, 3);
    assert_int_equal(c.values, 7);
    assert_int_equal(c.values_expected, 22);
    assert_int_equal(c.deadline_ms, (int64_t) afx_ms(2025, 4, 16, 0));
    const completeness_unit_t *u = unit(&c, "27901");
    assert_int_equal(u->reported, 2);
    assert_int_equal(u->late, 0);
    assert_int_equal(u->last_ms, (int64_t) afx_ms(2025, 4, 25, 8));
    assert_false(u->overdue);
    assert_null(u->missing);
    u = unit(&c, "27907");
    assert_int_equal(u->late, 2);
    assert_int_equal(u->last_ms, (int64_t) afx_ms(2025, 4, 20, 8));
    u = unit(&c, "27910");
    assert_int_equal(u->reported, 1);
    assert_string_equal(u->missing, "HGD_TONG");
    assert_true(u->overdue);
    u = unit(&c, "27928");
    assert_int_equal(u->reported, 0);
    assert_int_equal(u->last_ms, 0);
    assert_string_equal(u->missing, "HGD_TONG,HGD_CAPQUANG_SO");
    assert_string_equal(u->name, "Xã Mỹ Bình");
    completeness_clear(&c);
    /* before the deadline nobody is overdue yet */
    o = opts(fx, afx_ms(2025, 4, 12, 0));
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err), CDS_OK);
    assert_false(unit(&c, "27928")->overdue);
    completeness_clear(&c);
    assert_int_equal(c.n_units, 0);
}

static void
test_default_indicators_and_mapping(void **state)
{
    afx_t *fx = *state;
    completeness_t c;
    char err[256];
    completeness_opts_t o = opts(fx, afx_ms(2025, 5, 1, 0));
    o.indicators = NULL;
    o.n_indicators = 0;
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err), CDS_OK);
    /* every Quarterly entered indicator of the catalog, no RATIO */
    const completeness_unit_t *u = unit(&c, "27901");
    assert_int_equal(u->expected, 13);   /* 20 Quarterly - 7 RATIO */
    assert_null(strstr(u->missing, "HGD_CAPQUANG,"));
    assert_non_null(strstr(u->missing, "TO_CNSCD"));
    completeness_clear(&c);
    /* the new commune for a 2025 quarter before the merger: its former
     * units report */
    o = opts(fx, afx_ms(2025, 5, 1, 0));
    o.org_unit = "27907-2025";
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err), CDS_OK);
    assert_int_equal(c.n_units, 3);
    assert_int_equal(c.units_complete, 3);  /* 27901, 27904, 27907 */
    completeness_clear(&c);
}

static void
test_errors_and_run(void **state)
{
    afx_t *fx = *state;
    completeness_t c;
    char err[256], *buf = NULL;
    completeness_opts_t o = opts(fx, afx_ms(2025, 5, 1, 0));
    o.period = "2025Q9";
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err), CDS_EBADPERIOD);
    o = opts(fx, 0);
    o.org_unit = "nope";
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err), CDS_EUNKNOWNORGUNIT);
    o = opts(fx, 0);
    const char *bad[] = { "NOPE" };
    o.indicators = bad;
    o.n_indicators = 1;
    assert_int_equal(completeness_compute(fx->store, &o, &c, err,
                                          sizeof err),
                     CDS_EUNKNOWNINDICATOR);
    o = opts(fx, afx_ms(2025, 5, 1, 0));
    AFX_CAPTURE(buf, completeness_run(fx->store, &o, REPORT_JSON, out, err,
                                      sizeof err));
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "unitsComplete")),
                     3);
    json_t *rows = json_object_get(j, "rows");
    assert_int_equal(json_array_size(rows), 11);
    json_t *r0 = json_array_get(rows, 1);      /* 27901 */
    assert_string_equal(json_string_value(json_object_get(r0, "status")),
                        "complete");
    assert_string_equal(json_string_value(json_object_get(r0,
                                                          "last_reported")),
                        "2025-04-25T08:00:00.000Z");
    json_decref(j);
    free(buf);
    AFX_CAPTURE(buf, completeness_run(fx->store, &o, REPORT_TABLE, out, err,
                                      sizeof err));
    assert_non_null(strstr(buf, "3 of 11 org units complete (27.3%); 7 of "
                                "22 values (31.8%)"));
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hand_computed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_indicators_and_mapping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_run, setup,
                                        teardown),
    };
    return teststore_main("completeness", tests, sizeof tests / sizeof *tests);
}
