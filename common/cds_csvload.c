/*  cds_csvload: the loaders' common read loop (see cds_csvload.h).
 *
 *  One pass: header, column map, required columns, records, finish. The
 *  two modes differ only in ld->all: NULL (load) makes the first problem
 *  the end; a stream (check) makes a row problem a printed line and the
 *  reading go on. Which problems end the reading in check mode too is the
 *  caller's (CDS_CSVLOAD_STOP, finish's -1) or cds_csv's (a file that is
 *  not CSV cannot be read on past the broken record). */
#include "cds_csvload.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cds_csvload_error(cds_csvload_t *ld, size_t line, int col,
                  const char *problem, const char *value)
{
    return cds_csv_error(ld->err, ld->errlen, ld->path, line,
                         ld->spec->columns[col], problem, value);
}

int
cds_csvload_problem(cds_csvload_t *ld)
{
    if (!ld->all)
        return -1;
    fprintf(ld->all, "%s\n", ld->err);
    ld->bad++;
    return 0;
}

const char *
cds_csvload_get(const cds_csvload_t *ld, int col)
{
    return cds_csv_get(ld->csv, ld->col[col]);
}

size_t
cds_csvload_line(const cds_csvload_t *ld)
{
    return cds_csv_line(ld->csv);
}

/* Header, column map, required columns. 0 or -1 with err written. */
static int
read_header(cds_csvload_t *ld)
{
    const cds_csvload_spec_t *spec = ld->spec;
    if (spec->ncolumns > CDS_CSVLOAD_MAX_COLUMNS) {     /* a loader's bug */
        snprintf(ld->err, ld->errlen, "%s: the loader names %zu columns, "
                 "over %d", ld->path, spec->ncolumns,
                 CDS_CSVLOAD_MAX_COLUMNS);
        return -1;
    }
    if (cds_csv_read_header(ld->csv, ld->err, ld->errlen) < 0)
        return -1;
    ld->header_line = cds_csv_line(ld->csv);
    for (size_t c = 0; c < spec->ncolumns; c++)
        ld->col[c] = cds_csv_column(ld->csv, spec->columns[c]);
    for (const int *r = spec->required; r && *r >= 0; r++)
        if (ld->col[*r] < 0)
            return cds_csvload_error(ld, ld->header_line, *r, "required "
                                     "column missing from the header", NULL);
    return 0;
}

/* Every record through spec->row, then spec->finish. 0 or -1. */
static int
read_rows(cds_csvload_t *ld, void *self)
{
    if (read_header(ld) < 0)
        return -1;
    int rc;
    while ((rc = cds_csv_next(ld->csv, ld->err, ld->errlen)) == 1) {
        int row = ld->spec->row(ld, self);
        if (row == CDS_CSVLOAD_STOP
            || (row < 0 && cds_csvload_problem(ld) < 0))
            return -1;
    }
    if (rc < 0)
        return -1;
    return ld->spec->finish ? ld->spec->finish(ld, self) : 0;
}

/* The result, or NULL (destroyed) when the reading ended on a problem
 * (written in ld->err). In load mode any problem ends it; in check mode
 * the caller destroys the result. */
static void *
run(cds_csvload_t *ld)
{
    void *self = calloc(1, ld->spec->size);
    if (!self) {
        snprintf(ld->err, ld->errlen, "%s: out of memory", ld->path);
        return NULL;
    }
    ld->csv = cds_csv_open(ld->path, ld->err, ld->errlen);
    bool fatal = !ld->csv || read_rows(ld, self) < 0;
    cds_csv_destroy(&ld->csv);
    if (fatal) {
        ld->spec->destroy(self);
        return NULL;
    }
    return self;
}

void *
cds_csvload_load(const cds_csvload_spec_t *spec, const char *path,
                 const void *ctx, char *err, size_t errlen)
{
    cds_csvload_t ld = { .spec = spec, .path = path, .ctx = ctx, .err = err,
                         .errlen = errlen };
    return run(&ld);
}

size_t
cds_csvload_check(const cds_csvload_spec_t *spec, const char *path,
                  const void *ctx, void *out)
{
    char err[1024] = "";
    cds_csvload_t ld = { .spec = spec, .path = path, .ctx = ctx, .err = err,
                         .errlen = sizeof err, .all = out };
    void *self = run(&ld);
    if (!self) {               /* a problem that ended the reading */
        fprintf(out, "%s\n", err);
        ld.bad++;
    }
    spec->destroy(self);
    return ld.bad;
}
