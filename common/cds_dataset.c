/*  cds_dataset: data sets (see cds_dataset.h).
 *
 *  Each data set keeps its indicators in file order and its org units
 *  resolved at load into a code-sorted array of (code, lifetime): an
 *  under:/leaves:/level: item walks the org-unit file once. A lookup is
 *  a scan over the data sets (a handful) with a binary search in each.
 *  Loading is cds_csvload's loop (the header, the modes load and check);
 *  this file has the row's checks and the resolution of its items. */
#include "cds_dataset.h"

#include "cds_csvload.h"
#include "cds_err.h"
#include "cds_util.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_MAX_BYTES 512
#define MAX_DEADLINE 3660

typedef struct {
    const char *code;          /* borrowed from the org-unit file or owned */
    int32_t from, to;          /* lifetime; open ends INT32_MIN/MAX */
} member_t;

typedef struct {
    char *code, *name;         /* owned */
    cds_period_type_t type;
    int deadline;              /* -1: the type's default */
    char **inds;               /* owned codes, file order */
    size_t n_inds;
    member_t *units;           /* by code */
    size_t n_units;
    char **owned;              /* codes copied when no org-unit file */
    size_t n_owned;
    size_t line;
} set_t;

struct cds_datasets {
    char *path;
    set_t *sets;
    size_t n;
};

enum { C_CODE, C_NAME, C_TYPE, C_DEADLINE, C_INDS, C_UNITS, C__COUNT };
static const char *const col_names[C__COUNT] = {
    "code", "name_vi", "period_type", "deadline_days", "indicators",
    "org_units",
};

typedef cds_csvload_t loader_t;  /* ctx: a refs_t */

/* The catalog and org units a row may name (each NULL: not checked). */
typedef struct {
    const cds_catalog_t *catalog;
    const cds_orgunits_t *ous;
} refs_t;

static int
row_error(loader_t *ld, size_t line, int col, const char *problem,
          const char *value)
{
    return cds_csvload_error(ld, line, col, problem, value);
}

static bool
code_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void
set_free(set_t *s)
{
    free(s->code);
    free(s->name);
    for (size_t i = 0; i < s->n_inds; i++)
        free(s->inds[i]);
    free(s->inds);
    for (size_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->units);
    memset(s, 0, sizeof *s);
}

/* Next space-separated token of *p into tok (tokens over 80 bytes are
 * cut and then fail code_ok). false at the end. */
static bool
next_token(const char **p, char *tok, size_t len)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (!**p)
        return false;
    size_t n = 0;
    while (**p && **p != ' ' && **p != '\t') {
        if (n + 1 < len)
            tok[n++] = **p;
        (*p)++;
    }
    tok[n] = '\0';
    return true;
}

static int
add_indicator(loader_t *ld, set_t *s, const char *code)
{
    size_t line = cds_csvload_line(ld);
    const cds_catalog_t *catalog = ((const refs_t *) ld->ctx)->catalog;
    if (!code_ok(code, strlen(code)))
        return row_error(ld, line, C_INDS, "not an indicator code", code);
    if (catalog) {
        const cds_indicator_t *ind = cds_catalog_find(catalog, code);
        if (!ind)
            return row_error(ld, line, C_INDS, "not in the catalog", code);
        if (ind->has_period_type && ind->period_type != s->type) {
            char msg[160];
            snprintf(msg, sizeof msg, "the catalog gives it period type %s,"
                     " the data set is %s",
                     cds_period_type_name(ind->period_type),
                     cds_period_type_name(s->type));
            return row_error(ld, line, C_INDS, msg, code);
        }
    }
    for (size_t i = 0; i < s->n_inds; i++)
        if (strcmp(s->inds[i], code) == 0)
            return row_error(ld, line, C_INDS, "listed twice", code);
    char **a = realloc(s->inds, (s->n_inds + 1) * sizeof *a);
    if (!a || !(a[s->n_inds] = strdup(code))) {
        if (a)
            s->inds = a;
        return row_error(ld, line, C_INDS, "out of memory", NULL);
    }
    s->inds = a;
    s->n_inds++;
    return 0;
}

static int
add_member(set_t *s, const char *code, int32_t from, int32_t to)
{
    for (size_t i = 0; i < s->n_units; i++)
        if (strcmp(s->units[i].code, code) == 0)
            return 0;          /* named twice (a code and a subtree) */
    member_t *a = realloc(s->units, (s->n_units + 1) * sizeof *a);
    if (!a)
        return -1;
    s->units = a;
    s->units[s->n_units++] = (member_t) { code, from, to };
    return 0;
}

/* A plain code without the org-unit file: copied, lifetime unknown. */
static int
add_owned(set_t *s, const char *code)
{
    char **a = realloc(s->owned, (s->n_owned + 1) * sizeof *a);
    if (!a)
        return -1;
    s->owned = a;
    if (!(a[s->n_owned] = strdup(code)))
        return -1;
    s->n_owned++;
    return add_member(s, a[s->n_owned - 1], INT32_MIN, INT32_MAX);
}

static bool
has_child(const cds_orgunits_t *ous, const char *code)
{
    for (size_t i = 0; i < cds_orgunits_size(ous); i++) {
        const cds_orgunit_t *u = cds_orgunits_at(ous, i);
        if (u->parent && strcmp(u->parent, code) == 0)
            return true;
    }
    return false;
}

/* Every unit of the file matching kind ('u' under, 'l' leaves, 'd'
 * level) with arg (a code, or the depth). Returns added count or -1. */
static long
add_matching(const cds_orgunits_t *ous, set_t *s, char kind,
             const char *arg, int depth)
{
    long added = 0;
    for (size_t i = 0; i < cds_orgunits_size(ous); i++) {
        const cds_orgunit_t *u = cds_orgunits_at(ous, i);
        bool in = kind == 'd' ? u->depth == depth
                              : strcmp(u->code, arg) != 0
                                && cds_orgunits_within(ous, u->code, arg);
        if (in && kind == 'l' && has_child(ous, u->code))
            in = false;
        if (in && add_member(s, u->code, u->valid_from, u->valid_to) < 0)
            return -1;
        added += in;
    }
    return added;
}

static int
add_unit_item(loader_t *ld, set_t *s, const char *item)
{
    size_t line = cds_csvload_line(ld);
    const cds_orgunits_t *ous = ((const refs_t *) ld->ctx)->ous;
    const char *colon = strchr(item, ':');
    const char *arg = colon ? colon + 1 : item;
    size_t klen = colon ? (size_t) (colon - item) : 0;
    char kind = !colon ? 'c'
        : klen == 5 && strncmp(item, "under", 5) == 0 ? 'u'
        : klen == 6 && strncmp(item, "leaves", 6) == 0 ? 'l'
        : klen == 5 && strncmp(item, "level", 5) == 0 ? 'd' : '?';
    char *end = NULL;
    long depth = kind == 'd' ? strtol(arg, &end, 10) : 0;
    if (kind == '?' || (kind == 'd' && (!*arg || *end || depth < 0
                                         || depth > 64))
        || (kind != 'd' && !code_ok(arg, strlen(arg))))
        return row_error(ld, line, C_UNITS, "not CODE, under:CODE, "
                         "leaves:CODE or level:N", item);
    if (!ous && kind != 'c')
        return row_error(ld, line, C_UNITS, "needs the org-unit file "
                         "(orgunits)", item);
    if (!ous)
        return add_owned(s, arg) < 0
            ? row_error(ld, line, C_UNITS, "out of memory", NULL) : 0;
    const cds_orgunit_t *u = kind == 'd' ? NULL
                                         : cds_orgunits_find(ous, arg);
    if (kind != 'd' && !u)
        return row_error(ld, line, C_UNITS, "no org unit with this code in "
                         "the org-unit file", arg);
    long added = kind == 'c'
        ? (add_member(s, u->code, u->valid_from, u->valid_to) < 0 ? -1 : 1)
        : add_matching(ous, s, kind, arg, (int) depth);
    if (added < 0)
        return row_error(ld, line, C_UNITS, "out of memory", NULL);
    if (added == 0)
        return row_error(ld, line, C_UNITS, "names no org unit", item);
    return 0;
}

static int
cmp_member(const void *a, const void *b)
{
    return strcmp(((const member_t *) a)->code, ((const member_t *) b)->code);
}

/* The list column col split on spaces, each item through add. */
static int
each_item(loader_t *ld, set_t *s, int col,
          int (*add)(loader_t *, set_t *, const char *))
{
    const char *p = cds_csvload_get(ld, col);
    char tok[96];
    size_t n = 0;
    while (next_token(&p, tok, sizeof tok)) {
        if (add(ld, s, tok) < 0)
            return -1;
        n++;
    }
    if (n == 0)
        return row_error(ld, cds_csvload_line(ld), col, "empty", NULL);
    return 0;
}

static int
parse_head(loader_t *ld, set_t *s)
{
    size_t line = cds_csvload_line(ld);
    const char *code = cds_csvload_get(ld, C_CODE);
    const char *name = cds_csvload_get(ld, C_NAME);
    const char *type = cds_csvload_get(ld, C_TYPE);
    const char *dl = cds_csvload_get(ld, C_DEADLINE);
    if (!code_ok(code, strlen(code)))
        return row_error(ld, line, C_CODE, code[0] ? "only A-Z, a-z, 0-9, "
                         "'_' and '-', at most 64" : "empty",
                         code[0] ? code : NULL);
    size_t nl = strlen(name);
    if (nl == 0 || nl > NAME_MAX_BYTES || !cds_utf8_valid(name, nl))
        return row_error(ld, line, C_NAME, "empty, too long or not valid "
                         "UTF-8", NULL);
    if (cds_period_type_parse(type, &s->type) != CDS_OK)
        return row_error(ld, line, C_TYPE, "not a DHIS2 period type "
                         "(Yearly, Quarterly, Monthly, ...)", type);
    s->deadline = -1;
    if (dl[0]) {
        char *end = NULL;
        long v = strtol(dl, &end, 10);
        if (*end || v < 0 || v > MAX_DEADLINE || dl[0] == '+'
            || dl[0] == '-' || dl[0] == ' ')
            return row_error(ld, line, C_DEADLINE, "not a whole number of "
                             "days 0..3660", dl);
        s->deadline = (int) v;
    }
    s->line = line;
    s->code = strdup(code);
    s->name = strdup(name);
    if (!s->code || !s->name)
        return row_error(ld, line, C_CODE, "out of memory", NULL);
    return 0;
}

static int
parse_row(loader_t *ld, set_t *s)
{
    memset(s, 0, sizeof *s);
    if (parse_head(ld, s) < 0 || each_item(ld, s, C_INDS, add_indicator) < 0
        || each_item(ld, s, C_UNITS, add_unit_item) < 0) {
        set_free(s);
        return -1;
    }
    qsort(s->units, s->n_units, sizeof *s->units, cmp_member);
    return 0;
}

/* Duplicate data-set code: reported at its later line. */
static int
check_duplicate(loader_t *ld, const cds_datasets_t *self, const set_t *s)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->sets[i].code, s->code) == 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "duplicate code, first defined on "
                     "line %zu", self->sets[i].line);
            return row_error(ld, s->line, C_CODE, msg, s->code);
        }
    return 0;
}

static int
take_row(loader_t *ld, void *data)
{
    cds_datasets_t *self = data;
    set_t s;
    if (parse_row(ld, &s) < 0)
        return -1;
    if (check_duplicate(ld, self, &s) < 0) {
        set_free(&s);
        return -1;
    }
    set_t *a = realloc(self->sets, (self->n + 1) * sizeof *a);
    if (!a) {
        set_free(&s);
        return row_error(ld, s.line, C_CODE, "out of memory", NULL);
    }
    self->sets = a;
    self->sets[self->n++] = s;
    return 0;
}

/* The path the sets' messages name (cds_datasets_expects). */
static int
finish(loader_t *ld, void *data)
{
    cds_datasets_t *self = data;
    if (!(self->path = strdup(ld->path))) {
        snprintf(ld->err, ld->errlen, "%s: out of memory", ld->path);
        return -1;
    }
    return 0;
}

static void
destroy(void *self)
{
    cds_datasets_destroy((cds_datasets_t **) &self);
}

static const int required[] = { C_CODE, C_NAME, C_TYPE, C_INDS, C_UNITS,
                                -1 };
static const cds_csvload_spec_t spec = {
    .columns = col_names, .ncolumns = C__COUNT, .required = required,
    .size = sizeof (cds_datasets_t), .destroy = destroy, .row = take_row,
    .finish = finish,
};

/* Members borrow codes from the org-unit file: copy them into the set so
 * the data sets outlive it. */
static int
own_members(cds_datasets_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        set_t *s = &self->sets[i];
        if (s->n_owned)
            continue;
        s->owned = calloc(s->n_units ? s->n_units : 1, sizeof *s->owned);
        if (!s->owned)
            return -1;
        for (size_t j = 0; j < s->n_units; j++) {
            if (!(s->owned[j] = strdup(s->units[j].code)))
                return -1;
            s->n_owned++;
            s->units[j].code = s->owned[j];
        }
    }
    return 0;
}

cds_datasets_t *
cds_datasets_load(const char *path, const cds_catalog_t *catalog,
                  const cds_orgunits_t *ous, char *err, size_t errlen)
{
    refs_t refs = { catalog, ous };
    cds_datasets_t *self = cds_csvload_load(&spec, path, &refs, err, errlen);
    if (self && ous && own_members(self) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        cds_datasets_destroy(&self);
    }
    return self;
}

size_t
cds_datasets_check(const char *path, const cds_catalog_t *catalog,
                   const cds_orgunits_t *ous, void *out)
{
    refs_t refs = { catalog, ous };
    return cds_csvload_check(&spec, path, &refs, out);
}

void
cds_datasets_destroy(cds_datasets_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_datasets_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        set_free(&self->sets[i]);
    free(self->sets);
    free(self->path);
    free(self);
    *self_p = NULL;
}

size_t
cds_datasets_size(const cds_datasets_t *self)
{
    return self->n;
}

const char *
cds_datasets_code(const cds_datasets_t *self, size_t i)
{
    return i < self->n ? self->sets[i].code : NULL;
}

const char *const *
cds_datasets_indicators(const cds_datasets_t *self, const char *code,
                        size_t *n, cds_period_type_t *type)
{
    for (size_t i = 0; self && i < self->n; i++)
        if (strcmp(self->sets[i].code, code) == 0) {
            *n = self->sets[i].n_inds;
            if (type)
                *type = self->sets[i].type;
            return (const char *const *) self->sets[i].inds;
        }
    *n = 0;
    return NULL;
}

const char *
cds_datasets_name(const cds_datasets_t *self, size_t i)
{
    return i < self->n ? self->sets[i].name : NULL;
}

static const member_t *
find_member(const set_t *s, const char *unit)
{
    member_t key = { unit, 0, 0 };
    return bsearch(&key, s->units, s->n_units, sizeof *s->units,
                   cmp_member);
}

static bool
has_indicator(const set_t *s, const char *indicator)
{
    for (size_t i = 0; i < s->n_inds; i++)
        if (strcmp(s->inds[i], indicator) == 0)
            return true;
    return false;
}

bool
cds_datasets_expects(const cds_datasets_t *self, const char *unit,
                     const char *indicator, const cds_period_t *p,
                     char *why, size_t whylen)
{
    const set_t *near = NULL;          /* holds the indicator, not the unit */
    for (size_t i = 0; i < self->n; i++) {
        const set_t *s = &self->sets[i];
        if (!has_indicator(s, indicator))
            continue;
        const member_t *m = s->type == p->type ? find_member(s, unit) : NULL;
        if (m && cds_orgunit_open_in(m->from, m->to, p->start, p->end))
            return true;
        if (!near)
            near = s;
    }
    if (why && near)
        snprintf(why, whylen, "indicator \"%s\" is not in a data set of "
                 "org unit \"%s\" for this period (%s:%zu: data set %s, "
                 "%s, lists other org units)", indicator, unit, self->path,
                 near->line, near->code, cds_period_type_name(near->type));
    else if (why)
        snprintf(why, whylen, "indicator \"%s\" is in no data set (%s)",
                 indicator, self->path);
    return false;
}

size_t
cds_datasets_cells(const cds_datasets_t *self, const char *unit,
                   const cds_period_t *p, cds_dataset_cell_t *out,
                   size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++) {
        const set_t *s = &self->sets[i];
        const member_t *m = s->type == p->type ? find_member(s, unit) : NULL;
        if (!m || !cds_orgunit_open_in(m->from, m->to, p->start, p->end))
            continue;
        for (size_t j = 0; j < s->n_inds; j++) {
            bool seen = false;
            for (size_t k = 0; k < n && k < max && !seen; k++)
                seen = strcmp(out[k].indicator, s->inds[j]) == 0;
            if (seen)
                continue;
            if (n < max)
                out[n] = (cds_dataset_cell_t) { s->inds[j], s->deadline };
            n++;
        }
    }
    return n;
}

const char *
cds_datasets_beside(const char *beside, const char *name, char *buf,
                    size_t len)
{
    char *copy = strdup(beside && beside[0] ? beside : ".");
    if (!copy)
        return NULL;
    int n = snprintf(buf, len, "%s/%s", dirname(copy), name);
    free(copy);
    if (n < 0 || (size_t) n >= len || access(buf, R_OK) != 0)
        return NULL;
    return buf;
}

int
cds_datasets_configured(const char *path, const char *catalog_path,
                        const cds_catalog_t *catalog,
                        const cds_orgunits_t *ous, cds_datasets_t **out,
                        char *err, size_t errlen)
{
    char buf[4096];
    *out = NULL;
    if (!path || !path[0])
        path = cds_datasets_beside(catalog_path, "datasets.csv", buf,
                                   sizeof buf);
    if (!path)
        return CDS_OK;         /* no data sets shipped: feature off */
    *out = cds_datasets_load(path, catalog, ous, err, errlen);
    return *out ? CDS_OK : CDS_EMALFORMED;
}

size_t
cds_datasets_check_configured(const char *path, const char *catalog_path,
                              const char *orgunits_path, void *out)
{
    char buf[4096], err[1024];
    if (!path || !path[0])
        path = cds_datasets_beside(catalog_path, "datasets.csv", buf,
                                   sizeof buf);
    if (!path)
        return 0;
    cds_catalog_t *cat = catalog_path
        ? cds_catalog_load(catalog_path, err, sizeof err) : NULL;
    cds_orgunits_t *ous = orgunits_path && orgunits_path[0]
        ? cds_orgunits_load(orgunits_path, err, sizeof err) : NULL;
    size_t n = cds_datasets_check(path, cat, ous, out);
    cds_orgunits_destroy(&ous);
    cds_catalog_destroy(&cat);
    return n;
}
