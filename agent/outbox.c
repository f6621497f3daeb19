/*  outbox: see outbox.h for the contract and on-disk format. */
#include "outbox.h"
#include "outbox_sql.h"

#include "cds_ckpt.h"
#include "cds_codec.h"
#include "cds_db.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_log.h"
#include "cds_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_META_GET,
    ST_META_SET_LAST,
    ST_META_SET_ACKED,
    ST_META_SET_CONN,
    ST_META_SET_OFFSET,
    ST_META_SET_METADATA_LATEST,
    ST_INSERT,
    ST_READ,
    ST_PARK,
    ST_NEXT_PARKED,
    ST_MOVE,
    ST_HEAD_AT,
    ST_STATS,
    ST_REJECT,
    ST_DELETE_ACKED,
    ST_RECEIPT,
    ST_REJECTED_LIST,
    ST_RECEIPTS_LIST,
    ST_KEEP,
    ST_KEPT_RANGE,
    ST_KEPT_AT,
    ST_KEPT_LOWEST_AT,
    ST_KEPT_STATS,
    ST_KEPT_PRUNE_AGE,
    ST_KEPT_PRUNE_BYTES,
    ST_CARRIED_ADD,
    ST_CARRIED_OPEN,
    ST_HOLD,
    ST_UNQUEUE,
    ST_HELD_LIST,
    ST_HELD_GET,
    ST_HELD_DELETE,
    ST_META_SET_CHECKED,
    ST__COUNT
};

static const char *const outbox_sql[ST__COUNT] = {
    [ST_META_GET] = OUTBOX_SQL_META_GET,
    [ST_META_SET_LAST] = OUTBOX_SQL_META_SET_LAST,
    [ST_META_SET_ACKED] = OUTBOX_SQL_META_SET_ACKED,
    [ST_META_SET_CONN] = OUTBOX_SQL_META_SET_CONN,
    [ST_META_SET_OFFSET] = OUTBOX_SQL_META_SET_OFFSET,
    [ST_META_SET_METADATA_LATEST] = OUTBOX_SQL_META_SET_METADATA_LATEST,
    [ST_INSERT] = OUTBOX_SQL_INSERT,
    [ST_READ] = OUTBOX_SQL_READ,
    [ST_PARK] = OUTBOX_SQL_PARK,
    [ST_NEXT_PARKED] = OUTBOX_SQL_NEXT_PARKED,
    [ST_MOVE] = OUTBOX_SQL_MOVE,
    [ST_HEAD_AT] = OUTBOX_SQL_HEAD_AT,
    [ST_STATS] = OUTBOX_SQL_STATS,
    [ST_REJECT] = OUTBOX_SQL_REJECT,
    [ST_DELETE_ACKED] = OUTBOX_SQL_DELETE_ACKED,
    [ST_RECEIPT] = OUTBOX_SQL_RECEIPT,
    [ST_REJECTED_LIST] = OUTBOX_SQL_REJECTED_LIST,
    [ST_RECEIPTS_LIST] = OUTBOX_SQL_RECEIPTS_LIST,
    [ST_KEEP] = OUTBOX_SQL_KEEP,
    [ST_KEPT_RANGE] = OUTBOX_SQL_KEPT_RANGE,
    [ST_KEPT_AT] = OUTBOX_SQL_KEPT_AT,
    [ST_KEPT_LOWEST_AT] = OUTBOX_SQL_KEPT_LOWEST_AT,
    [ST_KEPT_STATS] = OUTBOX_SQL_KEPT_STATS,
    [ST_KEPT_PRUNE_AGE] = OUTBOX_SQL_KEPT_PRUNE_AGE,
    [ST_KEPT_PRUNE_BYTES] = OUTBOX_SQL_KEPT_PRUNE_BYTES,
    [ST_CARRIED_ADD] = OUTBOX_SQL_CARRIED_ADD,
    [ST_CARRIED_OPEN] = OUTBOX_SQL_CARRIED_OPEN,
    [ST_HOLD] = OUTBOX_SQL_HOLD,
    [ST_UNQUEUE] = OUTBOX_SQL_UNQUEUE,
    [ST_HELD_LIST] = OUTBOX_SQL_HELD_LIST,
    [ST_HELD_GET] = OUTBOX_SQL_HELD_GET,
    [ST_HELD_DELETE] = OUTBOX_SQL_HELD_DELETE,
    [ST_META_SET_CHECKED] = OUTBOX_SQL_META_SET_CHECKED,
};

static const char *const outbox_migrations[] = {OUTBOX_SQL_MIGRATION_1,
                                               OUTBOX_SQL_MIGRATION_2,
                                               OUTBOX_SQL_MIGRATION_3,
                                               OUTBOX_SQL_MIGRATION_4,
                                               OUTBOX_SQL_MIGRATION_5,
                                               OUTBOX_SQL_MIGRATION_6,
                                               OUTBOX_SQL_MIGRATION_7,
                                               OUTBOX_SQL_MIGRATION_8,
                                               OUTBOX_SQL_MIGRATION_9};

struct outbox {
    cds_db_t *db;                       /* owned connection */
    sqlite3_stmt *st[ST__COUNT];        /* prepared once, reset after use */
    cds_ckpt_t *ckpt;                   /* daemon: background checkpoints */
    bool conn_cached;                   /* conn_state/last_error loaded */
    char conn_state[32];                /* last written connection state */
    char last_error[512];               /* last written error */
    uint64_t keep_ms;                   /* kept batches: age bound, 0 none */
    uint64_t keep_max_bytes;            /* kept batches: 0 no byte bound */
    uint64_t kept_pruned_ms;            /* last prune after an ack */
    outbox_fault_fn fault;              /* tests: fail writes on demand */
    void *fault_arg;
};

typedef struct {
    int64_t depth;                      /* pending rows */
    int64_t oldest_ms;                  /* min(queued_at_ms), 0 if none */
    int64_t bytes;                      /* sum(size) */
    int64_t first;                      /* min(seq), 0 if none */
} stats_t;

static outbox_t *
open_with(const char *path, int flags, int *err)
{
    outbox_t *self = calloc(1, sizeof *self);
    if (!self) {
        *err = CDS_ENOMEM;
        return NULL;
    }
    self->db = cds_db_open(path, outbox_migrations,
                           (int)(sizeof outbox_migrations
                                 / sizeof outbox_migrations[0]),
                           flags, err);
    if (!self->db)
        goto fail;
    for (int i = 0; i < ST__COUNT; i++) {
        self->st[i] = cds_db_prepare(self->db, outbox_sql[i]);
        if (!self->st[i]) {
            *err = CDS_ERROR;
            goto fail;
        }
    }
    return self;
fail:
    outbox_destroy(&self);
    return NULL;
}

outbox_t *
outbox_open(const char *path, int *err)
{
    return open_with(path, 0, err);
}

outbox_t *
outbox_open_readonly(const char *path, int *err)
{
    return open_with(path, CDS_DB_READONLY | CDS_DB_QUIET_VERSION, err);
}

void
outbox_destroy(outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    outbox_t *self = *self_p;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(self->st[i]);
    cds_ckpt_destroy(&self->ckpt);     /* before its connection closes */
    cds_db_close(&self->db);
    free(self);
    *self_p = NULL;
}

void
outbox_defer_checkpoints(outbox_t *self)
{
    sqlite3_wal_autocheckpoint(cds_db_handle(self->db), CDS_CKPT_MAX_PAGES);
}

int
outbox_checkpoint_in_background(outbox_t *self)
{
    if (!self->ckpt)
        self->ckpt = cds_ckpt_new(self->db, CDS_CKPT_PAGES,
                                  CDS_CKPT_MAX_PAGES);
    return self->ckpt ? CDS_OK : CDS_ERROR;
}

/* Copy a 32-byte blob column into out (zeros when the column is short). */
static void
column_hash(sqlite3_stmt *st, int col, uint8_t out[CDS_HASH_BYTES])
{
    const void *p = sqlite3_column_blob(st, col);
    memset(out, 0, CDS_HASH_BYTES);
    if (p && sqlite3_column_bytes(st, col) == CDS_HASH_BYTES)
        memcpy(out, p, CDS_HASH_BYTES);
}

static void
column_text(sqlite3_stmt *st, int col, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

int
outbox_meta(outbox_t *self, outbox_meta_t *out)
{
    sqlite3_stmt *st = self->st[ST_META_GET];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = cds_db_fail(self->db, "outbox: read meta");
        cds_stmt_done(st);
        return rc ? rc : CDS_ECORRUPT;
    }
    memset(out, 0, sizeof *out);
    out->acked_seq = (uint64_t)sqlite3_column_int64(st, 0);
    column_hash(st, 1, out->acked_head);
    out->last_seq = (uint64_t)sqlite3_column_int64(st, 2);
    column_hash(st, 3, out->last_head);
    out->hlc_last = (uint64_t)sqlite3_column_int64(st, 4);
    column_text(st, 5, out->conn_state, sizeof out->conn_state);
    out->conn_changed_at_ms = (uint64_t)sqlite3_column_int64(st, 6);
    column_text(st, 7, out->last_error, sizeof out->last_error);
    out->last_error_at_ms = (uint64_t)sqlite3_column_int64(st, 8);
    out->last_ack_at_ms = (uint64_t)sqlite3_column_int64(st, 9);
    out->clock_offset_ms = sqlite3_column_int64(st, 10);
    out->clock_offset_at_ms = (uint64_t)sqlite3_column_int64(st, 11);
    out->metadata_version = (uint64_t)sqlite3_column_int64(st, 12);
    out->metadata_latest = (uint64_t)sqlite3_column_int64(st, 13);
    out->metadata_seen_at_ms = (uint64_t)sqlite3_column_int64(st, 14);
    column_text(st, 15, out->metadata_error, sizeof out->metadata_error);
    out->metadata_error_at_ms = (uint64_t)sqlite3_column_int64(st, 16);
    out->metadata_pinned = (uint64_t)sqlite3_column_int64(st, 17);
    out->pending_checked = (uint64_t)sqlite3_column_int64(st, 18);
    cds_stmt_done(st);
    return CDS_OK;
}

static int
read_stats(outbox_t *self, stats_t *out)
{
    sqlite3_stmt *st = self->st[ST_STATS];
    if (sqlite3_step(st) != SQLITE_ROW) {
        int rc = cds_db_fail(self->db, "outbox: stats");
        cds_stmt_done(st);
        return rc ? rc : CDS_ERROR;
    }
    out->depth = sqlite3_column_int64(st, 0);
    out->oldest_ms = sqlite3_column_int64(st, 1);
    out->bytes = sqlite3_column_int64(st, 2);
    out->first = sqlite3_column_int64(st, 3);
    cds_stmt_done(st);
    return CDS_OK;
}

/* Run a statement that returns no rows; reset it on every path. */
static int
step_done(outbox_t *self, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        rc = cds_db_fail(self->db, what);
    else
        rc = CDS_OK;
    cds_stmt_done(st);
    return rc;
}

static int
write_last(outbox_t *self, uint64_t last_seq,
           const uint8_t head[CDS_HASH_BYTES], uint64_t hlc_last)
{
    sqlite3_stmt *st = self->st[ST_META_SET_LAST];
    cds_bind_int64(st, ":last_seq", (int64_t)last_seq);
    cds_bind_blob(st, ":last_head", head, CDS_HASH_BYTES);
    cds_bind_int64(st, ":hlc_last", (int64_t)hlc_last);
    return step_done(self, st, "outbox: write last_seq");
}

static int
write_acked(outbox_t *self, uint64_t acked_seq,
            const uint8_t head[CDS_HASH_BYTES], uint64_t now_ms)
{
    sqlite3_stmt *st = self->st[ST_META_SET_ACKED];
    cds_bind_int64(st, ":acked_seq", (int64_t)acked_seq);
    cds_bind_blob(st, ":acked_head", head, CDS_HASH_BYTES);
    cds_bind_int64(st, ":now", (int64_t)now_ms);
    return step_done(self, st, "outbox: write acked_seq");
}

/* Encoded size of u as one repeated field of a Batch (tag + length +
 * body): what it adds to a batch on the wire. */
static size_t
encoded_size(const cds_update_t *u)
{
    Cdsync__Update pb = CDSYNC__UPDATE__INIT;
    cds_update_to_pb(u, &pb);
    size_t n = cdsync__update__get_packed_size(&pb);
    return n + 1 + (n < 128 ? 1 : n < 16384 ? 2 : 3);
}

/* A source time: NULL when not given (0). */
static void
bind_time(sqlite3_stmt *st, const char *name, uint64_t ms)
{
    if (ms)
        cds_bind_int64(st, name, (int64_t)ms);
    else
        cds_bind_null(st, name);
}

static int
insert_row(outbox_t *self, const cds_update_t *u, const char *source,
           const uint8_t hash[CDS_HASH_BYTES],
           const uint8_t head[CDS_HASH_BYTES], uint64_t now_ms,
           int64_t stamp_offset_ms)
{
    sqlite3_stmt *st = self->st[ST_INSERT];
    cds_bind_int64(st, ":seq", (int64_t)u->seq);
    cds_bind_text(st, ":org_unit", u->org_unit);
    cds_bind_text(st, ":indicator", u->indicator);
    cds_bind_text(st, ":period", u->period);
    cds_bind_text(st, ":disagg", u->disagg ? u->disagg : "default");
    cds_bind_text(st, ":value", u->value ? u->value : "");
    cds_bind_int64(st, ":deleted", u->deleted);
    cds_bind_text(st, ":comment", u->comment);
    cds_bind_text(st, ":stored_by", u->stored_by);
    cds_bind_int64(st, ":followup", u->followup);
    cds_bind_int64(st, ":hlc", (int64_t)u->hlc);
    cds_bind_blob(st, ":hash", hash, CDS_HASH_BYTES);
    cds_bind_blob(st, ":chain_head", head, CDS_HASH_BYTES);
    cds_bind_int64(st, ":size", (int64_t)encoded_size(u));
    cds_bind_int64(st, ":queued_at_ms", (int64_t)now_ms);
    cds_bind_text(st, ":source", source ? source : "submit");
    cds_bind_int64(st, ":stamp_offset_ms", stamp_offset_ms);
    bind_time(st, ":created_ms", u->created_ms);
    bind_time(st, ":updated_ms", u->updated_ms);
    return step_done(self, st, "outbox: insert");
}

/* Where the HLC of a new row starts: the receive rule on the corrected
 * clock (wall + the offset measured against the aggregator), so stamps
 * agree with the aggregator's time even when this machine's clock is
 * wrong. A last stamp further ahead than OUTBOX_HLC_STEP_BACK_MS was made
 * by a wrong clock: step back to the corrected time (the aggregator
 * orders one agent's updates by seq, not by HLC). */
static uint64_t
hlc_start(const outbox_meta_t *m, uint64_t wall_ms)
{
    uint64_t corrected = outbox_corrected_ms(m, wall_ms);
    if (cds_hlc_ms(m->hlc_last) > corrected + OUTBOX_HLC_STEP_BACK_MS) {
        cds_log(CDS_LOG_WARN, "hlc_step_back",
                "last_ms=%llu corrected_ms=%llu offset_ms=%lld",
                (unsigned long long)cds_hlc_ms(m->hlc_last),
                (unsigned long long)corrected,
                (long long)m->clock_offset_ms);
        return 0;
    }
    return m->hlc_last;
}

uint64_t
outbox_corrected_ms(const outbox_meta_t *m, uint64_t wall_ms)
{
    int64_t c = (int64_t)wall_ms + m->clock_offset_ms;
    return c < 0 ? 0 : (uint64_t)c;
}

/* Tests only: the fault hook's verdict for a write about to start. */
static int
injected(outbox_t *self, const char *op)
{
    return self->fault ? self->fault(self->fault_arg, op) : CDS_OK;
}

void
outbox_set_fault_hook(outbox_t *self, outbox_fault_fn fn, void *arg)
{
    self->fault = fn;
    self->fault_arg = arg;
}

int
outbox_set_clock_offset(outbox_t *self, int64_t offset_ms, uint64_t now_ms)
{
    int rc = injected(self, "offset");
    if (rc != CDS_OK)
        return rc;
    sqlite3_stmt *st = self->st[ST_META_SET_OFFSET];
    cds_bind_int64(st, ":offset", offset_ms);
    cds_bind_int64(st, ":now", (int64_t)now_ms);
    return step_done(self, st, "outbox: write clock offset");
}

int
outbox_set_metadata_latest(outbox_t *self, uint64_t latest, uint64_t now_ms)
{
    sqlite3_stmt *st = self->st[ST_META_SET_METADATA_LATEST];
    cds_bind_int64(st, ":latest", (int64_t)latest);
    cds_bind_int64(st, ":now", (int64_t)now_ms);
    return step_done(self, st, "outbox: write metadata_latest");
}

/* ---- fetched metadata ---------------------------------------------------- */

/* One statement run once: prepared, stepped to its end, finalized. */
static int
once_done(outbox_t *self, sqlite3_stmt *st, const char *what)
{
    if (!st)
        return cds_db_fail(self->db, what);
    int rc = step_done(self, st, what);
    sqlite3_finalize(st);
    return rc;
}

static int
metadata_use(outbox_t *self, uint64_t version, uint64_t pin)
{
    sqlite3_stmt *st = cds_db_prepare_once(self->db, OUTBOX_SQL_METADATA_USE);
    if (st) {
        cds_bind_int64(st, ":v", (int64_t)version);
        cds_bind_int64(st, ":pin", (int64_t)pin);
    }
    return once_done(self, st, "outbox: use metadata");
}

int
outbox_metadata_put(outbox_t *self, const outbox_metadata_t *m)
{
    int rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    sqlite3_stmt *st = cds_db_prepare_once(self->db, OUTBOX_SQL_METADATA_PUT);
    if (st) {
        cds_bind_int64(st, ":v", (int64_t)m->version);
        cds_bind_blob(st, ":bundle", m->bundle, m->bundle_len);
        cds_bind_blob(st, ":sig", m->signature, sizeof m->signature);
        cds_bind_int64(st, ":now", (int64_t)m->received_at_ms);
        cds_bind_text(st, ":summary", m->summary ? m->summary : "");
    }
    rc = once_done(self, st, "outbox: store metadata");
    if (rc == CDS_OK)
        rc = metadata_use(self, m->version, 0);
    if (rc == CDS_OK)
        rc = cds_db_commit(self->db);
    else
        cds_db_rollback(self->db);
    return rc;
}

void
outbox_metadata_clear(outbox_metadata_t *m)
{
    free(m->bundle);
    free(m->summary);
    memset(m, 0, sizeof *m);
}

int
outbox_metadata_get(outbox_t *self, uint64_t version, outbox_metadata_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = cds_db_prepare_once(self->db, OUTBOX_SQL_METADATA_GET);
    if (!st)
        return cds_db_fail(self->db, "outbox: read metadata");
    cds_bind_int64(st, ":v", (int64_t)version);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 1);
        int blen = sqlite3_column_bytes(st, 1);
        const unsigned char *t = sqlite3_column_text(st, 4);
        out->version = (uint64_t)sqlite3_column_int64(st, 0);
        out->bundle = malloc(blen > 0 ? (size_t)blen : 1);
        out->summary = strdup(t ? (const char *)t : "");
        if (out->bundle && b)
            memcpy(out->bundle, b, (size_t)blen);
        out->bundle_len = (size_t)blen;
        if (sqlite3_column_bytes(st, 2) == CDS_SIG_BYTES)
            memcpy(out->signature, sqlite3_column_blob(st, 2), CDS_SIG_BYTES);
        out->received_at_ms = (uint64_t)sqlite3_column_int64(st, 3);
        rc = out->bundle && out->summary ? CDS_OK : CDS_ENOMEM;
    } else {
        rc = rc == SQLITE_DONE ? CDS_ENOTFOUND
                               : cds_db_fail(self->db, "outbox: read metadata");
    }
    sqlite3_finalize(st);
    if (rc != CDS_OK)
        outbox_metadata_clear(out);
    return rc;
}

int
outbox_metadata_rollback(outbox_t *self, uint64_t *from, uint64_t *to)
{
    outbox_meta_t m;
    int rc = outbox_meta(self, &m);
    if (rc != CDS_OK)
        return rc;
    *from = m.metadata_version;
    *to = 0;
    if (m.metadata_version == 0)
        return CDS_ENOTFOUND;
    sqlite3_stmt *st =
        cds_db_prepare_once(self->db, OUTBOX_SQL_METADATA_BEFORE);
    if (!st)
        return cds_db_fail(self->db, "outbox: metadata rollback");
    cds_bind_int64(st, ":v", (int64_t)m.metadata_version);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *to = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cds_db_fail(self->db, "outbox: metadata rollback");
    if (*to == 0)
        return CDS_ENOTFOUND;
    uint64_t pin = m.metadata_latest > *from ? m.metadata_latest : *from;
    return metadata_use(self, *to, pin);
}

int
outbox_metadata_refused(outbox_t *self, const char *error, uint64_t now_ms)
{
    sqlite3_stmt *st =
        cds_db_prepare_once(self->db, OUTBOX_SQL_METADATA_REFUSED);
    if (st) {
        cds_bind_text(st, ":error", error);
        cds_bind_int64(st, ":now", (int64_t)now_ms);
    }
    return once_done(self, st, "outbox: record metadata refusal");
}

/* Inside a transaction: check the bound, then insert every row. */
static int
push_rows(outbox_t *self, cds_update_t *u, const char *const *sources,
          size_t n, uint64_t queue_max, char *err, size_t errlen)
{
    outbox_meta_t m;
    stats_t s;
    int rc = outbox_meta(self, &m);
    if (rc == CDS_OK)
        rc = read_stats(self, &s);
    if (rc != CDS_OK)
        return rc;
    if (queue_max && (uint64_t)s.depth + n > queue_max) {
        snprintf(err, errlen,
                 "queue full: %lld pending + %zu new > queue_max %llu "
                 "(is the daemon running and connected?)",
                 (long long)s.depth, n, (unsigned long long)queue_max);
        return CDS_EFULL;
    }
    uint64_t now = cds_now_ms();
    cds_hlc_t hlc;
    cds_hlc_init(&hlc, hlc_start(&m, now));
    uint8_t head[CDS_HASH_BYTES], hash[CDS_HASH_BYTES];
    memcpy(head, m.last_head, sizeof head);
    for (size_t i = 0; i < n; i++) {
        u[i].seq = m.last_seq + 1 + i;
        u[i].hlc = cds_hlc_now(&hlc, outbox_corrected_ms(&m, now));
        cds_update_hash(&u[i], hash);
        cds_chain_next(head, hash, head);
        rc = insert_row(self, &u[i], sources ? sources[i] : NULL, hash, head,
                        now, m.clock_offset_ms);
        if (rc != CDS_OK) {
            snprintf(err, errlen, "outbox: insert seq %llu failed: %s",
                     (unsigned long long)u[i].seq, cds_strerror(rc));
            return rc;
        }
    }
    return write_last(self, m.last_seq + n, head, cds_hlc_last(&hlc));
}

int
outbox_push(outbox_t *self, cds_update_t *u, const char *const *sources,
            size_t n, uint64_t queue_max, char *err, size_t errlen)
{
    if (n == 0)
        return CDS_OK;
    int rc = injected(self, "push");
    if (rc == CDS_OK)
        rc = cds_db_begin(self->db);
    if (rc != CDS_OK) {
        snprintf(err, errlen, "outbox: cannot begin: %s", cds_strerror(rc));
        return rc;
    }
    rc = push_rows(self, u, sources, n, queue_max, err, errlen);
    if (rc == CDS_OK) {
        rc = cds_db_commit(self->db);
        if (rc != CDS_OK)
            snprintf(err, errlen, "outbox: commit failed: %s",
                     cds_strerror(rc));
    } else {
        cds_db_rollback(self->db);
    }
    if (rc != CDS_OK)
        for (size_t i = 0; i < n; i++)
            u[i].seq = u[i].hlc = 0;
    return rc;
}

/* Fill row from a statement with OUTBOX_SQL_COLUMNS. 0 or -1 (ENOMEM). */
static int
row_from_stmt(sqlite3_stmt *st, outbox_row_t *row)
{
    static const int text_cols[] = {1, 2, 3, 4, 5, 7, 8, 15};
    enum { NT = sizeof text_cols / sizeof text_cols[0] };
    size_t len[NT], total = 0;
    for (int i = 0; i < NT; i++) {
        (void)sqlite3_column_text(st, text_cols[i]);
        len[i] = (size_t)sqlite3_column_bytes(st, text_cols[i]);
        total += len[i] + 1;
    }
    memset(row, 0, sizeof *row);
    row->strs = malloc(total);
    if (!row->strs)
        return -1;
    char *p = row->strs;
    const char *s[NT];
    for (int i = 0; i < NT; i++) {
        const unsigned char *t = sqlite3_column_text(st, text_cols[i]);
        if (!t) {
            s[i] = NULL;
            continue;
        }
        memcpy(p, t, len[i]);
        p[len[i]] = '\0';
        s[i] = p;
        p += len[i] + 1;
    }
    row->u.seq = (uint64_t)sqlite3_column_int64(st, 0);
    row->u.org_unit = s[0];
    row->u.indicator = s[1];
    row->u.period = s[2];
    row->u.disagg = s[3];
    row->u.value = s[4];
    row->u.deleted = sqlite3_column_int(st, 6) != 0;
    row->u.comment = s[5];
    row->u.stored_by = s[6];
    row->u.followup = sqlite3_column_int(st, 9) != 0;
    row->u.hlc = (uint64_t)sqlite3_column_int64(st, 10);
    column_hash(st, 11, row->hash);
    column_hash(st, 12, row->head);
    row->size = (size_t)sqlite3_column_int64(st, 13);
    row->queued_at_ms = (uint64_t)sqlite3_column_int64(st, 14);
    row->source = (char *)s[7];
    row->stamp_offset_ms = sqlite3_column_int64(st, 16);
    row->u.created_ms = (uint64_t)sqlite3_column_int64(st, 17); /* NULL: 0 */
    row->u.updated_ms = (uint64_t)sqlite3_column_int64(st, 18);
    return 0;
}

void
outbox_rows_free(outbox_row_t **rows_p, size_t n)
{
    if (!rows_p || !*rows_p)
        return;
    for (size_t i = 0; i < n; i++)
        free((*rows_p)[i].strs);
    free(*rows_p);
    *rows_p = NULL;
}

int
outbox_read(outbox_t *self, uint64_t from, size_t max_count,
            size_t max_bytes, outbox_row_t **rows, size_t *n)
{
    sqlite3_stmt *st = self->st[ST_READ];
    outbox_row_t *out = NULL;
    size_t cap = 0, count = 0, bytes = 0;
    int rc = CDS_OK;
    *rows = NULL;
    *n = 0;
    if (max_count == 0)
        return CDS_OK;
    cds_bind_int64(st, ":from", (int64_t)from);
    cds_bind_int64(st, ":limit", (int64_t)max_count);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t size = (size_t)sqlite3_column_int64(st, 13);
        if (count > 0 && bytes + size > max_bytes)
            break;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            outbox_row_t *grown = realloc(out, ncap * sizeof *out);
            if (!grown)
                break;
            out = grown;
            cap = ncap;
        }
        if (row_from_stmt(st, &out[count]) != 0)
            break;
        bytes += size;
        count++;
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        /* Stopped on a bound, or an allocation failed (count < wanted). */
        rc = CDS_OK;
    } else {
        rc = cds_db_fail(self->db, "outbox: read");
        outbox_rows_free(&out, count);
        count = 0;
    }
    cds_stmt_done(st);
    *rows = out;
    *n = count;
    return rc;
}

static int
head_of_row(outbox_t *self, uint64_t seq, uint8_t out[CDS_HASH_BYTES])
{
    sqlite3_stmt *st = self->st[ST_HEAD_AT];
    cds_bind_int64(st, ":seq", (int64_t)seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        column_hash(st, 0, out);
        rc = CDS_OK;
    } else if (rc == SQLITE_DONE) {
        rc = CDS_ENOTFOUND;
    } else {
        rc = cds_db_fail(self->db, "outbox: head at");
    }
    cds_stmt_done(st);
    return rc;
}

int
outbox_head_at(outbox_t *self, uint64_t seq, uint8_t out[CDS_HASH_BYTES])
{
    if (seq == 0) {
        memset(out, 0, CDS_HASH_BYTES);
        return CDS_OK;
    }
    int rc = head_of_row(self, seq, out);
    if (rc != CDS_ENOTFOUND)
        return rc;
    outbox_meta_t m;
    if ((rc = outbox_meta(self, &m)) != CDS_OK)
        return rc;
    if (seq == m.acked_seq) {
        memcpy(out, m.acked_head, CDS_HASH_BYTES);
        return CDS_OK;
    }
    if (seq == m.last_seq) {
        memcpy(out, m.last_head, CDS_HASH_BYTES);
        return CDS_OK;
    }
    return CDS_ENOTFOUND;
}

static int
record_rejections(outbox_t *self, const Cdsync__Ack *ack, uint64_t now_ms)
{
    sqlite3_stmt *st = self->st[ST_REJECT];
    for (size_t i = 0; i < ack->n_rejections; i++) {
        const Cdsync__Rejection *r = ack->rejections[i];
        if (!r)
            continue;
        if (r->retry)
            cds_log(CDS_LOG_WARN, "ack_retry_rejection",
                    "seq=%llu code=%s note=\"recorded as permanent: covered "
                    "by acked_seq\"",
                    (unsigned long long)r->seq, cds_strerror((int)r->code));
        cds_bind_int64(st, ":seq", (int64_t)r->seq);
        cds_bind_int64(st, ":acked_seq", (int64_t)ack->acked_seq);
        cds_bind_int64(st, ":code", (int64_t)r->code);
        cds_bind_text(st, ":field", r->field ? r->field : "");
        cds_bind_text(st, ":message", r->message ? r->message : "");
        cds_bind_int64(st, ":now", (int64_t)now_ms);
        int rc = step_done(self, st, "outbox: record rejection");
        if (rc != CDS_OK)
            return rc;
    }
    return CDS_OK;
}

/* ACK_OK part of outbox_apply_ack, inside the transaction. */
static int
apply_ok(outbox_t *self, const Cdsync__Ack *ack, uint64_t now_ms)
{
    outbox_meta_t m;
    int rc = outbox_meta(self, &m);
    if (rc != CDS_OK)
        return rc;
    bool ack_head_ok = ack->acked_head.len == CDS_HASH_BYTES;
    if (ack->acked_seq > m.last_seq) {
        /* We never assigned these seqs: a restored database. Never reuse
         * them: adopt the aggregator's position (as outbox_renumber). */
        if (!ack_head_ok)
            return CDS_EBADSEQ;
        cds_log(CDS_LOG_WARN, "ack_beyond_last_seq",
                "acked_seq=%llu last_seq=%llu",
                (unsigned long long)ack->acked_seq,
                (unsigned long long)m.last_seq);
        rc = write_last(self, ack->acked_seq, ack->acked_head.data,
                        m.hlc_last);
        if (rc != CDS_OK)
            return rc;
    }
    if ((rc = record_rejections(self, ack, now_ms)) != CDS_OK)
        return rc;
    uint64_t acked = m.acked_seq;
    uint8_t head[CDS_HASH_BYTES];
    memcpy(head, m.acked_head, sizeof head);
    if (ack->acked_seq > m.acked_seq) {
        acked = ack->acked_seq;
        rc = head_of_row(self, acked, head);
        if (rc == CDS_ENOTFOUND && ack_head_ok)
            memcpy(head, ack->acked_head.data, sizeof head);
        else if (rc != CDS_OK)
            return rc == CDS_ENOTFOUND ? CDS_EBADSEQ : rc;
        if (ack_head_ok && sodium_memcmp(head, ack->acked_head.data,
                                         CDS_HASH_BYTES) != 0)
            cds_log(CDS_LOG_ERROR, "ack_head_mismatch",
                    "acked_seq=%llu note=\"aggregator chain differs from "
                    "ours\"",
                    (unsigned long long)acked);
    }
    sqlite3_stmt *st = self->st[ST_DELETE_ACKED];
    cds_bind_int64(st, ":acked_seq", (int64_t)ack->acked_seq);
    if ((rc = step_done(self, st, "outbox: delete acked")) != CDS_OK)
        return rc;
    return write_acked(self, acked, head, now_ms);
}

static int
store_receipt(outbox_t *self, const Cdsync__Ack *ack, const uint8_t *raw,
              size_t raw_len, uint64_t now_ms)
{
    uint8_t digest[CDS_HASH_BYTES];
    crypto_generichash(digest, sizeof digest, raw, raw_len, NULL, 0);
    sqlite3_stmt *st = self->st[ST_RECEIPT];
    cds_bind_blob(st, ":digest", digest, sizeof digest);
    cds_bind_int64(st, ":first_seq", (int64_t)ack->batch_first);
    cds_bind_int64(st, ":last_seq", (int64_t)ack->batch_last);
    cds_bind_int64(st, ":acked_seq", (int64_t)ack->acked_seq);
    cds_bind_int64(st, ":status", (int64_t)ack->status);
    cds_bind_int64(st, ":error", (int64_t)ack->error);
    cds_bind_text(st, ":message", ack->message ? ack->message : "");
    cds_bind_int64(st, ":committed_at_ms", (int64_t)ack->committed_at_ms);
    cds_bind_int64(st, ":received_at_ms", (int64_t)now_ms);
    cds_bind_blob(st, ":envelope", raw, (int)raw_len);
    return step_done(self, st, "outbox: store receipt");
}

/* Inside a transaction: the retention rule of outbox_kept_prune. */
static int
prune_rows(outbox_t *self, uint64_t now_ms, uint64_t keep_ms,
           uint64_t max_bytes, uint64_t *pruned)
{
    sqlite3 *h = cds_db_handle(self->db);
    sqlite3_stmt *st = self->st[ST_KEPT_PRUNE_AGE];
    uint64_t cutoff = keep_ms == 0 ? UINT64_MAX / 2
                      : now_ms > keep_ms ? now_ms - keep_ms : 0;
    cds_bind_int64(st, ":cutoff", (int64_t)cutoff);
    int rc = step_done(self, st, "outbox: prune kept batches by age");
    uint64_t count = rc == CDS_OK ? (uint64_t)sqlite3_changes(h) : 0;
    if (rc == CDS_OK && max_bytes) {
        st = self->st[ST_KEPT_PRUNE_BYTES];
        cds_bind_int64(st, ":max", (int64_t)max_bytes);
        rc = step_done(self, st, "outbox: prune kept batches by size");
        if (rc == CDS_OK)
            count += (uint64_t)sqlite3_changes(h);
    }
    if (pruned)
        *pruned = count;
    if (rc == CDS_OK && count)
        cds_log(CDS_LOG_INFO, "kept_pruned", "batches=%llu",
                (unsigned long long)count);
    return rc;
}

int
outbox_apply_ack(outbox_t *self, const Cdsync__Ack *ack, const uint8_t *raw,
                 size_t raw_len, uint64_t now_ms)
{
    return outbox_apply_ack_keeping(self, ack, raw, raw_len, now_ms, NULL, 0);
}

/* Inside a transaction: insert kept[i] with last_seq <= upto (acked_at_ms
 * = at, or its own when at is 0), then prune by the policy. */
static int
keep_rows(outbox_t *self, const outbox_kept_t *kept, size_t n, uint64_t upto,
          uint64_t at, uint64_t now_ms)
{
    sqlite3_stmt *st = self->st[ST_KEEP];
    for (size_t i = 0; self->keep_ms && i < n; i++) {   /* 0: keeping off */
        const outbox_kept_t *k = &kept[i];
        if (k->last_seq > upto || !k->envelope || k->first_seq == 0)
            continue;
        cds_bind_int64(st, ":first_seq", (int64_t)k->first_seq);
        cds_bind_int64(st, ":last_seq", (int64_t)k->last_seq);
        cds_bind_blob(st, ":envelope", k->envelope, (int)k->envelope_len);
        cds_bind_int64(st, ":sent_at_ms", (int64_t)k->sent_at_ms);
        cds_bind_int64(st, ":acked_at_ms",
                       (int64_t)(at ? at : k->acked_at_ms ? k->acked_at_ms
                                                          : now_ms));
        cds_bind_int64(st, ":size", (int64_t)k->envelope_len);
        int rc = step_done(self, st, "outbox: keep batch");
        if (rc != CDS_OK)
            return rc;
    }
    if (now_ms < self->kept_pruned_ms + OUTBOX_KEEP_PRUNE_EVERY_MS
        && self->kept_pruned_ms)
        return CDS_OK;                 /* not at every ack: it scans */
    self->kept_pruned_ms = now_ms;     /* a rollback only delays it */
    return prune_rows(self, now_ms, self->keep_ms, self->keep_max_bytes,
                      NULL);
}

int
outbox_apply_ack_keeping(outbox_t *self, const Cdsync__Ack *ack,
                         const uint8_t *raw, size_t raw_len, uint64_t now_ms,
                         const outbox_kept_t *kept, size_t n)
{
    outbox_ack_t one = {ack, raw, raw_len};
    return outbox_apply_acks(self, &one, 1, now_ms, kept, n);
}

/* Inside the transaction: each ack of acks[0..n) as outbox_apply_ack, in
 * order; *upto = the highest acked_seq of an ACK_OK (0 when none). */
static int
apply_each(outbox_t *self, const outbox_ack_t *acks, size_t n,
           uint64_t now_ms, uint64_t *upto)
{
    int rc = CDS_OK;
    *upto = 0;
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        const Cdsync__Ack *a = acks[i].ack;
        if (a->status == CDSYNC__ACK_STATUS__ACK_OK) {
            rc = apply_ok(self, a, now_ms);
            if (a->acked_seq > *upto)
                *upto = a->acked_seq;
        }
        if (rc == CDS_OK && acks[i].raw)
            rc = store_receipt(self, a, acks[i].raw, acks[i].raw_len,
                               now_ms);
    }
    return rc;
}

int
outbox_apply_acks(outbox_t *self, const outbox_ack_t *acks, size_t n,
                  uint64_t now_ms, const outbox_kept_t *kept, size_t n_kept)
{
    uint64_t upto = 0;
    int rc = injected(self, "ack");
    if (rc == CDS_OK)
        rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = apply_each(self, acks, n, now_ms, &upto);
    if (rc == CDS_OK && upto && n_kept)
        rc = keep_rows(self, kept, n_kept, upto, now_ms, now_ms);
    if (rc == CDS_OK)
        return cds_db_commit(self->db);
    cds_db_rollback(self->db);
    return rc;
}

/* Inside the transaction: move parked rows to after+1.. in order. */
static int
move_parked(outbox_t *self, uint64_t after, uint8_t head[CDS_HASH_BYTES],
            uint64_t *count)
{
    sqlite3_stmt *next = self->st[ST_NEXT_PARKED];
    sqlite3_stmt *move = self->st[ST_MOVE];
    for (;;) {
        outbox_row_t row;
        int rc = sqlite3_step(next);
        if (rc == SQLITE_DONE) {
            cds_stmt_done(next);
            return CDS_OK;
        }
        if (rc != SQLITE_ROW) {
            rc = cds_db_fail(self->db, "outbox: renumber read");
            cds_stmt_done(next);
            return rc;
        }
        rc = row_from_stmt(next, &row);
        cds_stmt_done(next);
        if (rc != 0)
            return CDS_ENOMEM;
        int64_t old_seq = (int64_t)row.u.seq;   /* negative: parked */
        row.u.seq = after + 1 + *count;
        uint8_t hash[CDS_HASH_BYTES];
        cds_update_hash(&row.u, hash);
        cds_chain_next(head, hash, head);
        cds_bind_int64(move, ":new_seq", (int64_t)row.u.seq);
        cds_bind_blob(move, ":hash", hash, CDS_HASH_BYTES);
        cds_bind_blob(move, ":chain_head", head, CDS_HASH_BYTES);
        cds_bind_int64(move, ":old_seq", old_seq);
        free(row.strs);
        if ((rc = step_done(self, move, "outbox: renumber move")) != CDS_OK)
            return rc;
        (*count)++;
    }
}

static int
renumber_rows(outbox_t *self, uint64_t from, uint64_t after,
              const uint8_t head_after[CDS_HASH_BYTES], uint64_t *count)
{
    outbox_meta_t m;
    stats_t s;
    int rc = outbox_meta(self, &m);
    if (rc != CDS_OK)
        return rc;
    sqlite3_stmt *park = self->st[ST_PARK];
    cds_bind_int64(park, ":from", (int64_t)from);
    if ((rc = step_done(self, park, "outbox: renumber park")) != CDS_OK)
        return rc;
    uint8_t head[CDS_HASH_BYTES];
    memcpy(head, head_after, sizeof head);
    if ((rc = move_parked(self, after, head, count)) != CDS_OK)
        return rc;
    uint64_t final = after + *count;
    if (final > m.last_seq
        && (rc = write_last(self, final, head, m.hlc_last)) != CDS_OK)
        return rc;
    if ((rc = read_stats(self, &s)) != CDS_OK)
        return rc;
    /* The aggregator processed everything <= after; say so only when no
     * row of ours below it is still waiting to be probed. */
    if (after > m.acked_seq && (s.depth == 0 || (uint64_t)s.first > after))
        rc = write_acked(self, after, head_after, m.last_ack_at_ms);
    return rc;
}

int
outbox_renumber(outbox_t *self, uint64_t from, uint64_t after,
                const uint8_t head_after[CDS_HASH_BYTES], uint64_t *count)
{
    *count = 0;
    int rc = injected(self, "renumber");
    if (rc == CDS_OK)
        rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = renumber_rows(self, from, after, head_after, count);
    if (rc == CDS_OK)
        rc = cds_db_commit(self->db);
    else
        cds_db_rollback(self->db);
    if (rc != CDS_OK)
        *count = 0;
    return rc;
}

uint64_t
outbox_first_pending(outbox_t *self)
{
    stats_t s;
    if (read_stats(self, &s) != CDS_OK)
        return 0;
    return s.depth > 0 ? (uint64_t)s.first : 0;
}

int64_t
outbox_depth(outbox_t *self)
{
    stats_t s;
    return read_stats(self, &s) == CDS_OK ? s.depth : -1;
}

void
outbox_release_memory(outbox_t *self)
{
    cds_db_release_memory(self->db);
}

int64_t
outbox_oldest_age_ms(outbox_t *self, uint64_t now_ms)
{
    stats_t s;
    if (read_stats(self, &s) != CDS_OK)
        return -1;
    if (s.depth == 0 || (uint64_t)s.oldest_ms > now_ms)
        return 0;
    return (int64_t)(now_ms - (uint64_t)s.oldest_ms);
}

int64_t
outbox_bytes_pending(outbox_t *self)
{
    stats_t s;
    return read_stats(self, &s) == CDS_OK ? s.bytes : -1;
}

int
outbox_set_conn(outbox_t *self, const char *state, const char *error,
                uint64_t now_ms)
{
    if (!self->conn_cached) {
        outbox_meta_t m;
        int rc = outbox_meta(self, &m);
        if (rc != CDS_OK)
            return rc;
        snprintf(self->conn_state, sizeof self->conn_state, "%s",
                 m.conn_state);
        snprintf(self->last_error, sizeof self->last_error, "%s",
                 m.last_error);
        self->conn_cached = true;
    }
    bool new_state = strcmp(state, self->conn_state) != 0;
    bool new_error = error && *error && strcmp(error, self->last_error) != 0;
    if (!new_state && !new_error)
        return CDS_OK;     /* nothing changed: no write amplification */
    outbox_meta_t m;
    int rc = injected(self, "conn");
    if (rc == CDS_OK)
        rc = outbox_meta(self, &m);
    if (rc != CDS_OK)
        return rc;
    sqlite3_stmt *st = self->st[ST_META_SET_CONN];
    cds_bind_text(st, ":state", state);
    cds_bind_int64(st, ":changed_at",
                   (int64_t)(new_state ? now_ms : m.conn_changed_at_ms));
    cds_bind_text(st, ":error", new_error ? error : m.last_error);
    cds_bind_int64(st, ":error_at",
                   (int64_t)(new_error ? now_ms : m.last_error_at_ms));
    rc = step_done(self, st, "outbox: write connection state");
    if (rc == CDS_OK) {
        snprintf(self->conn_state, sizeof self->conn_state, "%s", state);
        if (new_error)
            snprintf(self->last_error, sizeof self->last_error, "%s", error);
    }
    return rc;
}

int
outbox_rejected_list(outbox_t *self, outbox_rejected_fn fn, void *arg)
{
    sqlite3_stmt *st = self->st[ST_REJECTED_LIST];
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        outbox_rejected_t r;
        memset(&r, 0, sizeof r);
        r.u.seq = (uint64_t)sqlite3_column_int64(st, 0);
        r.u.org_unit = (const char *)sqlite3_column_text(st, 1);
        r.u.indicator = (const char *)sqlite3_column_text(st, 2);
        r.u.period = (const char *)sqlite3_column_text(st, 3);
        r.u.disagg = (const char *)sqlite3_column_text(st, 4);
        r.u.value = (const char *)sqlite3_column_text(st, 5);
        r.u.deleted = sqlite3_column_int(st, 6) != 0;
        r.u.comment = (const char *)sqlite3_column_text(st, 7);
        r.u.stored_by = (const char *)sqlite3_column_text(st, 8);
        r.u.followup = sqlite3_column_int(st, 9) != 0;
        r.u.hlc = (uint64_t)sqlite3_column_int64(st, 10);
        r.code = sqlite3_column_int(st, 11);
        r.field = (const char *)sqlite3_column_text(st, 12);
        r.message = (const char *)sqlite3_column_text(st, 13);
        r.rejected_at_ms = (uint64_t)sqlite3_column_int64(st, 14);
        stop = fn(&r, arg);
    }
    if (stop)
        rc = stop;
    else if (rc == SQLITE_DONE)
        rc = CDS_OK;
    else
        rc = cds_db_fail(self->db, "outbox: list rejected");
    cds_stmt_done(st);
    return rc;
}

int
outbox_receipts_list(outbox_t *self, outbox_receipt_fn fn, void *arg)
{
    sqlite3_stmt *st = self->st[ST_RECEIPTS_LIST];
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        outbox_receipt_t r;
        const unsigned char *msg = sqlite3_column_text(st, 5);
        r.first_seq = (uint64_t)sqlite3_column_int64(st, 0);
        r.last_seq = (uint64_t)sqlite3_column_int64(st, 1);
        r.acked_seq = (uint64_t)sqlite3_column_int64(st, 2);
        r.status = sqlite3_column_int(st, 3);
        r.error = sqlite3_column_int(st, 4);
        r.message = msg ? (const char *)msg : "";
        r.committed_at_ms = (uint64_t)sqlite3_column_int64(st, 6);
        r.received_at_ms = (uint64_t)sqlite3_column_int64(st, 7);
        r.envelope = sqlite3_column_blob(st, 8);
        r.envelope_len = (size_t)sqlite3_column_bytes(st, 8);
        r.id = sqlite3_column_int64(st, 9);
        stop = fn(&r, arg);
    }
    if (stop)
        rc = stop;
    else if (rc == SQLITE_DONE)
        rc = CDS_OK;
    else
        rc = cds_db_fail(self->db, "outbox: list receipts");
    cds_stmt_done(st);
    return rc;
}

/* ---- kept batches -------------------------------------------------------- */

void
outbox_set_keep(outbox_t *self, uint64_t keep_ms, uint64_t max_bytes)
{
    self->keep_ms = keep_ms;
    self->keep_max_bytes = max_bytes;
}

int
outbox_keep_batches(outbox_t *self, const outbox_kept_t *kept, size_t n,
                    uint64_t now_ms)
{
    int rc = injected(self, "keep");
    if (rc == CDS_OK)
        rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = keep_rows(self, kept, n, UINT64_MAX / 2, 0, now_ms);
    if (rc == CDS_OK)
        return cds_db_commit(self->db);
    cds_db_rollback(self->db);
    return rc;
}

int
outbox_kept_prune(outbox_t *self, uint64_t now_ms, uint64_t keep_ms,
                  uint64_t max_bytes, uint64_t *pruned)
{
    if (pruned)
        *pruned = 0;
    int rc = injected(self, "prune");
    if (rc == CDS_OK)
        rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = prune_rows(self, now_ms, keep_ms, max_bytes, pruned);
    if (rc == CDS_OK)
        rc = cds_db_commit(self->db);
    else
        cds_db_rollback(self->db);
    if (rc != CDS_OK && pruned)
        *pruned = 0;
    return rc;
}

/* A kept batch from a statement with OUTBOX_SQL_KEPT_COLUMNS (envelope
 * borrowed from the statement). */
static void
kept_from_stmt(sqlite3_stmt *st, outbox_kept_t *k)
{
    k->first_seq = (uint64_t)sqlite3_column_int64(st, 0);
    k->last_seq = (uint64_t)sqlite3_column_int64(st, 1);
    k->envelope = sqlite3_column_blob(st, 2);
    k->envelope_len = (size_t)sqlite3_column_bytes(st, 2);
    k->sent_at_ms = (uint64_t)sqlite3_column_int64(st, 3);
    k->acked_at_ms = (uint64_t)sqlite3_column_int64(st, 4);
}

int
outbox_kept_list(outbox_t *self, uint64_t from, uint64_t to,
                 outbox_kept_fn fn, void *arg)
{
    sqlite3_stmt *st = self->st[ST_KEPT_RANGE];
    int rc, stop = 0;
    cds_bind_int64(st, ":from", (int64_t)from);
    cds_bind_int64(st, ":to", (int64_t)(to > INT64_MAX ? INT64_MAX : to));
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        outbox_kept_t k;
        kept_from_stmt(st, &k);
        stop = fn(&k, arg);
    }
    if (stop)
        rc = stop;
    else if (rc == SQLITE_DONE)
        rc = CDS_OK;
    else
        rc = cds_db_fail(self->db, "outbox: list kept batches");
    cds_stmt_done(st);
    return rc;
}

int
outbox_kept_at(outbox_t *self, uint64_t seq, outbox_kept_t *out)
{
    sqlite3_stmt *st = self->st[ST_KEPT_AT];
    memset(out, 0, sizeof *out);
    cds_bind_int64(st, ":seq", (int64_t)seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        outbox_kept_t k;
        kept_from_stmt(st, &k);
        uint8_t *copy = malloc(k.envelope_len ? k.envelope_len : 1);
        if (copy) {
            memcpy(copy, k.envelope, k.envelope_len);
            *out = k;
            out->envelope = copy;
        }
        rc = copy ? CDS_OK : CDS_ENOMEM;
    } else if (rc == SQLITE_DONE) {
        rc = CDS_ENOTFOUND;
    } else {
        rc = cds_db_fail(self->db, "outbox: kept batch at");
    }
    cds_stmt_done(st);
    return rc;
}

void
outbox_kept_free(outbox_kept_t *k)
{
    if (!k)
        return;
    free((void *)k->envelope);
    k->envelope = NULL;
    k->envelope_len = 0;
}

/* First seq of the kept batch holding seq that starts lowest; 0 none. */
static uint64_t
kept_lowest_at(outbox_t *self, uint64_t seq)
{
    sqlite3_stmt *st = self->st[ST_KEPT_LOWEST_AT];
    cds_bind_int64(st, ":seq", (int64_t)seq);
    uint64_t first = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        first = (uint64_t)sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        cds_db_fail(self->db, "outbox: kept batch lowest at");
    cds_stmt_done(st);
    return first;
}

uint64_t
outbox_kept_from(outbox_t *self, uint64_t acked_seq)
{
    uint64_t from = 0, s = acked_seq;
    while (s > 0) {
        uint64_t first = kept_lowest_at(self, s);
        if (!first)
            break;
        from = first;
        s = first - 1;
    }
    return from;
}

int
outbox_kept_stats(outbox_t *self, outbox_kept_stats_t *out)
{
    sqlite3_stmt *st = self->st[ST_KEPT_STATS];
    memset(out, 0, sizeof *out);
    if (sqlite3_step(st) != SQLITE_ROW) {
        int rc = cds_db_fail(self->db, "outbox: kept stats");
        cds_stmt_done(st);
        return rc ? rc : CDS_ERROR;
    }
    out->count = (uint64_t)sqlite3_column_int64(st, 0);
    out->first_seq = (uint64_t)sqlite3_column_int64(st, 1);
    out->last_seq = (uint64_t)sqlite3_column_int64(st, 2);
    out->bytes = (uint64_t)sqlite3_column_int64(st, 3);
    out->oldest_acked_at_ms = (uint64_t)sqlite3_column_int64(st, 4);
    cds_stmt_done(st);
    return CDS_OK;
}

int
outbox_carried_add(outbox_t *self, uint64_t first, uint64_t last,
                   size_t batches, size_t kept, const char *file,
                   uint64_t now_ms)
{
    int rc = injected(self, "carried");
    if (rc != CDS_OK)
        return rc;
    sqlite3_stmt *st = self->st[ST_CARRIED_ADD];
    cds_bind_int64(st, ":first", (int64_t)first);
    cds_bind_int64(st, ":last", (int64_t)last);
    cds_bind_int64(st, ":batches", (int64_t)batches);
    cds_bind_int64(st, ":kept", (int64_t)kept);
    cds_bind_text(st, ":file", file);
    cds_bind_int64(st, ":now", (int64_t)now_ms);
    return step_done(self, st, "outbox: record export");
}

int
outbox_carried_open(outbox_t *self, outbox_carried_t *out)
{
    sqlite3_stmt *st = self->st[ST_CARRIED_OPEN];
    memset(out, 0, sizeof *out);
    if (sqlite3_step(st) != SQLITE_ROW) {
        int rc = cds_db_fail(self->db, "outbox: exports");
        cds_stmt_done(st);
        return rc ? rc : CDS_ERROR;
    }
    out->exports = (uint64_t)sqlite3_column_int64(st, 0);
    out->first_seq = (uint64_t)sqlite3_column_int64(st, 1);
    out->last_seq = (uint64_t)sqlite3_column_int64(st, 2);
    column_text(st, 3, out->file, sizeof out->file);
    out->at_ms = (uint64_t)sqlite3_column_int64(st, 4);
    cds_stmt_done(st);
    return CDS_OK;
}

int
outbox_pending_of(outbox_t *self, const char *org_unit, const char *period,
                  void (*fn)(void *arg, const char *indicator,
                             const char *value, bool deleted),
                  void *arg)
{
    sqlite3_stmt *st = cds_db_prepare(self->db, OUTBOX_SQL_PENDING_OF);
    if (!st)
        return cds_db_fail(self->db, "outbox: pending of");
    cds_bind_text(st, ":ou", org_unit);
    cds_bind_text(st, ":pe", period);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, (const char *) sqlite3_column_text(st, 0),
           (const char *) sqlite3_column_text(st, 1),
           sqlite3_column_int(st, 2) != 0);
    rc = rc == SQLITE_DONE ? CDS_OK : cds_db_fail(self->db,
                                                  "outbox: pending of");
    sqlite3_finalize(st);
    return rc;
}

/* ---- Held values (outbox.h "Held values") ------------------------------ */

/* Inside the transaction: move one pending row into held. */
static int
hold_row(outbox_t *self, const outbox_hold_t *h, uint64_t version,
         uint64_t now_ms)
{
    sqlite3_stmt *st = self->st[ST_HOLD];
    cds_bind_int64(st, ":seq", (int64_t)h->seq);
    cds_bind_int64(st, ":v", (int64_t)version);
    cds_bind_int64(st, ":code", h->code);
    cds_bind_text(st, ":field", h->field ? h->field : "");
    cds_bind_text(st, ":message", h->message ? h->message : "");
    cds_bind_text(st, ":suggestion", h->suggestion ? h->suggestion : "");
    cds_bind_int64(st, ":now", (int64_t)now_ms);
    int rc = step_done(self, st, "outbox: hold");
    if (rc != CDS_OK)
        return rc;
    if (sqlite3_changes(cds_db_handle(self->db)) != 1)
        return CDS_ENOTFOUND;
    st = self->st[ST_UNQUEUE];
    cds_bind_int64(st, ":seq", (int64_t)h->seq);
    return step_done(self, st, "outbox: unqueue held");
}

/* Inside the transaction: close the gaps the held rows left. The rows
 * from `from` on follow from - 1 again (the aggregator has seen nothing
 * past acked_seq: outbox_recheck_commit's contract), last_seq/last_head
 * follow the last row. */
static int
close_gaps(outbox_t *self, uint64_t from)
{
    outbox_meta_t m;
    uint8_t head[CDS_HASH_BYTES];
    uint64_t count = 0;
    int rc = outbox_meta(self, &m);
    if (rc == CDS_OK)
        rc = outbox_head_at(self, from - 1, head);
    if (rc != CDS_OK)
        return rc;
    uint8_t after_head[CDS_HASH_BYTES];
    memcpy(after_head, head, sizeof head);
    sqlite3_stmt *park = self->st[ST_PARK];
    cds_bind_int64(park, ":from", (int64_t)from);
    if ((rc = step_done(self, park, "outbox: hold park")) != CDS_OK)
        return rc;
    if ((rc = move_parked(self, from - 1, head, &count)) != CDS_OK)
        return rc;
    return write_last(self, from - 1 + count, count ? head : after_head,
                      m.hlc_last);
}

/* Inside the transaction: a held row back at the end of the chain, its
 * content and stamp unchanged; out of held. */
static int
release_row(outbox_t *self, int64_t id, uint64_t now_ms)
{
    sqlite3_stmt *get = self->st[ST_HELD_GET];
    outbox_row_t row;
    outbox_meta_t m;
    cds_bind_int64(get, ":id", id);
    int rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? CDS_ENOTFOUND
                               : cds_db_fail(self->db, "outbox: held read");
        cds_stmt_done(get);
        return rc;
    }
    rc = row_from_stmt(get, &row);
    cds_stmt_done(get);
    if (rc != 0)
        return CDS_ENOMEM;
    rc = outbox_meta(self, &m);
    uint8_t hash[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    row.u.seq = m.last_seq + 1;
    cds_update_hash(&row.u, hash);
    cds_chain_next(m.last_head, hash, head);
    if (rc == CDS_OK)
        rc = insert_row(self, &row.u, row.source, hash, head, now_ms,
                        row.stamp_offset_ms);
    if (rc == CDS_OK)
        rc = write_last(self, row.u.seq, head, m.hlc_last);
    free(row.strs);
    sqlite3_stmt *del = self->st[ST_HELD_DELETE];
    cds_bind_int64(del, ":id", id);
    return rc == CDS_OK ? step_done(self, del, "outbox: release") : rc;
}

static int
recheck_rows(outbox_t *self, const outbox_hold_t *hold, size_t n_hold,
             const int64_t *release, size_t n_release, uint64_t version,
             uint64_t now_ms)
{
    int rc = CDS_OK;
    uint64_t from = 0;
    for (size_t i = 0; i < n_hold && rc == CDS_OK; i++) {
        rc = hold_row(self, &hold[i], version, now_ms);
        if (!from || hold[i].seq < from)
            from = hold[i].seq;
    }
    if (rc == CDS_OK && from)
        rc = close_gaps(self, from);
    for (size_t i = 0; i < n_release && rc == CDS_OK; i++)
        rc = release_row(self, release[i], now_ms);
    if (rc == CDS_OK) {
        sqlite3_stmt *st = self->st[ST_META_SET_CHECKED];
        cds_bind_int64(st, ":v", (int64_t)version);
        rc = step_done(self, st, "outbox: pending checked");
    }
    return rc;
}

int
outbox_recheck_commit(outbox_t *self, const outbox_hold_t *hold,
                      size_t n_hold, const int64_t *release,
                      size_t n_release, uint64_t version, uint64_t now_ms)
{
    int rc = injected(self, "recheck");
    if (rc == CDS_OK)
        rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = recheck_rows(self, hold, n_hold, release, n_release, version,
                      now_ms);
    if (rc == CDS_OK)
        return cds_db_commit(self->db);
    cds_db_rollback(self->db);
    return rc;
}

int
outbox_held_list(outbox_t *self, outbox_held_fn fn, void *arg)
{
    sqlite3_stmt *st = self->st[ST_HELD_LIST];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        outbox_row_t row;
        if (row_from_stmt(st, &row) != 0) {
            cds_stmt_done(st);
            return CDS_ENOMEM;
        }
        outbox_held_t h = {
            .row = &row,
            /* after OUTBOX_SQL_COLUMNS (19 columns) */
            .id = sqlite3_column_int64(st, 19),
            .version = (uint64_t)sqlite3_column_int64(st, 20),
            .code = sqlite3_column_int(st, 21),
            .field = (const char *)sqlite3_column_text(st, 22),
            .message = (const char *)sqlite3_column_text(st, 23),
            .suggestion = (const char *)sqlite3_column_text(st, 24),
            .held_at_ms = (uint64_t)sqlite3_column_int64(st, 25),
        };
        int r = fn(&h, arg);
        free(row.strs);
        if (r != 0) {
            cds_stmt_done(st);
            return r;
        }
    }
    rc = rc == SQLITE_DONE ? CDS_OK : cds_db_fail(self->db, "outbox: held");
    cds_stmt_done(st);
    return rc;
}

int
outbox_held_withdraw(outbox_t *self, int64_t id)
{
    int rc = injected(self, "withdraw");
    if (rc != CDS_OK)
        return rc;
    sqlite3_stmt *st = self->st[ST_HELD_DELETE];
    cds_bind_int64(st, ":id", id);
    rc = step_done(self, st, "outbox: withdraw");
    if (rc == CDS_OK && sqlite3_changes(cds_db_handle(self->db)) != 1)
        rc = CDS_ENOTFOUND;
    return rc;
}
