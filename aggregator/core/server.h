/*  server: the aggregator's `run` loop: one ZeroMQ ROUTER socket, group
 *  commit, acks after commit.
 *
 *  Wire: every message is [routing id][one frame = Envelope] (DEALER peers
 *  send no delimiter). Anything else is recorded in the reject table as
 *  malformed and otherwise ignored; frames after the first are read and
 *  dropped as they come (only their size and digest are recorded) and the
 *  sender's connection is shut down.
 *
 *  Resource errors a peer can cause (EMFILE, ENFILE, ENOMEM on poll,
 *  receive or the commit mark) never end server_run: logged, a pause of
 *  BACKOFF_MS, "retry" where an answer is due, and the loop goes on.
 *
 *  Invariant: no reply leaves before the transaction that holds its effect
 *  has committed. A group = the first message that woke zmq_poll plus up to
 *  group_max - 1 more that are already waiting, processed in one BEGIN
 *  IMMEDIATE .. COMMIT; then all replies are sent. If BEGIN or COMMIT fails
 *  (busy, disk full) the group is rolled back and every verified batch in
 *  it is answered ACK_RETRY, so nothing is acked that was not stored. No
 *  state is cached between groups: each message re-reads its agent row.
 *  Heartbeats are the exception (health.h "Heartbeats"): held in memory
 *  and written for all agents in one transaction between groups when due
 *  (ingest_flush_due_ms bounds the poll wait) and when server_run stops.
 *  Idle = blocked in zmq_poll.
 *
 *  Group trace (measurement only, tests/bench/bench.sh row 1a): with the
 *  environment variable CDS_TRACE_GROUPS=FILE the writer appends one line
 *  per committed group to FILE, its acked batches in commit order, each
 *  SIGNER:FIRST-LAST (first 8 key bytes in hex, the batch's seq range),
 *  then t=QUEUED,APPLY,COMMIT,MARK,REPLY: microseconds from the group's
 *  first message received to BEGIN, applying, COMMIT, the commit mark and
 *  sending the replies.
 *  Off by default; when off it costs one pointer test per group.
 *  Per-batch steps: with CDS_TRACE=FILE (common/cds_trace.h) the writer
 *  appends one agg_batch line per acked batch (server.c trace_batches):
 *  received, taken by the writer, BEGIN, COMMIT, commit mark, replies
 *  sent, as CLOCK_MONOTONIC microseconds (tests/bench/trace_steps.py). */
#ifndef AGG_SERVER_H
#define AGG_SERVER_H

#include "ingest.h"
#include "store.h"

#define SERVER_GROUP_MAX_LIMIT 1024   /* upper bound for group_max */

typedef struct server server_t;

/* Create the ROUTER socket and bind it to endpoint. store and ingest are
 * borrowed. NULL on failure (logged with the endpoint and reason). */
server_t *server_new(store_t *store, ingest_t *ingest, const char *endpoint,
                     int group_max);
/* server_new with CURVE: our X25519 key pair from id (borrowed), a ZAP
 * handler (auth.h) admitting only enrolled, non-revoked agents, domain
 * AUTH_DOMAIN enforced, and each message checked against its connection's
 * User-Id (ingest_message_as). NULL when any of it cannot be set up
 * (logged): the aggregator then refuses to run. `run` uses only this;
 * plain server_new is for unit tests of the group-commit loop. */
server_t *server_new_secure(store_t *store, ingest_t *ingest,
                            const cds_identity_t *id, const char *endpoint,
                            int group_max);
/* Why the last server_new* of this process could not bind its endpoint
 * ("Address already in use"), NULL when it did not fail there: `run`
 * names the cause instead of "internal" (docs/cli.md). */
const char *server_bind_error(void);
/* Close the socket and context; sets *self_p to NULL. Safe on NULL. */
void server_destroy(server_t **self_p);
/* Serve until a stop is requested (common/cds_signal.h: SIGTERM, SIGINT
 * or cds_signal_request_stop()). CDS_OK on a requested stop, else a cds_err code
 * for a failure that leaves the socket unusable (logged). */
int server_run(server_t *self);
/* Process at most one group if a message is waiting within timeout_ms (-1:
 * wait for ever). 1 if a group ran, 0 on timeout or interrupt, negative
 * cds_err on a socket failure. For tests and server_run. */
int server_step(server_t *self, long timeout_ms);
/* From now on, bump mark's counter in every group that sends an ack and
 * write the mark file after COMMIT, before those acks (commitmark.h); a
 * mark write that fails for want of memory, descriptors or space answers
 * the group "retry" and carries on; a disk I/O error sends no reply and
 * ends server_run with CDS_EIO. mark is borrowed (NULL: none, unit
 * tests). */
struct commitmark;
void server_set_commitmark(server_t *self, struct commitmark *mark);
/* Count connections and bound what each may hold (connguard.h): feed it
 * the socket monitor's connection events and every received frame, and
 * shut down a connection that sends a multipart message. guard is
 * borrowed (NULL: none). Only with server_new_secure (the monitor). */
struct connguard;
void server_set_guard(server_t *self, struct connguard *guard);
/* Tell progress (progress.h) about every message received, commit and
 * batch answer, for /healthz and the latency histograms. progress is
 * borrowed (NULL: none). */
struct progress;
void server_set_progress(server_t *self, struct progress *progress);
/* Make the ingest check against catalog (borrowed; the caller frees the
 * old one afterwards): the SIGHUP reload's swap, on the thread that runs
 * server_run, between groups (from cds_service_tick). Waits until the
 * worker has prepared everything received, so no thread reads the old
 * catalog any more, and drops what it prepared with it: those messages
 * are checked again, with the new catalog, when applied. */
void server_set_catalog(server_t *self, const cds_catalog_t *catalog);
/* Endpoint actually bound (resolves "tcp://127.0.0.1:*"). Borrowed. */
const char *server_endpoint(const server_t *self);

#endif
