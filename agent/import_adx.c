/*  import_adx: see import_adx.h. The reader's callback checks each value
 *  at once (keeping the good ones, counting the bad); duplicates are
 *  found by sorting the kept keys; then one outbox push. */
#include "import_adx.h"

#include "cds_adx.h"
#include "cds_err.h"
#include "cds_util.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { S_OU, S_DE, S_PE, S_COC, S_VALUE, S_COMMENT, S_SOURCE, S__COUNT };

typedef struct {
    char *s[S__COUNT];                 /* owned; S_COMMENT may be NULL */
    size_t line;
    cds_update_t u;                    /* borrows s[] */
} adx_row_t;

typedef struct {
    const submit_ctx_t *ctx;
    const char *path, *base;
    FILE *errf;
    adx_row_t *rows;
    size_t n, cap, bad;
} adx_import_t;

bool
import_is_adx(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    return dot && (strcasecmp(dot, ".adx") == 0 || strcasecmp(dot, ".xml") == 0);
}

static void
bad(adx_import_t *im, size_t line, const char *field, const char *msg)
{
    if (im->bad++ < IMPORT_MAX_LISTED)
        fprintf(im->errf, "%s:%zu: %s: %s\n", im->path, line, field, msg);
}

/* Keep the checked update u (strings copied) from line. */
static int
keep(adx_import_t *im, const cds_update_t *u, size_t line)
{
    char source[300];
    if (im->n == im->cap) {
        size_t ncap = im->cap ? im->cap * 2 : 256;
        adx_row_t *grown = realloc(im->rows, ncap * sizeof *grown);
        if (!grown)
            return CDS_ENOMEM;
        im->rows = grown;
        im->cap = ncap;
    }
    snprintf(source, sizeof source, "import:%s:%zu", im->base, line);
    adx_row_t *r = &im->rows[im->n++];
    const char *src[S__COUNT] = { u->org_unit, u->indicator, u->period,
                                  u->disagg, u->value, u->comment, source };
    int rc = CDS_OK;
    for (int i = 0; i < S__COUNT; i++)
        if (!(r->s[i] = src[i] ? strdup(src[i]) : NULL) && src[i])
            rc = CDS_ENOMEM;
    r->line = line;
    r->u = *u;
    r->u.org_unit = r->s[S_OU];
    r->u.indicator = r->s[S_DE];
    r->u.period = r->s[S_PE];
    r->u.disagg = r->s[S_COC];
    r->u.value = r->s[S_VALUE];
    r->u.comment = r->s[S_COMMENT];
    return rc;
}

/* One dataValue: its DHIS2 ids as codes (cds_idmap.h), then checked
 * like a CSV row (submit_check); keep it. */
static int
on_value(const cds_adx_value_t *given, void *arg)
{
    adx_import_t *im = arg;
    char canon[CDS_MAX_VALUE + 1], msg[600];
    cds_adx_value_t mapped;
    const cds_adx_value_t *v = given;
    const char *field = NULL;
    if (im->ctx->ids) {
        if (cds_idmap_adx_value(im->ctx->ids, given, &mapped, &field, msg,
                                sizeof msg) != 0) {
            bad(im, given->line, field, msg);
            return CDS_OK;
        }
        v = &mapped;
    }
    if (strcmp(v->attr_combo, "default") != 0) {
        snprintf(msg, sizeof msg, "\"%.80s\" (group at line %zu): only the "
                 "default attribute option combination is supported",
                 v->attr_combo, v->group_line);
        bad(im, v->line, "attributeOptionCombo", msg);
        return CDS_OK;
    }
    const char *value, *comment;
    if (cds_adx_resolve(v, cds_catalog_find(im->ctx->catalog,
                                            v->data_element),
                        &value, &comment) != 0) {
        snprintf(msg, sizeof msg, "%.64s takes its value from an "
                 "<annotation> (not a number), and has none",
                 v->data_element);
        bad(im, v->line, "value", msg);
        return CDS_OK;
    }
    cds_update_t u = { .org_unit = v->org_unit, .indicator = v->data_element,
                       .period = v->period ? v->period : v->period_given,
                       .disagg = v->disagg, .value = value,
                       .comment = comment, .stored_by = "" };
    if (submit_check(im->ctx, &u, canon, sizeof canon, &field, msg,
                     sizeof msg) != CDS_OK) {
        bad(im, v->line, field ? field : "dataValue", msg);
        return CDS_OK;
    }
    return im->bad ? CDS_OK : keep(im, &u, v->line);
}

static int
key_cmp(const void *a, const void *b)
{
    const adx_row_t *x = *(adx_row_t *const *) a;
    const adx_row_t *y = *(adx_row_t *const *) b;
    for (int i = S_OU; i <= S_COC; i++) {
        int c = strcmp(x->s[i], y->s[i]);
        if (c)
            return c;
    }
    return x->line < y->line ? -1 : x->line > y->line;
}

/* The same (org unit, data element, period, disaggregation) twice. */
static int
find_duplicates(adx_import_t *im)
{
    adx_row_t **idx = malloc((im->n ? im->n : 1) * sizeof *idx);
    if (!idx)
        return CDS_ENOMEM;
    for (size_t i = 0; i < im->n; i++)
        idx[i] = &im->rows[i];
    qsort(idx, im->n, sizeof *idx, key_cmp);
    for (size_t i = 1; i < im->n; i++) {
        const adx_row_t *x = idx[i - 1], *y = idx[i];
        if (strcmp(x->s[S_OU], y->s[S_OU]) || strcmp(x->s[S_DE], y->s[S_DE])
            || strcmp(x->s[S_PE], y->s[S_PE])
            || strcmp(x->s[S_COC], y->s[S_COC]))
            continue;
        char msg[200];
        snprintf(msg, sizeof msg, "\"%.60s\" for %.40s/%.16s: duplicate of "
                 "line %zu (same orgUnit, period, dataElement)",
                 y->s[S_DE], y->s[S_OU], y->s[S_PE], x->line);
        bad(im, y->line, "dataElement", msg);
    }
    free(idx);
    return CDS_OK;
}

static int
queue(adx_import_t *im, outbox_t *outbox, import_result_t *res, char *err,
      size_t errlen)
{
    cds_update_t *u = calloc(im->n, sizeof *u);
    const char **src = calloc(im->n, sizeof *src);
    int rc = CDS_ENOMEM;
    if (!u || !src)
        snprintf(err, errlen, "%s: out of memory", im->path);
    for (size_t i = 0; u && src && i < im->n; i++) {
        u[i] = im->rows[i].u;
        src[i] = im->rows[i].s[S_SOURCE];
    }
    if (u && src)
        rc = import_push(im->ctx, outbox, u, src, im->n, res, err, errlen);
    free(u);
    free(src);
    return rc;
}

/* Read and check the whole document; CDS_OK when every value is good. */
static int
check_all(adx_import_t *im, const char *data, size_t len)
{
    char msg[600];
    int rc = cds_adx_read(im->path, data, len, on_value, im, msg,
                          sizeof msg);
    if (rc == CDS_OK)
        rc = find_duplicates(im);
    if (rc == CDS_ENOMEM)
        return rc;
    if (rc != CDS_OK) {                /* "path:line: problem" */
        fprintf(im->errf, "%s\n", msg);
        return rc == CDS_ETOOBIG ? CDS_ETOOBIG : CDS_EMALFORMED;
    }
    if (im->bad > IMPORT_MAX_LISTED)
        fprintf(im->errf, "... and %zu more\n", im->bad - IMPORT_MAX_LISTED);
    if (im->bad)
        return CDS_EBADFIELD;
    if (im->n == 0) {
        fprintf(im->errf, "%s: no dataValue elements\n", im->path);
        return CDS_EMALFORMED;
    }
    return CDS_OK;
}

int
import_adx_file(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
                FILE *errf, import_result_t *res, char *err, size_t errlen)
{
    adx_import_t im = { .ctx = ctx, .path = path, .errf = errf };
    char *data = NULL, *pathcopy = strdup(path);
    size_t len = 0;
    memset(res, 0, sizeof *res);
    int rc = pathcopy ? cds_read_file(path, IMPORT_ADX_MAX_FILE, &data, &len)
                      : CDS_ENOMEM;
    if (rc == CDS_ETOOBIG)
        snprintf(err, errlen, "%s: larger than %u MiB", path,
                 IMPORT_ADX_MAX_FILE >> 20);
    else if (rc != CDS_OK)
        snprintf(err, errlen, "%s: %s", path,
                 rc == CDS_ENOMEM ? "out of memory" : "cannot read");
    if (rc == CDS_OK) {
        im.base = basename(pathcopy);
        rc = check_all(&im, data, len);
        res->bad_rows = im.bad;
        if (rc == CDS_ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        else if (rc == CDS_ETOOBIG)
            snprintf(err, errlen, "%s: over the ADX reader's bounds", path);
    }
    if (rc == CDS_OK)
        rc = queue(&im, outbox, res, err, errlen);
    for (size_t i = 0; i < im.n; i++)
        for (int j = 0; j < S__COUNT; j++)
            free(im.rows[i].s[j]);
    free(im.rows);
    free(data);
    free(pathcopy);
    return rc;
}
