/*  metaver: the catalogs of every published metadata version, for ingest
 *  (issue 20 item 3; docs/PROTOCOL.md "Batch.catalog_version").
 *
 *  An agent stamps each batch with the version string of the catalog it
 *  checked the values with (Batch.catalog_version: the catalog.csv
 *  BLAKE2b hash, cds_catalog_version). An agent that has not fetched the
 *  newest metadata yet (offline during `metadata publish`, or pinned to
 *  its configured files) still stamps an older published version; the
 *  aggregator validates such a batch against that version's catalog, so
 *  an indicator retired by a later version is still accepted from it.
 *
 *  A set is an immutable snapshot: every stored version whose signature
 *  verifies with our key (a row altered in the database is skipped and
 *  logged, never trusted), its catalog.csv parsed (cds_catalog_parse).
 *  metaver_find gives the newest version whose catalog has the hash.
 *  Sets are never changed after metaver_load returns, so a reader on
 *  another thread (server.c's prepare worker) needs no lock; the owner
 *  swaps in a new set by pointer and frees the old one only when no
 *  reader can hold it (ingest.c keeps the retired sets until it ends). */
#ifndef AGG_METAVER_H
#define AGG_METAVER_H

#include "cds_catalog.h"
#include "cds_id.h"
#include "store.h"
#include <stddef.h>
#include <stdint.h>

typedef struct metaver metaver_t;

/* Every published version of store, checked with our key id_pk, into a
 * new set *out (empty when nothing is published). CDS_OK, CDS_ENOMEM or a
 * database error (nothing made). A version that does not verify, decode
 * or whose catalog does not parse is logged and left out. */
int metaver_load(store_t *store, const uint8_t id_pk[CDS_PK_BYTES],
                 metaver_t **out);
/* Free; sets *self_p to NULL. Safe on NULL. */
void metaver_destroy(metaver_t **self_p);
/* The catalog of the newest version whose catalog version string is
 * catalog_version, and its number in *version; NULL (and *version 0)
 * when none. self may be NULL (no set). */
const cds_catalog_t *metaver_find(const metaver_t *self,
                                  const char *catalog_version,
                                  int64_t *version);
/* The highest version the set was loaded with (0: none published). */
int64_t metaver_latest(const metaver_t *self);
/* Versions kept (tests, the log). */
size_t metaver_count(const metaver_t *self);

#endif
