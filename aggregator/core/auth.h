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
 *  AUTH_REPORT_WINDOW_MS, then one line with the number suppressed).
 *
 *  Knocks: every refusal is also counted, grouped, in the knock table
 *  (store_knock_add): one row per (client CURVE key, peer address) with
 *  first and last seen, count and latest reason, never one row per
 *  attempt. A handshake that fails before ZAP (no CURVE, wrong server
 *  key, protocol error) has no key: it is grouped by peer address only.
 *  libzmq 4.3's monitor names the listening endpoint, not the peer, for
 *  HANDSHAKE_FAILED_*, so the peer is the address the connection guard
 *  read at ACCEPTED for the fd of the DISCONNECTED event that follows
 *  the failure (same I/O thread, so in order); "unknown" when it is gone
 *  already. Counts stay in memory (AUTH_KNOCK_SLOTS groups) and a group
 *  is written at most once per AUTH_KNOCK_WRITE_MS, from auth_drain in
 *  one transaction: a key retrying ten times a second costs one small
 *  write every 10 s, not a synced row per attempt. At most
 *  AUTH_REPORT_BURST new keys make new groups per AUTH_REPORT_WINDOW_MS;
 *  beyond that (a peer inventing a key per attempt) they are counted
 *  under the address alone, so the table stays bounded too. */
#ifndef AGG_AUTH_H
#define AGG_AUTH_H

#include "cds_id.h"
#include "store.h"
#include <stdbool.h>
#include <stdint.h>

#define AUTH_DOMAIN "cdsync"           /* ZMQ_ZAP_DOMAIN of the server */
#define AUTH_REPORT_BURST 20           /* reports per window, then counted */
#define AUTH_REPORT_WINDOW_MS 10000
#define AUTH_KNOCK_SLOTS 256           /* groups held in memory */
#define AUTH_KNOCK_WRITE_MS 10000      /* one write per group per period */

/* Why a handshake was refused, for auth_refused (metrics). */
typedef enum {
    AUTH_REASON_UNKNOWN_KEY,           /* ZAP: key not enrolled */
    AUTH_REASON_REVOKED,               /* ZAP: key revoked */
    AUTH_REASON_BAD_REQUEST,           /* ZAP: not CURVE, bad size, error */
    AUTH_REASON_HANDSHAKE,             /* failed before ZAP (monitor) */
    AUTH_REASONS
} auth_reason_t;

typedef struct auth auth_t;

/* Bind the ZAP handler in zmq_ctx, open db_path (the store: a file or a
 * PostgreSQL URL, store_location) read-only for it and start
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
/* Where the connection fd comes from: fill buf (len) with its peer's
 * address as read at accept; false when unknown. Called from auth_drain
 * before the DISCONNECTED event reaches the event hook. NULL: none. */
typedef bool (auth_peer_fn)(void *ctx, int fd, char *buf, size_t len);
void auth_set_peer_hook(auth_t *self, auth_peer_fn *fn, void *ctx);
/* The sockets to poll for ZMQ_POLLIN in the owning thread: denials and
 * monitor events (the second is NULL before auth_watch). Borrowed. */
void *auth_denials_socket(auth_t *self);
void *auth_events_socket(auth_t *self);
/* Read every waiting denial and event without blocking; log them
 * (rate-limited), count them in the knock groups and write the groups
 * that are due (AUTH_KNOCK_WRITE_MS) in one transaction of its own, so
 * call it outside a transaction, also when nothing arrived (it is cheap).
 * Returns how many were read. */
int auth_drain(auth_t *self, store_t *store, uint64_t now_ms);
/* Milliseconds until auth_drain has knock counts to write, 0 now, -1
 * none pending: the owner's poll must wake up by then (no event may come
 * after the last attempt). */
long auth_due_in_ms(const auth_t *self, uint64_t now_ms);
/* Write every pending knock count now (at shutdown, in tests). CDS_OK or
 * a database error (the counts are then kept for the next try). */
int auth_flush(auth_t *self, store_t *store, uint64_t now_ms);

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
/* Handshakes refused for reason r since the process started, by every
 * handler (cdsync_handshakes_denied_total); any thread. */
uint64_t auth_refused(auth_reason_t r);

#endif
