/*  cds_period: DHIS2 period identifiers, parsed strictly.
 *
 *  Every DHIS2 period type that has an identifier, spelled and dated as
 *  DHIS2 does (its PeriodType classes; dates below are first..last day):
 *      20230315     Daily
 *      2023W10      Weekly, ISO 8601 week (Monday start; W1 holds 4 Jan)
 *      2023WedW10   WeeklyWednesday  \  weeks starting Wednesday, Thursday,
 *      2023ThuW10   WeeklyThursday    | Saturday, Sunday; numbered like ISO
 *      2023SatW10   WeeklySaturday    | weeks: W1 is the week that holds
 *      2023SunW10   WeeklySunday     /  4 January (>= 4 of its days in Y)
 *      2023BiW1     BiWeekly, ISO weeks 2n-1 and 2n (2023BiW1 = W1-W2).
 *                   A 53-week year has BiW27 = W53 + the next year's W1,
 *                   as DHIS2 makes it; a day of that W1 belongs to the
 *                   next year's BiW1 (cds_period_of_day), so BiW27
 *                   overlaps it by one week
 *      202303       Monthly
 *      202301B      BiMonthly, 01B = Jan-Feb ... 06B = Nov-Dec
 *      2023Q1       Quarterly
 *      2023NovQ1    QuarterlyNov, Q1 = Nov 2022-Jan 2023 ... Q4 = Aug-Oct
 *      2023S1       SixMonthly (S1 = Jan-Jun, S2 = Jul-Dec)
 *      2023AprilS1  SixMonthlyApril (S1 = Apr-Sep 2023, S2 = Oct 2023-Mar 2024)
 *      2023NovS1    SixMonthlyNov (S1 = Nov 2022-Apr 2023, S2 = May-Oct 2023)
 *      2023         Yearly
 *      2023April    FinancialApril, 2023-04-01..2024-03-31
 *      2023July     FinancialJuly,  2023-07-01..2024-06-30
 *      2023Sep      FinancialSep,   2023-09-01..2024-08-31
 *      2023Oct      FinancialOct,   2023-10-01..2024-09-30
 *      2023Nov      FinancialNov,   2022-11-01..2023-10-31 (named by the
 *                   year it ends in, unlike the other financial years)
 *  TwoYearly has no identifier in DHIS2 and is not supported.
 *  Years 1900-2999. Week numbers 1-9 have no leading zero. Anything else
 *  (2023W54 where the year has 52 weeks, 20230230, 2023Q5, 202307B,
 *  " 2023", "2023q1", "2023april") is CDS_EBADPERIOD.
 *  Dates are day numbers: days since 1970-01-01 (negative before).
 *  The longest identifier is 11 characters (2023AprilS1):
 *  CDS_PERIOD_ID_LEN bytes hold any one with its NUL. */
#ifndef CDS_PERIOD_H
#define CDS_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#define CDS_PERIOD_ID_LEN 12

/* The first six values are stable (configuration and tests index by
 * them); new types are appended. */
typedef enum {
    CDS_PT_DAILY = 0,
    CDS_PT_WEEKLY = 1,
    CDS_PT_MONTHLY = 2,
    CDS_PT_QUARTERLY = 3,
    CDS_PT_SIXMONTHLY = 4,
    CDS_PT_YEARLY = 5,
    CDS_PT_WEEKLY_WEDNESDAY = 6,
    CDS_PT_WEEKLY_THURSDAY = 7,
    CDS_PT_WEEKLY_SATURDAY = 8,
    CDS_PT_WEEKLY_SUNDAY = 9,
    CDS_PT_BIWEEKLY = 10,
    CDS_PT_BIMONTHLY = 11,
    CDS_PT_QUARTERLY_NOV = 12,
    CDS_PT_SIXMONTHLY_APRIL = 13,
    CDS_PT_SIXMONTHLY_NOV = 14,
    CDS_PT_FINANCIAL_APRIL = 15,
    CDS_PT_FINANCIAL_JULY = 16,
    CDS_PT_FINANCIAL_SEP = 17,
    CDS_PT_FINANCIAL_OCT = 18,
    CDS_PT_FINANCIAL_NOV = 19,
    CDS_PT_COUNT = 20          /* number of types; not a type */
} cds_period_type_t;

typedef struct {
    cds_period_type_t type;    /* which kind of identifier */
    int32_t start;             /* first day, inclusive (day number) */
    int32_t end;               /* last day, inclusive (day number) */
} cds_period_t;

/* Parse an identifier. CDS_OK or CDS_EBADPERIOD (out untouched). */
int cds_period_parse(const char *id, cds_period_t *out);
/* DHIS2 name ("Daily", "WeeklyWednesday", "SixMonthlyApril",
 * "FinancialNov", ...); "unknown" for a value that is not a type. */
const char *cds_period_type_name(cds_period_type_t type);
/* Accepts the DHIS2 names (any case) and DAY, WEEK, MONTH, QUARTER,
 * SIXMONTH, YEAR. CDS_OK or CDS_EBADPERIOD. */
int cds_period_type_parse(const char *name, cds_period_type_t *out);
/* Which of the first six types has the same length as type (WeeklySunday
 * and BiWeekly -> Weekly, BiMonthly -> Monthly, QuarterlyNov ->
 * Quarterly, SixMonthlyApril/Nov -> SixMonthly, Financial* -> Yearly):
 * the one whose per-type setting (a completeness deadline) applies.
 * A value that is not a type comes back unchanged. */
cds_period_type_t cds_period_type_family(cds_period_type_t type);
/* Identifier of the period of the given type that holds day. Returns 0,
 * or -1 if out is too small (CDS_PERIOD_ID_LEN always suffices), type is
 * not a type, or the period's year is outside 1900-2999. */
int cds_period_of_day(cds_period_type_t type, int32_t day, char *out,
                      size_t len);
/* Day number of a civil date; and back. */
int32_t cds_day_from_ymd(int y, int m, int d);
void cds_day_to_ymd(int32_t day, int *y, int *m, int *d);
/* "YYYY-MM-DD" <-> day number. parse: CDS_OK or CDS_EBADPERIOD. */
int cds_date_parse(const char *s, int32_t *day);
char *cds_date_format(int32_t day, char *out, size_t len);
/* The period in Vietnamese words, as official reports write it: "Quý 2
 * năm 2025", "Tháng 3 năm 2025", "6 tháng đầu năm 2025", "Năm 2025",
 * "ngày 15 tháng 3 năm 2025", other types by their dates ("từ 03/03/2025
 * đến 09/03/2025"). Returns buf ("" when id is not a period). */
char *cds_period_words_vi(const char *id, char *buf, size_t len);

#endif
