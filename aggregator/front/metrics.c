/*  metrics: see metrics.h. The exposition is written with fprintf into an
 *  open_memstream buffer: the format is line-based text, and no packaged C
 *  library for it exists in Debian (hand-written, following
 *  https://prometheus.io/docs/instrumenting/exposition_formats/). */
#include "metrics.h"
#include "auth.h"
#include "connguard.h"
#include "progress.h"
#include "dbsize.h"

#include "cds_err.h"
#include "cds_util.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Label value escaping of the text format: \\, \" and \n. */
static void
put_label(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', out);
        if (*s == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*s, out);
    }
}

static void
head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
totals(FILE *out, const health_agent_t *list, size_t n)
{
    uint64_t acc = 0, rej = 0, bat = 0, hb = 0, depth = 0, lag = 0;
    for (size_t i = 0; i < n; i++) {
        acc += list[i].accepted_total;
        rej += list[i].rejected_total;
        bat += list[i].batches_total;
        hb += list[i].heartbeats_total;
        depth += list[i].queue_depth;
        if (list[i].lag_ms > lag)
            lag = list[i].lag_ms;
    }
    head(out, "cdsync_updates_applied_total", "counter",
         "Updates applied (merged), including ones applied by rejects retry.");
    fprintf(out, "cdsync_updates_applied_total %" PRIu64 "\n", acc);
    head(out, "cdsync_updates_rejected_total", "counter",
         "Updates rejected one by one (invalid value, unknown indicator...).");
    fprintf(out, "cdsync_updates_rejected_total %" PRIu64 "\n", rej);
    head(out, "cdsync_batches_total", "counter",
         "Batches with new updates processed.");
    fprintf(out, "cdsync_batches_total %" PRIu64 "\n", bat);
    head(out, "cdsync_heartbeats_total", "counter",
         "Heartbeats received from agents.");
    fprintf(out, "cdsync_heartbeats_total %" PRIu64 "\n", hb);
    head(out, "cdsync_queue_pending_updates", "gauge",
         "Sum of the agents' reported outbox depths.");
    fprintf(out, "cdsync_queue_pending_updates %" PRIu64 "\n", depth);
    head(out, "cdsync_agent_lag_max_seconds", "gauge",
         "Largest lag of any agent.");
    fprintf(out, "cdsync_agent_lag_max_seconds %.3f\n", (double) lag / 1000);
}

static void
states(FILE *out, const health_agent_t *list, size_t n)
{
    uint64_t count[HEALTH__COUNT] = { 0 };
    for (size_t i = 0; i < n; i++)
        count[list[i].state]++;
    head(out, "cdsync_agents", "gauge", "Enrolled agents by health state.");
    for (int s = 0; s < HEALTH__COUNT; s++)
        fprintf(out, "cdsync_agents{state=\"%s\"} %" PRIu64 "\n",
                health_state_name((health_state_t) s), count[s]);
    head(out, "cdsync_agents_worst_severity", "gauge",
         "0 all OK, 1 a warning (SKEWED, LAGGING, REJECTING, metadata "
         "behind too long), 2 a critical state (SILENT, AHEAD, REVOKED).");
    fprintf(out, "cdsync_agents_worst_severity %d\n", health_worst(list, n));
}

static int
refused(FILE *out, health_t *health)
{
    uint64_t counts[CDS__COUNT];
    int rc = health_refused_by_code(health, counts, CDS__COUNT);
    if (rc != CDS_OK)
        return rc;
    head(out, "cdsync_messages_refused_total", "counter",
         "Whole messages refused and kept in the reject table, by reason.");
    /* Every reason from the start, at 0 until used: a series that appears
     * only with its first refusal has no rate() and the panel says "No
     * data" instead of 0. */
    for (int c = 1; c < CDS__COUNT; c++)
        fprintf(out, "cdsync_messages_refused_total{reason=\"%s\"} %"
                PRIu64 "\n", cds_strerror(c), counts[c]);
    return CDS_OK;
}

typedef double (agent_value_fn)(const health_agent_t *a, uint64_t now);

static double
v_severity(const health_agent_t *a, uint64_t now)
{
    return health_severity(a->state);
}

static double
v_lag(const health_agent_t *a, uint64_t now)
{
    return (double) a->lag_ms / 1000;
}

static double
v_seen(const health_agent_t *a, uint64_t now)
{
    int64_t t = a->last_seen_ms ? a->last_seen_ms : a->enrolled_at_ms;
    return t > 0 && (uint64_t) t < now ? (double) (now - (uint64_t) t) / 1000
                                        : 0;
}

static double
v_depth(const health_agent_t *a, uint64_t now)
{
    return (double) a->queue_depth;
}

static double
v_rejected(const health_agent_t *a, uint64_t now)
{
    return (double) a->rejected_hour;
}

static double
v_offset(const health_agent_t *a, uint64_t now)
{
    return (double) a->clock_offset_ms / 1000;
}

static double
v_metadata(const health_agent_t *a, uint64_t now)
{
    return (double) a->metadata_version;
}

/* Published metadata (issue 20): the newest version, how many agents
 * (not revoked) are not known to be on it (their last heartbeat named an
 * older one, 0: their configured files, or none came yet) and how many
 * of them for longer than metadata_behind_after_ms (health.h). */
static void
metadata_behind(FILE *out, const health_agent_t *list, size_t n)
{
    uint64_t latest = n ? list[0].metadata_latest : 0;
    size_t alerts = 0, behind = health_metadata_behind(list, n, &alerts);
    head(out, "cdsync_metadata_latest_version", "gauge", "Newest "
         "published metadata version (0: none).");
    fprintf(out, "cdsync_metadata_latest_version %" PRIu64 "\n", latest);
    head(out, "cdsync_agents_metadata_behind", "gauge", "Enrolled agents "
         "not known to be on it: their last heartbeat named an older "
         "version, or none came yet.");
    fprintf(out, "cdsync_agents_metadata_behind %zu\n", behind);
    head(out, "cdsync_agents_metadata_behind_alert", "gauge", "Of those, "
         "behind for more than metadata_behind_after_ms (default a day) "
         "since a newer version was published or they were enrolled "
         "(aggregator clock).");
    fprintf(out, "cdsync_agents_metadata_behind_alert %zu\n", alerts);
}

static void
agent_labels(FILE *out, const char *name, const health_agent_t *a)
{
    fprintf(out, "%s{agent=\"", name);
    put_label(out, a->fpr);
    fputs("\",commune=\"", out);
    put_label(out, a->commune[0] ? a->commune : a->label);
    fputc('"', out);
}

/* Per-agent series for the first top_n (the list is worst first). The
 * state is its own 0/1 gauge per state (kube-state-metrics style), so the
 * other series keep their labels when the state changes. */
static void
per_agent(FILE *out, const health_agent_t *list, size_t n, unsigned top_n,
          uint64_t now)
{
    static const struct {
        const char *name, *help;
        agent_value_fn *fn;
    } g[] = {
        { "cdsync_agent_severity", "Health severity of the agent (0, 1, 2); "
          "worst agents only.", v_severity },
        { "cdsync_agent_lag_seconds", "Age of the agent's oldest undelivered "
          "update (reported or inferred).", v_lag },
        { "cdsync_agent_last_seen_age_seconds", "Time since the agent's last "
          "verified message.", v_seen },
        { "cdsync_agent_queue_depth", "Updates waiting in the agent's outbox "
          "(last heartbeat).", v_depth },
        { "cdsync_agent_rejected_last_hour", "Rejected updates and messages "
          "of the agent in the last hour.", v_rejected },
        { "cdsync_agent_clock_offset_seconds", "Agent clock minus aggregator "
          "clock at its last heartbeat or batch (SKEWED beyond "
          "max_clock_skew_ms).", v_offset },
        { "cdsync_agent_metadata_version", "Published metadata version the "
          "agent validates with (last heartbeat; 0: its configured files).",
          v_metadata },
    };
    size_t k = n < top_n ? n : top_n;
    head(out, "cdsync_agent_state", "gauge", "1 for the agent's current "
         "health state, 0 for the others; worst agents only.");
    for (size_t i = 0; i < k; i++)
        for (int s = 0; s < HEALTH__COUNT; s++) {
            agent_labels(out, "cdsync_agent_state", &list[i]);
            fprintf(out, ",state=\"%s\"} %d\n",
                    health_state_name((health_state_t) s),
                    list[i].state == (health_state_t) s);
        }
    for (size_t j = 0; j < sizeof g / sizeof g[0]; j++) {
        head(out, g[j].name, "gauge", g[j].help);
        for (size_t i = 0; i < k; i++) {
            agent_labels(out, g[j].name, &list[i]);
            fprintf(out, "} %.3f\n", g[j].fn(&list[i], now));
        }
    }
}

/* The connection guard's figures (connguard.h), when there is one. */
static void
connections(FILE *out, const connguard_t *g)
{
    unsigned open = 0, pending = 0;
    if (!g)
        return;
    connguard_counts(g, &open, &pending);
    head(out, "cdsync_connections_refused_total", "counter",
         "Connections shut down by the guard since start (pending "
         "handshakes over the cap, descriptor reserve, bytes held, "
         "multipart messages).");
    fprintf(out, "cdsync_connections_refused_total %" PRIu64 "\n",
            connguard_refused(g));
    head(out, "cdsync_connections", "gauge",
         "Agent TCP connections tracked, by state.");
    fprintf(out, "cdsync_connections{state=\"pending\"} %u\n", pending);
    fprintf(out, "cdsync_connections{state=\"live\"} %u\n", open - pending);
    head(out, "cdsync_fd_headroom", "gauge",
         "Free file descriptors (soft RLIMIT_NOFILE minus open), -1 unknown.");
    fprintf(out, "cdsync_fd_headroom %ld\n", connguard_fd_headroom(g));
}

/* Refused handshakes by reason (auth.h): the knocks, before grouping. */
static void
handshakes(FILE *out)
{
    static const char *const name[AUTH_REASONS] = {
        [AUTH_REASON_UNKNOWN_KEY] = "unknown_key",
        [AUTH_REASON_REVOKED] = "revoked",
        [AUTH_REASON_BAD_REQUEST] = "bad_request",
        [AUTH_REASON_HANDSHAKE] = "handshake_failed",
    };
    head(out, "cdsync_handshakes_denied_total", "counter",
         "CURVE handshakes refused since start: by the ZAP handler (unknown "
         "or revoked key, bad request) or failed before it (wrong server "
         "key, no CURVE).");
    for (int r = 0; r < AUTH_REASONS; r++)
        fprintf(out, "cdsync_handshakes_denied_total{reason=\"%s\"} %" PRIu64
                "\n", name[r], auth_refused((auth_reason_t) r));
}

/* Boot time in seconds since the epoch (/proc/stat btime); 0 unknown. */
static unsigned long long
boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    unsigned long long btime = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    if (f)
        fclose(f);
    return btime;
}

static long
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3;                      /* ".", ".." and opendir's own */
}

/* The standard process_* series of Prometheus client libraries, from
 * /proc/self (Linux); a figure that cannot be read is left out. */
static void
process_metrics(FILE *out)
{
    unsigned long long utime, stime, start;
    long rss, ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = '\0';
    /* fields after the command name, which may hold spaces and ')' */
    const char *p = strrchr(buf, ')');
    if (p && ticks > 0 && page > 0
        && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
                  "%llu %*d %*d %*d %*d %*d %*d %llu %*u %ld", &utime,
                  &stime, &start, &rss) == 4) {
        head(out, "process_cpu_seconds_total", "counter",
             "Total user and system CPU time spent in seconds.");
        fprintf(out, "process_cpu_seconds_total %.2f\n",
                (double) (utime + stime) / (double) ticks);
        head(out, "process_resident_memory_bytes", "gauge",
             "Resident memory size in bytes.");
        fprintf(out, "process_resident_memory_bytes %lld\n",
                (long long) rss * page);
        unsigned long long btime = boot_time();
        if (btime) {
            head(out, "process_start_time_seconds", "gauge",
                 "Start time of the process since unix epoch in seconds.");
            fprintf(out, "process_start_time_seconds %.2f\n",
                    (double) btime + (double) start / (double) ticks);
        }
    }
    long fds = open_fds();
    if (fds >= 0) {
        head(out, "process_open_fds", "gauge",
             "Number of open file descriptors.");
        fprintf(out, "process_open_fds %ld\n", fds);
    }
}

void
metrics_set_limits(metrics_t *m, const health_thresholds_t *th,
                   unsigned top_n)
{
    pthread_mutex_lock(&m->lock);
    m->th = *th;
    m->top_n = top_n;
    pthread_mutex_unlock(&m->lock);
}

/* The limits as they are now (a reload may replace them meanwhile). */
static void
limits(const metrics_t *m, health_thresholds_t *th, unsigned *top_n)
{
    metrics_t *w = (metrics_t *) m;    /* the lock only */
    pthread_mutex_lock(&w->lock);
    *th = m->th;
    *top_n = m->top_n;
    pthread_mutex_unlock(&w->lock);
}

int
metrics_render(health_t *health, const metrics_t *m, uint64_t now_ms,
               FILE *out)
{
    health_agent_t *list = NULL;
    size_t n = 0;
    health_thresholds_t th;
    unsigned top_n = 0;
    limits(m, &th, &top_n);
    int rc = health_list(health, &th, now_ms, &list, &n);
    if (rc != CDS_OK)
        return rc;
    head(out, "cdsync_build_info", "gauge", "Aggregator version.");
    fprintf(out, "cdsync_build_info{version=\"");
    put_label(out, m->version ? m->version : "");
    fputs("\"} 1\n", out);
    process_metrics(out);
    states(out, list, n);
    totals(out, list, n);
    metadata_behind(out, list, n);
    connections(out, m->guard);
    progress_render(m->progress, progress_now_ns(), out);
    handshakes(out);
    rc = refused(out, health);
    if (rc == CDS_OK)
        per_agent(out, list, n, top_n, now_ms);
    free(list);
    return rc;
}

/* Room taken and left (dbsize.h), and the writer's synced commits. */
static int
storage(FILE *out, cds_sql_t *db)
{
    dbsize_t z;
    int rc = dbsize_read(db, &z);
    head(out, "cdsync_db_commits_total", "counter",
         "Write transactions committed since start (one WAL fsync each).");
    fprintf(out, "cdsync_db_commits_total %" PRIu64 "\n",
            cds_sql_write_commits());
    static const struct { const char *name, *help; } g[] = {
        { "cdsync_db_size_bytes", "Size of the database file." },
        { "cdsync_db_wal_size_bytes", "Size of the database's WAL file." },
        { "cdsync_rejects_stored_bytes", "Bytes of database pages held by "
          "the reject table and its indexes." },
        { "cdsync_disk_free_bytes", "Bytes free to the aggregator on the "
          "database's filesystem." },
    };
    int64_t v[] = { z.db_bytes, z.wal_bytes, rc == CDS_OK ? z.rejects_bytes
                    : -1, z.disk_free_bytes };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (v[i] >= 0) {       /* unknown: left out */
            head(out, g[i].name, "gauge", g[i].help);
            fprintf(out, "%s %" PRId64 "\n", g[i].name, v[i]);
        }
    return rc;
}

/* ---- routes ----------------------------------------------------------- */

/* The HTTP thread's health reader, on its read-only connection. */
static health_t *
thread_health(http_req_t *req, metrics_t *m)
{
    store_t *store = http_req_store(req);
    if (store && !m->health)
        m->health = health_new(store);
    return store ? m->health : NULL;
}

static void
on_metrics(http_req_t *req, void *ctx)
{
    metrics_t *m = ctx;
    health_t *h = thread_health(req, m);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = h ? open_memstream(&buf, &len) : NULL;
    int rc = out ? metrics_render(h, m, cds_now_ms(), out) : CDS_EIO;
    if (rc == CDS_OK)
        rc = storage(out, store_sql(http_req_store(req)));
    if (out)
        fclose(out);
    if (rc == CDS_OK)
        http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                        buf, len);
    else
        http_reply_text(req, 503, "text/plain", "database unavailable\n",
                        21);
    free(buf);
}

/* Ready to take batches: the database answers and the writer is not
 * stuck (progress.h). Read from atomics: answers while the writer is
 * blocked. */
static void
on_healthz(http_req_t *req, void *ctx)
{
    metrics_t *m = ctx;
    store_t *store = http_req_store(req);
    uint64_t stalled_ms = 0, waiting = 0;
    char why[1024];
    if (!store || cds_sql_exec(store_sql(store), "SELECT 1") != CDS_OK) {
        http_reply_text(req, 503, "text/plain", "database unavailable\n",
                        21);
        return;
    }
    if (m->writer && store_writer_lost(m->writer)) {
        int n = snprintf(why, sizeof why, "writer lock lost: another "
                         "session holds the single-writer lock of %s; not "
                         "writing\n", store_where(m->writer));
        http_reply_text(req, 503, "text/plain", why,
                        n > 0 && (size_t) n < sizeof why ? (size_t) n
                                                         : strlen(why));
        return;
    }
    if (!progress_stuck(m->progress, progress_now_ns(), &stalled_ms,
                        &waiting)) {
        http_reply_text(req, 200, "text/plain", "ok\n", 3);
        return;
    }
    int n = snprintf(why, sizeof why, "writer stuck for %llu s, %llu "
                     "message%s waiting\n",
                     (unsigned long long) (stalled_ms / 1000),
                     (unsigned long long) waiting, waiting == 1 ? "" : "s");
    http_reply_text(req, 503, "text/plain", why,
                    n > 0 && (size_t) n < sizeof why ? (size_t) n : 0);
}

/* Liveness: this thread answers. Nothing else is checked, so a restart
 * policy on it never kills a daemon that is only waiting for its disk. */
static void
on_livez(http_req_t *req, void *ctx)
{
    http_reply_text(req, 200, "text/plain", "ok\n", 3);
}

static void
on_api_health(http_req_t *req, void *ctx)
{
    metrics_t *m = ctx;
    health_t *h = thread_health(req, m);
    health_agent_t *list = NULL;
    size_t n = 0;
    uint64_t now = cds_now_ms();
    health_thresholds_t th;
    unsigned top_n = 0;
    limits(m, &th, &top_n);
    if (!h || health_list(h, &th, now, &list, &n) != CDS_OK) {
        http_reply_error(req, 503, "database unavailable");
        return;
    }
    json_t *agents = health_to_json(list, n, now);
    json_t *o = agents ? json_pack("{s:i, s:I, s:I, s:o}", "worst_severity",
                                   health_worst(list, n), "now_ms",
                                   (json_int_t) now,
                                   "metadata_behind_after_ms",
                                   (json_int_t) th.metadata_behind_after_ms,
                                   "agents", agents)
                       : NULL;
    free(list);
    if (o)
        http_reply_json(req, 200, o);
    else
        http_reply_error(req, 500, "out of memory");
}

static void
metrics_fini(void *ctx)
{
    metrics_t *m = ctx;
    health_destroy(&m->health);
}

int
metrics_routes_add(http_t *http, metrics_t *m)
{
    if (http_route_add(http, "GET", "/metrics", on_metrics, m) != 0
        || http_route_add(http, "GET", "/healthz", on_healthz, m) != 0
        || http_route_add(http, "GET", "/livez", on_livez, NULL) != 0
        /* like every /api/ route: it names every commune and agent */
        || http_route_add_roles(http, "GET", "/api/health", on_api_health,
                                m, HTTP_ROLE_OPERATOR | HTTP_ROLE_PROVINCE)
               != 0
        || http_cleanup_add(http, metrics_fini, m) != 0)
        return -1;
    return 0;
}
