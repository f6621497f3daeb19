/*  daemon: the wiring of `cdsync-aggregator run` once its identity,
 *  catalog, lock and database are in hand (main.c cmd_run): integrity
 *  check and commit mark (commitmark.h), ingest and health, the HTTP
 *  thread (metrics, API, dashboard), the connection guard and progress
 *  watch, the ROUTER socket (server.h), SIGHUP reload (reload.h), until a
 *  stop. Exit codes as docs/cli.md: 3 for a bad [aggregator] value, 4 for
 *  what fails at runtime (listen, database). */
#include "daemon.h"

#include "account.h"
#include "api.h"
#include "approve.h"
#include "cds_ckpt.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_service.h"
#include "cds_signal.h"
#include "cds_util.h"
#include "checkconf.h"
#include "commitmark.h"
#include "connguard.h"
#include "dashboard.h"
#include "http.h"
#include "ingest.h"
#include "metaver.h"
#include "metrics.h"
#include "progress.h"
#include "rejects.h"
#include "reload.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static const char *
get(cds_cli_t *cli, const char *key)
{
    return cds_config_get(cli->cfg, key);
}

/* Health thresholds from [aggregator]. 0 or an exit code (reported). */
int
daemon_thresholds(cds_cli_t *cli, health_thresholds_t *th)
{
    char err[512];
    if (health_thresholds_parse(cli->cfg, th, err, sizeof err) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    return 0;
}

/* The HTTP thread (metrics.h routes), unless http_listen is empty. */
/* Login sessions and the rate limit (account.h), from the options. */
static int
daemon_accounts(cds_cli_t *cli, http_t *http)
{
    static const char *const keys[] = { "aggregator.session_idle_s",
                                        "aggregator.session_max_s",
                                        "aggregator.login_max_failures" };
    long v[3] = { 0 }, lo = 1, hi = 1;
    char err[512];
    for (int i = 0; i < 3; i++)
        if (!checkconf_range(keys[i], &lo, &hi)
            || cds_config_get_long(cli->cfg, keys[i], &v[i], err, sizeof err)
                   != CDS_OK
            || v[i] < lo || v[i] > hi)
            return cds_cli_fail(CDS_EXIT_CONFIG, "%s: expected %ld..%ld",
                                keys[i] + 11, lo, hi);
    account_limits_t lim = { .idle_s = v[0], .max_s = v[1],
                             .max_failures = v[2] };
    if (account_routes_add(http, &lim, err, sizeof err) != CDS_OK)
        return cds_cli_fail(-1, "http accounts: %s", err);
    return 0;
}

static int
start_http(cds_cli_t *cli, http_t **http, metrics_t *m,
           const connguard_t *guard, const progress_t *progress,
           store_t *writer)
{
    const char *listen = get(cli, "aggregator.http_listen");
    long top_n = 0;
    char err[512];
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->guard = guard;
    m->progress = progress;
    m->writer = writer;
    if (!listen || !listen[0])
        return 0;
    if (daemon_thresholds(cli, &m->th) != 0)
        return -1;
    if (cds_config_get_long(cli->cfg, "aggregator.metrics_top_n", &top_n, err,
                            sizeof err) != CDS_OK ||
        top_n < 0 || top_n > 10000)
        return cds_cli_fail(-1, "metrics_top_n: expected 0..10000");
    m->top_n = (unsigned)top_n;
    m->version = CDS_VERSION;
    http_config_t hc = {.listen = listen, .db_path = cli->store};
    *http = http_new(&hc, err, sizeof err);
    if (!*http)
        return cds_cli_fail(-1, "%s", err);
    /* district-admin API (api.h): /api/query, rollup, completeness, ... */
    if (api_routes_add(*http, cli->cfg, cli->store, cli->identity, err,
                       sizeof err) != CDS_OK) {
        http_destroy(http);
        return cds_cli_fail(-1, "http api: %s", err);
    }
    /* corrections and approval (approve.h): /api/correct, approve, ... */
    if (approve_routes_add(*http, cli->cfg, cli->store, cli->identity, err,
                           sizeof err) != CDS_OK) {
        http_destroy(http);
        return cds_cli_fail(-1, "http approval: %s", err);
    }
    if (daemon_accounts(cli, *http) != 0) {
        http_destroy(http);
        return -1;
    }
    int dash = dashboard_routes_add(*http, get(cli, "aggregator.dashboard"),
                                    err, sizeof err);
    if (dash != CDS_OK && dash != CDS_ENOTFOUND) {
        http_destroy(http);
        return cds_cli_fail(-1, "dashboard: %s", err);
    }
    if (metrics_routes_add(*http, m) != 0) {
        http_destroy(http);
        return cds_cli_fail(-1, "http: cannot add the metrics routes");
    }
    errno = 0;
    if (http_start(*http) != CDS_OK) {
        /* A busy or unbindable port is runtime (4), like the ZeroMQ one. */
        const char *why = errno ? strerror(errno) : "see the log";
        http_destroy(http);
        return cds_cli_fail(-2, "run: cannot listen on http %s: %s", listen,
                            why);
    }
    return 0;
}

/* Compare the database with its commit mark (commitmark.h): refuse when
 * acked commits are missing; create or repair the mark when safe. */
static int
check_commit_mark(cds_cli_t *cli, commitmark_t **mark, store_t *store)
{
    commitmark_state_t st = COMMITMARK_OK;
    char msg[1536];
    *mark = commitmark_new(store, cli->db_path);
    int code =
        *mark ? commitmark_check(*mark, &st, msg, sizeof msg) : CDS_ENOMEM;
    char where[4096];
    store_display(cli->store, where, sizeof where);
    if (code != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME,
                            "%s: cannot check its commit mark (%s)",
                            where, cds_strerror(code));
    if (st == COMMITMARK_OK)
        return 0;
    if (commitmark_state_runs(st)) {
        cds_log(st == COMMITMARK_CREATED ? CDS_LOG_INFO : CDS_LOG_WARN,
                "commit_mark", "state=%s message=%s", commitmark_state_name(st),
                cds_logq(msg));
        return 0;
    }
    cds_log(CDS_LOG_ERROR, "commit_mark_refused", "state=%s database=%s",
            commitmark_state_name(st), cds_logq(where));
    return cds_cli_fail(CDS_EXIT_RUNTIME, "%s", msg);
}

/* Rejects past the retention go at start (then as rejects arrive,
 * store.h): a failure is logged and the daemon runs anyway. */
static void
prune_rejects_at_start(cds_cli_t *cli, store_t *store)
{
    long days = 0;
    char err[256];
    int64_t n = 0;
    if (cds_config_get_long(cli->cfg, "aggregator.reject_retention_days", &days,
                            err, sizeof err) == CDS_OK &&
        days > 0)
        rejects_prune(store, (int64_t)cds_now_ms() - days * 86400000LL, &n);
}

/* Held heartbeats (health.h): health_flush_ms_for(silent_after_ms). */
static void
set_heartbeat_flush(cds_cli_t *cli, health_t *health)
{
    long silent = 0;
    char err[256];
    if (cds_config_get_long(cli->cfg, "aggregator.silent_after_ms", &silent,
                            err, sizeof err) != CDS_OK ||
        silent < 0)
        silent = 0x7fffffff;
    health_set_flush_ms(health, health_flush_ms_for((uint64_t)silent));
}

/* Ingest, health, HTTP and the ROUTER socket, until a stop. *cat is the
 * running catalog; a SIGHUP reload may replace it (reload.h). */
/* The published metadata versions' catalogs for ingest (ingest.h
 * ingest_set_versions). A failure is logged: batches are then checked
 * against the configured catalog only, as before issue 20. */
static void
load_versions(store_t *store, const cds_identity_t *id, ingest_t *ingest)
{
    metaver_t *set = NULL;
    int rc = metaver_load(store, cds_identity_sign_pk(id), &set);
    size_t n = metaver_count(set);
    int64_t latest = metaver_latest(set);
    if (rc == CDS_OK)
        rc = ingest_set_versions(ingest, set);
    if (rc != CDS_OK)
        cds_log(CDS_LOG_WARN, "metadata_versions_unloaded", "error=%s",
                cds_strerror(rc));
    else
        cds_log(CDS_LOG_INFO, "metadata_versions_loaded", "latest=%lld "
                "versions=%zu", (long long) latest, n);
}

static int
serve(cds_cli_t *cli, const cds_identity_t *id, cds_catalog_t **cat,
      store_t *store, long group_max, commitmark_t *mark)
{
    long skew = 0;
    char serr[256];
    if (cds_config_get_long(cli->cfg, "aggregator.max_clock_skew_ms", &skew,
                            serr, sizeof serr) != CDS_OK ||
        skew < 1000 || skew > 30L * 86400000L)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "max_clock_skew_ms: \"%s\": expected "
                            "1000..2592000000",
                            get(cli, "aggregator.max_clock_skew_ms"));
    long stuck_ms = 0;
    if (cds_config_get_long(cli->cfg, "aggregator.writer_stuck_after_ms",
                            &stuck_ms, serr, sizeof serr) != CDS_OK ||
        stuck_ms < 1000 || stuck_ms > 86400000L)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "writer_stuck_after_ms: \"%s\": expected "
                            "1000..86400000",
                            get(cli, "aggregator.writer_stuck_after_ms"));
    long max_pending = 0;
    if (cds_config_get_long(cli->cfg, "aggregator.max_pending_handshakes",
                            &max_pending, serr, sizeof serr) != CDS_OK ||
        max_pending < 1 || max_pending > 1000000)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "max_pending_handshakes: \"%s\": expected "
                            "1..1000000",
                            get(cli, "aggregator.max_pending_handshakes"));
    ingest_t *ingest = ingest_new(store, id, *cat);
    if (ingest) {
        ingest_set_max_skew(ingest, (uint64_t)skew);
        ingest_set_commitmark(ingest, mark);
        load_versions(store, id, ingest);
    }
    health_t *health = ingest ? health_new(store) : NULL;
    if (health) {
        set_heartbeat_flush(cli, health);
        ingest_set_health(ingest, health);
    }
    prune_rejects_at_start(cli, store);
    http_t *http = NULL;
    metrics_t metrics;
    /* Before HTTP and the socket: its table is sized by the fd limit. */
    connguard_t *guard = health ? connguard_new((unsigned)max_pending) : NULL;
    progress_t *progress = guard ? progress_new((uint64_t)stuck_ms) : NULL;
    int hrc = progress ? start_http(cli, &http, &metrics, guard, progress,
                                     store) : 0;
    if (hrc != 0) {
        progress_destroy(&progress);
        connguard_destroy(&guard);
        health_destroy(&health);
        ingest_destroy(&ingest);
        return hrc == -2 ? CDS_EXIT_RUNTIME : CDS_EXIT_CONFIG;
    }
    /* CURVE + ZAP or nothing: server_new_secure fails if either cannot
     * be set up, and we exit. */
    server_t *server =
        progress
            ? server_new_secure(store, ingest, id,
                                get(cli, "aggregator.listen"), (int)group_max)
            : NULL;
    int code = CDS_ERROR;
    /* Checkpoints off the group commits (latency); NULL keeps SQLite's. */
    cds_ckpt_t *ckpt = server ? store_ckpt_new(store, CDS_CKPT_PAGES,
                                               CDS_CKPT_MAX_PAGES_AGG)
                              : NULL;
    if (server) {
        server_set_commitmark(server, mark);
        server_set_guard(server, guard);
        server_set_progress(server, progress);
        cds_signal_install();
        char pub[CDS_PUBID_LEN];
        cds_identity_public(id, pub, sizeof pub);
        cds_log(CDS_LOG_INFO, "started", "identity=%s catalog=%s version=%s",
                pub, cds_catalog_version(*cat), CDS_VERSION);
        char status[256];
        snprintf(status, sizeof status, "serving %s, catalog %s",
                 get(cli, "aggregator.listen"), cds_catalog_version(*cat));
        reload_ctx_t live = {.server = server,
                             .ingest = ingest,
                             .store = store,
                             .catalog = cat,
                             .health = health,
                             .metrics = http ? &metrics : NULL};
        cds_service_on_reload(reload_restart_keys, reload_apply, &live);
        cds_service_ready(status);
        code = server_run(server);
        cds_service_on_reload(NULL, NULL, NULL);
    }
    cds_ckpt_destroy(&ckpt);
    server_destroy(&server);
    http_destroy(&http);
    progress_destroy(&progress);
    connguard_destroy(&guard);
    ingest_destroy(&ingest);
    health_destroy(&health);
    if (code != CDS_OK && server_bind_error())
        return cds_cli_fail(CDS_EXIT_RUNTIME, "run: cannot listen on %s: %s",
                            get(cli, "aggregator.listen"), server_bind_error());
    if (code != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "run: %s (listen=%s)",
                            cds_strerror(code), get(cli, "aggregator.listen"));
    return 0;
}

/* Identity, catalog, database (with integrity check), then serve. */
int
daemon_serve(cds_cli_t *cli, const cds_identity_t *id, cds_catalog_t **cat,
             store_t *store, long group_max)
{
    /* SQLite: the file's own check; PostgreSQL checks its pages itself. */
    if (store_quick_check(store) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME,
                            "%s: the database failed its integrity "
                            "check; refusing to run (restore it from a backup)",
                            cli->db_path);
    /* One savepoint per message (store.h): past 64 in a transaction
     * PostgreSQL's subtransaction cache overflows. */
    if (cds_sql_backend(store_sql(store)) == CDS_SQL_POSTGRESQL
        && group_max > STORE_PG_GROUP_MAX)
        cds_log(CDS_LOG_WARN, "group_max_high",
                "group_max=%ld message=%s", group_max,
                cds_logq("over 64 savepoints per transaction overflow "
                         "PostgreSQL's subtransaction cache and slow every "
                         "session of the server: keep group_max <= 64"));
    commitmark_t *mark = NULL;
    int rc = check_commit_mark(cli, &mark, store);
    if (rc) {
        commitmark_destroy(&mark);
        return rc;
    }
    rc = serve(cli, id, cat, store, group_max, mark);
    commitmark_destroy(&mark);
    return rc;
}

/* Raise the soft RLIMIT_NOFILE to the hard limit: every agent holds one
 * TCP connection, and the default soft limit (1024 under systemd) would
 * let ~1000 idle connections starve the database, the commit mark and
 * HTTP. The shipped unit sets LimitNOFILE= (soft = hard) and forbids
 * @resources, so there soft == hard and setrlimit is never called; where
 * it is called and refused (EPERM from a seccomp filter) we log and run
 * with what we have: the connection guard (connguard.h) keeps the
 * reserve whatever the limit. */
void
daemon_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t was = rl.rlim_cur;
    const char *how = "unchanged";
    bool refused = false;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        refused = setrlimit(RLIMIT_NOFILE, &rl) != 0;
        how = refused ? "refused" : "raised";
        if (refused)
            rl.rlim_cur = was;
    }
    cds_log(refused ? CDS_LOG_WARN : CDS_LOG_INFO, "fd_limit",
            "soft_was=%llu soft=%llu hard=%llu result=%s",
            (unsigned long long)was, (unsigned long long)rl.rlim_cur,
            (unsigned long long)rl.rlim_max, how);
}
