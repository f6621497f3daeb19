/*  cdsync-agent: the option table and one handler per subcommand (the
 *  table `commands`); each loads only what it needs. Parsing, dispatch,
 *  --help and the exit codes of docs/cli.md are common/cds_cli.c's: 0 ok,
 *  1 bad input, 2 usage, 3 configuration / identity / permission,
 *  4 runtime failure (database, I/O, daemon already running); `status`
 *  exits with the Nagios codes. */
#include "agentcheck.h"
#include "cds_catalog.h"
#include "cds_cli.h"
#include "cds_config.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_service.h"
#include "cds_signal.h"
#include "cds_util.h"
#include "agentrun.h"
#include "carry.h"
#include "daemon_lock.h"
#include "entrycheck.h"
#include "import.h"
#include "import_adx.h"
#include "metafetch.h"
#include "outbox.h"
#include "page.h"
#include "receipt_verify.h"
#include "receipts.h"
#include "sender.h"
#include "service.h"
#include "status.h"
#include "submit.h"

#include <errno.h>
#include <poll.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _WIN32
#include <shellapi.h>                  /* ShellExecuteW: open */
#endif

#define PROG "cdsync-agent"
/* CDS_SYSCONFDIR and CDS_DATADIR come from the Makefile (SYSCONFDIR,
 * DATADIR; $(BUILD)/paths.stamp rebuilds this file when they change). */
#ifndef CDS_SYSCONFDIR
#define CDS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG CDS_SYSCONFDIR "/cdsync/agent.ini"
#ifndef CDS_AGENT_STATEDIR
#define CDS_AGENT_STATEDIR "/var/lib/cdsync-agent"
#endif

static const cds_option_t options[] = {
    {"agent.state_dir", "state-dir", 0, "DIR", CDS_AGENT_STATEDIR,
     "holds agent.db, agent.lock, wake.sock"},
    {"agent.identity", "identity", 0, "FILE", NULL,
     "identity file (default: <state_dir>/agent.key)"},
    {"agent.catalog", "catalog", 0, "FILE",
     CDS_DATADIR "/catalog.csv", "indicator catalog"},
    {"agent.rules", "rules", 0, "FILE", NULL,
     "validation rules warned about at submit/import (default: rules.csv "
     "beside the catalog, if present)"},
    {"agent.org_units", "org-units", 0, "LIST", NULL,
     "comma-separated org unit codes this agent may write"},
    {"agent.orgunits", "orgunits", 0, "FILE", NULL,
     "org-unit list: submit/import refuse a unit outside its lifetime "
     "(default: orgunits.csv beside the catalog, if present)"},
    {"agent.datasets", "datasets", 0, "FILE", NULL,
     "data sets: submit/import refuse an indicator outside the unit's "
     "data sets (default: datasets.csv beside the catalog, if present)"},
    {"agent.server", "server", 0, "URL", "tcp://127.0.0.1:7701",
     "aggregator endpoint"},
    {"agent.server_key", "server-key", 0, "PUBID", NULL,
     "aggregator public identity cds1:... (required for run)"},
    {"agent.batch_max", "batch-max", 0, "N", "1000",
     "updates per batch (<= 1000)"},
    {"agent.batch_bytes", "batch-bytes", 0, "N", "1048576",
     "encoded bytes per batch"},
    {"agent.window", "window", 0, "N", "16",
     "most batches in flight (adapts to the ack delay)"},
    {"agent.ack_timeout_ms", "ack-timeout-ms", 0, "MS", "10000",
     "ack or answer due within"},
    {"agent.backoff_min_ms", "backoff-min-ms", 0, "MS", "500",
     "first retry bound"},
    {"agent.backoff_max_ms", "backoff-max-ms", 0, "MS", "60000",
     "retry bound cap"},
    {"agent.heartbeat_ms", "heartbeat-ms", 0, "MS", "30000",
     "signed Heartbeat interval while connected (0: none)"},
    {"agent.status_backlog_ms", "status-backlog-ms", 0, "MS", "600000",
     "status: exit 1 when the oldest pending value is older"},
    {"agent.status_disconnected_ms", "status-disconnected-ms", 0, "MS",
     "600000", "status: exit 2 when not connected for longer"},
    {"agent.max_clock_skew_ms", "max-clock-skew-ms", 0, "MS", "300000",
     "status: SKEWED (exit 1) when the clock is further off (0: never)"},
    {"agent.lang", "lang", 0, "vi|en", NULL,
     "status advice language (default: en when $LANG starts with en, else "
     "vi)"},
    {"agent.queue_max", "queue-max", 0, "N", "1000000",
     "refuse input beyond this many pending rows"},
    {"agent.keep_days", "keep-days", 0, "DAYS", "90",
     "keep signed batches this long after their ack, to resend them if the "
     "aggregator loses them (0: keep none)"},
    {"agent.keep_max_mb", "keep-max-mb", 0, "MB", "256",
     "at most this much of kept batches (oldest pruned first; 0: no bound)"},
    {"agent.stored_by", "stored-by", 0, "NAME", NULL,
     "who entered the values (default: $USER)"},
    {"agent.http_listen", "http-listen", 0, "HOST:PORT", "127.0.0.1:7790",
     "open: the officer's page listens here (loopback only; 0 or empty: "
     "no page)"},
    {"agent.log_level", "log-level", 0, "LEVEL", "info",
     "debug, info, warn or error"},
    {"keygen.label", "label", 0, "TEXT", NULL, "keygen: identity label"},
    {"submit.org_unit", "org-unit", 0, "OU", NULL, "submit: org unit code"},
    {"submit.indicator", "indicator", 0, "DE", NULL,
     "submit: indicator (dataElement) code"},
    {"submit.period", "period", 0, "PE", NULL,
     "submit: DHIS2 period (2025Q2, 202504, 2025W7, 2025April, ...)"},
    {"submit.value", "value", 0, "V", NULL, "submit: the value"},
    {"submit.delete", "delete", 0, NULL, NULL, "submit: delete the value"},
    {"submit.disagg", "disagg", 0, "C", "default",
     "submit: categoryOptionCombo"},
    {"submit.comment", "comment", 0, "TEXT", NULL, "submit: comment"},
    {"submit.followup", "followup", 0, NULL, NULL,
     "submit: mark for follow-up"},
    {"output.json", "json", 0, NULL, NULL, "status/receipts/pending-values: JSON output"},
    {"verify.file", "file", 0, "FILE", NULL,
     "verify-receipt: receipt file (raw envelope or base64)"},
    {"verify.seq", "seq", 0, "N", "0",
     "verify-receipt: the receipt must cover this seq"},
    {"verify.head", "head", 0, "HEX", NULL,
     "verify-receipt: the chain head at acked_seq must be this"},
    {"carry.to", "to", 0, "FILE", NULL,
     "export-batches: the file to write (must not exist)"},
    {"carry.kept", "kept", 0, NULL, NULL,
     "export-batches: also the kept (already acked) batches"},
    {"command.header", "header", 0, NULL, NULL,
     "import: the CSV's first row is a header (default: detected)"},
    {"command.no_header", "no-header", 0, NULL, NULL,
     "import: the CSV has no header row; columns by DHIS2's positions"},
    {"agent.id_scheme", "id-scheme", 0, "code|uid|name", NULL,
     "import: the file's ids are cdsync codes (the default), DHIS2 UIDs "
     "(--id-map needed) or DHIS2 names (the catalog's name_vi and the "
     "org-unit list's names, --id-map overriding); an id the map lacks "
     "is refused naming file:line"},
    {"agent.id_map", "id-map", 0, "FILE", NULL,
     "import --id-scheme uid|name: CSV kind,code,uid or kind,code,name "
     "(the aggregator's export format; kind orgunit|dataelement|dataset|"
     "catoptcombo)"},
    {"command.check_config", "check-config", 0, NULL, NULL,
     "check the configuration as run would use it, start nothing, change "
     "nothing; exit 0 or 3 naming every problem"},
};

static const char *
get(cds_config_t *cfg, const char *key)
{
    const char *v = cds_config_get(cfg, key);
    return v && *v ? v : NULL;
}

/* The outbox in state_dir (created 0700 if missing). */
static int
open_outbox(cds_config_t *cfg, outbox_t **ob)
{
    const char *dir = get(cfg, "agent.state_dir");
    char path[600];
    int err = CDS_OK;
    if (cds_mkdir_p(dir, 0700) != 0)
        return cds_cli_fail(CDS_EXIT_CONFIG, "state_dir %s: %s", dir,
                            strerror(errno));
    snprintf(path, sizeof path, "%s/agent.db", dir);
    *ob = outbox_open(path, &err);
    if (!*ob)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "%s: cannot open: %s", path,
                            cds_strerror(err));
    return 0;
}

/* submit/import beside a running daemon: its helper thread checkpoints,
 * so our commit does not (a checkpoint inside `submit` was the rest of
 * the latency tail: docs/PERFORMANCE.md "Second pass"). */
static int
open_outbox_writer(cds_config_t *cfg, outbox_t **ob)
{
    int code = open_outbox(cfg, ob);
    if (code == 0 && daemon_lock_held(get(cfg, "agent.state_dir")))
        outbox_defer_checkpoints(*ob);
    return code;
}

static int
cmd_keygen(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    char msg[600], pub[CDS_PUBID_LEN];
    const char *path = cli->identity;
    const char *label = get(cfg, "keygen.label");
    char *dir = strdup(path);
    int code = 0, err = CDS_OK;
    if (!dir || cds_mkdir_p(get(cfg, "agent.state_dir"), 0700) != 0
        || cds_mkdir_p(dirname(dir), 0700) != 0)
        code =
            cds_cli_fail(CDS_EXIT_CONFIG, "cannot create directory for %s: %s",
                         path, strerror(errno));
    free(dir);
    if (code)
        return code;
    if (access(path, F_OK) == 0)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "%s: already exists; refusing to "
                            "overwrite an identity",
                            path);
    if (cds_identity_generate(path, label ? label : "") != CDS_OK)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s: cannot create identity",
                            path);
    cds_identity_t *id = cds_identity_load(path, &err, msg, sizeof msg);
    if (!id)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", msg);
    cds_identity_public(id, pub, sizeof pub);
    printf("%s\n", pub);
    cds_identity_destroy(&id);
    return 0;
}

/* The files submit/import check against (owned). */
typedef struct {
    cds_catalog_t *cat;
    cds_orgunits_t *ous;
    cds_datasets_t *ds;
    cds_rules_t *rules;        /* agent.rules: warned about, never refused */
    char ous_path[4096];
} intake_files_t;

static void
intake_done(intake_files_t *f)
{
    cds_rules_destroy(&f->rules);
    cds_datasets_destroy(&f->ds);
    cds_orgunits_destroy(&f->ous);
    cds_catalog_destroy(&f->cat);
}

/* ---- metadata fetched from the aggregator (metafetch.h) ---------------- */

static char fetched_dir[256];          /* "" when the configured files */

static void
fetched_cleanup(void)
{
    if (fetched_dir[0])
        metafetch_cleanup(fetched_dir);
}

/* When a fetched metadata version is in use, its files replace the
 * configured catalog, org units, data sets and rules for this command
 * (docs/AGENT.md "Metadata from the aggregator"): written to a private
 * temporary directory, removed at exit; agent.catalog points into it and
 * the others default beside it (a file the version lacks is absent). No
 * agent database yet, or none in use: the configured files. */
static int
use_fetched(cds_config_t *cfg)
{
    char path[600];
    int err = CDS_OK;
    snprintf(path, sizeof path, "%s/agent.db", get(cfg, "agent.state_dir"));
    if (access(path, F_OK) != 0)
        return 0;
    outbox_t *ob = outbox_open_readonly(path, &err);
    if (!ob)
        return 0;                      /* older schema: `run` migrates it */
    outbox_meta_t m;
    int rc = outbox_meta(ob, &m);
    if (rc == CDS_OK && m.metadata_version)
        rc = metafetch_materialize(ob, fetched_dir, sizeof fetched_dir);
    outbox_destroy(&ob);
    if (rc != CDS_OK || !m.metadata_version) {
        fetched_dir[0] = '\0';
        return rc == CDS_OK || rc == CDS_ENOTFOUND ? 0
               : cds_cli_fail(CDS_EXIT_RUNTIME, "metadata version %llu in "
                              "use cannot be read: %s",
                              (unsigned long long)m.metadata_version,
                              cds_strerror(rc));
    }
    atexit(fetched_cleanup);
    snprintf(path, sizeof path, "%s/catalog.csv", fetched_dir);
    if (cds_config_set(cfg, "agent.catalog", path) != 0
        || cds_config_set(cfg, "agent.orgunits", "") != 0
        || cds_config_set(cfg, "agent.datasets", "") != 0
        || cds_config_set(cfg, "agent.rules", "") != 0)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "out of memory");
    cds_log(CDS_LOG_DEBUG, "metadata_in_use", "version=%llu",
            (unsigned long long)m.metadata_version);
    return 0;
}

/* agent.orgunits (default beside the catalog, if present) and
 * agent.datasets (cds_datasets_configured) into f and ctx. */
static int
intake_tree(cds_config_t *cfg, submit_ctx_t *ctx, intake_files_t *f)
{
    char err[600];
    const char *path = get(cfg, "agent.orgunits");
    if (path && path[0])
        snprintf(f->ous_path, sizeof f->ous_path, "%s", path);
    else if (!cds_datasets_beside(get(cfg, "agent.catalog"), "orgunits.csv",
                                  f->ous_path, sizeof f->ous_path))
        f->ous_path[0] = '\0';
    if (f->ous_path[0]
        && !(f->ous = cds_orgunits_load(f->ous_path, err, sizeof err)))
        return cds_cli_fail(CDS_EXIT_CONFIG, "orgunits: %s", err);
    if (cds_datasets_configured(get(cfg, "agent.datasets"),
                                get(cfg, "agent.catalog"), f->cat, f->ous,
                                &f->ds, err, sizeof err) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_CONFIG, "datasets: %s", err);
    ctx->orgunits = f->ous;
    ctx->orgunits_path = f->ous_path;
    ctx->datasets = f->ds;
    return 0;
}

/* Catalog, rules, org units, data sets, stored_by and queue bound for
 * submit/import. */
static int
intake_setup(cds_config_t *cfg, submit_ctx_t *ctx, intake_files_t *f)
{
    char err[600];
    memset(ctx, 0, sizeof *ctx);
    memset(f, 0, sizeof *f);
    cds_catalog_t **cat = &f->cat;
    if (!get(cfg, "agent.org_units"))
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "org_units is not set (config [agent] "
                            "org_units or --org-units)");
    *cat = cds_catalog_load(get(cfg, "agent.catalog"), err, sizeof err);
    if (!*cat)
        return cds_cli_fail(CDS_EXIT_CONFIG, "catalog: %s", err);
    ctx->catalog = *cat;
    if (entrycheck_rules_load(cfg, *cat, &f->rules, err, sizeof err)
        != CDS_OK)
        return cds_cli_fail(CDS_EXIT_CONFIG, "rules: %s", err);
    ctx->rules = f->rules;
    ctx->warn = stderr;
    int code = intake_tree(cfg, ctx, f);
    if (code)
        return code;
    ctx->org_units = get(cfg, "agent.org_units");
    ctx->stored_by = get(cfg, "agent.stored_by");
    if (!ctx->stored_by)
        ctx->stored_by = getenv("USER");
    ctx->state_dir = get(cfg, "agent.state_dir");
    return cds_cli_get_u64(cfg, "agent.queue_max", 0, 1000000000L,
                           &ctx->queue_max);
}

static int
cmd_submit(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    int fetched = use_fetched(cfg);
    if (fetched)
        return fetched;
    const char *value = get(cfg, "submit.value");
    bool del = cds_config_get_bool(cfg, "submit.delete");
    if (cli->n_args != 0 || !get(cfg, "submit.org_unit") ||
        !get(cfg, "submit.indicator") || !get(cfg, "submit.period") ||
        (!value && !del))
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "submit needs --org-unit, --indicator, "
                            "--period and one of --value or --delete");
    if (value && del)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "give --value or --delete, not both");
    submit_ctx_t ctx;
    intake_files_t files;
    outbox_t *ob = NULL;
    char err[800];
    int code = intake_setup(cfg, &ctx, &files);
    if (code == 0)
        code = open_outbox_writer(cfg, &ob);
    if (code == 0) {
        cds_update_t u;
        memset(&u, 0, sizeof u);
        u.org_unit = get(cfg, "submit.org_unit");
        u.indicator = get(cfg, "submit.indicator");
        u.period = get(cfg, "submit.period");
        u.disagg = get(cfg, "submit.disagg");
        u.value = del ? "" : value;
        u.deleted = del;
        u.comment = get(cfg, "submit.comment");
        u.followup = cds_config_get_bool(cfg, "submit.followup");
        int rc = submit_update(&ctx, ob, &u, err, sizeof err);
        if (rc == CDS_OK)
            printf("queued seq %llu\n", (unsigned long long)u.seq);
        else
            code = cds_cli_fail(cds_exit_code(rc), "%s", err);
    }
    outbox_destroy(&ob);
    intake_done(&files);
    return code;
}

/* --id-scheme / --id-map ([agent] id_scheme, id_map; cds_idmap.h) for
 * import: *ids NULL for codes; uid needs the map; name completes the
 * map (or none) with ctx's catalog and org-unit names. 0 or an exit
 * code (message printed). */
static int
import_ids(cds_config_t *cfg, const submit_ctx_t *ctx, cds_idmap_t **ids)
{
    const char *map = get(cfg, "agent.id_map");
    bool uid, names;
    char err[600];
    *ids = NULL;
    if (cds_idmap_option(get(cfg, "agent.id_scheme"), map, &uid, &names, err,
                         sizeof err) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_USAGE, "%s", err);
    if (!uid && !names)                /* a map set in agent.ini stays
                                        * unused until a scheme asks */
        return 0;
    if (map && !(*ids = cds_idmap_load(map, uid ? CDS_IDMAP_UID
                                                : CDS_IDMAP_NAME,
                                       err, sizeof err)))
        return cds_cli_fail(CDS_EXIT_INPUT, "id-map: %s", err);
    if (!*ids && !(*ids = cds_idmap_new()))
        return cds_cli_fail(CDS_EXIT_RUNTIME, "out of memory");
    if (names && cds_idmap_add_names(*ids, ctx->catalog, ctx->orgunits)
                     != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "out of memory");
    return 0;
}

static int
cmd_import(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    int fetched = use_fetched(cfg);
    if (fetched)
        return fetched;
    if (cli->n_args != 1)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "usage: import FILE.csv | FILE.json | FILE.adx");
    cds_dvs_header_t header;
    if (cds_dvs_header_flags(cds_config_get_bool(cfg, "command.header"),
                             cds_config_get_bool(cfg, "command.no_header"),
                             &header) != 0)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "import: --header and --no-header together");
    submit_ctx_t ctx;
    intake_files_t files;
    outbox_t *ob = NULL;
    import_result_t res;
    char err[800];
    cds_idmap_t *ids = NULL;
    int code = intake_setup(cfg, &ctx, &files);
    if (code == 0 && (code = import_ids(cfg, &ctx, &ids)) == 0)
        ctx.ids = ids;
    if (code == 0)
        code = open_outbox_writer(cfg, &ob);
    if (code == 0) {
        /* FILE.adx, FILE.xml: ADX (import_adx.h); anything else a
         * DHIS2 dataValueSet, CSV or JSON (import.h) */
        int rc = import_is_adx(cli->args[0])
                     ? import_adx_file(&ctx, ob, cli->args[0], stderr, &res,
                                       err, sizeof err)
                     : import_file_opt(&ctx, ob, cli->args[0], header, stderr,
                                       &res, err, sizeof err);
        if (rc == CDS_OK)
            printf("queued %zu updates (seq %llu..%llu)\n", res.queued,
                   (unsigned long long)res.first_seq,
                   (unsigned long long)res.last_seq);
        else if (rc == CDS_EBADFIELD)
            code = cds_cli_fail(
                CDS_EXIT_INPUT, "%s: %zu bad row%s; nothing queued",
                cli->args[0], res.bad_rows, res.bad_rows == 1 ? "" : "s");
        else if (rc == CDS_EMALFORMED) {
            code = cds_cli_fail(CDS_EXIT_INPUT,
                                "%s: not usable; nothing queued", cli->args[0]);
        } else if (rc == CDS_EIO)
            code = cds_cli_fail(CDS_EXIT_INPUT, "%s", err);
        else
            code = cds_cli_fail(cds_exit_code(rc), "%s", err);
    }
    outbox_destroy(&ob);
    intake_done(&files);
    cds_idmap_destroy(&ids);
    return code;
}

/* status: the outbox read-only, never created (a monitoring user, or a
 * wrong config, must not leave an empty agent.db behind). Exit 3 (UNKNOWN
 * to Nagios) when it cannot be read. */
static int
open_outbox_status(cds_config_t *cfg, outbox_t **ob)
{
    char path[600];
    int err = CDS_OK;
    snprintf(path, sizeof path, "%s/agent.db", get(cfg, "agent.state_dir"));
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "no agent database at %s (has `cdsync-agent "
                            "run` or `submit` been run with this config?)",
                            path);
    *ob = outbox_open_readonly(path, &err);
    if (!*ob && err == CDS_EVERSION)
        return cds_cli_fail(
            CDS_EXIT_CONFIG,
            "%s: database schema is not this program's (older: "
            "`cdsync-agent run` migrates it; newer: written by a newer "
            "cdsync-agent); read-only, nothing changed",
            path);
    if (!*ob)
        return cds_cli_fail(
            CDS_EXIT_CONFIG, "%s: cannot open read-only: %s (%s)", path,
            cds_strerror(err),
            access(path, R_OK) != 0 ? strerror(errno) : "see the log");
    return 0;
}

/* agent.lang = vi|en; unset: en when $LANG starts with "en". */
static int
status_lang(cds_config_t *cfg, bool *english)
{
    const char *v = get(cfg, "agent.lang");
    const char *env = getenv("LANG");
    if (!v) {
        *english = env && strncmp(env, "en", 2) == 0;
        return 0;
    }
    if (strcmp(v, "vi") != 0 && strcmp(v, "en") != 0)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "agent.lang: \"%s\" is not vi or en", v);
    *english = strcmp(v, "en") == 0;
    return 0;
}

/* The thresholds of status_severity (status, the officer's page). */
static int
status_limits(cds_config_t *cfg, status_limits_t *lim)
{
    *lim = (status_limits_t){0};
    int rc = cds_cli_get_u64(cfg, "agent.status_backlog_ms", 0,
                             86400000LL * 365, &lim->backlog_ms);
    if (!rc)
        rc = cds_cli_get_u64(cfg, "agent.status_disconnected_ms", 0,
                             86400000LL * 365, &lim->disconnected_ms);
    if (!rc)
        rc = cds_cli_get_u64(cfg, "agent.max_clock_skew_ms", 0,
                             86400000LL * 365, &lim->max_clock_skew_ms);
    return rc ? rc : status_lang(cfg, &lim->english);
}

static int
cmd_status(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    outbox_t *ob = NULL;
    if (cli->n_args != 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "usage: status [--json]");
    int code = open_outbox_status(cfg, &ob);
    if (code)
        return code;
    /* Exit status: the Nagios convention of status_severity (0, 1, 2). */
    status_limits_t lim;
    int sev = -1;
    int rc = status_limits(cfg, &lim);
    if (rc) {
        outbox_destroy(&ob);
        return rc;
    }
    bool json = cds_config_get_bool(cfg, "output.json");
    rc = status_print(ob, get(cfg, "agent.state_dir"), json, &lim, stdout,
                      &sev);
    outbox_destroy(&ob);
    if (rc != CDS_OK)                  /* UNKNOWN to Nagios, not CRITICAL */
        return cds_cli_fail(CDS_EXIT_CONFIG, "status: %s", cds_strerror(rc));
    return sev;
}

static int
cmd_receipts(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    outbox_t *ob = NULL;
    if (cli->n_args != 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "usage: receipts [--json]");
    int code = open_outbox(cfg, &ob);
    if (code)
        return code;
    int rc = receipts_print(ob, cds_config_get_bool(cfg, "output.json"),
                            stdout);
    outbox_destroy(&ob);
    return rc == CDS_OK ? 0
                        : cds_cli_fail(CDS_EXIT_RUNTIME, "receipts: %s",
                                       cds_strerror(rc));
}

/* The receipt named by ID (from agent.db) or --file. */
static int
verify_source(cds_cli_t *cli, uint8_t **env, size_t *len)
{
    cds_config_t *cfg = cli->cfg;
    char err[600];
    const char *file = get(cfg, "verify.file");
    if ((cli->n_args == 1) == (file != NULL))
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "usage: verify-receipt (ID | --file FILE) "
                            "--server-key cds1:...");
    if (file) {
        int rc = receipt_read_file(file, env, len, err, sizeof err);
        return rc == CDS_OK ? 0 : cds_cli_fail(CDS_EXIT_INPUT, "%s", err);
    }
    char *end = NULL;
    long long id = strtoll(cli->args[0], &end, 10);
    if (!end || *end || id < 1)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "verify-receipt: ID \"%s\": expected a "
                            "receipt number from `receipts`",
                            cli->args[0]);
    outbox_t *ob = NULL;
    int code = open_outbox(cfg, &ob);
    if (code)
        return code;
    int rc = receipt_load(ob, (int64_t)id, env, len);
    outbox_destroy(&ob);
    if (rc == CDS_ENOTFOUND)
        return cds_cli_fail(CDS_EXIT_INPUT, "verify-receipt: no receipt %lld",
                            id);
    return rc == CDS_OK ? 0
                        : cds_cli_fail(CDS_EXIT_RUNTIME, "receipts: %s",
                                       cds_strerror(rc));
}

/* verify-receipt: exit 0 and print the facts when the receipt proves
 * delivery, 1 (with the reason) when it does not. */
static int
cmd_verify_receipt(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    uint8_t spk[CDS_PK_BYTES], scurve[CDS_PK_BYTES], head[CDS_HASH_BYTES];
    const char *key = get(cfg, "agent.server_key"), *hex;
    receipt_claims_t claims = { 0 };
    if (!key || cds_pubid_parse(key, spk, scurve) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "verify-receipt: --server-key: \"%s\" is "
                            "not a cds1: identity",
                            key ? key : "");
    if ((hex = get(cfg, "verify.head")) != NULL) {
        if (cds_unhex(head, sizeof head, hex) != 0)
            return cds_cli_fail(CDS_EXIT_USAGE,
                                "verify-receipt: --head: \"%s\": "
                                "expected 64 hex digits",
                                hex);
        claims.head = head;
    }
    int code = cds_cli_get_u64(cfg, "verify.seq", 0, 0x7fffffffL, &claims.seq);
    uint8_t *env = NULL;
    size_t len = 0;
    if (!code)
        code = verify_source(cli, &env, &len);
    if (code)
        return code;
    char err[400];
    receipt_facts_t facts;
    int rc = receipt_verify(env, len, spk, &claims, &facts, err, sizeof err);
    free(env);
    if (rc != CDS_OK)
        return cds_cli_fail(CDS_EXIT_INPUT, "receipt NOT valid: %s (%s)", err,
                            cds_strerror(rc));
    receipt_print(&facts, stdout);
    return 0;
}

static int
cmd_run(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    sender_config_t sc;
    char err[600];
    int code, e = CDS_OK, lock_fd = -1;
    cds_catalog_t *cat = NULL;
    cds_identity_t *id = NULL;
    outbox_t *ob = NULL;
    if (cli->n_args != 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "usage: run");
    if ((code = use_fetched(cfg)))
        return code;
    if ((code = agentrun_config(cfg, &sc)))
        return code;
    const char *idpath = cli->identity;
    if (!(id = cds_identity_load(idpath, &e, err, sizeof err)))
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s: %s", idpath, err);
    if (!(cat = cds_catalog_load(get(cfg, "agent.catalog"), err,
                                 sizeof err))) {
        code = cds_cli_fail(CDS_EXIT_CONFIG, "catalog: %s", err);
        goto out;
    }
    sc.catalog_version = cds_catalog_version(cat);
    if ((code = open_outbox(cfg, &ob)))
        goto out;
    e = daemon_lock_take(sc.state_dir, &lock_fd);
    if (e == CDS_EBUSY)
        code = cds_cli_fail(CDS_EXIT_RUNTIME,
                            "another cdsync-agent is already running "
                            "for %s",
                            sc.state_dir);
    else if (e != CDS_OK)
        code = cds_cli_fail(CDS_EXIT_RUNTIME, "%s/agent.lock: cannot lock",
                            sc.state_dir);
    else
        code = agentrun_send(&sc, id, ob);
out:
    if (lock_fd >= 0)
        close(lock_fd);
    outbox_destroy(&ob);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&id);
    return code;
}

/* service ACTION: the Windows service (service.h); `service run` runs
 * cmd_run under the Service Control Manager. */
static int
cmd_service(cds_cli_t *cli)
{
    return agent_service(cli, cmd_run);
}

/* --check-config: every problem on stderr, one a line; exit 0 or 3. */
static int
check_config(cds_cli_t *cli)
{
    return cds_cli_check_verdict(
        cli, agentcheck_run(cli->cfg, cli->identity, stderr));
}

/* What export-batches and import-receipt load: identity, server key
 * and (export) the sender's batch bounds and the catalog's version. */
typedef struct {
    cds_identity_t *id;
    cds_catalog_t *cat;
    outbox_t *ob;
    sender_config_t sc;
    uint8_t server_pk[CDS_PK_BYTES];
    bool english;
} carry_setup_t;

static void
carry_teardown(carry_setup_t *s)
{
    outbox_destroy(&s->ob);
    cds_catalog_destroy(&s->cat);
    cds_identity_destroy(&s->id);
}

static int
carry_setup(cds_cli_t *cli, bool catalog, carry_setup_t *s)
{
    cds_config_t *cfg = cli->cfg;
    uint8_t curve[CDS_PK_BYTES];
    char err[600];
    int e = CDS_OK;
    memset(s, 0, sizeof *s);
    int code = agentrun_config(cfg, &s->sc);
    if (!code)
        code = status_lang(cfg, &s->english);
    if (code)
        return code;
    if (cds_pubid_parse(s->sc.server_key, s->server_pk, curve) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_CONFIG, "server_key: \"%s\" is not a "
                            "cds1: identity", s->sc.server_key);
    if (!(s->id = cds_identity_load(cli->identity, &e, err, sizeof err)))
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s: %s", cli->identity, err);
    if (catalog && !(s->cat = cds_catalog_load(get(cfg, "agent.catalog"),
                                               err, sizeof err)))
        return cds_cli_fail(CDS_EXIT_CONFIG, "catalog: %s", err);
    return open_outbox(cfg, &s->ob);
}

/* export-batches --to FILE [--kept]: the pending signed batches in one
 * file for the officer to carry (agent/carry.h). */
static int
cmd_export_batches(cds_cli_t *cli)
{
    const char *to = get(cli->cfg, "carry.to");
    if (cli->n_args != 0 || !to)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "usage: export-batches --to FILE [--kept]");
    carry_setup_t s;
    carry_result_t res;
    char err[1024];
    int code = carry_setup(cli, true, &s);
    if (!code) {
        carry_opts_t o = {s.id, s.server_pk, get(cli->cfg, "agent.org_units"),
                          cds_catalog_version(s.cat), s.sc.batch_max,
                          s.sc.batch_bytes,
                          cds_config_get_bool(cli->cfg, "carry.kept")};
        if (!o.org_units)
            o.org_units = "";
        int rc = carry_export(s.ob, &o, to, cds_now_ms(), &res, stdout, err,
                              sizeof err);
        if (rc == CDS_OK)
            printf(s.english
                       ? "wrote %zu batch(es), %zu update(s), seq %llu..%llu "
                         "to %s; they stay pending (carried) until the "
                         "receipt is imported or the link delivers them\n"
                       : "đã ghi %zu lô, %zu giá trị, seq %llu..%llu vào %s; "
                         "chúng vẫn chờ (đã mang đi) cho đến khi nạp biên "
                         "nhận hoặc đường truyền gửi được\n",
                   res.batches, res.updates,
                   (unsigned long long)res.first_seq,
                   (unsigned long long)res.last_seq, to);
        else
            code = cds_cli_fail(rc == CDS_ENOTFOUND ? CDS_EXIT_INPUT
                                                    : cds_exit_code(rc),
                                "export-batches: %s", err);
    }
    carry_teardown(&s);
    return code;
}

/* import-receipt FILE: the aggregator's signed receipts, recorded as
 * acks from the link. */
static int
cmd_import_receipt(cds_cli_t *cli)
{
    if (cli->n_args != 1)
        return cds_cli_fail(CDS_EXIT_USAGE, "usage: import-receipt FILE");
    carry_setup_t s;
    carry_result_t res;
    char err[1024];
    int code = carry_setup(cli, false, &s);
    if (!code)     /* the daemon's retention (agent.keep_days, ...) */
        outbox_set_keep(s.ob, s.sc.keep_ms, s.sc.keep_max_bytes);
    if (!code) {
        int rc = carry_import_receipt(s.ob, s.id, s.server_pk, cli->args[0],
                                      cds_now_ms(), &res, err, sizeof err);
        if (rc == CDS_OK)
            printf(s.english
                       ? "recorded %zu receipt(s) (%zu already recorded "
                         "before): acked up to seq %llu, %zu update(s) "
                         "refused (see status)\n"
                       : "đã ghi nhận %zu biên nhận (%zu đã có từ trước): "
                         "đã xác nhận đến seq %llu, %zu giá trị bị từ chối "
                         "(xem status)\n",
                   res.batches, res.already,
                   (unsigned long long)res.last_seq, res.rejected);
        else
            code = cds_cli_fail(rc == CDS_EIO ? CDS_EXIT_INPUT
                                              : cds_exit_code(rc),
                                "import-receipt: %s", err);
    }
    carry_teardown(&s);
    return code;
}


/* A 0600 file in state_dir (0700) that sends the browser to url: the
 * login token then never shows in a process list (the browser's argv).
 * Linux: xdg-open, when there is a display. Windows: the default browser,
 * by ShellExecuteW on the file (UTF-16: state_dir may be Vietnamese). */
static int
open_browser(const char *state_dir, const char *url, char *file, size_t len)
{
#ifndef _WIN32
    const char *gui = getenv("DISPLAY");
    if (!gui || !*gui)
        gui = getenv("WAYLAND_DISPLAY");
    if (!gui || !*gui)
        return -1;
#endif
    snprintf(file, len, "%s/page-login.html", state_dir);
    unlink(file);
    FILE *f = fopen(file, "wx");
    if (!f)
        return -1;
    fchmod(fileno(f), 0600);
    fprintf(f, "<!doctype html><meta charset=utf-8><meta http-equiv="
            "refresh content=\"0;url=%s\"><a href=\"%s\">cdsync</a>\n",
            url, url);
    if (fclose(f) != 0)
        return -1;
#ifdef _WIN32
    wchar_t wfile[700];
    if (!MultiByteToWideChar(CP_UTF8, 0, file, -1, wfile, 700))
        return -1;
    for (wchar_t *c = wfile; *c; c++)  /* the shell wants '\' */
        if (*c == L'/')
            *c = L'\\';
    /* Above 32 is success (the launch of the browser's association). */
    return (INT_PTR) ShellExecuteW(NULL, L"open", wfile, NULL, NULL,
                                   SW_SHOWNORMAL) > 32 ? 0 : -1;
#else
    pid_t pid = fork();
    if (pid == 0) {
        execlp("xdg-open", "xdg-open", file, (char *) NULL);
        _exit(127);
    }
    return pid > 0 ? 0 : -1;
#endif
}

/* Serve the page until SIGINT/SIGTERM (the login link printed). */
static int
page_serve(page_t *page, const char *state_dir)
{
    char url[200], file[700] = "";
    if (page_login_url(page, url, sizeof url) != 0)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "open: no login link");
    bool shown = open_browser(state_dir, url, file, sizeof file) == 0;
    printf("%s\n%s\n", shown
               ? "Đã mở trang trong trình duyệt; nếu không thấy, mở liên kết "
                 "này (dùng được một lần, trong 2 phút):"
               : "Mở liên kết này trong trình duyệt (dùng được một lần, "
                 "trong 2 phút):", url);
    printf("Trang chạy cho đến khi nhấn Ctrl-C.\n");
    fflush(stdout);
    struct pollfd pfd = {cds_signal_fd(), POLLIN, 0};
    while (!cds_signal_stop_requested())
        poll(&pfd, 1, 1000);
    if (file[0])
        unlink(file);
    return 0;
}

/* open: the officer's page (agent/page.h) on agent.http_listen. */
static int
cmd_open(cds_cli_t *cli)
{
    cds_config_t *cfg = cli->cfg;
    const char *listen = get(cfg, "agent.http_listen");
    char err[800];
    if (cli->n_args != 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "usage: open");
    int fetched = use_fetched(cfg);
    if (fetched)
        return fetched;
    if (!listen || strcmp(listen, "0") == 0)
        return cds_cli_fail(CDS_EXIT_CONFIG, "open: the page is disabled "
                            "(agent.http_listen is 0 or empty)");
    if (page_parse_listen(listen, err, sizeof err) != 0)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    submit_ctx_t ctx;
    intake_files_t files;
    carry_setup_t s;
    page_t *page = NULL;
    int code = carry_setup(cli, true, &s);
    memset(&files, 0, sizeof files);
    cds_idmap_t *ids = NULL;           /* [agent] id_scheme for uploads */
    if (!code)
        code = intake_setup(cfg, &ctx, &files);
    if (!code && !(code = import_ids(cfg, &ctx, &ids)))
        ctx.ids = ids;
    page_config_t pc = {.listen = listen, .intake = &ctx,
                        .orgunits = files.ous, .outbox = s.ob,
                        .state_dir = get(cfg, "agent.state_dir"),
                        .server_pk = s.server_pk};
    if (!code)
        code = status_limits(cfg, &pc.limits);
    if (!code) {
        ctx.warn = NULL;               /* no terminal to warn on */
        if (daemon_lock_held(pc.state_dir))
            outbox_defer_checkpoints(s.ob);
        outbox_set_keep(s.ob, s.sc.keep_ms, s.sc.keep_max_bytes);
        pc.carry = (carry_opts_t){s.id, s.server_pk, ctx.org_units,
                                  cds_catalog_version(s.cat), s.sc.batch_max,
                                  s.sc.batch_bytes, false};
        if (cds_signal_install() != 0
            || !(page = page_start(&pc, err, sizeof err)))
            code = cds_cli_fail(CDS_EXIT_RUNTIME, "open: %s", err);
    }
    if (!code)
        code = page_serve(page, pc.state_dir);
    page_destroy(&page);
    intake_done(&files);
    cds_idmap_destroy(&ids);
    carry_teardown(&s);
    return code;
}

/* `metadata show [FILE]` / `metadata rollback` (metafetch.h). */
static int
cmd_metadata(cds_cli_t *cli)
{
    const char *what = cli->n_args > 0 ? cli->args[0] : "";
    bool show = strcmp(what, "show") == 0 && cli->n_args <= 2;
    bool back = strcmp(what, "rollback") == 0 && cli->n_args == 1;
    if (!show && !back)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "usage: metadata show [FILE] | metadata rollback");
    outbox_t *ob = NULL;
    int code = show ? open_outbox_status(cli->cfg, &ob)
                    : open_outbox_writer(cli->cfg, &ob);
    if (code)
        return code;
    int rc = show ? metafetch_show(ob, cli->n_args == 2 ? cli->args[1] : NULL,
                                   stdout)
                  : metafetch_rollback(ob, stdout);
    outbox_destroy(&ob);
    if (rc == CDS_ENOTFOUND)
        return cds_cli_fail(CDS_EXIT_CONFIG, "metadata: %s",
                            show ? "no fetched version in use (the "
                                   "configured files are), or no such file"
                                 : "no earlier fetched version to go back "
                                   "to; nothing changed");
    if (rc != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "metadata: %s",
                            cds_strerror(rc));
    if (back) {                        /* the daemon rechecks (recheck.h) */
        printf("metadata: pending and held values are checked again with "
               "it before the daemon sends / các giá trị chờ gửi sẽ được "
               "kiểm tra lại\n");
        submit_wake(get(cli->cfg, "agent.state_dir"));
    }
    return 0;
}

/* One held value's line for `pending-values` (text). */
static void
print_held_line(json_t *o)
{
    const char *sug = json_string_value(json_object_get(o, "suggestion"));
    printf("%" JSON_INTEGER_FORMAT "  %s  %s  %s  %s  %s (%s)%s%s\n",
           json_integer_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "orgunit")),
           json_string_value(json_object_get(o, "dataelement")),
           json_string_value(json_object_get(o, "period")),
           json_is_true(json_object_get(o, "deleted"))
               ? "(delete)" : json_string_value(json_object_get(o, "value")),
           json_string_value(json_object_get(o, "reason")),
           json_string_value(json_object_get(o, "message")),
           sug && sug[0] ? "  suggested / đề xuất: " : "",
           sug ? sug : "");
}

/* `pending-values [list]`: the held values (outbox.h "Held values"). */
static int
held_list(cds_cli_t *cli)
{
    outbox_t *ob = NULL;
    bool en = false;
    json_t *held = NULL;
    int code = status_lang(cli->cfg, &en);
    if (!code)
        code = open_outbox_status(cli->cfg, &ob);
    if (code)
        return code;
    int rc = status_held(ob, en, &held);
    outbox_destroy(&ob);
    if (rc != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "pending-values: %s",
                            cds_strerror(rc));
    if (cds_config_get_bool(cli->cfg, "output.json")) {
        json_dumpf(held, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        size_t i;
        json_t *o;
        printf("%zu value%s held back (not sent) / giá trị bị giữ lại\n",
               json_array_size(held), json_array_size(held) == 1 ? "" : "s");
        json_array_foreach(held, i, o)
            print_held_line(o);
    }
    json_decref(held);
    return 0;
}

/* `pending-values withdraw ID`: the officer drops a held value. */
static int
held_withdraw(cds_cli_t *cli)
{
    char *end = NULL;
    const char *arg = cli->args[1];
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (!*arg || *end || errno || id <= 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "pending-values withdraw: \"%s\" "
                            "is not a held value's number (see "
                            "`pending-values`)", arg);
    outbox_t *ob = NULL;
    int code = open_outbox_writer(cli->cfg, &ob);
    if (code)
        return code;
    int rc = outbox_held_withdraw(ob, id);
    outbox_destroy(&ob);
    if (rc == CDS_ENOTFOUND)
        return cds_cli_fail(CDS_EXIT_CONFIG, "pending-values withdraw: no "
                            "held value %lld (see `pending-values`); "
                            "nothing changed", id);
    if (rc != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "pending-values withdraw: %s",
                            cds_strerror(rc));
    cds_log(CDS_LOG_INFO, "held_withdrawn", "id=%lld", id);
    printf("withdrawn held value %lld / đã rút giá trị %lld\n", id, id);
    return 0;
}

static int
cmd_pending_values(cds_cli_t *cli)
{
    const char *what = cli->n_args > 0 ? cli->args[0] : "list";
    if (strcmp(what, "list") == 0 && cli->n_args <= 1)
        return held_list(cli);
    if (strcmp(what, "withdraw") == 0 && cli->n_args == 2)
        return held_withdraw(cli);
    return cds_cli_fail(CDS_EXIT_USAGE, "usage: pending-values [list] "
                        "[--json] | pending-values withdraw ID");
}

static const cds_cli_command_t commands[] = {
    {"keygen", "keygen [--label TEXT]", cmd_keygen, 0},
    {"pubid",
     "pubid  (this PC's public identity, for `enroll` at the "
     "district)",
     cds_cli_pubid, CDS_CLI_NO_ARGS},
    {"submit",
     "submit --org-unit OU --indicator DE --period PE "
     "(--value V | --delete) [--disagg C] [--comment T] "
     "[--stored-by NAME] [--followup]",
     cmd_submit, 0},
    {"import", "import FILE.csv | FILE.json | FILE.adx [--header|"
     "--no-header] [--id-scheme code|uid|name] [--id-map FILE]  (DHIS2 "
     "dataValueSet CSV or JSON, or ADX XML when the name ends in .adx or "
     ".xml)", cmd_import, 0},
    {"status", "status [--json]", cmd_status, 0},
    {"run", "run", cmd_run, 0},
    {"receipts", "receipts [--json]", cmd_receipts, 0},
    {"metadata",
     "metadata show [FILE] | metadata rollback  (the metadata version "
     "fetched from the aggregator; rollback: back to the one before)",
     cmd_metadata, 0},
    {"pending-values",
     "pending-values [list] [--json] | pending-values withdraw ID  (values "
     "held back because the metadata in use no longer accepts them)",
     cmd_pending_values, 0},
    {"verify-receipt",
     "verify-receipt (ID | --file FILE) --server-key "
     "cds1:... [--seq N] [--head HEX]",
     cmd_verify_receipt, 0},
    {"export-batches",
     "export-batches --to FILE [--kept]  (no link: the pending signed "
     "batches in one file to carry to the district)",
     cmd_export_batches, 0},
    {"import-receipt",
     "import-receipt FILE  (the district's signed receipt file: records "
     "the acks as if they came over the link)",
     cmd_import_receipt, 0},
    {"open",
     "open  (the officer's page in the browser: a one-time login link to "
     "127.0.0.1, served until Ctrl-C)",
     cmd_open, 0},
    {"service",
     "service install [--config FILE] | uninstall | start | stop | status "
     "| run  (Windows: the cdsync-agent service; on Linux systemd's unit "
     "deploy/cdsync-agent.service is used)",
     cmd_service, 0},
};

static const cds_cli_program_t agent = {
    .name = PROG,
    .section = "agent",
    .default_config = DEFAULT_CONFIG,
    .usage_head = "usage: " PROG " [-c FILE] COMMAND [options]\n"
                  "       " PROG " [-c FILE] [options] --check-config\n",
    .options_head =
        "options (config file " DEFAULT_CONFIG ", section [agent]):",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .commands = commands,
    .n_commands = sizeof commands / sizeof commands[0],
    .identity_file = "agent.key",
    .db_file = "agent.db",
    .check_config = check_config,
};

int
main(int argc, char **argv)
{
    return cds_cli_main(&agent, argc, argv);
}
