/*  receipt_verify: see receipt_verify.h. */
#include "receipt_verify.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_util.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int
say(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
say(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static void
facts_fill(receipt_facts_t *f, const Cdsync__Ack *a)
{
    memset(f, 0, sizeof *f);
    memcpy(f->agent, a->agent.data, CDS_PK_BYTES);
    memcpy(f->aggregator, a->aggregator.data, CDS_PK_BYTES);
    f->first_seq = a->batch_first;
    f->last_seq = a->batch_last;
    f->acked_seq = a->acked_seq;
    if (a->acked_head.len == CDS_HASH_BYTES)
        memcpy(f->head, a->acked_head.data, CDS_HASH_BYTES);
    f->committed_at_ms = a->committed_at_ms;
    f->n_rejections = a->n_rejections;
}

/* The caller's claims against verified facts. */
static int
check_claims(const receipt_facts_t *f, const receipt_claims_t *c, char *err,
             size_t errlen)
{
    char want[2 * CDS_HASH_BYTES + 1], got[2 * CDS_HASH_BYTES + 1];
    if (!c)
        return CDS_OK;
    if (c->agent && sodium_memcmp(c->agent, f->agent, CDS_PK_BYTES) != 0) {
        char a[CDS_FPR_LEN], b[CDS_FPR_LEN];
        return say(err, errlen, CDS_EKEYMISMATCH, "receipt is for agent %s, "
                   "not %s", cds_fingerprint(f->agent, a),
                   cds_fingerprint(c->agent, b));
    }
    if (c->seq > f->acked_seq)
        return say(err, errlen, CDS_EBADFIELD, "receipt covers seqs up to "
                   "%" PRIu64 ", not %" PRIu64, f->acked_seq, c->seq);
    if (c->head && sodium_memcmp(c->head, f->head, CDS_HASH_BYTES) != 0)
        return say(err, errlen, CDS_EBADFIELD, "chain head at seq %" PRIu64
                   " is %s in the receipt, not %s: other data", f->acked_seq,
                   cds_hex(got, f->head, CDS_HASH_BYTES),
                   cds_hex(want, c->head, CDS_HASH_BYTES));
    return CDS_OK;
}

/* Shape of the decoded Ack; refusals prove no delivery. */
static int
check_ack(const Cdsync__Ack *a, const uint8_t server_pk[CDS_PK_BYTES],
          char *err, size_t errlen)
{
    if (a->agent.len != CDS_PK_BYTES || a->aggregator.len != CDS_PK_BYTES)
        return say(err, errlen, CDS_EMALFORMED,
                   "ack has no 32-byte agent or aggregator key");
    if (sodium_memcmp(a->aggregator.data, server_pk, CDS_PK_BYTES) != 0)
        return say(err, errlen, CDS_EKEYMISMATCH,
                   "ack names another aggregator than its signer");
    if (a->status != CDSYNC__ACK_STATUS__ACK_OK)
        return say(err, errlen, CDS_EBADFIELD, "ack status %d (%s): not a "
                   "delivery receipt", (int) a->status,
                   cds_strerror((int) a->error));
    if (a->acked_seq > 0 && a->acked_head.len != CDS_HASH_BYTES)
        return say(err, errlen, CDS_EMALFORMED, "ack has no chain head");
    return CDS_OK;
}

int
receipt_verify(const uint8_t *env_bytes, size_t len,
               const uint8_t server_pk[CDS_PK_BYTES],
               const receipt_claims_t *claims, receipt_facts_t *facts,
               char *err, size_t errlen)
{
    Cdsync__Envelope *env = NULL;
    Cdsync__Ack *a = NULL;
    int e = cds_envelope_decode(env_bytes, len, &env);
    if (e != CDS_OK)
        return say(err, errlen, CDS_EMALFORMED, "not a signed envelope (%s)",
                   cds_strerror(e));
    int rc = CDS_OK;
    if (env->kind != CDSYNC__KIND__KIND_ACK) {
        rc = say(err, errlen, CDS_EMALFORMED, "envelope kind %d is not an "
                 "ack", (int) env->kind);
        goto out;
    }
    if (sodium_memcmp(env->signer.data, server_pk, CDS_PK_BYTES) != 0) {
        rc = say(err, errlen, CDS_EBADSIG, "not signed by this aggregator");
        goto out;
    }
    /* The recipient is under the signature, so the agent the body names
     * can be taken from the (still unverified) body and then verified. */
    a = cds_msg_decode(&cdsync__ack__descriptor, env->body.data,
                       env->body.len, &e);
    if (!a) {
        rc = say(err, errlen, CDS_EMALFORMED, "ack body does not decode");
        goto out;
    }
    if (a->agent.len != CDS_PK_BYTES
        || cds_envelope_verify(env, a->agent.data) != CDS_OK) {
        rc = say(err, errlen, CDS_EBADSIG, "signature does not verify: the "
                 "receipt was forged or altered");
        goto out;
    }
    rc = check_ack(a, server_pk, err, errlen);
    if (rc == CDS_OK) {
        facts_fill(facts, a);
        rc = check_claims(facts, claims, err, errlen);
    }
out:
    cds_msg_free(a);
    cds_msg_free(env);
    return rc;
}

/* Base64 text (whitespace allowed around it) to bytes, if it is that. */
static int
from_base64(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *bin = malloc(len + 1);
    size_t n = 0;
    const char *end = NULL;
    if (!bin)
        return CDS_ENOMEM;
    if (sodium_base642bin(bin, len + 1, text, len, " \t\r\n\"", &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0
        || n == 0 || (end && strspn(end, " \t\r\n\"") != strlen(end))) {
        free(bin);
        return CDS_EMALFORMED;
    }
    *out = bin;
    *out_len = n;
    return CDS_OK;
}

int
receipt_read_file(const char *path, uint8_t **out, size_t *len, char *err,
                  size_t errlen)
{
    char *data = NULL;
    size_t n = 0;
    /* Base64 of a maximal envelope is 4/3 larger. */
    int rc = cds_read_file(path, CDS_MAX_MSG_BYTES / 3 * 4 + 16, &data, &n);
    if (rc != CDS_OK)
        return say(err, errlen, rc, "%s: %s", path,
                   rc == CDS_ETOOBIG ? "too big for a receipt"
                                     : strerror(errno));
    Cdsync__Envelope *env = NULL;
    if (cds_envelope_decode((uint8_t *) data, n, &env) == CDS_OK) {
        cds_msg_free(env);     /* raw bytes */
        *out = (uint8_t *) data;
        *len = n;
        return CDS_OK;
    }
    rc = from_base64(data, n, out, len);
    free(data);
    if (rc != CDS_OK)
        return say(err, errlen, CDS_EMALFORMED, "%s: neither a signed "
                   "envelope nor its base64", path);
    return CDS_OK;
}

typedef struct {
    int64_t id;
    uint8_t *out;
    size_t len;
    int rc;
} find_t;

static int
find_one(const outbox_receipt_t *r, void *arg)
{
    find_t *f = arg;
    if (r->id != f->id)
        return 0;
    f->out = malloc(r->envelope_len ? r->envelope_len : 1);
    f->rc = f->out ? CDS_OK : CDS_ENOMEM;
    if (f->out)
        memcpy(f->out, r->envelope, r->envelope_len);
    f->len = r->envelope_len;
    return 1;                          /* stop the walk */
}

int
receipt_load(outbox_t *outbox, int64_t id, uint8_t **out, size_t *len)
{
    find_t f = { .id = id, .rc = CDS_ENOTFOUND };
    int rc = outbox_receipts_list(outbox, find_one, &f);
    if (rc != CDS_OK && rc != 1)
        return rc;
    *out = f.out;
    *len = f.len;
    return f.rc;
}

void
receipt_print(const receipt_facts_t *f, FILE *out)
{
    char a[CDS_FPR_LEN], g[CDS_FPR_LEN], h[2 * CDS_HASH_BYTES + 1], t[64];
    fprintf(out, "receipt:    valid\n"
            "aggregator: %s\nagent:      %s\n"
            "batch:      %" PRIu64 "..%" PRIu64 "\n"
            "acked_seq:  %" PRIu64 "\nchain_head: %s\n"
            "committed:  %s\nrejections: %zu\n",
            cds_fingerprint(f->aggregator, g), cds_fingerprint(f->agent, a),
            f->first_seq, f->last_seq, f->acked_seq,
            cds_hex(h, f->head, CDS_HASH_BYTES),
            cds_format_time(t, sizeof t, f->committed_at_ms),
            f->n_rejections);
}
