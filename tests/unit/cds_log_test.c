/*  cds_log_test: line format, level filter, quoting, truncation. stderr is
 *  redirected to a file in a mkdtemp dir for each capture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"

static char dir[] = "/tmp/cds_log_test.XXXXXX";
static char capture_path[64];
static int saved_fd = -1;

static void
capture_start(void)
{
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    saved_fd = dup(STDERR_FILENO);
    assert_true(saved_fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

/* Returns the captured text (caller frees). */
static char *
capture_end(void)
{
    char *data = NULL;
    assert_int_equal(dup2(saved_fd, STDERR_FILENO), STDERR_FILENO);
    close(saved_fd);
    assert_int_equal(cds_read_file(capture_path, 1 << 20, &data, NULL), CDS_OK);
    return data;
}

static int
setup(void **state)
{
    assert_non_null(mkdtemp(dir));
    snprintf(capture_path, sizeof capture_path, "%s/stderr", dir);
    return 0;
}

static int
teardown(void **state)
{
    unlink(capture_path);
    rmdir(dir);
    return 0;
}

static void
test_line_format(void **state)
{
    cds_log_init("cdsync-test", CDS_LOG_INFO);
    capture_start();
    cds_log(CDS_LOG_INFO, "batch_sent", "seq=%d peer=%s", 42, cds_logq("a b"));
    char *out = capture_end();
    /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
    assert_int_equal(strncmp(out, "ts=", 3), 0);
    const char *ts = out + 3;
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; i < strlen(shape); i++) {
        if (shape[i] == 'd')
            assert_true(isdigit((unsigned char)ts[i]));
        else
            assert_int_equal(ts[i], shape[i]);
    }
    assert_string_equal(ts + strlen(shape),
                        "level=info prog=cdsync-test event=batch_sent "
                        "seq=42 peer=\"a b\"\n");
    free(out);

    capture_start();
    cds_log(CDS_LOG_ERROR, "no_pairs", "%s", "");
    out = capture_end();
    assert_non_null(
        strstr(out, " level=error prog=cdsync-test event=no_pairs\n"));
    free(out);
}

static void
test_level_filter(void **state)
{
    cds_log_init("cdsync-test", CDS_LOG_WARN);
    capture_start();
    cds_log(CDS_LOG_DEBUG, "dropped_debug", "x=1");
    cds_log(CDS_LOG_INFO, "dropped_info", "x=1");
    cds_log(CDS_LOG_WARN, "kept_warn", "x=1");
    cds_log(CDS_LOG_ERROR, "kept_error", "x=1");
    char *out = capture_end();
    assert_null(strstr(out, "dropped"));
    assert_non_null(
        strstr(out, "level=warn prog=cdsync-test event=kept_warn x=1\n"));
    assert_non_null(
        strstr(out, "level=error prog=cdsync-test event=kept_error x=1\n"));
    free(out);
    cds_log_init("cdsync-test", CDS_LOG_INFO);
}

static void
test_level_parse(void **state)
{
    cds_log_level_t l = CDS_LOG_ERROR;
    assert_int_equal(cds_log_level_parse("debug", &l), 0);
    assert_int_equal(l, CDS_LOG_DEBUG);
    assert_int_equal(cds_log_level_parse("info", &l), 0);
    assert_int_equal(l, CDS_LOG_INFO);
    assert_int_equal(cds_log_level_parse("warn", &l), 0);
    assert_int_equal(l, CDS_LOG_WARN);
    assert_int_equal(cds_log_level_parse("error", &l), 0);
    assert_int_equal(l, CDS_LOG_ERROR);
    assert_int_equal(cds_log_level_parse("verbose", &l), -1);
    assert_int_equal(cds_log_level_parse("", &l), -1);
    assert_int_equal(cds_log_level_parse(NULL, &l), -1);
    assert_int_equal(l, CDS_LOG_ERROR);
}

static void
test_logq(void **state)
{
    assert_string_equal(cds_logq("plain"), "plain");
    assert_string_equal(cds_logq("Xã Hòa"), "\"Xã Hòa\"");
    assert_string_equal(cds_logq(""), "\"\"");
    assert_string_equal(cds_logq(NULL), "\"\"");
    assert_string_equal(cds_logq("a=b"), "\"a=b\"");
    assert_string_equal(cds_logq("say \"hi\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(cds_logq("c:\\x"), "\"c:\\\\x\"");
    assert_string_equal(cds_logq("l1\nl2"), "\"l1\\nl2\"");
    assert_string_equal(cds_logq("bell\a"), "\"bell\\x07\"");
}

static void
test_logq_rotation(void **state)
{
    const char *p[8];
    char want[16];
    for (int i = 0; i < 8; i++) {
        snprintf(want, sizeof want, "v%d", i);
        p[i] = cds_logq(want);
    }
    for (int i = 0; i < 8; i++) {
        snprintf(want, sizeof want, "v%d", i);
        assert_string_equal(p[i], want); /* all 8 still valid */
    }
    assert_ptr_equal(cds_logq("again"), p[0]); /* the 9th reuses slot 0 */
}

static void
test_logq_long_value(void **state)
{
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *q = cds_logq(big);
    assert_true(strlen(q) < 1024);
    assert_int_equal(strcmp(q + strlen(q) - 3, "..."), 0);

    for (size_t i = 0; i + 2 < sizeof big; i += 2)
        memcpy(big + i, "\xc3\xa0", 2); /* "à" repeated, odd length cut */
    big[sizeof big - 2] = ' ';
    q = cds_logq(big);
    size_t n = strlen(q);
    assert_true(n < 1024);
    assert_int_equal(q[0], '"');
    assert_int_equal(strcmp(q + n - 4, "...\""), 0);
    assert_true(cds_utf8_valid(q, n));
}

static void
test_long_line_truncated(void **state)
{
    char big[10000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    capture_start();
    cds_log(CDS_LOG_INFO, "long_line", "v=%s w=\"%s\"", big, big);
    cds_log(CDS_LOG_INFO, "after", "ok=1");
    char *out = capture_end();
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_true((size_t)(nl - out) < 4096);
    *nl = '\0';
    assert_non_null(strstr(out, " truncated=true"));
    assert_non_null(strstr(nl + 1, "event=after ok=1\n"));
    free(out);

    capture_start(); /* cut inside a quoted value: the quote is closed */
    cds_log(CDS_LOG_INFO, "long_quoted", "v=%s", cds_logq("a b"));
    cds_log(CDS_LOG_INFO, "long_quoted", "short=1 v=\"%s\"", big);
    out = capture_end();
    nl = strchr(out, '\n');
    nl = strchr(nl + 1, '\n');
    assert_non_null(nl);
    assert_string_equal(nl - strlen("yyy\" truncated=true"),
                        "yyy\" truncated=true\n");
    free(out);
}

static size_t
count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* A burst of identical lines: `burst` written, the rest counted and
 * reported on the first identical line after the window; other lines are
 * never held back; burst 0 turns it off. */
static void
test_rate_limit(void **state)
{
    cds_log_init("cdsync-test", CDS_LOG_INFO);
    cds_log_set_rate(2, 200);
    capture_start();
    for (int i = 0; i < 7; i++)
        cds_log(CDS_LOG_WARN, "drop", "reason=unknown_key kind=%d", 3);
    cds_log(CDS_LOG_WARN, "drop", "reason=unknown_key kind=%d", 4);
    uint64_t deadline = cds_mono_ms() + 5000, start = cds_mono_ms();
    while (cds_mono_ms() - start < 200 && cds_mono_ms() < deadline)
        ;                              /* the window must pass: a condition */
    cds_log(CDS_LOG_WARN, "drop", "reason=unknown_key kind=%d", 3);
    char *out = capture_end();
    assert_int_equal(count_of(out, "kind=3"), 3);
    assert_int_equal(count_of(out, "kind=4\n"), 1);
    assert_non_null(strstr(out, "kind=3 repeated=5\n"));
    free(out);
    cds_log_set_rate(0, 0);
    capture_start();
    for (int i = 0; i < 7; i++)
        cds_log(CDS_LOG_WARN, "drop", "reason=x");
    out = capture_end();
    assert_int_equal(count_of(out, "reason=x\n"), 7);
    free(out);
    cds_log_set_rate(5, 10000);
}

/* $JOURNAL_STREAM naming the file on fd 2: every line carries its syslog
 * priority; the same variable naming another file: plain logfmt. */
static void
test_journal_priority(void **state)
{
    struct stat st;
    char env[64];

    cds_log_set_rate(0, 0);
    capture_start();
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", env, 1);
    cds_log_init("cdsync-test", CDS_LOG_DEBUG);
    assert_true(cds_log_stderr_is_journal());
    cds_log(CDS_LOG_ERROR, "e", NULL);
    cds_log(CDS_LOG_WARN, "w", NULL);
    cds_log(CDS_LOG_INFO, "i", NULL);
    cds_log(CDS_LOG_DEBUG, "d", "k=v");
    char *out = capture_end();
    const char *want[] = {"<3>ts=", "<4>ts=", "<6>ts=", "<7>ts="};
    const char *tail[] = {" level=error prog=cdsync-test event=e\n",
                          " level=warn prog=cdsync-test event=w\n",
                          " level=info prog=cdsync-test event=i\n",
                          " level=debug prog=cdsync-test event=d k=v\n"};
    const char *line = out;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(strncmp(line, want[i], strlen(want[i])), 0);
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        assert_non_null(strstr(line, tail[i]));
        assert_true(strstr(line, tail[i]) + strlen(tail[i]) == end + 1);
        line = end + 1;
    }
    assert_int_equal(*line, '\0');
    free(out);

    /* Inherited variable, stderr elsewhere (another inode): no prefix. */
    snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", env, 1);
    capture_start();
    cds_log_init("cdsync-test", CDS_LOG_INFO);
    assert_false(cds_log_stderr_is_journal());
    cds_log(CDS_LOG_ERROR, "e", NULL);
    out = capture_end();
    assert_int_equal(strncmp(out, "ts=", 3), 0);
    free(out);

    setenv("JOURNAL_STREAM", "garbage", 1);
    assert_false(cds_log_stderr_is_journal());
    unsetenv("JOURNAL_STREAM");
    assert_false(cds_log_stderr_is_journal());
    cds_log_init("cdsync-test", CDS_LOG_INFO);
    cds_log_set_rate(5, 10000);
}

/* cds_log_set_level changes the filter after init (SIGHUP reload). */
static void
test_set_level(void **state)
{
    cds_log_init("cdsync-test", CDS_LOG_INFO);
    capture_start();
    cds_log(CDS_LOG_DEBUG, "before", NULL);
    cds_log_set_level(CDS_LOG_DEBUG);
    cds_log(CDS_LOG_DEBUG, "after", NULL);
    char *out = capture_end();
    assert_null(strstr(out, "event=before"));
    assert_non_null(strstr(out, "event=after"));
    free(out);
    cds_log_set_level(CDS_LOG_INFO);
}

/* Size of file path, -1 when absent. */
static long long
file_size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static bool
file_has(const char *path, const char *needle)
{
    char *data = NULL;
    if (cds_read_file(path, 1 << 20, &data, NULL) != CDS_OK)
        return false;
    bool has = strstr(data, needle) != NULL;
    free(data);
    return has;
}

/* cds_log_to_file (the Windows service's log): stderr goes to the file,
 * it is rotated past the bound, keep older files are kept, no line lost. */
static void
test_file_rotation(void **state)
{
    char path[96], p1[100], p2[100], p3[100];
    snprintf(path, sizeof path, "%s/agent.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);
    snprintf(p3, sizeof p3, "%s.3", path);
    int saved = dup(STDERR_FILENO);
    cds_log_init("cdsync-test", CDS_LOG_INFO);
    cds_log_set_rate(0, 0);
    assert_int_equal(cds_log_to_file(path, 300, 2), 0);
    fprintf(stderr, "stray line\n");
    fflush(stderr);
    assert_true(file_has(path, "stray line"));
    for (int i = 0; i < 20; i++)
        cds_log(CDS_LOG_INFO, "rotation", "n=%d", i);
    long long line = (long long)strlen("ts=2026-12-03T11:00:00.000Z level=info "
                                       "prog=cdsync-test event=rotation n=10\n");
    assert_int_equal(file_size_of(p3), -1);           /* only keep = 2 */
    assert_in_range(file_size_of(p1), 300, 300 + line);
    assert_in_range(file_size_of(p2), 300, 300 + line);
    assert_true(file_size_of(path) < 300);
    assert_true(file_has(path, "n=19\n") || file_has(p1, "n=19\n"));
    assert_false(file_has(p2, " n=0\n") || file_has(p1, " n=0\n")
                 || file_has(path, " n=0\n"));
    dup2(saved, STDERR_FILENO);
    close(saved);
    cds_log_set_rate(5, 10000);
    unlink(path);
    unlink(p1);
    unlink(p2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_logq),
        cmocka_unit_test(test_logq_rotation),
        cmocka_unit_test(test_logq_long_value),
        cmocka_unit_test(test_long_line_truncated),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_journal_priority),
        cmocka_unit_test(test_set_level),
        cmocka_unit_test(test_file_rotation),      /* last: owns fd 2 */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
