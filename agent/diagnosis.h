/*  diagnosis: why the agent is not connected, told from the transport's
 *  story. ZeroMQ's socket monitor on the DEALER reports connects,
 *  retries and handshakes but not why a connect failed; this module turns
 *  the events of one dial into what the session hears (session_on_link)
 *  and asks the kernel, once per change, why nobody answers.
 *
 *  Classification, per dial (diagnosis_redial starts a new one):
 *  - CONNECT_RETRIED with no CONNECTED in that attempt: unreachable, with
 *    the probe's text the first time, then "the same story" (no probe on
 *    every libzmq retry);
 *  - HANDSHAKE_FAILED_*: handshake_failed, with the ZAP status or reason;
 *  - DISCONNECTED after CONNECTED, before the handshake succeeded and
 *    with no failure told: handshake_failed ("connection closed during
 *    the handshake": a server that cannot decrypt our HELLO, i.e. our
 *    server_key is wrong, just closes);
 *  - HANDSHAKE_SUCCEEDED: up; DISCONNECTED after it: down.
 *
 *  No socket and no clock of its own: events are ZeroMQ's event numbers
 *  and values, and the probe is injected (agent/sender.c passes
 *  diagnosis_probe_tcp, tests a fake). */
#ifndef AGENT_DIAGNOSIS_H
#define AGENT_DIAGNOSIS_H

#include "session.h"
#include <stddef.h>
#include <stdint.h>

/* The longest diagnosis_probe_tcp waits for an answer. */
#define DIAGNOSIS_PROBE_MS 1000

/* Why nobody answers at endpoint: text into buf (always terminated). */
typedef void (*diagnosis_probe_fn)(void *arg, const char *endpoint,
                                   char *buf, size_t len);

typedef struct diagnosis diagnosis_t;

/* New diagnosis of the dials to endpoint (borrowed, must outlive it),
 * asking probe(arg, ...) why nobody answers. NULL when out of memory. */
diagnosis_t *diagnosis_new(const char *endpoint, diagnosis_probe_fn probe,
                           void *arg);
/* Free; sets *self_p to NULL. Safe on NULL. */
void diagnosis_destroy(diagnosis_t **self_p);

/* One monitor event (ZMQ_EVENT_*) and its value. 1 when the session must
 * hear of it: *link, and *detail (borrowed until the next call; NULL: the
 * same story as told last). 0 when the event changes nothing. */
int diagnosis_on_event(diagnosis_t *self, uint16_t event, uint32_t value,
                       session_link_t *link, const char **detail);
/* The caller dialed again (disconnect + connect): a new attempt starts. */
void diagnosis_redial(diagnosis_t *self);

/* The kernel's word on a numeric tcp:// endpoint: a non-blocking connect,
 * waited for at most DIAGNOSIS_PROBE_MS ("Connection refused": host up,
 * nothing listening; "No route to host": the network; "Connection timed
 * out": link or firewall). Names are not resolved (a DNS timeout would
 * stall the daemon's loop): generic text for them and for ipc://. arg is
 * unused (diagnosis_probe_fn). */
void diagnosis_probe_tcp(void *arg, const char *endpoint, char *buf,
                         size_t len);

#endif
