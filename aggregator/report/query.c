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
#include <math.h>
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
    size_t ncols;                      /* LONG_COLS [+ TARGET_COLS] + 1:
                                        * the last, "entered" */
    query_deriver_t *der;              /* derived ratio cells, or NULL */
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

/* One JSON row: DHIS2's keys, the target fields, and "entered" only
 * when a derived ratio's entered value is ignored visibly (query.h). */
static json_t *
long_json(const query_opts_t *o, cds_sql_stmt_t *st, const char **cells,
          size_t n)
{
    json_t *obj = json_object();
    for (int i = 0; i < LONG_COLS; i++)
        json_object_set_new(obj, long_keys[i],
                            i == 9 ? json_boolean(cds_sql_col_int(st, 9))
                                   : json_string(cells[i] ? cells[i] : ""));
    for (size_t i = LONG_COLS; i + 1 < n; i++)
        json_object_set_new(obj, target_header[i - LONG_COLS],
                            target_json(i, cells[i]));
    if (cells[n - 1][0])
        json_object_set_new(obj, "entered", json_string(cells[n - 1]));
    return obj;
}

/* Emit one row of the long query in the chosen format. */
static int
emit_long(const query_opts_t *o, long_t *l, cds_sql_stmt_t *st, table_t *t,
          json_t *arr, FILE *out)
{
    char updated[40], followup[8];
    const char *cells[LONG_COLS + TARGET_COLS + 1];
    attain_bufs_t b;
    query_derived_t d;
    for (int i = 0; i < LONG_COLS; i++)
        cells[i] = cds_sql_col_text(st, i);
    bool derived = strcmp(cells[4], "default") == 0
                   && query_derive(l->der, cells[0], cells[2], cells[3],
                                   cells[5], &d);
    cells[5] = derived ? d.value : cells[5];
    cells[l->ncols - 1] = derived ? d.entered : "";
    cds_format_time(updated, sizeof updated,
                    (uint64_t) cds_sql_col_int64(st, 7)); /* ms, query_sql.h */
    cells[7] = updated;
    snprintf(followup, sizeof followup, "%s",
             cds_sql_col_int(st, 9) ? "true" : "false");
    cells[9] = followup;
    int rc = l->ncols > LONG_COLS + 1 ? target_cells(o, l, cells, &b)
                                      : CDS_OK;
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
                 .ncols = LONG_COLS + (o->targets ? TARGET_COLS : 0) + 1,
                 .der = query_deriver_new(store, o->catalog) };
    if (o->catalog && !l.der) {
        cds_sql_finalize(&st);
        return CDS_ERROR;
    }
    const char *header[LONG_COLS + TARGET_COLS + 1];
    memcpy(header, long_header, sizeof long_header);
    memcpy(header + LONG_COLS, target_header, sizeof target_header);
    header[l.ncols - 1] = "entered";
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
    query_deriver_destroy(&l.der);
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

/* ---- derived ratios (query.h) ------------------------------------------- */

struct query_deriver {
    const cds_catalog_t *cat;
    cds_sql_stmt_t *cell;              /* QUERY_SQL_CELL */
};

query_deriver_t *
query_deriver_new(store_t *store, const cds_catalog_t *catalog)
{
    query_deriver_t *self = catalog ? calloc(1, sizeof *self) : NULL;
    if (self && !(self->cell = store_read(store, QUERY_SQL_CELL, NULL)))
        free(self), self = NULL;
    if (self)
        self->cat = catalog;
    return self;
}

void
query_deriver_destroy(query_deriver_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_sql_finalize(&(*self_p)->cell);
    free(*self_p);
    *self_p = NULL;
}

/* The stored default-disagg number of one cell: false when none. */
static bool
cell_number(cds_sql_stmt_t *cell, const char *ou, const char *de,
            const char *period, double *out)
{
    cds_sql_bind_text(cell, ":ou", ou);
    cds_sql_bind_text(cell, ":de", de);
    cds_sql_bind_text(cell, ":pe", period);
    bool got = cds_sql_step(cell) == CDS_SQL_ROW
               && cds_sql_col_type(cell, 0) != CDS_SQL_NULL;
    if (got)
        *out = strtod(cds_sql_col_text(cell, 0), NULL);
    cds_sql_reset(cell);
    return got;
}

bool
query_derive(query_deriver_t *self, const char *ou, const char *code,
             const char *period, const char *entered, query_derived_t *out)
{
    const cds_indicator_t *ind = self && code
        ? cds_catalog_find(self->cat, code) : NULL;
    if (!rollup_is_derived(ind))
        return false;
    double n, d, v = 0;
    bool has = cell_number(self->cell, ou, ind->numerator, period, &n)
               && cell_number(self->cell, ou, ind->denominator, period, &d)
               && rollup_ratio(ind, n, d, &v);
    rollup_format(v, has, out->value, sizeof out->value);
    bool away = entered && entered[0]
                && (!has || !(fabs(strtod(entered, NULL) - v)
                              <= QUERY_DERIVED_TOLERANCE));
    snprintf(out->entered, sizeof out->entered, "%s", away ? entered : "");
    return true;
}

/* ---- wide form, rows ---------------------------------------------------- */

/* Cells of one org unit's row: value per indicator (a derived ratio's
 * from its counts, query_derive; its ignored entered value into ents[i],
 * else ""), and into *k how many hold a value. */
static int
wide_row(cds_sql_stmt_t *cell, query_deriver_t *der, const char *ou,
         const char *period, char **cols, size_t n, char **cells,
         char (*ents)[32], size_t *k)
{
    *k = 0;
    for (size_t i = 0; i < n; i++) {
        cds_sql_bind_text(cell, ":ou", ou);
        cds_sql_bind_text(cell, ":de", cols[i]);
        cds_sql_bind_text(cell, ":pe", period);
        const char *v = cds_sql_step(cell) == CDS_SQL_ROW
                        ? cds_sql_col_text(cell, 0) : NULL;
        query_derived_t d;
        bool derived = query_derive(der, ou, cols[i], period, v, &d);
        cells[i] = strdup(derived ? d.value : v ? v : "");
        snprintf(ents[i], sizeof ents[i], "%s", derived ? d.entered : "");
        cds_sql_reset(cell);
        if (!cells[i])
            return CDS_ENOMEM;
        *k += cells[i][0] != '\0';
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
    cds_period_t period;               /* o->period parsed (data sets) */
    char *note;                        /* the unit did not exist in the
                                        * period (completeness.h), or NULL */
    query_deriver_t *der;              /* derived ratio cells, or NULL */
    char (*ents)[32];                  /* per column: the ignored entered
                                        * value of the current row, or "" */
} wide_t;

/* With data sets: of the columns, the entered cells unit ou owes for the
 * period into *n, and how many of them hold a value into *k. */
static void
wide_owed(const wide_t *w, const char *ou, char **vals, size_t *k,
          size_t *n)
{
    *k = *n = 0;
    for (size_t i = 0; i < w->n; i++) {
        const cds_indicator_t *ind = w->o->catalog
            ? cds_catalog_find(w->o->catalog, w->cols[i]) : NULL;
        if ((ind && ind->agg == CDS_AGG_RATIO)
            || !cds_datasets_expects(w->o->datasets, ou, w->cols[i],
                                     &w->period, NULL, 0))
            continue;
        (*n)++;
        *k += vals[i][0] != '\0';
    }
}

/* The last column: "CODE=value" of each entered derived ratio that is
 * ignored visibly (query.h), "; " between; "" when none. Owned. */
static char *
wide_entered_text(const wide_t *w)
{
    size_t len = 1;
    for (size_t i = 0; i < w->n; i++)
        len += w->ents[i][0] ? strlen(w->cols[i]) + strlen(w->ents[i]) + 3
                             : 0;
    char *t = calloc(len, 1);
    for (size_t i = 0; t && i < w->n; i++)
        if (w->ents[i][0])
            snprintf(t + strlen(t), len - strlen(t), "%s%s=%s",
                     t[0] ? "; " : "", w->cols[i], w->ents[i]);
    return t;
}

/* The JSON row's "entered": {code: value} of the same cells. */
static json_t *
wide_entered_json(const wide_t *w)
{
    json_t *e = json_object();
    for (size_t i = 0; e && i < w->n; i++)
        if (w->ents[i][0])
            json_object_set_new(e, w->cols[i], json_string(w->ents[i]));
    return e;
}

static int
wide_emit(wide_t *w, const char *ou, const char *name, char **vals, size_t k)
{
    char reported[48] = "";
    size_t n = w->n;
    if (w->o->datasets)
        wide_owed(w, ou, vals, &k, &n);
    if (n > 0 || !w->o->datasets) {
        snprintf(reported, sizeof reported, "%zu/%zu", k, n);
        w->units++;
    }
    if (k == n && n > 0)
        w->complete++;
    const char **cells = calloc(w->n + 4, sizeof *cells);
    char *ent = wide_entered_text(w);
    if (!cells || !ent) {
        free(cells);
        free(ent);
        return CDS_ENOMEM;
    }
    cells[0] = ou;
    cells[1] = name;
    for (size_t i = 0; i < w->n; i++)
        cells[2 + i] = vals[i];
    cells[2 + w->n] = reported;
    cells[3 + w->n] = ent;
    int rc = CDS_OK;
    if (w->o->format == QUERY_CSV)
        csv_row(w->out, cells, w->n + 4);
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
        json_object_set_new(obj, "entered", wide_entered_json(w));
        rc = json_array_append_new(w->rows, obj) == 0 ? CDS_OK : CDS_ENOMEM;
    }
    free(cells);
    free(ent);
    return rc;
}

static int
wide_header(wide_t *w)
{
    const char **h = calloc(w->n + 4, sizeof *h);
    if (!h)
        return CDS_ENOMEM;
    h[0] = "orgunit";
    h[1] = "orgunitname";
    for (size_t i = 0; i < w->n; i++)
        h[2 + i] = w->cols[i];
    h[2 + w->n] = "reported";
    h[3 + w->n] = "entered";
    int rc = CDS_OK;
    if (w->o->format == QUERY_CSV)
        csv_row(w->out, h, w->n + 4);
    else if (w->o->format == QUERY_TABLE) {
        w->table = table_new(h, w->n + 4);
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
        if (w->note && w->units == 0)  /* no "0 of 0": say why */
            fprintf(w->out, "%s\n", w->note);
        else
            fprintf(w->out, "%s%s%zu of %zu org units complete\n",
                    w->note ? w->note : "", w->note ? "; " : "",
                    w->complete, w->units);
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
        if (w->note)
            json_object_set_new(top, "note", json_string(w->note));
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
    int rc = wide_row(cell, w->der, ou, w->o->period, w->cols, w->n, vals,
                      w->ents, &k);
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
    const char **row = cells ? calloc(nf + 4, sizeof *row) : NULL;
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
        row[2 + nf] = row[3 + nf] = "";
        rc = table_add(w->table, row) == 0 ? CDS_OK : CDS_ENOMEM;
    }
    free(row);
    free(cells);
    free(f);
    return rc;
}

/* query.h; "giải thể" after valid_to, "thành lập" before valid_from. */
char *
query_absent_sentence(const char *code, const char *name, int32_t from,
                      int32_t to, const char *period, const cds_period_t *p)
{
    char day[16], buf[700];
    if (cds_orgunit_open_in(from, to, p->start, p->end))
        return NULL;
    bool gone = to < p->start;         /* else: not yet created */
    cds_date_format(gone ? to : from, day, sizeof day);
    snprintf(buf, sizeof buf, gone
             ? "%s (%s) không còn tồn tại trong %s (giải thể %s)"
             : "%s (%s) chưa tồn tại trong %s (thành lập %s)",
             name, code, period, day);
    return strdup(buf);
}

/* query.h; the unit's lifetime and name from the store. */
char *
query_absent_note(store_t *store, const char *code, const char *period)
{
    cds_period_t p;
    int32_t from, to;
    char name[520];
    if (!code || !period || cds_period_parse(period, &p) != CDS_OK
        || store_orgunit_span(store, code, &from, &to, name, sizeof name)
               != 1)
        return NULL;
    return query_absent_sentence(code, name, from, to, period, &p);
}

static int
query_wide(store_t *store, const query_opts_t *o, FILE *out)
{
    wide_t w = { .o = o, .out = out };
    if (o->datasets && cds_period_parse(o->period, &w.period) != CDS_OK)
        return CDS_EBADPERIOD;         /* checked by query_run already */
    w.note = query_absent_note(store, o->org_unit, o->period);
    int rc = wide_columns(store, o, &w.cols, &w.n);
    w.der = query_deriver_new(store, o->catalog);
    w.ents = calloc(w.n + 1, sizeof *w.ents);
    if (rc == CDS_OK && ((o->catalog && !w.der) || !w.ents))
        rc = CDS_ERROR;
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
    free(w.note);
    free(w.ents);
    query_deriver_destroy(&w.der);
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
