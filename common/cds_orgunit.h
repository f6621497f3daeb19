/*  cds_orgunit: the org-unit tree (province > district > commune, or after
 *  the 2025 reform province > commune: no fixed depth is assumed).
 *
 *  File: UTF-8 CSV (optional BOM), header row, columns by name:
 *      code        stable ASCII code [A-Za-z0-9_-], unique      (required)
 *      name        UTF-8 name                                  (required)
 *      parent      code of the parent, empty for a root
 *      valid_from  YYYY-MM-DD, empty: always
 *      valid_to    YYYY-MM-DD inclusive, empty: still valid
 *  Every parent must be defined in the file; cycles are rejected. */
#ifndef CDS_ORGUNIT_H
#define CDS_ORGUNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *code;                /* unique code */
    char *name;                /* display name */
    char *parent;              /* parent code, NULL for a root */
    int32_t valid_from;        /* day number; INT32_MIN when open */
    int32_t valid_to;          /* day number, inclusive; INT32_MAX when open */
    int depth;                 /* 0 for a root */
} cds_orgunit_t;

typedef struct cds_orgunits cds_orgunits_t;

/* Load and check. NULL on failure with "path:line: field: problem" in err. */
cds_orgunits_t *cds_orgunits_load(const char *path, char *err, size_t errlen);
/* Check path as cds_orgunits_load would load it, printing every row
 * problem to out (FILE *), one "path:line: column: problem" line each,
 * instead of stopping at the first (--check-config). The number of
 * problems; 0: the file loads. */
size_t cds_orgunits_check(const char *path, void *out);
void cds_orgunits_destroy(cds_orgunits_t **self_p);
size_t cds_orgunits_size(const cds_orgunits_t *self);
/* i-th unit in file order (borrowed). */
const cds_orgunit_t *cds_orgunits_at(const cds_orgunits_t *self, size_t i);
/* Unit by code or NULL. */
const cds_orgunit_t *cds_orgunits_find(const cds_orgunits_t *self,
                                       const char *code);
/* True when code is ancestor or ancestor's descendant (or equal). */
bool cds_orgunits_within(const cds_orgunits_t *self, const char *code,
                         const char *ancestor);

/* Lifetime rule (docs/ORGUNITS.md): a unit takes values for a period when
 * it exists on at least one day of it, valid_from <= end and
 * valid_to >= start (DHIS2's openingDate/closedDate). */
bool cds_orgunit_open_in(int32_t valid_from, int32_t valid_to, int32_t start,
                         int32_t end);
/* The refusal sentence for a unit outside its lifetime in period (id):
 * "org unit \"27901\" does not exist in 2025Q3 (valid until 2025-06-30)"
 * (or "valid from ...", "valid ... to ..."). Returns buf. */
const char *cds_orgunit_closed_msg(const char *code, const char *period,
                                   int32_t valid_from, int32_t valid_to,
                                   char *buf, size_t len);

#endif
