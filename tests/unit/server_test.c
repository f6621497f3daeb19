/*  server_test: the ROUTER loop over ipc:// with a real DEALER peer: acks
 *  after commit, group commit of several waiting batches, malformed
 *  framing recorded and unanswered, a full database answered ACK_RETRY
 *  with nothing stored, heartbeats written in one transaction when due
 *  and at the stop (no write transaction each), and a requested stop. */
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
#include "cds_signal.h"
#include "cds_catalog.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_util.h"
#include "health.h"
#include "ingest.h"
#include "server.h"
#include "store.h"

#define DEADLINE_MS 5000

typedef struct {
    char dir[64];
    char endpoint[128];
    store_t *store;
    cds_catalog_t *catalog;
    cds_identity_t *agg, *agent;
    ingest_t *ingest;
    server_t *server;
    void *ctx, *dealer;
    uint8_t head[CDS_HASH_BYTES];
} fx_t;


static void
write_file(const char *dir, const char *name, const char *text, char *path)
{
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}


static void
start(fx_t *fx, int group_max)
{
    fx->server = server_new(fx->store, fx->ingest, fx->endpoint, group_max);
    assert_non_null(fx->server);
    assert_string_equal(server_endpoint(fx->server), fx->endpoint);
    fx->ctx = zmq_ctx_new();
    fx->dealer = zmq_socket(fx->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(fx->dealer, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(fx->dealer, fx->endpoint), 0);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char path[128], err[256];
    int e = 0;
    strcpy(fx->dir, "/tmp/server_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->endpoint, sizeof fx->endpoint, "ipc://%s/agg.sock", fx->dir);
    write_file(fx->dir, "cat.csv", "code,name_vi,value_type\n"
               "CDS01,Tỷ lệ,PERCENTAGE\n", path);
    fx->catalog = cds_catalog_load(path, err, sizeof err);
    assert_non_null(fx->catalog);
    write_file(fx->dir, "ou.csv", "code,name,parent\nD1,Huyện,\nC1,Xã,D1\n",
               path);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    snprintf(path, sizeof path, "%s/agg.db", fx->dir);
    fx->store = store_open(path, 0, &e);
    assert_non_null(fx->store);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    fx->agg = testdir_identity(fx->dir, "agg");
    fx->agent = testdir_identity(fx->dir, "agent");
    const char *units[] = { "D1" };
    int64_t id;
    assert_int_equal(store_agent_enroll(fx->store,
                                        cds_identity_sign_pk(fx->agent),
                                        cds_identity_curve_pk(fx->agent), "a",
                                        units, 1, 1, &id), CDS_OK);
    fx->ingest = ingest_new(fx->store, fx->agg, fx->catalog);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->dealer)
        zmq_close(fx->dealer);
    if (fx->ctx)
        zmq_ctx_term(fx->ctx);
    server_destroy(&fx->server);
    assert_null(fx->server);
    ingest_destroy(&fx->ingest);
    store_destroy(&fx->store);
    cds_catalog_destroy(&fx->catalog);
    cds_identity_destroy(&fx->agg);
    cds_identity_destroy(&fx->agent);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Send one batch with one update at seq, chained from fx->head. */
static void
send_batch_c(fx_t *fx, uint64_t seq, const char *value, const char *comment)
{
    cds_update_t u = { .seq = seq, .org_unit = "C1", .indicator = "CDS01",
                       .period = "2023", .disagg = "default", .value = value,
                       .comment = comment, .stored_by = "x",
                       .hlc = (1700000000000ull + seq) << 16 };
    uint8_t h[CDS_HASH_BYTES], prev[CDS_HASH_BYTES];
    memcpy(prev, fx->head, sizeof prev);
    cds_update_hash(&u, h);
    cds_chain_next(fx->head, h, fx->head);
    Cdsync__Update pb = CDSYNC__UPDATE__INIT, *pp = &pb;
    cds_update_to_pb(&u, &pb);
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = 1;
    b.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = b.last_seq = seq;
    b.prev_head.data = prev;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = fx->head;
    b.head.len = CDS_HASH_BYTES;
    b.n_updates = 1;
    b.updates = &pp;
    uint8_t *data;
    size_t len;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_BATCH,
                                           cds_identity_sign_pk(fx->agg),
                                           &b.base, &data, &len), CDS_OK);
    assert_int_equal(zmq_send(fx->dealer, data, len, 0), (int) len);
    free(data);
}

static void
send_batch(fx_t *fx, uint64_t seq, const char *value)
{
    send_batch_c(fx, seq, value, "");
}

/* Run server steps until sql_done returns non-zero or the deadline
 * passes (test failure); returns the number of groups run. */
static int
serve_until(fx_t *fx, const char *sql_done)
{
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    int groups = 0;
    while (cds_mono_ms() < end) {
        int rc = server_step(fx->server, 100);
        assert_true(rc >= 0);
        groups += rc;
        sqlite3_stmt *st;
        sqlite3_prepare_v2(cds_db_handle(store_db(fx->store)), sql_done, -1,
                           &st, NULL);
        bool done = sqlite3_step(st) == SQLITE_ROW
                    && sqlite3_column_int(st, 0) != 0;
        sqlite3_finalize(st);
        if (done)
            return groups;
    }
    fail_msg("deadline: %s", sql_done);
    return groups;
}

/* Receive one ack with a deadline; NULL when none came. */
static Cdsync__Ack *
recv_ack(fx_t *fx, long timeout_ms)
{
    zmq_pollitem_t it = { fx->dealer, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, fx->dealer, 0) >= 0);
    Cdsync__Envelope *env = NULL;
    assert_int_equal(cds_envelope_decode(zmq_msg_data(&m), zmq_msg_size(&m),
                                         &env), CDS_OK);
    zmq_msg_close(&m);
    assert_int_equal(cds_envelope_verify(env,
                                         cds_identity_sign_pk(fx->agent)),
                     CDS_OK);
    int err;
    Cdsync__Ack *ack = cds_msg_decode(&cdsync__ack__descriptor,
                                      env->body.data, env->body.len, &err);
    cds_msg_free(env);
    assert_non_null(ack);
    return ack;
}

static void
test_ack_after_commit_and_group(void **state)
{
    fx_t *fx = *state;
    start(fx, 64);
    send_batch(fx, 1, "10");
    serve_until(fx, "SELECT applied_seq = 1 FROM agent");
    Cdsync__Ack *ack = recv_ack(fx, DEADLINE_MS);
    assert_non_null(ack);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 1);
    cds_msg_free(ack);
    /* Three waiting batches: applied, each answered once. */
    send_batch(fx, 2, "20");
    send_batch(fx, 3, "30");
    send_batch(fx, 4, "40");
    serve_until(fx, "SELECT applied_seq = 4 FROM agent");
    for (uint64_t s = 2; s <= 4; s++) {
        ack = recv_ack(fx, DEADLINE_MS);
        assert_non_null(ack);
        assert_int_equal(ack->acked_seq, s);
        cds_msg_free(ack);
    }
    assert_null(recv_ack(fx, 50));
}

static void
test_bad_framing_recorded(void **state)
{
    fx_t *fx = *state;
    start(fx, 8);
    assert_int_equal(zmq_send(fx->dealer, "ab", 2, ZMQ_SNDMORE), 2);
    assert_int_equal(zmq_send(fx->dealer, "cd", 2, 0), 2);
    /* Recorded by size and digest, never by its bytes (server.h). */
    serve_until(fx, "SELECT count(*) FROM reject WHERE code = 5 AND message"
                    " LIKE '2 frames after the routing id, 4 bytes, %"
                    "blake2b-256 of the frames %' AND raw IS NULL");
    assert_null(recv_ack(fx, 50));
    /* The daemon carries on. */
    send_batch(fx, 1, "10");
    serve_until(fx, "SELECT applied_seq = 1 FROM agent");
    Cdsync__Ack *ack = recv_ack(fx, DEADLINE_MS);
    assert_non_null(ack);
    cds_msg_free(ack);
}

static void
test_full_database_retry(void **state)
{
    fx_t *fx = *state;
    start(fx, 8);
    send_batch(fx, 1, "10");
    serve_until(fx, "SELECT applied_seq = 1 FROM agent");
    cds_msg_free(recv_ack(fx, DEADLINE_MS));
    /* No page may be added: the next batch cannot be stored. VACUUM first
     * empties the freelist (migration 6 frees an index's pages), so no
     * free page can take the batch either. */
    assert_int_equal(cds_db_exec(store_db(fx->store), "VACUUM"), CDS_OK);
    assert_int_equal(cds_db_exec(store_db(fx->store),
                                 "PRAGMA max_page_count = 1"), CDS_OK);
    /* A comment of 1000 bytes lands in three tables: new pages needed. */
    char big[1001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    send_batch_c(fx, 2, "20", big);
    Cdsync__Ack *ack = NULL;
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    while (!ack && cds_mono_ms() < end) {
        assert_true(server_step(fx->server, 100) >= 0);
        ack = recv_ack(fx, 10);
    }
    assert_non_null(ack);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_RETRY);
    assert_int_equal(ack->error, CDS_EFULL);
    assert_int_equal(ack->batch_first, 2);
    cds_msg_free(ack);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(cds_db_handle(store_db(fx->store)),
                       "SELECT applied_seq FROM agent", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
}

/* Send one signed heartbeat of fx->agent. */
static void
send_heartbeat(fx_t *fx, uint64_t depth)
{
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.version = 1;
    hb.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    hb.agent.len = CDS_PK_BYTES;
    hb.queue_depth = depth;
    uint8_t *data;
    size_t len;
    assert_int_equal(cds_envelope_seal_msg(fx->agent,
                                           CDSYNC__KIND__KIND_HEARTBEAT,
                                           cds_identity_sign_pk(fx->agg),
                                           &hb.base, &data, &len), CDS_OK);
    assert_int_equal(zmq_send(fx->dealer, data, len, 0), (int) len);
    free(data);
}

/* Serve until n replies came back (or the deadline: failure). */
static void
serve_replies(fx_t *fx, int n)
{
    uint64_t end = cds_mono_ms() + DEADLINE_MS;
    int got = 0;
    while (got < n && cds_mono_ms() < end) {
        assert_true(server_step(fx->server, 10) >= 0);
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, fx->dealer, ZMQ_DONTWAIT) >= 0)
            got++;
        zmq_msg_close(&m);
    }
    assert_int_equal(got, n);
}

/* Heartbeats cost no write transaction each (health.h "Heartbeats"):
 * N answered heartbeats commit nothing until the flush is due, then one
 * transaction writes them all; server_run's stop writes what is held. */
static void
test_heartbeats_batched(void **state)
{
    fx_t *fx = *state;
    enum { N = 200 };
    health_t *h = health_new(fx->store);
    assert_non_null(h);
    health_set_flush_ms(h, 3600000);
    ingest_set_health(fx->ingest, h);
    start(fx, 64);
    uint64_t commits = cds_db_write_commits();
    for (int i = 0; i < N; i++)
        send_heartbeat(fx, (uint64_t) i);
    serve_replies(fx, N);
    assert_int_equal(cds_db_write_commits() - commits, 0);
    assert_int_equal(health_held(h), 1);
    health_set_flush_ms(h, 0);         /* due now: the next step writes */
    assert_int_equal(server_step(fx->server, 0), 0);
    assert_int_equal(cds_db_write_commits() - commits, 1);
    assert_int_equal(health_held(h), 0);
    serve_until(fx, "SELECT heartbeats_total = 200 AND queue_depth = 199"
                    " FROM agent_health");
    serve_until(fx, "SELECT last_seen_ms > 0 FROM agent");
    /* held at the stop: written by server_run on its way out */
    health_set_flush_ms(h, 3600000);
    send_heartbeat(fx, 7);
    serve_replies(fx, 1);
    cds_signal_request_stop();
    assert_int_equal(server_run(fx->server), CDS_OK);
    serve_until(fx, "SELECT heartbeats_total = 201 FROM agent_health");
    ingest_set_health(fx->ingest, NULL);
    health_destroy(&h);
}

static void
test_stop(void **state)
{
    fx_t *fx = *state;
    start(fx, 1);
    cds_signal_request_stop();
    assert_int_equal(server_run(fx->server), CDS_OK);
    assert_null(server_new(fx->store, fx->ingest, fx->endpoint, 0));
}

int
main(void)
{
    cds_log_init("server_test", CDS_LOG_ERROR);
    cds_signal_install();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ack_after_commit_and_group), T(test_bad_framing_recorded),
        T(test_full_database_retry), T(test_heartbeats_batched),
        T(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
