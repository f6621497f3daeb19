/*  Unit tests for cds_rule: the expression grammar (precedence, #{code},
 *  errors with columns), every operator on hand-chosen values, the
 *  missing-value strategy, the loader's messages and the shipped
 *  deploy/rules.csv against the shipped catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_rule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Values: HGD_TONG 1600, HGD_CAPQUANG_SO 2434 (the 152.1 % case:
 * 2434 / 1600 = 1.52125), CBCC_TONG 20; everything else missing. */
static bool
look(void *ctx, const char *code, double *out)
{
    (void) ctx;
    if (strcmp(code, "HGD_TONG") == 0)
        *out = 1600;
    else if (strcmp(code, "HGD_CAPQUANG_SO") == 0)
        *out = 2434;
    else if (strcmp(code, "CBCC_TONG") == 0)
        *out = 20;
    else
        return false;
    return true;
}

static double
ev(const char *text)
{
    char err[256];
    cds_expr_t *e = cds_expr_parse(text, err, sizeof err);
    if (!e)
        fail_msg("%s: %s", text, err);
    double v = NAN;
    if (!cds_expr_eval(e, look, NULL, &v))
        v = NAN;
    cds_expr_destroy(&e);
    return v;
}

static void
test_expr_values(void **state)
{
    (void) state;
    assert_true(ev("1 + 2 * 3") == 7);            /* * before + */
    assert_true(ev("(1 + 2) * 3") == 9);
    assert_true(ev("10 - 4 - 3") == 3);           /* left to right */
    assert_true(ev("12 / 4 / 3") == 1);
    assert_true(ev("-2 * -3") == 6);
    assert_true(ev("1.5e2") == 150);
    /* 2434 * 100 / 1600 = 152.125 */
    assert_true(ev("HGD_CAPQUANG_SO * 100 / HGD_TONG") == 152.125);
    assert_true(ev("#{HGD_TONG} - #{CBCC_TONG}") == 1580);
    assert_true(isnan(ev("HGD_TONG + THON_TONG")));  /* missing operand */
    assert_true(isnan(ev("HGD_TONG / (CBCC_TONG - 20)"))); /* / 0 */
}

static void
expect_error(const char *text, const char *msg)
{
    char err[256] = "";
    cds_expr_t *e = cds_expr_parse(text, err, sizeof err);
    assert_null(e);
    assert_string_equal(err, msg);
}

static void
test_expr_errors(void **state)
{
    (void) state;
    expect_error("", "column 1: expression ends too early");
    expect_error("1 +", "column 4: expression ends too early");
    expect_error("(1 + 2", "column 7: ')' expected");
    expect_error("1 2", "column 3: operator expected");
    expect_error("1)", "column 2: ')' without '('");
    expect_error("#{HGD_TONG", "column 11: '}' expected after the "
                 "indicator code");
    expect_error("hgd_tong", "column 1: number, indicator code or '(' "
                 "expected");
    expect_error("0x10", "column 1: not a decimal number");
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    /* 32 levels allowed: the 33rd '(' is at column 33 */
    expect_error(deep, "column 33: expression nested too deeply");
    cds_expr_t *e = cds_expr_parse("A + B * A", deep, sizeof deep);
    assert_non_null(e);
    assert_int_equal(cds_expr_ncodes(e), 2);
    assert_string_equal(cds_expr_code(e, 0), "A");
    assert_string_equal(cds_expr_code(e, 1), "B");
    cds_expr_destroy(&e);
}

static char tmpdir[64], tmppath[128];

static void
write_file(const char *text)
{
    FILE *fp = fopen(tmppath, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static cds_rules_t *
load_text(const char *text, char *err, size_t errlen)
{
    write_file(text);
    return cds_rules_load(tmppath, NULL, err, errlen);
}

/* One rule "R,x,<left>,<op>,<right>" evaluated against look(). */
static cds_rule_outcome_t
outcome(const char *left, const char *op, const char *right)
{
    char text[512], err[512];
    snprintf(text, sizeof text, "code,name_vi,left,operator,right\n"
             "R,mô tả,%s,%s,%s\n", left, op, right);
    cds_rules_t *rs = load_text(text, err, sizeof err);
    if (!rs)
        fail_msg("%s", err);
    cds_rule_outcome_t o = cds_rule_eval(cds_rules_at(rs, 0), look, NULL,
                                         NULL, NULL);
    cds_rules_destroy(&rs);
    return o;
}

static void
test_operators(void **state)
{
    (void) state;
    /* 2434 <= 1600 is false: the 152.1 % case violates the shipped rule */
    assert_int_equal(outcome("HGD_CAPQUANG_SO", "<=", "HGD_TONG"),
                     CDS_RULE_FAIL);
    assert_int_equal(outcome("HGD_TONG", "<=", "HGD_CAPQUANG_SO"),
                     CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", "<", "1600"), CDS_RULE_FAIL);
    assert_int_equal(outcome("HGD_TONG", "<", "1601"), CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", ">", "1600"), CDS_RULE_FAIL);
    assert_int_equal(outcome("HGD_TONG", ">=", "1600"), CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", ">=", "1600.5"), CDS_RULE_FAIL);
    /* 20 * 80 = 1600 */
    assert_int_equal(outcome("HGD_TONG", "==", "CBCC_TONG * 80"),
                     CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", "==", "1599"), CDS_RULE_FAIL);
    assert_int_equal(outcome("HGD_TONG", "!=", "1599"), CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", "!=", "#{CBCC_TONG} * 80"),
                     CDS_RULE_FAIL);
    /* a missing side skips a comparison */
    assert_int_equal(outcome("THON_BRDD_SO", "<=", "THON_TONG"),
                     CDS_RULE_SKIP);
    /* pairs: both present / one missing / both missing */
    assert_int_equal(outcome("HGD_TONG", "compulsory_pair", "CBCC_TONG"),
                     CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", "compulsory_pair", "THON_TONG"),
                     CDS_RULE_FAIL);
    assert_int_equal(outcome("THON_BRDD_SO", "compulsory_pair",
                             "THON_TONG"), CDS_RULE_PASS);
    assert_int_equal(outcome("HGD_TONG", "exclusive_pair", "CBCC_TONG"),
                     CDS_RULE_FAIL);
    assert_int_equal(outcome("HGD_TONG", "exclusive_pair", "THON_TONG"),
                     CDS_RULE_PASS);
}

static void
expect_load_error(const char *text, const char *tail)
{
    char err[512] = "", want[512];
    cds_rules_t *rs = load_text(text, err, sizeof err);
    assert_null(rs);
    snprintf(want, sizeof want, "%s:%s", tmppath, tail);
    assert_string_equal(err, want);
}

static void
test_load_errors(void **state)
{
    (void) state;
    const char *h = "code,name_vi,left,operator,right,severity\n";
    char t[512];
    snprintf(t, sizeof t, "%sR1,a,A,<=,B,\nR1,b,A,<,B,\n", h);
    expect_load_error(t, "3: code: defined twice (first on line 2) "
                      "(value \"R1\")");
    snprintf(t, sizeof t, "%sR1,a,A,=<,B,\n", h);
    expect_load_error(t, "2: operator: not one of == != > >= < <= "
                      "compulsory_pair exclusive_pair (value \"=<\")");
    snprintf(t, sizeof t, "%sR1,a,A +,<=,B,\n", h);
    expect_load_error(t, "2: left: column 4: expression ends too early "
                      "(value \"A +\")");
    snprintf(t, sizeof t, "%sR1,a,A,<=,B,fatal\n", h);
    expect_load_error(t, "2: severity: not error or warning "
                      "(value \"fatal\")");
    expect_load_error("code,name_vi,left,right\n", "1: operator: required "
                      "column missing from the header");
    /* --check-config lists every bad row, not only the first */
    snprintf(t, sizeof t, "%sR1,a,A,=<,B,\nR2,,A,<,B,\nR3,c,A,<,B,\n", h);
    write_file(t);
    FILE *out = tmpfile();
    assert_int_equal(cds_rules_check(tmppath, NULL, out), 2);
    fclose(out);
}

static void
test_shipped(void **state)
{
    (void) state;
    char err[512] = "", path[1024];
    const char *dir = access("deploy/rules.csv", R_OK) == 0 ? "deploy"
                      : NULL;
    if (!dir) {
        snprintf(path, sizeof path, "%s", __FILE__);
        char *cut = strstr(path, "tests/unit/");
        assert_non_null(cut);
        strcpy(cut, "deploy");
        dir = path;
    }
    char cat[1100], rules[1100];
    snprintf(cat, sizeof cat, "%s/catalog.csv", dir);
    snprintf(rules, sizeof rules, "%s/rules.csv", dir);
    cds_catalog_t *c = cds_catalog_load(cat, err, sizeof err);
    assert_non_null(c);
    cds_rules_t *rs = cds_rules_load(rules, c, err, sizeof err);
    if (!rs)
        fail_msg("%s", err);
    const cds_rule_t *r = NULL;
    for (size_t i = 0; i < cds_rules_size(rs); i++)
        if (strcmp(cds_rules_at(rs, i)->code, "HGD_CAPQUANG_LE_TONG") == 0)
            r = cds_rules_at(rs, i);
    assert_non_null(r);
    double l, rv;
    assert_int_equal(cds_rule_eval(r, look, NULL, &l, &rv), CDS_RULE_FAIL);
    assert_true(l == 2434 && rv == 1600);
    /* a code not in the catalog is refused when a catalog is given */
    write_file("code,name_vi,left,operator,right\nR,a,NOPE,<=,HGD_TONG\n");
    assert_null(cds_rules_load(tmppath, c, err, sizeof err));
    assert_non_null(strstr(err, ":2: left: names an indicator not in the "
                           "catalog (value \"NOPE\")"));
    cds_rules_destroy(&rs);
    cds_catalog_destroy(&c);
}

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_rule_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmppath, sizeof tmppath, "%s/rules.csv", tmpdir);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unlink(tmppath);
    rmdir(tmpdir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_values),
        cmocka_unit_test(test_expr_errors),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
