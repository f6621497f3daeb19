/*  connguard: what one peer can make the aggregator hold, bounded per TCP
 *  connection of the ROUTER socket, whatever the peer does.
 *
 *  libzmq gives no per-connection accounting and no limit on connections,
 *  on handshakes in progress, or on the frames of one message (ZMQ_MAXMSGSIZE
 *  is per frame; a multipart message is held whole in the connection's pipe
 *  until its last frame, and RCVHWM counts whole messages). So we keep our
 *  own table, keyed by file descriptor, fed by the server socket's monitor
 *  (ZMQ_EVENT_ACCEPTED gives the fd, DISCONNECTED / CLOSED end it) and by
 *  the server loop (the bytes of every message it received, by the
 *  message's ZMQ_SRCFD), and a thread that every CONNGUARD_TICK_MS:
 *    - pending handshakes: a connection from which no message arrived yet
 *      is "pending" (an agent sends its hello right after the handshake).
 *      Over max_pending, or with fewer than CONNGUARD_FD_RESERVE free
 *      descriptors, the NEWEST pending connections are shut down
 *      (shutdown(2); libzmq then closes them): the oldest are closed by
 *      ZMQ_HANDSHAKE_IVL anyway, and cutting the newest is what a full
 *      accept queue would do, without spending descriptors on it;
 *    - bytes held: when the process RSS grew by CONNGUARD_RSS_TRIGGER since
 *      the last check (and every CONNGUARD_SWEEP_MS), each connection's
 *      TCP_INFO bytes received, minus what the kernel still holds
 *      (SIOCINQ), minus what the server received from it, is what libzmq
 *      holds for it (a message in progress, queued messages); over
 *      CONNGUARD_PEER_BYTES the connection is shut down.
 *  Before any shutdown the fd is checked to still be the connection that
 *  was accepted (same peer address): libzmq may have closed and reused it.
 *  Every shutdown is counted (metrics) and logged: the first of each
 *  reason in a 10 s window as event=connection_refused, then one
 *  event=connections_refused_summary line with the window's count.
 *
 *  Threads: connguard_event/connguard_frame/connguard_kick from the
 *  thread that owns the server socket; the guard thread only reads the
 *  table and calls shutdown/getsockopt; one mutex. */
#ifndef AGG_CONNGUARD_H
#define AGG_CONNGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONNGUARD_PENDING_DEFAULT 2048 /* handshakes in progress: a province
                                        * reconnecting at once stays under it */
#define CONNGUARD_FD_RESERVE 96        /* kept free: database, WAL, checkpoint,
                                        * HTTP (64 connections), mark */
#define CONNGUARD_PEER_BYTES (16u << 20) /* held by libzmq per connection */
#define CONNGUARD_RSS_TRIGGER (8u << 20) /* RSS growth that triggers a sweep */
#define CONNGUARD_TICK_MS 20
#define CONNGUARD_SWEEP_MS 30000

typedef struct connguard connguard_t;

/* Start the guard thread (after the RLIMIT_NOFILE raise: the table is
 * sized by the soft limit). max_pending 0: CONNGUARD_PENDING_DEFAULT.
 * NULL on failure (logged). */
connguard_t *connguard_new(unsigned max_pending);
/* Stop the thread and free; *self_p = NULL. Safe on NULL. */
void connguard_destroy(connguard_t **self_p);

/* One monitor event of the server socket (ZMQ_EVENT_*, its value). */
void connguard_event(connguard_t *self, uint16_t event, uint32_t value);
/* The numeric address of fd's peer as read at accept (before its
 * DISCONNECTED event is handed to connguard_event): false when fd is not
 * tracked (getpeername failed at accept: it was gone already). */
bool connguard_peer(connguard_t *self, int fd, char *buf, size_t len);
/* The server received one frame of bytes from fd (ZMQ_SRCFD). */
void connguard_frame(connguard_t *self, int fd, size_t bytes);
/* Shut down the connection fd now: it sent a multipart message, which
 * the protocol forbids (logged as reason=multipart_message). Does nothing
 * when fd is not a tracked connection. */
void connguard_kick(connguard_t *self, int fd);

/* Connections shut down by the guard (all reasons) since start. */
uint64_t connguard_refused(const connguard_t *self);
/* Free descriptors at the last check (soft limit - open), -1 unknown. */
long connguard_fd_headroom(const connguard_t *self);
/* Connections tracked now, and how many of them are pending. */
void connguard_counts(const connguard_t *self, unsigned *open,
                      unsigned *pending);

#endif
