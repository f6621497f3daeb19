/*  query: the `query` command: read the consolidated values.
 *
 *  Long form: one row per live (not deleted) value: orgunit, orgunitname,
 *  dataelement, period, categoryoptioncombo, value, storedby, lastupdated
 *  (the HLC time as ISO-8601), comment, followup, agent (fingerprint).
 *  Filters: org unit (with its subtree unless subtree = false), indicator
 *  list, and period: a stored period is selected when its [start, end]
 *  lies within the filter's range (--period P: P's range, so a quarter
 *  selects its months and weeks; --from A --to B: A.start .. B.end).
 *  Wide form (--wide): rows = leaf org units under the filter unit, columns
 *  = indicators (the --indicator list, else the catalog's, else those with
 *  values), for exactly one --period; a "reported" column "k/n" and a last
 *  line "N of M org units complete". With data sets (cds_dataset.h) n is
 *  the entered cells among the columns that the unit owes for the period
 *  and k how many of them hold a value; a unit that owes none has an
 *  empty "reported" and is not counted among the M units.
 *  Formats: table (aligned by display width), csv (RFC 4180: fields with
 *  comma, quote, CR or LF are quoted, quotes doubled; header row), json
 *  (jansson; long form is a DHIS2 dataValueSet {"dataValues": [{orgUnit,
 *  orgUnitName, dataElement, period, categoryOptionCombo, value, storedBy,
 *  lastUpdated, comment, followup, agent}]}). Reads only. */
#ifndef AGG_QUERY_H
#define AGG_QUERY_H

#include "cds_catalog.h"
#include "cds_dataset.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Org units in scope: :ou and its descendants (:subtree = 1), :ou alone
 * (:subtree = 0), or every unit (:ou NULL). A WITH clause that query's
 * SQL (query_sql.h) and export's (export_sql.h) start from: the one
 * definition of a --org-unit scope, public so that both share it. */
#define QUERY_SCOPE_CTE                                                      \
    "WITH RECURSIVE scope(code) AS ("                                        \
    " SELECT code FROM orgunit WHERE CAST(:ou AS TEXT) IS NULL"              \
    " UNION SELECT CAST(:ou AS TEXT) WHERE CAST(:ou AS TEXT) IS NOT NULL"    \
    " UNION SELECT o.code FROM orgunit o JOIN scope s ON o.parent = s.code"  \
    " WHERE CAST(:subtree AS BIGINT) <> 0"                                   \
    " AND CAST(:ou AS TEXT) IS NOT NULL) "
/* The filter and order of the long form and the export, shared likewise:
 * after "FROM datavalue d ...", the live (not deleted) values in scope
 * whose indicator is in the JSON array :indicators (NULL: any) and whose
 * period lies in [:start, :end] (NULL: open), in key order. JSON_TEXTS is
 * STORE_SQL_JSON_TEXTS or its _PG; C "" or STORE_SQL_BYTE_ORDER (store.h)
 * after each text sort key. */
#define QUERY_SQL_LIVE_IN_SCOPE(JSON_TEXTS, C)                               \
    " WHERE d.deleted = 0 AND d.org_unit IN (SELECT code FROM scope)"        \
    " AND (CAST(:indicators AS TEXT) IS NULL OR d.indicator IN"              \
    "      (" JSON_TEXTS(":indicators") "))"                                 \
    " AND (CAST(:start AS BIGINT) IS NULL OR d.period_start >= :start)"      \
    " AND (CAST(:end AS BIGINT) IS NULL OR d.period_end <= :end)"            \
    " ORDER BY d.org_unit" C ", d.indicator" C ", d.period_start,"           \
    " d.period" C ", d.disagg" C

typedef enum {
    QUERY_TABLE = 0,
    QUERY_CSV = 1,
    QUERY_JSON = 2,
} query_format_t;

typedef struct {
    const char *org_unit;              /* NULL: every unit */
    bool subtree;                      /* include descendants of org_unit */
    const char *const *indicators;     /* NULL/0: every indicator */
    size_t n_indicators;
    const char *period;                /* NULL: no period filter */
    const char *from, *to;             /* range ends (either may be NULL) */
    query_format_t format;
    bool wide;                         /* org units x indicators, 1 period */
    const cds_catalog_t *catalog;      /* optional: wide column order */
    const cds_datasets_t *datasets;    /* optional: wide "reported" over
                                        * the owed cells (above) */
} query_opts_t;

/* "table" | "csv" | "json". CDS_OK or CDS_EUSAGE. */
int query_format_parse(const char *name, query_format_t *out);
/* Run the query and print to out. CDS_OK; CDS_EUSAGE (conflicting or
 * missing options), CDS_EBADPERIOD, CDS_EUNKNOWNORGUNIT with a message in
 * err; or a database error. */
int query_run(store_t *store, const query_opts_t *opts, FILE *out, char *err,
              size_t errlen);
/* The sentence for a unit that did not exist in period p (Vietnamese,
 * e.g. "Huyện Đức Huệ (801) không còn tồn tại trong 2026Q1 (giải thể
 * 2025-06-30)"; owned), or NULL when it did (or no memory). */
char *query_absent_sentence(const char *code, const char *name, int32_t from,
                            int32_t to, const char *period,
                            const cds_period_t *p);
/* The same for org unit code of the store and period (an id), or NULL when
 * it existed, is not known or the period does not parse. */
char *query_absent_note(store_t *store, const char *code, const char *period);
/* Write one CSV field (RFC 4180 quoting when needed). */
void query_csv_field(FILE *out, const char *s);

#endif
