/*  cds_codec_test: sealing, bounded opening and verification of envelopes;
 *  budgeted decoding; Update <-> protobuf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_sign.h"

static char dir[] = "/tmp/cds_codec_test.XXXXXX";
static char path_a[256], path_b[256];
static cds_identity_t *agent, *agg;

static cds_identity_t *
make_identity(char *path, size_t len, const char *name)
{
    int err = -1;
    snprintf(path, len, "%s/%s.key", dir, name);
    if (cds_identity_generate(path, name) != CDS_OK)
        return NULL;
    return cds_identity_load(path, &err, NULL, 0);
}

static int
setup(void **state)
{
    if (!mkdtemp(dir))
        return -1;
    agent = make_identity(path_a, sizeof path_a, "agent");
    agg = make_identity(path_b, sizeof path_b, "agg");
    return agent && agg ? 0 : -1;
}

static int
teardown(void **state)
{
    cds_identity_destroy(&agent);
    cds_identity_destroy(&agg);
    unlink(path_a);
    unlink(path_b);
    return rmdir(dir);
}

static void
test_seal_decode_verify(void **state)
{
    Cdsync__Hello hello = CDSYNC__HELLO__INIT;
    hello.version = 1;
    hello.acked_seq = 77;
    hello.agent_version = "0.1.0";
    uint8_t *buf = NULL;
    size_t len = 0;
    const uint8_t *rpk = cds_identity_sign_pk(agg);
    assert_int_equal(cds_envelope_seal_msg(agent, CDSYNC__KIND__KIND_HELLO, rpk,
                                           &hello.base, &buf, &len),
                     CDS_OK);
    Cdsync__Envelope *env = NULL;
    assert_int_equal(cds_envelope_decode(buf, len, &env), CDS_OK);
    assert_int_equal(env->version, CDS_PROTOCOL_VERSION);
    assert_int_equal(env->kind, CDSYNC__KIND__KIND_HELLO);
    assert_memory_equal(env->signer.data, cds_identity_sign_pk(agent), 32);
    assert_int_equal(cds_envelope_verify(env, rpk), CDS_OK);
    /* for another recipient (here: the sender itself) it does not verify */
    assert_int_equal(cds_envelope_verify(env, cds_identity_sign_pk(agent)),
                     CDS_EBADSIG);

    int err = -1;
    Cdsync__Hello *h = cds_msg_decode(&cdsync__hello__descriptor,
                                      env->body.data, env->body.len, &err);
    assert_non_null(h);
    assert_int_equal(err, CDS_OK);
    assert_int_equal(h->acked_seq, 77);
    assert_string_equal(h->agent_version, "0.1.0");
    cds_msg_free(h);

    /* a body byte flipped in transit: decodes, does not verify */
    env->body.data[0] ^= 0x01;
    assert_int_equal(cds_envelope_verify(env, rpk), CDS_EBADSIG);
    cds_msg_free(env);
    cds_msg_free(NULL);
    free(buf);
}

static void
fill_update(cds_update_t *u, uint64_t seq, char *ou, size_t oulen)
{
    snprintf(ou, oulen, "VN-LA-DH-%04u", (unsigned) (seq % 97));
    memset(u, 0, sizeof *u);
    u->seq = seq;
    u->org_unit = ou;
    u->indicator = "CDS07";
    u->period = "2023Q1";
    u->disagg = "default";
    u->value = seq % 3 ? "15" : "";
    u->deleted = seq % 3 == 0;
    u->comment = seq % 2 ? "đã kiểm tra" : NULL;
    u->stored_by = "ubnd.xa";
    u->followup = seq % 5 == 0;
    u->hlc = (1700000000000ull << 16) + seq;
    if (seq % 7 == 0) {                /* fields 12, 13 on some only */
        u->created_ms = 1743465600000ull + seq;
        u->updated_ms = seq % 2 ? 0 : 1743581700000ull;
    }
}

static void
test_batch_of_1000_roundtrip(void **state)
{
    enum { N = CDS_MAX_BATCH_UPDATES };
    static cds_update_t us[N];
    static char ous[N][32];
    static Cdsync__Update pbs[N];
    static Cdsync__Update *ptrs[N];
    uint8_t head[32] = { 0 }, h[32];
    for (int i = 0; i < N; i++) {
        fill_update(&us[i], 1001 + (uint64_t) i, ous[i], sizeof ous[i]);
        cds_update_to_pb(&us[i], &pbs[i]);
        ptrs[i] = &pbs[i];
        cds_update_hash(&us[i], h);
        cds_chain_next(head, h, head);
    }
    Cdsync__Batch batch = CDSYNC__BATCH__INIT;
    batch.version = 1;
    batch.agent.data = (uint8_t *) cds_identity_sign_pk(agent);
    batch.agent.len = 32;
    batch.first_seq = 1001;
    batch.last_seq = 1000 + N;
    batch.head.data = head;
    batch.head.len = 32;
    batch.n_updates = N;
    batch.updates = ptrs;

    uint8_t *wire = NULL;
    size_t len = 0;
    const uint8_t *rpk = cds_identity_sign_pk(agg);
    assert_int_equal(cds_envelope_seal_msg(agent, CDSYNC__KIND__KIND_BATCH, rpk,
                                           &batch.base, &wire, &len),
                     CDS_OK);
    Cdsync__Envelope *env = NULL;
    assert_int_equal(cds_envelope_decode(wire, len, &env), CDS_OK);
    assert_int_equal(cds_envelope_verify(env, rpk), CDS_OK);
    int err = -1;
    Cdsync__Batch *got = cds_msg_decode(&cdsync__batch__descriptor,
                                        env->body.data, env->body.len, &err);
    assert_non_null(got);
    assert_int_equal(got->n_updates, N);
    uint8_t head2[32] = { 0 }, h2[32];
    for (int i = 0; i < N; i++) {
        cds_update_t v;
        cds_update_from_pb(got->updates[i], &v);
        assert_int_equal(cds_update_check_fields(&v, NULL), CDS_OK);
        cds_update_hash(&us[i], h);
        cds_update_hash(&v, h2);
        assert_memory_equal(h, h2, 32);
        assert_string_equal(v.org_unit, us[i].org_unit);
        assert_int_equal(v.deleted, us[i].deleted);
        assert_int_equal(v.created_ms, us[i].created_ms);
        assert_int_equal(v.updated_ms, us[i].updated_ms);
        cds_chain_next(head2, h2, head2);
    }
    assert_int_equal(got->head.len, 32);
    assert_memory_equal(got->head.data, head2, 32);
    cds_msg_free(got);
    cds_msg_free(env);
    free(wire);
}

static void
test_update_pb_mapping(void **state)
{
    cds_update_t u = { .seq = 9, .org_unit = "X", .indicator = "I",
                       .period = "2023", .disagg = "default", .value = "1",
                       .comment = NULL, .stored_by = NULL, .hlc = 5 };
    Cdsync__Update pb;
    cds_update_to_pb(&u, &pb);
    assert_string_equal(pb.comment, "");         /* proto3: "" for NULL */
    assert_string_equal(pb.stored_by, "");
    assert_int_equal(pb.seq, 9);
    assert_int_equal(pb.hlc, 5);
    size_t len = 0;
    uint8_t *bytes = cds_msg_encode(&pb.base, &len);
    assert_non_null(bytes);
    int err = -1;
    Cdsync__Update *back = cds_msg_decode(&cdsync__update__descriptor, bytes,
                                          len, &err);
    assert_non_null(back);
    cds_update_t v;
    cds_update_from_pb(back, &v);
    assert_null(v.comment);
    assert_null(v.stored_by);
    assert_string_equal(v.value, "1");
    assert_int_equal(v.seq, 9);
    cds_msg_free(back);
    free(bytes);

    Cdsync__Update empty = CDSYNC__UPDATE__INIT;  /* all defaults */
    cds_update_from_pb(&empty, &v);
    assert_string_equal(v.org_unit, "");          /* never NULL */
    assert_string_equal(v.value, "");
    assert_false(v.deleted);
}

/* An envelope with a body just over 4 MiB, signed properly. */
static uint8_t *
oversized_envelope(size_t *len)
{
    size_t body_len = CDS_MAX_MSG_BYTES;
    uint8_t *body = calloc(1, body_len), sig[CDS_SIG_BYTES];
    const uint8_t *rpk = cds_identity_sign_pk(agg);
    assert_non_null(body);
    assert_int_equal(cds_sign_body(agent, 3, rpk, body, body_len, sig), CDS_OK);
    Cdsync__Envelope env = CDSYNC__ENVELOPE__INIT;
    env.version = 1;
    env.kind = CDSYNC__KIND__KIND_BATCH;
    env.signer.data = (uint8_t *) cds_identity_sign_pk(agent);
    env.signer.len = 32;
    env.body.data = body;
    env.body.len = body_len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    uint8_t *out = cds_msg_encode(&env.base, len);
    assert_non_null(out);
    free(body);
    return out;
}

static void
test_too_big(void **state)
{
    size_t len = 0;
    uint8_t *big = oversized_envelope(&len);
    Cdsync__Envelope *env = (Cdsync__Envelope *) 1;
    assert_true(len > CDS_MAX_MSG_BYTES);
    assert_int_equal(cds_envelope_decode(big, len, &env), CDS_ETOOBIG);
    assert_null(env);
    /* the bound comes first: zeros would be malformed if they were parsed */
    memset(big, 0, CDS_MAX_MSG_BYTES + 1);
    assert_int_equal(cds_envelope_decode(big, CDS_MAX_MSG_BYTES + 1, &env),
                     CDS_ETOOBIG);
    assert_int_equal(cds_envelope_decode(big, 16, &env), CDS_EMALFORMED);
    int err = -1;
    assert_null(cds_msg_decode(&cdsync__batch__descriptor, big,
                               CDS_MAX_MSG_BYTES + 1, &err));
    assert_int_equal(err, CDS_ETOOBIG);
    /* the sender is told too, instead of the peer dropping the frame */
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cds_envelope_seal(agent, CDSYNC__KIND__KIND_BATCH,
                                       cds_identity_sign_pk(agg), big,
                                       CDS_MAX_MSG_BYTES, &out, &out_len),
                     CDS_ETOOBIG);
    assert_null(out);
    free(big);
}

/* Re-encode a valid envelope with one field spoiled. */
static int
decode_spoiled(int version, int kind, size_t signer_len, size_t sig_len)
{
    uint8_t key[32] = { 1 }, sig[64] = { 2 }, body[3] = { 0x08, 0x01, 0 };
    Cdsync__Envelope e = CDSYNC__ENVELOPE__INIT;
    e.version = (uint32_t) version;
    e.kind = (Cdsync__Kind) kind;
    e.signer.data = key;
    e.signer.len = signer_len;
    e.body.data = body;
    e.body.len = 2;
    e.signature.data = sig;
    e.signature.len = sig_len;
    size_t len = 0;
    uint8_t *buf = cds_msg_encode(&e.base, &len);
    Cdsync__Envelope *env = NULL;
    int rc = cds_envelope_decode(buf, len, &env);
    if (rc == CDS_OK) {
        assert_int_equal(cds_envelope_verify(env, key), CDS_EBADSIG);
        cds_msg_free(env);
    } else {
        assert_null(env);
    }
    free(buf);
    return rc;
}

static void
test_malformed(void **state)
{
    uint8_t junk[64];
    Cdsync__Envelope *env = NULL;
    memset(junk, 0xff, sizeof junk);              /* varint never ends */
    assert_int_equal(cds_envelope_decode(junk, sizeof junk, &env),
                     CDS_EMALFORMED);
    const uint8_t overrun[] = { 0x22, 0x7f, 'a' }; /* body len 127, 1 given */
    assert_int_equal(cds_envelope_decode(overrun, sizeof overrun, &env),
                     CDS_EMALFORMED);

    assert_int_equal(decode_spoiled(1, 3, 32, 64), CDS_OK);   /* control */
    assert_int_equal(decode_spoiled(2, 3, 32, 64), CDS_EVERSION);
    assert_int_equal(decode_spoiled(0, 3, 32, 64), CDS_EVERSION);
    assert_int_equal(decode_spoiled(1, 3, 31, 64), CDS_EMALFORMED);
    assert_int_equal(decode_spoiled(1, 3, 32, 63), CDS_EMALFORMED);
    assert_int_equal(decode_spoiled(1, 0, 32, 64), CDS_EMALFORMED);
    assert_int_equal(decode_spoiled(1, 99, 32, 64), CDS_EMALFORMED);
    assert_int_equal(decode_spoiled(1, -1, 32, 64), CDS_EMALFORMED);

    /* a truncated valid envelope */
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cds_envelope_seal(agent, CDSYNC__KIND__KIND_ACK,
                                       cds_identity_sign_pk(agg),
                                       (const uint8_t *) "abc", 3, &buf, &len),
                     CDS_OK);
    assert_int_equal(cds_envelope_decode(buf, len - 1, &env), CDS_EMALFORMED);
    free(buf);
}

/* Many empty Updates: 2 wire bytes each, ~100 heap bytes each decoded. */
static uint8_t *
empty_updates_batch(size_t count, size_t *len)
{
    uint8_t *b = malloc(count * 2);
    assert_non_null(b);
    for (size_t i = 0; i < count; i++) {
        b[2 * i] = 0x42;                          /* field 8, length-delim */
        b[2 * i + 1] = 0x00;                      /* empty Update */
    }
    *len = count * 2;
    return b;
}

static void
test_decode_budget(void **state)
{
    int err = -1;
    size_t len = 0;
    /* 600 KB of input that would expand to ~35 MB: over the real budget */
    uint8_t *bomb = empty_updates_batch(300000, &len);
    assert_true(len < CDS_MAX_MSG_BYTES);
    assert_null(cds_msg_decode(&cdsync__batch__descriptor, bomb, len, &err));
    assert_int_equal(err, CDS_ETOOBIG);
    free(bomb);

    /* the same shape, small: fits the real budget, not a 4 KiB one */
    bomb = empty_updates_batch(100, &len);
    Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor, bomb, len,
                                      &err);
    assert_non_null(b);
    assert_int_equal(err, CDS_OK);
    assert_int_equal(b->n_updates, 100);
    cds_msg_free(b);
    assert_null(cds_msg_decode_budget(&cdsync__batch__descriptor, bomb, len,
                                      4096, &err));
    assert_int_equal(err, CDS_ETOOBIG);
    b = cds_msg_decode_budget(&cdsync__batch__descriptor, bomb, len, 1 << 20,
                              &err);
    assert_non_null(b);
    cds_msg_free(b);
    free(bomb);
}

/* ---- strings with a NUL byte (hand-built wire bytes) -------------------- */

typedef struct {
    uint8_t b[512];
    size_t n;
} wbuf_t;

static void
put_varint(wbuf_t *w, uint64_t v)
{
    do {
        assert_true(w->n < sizeof w->b);
        w->b[w->n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

/* Field `id`, length-delimited, holding n bytes of p. */
static void
put_ld(wbuf_t *w, unsigned id, const void *p, size_t n)
{
    put_varint(w, (uint64_t) id << 3 | 2);
    put_varint(w, n);
    assert_true(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* A message of desc with one "ok" string in every string field but
 * `bad` (field id), which holds "77\0999". bad 0: no NUL anywhere. */
static void
build_strings(wbuf_t *w, const ProtobufCMessageDescriptor *desc,
              unsigned bad)
{
    w->n = 0;
    put_varint(w, 1 << 3 | 0);                    /* version = 1 */
    put_varint(w, 1);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        if (f->id == bad)
            put_ld(w, f->id, "77\0" "999", 6);
        else
            put_ld(w, f->id, "ok", 2);
    }
}

static void
expect_nul_refused(const ProtobufCMessageDescriptor *desc, const wbuf_t *w,
                   const char *path)
{
    char why[CDS_WIRE_PATH_LEN];
    int err = -1;
    assert_null(cds_msg_decode_why(desc, w->b, w->n, &err, why, sizeof why));
    assert_int_equal(err, CDS_EMALFORMED);
    assert_string_equal(why, path);
    assert_null(cds_msg_decode(desc, w->b, w->n, &err));
    assert_int_equal(err, CDS_EMALFORMED);
    assert_int_equal(cds_msg_check_wire(desc, w->b, w->n, why, sizeof why),
                     CDS_EMALFORMED);
    assert_string_equal(why, path);
}

/* Every string field of every top-level message the two programs decode. */
static void
test_nul_in_top_level_strings(void **state)
{
    const ProtobufCMessageDescriptor *descs[] = {
        &cdsync__batch__descriptor, &cdsync__hello__descriptor,
        &cdsync__heartbeat__descriptor, &cdsync__ack__descriptor,
        &cdsync__hello_answer__descriptor, &cdsync__update__descriptor,
        &cdsync__rejection__descriptor,
    };
    int tested = 0;
    for (size_t d = 0; d < sizeof descs / sizeof descs[0]; d++) {
        wbuf_t w;
        int err = -1;
        build_strings(&w, descs[d], 0);           /* clean: decodes */
        void *m = cds_msg_decode(descs[d], w.b, w.n, &err);
        assert_non_null(m);
        assert_int_equal(err, CDS_OK);
        cds_msg_free(m);
        for (unsigned i = 0; i < descs[d]->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &descs[d]->fields[i];
            if (f->type != PROTOBUF_C_TYPE_STRING)
                continue;
            build_strings(&w, descs[d], f->id);
            expect_nul_refused(descs[d], &w, f->name);
            tested++;
        }
    }
    /* catalog_version, agent_version x2, message x2, field, 7 in Update,
     * field and message in Rejection */
    assert_int_equal(tested, 1 + 1 + 1 + 1 + 1 + 7 + 2);
}

/* Strings inside repeated submessages: Batch.updates[i].*, and
 * Ack.rejections[i].*; the path names the element. */
static void
test_nul_in_nested_strings(void **state)
{
    const ProtobufCMessageDescriptor *ud = &cdsync__update__descriptor;
    for (unsigned i = 0; i < ud->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &ud->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        wbuf_t good, bad, batch = { .n = 0 };
        build_strings(&good, ud, 0);
        build_strings(&bad, ud, f->id);
        put_ld(&batch, 8, good.b, good.n);        /* updates[0]: clean */
        put_ld(&batch, 7, "cat-1", 5);            /* catalog_version */
        put_ld(&batch, 8, good.b, good.n);        /* updates[1]: clean */
        put_ld(&batch, 8, bad.b, bad.n);          /* updates[2]: NUL */
        char path[CDS_WIRE_PATH_LEN];
        snprintf(path, sizeof path, "updates[2].%s", f->name);
        expect_nul_refused(&cdsync__batch__descriptor, &batch, path);
    }
    for (unsigned id = 4; id <= 5; id++) {
        wbuf_t r = { .n = 0 }, ack = { .n = 0 };
        put_ld(&r, id, "x\0y", 3);
        put_ld(&ack, 9, r.b, r.n);
        expect_nul_refused(&cdsync__ack__descriptor, &ack, id == 4
                           ? "rejections[0].field" : "rejections[0].message");
    }
}

/* NUL bytes are fine where they are not strings: bytes fields, unknown
 * fields; bytes that do not parse are "wire"; and a real Batch built
 * by the encoder passes the walker unchanged. */
static void
test_wire_walker_edges(void **state)
{
    char why[CDS_WIRE_PATH_LEN];
    uint8_t zeros[32] = { 0 };
    wbuf_t w = { .n = 0 };
    put_ld(&w, 2, zeros, sizeof zeros);           /* Batch.agent (bytes) */
    put_ld(&w, 5, zeros, sizeof zeros);           /* prev_head */
    put_ld(&w, 99, "a\0b", 3);                    /* unknown field */
    assert_int_equal(cds_msg_check_wire(&cdsync__batch__descriptor, w.b, w.n,
                                        why, sizeof why), CDS_OK);
    assert_string_equal(why, "");
    int err = -1;
    Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor, w.b, w.n,
                                      &err);
    assert_non_null(b);
    cds_msg_free(b);

    /* length past the end, truncated varint, field number 0, a group */
    const uint8_t past[] = { 0x3a, 0x05, 'a' };
    const uint8_t trunc[] = { 0x18, 0x80 };
    const uint8_t zero[] = { 0x02, 0x00 };
    const uint8_t group[] = { 0x0b, 0x0c };
    const struct { const uint8_t *p; size_t n; } bad[] = {
        { past, sizeof past }, { trunc, sizeof trunc },
        { zero, sizeof zero }, { group, sizeof group },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cds_msg_check_wire(&cdsync__batch__descriptor,
                                            bad[i].p, bad[i].n, why,
                                            sizeof why), CDS_EMALFORMED);
        assert_string_equal(why, "wire");
    }
    /* a malformed Update inside a batch names the element */
    wbuf_t inner = { .n = 0 }, outer = { .n = 0 };
    const uint8_t cut[] = { 0x32, 0x09, 'x' };    /* value: 9 bytes, has 1 */
    memcpy(inner.b, cut, sizeof cut);
    inner.n = sizeof cut;
    put_ld(&outer, 8, inner.b, inner.n);
    assert_int_equal(cds_msg_check_wire(&cdsync__batch__descriptor, outer.b,
                                        outer.n, why, sizeof why),
                     CDS_EMALFORMED);
    assert_string_equal(why, "updates[0]");
    /* an empty body as NULL, 0 (fuzz: envelope, NULL + 0 was UB) */
    assert_int_equal(cds_msg_check_wire(&cdsync__batch__descriptor, NULL, 0,
                                        why, sizeof why), CDS_OK);
    b = cds_msg_decode(&cdsync__batch__descriptor, NULL, 0, &err);
    assert_non_null(b);
    assert_int_equal(b->n_updates, 0);
    cds_msg_free(b);
    /* path may be NULL */
    assert_int_equal(cds_msg_check_wire(&cdsync__batch__descriptor, past,
                                        sizeof past, NULL, 0),
                     CDS_EMALFORMED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_decode_verify),
        cmocka_unit_test(test_batch_of_1000_roundtrip),
        cmocka_unit_test(test_update_pb_mapping),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_decode_budget),
        cmocka_unit_test(test_nul_in_top_level_strings),
        cmocka_unit_test(test_nul_in_nested_strings),
        cmocka_unit_test(test_wire_walker_edges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
