/*  metafetch: a metadata version fetched from the aggregator, checked and
 *  taken into use (issue 20 step 2; docs/AGENT.md "Metadata from the
 *  aggregator", docs/PROTOCOL.md "Fetching metadata").
 *
 *  Order of checks, nothing stored before all pass:
 *    size <= METAFETCH_MAX_BYTES -> signature by the aggregator's key
 *    (server_key), domain KIND_METADATA, recipient our key -> bundle
 *    decodes (format 1, version > 0) -> every file a known name, listed
 *    once, its BLAKE2b-256 matching -> the files written to a private
 *    temporary directory (mkdtemp, 0700) and loaded with the loaders the
 *    agent uses for its configured files: cds_catalog, cds_orgunits,
 *    cds_datasets (with both), cds_rules (with the catalog) -> stored with
 *    outbox_metadata_put, one transaction (the previous version kept).
 *  A refusal is logged at error and recorded (outbox_metadata_refused):
 *  the version in use stays. The change is said in words against the
 *  version in use (its catalog, or none): "thêm 2, đổi 1, bỏ 0". */
#ifndef AGENT_METAFETCH_H
#define AGENT_METAFETCH_H

#include "cds_id.h"
#include "outbox.h"
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define METAFETCH_MAX_BYTES (2u << 20)

/* Check bundle/sig (from a MetadataReply) and take it into use. CDS_OK
 * with the officer's sentence in msg; else the refusal (CDS_ETOOBIG,
 * CDS_EBADSIG, CDS_EMALFORMED, or a database error) with why in msg,
 * already logged and recorded. */
int metafetch_apply(outbox_t *ob, const uint8_t agg_pk[CDS_PK_BYTES],
                    const uint8_t own_pk[CDS_PK_BYTES],
                    const uint8_t *bundle, size_t len, const uint8_t *sig,
                    size_t sig_len, uint64_t now_ms, char *msg,
                    size_t msglen);

/* The files of the version in use written into a new private temporary
 * directory, its path into dir. CDS_OK; CDS_ENOTFOUND when the agent
 * uses its configured files; CDS_EIO. Remove with metafetch_cleanup. */
int metafetch_materialize(outbox_t *ob, char *dir, size_t len);
/* Remove a directory made here (its files, then itself). */
void metafetch_cleanup(const char *dir);

/* `metadata show [FILE]`: the version in use, when fetched, its change
 * in words and its files (with FILE: that file's bytes) to out. CDS_OK;
 * CDS_ENOTFOUND (configured files in use, or no such file in it). */
int metafetch_show(outbox_t *ob, const char *file, FILE *out);
/* `metadata rollback`: back to the version before the one in use
 * (outbox_metadata_rollback), said to out and logged. CDS_OK or
 * CDS_ENOTFOUND (nothing kept before it). */
int metafetch_rollback(outbox_t *ob, FILE *out);

#endif
