/*  import: queue a DHIS2 dataValueSet file (CSV or JSON), all rows or none.
 *
 *  Input format: what DHIS2 writes and reads (common/cds_dvs.h): CSV by
 *  DHIS2's column positions, or by name when the first row is a header
 *  (long names or DHIS2's abbreviations: de, pe, ou, catoptcombo,
 *  attroptcombo, value, strby, lstupd, cmt, flwup, deleted); or JSON, the
 *  list form or the single-form layout (period/orgUnit/
 *  attributeOptionCombo on the dataValueSet). Per field:
 *      dataelement, period, orgunit        required on every row
 *      value                               required unless deleted=true
 *      categoryoptioncombo                 empty or "default"; any other
 *                                          is refused (catalog has none)
 *      attributeoptioncombo                empty or "default"; any other
 *                                          is refused
 *      storedby                            empty -> the agent's stored_by
 *      comment
 *      followup, deleted                   true/false, t/f, 1/0 (any case)
 *      lastupdated, created                DHIS2 timestamps, carried in the
 *                                          update (created_ms, updated_ms);
 *                                          the agent's HLC still stamps it
 *  Invariant: a file with any bad row (bad value, unknown indicator, org
 *  unit not allowed, the same key twice, malformed CSV/JSON) queues
 *  nothing; every bad row is reported as "file:line: field: column N:
 *  problem" (JSON: "file:N: field: problem (line = dataValues entry)";
 *  the first 100, then "... and N more"). A good file is queued in one transaction. */
#ifndef AGENT_IMPORT_H
#define AGENT_IMPORT_H

#include "cds_dvs.h"
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
 * usable CSV/JSON (nothing queued, details on errf); CDS_EIO when the file
 * cannot be read, CDS_EFULL or a database code (message in err). */
int import_file(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
                FILE *errf, import_result_t *res, char *err, size_t errlen);
/* The same with the header choice (cds_dvs.h; import_file: AUTO). */
int import_file_opt(const submit_ctx_t *ctx, outbox_t *outbox,
                    const char *path, cds_dvs_header_t header, FILE *errf,
                    import_result_t *res, char *err, size_t errlen);

/* Queue n checked updates u (src[i]: their sources, "import:file:line")
 * in one outbox transaction after entrycheck's warnings, fill res and
 * wake the daemon: the last step of every import (CSV, JSON, ADX). */
int import_push(const submit_ctx_t *ctx, outbox_t *outbox, cds_update_t *u,
                const char **src, size_t n, import_result_t *res, char *err,
                size_t errlen);

#endif
