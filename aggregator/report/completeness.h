/*  completeness: who has reported what for one period: for each org unit
 *  expected to report (orgmap_owing, the merge rule's one definition:
 *  the leaves under the unit valid in the period, plus units mapped into
 *  it before a merge, less predecessors whose successor exists at the
 *  period's end: orgmap.h), which of the
 *  indicators it reported, which not, when it last reported, and which
 *  reports came late.
 *
 *  Expected indicators: the --indicator list, else every catalog
 *  indicator whose period type is the period's and that is entered, not
 *  derived (RATIO indicators are computed from their counts).
 *  Lateness: a value is late when its first applied update arrived after
 *  the deadline = end of the period + deadline_days[period type's
 *  family] (UTC days; config keys aggregator.deadline_<type>: BiWeekly
 *  and WeeklySunday use deadline_weekly, FinancialApril deadline_yearly,
 *  ...: cds_period_type_family); a unit with a missing
 *  value after the deadline is "overdue". Arrival times are the
 *  aggregator's clock (update_log.received_at_ms), not the agents'.
 *
 *  Invariant: percentages are over values (units x indicators) and over
 *  units (all expected indicators reported), both with their counts.
 *  Reads only. */
#ifndef AGG_COMPLETENESS_H
#define AGG_COMPLETENESS_H

#include "cds_catalog.h"
#include "cds_period.h"
#include "report.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One deadline per period type of the first six; the others use their
 * family's (cds_period_type_family: BiWeekly the Weekly one, FinancialApril
 * the Yearly one, ...). */
#define COMPLETENESS_TYPES 6

typedef struct {
    const char *org_unit;              /* required */
    const char *period;                /* required, DHIS2 id */
    const char *const *indicators;     /* NULL/0: the catalog's (above) */
    size_t n_indicators;
    const cds_catalog_t *catalog;      /* required */
    int deadline_days[COMPLETENESS_TYPES]; /* by family (above) */
    uint64_t now_ms;                   /* for "overdue" */
} completeness_opts_t;

/* One expected org unit's line. */
typedef struct {
    char *code, *name;                 /* owned */
    size_t reported, expected;         /* indicators */
    size_t late;                       /* of reported, arrived late */
    int64_t last_ms;                   /* last arrival, 0 never */
    char *missing;                     /* comma-separated codes (owned) */
    bool overdue;                      /* missing values past deadline */
} completeness_unit_t;

typedef struct {
    completeness_unit_t *units;        /* owned, by code */
    size_t n_units;
    size_t units_complete;
    size_t values, values_expected;
    int64_t deadline_ms;               /* the period's deadline */
} completeness_t;

/* Compute. CDS_OK; CDS_EUSAGE, CDS_EBADPERIOD, CDS_EUNKNOWNORGUNIT,
 * CDS_EUNKNOWNINDICATOR with a message in err; or a database error. */
int completeness_compute(store_t *store, const completeness_opts_t *o,
                         completeness_t *out, char *err, size_t errlen);
/* Free what completeness_compute filled in; zeroes *c. */
void completeness_clear(completeness_t *c);
/* Compute and print as a report. Same codes. */
int completeness_run(store_t *store, const completeness_opts_t *o,
                     report_format_t format, FILE *out, char *err,
                     size_t errlen);

#endif
