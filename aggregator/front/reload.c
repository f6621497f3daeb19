/*  reload: see reload.h. Each part is checked before anything of it is
 *  applied, so a bad value leaves the running one in place. */
#include "reload.h"
#include "checkconf.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *const reload_restart_keys[] = {
    "aggregator.state_dir", "aggregator.identity", "aggregator.listen",
    "aggregator.http_listen", "aggregator.group_max",
    "aggregator.max_pending_handshakes", "aggregator.dashboard",
    "aggregator.orgunit_map", "aggregator.deadline_daily", "aggregator.deadline_weekly",
    "aggregator.deadline_monthly", "aggregator.deadline_quarterly",
    "aggregator.deadline_sixmonthly", "aggregator.deadline_yearly",
    "aggregator.rules", "aggregator.outlier_periods", "aggregator.outlier_z",
    "aggregator.outlier_pct",
    "aggregator.session_idle_s", "aggregator.session_max_s",
    "aggregator.login_max_failures",
    "aggregator.datasets", "aggregator.contacts",
    NULL,
};

static void
refused(const char *what, const char *error)
{
    cds_log(CDS_LOG_ERROR, "reload_refused", "what=%s error=%s note=%s",
            what, cds_logq(error), cds_logq("kept the running one"));
}

/* A new catalog version is swapped in; the same version changes nothing. */
static int
reload_catalog(reload_ctx_t *c, const char *path)
{
    char err[512] = "";
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    if (!cat) {
        refused("catalog", err);
        return -1;
    }
    const char *was = cds_catalog_version(*c->catalog);
    if (strcmp(was, cds_catalog_version(cat)) == 0) {
        cds_catalog_destroy(&cat);
        return 0;
    }
    cds_log(CDS_LOG_INFO, "catalog_reloaded", "file=%s old=%s new=%s "
            "indicators=%zu", cds_logq(path), was, cds_catalog_version(cat),
            cds_catalog_size(cat));
    server_set_catalog(c->server, cat);
    cds_catalog_destroy(c->catalog);
    *c->catalog = cat;
    return 0;
}

static int
reload_orgunits(reload_ctx_t *c, const char *path)
{
    char err[512] = "";
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    int code = ous ? store_orgunits_load(c->store, ous) : CDS_EMALFORMED;
    if (!ous)
        refused("orgunits", err);
    else if (code != CDS_OK)
        refused("orgunits", cds_strerror(code));
    cds_orgunits_destroy(&ous);
    return code == CDS_OK ? 0 : -1;
}

/* The numbers, each in the range `run` accepts (checkconf_range). */
static int
reload_numbers(reload_ctx_t *c, const cds_config_t *cfg)
{
    static const char *const keys[4] = {
        "aggregator.max_clock_skew_ms", "aggregator.reject_raw_per_hour",
        "aggregator.reject_retention_days", "aggregator.reject_min_free_mb",
    };
    long v[4], lo = 0, hi = 0;
    char err[256];
    for (int i = 0; i < 4; i++)
        if (!checkconf_range(keys[i], &lo, &hi)
            || cds_config_get_long(cfg, keys[i], &v[i], err, sizeof err)
                != CDS_OK || v[i] < lo || v[i] > hi) {
            snprintf(err, sizeof err, "%s: \"%s\": expected %ld..%ld",
                     keys[i] + strlen("aggregator."),
                     cds_config_get(cfg, keys[i]), lo, hi);
            refused(keys[i] + strlen("aggregator."), err);
            return -1;
        }
    ingest_set_max_skew(c->ingest, (uint64_t) v[0]);
    store_set_reject_bounds(c->store, (int) v[1], (int64_t) v[2] * 86400000,
                            (uint64_t) v[3] << 20);
    return 0;
}

/* Health thresholds and metrics_top_n: all valid, or none applied. */
static int
reload_thresholds(reload_ctx_t *c, const cds_config_t *cfg)
{
    health_thresholds_t th;
    char err[512];
    long top_n = 0, lo = 0, hi = 0;
    if (health_thresholds_parse(cfg, &th, err, sizeof err) != CDS_OK) {
        refused("thresholds", err);
        return -1;
    }
    if (!checkconf_range("aggregator.metrics_top_n", &lo, &hi)
        || cds_config_get_long(cfg, "aggregator.metrics_top_n", &top_n, err,
                               sizeof err) != CDS_OK
        || top_n < lo || top_n > hi) {
        snprintf(err, sizeof err, "metrics_top_n: \"%s\": expected "
                 "%ld..%ld", cds_config_get(cfg, "aggregator.metrics_top_n"),
                 lo, hi);
        refused("metrics_top_n", err);
        return -1;
    }
    if (c->metrics)
        metrics_set_limits(c->metrics, &th, (unsigned) top_n);
    if (c->health)
        health_set_flush_ms(c->health, health_flush_ms_for(th.silent_after_ms));
    return 0;
}

int
reload_apply(const cds_config_t *fresh, void *ctx)
{
    reload_ctx_t *c = ctx;
    int rc = reload_catalog(c, cds_config_get(fresh, "aggregator.catalog"));
    rc |= reload_orgunits(c, cds_config_get(fresh, "aggregator.orgunits"));
    rc |= reload_numbers(c, fresh);
    rc |= reload_thresholds(c, fresh);
    return rc;
}
