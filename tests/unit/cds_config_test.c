/*  cds_config_test: INI loading with file:line errors, flags from the
 *  table, precedence flag > file > default, repeated flags, --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_config.h"
#include "cds_err.h"
#include <ini.h> /* CDS_INI_WIN32: Windows' INI reader (no line numbers) */

/* "N: message" as the error's tail: with kernel32's reader the file's
 * name is followed by the message alone (common/win32/inih/ini.h). */
#ifdef CDS_INI_WIN32
#define AT(n) ""
#else
#define AT(n) n ":"
#endif

static const cds_option_t table[] = {
    {"agent.server", "server", 's', "URL", "tcp://127.0.0.1:5555",
     "aggregator endpoint"},
    {"agent.org_unit", "org-unit", 0, "CODE", NULL, "org unit to enroll"},
    {"agent.verbose", "verbose", 'v', NULL, NULL, "log debug lines"},
    {"agent.retries", "retries", 0, "N", "5", "send attempts"},
    {"agent.key_path", NULL, 0, "PATH", "/var/lib/cdsync/key", "file only"},
    {"db.path", "db", 'd', "PATH", NULL, "database file"},
};
#define N_TABLE (sizeof table / sizeof table[0])

static char dir[] = "/tmp/cds_config_test.XXXXXX";
static char ini[128];

static int
setup(void **state)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(ini, sizeof ini, "%s/agent.ini", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    char other[160]; /* the two files made here; no rm(1) on Windows */
    snprintf(other, sizeof other, "%s/other.ini", dir);
    unlink(ini);
    unlink(other);
    return rmdir(dir);
}

static void
write_ini(const char *text)
{
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static cds_config_t *
new_config(void)
{
    cds_config_t *c = cds_config_new(table, N_TABLE);
    assert_non_null(c);
    return c;
}

static void
test_defaults_and_getters(void **state)
{
    cds_config_t *c = new_config();
    char err[128] = "";
    long n = 0;
    assert_string_equal(cds_config_get(c, "agent.server"),
                        "tcp://127.0.0.1:5555");
    assert_null(cds_config_get(c, "db.path"));
    assert_int_equal(
        cds_config_get_long(c, "agent.retries", &n, err, sizeof err), CDS_OK);
    assert_int_equal(n, 5);
    assert_false(cds_config_get_bool(c, "agent.verbose"));

    assert_int_equal(cds_config_set(c, "agent.retries", "12x"), CDS_OK);
    assert_int_equal(
        cds_config_get_long(c, "agent.retries", &n, err, sizeof err),
        CDS_EUSAGE);
    assert_string_equal(err, "agent.retries: not a number: \"12x\"");
    assert_int_equal(n, 5);
    cds_config_set(c, "agent.retries", "99999999999999999999999");
    assert_int_equal(
        cds_config_get_long(c, "agent.retries", &n, err, sizeof err),
        CDS_EUSAGE);
    cds_config_set(c, "agent.retries", "");
    assert_int_equal(
        cds_config_get_long(c, "agent.retries", &n, err, sizeof err),
        CDS_EUSAGE);
    assert_non_null(strstr(err, "agent.retries: not a number"));
    cds_config_set(c, "agent.retries", "-3");
    assert_int_equal(
        cds_config_get_long(c, "agent.retries", &n, err, sizeof err), CDS_OK);
    assert_int_equal(n, -3);

    static const char *yes[] = {"true", "TRUE", "yes", "1", "on"};
    static const char *no[] = {"false", "no", "0", "off", "maybe"};
    for (size_t i = 0; i < 5; i++) {
        cds_config_set(c, "agent.verbose", yes[i]);
        assert_true(cds_config_get_bool(c, "agent.verbose"));
        cds_config_set(c, "agent.verbose", no[i]);
        assert_false(cds_config_get_bool(c, "agent.verbose"));
    }
    assert_int_equal(cds_config_set(c, "agent.nope", "x"), CDS_EUSAGE);
    cds_config_destroy(&c);
    assert_null(c);
    cds_config_destroy(&c);
}

static void
test_load_file(void **state)
{
    cds_config_t *c = new_config();
    char err[256] = "";
    write_ini(
        "; comment\n[agent]\nserver = tcp://10.0.0.1:7000\n"
        "org_unit=DH01 ; inline comment\nkey_path = /k\n\n[db]\npath=/x.db\n");
    assert_int_equal(cds_config_load_file(c, ini, err, sizeof err), CDS_OK);
    assert_string_equal(cds_config_get(c, "agent.server"),
                        "tcp://10.0.0.1:7000");
    assert_string_equal(cds_config_get(c, "agent.org_unit"), "DH01");
    assert_string_equal(cds_config_get(c, "agent.key_path"), "/k");
    assert_string_equal(cds_config_get(c, "db.path"), "/x.db");
    cds_config_destroy(&c);
}

/* Loads text into a fresh config; expects rc and err == "<ini>:<want>". */
static void
expect_load_error(const char *text, int rc, const char *want)
{
    cds_config_t *c = new_config();
    char err[512] = "", full[512];
    write_ini(text);
    assert_int_equal(cds_config_load_file(c, ini, err, sizeof err), rc);
    snprintf(full, sizeof full, "%s:%s", ini, want);
    assert_string_equal(err, full);
    cds_config_destroy(&c);
}

static void
test_load_errors(void **state)
{
    expect_load_error("[agent]\nserver = a\nsever = b\n", CDS_EMALFORMED,
                      AT("3") " unknown option \"agent.sever\"");
    expect_load_error("server = a\n", CDS_EMALFORMED,
                      AT("1") " unknown option \"server\"");
    expect_load_error("[agent]\nsever = b\nno equals\n", CDS_EMALFORMED,
                      AT("2") " unknown option \"agent.sever\"");
#ifdef CDS_INI_WIN32
    /* kernel32's reader: the bad entry is quoted instead of a line named;
     * an indented line is an option (there are no continuation lines);
     * lines have no length bound; a repeated section is refused, since
     * only its first place would be read. */
    expect_load_error(
        "[agent]\nthis line has no equals\nsever = b\n", CDS_EMALFORMED,
        " syntax error at \"[agent] this line has no equals\" (expected"
        " \"name = value\" or \"[section]\")");
    expect_load_error("[agent]\nserver = a\n[Agent]\nretries = 3\n",
                      CDS_EMALFORMED,
                      " syntax error at \"[Agent] (a section given twice)\""
                      " (expected \"name = value\" or \"[section]\")");
    cds_config_t *w = new_config();
    char werr[256] = "", text[600];
    snprintf(text, sizeof text,
             "\xef\xbb\xbf# BOM, then a comment\n[agent]\n  retries = 3\n"
             "server = %0500d\nretries = 4 ; the last one given wins\n", 7);
    write_ini(text);
    assert_int_equal(cds_config_load_file(w, ini, werr, sizeof werr), CDS_OK);
    assert_string_equal(cds_config_get(w, "agent.retries"), "4");
    assert_int_equal(strlen(cds_config_get(w, "agent.server")), 500);
    cds_config_destroy(&w);
#else
    expect_load_error(
        "[agent]\nthis line has no equals\nsever = b\n", CDS_EMALFORMED,
        "2: syntax error (expected \"name = value\" or \"[section]\")");
    expect_load_error(
        "[agent]\nserver = a\n  retries = 3\n", CDS_EMALFORMED,
        "3: indented line not allowed (start options at column 1)");
    char text[600];
    snprintf(text, sizeof text, "[agent]\n\nserver = %0500d\n", 7);
    expect_load_error(text, CDS_EMALFORMED, "3: line longer than 198 bytes");
#endif

    cds_config_t *c = new_config();
    char err[256], missing[160];
    snprintf(missing, sizeof missing, "%s/none.ini", dir);
    assert_int_equal(cds_config_load_file(c, missing, err, sizeof err),
                     CDS_EIO);
    assert_non_null(strstr(err, missing));
    cds_config_destroy(&c);
}

static int
parse(cds_config_t *c, char **argv, int argc, int first, const char *dflt,
      bool *help, char ***rest, int *n_rest, char *err)
{
    return cds_config_parse(c, argc, argv, first, dflt, help, rest, n_rest, err,
                            256);
}

static void
test_parse_flags(void **state)
{
    cds_config_t *c = new_config();
    char *argv[] = {"cdsync-agent", "enroll", "PUBID",
                    "--org-unit",   "A",      "-v",
                    "--org-unit=B", "-s",     "tcp://x:1",
                    "extra",        "--",     "--not-flag"};
    char **rest = NULL, err[256] = "";
    int n_rest = -1;
    bool help = true;
    const char **all = NULL;
    assert_int_equal(parse(c, argv, 12, 2, NULL, &help, &rest, &n_rest, err),
                     CDS_OK);
    assert_false(help);
    assert_int_equal(n_rest, 3);
    assert_string_equal(rest[0], "PUBID");
    assert_string_equal(rest[1], "extra");
    assert_string_equal(rest[2], "--not-flag");
    assert_string_equal(cds_config_get(c, "agent.org_unit"), "B");
    assert_int_equal(cds_config_get_all(c, "agent.org_unit", &all), 2);
    assert_string_equal(all[0], "A");
    assert_string_equal(all[1], "B");
    assert_true(cds_config_get_bool(c, "agent.verbose"));
    assert_string_equal(cds_config_get(c, "agent.server"), "tcp://x:1");
    assert_int_equal(cds_config_get_all(c, "agent.server", &all), 1);
    assert_string_equal(all[0], "tcp://x:1");
    assert_string_equal(argv[2], "PUBID"); /* caller's argv untouched */
    assert_string_equal(argv[3], "--org-unit");

    /* get_all without flags: set value, then default, then nothing */
    assert_int_equal(cds_config_set(c, "agent.org_unit", "C"), CDS_OK);
    assert_int_equal(cds_config_get_all(c, "agent.org_unit", &all), 1);
    assert_string_equal(all[0], "C");
    assert_int_equal(cds_config_get_all(c, "agent.key_path", &all), 1);
    assert_string_equal(all[0], "/var/lib/cdsync/key");
    assert_int_equal(cds_config_get_all(c, "db.path", &all), 0);
    assert_null(all);

    /* a second parse in the same process: getopt was reset */
    char *argv2[] = {"cdsync-agent", "run", "--retries", "9", "-d", "/d.db"};
    assert_int_equal(parse(c, argv2, 6, 2, NULL, &help, &rest, &n_rest, err),
                     CDS_OK);
    assert_int_equal(n_rest, 0);
    assert_string_equal(cds_config_get(c, "agent.retries"), "9");
    assert_string_equal(cds_config_get(c, "db.path"), "/d.db");
    cds_config_destroy(&c);
}

static void
test_precedence(void **state)
{
    char cfg[160], err[256] = "", **rest;
    int n_rest;
    bool help;
    snprintf(cfg, sizeof cfg, "%s/other.ini", dir);
    write_ini("[agent]\nserver = tcp://file:1\nretries = 7\n");

    cds_config_t *c = new_config(); /* default_path exists: loaded */
    char *a1[] = {"p", "run", "--server", "tcp://flag:1"};
    assert_int_equal(parse(c, a1, 4, 2, ini, &help, &rest, &n_rest, err),
                     CDS_OK);
    assert_string_equal(cds_config_get(c, "agent.server"), "tcp://flag:1");
    assert_string_equal(cds_config_get(c, "agent.retries"), "7");
    assert_string_equal(cds_config_get(c, "agent.key_path"),
                        "/var/lib/cdsync/key");
    cds_config_destroy(&c);

    FILE *f = fopen(cfg, "w"); /* --config wins over default_path */
    assert_non_null(f);
    fputs("[agent]\nretries = 3\n", f);
    fclose(f);
    c = new_config();
    char *a2[] = {"p", "run", "-c", cfg};
    assert_int_equal(parse(c, a2, 4, 2, ini, &help, &rest, &n_rest, err),
                     CDS_OK);
    assert_string_equal(cds_config_get(c, "agent.retries"), "3");
    assert_string_equal(cds_config_get(c, "agent.server"),
                        "tcp://127.0.0.1:5555");
    cds_config_destroy(&c);

    c = new_config(); /* absent default_path: fine */
    char *a3[] = {"p", "run"};
    assert_int_equal(parse(c, a3, 2, 2, cfg + 1, &help, &rest, &n_rest, err),
                     CDS_OK);
    assert_string_equal(cds_config_get(c, "agent.retries"), "5");
    char missing[200]; /* absent --config: error */
    snprintf(missing, sizeof missing, "%s/missing.ini", dir);
    char *a4[] = {"p", "run", "--config", missing};
    assert_int_equal(parse(c, a4, 4, 2, NULL, &help, &rest, &n_rest, err),
                     CDS_EIO);
    assert_non_null(strstr(err, missing));
    write_ini("[agent]\nbogus = 1\n"); /* bad file: its error comes back */
    char *a5[] = {"p", "run", "--config", ini};
    assert_int_equal(parse(c, a5, 4, 2, NULL, &help, &rest, &n_rest, err),
                     CDS_EMALFORMED);
    assert_non_null(strstr(err, ":" AT("2") " unknown option \"agent.bogus\""));
    cds_config_destroy(&c);
}

static void
expect_usage(char **argv, int argc, const char *want)
{
    cds_config_t *c = new_config();
    char err[256] = "", **rest;
    int n_rest;
    bool help;
    assert_int_equal(parse(c, argv, argc, 1, NULL, &help, &rest, &n_rest, err),
                     CDS_EUSAGE);
    assert_string_equal(err, want);
    cds_config_destroy(&c);
}

static void
test_usage_errors(void **state)
{
    char *a1[] = {"p", "--bogus"};
    expect_usage(a1, 2, "unknown option \"--bogus\"");
    char *a2[] = {"p", "-x"};
    expect_usage(a2, 2, "unknown option \"-x\"");
    char *a3[] = {"p", "--server"};
    expect_usage(a3, 2, "option \"--server\" requires an argument");
    char *a4[] = {"p", "-d"};
    expect_usage(a4, 2, "option \"-d\" requires an argument");
    char *a5[] = {"p", "--verbose=yes"};
    expect_usage(a5, 2, "option \"--verbose\" takes no argument");
    char *a6[] = {"p", "--config"};
    expect_usage(a6, 2, "option \"--config\" requires an argument");
    char *a7[] = {"p", "--key_path", "x"}; /* file-only: no flag */
    expect_usage(a7, 3, "unknown option \"--key_path\"");
}

static void
test_help(void **state)
{
    cds_config_t *c = new_config();
    char err[256] = "", **rest, missing[160];
    int n_rest;
    bool help = false;
    snprintf(missing, sizeof missing, "%s/missing.ini", dir);
    char *argv[] = {"p", "status", "--config", missing, "-h"};
    assert_int_equal(parse(c, argv, 5, 2, NULL, &help, &rest, &n_rest, err),
                     CDS_OK);
    assert_true(help);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cds_config_print_help(c, f);
    fclose(f);
    assert_string_equal(
        text, "  -s, --server URL      aggregator endpoint (default: "
              "tcp://127.0.0.1:5555)\n"
              "      --org-unit CODE   org unit to enroll\n"
              "  -v, --verbose         log debug lines\n"
              "      --retries N       send attempts (default: 5)\n"
              "  -d, --db PATH         database file\n"
              "  -c, --config FILE     read options from this INI file\n"
              "  -h, --help            print this help and exit\n");
    free(text);
    cds_config_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_getters),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_parse_flags),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
