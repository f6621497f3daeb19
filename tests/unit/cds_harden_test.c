/*  cds_harden_test: after cds_harden_process() no core file can be written
 *  (RLIMIT_CORE 0, not raisable without privilege) and the process is not
 *  dumpable, as the kernel reports it in /proc/self/limits and through
 *  prctl(PR_GET_DUMPABLE); a forked child inherits both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_err.h"
#include "cds_harden.h"

#ifdef _WIN32
/* Windows (common/win32/cds_harden_win32.c): no fault dialog a service
 * could not answer, and core_possible answers false (LocalDumps unread). */
static void
test_harden_win32(void **state)
{
    (void) state;
    SetErrorMode(0);
    assert_int_equal(cds_harden_process(), CDS_OK);
    UINT mode = SetErrorMode(0);
    SetErrorMode(mode);
    assert_true(mode & SEM_NOGPFAULTERRORBOX);
    assert_true(mode & SEM_FAILCRITICALERRORS);
    assert_false(cds_harden_core_possible());
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden_win32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void
test_harden(void **state)
{
    (void) state;
    struct rlimit rl = { 1 << 20, RLIM_INFINITY };
    /* Make a core possible first, so the test can fail. */
    if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max > 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CORE, &rl);
    }
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    assert_true(cds_harden_core_possible());
    assert_int_equal(cds_harden_process(), CDS_OK);
    assert_false(cds_harden_core_possible());
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
    assert_int_equal(rl.rlim_cur, 0);
    assert_int_equal(rl.rlim_max, 0);
    /* The hard limit cannot be raised again (unprivileged; as root the
     * kernel allows it, so only the value is checked there). */
    rl.rlim_cur = rl.rlim_max = 1 << 20;
    if (geteuid() != 0)
        assert_int_not_equal(setrlimit(RLIMIT_CORE, &rl), 0);
    /* What the kernel says: the limits file shows 0 for core. */
    FILE *f = fopen("/proc/self/limits", "r");
    assert_non_null(f);
    char line[256];
    int seen = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Max core file size", 18) == 0) {
            assert_non_null(strstr(line, " 0 "));
            seen = 1;
        }
    fclose(f);
    assert_true(seen);
}

static void
test_inherited_by_child(void **state)
{
    (void) state;
    assert_int_equal(cds_harden_process(), CDS_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(cds_harden_core_possible() ? 1 : 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden),
        cmocka_unit_test(test_inherited_by_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
