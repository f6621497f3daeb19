/*  Unit tests for cds_adx: ADX periods for every period type both ways
 *  (expected forms worked out by hand from the DHIS2 period definitions
 *  in cds_period.h, never by the code under test); the reader on a good
 *  document (group attributes on each value, annotations, category
 *  attributes, DHIS2's categoryOptionCombo) and on every refusal it
 *  promises (cds_adx.h), with the line named; DHIS2's value-in-annotation
 *  rule for BOOLEAN/TEXT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_adx.h"
#include "cds_err.h"
#include "cds_period.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_periods(void **state)
{
    (void) state;
    /* id, ADX form: one of every type */
    static const char *const pairs[][2] = {
        { "20250315", "2025-03-15/P1D" },
        { "2025W10", "2025-03-03/P7D" },      /* ISO W1 = 2024-12-30 */
        { "2025WedW1", "2025-01-01/P7D" },    /* Wed week holding 4 Jan */
        { "2025ThuW1", "2025-01-02/P7D" },
        { "2025SatW1", "2025-01-04/P7D" },
        { "2025SunW1", "2024-12-29/P7D" },
        { "2025BiW1", "2024-12-30/P14D" },
        { "202503", "2025-03-01/P1M" },
        { "202502B", "2025-03-01/P2M" },
        { "2025Q2", "2025-04-01/P3M" },
        { "2025NovQ1", "2024-11-01/P3M" },
        { "2025S2", "2025-07-01/P6M" },
        { "2025AprilS1", "2025-04-01/P6M" },
        { "2025NovS1", "2024-11-01/P6M" },
        { "2025", "2025-01-01/P1Y" },
        { "2025April", "2025-04-01/P1Y" },
        { "2025July", "2025-07-01/P1Y" },
        { "2025Sep", "2025-09-01/P1Y" },
        { "2025Oct", "2025-10-01/P1Y" },
        { "2025Nov", "2024-11-01/P1Y" },      /* named by the year it ends */
    };
    char buf[CDS_ADX_PERIOD_LEN], id[CDS_PERIOD_ID_LEN];
    int seen[CDS_PT_COUNT] = { 0 };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        cds_period_t p;
        assert_int_equal(cds_period_parse(pairs[i][0], &p), CDS_OK);
        seen[p.type] = 1;
        assert_int_equal(cds_adx_period_format(pairs[i][0], buf, sizeof buf),
                         CDS_OK);
        assert_string_equal(buf, pairs[i][1]);
        assert_int_equal(cds_adx_period_parse(pairs[i][1], id, sizeof id),
                         CDS_OK);
        assert_string_equal(id, pairs[i][0]);
    }
    for (int t = 0; t < CDS_PT_COUNT; t++)
        assert_true(seen[t]);              /* every supported type */
    assert_int_equal(cds_adx_period_parse("2025-03-03/P1W", id, sizeof id),
                     CDS_OK);
    assert_string_equal(id, "2025W10");
    static const char *const bad[] = { "2025Q1", "2025-01-02/P3M",
                                       "2025-01-01/P5M", "2025-02-30/P1D",
                                       "/P1M", "2025-01-01/", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cds_adx_period_parse(bad[i], id, sizeof id),
                         CDS_EBADPERIOD);
    assert_int_equal(cds_adx_period_format("2025Q5", buf, sizeof buf),
                     CDS_EBADPERIOD);
}

/* The values a document gave, one line each. */
typedef struct {
    char text[4096];
    int calls;
} seen_t;

static int
collect(const cds_adx_value_t *v, void *arg)
{
    seen_t *s = arg;
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used,
             "%zu/%zu %s %s %s(%s) %s %s %s %s [%s]\n", v->line,
             v->group_line, v->data_set, v->org_unit,
             v->period ? v->period : "-", v->period_given,
             v->attr_combo, v->data_element, v->value, v->disagg,
             v->annotation ? v->annotation : "");
    s->calls++;
    return CDS_OK;
}

static int
read_doc(const char *doc, seen_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    err[0] = '\0';
    return cds_adx_read("t.adx", doc, strlen(doc), collect, s, err, errlen);
}

static void
test_read_good(void **state)
{
    (void) state;
    const char *doc =
        "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!-- a comment -->\n"
        "<adx xmlns=\"urn:ihe:qrph:adx:2015\" exported=\"x\"\n"
        "     xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
        "  <group orgUnit=\"OU1\" period=\"2025-01-01/P3M\" dataSet=\"DS\"\n"
        "         completeDate=\"2025-04-02\" xsi:type=\"ignored\">\n"
        "    <dataValue dataElement=\"A\" value=\"1\"/>\n"
        "    <dataValue dataElement=\"B\" SEX=\"F\" AGE=\"0-4\" value=\"2\">\n"
        "      <annotation>x &amp; <![CDATA[<y>]]></annotation>\n"
        "    </dataValue>\n"
        "  </group>\n"
        "  <group orgUnit=\"OU2\" period=\"2025Q1\" dataSet=\"DS\" FUND=\"N\">\n"
        "    <dataValue dataElement=\"C\" categoryOptionCombo=\"coc\" "
        "value=\"3\"/>\n"
        "  </group>\n"
        "</adx>\n";
    seen_t s;
    char err[300];
    assert_int_equal(read_doc(doc, &s, err, sizeof err), CDS_OK);
    /* lines: where each start tag ends (7/6: the group tag spans 5-6) */
    assert_string_equal(s.text,
        "7/6 DS OU1 2025Q1(2025-01-01/P3M) default A 1 default []\n"
        "8/6 DS OU1 2025Q1(2025-01-01/P3M) default B 2 SEX=F;AGE=0-4 "
        "[x & <y>]\n"
        "13/12 DS OU2 -(2025Q1) FUND=N C 3 coc []\n");
}

/* Each refused document: its problem and line in err. */
static void
test_read_refused(void **state)
{
    (void) state;
    static const char *const cases[][2] = {
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\">\n<group", 
          "t.adx:2: not well-formed XML" },
        { "<adx>\n</adx>", "t.adx:1: <adx>: not in the ADX namespace" },
        { "<root xmlns=\"urn:ihe:qrph:adx:2015\"/>",
          "t.adx:1: <root>: expected <adx> here" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\">\n<group orgUnit=\"O\" "
          "dataSet=\"D\"/></adx>",
          "t.adx:2: <group>: attribute period missing or empty" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\"><group orgUnit=\"O\" "
          "dataSet=\"D\" period=\"2025-01-01/P1M\">\n<dataValue "
          "dataElement=\"E\"/></group></adx>",
          "t.adx:2: <dataValue>: attribute value missing or empty" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\">text</adx>",
          "t.adx:1: text outside an <annotation>: \"text\"" },
        { "<?xml version=\"1.0\"?>\n<!DOCTYPE adx [<!ENTITY e \"x\">]>\n"
          "<adx xmlns=\"urn:ihe:qrph:adx:2015\">&e;</adx>",
          "t.adx:2: a DOCTYPE is not allowed in ADX" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\">&e;</adx>",
          "t.adx:1: not well-formed XML: Entity 'e' not defined" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\"><group orgUnit=\"O\" "
          "dataSet=\"D\" period=\"2025-01-01/P1M\"><dataValue "
          "dataElement=\"E\" value=\"1\"><annotation>\n<b/>"
          "</annotation></dataValue></group></adx>",
          "t.adx:2: <b>: nested deeper than adx/group/dataValue/annotation" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\"><group orgUnit=\"O\" "
          "dataSet=\"D\" period=\"2025-01-01/P1M\"><dataValue "
          "dataElement=\"E\" categoryOptionCombo=\"c\" SEX=\"F\" "
          "value=\"1\"/></group></adx>",
          "both categoryOptionCombo and category attributes (SEX=F)" },
        { "<adx xmlns=\"urn:ihe:qrph:adx:2015\" xmlns:o=\"urn:other\">"
          "<o:group/></adx>",
          "<group>: not in the ADX namespace urn:ihe:qrph:adx:2015 "
          "(urn:other)" },
        { "", "not well-formed XML" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen_t s;
        char err[400];
        int rc = read_doc(cases[i][0], &s, err, sizeof err);
        if (rc != CDS_EMALFORMED || !strstr(err, cases[i][1]))
            fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err,
                     cases[i][1]);
    }
}

/* Attributes: more than CDS_ADX_MAX_ATTRS, or one over CDS_ADX_MAX_TEXT. */
static void
test_read_bounds(void **state)
{
    (void) state;
    char *doc = malloc(20000);
    assert_non_null(doc);
    size_t n = (size_t) sprintf(doc, "<adx xmlns=\"urn:ihe:qrph:adx:2015\""
                                     ">\n<group");
    for (int i = 0; i <= CDS_ADX_MAX_ATTRS; i++)
        n += (size_t) sprintf(doc + n, " a%d=\"x\"", i);
    strcpy(doc + n, "/></adx>");
    seen_t s;
    char err[400];
    assert_int_equal(read_doc(doc, &s, err, sizeof err), CDS_EMALFORMED);
    assert_non_null(strstr(err, "t.adx:2: more than 32 attributes"));
    n = (size_t) sprintf(doc, "<adx xmlns=\"urn:ihe:qrph:adx:2015\">"
                              "<group dataSet=\"");
    memset(doc + n, 'A', CDS_ADX_MAX_TEXT + 1);
    strcpy(doc + n + CDS_ADX_MAX_TEXT + 1, "\"/></adx>");
    assert_int_equal(read_doc(doc, &s, err, sizeof err), CDS_EMALFORMED);
    assert_non_null(strstr(err, "attribute dataSet: longer than 4096"));
    free(doc);
}

/* A callback's code stops the reader and comes back unchanged. */
static int
stop(const cds_adx_value_t *v, void *arg)
{
    (void) v;
    (*(int *) arg)++;
    return CDS_EBADFIELD;
}

static void
test_callback_stops(void **state)
{
    (void) state;
    const char *doc = "<adx xmlns=\"urn:ihe:qrph:adx:2015\"><group "
                      "orgUnit=\"O\" dataSet=\"D\" period=\"2025-01-01/P1M\">"
                      "<dataValue dataElement=\"E\" value=\"1\"/>"
                      "<dataValue dataElement=\"F\" value=\"1\"/>"
                      "</group></adx>";
    int calls = 0;
    char err[200] = "";
    assert_int_equal(cds_adx_read("t", doc, strlen(doc), stop, &calls, err,
                                  sizeof err), CDS_EBADFIELD);
    assert_int_equal(calls, 1);
}

static void
test_resolve(void **state)
{
    (void) state;
    cds_indicator_t num = { .type = CDS_VT_INTEGER };
    cds_indicator_t boolean = { .type = CDS_VT_BOOLEAN };
    cds_indicator_t text = { .type = CDS_VT_TEXT };
    cds_adx_value_t v = { .value = "0", .annotation = "true" };
    const char *value, *comment;
    assert_int_equal(cds_adx_resolve(&v, &boolean, &value, &comment), 0);
    assert_string_equal(value, "true");
    assert_null(comment);
    assert_int_equal(cds_adx_resolve(&v, &num, &value, &comment), 0);
    assert_string_equal(value, "0");
    assert_string_equal(comment, "true");
    assert_int_equal(cds_adx_resolve(&v, NULL, &value, &comment), 0);
    assert_string_equal(value, "0");
    v.annotation = NULL;
    assert_int_equal(cds_adx_resolve(&v, &text, &value, &comment), -1);
    assert_int_equal(cds_adx_resolve(&v, &num, &value, &comment), 0);
    assert_null(comment);
    assert_true(cds_adx_sniff(" \r\n<adx", 7));
    assert_true(cds_adx_sniff("\xEF\xBB\xBF<", 4));
    assert_false(cds_adx_sniff("dataelement,", 12));
    assert_false(cds_adx_sniff("{", 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_read_good),
        cmocka_unit_test(test_read_refused),
        cmocka_unit_test(test_read_bounds),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
