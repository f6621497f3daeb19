/*  cds_cli_test: the shared dispatcher on a small program of its own:
 *  unknown and missing commands are usage (2) with the command list,
 *  CDS_CLI_NO_ARGS refuses operands before the handler, the program's
 *  acquire/release hooks run around the commands that ask for them (and
 *  only those), --help lists the table, --check-config goes to its hook,
 *  an early usage error goes through early_exit, cds_cli_fail prints
 *  "PROG: message" and returns its code, and cds_cli_get_u64 tells a bad
 *  configuration value (3) from a bad operand (2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_cli.h"
#include "cds_err.h"

static const cds_option_t options[] = {
    {"demo.state_dir", "state-dir", 0, "DIR", "/nonexistent/demo", "state"},
    {"demo.identity", "identity", 0, "FILE", NULL, "identity"},
    {"demo.log_level", "log-level", 0, "LEVEL", "info", "log level"},
    {"command.check_config", "check-config", 0, NULL, NULL, "check"},
    {"command.nagios", "nagios", 0, NULL, NULL, "plugin output"},
};

/* What the hooks and handlers saw. */
static int calls, acquired, released, checked, early_code;
static int last_n_args;
static char last_identity[4096];

static int
cmd_plain(cds_cli_t *cli)
{
    calls++;
    last_n_args = cli->n_args;
    snprintf(last_identity, sizeof last_identity, "%s", cli->identity);
    return 0;
}

static int
cmd_db(cds_cli_t *cli)
{
    calls++;
    assert_int_equal(acquired, 1);     /* opened before the handler */
    assert_int_equal(released, 0);
    return 7;
}

static int
acquire(cds_cli_t *cli)
{
    acquired++;
    return getenv("CDS_CLI_TEST_ACQUIRE_FAILS") ? CDS_EXIT_RUNTIME : 0;
}

static void
release(cds_cli_t *cli)
{
    released++;
}

static int
check_config(cds_cli_t *cli)
{
    checked++;
    return cds_cli_check_verdict(cli, 2);
}

static int
early_exit(int argc, char **argv, int code)
{
    early_code = code;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--nagios") == 0)
            return 3;                  /* like health --nagios */
    return code;
}

static const cds_cli_command_t commands[] = {
    {"plain", "plain [ARG ...]", cmd_plain, 0},
    {"none", "none  (no operands)", cmd_plain, CDS_CLI_NO_ARGS},
    {"db", "db", cmd_db, CDS_CLI_DB},
};

static const cds_cli_program_t demo = {
    .name = "cds-demo",
    .section = "demo",
    .default_config = NULL,
    .usage_head = "usage: cds-demo COMMAND\n",
    .options_head = "options:",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .commands = commands,
    .n_commands = sizeof commands / sizeof commands[0],
    .identity_file = "demo.key",
    .db_file = "demo.db",
    .check_config = check_config,
    .acquire = acquire,
    .release = release,
    .early_exit = early_exit,
};

static char out_path[] = "/tmp/cds_cli_test.out.XXXXXX";
static char err_path[] = "/tmp/cds_cli_test.err.XXXXXX";
static char out_text[8192], err_text[8192];

static void
slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Run cds_cli_main on the words given, stdout and stderr captured. */
static int
run(int argc, ...)
{
    char *argv[16] = {"cds-demo"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    calls = acquired = released = checked = last_n_args = 0;
    early_code = -1;
    fflush(stdout);
    fflush(stderr);
    int o = dup(1), e = dup(2);
    int fo = open(out_path, O_WRONLY | O_TRUNC), fe = open(err_path,
                                                           O_WRONLY | O_TRUNC);
    assert_true(o >= 0 && e >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    int code = cds_cli_main(&demo, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    close(fo);
    close(fe);
    slurp(out_path, out_text, sizeof out_text);
    slurp(err_path, err_text, sizeof err_text);
    return code;
}

static const char list[] = "commands:\n  plain [ARG ...]\n"
                           "  none  (no operands)\n  db\n";

static void
test_unknown_and_missing(void **state)
{
    assert_int_equal(run(2, "frob"), CDS_EXIT_USAGE);
    assert_int_equal(calls, 0);
    assert_non_null(strstr(err_text, "cds-demo: unknown command \"frob\" "
                                     "(see --help)\n"));
    assert_non_null(strstr(err_text, list));
    assert_int_equal(early_code, CDS_EXIT_USAGE);  /* the program's say */
    assert_int_equal(run(1), CDS_EXIT_USAGE);
    assert_non_null(strstr(err_text, list));
    assert_int_equal(run(3, "--state-dir", "/tmp"), CDS_EXIT_USAGE);
    assert_int_equal(calls, 0);
}

static void
test_no_args(void **state)
{
    assert_int_equal(run(3, "none", "extra"), CDS_EXIT_USAGE);
    assert_int_equal(calls, 0);
    assert_string_equal(err_text, "cds-demo: none: no arguments expected\n");
    assert_string_equal(cds_cli_last_failure(),
                        "none: no arguments expected");
    assert_int_equal(run(2, "none"), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(run(4, "plain", "a", "b"), 0);
    assert_int_equal(last_n_args, 2);
    /* paths resolved from state_dir before the handler */
    assert_string_equal(last_identity, "/nonexistent/demo/demo.key");
    assert_int_equal(run(4, "--identity", "/k", "plain"), 0);
    assert_string_equal(last_identity, "/k");
}

static void
test_acquire_release(void **state)
{
    assert_int_equal(run(2, "plain"), 0);
    assert_int_equal(acquired + released, 0);  /* not asked for */
    assert_int_equal(run(2, "db"), 7);
    assert_int_equal(acquired, 1);
    assert_int_equal(released, 1);
    setenv("CDS_CLI_TEST_ACQUIRE_FAILS", "1", 1);
    assert_int_equal(run(2, "db"), CDS_EXIT_RUNTIME);
    unsetenv("CDS_CLI_TEST_ACQUIRE_FAILS");
    assert_int_equal(calls, 0);                /* handler not run */
    assert_int_equal(released, 1);             /* partial state released */
}

static void
test_help_and_check(void **state)
{
    assert_int_equal(run(2, "--help"), 0);
    assert_non_null(strstr(out_text, "usage: cds-demo COMMAND\n\n"));
    assert_non_null(strstr(out_text, list));
    assert_non_null(strstr(out_text, "\noptions:\n"));
    assert_non_null(strstr(out_text, "--state-dir DIR"));
    assert_int_equal(run(3, "db", "--help"), 0);
    assert_int_equal(calls + acquired, 0);
    assert_non_null(strstr(out_text, "usage: cds-demo [-c FILE] db\n"));
    assert_int_equal(run(2, "--check-config"), CDS_EXIT_CONFIG);
    assert_int_equal(checked, 1);
    assert_string_equal(err_text, "cds-demo: configuration has 2 problems "
                                  "(built-in defaults)\n");
    assert_int_equal(run(2, "--version"), 0);
    assert_string_equal(out_text, "cds-demo " CDS_VERSION "\n");
}

static void
test_early_exit_and_log_level(void **state)
{
    assert_int_equal(run(3, "--nagios", "--bogus"), 3);
    assert_int_equal(early_code, CDS_EXIT_USAGE);
    assert_int_equal(run(3, "--nagios", "frob"), 3);
    assert_int_equal(run(2, "--bogus"), CDS_EXIT_USAGE);
    assert_non_null(strstr(err_text, "cds-demo: "));
    assert_int_equal(run(4, "--log-level", "loud", "plain"),
                     CDS_EXIT_CONFIG);
    assert_int_equal(calls, 0);
    assert_string_equal(err_text, "cds-demo: log_level: \"loud\": expected "
                                  "debug, info, warn or error\n");
}

/* Range-checked numbers: the program's own section is configuration (3),
 * a per-command operand usage (2), both with the key and the value. */
static void
test_get_u64(void **state)
{
    assert_int_equal(run(2, "none"), 0);      /* the program is known */
    cds_config_t *cfg = cds_config_new(options, sizeof options /
                                                    sizeof options[0]);
    uint64_t v = 0;
    assert_int_equal(cds_config_set(cfg, "demo.state_dir", "12"), CDS_OK);
    assert_int_equal(cds_cli_get_u64(cfg, "demo.state_dir", 0, 20, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(cds_cli_get_u64(cfg, "demo.state_dir", 0, 5, &v),
                     CDS_EXIT_CONFIG);
    assert_string_equal(cds_cli_last_failure(),
                        "demo.state_dir: \"12\": must be 0..5");
    assert_int_equal(cds_config_set(cfg, "demo.identity", "lots"), CDS_OK);
    assert_int_equal(cds_cli_get_u64(cfg, "demo.identity", 0, 5, &v),
                     CDS_EXIT_CONFIG);
    assert_int_equal(cds_config_set(cfg, "command.check_config", "9"),
                     CDS_OK);
    assert_int_equal(cds_cli_get_u64(cfg, "command.check_config", 0, 5, &v),
                     CDS_EXIT_USAGE);
    /* Past 2^31 (365 days in ms): long is 32 bits on Windows (LLP64);
     * the value and the bound must both survive there too. */
    assert_int_equal(cds_config_set(cfg, "demo.state_dir", "31536000000"),
                     CDS_OK);
    assert_int_equal(cds_cli_get_u64(cfg, "demo.state_dir", 0,
                                     86400000LL * 365, &v), 0);
    assert_true(v == 31536000000ULL);
    assert_int_equal(cds_cli_get_u64(cfg, "demo.state_dir", 0,
                                     86400000LL * 364, &v), CDS_EXIT_CONFIG);
    assert_string_equal(cds_cli_last_failure(), "demo.state_dir: "
                        "\"31536000000\": must be 0..31449600000");
    cds_config_destroy(&cfg);
}

static int
setup(void **state)
{
    int a = mkstemp(out_path), b = mkstemp(err_path);
    if (a < 0 || b < 0)
        return -1;
    close(a);
    close(b);
    return 0;
}

static int
teardown(void **state)
{
    unlink(out_path);
    unlink(err_path);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_and_missing),
        cmocka_unit_test(test_no_args),
        cmocka_unit_test(test_acquire_release),
        cmocka_unit_test(test_help_and_check),
        cmocka_unit_test(test_early_exit_and_log_level),
        cmocka_unit_test(test_get_u64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
