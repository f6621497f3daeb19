/*  completeness: who reported what for one period. See completeness.h;
 *  SQL in completeness_sql.h (COMPLETENESS_SQL_REPORTED). Cost: one
 *  indexed look-up per (unit, indicator): 100 communes x 40 indicators =
 *  4000, milliseconds. */
#include "completeness.h"

#include "completeness_sql.h"
#include "cds_err.h"
#include "cds_util.h"
#include "orgmap.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

void
completeness_clear(completeness_t *c)
{
    for (size_t i = 0; i < c->n_units; i++) {
        free(c->units[i].code);
        free(c->units[i].name);
        free(c->units[i].missing);
    }
    free(c->units);
    memset(c, 0, sizeof *c);
}

/* The expected indicator codes (borrowed) into a malloc'd array. */
static int
expected_indicators(const completeness_opts_t *o, const cds_period_t *p,
                    const char ***codes, size_t *n, char *err,
                    size_t errlen)
{
    size_t cap = o->n_indicators ? o->n_indicators
                                 : cds_catalog_size(o->catalog);
    *codes = calloc(cap ? cap : 1, sizeof **codes);
    *n = 0;
    if (!*codes)
        return CDS_ENOMEM;
    for (size_t i = 0; i < cap; i++) {
        const cds_indicator_t *ind = o->n_indicators
            ? cds_catalog_find(o->catalog, o->indicators[i])
            : cds_catalog_at(o->catalog, i);
        if (!ind) {
            snprintf(err, errlen, "indicator: \"%.64s\" is not in the "
                     "catalog", o->indicators[i]);
            return CDS_EUNKNOWNINDICATOR;
        }
        if (!o->n_indicators && (ind->agg == CDS_AGG_RATIO
                                 || !ind->has_period_type
                                 || ind->period_type != p->type))
            continue;
        (*codes)[(*n)++] = ind->code;
    }
    return CDS_OK;
}

/* Append code to the comma-separated list *list. */
static int
list_add(char **list, const char *code)
{
    size_t a = *list ? strlen(*list) : 0, b = strlen(code);
    char *s = realloc(*list, a + b + 2);
    if (!s)
        return CDS_ENOMEM;
    if (a)
        s[a++] = ',';
    memcpy(s + a, code, b + 1);
    *list = s;
    return CDS_OK;
}

/* One unit's line: every expected indicator looked up. */
static int
unit_line(cds_sql_stmt_t *st, const char *period,
          const char **codes, size_t n, int64_t deadline,
          completeness_unit_t *u)
{
    int rc = CDS_OK;
    u->expected = n;
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        cds_sql_bind_text(st, ":ou", u->code);
        cds_sql_bind_text(st, ":de", codes[i]);
        cds_sql_bind_text(st, ":pe", period);
        int step = cds_sql_step(st);
        if (step == CDS_SQL_ROW) {
            int64_t first = cds_sql_col_int64(st, 1);
            int64_t last = cds_sql_col_int64(st, 2);
            u->reported++;
            u->late += first > deadline;
            if (last > u->last_ms)
                u->last_ms = last;
        } else if (step == CDS_SQL_DONE)
            rc = list_add(&u->missing, codes[i]);
        else
            rc = step;                 /* logged by cds_sql */
        cds_sql_reset(st);
    }
    return rc;
}

static int
check_opts(store_t *store, const completeness_opts_t *o, cds_period_t *p,
           char *err, size_t errlen)
{
    if (!o->org_unit || !o->period) {
        snprintf(err, errlen, "completeness needs --org-unit and --period");
        return CDS_EUSAGE;
    }
    if (cds_period_parse(o->period, p) != CDS_OK) {
        snprintf(err, errlen, "period: \"%.64s\" is not a DHIS2 period "
                 "(2025, 2025Q1, 202503, ...)", o->period);
        return CDS_EBADPERIOD;
    }
    int known = store_orgunit_exists(store, o->org_unit);
    if (known <= 0) {
        snprintf(err, errlen, "org-unit: \"%.64s\" is not in the org-unit "
                 "list", o->org_unit);
        return known < 0 ? -known : CDS_EUNKNOWNORGUNIT;
    }
    return CDS_OK;
}

int
completeness_compute(store_t *store, const completeness_opts_t *o,
                     completeness_t *out, char *err, size_t errlen)
{
    cds_period_t p;
    const char **codes = NULL;
    size_t n = 0, nu = 0;
    orgmap_unit_t *units = NULL;
    cds_sql_stmt_t *st = NULL;
    bool snap = false;                 /* in a read snapshot */
    memset(out, 0, sizeof *out);
    int rc = check_opts(store, o, &p, err, errlen);
    if (rc == CDS_OK)
        rc = expected_indicators(o, &p, &codes, &n, err, errlen);
    if (rc == CDS_OK && (rc = store_read_begin(store)) == CDS_OK)
        snap = true;                   /* units and values of one moment */
    if (rc == CDS_OK)
        rc = orgmap_owing(store, o->org_unit, p.start, p.end, &units, &nu);
    if (rc == CDS_OK
        && !(st = store_read(store, COMPLETENESS_SQL_REPORTED, NULL)))
        rc = CDS_ERROR;
    if (rc == CDS_OK)
        out->deadline_ms = ((int64_t) p.end + 1
                            + o->deadline_days[cds_period_type_family(
                                p.type)]) * DAY_MS;
    if (rc == CDS_OK && !(out->units = calloc(nu ? nu : 1,
                                              sizeof *out->units)))
        rc = CDS_ENOMEM;
    for (size_t i = 0; rc == CDS_OK && i < nu; i++) {
        completeness_unit_t *u = &out->units[out->n_units++];
        u->code = units[i].code;
        u->name = units[i].name;
        units[i].code = units[i].name = NULL;
        rc = unit_line(st, o->period, codes, n, out->deadline_ms, u);
        u->overdue = u->reported < u->expected
                     && (int64_t) o->now_ms > out->deadline_ms;
        out->units_complete += u->reported == u->expected;
        out->values += u->reported;
        out->values_expected += u->expected;
    }
    cds_sql_finalize(&st);
    if (snap)
        store_read_end(store);
    orgmap_units_free(units, nu);
    free(codes);
    if (rc != CDS_OK)
        completeness_clear(out);
    return rc;
}

static const char *const comp_header[] = {
    "orgunit", "orgunitname", "reported", "expected", "status", "late",
    "overdue", "last_reported", "missing",
};
#define COMP_COLS (sizeof comp_header / sizeof comp_header[0])

static int
add_unit(report_t *r, const completeness_unit_t *u)
{
    char rep[24], exp[24], late[24], last[40] = "";
    snprintf(rep, sizeof rep, "%zu", u->reported);
    snprintf(exp, sizeof exp, "%zu", u->expected);
    snprintf(late, sizeof late, "%zu", u->late);
    if (u->last_ms)
        cds_format_time(last, sizeof last, (uint64_t) u->last_ms);
    const char *status = u->reported == u->expected ? "complete"
                         : u->reported ? "partial" : "missing";
    const char *cells[COMP_COLS] = {
        u->code, u->name, rep, exp, status, late,
        u->overdue ? "true" : "false", last, u->missing ? u->missing : "",
    };
    return report_add(r, cells) == 0 ? CDS_OK : CDS_ENOMEM;
}

static double
pct(size_t a, size_t b)
{
    return b ? 100.0 * (double) a / (double) b : 0.0;
}

int
completeness_run(store_t *store, const completeness_opts_t *o,
                 report_format_t format, FILE *out, char *err, size_t errlen)
{
    completeness_t c;
    int rc = completeness_compute(store, o, &c, err, errlen);
    if (rc != CDS_OK)
        return rc;
    report_t *r = report_new(format, comp_header, "ssnnsnbss", COMP_COLS);
    rc = r ? CDS_OK : CDS_ENOMEM;
    for (size_t i = 0; rc == CDS_OK && i < c.n_units; i++)
        rc = add_unit(r, &c.units[i]);
    if (rc == CDS_OK) {
        char footer[256], deadline[40];
        cds_format_time(deadline, sizeof deadline, (uint64_t) c.deadline_ms);
        snprintf(footer, sizeof footer, "%zu of %zu org units complete "
                 "(%.1f%%); %zu of %zu values (%.1f%%); deadline %s",
                 c.units_complete, c.n_units,
                 pct(c.units_complete, c.n_units), c.values,
                 c.values_expected, pct(c.values, c.values_expected),
                 deadline);
        json_t *meta = json_pack("{sssssIsIsfsIsIsfss}", "orgUnit",
                                 o->org_unit, "period", o->period,
                                 "unitsComplete", (json_int_t)
                                 c.units_complete, "units", (json_int_t)
                                 c.n_units, "unitsPercent",
                                 pct(c.units_complete, c.n_units), "values",
                                 (json_int_t) c.values, "valuesExpected",
                                 (json_int_t) c.values_expected,
                                 "valuesPercent",
                                 pct(c.values, c.values_expected),
                                 "deadline", deadline);
        report_print(r, out, meta, footer);
    }
    report_destroy(&r);
    completeness_clear(&c);
    return rc;
}
