/*  metrics: the operator's HTTP routes on the aggregator, on top of http.h
 *  and health.h:
 *    GET /metrics      Prometheus text exposition format 0.0.4
 *    GET /healthz      200 "ok" when the database answers, the writer
 *                      is not stuck (progress.h) and holds its
 *                      single-writer lock (PostgreSQL, store.h); else 503
 *                      naming why
 *    GET /livez        liveness: 200 "ok" whenever this thread answers
 *    GET /api/health   per-agent health as JSON (health_to_json) with the
 *                      worst severity; needs the bearer token or a
 *                      login like every /api/ route (401 without), and
 *                      of an account the operator or province-admin
 *                      role (http_route_add_roles; 403 otherwise)
 *
 *  Metric names (docs/OPERATIONS.md lists them): cdsync_ prefix, counters
 *  end in _total, units in names (_seconds, _bytes). Per-agent series carry
 *  labels agent (fingerprint) and commune, and exist only for the top_n
 *  worst agents (severity, then lag) so the number of series stays bounded
 *  whatever the number of communes; aggregates cover every agent.
 *
 *  Invariant: counters are read from the database (health_sql.h totals and
 *  the reject table), so they equal the database's counts and survive a
 *  restart; nothing here writes. Exception: the connection guard's
 *  figures (connguard.h: connections refused since start, pending
 *  handshakes, free descriptors), the writer's progress and latency
 *  histograms (progress.h) and the process_* series (start time,
 *  resident memory, open descriptors, CPU seconds, from /proc/self) are
 *  the running process's. Labelled counters list every label value from
 *  the start (0 until used): a series that appears with its first event
 *  has no rate() before it. */
#ifndef AGG_METRICS_H
#define AGG_METRICS_H

#include "health.h"

#include <pthread.h>
#include "http.h"
#include <stdint.h>
#include <stdio.h>

#define METRICS_TOP_N_DEFAULT 20

typedef struct {
    /* th and top_n are read by the HTTP thread and replaced by a SIGHUP
     * reload on the server thread (metrics_set_limits): both under lock.
     * A zeroed lock is an unlocked mutex (glibc), so an initialiser that
     * leaves it out is fine. */
    pthread_mutex_t lock;
    health_thresholds_t th;            /* state thresholds */
    unsigned top_n;                    /* per-agent series bound */
    const char *version;               /* program version (borrowed) */
    health_t *health;                  /* HTTP thread's, lazy (owned) */
    const struct connguard *guard;     /* borrowed, NULL: no such series */
    const struct progress *progress;   /* borrowed, NULL: no writer series
                                        * and no stuck check */
    struct store *writer;              /* the writer's store (borrowed),
                                        * read only for store_writer_lost;
                                        * NULL: no such check */
} metrics_t;

/* Replace the thresholds and the per-agent bound (a SIGHUP reload); the
 * next scrape and /api/health use them. */
void metrics_set_limits(metrics_t *m, const health_thresholds_t *th,
                        unsigned top_n);

/* Register /metrics, /healthz, /livez and /api/health on http with m as context
 * (m must outlive http; what the routes create is freed by http_destroy).
 * 0 or -1 (route table full). */
int metrics_routes_add(http_t *http, metrics_t *m);

/* Write the exposition for the database behind health at now_ms to out.
 * CDS_OK or a database / memory error. */
int metrics_render(health_t *health, const metrics_t *m, uint64_t now_ms,
                   FILE *out);

#endif
