/*  sender: the agent's `run` daemon: sends the outbox to the aggregator as
 *  signed batches and records the signed acks (docs/PROTOCOL.md, "Agent
 *  state machine").
 *
 *  The link: the ZeroMQ/poll shell around agent/session.h, which makes
 *  every protocol decision and keeps every timer (heartbeats, timeouts,
 *  backoff, when to dial again). This file owns the sockets (the CURVE
 *  DEALER to the aggregator, its socket monitor, the wake PULL), verifies
 *  each frame (signer = the configured server key, signed for our key)
 *  and feeds it, wakes, writability and the monitor's story (through
 *  agent/diagnosis.h) into the session, seals what the session sends, and
 *  dials again or hangs up when the session says so. It sleeps only in
 *  zmq_poll, until the session's next deadline: idle = no timeout, no CPU.
 *
 *  Files in state_dir: wake.sock (ipc PULL: `submit`/`import` nudge us
 *  after a commit; agent.lock is agent/daemon_lock.h, taken by main),
 *  agent.state (agent/livestate.h: the connection state for `status`),
 *  agent.revoked (agent/revocation.h: the aggregator's signed word that
 *  our key is revoked; the daemon then stops dialing until restarted). */
#ifndef AGENT_SENDER_H
#define AGENT_SENDER_H

#include "cds_id.h"
#include "outbox.h"
#include "session.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SENDER_WINDOW_MAX SESSION_WINDOW_MAX /* upper bound for `window` */

typedef struct {
    const char *state_dir;             /* agent.lock, wake.sock */
    const char *server;                /* aggregator endpoint */
    const char *server_key;            /* aggregator "cds1:..." identity */
    const char *catalog_version;       /* named in every batch */
    const char *org_units;             /* agent.org_units: the pending
                                        * values' recheck (recheck.h) */
    size_t batch_max;                  /* updates per batch, 1..1000 */
    size_t batch_bytes;                /* encoded bytes per batch */
    size_t window;                     /* batches in flight, 1..64 */
    uint64_t ack_timeout_ms;           /* answer or ack due within */
    uint64_t backoff_min_ms;           /* first backoff bound */
    uint64_t backoff_max_ms;           /* backoff cap; refusals wait ~this */
    uint64_t heartbeat_ms;             /* Heartbeat interval while connected;
                                        * an answer is due within
                                        * ack_timeout_ms (0: none) */
    uint64_t keep_ms;                  /* keep acked batches this long
                                        * (outbox_set_keep; 0: none) */
    uint64_t keep_max_bytes;           /* and at most this many bytes */
} sender_config_t;

typedef struct sender sender_t;

/* Open one frame from the aggregator: decode (bounded), signer must be
 * server_pk, signature for recipient our_pk. CDS_OK with *env (free with
 * cds_msg_free); else CDS_EMALFORMED / CDS_ETOOBIG / CDS_EVERSION,
 * CDS_EUNKNOWNKEY (another signer) or CDS_EBADSIG, logged, *env NULL. */
int sender_open_frame(const uint8_t *data, size_t len,
                      const uint8_t server_pk[CDS_PK_BYTES],
                      const uint8_t our_pk[CDS_PK_BYTES],
                      Cdsync__Envelope **env);

/* Create the sockets: DEALER connected to cfg->server, PULL bound on
 * wake.sock. cfg strings, id and outbox are borrowed. NULL on failure with
 * a message in err (bad server_key, endpoint, socket). */
sender_t *sender_new(const sender_config_t *cfg, const cds_identity_t *id,
                     outbox_t *outbox, char *err, size_t errlen);
/* SIGHUP reload: take cfg's catalog_version (copied; NULL keeps the
 * running one), batch sizes,
 * ack_timeout_ms, backoff bounds and heartbeat_ms from now on, without
 * touching the connection. state_dir, server, server_key and window are
 * not taken (a restart applies them). */
void sender_reconfigure(sender_t *self, const sender_config_t *cfg);
/* Close sockets, remove wake.sock; sets *self_p to NULL. Safe on NULL. */
void sender_destroy(sender_t **self_p);
/* Run until a stop is requested (common/cds_signal.h: SIGTERM, SIGINT or
 * cds_signal_request_stop()). CDS_OK on a requested stop; a cds_err code when the
 * sockets or the database fail for good (logged). */
int sender_run(sender_t *self);

#endif
