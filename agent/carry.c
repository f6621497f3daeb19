/*  carry: see carry.h. */
#include "carry.h"
#include "receipt_verify.h"
#include "session.h"

#include "cds_carry.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_update.h"
#include "cds_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_LIST_MAX 24            /* codes named in a summary line */

/* Distinct strings (periods, indicators), in first-seen order. */
typedef struct {
    char **s;
    size_t n, cap;
} strset_t;

static void
strset_add(strset_t *set, const char *v)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->s[i], v) == 0)
            return;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        char **grown = realloc(set->s, cap * sizeof *grown);
        if (!grown)
            return;                    /* a shorter summary, no failure */
        set->s = grown;
        set->cap = cap;
    }
    if ((set->s[set->n] = strdup(v)) != NULL)
        set->n++;
}

static void
strset_free(strset_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->s[i]);
    free(set->s);
    memset(set, 0, sizeof *set);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, the first SUMMARY_LIST_MAX, then how many more. */
static void
strset_print(FILE *f, strset_t *set)
{
    if (set->n)
        qsort(set->s, set->n, sizeof *set->s, cmp_str);
    for (size_t i = 0; i < set->n && i < SUMMARY_LIST_MAX; i++)
        fprintf(f, "%s%s", i ? ", " : "", set->s[i]);
    if (set->n > SUMMARY_LIST_MAX)
        fprintf(f, " (+%zu nữa / more)", set->n - SUMMARY_LIST_MAX);
    fputc('\n', f);
}

/* The envelopes being built. */
typedef struct {
    uint8_t **env;
    size_t *len;
    size_t n, cap;
    strset_t periods, indicators;
} batches_t;

static void
batches_free(batches_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->env[i]);
    free(b->env);
    free(b->len);
    strset_free(&b->periods);
    strset_free(&b->indicators);
    memset(b, 0, sizeof *b);
}

static int
batches_push(batches_t *b, uint8_t *env, size_t len)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        uint8_t **e = realloc(b->env, cap * sizeof *e);
        if (e)
            b->env = e;
        size_t *l = realloc(b->len, cap * sizeof *l);
        if (l)
            b->len = l;
        if (!e || !l)
            return CDS_ENOMEM;
        b->cap = cap;
    }
    b->env[b->n] = env;
    b->len[b->n++] = len;
    return CDS_OK;
}

/* How many of rows[0..n) go in one batch: a contiguous run of seqs
 * stamped by one clock, as the sender cuts them. */
static size_t
batch_cut(const outbox_row_t *rows, size_t n)
{
    size_t k = 1;
    while (k < n && rows[k].u.seq == rows[0].u.seq + k)
        k++;
    return session_batch_cut(rows, k);
}

/* Seal rows[0..n) as one batch chained from prev. */
static int
seal_rows(const carry_opts_t *o, const outbox_row_t *rows, size_t n,
          const uint8_t prev[CDS_HASH_BYTES], batches_t *b)
{
    uint8_t *body = NULL, *env = NULL;
    size_t body_len = 0, env_len = 0;
    int rc = session_batch_encode(rows, n, cds_identity_sign_pk(o->id), prev,
                                  o->catalog_version, 0, 0, &body,
                                  &body_len);
    if (rc == CDS_OK)
        rc = cds_envelope_seal(o->id, CDSYNC__KIND__KIND_BATCH, o->server_pk,
                               body, body_len, &env, &env_len);
    free(body);
    if (rc == CDS_OK && (rc = batches_push(b, env, env_len)) != CDS_OK)
        free(env);
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        strset_add(&b->periods, rows[i].u.period);
        strset_add(&b->indicators, rows[i].u.indicator);
    }
    return rc;
}

/* Copy one kept batch that advances the chain into the file's list. */
typedef struct {
    batches_t *b;
    uint64_t next;                     /* first seq not yet covered */
    carry_result_t *res;
    int rc;
} kept_ctx_t;

static int
take_kept(const outbox_kept_t *k, void *arg)
{
    kept_ctx_t *x = arg;
    if (k->last_seq < x->next)
        return 0;                      /* covered by one taken before */
    uint8_t *env = malloc(k->envelope_len);
    if (!env || batches_push(x->b, env, k->envelope_len) != CDS_OK) {
        free(env);
        x->rc = CDS_ENOMEM;
        return 1;
    }
    memcpy(env, k->envelope, k->envelope_len);
    if (!x->res->first_seq)
        x->res->first_seq = k->first_seq;
    x->res->updates += k->last_seq - (k->first_seq > x->next ? k->first_seq
                                                             : x->next) + 1;
    x->res->last_seq = k->last_seq;
    x->res->kept++;
    x->next = k->last_seq + 1;
    return 0;
}

/* --kept: the kept batches from the lowest seq they cover without a hole
 * up to acked_seq, in order. */
static int
add_kept(outbox_t *ob, batches_t *b, carry_result_t *res)
{
    outbox_meta_t m;
    int rc = outbox_meta(ob, &m);
    uint64_t from = rc == CDS_OK ? outbox_kept_from(ob, m.acked_seq) : 0;
    if (rc != CDS_OK || from == 0)
        return rc;
    kept_ctx_t x = {b, from, res, CDS_OK};
    rc = outbox_kept_list(ob, from, m.acked_seq, take_kept, &x);
    return x.rc != CDS_OK ? x.rc : rc == 1 ? CDS_ENOMEM : rc;
}

/* Every pending row, from the first, into sealed batches. */
static int
build_batches(outbox_t *ob, const carry_opts_t *o, batches_t *b,
              carry_result_t *res, char *err, size_t errlen)
{
    int rc = o->kept ? add_kept(ob, b, res) : CDS_OK;
    uint64_t next = rc == CDS_OK ? outbox_first_pending(ob) : 0;
    uint8_t prev[CDS_HASH_BYTES];
    if (rc == CDS_OK)
        rc = next ? outbox_head_at(ob, next - 1, prev)
             : b->n ? CDS_OK : CDS_ENOTFOUND;
    if (!res->first_seq)
        res->first_seq = next;
    while (rc == CDS_OK && next) {
        outbox_row_t *rows = NULL;
        size_t got = 0;
        rc = outbox_read(ob, next, o->batch_max, o->batch_bytes, &rows,
                         &got);
        if (rc == CDS_OK && got == 0) {
            outbox_rows_free(&rows, got);
            break;
        }
        if (rc == CDS_OK && rows[0].u.seq != next)
            rc = CDS_EBADSEQ;          /* changed under us: never guess */
        size_t n = rc == CDS_OK ? batch_cut(rows, got) : 0;
        if (rc == CDS_OK)
            rc = seal_rows(o, rows, n, prev, b);
        if (rc == CDS_OK) {
            memcpy(prev, rows[n - 1].head, sizeof prev);
            next = rows[n - 1].u.seq + 1;
            res->updates += n;
            res->last_seq = rows[n - 1].u.seq;
        }
        outbox_rows_free(&rows, got);
    }
    res->batches = b->n;
    if (rc == CDS_ENOTFOUND)
        snprintf(err, errlen, "nothing pending: no file written");
    else if (rc == CDS_EBADSEQ)
        snprintf(err, errlen, "the outbox changed at seq %llu while "
                 "exporting (the link is delivering?): run again",
                 (unsigned long long)next);
    else if (rc != CDS_OK)
        snprintf(err, errlen, "reading the outbox at seq %llu: %s",
                 (unsigned long long)next, cds_strerror(rc));
    return rc;
}

/* The file's text part, in Vietnamese and English: what an officer reads
 * with `head FILE` or any text viewer. malloc'd, NULL on ENOMEM. */
static char *
summary_text(const carry_opts_t *o, batches_t *b,
             const carry_result_t *res, uint64_t now_ms)
{
    char *text = NULL, pub[CDS_PUBID_LEN], fpr[CDS_FPR_LEN], t[64];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    cds_identity_public(o->id, pub, sizeof pub);
    cds_fingerprint(cds_identity_sign_pk(o->id), fpr);
    fprintf(f, "Tệp dữ liệu cdsync mang tay (USB) / cdsync carry file\n");
    fprintf(f, "Nội dung / contents: lô dữ liệu đã ký / signed batches\n");
    fprintf(f, "Xã / commune: %s\n", cds_identity_label(o->id));
    fprintf(f, "Đơn vị / org units: %s\n", o->org_units);
    fprintf(f, "Khoá / key: %s (vân tay / fingerprint %s)\n", pub, fpr);
    fprintf(f, "Tạo lúc / created: %s\n",
            cds_carry_time_vn(t, sizeof t, now_ms));
    fprintf(f, "Số lô / batches: %zu; số giá trị / updates: %zu; "
            "seq %llu..%llu\n", res->batches, res->updates,
            (unsigned long long)res->first_seq,
            (unsigned long long)res->last_seq);
    if (res->kept)
        fprintf(f, "Trong đó đã xác nhận (giữ lại) / of which already "
                "acked (kept): %zu lô / batches\n", res->kept);
    fprintf(f, "Kỳ báo cáo / periods: ");
    strset_print(f, &b->periods);
    fprintf(f, "Chỉ tiêu / indicators: ");
    strset_print(f, &b->indicators);
    fprintf(f, "Nạp tại cấp trên / where the commune reports: "
            "cdsync-aggregator import-batches FILE --receipt RECEIPT\n");
    fprintf(f, "Rồi tại xã / then at the commune: cdsync-agent "
            "import-receipt RECEIPT\n");
    fprintf(f, "(Tệp có chữ ký, không chứa bí mật / signed, holds no "
            "secret)\n\n");
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static Cdsync__CarryHeader
export_header(const carry_opts_t *o, const carry_result_t *res,
              uint64_t now_ms, char *pub, char **units, size_t n_units)
{
    Cdsync__CarryHeader h = CDSYNC__CARRY_HEADER__INIT;
    cds_identity_public(o->id, pub, CDS_PUBID_LEN);
    h.version = CDS_CARRY_VERSION;
    h.kind = CDSYNC__CARRY_KIND__CARRY_BATCHES;
    h.agent.data = (uint8_t *)cds_identity_sign_pk(o->id);
    h.agent.len = CDS_PK_BYTES;
    h.aggregator.data = (uint8_t *)o->server_pk;
    h.aggregator.len = CDS_PK_BYTES;
    h.agent_pubid = pub;
    h.label = (char *)cds_identity_label(o->id);
    h.org_units = units;
    h.n_org_units = n_units;
    h.created_at_ms = now_ms;
    h.first_seq = res->first_seq;
    h.last_seq = res->last_seq;
    h.updates = (uint32_t)res->updates;
    h.kept = (uint32_t)res->kept;
    return h;
}

/* Split "a,b,c" into units (pointers into copy). */
static size_t
split_units(char *copy, char **units, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t && n < max;
         t = strtok_r(NULL, ", ", &save))
        units[n++] = t;
    return n;
}

int
carry_export(outbox_t *ob, const carry_opts_t *o, const char *path,
             uint64_t now_ms, carry_result_t *res, FILE *out, char *err,
             size_t errlen)
{
    batches_t b = {0};
    char pub[CDS_PUBID_LEN], *units[256];
    char *copy = strdup(o->org_units ? o->org_units : "");
    char *text = NULL;
    memset(res, 0, sizeof *res);
    int rc = copy ? cds_carry_check_target(path, err, errlen) : CDS_ENOMEM;
    if (rc == CDS_OK)
        rc = build_batches(ob, o, &b, res, err, errlen);
    if (rc == CDS_OK && !(text = summary_text(o, &b, res, now_ms)))
        rc = CDS_ENOMEM;
    if (rc == CDS_OK) {
        size_t nu = split_units(copy, units, sizeof units / sizeof *units);
        Cdsync__CarryHeader h = export_header(o, res, now_ms, pub, units,
                                              nu);
        rc = cds_carry_write(path, &h, text, b.env, b.len, b.n, err,
                             errlen);
    }
    if (rc == CDS_OK) {
        rc = outbox_carried_add(ob, res->first_seq, res->last_seq, b.n,
                                res->kept, path, now_ms);
        if (rc != CDS_OK)
            snprintf(err, errlen, "%s written, but the export could not be "
                     "recorded (%s): the file is good; status will not "
                     "show it as carried", path, cds_strerror(rc));
    }
    if (rc == CDS_OK && out)
        fputs(text, out);
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "out of memory");
    free(text);
    free(copy);
    batches_free(&b);
    return rc;
}

/* ---- import-receipt ----------------------------------------------------- */

/* Envelope i verified as a receipt for us from server_pk, decoded. */
static int
open_receipt(const cds_carry_t *c, size_t i, const uint8_t *our_pk,
             const uint8_t *server_pk, const char *path, Cdsync__Ack **ack,
             char *err, size_t errlen)
{
    receipt_claims_t claims = {.agent = our_pk};
    receipt_facts_t facts;
    char why[400];
    int rc = receipt_verify(c->env[i], c->env_len[i], server_pk, &claims,
                            &facts, why, sizeof why);
    if (rc != CDS_OK) {
        snprintf(err, errlen, "%s: offset %llu: receipt %zu of %zu: %s; "
                 "nothing recorded", path,
                 (unsigned long long)c->env_off[i], i + 1, c->n, why);
        return rc;
    }
    Cdsync__Envelope *env = NULL;
    rc = cds_envelope_decode(c->env[i], c->env_len[i], &env);
    if (rc == CDS_OK)
        *ack = cds_msg_decode(&cdsync__ack__descriptor, env->body.data,
                              env->body.len, &rc);
    cds_msg_free(env);
    return *ack ? CDS_OK : rc;
}

/* The aggregator's head at acked_seq must be ours where we hold it (as
 * for an ack over the link: session.c check_acked_head). */
static int
check_head(outbox_t *ob, const Cdsync__Ack *a, const char *path, size_t i,
           char *err, size_t errlen)
{
    uint8_t ours[CDS_HASH_BYTES];
    if (a->acked_seq == 0 || a->acked_head.len != CDS_HASH_BYTES)
        return CDS_OK;
    int rc = outbox_head_at(ob, a->acked_seq, ours);
    if (rc == CDS_ENOTFOUND)
        return CDS_OK;
    if (rc == CDS_OK
        && sodium_memcmp(ours, a->acked_head.data, CDS_HASH_BYTES) != 0) {
        snprintf(err, errlen, "%s: receipt %zu: the aggregator's chain head "
                 "at seq %llu differs from ours: nothing recorded", path,
                 i + 1, (unsigned long long)a->acked_seq);
        return CDS_ECHAIN;
    }
    return rc;
}

/* The file's header names us and our aggregator. */
static int
check_receipt_header(const cds_carry_t *c, const uint8_t *our_pk,
                     const uint8_t *server_pk, const char *path, char *err,
                     size_t errlen)
{
    char want[CDS_FPR_LEN], got[CDS_FPR_LEN];
    const Cdsync__CarryHeader *h = c->header;
    if (sodium_memcmp(h->agent.data, our_pk, CDS_PK_BYTES) != 0) {
        snprintf(err, errlen, "%s: header: agent: receipt for the agent "
                 "with fingerprint %s (\"%s\"), this agent is %s: nothing "
                 "recorded", path, cds_fingerprint(h->agent.data, got),
                 h->label ? h->label : "", cds_fingerprint(our_pk, want));
        return CDS_EKEYMISMATCH;
    }
    if (sodium_memcmp(h->aggregator.data, server_pk, CDS_PK_BYTES) != 0) {
        snprintf(err, errlen, "%s: header: aggregator: signed by %s, our "
                 "server_key is %s: nothing recorded", path,
                 cds_fingerprint(h->aggregator.data, got),
                 cds_fingerprint(server_pk, want));
        return CDS_EKEYMISMATCH;
    }
    return CDS_OK;
}

/* The acked batch re-signed from the pending rows it covers (the link
 * keeps what it sent; a file's batches left with the officer), for
 * outbox_apply_ack_keeping. CDS_ENOTFOUND when the rows are gone (acked
 * before): nothing to keep. *env is the caller's. */
static int
rebuild_batch(outbox_t *ob, const cds_identity_t *id,
              const uint8_t *server_pk, const Cdsync__Ack *a,
              outbox_kept_t *k, uint8_t **env)
{
    outbox_row_t *rows = NULL;
    size_t got = 0, len = 0, body_len = 0;
    uint8_t prev[CDS_HASH_BYTES], *body = NULL;
    uint64_t n = a->batch_last - a->batch_first + 1;
    if (a->batch_first == 0 || a->batch_last < a->batch_first
        || n > CDS_MAX_BATCH_UPDATES)
        return CDS_ENOTFOUND;
    int rc = outbox_read(ob, a->batch_first, (size_t)n, SIZE_MAX, &rows,
                         &got);
    if (rc == CDS_OK && (got != n || rows[0].u.seq != a->batch_first
                         || rows[got - 1].u.seq != a->batch_last))
        rc = CDS_ENOTFOUND;
    if (rc == CDS_OK)
        rc = outbox_head_at(ob, a->batch_first - 1, prev);
    if (rc == CDS_OK)
        rc = session_batch_encode(rows, got, cds_identity_sign_pk(id), prev,
                                  "", 0, 0, &body, &body_len);
    if (rc == CDS_OK)
        rc = cds_envelope_seal(id, CDSYNC__KIND__KIND_BATCH, server_pk, body,
                               body_len, env, &len);
    if (rc == CDS_OK)
        *k = (outbox_kept_t){a->batch_first, a->batch_last, *env, len, 0, 0};
    free(body);
    outbox_rows_free(&rows, got);
    return rc;
}

/* One verified ack recorded as from the link, keeping its batch. */
static int
record_ack(outbox_t *ob, const cds_identity_t *id, const uint8_t *server_pk,
           const Cdsync__Ack *a, const uint8_t *raw, size_t raw_len,
           uint64_t now_ms)
{
    outbox_kept_t k;
    uint8_t *env = NULL;
    int rc = a->status == CDSYNC__ACK_STATUS__ACK_OK
                 ? rebuild_batch(ob, id, server_pk, a, &k, &env)
                 : CDS_ENOTFOUND;
    if (rc == CDS_OK)
        rc = outbox_apply_ack_keeping(ob, a, raw, raw_len, now_ms, &k, 1);
    else if (rc == CDS_ENOTFOUND)
        rc = outbox_apply_ack(ob, a, raw, raw_len, now_ms);
    free(env);
    return rc;
}

int
carry_import_receipt(outbox_t *ob, const cds_identity_t *id,
                     const uint8_t *server_pk, const char *path,
                     uint64_t now_ms, carry_result_t *res, char *err,
                     size_t errlen)
{
    const uint8_t *pk = cds_identity_sign_pk(id);
    cds_carry_t *c = NULL;
    Cdsync__Ack **acks = NULL;
    outbox_meta_t m;
    memset(res, 0, sizeof *res);
    int rc = cds_carry_read(path, CDSYNC__CARRY_KIND__CARRY_RECEIPTS, &c, err,
                            errlen);
    if (rc == CDS_OK)
        rc = check_receipt_header(c, pk, server_pk, path, err, errlen);
    if (rc == CDS_OK && !(acks = calloc(c->n ? c->n : 1, sizeof *acks)))
        rc = CDS_ENOMEM;
    /* Every receipt verified before any is recorded. */
    for (size_t i = 0; rc == CDS_OK && i < c->n; i++) {
        rc = open_receipt(c, i, pk, server_pk, path, &acks[i], err, errlen);
        if (rc == CDS_OK)
            rc = check_head(ob, acks[i], path, i, err, errlen);
    }
    if (rc == CDS_OK)
        rc = outbox_meta(ob, &m);
    for (size_t i = 0; rc == CDS_OK && i < c->n; i++) {
        const Cdsync__Ack *a = acks[i];
        res->already += a->acked_seq <= m.acked_seq;
        rc = record_ack(ob, id, server_pk, a, c->env[i], c->env_len[i],
                        now_ms);
        if (rc != CDS_OK)
            snprintf(err, errlen, "%s: receipt %zu: cannot record: %s "
                     "(the ones before it are recorded; import the file "
                     "again)", path, i + 1, cds_strerror(rc));
        res->batches++;
        res->rejected += a->n_rejections;
        if (!res->first_seq || a->batch_first < res->first_seq)
            res->first_seq = a->batch_first;
        if (a->acked_seq > res->last_seq)
            res->last_seq = a->acked_seq;
    }
    for (size_t i = 0; acks && c && i < c->n; i++)
        cds_msg_free(acks[i]);
    free(acks);
    cds_carry_destroy(&c);
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    return rc;
}
