/*  table: aligned terminal tables. See table.h. */
#include "table.h"

#include "cds_util.h"

#include <stdlib.h>
#include <string.h>

struct table {
    size_t ncols;                      /* columns per row */
    size_t nrows;                      /* rows including the header */
    size_t cap;                        /* rows allocated */
    char **cells;                      /* nrows * ncols strings (owned) */
};

table_t *
table_new(const char *const *header, size_t ncols)
{
    table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ncols = ncols;
    if (table_add(self, header) != 0)
        table_destroy(&self);
    return self;
}

void
table_destroy(table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    table_t *self = *self_p;
    for (size_t i = 0; i < self->nrows * self->ncols; i++)
        free(self->cells[i]);
    free(self->cells);
    free(self);
    *self_p = NULL;
}

int
table_add(table_t *self, const char *const *cells)
{
    if (self->nrows == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        char **p = realloc(self->cells, cap * self->ncols * sizeof *p);
        if (!p)
            return -1;
        self->cells = p;
        self->cap = cap;
    }
    char **row = self->cells + self->nrows * self->ncols;
    for (size_t c = 0; c < self->ncols; c++) {
        /* Escaped once here, for every table (history, query, agents,
         * reports): stored text may hold control bytes from before they
         * were refused, and must not drive the operator's terminal. */
        row[c] = cds_ctl_escape(cells[c], false);
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return -1;
        }
    }
    self->nrows++;
    return 0;
}

size_t
table_rows(const table_t *self)
{
    return self->nrows - 1;
}

void
table_print(const table_t *self, FILE *out)
{
    size_t *width = calloc(self->ncols, sizeof *width);
    if (!width)
        return;
    for (size_t i = 0; i < self->nrows * self->ncols; i++) {
        size_t w = cds_utf8_width(self->cells[i]);
        if (w > width[i % self->ncols])
            width[i % self->ncols] = w;
    }
    for (size_t r = 0; r < self->nrows; r++) {
        char **row = self->cells + r * self->ncols;
        size_t last = self->ncols;     /* print up to the last non-empty */
        while (last > 1 && row[last - 1][0] == '\0')
            last--;
        for (size_t c = 0; c < last; c++) {
            fputs(row[c], out);
            if (c + 1 == last)
                break;
            size_t pad = width[c] - cds_utf8_width(row[c]) + 2;
            fprintf(out, "%*s", (int) pad, "");
        }
        fputc('\n', out);
    }
    free(width);
}
