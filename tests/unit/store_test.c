/*  store_test: the consolidated database: LWW merge is order-independent
 *  and idempotent, history keeps one row per (agent, seq), agents, org
 *  units, batches, rejects and savepoints behave as store.h promises.
 *  Every test runs on a fresh SQLite file; when CDS_TEST_PG_URL names a
 *  PostgreSQL database (tests/integration/pg_store.sh), the tests that are
 *  not about SQLite's migrations run there too, each on an empty schema
 *  (the store creates its one PostgreSQL migration). */
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

#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "store.h"
#include "store_sql.h"
#include "health_sql.h"
#include "commitmark_sql.h"
#include "testdb.h"
#include "testpg.h"

typedef struct {
    char dir[64];
    char path[4096];           /* the SQLite file or the PostgreSQL URL */
    store_t *store;
} fx_t;

/* The PostgreSQL database of this run (CDS_TEST_PG_URL), else NULL. */
static const char *pg_url;


static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/store_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/agg.db", fx->dir);
    if (*state)                /* the PostgreSQL run: a new database */
        testpg_fresh(fx->path, sizeof fx->path);
    int err = 0;
    fx->store = store_open(fx->path, 0, &err);
    assert_non_null(fx->store);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    store_destroy(&fx->store);
    assert_null(fx->store);
    store_destroy(&fx->store); /* safe on NULL */
    nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void
load_orgunits(fx_t *fx)
{
    char path[160], err[256];
    snprintf(path, sizeof path, "%s/ou.csv", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("code,name,parent\nP,Tỉnh,\nD1,Huyện 1,P\nC1,Xã 1,D1\n"
          "C2,Xã 2,D1\nD2,Huyện 2,P\nC3,Xã 3,D2\n", f);
    fclose(f);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    /* Loading twice is an upsert, not a duplicate. */
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
}

/* ---- LWW ------------------------------------------------------------------ */

typedef struct {
    cds_update_t u;
    uint8_t pk[CDS_PK_BYTES];
} change_t;

static const uint8_t PK_A[CDS_PK_BYTES] = { 0x01, 0xaa };
static const uint8_t PK_B[CDS_PK_BYTES] = { 0x02, 0x00 };

static change_t
change(const uint8_t *pk, uint64_t seq, const char *ou, const char *value,
       bool deleted, uint64_t hlc)
{
    change_t c = { .u = { .seq = seq, .org_unit = ou, .indicator = "CDS01",
                          .period = "202301", .disagg = "default",
                          .value = deleted ? "" : value, .comment = "c",
                          .stored_by = "officer", .deleted = deleted,
                          .hlc = hlc } };
    memcpy(c.pk, pk, CDS_PK_BYTES);
    return c;
}

/* The datavalue table as text, without updated_at_ms (arrival time); the
 * writer's key from agent (datavalue names it by agent_id only). */
#define DUMP_SQL(hex)                                                        \
    "SELECT org_unit, indicator, period, disagg, value, num, deleted,"       \
    " comment, stored_by, followup, hlc, (SELECT " hex " FROM agent a"       \
    " WHERE a.id = datavalue.agent_id), agent_id,"                           \
    " agent_seq, period_start, period_end FROM datavalue"                    \
    " ORDER BY org_unit, indicator, period, disagg"
static char *
dump(fx_t *fx)
{
    cds_sql_stmt_t *st = cds_sql_prepare2(
        store_sql(fx->store), DUMP_SQL("hex(a.sign_pk)"),
        DUMP_SQL("upper(encode(a.sign_pk, 'hex'))"), 0);
    assert_non_null(st);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    while (cds_sql_step(st) == CDS_SQL_ROW) {
        for (int i = 0; i < cds_sql_col_count(st); i++)
            fprintf(f, "%s|", cds_sql_col_text(st, i)
                                  ? cds_sql_col_text(st, i) : "NULL");
        fputc('\n', f);
    }
    cds_sql_finalize(&st);
    fclose(f);
    return buf;
}

static void
apply_all(fx_t *fx, const change_t *c, const int *order, int n)
{
    for (int i = 0; i < n; i++) {
        const change_t *x = &c[order[i]];
        assert_int_equal(store_merge(fx->store, &x->u, 1.0, x->pk,
                                     x->pk[0], 19358, 19388, 1000 + i),
                         CDS_OK);
    }
}

static bool
next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i]; a[i] = a[j]; a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l]; a[l] = a[r]; a[r] = t;
    }
    return true;
}

static void
test_lww_every_order_same_table(void **state)
{
    fx_t *fx = *state;
    change_t c[5] = {
        change(PK_A, 1, "C1", "10", false, 100),
        change(PK_A, 2, "C1", "20", false, 200),
        change(PK_B, 1, "C1", "30", false, 200), /* hlc tie: B's key wins */
        change(PK_B, 2, "C2", "70", false, 100),
        change(PK_A, 3, "C2", NULL, true, 300),  /* delete wins on C2 */
    };
    /* The writers, enrolled as ids 1 (PK_A) and 2 (PK_B): the merge's
     * tie-break reads their keys from agent. */
    int64_t id = 0;
    assert_int_equal(store_agent_enroll(fx->store, PK_A, PK_A, "a", NULL, 0,
                                        1, &id), CDS_OK);
    assert_int_equal(id, PK_A[0]);
    assert_int_equal(store_agent_enroll(fx->store, PK_B, PK_B, "b", NULL, 0,
                                        1, &id), CDS_OK);
    assert_int_equal(id, PK_B[0]);
    int order[5] = { 0, 1, 2, 3, 4 };
    char *first = NULL;
    int perms = 0;
    do {
        assert_int_equal(cds_sql_exec(store_sql(fx->store),
                                      "DELETE FROM datavalue"), CDS_OK);
        apply_all(fx, c, order, 5);
        char *d = dump(fx);
        if (!first)
            first = d;
        else {
            assert_string_equal(d, first);
            free(d);
        }
        perms++;
    } while (next_perm(order, 5));
    assert_int_equal(perms, 120);
    /* The expected winners, spelled out. */
    assert_non_null(strstr(first, "C1|CDS01|202301|default|30|"));
    assert_non_null(strstr(first, "C2|CDS01|202301|default||NULL|1|"));
    /* Re-applying everything is a no-op. */
    apply_all(fx, c, order, 5);
    char *again = dump(fx);
    assert_string_equal(again, first);
    free(again);
    free(first);
}

/* ---- agents, history, rejects -------------------------------------------- */

/* The first column of the first row of sql (pg_sql on PostgreSQL when
 * not NULL). */
static int
count2(fx_t *fx, const char *sql, const char *pg_sql)
{
    cds_sql_stmt_t *st = cds_sql_prepare2(store_sql(fx->store), sql, pg_sql,
                                          0);
    assert_non_null(st);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    int v = cds_sql_col_int(st, 0);
    cds_sql_finalize(&st);
    return v;
}

static int
count(fx_t *fx, const char *sql)
{
    return count2(fx, sql, NULL);
}

static int
count_agents(const store_agent_t *a, void *arg)
{
    (void) a;
    (*(int *) arg)++;
    return 0;
}

static void
test_agents_and_orgunits(void **state)
{
    fx_t *fx = *state;
    load_orgunits(fx);
    assert_int_equal(store_orgunit_exists(fx->store, "C1"), 1);
    assert_int_equal(store_orgunit_exists(fx->store, "ZZ"), 0);
    const char *units[] = { "D1" };
    int64_t id = 0, id2 = 0;
    assert_int_equal(store_agent_enroll(fx->store, PK_A, PK_B, "Xã 1", units,
                                        1, 5, &id), CDS_OK);
    assert_true(id > 0);
    /* Idempotent: same key, same row; the unit list is replaced. */
    const char *units2[] = { "C3", "C1" };
    assert_int_equal(store_agent_enroll(fx->store, PK_A, PK_B, "Xã 1b",
                                        units2, 2, 6, &id2), CDS_OK);
    assert_int_equal(id, id2);
    char list[64];
    assert_int_equal(store_agent_units(fx->store, id, list, sizeof list),
                     CDS_OK);
    assert_string_equal(list, "C1,C3");
    assert_int_equal(store_agent_allowed(fx->store, id, "C1"), 1);
    assert_int_equal(store_agent_allowed(fx->store, id, "C2"), 0);
    assert_int_equal(store_agent_allowed(fx->store, id, "D2"), 0);
    assert_int_equal(store_agent_enroll(fx->store, PK_A, PK_B, "x", units, 1,
                                        7, &id2), CDS_OK);
    assert_int_equal(store_agent_allowed(fx->store, id, "C2"), 1); /* subtree */
    assert_int_equal(store_agent_allowed(fx->store, id, "P"), 0);

    store_agent_t a;
    assert_int_equal(store_agent_find(fx->store, PK_A, &a), CDS_OK);
    assert_int_equal(a.enrolled_at_ms, 5);
    assert_string_equal(a.label, "x");
    assert_int_equal(a.applied_seq, 0);
    assert_int_equal(store_agent_find(fx->store, PK_B, &a), CDS_ENOTFOUND);
    char fpr[CDS_FPR_LEN];
    cds_fingerprint(PK_A, fpr);
    assert_int_equal(store_agent_find_fpr(fx->store, fpr, &a), CDS_OK);
    assert_int_equal(a.id, id);

    uint8_t head[CDS_HASH_BYTES];
    memset(head, 7, sizeof head);
    assert_int_equal(store_agent_advance(fx->store, id, 9, head), CDS_OK);
    assert_int_equal(store_agent_seen(fx->store, id, 77), CDS_OK);
    assert_int_equal(store_agent_revoke(fx->store, id, 88), CDS_OK);
    assert_int_equal(store_agent_revoke(fx->store, id, 99), CDS_OK);
    assert_int_equal(store_agent_find(fx->store, PK_A, &a), CDS_OK);
    assert_int_equal(a.applied_seq, 9);
    assert_memory_equal(a.applied_head, head, CDS_HASH_BYTES);
    assert_int_equal(a.last_seen_ms, 77);
    assert_int_equal(a.revoked_at_ms, 88); /* first revocation kept */
    int n = 0;
    assert_int_equal(store_agents_each(fx->store, count_agents, &n), CDS_OK);
    assert_int_equal(n, 1);
}

static void
test_history_once_per_seq(void **state)
{
    fx_t *fx = *state;
    load_orgunits(fx);
    const char *units[] = { "D1" };
    int64_t id, batch;
    assert_int_equal(store_agent_enroll(fx->store, PK_A, PK_B, "a", units, 1,
                                        1, &id), CDS_OK);
    const uint8_t env[] = { 1, 2, 3, 0, 4 };
    assert_int_equal(store_batch_add(fx->store, id, 1, 1, 2, env, sizeof env,
                                     &batch), CDS_OK);
    change_t c = change(PK_A, 1, "C1", "5", false, 10);
    uint8_t hash[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    cds_update_hash(&c.u, hash);
    cds_chain_next((uint8_t[CDS_HASH_BYTES]) { 0 }, hash, head);
    assert_int_equal(store_log_add(fx->store, id, batch, &c.u, hash, head, 0,
                                   NULL, NULL, 3), CDS_OK);
    /* The same (agent, seq) can never be recorded twice. */
    assert_int_not_equal(store_log_add(fx->store, id, batch, &c.u, hash,
                                       head, 0, NULL, NULL, 4), CDS_OK);
    c.u.seq = 2;
    assert_int_equal(store_log_add(fx->store, id, batch, &c.u, hash, head,
                                   CDS_ERANGE, "value", "too big", 4),
                     CDS_OK);
    uint8_t h2[CDS_HASH_BYTES], hd2[CDS_HASH_BYTES];
    int status = -1;
    char field[16], msg[32];
    assert_int_equal(store_log_get(fx->store, id, 1, h2, hd2, &status, NULL,
                                   0, NULL, 0), CDS_OK);
    assert_int_equal(status, 0);
    assert_memory_equal(h2, hash, CDS_HASH_BYTES);
    assert_memory_equal(hd2, head, CDS_HASH_BYTES);
    assert_int_equal(store_log_get(fx->store, id, 2, h2, hd2, &status, field,
                                   sizeof field, msg, sizeof msg), CDS_OK);
    assert_int_equal(status, CDS_ERANGE);
    assert_string_equal(field, "value");
    assert_string_equal(msg, "too big");
    assert_int_equal(store_log_get(fx->store, id, 3, h2, hd2, &status, NULL,
                                   0, NULL, 0), CDS_ENOTFOUND);
    assert_int_equal(count2(fx, "SELECT count(*) FROM batch WHERE envelope ="
                                " x'0102030004'",
                            "SELECT count(*) FROM batch WHERE envelope ="
                            " '\\x0102030004'::bytea"), 1);
}

static void
test_reject_and_savepoint(void **state)
{
    fx_t *fx = *state;
    cds_sql_t *db = store_sql(fx->store);
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    assert_int_equal(store_savepoint(fx->store), CDS_OK);
    const uint8_t raw[] = { 0xde, 0xad };
    assert_int_equal(store_reject_add(fx->store, 1, NULL, CDS_EMALFORMED,
                                      NULL, "garbage", 0, 0, 0, raw, 2),
                     CDS_OK);
    assert_int_equal(store_rollback_to(fx->store), CDS_OK);
    assert_int_equal(store_savepoint(fx->store), CDS_OK);
    assert_int_equal(store_reject_add(fx->store, 2, PK_A, CDS_EBADSIG, "sig",
                                      "bad", 4, 5, 0, raw, 2), CDS_OK);
    assert_int_equal(store_release(fx->store), CDS_OK);
    assert_int_equal(cds_sql_commit(db), CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM reject"), 1);
    assert_int_equal(count2(fx, "SELECT code FROM reject WHERE raw = x'dead'"
                                " AND first_seq = 4 AND seq IS NULL",
                            "SELECT code FROM reject WHERE"
                            " raw = '\\xdead'::bytea"
                            " AND first_seq = 4 AND seq IS NULL"),
                     CDS_EBADSIG);
}

/* ---- migration 6: datavalue_period dropped -------------------------------- */

/* Open the old database at path as the store does (every migration to
 * the current version) in place of the fixture's. */
static void
migrate(fx_t *fx, const char *path)
{
    int err = 0;
    store_t *st = store_open(path, 0, &err);
    assert_non_null(st);
    store_destroy(&fx->store);
    fx->store = st;
    assert_int_equal(count(fx, "PRAGMA user_version"),
                     store_schema_version());
}

/* A database at user_version 5 (the schema before issue 7) with values in
 * datavalue (NULLs, a deletion, a blob key) migrates on store_open: every
 * column of every row survives, the unused period index is gone (and only
 * it), and merges still apply last-writer-wins on the migrated rows. */
/* 30 zero bytes in hex (the rest of a 32-byte key). */
#define Z30 "000000000000000000000000000000000000000000000000000000000000"
static void
test_migrate_drop_period_index(void **state)
{
    fx_t *fx = *state;
    static const char *const v5[] = {
        STORE_SQL_MIGRATION_1, STORE_SQL_MIGRATION_ADMIN,
        HEALTH_SQL_MIGRATION, STORE_SQL_MIGRATION_ROTATE,
        COMMITMARK_SQL_MIGRATION,
    };
    char path[160];
    snprintf(path, sizeof path, "%s/v5.db", fx->dir);
    int err = 0;
    cds_db_t *old = cds_db_open(path, v5, 5, 0, &err);
    assert_non_null(old);
    assert_int_equal(cds_db_exec(old,
        "INSERT INTO agent(id, sign_pk, curve_pk, pubid, fpr,"
        " enrolled_at_ms) VALUES (1, x'01aa" Z30 "', zeroblob(32),"
        " 'p1', 'f1', 1), (2, x'02" Z30 "00', zeroblob(32), 'p2',"
        " 'f2', 1);"
        "INSERT INTO datavalue VALUES"
        " ('C1', 'CDS01', '202301', 'default', '10', 10.0, 0, 'c', 'officer',"
        "  0, 100, x'01aa', 1, 1, 19358, 19388, 1000),"
        " ('C1', 'CDS01', '202302', 'f', '', NULL, 1, NULL, NULL,"
        "  1, 200, x'02', 2, 7, 19389, 19416, 2000),"
        " ('C2', 'CDS02', '2023', 'default', '3.5', 3.5, 0, NULL, 'x',"
        "  0, 300, x'01aa', 1, 9, 19358, 19722, 3000);"), CDS_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(cds_db_handle(old),
        "SELECT count(*) FROM sqlite_master WHERE name = 'datavalue_period'",
        -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);  /* the v5 schema has it */
    sqlite3_finalize(q);
    cds_db_close(&old);

    migrate(fx, path);
    char *d = dump(fx);
    assert_string_equal(d,
        "C1|CDS01|202301|default|10|10.0|0|c|officer|0|100|01AA" Z30 "|1|1|19358|19388|\n"
        "C1|CDS01|202302|f||NULL|1|NULL|NULL|1|200|02" Z30 "00|2|7|19389|19416|\n"
        "C2|CDS02|2023|default|3.5|3.5|0|NULL|x|0|300|01AA" Z30 "|1|9|19358|19722|\n");
    free(d);
    /* migrated through the later steps too: 7, bounded rejects (digest
     * columns); 8, effective stamps */
    assert_int_equal(count(fx, "SELECT count(*) FROM pragma_table_info("
                               "'reject') WHERE name IN ('kind', 'raw_size',"
                               " 'raw_digest')"), 3);
    assert_int_equal(count(fx, "SELECT sum(updated_at_ms) FROM datavalue"),
                     6000);
    assert_int_equal(count(fx, "SELECT count(*) FROM sqlite_master WHERE"
                               " name = 'datavalue_period'"), 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM sqlite_master WHERE"
                               " tbl_name = 'datavalue'"), 1);
    /* 18: WITHOUT ROWID (no separate key index), no agent_pk, the keys
     * with period before indicator */
    assert_int_equal(count(fx, "SELECT count(*) FROM pragma_table_info("
                               "'datavalue') WHERE name = 'agent_pk'"), 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM sqlite_master WHERE"
                               " name = 'datavalue' AND sql LIKE"
                               " '%(org_unit, period, indicator, disagg))"
                               " WITHOUT ROWID'"), 1);
    assert_int_equal(count(fx, "SELECT group_concat(name, ',') = "
                               "'org_unit,period,indicator' FROM"
                               " pragma_index_info('update_log_key')"), 1);
    assert_int_equal(count(fx, "SELECT count(*) FROM sqlite_master WHERE"
                               " name = 'update_log_key'"), 1);
    /* The primary key still drives the upsert: an older update loses, a
     * newer one replaces the migrated row. */
    change_t c[2] = {
        change(PK_A, 2, "C1", "5", false, 50),
        change(PK_B, 3, "C1", "70", false, 400),
    };
    int order[2] = { 0, 1 };
    apply_all(fx, c, order, 1);
    assert_int_equal(count(fx, "SELECT value FROM datavalue WHERE"
                               " org_unit = 'C1' AND period = '202301'"), 10);
    apply_all(fx, c, order + 1, 1);
    assert_int_equal(count(fx, "SELECT value FROM datavalue WHERE"
                               " org_unit = 'C1' AND period = '202301'"), 70);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"), 3);
}

/* ---- migration 7: effective stamps --------------------------------------- */

/* A v6 database migrates: old rows read as "effective = signed" (NULL),
 * and each agent's last effective stamp is seeded with its greatest
 * applied hlc (a rejected one does not count), so its next update still
 * beats its earlier ones. Then a merge by effective stamp keeps the
 * signed one beside it, and the agent's stamp only rises. */
static void
test_migrate_eff_hlc(void **state)
{
    fx_t *fx = *state;
    static const char *const v6[] = {
        STORE_SQL_MIGRATION_1, STORE_SQL_MIGRATION_ADMIN,
        HEALTH_SQL_MIGRATION, STORE_SQL_MIGRATION_ROTATE,
        COMMITMARK_SQL_MIGRATION, STORE_SQL_MIGRATION_NO_PERIOD_INDEX,
    };
    char path[160];
    snprintf(path, sizeof path, "%s/v6.db", fx->dir);
    int err = 0;
    cds_db_t *old = cds_db_open(path, v6, 6, 0, &err);
    assert_non_null(old);
    assert_int_equal(cds_db_exec(old,
        "INSERT INTO agent(id, sign_pk, curve_pk, pubid, fpr, enrolled_at_ms)"
        " VALUES (1, zeroblob(32), zeroblob(32), 'p1', 'f1', 1),"
        " (2, x'01000000000000000000000000000000"
        "00000000000000000000000000000000', zeroblob(32), 'p2', 'f2', 1);"
        "INSERT INTO batch VALUES (1, 1, 1, 3, 5, x'00');"
        "INSERT INTO update_log(agent_id, seq, batch_id, content_hash,"
        " chain_head, status, deleted, followup, hlc, received_at_ms) VALUES"
        " (1, 1, 1, x'00', x'00', 0, 0, 0, 500, 5),"
        " (1, 2, 1, x'00', x'00', 0, 0, 0, 900, 5),"
        " (1, 3, 1, x'00', x'00', 25, 0, 0, 99999, 5);"
        "INSERT INTO datavalue VALUES"
        " ('C1', 'CDS01', '202301', 'default', '10', 10.0, 0, 'c', 'officer',"
        "  0, 900, zeroblob(32), 1, 2, 19358, 19388, 1000);"), CDS_OK);
    cds_db_close(&old);
    migrate(fx, path);
    assert_int_equal(count(fx, "SELECT last_eff_hlc FROM agent WHERE id = 1"),
                     900);
    assert_int_equal(count(fx, "SELECT last_eff_hlc FROM agent WHERE id = 2"),
                     0);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"
                               " WHERE eff_hlc IS NULL"), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM datavalue"
                               " WHERE signed_hlc IS NULL"), 1);
    uint64_t eff = 0;
    assert_int_equal(store_log_eff(fx->store, 1, 2, &eff), CDS_OK);
    assert_int_equal(eff, 900);
    assert_int_equal(store_log_eff(fx->store, 1, 9, &eff), CDS_ENOTFOUND);
    store_agent_t a;
    assert_int_equal(store_agent_find_fpr(fx->store, "f1", &a), CDS_OK);
    assert_int_equal(a.last_eff_hlc, 900);
    /* Signed 100 (a slow clock), effective 950: wins over 900. */
    change_t c = change(PK_B, 4, "C1", "70", false, 100);
    assert_int_equal(store_merge_eff(fx->store, &c.u, 950, 70, PK_B, 2,
                                     19358, 19388, 2000), CDS_OK);
    assert_int_equal(count(fx, "SELECT value FROM datavalue"), 70);
    assert_int_equal(count(fx, "SELECT hlc FROM datavalue"), 950);
    assert_int_equal(count(fx, "SELECT signed_hlc FROM datavalue"), 100);
    uint8_t head[CDS_HASH_BYTES] = { 0 };
    assert_int_equal(store_agent_advance_eff(fx->store, 1, 4, head, 800),
                     CDS_OK);
    assert_int_equal(count(fx, "SELECT last_eff_hlc FROM agent WHERE id = 1"),
                     900);                     /* never lowered */
    assert_int_equal(store_agent_advance_eff(fx->store, 1, 5, head, 1200),
                     CDS_OK);
    assert_int_equal(count(fx, "SELECT last_eff_hlc FROM agent WHERE id = 1"),
                     1200);
}

/* Version 10 (append-only history): a database whose `rejects retry`
 * flipped an update_log row in place (status 0, retried_from = reason)
 * gets the row's arrival status back and the change as an update_status
 * row, so every reader sees the same status now. Then the database
 * itself refuses any UPDATE or DELETE of update_log and update_status,
 * and a retry through the store appends, once. */
static void
test_migrate_append_only(void **state)
{
    fx_t *fx = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/v9.db", fx->dir);
    int err = 0;
    cds_db_t *old = cds_db_open(path, store_migrations(), 9, 0, &err);
    assert_non_null(old);
    assert_int_equal(cds_db_exec(old,
        "INSERT INTO agent(id, sign_pk, curve_pk, pubid, fpr, enrolled_at_ms)"
        " VALUES (1, zeroblob(32), zeroblob(32), 'p1', 'f1', 1);"
        "INSERT INTO batch(id, agent_id, first_seq, last_seq,"
        " received_at_ms, envelope) VALUES (1, 1, 1, 3, 5, x'00');"
        "INSERT INTO update_log(agent_id, seq, batch_id, content_hash,"
        " chain_head, status, deleted, followup, hlc, received_at_ms,"
        " retried_from, retried_at_ms) VALUES"
        " (1, 1, 1, x'00', x'00', 0, 0, 0, 500, 5, NULL, NULL),"
        " (1, 2, 1, x'00', x'00', 0, 0, 0, 600, 5, 12, 7000),"
        " (1, 3, 1, x'00', x'00', 12, 0, 0, 700, 5, NULL, NULL);"),
        CDS_OK);
    cds_db_close(&old);
    migrate(fx, path);
    assert_int_equal(count(fx, "SELECT status FROM update_log WHERE seq = 2"),
                     12);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"
                               " WHERE retried_from IS NOT NULL"), 0);
    assert_int_equal(count(fx, "SELECT from_status * 100000 + at_ms"
                               " FROM update_status WHERE seq = 2"),
                     1207000);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log u WHERE "
                               STORE_SQL_STATUS_NOW("u") " = 0"), 2);
    assert_int_equal(count(fx, "SELECT " STORE_SQL_STATUS_NOW("u")
                               " FROM update_log u WHERE seq = 3"), 12);
    uint8_t hash[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    int status = -1;
    assert_int_equal(store_log_get(fx->store, 1, 2, hash, head, &status,
                                   NULL, 0, NULL, 0), CDS_OK);
    assert_int_equal(status, 0);
    /* The database refuses edits of history and kept batches, whoever
     * asks. */
    cds_db_t *db = store_db(fx->store);
    const char *edits[] = {
        "UPDATE update_log SET status = 0 WHERE seq = 3",
        "DELETE FROM update_log WHERE seq = 1",
        "UPDATE update_status SET status = 12",
        "DELETE FROM update_status",
        "UPDATE batch SET envelope = x'01'",
        "DELETE FROM batch",
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        assert_int_not_equal(cds_db_exec(db, edits[i]), CDS_OK);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_log"), 3);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_status"), 1);
    assert_int_equal(count(fx, "SELECT count(*) FROM batch"
                               " WHERE envelope = x'00'"), 1);
    /* A retry appends, once; an applied one changes nothing. */
    bool changed = false;
    assert_int_equal(store_log_retried(fx->store, 1, 3, 9000, &changed),
                     CDS_OK);
    assert_true(changed);
    assert_int_equal(store_log_retried(fx->store, 1, 3, 9500, &changed),
                     CDS_OK);
    assert_false(changed);
    assert_int_equal(store_log_retried(fx->store, 1, 1, 9500, &changed),
                     CDS_OK);
    assert_false(changed);
    assert_int_equal(count(fx, "SELECT count(*) FROM update_status"), 2);
    assert_int_equal(count(fx, "SELECT status FROM update_log WHERE seq = 3"),
                     12);
    assert_int_equal(store_log_get(fx->store, 1, 3, hash, head, &status,
                                   NULL, 0, NULL, 0), CDS_OK);
    assert_int_equal(status, 0);
}

/* A test on SQLite and, with CDS_TEST_PG_URL, again on PostgreSQL. */
#define BOTH(t)                                                              \
    cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, NULL),      \
    cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,             \
                                             (void *) pg_url)

int
main(void)
{
    cds_log_init("store_test", CDS_LOG_ERROR);
    pg_url = testpg_url();
    const struct CMUnitTest on_pg[] = {
        BOTH(test_lww_every_order_same_table),
        BOTH(test_agents_and_orgunits),
        BOTH(test_history_once_per_seq),
        BOTH(test_reject_and_savepoint),
    };
    if (pg_url)                /* tests/integration/pg_store.sh */
        return cmocka_run_group_tests(on_pg, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lww_every_order_same_table,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_agents_and_orgunits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history_once_per_seq, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reject_and_savepoint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migrate_drop_period_index,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_append_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migrate_eff_hlc, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
