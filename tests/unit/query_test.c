/*  query_test: filters, subtree, period containment (a quarter selects its
 *  months and weeks), CSV quoting, JSON, the wide form and completeness;
 *  deleted values never shown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdir.h"
#include "teststore.h"
#include "cds_catalog.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_period.h"
#include "cds_util.h"
#include "query.h"
#include "store.h"

typedef struct {
    char dir[64];
    store_t *store;
    cds_catalog_t *catalog;
} fx_t;

static const uint8_t PK[CDS_PK_BYTES] = { 0x42 };


static void
write_file(const char *dir, const char *name, const char *text, char *path)
{
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
put(fx_t *fx, uint64_t seq, const char *ou, const char *ind, const char *pe,
    const char *value, bool deleted)
{
    cds_period_t p;
    assert_int_equal(cds_period_parse(pe, &p), CDS_OK);
    cds_update_t u = { .seq = seq, .org_unit = ou, .indicator = ind,
                       .period = pe, .disagg = "default", .value = value,
                       .comment = "ghi chú, \"x\"", .stored_by = "cb",
                       .deleted = deleted, .hlc = (1700000000000ull << 16)
                                                  + seq };
    assert_int_equal(store_merge(fx->store, &u, 1, PK, 1, p.start, p.end, 1),
                     CDS_OK);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char path[128], err[256];
    strcpy(fx->dir, "/tmp/query_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    write_file(fx->dir, "ou.csv",
               "code,name,parent\nP,Tỉnh,\nD1,Huyện Đức Huệ,P\n"
               "C1,\"Xã Mỹ Quý, \"\"Đông\"\"\",D1\nC2,Xã Bình Hòa,D1\n"
               "D2,Huyện 2,P\nC3,Xã 3,D2\n", path);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    write_file(fx->dir, "cat.csv",
               "code,name_vi,value_type\nA1,Chỉ số A,INTEGER\n"
               "B1,Chỉ số B,INTEGER\n", path);
    fx->catalog = cds_catalog_load(path, err, sizeof err);
    assert_non_null(fx->catalog);
    *state = fx;                       /* teardown even after a skip */
    fx->store = teststore_open(fx->dir);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    const char *units[] = { "P" };
    int64_t id;
    assert_int_equal(store_agent_enroll(fx->store, PK, PK, "a", units, 1, 1,
                                        &id), CDS_OK);
    assert_int_equal(id, 1);
    put(fx, 1, "C1", "A1", "202301", "1", false);
    put(fx, 2, "C1", "A1", "202302", "2", false);
    put(fx, 3, "C1", "A1", "202304", "4", false);   /* Q2 */
    put(fx, 4, "C1", "A1", "2023Q1", "10", false);
    put(fx, 5, "C1", "A1", "2023W5", "5", false);  /* Jan 30 - Feb 5 */
    put(fx, 6, "C1", "A1", "2023W13", "13", false); /* Mar 27 - Apr 2 */
    put(fx, 7, "C1", "A1", "2023", "100", false);   /* wider than Q1 */
    put(fx, 8, "C1", "B1", "202301", "8", false);
    put(fx, 9, "C2", "A1", "202301", "9", false);
    put(fx, 10, "C2", "B1", "202301", "", true);    /* tombstone */
    put(fx, 11, "C3", "A1", "202301", "11", false);
    put(fx, 12, "D1", "A1", "202301", "12", false);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    store_destroy(&fx->store);
    cds_catalog_destroy(&fx->catalog);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Run a query; returns the output (caller frees) and the code. */
static char *
run(fx_t *fx, const query_opts_t *o, int *code)
{
    char *buf = NULL, err[256] = "";
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *code = query_run(fx->store, o, f, err, sizeof err);
    fclose(f);
    teststore_same(buf);               /* the same on both backends */
    return buf;
}

static int
lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void
test_filters_and_subtree(void **state)
{
    fx_t *fx = *state;
    int code;
    /* Everything live: 12 values minus the tombstone, plus the header. */
    query_opts_t o = { .subtree = true, .format = QUERY_CSV };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    assert_int_equal(lines(out), 1 + 11);
    assert_null(strstr(out, "C2,Xã Bình Hòa,B1"));
    free(out);
    /* D1's subtree: C1 (8), C2 (1), D1 (1). */
    o.org_unit = "D1";
    out = run(fx, &o, &code);
    assert_int_equal(lines(out), 1 + 10);
    assert_null(strstr(out, "\r\nC3,"));
    free(out);
    o.subtree = false;
    out = run(fx, &o, &code);
    assert_int_equal(lines(out), 1 + 1);
    assert_non_null(strstr(out, "\r\nD1,Huyện Đức Huệ,A1,202301,default,12,"));
    free(out);
    /* Indicator filter. */
    const char *inds[] = { "B1" };
    query_opts_t o2 = { .subtree = true, .format = QUERY_CSV,
                        .indicators = inds, .n_indicators = 1 };
    out = run(fx, &o2, &code);
    assert_int_equal(lines(out), 1 + 1);
    assert_non_null(strstr(out, ",B1,202301,default,8,"));
    free(out);
    o2.org_unit = "ZZ";
    out = run(fx, &o2, &code);
    assert_int_equal(code, CDS_EUNKNOWNORGUNIT);
    free(out);
}

static void
test_quarter_selects_months_and_weeks(void **state)
{
    fx_t *fx = *state;
    int code;
    const char *inds[] = { "A1" };
    query_opts_t o = { .org_unit = "C1", .subtree = true, .format = QUERY_CSV,
                       .indicators = inds, .n_indicators = 1,
                       .period = "2023Q1" };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    assert_int_equal(lines(out), 1 + 4);
    assert_non_null(strstr(out, ",202301,"));
    assert_non_null(strstr(out, ",202302,"));
    assert_non_null(strstr(out, ",2023Q1,"));
    assert_non_null(strstr(out, ",2023W5,"));
    assert_null(strstr(out, ",202304,"));
    assert_null(strstr(out, ",2023W13,"));
    assert_null(strstr(out, ",2023,"));
    free(out);
    /* --from 202302 --to 202304: Feb..Apr months, W13 lies inside too. */
    query_opts_t r = { .org_unit = "C1", .subtree = true,
                       .format = QUERY_CSV, .indicators = inds,
                       .n_indicators = 1, .from = "202302", .to = "202304" };
    out = run(fx, &r, &code);
    assert_int_equal(code, CDS_OK);
    assert_int_equal(lines(out), 1 + 3);
    assert_non_null(strstr(out, ",2023W13,"));
    free(out);
    r.period = "2023";
    out = run(fx, &r, &code);
    assert_int_equal(code, CDS_EUSAGE);
    free(out);
    query_opts_t bad = { .period = "2023Q5" };
    out = run(fx, &bad, &code);
    assert_int_equal(code, CDS_EBADPERIOD);
    free(out);
}

static void
test_csv_quoting(void **state)
{
    fx_t *fx = *state;
    int code;
    query_opts_t o = { .org_unit = "C1", .subtree = false,
                       .format = QUERY_CSV, .period = "202301" };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    assert_true(strncmp(out, "orgunit,orgunitname,dataelement,period,"
                        "categoryoptioncombo,value,storedby,lastupdated,"
                        "comment,followup,agent\r\n", 108) == 0);
    assert_non_null(strstr(out, "C1,\"Xã Mỹ Quý, \"\"Đông\"\"\",A1,202301,"
                                "default,1,cb,2023-11-14T22:13:20.000Z,"
                                "\"ghi chú, \"\"x\"\"\",false,"));
    free(out);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_csv_field(f, "plain");
    fputc('|', f);
    report_csv_field(f, "a\nb");
    fputc('|', f);
    report_csv_field(f, NULL);
    fclose(f);
    assert_string_equal(buf, "plain|\"a\nb\"|");
    free(buf);
}

static void
test_json_and_table(void **state)
{
    fx_t *fx = *state;
    int code;
    query_format_t fmt;
    assert_int_equal(query_format_parse("json", &fmt), CDS_OK);
    assert_int_equal(fmt, QUERY_JSON);
    assert_int_equal(query_format_parse("xml", &fmt), CDS_EUSAGE);
    query_opts_t o = { .org_unit = "C2", .subtree = true, .format = fmt };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    json_t *dv = json_object_get(j, "dataValues");
    assert_int_equal(json_array_size(dv), 1);
    json_t *row = json_array_get(dv, 0);
    assert_string_equal(json_string_value(json_object_get(row, "value")), "9");
    assert_string_equal(json_string_value(json_object_get(row, "orgUnitName")),
                        "Xã Bình Hòa");
    assert_int_equal(strlen(json_string_value(json_object_get(row, "agent"))),
                     16);
    json_decref(j);
    free(out);
    /* Table: the value column starts at the same display column on every
     * line although the names hold multi-byte letters. */
    query_opts_t t = { .org_unit = "D1", .subtree = true,
                       .format = QUERY_TABLE, .period = "202301" };
    out = run(fx, &t, &code);
    assert_int_equal(code, CDS_OK);
    assert_int_equal(lines(out), 1 + 4);
    size_t col = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *at = strstr(l, "categoryoptioncombo");
        if (!at)
            at = strstr(l, "default");
        assert_non_null(at);
        *at = '\0';
        if (!col)
            col = cds_utf8_width(l);
        assert_int_equal(cds_utf8_width(l), col);
    }
    assert_true(col > 0);
    free(out);
}

static void
test_wide_completeness(void **state)
{
    fx_t *fx = *state;
    int code;
    query_opts_t o = { .org_unit = "D1", .subtree = true,
                       .format = QUERY_TABLE, .wide = true,
                       .period = "202301", .catalog = fx->catalog };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    /* Leaves under D1: C1 (A1, B1: complete), C2 (A1 only: B1 deleted). */
    assert_non_null(strstr(out, "2/2"));
    assert_non_null(strstr(out, "1/2"));
    assert_non_null(strstr(out, "1 of 2 org units complete\n"));
    assert_null(strstr(out, "C3"));
    free(out);
    o.format = QUERY_CSV;
    out = run(fx, &o, &code);
    assert_string_equal(out, "orgunit,orgunitname,A1,B1,reported,entered\r\n"
                             "C1,\"Xã Mỹ Quý, \"\"Đông\"\"\",1,8,2/2,\r\n"
                             "C2,Xã Bình Hòa,9,,1/2,\r\n");
    free(out);
    o.format = QUERY_JSON;
    o.org_unit = NULL;
    out = run(fx, &o, &code);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "units")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "complete")), 1);
    json_decref(j);
    free(out);
    o.period = NULL;
    out = run(fx, &o, &code);
    assert_int_equal(code, CDS_EUSAGE);
    free(out);
    /* No catalog, no indicator list: the columns are the indicators with
     * live values, in byte order (QUERY_SQL_INDICATORS). */
    query_opts_t bare = { .org_unit = "D1", .subtree = true, .wide = true,
                          .format = QUERY_CSV, .period = "202301" };
    out = run(fx, &bare, &code);
    assert_int_equal(code, CDS_OK);
    assert_string_equal(out, "orgunit,orgunitname,A1,B1,reported,entered\r\n"
                             "C1,\"Xã Mỹ Quý, \"\"Đông\"\"\",1,8,2/2,\r\n"
                             "C2,Xã Bình Hòa,9,,1/2,\r\n");
    free(out);
}

/* A RATIO column naming its counts is derived from the unit's two counts
 * (rollup's arithmetic and format) and counts as reported; with a count
 * missing it stays empty. An entered value is not shown: the last column
 * names it when it is more than 0.05 away or cannot be checked. */
static void
test_wide_derived_ratio(void **state)
{
    fx_t *fx = *state;
    char path[128], err[256];
    write_file(fx->dir, "ratio.csv",
               "code,name_vi,value_type,aggregation,numerator,denominator\n"
               "A1,Chỉ số A,INTEGER,SUM,,\nB1,Chỉ số B,INTEGER,SUM,,\n"
               "R1,Tỷ lệ A/B,PERCENTAGE,RATIO,A1,B1\n", path);
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    assert_non_null(cat);
    const char *inds[] = { "A1", "B1", "R1" };
    int code;
    query_opts_t o = { .org_unit = "D1", .subtree = true,
                       .format = QUERY_CSV, .wide = true, .period = "202301",
                       .catalog = cat, .indicators = inds, .n_indicators = 3 };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    /* C1: 100 * 1 / 8 = 12.5 -> "12.50"; C2: B1 deleted, nothing to
     * derive from. */
    assert_string_equal(out, "orgunit,orgunitname,A1,B1,R1,reported,entered\r\n"
                             "C1,\"Xã Mỹ Quý, \"\"Đông\"\"\",1,8,12.50,3/3,\r\n"
                             "C2,Xã Bình Hòa,9,,,1/3,\r\n");
    free(out);
    /* Entered: C1 99.9 (|99.9 - 12.5| = 87.4 > 0.05), C2 50 (no B1). */
    put(fx, 40, "C1", "R1", "202301", "99.9", false);
    put(fx, 41, "C2", "R1", "202301", "50", false);
    out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    assert_string_equal(out, "orgunit,orgunitname,A1,B1,R1,reported,entered\r\n"
                             "C1,\"Xã Mỹ Quý, \"\"Đông\"\"\",1,8,12.50,3/3,R1=99.9\r\n"
                             "C2,Xã Bình Hòa,9,,,1/3,R1=50\r\n");
    free(out);
    /* 12.54 is within 0.05 of 12.5: shown as derived, not named. */
    put(fx, 42, "C1", "R1", "202301", "12.54", false);
    o.wide = false;
    o.org_unit = "C1";
    o.n_indicators = 1;
    o.indicators = inds + 2;
    out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    assert_non_null(strstr(out, ",R1,202301,default,12.50,"));
    assert_non_null(strstr(out, ",entered\r\n"));
    assert_true(out[strlen(out) - 3] == ',');   /* entered is empty */
    free(out);
    cds_catalog_destroy(&cat);
}

/* Text sorts by its bytes on both backends, whatever the PostgreSQL
 * database's collation (pg_report.sh makes it a language's, where "_z"
 * and "a9" come before "B9"): codes that a language orders otherwise. */
static void
test_byte_order(void **state)
{
    fx_t *fx = *state;
    char path[128], err[256];
    write_file(fx->dir, "more.csv", "code,name,parent\nP,Tỉnh,\n"
               "a9,a,P\nB9,b,P\n_z,z,P\n", path);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    put(fx, 20, "a9", "A1", "202301", "1", false);
    put(fx, 21, "B9", "A1", "202301", "2", false);
    put(fx, 22, "_z", "a1", "202301", "3", false);
    int code;
    query_opts_t o = { .org_unit = "P", .subtree = true, .format = QUERY_CSV,
                       .period = "202301" };
    char *out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    const char *b9 = strstr(out, "\r\nB9,"), *c1 = strstr(out, "\r\nC1,");
    const char *z = strstr(out, "\r\n_z,"), *a9 = strstr(out, "\r\na9,");
    assert_true(b9 && c1 && z && a9);
    assert_true(b9 < c1 && c1 < z && z < a9);
    free(out);
    o.wide = true;                     /* leaves, and indicator columns */
    o.org_unit = NULL;
    out = run(fx, &o, &code);
    assert_int_equal(code, CDS_OK);
    assert_true(strncmp(out, "orgunit,orgunitname,A1,B1,a1,reported,entered"
                             "\r\nB9,", 49) == 0);
    free(out);
}

/* --period / --from / --to as day ranges; a reversed range is refused
 * naming both ends (issue 15). No store needed. */
static void
test_range(void **state)
{
    (void) state;
    char err[256] = "";
    int32_t a = 0, b = 0;
    query_opts_t o = { .from = "2025Q2", .to = "2025Q1" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err), CDS_EUSAGE);
    assert_string_equal(err, "--from 2025Q2 starts 2025-04-01, after --to "
                             "2025Q1 ends 2025-03-31: the range is reversed "
                             "(swap them)");
    /* 2025April = 2025-04-01..2026-03-31; 2025Nov ends 2025-10-31 */
    o = (query_opts_t) { .from = "2025April", .to = "2025Nov" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err), CDS_OK);
    assert_int_equal(a, cds_day_from_ymd(2025, 4, 1));
    assert_int_equal(b, cds_day_from_ymd(2025, 10, 31));
    /* one day both ends; open ends */
    o = (query_opts_t) { .from = "20250401", .to = "20250401" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err), CDS_OK);
    assert_int_equal(a, b);
    o = (query_opts_t) { .to = "2025BiW1" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err), CDS_OK);
    assert_int_equal(a, INT32_MIN);
    assert_int_equal(b, cds_day_from_ymd(2025, 1, 12));
    o = (query_opts_t) { .period = "2025AprilS2" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err), CDS_OK);
    assert_int_equal(a, cds_day_from_ymd(2025, 10, 1));
    assert_int_equal(b, cds_day_from_ymd(2026, 3, 31));
    o = (query_opts_t) { .period = "2025", .to = "2026" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err), CDS_EUSAGE);
    o = (query_opts_t) { .from = "2025W07" };
    assert_int_equal(query_range(&o, &a, &b, err, sizeof err),
                     CDS_EBADPERIOD);
    assert_non_null(strstr(err, "from: \"2025W07\""));
}

int
main(void)
{
    cds_log_init("query_test", CDS_LOG_ERROR);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_filters_and_subtree), T(test_quarter_selects_months_and_weeks),
        T(test_csv_quoting), T(test_json_and_table),
        T(test_wide_completeness),
        T(test_wide_derived_ratio), T(test_byte_order),
        cmocka_unit_test(test_range),
    };
    return teststore_main("query", tests, sizeof tests / sizeof *tests);
}
