/*  store: the aggregator's consolidated database, the embedded SQLite
 *  file (default) or a PostgreSQL server (`[aggregator] store = URL`,
 *  docs/POSTGRESQL.md), through one cds_sql connection: the same
 *  statements (store_sql.h, with a *_PG text beside the few that differ),
 *  the same semantics. On PostgreSQL the schema is one migration, the
 *  whole current schema (store_open).
 *
 *  Invariant: for every agent, update_log holds exactly one row for each
 *  seq 1..agent.applied_seq (applied, status 0, or permanently rejected,
 *  status = cds_err code) and agent.applied_head is the chain head at
 *  applied_seq; both change only in the transaction that adds those rows.
 *  One exception: after `accept-restore`, a range the agent held acks for
 *  but the restored database lacks is skipped and recorded in restore_loss
 *  (commitmark.h: commitmark_hello advances applied_seq/head over it).
 *  datavalue holds, per key, the update with the greatest
 *  (effective hlc, agent_pk, agent_seq) among all applied ones (deletes
 *  kept as tombstones, deleted = 1), so it is a pure function of the set
 *  of applied updates and their effective stamps. The effective stamp is
 *  fixed once, at the first application (ingest.h), and stored in
 *  update_log.eff_hlc: a replay or resend never recomputes it.
 *
 *  Why applying the same batch twice is harmless: the message identity
 *  (agent, seq) is the update_log primary key, ingest never applies a seq
 *  <= applied_seq again (it only compares content hashes), and even a second
 *  merge of the same update is a no-op because the LWW upsert only replaces
 *  a row with a strictly greater (hlc, agent_pk, agent_seq).
 *
 *  Schema (user_version 16; see store_sql.h for the exact DDL and the
 *  columns each migration added, e.g. eff_hlc, signed_hlc,
 *  clock_shift_ms, last_eff_hlc in STORE_SQL_MIGRATION_EFF_HLC;
 *  update_log.meta_version, the published metadata version whose catalog
 *  checked the update, in STORE_SQL_MIGRATION_META_VERSION, version 16):
 *    agent(id PK, sign_pk BLOB UNIQUE, curve_pk BLOB, pubid, fpr UNIQUE,
 *          label, enrolled_at_ms, revoked_at_ms NULL, applied_seq,
 *          applied_head BLOB NULL when 0, last_seen_ms,
 *          replaced_by NULL or the agent.id of its rotated key)
 *    agent_orgunit(agent_id, org_unit)        units the key may write
 *                                             (each with its subtree)
 *    orgunit(code PK, name, parent, valid_from, valid_to)  from the CSV
 *    batch(id PK, agent_id, first_seq, last_seq, received_at_ms,
 *          envelope BLOB)       raw signed envelope exactly as received;
 *          append-only (triggers refuse UPDATE and DELETE)
 *    update_log(agent_id, seq, batch_id, content_hash, chain_head, status,
 *          field, message, <update fields>, received_at_ms) append-only:
 *          triggers refuse UPDATE and DELETE; status is the one it
 *          arrived with
 *    update_status(id PK, agent_id, seq, status, from_status, at_ms,
 *          note)    later status changes (`rejects retry`), append-only;
 *          an update's status now: STORE_SQL_STATUS_NOW
 *    datavalue(org_unit, period, indicator, disagg PK, value, num,
 *          deleted, comment, stored_by, followup, hlc, agent_id,
 *          agent_seq, period_start, period_end (day numbers),
 *          updated_at_ms, signed_hlc NULL when equal to hlc, created_ms,
 *          updated_ms)   current values; WITHOUT ROWID on SQLite; the
 *          agent's key is agent.sign_pk (version 18)
 *    reject(id PK, at_ms, agent_pk, code, field, message, first_seq,
 *          last_seq, seq, raw BLOB NULL when only the digest is kept,
 *          kind, raw_size, raw_digest)   whole-message rejections
 *    followup_log(id PK, org_unit, indicator, period, flag, note, actor,
 *          at_ms)   the admin's follow-up flag, one row per change
 *          (version 11; followup.h owns it)
 *    metadata_version(version PK, published_ms, bundle, signature, signer,
 *          summary)    published metadata (below, version 13), append-only
 *    dhis2_push(target, data_element, period, org_unit, coc, aoc PK,
 *          digest, pushed_at_ms), dhis2_push_run(id PK, target, data_set,
 *          period, at_ms, dry_run, sent, status, counts, message)
 *          what push-dhis2 sent and DHIS2 confirmed (dhis2push.h; the
 *          next version after 17)
 *
 *  Rejects on disk are bounded (a peer sending invalid messages must not
 *  fill the disk): per peer (signer key, or "no key" for garbage) only
 *  the first reject_raw_per_hour rejects of any hour-long window keep
 *  their raw bytes (a frame over CDS_MAX_MSG_BYTES only its first
 *  CDS_REJECT_KEEP_BYTES); the others keep kind, size, reason and the
 *  BLAKE2b-256 digest of the bytes (~200 bytes a row with its indexes).
 *  Below reject_min_free bytes free on the database's file system every
 *  reject keeps only its digest, and ingest goes on. Rows older than the
 *  retention are deleted when a reject is recorded (at most once a
 *  minute, STORE_PRUNE_STEP rows a go), at daemon start and by `rejects
 *  prune`. A per-update rejection (update_log) keeps no field over its
 *  bound: that field is NULL, the kept signed batch holds the bytes.
 *  hlc values are stored as SQLite INTEGER (int64): the signed hlc as its
 *  64 bits (an absurd stamp >= 2^63 reads back negative but unchanged, so
 *  hashes and verify still match), the effective one is never more than
 *  max_clock_skew_ms ahead of arrival, so the merge order is sane. */
#ifndef AGG_STORE_H
#define AGG_STORE_H

#include "cds_ckpt.h"
#include "cds_db.h"
#include "cds_sql.h"
#include "cds_id.h"
#include "cds_orgunit.h"
#include "cds_update.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_LABEL_MAX 128
/* The label of the aggregator's own agent row, the signer of central
 * corrections (central.h); health and enroll tell that row apart by it. */
#define STORE_CENTRAL_LABEL "aggregator (central corrections)"

typedef struct store store_t;

/* One enrolled agent as stored. */
typedef struct {
    int64_t id;                         /* agent.id */
    uint8_t sign_pk[CDS_PK_BYTES];      /* Ed25519 public key */
    uint8_t curve_pk[CDS_PK_BYTES];     /* X25519 public key (CURVE) */
    char pubid[CDS_PUBID_LEN];          /* "cds1:..." */
    char fpr[CDS_FPR_LEN];              /* fingerprint of sign_pk */
    char label[STORE_LABEL_MAX];        /* free text, may be truncated */
    int64_t enrolled_at_ms;             /* first enrollment */
    int64_t revoked_at_ms;              /* 0 when not revoked */
    uint64_t applied_seq;               /* highest processed seq */
    uint8_t applied_head[CDS_HASH_BYTES]; /* head at applied_seq (0s at 0) */
    int64_t last_seen_ms;               /* last verified message, 0: never */
    uint64_t last_eff_hlc;              /* effective stamp of its last
                                         * update (ingest.h), 0: none */
} store_agent_t;

/* Called once per agent by store_agents_each; non-zero stops the walk. */
typedef int (store_agent_fn)(const store_agent_t *agent, void *arg);

/* Open or create the database at path and migrate it. NULL with *err set
 * (CDS_EIO, CDS_ECORRUPT, CDS_EVERSION), logged. */
store_t *store_open(const char *path, int flags, int *err);
/* Finalize statements, close; sets *self_p to NULL. Safe on NULL. */
void store_destroy(store_t **self_p);
/* The schema version this program migrates to (PRAGMA user_version after
 * store_open): a database above it is refused (restore checks backups). */
int store_schema_version(void);

/* The migrations themselves (n = store_schema_version()): for tools that
 * must make a database as an older program did (tests/tools/olddb.c). */
const char *const *store_migrations(void);
/* Schema steps whose tables another core module owns: the SQL text is in
 * that module's *_sql.h, which only it includes, and the module defines
 * the step declared here; store.c lists every step in version order. So
 * store needs no header of theirs (they include store.h: no cycle). */
extern const char health_migration[];      /* health.c: agent_health */
extern const char health_metadata_migration[]; /* health.c: version 14 */
extern const char health_metadata_pg_schema[]; /* health.c: PostgreSQL */
extern const char approval_migration[];  /* approval.c: version 15 */
extern const char approval_pg_schema[];  /* approval.c: PostgreSQL */
extern const char commitmark_migration[];  /* commitmark.c: commit_mark */
extern const char followup_migration[];    /* followup.c: followup_log */
/* Storage boundary (docs/DESIGN.md): store is the only writer of agent,
 * batch, update_log, update_status and datavalue; other modules change
 * them through the functions below (tests/tools/layers.py checks that no
 * other file holds an SQL write to them). Readers outside store read
 * them through store_read (below), and use this expression for the
 * status an update_log row (alias u, a string literal) has now: its latest
 * update_status row's, else its arrival status. Public SQL, as
 * QUERY_SCOPE_CTE is (one index seek on update_status_key). */
/* The triggers of table t (a string literal) refusing UPDATE, DELETE and
 * TRUNCATE (which fires no row trigger), named as SQLite's; the
 * store's tables (store_sql.h) and other modules' append-only tables
 * (approval_sql.h) use it. */
#define STORE_SQL_PG_APPEND_ONLY(t)                                          \
    "CREATE TRIGGER " t "_no_update BEFORE UPDATE ON " t                     \
    " FOR EACH ROW EXECUTE FUNCTION append_only();"                          \
    "CREATE TRIGGER " t "_no_delete BEFORE DELETE ON " t                     \
    " FOR EACH ROW EXECUTE FUNCTION append_only();"                          \
    "CREATE TRIGGER " t "_no_truncate BEFORE TRUNCATE ON " t                 \
    " FOR EACH STATEMENT EXECUTE FUNCTION append_only();"
#define STORE_SQL_STATUS_NOW(u)                                              \
    "coalesce((SELECT s_.status FROM update_status s_"                       \
    " WHERE s_.agent_id = " u ".agent_id AND s_.seq = " u ".seq"             \
    " ORDER BY s_.id DESC LIMIT 1), " u ".status)"
/* The strings of JSON array parameter p (a string literal, ":name") as
 * rows of one column, value: SQLite's json_each, and PostgreSQL's text
 * (json1 is SQLite's own), for "x IN (" STORE_SQL_JSON_TEXTS(":p") ")". */
#define STORE_SQL_JSON_TEXTS(p) "SELECT value FROM json_each(" p ")"
#define STORE_SQL_JSON_TEXTS_PG(p)                                           \
    "SELECT value FROM json_array_elements_text("                            \
    "CAST(CAST(" p " AS TEXT) AS json))"                                     \
    " AS j_(value)"
/* The underlying connection (borrowed), for transactions and queries.
 * store_db is its SQLite half (NULL on PostgreSQL): no aggregator module
 * uses it any more (tests/tools/layers.py rule 7), only SQLite-specific
 * tests and benches; new code uses store_sql. */
cds_db_t *store_db(store_t *self);
cds_sql_t *store_sql(store_t *self);
/* The backend's own checks and upkeep, for the daemon (front/daemon.c),
 * so it needs no backend handle:
 * store_quick_check: SQLite's PRAGMA quick_check of the file (CDS_OK, or
 * CDS_ECORRUPT logged); CDS_OK on PostgreSQL, which checks its pages
 * itself. store_ckpt_new: the WAL checkpointer off the group commits
 * (cds_ckpt.h, pages and max_pages as there) on SQLite, NULL on
 * PostgreSQL (its server checkpoints) or on failure; the caller destroys
 * it with cds_ckpt_destroy. */
int store_quick_check(store_t *self);
cds_ckpt_t *store_ckpt_new(store_t *self, int pages, int max_pages);
/* Where the store is, for logs and messages: the path, or the URL without
 * its password (cds_sql_where). */
const char *store_where(store_t *self);
/* Where the store is exactly as store_open got it, password included: to
 * open a second connection to it (auth's read-only one), never to log. */
const char *store_location(store_t *self);
/* where (a path or a PostgreSQL URL / conninfo) as it may be shown: the
 * password replaced (cds_pg_redact), into buf[len]; returns buf. */
const char *store_display(const char *where, char *buf, size_t len);
/* The single-writer guard (docs/POSTGRESQL.md "One writer per
 * database"): `run` (and the commands that must not run beside it) call
 * it once, before their first write. SQLite: CDS_OK, nothing done (the
 * daemon lock file <db>.lock, backup.h, keeps one writer per file).
 * PostgreSQL: cds_pg_writer_lock on the store's connection, kept across
 * reconnects: CDS_OK; CDS_EBUSY when another session holds it (who, as
 * the server shows it, in holder[len]); another code on failure. */
int store_writer_lock(store_t *self, char *holder, size_t len);
/* Its key, for messages (cds_pg.h: pg_locks shows it as objid). */
#define STORE_WRITER_LOCK_KEY CDS_PG_WRITER_KEY
/* true while a store that took the writer lock has lost it (PostgreSQL:
 * another session took it during a reconnect; writes are refused with
 * CDS_EBUSY until it is back). Safe from any thread. */
bool store_writer_lost(store_t *self);
/* PostgreSQL extern schema parts (health.c, commitmark.c): their tables
 * at the current version, appended to STORE_SQL_PG_SCHEMA in the order of
 * the SQLite migrations into the one PostgreSQL migration. */
extern const char health_pg_schema[];
extern const char commitmark_pg_schema[];
/* The second PostgreSQL migration (followup.c): followup_log, added after
 * the first so a database made at version 1 gets it too. */
extern const char followup_pg_schema[];

/* SAVEPOINT / RELEASE / ROLLBACK TO (then RELEASE) of the per-message
 * savepoint. CDS_OK or a cds_err code (logged).
 * Cost on PostgreSQL: a savepoint is a subtransaction; one that writes
 * takes a subtransaction id, and a transaction with more than 64 of them
 * overflows the per-backend subxid cache (PGPROC_MAX_CACHED_SUBXIDS):
 * every other session's snapshot check then reads pg_subtrans, which
 * slows the whole server. One savepoint per message keeps a group under
 * that at the default group_max (64): the daemon warns, and
 * --check-config says, when group_max > 64 on PostgreSQL. Measured and
 * chosen over "no savepoint, group retried message by message": see
 * docs/POSTGRESQL.md "Group commit". */
int store_savepoint(store_t *self);
int store_release(store_t *self);
int store_rollback_to(store_t *self);
/* The largest group (messages, so savepoints, per transaction) that
 * stays inside PostgreSQL's subtransaction cache. */
#define STORE_PG_GROUP_MAX 64

/* Upsert every org unit of ous into the orgunit table (caller's
 * transaction or autocommit). CDS_OK or a cds_err code. */
int store_orgunits_load(store_t *self, const cds_orgunits_t *ous);
/* 1 if code is in the orgunit table, 0 if not, negative cds_err on error. */
int store_orgunit_exists(store_t *self, const char *code);
/* As store_orgunit_exists, and when 1 the unit's lifetime in day numbers
 * (*from INT32_MIN, *to INT32_MAX where open: cds_orgunit.h) and, when
 * name is not NULL, its name (cut to namelen). */
int store_orgunit_span(store_t *self, const char *code, int32_t *from,
                       int32_t *to, char *name, size_t namelen);
/* 1 if org_unit is one of the agent's units or below one, 0 if not,
 * negative cds_err on error. */
int store_agent_allowed(store_t *self, int64_t agent_id, const char *org_unit);

/* Agent by signing key / by fingerprint. CDS_OK, CDS_ENOTFOUND, or a
 * database error code. */
int store_agent_find(store_t *self, const uint8_t pk[CDS_PK_BYTES],
                     store_agent_t *out);
int store_agent_find_fpr(store_t *self, const char *fpr, store_agent_t *out);
/* Record that agent old_id was replaced by new_id (key rotation; the
 * caller revokes old_id in the same transaction). */
int store_agent_replaced(store_t *self, int64_t old_id, int64_t new_id);
/* Fingerprint of the key enrolled in old_id's place into fpr[len], ""
 * when none. CDS_OK or a database error code. */
int store_agent_successor(store_t *self, int64_t old_id, char *fpr,
                          size_t len);
/* Agent by CURVE (X25519) key, a non-revoked row first (auth.c). CDS_OK,
 * CDS_ENOTFOUND, or a database error code. */
int store_agent_find_curve(store_t *self, const uint8_t curve_pk[CDS_PK_BYTES],
                           store_agent_t *out);
/* Insert the agent or, when its key is known, update label and curve key;
 * then make its unit set exactly units[0..n). *id receives agent.id. */
int store_agent_enroll(store_t *self, const uint8_t sign_pk[CDS_PK_BYTES],
                       const uint8_t curve_pk[CDS_PK_BYTES], const char *label,
                       const char *const *units, size_t n, int64_t now_ms,
                       int64_t *id);
/* Set revoked_at_ms (kept if already revoked). CDS_OK or error code. */
int store_agent_revoke(store_t *self, int64_t id, int64_t now_ms);
/* Record the new applied seq and head. */
int store_agent_advance(store_t *self, int64_t id, uint64_t seq,
                        const uint8_t head[CDS_HASH_BYTES]);
/* The same, and raise agent.last_eff_hlc to last_eff (0: keep it). */
int store_agent_advance_eff(store_t *self, int64_t id, uint64_t seq,
                            const uint8_t head[CDS_HASH_BYTES],
                            uint64_t last_eff);
/* Record a verified message from the agent. */
int store_agent_seen(store_t *self, int64_t id, int64_t now_ms);
/* The same for a held last-seen time (health.c): never moves it back. */
int store_agent_seen_max(store_t *self, int64_t id, int64_t now_ms);
/* Call fn for every agent (ordered by label, fingerprint). */
int store_agents_each(store_t *self, store_agent_fn *fn, void *arg);
/* The agent's units, comma-separated, into buf. CDS_OK or error. */
int store_agent_units(store_t *self, int64_t id, char *buf, size_t len);

/* Keep a received batch envelope. *batch_id receives batch.id. */
int store_batch_add(store_t *self, int64_t agent_id, uint64_t first,
                    uint64_t last, int64_t now_ms, const uint8_t *envelope,
                    size_t len, int64_t *batch_id);
/* The same, with the clock offset (ms) subtracted from the batch's stamps
 * (ingest.h "effective stamp"; 0: none), which `verify` re-derives. */
int store_batch_add_shift(store_t *self, int64_t agent_id, uint64_t first,
                          uint64_t last, int64_t now_ms, int64_t shift_ms,
                          const uint8_t *envelope, size_t len,
                          int64_t *batch_id);
/* Stored content hash, chain head and status of (agent, seq); when status
 * is a rejection, its field and message into the buffers (may be NULL).
 * CDS_OK, CDS_ENOTFOUND or a database error. */
int store_log_get(store_t *self, int64_t agent_id, uint64_t seq,
                  uint8_t hash[CDS_HASH_BYTES], uint8_t head[CDS_HASH_BYTES],
                  int *status, char *field, size_t field_len, char *message,
                  size_t message_len);
/* Append the history row of one update; status 0 applied, else the reason
 * (field, message may be NULL). A second row for (agent, seq) fails with
 * CDS_ERROR (primary key). Pipelined: inside a write transaction on
 * PostgreSQL this and store_merge* only send the statement, and its
 * failure is returned by the next store call or the commit instead
 * (cds_sql_run_deferred); the transaction fails all the same. */
int store_log_add(store_t *self, int64_t agent_id, int64_t batch_id,
                  const cds_update_t *u, const uint8_t hash[CDS_HASH_BYTES],
                  const uint8_t head[CDS_HASH_BYTES], int status,
                  const char *field, const char *message, int64_t now_ms);
/* store_log_add with the update's effective stamp (ingest.h) in eff_hlc;
 * store_log_add records u->hlc as its own effective stamp. */
int store_log_add_eff(store_t *self, int64_t agent_id, int64_t batch_id,
                      const cds_update_t *u, uint64_t eff_hlc,
                      const uint8_t hash[CDS_HASH_BYTES],
                      const uint8_t head[CDS_HASH_BYTES], int status,
                      const char *field, const char *message, int64_t now_ms);
/* store_log_add_eff recording in meta_version the published metadata
 * version whose catalog checked the update (0: the configured files,
 * stored NULL; ingest.h ingest_set_versions). */
int store_log_add_ver(store_t *self, int64_t agent_id, int64_t batch_id,
                      const cds_update_t *u, uint64_t eff_hlc,
                      const uint8_t hash[CDS_HASH_BYTES],
                      const uint8_t head[CDS_HASH_BYTES], int status,
                      const char *field, const char *message, int64_t now_ms,
                      int64_t meta_version);
/* `rejects retry` applied (agent, seq), which was rejected: append an
 * update_status row (status 0, from_status the reason, at now_ms);
 * update_log is never edited. *changed: false when its status is 0
 * already (nothing appended). In the caller's transaction, which also
 * merges the update. CDS_OK or a database error. */
int store_log_retried(store_t *self, int64_t agent_id, uint64_t seq,
                      int64_t now_ms, bool *changed);
/* Effective stamp recorded for (agent, seq) (the signed one for rows from
 * before effective stamps). CDS_OK, CDS_ENOTFOUND or a database error. */
int store_log_eff(store_t *self, int64_t agent_id, uint64_t seq,
                  uint64_t *eff);
/* Last-writer-wins merge of an applied update by its effective stamp
 * eff_hlc (num: typed value, ignored for deletes; period_start/end: day
 * numbers of u->period); u->hlc is kept as datavalue.signed_hlc.
 * store_merge: eff_hlc = u->hlc. */
int store_merge_eff(store_t *self, const cds_update_t *u, uint64_t eff_hlc,
                    double num, const uint8_t agent_pk[CDS_PK_BYTES],
                    int64_t agent_id, int32_t period_start,
                    int32_t period_end, int64_t now_ms);
int store_merge(store_t *self, const cds_update_t *u, double num,
                const uint8_t agent_pk[CDS_PK_BYTES], int64_t agent_id,
                int32_t period_start, int32_t period_end, int64_t now_ms);
/* Append to the rejection log. agent_pk may be NULL; seq fields 0 = NULL.
 * raw is kept or only digested as described above (kind unknown: 0). */
int store_reject_add(store_t *self, int64_t now_ms, const uint8_t *agent_pk,
                     int code, const char *field, const char *message,
                     uint64_t first, uint64_t last, uint64_t seq,
                     const uint8_t *raw, size_t raw_len);
/* store_reject_add of a message of kind (Cdsync__Kind, 0 unknown). */
int store_reject_add_kind(store_t *self, int64_t now_ms,
                          const uint8_t *agent_pk, int kind, int code,
                          const char *field, const char *message,
                          uint64_t first, uint64_t last, uint64_t seq,
                          const uint8_t *raw, size_t raw_len);

#define STORE_REJECT_RAW_PER_HOUR 20           /* default */
#define STORE_REJECT_RETENTION_DAYS 30         /* default */
#define STORE_REJECT_MIN_FREE_MB 512           /* default */
#define STORE_PRUNE_STEP 10000                 /* rows deleted per go */
/* Set the bounds: raw bytes of at most raw_per_hour rejects per peer per
 * hour (0: digests only); retention_ms (0: keep for ever); min_free_bytes
 * free on the database's file system (0: no floor). */
void store_set_reject_bounds(store_t *self, int raw_per_hour,
                             int64_t retention_ms, uint64_t min_free_bytes);
/* Delete at most STORE_PRUNE_STEP reject rows older than cutoff_ms;
 * *deleted receives the count. CDS_OK or a database error. */
int store_reject_prune(store_t *self, int64_t cutoff_ms, int64_t *deleted);

/* Knocks (auth.h, table knock): add count refused handshakes seen between
 * first_ms and last_ms from address with client key curve_pk (CDS_PK_BYTES,
 * NULL: none known) to their row, creating it; code is the latest reason
 * (CDS_EUNKNOWNKEY, CDS_EREVOKED, CDS_EMALFORMED). Rows whose last_ms is
 * older than the reject retention go, once a minute at most. Autocommit
 * or inside the caller's transaction. CDS_OK or a database error. */
int store_knock_add(store_t *self, const uint8_t *curve_pk,
                    const char *address, int code, int64_t first_ms,
                    int64_t last_ms, uint64_t count);
/* Delete every knock row last seen before cutoff_ms. */
int store_knock_prune(store_t *self, int64_t cutoff_ms, int64_t *deleted);

/* ---- reading the core tables (issue 14 item 2) --------------------------
 * Store is the only writer of agent, batch, update_log, update_status and
 * datavalue, and the only module that reads them on its own connection:
 * every other reader (reports, the HTTP API, audit, health, knock,
 * rejects, commitmark) prepares its SELECT through
 * store_read and iterates the rows with cds_sql_step / cds_sql_col_*
 * (tests/tools/layers.py rule 7 checks it). A module's own tables
 * (orgunit_map, api_token, ...) it may still change through store_sql.
 *
 * store_read prepares a read-only statement: sql on SQLite, pg_sql on
 * PostgreSQL (NULL: sql). Both texts must be one SELECT (WITH ...,
 * VALUES) with no data-modifying word outside quotes (INSERT, UPDATE,
 * DELETE, ... : a writing CTE or SELECT ... FOR UPDATE is refused) and no
 * second statement; on SQLite the prepared statement must also be
 * read-only by sqlite3_stmt_readonly. Refused or failed: NULL, logged
 * (event store_read_refused or the driver's error). The caller finalizes
 * it (cds_sql_finalize). What the text cannot show, a PostgreSQL
 * function that writes (nextval, setval), the server
 * refuses itself inside store_read_begin (a READ ONLY transaction). */
cds_sql_stmt_t *store_read(store_t *self, const char *sql, const char *pg_sql);
/* One snapshot over several reads: a read transaction (SQLite BEGIN;
 * PostgreSQL REPEATABLE READ READ ONLY, where any write fails). Not
 * nested, not inside a write transaction. store_read_end ends it (safe
 * after a failed read). CDS_OK or a cds_err code (logged). */
int store_read_begin(store_t *self);
/* Text ORDER BY in byte order on PostgreSQL, as SQLite's BINARY
 * collation sorts (the database's collation may be a language's): append
 * to each text sort key of a NAME_PG statement whose order shows. */
#define STORE_SQL_BYTE_ORDER " COLLATE \"C\""
void store_read_end(store_t *self);

/* A cost bound on the reads between store_read_limit and
 * store_read_unlimit (the HTTP API's per-request budget): on SQLite at
 * most steps virtual-machine steps (a statement over it is interrupted
 * and fails); on PostgreSQL each statement runs at most ms milliseconds
 * (statement_timeout), and the reads together are over their bound when
 * they took ms or more. exceeded tells the caller after unlimit. */
typedef struct {
    long steps;                        /* SQLite: VM steps allowed */
    int64_t ms;                        /* PostgreSQL: milliseconds */
    bool exceeded;                     /* set by the bound */
    long left_;                        /* private: steps to go / 1000 */
    int64_t start_ms_;                 /* private: monotonic start */
} store_limit_t;
/* CDS_OK or a cds_err code (logged). lim stays the caller's, in use
 * until store_read_unlimit. */
int store_read_limit(store_t *self, store_limit_t *lim);
void store_read_unlimit(store_t *self, store_limit_t *lim);

/* ---- Whole-store copy (`migrate-store`, front/migrate.h) -------------
 * The one sanctioned bulk writer of a store besides the typed operations
 * above: a verbatim copy of another store's rows into a fresh store (its
 * tables empty, not yet serving), so the invariants above hold on the copy
 * exactly when they hold on the source. Kept here, not in the front,
 * because store is the only writer of the core tables (layers rule 6). */

/* One table as the copy sees it (names checked: [A-Za-z_][A-Za-z0-9_]*). */
typedef struct {
    const char *name;                 /* the table */
    const char *const *cols;          /* every column, in the source order */
    int n_cols;
    int late;       /* index of a column referencing its own table
                     * (agent.replaced_by), else -1: inserted NULL, set
                     * once the table is copied (PostgreSQL checks foreign
                     * keys per statement, the referenced row may come
                     * later) */
    int key;        /* with late: index of the table's single integer
                     * primary key column */
    bool replace;   /* first delete the rows the destination's own schema
                     * put there (commit_mark's fresh row), in the same
                     * transaction as the first copied rows */
} store_copy_table_t;

/* Called after each committed batch with the rows copied so far. */
typedef void (store_copy_progress_fn)(const char *table, int64_t rows,
                                      void *arg);

/* Append every row src yields (a statement of ANOTHER connection selecting
 * t->cols in that order; stepped here to its end) to t->name of this
 * store, batch rows per transaction, calling progress (may be NULL) after
 * each commit. Values are bound with the type they have in src (integers,
 * doubles, text, blobs byte-exact, NULL; on PostgreSQL numbers go as
 * untyped text, read as the column's type: boolean 0/1 too). *rows and *bytes (text and blob
 * payload) receive what was copied. CDS_OK, CDS_EUSAGE (a name that is not
 * an identifier, late without key), or a database error: the batches
 * committed before it stay (the caller says how to start again). */
int store_copy_rows(store_t *self, const store_copy_table_t *t,
                    cds_sql_stmt_t *src, int batch,
                    store_copy_progress_fn *progress, void *arg,
                    int64_t *rows, uint64_t *bytes);
/* After the copy: every identity or serial column's sequence past the
 * greatest copied value (PostgreSQL setval), so the next insert takes a
 * new id; nothing on SQLite (a rowid continues from the greatest one).
 * CDS_OK or a database error. */
int store_copy_identities(store_t *self);

/* ---- published metadata (issue 20; front/metadata.h) -------------------
 * metadata_version(version PK, published_ms, bundle BLOB, signature,
 * signer, summary), append-only: one row per `metadata publish`. */
typedef struct {
    int64_t version;                    /* 1, 2, ... */
    int64_t published_ms;
    uint8_t *bundle;                    /* MetadataBundle bytes (owned) */
    size_t bundle_len;
    uint8_t signature[CDS_SIG_BYTES];   /* over bundle, KIND_METADATA */
    uint8_t signer[CDS_PK_BYTES];       /* aggregator Ed25519 key */
    char *summary;                      /* diff in words (owned) */
} store_metadata_t;
typedef int (store_metadata_fn)(const store_metadata_t *m, void *arg);
/* Free the owned fields (the struct itself is the caller's). */
void store_metadata_clear(store_metadata_t *m);
/* Highest published version into *version, 0 when none. */
int store_metadata_latest(store_t *self, int64_t *version);
/* Version version into *out (clear with store_metadata_clear). CDS_OK,
 * CDS_ENOTFOUND, or a database error. */
int store_metadata_get(store_t *self, int64_t version, store_metadata_t *out);
/* fn for every version, oldest first; a non-zero return stops and is
 * returned. */
int store_metadata_each(store_t *self, store_metadata_fn *fn, void *arg);
/* Add m in a transaction of its own; m->version must be latest + 1, else
 * CDS_EBUSY and nothing written. */
int store_metadata_add(store_t *self, const store_metadata_t *m);
/* fn(code, rows) for every indicator (units: org unit) with stored, not
 * deleted values, in code order; a non-zero return stops, is returned. */
typedef int (store_code_fn)(const char *code, int64_t rows, void *arg);
int store_codes_in_use(store_t *self, bool units, store_code_fn *fn,
                       void *arg);

#endif
