/*  query: the `query` command: read the consolidated values.
 *
 *  Long form: one row per live (not deleted) value: orgunit, orgunitname,
 *  dataelement, period, categoryoptioncombo, value, storedby, lastupdated
 *  (the HLC time as ISO-8601), comment, followup, agent (fingerprint).
 *  Filters: org unit (with its subtree and the units merged into it, for
 *  periods before the merge, unless subtree = false), indicator
 *  list, and period: a stored period is selected when its [start, end]
 *  lies within the filter's range (--period P: P's range, so a quarter
 *  selects its months and weeks; --from A --to B: A.start .. B.end).
 *  Wide form (--wide): rows = the units that owe reports for the period
 *  under the filter unit by the merge rule (orgmap_owing: for a unit
 *  made by a merge and a period before it, its predecessors), columns
 *  = indicators (the --indicator list, else the catalog's, else those with
 *  values), for exactly one --period; a "reported" column "k/n", a
 *  "total" row (table; JSON "total") with rollup's figure per column
 *  when the catalog's rules are given, and a last line "N of M org units
 *  complete". With data sets (cds_dataset.h) n is the entered cells
 *  among the columns that the unit owes for the period and k how many of
 *  them hold a value; a unit that owes none has an empty "reported" and
 *  is not counted among the M units.
 *  Targets: with opts->targets the long form appends three columns,
 *  target, attainment, state: each value against the target of its unit,
 *  indicator and period's year (attain.h; a value of a sub-period, e.g. a
 *  month, against its year's target); the wide form is unchanged (rollup
 *  and rank give a unit's attainment).
 *  Derived ratios (query_derive below): a cell or long-form row of one
 *  shows the value of the unit's own counts for its period; the entered
 *  value, where ignored visibly, goes into a last column "entered" (long
 *  form: after the target columns; wide: after "reported", "CODE=value"
 *  joined by "; "), JSON "entered": "v" on a long row (only when
 *  flagged) and "entered": {code: v} on every wide row.
 *  Formats: table (aligned by display width), csv (RFC 4180: fields with
 *  comma, quote, CR or LF are quoted, quotes doubled; header row), json
 *  (jansson; long form is a DHIS2 dataValueSet {"dataValues": [{orgUnit,
 *  orgUnitName, dataElement, period, categoryOptionCombo, value, storedBy,
 *  lastUpdated, comment, followup, agent}]}). Reads only. */
#ifndef AGG_QUERY_H
#define AGG_QUERY_H

#include "cds_catalog.h"
#include "cds_dataset.h"
#include "cds_target.h"
#include "orgmap.h"
#include "rollup.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Org units in scope, as (code, until): :ou and its descendants, plus
 * the units merged into it (orgunit_map, followed transitively with
 * their subtrees: orgmap.h, the merge rule's home) whose values count
 * only for periods starting before until (NULL: no limit)
 * (:subtree = 1); :ou alone (:subtree = 0); or every unit (:ou NULL).
 * A WITH clause that query's SQL (query_sql.h) and export's
 * (export_sql.h) start from: the one definition of a --org-unit scope,
 * public so that both share it. */
#define QUERY_SCOPE_CTE                                                      \
    "WITH RECURSIVE scope(code, until) AS ("                                 \
    " SELECT code, CAST(NULL AS BIGINT) FROM orgunit"                        \
    "  WHERE CAST(:ou AS TEXT) IS NULL"                                      \
    " UNION SELECT CAST(:ou AS TEXT), CAST(NULL AS BIGINT)"                  \
    "  WHERE CAST(:ou AS TEXT) IS NOT NULL"                                  \
    " UNION SELECT e.code," ORGMAP_UNTIL " FROM scope s JOIN" ORGMAP_EDGES  \
    "  ON e.up = s.code WHERE CAST(:subtree AS BIGINT) <> 0"                 \
    " AND CAST(:ou AS TEXT) IS NOT NULL) "
/* The filter and order of the long form and the export, shared likewise:
 * after "FROM datavalue d ...", the live (not deleted) values in scope
 * (a merged-in unit's only for periods starting before its merge date)
 * whose indicator is in the JSON array :indicators (NULL: any) and whose
 * period lies in [:start, :end] (NULL: open), in key order. JSON_TEXTS is
 * STORE_SQL_JSON_TEXTS or its _PG; C "" or STORE_SQL_BYTE_ORDER (store.h)
 * after each text sort key. */
#define QUERY_SQL_LIVE_IN_SCOPE(JSON_TEXTS, C)                               \
    QUERY_SQL_IN_SCOPE(" WHERE d.deleted = 0 AND", JSON_TEXTS, C)
/* The same with WHERE_AND opening the WHERE clause (" WHERE" alone: the
 * deleted values too, export --include-deleted). */
#define QUERY_SQL_IN_SCOPE(WHERE_AND, JSON_TEXTS, C)                         \
    WHERE_AND " EXISTS (SELECT 1 FROM scope s"                               \
    "  WHERE s.code = d.org_unit"                                            \
    "  AND (s.until IS NULL OR d.period_start < s.until))"                   \
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
    const cds_catalog_t *catalog;      /* optional: wide column order;
                                        * value types for targets */
    const rollup_rules_t *rules;       /* optional, with catalog: the wide
                                        * total row (rollup's figures) */
    const cds_targets_t *targets;      /* optional: long form appends
                                        * target, attainment, state
                                        * (attain.h; needs catalog) */
    const cds_datasets_t *datasets;    /* optional: wide "reported" over
                                        * the owed cells (above) */
} query_opts_t;

/* A derived ratio's cell (docs/ADMIN.md "Data-quality rules": a catalog
 * RATIO naming its numerator and denominator, rollup_is_derived): its
 * entered value is ignored; shown is the value of the unit's own two
 * counts for the same period (rollup_ratio, rollup_format), "" when a
 * count is not stored or the denominator is 0. The entered value is kept
 * in entered when it is ignored visibly: present and either no value is
 * derived or it is more than QUERY_DERIVED_TOLERANCE away (validate's
 * bound: a figure rounded to one decimal is not flagged); else "". */
#define QUERY_DERIVED_TOLERANCE 0.05
typedef struct {
    char value[32];
    char entered[32];
} query_derived_t;

typedef struct query_deriver query_deriver_t;

/* A reader of derived cells over store's live values (statements
 * prepared once; inside the caller's read snapshot, if any). NULL on
 * error (logged) or when catalog is NULL (nothing is derived then). */
query_deriver_t *query_deriver_new(store_t *store,
                                   const cds_catalog_t *catalog);
/* Free; sets *self_p to NULL. Safe on NULL. */
void query_deriver_destroy(query_deriver_t **self_p);
/* Indicator code of unit ou for period: false when self is NULL or code
 * is not a derived ratio (show the stored value); else true and *out
 * filled. entered: the stored value of the cell, NULL when none. */
bool query_derive(query_deriver_t *self, const char *ou, const char *code,
                  const char *period, const char *entered,
                  query_derived_t *out);

/* "table" | "csv" | "json". CDS_OK or CDS_EUSAGE. */
int query_format_parse(const char *name, query_format_t *out);
/* Run the query and print to out. CDS_OK; CDS_EUSAGE (conflicting or
 * missing options), CDS_EBADPERIOD, CDS_EUNKNOWNORGUNIT with a message in
 * err; or a database error. */
int query_run(store_t *store, const query_opts_t *opts, FILE *out, char *err,
              size_t errlen);
/* The day range of opts' --period or --from/--to, the one reading query
 * and export share: *start = the period's or --from's first day, *end =
 * the period's or --to's last day, INT32_MIN / INT32_MAX where open.
 * CDS_OK; CDS_EUSAGE (--period with --from/--to; --from starting after
 * --to ends, which would match nothing: both named in err);
 * CDS_EBADPERIOD (the flag and its value in err). */
int query_range(const query_opts_t *opts, int32_t *start, int32_t *end,
                char *err, size_t errlen);
/* The sentence for a unit that did not exist in period p (Vietnamese,
 * e.g. "Huyện Đức Huệ (801) không còn tồn tại trong 2026Q1 (giải thể
 * 2025-06-30)"; owned), or NULL when it did (or no memory). */
char *query_absent_sentence(const char *code, const char *name, int32_t from,
                            int32_t to, const char *period,
                            const cds_period_t *p);
/* The same for org unit code of the store and period (an id), or NULL when
 * it existed, is not known or the period does not parse. */
char *query_absent_note(store_t *store, const char *code, const char *period);

#endif
