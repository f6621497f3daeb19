/*  cds_adx: ADX reading over libxml2's xmlTextReader (a pull parser: the
 *  document is never held as a tree) and ADX period notation. See
 *  cds_adx.h for the accepted shape and what is refused.
 *
 *  Design: the reader walks nodes keeping the open group's attributes;
 *  a dataValue is handed to the callback at its end tag (or at once when
 *  it is an empty element), with its annotation text gathered. libxml2's
 *  own error messages are captured through the reader's error handler
 *  rather than printed, and the first one becomes "name:line: problem". */
#include "cds_adx.h"

#include "cds_err.h"
#include "cds_period.h"

#include <libxml/xmlreader.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ISO 8601 durations DHIS2 gives each period type (PeriodType
 * getIso8601Duration). Several types share one; the start date tells
 * them apart (2025-04-01/P1Y is FinancialApril, 2025-01-01/P1Y Yearly). */
static const struct {
    cds_period_type_t type;
    const char *duration;
} adx_durations[] = {
    { CDS_PT_DAILY, "P1D" }, { CDS_PT_WEEKLY, "P7D" },
    { CDS_PT_MONTHLY, "P1M" }, { CDS_PT_QUARTERLY, "P3M" },
    { CDS_PT_SIXMONTHLY, "P6M" }, { CDS_PT_YEARLY, "P1Y" },
    { CDS_PT_WEEKLY_WEDNESDAY, "P7D" }, { CDS_PT_WEEKLY_THURSDAY, "P7D" },
    { CDS_PT_WEEKLY_SATURDAY, "P7D" }, { CDS_PT_WEEKLY_SUNDAY, "P7D" },
    { CDS_PT_BIWEEKLY, "P14D" }, { CDS_PT_BIMONTHLY, "P2M" },
    { CDS_PT_QUARTERLY_NOV, "P3M" }, { CDS_PT_SIXMONTHLY_APRIL, "P6M" },
    { CDS_PT_SIXMONTHLY_NOV, "P6M" }, { CDS_PT_FINANCIAL_APRIL, "P1Y" },
    { CDS_PT_FINANCIAL_JULY, "P1Y" }, { CDS_PT_FINANCIAL_SEP, "P1Y" },
    { CDS_PT_FINANCIAL_OCT, "P1Y" }, { CDS_PT_FINANCIAL_NOV, "P1Y" },
};
#define N_ADX (sizeof adx_durations / sizeof adx_durations[0])

int
cds_adx_period_format(const char *id, char *buf, size_t len)
{
    cds_period_t p;
    char date[16];
    if (!id || cds_period_parse(id, &p) != CDS_OK)
        return CDS_EBADPERIOD;
    for (size_t i = 0; i < N_ADX; i++)
        if (adx_durations[i].type == p.type) {
            int n = snprintf(buf, len, "%s/%s",
                             cds_date_format(p.start, date, sizeof date),
                             adx_durations[i].duration);
            return n > 0 && (size_t) n < len ? CDS_OK : CDS_EBADPERIOD;
        }
    return CDS_EBADPERIOD;
}

int
cds_adx_period_parse(const char *s, char *buf, size_t len)
{
    cds_period_t p;
    char date[16];
    int32_t day;
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t dl = slash ? (size_t) (slash - s) : 0;
    if (!slash || dl >= sizeof date)
        return CDS_EBADPERIOD;
    memcpy(date, s, dl);
    date[dl] = '\0';
    if (cds_date_parse(date, &day) != CDS_OK)
        return CDS_EBADPERIOD;
    /* P1W and P2W are the same durations as P7D and P14D */
    const char *dur = strcmp(slash + 1, "P1W") == 0   ? "P7D"
                      : strcmp(slash + 1, "P2W") == 0 ? "P14D"
                                                      : slash + 1;
    for (size_t i = 0; i < N_ADX; i++)
        if (strcmp(dur, adx_durations[i].duration) == 0
            && cds_period_of_day(adx_durations[i].type, day, buf, len) == 0
            && cds_period_parse(buf, &p) == CDS_OK && p.start == day)
            return CDS_OK;
    return CDS_EBADPERIOD;
}

int
cds_adx_text_valued(const cds_indicator_t *ind)
{
    return ind && (ind->type == CDS_VT_BOOLEAN || ind->type == CDS_VT_TEXT);
}

int
cds_adx_resolve(const cds_adx_value_t *v, const cds_indicator_t *ind,
                const char **value, const char **comment)
{
    if (cds_adx_text_valued(ind)) {
        *value = v->annotation;
        *comment = NULL;
        return v->annotation ? 0 : -1;
    }
    *value = v->value;
    *comment = v->annotation && v->annotation[0] ? v->annotation : NULL;
    return 0;
}

int
cds_adx_sniff(const char *data, size_t len)
{
    size_t i = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r'
                       || data[i] == '\n'))
        i++;
    return i < len && data[i] == '<';
}

/* ---- reading ------------------------------------------------------------ */

enum { A_DS, A_OU, A_PE, A_CD, A_AOC, A_GROUP_EXTRA,   /* group */
       A_DE, A_VALUE, A_COC, A_EXTRA, A_NOTE,          /* dataValue */
       A__COUNT };

typedef struct {
    const char *name;                  /* for messages */
    const char *data;                  /* the document (borrowed) */
    size_t len;
    xmlTextReaderPtr rd;
    char *err;
    size_t errlen;
    int failed;                        /* a problem is in err */
    char *s[A__COUNT];                 /* current group / value strings */
    size_t group_line, value_line;
    size_t nodes, values;
    cds_adx_value_fn *fn;
    void *arg;
} adx_t;

/* The current node's line (where its start tag is), else the parser's
 * (which reads ahead of the node). */
static size_t
line_of(adx_t *a)
{
    xmlNodePtr n = xmlTextReaderCurrentNode(a->rd);
    long l = n ? xmlGetLineNo(n) : -1;
    if (l <= 0)
        l = xmlTextReaderGetParserLineNumber(a->rd);
    return l > 0 ? (size_t) l : 0;
}

/* Record the first problem; always returns CDS_EMALFORMED. */
static int fail(adx_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int
fail(adx_t *a, const char *fmt, ...)
{
    if (!a->failed) {
        char msg[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(a->err, a->errlen, "%s:%zu: %s", a->name, line_of(a), msg);
        a->failed = 1;
    }
    return CDS_EMALFORMED;
}

/* libxml2's message for a document that is not well-formed. */
static void
on_xml_error(void *arg, const char *msg, xmlParserSeverities sev,
             xmlTextReaderLocatorPtr loc)
{
    adx_t *a = arg;
    if (a->failed || (sev != XML_PARSER_SEVERITY_ERROR
                      && sev != XML_PARSER_SEVERITY_VALIDITY_ERROR))
        return;
    int l = xmlTextReaderLocatorLineNumber(loc);
    size_t n = strcspn(msg, "\n");
    snprintf(a->err, a->errlen, "%s:%d: not well-formed XML: %.*s", a->name,
             l > 0 ? l : 0, (int) (n > 200 ? 200 : n), msg);
    a->failed = 1;
}

static void
clear(adx_t *a, int from, int to)
{
    for (int i = from; i <= to; i++) {
        free(a->s[i]);
        a->s[i] = NULL;
    }
}

/* Append "NAME=VALUE" to the ';'-joined list in *list. */
static int
add_pair(char **list, const char *name, const char *value)
{
    size_t old = *list ? strlen(*list) : 0;
    size_t need = old + strlen(name) + strlen(value) + 3;
    char *grown = realloc(*list, need);
    if (!grown)
        return CDS_ENOMEM;
    snprintf(grown + old, need - old, "%s%s=%s", old ? ";" : "", name, value);
    *list = grown;
    return CDS_OK;
}

/* Which slot an attribute of element kind (1 group, 2 dataValue) fills;
 * -1: a disaggregation (extra) attribute. */
static int
slot_of(int kind, const char *name)
{
    static const char *const group[] = { "dataSet", "orgUnit", "period",
                                         "completeDate",
                                         "attributeOptionCombo" };
    static const char *const value[] = { "dataElement", "value",
                                         "categoryOptionCombo" };
    if (kind == 1) {
        for (int i = 0; i < 5; i++)
            if (strcmp(name, group[i]) == 0)
                return A_DS + i;
    } else {
        for (int i = 0; i < 3; i++)
            if (strcmp(name, value[i]) == 0)
                return A_DE + i;
    }
    return -1;
}

/* Store the attributes of the current element (kind 0 adx, 1 group,
 * 2 dataValue, 3 annotation: only 1 and 2 keep them). */
static int
read_attrs(adx_t *a, int kind)
{
    int n = 0, rc = CDS_OK;
    while (rc == CDS_OK && xmlTextReaderMoveToNextAttribute(a->rd) == 1) {
        if (xmlTextReaderIsNamespaceDecl(a->rd) == 1)
            continue;
        const char *name = (const char *) xmlTextReaderConstLocalName(a->rd);
        const char *val = (const char *) xmlTextReaderConstValue(a->rd);
        if (++n > CDS_ADX_MAX_ATTRS)
            return fail(a, "more than %d attributes on one element",
                        CDS_ADX_MAX_ATTRS);
        if (!name || !val)
            return CDS_ENOMEM;
        if (strlen(val) > CDS_ADX_MAX_TEXT)
            return fail(a, "attribute %.60s: longer than %d bytes", name,
                        CDS_ADX_MAX_TEXT);
        if (kind != 1 && kind != 2)
            continue;
        if (xmlTextReaderConstNamespaceUri(a->rd))
            continue;              /* xsi:schemaLocation and the like */
        int slot = slot_of(kind, name);
        if (slot >= 0) {
            free(a->s[slot]);
            rc = (a->s[slot] = strdup(val)) ? CDS_OK : CDS_ENOMEM;
        } else
            rc = add_pair(&a->s[kind == 1 ? A_GROUP_EXTRA : A_EXTRA], name,
                          val);
    }
    xmlTextReaderMoveToElement(a->rd);
    return rc;
}

static int
require(adx_t *a, int slot, const char *elem, const char *attr)
{
    return a->s[slot] && a->s[slot][0]
               ? CDS_OK
               : fail(a, "<%s>: attribute %s missing or empty", elem, attr);
}

/* Hand the finished dataValue to the callback. */
static int
emit(adx_t *a)
{
    char pe[CDS_PERIOD_ID_LEN];
    if (++a->values > CDS_ADX_MAX_VALUES)
        return fail(a, "more than %d dataValues", CDS_ADX_MAX_VALUES);
    const char *disagg = a->s[A_COC] && a->s[A_COC][0] ? a->s[A_COC]
                         : a->s[A_EXTRA] ? a->s[A_EXTRA] : "default";
    if (a->s[A_COC] && a->s[A_COC][0] && a->s[A_EXTRA])
        return fail(a, "<dataValue>: both categoryOptionCombo and category "
                    "attributes (%.80s)", a->s[A_EXTRA]);
    const char *aoc = a->s[A_AOC] && a->s[A_AOC][0] ? a->s[A_AOC]
                      : a->s[A_GROUP_EXTRA] ? a->s[A_GROUP_EXTRA]
                                            : "default";
    cds_adx_value_t v = {
        .line = a->value_line, .group_line = a->group_line,
        .data_set = a->s[A_DS], .org_unit = a->s[A_OU],
        .period_given = a->s[A_PE],
        .period = cds_adx_period_parse(a->s[A_PE], pe, sizeof pe) == CDS_OK
                      ? pe : NULL,
        .complete_date = a->s[A_CD], .attr_combo = aoc,
        .data_element = a->s[A_DE], .value = a->s[A_VALUE],
        .disagg = disagg, .annotation = a->s[A_NOTE],
    };
    int rc = a->fn(&v, a->arg);
    clear(a, A_DE, A_NOTE);
    return rc;
}

/* An element start at depth d: the name and namespace must be the one
 * ADX has there. */
static int
start_element(adx_t *a, int d)
{
    static const char *const names[] = { "adx", "group", "dataValue",
                                         "annotation" };
    const char *name = (const char *) xmlTextReaderConstLocalName(a->rd);
    const char *ns = (const char *) xmlTextReaderConstNamespaceUri(a->rd);
    if (d > 3)
        return fail(a, "<%.60s>: nested deeper than adx/group/dataValue/"
                    "annotation", name);
    if (!name || strcmp(name, names[d]) != 0)
        return fail(a, "<%.60s>: expected <%s> here", name, names[d]);
    if (!ns || strcmp(ns, CDS_ADX_NS) != 0)
        return fail(a, "<%.60s>: not in the ADX namespace " CDS_ADX_NS
                    " (%.80s)", name, ns ? ns : "no namespace");
    if (d == 1) {
        clear(a, 0, A__COUNT - 1);
        a->group_line = line_of(a);
    } else if (d == 2)
        a->value_line = line_of(a);
    int rc = read_attrs(a, d);
    if (rc == CDS_OK && d == 1)
        rc = require(a, A_DS, "group", "dataSet") == CDS_OK
                 && require(a, A_OU, "group", "orgUnit") == CDS_OK
             ? require(a, A_PE, "group", "period") : CDS_EMALFORMED;
    if (rc == CDS_OK && d == 2)
        rc = require(a, A_DE, "dataValue", "dataElement") == CDS_OK
                 ? require(a, A_VALUE, "dataValue", "value")
                 : CDS_EMALFORMED;
    if (rc == CDS_OK && d == 2 && xmlTextReaderIsEmptyElement(a->rd) == 1)
        rc = emit(a);
    return rc;
}

/* Text: only inside an annotation (depth 4), elsewhere only white space. */
static int
text(adx_t *a, int d)
{
    const char *t = (const char *) xmlTextReaderConstValue(a->rd);
    if (!t)
        return CDS_ENOMEM;
    if (d != 4) {
        if (t[strspn(t, " \t\r\n")] != '\0')
            return fail(a, "text outside an <annotation>: \"%.40s\"", t);
        return CDS_OK;
    }
    size_t old = a->s[A_NOTE] ? strlen(a->s[A_NOTE]) : 0;
    if (old + strlen(t) > CDS_ADX_MAX_TEXT)
        return fail(a, "<annotation>: longer than %d bytes",
                        CDS_ADX_MAX_TEXT);
    char *grown = realloc(a->s[A_NOTE], old + strlen(t) + 1);
    if (!grown)
        return CDS_ENOMEM;
    memcpy(grown + old, t, strlen(t) + 1);
    a->s[A_NOTE] = grown;
    return CDS_OK;
}

/* A DOCTYPE, named at its own line: the reader has parsed past it (its
 * node keeps no line), so the line is counted in the document. */
static int
doctype(adx_t *a)
{
    const char *at = memmem(a->data, a->len, "<!DOCTYPE", 9);
    size_t line = 1;
    for (const char *p = a->data; at && p < at; p++)
        line += *p == '\n';
    if (!at)
        return fail(a, "a DOCTYPE is not allowed in ADX (no DTDs, no "
                    "entities)");
    snprintf(a->err, a->errlen, "%s:%zu: a DOCTYPE is not allowed in ADX "
             "(no DTDs, no entities)", a->name, line);
    a->failed = 1;
    return CDS_EMALFORMED;
}

static int
node(adx_t *a)
{
    int type = xmlTextReaderNodeType(a->rd);
    int d = xmlTextReaderDepth(a->rd);
    if (++a->nodes > CDS_ADX_MAX_NODES)
        return fail(a, "more than %d XML nodes", CDS_ADX_MAX_NODES);
    switch (type) {
    case XML_READER_TYPE_ELEMENT:
        return start_element(a, d);
    case XML_READER_TYPE_END_ELEMENT:
        return d == 2 ? emit(a) : CDS_OK;
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA:
    case XML_READER_TYPE_WHITESPACE:
    case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
        return text(a, d);
    case XML_READER_TYPE_DOCUMENT_TYPE:
        return doctype(a);
    case XML_READER_TYPE_ENTITY_REFERENCE:
    case XML_READER_TYPE_ENTITY:
        return fail(a, "entity reference &%.60s; is not allowed in ADX",
                    (const char *) xmlTextReaderConstName(a->rd));
    default:                       /* comments, processing instructions */
        return CDS_OK;
    }
}

int
cds_adx_read(const char *name, const char *data, size_t len,
             cds_adx_value_fn *fn, void *arg, char *err, size_t errlen)
{
    adx_t a = { .name = name, .data = data, .len = len, .err = err,
                .errlen = errlen, .fn = fn, .arg = arg };
    if (len > 0x7fffffff) {
        snprintf(err, errlen, "%s: too large for the XML reader", name);
        return CDS_ETOOBIG;
    }
    /* no NOENT (entities stay references), no DTDLOAD/DTDATTR, no HUGE */
    a.rd = xmlReaderForMemory(data, (int) len, NULL, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOWARNING);
    if (!a.rd) {
        snprintf(err, errlen, "%s: out of memory", name);
        return CDS_ENOMEM;
    }
    xmlTextReaderSetErrorHandler(a.rd, on_xml_error, &a);
    int r, rc = CDS_OK, roots = 0;
    while (rc == CDS_OK && (r = xmlTextReaderRead(a.rd)) == 1) {
        if (xmlTextReaderDepth(a.rd) == 0
            && xmlTextReaderNodeType(a.rd) == XML_READER_TYPE_ELEMENT)
            roots++;
        rc = node(&a);
    }
    if (rc == CDS_OK && (r < 0 || a.failed))
        rc = a.failed ? CDS_EMALFORMED
                      : fail(&a, "not well-formed XML");
    if (rc == CDS_OK && roots == 0)
        rc = fail(&a, "no <adx> element");
    if (rc == CDS_EMALFORMED && !a.failed)
        fail(&a, "refused");
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    clear(&a, 0, A__COUNT - 1);
    xmlFreeTextReader(a.rd);
    return rc;
}
