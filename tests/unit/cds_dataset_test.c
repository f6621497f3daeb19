/*  Unit tests for cds_dataset: the shipped deploy/datasets.csv against the
 *  shipped catalog and org units (cells counted by hand from the file),
 *  lifetimes at both ends, and exact "path:line: column: problem"
 *  messages for bad rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char tmppath[128];
static cds_catalog_t *cat;
static cds_orgunits_t *ous;

static const char *
deploy(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "deploy/%s", name);
    if (access(path, R_OK) == 0)
        return path;
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/");
    if (cut)
        snprintf(cut, sizeof path - (size_t) (cut - path), "deploy/%s",
                 name);
    return path;
}

static int
setup(void **state)
{
    (void) state;
    char err[512];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_dataset_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmppath, sizeof tmppath, "%s/ds.csv", tmpdir);
    cat = cds_catalog_load(deploy("catalog.csv"), err, sizeof err);
    ous = cds_orgunits_load(deploy("orgunits.csv"), err, sizeof err);
    return cat && ous ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    cds_catalog_destroy(&cat);
    cds_orgunits_destroy(&ous);
    unlink(tmppath);
    return rmdir(tmpdir);
}

static size_t
cells(const cds_datasets_t *ds, const char *unit, const char *period,
      int *deadline)
{
    cds_period_t p;
    cds_dataset_cell_t out[64];
    assert_int_equal(cds_period_parse(period, &p), 0);
    size_t n = cds_datasets_cells(ds, unit, &p, out, 64);
    if (n && deadline)
        *deadline = out[0].deadline_days;
    return n;
}

static void
test_deploy_cells(void **state)
{
    (void) state;
    char err[512] = "";
    cds_datasets_t *ds = cds_datasets_load(deploy("datasets.csv"), cat, ous,
                                           err, sizeof err);
    if (!ds)
        fail_msg("%s", err);
    assert_int_equal(cds_datasets_size(ds), 3);
    int dl = 0;
    /* CDS_XA_QUY: HGD_TONG HGD_CAPQUANG_SO HGD_CAPQUANG TO_CNSCD
     * TO_CNSCD_TV = 5 cells, deadline 15 days */
    assert_int_equal(cells(ds, "27901", "2025Q2", &dl), 5);
    assert_int_equal(dl, 15);
    /* 27901 valid until 2025-06-30: owes nothing in 2025Q3 */
    assert_int_equal(cells(ds, "27901", "2025Q3", NULL), 0);
    /* 27907-2025 valid from 2025-07-01: nothing in 2025Q2, 5 in 2025Q3 */
    assert_int_equal(cells(ds, "27907-2025", "2025Q2", NULL), 0);
    assert_int_equal(cells(ds, "27907-2025", "2025Q3", NULL), 5);
    /* a year that straddles the reform: both exist on some day of 2025,
     * both owe NTM8_1..NTM8_4 = 4 */
    assert_int_equal(cells(ds, "27901", "2025", &dl), 4);
    assert_int_equal(dl, 31);
    assert_int_equal(cells(ds, "27907-2025", "2025", NULL), 4);
    /* the district is not a leaf: in no data set */
    assert_int_equal(cells(ds, "801", "2025Q2", NULL), 0);
    /* monthly DVC_THANG: 3 cells; weekly: no data set */
    assert_int_equal(cells(ds, "27898", "202503", NULL), 3);
    assert_int_equal(cells(ds, "27898", "2025W10", NULL), 0);
    cds_datasets_destroy(&ds);
}

static void
test_deploy_expects(void **state)
{
    (void) state;
    char err[512] = "", why[512] = "";
    cds_period_t p;
    cds_datasets_t *ds = cds_datasets_load(deploy("datasets.csv"), cat, ous,
                                           err, sizeof err);
    assert_non_null(ds);
    assert_int_equal(cds_period_parse("2025Q2", &p), 0);
    assert_true(cds_datasets_expects(ds, "27901", "TO_CNSCD", &p, why,
                                     sizeof why));
    assert_false(cds_datasets_expects(ds, "27901", "HSCV_TONG", &p, why,
                                      sizeof why));
    char want[600];
    snprintf(want, sizeof want, "indicator \"HSCV_TONG\" is in no data set "
             "(%s)", deploy("datasets.csv"));
    assert_string_equal(why, want);
    assert_int_equal(cds_period_parse("2024", &p), 0);
    assert_false(cds_datasets_expects(ds, "801", "NTM8_4", &p, why,
                                      sizeof why));
    snprintf(want, sizeof want, "indicator \"NTM8_4\" is not in a data set "
             "of org unit \"801\" for this period (%s:2: data set NTM_TC8, "
             "Yearly, lists other org units)", deploy("datasets.csv"));
    assert_string_equal(why, want);
    cds_datasets_destroy(&ds);
}

static void
expect_error(const char *text, bool with_tree, const char *want)
{
    char err[512] = "", full[700];
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    cds_datasets_t *ds = cds_datasets_load(tmppath, cat,
                                           with_tree ? ous : NULL, err,
                                           sizeof err);
    assert_null(ds);
    snprintf(full, sizeof full, "%s:%s", tmppath, want);
    assert_string_equal(err, full);
    fp = fopen("/dev/null", "w");
    assert_int_equal(cds_datasets_check(tmppath, cat, with_tree ? ous : NULL,
                                        fp), 1);
    fclose(fp);
}

#define HDR "code,name_vi,period_type,deadline_days,indicators,org_units\n"

static void
test_errors(void **state)
{
    (void) state;
    expect_error(HDR "A,Tên,Quartely,,TO_CNSCD,27901\n", true,
                 "2: period_type: not a DHIS2 period type (Yearly, "
                 "Quarterly, Monthly, ...) (value \"Quartely\")");
    expect_error(HDR "A,Tên,Quarterly,,TO_CNSCD XYZ,27901\n", true,
                 "2: indicators: not in the catalog (value \"XYZ\")");
    expect_error(HDR "A,Tên,Yearly,,TO_CNSCD,27901\n", true,
                 "2: indicators: the catalog gives it period type "
                 "Quarterly, the data set is Yearly (value \"TO_CNSCD\")");
    expect_error(HDR "A,Tên,Quarterly,,TO_CNSCD,99999\n", true,
                 "2: org_units: no org unit with this code in the org-unit "
                 "file (value \"99999\")");
    expect_error(HDR "A,Tên,Quarterly,,TO_CNSCD,leaves:801\n", false,
                 "2: org_units: needs the org-unit file (orgunits) "
                 "(value \"leaves:801\")");
    expect_error(HDR "A,Tên,Quarterly,,TO_CNSCD,tree:801\n", true,
                 "2: org_units: not CODE, under:CODE, leaves:CODE or "
                 "level:N (value \"tree:801\")");
    expect_error(HDR "A,Tên,Quarterly,x,TO_CNSCD,27901\n", true,
                 "2: deadline_days: not a whole number of days 0..3660 "
                 "(value \"x\")");
    expect_error(HDR "A,Tên,Quarterly,,TO_CNSCD,27901\n"
                 "A,Tên,Quarterly,,HGD_TONG,27901\n", true,
                 "3: code: duplicate code, first defined on line 2 "
                 "(value \"A\")");
    expect_error(HDR "A,Tên,Quarterly,,,27901\n", true,
                 "2: indicators: empty");
    expect_error("code,name_vi,period_type,indicators\n", true,
                 "1: org_units: required column missing from the header");
}

static void
test_plain_codes_without_tree(void **state)
{
    (void) state;
    char err[512] = "";
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(fp);
    fputs(HDR "A,Tên,Quarterly,,TO_CNSCD HGD_TONG,27901 27904\n"
          "B,Tên,Quarterly,7,HGD_TONG TO_CNSCD_TV,27904\n", fp);
    assert_int_equal(fclose(fp), 0);
    cds_datasets_t *ds = cds_datasets_load(tmppath, NULL, NULL, err,
                                           sizeof err);
    if (!ds)
        fail_msg("%s", err);
    int dl = 0;
    /* 27904: A's 2 + B's TO_CNSCD_TV (HGD_TONG once) = 3; lifetime
     * unknown without the tree: owed in any quarter */
    assert_int_equal(cells(ds, "27904", "2026Q1", &dl), 3);
    assert_int_equal(dl, -1);
    assert_int_equal(cells(ds, "27901", "2025Q1", NULL), 2);
    assert_int_equal(cells(ds, "27907", "2025Q1", NULL), 0);
    cds_datasets_destroy(&ds);
}

static void
test_lifetime_rule(void **state)
{
    (void) state;
    int32_t from = cds_day_from_ymd(2025, 7, 1);
    int32_t to = cds_day_from_ymd(2025, 6, 30);
    cds_period_t q2, q3;
    assert_int_equal(cds_period_parse("2025Q2", &q2), 0);
    assert_int_equal(cds_period_parse("2025Q3", &q3), 0);
    assert_true(cds_orgunit_open_in(INT32_MIN, to, q2.start, q2.end));
    assert_false(cds_orgunit_open_in(INT32_MIN, to, q3.start, q3.end));
    assert_false(cds_orgunit_open_in(from, INT32_MAX, q2.start, q2.end));
    assert_true(cds_orgunit_open_in(from, INT32_MAX, q3.start, q3.end));
    char buf[200];
    assert_string_equal(cds_orgunit_closed_msg("27901", "2025Q3", INT32_MIN,
                                               to, buf, sizeof buf),
                        "org unit \"27901\" does not exist in 2025Q3 (valid "
                        "until 2025-06-30)");
    assert_string_equal(cds_orgunit_closed_msg("27907-2025", "2025Q2", from,
                                               INT32_MAX, buf, sizeof buf),
                        "org unit \"27907-2025\" does not exist in 2025Q2 "
                        "(valid from 2025-07-01)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_cells),
        cmocka_unit_test(test_deploy_expects),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_plain_codes_without_tree),
        cmocka_unit_test(test_lifetime_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
