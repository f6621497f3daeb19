/*  commitmark: detect an aggregator database that went back in time (a WAL
 *  cut before its last commit, a disk that lied about fsync, a database
 *  restored from last night's backup, a PostgreSQL failover to a replica
 *  that lacked acked commits), which the database itself reads as a
 *  valid older state, and let the operator accept it knowingly.
 *
 *  Two records of the same counter, kept independently:
 *    - in the database, table commit_mark (commitmark_sql.h): the
 *      database's random 16-byte id (made at creation) and a counter,
 *      + 1 inside the transaction of every group commit that sends acks
 *      (commitmark_bump between the store's begin and commit, on the
 *      store's own connection, store_sql: the same transaction on both
 *      backends);
 *    - in a sidecar file <base>.commitmark (mode 0600; base is the SQLite
 *      file, or on PostgreSQL the local path the daemon keeps its lock
 *      beside, <state_dir>/aggregator.db): that id and the counter,
 *      written with pwrite + fdatasync AFTER the COMMIT and BEFORE any
 *      ack of the group leaves (server.c).
 *  Invariant: every ack the aggregator ever sent belongs to a group whose
 *  counter is <= the mark, and the mark is <= the counter of the database
 *  it names as long as that database keeps what it committed. So at
 *  startup database < mark means acked commits are missing; database >
 *  mark only means a crash between commit and mark write (nothing of that
 *  group was acked) and is repaired by rewriting the mark.
 *
 *  PostgreSQL (docs/POSTGRESQL.md "When the store goes back in time"):
 *  the server behind the URL can change under the daemon (a failover
 *  moves the URL to a replica; a base backup is restored; a dump is
 *  reloaded into another cluster), so the mark also records the server's
 *  facts: its system identifier (pg_control_system(): fixed at initdb,
 *  shared by a primary, its physical replicas and base-backup copies),
 *  the timeline (the primary's current WAL file; pg_control_checkpoint()
 *  during recovery), and the database's OID and name. The counter alone
 *  still decides whether acked data are missing; the facts say why, and
 *  are compared at startup and again before the first acking commit
 *  after every reconnect (cds_pg_generation changes; commitmark_bump):
 *    other system identifier          -> OTHER_CLUSTER: refused
 *    counter behind the mark          -> BEHIND: refused (the message
 *                                        names the new timeline or
 *                                        re-created database when seen)
 *    new timeline or database OID,    -> MOVED: a clean failover, or a
 *    counter intact                      PITR / reload to a point after
 *                                        the last ack: runs, logged, the
 *                                        mark takes the new facts
 *  A refusal found after a reconnect makes every acking group roll back
 *  (agents are told to retry, nothing is acked) and is logged
 *  (commit_mark_refused) until the daemon is stopped; its restart then
 *  refuses as at startup, until `accept-restore`.
 *
 *  File format (two slots at offsets 0 and 512, written alternately by
 *  counter parity so a torn write damages only one slot; the valid slot
 *  with the greatest counter is the mark). SQLite, 64 bytes: "CDSMARK1",
 *  db_id[16], counter (8 bytes little-endian), BLAKE2b-256
 *  (crypto_generichash) of the first 32 bytes. PostgreSQL, 144 bytes:
 *  "CDSMARK2", db_id[16], counter, system identifier (8, little-endian),
 *  timeline (4), database OID (4), database name (64, NUL-padded),
 *  BLAKE2b-256 of the first 112 bytes.
 *
 *  After `accept-restore` (commitmark_accept) every agent's next hello is
 *  compared with its applied seq: an agent holding acks above it has lost
 *  those updates from this database; the range is recorded
 *  (restore_loss). When the agent still keeps its signed batches from
 *  applied + 1 (Hello.kept_from), it is asked to resend them
 *  (HelloAnswer.resend_from, docs/RELIABILITY.md "Resend from"; logged
 *  event=acked_updates_resend) and they are verified and applied as
 *  usual. What it no longer keeps is lost for good (logged
 *  event=acked_updates_lost): the agent's chain is continued from the
 *  head it signed there, so it keeps syncing (commitmark_hello_kept).
 *  `restores` counts per range what the history holds again. */
#ifndef AGG_COMMITMARK_H
#define AGG_COMMITMARK_H

#include "cds_sql.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define COMMITMARK_ID_BYTES 16
#define COMMITMARK_SUFFIX ".commitmark"
#define COMMITMARK_DBNAME_BYTES 64     /* PostgreSQL names: 63 + NUL */

typedef struct commitmark commitmark_t;

/* One record of the mark file. */
typedef struct {
    uint8_t db_id[COMMITMARK_ID_BYTES]; /* commit_mark.db_id it belongs to */
    uint64_t counter;                   /* last counter whose acks may
                                         * have been sent */
    /* PostgreSQL only (0 and "" on SQLite): the server it was on. */
    uint64_t system_id;                 /* pg_control_system() */
    uint32_t timeline;                  /* the timeline it was on */
    uint32_t db_oid;                    /* pg_database.oid */
    char db_name[COMMITMARK_DBNAME_BYTES]; /* current_database() */
} commitmark_record_t;

/* What startup found (commitmark_check). */
typedef enum {
    COMMITMARK_OK = 0,          /* database == mark */
    COMMITMARK_CREATED,         /* no mark file, empty database: created */
    COMMITMARK_ADOPTED,         /* no mark file, but the database holds
                                 * batches (first start after the upgrade,
                                 * or the mark was deleted): created, warn */
    COMMITMARK_REPAIRED,        /* database > mark: crash before the mark
                                 * write, mark rewritten */
    COMMITMARK_BEHIND,          /* database < mark: acked commits missing */
    COMMITMARK_FOREIGN,         /* the mark names another database */
    COMMITMARK_DAMAGED,         /* file present, no valid slot */
    COMMITMARK_OTHER_CLUSTER,   /* PostgreSQL: the mark was written on a
                                 * server of another system identifier */
    COMMITMARK_MOVED,           /* PostgreSQL: counter intact, but a new
                                 * timeline (failover, PITR) or database
                                 * OID (reloaded): mark rewritten, warn */
    COMMITMARK__COUNT
} commitmark_state_t;

/* Read the mark file at path: CDS_OK with *out, CDS_ENOTFOUND when absent,
 * CDS_ECORRUPT when no slot is valid, CDS_EIO on a read error. */
int commitmark_file_read(const char *path, commitmark_record_t *out);
/* Write *rec into its slot of the file at path (created 0600, its
 * directory synced when created), then fdatasync. CDS_OK or CDS_EIO. */
int commitmark_file_write(const char *path, const commitmark_record_t *rec);

/* Bind to the store's database (borrowed; migrated with
 * COMMITMARK_SQL_MIGRATION) and its sidecar <base>.commitmark; base NULL
 * is the database file (SQLite; on PostgreSQL a base is required: the
 * daemon's <state_dir>/aggregator.db). Prepares the statements. A skipped
 * range moves the agent on through the store (store_agent_advance), the
 * only writer of the agent table. NULL on failure (logged). The file is
 * opened by commitmark_check and kept open for the daemon's life (a later
 * EMFILE cannot stop acks). */
commitmark_t *commitmark_new(store_t *store, const char *base);
/* Close the file, finalize; sets *self_p to NULL. Safe on NULL. */
void commitmark_destroy(commitmark_t **self_p);
/* Sidecar path (borrowed). */
const char *commitmark_path(const commitmark_t *self);
/* Database id and counter as stored now, with the server's facts on
 * PostgreSQL. CDS_OK or a database error. */
int commitmark_db_get(commitmark_t *self, commitmark_record_t *out);

/* Startup: compare database and mark; create or repair the mark when
 * that is safe (commitmark_state_runs). *state says what was found; msg gets
 * one operator sentence for every state but OK (what, both counters,
 * probable cause, what to do). CDS_OK, or an I/O / database error; on
 * CDS_OK with a state the daemon may run in, the file stays open. */
int commitmark_check(commitmark_t *self, commitmark_state_t *state,
                     char *msg, size_t msglen);

/* Inside the open transaction of a group that will send acks: counter
 * + 1. On PostgreSQL, first after every reconnect, the server is compared
 * with the mark again (see above). CDS_OK, CDS_ECORRUPT when the server
 * is refused (logged; again at every call until the next reconnect), or
 * a database error: the caller rolls back and acks nothing. */
int commitmark_bump(commitmark_t *self);
/* After that transaction committed, before any of its acks: write the
 * bumped counter to the file and fdatasync. CDS_OK (also when nothing was
 * bumped); else no ack of the group may be sent: CDS_EBUSY (no descriptor
 * or memory: retry later), CDS_EFULL (disk full) or CDS_EIO (the disk
 * failed). The counter stays bumped; the next sync writes it. */
int commitmark_sync(commitmark_t *self);

/* accept-restore: in one transaction record a restore_event (reason: the
 * state found, note: operator text), make every non-revoked agent's next
 * hello compared (restore_pending); then write the mark = database
 * counter. *event_id receives the event. CDS_OK or an error code. */
int commitmark_accept(commitmark_t *self, commitmark_state_t state,
                      const char *note, int64_t now_ms, int64_t *event_id);

/* In ingest's transaction, for a verified hello of agent (updated in
 * place): when a restore is pending for it and it holds acks above its
 * applied seq (acked_seq, acked_head signed by it), record the lost range,
 * log it and continue its chain at (acked_seq, acked_head). *lost_first
 * and *lost_last receive the range (0, 0: nothing lost). CDS_OK or a
 * database error. */
int commitmark_hello(commitmark_t *self, store_agent_t *agent,
                     uint64_t acked_seq, const uint8_t *acked_head,
                     size_t head_len, int64_t now_ms, uint64_t *lost_first,
                     uint64_t *lost_last);

/* What a verified hello says about the agent's acks and kept batches
 * (the Hello fields of the same names; pointers borrowed). */
typedef struct {
    uint64_t acked_seq;
    const uint8_t *acked_head;
    size_t head_len;
    uint64_t kept_from;                /* 0: nothing kept */
    const uint8_t *kept_prev_head;     /* chain head at kept_from - 1 */
    size_t kept_prev_head_len;
} commitmark_hello_t;

/* commitmark_hello with the agent's kept batches: when a restore is
 * pending and the agent holds acks above its applied seq N, the missing
 * range N+1..acked_seq is recorded; the part its kept batches cover
 * (from kept_from, or N+1 when kept_from <= N+1) is to be resent:
 * *resend_from = its first seq (0: none); the part before it is lost
 * for good (*lost_first..*lost_last, 0..0 when none) and the chain skips
 * it (continued at kept_from - 1 with kept_prev_head, or at acked_seq
 * with acked_head when nothing is kept). With no restore pending,
 * *resend_from = N+1 when kept batches cover N+1..acked_seq (a resend
 * interrupted, or a restored database never accepted). CDS_OK or a
 * database error. */
int commitmark_hello_kept(commitmark_t *self, store_agent_t *agent,
                          const commitmark_hello_t *h, int64_t now_ms,
                          uint64_t *lost_first, uint64_t *lost_last,
                          uint64_t *resend_from);

/* Print restore events and recorded losses, one line each, to f.
 * CDS_OK or a database error. */
int commitmark_print(commitmark_t *self, FILE *f);

/* Stable name of a state ("behind"). */
const char *commitmark_state_name(commitmark_state_t state);
/* true when the daemon may run in state (OK, CREATED, ADOPTED, REPAIRED,
 * MOVED); the others wait for `accept-restore`. */
bool commitmark_state_runs(commitmark_state_t state);

#endif
