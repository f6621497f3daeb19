/*  progress: what the writer (server.c's thread, which owns the database
 *  connection) tells the HTTP thread about its progress, for /healthz and
 *  /metrics: how many received messages wait for a commit, since when no
 *  commit covered them, and the two latency histograms (histogram.h):
 *    cdsync_ingest_duration_seconds   a batch received -> its ack sent
 *    cdsync_commit_duration_seconds   the group's SQLite COMMIT (+ fsync)
 *
 *  "Waiting" = messages received since the last successful COMMIT that it
 *  did not cover, counting those answered "retry" after a failed BEGIN or
 *  COMMIT (the agent resends them; each resend counts again). The writer
 *  is STUCK when messages wait and neither a commit nor the first of them
 *  happened in the last stuck_after_ms: a writer blocked by a lock on the
 *  database (busy for 5 s at each BEGIN, then "retry" for ever), a hung
 *  fsync, a deadlock. An idle writer (nothing waiting) is never stuck.
 *
 *  Threads: only the writer calls the progress_received/_committed/
 *  _acked functions; any thread reads. The state is a few atomics (the
 *  HTTP thread must answer while the writer is blocked, so no lock and no
 *  message it would have to answer). Times are CLOCK_MONOTONIC. */
#ifndef AGG_PROGRESS_H
#define AGG_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_STUCK_AFTER_MS_DEFAULT 10000u

typedef struct progress progress_t;

/* New, nothing waiting. NULL on allocation failure. */
progress_t *progress_new(uint64_t stuck_after_ms);
/* Free; sets *self_p to NULL. Safe on NULL. */
void progress_destroy(progress_t **self_p);
/* CLOCK_MONOTONIC in nanoseconds: the time base of every call below. */
uint64_t progress_now_ns(void);

/* ---- writer thread (each safe on NULL: does nothing) ------------------ */
/* One message received, to be applied. */
void progress_received(progress_t *self);
/* A COMMIT that began at start_ns succeeded; still_waiting messages are
 * received and not in it. Observes the commit duration. */
void progress_committed(progress_t *self, uint64_t start_ns,
                        uint64_t still_waiting);
/* The answer to a batch received at recv_ns was sent: observes the
 * ingest duration. */
void progress_acked(progress_t *self, uint64_t recv_ns);

/* ---- any thread ------------------------------------------------------- */
/* true when the writer is stuck at now_ns (header); *stalled_ms gets how
 * long work has waited without a commit (0 when nothing waits), *waiting
 * the messages waiting. false with zeros on NULL. */
bool progress_stuck(const progress_t *self, uint64_t now_ns,
                    uint64_t *stalled_ms, uint64_t *waiting);
/* The writer series and both histograms in the text format at now_ns.
 * Nothing on NULL. */
void progress_render(const progress_t *self, uint64_t now_ns, FILE *out);

#endif
