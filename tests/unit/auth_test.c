/*  auth_test: the ZAP decision (enrolled, unknown, revoked, malformed),
 *  and real CURVE handshakes against a ROUTER guarded by auth_new: an
 *  enrolled client's messages carry its fingerprint as User-Id; an unknown
 *  key, a revoked key and a client without CURVE deliver nothing and are
 *  counted in the knock table, one row per key and address however many
 *  attempts, never in the reject table; log reports are rate-limited;
 *  knock_list names the commune of a revoked key; a second
 *  handler in one context is refused; server_new_secure answers an
 *  enrolled agent's Hello and never sees a stranger's. On SQLite, and
 *  again on PostgreSQL when CDS_TEST_PG_URL is set (testpg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "testdir.h"
#include "testpg.h"
#include "auth.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_util.h"
#include "ingest.h"
#include "knock.h"
#include "server.h"
#include "store.h"

#define DEADLINE_MS 5000

typedef struct {
    char dir[64], db[512], endpoint[128];   /* db: file or URL */
    store_t *store;                    /* writer (test thread) */
    cds_identity_t *srv, *agent, *stranger;
    int64_t agent_id;
    char fpr[CDS_FPR_LEN];
    void *ctx, *router;
    auth_t *auth;
} fx_t;



static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    int e = 0;
    strcpy(fx->dir, "/tmp/auth_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    if (testpg_is_pg(state))
        testpg_fresh(fx->db, sizeof fx->db);
    else
        snprintf(fx->db, sizeof fx->db, "%s/agg.db", fx->dir);
    snprintf(fx->endpoint, sizeof fx->endpoint, "ipc://%s/agg.sock",
             fx->dir);
    fx->store = store_open(fx->db, 0, &e);
    assert_non_null(fx->store);
    fx->srv = testdir_identity(fx->dir, "srv");
    fx->agent = testdir_identity(fx->dir, "agent");
    fx->stranger = testdir_identity(fx->dir, "stranger");
    const char *units[] = { "C1" };
    assert_int_equal(store_agent_enroll(fx->store,
                                        cds_identity_sign_pk(fx->agent),
                                        cds_identity_curve_pk(fx->agent), "a",
                                        units, 1, 1, &fx->agent_id), CDS_OK);
    cds_fingerprint(cds_identity_sign_pk(fx->agent), fx->fpr);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    auth_destroy(&fx->auth);
    assert_null(fx->auth);
    if (fx->router)
        zmq_close(fx->router);
    if (fx->ctx)
        zmq_ctx_term(fx->ctx);
    store_destroy(&fx->store);
    cds_identity_destroy(&fx->srv);
    cds_identity_destroy(&fx->agent);
    cds_identity_destroy(&fx->stranger);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
test_decide(void **state)
{
    fx_t *fx = *state;
    char uid[CDS_FPR_LEN];
    store_agent_t a;
    bool has = false;
    const uint8_t *ck = cds_identity_curve_pk(fx->agent);
    assert_int_equal(auth_decide(fx->store, AUTH_DOMAIN, "CURVE", ck, 32, uid,
                                 &a, &has), CDS_OK);
    assert_string_equal(uid, fx->fpr);
    assert_true(has);
    assert_int_equal(auth_decide(fx->store, AUTH_DOMAIN, "CURVE",
                                 cds_identity_curve_pk(fx->stranger), 32, uid,
                                 &a, &has), CDS_EUNKNOWNKEY);
    assert_false(has);
    assert_string_equal(uid, "");
    /* The signing key is not a CURVE key. */
    assert_int_equal(auth_decide(fx->store, AUTH_DOMAIN, "CURVE",
                                 cds_identity_sign_pk(fx->agent), 32, uid, &a,
                                 &has), CDS_EUNKNOWNKEY);
    assert_int_equal(auth_decide(fx->store, "other", "CURVE", ck, 32, uid, &a,
                                 &has), CDS_EMALFORMED);
    assert_int_equal(auth_decide(fx->store, AUTH_DOMAIN, "PLAIN", ck, 32, uid,
                                 &a, &has), CDS_EMALFORMED);
    assert_int_equal(auth_decide(fx->store, AUTH_DOMAIN, "CURVE", ck, 31, uid,
                                 &a, &has), CDS_EMALFORMED);
    assert_int_equal(store_agent_revoke(fx->store, fx->agent_id, 5), CDS_OK);
    assert_int_equal(auth_decide(fx->store, AUTH_DOMAIN, "CURVE", ck, 32, uid,
                                 &a, &has), CDS_EREVOKED);
    assert_true(has);
    assert_string_equal(a.fpr, fx->fpr);
    assert_string_equal(uid, "");
}

/* A CURVE ROUTER guarded by auth, like server_new_secure. */
static void
start_server(fx_t *fx)
{
    int one = 1, zero = 0;
    fx->ctx = zmq_ctx_new();
    fx->auth = auth_new(fx->ctx, fx->db);
    assert_non_null(fx->auth);
    assert_null(auth_new(fx->ctx, fx->db));    /* one handler per context */
    fx->router = zmq_socket(fx->ctx, ZMQ_ROUTER);
    assert_int_equal(auth_watch(fx->auth, fx->router), CDS_OK);
    zmq_setsockopt(fx->router, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_setsockopt(fx->router, ZMQ_CURVE_SERVER, &one,
                                    sizeof one), 0);
    assert_int_equal(zmq_setsockopt(fx->router, ZMQ_CURVE_SECRETKEY,
                                    cds_identity_curve_sk(fx->srv), 32), 0);
    assert_int_equal(zmq_setsockopt(fx->router, ZMQ_ZAP_DOMAIN, AUTH_DOMAIN,
                                    strlen(AUTH_DOMAIN)), 0);
    assert_int_equal(zmq_setsockopt(fx->router, 93 /* ZAP_ENFORCE_DOMAIN */,
                                    &one, sizeof one), 0);
    assert_int_equal(zmq_bind(fx->router, fx->endpoint), 0);
}

/* A DEALER with the CURVE keys of id (NULL: no CURVE) that sends "hi". */
static void *
client(fx_t *fx, const cds_identity_t *id, int reconnect_ivl)
{
    void *d = zmq_socket(fx->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RECONNECT_IVL, &reconnect_ivl, sizeof reconnect_ivl);
    if (id) {
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, cds_identity_curve_pk(fx->srv),
                       32);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cds_identity_curve_pk(id), 32);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, cds_identity_curve_sk(id), 32);
    }
    assert_int_equal(zmq_connect(d, fx->endpoint), 0);
    zmq_send(d, "hi", 2, ZMQ_DONTWAIT);
    return d;
}

static int
count(fx_t *fx, const char *sql)
{
    return (int) testsql_int(store_sql(fx->store), sql);
}

/* Poll the report sockets and drain until sql counts at least want rows,
 * or the deadline passes; returns the final count. */
static int
drain_until(fx_t *fx, const char *sql, int want)
{
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    int n = count(fx, sql);
    while (n < want && cds_mono_ms() < end) {
        zmq_pollitem_t it[] = {
            {auth_denials_socket(fx->auth), 0, ZMQ_POLLIN, 0},
            {auth_events_socket(fx->auth), 0, ZMQ_POLLIN, 0}};
        zmq_poll(it, 2, 100);
        auth_drain(fx->auth, fx->store, cds_now_ms());
        n = count(fx, sql);
    }
    return n;
}

static void
test_enrolled_client_has_user_id(void **state)
{
    fx_t *fx = *state;
    start_server(fx);
    void *d = client(fx, fx->agent, 100);
    zmq_pollitem_t it = {fx->router, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, DEADLINE_MS), 1);
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&id, fx->router, 0) >= 0);
    assert_int_equal(zmq_msg_recv(&body, fx->router, 0), 2);
    const char *uid = zmq_msg_gets(&body, "User-Id");
    assert_non_null(uid);
    assert_string_equal(uid, fx->fpr);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    assert_int_equal(auth_admitted(fx->auth), 1);
    assert_int_equal(auth_denied(fx->auth), 0);
    zmq_close(d);
}

static void
test_refused_clients_recorded(void **state)
{
    fx_t *fx = *state;
    start_server(fx);
    /* Unknown key. */
    void *d = client(fx, fx->stranger, 100);
    assert_true(drain_until(fx, "SELECT count(*) FROM knock WHERE code = 8"
                            " AND length(curve_pk) = 32 AND count >= 1",
                            1) >= 1);
    zmq_close(d);
    /* No CURVE at all: the monitor reports the failure, no key known. */
    d = client(fx, NULL, 100);
    assert_true(drain_until(fx, "SELECT count(*) FROM knock WHERE"
                            " length(curve_pk) = 0 AND code = 5", 1) >= 1);
    zmq_close(d);
    /* Revoked: the next handshake is refused, with the agent's key. */
    assert_int_equal(store_agent_revoke(fx->store, fx->agent_id, 5), CDS_OK);
    d = client(fx, fx->agent, 100);
    assert_true(drain_until(fx, "SELECT count(*) FROM knock WHERE code = 9",
                            1) >= 1);
    zmq_close(d);
    /* Nothing reached the application, and no reject row per attempt. */
    zmq_pollitem_t it = {fx->router, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 0), 0);
    assert_int_equal(auth_admitted(fx->auth), 0);
    assert_true(auth_denied(fx->auth) >= 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 0);
    assert_true(auth_refused(AUTH_REASON_UNKNOWN_KEY) >= 1);
    assert_true(auth_refused(AUTH_REASON_REVOKED) >= 1);
    assert_true(auth_refused(AUTH_REASON_HANDSHAKE) >= 1);
}

static void
test_refusals_grouped(void **state)
{
    fx_t *fx = *state;
    start_server(fx);
    /* 25 stranger connections: 25 denials, one group, one row. */
    enum { N = AUTH_REPORT_BURST + 5 };
    void *d[N];
    for (int i = 0; i < N; i++)
        d[i] = client(fx, fx->stranger, 100);
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    while (auth_denied(fx->auth) < N && cds_mono_ms() < end) {
        zmq_pollitem_t it = {auth_denials_socket(fx->auth), 0, ZMQ_POLLIN,
                             0};
        zmq_poll(&it, 1, 50);
    }
    for (int i = 0; i < N; i++)
        zmq_close(d[i]);
    assert_true(auth_denied(fx->auth) >= N);
    uint64_t now = cds_now_ms();
    assert_true(auth_drain(fx->auth, fx->store, now) >= N);
    /* The first drain writes the new group at once; later attempts wait
     * for AUTH_KNOCK_WRITE_MS or a flush. */
    assert_int_equal(count(fx, "SELECT count(*) FROM knock"), 1);
    assert_int_equal(auth_flush(fx->auth, fx->store, now + 1), CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM knock"), 1);
    assert_true(count(fx, "SELECT count FROM knock") >= N);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 0);
}

/* A peer inventing a key per attempt: the rows stay bounded (the keys
 * past AUTH_REPORT_BURST in the window are counted by address alone). */
static void
test_new_keys_bounded(void **state)
{
    fx_t *fx = *state;
    start_server(fx);
    enum { N = AUTH_REPORT_BURST + 10 };
    void *d[N];
    for (int i = 0; i < N; i++) {
        char pub[41], sec[41];
        uint8_t pk[32], sk[32];
        int zero = 0;
        assert_int_equal(zmq_curve_keypair(pub, sec), 0);
        zmq_z85_decode(pk, pub);
        zmq_z85_decode(sk, sec);
        d[i] = zmq_socket(fx->ctx, ZMQ_DEALER);
        zmq_setsockopt(d[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(d[i], ZMQ_CURVE_SERVERKEY,
                       cds_identity_curve_pk(fx->srv), 32);
        zmq_setsockopt(d[i], ZMQ_CURVE_PUBLICKEY, pk, 32);
        zmq_setsockopt(d[i], ZMQ_CURVE_SECRETKEY, sk, 32);
        assert_int_equal(zmq_connect(d[i], fx->endpoint), 0);
    }
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    while (auth_denied(fx->auth) < N && cds_mono_ms() < end) {
        zmq_pollitem_t it = {auth_denials_socket(fx->auth), 0, ZMQ_POLLIN,
                             0};
        zmq_poll(&it, 1, 50);
    }
    for (int i = 0; i < N; i++)
        zmq_close(d[i]);
    uint64_t now = cds_now_ms();
    auth_drain(fx->auth, fx->store, now);
    assert_int_equal(auth_flush(fx->auth, fx->store, now + 1), CDS_OK);
    assert_true(count(fx, "SELECT sum(count) FROM knock") >= N);
    assert_int_equal(count(fx, "SELECT count(*) FROM knock WHERE"
                               " length(curve_pk) = 32"), AUTH_REPORT_BURST);
    assert_int_equal(count(fx, "SELECT count(*) FROM knock WHERE"
                               " length(curve_pk) = 0"), 1);
}

/* The listing: a revoked key with its commune, an unknown key, and a
 * failure by address only; old rows are pruned with the rejects. */
static void
test_knock_list(void **state)
{
    fx_t *fx = *state;
    const uint8_t *ak = cds_identity_curve_pk(fx->agent);
    const uint8_t *sk = cds_identity_curve_pk(fx->stranger);
    assert_int_equal(store_agent_revoke(fx->store, fx->agent_id, 5), CDS_OK);
    assert_int_equal(store_knock_add(fx->store, ak, "10.0.0.7", CDS_EREVOKED,
                                     1000, 2000, 3), CDS_OK);
    assert_int_equal(store_knock_add(fx->store, ak, "10.0.0.7", CDS_EREVOKED,
                                     3000, 4000, 4), CDS_OK);
    assert_int_equal(store_knock_add(fx->store, sk, "10.0.0.8",
                                     CDS_EUNKNOWNKEY, 1500, 3000, 1), CDS_OK);
    assert_int_equal(store_knock_add(fx->store, NULL, "10.0.0.9",
                                     CDS_EMALFORMED, 10, 20, 2), CDS_OK);
    knock_row_t *l = NULL;
    size_t n = 0;
    assert_int_equal(knock_list(fx->store, 100, &l, &n), CDS_OK);
    assert_int_equal(n, 2);            /* 10.0.0.9 is older than 100 */
    assert_string_equal(l[0].address, "10.0.0.7");
    assert_int_equal(l[0].count, 7);
    assert_int_equal(l[0].first_ms, 1000);
    assert_int_equal(l[0].last_ms, 4000);
    assert_true(l[0].has_agent);
    assert_string_equal(l[0].fpr, fx->fpr);
    assert_string_equal(l[0].label, "a");
    assert_string_equal(l[0].org_units, "C1");
    assert_false(l[1].has_agent);
    assert_int_equal(l[1].code, CDS_EUNKNOWNKEY);
    free(l);
    assert_int_equal(knock_list(fx->store, 0, &l, &n), CDS_OK);
    assert_int_equal(n, 3);
    assert_false(l[2].has_key);
    json_t *arr = json_array();
    assert_int_equal(knock_to_json(arr, l, n, 5000), CDS_OK);
    assert_int_equal(json_array_size(arr), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(arr, 0), "reason")),
                        "revoked key");
    assert_null(json_object_get(json_array_get(arr, 0), "label"));
    json_decref(arr);
    free(l);
    int64_t del = 0;
    assert_int_equal(store_knock_prune(fx->store, 2500, &del), CDS_OK);
    assert_int_equal(del, 1);          /* only 10.0.0.9 is that old */
}

/* server_new_secure end to end: an enrolled agent's signed Hello over
 * CURVE is answered; a stranger's never reaches ingest. */
static void
test_secure_server(void **state)
{
    fx_t *fx = *state;
    ingest_t *ing = ingest_new(fx->store, fx->srv, NULL); /* hello only */
    server_t *srv = server_new_secure(fx->store, ing, fx->srv, fx->endpoint,
                                      4);
    assert_non_null(srv);
    fx->ctx = zmq_ctx_new();
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    h.agent.len = CDS_PK_BYTES;
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_HELLO,
                                           cds_identity_sign_pk(fx->srv),
                                           &h.base, &env, &len), CDS_OK);
    /* The stranger first: its handshake is denied, nothing is processed. */
    void *bad = client(fx, fx->stranger, 100);
    zmq_send(bad, env, len, ZMQ_DONTWAIT);
    assert_int_equal(server_step(srv, 300), 0);
    void *d = client(fx, fx->agent, 100);
    assert_int_equal(zmq_send(d, env, len, 0), (int) len);
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    int got = 0;
    while (got == 0 && cds_mono_ms() < end) {
        server_step(srv, 100);
        zmq_pollitem_t it = {d, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 0) == 1) {
            char buf[4096];
            got = zmq_recv(d, buf, sizeof buf, 0);
            Cdsync__Envelope *e = NULL;
            assert_int_equal(cds_envelope_decode((uint8_t *) buf,
                                                 (size_t) got, &e), CDS_OK);
            assert_int_equal(e->kind, CDSYNC__KIND__KIND_HELLO_ANSWER);
            cds_msg_free(e);
        }
    }
    assert_true(got > 0);
    free(env);
    zmq_close(d);
    zmq_close(bad);
    server_destroy(&srv);
    ingest_destroy(&ing);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decide, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrolled_client_has_user_id,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_clients_recorded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_knock_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_keys_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals_grouped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secure_server, setup, teardown),
    };
    return testpg_run(tests, sizeof tests / sizeof tests[0]);
}
