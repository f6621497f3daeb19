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
    (*n)++;
    return u->code && u->name ? CDS_OK : CDS_ENOMEM;
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
    if (rc != CDS_OK) {
        orgmap_units_free(*units, *n);
        *units = NULL;
        *n = 0;
    }
    return rc;
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
