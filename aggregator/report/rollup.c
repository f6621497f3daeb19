/*  rollup: figures of an org unit for a period. See rollup.h for the rules;
 *  SQL in rollup_sql.h; the source leaves come from orgmap.c.
 *  Cost: one query for the leaves and one for the values; the pairing of
 *  RATIO counts is O(v^2) in the values of one indicator, fine for the
 *  few thousand values of a province and period. */
#include "rollup.h"

#include "rollup_sql.h"

#include "attain.h"
#include "cds_csv.h"
#include "cds_err.h"
#include "cds_period.h"
#include "orgmap.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *code;                        /* indicator code (owned) */
    rollup_time_t time;                /* its rule */
} rule_t;

struct rollup_rules {
    rule_t *r;                         /* sorted by code */
    size_t n;
};

/* One observation: a value (a) or a RATIO pair (a / b) of one leaf for one
 * sub-period. */
typedef struct {
    size_t unit;                       /* index into the source leaves */
    char period[16];                   /* DHIS2 period id */
    int32_t ps, pe;                    /* its day range */
    double a, b;
    const char *ind;                   /* indicator code (borrowed) */
} obs_t;

typedef struct {
    orgmap_unit_t *units;              /* expected leaves, sorted by code */
    size_t nu;
    obs_t *vals;                       /* every fetched value */
    size_t nv;
    char **codes;                      /* owned indicator codes of vals */
    size_t ncodes;
    cds_period_t p;                    /* asked period */
} ctx_t;

/* ---- rules -------------------------------------------------------------- */

static int
cmp_rule(const void *a, const void *b)
{
    return strcmp(((const rule_t *) a)->code, ((const rule_t *) b)->code);
}

void
rollup_rules_destroy(rollup_rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        free((*self_p)->r[i].code);
    free((*self_p)->r);
    free(*self_p);
    *self_p = NULL;
}

/* Read every row's code and period_rollup. -1 with err on a bad row. */
static int
rules_rows(rollup_rules_t *self, cds_csv_t *csv, char *err, size_t errlen)
{
    int ccode = cds_csv_column(csv, "code");
    int crule = cds_csv_column(csv, "period_rollup");
    size_t cap = 0;
    int more;
    while ((more = cds_csv_next(csv, err, errlen)) == 1) {
        const char *rule = cds_csv_get(csv, crule);
        rollup_time_t t = ROLLUP_LAST;
        if (strcmp(rule, "SUM") == 0)
            t = ROLLUP_SUM;
        else if (rule[0] && strcmp(rule, "LAST") != 0)
            return cds_csv_error(err, errlen, cds_csv_name(csv),
                                 cds_csv_line(csv), "period_rollup",
                                 "expected SUM or LAST", rule);
        if (self->n == cap) {
            cap = cap ? cap * 2 : 64;
            rule_t *a = realloc(self->r, cap * sizeof *a);
            if (!a)
                return -1;
            self->r = a;
        }
        self->r[self->n].code = strdup(cds_csv_get(csv, ccode));
        self->r[self->n++].time = t;
        if (!self->r[self->n - 1].code)
            return -1;
    }
    return more;
}

rollup_rules_t *
rollup_rules_load(const char *path, char *err, size_t errlen)
{
    rollup_rules_t *self = calloc(1, sizeof *self);
    cds_csv_t *csv = self ? cds_csv_open(path, err, errlen) : NULL;
    if (!csv || cds_csv_read_header(csv, err, errlen) < 0
        || rules_rows(self, csv, err, errlen) < 0)
        rollup_rules_destroy(&self);
    else
        qsort(self->r, self->n, sizeof *self->r, cmp_rule);
    cds_csv_destroy(&csv);
    return self;
}

rollup_time_t
rollup_rule(const rollup_rules_t *rules, const char *code)
{
    if (!rules || !code)
        return ROLLUP_LAST;
    rule_t key = { .code = (char *) code };
    const rule_t *r = bsearch(&key, rules->r, rules->n, sizeof key, cmp_rule);
    return r ? r->time : ROLLUP_LAST;
}

const char *
rollup_time_name(rollup_time_t t)
{
    return t == ROLLUP_SUM ? "SUM" : "LAST";
}

bool
rollup_ratio(const cds_indicator_t *ind, double numerator,
             double denominator, double *out)
{
    if (denominator == 0)
        return false;
    *out = numerator / denominator
           * (ind->type == CDS_VT_PERCENTAGE ? 100.0 : 1.0);
    return true;
}

bool
rollup_is_derived(const cds_indicator_t *ind)
{
    return ind && ind->agg == CDS_AGG_RATIO && ind->numerator
           && ind->denominator;
}

char *
rollup_format(double v, bool has, char *buf, size_t len)
{
    if (!has)
        snprintf(buf, len, "%s", "");
    else if (fabs(v) < 1e15 && v == floor(v))
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.2f", v);
    return buf;
}

/* ---- fetching ----------------------------------------------------------- */

static int
cmp_unit_key(const void *key, const void *elem)
{
    return strcmp((const char *) key, ((const orgmap_unit_t *) elem)->code);
}

/* Intern an indicator code of the fetched values. */
static const char *
intern(ctx_t *c, const char *code)
{
    for (size_t i = 0; i < c->ncodes; i++)
        if (strcmp(c->codes[i], code) == 0)
            return c->codes[i];
    char **a = realloc(c->codes, (c->ncodes + 1) * sizeof *a);
    if (!a)
        return NULL;
    c->codes = a;
    return (c->codes[c->ncodes] = strdup(code)) ? c->codes[c->ncodes++]
                                                : NULL;
}

/* Add the current value row; leaves outside the expected set (not valid in
 * the period) are skipped: they were not expected to report. */
static int
push_value(ctx_t *c, cds_sql_stmt_t *st, size_t *cap)
{
    const char *ou = cds_sql_col_text(st, 0);
    const orgmap_unit_t *u = bsearch(ou, c->units, c->nu, sizeof *c->units,
                                     cmp_unit_key);
    if (!u)
        return CDS_OK;
    if (c->nv == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        obs_t *a = realloc(c->vals, *cap * sizeof *a);
        if (!a)
            return CDS_ENOMEM;
        c->vals = a;
    }
    obs_t *v = &c->vals[c->nv];
    memset(v, 0, sizeof *v);
    v->unit = (size_t) (u - c->units);
    v->ind = intern(c, cds_sql_col_text(st, 1));
    snprintf(v->period, sizeof v->period, "%s", cds_sql_col_text(st, 2));
    v->ps = (int32_t) cds_sql_col_int64(st, 3);
    v->pe = (int32_t) cds_sql_col_int64(st, 4);
    v->a = cds_sql_col_double(st, 5);
    c->nv++;
    return v->ind ? CDS_OK : CDS_ENOMEM;
}

static int
fetch_values(store_t *store, ctx_t *c, const char *ou, const char *codes_json)
{
    cds_sql_stmt_t *st = store_read(store, ROLLUP_SQL_SOURCE_VALUES,
                                    ROLLUP_SQL_SOURCE_VALUES_PG);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_int64(st, ":start", c->p.start);
    cds_sql_bind_int64(st, ":end", c->p.end);
    cds_sql_bind_text(st, ":indicators", codes_json);
    size_t cap = 0;
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        rc = push_value(c, st, &cap);
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    return rc;
}

/* ---- computing ---------------------------------------------------------- */

/* Periods of type t lying wholly inside [lo, hi]. */
static size_t
count_periods(cds_period_type_t t, int32_t lo, int32_t hi)
{
    size_t n = 0;
    char id[16];
    cds_period_t q;
    for (int32_t day = lo; day <= hi; day = q.end + 1) {
        if (cds_period_of_day(t, day, id, sizeof id) != 0
            || cds_period_parse(id, &q) != CDS_OK)
            break;
        if (q.start >= lo && q.end <= hi)
            n++;
    }
    return n;
}

static int32_t
max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

static int32_t
min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* Is leaf u expected to report for a sub-period starting at ps, ending pe? */
static bool
unit_expected(const orgmap_unit_t *u, int32_t ps, int32_t pe)
{
    return u->valid_from <= pe && u->valid_to >= ps && ps < u->until;
}

/* Observations of fig: plain values, or RATIO pairs matched by leaf and
 * sub-period. *obs is malloc'd (caller frees). */
static int
observations(const ctx_t *c, const cds_indicator_t *ind, obs_t **obs,
             size_t *n)
{
    *n = 0;
    *obs = malloc((c->nv ? c->nv : 1) * sizeof **obs);
    if (!*obs)
        return CDS_ENOMEM;
    bool ratio = ind->agg == CDS_AGG_RATIO;
    const char *a = ratio ? ind->numerator : ind->code;
    for (size_t i = 0; i < c->nv; i++) {
        const obs_t *v = &c->vals[i];
        if (strcmp(v->ind, a) != 0
            || !unit_expected(&c->units[v->unit], v->ps, v->pe))
            continue;                  /* outside the leaf's lifetime */
        obs_t o = *v;
        bool found = !ratio;
        for (size_t j = 0; ratio && j < c->nv && !found; j++) {
            const obs_t *w = &c->vals[j];
            if (w->unit == v->unit && strcmp(w->ind, ind->denominator) == 0
                && strcmp(w->period, v->period) == 0) {
                o.b = w->a;
                found = true;
            }
        }
        if (found)
            (*obs)[(*n)++] = o;
    }
    return CDS_OK;
}

/* The no-successor-twice rule for a LAST figure at its "as of"
 * sub-period, or a COUNT_TRUE figure over time (orgmap_rule): clears
 * has[] of leaves whose value does not count; f->expected. */
static int
merge_rule(const ctx_t *c, rollup_figure_t *f, orgmap_kind_t kind,
           int32_t ps, int32_t pe, bool *has)
{
    bool *ex = calloc(2 * (c->nu + 1), sizeof *ex);
    if (!ex)
        return CDS_ENOMEM;
    orgmap_rule(c->units, c->nu, kind, ps, pe, has, ex, ex + c->nu + 1);
    for (size_t u = 0; u < c->nu; u++) {
        has[u] = ex[c->nu + 1 + u];
        f->expected += ex[u];
    }
    free(ex);
    return CDS_OK;
}

/* Step 1, over time: per-leaf sums acc_a/acc_b, has[], reports, as_of,
 * expected counts; which leaves count: orgmap_rule. */
static int
over_time(const ctx_t *c, rollup_figure_t *f, const obs_t *obs, size_t n,
          double *acc_a, double *acc_b, bool *has)
{
    const obs_t *latest = NULL;
    orgmap_kind_t kind = orgmap_kind(f->ind->agg == CDS_AGG_COUNT_TRUE,
                                     f->time == ROLLUP_SUM);
    for (size_t i = 0; i < n && f->time == ROLLUP_LAST; i++)
        if (!latest || obs[i].pe > latest->pe)
            latest = &obs[i];
    for (size_t i = 0; i < n; i++) {
        if (latest && strcmp(obs[i].period, latest->period) != 0)
            continue;
        acc_a[obs[i].unit] += obs[i].a;
        acc_b[obs[i].unit] += obs[i].b;
        has[obs[i].unit] = true;
    }
    if (latest) {
        snprintf(f->as_of, sizeof f->as_of, "%s", latest->period);
        int rc = merge_rule(c, f, kind, latest->ps, latest->pe, has);
        for (size_t u = 0; u < c->nu; u++)
            f->reports += has[u];
        f->expected_reports = f->expected;
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        f->reports++;
    if (kind == ORGMAP_YESNO) {        /* units existing at the end */
        int rc = merge_rule(c, f, kind, c->p.start, c->p.end, has);
        f->expected_reports = f->expected;
        return rc;
    }
    for (size_t u = 0; u < c->nu; u++) {
        const orgmap_unit_t *unit = &c->units[u];
        f->expected++;
        if (!f->ind->has_period_type)
            f->expected_reports++;
        else
            f->expected_reports += count_periods(
                f->ind->period_type, max32(c->p.start, unit->valid_from),
                min32(min32(c->p.end, unit->valid_to),
                      unit->until == INT32_MAX ? INT32_MAX
                                               : unit->until - 1));
    }
    return CDS_OK;
}

/* Step 2, across leaves. */
static void
across_units(const ctx_t *c, rollup_figure_t *f, const double *acc_a,
             const double *acc_b, const bool *has)
{
    double sa = 0, sb = 0, lo = INFINITY, hi = -INFINITY, yes = 0;
    for (size_t u = 0; u < c->nu; u++) {
        if (!has[u])
            continue;
        f->covered++;
        sa += acc_a[u];
        sb += acc_b[u];
        lo = fmin(lo, acc_a[u]);
        hi = fmax(hi, acc_a[u]);
        yes += acc_a[u] != 0;
    }
    if (f->covered == 0) {
        snprintf(f->note, sizeof f->note, "no values");
        return;
    }
    f->has_value = true;
    switch (f->ind->agg) {
    case CDS_AGG_SUM: f->value = sa; break;
    case CDS_AGG_AVERAGE: f->value = sa / (double) f->covered; break;
    case CDS_AGG_MIN: f->value = lo; break;
    case CDS_AGG_MAX: f->value = hi; break;
    case CDS_AGG_COUNT_TRUE: f->value = yes; break;
    case CDS_AGG_RATIO:
        f->numerator = sa;
        f->denominator = sb;
        f->has_value = rollup_ratio(f->ind, sa, sb, &f->value);
        if (!f->has_value)
            snprintf(f->note, sizeof f->note, "denominator is 0");
        break;
    default:
        f->has_value = false;
        snprintf(f->note, sizeof f->note, "not aggregated (NONE)");
    }
}

/* Is the indicator's period type no coarser than the asked period? */
static bool
fits(const cds_indicator_t *ind, const cds_period_t *p)
{
    char id[16];
    cds_period_t q;
    if (!ind->has_period_type)
        return true;
    return cds_period_of_day(ind->period_type, p->start, id, sizeof id) == 0
           && cds_period_parse(id, &q) == CDS_OK && q.start >= p->start
           && q.end <= p->end;
}

static int
compute_one(const ctx_t *c, rollup_figure_t *f)
{
    if (f->ind->agg == CDS_AGG_NONE || !fits(f->ind, &c->p)) {
        snprintf(f->note, sizeof f->note, f->ind->agg == CDS_AGG_NONE
                 ? "not aggregated (NONE)" : "indicator is %s: ask for a "
                 "period of that type or longer",
                 cds_period_type_name(f->ind->period_type));
        f->expected = c->nu;
        return CDS_OK;
    }
    obs_t *obs = NULL;
    size_t n = 0;
    double *acc = calloc(2 * (c->nu + 1), sizeof *acc);
    bool *has = calloc(c->nu + 1, sizeof *has);
    int rc = acc && has ? observations(c, f->ind, &obs, &n) : CDS_ENOMEM;
    if (rc == CDS_OK)
        rc = over_time(c, f, obs, n, acc, acc + c->nu + 1, has);
    if (rc == CDS_OK)
        across_units(c, f, acc, acc + c->nu + 1, has);
    free(obs);
    free(acc);
    free(has);
    return rc;
}

/* ---- the figures -------------------------------------------------------- */

/* Figures to compute (borrowed indicators) and the JSON list of every
 * code whose values are needed. */
static int
select_indicators(const cds_catalog_t *cat, const cds_period_t *p,
                  const char *const *inds, size_t n, rollup_figure_t **out,
                  size_t *nout, char **codes_json, char *err, size_t errlen)
{
    size_t cap = n ? n : cds_catalog_size(cat);
    *out = calloc(cap ? cap : 1, sizeof **out);
    json_t *codes = json_array();
    int rc = *out && codes ? CDS_OK : CDS_ENOMEM;
    *nout = 0;
    for (size_t i = 0; rc == CDS_OK && i < cap; i++) {
        const cds_indicator_t *ind = n ? cds_catalog_find(cat, inds[i])
                                       : cds_catalog_at(cat, i);
        if (!ind) {
            snprintf(err, errlen, "indicator: \"%.64s\" is not in the "
                     "catalog", inds[i]);
            rc = CDS_EUNKNOWNINDICATOR;
            break;
        }
        if (!n && (ind->agg == CDS_AGG_NONE || !fits(ind, p)))
            continue;
        (*out)[(*nout)++].ind = ind;
        json_array_append_new(codes, json_string(ind->code));
        if (ind->agg == CDS_AGG_RATIO) {
            json_array_append_new(codes, json_string(ind->numerator));
            json_array_append_new(codes, json_string(ind->denominator));
        }
    }
    if (rc == CDS_OK && !(*codes_json = json_dumps(codes, JSON_COMPACT)))
        rc = CDS_ENOMEM;
    json_decref(codes);
    return rc;
}

static void
ctx_free(ctx_t *c)
{
    orgmap_units_free(c->units, c->nu);
    free(c->vals);
    for (size_t i = 0; i < c->ncodes; i++)
        free(c->codes[i]);
    free(c->codes);
}

/* rollup_compute's work; snapshot: begin and end a read snapshot. */
static int
compute(store_t *store, const cds_catalog_t *catalog,
        const rollup_rules_t *rules, const char *ou, const char *period,
        const char *const *indicators, size_t n, rollup_figure_t **out,
        size_t *nout, bool snapshot, char *err, size_t errlen)
{
    ctx_t c = { 0 };
    char *codes_json = NULL;
    *out = NULL;
    *nout = 0;
    if (!period || cds_period_parse(period, &c.p) != CDS_OK) {
        snprintf(err, errlen, "period: \"%.64s\" is not a DHIS2 period "
                 "(2025, 2025Q1, 202503, ...)", period ? period : "");
        return CDS_EBADPERIOD;
    }
    int known = ou ? store_orgunit_exists(store, ou) : 0;
    if (known <= 0) {
        snprintf(err, errlen, "org-unit: \"%.64s\" is not in the org-unit "
                 "list", ou ? ou : "");
        return known < 0 ? -known : CDS_EUNKNOWNORGUNIT;
    }
    int rc = select_indicators(catalog, &c.p, indicators, n, out, nout,
                               &codes_json, err, errlen);
    /* One snapshot: the leaves and their values agree. */
    if (rc == CDS_OK && (!snapshot || (rc = store_read_begin(store))
                                          == CDS_OK)) {
        rc = orgmap_sources(store, ou, c.p.start, c.p.end, &c.units, &c.nu);
        if (rc == CDS_OK)
            rc = fetch_values(store, &c, ou, codes_json);
        if (snapshot)
            store_read_end(store);
    }
    for (size_t i = 0; rc == CDS_OK && i < *nout; i++) {
        (*out)[i].time = rollup_rule(rules, (*out)[i].ind->code);
        rc = compute_one(&c, &(*out)[i]);
    }
    free(codes_json);
    ctx_free(&c);
    if (rc != CDS_OK) {
        free(*out);
        *out = NULL;
        *nout = 0;
    }
    return rc;
}

int
rollup_compute(store_t *store, const cds_catalog_t *catalog,
               const rollup_rules_t *rules, const char *ou,
               const char *period, const char *const *indicators,
               size_t n, rollup_figure_t **out, size_t *nout, char *err,
               size_t errlen)
{
    return compute(store, catalog, rules, ou, period, indicators, n, out,
                   nout, true, err, errlen);
}

int
rollup_compute_read(store_t *store, const cds_catalog_t *catalog,
                    const rollup_rules_t *rules, const char *ou,
                    const char *period, const char *const *indicators,
                    size_t n, rollup_figure_t **out, size_t *nout,
                    char *err, size_t errlen)
{
    return compute(store, catalog, rules, ou, period, indicators, n, out,
                   nout, false, err, errlen);
}

/* ---- printing ----------------------------------------------------------- */

static const char *const rollup_header[] = {
    "indicator", "aggregation", "period_rollup", "value", "numerator",
    "denominator", "org_units", "covered", "expected", "reports",
    "expected_reports", "as_of", "note", "name",
};
#define ROLLUP_COLS (sizeof rollup_header / sizeof rollup_header[0])

/* The ROLLUP_COLS cells of f into cells, text in the buffers (32, 32,
 * 32, 48, 24, 24, 24, 24 bytes). */
static void
figure_cells(const rollup_figure_t *f, const char **cells, char *v,
             char *nu, char *de, char *units, char *cov, char *exp,
             char *rep, char *erep)
{
    bool ratio = f->ind->agg == CDS_AGG_RATIO && f->covered > 0;
    snprintf(units, 48, "%zu/%zu", f->covered, f->expected);
    snprintf(cov, 24, "%zu", f->covered);
    snprintf(exp, 24, "%zu", f->expected);
    snprintf(rep, 24, "%zu", f->reports);
    snprintf(erep, 24, "%zu", f->expected_reports);
    const char *c[ROLLUP_COLS] = {
        f->ind->code, cds_agg_name(f->ind->agg), rollup_time_name(f->time),
        rollup_format(f->value, f->has_value, v, 32),
        rollup_format(f->numerator, ratio, nu, 32),
        rollup_format(f->denominator, ratio, de, 32), units, cov,
        exp, rep, erep, f->as_of, f->note, f->ind->name_vi,
    };
    memcpy(cells, c, sizeof c);
}

static int
add_figure(report_t *r, const rollup_figure_t *f)
{
    char v[32], nu[32], de[32], units[48], cov[24], exp[24], rep[24],
        erep[24];
    const char *cells[ROLLUP_COLS];
    figure_cells(f, cells, v, nu, de, units, cov, exp, rep, erep);
    return report_add(r, cells) == 0 ? CDS_OK : CDS_ENOMEM;
}

int
rollup_run(store_t *store, const cds_catalog_t *catalog,
           const rollup_rules_t *rules, const char *ou, const char *period,
           const char *const *indicators, size_t n, report_format_t format,
           FILE *out, char *err, size_t errlen)
{
    return rollup_run_targets(store, catalog, rules, NULL, ou, period,
                              indicators, n, format, out, err, errlen);
}

/* The target columns (attain.h) appended to a figure's row. */
typedef struct {
    const cds_targets_t *targets;      /* NULL: no target columns */
    char **chain;                      /* the unit and its ancestors */
    size_t n;
    const char *period;
} target_cols_t;

static int
add_figure_targets(report_t *r, const rollup_figure_t *f,
                   const target_cols_t *tc)
{
    if (!tc->targets)
        return add_figure(r, f);
    const char *cells[ROLLUP_COLS + ATTAIN_COLS];
    char v[32], nu[32], de[32], units[48], cov[24], exp[24], rep[24],
        erep[24];
    figure_cells(f, cells, v, nu, de, units, cov, exp, rep, erep);
    attain_t a;
    attain_bufs_t b;
    attain_judge(tc->targets, f->ind, (const char *const *) tc->chain,
                 tc->n, tc->period, f->has_value, f->value,
                 (double) f->expected, &a);
    attain_cells(&a, &b, cells + ROLLUP_COLS);
    return report_add(r, cells) == 0 ? CDS_OK : CDS_ENOMEM;
}

static report_t *
figure_report(report_format_t format, const target_cols_t *tc,
              const char **hdr, char *types)
{
    static const char rollup_types[] = "sssnnnsnnnnsss";
    memcpy(hdr, rollup_header, sizeof rollup_header);
    snprintf(types, ROLLUP_COLS + ATTAIN_COLS + 1, "%s%s", rollup_types,
             tc->targets ? ATTAIN_TYPES : "");
    for (size_t i = 0; tc->targets && i < ATTAIN_COLS; i++)
        hdr[ROLLUP_COLS + i] = attain_header[i];
    return report_new(format, hdr, types,
                      ROLLUP_COLS + (tc->targets ? ATTAIN_COLS : 0));
}

int
rollup_run_targets(store_t *store, const cds_catalog_t *catalog,
                   const rollup_rules_t *rules, const cds_targets_t *targets,
                   const char *ou, const char *period,
                   const char *const *indicators, size_t n,
                   report_format_t format, FILE *out, char *err,
                   size_t errlen)
{
    rollup_figure_t *figs = NULL;
    size_t nf = 0;
    int rc = rollup_compute(store, catalog, rules, ou, period, indicators, n,
                            &figs, &nf, err, errlen);
    if (rc != CDS_OK)
        return rc;
    target_cols_t tc = { .targets = targets, .period = period };
    if (targets && (rc = attain_chain(store, ou, &tc.chain, &tc.n))
                       != CDS_OK) {
        free(figs);
        return rc;
    }
    const char *hdr[ROLLUP_COLS + ATTAIN_COLS];
    char types[ROLLUP_COLS + ATTAIN_COLS + 1];
    report_t *r = figure_report(format, &tc, hdr, types);
    rc = r ? CDS_OK : CDS_ENOMEM;
    for (size_t i = 0; rc == CDS_OK && i < nf; i++)
        rc = add_figure_targets(r, &figs[i], &tc);
    attain_chain_free(tc.chain, tc.n);
    if (rc == CDS_OK) {
        char name[256] = "", footer[512];
        orgmap_unit_name(store, ou, name, sizeof name);
        snprintf(footer, sizeof footer, "%s %s, period %s", ou, name,
                 period);
        report_print(r, out, json_pack("{ssssss}", "orgUnit", ou,
                                       "orgUnitName", name, "period",
                                       period), footer);
    }
    report_destroy(&r);
    free(figs);
    return rc;
}
