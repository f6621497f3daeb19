/*  rejects: see rejects.h. Statements in rejects_sql.h, prepared once per
 *  call (each entry point is one command) and finalized before return. */
#include "rejects.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_log.h"
#include "cds_util.h"
#include "rejects_sql.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_UPDATES_MAX 20            /* updates printed by `show` */

/* Parsed identifier: a reject row, or (agent, seq) in update_log. */
typedef struct {
    bool update;
    int64_t row;                       /* reject.id */
    store_agent_t agent;               /* update: the agent */
    uint64_t seq;
} rid_t;

static int
parse_id(store_t *store, const char *id, rid_t *out)
{
    char *end = NULL;
    memset(out, 0, sizeof *out);
    const char *colon = strchr(id, ':');
    if (!colon) {
        long long v = strtoll(id, &end, 10);
        if (!id[0] || *end || v <= 0)
            return CDS_EUSAGE;
        out->row = v;
        return CDS_OK;
    }
    char fpr[CDS_FPR_LEN];
    size_t n = (size_t) (colon - id);
    unsigned long long seq = strtoull(colon + 1, &end, 10);
    if (n == 0 || n >= sizeof fpr || *end || colon[1] == '\0' || seq == 0)
        return CDS_EUSAGE;
    memcpy(fpr, id, n);
    fpr[n] = '\0';
    out->update = true;
    out->seq = seq;
    return store_agent_find_fpr(store, fpr, &out->agent);
}

static const char *
col(cds_sql_stmt_t *st, int i)
{
    const char *t = cds_sql_col_text(st, i);
    return t ? t : "";
}

/* Refused at the connection (auth.c: CURVE handshake) rather than as a
 * message: the kept bytes are the client's CURVE key, or nothing. */
static bool
connection_level(const char *field)
{
    return strcmp(field, "curve_key") == 0 || strcmp(field, "handshake") == 0;
}

/* ---- list ------------------------------------------------------------- */

static json_t *
row_json(cds_sql_stmt_t *st)
{
    bool upd = col(st, 0)[0] == 'u';
    char id[64];
    if (upd)
        snprintf(id, sizeof id, "%s:%lld", col(st, 3),
                 (long long) cds_sql_col_int64(st, 1));
    else
        snprintf(id, sizeof id, "%lld",
                 (long long) cds_sql_col_int64(st, 1));
    int code = cds_sql_col_int(st, 5), rr = cds_sql_col_int(st, 11);
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:I,"
                     " s:I, s:I, s:s}",
                     "id", id, "kind", upd ? "update" : "message",
                     "at_ms", (json_int_t) cds_sql_col_int64(st, 2),
                     "agent", col(st, 3), "label", col(st, 4),
                     "reason", cds_strerror(code), "code", code,
                     "field", col(st, 6), "message", col(st, 7),
                     "first_seq", (json_int_t) cds_sql_col_int64(st, 8),
                     "last_seq", (json_int_t) cds_sql_col_int64(st, 9),
                     "retried_at_ms",
                     (json_int_t) cds_sql_col_int64(st, 10),
                     "retry_result", rr < 0 ? "" : rr == 0 ? "ok"
                                                   : cds_strerror(rr));
}

#define ESC_LEN 1100                   /* an escaped MSG_LEN message */

/* s with control bytes escaped (cds_ctl_escape), cut to len: stored text
 * (labels, reasons quoting what was sent, fields of old updates) must not
 * drive the operator's terminal. Returns buf. */
static const char *
esc(char *buf, size_t len, const char *s)
{
    char *e = cds_ctl_escape(s, false);
    snprintf(buf, len, "%s", e ? e : "");
    free(e);
    return buf;
}

static void
print_row(FILE *out, json_t *o)
{
    char t[40], lb[ESC_LEN], fd[ESC_LEN], ms[ESC_LEN];
    const char *rr = json_string_value(json_object_get(o, "retry_result"));
    fprintf(out, "%-22s %-7s %s  %-16s %-10s %-22s seq %" JSON_INTEGER_FORMAT
            "..%" JSON_INTEGER_FORMAT "  %s: %s%s%s\n",
            json_string_value(json_object_get(o, "id")),
            json_string_value(json_object_get(o, "kind")),
            cds_format_time(t, sizeof t, (uint64_t) json_integer_value(
                                             json_object_get(o, "at_ms"))),
            json_string_value(json_object_get(o, "agent"))[0]
                ? json_string_value(json_object_get(o, "agent")) : "-",
            esc(lb, sizeof lb,
                json_string_value(json_object_get(o, "label"))),
            json_string_value(json_object_get(o, "reason")),
            json_integer_value(json_object_get(o, "first_seq")),
            json_integer_value(json_object_get(o, "last_seq")),
            esc(fd, sizeof fd,
                json_string_value(json_object_get(o, "field"))),
            esc(ms, sizeof ms,
                json_string_value(json_object_get(o, "message"))),
            rr[0] ? "  [retried: " : "", rr[0] ? rr : "");
    if (rr[0])
        fputs("]\n", out);
}

int
rejects_list(store_t *store, const rejects_filter_t *f, FILE *out)
{
    cds_sql_stmt_t *st = store_read(store, REJECTS_SQL_LIST, NULL);
    json_t *arr = json_array();
    int rc, code = st && arr ? CDS_OK : CDS_ERROR;
    if (code != CDS_OK)
        goto out;
    cds_sql_bind_int64(st, ":since", f->since_ms);
    cds_sql_bind_text(st, ":agent", f->agent);
    if (f->code >= 0)
        cds_sql_bind_int64(st, ":code", f->code);
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        json_t *o = row_json(st);
        if (!o || json_array_append_new(arr, o) != 0) {
            code = CDS_ENOMEM;
            goto out;
        }
    }
    if (rc != CDS_SQL_DONE) {
        code = rc;
        goto out;
    }
    if (f->json) {
        json_dumpf(arr, out, JSON_INDENT(2));
        fputc('\n', out);
    } else {
        size_t i;
        json_t *o;
        fprintf(out, "%-22s %-7s %-24s  %-16s %-10s %-22s %s\n", "ID", "KIND",
                "AT", "AGENT", "LABEL", "REASON", "SEQS / WHAT WAS WRONG");
        json_array_foreach(arr, i, o)
            print_row(out, o);
    }
out:
    json_decref(arr);
    cds_sql_finalize(&st);
    return code;
}

/* ---- show ------------------------------------------------------------- */

/* One update, every text escaped (old kept batches may hold anything). */
static void
show_update_fields(FILE *out, const char *ou, const char *de,
                   const char *pe, const char *co, const char *value,
                   bool deleted)
{
    char b[5][ESC_LEN / 4], v[ESC_LEN];
    fprintf(out, "%s %s %s %s = %s", esc(b[0], sizeof b[0], ou),
            esc(b[1], sizeof b[1], de), esc(b[2], sizeof b[2], pe),
            esc(b[3], sizeof b[3], co),
            deleted ? "(delete)" : esc(v, sizeof v, value));
}

static void
show_update_pb(FILE *out, const Cdsync__Update *u)
{
    char by[ESC_LEN / 4];
    fprintf(out, "    seq %" PRIu64 ": ", u->seq);
    show_update_fields(out, u->org_unit, u->indicator, u->period, u->disagg,
                       u->value, u->deleted);
    fprintf(out, "%s (hlc %" PRIu64 ", by %s)\n",
            u->followup ? " followup" : "", u->hlc,
            esc(by, sizeof by, u->stored_by));
}

static void
show_body(FILE *out, const Cdsync__Envelope *env)
{
    int err = CDS_OK;
    if (env->kind == CDSYNC__KIND__KIND_BATCH) {
        Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor,
                                          env->body.data, env->body.len,
                                          &err);
        if (!b) {
            fprintf(out, "body:        does not decode (%s)\n",
                    cds_strerror(err));
            return;
        }
        char cv[ESC_LEN];
        fprintf(out, "batch:       seq %" PRIu64 "..%" PRIu64 ", %zu "
                "updates, catalog %s\n", b->first_seq, b->last_seq,
                b->n_updates, esc(cv, sizeof cv, b->catalog_version));
        for (size_t i = 0; i < b->n_updates && i < SHOW_UPDATES_MAX; i++)
            show_update_pb(out, b->updates[i]);
        if (b->n_updates > SHOW_UPDATES_MAX)
            fprintf(out, "    ... %zu more\n",
                    b->n_updates - SHOW_UPDATES_MAX);
        cds_msg_free(b);
    } else if (env->kind == CDSYNC__KIND__KIND_HELLO) {
        Cdsync__Hello *h = cds_msg_decode(&cdsync__hello__descriptor,
                                          env->body.data, env->body.len,
                                          &err);
        char av[ESC_LEN];
        if (h)
            fprintf(out, "hello:       acked seq %" PRIu64 ", %zu probe "
                    "points, agent version %s\n", h->acked_seq, h->n_probe,
                    esc(av, sizeof av, h->agent_version));
        else
            fprintf(out, "body:        does not decode (%s)\n",
                    cds_strerror(err));
        cds_msg_free(h);
    }
}

static void
show_raw(FILE *out, const cds_identity_t *self_id, const uint8_t *raw,
         size_t len)
{
    Cdsync__Envelope *env = NULL;
    char fpr[CDS_FPR_LEN];
    fprintf(out, "raw:         %zu bytes kept\n", len);
    int rc = len ? cds_envelope_decode(raw, len, &env) : CDS_EMALFORMED;
    if (rc != CDS_OK) {
        fprintf(out, "envelope:    does not decode (%s): nothing more can "
                "be read\n", cds_strerror(rc));
        return;
    }
    fprintf(out, "envelope:    version %u, kind %d (%s)\n", env->version,
            (int) env->kind,
            protobuf_c_enum_descriptor_get_value(&cdsync__kind__descriptor,
                                                 env->kind)
                ? protobuf_c_enum_descriptor_get_value(
                      &cdsync__kind__descriptor, env->kind)->name
                : "unknown");
    fprintf(out, "signer:      %s\n",
            env->signer.len == CDS_PK_BYTES
                ? cds_fingerprint(env->signer.data, fpr) : "(bad length)");
    if (self_id)
        fprintf(out, "signature:   %s\n",
                cds_envelope_verify(env, cds_identity_sign_pk(self_id))
                        == CDS_OK
                    ? "valid for this aggregator"
                    : "does NOT verify for this aggregator");
    show_body(out, env);
    cds_msg_free(env);
}

/* A row whose raw bytes were not kept (store.h "Rejects on disk"). */
static void
show_digest_only(FILE *out, cds_sql_stmt_t *st)
{
    char hex[2 * CDS_HASH_BYTES + 1] = "";
    if (cds_sql_col_bytes(st, 13) == CDS_HASH_BYTES)
        cds_hex(hex, cds_sql_col_blob(st, 13), CDS_HASH_BYTES);
    fprintf(out, "raw:         NOT kept, digest only: %lld bytes, kind %d, "
            "BLAKE2b-256 %s\n", (long long) cds_sql_col_int64(st, 12),
            cds_sql_col_int(st, 11), hex);
    fprintf(out, "             (over reject_raw_per_hour for this peer, or "
            "under reject_min_free_mb free): nothing to decode or retry\n");
}

static int
show_message(store_t *store, const cds_identity_t *self_id, int64_t row,
             FILE *out)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), REJECTS_SQL_GET,
                                         0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":id", row);
    int rc = cds_sql_step(st), code = CDS_OK;
    char t[40];
    if (rc == CDS_SQL_ROW) {
        int reason = cds_sql_col_int(st, 2), rr = cds_sql_col_int(st,
                                                                         10);
        fprintf(out, "rejection:   %lld (whole message) at %s\n",
                (long long) row, cds_format_time(t, sizeof t,
                    (uint64_t) cds_sql_col_int64(st, 0)));
        fprintf(out, "reason:      %s: %s\n", cds_strerror(reason),
                cds_err_describe(reason));
        char fd[ESC_LEN], ms[ESC_LEN];
        fprintf(out, "what:        %s%s%s\n", esc(fd, sizeof fd, col(st, 3)),
                col(st, 3)[0] ? ": " : "", esc(ms, sizeof ms, col(st, 4)));
        if (cds_sql_col_int64(st, 5))
            fprintf(out, "seqs:        %lld..%lld\n",
                    (long long) cds_sql_col_int64(st, 5),
                    (long long) cds_sql_col_int64(st, 6));
        if (cds_sql_col_int64(st, 9))
            fprintf(out, "retried:     %s -> %s\n",
                    cds_format_time(t, sizeof t, (uint64_t)
                                    cds_sql_col_int64(st, 9)),
                    rr == 0 ? "accepted" : cds_strerror(rr));
        if (cds_sql_col_type(st, 8) == CDS_SQL_NULL
            && cds_sql_col_type(st, 12) != CDS_SQL_NULL)
            show_digest_only(out, st);
        else if (connection_level(col(st, 3)))
            fprintf(out, "kept:        %zu bytes (the client's CURVE key, "
                    "if any): refused at the connection, no message was "
                    "received\n", cds_sql_col_bytes(st, 8));
        else
            show_raw(out, self_id, cds_sql_col_blob(st, 8),
                     (size_t) cds_sql_col_bytes(st, 8));
    } else
        code = rc == CDS_SQL_DONE ? CDS_ENOTFOUND : rc;
    cds_sql_finalize(&st);
    return code;
}

/* The refused field's text in u ("" when NULL or not a field name). */
static const char *
dropped_field(const cds_update_t *u, const char *field)
{
    const char *v = cds_update_field(u, field);
    return v ? v : "";
}

/* Read update_log (agent, seq) into u (strings point into strs, which the
 * caller frees). *status, the refused field's name (field, FIELD_LEN) and
 * "field: message" (what) too. */
#define FIELD_LEN 32
static int
read_update(store_t *store, const rid_t *r, cds_update_t *u, char **strs,
            int *status, char *field, char *what, size_t what_len,
            int64_t *retried)
{
    cds_sql_stmt_t *st = store_read(store, REJECTS_SQL_UPDATE_GET, NULL);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":agent_id", r->agent.id);
    cds_sql_bind_int64(st, ":seq", (int64_t) r->seq);
    int rc = cds_sql_step(st), code = CDS_OK;
    if (rc != CDS_SQL_ROW) {
        code = rc == CDS_SQL_DONE ? CDS_ENOTFOUND : rc;
        goto out;
    }
    /* One block for the 7 strings: each NUL-terminated, in column order. */
    static const int cols[7] = { 3, 4, 5, 6, 7, 9, 10 };
    size_t total = 0, off = 0;
    for (int i = 0; i < 7; i++)
        total += strlen(col(st, cols[i])) + 1;
    *strs = malloc(total);
    if (!*strs) {
        code = CDS_ENOMEM;
        goto out;
    }
    const char *p[7];
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(col(st, cols[i])) + 1;
        memcpy(*strs + off, col(st, cols[i]), n);
        p[i] = *strs + off;
        off += n;
    }
    memset(u, 0, sizeof *u);
    u->seq = r->seq;
    u->org_unit = p[0], u->indicator = p[1], u->period = p[2];
    u->disagg = p[3], u->value = p[4], u->comment = p[5];
    u->stored_by = p[6];
    u->deleted = cds_sql_col_int(st, 8) != 0;
    u->followup = cds_sql_col_int(st, 11) != 0;
    u->hlc = (uint64_t) cds_sql_col_int64(st, 12);
    *status = cds_sql_col_int(st, 0);
    if (*status == 0 && cds_sql_col_int(st, 16))
        *status = -cds_sql_col_int(st, 16); /* applied by a retry */
    snprintf(field, FIELD_LEN, "%s", col(st, 1));
    snprintf(what, what_len, "%s%s%s", col(st, 1), col(st, 1)[0] ? ": " : "",
             col(st, 2));
    *retried = cds_sql_col_int64(st, 15);
out:
    cds_sql_finalize(&st);
    return code;
}

static int
show_update(store_t *store, const rid_t *r, FILE *out)
{
    cds_update_t u;
    char *strs = NULL, field[FIELD_LEN], what[600], t[40];
    int status = 0;
    int64_t retried = 0;
    int code = read_update(store, r, &u, &strs, &status, field, what,
                           sizeof what, &retried);
    if (code != CDS_OK)
        return code;
    int reason = status < 0 ? -status : status;
    char lb0[ESC_LEN / 4];
    fprintf(out, "rejection:   %s:%" PRIu64 " (one update) of agent %s "
            "(%s)\n", r->agent.fpr, r->seq, r->agent.fpr,
            esc(lb0, sizeof lb0, r->agent.label));
    char by[ESC_LEN / 4], wh[ESC_LEN];
    fputs("update:      ", out);
    show_update_fields(out, u.org_unit, u.indicator, u.period, u.disagg,
                       u.value, u.deleted);
    fprintf(out, " (hlc %" PRIu64 ", %s, by %s)\n", u.hlc,
            cds_format_time(t, sizeof t, cds_hlc_ms(u.hlc)),
            esc(by, sizeof by, u.stored_by));
    fprintf(out, "reason:      %s: %s\n", cds_strerror(reason),
            cds_err_describe(reason));
    fprintf(out, "what:        %s\n", esc(wh, sizeof wh, what));
    if (status == 0)
        fprintf(out, "state:       applied (not a rejection)\n");
    else if (status < 0)
        fprintf(out, "retried:     %s -> applied\n",
                cds_format_time(t, sizeof t, (uint64_t) retried));
    else
        fprintf(out, "state:       rejected; `rejects retry %s:%" PRIu64
                "` applies it if it is valid now\n", r->agent.fpr, r->seq);
    free(strs);
    return CDS_OK;
}

int
rejects_show(store_t *store, const cds_identity_t *id_self, const char *id,
             FILE *out)
{
    rid_t r;
    int code = parse_id(store, id, &r);
    if (code != CDS_OK)
        return code;
    return r.update ? show_update(store, &r, out)
                    : show_message(store, id_self, r.row, out);
}

/* ---- retry ------------------------------------------------------------ */

static int
mark_message(store_t *store, int64_t row, uint64_t now, int result)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), REJECTS_SQL_MARK,
                                         0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":id", row);
    cds_sql_bind_int64(st, ":now", (int64_t) now);
    cds_sql_bind_int64(st, ":result", result);
    int rc = cds_sql_run(st);
    cds_sql_finalize(&st);
    return rc;
}

/* Raw bytes of reject row into *raw (malloc'd), its reason in *orig. */
static int
load_raw(store_t *store, int64_t row, uint8_t **raw, size_t *len,
         int *orig, bool *conn_level)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), REJECTS_SQL_GET,
                                         0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":id", row);
    int rc = cds_sql_step(st), code = CDS_OK;
    if (rc == CDS_SQL_ROW) {
        *orig = cds_sql_col_int(st, 2);
        *conn_level = connection_level(col(st, 3));
        *len = (size_t) cds_sql_col_bytes(st, 8);
        *raw = malloc(*len ? *len : 1);
        if (*raw)
            memcpy(*raw, cds_sql_col_blob(st, 8), *len);
        else
            code = CDS_ENOMEM;
    } else
        code = rc == CDS_SQL_DONE ? CDS_ENOTFOUND : rc;
    cds_sql_finalize(&st);
    return code;
}

static int
retry_message(store_t *store, ingest_t *ingest, int64_t row, uint64_t now,
              int *result, FILE *out)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    ingest_result_t res = { 0 };
    cds_sql_t *db = store_sql(store);
    int orig = CDS_OK;
    bool conn = false;
    int code = load_raw(store, row, &raw, &len, &orig, &conn);
    if (code == CDS_OK)
        code = cds_sql_begin(db);
    if (code != CDS_OK)
        goto out;
    if (len == 0 || conn || orig == CDS_ETOOBIG) {
        /* Nothing to run again: a refusal at the connection (no message
         * kept), or bytes over the bound (kept cut, and over it anyway). */
        res.code = orig;
    } else if (ingest_message(ingest, raw, len, now, &res) == INGEST_FAILED) {
        code = res.code;
        res.code = CDS_OK;
    }
    *result = res.code;
    if (code == CDS_OK && res.code == CDS_OK)
        code = mark_message(store, row, now, CDS_OK);
    if (code == CDS_OK && res.code == CDS_OK)
        code = cds_sql_commit(db);
    else {
        /* Refused again: leave no trace of the attempt but the mark. */
        cds_sql_rollback(db);
        if (code == CDS_OK)
            code = mark_message(store, row, now, res.code);
    }
    if (code == CDS_OK)
        fprintf(out, "%lld: %s%s\n", (long long) row,
                res.code == CDS_OK ? "accepted" : "still refused: ",
                res.code == CDS_OK ? "" : cds_strerror(res.code));
    cds_log(CDS_LOG_INFO, "reject_retried", "id=%lld result=%s",
            (long long) row, cds_strerror(res.code));
out:
    ingest_result_clear(&res);
    free(raw);
    return code;
}

/* Validate, merge, record the new status (an update_status row, store.h):
 * in the caller's transaction. */
static int
apply_retried(store_t *store, ingest_t *ingest, health_t *health,
              const rid_t *r, const cds_update_t *u, uint64_t now,
              int *result, char *err, size_t errlen)
{
    const char *field = NULL;
    double num = 0;
    cds_period_t period;
    int v = ingest_recheck_update(ingest, &r->agent, u, now, &field, err,
                                  errlen, &num, &period);
    if (v < 0)
        return -v;
    *result = v;
    if (v != CDS_OK)
        return CDS_OK;
    bool flipped = false;
    int code = store_log_retried(store, r->agent.id, r->seq, (int64_t) now,
                                 &flipped);
    /* The effective stamp fixed at arrival (ingest.h), not a new one: a
     * retry must not move the value ahead of later writes. */
    uint64_t eff = u->hlc;
    if (code == CDS_OK && flipped)
        code = store_log_eff(store, r->agent.id, r->seq, &eff);
    if (code == CDS_OK && flipped)
        code = store_merge_eff(store, u, eff, num, r->agent.sign_pk,
                               r->agent.id, period.start, period.end,
                               (int64_t) now);
    if (code == CDS_OK && flipped && health)
        code = health_note_retried(health, r->agent.id, now);
    return code;
}

static int
retry_update(store_t *store, ingest_t *ingest, health_t *health,
             const rid_t *r, uint64_t now, int *result, FILE *out)
{
    cds_update_t u;
    char *strs = NULL, field[FIELD_LEN], what[600], err[256] = "";
    int status = 0;
    int64_t retried = 0;
    cds_sql_t *db = store_sql(store);
    if (r->agent.revoked_at_ms) {
        *result = CDS_EREVOKED;
        fprintf(out, "%s:%" PRIu64 ": not retried: agent revoked\n",
                r->agent.fpr, r->seq);
        return CDS_OK;
    }
    int code = cds_sql_begin(db);
    if (code != CDS_OK)
        return code;
    code = read_update(store, r, &u, &strs, &status, field, what,
                       sizeof what, &retried);
    if (code == CDS_OK && status == CDS_ETOOBIG) {
        *result = CDS_ETOOBIG;         /* over a bound: stays over it */
        fprintf(out, "%s:%" PRIu64 ": not retried: a field over its bound "
                "is not kept (it stays too big)\n", r->agent.fpr, r->seq);
    } else if (code == CDS_OK && status == CDS_EBADFIELD
               && !dropped_field(&u, field)[0]) {
        /* Refused for a field that is empty in the row: dropped because it
         * was not UTF-8 (store.h), or empty when sent. Either way running
         * it again would check the empty field, not what was signed. */
        *result = CDS_EBADFIELD;
        fprintf(out, "%s:%" PRIu64 ": not retried: field %s is not kept "
                "(not valid UTF-8, or empty when sent)\n", r->agent.fpr,
                r->seq, field);
    } else if (code == CDS_OK && status <= 0) {
        *result = CDS_OK;              /* applied already: no effect */
        fprintf(out, "%s:%" PRIu64 ": already applied, nothing to do\n",
                r->agent.fpr, r->seq);
    } else if (code == CDS_OK) {
        code = apply_retried(store, ingest, health, r, &u, now, result, err,
                             sizeof err);
        if (code == CDS_OK)
            fprintf(out, "%s:%" PRIu64 ": %s%s%s\n", r->agent.fpr, r->seq,
                    *result == CDS_OK ? "applied" : "still rejected: ",
                    *result == CDS_OK ? "" : cds_strerror(*result),
                    *result == CDS_OK ? "" : (err[0] ? " " : ""));
        if (code == CDS_OK && *result != CDS_OK && err[0])
            fprintf(out, "  %s\n", err);
    }
    code = code == CDS_OK ? cds_sql_commit(db) : code;
    if (code != CDS_OK)
        cds_sql_rollback(db);
    free(strs);
    return code;
}

int
rejects_retry(store_t *store, ingest_t *ingest, health_t *health,
              const char *id, uint64_t now_ms, int *result, FILE *out)
{
    rid_t r;
    int code = parse_id(store, id, &r);
    *result = CDS_ERROR;
    if (code != CDS_OK)
        return code;
    if (!r.update)
        return retry_message(store, ingest, r.row, now_ms, result, out);
    return retry_update(store, ingest, health, &r, now_ms, result, out);
}

/* ---- prune ------------------------------------------------------------ */

int
rejects_prune(store_t *store, int64_t cutoff_ms, int64_t *deleted)
{
    cds_sql_t *db = store_sql(store);
    int64_t n = 0;
    int code = CDS_OK;
    *deleted = 0;
    do {
        code = cds_sql_begin(db);
        if (code == CDS_OK)
            code = store_reject_prune(store, cutoff_ms, &n);
        code = code == CDS_OK ? cds_sql_commit(db) : code;
        if (code != CDS_OK) {
            cds_sql_rollback(db);
            break;
        }
        *deleted += n;
    } while (n == STORE_PRUNE_STEP);
    /* Grouped handshake refusals (knock) share the retention; few rows. */
    if (code == CDS_OK && store_knock_prune(store, cutoff_ms, &n) == CDS_OK)
        *deleted += n;
    if (code == CDS_OK)
        cds_log(CDS_LOG_INFO, "rejects_pruned", "rows=%lld cutoff_ms=%lld",
                (long long) *deleted, (long long) cutoff_ms);
    return code;
}
