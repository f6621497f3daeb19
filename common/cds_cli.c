/*  cds_cli: the shared command-line front (see cds_cli.h, docs/cli.md).
 *  Hand-written: getopt_long and libinih (cds_config.c) parse; what is
 *  left is the contract itself, which no library knows. */
#include "cds_cli.h"

#include "cds_err.h"
#include "cds_harden.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_service.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The prefix of cds_cli_fail and the program's own section: set once by
 * cds_cli_main. */
static const char *prog_name = "cdsync";
static const char *prog_section = "";
/* The last message of cds_cli_fail: what `health --nagios` shows. */
static char last_failure[512];

int
cds_cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_failure, sizeof last_failure, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", prog_name, last_failure);
    return code;
}

const char *
cds_cli_last_failure(void)
{
    return last_failure;
}

/* A bad value of the program's own section is configuration (exit 3),
 * whether the file or its flag gave it; a bad per-command operand
 * (verify.seq) is usage (docs/cli.md). */
int
cds_cli_get_u64(const cds_config_t *cfg, const char *key, long long lo,
                long long hi, uint64_t *out)
{
    char err[200];
    long long v;
    size_t n = strlen(prog_section);
    int bad = strncmp(key, prog_section, n) == 0 && key[n] == '.'
                  ? CDS_EXIT_CONFIG
                  : CDS_EXIT_USAGE;
    if (cds_config_get_llong(cfg, key, &v, err, sizeof err) != CDS_OK)
        return cds_cli_fail(bad, "%s", err);
    if (v < lo || v > hi)
        return cds_cli_fail(bad, "%s: \"%s\": must be %lld..%lld", key,
                            cds_config_get(cfg, key), lo, hi);
    *out = (uint64_t)v;
    return 0;
}

int
cds_cli_check_verdict(const cds_cli_t *cli, size_t n)
{
    const char *file = cds_config_path(cli->cfg);
    if (!file)
        file = "built-in defaults";
    if (n)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "configuration has %zu "
                            "problem%s (%s)",
                            n, n == 1 ? "" : "s", file);
    printf("configuration OK (%s)\n", file);
    return 0;
}

/* The usage lines and the command list; with the options for --help. */
static void
print_usage(FILE *f, const cds_cli_t *cli, bool options)
{
    const cds_cli_program_t *p = cli->prog;
    fprintf(f, "%s\ncommands:\n", p->usage_head);
    for (size_t i = 0; i < p->n_commands; i++)
        fprintf(f, "  %s\n", p->commands[i].usage);
    if (!options)
        return;
    fprintf(f, "\n%s\n", p->options_head);
    cds_config_print_help(cli->cfg, f);
}

/* --help, or COMMAND --help: on stdout, exit 0. */
static int
print_help(const cds_cli_t *cli, const cds_cli_command_t *cmd)
{
    if (!cmd) {
        print_usage(stdout, cli, true);
        return 0;
    }
    printf("usage: %s [-c FILE] %s\n\noptions:\n", cli->prog->name, cmd->usage);
    cds_config_print_help(cli->cfg, stdout);
    return 0;
}

/* --help-man: the option table as the man page's OPTIONS body
 * (tests/tools/gen_man.sh writes it into docs/man/PROG.1). */
static int
print_man(const cds_cli_program_t *p)
{
    cds_config_t *cfg = cds_config_new(p->options, p->n_options);
    if (!cfg)
        return CDS_EXIT_RUNTIME;
    cds_config_print_man(cfg, stdout);
    cds_config_destroy(&cfg);
    return 0;
}

/* "<section>.<name>" of the program's own section. */
static const char *
own(const cds_cli_t *cli, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", cli->prog->section, name);
    const char *v = cds_config_get(cli->cfg, key);
    return v && *v ? v : NULL;
}

/* Does the program have option "<section>.<name>"? */
static bool
has_option(const cds_cli_t *cli, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", cli->prog->section, name);
    for (size_t i = 0; i < cli->prog->n_options; i++)
        if (strcmp(cli->prog->options[i].key, key) == 0)
            return true;
    return false;
}

/* identity (the configured one, else <state_dir>/identity_file),
 * <state_dir>/db_file, and the store (the "store" option, else that
 * file). 0 or exit 3. */
static int
resolve_paths(cds_cli_t *cli)
{
    const char *dir = own(cli, "state_dir"), *id = own(cli, "identity");
    if (!dir)
        dir = "";
    int a = id ? snprintf(cli->identity, sizeof cli->identity, "%s", id)
               : snprintf(cli->identity, sizeof cli->identity, "%s/%s", dir,
                          cli->prog->identity_file);
    int b = snprintf(cli->db_path, sizeof cli->db_path, "%s/%s", dir,
                     cli->prog->db_file);
    if (a < 0 || (size_t)a >= sizeof cli->identity || b < 0 ||
        (size_t)b >= sizeof cli->db_path)
        return cds_cli_fail(CDS_EXIT_CONFIG, "state_dir: path too long");
    const char *store = has_option(cli, "store") ? own(cli, "store") : NULL;
    int c = snprintf(cli->store, sizeof cli->store, "%s",
                     store ? store : cli->db_path);
    if (c < 0 || (size_t)c >= sizeof cli->store)
        return cds_cli_fail(CDS_EXIT_CONFIG, "store: too long");
    return 0;
}

static const cds_cli_command_t *
find_command(const cds_cli_program_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_commands; i++)
        if (strcmp(p->commands[i].name, name) == 0)
            return &p->commands[i];
    return NULL;
}

/* A usage or configuration error before any command: the program may
 * turn code into its own (health --nagios: 3). */
static int
early(const cds_cli_t *cli, int argc, char **argv, int code)
{
    return cli->prog->early_exit ? cli->prog->early_exit(argc, argv, code)
                                 : code;
}

/* The command with its flags: operands, lock and database first. */
static int
run_command(cds_cli_t *cli)
{
    const cds_cli_command_t *cmd = cli->cmd;
    if ((cmd->flags & CDS_CLI_NO_ARGS) && cli->n_args != 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "%s: no arguments expected",
                            cmd->name);
    unsigned held = cmd->flags & (CDS_CLI_LOCK | CDS_CLI_DB | CDS_CLI_DB_RO);
    int code = held && cli->prog->acquire ? cli->prog->acquire(cli) : 0;
    if (code == 0)
        code = cmd->fn(cli);
    if (held && cli->prog->release)
        cli->prog->release(cli);
    return code;
}

/* The log level of the program's section; 0 or exit 3. */
static int
init_log(const cds_cli_t *cli)
{
    char key[128];
    cds_log_level_t level = CDS_LOG_INFO;
    snprintf(key, sizeof key, "%s.log_level", cli->prog->section);
    const char *v = cds_config_get(cli->cfg, key);
    if (cds_log_level_parse(v, &level) != 0)
        return cds_cli_fail(CDS_EXIT_CONFIG,
                            "log_level: \"%s\": expected "
                            "debug, info, warn or error",
                            v ? v : "");
    cds_log_init(cli->prog->name, level);
    return 0;
}

/* Parse, then dispatch: help, check-config, the command. */
static int
dispatch(cds_cli_t *cli, int argc, char **argv)
{
    bool help = false;
    char err[600] = "", **rest = NULL;
    int n_rest = 0;
    if (argc < 2) {
        print_usage(stderr, cli, false);
        return CDS_EXIT_USAGE;
    }
    int rc =
        cds_config_parse(cli->cfg, argc, argv, 1, cli->prog->default_config,
                         &help, &rest, &n_rest, err, sizeof err);
    if (rc == CDS_EUSAGE) {
        cds_cli_fail(CDS_EXIT_USAGE, "%s", err);
        print_usage(stderr, cli, false);
        return early(cli, argc, argv, CDS_EXIT_USAGE);
    }
    if (rc != CDS_OK)
        return early(cli, argc, argv, cds_cli_fail(CDS_EXIT_CONFIG, "%s", err));
    cli->cmd = n_rest > 0 ? find_command(cli->prog, rest[0]) : NULL;
    if (help)
        return print_help(cli, cli->cmd);
    if (resolve_paths(cli))
        return CDS_EXIT_CONFIG;
    if (cds_config_get_bool(cli->cfg, "command.check_config")) {
        cli->cmd = NULL;
        return cli->prog->check_config(cli);
    }
    if (!cli->cmd) {
        if (n_rest == 0) {
            print_usage(stderr, cli, false);
            return CDS_EXIT_USAGE;
        }
        cds_cli_fail(CDS_EXIT_USAGE, "unknown command \"%s\" (see --help)",
                     rest[0]);
        print_usage(stderr, cli, false);
        return early(cli, argc, argv, CDS_EXIT_USAGE);
    }
    if ((rc = init_log(cli)) != 0)
        return rc;
    cli->args = rest + 1;
    cli->n_args = n_rest - 1;
    return run_command(cli);
}

bool
cds_cli_asked(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

int
cds_cli_main(const cds_cli_program_t *prog, int argc, char **argv)
{
    static char level_key[128];
    prog_name = prog->name;
    prog_section = prog->section;
    if (cds_cli_asked(argc, argv, "--version")) { /* anywhere */
        printf("%s %s\n", prog->name, CDS_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help-man") == 0)
        return print_man(prog);
    if (sodium_init() < 0)
        return cds_cli_fail(CDS_EXIT_RUNTIME, "libsodium init failed");
    cds_log_init(prog->name, CDS_LOG_INFO);
    /* No core dump, no ptrace: the identity's secrets (cds_harden.h). */
    cds_harden_process();
    cds_cli_t *cli = calloc(1, sizeof *cli);
    if (cli)
        cli->cfg = cds_config_new(prog->options, prog->n_options);
    if (!cli || !cli->cfg) {
        free(cli);
        return cds_cli_fail(CDS_EXIT_RUNTIME, "out of memory");
    }
    cli->prog = prog;
    cli->lock_fd = -1;
    snprintf(level_key, sizeof level_key, "%s.log_level", prog->section);
    /* SIGHUP in `run` parses the same command line again (cds_service.h). */
    cds_service_set_reload(prog->options, prog->n_options, argc, argv,
                           prog->default_config, level_key);
    int code = dispatch(cli, argc, argv);
    cds_config_destroy(&cli->cfg);
    free(cli);
    return code;
}

int
cds_cli_pubid(cds_cli_t *cli)
{
    int code = CDS_OK;
    char msg[600] = "", pub[CDS_PUBID_LEN];
    cds_identity_t *id = cds_identity_load(cli->identity, &code, msg,
                                           sizeof msg);
    if (!id)
        return cds_cli_fail(CDS_EXIT_CONFIG, "%s (make one with `keygen`)",
                            msg);
    cds_identity_public(id, pub, sizeof pub);
    printf("%s\n", pub);
    cds_identity_destroy(&id);
    return 0;
}
