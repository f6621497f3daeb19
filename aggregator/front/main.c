/*  cdsync-aggregator: the option table and one handler per subcommand (the
 *  table `commands`; the district-admin ones are admin.c's, the daemon's
 *  wiring is daemon.c's). Parsing, dispatch, --help and the exit codes of
 *  docs/cli.md are common/cds_cli.c's: 0 ok, 1 bad input, 2 usage,
 *  3 configuration, identity or permission, 4 runtime (database, I/O,
 *  listen); `health` exits with the Nagios codes. */
#include "admin.h"
#include "approve.h"
#include "attain.h"
#include "metadata.h"
#include "quality.h"
#include "audit.h"
#include "backup.h"
#include "cds_catalog.h"
#include "cds_cli.h"
#include "cds_config.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_signal.h"
#include "cds_util.h"
#include "checkconf.h"
#include "commitmark.h"
#include "completeness.h"
#include "daemon.h"
#include "enroll.h"
#include "health.h"
#include "ingest.h"
#include "knock.h"
#include "migrate.h"
#include "query.h"
#include "rejects.h"
#include "retention.h"
#include "server.h"
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "cdsync-aggregator"
/* CDS_SYSCONFDIR and CDS_DATADIR come from the Makefile (SYSCONFDIR,
 * DATADIR; $(BUILD)/paths.stamp rebuilds this file when they change). */
#ifndef CDS_SYSCONFDIR
#define CDS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG CDS_SYSCONFDIR "/cdsync/aggregator.ini"

/* Every option: [aggregator] keys are the config file; [command] keys are
 * the per-command flags (also settable in a [command] section). */
static const cds_option_t options[] = {
    { "aggregator.state_dir", "state-dir", 0, "DIR",
      "/var/lib/cdsync-aggregator", "holds aggregator.db" },
    { "aggregator.store", "store", 0, "URL", NULL,
      "database: empty = <state_dir>/aggregator.db; "
      "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB = a PostgreSQL server "
      "(docs/POSTGRESQL.md)" },
    { "aggregator.identity", "identity", 0, "PATH", NULL,
      "identity file (default <state_dir>/aggregator.key)" },
    { "aggregator.catalog", "catalog", 0, "PATH",
      CDS_DATADIR "/catalog.csv", "indicator catalog CSV" },
    { "aggregator.orgunits", "orgunits", 0, "PATH",
      CDS_DATADIR "/orgunits.csv", "org-unit list CSV" },
    { "aggregator.listen", "listen", 0, "URL", "tcp://127.0.0.1:7701",
      "ZeroMQ endpoint to bind" },
    { "aggregator.group_max", "group-max", 0, "N", "64",
      "batches per transaction (group commit)" },
    { "aggregator.max_clock_skew_ms", "max-clock-skew-ms", 0, "MS",
      "300000", "agent clock offset beyond this: stamps shifted, agent "
      "SKEWED; stamps further ahead: clamped" },
    { "aggregator.log_level", "log-level", 0, "LEVEL", "info",
      "debug|info|warn|error" },
    { "aggregator.http_listen", "http-listen", 0, "HOST:PORT",
      "127.0.0.1:7780", "HTTP (/metrics, /healthz, /api/...); empty: off" },
    { "aggregator.session_idle_s", "session-idle-s", 0, "S", "1800",
      "HTTP login session: ends after this long without a request" },
    { "aggregator.session_max_s", "session-max-s", 0, "S", "43200",
      "HTTP login session: ends this long after the login at the latest" },
    { "aggregator.login_max_failures", "login-max-failures", 0, "N", "5",
      "HTTP login: failed attempts per account and per address before "
      "15 minutes of refusal" },
    { "aggregator.silent_after_ms", "silent-after-ms", 0, "MS", "300000",
      "health: no message for this long is SILENT" },
    { "aggregator.lagging_after_ms", "lagging-after-ms", 0, "MS", "3600000",
      "health: lag over this is LAGGING" },
    { "aggregator.rejecting_ratio", "rejecting-ratio", 0, "R", "0.5",
      "health: rejected share in the last hour for REJECTING" },
    { "aggregator.rejecting_min", "rejecting-min", 0, "N", "5",
      "health: ... and at least this many rejections" },
    { "aggregator.metadata_behind_after_ms", "metadata-behind-after-ms", 0,
      "MS", "86400000", "health: an agent behind the current published "
      "metadata version this long is an alert" },
    { "aggregator.metrics_top_n", "metrics-top-n", 0, "N", "20",
      "/metrics: per-agent series for the N worst agents" },
    { "aggregator.writer_stuck_after_ms", "writer-stuck-after-ms", 0, "MS",
      "10000", "/healthz: 503 when received messages wait this long "
      "without a commit" },
    { "aggregator.max_pending_handshakes", "max-pending-handshakes", 0, "N",
      "2048", "connections still in their handshake; newer ones are cut" },
    { "aggregator.reject_raw_per_hour", "reject-raw-per-hour", 0, "N", "20",
      "rejects: raw bytes kept for N rejects per peer per hour, then "
      "digests only" },
    { "aggregator.reject_retention_days", "reject-retention-days", 0,
      "DAYS", "30", "rejects: delete rows older than DAYS (0: keep)" },
    { "aggregator.reject_min_free_mb", "reject-min-free-mb", 0, "MB", "512",
      "rejects: below MB free on the database's disk keep digests only" },
    { "command.watch", "watch", 0, "SECONDS", NULL,
      "health: refresh every SECONDS until interrupted" },
    { "command.nagios", "nagios", 0, NULL, NULL,
      "health: Nagios plugin output; any failure exits 3 (UNKNOWN)" },
    { "command.since", "since", 0, "WHEN", NULL,
      "rejects: only newer than 30m|2h|7d or ms since the epoch" },
    { "command.agent", "agent", 0, "FPR|LABEL", NULL, "rejects: one agent" },
    { "command.reason", "reason", 0, "NAME", NULL,
      "rejects: one reason (bad_value, unknown_key, ...)" },
    { "command.older_than", "older-than", 0, "AGE", NULL,
      "rejects prune, prune: rejects older than 12h|7d (default: "
      "retention)" },
    { "command.dry_run", "dry-run", 0, NULL, NULL,
      "prune: count what would be deleted, delete nothing; push-dhis2: "
      "DHIS2 checks the values (dryRun=true) and stores nothing" },
    { "command.label", "label", 0, "TEXT", NULL, "keygen/enroll: label" },
    { "command.replaces", "replaces", 0, "FPR", NULL,
      "enroll: rotate: revoke this agent, give its org units to the new key" },
    { "command.org_unit", "org-unit", 0, "OU", NULL,
      "enroll (repeatable) / query: org unit" },
    { "command.json", "json", 0, NULL, NULL, "agents: JSON output" },
    { "command.no_subtree", "no-subtree", 0, NULL, NULL,
      "query: only the org unit itself" },
    { "command.indicator", "indicator", 0, "DE", NULL,
      "query: indicator (repeatable)" },
    { "command.period", "period", 0, "PE", NULL, "query: one period" },
    { "command.from", "from", 0, "PE", NULL,
      "query: range start (not after --to)" },
    { "command.to", "to", 0, "PE|URL", NULL,
      "query: range end; migrate-store: the destination store "
      "(postgresql://... or a new SQLite file)" },
    { "command.format", "format", 0, "FMT", "table",
      "query: table|csv|json" },
    { "command.wide", "wide", 0, NULL, NULL,
      "query: org units x indicators for one period" },
    { "command.header", "header", 0, NULL, NULL,
      "import: the CSV's first row is a header (default: detected)" },
    { "command.no_header", "no-header", 0, NULL, NULL,
      "import: the CSV has no header row; columns by DHIS2's positions" },
    /* district-admin commands (admin.c) */
    { "aggregator.orgunit_map", "orgunit-map", 0, "PATH", NULL,
      "org-unit merge mapping CSV (default: orgunit_map.csv beside "
      "orgunits, if present)" },
    { "aggregator.targets", "targets", 0, "PATH", NULL,
      "targets CSV (default: targets.csv beside the catalog, if present)" },
    /* data-quality rules and outliers (quality.h) */
    { "aggregator.rules", "rules", 0, "PATH", NULL,
      "validation rules CSV (default: rules.csv beside the catalog, if "
      "present)" },
    { "aggregator.outlier_periods", "outlier-periods", 0, "N", "4",
      "validate: earlier periods an outlier is judged against (0: none)" },
    { "aggregator.outlier_z", "outlier-z", 0, "Z", "3",
      "validate: flag |value - mean| / sd above Z (0: off)" },
    { "aggregator.outlier_pct", "outlier-pct", 0, "PCT", "50",
      "validate: flag a change from the earlier period above PCT % "
      "(0: off)" },
    { "aggregator.datasets", "datasets", 0, "PATH", NULL,
      "data sets CSV: who reports which indicators (default: datasets.csv "
      "beside the catalog, if present)" },
    { "aggregator.contacts", "contacts", 0, "PATH", NULL,
      "contacts CSV: whom to call about a unit that has not reported "
      "(default: contacts.csv beside the catalog, if present)" },
    { "aggregator.deadline_daily", "deadline-daily", 0, "DAYS", "2",
      "completeness: days after a Daily period before a report is late" },
    { "aggregator.deadline_weekly", "deadline-weekly", 0, "DAYS", "3",
      "completeness: ... after a Weekly, Weekly<Day> or BiWeekly period" },
    { "aggregator.deadline_monthly", "deadline-monthly", 0, "DAYS", "10",
      "completeness: ... after a Monthly or BiMonthly period" },
    { "aggregator.deadline_quarterly", "deadline-quarterly", 0, "DAYS", "15",
      "completeness: ... after a Quarterly or QuarterlyNov period" },
    { "aggregator.deadline_sixmonthly", "deadline-sixmonthly", 0, "DAYS",
      "20", "completeness: ... after a SixMonthly(April|Nov) period" },
    { "aggregator.deadline_yearly", "deadline-yearly", 0, "DAYS", "31",
      "completeness: ... after a Yearly or Financial* period" },
    { "command.bom", "bom", 0, NULL, NULL,
      "export, query, rollup, completeness, history, report: CSV starts "
      "with a UTF-8 BOM (Excel); only with a CSV format" },
    { "command.out", "out", 0, "FILE", NULL,
      "report: the file to write (a new file unless --force)" },
    { "command.unit_name", "unit-name", 0, "TEXT", NULL,
      "report: issuing unit (default: the org unit's name)" },
    { "command.number", "number", 0, "TEXT", NULL,
      "report: document number, e.g. \"Số: 12/BC-UBND\"" },
    { "command.place", "place", 0, "TEXT", NULL,
      "report: place before the date (default: the org unit's name)" },
    { "command.date", "date", 0, "YYYY-MM-DD", NULL,
      "report: date of the report (default: today, Vietnam time)" },
    { "command.title", "title", 0, "TEXT", NULL,
      "report: title before the period (default: \"Kết quả chuyển đổi "
      "số\")" },
    { "command.signer", "signer", 0, "TEXT", NULL,
      "report: name under the signature" },
    { "command.signer_title", "signer-title", 0, "TEXT", NULL,
      "report: title above the signature (default: \"THỦ TRƯỞNG ĐƠN "
      "VỊ\")" },
    { "command.adx_periods", "adx-periods", 0, NULL, NULL,
      "export --format csv: periods as ISO 8601 start/duration (ADX "
      "notation, which DHIS2 reads only in ADX: refused with dhis2-json/"
      "dhis2-csv; --format adx always uses it)" },
    { "command.id_scheme", "id-scheme", 0, "code|uid|name", NULL,
      "export --format dhis2-json|dhis2-csv: ids as cdsync codes (the "
      "default), as the DHIS2 UIDs of --id-map, or as names (catalog and "
      "org-unit names, --id-map overriding; an unmapped code or a name two "
      "codes share: refused, nothing written); import: the file's ids are "
      "read the same way (an id the map lacks: refused, file:line)" },
    { "command.id_map", "id-map", 0, "FILE", NULL,
      "export/import --id-scheme uid|name: CSV kind,code,uid or "
      "kind,code,name "
      "(kind orgunit|dataelement|dataset|catoptcombo; catoptcombo,default "
      "for the default combination)" },
    { "command.include_deleted", "include-deleted", 0, NULL, NULL,
      "export --format dhis2-json|dhis2-csv: the deleted values too, with "
      "DHIS2's deleted field (true) so a receiving DHIS2 removes them "
      "(refused with adx and csv: no such field)" },
    { "command.receipt", "receipt", 0, "FILE", NULL,
      "import-batches: the signed receipt file to write (default: "
      "FILE.receipt; must not exist)" },
    { "command.note", "note", 0, "TEXT", NULL,
      "accept-restore: why (kept with the restore event); followup: "
      "why the flag is set or cleared; approve, unapprove, pending: why" },
    { "command.data_set", "data-set", 0, "CODE", NULL,
      "approve, unapprove: the data set (deploy/datasets.csv code); "
      "push-dhis2: the DHIS2 data set sent (mapped by --id-map with "
      "--id-scheme uid)" },
    { "command.all", "all", 0, NULL, NULL,
      "pending list: decided values too; push-dhis2: send the values "
      "DHIS2 already took too" },
    { "command.url", "url", 0, "URL", NULL,
      "push-dhis2: the DHIS2 base URL (https://HOST[/PATH]; http only to "
      "127.0.0.1/localhost)" },
    { "command.credentials", "credentials", 0, "FILE", NULL,
      "push-dhis2: file (mode 0600) holding USER:PASSWORD or a personal "
      "access token d2pat_... on one line" },
    { "command.auth", "auth", 0, "basic|token", NULL,
      "push-dhis2: how to log in (default: token if the credentials are "
      "d2pat_..., else basic)" },
    { "command.import_strategy", "import-strategy", 0, "STRATEGY", NULL,
      "push-dhis2: CREATE_AND_UPDATE (default)|CREATE|UPDATE|DELETE" },
    { "command.ca_file", "ca-file", 0, "FILE", NULL,
      "push-dhis2: CA certificates (PEM) to check the DHIS2 server's "
      "certificate against instead of the system's (a private CA)" },
    { "command.chunk", "chunk", 0, "N", NULL,
      "push-dhis2: values per request, 1..10000 (default 500)" },
    { "command.timeout", "timeout", 0, "SECONDS", NULL,
      "push-dhis2: to connect, and for each request in all, 1..3600 "
      "(default 60)" },
    { "command.role", "role", 0, "ROLE", NULL,
      "user add: viewer|district_admin|province_admin|operator" },
    { "command.password_stdin", "password-stdin", 0, NULL, NULL,
      "user add/passwd: read the password from the first line of stdin "
      "(else asked twice on the terminal, not echoed)" },
    { "command.force", "force", 0, NULL, NULL,
      "accept-restore: record a restore the commit mark did not see; "
      "backup, report: overwrite FILE" },
    { "command.with_identity", "with-identity", 0, NULL, NULL,
      "restore: put the backup's identity file in place too" },
    { "aggregator.dashboard", "dashboard", 0, "PATH",
      CDS_DATADIR "/dashboard/index.html",
      "dashboard page served at / (absent: no dashboard)" },
    { "command.yes", "yes", 0, NULL, NULL,
      "metadata publish: publish without asking (needed when stdin is not "
      "a terminal)" },
    { "command.check_config", "check-config", 0, NULL, NULL,
      "check the configuration as run would use it, start nothing, "
      "change nothing; exit 0 or 3 naming every problem" },
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static const char *
get(cds_cli_t *cli, const char *key)
{
    return cds_config_get(cli->cfg, key);
}

/* The reject bounds (store.h "Rejects on disk") from the config, checked
 * (store NULL) or applied to store. 0 or an exit code (message printed). */
static int
reject_bounds(cds_cli_t *cli, store_t *store)
{
    static const struct { const char *key; long max; } k[3] = {
        { "aggregator.reject_raw_per_hour", 1000000 },
        { "aggregator.reject_retention_days", 36500 },
        { "aggregator.reject_min_free_mb", 1L << 30 },
    };
    long v[3];
    char err[256];
    for (int i = 0; i < 3; i++)
        if (cds_config_get_long(cli->cfg, k[i].key, &v[i], err, sizeof err)
                != CDS_OK
            || v[i] < 0 || v[i] > k[i].max)
            return cds_cli_fail(CDS_EXIT_CONFIG, "%s: \"%s\": expected 0..%ld",
                                strchr(k[i].key, '.') + 1, get(cli, k[i].key),
                                k[i].max);
    if (store)
        store_set_reject_bounds(store, (int) v[0], (int64_t) v[1] * 86400000,
                                (uint64_t) v[2] << 20);
    return 0;
}

/* A database at an older schema is about to be migrated by this open:
 * first a full backup set beside it (backup.h), so that going back to the
 * old program is `restore <db>.pre-vN`. No backup, no migration. */
static int
backup_before_upgrade(cds_cli_t *cli)
{
    backup_opts_t o = { .db_path = cli->db_path,
                        .store = cli->store,
                        .identity_path = cli->identity,
                        .catalog_path = get(cli, "aggregator.catalog") };
    char msg[2048];
    int code = backup_before_migrate(&o, store_schema_version(), msg,
                                     sizeof msg);
    if (code != CDS_OK)
        return cds_cli_fail(
            cds_exit_code(code),
            "%s: schema upgrade refused: the backup "
            "before it failed: %s (the copy needs as much free space beside "
            "the database as the database takes)",
            cli->db_path, msg);
    if (msg[0])
        cds_log(CDS_LOG_INFO, "pre_upgrade_backup", "db=%s msg=%s",
                cds_logq(cli->db_path), cds_logq(msg));
    return 0;
}

/* The single-writer lock of a PostgreSQL store (store_writer_lock) for
 * command what, before its first write: 0, or the exit code with the
 * refusal printed. Nothing to do on SQLite (daemon_lock's file). */
static int
writer_lock(cds_cli_t *cli, store_t *store, const char *what)
{
    char holder[256], where[4096];
    int code = store_writer_lock(store, holder, sizeof holder);
    if (code == CDS_OK)
        return 0;
    store_display(cli->store, where, sizeof where);
    if (code != CDS_EBUSY)
        return cds_cli_fail(cds_exit_code(code),
                            "%s: %s: cannot take the single-writer lock (%s)",
                            what, where, cds_strerror(code));
    return cds_cli_fail(
        CDS_EXIT_RUNTIME,
        "%s: another cdsync-aggregator is already writing to %s: it holds "
        "the database's single-writer lock (PostgreSQL advisory lock %d; "
        "%s). Two daemons must not write one database: stop the other one "
        "first%s",
        what, where, STORE_WRITER_LOCK_KEY,
        holder[0] ? holder : "the server does not show which session",
        strcmp(what, "run") == 0 ? ", or give this one a database of its own"
                                 : " (systemctl stop cdsync-aggregator)");
}

/* Open the database and refresh the orgunit table from the CSV; with
 * writer (the command's name) the single-writer lock first. */
static int
open_store_as(cds_cli_t *cli, store_t **store, const char *writer)
{
    char err[512];
    cds_orgunits_t *ous = cds_orgunits_load(get(cli, "aggregator.orgunits"),
                                            err, sizeof err);
    if (!ous)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    if (cds_mkdir_p(get(cli, "aggregator.state_dir"), 0700) != 0) {
        cds_orgunits_destroy(&ous);
        return cds_cli_fail(CDS_EXIT_RUNTIME, "%s: %s",
                            get(cli, "aggregator.state_dir"), strerror(errno));
    }
    int code = CDS_OK;
    int rc = reject_bounds(cli, NULL);
    if (rc) {
        cds_orgunits_destroy(&ous);
        return rc;
    }
    if ((rc = backup_before_upgrade(cli)) != 0) {
        cds_orgunits_destroy(&ous);
        return rc;
    }
    *store = store_open(cli->store, 0, &code);
    if (*store && writer && (rc = writer_lock(cli, *store, writer)) != 0) {
        store_destroy(store);
        cds_orgunits_destroy(&ous);
        return rc;
    }
    if (*store)
        reject_bounds(cli, *store);
    if (*store)
        code = store_orgunits_load(*store, ous);
    cds_orgunits_destroy(&ous);
    if (code != CDS_OK) {
        char where[4096];
        store_destroy(store);
        return cds_cli_fail(CDS_EXIT_RUNTIME, "%s: cannot open database (%s)%s",
                            store_display(cli->store, where, sizeof where),
                            cds_strerror(code),
                            code == CDS_ECORRUPT
                                ? "; refusing to run on a corrupt "
                                  "database: restore it from a backup"
                                : "");
    }
    return 0;
}

static int
open_store(cds_cli_t *cli, store_t **store)
{
    return open_store_as(cli, store, NULL);
}

static int open_store_ro(cds_cli_t *cli, store_t **store);

static int
cmd_keygen(cds_cli_t *cli)
{
    if (cds_mkdir_p(get(cli, "aggregator.state_dir"), 0700) != 0)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s: %s",
                            get(cli, "aggregator.state_dir"), strerror(errno));
    const char *label = get(cli, "command.label");
    if (cds_identity_generate(cli->identity, label ? label : "aggregator")
        != CDS_OK)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "%s: cannot create identity (exists "
                            "already? it is never overwritten)",
                            cli->identity);
    int code = CDS_OK;
    char msg[512] = "", pub[CDS_PUBID_LEN];
    cds_identity_t *id = cds_identity_load(cli->identity, &code, msg,
                                           sizeof msg);
    if (!id)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", msg);
    cds_identity_public(id, pub, sizeof pub);
    printf("%s\n", pub);
    cds_identity_destroy(&id);
    return 0;
}

static int
cmd_enroll(cds_cli_t *cli)
{
    if (cli->n_args != 1)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "enroll: exactly one PUBID expected");
    const char **units = NULL;
    size_t n = cds_config_get_all(cli->cfg, "command.org_unit", &units);
    store_t *store = NULL;
    int rc = open_store(cli, &store);
    if (rc)
        return rc;
    char err[512] = "";
    const char *old = get(cli, "command.replaces");
    int code = old ? enroll_replace(store, cli->args[0], old, units, n,
                                    get(cli, "command.label"), cds_now_ms(),
                                    stdout, err, sizeof err)
                   : enroll_add(store, cli->args[0], units, n,
                                get(cli, "command.label"), cds_now_ms(),
                                stdout, err, sizeof err);
    store_destroy(&store);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "enroll: %s",
                            err[0] ? err : cds_strerror(code));
    return 0;
}

static int
cmd_revoke(cds_cli_t *cli)
{
    if (cli->n_args != 1)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "revoke: exactly one PUBID or FINGERPRINT");
    store_t *store = NULL;
    int rc = open_store(cli, &store);
    if (rc)
        return rc;
    char err[512] = "";
    int code = enroll_revoke(store, cli->args[0], cds_now_ms(), stdout, err,
                             sizeof err);
    store_destroy(&store);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "revoke: %s",
                            err[0] ? err : cds_strerror(code));
    return 0;
}

/* The aggregator's signing public key, which `verify` checks the kept
 * batches' acks against: 0, or exit 3 with the message printed. */
static int
signing_key(cds_cli_t *cli, uint8_t pk[CDS_PK_BYTES])
{
    char err[512] = "";
    int code = CDS_OK;
    cds_identity_t *id = cds_identity_load(cli->identity, &code, err,
                                           sizeof err);
    if (!id)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s",
                            err[0] ? err : cli->identity);
    memcpy(pk, cds_identity_sign_pk(id), CDS_PK_BYTES);
    cds_identity_destroy(&id);
    return 0;
}

/* verify: re-check the database against the kept signed batches
 * (audit.h). Exit 0 clean, 1 with one line per problem, 4 on failure. */
static int
cmd_verify(cds_cli_t *cli)
{
    int code = CDS_OK;
    uint8_t pk[CDS_PK_BYTES];
    int rc = signing_key(cli, pk);
    if (rc)
        return rc;
    char where[4096];
    store_t *store = store_open(cli->store, CDS_DB_READONLY, &code);
    if (!store)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "%s: cannot open database (%s)",
                            store_display(cli->store, where, sizeof where),
                            cds_strerror(code));
    audit_summary_t sum;
    code = audit_run(store, pk, stdout, &sum);
    store_destroy(&store);
    if (code != CDS_OK)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "verify: %s", cds_strerror(code));
    printf("verify: %llu batches, %llu history rows, %llu values checked; "
           "%llu problem%s\n", (unsigned long long) sum.batches,
           (unsigned long long) sum.history, (unsigned long long) sum.values,
           (unsigned long long) sum.problems, sum.problems == 1 ? "" : "s");
    return sum.problems ? CDS_EXIT_INPUT : 0;
}

/* agents: a listing, never writes (CDS_CLI_DB_RO). */
static int
cmd_agents(cds_cli_t *cli)
{
    int code =
        enroll_list(cli->db, cds_config_get_bool(cli->cfg, "command.json"),
                    cds_now_ms(), stdout);
    return code == CDS_OK ? 0
                          : cds_cli_fail(cds_exit_code(code), "agents: %s",
                                         cds_strerror(code));
}

/* What query needs beside the store: the catalog (--wide's column order,
 * the value types for targets, which ratios are derived: query.h), the rollup rules (--wide's total row),
 * the data sets (--wide's "reported" counts the cells a unit owes) and
 * the targets file (the long form's target columns, attain.h). 0 or the
 * exit code of a refusal (said on stderr). */
static int
query_meta_load(cds_cli_t *cli, query_opts_t *q, cds_catalog_t **cat,
                rollup_rules_t **rules, cds_targets_t **tg,
                cds_datasets_t **ds)
{
    char err[512] = "", tpath[4096];
    const char *catalog = get(cli, "aggregator.catalog");
    bool targets = !q->wide && attain_targets_path(cli->cfg, tpath,
                                                   sizeof tpath)[0];
    if (!(*cat = cds_catalog_load(catalog, err, sizeof err)))
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    q->catalog = *cat;
    if (q->wide && !(*rules = rollup_rules_load(catalog, err, sizeof err))) {
        cds_catalog_destroy(cat);
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    }
    q->rules = *rules;                 /* the wide total row */
    if (q->wide && completeness_datasets(cli->cfg, *cat, ds, err, sizeof err)
                       != CDS_OK) {
        rollup_rules_destroy(rules);
        cds_catalog_destroy(cat);
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    }
    q->datasets = *ds;
    if (targets && attain_targets_load(cli->cfg, *cat, tg, err, sizeof err)
                       != CDS_OK) {
        cds_catalog_destroy(cat);
        return cds_cli_fail(CDS_EXIT_INPUT, "query: %s", err);
    }
    q->targets = *tg;
    return 0;
}

static int
cmd_query(cds_cli_t *cli)
{
    query_opts_t q = { .subtree = !cds_config_get_bool(cli->cfg,
                                                       "command.no_subtree") };
    const char **ous = NULL, **inds = NULL;
    size_t n_ous = cds_config_get_all(cli->cfg, "command.org_unit", &ous);
    if (n_ous > 1)
        return cds_cli_fail(CDS_EXIT_USAGE, "query: at most one --org-unit");
    q.org_unit = n_ous ? ous[0] : NULL;
    q.n_indicators = cds_config_get_all(cli->cfg, "command.indicator", &inds);
    q.indicators = inds;
    q.period = get(cli, "command.period");
    q.from = get(cli, "command.from");
    q.to = get(cli, "command.to");
    q.wide = cds_config_get_bool(cli->cfg, "command.wide");
    if (query_format_parse(get(cli, "command.format"), &q.format) != CDS_OK)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "format: \"%s\": expected table, csv or json",
                            get(cli, "command.format"));
    char err[512] = "";
    int32_t start, end;        /* a bad range is refused before any I/O */
    int code = query_range(&q, &start, &end, err, sizeof err);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "query: %s", err);
    cds_catalog_t *cat = NULL;
    rollup_rules_t *rules = NULL;
    cds_targets_t *tg = NULL;
    cds_datasets_t *ds = NULL;
    int fail = query_meta_load(cli, &q, &cat, &rules, &tg, &ds);
    if (fail)
        return fail;
    store_t *store = NULL;
    admin_bom_t bom;
    FILE *out = stdout;
    code = admin_bom_begin(cli->cfg, q.format == QUERY_CSV, &bom, &out, err,
                           sizeof err);
    int rc = code == CDS_OK ? open_store_ro(cli, &store) : 0; /* never writes */
    if (!rc && code == CDS_OK)
        code = query_run(store, &q, out, err, sizeof err);
    int done = admin_bom_end(&bom, !rc && code == CDS_OK);
    if (code == CDS_OK)
        code = done;
    store_destroy(&store);
    rollup_rules_destroy(&rules);
    cds_targets_destroy(&tg);
    cds_datasets_destroy(&ds);
    cds_catalog_destroy(&cat);
    if (rc)
        return rc;
    return code == CDS_OK ? 0
                          : cds_cli_fail(cds_exit_code(code), "query: %s",
                                         err[0] ? err : cds_strerror(code));
}

/* The daemon lock (backup.h) for a command that must not run beside a
 * daemon: the descriptor, or -1 with the message printed (*rc). */
static int
daemon_lock(cds_cli_t *cli, const char *what, int *rc)
{
    int code = CDS_OK;
    /* Its directory may not exist yet (first run, identity elsewhere). */
    cds_mkdir_p(get(cli, "aggregator.state_dir"), 0700);
    int fd = backup_lock_try(cli->db_path, &code);
    if (fd < 0)
        *rc = code != CDS_EBUSY
                  ? cds_cli_fail(CDS_EXIT_RUNTIME,
                                 "%s: cannot take %s" BACKUP_LOCK_SUFFIX, what,
                                 cli->db_path)
                  : cds_cli_fail(CDS_EXIT_RUNTIME,
                                 "%s: another cdsync-aggregator is "
                                 "already running on %s (%s" BACKUP_LOCK_SUFFIX
                                 " is locked)%s",
                                 what, cli->db_path, cli->db_path,
                                 strcmp(what, "run") == 0
                                     ? ""
                                     : "; stop it first (systemctl stop "
                                       "cdsync-aggregator)");
    return fd;
}

static int
cmd_run(cds_cli_t *cli)
{
    char err[512] = "";
    long group_max = 0;
    if (cds_config_get_long(cli->cfg, "aggregator.group_max", &group_max, err,
                            sizeof err) != CDS_OK
        || group_max < 1 || group_max > SERVER_GROUP_MAX_LIMIT)
        return cds_cli_fail(
            CDS_EXIT_CONFIG, "group_max: \"%s\": expected 1..%d",
            get(cli, "aggregator.group_max"), SERVER_GROUP_MAX_LIMIT);
    int code = CDS_OK, rc0 = 0;
    cds_identity_t *id = cds_identity_load(cli->identity, &code, err,
                                           sizeof err);
    if (!id)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s",
                            err[0] ? err : cli->identity);
    int lock = daemon_lock(cli, "run", &rc0);
    if (lock < 0) {
        cds_identity_destroy(&id);
        return rc0;
    }
    daemon_raise_nofile();
    cds_catalog_t *cat = cds_catalog_load(get(cli, "aggregator.catalog"), err,
                                          sizeof err);
    store_t *store = NULL;
    int rc = cat ? open_store_as(cli, &store, "run")
                 : cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    if (!rc)
        rc = daemon_serve(cli, id, &cat, store, group_max);
    store_destroy(&store);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&id);
    close(lock);
    return rc;
}

/* accept-restore: the database is behind its commit mark (or the mark is
 * foreign or damaged); record that the operator accepts it, reset the
 * mark, and have every agent's next hello compared (commitmark.h). */
/* accept-restore: where each agent stands in the restored database. */
static int
print_restored_agent(const store_agent_t *a, void *arg)
{
    (void) arg;
    if (!a->revoked_at_ms)
        printf("agent %s label=\"%s\" applied_seq=%llu: what it holds "
               "acks for above is resent at its next hello from its kept "
               "batches\n",
               a->fpr, a->label, (unsigned long long) a->applied_seq);
    return 0;
}

static int
cmd_accept_restore(cds_cli_t *cli)
{
    store_t *store = cli->db; /* daemon lock held (CDS_CLI_LOCK) */
    int rc = 0;
    commitmark_t *mark = commitmark_new(store, cli->db_path);
    commitmark_state_t st = COMMITMARK_OK;
    char msg[1536] = "";              /* the refusal, logged by accept */
    int64_t event = 0;
    int code = mark ? commitmark_check(mark, &st, msg, sizeof msg)
                    : CDS_ENOMEM;
    bool due = !commitmark_state_runs(st)
               || cds_config_get_bool(cli->cfg, "command.force");
    if (code == CDS_OK && due)
        code = commitmark_accept(mark, st, get(cli, "command.note"),
                                 (int64_t) cds_now_ms(), &event);
    if (code != CDS_OK)
        rc = cds_cli_fail(cds_exit_code(code), "accept-restore: %s: %s",
                          cli->db_path, cds_strerror(code));
    else if (!due)
        printf("nothing to accept: %s matches its commit mark (%s)\n",
               cli->db_path, commitmark_state_name(st));
    else {
        printf("accepted restore %lld (%s): the commit mark %s now matches "
               "the database; the aggregator can start. Agents holding acks "
               "for updates it lacks are recorded at their next hello and "
               "resend the signed batches they kept (docs/RELIABILITY.md "
               "\"Resend from\"); what they no longer keep is lost: see "
               "`" PROG " restores`\n", (long long) event,
               commitmark_state_name(st), commitmark_path(mark));
        store_agents_each(store, print_restored_agent, NULL);
    }
    /* Run as root, the mark must stay the service user's (like the db;
     * on PostgreSQL, like the state dir: no database file there). */
    const char *ref = access(cli->db_path, F_OK) == 0
                          ? cli->db_path : get(cli, "aggregator.state_dir");
    if (mark && access(commitmark_path(mark), F_OK) == 0
        && backup_own_like(commitmark_path(mark), ref) != 0)
        rc = cds_cli_fail(CDS_EXIT_RUNTIME,
                          "accept-restore: %s: cannot give it the "
                          "owner of %s: %s",
                          commitmark_path(mark), cli->db_path, strerror(errno));
    commitmark_destroy(&mark);
    return rc;
}

/* backup FILE: online copy of the database, identity, catalog (backup.h). */
static int
cmd_backup(cds_cli_t *cli)
{
    if (cli->n_args != 1)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "backup: exactly one FILE expected");
    backup_opts_t o = { .db_path = cli->db_path,
                        .store = cli->store,
                        .identity_path = cli->identity,
                        .catalog_path = get(cli, "aggregator.catalog"),
                        .file = cli->args[0],
                        .force = cds_config_get_bool(cli->cfg,
                                                     "command.force") };
    char msg[2048];
    int code = backup_make(&o, msg, sizeof msg);
    if (code != CDS_OK)
        return cds_cli_fail(code == CDS_EUSAGE ? CDS_EXIT_INPUT
                                               : cds_exit_code(code),
                            "backup: %s", msg);
    printf("%s\n", msg);
    return 0;
}

/* restore FILE: the aggregator stopped (daemon lock), see backup.h. */
static int
cmd_restore(cds_cli_t *cli)
{
    if (cli->n_args != 1)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "restore: exactly one FILE expected");
    int rc = 0;
    int lock = daemon_lock(cli, "restore", &rc);
    if (lock < 0)
        return rc;
    backup_opts_t o = { .db_path = cli->db_path,
                        .store = cli->store,
                        .identity_path = cli->identity,
                        .file = cli->args[0],
                        .with_identity = cds_config_get_bool(
                            cli->cfg, "command.with_identity") };
    char msg[2048];
    int code = backup_restore(&o, msg, sizeof msg);
    close(lock);
    if (code != CDS_OK)
        return cds_cli_fail(code == CDS_EUSAGE || code == CDS_ENOTFOUND
                                ? CDS_EXIT_INPUT
                                : cds_exit_code(code),
                            "restore: %s", msg);
    printf("%s\n", msg);
    return 0;
}

/* migrate-store --to WHERE: copy the store, daemon stopped (migrate.h). */
static int
cmd_migrate_store(cds_cli_t *cli)
{
    const char *to = get(cli, "command.to");
    if (!to || !*to)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "migrate-store: --to postgresql://USER@HOST/DB "
                            "(or a new SQLite file) expected");
    char msg[2048] = "";
    uint8_t pk[CDS_PK_BYTES];
    int rc = signing_key(cli, pk);
    if (rc)
        return rc;
    migrate_opts_t o = { .from = cli->db_path, .to = to,
                         .owner_like = cli->db_path, .agg_pk = pk,
                         .batch = MIGRATE_BATCH, .out = stdout,
                         .progress = stderr };
    int code = migrate_store(&o, msg, sizeof msg);
    return code == CDS_OK ? 0
                          : cds_cli_fail(cds_exit_code(code),
                                         "migrate-store: %s", msg);
}

/* restores: the accepted restores and the acked updates found lost. */
static int
cmd_restores(cds_cli_t *cli)
{
    commitmark_t *mark = commitmark_new(cli->db, cli->db_path);
    int code = mark ? commitmark_print(mark, stdout) : CDS_ENOMEM;
    commitmark_destroy(&mark);
    return code == CDS_OK ? 0
                          : cds_cli_fail(cds_exit_code(code), "restores: %s",
                                         cds_strerror(code));
}

/* Read-only store for operator commands; exit code on failure. */
static int
open_store_ro(cds_cli_t *cli, store_t **store)
{
    int code = CDS_OK;
    char where[4096];
    *store = store_open(cli->store, CDS_DB_READONLY, &code);
    store_display(cli->store, where, sizeof where);
    if (!*store && code == CDS_EVERSION)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "%s: database schema is not this "
                            "program's (older: `" PROG
                            " run` migrates it; newer: "
                            "upgrade this program); read-only, nothing changed",
                            where);
    return *store
               ? 0
               : cds_cli_fail(CDS_EXIT_CONFIG, "%s: cannot open database (%s)",
                              where, cds_strerror(code));
}

/* One health report; *worst receives the worst severity. */
static int
health_once(health_t *h, store_t *store, const health_thresholds_t *th,
            bool json, bool nagios, int *worst)
{
    health_agent_t *list = NULL;
    knock_row_t *knocks = NULL;        /* listed only: no exit code */
    size_t n = 0, nk = 0;
    uint64_t now = cds_now_ms();
    int code = health_list(h, th, now, &list, &n);
    if (code == CDS_OK && !nagios)
        code = knock_list(store, (int64_t) (now - KNOCK_WINDOW_MS), &knocks,
                          &nk);
    if (code != CDS_OK)
        goto out;
    *worst = health_worst(list, n);
    if (json) {
        json_t *o = health_to_json(list, n, now);
        if (o)
            knock_to_json(o, knocks, nk, now);
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
    } else if (nagios)
        health_nagios(stdout, list, n, now);
    else {
        health_print(stdout, list, n, now, th);
        knock_print(stdout, knocks, nk, now);
    }
    fflush(stdout);
out:
    free(list);
    free(knocks);
    return code;
}

/* Sleep ms unless SIGINT/SIGTERM comes: 0 slept, 1 stop requested. */
static int
wait_stop(long ms)
{
    struct pollfd p = { .fd = cds_signal_fd(), .events = POLLIN };
    if (cds_signal_stop_requested())
        return 1;
    poll(&p, p.fd >= 0 ? 1 : 0, (int) ms);
    return cds_signal_stop_requested() ? 1 : 0;
}

/* --nagios: a failure is UNKNOWN (3) with a plugin line on stdout, which
 * is what Nagios shows: the last message of cds_cli_fail() (also on stderr). */
static int
nagios_unknown(void)
{
    printf("CDSYNC UNKNOWN - ");
    for (const char *c = cds_cli_last_failure(); *c; c++)
        putchar(*c == '|' ? '/' : *c);
    putchar('\n');
    return 3;
}

/* health's options: 0 or CDS_EXIT_USAGE (reported). */
static int
health_args(cds_cli_t *cli, bool nagios, bool *json, long *watch)
{
    char err[256];
    const char *fmt = get(cli, "command.format");
    *json = fmt && strcmp(fmt, "json") == 0;
    if (cli->n_args != 0 || (fmt && !*json && strcmp(fmt, "table") != 0)
        || (nagios && (*json || get(cli, "command.watch"))))
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "health: [--watch SECONDS] "
                            "[--format table|json] | health --nagios");
    if (get(cli, "command.watch")
        && (cds_config_get_long(cli->cfg, "command.watch", watch, err,
                                sizeof err) != CDS_OK || *watch < 1))
        return cds_cli_fail(CDS_EXIT_USAGE, "watch: expected seconds >= 1");
    return 0;
}

/* Nagios convention: 0 OK, 1 warning, 2 critical, 3 unknown (cannot
 * read the database: CDS_EXIT_CONFIG is 3 too). */
static int
cmd_health(cds_cli_t *cli)
{
    health_thresholds_t th;
    long watch = 0;
    bool json = false, nagios = cds_config_get_bool(cli->cfg,
                                                    "command.nagios");
    store_t *store = NULL;
    int rc = health_args(cli, nagios, &json, &watch);
    if (!rc)
        rc = daemon_thresholds(cli, &th);
    if (!rc)
        rc = open_store_ro(cli, &store);
    if (rc)
        return nagios ? nagios_unknown() : rc;
    health_t *h = health_new(store);
    int worst = 3, code = h ? CDS_OK : CDS_ERROR;
    if (watch)
        cds_signal_install();
    do {
        if (watch)
            fputs("\033[H\033[2J", stdout);   /* clear, like watch(1) */
        if (code == CDS_OK)
            code = health_once(h, store, &th, json, nagios, &worst);
    } while (watch && code == CDS_OK && wait_stop(watch * 1000) == 0);
    health_destroy(&h);
    store_destroy(&store);
    if (code != CDS_OK)
        cds_cli_fail(3, "health: %s", cds_strerror(code));
    if (code != CDS_OK)
        return nagios ? nagios_unknown() : 3;
    return worst;
}

/* "30m", "2h", "7d", "45s" ago, or ms since the epoch. -1 if neither. */
static int64_t
parse_since(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    int64_t unit = !*end ? 0 : strcmp(end, "s") == 0 ? 1000
                 : strcmp(end, "m") == 0 ? 60000
                 : strcmp(end, "h") == 0 ? 3600000
                 : strcmp(end, "d") == 0 ? 86400000 : -1;
    if (unit < 0)
        return -1;
    return unit ? (int64_t) cds_now_ms() - v * unit : v;
}

static int
rejects_filter(cds_cli_t *cli, rejects_filter_t *f)
{
    const char *since = get(cli, "command.since");
    const char *reason = get(cli, "command.reason");
    const char *fmt = get(cli, "command.format");
    memset(f, 0, sizeof *f);
    f->code = -1;
    f->agent = get(cli, "command.agent");
    f->json = fmt && strcmp(fmt, "json") == 0;
    if (since && (f->since_ms = parse_since(since)) < 0)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "since: \"%s\": expected 30m, 2h, 7d or ms "
                            "since the epoch",
                            since);
    if (reason && (f->code = cds_err_from_name(reason)) < 0)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "reason: \"%s\" is not a reason name "
                            "(bad_value, unknown_key, ...)",
                            reason);
    return 0;
}

/* rejects retry: ingest with our identity, today's catalog and health. */
static int
rejects_retry_cmd(cds_cli_t *cli, store_t *store, const char *id)
{
    char err[512] = "";
    int code = CDS_OK, result = CDS_ERROR;
    cds_identity_t *me = cds_identity_load(cli->identity, &code, err,
                                           sizeof err);
    cds_catalog_t *cat = me ? cds_catalog_load(get(cli, "aggregator.catalog"),
                                               err, sizeof err)
                            : NULL;
    if (!cat) {
        cds_identity_destroy(&me);
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s", err);
    }
    ingest_t *ingest = ingest_new(store, me, cat);
    health_t *h = ingest ? health_new(store) : NULL;
    if (h)
        ingest_set_health(ingest, h);
    code = h ? rejects_retry(store, ingest, h, id, cds_now_ms(), &result,
                             stdout)
             : CDS_ENOMEM;
    health_destroy(&h);
    ingest_destroy(&ingest);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&me);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "rejects retry %s: %s", id,
                            code == CDS_EUSAGE ? "ID is N or FINGERPRINT:SEQ"
                                               : cds_strerror(code));
    return result == CDS_OK ? 0 : CDS_EXIT_INPUT;
}

/* The cutoff of `prune` and `rejects prune`: --older-than AGE, or the
 * reject retention as "<days>d" (*age names it; buf holds the default).
 * *cutoff -1 when the retention is 0 (kept for ever) and no AGE was given.
 * 0, or the usage exit when AGE does not parse. */
static int
prune_cutoff(cds_cli_t *cli, char *buf, size_t len, const char **age,
             int64_t *cutoff)
{
    const char *given = get(cli, "command.older_than");
    *age = given;
    if (!given) {
        snprintf(buf, len, "%sd", get(cli, "aggregator.reject_retention_days"));
        *age = buf;
    }
    char *end = NULL;
    long long v = strtoll(*age, &end, 10);
    *cutoff = end != *age && *end && v >= 0 ? parse_since(*age) : -1;
    if (*cutoff < 0)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "older-than: \"%s\": expected 12h, 7d, 30m", *age);
    if (v == 0 && !given)
        *cutoff = -1;                  /* retention 0: rejects kept */
    return 0;
}

/* rejects prune: delete reject rows older than --older-than (default
 * the retention setting); prints how many. */
static int
rejects_prune_cmd(cds_cli_t *cli)
{
    const char *age = NULL;
    char dflt[32];
    int64_t cutoff = -1;
    int rc = prune_cutoff(cli, dflt, sizeof dflt, &age, &cutoff);
    if (rc)
        return rc;
    if (cutoff < 0) {
        printf("reject rows kept (reject_retention_days = 0)\n");
        return 0;
    }
    store_t *store = NULL;
    if ((rc = open_store(cli, &store)))
        return rc;
    int64_t n = 0;
    int code = rejects_prune(store, cutoff, &n);
    store_destroy(&store);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "rejects prune: %s",
                            cds_strerror(code));
    printf("%lld reject rows older than %s deleted\n", (long long) n, age);
    return 0;
}

/* prune: everything past its retention (retention.h), or with --dry-run
 * how much would go; update history and batches are never pruned. */
static int
cmd_prune(cds_cli_t *cli)
{
    const char *age = NULL;
    bool dry = cds_config_get_bool(cli->cfg, "command.dry_run");
    char dflt[32];
    int64_t cutoff = -1;
    if (cli->n_args != 0)
        return cds_cli_fail(CDS_EXIT_USAGE,
                            "prune [--dry-run] [--older-than AGE]");
    int rc = prune_cutoff(cli, dflt, sizeof dflt, &age, &cutoff);
    if (rc)
        return rc;
    store_t *store = NULL;
    if ((rc = open_store(cli, &store)))
        return rc;
    retention_counts_t n;
    int code = dry ? retention_count(store, cutoff, cds_now_ms(), &n)
                   : retention_prune(store, cutoff, cds_now_ms(), &n);
    store_destroy(&store);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "prune: %s",
                            cds_strerror(code));
    const char *verb = dry ? "to delete" : "deleted";
    if (cutoff < 0)
        printf("reject, knock: kept (reject_retention_days = 0)\n");
    else
        printf("reject: %lld rows older than %s %s\nknock: %lld rows %s\n",
               (long long) n.rejects, age, verb, (long long) n.knocks, verb);
    printf("agent_health_bucket: %lld rows older than a day %s\n",
           (long long) n.buckets, verb);
    printf("update_log, batch: kept (the record; never pruned)\n");
    return 0;
}

static int
cmd_rejects(cds_cli_t *cli)
{
    rejects_filter_t f;
    store_t *store = NULL;
    bool sub = cli->n_args == 2 && (strcmp(cli->args[0], "show") == 0
                                    || strcmp(cli->args[0], "retry") == 0);
    if (cli->n_args == 1 && strcmp(cli->args[0], "prune") == 0)
        return rejects_prune_cmd(cli);
    if (cli->n_args != 0 && !sub)
        return cds_cli_fail(
            CDS_EXIT_USAGE,
            "rejects [--since WHEN] [--agent A] "
            "[--reason NAME] [--format json] | rejects show|retry ID"
            " | rejects prune [--older-than AGE]");
    int rc = rejects_filter(cli, &f);
    /* Listing and show only read (a monitoring user may run them); retry
     * ingests, so it opens read-write. */
    bool retry = sub && strcmp(cli->args[0], "retry") == 0;
    if (rc || (rc = retry ? open_store(cli, &store)
                          : open_store_ro(cli, &store)))
        return rc;
    int code = CDS_OK;
    if (!sub)
        code = rejects_list(store, &f, stdout);
    else if (strcmp(cli->args[0], "retry") == 0)
        rc = rejects_retry_cmd(cli, store, cli->args[1]);
    else {
        char err[512];
        cds_identity_t *me = cds_identity_load(cli->identity, &code, err,
                                               sizeof err);
        code = rejects_show(store, me, cli->args[1], stdout);
        cds_identity_destroy(&me);
    }
    store_destroy(&store);
    if (code != CDS_OK)
        return cds_cli_fail(cds_exit_code(code), "rejects: %s",
                            code == CDS_EUSAGE ? "ID is N or FINGERPRINT:SEQ"
                                               : cds_strerror(code));
    return rc;
}

/* cds_cli's early_exit, before the command line could be parsed: a
 * usage or configuration error of `health --nagios` is UNKNOWN (3) with
 * its plugin line, never 2 (CRITICAL). */
static int
early_exit(int argc, char **argv, int code)
{
    return cds_cli_asked(argc, argv, "--nagios") ? nagios_unknown() : code;
}

/* --check-config: every problem on stderr, one a line; exit 0 or 3. */
static int
check_config(cds_cli_t *cli)
{
    return cds_cli_check_verdict(
        cli, checkconf_run(cli->cfg, cli->identity, stderr));
}

/* CDS_CLI_LOCK: the daemon lock, then CDS_CLI_DB/_RO: the store, in
 * cli->db; both released by release() after the command. */
static int
acquire(cds_cli_t *cli)
{
    unsigned f = cli->cmd->flags;
    store_t *store = NULL;
    int rc = 0;
    if (f & CDS_CLI_LOCK) {
        cli->lock_fd = daemon_lock(cli, cli->cmd->name, &rc);
        if (cli->lock_fd < 0)
            return rc;
    }
    if (f & CDS_CLI_DB)         /* not beside a daemon: nor its writer */
        rc = open_store_as(cli, &store,
                           f & CDS_CLI_LOCK ? cli->cmd->name : NULL);
    else if (f & CDS_CLI_DB_RO)
        rc = open_store_ro(cli, &store);
    cli->db = store;
    return rc;
}

static void
release(cds_cli_t *cli)
{
    store_t *store = cli->db;
    store_destroy(&store);
    cli->db = NULL;
    if (cli->lock_fd >= 0)
        close(cli->lock_fd);
    cli->lock_fd = -1;
}

static const cds_cli_command_t commands[] = {
    {"keygen", "keygen [--label TEXT]", cmd_keygen, 0},
    {"pubid",
     "pubid  (this aggregator's public identity: the agents' "
     "server_key)",
     cds_cli_pubid, CDS_CLI_NO_ARGS},
    {"enroll",
     "enroll PUBID (--org-unit OU ... | --replaces OLDFPR) "
     "[--label TEXT]",
     cmd_enroll, 0},
    {"revoke", "revoke PUBID|FINGERPRINT", cmd_revoke, 0},
    {"agents", "agents [--json]", cmd_agents, CDS_CLI_NO_ARGS | CDS_CLI_DB_RO},
    {"run", "run", cmd_run, CDS_CLI_NO_ARGS},
    {"accept-restore",
     "accept-restore [--note TEXT] [--force]  (the "
     "database is behind its commit mark: record it, reset the mark)",
     cmd_accept_restore, CDS_CLI_NO_ARGS | CDS_CLI_LOCK | CDS_CLI_DB},
    {"restores",
     "restores  (accepted restores and the acked updates "
     "found lost)",
     cmd_restores, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"backup",
     "backup FILE [--force]  (online, consistent copy of the "
     "database, identity and catalog, with a manifest)",
     cmd_backup, 0},
    {"restore",
     "restore FILE [--with-identity]  (aggregator stopped; then "
     "run refuses until accept-restore)",
     cmd_restore, 0},
    {"verify", "verify", cmd_verify, CDS_CLI_NO_ARGS},
    {"migrate-store",
     "migrate-store --to postgresql://USER@HOST/DB  (aggregator stopped: "
     "copy the store into a new, empty one, check it, print the next steps)",
     cmd_migrate_store, CDS_CLI_NO_ARGS | CDS_CLI_LOCK},
    {"query",
     "query [--org-unit OU] [--no-subtree] [--indicator DE ...] "
     "[--period PE | --from PE --to PE] [--format table|csv|json] "
     "[--wide] [--bom]",
     cmd_query, CDS_CLI_NO_ARGS},
    {"health",
     "health [--watch SECONDS] [--format table|json] | health "
     "--nagios  (exit 0 OK, 1 warning, 2 critical, 3 unknown)",
     cmd_health, 0},
    {"rejects",
     "rejects [--since WHEN] [--agent FPR|LABEL] [--reason NAME] "
     "[--format table|json] | rejects show ID | rejects retry ID | "
     "rejects prune [--older-than AGE]",
     cmd_rejects, 0},
    {"prune",
     "prune [--dry-run] [--older-than AGE]  (rejects, knocks, "
     "health buckets past retention; never history)",
     cmd_prune, 0},
    /* district-admin commands (admin.c) */
    {"rollup",
     "rollup --org-unit OU --period PE [--indicator DE ...] "
     "[--format table|csv|json] [--bom]",
     admin_rollup, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"rank",
     "rank --org-unit OU --indicator DE --period PE "
     "[--format table|csv|json] [--bom]  (OU's child units by attainment of "
     "their targets)",
     admin_rank, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"completeness",
     "completeness --org-unit OU --period PE "
     "[--indicator DE ...] [--format table|csv|json] [--bom]",
     admin_completeness, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"history",
     "history --org-unit OU --indicator DE --period PE "
     "[--format table|csv|json] [--bom]",
     admin_history, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"validate",
     "validate --org-unit OU --period PE [--format table|csv|json]  "
     "(rules, derived ratios, outliers of OU and the units below it; "
     "exit 1 when any)",
     quality_validate, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"followup",
     "followup set|clear|history --org-unit OU --indicator DE --period PE "
     "[--note TEXT] [--format table|csv|json]  (the admin's follow-up "
     "flag on a value, with its history)",
     quality_followup, CDS_CLI_DB},
    {"approve",
     "approve --data-set DS --org-unit OU --period PE [--note WHY]  "
     "(lock the period: agents' later values are held for review)",
     approve_cli_approve, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"unapprove",
     "unapprove --data-set DS --org-unit OU --period PE --note WHY",
     approve_cli_unapprove, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"pending",
     "pending list [--org-unit OU] [--all] [--format table|csv|json] | "
     "pending accept ID [--note WHY] | pending refuse ID --note WHY  "
     "(values held in approved periods)",
     approve_cli_pending, CDS_CLI_DB},
    {"export",
     "export [--org-unit OU] [--no-subtree] [--indicator DE ...] "
     "[--period PE | --from PE --to PE] "
     "[--format dhis2-json|dhis2-csv|csv|adx] [--bom] [--adx-periods] "
     "[--include-deleted] [--id-scheme code|uid|name] [--id-map FILE]",
     admin_export, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"push-dhis2",
     "push-dhis2 --url URL --data-set DS --credentials FILE "
     "[--auth basic|token] [--org-unit OU] [--no-subtree] "
     "[--indicator DE ...] [--period PE | --from PE --to PE] "
     "[--include-deleted] [--id-scheme code|uid --id-map FILE] "
     "[--import-strategy CREATE_AND_UPDATE|CREATE|UPDATE|DELETE] "
     "[--dry-run] [--all] [--chunk N] [--timeout SECONDS] [--ca-file FILE]  "
     "(export's "
     "dhis2-json posted to DHIS2's /api/dataValueSets; what DHIS2 took is "
     "recorded, a re-run sends only the rest)",
     admin_push_dhis2, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"report",
     "report --org-unit OU --period PE --out FILE [--indicator DE ...] "
     "[--format xlsx|csv] [--bom] [--force] [--unit-name TEXT] "
     "[--number TEXT] [--place TEXT] [--date YYYY-MM-DD] [--title TEXT] "
     "[--signer TEXT] [--signer-title TEXT]  (official report: national "
     "heading, units x indicators, total = rollup, notes, signature)",
     admin_report, CDS_CLI_NO_ARGS | CDS_CLI_DB},
    {"import", "import FILE [--header|--no-header] [--id-scheme "
     "code|uid|name] [--id-map FILE]  (DHIS2 dataValueSet JSON or CSV, or "
     "ADX XML)",
     admin_import,
     CDS_CLI_DB},
    {"import-batches",
     "import-batches FILE [--receipt OUT]  (a commune's signed batches "
     "carried by USB: verify, apply through ingest, write the signed "
     "receipt to carry back)",
     admin_import_batches, CDS_CLI_DB},
    {"token", "token add NAME | token list | token revoke NAME  (HTTP API)",
     admin_token, CDS_CLI_DB},
    {"user",
     "user add NAME --role ROLE [--org-unit OU] [--password-stdin] | "
     "user passwd NAME [--password-stdin] | user disable NAME | "
     "user list  (dashboard logins)",
     admin_user, CDS_CLI_DB},
    {"metadata",
     "metadata publish DIR [--yes] | metadata list | metadata show N "
     "[FILE] | metadata diff A B  (versioned, signed metadata files)",
     metadata_cmd, CDS_CLI_DB},
};

static const cds_cli_program_t aggregator = {
    .name = PROG,
    .section = "aggregator",
    .default_config = DEFAULT_CONFIG,
    .usage_head = "usage: " PROG " [-c FILE] [options] COMMAND [args]\n"
                  "       " PROG " [-c FILE] [options] --check-config\n",
    .options_head =
        "options (config file [aggregator] keys, default " DEFAULT_CONFIG "):",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .commands = commands,
    .n_commands = sizeof commands / sizeof commands[0],
    .identity_file = "aggregator.key",
    .db_file = "aggregator.db",
    .check_config = check_config,
    .acquire = acquire,
    .release = release,
    .early_exit = early_exit,
};

int
main(int argc, char **argv)
{
    return cds_cli_main(&aggregator, argc, argv);
}
