/*  audit: see audit.h. Batches are re-verified in C (signatures, chain);
 *  what they say goes into temp.exp, and the comparisons with update_log
 *  and datavalue are SQL joins (audit_sql.h). */
#include "audit.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "audit_sql.h"
#include "ingest.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 2200          /* one field as text (hex of 1 KiB + margin) */

typedef struct {
    store_t *store;            /* the core tables, read via store_read */
    cds_sql_t *db;             /* its connection: temp.exp, transaction */
    const uint8_t *agg_pk;
    FILE *out;
    audit_summary_t *sum;
    cds_sql_stmt_t *insert;    /* AUDIT_SQL_EXP_INSERT */
} audit_t;

static void
problem(audit_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(audit_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(a->out, fmt, ap);
    va_end(ap);
    fputc('\n', a->out);
    a->sum->problems++;
}

/* Column as text into buf (returned): NULL -> "", blob -> hex. NULL and
 * "" compare equal on purpose: optional text is stored either way. */
static const char *
col_str(cds_sql_stmt_t *st, int i, char *buf, size_t len)
{
    int t = cds_sql_col_type(st, i);
    buf[0] = '\0';
    if (t == CDS_SQL_NULL)
        return buf;
    if (t == CDS_SQL_BLOB) {
        size_t n = (size_t) cds_sql_col_bytes(st, i);
        if (2 * n + 1 > len)
            n = (len - 1) / 2;
        return cds_hex(buf, cds_sql_col_blob(st, i), n);
    }
    snprintf(buf, len, "%s", cds_sql_col_text(st, i));
    return buf;
}

/* Column i copied into out when it holds exactly CDS_HASH_BYTES bytes
 * (true), else false. A copy: on PostgreSQL reading another blob column
 * of the row frees the bytes of the previous one (cds_sql.h). */
static bool
col_hash(cds_sql_stmt_t *st, int i, uint8_t out[CDS_HASH_BYTES])
{
    const void *p = cds_sql_col_blob(st, i);
    if (!p || cds_sql_col_bytes(st, i) != CDS_HASH_BYTES)
        return false;
    memcpy(out, p, CDS_HASH_BYTES);
    return true;
}

/* ---- 1. kept batches --------------------------------------------------- */

/* What the stored batch row says beside its envelope. */
typedef struct {
    int64_t recv;              /* batch.received_at_ms */
    int64_t shift;             /* batch.clock_shift_ms */
} batch_meta_t;

static int
exp_insert(audit_t *a, int64_t agent_id, int64_t batch_id,
           const batch_meta_t *bm, const cds_update_t *u,
           const uint8_t *hash, const uint8_t *head)
{
    cds_sql_stmt_t *st = a->insert;
    /* As store_log_add keeps it: a field over its bound (too_big) or not
     * valid UTF-8 (bad_field) is not in the history row. Applied updates
     * have none. */
    cds_update_t kept = *u;
    cds_update_drop_unkept(&kept);
    u = &kept;
    cds_sql_bind_int64(st, ":shift", bm->shift);
    cds_sql_bind_int64(st, ":recv", bm->recv);
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) u->seq);
    cds_sql_bind_int64(st, ":batch_id", batch_id);
    cds_sql_bind_blob(st, ":hash", hash, CDS_HASH_BYTES);
    cds_sql_bind_blob(st, ":head", head, CDS_HASH_BYTES);
    cds_sql_bind_text(st, ":org_unit", u->org_unit);
    cds_sql_bind_text(st, ":indicator", u->indicator);
    cds_sql_bind_text(st, ":period", u->period);
    cds_sql_bind_text(st, ":disagg", u->disagg);
    /* As store.c binds it: a delete keeps "" as its value. */
    cds_sql_bind_text(st, ":value",
                      u->deleted ? "" : (u->value ? u->value : ""));
    cds_sql_bind_int64(st, ":deleted", u->deleted);
    cds_sql_bind_text(st, ":comment", u->comment);
    cds_sql_bind_text(st, ":stored_by", u->stored_by);
    cds_sql_bind_int64(st, ":followup", u->followup);
    cds_sql_bind_int64(st, ":hlc", (int64_t) u->hlc);
    int rc = cds_sql_run(st);
    cds_sql_reset(st);
    return rc;
}

/* Shape, range and internal chain of a verified batch body; then record
 * its updates. */
static int
batch_body(audit_t *a, int64_t id, int64_t agent_id, const char *fpr,
           int64_t first, int64_t last, const batch_meta_t *bm,
           const Cdsync__Batch *b, const uint8_t *signer)
{
    /* A shift is only ever the signed sent_at_ms minus the arrival time
     * (ingest.h "effective stamp"): anything else was edited. */
    int64_t d = (int64_t) (b->sent_at_ms & INT64_MAX) - bm->recv;
    if (bm->shift != 0 && (b->sent_at_ms == 0 || bm->shift != d))
        problem(a, "batch id=%" PRId64 " agent=%s field=clock_shift_ms "
                "stored=%" PRId64 " signed_offset=%" PRId64 " (a shift is "
                "sent_at_ms minus arrival)", id, fpr, bm->shift, d);
    if (b->agent.len != CDS_PK_BYTES
        || sodium_memcmp(b->agent.data, signer, CDS_PK_BYTES) != 0) {
        problem(a, "batch id=%" PRId64 " agent=%s problem=names_other_agent",
                id, fpr);
        return CDS_OK;
    }
    if ((int64_t) b->first_seq != first || (int64_t) b->last_seq != last
        || b->n_updates != (size_t) (last - first + 1)
        || b->prev_head.len != CDS_HASH_BYTES
        || b->head.len != CDS_HASH_BYTES) {
        problem(a, "batch id=%" PRId64 " agent=%s problem=range_differs "
                "stored=%" PRId64 "..%" PRId64 " signed=%" PRIu64 "..%" PRIu64
                " (batch swapped or edited)", id, fpr, first, last,
                b->first_seq, b->last_seq);
        return CDS_OK;
    }
    uint8_t prev[CDS_HASH_BYTES], hash[CDS_HASH_BYTES];
    memcpy(prev, b->prev_head.data, CDS_HASH_BYTES);
    int rc = CDS_OK;
    for (size_t i = 0; rc == CDS_OK && i < b->n_updates; i++) {
        cds_update_t u;
        cds_update_from_pb(b->updates[i], &u);
        if (u.seq != (uint64_t) first + i) {
            problem(a, "batch id=%" PRId64 " agent=%s problem=bad_seq "
                    "index=%zu seq=%" PRIu64, id, fpr, i, u.seq);
            return CDS_OK;
        }
        cds_update_hash(&u, hash);
        cds_chain_next(prev, hash, prev);
        rc = exp_insert(a, agent_id, id, bm, &u, hash, prev);
    }
    if (rc == CDS_OK && sodium_memcmp(prev, b->head.data, CDS_HASH_BYTES))
        problem(a, "batch id=%" PRId64 " agent=%s problem=chain_broken "
                "(updates do not end at the signed head)", id, fpr);
    return rc;
}

/* One kept batch row: envelope, signer, signature, body. */
static int
batch_one(audit_t *a, cds_sql_stmt_t *st)
{
    int64_t id = cds_sql_col_int64(st, 0);
    int64_t agent_id = cds_sql_col_int64(st, 1);
    int64_t first = cds_sql_col_int64(st, 2);
    int64_t last = cds_sql_col_int64(st, 3);
    uint8_t pk_buf[CDS_PK_BYTES];
    const uint8_t *pk = col_hash(st, 5, pk_buf) ? pk_buf : NULL;
    const uint8_t *raw = cds_sql_col_blob(st, 4);   /* after pk: above */
    size_t len = cds_sql_col_bytes(st, 4);
    const char *fpr = cds_sql_col_text(st, 6);
    batch_meta_t bm = { .recv = cds_sql_col_int64(st, 7),
                        .shift = cds_sql_col_int64(st, 8) };
    Cdsync__Envelope *env = NULL;
    Cdsync__Batch *b = NULL;
    int err = CDS_OK, rc = CDS_OK;
    a->sum->batches++;
    if (!raw || cds_envelope_decode(raw, len, &env) != CDS_OK
        || env->kind != CDSYNC__KIND__KIND_BATCH)
        problem(a, "batch id=%" PRId64 " agent=%s problem=envelope_malformed",
                id, fpr);
    else if (!pk || sodium_memcmp(env->signer.data, pk, CDS_PK_BYTES) != 0)
        problem(a, "batch id=%" PRId64 " agent=%s problem=signed_by_other_key"
                " (batch swapped between agents?)", id, fpr);
    else if (cds_envelope_verify(env, a->agg_pk) != CDS_OK)
        problem(a, "batch id=%" PRId64 " agent=%s problem=bad_signature "
                "(batch bytes altered)", id, fpr);
    else if (!(b = cds_msg_decode(&cdsync__batch__descriptor, env->body.data,
                                  env->body.len, &err)))
        problem(a, "batch id=%" PRId64 " agent=%s problem=body_malformed",
                id, fpr);
    else
        rc = batch_body(a, id, agent_id, fpr, first, last, &bm, b, pk);
    cds_msg_free(b);
    cds_msg_free(env);
    return rc;
}

static int
check_batches(audit_t *a)
{
    cds_sql_stmt_t *st = store_read(a->store, AUDIT_SQL_BATCHES, NULL);
    if (!st)
        return CDS_ERROR;
    int rc, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW)
        code = batch_one(a, st);
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}

/* ---- 2. history -------------------------------------------------------- */

static const char *const log_fields[] = {
    "org_unit", "indicator", "period", "disagg", "value", "deleted",
    "comment", "stored_by", "followup", "hlc",
};
#define N_LOG_FIELDS (sizeof log_fields / sizeof log_fields[0])

/* Compare one history row with the batch update it refers to. */
static void
history_fields(audit_t *a, cds_sql_stmt_t *st, const char *fpr, int64_t seq,
               int64_t batch)
{
    static char x[TEXT_MAX], y[TEXT_MAX];
    if (cds_sql_col_int(st, 14) == 0) {
        problem(a, "history agent=%s seq=%" PRId64 " batch=%" PRId64
                " problem=not_in_signed_batch (the batch it refers to does "
                "not hold a verified update with this seq)", fpr, seq, batch);
        return;
    }
    if (strcmp(col_str(st, 2, x, sizeof x), col_str(st, 15, y, sizeof y)))
        problem(a, "history agent=%s seq=%" PRId64 " batch=%" PRId64
                " field=content_hash stored=%s signed=%s", fpr, seq, batch,
                x, y);
    for (size_t f = 0; f < N_LOG_FIELDS; f++) {
        col_str(st, 4 + (int) f, x, sizeof x);
        col_str(st, 17 + (int) f, y, sizeof y);
        if (strcmp(x, y) != 0)
            problem(a, "history agent=%s seq=%" PRId64 " batch=%" PRId64
                    " field=%s stored=%s signed=%s", fpr, seq, batch,
                    log_fields[f], cds_logq(x), cds_logq(y));
    }
}

/* The head after this row, from the signed content when there is one. */
static void
history_chain(audit_t *a, cds_sql_stmt_t *st, const char *fpr, int64_t seq,
              uint8_t prev[CDS_HASH_BYTES], bool *known)
{
    int hcol = cds_sql_col_int(st, 14) ? 15 : 2;
    uint8_t h[CDS_HASH_BYTES], stored[CDS_HASH_BYTES];
    bool has_stored = col_hash(st, 3, stored);
    if (!col_hash(st, hcol, h)) {
        *known = false;
        return;
    }
    cds_chain_next(prev, h, prev);
    /* After a hole (a restore's lost range) the chain goes on from the
     * head stored with this row: the check resumes at the next one. */
    if (!*known && has_stored)
        memcpy(prev, stored, CDS_HASH_BYTES);
    if (*known && (!has_stored
                   || sodium_memcmp(stored, prev, CDS_HASH_BYTES) != 0)) {
        char s[2 * CDS_HASH_BYTES + 1] = "", e[2 * CDS_HASH_BYTES + 1];
        if (has_stored)
            cds_hex(s, stored, CDS_HASH_BYTES);
        problem(a, "history agent=%s seq=%" PRId64 " field=chain_head "
                "stored=%s expected=%s", fpr, seq, s,
                cds_hex(e, prev, CDS_HASH_BYTES));
    }
    *known = true;
}

/* The effective stamp of this row must be the one ingest derives from the
 * signed hlc, the batch's shift and arrival, and the agent's previous
 * effective stamp *prev (ingest.h); a clamp (stamp beyond arrival) is
 * only accepted on an applied row when flagged "clamped:". */
static void
history_eff(audit_t *a, cds_sql_stmt_t *st, const char *fpr, int64_t seq,
            uint64_t *prev)
{
    uint64_t hlc = (uint64_t) cds_sql_col_int64(st, 13);
    if (cds_sql_col_type(st, 27) == CDS_SQL_NULL) {
        /* before effective stamps: the signed one, applied rows only */
        if (cds_sql_col_int(st, 28) == 0 && hlc > *prev)
            *prev = hlc;
        return;
    }
    uint64_t eff = (uint64_t) cds_sql_col_int64(st, 27);
    if (cds_sql_col_int(st, 14) == 0) {
        *prev = eff;           /* not in a signed batch: reported already */
        return;
    }
    int64_t shift = cds_sql_col_int64(st, 30);
    uint64_t recv = (uint64_t) cds_sql_col_int64(st, 31);
    uint64_t signed_hlc = (uint64_t) cds_sql_col_int64(st, 26);
    /* The bound in force then is not recorded: derive the stamp without a
     * clamp, and the clamped one, allowed when the stamp was ahead of
     * arrival at all (bound 0) and the row says so. */
    ingest_eff_t how;
    uint64_t plain = ingest_effective_hlc(signed_hlc, shift, recv,
                                          UINT64_MAX - recv, *prev, &how);
    uint64_t clamp = ingest_effective_hlc(signed_hlc, shift, recv, 0, *prev,
                                          &how);
    bool ahead = how == INGEST_EFF_CLAMPED;
    const char *msg = cds_sql_col_text(st, 29);
    bool flagged = cds_sql_col_int(st, 28) != 0
                   || (msg && strncmp(msg, "clamped:", 8) == 0);
    if (eff != plain && !(ahead && flagged && eff == clamp))
        problem(a, "history agent=%s seq=%" PRId64 " field=eff_hlc stored=%"
                PRIu64 " expected=%" PRIu64 " (from the signed hlc, the "
                "batch's clock shift and arrival)", fpr, seq, eff,
                ahead && flagged ? clamp : plain);
    *prev = eff;
}

typedef struct {
    int64_t id;
    char fpr[CDS_FPR_LEN];
    int64_t applied;
    uint8_t head[CDS_HASH_BYTES];
} agent_row_t;

static int
history_agent(audit_t *a, cds_sql_stmt_t *st, const agent_row_t *ag)
{
    uint8_t prev[CDS_HASH_BYTES] = { 0 };
    uint64_t prev_eff = 0;
    bool known = true;
    int64_t expect = 1;
    int rc;
    cds_sql_bind_int64(st, ":agent_id", ag->id);
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        int64_t seq = cds_sql_col_int64(st, 0);
        int64_t batch = cds_sql_col_int64(st, 1);
        a->sum->history++;
        if (seq > expect) {
            problem(a, "history agent=%s seq=%" PRId64 "..%" PRId64
                    " problem=missing_rows", ag->fpr, expect, seq - 1);
            known = false;     /* cannot chain across the hole */
        }
        expect = seq + 1;
        if (seq > ag->applied)
            problem(a, "history agent=%s seq=%" PRId64 " problem=beyond_"
                    "applied_seq applied_seq=%" PRId64, ag->fpr, seq,
                    ag->applied);
        history_fields(a, st, ag->fpr, seq, batch);
        history_chain(a, st, ag->fpr, seq, prev, &known);
        history_eff(a, st, ag->fpr, seq, &prev_eff);
    }
    cds_sql_reset(st);
    if (rc != CDS_SQL_DONE)
        return rc;
    if (expect <= ag->applied)
        problem(a, "history agent=%s seq=%" PRId64 "..%" PRId64
                " problem=missing_rows", ag->fpr, expect, ag->applied);
    else if (known && ag->applied > 0
             && sodium_memcmp(prev, ag->head, CDS_HASH_BYTES) != 0)
        problem(a, "agent agent=%s field=applied_head problem=differs_from_"
                "history_chain", ag->fpr);
    return CDS_OK;
}

static int
check_history(audit_t *a)
{
    cds_sql_stmt_t *ags = store_read(a->store, AUDIT_SQL_AGENTS, NULL);
    cds_sql_stmt_t *st = store_read(a->store, AUDIT_SQL_LOG_VS_EXP, NULL);
    int rc = CDS_SQL_DONE, code = ags && st ? CDS_OK : CDS_ERROR;
    while (code == CDS_OK && (rc = cds_sql_step(ags)) == CDS_SQL_ROW) {
        agent_row_t ag = { .id = cds_sql_col_int64(ags, 0),
                           .applied = cds_sql_col_int64(ags, 2) };
        snprintf(ag.fpr, sizeof ag.fpr, "%s",
                 cds_sql_col_text(ags, 1));
        col_hash(ags, 3, ag.head);     /* zeros when not a hash */
        code = history_agent(a, st, &ag);
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&ags);
    cds_sql_finalize(&st);
    return code;
}

/* One update under several seqs (AUDIT_SQL_DUPLICATES). */
static int
check_duplicates(audit_t *a)
{
    cds_sql_stmt_t *st = store_read(a->store, AUDIT_SQL_DUPLICATES,
                                    AUDIT_SQL_DUPLICATES_PG);
    if (!st)
        return CDS_ERROR;
    int rc;
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW)
        problem(a, "history agent=%s seqs=%s problem=duplicate_update "
                "org_unit=%s indicator=%s period=%s disagg=%s hlc=%lld "
                "value=%s (the same update applied under %d seqs)",
                cds_sql_col_text(st, 0),
                cds_sql_col_text(st, 1),
                cds_logq(cds_sql_col_text(st, 3)),
                cds_logq(cds_sql_col_text(st, 4)),
                cds_logq(cds_sql_col_text(st, 5)),
                cds_logq(cds_sql_col_text(st, 6)),
                (long long) cds_sql_col_int64(st, 7),
                cds_logq(cds_sql_col_text(st, 8)),
                cds_sql_col_int(st, 2));
    int code = rc == CDS_SQL_DONE ? CDS_OK : rc;
    cds_sql_finalize(&st);
    return code;
}

/* ---- 3. current values --------------------------------------------------- */

static const char *const value_fields[] = {
    "value", "deleted", "comment", "stored_by", "followup", "hlc", "agent",
    "seq", "signed_hlc",
};
#define N_VALUE_FIELDS (sizeof value_fields / sizeof value_fields[0])

static void
value_row(audit_t *a, cds_sql_stmt_t *st)
{
    static char x[TEXT_MAX], y[TEXT_MAX];
    char key[4 * 80];
    snprintf(key, sizeof key, "org_unit=%s indicator=%s period=%s disagg=%s",
             cds_logq(cds_sql_col_text(st, 0)),
             cds_logq(cds_sql_col_text(st, 1)),
             cds_logq(cds_sql_col_text(st, 2)),
             cds_logq(cds_sql_col_text(st, 3)));
    a->sum->values++;
    if (!cds_sql_col_int(st, 14)) {
        problem(a, "value %s problem=missing (expected %s from agent=%s "
                "seq=%s)", key, cds_logq(col_str(st, 5, x, sizeof x)),
                col_str(st, 11, y, sizeof y),
                cds_sql_col_text(st, 12));
        return;
    }
    if (!cds_sql_col_int(st, 4)) {
        problem(a, "value %s problem=not_from_any_signed_update stored=%s",
                key, cds_logq(col_str(st, 15, x, sizeof x)));
        return;
    }
    for (size_t f = 0; f < N_VALUE_FIELDS; f++) {
        col_str(st, 15 + (int) f, x, sizeof x);
        col_str(st, 5 + (int) f, y, sizeof y);
        if (strcmp(x, y) != 0)
            problem(a, "value %s field=%s stored=%s expected=%s", key,
                    value_fields[f], cds_logq(x), cds_logq(y));
    }
}

static int
check_values(audit_t *a)
{
    cds_sql_stmt_t *st = store_read(a->store, AUDIT_SQL_VALUES, NULL);
    if (!st)
        return CDS_ERROR;
    int rc;
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW)
        value_row(a, st);
    int code = rc == CDS_SQL_DONE ? CDS_OK : rc;
    cds_sql_finalize(&st);
    return code;
}

/* One read transaction: a consistent snapshot while the daemon runs, and
 * temp.exp empty in it. PostgreSQL refuses CREATE in a read-only
 * transaction: there the temp table (this session's) comes first. */
static int
audit_begin(audit_t *a)
{
    int code;
    if (cds_sql_backend(a->db) == CDS_SQL_SQLITE) {
        code = store_read_begin(a->store);
        return code == CDS_OK ? cds_sql_exec(a->db, AUDIT_SQL_CREATE) : code;
    }
    code = cds_sql_exec(a->db, AUDIT_SQL_CREATE_PG);
    return code == CDS_OK ? store_read_begin(a->store) : code;
}

int
audit_run(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES], FILE *out,
          audit_summary_t *sum)
{
    audit_t a = { .store = store, .db = store_sql(store), .agg_pk = agg_pk,
                  .out = out, .sum = sum };
    memset(sum, 0, sizeof *sum);
    int code = audit_begin(&a);
    if (code == CDS_OK
        && !(a.insert = cds_sql_prepare(a.db, AUDIT_SQL_EXP_INSERT, 0)))
        code = CDS_ERROR;
    if (code == CDS_OK)
        code = check_batches(&a);
    if (code == CDS_OK)
        code = check_history(&a);
    if (code == CDS_OK)
        code = check_duplicates(&a);
    if (code == CDS_OK)
        code = check_values(&a);
    cds_sql_finalize(&a.insert);
    store_read_end(store);
    return code;
}
