/*  orgmap: org-unit lifecycle: the merge/split mapping (old units -> new
 *  unit, from a date) and the set of units whose values make up a unit's
 *  figure for a period.
 *
 *  File (deploy/orgunit_map.csv; UTF-8 CSV, optional BOM, header row,
 *  columns by name, unknown columns ignored):
 *      old     code of the unit that stopped existing      (required)
 *      new     code of the unit that took it over           (required)
 *      from    YYYY-MM-DD, first day of the new unit        (required)
 *      note    free text (legal act)
 *  Not one-to-one: several old units may go into one new unit, and one old
 *  unit may be listed under several new units (a split; its values then
 *  count in each, so split figures are not additive: see docs/ADMIN.md).
 *  Both codes must be in the org-unit table; (old, new) is unique.
 *
 *  Invariant: values stay keyed to the unit that reported them (old codes
 *  stay queryable under their own names); the mapping only decides which
 *  units a figure is rolled up from. A unit's sources for [start, end]
 *  are the leaves of its subtree, plus every unit mapped into it
 *  (transitively, with their subtrees), the latter only for periods that
 *  start before the mapping date, each valid on some day of the range. */
#ifndef AGG_ORGMAP_H
#define AGG_ORGMAP_H

#include "cds_config.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The units whose values make up :ou's figure: :ou's subtree, plus every
 * unit mapped into a unit of it (orgunit_map, followed transitively, with
 * their own subtrees). until = the earliest mapping date on the way (day
 * number): a mapped-in unit counts only for periods starting before it;
 * NULL = no limit (reached through the tree alone). Only leaves (units
 * without children) report. UNION stops cycles: (code, until) pairs are
 * finite because until only decreases. A WITH clause that orgmap's SQL
 * (orgmap_sql.h) and rollup's (rollup_sql.h) start from: the one
 * definition of the units making up a figure, public so both share it. */
#define ORGMAP_SOURCES_CTE_WITH(SRC)                                         \
    "WITH RECURSIVE src(code, until) AS (" SRC "),"                          \
    " leaf(code, until) AS ("                                                \
    "  SELECT code, CASE WHEN max(CASE WHEN until IS NULL THEN 1 ELSE 0 END)"\
    "  = 1 THEN NULL ELSE max(until) END FROM src"                           \
    "  WHERE NOT EXISTS (SELECT 1 FROM orgunit c WHERE c.parent = src.code)" \
    "  GROUP BY code) "
#define ORGMAP_SOURCES_CTE                                                   \
    ORGMAP_SOURCES_CTE_WITH(                                                 \
    " SELECT CAST(:ou AS TEXT), CAST(NULL AS BIGINT)"                        \
    " UNION SELECT o.code, s.until FROM orgunit o JOIN src s"                \
    "  ON o.parent = s.code"                                                 \
    " UNION SELECT m.old, CASE WHEN s.until IS NULL OR m.from_day < s.until" \
    "  THEN m.from_day ELSE s.until END"                                     \
    "  FROM orgunit_map m JOIN src s ON m.new = s.code")
/* The edges a figure's units are found along, as (code, up, from_day):
 * down the tree (from_day NULL) and back along a mapping from its new
 * unit to its old one (from_day = the mapping date). ORGMAP_UNTIL: the
 * until of a unit reached from s along e: the earliest mapping date on
 * the way. Shared by the sources (below) and the --org-unit scope of
 * query and export (query.h). */
#define ORGMAP_EDGES                                                         \
    " (SELECT code, parent AS up, CAST(NULL AS BIGINT) AS from_day"         \
    "  FROM orgunit UNION ALL SELECT old, new, from_day FROM orgunit_map)"  \
    " AS e"
#define ORGMAP_UNTIL                                                         \
    " CASE WHEN e.from_day IS NULL THEN s.until"                             \
    "  WHEN s.until IS NULL OR e.from_day < s.until THEN e.from_day"         \
    "  ELSE s.until END"
/* PostgreSQL allows one recursive term, with one reference to src: the
 * two steps (down the tree, back along a mapping) as one join with their
 * union of edges. */
#define ORGMAP_SOURCES_CTE_PG                                                \
    ORGMAP_SOURCES_CTE_WITH(                                                 \
    " SELECT CAST(:ou AS TEXT), CAST(NULL AS BIGINT)"                        \
    " UNION SELECT e.code," ORGMAP_UNTIL " FROM src s JOIN" ORGMAP_EDGES    \
    "  ON e.up = s.code")

/* One leaf whose values count towards a figure. */
typedef struct {
    char *code;                /* org unit code (owned) */
    char *name;                /* its name (owned) */
    int32_t valid_from;        /* day number, INT32_MIN when open */
    int32_t valid_to;          /* day number inclusive, INT32_MAX when open */
    int32_t until;             /* counts only for periods starting before
                                * this day (mapped-in units), else INT32_MAX */
    size_t *succ;              /* indexes (same array) of its successors:
                                * the leaves it was merged into, followed
                                * transitively (owned; NULL when none) */
    size_t nsucc;
} orgmap_unit_t;

/* The merge rule (docs/ORGUNITS.md "One merge rule"): how a figure treats
 * a leaf and its successor when both are sources for one period. The kind
 * of an indicator: orgmap_kind(aggregation, period_rollup is SUM). */
typedef enum {
    ORGMAP_STOCK = 0,          /* LAST: the successor's value where it
                                * reported, else the predecessors' */
    ORGMAP_YESNO = 1,          /* COUNT_TRUE: units existing at the end */
    ORGMAP_FLOW = 2,           /* SUM over periods: each unit's part */
} orgmap_kind_t;

/* Replace the mapping table with the rows of path, in one transaction of
 * its own. CDS_OK; CDS_EIO (cannot read), CDS_EMALFORMED or
 * CDS_EUNKNOWNORGUNIT with "path:line: column: problem" in err; or a
 * database error. *rows receives the number of mappings (may be NULL). */
int orgmap_load(store_t *store, const char *path, size_t *rows, char *err,
                size_t errlen);

/* Load the org-unit mapping configured in cfg into store, as every
 * command that uses it does first (admin.c, api.c): aggregator.orgunit_map;
 * default: orgunit_map.csv next to the orgunits file, skipped when absent.
 * CDS_OK or a code with "file:line: ..." in err. */
int orgmap_refresh(const cds_config_t *cfg, store_t *store, char *err,
                   size_t errlen);

/* The leaves reporting for ou over [start, end] (day numbers), ordered by
 * code, into a malloc'd array (*units, *n; free with orgmap_units_free).
 * CDS_OK or a database error. ou need not exist (then *n = 0). */
int orgmap_sources(store_t *store, const char *ou, int32_t start,
                   int32_t end, orgmap_unit_t **units, size_t *n);
/* The units that owe reports for [start, end] (what `query --wide`,
 * completeness and the dashboard list as rows): the sources valid in
 * it, less every predecessor whose successor exists on the period's last
 * day (the successor reports for the whole period). For a successor and
 * a period before its creation: its predecessors. Same contract as
 * orgmap_sources. */
int orgmap_owing(store_t *store, const char *ou, int32_t start,
                 int32_t end, orgmap_unit_t **units, size_t *n);
/* Does units[i] owe a report for [start, end] (see orgmap_owing)? */
bool orgmap_owes(const orgmap_unit_t *units, size_t n, size_t i,
                 int32_t start, int32_t end);
/* The kind of an indicator: COUNT_TRUE -> YESNO, else flow when its
 * period_rollup is SUM, else stock. */
orgmap_kind_t orgmap_kind(bool count_true, bool period_sum);
/* The merge rule for one (sub-)period [ps, pe] of a figure. reported[i]:
 * units[i] has a value for it. Sets expected[i] (it counts in the
 * figure's "expected") and counts[i] (its value counts):
 *   STOCK  counts = reported, unless a successor reported too (never
 *          both); expected = owes, or counts;
 *   YESNO  expected = owes: the units existing at the period's end
 *          (a unit that ended within it with no successor among the
 *          sources stands as at its end); counts = expected and reported;
 *   FLOW   expected = valid on some day of [ps, pe] and ps < until;
 *          counts = expected and reported (each unit's part). */
void orgmap_rule(const orgmap_unit_t *units, size_t n, orgmap_kind_t kind,
                 int32_t ps, int32_t pe, const bool *reported,
                 bool *expected, bool *counts);
/* Free an array from orgmap_sources. Safe on NULL. */
void orgmap_units_free(orgmap_unit_t *units, size_t n);

/* Name of org unit code into buf ("" when unknown). CDS_OK, CDS_ENOTFOUND
 * or a database error. */
int orgmap_unit_name(store_t *store, const char *code, char *buf,
                     size_t len);

#endif
