/*  history: every change of one key, re-verified. See history.h; SQL in
 *  history_sql.h (HISTORY_SQL_HISTORY). Cost: one envelope decode and
 *  signature check per entry; a key has a handful of entries. */
#include "history.h"

#include "history_sql.h"
#include "orgmap.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_period.h"
#include "cds_util.h"

#include <stdlib.h>
#include <string.h>

/* Column order of HISTORY_SQL_HISTORY. */
enum { H_SEQ, H_STATUS, H_FIELD, H_MESSAGE, H_VALUE, H_DELETED, H_COMMENT,
       H_BY, H_FOLLOWUP, H_HLC, H_RECEIVED, H_BATCH, H_HASH, H_FPR, H_LABEL,
       H_PK, H_ENVELOPE, H_DISAGG, H_META };

static const char *
text(cds_sql_stmt_t *st, int i)
{
    const char *s = cds_sql_col_text(st, i);
    return s ? s : "";
}

/* The stored row as the update the agent would have hashed. */
static void
stored_update(cds_sql_stmt_t *st, const char *ou, const char *de,
              const char *pe, cds_update_t *u)
{
    *u = (cds_update_t) {
        .seq = (uint64_t) cds_sql_col_int64(st, H_SEQ), .org_unit = ou,
        .indicator = de, .period = pe, .disagg = text(st, H_DISAGG),
        .value = text(st, H_VALUE), .comment = text(st, H_COMMENT),
        .stored_by = text(st, H_BY),
        .deleted = cds_sql_col_int(st, H_DELETED) != 0,
        .followup = cds_sql_col_int(st, H_FOLLOWUP) != 0,
        .hlc = (uint64_t) cds_sql_col_int64(st, H_HLC) };
}

/* Re-verify the kept envelope for the stored row. Returns "ok" or why. */
static const char *
verify(cds_sql_stmt_t *st, const uint8_t *agg_pk, const cds_update_t *row)
{
    Cdsync__Envelope *env = NULL;
    Cdsync__Batch *b = NULL;
    const char *note = "ok";
    int err = 0;
    /* The key copied first: a column read may replace the last blob read
     * (cds_sql on PostgreSQL decodes one bytea at a time). */
    uint8_t key[CDS_PK_BYTES];
    const uint8_t *pk = cds_sql_col_blob(st, H_PK);
    if (pk && cds_sql_col_bytes(st, H_PK) == CDS_PK_BYTES)
        pk = memcpy(key, pk, sizeof key);
    else
        pk = NULL;
    const uint8_t *raw = cds_sql_col_blob(st, H_ENVELOPE);
    size_t len = cds_sql_col_bytes(st, H_ENVELOPE);
    uint8_t want[CDS_HASH_BYTES], got[CDS_HASH_BYTES];
    if (cds_envelope_decode(raw, len, &env) != CDS_OK)
        note = "envelope does not decode";
    else if (!pk || env->signer.len != CDS_PK_BYTES
             || memcmp(env->signer.data, pk, CDS_PK_BYTES) != 0)
        note = "signed by another key";
    else if (cds_envelope_verify(env, agg_pk) != CDS_OK)
        note = "bad signature";
    else if (!(b = cds_msg_decode(&cdsync__batch__descriptor, env->body.data,
                                  env->body.len, &err)))
        note = "batch does not decode";
    else {
        note = "update not in its batch";
        for (size_t i = 0; i < b->n_updates; i++) {
            if (b->updates[i]->seq != row->seq)
                continue;
            cds_update_t u;
            cds_update_from_pb(b->updates[i], &u);
            cds_update_hash(&u, got);
            cds_update_hash(row, want);
            note = memcmp(got, want, sizeof got) == 0 ? "ok"
                                               : "stored row differs from "
                                                 "the signed update";
        }
    }
    cds_msg_free(b);
    cds_msg_free(env);
    return note;
}

void
history_free(history_entry_t *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].old_value);
        free(e[i].value);
        free(e[i].stored_by);
        free(e[i].comment);
        free(e[i].label);
    }
    free(e);
}

/* Fill entry e from the current row; *cur is the value so far (borrowed
 * from an earlier entry, "" at first). */
static int
entry_fill(cds_sql_stmt_t *st, const uint8_t *agg_pk, const char *ou,
           const char *de, const char *pe, const char *cur,
           history_entry_t *e)
{
    cds_update_t row;
    stored_update(st, ou, de, pe, &row);
    memset(e, 0, sizeof *e);
    e->status = cds_sql_col_int(st, H_STATUS);
    e->deleted = row.deleted;
    e->seq = row.seq;
    e->hlc = row.hlc;
    e->received_ms = cds_sql_col_int64(st, H_RECEIVED);
    e->batch_id = cds_sql_col_int64(st, H_BATCH);
    e->meta_version = cds_sql_col_int64(st, H_META);
    snprintf(e->fpr, sizeof e->fpr, "%s", text(st, H_FPR));
    e->verify_note = verify(st, agg_pk, &row);
    e->verified = strcmp(e->verify_note, "ok") == 0;
    e->old_value = strdup(cur);
    e->value = strdup(row.deleted ? "" : row.value);
    e->stored_by = strdup(row.stored_by);
    e->comment = strdup(e->status ? text(st, H_MESSAGE) : row.comment);
    e->label = strdup(text(st, H_LABEL));
    return e->old_value && e->value && e->stored_by && e->comment && e->label
               ? CDS_OK : CDS_ENOMEM;
}

int
history_compute(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES],
                const char *ou, const char *de, const char *pe,
                const char *disagg, history_entry_t **out, size_t *n)
{
    cds_sql_stmt_t *st = store_read(store, HISTORY_SQL_HISTORY, NULL);
    size_t cap = 0;
    ssize_t last_applied = -1;
    *out = NULL;
    *n = 0;
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_text(st, ":de", de);
    cds_sql_bind_text(st, ":pe", pe);
    cds_sql_bind_text(st, ":disagg", disagg ? disagg : "default");
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            history_entry_t *a = realloc(*out, cap * sizeof *a);
            if (!a) {
                rc = CDS_ENOMEM;
                break;
            }
            *out = a;
        }
        const char *cur = last_applied < 0 ? ""
                          : (*out)[last_applied].deleted
                              ? "(deleted)" : (*out)[last_applied].value;
        rc = entry_fill(st, agg_pk, ou, de, pe, cur, &(*out)[*n]);
        if ((*out)[(*n)++].status == 0)
            last_applied = (ssize_t) *n - 1;
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    if (rc == CDS_OK && last_applied >= 0)
        (*out)[last_applied].current = true;
    if (rc != CDS_OK) {
        history_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static const char *const history_header[] = {
    "hlc_time", "received", "old", "new", "status", "stored_by", "agent",
    "agent_label", "seq", "batch", "signature", "current", "comment",
    "org_unit", "metadata_version",
};
#define HISTORY_COLS (sizeof history_header / sizeof history_header[0])

static int
add_entry(report_t *r, const history_entry_t *e, const char *ou)
{
    char hlc[48], recv[40], seq[24], batch[24], meta[24] = "";
    cds_hlc_format(e->hlc, hlc, sizeof hlc);
    cds_format_time(recv, sizeof recv, (uint64_t) e->received_ms);
    snprintf(seq, sizeof seq, "%llu", (unsigned long long) e->seq);
    snprintf(batch, sizeof batch, "%lld", (long long) e->batch_id);
    if (e->meta_version > 0)
        snprintf(meta, sizeof meta, "%lld", (long long) e->meta_version);
    const char *cells[HISTORY_COLS] = {
        hlc, recv, e->old_value, e->deleted ? "(deleted)" : e->value,
        e->status ? cds_strerror(e->status) : "applied", e->stored_by,
        e->fpr, e->label, seq, batch,
        e->verified ? "verified" : e->verify_note,
        e->current ? "true" : "false", e->comment, ou, meta,
    };
    return report_add(r, cells) == 0 ? CDS_OK : CDS_ENOMEM;
}

/* The rows of one key into r; *total += their number. */
static int
key_rows(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES], const char *ou,
         const char *de, const char *pe, report_t *r, size_t *total)
{
    history_entry_t *e = NULL;
    size_t n = 0;
    int rc = history_compute(store, agg_pk, ou, de, pe, NULL, &e, &n);
    for (size_t i = 0; rc == CDS_OK && i < n; i++)
        rc = add_entry(r, &e[i], ou);
    history_free(e, n);
    *total += n;
    return rc;
}

/* ou never received an update for pe: the rows of the units that owe pe
 * in its place by the merge rule (orgmap_owing): for a unit made by a
 * merge and a period before it, its predecessors' rows; their codes,
 * comma-separated, into from. */
static int
merged_rows(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES],
            const char *ou, const char *de, const char *pe, report_t *r,
            size_t *total, char *from, size_t fromlen)
{
    cds_period_t p;
    orgmap_unit_t *u = NULL;
    size_t n = 0, used = 0;
    if (cds_period_parse(pe, &p) != CDS_OK)
        return CDS_OK;                 /* no such period: nothing owed */
    int rc = orgmap_owing(store, ou, p.start, p.end, &u, &n);
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        if (strcmp(u[i].code, ou) == 0)
            continue;
        rc = key_rows(store, agg_pk, u[i].code, de, pe, r, total);
        int k = snprintf(from + used, fromlen - used, "%s%s",
                         used ? "," : "", u[i].code);
        if (k > 0 && (size_t) k < fromlen - used)
            used += (size_t) k;
    }
    orgmap_units_free(u, n);
    return rc;
}

int
history_run(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES],
            const char *ou, const char *de, const char *pe,
            report_format_t format, FILE *out, char *err, size_t errlen)
{
    if (!ou || !de || !pe) {
        snprintf(err, errlen, "history needs --org-unit, --indicator and "
                 "--period");
        return CDS_EUSAGE;
    }
    size_t n = 0;
    char from[200] = "";
    report_t *r = report_new(format, history_header, "ssssssssnnsbss",
                             HISTORY_COLS);
    int rc = r ? key_rows(store, agg_pk, ou, de, pe, r, &n) : CDS_ENOMEM;
    if (rc == CDS_OK && n == 0)
        rc = merged_rows(store, agg_pk, ou, de, pe, r, &n, from,
                         sizeof from);
    if (rc == CDS_OK && n == 0) {
        snprintf(err, errlen, "no update was ever received for %s/%s/%s",
                 ou, de, pe);
        rc = CDS_ENOTFOUND;
    }
    if (rc == CDS_OK) {
        char footer[512];
        snprintf(footer, sizeof footer, "%zu update(s) for %s/%s/%s%s%s",
                 n, ou, de, pe, from[0] ? ", from its predecessors " : "",
                 from);
        report_print(r, out, json_pack("{ssssss}", "orgUnit", ou,
                                       "dataElement", de, "period", pe),
                     footer);
    }
    report_destroy(&r);
    return rc;
}
