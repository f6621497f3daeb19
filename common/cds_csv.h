/*  cds_csv: a strict, bounded CSV record reader over libcsv, shared by the
 *  catalog, the metadata loaders (through cds_csvload: org units, contacts,
 *  targets, data sets, rules) and the agent's `import` command.
 *
 *  Format: RFC 4180 CSV, comma separated, fields optionally in double
 *  quotes ("" for a quote inside), quoted fields may hold commas and
 *  newlines. Records end at LF or CRLF. An optional UTF-8 BOM at the start
 *  is skipped. Blank lines between records are ignored. Fields are kept
 *  byte for byte (no trimming of spaces); bytes are not checked for UTF-8
 *  here, callers validate each field. Text after a closing quote, a quote
 *  inside an unquoted field, a quote never closed, a NUL byte, a field over
 *  CDS_CSV_MAX_FIELD bytes or a record over CDS_CSV_MAX_FIELDS fields is an
 *  error "name:line: problem".
 *
 *  Invariant: every record carries the physical line (1-based, counting LF)
 *  where it starts, so errors point at the right line even after quoted
 *  fields that span lines. Memory is bounded by the limits above. Once the
 *  header is read, every record must have exactly as many fields. */
#ifndef CDS_CSV_H
#define CDS_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CDS_CSV_MAX_FIELD 65536   /* bytes in one field */
#define CDS_CSV_MAX_FIELDS 64     /* fields in one record */

typedef struct cds_csv cds_csv_t;

/* Open path for reading. NULL with "path: reason" in err. */
cds_csv_t *cds_csv_open(const char *path, char *err, size_t errlen);
/* Read from fp (borrowed, not closed); name is used in messages (copied).
 * NULL only when out of memory. */
cds_csv_t *cds_csv_open_stream(FILE *fp, const char *name);
/* Read from a memory buffer of len bytes (borrowed, must outlive the
 * reader). NULL with a reason in err. */
cds_csv_t *cds_csv_open_mem(const void *data, size_t len, const char *name,
                            char *err, size_t errlen);
/* Close (and the file if cds_csv_open opened it); sets *self_p to NULL.
 * Safe on NULL. */
void cds_csv_destroy(cds_csv_t **self_p);

/* Advance to the next record. 1: a record is current; 0: end of input;
 * -1: error, "name:line: problem" in err (the reader then stays failed). */
int cds_csv_next(cds_csv_t *self, char *err, size_t errlen);
/* Read the first record as the header (column names, matched ignoring ASCII
 * case). 0, or -1 with a message (empty file, empty or duplicate name). */
int cds_csv_read_header(cds_csv_t *self, char *err, size_t errlen);
/* Index of the header column called name (ASCII case-insensitive), or -1. */
int cds_csv_column(const cds_csv_t *self, const char *name);
/* Number of header columns (0 before cds_csv_read_header). */
size_t cds_csv_columns(const cds_csv_t *self);

/* Fields in the current record. */
size_t cds_csv_count(const cds_csv_t *self);
/* i-th field of the current record, NUL-terminated, borrowed until the next
 * cds_csv_next; NULL when i is out of range. */
const char *cds_csv_field(const cds_csv_t *self, size_t i);
/* Field of the current record in header column col (as returned by
 * cds_csv_column); "" when col < 0 (column absent). Borrowed. */
const char *cds_csv_get(const cds_csv_t *self, int col);
/* Physical line (1-based) where the current record starts. */
size_t cds_csv_line(const cds_csv_t *self);
/* Name given at open (the path). Borrowed. */
const char *cds_csv_name(const cds_csv_t *self);

/* Printable form of an untrusted value for an error message: at most 64
 * bytes of s; control bytes, '"', backslash (and bytes >= 0x80 unless s
 * is valid UTF-8) as \xNN; "..." when cut. buf: 300 bytes. Returns buf. */
const char *cds_csv_show(const char *s, char *buf, size_t len);
/* Write the loaders' error form into err:
 *   "name:line: column: problem (value "X")"   (value shown safely)
 *   "name:line: column: problem"               (value NULL)
 * Returns -1, so a loader can `return cds_csv_error(...)`. */
int cds_csv_error(char *err, size_t errlen, const char *name, size_t line,
                  const char *column, const char *problem, const char *value);

#endif
