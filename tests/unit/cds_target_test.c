/*  Unit tests for cds_target: the shipped deploy/targets.csv against the
 *  shipped catalog and org units; which row applies (own row over the
 *  nearest ancestor's under: row, the period's year); attainment and
 *  traffic-light states with every expected number computed by hand
 *  below; loader refusals with exact "path:line: column: problem". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_target.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char tmppath[128];

static const char *
deploy(const char *name)
{
    static char path[3][1024];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 1024, "deploy/%s", name);
    if (access(p, R_OK) == 0)
        return p;
    snprintf(p, 1024, "%s", __FILE__);
    char *cut = strstr(p, "tests/unit/");
    if (cut)
        snprintf(cut, 1024 - (size_t) (cut - p), "deploy/%s", name);
    return p;
}

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_target_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmppath, sizeof tmppath, "%s/targets.csv", tmpdir);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unlink(tmppath);
    return rmdir(tmpdir);
}

static void
write_file(const char *text)
{
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

typedef struct {
    cds_catalog_t *cat;
    cds_orgunits_t *ous;
} meta_t;

static meta_t
meta(void)
{
    char err[512] = "";
    meta_t m = { cds_catalog_load(deploy("catalog.csv"), err, sizeof err),
                 cds_orgunits_load(deploy("orgunits.csv"), err, sizeof err) };
    if (!m.cat || !m.ous)
        fail_msg("%s", err);
    return m;
}

static void
meta_free(meta_t *m)
{
    cds_catalog_destroy(&m->cat);
    cds_orgunits_destroy(&m->ous);
}

static void
expect_load_error(const char *text, const char *want)
{
    char err[512] = "", full[600];
    meta_t m = meta();
    write_file(text);
    cds_targets_t *t = cds_targets_load(tmppath, m.cat, m.ous, err,
                                        sizeof err);
    assert_null(t);
    snprintf(full, sizeof full, "%s:%s", tmppath, want);
    assert_string_equal(err, full);
    meta_free(&m);
}

#define HDR "indicator,org_unit,year,target,direction,close_within,source_vi\n"

static void
test_load_deploy(void **state)
{
    (void) state;
    char err[512] = "";
    meta_t m = meta();
    cds_targets_t *t = cds_targets_load(deploy("targets.csv"), m.cat, m.ous,
                                        err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    assert_true(cds_targets_size(t) >= 5);
    /* The first row: QĐ 924, 60 % of commune work files online, for every
     * unit below VN in 2025. */
    const cds_target_t *r = cds_targets_at(t, 0);
    assert_string_equal(r->indicator, "HSCV_ONLINE");
    assert_string_equal(r->org_unit, "VN");
    assert_true(r->subtree);
    assert_int_equal(r->year, 2025);
    assert_true(r->target == 60);
    assert_non_null(strstr(r->source_vi, "QĐ 924"));
    assert_int_equal(cds_targets_check(deploy("targets.csv"), m.cat, m.ous,
                                       stderr), 0);
    cds_targets_destroy(&t);
    assert_null(t);
    meta_free(&m);
}

static void
test_year_of_period(void **state)
{
    (void) state;
    assert_int_equal(cds_target_year("2025Q2"), 2025);
    assert_int_equal(cds_target_year("202512"), 2025);
    assert_int_equal(cds_target_year("2025"), 2025);
    /* ISO week 2025W1 runs Mon 2024-12-30 .. Sun 2025-01-05: it ends in
     * 2025, so 2025's target. 2020W53 runs 2020-12-28 .. 2021-01-03. */
    assert_int_equal(cds_target_year("2025W1"), 2025);
    assert_int_equal(cds_target_year("2020W53"), 2021);
    assert_int_equal(cds_target_year("2025Q5"), -1);
    assert_int_equal(cds_target_year(NULL), -1);
}

/* Own row over the nearest ancestor's under: row over a farther one. */
static void
test_find_precedence(void **state)
{
    (void) state;
    char err[512] = "";
    meta_t m = meta();
    write_file(HDR
               "HGD_CAPQUANG,under:VN,2025,80,,,QĐ 411\n"
               "HGD_CAPQUANG,under:801,2025,85,,,KH tỉnh\n"
               "HGD_CAPQUANG,27901,2025,70,,,KH xã\n"
               "HGD_CAPQUANG,801,2025,90,,,KH huyện\n"
               "HGD_CAPQUANG,under:VN,2024,75,,,QĐ 411\n");
    cds_targets_t *t = cds_targets_load(tmppath, m.cat, m.ous, err,
                                        sizeof err);
    if (!t)
        fail_msg("%s", err);
    const char *c27901[] = { "27901", "801", "80", "VN" };
    const char *c27904[] = { "27904", "801", "80", "VN" };
    const char *c801[] = { "801", "80", "VN" };
    const char *c80[] = { "80", "VN" };
    const char *cvn[] = { "VN" };
    const cds_target_t *r;
    r = cds_targets_find(t, "HGD_CAPQUANG", 2025, c27901, 4);
    assert_true(r && r->target == 70);       /* its own row */
    r = cds_targets_find(t, "HGD_CAPQUANG", 2025, c27904, 4);
    assert_true(r && r->target == 85);       /* under:801, nearer than VN */
    r = cds_targets_find(t, "HGD_CAPQUANG", 2025, c801, 3);
    assert_true(r && r->target == 90);       /* own row beats under:VN */
    r = cds_targets_find(t, "HGD_CAPQUANG", 2025, c80, 2);
    assert_true(r && r->target == 80);       /* under:VN */
    /* under:VN is for the units below VN, not VN itself. */
    assert_null(cds_targets_find(t, "HGD_CAPQUANG", 2025, cvn, 1));
    r = cds_targets_find(t, "HGD_CAPQUANG", 2024, c27901, 4);
    assert_true(r && r->target == 75);       /* the year picks the row */
    assert_null(cds_targets_find(t, "HGD_CAPQUANG", 2023, c27901, 4));
    assert_null(cds_targets_find(t, "HSCV_ONLINE", 2025, c27901, 4));
    cds_targets_destroy(&t);
    meta_free(&m);
}

static cds_target_t
row(double target, bool lower, double close_within)
{
    cds_target_t t = { .target = target, .lower = lower,
                       .close_within = close_within };
    return t;
}

static void
test_attainment_and_state(void **state)
{
    (void) state;
    double pct = -1;
    cds_target_t t60 = row(60, false, 10);
    /* 45 of 60 %: 100 * 45 / 60 = 75 % -> behind (below 100 - 10 = 90). */
    assert_true(cds_target_attainment(&t60, CDS_VT_PERCENTAGE, 45, 1, &pct));
    assert_true(fabs(pct - 75.0) < 1e-9);
    assert_int_equal(cds_target_state(&t60, pct), CDS_TARGET_BEHIND);
    /* 54 of 60: 100 * 54 / 60 = 90 % -> close (exactly 100 - 10). */
    assert_true(cds_target_attainment(&t60, CDS_VT_PERCENTAGE, 54, 1, &pct));
    assert_true(fabs(pct - 90.0) < 1e-9);
    assert_int_equal(cds_target_state(&t60, pct), CDS_TARGET_CLOSE);
    /* 53.4 of 60: 89 % -> behind. */
    assert_true(cds_target_attainment(&t60, CDS_VT_PERCENTAGE, 53.4, 1,
                                      &pct));
    assert_true(fabs(pct - 89.0) < 1e-9);
    assert_int_equal(cds_target_state(&t60, pct), CDS_TARGET_BEHIND);
    /* 66 of 60: 110 % -> met (over 100 % is kept, not capped). */
    assert_true(cds_target_attainment(&t60, CDS_VT_PERCENTAGE, 66, 1, &pct));
    assert_true(fabs(pct - 110.0) < 1e-9);
    assert_int_equal(cds_target_state(&t60, pct), CDS_TARGET_MET);
    /* close_within 5: 92 % of the target is behind, 95 % close. */
    cds_target_t t80 = row(80, false, 5);
    assert_true(cds_target_attainment(&t80, CDS_VT_PERCENTAGE, 73.6, 1,
                                      &pct));                  /* 92 % */
    assert_int_equal(cds_target_state(&t80, pct), CDS_TARGET_BEHIND);
    assert_true(cds_target_attainment(&t80, CDS_VT_PERCENTAGE, 76, 1,
                                      &pct));                  /* 95 % */
    assert_int_equal(cds_target_state(&t80, pct), CDS_TARGET_CLOSE);
    /* BOOLEAN, 97 % of communes: 9 yes of 11 = 81.82 %, / 97 = 84.35 %
     * (100 * (100 * 9 / 11) / 97 = 84.3486...) -> behind. */
    cds_target_t t97 = row(97, false, 10);
    assert_true(cds_target_attainment(&t97, CDS_VT_BOOLEAN, 9, 11, &pct));
    assert_true(fabs(pct - 84.3486) < 1e-4);
    assert_int_equal(cds_target_state(&t97, pct), CDS_TARGET_BEHIND);
    /* One commune: yes = 100 % share -> 100 / 97 = 103.09 % met; no = 0. */
    assert_true(cds_target_attainment(&t97, CDS_VT_BOOLEAN, 1, 1, &pct));
    assert_true(fabs(pct - 103.0928) < 1e-4);
    assert_int_equal(cds_target_state(&t97, pct), CDS_TARGET_MET);
    assert_true(cds_target_attainment(&t97, CDS_VT_BOOLEAN, 0, 1, &pct));
    assert_true(pct == 0);
    assert_int_equal(cds_target_state(&t97, pct), CDS_TARGET_BEHIND);
    /* No unit to answer: no attainment. */
    pct = -1;
    assert_false(cds_target_attainment(&t97, CDS_VT_BOOLEAN, 0, 0, &pct));
    assert_true(pct == -1);
    /* Lower is better, target 4: 5 -> 100 * 4 / 5 = 80 % behind; 4 and
     * 2 -> 100 % met (at or under the target is 100 %). */
    cds_target_t low = row(4, true, 10);
    assert_true(cds_target_attainment(&low, CDS_VT_NUMBER, 5, 1, &pct));
    assert_true(fabs(pct - 80.0) < 1e-9);
    assert_int_equal(cds_target_state(&low, pct), CDS_TARGET_BEHIND);
    assert_true(cds_target_attainment(&low, CDS_VT_NUMBER, 2, 1, &pct));
    assert_true(pct == 100.0);
    assert_int_equal(cds_target_state(&low, pct), CDS_TARGET_MET);
    /* Target 0, higher: anything is 100 %. */
    cds_target_t zero = row(0, false, 10);
    assert_true(cds_target_attainment(&zero, CDS_VT_INTEGER, 3, 1, &pct));
    assert_true(pct == 100.0);
    assert_string_equal(cds_target_state_name(CDS_TARGET_MET), "met");
    assert_string_equal(cds_target_state_name(CDS_TARGET_CLOSE), "close");
    assert_string_equal(cds_target_state_name(CDS_TARGET_BEHIND), "behind");
}

static void
test_true_target(void **state)
{
    (void) state;
    char err[512] = "";
    meta_t m = meta();
    write_file(HDR "NTM8_1,under:801,2025,true,,,QĐ 318\n");
    cds_targets_t *t = cds_targets_load(tmppath, m.cat, m.ous, err,
                                        sizeof err);
    if (!t)
        fail_msg("%s", err);
    assert_true(cds_targets_at(t, 0)->target == 100);
    assert_true(cds_targets_at(t, 0)->close_within == 10);   /* default */
    cds_targets_destroy(&t);
    meta_free(&m);
}

static void
test_refusals(void **state)
{
    (void) state;
    expect_load_error(HDR "NOPE,801,2025,60,,,x\n",
                      "2: indicator: not in the catalog (value \"NOPE\")");
    expect_load_error(HDR "HGD_CAPQUANG,999,2025,60,,,x\n",
                      "2: org_unit: not in the org-unit list "
                      "(value \"999\")");
    expect_load_error(HDR "HGD_CAPQUANG,under:998,2025,60,,,x\n",
                      "2: org_unit: not in the org-unit list "
                      "(value \"under:998\")");
    expect_load_error(HDR "HGD_CAPQUANG,801,25,60,,,x\n",
                      "2: year: expected a year YYYY (value \"25\")");
    expect_load_error(HDR "HGD_CAPQUANG,801,2025,-5,,,x\n",
                      "2: target: not a number >= 0 (value \"-5\")");
    expect_load_error(HDR "HGD_CAPQUANG,801,2025,120,,,x\n",
                      "2: target: over 100 for a PERCENTAGE "
                      "(value \"120\")");
    expect_load_error(HDR "HGD_CAPQUANG,801,2025,60,up,,x\n",
                      "2: direction: expected higher or lower "
                      "(value \"up\")");
    expect_load_error(HDR "NTM8_4,801,2025,97,lower,,x\n",
                      "2: direction: a BOOLEAN target is always higher "
                      "(value \"lower\")");
    expect_load_error(HDR "HGD_CAPQUANG,801,2025,60,,150,x\n",
                      "2: close_within: expected 0..100 (percentage "
                      "points of attainment) (value \"150\")");
    expect_load_error(HDR "HGD_CAPQUANG,801,2025,60,,,\n",
                      "2: source_vi: empty, over 512 bytes or not valid "
                      "UTF-8 (name the decision or plan)");
    expect_load_error(HDR "HGD_CAPQUANG,801,2025,60,,,a\n"
                          "HSCV_ONLINE,801,2025,60,,,b\n"
                          "HGD_CAPQUANG,801,2025,70,,,c\n",
                      "4: org_unit: same indicator, org_unit and year as "
                      "line 2 (value \"801\")");
    expect_load_error("indicator,org_unit,year,source_vi\n",
                      "1: target: required column missing from the "
                      "header");
}

/* check: every bad row, one line each, and the count. */
static void
test_check_all(void **state)
{
    (void) state;
    meta_t m = meta();
    write_file(HDR "NOPE,801,2025,60,,,x\n"
                   "HGD_CAPQUANG,801,2025,60,,,ok\n"
                   "HGD_CAPQUANG,801,20x5,60,,,x\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(cds_targets_check(tmppath, m.cat, m.ous, out), 2);
    fclose(out);
    char want[600];
    snprintf(want, sizeof want,
             "%s:2: indicator: not in the catalog (value \"NOPE\")\n"
             "%s:4: year: expected a year YYYY (value \"20x5\")\n",
             tmppath, tmppath);
    assert_string_equal(buf, want);
    free(buf);
    /* A bad row, then a quote never closed: both said, the second ends
     * the reading. */
    write_file(HDR "NOPE,801,2025,60,,,x\n"
                   "HGD_CAPQUANG,801,2025,60,,,\"open\n");
    out = open_memstream(&buf, &len);
    assert_int_equal(cds_targets_check(tmppath, m.cat, m.ous, out), 2);
    fclose(out);
    assert_non_null(strstr(buf, ":2: indicator: not in the catalog"));
    assert_non_null(strstr(buf, ":3: "));
    free(buf);
    meta_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_deploy),
        cmocka_unit_test(test_year_of_period),
        cmocka_unit_test(test_find_precedence),
        cmocka_unit_test(test_attainment_and_state),
        cmocka_unit_test(test_true_target),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_check_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
