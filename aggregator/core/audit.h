/*  audit: `cdsync-aggregator verify`: is the consolidated database what
 *  the kept signed batches say it should be?
 *
 *  Checks, on a read-only connection (the daemon may keep running):
 *   1. every kept batch envelope: signed by its agent's key for this
 *      aggregator, body decodes, names that agent and the seq range of its
 *      row, and its updates chain from prev_head to head;
 *   2. each agent's history (update_log): one row per seq 1..applied_seq,
 *      each equal (content hash, chain head, every field) to the update of
 *      the batch it refers to, heads chaining with BLAKE2b from zero to
 *      agent.applied_head;
 *   2b. no update twice in history: the same (agent, key, hlc, value,
 *      comment, stored_by, flags) under two seqs is reported with both
 *      seqs (problem=duplicate_update);
 *   3. datavalue: exactly the last-writer-wins result of the applied
 *      updates, their content taken from the batches.
 *  Every difference is printed as one line naming the table, the agent
 *  fingerprint, the seq (or key) and the field with both values.
 *
 *  Invariant: read-only; the verdict depends only on the database and the
 *  aggregator's public key. Not covered (documented in SECURITY.md):
 *  whether a history row's status (applied or refused) was the right
 *  decision, which depended on enrolment and catalog at that time. */
#ifndef AGG_AUDIT_H
#define AGG_AUDIT_H

#include "cds_id.h"
#include "store.h"
#include <stdint.h>
#include <stdio.h>

typedef struct {
    uint64_t batches;          /* kept batches examined */
    uint64_t history;          /* update_log rows examined */
    uint64_t values;           /* datavalue keys examined */
    uint64_t problems;         /* lines printed */
} audit_summary_t;

/* Run every check on store (opened read-only is enough) against the
 * aggregator signing key agg_pk; print one line per problem to out.
 * CDS_OK when the checks ran (problems may still be > 0), else a database
 * or memory error code. */
int audit_run(store_t *store, const uint8_t agg_pk[CDS_PK_BYTES], FILE *out,
              audit_summary_t *sum);

#endif
