/*  cds_period: DHIS2 period identifiers (see cds_period.h).
 *
 *  Parsing is by hand, not sscanf: sscanf accepts leading spaces, signs and
 *  short digit runs, and an identifier is a key, so exactly one spelling
 *  per period may pass. One table row per type says how its identifier is
 *  spelled (year, tag, number, suffix) and how it is dated (weeks from a
 *  weekday, or months from a first month), so parsing, formatting and
 *  cds_period_of_day read the same row and cannot disagree. */
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

/* How the text after the year is spelled: tag, then a number, then a
 * suffix ("AprilS" 1 "", "" 01 "B"). */
typedef enum {
    N_NONE,                    /* no number: the tag is all (2023April) */
    N_PLAIN,                   /* 1-99, no leading zero (2023W7) */
    N_TWO                      /* exactly two digits (202307, 202301B) */
} numstyle_t;

typedef enum { K_DAY, K_WEEK, K_MONTH } kind_t;

/* One row per type, indexed by cds_period_type_t. K_WEEK: first = first
 * weekday (ISO, Monday = 1), size = weeks per period. K_MONTH: first =
 * months from January of the identifier's year to the start of its first
 * period (November of the year before = -2), size = months per period. */
static const struct ptype {
    const char *name, *alias, *tag, *suffix;
    numstyle_t num;
    kind_t kind;
    int first, size;
    cds_period_type_t family;
} types[CDS_PT_COUNT] = {
#define T(id, name, alias, tag, num, suffix, kind, first, size, fam) \
    [id] = {name, alias, tag, suffix, num, kind, first, size, fam}
    T(CDS_PT_DAILY, "Daily", "DAY", "", N_NONE, "", K_DAY, 0, 0,
      CDS_PT_DAILY),
    T(CDS_PT_WEEKLY, "Weekly", "WEEK", "W", N_PLAIN, "", K_WEEK, 1, 1,
      CDS_PT_WEEKLY),
    T(CDS_PT_MONTHLY, "Monthly", "MONTH", "", N_TWO, "", K_MONTH, 0, 1,
      CDS_PT_MONTHLY),
    T(CDS_PT_QUARTERLY, "Quarterly", "QUARTER", "Q", N_PLAIN, "", K_MONTH,
      0, 3, CDS_PT_QUARTERLY),
    T(CDS_PT_SIXMONTHLY, "SixMonthly", "SIXMONTH", "S", N_PLAIN, "",
      K_MONTH, 0, 6, CDS_PT_SIXMONTHLY),
    T(CDS_PT_YEARLY, "Yearly", "YEAR", "", N_NONE, "", K_MONTH, 0, 12,
      CDS_PT_YEARLY),
    T(CDS_PT_WEEKLY_WEDNESDAY, "WeeklyWednesday", NULL, "WedW", N_PLAIN, "",
      K_WEEK, 3, 1, CDS_PT_WEEKLY),
    T(CDS_PT_WEEKLY_THURSDAY, "WeeklyThursday", NULL, "ThuW", N_PLAIN, "",
      K_WEEK, 4, 1, CDS_PT_WEEKLY),
    T(CDS_PT_WEEKLY_SATURDAY, "WeeklySaturday", NULL, "SatW", N_PLAIN, "",
      K_WEEK, 6, 1, CDS_PT_WEEKLY),
    T(CDS_PT_WEEKLY_SUNDAY, "WeeklySunday", NULL, "SunW", N_PLAIN, "",
      K_WEEK, 7, 1, CDS_PT_WEEKLY),
    T(CDS_PT_BIWEEKLY, "BiWeekly", NULL, "BiW", N_PLAIN, "", K_WEEK, 1, 2,
      CDS_PT_WEEKLY),
    T(CDS_PT_BIMONTHLY, "BiMonthly", NULL, "", N_TWO, "B", K_MONTH, 0, 2,
      CDS_PT_MONTHLY),
    T(CDS_PT_QUARTERLY_NOV, "QuarterlyNov", NULL, "NovQ", N_PLAIN, "",
      K_MONTH, -2, 3, CDS_PT_QUARTERLY),
    T(CDS_PT_SIXMONTHLY_APRIL, "SixMonthlyApril", NULL, "AprilS", N_PLAIN,
      "", K_MONTH, 3, 6, CDS_PT_SIXMONTHLY),
    T(CDS_PT_SIXMONTHLY_NOV, "SixMonthlyNov", NULL, "NovS", N_PLAIN, "",
      K_MONTH, -2, 6, CDS_PT_SIXMONTHLY),
    T(CDS_PT_FINANCIAL_APRIL, "FinancialApril", NULL, "April", N_NONE, "",
      K_MONTH, 3, 12, CDS_PT_YEARLY),
    T(CDS_PT_FINANCIAL_JULY, "FinancialJuly", NULL, "July", N_NONE, "",
      K_MONTH, 6, 12, CDS_PT_YEARLY),
    T(CDS_PT_FINANCIAL_SEP, "FinancialSep", NULL, "Sep", N_NONE, "",
      K_MONTH, 8, 12, CDS_PT_YEARLY),
    T(CDS_PT_FINANCIAL_OCT, "FinancialOct", NULL, "Oct", N_NONE, "",
      K_MONTH, 9, 12, CDS_PT_YEARLY),
    T(CDS_PT_FINANCIAL_NOV, "FinancialNov", NULL, "Nov", N_NONE, "",
      K_MONTH, -2, 12, CDS_PT_YEARLY),
#undef T
};

/* First day of week 1 of year y for weeks starting on ISO weekday wd: the
 * week holding 4 January (ISO 8601's rule, which DHIS2 applies to every
 * weekly type). */
static int32_t
week1_start(int y, int wd)
{
    int32_t jan4 = cds_day_from_ymd(y, 1, 4);
    return jan4 - (iso_weekday(jan4) - wd + 7) % 7;
}

static int
weeks_in_year(int y, int wd)
{
    return (week1_start(y + 1, wd) - week1_start(y, wd)) / 7;
}

/* How many periods of type pt the year y has. */
static int
periods_in_year(const struct ptype *pt, int y)
{
    if (pt->kind == K_WEEK)
        return (weeks_in_year(y, pt->first) + pt->size - 1) / pt->size;
    return pt->num == N_NONE ? 1 : 12 / pt->size;
}

/* The number at s spelled per style into *n; the rest of s, or NULL. */
static const char *
number(const char *s, numstyle_t style, int *n)
{
    *n = 1;
    if (style == N_TWO) {
        *n = digits(s, 2);
        return *n < 0 ? NULL : s + 2;
    }
    if (style == N_PLAIN) {
        if (s[0] < '1' || s[0] > '9')
            return NULL;
        *n = s[0] - '0';
        if (s[1] < '0' || s[1] > '9')
            return s + 1;
        *n = *n * 10 + (s[1] - '0');
        return s + 2;
    }
    return s;
}

/* Period n of type t in year y (n already checked). */
static cds_period_t
period_n(cds_period_type_t t, int y, int n)
{
    const struct ptype *pt = &types[t];
    cds_period_t p = {t, 0, 0};
    if (pt->kind == K_WEEK) {
        p.start = week1_start(y, pt->first) + (n - 1) * 7 * pt->size;
        p.end = p.start + 7 * pt->size - 1;
        return p;
    }
    int m0 = y * 12 + pt->first + (n - 1) * pt->size;   /* months */
    int m1 = m0 + pt->size;                /* first month after */
    p.start = cds_day_from_ymd(m0 / 12, m0 % 12 + 1, 1);
    p.end = cds_day_from_ymd(m1 / 12, m1 % 12 + 1, 1) - 1;
    return p;
}

/* The text after the year, other than a day (MMDD). */
static int
parse_rest(int y, const char *rest, cds_period_t *out)
{
    for (int t = 0; t < CDS_PT_COUNT; t++) {
        const struct ptype *pt = &types[t];
        size_t tl = strlen(pt->tag);
        int n;
        if (pt->kind == K_DAY || strncmp(rest, pt->tag, tl) != 0)
            continue;
        const char *s = number(rest + tl, pt->num, &n);
        if (s && strcmp(s, pt->suffix) == 0 && n >= 1
            && n <= periods_in_year(pt, y)) {
            *out = period_n((cds_period_type_t) t, y, n);
            return CDS_OK;
        }
    }
    return CDS_EBADPERIOD;
}

int
cds_period_parse(const char *id, cds_period_t *out)
{
    size_t len = id ? strlen(id) : 0;
    int y = len >= 4 ? digits(id, 4) : -1;
    if (y < YEAR_MIN || y > YEAR_MAX || len > CDS_PERIOD_ID_LEN - 1)
        return CDS_EBADPERIOD;
    cds_period_t p;
    if (len == 8 && digits(id + 4, 4) >= 0) {
        int m = digits(id + 4, 2), d = digits(id + 6, 2);
        if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
            return CDS_EBADPERIOD;
        p.type = CDS_PT_DAILY;
        p.start = p.end = cds_day_from_ymd(y, m, d);
    } else if (parse_rest(y, id + 4, &p) != CDS_OK) {
        return CDS_EBADPERIOD;
    }
    *out = p;
    return CDS_OK;
}

const char *
cds_period_type_name(cds_period_type_t type)
{
    if ((unsigned) type >= CDS_PT_COUNT)
        return "unknown";
    return types[type].name;
}

int
cds_period_type_parse(const char *name, cds_period_type_t *out)
{
    for (int t = 0; name && t < CDS_PT_COUNT; t++) {
        if (strcasecmp(name, types[t].name) == 0
            || (types[t].alias && strcasecmp(name, types[t].alias) == 0)) {
            *out = (cds_period_type_t) t;
            return CDS_OK;
        }
    }
    return CDS_EBADPERIOD;
}

cds_period_type_t
cds_period_type_family(cds_period_type_t type)
{
    return (unsigned) type < CDS_PT_COUNT ? types[type].family : type;
}

/* Year and 1-based number of the period of weekly type pt holding day. */
static void
week_of_day(const struct ptype *pt, int32_t day, int *year, int *n)
{
    int y, m, d;
    cds_day_to_ymd(day, &y, &m, &d);
    if (day >= week1_start(y + 1, pt->first))
        y++;
    else if (day < week1_start(y, pt->first))
        y--;
    *year = y;
    *n = (day - week1_start(y, pt->first)) / (7 * pt->size) + 1;
}

int
cds_period_of_day(cds_period_type_t type, int32_t day, char *out,
                  size_t len)
{
    if ((unsigned) type >= CDS_PT_COUNT)
        return -1;
    const struct ptype *pt = &types[type];
    int y, m, d, n = 1, w;
    cds_day_to_ymd(day, &y, &m, &d);
    if (pt->kind == K_DAY) {
        if (y < YEAR_MIN || y > YEAR_MAX)
            return -1;
        w = snprintf(out, len, "%04d%02d%02d", y, m, d);
        return w < 0 || (size_t) w >= len ? -1 : 0;
    }
    if (pt->kind == K_WEEK) {
        week_of_day(pt, day, &y, &n);
    } else {
        int months = y * 12 + (m - 1) - pt->first;
        y = months / 12;
        n = months % 12 / pt->size + 1;
    }
    if (y < YEAR_MIN || y > YEAR_MAX)
        return -1;
    if (pt->num == N_NONE)
        w = snprintf(out, len, "%04d%s%s", y, pt->tag, pt->suffix);
    else
        w = snprintf(out, len, pt->num == N_TWO ? "%04d%s%02d%s"
                                                : "%04d%s%d%s",
                     y, pt->tag, n, pt->suffix);
    return w < 0 || (size_t) w >= len ? -1 : 0;
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

char *
cds_period_words_vi(const char *id, char *buf, size_t len)
{
    cds_period_t p;
    int y, m, d, y2, m2, d2;
    buf[0] = '\0';
    if (!id || cds_period_parse(id, &p) != CDS_OK)
        return buf;
    cds_day_to_ymd(p.start, &y, &m, &d);
    cds_day_to_ymd(p.end, &y2, &m2, &d2);
    switch (p.type) {
    case CDS_PT_DAILY:
        snprintf(buf, len, "ngày %d tháng %d năm %d", d, m, y);
        break;
    case CDS_PT_MONTHLY:
        snprintf(buf, len, "Tháng %d năm %d", m, y);
        break;
    case CDS_PT_QUARTERLY:
        snprintf(buf, len, "Quý %d năm %d", (m - 1) / 3 + 1, y);
        break;
    case CDS_PT_SIXMONTHLY:
        snprintf(buf, len, "6 tháng %s năm %d", m == 1 ? "đầu" : "cuối", y);
        break;
    case CDS_PT_YEARLY:
        snprintf(buf, len, "Năm %d", y);
        break;
    default:                           /* weeks, shifted and financial */
        snprintf(buf, len, "từ %02d/%02d/%d đến %02d/%02d/%d", d, m, y, d2,
                 m2, y2);
    }
    return buf;
}
