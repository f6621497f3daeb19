/*  rank: the `rank` command and /api/rank: the child units of an org unit
 *  ranked by their attainment of an indicator's target in a period.
 *
 *  Each child's figure is its rollup (rollup.h: the same arithmetic as
 *  `rollup --org-unit CHILD`), judged against the target that applies to
 *  it (cds_target.h, attain.h). Order: units with an attainment first,
 *  highest first; equal attainments as shown (2 decimals) share a rank
 *  ("1, 2, 2, 4") and are listed by code. Then, without a rank and with
 *  the reason in words: units with no target, units with no value for the
 *  period, units that did not exist in the period, in that order, each
 *  by code.
 *  Columns: rank, org_unit, name, value, target, attainment, state,
 *  org_units (covered/expected leaves), target_source, reason. Reads
 *  only. */
#ifndef AGG_RANK_H
#define AGG_RANK_H

#include "cds_catalog.h"
#include "cds_target.h"
#include "report.h"
#include "rollup.h"
#include "store.h"
#include <stdio.h>

typedef struct {
    const char *org_unit;              /* parent of the ranked units */
    const char *indicator;             /* catalog code */
    const char *period;                /* DHIS2 period id */
    const cds_catalog_t *catalog;      /* borrowed */
    const rollup_rules_t *rules;       /* borrowed, may be NULL */
    const cds_targets_t *targets;      /* borrowed; NULL: refused */
} rank_opts_t;

/* Rank and print. CDS_OK; CDS_EUSAGE (an option missing, or no targets
 * file), CDS_EBADPERIOD, CDS_EUNKNOWNORGUNIT, CDS_EUNKNOWNINDICATOR with
 * a message in err; or a database error. */
int rank_run(store_t *store, const rank_opts_t *o, report_format_t format,
             FILE *out, char *err, size_t errlen);

#endif
