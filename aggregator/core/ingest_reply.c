/*  ingest_reply: signed answers to an agent. See ingest_reply.h. */
#include "ingest_reply.h"

#include "cds_err.h"
#include "cds_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
ingest_rejections_init(ingest_rejections_t *rej, size_t cap)
{
    memset(rej, 0, sizeof *rej);
    if (cap == 0)
        return CDS_OK;
    rej->pb = calloc(cap, sizeof *rej->pb);
    rej->ptrs = calloc(cap, sizeof *rej->ptrs);
    rej->text = calloc(cap, sizeof *rej->text);
    return rej->pb && rej->ptrs && rej->text ? CDS_OK : CDS_ENOMEM;
}

void
ingest_rejections_fini(ingest_rejections_t *rej)
{
    free(rej->pb);
    free(rej->ptrs);
    free(rej->text);
    memset(rej, 0, sizeof *rej);
}

void
ingest_rejections_add(ingest_rejections_t *rej, uint64_t seq, int code,
                      const char *field, const char *message)
{
    size_t i = rej->n++;
    Cdsync__Rejection *r = &rej->pb[i];
    cdsync__rejection__init(r);
    r->seq = seq;
    r->code = (uint32_t) code;
    r->retry = false;
    snprintf(rej->text[i], INGEST_MESSAGE_LEN, "%s", message ? message : "");
    r->message = rej->text[i];
    r->field = (char *) (field ? field : "");
    rej->ptrs[i] = r;
}

/* Replace r's reply by msg sealed as kind for r->peer. */
static int
seal(const cds_identity_t *id, ingest_result_t *r, Cdsync__Kind kind,
     const ProtobufCMessage *msg)
{
    free(r->reply);
    r->reply = NULL;
    r->reply_len = 0;
    return cds_envelope_seal_msg(id, kind, r->peer, msg, &r->reply,
                                 &r->reply_len);
}

int
ingest_reply_ack(const cds_identity_t *id, ingest_result_t *r,
                 Cdsync__AckStatus status, uint64_t acked,
                 const uint8_t *head, int error, const char *message,
                 const ingest_rejections_t *rej, uint64_t now_ms)
{
    Cdsync__Ack ack = CDSYNC__ACK__INIT;
    ack.version = CDS_PROTOCOL_VERSION;
    ack.agent.data = r->peer;
    ack.agent.len = CDS_PK_BYTES;
    ack.aggregator.data = (uint8_t *) cds_identity_sign_pk(id);
    ack.aggregator.len = CDS_PK_BYTES;
    ack.status = status;
    ack.acked_seq = acked;
    if (head && acked > 0) {
        ack.acked_head.data = (uint8_t *) head;
        ack.acked_head.len = CDS_HASH_BYTES;
    }
    ack.batch_first = r->first_seq;
    ack.batch_last = r->last_seq;
    if (rej && rej->n > 0) {
        ack.n_rejections = rej->n;
        ack.rejections = rej->ptrs;
    }
    ack.error = (uint32_t) error;
    ack.message = (char *) (message ? message : "");
    ack.committed_at_ms = now_ms;
    ack.request_id = r->request_id;
    ack.clock_ms = now_ms;
    return seal(id, r, CDSYNC__KIND__KIND_ACK, &ack.base);
}

int
ingest_reply_hello(const cds_identity_t *id, ingest_result_t *r,
                   uint64_t applied, const uint8_t *head, uint64_t matched,
                   uint64_t mismatch, uint64_t resend_from, int error,
                   const char *message, uint64_t meta_latest,
                   uint64_t now_ms)
{
    Cdsync__HelloAnswer ans = CDSYNC__HELLO_ANSWER__INIT;
    ans.version = CDS_PROTOCOL_VERSION;
    ans.agent.data = r->peer;
    ans.agent.len = CDS_PK_BYTES;
    ans.applied_seq = applied;
    if (head && applied > 0) {
        ans.applied_head.data = (uint8_t *) head;
        ans.applied_head.len = CDS_HASH_BYTES;
    }
    ans.probe_matched = matched;
    ans.probe_mismatch = mismatch;
    ans.error = (uint32_t) error;
    ans.message = (char *) (message ? message : "");
    ans.clock_ms = now_ms;
    ans.request_id = r->request_id;
    ans.resend_from = resend_from;
    ans.metadata_latest = meta_latest;
    return seal(id, r, CDSYNC__KIND__KIND_HELLO_ANSWER, &ans.base);
}

int
ingest_reply_heartbeat(const cds_identity_t *id, ingest_result_t *r,
                       uint64_t applied, uint64_t request_id,
                       uint64_t meta_latest, uint64_t now_ms)
{
    Cdsync__HeartbeatAnswer ans = CDSYNC__HEARTBEAT_ANSWER__INIT;
    ans.version = CDS_PROTOCOL_VERSION;
    ans.clock_ms = now_ms;
    ans.applied_seq = applied;
    ans.request_id = request_id;
    ans.metadata_latest = meta_latest;
    return seal(id, r, CDSYNC__KIND__KIND_HEARTBEAT_ANSWER, &ans.base);
}

int
ingest_reply_metadata(const cds_identity_t *id, ingest_result_t *r,
                      const uint8_t *bundle, size_t len, const uint8_t *sig,
                      int error, const char *message, uint64_t now_ms)
{
    Cdsync__MetadataReply ans = CDSYNC__METADATA_REPLY__INIT;
    ans.version = CDS_PROTOCOL_VERSION;
    ans.agent.data = r->peer;
    ans.agent.len = CDS_PK_BYTES;
    ans.request_id = r->request_id;
    ans.error = (uint32_t) error;
    ans.message = (char *) (message ? message : "");
    if (bundle) {
        ans.bundle.data = (uint8_t *) bundle;
        ans.bundle.len = len;
        ans.signature.data = (uint8_t *) sig;
        ans.signature.len = CDS_SIG_BYTES;
    }
    ans.clock_ms = now_ms;
    return seal(id, r, CDSYNC__KIND__KIND_METADATA_REPLY, &ans.base);
}

int
ingest_reply_refusal(const cds_identity_t *id, ingest_result_t *r,
                     const store_agent_t *agent, Cdsync__AckStatus status,
                     int error, const char *message, uint64_t now_ms)
{
    uint64_t n = agent ? agent->applied_seq : 0;
    const uint8_t *head = agent ? agent->applied_head : NULL;
    if (!r->has_peer)
        return CDS_OK;
    if (r->kind == CDSYNC__KIND__KIND_BATCH)
        return ingest_reply_ack(id, r, status, n, head, error, message, NULL,
                                now_ms);
    if (r->kind == CDSYNC__KIND__KIND_HELLO)
        return ingest_reply_hello(id, r, n, head, 0, 0, 0, error, message,
                                  0, now_ms);
    return CDS_OK;             /* heartbeats have no error field: silence */
}

int
ingest_reply_revoked(const cds_identity_t *id, ingest_result_t *r,
                     const store_agent_t *agent, const char *successor,
                     uint64_t now_ms)
{
    char text[INGEST_MESSAGE_LEN];
    snprintf(text, sizeof text, "key %s was revoked%s%s", agent->fpr,
             successor[0] ? "; replaced by " : "", successor);
    Cdsync__Notice n = CDSYNC__NOTICE__INIT;
    n.version = CDS_PROTOCOL_VERSION;
    n.agent.data = r->peer;
    n.agent.len = CDS_PK_BYTES;
    n.aggregator.data = (uint8_t *) cds_identity_sign_pk(id);
    n.aggregator.len = CDS_PK_BYTES;
    n.reason = CDSYNC__NOTICE_REASON__NOTICE_REVOKED;
    n.revoked_at_ms = (uint64_t) agent->revoked_at_ms;
    n.replaced_by = (char *) successor;
    n.message = text;
    n.clock_ms = now_ms;
    int rc = seal(id, r, CDSYNC__KIND__KIND_NOTICE, &n.base);
    if (rc == CDS_OK)
        cds_log(CDS_LOG_INFO, "revoked_notice", "agent=%s replaced_by=%s",
                agent->fpr, successor[0] ? successor : "-");
    return rc;
}
