/*  progress_test: when the writer counts as stuck (progress.h), what a
 *  commit and an answer record, and the rendered series. Times are passed
 *  in, so nothing here waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

#define MS 1000000ull

static char *
render(const progress_t *p, uint64_t now_ns)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    progress_render(p, now_ns, out);
    fclose(out);
    return buf;
}

/* Idle for ever is not stuck; waiting past the bound is. */
static void
test_stuck_only_with_work(void **state)
{
    progress_t *p = progress_new(1000);
    uint64_t stalled = 99, waiting = 99, t0 = progress_now_ns();
    assert_non_null(p);
    assert_false(progress_stuck(p, t0 + 3600000 * MS, &stalled, &waiting));
    assert_int_equal(stalled, 0);
    assert_int_equal(waiting, 0);
    progress_received(p);
    progress_received(p);
    uint64_t t1 = progress_now_ns();
    assert_false(progress_stuck(p, t1 + 500 * MS, &stalled, &waiting));
    assert_int_equal(waiting, 2);
    assert_true(progress_stuck(p, t1 + 2500 * MS, &stalled, &waiting));
    assert_in_range(stalled, 2500, 2600);
    char *t = render(p, t1 + 2500 * MS);
    assert_non_null(strstr(t, "cdsync_writer_stuck 1\n"));
    assert_non_null(strstr(t, "cdsync_writer_waiting_messages 2\n"));
    free(t);
    progress_destroy(&p);
    assert_null(p);
}

/* A commit is progress: it resets the clock, leaves what it did not
 * cover waiting, and is timed. */
static void
test_commit_resets(void **state)
{
    progress_t *p = progress_new(1000);
    uint64_t stalled = 0, waiting = 0;
    for (int i = 0; i < 5; i++)
        progress_received(p);
    uint64_t start = progress_now_ns();
    progress_committed(p, start, 3);           /* 2 in it, 3 still queued */
    uint64_t t1 = progress_now_ns();
    assert_false(progress_stuck(p, t1 + 900 * MS, &stalled, &waiting));
    assert_int_equal(waiting, 3);
    assert_true(progress_stuck(p, t1 + 1100 * MS, &stalled, &waiting));
    progress_committed(p, progress_now_ns(), 0);
    assert_false(progress_stuck(p, t1 + 3600000 * MS, &stalled, &waiting));
    assert_int_equal(waiting, 0);
    char *t = render(p, t1);
    assert_non_null(strstr(t, "cdsync_commit_duration_seconds_count 2\n"));
    assert_non_null(strstr(t, "cdsync_ingest_duration_seconds_count 0\n"));
    assert_non_null(strstr(t, "cdsync_writer_stuck 0\n"));
    free(t);
    progress_destroy(&p);
}

/* An answer is timed from its receipt: 3 ms ago lands in le=0.005. */
static void
test_acked_is_timed(void **state)
{
    progress_t *p = progress_new(1000);
    progress_acked(p, progress_now_ns() - 3 * MS);
    char *t = render(p, progress_now_ns());
    assert_non_null(strstr(t, "cdsync_ingest_duration_seconds_bucket"
                              "{le=\"0.0025\"} 0\n"));
    assert_non_null(strstr(t, "cdsync_ingest_duration_seconds_bucket"
                              "{le=\"0.005\"} 1\n"));
    free(t);
    progress_destroy(&p);
}

static void
test_null_safe(void **state)
{
    uint64_t stalled = 1, waiting = 1;
    progress_received(NULL);
    progress_committed(NULL, 0, 0);
    progress_acked(NULL, 0);
    assert_false(progress_stuck(NULL, progress_now_ns(), &stalled,
                                &waiting));
    assert_int_equal(stalled + waiting, 0);
    char *t = render(NULL, 0);
    assert_string_equal(t, "");
    free(t);
    progress_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stuck_only_with_work),
        cmocka_unit_test(test_commit_resets),
        cmocka_unit_test(test_acked_is_timed),
        cmocka_unit_test(test_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
