/*  cds_csvload: the one shape of the metadata CSV loaders (org units,
 *  contacts, targets, data sets, validation rules): open the file, read
 *  the header, find the loader's columns by name, refuse a missing
 *  required column, take every record through the loader's row function,
 *  then the loader's whole-file checks; in load mode stop at the first
 *  problem, in check mode (--check-config, `metadata publish`) print every
 *  problem and count them. The parsing itself is cds_csv's (libcsv); the
 *  checks of a row are the loader's own.
 *
 *  Messages: every problem is one "path:line: column: problem" line
 *  (cds_csv_error's form, column named by the loader's column table), or
 *  cds_csv's own "path:line: problem" for a file that is not CSV (text
 *  after a quote, a NUL byte, a field over CDS_CSV_MAX_FIELD bytes, a
 *  record with another number of fields than the header), or
 *  "path: reason" when the file cannot be opened.
 *
 *  Contract:
 *   - load (cds_csvload_load): the result, or NULL with the first problem
 *     in err. Nothing half-built is returned: on any problem the result is
 *     destroyed with spec->destroy.
 *   - check (cds_csvload_check): every row problem reported by the row
 *     function (and by finish through cds_csvload_problem) is printed to
 *     out, one line each, and reading goes on with the next record; a
 *     problem that ends the reading (the file cannot be opened, is not
 *     CSV, has no or a bad header, a required column is missing, a row or
 *     finish function returned CDS_CSVLOAD_STOP, or finish returned -1) is
 *     printed last. Returns the number of lines printed: 0 means
 *     cds_csvload_load would load the file. Nothing is written anywhere
 *     else.
 *   - finish runs only when every record was read (in check mode also
 *     after row problems: it sees the good rows, and ld->bad).
 *
 *  Invariant: ld->bad counts exactly the lines printed to ld->all. */
#ifndef CDS_CSVLOAD_H
#define CDS_CSVLOAD_H

#include "cds_csv.h"

#include <stdio.h>

#define CDS_CSVLOAD_MAX_COLUMNS 32     /* columns a loader may name */
#define CDS_CSVLOAD_STOP (-2)          /* row: a problem that ends reading */

typedef struct cds_csvload cds_csvload_t;

typedef struct {
    /* The loader's columns, by header name; a loader's column index c is
     * the position of its name here. ncolumns <= CDS_CSVLOAD_MAX_COLUMNS. */
    const char *const *columns;
    size_t ncolumns;
    /* Required columns in the order a missing one is reported (the first
     * missing one is named), ended by -1. */
    const int *required;
    /* Bytes of the result: it starts zeroed (calloc). */
    size_t size;
    /* Free a result (safe on NULL). */
    void (*destroy)(void *self);
    /* Take the current record (cds_csvload_get, cds_csvload_line) into
     * self: 0; -1 with the problem in ld->err (a row problem: check mode
     * reports it and goes on); CDS_CSVLOAD_STOP with the problem in
     * ld->err (reading ends in both modes). */
    int (*row)(cds_csvload_t *ld, void *self);
    /* After the last record (may be NULL): the checks across rows. 0; -1
     * with the problem in ld->err (ends the reading). A problem after which
     * checking may go on is passed to cds_csvload_problem. */
    int (*finish)(cds_csvload_t *ld, void *self);
} cds_csvload_spec_t;

/* The state a row or finish function reads (fields, not to be written
 * except through the functions below). */
struct cds_csvload {
    const cds_csvload_spec_t *spec;
    cds_csv_t *csv;                    /* the reader, while reading */
    const char *path;                  /* the file, for messages */
    const void *ctx;                   /* the loader's own (borrowed) */
    int col[CDS_CSVLOAD_MAX_COLUMNS];  /* header index of each column, -1 */
    size_t header_line;                /* line of the header record */
    char *err;                         /* the current problem */
    size_t errlen;
    FILE *all;                         /* check mode: problems go here */
    size_t bad;                        /* problems printed to all */
};

/* Load path with spec; ctx (borrowed, may be NULL) is ld->ctx for the row
 * and finish functions. The result, or NULL with "path:line: column:
 * problem" (or "path: reason") in err. */
void *cds_csvload_load(const cds_csvload_spec_t *spec, const char *path,
                       const void *ctx, char *err, size_t errlen);
/* Check path with spec, printing every problem to out (FILE *), one line
 * each; the number of problems, 0: cds_csvload_load would load it. */
size_t cds_csvload_check(const cds_csvload_spec_t *spec, const char *path,
                         const void *ctx, void *out);

/* Write "path:line: column: problem (value "X")" (value NULL: without the
 * value part) into ld->err, column the name of the loader's column col.
 * Returns -1. */
int cds_csvload_error(cds_csvload_t *ld, size_t line, int col,
                      const char *problem, const char *value);
/* The problem in ld->err: in check mode printed and counted, 0 (go on);
 * in load mode -1 (stop). */
int cds_csvload_problem(cds_csvload_t *ld);
/* Field of the current record in the loader's column col; "" when the
 * column is absent from the header. Borrowed until the next record. */
const char *cds_csvload_get(const cds_csvload_t *ld, int col);
/* Physical line where the current record starts. */
size_t cds_csvload_line(const cds_csvload_t *ld);

#endif
