/*  health_sql: the SQL of aggregator/core/health.c (and its schema migration),
 *  kept together with named parameters (STYLE.md "SQLite"). health.c
 *  prepares each statement once and resets it after every step.
 *
 *  Schema (added by HEALTH_SQL_MIGRATION: health_migration, store.h):
 *    agent_health(agent_id PK -> agent.id, last_batch_ms, last_heartbeat_ms,
 *        queue_depth, oldest_pending_ms, bytes_pending, reported_acked_seq,
 *        send_errors, agent_version, clock_offset_ms, inferred_lag_ms,
 *        accepted_total, rejected_total, refused_total, batches_total,
 *        heartbeats_total, last_reject_code, last_reject_message,
 *        last_reject_ms, metadata_version (HEALTH_VERSION_SQL_MIGRATION))
 *                                   one row per agent that ever spoke
 *    agent_health_bucket(agent_id, bucket = ms / HEALTH_BUCKET_MS,
 *        accepted, rejected, refused)  5-minute counts, pruned after a day
 *    update_log.retried_at_ms, update_log.retried_from (old status) and
 *    reject.retried_at_ms, reject.retry_result: `rejects retry` records
 *    (the update_log pair is NULL since store's migration to version 10:
 *    a retry is an update_status row, store.h). */
#ifndef AGG_HEALTH_SQL_H
#define AGG_HEALTH_SQL_H

#define HEALTH_SQL_MIGRATION                                                 \
    "CREATE TABLE agent_health ("                                            \
    " agent_id INTEGER PRIMARY KEY REFERENCES agent(id),"                    \
    " last_batch_ms INTEGER, last_heartbeat_ms INTEGER,"                     \
    " queue_depth INTEGER, oldest_pending_ms INTEGER, bytes_pending INTEGER,"\
    " reported_acked_seq INTEGER, send_errors INTEGER, agent_version TEXT,"  \
    " clock_offset_ms INTEGER, inferred_lag_ms INTEGER,"                     \
    " accepted_total INTEGER NOT NULL DEFAULT 0,"                            \
    " rejected_total INTEGER NOT NULL DEFAULT 0,"                            \
    " refused_total INTEGER NOT NULL DEFAULT 0,"                             \
    " batches_total INTEGER NOT NULL DEFAULT 0,"                             \
    " heartbeats_total INTEGER NOT NULL DEFAULT 0,"                          \
    " last_reject_code INTEGER, last_reject_message TEXT,"                   \
    " last_reject_ms INTEGER);"                                              \
    "CREATE TABLE agent_health_bucket ("                                     \
    " agent_id INTEGER NOT NULL REFERENCES agent(id),"                       \
    " bucket INTEGER NOT NULL,"                                              \
    " accepted INTEGER NOT NULL DEFAULT 0,"                                  \
    " rejected INTEGER NOT NULL DEFAULT 0,"                                  \
    " refused INTEGER NOT NULL DEFAULT 0,"                                   \
    " PRIMARY KEY (agent_id, bucket)) WITHOUT ROWID;"                        \
    "ALTER TABLE update_log ADD COLUMN retried_at_ms INTEGER;"               \
    "ALTER TABLE update_log ADD COLUMN retried_from INTEGER;"                \
    "ALTER TABLE reject ADD COLUMN retried_at_ms INTEGER;"                   \
    "ALTER TABLE reject ADD COLUMN retry_result INTEGER;"                    \
    "CREATE INDEX reject_at ON reject(at_ms);"
/* PostgreSQL: the same step on STORE_SQL_PG_SCHEMA (store_sql.h). */
#define HEALTH_SQL_PG_SCHEMA                                                 \
    "CREATE TABLE agent_health ("                                            \
    " agent_id BIGINT PRIMARY KEY REFERENCES agent(id),"                     \
    " last_batch_ms BIGINT, last_heartbeat_ms BIGINT,"                       \
    " queue_depth BIGINT, oldest_pending_ms BIGINT, bytes_pending BIGINT,"   \
    " reported_acked_seq BIGINT, send_errors BIGINT, agent_version TEXT,"    \
    " clock_offset_ms BIGINT, inferred_lag_ms BIGINT,"                       \
    " accepted_total BIGINT NOT NULL DEFAULT 0,"                             \
    " rejected_total BIGINT NOT NULL DEFAULT 0,"                             \
    " refused_total BIGINT NOT NULL DEFAULT 0,"                              \
    " batches_total BIGINT NOT NULL DEFAULT 0,"                              \
    " heartbeats_total BIGINT NOT NULL DEFAULT 0,"                           \
    " last_reject_code BIGINT, last_reject_message TEXT,"                    \
    " last_reject_ms BIGINT);"                                               \
    "CREATE TABLE agent_health_bucket ("                                     \
    " agent_id BIGINT NOT NULL REFERENCES agent(id),"                        \
    " bucket BIGINT NOT NULL,"                                               \
    " accepted BIGINT NOT NULL DEFAULT 0,"                                   \
    " rejected BIGINT NOT NULL DEFAULT 0,"                                   \
    " refused BIGINT NOT NULL DEFAULT 0,"                                    \
    " PRIMARY KEY (agent_id, bucket));"                                      \
    "ALTER TABLE update_log ADD COLUMN retried_at_ms BIGINT;"                \
    "ALTER TABLE update_log ADD COLUMN retried_from BIGINT;"                 \
    "ALTER TABLE reject ADD COLUMN retried_at_ms BIGINT;"                    \
    "ALTER TABLE reject ADD COLUMN retry_result BIGINT;"                     \
    "CREATE INDEX reject_at ON reject(at_ms);"

/* The metadata version each agent reports in its heartbeats (issue 20):
 * a store step of its own (store.c lists it in version order). The name
 * sorts after HEALTH_SQL_PG_SCHEMA, the order tests/pg/sql_dialect.py
 * applies the PostgreSQL parts in. */
#define HEALTH_VERSION_SQL_MIGRATION                                        \
    "ALTER TABLE agent_health ADD COLUMN metadata_version INTEGER;"
#define HEALTH_VERSION_SQL_PG_SCHEMA                                        \
    "ALTER TABLE agent_health ADD COLUMN metadata_version BIGINT;"

/* One batch: counts, inferred lag; last reject only when :code is set;
 * clock offset (Batch.sent_at_ms - arrival) only when :offset is set. */
#define HEALTH_SQL_BATCH                                                     \
    "INSERT INTO agent_health(agent_id, last_batch_ms, accepted_total,"      \
    " rejected_total, batches_total, inferred_lag_ms, last_reject_code,"     \
    " last_reject_message, last_reject_ms, clock_offset_ms)"                 \
    " VALUES (:id, :now, :acc, :rej, 1, :lag, :code, :msg,"                  \
    "  CASE WHEN CAST(:code AS BIGINT) IS NULL THEN NULL"                    \
    "  ELSE CAST(:now AS BIGINT) END, :offset)"                              \
    " ON CONFLICT(agent_id) DO UPDATE SET last_batch_ms = :now,"             \
    " accepted_total = agent_health.accepted_total + :acc,"                  \
    " rejected_total = agent_health.rejected_total + :rej,"                  \
    " batches_total = agent_health.batches_total + 1, inferred_lag_ms = :lag,"\
    " clock_offset_ms = coalesce(:offset, agent_health.clock_offset_ms),"    \
    " last_reject_code = coalesce(:code, agent_health.last_reject_code),"    \
    " last_reject_message = CASE WHEN CAST(:code AS BIGINT) IS NULL"         \
    "  THEN agent_health.last_reject_message ELSE :msg END,"                 \
    " last_reject_ms = CASE WHEN CAST(:code AS BIGINT) IS NULL"              \
    "  THEN agent_health.last_reject_ms ELSE :now END"
/* Held heartbeats (health_flush): the last one's figures, :count of them
 * since the last flush. */
#define HEALTH_SQL_HEARTBEAT                                                 \
    "INSERT INTO agent_health(agent_id, last_heartbeat_ms, queue_depth,"     \
    " oldest_pending_ms, bytes_pending, reported_acked_seq, send_errors,"    \
    " agent_version, clock_offset_ms, heartbeats_total, metadata_version)"   \
    " VALUES (:id, :now, :depth, :oldest, :bytes, :acked, :errors,"          \
    "  :version, :offset, :count, :metadata)"                                \
    " ON CONFLICT(agent_id) DO UPDATE SET last_heartbeat_ms = :now,"         \
    " queue_depth = :depth, oldest_pending_ms = :oldest,"                    \
    " bytes_pending = :bytes, reported_acked_seq = :acked,"                  \
    " send_errors = :errors, agent_version = :version,"                      \
    " clock_offset_ms = coalesce(:offset, agent_health.clock_offset_ms),"    \
    " heartbeats_total = agent_health.heartbeats_total + :count,"            \
    " metadata_version = :metadata"
/* A held last-seen time goes to agent.last_seen_ms through the store
 * (store_agent_seen_max: never moves it back, a batch may be newer). */
#define HEALTH_SQL_REFUSED                                                   \
    "INSERT INTO agent_health(agent_id, refused_total, last_reject_code,"    \
    " last_reject_message, last_reject_ms)"                                  \
    " VALUES (:id, 1, :code, :msg, :now)"                                    \
    " ON CONFLICT(agent_id) DO UPDATE SET"                                   \
    " refused_total = agent_health.refused_total + 1,"                       \
    " last_reject_code = :code, last_reject_message = :msg,"                 \
    " last_reject_ms = :now"
/* A per-update rejection made good by `rejects retry`. */
#define HEALTH_SQL_RETRIED                                                   \
    "INSERT INTO agent_health(agent_id, accepted_total) VALUES (:id, 1)"     \
    " ON CONFLICT(agent_id) DO UPDATE SET"                                   \
    " accepted_total = agent_health.accepted_total + 1"
#define HEALTH_SQL_BUCKET                                                    \
    "INSERT INTO agent_health_bucket(agent_id, bucket, accepted, rejected,"  \
    " refused) VALUES (:id, :bucket, :acc, :rej, :ref)"                      \
    " ON CONFLICT(agent_id, bucket) DO UPDATE SET"                           \
    " accepted = agent_health_bucket.accepted + excluded.accepted,"          \
    " rejected = agent_health_bucket.rejected + excluded.rejected,"          \
    " refused = agent_health_bucket.refused + excluded.refused"
#define HEALTH_SQL_PRUNE                                                     \
    "DELETE FROM agent_health_bucket WHERE bucket < :before"
/* Every enrolled agent with its health row (NULLs when it never spoke),
 * its commune name(s) from the orgunit table, windowed counts, the
 * newest published metadata version and when the first version newer
 * than the agent's was published (0: none newer). */
/* GROUP_CONCAT: "group_concat" (SQLite) or "string_agg" (PostgreSQL);
 * ORDER: "" or the aggregate's ORDER BY (SQLite 3.40 has none; its scan
 * of agent_orgunit's key gives org unit order). */
#define HEALTH_SQL_LIST_WITH(GROUP_CONCAT, ORDER)                            \
    "SELECT a.id, a.fpr, a.label, a.enrolled_at_ms,"                         \
    " coalesce(a.revoked_at_ms, 0), a.applied_seq,"                          \
    " coalesce(a.last_seen_ms, 0),"                                          \
    " coalesce((SELECT " GROUP_CONCAT "(coalesce(o.name, ao.org_unit), ', '"\
    ORDER ")"                                                                \
    "  FROM agent_orgunit ao LEFT JOIN orgunit o ON o.code = ao.org_unit"    \
    "  WHERE ao.agent_id = a.id), ''),"                                      \
    " coalesce((SELECT " GROUP_CONCAT "(ao.org_unit, ','" ORDER ")"          \
    "  FROM agent_orgunit ao"                                                \
    "  WHERE ao.agent_id = a.id), ''),"                                      \
    " coalesce(h.last_batch_ms, 0), coalesce(h.last_heartbeat_ms, 0),"       \
    " coalesce(h.queue_depth, 0), coalesce(h.oldest_pending_ms, 0),"         \
    " coalesce(h.bytes_pending, 0), coalesce(h.reported_acked_seq, 0),"      \
    " coalesce(h.send_errors, 0), coalesce(h.agent_version, ''),"            \
    " coalesce(h.clock_offset_ms, 0), coalesce(h.inferred_lag_ms, 0),"       \
    " coalesce(h.accepted_total, 0), coalesce(h.rejected_total, 0),"         \
    " coalesce(h.refused_total, 0), coalesce(h.batches_total, 0),"           \
    " coalesce(h.heartbeats_total, 0), coalesce(h.last_reject_code, 0),"     \
    " coalesce(h.last_reject_message, ''), coalesce(h.last_reject_ms, 0),"   \
    " (SELECT coalesce(sum(accepted), 0) FROM agent_health_bucket b"         \
    "  WHERE b.agent_id = a.id AND b.bucket >= :hour),"                      \
    " (SELECT coalesce(sum(rejected + refused), 0) FROM agent_health_bucket" \
    "  b WHERE b.agent_id = a.id AND b.bucket >= :hour),"                    \
    " (SELECT coalesce(sum(accepted), 0) FROM agent_health_bucket b"         \
    "  WHERE b.agent_id = a.id AND b.bucket >= :day),"                       \
    " (SELECT coalesce(sum(rejected + refused), 0) FROM agent_health_bucket" \
    "  b WHERE b.agent_id = a.id AND b.bucket >= :day),"                     \
    " coalesce(h.metadata_version, 0),"                                      \
    " (SELECT coalesce(max(version), 0) FROM metadata_version),"             \
    " (SELECT coalesce(min(m.published_ms), 0) FROM metadata_version m"      \
    "  WHERE m.version > coalesce(h.metadata_version, 0))"                   \
    " FROM agent a LEFT JOIN agent_health h ON h.agent_id = a.id"            \
    " WHERE a.label IS DISTINCT FROM :central" /* the aggregator's own */
#define HEALTH_SQL_LIST HEALTH_SQL_LIST_WITH("group_concat", "")
/* PostgreSQL has no group_concat: string_agg, the same arguments, in org
 * unit order as SQLite gives them (else in whatever order the plan reads
 * them), bytewise as SQLite compares text (a database's collation may be
 * a language's). */
#define HEALTH_SQL_LIST_PG                                                   \
    HEALTH_SQL_LIST_WITH("string_agg", " ORDER BY ao.org_unit COLLATE \"C\"")
/* Whole-message rejections by reason (all keys, enrolled or not). */
#define HEALTH_SQL_REFUSED_BY_CODE                                           \
    "SELECT code, count(*) FROM reject GROUP BY code ORDER BY code"

#endif
