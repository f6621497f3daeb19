/*  retention_sql: the SQL of aggregator/core/retention.c (STYLE.md
 *  "SQLite"), prepared per `prune`. The texts run on SQLite and PostgreSQL
 *  alike. */
#ifndef AGG_RETENTION_SQL_H
#define AGG_RETENTION_SQL_H

#define RETENTION_SQL_REJECTS                                                \
    "SELECT count(*) FROM reject WHERE at_ms < :cutoff"
#define RETENTION_SQL_KNOCKS                                                 \
    "SELECT count(*) FROM knock WHERE last_ms < :cutoff"
#define RETENTION_SQL_BUCKETS                                                \
    "SELECT count(*) FROM agent_health_bucket WHERE bucket < :cutoff"
/* At most :n rows a go (the table has no rowid: by its primary key). */
#define RETENTION_SQL_BUCKETS_PRUNE                                          \
    "DELETE FROM agent_health_bucket WHERE (agent_id, bucket) IN"            \
    " (SELECT agent_id, bucket FROM agent_health_bucket"                     \
    "  WHERE bucket < :cutoff LIMIT :n)"

#endif
