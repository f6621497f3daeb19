/*  import: see import.h. Two passes over memory: read and check every row
 *  (keeping the good ones), then, only if none was bad, one outbox push. */
#include "import.h"

#include "entrycheck.h"

#include "cds_csv.h"
#include "cds_err.h"
#include "cds_log.h"

#include <libgen.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    COL_DE, COL_PE, COL_OU, COL_COC, COL_AOC, COL_VALUE, COL_STOREDBY,
    COL_COMMENT, COL_FOLLOWUP, COL_DELETED, COL__COUNT
};

static const char *const col_names[COL__COUNT] = {
    "dataelement", "period", "orgunit", "categoryoptioncombo",
    "attributeoptioncombo", "value", "storedby", "comment", "followup",
    "deleted",
};

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
    int col[COL__COUNT];               /* header column or -1 */
    row_t *rows;                       /* good rows so far */
    size_t n, cap;                     /* rows used / allocated */
    size_t bad;                        /* bad rows seen */
    void *keys;                        /* tsearch tree of key_t */
} import_t;

/* List one bad row (the first IMPORT_MAX_LISTED) and count it. */
static void
bad_row(import_t *im, size_t line, const char *field, const char *msg)
{
    if (im->bad < IMPORT_MAX_LISTED)
        fprintf(im->errf, "%s:%zu: %s: %s\n", im->path, line, field, msg);
    im->bad++;
}

/* "true"/"1" -> 1, ""/"false"/"0" -> 0, else -1. */
static int
parse_flag(const char *s)
{
    if (!*s || !strcasecmp(s, "false") || !strcmp(s, "0"))
        return 0;
    if (!strcasecmp(s, "true") || !strcmp(s, "1"))
        return 1;
    return -1;
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

/* Field-level checks the catalog cannot do (flags, required value). */
static bool
row_flags(import_t *im, cds_csv_t *csv, cds_update_t *u, size_t line)
{
    char msg[200];
    const char *names[] = {"deleted", "followup"};
    int cols[] = {COL_DELETED, COL_FOLLOWUP};
    for (int i = 0; i < 2; i++) {
        const char *s = cds_csv_get(csv, im->col[cols[i]]);
        int v = parse_flag(s);
        if (v < 0) {
            snprintf(msg, sizeof msg, "\"%.60s\": expected true or false", s);
            bad_row(im, line, names[i], msg);
            return false;
        }
        if (i == 0)
            u->deleted = v;
        else
            u->followup = v;
    }
    const char *aoc = cds_csv_get(csv, im->col[COL_AOC]);
    if (*aoc && strcmp(aoc, "default") != 0) {
        snprintf(msg, sizeof msg, "\"%.60s\": only \"default\" is supported",
                 aoc);
        bad_row(im, line, "attributeoptioncombo", msg);
        return false;
    }
    if (!u->deleted && !*u->value) {
        bad_row(im, line, "value", "missing (required unless deleted=true)");
        return false;
    }
    return true;
}

/* Check the current record; keep it if good. CDS_OK unless out of memory. */
static int
import_row(import_t *im, cds_csv_t *csv)
{
    size_t line = cds_csv_line(csv);
    cds_update_t u;
    memset(&u, 0, sizeof u);
    u.indicator = cds_csv_get(csv, im->col[COL_DE]);
    u.period = cds_csv_get(csv, im->col[COL_PE]);
    u.org_unit = cds_csv_get(csv, im->col[COL_OU]);
    u.disagg = cds_csv_get(csv, im->col[COL_COC]);
    u.value = cds_csv_get(csv, im->col[COL_VALUE]);
    u.stored_by = cds_csv_get(csv, im->col[COL_STOREDBY]);
    u.comment = cds_csv_get(csv, im->col[COL_COMMENT]);
    if (!*u.comment)
        u.comment = NULL;
    if (!row_flags(im, csv, &u, line))
        return CDS_OK;
    char canon[CDS_MAX_VALUE + 1], msg[600];
    const char *field = "";
    if (submit_check(im->ctx, &u, canon, sizeof canon, &field, msg,
                     sizeof msg) != CDS_OK) {
        bad_row(im, line, field ? field : "row", msg);
        return CDS_OK;
    }
    int dup = duplicate_key(im, &u, line);
    if (dup < 0)
        return CDS_ENOMEM;
    if (dup)
        return CDS_OK;
    return im->bad ? CDS_OK : keep_row(im, &u, line);
}

/* Header: find the columns, refuse a file without the key columns. */
static int
read_header(import_t *im, cds_csv_t *csv)
{
    char msg[300];
    if (cds_csv_read_header(csv, msg, sizeof msg) != 0) {
        fprintf(im->errf, "%s\n", msg);
        return CDS_EMALFORMED;
    }
    int rc = CDS_OK;
    for (int i = 0; i < COL__COUNT; i++) {
        im->col[i] = cds_csv_column(csv, col_names[i]);
        if (im->col[i] < 0 && i <= COL_OU) {
            fprintf(im->errf, "%s:%zu: header: missing column \"%s\"\n",
                    im->path, cds_csv_line(csv), col_names[i]);
            rc = CDS_EMALFORMED;
        }
    }
    return rc;
}

static int
read_rows(import_t *im, cds_csv_t *csv)
{
    char msg[300];
    int rc = read_header(im, csv);
    int more;
    while (rc == CDS_OK && (more = cds_csv_next(csv, msg, sizeof msg)) > 0)
        rc = import_row(im, csv);
    if (rc != CDS_OK)
        return rc;
    if (more < 0) {
        fprintf(im->errf, "%s\n", msg);   /* already "file:line: ..." */
        im->bad++;
    }
    if (im->bad > IMPORT_MAX_LISTED)
        fprintf(im->errf, "... and %zu more\n", im->bad - IMPORT_MAX_LISTED);
    if (im->bad)
        return more < 0 ? CDS_EMALFORMED : CDS_EBADFIELD;
    if (im->n == 0) {
        fprintf(im->errf, "%s: no data rows\n", im->path);
        return CDS_EMALFORMED;
    }
    return CDS_OK;
}

static int
queue_rows(import_t *im, outbox_t *outbox, import_result_t *res, char *err,
           size_t errlen)
{
    cds_update_t *u = calloc(im->n, sizeof *u);
    const char **src = calloc(im->n, sizeof *src);
    int rc = CDS_ENOMEM;
    if (!u || !src) {
        snprintf(err, errlen, "%s: out of memory", im->path);
        goto out;
    }
    for (size_t i = 0; i < im->n; i++) {
        u[i] = im->rows[i].u;
        src[i] = im->rows[i].source;
    }
    if (im->ctx->warn)
        entrycheck_warn(im->ctx->catalog, im->ctx->rules, outbox, u, im->n,
                        im->ctx->warn);
    rc = outbox_push(outbox, u, src, im->n, im->ctx->queue_max, err, errlen);
    if (rc == CDS_OK) {
        res->queued = im->n;
        res->first_seq = u[0].seq;
        res->last_seq = u[im->n - 1].seq;
    }
out:
    free(u);
    free(src);
    return rc;
}

int
import_file(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
            FILE *errf, import_result_t *res, char *err, size_t errlen)
{
    import_t im;
    memset(&im, 0, sizeof im);
    memset(res, 0, sizeof *res);
    im.ctx = ctx;
    im.path = path;
    im.errf = errf;
    char *pathcopy = strdup(path);
    cds_csv_t *csv = cds_csv_open(path, err, errlen);
    int rc = CDS_EIO;
    if (!csv)
        goto out;
    rc = CDS_ENOMEM;
    if (!pathcopy) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    im.base = basename(pathcopy);
    rc = read_rows(&im, csv);
    res->bad_rows = im.bad;
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    if (rc != CDS_OK)
        goto out;
    rc = queue_rows(&im, outbox, res, err, errlen);
    if (rc == CDS_OK && ctx->state_dir)
        submit_wake(ctx->state_dir);
out:
    for (size_t i = 0; i < im.n; i++)
        free(im.rows[i].buf);
    free(im.rows);
    tdestroy(im.keys, free);
    cds_csv_destroy(&csv);
    free(pathcopy);
    return rc;
}
