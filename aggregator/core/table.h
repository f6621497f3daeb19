/*  table: an aligned text table for terminal output (agents, query).
 *
 *  Invariant: columns are padded by display width (cds_utf8_width), not by
 *  bytes, so Vietnamese names with combining marks line up. Cells are
 *  copied; memory is O(cells). Output: header row, then rows, columns
 *  separated by two spaces, no trailing spaces. Control bytes in cells
 *  are shown escaped ("\x1b", "\r", "\n"; cds_ctl_escape), so a cell is
 *  always one line and never a terminal escape sequence. */
#ifndef AGG_TABLE_H
#define AGG_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct table table_t;

/* New table with ncols columns named by header[0..ncols). NULL on ENOMEM. */
table_t *table_new(const char *const *header, size_t ncols);
/* Free; sets *self_p to NULL. Safe on NULL. */
void table_destroy(table_t **self_p);
/* Append a row of ncols cells (NULL prints as "", control bytes
 * escaped). 0 or -1 (ENOMEM). */
int table_add(table_t *self, const char *const *cells);
/* Number of rows added. */
size_t table_rows(const table_t *self);
/* Print aligned to out. */
void table_print(const table_t *self, FILE *out);

#endif
