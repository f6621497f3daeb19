/*  cds_sign: domain-separated detached signatures over message bodies.
 *
 *  Signed bytes = "cdsync/1" NUL || kind (1 byte) || recipient (32 bytes)
 *                 || body.
 *  The context string stops a signature made for another purpose from
 *  verifying here; the kind stops an Ack being taken for a Batch; the
 *  recipient (the Ed25519 public key of the peer the message is for) stops
 *  a batch made for one aggregator from being replayed to another. */
#ifndef CDS_SIGN_H
#define CDS_SIGN_H

#include "cds_id.h"
#include <stddef.h>
#include <stdint.h>

/* Sign body for recipient. 0 on success, CDS_ENOMEM. */
int cds_sign_body(const cds_identity_t *id, int kind,
                  const uint8_t recipient[CDS_PK_BYTES], const uint8_t *body,
                  size_t len, uint8_t sig[CDS_SIG_BYTES]);
/* Verify. CDS_OK or CDS_EBADSIG (CDS_ENOMEM if the signed bytes cannot be
 * assembled). Constant work whatever the input. */
int cds_sign_verify(const uint8_t signer[CDS_PK_BYTES], int kind,
                    const uint8_t recipient[CDS_PK_BYTES],
                    const uint8_t *body, size_t len,
                    const uint8_t sig[CDS_SIG_BYTES]);

#endif
