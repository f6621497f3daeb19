/*  carried: a commune's signed batches carried by hand (a USB stick) and
 *  applied here through the normal ingest path, and the signed receipt
 *  file carried back (`import-batches FILE --receipt OUT`; the file format
 *  is common/cds_carry.h, the agent's side agent/carry.h, the use
 *  docs/AGGREGATOR.md "import-batches").
 *
 *  The file is checked whole before anything is applied (checksum,
 *  bounds, format, every record a BATCH envelope signed by the key the
 *  header names and made for this aggregator, that key enrolled here).
 *  Then every batch goes through ingest_message in ONE transaction with
 *  the commit-mark bump, exactly as a group from the link: signature,
 *  enrolment and revocation, chain, authorisation, exactly-once. If any
 *  batch is refused or not applied (a gap: the file misses batches the
 *  aggregator has not seen), the whole transaction is rolled back:
 *  nothing from the file is applied. The signed Acks are written to the
 *  receipt file only after COMMIT and the commit mark's sync, like acks
 *  on the link (commitmark.h: no ack leaves before its mark is durable).
 *
 *  Idempotent: a file imported twice, or batches that the link delivers
 *  too, are re-acked by ingest with no effect (ingest_decide: last_seq <=
 *  applied seq), and the second receipt file records nothing new at the
 *  agent. A file is useless without this aggregator's enrolment of its
 *  key: it carries no secret. */
#ifndef AGG_CARRIED_H
#define AGG_CARRIED_H

#include "cds_id.h"
#include "commitmark.h"
#include "ingest.h"
#include "store.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What an import did. */
typedef struct {
    size_t batches;                    /* envelopes in the file */
    size_t updates;                    /* updates in them */
    size_t applied;                    /* new updates applied now */
    size_t rejected;                   /* new updates rejected (per update) */
    size_t old;                        /* updates already held: re-acked */
    uint64_t first_seq, last_seq;      /* the file's seq range */
    char fpr[CDS_FPR_LEN];             /* the agent's fingerprint */
    char label[STORE_LABEL_MAX];       /* its label in the agent table */
} carried_result_t;

/* Import the batches file at path and write the receipts to receipt_path
 * (must not exist; checked before anything is applied). store, ingest,
 * mark (its check already passed) and id (ours) are borrowed. CDS_OK with
 * *res; else the reason (CDS_ECORRUPT checksum, CDS_EMALFORMED,
 * CDS_ETOOBIG, CDS_EVERSION, CDS_EUNKNOWNKEY, CDS_EKEYMISMATCH, a refusal
 * code of ingest, CDS_EBADSEQ for a gap, CDS_EUSAGE for the receipt path,
 * or a database / I/O error) with a message naming the file and, where
 * it applies, the offset and the batch. The summary of the receipt file
 * is printed to out (NULL: not). */
int carried_import(store_t *store, ingest_t *ingest, commitmark_t *mark,
                   const cds_identity_t *id, const char *path,
                   const char *receipt_path, uint64_t now_ms, FILE *out,
                   carried_result_t *res, char *err, size_t errlen);

#endif
