/*  Unit tests for cds_dvs, the DHIS2 dataValueSet reader: header
 *  detection, both header spellings, DHIS2's column positions (short rows
 *  included), forced --header/--no-header, JSON list and single-form
 *  layouts, DHIS2's boolean spellings, and the refusals with their
 *  file:line messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_dvs.h"
#include "cds_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 8

/* The rows a read handed over, as "f0|f1|...|f13" plus columns. */
typedef struct {
    size_t n;
    char text[MAX_ROWS][512];
    int col[MAX_ROWS][CDS_DVS__COUNT];
    size_t line[MAX_ROWS];
    bool json[MAX_ROWS];
} got_t;

static int
collect(void *arg, const cds_dvs_row_t *row)
{
    got_t *g = arg;
    assert_true(g->n < MAX_ROWS);
    char *t = g->text[g->n];
    size_t o = 0;
    for (int f = 0; f < CDS_DVS__COUNT; f++)
        o += (size_t) snprintf(t + o, 512 - o, "%s%s", f ? "|" : "",
                               row->f[f]);
    memcpy(g->col[g->n], row->col, sizeof row->col);
    g->line[g->n] = row->line;
    g->json[g->n] = row->json;
    g->n++;
    return CDS_OK;
}

static int
read_str(const char *s, cds_dvs_header_t h, got_t *g, char *err)
{
    memset(g, 0, sizeof *g);
    err[0] = '\0';
    return cds_dvs_read_mem("t.csv", s, strlen(s), h, collect, g, err, 300);
}

/* Fields: de pe ou coc aoc value storedby lastupdated comment followup
 * deleted created dataset completedate. */
static void
test_long_header_any_order(void **state)
{
    (void) state;
    got_t g;
    char err[300];
    assert_int_equal(read_str("\xEF\xBB\xBFVALUE,orgunit,period,dataelement,"
                              "comment,extra\r\n5,OU,202301,DE,\"a, b\",x\r\n",
                              CDS_DVS_HEADER_AUTO, &g, err), CDS_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.text[0], "DE|202301|OU|||5|||a, b|||||");
    assert_int_equal(g.line[0], 2);
    assert_int_equal(g.col[0][CDS_DVS_DE], 4);
    assert_int_equal(g.col[0][CDS_DVS_COMMENT], 5);
    assert_int_equal(g.col[0][CDS_DVS_COC], 0);    /* absent */
}

static void
test_abbreviated_header(void **state)
{
    (void) state;
    got_t g;
    char err[300];
    assert_int_equal(read_str("de,pe,ou,catoptcombo,attroptcombo,value,strby,"
                              "lstupd,cmt,flwup\n"
                              "DE,2023,OU,NU,NSNN,1,lan,2023-01-01,c,true\n",
                              CDS_DVS_HEADER_AUTO, &g, err), CDS_OK);
    assert_string_equal(g.text[0],
                        "DE|2023|OU|NU|NSNN|1|lan|2023-01-01|c|true||||");
    assert_int_equal(read_str("de,pe,ou,co,ao,value\nDE,2023,OU,X,Y,1\n",
                              CDS_DVS_HEADER_AUTO, &g, err), CDS_OK);
    assert_string_equal(g.text[0], "DE|2023|OU|X|Y|1||||||||");
}

/* No header: positions; "default" twice is data, rows may be short; codes
 * that spell column names ("DE", "OU") are data: the period says so. */
static void
test_positional(void **state)
{
    (void) state;
    got_t g;
    char err[300];
    assert_int_equal(read_str("DE,202301,OU,default,default,5,by,lu,cm,t,f\n"
                              "DE2,202302,OU\n",
                              CDS_DVS_HEADER_AUTO, &g, err), CDS_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0],
                        "DE|202301|OU|default|default|5|by|lu|cm|t|f|||");
    assert_string_equal(g.text[1], "DE2|202302|OU|||||||||||");
    assert_int_equal(g.line[0], 1);
    assert_int_equal(g.col[0][CDS_DVS_VALUE], 6);
    assert_int_equal(g.col[1][CDS_DVS_VALUE], 0);
    /* --no-header: even a row of names is data. */
    assert_int_equal(read_str("de,pe,ou\n", CDS_DVS_HEADER_NO, &g, err),
                     CDS_OK);
    assert_string_equal(g.text[0], "de|pe|ou|||||||||||");
}

static void
test_header_refusals(void **state)
{
    (void) state;
    got_t g;
    char err[300];
    assert_int_equal(read_str("CNT,202301,OU1,,,5\n", CDS_DVS_HEADER_YES, &g,
                              err), CDS_EMALFORMED);
    assert_string_equal(err, "t.csv:1: header: missing column "
                             "\"dataelement\"");
    assert_int_equal(read_str("de,pe,ou,dataelement\nA,1,B,C\n",
                              CDS_DVS_HEADER_AUTO, &g, err), CDS_EMALFORMED);
    assert_string_equal(err, "t.csv:1: header: column 4 \"dataelement\" "
                             "names dataelement again (already column 1)");
    assert_int_equal(read_str("de,pe,ou\nA,1\n", CDS_DVS_HEADER_AUTO, &g,
                              err), CDS_EMALFORMED);
    assert_string_equal(err, "t.csv:2: 2 fields, but the header has 3");
    assert_int_equal(read_str("", CDS_DVS_HEADER_AUTO, &g, err),
                     CDS_EMALFORMED);
    assert_string_equal(err, "t.csv: no data rows");
    assert_int_equal(read_str("dataelement,period,orgunit\r\n",
                              CDS_DVS_HEADER_AUTO, &g, err), CDS_EMALFORMED);
    assert_string_equal(err, "t.csv: no data rows");
    assert_int_equal(read_str("a,\"b\n", CDS_DVS_HEADER_AUTO, &g, err),
                     CDS_EMALFORMED);
    assert_non_null(strstr(err, "t.csv:1: quoted field not closed"));
}

/* JSON: the set's period/orgUnit/aoc/dataSet/completeDate fill what an
 * entry lacks; an entry's own wins; numbers and booleans as text. */
static void
test_json_single_form(void **state)
{
    (void) state;
    got_t g;
    char err[300];
    const char *s = " {\"dataSet\": \"DS\", \"period\": \"2023\", "
                    "\"orgUnit\": \"OU\", \"completeDate\": \"2024-01-02\", "
                    "\"attributeOptionCombo\": \"default\", \"dataValues\": ["
                    "{\"dataElement\": \"A\", \"value\": 12, "
                    "\"followup\": true, \"created\": \"c\", "
                    "\"lastUpdated\": \"u\"},"
                    "{\"dataElement\": \"B\", \"period\": \"2024\", "
                    "\"orgUnit\": \"OU2\", \"value\": 1.5, "
                    "\"deleted\": false}]}";
    assert_int_equal(read_str(s, CDS_DVS_HEADER_AUTO, &g, err), CDS_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0],
                        "A|2023|OU||default|12||u||true||c|DS|2024-01-02");
    assert_string_equal(g.text[1],
                        "B|2024|OU2||default|1.5|||||false||DS|2024-01-02");
    assert_true(g.json[1]);
    assert_int_equal(g.line[1], 2);
    assert_int_equal(read_str("{\"dataValues\": {}}", CDS_DVS_HEADER_AUTO,
                              &g, err), CDS_EMALFORMED);
    assert_string_equal(err, "t.csv:1: dataValues: expected an array of "
                             "data values");
    assert_int_equal(read_str("{\"a\": 1, \"a\": 2}", CDS_DVS_HEADER_AUTO,
                              &g, err), CDS_EMALFORMED);
    assert_non_null(strstr(err, "t.csv:1: duplicate object key"));
}

static void
test_flags_and_names(void **state)
{
    (void) state;
    const char *yes[] = {"true", "TRUE", "True", "t", "T", "1"};
    const char *no[] = {"", "false", "FALSE", "f", "F", "0"};
    const char *bad[] = {"yes", "2", "tru", " true", "y"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(cds_dvs_flag(yes[i]), 1);
        assert_int_equal(cds_dvs_flag(no[i]), 0);
    }
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(cds_dvs_flag(bad[i]), -1);
    assert_int_equal(cds_dvs_lookup("STRBY"), CDS_DVS_STOREDBY);
    assert_int_equal(cds_dvs_lookup("lstupd"), CDS_DVS_LASTUPDATED);
    assert_int_equal(cds_dvs_lookup("flwup"), CDS_DVS_FOLLOWUP);
    assert_int_equal(cds_dvs_lookup("cmt"), CDS_DVS_COMMENT);
    assert_int_equal(cds_dvs_lookup("nope"), -1);
    assert_string_equal(cds_dvs_name(CDS_DVS_AOC), "attributeoptioncombo");
    cds_dvs_row_t row;
    memset(&row, 0, sizeof row);
    for (int f = 0; f < CDS_DVS__COUNT; f++)
        row.f[f] = "";
    const char *field = NULL;
    char msg[400];
    row.f[CDS_DVS_FOLLOWUP] = "T";
    row.f[CDS_DVS_AOC] = "default";
    assert_int_equal(cds_dvs_row_refusal(&row, &field, msg, sizeof msg), 0);
    row.f[CDS_DVS_DELETED] = "ja";
    assert_int_equal(cds_dvs_row_refusal(&row, &field, msg, sizeof msg), -1);
    assert_string_equal(field, "deleted");
    assert_string_equal(msg, "\"ja\": expected true or false (t/f, 1/0)");
    row.f[CDS_DVS_DELETED] = "";
    row.f[CDS_DVS_AOC] = "NguonNSNN";
    assert_int_equal(cds_dvs_row_refusal(&row, &field, msg, sizeof msg), -1);
    assert_string_equal(field, "attributeoptioncombo");
    assert_non_null(strstr(msg, "\"NguonNSNN\": attribute option combos"));
    cds_dvs_header_t h;
    assert_int_equal(cds_dvs_header_flags(true, true, &h), -1);
    assert_int_equal(cds_dvs_header_flags(false, true, &h), 0);
    assert_int_equal(h, CDS_DVS_HEADER_NO);
    assert_int_equal(cds_dvs_header_flags(false, false, &h), 0);
    assert_int_equal(h, CDS_DVS_HEADER_AUTO);
}

/* DHIS2 timestamps as DHIS2 writes them (CSV "+0000", JSON without a
 * zone, a bare date) and the refusals. */
static void
test_times(void **state)
{
    (void) state;
    uint64_t ms = 1;
    static const struct { const char *s; uint64_t ms; } ok[] = {
        {"", 0},
        {"2025-04-02", 1743552000000ull},
        {"2025-04-02T08:15:00.000+0000", 1743581700000ull},
        {"2025-04-02T08:15:00.000", 1743581700000ull},
        {"2025-04-02T08:15:00Z", 1743581700000ull},
        {"2025-04-02T08:15", 1743581700000ull},
        {"2025-04-02 08:15:00.5", 1743581700500ull},
        {"2025-04-02T15:15:00.000+07:00", 1743581700000ull},
        {"2025-04-02T01:15:00-07", 1743581700000ull},
        {"2025-04-02T08:15:00.123456", 1743581700123ull},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (cds_dvs_time(ok[i].s, &ms) != 0)
            fail_msg("refused: %s", ok[i].s);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {
        "yesterday", "2025-4-2", "2025-02-30", "2025-13-01", "1969-12-31",
        "2025-04-02T25:00", "2025-04-02T08:15:00.", "2025-04-02T08:15+7",
        "2025-04-02T08:15:00+0000x", "2025-04-02x", "02/04/2025",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cds_dvs_time(bad[i], &ms) != -1)
            fail_msg("accepted: %s", bad[i]);
}

/* The callback's code stops the reading and is returned. */
static int
stop_at_first(void *arg, const cds_dvs_row_t *row)
{
    (*(int *) arg)++;
    (void) row;
    return CDS_ENOMEM;
}

static void
test_callback_stops(void **state)
{
    (void) state;
    int calls = 0;
    char err[300];
    const char *s = "A,1,B\nC,2,D\n";
    assert_int_equal(cds_dvs_read_mem("t.csv", s, strlen(s),
                                      CDS_DVS_HEADER_AUTO, stop_at_first,
                                      &calls, err, sizeof err), CDS_ENOMEM);
    assert_int_equal(calls, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_header_any_order),
        cmocka_unit_test(test_abbreviated_header),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_json_single_form),
        cmocka_unit_test(test_flags_and_names),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
