/*  cds_dataset: data sets (DHIS2's concept): which org units report which
 *  indicators, for which period type, by which deadline.
 *
 *  File (deploy/datasets.csv, beside the catalog): UTF-8 CSV (optional
 *  BOM), header row, columns by name (order free, unknown ignored), one
 *  row per data set so that an officer reads a set on one line:
 *      code           ASCII [A-Za-z0-9_-], unique                (required)
 *      name_vi        Vietnamese name                            (required)
 *      period_type    DHIS2 name (cds_period_type_parse)         (required)
 *      deadline_days  days after the period's last day before a value is
 *                     late; empty: the aggregator's deadline_<type>
 *      indicators     catalog codes, space-separated             (required)
 *      org_units      who reports it, space-separated; each item is
 *                       CODE          that org unit
 *                       under:CODE    every unit below CODE (not CODE)
 *                       leaves:CODE   every unit below CODE that has no
 *                                     unit below it (the communes)
 *                       level:N       every unit at depth N (root 0)
 *                     (required; under/leaves/level need the org-unit
 *                     file, a CODE must be in it when it is given)
 *  With the catalog given, every indicator must be in it with the data
 *  set's period type. An indicator may be in several data sets; a unit
 *  then owes it once (the first data set in file order gives the
 *  deadline).
 *
 *  Lifetimes: a unit owes a data set's cells for a period only when it
 *  exists on at least one day of the period (cds_orgunit_open_in): known
 *  only when the org-unit file was given.
 *
 *  Invariant: the sets are resolved to unit codes once, at load; lookups
 *  are binary searches. */
#ifndef CDS_DATASET_H
#define CDS_DATASET_H

#include "cds_catalog.h"
#include "cds_orgunit.h"
#include "cds_period.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct cds_datasets cds_datasets_t;

/* Load and check. catalog and ous may be NULL (no cross-check; then only
 * plain CODE items are allowed in org_units without ous). NULL on failure
 * with "path:line: column: problem" in err. Borrows nothing after return. */
cds_datasets_t *cds_datasets_load(const char *path,
                                  const cds_catalog_t *catalog,
                                  const cds_orgunits_t *ous, char *err,
                                  size_t errlen);
/* As load, printing every problem to out (FILE *), one line each; the
 * number of problems, 0: the file loads (--check-config). */
size_t cds_datasets_check(const char *path, const cds_catalog_t *catalog,
                          const cds_orgunits_t *ous, void *out);
void cds_datasets_destroy(cds_datasets_t **self_p);
size_t cds_datasets_size(const cds_datasets_t *self);
/* Code of the i-th data set (borrowed). */
const char *cds_datasets_code(const cds_datasets_t *self, size_t i);
/* Its Vietnamese name (name_vi; borrowed), NULL when i is out of range. */
const char *cds_datasets_name(const cds_datasets_t *self, size_t i);

/* The indicators of data set code (borrowed, file order) with their
 * number in *n and the set's period type in *type (may be NULL); NULL
 * and *n = 0 when no data set has that code. */
const char *const *cds_datasets_indicators(const cds_datasets_t *self,
                                           const char *code, size_t *n,
                                           cds_period_type_t *type);

/* True when unit is expected to report indicator for period p: some data
 * set of p's type holds the indicator and the unit, and the unit exists
 * in p (when its lifetime is known). When false and why is not NULL, a
 * sentence saying why ("path:line: ..." of the nearest data set, or that
 * no data set holds the indicator) is written there. */
bool cds_datasets_expects(const cds_datasets_t *self, const char *unit,
                          const char *indicator, const cds_period_t *p,
                          char *why, size_t whylen);

/* The path of the file name beside the file `beside` (same directory)
 * into buf, or NULL when it is not readable (or too long). */
const char *cds_datasets_beside(const char *beside, const char *name,
                                char *buf, size_t len);
/* Data sets as configured: path (config key <program>.datasets) when
 * given and not empty, which must then load; else datasets.csv beside
 * catalog_path when it exists (a default file that is absent: *out NULL,
 * the feature off). CDS_OK, or CDS_EMALFORMED with "path:line: column:
 * problem" in err. */
int cds_datasets_configured(const char *path, const char *catalog_path,
                            const cds_catalog_t *catalog,
                            const cds_orgunits_t *ous, cds_datasets_t **out,
                            char *err, size_t errlen);

/* --check-config of the data sets as cds_datasets_configured would load
 * them, cross-checked with the catalog and org-unit files when these load
 * (their own problems are theirs to report): every problem printed to out
 * (FILE *), the number returned; 0 also when none are configured. An
 * explicit path that cannot be read is a problem. */
size_t cds_datasets_check_configured(const char *path,
                                     const char *catalog_path,
                                     const char *orgunits_path, void *out);

/* One owed cell: the indicator and its deadline in days after the
 * period's end (-1: the period type's default). */
typedef struct {
    const char *indicator;     /* borrowed from the data sets */
    int deadline_days;
} cds_dataset_cell_t;

/* The cells unit owes for p, in data-set file order, each indicator
 * once: up to max written to out, the number owed returned. 0 when the
 * unit is in no data set of p's type or does not exist in p. Give max >=
 * the number of catalog indicators (repeats are found among out). */
size_t cds_datasets_cells(const cds_datasets_t *self, const char *unit,
                          const cds_period_t *p, cds_dataset_cell_t *out,
                          size_t max);

#endif
