/*  receipts: list the signed acks the aggregator sent back, the agent's
 *  proof of what the district received and when.
 *
 *  Invariant: read-only. JSON output carries each receipt's raw signed
 *  envelope (base64), so anyone holding the aggregator's public identity
 *  can re-verify it. */
#ifndef AGENT_RECEIPTS_H
#define AGENT_RECEIPTS_H

#include "outbox.h"
#include <stdbool.h>
#include <stdio.h>

/* Print every stored receipt (oldest first) as aligned text or a JSON
 * array. CDS_OK or a database / memory error. */
int receipts_print(outbox_t *outbox, bool json, FILE *out);
/* Name of an AckStatus value: "ok", "gap", "retry", "refused". */
const char *receipts_status_name(int status);

#endif
