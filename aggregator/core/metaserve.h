/*  metaserve: the metadata bundle one agent fetches (issue 20 step 2;
 *  docs/PROTOCOL.md "Fetching metadata").
 *
 *  The newest published version (store.h metadata_version) is read, its
 *  stored signature checked against our own key (a row altered in the
 *  database is not passed on), and a copy scoped to the agent is built:
 *    orgunits.csv   the agent's enrolled units, their descendants and
 *                   their ancestors (so every parent is defined); no
 *                   sibling unit of another commune;
 *    datasets.csv   the rows whose org_units name a kept unit (or a
 *                   level:N), with org_units cut to the kept items;
 *    other files    whole (the catalog is small and the same for all).
 *  The scoped bundle keeps the version number, published_ms and previous
 *  hash of the published one; each file's BLAKE2b-256 is of its scoped
 *  content. It is signed on the fly: domain KIND_METADATA, recipient the
 *  agent's key. Signing per agent is sound because the bytes signed are
 *  exactly the bytes the agent receives and checks, the recipient stops
 *  one agent's copy from being taken for another's (it names other
 *  units), and the signing key is the one the agent already trusts for
 *  every receipt; nothing the agent keeps depends on the published
 *  bundle's own signature, which stays the aggregator's record.
 *
 *  Bound: METASERVE_MAX_BYTES; a larger scoped bundle is refused
 *  (CDS_ETOOBIG), never cut. */
#ifndef AGG_METASERVE_H
#define AGG_METASERVE_H

#include "cds_id.h"
#include "store.h"
#include <stddef.h>
#include <stdint.h>

#define METASERVE_MAX_BYTES (2u << 20)   /* below CDS_MAX_MSG_BYTES */

/* The scoped, signed bundle of the newest version for agent (id,
 * agent_pk) into *bundle (malloc'd, caller frees), *len and sig; *version
 * receives its number. CDS_OK; CDS_ENOTFOUND (nothing published);
 * CDS_EBADSIG (the stored signature does not verify with our key);
 * CDS_ETOOBIG; CDS_EMALFORMED (a stored file does not parse); CDS_ENOMEM
 * or a database error. why: a sentence for the log and the reply. */
int metaserve_bundle(store_t *store, const cds_identity_t *id,
                     int64_t agent_id, const uint8_t agent_pk[CDS_PK_BYTES],
                     uint8_t **bundle, size_t *len,
                     uint8_t sig[CDS_SIG_BYTES], uint64_t *version,
                     char *why, size_t whylen);

#endif
