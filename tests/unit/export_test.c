/*  export_test: DHIS2 dataValueSet JSON with exactly DHIS2's field names,
 *  DHIS2 CSV header, spreadsheet CSV with BOM, ADX periods both ways,
 *  filters; and the round trip export -> import into a fresh aggregator
 *  -> export gives the same values (JSON, CSV, ADX). Also central.h:
 *  self-enrollment, bad rows refused as a whole, revoked key refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "admin_fixture.h"
#include "export.h"

static const char *const DATA =
    "dataelement,period,orgunit,value,storedby,comment,followup\n"
    "HGD_TONG,2025Q1,27901,1000,cán bộ A,\"ghi chú, \"\"có\"\" dấu\",false\n"
    "HGD_CAPQUANG_SO,2025Q1,27901,900,cán bộ A,,true\n"
    "TTHC_TONG,202502,27904,12,,,\n"
    "NTM8_1,2025,27907,true,,,\n"
    "HSCV_TONG,2025Q3,27898-2025,110,,,\n";

static int
setup(void **state)
{
    afx_t *fx = afx_new(NULL, NULL, NULL);
    assert_int_equal(afx_import(fx, "d.csv", DATA, afx_ms(2025, 10, 1, 0),
                                NULL), CDS_OK);
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

static char *
export(afx_t *fx, export_format_t f, bool bom, bool adx, const char *ou)
{
    export_opts_t o = { .filter = { .org_unit = ou, .subtree = true },
                        .format = f, .bom = bom, .adx_periods = adx,
                        .catalog = fx->catalog,
                        .exported_ms = afx_ms(2026, 1, 6, 0) };
    char *buf = NULL, err[256] = "";
    AFX_CAPTURE(buf, export_run(fx->store, &o, out, err, sizeof err));
    return buf;
}

static void
test_dhis2_json_field_names(void **state)
{
    afx_t *fx = *state;
    char *buf = export(fx, EXPORT_DHIS2_JSON, false, false, NULL);
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    json_t *vals = json_object_get(j, "dataValues");
    assert_int_equal(json_array_size(vals), 5);
    /* DHIS2's dataValueSet data value fields, exactly */
    static const char *const names[] = {
        "dataElement", "period", "orgUnit", "categoryOptionCombo",
        "attributeOptionCombo", "value", "storedBy", "created",
        "lastUpdated", "comment", "followup",
    };
    json_t *v = json_array_get(vals, 3);       /* ordered by org unit */
    assert_int_equal(json_object_size(v), 11);
    for (size_t i = 0; i < 11; i++)
        assert_non_null(json_object_get(v, names[i]));
    v = json_array_get(vals, 2);  /* 27898-2025, 27901 HGD_CAPQUANG_SO, here */
    assert_string_equal(json_string_value(json_object_get(v, "dataElement")),
                        "HGD_TONG");
    assert_string_equal(json_string_value(json_object_get(v, "comment")),
                        "ghi chú, \"có\" dấu");
    assert_string_equal(json_string_value(json_object_get(v,
                                                          "categoryOptionCombo")),
                        "default");
    assert_true(json_is_false(json_object_get(v, "followup")));
    assert_true(json_is_true(json_object_get(json_array_get(vals, 1),
                                             "followup")));
    assert_string_equal(json_string_value(json_object_get(v, "lastUpdated")),
                        "2025-10-01T00:00:00.000Z");
    json_decref(j);
    free(buf);
}

static void
test_csv_forms(void **state)
{
    afx_t *fx = *state;
    char *buf = export(fx, EXPORT_DHIS2_CSV, false, false, "27901");
    assert_true(strncmp(buf, "dataelement,period,orgunit,categoryoptioncombo,"
                             "attributeoptioncombo,value,storedby,"
                             "lastupdated,comment,followup\r\n", 105) == 0);
    assert_non_null(strstr(buf, "HGD_TONG,2025Q1,27901,default,default,1000,"
                                "cán bộ A,2025-10-01T00:00:00.000Z,"
                                "\"ghi chú, \"\"có\"\" dấu\",false\r\n"));
    free(buf);
    buf = export(fx, EXPORT_CSV, true, false, "27904");
    assert_memory_equal(buf, "\xEF\xBB\xBF" "orgunit,orgunitname,", 23);
    assert_non_null(strstr(buf, "27904,Xã Mỹ Thạnh Bắc,TTHC_TONG,Tổng số hồ "
                                "sơ thủ tục hành chính được tiếp nhận,files,"
                                "202502,12,"));
    free(buf);
    /* ADX notation: the spreadsheet CSV on request, ADX always (DHIS2
     * reads it only there: refused in dhis2-csv/json, below) */
    buf = export(fx, EXPORT_CSV, false, true, "27904");
    assert_non_null(strstr(buf, ",files,2025-02-01/P1M,12,"));
    free(buf);
    buf = export(fx, EXPORT_ADX, false, false, "27904");
    assert_non_null(strstr(buf, "<adx exported=\"2026-01-06T00:00:00.000Z\" "
                                "xmlns=\"urn:ihe:qrph:adx:2015\">"));
    assert_non_null(strstr(buf, "orgUnit=\"27904\" period=\"2025-02-01/P1M\""));
    free(buf);
    /* filters: one indicator, a period range */
    export_opts_t o = { .filter = { .subtree = true, .from = "2025Q3",
                                    .to = "2025Q4" },
                        .format = EXPORT_DHIS2_CSV };
    char err[256];
    AFX_CAPTURE(buf, export_run(fx->store, &o, out, err, sizeof err));
    assert_non_null(strstr(buf, "HSCV_TONG,2025Q3,27898-2025"));
    assert_null(strstr(buf, "2025Q1"));
    free(buf);
    FILE *devnull = fopen("/dev/null", "w");
    o.filter.from = "2025Q9";
    assert_int_equal(export_run(fx->store, &o, devnull, err, sizeof err),
                     CDS_EBADPERIOD);
    o.filter.from = NULL;
    o.filter.org_unit = "nope";
    assert_int_equal(export_run(fx->store, &o, devnull, err, sizeof err),
                     CDS_EUNKNOWNORGUNIT);
    fclose(devnull);
    export_format_t f;
    assert_int_equal(export_format_parse("dhis2-csv", &f), CDS_OK);
    assert_int_equal(f, EXPORT_DHIS2_CSV);
    assert_int_equal(export_format_parse("xml", &f), CDS_EUSAGE);
}

static void
test_adx_periods(void **state)
{
    (void) state;
    static const char *const pairs[][2] = {
        { "2025", "2025-01-01/P1Y" }, { "2025S2", "2025-07-01/P6M" },
        { "2025Q2", "2025-04-01/P3M" }, { "202502", "2025-02-01/P1M" },
        { "2025W10", "2025-03-03/P7D" }, { "20250315", "2025-03-15/P1D" },
        /* the other DHIS2 types (dates: cds_period_test.c); one duration,
         * several types, told apart by the start */
        { "2025WedW1", "2025-01-01/P7D" }, { "2025ThuW1", "2025-01-02/P7D" },
        { "2025SatW1", "2025-01-04/P7D" }, { "2025SunW1", "2024-12-29/P7D" },
        { "2025BiW1", "2024-12-30/P14D" }, { "202501B", "2025-01-01/P2M" },
        { "2025NovQ2", "2025-02-01/P3M" },
        { "2025AprilS2", "2025-10-01/P6M" },
        { "2025NovS1", "2024-11-01/P6M" }, { "2025April", "2025-04-01/P1Y" },
        { "2025July", "2025-07-01/P1Y" }, { "2025Sep", "2025-09-01/P1Y" },
        { "2025Oct", "2025-10-01/P1Y" }, { "2025Nov", "2024-11-01/P1Y" },
    };
    char buf[32];
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        assert_int_equal(export_period_adx(pairs[i][0], buf, sizeof buf),
                         CDS_OK);
        assert_string_equal(buf, pairs[i][1]);
        assert_int_equal(export_period_dhis2(pairs[i][1], buf, sizeof buf),
                         CDS_OK);
        assert_string_equal(buf, pairs[i][0]);
        assert_int_equal(export_period_dhis2(pairs[i][0], buf, sizeof buf),
                         CDS_OK);
        assert_string_equal(buf, pairs[i][0]);
    }
    assert_int_equal(export_period_dhis2("2025-03-03/P1W", buf, sizeof buf),
                     CDS_OK);
    assert_string_equal(buf, "2025W10");
    assert_int_equal(export_period_dhis2("2024-12-30/P2W", buf, sizeof buf),
                     CDS_OK);
    assert_string_equal(buf, "2025BiW1");
    /* March starts neither a quarter (Jan, Apr, ...) nor a November
     * quarter (Nov, Feb, May, Aug) */
    assert_int_equal(export_period_dhis2("2025-03-01/P3M", buf, sizeof buf),
                     CDS_EBADPERIOD);
    assert_int_equal(export_period_dhis2("2025-02-01/P2M", buf, sizeof buf),
                     CDS_EBADPERIOD);          /* bi-months start odd */
    assert_int_equal(export_period_dhis2("2025-02-01/P1Y", buf, sizeof buf),
                     CDS_EBADPERIOD);          /* no February year */
    assert_int_equal(export_period_dhis2("2025-01-03/P7D", buf, sizeof buf),
                     CDS_EBADPERIOD);          /* a Friday */
    assert_int_equal(export_period_dhis2("2025-01-06/P14D", buf,
                                         sizeof buf), CDS_EBADPERIOD);
    assert_int_equal(export_period_adx("2025Q5", buf, sizeof buf),
                     CDS_EBADPERIOD);
}

/* Import text into a fresh aggregator and export it again as f. */
static char *
reimport(const char *text, const char *name, export_format_t f, bool adx)
{
    afx_t *b = afx_new(NULL, NULL, NULL);
    central_result_t res;
    assert_int_equal(afx_import(b, name, text, afx_ms(2026, 1, 5, 0), &res),
                     CDS_OK);
    assert_int_equal(res.applied, 5);
    assert_int_equal(res.rejected, 0);
    char *out = export(b, f, false, adx, NULL);
    afx_destroy(&b);
    return out;
}

/* The dataValues without the two timestamps (the importing aggregator
 * stamps its own clock). */
static json_t *
values_only(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    json_t *vals = json_incref(json_object_get(j, "dataValues"));
    json_decref(j);
    for (size_t i = 0; i < json_array_size(vals); i++) {
        json_object_del(json_array_get(vals, i), "created");
        json_object_del(json_array_get(vals, i), "lastUpdated");
    }
    return vals;
}

/* ADX notation is DHIS2's only inside ADX XML: refused in its JSON/CSV. */
static void
test_adx_periods_only_in_adx(void **state)
{
    afx_t *fx = *state;
    char err[256] = "";
    for (int f = EXPORT_DHIS2_JSON; f <= EXPORT_DHIS2_CSV; f++) {
        export_opts_t o = { .format = (export_format_t) f,
                            .adx_periods = true, .catalog = fx->catalog };
        assert_int_equal(export_run(fx->store, &o, stdout, err, sizeof err),
                         CDS_EUSAGE);
        assert_non_null(strstr(err, "--format adx"));
    }
}

static void
test_round_trip(void **state)
{
    afx_t *fx = *state;
    /* JSON */
    char *a = export(fx, EXPORT_DHIS2_JSON, false, false, NULL);
    char *b = reimport(a, "a.json", EXPORT_DHIS2_JSON, false);
    json_t *va = values_only(a), *vb = values_only(b);
    assert_int_equal(json_array_size(va), 5);
    assert_true(json_equal(va, vb));
    json_decref(va);
    json_decref(vb);
    free(b);
    /* an ADX document: the same values and comments (ADX carries no
     * storedBy or followup, export_adx.h) */
    char *adx = export(fx, EXPORT_ADX, false, false, NULL);
    b = reimport(adx, "a.adx", EXPORT_DHIS2_JSON, false);
    va = values_only(a);
    vb = values_only(b);
    for (size_t i = 0; i < json_array_size(va); i++)
        for (int k = 0; k < 2; k++) {
            const char *drop = k ? "followup" : "storedBy";
            json_object_del(json_array_get(va, i), drop);
            json_object_del(json_array_get(vb, i), drop);
        }
    assert_true(json_equal(va, vb));
    json_decref(va);
    json_decref(vb);
    free(b);
    free(adx);
    /* CSV (with a BOM), compared without the lastupdated column */
    char *csv = export(fx, EXPORT_DHIS2_CSV, true, false, NULL);
    b = reimport(csv, "a.csv", EXPORT_DHIS2_JSON, false);
    va = values_only(a);
    vb = values_only(b);
    assert_true(json_equal(va, vb));
    json_decref(va);
    json_decref(vb);
    free(b);
    free(csv);
    free(a);
}

static void
test_import_refuses_bad_files(void **state)
{
    afx_t *fx = *state;
    central_result_t res;
    /* one bad row: nothing applied */
    assert_int_equal(afx_import(fx, "bad.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q2,27901,5\n"
                                "HGD_TONG,2025Q2,27904,abc\n"
                                "NOPE,2025Q2,27904,1\n"
                                "HGD_TONG,2025Q2,nope,1\n",
                                afx_ms(2025, 10, 2, 0), &res), CDS_EBADFIELD);
    char *buf = export(fx, EXPORT_DHIS2_CSV, false, false, NULL);
    assert_null(strstr(buf, "2025Q2"));
    free(buf);
    assert_int_equal(afx_import(fx, "dup.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q2,27901,5\n"
                                "HGD_TONG,2025Q2,27901,6\n",
                                afx_ms(2025, 10, 2, 0), &res), CDS_EBADFIELD);
    assert_int_equal(afx_import(fx, "x.json", "{\"dataValues\": 3}",
                                afx_ms(2025, 10, 2, 0), &res),
                     CDS_EMALFORMED);
    assert_int_equal(afx_import(fx, "y.csv", "period,orgunit,value\n",
                                afx_ms(2025, 10, 2, 0), &res),
                     CDS_EMALFORMED);
    /* a correction wins over the stored value and uses the next seqs */
    assert_int_equal(afx_import(fx, "ok.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q1,27901,1001\n",
                                afx_ms(2025, 10, 2, 0), &res), CDS_OK);
    assert_int_equal(res.first_seq, 6);
    assert_int_equal(res.last_seq, 6);
    buf = export(fx, EXPORT_DHIS2_CSV, false, false, "27901");
    assert_non_null(strstr(buf, "HGD_TONG,2025Q1,27901,default,default,1001,"
                                "aggregator,"));
    free(buf);
    /* revoking the aggregator's own key stops central imports */
    store_agent_t a;
    assert_int_equal(store_agent_find(fx->store,
                                      cds_identity_sign_pk(fx->id), &a),
                     CDS_OK);
    assert_string_equal(a.label, CENTRAL_LABEL);
    assert_int_equal(store_agent_revoke(fx->store, a.id, 5), CDS_OK);
    char err[256];
    assert_int_equal(central_enroll_self(fx->store, fx->id, 6, err,
                                         sizeof err), CDS_EREVOKED);
    assert_int_equal(afx_import(fx, "ok2.csv",
                                "dataelement,period,orgunit,value\n"
                                "HGD_TONG,2025Q1,27901,7\n",
                                afx_ms(2025, 10, 3, 0), &res), CDS_EREVOKED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dhis2_json_field_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_csv_forms, setup, teardown),
        cmocka_unit_test(test_adx_periods),
        cmocka_unit_test_setup_teardown(test_adx_periods_only_in_adx, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_refuses_bad_files, setup,
                                        teardown),
    };
    return teststore_main("export", tests, sizeof tests / sizeof *tests);
}
