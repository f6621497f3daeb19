/*  export_ids: cdsync code -> DHIS2 UID map. See export_ids.h. Kept as a
 *  jansson object of objects, kind -> code -> uid. */
#include "export_ids.h"

#include "cds_csv.h"
#include "cds_err.h"

#include <ctype.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct export_ids {
    json_t *kinds;
};

static bool
kind_ok(const char *k)
{
    return strcmp(k, "orgunit") == 0 || strcmp(k, "dataelement") == 0
           || strcmp(k, "dataset") == 0 || strcmp(k, "catoptcombo") == 0;
}

/* DHIS2's UID: 11 characters, a letter then letters or digits. */
static bool
uid_ok(const char *u)
{
    if (strlen(u) != 11 || !isalpha((unsigned char) u[0]))
        return false;
    for (int i = 1; i < 11; i++)
        if (!isalnum((unsigned char) u[i]))
            return false;
    return true;
}

/* One record into kinds; 0 or -1 with a message. */
static int
add_row(json_t *kinds, cds_csv_t *csv, const int col[3], char *err,
        size_t errlen)
{
    const char *k = cds_csv_get(csv, col[0]), *c = cds_csv_get(csv, col[1]),
               *u = cds_csv_get(csv, col[2]);
    const char *name = cds_csv_name(csv);
    size_t line = cds_csv_line(csv);
    if (!kind_ok(k))
        return cds_csv_error(err, errlen, name, line, "kind", "expected "
                             "orgunit, dataelement, dataset or catoptcombo",
                             k);
    if (!*c)
        return cds_csv_error(err, errlen, name, line, "code", "empty", c);
    if (!uid_ok(u))
        return cds_csv_error(err, errlen, name, line, "uid", "not a DHIS2 "
                             "UID (11 characters, a letter then letters "
                             "or digits)", u);
    json_t *m = json_object_get(kinds, k);
    if (!m && json_object_set_new(kinds, k, m = json_object()) != 0)
        return -1;
    if (json_object_get(m, c))
        return cds_csv_error(err, errlen, name, line, "code", "given twice "
                             "for this kind", c);
    return json_object_set_new(m, c, json_string(u)) == 0 ? 0 : -1;
}

export_ids_t *
export_ids_load(const char *path, char *err, size_t errlen)
{
    cds_csv_t *csv = cds_csv_open(path, err, errlen);
    export_ids_t *self = csv ? calloc(1, sizeof *self) : NULL;
    int rc = !self || !(self->kinds = json_object())
             || cds_csv_read_header(csv, err, errlen) != 0 ? -1 : 0;
    const char *names[3] = { "kind", "code", "uid" };
    int col[3];
    for (int i = 0; rc == 0 && i < 3; i++)
        if ((col[i] = cds_csv_column(csv, names[i])) < 0)
            rc = cds_csv_error(err, errlen, path, 1, "header", "missing "
                               "column", names[i]);
    int more;
    while (rc == 0 && (more = cds_csv_next(csv, err, errlen)) != 0)
        rc = more < 0 ? -1 : add_row(self->kinds, csv, col, err, errlen);
    cds_csv_destroy(&csv);
    if (rc != 0)
        export_ids_destroy(&self);
    return self;
}

void
export_ids_destroy(export_ids_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref((*self_p)->kinds);
    free(*self_p);
    *self_p = NULL;
}

const char *
export_ids_get(const export_ids_t *self, const char *kind, const char *code)
{
    return json_string_value(
        json_object_get(json_object_get(self->kinds, kind), code));
}
