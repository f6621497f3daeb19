/*  cds_hlc_test: the hybrid logical clock never goes back and follows
 *  peers that are ahead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cds_hlc.h"

#define T(ms, c) (((uint64_t) (ms) << 16) | (c))

static void
test_now_follows_wall(void **state)
{
    cds_hlc_t clk;
    cds_hlc_init(&clk, 0);
    assert_int_equal(cds_hlc_last(&clk), 0);
    assert_int_equal(cds_hlc_now(&clk, 1000), T(1000, 0));
    assert_int_equal(cds_hlc_now(&clk, 1000), T(1000, 1));  /* same ms */
    assert_int_equal(cds_hlc_now(&clk, 2000), T(2000, 0));  /* counter resets */
    assert_int_equal(cds_hlc_last(&clk), T(2000, 0));
    assert_int_equal(cds_hlc_ms(T(2000, 5)), 2000);
}

static void
test_monotonic_when_wall_goes_back(void **state)
{
    cds_hlc_t clk;
    cds_hlc_init(&clk, 0);
    uint64_t t1 = cds_hlc_now(&clk, 5000);
    uint64_t t2 = cds_hlc_now(&clk, 4000);   /* NTP stepped back 1 s */
    uint64_t t3 = cds_hlc_now(&clk, 4001);
    assert_true(t2 > t1);
    assert_true(t3 > t2);
    assert_int_equal(cds_hlc_ms(t3), 5000);  /* stays at the high mark */
    assert_int_equal(cds_hlc_now(&clk, 6000), T(6000, 0));

    /* 70000 events in one ms overflow the counter and stay increasing */
    uint64_t prev = cds_hlc_now(&clk, 6000);
    for (int i = 0; i < 70000; i++) {
        uint64_t t = cds_hlc_now(&clk, 6000);
        assert_true(t > prev);
        prev = t;
    }
    assert_int_equal(cds_hlc_ms(prev), 6001);
}

static void
test_restart_from_persisted(void **state)
{
    cds_hlc_t clk;
    cds_hlc_init(&clk, T(9000, 3));
    assert_int_equal(cds_hlc_now(&clk, 100), T(9000, 4)); /* wall is behind */
    assert_int_equal(cds_hlc_now(&clk, 9500), T(9500, 0));
}

static void
test_observe(void **state)
{
    cds_hlc_t clk;
    cds_hlc_init(&clk, 0);
    cds_hlc_now(&clk, 1000);
    /* remote ahead of us and of the wall: we move past it */
    uint64_t r = T(5000, 7);
    assert_int_equal(cds_hlc_observe(&clk, r, 1000), r + 1);
    assert_true(cds_hlc_now(&clk, 1001) > r + 1);
    /* remote behind: the local clock decides */
    uint64_t before = cds_hlc_last(&clk);
    assert_int_equal(cds_hlc_observe(&clk, T(10, 0), 1002), before + 1);
    /* wall ahead of both */
    assert_int_equal(cds_hlc_observe(&clk, T(6000, 0), 7000), T(7000, 0));
}

static void
test_format(void **state)
{
    char buf[64];
    /* 2026-11-28T05:13:47.123Z */
    uint64_t ms = 1795842827123ull;
    assert_ptr_equal(cds_hlc_format(T(ms, 0), buf, sizeof buf), buf);
    assert_string_equal(buf, "2026-11-28T05:13:47.123Z");
    cds_hlc_format(T(ms, 3), buf, sizeof buf);
    assert_string_equal(buf, "2026-11-28T05:13:47.123Z+3");
    cds_hlc_format(T(0, 0), buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    char small[10];
    cds_hlc_format(T(ms, 3), small, sizeof small);
    assert_string_equal(small, "");          /* never a truncated stamp */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_follows_wall),
        cmocka_unit_test(test_monotonic_when_wall_goes_back),
        cmocka_unit_test(test_restart_from_persisted),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
