/*  Unit tests for cds_period: every identifier form, its date span, the
 *  ISO week edge cases, strict rejection, and day-number conversions.
 *  Every expected date is worked out by hand in the comments (weekdays
 *  from 2024-01-01 = Monday, 2025-01-01 = Wednesday, 2026-01-01 =
 *  Thursday), never by the code under test. */
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

static void expect_of_day(cds_period_type_t type, int32_t day,
                          const char *want);

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

/* Weeks starting Wednesday, Thursday, Saturday, Sunday: W1 is the week
 * that holds 4 January. 4 Jan 2025 is a Saturday (1 Jan = Wed), 4 Jan
 * 2026 a Sunday (1 Jan = Thu), 4 Jan 2024 a Thursday (1 Jan = Mon). */
static void
test_weekly_variants(void **state)
{
    (void) state;
    /* 2025: the Wed/Thu/Sat/Sun on or before Sat 4 Jan */
    expect_period("2025WedW1", CDS_PT_WEEKLY_WEDNESDAY, ymd(2025, 1, 1),
                  ymd(2025, 1, 7));
    expect_period("2025ThuW1", CDS_PT_WEEKLY_THURSDAY, ymd(2025, 1, 2),
                  ymd(2025, 1, 8));
    expect_period("2025SatW1", CDS_PT_WEEKLY_SATURDAY, ymd(2025, 1, 4),
                  ymd(2025, 1, 10));
    expect_period("2025SunW1", CDS_PT_WEEKLY_SUNDAY, ymd(2024, 12, 29),
                  ymd(2025, 1, 4));
    /* WedW10 = 1 Jan + 9 * 7 = 1 Jan + 63 days = 5 Mar (Jan 31 + Feb 28) */
    expect_period("2025WedW10", CDS_PT_WEEKLY_WEDNESDAY, ymd(2025, 3, 5),
                  ymd(2025, 3, 11));
    /* 2026: the Wednesday on or before Sun 4 Jan is 31 Dec 2025 */
    expect_period("2026WedW1", CDS_PT_WEEKLY_WEDNESDAY, ymd(2025, 12, 31),
                  ymd(2026, 1, 6));
    expect_period("2026ThuW1", CDS_PT_WEEKLY_THURSDAY, ymd(2026, 1, 1),
                  ymd(2026, 1, 7));
    expect_period("2026SatW1", CDS_PT_WEEKLY_SATURDAY, ymd(2026, 1, 3),
                  ymd(2026, 1, 9));
    expect_period("2026SunW1", CDS_PT_WEEKLY_SUNDAY, ymd(2026, 1, 4),
                  ymd(2026, 1, 10));
    /* Sunday weeks of 2025: 29 Dec 2024 .. 4 Jan 2026 = 3 + 365 + 3 = 371
     * days = 53 weeks; W53 = 28 Dec 2025 .. 3 Jan 2026. Thursday weeks:
     * 2 Jan 2025 .. 1 Jan 2026 = 364 days = 52 (ThuW53 refused above). */
    expect_period("2025SunW53", CDS_PT_WEEKLY_SUNDAY, ymd(2025, 12, 28),
                  ymd(2026, 1, 3));
    /* Saturday weeks of 2024: 30 Dec 2023 .. 4 Jan 2025 = 371 days, 53 */
    expect_period("2024SatW53", CDS_PT_WEEKLY_SATURDAY, ymd(2024, 12, 28),
                  ymd(2025, 1, 3));
    /* leap day: SunW1 2024 = 31 Dec 2023; W9 = +56 days = 25 Feb, and the
     * week runs 25, 26, 27, 28, 29 Feb, 1, 2 Mar */
    expect_period("2024SunW9", CDS_PT_WEEKLY_SUNDAY, ymd(2024, 2, 25),
                  ymd(2024, 3, 2));
}

/* BiWeekly: ISO weeks 2n-1 and 2n. */
static void
test_biweekly(void **state)
{
    (void) state;
    /* ISO W1 2025 starts Mon 30 Dec 2024 */
    expect_period("2025BiW1", CDS_PT_BIWEEKLY, ymd(2024, 12, 30),
                  ymd(2025, 1, 12));
    expect_period("2025BiW2", CDS_PT_BIWEEKLY, ymd(2025, 1, 13),
                  ymd(2025, 1, 26));
    /* BiW26 = 30 Dec 2024 + 25 * 14 = + 350 days = 15 Dec 2025 (day 349
     * of 2025); 2025 has 52 ISO weeks (W1 2026 = 29 Dec 2025), so 26
     * bi-weeks and BiW27 is refused */
    expect_period("2025BiW26", CDS_PT_BIWEEKLY, ymd(2025, 12, 15),
                  ymd(2025, 12, 28));
    expect_period("2026BiW1", CDS_PT_BIWEEKLY, ymd(2025, 12, 29),
                  ymd(2026, 1, 11));
    /* 2020 has 53 ISO weeks: BiW27 = W53 (28 Dec 2020) + W1 of 2021, as
     * DHIS2 makes it; 2021BiW1 starts 4 Jan 2021 */
    expect_period("2020BiW27", CDS_PT_BIWEEKLY, ymd(2020, 12, 28),
                  ymd(2021, 1, 10));
    expect_period("2021BiW1", CDS_PT_BIWEEKLY, ymd(2021, 1, 4),
                  ymd(2021, 1, 17));
    cds_period_t p;
    assert_int_equal(cds_period_parse("2020BiW28", &p), CDS_EBADPERIOD);
}

/* Month-based types, with year boundaries and leap Februaries. */
static void
test_month_types(void **state)
{
    (void) state;
    expect_period("202501B", CDS_PT_BIMONTHLY, ymd(2025, 1, 1),
                  ymd(2025, 2, 28));
    expect_period("202401B", CDS_PT_BIMONTHLY, ymd(2024, 1, 1),
                  ymd(2024, 2, 29));
    expect_period("202503B", CDS_PT_BIMONTHLY, ymd(2025, 5, 1),
                  ymd(2025, 6, 30));
    expect_period("202506B", CDS_PT_BIMONTHLY, ymd(2025, 11, 1),
                  ymd(2025, 12, 31));
    expect_period("2025NovQ1", CDS_PT_QUARTERLY_NOV, ymd(2024, 11, 1),
                  ymd(2025, 1, 31));
    expect_period("2025NovQ2", CDS_PT_QUARTERLY_NOV, ymd(2025, 2, 1),
                  ymd(2025, 4, 30));
    expect_period("2025NovQ4", CDS_PT_QUARTERLY_NOV, ymd(2025, 8, 1),
                  ymd(2025, 10, 31));
    expect_period("2025AprilS1", CDS_PT_SIXMONTHLY_APRIL, ymd(2025, 4, 1),
                  ymd(2025, 9, 30));
    expect_period("2025AprilS2", CDS_PT_SIXMONTHLY_APRIL, ymd(2025, 10, 1),
                  ymd(2026, 3, 31));
    expect_period("2025NovS1", CDS_PT_SIXMONTHLY_NOV, ymd(2024, 11, 1),
                  ymd(2025, 4, 30));
    expect_period("2025NovS2", CDS_PT_SIXMONTHLY_NOV, ymd(2025, 5, 1),
                  ymd(2025, 10, 31));
    expect_period("2024NovS1", CDS_PT_SIXMONTHLY_NOV, ymd(2023, 11, 1),
                  ymd(2024, 4, 30));
}

static void
test_financial_years(void **state)
{
    (void) state;
    expect_period("2025April", CDS_PT_FINANCIAL_APRIL, ymd(2025, 4, 1),
                  ymd(2026, 3, 31));
    expect_period("2025July", CDS_PT_FINANCIAL_JULY, ymd(2025, 7, 1),
                  ymd(2026, 6, 30));
    expect_period("2025Sep", CDS_PT_FINANCIAL_SEP, ymd(2025, 9, 1),
                  ymd(2026, 8, 31));
    expect_period("2025Oct", CDS_PT_FINANCIAL_OCT, ymd(2025, 10, 1),
                  ymd(2026, 9, 30));
    /* FinancialNov is named by the year it ends in */
    expect_period("2025Nov", CDS_PT_FINANCIAL_NOV, ymd(2024, 11, 1),
                  ymd(2025, 10, 31));
    /* 2023April holds 29 Feb 2024: 366 days */
    expect_period("2023April", CDS_PT_FINANCIAL_APRIL, ymd(2023, 4, 1),
                  ymd(2024, 3, 31));
    assert_int_equal(ymd(2024, 3, 31) - ymd(2023, 4, 1) + 1, 366);
    /* the year range is the identifier's year */
    expect_period("1900Nov", CDS_PT_FINANCIAL_NOV, ymd(1899, 11, 1),
                  ymd(1900, 10, 31));
    expect_period("2999April", CDS_PT_FINANCIAL_APRIL, ymd(2999, 4, 1),
                  ymd(3000, 3, 31));
}

/* The new types from one day, and the family each belongs to. */
static void
test_new_of_day(void **state)
{
    (void) state;
    int32_t d = ymd(2025, 1, 1);
    expect_of_day(CDS_PT_WEEKLY_WEDNESDAY, d, "2025WedW1");
    /* ThuW1 2024 = Thu 4 Jan 2024; +51 weeks = +357 days = 26 Dec 2024,
     * the Thursday week holding 1 Jan 2025 */
    expect_of_day(CDS_PT_WEEKLY_THURSDAY, d, "2024ThuW52");
    expect_of_day(CDS_PT_WEEKLY_SATURDAY, d, "2024SatW53");
    expect_of_day(CDS_PT_WEEKLY_SUNDAY, d, "2025SunW1");
    expect_of_day(CDS_PT_BIWEEKLY, d, "2025BiW1");
    expect_of_day(CDS_PT_BIMONTHLY, d, "202501B");
    expect_of_day(CDS_PT_QUARTERLY_NOV, d, "2025NovQ1");
    expect_of_day(CDS_PT_SIXMONTHLY_APRIL, d, "2024AprilS2");
    expect_of_day(CDS_PT_SIXMONTHLY_NOV, d, "2025NovS1");
    expect_of_day(CDS_PT_FINANCIAL_APRIL, d, "2024April");
    expect_of_day(CDS_PT_FINANCIAL_JULY, d, "2024July");
    expect_of_day(CDS_PT_FINANCIAL_SEP, d, "2024Sep");
    expect_of_day(CDS_PT_FINANCIAL_OCT, d, "2024Oct");
    expect_of_day(CDS_PT_FINANCIAL_NOV, d, "2025Nov");
    d = ymd(2025, 11, 1);
    expect_of_day(CDS_PT_FINANCIAL_NOV, d, "2026Nov");
    expect_of_day(CDS_PT_SIXMONTHLY_NOV, d, "2026NovS1");
    expect_of_day(CDS_PT_QUARTERLY_NOV, d, "2026NovQ1");
    expect_of_day(CDS_PT_FINANCIAL_OCT, d, "2025Oct");
    expect_of_day(CDS_PT_SIXMONTHLY_APRIL, d, "2025AprilS2");
    expect_of_day(CDS_PT_BIMONTHLY, d, "202506B");
    expect_of_day(CDS_PT_SIXMONTHLY_APRIL, ymd(2025, 3, 31), "2024AprilS2");
    expect_of_day(CDS_PT_SIXMONTHLY_APRIL, ymd(2025, 4, 1), "2025AprilS1");
    /* 2020 has 53 ISO weeks: its W53 days are BiW27, 2021's W1 days are
     * 2021BiW1 */
    expect_of_day(CDS_PT_BIWEEKLY, ymd(2020, 12, 31), "2020BiW27");
    expect_of_day(CDS_PT_BIWEEKLY, ymd(2021, 1, 4), "2021BiW1");
    expect_of_day(CDS_PT_BIWEEKLY, ymd(2021, 1, 17), "2021BiW1");
    expect_of_day(CDS_PT_BIWEEKLY, ymd(2021, 1, 18), "2021BiW2");
    /* the longest identifier needs 12 bytes */
    char out[CDS_PERIOD_ID_LEN];
    assert_int_equal(cds_period_of_day(CDS_PT_SIXMONTHLY_APRIL, d, out,
                                       sizeof out - 1), -1);
    /* a period whose identifier's year is outside 1900-2999 */
    assert_int_equal(cds_period_of_day(CDS_PT_FINANCIAL_NOV,
                                       ymd(2999, 12, 1), out, sizeof out),
                     -1);
    assert_int_equal(cds_period_of_day(CDS_PT_DAILY, ymd(1899, 12, 31), out,
                                       sizeof out), -1);
    assert_int_equal(cds_period_type_family(CDS_PT_WEEKLY_SUNDAY),
                     CDS_PT_WEEKLY);
    assert_int_equal(cds_period_type_family(CDS_PT_BIWEEKLY), CDS_PT_WEEKLY);
    assert_int_equal(cds_period_type_family(CDS_PT_BIMONTHLY),
                     CDS_PT_MONTHLY);
    assert_int_equal(cds_period_type_family(CDS_PT_QUARTERLY_NOV),
                     CDS_PT_QUARTERLY);
    assert_int_equal(cds_period_type_family(CDS_PT_SIXMONTHLY_NOV),
                     CDS_PT_SIXMONTHLY);
    assert_int_equal(cds_period_type_family(CDS_PT_FINANCIAL_JULY),
                     CDS_PT_YEARLY);
    assert_int_equal(cds_period_type_family(CDS_PT_DAILY), CDS_PT_DAILY);
    assert_int_equal(cds_period_type_family(CDS_PT_COUNT), CDS_PT_COUNT);
}

/* Consecutive periods of one type follow each other with no gap and no
 * overlap, 1990-2035 — except DHIS2's BiW27, which overlaps the next
 * year's BiW1 by its second week. */
static void
test_periods_tile(void **state)
{
    (void) state;
    for (int t = 0; t < CDS_PT_COUNT; t++) {
        cds_period_t p;
        char id[CDS_PERIOD_ID_LEN];
        int32_t prev_end = ymd(1990, 1, 1) - 1;
        int32_t day = ymd(1990, 1, 1);
        assert_int_equal(cds_period_of_day((cds_period_type_t) t, day, id,
                                           sizeof id), 0);
        assert_int_equal(cds_period_parse(id, &p), CDS_OK);
        for (day = p.start; day <= ymd(2035, 12, 31); day = p.end + 1) {
            assert_int_equal(cds_period_of_day((cds_period_type_t) t, day,
                                               id, sizeof id), 0);
            assert_int_equal(cds_period_parse(id, &p), CDS_OK);
            if (p.start != day) {          /* only after a BiW27 */
                assert_int_equal(t, CDS_PT_BIWEEKLY);
                assert_int_equal(p.start, day - 7);
            }
            assert_true(p.end >= p.start);
            prev_end = p.end;
        }
        assert_true(prev_end >= ymd(2035, 12, 31));
    }
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
        /* the types added for issue 15, misspelled or out of range */
        "202307B", "202300B", "2023B", "20231B", "2023Q1B", "202301b",
        "2023AprilS3", "2023AprilS0", "2023aprils1", "2023AprilS01",
        "2023NovS3", "2023NovQ5", "2023NovQ0", "2023novQ1",
        "2023April ", "2023Apr", "2023Jul", "2023june", "2023APRIL",
        "2023July1", "2023Nov1", "2023Sept", "2023Feb", "2023Aug",
        "2023WedW0", "2023WedW01", "2023WedW54", "2023wedW1",
        "2023FriW1", "2023MonW1", "2023TueW1",
        "2023BiW0", "2023BiW01", "2023BiW27", "2023biW1", "2023BiW",
        "2023SunW53", "2025ThuW53", "2025WedW53", "2025SatW53",
        "2023TwoYearly", "2023AprilS1x", "12023April",
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
    assert_string_equal(cds_period_type_name(CDS_PT_COUNT), "unknown");
    assert_string_equal(cds_period_type_name((cds_period_type_t) -1),
                        "unknown");
    for (int i = 0; i < CDS_PT_COUNT; i++) {
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
    assert_int_equal(cds_period_type_parse("weeklywednesday", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_WEEKLY_WEDNESDAY);
    assert_int_equal(cds_period_type_parse("FINANCIALNOV", &t), CDS_OK);
    assert_int_equal(t, CDS_PT_FINANCIAL_NOV);
    assert_int_equal(cds_period_type_parse("Annual", &t), CDS_EBADPERIOD);
    /* DHIS2 has TwoYearly, but no identifier for it */
    assert_int_equal(cds_period_type_parse("TwoYearly", &t), CDS_EBADPERIOD);
    assert_int_equal(cds_period_type_parse("FinancialFeb", &t),
                     CDS_EBADPERIOD);
    assert_int_equal(cds_period_type_parse(NULL, &t), CDS_EBADPERIOD);
    assert_int_equal(cds_period_type_parse("", &t), CDS_EBADPERIOD);
    assert_int_equal(cds_period_type_parse("Yearly ", &t), CDS_EBADPERIOD);
}

static void
expect_of_day(cds_period_type_t type, int32_t day, const char *want)
{
    char out[CDS_PERIOD_ID_LEN];
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
    char small[9];             /* "20201231" + NUL fits, 8 bytes do not */
    assert_int_equal(cds_period_of_day(CDS_PT_DAILY, d, small, sizeof small),
                     0);
    assert_int_equal(cds_period_of_day(CDS_PT_DAILY, d, small,
                                       sizeof small - 1), -1);
    char out[16];
    assert_int_equal(cds_period_of_day(CDS_PT_COUNT, d, out, sizeof out),
                     -1);
}

/* Every day of 1990-2035 lies in the period of_day names, for each type,
 * and that identifier parses back with the same type. */
static void
test_of_day_round_trip(void **state)
{
    (void) state;
    for (int32_t day = ymd(1990, 1, 1); day <= ymd(2035, 12, 31); day++) {
        for (int t = 0; t < CDS_PT_COUNT; t++) {
            char id[CDS_PERIOD_ID_LEN], back[CDS_PERIOD_ID_LEN];
            cds_period_t p;
            assert_int_equal(cds_period_of_day((cds_period_type_t) t, day,
                                               id, sizeof id), 0);
            assert_int_equal(cds_period_parse(id, &p), CDS_OK);
            assert_int_equal(p.type, t);
            assert_true(p.start <= day && day <= p.end);
            /* id -> period -> id */
            assert_int_equal(cds_period_of_day(p.type, p.start, back,
                                               sizeof back), 0);
            assert_string_equal(back, id);
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

static void
test_period_words_vi(void **state)
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
        assert_string_equal(cds_period_words_vi(cases[i][0], buf,
                                                  sizeof buf), cases[i][1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_words_vi),
        cmocka_unit_test(test_every_format),
        cmocka_unit_test(test_iso_weeks),
        cmocka_unit_test(test_weekly_variants),
        cmocka_unit_test(test_biweekly),
        cmocka_unit_test(test_month_types),
        cmocka_unit_test(test_financial_years),
        cmocka_unit_test(test_new_of_day),
        cmocka_unit_test(test_periods_tile),
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
