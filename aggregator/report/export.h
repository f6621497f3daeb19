/*  export: the consolidated values as files other systems take.
 *
 *  Formats (filters exactly as `query`'s long form: org unit with its
 *  subtree, indicators, --period or --from/--to; live values only):
 *    dhis2-json  a DHIS2 dataValueSet: {"dataValues": [{"dataElement",
 *                "period", "orgUnit", "categoryOptionCombo",
 *                "attributeOptionCombo", "value", "storedBy", "created",
 *                "lastUpdated", "comment", "followup"}]}, codes as ids
 *                (import with idScheme=CODE; UIDs or names: ids, names
 *                below), attributeOptionCombo
 *                "default", times ISO-8601 UTC;
 *    dhis2-csv   DHIS2's data value CSV: header dataelement, period,
 *                orgunit, categoryoptioncombo, attributeoptioncombo,
 *                value, storedby, lastupdated, comment, followup;
 *    csv         for spreadsheets: org unit and indicator names next to
 *                the codes, unit, value, period, who and when, and last
 *                "entered";
 *    adx         ADX XML (urn:ihe:qrph:adx:2015) as DHIS2 reads it, one
 *                <group dataSet orgUnit period> per data set, unit and
 *                period, periods in ADX notation, comments as
 *                <annotation> (export_adx.h; no storedBy/lastUpdated/
 *                followup: ADX has no place for them).
 *  Derived ratios (rollup_is_derived: a catalog RATIO naming its counts,
 *  whose entered value is ignored): the DHIS2 formats and adx leave them out, as
 *  DHIS2 never takes a value for an indicator but computes it from the
 *  counts, which are exported; csv shows the value of the unit's own
 *  counts and, in "entered", an entered value that differs (query.h).
 *  --adx-periods writes periods in ADX notation (ISO 8601 start/duration
 *  as DHIS2 gives each type: 2025Q1 -> 2025-01-01/P3M, 2025W10 ->
 *  2025-03-03/P7D, 2025BiW1 -> 2024-12-30/P14D, 202501B -> 2025-01-01/P2M,
 *  2025April -> 2025-04-01/P1Y; the start date tells types of one duration
 *  apart, so each reads back to its identifier; cds_adx.h). DHIS2 reads
 *  that notation only inside ADX XML, so --adx-periods is refused with
 *  dhis2-json and dhis2-csv (it is kept for the spreadsheet csv); adx
 *  always uses it. --bom starts the
 *  file with a UTF-8 byte order mark so Excel on Windows reads Vietnamese
 *  correctly. CSV follows RFC 4180 (CRLF line ends). --include-deleted
 *  exports the deleted values too, each value with DHIS2's "deleted"
 *  field (JSON true/false; CSV an 11th column "deleted"), so a receiving
 *  DHIS2 removes them; ADX and the spreadsheet csv have no such field and
 *  refuse it (CDS_EUSAGE). With ids (--id-scheme uid, cds_idmap.h) the
 *  DHIS2 formats write each dataElement, orgUnit and both option combos
 *  as the map's UID; an unmapped code refuses the export, which is then
 *  built in memory so that nothing is written. With names (--id-scheme
 *  name: DHIS2's idScheme=NAME) they write the names instead: the
 *  catalog's name_vi, the org-unit table's name and "default" for the
 *  default combination (DHIS2's name for it), each overridden by ids
 *  when it holds the code; a code without a name, or whose name another
 *  code of its kind shares (DHIS2 cannot resolve it either; both named),
 *  refuses the export and nothing is written. ADX and the spreadsheet
 *  csv write codes only: ids or names with them are CDS_EUSAGE.
 *
 *  Invariant: an export read back by `import` (central.h) gives the same
 *  value set but for the derived ratios' entered values (and, for adx,
 *  storedBy and followup): every field `import` reads is written, and
 *  ADX documents, ADX periods and the BOM are understood by it. Reads
 *  only. */
#ifndef AGG_EXPORT_H
#define AGG_EXPORT_H

#include "cds_catalog.h"
#include "cds_dataset.h"
#include "cds_idmap.h"
#include "query.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    EXPORT_DHIS2_JSON = 0,
    EXPORT_DHIS2_CSV = 1,
    EXPORT_CSV = 2,
    EXPORT_ADX = 3,
} export_format_t;

typedef struct {
    query_opts_t filter;               /* org_unit, subtree, indicators,
                                        * period/from/to (format, wide
                                        * ignored) */
    export_format_t format;
    bool bom;                          /* UTF-8 BOM first */
    bool adx_periods;                  /* ISO 8601 start/duration periods */
    const cds_idmap_t *ids;           /* NULL: codes as ids; else UIDs
                                        * (--id-scheme uid; dhis2-json
                                        * /-csv only), an unmapped code
                                        * refused, nothing written; with
                                        * names: the overrides (or NULL) */
    bool names;                        /* --id-scheme name (dhis2-json
                                        * /-csv only): DHIS2 names */
    bool include_deleted;              /* deleted values too, with DHIS2's
                                        * deleted field (dhis2-json/-csv
                                        * only: adx/csv refused) */
    const cds_catalog_t *catalog;      /* optional: names and units (csv) */
    const cds_datasets_t *datasets;    /* optional: ADX groups' dataSet */
    uint64_t exported_ms;              /* ADX exported= time; 0: now */
} export_opts_t;

/* "dhis2-json" | "dhis2-csv" | "csv" | "adx". CDS_OK or CDS_EUSAGE. */
int export_format_parse(const char *name, export_format_t *out);
/* Write the export to out. CDS_OK; CDS_EUSAGE (also --adx-periods with
 * dhis2-json/dhis2-csv, --include-deleted, ids or names with adx/csv),
 * CDS_ENOTFOUND (a code ids does not map, or without a name; nothing
 * written), CDS_EBADFIELD (names: an ambiguous name), CDS_EBADPERIOD,
 * CDS_EUNKNOWNORGUNIT with a message in err; or a database error. */
int export_run(store_t *store, const export_opts_t *opts, FILE *out,
               char *err, size_t errlen);

/* The name scheme's map (DHIS2's idScheme=NAME, cds_idmap.h): a copy
 * of ids (the file's overrides; NULL: none), then "default", the
 * catalog's name_vi and the org-unit table's names. Export and import
 * share it. NULL with *rc (CDS_ENOMEM or a database code). */
cds_idmap_t *export_names_map(store_t *store, const cds_idmap_t *ids,
                              const cds_catalog_t *catalog, int *rc);

/* ADX form of a DHIS2 period id ("2025Q1" -> "2025-01-01/P3M") into buf
 * (24 bytes): cds_adx_period_format. CDS_OK or CDS_EBADPERIOD. */
int export_period_adx(const char *id, char *buf, size_t len);
/* DHIS2 id of a period given either way ("2025-01-01/P3M" or "2025Q1")
 * into buf (16 bytes). CDS_OK or CDS_EBADPERIOD (not a DHIS2 period:
 * start not on a period boundary, unknown duration). */
int export_period_dhis2(const char *s, char *buf, size_t len);

#endif
