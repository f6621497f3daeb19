/*  checkconf: see checkconf.h. The ranges are the ones `run`, `health`
 *  and the district-admin commands apply (main.c, admin.c). */
#include "checkconf.h"
#include "attain.h"
#include "cds_catalog.h"
#include "cds_dataset.h"
#include "cds_check.h"
#include "cds_contact.h"
#include "completeness.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_orgunit.h"
#include "http.h"
#include "quality.h"
#include "server.h"
#include "store.h"

#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *key;
    long lo, hi;
} ranges[] = {
    { "aggregator.group_max", 1, SERVER_GROUP_MAX_LIMIT },
    { "aggregator.max_clock_skew_ms", 1000, 30L * 86400000L },
    { "aggregator.max_pending_handshakes", 1, 1000000 },
    { "aggregator.silent_after_ms", 0, LONG_MAX },
    { "aggregator.lagging_after_ms", 0, LONG_MAX },
    { "aggregator.rejecting_min", 0, LONG_MAX },
    { "aggregator.metadata_behind_after_ms", 0, LONG_MAX },
    { "aggregator.metrics_top_n", 0, 10000 },
    { "aggregator.reject_raw_per_hour", 0, 1000000 },
    { "aggregator.reject_retention_days", 0, 36500 },
    { "aggregator.reject_min_free_mb", 0, 1L << 30 },
    { "aggregator.deadline_daily", 0, 3660 },
    { "aggregator.deadline_weekly", 0, 3660 },
    { "aggregator.deadline_monthly", 0, 3660 },
    { "aggregator.deadline_quarterly", 0, 3660 },
    { "aggregator.deadline_sixmonthly", 0, 3660 },
    { "aggregator.deadline_yearly", 0, 3660 },
    { "aggregator.session_idle_s", 1, 31L * 86400 },     /* account.h */
    { "aggregator.session_max_s", 1, 31L * 86400 },
    { "aggregator.login_max_failures", 1, 31L * 86400 },
};

bool
checkconf_range(const char *key, long *lo, long *hi)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (strcmp(ranges[i].key, key) == 0) {
            *lo = ranges[i].lo;
            *hi = ranges[i].hi;
            return true;
        }
    return false;
}

static void
check_numbers(cds_check_t *c, const cds_config_t *cfg)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        cds_check_long(c, cfg, ranges[i].key, ranges[i].lo, ranges[i].hi,
                       NULL);
    const char *r = cds_config_get(cfg, "aggregator.rejecting_ratio");
    char *end = NULL;
    double ratio = r ? strtod(r, &end) : -1;
    if (!r || !*r || *end || !(ratio >= 0 && ratio <= 1))
        cds_check_problem(c, "rejecting_ratio: \"%s\": expected 0..1",
                          r ? r : "");
    cds_check_log_level(c, cfg, "aggregator.log_level");
}

/* The CSV files `run` loads, every bad row named. */
static void
check_files(cds_check_t *c, const cds_config_t *cfg)
{
    const char *cat = cds_config_get(cfg, "aggregator.catalog");
    const char *ous = cds_config_get(cfg, "aggregator.orgunits");
    const char *map = cds_config_get(cfg, "aggregator.orgunit_map");
    const char *dash = cds_config_get(cfg, "aggregator.dashboard");
    if (cds_check_readable(c, "aggregator.catalog", cat))
        c->problems += cds_catalog_check(cat, c->out);
    if (cds_check_readable(c, "aggregator.orgunits", ous))
        c->problems += cds_orgunits_check(ous, c->out);
    if (map && *map)
        cds_check_readable(c, "aggregator.orgunit_map", map);
    quality_check(c, cfg);             /* rules file, outlier keys */
    c->problems += cds_datasets_check_configured(
        cds_config_get(cfg, "aggregator.datasets"), cat, ous, c->out);
    /* Absent: no dashboard (main.c); present: it must be readable. */
    if (dash && *dash && access(dash, F_OK) == 0)
        cds_check_readable(c, "aggregator.dashboard", dash);
}

/* The targets file (attain.h): named, or targets.csv beside the
 * catalog when present; its rows checked against the catalog and the
 * org-unit list when those load. */
static void
check_targets(cds_check_t *c, const cds_config_t *cfg)
{
    char path[4096], err[512];
    if (!attain_targets_path(cfg, path, sizeof path)[0]
        || !cds_check_readable(c, "aggregator.targets", path))
        return;
    const char *ous_path = cds_config_get(cfg, "aggregator.orgunits");
    cds_catalog_t *cat = cds_catalog_load(cds_config_get(cfg,
                                                         "aggregator.catalog"),
                                          err, sizeof err);
    cds_orgunits_t *ous = ous_path ? cds_orgunits_load(ous_path, err,
                                                       sizeof err)
                                   : NULL;
    c->problems += cds_targets_check(path, cat, ous, c->out);
    cds_orgunits_destroy(&ous);
    cds_catalog_destroy(&cat);
}

/* The contacts file (completeness.h): named, or contacts.csv beside the
 * catalog when present; its units checked against the org-unit list. */
static void
check_contacts(cds_check_t *c, const cds_config_t *cfg)
{
    char path[4096], err[512];
    if (!completeness_contacts_path(cfg, path, sizeof path)[0]
        || !cds_check_readable(c, "aggregator.contacts", path))
        return;
    const char *ous_path = cds_config_get(cfg, "aggregator.orgunits");
    cds_orgunits_t *ous = ous_path ? cds_orgunits_load(ous_path, err,
                                                       sizeof err)
                                   : NULL;
    c->problems += cds_contacts_check(path, ous, c->out);
    cds_orgunits_destroy(&ous);
}

static void
check_endpoints(cds_check_t *c, const cds_config_t *cfg)
{
    const char *http = cds_config_get(cfg, "aggregator.http_listen");
    char err[256];
    struct sockaddr_in addr;
    cds_check_endpoint(c, "aggregator.listen",
                       cds_config_get(cfg, "aggregator.listen"), true);
    if (http && *http
        && http_parse_listen(http, &addr, err, sizeof err) != 0)
        cds_check_problem(c, "%s", err);
}

/* aggregator.store: a PostgreSQL server is reached as `run` would reach
 * it (read-only: its URL parses, it answers, it takes our password,
 * fsync and synchronous_commit make a COMMIT durable; cds_pg), never
 * migrated; a file: its directory as the state directory's. The
 * password is never printed (store_display). */
static void
check_store(cds_check_t *c, const cds_config_t *cfg)
{
    const char *where = cds_config_get(cfg, "aggregator.store");
    char shown[4096], dir[4096];
    if (!where || !*where)
        return;
    store_display(where, shown, sizeof shown);
    if (!cds_sql_is_server(where)) {
        snprintf(dir, sizeof dir, "%s", where);
        cds_check_state_dir(c, "aggregator.store", dirname(dir),
                            strrchr(where, '/') ? strrchr(where, '/') + 1
                                                : where);
        return;
    }
    long group_max = 0;
    if (cds_config_get_long(cfg, "aggregator.group_max", &group_max, NULL, 0)
            == CDS_OK
        && group_max > STORE_PG_GROUP_MAX)
        cds_check_problem(c, "aggregator.group_max: %ld: over %d with a "
                          "PostgreSQL store: more savepoints per transaction "
                          "than PostgreSQL's subtransaction cache holds "
                          "(docs/POSTGRESQL.md)", group_max,
                          STORE_PG_GROUP_MAX);
    int code = CDS_OK;
    store_t *store = store_open(where, CDS_DB_READONLY, &code);
    store_destroy(&store);
    if (code == CDS_OK)
        return;
    if (code == CDS_EVERSION) {  /* not a problem when empty: `run` makes it */
        fprintf(c->out, "note: aggregator.store: %s: reachable and durable; "
                "its schema is not this program's version: an empty "
                "database (`run` creates the schema) or a newer program's "
                "(`run` refuses it; see the pg_version line above)\n", shown);
        return;
    }
    cds_check_problem(
        c, "aggregator.store: %s: %s", shown,
        code == CDS_EBUSY  ? "server unreachable (not running, wrong host or "
                             "port, or not accepting connections)"
        : code == CDS_EPERM ? "password or role refused"
        : code == CDS_EUSAGE
            ? "refused: the URL does not parse, no such database or role, "
              "or the server does not make a COMMIT durable (fsync and "
              "synchronous_commit must be on; see the log line above)"
            : cds_strerror(code));
}

size_t
checkconf_run(const cds_config_t *cfg, const char *identity, FILE *out)
{
    cds_check_t c = { .out = out };
    check_numbers(&c, cfg);
    cds_check_identity(&c, "aggregator.identity", identity);
    check_files(&c, cfg);
    check_targets(&c, cfg);
    check_contacts(&c, cfg);
    cds_check_state_dir(&c, "aggregator.state_dir",
                        cds_config_get(cfg, "aggregator.state_dir"),
                        "aggregator.db");
    check_endpoints(&c, cfg);
    check_store(&c, cfg);
    return c.problems;
}
