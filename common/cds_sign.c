/*  cds_sign: domain-separated detached signatures. See cds_sign.h.
 *
 *  Plain Ed25519 over the whole concatenation (not Ed25519ph): the signed
 *  message must be contiguous, so it is assembled in one malloc'd buffer,
 *  at most CDS_MAX_MSG_BYTES + 42 bytes for any body we accept. */
#include "cds_sign.h"
#include "cds_err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT "cdsync/1"                     /* followed by its NUL */
#define CONTEXT_LEN (sizeof CONTEXT)           /* 9, includes the NUL */
#define PREFIX_LEN (CONTEXT_LEN + 1 + CDS_PK_BYTES)

/* malloc'd context || kind || recipient || body, or NULL. */
static uint8_t *
signed_bytes(int kind, const uint8_t recipient[CDS_PK_BYTES],
             const uint8_t *body, size_t len, size_t *total)
{
    if (len > SIZE_MAX - PREFIX_LEN)
        return NULL;
    uint8_t *buf = malloc(PREFIX_LEN + len);
    if (!buf)
        return NULL;
    memcpy(buf, CONTEXT, CONTEXT_LEN);
    buf[CONTEXT_LEN] = (uint8_t) kind;
    memcpy(buf + CONTEXT_LEN + 1, recipient, CDS_PK_BYTES);
    if (len > 0)
        memcpy(buf + PREFIX_LEN, body, len);
    *total = PREFIX_LEN + len;
    return buf;
}

int
cds_sign_body(const cds_identity_t *id, int kind,
              const uint8_t recipient[CDS_PK_BYTES], const uint8_t *body,
              size_t len, uint8_t sig[CDS_SIG_BYTES])
{
    if (kind < 0 || kind > 255)
        return CDS_ERROR;      /* programmer error: kinds are one byte */
    size_t total = 0;
    uint8_t *buf = signed_bytes(kind, recipient, body, len, &total);
    if (!buf)
        return CDS_ENOMEM;
    int rc = cds_identity_sign(id, buf, total, sig) == 0 ? CDS_OK : CDS_ERROR;
    free(buf);
    return rc;
}

int
cds_sign_verify(const uint8_t signer[CDS_PK_BYTES], int kind,
                const uint8_t recipient[CDS_PK_BYTES], const uint8_t *body,
                size_t len, const uint8_t sig[CDS_SIG_BYTES])
{
    if (kind < 0 || kind > 255)
        return CDS_EBADSIG;
    if (sodium_init() < 0)
        return CDS_ERROR;
    size_t total = 0;
    uint8_t *buf = signed_bytes(kind, recipient, body, len, &total);
    if (!buf)
        return CDS_ENOMEM;
    int rc = crypto_sign_verify_detached(sig, buf, total, signer) == 0
                 ? CDS_OK
                 : CDS_EBADSIG;
    free(buf);
    return rc;
}
