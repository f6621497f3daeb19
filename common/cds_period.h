/*  cds_period: DHIS2 period identifiers, parsed strictly.
 *
 *  Supported (as DHIS2 spells them):
 *      2023        Yearly
 *      2023S1      SixMonthly (S1 = Jan-Jun, S2 = Jul-Dec)
 *      2023Q1      Quarterly
 *      202303      Monthly
 *      2023W10     Weekly, ISO 8601 week (Monday start; W1 holds 4 Jan)
 *      20230315    Daily
 *  Years 1900-2999. Anything else (2023W54 where the year has 52 weeks,
 *  20230230, 2023Q5, " 2023", "2023q1") is CDS_EBADPERIOD.
 *  Dates are day numbers: days since 1970-01-01 (negative before). */
#ifndef CDS_PERIOD_H
#define CDS_PERIOD_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CDS_PT_DAILY = 0,
    CDS_PT_WEEKLY = 1,
    CDS_PT_MONTHLY = 2,
    CDS_PT_QUARTERLY = 3,
    CDS_PT_SIXMONTHLY = 4,
    CDS_PT_YEARLY = 5,
} cds_period_type_t;

typedef struct {
    cds_period_type_t type;    /* which kind of identifier */
    int32_t start;             /* first day, inclusive (day number) */
    int32_t end;               /* last day, inclusive (day number) */
} cds_period_t;

/* Parse an identifier. CDS_OK or CDS_EBADPERIOD (out untouched). */
int cds_period_parse(const char *id, cds_period_t *out);
/* DHIS2 name: "Daily", "Weekly", "Monthly", "Quarterly", "SixMonthly",
 * "Yearly". */
const char *cds_period_type_name(cds_period_type_t type);
/* Accepts the DHIS2 names (any case) and DAY, WEEK, MONTH, QUARTER,
 * SIXMONTH, YEAR. CDS_OK or CDS_EBADPERIOD. */
int cds_period_type_parse(const char *name, cds_period_type_t *out);
/* Identifier of the period of the given type that holds day. Returns 0,
 * or -1 if out is too small (needs 10 bytes). */
int cds_period_of_day(cds_period_type_t type, int32_t day, char *out,
                      size_t len);
/* Day number of a civil date; and back. */
int32_t cds_day_from_ymd(int y, int m, int d);
void cds_day_to_ymd(int32_t day, int *y, int *m, int *d);
/* "YYYY-MM-DD" <-> day number. parse: CDS_OK or CDS_EBADPERIOD. */
int cds_date_parse(const char *s, int32_t *day);
char *cds_date_format(int32_t day, char *out, size_t len);

#endif
