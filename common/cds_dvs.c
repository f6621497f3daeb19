/*  cds_dvs: DHIS2 dataValueSet reader (see cds_dvs.h). The CSV side maps
 *  each field to a column (by header name or by DHIS2's positions) and
 *  hands rows over; the JSON side flattens the set-level members of the
 *  single-form layout into each dataValue. Checking is the caller's. */
#include "cds_dvs.h"

#include "cds_csv.h"
#include "cds_err.h"
#include "cds_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Header spellings; the first of each field is the long name DHIS2 writes.
 * The abbreviations are the ones DHIS2's import documentation lists. */
static const struct {
    cds_dvs_field_t f;
    const char *name;
} names[] = {
    {CDS_DVS_DE, "dataelement"},          {CDS_DVS_DE, "de"},
    {CDS_DVS_PE, "period"},               {CDS_DVS_PE, "pe"},
    {CDS_DVS_OU, "orgunit"},              {CDS_DVS_OU, "ou"},
    {CDS_DVS_COC, "categoryoptioncombo"}, {CDS_DVS_COC, "catoptcombo"},
    {CDS_DVS_COC, "co"},                  {CDS_DVS_COC, "coc"},
    {CDS_DVS_AOC, "attributeoptioncombo"}, {CDS_DVS_AOC, "attroptcombo"},
    {CDS_DVS_AOC, "ao"},                  {CDS_DVS_AOC, "aoc"},
    {CDS_DVS_VALUE, "value"},             {CDS_DVS_STOREDBY, "storedby"},
    {CDS_DVS_STOREDBY, "strby"},          {CDS_DVS_LASTUPDATED, "lastupdated"},
    {CDS_DVS_LASTUPDATED, "lstupd"},      {CDS_DVS_COMMENT, "comment"},
    {CDS_DVS_COMMENT, "cmt"},             {CDS_DVS_FOLLOWUP, "followup"},
    {CDS_DVS_FOLLOWUP, "flwup"},          {CDS_DVS_DELETED, "deleted"},
    {CDS_DVS_DELETED, "del"},             {CDS_DVS_CREATED, "created"},
    {CDS_DVS_DATASET, "dataset"},         {CDS_DVS_COMPLETEDATE, "completedate"},
};

/* JSON member names, per field. */
static const char *const json_names[CDS_DVS__COUNT] = {
    "dataElement", "period", "orgUnit", "categoryOptionCombo",
    "attributeOptionCombo", "value", "storedBy", "lastUpdated", "comment",
    "followup", "deleted", "created", "dataSet", "completeDate",
};

const char *
cds_dvs_name(cds_dvs_field_t f)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].f == f)
            return names[i].name;
    return "?";
}

int
cds_dvs_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(names[i].name, name) == 0)
            return (int) names[i].f;
    return -1;
}

int
cds_dvs_flag(const char *s)
{
    if (!s || !*s || !strcasecmp(s, "false") || !strcasecmp(s, "f")
        || !strcmp(s, "0"))
        return 0;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "t") || !strcmp(s, "1"))
        return 1;
    return -1;
}

int
cds_dvs_row_refusal(const cds_dvs_row_t *row, const char **field, char *msg,
                    size_t len)
{
    char shown[300];
    static const cds_dvs_field_t flags[] = {CDS_DVS_DELETED, CDS_DVS_FOLLOWUP};
    for (int i = 0; i < 2; i++)
        if (cds_dvs_flag(row->f[flags[i]]) < 0) {
            *field = cds_dvs_name(flags[i]);
            snprintf(msg, len, "\"%s\": expected true or false (t/f, 1/0)",
                     cds_csv_show(row->f[flags[i]], shown, sizeof shown));
            return -1;
        }
    const char *aoc = row->f[CDS_DVS_AOC];
    if (*aoc && strcmp(aoc, "default") != 0) {
        *field = cds_dvs_name(CDS_DVS_AOC);
        snprintf(msg, len, "\"%s\": attribute option combos are not "
                 "supported, only \"default\" (or empty)",
                 cds_csv_show(aoc, shown, sizeof shown));
        return -1;
    }
    return 0;
}

/* n digits of s as a number into *v; false when one is not a digit. */
static bool
digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* The zone suffix at z: "", Z, +HH, +HHMM, +HH:MM (or -). Seconds east of
 * UTC into *off; false when malformed. */
static bool
zone(const char *z, long *off)
{
    int h = 0, m = 0;
    *off = 0;
    if (!*z || !strcmp(z, "Z"))
        return true;
    if ((*z != '+' && *z != '-') || !digits(z + 1, 2, &h) || h > 23)
        return false;
    const char *mm = z[3] == ':' ? z + 4 : z + 3;
    if (*mm && (strlen(mm) != 2 || !digits(mm, 2, &m) || m > 59))
        return false;
    if (!*mm && z[3] == ':')
        return false;
    *off = (*z == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    return true;
}

int
cds_dvs_time(const char *s, uint64_t *ms)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    long off = 0;
    *ms = 0;
    if (!*s)
        return 0;
    if (strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-'
        || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi))
            return -1;
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                return -1;
            p += 3;
        }
        if (*p == '.') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 3)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return -1;
            for (; n < 3; n++)
                frac *= 10;
        }
    }
    if (y < 1970 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > 31
        || h > 23 || mi > 59 || sec > 60 || !zone(p, &off))
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != d || (long long) t - off < 0)
        return -1;                     /* 2025-02-30 normalised: refused */
    *ms = (uint64_t) ((long long) t - off) * 1000u + (uint64_t) frac;
    return 0;
}

int
cds_dvs_row_times(const cds_dvs_row_t *row, uint64_t *created_ms,
                  uint64_t *updated_ms, const char **field, char *msg,
                  size_t len)
{
    char shown[300];
    const cds_dvs_field_t f[] = {CDS_DVS_CREATED, CDS_DVS_LASTUPDATED};
    uint64_t *out[] = {created_ms, updated_ms};
    for (int i = 0; i < 2; i++)
        if (cds_dvs_time(row->f[f[i]], out[i]) != 0) {
            *field = cds_dvs_name(f[i]);
            snprintf(msg, len, "\"%s\": not a DHIS2 timestamp "
                     "(2025-04-02 or 2025-04-02T08:15:00.000, zone optional)",
                     cds_csv_show(row->f[f[i]], shown, sizeof shown));
            return -1;
        }
    return 0;
}

int
cds_dvs_header_flags(bool header, bool no_header, cds_dvs_header_t *out)
{
    if (header && no_header)
        return -1;
    *out = header ? CDS_DVS_HEADER_YES
                  : no_header ? CDS_DVS_HEADER_NO : CDS_DVS_HEADER_AUTO;
    return 0;
}

/* ---- CSV ---------------------------------------------------------------- */

/* Is the current record a header? Its second cell is not a period (every
 * DHIS2 period, ADX form included, starts with the year's digit) and one
 * of its first three cells names a field. A data row whose codes happen
 * to spell a name ("CO", "OU") stays data: its second cell is a period. */
static bool
looks_like_header(const cds_csv_t *csv)
{
    const char *pe = cds_csv_field(csv, 1);
    if (pe && *pe >= '0' && *pe <= '9')
        return false;
    for (size_t i = 0; i < 3 && i < cds_csv_count(csv); i++)
        if (cds_dvs_lookup(cds_csv_field(csv, i)) >= 0)
            return true;
    return false;
}

/* Map the header record's cells to fields into col (0-based, -1 none). */
static int
map_header(const char *path, const cds_csv_t *csv, int *col, char *err,
           size_t errlen)
{
    char shown[300];
    for (size_t i = 0; i < cds_csv_count(csv); i++) {
        const char *cell = cds_csv_field(csv, i);
        int f = cds_dvs_lookup(cell);
        if (f < 0)
            continue;                  /* unknown columns are ignored */
        if (col[f] >= 0) {
            snprintf(err, errlen, "%s:%zu: header: column %zu \"%s\" names "
                     "%s again (already column %d)", path, cds_csv_line(csv),
                     i + 1, cds_csv_show(cell, shown, sizeof shown),
                     cds_dvs_name((cds_dvs_field_t) f), col[f] + 1);
            return CDS_EMALFORMED;
        }
        col[f] = (int) i;
    }
    for (int f = CDS_DVS_DE; f <= CDS_DVS_OU; f++)
        if (col[f] < 0) {
            snprintf(err, errlen, "%s:%zu: header: missing column \"%s\"",
                     path, cds_csv_line(csv), cds_dvs_name((cds_dvs_field_t) f));
            return CDS_EMALFORMED;
        }
    return CDS_OK;
}

/* Hand the current record over as a row, fields by col. */
static int
csv_row(const char *path, cds_csv_t *csv, const int *col, size_t ncols,
        cds_dvs_row_fn *fn, void *arg, char *err, size_t errlen)
{
    cds_dvs_row_t row;
    memset(&row, 0, sizeof row);
    row.line = cds_csv_line(csv);
    if (ncols && cds_csv_count(csv) != ncols) {
        snprintf(err, errlen, "%s:%zu: %zu fields, but the header has %zu",
                 path, row.line, cds_csv_count(csv), ncols);
        return CDS_EMALFORMED;
    }
    for (int f = 0; f < CDS_DVS__COUNT; f++) {
        const char *v = col[f] >= 0 ? cds_csv_field(csv, (size_t) col[f])
                                    : NULL;
        row.f[f] = v ? v : "";
        row.col[f] = v ? col[f] + 1 : 0;
    }
    return fn(arg, &row);
}

static int
read_csv(const char *path, const char *data, size_t len,
         cds_dvs_header_t header, cds_dvs_row_fn *fn, void *arg, char *err,
         size_t errlen)
{
    int col[CDS_DVS__COUNT];
    size_t ncols = 0, rows = 0;
    cds_csv_t *csv = cds_csv_open_mem(data, len, path, err, errlen);
    if (!csv)
        return CDS_EMALFORMED;
    int more = cds_csv_next(csv, err, errlen), rc = CDS_OK;
    if (more == 0) {
        snprintf(err, errlen, "%s: no data rows", path);
        rc = CDS_EMALFORMED;
    }
    bool has_header = more > 0 && (header == CDS_DVS_HEADER_YES
                                   || (header == CDS_DVS_HEADER_AUTO
                                       && looks_like_header(csv)));
    for (int f = 0; f < CDS_DVS__COUNT; f++)    /* DHIS2's positions */
        col[f] = has_header || f > CDS_DVS_DELETED ? -1 : f;
    if (has_header) {
        rc = map_header(path, csv, col, err, errlen);
        ncols = cds_csv_count(csv);
        more = rc == CDS_OK ? cds_csv_next(csv, err, errlen) : 0;
    }
    for (; rc == CDS_OK && more > 0; more = cds_csv_next(csv, err, errlen)) {
        if (++rows > CDS_DVS_MAX_ROWS) {
            snprintf(err, errlen, "%s: more than %d rows", path,
                     CDS_DVS_MAX_ROWS);
            rc = CDS_ETOOBIG;
            break;
        }
        rc = csv_row(path, csv, col, ncols, fn, arg, err, errlen);
    }
    if (rc == CDS_OK && more < 0)
        rc = CDS_EMALFORMED;           /* err: "path:line: problem" */
    if (rc == CDS_OK && rows == 0) {   /* a header and nothing else */
        snprintf(err, errlen, "%s: no data rows", path);
        rc = CDS_EMALFORMED;
    }
    cds_csv_destroy(&csv);
    return rc;
}

/* ---- JSON --------------------------------------------------------------- */

/* A member as text: strings as they are, booleans and numbers spelled out
 * (DHIS2 writes "followup": false and may write numbers unquoted). NULL
 * when absent or null; buf holds the spelled-out form. */
static const char *
jtext(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long) json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.17g", json_real_value(v));
    else
        return NULL;
    return buf;
}

/* One dataValues entry, the set-level members filling what it lacks. */
static int
json_row(json_t *set, json_t *v, size_t i, cds_dvs_row_fn *fn, void *arg)
{
    char own[CDS_DVS__COUNT][40], top[CDS_DVS__COUNT][40];
    cds_dvs_row_t row;
    memset(&row, 0, sizeof row);
    row.line = i + 1;
    row.json = true;
    for (int f = 0; f < CDS_DVS__COUNT; f++) {
        const char *s = json_is_object(v) ? jtext(v, json_names[f], own[f], 40)
                                          : NULL;
        bool set_level = f == CDS_DVS_PE || f == CDS_DVS_OU
                         || f == CDS_DVS_AOC || f == CDS_DVS_DATASET
                         || f == CDS_DVS_COMPLETEDATE;
        if ((!s || !*s) && set_level)
            s = jtext(set, json_names[f], top[f], 40);
        row.f[f] = s ? s : "";
    }
    return fn(arg, &row);
}

static int
read_json(const char *path, const char *data, size_t len, cds_dvs_row_fn *fn,
          void *arg, char *err, size_t errlen)
{
    json_error_t je;
    json_t *set = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    json_t *arr = json_is_object(set) ? json_object_get(set, "dataValues")
                                      : NULL;
    int rc = CDS_OK;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s:%d: %s", path, set ? 1 : je.line,
                 set ? "dataValues: expected an array of data values"
                     : je.text);
        rc = CDS_EMALFORMED;
    } else if (json_array_size(arr) > CDS_DVS_MAX_ROWS) {
        snprintf(err, errlen, "%s: more than %d rows", path,
                 CDS_DVS_MAX_ROWS);
        rc = CDS_ETOOBIG;
    } else if (json_array_size(arr) == 0) {
        snprintf(err, errlen, "%s: no data rows", path);
        rc = CDS_EMALFORMED;
    }
    for (size_t i = 0; rc == CDS_OK && i < json_array_size(arr); i++)
        rc = json_row(set, json_array_get(arr, i), i, fn, arg);
    json_decref(set);
    return rc;
}

/* Index of the first byte after an optional BOM and white space. */
static size_t
content_start(const char *data, size_t len)
{
    size_t p = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (p < len && (data[p] == ' ' || data[p] == '\t' || data[p] == '\r'
                       || data[p] == '\n'))
        p++;
    return p;
}

int
cds_dvs_read_mem(const char *name, const char *data, size_t len,
                 cds_dvs_header_t header, cds_dvs_row_fn *fn, void *arg,
                 char *err, size_t errlen)
{
    size_t p = content_start(data, len);
    if (p < len && data[p] == '{')
        return read_json(name, data + p, len - p, fn, arg, err, errlen);
    return read_csv(name, data, len, header, fn, arg, err, errlen);
}

int
cds_dvs_load(const char *path, char **data, size_t *len, char *first,
             char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    int rc = cds_read_file(path, CDS_DVS_MAX_FILE, data, len);
    if (rc != CDS_OK) {
        snprintf(err, errlen, "%s: %s", path, rc == CDS_ETOOBIG
                 ? "larger than 64 MiB" : "cannot read");
        return rc == CDS_ETOOBIG ? rc : CDS_EIO;
    }
    size_t p = *data ? content_start(*data, *len) : 0;
    *first = p < *len ? (*data)[p] : '\0';
    return CDS_OK;
}

int
cds_dvs_read(const char *path, cds_dvs_header_t header, cds_dvs_row_fn *fn,
             void *arg, char *err, size_t errlen)
{
    char *data = NULL, first;
    size_t len = 0;
    int rc = cds_dvs_load(path, &data, &len, &first, err, errlen);
    if (rc != CDS_OK)
        return rc;
    rc = cds_dvs_read_mem(path, data ? data : "", len, header, fn, arg, err,
                          errlen);
    free(data);
    return rc;
}
