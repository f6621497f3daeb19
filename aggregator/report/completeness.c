/*  completeness: who reported what for one period. See completeness.h;
 *  SQL in completeness_sql.h (COMPLETENESS_SQL_REPORTED). Cost: one
 *  indexed look-up per (unit, indicator): 100 communes x 40 indicators =
 *  4000, milliseconds. */
#include "completeness.h"

#include "completeness_sql.h"
#include "cds_err.h"
#include "cds_util.h"
#include "orgmap.h"
#include "query.h"

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
    free(c->note);
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
        if (!o->n_indicators && (o->datasets || ind->agg == CDS_AGG_RATIO
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

/* One expected cell: indicator (borrowed) and its deadline. */
typedef struct {
    const char *code;
    int64_t deadline_ms;
} cell_t;

typedef struct {
    const completeness_opts_t *o;
    const cds_period_t *p;
    const char **codes;                /* expected_indicators() */
    size_t n;
    int64_t deadline_ms;               /* the period type's */
    cds_dataset_cell_t *tmp;           /* cds_datasets_cells() */
    cell_t *cells;                     /* this unit's */
    size_t max;                        /* size of both */
} expect_t;

static bool
in_list(const char **codes, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(codes[i], code) == 0)
            return true;
    return false;
}

/* The cells unit owes into e->cells: from the data sets when loaded
 * (entered indicators, narrowed to the --indicator list), else e->codes. */
static size_t
unit_cells(const expect_t *e, const char *unit)
{
    const completeness_opts_t *o = e->o;
    if (!o->datasets) {
        for (size_t i = 0; i < e->n; i++)
            e->cells[i] = (cell_t) { e->codes[i], e->deadline_ms };
        return e->n;
    }
    size_t k = cds_datasets_cells(o->datasets, unit, e->p, e->tmp, e->max);
    size_t m = 0;
    for (size_t i = 0; i < k && i < e->max; i++) {
        const char *code = e->tmp[i].indicator;
        const cds_indicator_t *ind = cds_catalog_find(o->catalog, code);
        if (!ind || ind->agg == CDS_AGG_RATIO
            || (o->n_indicators && !in_list(e->codes, e->n, code)))
            continue;
        int dl = e->tmp[i].deadline_days;
        e->cells[m++] = (cell_t) {
            code, dl < 0 ? e->deadline_ms
                         : ((int64_t) e->p->end + 1 + dl) * DAY_MS };
    }
    return m;
}

/* One unit's line: every expected cell looked up. */
static int
unit_line(cds_sql_stmt_t *st, const char *period, const expect_t *e,
          completeness_unit_t *u)
{
    int rc = CDS_OK;
    size_t n = unit_cells(e, u->code);
    u->expected = n;
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        cds_sql_bind_text(st, ":ou", u->code);
        cds_sql_bind_text(st, ":de", e->cells[i].code);
        cds_sql_bind_text(st, ":pe", period);
        int step = cds_sql_step(st);
        if (step == CDS_SQL_ROW) {
            int64_t first = cds_sql_col_int64(st, 1);
            int64_t last = cds_sql_col_int64(st, 2);
            u->reported++;
            u->late += first > e->cells[i].deadline_ms;
            if (last > u->last_ms)
                u->last_ms = last;
        } else if (step == CDS_SQL_DONE) {
            rc = list_add(&u->missing, e->cells[i].code);
            u->overdue |= (int64_t) e->o->now_ms > e->cells[i].deadline_ms;
        } else
            rc = step;                 /* logged by cds_sql */
        cds_sql_reset(st);
    }
    return rc;
}

/* Every source unit's line into out; with data sets a unit that owes
 * nothing for the period is left out (it is not expected to report). */
static int
fill_units(cds_sql_stmt_t *st, const expect_t *e, orgmap_unit_t *units,
           size_t nu, completeness_t *out)
{
    int rc = CDS_OK;
    for (size_t i = 0; rc == CDS_OK && i < nu; i++) {
        completeness_unit_t *u = &out->units[out->n_units++];
        u->code = units[i].code;
        u->name = units[i].name;
        units[i].code = units[i].name = NULL;
        rc = unit_line(st, e->o->period, e, u);
        if (rc == CDS_OK && e->o->datasets && u->expected == 0) {
            free(u->code);
            free(u->name);
            free(u->missing);
            memset(u, 0, sizeof *u);
            out->n_units--;
            continue;
        }
        if (u->reported < u->expected)
            u->contact = cds_contacts_find(e->o->contacts, u->code);
        out->units_complete += u->reported == u->expected;
        out->values += u->reported;
        out->values_expected += u->expected;
    }
    return rc;
}

static int
check_opts(store_t *store, const completeness_opts_t *o, cds_period_t *p,
           char **note, char *err, size_t errlen)
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
    int32_t from, to;
    char name[520];
    int known = store_orgunit_span(store, o->org_unit, &from, &to, name,
                                   sizeof name);
    if (known <= 0) {
        snprintf(err, errlen, "org-unit: \"%.64s\" is not in the org-unit "
                 "list", o->org_unit);
        return known < 0 ? -known : CDS_EUNKNOWNORGUNIT;
    }
    *note = query_absent_sentence(o->org_unit, name, from, to, o->period,
                                  p);
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
    int rc = check_opts(store, o, &p, &out->note, err, errlen);
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
    expect_t e = { o, &p, codes, n, out->deadline_ms, NULL, NULL,
                   cds_catalog_size(o->catalog) + n + 1 };
    if (rc == CDS_OK && (!(e.tmp = calloc(e.max, sizeof *e.tmp))
                         || !(e.cells = calloc(e.max, sizeof *e.cells))))
        rc = CDS_ENOMEM;
    if (rc == CDS_OK)
        rc = fill_units(st, &e, units, nu, out);
    free(e.tmp);
    free(e.cells);
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
    "overdue", "last_reported", "missing", "contact_name", "contact_title",
    "contact_phone", "contact_email",
};
#define COMP_COLS (sizeof comp_header / sizeof comp_header[0])
#define COMP_CONTACT_COLS 4            /* the last four: with contacts */

static int
add_unit(report_t *r, const completeness_unit_t *u)
{
    const cds_contact_t *k = u->contact;
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
        k ? k->name : "", k ? k->title : "", k ? k->phone : "",
        k ? k->email : "",
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
    report_t *r = report_new(format, comp_header, "ssnnsnbssssss",
                             COMP_COLS - (o->contacts ? 0
                                          : COMP_CONTACT_COLS));
    rc = r ? CDS_OK : CDS_ENOMEM;
    for (size_t i = 0; rc == CDS_OK && i < c.n_units; i++)
        rc = add_unit(r, &c.units[i]);
    if (rc == CDS_OK) {
        char footer[1024], deadline[40];
        cds_format_time(deadline, sizeof deadline, (uint64_t) c.deadline_ms);
        if (c.note && c.n_units == 0)  /* no "0 of 0 (0.0%)": say why */
            snprintf(footer, sizeof footer, "%s", c.note);
        else
            snprintf(footer, sizeof footer, "%s%s%zu of %zu org units "
                     "complete (%.1f%%); %zu of %zu values (%.1f%%); "
                     "deadline %s", c.note ? c.note : "",
                     c.note ? "; " : "", c.units_complete, c.n_units,
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
        if (meta && c.note)
            json_object_set_new(meta, "note", json_string(c.note));
        report_print(r, out, meta, footer);
    }
    report_destroy(&r);
    completeness_clear(&c);
    return rc;
}

int
completeness_datasets(const cds_config_t *cfg, const cds_catalog_t *cat,
                      cds_datasets_t **out, char *err, size_t errlen)
{
    const char *path = cds_config_get(cfg, "aggregator.datasets");
    const char *catalog = cds_config_get(cfg, "aggregator.catalog");
    char buf[4096];
    *out = NULL;
    if ((!path || !path[0])
        && !cds_datasets_beside(catalog, "datasets.csv", buf, sizeof buf))
        return CDS_OK;                 /* feature off: nothing to load */
    cds_orgunits_t *ous = cds_orgunits_load(
        cds_config_get(cfg, "aggregator.orgunits"), err, errlen);
    if (!ous)
        return CDS_EMALFORMED;
    int rc = cds_datasets_configured(path, catalog, cat, ous, out, err,
                                     errlen);
    cds_orgunits_destroy(&ous);
    return rc;
}


const char *
completeness_contacts_path(const cds_config_t *cfg, char *buf, size_t len)
{
    const char *path = cds_config_get(cfg, "aggregator.contacts");
    buf[0] = '\0';
    if (path && path[0])
        snprintf(buf, len, "%s", path);
    else if (!cds_datasets_beside(cds_config_get(cfg, "aggregator.catalog"),
                                  "contacts.csv", buf, len))
        buf[0] = '\0';                 /* no default file: feature off */
    return buf;
}

int
completeness_contacts(const cds_config_t *cfg, cds_contacts_t **out,
                      char *err, size_t errlen)
{
    char path[4096];
    *out = NULL;
    if (!completeness_contacts_path(cfg, path, sizeof path)[0])
        return CDS_OK;
    cds_orgunits_t *ous = cds_orgunits_load(
        cds_config_get(cfg, "aggregator.orgunits"), err, errlen);
    if (!ous)
        return CDS_EMALFORMED;
    *out = cds_contacts_load(path, ous, err, errlen);
    cds_orgunits_destroy(&ous);
    return *out ? CDS_OK : CDS_EMALFORMED;
}
