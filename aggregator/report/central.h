/*  central: values entered at the aggregator itself (`import` of a DHIS2
 *  dataValueSet for corrections made centrally), applied through exactly
 *  the same path as a commune's: signed batch -> ingest_message.
 *
 *  Design: the aggregator's own identity is enrolled in its own agent
 *  table (label "aggregator (central corrections)") for every top-level
 *  org unit, i.e. its whole subtree. Its seq and hash chain are its agent
 *  row's applied_seq/applied_head: the next batch starts at applied_seq+1
 *  and chains from applied_head, so the central "agent" needs no outbox
 *  (sender and receiver share one database and one transaction). Each
 *  batch is sealed with the aggregator's key for itself as recipient and
 *  kept raw in the batch table like any other, so `history` re-verifies
 *  central corrections the same way. Revoking that key (revoke FPR) stops
 *  central imports.
 *
 *  hlc: max(now, highest stored hlc + 1), increasing per row, so a
 *  correction wins the last-writer-wins merge over every value already
 *  stored; the file's lastUpdated/created are not trusted as clocks
 *  (they are carried as the update's created_ms/updated_ms, records only).
 *
 *  Invariant: a file with any bad row (unknown indicator or org unit, bad
 *  period or value, a key twice, malformed CSV/JSON/ADX) applies
 *  nothing, and every bad row is reported as "file:line: field: column N:
 *  problem" (JSON: the line is the dataValues index + 1, said so in the
 *  message). */
#ifndef AGG_CENTRAL_H
#define AGG_CENTRAL_H

#include "cds_catalog.h"
#include "cds_dvs.h"
#include "cds_idmap.h"
#include "cds_id.h"
#include "ingest.h"
#include "store.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CENTRAL_LABEL STORE_CENTRAL_LABEL /* store.h */
#define CENTRAL_MAX_ROWS CDS_DVS_MAX_ROWS /* rows in one import file */
#define CENTRAL_MAX_FILE CDS_DVS_MAX_FILE /* bytes of one import file */

typedef struct {
    size_t rows;                       /* rows read */
    size_t applied;                    /* updates applied */
    size_t rejected;                   /* updates ingest rejected */
    uint64_t first_seq, last_seq;      /* central seqs used (0: none) */
} central_result_t;

/* Enroll (or re-scope) id's key as an agent for every top-level org unit.
 * CDS_OK; CDS_EREVOKED when the key was revoked (message in err); or a
 * database error. Runs in its own transaction. */
int central_enroll_self(store_t *store, const cds_identity_t *id,
                        uint64_t now_ms, char *err, size_t errlen);

/* Seal updates u[0..n) as signer's batches (<= CDS_MAX_BATCH_UPDATES
 * each, seqs and chain continuing signer's agent row; u[i].seq is set)
 * for the aggregator key agg_pk, and run each through ingest_message in
 * one transaction. The signer must be enrolled. res counts applied and
 * rejected updates. CDS_OK; CDS_EUNKNOWNKEY/CDS_EREVOKED or the refusal
 * code of a refused batch (nothing applied); or a database error. */
int central_apply(store_t *store, ingest_t *ingest,
                  const cds_identity_t *signer, const uint8_t *agg_pk,
                  cds_update_t *u, size_t n, uint64_t now_ms,
                  central_result_t *res, char *err, size_t errlen);

/* Read a DHIS2 file: ADX XML when it starts with '<' (cds_adx.h, each
 * dataValue a row with its group's orgUnit and period, BOOLEAN/TEXT
 * values from the annotation, a number's annotation its comment, a
 * non-default attribute option combination refused); else a
 * dataValueSet as common/cds_dvs.h reads it (JSON, list or single-form
 * layout; CSV by header names of either spelling or by DHIS2's column
 * positions, header per `header`; periods as DHIS2 ids or ADX
 * "2025-01-01/P3M"). Check every row against the catalog and org units
 * (an attribute option combo other than default is refused, naming the
 * column and value; a category option combo must be the catalog's),
 * enroll id as its own agent, and apply the rows as id's signed batches.
 * With ids (--id-scheme uid|name, cds_idmap.h) every row's DHIS2 ids
 * (dataElement, orgUnit, category/attribute option combo, dataSet) are
 * turned into codes first; an id the map lacks is a bad row naming the
 * field and the id.
 * Bad rows are listed on errf as "file:line: field: column N: problem".
 * CDS_OK; CDS_EBADFIELD (bad rows, nothing applied), CDS_EMALFORMED,
 * CDS_EIO, CDS_ETOOBIG with a message in err; or as central_apply. */
int central_import_file(store_t *store, ingest_t *ingest,
                        const cds_identity_t *id,
                        const cds_catalog_t *catalog, const char *path,
                        cds_dvs_header_t header, const cds_idmap_t *ids,
                        uint64_t now_ms, FILE *errf,
                        central_result_t *res, char *err, size_t errlen);

/* Run by central_correct inside its transaction after the value went
 * through ingest (res says whether it was applied): CDS_OK commits both,
 * else everything rolls back and its code (message in err) is returned. */
typedef int (central_then_fn)(store_t *store, const central_result_t *res,
                              void *arg, char *err, size_t errlen);

/* One value entered centrally (a correction in the dashboard, an
 * accepted held value): enroll id, stamp u above every stored hlc and
 * apply it as id's signed batch, as central_import_file does for a
 * file's rows, then then(store, res, arg) when not NULL, all in one
 * transaction. u->stored_by names the officer, u->comment the reason.
 * res->applied is 1, or res->rejected 1 when ingest rejected the value
 * (its history row says why). Return codes as central_apply, or then's. */
int central_correct(store_t *store, ingest_t *ingest,
                    const cds_identity_t *id, cds_update_t *u,
                    uint64_t now_ms, central_then_fn *then, void *arg,
                    central_result_t *res, char *err, size_t errlen);

#endif
