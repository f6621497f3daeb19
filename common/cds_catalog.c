/*  cds_catalog: the indicator catalog and value validation (see
 *  cds_catalog.h).
 *
 *  Rules the loader adds to the header's column list, because the
 *  aggregator could not roll a value up otherwise:
 *    - COUNT_TRUE only on BOOLEAN; BOOLEAN only COUNT_TRUE or NONE; TEXT
 *      only NONE; RATIO only on NUMBER or PERCENTAGE.
 *    - A PERCENTAGE is never summed or averaged across org units: the
 *      district share is sum(numerators) / sum(denominators) (RATIO).
 *    - A RATIO names two INTEGER indicators of the file with the same
 *      period type as itself; numerator/denominator only on a RATIO.
 *    - min/max only on numeric types; PERCENTAGE bounds lie in 0..100.
 *  Numbers are read and written in the C locale whatever the program's
 *  locale is, so "12,5" never becomes a valid number. */
#include "cds_catalog.h"

#include "cds_csv.h"
#include "cds_err.h"
#include "cds_util.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATALOG_MAX_BYTES (4u << 20) /* a real catalog is a few KiB */
#define NAME_MAX_BYTES 512           /* name_vi, name_en */
#define UNIT_MAX_BYTES 64

struct cds_catalog {
    char version[33];          /* 32 lowercase hex chars */
    cds_indicator_t *ind;      /* indicators in file order, owned */
    size_t *lines;             /* line each indicator was defined on */
    size_t n, cap;             /* used and allocated entries */
    const cds_indicator_t **sorted; /* pointers into ind, by code */
};

static const char *const vt_names[] = {
    "INTEGER", "NUMBER", "PERCENTAGE", "BOOLEAN", "TEXT",
};
static const char *const agg_names[] = {
    "NONE", "SUM", "AVERAGE", "MIN", "MAX", "COUNT_TRUE", "RATIO",
};

const char *
cds_value_type_name(cds_value_type_t t)
{
    return (unsigned) t <= CDS_VT_TEXT ? vt_names[t] : "unknown";
}

const char *
cds_agg_name(cds_agg_t a)
{
    return (unsigned) a <= CDS_AGG_RATIO ? agg_names[a] : "unknown";
}

/* ---------------------------------------------------------------- text */

/* Valid UTF-8 without C0/C1 control characters or DEL. */
static bool
clean_text(const char *s)
{
    size_t len = strlen(s);
    if (!cds_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == 0xC2 && i + 1 < len && (unsigned char) s[i + 1] < 0xA0)
            return false;      /* U+0080..U+009F */
    }
    return true;
}

/* ------------------------------------------------------------- numbers */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
}

/* Strict decimal grammar: [+-] digits [. digits] [e [+-] digits], with
 * digits on at least one side of the point. Rejects nan, inf, hex,
 * spaces and anything strtod would also take. */
static bool
number_syntax(const char *s)
{
    size_t i = 0, nd = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (s[i] >= '0' && s[i] <= '9')
        i++, nd++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, nd++;
    }
    if (nd == 0)
        return false;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!(s[i] >= '0' && s[i] <= '9'))
            return false;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return s[i] == '\0';
}

/* "12,5" style: what a Vietnamese spreadsheet writes. */
static bool
comma_decimal(const char *s)
{
    const char *c = strchr(s, ',');
    if (!c || strchr(c + 1, ','))
        return false;
    char tmp[80];
    if (strlen(s) >= sizeof tmp)
        return false;
    strcpy(tmp, s);
    tmp[c - s] = '.';
    return number_syntax(tmp);
}

/* Parse s as a finite double in the C locale. 0, -1 on overflow or
 * underflow (ERANGE). Syntax already checked. */
static int
c_strtod(const char *s, double *out)
{
    pthread_once(&c_locale_once, c_locale_init);
    errno = 0;
    double v = c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
    if (errno == ERANGE || !isfinite(v))
        return -1;
    *out = v == 0 ? 0.0 : v;   /* no "-0" */
    return 0;
}

/* The shortest "%.*g" text (fewest bytes; lowest precision on a tie) that
 * reads back to v: "1000" rather than "1e+03". buf >= 32 bytes. */
static const char *
fmt_number(double v, char *buf, size_t len)
{
    char try[40];
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t) 0;
    buf[0] = '\0';
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(try, sizeof try, "%.*g", prec, v);
        if (strtod(try, NULL) == v && (!buf[0] || strlen(try) < strlen(buf)))
            snprintf(buf, len, "%s", try);
    }
    if (old)
        uselocale(old);
    return buf;
}

/* ------------------------------------------------------ canonical values */

typedef struct {
    const char *in;            /* accepted spelling, lower case */
    bool value;
} bool_word_t;

/* t/f (any case) as DHIS2 accepts them for a BOOLEAN data value: its
 * ValidationUtils true/false variants are true/t/1 and false/f/0. */
static const bool_word_t bool_words[] = {
    {"true", true},       {"false", false},        {"1", true},
    {"0", false},         {"t", true},             {"f", false},
    {"yes", true},        {"no", false},           {"co", true},
    {"khong", false},     {"có", true},            {"không", false},     {"đạt", true},           {"không đạt", false},
    {"dat", true},        {"khong dat", false},
};

/* Lower-case s into out for the yes/no words: ASCII letters, and the
 * capitals of the Vietnamese letters they use (Ó Ô Đ Ạ), so "ĐẠT" and
 * "Không Đạt" are accepted. Hand-written: no Unicode library is linked,
 * and these four letters are all the words need. */
static void
fold_bool(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *) s;
         *p && o + 4 < len; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            out[o++] = (char) (*p + 32);
        } else if (p[0] == 0xC3 && (p[1] == 0x93 || p[1] == 0x94)) {
            out[o++] = (char) 0xC3;      /* Ó Ô -> ó ô */
            out[o++] = (char) (*++p + 0x20);
        } else if (p[0] == 0xC4 && p[1] == 0x90) {
            out[o++] = (char) 0xC4;      /* Đ -> đ */
            out[o++] = (char) 0x91;
            p++;
        } else if (p[0] == 0xE1 && p[1] == 0xBA && p[2] == 0xA0) {
            memcpy(out + o, "\xE1\xBA\xA1", 3); /* Ạ -> ạ */
            o += 3;
            p += 2;
        } else {
            out[o++] = (char) *p;
        }
    }
    out[o] = '\0';
}

static int
canon_boolean(const char *v, char *canon, size_t clen, double *num,
              char *err, size_t errlen, const char *shown)
{
    char low[32];
    fold_bool(v, low, sizeof low);
    for (size_t i = 0; i < sizeof bool_words / sizeof bool_words[0]; i++) {
        if (strlen(v) < sizeof low - 4 && strcmp(low, bool_words[i].in) == 0) {
            snprintf(canon, clen, "%s", bool_words[i].value ? "true" : "false");
            *num = bool_words[i].value ? 1 : 0;
            return CDS_OK;
        }
    }
    snprintf(err, errlen, "value \"%s\": not a yes/no value (use true/false, "
             "t/f, 1/0, yes/no, có/không or đạt/không đạt)", shown);
    return CDS_EBADVALUE;
}

static int
canon_integer(const char *v, char *canon, size_t clen, double *num,
              char *err, size_t errlen, const char *shown)
{
    size_t i = (v[0] == '+' || v[0] == '-') ? 1 : 0;
    bool ok = v[i] != '\0';
    for (size_t j = i; v[j]; j++)
        ok = ok && v[j] >= '0' && v[j] <= '9';
    if (!ok) {
        snprintf(err, errlen, "value \"%s\": not a whole number (digits "
                 "only, optional '-')", shown);
        return CDS_EBADVALUE;
    }
    errno = 0;
    long long n = strtoll(v, NULL, 10);
    if (errno == ERANGE) {
        snprintf(err, errlen, "value \"%s\": out of range for INTEGER "
                 "(beyond 64 bits)", shown);
        return CDS_ERANGE;
    }
    snprintf(canon, clen, "%lld", n);
    *num = (double) n;
    return CDS_OK;
}

static int
canon_number(const char *v, char *canon, size_t clen, double *num,
             char *err, size_t errlen, const char *shown)
{
    if (!number_syntax(v)) {
        size_t len = strlen(v);
        const char *hint = "";
        if (comma_decimal(v))
            hint = " (use '.' as the decimal separator)";
        else if (len > 1 && v[len - 1] == '%')
            hint = " (write the number without '%')";
        snprintf(err, errlen, "value \"%s\": not a number%s", shown, hint);
        return CDS_EBADVALUE;
    }
    double d;
    if (c_strtod(v, &d) < 0) {
        snprintf(err, errlen, "value \"%s\": out of range for a number",
                 shown);
        return CDS_ERANGE;
    }
    char buf[40];
    snprintf(canon, clen, "%s", fmt_number(d, buf, sizeof buf));
    *num = d;
    return CDS_OK;
}

static int
check_bounds(const cds_indicator_t *ind, double x, char *err, size_t errlen,
             const char *shown)
{
    char a[40], b[40];
    if (ind->type == CDS_VT_PERCENTAGE && (x < 0 || x > 100)) {
        snprintf(err, errlen, "value \"%s\": out of range 0..100 for "
                 "PERCENTAGE", shown);
        return CDS_ERANGE;
    }
    bool lo = ind->has_min && x < ind->min, hi = ind->has_max && x > ind->max;
    if (!lo && !hi)
        return CDS_OK;
    if (ind->has_min && ind->has_max)
        snprintf(err, errlen, "value \"%s\": out of range %s..%s for %s",
                 shown, fmt_number(ind->min, a, sizeof a),
                 fmt_number(ind->max, b, sizeof b), ind->code);
    else
        snprintf(err, errlen, "value \"%s\": %s %s for %s", shown,
                 lo ? "below the minimum" : "above the maximum",
                 fmt_number(lo ? ind->min : ind->max, a, sizeof a),
                 ind->code);
    return CDS_ERANGE;
}

int
cds_value_canonical(const cds_indicator_t *ind, const char *value,
                    char *canon, size_t canon_len, double *num,
                    char *err, size_t errlen)
{
    char shown[340];
    const char *v = value ? value : "";
    size_t len = strlen(v);
    cds_csv_show(v, shown, sizeof shown);
    if (len == 0) {
        snprintf(err, errlen, "value \"\": empty (delete the value instead)");
        return CDS_EBADVALUE;
    }
    if (len > CDS_MAX_VALUE) {
        snprintf(err, errlen, "value \"%s\": longer than %d bytes", shown,
                 CDS_MAX_VALUE);
        return CDS_EBADVALUE;
    }
    char out[CDS_MAX_VALUE + 1];
    double x = 0;
    int rc;
    switch (ind->type) {
    case CDS_VT_INTEGER:
        rc = canon_integer(v, out, sizeof out, &x, err, errlen, shown);
        break;
    case CDS_VT_NUMBER:
    case CDS_VT_PERCENTAGE:
        rc = canon_number(v, out, sizeof out, &x, err, errlen, shown);
        break;
    case CDS_VT_BOOLEAN:
        rc = canon_boolean(v, out, sizeof out, &x, err, errlen, shown);
        break;
    case CDS_VT_TEXT:
        rc = CDS_OK;
        if (!clean_text(v)) {
            snprintf(err, errlen, "value \"%s\": not valid UTF-8 text or "
                     "holds control characters", shown);
            rc = CDS_EBADVALUE;
        }
        snprintf(out, sizeof out, "%s", v);
        break;
    default:
        snprintf(err, errlen, "value \"%s\": indicator %s has no valid "
                 "value type", shown, ind->code);
        return CDS_EBADVALUE;
    }
    if (rc == CDS_OK && ind->type != CDS_VT_TEXT
        && ind->type != CDS_VT_BOOLEAN)
        rc = check_bounds(ind, x, err, errlen, shown);
    if (rc != CDS_OK)
        return rc;
    if (strlen(out) >= canon_len) {
        snprintf(err, errlen, "value \"%s\": canonical form does not fit",
                 shown);
        return CDS_EBADVALUE;
    }
    strcpy(canon, out);
    *num = x;
    return CDS_OK;
}

/* ------------------------------------------------------------- loading */

enum {
    C_CODE, C_NAME_VI, C_NAME_EN, C_UNIT, C_VT, C_AGG, C_PT, C_MIN, C_MAX,
    C_NUM, C_DEN, C_SRC, C__COUNT
};
static const char *const col_names[C__COUNT] = {
    "code", "name_vi", "name_en", "unit", "value_type", "aggregation",
    "period_type", "min", "max", "numerator", "denominator", "source",
};

typedef struct {
    cds_csv_t *csv;            /* the reader */
    const char *path;          /* for messages */
    int col[C__COUNT];         /* header index of each column, -1 absent */
    char *err;                 /* caller's message buffer */
    size_t errlen;
    FILE *all;                 /* cds_catalog_check: every row problem
                                * goes here and loading goes on; NULL:
                                * stop at the first */
    size_t bad;                /* problems written to all */
} loader_t;

/* A row problem in err: stop (-1), or, when checking, report it and go
 * on with the next row (0). */
static int
row_problem(loader_t *ld)
{
    if (!ld->all)
        return -1;
    fprintf(ld->all, "%s\n", ld->err);
    ld->bad++;
    return 0;
}

/* "path:line: column: problem (value "X")"; value may be NULL. */
static int
row_error(loader_t *ld, size_t line, int col, const char *problem,
          const char *value)
{
    return cds_csv_error(ld->err, ld->errlen, ld->path, line, col_names[col],
                         problem, value);
}

static const char *
cell(loader_t *ld, int col)
{
    return cds_csv_get(ld->csv, ld->col[col]);
}

static void
indicator_free(cds_indicator_t *ind)
{
    free(ind->code);
    free(ind->name_vi);
    free(ind->name_en);
    free(ind->unit);
    free(ind->numerator);
    free(ind->denominator);
    memset(ind, 0, sizeof *ind);
}

static int
parse_code(loader_t *ld, size_t line, cds_indicator_t *ind)
{
    const char *s = cell(ld, C_CODE);
    size_t len = strlen(s);
    if (len == 0)
        return row_error(ld, line, C_CODE, "empty", NULL);
    if (len > CDS_MAX_CODE)
        return row_error(ld, line, C_CODE, "longer than 64 bytes", s);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return row_error(ld, line, C_CODE, "only A-Z, 0-9 and '_' "
                             "are allowed", s);
    }
    ind->code = strdup(s);
    return ind->code ? 0 : row_error(ld, line, C_CODE, "out of memory", NULL);
}

/* Copy a text column into *out after checking it. */
static int
parse_text(loader_t *ld, size_t line, int col, bool required, size_t max,
           char **out)
{
    const char *s = cell(ld, col);
    if (required && !s[0])
        return row_error(ld, line, col, "empty", NULL);
    if (strlen(s) > max) {
        char msg[48];
        snprintf(msg, sizeof msg, "longer than %zu bytes", max);
        return row_error(ld, line, col, msg, s);
    }
    if (!clean_text(s))
        return row_error(ld, line, col, "not valid UTF-8 text or holds "
                         "control characters", s);
    *out = strdup(s);
    return *out ? 0 : row_error(ld, line, col, "out of memory", NULL);
}

static int
parse_kinds(loader_t *ld, size_t line, cds_indicator_t *ind)
{
    const char *vt = cell(ld, C_VT), *agg = cell(ld, C_AGG);
    const char *pt = cell(ld, C_PT);
    int t = -1, a = -1;
    for (int i = 0; i <= CDS_VT_TEXT; i++)
        if (strcmp(vt, vt_names[i]) == 0)
            t = i;
    if (t < 0)
        return row_error(ld, line, C_VT, "unknown value type (INTEGER, "
                         "NUMBER, PERCENTAGE, BOOLEAN or TEXT)", vt);
    for (int i = 0; i <= CDS_AGG_RATIO; i++)
        if (strcmp(agg, agg_names[i]) == 0)
            a = i;
    if (!agg[0])
        a = CDS_AGG_NONE;
    if (a < 0)
        return row_error(ld, line, C_AGG, "unknown aggregation (SUM, "
                         "AVERAGE, MIN, MAX, NONE, COUNT_TRUE or RATIO)", agg);
    ind->type = (cds_value_type_t) t;
    ind->agg = (cds_agg_t) a;
    ind->has_period_type = pt[0] != '\0';
    if (pt[0] && cds_period_type_parse(pt, &ind->period_type) != CDS_OK)
        return row_error(ld, line, C_PT, "unknown period type (a DHIS2 "
                         "name: Yearly, SixMonthly, Quarterly, Monthly, "
                         "Weekly, Daily, FinancialApril, BiWeekly, ...: "
                         "docs/ADMIN.md)", pt);
    return 0;
}

/* The aggregation must make sense for the value type (see top). */
static int
check_kinds(loader_t *ld, size_t line, const cds_indicator_t *ind)
{
    const char *agg = cds_agg_name(ind->agg);
    cds_value_type_t t = ind->type;
    cds_agg_t a = ind->agg;
    if (a == CDS_AGG_COUNT_TRUE && t != CDS_VT_BOOLEAN)
        return row_error(ld, line, C_AGG, "COUNT_TRUE needs a BOOLEAN "
                         "value type", agg);
    if (t == CDS_VT_BOOLEAN && a != CDS_AGG_COUNT_TRUE && a != CDS_AGG_NONE)
        return row_error(ld, line, C_AGG, "a BOOLEAN rolls up with "
                         "COUNT_TRUE or NONE", agg);
    if (t == CDS_VT_TEXT && a != CDS_AGG_NONE)
        return row_error(ld, line, C_AGG, "a TEXT rolls up with NONE", agg);
    if (a == CDS_AGG_RATIO && t != CDS_VT_PERCENTAGE && t != CDS_VT_NUMBER)
        return row_error(ld, line, C_AGG, "RATIO needs a PERCENTAGE or "
                         "NUMBER value type", agg);
    if (t == CDS_VT_PERCENTAGE && (a == CDS_AGG_SUM || a == CDS_AGG_AVERAGE))
        return row_error(ld, line, C_AGG, "percentages are never summed or "
                         "averaged: use RATIO with numerator and denominator "
                         "counts", agg);
    return 0;
}

static int
parse_bound(loader_t *ld, size_t line, int col, const cds_indicator_t *ind,
            bool *has, double *v)
{
    const char *s = cell(ld, col);
    *has = s[0] != '\0';
    if (!*has)
        return 0;
    if (ind->type == CDS_VT_BOOLEAN || ind->type == CDS_VT_TEXT)
        return row_error(ld, line, col, "bounds apply only to INTEGER, "
                         "NUMBER and PERCENTAGE", s);
    if (!number_syntax(s) || c_strtod(s, v) < 0)
        return row_error(ld, line, col, comma_decimal(s)
                         ? "not a number (use '.' as the decimal separator)"
                         : "not a number", s);
    if (ind->type == CDS_VT_PERCENTAGE && (*v < 0 || *v > 100))
        return row_error(ld, line, col, "a PERCENTAGE bound lies in 0..100",
                         s);
    return 0;
}

static int
parse_bounds(loader_t *ld, size_t line, cds_indicator_t *ind)
{
    if (parse_bound(ld, line, C_MIN, ind, &ind->has_min, &ind->min) < 0
        || parse_bound(ld, line, C_MAX, ind, &ind->has_max, &ind->max) < 0)
        return -1;
    if (ind->has_min && ind->has_max && ind->min > ind->max)
        return row_error(ld, line, C_MAX, "smaller than min", cell(ld, C_MAX));
    if (ind->type == CDS_VT_PERCENTAGE) {  /* always 0..100 */
        if (!ind->has_min)
            ind->min = 0;
        if (!ind->has_max)
            ind->max = 100;
        ind->has_min = ind->has_max = true;
    }
    return 0;
}

/* Syntax of numerator/denominator; that they exist is checked later. */
static int
parse_ratio(loader_t *ld, size_t line, cds_indicator_t *ind)
{
    const char *num = cell(ld, C_NUM), *den = cell(ld, C_DEN);
    if (ind->agg != CDS_AGG_RATIO) {
        if (num[0])
            return row_error(ld, line, C_NUM, "only a RATIO has a "
                             "numerator", num);
        if (den[0])
            return row_error(ld, line, C_DEN, "only a RATIO has a "
                             "denominator", den);
        return 0;
    }
    if (!num[0])
        return row_error(ld, line, C_NUM, "a RATIO needs a numerator "
                         "indicator code", NULL);
    if (!den[0])
        return row_error(ld, line, C_DEN, "a RATIO needs a denominator "
                         "indicator code", NULL);
    ind->numerator = strdup(num);
    ind->denominator = strdup(den);
    if (!ind->numerator || !ind->denominator)
        return row_error(ld, line, C_NUM, "out of memory", NULL);
    return 0;
}

static int
parse_row(loader_t *ld, cds_indicator_t *ind)
{
    size_t line = cds_csv_line(ld->csv);
    memset(ind, 0, sizeof *ind);
    if (parse_code(ld, line, ind) < 0
        || parse_text(ld, line, C_NAME_VI, true, NAME_MAX_BYTES,
                      &ind->name_vi) < 0
        || parse_text(ld, line, C_NAME_EN, false, NAME_MAX_BYTES,
                      &ind->name_en) < 0
        || parse_text(ld, line, C_UNIT, false, UNIT_MAX_BYTES,
                      &ind->unit) < 0
        || parse_kinds(ld, line, ind) < 0 || check_kinds(ld, line, ind) < 0
        || parse_bounds(ld, line, ind) < 0 || parse_ratio(ld, line, ind) < 0)
        goto fail;
    const char *src = cell(ld, C_SRC);
    if (!cds_utf8_valid(src, strlen(src))) {
        row_error(ld, line, C_SRC, "not valid UTF-8", src);
        goto fail;
    }
    return 0;
fail:
    indicator_free(ind);
    return -1;
}

static int
cmp_ind_ptr(const void *a, const void *b)
{
    const cds_indicator_t *x = *(const cds_indicator_t *const *) a;
    const cds_indicator_t *y = *(const cds_indicator_t *const *) b;
    return strcmp(x->code, y->code);
}

static int
cmp_key_ind(const void *key, const void *elem)
{
    const cds_indicator_t *y = *(const cds_indicator_t *const *) elem;
    return strcmp((const char *) key, y->code);
}

static size_t
line_of(const cds_catalog_t *self, const cds_indicator_t *ind)
{
    return self->lines[ind - self->ind];
}

/* Build the sorted index; a duplicate code is reported at its second
 * definition (the earliest such line in the file). */
static int
build_index(cds_catalog_t *self, loader_t *ld)
{
    self->sorted = calloc(self->n ? self->n : 1, sizeof *self->sorted);
    if (!self->sorted)
        return row_error(ld, 1, C_CODE, "out of memory", NULL);
    for (size_t i = 0; i < self->n; i++)
        self->sorted[i] = &self->ind[i];
    qsort(self->sorted, self->n, sizeof *self->sorted, cmp_ind_ptr);
    size_t dup = 0, first = 0;
    const char *code = NULL;
    for (size_t i = 1; i < self->n; i++) {
        if (strcmp(self->sorted[i]->code, self->sorted[i - 1]->code) != 0)
            continue;
        size_t a = line_of(self, self->sorted[i - 1]);
        size_t b = line_of(self, self->sorted[i]);
        size_t lo = a < b ? a : b, hi = a < b ? b : a;
        if (dup == 0 || hi < dup) {
            dup = hi;
            first = lo;
            code = self->sorted[i]->code;
        }
    }
    if (dup) {
        char msg[64];
        snprintf(msg, sizeof msg, "duplicate code, first defined on line %zu",
                 first);
        return row_error(ld, dup, C_CODE, msg, code);
    }
    return 0;
}

/* A RATIO's counts exist, are INTEGER and share its period type. */
static int
check_ratio_ref(cds_catalog_t *self, loader_t *ld, const cds_indicator_t *r,
                int col, const char *code)
{
    size_t line = line_of(self, r);
    const cds_indicator_t *c = cds_catalog_find(self, code);
    if (!c)
        return row_error(ld, line, col, "no indicator with this code in the "
                         "catalog", code);
    if (c == r)
        return row_error(ld, line, col, "a RATIO cannot name itself", code);
    if (c->type != CDS_VT_INTEGER)
        return row_error(ld, line, col, "must name an INTEGER indicator",
                         code);
    if (c->has_period_type != r->has_period_type
        || (r->has_period_type && c->period_type != r->period_type))
        return row_error(ld, line, col, "must have the same period_type as "
                         "the RATIO", code);
    return 0;
}

static int
check_ratios(cds_catalog_t *self, loader_t *ld)
{
    for (size_t i = 0; i < self->n; i++) {
        const cds_indicator_t *r = &self->ind[i];
        if (r->agg != CDS_AGG_RATIO)
            continue;
        if ((check_ratio_ref(self, ld, r, C_NUM, r->numerator) < 0
             || check_ratio_ref(self, ld, r, C_DEN, r->denominator) < 0)
            && row_problem(ld) < 0)
            return -1;
    }
    return 0;
}

static int
append(cds_catalog_t *self, const cds_indicator_t *ind, size_t line)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 32;
        cds_indicator_t *a = realloc(self->ind, cap * sizeof *a);
        if (!a)
            return -1;
        self->ind = a;
        size_t *l = realloc(self->lines, cap * sizeof *l);
        if (!l)
            return -1;
        self->lines = l;
        self->cap = cap;
    }
    self->ind[self->n] = *ind;
    self->lines[self->n++] = line;
    return 0;
}

/* Header columns, then every row. */
static int
read_rows(cds_catalog_t *self, loader_t *ld)
{
    if (cds_csv_read_header(ld->csv, ld->err, ld->errlen) < 0)
        return -1;
    size_t hline = cds_csv_line(ld->csv);
    for (int c = 0; c < C__COUNT; c++)
        ld->col[c] = cds_csv_column(ld->csv, col_names[c]);
    const int required[] = {C_CODE, C_NAME_VI, C_VT};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (ld->col[required[i]] < 0)
            return row_error(ld, hline, required[i],
                             "required column missing from the header", NULL);
    int rc;
    while ((rc = cds_csv_next(ld->csv, ld->err, ld->errlen)) == 1) {
        cds_indicator_t ind;
        if (parse_row(ld, &ind) < 0) {
            if (row_problem(ld) < 0)
                return -1;
            continue;
        }
        if (append(self, &ind, cds_csv_line(ld->csv)) < 0) {
            indicator_free(&ind);
            return row_error(ld, cds_csv_line(ld->csv), C_CODE,
                             "out of memory", NULL);
        }
    }
    if (rc < 0)
        return -1;
    if (self->n == 0 && ld->bad == 0)
        return row_error(ld, hline, C_CODE, "the catalog defines no "
                         "indicator", NULL);
    return 0;
}

static int
compute_version(cds_catalog_t *self, const char *data, size_t len)
{
    uint8_t h[crypto_generichash_BYTES];
    if (sodium_init() < 0)
        return -1;
    crypto_generichash(h, sizeof h, (const unsigned char *) data, len,
                       NULL, 0);
    sodium_bin2hex(self->version, sizeof self->version, h, 16);
    return 0;
}

/* Parse data (len bytes, named path in messages); with ld->all set, row
 * problems are reported there and counted in ld->bad instead of ending
 * the load. */
static cds_catalog_t *
parse(const char *path, const char *data, size_t len, loader_t *ld)
{
    char *err = ld->err;
    size_t errlen = ld->errlen;
    cds_catalog_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (compute_version(self, data, len) < 0) {
        snprintf(err, errlen, "%s: libsodium failed to initialise", path);
        goto fail;
    }
    ld->csv = cds_csv_open_mem(data, len, path, err, errlen);
    if (!ld->csv || read_rows(self, ld) < 0 || build_index(self, ld) < 0
        || check_ratios(self, ld) < 0)
        goto fail;
    cds_csv_destroy(&ld->csv);
    return self;
fail:
    cds_csv_destroy(&ld->csv);
    cds_catalog_destroy(&self);
    return NULL;
}

/* Load path (parse). */
static cds_catalog_t *
load(const char *path, loader_t *ld)
{
    char *data = NULL;
    size_t len = 0;
    int rc = cds_read_file(path, CATALOG_MAX_BYTES, &data, &len);
    if (rc != CDS_OK) {
        snprintf(ld->err, ld->errlen, "%s: %s", path, rc == CDS_ETOOBIG
                 ? "larger than 4 MiB" : strerror(errno));
        free(data);
        return NULL;
    }
    cds_catalog_t *self = parse(path, data, len, ld);
    free(data);
    return self;
}

cds_catalog_t *
cds_catalog_parse(const char *name, const char *data, size_t len, char *err,
                  size_t errlen)
{
    if (len > CATALOG_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than 4 MiB", name);
        return NULL;
    }
    loader_t ld = {.path = name, .err = err, .errlen = errlen};
    return parse(name, data, len, &ld);
}

cds_catalog_t *
cds_catalog_load(const char *path, char *err, size_t errlen)
{
    loader_t ld = {.path = path, .err = err, .errlen = errlen};
    return load(path, &ld);
}

size_t
cds_catalog_check(const char *path, void *out)
{
    char err[1024] = "";
    loader_t ld = {.path = path, .err = err, .errlen = sizeof err,
                   .all = out};
    cds_catalog_t *self = load(path, &ld);
    if (!self) {               /* a problem that ends the file's reading */
        fprintf(out, "%s\n", err);
        ld.bad++;
    }
    cds_catalog_destroy(&self);
    return ld.bad;
}

void
cds_catalog_destroy(cds_catalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_catalog_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        indicator_free(&self->ind[i]);
    free(self->ind);
    free(self->lines);
    free(self->sorted);
    free(self);
    *self_p = NULL;
}

const char *
cds_catalog_version(const cds_catalog_t *self)
{
    return self->version;
}

size_t
cds_catalog_size(const cds_catalog_t *self)
{
    return self->n;
}

const cds_indicator_t *
cds_catalog_at(const cds_catalog_t *self, size_t i)
{
    return i < self->n ? &self->ind[i] : NULL;
}

const cds_indicator_t *
cds_catalog_find(const cds_catalog_t *self, const char *code)
{
    if (!self->sorted || !code)
        return NULL;
    const cds_indicator_t *const *hit =
        bsearch(code, self->sorted, self->n, sizeof *self->sorted,
                cmp_key_ind);
    return hit ? *hit : NULL;
}

/* ------------------------------------------------------- update checks */

/* DHIS2 CSV column names for the update fields, and their values. */
static const char *
dhis2_field(const char *f, const cds_update_t *u, const char **value)
{
    static const struct {
        const char *ours, *dhis2;
    } names[] = {
        {"org_unit", "orgunit"},    {"orgunit", "orgunit"},
        {"indicator", "dataelement"}, {"dataelement", "dataelement"},
        {"period", "period"},       {"disagg", "categoryoptioncombo"},
        {"categoryoptioncombo", "categoryoptioncombo"},
        {"value", "value"},         {"comment", "comment"},
        {"stored_by", "storedby"},  {"storedby", "storedby"},
    };
    const char *const vals[] = {
        u->org_unit, u->org_unit, u->indicator, u->indicator, u->period,
        u->disagg, u->disagg, u->value, u->comment, u->stored_by,
        u->stored_by,
    };
    *value = NULL;
    for (size_t i = 0; f && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(f, names[i].ours) == 0) {
            *value = vals[i];
            return names[i].dhis2;
        }
    }
    return f ? f : "update";
}

/* Message for a cds_update_check_fields failure: say which rule broke. */
static int
field_error(const cds_update_t *u, int rc, const char *f, const char **field,
            char *err, size_t errlen)
{
    const char *v;
    char shown[340];
    *field = dhis2_field(f, u, &v);
    size_t len = v ? strlen(v) : 0;
    bool text = f && (strcmp(f, "value") == 0 || strcmp(f, "comment") == 0
                      || strcmp(f, "storedby") == 0);
    const char *why = rc == CDS_ETOOBIG ? "too long"
                      : !v || !len      ? "empty"
                      : !cds_utf8_valid(v, len) ? "not valid UTF-8"
                      : text ? "holds a control character (only a comment may "
                               "hold TAB, LF, CR)"
                      : "not a code (printable ASCII, no spaces)";
    snprintf(err, errlen, "%s \"%s\": %s", *field,
             cds_csv_show(v ? v : "", shown, sizeof shown), why);
    return rc;
}

static int
check_period(const cds_indicator_t *ind,
             const char *period, const char **field, char *err,
             size_t errlen)
{
    cds_period_t p;
    char shown[340];
    *field = "period";
    cds_csv_show(period, shown, sizeof shown);
    if (cds_period_parse(period, &p) != CDS_OK) {
        snprintf(err, errlen, "period \"%s\": not a DHIS2 period identifier "
                 "(2023, 2023S1, 2023Q1, 202303, 2023W10, 20230315, "
                 "2023April, 202301B, ...)", shown);
        return CDS_EBADPERIOD;
    }
    if (ind->has_period_type && p.type != ind->period_type) {
        snprintf(err, errlen, "period \"%s\": %s expects a %s period", shown,
                 ind->code, cds_period_type_name(ind->period_type));
        return CDS_EBADPERIOD;
    }
    return CDS_OK;
}

int
cds_catalog_check_update(const cds_catalog_t *self, const cds_update_t *u,
                         const char **field, char *err, size_t errlen)
{
    const char *f = NULL;
    char shown[340];
    int rc = cds_update_check_fields(u, &f);
    if (rc != CDS_OK)
        return field_error(u, rc, f, field, err, errlen);
    const cds_indicator_t *ind = cds_catalog_find(self, u->indicator);
    if (!ind) {
        *field = "dataelement";
        snprintf(err, errlen, "dataelement \"%s\": not in the catalog "
                 "(version %s)", cds_csv_show(u->indicator ? u->indicator : "",
                 shown, sizeof shown), self->version);
        return CDS_EUNKNOWNINDICATOR;
    }
    rc = check_period(ind, u->period ? u->period : "", field, err,
                      errlen);
    if (rc != CDS_OK)
        return rc;
    if (u->disagg && strcmp(u->disagg, "default") != 0) {
        *field = "categoryoptioncombo";
        snprintf(err, errlen, "categoryoptioncombo \"%s\": only \"default\" "
                 "is supported", cds_csv_show(u->disagg, shown, sizeof shown));
        return CDS_EBADFIELD;
    }
    if (u->deleted)
        return CDS_OK;
    char canon[CDS_MAX_VALUE + 1];
    double num;
    *field = "value";
    rc = cds_value_canonical(ind, u->value, canon, sizeof canon, &num, err,
                             errlen);
    if (rc != CDS_OK)
        return rc;
    if (strcmp(canon, u->value) != 0) {   /* hashes cover the exact text */
        snprintf(err, errlen, "value \"%s\": not in canonical form "
                 "(expected \"%s\")", cds_csv_show(u->value, shown, sizeof shown),
                 canon);
        return CDS_EBADVALUE;
    }
    *field = NULL;
    return CDS_OK;
}
