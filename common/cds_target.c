/*  cds_target: targets, attainment and traffic-light states (see
 *  cds_target.h).
 *
 *  Rows are kept in file order. Lookups and the duplicate check scan them:
 *  O(rows x depth) per lookup, O(rows^2) at load; a province's file holds
 *  a few hundred rows (indicators x years x a handful of selectors), so a
 *  scan costs microseconds and needs no index. */
#include "cds_target.h"

#include "cds_csvload.h"
#include "cds_err.h"
#include "cds_period.h"
#include "cds_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SOURCE_MAX_BYTES 512

struct cds_targets {
    cds_target_t *t;           /* rows in file order, owned */
    size_t n, cap;             /* used and allocated */
};

enum { C_IND, C_OU, C_YEAR, C_TARGET, C_DIR, C_CLOSE, C_SOURCE, C__COUNT };
static const char *const col_names[C__COUNT] = {
    "indicator", "org_unit", "year", "target", "direction", "close_within",
    "source_vi",
};

typedef cds_csvload_t loader_t;  /* ctx: a refs_t */

/* The catalog and org units a row may name (each NULL: any). */
typedef struct {
    const cds_catalog_t *cat;
    const cds_orgunits_t *ous;
} refs_t;

static int
row_error(loader_t *ld, size_t line, int col, const char *problem,
          const char *value)
{
    return cds_csvload_error(ld, line, col, problem, value);
}

static const char *
field(loader_t *ld, int col)
{
    return cds_csvload_get(ld, col);
}

/* A finite number >= 0 in s (no trailing text). */
static bool
number_ok(const char *s, double *out)
{
    char *end = NULL;
    if (!s[0] || s[0] == ' ' || s[0] == '+' || s[0] == '-')
        return false;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

static void
target_free(cds_target_t *t)
{
    free(t->indicator);
    free(t->org_unit);
    free(t->source_vi);
}

/* indicator and org_unit columns into t. */
static int
parse_keys(loader_t *ld, size_t line, cds_target_t *t,
           const cds_indicator_t **ind)
{
    const refs_t *refs = ld->ctx;
    const char *code = field(ld, C_IND), *ou = field(ld, C_OU);
    *ind = refs->cat ? cds_catalog_find(refs->cat, code) : NULL;
    if (!code[0])
        return row_error(ld, line, C_IND, "empty", NULL);
    if (refs->cat && !*ind)
        return row_error(ld, line, C_IND, "not in the catalog", code);
    if (*ind && (*ind)->type == CDS_VT_TEXT)
        return row_error(ld, line, C_IND, "a TEXT indicator has no target",
                         code);
    t->subtree = strncmp(ou, "under:", 6) == 0;
    t->org_unit = strdup(t->subtree ? ou + 6 : ou);
    t->indicator = strdup(code);
    if (!t->org_unit || !t->indicator)
        return row_error(ld, line, C_OU, "out of memory", NULL);
    if (!t->org_unit[0])
        return row_error(ld, line, C_OU, "empty (a unit code, or under:CODE "
                         "for the units below CODE)", NULL);
    if (refs->ous && !cds_orgunits_find(refs->ous, t->org_unit))
        return row_error(ld, line, C_OU, "not in the org-unit list", ou);
    return 0;
}

/* target, direction and close_within columns into t. */
static int
parse_numbers(loader_t *ld, size_t line, cds_target_t *t,
              const cds_indicator_t *ind)
{
    const char *v = field(ld, C_TARGET), *dir = field(ld, C_DIR);
    const char *close = field(ld, C_CLOSE);
    bool boolean = ind && ind->type == CDS_VT_BOOLEAN;
    if (boolean && strcasecmp(v, "true") == 0)
        t->target = 100;
    else if (!number_ok(v, &t->target))
        return row_error(ld, line, C_TARGET, "not a number >= 0", v);
    if ((boolean || (ind && ind->type == CDS_VT_PERCENTAGE))
        && t->target > 100)
        return row_error(ld, line, C_TARGET, boolean ? "over 100 (a BOOLEAN "
                         "target is the % of units answering yes)"
                         : "over 100 for a PERCENTAGE", v);
    if (!dir[0] || strcasecmp(dir, "higher") == 0)
        t->lower = false;
    else if (strcasecmp(dir, "lower") == 0 && !boolean)
        t->lower = true;
    else
        return row_error(ld, line, C_DIR, boolean ? "a BOOLEAN target is "
                         "always higher" : "expected higher or lower", dir);
    t->close_within = CDS_TARGET_CLOSE_WITHIN;
    if (close[0] && (!number_ok(close, &t->close_within)
                     || t->close_within > 100))
        return row_error(ld, line, C_CLOSE, "expected 0..100 (percentage "
                         "points of attainment)", close);
    return 0;
}

static int
parse_row(loader_t *ld, cds_target_t *t)
{
    size_t line = cds_csvload_line(ld);
    const cds_indicator_t *ind = NULL;
    memset(t, 0, sizeof *t);
    t->line = line;
    if (parse_keys(ld, line, t, &ind) < 0)
        return -1;
    const char *y = field(ld, C_YEAR), *src = field(ld, C_SOURCE);
    char *end = NULL;
    long year = strtol(y, &end, 10);
    if (strlen(y) != 4 || *end || year < 1900 || year > 2999)
        return row_error(ld, line, C_YEAR, "expected a year YYYY", y);
    t->year = (int) year;
    if (parse_numbers(ld, line, t, ind) < 0)
        return -1;
    size_t slen = strlen(src);
    if (!slen || slen > SOURCE_MAX_BYTES || !cds_utf8_valid(src, slen))
        return row_error(ld, line, C_SOURCE, "empty, over 512 bytes or not "
                         "valid UTF-8 (name the decision or plan)", NULL);
    if (!(t->source_vi = strdup(src)))
        return row_error(ld, line, C_SOURCE, "out of memory", NULL);
    return 0;
}

/* The row of the same key defined earlier, or NULL. */
static const cds_target_t *
duplicate(const cds_targets_t *self, const cds_target_t *t)
{
    for (size_t i = 0; i < self->n; i++) {
        const cds_target_t *o = &self->t[i];
        if (o->year == t->year && o->subtree == t->subtree
            && strcmp(o->indicator, t->indicator) == 0
            && strcmp(o->org_unit, t->org_unit) == 0)
            return o;
    }
    return NULL;
}

static int
append(loader_t *ld, cds_targets_t *self, cds_target_t *t)
{
    const cds_target_t *dup = duplicate(self, t);
    if (dup) {
        char what[64];
        snprintf(what, sizeof what, "same indicator, org_unit and year as "
                 "line %zu", dup->line);
        return row_error(ld, t->line, C_OU, what, field(ld, C_OU));
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 32;
        cds_target_t *a = realloc(self->t, cap * sizeof *a);
        if (!a)
            return row_error(ld, t->line, C_IND, "out of memory", NULL);
        self->t = a;
        self->cap = cap;
    }
    self->t[self->n++] = *t;
    return 0;
}

/* One row: parsed and appended, or its problem in ld->err (-1). */
static int
take_row(loader_t *ld, void *self)
{
    cds_target_t t;
    if (parse_row(ld, &t) == 0 && append(ld, self, &t) == 0)
        return 0;
    target_free(&t);
    return -1;
}

static void
destroy(void *self)
{
    cds_targets_destroy((cds_targets_t **) &self);
}

static const int required[] = { C_IND, C_OU, C_YEAR, C_TARGET, C_SOURCE,
                                -1 };
static const cds_csvload_spec_t spec = {
    .columns = col_names, .ncolumns = C__COUNT, .required = required,
    .size = sizeof (cds_targets_t), .destroy = destroy, .row = take_row,
};

cds_targets_t *
cds_targets_load(const char *path, const cds_catalog_t *catalog,
                 const cds_orgunits_t *ous, char *err, size_t errlen)
{
    refs_t refs = { catalog, ous };
    return cds_csvload_load(&spec, path, &refs, err, errlen);
}

size_t
cds_targets_check(const char *path, const cds_catalog_t *catalog,
                  const cds_orgunits_t *ous, void *out)
{
    refs_t refs = { catalog, ous };
    return cds_csvload_check(&spec, path, &refs, out);
}

void
cds_targets_destroy(cds_targets_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_targets_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        target_free(&self->t[i]);
    free(self->t);
    free(self);
    *self_p = NULL;
}

size_t
cds_targets_size(const cds_targets_t *self)
{
    return self ? self->n : 0;
}

const cds_target_t *
cds_targets_at(const cds_targets_t *self, size_t i)
{
    return self && i < self->n ? &self->t[i] : NULL;
}

int
cds_target_year(const char *period)
{
    cds_period_t p;
    int y, m, d;
    if (!period || cds_period_parse(period, &p) != CDS_OK)
        return -1;
    cds_day_to_ymd(p.end, &y, &m, &d);
    return y;
}

static const cds_target_t *
find_one(const cds_targets_t *self, const char *indicator, int year,
         const char *ou, bool subtree)
{
    for (size_t i = 0; i < self->n; i++) {
        const cds_target_t *t = &self->t[i];
        if (t->year == year && t->subtree == subtree
            && strcmp(t->org_unit, ou) == 0
            && strcmp(t->indicator, indicator) == 0)
            return t;
    }
    return NULL;
}

const cds_target_t *
cds_targets_find(const cds_targets_t *self, const char *indicator, int year,
                 const char *const *chain, size_t n)
{
    if (!self || !indicator || n == 0)
        return NULL;
    const cds_target_t *t = find_one(self, indicator, year, chain[0], false);
    for (size_t i = 1; !t && i < n; i++)
        t = find_one(self, indicator, year, chain[i], true);
    return t;
}

bool
cds_target_attainment(const cds_target_t *t, cds_value_type_t type,
                      double value, double units, double *pct)
{
    if (type == CDS_VT_BOOLEAN) {
        if (!(units > 0))
            return false;
        value = 100.0 * value / units;
    }
    if (t->lower)
        *pct = value <= t->target ? 100.0 : 100.0 * t->target / value;
    else if (t->target == 0)
        *pct = 100.0;
    else
        *pct = 100.0 * value / t->target;
    return true;
}

cds_target_state_t
cds_target_state(const cds_target_t *t, double pct)
{
    if (pct >= 100.0)
        return CDS_TARGET_MET;
    return pct >= 100.0 - t->close_within ? CDS_TARGET_CLOSE
                                          : CDS_TARGET_BEHIND;
}

const char *
cds_target_state_name(cds_target_state_t s)
{
    switch (s) {
    case CDS_TARGET_MET:
        return "met";
    case CDS_TARGET_CLOSE:
        return "close";
    default:
        return "behind";
    }
}
