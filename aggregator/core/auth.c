/*  auth: ZAP handler thread for CURVE and the reports of refused
 *  handshakes. See auth.h for the rule and the invariant.
 *  Uses libzmq directly (like server.c): the handler must live in the
 *  server's own context, which czmq's zauth (zsys context) cannot. */
#include "auth.h"

#include "cds_sql.h"
#include "cds_err.h"
#include "cds_log.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES_MAX 8               /* CURVE requests have 7 */
#define ADDRESS_LEN 64
/* Monitor events queued before the owner drains them: a flood of
 * connections must not drop the ACCEPTED / DISCONNECTED pairs connguard
 * counts (libzmq drops events when the monitor pipe is full). */
#define MONITOR_HWM 200000

/* Refusals by reason since the process started. Process-wide, not in
 * auth_t: the HTTP thread renders them (metrics) from before the server
 * exists until after it is gone, and one process runs one server. */
static atomic_uint_fast64_t refused_by_reason[AUTH_REASONS];

/* One group of refused handshakes (auth.h "Knocks"), in memory until the
 * owner writes its pending count. */
typedef struct {
    bool used, has_key;
    uint8_t curve_pk[CDS_PK_BYTES];
    char address[ADDRESS_LEN];
    int code;                          /* latest reason */
    uint64_t first_ms, last_ms;        /* of the pending attempts */
    uint64_t pending;                  /* attempts not written yet */
    uint64_t written_ms;               /* last write, 0 never */
} knock_t;

/* One refused handshake, passed from the handler thread to the owner of
 * the database writer as raw bytes over an inproc PUSH/PULL pipe. */
typedef struct {
    int code;                          /* cds_err reason */
    bool has_agent;                    /* key belongs to an agent row */
    uint8_t curve_pk[CDS_PK_BYTES];    /* client key (0s if none) */
    uint8_t sign_pk[CDS_PK_BYTES];     /* agent's signing key if known */
    char fpr[CDS_FPR_LEN];             /* agent fingerprint or "-" */
    char address[ADDRESS_LEN];         /* peer address from ZAP */
    char why[128];                     /* human explanation */
} denial_t;

struct auth {
    void *ctx;                         /* borrowed server context */
    void *zap;                         /* REP, handler thread */
    void *push;                        /* PUSH, handler thread */
    void *pull;                        /* PULL, owner thread */
    void *ctl_owner, *ctl_thread;      /* PAIR pipe: stop request */
    void *monitor;                     /* PAIR, owner thread, or NULL */
    void *watched;                     /* the socket monitored (borrowed,
                                        * owner thread), or NULL */
    auth_event_fn *on_event;           /* connection events, or NULL */
    void *on_event_ctx;
    store_t *store;                    /* read-only, handler thread */
    pthread_t thread;
    bool started;
    atomic_uint_fast64_t admitted, denied;
    knock_t knocks[AUTH_KNOCK_SLOTS];  /* owner thread */
    /* The failure reported by the monitor and not yet tied to the
     * DISCONNECTED event of its connection (owner thread). */
    bool failed_pending;
    uint64_t new_window_ms;            /* new keyed groups: window start */
    unsigned new_in_window;            /* and how many in it */
    auth_peer_fn *peer_of;             /* fd -> peer address, or NULL */
    void *peer_ctx;
    /* Report limiter (owner thread). */
    uint64_t window_start;
    unsigned in_window;
    unsigned long suppressed;
};

static void *
pair_socket(void *ctx, int type, const char *endpoint, bool bind)
{
    void *s = zmq_socket(ctx, type);
    int zero = 0;
    if (!s)
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if ((bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) != 0) {
        cds_log(CDS_LOG_ERROR, "auth_socket_failed", "endpoint=%s error=%s",
                cds_logq(endpoint), cds_logq(zmq_strerror(errno)));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* ---- the decision --------------------------------------------------------- */

int
auth_decide(store_t *store, const char *domain, const char *mechanism,
            const uint8_t *key, size_t key_len, char *user_id,
            store_agent_t *agent, bool *has_agent)
{
    *has_agent = false;
    user_id[0] = '\0';
    if (!domain || strcmp(domain, AUTH_DOMAIN) != 0 || !mechanism
        || strcmp(mechanism, "CURVE") != 0 || key_len != CDS_PK_BYTES)
        return CDS_EMALFORMED;
    int rc = store_agent_find_curve(store, key, agent);
    if (rc != CDS_OK)
        return rc == CDS_ENOTFOUND ? CDS_EUNKNOWNKEY : rc;
    *has_agent = true;
    if (agent->revoked_at_ms != 0)
        return CDS_EREVOKED;
    snprintf(user_id, CDS_FPR_LEN, "%s", agent->fpr);
    return CDS_OK;
}

/* ---- handler thread -------------------------------------------------------- */

/* Copy frame i as a NUL-terminated string into buf ("" if absent). */
static void
frame_str(zmq_msg_t *f, int n, int i, char *buf, size_t len)
{
    buf[0] = '\0';
    if (i >= n || len == 0)
        return;
    size_t sz = zmq_msg_size(&f[i]);
    if (sz >= len)
        sz = len - 1;
    memcpy(buf, zmq_msg_data(&f[i]), sz);
    buf[sz] = '\0';
}

/* Send the 6-frame ZAP reply. */
static void
zap_reply(void *zap, zmq_msg_t *req_id, const char *status,
          const char *text, const char *user_id)
{
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, req_id ? zmq_msg_data(req_id) : "",
             req_id ? zmq_msg_size(req_id) : 0, ZMQ_SNDMORE);
    zmq_send(zap, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, user_id, strlen(user_id), ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
}

static void
report_denial(auth_t *self, int code, const uint8_t *key, size_t key_len,
              const store_agent_t *agent, bool has_agent, const char *addr)
{
    denial_t d;
    memset(&d, 0, sizeof d);
    d.code = code;
    if (key && key_len == CDS_PK_BYTES)
        memcpy(d.curve_pk, key, CDS_PK_BYTES);
    d.has_agent = has_agent;
    snprintf(d.fpr, sizeof d.fpr, "%s", has_agent ? agent->fpr : "-");
    if (has_agent)
        memcpy(d.sign_pk, agent->sign_pk, CDS_PK_BYTES);
    snprintf(d.address, sizeof d.address, "%s", addr);
    snprintf(d.why, sizeof d.why, "%s",
             code == CDS_EREVOKED     ? "key was revoked"
             : code == CDS_EUNKNOWNKEY ? "key is not enrolled"
             : code == CDS_EMALFORMED  ? "bad ZAP request (domain, "
                                         "mechanism or key size)"
                                       : "cannot judge (internal error)");
    /* Never block the handler: a full pipe loses the report, not the
     * decision (the denial itself has already been made). */
    zmq_send(self->push, &d, sizeof d, ZMQ_DONTWAIT);
}

/* Answer one request (its frames already read). */
static void
handle_request(auth_t *self, zmq_msg_t *f, int n)
{
    char version[8], domain[64], address[ADDRESS_LEN], mechanism[16];
    char user_id[CDS_FPR_LEN] = "";
    store_agent_t agent;
    bool has_agent = false;
    frame_str(f, n, 0, version, sizeof version);
    frame_str(f, n, 2, domain, sizeof domain);
    frame_str(f, n, 3, address, sizeof address);
    frame_str(f, n, 5, mechanism, sizeof mechanism);
    const uint8_t *key = n >= 7 ? zmq_msg_data(&f[6]) : NULL;
    size_t key_len = n >= 7 ? zmq_msg_size(&f[6]) : 0;
    int code = CDS_EMALFORMED;
    if (n == 7 && strcmp(version, "1.0") == 0)
        code = auth_decide(self->store, domain, mechanism, key, key_len,
                           user_id, &agent, &has_agent);
    if (code == CDS_OK) {
        atomic_fetch_add(&self->admitted, 1);
        zap_reply(self->zap, n > 1 ? &f[1] : NULL, "200", "OK", user_id);
        return;
    }
    atomic_fetch_add(&refused_by_reason[code == CDS_EUNKNOWNKEY
                                          ? AUTH_REASON_UNKNOWN_KEY
                                      : code == CDS_EREVOKED
                                          ? AUTH_REASON_REVOKED
                                          : AUTH_REASON_BAD_REQUEST],
                     1);
    bool internal = code != CDS_EUNKNOWNKEY && code != CDS_EREVOKED
                    && code != CDS_EMALFORMED;
    zap_reply(self->zap, n > 1 ? &f[1] : NULL, internal ? "500" : "400",
              cds_strerror(code), "");
    report_denial(self, code, key, key_len, &agent, has_agent, address);
    /* Counted after the report is queued: whoever sees auth_denied() reach
     * N can drain all N reports (the tests wait on it). */
    atomic_fetch_add(&self->denied, 1);
}

/* Read one request (all its frames) and answer it. */
static void
serve_one(auth_t *self)
{
    zmq_msg_t f[ZAP_FRAMES_MAX];
    int n = 0, more = 1;
    bool too_many = false;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->zap, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (n < ZAP_FRAMES_MAX)
            f[n++] = part;     /* ownership moves to f[] */
        else {
            zmq_msg_close(&part);
            too_many = true;
        }
    }
    /* A request with too many frames is judged as malformed (n = 1 keeps
     * the request id for the reply). */
    handle_request(self, f, too_many || more ? (n > 1 ? 2 : n) : n);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void *
handler_main(void *arg)
{
    auth_t *self = arg;
    for (;;) {
        zmq_pollitem_t items[] = {{self->zap, 0, ZMQ_POLLIN, 0},
                                  {self->ctl_thread, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            cds_log(CDS_LOG_ERROR, "zap_handler_failed", "error=%s",
                    cds_logq(zmq_strerror(errno)));
            break;             /* handshakes now wait: fails closed */
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            serve_one(self);
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------- */

auth_t *
auth_new(void *zmq_ctx, const char *db_path)
{
    char ep[96];
    int err = CDS_OK;
    auth_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = zmq_ctx;
    self->store = store_open(db_path, CDS_DB_READONLY, &err);
    if (!self->store) {
        char shown[4096];      /* a PostgreSQL URL: never its password */
        cds_log(CDS_LOG_ERROR, "auth_db_failed", "path=%s error=%s",
                cds_logq(store_display(db_path, shown, sizeof shown)),
                cds_strerror(err));
        goto fail;
    }
    /* Bound here, in the caller's thread, so a second handler (or any
     * failure) is known before the server socket binds. */
    self->zap = pair_socket(zmq_ctx, ZMQ_REP, ZAP_ENDPOINT, true);
    snprintf(ep, sizeof ep, "inproc://cds-auth-denials-%p", (void *) self);
    self->pull = pair_socket(zmq_ctx, ZMQ_PULL, ep, true);
    self->push = self->pull ? pair_socket(zmq_ctx, ZMQ_PUSH, ep, false)
                            : NULL;
    snprintf(ep, sizeof ep, "inproc://cds-auth-ctl-%p", (void *) self);
    self->ctl_thread = pair_socket(zmq_ctx, ZMQ_PAIR, ep, true);
    self->ctl_owner = self->ctl_thread ? pair_socket(zmq_ctx, ZMQ_PAIR, ep,
                                                     false)
                                       : NULL;
    if (!self->zap || !self->push || !self->ctl_owner)
        goto fail;
    /* pthread_create is a full barrier: the handler owns zap, push,
     * ctl_thread and store from here on. */
    if (pthread_create(&self->thread, NULL, handler_main, self) != 0) {
        cds_log(CDS_LOG_ERROR, "auth_thread_failed", "error=%s",
                cds_logq(strerror(errno)));
        goto fail;
    }
    self->started = true;
    return self;
fail:
    auth_destroy(&self);
    return NULL;
}

static void
close_socket(void **s)
{
    if (*s)
        zmq_close(*s);
    *s = NULL;
}

void
auth_destroy(auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_t *self = *self_p;
    if (self->started) {
        zmq_send(self->ctl_owner, "STOP", 4, 0);
        pthread_join(self->thread, NULL);
    }
    close_socket(&self->zap);
    close_socket(&self->push);
    close_socket(&self->pull);
    close_socket(&self->ctl_owner);
    close_socket(&self->ctl_thread);
    /* Stop the monitor before closing its reader: libzmq 4.3 leaks the
     * events (with their address frames) that the watched socket still
     * emits, e.g. CLOSED while it is being closed, into a pipe whose
     * reader is gone. Then drop what is queued. */
    if (self->watched)
        zmq_socket_monitor(self->watched, NULL, 0);
    for (int n = 0; self->monitor && n < MONITOR_HWM; n++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, self->monitor, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
        if (rc < 0)
            break;
    }
    close_socket(&self->monitor);
    store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

int
auth_watch(auth_t *self, void *sock)
{
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://cds-auth-monitor-%p", (void *) self);
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_ACCEPTED
                 | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_DISCONNECTED
                 | ZMQ_EVENT_CLOSED;
    int hwm = MONITOR_HWM, zero = 0;
    if (zmq_socket_monitor(sock, ep, events) != 0) {
        cds_log(CDS_LOG_ERROR, "monitor_failed", "error=%s",
                cds_logq(zmq_strerror(errno)));
        return CDS_ERROR;
    }
    self->monitor = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!self->monitor
        || zmq_setsockopt(self->monitor, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0
        || zmq_setsockopt(self->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_connect(self->monitor, ep) != 0) {
        cds_log(CDS_LOG_ERROR, "monitor_failed", "error=%s",
                cds_logq(zmq_strerror(errno)));
        return CDS_ERROR;      /* auth_destroy closes it */
    }
    self->watched = sock;
    return CDS_OK;
}

void
auth_set_event_hook(auth_t *self, auth_event_fn *fn, void *ctx)
{
    self->on_event = fn;
    self->on_event_ctx = ctx;
}

void
auth_set_peer_hook(auth_t *self, auth_peer_fn *fn, void *ctx)
{
    self->peer_of = fn;
    self->peer_ctx = ctx;
}

uint64_t
auth_refused(auth_reason_t r)
{
    return r < AUTH_REASONS ? atomic_load(&refused_by_reason[r]) : 0;
}

void *
auth_denials_socket(auth_t *self)
{
    return self->pull;
}

void *
auth_events_socket(auth_t *self)
{
    return self->monitor;
}

uint64_t
auth_admitted(const auth_t *self)
{
    return atomic_load(&((auth_t *) self)->admitted);
}

uint64_t
auth_denied(const auth_t *self)
{
    return atomic_load(&((auth_t *) self)->denied);
}

/* ---- knocks (owner thread) ------------------------------------------------- */

/* Write the pending count of every group due (all when force) in one
 * transaction; on failure the counts stay for the next try. */
static int
knock_write(auth_t *self, store_t *store, uint64_t now_ms, bool force)
{
    cds_sql_t *db = store_sql(store);
    bool begun = false;
    int code = CDS_OK;
    for (int i = 0; i < AUTH_KNOCK_SLOTS && code == CDS_OK; i++) {
        knock_t *k = &self->knocks[i];
        if (!k->used || k->pending == 0
            || (!force && k->written_ms
                && now_ms - k->written_ms < AUTH_KNOCK_WRITE_MS))
            continue;
        if (!begun && (code = cds_sql_begin(db)) != CDS_OK)
            break;
        begun = true;
        code = store_knock_add(store, k->has_key ? k->curve_pk : NULL,
                               k->address, k->code, (int64_t) k->first_ms,
                               (int64_t) k->last_ms, k->pending);
    }
    if (begun)
        code = code == CDS_OK ? cds_sql_commit(db) : code;
    if (code != CDS_OK) {
        if (begun)
            cds_sql_rollback(db);
        cds_log(CDS_LOG_WARN, "knock_write_failed", "error=%s",
                cds_strerror(code));
        return code;
    }
    for (int i = 0; begun && i < AUTH_KNOCK_SLOTS; i++) {
        knock_t *k = &self->knocks[i];
        if (k->used && k->pending
            && (force || !k->written_ms
                || now_ms - k->written_ms >= AUTH_KNOCK_WRITE_MS)) {
            k->pending = 0;
            k->written_ms = now_ms;
        }
    }
    return CDS_OK;
}

/* The group of (key, address) in memory, or NULL. */
static knock_t *
knock_find(auth_t *self, const uint8_t *key, const char *address)
{
    for (int i = 0; i < AUTH_KNOCK_SLOTS; i++) {
        knock_t *k = &self->knocks[i];
        if (k->used && k->has_key == (key != NULL)
            && (!key || memcmp(k->curve_pk, key, CDS_PK_BYTES) == 0)
            && strcmp(k->address, address) == 0)
            return k;
    }
    return NULL;
}

/* The group of (key, address): found, a free slot, or, with every slot
 * taken, the one seen least recently (its count written first). */
static knock_t *
knock_slot(auth_t *self, store_t *store, const uint8_t *key,
           const char *address, uint64_t now_ms)
{
    knock_t *free_slot = NULL, *oldest = knock_find(self, key, address);
    if (oldest)
        return oldest;
    for (int i = 0; i < AUTH_KNOCK_SLOTS; i++) {
        knock_t *k = &self->knocks[i];
        if (!k->used)
            free_slot = free_slot ? free_slot : k;
        else if (!oldest || k->last_ms < oldest->last_ms)
            oldest = k;
    }
    knock_t *k = free_slot;
    if (!k) {
        if (oldest->pending && knock_write(self, store, now_ms, true)
                                   != CDS_OK)
            return oldest;     /* counted under the wrong group: rare */
        k = oldest;
    }
    memset(k, 0, sizeof *k);
    k->used = true;
    k->has_key = key != NULL;
    if (key)
        memcpy(k->curve_pk, key, CDS_PK_BYTES);
    snprintf(k->address, sizeof k->address, "%s", address);
    return k;
}

/* Count one refused handshake in its group. A peer making up a new key
 * per attempt would make a row per attempt: past AUTH_REPORT_BURST new
 * keyed groups in AUTH_REPORT_WINDOW_MS, a new key is counted under its
 * address alone (the rows stay bounded like the log lines). */
static void
knock(auth_t *self, store_t *store, const uint8_t *key, const char *address,
      int code, uint64_t now_ms)
{
    if (!address[0])
        address = "unknown";
    if (key && !knock_find(self, key, address)) {
        if (now_ms - self->new_window_ms >= AUTH_REPORT_WINDOW_MS) {
            self->new_window_ms = now_ms;
            self->new_in_window = 0;
        }
        if (self->new_in_window >= AUTH_REPORT_BURST)
            key = NULL;
        else
            self->new_in_window++;
    }
    knock_t *k = knock_slot(self, store, key, address, now_ms);
    if (k->pending == 0)
        k->first_ms = now_ms;
    k->pending++;
    k->last_ms = now_ms;
    k->code = code;
}

long
auth_due_in_ms(const auth_t *self, uint64_t now_ms)
{
    long due = -1;
    for (int i = 0; i < AUTH_KNOCK_SLOTS; i++) {
        const knock_t *k = &self->knocks[i];
        if (!k->used || k->pending == 0)
            continue;
        uint64_t at = k->written_ms + AUTH_KNOCK_WRITE_MS;
        long in = at > now_ms ? (long) (at - now_ms) : 0;
        if (due < 0 || in < due)
            due = in;
    }
    return due;
}

int
auth_flush(auth_t *self, store_t *store, uint64_t now_ms)
{
    return knock_write(self, store, now_ms, true);
}

/* ---- reports (owner thread) ------------------------------------------------ */

/* True when one more report fits in the current window. */
static bool
report_allowed(auth_t *self, uint64_t now_ms)
{
    if (now_ms - self->window_start >= AUTH_REPORT_WINDOW_MS) {
        if (self->suppressed)
            cds_log(CDS_LOG_WARN, "auth_reports_suppressed",
                    "count=%lu window_ms=%d", self->suppressed,
                    AUTH_REPORT_WINDOW_MS);
        self->window_start = now_ms;
        self->in_window = 0;
        self->suppressed = 0;
    }
    if (self->in_window < AUTH_REPORT_BURST) {
        self->in_window++;
        return true;
    }
    self->suppressed++;
    return false;
}

static void
log_denial(const denial_t *d)
{
    /* Hex, not Z85: Z85 uses '=' and quotes, which logfmt would split. */
    char hex[2 * CDS_PK_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, d->curve_pk, CDS_PK_BYTES);
    cds_log(CDS_LOG_WARN, "zap_denied",
            "reason=%s curve_key=%s agent=%s address=%s message=%s",
            cds_strerror(d->code), hex, d->fpr, cds_logq(d->address),
            cds_logq(d->why));
}

/* Name of a protocol error value of ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL. */
static const char *
protocol_error(uint32_t v)
{
    if (v == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "mechanism_mismatch (client does not use CURVE)";
    if (v >= ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
        && v <= ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC + 0x10)
        return "cryptographic (wrong server key or corrupt handshake)";
    return "protocol_error";
}

/* The DISCONNECTED event of fd follows a handshake failure: count it
 * under the peer address the connection guard read at accept. */
static void
knock_failed(auth_t *self, store_t *store, int fd, uint64_t now_ms)
{
    char peer[ADDRESS_LEN] = "";
    self->failed_pending = false;
    if (!self->peer_of || !self->peer_of(self->peer_ctx, fd, peer,
                                         sizeof peer))
        peer[0] = '\0';
    knock(self, store, NULL, peer, CDS_EMALFORMED, now_ms);
}

/* One monitor event: frame 1 = u16 event, u32 value; frame 2 = address. */
static void
record_event(auth_t *self, store_t *store, uint64_t now_ms)
{
    uint8_t head[6];
    char addr[ADDRESS_LEN] = "";
    int more = 0;
    size_t ml = sizeof more;
    int n = zmq_recv(self->monitor, head, sizeof head, ZMQ_DONTWAIT);
    if (n < 0)
        return;
    zmq_getsockopt(self->monitor, ZMQ_RCVMORE, &more, &ml);
    if (more) {
        int a = zmq_recv(self->monitor, addr, sizeof addr - 1, 0);
        addr[a > 0 ? (a < (int) sizeof addr ? a : (int) sizeof addr - 1)
                   : 0] = '\0';
    }
    if (n != 6)
        return;
    uint16_t event;
    uint32_t value;
    memcpy(&event, head, 2);
    memcpy(&value, head + 2, 4);
    if (event & (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED
                 | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED)) {
        if (event == ZMQ_EVENT_DISCONNECTED && self->failed_pending)
            knock_failed(self, store, (int) value, now_ms);
        if (self->on_event)
            self->on_event(self->on_event_ctx, event, value);
        return;
    }
    /* Auth failures are reported by the handler with the key. */
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return;
    atomic_fetch_add(&refused_by_reason[AUTH_REASON_HANDSHAKE], 1);
    if (self->failed_pending)  /* its DISCONNECTED never came: no peer */
        knock(self, store, NULL, "", CDS_EMALFORMED, now_ms);
    self->failed_pending = true;
    if (!report_allowed(self, now_ms))
        return;
    const char *why = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          ? protocol_error(value)
                          : "connection closed during handshake (client "
                            "without CURVE, wrong server key, or network)";
    cds_log(CDS_LOG_WARN, "handshake_failed", "endpoint=%s value=0x%x "
            "message=%s", cds_logq(addr), value, cds_logq(why));
}

int
auth_drain(auth_t *self, store_t *store, uint64_t now_ms)
{
    int count = 0;
    denial_t d;
    while (zmq_recv(self->pull, &d, sizeof d, ZMQ_DONTWAIT) == sizeof d) {
        count++;
        d.address[sizeof d.address - 1] = '\0';
        d.fpr[sizeof d.fpr - 1] = '\0';
        d.why[sizeof d.why - 1] = '\0';
        if (report_allowed(self, now_ms))
            log_denial(&d);
        knock(self, store,
              sodium_is_zero(d.curve_pk, CDS_PK_BYTES) ? NULL : d.curve_pk,
              d.address, d.code, now_ms);
    }
    /* Bounded: a connection flood must not keep the owner here. */
    for (int n = 0; self->monitor && n < 4096; n++) {
        int events = 0;
        size_t el = sizeof events;
        if (zmq_getsockopt(self->monitor, ZMQ_EVENTS, &events, &el) != 0
            || !(events & ZMQ_POLLIN))
            break;
        record_event(self, store, now_ms);
        count++;
    }
    knock_write(self, store, now_ms, false);
    return count;
}
