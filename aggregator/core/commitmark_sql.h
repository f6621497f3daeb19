/*  commitmark_sql: the SQL of aggregator/core/commitmark.c (and its schema
 *  migration), kept together with named parameters (STYLE.md "SQLite").
 *  commitmark.c prepares each statement once and resets it after use.
 *  The texts run on SQLite and PostgreSQL alike; a NAME_PG beside one is
 *  its PostgreSQL text.
 *
 *  Schema (added by COMMITMARK_SQL_MIGRATION: commitmark_migration, store.h):
 *    commit_mark(id = 1, db_id BLOB(16) random at creation, counter)
 *        one row; counter + 1 in every group commit that sends acks
 *    restore_event(id PK, at_ms, reason, db_counter, mark_counter,
 *        mark_db_id, note)          one row per `accept-restore`
 *    restore_pending(agent_id PK, event_id, applied_seq)  agents whose
 *        next hello is compared with what they hold acks for
 *    restore_loss(event_id, agent_id, first_seq, last_seq, at_ms)  acked
 *        updates the restored database does not have, per agent */
#ifndef AGG_COMMITMARK_SQL_H
#define AGG_COMMITMARK_SQL_H

#define COMMITMARK_SQL_MIGRATION                                             \
    "CREATE TABLE commit_mark ("                                             \
    " id INTEGER PRIMARY KEY CHECK (id = 1),"                                \
    " db_id BLOB NOT NULL CHECK (length(db_id) = 16),"                       \
    " counter INTEGER NOT NULL);"                                            \
    "INSERT INTO commit_mark(id, db_id, counter) VALUES (1, randomblob(16), 0);"\
    "CREATE TABLE restore_event ("                                           \
    " id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, reason TEXT NOT NULL," \
    " db_counter INTEGER NOT NULL, mark_counter INTEGER, mark_db_id BLOB,"   \
    " note TEXT NOT NULL DEFAULT '');"                                       \
    "CREATE TABLE restore_pending ("                                         \
    " agent_id INTEGER PRIMARY KEY REFERENCES agent(id),"                    \
    " event_id INTEGER NOT NULL REFERENCES restore_event(id),"               \
    " applied_seq INTEGER NOT NULL);"                                        \
    "CREATE TABLE restore_loss ("                                            \
    " event_id INTEGER NOT NULL REFERENCES restore_event(id),"               \
    " agent_id INTEGER NOT NULL REFERENCES agent(id),"                       \
    " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"                \
    " at_ms INTEGER NOT NULL, PRIMARY KEY (event_id, agent_id));"

#define COMMITMARK_SQL_GET                                                   \
    "SELECT db_id, counter FROM commit_mark WHERE id = 1"
/* Has this database ever stored a batch (could it have acked anything)? */
#define COMMITMARK_SQL_HAS_DATA                                              \
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM batch) THEN 1 ELSE 0 END"
#define COMMITMARK_SQL_BUMP                                                  \
    "UPDATE commit_mark SET counter = counter + 1 WHERE id = 1"              \
    " RETURNING db_id, counter"
#define COMMITMARK_SQL_EVENT_ADD                                             \
    "INSERT INTO restore_event(at_ms, reason, db_counter, mark_counter,"     \
    " mark_db_id, note) VALUES (:now, :reason, :db_counter, :mark_counter,"  \
    " :mark_db_id, :note)"
/* The new event id as a row (PostgreSQL has no last insert rowid). */
#define COMMITMARK_SQL_EVENT_ADD_PG COMMITMARK_SQL_EVENT_ADD " RETURNING id"
/* Every agent's hello after the accept is compared with its applied seq. */
#define COMMITMARK_SQL_PENDING_ALL                                           \
    "INSERT INTO restore_pending(agent_id, event_id, applied_seq)"           \
    " SELECT id, :event, applied_seq FROM agent WHERE revoked_at_ms IS NULL" \
    " ON CONFLICT (agent_id) DO UPDATE SET event_id = excluded.event_id,"    \
    " applied_seq = excluded.applied_seq"
#define COMMITMARK_SQL_PENDING_GET                                           \
    "SELECT event_id, applied_seq FROM restore_pending WHERE agent_id = :id"
#define COMMITMARK_SQL_PENDING_DEL                                           \
    "DELETE FROM restore_pending WHERE agent_id = :id"
#define COMMITMARK_SQL_LOSS_ADD                                              \
    "INSERT INTO restore_loss(event_id, agent_id, first_seq,"                \
    " last_seq, at_ms) VALUES (:event, :id, :first, :last, :now)"            \
    " ON CONFLICT (event_id, agent_id) DO UPDATE SET"                        \
    " first_seq = excluded.first_seq, last_seq = excluded.last_seq,"         \
    " at_ms = excluded.at_ms"
/* `restores`: events, then each loss with the agent's label. */
#define COMMITMARK_SQL_EVENTS                                                \
    "SELECT id, at_ms, reason, db_counter, coalesce(mark_counter, -1),"      \
    " note, (SELECT count(*) FROM restore_pending p"                         \
    " WHERE p.event_id = e.id)"                                              \
    " FROM restore_event e ORDER BY id"
#define COMMITMARK_SQL_LOSSES                                                \
    "SELECT l.event_id, a.fpr, a.label, l.first_seq, l.last_seq, l.at_ms"    \
    " FROM restore_loss l JOIN agent a ON a.id = l.agent_id"                 \
    " ORDER BY l.event_id, a.label, a.fpr"

#endif
