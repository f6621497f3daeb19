/*  cds_period: DHIS2 period identifiers (see cds_period.h).
 *
 *  Parsing is by hand, not sscanf: sscanf accepts leading spaces, signs and
 *  short digit runs, and an identifier is a key, so exactly one spelling
 *  per period may pass. */
#include "cds_period.h"

#include "cds_err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define YEAR_MIN 1900
#define YEAR_MAX 2999

/* days_from_civil and civil_from_days are Howard Hinnant's algorithms
 * ("chrono-Compatible Low-Level Date Algorithms", placed in the public
 * domain). Proleptic Gregorian calendar; 64-bit inside so that any int32
 * day number converts without overflow. */
int32_t
cds_day_from_ymd(int y, int m, int d)
{
    int64_t yy = (int64_t) y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t) (era * 146097 + doe - 719468);
}

void
cds_day_to_ymd(int32_t day, int *y, int *m, int *d)
{
    int64_t z = (int64_t) day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int mm = (int) (mp < 10 ? mp + 3 : mp - 9);
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = mm;
    *y = (int) (yoe + era * 400 + (mm <= 2));
}

static bool
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ISO weekday, Monday = 1 .. Sunday = 7. Day 0 (1970-01-01) was a
 * Thursday. */
static int
iso_weekday(int32_t day)
{
    int64_t r = ((int64_t) day + 3) % 7;
    return (int) (r < 0 ? r + 7 : r) + 1;
}

/* Monday of ISO week 1 of year y: the week holding 4 January. */
static int32_t
week1_monday(int y)
{
    int32_t jan4 = cds_day_from_ymd(y, 1, 4);
    return jan4 - (iso_weekday(jan4) - 1);
}

static int
iso_weeks_in_year(int y)
{
    return (week1_monday(y + 1) - week1_monday(y)) / 7;
}

/* Value of n decimal digits at s, or -1 if any is not a digit. */
static int
digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static cds_period_t
span(cds_period_type_t type, int y1, int m1, int d1, int y2, int m2, int d2)
{
    cds_period_t p = {type, cds_day_from_ymd(y1, m1, d1),
                      cds_day_from_ymd(y2, m2, d2)};
    return p;
}

/* The 6-character forms: 2023S1, 2023Q1, 202303, 2023W1. */
static int
parse6(int y, const char *s, cds_period_t *p)
{
    int n = digits(s + 1, 1);
    if (s[0] == 'S' && n >= 1 && n <= 2) {
        *p = span(CDS_PT_SIXMONTHLY, y, n * 6 - 5, 1, y, n * 6,
                  days_in_month(y, n * 6));
        return CDS_OK;
    }
    if (s[0] == 'Q' && n >= 1 && n <= 4) {
        *p = span(CDS_PT_QUARTERLY, y, n * 3 - 2, 1, y, n * 3,
                  days_in_month(y, n * 3));
        return CDS_OK;
    }
    if (s[0] == 'W' && n >= 1) {    /* weeks 1-9, no leading zero */
        p->type = CDS_PT_WEEKLY;
        p->start = week1_monday(y) + (n - 1) * 7;
        p->end = p->start + 6;
        return CDS_OK;
    }
    int m = digits(s, 2);
    if (m >= 1 && m <= 12) {
        *p = span(CDS_PT_MONTHLY, y, m, 1, y, m, days_in_month(y, m));
        return CDS_OK;
    }
    return CDS_EBADPERIOD;
}

int
cds_period_parse(const char *id, cds_period_t *out)
{
    size_t len = id ? strlen(id) : 0;
    int y = len >= 4 ? digits(id, 4) : -1;
    if (y < YEAR_MIN || y > YEAR_MAX)
        return CDS_EBADPERIOD;
    cds_period_t p;
    if (len == 4) {
        p = span(CDS_PT_YEARLY, y, 1, 1, y, 12, 31);
    } else if (len == 6) {
        if (parse6(y, id + 4, &p) != CDS_OK)
            return CDS_EBADPERIOD;
    } else if (len == 7 && id[4] == 'W') {
        int w = digits(id + 5, 2);
        if (w < 10 || w > iso_weeks_in_year(y))
            return CDS_EBADPERIOD;
        p.type = CDS_PT_WEEKLY;
        p.start = week1_monday(y) + (w - 1) * 7;
        p.end = p.start + 6;
    } else if (len == 8) {
        int m = digits(id + 4, 2), d = digits(id + 6, 2);
        if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
            return CDS_EBADPERIOD;
        p = span(CDS_PT_DAILY, y, m, d, y, m, d);
    } else {
        return CDS_EBADPERIOD;
    }
    *out = p;
    return CDS_OK;
}

static const char *const type_names[] = {
    "Daily", "Weekly", "Monthly", "Quarterly", "SixMonthly", "Yearly",
};
static const char *const type_short[] = {
    "DAY", "WEEK", "MONTH", "QUARTER", "SIXMONTH", "YEAR",
};

const char *
cds_period_type_name(cds_period_type_t type)
{
    if ((unsigned) type > CDS_PT_YEARLY)
        return "unknown";
    return type_names[type];
}

int
cds_period_type_parse(const char *name, cds_period_type_t *out)
{
    for (int t = CDS_PT_DAILY; t <= CDS_PT_YEARLY; t++) {
        if (strcasecmp(name, type_names[t]) == 0
            || strcasecmp(name, type_short[t]) == 0) {
            *out = (cds_period_type_t) t;
            return CDS_OK;
        }
    }
    return CDS_EBADPERIOD;
}

/* ISO week-numbering year and week of day. */
static void
iso_week(int32_t day, int *year, int *week)
{
    int y, m, d;
    cds_day_to_ymd(day, &y, &m, &d);
    if (day >= week1_monday(y + 1))
        y++;
    else if (day < week1_monday(y))
        y--;
    *year = y;
    *week = (day - week1_monday(y)) / 7 + 1;
}

int
cds_period_of_day(cds_period_type_t type, int32_t day, char *out,
                  size_t len)
{
    int y, m, d, n;
    if (len < 10)
        return -1;
    cds_day_to_ymd(day, &y, &m, &d);
    switch (type) {
    case CDS_PT_DAILY:
        n = snprintf(out, len, "%04d%02d%02d", y, m, d);
        break;
    case CDS_PT_WEEKLY: {
        int wy, w;
        iso_week(day, &wy, &w);
        n = snprintf(out, len, "%04dW%d", wy, w);
        break;
    }
    case CDS_PT_MONTHLY:
        n = snprintf(out, len, "%04d%02d", y, m);
        break;
    case CDS_PT_QUARTERLY:
        n = snprintf(out, len, "%04dQ%d", y, (m + 2) / 3);
        break;
    case CDS_PT_SIXMONTHLY:
        n = snprintf(out, len, "%04dS%d", y, m <= 6 ? 1 : 2);
        break;
    case CDS_PT_YEARLY:
        n = snprintf(out, len, "%04d", y);
        break;
    default:
        return -1;
    }
    return n < 0 || (size_t) n >= len ? -1 : 0;
}

int
cds_date_parse(const char *s, int32_t *day)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return CDS_EBADPERIOD;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12 || d < 1
        || d > days_in_month(y, m))
        return CDS_EBADPERIOD;
    *day = cds_day_from_ymd(y, m, d);
    return CDS_OK;
}

char *
cds_date_format(int32_t day, char *out, size_t len)
{
    int y, m, d;
    cds_day_to_ymd(day, &y, &m, &d);
    int n = snprintf(out, len, "%04d-%02d-%02d", y, m, d);
    if (n < 0 || (size_t) n >= len)
        return NULL;
    return out;
}
