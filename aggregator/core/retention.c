/*  retention: see retention.h. Its statements are kept together in
 *  retention_sql.h (STYLE.md "SQLite"); they run once per `prune`, so they
 *  are prepared per call. Rejects and knocks go through rejects_prune (rejects.h), the
 *  one place that deletes them. */
#include "retention.h"
#include "retention_sql.h"
#include "health.h"
#include "rejects.h"

#include "cds_err.h"
#include "cds_log.h"

/* Run sql with :cutoff (and :n when it has one); *out receives the count
 * it selects, or the rows it changed. */
static int
run_one(cds_db_t *db, const char *sql, int64_t cutoff, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *h = cds_db_handle(db);
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return cds_db_fail(db, "retention_prepare");
    cds_bind_int64(st, ":cutoff", cutoff);
    if (sqlite3_bind_parameter_index(st, ":n"))
        cds_bind_int64(st, ":n", STORE_PRUNE_STEP);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *out = sqlite3_changes(h);
    int code = rc == SQLITE_ROW || rc == SQLITE_DONE
                   ? CDS_OK : cds_db_fail(db, "retention");
    sqlite3_finalize(st);
    return code;
}

int
retention_count(store_t *store, int64_t reject_cutoff_ms, uint64_t now_ms,
                retention_counts_t *out)
{
    cds_db_t *db = store_db(store);
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
prune_buckets(cds_db_t *db, uint64_t now_ms, int64_t *deleted)
{
    int64_t n = 0;
    int rc;
    do {
        rc = cds_db_begin(db);
        if (rc == CDS_OK)
            rc = run_one(db, RETENTION_SQL_BUCKETS_PRUNE,
                         health_bucket_cutoff(now_ms), &n);
        if (rc == CDS_OK)
            rc = cds_db_commit(db);
        if (rc != CDS_OK) {
            cds_db_rollback(db);
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
    cds_db_t *db = store_db(store);
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
