/*  validate: rules, derived ratios and outliers per unit (validate.h).
 *
 *  One read brings every numeric value of the subtree for the asked
 *  period and its N earlier periods of the same type, ordered by unit,
 *  indicator, period start; each unit is then a run of rows, each
 *  (unit, indicator) a sub-run, and the checks walk them in memory. */
#include "validate.h"

#include "cds_err.h"
#include "cds_period.h"
#include "followup.h"
#include "rollup.h"
#include "validate_sql.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *ou, *de, *pe;        /* owned */
    double num;
} val_t;

typedef struct {
    val_t *v;
    size_t n, cap;
    const char *pe;                          /* the asked period */
    char prev[VALIDATE_MAX_PERIODS][32];     /* earlier periods, newest
                                              * first */
    int nprev;
    const cds_catalog_t *cat;
    const validate_opts_t *opts;
    report_t *rep;
    store_t *store;
} set_t;

/* The rows of one unit: lookups for the rules. */
typedef struct {
    const set_t *s;
    size_t lo, hi;
} unit_t;

static const char *const columns[] = {
    "org_unit", "period", "kind", "code", "severity", "left", "operator",
    "right", "left_value", "right_value", "description", "followup",
};
#define NCOLS (sizeof columns / sizeof *columns)

static void
set_free(set_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].ou);
        free(s->v[i].de);
        free(s->v[i].pe);
    }
    free(s->v);
}

static int
set_add(set_t *s, cds_sql_stmt_t *st)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        val_t *a = realloc(s->v, cap * sizeof *a);
        if (!a)
            return CDS_ENOMEM;
        s->v = a;
        s->cap = cap;
    }
    val_t *v = &s->v[s->n];
    v->ou = strdup(cds_sql_col_text(st, 0));
    v->de = strdup(cds_sql_col_text(st, 1));
    v->pe = strdup(cds_sql_col_text(st, 2));
    v->num = cds_sql_col_double(st, 3);
    s->n++;
    return v->ou && v->de && v->pe ? CDS_OK : CDS_ENOMEM;
}

/* The asked period's earlier ones (same type) into s->prev; *from: the
 * first day of the oldest. */
static int
earlier_periods(set_t *s, const cds_period_t *p, int32_t *from, char *err,
                size_t errlen)
{
    int32_t day = p->start;
    *from = p->start;
    for (int i = 0; i < s->opts->periods && i < VALIDATE_MAX_PERIODS; i++) {
        cds_period_t q;
        if (cds_period_of_day(p->type, day - 1, s->prev[i],
                              sizeof s->prev[i]) != CDS_OK
            || cds_period_parse(s->prev[i], &q) != CDS_OK) {
            snprintf(err, errlen, "no period before day %ld",
                     (long) day);
            return CDS_EBADPERIOD;
        }
        s->nprev = i + 1;
        day = *from = q.start;
    }
    return CDS_OK;
}

static int
read_values(store_t *store, set_t *s, const char *ou, int32_t from,
            int32_t to)
{
    cds_sql_stmt_t *st = store_read(store, VALIDATE_SQL_VALUES,
                                    VALIDATE_SQL_VALUES_PG);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_int64(st, ":from", from);
    cds_sql_bind_int64(st, ":to", to);
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        rc = set_add(s, st);
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    return rc;
}

int
validate_ou_exists(store_t *store, const char *ou)
{
    cds_sql_stmt_t *st = store_read(store, VALIDATE_SQL_OU_EXISTS, NULL);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    int step = cds_sql_step(st);
    cds_sql_finalize(&st);
    return step == CDS_SQL_ROW ? CDS_OK
           : step == CDS_SQL_DONE ? CDS_ENOTFOUND : step;
}

/* The entered value of code in the asked period. */
static bool
entered(const unit_t *u, const char *code, double *out)
{
    for (size_t i = u->lo; i < u->hi; i++)
        if (strcmp(u->s->v[i].de, code) == 0
            && strcmp(u->s->v[i].pe, u->s->pe) == 0) {
            *out = u->s->v[i].num;
            return true;
        }
    return false;
}

static bool
is_derived(const cds_indicator_t *ind)
{
    return rollup_is_derived(ind);
}

/* A derived ratio from its counts: true with *out; false when a count is
 * missing or the denominator is 0. */
static bool
derived(const unit_t *u, const cds_indicator_t *ind, double *out)
{
    double n, d;
    return entered(u, ind->numerator, &n) && entered(u, ind->denominator, &d)
           && rollup_ratio(ind, n, d, out);
}

/* cds_rule_lookup_fn: a derived ratio with its counts reads as theirs. */
static bool
look(void *ctx, const char *code, double *out)
{
    const unit_t *u = ctx;
    const cds_indicator_t *ind = cds_catalog_find(u->s->cat, code);
    double c;
    if (is_derived(ind) && entered(u, ind->numerator, &c)
        && entered(u, ind->denominator, &c))
        return derived(u, ind, out);
    return entered(u, code, out);
}

static const char *
num_text(double v, char *buf, size_t len)
{
    if (isnan(v))
        return "";
    snprintf(buf, len, "%.10g", v);
    return buf;
}

typedef struct {
    const char *kind, *code, *severity, *left, *op, *right, *desc;
    double lv, rv;
    const char *cell;          /* indicator whose follow-up flag shows */
} violation_t;

static int
add_violation(const unit_t *u, const violation_t *v)
{
    char lb[40], rb[40];
    bool flag = false;
    int rc = v->cell ? followup_flagged(u->s->store, u->s->v[u->lo].ou,
                                        v->cell, u->s->pe, &flag)
                     : CDS_OK;
    const char *cells[NCOLS] = {
        u->s->v[u->lo].ou, u->s->pe, v->kind, v->code, v->severity,
        v->left, v->op, v->right, num_text(v->lv, lb, sizeof lb),
        num_text(v->rv, rb, sizeof rb), v->desc, flag ? "true" : "false",
    };
    if (rc != CDS_OK)
        return rc;
    return report_add(u->s->rep, cells) == 0 ? CDS_OK : CDS_ENOMEM;
}

static int
check_rules(const unit_t *u, const cds_rules_t *rules)
{
    int rc = CDS_OK;
    for (size_t i = 0; rc == CDS_OK && i < cds_rules_size(rules); i++) {
        const cds_rule_t *r = cds_rules_at(rules, i);
        violation_t v = {.kind = "rule", .code = r->code,
                         .severity = cds_rule_severity_name(r->severity),
                         .left = r->left_text,
                         .op = cds_rule_op_name(r->op),
                         .right = r->right_text, .desc = r->name_vi,
                         .cell = cds_expr_code(r->left, 0)};
        if (cds_rule_eval(r, look, (void *) u, &v.lv, &v.rv)
                == CDS_RULE_FAIL)
            rc = add_violation(u, &v);
    }
    return rc;
}

/* An entered derived ratio more than 0.05 from its counts' ratio (a
 * figure rounded to one decimal is not a violation). */
static int
check_derived(const unit_t *u)
{
    int rc = CDS_OK;
    const cds_catalog_t *cat = u->s->cat;
    for (size_t i = 0; rc == CDS_OK && i < cds_catalog_size(cat); i++) {
        const cds_indicator_t *ind = cds_catalog_at(cat, i);
        double got, want;
        if (!is_derived(ind) || !entered(u, ind->code, &got)
            || !derived(u, ind, &want) || fabs(got - want) <= 0.05)
            continue;
        char right[200];
        snprintf(right, sizeof right, "%s%s / %s", ind->numerator,
                 ind->type == CDS_VT_PERCENTAGE ? " * 100" : "",
                 ind->denominator);
        violation_t v = {.kind = "derived", .code = ind->code,
                         .severity = "warning", .left = ind->code,
                         .op = "==", .right = right, .lv = got, .rv = want,
                         .desc = "Tỷ lệ được tính từ số liệu thành phần; "
                                 "giá trị nhập bị bỏ qua", .cell = ind->code};
        rc = add_violation(u, &v);
    }
    return rc;
}

/* Index in s->prev of period pe, or -1. */
static int
prev_index(const set_t *s, const char *pe)
{
    for (int i = 0; i < s->nprev; i++)
        if (strcmp(s->prev[i], pe) == 0)
            return i;
    return -1;
}

static int
outlier_z(const unit_t *u, const char *de, double x, const double *e,
          int n)
{
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++)
        mean += e[i] / n;
    for (int i = 0; i < n; i++)
        ss += (e[i] - mean) * (e[i] - mean);
    double sd = n >= 2 ? sqrt(ss / (n - 1)) : 0;
    if (!(sd > 0) || !(fabs(x - mean) / sd > u->s->opts->z))
        return CDS_OK;
    char right[64], desc[256];
    snprintf(right, sizeof right, "mean of %d earlier periods", n);
    snprintf(desc, sizeof desc, "Giá trị bất thường: z = %.2f so với %d kỳ "
             "trước (trung bình %.10g, độ lệch chuẩn %.4g)",
             (x - mean) / sd, n, mean, sd);
    violation_t v = {.kind = "outlier", .code = de, .severity = "warning",
                     .left = de, .op = "z-score", .right = right, .lv = x,
                     .rv = mean, .desc = desc, .cell = de};
    return add_violation(u, &v);
}

static int
outlier_pct(const unit_t *u, const char *de, double x, double p)
{
    double change = (x - p) / fabs(p) * 100;
    if (p == 0 || !(fabs(change) > u->s->opts->pct))
        return CDS_OK;
    char desc[256];
    snprintf(desc, sizeof desc, "Thay đổi %+.1f %% so với kỳ trước (%s)",
             change, u->s->prev[0]);
    violation_t v = {.kind = "outlier", .code = de, .severity = "warning",
                     .left = de, .op = "change %", .right = u->s->prev[0],
                     .lv = x, .rv = p, .desc = desc, .cell = de};
    return add_violation(u, &v);
}

/* Outliers of the indicator whose rows are [a, b) of the unit. */
static int
check_outlier(const unit_t *u, size_t a, size_t b)
{
    const set_t *s = u->s;
    const cds_indicator_t *ind = cds_catalog_find(s->cat, s->v[a].de);
    if (!ind || is_derived(ind) || ind->type == CDS_VT_BOOLEAN
        || ind->type == CDS_VT_TEXT)
        return CDS_OK;
    double e[VALIDATE_MAX_PERIODS], x = NAN, p = NAN;
    int n = 0;
    for (size_t i = a; i < b; i++) {
        int k = prev_index(s, s->v[i].pe);
        if (strcmp(s->v[i].pe, s->pe) == 0)
            x = s->v[i].num;
        else if (k >= 0) {
            e[n++] = s->v[i].num;
            if (k == 0)
                p = s->v[i].num;
        }
    }
    if (isnan(x))
        return CDS_OK;
    int rc = s->opts->z > 0 ? outlier_z(u, s->v[a].de, x, e, n) : CDS_OK;
    if (rc == CDS_OK && s->opts->pct > 0 && !isnan(p))
        rc = outlier_pct(u, s->v[a].de, x, p);
    return rc;
}

static int
check_unit(const unit_t *u, const cds_rules_t *rules)
{
    int rc = check_rules(u, rules);
    if (rc == CDS_OK)
        rc = check_derived(u);
    for (size_t a = u->lo, b; rc == CDS_OK && a < u->hi; a = b) {
        for (b = a + 1; b < u->hi && strcmp(u->s->v[b].de,
                                            u->s->v[a].de) == 0; b++)
            ;
        rc = check_outlier(u, a, b);
    }
    return rc;
}

static int
check_all(set_t *s, const cds_rules_t *rules)
{
    int rc = CDS_OK;
    for (size_t lo = 0, hi; rc == CDS_OK && lo < s->n; lo = hi) {
        for (hi = lo + 1; hi < s->n && strcmp(s->v[hi].ou, s->v[lo].ou) == 0;
             hi++)
            ;
        unit_t u = {s, lo, hi};
        rc = check_unit(&u, rules);
    }
    return rc;
}

int
validate_compute(store_t *store, const cds_catalog_t *catalog,
                 const cds_rules_t *rules, const char *ou, const char *pe,
                 const validate_opts_t *opts, report_format_t format,
                 report_t **out, char *err, size_t errlen)
{
    set_t s = {.pe = pe, .cat = catalog, .opts = opts, .store = store};
    cds_period_t p;
    int32_t from = 0;
    *out = NULL;
    if (cds_period_parse(pe, &p) != CDS_OK) {
        snprintf(err, errlen, "period \"%s\": not a DHIS2 period", pe);
        return CDS_EBADPERIOD;
    }
    int rc = earlier_periods(&s, &p, &from, err, errlen);
    if (rc == CDS_OK && (rc = validate_ou_exists(store, ou)) == CDS_ENOTFOUND)
        snprintf(err, errlen, "org unit \"%s\": not in the org-unit list",
                 ou);
    if (rc == CDS_OK)
        rc = read_values(store, &s, ou, from, p.end);
    if (rc == CDS_OK && !(s.rep = report_new(format, columns,
                                             "sssssssnnnsb", NCOLS)))
        rc = CDS_ENOMEM;
    if (rc == CDS_OK)
        rc = check_all(&s, rules);
    if (rc == CDS_OK)
        *out = s.rep;
    else
        report_destroy(&s.rep);
    set_free(&s);
    return rc;
}
