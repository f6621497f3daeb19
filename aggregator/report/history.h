/*  history: the story of one value: every update ever received for a key
 *  (org unit, indicator, period, disagg), in the order the last-writer-
 *  wins merge ranks them (hlc, agent key, seq), each with the value it
 *  replaced, who entered it (stored_by), the agent (fingerprint, label),
 *  its HLC time and arrival time, the batch it came in, whether ingest
 *  applied or rejected it, the published metadata version whose catalog
 *  checked it (column metadata_version, "" for the configured catalog;
 *  ingest.h ingest_set_versions), and whether its signature still
 *  verifies.
 *
 *  Verification re-does, from the raw envelope kept in the batch table:
 *  decode -> signer is the agent's key -> signature for the aggregator's
 *  key (cds_envelope_verify) -> decode the batch -> the update with this
 *  seq hashes (cds_update_hash) to the same bytes as the stored history
 *  row's fields. So "verified" means the row shown is exactly what the
 *  agent signed.
 *
 *  Merges (history_run): a key that never received an update shows,
 *  in its place, the rows of the units that owe the period by the merge
 *  rule (orgmap_owing): for a unit made by a merge and a period before
 *  it, its predecessors' rows, each naming its org_unit. Reads only. */
#ifndef AGG_HISTORY_H
#define AGG_HISTORY_H

#include "cds_id.h"
#include "report.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One history entry (strings owned; history_free). */
typedef struct {
    char *old_value;           /* value before this update ("" none) */
    char *value;               /* value of this update ("" if deleted) */
    bool deleted;              /* a delete */
    int status;                /* 0 applied, else the cds_err reason */
    char *stored_by;           /* officer */
    char *comment;
    char fpr[CDS_FPR_LEN];     /* agent fingerprint */
    char *label;               /* agent label */
    uint64_t seq;              /* agent seq */
    uint64_t hlc;              /* HLC timestamp */
    int64_t received_ms;       /* arrival at the aggregator */
    int64_t batch_id;          /* batch it came in */
    int64_t meta_version;      /* published metadata version whose catalog
                                * checked it; 0: the configured catalog
                                * (or a row from before store version 16) */
    bool verified;             /* signature and content check */
    const char *verify_note;   /* static: why not verified, or "ok" */
    bool current;              /* the value the table holds now */
} history_entry_t;

/* Entries for the key (disagg NULL: "default") into a malloc'd array.
 * agg_pk is the aggregator's signing key (the recipient of every batch).
 * CDS_OK (possibly 0 entries) or a database error. */
int history_compute(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES],
                    const char *ou, const char *de, const char *pe,
                    const char *disagg, history_entry_t **out, size_t *n);
/* Free an array from history_compute. Safe on NULL. */
void history_free(history_entry_t *e, size_t n);
/* history_compute printed as a report. CDS_OK; CDS_EUSAGE (a key part
 * missing), CDS_ENOTFOUND (no update for the key) with a message in err;
 * or a database error. */
int history_run(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES],
                const char *ou, const char *de, const char *pe,
                report_format_t format, FILE *out, char *err, size_t errlen);

#endif
