/* cds_signal: a SIGTERM taken by any thread must wake the main loop.
 * On Windows (common/win32/cds_signal_win32.c) the stop comes from the
 * console's control handler or the service's control handler, each on a
 * thread of its own, through cds_signal_request_stop(): the same wake-up
 * from another thread is tested there, and that reload is never taken. */
#include "cds_signal.h"

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static int
readable(int timeout_ms)
{
    struct pollfd pf = {cds_signal_fd(), POLLIN, 0};
    return poll(&pf, 1, timeout_ms) == 1 && (pf.revents & POLLIN);
}

static void
test_install_and_request(void **state)
{
    (void) state;
    assert_int_equal(cds_signal_install(), 0);
    assert_int_equal(cds_signal_install(), 0);     /* idempotent */
    assert_true(cds_signal_fd() >= 0);
    cds_signal_reset();
    assert_false(cds_signal_stop_requested());
    assert_false(readable(0));
    cds_signal_request_stop();
    assert_true(cds_signal_stop_requested());
    assert_true(readable(0));
    cds_signal_reset();
    assert_false(cds_signal_stop_requested());
    assert_false(readable(0));
}

#ifdef _WIN32
static void *
stop_from_thread(void *arg)
{
    (void) arg;
    cds_signal_request_stop();         /* as the SCM's handler does */
    return NULL;
}

/* The loop blocked in poll wakes when another thread asks to stop. */
static void
test_stop_on_other_thread_wakes_poll(void **state)
{
    (void) state;
    assert_int_equal(cds_signal_install(), 0);
    cds_signal_reset();
    assert_false(readable(0));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_from_thread, NULL), 0);
    assert_true(readable(5000));
    pthread_join(t, NULL);
    assert_true(cds_signal_stop_requested());
    assert_true(readable(0));          /* stays readable: the invariant */
    cds_signal_service_mode();         /* the flag, not the pipe */
    assert_true(cds_signal_stop_requested());
    cds_signal_reset();
}

/* No SIGHUP on Windows: catching reload changes nothing. */
static void
test_no_reload(void **state)
{
    (void) state;
    assert_int_equal(cds_signal_install(), 0);
    cds_signal_catch_reload();
    cds_signal_reset();
    assert_false(cds_signal_take_reload());
    assert_false(readable(0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_and_request),
        cmocka_unit_test(test_stop_on_other_thread_wakes_poll),
        cmocka_unit_test(test_no_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
static void *
term_from_thread(void *arg)
{
    (void) arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_kill(pthread_self(), SIGTERM);  /* handled on THIS thread */
    return NULL;
}

/* The bug this module exists for: libzmq's I/O threads may take the
 * process's SIGTERM; the main thread, blocked in poll, must still wake. */
static void
test_signal_on_other_thread_wakes_poll(void **state)
{
    (void) state;
    assert_int_equal(cds_signal_install(), 0);
    cds_signal_reset();
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);  /* main thread cannot take it */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, term_from_thread, NULL), 0);
    assert_true(readable(5000));
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_true(cds_signal_stop_requested());
    cds_signal_reset();
}

/* SIGHUP: the process lives, the loop wakes, the request is taken once
 * and the pipe is quiet again (no spinning); a pending stop is kept. */
static void
test_hangup_is_a_reload(void **state)
{
    (void) state;
    assert_int_equal(cds_signal_install(), 0);
    cds_signal_catch_reload();
    cds_signal_reset();
    assert_false(cds_signal_take_reload());
    raise(SIGHUP);
    assert_true(readable(5000));
    assert_false(cds_signal_stop_requested());
    assert_true(cds_signal_take_reload());
    assert_false(cds_signal_take_reload());
    assert_false(readable(0));

    raise(SIGHUP);
    cds_signal_request_stop();
    assert_true(cds_signal_take_reload());
    assert_true(readable(0));                /* the stop still wakes */
    assert_true(cds_signal_stop_requested());
    cds_signal_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_and_request),
        cmocka_unit_test(test_signal_on_other_thread_wakes_poll),
        cmocka_unit_test(test_hangup_is_a_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
