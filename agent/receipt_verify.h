/*  receipt_verify: prove delivery from a kept receipt (the aggregator's
 *  signed Ack envelope, stored byte for byte by the agent) with nothing but
 *  the aggregator's public identity.
 *
 *  A receipt proves: the aggregator holding server_pk signed, for the
 *  agent key it names (the signature covers that key as recipient, see
 *  cds_sign.h), that every seq <= acked_seq of that agent was processed
 *  and committed at committed_at_ms, with chain head acked_head at
 *  acked_seq (the BLAKE2b chain over the updates' content: so the receipt
 *  pins exactly which data were received, not just how many).
 *
 *  Invariant: CDS_OK only for an envelope of kind ACK, status ACK_OK,
 *  whose signature verifies for (signer = server_pk, recipient = the agent
 *  named in the Ack), and whose Ack names server_pk as aggregator. Any
 *  claim the caller adds (agent, seq, head) must also hold. */
#ifndef AGENT_RECEIPT_VERIFY_H
#define AGENT_RECEIPT_VERIFY_H

#include "cds_id.h"
#include "cds_update.h"
#include "outbox.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a verified receipt proves. */
typedef struct {
    uint8_t agent[CDS_PK_BYTES];       /* agent's signing key */
    uint8_t aggregator[CDS_PK_BYTES];  /* the signer */
    uint64_t first_seq, last_seq;      /* the batch the ack answered */
    uint64_t acked_seq;                /* every seq <= this was processed */
    uint8_t head[CDS_HASH_BYTES];      /* chain head at acked_seq */
    uint64_t committed_at_ms;          /* aggregator clock at commit */
    size_t n_rejections;               /* updates refused permanently */
} receipt_facts_t;

/* Claims to check besides the signature; zero/NULL fields are not
 * checked. */
typedef struct {
    const uint8_t *agent;              /* receipt must name this agent */
    uint64_t seq;                      /* must be covered: seq <= acked */
    const uint8_t *head;               /* acked_head must equal this */
} receipt_claims_t;

/* Verify envelope bytes as a delivery receipt from server_pk and check
 * claims (may be NULL). CDS_OK with *facts; else CDS_EMALFORMED (not an
 * Ack envelope), CDS_EBADSIG (not signed by that aggregator for the agent
 * it names: forged or altered), CDS_EKEYMISMATCH (names another
 * aggregator or agent), CDS_EBADFIELD (a refusal, or a claim that does
 * not hold), with a sentence in err. */
int receipt_verify(const uint8_t *env, size_t len,
                   const uint8_t server_pk[CDS_PK_BYTES],
                   const receipt_claims_t *claims, receipt_facts_t *facts,
                   char *err, size_t errlen);

/* Read a receipt file: the raw envelope bytes, or its base64 text (as
 * `receipts --json` prints in envelope_base64). *out is malloc'd. CDS_OK,
 * CDS_EIO, CDS_ETOOBIG (over CDS_MAX_MSG_BYTES), with a message naming the
 * file in err. */
int receipt_read_file(const char *path, uint8_t **out, size_t *len,
                      char *err, size_t errlen);

/* Copy the envelope of the stored receipt with receipts.id = id (as
 * `receipts` lists it) into *out (malloc'd). CDS_OK, CDS_ENOTFOUND, or a
 * database / memory error. */
int receipt_load(outbox_t *outbox, int64_t id, uint8_t **out, size_t *len);

/* Print the proven facts, one "key: value" per line. */
void receipt_print(const receipt_facts_t *f, FILE *out);

#endif
