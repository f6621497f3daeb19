/*  rejects: the operator's view of what the aggregator refused, and the
 *  way to run it again after the cause was fixed (`cdsync-aggregator
 *  rejects`, docs/OPERATIONS.md "Rejections").
 *
 *  Two kinds, two identifiers:
 *    whole messages (reject table: bad signature, unknown key, revoked,
 *      malformed, too big, equivocation, chain...): ID = the row number;
 *      the raw bytes are kept, so `show` decodes what it can and `retry`
 *      runs them through ingest_message again, with every check of a fresh
 *      arrival (signature, enrolment, revocation, dedup, equivocation,
 *      chain). Accepted: committed, and the row records retried_at_ms and
 *      retry_result 0. Refused again: rolled back (no new reject row, no
 *      counter), and the row records the new reason.
 *    single updates (update_log rows with status != 0: unknown indicator,
 *      bad value, out of range, org unit not allowed...): ID = FPR:SEQ.
 *      `retry` re-validates the stored update as ingest would today
 *      (catalog, org units, enrolment); if valid it is merged through the
 *      normal last-writer-wins upsert with its original (hlc, agent, seq),
 *      so the consolidated table is what it would have been had it been
 *      accepted on arrival, and the update becomes applied exactly once:
 *      store_log_retried appends an update_status row (status 0,
 *      from_status = old reason, at_ms); the update_log row itself is
 *      never edited (append-only, store.h). Still invalid: nothing
 *      changes.
 *  Bounded on disk (store.h "Rejects on disk"): a row may hold only a
 *  digest of the message (raw_size, raw_digest, kind): `show` says so and
 *  `retry` has nothing to run. `prune` deletes rows past the retention.
 *  A revoked agent's updates are never retried. Nothing is sent to the
 *  agent: it learns nothing new (its outbox already dropped the row). */
#ifndef AGG_REJECTS_H
#define AGG_REJECTS_H

#include "health.h"
#include "ingest.h"
#include "store.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int64_t since_ms;                  /* 0: everything */
    const char *agent;                 /* fingerprint or label, NULL any */
    int code;                          /* reason code, -1 any */
    bool json;                         /* JSON array instead of a table */
} rejects_filter_t;

/* Print the rejections matching f to out. CDS_OK or a database error. */
int rejects_list(store_t *store, const rejects_filter_t *f, FILE *out);

/* Describe rejection id ("123" or "FPR:SEQ"): what it was and what was
 * wrong, decoding the kept raw message as far as it goes. id_self may be
 * NULL (then the signature is not checked). CDS_OK, CDS_ENOTFOUND,
 * CDS_EUSAGE (id does not parse) or a database error. */
int rejects_show(store_t *store, const cds_identity_t *id_self,
                 const char *id, FILE *out);

/* Retry rejection id as described above, in its own transaction, through
 * ingest (its health recorder set or not). *result receives CDS_OK when
 * it was accepted now, else the reason it is still refused. A summary
 * line goes to out. Returns CDS_OK when the retry ran (whatever *result),
 * CDS_ENOTFOUND, CDS_EUSAGE, or a database error. */
int rejects_retry(store_t *store, ingest_t *ingest, health_t *health,
                  const char *id, uint64_t now_ms, int *result, FILE *out);

/* Delete every reject row older than cutoff_ms, STORE_PRUNE_STEP rows a
 * transaction (the daemon may be running); *deleted receives the count.
 * Grouped handshake refusals (store_knock_add) older than cutoff_ms go
 * too, counted in *deleted. Per-update rejections (update_log) are
 * history and stay. CDS_OK or a
 * database error. */
int rejects_prune(store_t *store, int64_t cutoff_ms, int64_t *deleted);

#endif
