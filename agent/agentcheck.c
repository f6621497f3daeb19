/*  agentcheck: see agentcheck.h. The ranges are the ones main.c applies
 *  for `run` (run_config) and `status`. */
#include "agentcheck.h"
#include "page.h"
#include "cds_catalog.h"
#include "cds_dataset.h"
#include "cds_check.h"
#include "entrycheck.h"
#include "cds_err.h"
#include "cds_id.h"
#include "sender.h"

#include <stdlib.h>
#include <string.h>

const agentcheck_range_t agentcheck_ranges[AGENTCHECK_N_RANGES] = {
    { "agent.batch_max", 1, 1000 },
    { "agent.batch_bytes", 1024, 3L << 20 },
    { "agent.window", 1, SENDER_WINDOW_MAX },
    { "agent.ack_timeout_ms", 100, 3600000L },
    { "agent.backoff_min_ms", 1, 3600000L },
    { "agent.backoff_max_ms", 1, 86400000L },
    { "agent.queue_max", 0, 1000000000L },
    { "agent.heartbeat_ms", 0, 86400000L },
    { "agent.status_backlog_ms", 0, 86400000LL * 365 },
    { "agent.status_disconnected_ms", 0, 86400000LL * 365 },
    { "agent.max_clock_skew_ms", 0, 86400000LL * 365 },
    { "agent.keep_days", 0, 3650 },
    { "agent.keep_max_mb", 0, 1L << 20 },
};

static void
check_values(cds_check_t *c, const cds_config_t *cfg)
{
    for (size_t i = 0; i < AGENTCHECK_N_RANGES; i++)
        cds_check_long(c, cfg, agentcheck_ranges[i].key,
                       agentcheck_ranges[i].lo, agentcheck_ranges[i].hi,
                       NULL);
    cds_check_log_level(c, cfg, "agent.log_level");
    const char *lang = cds_config_get(cfg, "agent.lang");
    if (lang && *lang && strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0)
        cds_check_problem(c, "lang: \"%s\": expected vi or en", lang);
    const char *listen = cds_config_get(cfg, "agent.http_listen");
    char err[300];
    if (listen && *listen && strcmp(listen, "0") != 0
        && page_parse_listen(listen, err, sizeof err) != 0)
        cds_check_problem(c, "%s", err);
}

/* Where and to whom `run` sends. */
static void
check_server(cds_check_t *c, const cds_config_t *cfg)
{
    const char *key = cds_config_get(cfg, "agent.server_key");
    uint8_t pk[CDS_PK_BYTES], curve[CDS_PK_BYTES];
    cds_check_endpoint(c, "agent.server",
                       cds_config_get(cfg, "agent.server"), false);
    if (!key || !*key)
        cds_check_problem(c, "server_key: not set (the aggregator's "
                          "cds1:... identity)");
    else if (cds_pubid_parse(key, pk, curve) != CDS_OK)
        cds_check_problem(c, "server_key: \"%s\": not a cds1:... public "
                          "identity", key);
}


size_t
agentcheck_run(const cds_config_t *cfg, const char *identity, FILE *out)
{
    cds_check_t c = { .out = out };
    const char *cat = cds_config_get(cfg, "agent.catalog");
    check_values(&c, cfg);
    check_server(&c, cfg);
    cds_check_identity(&c, "agent.identity", identity);
    if (cds_check_readable(&c, "agent.catalog", cat))
        c.problems += cds_catalog_check(cat, out);
    c.problems += entrycheck_check(cfg, out);      /* agent.rules */
    char beside[4096];
    const char *ous = cds_config_get(cfg, "agent.orgunits");
    if (ous && *ous && cds_check_readable(&c, "agent.orgunits", ous))
        c.problems += cds_orgunits_check(ous, out);
    if (!ous || !*ous)                 /* the default: beside the catalog */
        ous = cds_datasets_beside(cat, "orgunits.csv", beside,
                                  sizeof beside);
    c.problems += cds_datasets_check_configured(
        cds_config_get(cfg, "agent.datasets"), cat, ous, out);
    cds_check_state_dir(&c, "agent.state_dir",
                        cds_config_get(cfg, "agent.state_dir"), "agent.db");
    return c.problems;
}
