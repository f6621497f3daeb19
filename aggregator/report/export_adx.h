/*  export_adx: the ADX form of `export` (export.h, --format adx), written
 *  with libxml2's xmlTextWriter (escaping and well-formedness are the
 *  library's, never pasted strings).
 *
 *  Shape (cds_adx.h; the ADX profile's and DHIS2's AdxDataService names):
 *      <adx xmlns="urn:ihe:qrph:adx:2015" exported="2025-04-02T08:00:00Z">
 *        <group dataSet="DS" orgUnit="OU" period="2025-01-01/P3M">
 *          <dataValue dataElement="DE" value="12">
 *            <annotation>comment</annotation>       only with a comment
 *          </dataValue>
 *          <dataValue dataElement="BOOL_DE" value="0">
 *            <annotation>true</annotation>          BOOLEAN, TEXT values
 *          </dataValue>
 *        </group>
 *      </adx>
 *  One group per (data set, org unit, period), groups and values sorted
 *  by code so the same store writes the same file. The data set is the
 *  first one in the data-set file that holds the indicator with the
 *  period's type; an indicator in no data set (or none configured) goes
 *  under a data set named after the period type ("Monthly"). A
 *  categoryOptionCombo other than "default" is written as DHIS2's
 *  categoryOptionCombo attribute; "default" writes none, as DHIS2 does.
 *  A BOOLEAN or TEXT value is written as DHIS2 writes one (its
 *  AdxDataService): value="0" and the value as the annotation's text; its
 *  comment, if any, is then not written. No completeDate: cdsync records no data-set completion. storedBy,
 *  created, lastUpdated and followup have no place in ADX and are not
 *  written (docs/ADMIN.md "ADX").
 *
 *  Invariant: values are kept in memory until the end (grouping needs
 *  them all); the export is bounded by the store's filter. */
#ifndef AGG_EXPORT_ADX_H
#define AGG_EXPORT_ADX_H

#include "cds_catalog.h"
#include "cds_dataset.h"
#include <stddef.h>
#include <stdio.h>

typedef struct export_adx export_adx_t;

/* A collector; datasets and catalog may be NULL (no catalog: every value
 * is written as a number). NULL when out of memory. */
export_adx_t *export_adx_new(const cds_datasets_t *datasets,
                             const cds_catalog_t *catalog);
void export_adx_destroy(export_adx_t **self_p);
/* Keep one value (strings copied). CDS_OK, CDS_EBADPERIOD (period not a
 * DHIS2 id, message in err) or CDS_ENOMEM. */
int export_adx_add(export_adx_t *self, const char *ou, const char *de,
                   const char *pe, const char *coc, const char *value,
                   const char *comment, char *err, size_t errlen);
/* Write the document to out, exported = now_ms. CDS_OK or CDS_EIO. */
int export_adx_write(export_adx_t *self, FILE *out, unsigned long long now_ms);

#endif
