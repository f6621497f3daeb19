/*  cds_cli: the command-line front both programs share, and where the
 *  contract of docs/cli.md is implemented: one command table type, one
 *  dispatcher, one way to fail.
 *
 *  A program describes itself once (cds_cli_program_t: its name, option
 *  table, default config file, commands and hooks) and its main() is
 *  `return cds_cli_main(&program, argc, argv);`. The dispatcher parses
 *  the options (cds_config.h), answers --version, --help-man, --help and
 *  --check-config, refuses an unknown or missing command with the list of
 *  commands (exit 2), checks the log level, resolves the identity and
 *  database paths, and calls the command's handler. Exit codes: 0 ok,
 *  1 input, 2 usage, 3 configuration, 4 runtime (cds_err.h CDS_EXIT_*,
 *  cds_exit_code()); the monitoring commands exit with Nagios codes.
 *
 *  Invariant: every message a command fails with is one line
 *  "PROG: message" on stderr (cds_cli_fail), and --help lists exactly the
 *  commands of the table, one "  USAGE" line each, under "commands:"
 *  (tests/integration/cli_contract.sh reads that block). */
#ifndef CDS_CLI_H
#define CDS_CLI_H

#include "cds_config.h"
#include "cds_version.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Command flags: what the dispatcher does before the handler. */
enum {
    CDS_CLI_NO_ARGS = 1,       /* operands refused: "NAME: no arguments
                                * expected", exit 2 */
    CDS_CLI_LOCK = 2,          /* program's daemon lock held (not beside a
                                * running daemon) */
    CDS_CLI_DB = 4,            /* database opened read-write in cli->db */
    CDS_CLI_DB_RO = 8          /* database opened read-only in cli->db:
                                * the command never writes */
};

typedef struct cds_cli cds_cli_t;
typedef struct cds_cli_program cds_cli_program_t;

/* A command's handler: the exit code (message already printed). */
typedef int (cds_cli_fn)(cds_cli_t *cli);

typedef struct {
    const char *name;          /* the subcommand */
    const char *usage;         /* its synopsis, one line of --help */
    cds_cli_fn *fn;
    unsigned flags;            /* CDS_CLI_* */
} cds_cli_command_t;

/* What a handler gets. Paths are resolved before the handler runs. */
struct cds_cli {
    const cds_cli_program_t *prog;
    const cds_cli_command_t *cmd;      /* NULL for --check-config */
    cds_config_t *cfg;                 /* parsed options */
    char **args;                       /* operands after the command */
    int n_args;
    char identity[4096];               /* <identity key> or
                                        * <state_dir>/<identity_file> */
    char db_path[4096];                /* <state_dir>/<db_file> */
    char store[4096];                  /* where the database is: the
                                        * section's "store" option (a
                                        * PostgreSQL URL, password and all:
                                        * never print it, cds_pg_redact),
                                        * else db_path */
    void *db;                          /* CDS_CLI_DB/_RO: the program's open
                                        * database (the aggregator's store) */
    int lock_fd;                       /* CDS_CLI_LOCK: held, else -1 */
};

struct cds_cli_program {
    const char *name;                  /* "cdsync-agent": message prefix */
    const char *section;               /* "agent": its INI section */
    const char *default_config;        /* the config file read by default */
    const char *usage_head;            /* --help's lines before "commands:" */
    const char *options_head;          /* --help's line before the options */
    const cds_option_t *options;
    size_t n_options;
    const cds_cli_command_t *commands;
    size_t n_commands;
    const char *identity_file;         /* in state_dir when no identity key */
    const char *db_file;               /* in state_dir */
    /* --check-config: exit 0 or 3 (cds_cli_check_config prints the last
     * line). */
    int (*check_config)(cds_cli_t *cli);
    /* Open what CDS_CLI_LOCK/DB/DB_RO ask for (0 or an exit code, message
     * printed), and release it after the handler. NULL: no such flags. */
    int (*acquire)(cds_cli_t *cli);
    void (*release)(cds_cli_t *cli);
    /* A usage or configuration error before any command ran: the exit
     * code to use for code (the aggregator's `health --nagios` exits 3
     * with a plugin line). NULL: code. */
    int (*early_exit)(int argc, char **argv, int code);
};

/* Parse, then dispatch (see the header comment). The exit code. */
int cds_cli_main(const cds_cli_program_t *prog, int argc, char **argv);

/* Print "PROG: message" on stderr; returns code (the exit code). */
int cds_cli_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The last message of cds_cli_fail(), without the prefix. Borrowed. */
const char *cds_cli_last_failure(void);

/* Integer option key in lo..hi into *out: 0, or the exit code with the
 * message printed ("KEY: \"V\": must be LO..HI"): 3 for a key of the
 * program's own section (file or flag), 2 for a per-command operand. */
int cds_cli_get_u64(const cds_config_t *cfg, const char *key, long long lo,
                    long long hi, uint64_t *out);

/* True when flag ("--version") is among argv[1..] before any "--": for
 * what must be known before the command line is parsed. */
bool cds_cli_asked(int argc, char **argv, const char *flag);

/* The --check-config verdict for n problems (file named): "configuration
 * OK (FILE)" on stdout, exit 0, or the count on stderr, exit 3. */
int cds_cli_check_verdict(const cds_cli_t *cli, size_t n);

/* The `pubid` command of both programs: print the public identity of
 * cli->identity again (what keygen printed). 0, or exit 3 when there is
 * no identity (named, with the hint to run keygen). Read-only. */
int cds_cli_pubid(cds_cli_t *cli);

#endif
