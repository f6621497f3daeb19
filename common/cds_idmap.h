/*  cds_idmap: the ids a DHIS2 instance knows values by, both ways: read
 *  by the aggregator's `export --id-scheme uid|name --id-map FILE`
 *  (export.h: code -> id) and by `import --id-scheme uid|name --id-map
 *  FILE` at the agent and the aggregator (id -> code, before every
 *  other check of a row).
 *
 *  File: CSV (cds_csv.h) with the header kind,code,uid (scheme uid) or
 *  kind,code,name (scheme name); kind is orgunit, dataelement, dataset or
 *  catoptcombo; code a cdsync code (post-reform units such as 27907-2025
 *  included; the default category combination is catoptcombo,default);
 *  uid the DHIS2 UID (11 characters, a letter then letters or digits),
 *  name the DHIS2 name (non-empty UTF-8, at most 230 bytes: DHIS2's
 *  name column). A bad kind, a bad UID or name or a (kind, code) given
 *  twice refuses the file naming file:line: column and the value.
 *
 *  Name scheme (DHIS2's idScheme=NAME): a map (possibly empty,
 *  cds_idmap_new) is completed with cds_idmap_add for every code the
 *  export may meet (the catalog's and org-unit table's names); a code
 *  the file already names keeps the file's name, which is how the file
 *  overrides. A name two codes of one kind share is ambiguous — DHIS2
 *  cannot resolve it either — and cds_idmap_twin names the other code.
 *
 *  Import (the reverse): cds_idmap_code gives the code of a DHIS2 id of
 *  a kind; an id the map does not hold, or one two codes share, is
 *  refused naming the id and the map ("no row in id map FILE", "names
 *  both A and B") — never guessed. cds_idmap_dvs_row and
 *  cds_idmap_adx_value turn a whole row (dataElement, orgUnit,
 *  categoryOptionCombo, attributeOptionCombo, dataSet) into codes; an
 *  empty field stays empty, and an ADX disaggregation written as
 *  CAT=OPT attributes is left to the catalog.
 *
 *  Invariant: a loaded map answers only what the file (and add) says;
 *  lookups of a code it does not hold return NULL (the export then
 *  refuses, naming the code). */
#ifndef CDS_IDMAP_H
#define CDS_IDMAP_H

#include "cds_adx.h"
#include "cds_catalog.h"
#include "cds_dvs.h"
#include "cds_orgunit.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cds_idmap cds_idmap_t;

typedef enum {
    CDS_IDMAP_UID = 0,                /* kind,code,uid */
    CDS_IDMAP_NAME = 1,               /* kind,code,name */
} cds_idmap_scheme_t;

/* The --id-scheme / --id-map pair of export and both imports: scheme
 * NULL or code, uid or name (*uid, *names say which). CDS_OK, or
 * CDS_EUSAGE with the reason in err: another scheme, or uid without a
 * map. Whether a map without a scheme is an error is the caller's (the
 * aggregator's command line refuses it; agent.ini may keep one). */
int cds_idmap_option(const char *scheme, const char *map, bool *uid,
                     bool *names, char *err, size_t errlen);
/* Load path for scheme. NULL with "file:line: column: problem" in err. */
cds_idmap_t *cds_idmap_load(const char *path, cds_idmap_scheme_t scheme,
                              char *err, size_t errlen);
/* An empty map (the name scheme without a file). NULL: out of memory. */
cds_idmap_t *cds_idmap_new(void);
/* A deep copy of self (NULL: an empty map). NULL: out of memory. */
cds_idmap_t *cds_idmap_copy(const cds_idmap_t *self);
/* Safe on NULL. */
void cds_idmap_destroy(cds_idmap_t **self_p);
/* Record id for (kind, code) unless the map holds that code already (the
 * file overrides); an empty id is ignored. CDS_OK or CDS_ENOMEM. */
int cds_idmap_add(cds_idmap_t *self, const char *kind, const char *code,
                   const char *id);
/* The id of (kind, code), or NULL when unmapped. Borrowed. */
const char *cds_idmap_get(const cds_idmap_t *self, const char *kind,
                           const char *code);
/* Another code of kind with the same id as code, or NULL when its id is
 * its own. Borrowed. */
const char *cds_idmap_twin(const cds_idmap_t *self, const char *kind,
                            const char *code);

/* What messages call the map: "id map FILE" after a load, else "the
 * catalog's and org units' names" (name scheme without a file). */
const char *cds_idmap_source(const cds_idmap_t *self);
/* Add every indicator's name_vi (dataelement), every unit's name
 * (orgunit; units NULL: none) and "default" (catoptcombo), each unless
 * the map names the code already: the name scheme (cds_idmap_add).
 * CDS_OK or CDS_ENOMEM. */
int cds_idmap_add_names(cds_idmap_t *self, const cds_catalog_t *catalog,
                        const cds_orgunits_t *units);

/* The code whose id (of kind) is id, or NULL when the map has no row
 * for it. Borrowed. */
const char *cds_idmap_code(const cds_idmap_t *self, const char *kind,
                           const char *id);
/* The code of id (kind) into *code (borrowed from self). 0; or -1 with
 * "\"ID\": no row in id map FILE" or "\"ID\": names both A and B in
 * SOURCE" in msg. */
int cds_idmap_to_code(const cds_idmap_t *self, const char *kind,
                      const char *id, const char **code, char *msg,
                      size_t len);

/* *out = *row with dataElement, orgUnit, categoryOptionCombo,
 * attributeOptionCombo and dataSet replaced by their codes (borrowed
 * from self and row; empty fields stay empty). 0; or -1 with *field the
 * long column name (cds_dvs_name) and msg as cds_idmap_to_code. */
int cds_idmap_dvs_row(const cds_idmap_t *self, const cds_dvs_row_t *row,
                      cds_dvs_row_t *out, const char **field, char *msg,
                      size_t len);
/* The same for an ADX value: dataSet, orgUnit, dataElement, and the
 * categoryOptionCombo/attributeOptionCombo unless absent (the reader's
 * "default") or written as CAT=OPT attributes (the catalog's to judge).
 * *field is the ADX attribute name. */
int cds_idmap_adx_value(const cds_idmap_t *self, const cds_adx_value_t *v,
                        cds_adx_value_t *out, const char **field, char *msg,
                        size_t len);

#endif
