/*  status: what the commune officer asks "did my data get through?":
 *  daemon running, connection state and last error (as the daemon last
 *  wrote them to meta, or while it runs to agent.state, see livestate.h),
 *  the clock offset to the aggregator, queue depth and oldest pending age, last ack, and
 *  every update the aggregator refused with its reason.
 *
 *  Invariant: read-only: never changes the outbox or the daemon's lock
 *  (the running check is a non-blocking shared flock, released at once). */
#ifndef AGENT_STATUS_H
#define AGENT_STATUS_H

#include "outbox.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Thresholds of status_severity. */
typedef struct {
    uint64_t backlog_ms;               /* oldest pending older: warning */
    uint64_t disconnected_ms;          /* not connected longer: critical */
    uint64_t max_clock_skew_ms;        /* |clock offset| over: SKEWED */
    bool english;                      /* advice in English, else Vietnamese */
    bool plain;                        /* no connection-state name before
                                        * the advice (the officer's page) */
} status_limits_t;

/* Print the status of the agent in state_dir, as aligned text or (json)
 * one JSON object, to out, ending with the status_severity verdict under
 * lim ("health:" line / "health" object with code, state and why), which
 * is also stored in *verdict. CDS_OK or a database / memory error. */
int status_print(outbox_t *outbox, const char *state_dir, bool json,
                 const status_limits_t *lim, FILE *out, int *verdict);

/* The held values (outbox.h "Held values") as a JSON array into *out
 * (caller's, json_decref): id, seq, orgunit, dataelement, period, value,
 * deleted, version, code, code_name, field, message, reason (in words,
 * English or Vietnamese), suggestion ("org_unit=NEW", "indicator=NEW" or
 * ""), held_at_ms. CDS_OK or a database / memory error. */
int status_held(outbox_t *outbox, bool english, json_t **out);

/* The Nagios-style verdict `status` exits with (docs/OPERATIONS.md):
 * 0 daemon running, connected, no backlog, no rejected value;
 * 1 SKEWED (|clock offset to the aggregator| > max_clock_skew_ms), a
 *   backlog (oldest pending older than backlog_ms) or rejected values
 *   listed (they stay until the officer resubmits them), or values held
 *   back after a metadata change (outbox.h "Held values"): WARNING;
 *   Also WARNING at once while not connected for a known reason
 *   (aggregator unreachable, CURVE handshake refused) or never connected
 *   since the daemon started; the why is then one plain sentence of what
 *   to do (lim->english, else Vietnamese) naming the endpoint.
 * 2 daemon not running, cannot write its database (acks not recorded),
 *   refused by the aggregator, or not connected for longer than
 *   disconnected_ms (with the same sentence when the reason is known).
 * why (may be NULL) receives one line of reasons; *state (may be NULL)
 * the verdict's name: "OK", "WARNING", "SKEWED" or "CRITICAL". -1 on a
 * database error. */
int status_severity(outbox_t *outbox, const char *state_dir,
                    const status_limits_t *lim, uint64_t now_ms, char *why,
                    size_t why_len, const char **state);

#endif
