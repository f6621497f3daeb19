/*  sender: see sender.h. Raw libzmq (not czmq's zsock) so no library
 *  signal handler competes with ours: SIGTERM/SIGINT set a flag and
 *  interrupt zmq_poll with EINTR. */
#include "sender.h"
#include "diagnosis.h"
#include "livestate.h"
#include "revocation.h"
#include "metafetch.h"
#include "recheck.h"
#include "session.h"
#include "cds_service.h"
#include "cds_signal.h"

#include "cds_catalog.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_trace.h"
#include "cds_util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

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

struct sender {
    sender_config_t cfg;               /* strings borrowed */
    const cds_identity_t *id;          /* our identity (borrowed) */
    outbox_t *outbox;                  /* borrowed */
    session_t *session;                /* every protocol decision */
    uint8_t agg_pk[CDS_PK_BYTES];      /* aggregator signing key */
    uint8_t agg_curve[CDS_PK_BYTES];   /* its CURVE key (later issue) */
    void *ctx;                         /* zmq context */
    void *dealer;                      /* to the aggregator */
    void *wake;                        /* PULL on wake.sock */
    char wake_path[512];               /* removed at destroy */
    void *monitor;                     /* PAIR: the DEALER's socket monitor */
    diagnosis_t *diag;                 /* monitor events -> link events */
    int live_fd;                       /* agent.state (livestate.h), -1 */
    livestate_t live;                  /* last written to it */
    bool revoked_saved;                /* agent.revoked exists (ours) */
    char catalog_version[80];          /* cfg.catalog_version points here */
};


/* The session's jitter source (full-jitter backoff, request id start). */
static uint32_t
sodium_uniform(void *arg, uint32_t upper)
{
    (void)arg;
    return randombytes_uniform(upper);
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
     * TCP keepalive instead (aggregator/core/server.c socket_setup). */
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

#ifdef _WIN32
/* No ipc:// in libzmq on Windows: the wake PULL listens on a loopback
 * port the system chose, and wake.sock holds its endpoint for submit
 * (submit_wake). A wake carries nothing: another local user who sends one
 * makes the daemon look at its outbox early, no more. */
static int
publish_wake(sender_t *self, char *err, size_t errlen)
{
    char ep[128];
    size_t len = sizeof ep;
    FILE *f = NULL;
    if (zmq_getsockopt(self->wake, ZMQ_LAST_ENDPOINT, ep, &len) != 0
        || !(f = fopen(self->wake_path, "w")) || fputs(ep, f) < 0
        || fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write the wake endpoint",
                 self->wake_path);
        return -1;
    }
    return 0;
}
#endif

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
#ifdef _WIN32
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:*");
#else
    snprintf(endpoint, sizeof endpoint, "ipc://%s", self->wake_path);
#endif
    self->wake = zmq_socket(self->ctx, ZMQ_PULL);
    if (!self->wake || setopt_int(self->wake, ZMQ_LINGER, 0, "linger") != 0
        || setopt_int(self->wake, ZMQ_RCVHWM, 16, "rcvhwm") != 0
        || zmq_bind(self->wake, endpoint) != 0) {
        snprintf(err, errlen, "%s: cannot bind: %s", endpoint,
                 zmq_strerror(errno));
        return -1;
    }
#ifdef _WIN32
    return publish_wake(self, err, errlen);
#else
    return 0;
#endif
}

/* ZeroMQ's socket monitor on the DEALER tells "nobody answers at the
 * endpoint" from "the CURVE handshake was refused" (see on_monitor). Set
 * up before zmq_connect so the first attempt is seen too. */
static int
open_monitor(sender_t *self, char *err, size_t errlen)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://agent-monitor-%p", (void *)self);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED
                 | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                 | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(self->dealer, ep, events) != 0
        || !(self->monitor = zmq_socket(self->ctx, ZMQ_PAIR))
        || setopt_int(self->monitor, ZMQ_LINGER, 0, "linger") != 0
        || zmq_connect(self->monitor, ep) != 0) {
        snprintf(err, errlen, "socket monitor: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int start_session(sender_t *self, char *err, size_t errlen);

/* A revocation kept by an earlier run: say it once at start. The daemon
 * still dials once restarted (an aggregator restored from a backup taken
 * before the revocation would accept the key): a refused handshake keeps
 * status on "revoked", a Hello answered without error clears the file. */
static void
note_saved_revocation(sender_t *self)
{
    revocation_t r;
    char at[40];
    if (revocation_load(self->cfg.state_dir, &r) != CDS_OK)
        return;
    self->revoked_saved = true;
    cds_log(CDS_LOG_ERROR, "revoked", "revoked_at=%s replaced_by=%s "
            "note=%s", cds_format_time(at, sizeof at, r.revoked_at_ms),
            r.replaced_by[0] ? r.replaced_by : "-",
            cds_logq("as the aggregator said earlier (agent.revoked)"));
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
    snprintf(self->catalog_version, sizeof self->catalog_version, "%s",
             cfg->catalog_version ? cfg->catalog_version : "");
    self->cfg.catalog_version = self->catalog_version;
    self->id = id;
    self->outbox = outbox;
    outbox_set_keep(outbox, cfg->keep_ms, cfg->keep_max_bytes);
    /* The retention may have changed (keep_days = 0: keep none, and do
     * not offer old ones at the next hello). A failure waits for the
     * next ack's prune. */
    if (outbox_kept_prune(outbox, cds_now_ms(), cfg->keep_ms,
                          cfg->keep_max_bytes, NULL) != CDS_OK)
        cds_log(CDS_LOG_WARN, "kept_prune_failed", "note=%s",
                cds_logq("retried after the next ack"));
    self->live_fd = -1;
    if (start_session(self, err, errlen) != 0)
        goto fail;
    if (!cfg->server_key
        || cds_pubid_parse(cfg->server_key, self->agg_pk, self->agg_curve)
               != CDS_OK) {
        snprintf(err, errlen, "server_key: \"%s\" is not a cds1: identity",
                 cfg->server_key ? cfg->server_key : "");
        goto fail;
    }
    self->diag = diagnosis_new(cfg->server, diagnosis_probe_tcp, NULL);
    self->ctx = zmq_ctx_new();
    if (!self->diag || !self->ctx) {
        snprintf(err, errlen, "zmq context: %s", zmq_strerror(errno));
        goto fail;
    }
    self->dealer = zmq_socket(self->ctx, ZMQ_DEALER);
    if (self->dealer && (curve_setup(self, err, errlen) != 0
                         || open_monitor(self, err, errlen) != 0))
        goto fail;
    if (!self->dealer || dealer_setup(self->dealer) != 0
        || zmq_connect(self->dealer, cfg->server) != 0) {
        snprintf(err, errlen, "server: \"%s\": %s", cfg->server,
                 zmq_strerror(errno));
        goto fail;
    }
    if (open_wake(self, err, errlen) != 0)
        goto fail;
    self->live_fd = livestate_open(cfg->state_dir);
    note_saved_revocation(self);
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
    if (self->monitor)
        zmq_close(self->monitor);
    if (self->dealer)
        zmq_close(self->dealer);
    if (self->wake) {
        zmq_close(self->wake);
        unlink(self->wake_path);
    }
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    if (self->live_fd >= 0)
        close(self->live_fd);
    session_destroy(&self->session);
    diagnosis_destroy(&self->diag);
    free(self);
    *self_p = NULL;
}

/* ---- the session's world ---------------------------------------------- */

static uint64_t
io_mono(void *arg)
{
    (void)arg;
    return cds_mono_ms();
}

static uint64_t
io_wall(void *arg)
{
    (void)arg;
    return cds_now_ms();
}

/* Seal one body for the aggregator: 0 (*env the caller's), -1 logged. */
static int
io_seal(void *arg, Cdsync__Kind kind, const uint8_t *body, size_t body_len,
        uint8_t **env, size_t *env_len)
{
    sender_t *self = arg;
    int rc = cds_envelope_seal(self->id, kind, self->agg_pk, body, body_len,
                               env, env_len);
    if (rc == CDS_OK)
        return 0;
    cds_log(CDS_LOG_ERROR, "seal_failed", "error=%s", cds_strerror(rc));
    return -1;
}

/* Send one envelope without blocking: 0, SESSION_SEND_AGAIN when no
 * connection takes it (ZMQ_IMMEDIATE), -1 on another failure. */
static int
io_send_raw(void *arg, const uint8_t *env, size_t env_len)
{
    sender_t *self = arg;
    int rc = zmq_send(self->dealer, env, env_len, ZMQ_DONTWAIT);
    int e = errno;
    if (rc >= 0)
        return 0;
    cds_log(CDS_LOG_DEBUG, "send_failed", "error=%s",
            cds_logq(zmq_strerror(e)));
    return e == EAGAIN ? SESSION_SEND_AGAIN : -1;
}

/* Seal and send one message: io_seal, then io_send_raw. */
static int
io_send(void *arg, Cdsync__Kind kind, const uint8_t *body, size_t body_len)
{
    uint8_t *env = NULL;
    size_t env_len = 0;
    if (io_seal(arg, kind, body, body_len, &env, &env_len) != 0)
        return -1;
    int rc = io_send_raw(arg, env, env_len);
    free(env);
    return rc;
}

/* The catalog of the version now in use names the next batches (as the
 * configured one did: Batch.catalog_version). */
static void
adopt_catalog(sender_t *self)
{
    char dir[256], path[300], err[400];
    if (metafetch_materialize(self->outbox, dir, sizeof dir) != CDS_OK)
        return;
    snprintf(path, sizeof path, "%s/catalog.csv", dir);
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    if (cat) {
        snprintf(self->catalog_version, sizeof self->catalog_version, "%s",
                 cds_catalog_version(cat));
        cds_log(CDS_LOG_INFO, "catalog_loaded", "file=fetched version=%s "
                "indicators=%zu", self->catalog_version,
                cds_catalog_size(cat));
    }
    cds_catalog_destroy(&cat);
    metafetch_cleanup(dir);
}

/* A fetched metadata version: checked against the aggregator's key and
 * stored (metafetch.h); the officer's sentence is in the log. */
static int
io_metadata(void *arg, const Cdsync__MetadataReply *r)
{
    sender_t *self = arg;
    char msg[800];
    int rc = metafetch_apply(self->outbox, self->agg_pk,
                             cds_identity_sign_pk(self->id), r->bundle.data,
                             r->bundle.len, r->signature.data,
                             r->signature.len, cds_now_ms(), msg,
                             sizeof msg);
    if (rc == CDS_OK)
        adopt_catalog(self);
    return rc;
}

/* The pending values against the version in use (recheck.h). */
static int
io_recheck(void *arg)
{
    sender_t *self = arg;
    recheck_result_t res;
    int rc = recheck_pending(self->outbox, self->cfg.org_units,
                             cds_now_ms(), &res);
    if (rc == CDS_OK && res.version)
        adopt_catalog(self);           /* a rollback from the command line */
    return rc;
}

/* The state for `status`, also when the database cannot take it. */
static void
io_state(void *arg, const char *state, const char *error)
{
    sender_t *self = arg;
    if (self->live_fd >= 0)
        livestate_update(self->live_fd, &self->live, state, error,
                         cds_now_ms());
}

/* Dial again (the session decided: a refused handshake, or silence on an
 * open link). zmq_disconnect of an endpoint libzmq already gave up on
 * fails with ENOENT: harmless. */
static void
io_redial(void *arg)
{
    sender_t *self = arg;
    zmq_disconnect(self->dealer, self->cfg.server);
    if (zmq_connect(self->dealer, self->cfg.server) != 0)
        cds_log(CDS_LOG_ERROR, "connect_failed", "endpoint=%s error=%s",
                cds_logq(self->cfg.server), cds_logq(zmq_strerror(errno)));
    diagnosis_redial(self->diag);
}

/* Revoked: stop dialing (libzmq would reconnect, and each handshake
 * would be refused) until the daemon is restarted or reloaded. */
static void
io_hang_up(void *arg)
{
    sender_t *self = arg;
    zmq_disconnect(self->dealer, self->cfg.server);
    cds_log(CDS_LOG_WARN, "stopped_dialing", "endpoint=%s reason=%s",
            cds_logq(self->cfg.server),
            cds_logq("this agent's key is revoked; restart after the "
                     "district enrolled a new key"));
}

/* A verified revocation Notice: keep it for `status` (revocation.h). */
static void
io_revoked(void *arg, const uint8_t *raw, size_t raw_len)
{
    sender_t *self = arg;
    if (revocation_save(self->cfg.state_dir, raw, raw_len) == CDS_OK)
        self->revoked_saved = true;
}

/* The aggregator accepts our key: a saved revocation no longer holds. */
static void
io_accepted(void *arg)
{
    sender_t *self = arg;
    if (self->revoked_saved
        && revocation_clear(self->cfg.state_dir) == CDS_OK) {
        self->revoked_saved = false;
        cds_log(CDS_LOG_WARN, "revocation_cleared", "reason=%s",
                cds_logq("the aggregator accepts this key again"));
    }
}

/* After a refused handshake, dial again after about backoff_max, within
 * libzmq's own reconnect bounds. */
static uint64_t
redial_ms(const sender_config_t *cfg)
{
    uint64_t ms = cfg->backoff_max_ms;
    return ms < RECONNECT_IVL_MS ? RECONNECT_IVL_MS
           : ms > RECONNECT_IVL_MAX_MS ? RECONNECT_IVL_MAX_MS : ms;
}

static session_config_t
session_config(const sender_t *self)
{
    session_config_t sc = {
        .catalog_version = self->cfg.catalog_version,
        .batch_max = self->cfg.batch_max,
        .batch_bytes = self->cfg.batch_bytes,
        .window = self->cfg.window,
        .ack_timeout_ms = self->cfg.ack_timeout_ms,
        .backoff_min_ms = self->cfg.backoff_min_ms,
        .backoff_max_ms = self->cfg.backoff_max_ms,
        .heartbeat_ms = self->cfg.heartbeat_ms,
        .recheck_ms = OUTBOX_RECHECK_MS,
        .redial_ms = redial_ms(&self->cfg),
    };
    return sc;
}

void
sender_reconfigure(sender_t *self, const sender_config_t *cfg)
{
    if (cfg->catalog_version)          /* NULL: keep the running one */
        snprintf(self->catalog_version, sizeof self->catalog_version, "%s",
                 cfg->catalog_version);
    self->cfg.batch_max = cfg->batch_max;
    self->cfg.batch_bytes = cfg->batch_bytes;
    self->cfg.ack_timeout_ms = cfg->ack_timeout_ms;
    self->cfg.backoff_min_ms = cfg->backoff_min_ms;
    self->cfg.backoff_max_ms = cfg->backoff_max_ms;
    self->cfg.heartbeat_ms = cfg->heartbeat_ms;
    self->cfg.keep_ms = cfg->keep_ms;
    self->cfg.keep_max_bytes = cfg->keep_max_bytes;
    outbox_set_keep(self->outbox, cfg->keep_ms, cfg->keep_max_bytes);
    adopt_catalog(self);               /* a fetched version in use wins */
    session_config_t sc = session_config(self);
    session_set_config(self->session, &sc);
}

static int
start_session(sender_t *self, char *err, size_t errlen)
{
    session_config_t sc = session_config(self);
    session_io_t io = {io_mono, io_wall, sodium_uniform, io_send, io_state,
                       self, io_revoked, io_accepted, io_redial, io_hang_up,
                       io_seal, io_send_raw, io_metadata, io_recheck};
    self->session = session_new(&sc, &io, cds_identity_sign_pk(self->id),
                                self->outbox, err, errlen);
    return self->session ? 0 : -1;
}

/* ---- answers from the aggregator -------------------------------------- */

/* Untrusted bytes: bounded decode -> signer is our server -> signature
 * for us -> only then the body (signify's order). */
int
sender_open_frame(const uint8_t *data, size_t len,
                  const uint8_t server_pk[CDS_PK_BYTES],
                  const uint8_t our_pk[CDS_PK_BYTES], Cdsync__Envelope **env)
{
    int rc = cds_envelope_decode(data, len, env);
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_WARN, "drop", "reason=%s bytes=%zu",
                cds_strerror(rc), len);
        return rc;
    }
    if ((*env)->signer.len != CDS_PK_BYTES
        || sodium_memcmp((*env)->signer.data, server_pk, CDS_PK_BYTES) != 0)
        rc = CDS_EUNKNOWNKEY;
    else if (cds_envelope_verify(*env, our_pk) != CDS_OK)
        rc = CDS_EBADSIG;
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_WARN, "drop", "reason=%s kind=%d", cds_strerror(rc),
                (int)(*env)->kind);
        cds_msg_free(*env);
        *env = NULL;
    }
    return rc;
}

static void
on_frame(sender_t *self, const uint8_t *data, size_t len)
{
    Cdsync__Envelope *env = NULL;
    if (sender_open_frame(data, len, self->agg_pk,
                          cds_identity_sign_pk(self->id), &env) == CDS_OK)
        session_on_message(self->session, env->kind, env->body.data,
                           env->body.len, data, len);
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

/* Read every waiting monitor event: two frames, (u16 event, u32 value)
 * and the endpoint. */
static void
drain_monitor(sender_t *self)
{
    for (;;) {
        uint8_t head[16];
        char ep[256];
        int n = zmq_recv(self->monitor, head, sizeof head, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(self->monitor, ZMQ_RCVMORE, &more, &ml);
        if (more)
            zmq_recv(self->monitor, ep, sizeof ep, 0);
        if (n != 6)
            continue;
        uint16_t ev;
        uint32_t value;
        memcpy(&ev, head, sizeof ev);
        memcpy(&value, head + 2, sizeof value);
        session_link_t link;
        const char *detail;
        if (diagnosis_on_event(self->diag, ev, value, &link, &detail))
            session_on_link(self->session, link, self->cfg.server, detail);
    }
}

static void
drain_wake(sender_t *self)
{
    char buf[16];
    while (zmq_recv(self->wake, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        ;
}

/* ---- the loop ---------------------------------------------------------- */

static long
poll_timeout(const sender_t *self)
{
    uint64_t due = session_next_deadline(self->session);
    if (!due)
        return -1;                     /* idle: block, no CPU */
    uint64_t now = cds_mono_ms();
    return due <= now ? 0 : (long)(due - now);
}

/* Read the DEALER, then end the session's turn: the acks read are
 * recorded together (session_flush: one fsync for all) and the window is
 * filled again. CDS_OK, or CDS_EIO on a socket failure (logged). */
static int
read_answers(sender_t *self)
{
    int rc = drain_dealer(self);
    session_flush(self->session);
    if (rc == 0)
        return CDS_OK;
    cds_log(CDS_LOG_ERROR, "recv_failed", "error=%s",
            cds_logq(zmq_strerror(errno)));
    return CDS_EIO;
}

/* One turn: wait in zmq_poll until a socket is ready or the session's
 * next deadline, then feed the session what happened. CDS_OK, or
 * CDS_EIO when a socket fails for good (logged). */
static int
turn(sender_t *self)
{
    /* Waiting for a connection (ZMQ_IMMEDIATE refused a send): the
     * DEALER turns writable when a pipe is attached; say hello then
     * instead of at the end of the backoff. */
    bool waiting = session_wants_writable(self->session);
    zmq_pollitem_t items[] = {
        {self->dealer, 0, ZMQ_POLLIN | (waiting ? ZMQ_POLLOUT : 0), 0},
        {self->wake, 0, ZMQ_POLLIN, 0},
        {self->monitor, 0, ZMQ_POLLIN, 0},
        {NULL, cds_signal_fd(), ZMQ_POLLIN, 0}}; /* SIGTERM: see cds_signal.h */
    int n_items = cds_signal_fd() >= 0 ? 4 : 3;
    if (zmq_poll(items, n_items, cds_service_poll_ms(poll_timeout(self)))
        < 0) {
        if (errno == EINTR)
            return CDS_OK;
        cds_log(CDS_LOG_ERROR, "poll_failed", "error=%s",
                cds_logq(zmq_strerror(errno)));
        return CDS_EIO;
    }
    if ((items[0].revents & ZMQ_POLLIN) && read_answers(self) != CDS_OK)
        return CDS_EIO;
    if (items[1].revents & ZMQ_POLLIN) {
        if (cds_trace_on())            /* cds_trace.h: the daemon woken */
            cds_trace("agent_wake", "pid=%d", (int)getpid());
        drain_wake(self);
        session_on_wake(self->session);   /* new rows: send if we may */
    }
    if (items[2].revents & ZMQ_POLLIN)
        drain_monitor(self);       /* before writability: say why */
    if (waiting && (items[0].revents & ZMQ_POLLOUT))
        session_on_writable(self->session);
    /* Answers that arrived while a database call waited (busy
     * timeout) are read before any timeout is declared. */
    if (read_answers(self) != CDS_OK)
        return CDS_EIO;
    session_on_timer(self->session);   /* acks, backoff, heartbeats,
                                        * redials: session.h */
    return CDS_OK;
}

int
sender_run(sender_t *self)
{
    int rc = CDS_OK;
    session_start(self->session);
    while (rc == CDS_OK && !cds_signal_stop_requested()) {
        rc = turn(self);
        if (rc == CDS_OK)
            cds_service_tick();            /* SIGHUP reload, watchdog */
    }
    cds_service_stopping();
    cds_log(CDS_LOG_INFO, "stopped", "reason=%s",
            rc == CDS_OK ? "signal" : cds_strerror(rc));
    session_stop(self->session);
    return rc;
}
