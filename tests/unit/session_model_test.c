/*  session_model_test: the real session (agent/session.c) and the real
 *  outbox (SQLite in a temp dir) against a MODEL aggregator written here,
 *  under seeded random schedules: answers delayed, reordered, duplicated,
 *  dropped; the aggregator stalls (requests queue behind it); connections
 *  drop; local writes fail (busy, full) through outbox_set_fault_hook; the
 *  daemon restarts (new request ids, answers to the old process still
 *  arrive); the agent is restored once from a backup copy of its database.
 *
 *  The acks read in one turn (every answer due at one tick) are recorded
 *  together at its end (session_flush; now and then the next timer does
 *  it instead); in "burst" schedules answers arrive in groups, so turns
 *  of several acks are common, and their one record fails under faults.
 *
 *  Checked after every step, and after every answer within a turn (acks
 *  verified, not yet recorded): the model never receives a seq with other
 *  content than it holds, never holds one content under two seqs, every
 *  chain continues, and every update the agent no longer holds is in the
 *  model's history (nothing acked is lost). At the end (faults off, time
 *  runs) everything drains and every queued update is applied exactly
 *  once. The measured clock offset matches the skew given to the agent.
 *  Separately: a batch holds rows of one stamp offset, and its sent_at_ms
 *  is the agent's wall clock plus that offset.
 *
 *  SESSION_SCHEDULES=n (default 2000, ~17 s; `make chaos` runs 20000) schedules from a random base seed;
 *  SESSION_SEED=n replays one. A failure prints its seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_update.h"
#include "outbox.h"
#include "session.h"

#define MAXU 4096                      /* updates per schedule, bound */
#define MAXQ 512                       /* messages in a queue, bound */

typedef struct {
    int kind;
    uint8_t *body;
    size_t len;
    uint64_t at;                       /* deliver at (sim ms) */
} msg_t;

typedef struct {
    msg_t m[MAXQ];
    size_t n;
} queue_t;

/* One schedule's world. */
typedef struct {
    uint64_t seed, rng;                /* xorshift state */
    uint64_t now;                      /* simulated monotonic = agg wall */
    int64_t skew;                      /* agent wall = now + skew */
    char dir[64], db[128], backup[128];
    outbox_t *ob;
    session_t *s;
    uint8_t pk[CDS_PK_BYTES];
    /* model aggregator */
    uint64_t applied;
    uint8_t heads[MAXU][CDS_HASH_BYTES];/* chain head at seq */
    int hist[MAXU];                    /* content id at seq */
    int seq_of[MAXU];                  /* content id -> seq, 0 none */
    queue_t to_agg, to_agent;
    uint64_t stall_until;              /* model processes nothing before */
    uint64_t down_until;               /* no connection before */
    bool was_down;
    /* agent side bookkeeping */
    int n_content;                     /* content ids 1..n_content queued */
    bool lost[MAXU];                   /* lost with the disk (restore) */
    bool faults;                       /* local write faults on */
    bool backed_up, restored;
    unsigned fault_hits;
    unsigned ack_faults;               /* failed "ack" writes */
    bool burst;                        /* answers arrive in groups */
    unsigned turns_multi;              /* turns with >= 2 acks to record */
    unsigned failed_multi;             /* ... whose one record failed */
    unsigned fault_pct;                /* chance a write fails, faults on */
    unsigned hellos;                   /* Hellos the session sent */
    unsigned restarts;                 /* daemon restarts, same database */
    char conn[32];                     /* last state it reported */
    char conn_error[320];              /* ... with this error */
    unsigned notices_kept;             /* io.revoked calls */
    size_t batch_max;                  /* session config, 0: random */
    struct {
        uint64_t first, last;          /* seq range */
        int64_t d;                     /* sent_at_ms - model clock */
    } batches[64];                     /* batches received, first 64 */
    size_t n_batches;
    char fail[256];                    /* first violation */
} world_t;

static uint64_t
rnd(world_t *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static bool
chance(world_t *w, unsigned pct)
{
    return rnd(w) % 100 < pct;
}

static void
violation(world_t *w, const char *what, uint64_t a, uint64_t b)
{
    if (!w->fail[0])
        snprintf(w->fail, sizeof w->fail, "%s (%llu, %llu)", what,
                 (unsigned long long)a, (unsigned long long)b);
}

/* ---- injected world of the session -------------------------------------- */

static uint64_t
io_mono(void *arg)
{
    return ((world_t *)arg)->now;
}

static uint64_t
io_wall(void *arg)
{
    world_t *w = arg;
    return (uint64_t)((int64_t)w->now + w->skew);
}

static uint32_t
io_uniform(void *arg, uint32_t upper)
{
    return upper ? (uint32_t)(rnd(arg) % upper) : 0;
}

static void
io_state(void *arg, const char *state, const char *error)
{
    world_t *w = arg;
    snprintf(w->conn, sizeof w->conn, "%s", state);
    snprintf(w->conn_error, sizeof w->conn_error, "%s", error ? error : "");
}

static void
io_revoked(void *arg, const uint8_t *raw, size_t raw_len)
{
    world_t *w = arg;
    (void)raw, (void)raw_len;
    w->notices_kept++;
}

static void
push_msg(queue_t *q, int kind, const uint8_t *body, size_t len, uint64_t at)
{
    if (q->n == MAXQ)
        return;                        /* a full pipe drops (HWM) */
    msg_t *m = &q->m[q->n++];
    m->kind = kind;
    m->body = malloc(len ? len : 1);
    memcpy(m->body, body, len);
    m->len = len;
    m->at = at;
}

static void
queue_clear(queue_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->m[i].body);
    q->n = 0;
}

static int
io_send(void *arg, Cdsync__Kind kind, const uint8_t *body, size_t len)
{
    world_t *w = arg;
    if (w->now < w->down_until)
        return SESSION_SEND_AGAIN;
    if (kind == CDSYNC__KIND__KIND_HELLO)
        w->hellos++;
    uint64_t at = w->now + 1 + rnd(w) % 40;
    if (w->to_agg.n > 0 && at < w->to_agg.m[w->to_agg.n - 1].at)
        at = w->to_agg.m[w->to_agg.n - 1].at;   /* one link: in order */
    push_msg(&w->to_agg, kind, body, len, at);
    return 0;
}

static int
fault_hook(void *arg, const char *op)
{
    world_t *w = arg;
    if (!w->faults || !chance(w, w->fault_pct ? w->fault_pct : 35))
        return CDS_OK;
    w->fault_hits++;
    if (strcmp(op, "ack") == 0)
        w->ack_faults++;
    return chance(w, 50) ? CDS_EBUSY : CDS_EFULL;
}

/* ---- the model aggregator ------------------------------------------------ */

/* An answer to the agent: delayed, sometimes duplicated or dropped. */
static void
answer(world_t *w, int kind, const ProtobufCMessage *msg)
{
    size_t len = 0;
    uint8_t *body = cds_msg_encode(msg, &len);
    assert_non_null(body);
    int copies = chance(w, 4) ? 0 : chance(w, 6) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        uint64_t at = w->now + 1 + rnd(w) % (chance(w, 10) ? 3000 : 60);
        push_msg(&w->to_agent, kind, body, len,
                 w->burst ? (at + 49) / 50 * 50 : at);
    }
    free(body);
}

static int
content_of(const Cdsync__Update *u)
{
    return u->value ? atoi(u->value) : 0;
}

static void
send_ack(world_t *w, const Cdsync__Batch *b, Cdsync__AckStatus st)
{
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.agent.data = w->pk;
    a.agent.len = CDS_PK_BYTES;
    a.status = st;
    a.acked_seq = w->applied;
    if (w->applied) {
        a.acked_head.data = w->heads[w->applied];
        a.acked_head.len = CDS_HASH_BYTES;
    }
    a.batch_first = b->first_seq;
    a.batch_last = b->last_seq;
    a.request_id = b->request_id;
    a.clock_ms = w->now;
    a.committed_at_ms = w->now;
    answer(w, CDSYNC__KIND__KIND_ACK, &a.base);
}

/* Apply what continues our chain; a seq we hold must carry its content. */
static void
model_batch(world_t *w, const Cdsync__Batch *b)
{
    if (w->n_batches < sizeof w->batches / sizeof w->batches[0]) {
        w->batches[w->n_batches].first = b->first_seq;
        w->batches[w->n_batches].last = b->last_seq;
        w->batches[w->n_batches].d = (int64_t)b->sent_at_ms
                                     - (int64_t)w->now;
        w->n_batches++;
    }
    if (b->first_seq == 0 || b->first_seq > w->applied + 1
        || b->n_updates == 0 || b->last_seq >= MAXU) {
        send_ack(w, b, CDSYNC__ACK_STATUS__ACK_GAP);
        return;
    }
    if (b->prev_head.len != CDS_HASH_BYTES
        || memcmp(b->prev_head.data, w->heads[b->first_seq - 1],
                  CDS_HASH_BYTES) != 0) {
        violation(w, "batch does not continue the chain", b->first_seq,
                  w->applied);
        return;
    }
    uint8_t head[CDS_HASH_BYTES], hash[CDS_HASH_BYTES];
    memcpy(head, b->prev_head.data, sizeof head);
    for (size_t i = 0; i < b->n_updates; i++) {
        uint64_t seq = b->first_seq + i;
        int k = content_of(b->updates[i]);
        cds_update_t u;
        cds_update_from_pb(b->updates[i], &u);
        cds_update_hash(&u, hash);
        cds_chain_next(head, hash, head);
        if (seq <= w->applied) {
            if (w->hist[seq] != k)
                violation(w, "seq resent with other content", seq, k);
            continue;
        }
        if (k <= 0 || k >= MAXU || w->seq_of[k])
            violation(w, "content applied under two seqs", k,
                      k > 0 && k < MAXU ? w->seq_of[k] : 0);
        w->applied = seq;
        w->hist[seq] = k;
        if (k > 0 && k < MAXU)
            w->seq_of[k] = (int)seq;
        memcpy(w->heads[seq], head, CDS_HASH_BYTES);
    }
    send_ack(w, b, CDSYNC__ACK_STATUS__ACK_OK);
}

static void
model_hello(world_t *w, const Cdsync__Hello *h)
{
    Cdsync__HelloAnswer a = CDSYNC__HELLO_ANSWER__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.agent.data = w->pk;
    a.agent.len = CDS_PK_BYTES;
    a.applied_seq = w->applied;
    if (w->applied) {
        a.applied_head.data = w->heads[w->applied];
        a.applied_head.len = CDS_HASH_BYTES;
    }
    for (size_t i = 0; i < h->n_probe; i++) {
        const Cdsync__ChainPoint *p = h->probe[i];
        if (p->seq == 0 || p->seq > w->applied)
            continue;
        bool same = p->head.len == CDS_HASH_BYTES
                    && memcmp(p->head.data, w->heads[p->seq],
                              CDS_HASH_BYTES) == 0;
        if (same && p->seq > a.probe_matched)
            a.probe_matched = p->seq;
        if (!same && (!a.probe_mismatch || p->seq < a.probe_mismatch))
            a.probe_mismatch = p->seq;
    }
    a.clock_ms = w->now;
    a.request_id = h->request_id;
    answer(w, CDSYNC__KIND__KIND_HELLO_ANSWER, &a.base);
}

static void
model_heartbeat(world_t *w, const Cdsync__Heartbeat *h)
{
    Cdsync__HeartbeatAnswer a = CDSYNC__HEARTBEAT_ANSWER__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.applied_seq = w->applied;
    a.clock_ms = w->now;
    a.request_id = h->request_id;
    answer(w, CDSYNC__KIND__KIND_HEARTBEAT_ANSWER, &a.base);
}

static void
model_receive(world_t *w, const msg_t *m)
{
    int e = 0;
    if (m->kind == CDSYNC__KIND__KIND_BATCH) {
        Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor,
                                          m->body, m->len, &e);
        assert_non_null(b);
        model_batch(w, b);
        cds_msg_free(b);
    } else if (m->kind == CDSYNC__KIND__KIND_HELLO) {
        Cdsync__Hello *h = cds_msg_decode(&cdsync__hello__descriptor,
                                          m->body, m->len, &e);
        assert_non_null(h);
        model_hello(w, h);
        cds_msg_free(h);
    } else if (m->kind == CDSYNC__KIND__KIND_HEARTBEAT) {
        Cdsync__Heartbeat *h = cds_msg_decode(&cdsync__heartbeat__descriptor,
                                              m->body, m->len, &e);
        assert_non_null(h);
        model_heartbeat(w, h);
        cds_msg_free(h);
    }
}

/* ---- delivery ------------------------------------------------------------ */

/* Requests reach the model in order, unless it stalls. */
static void
deliver_to_agg(world_t *w)
{
    size_t i = 0;
    while (i < w->to_agg.n && w->to_agg.m[i].at <= w->now
           && w->now >= w->stall_until) {
        model_receive(w, &w->to_agg.m[i]);
        free(w->to_agg.m[i].body);
        i++;
    }
    memmove(w->to_agg.m, w->to_agg.m + i, (w->to_agg.n - i) * sizeof(msg_t));
    w->to_agg.n -= i;
}

/* Answers due: any order (each has its own delay). */
static void check_acked(world_t *w);

static void
deliver_to_agent(world_t *w)
{
    for (size_t i = 0; i < w->to_agent.n;) {
        if (w->to_agent.m[i].at > w->now) {
            i++;
            continue;
        }
        msg_t m = w->to_agent.m[i];
        w->to_agent.m[i] = w->to_agent.m[--w->to_agent.n];
        session_on_message(w->s, m.kind, m.body, m.len, m.body, m.len);
        free(m.body);
        check_acked(w);                /* acks waiting: nothing lost */
    }
    size_t n = session_acks_waiting(w->s);
    unsigned faults = w->ack_faults;
    if (chance(w, 85))                 /* else the next timer records */
        session_flush(w->s);
    if (n >= 2 && session_acks_waiting(w->s) == 0) {
        w->turns_multi++;
        w->failed_multi += w->ack_faults != faults;
    }
}

static void
advance(world_t *w, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 5) {
        w->now += 5;
        if (w->was_down && w->now >= w->down_until) {
            w->was_down = false;
            session_on_writable(w->s);
        }
        deliver_to_agg(w);
        deliver_to_agent(w);
        session_on_timer(w->s);
    }
}

/* ---- agent actions ------------------------------------------------------- */

static void
push_updates(world_t *w, int n)
{
    cds_update_t u[4];
    char val[4][16], per[4][16];
    char err[256];
    if (w->n_content + n >= MAXU - 1)
        return;
    for (int i = 0; i < n; i++) {
        memset(&u[i], 0, sizeof u[i]);
        snprintf(val[i], sizeof val[i], "%d", w->n_content + 1 + i);
        snprintf(per[i], sizeof per[i], "2026%02d", 1 + i);
        u[i].org_unit = "OU1";
        u[i].indicator = "CNT";
        u[i].period = per[i];
        u[i].disagg = "default";
        u[i].value = val[i];
    }
    if (outbox_push(w->ob, u, NULL, (size_t)n, 0, err, sizeof err) == CDS_OK) {
        w->n_content += n;
        session_on_wake(w->s);
    }
}

/* Contents pending in the agent's outbox, as a bitmap by content id. */
static void
pending_set(world_t *w, bool *pending)
{
    outbox_row_t *rows = NULL;
    size_t n = 0;
    memset(pending, 0, MAXU * sizeof *pending);
    assert_int_equal(outbox_read(w->ob, 0, MAXU, SIZE_MAX, &rows, &n),
                     CDS_OK);
    for (size_t i = 0; i < n; i++) {
        int k = atoi(rows[i].u.value);
        if (k > 0 && k < MAXU)
            pending[k] = true;
    }
    outbox_rows_free(&rows, n);
}

/* Nothing acked is lost: what the agent no longer holds, the model has. */
static void
check_acked(world_t *w)
{
    static bool pending[MAXU];
    pending_set(w, pending);
    for (int k = 1; k <= w->n_content; k++)
        if (!pending[k] && !w->lost[k] && !w->seq_of[k])
            violation(w, "update left the outbox, not applied", (uint64_t)k,
                      w->applied);
}

static session_t *
new_session(world_t *w)
{
    session_config_t cfg = {
        .catalog_version = "v", .batch_max = 1 + rnd(w) % 4,
        .batch_bytes = 1 << 20, .window = 1 + rnd(w) % 4,
        .ack_timeout_ms = 1000, .backoff_min_ms = 50,
        .backoff_max_ms = 2000, .heartbeat_ms = 700, .recheck_ms = 500,
    };
    if (w->batch_max)
        cfg.batch_max = w->batch_max;
    session_io_t io = {io_mono, io_wall, io_uniform, io_send, io_state, w,
                       io_revoked, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    char err[128];
    session_t *s = session_new(&cfg, &io, w->pk, w->ob, err, sizeof err);
    assert_non_null(s);
    return s;
}

static void
open_agent(world_t *w)
{
    int err = 0;
    w->ob = outbox_open(w->db, &err);
    assert_non_null(w->ob);
    outbox_set_fault_hook(w->ob, fault_hook, w);
    w->s = new_session(w);
    session_start(w->s);
}

static void
close_agent(world_t *w)
{
    session_destroy(&w->s);
    outbox_destroy(&w->ob);
}

static void
take_backup(world_t *w)
{
    sqlite3 *db = NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", w->backup);
    assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    w->backed_up = rc == SQLITE_OK;
}

static void
copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* The disk died: the agent comes back from the backup, with a new
 * process (new request ids); what it had queued since is lost unless
 * the model applied it. */
static void
restore(world_t *w)
{
    char p[160];
    close_agent(w);
    snprintf(p, sizeof p, "%s-wal", w->db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", w->db);
    unlink(p);
    copy_file(w->backup, w->db);
    w->restored = true;
    queue_clear(&w->to_agg);           /* the old process's link died */
    int err = 0;
    w->ob = outbox_open(w->db, &err);
    assert_non_null(w->ob);
    static bool pending[MAXU];
    pending_set(w, pending);
    for (int k = 1; k <= w->n_content; k++)
        if (!pending[k] && !w->seq_of[k])
            w->lost[k] = true;
    outbox_set_fault_hook(w->ob, fault_hook, w);
    w->s = new_session(w);
    session_start(w->s);
}

/* Close the agent, remove its files and free the world. */
static void
world_free(world_t *w)
{
    char p[200];
    const char *files[] = {"agent.db", "agent.db-wal", "agent.db-shm",
                           "backup.db"};
    close_agent(w);
    queue_clear(&w->to_agg);
    queue_clear(&w->to_agent);
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", w->dir, files[i]);
        unlink(p);
    }
    rmdir(w->dir);
    free(w);
}

/* ---- schedules ----------------------------------------------------------- */

static void
step(world_t *w, int steps_left)
{
    unsigned r = (unsigned)(rnd(w) % 100);
    if (r < 25)
        push_updates(w, 1 + (int)(rnd(w) % 3));
    else if (r < 27) {                 /* connection drops */
        queue_clear(&w->to_agg);
        if (chance(w, 50))
            queue_clear(&w->to_agent);
        w->down_until = w->now + rnd(w) % 3000;
        w->was_down = true;
    } else if (r < 29)                 /* aggregator stall (SIGSTOP) */
        w->stall_until = w->now + 2000 + rnd(w) % 5000;
    else if (r < 33)
        w->faults = !w->faults;
    else if (r < 35 && !w->backed_up && !w->restored)
        take_backup(w);
    else if (r < 36 && w->backed_up && !w->restored && steps_left > 20)
        restore(w);
    else if (r < 37) {                 /* the daemon restarts (same disk) */
        close_agent(w);
        queue_clear(&w->to_agg);       /* its link died with it */
        w->restarts++;
        open_agent(w);
    }
    else
        advance(w, 5 + rnd(w) % 400);
    check_acked(w);
}

/* Faults stop, time runs: everything must drain. */
static void
drain(world_t *w)
{
    w->faults = false;
    w->stall_until = w->down_until = 0;
    for (int i = 0; i < 2000 && !w->fail[0]; i++) {
        advance(w, 100);
        check_acked(w);
        if (outbox_first_pending(w->ob) == 0 && w->to_agg.n == 0
            && w->to_agent.n == 0)
            break;
    }
    if (outbox_first_pending(w->ob) != 0)
        violation(w, "outbox did not drain; first pending, applied",
                  outbox_first_pending(w->ob), w->applied);
    for (int k = 1; k <= w->n_content && !w->fail[0]; k++)
        if (!w->lost[k] && !w->seq_of[k])
            violation(w, "queued update never applied", (uint64_t)k, 0);
}

/* Run one seeded schedule. "" on success, else the violation. */
static struct {
    uint64_t applied, restores, restarts, faults, content;
    uint64_t turns_multi, failed_multi;
} totals;                              /* printed: the test did something */

static void
run_schedule(uint64_t seed, int steps, char *fail, size_t fail_len)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->seed = seed;
    w->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    w->now = 1000000;
    w->skew = (int64_t)(rnd(w) % 1200000) - 600000;   /* +-10 min */
    w->burst = chance(w, 50);
    memset(w->pk, 7, sizeof w->pk);
    snprintf(w->dir, sizeof w->dir, "%s/session_model.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/agent.db", w->dir);
    snprintf(w->backup, sizeof w->backup, "%s/backup.db", w->dir);
    open_agent(w);
    for (int i = 0; i < steps && !w->fail[0]; i++)
        step(w, steps - i);
    if (!w->fail[0])
        drain(w);
    int64_t off = session_clock_offset_ms(w->s);
    if (!w->fail[0] && w->applied > 0 && (off + w->skew > 3100
                                          || off + w->skew < -3100))
        violation(w, "clock offset does not match the skew",
                  (uint64_t)off, (uint64_t)-w->skew);
    snprintf(fail, fail_len, "%s", w->fail);
    totals.applied += w->applied;
    totals.restores += w->restored;
    totals.restarts += w->restarts;
    totals.faults += w->fault_hits;
    totals.content += (uint64_t)w->n_content;
    totals.turns_multi += w->turns_multi;
    totals.failed_multi += w->failed_multi;
    world_free(w);
}

static uint64_t
env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static void
test_schedules(void **state)
{
    (void)state;
    char fail[256];
    uint64_t one = env_u64("SESSION_SEED", 0);
    uint64_t n = one ? 1 : env_u64("SESSION_SCHEDULES", 2000);
    uint64_t base = one ? one : 1 + randombytes_uniform(1u << 30);
    int steps = (int)env_u64("SESSION_STEPS", 150);
    unsigned failed = 0;
    for (uint64_t i = 0; i < n; i++) {
        run_schedule(base + i, steps, fail, sizeof fail);
        if (fail[0]) {
            printf("# FAILED seed %llu: %s\n"
                   "#   replay: SESSION_SEED=%llu "
                   "build/tests/session_model_test\n",
                   (unsigned long long)(base + i), fail,
                   (unsigned long long)(base + i));
            if (++failed >= 3)
                break;
        }
    }
    printf("# %llu schedules from seed %llu, %u failed: %llu updates queued,"
           " %llu applied, %llu restores, %llu restarts, %llu local write"
           " faults, %llu turns recording several acks (%llu failed)\n",
           (unsigned long long)n, (unsigned long long)base, failed,
           (unsigned long long)totals.content,
           (unsigned long long)totals.applied,
           (unsigned long long)totals.restores,
           (unsigned long long)totals.restarts,
           (unsigned long long)totals.faults,
           (unsigned long long)totals.turns_multi,
           (unsigned long long)totals.failed_multi);
    assert_int_equal(failed, 0);
    if (n >= 200) {                    /* the schedules did exercise it */
        assert_true(totals.turns_multi > 0);
        assert_true(totals.failed_multi > 0);
    }
}

/* Item 3 of the harness's report: with every local write failing (disk
 * full) while acks arrive, the agent backs off (at most a few Hellos per
 * backoff_max, not hundreds per second), says local_write_failed, and
 * drains once the disk has room again. */
static void
test_disk_full_backs_off(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->rng = 12345;
    w->now = 1000000;
    memset(w->pk, 7, sizeof w->pk);
    snprintf(w->dir, sizeof w->dir, "/tmp/session_model.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/agent.db", w->dir);
    open_agent(w);
    push_updates(w, 3);
    w->faults = true;
    w->fault_pct = 100;
    advance(w, 2000);                  /* batches applied, acks unrecorded */
    assert_true(w->applied >= 1);
    assert_string_equal(w->conn, "local_write_failed");
    unsigned before = w->hellos;
    advance(w, 60000);
    unsigned per_min = w->hellos - before;
    printf("# disk full: %u Hellos in 60 s (backoff_max 2 s)\n", per_min);
    assert_true(per_min <= 90);
    assert_true(per_min >= 10);        /* it keeps retrying */
    assert_true(w->fault_hits > 0);
    w->faults = false;
    advance(w, 10000);
    assert_int_equal(outbox_first_pending(w->ob), 0);
    assert_string_equal(w->conn, "connected");
    for (int k = 1; k <= w->n_content; k++)
        assert_true(w->seq_of[k] > 0);
    world_free(w);
}

/* A commune PC 2 h slow queues rows before it ever measured its offset
 * (raw stamps), then with the offset known. The batches split where the
 * stamp offset changes (not within SESSION_BATCH_OFFSET_MS), and each
 * batch's sent_at_ms is wall + its rows' offset: 2 h behind the model's
 * clock for the raw rows (the aggregator shifts them), on time for the
 * others. */
static void
test_batch_per_stamp_offset(void **state)
{
    (void)state;
    const int64_t skew = -2 * 3600 * 1000;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->rng = 777;
    w->now = 100000000;
    w->skew = skew;
    w->batch_max = 10;
    memset(w->pk, 7, sizeof w->pk);
    snprintf(w->dir, sizeof w->dir, "/tmp/session_model.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/agent.db", w->dir);
    open_agent(w);                     /* its Hello is not answered yet */
    push_updates(w, 3);                /* seqs 1..3: offset 0 */
    assert_int_equal(outbox_set_clock_offset(w->ob, -skew, 1), CDS_OK);
    push_updates(w, 2);                /* 4..5: the true offset */
    assert_int_equal(outbox_set_clock_offset(w->ob, -skew + 500, 2), CDS_OK);
    push_updates(w, 1);                /* 6: within 1 s, same batch */
    advance(w, 5000);
    assert_int_equal(w->applied, 6);
    bool raw_batch = false, true_batch = false;
    for (size_t i = 0; i < w->n_batches; i++) {
        uint64_t first = w->batches[i].first, last = w->batches[i].last;
        int64_t d = w->batches[i].d;
        assert_true(last <= 3 || first >= 4);   /* never mixed */
        if (first <= 3)                /* sent 1..40 ms before arrival */
            assert_true(d <= skew && d >= skew - 40);
        else
            assert_true(d <= 500 && d >= -40);
        raw_batch |= first == 1 && last == 3;
        true_batch |= first == 4 && last == 6;
    }
    assert_true(raw_batch);
    assert_true(true_batch);
    world_free(w);
}

/* What the transport saw becomes the state status shows, while not
 * connected: "connecting" before any connection, then the diagnosis with
 * the endpoint, kept across backoffs; "connected" once the link is up;
 * plain "backoff" after a drop once it has been connected. */
static void
test_link_diagnosis(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->rng = 4242;
    w->now = 1000000;
    w->down_until = UINT64_MAX;        /* no connection takes a send */
    memset(w->pk, 7, sizeof w->pk);
    snprintf(w->dir, sizeof w->dir, "/tmp/session_model.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/agent.db", w->dir);
    open_agent(w);
    advance(w, 1000);
    assert_string_equal(w->conn, "connecting");
    session_on_link(w->s, SESSION_LINK_UNREACHABLE, "tcp://10.0.0.1:7701",
                    "Connection refused");
    assert_string_equal(w->conn, "unreachable");
    assert_string_equal(w->conn_error, "tcp://10.0.0.1:7701 Connection refused");
    advance(w, 10000);                 /* several backoffs: still known */
    assert_string_equal(w->conn, "unreachable");
    session_on_link(w->s, SESSION_LINK_HANDSHAKE_FAILED, "tcp://10.0.0.1:7701",
                    "refused by the aggregator (ZAP status 400)");
    assert_string_equal(w->conn, "handshake_failed");
    session_on_link(w->s, SESSION_LINK_UP, "tcp://10.0.0.1:7701", NULL);
    w->down_until = 0;
    advance(w, 5000);
    assert_string_equal(w->conn, "connected");
    session_on_link(w->s, SESSION_LINK_DOWN, "tcp://10.0.0.1:7701", NULL);
    queue_clear(&w->to_agg);
    queue_clear(&w->to_agent);
    w->down_until = w->now + 60000;
    w->was_down = true;
    advance(w, 5000);                  /* heartbeat unanswered: backoff */
    assert_string_equal(w->conn, "backoff");
    /* An open link on which nothing answers (a revoked key): silent after
     * SESSION_SILENT_MAX timeouts, so the caller dials again; a new link
     * starts the count afresh. */
    w->down_until = 0;
    w->was_down = false;
    w->stall_until = UINT64_MAX;
    session_on_link(w->s, SESSION_LINK_UP, "tcp://10.0.0.1:7701", NULL);
    session_on_writable(w->s);
    assert_false(session_silent(w->s));
    advance(w, 60000);
    assert_true(session_silent(w->s));
    session_on_link(w->s, SESSION_LINK_UP, "tcp://10.0.0.1:7701", NULL);
    assert_false(session_silent(w->s));
    world_free(w);
}

/* A revocation Notice for our key (the caller verified the envelope):
 * state "revoked" with the date, kept once, and nothing is sent any more
 * (no Hello, no batch, no heartbeat), whatever wakes or timers come. A
 * Notice naming another agent changes nothing. */
static void
notice_to(world_t *w, uint8_t fill)
{
    uint8_t pk[CDS_PK_BYTES];
    memset(pk, fill, sizeof pk);
    Cdsync__Notice n = CDSYNC__NOTICE__INIT;
    n.version = 1;
    n.agent.data = pk;
    n.agent.len = CDS_PK_BYTES;
    n.reason = CDSYNC__NOTICE_REASON__NOTICE_REVOKED;
    n.revoked_at_ms = 1764680000000ull;   /* 2025-12-02T12:53:20Z */
    size_t len = 0;
    uint8_t *body = cds_msg_encode(&n.base, &len);
    assert_non_null(body);
    session_on_message(w->s, CDSYNC__KIND__KIND_NOTICE, body, len, body,
                       len);
    free(body);
}

static void
test_revoked_notice(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->rng = 77;
    w->now = 1000000;
    memset(w->pk, 7, sizeof w->pk);
    snprintf(w->dir, sizeof w->dir, "/tmp/session_model.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/agent.db", w->dir);
    open_agent(w);
    advance(w, 5000);
    assert_string_equal(w->conn, "connected");
    notice_to(w, 8);                   /* another agent's */
    assert_false(session_revoked(w->s));
    assert_int_equal(w->notices_kept, 0);
    notice_to(w, 7);
    assert_true(session_revoked(w->s));
    assert_string_equal(session_state_name(w->s), "revoked");
    assert_string_equal(w->conn, "revoked");
    assert_non_null(strstr(w->conn_error, "2025-12-02T12:53:20"));
    assert_int_equal(w->notices_kept, 1);
    notice_to(w, 7);                   /* told again: kept once */
    assert_int_equal(w->notices_kept, 1);
    queue_clear(&w->to_agg);
    queue_clear(&w->to_agent);
    unsigned hellos = w->hellos;
    session_on_wake(w->s);
    session_on_writable(w->s);
    advance(w, 600000);                /* ten minutes of timers */
    assert_int_equal(session_next_deadline(w->s), 0);
    assert_int_equal(w->hellos, hellos);
    assert_int_equal(w->to_agg.n, 0);
    assert_string_equal(w->conn, "revoked");
    world_free(w);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    cds_log_init("session_model_test",
                 getenv("SESSION_SEED") ? CDS_LOG_DEBUG : CDS_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_full_backs_off),
        cmocka_unit_test(test_batch_per_stamp_offset),
        cmocka_unit_test(test_link_diagnosis),
        cmocka_unit_test(test_revoked_notice),
        cmocka_unit_test(test_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
