/*  commitmark: detect an aggregator database that went back in time (a WAL
 *  cut before its last commit, a disk that lied about fsync, a database
 *  restored from last night's backup), which SQLite itself reads as a
 *  valid older state, and let the operator accept it knowingly.
 *
 *  Two records of the same counter, kept independently:
 *    - in the database, table commit_mark (commitmark_sql.h): the
 *      database's random 16-byte id (made at creation) and a counter,
 *      + 1 inside the transaction of every group commit that sends acks;
 *    - in a sidecar file <db>.commitmark (mode 0600): that id and the
 *      counter, written with pwrite + fdatasync AFTER the COMMIT and
 *      BEFORE any ack of the group leaves (server.c).
 *  Invariant: every ack the aggregator ever sent belongs to a group whose
 *  counter is <= the mark, and the mark is <= the counter of the database
 *  it names as long as that database keeps what it committed. So at
 *  startup database < mark means acked commits are missing; database >
 *  mark only means a crash between commit and mark write (nothing of that
 *  group was acked) and is repaired by rewriting the mark.
 *
 *  File format (64-byte slots, two of them at offsets 0 and 512, written
 *  alternately by counter parity so a torn write damages only one slot;
 *  the valid slot with the greatest counter is the mark): "CDSMARK1",
 *  db_id[16], counter (8 bytes little-endian), BLAKE2b-256
 *  (crypto_generichash) of the first 32 bytes.
 *
 *  After `accept-restore` (commitmark_accept) every agent's next hello is
 *  compared with its applied seq: an agent holding acks above it has lost
 *  those updates; the range is recorded (restore_loss), logged
 *  (event=acked_updates_lost), and the agent's chain is continued from
 *  the head it signed, so it keeps syncing (commitmark_hello). */
#ifndef AGG_COMMITMARK_H
#define AGG_COMMITMARK_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define COMMITMARK_ID_BYTES 16
#define COMMITMARK_SUFFIX ".commitmark"

typedef struct commitmark commitmark_t;

/* One record of the mark file. */
typedef struct {
    uint8_t db_id[COMMITMARK_ID_BYTES]; /* commit_mark.db_id it belongs to */
    uint64_t counter;                   /* last counter whose acks may
                                         * have been sent */
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
    COMMITMARK__COUNT
} commitmark_state_t;

/* Read the mark file at path: CDS_OK with *out, CDS_ENOTFOUND when absent,
 * CDS_ECORRUPT when no slot is valid, CDS_EIO on a read error. */
int commitmark_file_read(const char *path, commitmark_record_t *out);
/* Write *rec into its slot of the file at path (created 0600, its
 * directory synced when created), then fdatasync. CDS_OK or CDS_EIO. */
int commitmark_file_write(const char *path, const commitmark_record_t *rec);

/* Bind to the store's database (borrowed; migrated with
 * COMMITMARK_SQL_MIGRATION) and its sidecar <path>.commitmark; prepares
 * the statements. A skipped range moves the agent on through the store
 * (store_agent_advance), the only writer of the agent table. NULL on
 * failure (logged). The file is opened by commitmark_check and kept open
 * for the daemon's life (a later EMFILE cannot stop acks). */
commitmark_t *commitmark_new(store_t *store);
/* Close the file, finalize; sets *self_p to NULL. Safe on NULL. */
void commitmark_destroy(commitmark_t **self_p);
/* Sidecar path (borrowed). */
const char *commitmark_path(const commitmark_t *self);
/* Database id and counter as stored now. CDS_OK or a database error. */
int commitmark_db_get(commitmark_t *self, commitmark_record_t *out);

/* Startup: compare database and mark; create or repair the mark when
 * that is safe (CREATED, ADOPTED, REPAIRED). *state says what was found; msg gets
 * one operator sentence for every state but OK (what, both counters,
 * probable cause, what to do). CDS_OK, or an I/O / database error; on
 * CDS_OK with a state the daemon may run in, the file stays open. */
int commitmark_check(commitmark_t *self, commitmark_state_t *state,
                     char *msg, size_t msglen);

/* Inside the open transaction of a group that will send acks: counter
 * + 1. CDS_OK or a database error (the caller rolls back). */
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

/* Print restore events and recorded losses, one line each, to f.
 * CDS_OK or a database error. */
int commitmark_print(commitmark_t *self, FILE *f);

/* Stable name of a state ("behind"). */
const char *commitmark_state_name(commitmark_state_t state);

#endif
