/*  import: see import.h. Two passes over memory: read and check every row
 *  (keeping the good ones), then, only if none was bad, one outbox push. */
#include "import.h"

#include "entrycheck.h"

#include "cds_csv.h"
#include "cds_dvs.h"
#include "cds_err.h"
#include "cds_log.h"

#include <libgen.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    cds_update_t u;                    /* strings point into buf */
    char *buf;                         /* owns the row's strings */
    char *source;                      /* "import:name.csv:LINE", in buf */
} row_t;

typedef struct {
    const submit_ctx_t *ctx;           /* validation context */
    const char *path;                  /* as given, for messages */
    const char *base;                  /* basename, for sources */
    FILE *errf;                        /* where bad rows are listed */
    const cds_dvs_row_t *row;          /* the row being checked */
    row_t *rows;                       /* good rows so far */
    size_t n, cap;                     /* rows used / allocated */
    size_t bad;                        /* bad rows seen */
    void *keys;                        /* tsearch tree of key_t */
} import_t;

/* List one bad row (the first IMPORT_MAX_LISTED) and count it:
 * "file:line: field: column N: problem" (JSON: "... (line = dataValues
 * entry)", the entry's index + 1). */
static void
bad_row(import_t *im, size_t line, const char *field, const char *msg)
{
    char col[32] = "";
    int f = field ? cds_dvs_lookup(field) : -1;
    bool json = im->row && im->row->json;
    if (!json && im->row && f >= 0 && im->row->col[f] > 0)
        snprintf(col, sizeof col, "column %d: ", im->row->col[f]);
    if (im->bad < IMPORT_MAX_LISTED)
        fprintf(im->errf, "%s:%zu: %s: %s%s%s\n", im->path, line, field, col,
                msg, json ? " (line = dataValues entry)" : "");
    im->bad++;
}

/* Copy the checked update into a new row that owns its strings. */
static int
keep_row(import_t *im, const cds_update_t *u, size_t line)
{
    const char *src[] = {u->org_unit, u->indicator, u->period, u->disagg,
                         u->value, u->comment, u->stored_by};
    enum { NS = sizeof src / sizeof src[0] };
    char source[300];
    snprintf(source, sizeof source, "import:%s:%zu", im->base, line);
    size_t total = strlen(source) + 1;
    for (int i = 0; i < NS; i++)
        total += (src[i] ? strlen(src[i]) : 0) + 1;
    if (im->n == im->cap) {
        size_t ncap = im->cap ? im->cap * 2 : 256;
        row_t *grown = realloc(im->rows, ncap * sizeof *grown);
        if (!grown)
            return CDS_ENOMEM;
        im->rows = grown;
        im->cap = ncap;
    }
    row_t *r = &im->rows[im->n];
    if (!(r->buf = malloc(total)))
        return CDS_ENOMEM;
    char *p = r->buf;
    const char *dst[NS];
    for (int i = 0; i < NS; i++) {
        dst[i] = NULL;
        if (!src[i])
            continue;
        size_t len = strlen(src[i]);
        memcpy(p, src[i], len + 1);
        dst[i] = p;
        p += len + 1;
    }
    memcpy(p, source, strlen(source) + 1);
    r->source = p;
    r->u = *u;
    r->u.org_unit = dst[0];
    r->u.indicator = dst[1];
    r->u.period = dst[2];
    r->u.disagg = dst[3];
    r->u.value = dst[4];
    r->u.comment = dst[5];
    r->u.stored_by = dst[6];
    im->n++;
    return CDS_OK;
}

/* One value key seen in the file and the line that first had it. A libc
 * tsearch tree (no hash table in libc that grows; the agent links no
 * other container library, docs/PERFORMANCE.md "Agent footprint"). */
typedef struct {
    size_t line;
    char key[];                        /* ou US indicator US period US disagg */
} seen_key_t;

static int
key_cmp(const void *a, const void *b)
{
    return strcmp(((const seen_key_t *) a)->key, ((const seen_key_t *) b)->key);
}

/* Two rows with the same value key in one file: which one wins would
 * depend on the order, so the file is refused instead. -1: out of memory. */
static int
duplicate_key(import_t *im, const cds_update_t *u, size_t line)
{
    char key[4 * (CDS_MAX_CODE + 1) + 1], msg[200];
    int len = snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%s", u->org_unit,
                       u->indicator, u->period, u->disagg);
    seen_key_t *k = malloc(sizeof *k + (size_t) len + 1);
    if (!k)
        return -1;
    k->line = line;
    memcpy(k->key, key, (size_t) len + 1);
    seen_key_t **found = tsearch(k, &im->keys, key_cmp);
    if (!found) {
        free(k);
        return -1;
    }
    if (*found == k)
        return 0;
    free(k);
    snprintf(msg, sizeof msg,
             "duplicate of line %zu (same orgunit, dataelement, period, "
             "categoryoptioncombo)", (*found)->line);
    bad_row(im, line, "dataelement", msg);
    return 1;
}

/* Field-level checks the catalog cannot do (flags, attribute option
 * combo, required value). */
static bool
row_flags(import_t *im, const cds_dvs_row_t *row, cds_update_t *u)
{
    char msg[400];
    const char *field = NULL;
    if (cds_dvs_row_refusal(row, &field, msg, sizeof msg) != 0) {
        bad_row(im, row->line, field, msg);
        return false;
    }
    if (cds_dvs_row_times(row, &u->created_ms, &u->updated_ms, &field, msg,
                          sizeof msg) != 0) {
        bad_row(im, row->line, field, msg);
        return false;
    }
    u->deleted = cds_dvs_flag(row->f[CDS_DVS_DELETED]) == 1;
    u->followup = cds_dvs_flag(row->f[CDS_DVS_FOLLOWUP]) == 1;
    if (!u->deleted && !*u->value) {
        bad_row(im, row->line, "value",
                "missing (required unless deleted=true)");
        return false;
    }
    return true;
}

/* Check one row (its DHIS2 ids first turned into codes, cds_idmap.h);
 * keep it if good. CDS_OK unless out of memory. */
static int
import_row(void *arg, const cds_dvs_row_t *given)
{
    import_t *im = arg;
    im->row = given;
    cds_dvs_row_t mapped;
    const cds_dvs_row_t *row = given;
    if (im->ctx->ids) {
        char msg[600];
        const char *field = NULL;
        if (cds_idmap_dvs_row(im->ctx->ids, given, &mapped, &field, msg,
                              sizeof msg) != 0) {
            bad_row(im, given->line, field, msg);
            return CDS_OK;
        }
        row = &mapped;
    }
    cds_update_t u;
    memset(&u, 0, sizeof u);
    u.indicator = row->f[CDS_DVS_DE];
    u.period = row->f[CDS_DVS_PE];
    u.org_unit = row->f[CDS_DVS_OU];
    u.disagg = row->f[CDS_DVS_COC];
    u.value = row->f[CDS_DVS_VALUE];
    u.stored_by = row->f[CDS_DVS_STOREDBY];
    u.comment = *row->f[CDS_DVS_COMMENT] ? row->f[CDS_DVS_COMMENT] : NULL;
    if (!row_flags(im, row, &u))
        return CDS_OK;
    char canon[CDS_MAX_VALUE + 1], msg[600];
    const char *field = "";
    if (submit_check(im->ctx, &u, canon, sizeof canon, &field, msg,
                     sizeof msg) != CDS_OK) {
        bad_row(im, row->line, field ? field : "row", msg);
        return CDS_OK;
    }
    int dup = duplicate_key(im, &u, row->line);
    if (dup < 0)
        return CDS_ENOMEM;
    if (dup)
        return CDS_OK;
    return im->bad ? CDS_OK : keep_row(im, &u, row->line);
}

static int
read_rows(import_t *im, cds_dvs_header_t header, char *err, size_t errlen)
{
    char msg[600];
    int rc = cds_dvs_read(im->path, header, import_row, im, msg, sizeof msg);
    im->row = NULL;
    if (rc == CDS_ENOMEM)
        return rc;
    if (rc == CDS_EIO) {
        snprintf(err, errlen, "%s", msg);
        return rc;
    }
    if (rc != CDS_OK) {
        fprintf(im->errf, "%s\n", msg);   /* already "file:line: ..." */
        im->bad++;
    }
    if (im->bad > IMPORT_MAX_LISTED)
        fprintf(im->errf, "... and %zu more\n", im->bad - IMPORT_MAX_LISTED);
    if (rc != CDS_OK)
        return CDS_EMALFORMED;
    if (!im->bad && im->n == 0) {      /* queue_rows needs a row */
        fprintf(im->errf, "%s: no data rows\n", im->path);
        return CDS_EMALFORMED;
    }
    return im->bad ? CDS_EBADFIELD : CDS_OK;
}

int
import_push(const submit_ctx_t *ctx, outbox_t *outbox, cds_update_t *u,
            const char **src, size_t n, import_result_t *res, char *err,
            size_t errlen)
{
    if (ctx->warn)
        entrycheck_warn(ctx->catalog, ctx->rules, outbox, u, n, ctx->warn);
    int rc = outbox_push(outbox, u, src, n, ctx->queue_max, err, errlen);
    if (rc == CDS_OK) {
        res->queued = n;
        res->first_seq = u[0].seq;
        res->last_seq = u[n - 1].seq;
        if (ctx->state_dir)
            submit_wake(ctx->state_dir);
    }
    return rc;
}

static int
queue_rows(import_t *im, outbox_t *outbox, import_result_t *res, char *err,
           size_t errlen)
{
    cds_update_t *u = calloc(im->n, sizeof *u);
    const char **src = calloc(im->n, sizeof *src);
    int rc = CDS_ENOMEM;
    if (!u || !src)
        snprintf(err, errlen, "%s: out of memory", im->path);
    for (size_t i = 0; u && src && i < im->n; i++) {
        u[i] = im->rows[i].u;
        src[i] = im->rows[i].source;
    }
    if (u && src)
        rc = import_push(im->ctx, outbox, u, src, im->n, res, err, errlen);
    free(u);
    free(src);
    return rc;
}

int
import_file_opt(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
                cds_dvs_header_t header, FILE *errf, import_result_t *res,
                char *err, size_t errlen)
{
    import_t im;
    memset(&im, 0, sizeof im);
    memset(res, 0, sizeof *res);
    im.ctx = ctx;
    im.path = path;
    im.errf = errf;
    char *pathcopy = strdup(path);
    int rc = CDS_ENOMEM;
    if (!pathcopy) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    im.base = basename(pathcopy);
    rc = read_rows(&im, header, err, errlen);
    res->bad_rows = im.bad;
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    if (rc != CDS_OK)
        goto out;
    rc = queue_rows(&im, outbox, res, err, errlen);
out:
    for (size_t i = 0; i < im.n; i++)
        free(im.rows[i].buf);
    free(im.rows);
    tdestroy(im.keys, free);
    free(pathcopy);
    return rc;
}

int
import_file(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
            FILE *errf, import_result_t *res, char *err, size_t errlen)
{
    return import_file_opt(ctx, outbox, path, CDS_DVS_HEADER_AUTO, errf, res,
                           err, errlen);
}
