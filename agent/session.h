/*  session: the agent's side of the protocol as an explicit state machine
 *  (docs/PROTOCOL.md, "Agent state machine"). No sockets and no clock of
 *  its own: the caller (agent/sender.c, or a test) injects the clocks, the
 *  jitter source and a send function, and feeds events in; the session
 *  reads and writes the real outbox.
 *
 *  States: HELLO (one Hello out, a probing one when the aggregator claims
 *  seqs we still hold), SENDING (up to `window` batches in flight),
 *  BACKOFF (exponential, full jitter; long after a refusal), REVOKED
 *  (a verified Notice said our key is revoked: nothing is sent any more,
 *  no timer runs, until the process is restarted or reloaded).
 *  Events: session_start, session_on_message (a verified answer),
 *  session_flush (the turn's answers are all read), session_on_timer,
 *  session_on_wake (rows queued), session_on_writable (a connection
 *  appeared), session_on_link (what the transport saw: unreachable,
 *  handshake failed, up, down), session_stop.
 *  Acks of one turn: an ACK_OK is verified and acted on in memory when it
 *  arrives (window, batches in flight, where to go on); its durable record
 *  waits for the end of the turn, when every ACK_OK of the turn is
 *  recorded in ONE outbox transaction (outbox_apply_acks: one fsync, not
 *  one per ack), with each ack's signed envelope as its receipt and the
 *  envelopes of the batches they answered kept, exactly as one by one.
 *  session_flush records them, then fills the window; any other event,
 *  and any send (batch, Hello), records waiting acks first, so no batch
 *  leaves and no Hello states our acked_seq while an ack is unrecorded.
 *  Every timer lives here, on the injected monotonic clock: answer and
 *  ack timeouts, backoff, heartbeats, the outbox recheck, and the two
 *  decisions to dial again (io.redial): redial_ms after a refused
 *  handshake (libzmq never retries one), and at once when an open link
 *  stays silent (SESSION_SILENT_MAX). On REVOKED it says io.hang_up.
 *
 *  Invariants:
 *  - Every request carries a fresh request id (a random 64-bit start per
 *    process, +1 per request). An answer is acted on only when its id is
 *    the outstanding Hello's, a batch in flight's (with the same
 *    batch_first/batch_last) or the outstanding Heartbeat's; others are
 *    logged at debug and dropped.
 *  - Pending rows are renumbered only on positive evidence that the
 *    aggregator holds other content at their seq: probe_mismatch in the
 *    answer to the current probing Hello. Never because an answer said
 *    nothing, never because a local write failed.
 *  - A failed local write (busy, disk full, any outbox error) backs off
 *    and retries the same step; every failure path backs off, none resends
 *    at once. Until a write succeeds again the connection state reads
 *    "local_write_failed" with the error (status: CRITICAL). When the
 *    record of a turn's acks fails, none of them is recorded: their rows
 *    stay pending and are sent again after the backoff (the aggregator
 *    acks a duplicate again; exactly-once holds there); nothing is lost.
 *  - An ACK_OK deletes nothing when its acked_head differs from our chain
 *    head at acked_seq (checked on arrival; it is not recorded).
 *  - Clock: every answer carries the aggregator's clock; the offset
 *    clock_ms - (wall at send + RTT/2) is kept in the outbox (meta) and
 *    used for every stamp (outbox_push). A batch holds rows stamped with
 *    one offset (within SESSION_BATCH_OFFSET_MS of its first row's) and
 *    its sent_at_ms is wall + that offset: the stamping clock's time, so
 *    the aggregator shifts rows stamped before any offset was known. */
#ifndef AGENT_SESSION_H
#define AGENT_SESSION_H

#include "cds_id.h"
#include "outbox.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_WINDOW_MAX 64          /* upper bound for `window` */
#define SESSION_SEND_AGAIN 1           /* send: no connection now */
/* A new offset is written to the outbox only when it moved by more than
 * this from the stored one: no write per answer. */
#define SESSION_OFFSET_WRITE_MS 1000
/* Rows whose stamp offsets differ by more than this go in separate
 * batches (each batch has one sent_at_ms). Offsets are stored only on a
 * move past SESSION_OFFSET_WRITE_MS, so one stored offset is one batch. */
#define SESSION_BATCH_OFFSET_MS 1000

typedef struct {
    const char *catalog_version;       /* named in every batch (borrowed) */
    size_t batch_max;                  /* updates per batch, 1..1000 */
    size_t batch_bytes;                /* encoded bytes per batch */
    size_t window;                     /* batches in flight, 1..64 */
    uint64_t ack_timeout_ms;           /* answer or ack due within */
    uint64_t backoff_min_ms;           /* first backoff bound */
    uint64_t backoff_max_ms;           /* cap; refusals wait ~this */
    uint64_t heartbeat_ms;             /* Heartbeat interval, 0 none */
    uint64_t recheck_ms;               /* look at the outbox this often
                                        * while connected (lost wakes) */
    uint64_t redial_ms;                /* dial again this long after a
                                        * refused handshake (0: never) */
} session_config_t;

/* What the session needs from the world; every function is called on the
 * caller's thread, from inside a session_* call. */
typedef struct {
    uint64_t (*mono_ms)(void *arg);    /* monotonic ms */
    uint64_t (*wall_ms)(void *arg);    /* local wall clock, ms */
    uint32_t (*uniform)(void *arg, uint32_t upper);  /* [0, upper) */
    /* Seal and send one body of kind: 0 sent, SESSION_SEND_AGAIN when no
     * connection can take it now, -1 on another failure. */
    int (*send)(void *arg, Cdsync__Kind kind, const uint8_t *body,
                size_t len);
    /* Optional: the connection state and error changed (the daemon keeps
     * them outside the database too, see agent/livestate.h). */
    void (*state)(void *arg, const char *conn_state, const char *error);
    void *arg;
    /* Optional: a verified revocation Notice arrived (raw = the whole
     * signed envelope, to keep: agent/revocation.h), once per process. */
    void (*revoked)(void *arg, const uint8_t *raw, size_t raw_len);
    /* Optional: the aggregator answered a Hello without error (the key
     * is accepted: a saved revocation no longer holds). */
    void (*accepted)(void *arg);
    /* Optional: drop the connection (or attempt) and dial the endpoint
     * again; the transport reports the new link with session_on_link. */
    void (*redial)(void *arg);
    /* Optional: our key is revoked: stop dialing until restarted. Called
     * once, on the change to REVOKED. */
    void (*hang_up)(void *arg);
    /* Optional, both or neither: seal a body into an envelope (*env is
     * the caller's, free()) and send an envelope as is (same codes as
     * send). With them the session keeps each batch's envelope after its
     * ack (outbox.h "Kept batches") and can resend kept ones unchanged
     * (HelloAnswer.resend_from); without, batches go through send. */
    int (*seal)(void *arg, Cdsync__Kind kind, const uint8_t *body,
                size_t len, uint8_t **env, size_t *env_len);
    int (*send_raw)(void *arg, const uint8_t *env, size_t len);
    /* Optional: a MetadataReply for our outstanding MetadataRequest
     * (agent/metafetch.h checks and stores it). CDS_OK taken into use;
     * else refused (the session asks again after backoff_max_ms). Without
     * it the session only records what the aggregator announces. */
    int (*metadata)(void *arg, const Cdsync__MetadataReply *reply);
    /* Optional: check the pending values against the metadata version in
     * use (agent/recheck.h). Called when sending starts (after a hello's
     * answer, nothing in flight); a version taken into use while sending
     * drains the flights, then hellos again to get there. Not CDS_OK:
     * logged, the rows are sent as they are. */
    int (*recheck)(void *arg);
} session_io_t;

typedef struct session session_t;

/* What the transport saw (agent/sender.c reads ZeroMQ's socket monitor,
 * agent/diagnosis.h classifies its events).
 * The session turns a diagnosis into the connection state the operator
 * sees while not connected: "unreachable" or "handshake_failed", with
 * "<endpoint> <detail>" as the error; "connecting" before the first
 * connection of the process when no diagnosis is known. */
typedef enum {
    SESSION_LINK_UNREACHABLE,          /* connect refused / no route / timeout */
    SESSION_LINK_HANDSHAKE_FAILED,     /* CURVE handshake refused */
    SESSION_LINK_UP,                   /* handshake succeeded */
    SESSION_LINK_DOWN                  /* an established link dropped */
} session_link_t;
/* Log a changed diagnosis at warn (repeats at most every
 * SESSION_LINK_LOG_MS) with the endpoint. */
#define SESSION_LINK_LOG_MS 300000

/* New session on outbox for the agent with signing key agent_pk (both
 * borrowed, must outlive it). cfg strings are borrowed. NULL with a
 * message in err on a bad config or no memory. */
session_t *session_new(const session_config_t *cfg, const session_io_t *io,
                       const uint8_t agent_pk[CDS_PK_BYTES],
                       outbox_t *outbox, char *err, size_t errlen);
/* Take cfg's catalog_version (borrowed), batch_max, batch_bytes,
 * ack_timeout_ms, backoff bounds and heartbeat_ms from now on (SIGHUP
 * reload): each applies at its next use (next batch, next deadline, next
 * backoff, next heartbeat); window and recheck_ms stay. */
void session_set_config(session_t *self, const session_config_t *cfg);
/* Free; sets *self_p to NULL. Safe on NULL. */
void session_destroy(session_t **self_p);

/* Say the first Hello. */
void session_start(session_t *self);
/* A message from the aggregator whose envelope is verified (signed by the
 * configured server key, for us): kind and body, raw = the whole signed
 * envelope (stored as the receipt; copied when an ACK_OK's record waits
 * for session_flush). Never trusts the body. */
void session_on_message(session_t *self, Cdsync__Kind kind,
                        const uint8_t *body, size_t len, const uint8_t *raw,
                        size_t raw_len);
/* Time passed: act on every deadline at or before mono_ms(). */
void session_on_timer(session_t *self);
/* Rows were queued, or the metadata version in use changed beside the
 * daemon (`metadata rollback`, outbox pending_checked behind it: the
 * pending values are checked again first, io.recheck): send them if the
 * window allows. */
void session_on_wake(session_t *self);
/* The connection became writable while waiting for one. */
void session_on_writable(session_t *self);
/* The transport's view of the link to endpoint changed; detail says how
 * ("Connection refused", a ZAP status); NULL keeps the last detail when
 * the diagnosis is unchanged. Both borrowed. */
void session_on_link(session_t *self, session_link_t ev,
                     const char *endpoint, const char *detail);
/* The caller read every answer waiting (end of a turn): record the
 * ACK_OKs verified since the last call in one outbox transaction, then
 * send what the window allows; nothing when none waits. A failed record
 * backs off (see the invariants). Also done by every other event; until
 * then session_next_deadline says "now". */
void session_flush(session_t *self);
/* ACK_OKs verified and not yet recorded (tests). */
size_t session_acks_waiting(const session_t *self);
/* Stopping: records waiting acks and the connection state "stopped". */
void session_stop(session_t *self);

/* Next deadline in monotonic ms, 0 when none (idle: block). */
uint64_t session_next_deadline(const session_t *self);
/* True while backing off because no connection took a send: the caller
 * watches for writability and calls session_on_writable. */
bool session_wants_writable(const session_t *self);
/* True after SESSION_SILENT_MAX answer timeouts in a row with no message
 * from the aggregator since the link came up. A revoked agent's link
 * stays up (ZMTP pings) while the aggregator drops what it sends: the
 * session then calls io.redial (once per link) so a fresh handshake
 * re-checks our key (ZAP) and session_on_link can say why. Reset by
 * session_on_link up/down. */
#define SESSION_SILENT_MAX 3
bool session_silent(const session_t *self);
/* True once a revocation Notice was accepted (state REVOKED): the caller
 * stops dialing. */
bool session_revoked(const session_t *self);
/* "hello", "sending", "backoff" or "revoked" (tests, logs). */
const char *session_state_name(const session_t *self);
/* Current clock offset estimate (aggregator - local), ms. */
int64_t session_clock_offset_ms(const session_t *self);

/* Backoff for the attempt-th consecutive failure (0-based): uniform in
 * [0, min(max_ms, min_ms * 2^attempt)] ("full jitter"), drawn with
 * uniform(arg, upper). */
uint64_t session_backoff_ms(unsigned attempt, uint64_t min_ms,
                            uint64_t max_ms,
                            uint32_t (*uniform)(void *, uint32_t),
                            void *arg);

/* How many of rows[0..n) (n >= 1) go in one batch with rows[0]: those
 * whose stamp offset is within SESSION_BATCH_OFFSET_MS of the first's
 * (they share one sent_at_ms). Contiguity is the caller's check. */
size_t session_batch_cut(const outbox_row_t *rows, size_t n);

/* Encode the Batch body for rows[0..n) (contiguous seqs) extending
 * prev_head, with request_id. *out is malloc'd (caller frees). CDS_OK,
 * CDS_EBADSEQ when the rows are not contiguous, CDS_ETOOBIG, CDS_ENOMEM. */
int session_batch_encode(const outbox_row_t *rows, size_t n,
                         const uint8_t agent_pk[CDS_PK_BYTES],
                         const uint8_t prev_head[CDS_HASH_BYTES],
                         const char *catalog_version, uint64_t sent_at_ms,
                         uint64_t request_id, uint8_t **out,
                         size_t *out_len);

#endif
