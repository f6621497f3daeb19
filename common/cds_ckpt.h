/*  cds_ckpt: WAL checkpoints off the commit path.
 *
 *  SQLite's default auto-checkpoint runs inside the COMMIT of whichever
 *  transaction pushes the WAL past 1,000 pages: that commit then also
 *  copies the WAL into the database and fsyncs it, a stall of several
 *  milliseconds on the latency path (an ack waits for it). A checkpointer
 *  turns the writer connection's auto-checkpoint off and runs PASSIVE
 *  checkpoints (sqlite3_wal_checkpoint_v2) from its own connection in a
 *  helper thread, woken by the writer's WAL hook. PASSIVE never blocks the
 *  writer nor readers (SQLite docs, wal.html "checkpoint starvation").
 *
 *  Invariant: the WAL stays bounded. When it reaches max_pages (the helper
 *  could not keep up, e.g. the writer never pauses) the writer runs one
 *  PASSIVE checkpoint itself right after its commit, as SQLite would have,
 *  so the next write can restart the log from its beginning. Durability is
 *  unchanged: synchronous=FULL on both connections; the checkpoint only
 *  moves already-committed pages.
 */
#ifndef CDS_CKPT_H
#define CDS_CKPT_H

#include "cds_db.h"

#include <stdint.h>

/* WAL pages that wake the helper (SQLite's auto-checkpoint default). */
#define CDS_CKPT_PAGES 1000
/* WAL pages at which the writer checkpoints itself (64 MiB at 4 KiB). */
#define CDS_CKPT_MAX_PAGES 16000
/* The aggregator's bound (250 MiB at 4 KiB). Under sustained ingest each
 * of the writer's own checkpoints stalls it ~60 ms whatever the helper
 * left to copy (measured in a 1,000,000-update catch-up: 24 of them, 1.4 s
 * of 20 s at 16,000; 6, 0.37 s at 64,000; docs/PERFORMANCE.md). The WAL
 * file keeps its largest size on disk. */
#define CDS_CKPT_MAX_PAGES_AGG 64000

typedef struct cds_ckpt cds_ckpt_t;

/* Attach a checkpointer to db's (read-write) connection. NULL on failure,
 * logged; db then keeps SQLite's auto-checkpoint. Destroy it before
 * closing db. pages >= 1, max_pages >= pages. */
cds_ckpt_t *cds_ckpt_new(cds_db_t *db, int pages, int max_pages);
/* Stop the helper (it finishes a running checkpoint), close its
 * connection and give db back SQLite's auto-checkpoint. NULL-safe. */
void cds_ckpt_destroy(cds_ckpt_t **self_p);
/* Checkpoints run so far by the helper; *by_writer (may be NULL) gets
 * those the writer ran itself at max_pages. */
uint64_t cds_ckpt_count(cds_ckpt_t *self, uint64_t *by_writer);
/* Wake the helper now whatever the WAL size (tests, idle moments). */
void cds_ckpt_kick(cds_ckpt_t *self);
/* Block until the helper has finished a checkpoint that started after
 * this call: CDS_OK, or CDS_EBUSY when timeout_ms passed first. */
int cds_ckpt_wait(cds_ckpt_t *self, long timeout_ms);

#endif
