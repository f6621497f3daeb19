/*  revocation: the aggregator's signed word that this agent's key is
 *  revoked (a Notice, docs/PROTOCOL.md "Revocation notice"), kept for
 *  `status` in <state_dir>/agent.revoked.
 *
 *  Invariant: the file only ever holds a Notice envelope that the daemon
 *  verified (signer = the configured server key, signed for our key,
 *  reason NOTICE_REVOKED) before saving it; it is written whole (temporary
 *  file, fsync, rename) or not at all, and removed when the aggregator
 *  accepts this key again (a HelloAnswer without error).
 *
 *  Format: the signed envelope exactly as received (protobuf, one frame):
 *  the officer can hand it to the district as proof. */
#ifndef AGENT_REVOCATION_H
#define AGENT_REVOCATION_H

#include "cds_id.h"
#include <stddef.h>
#include <stdint.h>

#define REVOCATION_FILE "agent.revoked"

typedef struct {
    char agent_fpr[CDS_FPR_LEN];       /* the revoked key's fingerprint */
    uint64_t revoked_at_ms;            /* aggregator clock */
    char replaced_by[CDS_FPR_LEN];     /* successor's fingerprint, "" none */
    char message[256];                 /* the aggregator's sentence */
} revocation_t;

/* Decode a verified Notice body for agent_pk (NULL: any, for the saved
 * file) into *out. CDS_OK, or CDS_EMALFORMED when it does not decode, is
 * not NOTICE_REVOKED, or names another agent. */
int revocation_decode(const uint8_t *body, size_t len,
                      const uint8_t agent_pk[CDS_PK_BYTES], revocation_t *out);
/* Write raw (the whole verified envelope) to <state_dir>/agent.revoked,
 * atomically. CDS_OK or CDS_EIO (logged). */
int revocation_save(const char *state_dir, const uint8_t *raw, size_t len);
/* Read <state_dir>/agent.revoked. CDS_OK, CDS_ENOTFOUND when absent, or
 * CDS_EIO / CDS_EMALFORMED when unreadable. */
int revocation_load(const char *state_dir, revocation_t *out);
/* Remove <state_dir>/agent.revoked (absent is fine). CDS_OK or CDS_EIO. */
int revocation_clear(const char *state_dir);

#endif
