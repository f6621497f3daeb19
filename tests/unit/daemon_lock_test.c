/*  daemon_lock_test: one daemon per state_dir: a second taker is told
 *  CDS_EBUSY, `held` sees the lock, and closing the fd (as the kernel
 *  does when a daemon dies) releases it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_err.h"
#include "cds_log.h"
#include "daemon_lock.h"

static void
test_lock(void **state)
{
    (void)state;
    char dir[] = "/tmp/daemon_lock_test.XXXXXX", path[64];
    int fd1 = -1, fd2 = -1;
    assert_non_null(mkdtemp(dir));
    assert_false(daemon_lock_held(dir));          /* never ran here */
    assert_int_equal(daemon_lock_take(dir, &fd1), CDS_OK);
    assert_true(daemon_lock_held(dir));
    assert_int_equal(daemon_lock_take(dir, &fd2), CDS_EBUSY);
    assert_true(daemon_lock_held(dir));           /* the check took none */
    close(fd1);
    assert_false(daemon_lock_held(dir));
    assert_int_equal(daemon_lock_take(dir, &fd2), CDS_OK);
    close(fd2);
    /* A state_dir that does not exist: an error, not a crash. */
    assert_int_equal(daemon_lock_take("/nonexistent/cdsync", &fd1), CDS_EIO);
    assert_false(daemon_lock_held("/nonexistent/cdsync"));
    snprintf(path, sizeof path, "%s/agent.lock", dir);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    cds_log_init("daemon_lock_test", CDS_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
