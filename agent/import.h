/*  import: queue a DHIS2 dataValueSet CSV file, all rows or none.
 *
 *  Input format: UTF-8 CSV (optional BOM), header row required, columns
 *  matched by name ignoring ASCII case, order free, unknown columns
 *  ignored:
 *      dataelement, period, orgunit        required on every row
 *      value                               required unless deleted=true
 *      categoryoptioncombo                 empty -> "default"
 *      attributeoptioncombo                empty or "default" only
 *      storedby                            empty -> the agent's stored_by
 *      comment
 *      followup, deleted                   true/false/1/0, empty = false
 *      lastupdated                         accepted and ignored: the agent's
 *                                          HLC timestamps the update
 *  Invariant: a file with any bad row (bad value, unknown indicator, org
 *  unit not allowed, the same key twice, malformed CSV) queues nothing;
 *  every bad row is reported as "file:line: field: problem" (the first 100,
 *  then "... and N more"). A good file is queued in one transaction. */
#ifndef AGENT_IMPORT_H
#define AGENT_IMPORT_H

#include "outbox.h"
#include "submit.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IMPORT_MAX_LISTED 100          /* bad rows printed before "... and" */

typedef struct {
    size_t queued;                     /* updates queued (0 on failure) */
    uint64_t first_seq, last_seq;      /* their seq range */
    size_t bad_rows;                   /* rows refused */
} import_result_t;

/* Validate every row of path and queue them all in one transaction, then
 * wake the daemon. Bad rows are listed on errf. Returns CDS_OK;
 * CDS_EBADFIELD when rows were bad or CDS_EMALFORMED when the file is not
 * usable CSV (nothing queued, details on errf); CDS_EIO when the file
 * cannot be read, CDS_EFULL or a database code (message in err). */
int import_file(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
                FILE *errf, import_result_t *res, char *err, size_t errlen);

#endif
