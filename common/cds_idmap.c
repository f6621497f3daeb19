/*  cds_idmap: cdsync code <-> DHIS2 UID or name. See cds_idmap.h. Kept
 *  as jansson objects of objects: kinds (kind -> code -> id), rev (kind
 *  -> id -> first code) and twins (kind -> code -> another code with the
 *  same id); file is the loaded path (NULL: names only). */
#include "cds_idmap.h"

#include "cds_csv.h"
#include "cds_err.h"
#include "cds_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 230             /* DHIS2's name column */

struct cds_idmap {
    json_t *kinds, *rev, *twins;
    char *file;
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

static bool
name_ok(const char *n)
{
    size_t len = strlen(n);
    return len > 0 && len <= NAME_MAX_BYTES && cds_utf8_valid(n, len);
}

/* obj[key], an object, created when absent; NULL: out of memory. */
static json_t *
sub(json_t *obj, const char *key)
{
    json_t *m = json_object_get(obj, key);
    if (!m && json_object_set_new(obj, key, m = json_object()) != 0)
        return NULL;
    return m;
}

/* kinds[k][c] = id, and the reverse and twin entries. */
static int
record(cds_idmap_t *s, const char *k, const char *c, const char *id)
{
    json_t *m = sub(s->kinds, k), *r = sub(s->rev, k), *t = sub(s->twins, k);
    if (!m || !r || !t || json_object_set_new(m, c, json_string(id)) != 0)
        return CDS_ENOMEM;
    const char *other = json_string_value(json_object_get(r, id));
    if (!other)
        return json_object_set_new(r, id, json_string(c)) == 0 ? CDS_OK
                                                              : CDS_ENOMEM;
    if (strcmp(other, c) == 0)
        return CDS_OK;
    if (json_object_set_new(t, c, json_string(other)) != 0
        || (!json_object_get(t, other)
            && json_object_set_new(t, other, json_string(c)) != 0))
        return CDS_ENOMEM;
    return CDS_OK;
}

/* One record of the file; 0 or -1 with a message. */
static int
add_row(cds_idmap_t *self, cds_idmap_scheme_t scheme, cds_csv_t *csv,
        const int col[3], char *err, size_t errlen)
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
    if (scheme == CDS_IDMAP_UID && !uid_ok(u))
        return cds_csv_error(err, errlen, name, line, "uid", "not a DHIS2 "
                             "UID (11 characters, a letter then letters "
                             "or digits)", u);
    if (scheme == CDS_IDMAP_NAME && !name_ok(u))
        return cds_csv_error(err, errlen, name, line, "name", "not a DHIS2 "
                             "name (1-230 bytes of UTF-8)", u);
    if (cds_idmap_get(self, k, c))
        return cds_csv_error(err, errlen, name, line, "code", "given twice "
                             "for this kind", c);
    return record(self, k, c, u) == CDS_OK ? 0 : -1;
}

cds_idmap_t *
cds_idmap_new(void)
{
    cds_idmap_t *self = calloc(1, sizeof *self);
    if (self && (!(self->kinds = json_object()) || !(self->rev = json_object())
                 || !(self->twins = json_object())))
        cds_idmap_destroy(&self);
    return self;
}

cds_idmap_t *
cds_idmap_copy(const cds_idmap_t *self)
{
    if (!self)
        return cds_idmap_new();
    cds_idmap_t *c = calloc(1, sizeof *c);
    if (c && (!(c->kinds = json_deep_copy(self->kinds))
              || !(c->rev = json_deep_copy(self->rev))
              || !(c->twins = json_deep_copy(self->twins))
        || (self->file && !(c->file = strdup(self->file)))))
        cds_idmap_destroy(&c);
    return c;
}

int
cds_idmap_option(const char *scheme, const char *map, bool *uid,
                 bool *names, char *err, size_t errlen)
{
    *uid = scheme && strcmp(scheme, "uid") == 0;
    *names = scheme && strcmp(scheme, "name") == 0;
    if (scheme && !*uid && !*names && strcmp(scheme, "code") != 0) {
        snprintf(err, errlen, "id-scheme: \"%s\": expected code, uid or "
                 "name", scheme);
        return CDS_EUSAGE;
    }
    if (*uid && !map) {
        snprintf(err, errlen, "id-scheme uid needs --id-map FILE "
                 "(kind,code,uid)");
        return CDS_EUSAGE;
    }
    return CDS_OK;
}

cds_idmap_t *
cds_idmap_load(const char *path, cds_idmap_scheme_t scheme, char *err,
                size_t errlen)
{
    cds_csv_t *csv = cds_csv_open(path, err, errlen);
    cds_idmap_t *self = csv ? cds_idmap_new() : NULL;
    int rc = !self || cds_csv_read_header(csv, err, errlen) != 0 ? -1 : 0;
    const char *names[3] = { "kind", "code",
                             scheme == CDS_IDMAP_NAME ? "name" : "uid" };
    int col[3];
    if (csv && (!self || !(self->file = strdup(path)))) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < 3; i++)
        if ((col[i] = cds_csv_column(csv, names[i])) < 0)
            rc = cds_csv_error(err, errlen, path, 1, "header", "missing "
                               "column", names[i]);
    int more;
    while (rc == 0 && (more = cds_csv_next(csv, err, errlen)) != 0)
        rc = more < 0 ? -1 : add_row(self, scheme, csv, col, err, errlen);
    cds_csv_destroy(&csv);
    if (rc != 0)
        cds_idmap_destroy(&self);
    return self;
}

void
cds_idmap_destroy(cds_idmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref((*self_p)->kinds);
    json_decref((*self_p)->rev);
    json_decref((*self_p)->twins);
    free((*self_p)->file);
    free(*self_p);
    *self_p = NULL;
}

int
cds_idmap_add(cds_idmap_t *self, const char *kind, const char *code,
               const char *id)
{
    if (!id || !*id || cds_idmap_get(self, kind, code))
        return CDS_OK;
    return record(self, kind, code, id);
}

const char *
cds_idmap_get(const cds_idmap_t *self, const char *kind, const char *code)
{
    return json_string_value(
        json_object_get(json_object_get(self->kinds, kind), code));
}

const char *
cds_idmap_twin(const cds_idmap_t *self, const char *kind, const char *code)
{
    return json_string_value(
        json_object_get(json_object_get(self->twins, kind), code));
}

const char *
cds_idmap_source(const cds_idmap_t *self)
{
    return self->file ? self->file : "the catalog's and org units' names";
}

int
cds_idmap_add_names(cds_idmap_t *self, const cds_catalog_t *catalog,
                    const cds_orgunits_t *units)
{
    int rc = cds_idmap_add(self, "catoptcombo", "default", "default");
    size_t n = catalog ? cds_catalog_size(catalog) : 0;
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        const cds_indicator_t *ind = cds_catalog_at(catalog, i);
        rc = cds_idmap_add(self, "dataelement", ind->code, ind->name_vi);
    }
    n = units ? cds_orgunits_size(units) : 0;
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        const cds_orgunit_t *ou = cds_orgunits_at(units, i);
        rc = cds_idmap_add(self, "orgunit", ou->code, ou->name);
    }
    return rc;
}

const char *
cds_idmap_code(const cds_idmap_t *self, const char *kind, const char *id)
{
    return json_string_value(
        json_object_get(json_object_get(self->rev, kind), id));
}

int
cds_idmap_to_code(const cds_idmap_t *self, const char *kind, const char *id,
                  const char **code, char *msg, size_t len)
{
    *code = cds_idmap_code(self, kind, id);
    const char *twin = *code ? cds_idmap_twin(self, kind, *code) : NULL;
    if (!*code && self->file)
        snprintf(msg, len, "\"%.240s\": no row in id map %.300s", id,
                 self->file);
    else if (!*code)
        snprintf(msg, len, "\"%.240s\": no %s of that name in %s", id,
                 kind, cds_idmap_source(self));
    else if (twin)
        snprintf(msg, len, "\"%.240s\": names both %.64s and %.64s (%s "
                 "%.300s); ambiguous", id, *code, twin,
                 self->file ? "id map" : "in", cds_idmap_source(self));
    return *code && !twin ? 0 : -1;
}

/* fields[i] (non-empty) through kinds[i]; 0 or -1 with *bad = i. */
static int
to_codes(const cds_idmap_t *self, int n, const char *const kinds[],
         const char **fields[], int *bad, char *msg, size_t len)
{
    for (int i = 0; i < n; i++) {
        if (!*fields[i] || !**fields[i])
            continue;
        if (cds_idmap_to_code(self, kinds[i], *fields[i], fields[i], msg,
                              len) != 0) {
            *bad = i;
            return -1;
        }
    }
    return 0;
}

int
cds_idmap_dvs_row(const cds_idmap_t *self, const cds_dvs_row_t *row,
                  cds_dvs_row_t *out, const char **field, char *msg,
                  size_t len)
{
    static const cds_dvs_field_t f[] = { CDS_DVS_DE, CDS_DVS_OU, CDS_DVS_COC,
                                         CDS_DVS_AOC, CDS_DVS_DATASET };
    static const char *const kinds[] = { "dataelement", "orgunit",
                                         "catoptcombo", "catoptcombo",
                                         "dataset" };
    *out = *row;
    const char **fields[5];
    for (int i = 0; i < 5; i++)
        fields[i] = &out->f[f[i]];
    int bad = 0;
    if (to_codes(self, 5, kinds, fields, &bad, msg, len) == 0)
        return 0;
    *field = cds_dvs_name(f[bad]);
    return -1;
}

/* An ADX combo the map must not judge: absent (the reader's "default")
 * or CAT=OPT attributes (the catalog's). */
static bool
combo_kept(const char *c)
{
    return !c || strcmp(c, "default") == 0 || strchr(c, '=');
}

int
cds_idmap_adx_value(const cds_idmap_t *self, const cds_adx_value_t *v,
                    cds_adx_value_t *out, const char **field, char *msg,
                    size_t len)
{
    static const char *const kinds[] = { "dataset", "orgunit", "dataelement",
                                         "catoptcombo", "catoptcombo" };
    const char *names[] = { "dataSet", "orgUnit", "dataElement",
                            "categoryOptionCombo", "attributeOptionCombo" };
    *out = *v;
    const char **fields[5] = { &out->data_set, &out->org_unit,
                               &out->data_element, NULL, NULL };
    int n = 3;
    if (!combo_kept(out->disagg))
        fields[n++] = &out->disagg;
    if (!combo_kept(out->attr_combo)) {
        names[n] = names[4];
        fields[n++] = &out->attr_combo;
    }
    int bad = 0;
    if (to_codes(self, n, kinds, fields, &bad, msg, len) == 0)
        return 0;
    *field = names[bad];
    return -1;
}
