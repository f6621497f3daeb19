/*  bench_agents: the agent-side tools of `make bench` (issue 7, items 2-6).
 *
 *    drain T0_NS TIMEOUT_S PID DB...   poll each agent outbox (read-only,
 *        every 10 ms) until all are empty; print seconds since T0_NS (wall
 *        clock, `date +%s%N`) and the peak VmRSS (KiB) of PID seen while
 *        polling (PID 0: none).
 *    load STATE_DIR OU RATE SECONDS START   submit one update every
 *        1/RATE s through the agent's outbox API (outbox_push, then the
 *        same "wake" frame `submit` sends, on one kept PUSH socket); a
 *        second thread watches the outbox on its own connection (every
 *        100 us) and records when each seq leaves it (= its ACK_OK was
 *        recorded). Prints p50 p99 p99.9 in ms and the achieved rate.
 *        With CDS_TRACE=FILE (common/cds_trace.h) also one `submit`
 *        line per update: seq, begin (before outbox_push), and the line's
 *        time = committed in the outbox.
 *    idle-enroll DIR N AGG_DB ORGUNITS [PREFIX]   create N identities
 *        in DIR and enroll them (unit BOU00001; with PREFIX, agent i gets
 *        unit PREFIX followed by i + 1 in 4 digits, PREFIX0001..: one
 *        agent per commune) into the aggregator database, one
 *        transaction, before the aggregator starts.
 *    idle-connect DIR FIRST N ENDPOINT SERVER_PUBID HB_S   one process
 *        with N DEALER sockets (identities FIRST..FIRST+N-1, the agent's
 *        socket options and CURVE keys), each says Hello (again every
 *        20 s until answered); prints "ready ANSWERED SECONDS" when every
 *        Hello is answered (or after 300 s), then stays connected
 *        sending a signed Heartbeat per agent every HB_S seconds (spread
 *        evenly) until SIGTERM.
 *
 *  Invariant: these tools only read the databases the daemons write,
 *  except `load` (outbox_push, as `submit` does) and `idle-enroll`
 *  (before the aggregator runs). */
#include "bench_util.h"
#include "cds_codec.h"
#include "cds_db.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_signal.h"
#include "cds_trace.h"
#include "cds_util.h"
#include "outbox.h"
#include "store.h"
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zmq.h>

#define POLL_NS 100000u                /* load: outbox watch interval */

static volatile sig_atomic_t g_stop;

static void
on_term(int sig)
{
    (void) sig;
    g_stop = 1;
}

static void
sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t) (ns / 1000000000u),
                           (long) (ns % 1000000000u) };
    nanosleep(&ts, NULL);
}

/* ---- drain ---------------------------------------------------------------- */

/* 1 if the outbox of db is empty, 0 if not, -1 on error. */
static int
outbox_is_empty(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 1 : rc == SQLITE_ROW ? 0 : -1;
}

static int
cmd_drain(uint64_t t0, double timeout, long pid, int n, char **dbs)
{
    sqlite3 **db = calloc((size_t) n, sizeof *db);
    sqlite3_stmt **st = calloc((size_t) n, sizeof *st);
    int left = n, rc = 0;
    long rss_max = 0, rss, hwm;
    for (int i = 0; db && st && i < n && rc == 0; i++) {
        rc = sqlite3_open_v2(dbs[i], &db[i], SQLITE_OPEN_READONLY, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_busy_timeout(db[i], 5000);
            rc = sqlite3_prepare_v2(db[i], "SELECT 1 FROM outbox LIMIT 1",
                                    -1, &st[i], NULL);
        }
    }
    uint64_t deadline = bench_mono_ns() + (uint64_t) (timeout * 1e9);
    while (rc == 0 && left > 0 && bench_mono_ns() < deadline) {
        for (int i = 0; i < n && rc == 0; i++) {
            int e = st[i] ? outbox_is_empty(st[i]) : 1;
            if (e < 0)
                rc = -1;
            else if (e == 1 && st[i]) {
                sqlite3_finalize(st[i]);
                st[i] = NULL;
                left--;
            }
        }
        if (pid > 0) {
            bench_rss_kib(pid, &rss, &hwm);
            rss_max = rss > rss_max ? rss : rss_max;
        }
        if (left > 0)
            sleep_ns(10000000u);
    }
    double secs = (double) (bench_wall_ns() - t0) / 1e9;
    for (int i = 0; db && st && i < n; i++) {
        sqlite3_finalize(st[i]);
        sqlite3_close(db[i]);
    }
    free(db);
    free(st);
    if (rc != 0 || left > 0) {
        fprintf(stderr, "drain: %d of %d outboxes not empty (rc %d)\n", left,
                n, rc);
        return 1;
    }
    printf("%.3f %ld\n", secs, rss_max);
    return 0;
}

/* ---- load ----------------------------------------------------------------- */

typedef struct {
    const char *db_path;
    uint64_t seq0;                     /* first seq this run pushed */
    uint64_t *submit_ns, *ack_ns;      /* by seq - seq0 */
    size_t cap;
    _Atomic uint64_t last_pushed;      /* highest seq whose push returned */
    _Atomic int done;                  /* submitter finished */
    size_t acked;                      /* observer: rows seen leaving */
    size_t total;                      /* set when done */
} load_t;

/* Mark seqs in [seq0 + acked, upto] as acked at now. */
static void
load_mark(load_t *l, uint64_t upto, uint64_t now)
{
    while (l->acked < l->cap && l->seq0 + l->acked <= upto)
        l->ack_ns[l->acked++] = now;
}

static void *
load_observer(void *arg)
{
    load_t *l = arg;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    sqlite3_open_v2(l->db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_prepare_v2(db, "SELECT min(seq) FROM outbox", -1, &st, NULL);
    uint64_t deadline = 0;
    while (st) {
        uint64_t last = atomic_load(&l->last_pushed);
        if (sqlite3_step(st) == SQLITE_ROW) {
            uint64_t now = bench_mono_ns();
            if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                load_mark(l, last, now);
            else if (last && sqlite3_column_int64(st, 0) > 0)
                load_mark(l, (uint64_t) sqlite3_column_int64(st, 0) - 1 < last
                                 ? (uint64_t) sqlite3_column_int64(st, 0) - 1
                                 : last, now);
        }
        sqlite3_reset(st);
        if (atomic_load(&l->done)) {
            if (!deadline)
                deadline = bench_mono_ns() + 30000000000u;
            if (l->acked >= l->total || bench_mono_ns() > deadline)
                break;
        }
        sleep_ns(POLL_NS);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

/* Queue the k-th update of the run; returns its seq or 0. */
static uint64_t
load_push(outbox_t *ob, const char *ou, uint64_t i)
{
    bench_row_t r;
    char err[256];
    bench_row(&r, i);
    cds_update_t u = { .org_unit = ou, .indicator = r.indicator,
                       .period = r.period, .disagg = "default",
                       .value = r.value, .comment = r.comment,
                       .stored_by = "bench" };
    int rc = outbox_push(ob, &u, NULL, 1, 0, err, sizeof err);
    if (rc != CDS_OK)
        fprintf(stderr, "load: push: %s %s\n", cds_strerror(rc), err);
    return rc == CDS_OK ? u.seq : 0;
}

/* Print p50/p99/p99.9 (ms) and the achieved rate. */
static int
load_report(load_t *l, double secs)
{
    size_t n = l->acked < l->total ? l->acked : l->total;
    uint64_t *lat = calloc(n ? n : 1, sizeof *lat);
    for (size_t i = 0; lat && i < n; i++)
        lat[i] = l->ack_ns[i] - l->submit_ns[i];
    if (!lat || n < l->total || n == 0) {
        fprintf(stderr, "load: only %zu of %zu acked\n", n, l->total);
        free(lat);
        return 1;
    }
    double p50 = (double) bench_quantile(lat, n, 0.50) / 1e6;
    double p99 = (double) bench_quantile(lat, n, 0.99) / 1e6;
    double p999 = (double) bench_quantile(lat, n, 0.999) / 1e6;
    printf("%.3f %.3f %.3f %.0f\n", p50, p99, p999, (double) n / secs);
    free(lat);
    return 0;
}

static void *
wake_socket(void *ctx, const char *state_dir)
{
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s/wake.sock", state_dir);
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (s && zmq_connect(s, ep) != 0) {
        zmq_close(s);
        s = NULL;
    }
    return s;
}

static int
cmd_load(const char *state_dir, const char *ou, double rate, double secs,
         uint64_t start)
{
    char path[600];
    int err = 0;
    snprintf(path, sizeof path, "%s/agent.db", state_dir);
    outbox_t *ob = outbox_open(path, &err);
    if (ob)                            /* as `submit` beside the daemon */
        outbox_defer_checkpoints(ob);
    void *ctx = zmq_ctx_new();
    void *wake = ctx ? wake_socket(ctx, state_dir) : NULL;
    size_t cap = (size_t) (rate * secs) + 1;
    load_t l = { .db_path = path, .cap = cap,
                 .submit_ns = calloc(cap, sizeof(uint64_t)),
                 .ack_ns = calloc(cap, sizeof(uint64_t)) };
    int rc = ob && wake && l.submit_ns && l.ack_ns ? 0 : 1;
    pthread_t th;
    if (rc == 0 && pthread_create(&th, NULL, load_observer, &l) != 0)
        rc = 1;
    uint64_t t0 = bench_mono_ns(), step = (uint64_t) (1e9 / rate);
    size_t k = 0;
    for (; rc == 0 && k < cap - 1; k++) {
        uint64_t due = t0 + k * step, now = bench_mono_ns();
        if (due > now)
            sleep_ns(due - now);
        l.submit_ns[k] = bench_mono_ns();
        uint64_t seq = load_push(ob, ou, start + k);
        if (seq && cds_trace_on())     /* committed in the outbox */
            cds_trace("submit", "seq=%llu begin=%llu",
                      (unsigned long long) seq,
                      (unsigned long long) (l.submit_ns[k] / 1000));
        if (!seq)
            rc = 1;
        if (k == 0)
            l.seq0 = seq;
        atomic_store(&l.last_pushed, seq);
        zmq_send(wake, "wake", 4, ZMQ_DONTWAIT);
    }
    double took = (double) (bench_mono_ns() - t0) / 1e9;
    l.total = k;
    atomic_store(&l.done, 1);
    if (l.submit_ns && l.ack_ns && (rc == 0 || k > 0))
        pthread_join(th, NULL);
    if (rc == 0)
        rc = load_report(&l, took);
    free(l.submit_ns);
    free(l.ack_ns);
    zmq_close(wake);
    zmq_ctx_term(ctx);
    outbox_destroy(&ob);
    return rc;
}

/* ---- idle agents ---------------------------------------------------------- */

static int
cmd_idle_enroll(const char *dir, int n, const char *agg_db,
                const char *orgunits, const char *prefix)
{
    char path[600], err[256], unit[64] = "BOU00001";
    int code = 0;
    store_t *s = store_open(agg_db, 0, &code);
    cds_orgunits_t *ous = cds_orgunits_load(orgunits, err, sizeof err);
    const char *units[] = {unit};
    int rc = s && ous ? store_orgunits_load(s, ous) : CDS_ERROR;
    if (rc == CDS_OK)
        rc = cds_db_begin(store_db(s));
    for (int i = 0; rc == CDS_OK && i < n; i++) {
        snprintf(path, sizeof path, "%s/id%05d.key", dir, i);
        char label[32];
        int64_t id;
        snprintf(label, sizeof label, "idle%05d", i);
        if (prefix)
            snprintf(unit, sizeof unit, "%.40s%04d", prefix, i + 1);
        rc = cds_identity_generate(path, label);
        cds_identity_t *ident = rc == CDS_OK
            ? cds_identity_load(path, &code, err, sizeof err) : NULL;
        if (rc == CDS_OK)
            rc = ident ? store_agent_enroll(s, cds_identity_sign_pk(ident),
                                            cds_identity_curve_pk(ident),
                                            label, units, 1, 1, &id)
                       : CDS_EIO;
        cds_identity_destroy(&ident);
    }
    if (rc == CDS_OK)
        rc = cds_db_commit(store_db(s));
    if (rc != CDS_OK)
        fprintf(stderr, "idle-enroll: %s\n", cds_strerror(rc));
    cds_orgunits_destroy(&ous);
    store_destroy(&s);
    return rc == CDS_OK ? 0 : 1;
}

/* Seal and send one Hello (hello = true) or Heartbeat from id on sock. */
static int
idle_send(void *sock, const cds_identity_t *id, const uint8_t server[32],
          bool hello)
{
    uint8_t zeros[CDS_HASH_BYTES] = {0}, *out = NULL;
    size_t len = 0;
    int rc;
    if (hello) {
        Cdsync__Hello h = CDSYNC__HELLO__INIT;
        h.version = CDS_PROTOCOL_VERSION;
        h.agent.data = (uint8_t *) cds_identity_sign_pk(id);
        h.agent.len = CDS_PK_BYTES;
        h.acked_head.data = zeros;
        h.acked_head.len = sizeof zeros;
        h.clock_ms = cds_now_ms();
        rc = cds_envelope_seal_msg(id, CDSYNC__KIND__KIND_HELLO, server,
                                   &h.base, &out, &len);
    } else {
        Cdsync__Heartbeat b = CDSYNC__HEARTBEAT__INIT;
        b.version = CDS_PROTOCOL_VERSION;
        b.agent.data = (uint8_t *) cds_identity_sign_pk(id);
        b.agent.len = CDS_PK_BYTES;
        b.clock_ms = cds_now_ms();
        rc = cds_envelope_seal_msg(id, CDSYNC__KIND__KIND_HEARTBEAT, server,
                                   &b.base, &out, &len);
    }
    if (rc == CDS_OK && zmq_send(sock, out, len, ZMQ_DONTWAIT) < 0)
        rc = CDS_EIO;
    free(out);
    return rc;
}

/* A DEALER with the agent's options (agent/sender.c dealer_setup),
 * CURVE client of the aggregator's key. */
static void *
idle_dealer(void *ctx, const char *endpoint, const uint8_t server_curve[32],
            const cds_identity_t *id)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, ivl = 5000, tmo = 15000;
    if (!s)
        return NULL;
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_curve, 32) != 0
        || zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cds_identity_curve_pk(id),
                          32) != 0
        || zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, cds_identity_curve_sk(id),
                          32) != 0) {
        zmq_close(s);
        return NULL;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &tmo, sizeof tmo);
    if (zmq_connect(s, endpoint) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Read every waiting reply; count first answers per socket. */
static int
idle_drain(zmq_pollitem_t *it, bool *answered, int n, long timeout_ms)
{
    int got = 0;
    if (zmq_poll(it, n, timeout_ms) <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        char buf[512];
        while ((it[i].revents & ZMQ_POLLIN)
               && zmq_recv(it[i].socket, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
            if (!answered[i]) {
                answered[i] = true;
                got++;
            }
    }
    return got;
}

/* Heartbeats every hb_s per agent, spread evenly, until SIGTERM. */
static void
idle_hold(zmq_pollitem_t *it, cds_identity_t **ids, bool *answered, int n,
          const uint8_t server[32], double hb_s)
{
    uint64_t step = (uint64_t) (hb_s * 1e9 / n), next = bench_mono_ns();
    int k = 0;
    while (!g_stop) {
        uint64_t now = bench_mono_ns();
        while (now >= next) {
            idle_send(it[k].socket, ids[k], server, false);
            k = (k + 1) % n;
            next += step ? step : 1;
        }
        idle_drain(it, answered, n, 50);
    }
}

static int
cmd_idle_connect(const char *dir, int first, int n, const char *endpoint,
                 const char *server_pubid, double hb_s)
{
    uint8_t server[32], curve[32];
    char path[600], err[256];
    int code, answered_n = 0, rc = 0;
    if (cds_pubid_parse(server_pubid, server, curve) != CDS_OK)
        return 1;
    uint64_t t0 = bench_mono_ns();      /* "ready" reports seconds since */
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 64);
    cds_identity_t **ids = calloc((size_t) n, sizeof *ids);
    zmq_pollitem_t *it = calloc((size_t) n, sizeof *it);
    bool *answered = calloc((size_t) n, sizeof *answered);
    for (int i = 0; ids && it && answered && i < n && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/id%05d.key", dir, first + i);
        ids[i] = cds_identity_load(path, &code, err, sizeof err);
        it[i].socket = ids[i] ? idle_dealer(ctx, endpoint, curve, ids[i])
                              : NULL;
        it[i].events = ZMQ_POLLIN;
        if (!it[i].socket
            || idle_send(it[i].socket, ids[i], server, true) != CDS_OK)
            rc = 1;
        if (i % 256 == 255)            /* keep replies flowing meanwhile */
            answered_n += idle_drain(it, answered, i + 1, 0);
    }
    /* An agent whose Hello is not answered says it again (the daemon does,
     * after ack_timeout_ms): under a connection storm some handshakes fail
     * and libzmq reconnects. */
    uint64_t start = bench_mono_ns(), resend = start + 20000000000u;
    while (rc == 0 && answered_n < n
           && bench_mono_ns() < start + 300000000000u) {
        answered_n += idle_drain(it, answered, n, 100);
        for (int i = 0; bench_mono_ns() > resend && i < n; i++)
            if (!answered[i])
                idle_send(it[i].socket, ids[i], server, true);
        if (bench_mono_ns() > resend)
            resend = bench_mono_ns() + 20000000000u;
    }
    printf("ready %d %.1f\n", answered_n,
           (double) (bench_mono_ns() - t0) / 1e9);
    fflush(stdout);
    if (rc == 0)
        idle_hold(it, ids, answered, n, server, hb_s);
    for (int i = 0; ids && it && i < n; i++) {
        zmq_close(it[i].socket);
        cds_identity_destroy(&ids[i]);
    }
    zmq_ctx_term(ctx);
    free(ids);
    free(it);
    free(answered);
    return rc;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    cds_log_init("bench_agents", CDS_LOG_WARN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "drain") && argc >= 6)
        return cmd_drain(strtoull(argv[2], NULL, 10), strtod(argv[3], NULL),
                         strtol(argv[4], NULL, 10), argc - 5, argv + 5);
    if (!strcmp(c, "load") && argc == 7)
        return cmd_load(argv[2], argv[3], strtod(argv[4], NULL),
                        strtod(argv[5], NULL), strtoull(argv[6], NULL, 10));
    if (!strcmp(c, "idle-enroll") && (argc == 6 || argc == 7))
        return cmd_idle_enroll(argv[2], atoi(argv[3]), argv[4], argv[5],
                               argc == 7 ? argv[6] : NULL);
    if (!strcmp(c, "idle-connect") && argc == 8)
        return cmd_idle_connect(argv[2], atoi(argv[3]), atoi(argv[4]),
                                argv[5], argv[6], strtod(argv[7], NULL));
    fprintf(stderr, "usage: bench_agents drain T0_NS TIMEOUT_S PID DB... |"
            " load STATE_DIR OU RATE SECONDS START |"
            " idle-enroll DIR N AGG_DB ORGUNITS [PREFIX] |"
            " idle-connect DIR FIRST N ENDPOINT SERVER_PUBID HB_S\n");
    return 2;
}
