/*  swarm: many simulated agents in one process, for the fault suite
 *  (tests/fault/13_swarm.sh). Test tool only.
 *
 *      swarm enroll AGG_STORE DIR N ORG_UNIT
 *          N new identities DIR/sNNNN.key, enrolled in bulk (one process,
 *          the aggregator's own store_open and enroll_add) with labels
 *          sNNNN. AGG_STORE is what `[aggregator] store` names: the
 *          SQLite file or a postgresql:// URL (the store opens either;
 *          the org unit table must be loaded, as any enroll does).
 *          ORG_UNIT "@FILE": agent i gets the unit on line i + 1 of FILE
 *          (one commune each: `make bench` phase "country").
 *      swarm run ENDPOINT SERVER_PUBID DIR N ROWS ORG_UNIT SECONDS QUEUED_SQL
 *                [TIMES [BATCH]]
 *          Each simulated agent opens its own CURVE DEALER connection,
 *          says hello and sends ROWS updates in batches of BATCH (default
 *          50, at most 1,000 as the agent's batch_max), one batch in
 *          flight; a reply missing for 3 s (SWARM_ACK_TIMEOUT_MS: the
 *          agent's ack_timeout_ms is 10,000), or an ACK_GAP/ACK_RETRY, makes
 *          it say hello again and resume from what the aggregator holds
 *          (the same content for the same seq: deterministic updates).
 *          Writes every update it queues to QUEUED_SQL as INSERT statements
 *          for the checker's table "acked" (/dev/null: none). With TIMES,
 *          writes there one line per agent "LABEL DRAINED_MS HELLOS":
 *          milliseconds from the start until its last update was acked
 *          (-1: never), and the hellos it said. Prints one line
 *          "swarm: drained D/N rows R max_ms M hellos H" and exits 0 when
 *          all N drained before SECONDS elapsed, 1 otherwise.
 *  The aggregator may be killed and restarted meanwhile: libzmq
 *  reconnects every socket, and all N agents come back at once. */
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_update.h"
#include "cds_util.h"
#include "enroll.h"
#include "store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BATCH_MAX 1000
#define REPLY_TIMEOUT_MS 3000          /* SWARM_ACK_TIMEOUT_MS overrides */
static const char *const DE[3] = {"TTHC_TONG", "TTHC_ONLINE_SO", "TTHC_ONLINE"};

typedef struct {
    cds_identity_t *id;
    void *sock;
    uint64_t applied, sent_last, base_hlc;
    uint8_t head[CDS_HASH_BYTES];
    uint64_t wait_since, drained_at;
    int inflight, need_hello, idx;
    unsigned hellos;
    const char *ou;                    /* its org unit */
} sim_t;

static uint64_t rows, batch = 50, reply_timeout_ms = REPLY_TIMEOUT_MS;
static uint8_t server[CDS_PK_BYTES], server_curve[CDS_PK_BYTES];
static unsigned long n_hellos;

/* The org unit of agent i: arg itself, or line i + 1 of the file "@FILE"
 * (kept in *lines, loaded once; NULL when the file has fewer lines). */
static const char *
unit_of(const char *arg, int i, char ***lines, int *n_lines)
{
    if (arg[0] != '@')
        return arg;
    if (!*lines) {
        FILE *f = fopen(arg + 1, "r");
        char buf[256];
        int cap = 0;
        while (f && fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\r\n")] = '\0';
            if (*n_lines == cap) {
                cap = cap ? 2 * cap : 1024;
                *lines = realloc(*lines, (size_t)cap * sizeof **lines);
            }
            (*lines)[(*n_lines)++] = strdup(buf);
        }
        if (f)
            fclose(f);
        else
            fprintf(stderr, "swarm: %s: cannot read\n", arg + 1);
    }
    return i < *n_lines ? (*lines)[i] : NULL;
}

static int
cmd_enroll(char **argv)
{
    int err = 0, n = atoi(argv[4]);
    store_t *st = store_open(argv[2], 0, &err);
    if (!st) {
        char where[1024];            /* a URL's password never shown */
        fprintf(stderr, "swarm: %s: %s\n",
                store_display(argv[2], where, sizeof where), cds_strerror(err));
        return 1;
    }
    FILE *devnull = fopen("/dev/null", "w");
    const char *units[1];
    char **lines = NULL;
    int rc = 0, n_lines = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char path[600], label[32], pub[CDS_PUBID_LEN], msg[256];
        if (!(units[0] = unit_of(argv[5], i, &lines, &n_lines))) {
            fprintf(stderr, "swarm: %s: no org unit for agent %d\n", argv[5], i);
            rc = CDS_EBADFIELD;
            break;
        }
        snprintf(label, sizeof label, "s%04d", i);
        snprintf(path, sizeof path, "%s/%s.key", argv[3], label);
        cds_identity_t *id = NULL;
        rc = cds_identity_generate(path, label);
        if (rc == CDS_OK && !(id = cds_identity_load(path, &err, NULL, 0)))
            rc = err;
        if (rc == CDS_OK) {
            cds_identity_public(id, pub, sizeof pub);
            rc = enroll_add(st, pub, units, 1, label, cds_now_ms(), devnull,
                            msg, sizeof msg);
        }
        if (rc != CDS_OK)
            fprintf(stderr, "swarm: enroll %s: %s\n", label, cds_strerror(rc));
        cds_identity_destroy(&id);
    }
    fclose(devnull);
    store_destroy(&st);
    for (int i = 0; i < n_lines; i++)
        free(lines[i]);
    free(lines);
    return rc == CDS_OK ? 0 : 1;
}

/* The deterministic update seq of agent s (same content on every resend). */
static void
make_update(const sim_t *s, uint64_t seq, cds_update_t *u, char *period,
            char *value)
{
    uint64_t m = (seq - 1) / 3;
    snprintf(period, 24, "%04llu%02llu", (unsigned long long)(1950 + m / 12),
             (unsigned long long)(m % 12 + 1));
    snprintf(value, 24, "%d", (int)((s->idx * 13 + seq) % 1000));
    memset(u, 0, sizeof *u);
    u->seq = seq;
    u->org_unit = s->ou;
    u->indicator = DE[(seq - 1) % 3];
    u->period = period;
    u->disagg = "default";
    u->value = value;
    u->hlc = s->base_hlc + seq;
}

static void
record(FILE *q, const sim_t *s, const cds_update_t *u, const uint8_t *h)
{
    fprintf(q, "INSERT OR IGNORE INTO acked VALUES ('s%04d', %llu, X'", s->idx,
            (unsigned long long)u->seq);
    for (int i = 0; i < CDS_HASH_BYTES; i++)
        fprintf(q, "%02x", h[i]);
    fprintf(q, "', '%s', '%s', '%s', '%s', '%s', 0, %llu);\n", u->org_unit,
            u->indicator, u->period, u->disagg, u->value,
            (unsigned long long)u->hlc);
}

static int
send_hello(sim_t *s)
{
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *)cds_identity_sign_pk(s->id);
    h.agent.len = CDS_PK_BYTES;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cds_envelope_seal_msg(s->id, CDSYNC__KIND__KIND_HELLO, server, &h.base,
                              &buf, &len) != CDS_OK)
        return -1;
    zmq_send(s->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    n_hellos++;
    s->hellos++;
    s->inflight = 1;
    s->need_hello = 0;
    s->wait_since = cds_mono_ms();
    return 0;
}

static int
send_batch(sim_t *s, FILE *q)
{
    uint64_t first = s->applied + 1, n = rows - s->applied;
    if (n > batch)
        n = batch;
    static Cdsync__Update pu[BATCH_MAX], *ups[BATCH_MAX];
    static cds_update_t u[BATCH_MAX];
    static char per[BATCH_MAX][24], val[BATCH_MAX][24];
    uint8_t head[CDS_HASH_BYTES], h[CDS_HASH_BYTES];
    memcpy(head, s->head, sizeof head);
    for (uint64_t i = 0; i < n; i++) {
        make_update(s, first + i, &u[i], per[i], val[i]);
        cds_update_hash(&u[i], h);
        cds_chain_next(head, h, head);
        if (first + i > s->sent_last)
            record(q, s, &u[i], h);
        cdsync__update__init(&pu[i]);
        cds_update_to_pb(&u[i], &pu[i]);
        ups[i] = &pu[i];
    }
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = CDS_PROTOCOL_VERSION;
    b.agent.data = (uint8_t *)cds_identity_sign_pk(s->id);
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = first;
    b.last_seq = first + n - 1;
    b.prev_head.data = s->head;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = head;
    b.head.len = CDS_HASH_BYTES;
    b.n_updates = n;
    b.updates = ups;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cds_envelope_seal_msg(s->id, CDSYNC__KIND__KIND_BATCH, server, &b.base,
                              &buf, &len) != CDS_OK)
        return -1;
    zmq_send(s->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    if (b.last_seq > s->sent_last)
        s->sent_last = b.last_seq;
    s->inflight = 1;
    s->wait_since = cds_mono_ms();
    return 0;
}

/* One reply for s: hello answer or ack. */
static void
on_reply(sim_t *s, const uint8_t *data, size_t len)
{
    Cdsync__Envelope *env = NULL;
    if (cds_envelope_decode(data, len, &env) != CDS_OK)
        return;
    int err = 0;
    if (env->kind == CDSYNC__KIND__KIND_HELLO_ANSWER) {
        Cdsync__HelloAnswer *a = cds_msg_decode(
            &cdsync__hello_answer__descriptor, env->body.data, env->body.len,
            &err);
        if (a && !a->error) {          /* no head yet: 32 zero bytes */
            s->applied = a->applied_seq;
            memset(s->head, 0, CDS_HASH_BYTES);
            if (a->applied_head.len == CDS_HASH_BYTES)
                memcpy(s->head, a->applied_head.data, CDS_HASH_BYTES);
            s->inflight = 0;
        } else
            s->need_hello = 1;
        cds_msg_free(a);
    } else if (env->kind == CDSYNC__KIND__KIND_ACK) {
        Cdsync__Ack *a = cds_msg_decode(&cdsync__ack__descriptor,
                                        env->body.data, env->body.len, &err);
        if (a && a->status == CDSYNC__ACK_STATUS__ACK_OK
            && a->acked_head.len == CDS_HASH_BYTES) {
            s->applied = a->acked_seq;
            memcpy(s->head, a->acked_head.data, CDS_HASH_BYTES);
            s->inflight = 0;
        } else
            s->need_hello = 1, s->inflight = 0;
        cds_msg_free(a);
    }
    cds_msg_free(env);
    if (s->applied >= rows && !s->drained_at)
        s->drained_at = cds_mono_ms();
}

static sim_t *
sims_open(void *ctx, const char *ep, const char *dir, int n, const char *units)
{
    sim_t *v = calloc((size_t)n, sizeof *v);
    uint64_t base = cds_now_ms() << 16;
    char **lines = NULL;               /* kept: the sims point into it */
    int n_lines = 0;
    for (int i = 0; v && i < n; i++) {
        char path[600];
        int err = 0, linger = 0, ivl = 200, ivl_max = 2000;
        snprintf(path, sizeof path, "%s/s%04d.key", dir, i);
        v[i].idx = i;
        if (!(v[i].ou = unit_of(units, i, &lines, &n_lines)))
            return fprintf(stderr, "swarm: %s: no org unit for agent %d\n",
                           units, i), NULL;
        v[i].base_hlc = base;
        v[i].need_hello = 1;
        v[i].id = cds_identity_load(path, &err, NULL, 0);
        v[i].sock = zmq_socket(ctx, ZMQ_DEALER);
        if (!v[i].id || !v[i].sock)
            return fprintf(stderr, "swarm: %s: cannot load\n", path), NULL;
        zmq_setsockopt(v[i].sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(v[i].sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(v[i].sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        zmq_setsockopt(v[i].sock, ZMQ_CURVE_SERVERKEY, server_curve, CDS_PK_BYTES);
        zmq_setsockopt(v[i].sock, ZMQ_CURVE_PUBLICKEY,
                       cds_identity_curve_pk(v[i].id), CDS_PK_BYTES);
        zmq_setsockopt(v[i].sock, ZMQ_CURVE_SECRETKEY,
                       cds_identity_curve_sk(v[i].id), CDS_PK_BYTES);
        if (zmq_connect(v[i].sock, ep) != 0)
            return fprintf(stderr, "swarm: connect %s failed\n", ep), NULL;
    }
    return v;
}

/* BATCH (argv[11]) and SWARM_ACK_TIMEOUT_MS; 0, or 2 when out of range. */
static int
run_options(char **argv)
{
    if (argv[10] && argv[11])
        batch = strtoull(argv[11], NULL, 10);
    const char *tmo = getenv("SWARM_ACK_TIMEOUT_MS");
    if (tmo && strtoull(tmo, NULL, 10) > 0)
        reply_timeout_ms = strtoull(tmo, NULL, 10);
    if (batch < 1 || batch > BATCH_MAX) {
        fprintf(stderr, "swarm: BATCH %s: not in 1..%d\n", argv[11],
                BATCH_MAX);
        return 2;
    }
    return 0;
}

/* One line per agent: "LABEL DRAINED_MS HELLOS" (-1: never drained). */
static void
write_times(const char *path, const sim_t *v, int n, uint64_t t0)
{
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++)
        fprintf(f, "s%04d %lld %u\n", i, v[i].drained_at
                ? (long long)(v[i].drained_at - t0) : -1LL, v[i].hellos);
    if (f)
        fclose(f);
    else
        fprintf(stderr, "swarm: %s: cannot write\n", path);
}

static int
cmd_run(char **argv)
{
    int n = atoi(argv[5]);
    rows = strtoull(argv[6], NULL, 10);
    if (run_options(argv) != 0)
        return 2;
    uint64_t deadline = cds_mono_ms() + 1000 * strtoull(argv[8], NULL, 10),
             t0 = cds_mono_ms();
    if (cds_pubid_parse(argv[3], server, server_curve) != CDS_OK)
        return fprintf(stderr, "swarm: bad server identity\n"), 2;
    FILE *q = fopen(argv[9], "w");
    void *ctx = zmq_ctx_new();
    int maxs = n + 64;
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, maxs);
    sim_t *v = q ? sims_open(ctx, argv[2], argv[4], n, argv[7]) : NULL;
    zmq_pollitem_t *pi = calloc((size_t)n, sizeof *pi);
    int drained = 0;
    while (v && pi && drained < n && cds_mono_ms() < deadline) {
        uint64_t now = cds_mono_ms();
        drained = 0;
        for (int i = 0; i < n; i++) {
            sim_t *s = &v[i];
            if (s->inflight && now - s->wait_since > reply_timeout_ms)
                s->inflight = 0, s->need_hello = 1;
            if (!s->inflight && s->need_hello)
                send_hello(s);
            else if (!s->inflight && s->applied < rows)
                send_batch(s, q);
            drained += s->applied >= rows;
            pi[i] = (zmq_pollitem_t){s->sock, 0, ZMQ_POLLIN, 0};
        }
        if (zmq_poll(pi, n, 100) < 0)
            break;
        for (int i = 0; i < n; i++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while ((pi[i].revents & ZMQ_POLLIN)
                   && zmq_msg_recv(&m, v[i].sock, ZMQ_DONTWAIT) >= 0)
                on_reply(&v[i], zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
        }
    }
    uint64_t max_ms = 0;
    if (argv[10] && v)
        write_times(argv[10], v, n, t0);
    for (int i = 0; v && i < n; i++) {
        if (v[i].drained_at && v[i].drained_at - t0 > max_ms)
            max_ms = v[i].drained_at - t0;
        zmq_close(v[i].sock);
        cds_identity_destroy(&v[i].id);
    }
    printf("swarm: drained %d/%d rows %llu max_ms %llu hellos %lu\n", drained,
           n, (unsigned long long)rows, (unsigned long long)max_ms, n_hellos);
    free(v);
    free(pi);
    if (q)
        fclose(q);
    zmq_ctx_term(ctx);
    return drained == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 3;
    if (argc == 6 && !strcmp(argv[1], "enroll"))
        return cmd_enroll(argv);
    if (argc >= 10 && argc <= 12 && !strcmp(argv[1], "run"))
        return cmd_run(argv);
    fprintf(stderr, "usage: swarm enroll AGG_STORE DIR N ORG_UNIT|@FILE\n"
                    "       swarm run ENDPOINT SERVER_PUBID DIR N ROWS "
                    "ORG_UNIT|@FILE SECONDS QUEUED_SQL [TIMES [BATCH]]\n");
    return 2;
}
