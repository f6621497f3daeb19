/*  rejects_sql: the SQL of aggregator/core/rejects.c (the operator's view of
 *  the reject table and of per-update rejections in update_log), kept
 *  together with named parameters. Columns added by HEALTH_SQL_MIGRATION
 *  (health_sql.h): reject.retried_at_ms, reject.retry_result; a retried
 *  update is an update_status row (store.h), update_log is not edited. */
#ifndef AGG_REJECTS_SQL_H
#define AGG_REJECTS_SQL_H

/* The latest status change of update_log row u, if any (store.h:
 * update_status, appended by `rejects retry`). */
#define REJECTS_SQL_LAST_CHANGE                                              \
    " LEFT JOIN update_status s ON s.id = (SELECT max(t.id)"                 \
    " FROM update_status t WHERE t.agent_id = u.agent_id AND t.seq = u.seq)"
/* Both kinds, oldest first. Whole messages: id = reject.id, kind 'm'.
 * Updates: kind 'u', id = seq, shown as FPR:SEQ; update_log keeps the
 * reason it arrived with, so one retried later stays listed with it, the
 * retry (time, result) from update_status. Cost: update_log is scanned
 * for status != 0 (fine for an operator command). */
#define REJECTS_SQL_LIST                                                     \
    "SELECT * FROM ("                                                        \
    " SELECT 'm' AS kind, r.id AS id, r.at_ms AS at_ms,"                     \
    "  coalesce(a.fpr, '') AS fpr, coalesce(a.label, '') AS label,"          \
    "  r.code AS code, coalesce(r.field, '') AS field,"                      \
    "  coalesce(r.message, '') AS message, coalesce(r.first_seq, 0) AS a1,"  \
    "  coalesce(r.last_seq, 0) AS a2, coalesce(r.retried_at_ms, 0) AS rt,"   \
    "  coalesce(r.retry_result, -1) AS rr"                                   \
    " FROM reject r LEFT JOIN agent a ON a.sign_pk = r.agent_pk"             \
    " UNION ALL"                                                             \
    " SELECT 'u', u.seq, u.received_at_ms, a.fpr, a.label, u.status,"        \
    "  coalesce(u.field, ''), coalesce(u.message, ''), u.seq, u.seq,"        \
    "  coalesce(s.at_ms, 0), coalesce(s.status, -1)"                         \
    " FROM update_log u JOIN agent a ON a.id = u.agent_id"                   \
    REJECTS_SQL_LAST_CHANGE                                                  \
    " WHERE u.status != 0) AS listed"                                        \
    " WHERE at_ms >= :since"                                                 \
    " AND (CAST(:agent AS TEXT) IS NULL OR fpr = :agent OR label = :agent)"  \
    " AND (CAST(:code AS BIGINT) IS NULL OR code = :code)"                   \
    " ORDER BY at_ms, kind, id"
#define REJECTS_SQL_GET                                                      \
    "SELECT r.at_ms, r.agent_pk, r.code, coalesce(r.field, ''),"             \
    " coalesce(r.message, ''), coalesce(r.first_seq, 0),"                    \
    " coalesce(r.last_seq, 0), coalesce(r.seq, 0), r.raw,"                   \
    " coalesce(r.retried_at_ms, 0), coalesce(r.retry_result, -1),"          \
    " coalesce(r.kind, 0), r.raw_size, r.raw_digest"                         \
    " FROM reject r WHERE r.id = :id"
#define REJECTS_SQL_MARK                                                     \
    "UPDATE reject SET retried_at_ms = :now, retry_result = :result"         \
    " WHERE id = :id"
/* One update: its status now (0 once retried), fields, and the retry
 * (time, the reason it had) when it was applied by one. */
#define REJECTS_SQL_UPDATE_GET                                               \
    "SELECT coalesce(s.status, u.status), coalesce(u.field, ''),"            \
    " coalesce(u.message, ''),"                                              \
    " u.org_unit, u.indicator, u.period, u.disagg, coalesce(u.value, ''),"   \
    " u.deleted, u.comment, u.stored_by, u.followup, u.hlc,"                 \
    " u.received_at_ms, u.batch_id, coalesce(s.at_ms, 0),"                   \
    " coalesce(s.from_status, 0)"                                            \
    " FROM update_log u" REJECTS_SQL_LAST_CHANGE                             \
    " WHERE u.agent_id = :agent_id AND u.seq = :seq"
/* The retry itself is a store operation (store_log_retried): history is
 * written by store alone, and only appended to. */

#endif
