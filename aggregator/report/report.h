/*  report: one result table printed three ways (aligned table, RFC 4180
 *  CSV, JSON), shared by the admin commands (rollup, completeness,
 *  history) so each prints the same rows whatever the format.
 *
 *  Invariant: every row has exactly the header's number of cells; a JSON
 *  row is an object keyed by the column names, and a column's type letter
 *  ('s' string, 'n' number, 'b' boolean) decides its JSON type; an empty
 *  cell is JSON null. Cells are copied. */
#ifndef AGG_REPORT_H
#define AGG_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    REPORT_TABLE = 0,
    REPORT_CSV = 1,
    REPORT_JSON = 2,
} report_format_t;

typedef struct report report_t;

/* Write one CSV field (RFC 4180 quoting when needed; control bytes other
 * than TAB, CR, LF escaped). */
void report_csv_field(FILE *out, const char *s);
/* "table" | "csv" | "json". 0, or -1 when name is none of them. */
int report_format_parse(const char *name, report_format_t *out);
/* New report; header and types (one letter per column) are borrowed and
 * must outlive it. NULL on ENOMEM. */
report_t *report_new(report_format_t format, const char *const *header,
                     const char *types, size_t ncols);
/* Free; sets *self_p to NULL. Safe on NULL. */
void report_destroy(report_t **self_p);
/* Append a row of ncols cells (NULL = ""). 0 or -1 (ENOMEM). */
int report_add(report_t *self, const char *const *cells);
/* Number of rows added. */
size_t report_rows(const report_t *self);
/* Print. meta (JSON only; stolen, may be NULL) is the top-level object the
 * rows are added to as "rows"; footer (table only, may be NULL) is printed
 * after the table. */
void report_print(report_t *self, FILE *out, json_t *meta,
                  const char *footer);
/* The rows as a JSON array of objects (new reference), for the HTTP API. */
json_t *report_json_rows(const report_t *self);

#endif
