/*  histogram_test: bucket edges, cumulative rendering, +Inf == _count, and
 *  the NULL-safe calls (histogram.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

/* The rendered text of h (caller frees). */
static char *
render(const histogram_t *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    histogram_render(h, out);
    fclose(out);
    return buf;
}

static void
test_bucket_edges(void **state)
{
    histogram_t *h = histogram_new("t_seconds", "Test.");
    assert_non_null(h);
    histogram_observe_ns(h, 500000);           /* exactly 0.5 ms: le=0.0005 */
    histogram_observe_ns(h, 500001);           /* just above: le=0.001 */
    histogram_observe_ns(h, 0);                /* le=0.0005 */
    histogram_observe_ns(h, 5000000000ull);    /* exactly 5 s: le=5 */
    histogram_observe_ns(h, 60000000000ull);   /* a minute: +Inf only */
    assert_int_equal(histogram_count(h), 5);
    char *t = render(h);
    assert_non_null(strstr(t, "# HELP t_seconds Test.\n"
                               "# TYPE t_seconds histogram\n"));
    assert_non_null(strstr(t, "t_seconds_bucket{le=\"0.0005\"} 2\n"));
    assert_non_null(strstr(t, "t_seconds_bucket{le=\"0.001\"} 3\n"));
    assert_non_null(strstr(t, "t_seconds_bucket{le=\"2.5\"} 3\n"));
    assert_non_null(strstr(t, "t_seconds_bucket{le=\"5\"} 4\n"));
    assert_non_null(strstr(t, "t_seconds_bucket{le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(t, "t_seconds_count 5\n"));
    assert_non_null(strstr(t, "t_seconds_sum 65.001000001\n"));
    free(t);
    histogram_destroy(&h);
    assert_null(h);
}

/* Buckets are cumulative and never decrease, whatever was observed. */
static void
test_cumulative(void **state)
{
    histogram_t *h = histogram_new("c_seconds", "C.");
    for (uint64_t ns = 1; ns < 20000000000ull; ns = ns * 3 + 7)
        histogram_observe_ns(h, ns);
    char *t = render(h), *p = t;
    unsigned long long prev = 0, v = 0, lines = 0;
    while ((p = strstr(p, "c_seconds_bucket{")) != NULL) {
        p = strchr(p, '}');
        assert_int_equal(sscanf(p, "} %llu", &v), 1);
        assert_true(v >= prev);
        prev = v;
        lines++;
    }
    assert_int_equal(lines, 14);               /* 13 bounds + +Inf */
    assert_int_equal(prev, histogram_count(h));
    free(t);
    histogram_destroy(&h);
}

static void
test_null_safe(void **state)
{
    histogram_observe_ns(NULL, 1);
    assert_int_equal(histogram_count(NULL), 0);
    char *t = render(NULL);
    assert_string_equal(t, "");
    free(t);
    histogram_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_cumulative),
        cmocka_unit_test(test_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
