/*  reload: what SIGHUP changes in a running aggregator (cds_service.h
 *  does the parse, the log level and the change log; this is the
 *  program's part, run on the server thread between groups).
 *
 *  Applied live: the catalog (loaded, then swapped into the ingest by
 *  server_set_catalog; a file that fails to load is logged with its
 *  file:line and the running catalog stays), the org units (orgunits.csv
 *  upserted into the database, as at start), max_clock_skew_ms, the
 *  reject bounds (reject_raw_per_hour, reject_retention_days,
 *  reject_min_free_mb), the health thresholds (silent_after_ms,
 *  lagging_after_ms, rejecting_ratio, rejecting_min,
 *  metadata_behind_after_ms: /metrics and
 *  /api/health use them from the next scrape, and the heartbeat hold
 *  follows silent_after_ms) and metrics_top_n. Only a restart applies
 *  reload_restart_keys: the endpoints, the key and database paths, and
 *  what the HTTP API took at start (deadlines, dashboard, orgunit_map,
 *  the rules file and outlier keys of /api/validate; the HTTP API keeps
 *  the catalog it loaded at start). */
#ifndef AGG_RELOAD_H
#define AGG_RELOAD_H

#include "cds_catalog.h"
#include "cds_config.h"
#include "health.h"
#include "ingest.h"
#include "metrics.h"
#include "server.h"
#include "store.h"

typedef struct {
    server_t *server;                  /* borrowed */
    ingest_t *ingest;                  /* borrowed */
    store_t *store;                    /* borrowed */
    cds_catalog_t **catalog;           /* the running catalog: the caller's
                                        * variable, replaced on a swap (the
                                        * old one freed here) */
    health_t *health;                  /* borrowed: the heartbeat hold */
    metrics_t *metrics;                /* borrowed, NULL: no HTTP */
} reload_ctx_t;

/* NULL-terminated: keys whose change is logged "requires restart". */
extern const char *const reload_restart_keys[];

/* cds_reload_fn for the aggregator: ctx is a reload_ctx_t. 0, or -1 when
 * a part failed (logged; that part keeps running as it was). */
int reload_apply(const cds_config_t *fresh, void *ctx);

#endif
