/*  Unit tests for cds_catalog: the shipped deploy/catalog.csv, exact
 *  "path:line: column: problem" messages for bad catalogs, canonical
 *  values of every type, and update checks with their reason codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_catalog.h"
#include "cds_err.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char tmppath[128];

/* deploy/catalog.csv of this source tree, found from __FILE__ when the
 * test does not run from the top directory. */
static const char *
deploy_catalog(void)
{
    static char path[1024];
    if (access("deploy/catalog.csv", R_OK) == 0)
        return "deploy/catalog.csv";
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/");
    if (cut)
        strcpy(cut, "deploy/catalog.csv");
    return path;
}

static int
setup(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cds_catalog_test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmppath, sizeof tmppath, "%s/cat.csv", tmpdir);
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

#define HDR "code,name_vi,name_en,unit,value_type,aggregation,period_type," \
            "min,max,numerator,denominator,source\n"

/* Loading text fails with "<path>:" followed by want. */
static void
expect_load_error(const char *text, const char *want)
{
    char err[512] = "", full[600];
    write_file(text);
    cds_catalog_t *cat = cds_catalog_load(tmppath, err, sizeof err);
    assert_null(cat);
    snprintf(full, sizeof full, "%s:%s", tmppath, want);
    assert_string_equal(err, full);
}

static void
test_load_deploy_catalog(void **state)
{
    (void) state;
    char err[512] = "";
    const char *path = deploy_catalog();
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    if (!cat)
        fail_msg("%s", err);
    assert_int_equal(cds_catalog_size(cat), 41);
    assert_string_equal(cds_catalog_at(cat, 0)->code, "NTM8_1");
    assert_null(cds_catalog_at(cat, cds_catalog_size(cat)));

    /* version = hex of the first 16 bytes of BLAKE2b-256(file) */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    unsigned char h[32];
    char hex[33];
    crypto_generichash(h, sizeof h, buf, n, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, 16);
    assert_string_equal(cds_catalog_version(cat), hex);

    const cds_indicator_t *r = cds_catalog_find(cat, "HGD_CAPQUANG");
    assert_non_null(r);
    assert_int_equal(r->type, CDS_VT_PERCENTAGE);
    assert_int_equal(r->agg, CDS_AGG_RATIO);
    assert_string_equal(r->numerator, "HGD_CAPQUANG_SO");
    assert_string_equal(r->denominator, "HGD_TONG");
    assert_true(r->has_min && r->has_max);
    assert_true(r->min == 0 && r->max == 100);
    assert_string_equal(r->unit, "%");
    const cds_indicator_t *b = cds_catalog_find(cat, "NTM8_4");
    assert_non_null(b);
    assert_int_equal(b->type, CDS_VT_BOOLEAN);
    assert_int_equal(b->agg, CDS_AGG_COUNT_TRUE);
    assert_true(b->has_period_type);
    assert_int_equal(b->period_type, CDS_PT_YEARLY);
    assert_null(b->numerator);
    const cds_indicator_t *t = cds_catalog_find(cat, "TO_CNSCD_TV");
    assert_non_null(t);
    assert_int_equal(t->type, CDS_VT_INTEGER);
    assert_int_equal(t->agg, CDS_AGG_SUM);
    assert_true(t->has_min && t->min == 0 && !t->has_max);
    assert_string_equal(cds_catalog_find(cat, "HGD_TONG")->name_vi,
                        "Tổng số hộ gia đình");
    assert_null(cds_catalog_find(cat, "NOPE"));
    assert_null(cds_catalog_find(cat, ""));
    assert_null(cds_catalog_find(cat, "hgd_tong"));

    /* Modelling rules of the shipped catalog: no percentage is summed or
     * averaged, every find() works, every RATIO names two INTEGER SUM
     * counts of its own period type. */
    for (size_t i = 0; i < cds_catalog_size(cat); i++) {
        const cds_indicator_t *ind = cds_catalog_at(cat, i);
        assert_ptr_equal(cds_catalog_find(cat, ind->code), ind);
        assert_true(ind->has_period_type);
        if (ind->type == CDS_VT_PERCENTAGE)
            assert_int_equal(ind->agg, CDS_AGG_RATIO);
        if (ind->type == CDS_VT_BOOLEAN)
            assert_int_equal(ind->agg, CDS_AGG_COUNT_TRUE);
        if (ind->agg != CDS_AGG_RATIO)
            continue;
        const cds_indicator_t *nu = cds_catalog_find(cat, ind->numerator);
        const cds_indicator_t *de = cds_catalog_find(cat, ind->denominator);
        assert_non_null(nu);
        assert_non_null(de);
        assert_int_equal(nu->agg, CDS_AGG_SUM);
        assert_int_equal(de->agg, CDS_AGG_SUM);
        assert_int_equal(nu->period_type, ind->period_type);
        assert_int_equal(de->period_type, ind->period_type);
    }
    cds_catalog_destroy(&cat);
    assert_null(cat);
    cds_catalog_destroy(&cat);
}

static void
test_bad_catalogs(void **state)
{
    (void) state;
    expect_load_error(HDR "A,Tên,,,INTEGER,SUM,,,,,,\nhgd,Tên,,,INTEGER,,,,,,,\n",
                      "3: code: only A-Z, 0-9 and '_' are allowed "
                      "(value \"hgd\")");
    expect_load_error(HDR "A,Tên,,,INTEGER,,,,,,,\nB,x,,,TEXT,,,,,,,\n"
                      "A,Tên,,,INTEGER,,,,,,,\n",
                      "4: code: duplicate code, first defined on line 2 "
                      "(value \"A\")");
    expect_load_error(HDR "A,Tên,,,INT,,,,,,,\n",
                      "2: value_type: unknown value type (INTEGER, NUMBER, "
                      "PERCENTAGE, BOOLEAN or TEXT) (value \"INT\")");
    expect_load_error(HDR "A,Tên,,,INTEGER,SUM,,5,1,,,\n",
                      "2: max: smaller than min (value \"1\")");
    expect_load_error(HDR "A,Tên,,,NUMBER,SUM,,\"0,5\",,,,\n",
                      "2: min: not a number (use '.' as the decimal "
                      "separator) (value \"0,5\")");
    expect_load_error(HDR "A,Tên,,,INTEGER,SUM,Annual,,,,,\n",
                      "2: period_type: unknown period type (a DHIS2 name: "
                      "Yearly, SixMonthly, Quarterly, Monthly, Weekly, "
                      "Daily, FinancialApril, BiWeekly, ...: docs/ADMIN.md) "
                      "(value \"Annual\")");
    expect_load_error(HDR "A,Tên,,,INTEGER,MEDIAN,,,,,,\n",
                      "2: aggregation: unknown aggregation (SUM, AVERAGE, "
                      "MIN, MAX, NONE, COUNT_TRUE or RATIO) "
                      "(value \"MEDIAN\")");
    expect_load_error(HDR "P,Tỷ lệ,,%,PERCENTAGE,AVERAGE,,,,,,\n",
                      "2: aggregation: percentages are never summed or "
                      "averaged: use RATIO with numerator and denominator "
                      "counts (value \"AVERAGE\")");
    expect_load_error(HDR "P,Tỷ lệ,,%,PERCENTAGE,RATIO,,,,N,,\n",
                      "2: denominator: a RATIO needs a denominator "
                      "indicator code");
    expect_load_error(HDR "P,Tỷ lệ,,%,PERCENTAGE,RATIO,Yearly,,,N,D,\n"
                      "N,Số,,,NUMBER,SUM,Yearly,,,,,\n"
                      "D,Tổng,,,INTEGER,SUM,Yearly,,,,,\n",
                      "2: numerator: must name an INTEGER indicator "
                      "(value \"N\")");
    expect_load_error(HDR "N,Số,,,INTEGER,SUM,Yearly,,,,,\n"
                      "P,Tỷ lệ,,%,PERCENTAGE,RATIO,Yearly,,,N,D,\n",
                      "3: denominator: no indicator with this code in the "
                      "catalog (value \"D\")");
    expect_load_error(HDR "N,Số,,,INTEGER,SUM,Yearly,,,,,\n"
                      "D,Tổng,,,INTEGER,SUM,Monthly,,,,,\n"
                      "P,Tỷ lệ,,%,PERCENTAGE,RATIO,Yearly,,,N,D,\n",
                      "4: denominator: must have the same period_type as "
                      "the RATIO (value \"D\")");
    expect_load_error(HDR "A,Tên,,,INTEGER,SUM,,,,A,,\n",
                      "2: numerator: only a RATIO has a numerator "
                      "(value \"A\")");
    expect_load_error(HDR "B,Có,,,BOOLEAN,SUM,,,,,,\n",
                      "2: aggregation: a BOOLEAN rolls up with COUNT_TRUE or "
                      "NONE (value \"SUM\")");
    expect_load_error(HDR "B,Có,,,BOOLEAN,COUNT_TRUE,,0,,,,\n",
                      "2: min: bounds apply only to INTEGER, NUMBER and "
                      "PERCENTAGE (value \"0\")");
    expect_load_error(HDR "P,Tỷ lệ,,%,PERCENTAGE,MAX,,,120,,,\n",
                      "2: max: a PERCENTAGE bound lies in 0..100 "
                      "(value \"120\")");
    expect_load_error("code,name_vi\nA,Tên\n",
                      "1: value_type: required column missing from the "
                      "header");
    expect_load_error(HDR "A,X\xC3(,,,INTEGER,,,,,,,\n",
                      "2: name_vi: not valid UTF-8 text or holds control "
                      "characters (value \"X\\xC3(\")");
    expect_load_error(HDR "A,,,,INTEGER,,,,,,,\n", "2: name_vi: empty");
    /* line numbers stay right after a source spanning two lines */
    expect_load_error(HDR "A,Tên,,,INTEGER,,,,,,,\"S1;\nS2\"\n"
                      "B,Tên,,,FLOAT,,,,,,,\n",
                      "4: value_type: unknown value type (INTEGER, NUMBER, "
                      "PERCENTAGE, BOOLEAN or TEXT) (value \"FLOAT\")");
    expect_load_error(HDR, "1: code: the catalog defines no indicator");
    expect_load_error(HDR "A,\"Tên,,,INTEGER,,,,,,,\n",
                      "2: quoted field not closed before end of file");
    expect_load_error("", "1: empty file: a header row is required");

    char err[512], want[600];
    char missing[200];
    snprintf(missing, sizeof missing, "%s/none.csv", tmpdir);
    assert_null(cds_catalog_load(missing, err, sizeof err));
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    assert_string_equal(err, want);
}

static void
test_bom_and_columns(void **state)
{
    (void) state;
    char err[512] = "";
    write_file("\xEF\xBB\xBF" "value_type,code,extra,name_vi,period_type\r\n"
               "INTEGER,A,ignored,Tên,quarter\r\n");
    cds_catalog_t *cat = cds_catalog_load(tmppath, err, sizeof err);
    if (!cat)
        fail_msg("%s", err);
    const cds_indicator_t *a = cds_catalog_find(cat, "A");
    assert_non_null(a);
    assert_int_equal(a->agg, CDS_AGG_NONE);
    assert_int_equal(a->period_type, CDS_PT_QUARTERLY);
    assert_string_equal(a->name_en, "");
    assert_string_equal(a->unit, "");
    assert_false(a->has_min);
    assert_int_equal(strlen(cds_catalog_version(cat)), 32);
    cds_catalog_destroy(&cat);
}

/* ---------------------------------------------------------- values */

static cds_indicator_t
ind_of(cds_value_type_t t)
{
    cds_indicator_t ind = {.code = "X", .name_vi = "x", .name_en = "",
                           .unit = "", .type = t};
    return ind;
}

static void
expect_canon(const cds_indicator_t *ind, const char *in, const char *want,
             double num)
{
    char canon[CDS_MAX_VALUE + 1], err[512] = "";
    double x = -42;
    int rc = cds_value_canonical(ind, in, canon, sizeof canon, &x, err,
                                 sizeof err);
    if (rc != CDS_OK)
        fail_msg("\"%s\" rejected: %s", in, err);
    assert_string_equal(canon, want);
    assert_true(x == num);
}

static void
expect_reject(const cds_indicator_t *ind, const char *in, int code,
              const char *msg)
{
    char canon[CDS_MAX_VALUE + 1], err[512] = "";
    double x;
    int rc = cds_value_canonical(ind, in, canon, sizeof canon, &x, err,
                                 sizeof err);
    if (rc != code)
        fail_msg("\"%s\": rc %d, want %d", in, rc, code);
    if (msg)
        assert_string_equal(err, msg);
    else
        assert_true(strstr(err, "value \"") == err);
}

static void
test_integer(void **state)
{
    (void) state;
    cds_indicator_t i = ind_of(CDS_VT_INTEGER);
    expect_canon(&i, "0", "0", 0);
    expect_canon(&i, "-12", "-12", -12);
    expect_canon(&i, "007", "7", 7);
    expect_canon(&i, "+5", "5", 5);
    expect_canon(&i, "-0", "0", 0);
    expect_canon(&i, "9223372036854775807", "9223372036854775807",
                 9223372036854775807.0);
    expect_canon(&i, "-9223372036854775808", "-9223372036854775808",
                 -9223372036854775807.0 - 1);
    expect_reject(&i, "9223372036854775808", CDS_ERANGE,
                  "value \"9223372036854775808\": out of range for INTEGER "
                  "(beyond 64 bits)");
    expect_reject(&i, "1.5", CDS_EBADVALUE,
                  "value \"1.5\": not a whole number (digits only, "
                  "optional '-')");
    static const char *const bad[] = {"1e3", " 3", "3 ", "-", "+", "0x10",
                                      "1,000", "--1", "3a", "١"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        expect_reject(&i, bad[k], CDS_EBADVALUE, NULL);
    expect_reject(&i, "", CDS_EBADVALUE,
                  "value \"\": empty (delete the value instead)");
    expect_reject(&i, NULL, CDS_EBADVALUE, NULL);
    i.code = "HGD_TONG";
    i.has_min = true;
    i.min = 0;
    expect_reject(&i, "-1", CDS_ERANGE,
                  "value \"-1\": below the minimum 0 for HGD_TONG");
    i.has_max = true;
    i.max = 1000;
    expect_reject(&i, "1001", CDS_ERANGE,
                  "value \"1001\": out of range 0..1000 for HGD_TONG");
    expect_canon(&i, "1000", "1000", 1000);
    i.has_min = false;
    expect_reject(&i, "2000", CDS_ERANGE,
                  "value \"2000\": above the maximum 1000 for HGD_TONG");
}

static void
test_number(void **state)
{
    (void) state;
    cds_indicator_t n = ind_of(CDS_VT_NUMBER);
    expect_canon(&n, "12.5", "12.5", 12.5);
    expect_canon(&n, "0.1", "0.1", 0.1);
    expect_canon(&n, ".5", "0.5", 0.5);
    expect_canon(&n, "5.", "5", 5);
    expect_canon(&n, "1000", "1000", 1000);
    expect_canon(&n, "1e3", "1000", 1000);
    expect_canon(&n, "-0", "0", 0);
    expect_canon(&n, "+2.50", "2.5", 2.5);
    expect_canon(&n, "1e-5", "1e-05", 1e-5);
    expect_canon(&n, "1e20", "1e+20", 1e20);
    expect_canon(&n, "0.30000000000000004", "0.30000000000000004",
                 0.30000000000000004);
    expect_canon(&n, "3.14159265358979", "3.14159265358979",
                 3.14159265358979);
    expect_reject(&n, "12,5", CDS_EBADVALUE,
                  "value \"12,5\": not a number (use '.' as the decimal "
                  "separator)");
    expect_reject(&n, "45%", CDS_EBADVALUE,
                  "value \"45%\": not a number (write the number without "
                  "'%')");
    expect_reject(&n, "nan", CDS_EBADVALUE, "value \"nan\": not a number");
    static const char *const bad[] = {"inf", "-inf", "NaN", "0x10", "1e",
                                      "e3", "1.2.3", " 1", "1 ", ".", "-",
                                      "1e+", "12abc", "1,2,3", "infinity"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        expect_reject(&n, bad[k], CDS_EBADVALUE, NULL);
    expect_reject(&n, "1e999", CDS_ERANGE,
                  "value \"1e999\": out of range for a number");
    expect_reject(&n, "-1e999", CDS_ERANGE, NULL);
}

static void
test_percentage(void **state)
{
    (void) state;
    cds_indicator_t p = ind_of(CDS_VT_PERCENTAGE);
    expect_canon(&p, "0", "0", 0);
    expect_canon(&p, "100", "100", 100);
    expect_canon(&p, "88.9", "88.9", 88.9);
    expect_canon(&p, "100.0", "100", 100);
    expect_reject(&p, "140", CDS_ERANGE,
                  "value \"140\": out of range 0..100 for PERCENTAGE");
    expect_reject(&p, "-0.5", CDS_ERANGE,
                  "value \"-0.5\": out of range 0..100 for PERCENTAGE");
    expect_reject(&p, "100.0001", CDS_ERANGE, NULL);
    expect_reject(&p, "88,9", CDS_EBADVALUE, NULL);
    p.code = "HSCV_ONLINE";
    p.has_min = p.has_max = true;
    p.min = 10;
    p.max = 90;
    expect_reject(&p, "95", CDS_ERANGE,
                  "value \"95\": out of range 10..90 for HSCV_ONLINE");
}

static void
test_boolean(void **state)
{
    (void) state;
    cds_indicator_t b = ind_of(CDS_VT_BOOLEAN);
    static const char *const yes[] = {"true", "TRUE", "True", "1", "t", "T",
                                      "yes",
                                      "Yes", "co", "CO", "có", "Có", "CÓ",
                                      "đạt", "Đạt", "ĐẠT", "dat"};
    static const char *const no[] = {"false", "FALSE", "0", "f", "F", "no",
                                     "No",
                                     "khong", "KHONG", "không", "Không",
                                     "KHÔNG", "không đạt", "Không đạt",
                                     "KHÔNG ĐẠT", "khong dat"};
    for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++)
        expect_canon(&b, yes[k], "true", 1);
    for (size_t k = 0; k < sizeof no / sizeof no[0]; k++)
        expect_canon(&b, no[k], "false", 0);
    expect_reject(&b, "maybe", CDS_EBADVALUE,
                  "value \"maybe\": not a yes/no value (use true/false, t/f, 1/0, "
                  "yes/no, có/không or đạt/không đạt)");
    static const char *const bad[] = {"", " yes", "yes ", "2", "tr", "y",
                                      "không  đạt", "cóc", "01"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        expect_reject(&b, bad[k], CDS_EBADVALUE, NULL);
}

static void
test_text(void **state)
{
    (void) state;
    cds_indicator_t t = ind_of(CDS_VT_TEXT);
    expect_canon(&t, "Xin chào Đức Huệ", "Xin chào Đức Huệ", 0);
    expect_canon(&t, " kept as given ", " kept as given ", 0);
    expect_reject(&t, "a\tb", CDS_EBADVALUE,
                  "value \"a\\x09b\": not valid UTF-8 text or holds control "
                  "characters");
    expect_reject(&t, "\x01", CDS_EBADVALUE, NULL);
    expect_reject(&t, "x\x7f", CDS_EBADVALUE, NULL);
    expect_reject(&t, "\xC2\x85", CDS_EBADVALUE, NULL);   /* C1 NEL */
    expect_reject(&t, "\xC3\x28", CDS_EBADVALUE, NULL);   /* bad UTF-8 */
    expect_reject(&t, "\xED\xA0\x80", CDS_EBADVALUE, NULL); /* surrogate */
    char big[CDS_MAX_VALUE + 2];
    memset(big, 'a', CDS_MAX_VALUE);
    big[CDS_MAX_VALUE] = '\0';
    expect_canon(&t, big, big, 0);
    big[CDS_MAX_VALUE] = 'a';
    big[CDS_MAX_VALUE + 1] = '\0';
    expect_reject(&t, big, CDS_EBADVALUE, NULL);
    /* a canon buffer too small is refused, not overrun */
    char small[4], err[256];
    double x;
    assert_int_equal(cds_value_canonical(&t, "hello", small, sizeof small,
                                         &x, err, sizeof err),
                     CDS_EBADVALUE);
}

static void
test_names(void **state)
{
    (void) state;
    assert_string_equal(cds_value_type_name(CDS_VT_INTEGER), "INTEGER");
    assert_string_equal(cds_value_type_name(CDS_VT_NUMBER), "NUMBER");
    assert_string_equal(cds_value_type_name(CDS_VT_PERCENTAGE), "PERCENTAGE");
    assert_string_equal(cds_value_type_name(CDS_VT_BOOLEAN), "BOOLEAN");
    assert_string_equal(cds_value_type_name(CDS_VT_TEXT), "TEXT");
    assert_string_equal(cds_value_type_name((cds_value_type_t) 5), "unknown");
    assert_string_equal(cds_agg_name(CDS_AGG_NONE), "NONE");
    assert_string_equal(cds_agg_name(CDS_AGG_SUM), "SUM");
    assert_string_equal(cds_agg_name(CDS_AGG_AVERAGE), "AVERAGE");
    assert_string_equal(cds_agg_name(CDS_AGG_MIN), "MIN");
    assert_string_equal(cds_agg_name(CDS_AGG_MAX), "MAX");
    assert_string_equal(cds_agg_name(CDS_AGG_COUNT_TRUE), "COUNT_TRUE");
    assert_string_equal(cds_agg_name(CDS_AGG_RATIO), "RATIO");
    assert_string_equal(cds_agg_name((cds_agg_t) 7), "unknown");
}

/* ---------------------------------------------------------- updates */

static void
expect_update(const cds_catalog_t *cat, const cds_update_t *u, int code,
             const char *field, const char *msg)
{
    const char *f = "unset";
    char err[512] = "";
    int rc = cds_catalog_check_update(cat, u, &f, err, sizeof err);
    if (rc != code)
        fail_msg("rc %d (%s), want %d", rc, err, code);
    if (field)
        assert_string_equal(f, field);
    if (msg)
        assert_string_equal(err, msg);
}

static void
test_check_update(void **state)
{
    (void) state;
    char err[512];
    write_file(HDR "HGD_TONG,Tổng số hộ gia đình,,,INTEGER,SUM,Quarterly,0,,,,\n"
               "GHI_CHU,Ghi chú,,,TEXT,NONE,,,,,,\n");
    cds_catalog_t *cat = cds_catalog_load(tmppath, err, sizeof err);
    if (!cat)
        fail_msg("%s", err);
    cds_update_t ok = {.seq = 1, .org_unit = "27898",
                       .indicator = "HGD_TONG", .period = "2023Q1",
                       .disagg = "default", .value = "120",
                       .comment = "Số liệu quý 1", .stored_by = "canbo1",
                       .hlc = 1};
    expect_update(cat, &ok, CDS_OK, NULL, NULL);
    cds_update_t u = ok;
    u.indicator = "CDS99";
    expect_update(cat, &u, CDS_EUNKNOWNINDICATOR, "dataelement", NULL);
    u = ok;
    u.period = "2023";
    expect_update(cat, &u, CDS_EBADPERIOD, "period",
                 "period \"2023\": HGD_TONG expects a Quarterly period");
    u.period = "2023Q5";
    expect_update(cat, &u, CDS_EBADPERIOD, "period", NULL);
    u = ok;
    u.disagg = "male";
    expect_update(cat, &u, CDS_EBADFIELD, "categoryoptioncombo",
                 "categoryoptioncombo \"male\": only \"default\" is "
                 "supported");
    u = ok;
    u.value = "abc";
    expect_update(cat, &u, CDS_EBADVALUE, "value", NULL);
    u.value = "-1";
    expect_update(cat, &u, CDS_ERANGE, "value",
                 "value \"-1\": below the minimum 0 for HGD_TONG");
    u.value = "0120";
    expect_update(cat, &u, CDS_EBADVALUE, "value",
                 "value \"0120\": not in canonical form (expected \"120\")");
    u = ok;
    u.deleted = true;
    u.value = "";
    expect_update(cat, &u, CDS_OK, NULL, NULL);
    u = ok;
    u.org_unit = "";
    expect_update(cat, &u, CDS_EBADFIELD, "orgunit", "orgunit \"\": empty");
    u = ok;
    u.org_unit = "27 898";
    expect_update(cat, &u, CDS_EBADFIELD, "orgunit", NULL);
    u = ok;
    char longc[CDS_MAX_COMMENT + 2];
    memset(longc, 'c', sizeof longc - 1);
    longc[sizeof longc - 1] = '\0';
    u.comment = longc;
    expect_update(cat, &u, CDS_ETOOBIG, "comment", NULL);
    u = ok;
    u.indicator = "GHI_CHU";
    u.period = "20230315";         /* no period type: any accepted */
    u.value = "Đã kiểm tra";
    expect_update(cat, &u, CDS_OK, NULL, NULL);
    cds_catalog_destroy(&cat);
}

/* cds_catalog_check: every bad row, not only the first; 0 for a good
 * file; a duplicate (found after the rows) is reported too. */
static void
test_check_reports_every_row(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    write_file(HDR "A_1,a,,,INTEGER,SUM,Monthly,,,,,\n"
                   "bad code,b,,,INTEGER,SUM,Monthly,,,,,\n"
                   "C_1,c,,,NOTATYPE,SUM,Monthly,,,,,\n"
                   "D_1,d,,,INTEGER,SUM,Monthly,,,,,\n");
    assert_int_equal(cds_catalog_check(tmppath, out), 2);
    fflush(out);
    assert_non_null(strstr(text, ":3: code:"));
    assert_non_null(strstr(text, ":4: value_type:"));
    rewind(out);
    len = 0;
    write_file(HDR "A_1,a,,,INTEGER,SUM,Monthly,,,,,\n");
    assert_int_equal(cds_catalog_check(tmppath, out), 0);
    write_file(HDR "A_1,a,,,INTEGER,SUM,Monthly,,,,,\n"
                   "A_1,a,,,INTEGER,SUM,Monthly,,,,,\n");
    assert_int_equal(cds_catalog_check(tmppath, out), 1);
    fclose(out);
    assert_non_null(strstr(text, ":3: code: duplicate code"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_deploy_catalog),
        cmocka_unit_test(test_bad_catalogs),
        cmocka_unit_test(test_bom_and_columns),
        cmocka_unit_test(test_integer),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_percentage),
        cmocka_unit_test(test_boolean),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_check_update),
        cmocka_unit_test(test_check_reports_every_row),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
