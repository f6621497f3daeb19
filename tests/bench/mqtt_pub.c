/*  mqtt_pub: one publisher of the Mosquitto pipelines (issue 7 item 8,
 *  issue 19 item 3; docs/PERFORMANCE.md "The Mosquitto pipelines").
 *
 *    mqtt_pub HOST PORT TOPIC OU N RATE START
 *        No durability: publishes N generated updates (bench_util.h rows
 *        START.., org unit OU) at QoS 1 to TOPIC, as fast as the broker
 *        takes them (RATE 0) or at RATE messages/s, then waits for every
 *        PUBACK (10 minutes at most). Nothing is kept: a crash loses what
 *        the broker has not acknowledged, and a PUBACK says only that the
 *        broker holds it (in memory).
 *        Payload: "T_NS|OU|indicator|period|value;comment;stored_by".
 *    mqtt_pub --fill QUEUE_DB OU N START
 *        Queues N generated updates in QUEUE_DB (1,000 per transaction):
 *        the untimed preparation of a --durable throughput run, as the
 *        agents' outboxes are filled before a cdsync run.
 *    mqtt_pub --durable QUEUE_DB HOST PORT TOPIC OU N RATE START
 *        Equal durability to cdsync: QUEUE_DB is an SQLite queue (WAL,
 *        synchronous=FULL) like the agent's outbox. RATE 0: publishes the
 *        N updates --fill queued; RATE > 0: queues each update in its own
 *        transaction (as `submit` does) and then publishes it. Before
 *        publishing it subscribes (QoS 1) to TOPIC/ack/OU, where the sink
 *        publishes, after its own synchronous=FULL COMMIT, the queue ids
 *        that commit holds ("ID,ID,..."); each such ack deletes its ids
 *        from the queue in one transaction (synchronous=FULL, as the agent
 *        records an ack). A PUBACK alone deletes nothing. Exits 0 when all
 *        N were acked and deleted (10 minutes at most) and prints
 *        "DONE_NS P50 P99 P999 N": DONE_NS the wall clock of the last
 *        delete, latencies (ms) from before the queue INSERT (RATE 0: from
 *        the publish) to after the DELETE's COMMIT holding the id.
 *        Payload: "ID|T_NS|OU|indicator|period|value;comment;stored_by".
 *  What is not built: resending an update whose ack never came (on a
 *  restart the queue would be published again; the sink's upsert makes a
 *  resend harmless). The bench loses nothing, so it never resends. */
#include "bench_util.h"
#include <mosquitto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#define QUEUE_SCHEMA                                                         \
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"                      \
    "CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY AUTOINCREMENT, "    \
    "payload TEXT NOT NULL);"
#define WAIT_NS 600000000000u          /* 10 minutes for every ack */

static _Atomic size_t g_acked;         /* PUBACKs, or ids deleted */
static _Atomic int g_subscribed, g_failed;

/* One connection for the queue, its transactions one at a time under
 * lock: two connections would wait for each other in SQLite's busy
 * handler, which sleeps milliseconds at a time. */
typedef struct {
    sqlite3 *del;                      /* the queue (under lock) */
    sqlite3_stmt *del_st;
    pthread_mutex_t lock;
    size_t n;
    uint64_t *sub_ns, *ack_ns;         /* by id - 1 */
    uint64_t done_ns;
} queue_t;

static void
on_publish(struct mosquitto *m, void *arg, int mid)
{
    (void) m; (void) arg; (void) mid;
    atomic_fetch_add(&g_acked, 1);
}

static void
sleep_until(uint64_t due)
{
    uint64_t now = bench_mono_ns();
    if (due > now) {
        struct timespec ts = { (time_t) ((due - now) / 1000000000u),
                               (long) ((due - now) % 1000000000u) };
        nanosleep(&ts, NULL);
    }
}

static int
wait_acked(size_t n)
{
    uint64_t deadline = bench_mono_ns() + WAIT_NS;
    while (atomic_load(&g_acked) < n && !atomic_load(&g_failed)
           && bench_mono_ns() < deadline)
        sleep_until(bench_mono_ns() + 1000000u);
    return atomic_load(&g_acked) < n;
}

static int
publish_all(struct mosquitto *m, const char *topic, const char *ou, size_t n,
            double rate, uint64_t start)
{
    char payload[512];
    bench_row_t r;
    uint64_t t0 = bench_mono_ns(), step = rate > 0 ? (uint64_t) (1e9 / rate)
                                                   : 0;
    for (size_t k = 0; k < n; k++) {
        sleep_until(t0 + k * step);
        bench_row(&r, start + k);
        int len = snprintf(payload, sizeof payload, "%llu|%s|%s|%s|%s;%s;%s",
                           (unsigned long long) bench_wall_ns(), ou,
                           r.indicator, r.period, r.value, r.comment, "bench");
        if (mosquitto_publish(m, NULL, topic, len, payload, 1, false) != 0)
            return 1;
    }
    return wait_acked(n);
}

/* ---- the durable queue ------------------------------------------------------ */

static sqlite3 *
queue_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK
        || sqlite3_exec(db, QUEUE_SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "mqtt_pub: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* Insert the generated row i of ou; its id in *id. */
static int
queue_insert(sqlite3_stmt *st, sqlite3 *db, const char *ou, uint64_t i,
             sqlite3_int64 *id)
{
    char payload[512];
    bench_row_t r;
    bench_row(&r, i);
    snprintf(payload, sizeof payload, "%s|%s|%s|%s;%s;%s", ou, r.indicator,
             r.period, r.value, r.comment, "bench");
    sqlite3_bind_text(st, 1, payload, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 1;
    sqlite3_reset(st);
    *id = sqlite3_last_insert_rowid(db);
    return rc;
}

static int
cmd_fill(const char *path, const char *ou, size_t n, uint64_t start)
{
    sqlite3 *db = queue_open(path);
    sqlite3_stmt *st = NULL;
    sqlite3_int64 id;
    int rc = db ? sqlite3_prepare_v2(db, "INSERT INTO q (payload) VALUES (?1)",
                                     -1, &st, NULL) : 1;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (k % 1000 == 0)
            rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        rc = rc ? rc : queue_insert(st, db, ou, start + k, &id);
        if (rc == 0 && (k % 1000 == 999 || k == n - 1))
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    if (rc)
        fprintf(stderr, "mqtt_pub --fill: %s\n", db ? sqlite3_errmsg(db) : path);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc != 0;
}

/* The sink's ack "ID,ID,...": delete those ids in one transaction. */
static void
on_ack(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    queue_t *q = arg;
    char *buf = strndup(msg->payload, (size_t) msg->payloadlen), *save = NULL;
    size_t k = 0, ids[1000];
    (void) m;
    for (char *t = buf ? strtok_r(buf, ",", &save) : NULL; t && k < 1000;
         t = strtok_r(NULL, ",", &save))
        ids[k++] = strtoull(t, NULL, 10);
    free(buf);
    pthread_mutex_lock(&q->lock);
    int rc = sqlite3_exec(q->del, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        sqlite3_bind_int64(q->del_st, 1, (sqlite3_int64) ids[i]);
        rc = sqlite3_step(q->del_st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(q->del_st);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(q->del, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&q->lock);
    uint64_t now = bench_mono_ns();
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++)
        if (ids[i] >= 1 && ids[i] <= q->n && !q->ack_ns[ids[i] - 1]) {
            q->ack_ns[ids[i] - 1] = now;
            atomic_fetch_add(&g_acked, 1);
        }
    q->done_ns = bench_wall_ns();
    if (rc != SQLITE_OK) {
        fprintf(stderr, "mqtt_pub: delete: %s\n", sqlite3_errmsg(q->del));
        atomic_store(&g_failed, 1);
    }
}

static void
on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *qos)
{
    (void) m; (void) arg; (void) mid; (void) n; (void) qos;
    atomic_store(&g_subscribed, 1);
}

/* Publish queue row id with its payload (the stored text after "OU|"). */
static int
publish_row(struct mosquitto *m, const char *topic, sqlite3_int64 id,
            const char *stored)
{
    char payload[600];
    int len = snprintf(payload, sizeof payload, "%lld|%llu|%s", (long long) id,
                       (unsigned long long) bench_wall_ns(), stored);
    return mosquitto_publish(m, NULL, topic, len, payload, 1, false) != 0;
}

/* RATE 0: publish every queued row (--fill put them there), read 1,000
 * at a time under the lock (the ack thread deletes meanwhile). */
static int
durable_queued(struct mosquitto *m, sqlite3 *db, const char *topic,
               queue_t *q)
{
    static char rows[1000][512];
    sqlite3_int64 ids[1000], last = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT id, payload FROM q WHERE id > ?1 "
                                "ORDER BY id LIMIT 1000", -1, &st, NULL)
             != SQLITE_OK;
    for (size_t k = 1000; rc == 0 && k == 1000;) {
        pthread_mutex_lock(&q->lock);
        sqlite3_bind_int64(st, 1, last);
        for (k = 0; k < 1000 && sqlite3_step(st) == SQLITE_ROW; k++) {
            ids[k] = last = sqlite3_column_int64(st, 0);
            snprintf(rows[k], sizeof rows[k], "%s", sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);
        pthread_mutex_unlock(&q->lock);
        for (size_t i = 0; rc == 0 && i < k; i++) {
            if (ids[i] >= 1 && (size_t) ids[i] <= q->n)
                q->sub_ns[ids[i] - 1] = bench_mono_ns();
            rc = publish_row(m, topic, ids[i], rows[i]);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* RATE > 0: queue each row in its own transaction, then publish it. */
static int
durable_rate(struct mosquitto *m, sqlite3 *db, const char *topic,
             const char *ou, double rate, uint64_t start, queue_t *q)
{
    sqlite3_stmt *st = NULL, *get = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO q (payload) VALUES (?1)", -1,
                                &st, NULL)
             || sqlite3_prepare_v2(db, "SELECT payload FROM q WHERE id = ?1",
                                   -1, &get, NULL);
    uint64_t t0 = bench_mono_ns(), step = (uint64_t) (1e9 / rate);
    for (size_t k = 0; rc == 0 && k < q->n; k++) {
        sqlite3_int64 id = 0;
        sleep_until(t0 + k * step);
        uint64_t sub = bench_mono_ns();
        pthread_mutex_lock(&q->lock);
        rc = queue_insert(st, db, ou, start + k, &id);   /* autocommit */
        sqlite3_bind_int64(get, 1, id);
        rc = rc || sqlite3_step(get) != SQLITE_ROW || id < 1
             || (size_t) id > q->n;
        if (rc == 0) {
            q->sub_ns[id - 1] = sub;
            rc = publish_row(m, topic, id,
                             (const char *) sqlite3_column_text(get, 0));
        }
        sqlite3_reset(get);
        pthread_mutex_unlock(&q->lock);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(get);
    return rc;
}

static int
durable_report(queue_t *q)
{
    uint64_t *lat = calloc(q->n ? q->n : 1, sizeof *lat);
    if (!lat)
        return 1;
    for (size_t i = 0; i < q->n; i++)
        lat[i] = q->ack_ns[i] - q->sub_ns[i];
    double p50 = (double) bench_quantile(lat, q->n, 0.50) / 1e6;
    double p99 = (double) bench_quantile(lat, q->n, 0.99) / 1e6;
    double p999 = (double) bench_quantile(lat, q->n, 0.999) / 1e6;
    printf("%llu %.3f %.3f %.3f %zu\n", (unsigned long long) q->done_ns, p50,
           p99, p999, q->n);
    free(lat);
    return 0;
}

/* argv: QUEUE_DB HOST PORT TOPIC OU N RATE START */
static int
cmd_durable(struct mosquitto *m, char **argv)
{
    char ack_topic[256];
    double rate = strtod(argv[6], NULL);
    queue_t q = { .n = strtoul(argv[5], NULL, 10) };
    q.sub_ns = calloc(q.n + 1, sizeof *q.sub_ns);
    q.ack_ns = calloc(q.n + 1, sizeof *q.ack_ns);
    sqlite3 *db = queue_open(argv[0]);
    q.del = db;
    pthread_mutex_init(&q.lock, NULL);
    int rc = db && q.sub_ns && q.ack_ns
             && sqlite3_prepare_v2(q.del, "DELETE FROM q WHERE id = ?1", -1,
                                   &q.del_st, NULL) == SQLITE_OK ? 0 : 1;
    snprintf(ack_topic, sizeof ack_topic, "%s/ack/%s", argv[3], argv[4]);
    mosquitto_user_data_set(m, &q);
    mosquitto_message_callback_set(m, on_ack);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    if (rc == 0 && (mosquitto_connect(m, argv[1], atoi(argv[2]), 60) != 0
                    || mosquitto_subscribe(m, NULL, ack_topic, 1) != 0
                    || mosquitto_loop_start(m) != 0))
        rc = 1;
    uint64_t deadline = bench_mono_ns() + 10000000000u;
    while (rc == 0 && !atomic_load(&g_subscribed) && bench_mono_ns() < deadline)
        sleep_until(bench_mono_ns() + 1000000u);
    rc = rc || !atomic_load(&g_subscribed);
    if (rc == 0)
        rc = rate > 0 ? durable_rate(m, db, argv[3], argv[4], rate,
                                     strtoull(argv[7], NULL, 10), &q)
                      : durable_queued(m, db, argv[3], &q);
    rc = rc || wait_acked(q.n);
    if (rc == 0)
        rc = durable_report(&q);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    sqlite3_finalize(q.del_st);
    sqlite3_close(db);
    pthread_mutex_destroy(&q.lock);
    free(q.sub_ns);
    free(q.ack_ns);
    return rc;
}

int
main(int argc, char **argv)
{
    int durable = argc == 10 && !strcmp(argv[1], "--durable");
    if (argc == 6 && !strcmp(argv[1], "--fill"))
        return cmd_fill(argv[2], argv[3], strtoul(argv[4], NULL, 10),
                        strtoull(argv[5], NULL, 10));
    if (argc != 8 && !durable) {
        fprintf(stderr, "usage: mqtt_pub HOST PORT TOPIC OU N RATE START\n"
                        "       mqtt_pub --fill QUEUE_DB OU N START\n"
                        "       mqtt_pub --durable QUEUE_DB HOST PORT TOPIC "
                        "OU N RATE START\n");
        return 2;
    }
    char **a = durable ? argv + 3 : argv + 1;      /* HOST PORT TOPIC OU .. */
    char id[64];
    snprintf(id, sizeof id, "cdsync-bench-pub-%s-%s", a[3], a[6]);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    int rc = m ? 0 : 1;
    if (m)
        mosquitto_max_inflight_messages_set(m, 100);
    if (rc == 0 && durable)
        rc = cmd_durable(m, argv + 2);
    else if (rc == 0) {
        mosquitto_publish_callback_set(m, on_publish);
        if (mosquitto_connect(m, a[0], atoi(a[1]), 60) != 0
            || mosquitto_loop_start(m) != 0)
            rc = 1;
        rc = rc ? rc : publish_all(m, a[2], a[3], strtoul(a[4], NULL, 10),
                                   strtod(a[5], NULL), strtoull(a[6], NULL, 10));
        mosquitto_disconnect(m);
        mosquitto_loop_stop(m, false);
    }
    if (rc != 0)
        fprintf(stderr, "mqtt_pub %s: failed (%zu acked)\n", a[3],
                atomic_load(&g_acked));
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}
