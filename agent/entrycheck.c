/*  entrycheck: warnings at entry (entrycheck.h). A unit and period's
 *  values are an array sorted by data element code, searched by
 *  bisection: a form is small (41 indicators in the shipped catalog), but
 *  an imported file may hold a thousand values of one unit and period,
 *  and linear look-ups made the import quadratic (issue 19: 2.4x slower
 *  import, a third of its time in strcmp). */
#include "entrycheck.h"

#include "cds_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *de;            /* borrowed from the catalog */
    double num;
} cell_t;

typedef struct {
    const cds_catalog_t *cat;
    cell_t *c;
    size_t n, cap;
    bool oom;
} set_t;

/* Index of the first cell whose code is not below de (s->n if none). */
static size_t
lower(const set_t *s, const char *de)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->c[mid].de, de) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static cell_t *
find(const set_t *s, const char *de)
{
    size_t i = lower(s, de);
    return i < s->n && strcmp(s->c[i].de, de) == 0 ? &s->c[i] : NULL;
}

/* A later value of de replaces an earlier one; a delete removes it. */
static void
put(set_t *s, const char *de, const char *value, bool deleted)
{
    const cds_indicator_t *ind = cds_catalog_find(s->cat, de);
    char canon[CDS_MAX_VALUE + 1], err[256];
    double num;
    if (!ind)
        return;
    size_t i = lower(s, ind->code);
    bool have = i < s->n && strcmp(s->c[i].de, ind->code) == 0;
    if (deleted || ind->type == CDS_VT_TEXT
        || cds_value_canonical(ind, value, canon, sizeof canon, &num, err,
                               sizeof err) != CDS_OK) {
        if (have) {
            memmove(&s->c[i], &s->c[i + 1], (s->n - i - 1) * sizeof *s->c);
            s->n--;
        }
        return;
    }
    if (!have && s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        cell_t *a = realloc(s->c, cap * sizeof *a);
        if (!a) {
            s->oom = true;
            return;
        }
        s->c = a;
        s->cap = cap;
    }
    if (!have) {
        memmove(&s->c[i + 1], &s->c[i], (s->n - i) * sizeof *s->c);
        s->n++;
    }
    s->c[i] = (cell_t) {ind->code, num};
}

static void
put_pending(void *arg, const char *de, const char *value, bool deleted)
{
    put(arg, de, value, deleted);
}

static bool
is_derived(const cds_indicator_t *ind)
{
    return ind && ind->agg == CDS_AGG_RATIO && ind->numerator
           && ind->denominator;
}

/* cds_rule_lookup_fn: derived ratios read as their counts' ratio. */
static bool
look(void *ctx, const char *code, double *out)
{
    const set_t *s = ctx;
    const cds_indicator_t *ind = cds_catalog_find(s->cat, code);
    if (is_derived(ind)) {
        const cell_t *n = find(s, ind->numerator);
        const cell_t *d = find(s, ind->denominator);
        if (n && d) {
            *out = n->num / d->num
                   * (ind->type == CDS_VT_PERCENTAGE ? 100 : 1);
            return d->num != 0;
        }
    }
    const cell_t *c = find(s, code);
    if (c)
        *out = c->num;
    return c != NULL;
}

/* The warnings stream, bounded: the first ENTRYCHECK_MAX_LISTED lines,
 * then a count (an import of years of a broken form stays readable). */
typedef struct {
    FILE *f;
    size_t n;                  /* warnings so far, listed or not */
} out_t;

static void say(out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(out_t *o, const char *fmt, ...)
{
    if (o->n++ >= ENTRYCHECK_MAX_LISTED)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->f, fmt, ap);
    va_end(ap);
}

static bool
has(void *ctx, const char *code)
{
    double v;
    return look(ctx, code, &v) || find(ctx, code);
}

/* A value entered for a derived ratio: warned when its counts are not
 * both in the set (the district has no figure from it) or give a ratio
 * more than 0.05 away (as `validate`: a rounded copy is fine). The new
 * values of one unit and period: u[ix[0..n)]. */
static void
warn_derived(const set_t *s, const cds_update_t *u, const size_t *ix,
             size_t n, out_t *warn)
{
    for (size_t k = 0; k < n; k++) {
        const cds_update_t *v = &u[ix[k]];
        const cds_indicator_t *ind = cds_catalog_find(s->cat, v->indicator);
        const cell_t *got = ind ? find(s, ind->code) : NULL;
        if (v->deleted || !is_derived(ind) || !got)
            continue;
        double r;
        char counts[64] = " (enter its counts)";
        if (find(s, ind->numerator) && find(s, ind->denominator)
            && look((void *) s, ind->code, &r)) {
            if (fabs(r - got->num) <= 0.05)
                continue;
            snprintf(counts, sizeof counts, " (its counts give %.10g)", r);
        }
        say(warn, "warning: %s %s: %s is derived from %s / %s; the "
            "entered value %s is ignored%s\n", v->org_unit, v->period,
            ind->code, ind->numerator, ind->denominator, v->value, counts);
    }
}

static void
warn_rules(const set_t *s, const cds_rules_t *rules, const char *ou,
           const char *pe, out_t *warn)
{
    for (size_t i = 0; i < cds_rules_size(rules); i++) {
        const cds_rule_t *r = cds_rules_at(rules, i);
        double l, rv;
        if (!cds_rule_codes_all(r, has, (void *) s)
            || cds_rule_eval(r, look, (void *) s, &l, &rv) != CDS_RULE_FAIL)
            continue;
        say(warn, "warning: %s %s: rule %s (%s, %s): %s %s %s does not "
            "hold (%.10g, %.10g); queued anyway\n", ou, pe, r->code,
            cds_rule_severity_name(r->severity), r->name_vi, r->left_text,
            cds_rule_op_name(r->op), r->right_text, l, rv);
    }
}

/* qsort_r order of indices into u: org unit, period, then input order
 * (a later value of a key must come after an earlier one). */
static int
cmp_key(const void *a, const void *b, void *arg)
{
    const cds_update_t *u = arg;
    size_t i = *(const size_t *) a, j = *(const size_t *) b;
    int c = strcmp(u[i].org_unit, u[j].org_unit);
    if (!c)
        c = strcmp(u[i].period, u[j].period);
    return c ? c : (i > j) - (i < j);
}

static bool
same_key(const cds_update_t *x, const cds_update_t *y)
{
    return strcmp(x->org_unit, y->org_unit) == 0
           && strcmp(x->period, y->period) == 0;
}

size_t
entrycheck_warn(const cds_catalog_t *cat, const cds_rules_t *rules,
                outbox_t *outbox, const cds_update_t *u, size_t n,
                FILE *warn)
{
    out_t out = {warn, 0};
    size_t *ix = malloc((n ? n : 1) * sizeof *ix);
    if (!ix)
        return 0;              /* warnings are a help, not a duty */
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    qsort_r(ix, n, sizeof *ix, cmp_key, (void *) u);
    for (size_t a = 0, b; a < n; a = b) {
        const cds_update_t *g = &u[ix[a]];
        for (b = a + 1; b < n && same_key(&u[ix[b]], g); b++)
            ;
        set_t s = {.cat = cat};
        if (outbox)
            (void) outbox_pending_of(outbox, g->org_unit, g->period,
                                     put_pending, &s);
        for (size_t k = a; k < b; k++)
            if (strcmp(u[ix[k]].disagg ? u[ix[k]].disagg : "default",
                       "default") == 0)
                put(&s, u[ix[k]].indicator, u[ix[k]].value,
                    u[ix[k]].deleted);
        warn_derived(&s, u, ix + a, b - a, &out);
        warn_rules(&s, rules, g->org_unit, g->period, &out);
        free(s.c);
    }
    free(ix);
    if (out.n > ENTRYCHECK_MAX_LISTED)
        fprintf(warn, "warning: ... and %zu more\n",
                out.n - ENTRYCHECK_MAX_LISTED);
    return out.n;
}

int
entrycheck_rules_load(const cds_config_t *cfg, const cds_catalog_t *cat,
                      cds_rules_t **out, char *err, size_t errlen)
{
    char path[4096];
    bool explicit;
    *out = NULL;
    int rc = cds_rules_path(cds_config_get(cfg, "agent.rules"),
                            cds_config_get(cfg, "agent.catalog"), path,
                            sizeof path, &explicit);
    if (rc != CDS_OK || (!explicit && access(path, F_OK) != 0))
        return rc;
    *out = cds_rules_load(path, cat, err, errlen);
    return *out ? CDS_OK : CDS_EMALFORMED;
}

size_t
entrycheck_check(const cds_config_t *cfg, FILE *out)
{
    char path[4096], err[512];
    bool explicit;
    if (cds_rules_path(cds_config_get(cfg, "agent.rules"),
                       cds_config_get(cfg, "agent.catalog"), path,
                       sizeof path, &explicit) != CDS_OK
        || (!explicit && access(path, F_OK) != 0))
        return 0;
    cds_catalog_t *cat = cds_catalog_load(cds_config_get(cfg,
                                          "agent.catalog"), err, sizeof err);
    size_t bad = cds_rules_check(path, cat, out);
    cds_catalog_destroy(&cat);
    return bad;
}
