/*  Unit tests for cds_period: every identifier form, its date span, the
 *  ISO week edge cases, strict rejection, and day-number conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cds_err.h"
#include "cds_period.h"

#include <string.h>

static int32_t
ymd(int y, int m, int d)
{
    return cds_day_from_ymd(y, m, d);
}

static void
expect_period(const char *id, cds_period_type_t type, int32_t start,
              int32_t end)
{
    cds_period_t p;
    int rc = cds_period_parse(id, &p);
    if (rc != CDS_OK)
        fail_msg("\"%s\" rejected", id);
    assert_int_equal(p.type, type);
    assert_int_equal(p.start, start);
    assert_int_equal(p.end, end);
}

static void
test_every_format(void **state)
{
    (void) state;
    expect_period("2023", CDS_PT_YEARLY, ymd(2023, 1, 1), ymd(2023, 12, 31));
    expect_period("2023S1", CDS_PT_SIXMONTHLY, ymd(2023, 1, 1),
                  ymd(2023, 6, 30));
    expect_period("2023S2", CDS_PT_SIXMONTHLY, ymd(2023, 7, 1),
                  ymd(2023, 12, 31));
    expect_period("2023Q1", CDS_PT_QUARTERLY, ymd(2023, 1, 1),
                  ymd(2023, 3, 31));
    expect_period("2023Q2", CDS_PT_QUARTERLY, ymd(2023, 4, 1),
                  ymd(2023, 6, 30));
    expect_period("2023Q4", CDS_PT_QUARTERLY, ymd(2023, 10, 1),
                  ymd(2023, 12, 31));
    expect_period("202303", CDS_PT_MONTHLY, ymd(2023, 3, 1),
                  ymd(2023, 3, 31));
    expect_period("202302", CDS_PT_MONTHLY, ymd(2023, 2, 1),
                  ymd(2023, 2, 28));
    expect_period("202402", CDS_PT_MONTHLY, ymd(2024, 2, 1),
                  ymd(2024, 2, 29));
    expect_period("2023W10", CDS_PT_WEEKLY, ymd(2023, 3, 6),
                  ymd(2023, 3, 12));
    expect_period("2023W1", CDS_PT_WEEKLY, ymd(2023, 1, 2), ymd(2023, 1, 8));
    expect_period("20230315", CDS_PT_DAILY, ymd(2023, 3, 15),
                  ymd(2023, 3, 15));
    expect_period("1900", CDS_PT_YEARLY, ymd(1900, 1, 1), ymd(1900, 12, 31));
    expect_period("2999", CDS_PT_YEARLY, ymd(2999, 1, 1), ymd(2999, 12, 31));
}

static void
test_iso_weeks(void **state)
{
    (void) state;
    /* 2020 starts on a Wednesday and is a leap year: 53 weeks. */
    expect_period("2020W53", CDS_PT_WEEKLY, ymd(2020, 12, 28),
                  ymd(2021, 1, 3));
    expect_period("2020W1", CDS_PT_WEEKLY, ymd(2019, 12, 30),
                  ymd(2020, 1, 5));
    expect_period("2021W1", CDS_PT_WEEKLY, ymd(2021, 1, 4),
                  ymd(2021, 1, 10));
    expect_period("2021W52", CDS_PT_WEEKLY, ymd(2021, 12, 27),
                  ymd(2022, 1, 2));
    expect_period("2024W1", CDS_PT_WEEKLY, ymd(2024, 1, 1), ymd(2024, 1, 7));
    expect_period("2015W53", CDS_PT_WEEKLY, ymd(2015, 12, 28),
                  ymd(2016, 1, 3));
    expect_period("2026W53", CDS_PT_WEEKLY, ymd(2026, 12, 28),
                  ymd(2027, 1, 3));
    cds_period_t p;
    assert_int_equal(cds_period_parse("2021W53", &p), CDS_EBADPERIOD);
    assert_int_equal(cds_period_parse("2023W53", &p), CDS_EBADPERIOD);
    assert_int_equal(cds_period_parse("2020W54", &p), CDS_EBADPERIOD);
}

static void
test_leap_days(void **state)
{
    (void) state;
    cds_period_t p;
    assert_int_equal(cds_period_parse("20240229", &p), CDS_OK);
    assert_int_equal(cds_period_parse("20000229", &p), CDS_OK);
    assert_int_equal(cds_period_parse("20230229", &p), CDS_EBADPERIOD);
    assert_int_equal(cds_period_parse("19000229", &p), CDS_EBADPERIOD);
    assert_int_equal(cds_period_parse("21000229", &p), CDS_EBADPERIOD);
}

static void
test_rejects(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "", "2", "202", "20233", "2023Q5", "2023Q0", "2023S3", "2023S0",
        "202313", "202300", "2023W0", "2023W01", "2023W54", "2023W99",
        "20230230", "20230431", "20231301", "20230100", "20230132",
        " 2023", "2023 ", "2023q1", "2023s1", "2023w10", "1899", "3000",
        "-2023", "+2023", "2023-01", "2023-01-01", "2023W", "2023Q",
        "2023W5a", "2023Q1x", "2023M03", "2023\n", "0000", "202303151",
        "2023BiW1", "2023AprilS1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cds_period_t p = {CDS_PT_DAILY, 12345, 54321};
        if (cds_period_parse(bad[i], &p) != CDS_EBADPERIOD)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(p.start, 12345);    /* out untouched */
        assert_int_equal(p.end, 54321);
    }
    cds_period_t p;
    assert_int_equal(cds_period_parse(NULL, &p), CDS_EBADPERIOD);
}

static void
test_type_names(void **state)
{
    (void) state;
    cds_period_type_t t;
    assert_string_equal(cds_period_type_name(CDS_PT_DAILY), "Daily");
    assert_string_equal(cds_period_type_name(CDS_PT_WEEKLY), "Weekly");
    assert_string_equal(cds_period_type_name(CDS_PT_MONTHLY), "Monthly");
    assert_string_equal(cds_period_type_name(CDS_PT_QUARTERLY), "Quarterly");
    assert_string_equal(cds_period_type_name(CDS_PT_SIXMONTHLY),
                        "SixMonthly");
    assert_string_equal(cds_period_type_name(CDS_PT_YEARLY), "Yearly");
    assert_string_equal(cds_period_type_name((cds_period_type_t) 9),
                        "unknown");
    for (int i = CDS_PT_DAILY; i <= CDS_PT_YEARLY; i++) {
        assert_int_equal(cds_period_type_parse(
                             cds_period_type_name((cds_period_type_t) i), &t),
                         CDS_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(cds_period_type_parse("yearly", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_YEARLY);
    assert_int_equal(cds_period_type_parse("QUARTER", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_QUARTERLY);
    assert_int_equal(cds_period_type_parse("sixmonth", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_SIXMONTHLY);
    assert_int_equal(cds_period_type_parse("MONTH", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_MONTHLY);
    assert_int_equal(cds_period_type_parse("week", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_WEEKLY);
    assert_int_equal(cds_period_type_parse("DAY", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_DAILY);
    assert_int_equal(cds_period_type_parse("Annual", &t), CDS_EBADPERIOD);
    assert_int_equal(cds_period_type_parse("", &t), CDS_EBADPERIOD);
    assert_int_equal(cds_period_type_parse("Yearly ", &t), CDS_EBADPERIOD);
}

static void
expect_of_day(cds_period_type_t type, int32_t day, const char *want)
{
    char out[10];
    assert_int_equal(cds_period_of_day(type, day, out, sizeof out), 0);
    assert_string_equal(out, want);
}

static void
test_period_of_day(void **state)
{
    (void) state;
    int32_t d = ymd(2020, 12, 31);
    expect_of_day(CDS_PT_DAILY, d, "20201231");
    expect_of_day(CDS_PT_WEEKLY, d, "2020W53");
    expect_of_day(CDS_PT_MONTHLY, d, "202012");
    expect_of_day(CDS_PT_QUARTERLY, d, "2020Q4");
    expect_of_day(CDS_PT_SIXMONTHLY, d, "2020S2");
    expect_of_day(CDS_PT_YEARLY, d, "2020");
    expect_of_day(CDS_PT_WEEKLY, ymd(2021, 1, 3), "2020W53");
    expect_of_day(CDS_PT_WEEKLY, ymd(2021, 1, 4), "2021W1");
    expect_of_day(CDS_PT_WEEKLY, ymd(2019, 12, 30), "2020W1");
    expect_of_day(CDS_PT_WEEKLY, ymd(2023, 3, 15), "2023W11");
    expect_of_day(CDS_PT_QUARTERLY, ymd(2023, 4, 1), "2023Q2");
    expect_of_day(CDS_PT_SIXMONTHLY, ymd(2023, 6, 30), "2023S1");
    expect_of_day(CDS_PT_DAILY, ymd(2024, 2, 29), "20240229");
    char small[9];
    assert_int_equal(cds_period_of_day(CDS_PT_DAILY, d, small, sizeof small),
                     -1);
    char out[16];
    assert_int_equal(cds_period_of_day((cds_period_type_t) 7, d, out,
                                       sizeof out), -1);
}

/* Every day of 1990-2035 lies in the period of_day names, for each type,
 * and that identifier parses back with the same type. */
static void
test_of_day_round_trip(void **state)
{
    (void) state;
    for (int32_t day = ymd(1990, 1, 1); day <= ymd(2035, 12, 31); day++) {
        for (int t = CDS_PT_DAILY; t <= CDS_PT_YEARLY; t++) {
            char id[10];
            cds_period_t p;
            assert_int_equal(cds_period_of_day((cds_period_type_t) t, day,
                                               id, sizeof id), 0);
            assert_int_equal(cds_period_parse(id, &p), CDS_OK);
            assert_int_equal(p.type, t);
            assert_true(p.start <= day && day <= p.end);
        }
    }
}

static void
test_day_numbers(void **state)
{
    (void) state;
    assert_int_equal(ymd(1970, 1, 1), 0);
    assert_int_equal(ymd(1969, 12, 31), -1);
    assert_int_equal(ymd(2000, 3, 1), 11017);
    assert_int_equal(ymd(1900, 1, 1), -25567);
    assert_int_equal(ymd(2025, 7, 1), 20270);
    for (int32_t day = -800000; day <= 800000; day += 7) {
        int y, m, d;
        cds_day_to_ymd(day, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        assert_int_equal(cds_day_from_ymd(y, m, d), day);
    }
    int y, m, d;
    cds_day_to_ymd(ymd(2024, 2, 29), &y, &m, &d);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    cds_day_to_ymd(INT32_MAX, &y, &m, &d);   /* no overflow (UBSan) */
    cds_day_to_ymd(INT32_MIN, &y, &m, &d);
}

static void
test_dates(void **state)
{
    (void) state;
    int32_t day = 99;
    char buf[11];
    assert_int_equal(cds_date_parse("2025-07-01", &day), CDS_OK);
    assert_int_equal(day, ymd(2025, 7, 1));
    assert_non_null(cds_date_format(day, buf, sizeof buf));
    assert_string_equal(buf, "2025-07-01");
    assert_int_equal(cds_date_parse("2024-02-29", &day), CDS_OK);
    assert_string_equal(cds_date_format(day, buf, sizeof buf), "2024-02-29");
    assert_string_equal(cds_date_format(-1, buf, sizeof buf), "1969-12-31");
    static const char *const bad[] = {
        "2025-7-01", "2025-02-29", "2025-13-01", "2025-00-10", "2025-01-00",
        "20250701", "2025/07/01", " 2025-07-01", "2025-07-01 ", "",
        "1899-12-31", "2025-07-1x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        day = 99;
        if (cds_date_parse(bad[i], &day) != CDS_EBADPERIOD)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(day, 99);
    }
    char small[10];
    assert_null(cds_date_format(0, small, sizeof small));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_format),
        cmocka_unit_test(test_iso_weeks),
        cmocka_unit_test(test_leap_days),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_period_of_day),
        cmocka_unit_test(test_of_day_round_trip),
        cmocka_unit_test(test_day_numbers),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
