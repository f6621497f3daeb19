/*  rollup_test: hand-computed figures on a fixed data set (Đức Huệ, the
 *  shipped catalog and org units): RATIO as sum(num)/sum(den) where the
 *  average of commune percentages differs; SUM/LAST over time; COUNT_TRUE;
 *  AVERAGE/MIN/MAX on a small catalog; coverage counts; and the 2025
 *  merger (orgmap): a 2024 -> 2026 series for the new communes adds up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>

#include "admin_fixture.h"
#include "rollup.h"

static const char *const DATA =
    "dataelement,period,orgunit,value\n"
    /* fibre households, 2025Q1: 90 %, 10 %, 50 % -> district 72.5 % */
    "HGD_TONG,2025Q1,27901,1000\nHGD_CAPQUANG_SO,2025Q1,27901,900\n"
    "HGD_TONG,2025Q1,27904,100\nHGD_CAPQUANG_SO,2025Q1,27904,10\n"
    "HGD_TONG,2025Q1,27907,500\nHGD_CAPQUANG_SO,2025Q1,27907,250\n"
    /* a numerator without its denominator: not in the ratio */
    "HGD_CAPQUANG_SO,2025Q1,27910,5\n"
    "HGD_TONG,2025Q2,27901,1000\nHGD_CAPQUANG_SO,2025Q2,27901,950\n"
    /* work files (flow, SUM over quarters) */
    "HSCV_TONG,2025Q1,27901,40\nHSCV_ONLINE_SO,2025Q1,27901,30\n"
    "HSCV_TONG,2025Q2,27901,60\nHSCV_ONLINE_SO,2025Q2,27901,30\n"
    "HSCV_TONG,2025Q1,27904,10\nHSCV_ONLINE_SO,2025Q1,27904,10\n"
    "TO_CNSCD,2025Q1,27901,3\nTO_CNSCD,2025Q1,27904,2\n"
    "TO_CNSCD,2025Q1,27928,4\n"
    "NTM8_1,2025,27901,true\nNTM8_1,2025,27904,false\n"
    "NTM8_1,2025,27907,true\n";

static int
setup(void **state)
{
    afx_t *fx = afx_new(NULL, NULL, NULL);
    assert_int_equal(afx_import(fx, "data.csv", DATA,
                                afx_ms(2025, 7, 10, 0), NULL), CDS_OK);
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

static rollup_rules_t *
rules_of(afx_t *fx)
{
    char err[256];
    rollup_rules_t *r = rollup_rules_load(fx->catalog_path, err, sizeof err);
    assert_non_null(r);
    return r;
}

/* The figure of one indicator. */
static rollup_figure_t
figure(afx_t *fx, const char *ou, const char *pe, const char *de)
{
    rollup_rules_t *rules = rules_of(fx);
    rollup_figure_t *f = NULL, out;
    size_t n = 0;
    char err[256] = "";
    const char *inds[] = { de };
    assert_int_equal(rollup_compute(fx->store, fx->catalog, rules, ou, pe,
                                    inds, 1, &f, &n, err, sizeof err),
                     CDS_OK);
    assert_int_equal(n, 1);
    out = f[0];
    free(f);
    rollup_rules_destroy(&rules);
    return out;
}

static void
test_ratio_is_not_an_average(void **state)
{
    afx_t *fx = *state;
    rollup_figure_t f = figure(fx, "801", "2025Q1", "HGD_CAPQUANG");
    assert_true(f.has_value);
    assert_true(fabs(f.numerator - 1160) < 1e-9);
    assert_true(fabs(f.denominator - 1600) < 1e-9);
    assert_true(fabs(f.value - 72.5) < 1e-9);
    /* the average of the commune percentages would be 50 */
    assert_true(fabs(f.value - (90.0 + 10.0 + 50.0) / 3) > 20);
    assert_int_equal(f.covered, 3);
    assert_int_equal(f.expected, 11);
    assert_string_equal(f.as_of, "2025Q1");
    /* the count itself includes 27910's lone numerator */
    f = figure(fx, "801", "2025Q1", "HGD_CAPQUANG_SO");
    assert_true(fabs(f.value - 1165) < 1e-9);
    assert_int_equal(f.covered, 4);
}

static void
test_stock_takes_latest_quarter(void **state)
{
    afx_t *fx = *state;
    rollup_figure_t f = figure(fx, "801", "2025", "HGD_CAPQUANG");
    assert_int_equal(f.time, ROLLUP_LAST);
    assert_string_equal(f.as_of, "2025Q2");
    assert_true(fabs(f.value - 95.0) < 1e-9);
    assert_int_equal(f.covered, 1);
    assert_int_equal(f.expected, 11);
    f = figure(fx, "801", "2025Q1", "TO_CNSCD");
    assert_true(fabs(f.value - 9) < 1e-9);
    assert_int_equal(f.covered, 3);
}

static void
test_flow_sums_quarters(void **state)
{
    afx_t *fx = *state;
    rollup_figure_t f = figure(fx, "801", "2025", "HSCV_ONLINE");
    assert_int_equal(f.time, ROLLUP_SUM);
    assert_true(fabs(f.numerator - 70) < 1e-9);
    assert_true(fabs(f.denominator - 110) < 1e-9);
    assert_true(fabs(f.value - 7000.0 / 110) < 1e-9);
    assert_int_equal(f.covered, 2);
    assert_int_equal(f.reports, 3);
    /* 11 communes x 2 quarters (the old units end on 2025-06-30) */
    assert_int_equal(f.expected_reports, 22);
    f = figure(fx, "801", "2025", "HSCV_TONG");
    assert_true(fabs(f.value - 110) < 1e-9);
    /* one commune's quarter */
    f = figure(fx, "27901", "2025Q2", "HSCV_ONLINE");
    assert_true(fabs(f.value - 50) < 1e-9);
    assert_int_equal(f.expected, 1);
}

/* Periods of the other DHIS2 types hold the quarters whose days they
 * hold (issue 15). HSCV_TONG (Quarterly, SUM) in DATA: 2025Q1 27901 40 +
 * 27904 10 = 50; 2025Q2 27901 60. */
static void
test_other_period_types(void **state)
{
    afx_t *fx = *state;
    /* 2024April = 2024-04-01..2025-03-31 holds 2024Q2..2025Q1: 50 */
    rollup_figure_t f = figure(fx, "801", "2024April", "HSCV_TONG");
    assert_true(f.has_value);
    assert_true(fabs(f.value - 50) < 1e-9);
    /* 2025April = 2025-04-01..2026-03-31 holds 2025Q2..2026Q1: 60 */
    f = figure(fx, "801", "2025April", "HSCV_TONG");
    assert_true(fabs(f.value - 60) < 1e-9);
    /* 2024AprilS2 = Oct 2024..Mar 2025 holds 2024Q4 and 2025Q1: 50 */
    f = figure(fx, "801", "2024AprilS2", "HSCV_TONG");
    assert_true(fabs(f.value - 50) < 1e-9);
    /* 2025AprilS1 = Apr..Sep 2025 holds 2025Q2 and 2025Q3: 60 */
    f = figure(fx, "801", "2025AprilS1", "HSCV_TONG");
    assert_true(fabs(f.value - 60) < 1e-9);
    /* 2025NovQ1 = Nov 2024..Jan 2025 and 202501B = Jan..Feb 2025 hold no
     * whole quarter: no figure, and the reason names the type */
    f = figure(fx, "801", "2025NovQ1", "HSCV_TONG");
    assert_false(f.has_value);
    assert_non_null(strstr(f.note, "Quarterly"));
    f = figure(fx, "801", "202501B", "HSCV_TONG");
    assert_false(f.has_value);
    /* a Yearly indicator has no figure for a financial year */
    f = figure(fx, "801", "2025July", "NTM8_1");
    assert_false(f.has_value);
    assert_non_null(strstr(f.note, "Yearly"));
}

static void
test_count_true_and_notes(void **state)
{
    afx_t *fx = *state;
    rollup_figure_t f = figure(fx, "801", "2025", "NTM8_1");
    assert_true(fabs(f.value - 2) < 1e-9);
    assert_int_equal(f.covered, 3);
    /* a Yearly indicator asked for a quarter: no figure, a reason */
    f = figure(fx, "801", "2025Q1", "NTM8_1");
    assert_false(f.has_value);
    assert_non_null(strstr(f.note, "Yearly"));
    /* nothing reported */
    f = figure(fx, "801", "2025Q1", "DSTT_TONG");
    assert_false(f.has_value);
    assert_int_equal(f.covered, 0);
    assert_int_equal(f.expected, 11);
}

static void
test_errors_and_default_list(void **state)
{
    afx_t *fx = *state;
    rollup_rules_t *rules = rules_of(fx);
    rollup_figure_t *f = NULL;
    size_t n = 0;
    char err[256];
    const char *bad[] = { "NOPE" };
    assert_int_equal(rollup_compute(fx->store, fx->catalog, rules, "801",
                                    "2025Q5", NULL, 0, &f, &n, err,
                                    sizeof err), CDS_EBADPERIOD);
    assert_int_equal(rollup_compute(fx->store, fx->catalog, rules, "999",
                                    "2025Q1", NULL, 0, &f, &n, err,
                                    sizeof err), CDS_EUNKNOWNORGUNIT);
    assert_int_equal(rollup_compute(fx->store, fx->catalog, rules, "801",
                                    "2025Q1", bad, 1, &f, &n, err,
                                    sizeof err), CDS_EUNKNOWNINDICATOR);
    /* default: the Quarterly and Monthly indicators fit in a quarter, the
     * Yearly ones do not */
    assert_int_equal(rollup_compute(fx->store, fx->catalog, rules, "801",
                                    "2025Q1", NULL, 0, &f, &n, err,
                                    sizeof err), CDS_OK);
    bool saw_ratio = false;
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(f[i].ind->period_type, CDS_PT_YEARLY);
        saw_ratio |= strcmp(f[i].ind->code, "HGD_CAPQUANG") == 0;
    }
    assert_true(saw_ratio);
    free(f);
    assert_int_equal(rollup_rule(rules, "TTHC_TONG"), ROLLUP_SUM);
    assert_int_equal(rollup_rule(rules, "HGD_TONG"), ROLLUP_LAST);
    assert_int_equal(rollup_rule(NULL, "HGD_TONG"), ROLLUP_LAST);
    assert_string_equal(rollup_time_name(ROLLUP_SUM), "SUM");
    char buf[32];
    assert_string_equal(rollup_format(72.5, true, buf, sizeof buf), "72.50");
    assert_string_equal(rollup_format(9, true, buf, sizeof buf), "9");
    assert_string_equal(rollup_format(9, false, buf, sizeof buf), "");
    rollup_rules_destroy(&rules);
    assert_null(rules);
}

static void
test_run_formats(void **state)
{
    afx_t *fx = *state;
    rollup_rules_t *rules = rules_of(fx);
    const char *inds[] = { "HGD_CAPQUANG" };
    char *buf = NULL, err[256];
    AFX_CAPTURE(buf, rollup_run(fx->store, fx->catalog, rules, "801",
                                "2025Q1", inds, 1, REPORT_JSON, out, err,
                                sizeof err));
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    assert_non_null(j);
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    assert_true(fabs(json_number_value(json_object_get(row, "value")) - 72.5)
                < 1e-9);
    assert_string_equal(json_string_value(json_object_get(row, "org_units")),
                        "3/11");
    assert_string_equal(json_string_value(json_object_get(j, "orgUnitName")),
                        "Huyện Đức Huệ");
    json_decref(j);
    free(buf);
    AFX_CAPTURE(buf, rollup_run(fx->store, fx->catalog, rules, "801",
                                "2025Q1", inds, 1, REPORT_CSV, out, err,
                                sizeof err));
    assert_non_null(strstr(buf, "HGD_CAPQUANG,RATIO,LAST,72.5,1160,1600,"
                                "3/11,3,11,3,11,2025Q1,"));
    free(buf);
    AFX_CAPTURE(buf, rollup_run(fx->store, fx->catalog, rules, "801",
                                "2025Q1", inds, 1, REPORT_TABLE, out, err,
                                sizeof err));
    assert_non_null(strstr(buf, "72.50"));
    free(buf);
    rollup_rules_destroy(&rules);
}

/* ---- AVERAGE, MIN, MAX on a small catalog ------------------------------- */

static void
test_average_min_max(void **state)
{
    (void) state;
    afx_t *fx = afx_new("code,name,parent\nP,Tỉnh,\nC1,Xã 1,P\nC2,Xã 2,P\n"
                        "C3,Xã 3,P\n",
                        "code,name_vi,value_type,aggregation,period_type,"
                        "period_rollup\n"
                        "AVG1,Trung bình,NUMBER,AVERAGE,Monthly,SUM\n"
                        "MIN1,Nhỏ nhất,NUMBER,MIN,Monthly,LAST\n"
                        "MAX1,Lớn nhất,NUMBER,MAX,Monthly,\n", "");
    assert_int_equal(afx_import(fx, "d.csv",
                                "dataelement,period,orgunit,value\n"
                                "AVG1,202501,C1,1\nAVG1,202502,C1,2\n"
                                "AVG1,202503,C1,3\nAVG1,202501,C2,10\n"
                                "MIN1,202501,C1,5\nMIN1,202502,C1,7\n"
                                "MIN1,202502,C2,3\nMIN1,202501,C3,1\n"
                                "MAX1,202501,C1,5\nMAX1,202502,C1,7\n"
                                "MAX1,202502,C2,3\nMAX1,202501,C3,1\n",
                                afx_ms(2025, 4, 1, 0), NULL), CDS_OK);
    rollup_figure_t f = figure(fx, "P", "2025Q1", "AVG1");
    assert_true(fabs(f.value - 8) < 1e-9);       /* (6 + 10) / 2 */
    assert_int_equal(f.covered, 2);
    assert_int_equal(f.expected, 3);
    assert_int_equal(f.reports, 4);
    assert_int_equal(f.expected_reports, 9);
    f = figure(fx, "P", "2025Q1", "MIN1");
    assert_string_equal(f.as_of, "202502");
    assert_true(fabs(f.value - 3) < 1e-9);
    assert_int_equal(f.covered, 2);
    f = figure(fx, "P", "2025Q1", "MAX1");      /* empty rule = LAST */
    assert_true(fabs(f.value - 7) < 1e-9);
    f = figure(fx, "P", "202501", "MAX1");
    assert_true(fabs(f.value - 5) < 1e-9);
    assert_int_equal(f.covered, 2);
    afx_destroy(&fx);
}

/* ---- the 2025 merger: 2024 -> 2026 adds up ------------------------------ */

static const char *const SERIES =
    "dataelement,period,orgunit,value\n"
    "HSCV_TONG,2024Q4,27898,10\nHSCV_TONG,2024Q4,27910,20\n"
    "HSCV_TONG,2024Q4,27913,30\nHSCV_TONG,2024Q4,27928,40\n"
    "HSCV_TONG,2024Q4,27901,1\nHSCV_TONG,2024Q4,27904,2\n"
    "HSCV_TONG,2024Q4,27907,3\nHSCV_TONG,2024Q4,27919,100\n"
    "HSCV_TONG,2024Q4,27925,200\nHSCV_TONG,2024Q4,27916,300\n"
    "HSCV_TONG,2024Q4,27922,7\n"
    "HSCV_TONG,2025Q2,27898,10\nHSCV_TONG,2025Q2,27910,20\n"
    "HSCV_TONG,2025Q2,27913,30\nHSCV_TONG,2025Q2,27928,40\n"
    "HSCV_TONG,2025Q2,27901,1\nHSCV_TONG,2025Q2,27904,2\n"
    "HSCV_TONG,2025Q2,27907,3\nHSCV_TONG,2025Q2,27919,100\n"
    "HSCV_TONG,2025Q2,27925,200\nHSCV_TONG,2025Q2,27916,300\n"
    "HSCV_TONG,2025Q2,27922,7\n"
    "HSCV_TONG,2025Q3,27898-2025,110\nHSCV_TONG,2025Q3,27907-2025,7\n"
    "HSCV_TONG,2025Q3,27925-2025,650\nHSCV_TONG,2025Q3,27868-2025,8\n"
    "HSCV_TONG,2026Q1,27898-2025,120\nHSCV_TONG,2026Q1,27907-2025,8\n"
    "HSCV_TONG,2026Q1,27925-2025,660\nHSCV_TONG,2026Q1,27868-2025,9\n"
    "TO_CNSCD,2025Q2,27898,1\nTO_CNSCD,2025Q2,27910,1\n"
    "TO_CNSCD,2025Q3,27898-2025,5\n";

static double
total(afx_t *fx, const char *ou, const char *pe, size_t *cov, size_t *exp)
{
    rollup_figure_t f = figure(fx, ou, pe, "HSCV_TONG");
    *cov = f.covered;
    *exp = f.expected;
    return f.has_value ? f.value : 0;
}

static void
test_merger_series_adds_up(void **state)
{
    (void) state;
    afx_t *fx = afx_new(NULL, NULL, NULL);
    assert_int_equal(afx_import(fx, "s.csv", SERIES, afx_ms(2026, 4, 2, 0),
                                NULL), CDS_OK);
    static const char *const news[] = { "27898-2025", "27907-2025",
                                        "27925-2025", "27868-2025" };
    /* hand-computed: per new commune, 2024 / 2025 / 2026 */
    static const double want[4][3] = {
        { 100, 100 + 110, 120 }, { 6, 6 + 7, 8 }, { 600, 600 + 650, 660 },
        { 7, 7 + 8, 9 },
    };
    static const double province[3] = { 713, 713 + 775, 797 };
    static const char *const years[] = { "2024", "2025", "2026" };
    size_t cov, exp;
    for (int y = 0; y < 3; y++) {
        double sum = 0;
        for (int i = 0; i < 4; i++) {
            double v = total(fx, news[i], years[y], &cov, &exp);
            assert_true(fabs(v - want[i][y]) < 1e-9);
            sum += v;
        }
        assert_true(fabs(sum - province[y]) < 1e-9);
        assert_true(fabs(total(fx, "80-2025", years[y], &cov, &exp)
                         - province[y]) < 1e-9);
        /* the whole country: no unit counted twice across the change */
        assert_true(fabs(total(fx, "VN", years[y], &cov, &exp)
                         - province[y]) < 1e-9);
    }
    /* Đông Thành 2024: its four former units, all reported */
    assert_true(fabs(total(fx, "27898-2025", "2024Q4", &cov, &exp) - 100)
                < 1e-9);
    assert_int_equal(cov, 4);
    assert_int_equal(exp, 4);
    /* 2026: only the new unit is expected */
    total(fx, "27898-2025", "2026Q1", &cov, &exp);
    assert_int_equal(cov, 1);
    assert_int_equal(exp, 1);
    /* the old district still answers for its own time, and for none after */
    assert_true(fabs(total(fx, "801", "2024Q4", &cov, &exp) - 713) < 1e-9);
    assert_int_equal(exp, 11);
    total(fx, "801", "2026Q1", &cov, &exp);
    assert_int_equal(exp, 0);
    /* old units stay queryable under their old names */
    assert_true(fabs(total(fx, "27898", "2024Q4", &cov, &exp) - 10) < 1e-9);
    char name[128];
    assert_int_equal(orgmap_unit_name(fx->store, "27898", name, sizeof name),
                     CDS_OK);
    assert_string_equal(name, "Thị trấn Đông Thành");
    assert_int_equal(orgmap_unit_name(fx->store, "nope", name, sizeof name),
                     CDS_ENOTFOUND);
    /* a stock across the change: the latest quarter (the new unit) only */
    rollup_figure_t f = figure(fx, "27898-2025", "2025", "TO_CNSCD");
    assert_string_equal(f.as_of, "2025Q3");
    assert_true(fabs(f.value - 5) < 1e-9);
    assert_int_equal(f.covered, 1);
    assert_int_equal(f.expected, 1);
    afx_destroy(&fx);
}

static void
test_orgmap_load_and_sources(void **state)
{
    afx_t *fx = *state;
    char path[160], err[512];
    size_t rows = 0;
    afx_write(fx, "bad1.csv", "old,new,from\n27898,NOPE,2025-07-01\n", path);
    assert_int_equal(orgmap_load(fx->store, path, &rows, err, sizeof err),
                     CDS_EUNKNOWNORGUNIT);
    assert_non_null(strstr(err, "bad1.csv:2: new: not in the org-unit list"));
    afx_write(fx, "bad2.csv", "old,new,from\n27898,27898-2025,1.7.2025\n",
              path);
    assert_int_equal(orgmap_load(fx->store, path, &rows, err, sizeof err),
                     CDS_EMALFORMED);
    assert_non_null(strstr(err, "bad2.csv:2: from:"));
    afx_write(fx, "bad3.csv", "old,new,from\n27898,27898-2025,2025-07-01\n"
              "27898,27898-2025,2025-07-01\n", path);
    assert_int_equal(orgmap_load(fx->store, path, &rows, err, sizeof err),
                     CDS_EMALFORMED);
    assert_non_null(strstr(err, "bad3.csv:3:"));
    afx_write(fx, "bad4.csv", "old,from\n27898,2025-07-01\n", path);
    assert_int_equal(orgmap_load(fx->store, path, &rows, err, sizeof err),
                     CDS_EMALFORMED);
    /* a failed load keeps the previous mapping */
    orgmap_unit_t *u = NULL;
    size_t n = 0;
    cds_period_t p;
    assert_int_equal(cds_period_parse("2024", &p), CDS_OK);
    assert_int_equal(orgmap_sources(fx->store, "27925-2025", p.start, p.end,
                                    &u, &n), CDS_OK);
    assert_int_equal(n, 3);    /* Bình Hòa Bắc, Bình Thành, Bình Hòa Nam */
    assert_string_equal(u[0].code, "27916");
    assert_string_equal(u[2].code, "27925");
    assert_int_equal(u[0].until, cds_day_from_ymd(2025, 7, 1));
    orgmap_units_free(u, n);
    /* the shipped file: 12 mappings */
    assert_int_equal(orgmap_load(fx->store, "deploy/orgunit_map.csv", &rows,
                                 err, sizeof err), CDS_OK);
    assert_int_equal(rows, 12);
    /* successors and owing units of Xã Đông Thành (its 4 predecessors) */
    assert_int_equal(cds_period_parse("2025", &p), CDS_OK);
    assert_int_equal(orgmap_sources(fx->store, "27898-2025", p.start, p.end,
                                    &u, &n), CDS_OK);
    assert_int_equal(n, 5);    /* 27898 27898-2025 27910 27913 27928 */
    assert_string_equal(u[1].code, "27898-2025");
    assert_int_equal(u[0].nsucc, 1);
    assert_int_equal(u[0].succ[0], 1);
    assert_int_equal(u[4].nsucc, 1);
    assert_int_equal(u[1].nsucc, 0);
    orgmap_units_free(u, n);
    assert_int_equal(orgmap_owing(fx->store, "27898-2025", p.start, p.end,
                                  &u, &n), CDS_OK);
    assert_int_equal(n, 1);    /* the year: the successor alone */
    assert_string_equal(u[0].code, "27898-2025");
    orgmap_units_free(u, n);
    assert_int_equal(cds_period_parse("2025Q2", &p), CDS_OK);
    assert_int_equal(orgmap_owing(fx->store, "27898-2025", p.start, p.end,
                                  &u, &n), CDS_OK);
    assert_int_equal(n, 4);    /* before its creation: the predecessors */
    assert_string_equal(u[0].code, "27898");
    assert_string_equal(u[3].code, "27928");
    orgmap_units_free(u, n);
}

/* The merge rule on hand-built units (orgmap.h): p1, p2 merged into s on
 * 2025-07-01; the year 2025 spans the merge, 2025Q2 precedes it. */
static void
test_orgmap_rule(void **state)
{
    (void) state;
    int32_t merge = cds_day_from_ymd(2025, 7, 1);
    size_t to_s[1] = { 2 };
    orgmap_unit_t u[3] = {
        { .code = "p1", .valid_from = INT32_MIN, .valid_to = merge - 1,
          .until = merge, .succ = to_s, .nsucc = 1 },
        { .code = "p2", .valid_from = INT32_MIN, .valid_to = merge - 1,
          .until = merge, .succ = to_s, .nsucc = 1 },
        { .code = "s", .valid_from = merge, .valid_to = INT32_MAX,
          .until = INT32_MAX },
    };
    cds_period_t y, q2;
    assert_int_equal(cds_period_parse("2025", &y), CDS_OK);
    assert_int_equal(cds_period_parse("2025Q2", &q2), CDS_OK);
    /* who owes: the year -> s alone; Q2 -> p1 and p2 */
    assert_false(orgmap_owes(u, 3, 0, y.start, y.end));
    assert_true(orgmap_owes(u, 3, 2, y.start, y.end));
    assert_true(orgmap_owes(u, 3, 1, q2.start, q2.end));
    assert_false(orgmap_owes(u, 3, 2, q2.start, q2.end));
    bool all[3] = { true, true, true }, preds[3] = { true, true, false };
    bool ex[3], co[3];
    /* stock, all three reported: s only (never both) */
    orgmap_rule(u, 3, ORGMAP_STOCK, y.start, y.end, all, ex, co);
    assert_true(!co[0] && !co[1] && co[2] && !ex[0] && ex[2]);
    /* stock, s silent: p1 + p2; expected p1, p2 and s (owes) */
    orgmap_rule(u, 3, ORGMAP_STOCK, y.start, y.end, preds, ex, co);
    assert_true(co[0] && co[1] && !co[2] && ex[0] && ex[1] && ex[2]);
    /* yes/no: only s exists at the end */
    orgmap_rule(u, 3, ORGMAP_YESNO, y.start, y.end, all, ex, co);
    assert_true(!ex[0] && !ex[1] && ex[2] && co[2] && !co[0]);
    /* flow: each unit's part counts */
    orgmap_rule(u, 3, ORGMAP_FLOW, y.start, y.end, all, ex, co);
    assert_true(co[0] && co[1] && co[2]);
    assert_int_equal(orgmap_kind(true, false), ORGMAP_YESNO);
    assert_int_equal(orgmap_kind(false, true), ORGMAP_FLOW);
    assert_int_equal(orgmap_kind(false, false), ORGMAP_STOCK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ratio_is_not_an_average, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stock_takes_latest_quarter,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_sums_quarters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_period_types, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_count_true_and_notes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_default_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_run_formats, setup, teardown),
        cmocka_unit_test(test_average_min_max),
        cmocka_unit_test(test_merger_series_adds_up),
        cmocka_unit_test(test_orgmap_rule),
        cmocka_unit_test_setup_teardown(test_orgmap_load_and_sources, setup,
                                        teardown),
    };
    return teststore_main("rollup", tests, sizeof tests / sizeof *tests);
}
