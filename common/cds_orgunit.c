/*  cds_orgunit: the org-unit tree (see cds_orgunit.h).
 *
 *  Units are kept in file order with the index of their parent, and a
 *  code-sorted index for lookups. Depths are computed once at load by
 *  walking up; a walk longer than the number of units is a cycle.
 *  within() walks up from the unit: O(depth), a handful of steps. */
#include "cds_orgunit.h"

#include "cds_csvload.h"
#include "cds_err.h"
#include "cds_period.h"
#include "cds_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 512

typedef struct {
    cds_orgunit_t pub;         /* what callers see */
    size_t line;               /* line it was defined on */
    size_t parent;             /* index of the parent; SIZE_MAX for a root */
} unit_t;

struct cds_orgunits {
    unit_t *u;                 /* units in file order, owned */
    size_t n, cap;             /* used and allocated */
    unit_t **sorted;           /* pointers into u, by code */
};

enum { C_CODE, C_NAME, C_PARENT, C_FROM, C_TO, C__COUNT };
static const char *const col_names[C__COUNT] = {
    "code", "name", "parent", "valid_from", "valid_to",
};

typedef cds_csvload_t loader_t;  /* the read loop (cds_csvload.h) */

/* "path:line: column: problem (value "X")"; value may be NULL. */
static int
row_error(loader_t *ld, size_t line, int col, const char *problem,
          const char *value)
{
    return cds_csvload_error(ld, line, col, problem, value);
}

static bool
code_ok(const char *s)
{
    size_t len = strlen(s);
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

static bool
name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > NAME_MAX_BYTES || !cds_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int
parse_date(loader_t *ld, size_t line, int col, int32_t open, int32_t *out)
{
    const char *s = cds_csvload_get(ld, col);
    if (!s[0]) {
        *out = open;
        return 0;
    }
    if (cds_date_parse(s, out) != CDS_OK)
        return row_error(ld, line, col, "not a date YYYY-MM-DD", s);
    return 0;
}

static void
unit_free(unit_t *u)
{
    free(u->pub.code);
    free(u->pub.name);
    free(u->pub.parent);
}

static int
parse_row(loader_t *ld, unit_t *u)
{
    size_t line = cds_csvload_line(ld);
    const char *code = cds_csvload_get(ld, C_CODE);
    const char *name = cds_csvload_get(ld, C_NAME);
    const char *parent = cds_csvload_get(ld, C_PARENT);
    memset(u, 0, sizeof *u);
    u->line = line;
    u->parent = SIZE_MAX;
    if (!code_ok(code))
        return row_error(ld, line, C_CODE, code[0] ? "only A-Z, a-z, 0-9, "
                         "'_' and '-', at most 64" : "empty",
                         code[0] ? code : NULL);
    if (!name_ok(name))
        return row_error(ld, line, C_NAME, "empty, too long, not valid "
                         "UTF-8 or holds control characters", NULL);
    if (parent[0] && !code_ok(parent))
        return row_error(ld, line, C_PARENT, "not an org-unit code", parent);
    if (parse_date(ld, line, C_FROM, INT32_MIN, &u->pub.valid_from) < 0
        || parse_date(ld, line, C_TO, INT32_MAX, &u->pub.valid_to) < 0)
        return -1;
    if (u->pub.valid_from > u->pub.valid_to)
        return row_error(ld, line, C_TO, "before valid_from",
                         cds_csvload_get(ld, C_TO));
    u->pub.code = strdup(code);
    u->pub.name = strdup(name);
    u->pub.parent = parent[0] ? strdup(parent) : NULL;
    if (!u->pub.code || !u->pub.name || (parent[0] && !u->pub.parent)) {
        unit_free(u);
        return row_error(ld, line, C_CODE, "out of memory", NULL);
    }
    return 0;
}

static int
append(cds_orgunits_t *self, const unit_t *u)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        unit_t *a = realloc(self->u, cap * sizeof *a);
        if (!a)
            return -1;
        self->u = a;
        self->cap = cap;
    }
    self->u[self->n++] = *u;
    return 0;
}

/* One row: parsed and appended (-1: a row problem in ld->err; out of
 * memory ends the reading). */
static int
take_row(loader_t *ld, void *self)
{
    unit_t u;
    if (parse_row(ld, &u) < 0)
        return -1;
    if (append(self, &u) < 0) {
        unit_free(&u);
        row_error(ld, u.line, C_CODE, "out of memory", NULL);
        return CDS_CSVLOAD_STOP;
    }
    return 0;
}

static int
cmp_unit_ptr(const void *a, const void *b)
{
    const unit_t *x = *(const unit_t *const *) a;
    const unit_t *y = *(const unit_t *const *) b;
    return strcmp(x->pub.code, y->pub.code);
}

static int
cmp_key_unit(const void *key, const void *elem)
{
    const unit_t *y = *(const unit_t *const *) elem;
    return strcmp((const char *) key, y->pub.code);
}

static unit_t *
find_unit(const cds_orgunits_t *self, const char *code)
{
    if (!self->sorted || !code)
        return NULL;
    unit_t *const *hit = bsearch(code, self->sorted, self->n,
                                 sizeof *self->sorted, cmp_key_unit);
    return hit ? *hit : NULL;
}

/* Sorted index; a duplicate is reported at its later definition. */
static int
build_index(cds_orgunits_t *self, loader_t *ld)
{
    self->sorted = calloc(self->n, sizeof *self->sorted);
    if (!self->sorted)
        return row_error(ld, 1, C_CODE, "out of memory", NULL);
    for (size_t i = 0; i < self->n; i++)
        self->sorted[i] = &self->u[i];
    qsort(self->sorted, self->n, sizeof *self->sorted, cmp_unit_ptr);
    const unit_t *dup = NULL, *first = NULL;
    for (size_t i = 1; i < self->n; i++) {
        const unit_t *a = self->sorted[i - 1], *b = self->sorted[i];
        if (strcmp(a->pub.code, b->pub.code) != 0)
            continue;
        if (a->line > b->line) {
            const unit_t *t = a;
            a = b;
            b = t;
        }
        if (!dup || b->line < dup->line) {
            dup = b;
            first = a;
        }
    }
    if (dup) {
        char msg[64];
        snprintf(msg, sizeof msg, "duplicate code, first defined on line %zu",
                 first->line);
        return row_error(ld, dup->line, C_CODE, msg, dup->pub.code);
    }
    return 0;
}

/* The first unit in file order that is its own ancestor. */
static int
report_cycle(cds_orgunits_t *self, loader_t *ld)
{
    for (size_t i = 0; i < self->n; i++) {
        size_t j = self->u[i].parent;
        for (size_t steps = 0; j != SIZE_MAX && steps < self->n; steps++) {
            if (j == i)
                return row_error(ld, self->u[i].line, C_PARENT, "cycle: the "
                                 "unit is its own ancestor",
                                 self->u[i].pub.parent);
            j = self->u[j].parent;
        }
    }
    return row_error(ld, 1, C_PARENT, "cycle", NULL); /* not reached */
}

/* Resolve parents, then depths; reject unknown parents and cycles. */
static int
link_tree(cds_orgunits_t *self, loader_t *ld)
{
    for (size_t i = 0; i < self->n; i++) {
        unit_t *u = &self->u[i];
        if (!u->pub.parent)
            continue;
        unit_t *p = find_unit(self, u->pub.parent);
        if (!p)
            return row_error(ld, u->line, C_PARENT, "no org unit with this "
                             "code in the file", u->pub.parent);
        u->parent = (size_t) (p - self->u);
    }
    for (size_t i = 0; i < self->n; i++) {
        size_t steps = 0, j = i;
        while (self->u[j].parent != SIZE_MAX && steps <= self->n) {
            j = self->u[j].parent;
            steps++;
        }
        if (steps > self->n)   /* O(n * depth) overall: depth is small */
            return report_cycle(self, ld);
        self->u[i].pub.depth = (int) steps;
    }
    return 0;
}

/* After the rows: not empty, codes unique, parents known, no cycle. */
static int
finish(loader_t *ld, void *self)
{
    if (cds_orgunits_size(self) == 0 && ld->bad == 0)
        return row_error(ld, ld->header_line, C_CODE, "the file defines no "
                         "org unit", NULL);
    return build_index(self, ld) < 0 || link_tree(self, ld) < 0 ? -1 : 0;
}

static void
destroy(void *self)
{
    cds_orgunits_destroy((cds_orgunits_t **) &self);
}

static const int required[] = { C_CODE, C_NAME, -1 };
static const cds_csvload_spec_t spec = {
    .columns = col_names, .ncolumns = C__COUNT, .required = required,
    .size = sizeof (cds_orgunits_t), .destroy = destroy, .row = take_row,
    .finish = finish,
};

cds_orgunits_t *
cds_orgunits_load(const char *path, char *err, size_t errlen)
{
    return cds_csvload_load(&spec, path, NULL, err, errlen);
}

size_t
cds_orgunits_check(const char *path, void *out)
{
    return cds_csvload_check(&spec, path, NULL, out);
}

void
cds_orgunits_destroy(cds_orgunits_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_orgunits_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        unit_free(&self->u[i]);
    free(self->u);
    free(self->sorted);
    free(self);
    *self_p = NULL;
}

size_t
cds_orgunits_size(const cds_orgunits_t *self)
{
    return self->n;
}

const cds_orgunit_t *
cds_orgunits_at(const cds_orgunits_t *self, size_t i)
{
    return i < self->n ? &self->u[i].pub : NULL;
}

const cds_orgunit_t *
cds_orgunits_find(const cds_orgunits_t *self, const char *code)
{
    const unit_t *u = find_unit(self, code);
    return u ? &u->pub : NULL;
}

bool
cds_orgunits_within(const cds_orgunits_t *self, const char *code,
                    const char *ancestor)
{
    const unit_t *u = find_unit(self, code);
    const unit_t *a = find_unit(self, ancestor);
    if (!u || !a)
        return false;
    for (;;) {                 /* terminates: load rejected cycles */
        if (u == a)
            return true;
        if (u->parent == SIZE_MAX)
            return false;
        u = &self->u[u->parent];
    }
}

bool
cds_orgunit_open_in(int32_t valid_from, int32_t valid_to, int32_t start,
                    int32_t end)
{
    return valid_from <= end && valid_to >= start;
}

const char *
cds_orgunit_closed_msg(const char *code, const char *period,
                       int32_t valid_from, int32_t valid_to, char *buf,
                       size_t len)
{
    char a[16] = "", b[16] = "";
    if (valid_from != INT32_MIN)
        cds_date_format(valid_from, a, sizeof a);
    if (valid_to != INT32_MAX)
        cds_date_format(valid_to, b, sizeof b);
    if (a[0] && b[0])
        snprintf(buf, len, "org unit \"%s\" does not exist in %s (valid "
                 "%s to %s)", code, period, a, b);
    else
        snprintf(buf, len, "org unit \"%s\" does not exist in %s (valid "
                 "%s %s)", code, period, a[0] ? "from" : "until",
                 a[0] ? a : b);
    return buf;
}
