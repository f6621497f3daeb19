/*  rollup: the figure of an org unit for a period, computed from the
 *  values of the leaves below it by each indicator's catalog rules.
 *
 *  Two steps, per indicator:
 *   1. over time, per leaf, within the asked period P, by the catalog
 *      column period_rollup:
 *        SUM   flows (files handled in a month): the leaf's values of every
 *              sub-period inside P are added (months -> quarter -> year);
 *        LAST  stocks (households, members, yes/no criteria; the default):
 *              the figure is taken at the latest sub-period inside P for
 *              which any source leaf reported ("as of" that period); only
 *              leaves that reported for it count, and of a predecessor
 *              and its successor only one (orgmap_rule, below).
 *   2. across leaves, by the catalog aggregation: SUM, AVERAGE, MIN, MAX,
 *      COUNT_TRUE (leaves whose yes/no value is yes), RATIO: sum of the
 *      numerator counts / sum of the denominator counts (x100 for a
 *      PERCENTAGE), taken only from leaves and sub-periods that reported
 *      BOTH counts; never an average of percentages. NONE: not rolled up.
 *  Source leaves and mapping: orgmap.h (old units count towards the unit
 *  they were merged into, for periods before the merge date); which of
 *  them count when a period spans a merge is orgmap_rule's (the merge
 *  rule's one home, docs/ORGUNITS.md): a stock takes the successor's
 *  value where it reported, else the predecessors'; a COUNT_TRUE counts
 *  the units existing at the period's end; a flow adds each unit's part.
 *  A value outside its leaf's validity dates never counts.
 *
 *  Invariant: every figure carries how many leaves it covers out of how
 *  many were expected (valid in the period, or at the "as of"
 *  sub-period), and how many reports (leaf x sub-period) it used out of
 *  how many were expected, so a partial figure never looks complete.
 *  Reads only. */
#ifndef AGG_ROLLUP_H
#define AGG_ROLLUP_H

#include "cds_catalog.h"
#include "cds_target.h"
#include "report.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* How an indicator's values combine over time within a period. */
typedef enum {
    ROLLUP_LAST = 0,           /* stock: latest sub-period */
    ROLLUP_SUM = 1,            /* flow: sum of sub-periods */
} rollup_time_t;

typedef struct rollup_rules rollup_rules_t;

/* One rolled-up figure. */
typedef struct {
    const cds_indicator_t *ind;        /* borrowed from the catalog */
    rollup_time_t time;                /* rule used over time */
    bool has_value;                    /* false: nothing to roll up */
    double value;                      /* the figure */
    double numerator, denominator;     /* RATIO: the summed counts */
    size_t covered, expected;          /* leaves with data / expected */
    size_t reports, expected_reports;  /* leaf x sub-period values */
    char as_of[16];                    /* LAST: sub-period used, else "" */
    char note[128];                    /* why there is no value, or "" */
} rollup_figure_t;

/* The period_rollup column (SUM|LAST, empty = LAST) of the catalog file
 * at path. NULL with "path:line: period_rollup: problem" in err. */
rollup_rules_t *rollup_rules_load(const char *path, char *err,
                                  size_t errlen);
/* Free; sets *self_p to NULL. Safe on NULL. */
void rollup_rules_destroy(rollup_rules_t **self_p);
/* Rule of an indicator code (LAST when rules is NULL or code unknown). */
rollup_time_t rollup_rule(const rollup_rules_t *rules, const char *code);
/* "SUM" | "LAST". */
const char *rollup_time_name(rollup_time_t t);

/* Figures of org unit ou for period (a DHIS2 period id) for indicators
 * [0..n) (n = 0: every catalog indicator whose aggregation is not NONE and
 * whose period type fits in the period) into a malloc'd array (*out,
 * *nout; caller frees). CDS_OK; CDS_EBADPERIOD, CDS_EUNKNOWNORGUNIT,
 * CDS_EUNKNOWNINDICATOR with a message in err; or a database error. */
int rollup_compute(store_t *store, const cds_catalog_t *catalog,
                   const rollup_rules_t *rules, const char *ou,
                   const char *period, const char *const *indicators,
                   size_t n, rollup_figure_t **out, size_t *nout, char *err,
                   size_t errlen);

/* rollup_compute inside a read snapshot the caller holds
 * (store_read_begin: `query --wide`'s total row). Same contract. */
int rollup_compute_read(store_t *store, const cds_catalog_t *catalog,
                        const rollup_rules_t *rules, const char *ou,
                        const char *period, const char *const *indicators,
                        size_t n, rollup_figure_t **out, size_t *nout,
                        char *err, size_t errlen);

/* A RATIO indicator's figure from its (summed) counts: numerator /
 * denominator, x100 for a PERCENTAGE. The one ratio arithmetic: rollup's
 * figures, validate's derived check and query's derived cells use it.
 * false (nothing in *out) when the denominator is 0. */
bool rollup_ratio(const cds_indicator_t *ind, double numerator,
                  double denominator, double *out);

/* Is ind a *derived* ratio (RATIO naming its numerator and denominator:
 * an entered value is ignored, docs/ADMIN.md "Data-quality rules")? */
bool rollup_is_derived(const cds_indicator_t *ind);

/* Text of a figure's value ("" when none): integers as integers, other
 * values with 2 decimals. buf: 32 bytes. Returns buf. */
char *rollup_format(double v, bool has, char *buf, size_t len);

/* rollup_compute, printed as a report (table footer / JSON meta name the
 * unit and period). Same codes. */
int rollup_run(store_t *store, const cds_catalog_t *catalog,
               const rollup_rules_t *rules, const char *ou,
               const char *period, const char *const *indicators, size_t n,
               report_format_t format, FILE *out, char *err, size_t errlen);

/* rollup_run with the target columns of attain.h appended (target,
 * attainment, state, target_source, target_note) when targets is not
 * NULL; NULL: exactly rollup_run's columns. Same codes. */
int rollup_run_targets(store_t *store, const cds_catalog_t *catalog,
                       const rollup_rules_t *rules,
                       const cds_targets_t *targets, const char *ou,
                       const char *period, const char *const *indicators,
                       size_t n, report_format_t format, FILE *out,
                       char *err, size_t errlen);

#endif
