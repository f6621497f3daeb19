/*  retention: see retention.h. Its statements are kept together in
 *  retention_sql.h (STYLE.md "SQLite"); they run once per `prune`, so they
 *  are prepared per call. Rejects and knocks go through rejects_prune (rejects.h), the
 *  one place that deletes them. */
#include "retention.h"
#include "retention_sql.h"
#include "health.h"
#include "rejects.h"

#include "cds_err.h"
#include "cds_sql.h"
#include "cds_log.h"

/* Run sql with :cutoff (and :n when it has one); *out receives the count
 * it selects, or the rows it changed. */
static int
run_one(cds_sql_t *db, const char *sql, int64_t cutoff, int64_t *out)
{
    cds_sql_stmt_t *st = cds_sql_prepare(db, sql, 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":cutoff", cutoff);
    if (cds_sql_has_param(st, ":n"))
        cds_sql_bind_int64(st, ":n", STORE_PRUNE_STEP);
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW)
        *out = cds_sql_col_int64(st, 0);
    else if (rc == CDS_SQL_DONE)
        *out = cds_sql_changes(st);
    cds_sql_finalize(&st);
    return rc == CDS_SQL_ROW || rc == CDS_SQL_DONE ? CDS_OK : rc;
}

int
retention_count(store_t *store, int64_t reject_cutoff_ms, uint64_t now_ms,
                retention_counts_t *out)
{
    cds_sql_t *db = store_sql(store);
    int rc = CDS_OK;
    *out = (retention_counts_t) { 0 };
    if (reject_cutoff_ms >= 0) {
        rc = run_one(db, RETENTION_SQL_REJECTS, reject_cutoff_ms,
                     &out->rejects);
        if (rc == CDS_OK)
            rc = run_one(db, RETENTION_SQL_KNOCKS, reject_cutoff_ms,
                         &out->knocks);
    }
    if (rc == CDS_OK)
        rc = run_one(db, RETENTION_SQL_BUCKETS, health_bucket_cutoff(now_ms),
                     &out->buckets);
    return rc;
}

/* Health buckets past the windows, STORE_PRUNE_STEP rows a transaction. */
static int
prune_buckets(cds_sql_t *db, uint64_t now_ms, int64_t *deleted)
{
    int64_t n = 0;
    int rc;
    do {
        rc = cds_sql_begin(db);
        if (rc == CDS_OK)
            rc = run_one(db, RETENTION_SQL_BUCKETS_PRUNE,
                         health_bucket_cutoff(now_ms), &n);
        if (rc == CDS_OK)
            rc = cds_sql_commit(db);
        if (rc != CDS_OK) {
            cds_sql_rollback(db);
            return rc;
        }
        *deleted += n;
    } while (n == STORE_PRUNE_STEP);
    return CDS_OK;
}

int
retention_prune(store_t *store, int64_t reject_cutoff_ms, uint64_t now_ms,
                retention_counts_t *out)
{
    cds_sql_t *db = store_sql(store);
    int rc = CDS_OK;
    *out = (retention_counts_t) { 0 };
    if (reject_cutoff_ms >= 0) {
        /* what would go, for the report: rejects_prune sums both */
        int64_t knocks = 0, both = 0;
        rc = run_one(db, RETENTION_SQL_KNOCKS, reject_cutoff_ms, &knocks);
        if (rc == CDS_OK)
            rc = rejects_prune(store, reject_cutoff_ms, &both);
        out->knocks = knocks < both ? knocks : both;
        out->rejects = both - out->knocks;
    }
    if (rc == CDS_OK)
        rc = prune_buckets(db, now_ms, &out->buckets);
    if (rc == CDS_OK)
        cds_log(CDS_LOG_INFO, "pruned", "rejects=%lld knocks=%lld "
                "health_buckets=%lld", (long long) out->rejects,
                (long long) out->knocks, (long long) out->buckets);
    return rc;
}
