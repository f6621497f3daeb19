/*  Unit tests for cds_orgunit: the shipped deploy/orgunits.csv, subtree
 *  membership, and exact messages for cycles, missing parents and bad
 *  fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_orgunit.h"
#include "cds_period.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char tmppath[128];

static const char *
deploy_orgunits(void)
{
    static char path[1024];
    if (access("deploy/orgunits.csv", R_OK) == 0)
        return "deploy/orgunits.csv";
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/");
    if (cut)
        strcpy(cut, "deploy/orgunits.csv");
    return path;
}

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_orgunit_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmppath, sizeof tmppath, "%s/ou.csv", tmpdir);
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
expect_load_error(const char *text, const char *want)
{
    char err[512] = "", full[600];
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    cds_orgunits_t *ou = cds_orgunits_load(tmppath, err, sizeof err);
    assert_null(ou);
    snprintf(full, sizeof full, "%s:%s", tmppath, want);
    assert_string_equal(err, full);
}

#define HDR "code,name,parent,valid_from,valid_to\n"

static void
test_load_deploy(void **state)
{
    (void) state;
    char err[512] = "";
    cds_orgunits_t *ou = cds_orgunits_load(deploy_orgunits(), err,
                                           sizeof err);
    if (!ou)
        fail_msg("%s", err);
    assert_int_equal(cds_orgunits_size(ou), 19);
    const cds_orgunit_t *vn = cds_orgunits_at(ou, 0);
    assert_string_equal(vn->code, "VN");
    assert_string_equal(vn->name, "Việt Nam");
    assert_null(vn->parent);
    assert_int_equal(vn->depth, 0);
    assert_int_equal(vn->valid_from, INT32_MIN);
    assert_int_equal(vn->valid_to, INT32_MAX);
    assert_null(cds_orgunits_at(ou, 19));

    const cds_orgunit_t *dt = cds_orgunits_find(ou, "27898");
    assert_non_null(dt);
    assert_string_equal(dt->name, "Thị trấn Đông Thành");
    assert_string_equal(dt->parent, "801");
    assert_int_equal(dt->depth, 3);
    assert_int_equal(dt->valid_from, INT32_MIN);
    assert_int_equal(dt->valid_to, cds_day_from_ymd(2025, 6, 30));
    const cds_orgunit_t *ndt = cds_orgunits_find(ou, "27898-2025");
    assert_non_null(ndt);
    assert_string_equal(ndt->name, "Xã Đông Thành");
    assert_int_equal(ndt->depth, 2);
    assert_int_equal(ndt->valid_from, cds_day_from_ymd(2025, 7, 1));
    assert_int_equal(ndt->valid_to, INT32_MAX);
    assert_string_equal(cds_orgunits_find(ou, "801")->name, "Huyện Đức Huệ");
    assert_string_equal(cds_orgunits_find(ou, "27922")->name,
                        "Xã Bình Hòa Hưng");
    assert_null(cds_orgunits_find(ou, "999"));
    assert_null(cds_orgunits_find(ou, NULL));

    /* eleven 2023 units under Đức Huệ */
    size_t under = 0;
    for (size_t i = 0; i < cds_orgunits_size(ou); i++) {
        const cds_orgunit_t *u = cds_orgunits_at(ou, i);
        assert_ptr_equal(cds_orgunits_find(ou, u->code), u);
        if (u->parent && strcmp(u->parent, "801") == 0)
            under++;
    }
    assert_int_equal(under, 11);

    assert_true(cds_orgunits_within(ou, "27898", "801"));
    assert_true(cds_orgunits_within(ou, "27928", "80"));
    assert_true(cds_orgunits_within(ou, "27898", "VN"));
    assert_true(cds_orgunits_within(ou, "801", "801"));
    assert_true(cds_orgunits_within(ou, "27898-2025", "80-2025"));
    assert_false(cds_orgunits_within(ou, "801", "27898"));
    assert_false(cds_orgunits_within(ou, "27898-2025", "801"));
    assert_false(cds_orgunits_within(ou, "27898-2025", "80"));
    assert_false(cds_orgunits_within(ou, "27898", "80-2025"));
    assert_false(cds_orgunits_within(ou, "nope", "VN"));
    assert_false(cds_orgunits_within(ou, "VN", "nope"));
    cds_orgunits_destroy(&ou);
    assert_null(ou);
    cds_orgunits_destroy(&ou);
}

static void
test_deep_tree_any_depth(void **state)
{
    (void) state;
    char err[512] = "";
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(fp);
    fputs("name,code,parent\n", fp);  /* column order free; no dates */
    fputs("Root,L0,\n", fp);
    for (int i = 1; i < 8; i++)
        fprintf(fp, "\"Level, %d\",L%d,L%d\n", i, i, i - 1);
    fclose(fp);
    cds_orgunits_t *ou = cds_orgunits_load(tmppath, err, sizeof err);
    if (!ou)
        fail_msg("%s", err);
    assert_int_equal(cds_orgunits_find(ou, "L7")->depth, 7);
    assert_string_equal(cds_orgunits_find(ou, "L3")->name, "Level, 3");
    assert_true(cds_orgunits_within(ou, "L7", "L0"));
    assert_true(cds_orgunits_within(ou, "L7", "L6"));
    assert_false(cds_orgunits_within(ou, "L6", "L7"));
    cds_orgunits_destroy(&ou);
}

static void
test_bad_files(void **state)
{
    (void) state;
    expect_load_error(HDR "R,Root,,,\nA,A,C,,\nB,B,A,,\nC,C,B,,\n",
                      "3: parent: cycle: the unit is its own ancestor "
                      "(value \"C\")");
    expect_load_error(HDR "R,Root,,,\nD,Below a cycle,A,,\nA,A,B,,\n"
                      "B,B,A,,\n",
                      "4: parent: cycle: the unit is its own ancestor "
                      "(value \"B\")");
    expect_load_error(HDR "X,Self,X,,\n",
                      "2: parent: cycle: the unit is its own ancestor "
                      "(value \"X\")");
    expect_load_error(HDR "80,Tỉnh,,,\n\"27898\",\"Thị trấn\nĐông Thành\",99,,\n",
                      "3: name: empty, too long, not valid UTF-8 or holds "
                      "control characters");
    expect_load_error(HDR "80,Tỉnh,,,\n801,\"Huyện, Đức Huệ\",80,,\n"
                      "27898,Xã,99,,\n",
                      "4: parent: no org unit with this code in the file "
                      "(value \"99\")");
    expect_load_error(HDR "80,Tỉnh,,,\n801,Huyện,80,,\n80,Lại,,,\n",
                      "4: code: duplicate code, first defined on line 2 "
                      "(value \"80\")");
    expect_load_error(HDR "A B,Tỉnh,,,\n",
                      "2: code: only A-Z, a-z, 0-9, '_' and '-', at most 64 "
                      "(value \"A B\")");
    expect_load_error(HDR ",Tỉnh,,,\n", "2: code: empty");
    expect_load_error(HDR "A,Tỉnh,,2025-13-01,\n",
                      "2: valid_from: not a date YYYY-MM-DD "
                      "(value \"2025-13-01\")");
    expect_load_error(HDR "A,Tỉnh,,2025-07-01,2025-06-30\n",
                      "2: valid_to: before valid_from (value \"2025-06-30\")");
    expect_load_error("code,parent\nA,\n",
                      "1: name: required column missing from the header");
    expect_load_error(HDR, "1: code: the file defines no org unit");
    expect_load_error(HDR "A,Tỉnh,,,,\n", "2: 6 fields, but the header has 5");
    char err[512];
    assert_null(cds_orgunits_load("/nonexistent/ou.csv", err, sizeof err));
    assert_string_equal(err, "/nonexistent/ou.csv: No such file or directory");
}

/* cds_orgunits_check: every bad row is named, not only the first. */
static void
test_check_reports_every_row(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    FILE *fp = fopen(tmppath, "wb");
    assert_non_null(out);
    assert_non_null(fp);
    fputs("code,name,parent,valid_from,valid_to\n"
          "VN,Viet Nam,,,\n"
          "bad code!,x,VN,,\n"
          "A1,,VN,,\n"
          "A2,ok,VN,,\n", fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(cds_orgunits_check(tmppath, out), 2);
    fclose(out);
    assert_non_null(strstr(text, ":3: code:"));
    assert_non_null(strstr(text, ":4: name:"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_deploy),
        cmocka_unit_test(test_deep_tree_any_depth),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_check_reports_every_row),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
