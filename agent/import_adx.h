/*  import_adx: `cdsync-agent import FILE.adx|FILE.xml`: an ADX document
 *  (cds_adx.h, as DHIS2 writes it) queued like a CSV file (import.h),
 *  all values or none.
 *
 *  Each dataValue is one update: orgUnit and period from its group
 *  (period in ADX notation, or a DHIS2 id), dataElement, value, the
 *  annotation as comment, storedBy the agent's stored_by. Refused, as
 *  "file:line: field: problem" naming the value's line (the first
 *  IMPORT_MAX_LISTED, then "... and N more"): what submit_check refuses
 *  (unknown data element, org unit not allowed, bad period or value), a
 *  disaggregation (category attributes or a categoryOptionCombo other
 *  than "default"), a non-default attributeOptionCombo, the same key
 *  twice. A document the reader refuses (not ADX, a DOCTYPE, too deep,
 *  too large: cds_adx.h) or over IMPORT_ADX_MAX_FILE bytes queues
 *  nothing with one "file:line: problem".
 *
 *  Invariant: nothing is queued unless every value passed. */
#ifndef AGENT_IMPORT_ADX_H
#define AGENT_IMPORT_ADX_H

#include "import.h"
#include <stdbool.h>

#define IMPORT_ADX_MAX_FILE (16u << 20) /* bytes of one ADX file */

/* True when path names an ADX file: it ends in .adx or .xml (any case). */
bool import_is_adx(const char *path);

/* As import_file (import.h) for an ADX document. */
int import_adx_file(const submit_ctx_t *ctx, outbox_t *outbox,
                    const char *path, FILE *errf, import_result_t *res,
                    char *err, size_t errlen);

#endif
