/*  cdsync-agent: command line front. main() parses and dispatches to one
 *  function per subcommand; each loads only what it needs. Exit codes
 *  (docs/cli.md): 0 ok, 1 bad input, 2 usage, 3 configuration / identity /
 *  permission, 4 runtime failure (database, I/O, daemon already running);
 *  `status` exits with the Nagios codes. */
#include "cds_service.h"
#include "cds_signal.h"
#include "cds_catalog.h"
#include "cds_config.h"
#include "cds_err.h"
#include "cds_harden.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_util.h"
#include "agentcheck.h"
#include "daemon_lock.h"
#include "import.h"
#include "outbox.h"
#include "receipt_verify.h"
#include "receipts.h"
#include "sender.h"
#include "status.h"
#include "submit.h"

#include <errno.h>
#include <stdarg.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "cdsync-agent"
#define VERSION "0.1.0"
/* CDS_SYSCONFDIR and CDS_DATADIR come from the Makefile (SYSCONFDIR,
 * DATADIR; $(BUILD)/paths.stamp rebuilds this file when they change). */
#ifndef CDS_SYSCONFDIR
#define CDS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG CDS_SYSCONFDIR "/cdsync/agent.ini"

enum { EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3, EXIT_RUNTIME = 4 };

static const cds_option_t options[] = {
    {"agent.state_dir", "state-dir", 0, "DIR", "/var/lib/cdsync-agent",
     "holds agent.db, agent.lock, wake.sock"},
    {"agent.identity", "identity", 0, "FILE", NULL,
     "identity file (default: <state_dir>/agent.key)"},
    {"agent.catalog", "catalog", 0, "FILE",
     CDS_DATADIR "/catalog.csv", "indicator catalog"},
    {"agent.org_units", "org-units", 0, "LIST", NULL,
     "comma-separated org unit codes this agent may write"},
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
    {"agent.stored_by", "stored-by", 0, "NAME", NULL,
     "who entered the values (default: $USER)"},
    {"agent.log_level", "log-level", 0, "LEVEL", "info",
     "debug, info, warn or error"},
    {"keygen.label", "label", 0, "TEXT", NULL, "keygen: identity label"},
    {"submit.org_unit", "org-unit", 0, "OU", NULL, "submit: org unit code"},
    {"submit.indicator", "indicator", 0, "DE", NULL,
     "submit: indicator (dataElement) code"},
    {"submit.period", "period", 0, "PE", NULL, "submit: DHIS2 period"},
    {"submit.value", "value", 0, "V", NULL, "submit: the value"},
    {"submit.delete", "delete", 0, NULL, NULL, "submit: delete the value"},
    {"submit.disagg", "disagg", 0, "C", "default",
     "submit: categoryOptionCombo"},
    {"submit.comment", "comment", 0, "TEXT", NULL, "submit: comment"},
    {"submit.followup", "followup", 0, NULL, NULL,
     "submit: mark for follow-up"},
    {"output.json", "json", 0, NULL, NULL, "status/receipts: JSON output"},
    {"verify.file", "file", 0, "FILE", NULL,
     "verify-receipt: receipt file (raw envelope or base64)"},
    {"verify.seq", "seq", 0, "N", "0",
     "verify-receipt: the receipt must cover this seq"},
    {"verify.head", "head", 0, "HEX", NULL,
     "verify-receipt: the chain head at acked_seq must be this"},
    {"command.check_config", "check-config", 0, NULL, NULL,
     "check the configuration as run would use it, start nothing, change "
     "nothing; exit 0 or 3 naming every problem"},
};

typedef struct {
    const char *name;                  /* subcommand */
    const char *usage;                 /* its synopsis */
    int (*fn)(cds_config_t *cfg, char **args, int n_args);
} command_t;

/* The shared mapping (docs/cli.md), so the agent and the aggregator exit
 * alike for the same failure. */
static int
exit_for(int rc)
{
    return cds_exit_code(rc);
}

static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "cdsync-agent: message" on stderr; returns code (the exit code). */
static int
fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static const char *
get(cds_config_t *cfg, const char *key)
{
    const char *v = cds_config_get(cfg, key);
    return v && *v ? v : NULL;
}

/* Identity path: the configured one, else <state_dir>/agent.key. */
static const char *
identity_path(cds_config_t *cfg, char *buf, size_t len)
{
    const char *p = get(cfg, "agent.identity");
    if (p)
        return p;
    snprintf(buf, len, "%s/agent.key", get(cfg, "agent.state_dir"));
    return buf;
}

/* A bad [agent] value is configuration (exit 3), whether the file or its
 * flag gave it; a bad per-command operand (verify.seq) is usage (docs/cli.md). */
static int
get_u64(cds_config_t *cfg, const char *key, long lo, long hi, uint64_t *out)
{
    char err[200];
    long v;
    int bad = strncmp(key, "agent.", 6) == 0 ? EXIT_CONFIG : EXIT_USAGE;
    if (cds_config_get_long(cfg, key, &v, err, sizeof err) != CDS_OK)
        return fail(bad, "%s", err);
    if (v < lo || v > hi) {
        char range[80];
        snprintf(range, sizeof range, "must be %ld..%ld", lo, hi);
        return fail(bad, "%s: \"%s\": %s", key, cds_config_get(cfg, key),
                    range);
    }
    *out = (uint64_t)v;
    return 0;
}

/* The outbox in state_dir (created 0700 if missing). */
static int
open_outbox(cds_config_t *cfg, outbox_t **ob)
{
    const char *dir = get(cfg, "agent.state_dir");
    char path[600];
    int err = CDS_OK;
    if (cds_mkdir_p(dir, 0700) != 0)
        return fail(EXIT_CONFIG, "state_dir %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/agent.db", dir);
    *ob = outbox_open(path, &err);
    if (!*ob)
        return fail(EXIT_RUNTIME, "%s: cannot open: %s", path,
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
cmd_keygen(cds_config_t *cfg, char **args, int n_args)
{
    char buf[600], msg[600], pub[CDS_PUBID_LEN];
    const char *path = identity_path(cfg, buf, sizeof buf);
    const char *label = get(cfg, "keygen.label");
    char *dir = strdup(path);
    int code = 0, err = CDS_OK;
    if (!dir || cds_mkdir_p(get(cfg, "agent.state_dir"), 0700) != 0
        || cds_mkdir_p(dirname(dir), 0700) != 0)
        code = fail(EXIT_CONFIG, "cannot create directory for %s: %s", path,
                    strerror(errno));
    free(dir);
    if (code)
        return code;
    if (access(path, F_OK) == 0)
        return fail(EXIT_CONFIG, "%s: already exists; refusing to "
                    "overwrite an identity", path);
    if (cds_identity_generate(path, label ? label : "") != CDS_OK)
        return fail(EXIT_CONFIG, "%s: cannot create identity", path);
    cds_identity_t *id = cds_identity_load(path, &err, msg, sizeof msg);
    if (!id)
        return fail(EXIT_CONFIG, "%s", msg);
    cds_identity_public(id, pub, sizeof pub);
    printf("%s\n", pub);
    cds_identity_destroy(&id);
    return 0;
}

/* pubid: the public identity of an existing key, as keygen printed it
 * (to give to the district for `enroll`). Read-only. */
static int
cmd_pubid(cds_config_t *cfg, char **args, int n_args)
{
    char buf[600], msg[600], pub[CDS_PUBID_LEN];
    int err = CDS_OK;
    if (n_args != 1)
        return fail(EXIT_USAGE, "pubid: no arguments expected");
    const char *path = identity_path(cfg, buf, sizeof buf);
    cds_identity_t *id = cds_identity_load(path, &err, msg, sizeof msg);
    if (!id)
        return fail(EXIT_CONFIG, "%s (make one with `keygen`)", msg);
    cds_identity_public(id, pub, sizeof pub);
    printf("%s\n", pub);
    cds_identity_destroy(&id);
    return 0;
}

/* Catalog, org units, stored_by and queue bound for submit/import. */
static int
intake_setup(cds_config_t *cfg, submit_ctx_t *ctx, cds_catalog_t **cat)
{
    char err[600];
    memset(ctx, 0, sizeof *ctx);
    if (!get(cfg, "agent.org_units"))
        return fail(EXIT_CONFIG, "org_units is not set (config [agent] "
                    "org_units or --org-units)");
    *cat = cds_catalog_load(get(cfg, "agent.catalog"), err, sizeof err);
    if (!*cat)
        return fail(EXIT_CONFIG, "catalog: %s", err);
    ctx->catalog = *cat;
    ctx->org_units = get(cfg, "agent.org_units");
    ctx->stored_by = get(cfg, "agent.stored_by");
    if (!ctx->stored_by)
        ctx->stored_by = getenv("USER");
    ctx->state_dir = get(cfg, "agent.state_dir");
    return get_u64(cfg, "agent.queue_max", 0, 1000000000L, &ctx->queue_max);
}

static int
cmd_submit(cds_config_t *cfg, char **args, int n_args)
{
    const char *value = get(cfg, "submit.value");
    bool del = cds_config_get_bool(cfg, "submit.delete");
    if (n_args != 1 || !get(cfg, "submit.org_unit")
        || !get(cfg, "submit.indicator") || !get(cfg, "submit.period")
        || (!value && !del))
        return fail(EXIT_USAGE, "submit needs --org-unit, --indicator, "
                    "--period and one of --value or --delete");
    if (value && del)
        return fail(EXIT_USAGE, "give --value or --delete, not both");
    submit_ctx_t ctx;
    cds_catalog_t *cat = NULL;
    outbox_t *ob = NULL;
    char err[800];
    int code = intake_setup(cfg, &ctx, &cat);
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
            code = fail(exit_for(rc), "%s", err);
    }
    outbox_destroy(&ob);
    cds_catalog_destroy(&cat);
    return code;
}

static int
cmd_import(cds_config_t *cfg, char **args, int n_args)
{
    if (n_args != 2)
        return fail(EXIT_USAGE, "usage: import FILE.csv");
    submit_ctx_t ctx;
    cds_catalog_t *cat = NULL;
    outbox_t *ob = NULL;
    import_result_t res;
    char err[800];
    int code = intake_setup(cfg, &ctx, &cat);
    if (code == 0)
        code = open_outbox_writer(cfg, &ob);
    if (code == 0) {
        int rc = import_file(&ctx, ob, args[1], stderr, &res, err,
                             sizeof err);
        if (rc == CDS_OK)
            printf("queued %zu updates (seq %llu..%llu)\n", res.queued,
                   (unsigned long long)res.first_seq,
                   (unsigned long long)res.last_seq);
        else if (rc == CDS_EBADFIELD)
            code = fail(EXIT_INPUT, "%s: %zu bad row%s; nothing queued",
                        args[1], res.bad_rows, res.bad_rows == 1 ? "" : "s");
        else if (rc == CDS_EMALFORMED) {
            code = fail(EXIT_INPUT, "%s: not usable; nothing queued",
                        args[1]);
        } else if (rc == CDS_EIO)
            code = fail(EXIT_INPUT, "%s", err);
        else
            code = fail(exit_for(rc), "%s", err);
    }
    outbox_destroy(&ob);
    cds_catalog_destroy(&cat);
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
        return fail(EXIT_CONFIG, "no agent database at %s (has `cdsync-agent "
                    "run` or `submit` been run with this config?)", path);
    *ob = outbox_open_readonly(path, &err);
    if (!*ob && err == CDS_EVERSION)
        return fail(EXIT_CONFIG, "%s: database schema is not this "
                    "program's (older: `cdsync-agent run` migrates it); "
                    "read-only, nothing changed", path);
    if (!*ob)
        return fail(EXIT_CONFIG, "%s: cannot open read-only: %s (%s)", path,
                    cds_strerror(err), access(path, R_OK) != 0
                    ? strerror(errno) : "see the log");
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
        return fail(EXIT_CONFIG, "agent.lang: \"%s\" is not vi or en", v);
    *english = strcmp(v, "en") == 0;
    return 0;
}

static int
cmd_status(cds_config_t *cfg, char **args, int n_args)
{
    outbox_t *ob = NULL;
    if (n_args != 1)
        return fail(EXIT_USAGE, "usage: status [--json]");
    int code = open_outbox_status(cfg, &ob);
    if (code)
        return code;
    /* Exit status: the Nagios convention of status_severity (0, 1, 2). */
    status_limits_t lim;
    int sev = -1;
    int rc = get_u64(cfg, "agent.status_backlog_ms", 0, 86400000L * 365,
                     &lim.backlog_ms);
    if (!rc)
        rc = get_u64(cfg, "agent.status_disconnected_ms", 0,
                     86400000L * 365, &lim.disconnected_ms);
    if (!rc)
        rc = get_u64(cfg, "agent.max_clock_skew_ms", 0, 86400000L * 365,
                     &lim.max_clock_skew_ms);
    if (!rc)
        rc = status_lang(cfg, &lim.english);
    if (rc) {
        outbox_destroy(&ob);
        return rc;
    }
    bool json = cds_config_get_bool(cfg, "output.json");
    rc = status_print(ob, get(cfg, "agent.state_dir"), json, &lim, stdout,
                      &sev);
    outbox_destroy(&ob);
    if (rc != CDS_OK)                  /* UNKNOWN to Nagios, not CRITICAL */
        return fail(EXIT_CONFIG, "status: %s", cds_strerror(rc));
    return sev;
}

static int
cmd_receipts(cds_config_t *cfg, char **args, int n_args)
{
    outbox_t *ob = NULL;
    if (n_args != 1)
        return fail(EXIT_USAGE, "usage: receipts [--json]");
    int code = open_outbox(cfg, &ob);
    if (code)
        return code;
    int rc = receipts_print(ob, cds_config_get_bool(cfg, "output.json"),
                            stdout);
    outbox_destroy(&ob);
    return rc == CDS_OK ? 0 : fail(EXIT_RUNTIME, "receipts: %s",
                                   cds_strerror(rc));
}

/* The receipt named by ID (from agent.db) or --file. */
static int
verify_source(cds_config_t *cfg, char **args, int n_args, uint8_t **env,
              size_t *len)
{
    char err[600];
    const char *file = get(cfg, "verify.file");
    if ((n_args == 2) == (file != NULL))
        return fail(EXIT_USAGE, "usage: verify-receipt (ID | --file FILE) "
                    "--server-key cds1:...");
    if (file) {
        int rc = receipt_read_file(file, env, len, err, sizeof err);
        return rc == CDS_OK ? 0 : fail(EXIT_INPUT, "%s", err);
    }
    char *end = NULL;
    long long id = strtoll(args[1], &end, 10);
    if (!end || *end || id < 1)
        return fail(EXIT_USAGE, "verify-receipt: ID \"%s\": expected a "
                    "receipt number from `receipts`", args[1]);
    outbox_t *ob = NULL;
    int code = open_outbox(cfg, &ob);
    if (code)
        return code;
    int rc = receipt_load(ob, (int64_t)id, env, len);
    outbox_destroy(&ob);
    if (rc == CDS_ENOTFOUND)
        return fail(EXIT_INPUT, "verify-receipt: no receipt %lld", id);
    return rc == CDS_OK ? 0 : fail(EXIT_RUNTIME, "receipts: %s",
                                   cds_strerror(rc));
}

/* verify-receipt: exit 0 and print the facts when the receipt proves
 * delivery, 1 (with the reason) when it does not. */
static int
cmd_verify_receipt(cds_config_t *cfg, char **args, int n_args)
{
    uint8_t spk[CDS_PK_BYTES], scurve[CDS_PK_BYTES], head[CDS_HASH_BYTES];
    const char *key = get(cfg, "agent.server_key"), *hex;
    receipt_claims_t claims = { 0 };
    if (!key || cds_pubid_parse(key, spk, scurve) != CDS_OK)
        return fail(EXIT_USAGE, "verify-receipt: --server-key: \"%s\" is "
                    "not a cds1: identity", key ? key : "");
    if ((hex = get(cfg, "verify.head")) != NULL) {
        if (cds_unhex(head, sizeof head, hex) != 0)
            return fail(EXIT_USAGE, "verify-receipt: --head: \"%s\": "
                        "expected 64 hex digits", hex);
        claims.head = head;
    }
    int code = get_u64(cfg, "verify.seq", 0, 0x7fffffffL, &claims.seq);
    uint8_t *env = NULL;
    size_t len = 0;
    if (!code)
        code = verify_source(cfg, args, n_args, &env, &len);
    if (code)
        return code;
    char err[400];
    receipt_facts_t facts;
    int rc = receipt_verify(env, len, spk, &claims, &facts, err, sizeof err);
    free(env);
    if (rc != CDS_OK)
        return fail(EXIT_INPUT, "receipt NOT valid: %s (%s)", err,
                    cds_strerror(rc));
    receipt_print(&facts, stdout);
    return 0;
}

/* Numbers of the sender's configuration, each range-checked. */
static int
run_config(cds_config_t *cfg, sender_config_t *sc)
{
    uint64_t v[AGENTCHECK_RUN_KEYS];
    /* batch_max, batch_bytes, window, ack_timeout_ms, backoff_min_ms,
     * backoff_max_ms, queue_max, heartbeat_ms (agentcheck.c) */
    const agentcheck_range_t *k = agentcheck_ranges;
    for (int i = 0; i < AGENTCHECK_RUN_KEYS; i++) {
        int code = get_u64(cfg, k[i].key, k[i].lo, k[i].hi, &v[i]);
        if (code)
            return code;
    }
    memset(sc, 0, sizeof *sc);
    sc->state_dir = get(cfg, "agent.state_dir");
    sc->server = get(cfg, "agent.server");
    sc->server_key = get(cfg, "agent.server_key");
    sc->batch_max = v[0];
    sc->batch_bytes = v[1];
    sc->window = v[2];
    sc->ack_timeout_ms = v[3];
    sc->backoff_min_ms = v[4];
    sc->backoff_max_ms = v[5] < v[4] ? v[4] : v[5];
    sc->heartbeat_ms = v[7];
    if (!sc->server_key)
        return fail(EXIT_CONFIG, "server_key is not set (the aggregator's "
                    "cds1:... identity)");
    if (!sc->server)
        return fail(EXIT_CONFIG, "server is not set");
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
    cds_config_t *cfg = (cds_config_t *) fresh;    /* read only */
    sender_config_t sc;
    char err[600] = "";
    if (run_config(cfg, &sc) != 0) {   /* message on stderr (the log) */
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
static int
run_daemon(sender_config_t *sc, cds_identity_t *id, outbox_t *ob)
{
    char err[600];
    sender_t *s = sender_new(sc, id, ob, err, sizeof err);
    if (!s)
        return fail(EXIT_CONFIG, "%s", err);
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
    return rc == CDS_OK ? 0 : EXIT_RUNTIME;
}

static int
cmd_run(cds_config_t *cfg, char **args, int n_args)
{
    sender_config_t sc;
    char buf[600], err[600];
    int code, e = CDS_OK, lock_fd = -1;
    cds_catalog_t *cat = NULL;
    cds_identity_t *id = NULL;
    outbox_t *ob = NULL;
    if (n_args != 1)
        return fail(EXIT_USAGE, "usage: run");
    if ((code = run_config(cfg, &sc)))
        return code;
    const char *idpath = identity_path(cfg, buf, sizeof buf);
    if (!(id = cds_identity_load(idpath, &e, err, sizeof err)))
        return fail(EXIT_CONFIG, "%s: %s", idpath, err);
    if (!(cat = cds_catalog_load(get(cfg, "agent.catalog"), err,
                                 sizeof err))) {
        code = fail(EXIT_CONFIG, "catalog: %s", err);
        goto out;
    }
    sc.catalog_version = cds_catalog_version(cat);
    if ((code = open_outbox(cfg, &ob)))
        goto out;
    e = daemon_lock_take(sc.state_dir, &lock_fd);
    if (e == CDS_EBUSY)
        code = fail(EXIT_RUNTIME, "another cdsync-agent is already running "
                    "for %s", sc.state_dir);
    else if (e != CDS_OK)
        code = fail(EXIT_RUNTIME, "%s/agent.lock: cannot lock",
                    sc.state_dir);
    else
        code = run_daemon(&sc, id, ob);
out:
    if (lock_fd >= 0)
        close(lock_fd);
    outbox_destroy(&ob);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&id);
    return code;
}

/* --check-config: every problem on stderr, one a line; exit 0 or 3. */
static int
check_config(cds_config_t *cfg)
{
    char buf[600];
    const char *file = cds_config_path(cfg);
    size_t n = agentcheck_run(cfg, identity_path(cfg, buf, sizeof buf),
                              stderr);
    if (n)
        return fail(EXIT_CONFIG, "configuration has %zu problem%s (%s)", n,
                    n == 1 ? "" : "s", file ? file : "built-in defaults");
    printf("configuration OK (%s)\n", file ? file : "built-in defaults");
    return 0;
}

static const command_t commands[] = {
    {"keygen", "keygen [--label TEXT]", cmd_keygen},
    {"pubid", "pubid  (this PC's public identity, for `enroll` at the "
              "district)", cmd_pubid},
    {"submit", "submit --org-unit OU --indicator DE --period PE "
               "(--value V | --delete) [--disagg C] [--comment T] "
               "[--stored-by NAME] [--followup]", cmd_submit},
    {"import", "import FILE.csv", cmd_import},
    {"status", "status [--json]", cmd_status},
    {"run", "run", cmd_run},
    {"receipts", "receipts [--json]", cmd_receipts},
    {"verify-receipt", "verify-receipt (ID | --file FILE) --server-key "
                       "cds1:... [--seq N] [--head HEX]", cmd_verify_receipt},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void
usage(FILE *f, cds_config_t *cfg, const command_t *cmd)
{
    if (cmd) {
        fprintf(f, "usage: " PROG " [-c FILE] %s\n\noptions:\n", cmd->usage);
    } else {
        fprintf(f, "usage: " PROG " [-c FILE] COMMAND [options]\n"
                   "       " PROG " [-c FILE] [options] --check-config\n\n"
                   "commands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++)
            fprintf(f, "  %s\n", commands[i].usage);
        fprintf(f, "\noptions (config file " DEFAULT_CONFIG
                   ", section [agent]):\n");
    }
    cds_config_print_help(cfg, f);
}

/* --help-man: the option table as the man page's OPTIONS body
 * (tests/tools/gen_man.sh writes it into docs/man/cdsync-agent.1). */
static int
print_man(void)
{
    cds_config_t *cfg =
        cds_config_new(options, sizeof options / sizeof options[0]);
    if (!cfg)
        return EXIT_RUNTIME;
    cds_config_print_man(cfg, stdout);
    cds_config_destroy(&cfg);
    return 0;
}

int
main(int argc, char **argv)
{
    char err[600];
    bool help = false;
    char **rest = NULL;
    int n_rest = 0, code;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf(PROG " " VERSION "\n");
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help-man") == 0)
        return print_man();
    if (sodium_init() < 0)
        return fail(EXIT_RUNTIME, "libsodium init failed");
    /* No core dump, no ptrace: the identity's secrets (cds_harden.h). */
    cds_harden_process();
    cds_config_t *cfg =
        cds_config_new(options, sizeof options / sizeof options[0]);
    if (!cfg)
        return EXIT_RUNTIME;
    cds_service_set_reload(options, sizeof options / sizeof options[0], argc,
                           argv, DEFAULT_CONFIG, "agent.log_level");
    int rc = argc < 2 ? CDS_OK
                      : cds_config_parse(cfg, argc, argv, 1, DEFAULT_CONFIG,
                                         &help, &rest, &n_rest, err,
                                         sizeof err);
    const command_t *cmd = NULL;
    for (size_t i = 0; n_rest > 0 && i < N_COMMANDS; i++)
        if (strcmp(rest[0], commands[i].name) == 0)
            cmd = &commands[i];
    cds_log_level_t level = CDS_LOG_INFO;
    if (rc != CDS_OK) {
        code = fail(rc == CDS_EUSAGE ? EXIT_USAGE : EXIT_CONFIG, "%s", err);
    } else if (help) {
        usage(stdout, cfg, cmd);
        code = 0;
    } else if (cds_config_get_bool(cfg, "command.check_config")) {
        code = check_config(cfg);
    } else if (!cmd) {
        if (n_rest > 0)
            fprintf(stderr, PROG ": unknown command \"%s\"\n", rest[0]);
        usage(stderr, cfg, NULL);
        code = EXIT_USAGE;
    } else if (cds_log_level_parse(get(cfg, "agent.log_level"), &level)
               != 0) {
        code = fail(EXIT_CONFIG, "log_level: \"%s\": expected debug, info, "
                    "warn or error", get(cfg, "agent.log_level"));
    } else {
        cds_log_init(PROG, level);
        code = cmd->fn(cfg, rest, n_rest);
    }
    cds_config_destroy(&cfg);
    return code;
}
