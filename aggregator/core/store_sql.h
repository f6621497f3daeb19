/*  store_sql: every SQL statement of the aggregator's consolidated database,
 *  kept together (STYLE.md "SQLite"), with named parameters. store.c
 *  prepares each once and resets it after every step. The schema itself is
 *  documented in store.h; migrations[i] moves user_version i to i+1. The
 *  texts run on SQLite and PostgreSQL alike (common/cds_sql.h); a NAME_PG
 *  beside one is its PostgreSQL text; STORE_SQL_PG_SCHEMA is the
 *  PostgreSQL schema (docs/POSTGRESQL.md). */
#ifndef AGG_STORE_SQL_H
#define AGG_STORE_SQL_H

#include "store.h"                     /* STORE_SQL_STATUS_NOW */

/* Version 0 -> 1: the whole first schema. */
#define STORE_SQL_MIGRATION_1                                                \
    "CREATE TABLE agent ("                                                   \
    " id INTEGER PRIMARY KEY,"                                               \
    " sign_pk BLOB NOT NULL UNIQUE CHECK (length(sign_pk) = 32),"            \
    " curve_pk BLOB NOT NULL CHECK (length(curve_pk) = 32),"                 \
    " pubid TEXT NOT NULL,"                                                  \
    " fpr TEXT NOT NULL UNIQUE,"                                             \
    " label TEXT NOT NULL DEFAULT '',"                                       \
    " enrolled_at_ms INTEGER NOT NULL,"                                      \
    " revoked_at_ms INTEGER,"                                                \
    " applied_seq INTEGER NOT NULL DEFAULT 0,"                               \
    " applied_head BLOB,"                                                    \
    " last_seen_ms INTEGER);"                                                \
    "CREATE TABLE orgunit ("                                                 \
    " code TEXT PRIMARY KEY,"                                                \
    " name TEXT NOT NULL,"                                                   \
    " parent TEXT,"                                                          \
    " valid_from INTEGER,"                                                   \
    " valid_to INTEGER);"                                                    \
    "CREATE INDEX orgunit_parent ON orgunit(parent);"                        \
    "CREATE TABLE agent_orgunit ("                                           \
    " agent_id INTEGER NOT NULL REFERENCES agent(id),"                       \
    " org_unit TEXT NOT NULL,"                                               \
    " PRIMARY KEY (agent_id, org_unit));"                                    \
    "CREATE TABLE batch ("                                                   \
    " id INTEGER PRIMARY KEY,"                                               \
    " agent_id INTEGER NOT NULL REFERENCES agent(id),"                       \
    " first_seq INTEGER NOT NULL,"                                           \
    " last_seq INTEGER NOT NULL,"                                            \
    " received_at_ms INTEGER NOT NULL,"                                      \
    " envelope BLOB NOT NULL);"                                              \
    "CREATE TABLE update_log ("                                              \
    " agent_id INTEGER NOT NULL REFERENCES agent(id),"                       \
    " seq INTEGER NOT NULL,"                                                 \
    " batch_id INTEGER NOT NULL REFERENCES batch(id),"                       \
    " content_hash BLOB NOT NULL,"                                           \
    " chain_head BLOB NOT NULL,"                                             \
    " status INTEGER NOT NULL,"                                              \
    " field TEXT, message TEXT,"                                             \
    " org_unit TEXT, indicator TEXT, period TEXT, disagg TEXT,"              \
    " value TEXT, deleted INTEGER NOT NULL, comment TEXT, stored_by TEXT,"   \
    " followup INTEGER NOT NULL, hlc INTEGER NOT NULL,"                      \
    " received_at_ms INTEGER NOT NULL,"                                      \
    " PRIMARY KEY (agent_id, seq)) WITHOUT ROWID;"                           \
    "CREATE TABLE datavalue ("                                               \
    " org_unit TEXT NOT NULL, indicator TEXT NOT NULL, period TEXT NOT NULL,"\
    " disagg TEXT NOT NULL, value TEXT NOT NULL, num REAL,"                  \
    " deleted INTEGER NOT NULL, comment TEXT, stored_by TEXT,"               \
    " followup INTEGER NOT NULL, hlc INTEGER NOT NULL,"                      \
    " agent_pk BLOB NOT NULL, agent_id INTEGER NOT NULL,"                    \
    " agent_seq INTEGER NOT NULL,"                                           \
    " period_start INTEGER NOT NULL, period_end INTEGER NOT NULL,"           \
    " updated_at_ms INTEGER NOT NULL,"                                       \
    " PRIMARY KEY (org_unit, indicator, period, disagg));"                   \
    "CREATE INDEX datavalue_period ON datavalue(period_start, period_end);"  \
    "CREATE TABLE reject ("                                                  \
    " id INTEGER PRIMARY KEY,"                                               \
    " at_ms INTEGER NOT NULL,"                                               \
    " agent_pk BLOB,"                                                        \
    " code INTEGER NOT NULL,"                                                \
    " field TEXT, message TEXT,"                                             \
    " first_seq INTEGER, last_seq INTEGER, seq INTEGER,"                     \
    " raw BLOB);"

/* Version 1 -> 2 (admin, issue 5): the org-unit merge/split mapping
 * (deploy/orgunit_map.csv), an index for history/completeness look-ups by
 * key, and hashed HTTP API tokens. */
#define STORE_SQL_MIGRATION_ADMIN                                            \
    "CREATE TABLE orgunit_map ("                                             \
    " old TEXT NOT NULL, new TEXT NOT NULL,"                                 \
    " from_day INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '',"             \
    " PRIMARY KEY (old, new));"                                              \
    "CREATE INDEX orgunit_map_new ON orgunit_map(new);"                      \
    "CREATE INDEX update_log_key ON update_log(org_unit, indicator, period);"\
    "CREATE TABLE api_token ("                                               \
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                    \
    " hash BLOB NOT NULL UNIQUE, created_at_ms INTEGER NOT NULL,"            \
    " revoked_at_ms INTEGER, last_used_ms INTEGER);"

/* Version 5 -> 6 (issue 7): no query uses datavalue_period (EXPLAIN
 * QUERY PLAN: every datavalue read goes by the primary key, and the
 * "(:start IS NULL OR period_start >= :start)" filters cannot use it), yet
 * every merge wrote it: dropped. (datavalue WITHOUT ROWID was measured
 * too and is slower: whole rows inserted in key order dirty more pages.) */
#define STORE_SQL_MIGRATION_NO_PERIOD_INDEX                                  \
    "DROP INDEX datavalue_period;"

/* Bounded rejects (store.h "Rejects on disk"): what a message was when its
 * raw bytes are not kept (kind, size, BLAKE2b-256 digest of every byte
 * received); a partial index to count, per peer, the rows of the last
 * hour that still hold raw bytes (at most N rows are ever visited).
 * Pruning walks reject_at (HEALTH_SQL_MIGRATION). */
#define STORE_SQL_MIGRATION_REJECT_BOUNDS                                    \
    "ALTER TABLE reject ADD COLUMN kind INTEGER;"                            \
    "ALTER TABLE reject ADD COLUMN raw_size INTEGER;"                        \
    "ALTER TABLE reject ADD COLUMN raw_digest BLOB;"                         \
    "CREATE INDEX reject_raw_peer ON reject(agent_pk, at_ms)"                \
    " WHERE raw IS NOT NULL;"
/* Version 7 -> 8 (clock skew, docs/DESIGN.md "Clock skew"): the merge
 * runs on an effective stamp computed at arrival, kept beside the signed
 * one. update_log.eff_hlc: NULL on rows from before (= hlc), else the
 * effective stamp of the update; datavalue.hlc becomes the effective
 * stamp of the stored value and datavalue.signed_hlc its signed one (NULL
 * on rows from before: equal); batch.clock_shift_ms: the agent's clock
 * offset subtracted from that batch's stamps (0: none);
 * agent.last_eff_hlc: the effective stamp of its last update, which its
 * next one must exceed (seeded from history so an agent's later value
 * still beats its earlier ones across the upgrade). */
#define STORE_SQL_MIGRATION_EFF_HLC                                          \
    "ALTER TABLE update_log ADD COLUMN eff_hlc INTEGER;"                     \
    "ALTER TABLE datavalue ADD COLUMN signed_hlc INTEGER;"                   \
    "ALTER TABLE batch ADD COLUMN clock_shift_ms INTEGER NOT NULL DEFAULT 0;"\
    "ALTER TABLE agent ADD COLUMN last_eff_hlc INTEGER NOT NULL DEFAULT 0;"  \
    "UPDATE agent SET last_eff_hlc = coalesce((SELECT max(l.hlc)"            \
    " FROM update_log l WHERE l.agent_id = agent.id AND l.status = 0), 0);"

/* Version 9 -> 10 (storage boundary, docs/DESIGN.md): history is
 * append-only, and the database says so. A status change of an update
 * (`rejects retry` applying a rejected one) is a new update_status row,
 * never an edit of update_log: the status an update has now is that of
 * its latest update_status row (greatest id), else the one it arrived
 * with (STORE_SQL_STATUS_NOW, store.h). Rows retried before this version
 * were flipped in place (status 0, retried_from = the old reason): their
 * change moves to update_status and update_log gets its arrival status
 * back; the retried_* columns stay, NULL. Then triggers refuse any UPDATE
 * or DELETE of update_log, update_status and batch (the kept signed
 * envelopes; prune and retention never touch any of them; a tamper test must drop the trigger first, as an attacker
 * with the file would, and `verify` still finds the edit). */
#define STORE_SQL_MIGRATION_APPEND_ONLY                                      \
    "CREATE TABLE update_status ("                                           \
    " id INTEGER PRIMARY KEY,"                                               \
    " agent_id INTEGER NOT NULL, seq INTEGER NOT NULL,"                      \
    " status INTEGER NOT NULL, from_status INTEGER NOT NULL,"                \
    " at_ms INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '',"                \
    " FOREIGN KEY (agent_id, seq) REFERENCES update_log(agent_id, seq));"   \
    "CREATE INDEX update_status_key ON update_status(agent_id, seq, id);"    \
    "INSERT INTO update_status(agent_id, seq, status, from_status, at_ms,"   \
    " note) SELECT agent_id, seq, status, retried_from,"                     \
    " coalesce(retried_at_ms, received_at_ms), 'rejects retry'"              \
    " FROM update_log WHERE retried_from IS NOT NULL;"                       \
    "UPDATE update_log SET status = retried_from, retried_from = NULL,"      \
    " retried_at_ms = NULL WHERE retried_from IS NOT NULL;"                  \
    "CREATE TRIGGER update_log_no_update BEFORE UPDATE ON update_log"        \
    " BEGIN SELECT RAISE(ABORT, 'update_log is append-only'); END;"          \
    "CREATE TRIGGER update_log_no_delete BEFORE DELETE ON update_log"        \
    " BEGIN SELECT RAISE(ABORT, 'update_log is append-only'); END;"          \
    "CREATE TRIGGER update_status_no_update BEFORE UPDATE ON update_status"  \
    " BEGIN SELECT RAISE(ABORT, 'update_status is append-only'); END;"       \
    "CREATE TRIGGER update_status_no_delete BEFORE DELETE ON update_status"  \
    " BEGIN SELECT RAISE(ABORT, 'update_status is append-only'); END;"       \
    "CREATE TRIGGER batch_no_update BEFORE UPDATE ON batch"                  \
    " BEGIN SELECT RAISE(ABORT, 'batch is append-only'); END;"               \
    "CREATE TRIGGER batch_no_delete BEFORE DELETE ON batch"                  \
    " BEGIN SELECT RAISE(ABORT, 'batch is append-only'); END;"

/* Version 12 (PostgreSQL migration 3; issue 16, accounts): the officers'
 * logins (account.h).
 * pwhash is libsodium's crypto_pwhash_str (argon2id, its own salt and
 * cost in the string); role is one of four names; org_unit is the root
 * of the subtree the account sees ('' = every unit). Disabled accounts
 * stay (disabled_at_ms) so a name is never reused silently. Sessions are
 * not here: they live in the HTTP thread's memory (account.h). */
#define STORE_SQL_MIGRATION_ACCOUNT                                          \
    "CREATE TABLE account ("                                                 \
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                    \
    " pwhash TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN"               \
    " ('viewer', 'district_admin', 'province_admin', 'operator')),"          \
    " org_unit TEXT NOT NULL DEFAULT '', created_at_ms INTEGER NOT NULL,"    \
    " changed_at_ms INTEGER NOT NULL, disabled_at_ms INTEGER);"
#define STORE_ACCOUNT_SQL_PG_SCHEMA                                                 \
    "CREATE TABLE account ("                                                 \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " name TEXT NOT NULL UNIQUE,"                                            \
    " pwhash TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN"               \
    " ('viewer', 'district_admin', 'province_admin', 'operator')),"          \
    " org_unit TEXT NOT NULL DEFAULT '', created_at_ms BIGINT NOT NULL,"     \
    " changed_at_ms BIGINT NOT NULL, disabled_at_ms BIGINT);"

/* PostgreSQL: the schema of the current version (migrations 1..10 above,
 * plus health's and commitmark's steps, HEALTH_SQL_PG_SCHEMA and
 * COMMITMARK_SQL_PG_SCHEMA, run after this one), created at once on an
 * empty database: the same tables, columns, keys, CHECK/UNIQUE/FK
 * constraints and indexes; INTEGER is BIGINT, BLOB BYTEA, REAL DOUBLE
 * PRECISION; ids the code inserts without are identity columns; the
 * append-only triggers (update_log, update_status, batch) raise the same
 * message and refuse TRUNCATE too; then the BI views (docs/POSTGRESQL.md,
 * deploy/postgresql/bi-role.sql). Column order differs from SQLite's only
 * where health adds its columns after the ones of later versions. */
#define STORE_SQL_PG_SCHEMA                                                  \
    "CREATE TABLE agent ("                                                   \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " sign_pk BYTEA NOT NULL UNIQUE CHECK (length(sign_pk) = 32),"           \
    " curve_pk BYTEA NOT NULL CHECK (length(curve_pk) = 32),"                \
    " pubid TEXT NOT NULL,"                                                  \
    " fpr TEXT NOT NULL UNIQUE,"                                             \
    " label TEXT NOT NULL DEFAULT '',"                                       \
    " enrolled_at_ms BIGINT NOT NULL,"                                       \
    " revoked_at_ms BIGINT,"                                                 \
    " applied_seq BIGINT NOT NULL DEFAULT 0,"                                \
    " applied_head BYTEA,"                                                   \
    " last_seen_ms BIGINT,"                                                  \
    " replaced_by BIGINT REFERENCES agent(id),"                              \
    " last_eff_hlc BIGINT NOT NULL DEFAULT 0);"                              \
    "CREATE TABLE orgunit ("                                                 \
    " code TEXT PRIMARY KEY,"                                                \
    " name TEXT NOT NULL,"                                                   \
    " parent TEXT,"                                                          \
    " valid_from BIGINT,"                                                    \
    " valid_to BIGINT);"                                                     \
    "CREATE INDEX orgunit_parent ON orgunit(parent);"                        \
    "CREATE TABLE agent_orgunit ("                                           \
    " agent_id BIGINT NOT NULL REFERENCES agent(id),"                        \
    " org_unit TEXT NOT NULL,"                                               \
    " PRIMARY KEY (agent_id, org_unit));"                                    \
    "CREATE TABLE batch ("                                                   \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " agent_id BIGINT NOT NULL REFERENCES agent(id),"                        \
    " first_seq BIGINT NOT NULL,"                                            \
    " last_seq BIGINT NOT NULL,"                                             \
    " received_at_ms BIGINT NOT NULL,"                                       \
    " envelope BYTEA NOT NULL,"                                              \
    " clock_shift_ms BIGINT NOT NULL DEFAULT 0);"                            \
    "CREATE TABLE update_log ("                                              \
    " agent_id BIGINT NOT NULL REFERENCES agent(id),"                        \
    " seq BIGINT NOT NULL,"                                                  \
    " batch_id BIGINT NOT NULL REFERENCES batch(id),"                        \
    " content_hash BYTEA NOT NULL,"                                          \
    " chain_head BYTEA NOT NULL,"                                            \
    " status BIGINT NOT NULL,"                                               \
    " field TEXT, message TEXT,"                                             \
    " org_unit TEXT, indicator TEXT, period TEXT, disagg TEXT,"              \
    " value TEXT, deleted BIGINT NOT NULL, comment TEXT, stored_by TEXT,"    \
    " followup BIGINT NOT NULL, hlc BIGINT NOT NULL,"                        \
    " received_at_ms BIGINT NOT NULL,"                                       \
    " eff_hlc BIGINT,"                                                       \
    " PRIMARY KEY (agent_id, seq));"                                         \
    "CREATE INDEX update_log_key ON update_log(org_unit, indicator, period);"\
    "CREATE TABLE datavalue ("                                               \
    " org_unit TEXT NOT NULL, indicator TEXT NOT NULL, period TEXT NOT NULL,"\
    " disagg TEXT NOT NULL, value TEXT NOT NULL, num DOUBLE PRECISION,"      \
    " deleted BIGINT NOT NULL, comment TEXT, stored_by TEXT,"                \
    " followup BIGINT NOT NULL, hlc BIGINT NOT NULL,"                        \
    " agent_pk BYTEA NOT NULL, agent_id BIGINT NOT NULL,"                    \
    " agent_seq BIGINT NOT NULL,"                                            \
    " period_start BIGINT NOT NULL, period_end BIGINT NOT NULL,"             \
    " updated_at_ms BIGINT NOT NULL,"                                        \
    " signed_hlc BIGINT,"                                                    \
    " PRIMARY KEY (org_unit, indicator, period, disagg));"                   \
    "CREATE TABLE reject ("                                                  \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " at_ms BIGINT NOT NULL,"                                                \
    " agent_pk BYTEA,"                                                       \
    " code BIGINT NOT NULL,"                                                 \
    " field TEXT, message TEXT,"                                             \
    " first_seq BIGINT, last_seq BIGINT, seq BIGINT,"                        \
    " raw BYTEA,"                                                            \
    " kind BIGINT, raw_size BIGINT, raw_digest BYTEA);"                      \
    "CREATE INDEX reject_raw_peer ON reject(agent_pk, at_ms)"                \
    " WHERE raw IS NOT NULL;"                                                \
    "CREATE TABLE orgunit_map ("                                             \
    " old TEXT NOT NULL, new TEXT NOT NULL,"                                 \
    " from_day BIGINT NOT NULL, note TEXT NOT NULL DEFAULT '',"              \
    " PRIMARY KEY (old, new));"                                              \
    "CREATE INDEX orgunit_map_new ON orgunit_map(new);"                      \
    "CREATE TABLE api_token ("                                               \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " name TEXT NOT NULL UNIQUE,"                                            \
    " hash BYTEA NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL,"            \
    " revoked_at_ms BIGINT, last_used_ms BIGINT);"                           \
    "CREATE TABLE knock (curve_pk BYTEA NOT NULL, address TEXT NOT NULL,"    \
    " code BIGINT NOT NULL, first_ms BIGINT NOT NULL,"                       \
    " last_ms BIGINT NOT NULL, count BIGINT NOT NULL,"                       \
    " PRIMARY KEY (curve_pk, address));"                                     \
    "CREATE INDEX knock_last ON knock(last_ms);"                             \
    "CREATE TABLE update_status ("                                           \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " agent_id BIGINT NOT NULL, seq BIGINT NOT NULL,"                        \
    " status BIGINT NOT NULL, from_status BIGINT NOT NULL,"                  \
    " at_ms BIGINT NOT NULL, note TEXT NOT NULL DEFAULT '',"                 \
    " FOREIGN KEY (agent_id, seq) REFERENCES update_log(agent_id, seq));"   \
    "CREATE INDEX update_status_key ON update_status(agent_id, seq, id);"    \
    "CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS"      \
    " $$BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END$$;"     \
    STORE_SQL_PG_APPEND_ONLY("update_log")                                   \
    STORE_SQL_PG_APPEND_ONLY("update_status")                                \
    STORE_SQL_PG_APPEND_ONLY("batch")                                        \
    STORE_SQL_PG_BI_VIEWS
/* Views for BI readers (role cdsync_bi, deploy/postgresql/bi-role.sql):
 * plain names, times as timestamps, day numbers as dates.
 * bi_current_value: the current, non-deleted values.
 * bi_history: every update applied now (its status now is 0, including
 * ones applied by a later `rejects retry`), with the agent that sent it
 * and the status it arrived with. */
#define STORE_SQL_PG_BI_VIEWS                                                \
    "CREATE VIEW bi_current_value AS SELECT d.org_unit,"                     \
    " o.name AS org_unit_name, d.indicator, d.disagg, d.period,"             \
    " DATE '1970-01-01' + CAST(d.period_start AS INTEGER) AS period_start,"  \
    " DATE '1970-01-01' + CAST(d.period_end AS INTEGER) AS period_end,"      \
    " d.value, d.num, d.comment, d.stored_by, d.followup,"                   \
    " a.fpr AS agent_fpr, a.label AS agent_label,"                           \
    " to_timestamp(d.updated_at_ms / 1000.0) AS updated_at"                  \
    " FROM datavalue d LEFT JOIN orgunit o ON o.code = d.org_unit"           \
    " LEFT JOIN agent a ON a.id = d.agent_id WHERE d.deleted = 0;"           \
    "CREATE VIEW bi_history AS SELECT u.org_unit, u.indicator, u.disagg,"    \
    " u.period, u.value, u.deleted, u.comment, u.stored_by, u.followup,"     \
    " a.fpr AS agent_fpr, a.label AS agent_label, u.seq,"                    \
    " u.hlc AS signed_hlc, coalesce(u.eff_hlc, u.hlc) AS hlc,"               \
    " to_timestamp(u.received_at_ms / 1000.0) AS received_at,"               \
    " u.status AS arrival_status, " STORE_SQL_STATUS_NOW("u") " AS status"   \
    " FROM update_log u JOIN agent a ON a.id = u.agent_id"                   \
    " WHERE " STORE_SQL_STATUS_NOW("u") " = 0;"

/* SQLite only: up to 64 MiB of page cache (store_open says why); a
 * PostgreSQL server's cache is its own setting (shared_buffers). */
#define STORE_SQL_CACHE_SIZE "PRAGMA cache_size=-65536"

/* ---- org units ---------------------------------------------------------- */
#define STORE_SQL_ORGUNIT_UPSERT                                             \
    "INSERT INTO orgunit(code, name, parent, valid_from, valid_to)"          \
    " VALUES (:code, :name, :parent, :valid_from, :valid_to)"                \
    " ON CONFLICT(code) DO UPDATE SET name = excluded.name,"                 \
    " parent = excluded.parent, valid_from = excluded.valid_from,"           \
    " valid_to = excluded.valid_to"
#define STORE_SQL_ORGUNIT_EXISTS                                             \
    "SELECT 1, valid_from, valid_to, name FROM orgunit WHERE code = :code"
/* Is :ou equal to or below one of the agent's enrolled units? Walks up the
 * parent chain (UNION stops a cycle; the CSV loader rejects cycles). */
#define STORE_SQL_ALLOWED                                                    \
    "WITH RECURSIVE up(code) AS (SELECT CAST(:ou AS TEXT) UNION"             \
    " SELECT o.parent FROM orgunit o JOIN up ON o.code = up.code"            \
    " WHERE o.parent IS NOT NULL)"                                           \
    " SELECT 1 FROM agent_orgunit WHERE agent_id = :agent_id"                \
    " AND org_unit IN (SELECT code FROM up) LIMIT 1"

/* ---- agents ------------------------------------------------------------- */
#define STORE_SQL_AGENT_COLS                                                 \
    "id, sign_pk, curve_pk, pubid, fpr, label, enrolled_at_ms,"              \
    " revoked_at_ms, applied_seq, applied_head, last_seen_ms, last_eff_hlc"
#define STORE_SQL_AGENT_BY_PK                                                \
    "SELECT " STORE_SQL_AGENT_COLS " FROM agent WHERE sign_pk = :pk"
#define STORE_SQL_AGENT_BY_FPR                                               \
    "SELECT " STORE_SQL_AGENT_COLS " FROM agent WHERE fpr = :fpr"
/* Key rotation (enroll --replaces): the old row names its successor. */
#define STORE_SQL_MIGRATION_ROTATE                                           \
    "ALTER TABLE agent ADD COLUMN replaced_by INTEGER REFERENCES agent(id);"
#define STORE_SQL_AGENT_REPLACED                                             \
    "UPDATE agent SET replaced_by = :new WHERE id = :old"
/* The key enrolled in an old key's place (the revocation notice). */
#define STORE_SQL_AGENT_SUCCESSOR                                            \
    "SELECT n.fpr FROM agent o JOIN agent n ON n.id = o.replaced_by"         \
    " WHERE o.id = :old"
/* The agent a CURVE client key belongs to (auth.c, ZAP); a non-revoked
 * row first, so a re-enrolled key is judged by its live row. */
#define STORE_SQL_AGENT_BY_CURVE                                             \
    "SELECT " STORE_SQL_AGENT_COLS " FROM agent WHERE curve_pk = :curve_pk"  \
    " ORDER BY revoked_at_ms IS NOT NULL, id LIMIT 1"
#define STORE_SQL_AGENT_ALL                                                  \
    "SELECT " STORE_SQL_AGENT_COLS " FROM agent ORDER BY label, fpr"
#define STORE_SQL_AGENT_INSERT                                               \
    "INSERT INTO agent(sign_pk, curve_pk, pubid, fpr, label, enrolled_at_ms)"\
    " VALUES (:pk, :curve_pk, :pubid, :fpr, :label, :now)"
/* PostgreSQL has no last insert rowid: the new id comes back as a row
 * (SQLite >= 3.35 could run it too, once the caller reads that row). */
#define STORE_SQL_AGENT_INSERT_PG STORE_SQL_AGENT_INSERT " RETURNING id"
#define STORE_SQL_AGENT_RELABEL                                              \
    "UPDATE agent SET label = :label, curve_pk = :curve_pk, pubid = :pubid"  \
    " WHERE id = :id"
#define STORE_SQL_AGENT_REVOKE                                               \
    "UPDATE agent SET revoked_at_ms = :now"                                  \
    " WHERE id = :id AND revoked_at_ms IS NULL"
#define STORE_SQL_AGENT_ADVANCE                                              \
    "UPDATE agent SET applied_seq = :seq, applied_head = :head,"             \
    " last_eff_hlc = CASE WHEN coalesce(CAST(:eff AS BIGINT), 0)"            \
    " > last_eff_hlc THEN coalesce(CAST(:eff AS BIGINT), 0)"                 \
    " ELSE last_eff_hlc END WHERE id = :id"
#define STORE_SQL_AGENT_SEEN                                                 \
    "UPDATE agent SET last_seen_ms = :now WHERE id = :id"
/* A held last-seen time (health.c): never moves it back. */
#define STORE_SQL_AGENT_SEEN_MAX                                             \
    "UPDATE agent SET last_seen_ms = CASE WHEN CAST(:now AS BIGINT)"         \
    " > coalesce(last_seen_ms, 0) THEN CAST(:now AS BIGINT)"                 \
    " ELSE coalesce(last_seen_ms, 0) END WHERE id = :id"
#define STORE_SQL_UNITS_CLEAR                                                \
    "DELETE FROM agent_orgunit WHERE agent_id = :id"
#define STORE_SQL_UNITS_ADD                                                  \
    "INSERT INTO agent_orgunit(agent_id, org_unit)"                          \
    " VALUES (:id, :ou) ON CONFLICT DO NOTHING"
#define STORE_SQL_UNITS_OF                                                   \
    "SELECT org_unit FROM agent_orgunit WHERE agent_id = :id"                \
    " ORDER BY org_unit"

/* ---- batches, history, merge, rejects ----------------------------------- */
#define STORE_SQL_BATCH_INSERT                                               \
    "INSERT INTO batch(agent_id, first_seq, last_seq, received_at_ms,"       \
    " envelope, clock_shift_ms) VALUES (:agent_id, :first, :last, :now,"     \
    " :envelope, coalesce(CAST(:shift AS BIGINT), 0))"
/* The new batch id as a row (PostgreSQL has no last insert rowid). */
#define STORE_SQL_BATCH_INSERT_PG STORE_SQL_BATCH_INSERT " RETURNING id"
#define STORE_SQL_LOG_GET                                                    \
    "SELECT u.content_hash, u.chain_head, " STORE_SQL_STATUS_NOW("u") ","     \
    " u.field, u.message FROM update_log u"                                  \
    " WHERE u.agent_id = :agent_id AND u.seq = :seq"
#define STORE_SQL_LOG_INSERT                                                 \
    "INSERT INTO update_log(agent_id, seq, batch_id, content_hash,"          \
    " chain_head, status, field, message, org_unit, indicator, period,"      \
    " disagg, value, deleted, comment, stored_by, followup, hlc,"            \
    " received_at_ms, eff_hlc, meta_version, created_ms, updated_ms)"      \
    " VALUES (:agent_id, :seq, :batch_id, :hash, :head, :status, :field,"   \
    " :message, :org_unit, :indicator, :period, :disagg, :value, :deleted," \
    " :comment, :stored_by, :followup, :hlc, :now, :eff, :meta,"            \
    " :created_ms, :updated_ms)"
/* The effective stamp of (agent, seq): what `rejects retry` merges with. */
#define STORE_SQL_LOG_EFF                                                    \
    "SELECT coalesce(eff_hlc, hlc) FROM update_log"                          \
    " WHERE agent_id = :agent_id AND seq = :seq"
/* A status change of (agent, seq) to :status, appended to update_status
 * only when its status now differs (so a second retry changes nothing):
 * from_status is the status it had. */
#define STORE_SQL_STATUS_ADD                                                 \
    "INSERT INTO update_status(agent_id, seq, status, from_status, at_ms,"   \
    " note) SELECT u.agent_id, u.seq, :status, " STORE_SQL_STATUS_NOW("u")   \
    ", :now, :note FROM update_log u"                                        \
    " WHERE u.agent_id = :agent_id AND u.seq = :seq"                         \
    " AND " STORE_SQL_STATUS_NOW("u") " != :status"
/* Last-writer-wins by (hlc, agent_pk, agent_seq), hlc being the
 * EFFECTIVE stamp (:eff, ingest.h) and signed_hlc the one the agent
 * signed (NULL when equal, 8 bytes a row): a row only replaces one that is
 * strictly smaller, so the result is the maximum over every update ever
 * applied to the key, whatever the order they came in. agent_seq breaks
 * the (buggy or hostile) case of one agent reusing a stamp. The stored
 * row's agent_pk is its agent's sign_pk (version 18: not repeated in
 * datavalue), looked up only when the key exists. */
#define STORE_SQL_MERGE                                                      \
    "INSERT INTO datavalue(org_unit, indicator, period, disagg, value, num," \
    " deleted, comment, stored_by, followup, hlc, agent_id,"                 \
    " agent_seq, period_start, period_end, updated_at_ms, signed_hlc,"       \
    " created_ms, updated_ms)"                                               \
    " VALUES (:org_unit, :indicator, :period, :disagg, :value, :num,"        \
    " :deleted, :comment, :stored_by, :followup, :eff,"                      \
    " :agent_id, :agent_seq, :period_start, :period_end, :now,"              \
    " CASE WHEN CAST(:hlc AS BIGINT) = CAST(:eff AS BIGINT) THEN NULL"       \
    " ELSE CAST(:hlc AS BIGINT) END,"                                        \
    " :created_ms, :updated_ms)"                                             \
    " ON CONFLICT(org_unit, period, indicator, disagg) DO UPDATE SET"        \
    " value = excluded.value, num = excluded.num,"                           \
    " deleted = excluded.deleted, comment = excluded.comment,"               \
    " stored_by = excluded.stored_by, followup = excluded.followup,"         \
    " hlc = excluded.hlc, signed_hlc = excluded.signed_hlc,"                 \
    " agent_id = excluded.agent_id, agent_seq = excluded.agent_seq,"         \
    " period_start = excluded.period_start,"                                 \
    " period_end = excluded.period_end,"                                     \
    " updated_at_ms = excluded.updated_at_ms,"                               \
    " created_ms = excluded.created_ms, updated_ms = excluded.updated_ms"     \
    " WHERE (excluded.hlc, :agent_pk, excluded.agent_seq)"                   \
    " > (datavalue.hlc, (SELECT a.sign_pk FROM agent a"                      \
    " WHERE a.id = datavalue.agent_id), datavalue.agent_seq)"
#define STORE_SQL_REJECT_INSERT                                              \
    "INSERT INTO reject(at_ms, agent_pk, code, field, message, first_seq,"   \
    " last_seq, seq, raw, kind, raw_size, raw_digest) VALUES (:now,"         \
    " :agent_pk, :code, :field, :message, :first, :last, :seq, :raw, :kind," \
    " :raw_size, :raw_digest)"
/* Rows of this peer (NULL: no parseable signer) since :since that hold
 * raw bytes, counted up to :n (reject_raw_peer: visits at most n rows). */
#define STORE_SQL_REJECT_RAW_COUNT                                           \
    "SELECT count(*) FROM (SELECT 1 FROM reject"                             \
    " WHERE agent_pk IS NOT DISTINCT FROM :agent_pk"                         \
    " AND at_ms > :since AND raw IS NOT NULL LIMIT :n) AS r"
/* At most :n rows older than :cutoff, oldest first (index reject_at). */
#define STORE_SQL_REJECT_PRUNE                                               \
    "DELETE FROM reject WHERE id IN (SELECT id FROM reject"                  \
    " WHERE at_ms < :cutoff ORDER BY at_ms LIMIT :n)"

/* Knocks (auth.h): refused handshakes, one row per (client CURVE key, peer
 * address) instead of one per attempt; curve_pk is X'' when the handshake
 * failed before ZAP (no key known). A table of its own, not the reject
 * table: a knock has no message to show or retry, and it is a counter
 * updated in place, which the reject table (one row per message, raw
 * bytes, retry marks) is not. Pruned with the reject retention by
 * last_ms. */
#define STORE_SQL_MIGRATION_KNOCK                                            \
    "CREATE TABLE knock (curve_pk BLOB NOT NULL, address TEXT NOT NULL,"     \
    " code INTEGER NOT NULL, first_ms INTEGER NOT NULL,"                     \
    " last_ms INTEGER NOT NULL, count INTEGER NOT NULL,"                     \
    " PRIMARY KEY (curve_pk, address)) WITHOUT ROWID;"                       \
    "CREATE INDEX knock_last ON knock(last_ms);"
#define STORE_SQL_KNOCK_UPSERT                                               \
    "INSERT INTO knock (curve_pk, address, code, first_ms, last_ms, count)"  \
    " VALUES (:pk, :address, :code, :first, :last, :count)"                  \
    " ON CONFLICT (curve_pk, address) DO UPDATE SET code = excluded.code,"   \
    " first_ms = CASE WHEN excluded.first_ms < knock.first_ms"               \
    "  THEN excluded.first_ms ELSE knock.first_ms END,"                      \
    " last_ms = CASE WHEN excluded.last_ms > knock.last_ms"                  \
    "  THEN excluded.last_ms ELSE knock.last_ms END,"                        \
    " count = knock.count + excluded.count"
#define STORE_SQL_KNOCK_PRUNE "DELETE FROM knock WHERE last_ms < :cutoff"

/* ---- published metadata (issue 20, `metadata publish`) ----------------
 * One row per version, append-only: the bundle bytes exactly as signed
 * (cdsync.proto MetadataBundle), the aggregator's signature over them, the
 * signer's Ed25519 key, and the diff against the previous version in
 * words (what `metadata list` shows). */
#define STORE_SQL_MIGRATION_METADATA                                         \
    "CREATE TABLE metadata_version (version INTEGER PRIMARY KEY,"           \
    " published_ms INTEGER NOT NULL, bundle BLOB NOT NULL,"                  \
    " signature BLOB NOT NULL, signer BLOB NOT NULL,"                        \
    " summary TEXT NOT NULL);"                                               \
    "CREATE TRIGGER metadata_version_no_update BEFORE UPDATE ON"            \
    " metadata_version BEGIN"                                                \
    " SELECT RAISE(ABORT, 'metadata_version is append-only'); END;"         \
    "CREATE TRIGGER metadata_version_no_delete BEFORE DELETE ON"            \
    " metadata_version BEGIN"                                                \
    " SELECT RAISE(ABORT, 'metadata_version is append-only'); END;"
/* PostgreSQL: the same table, a migration of its own (store.c pg[1]);
 * named *_SQL_PG_SCHEMA so tests/pg/sql_dialect.py runs it as a part. */
#define METADATA_SQL_PG_SCHEMA                                               \
    "CREATE TABLE metadata_version (version BIGINT PRIMARY KEY,"            \
    " published_ms BIGINT NOT NULL, bundle BYTEA NOT NULL,"                  \
    " signature BYTEA NOT NULL, signer BYTEA NOT NULL,"                      \
    " summary TEXT NOT NULL);"                                               \
    STORE_SQL_PG_APPEND_ONLY("metadata_version")
#define STORE_SQL_METADATA_ADD                                               \
    "INSERT INTO metadata_version (version, published_ms, bundle,"          \
    " signature, signer, summary) VALUES (:version, :ms, :bundle, :sig,"     \
    " :signer, :summary)"
#define STORE_SQL_METADATA_GET                                               \
    "SELECT version, published_ms, bundle, signature, signer, summary"      \
    " FROM metadata_version WHERE version = :version"
#define STORE_SQL_METADATA_LIST                                              \
    "SELECT version, published_ms, bundle, signature, signer, summary"      \
    " FROM metadata_version ORDER BY version"
#define STORE_SQL_METADATA_LATEST                                            \
    "SELECT coalesce(max(version), 0) FROM metadata_version"
/* Version 16 (issue 20 item 3): the published metadata version whose
 * catalog checked each update (ingest.h ingest_set_versions); NULL on
 * older rows and for the configured files. A new nullable column keeps
 * update_log append-only (no row is rewritten). */
#define STORE_SQL_MIGRATION_META_VERSION                                     \
    "ALTER TABLE update_log ADD COLUMN meta_version INTEGER;"
#define STORE_META_VERSION_SQL_PG_SCHEMA                                     \
    "ALTER TABLE update_log ADD COLUMN meta_version BIGINT;"
/* SQLite 17 / PostgreSQL 8: the source system's created / lastUpdated an
 * update carried (cds_update.h; NULL: not given), in history and on the
 * current value; export writes them back (export.h). */
#define STORE_SQL_MIGRATION_SOURCE_TIMES                                     \
    "ALTER TABLE update_log ADD COLUMN created_ms INTEGER;"                  \
    "ALTER TABLE update_log ADD COLUMN updated_ms INTEGER;"                  \
    "ALTER TABLE datavalue ADD COLUMN created_ms INTEGER;"                   \
    "ALTER TABLE datavalue ADD COLUMN updated_ms INTEGER;"
#define STORE_SOURCE_TIMES_SQL_PG_SCHEMA                                     \
    "ALTER TABLE update_log ADD COLUMN created_ms BIGINT;"                   \
    "ALTER TABLE update_log ADD COLUMN updated_ms BIGINT;"                   \
    "ALTER TABLE datavalue ADD COLUMN created_ms BIGINT;"                    \
    "ALTER TABLE datavalue ADD COLUMN updated_ms BIGINT;"
/* SQLite 18 / PostgreSQL 9 (issue 19 item 4, fewer bytes per update;
 * docs/PERFORMANCE.md "Bytes per update"):
 * - datavalue loses agent_pk: it repeated what agent_id names (the
 *   merge's tie-break reads the key from agent, STORE_SQL_MERGE), 33
 *   bytes a row;
 * - datavalue's key and update_log_key put period before indicator:
 *   an agent sends one period's values of a unit together, so a batch's
 *   keys are one contiguous run of (org_unit, period, ...) and its index
 *   entries land on a few pages at the end of a run instead of one page
 *   per indicator, each written whole into the WAL and again at the
 *   checkpoint (every query names all three or only org_unit: EXPLAIN
 *   QUERY PLAN unchanged);
 * - SQLite: datavalue WITHOUT ROWID: the row lives in its key's b-tree,
 *   no second copy of the key in an index (sqlite_autoindex_datavalue_1)
 *   and no rowid.
 * signed_hlc is NULL when equal to hlc on new rows (STORE_SQL_MERGE; the
 * readers coalesce already). The copy keeps every row as it was. */
#define STORE_SQL_MIGRATION_NARROW                                           \
    "CREATE TABLE datavalue_v18 ("                                           \
    " org_unit TEXT NOT NULL, indicator TEXT NOT NULL, period TEXT NOT NULL,"\
    " disagg TEXT NOT NULL, value TEXT NOT NULL, num REAL,"                  \
    " deleted INTEGER NOT NULL, comment TEXT, stored_by TEXT,"               \
    " followup INTEGER NOT NULL, hlc INTEGER NOT NULL,"                      \
    " agent_id INTEGER NOT NULL, agent_seq INTEGER NOT NULL,"                \
    " period_start INTEGER NOT NULL, period_end INTEGER NOT NULL,"           \
    " updated_at_ms INTEGER NOT NULL, signed_hlc INTEGER,"                   \
    " created_ms INTEGER, updated_ms INTEGER,"                               \
    " PRIMARY KEY (org_unit, period, indicator, disagg)) WITHOUT ROWID;"     \
    "INSERT INTO datavalue_v18 SELECT org_unit, indicator, period, disagg,"  \
    " value, num, deleted, comment, stored_by, followup, hlc, agent_id,"     \
    " agent_seq, period_start, period_end, updated_at_ms, signed_hlc,"       \
    " created_ms, updated_ms FROM datavalue;"                                \
    "DROP TABLE datavalue;"                                                  \
    "ALTER TABLE datavalue_v18 RENAME TO datavalue;"                         \
    "DROP INDEX update_log_key;"                                             \
    "CREATE INDEX update_log_key ON update_log(org_unit, period, indicator);"
#define STORE_NARROW_SQL_PG_SCHEMA                                           \
    "ALTER TABLE datavalue DROP COLUMN agent_pk;"                            \
    "ALTER TABLE datavalue DROP CONSTRAINT datavalue_pkey;"                  \
    "ALTER TABLE datavalue ADD PRIMARY KEY"                                  \
    " (org_unit, period, indicator, disagg);"                                \
    "DROP INDEX update_log_key;"                                             \
    "CREATE INDEX update_log_key ON update_log(org_unit, period, indicator);"
/* SQLite 19 / PostgreSQL 10 (issue 17): what `push-dhis2` sent to a
 * DHIS2 instance and DHIS2 confirmed (dhis2push.h, which writes both
 * tables through store_sql, as api.c does api_token). dhis2_push: one
 * row per value DHIS2 took, keyed by the target (the base URL as given,
 * never credentials) and the ids as sent; digest is a hash of the value
 * object as sent (value, deleted, times, comment, followup), so a value
 * changed since is sent again and an unchanged one is not.
 * dhis2_push_run: one row per request, its counts and outcome. */
#define STORE_SQL_MIGRATION_DHIS2_PUSH                                       \
    "CREATE TABLE dhis2_push ("                                              \
    " target TEXT NOT NULL, data_element TEXT NOT NULL,"                     \
    " period TEXT NOT NULL, org_unit TEXT NOT NULL, coc TEXT NOT NULL,"      \
    " aoc TEXT NOT NULL, digest TEXT NOT NULL,"                              \
    " pushed_at_ms INTEGER NOT NULL,"                                        \
    " PRIMARY KEY (target, data_element, period, org_unit, coc, aoc));"     \
    "CREATE TABLE dhis2_push_run ("                                          \
    " id INTEGER PRIMARY KEY, target TEXT NOT NULL, data_set TEXT NOT NULL," \
    " period TEXT NOT NULL, at_ms INTEGER NOT NULL, dry_run INTEGER NOT NULL,"\
    " sent INTEGER NOT NULL, status TEXT NOT NULL, imported INTEGER,"        \
    " updated INTEGER, ignored INTEGER, deleted INTEGER,"                    \
    " conflicts INTEGER, message TEXT NOT NULL DEFAULT '');"
#define STORE_DHIS2_PUSH_SQL_PG_SCHEMA                                       \
    "CREATE TABLE dhis2_push ("                                              \
    " target TEXT NOT NULL, data_element TEXT NOT NULL,"                     \
    " period TEXT NOT NULL, org_unit TEXT NOT NULL, coc TEXT NOT NULL,"      \
    " aoc TEXT NOT NULL, digest TEXT NOT NULL,"                              \
    " pushed_at_ms BIGINT NOT NULL,"                                         \
    " PRIMARY KEY (target, data_element, period, org_unit, coc, aoc));"     \
    "CREATE TABLE dhis2_push_run ("                                          \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"               \
    " target TEXT NOT NULL, data_set TEXT NOT NULL, period TEXT NOT NULL,"   \
    " at_ms BIGINT NOT NULL, dry_run BIGINT NOT NULL, sent BIGINT NOT NULL," \
    " status TEXT NOT NULL, imported BIGINT, updated BIGINT, ignored BIGINT,"\
    " deleted BIGINT, conflicts BIGINT, message TEXT NOT NULL DEFAULT '');"
/* Codes that have stored (not deleted) values: the publish check that no
 * indicator or unit in use disappears. */
#define STORE_SQL_INDICATORS_IN_USE                                          \
    "SELECT indicator, count(*) FROM datavalue WHERE deleted = 0"            \
    " GROUP BY indicator ORDER BY indicator"
#define STORE_SQL_UNITS_IN_USE                                               \
    "SELECT org_unit, count(*) FROM datavalue WHERE deleted = 0"             \
    " GROUP BY org_unit ORDER BY org_unit"

/* ---- savepoints (one per message, see ingest.h) ------------------------- */
#define STORE_SQL_SAVEPOINT "SAVEPOINT msg"
#define STORE_SQL_RELEASE "RELEASE msg"
#define STORE_SQL_ROLLBACK_TO "ROLLBACK TO msg"

#endif
