/*  followup: the admin's follow-up flag and its history (followup.h). */
#include "followup.h"

#include "cds_err.h"
#include "cds_sql.h"
#include "followup_sql.h"

#include <stdlib.h>
#include <string.h>

const char followup_migration[] = FOLLOWUP_SQL_MIGRATION;   /* store.h */
const char followup_pg_schema[] = FOLLOWUP_SQL_PG_SCHEMA;   /* store.h */

static void
bind_key(cds_sql_stmt_t *st, const char *ou, const char *de, const char *pe)
{
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_text(st, ":de", de);
    cds_sql_bind_text(st, ":pe", pe);
}

int
followup_flagged(store_t *store, const char *ou, const char *de,
                 const char *pe, bool *flag)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), FOLLOWUP_SQL_NOW, 0);
    *flag = false;
    if (!st)
        return CDS_ERROR;
    bind_key(st, ou, de, pe);
    int step = cds_sql_step(st);
    if (step == CDS_SQL_ROW)
        *flag = cds_sql_col_int(st, 0) != 0;
    cds_sql_finalize(&st);
    return step == CDS_SQL_ROW || step == CDS_SQL_DONE ? CDS_OK : step;
}

int
followup_change(store_t *store, const char *ou, const char *de,
                const char *pe, bool flag, const char *note,
                const char *actor, int64_t now_ms, char *err, size_t errlen)
{
    bool now;
    int rc = followup_flagged(store, ou, de, pe, &now);
    if (rc != CDS_OK)
        return rc;
    if (now == flag) {
        snprintf(err, errlen, "%s %s %s: %s", ou, de, pe,
                 flag ? "already flagged for follow-up"
                      : "not flagged for follow-up");
        return CDS_EBADVALUE;
    }
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), FOLLOWUP_SQL_ADD, 0);
    if (!st)
        return CDS_ERROR;
    bind_key(st, ou, de, pe);
    cds_sql_bind_int64(st, ":flag", flag ? 1 : 0);
    cds_sql_bind_text(st, ":note", note ? note : "");
    cds_sql_bind_text(st, ":actor", actor ? actor : "");
    cds_sql_bind_int64(st, ":at", now_ms);
    rc = cds_sql_run(st);
    cds_sql_finalize(&st);
    return rc;
}

void
followup_history_free(followup_entry_t *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].note);
        free(e[i].actor);
    }
    free(e);
}

static int
entry_add(cds_sql_stmt_t *st, followup_entry_t **out, size_t *n)
{
    followup_entry_t *a = realloc(*out, (*n + 1) * sizeof *a);
    if (!a)
        return CDS_ENOMEM;
    *out = a;
    followup_entry_t *e = &a[(*n)++];
    e->flag = cds_sql_col_int(st, 0) != 0;
    e->note = strdup(cds_sql_col_text(st, 1) ? cds_sql_col_text(st, 1) : "");
    e->actor = strdup(cds_sql_col_text(st, 2) ? cds_sql_col_text(st, 2)
                                              : "");
    e->at_ms = cds_sql_col_int64(st, 3);
    return e->note && e->actor ? CDS_OK : CDS_ENOMEM;
}

int
followup_history(store_t *store, const char *ou, const char *de,
                 const char *pe, followup_entry_t **out, size_t *n)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         FOLLOWUP_SQL_HISTORY, 0);
    *out = NULL;
    *n = 0;
    if (!st)
        return CDS_ERROR;
    bind_key(st, ou, de, pe);
    int step, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        rc = entry_add(st, out, n);
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;
    cds_sql_finalize(&st);
    if (rc != CDS_OK) {
        followup_history_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
