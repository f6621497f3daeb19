/*  central: corrections entered at the aggregator, applied as its own
 *  signed batches through ingest. See central.h for the design. */
#include "central.h"

#include "central_sql.h"
#include "cds_adx.h"
#include "cds_codec.h"
#include "cds_csv.h"
#include "cds_dvs.h"
#include "cds_err.h"
#include "cds_period.h"
#include "cds_util.h"
#include "export.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LISTED 100                 /* bad rows printed before "and N" */

/* One row of the import file (strings owned). */
typedef struct {
    char *ou, *de, *pe, *coc, *value, *comment, *by;
    bool followup, deleted;
    uint64_t created_ms, updated_ms;   /* the file's, 0: not given */
    size_t line;
    bool json;                         /* line is a dataValues entry */
    int col[CDS_DVS__COUNT];           /* CSV columns (cds_dvs.h) */
    const char *bad_field;             /* cds_dvs_row_refusal's, or NULL */
    char bad_msg[400];
} row_t;

typedef struct {
    row_t *r;
    size_t n, cap;
    const cds_idmap_t *ids;            /* DHIS2 ids -> codes; NULL: codes */
} rows_t;

static void
rows_free(rows_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        row_t *r = &rs->r[i];
        free(r->ou), free(r->de), free(r->pe), free(r->coc);
        free(r->value), free(r->comment), free(r->by);
    }
    free(rs->r);
    memset(rs, 0, sizeof *rs);
}

static row_t *
rows_add(rows_t *rs)
{
    if (rs->n == rs->cap) {
        size_t c = rs->cap ? rs->cap * 2 : 64;
        row_t *a = realloc(rs->r, c * sizeof *a);
        if (!a)
            return NULL;
        rs->r = a;
        rs->cap = c;
    }
    memset(&rs->r[rs->n], 0, sizeof *rs->r);
    return &rs->r[rs->n++];
}


/* ---- self-enrollment ---------------------------------------------------- */

static int
roots(store_t *store, char ***codes, size_t *n)
{
    cds_sql_stmt_t *st = store_read(store, CENTRAL_SQL_ROOTS,
                                    CENTRAL_SQL_ROOTS_PG);
    *codes = NULL;
    *n = 0;
    if (!st)
        return CDS_ERROR;
    int rc = CDS_OK;
    int step;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW) {
        char **a = realloc(*codes, (*n + 1) * sizeof *a);
        if (!a || !(a[*n] = strdup(cds_sql_col_text(st, 0))))
            rc = CDS_ENOMEM;
        if (a) {
            *codes = a;
            *n += rc == CDS_OK;
        }
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;                     /* logged by cds_sql */
    cds_sql_finalize(&st);
    return rc;
}

int
central_enroll_self(store_t *store, const cds_identity_t *id,
                    uint64_t now_ms, char *err, size_t errlen)
{
    store_agent_t a;
    char **units = NULL;
    size_t n = 0;
    int64_t agent_id;
    int rc = store_agent_find(store, cds_identity_sign_pk(id), &a);
    if (rc == CDS_OK && a.revoked_at_ms) {
        snprintf(err, errlen, "the aggregator's own key %s was revoked: "
                 "central imports are refused", a.fpr);
        return CDS_EREVOKED;
    }
    if (rc != CDS_OK && rc != CDS_ENOTFOUND)
        return rc;
    rc = roots(store, &units, &n);
    if (rc == CDS_OK)
        rc = cds_sql_begin(store_sql(store));
    if (rc == CDS_OK) {
        rc = store_agent_enroll(store, cds_identity_sign_pk(id),
                                cds_identity_curve_pk(id), CENTRAL_LABEL,
                                (const char *const *) units, n,
                                (int64_t) now_ms, &agent_id);
        rc = rc == CDS_OK ? cds_sql_commit(store_sql(store))
                          : (cds_sql_rollback(store_sql(store)), rc);
    }
    for (size_t i = 0; i < n; i++)
        free(units[i]);
    free(units);
    return rc;
}

/* ---- applying ----------------------------------------------------------- */

/* Seal u[0..n) as one batch chained from *head (advanced). */
static int
seal_batch(const cds_identity_t *signer, const uint8_t *agg_pk,
           cds_update_t *u, size_t n, uint64_t first, uint8_t *head,
           uint64_t now_ms, uint8_t **out, size_t *len)
{
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    Cdsync__Update *pb = calloc(n, sizeof *pb);
    Cdsync__Update **ptrs = calloc(n, sizeof *ptrs);
    uint8_t prev[CDS_HASH_BYTES];
    int rc = pb && ptrs ? CDS_OK : CDS_ENOMEM;
    memcpy(prev, head, CDS_HASH_BYTES);
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        uint8_t h[CDS_HASH_BYTES];
        u[i].seq = first + i;
        cds_update_hash(&u[i], h);
        cds_chain_next(head, h, head);
        cdsync__update__init(&pb[i]);
        cds_update_to_pb(&u[i], &pb[i]);
        ptrs[i] = &pb[i];
    }
    b.version = CDS_PROTOCOL_VERSION;
    b.agent.data = (uint8_t *) cds_identity_sign_pk(signer);
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = first;
    b.last_seq = first + n - 1;
    b.prev_head.data = prev;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = head;
    b.head.len = CDS_HASH_BYTES;
    b.catalog_version = (char *) "";
    b.n_updates = n;
    b.updates = ptrs;
    b.sent_at_ms = now_ms;
    if (rc == CDS_OK)
        rc = cds_envelope_seal_msg(signer, CDSYNC__KIND__KIND_BATCH, agg_pk,
                                   &b.base, out, len);
    free(pb);
    free(ptrs);
    return rc;
}

/* Read our own ack: CDS_OK (counts added to res) or the refusal code. */
static int
read_ack(const ingest_result_t *r, const uint8_t *signer_pk,
         const uint8_t *agg_pk, central_result_t *res, size_t n, char *err,
         size_t errlen)
{
    Cdsync__Envelope *env = NULL;
    if (r->code != CDS_OK) {
        snprintf(err, errlen, "batch refused: %s", cds_strerror(r->code));
        return r->code;
    }
    if (!r->reply || cds_envelope_decode(r->reply, r->reply_len, &env)
                         != CDS_OK
        || env->signer.len != CDS_PK_BYTES
        || memcmp(env->signer.data, agg_pk, CDS_PK_BYTES) != 0
        || cds_envelope_verify(env, signer_pk) != CDS_OK) {
        cds_msg_free(env);
        snprintf(err, errlen, "no valid receipt for the batch");
        return CDS_ERROR;
    }
    int e = 0;
    Cdsync__Ack *ack = cds_msg_decode(&cdsync__ack__descriptor,
                                      env->body.data, env->body.len, &e);
    cds_msg_free(env);
    if (!ack || ack->status != CDSYNC__ACK_STATUS__ACK_OK) {
        snprintf(err, errlen, "batch not applied: %s",
                 ack ? cds_strerror((int) ack->error) : "bad receipt");
        int code = ack && ack->error ? (int) ack->error : CDS_ERROR;
        cds_msg_free(ack);
        return code;
    }
    res->rejected += ack->n_rejections;
    res->applied += n - ack->n_rejections;
    cds_msg_free(ack);
    return CDS_OK;
}

/* One batch through ingest, in the caller's transaction. */
static int
apply_batch(ingest_t *ingest, const cds_identity_t *signer,
            const uint8_t *agg_pk, cds_update_t *u, size_t n,
            store_agent_t *a, uint64_t now_ms, central_result_t *res,
            char *err, size_t errlen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    ingest_result_t r = { 0 };
    uint64_t first = a->applied_seq + 1;
    int rc = seal_batch(signer, agg_pk, u, n, first, a->applied_head, now_ms,
                        &data, &len);
    if (rc == CDS_OK
        && ingest_message(ingest, data, len, now_ms, &r) == INGEST_FAILED)
        rc = r.code;
    if (rc == CDS_OK)
        rc = read_ack(&r, cds_identity_sign_pk(signer), agg_pk, res, n, err,
                      errlen);
    if (rc == CDS_OK) {
        a->applied_seq = first + n - 1;
        res->first_seq = res->first_seq ? res->first_seq : first;
        res->last_seq = a->applied_seq;
    }
    ingest_result_clear(&r);
    free(data);
    return rc;
}

/* central_apply inside the caller's transaction, then then(store, arg)
 * when given. */
static int
apply_in_tx(store_t *store, ingest_t *ingest, const cds_identity_t *signer,
            const uint8_t *agg_pk, cds_update_t *u, size_t n,
            uint64_t now_ms, central_result_t *res, char *err,
            size_t errlen, central_then_fn *then, void *arg)
{
    store_agent_t a;
    int rc = store_agent_find(store, cds_identity_sign_pk(signer), &a);
    if (rc == CDS_ENOTFOUND) {
        snprintf(err, errlen, "signer is not enrolled");
        rc = CDS_EUNKNOWNKEY;
    }
    for (size_t i = 0; rc == CDS_OK && i < n; i += CDS_MAX_BATCH_UPDATES) {
        size_t k = n - i < CDS_MAX_BATCH_UPDATES ? n - i
                                                 : CDS_MAX_BATCH_UPDATES;
        rc = apply_batch(ingest, signer, agg_pk, u + i, k, &a, now_ms, res,
                         err, errlen);
    }
    if (rc == CDS_OK && then)
        rc = then(store, res, arg, err, errlen);
    return rc;
}

static int
apply_tx(store_t *store, ingest_t *ingest, const cds_identity_t *signer,
         const uint8_t *agg_pk, cds_update_t *u, size_t n, uint64_t now_ms,
         central_result_t *res, char *err, size_t errlen,
         central_then_fn *then, void *arg)
{
    cds_sql_t *db = store_sql(store);
    int rc = cds_sql_begin(db);
    if (rc != CDS_OK)
        return rc;
    rc = apply_in_tx(store, ingest, signer, agg_pk, u, n, now_ms, res, err,
                     errlen, then, arg);
    if (rc == CDS_OK)
        return cds_sql_commit(db);
    cds_sql_rollback(db);
    return rc;
}

int
central_apply(store_t *store, ingest_t *ingest, const cds_identity_t *signer,
              const uint8_t *agg_pk, cds_update_t *u, size_t n,
              uint64_t now_ms, central_result_t *res, char *err,
              size_t errlen)
{
    return apply_tx(store, ingest, signer, agg_pk, u, n, now_ms, res, err,
                    errlen, NULL, NULL);
}

/* ---- reading the file --------------------------------------------------- */

/* cds_dvs callback: copy one row, its DHIS2 ids as codes (cds_idmap.h;
 * an unmapped id makes the row bad, its fields kept as written). */
static int
row_add(void *arg, const cds_dvs_row_t *given)
{
    rows_t *rs = arg;
    row_t *r = rows_add(rs);
    if (!r)
        return CDS_ENOMEM;
    cds_dvs_row_t mapped;
    const cds_dvs_row_t *in = given;
    const char *id_field = NULL;
    if (rs->ids && cds_idmap_dvs_row(rs->ids, given, &mapped, &id_field,
                                     r->bad_msg, sizeof r->bad_msg) == 0)
        in = &mapped;
    const char *coc = in->f[CDS_DVS_COC];
    r->de = strdup(in->f[CDS_DVS_DE]);
    r->pe = strdup(in->f[CDS_DVS_PE]);
    r->ou = strdup(in->f[CDS_DVS_OU]);
    r->coc = strdup(coc[0] ? coc : "default");
    r->value = strdup(in->f[CDS_DVS_VALUE]);
    r->by = strdup(in->f[CDS_DVS_STOREDBY]);
    r->comment = strdup(in->f[CDS_DVS_COMMENT]);
    r->followup = cds_dvs_flag(in->f[CDS_DVS_FOLLOWUP]) == 1;
    r->deleted = cds_dvs_flag(in->f[CDS_DVS_DELETED]) == 1;
    r->line = in->line;
    r->json = in->json;
    memcpy(r->col, in->col, sizeof r->col);
    if (id_field)
        r->bad_field = id_field;
    else if (cds_dvs_row_refusal(in, &r->bad_field, r->bad_msg,
                                 sizeof r->bad_msg) == 0
             && cds_dvs_row_times(in, &r->created_ms, &r->updated_ms,
                                  &r->bad_field, r->bad_msg,
                                  sizeof r->bad_msg) == 0)
        r->bad_field = NULL;
    return r->de && r->pe && r->ou && r->coc && r->value && r->by
                   && r->comment ? CDS_OK : CDS_ENOMEM;
}

/* ADX (cds_adx.h): each dataValue a row with its group's attributes. */
typedef struct {
    rows_t *rs;
    const cds_idmap_t *ids;            /* NULL: codes */
    const cds_catalog_t *catalog;      /* which values are text (cds_adx.h) */
    const char *path;
    char *err;
    size_t errlen;
} adx_rows_t;

static int
adx_row(const cds_adx_value_t *given, void *arg)
{
    adx_rows_t *x = arg;
    cds_adx_value_t mapped;
    const cds_adx_value_t *v = given;
    const char *field = NULL;
    char msg[600];
    if (x->ids) {
        if (cds_idmap_adx_value(x->ids, given, &mapped, &field, msg,
                                sizeof msg) != 0) {
            snprintf(x->err, x->errlen, "%s:%zu: %s: %s", x->path,
                     given->line, field, msg);
            return CDS_EBADFIELD;
        }
        v = &mapped;
    }
    if (strcmp(v->attr_combo, "default") != 0) {
        snprintf(x->err, x->errlen, "%s:%zu: attributeOptionCombo: \"%.80s\" "
                 "(group at line %zu): only the default attribute option "
                 "combination is supported", x->path, v->line, v->attr_combo,
                 v->group_line);
        return CDS_EBADFIELD;
    }
    row_t *r = x->rs->n < CENTRAL_MAX_ROWS ? rows_add(x->rs) : NULL;
    if (!r) {
        snprintf(x->err, x->errlen, "%s: more than %d rows", x->path,
                 CENTRAL_MAX_ROWS);
        return x->rs->n < CENTRAL_MAX_ROWS ? CDS_ENOMEM : CDS_ETOOBIG;
    }
    const char *value, *comment;
    if (cds_adx_resolve(v, cds_catalog_find(x->catalog, v->data_element),
                        &value, &comment) != 0) {
        snprintf(x->err, x->errlen, "%s:%zu: value: %.64s takes its value "
                 "from an <annotation> (not a number), and has none",
                 x->path, v->line, v->data_element);
        return CDS_EBADFIELD;
    }
    /* an ADX period that is not one of DHIS2's stays as written, for
     * check_row to refuse */
    const char *pe = v->period ? v->period : v->period_given;
    r->de = strdup(v->data_element ? v->data_element : "");
    r->pe = strdup(pe ? pe : "");
    r->ou = strdup(v->org_unit ? v->org_unit : "");
    r->coc = strdup(v->disagg && v->disagg[0] ? v->disagg : "default");
    r->value = strdup(value ? value : "");
    r->by = strdup("");
    r->comment = strdup(comment ? comment : "");
    r->line = v->line;
    return r->de && r->pe && r->ou && r->coc && r->value && r->by
                   && r->comment ? CDS_OK : CDS_ENOMEM;
}

/* The file: ADX XML when it starts with '<' (after a BOM and spaces),
 * else a DHIS2 dataValueSet, JSON or CSV (cds_dvs.h). */
static int
read_rows(const char *path, const cds_catalog_t *catalog,
          cds_dvs_header_t header, rows_t *rs, bool *json, char *err,
          size_t errlen)
{
    char *data = NULL, first;
    size_t len = 0;
    int rc = cds_dvs_load(path, &data, &len, &first, err, errlen);
    if (rc != CDS_OK)
        return rc;
    adx_rows_t x = { .rs = rs, .ids = rs->ids, .catalog = catalog,
                     .path = path, .err = err, .errlen = errlen };
    rc = first == '<'
             ? cds_adx_read(path, data, len, adx_row, &x, err, errlen)
             : cds_dvs_read_mem(path, data ? data : "", len, header, row_add,
                                rs, err, errlen);
    free(data);
    *json = rs->n > 0 && rs->r[0].json;
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    return rc;
}

/* ---- checking and building updates -------------------------------------- */

typedef struct {
    const char *path;
    FILE *errf;
    size_t bad;
    bool json;                         /* line = dataValues index + 1 */
} check_t;

/* "file:line: field: column N: problem"; JSON: "file:line: field:
 * problem (line = dataValues entry)". */
static void
bad_row(check_t *ck, const row_t *r, const char *field, const char *msg)
{
    char col[32] = "";
    int f = cds_dvs_lookup(field);
    if (!ck->json && f >= 0 && r->col[f] > 0)
        snprintf(col, sizeof col, "column %d: ", r->col[f]);
    if (ck->bad++ < MAX_LISTED)
        fprintf(ck->errf, "%s:%zu: %s: %s%s%s\n", ck->path, r->line, field,
                col, msg, ck->json ? " (line = dataValues entry)" : "");
}

static int
cmp_key(const void *a, const void *b)
{
    const cds_update_t *x = a, *y = b;
    int c = strcmp(x->org_unit, y->org_unit);
    if (!c)
        c = strcmp(x->indicator, y->indicator);
    if (!c)
        c = strcmp(x->period, y->period);
    return c ? c : strcmp(x->disagg, y->disagg);
}

/* Canonical value and period of row r into u (r's strings are rewritten
 * in place, so u borrows them); false when the row is bad (reported). */
static bool
check_row(check_t *ck, store_t *store, const cds_catalog_t *cat, row_t *r,
          cds_update_t *u)
{
    char pe[16], canon[CDS_MAX_VALUE + 1], msg[300];
    double num;
    const char *field = NULL;
    if (r->bad_field) {
        bad_row(ck, r, r->bad_field, r->bad_msg);
        return false;
    }
    if (export_period_dhis2(r->pe, pe, sizeof pe) != CDS_OK) {
        bad_row(ck, r, "period", "not a DHIS2 or ADX period");
        return false;
    }
    free(r->pe);
    r->pe = strdup(pe);
    const cds_indicator_t *ind = cds_catalog_find(cat, r->de);
    if (r->pe && ind && !r->deleted
        && cds_value_canonical(ind, r->value, canon, sizeof canon, &num,
                               msg, sizeof msg) == CDS_OK) {
        free(r->value);
        r->value = strdup(canon);
    }
    if (!r->pe || !r->value)
        return false;
    *u = (cds_update_t) { .org_unit = r->ou, .indicator = r->de,
                          .period = r->pe, .disagg = r->coc,
                          .value = r->deleted ? "" : r->value,
                          .comment = r->comment,
                          .stored_by = r->by[0] ? r->by : "aggregator",
                          .deleted = r->deleted, .followup = r->followup,
                          .created_ms = r->created_ms,
                          .updated_ms = r->updated_ms };
    if (cds_catalog_check_update(cat, u, &field, msg, sizeof msg)
        != CDS_OK) {
        bad_row(ck, r, field ? field : "row", msg);
        return false;
    }
    if (store_orgunit_exists(store, r->ou) != 1) {
        bad_row(ck, r, "orgunit", "not in the org-unit list");
        return false;
    }
    return true;
}

/* Check every row, build updates, refuse duplicate keys. */
static int
build_updates(check_t *ck, store_t *store, const cds_catalog_t *cat,
              rows_t *rs, cds_update_t **out)
{
    cds_update_t *u = calloc(rs->n ? rs->n : 1, sizeof *u);
    if (!u)
        return CDS_ENOMEM;
    for (size_t i = 0; i < rs->n; i++)
        check_row(ck, store, cat, &rs->r[i], &u[i]);
    if (ck->bad == 0 && rs->n > 1) {
        cds_update_t *sorted = malloc(rs->n * sizeof *sorted);
        if (!sorted) {
            free(u);
            return CDS_ENOMEM;
        }
        memcpy(sorted, u, rs->n * sizeof *u);
        qsort(sorted, rs->n, sizeof *sorted, cmp_key);
        for (size_t i = 1; i < rs->n; i++)
            if (cmp_key(&sorted[i - 1], &sorted[i]) == 0 && ck->bad++ < 1)
                fprintf(ck->errf, "%s: the key %s/%s/%s appears twice\n",
                        ck->path, sorted[i].org_unit, sorted[i].indicator,
                        sorted[i].period);
        free(sorted);
    }
    *out = u;
    return CDS_OK;
}

/* hlc for central rows: above every stored one and not before now. */
static int
first_hlc(store_t *store, uint64_t now_ms, uint64_t *hlc)
{
    cds_sql_stmt_t *st = store_read(store, CENTRAL_SQL_MAX_HLC, NULL);
    if (!st)
        return CDS_ERROR;
    uint64_t max = cds_sql_step(st) == CDS_SQL_ROW
                       ? (uint64_t) cds_sql_col_int64(st, 0) : 0;
    cds_sql_finalize(&st);
    *hlc = now_ms << 16;
    if (max + 1 > *hlc)
        *hlc = max + 1;
    return CDS_OK;
}

int
central_import_file(store_t *store, ingest_t *ingest,
                    const cds_identity_t *id, const cds_catalog_t *catalog,
                    const char *path, cds_dvs_header_t header,
                    const cds_idmap_t *ids, uint64_t now_ms, FILE *errf,
                    central_result_t *res, char *err, size_t errlen)
{
    rows_t rs = { .ids = ids };
    cds_update_t *u = NULL;
    check_t ck = { .path = path, .errf = errf };
    uint64_t hlc = 0;
    memset(res, 0, sizeof *res);
    int rc = read_rows(path, catalog, header, &rs, &ck.json, err, errlen);
    res->rows = rs.n;
    if (rc == CDS_OK)
        rc = build_updates(&ck, store, catalog, &rs, &u);
    if (rc == CDS_OK && ck.bad) {
        if (ck.bad > MAX_LISTED)
            fprintf(errf, "... and %zu more\n", ck.bad - MAX_LISTED);
        snprintf(err, errlen, "%s: %zu bad row(s); nothing imported", path,
                 ck.bad);
        rc = CDS_EBADFIELD;
    }
    if (rc == CDS_OK)
        rc = central_enroll_self(store, id, now_ms, err, errlen);
    if (rc == CDS_OK)
        rc = first_hlc(store, now_ms, &hlc);
    for (size_t i = 0; rc == CDS_OK && i < rs.n; i++)
        u[i].hlc = hlc + i;
    if (rc == CDS_OK && rs.n)
        rc = central_apply(store, ingest, id, cds_identity_sign_pk(id), u,
                           rs.n, now_ms, res, err, errlen);
    free(u);
    rows_free(&rs);
    return rc;
}

int
central_correct(store_t *store, ingest_t *ingest, const cds_identity_t *id,
                cds_update_t *u, uint64_t now_ms, central_then_fn *then,
                void *arg, central_result_t *res, char *err, size_t errlen)
{
    uint64_t hlc = 0;
    memset(res, 0, sizeof *res);
    res->rows = 1;
    int rc = central_enroll_self(store, id, now_ms, err, errlen);
    if (rc == CDS_OK)
        rc = first_hlc(store, now_ms, &hlc);
    u->hlc = hlc;
    if (rc == CDS_OK)
        rc = apply_tx(store, ingest, id, cds_identity_sign_pk(id), u, 1,
                      now_ms, res, err, errlen, then, arg);
    return rc;
}
