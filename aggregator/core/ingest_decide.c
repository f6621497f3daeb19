/*  ingest_decide: the pure decision on a batch. See ingest_decide.h. */
#include "ingest_decide.h"

#include <sodium.h>
#include <string.h>

static uint64_t
last_seq(const ingest_decide_batch_t *b)
{
    return b->first_seq + b->count - 1;
}

size_t
ingest_decide_overlap(const ingest_decide_agent_t *agent,
                      const ingest_decide_batch_t *batch)
{
    uint64_t n = agent->applied_seq, last = last_seq(batch);
    if (batch->first_seq > n)
        return 0;
    return (size_t) ((last < n ? last : n) - batch->first_seq + 1);
}

uint64_t
ingest_decide_prev_seq(const ingest_decide_agent_t *agent,
                       const ingest_decide_batch_t *batch)
{
    uint64_t n = agent->applied_seq, before = batch->first_seq - 1;
    if (before == 0 || before >= n || last_seq(batch) <= n)
        return 0;
    return before;
}

/* Seq first_seq + i of the overlap is stored with the same hash. */
static bool
overlap_same(const ingest_decide_batch_t *b, const ingest_decide_stored_t *s,
             size_t i)
{
    return s && s->overlap_found && s->overlap && s->overlap_found[i]
           && sodium_memcmp(s->overlap + i * CDS_HASH_BYTES,
                            b->hashes + i * CDS_HASH_BYTES,
                            CDS_HASH_BYTES) == 0;
}

/* Our head at first_seq - 1, or NULL when it is not stored. */
static const uint8_t *
head_before(const ingest_decide_agent_t *a, const ingest_decide_batch_t *b,
            const ingest_decide_stored_t *s)
{
    static const uint8_t zeros[CDS_HASH_BYTES];
    uint64_t before = b->first_seq - 1;
    if (before == 0)
        return zeros;
    if (before == a->applied_seq)
        return a->applied_head;
    return s ? s->prev_head : NULL;
}

static void
refuse(ingest_verdict_t *out, ingest_decision_t d, const char *field)
{
    out->decision = d;
    out->field = field;
}

void
ingest_decide(const ingest_decide_agent_t *agent,
              const ingest_decide_batch_t *batch,
              const ingest_decide_stored_t *stored, ingest_verdict_t *out)
{
    uint64_t n = agent->applied_seq;
    memset(out, 0, sizeof *out);
    if (batch->first_seq > n + 1) {
        out->decision = INGEST_DECIDE_GAP;
        out->acked_seq = n;
        out->acked_head = agent->applied_head;
        return;
    }
    size_t overlap = ingest_decide_overlap(agent, batch);
    for (size_t i = 0; i < overlap; i++)
        if (!overlap_same(batch, stored, i)) {
            out->reject_seq = batch->first_seq + i;
            refuse(out, INGEST_DECIDE_EQUIVOCATION, "seq");
            return;
        }
    if (last_seq(batch) <= n) {
        out->decision = INGEST_DECIDE_REACK;
        out->acked_seq = n;
        out->acked_head = agent->applied_head;
        return;
    }
    const uint8_t *ours = head_before(agent, batch, stored);
    if (!ours || sodium_memcmp(ours, batch->prev_head, CDS_HASH_BYTES) != 0) {
        out->chain_seq = batch->first_seq - 1;
        refuse(out, INGEST_DECIDE_CHAIN_BROKEN, "prev_head");
        return;
    }
    const uint8_t *end = batch->heads + (batch->count - 1) * CDS_HASH_BYTES;
    if (sodium_memcmp(end, batch->head, CDS_HASH_BYTES) != 0) {
        refuse(out, INGEST_DECIDE_CHAIN_BROKEN, "head");
        return;
    }
    out->decision = INGEST_DECIDE_APPLY;
    out->acked_seq = last_seq(batch);
    out->acked_head = end;
    out->apply_from = n + 1;
}

const char *
ingest_decision_name(ingest_decision_t d)
{
    switch (d) {
    case INGEST_DECIDE_APPLY:
        return "apply";
    case INGEST_DECIDE_REACK:
        return "reack";
    case INGEST_DECIDE_GAP:
        return "gap";
    case INGEST_DECIDE_EQUIVOCATION:
        return "equivocation";
    case INGEST_DECIDE_CHAIN_BROKEN:
        return "chain_broken";
    }
    return "?";
}
