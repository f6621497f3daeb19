/*  carry: a commune's signed batches carried by hand (a USB stick) when it
 *  has no link, and the aggregator's signed receipts carried back
 *  (docs/AGENT.md "By USB"; the file format is common/cds_carry.h).
 *
 *  export-batches: the pending rows, cut into batches exactly as the
 *  sender cuts them (contiguous, <= batch_max updates and batch_bytes,
 *  one stamp clock per batch), each signed for the aggregator's key like
 *  a batch on the link, written to one file with the commune's identity
 *  and a summary, and recorded in `carried` (outbox.h). Nothing is
 *  deleted: the rows stay pending until an ack covers them, so the link
 *  can still deliver them, and a second export writes them again.
 *  With --kept the kept batches (outbox.h "kept batches": signed
 *  envelopes as sent, already acked) from the lowest seq they cover
 *  without a hole come first, unchanged: the aggregator re-acks what it
 *  holds and applies what it lost (a restored database).
 *  Batch.sent_at_ms is 0 in a file: the carry time is no clock offset, so
 *  the aggregator takes the signed stamps as they are (clamped to the
 *  import time: docs/DESIGN.md "Clock skew").
 *
 *  import-receipt: every Ack in the file is verified as a receipt from
 *  server_key for this agent (receipt_verify.h) before any is recorded,
 *  then recorded with outbox_apply_ack exactly as an ack from the link
 *  (rows deleted, rejections copied, receipt stored), keeping the acked
 *  batch (re-signed from the rows, as the link keeps what it sent) under
 *  the retention given by outbox_set_keep. Recording the same
 *  receipts twice changes nothing (outbox.h: a repeated ack is harmless),
 *  so a file imported again, or acks that also came over the link, are
 *  no-ops. */
#ifndef AGENT_CARRY_H
#define AGENT_CARRY_H

#include "cds_id.h"
#include "outbox.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What export-batches needs besides the outbox. Borrowed. */
typedef struct {
    const cds_identity_t *id;          /* signs the batches */
    const uint8_t *server_pk;          /* the aggregator's signing key */
    const char *org_units;             /* agent.org_units, "" unknown */
    const char *catalog_version;       /* Batch.catalog_version */
    size_t batch_max;                  /* updates per batch */
    size_t batch_bytes;                /* encoded bytes per batch */
    bool kept;                         /* also the kept (acked) batches */
} carry_opts_t;

/* What a file held or recorded. */
typedef struct {
    size_t batches;                    /* envelopes */
    size_t updates;                    /* updates in them / acked */
    uint64_t first_seq, last_seq;      /* range (0, 0: none) */
    size_t rejected;                   /* import-receipt: refused updates */
    size_t already;                    /* import-receipt: acks already
                                        * recorded before */
    size_t kept;                       /* export: batches already acked */
} carry_result_t;

/* Write the pending batches to path (cds_carry.h: atomic, never over an
 * existing file) and record the export. CDS_OK; CDS_ENOTFOUND when
 * nothing is pending (no file written); CDS_EUSAGE/CDS_EIO for the path,
 * CDS_ETOOBIG over the file bound, or a database error; message in err.
 * The summary written into the file is also printed to out (NULL: not). */
int carry_export(outbox_t *ob, const carry_opts_t *o, const char *path,
                 uint64_t now_ms, carry_result_t *res, FILE *out, char *err,
                 size_t errlen);

/* Verify every receipt of the receipt file at path (server_pk signed,
 * for id's key) and record them. CDS_OK with *res; CDS_EMALFORMED,
 * CDS_ECORRUPT, CDS_EKEYMISMATCH (another agent's or aggregator's),
 * CDS_EBADSIG, CDS_ECHAIN (the aggregator's chain differs from ours:
 * nothing recorded), or a database error; message in err naming the file
 * and the envelope. */
int carry_import_receipt(outbox_t *ob, const cds_identity_t *id,
                         const uint8_t *server_pk, const char *path,
                         uint64_t now_ms, carry_result_t *res, char *err,
                         size_t errlen);

#endif
