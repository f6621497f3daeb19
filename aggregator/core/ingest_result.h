/*  ingest_result: what ingesting one message produced (ingest.h) and the
 *  signed reply in it (ingest_reply.h). Its own header so the reply
 *  builder and the ingest share the type without including each other.
 *  Ownership: reply is owned by the result, freed by ingest_result_clear
 *  (ingest.h). */
#ifndef AGG_INGEST_RESULT_H
#define AGG_INGEST_RESULT_H

#include "cds_id.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a refusal message (ingest_result_t.message, per-update
 * rejection messages). */
#define INGEST_MESSAGE_LEN 256

/* How one message ended (ingest_result_t.outcome). */
typedef enum {
    INGEST_DONE = 0,           /* handled: applied, re-acked, answered */
    INGEST_REFUSED,            /* refused as a whole and recorded as a
                                * reject: code is the reason, message
                                * says why; reply is the refusal, a
                                * Notice, or NULL (no answer) */
    INGEST_FAILED,             /* database error code (CDS_EBUSY,
                                * CDS_EFULL, CDS_EIO, CDS_ENOMEM...): the
                                * caller rolls the whole group back and
                                * answers with ingest_result_retry */
} ingest_outcome_t;

/* What one message produced: the one result of ingest, no flag beside. */
typedef struct {
    ingest_outcome_t outcome;  /* how it ended */
    int code;                  /* REFUSED: the reason; FAILED: the
                                * database error; DONE: CDS_OK */
    char message[INGEST_MESSAGE_LEN]; /* REFUSED: why, else "" */
    uint8_t *reply;            /* signed envelope to send after COMMIT, or
                                * NULL: no answer (owned; ingest_result_clear) */
    size_t reply_len;          /* bytes in reply */
    int kind;                  /* Cdsync__Kind of the message, 0 if unknown */
    bool has_peer;             /* envelope decoded: peer is the signer */
    uint8_t peer[CDS_PK_BYTES]; /* signer's Ed25519 key (unverified if code) */
    uint64_t first_seq;        /* BATCH range, 0 when not known */
    uint64_t last_seq;
    uint64_t request_id;       /* the request's id, echoed in the answer
                                * (0 when not decoded) */
    bool verified;             /* signature checked by an enrolled key */
} ingest_result_t;

#endif
