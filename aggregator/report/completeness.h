/*  completeness: who has reported what for one period: for each org unit
 *  expected to report (orgmap_owing, the merge rule's one definition:
 *  the leaves under the unit valid in the period, plus units mapped into
 *  it before a merge, less predecessors whose successor exists at the
 *  period's end: orgmap.h), which of the
 *  indicators it reported, which not, when it last reported, and which
 *  reports came late.
 *
 *  Expected cells: with data sets (cds_dataset.h, aggregator.datasets)
 *  the cells each unit owes for the period (its data sets of the
 *  period's type, the unit existing in the period), narrowed to the
 *  --indicator list when one is given; without data sets the
 *  --indicator list, else every catalog indicator whose period type is
 *  the period's. Either way only entered indicators: RATIO indicators
 *  are computed from their counts, never expected.
 *  Lateness: a value is late when its first applied update arrived after
 *  its deadline = end of the period + the data set's deadline_days, or
 *  when the data set gives none, deadline_days[period type's family]
 *  (UTC days; config keys aggregator.deadline_<type>: BiWeekly and
 *  WeeklySunday use deadline_weekly, FinancialApril deadline_yearly,
 *  ...: cds_period_type_family); a unit with a missing value after its
 *  deadline is "overdue".
 *  A unit that does not exist in the period (cds_orgunit_open_in) gets a
 *  sentence saying so (note) in place of "0 of 0". Arrival times are the
 *  aggregator's clock (update_log.received_at_ms), not the agents'.
 *
 *  Contacts (cds_contact.h, aggregator.contacts, default contacts.csv
 *  beside the catalog, absent: none): when given, every unit that still
 *  owes values for the period carries its contact (person, post, phone,
 *  e-mail) and the report has the four contact_* columns.
 *
 *  Invariant: percentages are over values (units x indicators) and over
 *  units (all expected indicators reported), both with their counts.
 *  Reads only. */
#ifndef AGG_COMPLETENESS_H
#define AGG_COMPLETENESS_H

#include "cds_catalog.h"
#include "cds_config.h"
#include "cds_contact.h"
#include "cds_dataset.h"
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
    const cds_datasets_t *datasets;    /* NULL: no data sets (above) */
    int deadline_days[COMPLETENESS_TYPES]; /* by family (above) */
    uint64_t now_ms;                   /* for "overdue" */
    const cds_contacts_t *contacts;    /* NULL: no contact columns */
} completeness_opts_t;

/* One expected org unit's line. */
typedef struct {
    char *code, *name;                 /* owned */
    size_t reported, expected;         /* indicators */
    size_t late;                       /* of reported, arrived late */
    int64_t last_ms;                   /* last arrival, 0 never */
    char *missing;                     /* comma-separated codes (owned) */
    bool overdue;                      /* missing values past deadline */
    const cds_contact_t *contact;      /* borrowed from opts.contacts:
                                        * units still owing values; NULL
                                        * when complete or none is known */
} completeness_unit_t;

typedef struct {
    completeness_unit_t *units;        /* owned, by code */
    size_t n_units;
    size_t units_complete;
    size_t values, values_expected;
    int64_t deadline_ms;               /* the period type's deadline */
    char *note;                        /* the unit does not exist in the
                                        * period: why, in Vietnamese
                                        * (owned); NULL when it does */
} completeness_t;

/* The data sets as configured (aggregator.datasets, default datasets.csv
 * beside aggregator.catalog; org units from aggregator.orgunits): *out
 * NULL when none are configured. CDS_OK, or CDS_EMALFORMED with
 * "path:line: column: problem" in err. */
int completeness_datasets(const cds_config_t *cfg, const cds_catalog_t *cat,
                          cds_datasets_t **out, char *err, size_t errlen);

/* The contacts as configured (aggregator.contacts, default contacts.csv
 * beside aggregator.catalog; org units from aggregator.orgunits): *out
 * NULL when none are configured (a default file that is absent). CDS_OK,
 * or CDS_EMALFORMED with "path:line: column: problem" in err. */
int completeness_contacts(const cds_config_t *cfg, cds_contacts_t **out,
                          char *err, size_t errlen);
/* The path the contacts are read from into buf: aggregator.contacts, or
 * contacts.csv beside the catalog when it exists; "" when none. */
const char *completeness_contacts_path(const cds_config_t *cfg, char *buf,
                                       size_t len);

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
