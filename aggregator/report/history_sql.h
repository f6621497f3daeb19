/*  history_sql: the SQL of history.c (STYLE.md "SQLite"). The
 *  update_log_key index it reads by is STORE_SQL_MIGRATION_ADMIN's. */
#ifndef AGG_HISTORY_SQL_H
#define AGG_HISTORY_SQL_H

#include "store.h"                     /* STORE_SQL_STATUS_NOW */

/* Every update ever received for one key, in last-writer-wins order (the
 * order the merge ranks them), with the agent and the batch it came in. */
#define HISTORY_SQL_HISTORY                                                  \
    "SELECT u.seq, " STORE_SQL_STATUS_NOW("u") ", coalesce(u.field, ''),"     \
    " coalesce(u.message, ''),"                                              \
    " u.value, u.deleted, coalesce(u.comment, ''),"                          \
    " coalesce(u.stored_by, ''), u.followup, u.hlc, u.received_at_ms,"       \
    " u.batch_id, u.content_hash, a.fpr, a.label, a.sign_pk, b.envelope,"    \
    " u.disagg, coalesce(u.meta_version, 0)"                                \
    " FROM update_log u JOIN agent a ON a.id = u.agent_id"                   \
    " JOIN batch b ON b.id = u.batch_id"                                     \
    " WHERE u.org_unit = :ou AND u.indicator = :de AND u.period = :pe"       \
    " AND (CAST(:disagg AS TEXT) IS NULL OR u.disagg = :disagg)"                           \
    " ORDER BY u.hlc, a.sign_pk, u.seq"

#endif
