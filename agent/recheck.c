/*  recheck: see recheck.h. */
#include "recheck.h"

#include "metafetch.h"
#include "submit.h"

#include "cds_csv.h"
#include "cds_err.h"
#include "cds_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECHECK_MSG 300
#define RECHECK_SUGG 96

/* The files of one version, loaded as submit loads them. */
typedef struct {
    char dir[256];
    cds_catalog_t *cat;
    cds_orgunits_t *ous;
    cds_datasets_t *ds;
    char ous_path[320];
    submit_ctx_t ctx;
} files_t;

/* A decision on one row (hold) with its strings. */
typedef struct {
    outbox_hold_t h;
    char message[RECHECK_MSG];
    char suggestion[RECHECK_SUGG];
} hold_t;

typedef struct {
    files_t *f;
    int64_t *release;
    size_t n_release, cap;
    int rc;
} held_walk_t;

static void
files_close(files_t *f)
{
    cds_datasets_destroy(&f->ds);
    cds_orgunits_destroy(&f->ous);
    cds_catalog_destroy(&f->cat);
    if (f->dir[0])
        metafetch_cleanup(f->dir);
    f->dir[0] = '\0';
}

static int
files_open(outbox_t *ob, const char *org_units, files_t *f)
{
    char path[320], err[600];
    memset(f, 0, sizeof *f);
    int rc = metafetch_materialize(ob, f->dir, sizeof f->dir);
    if (rc != CDS_OK) {
        f->dir[0] = '\0';
        return rc;
    }
    snprintf(path, sizeof path, "%s/catalog.csv", f->dir);
    snprintf(f->ous_path, sizeof f->ous_path, "%s/orgunits.csv", f->dir);
    f->cat = cds_catalog_load(path, err, sizeof err);
    if (f->cat && access(f->ous_path, F_OK) == 0)
        f->ous = cds_orgunits_load(f->ous_path, err, sizeof err);
    if (!f->cat || (access(f->ous_path, F_OK) == 0 && !f->ous)
        || cds_datasets_configured("", path, f->cat, f->ous, &f->ds, err,
                                   sizeof err) != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "recheck_failed", "error=%s", cds_logq(err));
        files_close(f);
        return CDS_EIO;
    }
    f->ctx.catalog = f->cat;
    f->ctx.org_units = org_units;
    f->ctx.orgunits = f->ous;
    f->ctx.orgunits_path = "orgunits.csv";
    f->ctx.datasets = f->ds;
    return CDS_OK;
}

/* The first row of dir/file whose column key is want: its column val
 * into out ("" none). */
static void
map_lookup(const char *dir, const char *file, const char *key,
           const char *want, const char *val, char *out, size_t len)
{
    char path[320], err[300];
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cds_csv_t *c = cds_csv_open(path, err, sizeof err);
    if (!c)
        return;
    if (cds_csv_read_header(c, err, sizeof err) == 0) {
        int k = cds_csv_column(c, key), v = cds_csv_column(c, val);
        while (k >= 0 && v >= 0 && cds_csv_next(c, err, sizeof err) == 1)
            if (strcmp(cds_csv_get(c, k), want) == 0
                && cds_csv_get(c, v)[0]) {
                snprintf(out, len, "%s", cds_csv_get(c, v));
                break;
            }
    }
    cds_csv_destroy(&c);
}

/* Valid under f: CDS_OK; else the reason (message, suggestion) in h. */
static int
check_row(const files_t *f, const cds_update_t *row, hold_t *h)
{
    cds_update_t u = *row;
    char canon[CDS_MAX_VALUE + 1], to[80];
    const char *field = NULL;
    memset(h, 0, sizeof *h);
    int code = submit_check(&f->ctx, &u, canon, sizeof canon, &field,
                            h->message, sizeof h->message);
    if (code == CDS_OK)
        return CDS_OK;
    h->h.seq = row->seq;
    h->h.code = code;
    h->h.field = field ? field : "";
    if (code == CDS_EUNKNOWNINDICATOR) {
        map_lookup(f->dir, "catalog.csv", "replaces", row->indicator,
                   "code", to, sizeof to);
        if (to[0])
            snprintf(h->suggestion, sizeof h->suggestion, "indicator=%s",
                     to);
    } else if (code == CDS_EUNITCLOSED || code == CDS_EUNKNOWNORGUNIT
               || strcmp(h->h.field, "orgunit") == 0) {
        map_lookup(f->dir, "orgunit_map.csv", "old", row->org_unit, "new",
                   to, sizeof to);
        if (to[0])
            snprintf(h->suggestion, sizeof h->suggestion, "org_unit=%s",
                     to);
    }
    h->h.message = h->message;
    h->h.suggestion = h->suggestion;
    return code;
}

static int
walk_held(const outbox_held_t *h, void *arg)
{
    held_walk_t *w = arg;
    hold_t unused;
    if (check_row(w->f, &h->row->u, &unused) != CDS_OK)
        return 0;
    if (w->n_release == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        int64_t *p = realloc(w->release, cap * sizeof *p);
        if (!p)
            return CDS_ENOMEM;
        w->release = p;
        w->cap = cap;
    }
    w->release[w->n_release++] = h->id;
    return 0;
}

/* The pending rows past floor checked: the ones to hold into *holds. */
static int
check_pending(outbox_t *ob, const files_t *f, uint64_t floor, hold_t **holds,
              size_t *n_hold, size_t *checked)
{
    outbox_row_t *rows = NULL;
    size_t n = 0;
    int rc = outbox_read(ob, floor + 1, (size_t)-1 / 2, (size_t)-1 / 2,
                         &rows, &n);
    if (rc != CDS_OK)
        return rc;
    *holds = n ? calloc(n, sizeof **holds) : NULL;
    if (n && !*holds) {
        outbox_rows_free(&rows, n);
        return CDS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        hold_t *h = &(*holds)[*n_hold];
        if (check_row(f, &rows[i].u, h) != CDS_OK) {
            cds_log(CDS_LOG_WARN, "value_held", "seq=%llu org_unit=%s "
                    "indicator=%s period=%s reason=%s suggestion=%s",
                    (unsigned long long)rows[i].u.seq, rows[i].u.org_unit,
                    rows[i].u.indicator, rows[i].u.period,
                    cds_strerror(h->h.code),
                    h->suggestion[0] ? h->suggestion : "-");
            (*n_hold)++;
        }
    }
    *checked = n;
    outbox_rows_free(&rows, n);
    return CDS_OK;
}

/* Past what the aggregator or an export may hold. */
static int
recheck_floor(outbox_t *ob, const outbox_meta_t *m, uint64_t *floor)
{
    outbox_carried_t c;
    int rc = outbox_carried_open(ob, &c);
    if (rc != CDS_OK)
        return rc;
    *floor = m->acked_seq;
    if (c.exports && c.last_seq > *floor)
        *floor = c.last_seq;
    return CDS_OK;
}

int
recheck_pending(outbox_t *ob, const char *org_units, uint64_t now_ms,
                recheck_result_t *res)
{
    outbox_meta_t m;
    files_t f;
    memset(res, 0, sizeof *res);
    int rc = outbox_meta(ob, &m);
    if (rc != CDS_OK || !m.metadata_version
        || m.metadata_version == m.pending_checked)
        return rc;
    uint64_t floor = 0;
    if ((rc = recheck_floor(ob, &m, &floor)) != CDS_OK)
        return rc;
    if ((rc = files_open(ob, org_units, &f)) != CDS_OK)
        return rc == CDS_ENOTFOUND ? CDS_EIO : rc;
    hold_t *holds = NULL;
    size_t n_hold = 0;
    held_walk_t w = { .f = &f };
    rc = check_pending(ob, &f, floor, &holds, &n_hold, &res->checked);
    if (rc == CDS_OK)
        rc = outbox_held_list(ob, walk_held, &w);
    outbox_hold_t *h = n_hold ? calloc(n_hold, sizeof *h) : NULL;
    if (rc == CDS_OK && n_hold && !h)
        rc = CDS_ENOMEM;
    for (size_t i = 0; rc == CDS_OK && i < n_hold; i++)
        h[i] = holds[i].h;
    if (rc == CDS_OK)
        rc = outbox_recheck_commit(ob, h, n_hold, w.release, w.n_release,
                                   m.metadata_version, now_ms);
    if (rc == CDS_OK) {
        res->version = m.metadata_version;
        res->held = n_hold;
        res->released = w.n_release;
    }
    cds_log(rc == CDS_OK ? CDS_LOG_INFO : CDS_LOG_ERROR, "pending_rechecked",
            "version=%llu checked=%zu held=%zu released=%zu error=%s",
            (unsigned long long)m.metadata_version, res->checked, n_hold,
            w.n_release, rc == CDS_OK ? "-" : cds_strerror(rc));
    free(h);
    free(holds);
    free(w.release);
    files_close(&f);
    return rc;
}

const char *
recheck_reason_words(int code, bool en)
{
    switch (code) {
    case CDS_EUNKNOWNINDICATOR:
        return en ? "indicator no longer in the catalog (retired)"
                  : "chỉ tiêu không còn trong danh mục (đã bỏ)";
    case CDS_EUNITCLOSED:
        return en ? "the unit no longer exists in this period (merged or "
                    "closed)"
                  : "đơn vị không còn tồn tại trong kỳ này (đã sáp nhập "
                    "hoặc giải thể)";
    case CDS_ENOTALLOWED:
        return en ? "not expected from this unit (not in its data sets or "
                    "org units)"
                  : "đơn vị không phải báo cáo chỉ tiêu này (ngoài bộ dữ "
                    "liệu)";
    default:
        return en ? "no longer valid under the new metadata"
                  : "không còn hợp lệ theo danh mục mới";
    }
}
