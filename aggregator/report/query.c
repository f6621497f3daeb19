/*  query: read the consolidated values. See query.h. The SQL is in
 *  query_sql.h (QUERY_SQL_*); statements are prepared once per run. */
#include "query.h"

#include "attain.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_period.h"
#include "cds_util.h"
#include "orgmap.h"
#include "query_sql.h"
#include "rollup.h"
#include "table.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define LONG_COLS 11

static const char *const long_header[LONG_COLS] = {
    "orgunit", "orgunitname", "dataelement", "period", "categoryoptioncombo",
    "value", "storedby", "lastupdated", "comment", "followup", "agent",
};

/* JSON keys: DHIS2's camelCase spelling of the same columns. */
static const char *const long_keys[LONG_COLS] = {
    "orgUnit", "orgUnitName", "dataElement", "period", "categoryOptionCombo",
    "value", "storedBy", "lastUpdated", "comment", "followup", "agent",
};

/* Resolved filters. */
typedef struct {
    bool has_range;
    int32_t start, end;                /* day numbers, inclusive */
    char *indicators_json;             /* JSON array or NULL (owned) */
} filter_t;

int
query_format_parse(const char *name, query_format_t *out)
{
    static const char *const names[] = { "table", "csv", "json" };
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (query_format_t) i;
            return CDS_OK;
        }
    return CDS_EUSAGE;
}

static void
csv_row(FILE *out, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', out);
        report_csv_field(out, cells[i]);
    }
    fputs("\r\n", out);        /* RFC 4180 line ends */
}

static int
parse_period(const char *flag, const char *id, cds_period_t *p, char *err,
             size_t errlen)
{
    if (cds_period_parse(id, p) == CDS_OK)
        return CDS_OK;
    snprintf(err, errlen, "%s: \"%.64s\" is not a DHIS2 period (2025, "
             "2025Q1, 202503, 2025W10, 202501B, 2025April, ...)", flag, id);
    return CDS_EBADPERIOD;
}

int
query_range(const query_opts_t *o, int32_t *start, int32_t *end, char *err,
            size_t errlen)
{
    cds_period_t a = {CDS_PT_DAILY, INT32_MIN, INT32_MAX}, b = a;
    if (o->period && (o->from || o->to)) {
        snprintf(err, errlen, "--period cannot be combined with --from/--to");
        return CDS_EUSAGE;
    }
    int rc = CDS_OK;
    if (o->period && (rc = parse_period("period", o->period, &a, err,
                                        errlen)) == CDS_OK)
        b = a;
    if (rc == CDS_OK && o->from)
        rc = parse_period("from", o->from, &a, err, errlen);
    if (rc == CDS_OK && o->to)
        rc = parse_period("to", o->to, &b, err, errlen);
    if (rc != CDS_OK)
        return rc;
    if (a.start > b.end) {
        char d1[16], d2[16];
        snprintf(err, errlen, "--from %.64s starts %s, after --to %.64s "
                 "ends %s: the range is reversed (swap them)", o->from,
                 cds_date_format(a.start, d1, sizeof d1), o->to,
                 cds_date_format(b.end, d2, sizeof d2));
        return CDS_EUSAGE;
    }
    *start = a.start;
    *end = b.end;
    return CDS_OK;
}

static int
resolve_filter(store_t *store, const query_opts_t *o, filter_t *f, char *err,
               size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (o->wide && !o->period) {
        snprintf(err, errlen, "--wide needs exactly one --period");
        return CDS_EUSAGE;
    }
    int rc = query_range(o, &f->start, &f->end, err, errlen);
    if (rc != CDS_OK)
        return rc;
    f->has_range = o->period || o->from || o->to;
    if (o->org_unit) {
        int known = store_orgunit_exists(store, o->org_unit);
        if (known < 0)
            return -known;
        if (!known) {
            snprintf(err, errlen, "org-unit: \"%.64s\" is not in the "
                     "org-unit list", o->org_unit);
            return CDS_EUNKNOWNORGUNIT;
        }
    }
    if (o->n_indicators > 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < o->n_indicators; i++)
            json_array_append_new(a, json_string(o->indicators[i]));
        f->indicators_json = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        if (!f->indicators_json)
            return CDS_ENOMEM;
    }
    return CDS_OK;
}

static void
bind_scope(cds_sql_stmt_t *st, const query_opts_t *o)
{
    cds_sql_bind_text(st, ":ou", o->org_unit);
    cds_sql_bind_int64(st, ":subtree", o->subtree ? 1 : 0);
}

/* ---- long form ---------------------------------------------------------- */

/* Appended to the long form when targets are loaded (attain.h). */
#define TARGET_COLS 3
static const char *const target_header[TARGET_COLS] = {
    "target", "attainment", "state",
};

/* What a long-form run carries from row to row. */
typedef struct {
    store_t *store;                    /* for the units' ancestors */
    attain_cache_t cache;              /* the last unit's chain */
    size_t ncols;                      /* LONG_COLS [+ TARGET_COLS] */
} long_t;

/* The target cells of the current row into cells[LONG_COLS..]. */
static int
target_cells(const query_opts_t *o, long_t *l, const char **cells,
             attain_bufs_t *b)
{
    attain_t a;
    const char *ac[ATTAIN_COLS];
    int rc = attain_value(l->store, o->targets, o->catalog, &l->cache,
                          cells[0], cells[2], cells[3], cells[5], &a);
    attain_cells(&a, b, ac);
    memcpy(cells + LONG_COLS, ac, TARGET_COLS * sizeof *ac);
    return rc;
}

/* A target cell as JSON: "" -> null, a number cell as a number (as
 * report.c prints its number columns; not shared: report.c includes this
 * module's header), the state as a string. */
static json_t *
target_json(size_t col, const char *s)
{
    char *end = NULL;
    if (!s || !s[0])
        return json_null();
    if (col == LONG_COLS + 2)
        return json_string(s);
    long long ll = strtoll(s, &end, 10);
    return !*end ? json_integer(ll) : json_real(strtod(s, NULL));
}

static json_t *
long_json(const query_opts_t *o, cds_sql_stmt_t *st, const char **cells,
          size_t n)
{
    json_t *obj = json_object();
    for (int i = 0; i < LONG_COLS; i++)
        json_object_set_new(obj, long_keys[i],
                            i == 9 ? json_boolean(cds_sql_col_int(st, 9))
                                   : json_string(cells[i] ? cells[i] : ""));
    for (size_t i = LONG_COLS; i < n; i++)
        json_object_set_new(obj, target_header[i - LONG_COLS],
                            target_json(i, cells[i]));
    return obj;
}

/* Emit one row of the long query in the chosen format. */
static int
emit_long(const query_opts_t *o, long_t *l, cds_sql_stmt_t *st, table_t *t,
          json_t *arr, FILE *out)
{
    char updated[40], followup[8];
    const char *cells[LONG_COLS + TARGET_COLS];
    attain_bufs_t b;
    for (int i = 0; i < LONG_COLS; i++)
        cells[i] = cds_sql_col_text(st, i);
    cds_format_time(updated, sizeof updated,
                    cds_hlc_ms((uint64_t) cds_sql_col_int64(st, 7)));
    cells[7] = updated;
    snprintf(followup, sizeof followup, "%s",
             cds_sql_col_int(st, 9) ? "true" : "false");
    cells[9] = followup;
    int rc = l->ncols > LONG_COLS ? target_cells(o, l, cells, &b) : CDS_OK;
    if (rc != CDS_OK)
        return rc;
    if (o->format == QUERY_CSV)
        csv_row(out, cells, l->ncols);
    else if (o->format == QUERY_TABLE)
        return table_add(t, cells) == 0 ? CDS_OK : CDS_ENOMEM;
    else
        return json_array_append_new(arr, long_json(o, st, cells, l->ncols))
                       == 0 ? CDS_OK : CDS_ENOMEM;
    return CDS_OK;
}

static int
query_long(store_t *store, const query_opts_t *o, const filter_t *f,
           FILE *out)
{
    cds_sql_stmt_t *st = store_read(store, QUERY_SQL_LONG, QUERY_SQL_LONG_PG);
    if (!st)
        return CDS_ERROR;
    long_t l = { .store = store,
                 .ncols = LONG_COLS + (o->targets ? TARGET_COLS : 0) };
    const char *header[LONG_COLS + TARGET_COLS];
    memcpy(header, long_header, sizeof long_header);
    memcpy(header + LONG_COLS, target_header, sizeof target_header);
    table_t *t = o->format == QUERY_TABLE ? table_new(header, l.ncols)
                                          : NULL;
    json_t *arr = o->format == QUERY_JSON ? json_array() : NULL;
    bind_scope(st, o);
    cds_sql_bind_text(st, ":indicators", f->indicators_json);
    if (f->has_range) {
        cds_sql_bind_int64(st, ":start", f->start);
        cds_sql_bind_int64(st, ":end", f->end);
    }
    if (o->format == QUERY_CSV)
        csv_row(out, header, l.ncols);
    int rc, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW)
        code = emit_long(o, &l, st, t, arr, out);
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;                     /* logged by cds_sql */
    if (code == CDS_OK && t)
        table_print(t, out);
    if (code == CDS_OK && arr) {
        /* DHIS2 dataValueSet shape, so exports import as they are. */
        json_t *set = json_pack("{sO}", "dataValues", arr);
        json_dumpf(set, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(set);
    }
    attain_cache_free(&l.cache);
    table_destroy(&t);
    json_decref(arr);
    cds_sql_finalize(&st);
    return code;
}

/* ---- wide form ---------------------------------------------------------- */

/* The indicator codes that make the columns (strdup'd into *cols). */
static int
wide_columns(store_t *store, const query_opts_t *o, char ***cols,
             size_t *n)
{
    *n = 0;
    *cols = NULL;
    size_t cap = o->n_indicators ? o->n_indicators
                 : o->catalog    ? cds_catalog_size(o->catalog) : 0;
    cds_sql_stmt_t *st = NULL;
    if (cap == 0) {
        st = store_read(store, QUERY_SQL_INDICATORS,
                        QUERY_SQL_INDICATORS_PG);
        if (!st)
            return CDS_ERROR;
        while (cds_sql_step(st) == CDS_SQL_ROW)
            cap++;
        cds_sql_reset(st);
    }
    *cols = calloc(cap ? cap : 1, sizeof **cols);
    int code = *cols ? CDS_OK : CDS_ENOMEM;
    for (size_t i = 0; code == CDS_OK && i < cap; i++) {
        const char *c;
        if (o->n_indicators)
            c = o->indicators[i];
        else if (o->catalog)
            c = cds_catalog_at(o->catalog, i)->code;
        else
            c = cds_sql_step(st) == CDS_SQL_ROW ? cds_sql_col_text(st, 0)
                                                : "";
        (*cols)[i] = strdup(c ? c : "");
        code = (*cols)[i] ? CDS_OK : CDS_ENOMEM;
        (*n)++;
    }
    cds_sql_finalize(&st);
    return code;
}

/* A RATIO indicator a unit did not send itself, derived from the two
 * counts it did send (100 * numerator / denominator, one decimal): the
 * district asks communes for counts, so a percentage backed by its counts
 * is reported, not missing. NULL when not a RATIO or a count is absent. */
static char *
derived_ratio(cds_sql_stmt_t *cell, const cds_catalog_t *cat, const char *ou,
              const char *period, const char *code)
{
    const cds_indicator_t *ind = cat ? cds_catalog_find(cat, code) : NULL;
    if (!ind || ind->agg != CDS_AGG_RATIO || !ind->numerator
        || !ind->denominator)
        return NULL;
    const char *de[2] = {ind->numerator, ind->denominator};
    double v[2];
    for (int j = 0; j < 2; j++) {
        cds_sql_bind_text(cell, ":ou", ou);
        cds_sql_bind_text(cell, ":de", de[j]);
        cds_sql_bind_text(cell, ":pe", period);
        bool got = cds_sql_step(cell) == CDS_SQL_ROW
                   && cds_sql_col_type(cell, 0) != CDS_SQL_NULL;
        if (got)
            v[j] = strtod(cds_sql_col_text(cell, 0), NULL);
        cds_sql_reset(cell);
        if (!got)
            return NULL;
    }
    if (!(v[1] > 0))
        return NULL;
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", 100.0 * v[0] / v[1]);
    return strdup(buf);
}

/* Cells of one org unit's row: value per indicator, then "k/n". */
static int
wide_row(cds_sql_stmt_t *cell, const cds_catalog_t *cat, const char *ou,
         const char *period, char **cols, size_t n, char **cells, size_t *k)
{
    *k = 0;
    for (size_t i = 0; i < n; i++) {
        cds_sql_bind_text(cell, ":ou", ou);
        cds_sql_bind_text(cell, ":de", cols[i]);
        cds_sql_bind_text(cell, ":pe", period);
        const char *v = NULL;
        if (cds_sql_step(cell) == CDS_SQL_ROW) {
            v = cds_sql_col_text(cell, 0);
            (*k)++;
        }
        bool sent = v != NULL;
        cells[i] = strdup(v ? v : "");
        cds_sql_reset(cell);
        if (!cells[i])
            return CDS_ENOMEM;
        char *d = sent ? NULL : derived_ratio(cell, cat, ou, period, cols[i]);
        if (d) {
            free(cells[i]);
            cells[i] = d;
            (*k)++;
        }
    }
    return CDS_OK;
}

typedef struct {
    const query_opts_t *o;
    char **cols;                       /* indicator codes */
    size_t n;
    table_t *table;                    /* QUERY_TABLE */
    json_t *rows;                      /* QUERY_JSON */
    FILE *out;
    size_t units, complete;
    json_t *total;                     /* QUERY_JSON: the total row */
} wide_t;

static int
wide_emit(wide_t *w, const char *ou, const char *name, char **vals, size_t k)
{
    char reported[48];
    snprintf(reported, sizeof reported, "%zu/%zu", k, w->n);
    w->units++;
    if (k == w->n && w->n > 0)
        w->complete++;
    const char **cells = calloc(w->n + 3, sizeof *cells);
    if (!cells)
        return CDS_ENOMEM;
    cells[0] = ou;
    cells[1] = name;
    for (size_t i = 0; i < w->n; i++)
        cells[2 + i] = vals[i];
    cells[2 + w->n] = reported;
    int rc = CDS_OK;
    if (w->o->format == QUERY_CSV)
        csv_row(w->out, cells, w->n + 3);
    else if (w->o->format == QUERY_TABLE)
        rc = table_add(w->table, cells) == 0 ? CDS_OK : CDS_ENOMEM;
    else {
        json_t *obj = json_object(), *v = json_object();
        json_object_set_new(obj, "orgUnit", json_string(ou));
        json_object_set_new(obj, "orgUnitName", json_string(name));
        for (size_t i = 0; i < w->n; i++)
            json_object_set_new(v, w->cols[i], vals[i][0]
                                    ? json_string(vals[i]) : json_null());
        json_object_set_new(obj, "values", v);
        json_object_set_new(obj, "reported", json_string(reported));
        rc = json_array_append_new(w->rows, obj) == 0 ? CDS_OK : CDS_ENOMEM;
    }
    free(cells);
    return rc;
}

static int
wide_header(wide_t *w)
{
    const char **h = calloc(w->n + 3, sizeof *h);
    if (!h)
        return CDS_ENOMEM;
    h[0] = "orgunit";
    h[1] = "orgunitname";
    for (size_t i = 0; i < w->n; i++)
        h[2 + i] = w->cols[i];
    h[2 + w->n] = "reported";
    int rc = CDS_OK;
    if (w->o->format == QUERY_CSV)
        csv_row(w->out, h, w->n + 3);
    else if (w->o->format == QUERY_TABLE) {
        w->table = table_new(h, w->n + 3);
        rc = w->table ? CDS_OK : CDS_ENOMEM;
    } else {
        w->rows = json_array();
        rc = w->rows ? CDS_OK : CDS_ENOMEM;
    }
    free(h);
    return rc;
}

/* Print the collected table/json and the completeness line. CSV carries no
 * summary line, so the file stays one header + rows. */
static void
wide_finish(wide_t *w)
{
    if (w->o->format == QUERY_TABLE) {
        table_print(w->table, w->out);
        fprintf(w->out, "%zu of %zu org units complete\n", w->complete,
                w->units);
    } else if (w->o->format == QUERY_JSON) {
        json_t *top = json_object(), *cols = json_array();
        for (size_t i = 0; i < w->n; i++)
            json_array_append_new(cols, json_string(w->cols[i]));
        json_object_set_new(top, "period", json_string(w->o->period));
        json_object_set_new(top, "indicators", cols);
        json_object_set_new(top, "rows", json_incref(w->rows));
        json_object_set_new(top, "complete", json_integer((json_int_t)
                                                          w->complete));
        json_object_set_new(top, "units", json_integer((json_int_t)
                                                       w->units));
        if (w->total)
            json_object_set_new(top, "total", json_incref(w->total));
        json_dumpf(top, w->out, JSON_INDENT(2));
        fputc('\n', w->out);
        json_decref(top);
    }
}

/* One row: the unit's cells, then the row printed. */
static int
wide_unit(wide_t *w, cds_sql_stmt_t *cell, char **vals, const char *ou,
          const char *name)
{
    size_t k = 0;
    int rc = wide_row(cell, w->o->catalog, ou, w->o->period, w->cols, w->n,
                      vals, &k);
    if (rc == CDS_OK)
        rc = wide_emit(w, ou, name ? name : "", vals, k);
    for (size_t i = 0; i < w->n; i++) {
        free(vals[i]);
        vals[i] = NULL;
    }
    return rc;
}

/* Rows of a unit's subtree: the units that owe reports for the period by
 * the merge rule (orgmap_owing): for a successor and a period before its
 * creation, its predecessors. */
static int
wide_owing(store_t *store, wide_t *w, cds_sql_stmt_t *cell, char **vals)
{
    cds_period_t p;
    orgmap_unit_t *u = NULL;
    size_t n = 0;
    if (cds_period_parse(w->o->period, &p) != CDS_OK)
        return CDS_EBADPERIOD;         /* checked by resolve_filter */
    int rc = orgmap_owing(store, w->o->org_unit, p.start, p.end, &u, &n);
    for (size_t i = 0; rc == CDS_OK && i < n; i++)
        rc = wide_unit(w, cell, vals, u[i].code, u[i].name);
    orgmap_units_free(u, n);
    return rc;
}

static int
wide_rows(store_t *store, wide_t *w)
{
    bool owing = w->o->org_unit && w->o->subtree;
    cds_sql_stmt_t *leaves = owing ? NULL
                             : store_read(store, QUERY_SQL_LEAVES,
                                          QUERY_SQL_LEAVES_PG);
    cds_sql_stmt_t *cell = store_read(store, QUERY_SQL_CELL, NULL);
    char **vals = calloc(w->n + 1, sizeof *vals);
    int rc = (leaves || owing) && cell && vals ? CDS_OK : CDS_ERROR;
    if (rc == CDS_OK && owing)
        rc = wide_owing(store, w, cell, vals);
    if (rc == CDS_OK && leaves)
        bind_scope(leaves, w->o);
    while (rc == CDS_OK && leaves && cds_sql_step(leaves) == CDS_SQL_ROW)
        rc = wide_unit(w, cell, vals, cds_sql_col_text(leaves, 0),
                       cds_sql_col_text(leaves, 1));
    free(vals);
    cds_sql_finalize(&leaves);
    cds_sql_finalize(&cell);
    return rc;
}

/* One total cell: rollup's figure and its coverage into the JSON. */
static int
total_cell(wide_t *w, const rollup_figure_t *f, char *buf, size_t len)
{
    rollup_format(f->value, f->has_value, buf, len);
    if (!w->total)
        return CDS_OK;
    json_t *v = json_object_get(w->total, "values");
    json_t *c = json_object_get(w->total, "covered");
    json_t *e = json_object_get(w->total, "expected");
    json_object_set_new(v, f->ind->code, f->has_value ? json_string(buf)
                                                      : json_null());
    json_object_set_new(c, f->ind->code, json_integer((json_int_t)
                                                      f->covered));
    json_object_set_new(e, f->ind->code, json_integer((json_int_t)
                                                      f->expected));
    return CDS_OK;
}

/* The total row under a unit's rows: rollup's figure per column (the
 * merge rule's total: for a new commune before its creation, its
 * predecessors' total), when the catalog and its rules are given and
 * every column is a catalog indicator. Table: a last row "total"; JSON:
 * "total": {values, covered, expected}; CSV: none (header + rows). */
static int
wide_total(store_t *store, wide_t *w)
{
    const query_opts_t *o = w->o;
    if (!o->catalog || !o->rules || !o->org_unit || !o->subtree
        || o->format == QUERY_CSV || w->n == 0)
        return CDS_OK;
    for (size_t i = 0; i < w->n; i++)
        if (!cds_catalog_find(o->catalog, w->cols[i]))
            return CDS_OK;
    rollup_figure_t *f = NULL;
    size_t nf = 0;
    char err[256];
    int rc = rollup_compute_read(store, o->catalog, o->rules, o->org_unit,
                                 o->period, (const char *const *) w->cols,
                                 w->n, &f, &nf, err, sizeof err);
    char (*cells)[32] = rc == CDS_OK ? calloc(nf + 1, sizeof *cells) : NULL;
    const char **row = cells ? calloc(nf + 3, sizeof *row) : NULL;
    if (rc == CDS_OK && !row)
        rc = CDS_ENOMEM;
    if (rc == CDS_OK && o->format == QUERY_JSON)
        w->total = json_pack("{s{}s{}s{}}", "values", "covered",
                             "expected");
    for (size_t i = 0; rc == CDS_OK && i < nf; i++) {
        rc = total_cell(w, &f[i], cells[i], sizeof cells[i]);
        row[2 + i] = cells[i];
    }
    if (rc == CDS_OK && o->format == QUERY_TABLE) {
        row[0] = "total";
        row[1] = o->org_unit;
        row[2 + nf] = "";
        rc = table_add(w->table, row) == 0 ? CDS_OK : CDS_ENOMEM;
    }
    free(row);
    free(cells);
    free(f);
    return rc;
}

static int
query_wide(store_t *store, const query_opts_t *o, FILE *out)
{
    wide_t w = { .o = o, .out = out };
    int rc = wide_columns(store, o, &w.cols, &w.n);
    if (rc == CDS_OK)
        rc = wide_header(&w);
    if (rc == CDS_OK)
        rc = wide_rows(store, &w);
    if (rc == CDS_OK)
        rc = wide_total(store, &w);
    if (rc == CDS_OK)
        wide_finish(&w);
    for (size_t i = 0; i < w.n; i++)
        free(w.cols[i]);
    free(w.cols);
    table_destroy(&w.table);
    json_decref(w.rows);
    json_decref(w.total);
    return rc;
}

int
query_run(store_t *store, const query_opts_t *opts, FILE *out, char *err,
          size_t errlen)
{
    filter_t f;
    int rc = resolve_filter(store, opts, &f, err, errlen);
    /* One snapshot: the columns, rows and cells of a wide table agree. */
    if (rc == CDS_OK && (rc = store_read_begin(store)) == CDS_OK) {
        rc = opts->wide ? query_wide(store, opts, out)
                        : query_long(store, opts, &f, out);
        store_read_end(store);
    }
    free(f.indicators_json);
    return rc;
}
