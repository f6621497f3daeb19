/*  enroll: the agent register: enroll, revoke, list.
 *
 *  Invariant: an agent may write only the org units it is enrolled for
 *  (and their subtrees); `enroll` sets that list exactly (re-running it is
 *  idempotent and replaces the list), `revoke` is immediate because ingest
 *  reads the agent row for every message, and a revoked key stays revoked
 *  (enrolling it again is refused: a revoked key may be compromised; the
 *  commune generates a new identity). Nothing here prints a secret: only
 *  public identities and fingerprints exist in this database. */
#ifndef AGG_ENROLL_H
#define AGG_ENROLL_H

#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Enroll pubid ("cds1:...") for units[0..n) (each must be in the orgunit
 * table) with label (may be NULL). Prints "enrolled <fpr> label=...
 * org_units=A,B" to out. CDS_OK; CDS_EMALFORMED (bad pubid),
 * CDS_EUNKNOWNORGUNIT, CDS_EREVOKED, CDS_EUSAGE (no units) with a message
 * in err; or a database error. Runs in its own transaction. */
int enroll_add(store_t *store, const char *pubid, const char *const *units,
               size_t n, const char *label, uint64_t now_ms, FILE *out,
               char *err, size_t errlen);
/* Revoke by public identity or 16-hex fingerprint; prints "revoked <fpr>".
 * CDS_OK (also when already revoked), CDS_ENOTFOUND, CDS_EMALFORMED. */
int enroll_revoke(store_t *store, const char *who, uint64_t now_ms, FILE *out,
                  char *err, size_t errlen);
/* Key rotation by an admin: enroll new_pubid for units[0..n) (n = 0: the
 * old key's units), revoke the old agent (pubid or fingerprint in old)
 * and record old.replaced_by, all in one transaction. History keeps both:
 * updates stay attributed to the key that signed them. Prints "enrolled
 * <new> ... replaces=<old>" to out. Errors as enroll_add and
 * enroll_revoke (CDS_ENOTFOUND: no such old agent; CDS_EREVOKED: the new
 * key was revoked before; CDS_EUSAGE: new == old). */
int enroll_replace(store_t *store, const char *new_pubid, const char *old,
                   const char *const *units, size_t n, const char *label,
                   uint64_t now_ms, FILE *out, char *err, size_t errlen);
/* Print every agent: fingerprint, label, org units, applied seq, last
 * seen, revoked; an aligned table or a JSON array. now_ms for ages. */
int enroll_list(store_t *store, bool json, uint64_t now_ms, FILE *out);

#endif
