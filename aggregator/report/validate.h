/*  validate: the data-quality check of one org unit's subtree for one
 *  period (`cdsync-aggregator validate`, GET /api/validate).
 *
 *  For every unit at or below the asked one, over its own stored values
 *  of the period (not rolled-up figures: those are built from the units'
 *  values, so a problem is shown where it was entered), three kinds of
 *  violation:
 *    rule     a rule of deploy/rules.csv (cds_rule.h) that fails;
 *    derived  a ratio the catalog derives (RATIO with numerator and
 *             denominator) entered with a value more than 0.05 from
 *             what its counts give (100 * numerator / denominator for a
 *             PERCENTAGE): the entered figure is ignored (rollup and the
 *             rules use the counts'), and shown here;
 *    outlier  a numeric value far from the unit's earlier periods of the
 *             same type: |x - mean| / sd > z over the last N earlier
 *             periods that have a value (at least 2, sd > 0; sample sd),
 *             or a change from the immediately earlier period of more
 *             than pct percent of it (that value non-zero).
 *  In rules, a derived ratio whose two counts are present reads as the
 *  counts' ratio, never the entered figure.
 *  Each violation carries the admin's follow-up flag of its cell
 *  (followup.h; a rule: the cell of the first indicator of its left
 *  side). Reads only. */
#ifndef AGG_VALIDATE_H
#define AGG_VALIDATE_H

#include "cds_catalog.h"
#include "cds_rule.h"
#include "report.h"
#include "store.h"
#include <stddef.h>
#include <stdio.h>

typedef struct {
    int periods;               /* outlier: earlier periods (0: no check) */
    double z;                  /* z-score bound (0: no z check) */
    double pct;                /* change bound in % (0: no change check) */
} validate_opts_t;

#define VALIDATE_MAX_PERIODS 60

/* The violations as a report (columns: org_unit, period, kind, code,
 * severity, left, operator, right, left_value, right_value,
 * description, followup), ordered by org unit then kind then code. rules may be
 * NULL (no rules file). *out is a new report (report_destroy). CDS_OK;
 * CDS_EBADPERIOD, CDS_ENOTFOUND (unknown org unit) with a message in
 * err; or a database error. */
int validate_compute(store_t *store, const cds_catalog_t *catalog,
                     const cds_rules_t *rules, const char *ou,
                     const char *pe, const validate_opts_t *opts,
                     report_format_t format, report_t **out, char *err,
                     size_t errlen);

/* CDS_OK when ou is in the org-unit list, CDS_ENOTFOUND when not, or a
 * database error. */
int validate_ou_exists(store_t *store, const char *ou);

#endif
