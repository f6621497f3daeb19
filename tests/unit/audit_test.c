/*  audit_test: audit_run on a database built the way ingest builds it
 *  (signed batch kept, history row, merge, agent advanced): clean when
 *  untouched; a changed history value, a broken chain head, a missing
 *  current value and batches checked against another aggregator key are
 *  each reported with agent, seq and field. On SQLite, and again on
 *  PostgreSQL when CDS_TEST_PG_URL is set (testpg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdb.h"
#include "testpg.h"
#include "testdir.h"
#include "audit.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_period.h"
#include "store.h"

typedef struct {
    char dir[64];
    char where[512];                   /* file, or PostgreSQL URL */
    store_t *store;
    cds_identity_t *agg, *agent, *other;
    int64_t agent_id;
    char fpr[CDS_FPR_LEN];
    uint8_t head[CDS_HASH_BYTES];
} fx_t;



/* Apply one update at seq, stamped hlc, as ingest does. */
static void
apply_hlc(fx_t *fx, uint64_t seq, const char *period, const char *value,
          uint64_t hlc)
{
    cds_update_t u = { .seq = seq, .org_unit = "C1", .indicator = "X",
                       .period = period, .disagg = "default",
                       .value = value, .comment = "", .stored_by = "o",
                       .hlc = hlc };
    uint8_t h[CDS_HASH_BYTES], prev[CDS_HASH_BYTES];
    memcpy(prev, fx->head, sizeof prev);
    cds_update_hash(&u, h);
    cds_chain_next(fx->head, h, fx->head);
    Cdsync__Update pu = CDSYNC__UPDATE__INIT, *ups[1] = { &pu };
    cds_update_to_pb(&u, &pu);
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = CDS_PROTOCOL_VERSION;
    b.agent.data = (uint8_t *) cds_identity_sign_pk(fx->agent);
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = b.last_seq = seq;
    b.prev_head.data = prev;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = fx->head;
    b.head.len = CDS_HASH_BYTES;
    b.n_updates = 1;
    b.updates = ups;
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(cds_envelope_seal_msg(fx->agent, CDSYNC__KIND__KIND_BATCH,
                                           cds_identity_sign_pk(fx->agg),
                                           &b.base, &env, &len), CDS_OK);
    int64_t bid;
    cds_period_t pe;
    assert_int_equal(cds_period_parse(period, &pe), CDS_OK);
    assert_int_equal(store_batch_add(fx->store, fx->agent_id, seq, seq, 1, env,
                                     len, &bid), CDS_OK);
    assert_int_equal(store_log_add(fx->store, fx->agent_id, bid, &u, h,
                                   fx->head, 0, NULL, NULL, 1), CDS_OK);
    assert_int_equal(store_merge(fx->store, &u, atof(value),
                                 cds_identity_sign_pk(fx->agent),
                                 fx->agent_id, pe.start, pe.end, 1), CDS_OK);
    assert_int_equal(store_agent_advance(fx->store, fx->agent_id, seq,
                                         fx->head), CDS_OK);
    free(env);
}

static void
apply(fx_t *fx, uint64_t seq, const char *period, const char *value)
{
    apply_hlc(fx, seq, period, value, (1000 + seq) << 16);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    int e = 0;
    cds_log_init("audit_test", CDS_LOG_ERROR);
    strcpy(fx->dir, "/tmp/audit_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    if (testpg_is_pg(state))
        testpg_fresh(fx->where, sizeof fx->where);
    else
        snprintf(fx->where, sizeof fx->where, "%s/agg.db", fx->dir);
    fx->store = store_open(fx->where, 0, &e);
    assert_non_null(fx->store);
    fx->agg = testdir_identity(fx->dir, "agg");
    fx->agent = testdir_identity(fx->dir, "agent");
    fx->other = testdir_identity(fx->dir, "other");
    const char *units[] = { "C1" };
    assert_int_equal(store_agent_enroll(fx->store,
                                        cds_identity_sign_pk(fx->agent),
                                        cds_identity_curve_pk(fx->agent), "a",
                                        units, 1, 1, &fx->agent_id), CDS_OK);
    cds_fingerprint(cds_identity_sign_pk(fx->agent), fx->fpr);
    apply(fx, 1, "2023", "1");
    apply(fx, 2, "2024", "2");
    apply(fx, 3, "2023", "3");         /* newer value for the first key */
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    store_destroy(&fx->store);
    cds_identity_destroy(&fx->agg);
    cds_identity_destroy(&fx->agent);
    cds_identity_destroy(&fx->other);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Run the audit with key pk; return its output (caller frees). */
static char *
run(fx_t *fx, const uint8_t *pk, audit_summary_t *sum)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(audit_run(fx->store, pk, f, sum), CDS_OK);
    fclose(f);
    return buf;
}

static void
exec(fx_t *fx, const char *sql)
{
    assert_int_equal(cds_sql_exec(store_sql(fx->store), sql), CDS_OK);
}

/* A tamper edit: lite on SQLite, pg on PostgreSQL (its own way to drop
 * the append-only guards, its own zero blob). */
static void
exec2(fx_t *fx, const char *lite, const char *pg)
{
    exec(fx, cds_sql_backend(store_sql(fx->store)) == CDS_SQL_POSTGRESQL
                 ? pg : lite);
}

static void
test_clean(void **state)
{
    fx_t *fx = *state;
    audit_summary_t s;
    char *out = run(fx, cds_identity_sign_pk(fx->agg), &s);
    assert_string_equal(out, "");
    assert_int_equal(s.problems, 0);
    assert_int_equal(s.batches, 3);
    assert_int_equal(s.history, 3);
    assert_int_equal(s.values, 2);
    free(out);
    /* as `verify` runs it: on a read-only connection, twice (the temp
     * table is made once per connection) */
    int e = 0;
    store_destroy(&fx->store);
    fx->store = store_open(fx->where, CDS_DB_READONLY, &e);
    assert_non_null(fx->store);
    for (int i = 0; i < 2; i++) {
        out = run(fx, cds_identity_sign_pk(fx->agg), &s);
        assert_string_equal(out, "");
        assert_int_equal(s.history, 3);
        free(out);
    }
}

static void
test_tampered(void **state)
{
    fx_t *fx = *state;
    audit_summary_t s;
    char want[128];
    exec2(fx, TESTDB_UNGUARD "UPDATE update_log SET value = '9' WHERE seq = 2",
          TESTPG_UNGUARD "UPDATE update_log SET value = '9' WHERE seq = 2");
    char *out = run(fx, cds_identity_sign_pk(fx->agg), &s);
    snprintf(want, sizeof want, "history agent=%s seq=2 ", fx->fpr);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "field=value stored=9 signed=2"));
    assert_int_equal(s.problems, 1);
    free(out);
    exec2(fx, "UPDATE update_log SET value = '2', chain_head = zeroblob(32)"
              " WHERE seq = 2",
          "UPDATE update_log SET value = '2', chain_head ="
          " decode(repeat('00', 32), 'hex') WHERE seq = 2");
    out = run(fx, cds_identity_sign_pk(fx->agg), &s);
    assert_non_null(strstr(out, "seq=2 field=chain_head"));
    free(out);
    exec(fx, "DELETE FROM datavalue WHERE period = '2024'");
    out = run(fx, cds_identity_sign_pk(fx->agg), &s);
    assert_non_null(strstr(out, "period=2024 disagg=default problem=missing"));
    free(out);
}

static void
test_other_aggregator_key(void **state)
{
    fx_t *fx = *state;
    audit_summary_t s;
    char *out = run(fx, cds_identity_sign_pk(fx->other), &s);
    /* Every batch fails; then nothing backs history or values. */
    assert_int_equal(s.batches, 3);
    char want[96];
    snprintf(want, sizeof want, "agent=%s problem=bad_signature", fx->fpr);
    const char *p = out;
    int n = 0;
    while ((p = strstr(p, want)) != NULL) {
        n++;
        p++;
    }
    assert_int_equal(n, 3);
    assert_non_null(strstr(out, "problem=not_in_signed_batch"));
    assert_non_null(strstr(out, "problem=not_from_any_signed_update"));
    free(out);
}

/* The same update (key, hlc, value) applied again under a new seq, each
 * copy properly signed and chained: every other check passes, the
 * duplicate is reported with both seqs. */
static void
test_duplicate_update(void **state)
{
    fx_t *fx = *state;
    audit_summary_t s;
    apply_hlc(fx, 4, "2023", "3", (1000 + 3) << 16);   /* seq 3 again */
    /* as ingest stores it: an agent's effective stamps only grow, so the
     * copy merged one step after the original (store.h, eff_hlc) */
    exec2(fx, TESTDB_UNGUARD
              "UPDATE update_log SET eff_hlc = hlc + 1 WHERE seq = 4",
          TESTPG_UNGUARD
              "UPDATE update_log SET eff_hlc = hlc + 1 WHERE seq = 4");
    exec(fx, "UPDATE datavalue SET signed_hlc = coalesce(signed_hlc, hlc),"
              " hlc = hlc + 1 WHERE period = '2023'");
    char *out = run(fx, cds_identity_sign_pk(fx->agg), &s);
    char want[160];
    snprintf(want, sizeof want, "history agent=%s seqs=3,4 problem="
             "duplicate_update org_unit=C1 indicator=X period=2023", fx->fpr);
    assert_non_null(strstr(out, want));
    assert_int_equal(s.problems, 1);
    assert_int_equal(s.history, 4);
    free(out);
    /* the same key and value at another hlc is a new change, not a copy */
    apply_hlc(fx, 5, "2023", "3", (2000ull) << 16);
    out = run(fx, cds_identity_sign_pk(fx->agg), &s);
    assert_int_equal(s.problems, 1);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_update, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_aggregator_key, setup,
                                        teardown),
    };
    return testpg_run(tests, sizeof tests / sizeof tests[0]);
}
