/*  import_test: DHIS2 CSV/JSON import is all rows or none and names every
 *  bad row with file:line: field: column; header spellings, header-less
 *  positional files, the JSON single-form layout, DHIS2 booleans; also submit's validation (org units allowed,
 *  canonical values) and its best-effort wake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdir.h"
#include "cds_catalog.h"
#include "cds_err.h"
#include "cds_log.h"
#include "import.h"
#include "outbox.h"
#include "submit.h"

typedef struct {
    char dir[64];
    char path[128];
    outbox_t *ob;
    cds_catalog_t *cat;
    submit_ctx_t ctx;
    char *errs;                        /* what import wrote to errf */
    size_t errs_len;
} fx_t;


static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char cat[160], err[256];
    int e = 0;
    strcpy(fx->dir, "/tmp/import_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/agent.db", fx->dir);
    snprintf(cat, sizeof cat, "%s/catalog.csv", fx->dir);
    write_file(cat, "code,name_vi,value_type,period_type,min,max\n"
                    "PCT,Tỷ lệ,PERCENTAGE,Monthly,,\n"
                    "CNT,Số lượng,INTEGER,,0,1000\n"
                    "YES,Có,BOOLEAN,Yearly,,\n");
    fx->cat = cds_catalog_load(cat, err, sizeof err);
    assert_non_null(fx->cat);
    fx->ob = outbox_open(fx->path, &e);
    assert_non_null(fx->ob);
    fx->ctx.catalog = fx->cat;
    fx->ctx.org_units = "OU1, OU2";
    fx->ctx.stored_by = "officer";
    fx->ctx.state_dir = fx->dir;       /* no wake.sock: wake is a no-op */
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    outbox_destroy(&fx->ob);
    cds_catalog_destroy(&fx->cat);
    free(fx->errs);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Import text as <dir>/name with a header choice; errors in fx->errs. */
static int
run_import_opt(fx_t *fx, const char *name, const char *text,
               cds_dvs_header_t header, import_result_t *res)
{
    char path[200], err[256] = "";
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    write_file(path, text);
    free(fx->errs);
    fx->errs = NULL;
    FILE *errf = open_memstream(&fx->errs, &fx->errs_len);
    assert_non_null(errf);
    int rc = import_file_opt(&fx->ctx, fx->ob, path, header, errf, res, err,
                             sizeof err);
    fclose(errf);
    return rc;
}

/* Import text as <dir>/name, header detected; errors land in fx->errs. */
static int
run_import(fx_t *fx, const char *name, const char *text,
           import_result_t *res)
{
    return run_import_opt(fx, name, text, CDS_DVS_HEADER_AUTO, res);
}

static void
test_valid_file(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "ok.csv",
                        "dataelement,period,orgunit,value,storedby\n"
                        "PCT,202301,OU1,55.50,\n"
                        "CNT,2023Q1,OU2,12,nam\n"
                        "YES,2023,OU1,có,\n",
                        &res);
    assert_int_equal(rc, CDS_OK);
    assert_int_equal(res.queued, 3);
    assert_int_equal(res.first_seq, 1);
    assert_int_equal(res.last_seq, 3);
    assert_int_equal(res.bad_rows, 0);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 1, 10, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].u.value, "55.5");      /* canonical */
    assert_string_equal(rows[0].u.stored_by, "officer"); /* default */
    assert_string_equal(rows[1].u.stored_by, "nam");
    assert_string_equal(rows[2].u.value, "true");
    assert_string_equal(rows[0].u.disagg, "default");
    assert_non_null(strstr(rows[1].source, "import:ok.csv:3"));
    outbox_rows_free(&rows, n);
}

static void
test_two_bad_rows_queue_nothing(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "bad.csv",
                        "dataelement,period,orgunit,value\n"
                        "PCT,202301,OU1,50\n"
                        "PCT,202302,OU1,140\n"
                        "CNT,2023,OU1,5\n"
                        "CNT,2023Q5,OU1,5\n",
                        &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_int_equal(res.queued, 0);
    assert_int_equal(res.bad_rows, 2);
    assert_int_equal(outbox_depth(fx->ob), 0);
    assert_non_null(strstr(fx->errs, "bad.csv:3: value: "));
    assert_non_null(strstr(fx->errs, "140"));
    assert_non_null(strstr(fx->errs, "bad.csv:5: period: "));
    assert_null(strstr(fx->errs, "bad.csv:2:"));
    assert_null(strstr(fx->errs, "bad.csv:4:"));
}

static void
test_bom_and_quoted_comma(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "bom.csv",
                        "\xef\xbb\xbf" "DataElement,Period,OrgUnit,Value,"
                        "Comment,AttributeOptionCombo,LastUpdated\n"
                        "CNT,202301,OU1,3,\"a, b \"\"c\"\"\",,"
                        "2023-01-01\n",
                        &res);
    assert_int_equal(rc, CDS_OK);
    assert_int_equal(res.queued, 1);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 1, 10, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].u.indicator, "CNT");
    assert_string_equal(rows[0].u.comment, "a, b \"c\"");
    outbox_rows_free(&rows, n);
}

static void
test_duplicate_key(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "dup.csv",
                        "dataelement,period,orgunit,value\n"
                        "CNT,2023,OU1,1\n"
                        "CNT,2023,OU2,1\n"
                        "CNT,2023,OU1,2\n",
                        &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_int_equal(outbox_depth(fx->ob), 0);
    assert_non_null(strstr(fx->errs, "dup.csv:4: "));
    assert_non_null(strstr(fx->errs, "duplicate of line 2"));
}

static void
test_unknown_indicator_and_org_unit(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "u.csv",
                        "dataelement,period,orgunit,value\n"
                        "NOPE,2023,OU1,1\n"
                        "CNT,2023,OU9,1\n",
                        &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_int_equal(res.bad_rows, 2);
    assert_non_null(strstr(fx->errs, "u.csv:2: dataelement: "));
    assert_non_null(strstr(fx->errs, "NOPE"));
    assert_non_null(strstr(fx->errs, "u.csv:3: orgunit: "));
    assert_non_null(strstr(fx->errs, "\"OU9\""));
    assert_int_equal(outbox_depth(fx->ob), 0);
}

static void
test_deleted_rows(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "del.csv",
                        "dataelement,period,orgunit,value,deleted\n"
                        "CNT,2023,OU1,,true\n"
                        "CNT,2024,OU1,,\n",
                        &res);
    assert_int_equal(rc, CDS_EBADFIELD);          /* 2024: value missing */
    assert_non_null(strstr(fx->errs, "del.csv:3: value: column 4: missing"));
    rc = run_import(fx, "del2.csv",
                    "dataelement,period,orgunit,deleted\n"
                    "CNT,2023,OU1,TRUE\n",
                    &res);
    assert_int_equal(rc, CDS_OK);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 1, 10, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(n, 1);
    assert_true(rows[0].u.deleted);
    assert_string_equal(rows[0].u.value, "");
    outbox_rows_free(&rows, n);
}

static void
test_header_and_listing_cap(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    assert_int_equal(run_import(fx, "h.csv", "dataelement,value\nCNT,1\n",
                                &res),
                     CDS_EMALFORMED);
    assert_non_null(strstr(fx->errs, "missing column \"period\""));
    /* A header and no row (found by csv_import_fuzz: queued nothing, then
     * read the first of zero rows). */
    assert_int_equal(run_import(fx, "h2.csv", "de,pe,ou,value\r\n", &res),
                     CDS_EMALFORMED);
    assert_non_null(strstr(fx->errs, "h2.csv: no data rows"));
    assert_int_equal(outbox_depth(fx->ob), 0);
    /* 105 bad rows: 100 listed, then "... and 5 more". */
    size_t cap = 64 * 110;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "dataelement,period,orgunit,value\n");
    for (int i = 0; i < 105; i++)
        p += sprintf(p, "CNT,2023,OU1,x%d\n", i);
    assert_int_equal(run_import(fx, "many.csv", text, &res), CDS_EBADFIELD);
    free(text);
    assert_int_equal(res.bad_rows, 105);
    assert_non_null(strstr(fx->errs, "many.csv:101: "));
    assert_null(strstr(fx->errs, "many.csv:102: "));
    assert_non_null(strstr(fx->errs, "... and 5 more"));
}

static void
test_submit(void **state)
{
    fx_t *fx = *state;
    assert_true(submit_org_unit_allowed("OU1, OU2", "OU2"));
    assert_true(submit_org_unit_allowed("OU1,OU2", "OU1"));
    assert_false(submit_org_unit_allowed("OU1,OU2", "OU"));
    assert_false(submit_org_unit_allowed("OU1,OU2", ""));
    assert_false(submit_org_unit_allowed(NULL, "OU1"));
    cds_update_t u;
    char canon[CDS_MAX_VALUE + 1], err[300];
    const char *field = NULL;
    memset(&u, 0, sizeof u);
    u.org_unit = "OU1";
    u.indicator = "PCT";
    u.period = "202301";
    u.value = "140";
    assert_int_equal(submit_check(&fx->ctx, &u, canon, sizeof canon, &field,
                                  err, sizeof err),
                     CDS_ERANGE);
    assert_string_equal(field, "value");
    u.value = "050";
    assert_int_equal(submit_check(&fx->ctx, &u, canon, sizeof canon, &field,
                                  err, sizeof err),
                     CDS_OK);
    assert_string_equal(u.value, "50");
    assert_string_equal(u.disagg, "default");
    assert_string_equal(u.stored_by, "officer");
    u.org_unit = "OU3";
    assert_int_equal(submit_update(&fx->ctx, fx->ob, &u, err, sizeof err),
                     CDS_ENOTALLOWED);
    assert_non_null(strstr(err, "orgunit: "));
    assert_int_equal(outbox_depth(fx->ob), 0);
    u.org_unit = "OU2";
    u.value = "7";
    assert_int_equal(submit_update(&fx->ctx, fx->ob, &u, err, sizeof err),
                     CDS_OK);
    assert_int_equal(u.seq, 1);
    submit_wake(fx->dir);              /* no daemon: returns at once */
    assert_int_equal(outbox_depth(fx->ob), 1);
}

/* The first row of each outbox update, read back (caller frees). */
static outbox_row_t *
queued(fx_t *fx, size_t want)
{
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 1, 100, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(n, want);
    return rows;
}

/* DHIS2's documented abbreviated header: every field lands where the
 * long names put it (storedBy, comment, followup were lost before). */
static void
test_abbreviated_header(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "ab.csv",
                        "de,pe,ou,catoptcombo,attroptcombo,value,strby,lstupd,"
                        "cmt,flwup\n"
                        "CNT,202301,OU1,default,default,7,lan,"
                        "2023-02-01T10:00:00.000,\"đã, kiểm tra\",T\n",
                        &res);
    assert_int_equal(rc, CDS_OK);
    outbox_row_t *r = queued(fx, 1);
    assert_string_equal(r[0].u.value, "7");
    assert_string_equal(r[0].u.stored_by, "lan");
    assert_string_equal(r[0].u.comment, "đã, kiểm tra");
    assert_true(r[0].u.followup);
    outbox_rows_free(&r, 1);
}

/* No header: DHIS2's positions (as firstRowIsHeader=false), short rows
 * allowed; a "default" in column 4 is data, not a duplicate name. */
static void
test_no_header_positional(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "nh.csv",
                        "\xEF\xBB\xBF" "CNT,202301,OU1,default,default,5,ha,"
                        "2023-01-31,ghi chú,true,false\r\n"
                        "PCT,202301,OU2,,,12.50\r\n",
                        &res);
    assert_int_equal(rc, CDS_OK);
    outbox_row_t *r = queued(fx, 2);
    assert_string_equal(r[0].u.stored_by, "ha");
    assert_string_equal(r[0].u.comment, "ghi chú");
    assert_true(r[0].u.followup);
    assert_string_equal(r[1].u.value, "12.5");
    assert_string_equal(r[1].u.stored_by, "officer");
    outbox_rows_free(&r, 2);
    /* --header on a header-less file: its first row must be names. */
    rc = run_import_opt(fx, "nh2.csv", "CNT,202303,OU1,,,5\n",
                        CDS_DVS_HEADER_YES, &res);
    assert_int_equal(rc, CDS_EMALFORMED);
    assert_non_null(strstr(fx->errs, "nh2.csv:1: header: missing column "
                                     "\"dataelement\""));
    /* --no-header on a file with one: its names are a bad data row. */
    rc = run_import_opt(fx, "nh3.csv", "de,pe,ou,co,ao,value\n"
                        "CNT,202303,OU1,,,5\n", CDS_DVS_HEADER_NO, &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_non_null(strstr(fx->errs, "nh3.csv:1: "));
    assert_int_equal(outbox_depth(fx->ob), 2);
}

/* Option combos the catalog does not define are refused by column and
 * value, never stored as default. */
static void
test_option_combos_refused(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "dis.csv",
                        "de,pe,ou,catoptcombo,attroptcombo,value\n"
                        "CNT,202301,OU1,NU,default,3\n"
                        "CNT,202302,OU1,default,NguonNSNN,3\n",
                        &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_non_null(strstr(fx->errs, "dis.csv:2: categoryoptioncombo: "
                                     "column 4: "));
    assert_non_null(strstr(fx->errs, "\"NU\""));
    assert_non_null(strstr(fx->errs, "dis.csv:3: attributeoptioncombo: "
                                     "column 5: \"NguonNSNN\""));
    assert_int_equal(outbox_depth(fx->ob), 0);
}

/* BOOLEAN and flags in DHIS2's spellings, normalized. */
static void
test_boolean_spellings(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "b.csv",
                        "dataelement,period,orgunit,value,followup\n"
                        "YES,2021,OU1,t,f\n"
                        "YES,2022,OU1,F,t\n"
                        "YES,2023,OU1,T,1\n",
                        &res);
    assert_int_equal(rc, CDS_OK);
    outbox_row_t *r = queued(fx, 3);
    assert_string_equal(r[0].u.value, "true");
    assert_false(r[0].u.followup);
    assert_string_equal(r[1].u.value, "false");
    assert_true(r[1].u.followup);
    assert_string_equal(r[2].u.value, "true");
    outbox_rows_free(&r, 3);
    rc = run_import(fx, "b2.csv", "de,pe,ou,value,flwup\nYES,2021,OU1,t,yes\n",
                    &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_non_null(strstr(fx->errs, "b2.csv:2: followup: column 5: \"yes\""));
}

/* JSON, the single-form layout: period/orgUnit on the set, one value
 * overriding the period. */
static void
test_json_single_form(void **state)
{
    fx_t *fx = *state;
    import_result_t res;
    int rc = run_import(fx, "s.json",
                        "{\"dataSet\": \"DS\", \"period\": \"202301\", "
                        "\"orgUnit\": \"OU2\", \"completeDate\": "
                        "\"2023-02-01\", \"attributeOptionCombo\": "
                        "\"default\", \"dataValues\": ["
                        "{\"dataElement\": \"CNT\", \"value\": 4, "
                        "\"storedBy\": \"mai\", \"comment\": \"c\", "
                        "\"followup\": true},"
                        "{\"dataElement\": \"CNT\", \"period\": \"202302\", "
                        "\"value\": \"5\"}]}",
                        &res);
    assert_int_equal(rc, CDS_OK);
    outbox_row_t *r = queued(fx, 2);
    assert_string_equal(r[0].u.org_unit, "OU2");
    assert_string_equal(r[0].u.period, "202301");
    assert_string_equal(r[0].u.value, "4");
    assert_string_equal(r[0].u.stored_by, "mai");
    assert_string_equal(r[0].u.comment, "c");
    assert_true(r[0].u.followup);
    assert_string_equal(r[1].u.period, "202302");
    outbox_rows_free(&r, 2);
    rc = run_import(fx, "bad.json",
                    "{\"orgUnit\": \"OU1\", \"dataValues\": ["
                    "{\"dataElement\": \"CNT\", \"period\": \"202301\", "
                    "\"value\": \"x\"}]}", &res);
    assert_int_equal(rc, CDS_EBADFIELD);
    assert_non_null(strstr(fx->errs, "bad.json:1: value: "));
    assert_non_null(strstr(fx->errs, "(line = dataValues entry)"));
}

int
main(void)
{
    cds_log_init("import_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_bad_rows_queue_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bom_and_quoted_comma, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_indicator_and_org_unit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_and_listing_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abbreviated_header, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_header_positional, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_option_combos_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_boolean_spellings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_single_form, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
