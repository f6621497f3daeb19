/*  official_test: the official report's output formats (official.h); its
 *  title's period in words is cds_period_test's, the sheet itself is
 *  checked cell by cell against rollup in
 *  tests/integration/official_report.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "official.h"

#include <string.h>

static void
test_format_parse(void **state)
{
    official_format_t f = OFFICIAL_CSV;
    assert_int_equal(official_format_parse("xlsx", &f), 0);
    assert_int_equal(f, OFFICIAL_XLSX);
    assert_int_equal(official_format_parse("csv", &f), 0);
    assert_int_equal(f, OFFICIAL_CSV);
    assert_int_equal(official_format_parse("html", &f), -1);
    assert_int_equal(official_format_parse(NULL, &f), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
