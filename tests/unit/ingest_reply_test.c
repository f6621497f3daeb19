/*  ingest_reply_test: each signed answer (ingest_reply.h) opens, verifies
 *  for its recipient and carries what it was given; a refusal follows the
 *  request's kind and reveals no position for an unverified signer; the
 *  rejection list keeps its entries. No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdir.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "ingest_reply.h"

typedef struct {
    char dir[64];
    cds_identity_t *agg, *agent;
    ingest_result_t r;
} fx_t;

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cdsync-reply.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->agg = testdir_identity(fx->dir, "agg");
    fx->agent = testdir_identity(fx->dir, "agent");
    fx->r.has_peer = true;
    memcpy(fx->r.peer, cds_identity_sign_pk(fx->agent), CDS_PK_BYTES);
    fx->r.first_seq = 4;
    fx->r.last_seq = 6;
    fx->r.request_id = 77;
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    free(fx->r.reply);
    cds_identity_destroy(&fx->agg);
    cds_identity_destroy(&fx->agent);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* The reply in fx->r, checked signed by the aggregator for the agent and
 * of kind; its body decoded as desc (free with cds_msg_free). */
static void *
open_reply(fx_t *fx, Cdsync__Kind kind, const ProtobufCMessageDescriptor *desc)
{
    Cdsync__Envelope *env = NULL;
    assert_non_null(fx->r.reply);
    assert_int_equal(cds_envelope_decode(fx->r.reply, fx->r.reply_len, &env),
                     CDS_OK);
    assert_int_equal(env->kind, kind);
    assert_memory_equal(env->signer.data, cds_identity_sign_pk(fx->agg),
                        CDS_PK_BYTES);
    assert_int_equal(cds_envelope_verify(env, fx->r.peer), CDS_OK);
    int err = CDS_OK;
    void *body = cds_msg_decode(desc, env->body.data, env->body.len, &err);
    assert_non_null(body);
    cds_msg_free(env);
    return body;
}

static void
test_ack_with_rejections(void **state)
{
    fx_t *fx = *state;
    uint8_t head[CDS_HASH_BYTES];
    memset(head, 0x42, sizeof head);
    ingest_rejections_t rej;
    assert_int_equal(ingest_rejections_init(&rej, 3), CDS_OK);
    ingest_rejections_add(&rej, 5, CDS_EBADVALUE, "value", "not a number");
    ingest_rejections_add(&rej, 6, CDS_EUNKNOWNORGUNIT, NULL, NULL);
    assert_int_equal(ingest_reply_ack(fx->agg, &fx->r,
                                      CDSYNC__ACK_STATUS__ACK_OK, 6, head,
                                      CDS_OK, "", &rej, 1000), CDS_OK);
    ingest_rejections_fini(&rej);
    assert_null(rej.pb);
    Cdsync__Ack *ack = open_reply(fx, CDSYNC__KIND__KIND_ACK,
                                  &cdsync__ack__descriptor);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 6);
    assert_int_equal(ack->acked_head.len, CDS_HASH_BYTES);
    assert_memory_equal(ack->acked_head.data, head, CDS_HASH_BYTES);
    assert_int_equal(ack->batch_first, 4);
    assert_int_equal(ack->batch_last, 6);
    assert_int_equal(ack->request_id, 77);
    assert_int_equal(ack->committed_at_ms, 1000);
    assert_int_equal(ack->n_rejections, 2);
    assert_int_equal(ack->rejections[0]->seq, 5);
    assert_int_equal(ack->rejections[0]->code, CDS_EBADVALUE);
    assert_string_equal(ack->rejections[0]->field, "value");
    assert_string_equal(ack->rejections[0]->message, "not a number");
    assert_string_equal(ack->rejections[1]->field, "");
    assert_string_equal(ack->rejections[1]->message, "");
    cds_msg_free(ack);
}

/* acked 0: no head, whatever is passed. */
static void
test_ack_at_zero(void **state)
{
    fx_t *fx = *state;
    uint8_t head[CDS_HASH_BYTES] = { 1 };
    assert_int_equal(ingest_reply_ack(fx->agg, &fx->r,
                                      CDSYNC__ACK_STATUS__ACK_GAP, 0, head,
                                      CDS_OK, "gap", NULL, 5), CDS_OK);
    Cdsync__Ack *ack = open_reply(fx, CDSYNC__KIND__KIND_ACK,
                                  &cdsync__ack__descriptor);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_GAP);
    assert_int_equal(ack->acked_head.len, 0);
    assert_string_equal(ack->message, "gap");
    assert_int_equal(ack->n_rejections, 0);
    cds_msg_free(ack);
}

/* A refusal by kind: Ack for a batch, HelloAnswer for a hello, nothing
 * for a heartbeat or a frame without a signer. */
static void
test_refusal_by_kind(void **state)
{
    fx_t *fx = *state;
    store_agent_t agent = { .applied_seq = 9 };
    memset(agent.applied_head, 0x09, CDS_HASH_BYTES);
    fx->r.kind = CDSYNC__KIND__KIND_BATCH;
    assert_int_equal(ingest_reply_refusal(fx->agg, &fx->r, &agent,
                                          CDSYNC__ACK_STATUS__ACK_REFUSED,
                                          CDS_ECHAIN, "broken", 1), CDS_OK);
    Cdsync__Ack *ack = open_reply(fx, CDSYNC__KIND__KIND_ACK,
                                  &cdsync__ack__descriptor);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
    assert_int_equal(ack->error, CDS_ECHAIN);
    assert_int_equal(ack->acked_seq, 9);
    assert_string_equal(ack->message, "broken");
    cds_msg_free(ack);

    fx->r.kind = CDSYNC__KIND__KIND_HELLO;   /* unverified: no position */
    assert_int_equal(ingest_reply_refusal(fx->agg, &fx->r, NULL,
                                          CDSYNC__ACK_STATUS__ACK_REFUSED,
                                          CDS_EVERSION, "old", 1), CDS_OK);
    Cdsync__HelloAnswer *h = open_reply(fx, CDSYNC__KIND__KIND_HELLO_ANSWER,
                                        &cdsync__hello_answer__descriptor);
    assert_int_equal(h->error, CDS_EVERSION);
    assert_int_equal(h->applied_seq, 0);
    assert_int_equal(h->applied_head.len, 0);
    assert_int_equal(h->request_id, 77);
    cds_msg_free(h);

    free(fx->r.reply);
    fx->r.reply = NULL;
    fx->r.kind = CDSYNC__KIND__KIND_HEARTBEAT;
    assert_int_equal(ingest_reply_refusal(fx->agg, &fx->r, &agent,
                                          CDSYNC__ACK_STATUS__ACK_REFUSED,
                                          CDS_EMALFORMED, "x", 1), CDS_OK);
    assert_null(fx->r.reply);
    fx->r.kind = CDSYNC__KIND__KIND_BATCH;
    fx->r.has_peer = false;
    assert_int_equal(ingest_reply_refusal(fx->agg, &fx->r, &agent,
                                          CDSYNC__ACK_STATUS__ACK_REFUSED,
                                          CDS_EMALFORMED, "x", 1), CDS_OK);
    assert_null(fx->r.reply);
}

static void
test_hello_and_heartbeat(void **state)
{
    fx_t *fx = *state;
    uint8_t head[CDS_HASH_BYTES];
    memset(head, 0x33, sizeof head);
    assert_int_equal(ingest_reply_hello(fx->agg, &fx->r, 12, head, 10, 11,
                                        13, CDS_OK, "", 7, 2), CDS_OK);
    Cdsync__HelloAnswer *h = open_reply(fx, CDSYNC__KIND__KIND_HELLO_ANSWER,
                                        &cdsync__hello_answer__descriptor);
    assert_int_equal(h->applied_seq, 12);
    assert_memory_equal(h->applied_head.data, head, CDS_HASH_BYTES);
    assert_int_equal(h->probe_matched, 10);
    assert_int_equal(h->probe_mismatch, 11);
    assert_int_equal(h->resend_from, 13);
    assert_int_equal(h->metadata_latest, 7);
    assert_int_equal(h->clock_ms, 2);
    cds_msg_free(h);
    assert_int_equal(ingest_reply_heartbeat(fx->agg, &fx->r, 12, 5, 8, 3),
                     CDS_OK);
    Cdsync__HeartbeatAnswer *hb = open_reply(
        fx, CDSYNC__KIND__KIND_HEARTBEAT_ANSWER,
        &cdsync__heartbeat_answer__descriptor);
    assert_int_equal(hb->applied_seq, 12);
    assert_int_equal(hb->request_id, 5);
    assert_int_equal(hb->clock_ms, 3);
    assert_int_equal(hb->metadata_latest, 8);
    cds_msg_free(hb);
}

static void
test_revoked_notice(void **state)
{
    fx_t *fx = *state;
    store_agent_t agent = { .revoked_at_ms = 1234 };
    snprintf(agent.fpr, sizeof agent.fpr, "%s", "aaaa0000bbbb1111");
    assert_int_equal(ingest_reply_revoked(fx->agg, &fx->r, &agent,
                                          "cccc2222dddd3333", 4), CDS_OK);
    Cdsync__Notice *n = open_reply(fx, CDSYNC__KIND__KIND_NOTICE,
                                   &cdsync__notice__descriptor);
    assert_int_equal(n->reason, CDSYNC__NOTICE_REASON__NOTICE_REVOKED);
    assert_int_equal(n->revoked_at_ms, 1234);
    assert_string_equal(n->replaced_by, "cccc2222dddd3333");
    assert_non_null(strstr(n->message, "replaced by cccc2222dddd3333"));
    assert_memory_equal(n->agent.data, fx->r.peer, CDS_PK_BYTES);
    cds_msg_free(n);
    assert_int_equal(ingest_reply_revoked(fx->agg, &fx->r, &agent, "", 4),
                     CDS_OK);
    n = open_reply(fx, CDSYNC__KIND__KIND_NOTICE,
                   &cdsync__notice__descriptor);
    assert_string_equal(n->replaced_by, "");
    assert_null(strstr(n->message, "replaced"));
    cds_msg_free(n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ack_with_rejections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ack_at_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_by_kind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hello_and_heartbeat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_revoked_notice, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
