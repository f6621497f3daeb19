/*  health: see health.h. Statements in health_sql.h. */
#include "health.h"

#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "health_sql.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Its schema step (store.h; store.c lists it in version order). */
const char health_migration[] = HEALTH_SQL_MIGRATION;
const char health_pg_schema[] = HEALTH_SQL_PG_SCHEMA;  /* store.h */
const char health_metadata_migration[] = HEALTH_VERSION_SQL_MIGRATION;
const char health_metadata_pg_schema[] = HEALTH_VERSION_SQL_PG_SCHEMA;

#define HOUR_MS (3600u * 1000u)
#define DAY_MS (24u * HOUR_MS)

enum {
    ST_BATCH, ST_HEARTBEAT, ST_REFUSED, ST_RETRIED, ST_BUCKET, ST_PRUNE,
    ST_BY_CODE, ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    [ST_BATCH] = HEALTH_SQL_BATCH,
    [ST_HEARTBEAT] = HEALTH_SQL_HEARTBEAT,
    [ST_REFUSED] = HEALTH_SQL_REFUSED,
    [ST_RETRIED] = HEALTH_SQL_RETRIED,
    [ST_BUCKET] = HEALTH_SQL_BUCKET,
    [ST_PRUNE] = HEALTH_SQL_PRUNE,
    [ST_BY_CODE] = HEALTH_SQL_REFUSED_BY_CODE,
};

static const char *const state_names[HEALTH__COUNT] = {
    "OK", "SKEWED", "LAGGING", "REJECTING", "SILENT", "AHEAD", "REVOKED",
};

/* One agent's heartbeats held in memory until health_flush. */
typedef struct {
    int64_t agent_id;
    uint64_t seen_ms;                  /* last verified message held */
    uint64_t count;                    /* heartbeats held; 0: seen only */
    uint64_t hb_ms;                    /* the last heartbeat's arrival */
    int64_t depth, oldest, bytes, acked, errors; /* clamped wire values */
    char version[32];
    int64_t metadata_version;          /* Heartbeat.metadata_version */
    bool has_offset;                   /* it carried clock_ms, and no */
    int64_t offset_ms;                 /*   batch's offset came later */
} held_t;

struct health {
    store_t *store;                    /* borrowed: agent.last_seen_ms */
    cds_sql_t *db;                     /* borrowed from the store */
    cds_sql_stmt_t *st[ST__COUNT];       /* prepared once */
    cds_sql_stmt_t *list;              /* HEALTH_SQL_LIST: reads agent,
                                        * so through store_read, once */
    int64_t pruned_bucket;             /* buckets before this are gone */
    zhashx_t *held;                    /* agent id text -> held_t, lazy */
    uint64_t held_since_ms;            /* arrival of the oldest held */
    uint64_t flush_ms;                 /* hold at most this long */
};

health_t *
health_new(store_t *store)
{
    health_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->db = store_sql(store);
    self->flush_ms = HEALTH_FLUSH_MS_DEFAULT;
    for (int i = 0; i < ST__COUNT; i++) {
        self->st[i] = cds_sql_prepare(self->db, sql_text[i],
                                      CDS_SQL_PERSIST);
        if (!self->st[i]) {
            health_destroy(&self);
            return NULL;
        }
    }
    if (!(self->list = store_read(store, HEALTH_SQL_LIST,
                                  HEALTH_SQL_LIST_PG)))
        health_destroy(&self);
    return self;
}

void
health_destroy(health_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        cds_sql_finalize(&(*self_p)->st[i]);
    cds_sql_finalize(&(*self_p)->list);
    zhashx_destroy(&(*self_p)->held);
    free(*self_p);
    *self_p = NULL;
}

void
health_thresholds_default(health_thresholds_t *th)
{
    th->silent_after_ms = 5u * 60u * 1000u;
    th->lagging_after_ms = HOUR_MS;
    th->rejecting_ratio = 0.5;
    th->rejecting_min = 5;
    th->skewed_after_ms = 5u * 60u * 1000u;
    th->metadata_behind_after_ms = DAY_MS;
}

const char *
health_state_name(health_state_t s)
{
    return (unsigned) s < HEALTH__COUNT ? state_names[s] : "UNKNOWN";
}

int
health_severity(health_state_t s)
{
    return s >= HEALTH_SILENT ? 2 : s > HEALTH_OK ? 1 : 0;
}

/* ---- writes (caller's transaction) ------------------------------------ */

/* Run st, which returns no row, and reset it (a failure is logged by
 * cds_sql with the SQL). */
static int
step_done(cds_sql_stmt_t *st)
{
    int code = cds_sql_run(st);
    cds_sql_reset(st);
    return code;
}

int64_t
health_bucket_cutoff(uint64_t now_ms)
{
    return (int64_t) (now_ms / HEALTH_BUCKET_MS)
           - (int64_t) (DAY_MS / HEALTH_BUCKET_MS) - 1;
}

/* Add counts to the current bucket; drop buckets older than a day once
 * per bucket period (a primary-key range delete). */
static int
bucket_add(health_t *self, int64_t agent_id, uint64_t now_ms, uint64_t acc,
           uint64_t rej, uint64_t ref)
{
    int64_t bucket = (int64_t) (now_ms / HEALTH_BUCKET_MS);
    cds_sql_stmt_t *st = self->st[ST_BUCKET];
    cds_sql_bind_int64(st, ":id", agent_id);
    cds_sql_bind_int64(st, ":bucket", bucket);
    cds_sql_bind_int64(st, ":acc", (int64_t) acc);
    cds_sql_bind_int64(st, ":rej", (int64_t) rej);
    cds_sql_bind_int64(st, ":ref", (int64_t) ref);
    int rc = step_done(st);
    int64_t before = health_bucket_cutoff(now_ms);
    if (rc == CDS_OK && before > self->pruned_bucket) {
        cds_sql_bind_int64(self->st[ST_PRUNE], ":before", before);
        rc = step_done(self->st[ST_PRUNE]);
        if (rc == CDS_OK)
            self->pruned_bucket = before;
    }
    return rc;
}

/* A batch's clock offset is newer than the held heartbeat's: the flush
 * must not overwrite it. */
static void
forget_held_offset(health_t *self, int64_t agent_id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, agent_id);
    held_t *h = self->held ? zhashx_lookup(self->held, key) : NULL;
    if (h)
        h->has_offset = false;
}

int
health_note_batch(health_t *self, int64_t agent_id, uint64_t now_ms,
                  uint64_t applied, uint64_t rejected, int last_code,
                  const char *last_message, uint64_t inferred_lag_ms,
                  bool has_offset, int64_t clock_offset_ms)
{
    cds_sql_stmt_t *st = self->st[ST_BATCH];
    if (has_offset) {
        cds_sql_bind_int64(st, ":offset", clock_offset_ms);
        forget_held_offset(self, agent_id);   /* newer than a held one */
    }
    cds_sql_bind_int64(st, ":id", agent_id);
    cds_sql_bind_int64(st, ":now", (int64_t) now_ms);
    cds_sql_bind_int64(st, ":acc", (int64_t) applied);
    cds_sql_bind_int64(st, ":rej", (int64_t) rejected);
    cds_sql_bind_int64(st, ":lag", (int64_t) inferred_lag_ms);
    if (last_code) {
        cds_sql_bind_int64(st, ":code", last_code);
        cds_sql_bind_text(st, ":msg", last_message ? last_message : "");
    } else {
        cds_sql_bind_null(st, ":code");
        cds_sql_bind_null(st, ":msg");
    }
    int rc = step_done(st);
    return rc == CDS_OK ? bucket_add(self, agent_id, now_ms, applied,
                                     rejected, 0)
                        : rc;
}

/* ---- heartbeats held in memory (health.h "Heartbeats") ---------------- */

static void
held_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* The held entry of agent_id, created empty; NULL when out of memory. */
static held_t *
held_get(health_t *self, int64_t agent_id, uint64_t now_ms)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, agent_id);
    if (!self->held) {
        self->held = zhashx_new();
        if (!self->held)
            return NULL;
        zhashx_set_destructor(self->held, held_free);
    }
    held_t *h = zhashx_lookup(self->held, key);
    if (h)
        return h;
    h = calloc(1, sizeof *h);
    if (!h || zhashx_insert(self->held, key, h) != 0) {
        free(h);
        return NULL;
    }
    h->agent_id = agent_id;
    if (zhashx_size(self->held) == 1)
        self->held_since_ms = now_ms;
    return h;
}

static int64_t
clamp64(uint64_t v)
{
    return (int64_t) (v < (uint64_t) INT64_MAX ? v : (uint64_t) INT64_MAX);
}

int
health_note_seen(health_t *self, int64_t agent_id, uint64_t now_ms)
{
    held_t *h = held_get(self, agent_id, now_ms);
    if (!h)
        return CDS_ENOMEM;
    if (now_ms > h->seen_ms)
        h->seen_ms = now_ms;
    return CDS_OK;
}

int
health_note_heartbeat(health_t *self, int64_t agent_id, uint64_t now_ms,
                      const Cdsync__Heartbeat *hb)
{
    held_t *h = held_get(self, agent_id, now_ms);
    if (!h)
        return CDS_ENOMEM;
    /* Wire values are untrusted: clamped into int64 before storing. */
    h->count++;
    h->hb_ms = now_ms;
    if (now_ms > h->seen_ms)
        h->seen_ms = now_ms;
    h->depth = clamp64(hb->queue_depth);
    h->oldest = clamp64(hb->oldest_pending_ms);
    h->bytes = clamp64(hb->bytes_pending);
    h->acked = clamp64(hb->acked_seq);
    h->errors = hb->send_errors;
    snprintf(h->version, sizeof h->version, "%s",
             hb->agent_version ? hb->agent_version : "");
    if (!cds_utf8_valid(h->version, strlen(h->version)))
        snprintf(h->version, sizeof h->version, "?");
    h->metadata_version = clamp64(hb->metadata_version);
    int64_t clock = clamp64(hb->clock_ms);
    if (clock) {               /* 0: not sent; keep what we had */
        h->has_offset = true;
        h->offset_ms = clock - (int64_t) now_ms;
    }
    return CDS_OK;
}

/* One held entry into the open transaction. */
static int
write_held(health_t *self, const held_t *h)
{
    int rc = store_agent_seen_max(self->store, h->agent_id,
                                  (int64_t) h->seen_ms);
    if (rc != CDS_OK || h->count == 0)
        return rc;
    cds_sql_stmt_t *st = self->st[ST_HEARTBEAT];
    cds_sql_bind_int64(st, ":id", h->agent_id);
    cds_sql_bind_int64(st, ":now", (int64_t) h->hb_ms);
    cds_sql_bind_int64(st, ":depth", h->depth);
    cds_sql_bind_int64(st, ":oldest", h->oldest);
    cds_sql_bind_int64(st, ":bytes", h->bytes);
    cds_sql_bind_int64(st, ":acked", h->acked);
    cds_sql_bind_int64(st, ":errors", h->errors);
    cds_sql_bind_text(st, ":version", h->version);
    cds_sql_bind_int64(st, ":metadata", h->metadata_version);
    if (h->has_offset)
        cds_sql_bind_int64(st, ":offset", h->offset_ms);
    cds_sql_bind_int64(st, ":count", clamp64(h->count));
    return step_done(st);
}

int
health_flush(health_t *self)
{
    if (!self->held || zhashx_size(self->held) == 0)
        return CDS_OK;
    int rc = cds_sql_begin(self->db);
    for (held_t *h = rc == CDS_OK ? zhashx_first(self->held) : NULL;
         h && rc == CDS_OK; h = zhashx_next(self->held))
        rc = write_held(self, h);
    if (rc == CDS_OK)
        rc = cds_sql_commit(self->db);
    if (rc != CDS_OK) {        /* kept: written at the next flush, */
        cds_sql_rollback(self->db);
        self->held_since_ms = cds_now_ms();  /* flush_ms from now */
        cds_log(CDS_LOG_WARN, "heartbeats_not_written", "agents=%zu "
                "reason=%s", zhashx_size(self->held), cds_strerror(rc));
        return rc;
    }
    zhashx_purge(self->held);
    return CDS_OK;
}

size_t
health_held(const health_t *self)
{
    return self->held ? zhashx_size(self->held) : 0;
}

long
health_flush_due_ms(const health_t *self, uint64_t now_ms)
{
    if (health_held(self) == 0)
        return -1;
    uint64_t due = self->held_since_ms + self->flush_ms;
    /* a clock set back must not hold heartbeats for as long */
    if (now_ms >= due || now_ms < self->held_since_ms)
        return 0;
    return (long) (due - now_ms);
}

void
health_set_flush_ms(health_t *self, uint64_t ms)
{
    self->flush_ms = ms;
}

int
health_note_refused(health_t *self, int64_t agent_id, uint64_t now_ms,
                    int code, const char *message)
{
    cds_sql_stmt_t *st = self->st[ST_REFUSED];
    cds_sql_bind_int64(st, ":id", agent_id);
    cds_sql_bind_int64(st, ":now", (int64_t) now_ms);
    cds_sql_bind_int64(st, ":code", code);
    cds_sql_bind_text(st, ":msg", message ? message : "");
    int rc = step_done(st);
    return rc == CDS_OK ? bucket_add(self, agent_id, now_ms, 0, 0, 1) : rc;
}

int
health_note_retried(health_t *self, int64_t agent_id, uint64_t now_ms)
{
    cds_sql_bind_int64(self->st[ST_RETRIED], ":id", agent_id);
    int rc = step_done(self->st[ST_RETRIED]);
    return rc == CDS_OK ? bucket_add(self, agent_id, now_ms, 1, 0, 0) : rc;
}

/* ---- reading ---------------------------------------------------------- */

static void
col_text(cds_sql_stmt_t *st, int i, char *buf, size_t len)
{
    const char *t = cds_sql_col_text(st, i);
    snprintf(buf, len, "%s", t ? t : "");
}

static uint64_t
col_u64(cds_sql_stmt_t *st, int i)
{
    int64_t v = cds_sql_col_int64(st, i);
    return v < 0 ? 0 : (uint64_t) v;
}

static void
read_row(cds_sql_stmt_t *st, health_agent_t *a)
{
    memset(a, 0, sizeof *a);
    a->id = cds_sql_col_int64(st, 0);
    col_text(st, 1, a->fpr, sizeof a->fpr);
    col_text(st, 2, a->label, sizeof a->label);
    a->enrolled_at_ms = cds_sql_col_int64(st, 3);
    a->revoked_at_ms = cds_sql_col_int64(st, 4);
    a->applied_seq = col_u64(st, 5);
    a->last_seen_ms = cds_sql_col_int64(st, 6);
    col_text(st, 7, a->commune, sizeof a->commune);
    col_text(st, 8, a->org_units, sizeof a->org_units);
    a->last_batch_ms = cds_sql_col_int64(st, 9);
    a->last_heartbeat_ms = cds_sql_col_int64(st, 10);
    a->queue_depth = col_u64(st, 11);
    a->oldest_pending_ms = col_u64(st, 12);
    a->bytes_pending = col_u64(st, 13);
    a->reported_acked_seq = col_u64(st, 14);
    a->send_errors = col_u64(st, 15);
    col_text(st, 16, a->version, sizeof a->version);
    a->clock_offset_ms = cds_sql_col_int64(st, 17);
    a->inferred_lag_ms = col_u64(st, 18);
    a->accepted_total = col_u64(st, 19);
    a->rejected_total = col_u64(st, 20);
    a->refused_total = col_u64(st, 21);
    a->batches_total = col_u64(st, 22);
    a->heartbeats_total = col_u64(st, 23);
    a->last_reject_code = cds_sql_col_int(st, 24);
    col_text(st, 25, a->last_reject_message, sizeof a->last_reject_message);
    a->last_reject_ms = cds_sql_col_int64(st, 26);
    a->accepted_hour = col_u64(st, 27);
    a->rejected_hour = col_u64(st, 28);
    a->accepted_day = col_u64(st, 29);
    a->rejected_day = col_u64(st, 30);
    a->metadata_version = col_u64(st, 31);
    a->metadata_latest = col_u64(st, 32);
    a->metadata_behind_since_ms = cds_sql_col_int64(st, 33);
}

static uint64_t
since(uint64_t now_ms, int64_t t)
{
    return t > 0 && (uint64_t) t < now_ms ? now_ms - (uint64_t) t : 0;
}

static uint64_t
offset_abs(const health_agent_t *a)
{
    return a->clock_offset_ms < 0 ? (uint64_t) -a->clock_offset_ms
                                  : (uint64_t) a->clock_offset_ms;
}

/* Behind the newest metadata version since when, how long, and the
 * alert (health.h "Metadata"): times of this aggregator's clock only. */
static void
classify_metadata(health_agent_t *a, const health_thresholds_t *th,
                  uint64_t now)
{
    if (a->revoked_at_ms || a->metadata_version >= a->metadata_latest) {
        a->metadata_behind_since_ms = 0;
        return;
    }
    if (a->metadata_behind_since_ms < a->enrolled_at_ms)
        a->metadata_behind_since_ms = a->enrolled_at_ms;
    a->metadata_behind_ms = since(now, a->metadata_behind_since_ms);
    a->metadata_alert = a->metadata_behind_ms > th->metadata_behind_after_ms;
}

/* The lag and state rules of health.h. */
static void
classify(health_agent_t *a, const health_thresholds_t *th, uint64_t now)
{
    if (a->last_batch_ms > a->last_heartbeat_ms)
        a->lag_ms = a->inferred_lag_ms;
    else if (a->last_heartbeat_ms && a->queue_depth > 0)
        a->lag_ms = a->oldest_pending_ms
                    + since(now, a->last_heartbeat_ms);
    else
        a->lag_ms = 0;
    int64_t seen = a->last_seen_ms ? a->last_seen_ms : a->enrolled_at_ms;
    uint64_t rej = a->rejected_hour, total = a->accepted_hour + rej;
    if (a->revoked_at_ms)
        a->state = HEALTH_REVOKED;
    else if (a->reported_acked_seq > a->applied_seq)
        a->state = HEALTH_AHEAD;       /* acked, yet not in the database */
    else if (since(now, seen) > th->silent_after_ms)
        a->state = HEALTH_SILENT;
    else if (rej > 0 && rej >= th->rejecting_min
             && (double) rej >= th->rejecting_ratio * (double) total)
        a->state = HEALTH_REJECTING;
    else if (a->lag_ms > th->lagging_after_ms)
        a->state = HEALTH_LAGGING;
    else if (offset_abs(a) > th->skewed_after_ms)
        a->state = HEALTH_SKEWED;
    else
        a->state = HEALTH_OK;
    classify_metadata(a, th, now);
}

static int
worst_first(const void *pa, const void *pb)
{
    const health_agent_t *a = pa, *b = pb;
    if (a->state != b->state)
        return a->state > b->state ? -1 : 1;
    if (a->lag_ms != b->lag_ms)
        return a->lag_ms > b->lag_ms ? -1 : 1;
    return strcmp(a->label, b->label);
}

int
health_list(health_t *self, const health_thresholds_t *th, uint64_t now_ms,
            health_agent_t **out, size_t *n)
{
    cds_sql_stmt_t *st = self->list;
    size_t cap = 0, k = 0;
    health_agent_t *list = NULL;
    int rc, code = CDS_OK;
    uint64_t hour = now_ms > HOUR_MS ? now_ms - HOUR_MS : 0;
    uint64_t day = now_ms > DAY_MS ? now_ms - DAY_MS : 0;
    cds_sql_bind_int64(st, ":hour", (int64_t) (hour / HEALTH_BUCKET_MS));
    cds_sql_bind_int64(st, ":day", (int64_t) (day / HEALTH_BUCKET_MS));
    /* Central corrections are signed by the aggregator itself: not a
     * commune, never silent or lagging, so not in the health list. */
    cds_sql_bind_text(st, ":central", STORE_CENTRAL_LABEL);
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            health_agent_t *p = realloc(list, ncap * sizeof *p);
            if (!p) {
                code = CDS_ENOMEM;
                break;
            }
            list = p;
            cap = ncap;
        }
        read_row(st, &list[k]);
        classify(&list[k], th, now_ms);
        k++;
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_reset(st);
    if (code != CDS_OK) {
        free(list);
        return code;
    }
    if (k > 1)
        qsort(list, k, sizeof *list, worst_first);
    *out = list;
    *n = k;
    return CDS_OK;
}

int
health_refused_by_code(health_t *self, uint64_t *counts, size_t n_counts)
{
    cds_sql_stmt_t *st = self->st[ST_BY_CODE];
    int rc;
    memset(counts, 0, n_counts * sizeof *counts);
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        int64_t code = cds_sql_col_int64(st, 0);
        if (code >= 0 && (uint64_t) code < n_counts)
            counts[code] = col_u64(st, 1);
    }
    int code = rc == CDS_SQL_DONE ? CDS_OK : rc;
    cds_sql_reset(st);
    return code;
}

int
health_worst(const health_agent_t *list, size_t n)
{
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int s = health_severity(list[i].state);
        if (list[i].metadata_alert && s < 1)
            s = 1;
        if (s > worst)
            worst = s;
    }
    return worst;
}

size_t
health_metadata_behind(const health_agent_t *list, size_t n, size_t *alerts)
{
    size_t behind = 0, alert = 0;
    for (size_t i = 0; i < n; i++) {
        behind += list[i].revoked_at_ms == 0
                  && list[i].metadata_version < list[i].metadata_latest;
        alert += list[i].metadata_alert;
    }
    if (alerts)
        *alerts = alert;
    return behind;
}

/* ---- output ----------------------------------------------------------- */

/* What to do about the state, for AHEAD (else ""), into buf. */
static const char *
fix_text(const health_agent_t *a, char *buf, size_t len)
{
    if (a->state != HEALTH_AHEAD)
        return "";
    snprintf(buf, len, "holds acks to seq %" PRIu64 ", database has "
             "%" PRIu64 ": stop the aggregator, run `cdsync-aggregator "
             "accept-restore --force --note TEXT`, start it",
             a->reported_acked_seq, a->applied_seq);
    return buf;
}

static json_t *
agent_json(const health_agent_t *a, uint64_t now)
{
    char fix[256];
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:s}",
        "agent", a->fpr, "label", a->label, "commune", a->commune,
        "org_units", a->org_units, "state", health_state_name(a->state),
        "severity", health_severity(a->state),
        "last_seen_ms", (json_int_t) a->last_seen_ms,
        "last_seen_age_ms", (json_int_t) since(now, a->last_seen_ms),
        "queue_depth", (json_int_t) a->queue_depth,
        "oldest_pending_ms", (json_int_t) a->oldest_pending_ms,
        "bytes_pending", (json_int_t) a->bytes_pending,
        "lag_ms", (json_int_t) a->lag_ms,
        "inferred_lag_ms", (json_int_t) a->inferred_lag_ms,
        "send_errors", (json_int_t) a->send_errors,
        "version", a->version,
        "metadata_version", (json_int_t) a->metadata_version,
        "metadata_latest", (json_int_t) a->metadata_latest,
        "metadata_behind_since_ms", (json_int_t) a->metadata_behind_since_ms,
        "metadata_behind_ms", (json_int_t) a->metadata_behind_ms,
        "metadata_alert", a->metadata_alert,
        "clock_offset_ms", (json_int_t) a->clock_offset_ms,
        "applied_seq", (json_int_t) a->applied_seq,
        "reported_acked_seq", (json_int_t) a->reported_acked_seq,
        "accepted_hour", (json_int_t) a->accepted_hour,
        "rejected_hour", (json_int_t) a->rejected_hour,
        "accepted_day", (json_int_t) a->accepted_day,
        "rejected_day", (json_int_t) a->rejected_day,
        "accepted_total", (json_int_t) a->accepted_total,
        "rejected_total", (json_int_t) a->rejected_total,
        "refused_total", (json_int_t) a->refused_total,
        "last_reject_code", (json_int_t) a->last_reject_code,
        "last_reject_reason",
        a->last_reject_code ? cds_strerror(a->last_reject_code) : "",
        "last_reject_message", a->last_reject_message,
        "last_reject_ms", (json_int_t) a->last_reject_ms,
        "fix", fix_text(a, fix, sizeof fix));
}

json_t *
health_to_json(const health_agent_t *list, size_t n, uint64_t now_ms)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = agent_json(&list[i], now_ms);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Print s padded to width terminal columns (Vietnamese names). */
static void
pad(FILE *out, const char *s, size_t width)
{
    fputs(s, out);
    for (size_t w = cds_utf8_width(s); w < width; w++)
        fputc(' ', out);
}

static void
lag_text(char *buf, size_t len, uint64_t ms)
{
    if (ms < 1000)
        snprintf(buf, len, "-");
    else if (ms < 120000)
        snprintf(buf, len, "%" PRIu64 " s", ms / 1000);
    else if (ms < 2 * HOUR_MS)
        snprintf(buf, len, "%" PRIu64 " min", ms / 60000);
    else
        snprintf(buf, len, "%" PRIu64 " h", ms / HOUR_MS);
}

enum { NCOL = 10 };

/* "clock 2 h 3 min ahead" / "behind"; "-" within a second. */
static void
clock_text(char *buf, size_t len, int64_t offset_ms)
{
    char span[48];
    uint64_t abs = offset_ms < 0 ? (uint64_t) -offset_ms
                                 : (uint64_t) offset_ms;
    if (abs < 1000) {
        snprintf(buf, len, "-");
        return;
    }
    /* to the nearest second: a 2 h offset measured 1 ms short is 2 h */
    snprintf(buf, len, "clock %s %s",
             cds_format_span(span, sizeof span, abs + 500),
             offset_ms < 0 ? "behind" : "ahead");
}

/* "2 (current)", "files, behind 3 h (current 2)", "1, behind 2 days 3 h:
 * ALERT (current 2)"; "-" when nothing is published. */
static void
metadata_text(char *buf, size_t len, const health_agent_t *a)
{
    char have[24], span[48];
    if (a->metadata_version)
        snprintf(have, sizeof have, "%" PRIu64, a->metadata_version);
    else
        snprintf(have, sizeof have, "files");
    if (!a->metadata_latest)
        snprintf(buf, len, "%s", a->metadata_version ? have : "-");
    else if (!a->metadata_behind_since_ms)
        snprintf(buf, len, "%s (current)", have);
    else
        snprintf(buf, len, "%s, behind %s%s (current %" PRIu64 ")", have,
                 cds_format_span(span, sizeof span, a->metadata_behind_ms),
                 a->metadata_alert ? ": ALERT" : "", a->metadata_latest);
}

static void
row_cells(const health_agent_t *a, uint64_t now, char cell[NCOL][300])
{
    const char *name = a->commune[0] ? a->commune : a->label;
    snprintf(cell[0], 300, "%s", name);
    snprintf(cell[1], 300, "%s", health_state_name(a->state));
    if (a->last_seen_ms)
        cds_format_age(cell[2], 300, since(now, a->last_seen_ms));
    else
        snprintf(cell[2], 300, "never");
    snprintf(cell[3], 300, "%" PRIu64, a->queue_depth);
    lag_text(cell[4], 300, a->lag_ms);
    snprintf(cell[5], 300, "%" PRIu64 "/h", a->rejected_hour);
    if (a->state == HEALTH_AHEAD)
        fix_text(a, cell[6], 300);
    else if (a->last_reject_code)
        snprintf(cell[6], 300, "%s: %.200s",
                 cds_strerror(a->last_reject_code), a->last_reject_message);
    else
        snprintf(cell[6], 300, "-");
    snprintf(cell[7], 300, "%s", a->fpr);
    clock_text(cell[8], 300, a->clock_offset_ms);
    metadata_text(cell[9], 300, a);
}

/* "24 h" for whole hours, else cds_format_span. */
static char *
span_text(char *buf, size_t len, uint64_t ms)
{
    if (ms && ms % HOUR_MS == 0) {
        snprintf(buf, len, "%" PRIu64 " h", ms / HOUR_MS);
        return buf;
    }
    return cds_format_span(buf, len, ms);
}

/* The summary line of the metadata versions (health.h health_print). */
static void
metadata_summary(FILE *out, const health_agent_t *list, size_t n,
                 const health_thresholds_t *th)
{
    size_t alerts = 0, behind = health_metadata_behind(list, n, &alerts);
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += list[i].revoked_at_ms == 0;
    uint64_t latest = n ? list[0].metadata_latest : 0;
    if (!latest) {
        fputs("metadata: no version published (agents use their "
              "configured files)\n", out);
        return;
    }
    fprintf(out, "metadata: current version %" PRIu64 "; ", latest);
    if (!behind) {
        fprintf(out, "all %zu agent%s on it\n", live, live == 1 ? "" : "s");
        return;
    }
    char span[48];
    fprintf(out, "%zu agent%s on it, %zu on an older version", live - behind,
            live - behind == 1 ? "" : "s", behind);
    if (alerts)
        fprintf(out, " (%zu behind for more than %s: ALERT)", alerts,
                span_text(span, sizeof span, th->metadata_behind_after_ms));
    fputc('\n', out);
}

void
health_print(FILE *out, const health_agent_t *list, size_t n,
             uint64_t now_ms, const health_thresholds_t *th)
{
    static const char *const head[NCOL] = {
        "COMMUNE", "STATE", "LAST SEEN", "QUEUE", "LAG", "REJECTS",
        "LAST REASON", "AGENT", "CLOCK", "METADATA"};
    static const int order[NCOL] = {0, 1, 2, 3, 4, 8, 9, 5, 7, 6};
    size_t w[NCOL];
    char cell[NCOL][300];
    for (int c = 0; c < NCOL; c++)
        w[c] = strlen(head[c]);
    for (size_t i = 0; i < n; i++) {
        row_cells(&list[i], now_ms, cell);
        for (int c = 0; c < NCOL; c++)
            if (cds_utf8_width(cell[c]) > w[c])
                w[c] = cds_utf8_width(cell[c]);
    }
    for (int k = 0; k < NCOL; k++)
        pad(out, head[order[k]], k == NCOL - 1 ? 0 : w[order[k]] + 2);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        row_cells(&list[i], now_ms, cell);
        for (int k = 0; k < NCOL; k++)
            pad(out, cell[order[k]], k == NCOL - 1 ? 0 : w[order[k]] + 2);
        fputc('\n', out);
    }
    metadata_summary(out, list, n, th);
}

/* ---- Nagios plugin output --------------------------------------------- */

/* s with '|' as '/' (it starts the perfdata) and control characters as
 * spaces (a line break would start a new output line). */
static void
nagios_text(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc(*s == '|' ? '/' : (unsigned char) *s < 0x20 ? ' ' : *s, out);
}

/* "silent" for HEALTH_SILENT: summary words and perfdata labels. */
static const char *
lower_name(char buf[16], health_state_t s)
{
    size_t i = 0;
    for (const char *c = state_names[s]; *c && i < 15; c++)
        buf[i++] = (char) (*c - 'A' + 'a');
    buf[i] = '\0';
    return buf;
}

static void
nagios_summary(FILE *out, const size_t count[HEALTH__COUNT], size_t n,
               size_t alerts)
{
    /* critical first; AHEAD (acked data missing here, after a restore)
     * and SILENT before REVOKED: a revocation was decided by an operator,
     * the others need one */
    static const health_state_t order[] = {
        HEALTH_AHEAD, HEALTH_SILENT, HEALTH_REVOKED, HEALTH_REJECTING, HEALTH_LAGGING,
        HEALTH_SKEWED };
    bool first = true;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        health_state_t s = order[i];
        if (!count[s])
            continue;
        char name[16];
        fprintf(out, "%s%zu %s", first ? "" : ", ", count[s],
                lower_name(name, s));
        first = false;
    }
    if (alerts) {                      /* a warning, after the states */
        fprintf(out, "%s%zu behind the current metadata version for too "
                "long", first ? "" : ", ", alerts);
        first = false;
    }
    if (first && n)
        fprintf(out, "%zu agent%s OK", n, n == 1 ? "" : "s");
    else if (first)
        fputs("no agent enrolled", out);
}

int
health_nagios(FILE *out, const health_agent_t *list, size_t n,
              uint64_t now_ms)
{
    static const char *const word[] = { "OK", "WARNING", "CRITICAL" };
    size_t count[HEALTH__COUNT] = { 0 };
    for (size_t i = 0; i < n; i++)
        count[(unsigned) list[i].state < HEALTH__COUNT ? list[i].state
                                                       : HEALTH_OK]++;
    int worst = health_worst(list, n);
    size_t alerts = 0;
    health_metadata_behind(list, n, &alerts);
    fprintf(out, "CDSYNC %s - ", word[worst]);
    nagios_summary(out, count, n, alerts);
    fputs(" |", out);
    char name[16];
    for (int s = 0; s < HEALTH__COUNT; s++)
        fprintf(out, " %s=%zu;;;", lower_name(name, (health_state_t) s),
                count[s]);
    fputc('\n', out);
    char cell[NCOL][300];
    for (size_t i = 0; i < n; i++) {
        row_cells(&list[i], now_ms, cell);
        fprintf(out, "%s: ", cell[1]);
        nagios_text(out, cell[0]);
        fprintf(out, " (%s) last seen %s, queue %s, lag %s, %s, "
                "rejects %s", cell[7], cell[2], cell[3], cell[4],
                strcmp(cell[8], "-") ? cell[8] : "clock in step", cell[5]);
        if (list[i].last_reject_code) {
            fputs(", last ", out);
            nagios_text(out, cell[6]);
        }
        fputc('\n', out);
    }
    return worst;
}

uint64_t
health_flush_ms_for(uint64_t silent_after_ms)
{
    uint64_t ms = HEALTH_FLUSH_MS_DEFAULT;
    return silent_after_ms / 4 < ms ? silent_after_ms / 4 : ms;
}

int
health_thresholds_parse(const cds_config_t *cfg, health_thresholds_t *th,
                        char *err, size_t errlen)
{
    static const char *const keys[] = {
        "aggregator.silent_after_ms", "aggregator.lagging_after_ms",
        "aggregator.rejecting_min", "aggregator.max_clock_skew_ms" };
    long v[4];
    char why[256];
    for (int i = 0; i < 4; i++)
        if (cds_config_get_long(cfg, keys[i], &v[i], why, sizeof why)
                != CDS_OK || v[i] < 0) {
            const char *got = cds_config_get(cfg, keys[i]);
            snprintf(err, errlen, "%s: \"%s\": expected a number >= 0",
                     keys[i] + strlen("aggregator."), got ? got : "");
            return CDS_EUSAGE;
        }
    long behind = (long) DAY_MS;       /* optional: the default */
    const char *b = cds_config_get(cfg, "aggregator.metadata_behind_after_ms");
    if (b && (cds_config_get_long(cfg, "aggregator.metadata_behind_after_ms",
                                  &behind, why, sizeof why) != CDS_OK
              || behind < 0)) {
        snprintf(err, errlen, "metadata_behind_after_ms: \"%s\": expected "
                 "a number >= 0", b);
        return CDS_EUSAGE;
    }
    const char *r = cds_config_get(cfg, "aggregator.rejecting_ratio");
    char *end = NULL;
    double ratio = r ? strtod(r, &end) : -1;
    if (!r || !*r || *end || !(ratio >= 0 && ratio <= 1)) {
        snprintf(err, errlen, "rejecting_ratio: \"%s\": expected 0..1",
                 r ? r : "");
        return CDS_EUSAGE;
    }
    *th = (health_thresholds_t) { .silent_after_ms = (uint64_t) v[0],
                                  .lagging_after_ms = (uint64_t) v[1],
                                  .rejecting_min = (uint64_t) v[2],
                                  .skewed_after_ms = (uint64_t) v[3],
                                  .metadata_behind_after_ms =
                                      (uint64_t) behind,
                                  .rejecting_ratio = ratio };
    return CDS_OK;
}
