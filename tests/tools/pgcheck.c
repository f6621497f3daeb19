/*  pgcheck: drives common/cds_pg against a live server started by
 *  tests/pg/pg.sh, for tests/integration/pg_conn.sh (cds_pg needs a real
 *  PostgreSQL, so its tests are an integration test rather than cmocka).
 *  Each command prints one line of key=value results on stdout; cds_pg's
 *  own log lines go to stderr.
 *
 *    pgcheck migrate URL      connect with the two test migrations; prints
 *                             "version=N" or "error=<code> sqlstate=S"
 *    pgcheck upsert URL N     N rows in transactions of 1,000 through one
 *                             prepared INSERT .. ON CONFLICT DO UPDATE,
 *                             twice (the second pass updates every row);
 *                             prints rows, the sum of n, and whether a
 *                             bytea and an int8 read back bit-exact
 *    pgcheck unique URL       inserts one key twice: the second's error
 *    pgcheck killed URL       prints "pid=P", waits for a line on stdin
 *                             (the test kills that backend meanwhile),
 *                             then a query's error, then reconnects and
 *                             runs the prepared statement again
 *    pgcheck setoff URL       SET synchronous_commit = off, then BEGIN
 *    pgcheck redact STRING    cds_pg_redact's output
 *  Exit 0 when the command ran (its result, success or error, printed),
 *  2 on usage. */
#include "cds_err.h"
#include "cds_log.h"
#include "cds_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const migrations[] = {
    "CREATE TABLE kv (org_unit text NOT NULL, indicator text NOT NULL,"
    " period text NOT NULL, disagg text NOT NULL, value text NOT NULL,"
    " hash bytea, n bigint, PRIMARY KEY (org_unit, indicator, period, disagg))",
    "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL)",
};
#define N_MIGRATIONS 2

#define UPSERT                                                               \
    "INSERT INTO kv (org_unit, indicator, period, disagg, value, hash, n)"    \
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_unit, indicator," \
    " period, disagg) DO UPDATE SET value = excluded.value,"                 \
    " hash = excluded.hash, n = excluded.n"

static int
report(cds_pg_t *pg, const char *what, int rc)
{
    printf("%s error=%s sqlstate=%s retry=%s\n", what, cds_strerror(rc),
           pg ? cds_pg_sqlstate(pg) : "", cds_err_retryable(rc) ? "yes" : "no");
    return 0;
}

static cds_pg_t *
open_pg(const char *url)
{
    int err = CDS_OK;
    cds_pg_t *pg = cds_pg_connect(url, migrations, N_MIGRATIONS, 0, &err);
    if (!pg)
        report(NULL, "connect", err);
    return pg;
}

static int
prepare_upsert(cds_pg_t *pg)
{
    static const cds_pg_type_t t[] = {CDS_PG_TEXT, CDS_PG_TEXT, CDS_PG_TEXT,
                                      CDS_PG_TEXT, CDS_PG_TEXT, CDS_PG_BYTEA,
                                      CDS_PG_INT8};
    return cds_pg_prepare(pg, "upsert", UPSERT, 7, t);
}

/* Row i of pass p: key from i, n = i * p (negative too: sign bits), a
 * 32-byte hash with zero bytes in it (binary, not text). */
static int
upsert_one(cds_pg_t *pg, long i, int p)
{
    char ind[32], pe[32], val[64];
    uint8_t hash[32];
    snprintf(ind, sizeof ind, "IND%04ld", i % 1000);
    snprintf(pe, sizeof pe, "%ld", 190001 + i / 1000);
    snprintf(val, sizeof val, "value %ld pass %d", i, p);
    for (int k = 0; k < 32; k++)
        hash[k] = (uint8_t) ((i + k * p) & (k % 3 ? 0xff : 0x00));
    cds_pg_param_t prm[] = {
        CDS_PG_P_TEXT("OU1"), CDS_PG_P_TEXT(ind), CDS_PG_P_TEXT(pe),
        CDS_PG_P_TEXT("default"), CDS_PG_P_TEXT(val),
        CDS_PG_P_BYTEA(hash, 32), CDS_PG_P_INT8((int64_t) i * p - 5)};
    return cds_pg_run(pg, "upsert", prm, 7, NULL);
}

static int
upsert_pass(cds_pg_t *pg, long n, int p)
{
    int rc = CDS_OK;
    for (long i = 0; rc == CDS_OK && i < n;) {
        if ((rc = cds_pg_begin(pg)) != CDS_OK)
            break;
        for (int k = 0; rc == CDS_OK && k < 1000 && i < n; k++, i++)
            rc = upsert_one(pg, i, p);
        rc = rc == CDS_OK ? cds_pg_commit(pg) : (cds_pg_rollback(pg), rc);
    }
    return rc;
}

/* Row 7 read back: its hash and n as upsert_one made them in pass 2. */
static int
readback_ok(cds_pg_t *pg)
{
    PGresult *res = NULL;
    cds_pg_param_t k[] = {CDS_PG_P_TEXT("IND0007")};
    if (cds_pg_query(pg, "SELECT hash, n FROM kv WHERE indicator = $1"
                     " AND period = '190001'", k, 1, &res) != CDS_OK)
        return 0;
    uint8_t *h = NULL, want[32];
    size_t len = 0;
    int64_t n = 0;
    for (int j = 0; j < 32; j++)
        want[j] = (uint8_t) ((7 + j * 2) & (j % 3 ? 0xff : 0x00));
    int ok = PQntuples(res) == 1 && cds_pg_get_bytea(res, 0, 0, &h, &len) == 0
             && len == 32 && !memcmp(h, want, 32)
             && cds_pg_get_int64(res, 0, 1, &n) == 0 && n == 7 * 2 - 5;
    free(h);
    PQclear(res);
    return ok;
}

static int
cmd_upsert(const char *url, long n)
{
    cds_pg_t *pg = open_pg(url);
    if (!pg)
        return 0;
    PGresult *res = NULL;
    int rc = prepare_upsert(pg);
    for (int p = 1; rc == CDS_OK && p <= 2; p++)
        rc = upsert_pass(pg, n, p);
    if (rc == CDS_OK)
        rc = cds_pg_query(pg, "SELECT count(*), coalesce(sum(n), 0) FROM kv",
                          NULL, 0, &res);
    if (rc != CDS_OK)
        report(pg, "upsert", rc);
    else
        printf("rows=%s sum=%s readback=%s\n", PQgetvalue(res, 0, 0),
               PQgetvalue(res, 0, 1), readback_ok(pg) ? "ok" : "bad");
    PQclear(res);
    cds_pg_destroy(&pg);
    return 0;
}

static int
cmd_unique(const char *url)
{
    cds_pg_t *pg = open_pg(url);
    if (!pg)
        return 0;
    cds_pg_param_t p[] = {CDS_PG_P_INT8(1), CDS_PG_P_TEXT("first")};
    const char *sql = "INSERT INTO note (id, body) VALUES ($1, $2)";
    int rc = cds_pg_query(pg, sql, p, 2, NULL);
    if (rc == CDS_OK)
        rc = cds_pg_query(pg, sql, p, 2, NULL);
    report(pg, "unique", rc);
    cds_pg_destroy(&pg);
    return 0;
}

static int
cmd_killed(const char *url)
{
    char line[16];
    cds_pg_t *pg = open_pg(url);
    if (!pg)
        return 0;
    prepare_upsert(pg);
    printf("pid=%d\n", PQbackendPID(cds_pg_handle(pg)));
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        printf("stdin closed\n");
    int rc = cds_pg_exec(pg, "SELECT 1");
    report(pg, "after_kill", rc);
    if (rc == CDS_EBUSY && (rc = cds_pg_reconnect(pg)) == CDS_OK)
        rc = upsert_pass(pg, 10, 1);
    printf("reconnect=%s\n", cds_strerror(rc));
    cds_pg_destroy(&pg);
    return 0;
}

static int
cmd_setoff(const char *url)
{
    cds_pg_t *pg = open_pg(url);
    if (!pg)
        return 0;
    int rc = cds_pg_exec(pg, "SET synchronous_commit = off");
    if (rc == CDS_OK)
        rc = cds_pg_begin(pg);
    report(pg, "begin", rc);
    cds_pg_destroy(&pg);
    return 0;
}

int
main(int argc, char **argv)
{
    cds_log_init("pgcheck", CDS_LOG_INFO);
    cds_log_set_rate(0, 0);
    const char *c = argc >= 3 ? argv[1] : "";
    if (!strcmp(c, "migrate") && argc == 3) {
        cds_pg_t *pg = open_pg(argv[2]);
        if (pg)
            printf("version=%d\n", N_MIGRATIONS);
        cds_pg_destroy(&pg);
        return 0;
    }
    if (!strcmp(c, "upsert") && argc == 4)
        return cmd_upsert(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(c, "unique") && argc == 3)
        return cmd_unique(argv[2]);
    if (!strcmp(c, "killed") && argc == 3)
        return cmd_killed(argv[2]);
    if (!strcmp(c, "setoff") && argc == 3)
        return cmd_setoff(argv[2]);
    if (!strcmp(c, "redact") && argc == 3) {
        char *r = cds_pg_redact(argv[2]);
        printf("%s\n", r ? r : "(no memory)");
        free(r);
        return 0;
    }
    fprintf(stderr, "usage: pgcheck migrate|unique|killed|setoff URL |"
                    " upsert URL N | redact STRING\n");
    return 2;
}
