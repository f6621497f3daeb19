/*  export_ids: the mapping from cdsync codes to a DHIS2 instance's UIDs,
 *  read by `export --id-scheme uid --id-map FILE` (export.h).
 *
 *  File: CSV (cds_csv.h) with the header kind,code,uid; kind is orgunit,
 *  dataelement, dataset or catoptcombo; code a cdsync code (post-reform
 *  units such as 27907-2025 included; the default category combination
 *  is catoptcombo,default); uid the DHIS2 UID (11 characters, a letter
 *  then letters or digits). A bad kind, a bad UID or a (kind, code)
 *  given twice refuses the file naming file:line: column and the value.
 *
 *  Invariant: a loaded map answers only what the file says; lookups of a
 *  code it does not hold return NULL (the export then refuses, naming
 *  the code). */
#ifndef AGG_EXPORT_IDS_H
#define AGG_EXPORT_IDS_H

#include <stddef.h>

typedef struct export_ids export_ids_t;

/* Load path. NULL with "file:line: column: problem" in err. */
export_ids_t *export_ids_load(const char *path, char *err, size_t errlen);
/* Safe on NULL. */
void export_ids_destroy(export_ids_t **self_p);
/* The UID of (kind, code), or NULL when unmapped. Borrowed. */
const char *export_ids_get(const export_ids_t *self, const char *kind,
                           const char *code);

#endif
