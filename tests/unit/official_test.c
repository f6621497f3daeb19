/*  official_test: the period in words of the official report's title
 *  (official.h); the sheet itself is checked cell by cell against rollup
 *  in tests/integration/official_report.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "official.h"

#include <string.h>

static void
test_period_words(void **state)
{
    static const char *const cases[][2] = {
        { "2025Q2", "Quý 2 năm 2025" },
        { "2025Q4", "Quý 4 năm 2025" },
        { "202503", "Tháng 3 năm 2025" },
        { "2025", "Năm 2025" },
        { "2025S1", "6 tháng đầu năm 2025" },
        { "2025S2", "6 tháng cuối năm 2025" },
        { "20250315", "ngày 15 tháng 3 năm 2025" },
        { "2025W10", "từ 03/03/2025 đến 09/03/2025" },
        { "2025AprilS1", "từ 01/04/2025 đến 30/09/2025" },
        { "2025Q9", "" },
    };
    char buf[96];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(official_period_words(cases[i][0], buf,
                                                  sizeof buf), cases[i][1]);
}

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
        cmocka_unit_test(test_period_words),
        cmocka_unit_test(test_format_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
