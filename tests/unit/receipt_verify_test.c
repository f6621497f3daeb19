/*  receipt_verify_test: a real signed Ack verifies and yields its facts;
 *  claims (agent, seq, head) are enforced; a forged body, another signer,
 *  a refusal, another kind of envelope and an Ack naming another
 *  aggregator fail; files are read raw or as base64; receipts are found in
 *  the outbox by id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdir.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "outbox.h"
#include "receipt_verify.h"

typedef struct {
    char dir[64];
    cds_identity_t *agg, *agent, *other;
    uint8_t head[CDS_HASH_BYTES];
} fx_t;



static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/receipt_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->agg = testdir_identity(fx->dir, "agg");
    fx->agent = testdir_identity(fx->dir, "agent");
    fx->other = testdir_identity(fx->dir, "other");
    memset(fx->head, 0xab, sizeof fx->head);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    cds_identity_destroy(&fx->agg);
    cds_identity_destroy(&fx->agent);
    cds_identity_destroy(&fx->other);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* An Ack for agent signed by signer, naming named_agg as aggregator. */
static uint8_t *
make_ack(fx_t *fx, const cds_identity_t *signer, const cds_identity_t *named_agg,
         Cdsync__AckStatus status, Cdsync__Kind kind, size_t *len)
{
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.version = 1;
    a.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    a.agent.len = CDS_PK_BYTES;
    a.aggregator.data = (uint8_t *) cds_identity_sign_pk(named_agg);
    a.aggregator.len = CDS_PK_BYTES;
    a.status = status;
    a.acked_seq = 7;
    a.acked_head.data = fx->head;
    a.acked_head.len = CDS_HASH_BYTES;
    a.batch_first = 5;
    a.batch_last = 7;
    a.committed_at_ms = 1764300000000ull;
    a.error = status == CDSYNC__ACK_STATUS__ACK_OK ? 0 : CDS_EBADSIG;
    uint8_t *out = NULL;
    assert_int_equal(cds_envelope_seal_msg(signer, kind,
                                           cds_identity_sign_pk(fx->agent),
                                           &a.base, &out, len), CDS_OK);
    return out;
}

static void
test_valid_and_claims(void **state)
{
    fx_t *fx = *state;
    size_t len;
    char err[256];
    receipt_facts_t f;
    const uint8_t *spk = cds_identity_sign_pk(fx->agg);
    uint8_t *r = make_ack(fx, fx->agg, fx->agg, CDSYNC__ACK_STATUS__ACK_OK,
                          CDSYNC__KIND__KIND_ACK, &len);
    assert_int_equal(receipt_verify(r, len, spk, NULL, &f, err, sizeof err),
                     CDS_OK);
    assert_int_equal(f.acked_seq, 7);
    assert_int_equal(f.first_seq, 5);
    assert_int_equal(f.last_seq, 7);
    assert_int_equal(f.committed_at_ms, 1764300000000ull);
    assert_memory_equal(f.head, fx->head, CDS_HASH_BYTES);
    assert_memory_equal(f.agent, cds_identity_sign_pk(fx->agent), 32);
    receipt_claims_t c = { .agent = cds_identity_sign_pk(fx->agent),
                           .seq = 7, .head = fx->head };
    assert_int_equal(receipt_verify(r, len, spk, &c, &f, err, sizeof err),
                     CDS_OK);
    c.seq = 8;                         /* not covered */
    assert_int_equal(receipt_verify(r, len, spk, &c, &f, err, sizeof err),
                     CDS_EBADFIELD);
    c.seq = 1;
    uint8_t other_head[CDS_HASH_BYTES] = { 1 };
    c.head = other_head;               /* other data */
    assert_int_equal(receipt_verify(r, len, spk, &c, &f, err, sizeof err),
                     CDS_EBADFIELD);
    assert_non_null(strstr(err, "other data"));
    c.head = NULL;
    c.agent = cds_identity_sign_pk(fx->other);
    assert_int_equal(receipt_verify(r, len, spk, &c, &f, err, sizeof err),
                     CDS_EKEYMISMATCH);
    char path[128];
    snprintf(path, sizeof path, "%s/out.txt", fx->dir);
    FILE *o = fopen(path, "w");
    receipt_print(&f, o);
    fclose(o);
    free(r);
}

static void
test_forged_and_wrong(void **state)
{
    fx_t *fx = *state;
    size_t len;
    char err[256];
    receipt_facts_t f;
    const uint8_t *spk = cds_identity_sign_pk(fx->agg);
    uint8_t *r = make_ack(fx, fx->agg, fx->agg, CDSYNC__ACK_STATUS__ACK_OK,
                          CDSYNC__KIND__KIND_ACK, &len);
    /* Every single-byte change of the body or signature fails. */
    for (size_t i = len - 66 - 40; i < len; i += 3) {
        r[i] ^= 0x01;
        assert_int_not_equal(receipt_verify(r, len, spk, NULL, &f, err,
                                            sizeof err), CDS_OK);
        r[i] ^= 0x01;
    }
    /* Another aggregator's key. */
    assert_int_equal(receipt_verify(r, len, cds_identity_sign_pk(fx->other),
                                    NULL, &f, err, sizeof err), CDS_EBADSIG);
    free(r);
    /* Signed by other, claiming to be from agg. */
    r = make_ack(fx, fx->other, fx->agg, CDSYNC__ACK_STATUS__ACK_OK,
                 CDSYNC__KIND__KIND_ACK, &len);
    assert_int_equal(receipt_verify(r, len, spk, NULL, &f, err, sizeof err),
                     CDS_EBADSIG);
    free(r);
    /* Signed by agg but naming another aggregator in the body. */
    r = make_ack(fx, fx->agg, fx->other, CDSYNC__ACK_STATUS__ACK_OK,
                 CDSYNC__KIND__KIND_ACK, &len);
    assert_int_equal(receipt_verify(r, len, spk, NULL, &f, err, sizeof err),
                     CDS_EKEYMISMATCH);
    free(r);
    /* A refusal proves no delivery. */
    r = make_ack(fx, fx->agg, fx->agg, CDSYNC__ACK_STATUS__ACK_REFUSED,
                 CDSYNC__KIND__KIND_ACK, &len);
    assert_int_equal(receipt_verify(r, len, spk, NULL, &f, err, sizeof err),
                     CDS_EBADFIELD);
    free(r);
    /* Not an ack. */
    r = make_ack(fx, fx->agg, fx->agg, CDSYNC__ACK_STATUS__ACK_OK,
                 CDSYNC__KIND__KIND_HELLO_ANSWER, &len);
    assert_int_equal(receipt_verify(r, len, spk, NULL, &f, err, sizeof err),
                     CDS_EMALFORMED);
    free(r);
    uint8_t junk[10] = { 0xff };
    assert_int_equal(receipt_verify(junk, sizeof junk, spk, NULL, &f, err,
                                    sizeof err), CDS_EMALFORMED);
}

static void
write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void
test_files_and_outbox(void **state)
{
    fx_t *fx = *state;
    size_t len, got_len;
    char err[256], path[128], b64[4096];
    uint8_t *got = NULL;
    uint8_t *r = make_ack(fx, fx->agg, fx->agg, CDSYNC__ACK_STATUS__ACK_OK,
                          CDSYNC__KIND__KIND_ACK, &len);
    snprintf(path, sizeof path, "%s/r.bin", fx->dir);
    write_bytes(path, r, len);
    assert_int_equal(receipt_read_file(path, &got, &got_len, err, sizeof err),
                     CDS_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, r, len);
    free(got);
    sodium_bin2base64(b64, sizeof b64, r, len,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(b64, "\n");
    snprintf(path, sizeof path, "%s/r.b64", fx->dir);
    write_bytes(path, b64, strlen(b64));
    assert_int_equal(receipt_read_file(path, &got, &got_len, err, sizeof err),
                     CDS_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, r, len);
    free(got);
    snprintf(path, sizeof path, "%s/bad.txt", fx->dir);
    write_bytes(path, "hello, world!", 13);
    assert_int_equal(receipt_read_file(path, &got, &got_len, err, sizeof err),
                     CDS_EMALFORMED);
    assert_non_null(strstr(err, "bad.txt"));
    snprintf(path, sizeof path, "%s/missing", fx->dir);
    assert_int_equal(receipt_read_file(path, &got, &got_len, err, sizeof err),
                     CDS_EIO);
    /* From the outbox, by id. */
    int e = 0;
    snprintf(path, sizeof path, "%s/agent.db", fx->dir);
    outbox_t *ob = outbox_open(path, &e);
    assert_non_null(ob);
    Cdsync__Envelope *env = NULL;
    assert_int_equal(cds_envelope_decode(r, len, &env), CDS_OK);
    Cdsync__Ack *a = cds_msg_decode(&cdsync__ack__descriptor, env->body.data,
                                    env->body.len, &e);
    assert_non_null(a);
    a->status = CDSYNC__ACK_STATUS__ACK_REFUSED;   /* keeps the outbox */
    assert_int_equal(outbox_apply_ack(ob, a, r, len, 1), CDS_OK);
    assert_int_equal(receipt_load(ob, 1, &got, &got_len), CDS_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, r, len);
    free(got);
    assert_int_equal(receipt_load(ob, 2, &got, &got_len), CDS_ENOTFOUND);
    cds_msg_free(a);
    cds_msg_free(env);
    outbox_destroy(&ob);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_and_claims, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_wrong, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_files_and_outbox, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
