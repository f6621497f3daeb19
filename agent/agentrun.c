/*  agentrun: the wiring of `cdsync-agent run` once its identity, catalog,
 *  outbox and lock are in hand (main.c cmd_run): the sender's numbers
 *  range-checked from [agent], the sender started (sender.h), SIGHUP
 *  reload of the catalog and timings (cds_service.h), until a stop. */
#include "agentrun.h"

#include "cds_catalog.h"
#include "cds_cli.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_service.h"
#include "cds_signal.h"
#include "agentcheck.h"

#include <stdio.h>
#include <string.h>

static const char *
get(const cds_config_t *cfg, const char *key)
{
    const char *v = cds_config_get(cfg, key);
    return v && *v ? v : NULL;
}

/* Numbers of the sender's configuration, each range-checked. */
int
agentrun_config(const cds_config_t *cfg, sender_config_t *sc)
{
    uint64_t v[AGENTCHECK_RUN_KEYS];
    /* batch_max, batch_bytes, window, ack_timeout_ms, backoff_min_ms,
     * backoff_max_ms, queue_max, heartbeat_ms (agentcheck.c) */
    const agentcheck_range_t *k = agentcheck_ranges;
    for (int i = 0; i < AGENTCHECK_RUN_KEYS; i++) {
        int code = cds_cli_get_u64(cfg, k[i].key, k[i].lo, k[i].hi, &v[i]);
        if (code)
            return code;
    }
    memset(sc, 0, sizeof *sc);
    sc->state_dir = get(cfg, "agent.state_dir");
    sc->server = get(cfg, "agent.server");
    sc->server_key = get(cfg, "agent.server_key");
    sc->org_units = get(cfg, "agent.org_units");
    sc->batch_max = v[0];
    sc->batch_bytes = v[1];
    sc->window = v[2];
    sc->ack_timeout_ms = v[3];
    sc->backoff_min_ms = v[4];
    sc->backoff_max_ms = v[5] < v[4] ? v[4] : v[5];
    sc->heartbeat_ms = v[7];
    uint64_t days, mb;
    const agentcheck_range_t *kd = &k[AGENTCHECK_KEEP_DAYS];
    int code = cds_cli_get_u64(cfg, kd[0].key, kd[0].lo, kd[0].hi, &days);
    if (!code)
        code = cds_cli_get_u64(cfg, kd[1].key, kd[1].lo, kd[1].hi, &mb);
    if (code)
        return code;
    sc->keep_ms = days * 86400000ULL;
    sc->keep_max_bytes = mb << 20;
    if (!sc->server_key)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "server_key is not set (the aggregator's "
                            "cds1:... identity)");
    if (!sc->server)
        return cds_cli_fail(CDS_EXIT_CONFIG, "server is not set");
    return 0;
}

/* Keys a SIGHUP reload logs as "requires restart" and does not apply. */
static const char *const restart_keys[] = {
    "agent.state_dir", "agent.identity", "agent.server", "agent.server_key",
    "agent.window", NULL,
};

static void
reload_refused(const char *what, const char *error)
{
    cds_log(CDS_LOG_ERROR, "reload_refused", "what=%s error=%s note=%s",
            what, cds_logq(error), cds_logq("kept the running one"));
}

/* SIGHUP (cds_service.h): the catalog's version for the next batches and
 * the sender's timings; the connection stays. A bad value keeps every
 * setting, a bad catalog keeps the running version (the timings still
 * apply). arg: the sender. */
static int
reload_apply(const cds_config_t *fresh, void *arg)
{
    const cds_config_t *cfg = fresh;
    sender_config_t sc;
    char err[600] = "";
    if (agentrun_config(cfg, &sc) != 0) {   /* message on stderr (the log) */
        reload_refused("settings", "a value is out of range (line above)");
        return -1;
    }
    cds_catalog_t *cat = cds_catalog_load(get(cfg, "agent.catalog"), err,
                                          sizeof err);
    if (!cat)
        reload_refused("catalog", err);
    else
        cds_log(CDS_LOG_INFO, "catalog_loaded", "file=%s version=%s "
                "indicators=%zu", cds_logq(get(cfg, "agent.catalog")),
                cds_catalog_version(cat), cds_catalog_size(cat));
    int rc = cat ? 0 : -1;
    sc.catalog_version = cat ? cds_catalog_version(cat) : NULL;
    sender_reconfigure(arg, &sc);
    cds_catalog_destroy(&cat);
    return rc;
}

/* Load what `run` needs; the daemon itself is sender_run. */
int
agentrun_send(sender_config_t *sc, cds_identity_t *id, outbox_t *ob)
{
    char err[600];
    sender_t *s = sender_new(sc, id, ob, err, sizeof err);
    if (!s)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    cds_signal_install();
    /* Checkpoints off the ack commits (latency); failure keeps SQLite's. */
    outbox_checkpoint_in_background(ob);
    cds_log(CDS_LOG_INFO, "started", "server=%s state_dir=%s",
            cds_logq(sc->server), cds_logq(sc->state_dir));
    char status[256];
    snprintf(status, sizeof status, "sending to %s", sc->server);
    cds_service_on_reload(restart_keys, reload_apply, s);
    cds_service_ready(status);
    int rc = sender_run(s);
    cds_service_on_reload(NULL, NULL, NULL);
    sender_destroy(&s);
    return rc == CDS_OK ? 0 : CDS_EXIT_RUNTIME;
}
