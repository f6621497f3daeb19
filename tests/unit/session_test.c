/*  session_test: the session's timers and decisions, one scripted step at
 *  a time, on an injected clock (time is a number the test moves: no test
 *  here sleeps or waits on real time; tests/integration/no_sleep_units.sh
 *  keeps it so). A real outbox in a temp dir, a scripted aggregator that
 *  answers exactly what the test says.
 *
 *  Checked: backoff stays within its full-jitter bounds; batches respect
 *  both the count and the byte bound and chain correctly; an answer with
 *  another request id changes nothing; Heartbeats leave
 *  every heartbeat_ms with the agent's figures and an unanswered one
 *  sends the session back to HELLO after ack_timeout_ms, not a
 *  millisecond earlier; the window of batches in flight starts at ~2,000
 *  updates, grows per quick ack and halves per slow one; after a refused
 *  handshake the session dials again after redial_ms (cancelled when the
 *  link comes up by itself); an open link that stays silent is dialed
 *  again once per link; a revocation hangs up and stops every redial;
 *  acked batches are kept byte for byte and resent unchanged when the
 *  aggregator asks (resend_from).
 *  (session_model_test checks the protocol's invariants under random
 *  schedules; this file pins the timings.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds_codec.h"
#include "cds_db.h"
#include "cds_err.h"
#include "cds_log.h"
#include "outbox.h"
#include "session.h"

#define MAXSENT 256                    /* messages a test may send, bound */
#define EP "tcp://192.0.2.1:7701"      /* a name only: nothing dials it */

typedef struct {
    int kind;
    uint8_t *body;
    size_t len;
    uint8_t *raw;                      /* the envelope (io_send_raw only) */
    size_t raw_len;
} sent_t;

typedef struct {
    char dir[64];
    outbox_t *ob;
    session_t *s;
    uint8_t pk[CDS_PK_BYTES];          /* the agent's signing key */
    uint64_t now;                      /* mono and wall, ms */
    bool down;                         /* no connection takes a send */
    sent_t sent[MAXSENT];              /* what the session sent, in order */
    size_t n_sent, n_read;             /* sent, and taken by the test */
    unsigned redials, hang_ups;        /* io.redial, io.hang_up calls */
    char conn[32];                     /* last connection state */
} fx_t;

/* ---- the injected world --------------------------------------------------- */

static uint64_t
io_clock(void *arg)
{
    return ((fx_t *)arg)->now;
}

/* The top of every range: backoffs are their caps, exactly. */
static uint32_t
io_top(void *arg, uint32_t upper)
{
    (void)arg;
    return upper ? upper - 1 : 0;
}

static int
io_send(void *arg, Cdsync__Kind kind, const uint8_t *body, size_t len)
{
    fx_t *fx = arg;
    if (fx->down)
        return SESSION_SEND_AGAIN;
    assert_true(fx->n_sent < MAXSENT);
    sent_t *m = &fx->sent[fx->n_sent++];
    m->kind = kind;
    m->body = malloc(len ? len : 1);
    assert_non_null(m->body);
    memcpy(m->body, body, len);
    m->len = len;
    return 0;
}

/* Seal as the daemon does, without a key: an Envelope around the body
 * (signature zeros: nothing here verifies it). */
static int
io_seal(void *arg, Cdsync__Kind kind, const uint8_t *body, size_t len,
        uint8_t **env, size_t *env_len)
{
    fx_t *fx = arg;
    uint8_t sig[64] = {0};
    Cdsync__Envelope e = CDSYNC__ENVELOPE__INIT;
    e.version = 1;
    e.kind = kind;
    e.signer.data = fx->pk;
    e.signer.len = CDS_PK_BYTES;
    e.body.data = (uint8_t *)body;
    e.body.len = len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    *env = cds_msg_encode(&e.base, env_len);
    return *env ? 0 : -1;
}

/* Send an envelope as is: recorded as its body, with the raw bytes. */
static int
io_send_raw(void *arg, const uint8_t *env, size_t len)
{
    fx_t *fx = arg;
    Cdsync__Envelope *e = NULL;
    assert_int_equal(cds_envelope_decode(env, len, &e), CDS_OK);
    int rc = io_send(arg, e->kind, e->body.data, e->body.len);
    cds_msg_free(e);
    if (rc == 0) {
        sent_t *m = &fx->sent[fx->n_sent - 1];
        m->raw = malloc(len);
        assert_non_null(m->raw);
        memcpy(m->raw, env, len);
        m->raw_len = len;
    }
    return rc;
}

static void
io_state(void *arg, const char *state, const char *error)
{
    fx_t *fx = arg;
    (void)error;
    snprintf(fx->conn, sizeof fx->conn, "%s", state);
}

static void
io_redial(void *arg)
{
    ((fx_t *)arg)->redials++;
}

static void
io_hang_up(void *arg)
{
    ((fx_t *)arg)->hang_ups++;
}

/* ---- fixture ---------------------------------------------------------------- */

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char path[128];
    int err = 0;
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/session_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(path, sizeof path, "%s/agent.db", fx->dir);
    fx->ob = outbox_open(path, &err);
    assert_non_null(fx->ob);
    memset(fx->pk, 7, sizeof fx->pk);
    fx->now = 1000000;
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    session_destroy(&fx->s);
    outbox_destroy(&fx->ob);
    for (size_t i = 0; i < fx->n_sent; i++) {
        free(fx->sent[i].body);
        free(fx->sent[i].raw);
    }
    nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void
start(fx_t *fx, session_config_t cfg)
{
    session_io_t io = {io_clock, io_clock, io_top, io_send, io_state, fx,
                       NULL, NULL, io_redial, io_hang_up, NULL, NULL, NULL, NULL};
    char err[128];
    cfg.catalog_version = "v";
    fx->s = session_new(&cfg, &io, fx->pk, fx->ob, err, sizeof err);
    assert_non_null(fx->s);
    session_start(fx->s);
}

/* As start, with io.seal/io.send_raw (the daemon's): acked batches are
 * kept (for a day). */
static void
start_sealing(fx_t *fx, session_config_t cfg)
{
    session_io_t io = {io_clock, io_clock, io_top, io_send, io_state, fx,
                       NULL, NULL, io_redial, io_hang_up, io_seal,
                       io_send_raw, NULL, NULL};
    char err[128];
    outbox_set_keep(fx->ob, 86400000, 0);
    cfg.catalog_version = "v";
    fx->s = session_new(&cfg, &io, fx->pk, fx->ob, err, sizeof err);
    assert_non_null(fx->s);
    session_start(fx->s);
}

/* Move the clock by ms, calling session_on_timer at every deadline on the
 * way (as the daemon's poll would) and at the end. */
static void
advance(fx_t *fx, uint64_t ms)
{
    uint64_t end = fx->now + ms;
    for (int i = 0; i < 100000; i++) { /* bound: a stuck deadline fails */
        uint64_t due = session_next_deadline(fx->s);
        if (!due || due > end)
            break;
        if (due > fx->now)
            fx->now = due;
        session_on_timer(fx->s);
        if (session_next_deadline(fx->s) == due)
            fail_msg("deadline %llu not moved by session_on_timer",
                     (unsigned long long)due);
    }
    fx->now = end;
    session_on_timer(fx->s);
}

/* The next message the session sent, which must be of kind, decoded with
 * desc (caller frees with cds_msg_free). */
static void *
take(fx_t *fx, Cdsync__Kind kind, const ProtobufCMessageDescriptor *desc)
{
    int e = 0;
    assert_true(fx->n_read < fx->n_sent);
    sent_t *m = &fx->sent[fx->n_read++];
    assert_int_equal(m->kind, kind);
    void *msg = cds_msg_decode(desc, m->body, m->len, &e);
    assert_non_null(msg);
    return msg;
}

static size_t
unread(const fx_t *fx)
{
    return fx->n_sent - fx->n_read;
}

static void
deliver(fx_t *fx, Cdsync__Kind kind, const ProtobufCMessage *msg)
{
    size_t len = 0;
    uint8_t *body = cds_msg_encode(msg, &len);
    assert_non_null(body);
    session_on_message(fx->s, kind, body, len, body, len);
    free(body);
}

/* An answer to the Hello just sent (taken) saying the aggregator holds
 * nothing of ours and has published metadata version latest; *id: that
 * Hello's request id. */
static Cdsync__HelloAnswer
hello_answer(fx_t *fx, uint64_t latest, uint64_t *id)
{
    Cdsync__Hello *h = take(fx, CDSYNC__KIND__KIND_HELLO,
                            &cdsync__hello__descriptor);
    Cdsync__HelloAnswer a = CDSYNC__HELLO_ANSWER__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.agent.data = fx->pk;
    a.agent.len = CDS_PK_BYTES;
    a.clock_ms = fx->now;
    a.request_id = *id = h->request_id;
    a.metadata_latest = latest;
    cds_msg_free(h);
    return a;
}

/* Answer the Hello just sent: the aggregator holds nothing of ours. An
 * answer with another request id comes first and changes nothing. */
static void
answer_hello(fx_t *fx)
{
    uint64_t id;
    Cdsync__HelloAnswer a = hello_answer(fx, 0, &id);
    a.request_id = id + 1;
    deliver(fx, CDSYNC__KIND__KIND_HELLO_ANSWER, &a.base);
    assert_string_equal(session_state_name(fx->s), "hello");
    a.request_id = id;
    deliver(fx, CDSYNC__KIND__KIND_HELLO_ANSWER, &a.base);
}

/* ---- backoff -------------------------------------------------------------- */

static uint32_t
sodium_uniform(void *arg, uint32_t upper)
{
    (void)arg;
    return randombytes_uniform(upper);
}

static void
test_backoff_bounds(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 12; a++) {
        uint64_t cap = 500ull << a;
        if (cap > 60000)
            cap = 60000;
        for (int i = 0; i < 200; i++)
            assert_true(session_backoff_ms(a, 500, 60000, sodium_uniform,
                                           NULL) <= cap);
        /* The top of the range is reachable: the cap itself. */
        assert_int_equal(session_backoff_ms(a, 500, 60000, io_top, NULL),
                         cap);
    }
    /* Huge attempt numbers stay at the cap (no overflow). */
    assert_int_equal(session_backoff_ms(1000, 500, 60000, io_top, NULL),
                     60000);
    /* Full jitter: values spread over the range, not one fixed delay. */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 500; i++) {
        uint64_t v = session_backoff_ms(5, 500, 60000, sodium_uniform, NULL);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    assert_true(lo < 4000);
    assert_true(hi > 12000);
}

/* ---- batches ------------------------------------------------------------------ */

/* n rows with a comment of comment_len bytes (row sizes to bound). */
static void
push_sized(outbox_t *ob, size_t n, size_t comment_len)
{
    char *comment = malloc(comment_len + 1);
    memset(comment, 'c', comment_len);
    comment[comment_len] = '\0';
    cds_update_t *u = calloc(n, sizeof *u);
    char (*pe)[16] = calloc(n, sizeof *pe);
    for (size_t i = 0; i < n; i++) {
        snprintf(pe[i], sizeof pe[i], "%d", 2000 + (int)i);
        u[i].org_unit = "OU1";
        u[i].indicator = "CNT";
        u[i].period = pe[i];
        u[i].disagg = "default";
        u[i].value = "1";
        u[i].comment = comment;
    }
    char err[256];
    assert_int_equal(outbox_push(ob, u, NULL, n, 0, err, sizeof err),
                     CDS_OK);
    free(u);
    free(pe);
    free(comment);
}

/* Encode what outbox_read returned under given bounds and check it. */
static void
check_batch(outbox_t *ob, uint64_t from, size_t max_count, size_t max_bytes,
            size_t want_n)
{
    outbox_row_t *rows;
    size_t n, sum = 0, len;
    uint8_t pk[CDS_PK_BYTES], prev[CDS_HASH_BYTES], *body;
    memset(pk, 1, sizeof pk);
    assert_int_equal(outbox_read(ob, from, max_count, max_bytes, &rows, &n),
                     CDS_OK);
    assert_int_equal(n, want_n);
    for (size_t i = 0; i < n; i++)
        sum += rows[i].size;
    assert_true(n == 1 || sum <= max_bytes);
    assert_int_equal(outbox_head_at(ob, from - 1, prev), CDS_OK);
    assert_int_equal(session_batch_encode(rows, n, pk, prev, "v1", 5, 77,
                                          &body, &len),
                     CDS_OK);
    /* Row sizes are the updates' share of the batch: the rest is a small
     * fixed header (keys, heads, seqs, version). */
    assert_true(len >= sum && len <= sum + 160);
    int err = 0;
    Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor, body, len,
                                      &err);
    assert_non_null(b);
    assert_int_equal(b->first_seq, from);
    assert_int_equal(b->last_seq, from + n - 1);
    assert_int_equal(b->n_updates, n);
    assert_memory_equal(b->prev_head.data, prev, CDS_HASH_BYTES);
    assert_memory_equal(b->head.data, rows[n - 1].head, CDS_HASH_BYTES);
    assert_string_equal(b->catalog_version, "v1");
    assert_int_equal(b->request_id, 77);
    assert_int_equal(b->updates[n - 1]->seq, from + n - 1);
    cds_msg_free(b);
    free(body);
    outbox_rows_free(&rows, n);
}

static void
test_batch_bounds(void **state)
{
    fx_t *fx = *state;
    push_sized(fx->ob, 40, 200);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 1, 1, 1 << 20, &rows, &n), CDS_OK);
    size_t one = rows[0].size;
    outbox_rows_free(&rows, n);
    check_batch(fx->ob, 1, 10, 1 << 20, 10);        /* count bound */
    check_batch(fx->ob, 11, 100, 3 * one + 10, 3); /* byte bound */
    check_batch(fx->ob, 14, 100, 1, 1);             /* at least one */
    check_batch(fx->ob, 15, 1000, 1 << 20, 26);     /* the rest */
}

static void
test_batch_rejects_gaps(void **state)
{
    fx_t *fx = *state;
    push_sized(fx->ob, 3, 1);
    outbox_row_t *rows;
    size_t n, len;
    uint8_t pk[CDS_PK_BYTES] = {0}, prev[CDS_HASH_BYTES] = {0}, *body = NULL;
    assert_int_equal(outbox_read(fx->ob, 1, 3, 1 << 20, &rows, &n), CDS_OK);
    rows[1].u.seq = 7;
    assert_int_equal(session_batch_encode(rows, n, pk, prev, "v", 0, 0, &body,
                                         &len),
                     CDS_EBADSEQ);
    assert_int_equal(session_batch_encode(rows, 0, pk, prev, "v", 0, 0, &body,
                                         &len),
                     CDS_ETOOBIG);
    assert_null(body);
    outbox_rows_free(&rows, n);
}

/* ---- heartbeats ------------------------------------------------------------- */

/* One Heartbeat due now: taken and checked; its request id. */
static uint64_t
take_heartbeat(fx_t *fx)
{
    Cdsync__Heartbeat *hb = take(fx, CDSYNC__KIND__KIND_HEARTBEAT,
                                 &cdsync__heartbeat__descriptor);
    assert_int_equal(hb->agent.len, CDS_PK_BYTES);
    assert_memory_equal(hb->agent.data, fx->pk, CDS_PK_BYTES);
    assert_int_equal(hb->queue_depth, 0);
    assert_int_equal(hb->clock_ms, fx->now);
    assert_true(hb->agent_version && hb->agent_version[0]);
    uint64_t id = hb->request_id;
    cds_msg_free(hb);
    return id;
}

static void
answer_heartbeat(fx_t *fx, uint64_t request_id)
{
    Cdsync__HeartbeatAnswer a = CDSYNC__HEARTBEAT_ANSWER__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.clock_ms = fx->now;
    a.request_id = request_id;
    deliver(fx, CDSYNC__KIND__KIND_HEARTBEAT_ANSWER, &a.base);
}

/* Connected: a Heartbeat every heartbeat_ms, each answered one keeps the
 * session connected; an answer with another id counts for nothing; an
 * unanswered one sends it back to HELLO after ack_timeout_ms (a half-open
 * link noticed by the agent), after the backoff. */
static void
test_heartbeats(void **state)
{
    fx_t *fx = *state;
    start(fx, (session_config_t){
        .batch_max = 500, .batch_bytes = 1 << 20, .window = 4,
        .ack_timeout_ms = 300, .backoff_min_ms = 10, .backoff_max_ms = 50,
        .heartbeat_ms = 100});
    answer_hello(fx);
    assert_string_equal(session_state_name(fx->s), "sending");
    assert_string_equal(fx->conn, "connected");
    for (int i = 0; i < 2; i++) {
        advance(fx, 99);
        assert_int_equal(unread(fx), 0);       /* not a ms early */
        advance(fx, 1);
        assert_int_equal(unread(fx), 1);
        answer_heartbeat(fx, take_heartbeat(fx));
    }
    advance(fx, 100);
    uint64_t id = take_heartbeat(fx);
    answer_heartbeat(fx, id + 1);              /* stale: ignored */
    advance(fx, 299);
    assert_string_equal(session_state_name(fx->s), "sending");
    advance(fx, 1);                            /* ack_timeout_ms: down */
    assert_string_equal(session_state_name(fx->s), "backoff");
    assert_int_equal(unread(fx), 0);
    advance(fx, 10);                           /* first backoff: min */
    assert_string_equal(session_state_name(fx->s), "hello");
    Cdsync__Hello *h = take(fx, CDSYNC__KIND__KIND_HELLO,
                            &cdsync__hello__descriptor);
    cds_msg_free(h);
}

/* ---- the window of batches in flight ---------------------------------------- */

static uint64_t batch_ids[64];         /* request id of the batch at seq */

/* Next message must be a batch of one row: its seq. */
static uint64_t
take_batch(fx_t *fx)
{
    Cdsync__Batch *b = take(fx, CDSYNC__KIND__KIND_BATCH,
                            &cdsync__batch__descriptor);
    assert_int_equal(b->first_seq, b->last_seq);
    uint64_t seq = b->first_seq;
    assert_true(seq < 64);
    batch_ids[seq] = b->request_id;
    cds_msg_free(b);
    return seq;
}

static void
ack_one(fx_t *fx, uint64_t seq)
{
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.status = CDSYNC__ACK_STATUS__ACK_OK;
    a.agent.data = fx->pk;
    a.agent.len = CDS_PK_BYTES;
    a.acked_seq = a.batch_first = a.batch_last = seq;
    a.request_id = batch_ids[seq];
    a.clock_ms = fx->now;
    deliver(fx, CDSYNC__KIND__KIND_ACK, &a.base);
}

/* One ack per turn, as the daemon reads one that came alone. */
static void
ack_turn(fx_t *fx, uint64_t seq)
{
    ack_one(fx, seq);
    session_flush(fx->s);
}

/* The window in use starts at ~2,000 updates (2 batches of batch_max
 * 1000), grows by one per quick ack (under ack_timeout_ms / 8) up to
 * `window`, and halves per ack slower than ack_timeout_ms / 4. Batches
 * hold one row (batch_bytes 1). */
static void
test_window_adapts(void **state)
{
    fx_t *fx = *state;
    push_sized(fx->ob, 20, 10);
    start(fx, (session_config_t){
        .batch_max = 1000, .batch_bytes = 1, .window = 4,
        .ack_timeout_ms = 4000, .backoff_min_ms = 10, .backoff_max_ms = 50});
    answer_hello(fx);
    /* Starts with 2 in flight (a fixed window would send 4 at once). */
    assert_int_equal(take_batch(fx), 1);
    assert_int_equal(take_batch(fx), 2);
    assert_int_equal(unread(fx), 0);
    /* Quick acks: 3, then 4 (the most) in flight. */
    advance(fx, 499);
    ack_turn(fx, 1);
    assert_int_equal(take_batch(fx), 3);
    assert_int_equal(take_batch(fx), 4);
    ack_turn(fx, 2);
    assert_int_equal(take_batch(fx), 5);
    assert_int_equal(take_batch(fx), 6);
    ack_turn(fx, 3);
    assert_int_equal(take_batch(fx), 7);
    assert_int_equal(unread(fx), 0);
    /* Slow acks (> 1 s = ack_timeout / 4): 4 -> 2 -> 1 in flight, so
     * after acking 4, 5, 6 and 7 only one more batch leaves. */
    advance(fx, 1001);
    assert_int_equal(unread(fx), 0);
    for (uint64_t seq = 4; seq <= 7; seq++)
        ack_turn(fx, seq);
    assert_int_equal(take_batch(fx), 8);
    assert_int_equal(unread(fx), 0);
    advance(fx, 3999);                 /* 8 is not late yet: no resend */
    assert_int_equal(unread(fx), 0);
    assert_string_equal(session_state_name(fx->s), "sending");
}

/* ---- kept batches and resend_from --------------------------------------------- */

/* With io.seal/io.send_raw the session keeps each batch's envelope after
 * its ACK_OK (the exact bytes sent); its Hello says from where it keeps
 * them; asked resend_from, it sends the kept envelopes unchanged (same
 * bytes, same request ids) before anything else, and their acks change
 * nothing of what it holds. */
static void
test_keep_and_resend(void **state)
{
    fx_t *fx = *state;
    push_sized(fx->ob, 4, 10);
    start_sealing(fx, (session_config_t){
        .batch_max = 1000, .batch_bytes = 1, .window = 4,
        .ack_timeout_ms = 300, .backoff_min_ms = 10, .backoff_max_ms = 50,
        .heartbeat_ms = 100});
    answer_hello(fx);
    size_t at[5];                      /* sent[] index of batch seq */
    for (uint64_t seq = 1; seq <= 4; seq++) {
        at[seq] = fx->n_read;
        assert_int_equal(take_batch(fx), seq);
        ack_turn(fx, seq);
        if (seq == 1) {                /* 2 was in flight with 1 */
            at[2] = fx->n_read;
            assert_int_equal(take_batch(fx), 2);
            ack_turn(fx, 2);
            seq = 2;
        }
    }
    outbox_kept_stats_t ks;
    assert_int_equal(outbox_kept_stats(fx->ob, &ks), CDS_OK);
    assert_int_equal(ks.count, 4);
    assert_int_equal(ks.first_seq, 1);
    assert_int_equal(ks.last_seq, 4);
    outbox_kept_t k;
    assert_int_equal(outbox_kept_at(fx->ob, 3, &k), CDS_OK);
    assert_int_equal(k.envelope_len, fx->sent[at[3]].raw_len);
    assert_memory_equal(k.envelope, fx->sent[at[3]].raw, k.envelope_len);
    outbox_kept_free(&k);
    /* The link goes half-open (heartbeat unanswered): HELLO again. */
    advance(fx, 100);
    take_heartbeat(fx);
    advance(fx, 300 + 10);
    Cdsync__Hello *h = take(fx, CDSYNC__KIND__KIND_HELLO,
                            &cdsync__hello__descriptor);
    assert_int_equal(h->acked_seq, 4);
    assert_int_equal(h->kept_from, 1);
    assert_int_equal(h->kept_prev_head.len, CDS_HASH_BYTES);
    /* The aggregator went back to seq 2: resend from 3. */
    int e = 0;
    Cdsync__Batch *b3 = cds_msg_decode(&cdsync__batch__descriptor,
                                       fx->sent[at[3]].body,
                                       fx->sent[at[3]].len, &e);
    assert_non_null(b3);
    Cdsync__HelloAnswer a = CDSYNC__HELLO_ANSWER__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.agent.data = fx->pk;
    a.agent.len = CDS_PK_BYTES;
    a.applied_seq = 2;
    a.applied_head = b3->prev_head;
    a.resend_from = 3;
    a.clock_ms = fx->now;
    a.request_id = h->request_id;
    cds_msg_free(h);
    deliver(fx, CDSYNC__KIND__KIND_HELLO_ANSWER, &a.base);
    cds_msg_free(b3);
    for (uint64_t seq = 3; seq <= 4; seq++) {
        sent_t *m = &fx->sent[fx->n_read];
        assert_int_equal(m->raw_len, fx->sent[at[seq]].raw_len);
        assert_memory_equal(m->raw, fx->sent[at[seq]].raw, m->raw_len);
        assert_int_equal(take_batch(fx), seq);   /* same request id */
    }
    assert_int_equal(unread(fx), 0);   /* nothing pending after them */
    ack_turn(fx, 3);
    ack_turn(fx, 4);
    assert_string_equal(session_state_name(fx->s), "sending");
    outbox_meta_t mt;
    assert_int_equal(outbox_meta(fx->ob, &mt), CDS_OK);
    assert_int_equal(mt.acked_seq, 4);
    assert_int_equal(outbox_depth(fx->ob), 0);
}

/* ---- the acks of one turn: one record ------------------------------------ */

static int receipts_seen;

static int
count_receipt(const outbox_receipt_t *r, void *arg)
{
    (void)r, (void)arg;
    receipts_seen++;
    return 0;
}

/* What the outbox holds: acked_seq, rows pending, receipts, kept. */
static void
recorded(outbox_t *ob, uint64_t acked, size_t depth, int receipts,
         uint64_t kept)
{
    outbox_meta_t m;
    outbox_kept_stats_t ks;
    assert_int_equal(outbox_meta(ob, &m), CDS_OK);
    assert_int_equal(m.acked_seq, acked);
    assert_int_equal(outbox_depth(ob), depth);
    receipts_seen = 0;
    assert_int_equal(outbox_receipts_list(ob, count_receipt, NULL), CDS_OK);
    assert_int_equal(receipts_seen, receipts);
    assert_int_equal(outbox_kept_stats(ob, &ks), CDS_OK);
    assert_int_equal(ks.count, kept);
}

static int ack_write_fails;            /* fail the next outbox "ack" writes */

static int
fail_ack_write(void *arg, const char *op)
{
    (void)arg;
    if (strcmp(op, "ack") != 0 || ack_write_fails == 0)
        return CDS_OK;
    ack_write_fails--;
    return CDS_EFULL;
}

/* Answer the Hello just sent: the aggregator holds our chain up to
 * applied (its head is ours). */
static void
answer_hello_at(fx_t *fx, uint64_t applied)
{
    uint64_t id;
    uint8_t head[CDS_HASH_BYTES];
    Cdsync__HelloAnswer a = hello_answer(fx, 0, &id);
    assert_int_equal(outbox_head_at(fx->ob, applied, head), CDS_OK);
    a.applied_seq = applied;
    a.applied_head.data = head;
    a.applied_head.len = CDS_HASH_BYTES;
    deliver(fx, CDSYNC__KIND__KIND_HELLO_ANSWER, &a.base);
}

/* Four ACK_OKs read in one turn are recorded in ONE write transaction
 * (one fsync) at session_flush, each with its receipt and its batch's
 * kept envelope; nothing is recorded and nothing more is sent before.
 * When that record fails (disk full) none of the four is recorded, the
 * session backs off, its Hello states the old acked_seq and the rows are
 * sent again: nothing is lost. */
static void
test_acks_of_a_turn_one_record(void **state)
{
    fx_t *fx = *state;
    outbox_set_fault_hook(fx->ob, fail_ack_write, NULL);
    push_sized(fx->ob, 8, 10);
    start_sealing(fx, (session_config_t){
        .batch_max = 500, .batch_bytes = 1, .window = 4,
        .ack_timeout_ms = 4000, .backoff_min_ms = 10, .backoff_max_ms = 50});
    answer_hello(fx);
    for (uint64_t seq = 1; seq <= 4; seq++)   /* window 2000 / 500 */
        assert_int_equal(take_batch(fx), seq);
    uint64_t commits = cds_db_write_commits();
    for (uint64_t seq = 1; seq <= 4; seq++)
        ack_one(fx, seq);
    assert_int_equal(session_acks_waiting(fx->s), 4);
    assert_int_equal(cds_db_write_commits(), commits);
    assert_int_equal(outbox_depth(fx->ob), 8);
    assert_int_equal(unread(fx), 0);   /* record first, then refill */
    session_flush(fx->s);
    assert_int_equal(cds_db_write_commits() - commits, 1);
    assert_int_equal(session_acks_waiting(fx->s), 0);
    recorded(fx->ob, 4, 4, 4, 4);
    for (uint64_t seq = 5; seq <= 8; seq++)   /* the window refilled */
        assert_int_equal(take_batch(fx), seq);
    /* The next turn's record fails: none of its acks is recorded. */
    for (uint64_t seq = 5; seq <= 8; seq++)
        ack_one(fx, seq);
    ack_write_fails = 1;
    session_flush(fx->s);
    assert_string_equal(session_state_name(fx->s), "backoff");
    assert_string_equal(fx->conn, "local_write_failed");
    recorded(fx->ob, 4, 4, 4, 4);
    /* After the backoff: Hello (acked_seq 4), the rows go again, their
     * acks (the aggregator's for duplicates) are recorded. */
    advance(fx, 50);
    Cdsync__Hello *h = take(fx, CDSYNC__KIND__KIND_HELLO,
                            &cdsync__hello__descriptor);
    assert_int_equal(h->acked_seq, 4);
    cds_msg_free(h);
    fx->n_read--;                      /* answer_hello_at takes it */
    answer_hello_at(fx, 4);
    for (uint64_t seq = 5; seq <= 8; seq++)
        assert_int_equal(take_batch(fx), seq);
    for (uint64_t seq = 5; seq <= 8; seq++)
        ack_one(fx, seq);
    session_flush(fx->s);
    recorded(fx->ob, 8, 0, 8, 8);
    assert_string_equal(fx->conn, "connected");
}

/* ---- dialing again ----------------------------------------------------------- */

/* libzmq never retries a refused handshake: the session asks for a new
 * dial after redial_ms; a second refusal meanwhile does not postpone it;
 * a link that comes up by itself cancels it. */
static void
test_redial_after_refused_handshake(void **state)
{
    fx_t *fx = *state;
    fx->down = true;                   /* nothing connects */
    start(fx, (session_config_t){
        .batch_max = 500, .batch_bytes = 1 << 20, .window = 4,
        .ack_timeout_ms = 300, .backoff_min_ms = 10000,
        .backoff_max_ms = 60000, .redial_ms = 2000});
    session_on_link(fx->s, SESSION_LINK_HANDSHAKE_FAILED, EP,
                    "refused by the aggregator (ZAP status 400)");
    assert_string_equal(fx->conn, "handshake_failed");
    assert_int_equal(session_next_deadline(fx->s), fx->now + 2000);
    advance(fx, 1000);
    session_on_link(fx->s, SESSION_LINK_HANDSHAKE_FAILED, EP, NULL);
    advance(fx, 999);
    assert_int_equal(fx->redials, 0);
    advance(fx, 1);
    assert_int_equal(fx->redials, 1);
    advance(fx, 60000);                /* once per refusal, not a loop */
    assert_int_equal(fx->redials, 1);
    session_on_link(fx->s, SESSION_LINK_HANDSHAKE_FAILED, EP, NULL);
    advance(fx, 1500);
    session_on_link(fx->s, SESSION_LINK_UP, EP, NULL);
    advance(fx, 60000);
    assert_int_equal(fx->redials, 1);  /* cancelled by the link */
}

/* An open link on which nothing answers (the aggregator drops what a
 * revoked key sends): after SESSION_SILENT_MAX answer timeouts the
 * session dials again, once per link; a new link counts afresh. */
static void
test_redial_when_silent(void **state)
{
    fx_t *fx = *state;
    start(fx, (session_config_t){
        .batch_max = 500, .batch_bytes = 1 << 20, .window = 4,
        .ack_timeout_ms = 300, .backoff_min_ms = 100,
        .backoff_max_ms = 100, .redial_ms = 2000});
    session_on_link(fx->s, SESSION_LINK_UP, EP, NULL);
    /* Hello at t, timeout at t+300, backoff 100: one Hello per 400 ms. */
    advance(fx, 300 * SESSION_SILENT_MAX + 100 * (SESSION_SILENT_MAX - 1)
                    - 1);
    assert_int_equal(fx->redials, 0);
    assert_false(session_silent(fx->s));
    advance(fx, 1);
    assert_true(session_silent(fx->s));
    assert_int_equal(fx->redials, 1);
    advance(fx, 10000);                /* the same link: not again */
    assert_int_equal(fx->redials, 1);
    session_on_link(fx->s, SESSION_LINK_UP, EP, NULL);
    assert_false(session_silent(fx->s));
    advance(fx, 400 * SESSION_SILENT_MAX);
    assert_int_equal(fx->redials, 2);
    assert_true(unread(fx) > 2 * SESSION_SILENT_MAX);   /* Hellos */
}

/* A revocation Notice for our key: the session hangs up once and never
 * asks for a redial again, whatever the transport reports. */
static void
test_revoked_hangs_up(void **state)
{
    fx_t *fx = *state;
    start(fx, (session_config_t){
        .batch_max = 500, .batch_bytes = 1 << 20, .window = 4,
        .ack_timeout_ms = 300, .backoff_min_ms = 10, .backoff_max_ms = 50,
        .heartbeat_ms = 100, .redial_ms = 2000});
    session_on_link(fx->s, SESSION_LINK_UP, EP, NULL);
    answer_hello(fx);
    Cdsync__Notice n = CDSYNC__NOTICE__INIT;
    n.version = 1;
    n.agent.data = fx->pk;
    n.agent.len = CDS_PK_BYTES;
    n.reason = CDSYNC__NOTICE_REASON__NOTICE_REVOKED;
    n.revoked_at_ms = 1764680000000ull;
    deliver(fx, CDSYNC__KIND__KIND_NOTICE, &n.base);
    deliver(fx, CDSYNC__KIND__KIND_NOTICE, &n.base);   /* told twice */
    assert_true(session_revoked(fx->s));
    assert_int_equal(fx->hang_ups, 1);
    session_on_link(fx->s, SESSION_LINK_HANDSHAKE_FAILED, EP,
                    "refused by the aggregator (ZAP status 400)");
    assert_int_equal(session_next_deadline(fx->s), 0);
    advance(fx, 600000);
    assert_int_equal(fx->redials, 0);
    assert_int_equal(unread(fx), 0);
}

/* ---- metadata before sending (docs/AGENT.md "Values queued under an
 * older version") ------------------------------------------------------- */

static int recheck_calls, metadata_calls;
static size_t unread_at_recheck;

/* Taken into use as metafetch would: version 1 stored (bytes unchecked). */
static int
io_metadata_ok(void *arg, const Cdsync__MetadataReply *r)
{
    fx_t *fx = arg;
    uint8_t bundle[1] = {0};
    outbox_metadata_t m = {.version = 1, .bundle = bundle, .bundle_len = 1,
                           .summary = (char *)""};
    (void)r;
    metadata_calls++;
    return outbox_metadata_put(fx->ob, &m);
}

static int
io_recheck_count(void *arg)
{
    recheck_calls++;
    unread_at_recheck = unread(arg);
    return CDS_OK;
}

/* Answer the Hello just sent, announcing metadata version latest. */
static void
answer_hello_latest(fx_t *fx, uint64_t latest)
{
    uint64_t id;
    Cdsync__HelloAnswer a = hello_answer(fx, latest, &id);
    deliver(fx, CDSYNC__KIND__KIND_HELLO_ANSWER, &a.base);
}

/* A newer version announced at the hello: asked for, and no batch leaves
 * before its reply; then a Hello again, the recheck (nothing sent since
 * that Hello's answer) and the batch. Without a reply the wait ends after
 * ack_timeout_ms: one wait only, then the rows are sent. */
static void
test_metadata_before_sending(void **state)
{
    fx_t *fx = *state;
    session_io_t io = {io_clock, io_clock, io_top, io_send, io_state, fx,
                       NULL, NULL, io_redial, io_hang_up, NULL, NULL,
                       io_metadata_ok, io_recheck_count};
    session_config_t cfg = {
        .catalog_version = "v", .batch_max = 500, .batch_bytes = 1 << 20,
        .window = 4, .ack_timeout_ms = 300, .backoff_min_ms = 10,
        .backoff_max_ms = 50};
    char err[128];
    cds_update_t u = {.org_unit = "OU1", .indicator = "CDS01",
                      .period = "2025", .disagg = "default", .value = "1"};
    assert_int_equal(outbox_push(fx->ob, &u, NULL, 1, 0, err, sizeof err),
                     CDS_OK);
    recheck_calls = metadata_calls = 0;
    fx->s = session_new(&cfg, &io, fx->pk, fx->ob, err, sizeof err);
    assert_non_null(fx->s);
    session_start(fx->s);
    answer_hello_latest(fx, 1);
    Cdsync__MetadataRequest *q = take(fx, CDSYNC__KIND__KIND_METADATA_REQUEST,
                                      &cdsync__metadata_request__descriptor);
    assert_int_equal(unread(fx), 0);           /* no batch yet */
    assert_int_equal(recheck_calls, 0);
    Cdsync__MetadataReply r = CDSYNC__METADATA_REPLY__INIT;
    r.version = CDS_PROTOCOL_VERSION;
    r.agent.data = fx->pk;
    r.agent.len = CDS_PK_BYTES;
    r.request_id = q->request_id;
    cds_msg_free(q);
    deliver(fx, CDSYNC__KIND__KIND_METADATA_REPLY, &r.base);
    assert_int_equal(metadata_calls, 1);
    answer_hello_latest(fx, 1);                /* the Hello again */
    assert_int_equal(recheck_calls, 1);
    assert_int_equal(unread_at_recheck, 0);    /* checked before sending */
    Cdsync__Batch *b = take(fx, CDSYNC__KIND__KIND_BATCH,
                            &cdsync__batch__descriptor);
    assert_int_equal(b->first_seq, 1);
    cds_msg_free(b);

    session_destroy(&fx->s);                   /* no reply this time */
    recheck_calls = 0;
    fx->s = session_new(&cfg, &io, fx->pk, fx->ob, err, sizeof err);
    session_start(fx->s);
    answer_hello_latest(fx, 2);
    q = take(fx, CDSYNC__KIND__KIND_METADATA_REQUEST,
             &cdsync__metadata_request__descriptor);
    cds_msg_free(q);
    advance(fx, 299);
    assert_int_equal(unread(fx), 0);
    advance(fx, 1 + 50);                       /* timeout, backoff */
    answer_hello_latest(fx, 2);
    assert_int_equal(recheck_calls, 1);        /* waited once: sends */
    q = take(fx, CDSYNC__KIND__KIND_METADATA_REQUEST,   /* asks again */
             &cdsync__metadata_request__descriptor);
    cds_msg_free(q);
    b = take(fx, CDSYNC__KIND__KIND_BATCH, &cdsync__batch__descriptor);
    cds_msg_free(b);
}

int
main(void)
{
    assert_true(sodium_init() >= 0);
    cds_log_init("session_test", CDS_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test_setup_teardown(test_batch_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_rejects_gaps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_adapts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redial_after_refused_handshake,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redial_when_silent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acks_of_a_turn_one_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_and_resend, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metadata_before_sending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_revoked_hangs_up, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
