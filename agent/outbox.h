/*  outbox: the agent's durable queue of updates waiting for an ack, with
 *  the receipts and rejections the aggregator sent back.
 *
 *  Invariants:
 *  - seq is strictly increasing and never reused: meta.last_seq is >= every
 *    seq ever assigned (also across renumbering), and a push takes
 *    last_seq + 1, last_seq + 2, ...
 *  - Pending rows form one contiguous range; chain_head of each row is
 *    head(seq) of the hash chain (common/cds_update.h), starting from
 *    meta.last_head / the previous row's head.
 *  - A row leaves `outbox` only inside the transaction that records an ack
 *    covering its seq (and, if that ack rejected it, copies it into
 *    `rejected`). "Queued" means committed with synchronous=FULL.
 *
 *  Applying the same ack twice is harmless: the delete of rows <= acked_seq
 *  finds nothing the second time, the copy into `rejected` selects from the
 *  (now empty) outbox rows and is INSERT OR IGNORE on seq, the receipt is
 *  INSERT OR IGNORE on the BLAKE2b digest of the signed envelope bytes, and
 *  acked_seq only ever moves forward (max).
 *
 *  On-disk format (SQLite, agent.db in state_dir, PRAGMA user_version 8;
 *  versions 6-8 in outbox_sql.h):
 *    meta(id=1, acked_seq, acked_head BLOB32, last_seq, last_head BLOB32,
 *         hlc_last, conn_state TEXT, conn_changed_at_ms, last_error TEXT,
 *         last_error_at_ms, last_ack_at_ms,
 *         clock_offset_ms (aggregator clock - ours, measured by the daemon;
 *         version 2), clock_offset_at_ms)
 *    outbox(seq PK, org_unit, indicator, period, disagg, value, deleted,
 *           comment, stored_by, followup, hlc, hash BLOB32,
 *           chain_head BLOB32, size (encoded Update bytes), queued_at_ms,
 *           source "import:data.csv:12" | "submit",
 *           stamp_offset_ms = meta.clock_offset_ms when the hlc was
 *           stamped, 0 when never measured; version 3)
 *    rejected(seq PK, the update fields, code, field, message,
 *             rejected_at_ms)
 *    carried(id PK, first_seq, last_seq, batches, kept, file,
 *            carried_at_ms): exports by file (version 5)
 *    receipts(id PK, digest BLOB32 UNIQUE, first_seq, last_seq, acked_seq,
 *             status, error, message, committed_at_ms, received_at_ms,
 *             envelope BLOB = the raw signed Ack envelope as received)
 *    sent_batch(first_seq PK, last_seq, envelope BLOB = the signed Batch
 *             envelope exactly as sent, sent_at_ms, acked_at_ms, size =
 *             envelope bytes; version 4): "kept batches", below.
 *
 *  Kept batches (version 4). An ACK_OK that covers a batch the agent sent
 *  stores that batch's envelope in sent_batch in the same transaction
 *  (outbox_apply_ack_keeping, outbox_apply_acks), so the rows leave `outbox` but the signed
 *  batch stays: it can be sent again unchanged when the aggregator lost it
 *  (docs/RELIABILITY.md "Resend from") or carried by file. Ranges of kept
 *  batches may overlap (a batch acked in part is sent again from the acked
 *  seq); one row per first_seq, the first kept wins. They are pruned
 *  oldest first: acked more than keep_ms ago, then by first_seq while the
 *  kept bytes exceed max_bytes (outbox_set_keep), at most once a minute
 *  after acks and by outbox_kept_prune (the daemon at start). */
#ifndef AGENT_OUTBOX_H
#define AGENT_OUTBOX_H

#include "cds_id.h"
#include "cds_update.h"
#include "cdsync.pb-c.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox outbox_t;

/* One pending row as read back; strings are owned by the row array. */
typedef struct {
    cds_update_t u;                    /* seq, fields, hlc */
    uint8_t hash[CDS_HASH_BYTES];      /* content hash */
    uint8_t head[CDS_HASH_BYTES];      /* chain head after this row */
    uint64_t queued_at_ms;             /* wall clock when queued */
    size_t size;                       /* encoded Update bytes */
    char *source;                      /* "submit", "import:f.csv:12" */
    int64_t stamp_offset_ms;           /* clock offset the hlc was stamped
                                        * with: hlc ~ that clock's time */
    char *strs;                        /* owns every string of the row */
} outbox_row_t;

/* Daemon-visible state kept in meta. */
typedef struct {
    uint64_t acked_seq;                /* highest seq covered by an ack */
    uint8_t acked_head[CDS_HASH_BYTES];/* chain head at acked_seq */
    uint64_t last_seq;                 /* highest seq ever assigned */
    uint8_t last_head[CDS_HASH_BYTES]; /* chain head at last_seq */
    uint64_t hlc_last;                 /* persisted HLC */
    char conn_state[32];               /* "hello", "sending", ... */
    uint64_t conn_changed_at_ms;       /* when conn_state last changed */
    char last_error[512];              /* "" when none */
    uint64_t last_error_at_ms;         /* 0 when none */
    uint64_t last_ack_at_ms;           /* when the last ack was stored */
    int64_t clock_offset_ms;           /* aggregator clock - ours */
    uint64_t clock_offset_at_ms;       /* when measured, 0 never */
    uint64_t metadata_version;         /* published metadata in use, 0:
                                        * the configured files */
    uint64_t metadata_latest;          /* newest the aggregator announced
                                        * (0: none, or never told) */
    uint64_t metadata_seen_at_ms;      /* when it last changed, 0 never */
    char metadata_error[256];          /* last fetched version refused, "" */
    uint64_t metadata_error_at_ms;     /* when, 0 never (or cleared) */
    uint64_t metadata_pinned;          /* rollback: versions <= this are
                                        * not fetched again, 0 none */
    uint64_t pending_checked;          /* version the pending rows were
                                        * last checked with (version 8) */
} outbox_meta_t;

/* A last HLC further ahead of the corrected clock than this was stamped
 * by a wrong clock: new stamps step back (outbox_push). */
#define OUTBOX_HLC_STEP_BACK_MS (5 * 60 * 1000)

/* Tests only: called before every write transaction with its name
 * ("push", "ack", "renumber", "conn", "offset"); a code other than CDS_OK
 * fails that write with it, as a busy or full database would. */
typedef int (*outbox_fault_fn)(void *arg, const char *op);

/* One rejected update (strings borrowed for the callback's duration). */
typedef struct {
    cds_update_t u;                    /* the refused update */
    int code;                          /* cds_err_t reason */
    const char *field;                 /* field named by the aggregator */
    const char *message;               /* its explanation */
    uint64_t rejected_at_ms;           /* when the ack was recorded */
} outbox_rejected_t;

/* One stored receipt (borrowed for the callback's duration). */
typedef struct {
    uint64_t first_seq, last_seq;      /* batch the ack answered */
    uint64_t acked_seq;                /* cumulative acked seq */
    int status;                        /* CDSYNC__ACK_STATUS__* */
    int error;                         /* cds_err_t for refusals */
    const char *message;               /* aggregator's message, "" none */
    uint64_t committed_at_ms;          /* aggregator clock at commit */
    uint64_t received_at_ms;           /* our clock when stored */
    const uint8_t *envelope;           /* raw signed envelope */
    size_t envelope_len;
    int64_t id;                        /* receipts.id: verify-receipt ID */
} outbox_receipt_t;

typedef int (*outbox_rejected_fn)(const outbox_rejected_t *r, void *arg);
typedef int (*outbox_receipt_fn)(const outbox_receipt_t *r, void *arg);

/* Open or create the outbox database at path. NULL on failure with *err
 * (CDS_EIO, CDS_ECORRUPT, CDS_EVERSION); logged. */
outbox_t *outbox_open(const char *path, int *err);
/* Open an existing outbox read-only (status, monitoring users): never
 * creates or migrates it. NULL with *err CDS_EIO (absent, unreadable;
 * logged) or CDS_EVERSION (schema older or newer than this program, as
 * for a moment when the daemon has just created it: not logged, the
 * caller says what it means). */
outbox_t *outbox_open_readonly(const char *path, int *err);
/* Finalize statements, close; sets *self_p to NULL. Safe on NULL. */
void outbox_destroy(outbox_t **self_p);
/* Daemon only: WAL checkpoints from a helper thread instead of inside
 * the commits (cds_ckpt.h). CDS_OK, or CDS_ERROR (logged; auto-checkpoint
 * stays on). Stopped by outbox_destroy. */
int outbox_checkpoint_in_background(outbox_t *self);
/* A writer beside a running daemon (submit, import): leave checkpoints to
 * the daemon's helper; this connection checkpoints inside its own commit
 * only past CDS_CKPT_MAX_PAGES (the WAL bound stays). */
void outbox_defer_checkpoints(outbox_t *self);

/* Queue n updates in one transaction: assigns u[i].seq and u[i].hlc (the
 * caller's array is updated; stamps from the corrected clock, see
 * outbox_corrected_ms, and step back past OUTBOX_HLC_STEP_BACK_MS; each
 * row records the offset it used as stamp_offset_ms), hashes and chains
 * them. sources[i] may be NULL ("submit" is used). CDS_EFULL (message in
 * err) when depth + n > queue_max (0: no bound); other codes on database
 * failure. Nothing is written unless CDS_OK is returned. */
int outbox_push(outbox_t *self, cds_update_t *u, const char *const *sources,
                size_t n, uint64_t queue_max, char *err, size_t errlen);

/* Read pending rows with seq >= from, in order: at most max_count rows and
 * at most max_bytes of summed encoded size (but always at least one row
 * when any is pending). *rows is the caller's: free with outbox_rows_free. */
int outbox_read(outbox_t *self, uint64_t from, size_t max_count,
                size_t max_bytes, outbox_row_t **rows, size_t *n);
/* Free rows from outbox_read; sets *rows_p to NULL. Safe on NULL. */
void outbox_rows_free(outbox_row_t **rows_p, size_t n);
/* The pending (not yet acked) rows of one org unit and period, disagg
 * "default", oldest first: fn(arg, indicator, value, deleted) for each
 * (the entry checks of submit.h read them). CDS_OK or a database code. */
int outbox_pending_of(outbox_t *self, const char *org_unit,
                      const char *period,
                      void (*fn)(void *arg, const char *indicator,
                                 const char *value, bool deleted),
                      void *arg);

/* Record an ack in one transaction. For ACK_OK: delete rows <= acked_seq,
 * copy each rejected one into `rejected` first, advance acked_seq/head
 * (never backwards). Any status: store the receipt when raw != NULL.
 * CDS_OK or a database error code (nothing changed). */
int outbox_apply_ack(outbox_t *self, const Cdsync__Ack *ack,
                     const uint8_t *raw, size_t raw_len, uint64_t now_ms);

/* Renumber pending rows with seq >= from to follow (after, head_after):
 * they become after+1, after+2, ... in the same order, with hashes and
 * chain heads recomputed (HLCs kept). last_seq = max(last_seq, new max)
 * (with no rows: max(last_seq, after), head_after adopted). acked_seq is
 * raised to after. One transaction. *count = rows renumbered. */
int outbox_renumber(outbox_t *self, uint64_t from, uint64_t after,
                    const uint8_t head_after[CDS_HASH_BYTES],
                    uint64_t *count);

/* Chain head at seq: zeros for 0, a pending row's head, acked_head or
 * last_head. CDS_OK or CDS_ENOTFOUND. */
int outbox_head_at(outbox_t *self, uint64_t seq,
                   uint8_t out[CDS_HASH_BYTES]);
/* Lowest pending seq, 0 when the outbox is empty (or on error, logged). */
uint64_t outbox_first_pending(outbox_t *self);
/* Number of pending rows; -1 on error (logged). */
int64_t outbox_depth(outbox_t *self);
/* Nothing to send: return the page cache and free heap pages
 * (cds_db_release_memory), so an agent idle after a catch-up is back to
 * its idle size (issue 19). */
void outbox_release_memory(outbox_t *self);
/* Age in ms of the oldest pending row at wall time now_ms (0 if none);
 * -1 on error. */
int64_t outbox_oldest_age_ms(outbox_t *self, uint64_t now_ms);
/* Sum of encoded sizes of pending rows; -1 on error. */
int64_t outbox_bytes_pending(outbox_t *self);

/* Read meta. CDS_OK or a database error. */
int outbox_meta(outbox_t *self, outbox_meta_t *out);
/* Store the daemon's connection state and last error ("" or NULL: keep
 * the previous error). Writes only when something changed. */
int outbox_set_conn(outbox_t *self, const char *state, const char *error,
                    uint64_t now_ms);

/* Store the measured clock offset (aggregator - ours) at wall now_ms.
 * CDS_OK or a database error. */
int outbox_set_clock_offset(outbox_t *self, int64_t offset_ms,
                            uint64_t now_ms);
/* Record the newest published metadata version the aggregator announced
 * (HelloAnswer / HeartbeatAnswer metadata_latest) at wall now_ms.
 * CDS_OK or a database error. */
int outbox_set_metadata_latest(outbox_t *self, uint64_t latest,
                               uint64_t now_ms);
/* One fetched, verified metadata version (table metadata, migration 7). */
typedef struct {
    uint64_t version;
    uint8_t *bundle;                   /* MetadataBundle bytes (owned) */
    size_t bundle_len;
    uint8_t signature[CDS_SIG_BYTES];  /* aggregator's, for our key */
    uint64_t received_at_ms;
    char *summary;                     /* the change in words (owned) */
} outbox_metadata_t;
/* Store m and make it the version in use, in one transaction (clears the
 * last refusal and any rollback pin). CDS_OK or a database error: then
 * nothing changed. */
int outbox_metadata_put(outbox_t *self, const outbox_metadata_t *m);
/* Version into *out (outbox_metadata_clear after). CDS_OK, CDS_ENOTFOUND
 * or a database error. */
int outbox_metadata_get(outbox_t *self, uint64_t version,
                        outbox_metadata_t *out);
void outbox_metadata_clear(outbox_metadata_t *m);
/* Use the newest stored version below the one in use; pin the newest
 * announced (or the one left) so it is not fetched again until a newer
 * one is published. *from / *to: the versions. CDS_OK; CDS_ENOTFOUND
 * when there is nothing to go back to (nothing changed). */
int outbox_metadata_rollback(outbox_t *self, uint64_t *from, uint64_t *to);
/* Record that a fetched version was refused (why, at now_ms); the
 * version in use stays. */
int outbox_metadata_refused(outbox_t *self, const char *error,
                            uint64_t now_ms);
/* wall_ms corrected by m's clock offset: the time every stamp uses. */
uint64_t outbox_corrected_ms(const outbox_meta_t *m, uint64_t wall_ms);
/* Tests only: install (or with NULL remove) a fault hook. */
void outbox_set_fault_hook(outbox_t *self, outbox_fault_fn fn, void *arg);

/* Exports by file (export-batches, agent/carry.h) not yet covered by an
 * ack: how many, the seq range they hold, the latest file and when. */
typedef struct {
    uint64_t exports;                  /* files written, range not acked */
    uint64_t first_seq, last_seq;      /* seqs they hold (0, 0: none) */
    char file[512];                    /* the latest one's path */
    uint64_t at_ms;                    /* when the latest was written */
} outbox_carried_t;

/* Record that seqs first..last (batches envelopes, kept of them already
 * acked) were written to file at now_ms: the rows stay pending ("carried")
 * until an ack covers them. CDS_OK or a database error. */
int outbox_carried_add(outbox_t *self, uint64_t first, uint64_t last,
                       size_t batches, size_t kept, const char *file,
                       uint64_t now_ms);
/* The exports whose range is not acked yet. CDS_OK or a database error. */
int outbox_carried_open(outbox_t *self, outbox_carried_t *out);

/* Call fn for each rejected update (by seq) / receipt (oldest first);
 * a non-zero return from fn stops and is returned. */
int outbox_rejected_list(outbox_t *self, outbox_rejected_fn fn, void *arg);
int outbox_receipts_list(outbox_t *self, outbox_receipt_fn fn, void *arg);

/* ---- Held values (version 8) --------------------------------------------
 * A pending row that the metadata version in use no longer accepts
 * (agent/recheck.h) leaves the chain for table `held`: never sent, never
 * dropped or rewritten; shown by `status` and the page, withdrawn only by
 * the officer (`pending-values withdraw`), sent again unchanged (same
 * content and stamp, a new seq at the end of the chain) when a later
 * version accepts it. Holding closes the chain's gap: the rows after the
 * first held one are renumbered to follow it, and last_seq/last_head
 * follow the last row (the one place last_seq goes down: those seqs were
 * never seen by the aggregator, see outbox_recheck_commit). */

typedef struct {
    uint64_t seq;                      /* pending row to hold */
    int code;                          /* cds_err_t reason */
    const char *field;                 /* field at fault */
    const char *message;               /* why, naming the value */
    const char *suggestion;            /* "org_unit=NEW" etc., "" none */
} outbox_hold_t;

/* One held value (borrowed for the callback's duration). */
typedef struct {
    const outbox_row_t *row;           /* the value as queued (row->u.seq:
                                        * the seq it had) */
    int64_t id;                        /* for `pending-values withdraw` */
    uint64_t version;                  /* metadata version that held it */
    int code;
    const char *field, *message, *suggestion;
    uint64_t held_at_ms;
} outbox_held_t;
typedef int (*outbox_held_fn)(const outbox_held_t *h, void *arg);

/* One transaction: hold each of hold[0..n_hold) (pending seqs), close the
 * chain's gaps, put each held id of release[0..n_release) back at the
 * end of the chain, and record pending_checked = version. Only when the
 * aggregator has seen no seq past acked_seq and no export holds them
 * (the daemon calls it before sending, after the hello's position is
 * adopted). CDS_OK; CDS_ENOTFOUND (a seq not pending, an id not held) or
 * a database error: nothing changed. */
int outbox_recheck_commit(outbox_t *self, const outbox_hold_t *hold,
                          size_t n_hold, const int64_t *release,
                          size_t n_release, uint64_t version,
                          uint64_t now_ms);
/* Call fn for each held value, oldest hold first; a non-zero return from
 * fn stops and is returned. */
int outbox_held_list(outbox_t *self, outbox_held_fn fn, void *arg);
/* The officer withdraws held value id: deleted. CDS_OK, CDS_ENOTFOUND or
 * a database error. */
int outbox_held_withdraw(outbox_t *self, int64_t id);

/* ---- Kept batches (see the file header) --------------------------------- */

/* One kept signed batch. In a callback the envelope is borrowed for the
 * call; from outbox_kept_at it is the caller's (outbox_kept_free). */
typedef struct {
    uint64_t first_seq, last_seq;      /* Batch.first_seq..last_seq */
    const uint8_t *envelope;           /* signed Batch envelope, as sent */
    size_t envelope_len;
    uint64_t sent_at_ms;               /* our wall clock when sent */
    uint64_t acked_at_ms;              /* our wall clock when acked */
} outbox_kept_t;

/* What is kept: count, seq range, bytes, the oldest ack (0s when none). */
typedef struct {
    uint64_t count;
    uint64_t first_seq, last_seq;      /* min(first_seq), max(last_seq) */
    uint64_t bytes;                    /* sum of envelope sizes */
    uint64_t oldest_acked_at_ms;       /* min(acked_at_ms) */
} outbox_kept_stats_t;

typedef int (*outbox_kept_fn)(const outbox_kept_t *k, void *arg);

/* Default retention (config agent.keep_days, agent.keep_max_mb). */
#define OUTBOX_KEEP_DAYS_DEFAULT 90
#define OUTBOX_KEEP_MAX_MB_DEFAULT 256
/* An ack that keeps batches prunes at most this often (the byte bound may
 * be exceeded by what is acked meanwhile). */
#define OUTBOX_KEEP_PRUNE_EVERY_MS 60000

/* Retention of kept batches: keep_ms = 0 keeps none (nothing is stored),
 * max_bytes = 0 is no byte bound. Until called: keep nothing. */
void outbox_set_keep(outbox_t *self, uint64_t keep_ms, uint64_t max_bytes);

/* outbox_apply_ack, and when the ack is ACK_OK, in the same transaction:
 * keep each of kept[0..n) whose last_seq <= acked_seq (acked_at_ms =
 * now_ms; its own acked_at_ms is ignored), then prune (outbox_set_keep;
 * at most every OUTBOX_KEEP_PRUNE_EVERY_MS).
 * A failure to keep fails the whole ack (nothing changed). */
int outbox_apply_ack_keeping(outbox_t *self, const Cdsync__Ack *ack,
                             const uint8_t *raw, size_t raw_len,
                             uint64_t now_ms, const outbox_kept_t *kept,
                             size_t n);

/* One verified answer to record: the ack and its signed envelope (raw,
 * stored as the receipt; NULL: none). Borrowed. */
typedef struct {
    const Cdsync__Ack *ack;
    const uint8_t *raw;
    size_t raw_len;
} outbox_ack_t;

/* Several answers in ONE transaction (one fsync): each of acks[0..n) as
 * outbox_apply_ack, in order (rejections copied, rows <= its acked_seq
 * deleted, acked_seq/head advanced, never backwards, receipt stored),
 * then each of kept[0..n_kept) whose last_seq <= the highest acked_seq of
 * an ACK_OK among them is kept as by outbox_apply_ack_keeping (which is
 * this with n = 1). Any failure changes nothing: none of them is
 * recorded. CDS_OK or a database error code. */
int outbox_apply_acks(outbox_t *self, const outbox_ack_t *acks, size_t n,
                      uint64_t now_ms, const outbox_kept_t *kept,
                      size_t n_kept);

/* Keep batches acked some other way (a receipt carried back by file): one
 * transaction, kept[i].acked_at_ms as given (0: now_ms), then prune (as
 * outbox_apply_ack_keeping).
 * CDS_OK or a database error (nothing written). */
int outbox_keep_batches(outbox_t *self, const outbox_kept_t *kept, size_t n,
                        uint64_t now_ms);

/* Call fn for every kept batch holding a seq in from..to, by first_seq;
 * a non-zero return from fn stops and is returned. */
int outbox_kept_list(outbox_t *self, uint64_t from, uint64_t to,
                     outbox_kept_fn fn, void *arg);

/* The kept batch holding seq that reaches furthest (largest last_seq):
 * CDS_OK with *out the caller's (outbox_kept_free), CDS_ENOTFOUND, or a
 * database error. */
int outbox_kept_at(outbox_t *self, uint64_t seq, outbox_kept_t *out);
/* Free the envelope of a batch from outbox_kept_at. Safe on zeroed. */
void outbox_kept_free(outbox_kept_t *k);

/* Lowest seq s such that kept batches cover s..acked_seq without a hole
 * (what can be resent); 0 when nothing is kept up to acked_seq. */
uint64_t outbox_kept_from(outbox_t *self, uint64_t acked_seq);

/* What is kept. CDS_OK or a database error. */
int outbox_kept_stats(outbox_t *self, outbox_kept_stats_t *out);

/* Delete kept batches acked before now_ms - keep_ms (keep_ms 0: all),
 * then the oldest by seq while more than max_bytes are kept (0: no
 * bound). One transaction; *pruned = batches deleted (may be NULL). */
int outbox_kept_prune(outbox_t *self, uint64_t now_ms, uint64_t keep_ms,
                      uint64_t max_bytes, uint64_t *pruned);

#endif
