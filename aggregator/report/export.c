/*  export: DHIS2 dataValueSet JSON/CSV and spreadsheet CSV. See export.h;
 *  SQL in export_sql.h (EXPORT_SQL_EXPORT, the query long form plus the
 *  created time). */
#include "export.h"

#include "cds_adx.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_period.h"
#include "cds_util.h"
#include "export_adx.h"
#include "cds_idmap.h"
#include "export_sql.h"
#include "rollup.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Column order of EXPORT_SQL_EXPORT. */
enum { X_OU, X_OUNAME, X_DE, X_PE, X_COC, X_VALUE, X_BY, X_HLC, X_COMMENT,
       X_FOLLOWUP, X_CREATED, X_UPDATED, X_DELETED };

int
export_format_parse(const char *name, export_format_t *out)
{
    static const char *const names[] = { "dhis2-json", "dhis2-csv", "csv",
                                         "adx" };
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (export_format_t) i;
            return CDS_OK;
        }
    return CDS_EUSAGE;
}

int
export_period_adx(const char *id, char *buf, size_t len)
{
    return cds_adx_period_format(id, buf, len);
}

int
export_period_dhis2(const char *s, char *buf, size_t len)
{
    cds_period_t p;
    if (s && strchr(s, '/'))
        return cds_adx_period_parse(s, buf, len);
    if (!s || cds_period_parse(s, &p) != CDS_OK
        || (size_t) snprintf(buf, len, "%s", s) >= len)
        return CDS_EBADPERIOD;
    return CDS_OK;
}

/* ---- filters ------------------------------------------------------------ */

/* Bind scope, indicators and period range like query_run does. */
static int
bind_filter(store_t *store, cds_sql_stmt_t *st, const query_opts_t *o,
            char **inds_json, char *err, size_t errlen)
{
    int32_t start, end;
    int rc = query_range(o, &start, &end, err, errlen);
    if (rc != CDS_OK)
        return rc;
    if (o->org_unit) {
        int known = store_orgunit_exists(store, o->org_unit);
        if (known <= 0) {
            snprintf(err, errlen, "org-unit: \"%.64s\" is not in the "
                     "org-unit list", o->org_unit);
            return known < 0 ? -known : CDS_EUNKNOWNORGUNIT;
        }
    }
    if (o->n_indicators) {
        json_t *arr = json_array();
        for (size_t i = 0; i < o->n_indicators; i++)
            json_array_append_new(arr, json_string(o->indicators[i]));
        *inds_json = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        if (!*inds_json)
            return CDS_ENOMEM;
    }
    cds_sql_bind_text(st, ":ou", o->org_unit);
    cds_sql_bind_int64(st, ":subtree", o->subtree ? 1 : 0);
    cds_sql_bind_text(st, ":indicators", *inds_json);
    if (o->period || o->from)
        cds_sql_bind_int64(st, ":start", start);
    if (o->period || o->to)
        cds_sql_bind_int64(st, ":end", end);
    return CDS_OK;
}

/* ---- rows --------------------------------------------------------------- */

static const char *const dhis2_csv_header[] = {
    "dataelement", "period", "orgunit", "categoryoptioncombo",
    "attributeoptioncombo", "value", "storedby", "lastupdated", "comment",
    "followup", "deleted",
};
static const char *const plain_csv_header[] = {
    "orgunit", "orgunitname", "dataelement", "dataelementname", "unit",
    "period", "value", "storedby", "lastupdated", "comment", "entered",
};
#define PLAIN_COLS (sizeof plain_csv_header / sizeof plain_csv_header[0])

static void
csv_cells(FILE *out, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', out);
        report_csv_field(out, cells[i]);
    }
    fputs("\r\n", out);
}

static const char *
col(cds_sql_stmt_t *st, int i)
{
    const char *s = cds_sql_col_text(st, i);
    return s ? s : "";
}

/* The spreadsheet row: names beside the codes; a derived ratio's value
 * from its counts and its ignored entered value last (query_derive). */
static int
plain_row(const export_opts_t *o, query_deriver_t *der, cds_sql_stmt_t *st,
          const char *pe, const char *updated, FILE *out)
{
    const cds_indicator_t *ind = o->catalog
        ? cds_catalog_find(o->catalog, col(st, X_DE)) : NULL;
    query_derived_t d;
    bool derived = strcmp(col(st, X_COC), "default") == 0
                   && query_derive(der, col(st, X_OU), col(st, X_DE),
                                   col(st, X_PE), col(st, X_VALUE), &d);
    const char *cells[] = { col(st, X_OU), col(st, X_OUNAME), col(st, X_DE),
                            ind ? ind->name_vi : "", ind ? ind->unit : "",
                            pe, derived ? d.value : col(st, X_VALUE),
                            col(st, X_BY), updated, col(st, X_COMMENT),
                            derived ? d.entered : "" };
    csv_cells(out, cells, PLAIN_COLS);
    return CDS_OK;
}

/* created and lastUpdated of the current row (docs/ADMIN.md "created and
 * lastUpdated in cdsync"), ISO 8601 UTC into bufs of len each; never
 * created > lastUpdated, which DHIS2 reads as invalid. A lastUpdated the
 * source carried is kept and a later created (the first arrival in
 * cdsync) lowered to it: the value existed by then. Without one,
 * lastUpdated is the value's stamp raised to created: a value stamped by
 * an agent whose clock was behind, or entered offline, was stored no
 * earlier than its arrival. */
static void
row_times(cds_sql_stmt_t *st, char *created, char *updated, size_t len)
{
    uint64_t stamp = cds_hlc_ms((uint64_t) cds_sql_col_int64(st, X_HLC));
    bool carried = cds_sql_col_type(st, X_UPDATED) != CDS_SQL_NULL;
    uint64_t u = carried ? (uint64_t) cds_sql_col_int64(st, X_UPDATED)
                         : stamp;
    uint64_t c = cds_sql_col_type(st, X_CREATED) == CDS_SQL_NULL
                     ? stamp : (uint64_t) cds_sql_col_int64(st, X_CREATED);
    if (c > u) {
        if (carried)
            c = u;
        else
            u = c;
    }
    cds_format_time(created, len, c);
    cds_format_time(updated, len, u);
}

/* The DHIS2 ids of the row, dataElement, orgUnit, categoryOptionCombo,
 * attributeOptionCombo: the codes, or with o->ids their UIDs or names; an
 * unmapped code is CDS_ENOTFOUND naming it, a name two codes share
 * CDS_EBADFIELD naming both. */
static int
map_ids(const export_opts_t *o, cds_sql_stmt_t *st, const char *id[4],
        char *err, size_t errlen)
{
    static const char *const kinds[4] = { "dataelement", "orgunit",
                                          "catoptcombo", "catoptcombo" };
    const char *codes[4] = { col(st, X_DE), col(st, X_OU), col(st, X_COC),
                             "default" };
    const char *scheme = o->names ? "name" : "uid";
    for (int i = 0; i < 4; i++) {
        id[i] = o->ids ? cds_idmap_get(o->ids, kinds[i], codes[i])
                       : codes[i];
        const char *twin = o->names && id[i]
            ? cds_idmap_twin(o->ids, kinds[i], codes[i]) : NULL;
        if (!id[i]) {
            snprintf(err, errlen, "id-map: no %s for %s \"%s\" "
                     "(--id-scheme %s); add a row %s,%s,%s", scheme,
                     kinds[i], codes[i], scheme, kinds[i], codes[i],
                     o->names ? "NAME" : "UID");
            return CDS_ENOTFOUND;
        }
        if (twin) {
            snprintf(err, errlen, "id-scheme name: %s \"%s\" and \"%s\" "
                     "are both named \"%s\", which DHIS2 cannot resolve; "
                     "give one its DHIS2 name in --id-map (%s,%s,NAME)",
                     kinds[i], codes[i], twin, id[i], kinds[i], codes[i]);
            return CDS_EBADFIELD;
        }
    }
    return CDS_OK;
}

/* One exported value in the chosen format; a derived ratio is left out
 * of the DHIS2 formats (export.h). */
static int
export_row(const export_opts_t *o, query_deriver_t *der, cds_sql_stmt_t *st,
           json_t *arr, export_adx_t *adx, FILE *out, char *err,
           size_t errlen)
{
    if (o->format != EXPORT_CSV && o->catalog
        && rollup_is_derived(cds_catalog_find(o->catalog, col(st, X_DE))))
        return CDS_OK;
    if (o->format == EXPORT_ADX)
        return export_adx_add(adx, col(st, X_OU), col(st, X_DE),
                              col(st, X_PE), col(st, X_COC),
                              col(st, X_VALUE), col(st, X_COMMENT), err,
                              errlen);
    char period[32], updated[40], created[40];
    const char *pe = col(st, X_PE), *id[4];
    int rc = map_ids(o, st, id, err, errlen);
    if (rc != CDS_OK)
        return rc;
    if (o->adx_periods && export_period_adx(pe, period, sizeof period)
                              == CDS_OK)
        pe = period;
    row_times(st, created, updated, sizeof created);
    bool followup = cds_sql_col_int(st, X_FOLLOWUP) != 0;
    if (o->format == EXPORT_DHIS2_JSON) {
        json_t *v = json_pack("{sssssssssssssssssssssb}",
                              "dataElement", id[0], "period", pe,
                              "orgUnit", id[1], "categoryOptionCombo", id[2],
                              "attributeOptionCombo", id[3],
                              "value", col(st, X_VALUE),
                              "storedBy", col(st, X_BY),
                              "created", created, "lastUpdated", updated,
                              "comment", col(st, X_COMMENT),
                              "followup", followup);
        if (v && o->include_deleted
            && json_object_set_new(v, "deleted", json_boolean(
                                       cds_sql_col_int(st, X_DELETED))) != 0)
            json_decref(v), v = NULL;
        return v && json_array_append_new(arr, v) == 0 ? CDS_OK : CDS_ENOMEM;
    }
    if (o->format == EXPORT_DHIS2_CSV) {
        const char *cells[] = { id[0], pe, id[1], id[2], id[3],
                                col(st, X_VALUE),
                                col(st, X_BY), updated, col(st, X_COMMENT),
                                followup ? "true" : "false",
                                cds_sql_col_int(st, X_DELETED) ? "true"
                                                               : "false" };
        csv_cells(out, cells, o->include_deleted ? 11 : 10);
        return CDS_OK;
    }
    return plain_row(o, der, st, pe, updated, out);
}

/* --adx-periods: ADX notation is read by DHIS2 only inside ADX XML, so
 * it is refused with the DHIS2 JSON/CSV formats (export.h). */
static int
check_opts(const export_opts_t *o, char *err, size_t errlen)
{
    if (o->adx_periods
        && (o->format == EXPORT_DHIS2_JSON || o->format == EXPORT_DHIS2_CSV)) {
        snprintf(err, errlen, "adx-periods: DHIS2 reads ISO 8601 "
                 "start/duration periods only inside ADX XML, not in its "
                 "JSON or CSV; use --format adx (ADX periods always)");
        return CDS_EUSAGE;
    }
    if (o->include_deleted
        && (o->format == EXPORT_ADX || o->format == EXPORT_CSV)) {
        snprintf(err, errlen, "include-deleted: %s has no deleted field; "
                 "use --format dhis2-json or dhis2-csv",
                 o->format == EXPORT_ADX ? "ADX" : "the spreadsheet csv");
        return CDS_EUSAGE;
    }
    if ((o->ids || o->names) && o->format != EXPORT_DHIS2_JSON
        && o->format != EXPORT_DHIS2_CSV) {
        snprintf(err, errlen, "id-scheme: %s is written by --format "
                 "dhis2-json and dhis2-csv only (%s writes codes)",
                 o->names ? "name" : "uid",
                 o->format == EXPORT_ADX ? "adx" : "csv");
        return CDS_EUSAGE;
    }
    return CDS_OK;
}

/* After the rows: close the JSON or ADX document. */
static int
export_finish(const export_opts_t *opts, json_t *arr, export_adx_t *adx,
              FILE *out)
{
    int rc = CDS_OK;
    if (opts->format == EXPORT_ADX)
        rc = export_adx_write(adx, out, opts->exported_ms ? opts->exported_ms
                                                          : cds_now_ms());
    if (opts->format == EXPORT_DHIS2_JSON) {
        json_t *set = json_pack("{sO}", "dataValues", arr);
        rc = set && json_dumpf(set, out, JSON_INDENT(2)) == 0 ? CDS_OK
                                                               : CDS_EIO;
        fputc('\n', out);
        json_decref(set);
    }
    return rc;
}

static int
export_write(store_t *store, const export_opts_t *opts, FILE *out,
             char *err, size_t errlen)
{
    char *inds = NULL;
    if (check_opts(opts, err, errlen) != CDS_OK)
        return CDS_EUSAGE;
    cds_sql_stmt_t *st = opts->include_deleted
        ? store_read(store, EXPORT_SQL_EXPORT_ALL, EXPORT_SQL_EXPORT_ALL_PG)
        : store_read(store, EXPORT_SQL_EXPORT, EXPORT_SQL_EXPORT_PG);
    if (!st)
        return CDS_ERROR;
    json_t *arr = json_array();
    export_adx_t *adx = opts->format == EXPORT_ADX
        ? export_adx_new(opts->datasets, opts->catalog) : NULL;
    query_deriver_t *der = opts->format == EXPORT_CSV
        ? query_deriver_new(store, opts->catalog) : NULL;
    int step, rc = !arr || (opts->format == EXPORT_ADX && !adx) ? CDS_ENOMEM
                   : opts->format == EXPORT_CSV && opts->catalog && !der
                       ? CDS_ERROR
                       : bind_filter(store, st, &opts->filter, &inds, err,
                                     errlen);
    if (rc == CDS_OK && opts->bom)
        fputs("\xEF\xBB\xBF", out);
    if (rc == CDS_OK && opts->format == EXPORT_DHIS2_CSV)
        csv_cells(out, dhis2_csv_header, opts->include_deleted ? 11 : 10);
    else if (rc == CDS_OK && opts->format == EXPORT_CSV)
        csv_cells(out, plain_csv_header, PLAIN_COLS);
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        rc = export_row(opts, der, st, arr, adx, out, err, errlen);
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    if (rc == CDS_OK)
        rc = export_finish(opts, arr, adx, out);
    json_decref(arr);
    export_adx_destroy(&adx);
    query_deriver_destroy(&der);
    free(inds);
    cds_sql_finalize(&st);
    return rc;
}

cds_idmap_t *
export_names_map(store_t *store, const cds_idmap_t *ids,
                 const cds_catalog_t *catalog, int *rc)
{
    cds_idmap_t *m = cds_idmap_copy(ids);
    *rc = m ? cds_idmap_add_names(m, catalog, NULL) : CDS_ENOMEM;
    cds_sql_stmt_t *st = *rc == CDS_OK
        ? store_read(store, EXPORT_SQL_UNIT_NAMES, EXPORT_SQL_UNIT_NAMES)
        : NULL;
    int step = CDS_SQL_DONE;
    if (*rc == CDS_OK && !st)
        *rc = CDS_ERROR;
    while (*rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        *rc = cds_idmap_add(m, "orgunit", col(st, 0), col(st, 1));
    if (*rc == CDS_OK && step != CDS_SQL_DONE)
        *rc = step;                    /* logged by cds_sql */
    cds_sql_finalize(&st);
    if (*rc != CDS_OK)
        cds_idmap_destroy(&m);
    return m;
}

/* With UIDs or names an unmapped code may stop the export midway: it is
 * written to memory first, so a refusal writes nothing (export.h). */
int
export_run(store_t *store, const export_opts_t *opts, FILE *out, char *err,
           size_t errlen)
{
    if (!opts->ids && !opts->names)
        return export_write(store, opts, out, err, errlen);
    export_opts_t o = *opts;
    cds_idmap_t *names = NULL;
    int rc = check_opts(opts, err, errlen);
    if (rc == CDS_OK && o.names
        && !(names = export_names_map(store, opts->ids, opts->catalog, &rc)))
        return rc;
    if (names)
        o.ids = names;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = rc == CDS_OK ? open_memstream(&buf, &len) : NULL;
    if (rc == CDS_OK && !mem)
        rc = CDS_ENOMEM;
    if (rc == CDS_OK)
        rc = export_write(store, &o, mem, err, errlen);
    if (mem && fclose(mem) != 0 && rc == CDS_OK)
        rc = CDS_ENOMEM;
    if (rc == CDS_OK && fwrite(buf, 1, len, out) != len)
        rc = CDS_EIO;
    free(buf);
    cds_idmap_destroy(&names);
    return rc;
}
