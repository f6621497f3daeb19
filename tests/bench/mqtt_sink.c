/*  mqtt_sink: the subscriber of the Mosquitto pipelines (issue 7 item 8,
 *  issue 19 item 3; docs/PERFORMANCE.md "The Mosquitto pipelines"):
 *  what a district would assemble from parts. Subscribes at QoS 1 and
 *  writes every message into SQLite with cdsync's durability: WAL,
 *  synchronous=FULL, the bare reference table of bench_limits (key +
 *  value), one reused INSERT .. ON CONFLICT DO UPDATE, group commit of up
 *  to 1,000 rows, committed as soon as the socket has nothing more to read.
 *
 *    mqtt_sink HOST PORT TOPIC DB N READY_FILE [ack]
 *  Payload (mqtt_pub.c): "T_NS|org_unit|indicator|period|value" (the value
 *  is the rest of the payload and may contain '|'). After N
 *  rows are committed prints "DONE_NS P50 P99 P999 N": DONE_NS = wall clock
 *  of the last commit, latencies (ms) from T_NS (publisher's wall clock
 *  before publish) to the commit holding the row. READY_FILE is created
 *  once the subscription is acknowledged.
 *
 *  With "ack" (the durable pipeline, mqtt_pub --durable): the payload
 *  starts with the publisher's queue id, "ID|T_NS|org_unit|...", and
 *  after each COMMIT the sink publishes at QoS 1, per org unit (one
 *  publisher each), the ids that commit holds as "ID,ID,..." to
 *  TOPIC/ack/ORG_UNIT: the publisher deletes a queued update only on
 *  that ack, so "acked" means "committed at the sink", as in cdsync.
 *
 *  The acks go out on a second connection run by libmosquitto's own thread
 *  (mosquitto_loop_start): publishing on the subscriber's connection,
 *  whose loop this file drives by hand, corrupted its stream under load
 *  (the broker logged "disconnected due to out of memory" and most acks
 *  never arrived).
 *
 *  Invariant: a row's latency is taken only after its COMMIT returned.
 *  (libmosquitto sends the PUBACK when the callback returns, before that
 *  commit: this pipeline acks earlier than cdsync, to its advantage.) */
#include "bench_util.h"
#include <mosquitto.h>
#include <poll.h>
#include <stdatomic.h>
#include <sqlite3.h>

#define SINK_GROUP 1000
#define SINK_OUS 64                    /* publishers (org units) acked */

#define SINK_SCHEMA                                                          \
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"                      \
    "CREATE TABLE IF NOT EXISTS kv (org_unit TEXT NOT NULL, indicator TEXT " \
    "NOT NULL, period TEXT NOT NULL, disagg TEXT NOT NULL, value TEXT NOT "  \
    "NULL, PRIMARY KEY (org_unit, indicator, period, disagg));"
#define SINK_UPSERT                                                          \
    "INSERT INTO kv (org_unit, indicator, period, disagg, value) VALUES "    \
    "(?1, ?2, ?3, 'default', ?4) ON CONFLICT (org_unit, indicator, period, " \
    "disagg) DO UPDATE SET value = excluded.value"

typedef struct {                       /* ids of one org unit in the txn */
    char ou[32];
    char *ids;                         /* "ID,ID,..." */
    size_t len, cap;
} sink_ack_t;

typedef struct {
    sqlite3 *db;
    struct mosquitto *m, *m_ack;       /* subscriber; the acks' publisher */
    const char *topic;
    int ack;                           /* the durable pipeline */
    sink_ack_t acks[SINK_OUS];
    size_t n_acks;
    size_t acks_sent;                  /* ack publishes */
    _Atomic size_t acks_done;          /* their PUBACKs (m_ack's thread) */
    sqlite3_stmt *st;
    const char *ready_file;
    size_t expect, committed, in_txn;
    uint64_t *sent_ns;                 /* by arrival order */
    uint64_t *lat_ns;                  /* by arrival order, after commit */
    uint64_t done_ns;
    int failed;
} sink_t;

static void
on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *q)
{
    sink_t *s = arg;
    (void) m; (void) mid; (void) n; (void) q;
    FILE *f = fopen(s->ready_file, "w");
    if (f)
        fclose(f);
}

/* Remember queue id for ou's ack after the next COMMIT. */
static int
sink_ack_add(sink_t *s, const char *ou, const char *id)
{
    size_t i = 0;
    while (i < s->n_acks && strcmp(s->acks[i].ou, ou))
        i++;
    if (i == SINK_OUS || strlen(ou) >= sizeof s->acks[i].ou)
        return 1;
    sink_ack_t *a = &s->acks[i];
    if (i == s->n_acks) {
        s->n_acks++;
        snprintf(a->ou, sizeof a->ou, "%s", ou);
    }
    size_t need = a->len + strlen(id) + 2;
    if (need > a->cap) {
        char *p = realloc(a->ids, need * 2);
        if (!p)
            return 1;
        a->ids = p;
        a->cap = need * 2;
    }
    a->len += (size_t) sprintf(a->ids + a->len, "%s%s", a->len ? "," : "", id);
    return 0;
}

/* After a COMMIT: each org unit's ids to TOPIC/ack/OU, QoS 1. */
static void
sink_ack_send(sink_t *s)
{
    char topic[256];
    for (size_t i = 0; i < s->n_acks; i++) {
        sink_ack_t *a = &s->acks[i];
        if (a->len == 0)
            continue;
        snprintf(topic, sizeof topic, "%s/ack/%s", s->topic, a->ou);
        if (mosquitto_publish(s->m_ack, NULL, topic, (int) a->len, a->ids, 1,
                              false) != 0)
            s->failed = 1;
        s->acks_sent++;
        a->len = 0;
    }
}

static void
on_publish(struct mosquitto *m, void *arg, int mid)
{
    sink_t *s = arg;
    (void) m; (void) mid;
    atomic_fetch_add(&s->acks_done, 1);
}

static void
on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    sink_t *s = arg;
    char buf[600], *f[5], *id = NULL;
    (void) m;
    size_t len = (size_t) msg->payloadlen < sizeof buf - 1
                     ? (size_t) msg->payloadlen : sizeof buf - 1;
    memcpy(buf, msg->payload, len);
    buf[len] = '\0';
    f[0] = buf;                        /* 4 separators; the value is the rest */
    if (s->ack) {                      /* "ID|" first */
        char *bar = strchr(buf, '|');
        id = buf;
        f[0] = bar ? bar + 1 : NULL;
        if (bar)
            *bar = '\0';
    }
    for (int i = 1; i < 5; i++) {
        char *bar = f[i - 1] ? strchr(f[i - 1], '|') : NULL;
        f[i] = bar ? bar + 1 : NULL;
        if (bar)
            *bar = '\0';
    }
    size_t k = s->committed + s->in_txn;
    if (!f[0] || !f[4] || k >= s->expect
        || (id && sink_ack_add(s, f[1], id))) {
        s->failed = 1;
        return;
    }
    if (s->in_txn == 0
        && sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != 0)
        s->failed = 1;
    for (int i = 1; i < 5; i++)
        sqlite3_bind_text(s->st, i, f[i], -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s->st) != SQLITE_DONE)
        s->failed = 1;
    sqlite3_reset(s->st);
    s->sent_ns[k] = strtoull(f[0], NULL, 10);
    s->in_txn++;
}

static void
sink_commit(sink_t *s)
{
    if (s->in_txn == 0)
        return;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        s->failed = 1;
    uint64_t now = bench_wall_ns();
    for (size_t i = s->committed; i < s->committed + s->in_txn; i++)
        s->lat_ns[i] = now - s->sent_ns[i];
    s->committed += s->in_txn;
    s->in_txn = 0;
    s->done_ns = now;
    if (s->ack && !s->failed)
        sink_ack_send(s);
}

/* Read while the socket has data (up to a group), then commit. */
static int
sink_loop(struct mosquitto *m, sink_t *s)
{
    int sock = mosquitto_socket(m);
    while (!s->failed && s->committed < s->expect) {
        struct pollfd p = { sock, POLLIN, 0 };
        if (mosquitto_want_write(m))
            p.events |= POLLOUT;
        int r = poll(&p, 1, s->in_txn ? 0 : 1000);
        if (r == 0)
            sink_commit(s);            /* nothing more waiting */
        if ((p.revents & POLLIN) && mosquitto_loop_read(m, 1) != 0)
            return 1;
        if ((p.revents & POLLOUT) && mosquitto_loop_write(m, 1) != 0)
            return 1;
        mosquitto_loop_misc(m);
        if (s->in_txn >= SINK_GROUP)
            sink_commit(s);
    }
    /* Every ack's PUBACK before leaving (10 s at most). */
    for (int i = 0; i < 10000 && !s->failed
                    && atomic_load(&s->acks_done) < s->acks_sent; i++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return s->failed;
}

/* The acks' own connection, run by libmosquitto's thread. */
static int
sink_ack_connect(sink_t *s, const char *host, int port)
{
    s->m_ack = mosquitto_new("cdsync-bench-sink-ack", true, s);
    if (s->m_ack)
        mosquitto_publish_callback_set(s->m_ack, on_publish);
    return !s->m_ack || mosquitto_connect(s->m_ack, host, port, 60) != 0
           || mosquitto_loop_start(s->m_ack) != 0;
}

static int
sink_report(sink_t *s)
{
    double p50 = (double) bench_quantile(s->lat_ns, s->committed, 0.50) / 1e6;
    double p99 = (double) bench_quantile(s->lat_ns, s->committed, 0.99) / 1e6;
    double p999 = (double) bench_quantile(s->lat_ns, s->committed, 0.999)
                  / 1e6;
    printf("%llu %.3f %.3f %.3f %zu\n", (unsigned long long) s->done_ns, p50,
           p99, p999, s->committed);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 7 && !(argc == 8 && !strcmp(argv[7], "ack"))) {
        fprintf(stderr, "usage: mqtt_sink HOST PORT TOPIC DB N READY_FILE "
                        "[ack]\n");
        return 2;
    }
    static sink_t s;
    s.expect = strtoul(argv[5], NULL, 10);
    s.ready_file = argv[6];
    s.topic = argv[3];
    s.ack = argc == 8;
    s.sent_ns = calloc(s.expect + 1, sizeof *s.sent_ns);
    s.lat_ns = calloc(s.expect + 1, sizeof *s.lat_ns);
    int rc = s.sent_ns && s.lat_ns ? 0 : 1;
    if (rc == 0 && (sqlite3_open(argv[4], &s.db) != SQLITE_OK
                    || sqlite3_exec(s.db, SINK_SCHEMA, NULL, NULL, NULL)
                    || sqlite3_prepare_v2(s.db, SINK_UPSERT, -1, &s.st, NULL)))
        rc = 1;
    mosquitto_lib_init();
    struct mosquitto *m = rc == 0 ? mosquitto_new("cdsync-bench-sink", true,
                                                  &s) : NULL;
    s.m = m;
    if (m) {
        mosquitto_subscribe_callback_set(m, on_subscribe);
        mosquitto_message_callback_set(m, on_message);
        mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
    }
    if (!m || mosquitto_connect(m, argv[1], atoi(argv[2]), 60) != 0
        || mosquitto_subscribe(m, NULL, argv[3], 1) != 0)
        rc = 1;
    if (rc == 0 && s.ack)
        rc = sink_ack_connect(&s, argv[1], atoi(argv[2]));
    if (rc == 0)
        rc = sink_loop(m, &s);
    if (rc == 0)
        rc = sink_report(&s);
    else
        fprintf(stderr, "mqtt_sink: failed after %zu rows: %s\n", s.committed,
                s.db ? sqlite3_errmsg(s.db) : "no database");
    if (m) {
        mosquitto_disconnect(m);
        mosquitto_destroy(m);
    }
    if (s.m_ack) {
        mosquitto_disconnect(s.m_ack);
        mosquitto_loop_stop(s.m_ack, false);
        mosquitto_destroy(s.m_ack);
    }
    mosquitto_lib_cleanup();
    sqlite3_finalize(s.st);
    sqlite3_close(s.db);
    free(s.sent_ns);
    free(s.lat_ns);
    for (size_t i = 0; i < s.n_acks; i++)
        free(s.acks[i].ids);
    return rc;
}
