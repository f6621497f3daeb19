/*  cdsync-aggregator: parse the command line and dispatch to one function
 *  per subcommand (keygen, enroll, revoke, agents, run, query). Exit codes
 *  (/work docs cli.md): 0 ok, 1 bad input, 2 usage, 3 configuration or
 *  identity, 4 runtime (database, I/O). */
#include "cds_signal.h"
#include "cds_catalog.h"
#include "cds_config.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_util.h"
#include "enroll.h"
#include "ingest.h"
#include "query.h"
#include "server.h"
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "cdsync-aggregator"
#define PROG_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/cdsync/aggregator.ini"

enum { EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3, EXIT_RUNTIME = 4 };

/* Every option: [aggregator] keys are the config file; [command] keys are
 * the per-command flags (also settable in a [command] section). */
static const cds_option_t options[] = {
    { "aggregator.state_dir", "state-dir", 0, "DIR",
      "/var/lib/cdsync-aggregator", "holds aggregator.db" },
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
    { "aggregator.log_level", "log-level", 0, "LEVEL", "info",
      "debug|info|warn|error" },
    { "command.label", "label", 0, "TEXT", NULL, "keygen/enroll: label" },
    { "command.org_unit", "org-unit", 0, "OU", NULL,
      "enroll (repeatable) / query: org unit" },
    { "command.json", "json", 0, NULL, NULL, "agents: JSON output" },
    { "command.no_subtree", "no-subtree", 0, NULL, NULL,
      "query: only the org unit itself" },
    { "command.indicator", "indicator", 0, "DE", NULL,
      "query: indicator (repeatable)" },
    { "command.period", "period", 0, "PE", NULL, "query: one period" },
    { "command.from", "from", 0, "PE", NULL, "query: range start" },
    { "command.to", "to", 0, "PE", NULL, "query: range end" },
    { "command.format", "format", 0, "FMT", "table",
      "query: table|csv|json" },
    { "command.wide", "wide", 0, NULL, NULL,
      "query: org units x indicators for one period" },
};
#define N_OPTIONS (sizeof options / sizeof options[0])

typedef struct {
    cds_config_t *cfg;                 /* parsed options */
    char **args;                       /* operands after the command */
    int n_args;
    char identity[4096];               /* resolved identity path */
    char db_path[4096];                /* <state_dir>/aggregator.db */
} cli_t;

typedef int (command_fn)(cli_t *cli);

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [-c FILE] [options] COMMAND [args]\n"
            "commands:\n"
            "  keygen [--label TEXT]\n"
            "  enroll PUBID --org-unit OU [--org-unit OU ...] [--label TEXT]\n"
            "  revoke PUBID|FINGERPRINT\n"
            "  agents [--json]\n"
            "  run\n"
            "  query [--org-unit OU] [--no-subtree] [--indicator DE ...]\n"
            "        [--period PE | --from PE --to PE]\n"
            "        [--format table|csv|json] [--wide]\n"
            "options (config file [aggregator] keys, default "
            DEFAULT_CONFIG "):\n"
            "  -c, --config FILE\n");
}

static int
fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Exit code for a command's data/database result. */
static int
exit_for(int code)
{
    switch (code) {
    case CDS_OK:
        return 0;
    case CDS_EUSAGE:
        return EXIT_USAGE;
    case CDS_EPERM:
        return EXIT_CONFIG;
    case CDS_ERROR: case CDS_EIO: case CDS_ENOMEM: case CDS_EBUSY:
    case CDS_EFULL: case CDS_ECORRUPT: case CDS_EVERSION:
        return EXIT_RUNTIME;
    default:
        return EXIT_INPUT;
    }
}

static const char *
get(cli_t *cli, const char *key)
{
    return cds_config_get(cli->cfg, key);
}

static int
resolve_paths(cli_t *cli)
{
    const char *dir = get(cli, "aggregator.state_dir");
    const char *id = get(cli, "aggregator.identity");
    int a = id ? snprintf(cli->identity, sizeof cli->identity, "%s", id)
               : snprintf(cli->identity, sizeof cli->identity,
                          "%s/aggregator.key", dir);
    int b = snprintf(cli->db_path, sizeof cli->db_path, "%s/aggregator.db",
                     dir);
    if (a < 0 || (size_t) a >= sizeof cli->identity || b < 0
        || (size_t) b >= sizeof cli->db_path)
        return fail(EXIT_CONFIG, "state_dir: path too long");
    return 0;
}

/* Open the database and refresh the orgunit table from the CSV. */
static int
open_store(cli_t *cli, store_t **store)
{
    char err[512];
    cds_orgunits_t *ous = cds_orgunits_load(get(cli, "aggregator.orgunits"),
                                            err, sizeof err);
    if (!ous)
        return fail(EXIT_CONFIG, "%s", err);
    if (cds_mkdir_p(get(cli, "aggregator.state_dir"), 0700) != 0) {
        cds_orgunits_destroy(&ous);
        return fail(EXIT_RUNTIME, "%s: %s", get(cli, "aggregator.state_dir"),
                    strerror(errno));
    }
    int code = CDS_OK;
    *store = store_open(cli->db_path, 0, &code);
    if (*store)
        code = store_orgunits_load(*store, ous);
    cds_orgunits_destroy(&ous);
    if (code != CDS_OK) {
        store_destroy(store);
        return fail(EXIT_RUNTIME, "%s: cannot open database (%s)%s",
                    cli->db_path, cds_strerror(code),
                    code == CDS_ECORRUPT ? "; refusing to run on a corrupt "
                    "database: restore it from a backup" : "");
    }
    return 0;
}

static int
cmd_keygen(cli_t *cli)
{
    if (cds_mkdir_p(get(cli, "aggregator.state_dir"), 0700) != 0)
        return fail(EXIT_CONFIG, "%s: %s", get(cli, "aggregator.state_dir"),
                    strerror(errno));
    const char *label = get(cli, "command.label");
    if (cds_identity_generate(cli->identity, label ? label : "aggregator")
        != CDS_OK)
        return fail(EXIT_CONFIG, "%s: cannot create identity (exists "
                    "already? it is never overwritten)", cli->identity);
    int code = CDS_OK;
    char msg[512] = "", pub[CDS_PUBID_LEN];
    cds_identity_t *id = cds_identity_load(cli->identity, &code, msg,
                                           sizeof msg);
    if (!id)
        return fail(EXIT_CONFIG, "%s", msg);
    cds_identity_public(id, pub, sizeof pub);
    printf("%s\n", pub);
    cds_identity_destroy(&id);
    return 0;
}

static int
cmd_enroll(cli_t *cli)
{
    if (cli->n_args != 1)
        return fail(EXIT_USAGE, "enroll: exactly one PUBID expected");
    const char **units = NULL;
    size_t n = cds_config_get_all(cli->cfg, "command.org_unit", &units);
    store_t *store = NULL;
    int rc = open_store(cli, &store);
    if (rc)
        return rc;
    char err[512] = "";
    int code = enroll_add(store, cli->args[0], units, n,
                          get(cli, "command.label"), cds_now_ms(), stdout,
                          err, sizeof err);
    store_destroy(&store);
    if (code != CDS_OK)
        return fail(exit_for(code), "enroll: %s", err[0] ? err
                                                      : cds_strerror(code));
    return 0;
}

static int
cmd_revoke(cli_t *cli)
{
    if (cli->n_args != 1)
        return fail(EXIT_USAGE, "revoke: exactly one PUBID or FINGERPRINT");
    store_t *store = NULL;
    int rc = open_store(cli, &store);
    if (rc)
        return rc;
    char err[512] = "";
    int code = enroll_revoke(store, cli->args[0], cds_now_ms(), stdout, err,
                             sizeof err);
    store_destroy(&store);
    if (code != CDS_OK)
        return fail(exit_for(code), "revoke: %s", err[0] ? err
                                                      : cds_strerror(code));
    return 0;
}

static int
cmd_agents(cli_t *cli)
{
    if (cli->n_args != 0)
        return fail(EXIT_USAGE, "agents: no arguments expected");
    store_t *store = NULL;
    int rc = open_store(cli, &store);
    if (rc)
        return rc;
    int code = enroll_list(store, cds_config_get_bool(cli->cfg,
                                                      "command.json"),
                           cds_now_ms(), stdout);
    store_destroy(&store);
    return code == CDS_OK ? 0 : fail(exit_for(code), "agents: %s",
                                     cds_strerror(code));
}

static int
cmd_query(cli_t *cli)
{
    if (cli->n_args != 0)
        return fail(EXIT_USAGE, "query: no arguments expected");
    query_opts_t q = { .subtree = !cds_config_get_bool(cli->cfg,
                                                       "command.no_subtree") };
    const char **ous = NULL, **inds = NULL;
    size_t n_ous = cds_config_get_all(cli->cfg, "command.org_unit", &ous);
    if (n_ous > 1)
        return fail(EXIT_USAGE, "query: at most one --org-unit");
    q.org_unit = n_ous ? ous[0] : NULL;
    q.n_indicators = cds_config_get_all(cli->cfg, "command.indicator", &inds);
    q.indicators = inds;
    q.period = get(cli, "command.period");
    q.from = get(cli, "command.from");
    q.to = get(cli, "command.to");
    q.wide = cds_config_get_bool(cli->cfg, "command.wide");
    if (query_format_parse(get(cli, "command.format"), &q.format) != CDS_OK)
        return fail(EXIT_USAGE, "format: \"%s\": expected table, csv or json",
                    get(cli, "command.format"));
    char err[512] = "";
    cds_catalog_t *cat = q.wide ? cds_catalog_load(get(cli,
                                                       "aggregator.catalog"),
                                                   err, sizeof err)
                                : NULL;
    if (q.wide && !cat)
        return fail(EXIT_CONFIG, "%s", err);
    q.catalog = cat;
    store_t *store = NULL;
    int rc = open_store(cli, &store);
    int code = CDS_OK;
    if (!rc)
        code = query_run(store, &q, stdout, err, sizeof err);
    store_destroy(&store);
    cds_catalog_destroy(&cat);
    if (rc)
        return rc;
    return code == CDS_OK ? 0 : fail(exit_for(code), "query: %s",
                                     err[0] ? err : cds_strerror(code));
}

/* Identity, catalog, database (with integrity check), then serve. */
static int
run_server(cli_t *cli, const cds_identity_t *id, const cds_catalog_t *cat,
           store_t *store, long group_max)
{
    if (cds_db_quick_check(store_db(store)) != CDS_OK)
        return fail(EXIT_RUNTIME, "%s: the database failed its integrity "
                    "check; refusing to run (restore it from a backup)",
                    cli->db_path);
    ingest_t *ingest = ingest_new(store, id, cat);
    server_t *server = ingest ? server_new(store, ingest,
                                           get(cli, "aggregator.listen"),
                                           (int) group_max)
                              : NULL;
    int code = CDS_ERROR;
    if (server) {
        cds_signal_install();
        char pub[CDS_PUBID_LEN];
        cds_identity_public(id, pub, sizeof pub);
        cds_log(CDS_LOG_INFO, "started", "identity=%s catalog=%s version=%s",
                pub, cds_catalog_version(cat), PROG_VERSION);
        code = server_run(server);
    }
    server_destroy(&server);
    ingest_destroy(&ingest);
    if (code != CDS_OK)
        return fail(EXIT_RUNTIME, "run: %s (listen=%s)", cds_strerror(code),
                    get(cli, "aggregator.listen"));
    return 0;
}

static int
cmd_run(cli_t *cli)
{
    if (cli->n_args != 0)
        return fail(EXIT_USAGE, "run: no arguments expected");
    char err[512] = "";
    long group_max = 0;
    if (cds_config_get_long(cli->cfg, "aggregator.group_max", &group_max, err,
                            sizeof err) != CDS_OK
        || group_max < 1 || group_max > SERVER_GROUP_MAX_LIMIT)
        return fail(EXIT_CONFIG, "group_max: \"%s\": expected 1..%d",
                    get(cli, "aggregator.group_max"), SERVER_GROUP_MAX_LIMIT);
    int code = CDS_OK;
    cds_identity_t *id = cds_identity_load(cli->identity, &code, err,
                                           sizeof err);
    if (!id)
        return fail(EXIT_CONFIG, "%s", err[0] ? err : cli->identity);
    cds_catalog_t *cat = cds_catalog_load(get(cli, "aggregator.catalog"), err,
                                          sizeof err);
    store_t *store = NULL;
    int rc = cat ? open_store(cli, &store) : fail(EXIT_CONFIG, "%s", err);
    if (!rc)
        rc = run_server(cli, id, cat, store, group_max);
    store_destroy(&store);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&id);
    return rc;
}

static const struct {
    const char *name;
    command_fn *fn;
    const char *synopsis;
} commands[] = {
    { "keygen", cmd_keygen, "keygen [--label TEXT]" },
    { "enroll", cmd_enroll,
      "enroll PUBID --org-unit OU [--org-unit OU ...] [--label TEXT]" },
    { "revoke", cmd_revoke, "revoke PUBID|FINGERPRINT" },
    { "agents", cmd_agents, "agents [--json]" },
    { "run", cmd_run, "run" },
    { "query", cmd_query,
      "query [--org-unit OU] [--no-subtree] [--indicator DE ...] "
      "[--period PE | --from PE --to PE] [--format table|csv|json] "
      "[--wide]" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int
find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return (int) i;
    return -1;
}

static int
print_help(cli_t *cli, int cmd)
{
    if (cmd >= 0)
        printf("usage: " PROG " [-c FILE] [options] %s\n",
               commands[cmd].synopsis);
    else
        usage(stdout);
    cds_config_print_help(cli->cfg, stdout);
    return 0;
}

/* Parse, then dispatch. */
static int
dispatch(cli_t *cli, int argc, char **argv)
{
    bool help = false;
    char err[512] = "", **rest = NULL;
    int n_rest = 0;
    int code = cds_config_parse(cli->cfg, argc, argv, 1, DEFAULT_CONFIG,
                                &help, &rest, &n_rest, err, sizeof err);
    if (code == CDS_EUSAGE) {
        fail(EXIT_USAGE, "%s", err);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (code != CDS_OK)
        return fail(EXIT_CONFIG, "%s", err);
    cds_log_level_t level;
    if (cds_log_level_parse(get(cli, "aggregator.log_level"), &level) != 0)
        return fail(EXIT_CONFIG, "log_level: \"%s\": expected debug, info, "
                    "warn or error", get(cli, "aggregator.log_level"));
    cds_log_init(PROG, level);
    int cmd = n_rest > 0 ? find_command(rest[0]) : -1;
    if (help)
        return print_help(cli, cmd);
    if (n_rest == 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cmd < 0)
        return fail(EXIT_USAGE, "unknown command \"%s\" (see --help)",
                    rest[0]);
    cli->args = rest + 1;
    cli->n_args = n_rest - 1;
    int rc = resolve_paths(cli);
    return rc ? rc : commands[cmd].fn(cli);
}

int
main(int argc, char **argv)
{
    cds_log_init(PROG, CDS_LOG_INFO);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            printf(PROG " " PROG_VERSION "\n");
            return 0;
        }
    cli_t cli = { .cfg = cds_config_new(options, N_OPTIONS) };
    if (!cli.cfg)
        return fail(EXIT_RUNTIME, "out of memory");
    int rc = dispatch(&cli, argc, argv);
    cds_config_destroy(&cli.cfg);
    return rc;
}
