/*  auth: who may open a connection to the aggregator (ZeroMQ ZAP, RFC 27,
 *  for CURVE) and what operators see when someone may not.
 *
 *  auth_new starts a handler thread bound to inproc://zeromq.zap.01 in the
 *  server's ZeroMQ context. For every CURVE handshake it admits the client
 *  key only when it is the curve_pk of an enrolled, non-revoked agent, and
 *  answers User-Id = that agent's fingerprint; server.c compares it with
 *  the envelope's signer on every message (key_mismatch otherwise). The
 *  handler reads the agent table through its own read-only connection,
 *  opened by auth_new and used by the handler thread only (one thread owns
 *  each SQLite connection), so enroll and revoke apply to the next
 *  handshake without a restart.
 *
 *  Invariant: anything but (domain AUTH_DOMAIN, mechanism CURVE, a 32-byte
 *  key of a live agent) is denied, and so is every request the handler
 *  cannot judge (database error, malformed request): it fails closed.
 *  With ZMQ_ZAP_ENFORCE_DOMAIN set on the server socket, libzmq also fails
 *  every handshake when no handler is bound.
 *
 *  Denials (from the handler) and failed handshakes (from a socket monitor
 *  on the server socket: a client without CURVE, a wrong server key) are
 *  queued to the thread that owns the database writer, which logs them
 *  (event=zap_denied / handshake_failed, at most AUTH_REPORT_BURST per
 *  AUTH_REPORT_WINDOW_MS, then one line with the number suppressed) and
 *  records them in the reject table (field curve_key, raw = the client
 *  key), under the same limit. */
#ifndef AGG_AUTH_H
#define AGG_AUTH_H

#include "cds_id.h"
#include "store.h"
#include <stdbool.h>
#include <stdint.h>

#define AUTH_DOMAIN "cdsync"           /* ZMQ_ZAP_DOMAIN of the server */
#define AUTH_REPORT_BURST 20           /* reports per window, then counted */
#define AUTH_REPORT_WINDOW_MS 10000

typedef struct auth auth_t;

/* Bind the ZAP handler in zmq_ctx, open db_path read-only for it and start
 * its thread. NULL (logged with the reason) when any of it fails: the
 * caller must then refuse to serve. */
auth_t *auth_new(void *zmq_ctx, const char *db_path);
/* Stop the thread, stop monitoring the socket given to auth_watch, close
 * its sockets and connection; *self_p = NULL. Must run before the context
 * is terminated and before the watched socket is closed, in the thread
 * that owns that socket. Safe on NULL. */
void auth_destroy(auth_t **self_p);

/* Watch the server socket sock for failed handshakes (zmq_socket_monitor).
 * Call once, in the thread that owns sock. CDS_OK or CDS_ERROR (logged). */
int auth_watch(auth_t *self, void *sock);
/* Hand every connection event of the watched socket (ZMQ_EVENT_ACCEPTED,
 * DISCONNECTED, CLOSED, ACCEPT_FAILED; event and value: the fd, or errno
 * for ACCEPT_FAILED) to fn(ctx, ...) from auth_drain, in the owning
 * thread (connguard.h counts connections with them). NULL: none. */
typedef void (auth_event_fn)(void *ctx, uint16_t event, uint32_t value);
void auth_set_event_hook(auth_t *self, auth_event_fn *fn, void *ctx);
/* The sockets to poll for ZMQ_POLLIN in the owning thread: denials and
 * monitor events (the second is NULL before auth_watch). Borrowed. */
void *auth_denials_socket(auth_t *self);
void *auth_events_socket(auth_t *self);
/* Read every waiting denial and event without blocking; log and record
 * them (rate-limited) in store's reject table in autocommit, so call it
 * outside a transaction. Returns how many were read. */
int auth_drain(auth_t *self, store_t *store, uint64_t now_ms);

/* The decision the handler makes, for tests: CDS_OK and the agent's
 * fingerprint in user_id (CDS_FPR_LEN) when domain, mechanism and key are
 * acceptable; else CDS_EUNKNOWNKEY, CDS_EREVOKED (agent filled when
 * known, *has_agent true), CDS_EMALFORMED (domain, mechanism, key size)
 * or a database error. */
int auth_decide(store_t *store, const char *domain, const char *mechanism,
                const uint8_t *key, size_t key_len, char *user_id,
                store_agent_t *agent, bool *has_agent);

/* Handshakes admitted and denied by the handler since auth_new. */
uint64_t auth_admitted(const auth_t *self);
uint64_t auth_denied(const auth_t *self);

#endif
