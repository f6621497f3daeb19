/*  rejects_test: listing, showing and retrying both kinds of rejection
 *  against a real store and ingest: a garbage message stays refused and
 *  adds no row; a HELLO refused before its key was enrolled is accepted on
 *  retry; a per-update rejection (unknown indicator) stays rejected with
 *  the old catalog, is merged with its original HLC after the catalog
 *  gained the indicator, flips exactly once, and is counted by health;
 *  bad identifiers are usage errors. Every public function of rejects.h.
 *  On SQLite, and again on PostgreSQL when CDS_TEST_PG_URL is set
 *  (testpg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdir.h"
#include "testpg.h"
#include "cds_catalog.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "health.h"
#include "ingest.h"
#include "rejects.h"
#include "store.h"

#define NOW 1800000000000ull

typedef struct {
    char dir[64];
    store_t *store;
    cds_identity_t *me, *agent;
    cds_catalog_t *old_cat, *new_cat;
    health_t *health;
    int64_t agent_id;
    char fpr[CDS_FPR_LEN];
} fx_t;


static void
write_file(const char *dir, const char *name, const char *text, char *path,
           size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define CAT_HEAD "code,name_vi,name_en,unit,value_type,aggregation," \
    "period_type,min,max,numerator,denominator,source,period_rollup\n"
#define CAT_A "A,Chỉ tiêu A,A,n,INTEGER,SUM,Monthly,0,,,,t,SUM\n"
#define CAT_B "B,Chỉ tiêu B,B,n,INTEGER,SUM,Monthly,0,,,,t,SUM\n"

static cds_identity_t *
identity(const char *dir, const char *name)
{
    char path[160], err[256];
    int e = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(cds_identity_generate(path, name), CDS_OK);
    cds_identity_t *id = cds_identity_load(path, &e, err, sizeof err);
    assert_non_null(id);
    return id;
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char path[160], err[256];
    strcpy(fx->dir, "/tmp/rejects_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    write_file(fx->dir, "ou.csv", "code,name,parent\nD,Huyện,\nC1,Xã 1,D\n",
               path, sizeof path);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    write_file(fx->dir, "old.csv", CAT_HEAD CAT_A, path, sizeof path);
    fx->old_cat = cds_catalog_load(path, err, sizeof err);
    write_file(fx->dir, "new.csv", CAT_HEAD CAT_A CAT_B, path, sizeof path);
    fx->new_cat = cds_catalog_load(path, err, sizeof err);
    assert_non_null(fx->old_cat);
    assert_non_null(fx->new_cat);
    char url[512];
    snprintf(path, sizeof path, "%s/agg.db", fx->dir);
    int e = 0;
    fx->store = store_open(testpg_is_pg(state) ? testpg_fresh(url, sizeof url)
                                               : path, 0, &e);
    assert_non_null(fx->store);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    fx->me = identity(fx->dir, "agg.key");
    fx->agent = identity(fx->dir, "agent.key");
    fx->health = health_new(fx->store);
    assert_non_null(fx->health);
    cds_fingerprint(cds_identity_sign_pk(fx->agent), fx->fpr);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    health_destroy(&fx->health);
    store_destroy(&fx->store);
    cds_catalog_destroy(&fx->old_cat);
    cds_catalog_destroy(&fx->new_cat);
    cds_identity_destroy(&fx->me);
    cds_identity_destroy(&fx->agent);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
enroll(fx_t *fx)
{
    const char *units[] = { "C1" };
    assert_int_equal(store_agent_enroll(fx->store,
                                        cds_identity_sign_pk(fx->agent),
                                        cds_identity_curve_pk(fx->agent),
                                        "xa1", units, 1, (int64_t) NOW,
                                        &fx->agent_id), CDS_OK);
}

static int64_t
count(fx_t *fx, const char *sql)
{
    return testsql_int(store_sql(fx->store), sql);
}

static void
test_messages(void **state)
{
    fx_t *fx = *state;
    /* A garbage frame and a HELLO from a key not enrolled yet. */
    assert_int_equal(store_reject_add(fx->store, (int64_t) NOW, NULL,
                                      CDS_EMALFORMED, "envelope", "junk", 0,
                                      0, 0, (const uint8_t *) "\xff\x01", 2),
                     CDS_OK);
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    h.agent.len = CDS_PK_BYTES;
    uint8_t *raw = NULL;
    size_t len = 0;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_HELLO,
                                           cds_identity_sign_pk(fx->me),
                                           &h.base, &raw, &len), CDS_OK);
    assert_int_equal(store_reject_add(fx->store, (int64_t) NOW,
                                      cds_identity_sign_pk(fx->agent),
                                      CDS_EUNKNOWNKEY, "signer",
                                      "key is not enrolled", 0, 0, 0, raw,
                                      len), CDS_OK);
    free(raw);
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    rejects_filter_t f = { .code = -1 };
    assert_int_equal(rejects_list(fx->store, &f, out), CDS_OK);
    f.code = CDS_EUNKNOWNKEY;
    f.json = true;
    assert_int_equal(rejects_list(fx->store, &f, out), CDS_OK);
    assert_int_equal(rejects_show(fx->store, fx->me, "1", out), CDS_OK);
    assert_int_equal(rejects_show(fx->store, fx->me, "2", out), CDS_OK);
    assert_int_equal(rejects_show(fx->store, fx->me, "3", out),
                     CDS_ENOTFOUND);
    assert_int_equal(rejects_show(fx->store, NULL, "x1", out), CDS_EUSAGE);
    fclose(out);
    assert_non_null(strstr(buf, "malformed"));
    assert_non_null(strstr(buf, "\"reason\": \"unknown_key\""));
    assert_null(strstr(strstr(buf, "[") ? strstr(buf, "[") : buf,
                       "\"reason\": \"malformed\""));
    assert_non_null(strstr(buf, "envelope:    does not decode"));
    assert_non_null(strstr(buf, "kind 1 (KIND_HELLO)"));
    assert_non_null(strstr(buf, fx->fpr));
    assert_non_null(strstr(buf, "valid for this aggregator"));
    free(buf);

    ingest_t *ing = ingest_new(fx->store, fx->me, fx->old_cat);
    ingest_set_health(ing, fx->health);
    int result = CDS_OK;
    out = open_memstream(&buf, &blen);
    assert_int_equal(rejects_retry(fx->store, ing, fx->health, "1", NOW,
                                   &result, out), CDS_OK);
    assert_int_equal(result, CDS_EMALFORMED);
    assert_int_equal(rejects_retry(fx->store, ing, fx->health, "2", NOW,
                                   &result, out), CDS_OK);
    assert_int_equal(result, CDS_EUNKNOWNKEY);
    /* Refused again: rolled back, so still two rows. */
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 2);
    enroll(fx);
    assert_int_equal(rejects_retry(fx->store, ing, fx->health, "2", NOW + 1,
                                   &result, out), CDS_OK);
    assert_int_equal(result, CDS_OK);
    fclose(out);
    assert_non_null(strstr(buf, "2: accepted"));
    free(buf);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 2);
    assert_int_equal(count(fx, "SELECT retry_result FROM reject WHERE id=2"),
                     0);
    assert_int_equal(count(fx, "SELECT last_seen_ms FROM agent"), NOW + 1);
    ingest_destroy(&ing);
}

/* Stored, rejected update seq 1 for indicator B (unknown to old_cat),
 * from a clock 4 s slow: its effective stamp, fixed at arrival, is 4 s
 * later than the signed one. */
static void
rejected_update(fx_t *fx)
{
    cds_update_t u = { .seq = 1, .org_unit = "C1", .indicator = "B",
                       .period = "202501", .disagg = "default",
                       .value = "42", .hlc = ((NOW - 5000) << 16) };
    uint8_t hash[32], head[32], zero[32] = { 0 };
    int64_t batch = 0;
    cds_update_hash(&u, hash);
    cds_chain_next(zero, hash, head);
    assert_int_equal(store_batch_add(fx->store, fx->agent_id, 1, 1,
                                     (int64_t) NOW, (const uint8_t *) "b", 1,
                                     &batch), CDS_OK);
    assert_int_equal(store_log_add_eff(fx->store, fx->agent_id, batch, &u,
                                       (NOW - 1000) << 16, hash, head,
                                       CDS_EUNKNOWNINDICATOR, "indicator",
                                       "indicator \"B\" is not in the "
                                       "catalog", (int64_t) NOW), CDS_OK);
    assert_int_equal(store_agent_advance(fx->store, fx->agent_id, 1, head),
                     CDS_OK);
}

static void
test_updates(void **state)
{
    fx_t *fx = *state;
    enroll(fx);
    rejected_update(fx);
    char id[64], *buf = NULL;
    size_t blen = 0;
    int result = CDS_OK;
    snprintf(id, sizeof id, "%s:1", fx->fpr);
    FILE *out = open_memstream(&buf, &blen);
    assert_int_equal(rejects_show(fx->store, NULL, id, out), CDS_OK);
    ingest_t *old_ing = ingest_new(fx->store, fx->me, fx->old_cat);
    ingest_t *new_ing = ingest_new(fx->store, fx->me, fx->new_cat);
    assert_int_equal(rejects_retry(fx->store, old_ing, fx->health, id, NOW,
                                   &result, out), CDS_OK);
    assert_int_equal(result, CDS_EUNKNOWNINDICATOR);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 0);
    assert_int_equal(rejects_retry(fx->store, new_ing, fx->health, id,
                                   NOW + 7, &result, out), CDS_OK);
    assert_int_equal(result, CDS_OK);
    assert_int_equal(rejects_retry(fx->store, new_ing, fx->health, id,
                                   NOW + 8, &result, out), CDS_OK);
    assert_int_equal(rejects_show(fx->store, NULL, id, out), CDS_OK);
    assert_int_equal(rejects_show(fx->store, NULL, "0000:1", out),
                     CDS_ENOTFOUND);
    assert_int_equal(rejects_retry(fx->store, new_ing, fx->health, "a:b",
                                   NOW, &result, out), CDS_EUSAGE);
    fclose(out);
    assert_non_null(strstr(buf, "reason:      unknown_indicator"));
    assert_non_null(strstr(buf, "still rejected: unknown_indicator"));
    assert_non_null(strstr(buf, ":1: applied"));
    assert_non_null(strstr(buf, "already applied"));
    assert_non_null(strstr(buf, "-> applied"));
    free(buf);
    /* Merged with the effective stamp of its arrival, not a new one (it
     * must not jump ahead of later writes), the signed one kept; flipped
     * exactly once; counted. */
    assert_int_equal(count(fx, "SELECT value FROM datavalue WHERE "
                               "indicator='B'"), 42);
    assert_int_equal(count(fx, "SELECT hlc FROM datavalue"),
                     (int64_t) ((NOW - 1000) << 16));
    assert_int_equal(count(fx, "SELECT signed_hlc FROM datavalue"),
                     (int64_t) ((NOW - 5000) << 16));
    assert_int_equal(count(fx, "SELECT count(*) FROM update_status"), 1);
    assert_int_equal(count(fx, "SELECT from_status FROM update_status"),
                     CDS_EUNKNOWNINDICATOR);
    assert_int_equal(count(fx, "SELECT at_ms FROM update_status"), NOW + 7);
    assert_int_equal(count(fx, "SELECT status FROM update_status"), 0);
    /* history itself is not edited: the row keeps its arrival reason */
    assert_int_equal(count(fx, "SELECT status FROM update_log"),
                     CDS_EUNKNOWNINDICATOR);
    assert_int_equal(count(fx, "SELECT accepted_total FROM agent_health"), 1);
    /* Listed with its first reason and the retry. */
    out = open_memstream(&buf, &blen);
    rejects_filter_t f = { .code = -1, .agent = "xa1", .json = true };
    assert_int_equal(rejects_list(fx->store, &f, out), CDS_OK);
    fclose(out);
    assert_non_null(strstr(buf, "\"retry_result\": \"ok\""));
    free(buf);
    /* A revoked agent's updates are not retried. */
    assert_int_equal(store_agent_revoke(fx->store, fx->agent_id, NOW),
                     CDS_OK);
    out = open_memstream(&buf, &blen);
    assert_int_equal(rejects_retry(fx->store, new_ing, fx->health, id, NOW,
                                   &result, out), CDS_OK);
    fclose(out);
    free(buf);
    assert_int_equal(result, CDS_EREVOKED);
    ingest_destroy(&old_ing);
    ingest_destroy(&new_ing);
}

/* Bounded on disk: per peer only the first N rejects of an hour keep
 * their raw bytes, the rest a digest (kind, size, reason); a new hour
 * keeps raw again; under the free-space floor only digests; `show` says
 * so; prune deletes rows past a cutoff, in steps. */
/* Reject rows of signer pk that kept their raw bytes. */
static int64_t
count_raw_of(fx_t *fx, const uint8_t pk[CDS_PK_BYTES])
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(fx->store),
                                         "SELECT count(*) FROM reject WHERE"
                                         " raw IS NOT NULL AND agent_pk = :pk",
                                         0);
    assert_non_null(st);
    cds_sql_bind_blob(st, ":pk", pk, CDS_PK_BYTES);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    int64_t n = cds_sql_col_int64(st, 0);
    cds_sql_finalize(&st);
    return n;
}

static void
test_bounds(void **state)
{
    fx_t *fx = *state;
    uint8_t raw[300], pk_a[CDS_PK_BYTES], pk_b[CDS_PK_BYTES];
    memset(raw, 0xab, sizeof raw);
    memset(pk_a, 1, sizeof pk_a);
    memset(pk_b, 2, sizeof pk_b);
    store_set_reject_bounds(fx->store, 3, 0, 0);
    for (int i = 0; i < 10; i++) {
        raw[0] = (uint8_t) i;                  /* ten different messages */
        assert_int_equal(store_reject_add_kind(fx->store, (int64_t) NOW + i,
                                               pk_a, 3, CDS_EBADSIG,
                                               "signature", "x", 0, 0, 0,
                                               raw, sizeof raw), CDS_OK);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_reject_add(fx->store, (int64_t) NOW, pk_b,
                                          CDS_EBADSIG, NULL, "x", 0, 0, 0,
                                          raw, sizeof raw), CDS_OK);
    for (int i = 0; i < 5; i++)                /* no signer: one bucket */
        assert_int_equal(store_reject_add(fx->store, (int64_t) NOW, NULL,
                                          CDS_EMALFORMED, NULL, "x", 0, 0, 0,
                                          raw, sizeof raw), CDS_OK);
    assert_int_equal(count_raw_of(fx, pk_a), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE raw IS NULL"
                               " AND raw_size = 300 AND length(raw_digest) ="
                               " 32 AND kind = 3"), 7);
    assert_int_equal(count(fx, "SELECT count(DISTINCT raw_digest) FROM"
                               " reject WHERE kind = 3"), 10);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE raw IS NOT"
                               " NULL AND agent_pk IS NULL"), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE raw IS NOT"
                               " NULL"), 3 + 2 + 3);
    /* an hour later the quota is back */
    assert_int_equal(store_reject_add(fx->store, (int64_t) NOW + 3600010,
                                      pk_a, CDS_EBADSIG, NULL, "x", 0, 0, 0,
                                      raw, sizeof raw), CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject WHERE raw IS NOT"
                               " NULL"), 9);
    /* under the free-space floor (a floor no disk has): digests only */
    store_set_reject_bounds(fx->store, 3, 0, UINT64_MAX / 2);
    assert_int_equal(store_reject_add(fx->store, (int64_t) NOW + 7200000,
                                      pk_b, CDS_EBADSIG, NULL, "x", 0, 0, 0,
                                      raw, sizeof raw), CDS_OK);
    /* (the floor is the free space beside the SQLite file; a PostgreSQL
     * server's disk is its administrator's: no floor there) */
    if (cds_sql_backend(store_sql(fx->store)) == CDS_SQL_SQLITE)
        assert_int_equal(count(fx, "SELECT raw IS NULL FROM reject WHERE"
                                   " at_ms = 1800007200000"), 1);
    /* show: a digest-only row says so */
    char *buf = NULL;
    size_t blen = 0;
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long) count(fx,
             "SELECT id FROM reject WHERE raw IS NULL LIMIT 1"));
    FILE *out = open_memstream(&buf, &blen);
    assert_int_equal(rejects_show(fx->store, NULL, id, out), CDS_OK);
    fclose(out);
    assert_non_null(strstr(buf, "NOT kept, digest only: 300 bytes"));
    free(buf);
    /* prune: everything before NOW + 1 h goes, the rest stays */
    int64_t n = -1;
    int64_t before = count(fx, "SELECT count(*) FROM reject");
    assert_int_equal(rejects_prune(fx->store, (int64_t) NOW + 3600000, &n),
                     CDS_OK);
    assert_int_equal(n, before - 2);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 2);
    /* the retention setting prunes as rejects arrive */
    store_set_reject_bounds(fx->store, 3, 1000, 0);
    assert_int_equal(store_reject_add(fx->store, (int64_t) NOW + 9000000,
                                      NULL, CDS_EMALFORMED, NULL, "x", 0, 0,
                                      0, raw, sizeof raw), CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 1);
}

/* An update refused too_big is stored once: its oversized field is in the
 * kept batch, not again in the history row; retry says it stays big. */
static void
test_too_big_update_stored_once(void **state)
{
    fx_t *fx = *state;
    enroll(fx);
    char *big = malloc(100001);
    assert_non_null(big);
    memset(big, '7', 100000);
    big[100000] = '\0';
    cds_update_t u = { .seq = 1, .org_unit = "C1", .indicator = "A",
                       .period = "202301", .disagg = "default",
                       .value = big, .stored_by = "o",
                       .hlc = (NOW - 5000) << 16 };
    uint8_t hash[CDS_HASH_BYTES], head[CDS_HASH_BYTES] = { 0 };
    cds_update_hash(&u, hash);
    cds_chain_next(head, hash, head);
    int64_t batch = 0;
    assert_int_equal(store_batch_add(fx->store, fx->agent_id, 1, 1,
                                     (int64_t) NOW, (const uint8_t *) big,
                                     100000, &batch), CDS_OK);
    assert_int_equal(store_log_add(fx->store, fx->agent_id, batch, &u, hash,
                                   head, CDS_ETOOBIG, "value", "too long",
                                   (int64_t) NOW), CDS_OK);
    assert_int_equal(store_agent_advance(fx->store, fx->agent_id, 1, head),
                     CDS_OK);
    assert_int_equal(count(fx, "SELECT length(value) FROM update_log"), 0);
    assert_int_equal(count(fx, "SELECT length(org_unit) FROM update_log"), 2);
    /* applied rows keep everything (nothing is over a bound there) */
    char id[64], *buf = NULL;
    size_t blen = 0;
    int result = CDS_OK;
    snprintf(id, sizeof id, "%s:1", fx->fpr);
    ingest_t *ing = ingest_new(fx->store, fx->me, fx->new_cat);
    FILE *out = open_memstream(&buf, &blen);
    assert_int_equal(rejects_retry(fx->store, ing, fx->health, id, NOW,
                                   &result, out), CDS_OK);
    fclose(out);
    assert_int_equal(result, CDS_ETOOBIG);
    assert_non_null(strstr(buf, "not retried"));
    free(buf);
    ingest_destroy(&ing);
    free(big);
}

int
main(void)
{
    cds_log_init("rejects_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big_update_stored_once,
                                        setup, teardown),
    };
    return testpg_run(tests, sizeof tests / sizeof tests[0]);
}
