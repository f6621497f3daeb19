/*  livestate_test: agent.state is created at its full size, overwritten in
 *  place (the size never changes: a full disk cannot refuse it), read back
 *  with its state, time and error; absent or damaged reads fail; the
 *  daemon's writer writes only on a change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds_log.h"
#include "livestate.h"

static void
test_write_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/livestate_test.XXXXXX", path[128];
    struct stat st;
    livestate_t ls;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent.state", dir);
    assert_int_equal(livestate_read(dir, &ls), -1);     /* absent */
    int fd = livestate_open(dir);
    assert_true(fd >= 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, LIVESTATE_BYTES);
    assert_int_equal(livestate_write(fd, "local_write_failed",
                                     "record_ack: disk full\\nline", 1234),
                     0);
    assert_int_equal(livestate_read(dir, &ls), 0);
    assert_string_equal(ls.state, "local_write_failed");
    assert_int_equal(ls.since_ms, 1234);
    assert_string_equal(ls.error, "record_ack: disk full\\nline");
    assert_int_equal(livestate_write(fd, "connected", NULL, 99), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, LIVESTATE_BYTES);      /* in place */
    assert_int_equal(livestate_read(dir, &ls), 0);
    assert_string_equal(ls.state, "connected");
    assert_string_equal(ls.error, "");
    /* A newline inside the error cannot end the record early. */
    assert_int_equal(livestate_write(fd, "backoff", "a\nb", 5), 0);
    assert_int_equal(livestate_read(dir, &ls), 0);
    assert_string_equal(ls.error, "a b");
    /* Damaged: no tab, no newline. */
    assert_int_equal(pwrite(fd, "garbage", 7, 0), 7);
    assert_int_equal(ftruncate(fd, 7), 0);
    assert_int_equal(livestate_read(dir, &ls), -1);
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* The daemon's writer: a state told again is not written again (the
 * file keeps its first since_ms); a new state or error is. */
static void
test_update_on_change(void **state)
{
    (void)state;
    char dir[] = "/tmp/livestate_test.XXXXXX", path[128];
    livestate_t last, ls;
    memset(&last, 0, sizeof last);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent.state", dir);
    int fd = livestate_open(dir);
    assert_true(fd >= 0);
    assert_int_equal(livestate_update(fd, &last, "backoff", NULL, 10), 0);
    assert_int_equal(livestate_update(fd, &last, "backoff", "", 20), 0);
    assert_int_equal(livestate_read(dir, &ls), 0);
    assert_string_equal(ls.state, "backoff");
    assert_int_equal(ls.since_ms, 10);                  /* unchanged */
    assert_int_equal(livestate_update(fd, &last, "backoff", "x", 30), 0);
    assert_int_equal(livestate_read(dir, &ls), 0);
    assert_int_equal(ls.since_ms, 30);                  /* new error */
    assert_string_equal(ls.error, "x");
    assert_int_equal(livestate_update(fd, &last, "connected", NULL, 40), 0);
    assert_int_equal(livestate_read(dir, &ls), 0);
    assert_string_equal(ls.state, "connected");
    assert_int_equal(ls.since_ms, 40);
    close(fd);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    cds_log_init("livestate_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_update_on_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
