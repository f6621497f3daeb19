/*  sender_test: the link (agent/sender.c) with real sockets: the sockets
 *  are set up and torn down (wake.sock appears and goes), a stop request
 *  ends the loop and records "stopped"; against a scripted CURVE
 *  aggregator on ipc://, a Hello, batches and acks cross the link in both
 *  directions and an ack is verified and applied before the next batch
 *  leaves; a frame is believed only when signed by the configured server
 *  key for us (sender_open_frame).
 *
 *  Timers are the session's and are tested on its injected clock
 *  (session_test.c). Nothing here sleeps or waits for time to pass: each
 *  wait is for a message, bounded (next_msg), and fails the test when it
 *  does not come. tests/integration/no_sleep_units.sh keeps it so. */
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

#include "cds_signal.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "outbox.h"
#include "revocation.h"
#include "sender.h"

#include <pthread.h>
#include <zmq.h>

typedef struct {
    char dir[64];
    char path[128];
    outbox_t *ob;
} fx_t;

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
    strcpy(fx->dir, "/tmp/sender_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/agent.db", fx->dir);
    int err = 0;
    fx->ob = outbox_open(fx->path, &err);
    assert_non_null(fx->ob);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    outbox_destroy(&fx->ob);
    nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void
push_rows(outbox_t *ob, size_t n, size_t comment_len)
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

static void
test_new_run_stop(void **state)
{
    fx_t *fx = *state;
    char keypath[128], aggpath[128], pub[CDS_PUBID_LEN], err[256];
    char wake[128];
    int e = 0;
    snprintf(keypath, sizeof keypath, "%s/agent.key", fx->dir);
    snprintf(aggpath, sizeof aggpath, "%s/agg.key", fx->dir);
    snprintf(wake, sizeof wake, "%s/wake.sock", fx->dir);
    assert_int_equal(cds_identity_generate(keypath, "a"), CDS_OK);
    assert_int_equal(cds_identity_generate(aggpath, "g"), CDS_OK);
    cds_identity_t *id = cds_identity_load(keypath, &e, err, sizeof err);
    cds_identity_t *agg = cds_identity_load(aggpath, &e, err, sizeof err);
    assert_non_null(id);
    assert_non_null(agg);
    cds_identity_public(agg, pub, sizeof pub);
    sender_config_t cfg = {
        .state_dir = fx->dir, .server = "tcp://127.0.0.1:1",
        .server_key = "cds1:nonsense", .catalog_version = "v",
        .batch_max = 500, .batch_bytes = 1 << 20, .window = 4,
        .ack_timeout_ms = 1000, .backoff_min_ms = 10,
        .backoff_max_ms = 100,
    };
    assert_null(sender_new(&cfg, id, fx->ob, err, sizeof err));
    assert_non_null(strstr(err, "server_key"));
    cfg.server_key = pub;
    cfg.window = 0;
    assert_null(sender_new(&cfg, id, fx->ob, err, sizeof err));
    cfg.window = 4;
    sender_t *s = sender_new(&cfg, id, fx->ob, err, sizeof err);
    assert_non_null(s);
    struct stat sb;
    assert_int_equal(stat(wake, &sb), 0);
    cds_signal_install();
    cds_signal_request_stop();             /* run returns after its first turn */
    assert_int_equal(sender_run(s), CDS_OK);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_string_equal(m.conn_state, "stopped");
    sender_destroy(&s);
    assert_null(s);
    sender_destroy(&s);                /* safe on NULL */
    assert_int_not_equal(stat(wake, &sb), 0);
    cds_identity_destroy(&id);
    cds_identity_destroy(&agg);
}

/* ---- heartbeats against a scripted aggregator (ROUTER, CURVE) --------- */

typedef struct {
    sender_t *s;
    int rc;
} run_arg_t;

static void *
run_thread(void *p)
{
    run_arg_t *a = p;
    a->rc = sender_run(a->s);
    return NULL;
}

/* Next message from the agent within ms: its decoded, verified envelope
 * (caller frees), routing id into id/idlen. NULL on timeout. */
static Cdsync__Envelope *
next_msg(void *router, const cds_identity_t *agg, long ms, uint8_t *id,
         size_t *idlen)
{
    zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return NULL;
    int n = zmq_recv(router, id, 256, 0);
    assert_true(n > 0);
    *idlen = (size_t)n;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, router, 0) >= 0);
    Cdsync__Envelope *env = NULL;
    assert_int_equal(cds_envelope_decode(zmq_msg_data(&m), zmq_msg_size(&m),
                                         &env), CDS_OK);
    zmq_msg_close(&m);
    assert_int_equal(cds_envelope_verify(env, cds_identity_sign_pk(agg)),
                     CDS_OK);
    return env;
}

static void
reply(void *router, const cds_identity_t *agg, const uint8_t *agent_pk,
      const uint8_t *id, size_t idlen, Cdsync__Kind kind,
      const ProtobufCMessage *msg)
{
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(cds_envelope_seal_msg(agg, kind, agent_pk, msg, &env,
                                           &len), CDS_OK);
    assert_int_equal(zmq_send(router, id, idlen, ZMQ_SNDMORE), (int)idlen);
    assert_int_equal(zmq_send(router, env, len, 0), (int)len);
    free(env);
}

static void
answer_hello(void *router, const cds_identity_t *agg, const uint8_t *pk,
             const uint8_t *id, size_t idlen, uint64_t request_id)
{
    Cdsync__HelloAnswer a = CDSYNC__HELLO_ANSWER__INIT;
    a.request_id = request_id;
    a.version = CDS_PROTOCOL_VERSION;
    a.agent.data = (uint8_t *)pk;
    a.agent.len = CDS_PK_BYTES;
    reply(router, agg, pk, id, idlen, CDSYNC__KIND__KIND_HELLO_ANSWER,
          &a.base);
}

/* A fake aggregator on ipc:// (CURVE ROUTER with its own identity) and a
 * sender thread connected to it, past the Hello exchange. */
typedef struct {
    cds_identity_t *me, *agg;          /* agent and aggregator identities */
    const uint8_t *pk;                 /* the agent's signing key */
    void *ctx, *router;
    uint8_t id[256];                   /* the agent's routing id */
    size_t idlen;
    run_arg_t arg;                     /* the running sender */
    pthread_t t;
    char ep[160];                      /* the sender borrows it (cfg.server) */
} fake_t;

/* Start the fake aggregator and a sender with cfg (state_dir, server and
 * server_key are filled in here), and answer its Hello. */
static void
fake_start(fake_t *f, fx_t *fx, sender_config_t cfg)
{
    char keypath[128], aggpath[128], pub[CDS_PUBID_LEN], err[256];
    int e = 0, one = 1, zero = 0;
    memset(f, 0, sizeof *f);
    char *ep = f->ep;                  /* outlives this frame, as it must */
    snprintf(keypath, sizeof keypath, "%s/agent.key", fx->dir);
    snprintf(aggpath, sizeof aggpath, "%s/agg.key", fx->dir);
#ifdef _WIN32
    snprintf(ep, sizeof f->ep, "tcp://127.0.0.1:*"); /* no ipc:// on Windows */
#else
    snprintf(ep, sizeof f->ep, "ipc://%s/agg.sock", fx->dir);
#endif
    assert_int_equal(cds_identity_generate(keypath, "a"), CDS_OK);
    assert_int_equal(cds_identity_generate(aggpath, "g"), CDS_OK);
    f->me = cds_identity_load(keypath, &e, err, sizeof err);
    f->agg = cds_identity_load(aggpath, &e, err, sizeof err);
    assert_non_null(f->me);
    assert_non_null(f->agg);
    f->pk = cds_identity_sign_pk(f->me);
    cds_identity_public(f->agg, pub, sizeof pub);
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one,
                                    sizeof one), 0);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY,
                                    cds_identity_curve_sk(f->agg), 32), 0);
    assert_int_equal(zmq_setsockopt(f->router, ZMQ_LINGER, &zero,
                                    sizeof zero), 0);
    assert_int_equal(zmq_bind(f->router, ep), 0);
    size_t eplen = sizeof f->ep; /* the port bound, where "*" was asked */
    assert_int_equal(zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, ep, &eplen),
                     0);
    cfg.state_dir = fx->dir;
    cfg.server = ep;
    cfg.server_key = pub;
    f->arg.s = sender_new(&cfg, f->me, fx->ob, err, sizeof err);
    assert_non_null(f->arg.s);
    cds_signal_install();
    cds_signal_reset();
    assert_int_equal(pthread_create(&f->t, NULL, run_thread, &f->arg), 0);
    Cdsync__Envelope *env = next_msg(f->router, f->agg, 5000, f->id,
                                     &f->idlen);
    assert_non_null(env);
    assert_int_equal(env->kind, CDSYNC__KIND__KIND_HELLO);
    Cdsync__Hello *h = cds_msg_decode(&cdsync__hello__descriptor,
                                      env->body.data, env->body.len, &e);
    assert_non_null(h);
    assert_true(h->request_id != 0);
    /* An answer with another id first: dropped (session_test checks the
     * session stays in HELLO); the agent acts on the right one. */
    answer_hello(f->router, f->agg, f->pk, f->id, f->idlen,
                 h->request_id + 1);
    answer_hello(f->router, f->agg, f->pk, f->id, f->idlen, h->request_id);
    cds_msg_free(h);
    cds_msg_free(env);
}

/* Stop the sender (it must return CDS_OK) and free everything. */
static void
fake_stop(fake_t *f)
{
    cds_signal_request_stop();
    assert_int_equal(pthread_join(f->t, NULL), 0);
    assert_int_equal(f->arg.rc, CDS_OK);
    sender_destroy(&f->arg.s);
    cds_signal_reset();
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    cds_identity_destroy(&f->me);
    cds_identity_destroy(&f->agg);
}

static uint64_t batch_ids[64];         /* request id of the batch at seq */

/* Next message must be a batch of one row: its seq. */
static uint64_t
next_batch(void *router, const cds_identity_t *agg, uint8_t *id,
           size_t *idlen)
{
    int e = 0;
    Cdsync__Envelope *env = next_msg(router, agg, 5000, id, idlen);
    assert_non_null(env);
    assert_int_equal(env->kind, CDSYNC__KIND__KIND_BATCH);
    Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor,
                                      env->body.data, env->body.len, &e);
    assert_non_null(b);
    assert_int_equal(b->first_seq, b->last_seq);
    uint64_t seq = b->first_seq;
    assert_true(seq < 64);
    batch_ids[seq] = b->request_id;
    cds_msg_free(b);
    cds_msg_free(env);
    return seq;
}

static void
ack_one(void *router, const cds_identity_t *agg, const uint8_t *pk,
        const uint8_t *id, size_t idlen, uint64_t seq)
{
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.version = CDS_PROTOCOL_VERSION;
    a.status = CDSYNC__ACK_STATUS__ACK_OK;
    a.agent.data = (uint8_t *)pk;
    a.agent.len = CDS_PK_BYTES;
    a.acked_seq = a.batch_first = a.batch_last = seq;
    a.request_id = batch_ids[seq];
    reply(router, agg, pk, id, idlen, CDSYNC__KIND__KIND_ACK, &a.base);
}

/* Over the real link, window 1: batch 1 leaves; only once its ack came
 * back through the DEALER, was verified and applied does batch 2 leave
 * (so its arrival is the event that proves the ack was taken). After the
 * stop, the outbox holds ack 1 and says "stopped". */
static void
test_link_roundtrip(void **state)
{
    fx_t *fx = *state;
    fake_t f;
    outbox_meta_t m;
    push_rows(fx->ob, 2, 10);
    fake_start(&f, fx, (sender_config_t) {
        .catalog_version = "v", .batch_max = 1000, .batch_bytes = 1,
        .window = 1, .ack_timeout_ms = 60000, .backoff_min_ms = 10,
        .backoff_max_ms = 50,
    });
    assert_int_equal(next_batch(f.router, f.agg, f.id, &f.idlen), 1);
    ack_one(f.router, f.agg, f.pk, f.id, f.idlen, 1);
    assert_int_equal(next_batch(f.router, f.agg, f.id, &f.idlen), 2);
    fake_stop(&f);
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.acked_seq, 1);
    assert_string_equal(m.conn_state, "stopped");
    assert_int_equal(outbox_first_pending(fx->ob), 2);
}

/* A revocation Notice is believed only when signed by the configured
 * server key for us: one from another key, one claiming the server as
 * signer with another key's signature, and one meant for another agent
 * are all dropped before the session sees them. A believed one is kept
 * and read back whole (agent.revoked). */
static void
seal_notice(const cds_identity_t *signer, const uint8_t *to,
            const uint8_t *agent, uint8_t **out, size_t *len)
{
    Cdsync__Notice n = CDSYNC__NOTICE__INIT;
    n.version = 1;
    n.agent.data = (uint8_t *)agent;
    n.agent.len = CDS_PK_BYTES;
    n.reason = CDSYNC__NOTICE_REASON__NOTICE_REVOKED;
    n.revoked_at_ms = 1764680000000ull;
    n.replaced_by = "0123456789abcdef";
    n.message = "key was revoked";
    assert_int_equal(cds_envelope_seal_msg(signer, CDSYNC__KIND__KIND_NOTICE,
                                           to, &n.base, out, len),
                     CDS_OK);
}

static void
test_notice_verified(void **state)
{
    fx_t *fx = *state;
    char path[3][160], err[256];
    cds_identity_t *ids[3];
    int e = 0;
    for (int i = 0; i < 3; i++) {      /* us, the aggregator, a forger */
        snprintf(path[i], sizeof path[i], "%s/k%d.key", fx->dir, i);
        assert_int_equal(cds_identity_generate(path[i], "k"), CDS_OK);
        ids[i] = cds_identity_load(path[i], &e, err, sizeof err);
        assert_non_null(ids[i]);
    }
    const uint8_t *me = cds_identity_sign_pk(ids[0]);
    const uint8_t *agg = cds_identity_sign_pk(ids[1]);
    const uint8_t *forger = cds_identity_sign_pk(ids[2]);
    uint8_t *raw = NULL;
    size_t len = 0;
    Cdsync__Envelope *env = NULL;
    revocation_t r;

    seal_notice(ids[2], me, me, &raw, &len);           /* another key */
    assert_int_equal(sender_open_frame(raw, len, agg, me, &env),
                     CDS_EUNKNOWNKEY);
    assert_null(env);
    /* The forger names the aggregator as signer: the signature fails. */
    assert_int_equal(cds_envelope_decode(raw, len, &env), CDS_OK);
    memcpy(env->signer.data, agg, CDS_PK_BYTES);
    size_t flen = cdsync__envelope__get_packed_size(env);
    uint8_t *forged = malloc(flen);
    cdsync__envelope__pack(env, forged);
    cds_msg_free(env);
    env = NULL;
    assert_int_equal(sender_open_frame(forged, flen, agg, me, &env),
                     CDS_EBADSIG);
    assert_null(env);
    free(forged);
    free(raw);

    seal_notice(ids[1], forger, me, &raw, &len);       /* for someone else */
    assert_int_equal(sender_open_frame(raw, len, agg, me, &env), CDS_EBADSIG);
    free(raw);

    seal_notice(ids[1], me, forger, &raw, &len);       /* names another agent */
    assert_int_equal(sender_open_frame(raw, len, agg, me, &env), CDS_OK);
    assert_int_equal(revocation_decode(env->body.data, env->body.len, me, &r),
                     CDS_EMALFORMED);
    cds_msg_free(env);
    free(raw);

    seal_notice(ids[1], me, me, &raw, &len);           /* the real one */
    assert_int_equal(sender_open_frame(raw, len, agg, me, &env), CDS_OK);
    assert_int_equal(env->kind, CDSYNC__KIND__KIND_NOTICE);
    assert_int_equal(revocation_decode(env->body.data, env->body.len, me, &r),
                     CDS_OK);
    assert_true(r.revoked_at_ms == 1764680000000ull);
    assert_string_equal(r.replaced_by, "0123456789abcdef");
    cds_msg_free(env);

    assert_int_equal(revocation_load(fx->dir, &r), CDS_ENOTFOUND);
    assert_int_equal(revocation_save(fx->dir, raw, len), CDS_OK);
    memset(&r, 0, sizeof r);
    assert_int_equal(revocation_load(fx->dir, &r), CDS_OK);
    assert_true(r.revoked_at_ms == 1764680000000ull);
    char fpr[CDS_FPR_LEN];
    assert_string_equal(r.agent_fpr, cds_fingerprint(me, fpr));
    assert_int_equal(revocation_clear(fx->dir), CDS_OK);
    assert_int_equal(revocation_load(fx->dir, &r), CDS_ENOTFOUND);
    free(raw);
    for (int i = 0; i < 3; i++)
        cds_identity_destroy(&ids[i]);
}

int
main(void)
{
    assert_true(sodium_init() >= 0);
    cds_log_init("sender_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_run_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notice_verified, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
