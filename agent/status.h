/*  status: what the commune officer asks "did my data get through?":
 *  daemon running, connection state and last error (as the daemon last
 *  wrote them to meta), queue depth and oldest pending age, last ack, and
 *  every update the aggregator refused with its reason.
 *
 *  Invariant: read-only: never changes the outbox or the daemon's lock
 *  (the running check is a non-blocking shared flock, released at once). */
#ifndef AGENT_STATUS_H
#define AGENT_STATUS_H

#include "outbox.h"
#include <stdbool.h>
#include <stdio.h>

/* Print the status of the agent in state_dir, as aligned text or (json)
 * one JSON object, to out. CDS_OK or a database / memory error. */
int status_print(outbox_t *outbox, const char *state_dir, bool json,
                 FILE *out);

#endif
