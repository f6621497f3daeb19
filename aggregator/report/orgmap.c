/*  orgmap: the org-unit mapping and rollup sources. See orgmap.h; SQL in
 *  orgmap_sql.h. */
#include "orgmap.h"

#include "orgmap_sql.h"
#include "cds_csv.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_period.h"
#include "cds_util.h"

#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOTE_MAX 512                   /* bytes of the note column */

enum { M_OLD, M_NEW, M_FROM, M_NOTE, M__COUNT };
static const char *const map_cols[M__COUNT] = { "old", "new", "from", "note" };

typedef struct {
    cds_csv_t *csv;
    int col[M__COUNT];
    cds_sql_stmt_t *insert;
    store_t *store;
    char *err;
    size_t errlen;
} map_loader_t;

/* Check one code column: present in the org-unit table. */
static int
map_code(map_loader_t *ld, int c, const char **out)
{
    const char *s = cds_csv_get(ld->csv, ld->col[c]);
    size_t line = cds_csv_line(ld->csv);
    *out = s;
    if (!s[0]) {
        cds_csv_error(ld->err, ld->errlen, cds_csv_name(ld->csv), line,
                      map_cols[c], "empty", NULL);
        return CDS_EMALFORMED;
    }
    int known = store_orgunit_exists(ld->store, s);
    if (known < 0)
        return -known;
    if (!known) {
        cds_csv_error(ld->err, ld->errlen, cds_csv_name(ld->csv), line,
                      map_cols[c], "not in the org-unit list", s);
        return CDS_EUNKNOWNORGUNIT;
    }
    return CDS_OK;
}

/* Validate and insert the current record. */
static int
map_row(map_loader_t *ld)
{
    const char *old, *new_, *from = cds_csv_get(ld->csv, ld->col[M_FROM]);
    const char *note = cds_csv_get(ld->csv, ld->col[M_NOTE]);
    const char *name = cds_csv_name(ld->csv);
    size_t line = cds_csv_line(ld->csv);
    int32_t day;
    int rc = map_code(ld, M_OLD, &old);
    if (rc == CDS_OK)
        rc = map_code(ld, M_NEW, &new_);
    if (rc != CDS_OK)
        return rc;
    if (strcmp(old, new_) == 0) {
        cds_csv_error(ld->err, ld->errlen, name, line, map_cols[M_NEW],
                      "same as old", new_);
        return CDS_EMALFORMED;
    }
    if (cds_date_parse(from, &day) != CDS_OK) {
        cds_csv_error(ld->err, ld->errlen, name, line, map_cols[M_FROM],
                      "expected YYYY-MM-DD", from);
        return CDS_EMALFORMED;
    }
    if (strlen(note) > NOTE_MAX || !cds_utf8_valid(note, strlen(note))) {
        cds_csv_error(ld->err, ld->errlen, name, line, map_cols[M_NOTE],
                      "longer than 512 bytes or not UTF-8", NULL);
        return CDS_EMALFORMED;
    }
    cds_sql_bind_text(ld->insert, ":old", old);
    cds_sql_bind_text(ld->insert, ":new", new_);
    cds_sql_bind_int64(ld->insert, ":from_day", day);
    cds_sql_bind_text(ld->insert, ":note", note);
    rc = cds_sql_run(ld->insert);      /* a failure is logged by cds_sql */
    /* A pair already there inserts nothing (ON CONFLICT DO NOTHING: no
     * failed statement, which would end a PostgreSQL transaction). */
    bool twice = rc == CDS_OK && cds_sql_changes(ld->insert) == 0;
    cds_sql_reset(ld->insert);
    if (twice) {
        cds_csv_error(ld->err, ld->errlen, name, line, map_cols[M_NEW],
                      "this old -> new pair is listed twice", new_);
        return CDS_EMALFORMED;
    }
    return rc;
}

/* Header, then every row. */
static int
map_rows(map_loader_t *ld, size_t *rows)
{
    if (cds_csv_read_header(ld->csv, ld->err, ld->errlen) < 0)
        return CDS_EMALFORMED;
    for (int c = 0; c < M__COUNT; c++) {
        ld->col[c] = cds_csv_column(ld->csv, map_cols[c]);
        if (ld->col[c] < 0 && c != M_NOTE) {
            cds_csv_error(ld->err, ld->errlen, cds_csv_name(ld->csv), 1,
                          map_cols[c], "required column missing from the "
                          "header", NULL);
            return CDS_EMALFORMED;
        }
    }
    int more, rc = CDS_OK;
    while (rc == CDS_OK && (more = cds_csv_next(ld->csv, ld->err,
                                                ld->errlen)) == 1) {
        rc = map_row(ld);
        if (rc == CDS_OK)
            (*rows)++;
    }
    if (rc == CDS_OK && more < 0)
        rc = CDS_EMALFORMED;
    return rc;
}

int
orgmap_load(store_t *store, const char *path, size_t *rows, char *err,
            size_t errlen)
{
    size_t n = 0;
    cds_sql_t *db = store_sql(store);    /* orgunit_map is ours */
    map_loader_t ld = { .store = store, .err = err, .errlen = errlen };
    ld.csv = cds_csv_open(path, err, errlen);
    if (!ld.csv)
        return CDS_EIO;
    ld.insert = cds_sql_prepare(db, ORGMAP_SQL_MAP_INSERT, 0);
    int rc = ld.insert ? cds_sql_begin(db) : CDS_ERROR;
    if (rc != CDS_OK)
        goto out;
    rc = cds_sql_exec(db, ORGMAP_SQL_MAP_CLEAR);
    if (rc == CDS_OK)
        rc = map_rows(&ld, &n);
    if (rc == CDS_OK)
        rc = cds_sql_commit(db);
    else
        cds_sql_rollback(db);
out:
    cds_sql_finalize(&ld.insert);
    cds_csv_destroy(&ld.csv);
    if (rows)
        *rows = rc == CDS_OK ? n : 0;
    return rc;
}

void
orgmap_units_free(orgmap_unit_t *units, size_t n)
{
    if (!units)
        return;
    for (size_t i = 0; i < n; i++) {
        free(units[i].code);
        free(units[i].name);
        free(units[i].succ);
    }
    free(units);
}

/* Append the current row of st to *units. */
static int
unit_push(cds_sql_stmt_t *st, orgmap_unit_t **units, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        orgmap_unit_t *a = realloc(*units, c * sizeof *a);
        if (!a)
            return CDS_ENOMEM;
        *units = a;
        *cap = c;
    }
    orgmap_unit_t *u = &(*units)[*n];
    u->code = strdup(cds_sql_col_text(st, 0));
    u->name = strdup(cds_sql_col_text(st, 1));
    u->valid_from = (int32_t) cds_sql_col_int64(st, 2);
    u->valid_to = (int32_t) cds_sql_col_int64(st, 3);
    u->until = (int32_t) cds_sql_col_int64(st, 4);
    u->succ = NULL;
    u->nsucc = 0;
    (*n)++;
    return u->code && u->name ? CDS_OK : CDS_ENOMEM;
}

static int
cmp_unit_key(const void *key, const void *elem)
{
    return strcmp((const char *) key, ((const orgmap_unit_t *) elem)->code);
}

/* Record that units[j] succeeds units[i] (once). */
static int
succ_add(orgmap_unit_t *u, size_t j)
{
    for (size_t k = 0; k < u->nsucc; k++)
        if (u->succ[k] == j)
            return CDS_OK;
    size_t *a = realloc(u->succ, (u->nsucc + 1) * sizeof *a);
    if (!a)
        return CDS_ENOMEM;
    u->succ = a;
    u->succ[u->nsucc++] = j;
    return CDS_OK;
}

/* Fill each unit's successors among units (sorted by code). */
static int
successors(store_t *store, orgmap_unit_t *units, size_t n)
{
    cds_sql_stmt_t *st = store_read(store, ORGMAP_SQL_SUCCESSORS, NULL);
    if (!st)
        return CDS_ERROR;
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW) {
        orgmap_unit_t *a = bsearch(cds_sql_col_text(st, 0), units, n,
                                   sizeof *units, cmp_unit_key);
        orgmap_unit_t *b = bsearch(cds_sql_col_text(st, 1), units, n,
                                   sizeof *units, cmp_unit_key);
        if (a && b && a != b)
            rc = succ_add(a, (size_t) (b - units));
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    return rc;
}

int
orgmap_sources(store_t *store, const char *ou, int32_t start, int32_t end,
               orgmap_unit_t **units, size_t *n)
{
    size_t cap = 0;
    *units = NULL;
    *n = 0;
    cds_sql_stmt_t *st = store_read(store, ORGMAP_SQL_SOURCES,
                                    ORGMAP_SQL_SOURCES_PG);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_int64(st, ":start", start);
    cds_sql_bind_int64(st, ":end", end);
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        rc = unit_push(st, units, n, &cap);
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    if (rc == CDS_OK && *n > 0)
        rc = successors(store, *units, *n);
    if (rc != CDS_OK) {
        orgmap_units_free(*units, *n);
        *units = NULL;
        *n = 0;
    }
    return rc;
}

/* Is u valid on day? */
static bool
valid_on(const orgmap_unit_t *u, int32_t day)
{
    return u->valid_from <= day && u->valid_to >= day;
}

bool
orgmap_owes(const orgmap_unit_t *units, size_t n, size_t i, int32_t start,
            int32_t end)
{
    const orgmap_unit_t *u = &units[i];
    if (!(u->valid_from <= end && u->valid_to >= start && start < u->until))
        return false;
    for (size_t k = 0; k < u->nsucc; k++)
        if (u->succ[k] < n && valid_on(&units[u->succ[k]], end))
            return false;              /* the successor reports for it */
    return true;
}

int
orgmap_owing(store_t *store, const char *ou, int32_t start, int32_t end,
             orgmap_unit_t **units, size_t *n)
{
    orgmap_unit_t *all;
    size_t na, k = 0;
    int rc = orgmap_sources(store, ou, start, end, &all, &na);
    if (rc != CDS_OK)
        return rc;
    bool *keep = calloc(na + 1, sizeof *keep);
    if (!keep) {
        orgmap_units_free(all, na);
        return CDS_ENOMEM;
    }
    for (size_t i = 0; i < na; i++)
        keep[i] = orgmap_owes(all, na, i, start, end);
    for (size_t i = 0; i < na; i++) {
        if (!keep[i]) {
            free(all[i].code);
            free(all[i].name);
        } else
            all[k++] = all[i];
        free(all[i].succ);             /* indexes into the full array */
        all[i].succ = NULL;
        all[i].nsucc = 0;
    }
    free(keep);
    *units = all;
    *n = k;
    return CDS_OK;
}

orgmap_kind_t
orgmap_kind(bool count_true, bool period_sum)
{
    return count_true ? ORGMAP_YESNO : period_sum ? ORGMAP_FLOW
                                                  : ORGMAP_STOCK;
}

/* Has units[i] a successor with reported[] set? */
static bool
superseded(const orgmap_unit_t *units, size_t n, size_t i,
           const bool *reported)
{
    for (size_t k = 0; k < units[i].nsucc; k++)
        if (units[i].succ[k] < n && reported[units[i].succ[k]])
            return true;
    return false;
}

void
orgmap_rule(const orgmap_unit_t *units, size_t n, orgmap_kind_t kind,
            int32_t ps, int32_t pe, const bool *reported, bool *expected,
            bool *counts)
{
    for (size_t i = 0; i < n; i++) {
        const orgmap_unit_t *u = &units[i];
        bool in = u->valid_from <= pe && u->valid_to >= ps && ps < u->until;
        switch (kind) {
        case ORGMAP_STOCK:
            counts[i] = in && reported[i]
                        && !superseded(units, n, i, reported);
            expected[i] = counts[i] || orgmap_owes(units, n, i, ps, pe);
            break;
        case ORGMAP_YESNO:
            expected[i] = orgmap_owes(units, n, i, ps, pe);
            counts[i] = expected[i] && reported[i];
            break;
        default:
            expected[i] = in;
            counts[i] = in && reported[i];
        }
    }
}

int
orgmap_unit_name(store_t *store, const char *code, char *buf, size_t len)
{
    cds_sql_stmt_t *st = store_read(store, ORGMAP_SQL_OU_GET, NULL);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":code", code);
    int step = cds_sql_step(st), rc = CDS_OK;
    buf[0] = '\0';
    if (step == CDS_SQL_ROW)
        snprintf(buf, len, "%s", cds_sql_col_text(st, 0));
    else if (step == CDS_SQL_DONE)
        rc = CDS_ENOTFOUND;
    else
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    return rc;
}

int
orgmap_refresh(const cds_config_t *cfg, store_t *store, char *err,
               size_t errlen)
{
    const char *path = cds_config_get(cfg, "aggregator.orgunit_map");
    char beside[4096];
    if (!path || !path[0]) {
        const char *ous = cds_config_get(cfg, "aggregator.orgunits");
        char *copy = strdup(ous ? ous : ".");
        if (!copy)
            return CDS_ENOMEM;
        int n = snprintf(beside, sizeof beside, "%s/orgunit_map.csv",
                         dirname(copy));
        free(copy);
        if (n < 0 || (size_t) n >= sizeof beside
            || access(beside, R_OK) != 0)
            return CDS_OK;     /* no mapping shipped: nothing to load */
        path = beside;
    }
    return orgmap_load(store, path, NULL, err, errlen);
}
