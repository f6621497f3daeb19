/*  outbox_sql: every SQL statement of agent/outbox.c, with named
 *  parameters. Statements are prepared once at open and reset after every
 *  step. The schema is migrated forward by cds_db (PRAGMA user_version). */
#ifndef AGENT_OUTBOX_SQL_H
#define AGENT_OUTBOX_SQL_H

/* Version 0 -> 1. */
#define OUTBOX_SQL_MIGRATION_1                                              \
    "CREATE TABLE meta ("                                                   \
    " id INTEGER PRIMARY KEY CHECK (id = 1),"                               \
    " acked_seq INTEGER NOT NULL DEFAULT 0,"                                \
    " acked_head BLOB NOT NULL DEFAULT (zeroblob(32)),"                     \
    " last_seq INTEGER NOT NULL DEFAULT 0,"                                 \
    " last_head BLOB NOT NULL DEFAULT (zeroblob(32)),"                      \
    " hlc_last INTEGER NOT NULL DEFAULT 0,"                                 \
    " conn_state TEXT NOT NULL DEFAULT 'stopped',"                          \
    " conn_changed_at_ms INTEGER NOT NULL DEFAULT 0,"                       \
    " last_error TEXT NOT NULL DEFAULT '',"                                 \
    " last_error_at_ms INTEGER NOT NULL DEFAULT 0,"                         \
    " last_ack_at_ms INTEGER NOT NULL DEFAULT 0);"                          \
    "INSERT INTO meta (id) VALUES (1);"                                     \
    "CREATE TABLE outbox ("                                                 \
    " seq INTEGER PRIMARY KEY,"                                             \
    " org_unit TEXT NOT NULL, indicator TEXT NOT NULL,"                     \
    " period TEXT NOT NULL, disagg TEXT NOT NULL, value TEXT NOT NULL,"     \
    " deleted INTEGER NOT NULL, comment TEXT, stored_by TEXT,"              \
    " followup INTEGER NOT NULL, hlc INTEGER NOT NULL,"                     \
    " hash BLOB NOT NULL, chain_head BLOB NOT NULL,"                        \
    " size INTEGER NOT NULL, queued_at_ms INTEGER NOT NULL,"                \
    " source TEXT NOT NULL);"                                               \
    "CREATE TABLE rejected ("                                               \
    " seq INTEGER PRIMARY KEY,"                                             \
    " org_unit TEXT NOT NULL, indicator TEXT NOT NULL,"                     \
    " period TEXT NOT NULL, disagg TEXT NOT NULL, value TEXT NOT NULL,"     \
    " deleted INTEGER NOT NULL, comment TEXT, stored_by TEXT,"              \
    " followup INTEGER NOT NULL, hlc INTEGER NOT NULL, source TEXT,"        \
    " code INTEGER NOT NULL, field TEXT NOT NULL, message TEXT NOT NULL,"   \
    " rejected_at_ms INTEGER NOT NULL);"                                    \
    "CREATE TABLE receipts ("                                               \
    " id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,"                 \
    " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"               \
    " acked_seq INTEGER NOT NULL, status INTEGER NOT NULL,"                 \
    " error INTEGER NOT NULL, message TEXT NOT NULL,"                       \
    " committed_at_ms INTEGER NOT NULL, received_at_ms INTEGER NOT NULL,"   \
    " envelope BLOB NOT NULL);"

/* Version 1 -> 2: the clock offset to the aggregator (agent/session.h). */
#define OUTBOX_SQL_MIGRATION_2                                              \
    "ALTER TABLE meta ADD COLUMN clock_offset_ms INTEGER NOT NULL"          \
    " DEFAULT 0;"                                                           \
    "ALTER TABLE meta ADD COLUMN clock_offset_at_ms INTEGER NOT NULL"       \
    " DEFAULT 0;"

/* Version 2 -> 3: the offset each row's stamp was made with (outbox.h).
 * Rows already queued get the offset in meta now: the one a version 2
 * submit stamped them with unless it was measured again since, and 0
 * (the raw clock, as version 1 stamped) when never measured. */
#define OUTBOX_SQL_MIGRATION_3                                              \
    "ALTER TABLE outbox ADD COLUMN stamp_offset_ms INTEGER NOT NULL"        \
    " DEFAULT 0;"                                                           \
    "UPDATE outbox SET stamp_offset_ms ="                                   \
    " (SELECT clock_offset_ms FROM meta WHERE id = 1);"

/* Version 3 -> 4: the signed batches the agent sent, kept after their ack
 * (outbox.h "Kept batches"): the exact envelope bytes, so that they can
 * be sent again unchanged when the aggregator lost them (a restored
 * database) or carried by file. size = length of envelope. */
#define OUTBOX_SQL_MIGRATION_4                                              \
    "CREATE TABLE sent_batch ("                                             \
    " first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL,"            \
    " envelope BLOB NOT NULL, sent_at_ms INTEGER NOT NULL,"                 \
    " acked_at_ms INTEGER NOT NULL, size INTEGER NOT NULL);"                \
    "CREATE INDEX sent_batch_last ON sent_batch (last_seq);"                \
    "CREATE INDEX sent_batch_acked ON sent_batch (acked_at_ms);"

/* Version 4 -> 5: exports by file (agent/carry.h). One row per file
 * written by `export-batches`: the seq range it holds. Its rows stay
 * pending until an ack covers them (over the link or by import-receipt);
 * `status` shows the exports whose range is not acked yet. */
#define OUTBOX_SQL_MIGRATION_5                                              \
    "CREATE TABLE carried ("                                                \
    " id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL,"                  \
    " last_seq INTEGER NOT NULL, batches INTEGER NOT NULL,"                 \
    " kept INTEGER NOT NULL, file TEXT NOT NULL,"                           \
    " carried_at_ms INTEGER NOT NULL);"

/* Version 5 -> 6: published metadata (docs/AGENT.md "Metadata from the
 * aggregator"): the version the agent validates with (0: its configured
 * files) and the newest one the aggregator announced, with when. */
#define OUTBOX_SQL_MIGRATION_6                                              \
    "ALTER TABLE meta ADD COLUMN metadata_version INTEGER NOT NULL"         \
    " DEFAULT 0;"                                                           \
    "ALTER TABLE meta ADD COLUMN metadata_latest INTEGER NOT NULL"          \
    " DEFAULT 0;"                                                           \
    "ALTER TABLE meta ADD COLUMN metadata_seen_at_ms INTEGER NOT NULL"      \
    " DEFAULT 0;"

/* Version 6 -> 7: metadata fetched from the aggregator (docs/AGENT.md
 * "Metadata from the aggregator"): every verified version received (the
 * one in use and the ones before it, for rollback), the last refusal,
 * and the pin a rollback sets (versions up to it are not fetched again
 * until a newer one is published). */
#define OUTBOX_SQL_MIGRATION_7                                              \
    "CREATE TABLE metadata (version INTEGER PRIMARY KEY,"                   \
    " bundle BLOB NOT NULL, signature BLOB NOT NULL,"                       \
    " received_at_ms INTEGER NOT NULL, summary TEXT NOT NULL);"             \
    "ALTER TABLE meta ADD COLUMN metadata_error TEXT NOT NULL DEFAULT '';"  \
    "ALTER TABLE meta ADD COLUMN metadata_error_at_ms INTEGER NOT NULL"     \
    " DEFAULT 0;"                                                           \
    "ALTER TABLE meta ADD COLUMN metadata_pinned INTEGER NOT NULL"          \
    " DEFAULT 0;"

/* Version 7 -> 8: values held back after a metadata change (docs/AGENT.md
 * "Values queued under an older version"): a pending row the version in
 * use no longer accepts leaves the chain for `held` (its columns as in
 * outbox; seq is the one it had), with the version that found it
 * invalid, the reason (code, field, message) and a suggested mapping
 * ("" none); pending_checked is the version the pending rows were last
 * checked with. */
#define OUTBOX_SQL_MIGRATION_8                                              \
    "CREATE TABLE held (id INTEGER PRIMARY KEY,"                            \
    " seq INTEGER NOT NULL, org_unit TEXT NOT NULL,"                        \
    " indicator TEXT NOT NULL, period TEXT NOT NULL, disagg TEXT NOT NULL," \
    " value TEXT NOT NULL, deleted INTEGER NOT NULL, comment TEXT,"         \
    " stored_by TEXT, followup INTEGER NOT NULL, hlc INTEGER NOT NULL,"     \
    " hash BLOB NOT NULL, chain_head BLOB NOT NULL, size INTEGER NOT NULL," \
    " queued_at_ms INTEGER NOT NULL, source TEXT NOT NULL,"                 \
    " stamp_offset_ms INTEGER NOT NULL, version INTEGER NOT NULL,"          \
    " code INTEGER NOT NULL, field TEXT NOT NULL, message TEXT NOT NULL,"   \
    " suggestion TEXT NOT NULL, held_at_ms INTEGER NOT NULL);"              \
    "ALTER TABLE meta ADD COLUMN pending_checked INTEGER NOT NULL"          \
    " DEFAULT 0;"

#define OUTBOX_SQL_HOLD                                                     \
    "INSERT INTO held (" OUTBOX_SQL_COLUMNS ", version, code, field,"       \
    " message, suggestion, held_at_ms) SELECT " OUTBOX_SQL_COLUMNS ","      \
    " :v, :code, :field, :message, :suggestion, :now FROM outbox"           \
    " WHERE seq = :seq"
#define OUTBOX_SQL_UNQUEUE "DELETE FROM outbox WHERE seq = :seq"
/* OUTBOX_SQL_COLUMNS first (row_from_stmt), then the hold. */
#define OUTBOX_SQL_HELD_LIST                                                \
    "SELECT " OUTBOX_SQL_COLUMNS ", id, version, code, field, message,"     \
    " suggestion, held_at_ms FROM held ORDER BY id"
#define OUTBOX_SQL_HELD_GET                                                 \
    "SELECT " OUTBOX_SQL_COLUMNS " FROM held WHERE id = :id"
#define OUTBOX_SQL_HELD_DELETE "DELETE FROM held WHERE id = :id"
#define OUTBOX_SQL_META_SET_CHECKED                                         \
    "UPDATE meta SET pending_checked = :v WHERE id = 1"

/* Version 8 -> 9: the source system's created / lastUpdated of an
 * imported value (cds_update.h created_ms, updated_ms; NULL: not given),
 * kept with the row because they are part of its content hash; in `held`
 * too, which keeps a row's OUTBOX_SQL_COLUMNS. */
#define OUTBOX_SQL_MIGRATION_9                                              \
    "ALTER TABLE outbox ADD COLUMN created_ms INTEGER;"                     \
    "ALTER TABLE outbox ADD COLUMN updated_ms INTEGER;"                     \
    "ALTER TABLE held ADD COLUMN created_ms INTEGER;"                       \
    "ALTER TABLE held ADD COLUMN updated_ms INTEGER;"

#define OUTBOX_SQL_METADATA_PUT                                             \
    "INSERT OR REPLACE INTO metadata (version, bundle, signature,"          \
    " received_at_ms, summary) VALUES (:v, :bundle, :sig, :now, :summary)"
#define OUTBOX_SQL_METADATA_USE                                             \
    "UPDATE meta SET metadata_version = :v, metadata_error = '',"           \
    " metadata_error_at_ms = 0, metadata_pinned = :pin WHERE id = 1"
#define OUTBOX_SQL_METADATA_GET                                             \
    "SELECT version, bundle, signature, received_at_ms, summary"            \
    " FROM metadata WHERE version = :v"
#define OUTBOX_SQL_METADATA_BEFORE                                          \
    "SELECT max(version) FROM metadata WHERE version < :v"
#define OUTBOX_SQL_METADATA_REFUSED                                         \
    "UPDATE meta SET metadata_error = :error,"                              \
    " metadata_error_at_ms = :now WHERE id = 1"

#define OUTBOX_SQL_CARRIED_ADD                                              \
    "INSERT INTO carried (first_seq, last_seq, batches, kept, file,"        \
    " carried_at_ms) VALUES (:first, :last, :batches, :kept, :file, :now)"

/* The exports not yet covered by an ack: count, range, the latest. */
#define OUTBOX_SQL_CARRIED_OPEN                                             \
    "SELECT count(*), coalesce(min(c.first_seq), 0),"                       \
    " coalesce(max(c.last_seq), 0),"                                        \
    " (SELECT file FROM carried WHERE last_seq > m.acked_seq"               \
    "  ORDER BY id DESC LIMIT 1),"                                          \
    " coalesce(max(c.carried_at_ms), 0)"                                    \
    " FROM carried c, meta m WHERE m.id = 1 AND c.last_seq > m.acked_seq"

#define OUTBOX_SQL_META_GET                                                 \
    "SELECT acked_seq, acked_head, last_seq, last_head, hlc_last,"          \
    " conn_state, conn_changed_at_ms, last_error, last_error_at_ms,"        \
    " last_ack_at_ms, clock_offset_ms, clock_offset_at_ms,"                 \
    " metadata_version, metadata_latest, metadata_seen_at_ms,"              \
    " metadata_error, metadata_error_at_ms, metadata_pinned,"               \
    " pending_checked FROM meta WHERE id = 1"

#define OUTBOX_SQL_META_SET_OFFSET                                          \
    "UPDATE meta SET clock_offset_ms = :offset,"                            \
    " clock_offset_at_ms = :now WHERE id = 1"

#define OUTBOX_SQL_META_SET_METADATA_LATEST                                 \
    "UPDATE meta SET metadata_latest = :latest,"                            \
    " metadata_seen_at_ms = :now WHERE id = 1"

#define OUTBOX_SQL_META_SET_LAST                                            \
    "UPDATE meta SET last_seq = :last_seq, last_head = :last_head,"         \
    " hlc_last = :hlc_last WHERE id = 1"

#define OUTBOX_SQL_META_SET_ACKED                                           \
    "UPDATE meta SET acked_seq = :acked_seq, acked_head = :acked_head,"     \
    " last_ack_at_ms = :now WHERE id = 1"

#define OUTBOX_SQL_META_SET_CONN                                            \
    "UPDATE meta SET conn_state = :state,"                                  \
    " conn_changed_at_ms = :changed_at, last_error = :error,"               \
    " last_error_at_ms = :error_at WHERE id = 1"

#define OUTBOX_SQL_INSERT                                                   \
    "INSERT INTO outbox (seq, org_unit, indicator, period, disagg, value,"  \
    " deleted, comment, stored_by, followup, hlc, hash, chain_head, size,"  \
    " queued_at_ms, source, stamp_offset_ms, created_ms, updated_ms)"      \
    " VALUES (:seq, :org_unit,"                                             \
    " :indicator, :period, :disagg, :value, :deleted, :comment,"            \
    " :stored_by, :followup, :hlc, :hash, :chain_head, :size,"              \
    " :queued_at_ms, :source, :stamp_offset_ms, :created_ms, :updated_ms)"

#define OUTBOX_SQL_COLUMNS                                                  \
    "seq, org_unit, indicator, period, disagg, value, deleted, comment,"    \
    " stored_by, followup, hlc, hash, chain_head, size, queued_at_ms,"      \
    " source, stamp_offset_ms, created_ms, updated_ms"

/* Pending values of one unit and period (submit's entry checks). */
#define OUTBOX_SQL_PENDING_OF                                               \
    "SELECT indicator, value, deleted FROM outbox WHERE org_unit = :ou"     \
    " AND period = :pe AND disagg = 'default' ORDER BY seq"
#define OUTBOX_SQL_READ                                                     \
    "SELECT " OUTBOX_SQL_COLUMNS " FROM outbox WHERE seq >= :from"          \
    " ORDER BY seq LIMIT :limit"

/* Renumbering, step 1: park the rows to move at negative seqs so the new
 * positive seqs cannot collide with them. */
#define OUTBOX_SQL_PARK                                                     \
    "UPDATE outbox SET seq = -seq WHERE seq >= :from"

/* Step 2: take the parked row with the lowest original seq. */
#define OUTBOX_SQL_NEXT_PARKED                                              \
    "SELECT " OUTBOX_SQL_COLUMNS " FROM outbox WHERE seq < 0"               \
    " ORDER BY seq DESC LIMIT 1"

#define OUTBOX_SQL_MOVE                                                     \
    "UPDATE outbox SET seq = :new_seq, hash = :hash,"                       \
    " chain_head = :chain_head WHERE seq = :old_seq"

#define OUTBOX_SQL_HEAD_AT "SELECT chain_head FROM outbox WHERE seq = :seq"

#define OUTBOX_SQL_STATS                                                    \
    "SELECT count(*), min(queued_at_ms), coalesce(sum(size), 0),"           \
    " min(seq) FROM outbox"

#define OUTBOX_SQL_REJECT                                                   \
    "INSERT OR IGNORE INTO rejected (seq, org_unit, indicator, period,"     \
    " disagg, value, deleted, comment, stored_by, followup, hlc, source,"   \
    " code, field, message, rejected_at_ms)"                                \
    " SELECT seq, org_unit, indicator, period, disagg, value, deleted,"     \
    " comment, stored_by, followup, hlc, source, :code, :field, :message,"  \
    " :now FROM outbox WHERE seq = :seq AND seq <= :acked_seq"

#define OUTBOX_SQL_DELETE_ACKED "DELETE FROM outbox WHERE seq <= :acked_seq"

#define OUTBOX_SQL_RECEIPT                                                  \
    "INSERT OR IGNORE INTO receipts (digest, first_seq, last_seq,"          \
    " acked_seq, status, error, message, committed_at_ms, received_at_ms,"  \
    " envelope) VALUES (:digest, :first_seq, :last_seq, :acked_seq,"        \
    " :status, :error, :message, :committed_at_ms, :received_at_ms,"        \
    " :envelope)"

#define OUTBOX_SQL_REJECTED_LIST                                            \
    "SELECT seq, org_unit, indicator, period, disagg, value, deleted,"      \
    " comment, stored_by, followup, hlc, code, field, message,"             \
    " rejected_at_ms FROM rejected ORDER BY seq"

#define OUTBOX_SQL_RECEIPTS_LIST                                            \
    "SELECT first_seq, last_seq, acked_seq, status, error, message,"        \
    " committed_at_ms, received_at_ms, envelope, id FROM receipts ORDER BY id"

#define OUTBOX_SQL_KEEP                                                     \
    "INSERT OR IGNORE INTO sent_batch (first_seq, last_seq, envelope,"      \
    " sent_at_ms, acked_at_ms, size) VALUES (:first_seq, :last_seq,"        \
    " :envelope, :sent_at_ms, :acked_at_ms, :size)"

#define OUTBOX_SQL_KEPT_COLUMNS                                             \
    "first_seq, last_seq, envelope, sent_at_ms, acked_at_ms, size"

/* Kept batches that hold a seq in from..to, by first_seq. */
#define OUTBOX_SQL_KEPT_RANGE                                               \
    "SELECT " OUTBOX_SQL_KEPT_COLUMNS " FROM sent_batch"                    \
    " WHERE last_seq >= :from AND first_seq <= :to ORDER BY first_seq"

/* The kept batch holding seq that reaches furthest. */
#define OUTBOX_SQL_KEPT_AT                                                  \
    "SELECT " OUTBOX_SQL_KEPT_COLUMNS " FROM sent_batch"                    \
    " WHERE first_seq <= :seq AND last_seq >= :seq"                         \
    " ORDER BY last_seq DESC LIMIT 1"

/* The kept batch holding seq that starts lowest. */
#define OUTBOX_SQL_KEPT_LOWEST_AT                                           \
    "SELECT first_seq FROM sent_batch"                                      \
    " WHERE first_seq <= :seq AND last_seq >= :seq"                         \
    " ORDER BY first_seq LIMIT 1"

#define OUTBOX_SQL_KEPT_STATS                                               \
    "SELECT count(*), coalesce(min(first_seq), 0),"                         \
    " coalesce(max(last_seq), 0), coalesce(sum(size), 0),"                  \
    " coalesce(min(acked_at_ms), 0) FROM sent_batch"

#define OUTBOX_SQL_KEPT_PRUNE_AGE                                           \
    "DELETE FROM sent_batch WHERE acked_at_ms < :cutoff"

/* Oldest first (by seq) while the kept bytes exceed :max. */
#define OUTBOX_SQL_KEPT_PRUNE_BYTES                                         \
    "DELETE FROM sent_batch WHERE first_seq IN (SELECT first_seq FROM"      \
    " (SELECT first_seq, sum(size) OVER (ORDER BY first_seq DESC"           \
    " ROWS UNBOUNDED PRECEDING) AS upto FROM sent_batch) WHERE upto > :max)"

#endif
