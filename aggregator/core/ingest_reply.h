/*  ingest_reply: the signed answers ingest sends an agent, built into an
 *  ingest_result_t (ingest_result.h): Ack (applied, re-acked, gap, refused,
 *  retry), HelloAnswer, HeartbeatAnswer and the revocation Notice
 *  (docs/PROTOCOL.md). Each is sealed by our identity for r->peer and
 *  replaces r's reply; nothing here reads the database or decides
 *  anything: ingest.c chooses the answer, this module only writes it.
 *  A refusal never reveals an agent's position unless its signature was
 *  verified (ingest_reply_refusal's agent argument). */
#ifndef AGG_INGEST_REPLY_H
#define AGG_INGEST_REPLY_H

#include "cds_codec.h"
#include "cds_id.h"
#include "ingest_result.h"
#include "store.h"
#include <stddef.h>
#include <stdint.h>

/* Per-update rejections collected for one Ack (at most one per update of
 * the batch). */
typedef struct {
    Cdsync__Rejection *pb;             /* n entries, pointed to by ptrs */
    Cdsync__Rejection **ptrs;
    char (*text)[INGEST_MESSAGE_LEN];  /* message storage per entry */
    size_t n;                          /* entries used */
} ingest_rejections_t;

/* Room for cap rejections (none allocated for 0). CDS_OK or CDS_ENOMEM;
 * release with ingest_rejections_fini either way. */
int ingest_rejections_init(ingest_rejections_t *rej, size_t cap);
/* Free and zero *rej. Safe on a zeroed one. */
void ingest_rejections_fini(ingest_rejections_t *rej);
/* Append one (field static or outliving the reply; message copied). The
 * caller keeps n below the cap given to init. */
void ingest_rejections_add(ingest_rejections_t *rej, uint64_t seq, int code,
                           const char *field, const char *message);

/* Sign an Ack of status to r->peer with r's batch range and request id.
 * head: the head after acked (NULL or acked 0: empty). rej may be NULL.
 * CDS_OK or CDS_ENOMEM. */
int ingest_reply_ack(const cds_identity_t *id, ingest_result_t *r,
                     Cdsync__AckStatus status, uint64_t acked,
                     const uint8_t *head, int error, const char *message,
                     const ingest_rejections_t *rej, uint64_t now_ms);
/* Sign a HelloAnswer to r->peer (resend_from: 0, or the seq from which
 * the agent is to resend its kept batches; meta_latest: the newest
 * published metadata version, 0 none). CDS_OK or CDS_ENOMEM. */
int ingest_reply_hello(const cds_identity_t *id, ingest_result_t *r,
                       uint64_t applied, const uint8_t *head,
                       uint64_t matched, uint64_t mismatch,
                       uint64_t resend_from, int error,
                       const char *message, uint64_t meta_latest,
                       uint64_t now_ms);
/* Sign a HeartbeatAnswer carrying applied, request_id and meta_latest
 * (as for ingest_reply_hello). */
int ingest_reply_heartbeat(const cds_identity_t *id, ingest_result_t *r,
                           uint64_t applied, uint64_t request_id,
                           uint64_t meta_latest, uint64_t now_ms);
/* Sign a MetadataReply to r->peer: bundle and sig (metaserve.h), or
 * error with message and no bundle (bundle NULL). */
int ingest_reply_metadata(const cds_identity_t *id, ingest_result_t *r,
                          const uint8_t *bundle, size_t len,
                          const uint8_t *sig, int error,
                          const char *message, uint64_t now_ms);
/* The answer to a refused or failed request, by r->kind: an Ack of status
 * for a BATCH, a HelloAnswer with error for a HELLO, nothing otherwise
 * (heartbeats have no error field) nor when r has no peer. agent: the
 * signer's row when its signature verified (the answer then carries its
 * applied seq and head), else NULL. CDS_OK or CDS_ENOMEM. */
int ingest_reply_refusal(const cds_identity_t *id, ingest_result_t *r,
                         const store_agent_t *agent,
                         Cdsync__AckStatus status, int error,
                         const char *message, uint64_t now_ms);
/* Sign the Notice NOTICE_REVOKED to r->peer for revoked agent, naming
 * successor ("" none). CDS_OK or CDS_ENOMEM. */
int ingest_reply_revoked(const cds_identity_t *id, ingest_result_t *r,
                         const store_agent_t *agent, const char *successor,
                         uint64_t now_ms);

#endif
