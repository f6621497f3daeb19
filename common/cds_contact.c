/*  cds_contact: the contacts file of units that report (see
 *  cds_contact.h).
 *
 *  Rows are kept in file order, plus an index sorted by unit code: a
 *  province asks for the contacts of its 300 (or 3,000) communes on every
 *  completeness call, so a lookup is a binary search, and the duplicate
 *  check is one pass over the sorted index after the last row. */
#include "cds_contact.h"

#include "cds_csvload.h"
#include "cds_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_BYTES 200
#define PHONE_MIN_DIGITS 8
#define PHONE_MAX_DIGITS 15

struct cds_contacts {
    cds_contact_t *c;          /* rows in file order, owned */
    size_t n, cap;             /* used and allocated */
    size_t *by_code;           /* row indexes sorted by org_unit */
};

enum { C_OU, C_NAME, C_TITLE, C_PHONE, C_EMAIL, C__COUNT };
static const char *const col_names[C__COUNT] = {
    "org_unit", "name", "title", "phone", "email",
};

typedef cds_csvload_t loader_t;  /* ctx: the org units, NULL: not checked */

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

static bool
text_ok(const char *s)
{
    size_t len = strlen(s);
    if (len > TEXT_MAX_BYTES || !cds_utf8_valid(s, len))
        return false;
    for (const unsigned char *p = (const unsigned char *) s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Digits with an optional leading +, spaces, dots, dashes, parentheses. */
static bool
phone_ok(const char *s)
{
    size_t digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (!strchr(" .-()", *p) && !(*p == '+' && p == s))
            return false;
    }
    return digits >= PHONE_MIN_DIGITS && digits <= PHONE_MAX_DIGITS;
}

static bool
email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || !dot[1])
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char) *p <= ' ' || strchr("<>\"'()[],;:\\", *p))
            return false;
    return true;
}

static void
contact_free(cds_contact_t *c)
{
    free(c->org_unit);
    free(c->name);
    free(c->title);
    free(c->phone);
    free(c->email);
}

/* The columns' checks, in column order; 0 or -1 with err written. */
static int
check_row(loader_t *ld, size_t line)
{
    const char *ou = field(ld, C_OU), *phone = field(ld, C_PHONE);
    const char *email = field(ld, C_EMAIL);
    if (!ou[0])
        return row_error(ld, line, C_OU, "empty", NULL);
    const cds_orgunits_t *ous = ld->ctx;
    if (ous && !cds_orgunits_find(ous, ou))
        return row_error(ld, line, C_OU, "not in the org-unit list", ou);
    for (int c = C_NAME; c < C__COUNT; c++)
        if (!text_ok(field(ld, c)))
            return row_error(ld, line, c, "over 200 bytes, not valid UTF-8 "
                             "or with a control character", NULL);
    if (!field(ld, C_NAME)[0])
        return row_error(ld, line, C_NAME, "empty (the person to call)",
                         NULL);
    if (!phone[0] && !email[0])
        return row_error(ld, line, C_PHONE, "neither a phone nor an e-mail "
                         "address (give at least one)", NULL);
    if (phone[0] && !phone_ok(phone))
        return row_error(ld, line, C_PHONE, "expected 8 to 15 digits, "
                         "optional leading +, spaces, dots, dashes", phone);
    if (email[0] && !email_ok(email))
        return row_error(ld, line, C_EMAIL, "expected an address "
                         "local@domain.tld", email);
    return 0;
}

static int
append(loader_t *ld, cds_contacts_t *self, size_t line)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        cds_contact_t *a = realloc(self->c, cap * sizeof *a);
        if (!a)
            return row_error(ld, line, C_OU, "out of memory", NULL);
        self->c = a;
        self->cap = cap;
    }
    cds_contact_t c = { .org_unit = strdup(field(ld, C_OU)),
                        .name = strdup(field(ld, C_NAME)),
                        .title = strdup(field(ld, C_TITLE)),
                        .phone = strdup(field(ld, C_PHONE)),
                        .email = strdup(field(ld, C_EMAIL)), .line = line };
    if (!c.org_unit || !c.name || !c.title || !c.phone || !c.email) {
        contact_free(&c);
        return row_error(ld, line, C_OU, "out of memory", NULL);
    }
    self->c[self->n++] = c;
    return 0;
}

static int
by_code(const void *a, const void *b, void *ctx)
{
    const cds_contacts_t *self = ctx;
    const cds_contact_t *x = &self->c[*(const size_t *) a];
    const cds_contact_t *y = &self->c[*(const size_t *) b];
    int d = strcmp(x->org_unit, y->org_unit);
    return d ? d : (x->line > y->line) - (x->line < y->line);
}

/* Build the sorted index; a unit named twice is a problem of the later
 * line. -1 when reading must stop. */
static int
index_rows(loader_t *ld, cds_contacts_t *self)
{
    if (!(self->by_code = malloc((self->n ? self->n : 1) * sizeof (size_t))))
        return row_error(ld, 0, C_OU, "out of memory", NULL);
    for (size_t i = 0; i < self->n; i++)
        self->by_code[i] = i;
    qsort_r(self->by_code, self->n, sizeof (size_t), by_code, self);
    for (size_t i = 1; i < self->n; i++) {
        const cds_contact_t *a = &self->c[self->by_code[i - 1]];
        const cds_contact_t *b = &self->c[self->by_code[i]];
        if (strcmp(a->org_unit, b->org_unit) != 0)
            continue;
        char what[64];
        snprintf(what, sizeof what, "the same unit as line %zu", a->line);
        row_error(ld, b->line, C_OU, what, b->org_unit);
        if (cds_csvload_problem(ld) < 0)
            return -1;
    }
    return 0;
}

static int
take_row(loader_t *ld, void *self)
{
    size_t line = cds_csvload_line(ld);
    return check_row(ld, line) < 0 ? -1 : append(ld, self, line);
}

static int
finish(loader_t *ld, void *self)
{
    return index_rows(ld, self);
}

static void
destroy(void *self)
{
    cds_contacts_destroy((cds_contacts_t **) &self);
}

static const int required[] = { C_OU, C_NAME, -1 };
static const cds_csvload_spec_t spec = {
    .columns = col_names, .ncolumns = C__COUNT, .required = required,
    .size = sizeof (cds_contacts_t), .destroy = destroy, .row = take_row,
    .finish = finish,
};

cds_contacts_t *
cds_contacts_load(const char *path, const cds_orgunits_t *ous, char *err,
                  size_t errlen)
{
    return cds_csvload_load(&spec, path, ous, err, errlen);
}

size_t
cds_contacts_check(const char *path, const cds_orgunits_t *ous, void *out)
{
    return cds_csvload_check(&spec, path, ous, out);
}

void
cds_contacts_destroy(cds_contacts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_contacts_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        contact_free(&self->c[i]);
    free(self->c);
    free(self->by_code);
    free(self);
    *self_p = NULL;
}

size_t
cds_contacts_size(const cds_contacts_t *self)
{
    return self ? self->n : 0;
}

const cds_contact_t *
cds_contacts_at(const cds_contacts_t *self, size_t i)
{
    return self && i < self->n ? &self->c[i] : NULL;
}

const cds_contact_t *
cds_contacts_find(const cds_contacts_t *self, const char *unit)
{
    size_t lo = 0, hi = self && unit ? self->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const cds_contact_t *c = &self->c[self->by_code[mid]];
        int d = strcmp(c->org_unit, unit);
        if (d == 0)
            return c;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
