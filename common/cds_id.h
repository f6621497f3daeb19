/*  cds_id: identity files and public identities.
 *
 *  An identity holds an Ed25519 signing key pair and a separate X25519 key
 *  pair for CURVE transport (libsodium advises distinct keys per purpose).
 *
 *  File format (text, mode 0600, created with O_EXCL, refused if group or
 *  others can read it):
 *      # cdsync identity - SECRET, keep mode 0600
 *      [identity]
 *      label = <free text, e.g. the commune code>
 *      public = cds1:<base64url, no padding, of sign_pk(32) || curve_pk(32)>
 *      sign_secret = <base64 of the 64-byte Ed25519 secret key>
 *      curve_secret = <base64 of the 32-byte X25519 secret key>
 *
 *  The public identity string ("cds1:...") is what `keygen` prints and
 *  `enroll` takes. Secret material lives in sodium_malloc'd memory and is
 *  wiped on destroy. */
#ifndef CDS_ID_H
#define CDS_ID_H

#include <stddef.h>
#include <stdint.h>

#define CDS_PK_BYTES 32
#define CDS_SIG_BYTES 64
#define CDS_PUBID_LEN 96      /* buffer size for "cds1:" + 86 chars + NUL */
#define CDS_FPR_LEN 24        /* buffer size for "ab12cd34ef56ab12" + NUL */

typedef struct cds_identity cds_identity_t;

/* Create a new identity at path (O_EXCL, 0600). Fails with CDS_EIO if the
 * file exists or cannot be written (logged). label is stored as is; it
 * must be UTF-8, <= 128 bytes, without control characters, ';' or edge
 * spaces, else CDS_EBADFIELD. */
int cds_identity_generate(const char *path, const char *label);
/* Load an identity. NULL on failure with *err set: CDS_EPERM when group or
 * others may read it (message names the file and `chmod 600`), CDS_EIO,
 * CDS_EMALFORMED. A message is written to errbuf (may be NULL). */
cds_identity_t *cds_identity_load(const char *path, int *err, char *errbuf,
                                  size_t errlen);
/* Wipe and free; sets *self_p to NULL. Safe on NULL. */
void cds_identity_destroy(cds_identity_t **self_p);

/* Borrowed 32-byte public keys. */
const uint8_t *cds_identity_sign_pk(const cds_identity_t *self);
const uint8_t *cds_identity_curve_pk(const cds_identity_t *self);
/* Borrowed 32-byte X25519 secret key, for the CURVE socket option only. */
const uint8_t *cds_identity_curve_sk(const cds_identity_t *self);
/* Borrowed label. */
const char *cds_identity_label(const cds_identity_t *self);
/* Write the public identity string into out (CDS_PUBID_LEN). */
void cds_identity_public(const cds_identity_t *self, char *out, size_t len);

/* Ed25519 detached signature of msg. 0 on success. */
int cds_identity_sign(const cds_identity_t *self, const uint8_t *msg,
                      size_t len, uint8_t sig[CDS_SIG_BYTES]);

/* Format/parse a public identity string. parse: CDS_OK or CDS_EMALFORMED. */
void cds_pubid_format(const uint8_t sign_pk[CDS_PK_BYTES],
                      const uint8_t curve_pk[CDS_PK_BYTES], char *out,
                      size_t len);
int cds_pubid_parse(const char *s, uint8_t sign_pk[CDS_PK_BYTES],
                    uint8_t curve_pk[CDS_PK_BYTES]);
/* Short fingerprint of a signing key: first 8 bytes of BLAKE2b-256 of the
 * key, as 16 hex chars. out must hold CDS_FPR_LEN. Returns out. */
char *cds_fingerprint(const uint8_t sign_pk[CDS_PK_BYTES], char *out);

#endif
