/*  approval: data approval, the lock it puts on a period and the values
 *  held under it. See approval.h for the design. */
#include "approval.h"

#include "approval_sql.h"
#include "cds_err.h"
#include "cds_sql.h"

#include <stdlib.h>
#include <string.h>

const char approval_migration[] = APPROVAL_SQL_MIGRATION;     /* store.h */
const char approval_pg_schema[] = APPROVAL_SQL_PG_SCHEMA;     /* store.h */

static void
bind_key(cds_sql_stmt_t *st, const char *ds, const char *ou, const char *pe)
{
    cds_sql_bind_text(st, ":ds", ds);
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_text(st, ":pe", pe);
}

static char *
col_dup(cds_sql_stmt_t *st, int i)
{
    const char *s = cds_sql_col_type(st, i) == CDS_SQL_NULL
                        ? "" : cds_sql_col_text(st, i);
    return strdup(s ? s : "");
}

/* *approved: the latest action on the key is 'approve'. */
static int
state(store_t *store, const char *ds, const char *ou, const char *pe,
      bool *approved)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_STATE, 0);
    *approved = false;
    if (!st)
        return CDS_ERROR;
    bind_key(st, ds, ou, pe);
    int step = cds_sql_step(st);
    if (step == CDS_SQL_ROW)
        *approved = strcmp(cds_sql_col_text(st, 0), "approve") == 0;
    cds_sql_finalize(&st);
    return step == CDS_SQL_ROW || step == CDS_SQL_DONE ? CDS_OK : step;
}

static int
add_row(store_t *store, const char *ds, const char *ou, const char *pe,
        bool approve, const char *actor, const char *reason, int64_t now_ms,
        int64_t *id)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_ADD, 0);
    if (!st)
        return CDS_ERROR;
    bind_key(st, ds, ou, pe);
    cds_sql_bind_text(st, ":action", approve ? "approve" : "unapprove");
    cds_sql_bind_text(st, ":actor", actor ? actor : "");
    cds_sql_bind_text(st, ":reason", reason ? reason : "");
    cds_sql_bind_int64(st, ":at", now_ms);
    int step = cds_sql_step(st);
    if (step == CDS_SQL_ROW)
        *id = cds_sql_col_int64(st, 0);
    cds_sql_finalize(&st);
    return step == CDS_SQL_ROW ? CDS_OK : step == CDS_SQL_DONE ? CDS_ERROR
                                                               : step;
}

static int
lock_cells(store_t *store, const char *const *ind, size_t n, const char *ou,
           const char *pe, int64_t aid)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_LOCK, 0);
    if (!st)
        return CDS_ERROR;
    int rc = CDS_OK;
    for (size_t i = 0; rc == CDS_OK && i < n; i++) {
        cds_sql_reset(st);
        cds_sql_bind_text(st, ":ou", ou);
        cds_sql_bind_text(st, ":de", ind[i]);
        cds_sql_bind_text(st, ":pe", pe);
        cds_sql_bind_int64(st, ":aid", aid);
        rc = cds_sql_run(st);
    }
    cds_sql_finalize(&st);
    return rc;
}

static int
unlock_cells(store_t *store, const char *ds, const char *ou, const char *pe)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_UNLOCK, 0);
    if (!st)
        return CDS_ERROR;
    bind_key(st, ds, ou, pe);
    int rc = cds_sql_run(st);
    cds_sql_finalize(&st);
    return rc;
}

int
approval_change(store_t *store, const char *dataset,
                const char *const *ind, size_t n, const char *ou,
                const char *pe, bool approve, const char *actor,
                const char *reason, int64_t now_ms, char *err, size_t errlen)
{
    cds_sql_t *db = store_sql(store);
    bool now;
    int64_t aid = 0;
    int rc = cds_sql_begin(db);
    if (rc == CDS_OK)
        rc = state(store, dataset, ou, pe, &now);
    if (rc == CDS_OK && now == approve) {
        snprintf(err, errlen, "%s %s %s: %s", dataset, ou, pe,
                 approve ? "already approved" : "not approved");
        rc = CDS_EBADVALUE;
    }
    if (rc == CDS_OK && !approve)
        rc = unlock_cells(store, dataset, ou, pe);
    if (rc == CDS_OK)
        rc = add_row(store, dataset, ou, pe, approve, actor, reason, now_ms,
                     &aid);
    if (rc == CDS_OK && approve)
        rc = lock_cells(store, ind, n, ou, pe, aid);
    if (rc == CDS_OK)
        return cds_sql_commit(db);
    cds_sql_rollback(db);
    return rc;
}

int
approval_any(store_t *store)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), APPROVAL_SQL_ANY,
                                         CDS_SQL_PERSIST);
    if (!st)
        return -CDS_ERROR;
    int step = cds_sql_step(st);
    int any = step == CDS_SQL_ROW ? cds_sql_col_int(st, 0) != 0 : -step;
    cds_sql_finalize(&st);
    return any;
}

int
approval_locked(store_t *store, const char *ou, const char *de,
                const char *pe, int64_t *approval_id, char *why,
                size_t whylen)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_LOCKED, 0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_text(st, ":de", de);
    cds_sql_bind_text(st, ":pe", pe);
    int step = cds_sql_step(st);
    int locked = step == CDS_SQL_ROW ? 1 : step == CDS_SQL_DONE ? 0 : -step;
    if (locked == 1) {
        *approval_id = cds_sql_col_int64(st, 0);
        snprintf(why, whylen, "period %s of data set %s was approved for %s "
                 "by %s: the value is held until an admin accepts or "
                 "refuses it (kỳ đã duyệt, giá trị chờ xem xét)", pe,
                 cds_sql_col_text(st, 1), cds_sql_col_text(st, 2),
                 cds_sql_col_text(st, 3));
    }
    cds_sql_finalize(&st);
    return locked;
}

int
approval_hold(store_t *store, int64_t agent_id, const cds_update_t *u,
              int64_t approval_id, int64_t now_ms)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_HOLD, 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":agent", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) u->seq);
    cds_sql_bind_text(st, ":ou", u->org_unit);
    cds_sql_bind_text(st, ":de", u->indicator);
    cds_sql_bind_text(st, ":coc", u->disagg);
    cds_sql_bind_text(st, ":pe", u->period);
    cds_sql_bind_text(st, ":value", u->value ? u->value : "");
    cds_sql_bind_int64(st, ":deleted", u->deleted);
    cds_sql_bind_text(st, ":by", u->stored_by ? u->stored_by : "");
    cds_sql_bind_int64(st, ":aid", approval_id);
    cds_sql_bind_int64(st, ":at", now_ms);
    int rc = cds_sql_run(st);
    cds_sql_finalize(&st);
    return rc;
}

static int
held_row(cds_sql_stmt_t *st, approval_held_t *h)
{
    memset(h, 0, sizeof *h);
    h->id = cds_sql_col_int64(st, 0);
    h->org_unit = col_dup(st, 1);
    h->indicator = col_dup(st, 2);
    h->disagg = col_dup(st, 3);
    h->period = col_dup(st, 4);
    h->value = col_dup(st, 5);
    h->deleted = cds_sql_col_int(st, 6) != 0;
    h->stored_by = col_dup(st, 7);
    h->fpr = col_dup(st, 8);
    h->seq = (uint64_t) cds_sql_col_int64(st, 9);
    h->at_ms = cds_sql_col_int64(st, 10);
    if (cds_sql_col_type(st, 11) != CDS_SQL_NULL)
        h->decided = cds_sql_col_int(st, 11) ? 1 : -1;
    h->actor = col_dup(st, 12);
    h->reason = col_dup(st, 13);
    h->decided_ms = cds_sql_col_type(st, 14) == CDS_SQL_NULL
                        ? 0 : cds_sql_col_int64(st, 14);
    h->current = col_dup(st, 15);
    return h->org_unit && h->indicator && h->disagg && h->period && h->value
                   && h->stored_by && h->fpr && h->actor && h->reason
                   && h->current
               ? CDS_OK : CDS_ENOMEM;
}

int
approval_held_list(store_t *store, const char *root, bool open, int64_t id,
                   approval_held_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    cds_sql_stmt_t *st = store_read(store, APPROVAL_SQL_HELD, NULL);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":root", root ? root : "");
    cds_sql_bind_int64(st, ":open", open);
    cds_sql_bind_int64(st, ":id", id);
    int rc = CDS_OK, step;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW) {
        approval_held_t *a = realloc(*out, (*n + 1) * sizeof *a);
        if (!a) {
            rc = CDS_ENOMEM;
            break;
        }
        *out = a;
        rc = held_row(st, &a[(*n)++]);
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;
    cds_sql_finalize(&st);
    return rc;
}

void
approval_held_free(approval_held_t *h, size_t n)
{
    for (size_t i = 0; h && i < n; i++) {
        free(h[i].org_unit), free(h[i].indicator), free(h[i].disagg);
        free(h[i].period), free(h[i].value), free(h[i].stored_by);
        free(h[i].fpr), free(h[i].actor), free(h[i].reason);
        free(h[i].current);
    }
    free(h);
}

int
approval_decide(store_t *store, int64_t id, bool accepted, const char *actor,
                const char *reason, int64_t now_ms)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_DECIDE, 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":id", id);
    cds_sql_bind_int64(st, ":accepted", accepted);
    cds_sql_bind_text(st, ":actor", actor ? actor : "");
    cds_sql_bind_text(st, ":reason", reason ? reason : "");
    cds_sql_bind_int64(st, ":at", now_ms);
    int rc = cds_sql_run(st);
    cds_sql_finalize(&st);
    return rc;
}

int
approval_list(store_t *store, const char *root, const char *pe,
              approval_row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), APPROVAL_SQL_LIST,
                                         0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":root", root ? root : "");
    cds_sql_bind_text(st, ":pe", pe ? pe : "");
    int rc = CDS_OK, step;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW) {
        approval_row_t *a = realloc(*out, (*n + 1) * sizeof *a);
        if (!a) {
            rc = CDS_ENOMEM;
            break;
        }
        *out = a;
        approval_row_t *r = &a[(*n)++];
        r->dataset = col_dup(st, 0);
        r->org_unit = col_dup(st, 1);
        r->period = col_dup(st, 2);
        r->approved = strcmp(cds_sql_col_text(st, 3), "approve") == 0;
        r->actor = col_dup(st, 4);
        r->reason = col_dup(st, 5);
        r->at_ms = cds_sql_col_int64(st, 6);
        if (!r->dataset || !r->org_unit || !r->period || !r->actor
            || !r->reason)
            rc = CDS_ENOMEM;
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;
    cds_sql_finalize(&st);
    return rc;
}

void
approval_list_free(approval_row_t *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].dataset), free(r[i].org_unit), free(r[i].period);
        free(r[i].actor), free(r[i].reason);
    }
    free(r);
}

int
approval_in_subtree(store_t *store, const char *root, const char *ou)
{
    if (!root || !root[0])
        return 1;
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_IN_SUBTREE, 0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_text(st, ":root", root);
    int step = cds_sql_step(st);
    cds_sql_finalize(&st);
    return step == CDS_SQL_ROW ? 1 : step == CDS_SQL_DONE ? 0 : -step;
}

int
approval_held_of(store_t *store, int64_t agent_id, uint64_t seq,
                 int64_t *held_id)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         APPROVAL_SQL_HELD_OF, 0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_int64(st, ":agent", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) seq);
    int step = cds_sql_step(st);
    int found = step == CDS_SQL_ROW ? 1 : step == CDS_SQL_DONE ? 0 : -step;
    if (found == 1)
        *held_id = cds_sql_col_int64(st, 0);
    cds_sql_finalize(&st);
    return found;
}
