/*  cds_dvs: read a DHIS2 dataValueSet file (CSV or JSON) into rows of
 *  text fields, the way DHIS2 itself reads them; shared by the agent's
 *  `import` and the aggregator's central `import`, which check the rows.
 *
 *  CSV (DHIS2's CsvDataValueSetReader): DHIS2 reads by column position,
 *      0 dataelement  1 period  2 orgunit  3 categoryoptioncombo
 *      4 attributeoptioncombo  5 value  6 storedby  7 lastupdated
 *      8 comment  9 followup  10 deleted
 *  and skips the first row when firstRowIsHeader (its default). Here:
 *    - CDS_DVS_HEADER_AUTO: the first row is a header when its second
 *      cell does not start with a digit (in a data row it is a period,
 *      and every DHIS2 period starts with its year) and one of its first
 *      three cells is a column name (any spelling below); then every
 *      column is matched by name (order free, unknown names ignored, a
 *      known field named twice refused). Otherwise the file has no header and every
 *      row is read by position, like DHIS2 with firstRowIsHeader=false.
 *    - CDS_DVS_HEADER_YES: the first row must be a header (names as above).
 *    - CDS_DVS_HEADER_NO: no header, by position, whatever the first row.
 *  Names (ASCII case ignored): the long names above, DHIS2's documented
 *  abbreviations de, pe, ou, catoptcombo (co, coc), attroptcombo (ao,
 *  aoc), strby, lstupd, cmt, flwup, del, plus created. A header-less row
 *  may be shorter than 11 cells (missing cells are empty, as in DHIS2).
 *
 *  JSON: {"dataValues": [ {...}, ... ]}, members named as DHIS2 writes
 *  them (dataElement, period, orgUnit, categoryOptionCombo,
 *  attributeOptionCombo, value, storedBy, created, lastUpdated, comment,
 *  followup, deleted); booleans and numbers are read as their text. The
 *  single-form layout: dataSet, period, orgUnit, completeDate and
 *  attributeOptionCombo set on the dataValueSet apply to every dataValue
 *  that does not set its own. A row's "line" is its dataValues index + 1.
 *
 *  Invariant: input is bounded (CDS_DVS_MAX_FILE bytes, CDS_DVS_MAX_ROWS
 *  rows, cds_csv's field limits); every row handed to the caller carries
 *  the line it starts on and, for CSV, the 1-based column of each field,
 *  so the caller can name file:line:column and the value. */
#ifndef CDS_DVS_H
#define CDS_DVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CDS_DVS_MAX_FILE (64u << 20)   /* bytes of one file */
#define CDS_DVS_MAX_ROWS 200000        /* data rows in one file */

typedef enum {
    CDS_DVS_HEADER_AUTO, CDS_DVS_HEADER_YES, CDS_DVS_HEADER_NO
} cds_dvs_header_t;

/* The fields of one data value, in DHIS2's CSV column order, then the
 * ones only a header or JSON can carry. */
typedef enum {
    CDS_DVS_DE, CDS_DVS_PE, CDS_DVS_OU, CDS_DVS_COC, CDS_DVS_AOC,
    CDS_DVS_VALUE, CDS_DVS_STOREDBY, CDS_DVS_LASTUPDATED, CDS_DVS_COMMENT,
    CDS_DVS_FOLLOWUP, CDS_DVS_DELETED, CDS_DVS_CREATED, CDS_DVS_DATASET,
    CDS_DVS_COMPLETEDATE, CDS_DVS__COUNT
} cds_dvs_field_t;

typedef struct {
    size_t line;                       /* CSV line / JSON entry (1-based) */
    bool json;                         /* line is a dataValues entry */
    const char *f[CDS_DVS__COUNT];     /* borrowed for the call; "" absent */
    int col[CDS_DVS__COUNT];           /* CSV column (1-based); 0: none */
} cds_dvs_row_t;

/* Called once per data row; non-zero stops the reading and is returned. */
typedef int (cds_dvs_row_fn)(void *arg, const cds_dvs_row_t *row);

/* Read path (JSON when the first byte after an optional BOM and spaces is
 * '{', else CSV) and call fn for each row. CDS_OK; CDS_EIO (unreadable),
 * CDS_ETOOBIG (over a bound), CDS_EMALFORMED (bad CSV/JSON, a header
 * required and absent, a field named twice, no key columns) with
 * "path:line: problem" in err; or fn's code. */
int cds_dvs_read(const char *path, cds_dvs_header_t header,
                 cds_dvs_row_fn *fn, void *arg, char *err, size_t errlen);
/* Load path (at most CDS_DVS_MAX_FILE bytes) into *data (malloc'd, may
 * be NULL when empty) and *len, and give its first byte after an optional
 * BOM and white space in *first ('\0' if none): '{' JSON, '<' XML (ADX,
 * the caller's), else CSV. CDS_OK; CDS_EIO or CDS_ETOOBIG, "path: ..." in
 * err. */
int cds_dvs_load(const char *path, char **data, size_t *len, char *first,
                 char *err, size_t errlen);
/* The same over len bytes of data; name is used in messages. */
int cds_dvs_read_mem(const char *name, const char *data, size_t len,
                     cds_dvs_header_t header, cds_dvs_row_fn *fn, void *arg,
                     char *err, size_t errlen);

/* The long DHIS2 CSV column name of field f ("dataelement", ...). */
const char *cds_dvs_name(cds_dvs_field_t f);
/* Which field a header cell names (any spelling), or -1. */
int cds_dvs_lookup(const char *name);

/* A DHIS2 flag (followup, deleted): "" -> 0; true/t/1 -> 1; false/f/0 ->
 * 0 (ASCII case ignored, as DHIS2's boolean variants); else -1. */
int cds_dvs_flag(const char *s);

/* The refusals the reading alone can tell, for both importers: followup
 * or deleted not a DHIS2 boolean, an attribute option combo other than
 * "default"/empty (cdsync defines none). 0 when fine; else -1 with *field
 * the long column name and "\"VALUE\": problem" in msg. The category
 * option combo is the catalog's to check (cds_catalog_check_update). */
int cds_dvs_row_refusal(const cds_dvs_row_t *row, const char **field,
                        char *msg, size_t len);

/* A DHIS2 timestamp (created, lastUpdated) as ms since 1970 UTC:
 * YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fff]] with an optional zone Z,
 * +HHMM, +HH:MM or +HH (none: UTC); years 1970..2999. "" -> 0 (not
 * given). 0, or -1 for anything else. */
int cds_dvs_time(const char *s, uint64_t *ms);
/* The source times of a row: created and lastUpdated through
 * cds_dvs_time. 0, or -1 with *field and msg as cds_dvs_row_refusal. */
int cds_dvs_row_times(const cds_dvs_row_t *row, uint64_t *created_ms,
                      uint64_t *updated_ms, const char **field, char *msg,
                      size_t len);

/* The header choice of the import commands' --header / --no-header flags
 * (neither: AUTO). 0, or -1 when both are given. */
int cds_dvs_header_flags(bool header, bool no_header, cds_dvs_header_t *out);

#endif
