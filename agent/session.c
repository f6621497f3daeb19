/*  session: see session.h. Every decision of the agent's protocol lives
 *  here; agent/sender.c only moves bytes and time into it. */
#include "session.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_failpoint.h"
#include "cds_log.h"
#include "cds_trace.h"
#include "cds_util.h"
#include "revocation.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CDS_VERSION
#include "cds_version.h"
#endif

typedef enum { S_HELLO, S_SENDING, S_BACKOFF, S_REVOKED } state_t;

/* Why we back off: how long, and what the operator sees. */
typedef enum { BO_LINK, BO_REFUSED, BO_LOCAL } bo_kind_t;

typedef struct {
    uint64_t first, last;              /* seq range of the batch */
    uint64_t id;                       /* its request id */
    uint64_t sent_mono, sent_wall;     /* ms: window, ack timeout, offset */
    uint8_t *env;                      /* the signed envelope as sent, kept
                                        * after its ack; NULL: not sealed
                                        * here (io.seal absent) */
    size_t env_len;
} flight_t;

struct session {
    session_config_t cfg;              /* strings borrowed */
    session_io_t io;                   /* injected clocks and send */
    uint8_t pk[CDS_PK_BYTES];          /* our signing key */
    outbox_t *outbox;                  /* borrowed */
    state_t state;                     /* see session.h */
    uint64_t next_id;                  /* next request id */
    uint64_t hello_id;                 /* outstanding Hello (S_HELLO) */
    uint64_t hello_mono, hello_wall;   /* when it left */
    bool probing;                      /* that Hello carries a probe */
    bool retry_probe;                  /* after BACKOFF: probe again */
    uint64_t deadline;                 /* mono: answer due / backoff end */
    unsigned attempt;                  /* consecutive failures */
    flight_t flight[SESSION_WINDOW_MAX];/* batches in flight, send order */
    size_t n_flight;
    size_t win;                        /* batches allowed in flight now */
    uint64_t next_seq;                 /* first seq of the next batch */
    uint64_t resend_next;              /* next kept batch to resend from
                                        * (HelloAnswer.resend_from), 0 none */
    uint64_t resend_upto;              /* our acked_seq when asked */
    bool await_conn;                   /* a send found no connection */
    uint64_t hb_id;                    /* outstanding Heartbeat */
    uint64_t hb_mono, hb_wall;         /* when it left */
    uint64_t hb_due;                   /* mono: next Heartbeat, 0 none */
    uint64_t hb_answer_due;            /* mono: its answer due, 0 none */
    uint64_t recheck_due;              /* mono: look at the outbox */
    unsigned send_errors;              /* failures since the last answer */
    char local_error[256];             /* last failed local write, "" */
    bool local_episode;                /* writes failing since the last
                                        * one that worked (logged once) */
    int64_t offset;                    /* aggregator clock - ours, ms */
    int64_t offset_stored;             /* as last written to the outbox */
    bool offset_known;                 /* offset_stored was read */
    bool ever_connected;               /* "connected" once this process */
    char link_state[32];               /* diagnosis (session_on_link), "" */
    char link_error[320];              /* "<endpoint> <detail>" */
    uint64_t link_logged;              /* mono: last warn about it, 0 */
    unsigned silent;                   /* answer timeouts since the link
                                        * came up or last answered */
    bool link_up;                      /* handshake done, not yet down */
    char endpoint[200];                /* as session_on_link named it */
    uint64_t redial_due;               /* mono: dial again, 0 none */
    uint64_t meta_id;                  /* outstanding MetadataRequest */
    uint64_t meta_mono;                /* when it left */
    uint64_t meta_retry;               /* mono: no request before, 0 */
    bool meta_first;                   /* answered hello waits for the
                                        * metadata reply before sending */
    bool meta_waited;                  /* waited once since sending last
                                        * started: the next answer sends */
    bool resync;                       /* new version while sending: hello
                                        * again once nothing is in flight */
    /* ACK_OKs verified this turn, recorded together at its end
     * (record_waiting): each owns its ack and a copy of its envelope. */
    struct {
        Cdsync__Ack *ack;
        uint8_t *raw;
        size_t raw_len;
    } ack_wait[SESSION_WINDOW_MAX];
    size_t n_ack_wait;
    flight_t kept_wait[SESSION_WINDOW_MAX];/* the batches they answered */
    size_t n_kept_wait;
};

static void fill_window(session_t *self);
static void ack_wait_clear(session_t *self);
static int record_waiting(session_t *self);
static void send_hello(session_t *self, bool probe);
static void local_ok(session_t *self);
static uint64_t kept_from(session_t *self, uint64_t acked_seq,
                          uint8_t prev[CDS_HASH_BYTES]);

static void
flight_free(flight_t *f)
{
    free(f->env);
    f->env = NULL;
    f->env_len = 0;
}

/* Forget every batch in flight (their envelopes too). */
static void
flights_clear(session_t *self)
{
    for (size_t i = 0; i < self->n_flight; i++)
        flight_free(&self->flight[i]);
    self->n_flight = 0;
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
mono(const session_t *self)
{
    return self->io.mono_ms(self->io.arg);
}

static uint64_t
wall(const session_t *self)
{
    return self->io.wall_ms(self->io.arg);
}

uint64_t
session_backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms,
                   uint32_t (*uniform)(void *, uint32_t), void *arg)
{
    uint64_t cap = min_ms ? min_ms : 1;
    for (unsigned i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    if (cap >= UINT32_MAX)
        cap = UINT32_MAX - 1;
    return uniform(arg, (uint32_t)cap + 1);
}

int
session_batch_encode(const outbox_row_t *rows, size_t n,
                     const uint8_t agent_pk[CDS_PK_BYTES],
                     const uint8_t prev_head[CDS_HASH_BYTES],
                     const char *catalog_version, uint64_t sent_at_ms,
                     uint64_t request_id, uint8_t **out, size_t *out_len)
{
    if (n == 0 || n > CDS_MAX_BATCH_UPDATES)
        return CDS_ETOOBIG;
    for (size_t i = 1; i < n; i++)
        if (rows[i].u.seq != rows[0].u.seq + i)
            return CDS_EBADSEQ;
    Cdsync__Update *pb = calloc(n, sizeof *pb);
    Cdsync__Update **ptrs = calloc(n, sizeof *ptrs);
    int rc = CDS_ENOMEM;
    if (!pb || !ptrs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        cds_update_to_pb(&rows[i].u, &pb[i]);
        ptrs[i] = &pb[i];
    }
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = CDS_PROTOCOL_VERSION;
    b.agent.data = (uint8_t *)agent_pk;
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = rows[0].u.seq;
    b.last_seq = rows[n - 1].u.seq;
    b.prev_head.data = (uint8_t *)prev_head;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = (uint8_t *)rows[n - 1].head;
    b.head.len = CDS_HASH_BYTES;
    b.catalog_version = (char *)(catalog_version ? catalog_version : "");
    b.n_updates = n;
    b.updates = ptrs;
    b.sent_at_ms = sent_at_ms;
    b.request_id = request_id;
    *out = cds_msg_encode(&b.base, out_len);
    rc = *out ? CDS_OK : CDS_ENOMEM;
out:
    free(pb);
    free(ptrs);
    return rc;
}

void
session_set_config(session_t *self, const session_config_t *cfg)
{
    self->cfg.catalog_version = cfg->catalog_version;
    self->cfg.batch_max = cfg->batch_max;
    self->cfg.batch_bytes = cfg->batch_bytes;
    self->cfg.ack_timeout_ms = cfg->ack_timeout_ms;
    self->cfg.backoff_min_ms = cfg->backoff_min_ms;
    self->cfg.backoff_max_ms = cfg->backoff_max_ms;
    self->cfg.heartbeat_ms = cfg->heartbeat_ms;
}

session_t *
session_new(const session_config_t *cfg, const session_io_t *io,
            const uint8_t agent_pk[CDS_PK_BYTES], outbox_t *outbox,
            char *err, size_t errlen)
{
    if (cfg->window < 1 || cfg->window > SESSION_WINDOW_MAX
        || cfg->batch_max < 1 || cfg->batch_max > CDS_MAX_BATCH_UPDATES) {
        snprintf(err, errlen, "window must be 1..%d and batch_max 1..%d",
                 SESSION_WINDOW_MAX, CDS_MAX_BATCH_UPDATES);
        return NULL;
    }
    session_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->io = *io;
    memcpy(self->pk, agent_pk, CDS_PK_BYTES);
    self->outbox = outbox;
    self->state = S_BACKOFF;
    /* A random start: an answer to a request of an earlier process (or of
     * a restored copy of this agent) never matches one of ours. */
    self->next_id = ((uint64_t)io->uniform(io->arg, UINT32_MAX) << 32)
                    | io->uniform(io->arg, UINT32_MAX);
    outbox_meta_t m;
    if (outbox_meta(outbox, &m) == CDS_OK) {
        self->offset = self->offset_stored = m.clock_offset_ms;
        self->offset_known = true;
    }
    return self;
}

void
session_destroy(session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    flights_clear(*self_p);
    ack_wait_clear(*self_p);           /* never recorded: resent later */
    free(*self_p);
    *self_p = NULL;
}

static uint64_t
new_id(session_t *self)
{
    uint64_t id = self->next_id++;
    if (id == 0)                       /* 0 means "no id" on the wire */
        id = self->next_id++;
    return id;
}

/* The state the operator sees: a failed local write wins over the link's
 * state until a write succeeds again (status: CRITICAL, not OK). */
static void
set_conn(session_t *self, const char *state, const char *error)
{
    /* While writes fail, do not try this one (each try may wait out the
     * busy timeout): io.state (agent.state) carries it meanwhile. A failed
     * write of the state is itself a sign the database takes nothing. */
    if (!self->local_error[0]) {
        int rc = outbox_set_conn(self->outbox, state, error, wall(self));
        if (rc != CDS_OK) {
            cds_log(self->local_episode ? CDS_LOG_DEBUG : CDS_LOG_WARN,
                    "local_write_failed", "step=write_state error=%s",
                    cds_strerror(rc));
            self->local_episode = true;
            snprintf(self->local_error, sizeof self->local_error,
                     "write_state: %s", cds_strerror(rc));
        } else {
            local_ok(self);
        }
    }
    if (self->local_error[0]) {
        state = "local_write_failed";
        error = self->local_error;
    }
    if (strcmp(state, "connected") == 0)
        self->ever_connected = true;
    if (self->io.state)
        self->io.state(self->io.arg, state, error);
}

/* A local write worked: the database takes our records again. */
static void
local_ok(session_t *self)
{
    if (self->local_episode)
        cds_log(CDS_LOG_WARN, "local_write_recovered", "after=%s",
                cds_logq(self->local_error));
    self->local_episode = false;
    self->local_error[0] = '\0';
}

/* Go to BACKOFF. Every failure path comes here: nothing resends in a
 * loop. BO_LOCAL keeps the failed step (a probe) for the retry. */
static void
backoff(session_t *self, bo_kind_t kind, const char *why)
{
    uint64_t max = self->cfg.backoff_max_ms;
    uint64_t ms = kind == BO_REFUSED
                      ? max / 2 + session_backoff_ms(0, max / 2, max / 2,
                                                     self->io.uniform,
                                                     self->io.arg)
                      : session_backoff_ms(self->attempt,
                                           self->cfg.backoff_min_ms, max,
                                           self->io.uniform, self->io.arg);
    if (kind == BO_LOCAL)
        snprintf(self->local_error, sizeof self->local_error, "%s", why);
    self->retry_probe = kind == BO_LOCAL && self->probing;
    if (self->attempt < 64)
        self->attempt++;
    if (self->send_errors < UINT32_MAX)
        self->send_errors++;
    self->hb_due = self->hb_answer_due = self->hb_id = 0;
    self->state = S_BACKOFF;
    flights_clear(self);
    self->probing = false;
    self->hello_id = 0;
    self->deadline = mono(self) + (ms ? ms : 1);
    cds_log(CDS_LOG_INFO, "backoff", "ms=%llu attempt=%u reason=%s",
            (unsigned long long)ms, self->attempt, cds_logq(why));
    if (kind == BO_REFUSED)
        set_conn(self, "refused", NULL);
    else if (self->link_state[0])      /* the transport said why */
        set_conn(self, self->link_state, self->link_error);
    else
        set_conn(self, self->ever_connected ? "backoff" : "connecting",
                 NULL);
}

/* A local read or write failed: back off. Logged at warn once per
 * episode (until a write succeeds again), with what to look at; the
 * retries of the same episode at debug. */
static void
local_failed(session_t *self, const char *what, int rc)
{
    char why[256];
    snprintf(why, sizeof why, "%s: %s", what, cds_strerror(rc));
    cds_log(self->local_episode ? CDS_LOG_DEBUG : CDS_LOG_WARN,
            "local_write_failed", "step=%s error=%s note=%s", what,
            cds_strerror(rc),
            cds_logq(rc == CDS_EFULL   ? "the disk holding the state "
                                         "directory is full"
                     : rc == CDS_EBUSY ? "another program holds the "
                                         "agent database"
                                       : "see the error"));
    self->local_episode = true;
    backoff(self, BO_LOCAL, why);
}

/* Send one body. 0 sent; -1 (await_conn set when no connection). */
static int
send_body(session_t *self, Cdsync__Kind kind, const uint8_t *body,
          size_t len)
{
    int rc = self->io.send(self->io.arg, kind, body, len);
    self->await_conn = rc == SESSION_SEND_AGAIN;
    return rc == 0 ? 0 : -1;
}

/* Send one batch body, sealed here when the transport can (io.seal and
 * io.send_raw) so that the envelope can be kept after its ack: *env is
 * then the caller's; else sealed by io.send and *env NULL. 0 sent, -1
 * (await_conn set when no connection). */
static int
send_batch_body(session_t *self, const uint8_t *body, size_t len,
                uint8_t **env, size_t *env_len)
{
    *env = NULL;
    *env_len = 0;
    if (!self->io.seal || !self->io.send_raw)
        return send_body(self, CDSYNC__KIND__KIND_BATCH, body, len);
    if (self->io.seal(self->io.arg, CDSYNC__KIND__KIND_BATCH, body, len, env,
                      env_len) != 0)
        return -1;
    int rc = self->io.send_raw(self->io.arg, *env, *env_len);
    self->await_conn = rc == SESSION_SEND_AGAIN;
    if (rc == 0)
        return 0;
    free(*env);
    *env = NULL;
    return -1;
}

/* An answer to our own request carries the aggregator's clock: offset =
 * clock - (our wall at send + RTT/2). Stored when it moved by more than
 * SESSION_OFFSET_WRITE_MS; a failed store is retried with the next answer
 * (stamps use the last stored offset meanwhile). */
static void
clock_sample(session_t *self, uint64_t agg_clock, uint64_t sent_mono,
             uint64_t sent_wall)
{
    if (!agg_clock)
        return;                        /* an aggregator that does not say */
    uint64_t rtt = mono(self) - sent_mono;
    int64_t off = (int64_t)agg_clock - (int64_t)(sent_wall + rtt / 2);
    self->offset = off;
    int64_t moved = off - self->offset_stored;
    if (self->offset_known && moved <= SESSION_OFFSET_WRITE_MS
        && moved >= -SESSION_OFFSET_WRITE_MS)
        return;
    if (outbox_set_clock_offset(self->outbox, off, wall(self)) != CDS_OK)
        return;
    cds_log(CDS_LOG_INFO, "clock_offset", "offset_ms=%lld rtt_ms=%llu",
            (long long)off, (unsigned long long)rtt);
    self->offset_stored = off;
    self->offset_known = true;
}

/* Batch.sent_at_ms: the time now on the clock that stamped row, i.e. our
 * wall clock plus the offset its stamp was made with. The aggregator
 * shifts the batch's stamps by sent_at_ms - its clock when that is past
 * its bound: nothing for rows stamped with a good offset, the whole skew
 * for rows stamped before any was measured (docs/DESIGN.md "Clock
 * skew"). */
static uint64_t
stamp_clock_now(const session_t *self, const outbox_row_t *row)
{
    int64_t c = (int64_t)wall(self) + row->stamp_offset_ms;
    return c < 0 ? 0 : (uint64_t)c;
}

/* ---- Hello -------------------------------------------------------------- */

/* Fill the Hello probe with (seq, head) of up to CDS_MAX_PROBE pending
 * rows from the first one. */
static int
build_probe(session_t *self, outbox_row_t **rows, size_t *n,
            Cdsync__ChainPoint **pts, Cdsync__ChainPoint ***ptrs)
{
    uint64_t first = outbox_first_pending(self->outbox);
    int rc = outbox_read(self->outbox, first, CDS_MAX_PROBE, SIZE_MAX, rows,
                         n);
    if (rc != CDS_OK || *n == 0)
        return rc;
    *pts = calloc(*n, sizeof **pts);
    *ptrs = calloc(*n, sizeof **ptrs);
    if (!*pts || !*ptrs)
        return CDS_ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        Cdsync__ChainPoint init = CDSYNC__CHAIN_POINT__INIT;
        (*pts)[i] = init;
        (*pts)[i].seq = (*rows)[i].u.seq;
        (*pts)[i].head.data = (*rows)[i].head;
        (*pts)[i].head.len = CDS_HASH_BYTES;
        (*ptrs)[i] = &(*pts)[i];
    }
    return CDS_OK;
}

/* HELLO with a new request id; a probe carries our pending heads. */
static void
send_hello(session_t *self, bool probe)
{
    outbox_meta_t m;
    outbox_row_t *rows = NULL;
    size_t n = 0, body_len = 0;
    Cdsync__ChainPoint *pts = NULL, **ptrs = NULL;
    uint8_t *body = NULL;
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    uint8_t kept_prev[CDS_HASH_BYTES];
    int rc = record_waiting(self);     /* it says our acked_seq */
    if (rc != CDS_OK)
        return;
    rc = outbox_meta(self->outbox, &m);
    if (rc == CDS_OK && probe)
        rc = build_probe(self, &rows, &n, &pts, &ptrs);
    if (rc != CDS_OK) {
        self->probing = probe;         /* the step to retry */
        local_failed(self, "read_outbox", rc);
        goto out;
    }
    uint64_t id = new_id(self);
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = self->pk;
    h.agent.len = CDS_PK_BYTES;
    h.acked_seq = m.acked_seq;
    h.acked_head = (ProtobufCBinaryData){CDS_HASH_BYTES, m.acked_head};
    h.n_probe = n;
    h.probe = ptrs;
    h.agent_version = (char *)CDS_VERSION;
    h.clock_ms = wall(self);           /* our raw clock: skew is visible */
    h.request_id = id;
    h.kept_from = kept_from(self, m.acked_seq, kept_prev);
    h.metadata_version = m.metadata_version;
    if (h.kept_from) {
        h.kept_prev_head.data = kept_prev;
        h.kept_prev_head.len = CDS_HASH_BYTES;
    }
    self->resend_next = self->resend_upto = 0;
    body = cds_msg_encode(&h.base, &body_len);
    if (!body || send_body(self, CDSYNC__KIND__KIND_HELLO, body, body_len)
                     != 0) {
        self->probing = probe;
        backoff(self, BO_LINK, body ? "not_connected" : "out_of_memory");
        goto out;
    }
    self->state = S_HELLO;
    self->probing = probe;
    self->retry_probe = false;
    self->hello_id = id;
    self->hello_mono = mono(self);
    self->hello_wall = wall(self);
    flights_clear(self);
    cds_log(CDS_LOG_INFO, "hello_sent", "acked_seq=%llu probe=%zu id=%llu",
            (unsigned long long)m.acked_seq, n, (unsigned long long)id);
    set_conn(self, "hello", NULL);
    /* After set_conn, which may wait on a busy database: the answer's
     * time starts when we can listen again. */
    self->deadline = mono(self) + self->cfg.ack_timeout_ms;
out:
    free(body);
    free(pts);
    free(ptrs);
    outbox_rows_free(&rows, n);
}

void
session_start(session_t *self)
{
    send_hello(self, false);
}

/* ---- batches ------------------------------------------------------------ */

size_t
session_batch_cut(const outbox_row_t *rows, size_t n)
{
    size_t k = 1;
    while (k < n) {
        int64_t d = rows[k].stamp_offset_ms - rows[0].stamp_offset_ms;
        if (d > SESSION_BATCH_OFFSET_MS || d < -SESSION_BATCH_OFFSET_MS)
            break;
        k++;
    }
    return k;
}

/* Read the next batch from next_seq and its previous head: contiguous
 * rows stamped by one clock (session_batch_cut). CDS_OK with *n == 0 when
 * nothing is pending; *got rows are read (free them all). */
static int
read_batch(session_t *self, outbox_row_t **rows, size_t *got, size_t *n,
           uint8_t prev[CDS_HASH_BYTES])
{
    int rc = outbox_read(self->outbox, self->next_seq, self->cfg.batch_max,
                         self->cfg.batch_bytes, rows, got);
    *n = *got;
    if (rc != CDS_OK || *n == 0)
        return rc;
    if ((*rows)[0].u.seq != self->next_seq)
        return CDS_EBADSEQ;        /* outbox not contiguous: never guess */
    rc = outbox_head_at(self->outbox, (*rows)[0].u.seq - 1, prev);
    while (rc == CDS_OK && *n > 1
           && (*rows)[*n - 1].u.seq != (*rows)[0].u.seq + *n - 1)
        (*n)--;
    *n = session_batch_cut(*rows, *n);
    return rc;
}

/* Send one batch from next_seq. 1 sent, 0 nothing pending, -1 failure
 * (state changed to BACKOFF). */
static int
send_batch(session_t *self)
{
    outbox_row_t *rows = NULL;
    size_t n = 0, got = 0, len = 0;
    uint8_t *body = NULL, *env = NULL, prev[CDS_HASH_BYTES];
    size_t env_len = 0;
    uint64_t id = new_id(self);
    int rc = read_batch(self, &rows, &got, &n, prev);
    if (rc == CDS_OK && n == 0)
        goto out;
    if (rc == CDS_OK && cds_trace_on())  /* cds_trace.h: read, not sent */
        cds_trace("agent_read", "first=%llu last=%llu",
                  (unsigned long long)rows[0].u.seq,
                  (unsigned long long)rows[n - 1].u.seq);
    if (rc == CDS_OK)
        rc = session_batch_encode(rows, n, self->pk, prev,
                                  self->cfg.catalog_version,
                                  stamp_clock_now(self, &rows[0]), id, &body,
                                  &len);
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "batch_failed", "from=%llu error=%s",
                (unsigned long long)self->next_seq, cds_strerror(rc));
        local_failed(self, "read_batch", rc);
        rc = -1;
    } else if (send_batch_body(self, body, len, &env, &env_len) != 0) {
        backoff(self, BO_LINK, "not_connected");
        rc = -1;
    } else {
        CDS_FAILPOINT("agent_after_send");   /* sent, not yet recorded */
        flight_t *f = &self->flight[self->n_flight++];
        f->first = rows[0].u.seq;
        f->last = rows[n - 1].u.seq;
        f->id = id;
        f->sent_mono = mono(self);
        f->sent_wall = wall(self);
        f->env = env;
        f->env_len = env_len;
        self->next_seq = f->last + 1;
        if (cds_trace_on())
            cds_trace("agent_sent", "first=%llu last=%llu",
                      (unsigned long long)f->first,
                      (unsigned long long)f->last);
        cds_log(CDS_LOG_INFO, "batch_sent",
                "first=%llu last=%llu bytes=%zu id=%llu",
                (unsigned long long)f->first, (unsigned long long)f->last,
                len, (unsigned long long)id);
        rc = 1;
    }
out:
    free(body);
    outbox_rows_free(&rows, got);
    return rc;
}

/* ---- kept batches: resend after the aggregator lost them ---------------- */

/* request_id and prev_head of a kept batch, from its own (our) envelope.
 * CDS_OK or CDS_EMALFORMED. */
static int
kept_fields(const outbox_kept_t *k, uint64_t *request_id,
            uint8_t prev[CDS_HASH_BYTES])
{
    Cdsync__Envelope *env = NULL;
    int err = cds_envelope_decode(k->envelope, k->envelope_len, &env);
    Cdsync__Batch *b = err == CDS_OK
                           ? cds_msg_decode(&cdsync__batch__descriptor,
                                            env->body.data, env->body.len,
                                            &err)
                           : NULL;
    int rc = b && b->prev_head.len == CDS_HASH_BYTES
                     && b->first_seq == k->first_seq
                     && b->last_seq == k->last_seq
                 ? CDS_OK : CDS_EMALFORMED;
    if (rc == CDS_OK) {
        *request_id = b->request_id;
        memcpy(prev, b->prev_head.data, CDS_HASH_BYTES);
    }
    cds_msg_free(b);
    cds_msg_free(env);
    return rc;
}

/* Send the kept batch holding resend_next, unchanged. 1 sent (or nothing
 * left to resend: the pending rows go next), -1 failure (BACKOFF). */
static int
send_kept(session_t *self)
{
    outbox_kept_t k;
    uint64_t id = 0;
    uint8_t prev[CDS_HASH_BYTES];
    int rc = outbox_kept_at(self->outbox, self->resend_next, &k);
    if (rc == CDS_OK)
        rc = kept_fields(&k, &id, prev);
    if (rc == CDS_ENOTFOUND || rc == CDS_EMALFORMED) {
        cds_log(CDS_LOG_ERROR, "resend_unfillable", "from=%llu error=%s",
                (unsigned long long)self->resend_next, cds_strerror(rc));
        outbox_kept_free(&k);
        self->resend_next = 0;
        return 1;
    }
    if (rc != CDS_OK) {
        local_failed(self, "read_kept", rc);
        return -1;
    }
    rc = self->io.send_raw(self->io.arg, k.envelope, k.envelope_len);
    self->await_conn = rc == SESSION_SEND_AGAIN;
    if (rc != 0) {
        outbox_kept_free(&k);
        backoff(self, BO_LINK, "not_connected");
        return -1;
    }
    flight_t *f = &self->flight[self->n_flight++];
    *f = (flight_t){k.first_seq, k.last_seq, id, mono(self), wall(self),
                    (uint8_t *)k.envelope, k.envelope_len};
    self->resend_next = k.last_seq < self->resend_upto ? k.last_seq + 1 : 0;
    cds_log(CDS_LOG_INFO, "batch_resent", "first=%llu last=%llu bytes=%zu "
            "id=%llu",
            (unsigned long long)k.first_seq, (unsigned long long)k.last_seq,
            k.envelope_len, (unsigned long long)id);
    return 1;
}

/* For the Hello: from which seq our kept batches reach acked_seq without
 * a hole, and the chain head before it. 0 when nothing is kept. */
static uint64_t
kept_from(session_t *self, uint64_t acked_seq, uint8_t prev[CDS_HASH_BYTES])
{
    outbox_kept_t k;
    uint64_t id, from = outbox_kept_from(self->outbox, acked_seq);
    if (from && outbox_kept_at(self->outbox, from, &k) == CDS_OK) {
        if (k.first_seq != from || kept_fields(&k, &id, prev) != CDS_OK)
            from = 0;
        outbox_kept_free(&k);
    } else {
        from = 0;
    }
    return from;
}

static void
fill_window(session_t *self)
{
    if (record_waiting(self) != CDS_OK)
        return;                        /* record first, then send more */
    if (self->state == S_SENDING && self->resync) {
        if (self->n_flight == 0) {     /* then recheck (start_sending) */
            self->resync = false;
            send_hello(self, false);
        }
        return;
    }
    while (self->state == S_SENDING && self->n_flight < self->win)
        if ((self->resend_next ? send_kept(self) : send_batch(self)) <= 0)
            break;
}

/* Synced at applied: send from the first pending row. */
static void
start_sending(session_t *self, uint64_t applied)
{
    outbox_meta_t m;
    int rc = outbox_meta(self->outbox, &m);
    if (rc != CDS_OK) {
        local_failed(self, "read_meta", rc);
        return;
    }
    /* done here; the next hello may wait for a version again */
    self->resync = self->meta_first = self->meta_waited = false;
    if (self->io.recheck && self->io.recheck(self->io.arg) != CDS_OK)
        cds_log(CDS_LOG_ERROR, "recheck_skipped", "note=\"pending values "
                "sent as they are\"");
    uint64_t first = outbox_first_pending(self->outbox);
    if (applied < m.acked_seq && !self->resend_next)
        cds_log(CDS_LOG_ERROR, "aggregator_behind",
                "applied=%llu acked_seq=%llu note=\"the aggregator lost "
                "data we hold acks for; sending what we have\"",
                (unsigned long long)applied,
                (unsigned long long)m.acked_seq);
    cds_log(CDS_LOG_INFO, "synced", "applied=%llu first_pending=%llu",
            (unsigned long long)applied, (unsigned long long)first);
    self->state = S_SENDING;
    self->probing = self->retry_probe = false;
    self->hello_id = 0;
    self->deadline = 0;
    flights_clear(self);
    /* Start with about 2,000 updates in flight (as 4 x 500 always did);
     * adapt_window grows it while acks come back quickly. */
    size_t start = 2000 / self->cfg.batch_max;
    self->win = start < 1 ? 1 : start > self->cfg.window ? self->cfg.window
                                                         : start;
    self->next_seq = first ? first : m.last_seq + 1;
    self->hb_answer_due = self->hb_id = 0;
    self->hb_due = self->cfg.heartbeat_ms
                       ? mono(self) + self->cfg.heartbeat_ms : 0;
    self->recheck_due = self->cfg.recheck_ms
                            ? mono(self) + self->cfg.recheck_ms : 0;
    self->local_error[0] = '\0';     /* nothing left to record (not a
                                        * write: the episode goes on) */
    set_conn(self, "connected", NULL);
    fill_window(self);
}

/* ---- HelloAnswer --------------------------------------------------------- */

static void
log_renumbered(uint64_t from, uint64_t after, uint64_t count)
{
    cds_log(CDS_LOG_WARN, "renumbered", "from=%llu to=%llu count=%llu",
            (unsigned long long)from, (unsigned long long)(after + 1),
            (unsigned long long)count);
}

/* The answer to our probing Hello (restored database): record what the
 * aggregator holds with our heads (probe_matched), renumber from the
 * first seq where it holds other content (probe_mismatch: the only
 * evidence that allows renumbering). CDS_OK when both steps that apply
 * were recorded; CDS_EBADSEQ when the answer says nothing about our first
 * pending row; a database error otherwise. */
static int
apply_probe(session_t *self, const Cdsync__HelloAnswer *a, uint64_t first)
{
    uint64_t count = 0;
    int rc;
    if (a->probe_matched && a->probe_matched >= first) {
        Cdsync__Ack ack = CDSYNC__ACK__INIT;
        ack.status = CDSYNC__ACK_STATUS__ACK_OK;
        ack.acked_seq = a->probe_matched;
        rc = outbox_apply_ack(self->outbox, &ack, NULL, 0, wall(self));
        if (rc != CDS_OK)
            return rc;
        cds_log(CDS_LOG_INFO, "probe_matched", "acked=%llu",
                (unsigned long long)a->probe_matched);
    }
    if (a->probe_mismatch) {
        rc = outbox_renumber(self->outbox, a->probe_mismatch, a->applied_seq,
                             a->applied_head.data, &count);
        if (rc != CDS_OK)
            return rc;
        log_renumbered(a->probe_mismatch, a->applied_seq, count);
    }
    if (!a->probe_mismatch && a->probe_matched < first) {
        cds_log(CDS_LOG_ERROR, "probe_unanswered",
                "first_pending=%llu matched=%llu note=\"nothing renumbered "
                "without evidence\"",
                (unsigned long long)first,
                (unsigned long long)a->probe_matched);
        return CDS_EBADSEQ;
    }
    return CDS_OK;
}

/* After the answer: adopt the aggregator's position when we have nothing
 * pending and it holds seqs we never assigned (restored database), then
 * probe if it claims seqs we still hold, else send. */
static void
after_hello(session_t *self, const Cdsync__HelloAnswer *a)
{
    uint64_t n = a->applied_seq, count = 0;
    if (self->meta_id && self->io.recheck && !self->meta_waited) {
        /* A newer version is on its way: take it before sending, so the
         * pending values are checked with it (on_metadata_reply hellos
         * again; no answer in time: hello_timeout, as for a hello). */
        self->meta_first = self->meta_waited = true;
        self->deadline = mono(self) + self->cfg.ack_timeout_ms;
        cds_log(CDS_LOG_INFO, "metadata_first", "applied=%llu",
                (unsigned long long)n);
        return;
    }
    uint64_t first = outbox_first_pending(self->outbox);
    outbox_meta_t m;
    int rc = outbox_meta(self->outbox, &m);
    if (rc == CDS_OK && !first && n > m.last_seq) {
        rc = outbox_renumber(self->outbox, m.last_seq + 1, n,
                             a->applied_head.data, &count);
        if (rc == CDS_OK)
            cds_log(CDS_LOG_WARN, "adopted_seq",
                    "last_seq=%llu applied=%llu",
                    (unsigned long long)m.last_seq, (unsigned long long)n);
        first = outbox_first_pending(self->outbox);
    }
    if (rc != CDS_OK) {
        local_failed(self, "adopt_seq", rc);
        return;
    }
    if (first && first <= n) {
        send_hello(self, true);        /* restored: probe our pending heads */
        return;
    }
    if (a->resend_from && a->resend_from <= m.acked_seq && self->io.send_raw) {
        cds_log(CDS_LOG_WARN, "resend_from", "from=%llu acked_seq=%llu "
                "note=\"the aggregator lost what it acked: resending our "
                "kept signed batches\"",
                (unsigned long long)a->resend_from,
                (unsigned long long)m.acked_seq);
        self->resend_next = a->resend_from;
        self->resend_upto = m.acked_seq;
    }
    start_sending(self, n);
}

/* Ask for the newest version (docs/PROTOCOL.md "Fetching metadata"):
 * one request outstanding, again after ack_timeout_ms without an answer,
 * not before meta_retry after a refusal. */
static void
request_metadata(session_t *self, const outbox_meta_t *m, uint64_t latest)
{
    uint64_t now = mono(self);
    if (!self->io.metadata || latest <= m->metadata_version
        || latest <= m->metadata_pinned || now < self->meta_retry
        || (self->meta_id && now < self->meta_mono + self->cfg.ack_timeout_ms))
        return;
    Cdsync__MetadataRequest q = CDSYNC__METADATA_REQUEST__INIT;
    uint64_t id = new_id(self);
    q.version = CDS_PROTOCOL_VERSION;
    q.agent.data = self->pk;
    q.agent.len = CDS_PK_BYTES;
    q.request_id = id;
    q.have = m->metadata_version;
    size_t len = 0;
    uint8_t *body = cds_msg_encode(&q.base, &len);
    if (body && send_body(self, CDSYNC__KIND__KIND_METADATA_REQUEST, body,
                          len) == 0) {
        self->meta_id = id;
        self->meta_mono = now;
        cds_log(CDS_LOG_INFO, "metadata_request", "have=%llu latest=%llu",
                (unsigned long long)m->metadata_version,
                (unsigned long long)latest);
    }
    free(body);
}

/* The aggregator's newest published metadata version (HelloAnswer,
 * HeartbeatAnswer): recorded for `status` and logged when it changes,
 * then fetched when newer than ours. A failed write is logged and told
 * again by the next answer. */
static void
note_metadata(session_t *self, uint64_t latest)
{
    outbox_meta_t m;
    int rc = outbox_meta(self->outbox, &m);
    if (rc != CDS_OK)
        return;
    if (m.metadata_latest != latest) {
        rc = outbox_set_metadata_latest(self->outbox, latest, wall(self));
        if (rc != CDS_OK) {
            cds_log(CDS_LOG_WARN, "metadata_note_failed", "error=%s",
                    cds_strerror(rc));
            return;
        }
        cds_log(latest > m.metadata_version ? CDS_LOG_WARN : CDS_LOG_INFO,
                "metadata_announced", "latest=%llu in_use=%llu",
                (unsigned long long)latest,
                (unsigned long long)m.metadata_version);
    }
    request_metadata(self, &m, latest);
}

/* The answer to our MetadataRequest: handed to io.metadata. */
static void
on_metadata_reply(session_t *self, const Cdsync__MetadataReply *r)
{
    if (!self->meta_id || r->request_id != self->meta_id) {
        cds_log(CDS_LOG_DEBUG, "stale_answer", "kind=metadata id=%llu",
                (unsigned long long)r->request_id);
        return;
    }
    self->meta_id = 0;
    int rc = CDS_OK;
    if (r->error) {
        cds_log(CDS_LOG_WARN, "metadata_unavailable", "error=%s message=%s",
                cds_strerror((int)r->error), cds_logq(r->message));
        rc = (int)r->error;
    } else {
        rc = self->io.metadata(self->io.arg, r);
    }
    self->meta_retry = rc == CDS_OK ? 0
                                    : mono(self) + self->cfg.backoff_max_ms;
    if (self->meta_first && self->state == S_HELLO) {
        self->meta_first = false;
        send_hello(self, false);       /* now sync and send */
    } else if (rc == CDS_OK && self->state == S_SENDING && self->io.recheck) {
        self->resync = true;
        fill_window(self);
    }
}

static void
on_hello_answer(session_t *self, const Cdsync__HelloAnswer *a)
{
    char why[600];
    if (self->state != S_HELLO || a->request_id != self->hello_id) {
        cds_log(CDS_LOG_DEBUG, "stale_answer", "kind=hello id=%llu",
                (unsigned long long)a->request_id);
        return;
    }
    clock_sample(self, a->clock_ms, self->hello_mono, self->hello_wall);
    self->hello_id = 0;
    if (a->error) {
        snprintf(why, sizeof why, "hello refused: %s: %s",
                 cds_strerror((int)a->error), a->message ? a->message : "");
        cds_log(CDS_LOG_ERROR, "refused", "reason=%s message=%s",
                cds_strerror((int)a->error), cds_logq(a->message));
        set_conn(self, "refused", why);
        backoff(self, BO_REFUSED, cds_strerror((int)a->error));
        return;
    }
    if (a->applied_seq > 0 && a->applied_head.len != CDS_HASH_BYTES) {
        cds_log(CDS_LOG_ERROR, "bad_answer", "reason=applied_head_length");
        backoff(self, BO_LINK, "bad_answer");
        return;
    }
    if (self->probing) {
        uint64_t first = outbox_first_pending(self->outbox);
        int rc = first && first <= a->applied_seq
                     ? apply_probe(self, a, first) : CDS_OK;
        if (rc == CDS_EBADSEQ) {
            backoff(self, BO_LINK, "probe_unanswered");
            return;
        }
        if (rc != CDS_OK) {
            local_failed(self, "record_probe", rc);
            return;
        }
        local_ok(self);
    }
    self->probing = false;
    if (!self->local_error[0])
        self->attempt = 0;             /* the link answered, writes work */
    if (self->io.accepted)
        self->io.accepted(self->io.arg);
    note_metadata(self, a->metadata_latest);
    after_hello(self, a);
}

/* ---- Acks ---------------------------------------------------------------- */

/* The flight this ack answers: same request id and same seq range. */
static ssize_t
flight_of(const session_t *self, const Cdsync__Ack *a)
{
    for (size_t i = 0; i < self->n_flight; i++)
        if (self->flight[i].id == a->request_id
            && self->flight[i].first == a->batch_first
            && self->flight[i].last == a->batch_last)
            return (ssize_t)i;
    return -1;
}

/* Batches up to acked are answered: they leave the window, their
 * envelopes wait with the ack to be kept (record_waiting). */
static void
drop_flights_upto(session_t *self, uint64_t acked)
{
    size_t k = 0;
    for (size_t i = 0; i < self->n_flight; i++)
        if (self->flight[i].last > acked)
            self->flight[k++] = self->flight[i];
        else if (self->flight[i].env
                 && self->n_kept_wait < SESSION_WINDOW_MAX)
            self->kept_wait[self->n_kept_wait++] = self->flight[i];
        else
            flight_free(&self->flight[i]);
    self->n_flight = k;
}

/* Window from the ack delay of the batch just answered: one more batch
 * while acks take under 1/8 of ack_timeout_ms (one agent catching up on an
 * idle aggregator: bigger groups, fewer fsyncs per update), half as many
 * when over 1/4 (a province catching up at once: every agent's last batch
 * in flight must still be answered before its ack timeout). */
static void
adapt_window(session_t *self, uint64_t sent_mono)
{
    uint64_t delay = mono(self) - sent_mono;
    if (delay > self->cfg.ack_timeout_ms / 4 && self->win > 1) {
        self->win /= 2;
        cds_log(CDS_LOG_INFO, "window", "batches=%zu ack_delay_ms=%llu",
                self->win, (unsigned long long)delay);
    } else if (delay < self->cfg.ack_timeout_ms / 8
               && self->win < self->cfg.window)
        self->win++;
}

/* Positive evidence before deleting: when we hold the row at acked_seq,
 * the aggregator's head there must be ours. CDS_OK, CDS_ECHAIN on a
 * mismatch (logged), or a database error. */
static int
check_acked_head(session_t *self, const Cdsync__Ack *a)
{
    uint8_t ours[CDS_HASH_BYTES];
    if (a->acked_seq == 0 || a->acked_head.len != CDS_HASH_BYTES)
        return CDS_OK;
    int rc = outbox_head_at(self->outbox, a->acked_seq, ours);
    if (rc == CDS_ENOTFOUND)
        return CDS_OK;                 /* not ours to compare */
    if (rc != CDS_OK)
        return rc;
    if (sodium_memcmp(ours, a->acked_head.data, CDS_HASH_BYTES) == 0)
        return CDS_OK;
    cds_log(CDS_LOG_ERROR, "ack_head_mismatch",
            "acked_seq=%llu note=\"the aggregator's chain differs from "
            "ours: nothing deleted\"",
            (unsigned long long)a->acked_seq);
    return CDS_ECHAIN;
}

/* Forget the acks waiting to be recorded (and their envelopes). */
static void
ack_wait_clear(session_t *self)
{
    for (size_t i = 0; i < self->n_ack_wait; i++) {
        cds_msg_free(self->ack_wait[i].ack);
        free(self->ack_wait[i].raw);
    }
    for (size_t i = 0; i < self->n_kept_wait; i++)
        flight_free(&self->kept_wait[i]);
    self->n_ack_wait = self->n_kept_wait = 0;
}

/* Record every ack waiting, with the envelopes of the batches they
 * answered (kept for a resend after the aggregator loses them, outbox.h
 * "Kept batches"), in one outbox transaction. On failure none is
 * recorded: back off (BACKOFF clears the window; the Hello after it
 * resends the rows, the aggregator acks them again). CDS_OK (also when
 * none waits) or the outbox error. */
static int
record_waiting(session_t *self)
{
    outbox_ack_t acks[SESSION_WINDOW_MAX];
    outbox_kept_t kept[SESSION_WINDOW_MAX];
    size_t n = self->n_ack_wait, top = 0;
    if (n == 0)
        return CDS_OK;
    for (size_t i = 0; i < n; i++) {
        /* acked, not recorded: one hit per ack (as one record each was) */
        CDS_FAILPOINT("agent_before_ack_record");
        acks[i] = (outbox_ack_t){self->ack_wait[i].ack, self->ack_wait[i].raw,
                                 self->ack_wait[i].raw_len};
        if (acks[i].ack->acked_seq > acks[top].ack->acked_seq)
            top = i;
    }
    for (size_t j = 0; j < self->n_kept_wait; j++) {
        const flight_t *f = &self->kept_wait[j];
        kept[j] = (outbox_kept_t){f->first, f->last, f->env, f->env_len,
                                  f->sent_wall, 0};
    }
    int rc = outbox_apply_acks(self->outbox, acks, n, wall(self), kept,
                               self->n_kept_wait);
    for (size_t i = 0; i < n; i++) {
        const Cdsync__Ack *a = acks[i].ack;
        if (rc == CDS_OK && cds_trace_on())
            cds_trace("agent_recorded", "acked=%llu",
                      (unsigned long long)a->acked_seq);
        if (rc == CDS_OK)
            cds_log(CDS_LOG_INFO, "ack", "acked=%llu rejected=%zu "
                    "first=%llu last=%llu",
                    (unsigned long long)a->acked_seq, a->n_rejections,
                    (unsigned long long)a->batch_first,
                    (unsigned long long)a->batch_last);
    }
    if (rc != CDS_OK)
        cds_log(CDS_LOG_ERROR, "ack_not_recorded", "acked=%llu acks=%zu "
                "error=%s",
                (unsigned long long)acks[top].ack->acked_seq, n,
                cds_strerror(rc));
    ack_wait_clear(self);
    if (rc != CDS_OK) {
        local_failed(self, "record_ack", rc);
        return rc;
    }
    local_ok(self);
    self->attempt = 0;
    if (self->state == S_SENDING)
        set_conn(self, "connected", NULL);
    return CDS_OK;
}

/* The waiting lists cannot take one more ack and its flight: record
 * them first (never in a sane turn: nothing is sent while acks wait). */
static bool
ack_wait_full(const session_t *self)
{
    return self->n_ack_wait == SESSION_WINDOW_MAX
        || self->n_kept_wait + self->n_flight > SESSION_WINDOW_MAX;
}

/* Keep the verified ACK_OK a (taken: *a_p = NULL) and a copy of raw until
 * the turn ends; the lists have room (ack_wait_full). CDS_OK or
 * CDS_ENOMEM. */
static int
ack_wait_add(session_t *self, Cdsync__Ack **a_p, const uint8_t *raw,
             size_t raw_len)
{
    uint8_t *copy = NULL;
    if (raw && !(copy = malloc(raw_len ? raw_len : 1)))
        return CDS_ENOMEM;
    if (raw)
        memcpy(copy, raw, raw_len);
    self->ack_wait[self->n_ack_wait].ack = *a_p;
    self->ack_wait[self->n_ack_wait].raw = copy;
    self->ack_wait[self->n_ack_wait++].raw_len = raw_len;
    *a_p = NULL;
    return CDS_OK;
}

/* Processed less than the batch: go on from what the aggregator holds
 * (within a resend of kept batches: the next kept one). */
static void
resume_from(session_t *self, uint64_t acked)
{
    flights_clear(self);
    if (self->resend_upto && acked < self->resend_upto)
        self->resend_next = acked + 1;
    else
        self->next_seq = acked + 1;
}

/* A verified ACK_OK: its effects in memory now (window, flights, where
 * to go on), its record at the end of the turn (record_waiting), before
 * the window is filled again. */
static void
on_ack_ok(session_t *self, Cdsync__Ack **a_p, size_t i, const uint8_t *raw,
          size_t raw_len)
{
    const Cdsync__Ack *a = *a_p;
    uint64_t acked = a->acked_seq, last = a->batch_last;
    int rc = check_acked_head(self, a);
    if (rc == CDS_ECHAIN) {
        backoff(self, BO_LINK, "ack_head_mismatch");
        return;
    }
    if (rc == CDS_OK && ack_wait_full(self)
        && record_waiting(self) != CDS_OK)
        return;                        /* it backed off */
    if (rc == CDS_OK)
        rc = ack_wait_add(self, a_p, raw, raw_len);
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "ack_not_recorded", "acked=%llu error=%s",
                (unsigned long long)acked, cds_strerror(rc));
        local_failed(self, "record_ack", rc);
        return;
    }
    self->send_errors = 0;
    adapt_window(self, self->flight[i].sent_mono);
    drop_flights_upto(self, acked);
    if (acked < last)
        resume_from(self, acked);
}

/* ACK_GAP: the aggregator expects acked_seq + 1. Acks come back in send
 * order, so when the batch starting there was sent after the answered one
 * it is already on its way; otherwise it was lost: resend from there. */
static void
on_ack_gap(session_t *self, const Cdsync__Ack *a, size_t g)
{
    cds_log(CDS_LOG_WARN, "gap", "acked=%llu first=%llu last=%llu",
            (unsigned long long)a->acked_seq,
            (unsigned long long)a->batch_first,
            (unsigned long long)a->batch_last);
    for (size_t i = g + 1; i < self->n_flight; i++)
        if (self->flight[i].first == a->acked_seq + 1)
            return;
    if (self->resend_upto && a->acked_seq < self->resend_upto
        && a->acked_seq + 1 >= outbox_kept_from(self->outbox,
                                                self->resend_upto)) {
        resume_from(self, a->acked_seq);   /* a kept batch to resend */
        fill_window(self);
        return;
    }
    uint64_t first = outbox_first_pending(self->outbox);
    if (!first || first > a->acked_seq + 1) {
        cds_log(CDS_LOG_ERROR, "aggregator_behind",
                "expected=%llu first_pending=%llu",
                (unsigned long long)(a->acked_seq + 1),
                (unsigned long long)first);
        backoff(self, BO_LINK, "gap_unfillable");
        return;
    }
    flights_clear(self);
    self->next_seq = a->acked_seq + 1;
    fill_window(self);
}

static void
on_ack_refused(session_t *self, const Cdsync__Ack *a, const uint8_t *raw,
               size_t raw_len)
{
    char why[600];
    /* The signed refusal is the officer's receipt; losing it to a full
     * disk changes nothing else. */
    outbox_apply_ack(self->outbox, a, raw, raw_len, wall(self));
    snprintf(why, sizeof why, "batch %llu..%llu refused: %s: %s",
             (unsigned long long)a->batch_first,
             (unsigned long long)a->batch_last, cds_strerror((int)a->error),
             a->message ? a->message : "");
    cds_log(CDS_LOG_ERROR, "refused", "first=%llu last=%llu reason=%s "
            "message=%s",
            (unsigned long long)a->batch_first,
            (unsigned long long)a->batch_last, cds_strerror((int)a->error),
            cds_logq(a->message));
    set_conn(self, "refused", why);
    backoff(self, BO_REFUSED, cds_strerror((int)a->error));
}

/* Takes *a_p when it keeps the ack for the end of the turn. */
static void
on_ack(session_t *self, Cdsync__Ack **a_p, const uint8_t *raw,
       size_t raw_len)
{
    const Cdsync__Ack *a = *a_p;
    ssize_t i = self->state == S_SENDING ? flight_of(self, a) : -1;
    if (i < 0) {
        cds_log(CDS_LOG_DEBUG, "stale_answer", "kind=ack id=%llu first=%llu "
                "last=%llu",
                (unsigned long long)a->request_id,
                (unsigned long long)a->batch_first,
                (unsigned long long)a->batch_last);
        return;
    }
    if (cds_trace_on())                /* verified, before recording */
        cds_trace("agent_ack", "first=%llu last=%llu acked=%llu status=%d",
                  (unsigned long long)a->batch_first,
                  (unsigned long long)a->batch_last,
                  (unsigned long long)a->acked_seq, (int)a->status);
    clock_sample(self, a->clock_ms, self->flight[i].sent_mono,
                 self->flight[i].sent_wall);
    switch (a->status) {
    case CDSYNC__ACK_STATUS__ACK_OK:
        on_ack_ok(self, a_p, (size_t)i, raw, raw_len);
        break;
    case CDSYNC__ACK_STATUS__ACK_GAP:
        on_ack_gap(self, a, (size_t)i);
        break;
    case CDSYNC__ACK_STATUS__ACK_RETRY:
        cds_log(CDS_LOG_WARN, "retry", "first=%llu last=%llu error=%s",
                (unsigned long long)a->batch_first,
                (unsigned long long)a->batch_last,
                cds_strerror((int)a->error));
        backoff(self, BO_LINK, cds_strerror((int)a->error));
        break;
    case CDSYNC__ACK_STATUS__ACK_REFUSED:
        on_ack_refused(self, a, raw, raw_len);
        break;
    default:
        cds_log(CDS_LOG_WARN, "drop", "reason=unknown_ack_status status=%d",
                (int)a->status);
    }
}

/* ---- Heartbeats ----------------------------------------------------------- */

/* The link works both ways: the next Heartbeat after one interval. */
static void
on_heartbeat_answer(session_t *self, const Cdsync__HeartbeatAnswer *a)
{
    if (self->state != S_SENDING || !self->hb_answer_due
        || a->request_id != self->hb_id) {
        cds_log(CDS_LOG_DEBUG, "stale_answer", "kind=heartbeat id=%llu",
                (unsigned long long)a->request_id);
        return;
    }
    clock_sample(self, a->clock_ms, self->hb_mono, self->hb_wall);
    self->hb_answer_due = self->hb_id = 0;
    self->send_errors = 0;
    self->hb_due = mono(self) + self->cfg.heartbeat_ms;
    cds_log(CDS_LOG_DEBUG, "heartbeat_answer", "applied=%llu",
            (unsigned long long)a->applied_seq);
    note_metadata(self, a->metadata_latest);
}

/* Queue figures and clock in one signed Heartbeat. A send that cannot
 * leave is a dead link: back off like an ack timeout. */
static void
send_heartbeat(session_t *self)
{
    outbox_meta_t m;
    Cdsync__Heartbeat h = CDSYNC__HEARTBEAT__INIT;
    uint64_t now = wall(self);
    int64_t depth = outbox_depth(self->outbox);
    int64_t age = outbox_oldest_age_ms(self->outbox, now);
    int64_t bytes = outbox_bytes_pending(self->outbox);
    int rc = outbox_meta(self->outbox, &m);
    if (rc != CDS_OK || depth < 0 || age < 0 || bytes < 0) {
        local_failed(self, "read_outbox", rc != CDS_OK ? rc : CDS_EIO);
        return;
    }
    uint64_t id = new_id(self);
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = self->pk;
    h.agent.len = CDS_PK_BYTES;
    h.queue_depth = (uint64_t)depth;
    h.oldest_pending_ms = (uint64_t)age;
    h.bytes_pending = (uint64_t)bytes;
    h.acked_seq = m.acked_seq;
    h.send_errors = self->send_errors;
    h.agent_version = (char *)CDS_VERSION;
    h.clock_ms = now;
    h.request_id = id;
    h.metadata_version = m.metadata_version;
    size_t len = 0;
    uint8_t *body = cds_msg_encode(&h.base, &len);
    if (!body || send_body(self, CDSYNC__KIND__KIND_HEARTBEAT, body, len)
                     != 0) {
        free(body);
        backoff(self, BO_LINK, body ? "not_connected" : "out_of_memory");
        return;
    }
    free(body);
    if (depth == 0)             /* idle: give back the catch-up's cache */
        outbox_release_memory(self->outbox);
    self->hb_id = id;
    self->hb_mono = mono(self);
    self->hb_wall = now;
    self->hb_due = 0;
    self->hb_answer_due = self->hb_mono + self->cfg.ack_timeout_ms;
    cds_log(CDS_LOG_DEBUG, "heartbeat_sent", "depth=%lld oldest_ms=%lld",
            (long long)depth, (long long)age);
}

/* ---- the revocation notice ----------------------------------------------- */

/* Our key is revoked (a Notice signed by the aggregator, checked by the
 * caller, naming us): say it once at error, keep the notice, stop. Every
 * further request would be dropped, and a new handshake refused. */
static void
on_notice(session_t *self, const uint8_t *body, size_t len,
          const uint8_t *raw, size_t raw_len)
{
    revocation_t r;
    char at[40], why[400];
    if (revocation_decode(body, len, self->pk, &r) != CDS_OK) {
        cds_log(CDS_LOG_WARN, "drop", "reason=bad_notice");
        return;
    }
    if (self->state == S_REVOKED)
        return;                        /* told already */
    cds_format_time(at, sizeof at, r.revoked_at_ms);
    cds_log(CDS_LOG_ERROR, "revoked", "revoked_at=%s replaced_by=%s "
            "message=%s", at, r.replaced_by[0] ? r.replaced_by : "-",
            cds_logq(r.message));
    if (self->io.revoked)
        self->io.revoked(self->io.arg, raw, raw_len);
    snprintf(why, sizeof why, "key revoked at the district at %s%s%s", at,
             r.replaced_by[0] ? "; replaced by " : "", r.replaced_by);
    self->state = S_REVOKED;
    self->redial_due = 0;              /* every handshake would be refused */
    self->link_up = false;             /* hung up below */
    self->deadline = self->hb_due = self->hb_answer_due = 0;
    self->hb_id = self->hello_id = self->recheck_due = 0;
    flights_clear(self);
    self->probing = self->await_conn = false;
    set_conn(self, "revoked", why);
    if (self->io.hang_up)
        self->io.hang_up(self->io.arg);
}

/* ---- events --------------------------------------------------------------- */

/* Names our key? Answers meant for another agent are dropped. */
static bool
for_us(const session_t *self, ProtobufCBinaryData agent, const char *what)
{
    if (agent.len == CDS_PK_BYTES
        && sodium_memcmp(agent.data, self->pk, CDS_PK_BYTES) == 0)
        return true;
    cds_log(CDS_LOG_WARN, "drop", "reason=other_agent kind=%s", what);
    return false;
}

static void *
decode(Cdsync__Kind kind, const ProtobufCMessageDescriptor *desc,
       const uint8_t *body, size_t len)
{
    int err = CDS_OK;
    void *m = cds_msg_decode(desc, body, len, &err);
    if (!m)
        cds_log(CDS_LOG_WARN, "drop", "reason=%s kind=%d", cds_strerror(err),
                (int)kind);
    return m;
}

void
session_on_message(session_t *self, Cdsync__Kind kind, const uint8_t *body,
                   size_t len, const uint8_t *raw, size_t raw_len)
{
    self->silent = 0;                  /* the aggregator talks to us */
    if (kind == CDSYNC__KIND__KIND_ACK) {
        Cdsync__Ack *a = decode(kind, &cdsync__ack__descriptor, body, len);
        if (a && for_us(self, a->agent, "ack"))
            on_ack(self, &a, raw, raw_len);
        cds_msg_free(a);
    } else if (kind == CDSYNC__KIND__KIND_HELLO_ANSWER) {
        Cdsync__HelloAnswer *a =
            decode(kind, &cdsync__hello_answer__descriptor, body, len);
        if (a && for_us(self, a->agent, "hello_answer"))
            on_hello_answer(self, a);
        cds_msg_free(a);
    } else if (kind == CDSYNC__KIND__KIND_HEARTBEAT_ANSWER) {
        /* Signed for our key (the caller checked): no agent field. */
        Cdsync__HeartbeatAnswer *a =
            decode(kind, &cdsync__heartbeat_answer__descriptor, body, len);
        if (a)
            on_heartbeat_answer(self, a);
        cds_msg_free(a);
    } else if (kind == CDSYNC__KIND__KIND_NOTICE) {
        on_notice(self, body, len, raw, raw_len);
    } else if (kind == CDSYNC__KIND__KIND_METADATA_REPLY
               && self->io.metadata) {
        Cdsync__MetadataReply *r =
            decode(kind, &cdsync__metadata_reply__descriptor, body, len);
        if (r && for_us(self, r->agent, "metadata_reply"))
            on_metadata_reply(self, r);
        cds_msg_free(r);
    } else {
        cds_log(CDS_LOG_WARN, "drop", "reason=unexpected_kind kind=%d",
                (int)kind);
    }
}

static uint64_t
earliest(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* The state's own next deadline (answer due, backoff end, heartbeat...). */
static uint64_t
state_deadline(const session_t *self)
{
    if (self->state != S_SENDING)
        return self->deadline;
    uint64_t due = earliest(earliest(self->hb_due, self->hb_answer_due),
                            self->recheck_due);
    if (self->n_flight == 0)
        return due;
    return earliest(due,
                    self->flight[0].sent_mono + self->cfg.ack_timeout_ms);
}

uint64_t
session_next_deadline(const session_t *self)
{
    if (self->n_ack_wait) {            /* session_flush was not called */
        uint64_t now = mono(self);
        return now ? now : 1;
    }
    return earliest(state_deadline(self), self->redial_due);
}

/* Drop the link and dial again: the transport reports the new one. */
static void
redial(session_t *self)
{
    self->redial_due = 0;
    self->link_up = false;
    if (self->io.redial)
        self->io.redial(self->io.arg);
}

/* SENDING: heartbeat and its answer, the outbox recheck, the oldest ack. */
static void
sending_timers(session_t *self, uint64_t now)
{
    if (self->hb_answer_due && now >= self->hb_answer_due) {
        cds_log(CDS_LOG_WARN, "heartbeat_timeout", "after_ms=%llu",
                (unsigned long long)self->cfg.ack_timeout_ms);
        self->silent++;
        backoff(self, BO_LINK, "heartbeat_timeout");
        return;
    }
    if (self->hb_due && now >= self->hb_due)
        send_heartbeat(self);
    if (self->state == S_SENDING && self->recheck_due
        && now >= self->recheck_due) {
        self->recheck_due = now + self->cfg.recheck_ms;
        fill_window(self);             /* rows whose wake was lost */
    }
    if (self->state == S_SENDING && self->n_flight > 0
        && now >= self->flight[0].sent_mono + self->cfg.ack_timeout_ms) {
        cds_log(CDS_LOG_WARN, "ack_timeout", "first=%llu last=%llu",
                (unsigned long long)self->flight[0].first,
                (unsigned long long)self->flight[0].last);
        self->silent++;
        backoff(self, BO_LINK, "ack_timeout");
    }
}

/* An open link on which nothing answers (a revoked key: the aggregator
 * drops what we send while ZMTP keeps the link up): a new handshake
 * re-checks our key, and session_on_link says why if it fails. */
static void
redial_if_silent(session_t *self)
{
    if (!self->link_up || !session_silent(self) || !self->io.redial)
        return;
    cds_log(CDS_LOG_WARN, "redial", "endpoint=%s reason=%s",
            cds_logq(self->endpoint),
            cds_logq("no answer on an open link: a new handshake re-checks "
                     "our key"));
    redial(self);
}

/* The state's deadline passed: act on it. */
static void
state_timers(session_t *self, uint64_t now)
{
    switch (self->state) {
    case S_REVOKED:                    /* no deadline: never reached */
        break;
    case S_SENDING:
        sending_timers(self, now);
        break;
    case S_HELLO:
        cds_log(CDS_LOG_WARN, "hello_timeout", "after_ms=%llu",
                (unsigned long long)self->cfg.ack_timeout_ms);
        self->silent++;
        backoff(self, BO_LINK, "hello_timeout");
        break;
    case S_BACKOFF:
        send_hello(self, self->retry_probe);
        break;
    }
}

void
session_on_timer(session_t *self)
{
    record_waiting(self);              /* acks of a turn not flushed */
    uint64_t now = mono(self);
    if (self->redial_due && now >= self->redial_due)
        redial(self);                  /* after a refused handshake */
    uint64_t due = state_deadline(self);
    if (due && now >= due)
        state_timers(self, now);
    redial_if_silent(self);
}

void
session_on_wake(session_t *self)
{
    outbox_meta_t m;
    if (self->io.recheck && self->state == S_SENDING
        && outbox_meta(self->outbox, &m) == CDS_OK && m.metadata_version
        && m.metadata_version != m.pending_checked)
        self->resync = true;           /* `metadata rollback` beside us */
    fill_window(self);
}

void
session_on_writable(session_t *self)
{
    if (self->state == S_BACKOFF && self->await_conn)
        send_hello(self, self->retry_probe);
}

/* Warn once per changed diagnosis, then at most every SESSION_LINK_LOG_MS:
 * an operator at log_level=warn sees why nothing is synced. */
static void
link_log(session_t *self, bool changed, const char *endpoint,
         const char *detail)
{
    uint64_t now = mono(self);
    if (!changed && self->link_logged
        && now - self->link_logged < SESSION_LINK_LOG_MS)
        return;
    self->link_logged = now ? now : 1;
    if (strcmp(self->link_state, "unreachable") == 0)
        cds_log(CDS_LOG_WARN, "unreachable", "endpoint=%s error=%s",
                cds_logq(endpoint), cds_logq(detail));
    else
        cds_log(CDS_LOG_WARN, "handshake_failed", "endpoint=%s error=%s "
                "note=%s", cds_logq(endpoint), cds_logq(detail),
                cds_logq("wrong server_key in our config, or this agent is "
                         "not enrolled or was revoked at the district"));
}

/* The dialing side of a link event: whether the link is up, and the
 * redial timer. libzmq ends the session on a refused handshake and never
 * reconnects: dial again after redial_ms, so a key enrolled (again) at
 * the district is picked up without restarting the agent. */
static void
link_dialing(session_t *self, session_link_t ev, const char *endpoint)
{
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->link_up = ev == SESSION_LINK_UP;
    if (ev == SESSION_LINK_UP)
        self->redial_due = 0;          /* the transport got there itself */
    if (ev == SESSION_LINK_HANDSHAKE_FAILED && !self->redial_due
        && self->state != S_REVOKED && self->cfg.redial_ms
        && self->io.redial)
        self->redial_due = mono(self) + self->cfg.redial_ms;
}

void
session_on_link(session_t *self, session_link_t ev, const char *endpoint,
                const char *detail)
{
    const char *ep = endpoint ? endpoint : "";
    const char *d = detail ? detail : "";
    link_dialing(self, ev, ep);
    if (ev == SESSION_LINK_UP || ev == SESSION_LINK_DOWN) {
        self->silent = 0;
        if (ev == SESSION_LINK_UP && self->link_state[0])
            cds_log(CDS_LOG_WARN, "reconnected", "endpoint=%s after=%s", cds_logq(ep), self->link_state);
        self->link_state[0] = '\0';
        self->link_error[0] = '\0';
        self->link_logged = 0;
        return;
    }
    const char *st = ev == SESSION_LINK_UNREACHABLE ? "unreachable"
                                                    : "handshake_failed";
    bool changed = strcmp(st, self->link_state) != 0;
    snprintf(self->link_state, sizeof self->link_state, "%s", st);
    if (changed || detail)             /* NULL: same story as before */
        snprintf(self->link_error, sizeof self->link_error, "%.200s %.100s",
                 ep, d);
    const char *sp = strchr(self->link_error, ' ');
    link_log(self, changed, ep, sp ? sp + 1 : "");
    /* Not connected: show it now, not at the next backoff (a revoked
     * key keeps saying so). */
    if (self->state == S_BACKOFF)
        set_conn(self, self->link_state, self->link_error);
}

void
session_flush(session_t *self)
{
    if (self->n_ack_wait == 0)
        return;                        /* no ack this turn: nothing to do */
    if (record_waiting(self) == CDS_OK && self->state == S_SENDING)
        fill_window(self);
}

size_t
session_acks_waiting(const session_t *self)
{
    return self->n_ack_wait;
}

void
session_stop(session_t *self)
{
    record_waiting(self);
    self->local_error[0] = '\0';     /* try to record "stopped" */
    set_conn(self, "stopped", NULL);
}

bool
session_silent(const session_t *self)
{
    return self->silent >= SESSION_SILENT_MAX;
}

bool
session_revoked(const session_t *self)
{
    return self->state == S_REVOKED;
}

bool
session_wants_writable(const session_t *self)
{
    return self->state == S_BACKOFF && self->await_conn;
}

const char *
session_state_name(const session_t *self)
{
    return self->state == S_HELLO     ? "hello"
           : self->state == S_SENDING ? "sending"
           : self->state == S_REVOKED ? "revoked"
                                      : "backoff";
}

int64_t
session_clock_offset_ms(const session_t *self)
{
    return self->offset;
}
