/*  cds_trace_test: CDS_TRACE off (unset, empty, unopenable: no file, no
 *  line), on (one "US EVENT fields" line per call, monotonic
 *  microseconds, whole lines when two processes share the file, long
 *  lines cut but still one line). cds_trace looks at the environment once
 *  per process, so each case runs in a child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cds_trace.h"

static char dir[] = "/tmp/cds_trace_test.XXXXXX";
static char path[128];

static int
setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/trace", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Run body in a child with CDS_TRACE = env (NULL: unset); its exit code. */
static int
in_child(const char *env, int (*body)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        if (env)
            setenv("CDS_TRACE", env, 1);
        else
            unsetenv("CDS_TRACE");
        _exit(body());
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int
emit_expect_off(void)
{
    if (cds_trace_on())
        return 1;
    cds_trace("agent_sent", "first=%d last=%d", 1, 2);
    return cds_trace_on() ? 2 : 0;
}

static int
emit_two(void)
{
    if (!cds_trace_on())
        return 1;
    cds_trace("agent_sent", "first=%d last=%d", 3, 5);
    cds_trace("agent_recorded", "acked=%d", 5);
    return 0;
}

static int
emit_many(void)
{
    for (int i = 0; i < 200; i++)
        cds_trace("agg_batch", "first=%d last=%d pid=%d", i, i, (int)getpid());
    return 0;
}

static int
emit_long(void)
{
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cds_trace("submit", "seq=1 note=%s", big);
    return 0;
}

static int
count_lines(void)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return -1;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void
test_off(void **state)
{
    (void)state;
    unlink(path);
    assert_int_equal(in_child(NULL, emit_expect_off), 0);
    assert_int_equal(in_child("", emit_expect_off), 0);
    assert_int_equal(access(path, F_OK), -1); /* nothing created */
    char bad[200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/trace", dir);
    assert_int_equal(in_child(bad, emit_expect_off), 0);
}

static void
test_on_lines(void **state)
{
    (void)state;
    unlink(path);
    uint64_t before = cds_trace_us();
    assert_int_equal(in_child(path, emit_two), 0);
    uint64_t after = cds_trace_us();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long t1 = 0, t2 = 0;
    char ev1[32], ev2[32];
    int first = 0, last = 0, acked = 0;
    assert_int_equal(
        fscanf(f, "%llu %31s first=%d last=%d\n", &t1, ev1, &first, &last), 4);
    assert_int_equal(fscanf(f, "%llu %31s acked=%d\n", &t2, ev2, &acked), 3);
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
    assert_string_equal(ev1, "agent_sent");
    assert_string_equal(ev2, "agent_recorded");
    assert_int_equal(first, 3);
    assert_int_equal(last, 5);
    assert_int_equal(acked, 5);
    /* The machine's monotonic clock, as the parent reads it. */
    assert_true(t1 >= before && t2 >= t1 && t2 <= after);
}

static void
test_shared_file(void **state)
{
    (void)state;
    unlink(path);
    pid_t a = fork();
    if (a == 0) {
        setenv("CDS_TRACE", path, 1);
        _exit(emit_many());
    }
    assert_int_equal(in_child(path, emit_many), 0);
    int st = 0;
    assert_int_equal(waitpid(a, &st, 0), a);
    assert_int_equal(count_lines(), 400);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    while (fgets(line, sizeof line, f)) { /* no line cut by another */
        unsigned long long t;
        int x, y, p;
        assert_int_equal(sscanf(line,
                                "%llu agg_batch first=%d last=%d "
                                "pid=%d",
                                &t, &x, &y, &p),
                         4);
        assert_int_equal(x, y);
    }
    fclose(f);
}

static void
test_long_line(void **state)
{
    (void)state;
    unlink(path);
    assert_int_equal(in_child(path, emit_long), 0);
    assert_int_equal(count_lines(), 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 100 && sb.st_size <= 512);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_on_lines),
        cmocka_unit_test(test_shared_file),
        cmocka_unit_test(test_long_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
