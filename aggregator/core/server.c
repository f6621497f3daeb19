/*  server: ROUTER socket, group commit, replies after commit. See server.h.
 *  Uses libzmq directly (not zsock) because every socket option below is
 *  set deliberately and must be visible in one place. */
#include "server.h"
#include "auth.h"
#include "commitmark.h"
#include "connguard.h"
#include "progress.h"
#include "cds_service.h"
#include "cds_signal.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_failpoint.h"
#include "cds_log.h"
#include "cds_trace.h"
#include "cds_util.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define KEEPALIVE_IDLE_S 30            /* TCP probe after 30 s of silence */
#define KEEPALIVE_INTVL_S 10           /* then every 10 s */
#define KEEPALIVE_CNT 3                /* 3 unanswered: connection dead */
#define TCP_MAXRT_MS 60000             /* unacked data 60 s: dead */
#define BACKLOG 4096                   /* pending TCP connections (capped
                                        * by net.core.somaxconn) */
#define SNDHWM_MESSAGES 10000          /* acks queued per peer */
/* Whole messages queued per connection before libzmq stops reading it
 * (backpressure, nothing lost): an agent has at most its window (<= 64,
 * agent/sender.h) + a hello + heartbeats out. With frames <=
 * CDS_MAX_FRAME_BYTES this bounds what a slow drain lets one peer queue;
 * connguard bounds the rest (a multipart message in progress). */
#define RCVHWM_MESSAGES 128
/* A connection that has not completed CURVE + ZAP within this is closed
 * by libzmq (default 30 s): idle sockets cannot hold descriptors long. */
#define HANDSHAKE_IVL_MS 10000
#define BACKOFF_MS 50                  /* after a resource error */
/* A DRAFT option in zmq.h 4.3.4, but built into Debian's libzmq5 (checked
 * at start: setting it fails otherwise, and we refuse to run). */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif
/* A DRAFT context option of 4.3.4, accepted by Debian's libzmq5. */
#ifndef ZMQ_ZERO_COPY_RECV
#define ZMQ_ZERO_COPY_RECV 10
#endif


/* One message of the current group, waiting for COMMIT. */
typedef struct {
    zmq_msg_t id;                      /* routing id frame */
    ingest_result_t res;               /* reply to send after commit */
    uint64_t recv_ns;                  /* received (progress.h clock) */
    uint64_t take_ns;                  /* taken by the writer (timed) */
} pending_t;

/* One received message not yet applied. */
typedef struct {
    zmq_msg_t id, body;                /* routing id, the message */
    int frames;                        /* parts received */
    uint64_t now_ms;                   /* when received */
    uint64_t recv_ns;                  /* the same, progress.h clock */
    ingest_prep_t *prep;               /* by the worker; NULL: none */
} inmsg_t;

struct server {
    void *ctx;                         /* zmq context (owned) */
    void *sock;                        /* ROUTER (owned) */
    store_t *store;                    /* borrowed */
    ingest_t *ingest;                  /* borrowed */
    int group_max;                     /* messages per transaction */
    pending_t *pending;                /* group_max slots */
    char endpoint[256];                /* bound endpoint */
    auth_t *auth;                      /* ZAP handler, NULL: no CURVE */
    commitmark_t *mark;                /* borrowed, NULL: no commit mark */
    connguard_t *guard;                /* borrowed, NULL: none (tests) */
    progress_t *progress;              /* borrowed, NULL: none (tests) */
    /* Received messages in order: [head, prepared) prepared by the worker,
     * [prepared, tail) waiting for it. Counters only grow; slot = n % cap.
     * The writer owns head and the slots it applies; the worker only the
     * slot at `prepared`; both counters move under mu. */
    inmsg_t *ring;
    size_t ring_cap, head, prepared, tail;
    pthread_t worker;
    bool worker_on;                    /* else ingest prepares inline */
    bool stop;                         /* worker: end (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t work, done;         /* tail moved / prepared moved */
    FILE *trace;                       /* CDS_TRACE_GROUPS, NULL: off */
    bool timed;                        /* trace or cds_trace_on(): tr[] */
    uint64_t tr[5];                    /* trace: begin, applied, committed,
                                        * marked, replied (progress clock) */
};

static int
setopt_int(void *sock, int opt, int v, const char *name)
{
    if (zmq_setsockopt(sock, opt, &v, sizeof v) == 0)
        return 0;
    cds_log(CDS_LOG_ERROR, "socket_option_failed", "option=%s error=%s",
            name, cds_logq(zmq_strerror(errno)));
    return -1;
}

/* Every option chosen deliberately (DESIGN.md "Delivery"). CURVE transport
 * is set by curve_setup (server_new_secure), also before zmq_bind. */
static int
socket_setup(void *sock)
{
    int64_t maxmsg = CDS_MAX_FRAME_BYTES;
    int rc = 0;
    /* A reply to a peer that is gone fails with EHOSTUNREACH instead of
     * being dropped silently: we log it; the agent resends after its ack
     * timeout, and the resend is re-acked without effect. */
    rc |= setopt_int(sock, ZMQ_ROUTER_MANDATORY, 1, "router_mandatory");
    /* Backstop: frames over twice our own bound are refused by libzmq (the
     * peer is disconnected) before they reach our memory. Frames between
     * CDS_MAX_MSG_BYTES and this are read so ingest can reject them as
     * too_big and record them, which an operator can then see. */
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        rc = -1;
    /* Unsent acks at shutdown are worthless: the agent will resend and be
     * re-acked; never block exit on them. */
    rc |= setopt_int(sock, ZMQ_LINGER, 0, "linger");
    /* Detect dead TCP connections that never send a FIN (links that drop
     * for hours), so their pipes and queued acks are released: by the
     * kernel's TCP keepalive and user timeout, NOT by ZMTP heartbeats.
     * libzmq 4.3 keeps the timers of an I/O thread in one multimap and
     * cancels them by linear search; every ZMTP ping/pong cancels one, so
     * heartbeats on N connections cost O(N^2) per second. At 10,000
     * agents that saturated the I/O thread: the accept queue stayed full
     * and 10-15 % of the agents never completed a handshake
     * (docs/PERFORMANCE.md, 6-10000). The agents' own pings (5 s) are
     * still answered with a PONG, which costs no timer here. */
    rc |= setopt_int(sock, ZMQ_TCP_KEEPALIVE, 1, "tcp_keepalive");
    rc |= setopt_int(sock, ZMQ_TCP_KEEPALIVE_IDLE, KEEPALIVE_IDLE_S,
                     "tcp_keepalive_idle");
    rc |= setopt_int(sock, ZMQ_TCP_KEEPALIVE_INTVL, KEEPALIVE_INTVL_S,
                     "tcp_keepalive_intvl");
    rc |= setopt_int(sock, ZMQ_TCP_KEEPALIVE_CNT, KEEPALIVE_CNT,
                     "tcp_keepalive_cnt");
    rc |= setopt_int(sock, ZMQ_TCP_MAXRT, TCP_MAXRT_MS, "tcp_maxrt");
    /* A province reconnecting after a restart opens thousands of TCP
     * connections at once; with libzmq's default backlog (100) most SYNs
     * are dropped and the agents back off for up to a minute. */
    rc |= setopt_int(sock, ZMQ_BACKLOG, BACKLOG, "backlog");
    /* Bounded queues per peer; correctness never depends on them because
     * anything dropped is resent by the agent. */
    rc |= setopt_int(sock, ZMQ_SNDHWM, SNDHWM_MESSAGES, "sndhwm");
    rc |= setopt_int(sock, ZMQ_RCVHWM, RCVHWM_MESSAGES, "rcvhwm");
    rc |= setopt_int(sock, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS,
                     "handshake_ivl");
    return rc == 0 ? 0 : -1;
}

/* Context options that trim memory per connection; optional: a libzmq
 * without them costs memory, not correctness. ZERO_COPY_RECV off: each
 * message is copied out of the connection's 8 KiB receive buffer, which
 * is then reused in place, instead of the buffer being lent to the
 * message (and a fresh 18.6 KiB buffer + message-slot table allocated
 * while it is lent): with many idle agents this saves about 1 page per
 * connection and the allocation churn; batches (> 8 KiB) were copied
 * anyway. */
static void
ctx_setup(void *ctx)
{
    if (zmq_ctx_set(ctx, ZMQ_ZERO_COPY_RECV, 0) != 0)
        cds_log(CDS_LOG_INFO, "zero_copy_recv_unavailable", "error=%s",
                cds_logq(zmq_strerror(errno)));
}

/* CURVE server with our key pair, the ZAP handler and its domain. Never
 * CURVE_ALLOW_ANY: ZAP_ENFORCE_DOMAIN makes libzmq fail every handshake
 * that no handler approved, so a missing handler denies, not admits. */
static int
curve_setup(server_t *self, const cds_identity_t *id)
{
    if (!zmq_has("curve")) {
        cds_log(CDS_LOG_ERROR, "curve_unavailable",
                "message=%s", cds_logq("libzmq was built without CURVE"));
        return -1;
    }
    self->auth = auth_new(self->ctx, store_location(self->store));
    if (!self->auth || auth_watch(self->auth, self->sock) != CDS_OK)
        return -1;
    int rc = setopt_int(self->sock, ZMQ_CURVE_SERVER, 1, "curve_server");
    if (zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY,
                       cds_identity_curve_sk(id), CDS_PK_BYTES) != 0
        || zmq_setsockopt(self->sock, ZMQ_ZAP_DOMAIN, AUTH_DOMAIN,
                          strlen(AUTH_DOMAIN)) != 0)
        rc = -1;
    rc |= setopt_int(self->sock, ZMQ_ZAP_ENFORCE_DOMAIN, 1,
                     "zap_enforce_domain");
    if (rc != 0)
        cds_log(CDS_LOG_ERROR, "curve_setup_failed", "error=%s",
                cds_logq(zmq_strerror(errno)));
    return rc;
}

/* The worker: decode, verify and check each received message
 * (ingest_prepare) while the writer applies the one before it. Pure CPU
 * work on a second core: in a catch-up the writer thread was the limit
 * (docs/PERFORMANCE.md "Third pass"). */
static void *
prep_worker(void *arg)
{
    server_t *self = arg;
    pthread_mutex_lock(&self->mu);
    while (!self->stop) {
        if (self->prepared == self->tail) {
            pthread_cond_wait(&self->work, &self->mu);
            continue;
        }
        inmsg_t *in = &self->ring[self->prepared % self->ring_cap];
        pthread_mutex_unlock(&self->mu);
        ingest_prep_t *p = NULL;
        if (in->frames == 2)
            p = ingest_prepare(self->ingest, zmq_msg_data(&in->body),
                               zmq_msg_size(&in->body), in->now_ms);
        pthread_mutex_lock(&self->mu);
        in->prep = p;
        self->prepared++;
        pthread_cond_signal(&self->done);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

/* Ring of 2 groups: one being applied, the next being prepared. Without a
 * worker thread ingest_message_prepared prepares each message itself. */
static int
pipeline_start(server_t *self)
{
    self->ring_cap = 2 * (size_t) self->group_max;
    self->ring = calloc(self->ring_cap, sizeof *self->ring);
    if (!self->ring)
        return -1;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->work, NULL);
    pthread_cond_init(&self->done, NULL);
    int rc = pthread_create(&self->worker, NULL, prep_worker, self);
    self->worker_on = rc == 0;
    if (rc != 0)
        cds_log(CDS_LOG_WARN, "prep_worker_unavailable", "error=%s",
                cds_logq(strerror(rc)));
    return 0;
}

static void
pipeline_stop(server_t *self)
{
    if (!self->ring)
        return;
    if (self->worker_on) {
        pthread_mutex_lock(&self->mu);
        self->stop = true;
        pthread_cond_signal(&self->work);
        pthread_mutex_unlock(&self->mu);
        pthread_join(self->worker, NULL);
        self->worker_on = false;
    }
    /* Received, never applied: the agents resend them. */
    for (; self->head < self->tail; self->head++) {
        inmsg_t *in = &self->ring[self->head % self->ring_cap];
        zmq_msg_close(&in->id);
        zmq_msg_close(&in->body);
        ingest_prep_destroy(&in->prep);
    }
    pthread_cond_destroy(&self->work);
    pthread_cond_destroy(&self->done);
    pthread_mutex_destroy(&self->mu);
    free(self->ring);
    self->ring = NULL;
}

/* server_bind_error(): zmq_strerror's static text, or NULL. Set only by
 * the thread that creates servers (main), read by it after a failure. */
static const char *bind_error;

/* The group-commit trace (server.h "Group trace"): off unless the
 * environment names a file; appended to, one line per committed group. */
static void
trace_open(server_t *self)
{
    const char *path = getenv("CDS_TRACE_GROUPS");
    self->timed = cds_trace_on();      /* per-batch steps: trace_batches */
    if (!path || !*path)
        return;
    self->trace = fopen(path, "a");
    self->timed = self->trace || self->timed;
    if (!self->trace)
        cds_log(CDS_LOG_WARN, "trace_open_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
}

/* One trace line for the group of n just committed: its acked batches
 * as SIGNER:FIRST-LAST (signer: the first 8 bytes of its key, hex), then
 * t=QUEUED,APPLY,COMMIT,MARK,REPLY in microseconds: first message
 * received -> BEGIN, BEGIN -> applied, COMMIT, commit mark, replies. */
static void
trace_group(server_t *self, int n)
{
    int batches = 0;
    for (int i = 0; i < n; i++) {
        const ingest_result_t *r = &self->pending[i].res;
        if (r->kind != CDSYNC__KIND__KIND_BATCH || !r->has_peer
            || r->outcome != INGEST_DONE || r->first_seq == 0)
            continue;
        fprintf(self->trace, "%s", batches++ ? " " : "");
        for (int k = 0; k < 8; k++)
            fprintf(self->trace, "%02x", r->peer[k]);
        fprintf(self->trace, ":%llu-%llu", (unsigned long long) r->first_seq,
                (unsigned long long) r->last_seq);
    }
    if (!batches)
        return;
    const uint64_t *t = self->tr;
    uint64_t recv = self->pending[0].recv_ns;
    fprintf(self->trace, " t=%llu,%llu,%llu,%llu,%llu\n",
            (unsigned long long) (t[0] > recv ? (t[0] - recv) / 1000 : 0),
            (unsigned long long) ((t[1] - t[0]) / 1000),
            (unsigned long long) ((t[2] - t[1]) / 1000),
            (unsigned long long) ((t[3] - t[2]) / 1000),
            (unsigned long long) ((t[4] - t[3]) / 1000));
}

/* CDS_TRACE (common/cds_trace.h): one agg_batch line per acked batch of
 * the group just answered, its steps in microseconds of CLOCK_MONOTONIC:
 * recv (the ROUTER read it), take (the writer took it, prepared), begin,
 * commit (COMMIT returned), mark (commit mark synced), reply (the group's
 * replies sent). tests/bench/trace_steps.py matches them to the agent's
 * lines by first/last. */
static void
trace_batches(const server_t *self, int n)
{
    const uint64_t *t = self->tr;
    for (int i = 0; i < n; i++) {
        const pending_t *p = &self->pending[i];
        const ingest_result_t *r = &p->res;
        if (r->kind != CDSYNC__KIND__KIND_BATCH || r->outcome != INGEST_DONE
            || r->first_seq == 0)
            continue;
        cds_trace("agg_batch", "first=%llu last=%llu recv=%llu take=%llu "
                  "begin=%llu commit=%llu mark=%llu reply=%llu",
                  (unsigned long long) r->first_seq,
                  (unsigned long long) r->last_seq,
                  (unsigned long long) (p->recv_ns / 1000),
                  (unsigned long long) (p->take_ns / 1000),
                  (unsigned long long) (t[0] / 1000),
                  (unsigned long long) (t[2] / 1000),
                  (unsigned long long) (t[3] / 1000),
                  (unsigned long long) (t[4] / 1000));
    }
}

static server_t *
server_create(store_t *store, ingest_t *ingest, const cds_identity_t *id,
              const char *endpoint, int group_max)
{
    if (group_max < 1 || group_max > SERVER_GROUP_MAX_LIMIT) {
        cds_log(CDS_LOG_ERROR, "bad_group_max", "group_max=%d max=%d",
                group_max, SERVER_GROUP_MAX_LIMIT);
        return NULL;
    }
    server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->ingest = ingest;
    self->group_max = group_max;
    self->pending = calloc((size_t) group_max, sizeof *self->pending);
    self->ctx = zmq_ctx_new();
    if (!self->pending || !self->ctx || pipeline_start(self) != 0)
        goto fail;
    ctx_setup(self->ctx);
    self->sock = zmq_socket(self->ctx, ZMQ_ROUTER);
    if (!self->sock || socket_setup(self->sock) != 0)
        goto fail;
    if (id && curve_setup(self, id) != 0)
        goto fail;
    bind_error = NULL;
    if (zmq_bind(self->sock, endpoint) != 0) {
        bind_error = zmq_strerror(errno);  /* before logging clobbers it */
        cds_log(CDS_LOG_ERROR, "bind_failed", "endpoint=%s error=%s",
                cds_logq(endpoint), cds_logq(zmq_strerror(errno)));
        goto fail;
    }
    size_t len = sizeof self->endpoint;
    if (zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &len))
        snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    cds_log(CDS_LOG_INFO, "listening", "endpoint=%s group_max=%d curve=%s",
            cds_logq(self->endpoint), group_max, id ? "on" : "off");
    trace_open(self);
    return self;
fail:
    server_destroy(&self);
    return NULL;
}

const char *
server_bind_error(void)
{
    return bind_error;
}

server_t *
server_new(store_t *store, ingest_t *ingest, const char *endpoint,
           int group_max)
{
    return server_create(store, ingest, NULL, endpoint, group_max);
}

server_t *
server_new_secure(store_t *store, ingest_t *ingest, const cds_identity_t *id,
                  const char *endpoint, int group_max)
{
    return server_create(store, ingest, id, endpoint, group_max);
}

void
server_destroy(server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    server_t *self = *self_p;
    if (self->auth)                    /* knock counts not written yet */
        auth_flush(self->auth, self->store, cds_now_ms());
    auth_destroy(&self->auth);         /* before the context ends */
    pipeline_stop(self);
    if (self->sock)
        zmq_close(self->sock);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self->pending);
    if (self->trace)
        fclose(self->trace);
    free(self);
    *self_p = NULL;
}

void
server_set_commitmark(server_t *self, commitmark_t *mark)
{
    self->mark = mark;
}

void
server_set_progress(server_t *self, progress_t *progress)
{
    self->progress = progress;
}

static void
on_conn_event(void *ctx, uint16_t event, uint32_t value)
{
    connguard_event(ctx, event, value);
}

static bool
on_conn_peer(void *ctx, int fd, char *buf, size_t len)
{
    return connguard_peer(ctx, fd, buf, len);
}

void
server_set_guard(server_t *self, connguard_t *guard)
{
    self->guard = guard;
    if (self->auth)
        auth_set_event_hook(self->auth, guard ? on_conn_event : NULL, guard);
    if (self->auth)            /* failed handshakes are knocks by address */
        auth_set_peer_hook(self->auth, guard ? on_conn_peer : NULL, guard);
}

/* A resource error a peer can cause (descriptors, memory): never fatal.
 * Log (rate-limited by cds_log: same line), pause briefly so a flood of
 * them does not spin, and carry on. */
static bool
transient(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS
           || e == EAGAIN || e == EINTR;
}

static void
back_off(const char *what, const char *error)
{
    cds_log(CDS_LOG_WARN, "resource_backoff", "step=%s error=%s backoff_ms=%d",
            what, cds_logq(error), BACKOFF_MS);
    struct timespec ts = {0, BACKOFF_MS * 1000000L};
    nanosleep(&ts, NULL);
}

const char *
server_endpoint(const server_t *self)
{
    return self->endpoint;
}

/* Frames after the body: read and dropped as they come, never kept; the
 * total size and a BLAKE2b digest of every frame go into why, so the
 * reject names the message without storing it. Then the connection is
 * shut down (connguard): the protocol is one frame per message, and
 * libzmq holds a multipart message whole before we see any of it. */
static void
drop_extra(server_t *self, zmq_msg_t *body, int *frames, char *why,
           size_t whylen)
{
    crypto_generichash_state h;
    uint8_t sum[32];
    char hex[2 * sizeof sum + 1];
    size_t bytes = zmq_msg_size(body);
    int fd = zmq_msg_get(body, ZMQ_SRCFD);
    crypto_generichash_init(&h, NULL, 0, sizeof sum);
    crypto_generichash_update(&h, zmq_msg_data(body), bytes);
    int more = 1;
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, self->sock, 0) < 0)
            break;
        more = zmq_msg_more(&extra);
        bytes += zmq_msg_size(&extra);
        crypto_generichash_update(&h, zmq_msg_data(&extra),
                                  zmq_msg_size(&extra));
        connguard_frame(self->guard, fd, zmq_msg_size(&extra));
        zmq_msg_close(&extra);
        (*frames)++;
    }
    crypto_generichash_final(&h, sum, sizeof sum);
    sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
    snprintf(why, whylen, "%d frames after the routing id, %zu bytes, "
             "expected 1 frame of at most %u bytes; blake2b-256 of the "
             "frames %s", *frames - 1, bytes, CDS_MAX_MSG_BYTES, hex);
    connguard_kick(self->guard, fd);
}

/* Receive one whole message without waiting: 1 got one, 0 none waiting
 * (or a transient error, after a pause), negative cds_err on failure. id
 * gets the routing id, body the second frame (empty if absent); *frames
 * counts every part. A message of more than one body frame is reduced to
 * its description (drop_extra) in body, so nothing of it is kept. */
static int
recv_message(server_t *self, zmq_msg_t *id, zmq_msg_t *body, int *frames)
{
    zmq_msg_init(id);
    zmq_msg_init(body);
    if (zmq_msg_recv(id, self->sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(id);
        zmq_msg_close(body);
        if (e == EAGAIN || e == EINTR)
            return 0;
        if (transient(e)) {
            back_off("recv", zmq_strerror(e));
            return 0;
        }
        cds_log(CDS_LOG_ERROR, "recv_failed", "error=%s",
                cds_logq(zmq_strerror(e)));
        return -CDS_EIO;
    }
    *frames = 1;
    /* The parts of one message arrive together: these never wait. */
    if (!zmq_msg_more(id) || zmq_msg_recv(body, self->sock, 0) < 0)
        return 1;
    (*frames)++;
    connguard_frame(self->guard, zmq_msg_get(body, ZMQ_SRCFD),
                    zmq_msg_size(body));
    if (zmq_msg_more(body)) {
        char why[256];
        drop_extra(self, body, frames, why, sizeof why);
        zmq_msg_close(body);
        if (zmq_msg_init_size(body, strlen(why)) == 0)
            memcpy(zmq_msg_data(body), why, strlen(why));
        else
            zmq_msg_init(body);
    }
    return 1;
}

/* Send one reply: [routing id][envelope]. Failures are logged, never
 * fatal: the agent resends on its ack timeout. A sent answer to a batch
 * is timed (progress.h: ingest duration). */
static void
send_reply(server_t *self, pending_t *p)
{
    if (!p->res.reply)
        return;
    size_t idlen = zmq_msg_size(&p->id);
    int rc = zmq_send(self->sock, zmq_msg_data(&p->id), idlen,
                      ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(self->sock, p->res.reply, p->res.reply_len,
                      ZMQ_DONTWAIT);
    if (rc < 0) {
        char fpr[CDS_FPR_LEN] = "-";
        if (p->res.has_peer)
            cds_fingerprint(p->res.peer, fpr);
        cds_log(errno == EHOSTUNREACH ? CDS_LOG_INFO : CDS_LOG_WARN,
                "reply_not_sent", "agent=%s first=%llu last=%llu error=%s",
                fpr, (unsigned long long) p->res.first_seq,
                (unsigned long long) p->res.last_seq,
                cds_logq(zmq_strerror(errno)));
    } else if (p->res.kind == CDSYNC__KIND__KIND_BATCH) {
        progress_acked(self->progress, p->recv_ns);
    }
}

/* Receive what is waiting, up to the ring's room, and hand it to the
 * worker. The number received, or negative cds_err on socket failure. */
static int
fill_ring(server_t *self)
{
    int got = 0;
    while (self->tail - self->head < self->ring_cap) {
        inmsg_t *in = &self->ring[self->tail % self->ring_cap];
        int rc = recv_message(self, &in->id, &in->body, &in->frames);
        if (rc <= 0)
            return rc < 0 ? rc : got;
        in->now_ms = cds_now_ms();
        in->recv_ns = progress_now_ns();
        in->prep = NULL;
        progress_received(self->progress);
        got++;
        if (!self->worker_on) {
            self->tail++;
            self->prepared = self->tail;   /* nothing to wait for */
            continue;
        }
        pthread_mutex_lock(&self->mu);
        self->tail++;
        pthread_cond_signal(&self->work);
        pthread_mutex_unlock(&self->mu);
    }
    return got;
}

/* Apply the oldest received message into slot p (in the group's
 * transaction, or answering "busy" when BEGIN failed with begin_err),
 * waiting for the worker to finish preparing it. *txerr receives a
 * database failure that dooms the group. */
static void
take_message(server_t *self, pending_t *p, int begin_err, int *txerr)
{
    if (self->worker_on) {
        pthread_mutex_lock(&self->mu);
        while (self->prepared == self->head)
            pthread_cond_wait(&self->done, &self->mu);
        pthread_mutex_unlock(&self->mu);
    }
    inmsg_t *in = &self->ring[self->head % self->ring_cap];
    zmq_msg_init(&p->id);
    zmq_msg_move(&p->id, &in->id);
    zmq_msg_close(&in->id);
    memset(&p->res, 0, sizeof p->res);
    p->recv_ns = in->recv_ns;
    p->take_ns = self->timed ? progress_now_ns() : 0;
    const uint8_t *data = zmq_msg_data(&in->body);
    size_t len = zmq_msg_size(&in->body);
    uint64_t now = in->now_ms;
    int rc = CDS_OK;
    /* With CURVE: the ZAP handler's answer for this connection, the
     * fingerprint of the agent owning the CURVE key ("" if none). */
    const char *uid = NULL;
    if (self->auth && in->frames == 2) {
        uid = zmq_msg_gets(&in->body, "User-Id");
        uid = uid ? uid : "";
    }
    if (begin_err != CDS_OK) {
        if (in->frames == 2)
            ingest_busy(self->ingest, data, len, uid, begin_err, now,
                        &p->res);
    } else if (in->frames > 2) {
        /* body holds drop_extra's description, not the message */
        char why[256];
        snprintf(why, sizeof why, "%.*s", (int) len, (const char *) data);
        rc = ingest_reject_raw(self->ingest, CDS_EMALFORMED, why, NULL, 0,
                               now);
    } else if (in->frames != 2) {
        rc = ingest_reject_raw(self->ingest, CDS_EMALFORMED,
                               "1 frame, expected routing id + 1", data, len,
                               now);
    } else if (ingest_message_prepared(self->ingest, data, len, uid, now,
                                       in->prep, &p->res)
               == INGEST_FAILED) {
        rc = p->res.code;
    }
    ingest_prep_destroy(&in->prep);
    zmq_msg_close(&in->body);
    self->head++;
    if (rc != CDS_OK)
        *txerr = rc;
}

/* Will the group send an ack of a batch (then it bumps the commit mark)? */
static bool
group_acks(const server_t *self, int n)
{
    for (int i = 0; i < n; i++)
        if (self->pending[i].res.reply
            && self->pending[i].res.kind == CDSYNC__KIND__KIND_BATCH)
            return true;
    return false;
}

/* End the group's transaction; on failure answer every message "retry".
 * CDS_OK, or CDS_EIO when the commit mark could not be written after the
 * commit: then no reply of the group may be sent. A transient mark
 * failure (memory, descriptors, disk full) turns every answer into
 * "retry" instead: the group is committed, the mark is not, so no ack
 * may leave; the agents resend and are re-acked after a later mark
 * write covers a higher counter (commitmark.h). */
static int
end_group(server_t *self, int n, int begin_err, int txerr)
{
    cds_sql_t *db = store_sql(self->store);
    if (begin_err != CDS_OK)
        return CDS_OK;         /* replies already say retry */
    bool mark = txerr == CDS_OK && self->mark && group_acks(self, n);
    if (mark)
        txerr = commitmark_bump(self->mark);
    if (txerr == CDS_OK) {
        uint64_t start = progress_now_ns();
        /* CDS_OK only once durable; on PostgreSQL a COMMIT whose answer
         * was lost is CDS_EBUSY: outcome unknown, so nothing is acked
         * (the agents resend; a committed batch is re-acked then). */
        txerr = cds_sql_commit(db);
        if (self->timed)
            self->tr[2] = self->tr[3] = progress_now_ns();
        if (txerr == CDS_OK)           /* received, not in this group */
            progress_committed(self->progress, start,
                               self->tail - self->head);
    }
    if (txerr == CDS_OK && mark)
        CDS_FAILPOINT("agg_before_mark");  /* committed, mark not written */
    if (txerr == CDS_OK && mark) {     /* the mark before any ack */
        int merr = commitmark_sync(self->mark);
        if (self->timed)
            self->tr[3] = progress_now_ns();
        if (merr == CDS_EIO || merr == CDS_OK)
            return merr;
        for (int i = 0; i < n; i++)
            ingest_result_retry(self->ingest, &self->pending[i].res, merr,
                                cds_now_ms());
        back_off("commit_mark", cds_strerror(merr));
        return CDS_OK;
    }
    if (txerr == CDS_OK)
        return CDS_OK;
    cds_sql_rollback(db);
    cds_log(CDS_LOG_WARN, "group_rolled_back", "messages=%d reason=%s", n,
            cds_strerror(txerr));
    for (int i = 0; i < n; i++)
        ingest_result_retry(self->ingest, &self->pending[i].res, txerr,
                            cds_now_ms());
    return CDS_OK;
}

/* Held heartbeats, when due, in a transaction of their own between
 * groups (health.h "Heartbeats"): never in a group, whose rollback would
 * lose them and whose acks would wait for them. A failure is logged and
 * retried at the next step. */
static void
flush_heartbeats(server_t *self)
{
    if (ingest_flush_due_ms(self->ingest, cds_now_ms()) == 0)
        ingest_flush(self->ingest);
}

/* Send the group's replies unless mark_err, trace it when it committed,
 * release its slots. */
static void
reply_group(server_t *self, int n, int mark_err, bool committed)
{
    for (int i = 0; i < n; i++)
        if (mark_err == CDS_OK)
            send_reply(self, &self->pending[i]);
    if (self->timed && mark_err == CDS_OK && committed) {
        self->tr[4] = progress_now_ns();
        if (self->trace)
            trace_group(self, n);
        if (cds_trace_on())
            trace_batches(self, n);
    }
    for (int i = 0; i < n; i++) {
        ingest_result_clear(&self->pending[i].res);
        zmq_msg_close(&self->pending[i].id);
    }
}

int
server_step(server_t *self, long timeout_ms)
{
    /* The signal pipe wakes us whichever thread took SIGTERM. */
    zmq_pollitem_t items[] = {{self->sock, 0, ZMQ_POLLIN, 0},
                              {NULL, cds_signal_fd(), ZMQ_POLLIN, 0},
                              {NULL, -1, ZMQ_POLLIN, 0},
                              {NULL, -1, ZMQ_POLLIN, 0}};
    int n_items = cds_signal_fd() >= 0 ? 2 : 1;
    if (self->auth) {          /* refused handshakes, reported below */
        items[n_items++].socket = auth_denials_socket(self->auth);
        items[n_items++].socket = auth_events_socket(self->auth);
    }
    bool waiting = self->tail != self->head;   /* received last time */
    long due = self->auth ? auth_due_in_ms(self->auth, cds_now_ms()) : -1;
    if (due >= 0 && (timeout_ms < 0 || due < timeout_ms))
        timeout_ms = due + 1;  /* knock counts to write (auth.h) */
    due = ingest_flush_due_ms(self->ingest, cds_now_ms());
    if (due >= 0 && (timeout_ms < 0 || due < timeout_ms))
        timeout_ms = due;      /* held heartbeats to write (health.h) */
    int rc = zmq_poll(items, n_items, waiting ? 0 : timeout_ms);
    if (self->auth)            /* also writes the knock counts due */
        auth_drain(self->auth, self->store, cds_now_ms());
    flush_heartbeats(self);
    if (rc < 0 && errno != EINTR) {
        int e = errno;
        if (transient(e)) {
            back_off("poll", zmq_strerror(e));
            return 0;
        }
        cds_log(CDS_LOG_ERROR, "poll_failed", "error=%s",
                cds_logq(zmq_strerror(e)));
        return -CDS_EIO;
    }
    if (!waiting && (rc <= 0 || !(items[0].revents & ZMQ_POLLIN)))
        return 0;
    int got = fill_ring(self);
    if (got < 0 || self->tail == self->head)
        return got < 0 ? got : 0;
    /* On PostgreSQL a connection lost since the last group is restored
     * here (cds_sql_begin); failing that, every message answers retry. */
    if (self->timed)
        self->tr[0] = progress_now_ns();
    int begin_err = cds_sql_begin(store_sql(self->store));
    int txerr = CDS_OK, n = 0;
    while (n < self->group_max && txerr == CDS_OK) {
        /* Keep the worker fed while we apply (the group grows with what
         * arrives meanwhile, up to group_max). */
        if (got >= 0)
            got = fill_ring(self);
        if (self->tail == self->head)
            break;
        take_message(self, &self->pending[n], begin_err, &txerr);
        n++;
    }
    /* What arrived is prepared by the worker during our COMMIT. */
    if (got >= 0)
        got = fill_ring(self);
    if (self->timed)           /* commit and mark times: end_group */
        self->tr[1] = self->tr[2] = self->tr[3] = progress_now_ns();
    CDS_FAILPOINT("agg_before_commit");  /* nothing may be acked yet */
    int mark_err = end_group(self, n, begin_err, txerr);
    /* "Between commit and ack": a crash here loses only acks; resends
     * are re-acked. Test builds can crash exactly here (tests/fault). */
    CDS_FAILPOINT("agg_after_commit");
    reply_group(self, n, mark_err,
                begin_err == CDS_OK && txerr == CDS_OK);
    if (mark_err != CDS_OK)
        return -mark_err;
    return got < 0 ? got : 1;
}

void
server_set_catalog(server_t *self, const cds_catalog_t *catalog)
{
    if (self->worker_on) {
        pthread_mutex_lock(&self->mu);
        while (self->prepared != self->tail)
            pthread_cond_wait(&self->done, &self->mu);
    }
    for (size_t n = self->head; self->ring && n < self->tail; n++)
        ingest_prep_destroy(&self->ring[n % self->ring_cap].prep);
    ingest_set_catalog(self->ingest, catalog);
    if (self->worker_on)
        pthread_mutex_unlock(&self->mu);
}

int
server_run(server_t *self)
{
    while (!cds_signal_stop_requested()) {
        int rc = server_step(self, cds_service_poll_ms(-1));
        if (rc < 0)
            return -rc;
        cds_service_tick();            /* SIGHUP reload, watchdog */
    }
    cds_service_stopping();
    ingest_flush(self->ingest);        /* held heartbeats (health.h) */
    cds_log(CDS_LOG_INFO, "stopping", "endpoint=%s", cds_logq(self->endpoint));
    return CDS_OK;
}
