/*  ingest_decide: what to do with a verified, well-shaped batch
 *  (docs/PROTOCOL.md "Aggregator: applying a batch", steps 1-3), from the
 *  agent's position, the batch's shape and the few stored hashes it
 *  overlaps. Pure: no database, no allocation, no clock; the caller
 *  (ingest.c) reads the stored rows this module names
 *  (ingest_decide_overlap, ingest_decide_prev_seq), calls ingest_decide
 *  and carries out the verdict. Tested without SQLite
 *  (tests/unit/ingest_decide_test.c).
 *
 *  With N the agent's applied seq and first..last the batch, checked in
 *  this order:
 *    first > N + 1                       GAP (ack N: "send from N+1")
 *    a seq <= N not stored, or stored
 *      with another hash                 EQUIVOCATION (the lowest such seq)
 *    last <= N                           REACK (ack N again)
 *    our head at first-1 != prev_head    CHAIN_BROKEN, field "prev_head"
 *    chain of the updates != head        CHAIN_BROKEN, field "head"
 *    else                                APPLY N+1..last, ack last
 *  Our head at seq s is zeros for s = 0, the agent row's head for s = N,
 *  else the stored head of s (a batch overlapping the applied part). */
#ifndef AGG_INGEST_DECIDE_H
#define AGG_INGEST_DECIDE_H

#include "cds_codec.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    INGEST_DECIDE_APPLY = 0,           /* apply apply_from..last, ack last */
    INGEST_DECIDE_REACK,               /* all seqs applied alike: ack N */
    INGEST_DECIDE_GAP,                 /* seqs missing before first: ACK_GAP */
    INGEST_DECIDE_EQUIVOCATION,        /* applied seq resent, other content */
    INGEST_DECIDE_CHAIN_BROKEN,        /* prev_head or head does not chain */
} ingest_decision_t;

/* The agent's row, as far as the decision needs it. */
typedef struct {
    uint64_t applied_seq;              /* N: last applied seq, 0 none */
    const uint8_t *applied_head;       /* head after N, CDS_HASH_BYTES */
} ingest_decide_agent_t;

/* The batch: seqs first_seq..first_seq+count-1 (count >= 1), as
 * check_batch_shape in ingest.c let it through. */
typedef struct {
    uint64_t first_seq;                /* >= 1 */
    size_t count;                      /* updates, >= 1 */
    const uint8_t *prev_head;          /* CDS_HASH_BYTES: head before it */
    const uint8_t *head;               /* CDS_HASH_BYTES: head it claims */
    const uint8_t *hashes;             /* count * CDS_HASH_BYTES: update hashes */
    const uint8_t *heads;              /* count * CDS_HASH_BYTES: the chain
                                        * from prev_head through each one */
} ingest_decide_batch_t;

/* The stored rows the decision asked for. */
typedef struct {
    const uint8_t *overlap;            /* ingest_decide_overlap() entries of
                                        * CDS_HASH_BYTES: stored hash of seq
                                        * first_seq + i */
    const bool *overlap_found;         /* per entry: false = no stored row */
    const uint8_t *prev_head;          /* stored head at
                                        * ingest_decide_prev_seq(), NULL:
                                        * not stored (or not asked) */
} ingest_decide_stored_t;

/* The decision and what the reply needs. Pointers borrow from the
 * inputs. */
typedef struct {
    ingest_decision_t decision;        /* what to do */
    uint64_t acked_seq;                /* APPLY: last; REACK, GAP: N; else 0 */
    const uint8_t *acked_head;         /* the head after acked_seq, or NULL */
    uint64_t apply_from;               /* APPLY: N + 1, the first new seq */
    uint64_t reject_seq;               /* EQUIVOCATION: that seq, else 0 */
    uint64_t chain_seq;                /* CHAIN_BROKEN at prev_head: first-1 */
    const char *field;                 /* refusals: "seq", "prev_head",
                                        * "head"; else NULL (static) */
} ingest_verdict_t;

/* Seqs of the batch at or below N, from first_seq: their stored hashes
 * are wanted in stored->overlap. 0 when the batch starts after N. Pure. */
size_t ingest_decide_overlap(const ingest_decide_agent_t *agent,
                             const ingest_decide_batch_t *batch);
/* The seq whose stored head is wanted in stored->prev_head, or 0 when
 * none is (a gap, a batch entirely applied, or first-1 is 0 or N). Pure. */
uint64_t ingest_decide_prev_seq(const ingest_decide_agent_t *agent,
                                const ingest_decide_batch_t *batch);
/* Decide; fills *out. stored may be NULL when both functions above said
 * nothing is wanted. Pure. */
void ingest_decide(const ingest_decide_agent_t *agent,
                   const ingest_decide_batch_t *batch,
                   const ingest_decide_stored_t *stored,
                   ingest_verdict_t *out);
/* A short name of d ("apply", "reack", ...), static. */
const char *ingest_decision_name(ingest_decision_t d);

#endif
