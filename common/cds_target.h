/*  cds_target: targets per indicator, org unit (or subtree) and year, the
 *  attainment of a figure against its target, and its traffic-light state.
 *
 *  File (deploy/targets.csv beside the catalog; UTF-8 CSV, optional BOM,
 *  header row, columns by name, order free, unknown columns ignored):
 *      indicator     catalog code                                (required)
 *      org_unit      CODE: that unit; under:CODE: every unit below CODE (its
 *                    descendants, not CODE itself)               (required)
 *      year          YYYY, the calendar year the target is for   (required)
 *      target        a number in the indicator's unit (PERCENTAGE 0..100);
 *                    BOOLEAN: the share in % of units whose answer is yes
 *                    (a commune alone is 0 or 100 %), or "true" (= 100)
 *                                                                (required)
 *      direction     higher (default) | lower: lower is better
 *      close_within  percentage points of attainment under 100 that still
 *                    count as "close"; empty: 10
 *      source_vi     the legal act or plan, in Vietnamese        (required)
 *  (indicator, org_unit, year) is unique. An indicator the catalog does
 *  not hold, a TEXT indicator, or a unit the org-unit list does not hold
 *  is refused (when the loader is given them).
 *
 *  Which row applies to (indicator, unit, period): the period's year is
 *  the year its last day falls in (a month or a quarter: its own year; a
 *  week across New Year: the year it ends in). The row for the unit
 *  itself wins; else the under:CODE row of the nearest ancestor.
 *
 *  Attainment (in %):
 *      higher: 100 * value / target (target 0: 100 when value >= 0);
 *      lower:  100 * target / value, capped at 100 (value <= target is
 *              100 %: "at or under the target" has no degrees);
 *      BOOLEAN: the value is first made a share of units:
 *              100 * yes-units / units, then as higher.
 *  State: attainment >= 100: met; >= 100 - close_within: close; else
 *  behind.
 *
 *  Invariant: a loaded table never holds two rows for one key, and every
 *  row's target is a finite number >= 0. */
#ifndef CDS_TARGET_H
#define CDS_TARGET_H

#include "cds_catalog.h"
#include "cds_orgunit.h"
#include <stdbool.h>
#include <stddef.h>

#define CDS_TARGET_CLOSE_WITHIN 10.0   /* default close_within */

typedef enum {
    CDS_TARGET_MET = 0,        /* attainment >= 100 % */
    CDS_TARGET_CLOSE = 1,      /* within close_within points of 100 % */
    CDS_TARGET_BEHIND = 2,     /* further away */
} cds_target_state_t;

typedef struct {
    char *indicator;           /* catalog code */
    char *org_unit;            /* unit code (without "under:") */
    bool subtree;              /* true: "under:CODE", the units below */
    int year;                  /* calendar year */
    double target;             /* the target (BOOLEAN: % of units) */
    bool lower;                /* lower is better */
    double close_within;       /* attainment points counted as close */
    char *source_vi;           /* legal act or plan */
    size_t line;               /* line in the file */
} cds_target_t;

typedef struct cds_targets cds_targets_t;

/* Load and check path. catalog and ous (both may be NULL: not checked)
 * name the indicators and units a row may use. NULL on failure with
 * "path:line: column: problem" in err. */
cds_targets_t *cds_targets_load(const char *path, const cds_catalog_t *catalog,
                                const cds_orgunits_t *ous, char *err,
                                size_t errlen);
/* As cds_targets_load, printing every problem to out (FILE *) as one
 * "path:line: column: problem" line instead of stopping at the first
 * (--check-config). The number of problems; 0: the file loads. */
size_t cds_targets_check(const char *path, const cds_catalog_t *catalog,
                         const cds_orgunits_t *ous, void *out);
/* Free; sets *self_p to NULL. Safe on NULL. */
void cds_targets_destroy(cds_targets_t **self_p);
/* Rows in file order (borrowed). */
size_t cds_targets_size(const cds_targets_t *self);
const cds_target_t *cds_targets_at(const cds_targets_t *self, size_t i);

/* The year a period's target is taken from (the year of its last day),
 * or -1 when period is not a DHIS2 period. */
int cds_target_year(const char *period);
/* The row for indicator and unit in year: the unit's own row, else the
 * "under:CODE" row of its nearest ancestor. chain: the unit's code then its
 * ancestors' codes, nearest first (chain[0] is the unit). NULL: none. */
const cds_target_t *cds_targets_find(const cds_targets_t *self,
                                     const char *indicator, int year,
                                     const char *const *chain, size_t n);
/* Attainment in % of value against t (see the header): units is the
 * number of units a BOOLEAN count is out of (1 for one unit); ignored for
 * other types. false (nothing written) when it has no meaning: a BOOLEAN
 * count of 0 units. */
bool cds_target_attainment(const cds_target_t *t, cds_value_type_t type,
                           double value, double units, double *pct);
/* State of an attainment against t's close_within. */
cds_target_state_t cds_target_state(const cds_target_t *t, double pct);
/* "met" | "close" | "behind". */
const char *cds_target_state_name(cds_target_state_t s);

#endif
