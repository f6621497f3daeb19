/*  rejects_sql: the SQL of aggregator/core/rejects.c (the operator's view of
 *  the reject table and of per-update rejections in update_log), kept
 *  together with named parameters. Columns added by HEALTH_SQL_MIGRATION
 *  (health_sql.h): reject.retried_at_ms, reject.retry_result,
 *  update_log.retried_at_ms, update_log.retried_from. */
#ifndef AGG_REJECTS_SQL_H
#define AGG_REJECTS_SQL_H

/* Both kinds, oldest first. Whole messages: id = reject.id, kind 'm'.
 * Updates: kind 'u', id = seq, shown as FPR:SEQ; one retried later stays
 * listed with its first reason (retried_from). Cost: update_log is scanned
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
    " SELECT 'u', u.seq, u.received_at_ms, a.fpr, a.label,"                  \
    "  CASE WHEN u.status != 0 THEN u.status ELSE u.retried_from END,"       \
    "  coalesce(u.field, ''), coalesce(u.message, ''), u.seq, u.seq,"        \
    "  coalesce(u.retried_at_ms, 0), CASE WHEN u.retried_at_ms IS NULL"      \
    "  THEN -1 ELSE u.status END"                                            \
    " FROM update_log u JOIN agent a ON a.id = u.agent_id"                   \
    " WHERE u.status != 0 OR u.retried_from IS NOT NULL)"                    \
    " WHERE at_ms >= :since"                                                 \
    " AND (:agent IS NULL OR fpr = :agent OR label = :agent)"                \
    " AND (:code IS NULL OR code = :code)"                                   \
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
#define REJECTS_SQL_UPDATE_GET                                               \
    "SELECT u.status, coalesce(u.field, ''), coalesce(u.message, ''),"       \
    " u.org_unit, u.indicator, u.period, u.disagg, coalesce(u.value, ''),"   \
    " u.deleted, u.comment, u.stored_by, u.followup, u.hlc,"                 \
    " u.received_at_ms, u.batch_id, coalesce(u.retried_at_ms, 0),"           \
    " coalesce(u.retried_from, 0)"                                           \
    " FROM update_log u WHERE u.agent_id = :agent_id AND u.seq = :seq"
/* Exactly once: only a row still rejected flips to applied. */
#define REJECTS_SQL_UPDATE_APPLIED                                           \
    "UPDATE update_log SET retried_from = status, status = 0,"               \
    " retried_at_ms = :now WHERE agent_id = :agent_id AND seq = :seq"        \
    " AND status != 0"

#endif
