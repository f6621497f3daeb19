/*  carried: see carried.h. */
#include "carried.h"

#include "cds_carry.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_sql.h"
#include "cds_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The signed Acks of one import, in file order. */
typedef struct {
    uint8_t **env;
    size_t *len;
    size_t n;
} acks_t;

static void
acks_free(acks_t *a, size_t cap)
{
    for (size_t i = 0; a->env && i < cap; i++)
        free(a->env[i]);
    free(a->env);
    free(a->len);
    memset(a, 0, sizeof *a);
}

/* Every record a BATCH envelope of the header's agent, for us. */
static int
precheck(const cds_carry_t *c, const uint8_t *our_pk, const char *path,
         char *err, size_t errlen)
{
    const Cdsync__CarryHeader *h = c->header;
    char a[CDS_FPR_LEN], b[CDS_FPR_LEN];
    if (sodium_memcmp(h->aggregator.data, our_pk, CDS_PK_BYTES) != 0) {
        snprintf(err, errlen, "%s: header: aggregator: made for the "
                 "aggregator %s, this one is %s (the batches are signed "
                 "for it only)", path, cds_fingerprint(h->aggregator.data, a),
                 cds_fingerprint(our_pk, b));
        return CDS_EKEYMISMATCH;
    }
    for (size_t i = 0; i < c->n; i++) {
        Cdsync__Envelope *env = NULL;
        int rc = cds_envelope_decode(c->env[i], c->env_len[i], &env);
        if (rc == CDS_OK && env->kind != CDSYNC__KIND__KIND_BATCH)
            rc = CDS_EMALFORMED;
        if (rc == CDS_OK
            && sodium_memcmp(env->signer.data, h->agent.data, CDS_PK_BYTES))
            rc = CDS_EKEYMISMATCH;
        cds_msg_free(env);
        if (rc != CDS_OK) {
            snprintf(err, errlen, "%s: offset %llu: envelope %zu of %zu: %s",
                     path, (unsigned long long)c->env_off[i], i + 1, c->n,
                     rc == CDS_EKEYMISMATCH
                         ? "signed by another key than the header's agent"
                         : "not a signed batch envelope");
            return rc;
        }
    }
    return CDS_OK;
}

/* The agent must be enrolled here (the file alone proves nothing). */
static int
find_agent(store_t *store, const cds_carry_t *c, const char *path,
           carried_result_t *res, char *err, size_t errlen)
{
    store_agent_t a;
    const Cdsync__CarryHeader *h = c->header;
    cds_fingerprint(h->agent.data, res->fpr);
    int rc = store_agent_find(store, h->agent.data, &a);
    if (rc == CDS_ENOTFOUND) {
        snprintf(err, errlen, "%s: header: agent %s (\"%s\") is not "
                 "enrolled here: enroll its key first (`enroll %s "
                 "--org-unit ...`); nothing applied", path, res->fpr,
                 h->label ? h->label : "", h->agent_pubid ? h->agent_pubid
                                                          : "PUBID");
        return CDS_EUNKNOWNKEY;
    }
    if (rc == CDS_OK && a.revoked_at_ms) {
        snprintf(err, errlen, "%s: header: agent %s (\"%s\") is revoked "
                 "here; nothing applied", path, res->fpr, a.label);
        return CDS_EREVOKED;
    }
    if (rc == CDS_OK)
        snprintf(res->label, sizeof res->label, "%s", a.label);
    return rc;
}

/* Read the reply of batch i: an ACK_OK is kept, anything else refuses the
 * file (named with its offset). */
static int
take_reply(const cds_carry_t *c, size_t i, ingest_result_t *r,
           acks_t *acks, carried_result_t *res,
           uint64_t applied_before, const char *path, char *err,
           size_t errlen)
{
    Cdsync__Envelope *env = NULL;
    Cdsync__Ack *ack = NULL;
    int rc = r->outcome == INGEST_REFUSED ? r->code : CDS_OK;
    if (rc == CDS_OK && (!r->reply
                         || cds_envelope_decode(r->reply, r->reply_len, &env)
                                != CDS_OK
                         || !(ack = cds_msg_decode(&cdsync__ack__descriptor,
                                                   env->body.data,
                                                   env->body.len, &rc))))
        rc = rc ? rc : CDS_ERROR;
    if (rc == CDS_OK && ack->status == CDSYNC__ACK_STATUS__ACK_GAP)
        rc = CDS_EBADSEQ;
    else if (rc == CDS_OK && ack->status != CDSYNC__ACK_STATUS__ACK_OK)
        rc = ack->error ? (int)ack->error : CDS_ERROR;
    if (rc != CDS_OK) {
        snprintf(err, errlen, "%s: offset %llu: batch %zu of %zu (seq "
                 "%llu..%llu): %s: %s; nothing from the file applied", path,
                 (unsigned long long)c->env_off[i], i + 1, c->n,
                 (unsigned long long)r->first_seq,
                 (unsigned long long)r->last_seq, cds_strerror(rc),
                 rc == CDS_EBADSEQ
                     ? "the aggregator holds this agent only up to an "
                       "earlier seq: the batches before this one are "
                       "missing (export again with --kept, or let the "
                       "link deliver them)"
                 : r->message[0] ? r->message : "refused");
    } else {
        uint64_t n = r->last_seq - r->first_seq + 1;
        uint64_t old = r->last_seq <= applied_before ? n
                       : r->first_seq > applied_before
                           ? 0 : applied_before - r->first_seq + 1;
        res->updates += n;
        res->old += old;
        if (!res->first_seq || r->first_seq < res->first_seq)
            res->first_seq = r->first_seq;
        if (r->last_seq > res->last_seq)
            res->last_seq = r->last_seq;
        for (size_t k = 0; k < ack->n_rejections; k++)
            res->rejected += ack->rejections[k]
                             && ack->rejections[k]->seq > applied_before;
        acks->env[i] = r->reply;       /* taken from the result */
        acks->len[i] = r->reply_len;
        r->reply = NULL;
        acks->n = i + 1;
    }
    cds_msg_free(ack);
    cds_msg_free(env);
    return rc;
}

/* Every batch through ingest in one transaction with the mark's bump;
 * committed only when all were acked. */
static int
apply_all(store_t *store, ingest_t *ingest, commitmark_t *mark,
          const cds_carry_t *c, uint64_t now_ms, acks_t *acks,
          carried_result_t *res, const char *path, char *err, size_t errlen)
{
    store_agent_t a;
    cds_sql_t *db = store_sql(store);
    int rc = cds_sql_begin(db);
    if (rc == CDS_OK)
        rc = store_agent_find(store, c->header->agent.data, &a);
    if (rc == CDS_OK)
        rc = commitmark_bump(mark);
    for (size_t i = 0; rc == CDS_OK && i < c->n; i++) {
        ingest_result_t r = {0};
        if (ingest_message(ingest, c->env[i], c->env_len[i], now_ms, &r)
            == INGEST_FAILED) {
            rc = r.code;
            snprintf(err, errlen, "%s: batch %zu: database: %s; nothing "
                     "applied", path, i + 1, cds_strerror(rc));
        } else {
            rc = take_reply(c, i, &r, acks, res, a.applied_seq, path, err,
                            errlen);
        }
        ingest_result_clear(&r);
    }
    if (rc == CDS_OK) {
        rc = cds_sql_commit(db);
        if (rc != CDS_OK)
            snprintf(err, errlen, "%s: commit failed: %s; nothing applied",
                     path, cds_strerror(rc));
    } else {
        cds_sql_rollback(db);
    }
    res->applied = res->updates - res->old - res->rejected;
    return rc;
}

/* The receipt file's text part. malloc'd, NULL on ENOMEM. */
static char *
receipt_summary(const carried_result_t *res, const char *path,
                uint64_t now_ms)
{
    char *text = NULL, t[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fprintf(f, "Biên nhận cdsync mang tay (USB) / cdsync carried receipt\n");
    fprintf(f, "Nội dung / contents: biên nhận đã ký của huyện / the "
            "aggregator's signed receipts\n");
    fprintf(f, "Xã / commune: %s (vân tay / fingerprint %s)\n", res->label,
            res->fpr);
    fprintf(f, "Cho tệp / for the file: %s\n", path);
    fprintf(f, "Tạo lúc / created: %s\n",
            cds_carry_time_vn(t, sizeof t, now_ms));
    fprintf(f, "Số lô / batches: %zu; giá trị / updates: %zu (mới nhận / "
            "new: %zu, bị từ chối / rejected: %zu, đã có / already held: "
            "%zu); seq %llu..%llu\n", res->batches, res->updates,
            res->applied, res->rejected, res->old,
            (unsigned long long)res->first_seq,
            (unsigned long long)res->last_seq);
    fprintf(f, "Tại xã / at the commune: cdsync-agent import-receipt "
            "FILE\n\n");
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int
write_receipts(const cds_carry_t *c, const cds_identity_t *id,
               const acks_t *acks, const carried_result_t *res,
               const char *path, const char *receipt_path, uint64_t now_ms,
               FILE *out, char *err, size_t errlen)
{
    Cdsync__CarryHeader h = CDSYNC__CARRY_HEADER__INIT;
    char *text = receipt_summary(res, path, now_ms);
    if (!text)
        return CDS_ENOMEM;
    h.version = CDS_CARRY_VERSION;
    h.kind = CDSYNC__CARRY_KIND__CARRY_RECEIPTS;
    h.agent = c->header->agent;
    h.aggregator.data = (uint8_t *)cds_identity_sign_pk(id);
    h.aggregator.len = CDS_PK_BYTES;
    h.agent_pubid = c->header->agent_pubid;
    h.label = (char *)res->label;
    h.created_at_ms = now_ms;
    h.first_seq = res->first_seq;
    h.last_seq = res->last_seq;
    h.updates = (uint32_t)res->updates;
    int rc = cds_carry_write(receipt_path, &h, text, acks->env, acks->len,
                             acks->n, err, errlen);
    if (rc == CDS_OK && out)
        fputs(text, out);
    free(text);
    return rc;
}

int
carried_import(store_t *store, ingest_t *ingest, commitmark_t *mark,
               const cds_identity_t *id, const char *path,
               const char *receipt_path, uint64_t now_ms, FILE *out,
               carried_result_t *res, char *err, size_t errlen)
{
    cds_carry_t *c = NULL;
    acks_t acks = {0};
    memset(res, 0, sizeof *res);
    int rc = cds_carry_check_target(receipt_path, err, errlen);
    if (rc == CDS_OK)
        rc = cds_carry_read(path, CDSYNC__CARRY_KIND__CARRY_BATCHES, &c, err,
                            errlen);
    if (rc == CDS_OK)
        rc = precheck(c, cds_identity_sign_pk(id), path, err, errlen);
    if (rc == CDS_OK)
        rc = find_agent(store, c, path, res, err, errlen);
    size_t cap = c ? c->n : 0;
    if (rc == CDS_OK) {
        acks.env = calloc(cap ? cap : 1, sizeof *acks.env);
        acks.len = calloc(cap ? cap : 1, sizeof *acks.len);
        rc = acks.env && acks.len ? CDS_OK : CDS_ENOMEM;
        res->batches = cap;
    }
    if (rc == CDS_OK)
        rc = apply_all(store, ingest, mark, c, now_ms, &acks, res, path, err,
                       errlen);
    if (rc == CDS_OK && (rc = commitmark_sync(mark)) != CDS_OK)
        snprintf(err, errlen, "%s: applied, but the commit mark could not "
                 "be written (%s): no receipt written; import the file "
                 "again once fixed (it changes nothing then)", path,
                 cds_strerror(rc));
    if (rc == CDS_OK)
        rc = write_receipts(c, id, &acks, res, path, receipt_path, now_ms,
                            out, err, errlen);
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    acks_free(&acks, cap);
    cds_carry_destroy(&c);
    return rc;
}
