/*  retention: what the aggregator deletes as it ages, and what it never
 *  deletes (docs/OPERATIONS.md "Retention").
 *
 *  Pruned:
 *    reject, knock         rows older than reject_retention_days (0: kept
 *                          for ever): at start, then at most once a minute
 *                          as rejects arrive, STORE_PRUNE_STEP rows a go
 *                          (store.h), and by `prune` / `rejects prune`
 *    agent_health_bucket   5-minute counts older than the day the health
 *                          windows read (health_bucket_cutoff): once per
 *                          bucket period as batches arrive (health.c), and
 *                          by `prune`
 *  Never pruned: update_log (the consolidated history is the product's
 *  record), batch (the signed raw batches `verify` re-checks every value
 *  against, docs/DESIGN.md), datavalue, agent, agent_health (one row per
 *  agent: bounded), orgunit tables, restore records.
 *
 *  Invariant: every delete runs in transactions of at most
 *  STORE_PRUNE_STEP rows, so `prune` beside a running aggregator holds the
 *  write lock only briefly: ingest waits for one step at most. */
#ifndef AGG_RETENTION_H
#define AGG_RETENTION_H

#include "cds_sql.h"
#include "store.h"
#include <stdint.h>

typedef struct {
    int64_t rejects;                   /* reject rows */
    int64_t knocks;                    /* knock rows */
    int64_t buckets;                   /* agent_health_bucket rows */
} retention_counts_t;

/* Rows that retention_prune would delete at now_ms with rejects older
 * than reject_cutoff_ms (< 0: rejects and knocks kept). Reads only.
 * CDS_OK or a database error. */
int retention_count(store_t *store, int64_t reject_cutoff_ms,
                    uint64_t now_ms, retention_counts_t *out);
/* Delete them, in steps (see above); *out receives what went, also on
 * failure (what went before it). CDS_OK or a database error. */
int retention_prune(store_t *store, int64_t reject_cutoff_ms,
                    uint64_t now_ms, retention_counts_t *out);

/* The health-bucket part of the two above, on any connection holding the
 * table (both backends): *out receives the rows past the windows at
 * now_ms / the rows deleted (added to *out), STORE_PRUNE_STEP a
 * transaction. CDS_OK or a database error. */
int retention_count_buckets(cds_sql_t *db, uint64_t now_ms, int64_t *out);
int retention_prune_buckets(cds_sql_t *db, uint64_t now_ms, int64_t *out);

#endif
