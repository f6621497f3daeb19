/*  ingest_test: real signed envelopes from generated identities through
 *  ingest_message: apply and ack, dedup, gap, equivocation, signature and
 *  key checks, per-update rejections, size bounds, garbage, chain, hello
 *  probe, heartbeat, retry answers and per-message savepoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdir.h"
#include "testdb.h"
#include "testpg.h"
#include "cds_catalog.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_util.h"
#include "approval.h"
#include "audit.h"
#include "ingest.h"
#include "metaver.h"
#include "cds_sign.h"
#include "store.h"

#define NOW 1795843537000ull
#define HLC(ms) ((uint64_t) (ms) << 16)

static uint64_t arrival = NOW;         /* our clock when a message arrives */

typedef struct {
    char dir[64];
    store_t *store;
    cds_catalog_t *catalog;
    cds_identity_t *agg;               /* the aggregator */
    cds_identity_t *agent;             /* enrolled for D1 */
    cds_identity_t *other;             /* not enrolled */
    int64_t agent_id;
    ingest_t *ingest;
    uint8_t head[CDS_HASH_BYTES];      /* agent-side chain head */
    uint64_t seq;                      /* agent-side last seq */
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


/* The PostgreSQL database of this run (CDS_TEST_PG_URL), else NULL. */
static const char *pg_url;


static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    arrival = NOW;
    char path[1024], err[256];
    int e = 0;
    strcpy(fx->dir, "/tmp/ingest_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    write_file(fx->dir, "cat.csv",
               "code,name_vi,value_type,period_type,min,max\n"
               "CDS01,Tỷ lệ,PERCENTAGE,,,\n"
               "CDS02,Số cán bộ,INTEGER,Monthly,0,1000\n", path);
    fx->catalog = cds_catalog_load(path, err, sizeof err);
    assert_non_null(fx->catalog);
    write_file(fx->dir, "ou.csv",
               "code,name,parent,valid_to\nP,Tỉnh,,\nD1,Huyện 1,P,\n"
               "C1,Xã 1,D1,\nC2,Xã 2,D1,\nD2,Huyện 2,P,\nC3,Xã 3,D2,\n"
               "C4,Xã 4 (giải thể),D1,2023-03-31\n", path);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    snprintf(path, sizeof path, "%s/agg.db", fx->dir);
    if (pg_url)                /* the PostgreSQL run: a new database */
        testpg_fresh(path, sizeof path);
    fx->store = store_open(path, 0, &e);
    assert_non_null(fx->store);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    fx->agg = testdir_identity(fx->dir, "agg");
    fx->agent = testdir_identity(fx->dir, "agent");
    fx->other = testdir_identity(fx->dir, "other");
    const char *units[] = { "D1" };
    assert_int_equal(store_agent_enroll(fx->store,
                                        cds_identity_sign_pk(fx->agent),
                                        cds_identity_curve_pk(fx->agent),
                                        "agent", units, 1, 1, &fx->agent_id),
                     CDS_OK);
    fx->ingest = ingest_new(fx->store, fx->agg, fx->catalog);
    assert_non_null(fx->ingest);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    ingest_destroy(&fx->ingest);
    assert_null(fx->ingest);
    store_destroy(&fx->store);
    cds_catalog_destroy(&fx->catalog);
    cds_identity_destroy(&fx->agg);
    cds_identity_destroy(&fx->agent);
    cds_identity_destroy(&fx->other);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* ---- building messages ---------------------------------------------------- */

static cds_update_t
upd(const char *ou, const char *ind, const char *pe, const char *value,
    uint64_t ms)
{
    cds_update_t u = { .org_unit = ou, .indicator = ind, .period = pe,
                       .disagg = "default", .value = value, .comment = "",
                       .stored_by = "officer", .hlc = HLC(ms) };
    return u;
}

typedef struct {
    const cds_identity_t *signer;      /* default fx->agent */
    const uint8_t *batch_agent;        /* default signer's key */
    const uint8_t *recipient;          /* default aggregator's key */
    bool corrupt_head;                 /* break batch.head */
    bool keep_chain;                   /* don't advance fx's chain */
    const char *catalog_version;       /* default the catalog's */
    bool nul_marker;                   /* "~NULMARK" in a string: its '~'
                                        * becomes a NUL byte on the wire */
    uint64_t sent_at;                  /* Batch.sent_at_ms (0: absent) */
} opts_t;

#define NUL_MARKER "~NULMARK"

/* Replace the '~' of every NUL_MARKER in the encoded body by a NUL: what
 * protobuf-c's encoder cannot produce (it writes strlen bytes). */
static void
patch_nul(uint8_t *body, size_t len)
{
    size_t m = strlen(NUL_MARKER);
    for (size_t i = 0; i + m <= len; i++)
        if (memcmp(body + i, NUL_MARKER, m) == 0)
            body[i] = 0;
}

/* Seal a batch of n updates starting at first, chained from fx's head
 * (advancing it unless o->keep_chain). *out is the caller's to free. */
static void
make_batch(fx_t *fx, uint64_t first, cds_update_t *u, size_t n,
           const opts_t *o, uint8_t **out, size_t *len)
{
    opts_t d = { 0 };
    if (!o)
        o = &d;
    const cds_identity_t *signer = o->signer ? o->signer : fx->agent;
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    Cdsync__Update pb[8], *ptrs[8];
    uint8_t prev[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    memcpy(prev, fx->head, sizeof prev);
    memcpy(head, fx->head, sizeof head);
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        uint8_t h[CDS_HASH_BYTES];
        u[i].seq = first + i;
        cds_update_hash(&u[i], h);
        cds_chain_next(head, h, head);
        cdsync__update__init(&pb[i]);
        cds_update_to_pb(&u[i], &pb[i]);
        ptrs[i] = &pb[i];
    }
    b.version = 1;
    b.agent.data = (uint8_t *) (o->batch_agent ? o->batch_agent
                                               : cds_identity_sign_pk(signer));
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = first;
    b.last_seq = first + n - 1;
    b.prev_head.data = prev;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = head;
    b.head.len = CDS_HASH_BYTES;
    if (o->corrupt_head)
        head[0] ^= 1;
    b.catalog_version = (char *) (o->catalog_version
                                  ? o->catalog_version
                                  : cds_catalog_version(fx->catalog));
    b.n_updates = n;
    b.updates = ptrs;
    b.sent_at_ms = o->sent_at;
    size_t blen = 0;
    uint8_t *body = cds_msg_encode(&b.base, &blen);
    assert_non_null(body);
    if (o->nul_marker)
        patch_nul(body, blen);
    assert_int_equal(cds_envelope_seal(signer, CDSYNC__KIND__KIND_BATCH,
                                       o->recipient ? o->recipient
                                       : cds_identity_sign_pk(fx->agg),
                                       body, blen, out, len), CDS_OK);
    free(body);
    if (!o->keep_chain && !o->corrupt_head) {
        memcpy(fx->head, head, sizeof head);
        fx->seq = first + n - 1;
    }
}

/* One message in its own transaction, like a group of one. */
/* Every test runs twice: prepared by ingest_message itself (the inline
 * path), and with ingest_prepare called ahead (as server.c's worker
 * does), which must answer and store exactly the same. */
static bool prepared_run;

static int
ingest_as(fx_t *fx, const uint8_t *data, size_t len, const char *user_id,
          ingest_result_t *r)
{
    ingest_prep_t *prep = NULL;
    if (prepared_run)
        assert_non_null(prep = ingest_prepare(fx->ingest, data, len,
                                              arrival));
    ingest_outcome_t oc = ingest_message_prepared(fx->ingest, data, len,
                                                  user_id, arrival, prep, r);
    ingest_prep_destroy(&prep);
    assert_null(prep);
    /* One result: the outcome says whether code is a reason or an error. */
    assert_int_equal(oc, r->outcome);
    if (oc == INGEST_DONE)
        assert_int_equal(r->code, CDS_OK);
    else
        assert_int_not_equal(r->code, CDS_OK);
    if (oc == INGEST_REFUSED)
        assert_true(r->message[0] != '\0');
    return oc == INGEST_FAILED ? r->code : CDS_OK;
}

static void
ingest_one(fx_t *fx, const uint8_t *data, size_t len, ingest_result_t *r)
{
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, NULL, r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
}

/* Open the reply, check it is signed by the aggregator for `to`, decode
 * as desc. Free with cds_msg_free. */
static void *
open_reply(fx_t *fx, const ingest_result_t *r, const cds_identity_t *to,
           Cdsync__Kind kind, const ProtobufCMessageDescriptor *desc)
{
    Cdsync__Envelope *env = NULL;
    assert_non_null(r->reply);
    assert_int_equal(cds_envelope_decode(r->reply, r->reply_len, &env),
                     CDS_OK);
    assert_int_equal(env->kind, kind);
    assert_memory_equal(env->signer.data, cds_identity_sign_pk(fx->agg),
                        CDS_PK_BYTES);
    assert_int_equal(cds_envelope_verify(env, cds_identity_sign_pk(to)),
                     CDS_OK);
    int err = 0;
    void *msg = cds_msg_decode(desc, env->body.data, env->body.len, &err);
    assert_non_null(msg);
    cds_msg_free(env);
    return msg;
}

static Cdsync__Ack *
send_batch(fx_t *fx, const uint8_t *data, size_t len, const cds_identity_t *to)
{
    ingest_result_t r;
    ingest_one(fx, data, len, &r);
    Cdsync__Ack *ack = open_reply(fx, &r, to ? to : fx->agent,
                                  CDSYNC__KIND__KIND_ACK,
                                  &cdsync__ack__descriptor);
    ingest_result_clear(&r);
    return ack;
}

/* The first column of the first row of sql, on either store. */
static int64_t
sql_int(fx_t *fx, const char *sql)
{
    return testsql_int(store_sql(fx->store), sql);
}

static int
count(fx_t *fx, const char *sql)
{
    return (int) sql_int(fx, sql);
}

static char *
value_of(fx_t *fx, const char *ou, const char *ind)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT value FROM datavalue WHERE org_unit ="
             " '%s' AND indicator = '%s'", ou, ind);
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(fx->store), sql, 0);
    assert_non_null(st);
    char *v = NULL;
    if (cds_sql_step(st) == CDS_SQL_ROW)
        v = strdup(cds_sql_col_text(st, 0));
    cds_sql_finalize(&st);
    return v;
}

/* Apply seqs 1..3 (three good values) and check the ack. */
static void
apply_three(fx_t *fx, uint8_t **data, size_t *len)
{
    cds_update_t u[3] = {
        upd("C1", "CDS01", "2023", "50", 1000),
        upd("C2", "CDS01", "2023", "75.5", 1001),
        upd("D1", "CDS02", "202301", "12", 1002),
    };
    make_batch(fx, 1, u, 3, NULL, data, len);
    Cdsync__Ack *ack = send_batch(fx, *data, *len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 3);
    assert_int_equal(ack->batch_first, 1);
    assert_int_equal(ack->batch_last, 3);
    assert_int_equal(ack->n_rejections, 0);
    assert_int_equal(ack->acked_head.len, CDS_HASH_BYTES);
    assert_memory_equal(ack->acked_head.data, fx->head, CDS_HASH_BYTES);
    assert_memory_equal(ack->aggregator.data, cds_identity_sign_pk(fx->agg),
                        CDS_PK_BYTES);
    cds_msg_free(ack);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_happy_path_and_resend(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    apply_three(fx, &data, &len);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 3);
    char *v = value_of(fx, "C2", "CDS01");
    assert_string_equal(v, "75.5");
    free(v);
    store_agent_t a;
    assert_int_equal(store_agent_find(fx->store,
                                      cds_identity_sign_pk(fx->agent), &a),
                     CDS_OK);
    assert_int_equal(a.applied_seq, 3);
    assert_memory_equal(a.applied_head, fx->head, CDS_HASH_BYTES);
    assert_int_equal(a.last_seen_ms, (int64_t) NOW);
    /* The raw envelope is kept exactly as received. */
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(fx->store),
                                         "SELECT envelope FROM batch", 0);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_int_equal(cds_sql_col_bytes(st, 0), len);
    assert_memory_equal(cds_sql_col_blob(st, 0), data, len);
    cds_sql_finalize(&st);

    /* Resend: re-acked, no effect. */
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 3);
    cds_msg_free(ack);
    assert_int_equal(count(fx, "SELECT count(*) FROM batch"), 1);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 0);
    free(data);
}

static void
test_gap(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    apply_three(fx, &data, &len);
    free(data);
    cds_update_t u[1] = { upd("C1", "CDS01", "2024", "1", 2000) };
    make_batch(fx, 5, u, 1, &(opts_t) { .keep_chain = true }, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_GAP);
    assert_int_equal(ack->acked_seq, 3);
    assert_memory_equal(ack->acked_head.data, fx->head, CDS_HASH_BYTES);
    cds_msg_free(ack);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"), 3);
    free(data);
}

static void
test_equivocation(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    apply_three(fx, &data, &len);
    free(data);
    /* Seq 1 again from the zero head, with another value. */
    memset(fx->head, 0, sizeof fx->head);
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "99", 1000) };
    make_batch(fx, 1, u, 1, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
    assert_int_equal(ack->error, CDS_EEQUIVOCATION);
    assert_int_equal(ack->acked_seq, 3); /* where the verified agent stands */
    cds_msg_free(ack);
    char *v = value_of(fx, "C1", "CDS01");
    assert_string_equal(v, "50");
    free(v);
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(fx->store),
                                         "SELECT code, seq, raw FROM reject",
                                         0);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_int_equal(cds_sql_col_int(st, 0), CDS_EEQUIVOCATION);
    assert_int_equal(cds_sql_col_int(st, 1), 1);
    assert_int_equal(cds_sql_col_bytes(st, 2), len);
    assert_memory_equal(cds_sql_col_blob(st, 2), data, len);
    cds_sql_finalize(&st);
    free(data);
}

/* A whole-message refusal: answered ACK_REFUSED with code, nothing
 * applied, one reject row with the raw bytes. */
static void
expect_refused(fx_t *fx, const uint8_t *data, size_t len, int code)
{
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
    assert_int_equal(ack->error, code);
    cds_msg_free(ack);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM reject WHERE code = %d"
             " AND length(raw) = %zu", code, len);
    assert_int_equal(count(fx, sql), 1);
}

static void
test_bad_signature(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    /* Signed for another aggregator: does not verify here. */
    make_batch(fx, 1, u, 1, &(opts_t) { .recipient =
                                        cds_identity_sign_pk(fx->other) },
               &data, &len);
    expect_refused(fx, data, len, CDS_EBADSIG);
    free(data);
}

static void
test_unknown_and_revoked_key(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 1, u, 1, &(opts_t) { .signer = fx->other }, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, fx->other);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
    assert_int_equal(ack->error, CDS_EUNKNOWNKEY);
    cds_msg_free(ack);
    free(data);
    /* Revoked: effective at once. */
    store_agent_t a;
    store_agent_find(fx->store, cds_identity_sign_pk(fx->agent), &a);
    assert_int_equal(store_agent_revoke(fx->store, a.id, 5), CDS_OK);
    memset(fx->head, 0, sizeof fx->head);
    make_batch(fx, 1, u, 1, NULL, &data, &len);
    ingest_result_t r;
    ingest_one(fx, data, len, &r);
    /* A revoked key is recorded, and answered with nothing at all. */
    assert_int_equal(r.code, CDS_EREVOKED);
    assert_null(r.reply);
    ingest_result_clear(&r);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 2);
    free(data);
}

/* A revoked key on its own authenticated connection gets ONE signed
 * Notice (when, by which key it was replaced) per INGEST_NOTICE_EVERY_MS,
 * and nothing applied; without the connection's identity, or with a
 * signature that does not verify, nothing at all. */
static void
test_revoked_notice(void **state)
{
    fx_t *fx = *state;
    uint8_t *data, *bad;
    size_t len, bad_len;
    char fpr[CDS_FPR_LEN], other_fpr[CDS_FPR_LEN];
    cds_fingerprint(cds_identity_sign_pk(fx->agent), fpr);
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    store_agent_t a;
    store_agent_find(fx->store, cds_identity_sign_pk(fx->agent), &a);
    /* Rotated: fx->other enrolled in its place. */
    const char *units[] = { "C1" };
    int64_t id = 0;
    assert_int_equal(store_agent_enroll(fx->store,
                                        cds_identity_sign_pk(fx->other),
                                        cds_identity_curve_pk(fx->other),
                                        "new", units, 1, 1, &id),
                     CDS_OK);
    assert_int_equal(store_agent_revoke(fx->store, a.id, 5), CDS_OK);
    assert_int_equal(store_agent_replaced(fx->store, a.id, id), CDS_OK);
    cds_fingerprint(cds_identity_sign_pk(fx->other), other_fpr);
    make_batch(fx, 1, u, 1, NULL, &data, &len);
    make_batch(fx, 1, u, 1, &(opts_t) { .recipient =
                                        cds_identity_sign_pk(fx->other) },
               &bad, &bad_len);
    ingest_result_t r;
    /* No connection identity (NULL user_id): silent, as before. */
    ingest_one(fx, data, len, &r);
    assert_int_equal(r.code, CDS_EREVOKED);
    assert_null(r.reply);
    ingest_result_clear(&r);
    /* Signature not for us: silent too. */
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, bad, bad_len, fpr, &r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_null(r.reply);
    ingest_result_clear(&r);
    /* Its own connection: one Notice... */
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, fpr, &r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_int_equal(r.code, CDS_EREVOKED);
    Cdsync__Notice *n = open_reply(fx, &r, fx->agent,
                                   CDSYNC__KIND__KIND_NOTICE,
                                   &cdsync__notice__descriptor);
    assert_int_equal(n->reason, CDSYNC__NOTICE_REASON__NOTICE_REVOKED);
    assert_int_equal(n->revoked_at_ms, 5);
    assert_string_equal(n->replaced_by, other_fpr);
    cds_msg_free(n);
    ingest_result_clear(&r);
    /* ...then silence until the interval has passed. */
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, fpr, &r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_null(r.reply);
    ingest_result_clear(&r);
    arrival += INGEST_NOTICE_EVERY_MS;
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, fpr, &r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_non_null(r.reply);
    ingest_result_clear(&r);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
    free(data);
    free(bad);
}

/* A stamp beyond the skew bound is applied at arrival time and flagged,
 * never refused (ingest.h "effective stamp"); old ones (> 30 days) are
 * applied and flagged in history; per-agent order raises a stamp that is
 * not after the agent's last one. */
static void
test_clock_skew_and_old(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[3] = {
        upd("C1", "CDS01", "2023", "1", NOW + 2 * 3600 * 1000ull), /* +2 h */
        upd("C1", "CDS01", "2022", "2", NOW - 40ull * 86400000ull), /* old */
        upd("C1", "CDS01", "2021", "3", NOW + 30 * 60 * 1000ull),  /* +30 m */
    };
    ingest_set_max_skew(fx->ingest, 3600 * 1000);                 /* 1 h */
    make_batch(fx, 1, u, 3, &(opts_t) { .sent_at = NOW }, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->n_rejections, 0);
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log WHERE seq = 1"
                               " AND status = 0 AND field = 'hlc' AND message"
                               " LIKE 'clamped: stamped 2 h 0 min ahead of the"
                               " aggregator clock%'"), 1);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM datavalue WHERE period ="
             " '2023' AND hlc = %llu AND signed_hlc = %llu",
             (unsigned long long) HLC(NOW),
             (unsigned long long) HLC(NOW + 2 * 3600 * 1000ull));
    assert_int_equal(count(fx, sql), 1);
    /* Old, and raised above seq 1 by the per-agent order. */
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log WHERE seq = 2"
                               " AND status = 0 AND field = 'hlc' AND message"
                               " LIKE 'old_timestamp: 40 days%'"), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM update_log WHERE seq = 2"
             " AND eff_hlc = %llu", (unsigned long long) HLC(NOW) + 1);
    assert_int_equal(count(fx, sql), 1);
    /* Within the bound: its own stamp, no flag. */
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log WHERE seq = 3"
                               " AND status = 0 AND message IS NULL"
                               " AND eff_hlc = hlc"), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM agent WHERE last_eff_hlc"
             " = %llu", (unsigned long long) HLC(NOW + 30 * 60 * 1000ull));
    assert_int_equal(count(fx, sql), 1);
}

/* The pure rule: batch shift from sent_at_ms, shift, clamp, order. */
static void
test_effective_rule(void **state)
{
    (void) state;
    const uint64_t B = 300000, H2 = 2 * 3600 * 1000ull;
    ingest_eff_t how;
    assert_int_equal(ingest_clock_shift(0, NOW, B), 0);          /* absent */
    assert_int_equal(ingest_clock_shift(NOW + B, NOW, B), 0);    /* within */
    assert_int_equal(ingest_clock_shift(NOW - B, NOW, B), 0);
    assert_int_equal(ingest_clock_shift(NOW + H2, NOW, B), (int64_t) H2);
    assert_int_equal(ingest_clock_shift(NOW - H2, NOW, B), -(int64_t) H2);
    assert_int_equal(ingest_clock_shift(UINT64_MAX, NOW, B),
                     (int64_t) 1 << 62);                         /* capped */
    /* Fast clock: shifted back, counter kept. */
    assert_int_equal(ingest_effective_hlc(HLC(NOW + H2 - 5) + 3, (int64_t) H2,
                                          NOW, B, 0, &how), HLC(NOW - 5) + 3);
    assert_int_equal(how, INGEST_EFF_SHIFTED);
    /* Slow clock: shifted forward. */
    assert_int_equal(ingest_effective_hlc(HLC(NOW - H2 - 5), -(int64_t) H2,
                                          NOW, B, 0, &how), HLC(NOW - 5));
    assert_int_equal(how, INGEST_EFF_SHIFTED);
    /* +23 h with a right sent_at: clamped to arrival. */
    assert_int_equal(ingest_effective_hlc(HLC(NOW + 23 * 3600000ull) + 9, 0,
                                          NOW, B, 0, &how), HLC(NOW));
    assert_int_equal(how, INGEST_EFF_CLAMPED);
    /* Exactly at the bound: kept. */
    assert_int_equal(ingest_effective_hlc(HLC(NOW + B), 0, NOW, B, 0, &how),
                     HLC(NOW + B));
    assert_int_equal(how, INGEST_EFF_SIGNED);
    /* Per-agent order: never at or below the agent's last stamp. */
    assert_int_equal(ingest_effective_hlc(HLC(NOW - 1000), 0, NOW, B,
                                          HLC(NOW) + 5, &how), HLC(NOW) + 6);
    assert_int_equal(how, INGEST_EFF_SIGNED);
    assert_int_equal(ingest_effective_hlc(HLC(NOW + 23 * 3600000ull), 0, NOW,
                                          B, HLC(NOW) + 5, &how),
                     HLC(NOW) + 6);
    assert_int_equal(how, INGEST_EFF_CLAMPED);
    /* Shifted below 0: saturates, then order. */
    assert_int_equal(ingest_effective_hlc(HLC(10), (int64_t) H2, NOW, B, 7,
                                          &how), 8);
}

static uint64_t
db_u64(fx_t *fx, const char *sql)
{
    return (uint64_t) sql_int(fx, sql);
}

/* One agent whose clock is 2 h fast, then 2 h slow, then on time writes
 * the same key in turn: the value entered last wins; a resend changes
 * nothing; `verify` accepts the effective stamps and catches an edit. */
static void
test_skewed_clock_merge(void **state)
{
    fx_t *fx = *state;
    const uint64_t H2 = 2 * 3600 * 1000ull;
    uint8_t *data[3];
    size_t len[3];
    ingest_set_max_skew(fx->ingest, 300000);
    cds_update_t a[1] = { upd("C1", "CDS01", "2023", "1", NOW + H2 - 1000) };
    make_batch(fx, 1, a, 1, &(opts_t) { .sent_at = NOW + H2 }, &data[0],
               &len[0]);
    cds_msg_free(send_batch(fx, data[0], len[0], NULL));
    arrival = NOW + 60000;
    cds_update_t b[1] = { upd("C1", "CDS01", "2023", "2",
                              NOW + 60000 - H2 - 1000) };
    make_batch(fx, 2, b, 1, &(opts_t) { .sent_at = NOW + 60000 - H2 },
               &data[1], &len[1]);
    cds_msg_free(send_batch(fx, data[1], len[1], NULL));
    char *v = value_of(fx, "C1", "CDS01");
    assert_string_equal(v, "2");       /* slow, but entered after */
    free(v);
    assert_int_equal(db_u64(fx, "SELECT eff_hlc FROM update_log WHERE"
                                " seq = 1"), HLC(NOW - 1000));
    assert_int_equal(db_u64(fx, "SELECT eff_hlc FROM update_log WHERE"
                                " seq = 2"), HLC(NOW + 60000 - 1000));
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log WHERE"
                               " field = 'hlc' AND message LIKE 'shifted:"
                               " agent clock 2 h 0 min %'"), 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM batch WHERE"
                               " abs(clock_shift_ms) = 7200000"), 2);
    /* Replayed an hour later: no-op, the first application fixed it. */
    arrival = NOW + H2 / 2;
    cds_msg_free(send_batch(fx, data[0], len[0], NULL));
    v = value_of(fx, "C1", "CDS01");
    assert_string_equal(v, "2");
    free(v);
    /* On time now, stamped before its own last update (the clock was set
     * back): still after it. */
    cds_update_t c[1] = { upd("C1", "CDS01", "2023", "3", NOW) };
    make_batch(fx, 3, c, 1, &(opts_t) { .sent_at = NOW + H2 / 2 }, &data[2],
               &len[2]);
    cds_msg_free(send_batch(fx, data[2], len[2], NULL));
    v = value_of(fx, "C1", "CDS01");
    assert_string_equal(v, "3");
    free(v);
    assert_int_equal(db_u64(fx, "SELECT hlc FROM datavalue"),
                     HLC(NOW + 60000 - 1000) + 1);
    assert_int_equal(db_u64(fx, "SELECT signed_hlc FROM datavalue"),
                     HLC(NOW));
    /* verify: consistent, then an effective stamp or a shift edited. */
    audit_summary_t sum;
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(audit_run(fx->store, cds_identity_sign_pk(fx->agg),
                               devnull, &sum), CDS_OK);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(cds_db_exec(store_db(fx->store), TESTDB_UNGUARD
                                 "UPDATE update_log SET"
                                 " eff_hlc = eff_hlc + 65536 WHERE seq = 1"),
                     CDS_OK);
    assert_int_equal(audit_run(fx->store, cds_identity_sign_pk(fx->agg),
                               devnull, &sum), CDS_OK);
    assert_true(sum.problems >= 1);
    assert_int_equal(cds_db_exec(store_db(fx->store), "UPDATE update_log SET"
                                 " eff_hlc = eff_hlc - 65536 WHERE seq = 1;"
                                 "UPDATE batch SET clock_shift_ms = 0"
                                 " WHERE first_seq = 2"), CDS_OK);
    assert_int_equal(audit_run(fx->store, cds_identity_sign_pk(fx->agg),
                               devnull, &sum), CDS_OK);
    assert_true(sum.problems >= 1);
    fclose(devnull);
    for (int i = 0; i < 3; i++)
        free(data[i]);
}

/* A batch signed by the agent but received over a CURVE connection whose
 * User-Id is another agent's fingerprint: refused, recorded, no answer;
 * over its own connection it applies. */
static void
test_transport_key_mismatch(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    ingest_result_t r;
    char fpr[CDS_FPR_LEN];
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 1, u, 1, NULL, &data, &len);
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, "0123456789abcdef", &r),
                     CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_int_equal(r.code, CDS_EKEYMISMATCH);
    assert_null(r.reply);
    ingest_result_clear(&r);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE code = 10"),
                     1);
    cds_fingerprint(cds_identity_sign_pk(fx->agent), fpr);
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, fpr, &r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_int_equal(r.code, CDS_OK);
    assert_non_null(r.reply);
    ingest_result_clear(&r);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 1);
    free(data);
}

static void
test_key_mismatch(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 1, u, 1, &(opts_t) { .batch_agent =
                                        cds_identity_sign_pk(fx->other) },
               &data, &len);
    expect_refused(fx, data, len, CDS_EKEYMISMATCH);
    free(data);
}

static void
test_chain_broken(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 1, u, 1, &(opts_t) { .corrupt_head = true }, &data, &len);
    expect_refused(fx, data, len, CDS_ECHAIN);
    free(data);
    /* A prev_head that is not ours. */
    memset(fx->head, 9, sizeof fx->head);
    make_batch(fx, 1, u, 1, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->error, CDS_ECHAIN);
    cds_msg_free(ack);
    free(data);
}

/* Lifetimes (docs/ORGUNITS.md): C4 ends 2023-03-31, so 2023Q1 and the
 * year 2023 (it exists on days of both) are taken, 2023Q2 is refused
 * org_unit_closed and not stored. */
static void
test_unit_lifetime(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[3] = {
        upd("C4", "CDS01", "2023", "10", 1000),     /* ok: Jan..Mar */
        upd("C4", "CDS02", "202303", "5", 1000),    /* ok: its last month */
        upd("C4", "CDS02", "202304", "5", 1000),    /* after valid_to */
    };
    make_batch(fx, 1, u, 3, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->n_rejections, 1);
    assert_int_equal(ack->rejections[0]->seq, 3);
    assert_int_equal(ack->rejections[0]->code, CDS_EUNITCLOSED);
    assert_string_equal(ack->rejections[0]->field, "period");
    assert_string_equal(ack->rejections[0]->message, "org unit \"C4\" does "
                        "not exist in 202304 (valid until 2023-03-31)");
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"
                               " WHERE status = 28 AND seq = 3"), 1);
}

/* Data approval (approval.h): CDS01 approved for D1 in 2023 locks it in
 * C1 and C2: an agent's value there is acked period_locked, kept in held
 * and not applied; another indicator, another period and the cell after
 * unapproving are applied. */
static void
test_approved_period_held(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    char err[256] = "";
    const char *inds[] = { "CDS01" };
    assert_int_equal(approval_change(fx->store, "DS", inds, 1, "D1", "2023",
                                     true, "huyen", "checked", 1, err,
                                     sizeof err), CDS_OK);
    cds_update_t u[3] = {
        upd("C1", "CDS01", "2023", "10", 1000),     /* locked: held */
        upd("C1", "CDS01", "2024", "11", 1000),     /* another period */
        upd("C2", "CDS02", "202302", "7", 1000),    /* another indicator */
    };
    make_batch(fx, 1, u, 3, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 3);
    assert_int_equal(ack->n_rejections, 1);
    assert_int_equal(ack->rejections[0]->seq, 1);
    assert_int_equal(ack->rejections[0]->code, CDS_ELOCKED);
    assert_false(ack->rejections[0]->retry);
    assert_non_null(strstr(ack->rejections[0]->message, "approved for D1 "
                           "by huyen"));
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM held WHERE seq = 1"
                               " AND value = '10'"), 1);
    assert_int_equal(approval_change(fx->store, "DS", inds, 1, "D1", "2023",
                                     false, "huyen", "reopen", 2, err,
                                     sizeof err), CDS_OK);
    cds_update_t v[1] = { upd("C1", "CDS01", "2023", "12", 2000) };
    make_batch(fx, 4, v, 1, NULL, &data, &len);
    ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->n_rejections, 0);
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue WHERE"
                               " period = '2023' AND value = '12'"), 1);
}

static void
test_per_update_rejections(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[8] = {
        upd("C1", "CDS01", "2023", "10", 1000),     /* ok */
        upd("C3", "CDS01", "2023", "10", 1000),     /* not enrolled */
        upd("ZZ", "CDS01", "2023", "10", 1000),     /* unknown org unit */
        upd("C1", "CDS99", "2023", "10", 1000),     /* unknown indicator */
        upd("C1", "CDS02", "2023Q5", "10", 1000),   /* bad period */
        upd("C1", "CDS01", "2023", "140", 1000),    /* out of range */
        upd("C2", "CDS02", "202302", "7", 1000),    /* ok */
        upd("C3", "CDS02", "202303", "7", 1000),    /* still not enrolled:
                                                     * no memo of a refusal */
    };
    make_batch(fx, 1, u, 8, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 8);
    assert_int_equal(ack->n_rejections, 6);
    const struct { uint64_t seq; int code; const char *field; } want[] = {
        { 2, CDS_ENOTALLOWED, "org_unit" },
        { 3, CDS_EUNKNOWNORGUNIT, "org_unit" },
        { 4, CDS_EUNKNOWNINDICATOR, NULL },
        { 5, CDS_EBADPERIOD, NULL },
        { 6, CDS_ERANGE, NULL },
        { 8, CDS_ENOTALLOWED, "org_unit" },
    };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(ack->rejections[i]->seq, want[i].seq);
        assert_int_equal(ack->rejections[i]->code, want[i].code);
        assert_false(ack->rejections[i]->retry);
        assert_true(strlen(ack->rejections[i]->message) > 0);
        if (want[i].field)
            assert_string_equal(ack->rejections[i]->field, want[i].field);
    }
    cds_msg_free(ack);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"), 8);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"
                               " WHERE status = 16 AND seq = 6"), 1);
    /* A resend repeats the rejections (the first ack may have been lost). */
    ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->n_rejections, 6);
    assert_int_equal(ack->rejections[4]->code, CDS_ERANGE);
    cds_msg_free(ack);
    free(data);
}

static void
test_oversized_and_garbage(void **state)
{
    fx_t *fx = *state;
    ingest_result_t r;
    size_t big = CDS_MAX_MSG_BYTES + 1;
    uint8_t *data = calloc(1, big);
    ingest_one(fx, data, big, &r);
    assert_null(r.reply);
    assert_int_equal(r.code, CDS_ETOOBIG);
    ingest_result_clear(&r);
    free(data);
    const uint8_t garbage[] = "\xff\xff\xff\xff not protobuf at all";
    ingest_one(fx, garbage, sizeof garbage, &r);
    assert_null(r.reply);
    assert_int_equal(r.code, CDS_EMALFORMED);
    ingest_result_clear(&r);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE code = 5"
                               " AND agent_pk IS NULL"), 1);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE code = 4"),
                     1);
    /* Framing rejections from the server land in the same table. */
    assert_int_equal(ingest_reject_raw(fx->ingest, CDS_EMALFORMED, "3 frames",
                                       garbage, 4, NOW), CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE code = 5"),
                     2);
}

static void
test_hello_probe(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    uint8_t head1[CDS_HASH_BYTES];
    cds_update_t u1[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 1, u1, 1, NULL, &data, &len);
    memcpy(head1, fx->head, sizeof head1);
    cds_msg_free(send_batch(fx, data, len, NULL));
    free(data);
    cds_update_t u2[2] = { upd("C1", "CDS01", "2024", "2", 1001),
                           upd("C2", "CDS01", "2024", "3", 1002) };
    make_batch(fx, 2, u2, 2, NULL, &data, &len);
    cds_msg_free(send_batch(fx, data, len, NULL));
    free(data);

    uint8_t wrong[CDS_HASH_BYTES];
    memset(wrong, 3, sizeof wrong);
    Cdsync__ChainPoint p[4], *pp[4];
    const struct { uint64_t seq; const uint8_t *head; } pts[4] = {
        { 1, head1 }, { 2, wrong }, { 3, fx->head }, { 9, wrong },
    };
    for (int i = 0; i < 4; i++) {
        cdsync__chain_point__init(&p[i]);
        p[i].seq = pts[i].seq;
        p[i].head.data = (uint8_t *) pts[i].head;
        p[i].head.len = CDS_HASH_BYTES;
        pp[i] = &p[i];
    }
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = 1;
    h.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    h.agent.len = CDS_PK_BYTES;
    h.n_probe = 4;
    h.probe = pp;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_HELLO,
                                           cds_identity_sign_pk(fx->agg),
                                           &h.base, &data, &len), CDS_OK);
    ingest_result_t r;
    ingest_one(fx, data, len, &r);
    free(data);
    Cdsync__HelloAnswer *a = open_reply(fx, &r, fx->agent,
                                        CDSYNC__KIND__KIND_HELLO_ANSWER,
                                        &cdsync__hello_answer__descriptor);
    assert_int_equal(a->error, 0);
    assert_int_equal(a->applied_seq, 3);
    assert_memory_equal(a->applied_head.data, fx->head, CDS_HASH_BYTES);
    assert_int_equal(a->probe_matched, 3);
    assert_int_equal(a->probe_mismatch, 2);
    cds_msg_free(a);
    ingest_result_clear(&r);

    /* An unknown key gets a signed refusal in HelloAnswer.error. */
    h.agent.data = (uint8_t *) cds_identity_sign_pk(fx->other);
    h.n_probe = 0;
    assert_int_equal(cds_envelope_seal_msg(fx->other, CDSYNC__KIND__KIND_HELLO,
                                           cds_identity_sign_pk(fx->agg),
                                           &h.base, &data, &len), CDS_OK);
    ingest_one(fx, data, len, &r);
    free(data);
    a = open_reply(fx, &r, fx->other, CDSYNC__KIND__KIND_HELLO_ANSWER,
                   &cdsync__hello_answer__descriptor);
    assert_int_equal(a->error, CDS_EUNKNOWNKEY);
    assert_int_equal(a->applied_seq, 0);
    cds_msg_free(a);
    ingest_result_clear(&r);
}

static void
test_heartbeat(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    apply_three(fx, &data, &len);
    free(data);
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.version = 1;
    hb.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    hb.agent.len = CDS_PK_BYTES;
    assert_int_equal(cds_envelope_seal_msg(fx->agent,
                                           CDSYNC__KIND__KIND_HEARTBEAT,
                                           cds_identity_sign_pk(fx->agg),
                                           &hb.base, &data, &len), CDS_OK);
    ingest_result_t r;
    ingest_one(fx, data, len, &r);
    free(data);
    Cdsync__HeartbeatAnswer *a = open_reply(
        fx, &r, fx->agent, CDSYNC__KIND__KIND_HEARTBEAT_ANSWER,
        &cdsync__heartbeat_answer__descriptor);
    assert_int_equal(a->applied_seq, 3);
    assert_int_equal(a->clock_ms, NOW);
    cds_msg_free(a);
    ingest_result_clear(&r);
}

/* One group: good, refused, good. The refusal rolls back only itself. */
static void
test_savepoint_per_message(void **state)
{
    fx_t *fx = *state;
    uint8_t *d1, *d2, *d3;
    size_t l1, l2, l3;
    cds_update_t a[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    cds_update_t b[1] = { upd("C1", "CDS01", "2024", "2", 1001) };
    cds_update_t c[1] = { upd("C2", "CDS01", "2024", "3", 1002) };
    make_batch(fx, 1, a, 1, NULL, &d1, &l1);
    make_batch(fx, 2, b, 1, &(opts_t) { .corrupt_head = true }, &d2, &l2);
    make_batch(fx, 2, c, 1, NULL, &d3, &l3);
    ingest_result_t r[3];
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, d1, l1, NULL, &r[0]), CDS_OK);
    assert_int_equal(ingest_as(fx, d2, l2, NULL, &r[1]), CDS_OK);
    assert_int_equal(ingest_as(fx, d3, l3, NULL, &r[2]), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_int_equal(r[0].code, CDS_OK);
    assert_int_equal(r[1].code, CDS_ECHAIN);
    assert_int_equal(r[2].code, CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 2);
    assert_int_equal(count(fx, "SELECT applied_seq FROM agent"), 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 1);

    /* If the group's COMMIT had failed, each batch is answered retry. */
    assert_int_equal(ingest_result_retry(fx->ingest, &r[2], CDS_EFULL, NOW),
                     CDS_OK);
    Cdsync__Ack *ack = open_reply(fx, &r[2], fx->agent,
                                  CDSYNC__KIND__KIND_ACK,
                                  &cdsync__ack__descriptor);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_RETRY);
    assert_int_equal(ack->error, CDS_EFULL);
    assert_int_equal(ack->batch_first, 2);
    cds_msg_free(ack);
    for (int i = 0; i < 3; i++)
        ingest_result_clear(&r[i]);

    /* BEGIN failed: answered without the database. */
    ingest_result_t busy;
    char fpr[CDS_FPR_LEN];
    cds_fingerprint(cds_identity_sign_pk(fx->agent), fpr);
    /* ... but never to a forgery: the signer is not the connection's */
    assert_int_equal(ingest_busy(fx->ingest, d3, l3, "00000000deadbeef",
                                 CDS_EBUSY, NOW, &busy), CDS_OK);
    assert_null(busy.reply);
    ingest_result_clear(&busy);
    assert_int_equal(ingest_busy(fx->ingest, d3, l3, fpr, CDS_EBUSY, NOW,
                                 &busy), CDS_OK);
    ack = open_reply(fx, &busy, fx->agent, CDSYNC__KIND__KIND_ACK,
                     &cdsync__ack__descriptor);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_RETRY);
    assert_int_equal(ack->error, CDS_EBUSY);
    assert_int_equal(ack->batch_last, 2);
    cds_msg_free(ack);
    ingest_result_clear(&busy);
    free(d1);
    free(d2);
    free(d3);
}

static void
test_bad_seq_and_too_many(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 0, u, 1, &(opts_t) { .keep_chain = true }, &data, &len);
    expect_refused(fx, data, len, CDS_EBADSEQ);
    free(data);
    /* 1001 updates: over the count bound, refused before anything else. */
    size_t n = CDS_MAX_BATCH_UPDATES + 1;
    Cdsync__Update one = CDSYNC__UPDATE__INIT, **many = calloc(n, sizeof *many);
    cds_update_to_pb(&u[0], &one);
    for (size_t i = 0; i < n; i++)
        many[i] = &one;
    uint8_t zero[CDS_HASH_BYTES] = { 0 };
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = 1;
    b.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = 1;
    b.last_seq = n;
    b.prev_head.data = b.head.data = zero;
    b.prev_head.len = b.head.len = CDS_HASH_BYTES;
    b.n_updates = n;
    b.updates = many;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_BATCH,
                                           cds_identity_sign_pk(fx->agg),
                                           &b.base, &data, &len), CDS_OK);
    free(many);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
    assert_int_equal(ack->error, CDS_ETOOBIG);
    cds_msg_free(ack);
    free(data);
}

/* A batch overlapping what was applied: the new part is applied. */
static void
test_overlap(void **state)
{
    fx_t *fx = *state;
    uint8_t *data, h2[CDS_HASH_BYTES];
    size_t len;
    cds_update_t a[2] = { upd("C1", "CDS01", "2021", "1", 1000),
                          upd("C1", "CDS01", "2022", "2", 1001) };
    make_batch(fx, 1, a, 2, NULL, &data, &len);
    cds_msg_free(send_batch(fx, data, len, NULL));
    free(data);
    memcpy(h2, fx->head, sizeof h2);
    cds_update_t b[2] = { upd("C1", "CDS01", "2023", "3", 1002),
                          upd("C1", "CDS01", "2024", "4", 1003) };
    make_batch(fx, 3, b, 1, NULL, &data, &len);
    cds_msg_free(send_batch(fx, data, len, NULL));
    free(data);
    memcpy(fx->head, h2, sizeof h2);
    make_batch(fx, 3, b, 2, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 4);
    assert_memory_equal(ack->acked_head.data, fx->head, CDS_HASH_BYTES);
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"), 4);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 4);
}

/* Ingest over a CURVE connection whose User-Id is user_id: recorded
 * key_mismatch and not answered at all. */
static void
expect_silent(fx_t *fx, const uint8_t *data, size_t len, const char *user_id)
{
    ingest_result_t r;
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(ingest_as(fx, data, len, user_id, &r), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_int_equal(r.code, CDS_EKEYMISMATCH);
    assert_null(r.reply);
    ingest_result_clear(&r);
}

/* A forgery: a message claiming another enrolled agent (or an unknown
 * key), sent over a CURVE connection that is not that signer's, gets no
 * answer at all whatever else is wrong with it (here: a bad signature,
 * an unknown key, a hello of another version), and is recorded
 * key_mismatch. */
static void
test_forgery_gets_no_answer(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    char other_fpr[CDS_FPR_LEN], agent_fpr[CDS_FPR_LEN];
    cds_fingerprint(cds_identity_sign_pk(fx->other), other_fpr);
    cds_fingerprint(cds_identity_sign_pk(fx->agent), agent_fpr);
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    /* claims fx->agent, signature does not verify, on other's connection */
    make_batch(fx, 1, u, 1, &(opts_t) { .recipient =
                                        cds_identity_sign_pk(fx->other),
                                        .keep_chain = true }, &data, &len);
    expect_silent(fx, data, len, other_fpr);
    free(data);
    /* an unknown signer over the enrolled agent's connection */
    make_batch(fx, 1, u, 1, &(opts_t) { .signer = fx->other,
                                        .keep_chain = true }, &data, &len);
    expect_silent(fx, data, len, agent_fpr);
    free(data);
    /* a hello of a version we refuse, claiming fx->agent */
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = 99;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_HELLO,
                                           cds_identity_sign_pk(fx->agg),
                                           &h.base, &data, &len), CDS_OK);
    expect_silent(fx, data, len, other_fpr);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE code = 10"
                               " AND field = 'signer'"), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE code != 10"),
                     0);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
    /* the same bad-signature batch on no CURVE connection: answered */
    make_batch(fx, 1, u, 1, &(opts_t) { .recipient =
                                        cds_identity_sign_pk(fx->other),
                                        .keep_chain = true }, &data, &len);
    expect_refused(fx, data, len, CDS_EBADSIG);
    free(data);
}

/* A NUL byte inside any string of any Update (or the batch's own
 * catalog_version) refuses the whole batch malformed, answered to its
 * signer and recorded with the field's path. */
static void
test_nul_in_strings(void **state)
{
    fx_t *fx = *state;
    const char *fields[] = { "org_unit", "indicator", "period", "disagg",
                             "value", "comment", "stored_by",
                             "catalog_version" };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        cds_update_t u[2] = { upd("C1", "CDS01", "2023", "1", 1000),
                              upd("C1", "CDS01", "2022", "77", 1000) };
        const char **slot[] = { &u[1].org_unit, &u[1].indicator,
                                &u[1].period, &u[1].disagg, &u[1].value,
                                &u[1].comment, &u[1].stored_by, NULL };
        opts_t o = { .nul_marker = true, .keep_chain = true };
        if (slot[f])
            *slot[f] = "77" NUL_MARKER;
        else
            o.catalog_version = "cat" NUL_MARKER;
        uint8_t *data;
        size_t len;
        make_batch(fx, 1, u, 2, &o, &data, &len);
        Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
        assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
        assert_int_equal(ack->error, CDS_EMALFORMED);
        cds_msg_free(ack);
        free(data);
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM reject WHERE code = 5"
                 " AND field = '%s%s' AND message LIKE '%%NUL byte%%'",
                 slot[f] ? "updates[1]." : "", fields[f]);
        assert_int_equal(count(fx, sql), 1);
    }
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"), 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
}

/* Control bytes in text fields: a per-update rejection naming the field
 * (the rest of the batch applies); TAB LF CR are fine in a comment. */
static void
test_control_bytes_per_update(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    cds_update_t u[5] = {
        upd("C1", "CDS01", "2023", "1", 1000),
        upd("C1", "CDS01", "2022", "2", 1000),
        upd("C1", "CDS01", "2021", "3", 1000),
        upd("C1", "CDS01", "2020", "4", 1000),
        upd("C1", "CDS01", "2019", "5", 1000),
    };
    u[0].stored_by = "nurse\x1b[2J";
    u[1].stored_by = "nurse\r\nforged";
    u[2].comment = "a\x07" "b";
    u[3].comment = "line 1\r\nline 2\tend";              /* fine */
    u[4].value = "5\x7f";
    make_batch(fx, 1, u, 5, NULL, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    assert_int_equal(ack->acked_seq, 5);
    assert_int_equal(ack->n_rejections, 4);
    const char *want[] = { "storedby", "storedby", "comment", "value" };
    const uint64_t seqs[] = { 1, 2, 3, 5 };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ack->rejections[i]->seq, seqs[i]);
        assert_int_equal(ack->rejections[i]->code, CDS_EBADFIELD);
        assert_string_equal(ack->rejections[i]->field, want[i]);
    }
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 1);
}

/* catalog_version and agent_version: printable ASCII of at most 64
 * bytes, else the whole message is refused naming the field. */
static void
test_version_strings(void **state)
{
    fx_t *fx = *state;
    uint8_t *data;
    size_t len;
    size_t huge = 1u << 20;
    char *big = malloc(huge + 1);
    assert_non_null(big);
    memset(big, 'v', huge);
    big[huge] = '\0';
    cds_update_t u[1] = { upd("C1", "CDS01", "2023", "1", 1000) };
    make_batch(fx, 1, u, 1, &(opts_t) { .catalog_version = big,
                                        .keep_chain = true }, &data, &len);
    expect_refused(fx, data, len, CDS_ETOOBIG);
    free(data);
    make_batch(fx, 1, u, 1, &(opts_t) { .catalog_version = "v1\x1b",
                                        .keep_chain = true }, &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
    assert_int_equal(ack->error, CDS_EBADFIELD);
    cds_msg_free(ack);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE field ="
                               " 'catalog_version'"), 2);
    /* a hello with a 1 MiB agent_version */
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = 1;
    h.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    h.agent.len = CDS_PK_BYTES;
    h.agent_version = big;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_HELLO,
                                           cds_identity_sign_pk(fx->agg),
                                           &h.base, &data, &len), CDS_OK);
    ingest_result_t r;
    ingest_one(fx, data, len, &r);
    assert_int_equal(r.code, CDS_ETOOBIG);
    Cdsync__HelloAnswer *a = open_reply(fx, &r, fx->agent,
                                        CDSYNC__KIND__KIND_HELLO_ANSWER,
                                        &cdsync__hello_answer__descriptor);
    assert_int_equal(a->error, CDS_ETOOBIG);
    cds_msg_free(a);
    ingest_result_clear(&r);
    free(data);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE field ="
                               " 'agent_version'"), 1);
    free(big);
}

/* ---- published metadata versions (metaver.h) ----------------------------- */

#define CAT_HEAD "code,name_vi,value_type,period_type,min,max\n"
#define CAT_BASE CAT_HEAD "CDS01,Tỷ lệ,PERCENTAGE,,,\n"                       \
                 "CDS02,Số cán bộ,INTEGER,Monthly,0,1000\n"

/* Store version n with catalog.csv = text, signed with signer's key as
 * `metadata publish` signs with the aggregator's; *hash: its catalog
 * version. */
static void
publish_as(fx_t *fx, int64_t n, const char *text, char hash[33],
           const cds_identity_t *signer)
{
    char err[256];
    cds_catalog_t *cat = cds_catalog_parse("catalog.csv", text, strlen(text),
                                           err, sizeof err);
    assert_non_null(cat);
    snprintf(hash, 33, "%s", cds_catalog_version(cat));
    cds_catalog_destroy(&cat);
    Cdsync__MetadataFile f = CDSYNC__METADATA_FILE__INIT, *fp = &f;
    f.name = (char *) "catalog.csv";
    f.content.data = (uint8_t *) text;
    f.content.len = strlen(text);
    Cdsync__MetadataBundle b = CDSYNC__METADATA_BUNDLE__INIT;
    b.format = 1;
    b.version = (uint64_t) n;
    b.n_files = 1;
    b.files = &fp;
    store_metadata_t m = { .version = n, .published_ms = (int64_t) NOW,
                           .summary = (char *) "test" };
    m.bundle = cds_msg_encode(&b.base, &m.bundle_len);
    assert_non_null(m.bundle);
    const uint8_t *pk = cds_identity_sign_pk(fx->agg);
    assert_int_equal(cds_sign_body(signer, CDSYNC__KIND__KIND_METADATA, pk,
                                   m.bundle, m.bundle_len, m.signature), 0);
    memcpy(m.signer, cds_identity_sign_pk(signer), CDS_PK_BYTES);
    assert_int_equal(store_metadata_add(fx->store, &m), CDS_OK);
    free(m.bundle);
}

static void
publish(fx_t *fx, int64_t n, const char *text, char hash[33])
{
    publish_as(fx, n, text, hash, fx->agg);
}

/* update_log.meta_version of the agent's seq (0: NULL). */
static int64_t
meta_of(fx_t *fx, uint64_t seq)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT coalesce(meta_version, 0) FROM "
             "update_log WHERE seq = %llu", (unsigned long long) seq);
    return sql_int(fx, sql);
}

/* One batch of u stamped catalog_version; the codes of its rejections
 * by position (CDS_OK: applied) must be want. */
static void
send_stamped(fx_t *fx, cds_update_t *u, size_t n, const char *cv,
             const int *want)
{
    uint8_t *data;
    size_t len;
    make_batch(fx, fx->seq + 1, u, n, &(opts_t) { .catalog_version = cv },
               &data, &len);
    Cdsync__Ack *ack = send_batch(fx, data, len, NULL);
    assert_int_equal(ack->status, CDSYNC__ACK_STATUS__ACK_OK);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (want[i] == CDS_OK)
            continue;
        assert_true(k < ack->n_rejections);
        assert_int_equal(ack->rejections[k]->seq, u[i].seq);
        assert_int_equal(ack->rejections[k]->code, want[i]);
        k++;
    }
    assert_int_equal(ack->n_rejections, k);
    cds_msg_free(ack);
    free(data);
}

/* Issue 20 item 3: a batch stamped with a published version is checked
 * against that version's catalog and its history names the version; a
 * batch stamped with the configured catalog, or an unknown version,
 * against the configured one (meta_version NULL); a version published
 * after the set was loaded is found without a reload. */
static void
test_published_versions(void **state)
{
    fx_t *fx = *state;
    char h1[33], h2[33];
    publish(fx, 1, CAT_BASE "CDS09,Chỉ số cũ,INTEGER,,,\n", h1);
    metaver_t *set = NULL;
    assert_int_equal(metaver_load(fx->store, cds_identity_sign_pk(fx->agg),
                                  &set), CDS_OK);
    assert_int_equal(metaver_count(set), 1);
    int64_t v = -1;
    const cds_catalog_t *cfg = fx->catalog;
    assert_ptr_not_equal(ingest_choose_catalog(cfg, set, h1, &v), cfg);
    assert_int_equal(v, 1);
    assert_ptr_equal(ingest_choose_catalog(cfg, set, cds_catalog_version(cfg),
                                           &v), cfg);
    assert_int_equal(v, 0);
    assert_ptr_equal(ingest_choose_catalog(cfg, set, "", &v), cfg);
    assert_ptr_equal(ingest_choose_catalog(cfg, set, "0123abcd", &v), cfg);
    assert_int_equal(v, 0);
    assert_ptr_equal(ingest_choose_catalog(cfg, NULL, h1, &v), cfg);
    assert_int_equal(ingest_set_versions(fx->ingest, set), CDS_OK);
    assert_int_equal(ingest_versions_latest(fx->ingest), 1);

    /* v1 still knows CDS09: accepted, history names version 1 */
    cds_update_t a[2] = { upd("C1", "CDS09", "2023", "5", 1000),
                          upd("C1", "CDS03", "2023", "5", 1001) };
    send_stamped(fx, a, 2, h1, (int[]) { CDS_OK, CDS_EUNKNOWNINDICATOR });
    assert_int_equal(meta_of(fx, 1), 1);
    assert_int_equal(meta_of(fx, 2), 1);
    /* the configured catalog never had CDS09: as before */
    cds_update_t b[1] = { upd("C1", "CDS09", "2023", "6", 2000) };
    send_stamped(fx, b, 1, cds_catalog_version(cfg),
                 (int[]) { CDS_EUNKNOWNINDICATOR });
    assert_int_equal(meta_of(fx, 3), 0);
    /* version 2 retires CDS09 and adds CDS03, published after the load */
    publish(fx, 2, CAT_BASE "CDS03,Chỉ số mới,INTEGER,,,\n", h2);
    cds_update_t c[2] = { upd("C1", "CDS09", "2023", "7", 3000),
                          upd("C1", "CDS03", "2023", "7", 3001) };
    send_stamped(fx, c, 2, h2, (int[]) { CDS_EUNKNOWNINDICATOR, CDS_OK });
    assert_int_equal(ingest_versions_latest(fx->ingest), 2);
    assert_int_equal(meta_of(fx, 4), 2);
    assert_int_equal(meta_of(fx, 5), 2);
    /* an agent still on version 1 */
    cds_update_t d[1] = { upd("C2", "CDS09", "2023", "8", 4000) };
    send_stamped(fx, d, 1, h1, (int[]) { CDS_OK });
    assert_int_equal(meta_of(fx, 6), 1);
    char *val = value_of(fx, "C2", "CDS09");
    assert_string_equal(val, "8");
    free(val);
    /* an unknown stamp: the configured catalog, nothing loaded again */
    cds_update_t e[1] = { upd("C1", "CDS01", "2023", "9", 5000) };
    send_stamped(fx, e, 1, "feedfeedfeedfeedfeedfeedfeedfeed",
                 (int[]) { CDS_OK });
    assert_int_equal(meta_of(fx, 7), 0);
    /* a stored version not signed by our key is never trusted: the
     * configured catalog, and it is not looked for again */
    char h3[33];
    publish_as(fx, 3, CAT_BASE "CDS04,Giả,INTEGER,,,\n", h3, fx->other);
    cds_update_t f[1] = { upd("C1", "CDS04", "2023", "1", 6000) };
    send_stamped(fx, f, 1, h3, (int[]) { CDS_EUNKNOWNINDICATOR });
    assert_int_equal(meta_of(fx, 8), 0);
    assert_int_equal(ingest_versions_latest(fx->ingest), 3);
}

int
main(void)
{
    cds_log_init("ingest_test", CDS_LOG_ERROR);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    /* Every test; on PostgreSQL (tests/integration/pg_store.sh) all but
     * the one that edits history past SQLite's triggers for `verify`. */
#define BOTH_STORES                                                          \
    T(test_happy_path_and_resend), T(test_gap), T(test_equivocation),        \
    T(test_bad_signature), T(test_unknown_and_revoked_key),                  \
    T(test_revoked_notice),                                                  \
    T(test_transport_key_mismatch), T(test_clock_skew_and_old),              \
    T(test_effective_rule),                                                  \
    T(test_key_mismatch), T(test_chain_broken),                              \
    T(test_per_update_rejections), T(test_unit_lifetime),                  \
    T(test_approved_period_held),                                            \
    T(test_oversized_and_garbage),                                           \
    T(test_hello_probe), T(test_heartbeat), T(test_savepoint_per_message),   \
    T(test_bad_seq_and_too_many), T(test_overlap),                           \
    T(test_forgery_gets_no_answer), T(test_nul_in_strings),                  \
    T(test_control_bytes_per_update), T(test_version_strings),         \
    T(test_published_versions)
    const struct CMUnitTest tests[] = { BOTH_STORES,
                                        T(test_skewed_clock_merge) };
    const struct CMUnitTest on_pg[] = { BOTH_STORES };
    pg_url = testpg_url();
    int failed = pg_url ? cmocka_run_group_tests_name("inline_pg", on_pg,
                                                      NULL, NULL)
                        : cmocka_run_group_tests_name("inline", tests, NULL,
                                                      NULL);
    prepared_run = true;
    failed += pg_url ? cmocka_run_group_tests_name("prepared_pg", on_pg,
                                                   NULL, NULL)
                     : cmocka_run_group_tests_name("prepared", tests, NULL,
                                                   NULL);
    return failed;
}
