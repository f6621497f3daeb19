/*  sender: see sender.h. Raw libzmq (not czmq's zsock) so no library
 *  signal handler competes with ours: SIGTERM/SIGINT set a flag and
 *  interrupt zmq_poll with EINTR. */
#include "sender.h"
#include "cds_signal.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_failpoint.h"
#include "cds_log.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zmq.h>

#ifndef CDS_VERSION
#define CDS_VERSION "0.1.0"
#endif

#define HEARTBEAT_IVL_MS 5000          /* ZMTP ping */
#define HEARTBEAT_TIMEOUT_MS 15000     /* no traffic: connection dead */
#define RECONNECT_IVL_MS 500
#define RECONNECT_IVL_MAX_MS 30000
#define HWM_MESSAGES 1000
/* A connected sender looks at its outbox this often even when nobody woke
 * it: the wake from submit/import is best effort (it gives up when the
 * daemon's socket does not accept within its window, as under heavy load),
 * and a row must never wait for the next submit. One indexed SELECT per
 * interval: still ~0% CPU when idle. */
#define OUTBOX_RECHECK_MS 5000

typedef enum { S_HELLO, S_SENDING, S_BACKOFF } state_t;

typedef struct {
    uint64_t first, last;              /* seq range of the batch */
    uint64_t sent_at;                  /* monotonic ms */
} flight_t;

struct sender {
    sender_config_t cfg;               /* strings borrowed */
    const cds_identity_t *id;          /* our identity (borrowed) */
    outbox_t *outbox;                  /* borrowed */
    uint8_t agg_pk[CDS_PK_BYTES];      /* aggregator signing key */
    uint8_t agg_curve[CDS_PK_BYTES];   /* its CURVE key (later issue) */
    void *ctx;                         /* zmq context */
    void *dealer;                      /* to the aggregator */
    void *wake;                        /* PULL on wake.sock */
    char wake_path[512];               /* removed at destroy */
    state_t state;                     /* see sender.h */
    bool probing;                      /* the Hello out carries a probe */
    uint64_t deadline;                 /* mono ms: answer due / backoff end */
    unsigned attempt;                  /* consecutive failures */
    flight_t flight[SENDER_WINDOW_MAX];/* batches in flight, send order */
    size_t n_flight;
    size_t win;                        /* batches allowed in flight now,
                                        * 1..cfg.window: see adapt_window */
    uint64_t next_seq;                 /* first seq of the next batch */
    bool await_conn;                   /* a send found no connection */
    uint64_t hb_due;                   /* mono ms: next Heartbeat, 0 none */
    uint64_t hb_answer_due;            /* mono ms: its answer due, 0 none */
    uint64_t recheck_due;              /* mono ms: look at the outbox */
    unsigned send_errors;              /* failures since the last answer */
};


/* ---- lock, backoff, batch encoding (no network) ----------------------- */

static int
lock_path(const char *state_dir, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/agent.lock", state_dir);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
sender_lock(const char *state_dir, int *fd)
{
    char path[512];
    if (lock_path(state_dir, path, sizeof path) != 0)
        return CDS_EIO;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0) {
        cds_log(CDS_LOG_ERROR, "lock_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        return CDS_EIO;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f);
        if (e == EWOULDBLOCK)
            return CDS_EBUSY;
        cds_log(CDS_LOG_ERROR, "lock_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(e)));
        return CDS_EIO;
    }
    *fd = f;
    return CDS_OK;
}

bool
sender_running(const char *state_dir)
{
    char path[512];
    if (lock_path(state_dir, path, sizeof path) != 0)
        return false;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return false;                  /* never ran here */
    bool held = flock(f, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(f);
    return held;
}

uint64_t
sender_backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms)
{
    uint64_t cap = min_ms ? min_ms : 1;
    for (unsigned i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    if (cap >= UINT32_MAX)
        cap = UINT32_MAX - 1;
    return randombytes_uniform((uint32_t)cap + 1);
}

int
sender_batch_encode(const outbox_row_t *rows, size_t n,
                    const uint8_t agent_pk[CDS_PK_BYTES],
                    const uint8_t prev_head[CDS_HASH_BYTES],
                    const char *catalog_version, uint64_t sent_at_ms,
                    uint8_t **out, size_t *out_len)
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
    *out = cds_msg_encode(&b.base, out_len);
    rc = *out ? CDS_OK : CDS_ENOMEM;
out:
    free(pb);
    free(ptrs);
    return rc;
}

/* ---- sockets ---------------------------------------------------------- */

static int
setopt_int(void *sock, int opt, int v, const char *name)
{
    if (zmq_setsockopt(sock, opt, &v, sizeof v) == 0)
        return 0;
    cds_log(CDS_LOG_ERROR, "socket_option_failed", "option=%s error=%s",
            name, cds_logq(zmq_strerror(errno)));
    return -1;
}

/* Every option chosen deliberately (DESIGN.md "Delivery"). CURVE is set
 * by curve_setup, also before zmq_connect. */
static int
dealer_setup(void *sock)
{
    int rc = 0;
    int64_t maxmsg = CDS_MAX_MSG_BYTES;
    /* Queue nothing for a peer that is not connected: a send while the link
     * is down fails at once (EAGAIN) and we back off, instead of filling a
     * pipe that a reconnect would throw away. */
    rc |= setopt_int(sock, ZMQ_IMMEDIATE, 1, "immediate");
    /* Unsent batches at exit are worthless: the outbox resends them. */
    rc |= setopt_int(sock, ZMQ_LINGER, 0, "linger");
    /* Frames over the protocol bound are refused before they reach us. */
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        rc = -1;
    /* Links drop for hours without a FIN: ZMTP pings find a dead TCP
     * connection so libzmq reconnects instead of waiting for ever. */
    rc |= setopt_int(sock, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS, "hb_ivl");
    rc |= setopt_int(sock, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS,
                     "hb_timeout");
    /* No ZMQ_HEARTBEAT_TTL: it makes the aggregator arm (and, at every
     * next message, cancel by linear search) one libzmq timer per agent,
     * O(agents^2) at 10,000 agents; the aggregator finds dead peers by
     * TCP keepalive instead (aggregator/server.c socket_setup). */
    /* Reconnect quickly after a blip, but back off to 30 s so thousands of
     * agents do not hammer an aggregator that is down. */
    rc |= setopt_int(sock, ZMQ_RECONNECT_IVL, RECONNECT_IVL_MS, "rc_ivl");
    rc |= setopt_int(sock, ZMQ_RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS,
                     "rc_ivl_max");
    /* We never have more than `window` batches + a hello out, and acks are
     * read promptly; bounded queues, correctness never depends on them. */
    rc |= setopt_int(sock, ZMQ_SNDHWM, HWM_MESSAGES, "sndhwm");
    rc |= setopt_int(sock, ZMQ_RCVHWM, HWM_MESSAGES, "rcvhwm");
    return rc == 0 ? 0 : -1;
}

/* CURVE client: encrypted, and the aggregator is authenticated by the
 * key pinned in server_key (a man in the middle cannot complete the
 * handshake); our own key pair authenticates us to its ZAP handler. */
static int
curve_setup(sender_t *self, char *err, size_t errlen)
{
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "libzmq was built without CURVE");
        return -1;
    }
    if (zmq_setsockopt(self->dealer, ZMQ_CURVE_SERVERKEY, self->agg_curve,
                       CDS_PK_BYTES) != 0
        || zmq_setsockopt(self->dealer, ZMQ_CURVE_PUBLICKEY,
                          cds_identity_curve_pk(self->id), CDS_PK_BYTES) != 0
        || zmq_setsockopt(self->dealer, ZMQ_CURVE_SECRETKEY,
                          cds_identity_curve_sk(self->id), CDS_PK_BYTES)
               != 0) {
        snprintf(err, errlen, "CURVE setup: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int
open_wake(sender_t *self, char *err, size_t errlen)
{
    char endpoint[600];
    int n = snprintf(self->wake_path, sizeof self->wake_path,
                     "%s/wake.sock", self->cfg.state_dir);
    if (n < 0 || (size_t)n >= sizeof self->wake_path) {
        snprintf(err, errlen, "state_dir too long");
        return -1;
    }
    unlink(self->wake_path);           /* stale from a crashed daemon */
    snprintf(endpoint, sizeof endpoint, "ipc://%s", self->wake_path);
    self->wake = zmq_socket(self->ctx, ZMQ_PULL);
    if (!self->wake || setopt_int(self->wake, ZMQ_LINGER, 0, "linger") != 0
        || setopt_int(self->wake, ZMQ_RCVHWM, 16, "rcvhwm") != 0
        || zmq_bind(self->wake, endpoint) != 0) {
        snprintf(err, errlen, "%s: cannot bind: %s", endpoint,
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

sender_t *
sender_new(const sender_config_t *cfg, const cds_identity_t *id,
           outbox_t *outbox, char *err, size_t errlen)
{
    sender_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->id = id;
    self->outbox = outbox;
    if (self->cfg.window < 1 || self->cfg.window > SENDER_WINDOW_MAX
        || self->cfg.batch_max < 1
        || self->cfg.batch_max > CDS_MAX_BATCH_UPDATES) {
        snprintf(err, errlen, "window must be 1..%d and batch_max 1..%d",
                 SENDER_WINDOW_MAX, CDS_MAX_BATCH_UPDATES);
        goto fail;
    }
    if (!cfg->server_key
        || cds_pubid_parse(cfg->server_key, self->agg_pk, self->agg_curve)
               != CDS_OK) {
        snprintf(err, errlen, "server_key: \"%s\" is not a cds1: identity",
                 cfg->server_key ? cfg->server_key : "");
        goto fail;
    }
    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        snprintf(err, errlen, "zmq context: %s", zmq_strerror(errno));
        goto fail;
    }
    self->dealer = zmq_socket(self->ctx, ZMQ_DEALER);
    if (self->dealer && curve_setup(self, err, errlen) != 0)
        goto fail;
    if (!self->dealer || dealer_setup(self->dealer) != 0
        || zmq_connect(self->dealer, cfg->server) != 0) {
        snprintf(err, errlen, "server: \"%s\": %s", cfg->server,
                 zmq_strerror(errno));
        goto fail;
    }
    if (open_wake(self, err, errlen) != 0)
        goto fail;
    return self;
fail:
    sender_destroy(&self);
    return NULL;
}

void
sender_destroy(sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sender_t *self = *self_p;
    if (self->dealer)
        zmq_close(self->dealer);
    if (self->wake) {
        zmq_close(self->wake);
        unlink(self->wake_path);
    }
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

/* ---- state machine ---------------------------------------------------- */

static void
set_conn(sender_t *self, const char *state, const char *error)
{
    outbox_set_conn(self->outbox, state, error, cds_now_ms());
}

/* Go to BACKOFF; long_wait after a refusal (waits near backoff_max). */
static void
backoff(sender_t *self, bool long_wait, const char *why)
{
    uint64_t max = self->cfg.backoff_max_ms;
    uint64_t ms = long_wait
                      ? max / 2 + sender_backoff_ms(0, max / 2, max / 2)
                      : sender_backoff_ms(self->attempt,
                                          self->cfg.backoff_min_ms, max);
    if (self->attempt < 64)
        self->attempt++;
    if (self->send_errors < UINT32_MAX)
        self->send_errors++;
    self->hb_due = self->hb_answer_due = 0;
    self->state = S_BACKOFF;
    self->n_flight = 0;
    self->probing = false;
    self->deadline = cds_mono_ms() + ms;
    cds_log(CDS_LOG_INFO, "backoff", "ms=%llu attempt=%u reason=%s",
            (unsigned long long)ms, self->attempt, cds_logq(why));
    set_conn(self, long_wait ? "refused" : "backoff", NULL);
}

/* Seal and send one message without blocking. 0, or -1 when it cannot
 * leave now (no connection: ZMQ_IMMEDIATE) or sealing failed. */
static int
send_msg(sender_t *self, Cdsync__Kind kind, const uint8_t *body,
         size_t body_len)
{
    uint8_t *env = NULL;
    size_t env_len = 0;
    int rc = cds_envelope_seal(self->id, kind, self->agg_pk, body, body_len,
                               &env, &env_len);
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "seal_failed", "error=%s", cds_strerror(rc));
        return -1;
    }
    rc = zmq_send(self->dealer, env, env_len, ZMQ_DONTWAIT);
    int e = errno;
    free(env);
    self->await_conn = rc < 0 && e == EAGAIN;
    if (rc < 0) {
        errno = e;
        cds_log(CDS_LOG_DEBUG, "send_failed", "error=%s",
                cds_logq(zmq_strerror(errno)));
        return -1;
    }
    return 0;
}

/* Fill the Hello probe with (seq, head) of up to CDS_MAX_PROBE pending
 * rows from the first one. */
static int
build_probe(sender_t *self, outbox_row_t **rows, size_t *n,
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

static void
send_hello(sender_t *self, bool probe)
{
    outbox_meta_t m;
    outbox_row_t *rows = NULL;
    size_t n = 0;
    Cdsync__ChainPoint *pts = NULL, **ptrs = NULL;
    uint8_t *body = NULL;
    size_t body_len = 0;
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    int rc = outbox_meta(self->outbox, &m);
    if (rc == CDS_OK && probe)
        rc = build_probe(self, &rows, &n, &pts, &ptrs);
    if (rc != CDS_OK)
        goto out;
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *)cds_identity_sign_pk(self->id);
    h.agent.len = CDS_PK_BYTES;
    h.acked_seq = m.acked_seq;
    h.acked_head.data = m.acked_head;
    h.acked_head.len = CDS_HASH_BYTES;
    h.n_probe = n;
    h.probe = ptrs;
    h.agent_version = (char *)CDS_VERSION;
    h.clock_ms = cds_now_ms();
    body = cds_msg_encode(&h.base, &body_len);
    rc = body ? CDS_OK : CDS_ENOMEM;
out:
    if (rc == CDS_OK && send_msg(self, CDSYNC__KIND__KIND_HELLO, body,
                                 body_len) == 0) {
        self->state = S_HELLO;
        self->probing = probe;
        self->n_flight = 0;
        self->deadline = cds_mono_ms() + self->cfg.ack_timeout_ms;
        cds_log(CDS_LOG_INFO, "hello_sent",
                "acked_seq=%llu probe=%zu",
                (unsigned long long)m.acked_seq, n);
        set_conn(self, "hello", NULL);
    } else {
        backoff(self, false, rc == CDS_OK ? "not_connected"
                                          : cds_strerror(rc));
    }
    free(body);
    free(pts);
    free(ptrs);
    outbox_rows_free(&rows, n);
}

/* Send one batch from next_seq. 1 sent, 0 nothing pending, -1 failure
 * (state changed to BACKOFF). */
static int
send_batch(sender_t *self)
{
    outbox_row_t *rows = NULL;
    size_t n = 0, got = 0, len = 0;
    uint8_t *body = NULL, prev[CDS_HASH_BYTES];
    int rc = outbox_read(self->outbox, self->next_seq, self->cfg.batch_max,
                         self->cfg.batch_bytes, &rows, &got);
    n = got;
    if (rc == CDS_OK && n == 0)
        return 0;
    if (rc == CDS_OK && rows[0].u.seq != self->next_seq)
        rc = CDS_EBADSEQ;          /* outbox not contiguous: never guess */
    if (rc == CDS_OK)
        rc = outbox_head_at(self->outbox, rows[0].u.seq - 1, prev);
    while (rc == CDS_OK && n > 1 && rows[n - 1].u.seq != rows[0].u.seq + n - 1)
        n--;
    if (rc == CDS_OK)
        rc = sender_batch_encode(rows, n, cds_identity_sign_pk(self->id),
                                 prev, self->cfg.catalog_version,
                                 cds_now_ms(), &body, &len);
    if (rc == CDS_OK
        && send_msg(self, CDSYNC__KIND__KIND_BATCH, body, len) == 0) {
        CDS_FAILPOINT("agent_after_send");   /* sent, not yet recorded */
        flight_t *f = &self->flight[self->n_flight++];
        f->first = rows[0].u.seq;
        f->last = rows[n - 1].u.seq;
        f->sent_at = cds_mono_ms();
        self->next_seq = f->last + 1;
        cds_log(CDS_LOG_INFO, "batch_sent", "first=%llu last=%llu bytes=%zu",
                (unsigned long long)f->first, (unsigned long long)f->last,
                len);
        rc = 1;
    } else {
        if (rc != CDS_OK)
            cds_log(CDS_LOG_ERROR, "batch_failed", "from=%llu error=%s",
                    (unsigned long long)self->next_seq, cds_strerror(rc));
        backoff(self, false, rc == CDS_OK ? "not_connected"
                                          : cds_strerror(rc));
        rc = -1;
    }
    free(body);
    outbox_rows_free(&rows, got);
    return rc;
}

static void
fill_window(sender_t *self)
{
    while (self->state == S_SENDING && self->n_flight < self->win)
        if (send_batch(self) <= 0)
            break;
}

static void
start_sending(sender_t *self, uint64_t applied)
{
    outbox_meta_t m;
    if (outbox_meta(self->outbox, &m) != CDS_OK) {
        backoff(self, false, "database");
        return;
    }
    uint64_t first = outbox_first_pending(self->outbox);
    if (applied < m.acked_seq)
        cds_log(CDS_LOG_ERROR, "aggregator_behind",
                "applied=%llu acked_seq=%llu note=\"the aggregator lost "
                "data we hold acks for; sending what we have\"",
                (unsigned long long)applied,
                (unsigned long long)m.acked_seq);
    cds_log(CDS_LOG_INFO, "synced", "applied=%llu first_pending=%llu",
            (unsigned long long)applied, (unsigned long long)first);
    self->state = S_SENDING;
    self->probing = false;
    self->deadline = 0;
    self->n_flight = 0;
    /* Start with about 2,000 updates in flight (as 4 x 500 always did);
     * adapt_window grows it while acks come back quickly. */
    size_t start = 2000 / (self->cfg.batch_max ? self->cfg.batch_max : 1);
    self->win = start < 1 ? 1 : start > self->cfg.window ? self->cfg.window
                                                         : start;
    self->next_seq = first ? first : m.last_seq + 1;
    self->hb_answer_due = 0;
    self->hb_due = self->cfg.heartbeat_ms
                       ? cds_mono_ms() + self->cfg.heartbeat_ms : 0;
    set_conn(self, "connected", NULL);
    self->recheck_due = cds_mono_ms() + OUTBOX_RECHECK_MS;
    fill_window(self);
}

/* ---- answers from the aggregator -------------------------------------- */

static void
log_renumbered(uint64_t from, uint64_t after, uint64_t count)
{
    cds_log(CDS_LOG_WARN, "renumbered", "from=%llu to=%llu count=%llu",
            (unsigned long long)from, (unsigned long long)(after + 1),
            (unsigned long long)count);
}

/* Restored database: drop what the aggregator already holds with the same
 * head, renumber what differs. true when something moved. */
static bool
apply_probe(sender_t *self, const Cdsync__HelloAnswer *a, uint64_t first)
{
    bool progress = false;
    uint64_t count = 0;
    if (a->probe_matched && first && a->probe_matched >= first) {
        Cdsync__Ack ack = CDSYNC__ACK__INIT;
        ack.status = CDSYNC__ACK_STATUS__ACK_OK;
        ack.acked_seq = a->probe_matched;
        if (outbox_apply_ack(self->outbox, &ack, NULL, 0, cds_now_ms())
            == CDS_OK) {
            cds_log(CDS_LOG_INFO, "probe_matched", "acked=%llu",
                    (unsigned long long)a->probe_matched);
            progress = true;
        }
    }
    if (a->probe_mismatch
        && outbox_renumber(self->outbox, a->probe_mismatch, a->applied_seq,
                           a->applied_head.data, &count)
               == CDS_OK) {
        log_renumbered(a->probe_mismatch, a->applied_seq, count);
        progress = true;
    }
    return progress;
}

static void
on_hello_answer(sender_t *self, const Cdsync__HelloAnswer *a)
{
    char why[600];
    uint64_t n = a->applied_seq, count = 0;
    if (self->state != S_HELLO)
        return;                        /* stale answer to an older hello */
    if (a->error) {
        snprintf(why, sizeof why, "hello refused: %s: %s",
                 cds_strerror((int)a->error), a->message ? a->message : "");
        cds_log(CDS_LOG_ERROR, "refused", "reason=%s message=%s",
                cds_strerror((int)a->error), cds_logq(a->message));
        set_conn(self, "refused", why);
        backoff(self, true, cds_strerror((int)a->error));
        return;
    }
    if (n > 0 && a->applied_head.len != CDS_HASH_BYTES) {
        cds_log(CDS_LOG_ERROR, "bad_answer", "reason=applied_head_length");
        backoff(self, false, "bad_answer");
        return;
    }
    uint64_t first = outbox_first_pending(self->outbox);
    bool progress = self->probing && apply_probe(self, a, first);
    first = outbox_first_pending(self->outbox);
    if (self->probing && !progress && first && first <= n
        && outbox_renumber(self->outbox, first, n, a->applied_head.data,
                           &count) == CDS_OK) {
        /* The answer told us nothing about rows it should know: never
         * risk sending a seq with two contents, move them past n. */
        log_renumbered(first, n, count);
        first = outbox_first_pending(self->outbox);
    }
    outbox_meta_t m;
    if (outbox_meta(self->outbox, &m) == CDS_OK && !first && n > m.last_seq
        && outbox_renumber(self->outbox, m.last_seq + 1, n,
                           a->applied_head.data, &count) == CDS_OK)
        cds_log(CDS_LOG_WARN, "adopted_seq", "last_seq=%llu applied=%llu",
                (unsigned long long)m.last_seq, (unsigned long long)n);
    if (first && first <= n)
        send_hello(self, true);        /* restored: probe our pending heads */
    else
        start_sending(self, n);
}

static ssize_t
flight_index(const sender_t *self, uint64_t first, uint64_t last)
{
    for (size_t i = 0; i < self->n_flight; i++)
        if (self->flight[i].first == first && self->flight[i].last == last)
            return (ssize_t)i;
    return -1;
}

static void
drop_flights_upto(sender_t *self, uint64_t acked)
{
    size_t k = 0;
    for (size_t i = 0; i < self->n_flight; i++)
        if (self->flight[i].last > acked)
            self->flight[k++] = self->flight[i];
    self->n_flight = k;
}

/* Window from the ack delay of the batch just answered: one more batch
 * while acks take under 1/8 of ack_timeout_ms (one agent catching up on an
 * idle aggregator: bigger groups, fewer fsyncs per update), half as many
 * when over 1/4 (a province catching up at once: every agent's last batch
 * in flight must still be answered before its ack timeout). */
static void
adapt_window(sender_t *self, uint64_t sent_at)
{
    uint64_t delay = cds_mono_ms() - sent_at;
    if (delay > self->cfg.ack_timeout_ms / 4 && self->win > 1) {
        self->win /= 2;
        cds_log(CDS_LOG_INFO, "window", "batches=%zu ack_delay_ms=%llu",
                self->win, (unsigned long long)delay);
    } else if (delay < self->cfg.ack_timeout_ms / 8
               && self->win < self->cfg.window)
        self->win++;
}

static void
on_ack_ok(sender_t *self, const Cdsync__Ack *a, const uint8_t *raw,
          size_t raw_len)
{
    CDS_FAILPOINT("agent_before_ack_record");   /* acked, not recorded */
    int rc = outbox_apply_ack(self->outbox, a, raw, raw_len, cds_now_ms());
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "ack_not_recorded", "acked=%llu error=%s",
                (unsigned long long)a->acked_seq, cds_strerror(rc));
        backoff(self, false, "database");
        return;
    }
    cds_log(CDS_LOG_INFO, "ack", "acked=%llu rejected=%zu first=%llu "
            "last=%llu",
            (unsigned long long)a->acked_seq, a->n_rejections,
            (unsigned long long)a->batch_first,
            (unsigned long long)a->batch_last);
    self->attempt = 0;
    if (self->state != S_SENDING)
        return;
    ssize_t i = flight_index(self, a->batch_first, a->batch_last);
    if (i >= 0)
        adapt_window(self, self->flight[i].sent_at);
    drop_flights_upto(self, a->acked_seq);
    if (i >= 0 && a->acked_seq < a->batch_last) {
        /* Processed less than the batch: resend from what it holds. */
        self->n_flight = 0;
        self->next_seq = a->acked_seq + 1;
    }
    set_conn(self, "connected", NULL);
    fill_window(self);
}

/* ACK_GAP: the aggregator expects acked_seq + 1. Acks come back in send
 * order, so when the batch starting there was sent after the answered one
 * it is already on its way; otherwise it was lost: resend from there. */
static void
on_ack_gap(sender_t *self, const Cdsync__Ack *a)
{
    cds_log(CDS_LOG_WARN, "gap", "acked=%llu first=%llu last=%llu",
            (unsigned long long)a->acked_seq,
            (unsigned long long)a->batch_first,
            (unsigned long long)a->batch_last);
    if (self->state != S_SENDING)
        return;
    ssize_t g = flight_index(self, a->batch_first, a->batch_last);
    ssize_t e = -1;
    for (size_t i = 0; i < self->n_flight; i++)
        if (self->flight[i].first == a->acked_seq + 1)
            e = (ssize_t)i;
    if (g < 0 || e > g)
        return;
    uint64_t first = outbox_first_pending(self->outbox);
    if (first > a->acked_seq + 1) {
        cds_log(CDS_LOG_ERROR, "aggregator_behind",
                "expected=%llu first_pending=%llu",
                (unsigned long long)(a->acked_seq + 1),
                (unsigned long long)first);
        backoff(self, false, "gap_unfillable");
        return;
    }
    self->n_flight = 0;
    self->next_seq = a->acked_seq + 1;
    fill_window(self);
}

static void
on_ack(sender_t *self, const Cdsync__Ack *a, const uint8_t *raw,
       size_t raw_len)
{
    char why[600];
    switch (a->status) {
    case CDSYNC__ACK_STATUS__ACK_OK:
        on_ack_ok(self, a, raw, raw_len);
        break;
    case CDSYNC__ACK_STATUS__ACK_GAP:
        on_ack_gap(self, a);
        break;
    case CDSYNC__ACK_STATUS__ACK_RETRY:
        cds_log(CDS_LOG_WARN, "retry", "first=%llu last=%llu error=%s",
                (unsigned long long)a->batch_first,
                (unsigned long long)a->batch_last,
                cds_strerror((int)a->error));
        if (self->state == S_SENDING
            && flight_index(self, a->batch_first, a->batch_last) >= 0)
            backoff(self, false, cds_strerror((int)a->error));
        break;
    case CDSYNC__ACK_STATUS__ACK_REFUSED:
        outbox_apply_ack(self->outbox, a, raw, raw_len, cds_now_ms());
        snprintf(why, sizeof why, "batch %llu..%llu refused: %s: %s",
                 (unsigned long long)a->batch_first,
                 (unsigned long long)a->batch_last,
                 cds_strerror((int)a->error), a->message ? a->message : "");
        cds_log(CDS_LOG_ERROR, "refused", "first=%llu last=%llu reason=%s "
                "message=%s",
                (unsigned long long)a->batch_first,
                (unsigned long long)a->batch_last,
                cds_strerror((int)a->error), cds_logq(a->message));
        set_conn(self, "refused", why);
        if (self->state == S_SENDING)
            backoff(self, true, cds_strerror((int)a->error));
        break;
    default:
        cds_log(CDS_LOG_WARN, "drop", "reason=unknown_ack_status status=%d",
                (int)a->status);
    }
}

/* The link works both ways: the next Heartbeat after one interval. The
 * answer is signed for our key (checked in on_frame), so it needs no agent
 * field. */
static void
on_heartbeat_answer(sender_t *self, const Cdsync__HeartbeatAnswer *a)
{
    if (self->state != S_SENDING || !self->hb_answer_due)
        return;                        /* late answer to an older one */
    self->hb_answer_due = 0;
    self->send_errors = 0;
    self->hb_due = cds_mono_ms() + self->cfg.heartbeat_ms;
    cds_log(CDS_LOG_DEBUG, "heartbeat_answer", "applied=%llu",
            (unsigned long long)a->applied_seq);
}

/* Queue figures and clock in one signed Heartbeat. A send that cannot
 * leave is a dead link: back off like an ack timeout. */
static void
send_heartbeat(sender_t *self)
{
    outbox_meta_t m;
    Cdsync__Heartbeat h = CDSYNC__HEARTBEAT__INIT;
    uint64_t now = cds_now_ms();
    int64_t depth = outbox_depth(self->outbox);
    int64_t age = outbox_oldest_age_ms(self->outbox, now);
    int64_t bytes = outbox_bytes_pending(self->outbox);
    if (outbox_meta(self->outbox, &m) != CDS_OK || depth < 0 || age < 0
        || bytes < 0) {
        backoff(self, false, "database");
        return;
    }
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *)cds_identity_sign_pk(self->id);
    h.agent.len = CDS_PK_BYTES;
    h.queue_depth = (uint64_t)depth;
    h.oldest_pending_ms = (uint64_t)age;
    h.bytes_pending = (uint64_t)bytes;
    h.acked_seq = m.acked_seq;
    h.send_errors = self->send_errors;
    h.agent_version = (char *)CDS_VERSION;
    h.clock_ms = now;
    size_t len = 0;
    uint8_t *body = cds_msg_encode(&h.base, &len);
    if (!body || send_msg(self, CDSYNC__KIND__KIND_HEARTBEAT, body, len)
                     != 0) {
        free(body);
        backoff(self, false, body ? "not_connected" : "out_of_memory");
        return;
    }
    free(body);
    self->hb_due = 0;
    self->hb_answer_due = cds_mono_ms() + self->cfg.ack_timeout_ms;
    cds_log(CDS_LOG_DEBUG, "heartbeat_sent", "depth=%lld oldest_ms=%lld",
            (long long)depth, (long long)age);
}

/* Names our key? Answers meant for another agent are dropped. */
static bool
for_us(const sender_t *self, ProtobufCBinaryData agent, const char *what)
{
    if (agent.len == CDS_PK_BYTES
        && sodium_memcmp(agent.data, cds_identity_sign_pk(self->id),
                         CDS_PK_BYTES) == 0)
        return true;
    cds_log(CDS_LOG_WARN, "drop", "reason=other_agent kind=%s", what);
    return false;
}

static void
dispatch(sender_t *self, const Cdsync__Envelope *env, const uint8_t *raw,
         size_t len)
{
    int err = CDS_OK;
    if (env->kind == CDSYNC__KIND__KIND_ACK) {
        Cdsync__Ack *a = cds_msg_decode(&cdsync__ack__descriptor,
                                        env->body.data, env->body.len, &err);
        if (!a)
            cds_log(CDS_LOG_WARN, "drop", "reason=%s kind=ack",
                    cds_strerror(err));
        else if (for_us(self, a->agent, "ack"))
            on_ack(self, a, raw, len);
        cds_msg_free(a);
    } else if (env->kind == CDSYNC__KIND__KIND_HELLO_ANSWER) {
        Cdsync__HelloAnswer *a =
            cds_msg_decode(&cdsync__hello_answer__descriptor, env->body.data,
                           env->body.len, &err);
        if (!a)
            cds_log(CDS_LOG_WARN, "drop", "reason=%s kind=hello_answer",
                    cds_strerror(err));
        else if (for_us(self, a->agent, "hello_answer"))
            on_hello_answer(self, a);
        cds_msg_free(a);
    } else if (env->kind == CDSYNC__KIND__KIND_HEARTBEAT_ANSWER) {
        Cdsync__HeartbeatAnswer *a =
            cds_msg_decode(&cdsync__heartbeat_answer__descriptor,
                           env->body.data, env->body.len, &err);
        if (!a)
            cds_log(CDS_LOG_WARN, "drop", "reason=%s kind=heartbeat_answer",
                    cds_strerror(err));
        else
            on_heartbeat_answer(self, a);
        cds_msg_free(a);
    } else {
        cds_log(CDS_LOG_WARN, "drop", "reason=unexpected_kind kind=%d",
                (int)env->kind);
    }
}

/* Untrusted bytes: bounded decode -> signer is our server -> signature
 * for us -> only then the body (signify's order). */
static void
on_frame(sender_t *self, const uint8_t *data, size_t len)
{
    Cdsync__Envelope *env = NULL;
    int rc = cds_envelope_decode(data, len, &env);
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_WARN, "drop", "reason=%s bytes=%zu",
                cds_strerror(rc), len);
        return;
    }
    if (env->signer.len != CDS_PK_BYTES
        || sodium_memcmp(env->signer.data, self->agg_pk, CDS_PK_BYTES) != 0)
        cds_log(CDS_LOG_WARN, "drop", "reason=unknown_key kind=%d",
                (int)env->kind);
    else if (cds_envelope_verify(env, cds_identity_sign_pk(self->id))
             != CDS_OK)
        cds_log(CDS_LOG_WARN, "drop", "reason=bad_signature kind=%d",
                (int)env->kind);
    else
        dispatch(self, env, data, len);
    cds_msg_free(env);
}

/* Read everything waiting on the DEALER. -1 on a socket failure. */
static int
drain_dealer(sender_t *self)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int rc = zmq_msg_recv(&msg, self->dealer, ZMQ_DONTWAIT);
        if (rc < 0) {
            int e = errno;
            zmq_msg_close(&msg);
            return e == EAGAIN || e == EINTR ? 0 : -1;
        }
        if (zmq_msg_more(&msg)) {
            /* Our protocol is one frame: drop every part of this one. */
            cds_log(CDS_LOG_WARN, "drop", "reason=multipart");
            while (zmq_msg_more(&msg)
                   && zmq_msg_recv(&msg, self->dealer, 0) >= 0)
                ;
        } else {
            on_frame(self, zmq_msg_data(&msg), zmq_msg_size(&msg));
        }
        zmq_msg_close(&msg);
    }
}

static void
drain_wake(sender_t *self)
{
    char buf[16];
    while (zmq_recv(self->wake, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        ;
}

/* ---- timers and the loop ---------------------------------------------- */

static uint64_t
earliest(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* Next deadline (monotonic ms) or 0 when there is none: the oldest ack,
 * the Heartbeat answer, or the next Heartbeat (one wakeup per interval
 * when idle). */
static uint64_t
next_deadline(const sender_t *self)
{
    if (self->state != S_SENDING)
        return self->deadline;
    uint64_t due = earliest(earliest(self->hb_due, self->hb_answer_due),
                            self->recheck_due);
    if (self->n_flight == 0)
        return due;
    return earliest(due, self->flight[0].sent_at + self->cfg.ack_timeout_ms);
}

/* Heartbeat due or its answer missing (a half-open link: treated like an
 * ack timeout). true when the state changed. */
static bool
on_heartbeat_timer(sender_t *self, uint64_t now)
{
    if (self->hb_answer_due && now >= self->hb_answer_due) {
        cds_log(CDS_LOG_WARN, "heartbeat_timeout", "after_ms=%llu",
                (unsigned long long)self->cfg.ack_timeout_ms);
        backoff(self, false, "heartbeat_timeout");
        return true;
    }
    if (self->hb_due && now >= self->hb_due)
        send_heartbeat(self);
    return self->state != S_SENDING;
}

static void
on_timers(sender_t *self)
{
    uint64_t due = next_deadline(self);
    if (!due || cds_mono_ms() < due)
        return;
    if (self->state == S_SENDING && on_heartbeat_timer(self, cds_mono_ms()))
        return;
    if (self->state == S_SENDING && self->recheck_due
        && cds_mono_ms() >= self->recheck_due) {
        self->recheck_due = cds_mono_ms() + OUTBOX_RECHECK_MS;
        fill_window(self);             /* rows whose wake was lost */
        if (self->state != S_SENDING)
            return;
    }
    if (self->state == S_SENDING
        && (self->n_flight == 0
            || cds_mono_ms() < self->flight[0].sent_at
                                   + self->cfg.ack_timeout_ms))
        return;
    switch (self->state) {
    case S_HELLO:
        cds_log(CDS_LOG_WARN, "hello_timeout", "after_ms=%llu",
                (unsigned long long)self->cfg.ack_timeout_ms);
        backoff(self, false, "hello_timeout");
        break;
    case S_SENDING:
        cds_log(CDS_LOG_WARN, "ack_timeout", "first=%llu last=%llu",
                (unsigned long long)self->flight[0].first,
                (unsigned long long)self->flight[0].last);
        backoff(self, false, "ack_timeout");
        break;
    case S_BACKOFF:
        send_hello(self, false);
        break;
    }
}

static long
poll_timeout(const sender_t *self)
{
    uint64_t due = next_deadline(self);
    if (!due)
        return -1;                     /* idle: block, no CPU */
    uint64_t now = cds_mono_ms();
    return due <= now ? 0 : (long)(due - now);
}

int
sender_run(sender_t *self)
{
    int rc = CDS_OK;
    send_hello(self, false);
    while (!cds_signal_stop_requested()) {
        /* Waiting for a connection (ZMQ_IMMEDIATE refused a send): the
         * DEALER turns writable when a pipe is attached; say hello then
         * instead of at the end of the backoff. */
        bool waiting = self->state == S_BACKOFF && self->await_conn;
        zmq_pollitem_t items[] = {
            {self->dealer, 0, ZMQ_POLLIN | (waiting ? ZMQ_POLLOUT : 0), 0},
            {self->wake, 0, ZMQ_POLLIN, 0},
            {NULL, cds_signal_fd(), ZMQ_POLLIN, 0}}; /* SIGTERM: see cds_signal.h */
        int n_items = cds_signal_fd() >= 0 ? 3 : 2;
        if (zmq_poll(items, n_items, poll_timeout(self)) < 0) {
            if (errno == EINTR)
                continue;
            cds_log(CDS_LOG_ERROR, "poll_failed", "error=%s",
                    cds_logq(zmq_strerror(errno)));
            rc = CDS_EIO;
            break;
        }
        if ((items[0].revents & ZMQ_POLLIN) && drain_dealer(self) < 0) {
            cds_log(CDS_LOG_ERROR, "recv_failed", "error=%s",
                    cds_logq(zmq_strerror(errno)));
            rc = CDS_EIO;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            drain_wake(self);
            fill_window(self);         /* new rows: send if we may */
        }
        if (waiting && self->state == S_BACKOFF
            && (items[0].revents & ZMQ_POLLOUT))
            send_hello(self, false);
        on_timers(self);               /* acks, backoff, heartbeats */
    }
    cds_log(CDS_LOG_INFO, "stopped", "reason=%s",
            rc == CDS_OK ? "signal" : cds_strerror(rc));
    set_conn(self, "stopped", NULL);
    return rc;
}
