/*  ingest_decide_test: every branch of the batch decision (ingest_decide.h)
 *  without a database: a model agent log of LOG_LEN seqs, hashes and
 *  chained heads, from which each test cuts the agent row, the batch and
 *  the stored rows the decision asks for, then spoils one of them.
 *  Boundaries: seq 0 (the first batch), first = N + 1, a batch ending at
 *  N, partial overlaps, a batch entirely before N, a seq far ahead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "cds_codec.h"
#include "cds_update.h"
#include "ingest_decide.h"

#define LOG_LEN 32                     /* seqs 1..LOG_LEN-1 in the model */
#define H CDS_HASH_BYTES

/* The agent's history as the aggregator stored it: hash and head per
 * seq (head[0] = zeros). */
static uint8_t log_hash[LOG_LEN][H], log_head[LOG_LEN][H];

/* One decision's inputs, cut from the model and then spoilt by a test. */
typedef struct {
    uint64_t n;                        /* agent's applied seq */
    uint8_t applied_head[H];
    uint64_t first;
    size_t count;
    uint8_t prev_head[H], head[H];     /* as the batch claims */
    uint8_t hashes[LOG_LEN][H];        /* batch update hashes */
    uint8_t heads[LOG_LEN][H];         /* chain from prev_head */
    uint8_t stored_hash[LOG_LEN][H];   /* by seq: what the db holds */
    bool stored[LOG_LEN];              /* by seq: the row exists */
    /* filled by run(): */
    uint8_t overlap[LOG_LEN][H];
    bool found[LOG_LEN];
    size_t n_overlap;
    uint64_t prev_seq;
} case_t;

static int
setup_log(void **state)
{
    (void) state;
    memset(log_head[0], 0, H);
    for (int s = 1; s < LOG_LEN; s++) {
        memset(log_hash[s], 0, H);
        log_hash[s][0] = (uint8_t) s;  /* distinct per seq */
        log_hash[s][1] = 0xa5;
        cds_chain_next(log_head[s - 1], log_hash[s], log_head[s]);
    }
    return 0;
}

/* Recompute the batch chain from c->prev_head through c->hashes. */
static void
rechain(case_t *c)
{
    const uint8_t *prev = c->prev_head;
    for (size_t i = 0; i < c->count; i++) {
        cds_chain_next(prev, c->hashes[i], c->heads[i]);
        prev = c->heads[i];
    }
}

/* Agent at n; an honest batch first..first+count-1 (seqs inside the
 * model; beyond it the batch carries made-up hashes, prev_head zeros). */
static void
make_case(case_t *c, uint64_t n, uint64_t first, size_t count)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    memcpy(c->applied_head, log_head[n], H);
    c->first = first;
    c->count = count;
    if (first - 1 < LOG_LEN)
        memcpy(c->prev_head, log_head[first - 1], H);
    for (size_t i = 0; i < count; i++) {
        uint64_t s = first + i;
        if (s < LOG_LEN)
            memcpy(c->hashes[i], log_hash[s], H);
        else
            c->hashes[i][0] = 0xee;
    }
    rechain(c);
    memcpy(c->head, c->heads[count - 1], H);
    for (uint64_t s = 1; s <= n && s < LOG_LEN; s++) {
        memcpy(c->stored_hash[s], log_hash[s], H);
        c->stored[s] = true;
    }
}

/* Gather what the decision asks for from the model db, and decide. */
static ingest_verdict_t
run(case_t *c)
{
    ingest_decide_agent_t a = { .applied_seq = c->n,
                                .applied_head = c->applied_head };
    ingest_decide_batch_t b = {
        .first_seq = c->first, .count = c->count,
        .prev_head = c->prev_head, .head = c->head,
        .hashes = c->hashes[0], .heads = c->heads[0] };
    c->n_overlap = ingest_decide_overlap(&a, &b);
    assert_true(c->n_overlap <= c->count);
    for (size_t i = 0; i < c->n_overlap; i++) {
        uint64_t s = c->first + i;
        assert_true(s <= c->n);        /* only applied seqs are asked for */
        c->found[i] = c->stored[s];
        memcpy(c->overlap[i], c->stored_hash[s], H);
    }
    c->prev_seq = ingest_decide_prev_seq(&a, &b);
    ingest_decide_stored_t st = { .overlap = c->overlap[0],
                                  .overlap_found = c->found,
                                  .prev_head = NULL };
    if (c->prev_seq) {
        assert_true(c->prev_seq > 0 && c->prev_seq < c->n);
        st.prev_head = c->stored[c->prev_seq] ? log_head[c->prev_seq] : NULL;
    }
    ingest_verdict_t v;
    ingest_decide(&a, &b, &st, &v);
    return v;
}

static void
assert_head(const uint8_t *got, const uint8_t *want)
{
    assert_non_null(got);
    assert_memory_equal(got, want, H);
}

/* ---- APPLY ---------------------------------------------------------------- */

/* Seq 0: the first batch chains from zeros; nothing stored is needed. */
static void
test_first_batch(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 0, 1, 3);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_APPLY);
    assert_int_equal(v.acked_seq, 3);
    assert_head(v.acked_head, log_head[3]);
    assert_int_equal(v.apply_from, 1);
    assert_int_equal(c.n_overlap, 0);
    assert_int_equal(c.prev_seq, 0);
    assert_null(v.field);
}

/* first = N + 1: prev_head is checked against the agent row's head. */
static void
test_next_batch(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 6, 1);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_APPLY);
    assert_int_equal(v.acked_seq, 6);
    assert_head(v.acked_head, log_head[6]);
    assert_int_equal(v.apply_from, 6);
    assert_int_equal(c.n_overlap, 0);
    assert_int_equal(c.prev_seq, 0);
}

/* 4..7 with N = 5: 4 and 5 must match stored, the head at 3 is read from
 * the store, and only 6..7 are new. */
static void
test_partial_overlap(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 4, 4);
    ingest_verdict_t v = run(&c);
    assert_int_equal(c.n_overlap, 2);
    assert_int_equal(c.prev_seq, 3);
    assert_int_equal(v.decision, INGEST_DECIDE_APPLY);
    assert_int_equal(v.apply_from, 6);
    assert_int_equal(v.acked_seq, 7);
    assert_head(v.acked_head, log_head[7]);
}

/* 1..4 with N = 2: the head before is zeros, no stored head is read. */
static void
test_partial_overlap_from_one(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 2, 1, 4);
    ingest_verdict_t v = run(&c);
    assert_int_equal(c.n_overlap, 2);
    assert_int_equal(c.prev_seq, 0);
    assert_int_equal(v.decision, INGEST_DECIDE_APPLY);
    assert_int_equal(v.apply_from, 3);
    assert_int_equal(v.acked_seq, 4);
}

/* ---- REACK ---------------------------------------------------------------- */

/* A batch entirely before N: acked at N again, no chain check. */
static void
test_entirely_applied(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 10, 3, 4);
    memset(c.head, 0x77, H);           /* not even looked at */
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_REACK);
    assert_int_equal(v.acked_seq, 10);
    assert_head(v.acked_head, log_head[10]);
    assert_int_equal(c.n_overlap, 4);
    assert_int_equal(c.prev_seq, 0);
    assert_int_equal(v.apply_from, 0);
}

/* A batch ending exactly at N (the last ack was lost). */
static void
test_resend_of_last(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 10, 8, 3);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_REACK);
    assert_int_equal(v.acked_seq, 10);
    assert_int_equal(c.n_overlap, 3);
}

/* ---- GAP ------------------------------------------------------------------ */

static void
test_gap(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 7, 2);
    memset(c.prev_head, 0x55, H);      /* a gap wins over a bad chain */
    rechain(&c);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_GAP);
    assert_int_equal(v.acked_seq, 5);
    assert_head(v.acked_head, log_head[5]);
    assert_int_equal(c.n_overlap, 0);
    assert_int_equal(c.prev_seq, 0);
}

/* Nothing applied yet, and the batch does not start at 1. */
static void
test_gap_from_zero(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 0, 2, 1);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_GAP);
    assert_int_equal(v.acked_seq, 0);
}

/* A seq far ahead (near 2^63): a gap, no overflow, nothing read. */
static void
test_far_ahead(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 3, 5, 2);
    c.first = UINT64_C(1) << 62;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_GAP);
    assert_int_equal(v.acked_seq, 3);
    assert_int_equal(c.n_overlap, 0);
    assert_int_equal(c.prev_seq, 0);
}

/* ---- EQUIVOCATION --------------------------------------------------------- */

/* Seqs 4 and 5 stored with other hashes: the lowest is named, and it
 * wins over a re-ack. */
static void
test_equivocation_lowest(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 10, 3, 4);
    c.stored_hash[5][2] ^= 1;
    c.stored_hash[4][2] ^= 1;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_EQUIVOCATION);
    assert_int_equal(v.reject_seq, 4);
    assert_string_equal(v.field, "seq");
    assert_int_equal(v.acked_seq, 0);
}

/* The batch's own first seq differs (the edge of the overlap). */
static void
test_equivocation_first(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 10, 3, 2);
    c.stored_hash[3][5] ^= 1;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_EQUIVOCATION);
    assert_int_equal(v.reject_seq, 3);
}

/* An applied seq with no stored row counts as other content. */
static void
test_equivocation_missing_row(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 10, 9, 2);
    c.stored[10] = false;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_EQUIVOCATION);
    assert_int_equal(v.reject_seq, 10);
}

/* A partial overlap whose applied part differs: refused before the
 * chain is looked at, even though the chain itself is consistent. */
static void
test_equivocation_partial(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 4, 4);
    c.hashes[1][3] ^= 1;               /* seq 5 resent with other content */
    rechain(&c);
    memcpy(c.head, c.heads[3], H);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_EQUIVOCATION);
    assert_int_equal(v.reject_seq, 5);
}

/* ---- CHAIN_BROKEN --------------------------------------------------------- */

/* The first batch must start from zeros. */
static void
test_chain_first_not_zero(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 0, 1, 2);
    c.prev_head[0] = 1;
    rechain(&c);
    memcpy(c.head, c.heads[1], H);
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_CHAIN_BROKEN);
    assert_string_equal(v.field, "prev_head");
    assert_int_equal(v.chain_seq, 0);
}

/* prev_head differs from the agent row's head at N. */
static void
test_chain_prev_at_applied(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 6, 2);
    c.applied_head[4] ^= 1;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_CHAIN_BROKEN);
    assert_string_equal(v.field, "prev_head");
    assert_int_equal(v.chain_seq, 5);
}

/* Partial overlap: the stored head at first-1 is missing or differs. */
static void
test_chain_prev_stored(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 4, 4);
    c.stored[3] = false;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_CHAIN_BROKEN);
    assert_string_equal(v.field, "prev_head");
    assert_int_equal(v.chain_seq, 3);
    make_case(&c, 5, 4, 4);
    c.prev_head[0] ^= 1;               /* the batch's claim differs */
    rechain(&c);
    memcpy(c.head, c.heads[3], H);
    v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_CHAIN_BROKEN);
    assert_string_equal(v.field, "prev_head");
}

/* The updates' chain does not end at the claimed head. */
static void
test_chain_head(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 6, 3);
    c.head[31] ^= 1;
    ingest_verdict_t v = run(&c);
    assert_int_equal(v.decision, INGEST_DECIDE_CHAIN_BROKEN);
    assert_string_equal(v.field, "head");
    assert_int_equal(v.acked_seq, 0);
    assert_null(v.acked_head);
}

/* Nothing stored wanted: stored may be NULL. */
static void
test_null_stored(void **state)
{
    (void) state;
    case_t c;
    make_case(&c, 5, 6, 2);
    ingest_decide_agent_t a = { 5, c.applied_head };
    ingest_decide_batch_t b = { 6, 2, c.prev_head, c.head, c.hashes[0],
                                c.heads[0] };
    ingest_verdict_t v;
    ingest_decide(&a, &b, NULL, &v);
    assert_int_equal(v.decision, INGEST_DECIDE_APPLY);
    b.first_seq = 9;
    ingest_decide(&a, &b, NULL, &v);
    assert_int_equal(v.decision, INGEST_DECIDE_GAP);
}

static void
test_names(void **state)
{
    (void) state;
    assert_string_equal(ingest_decision_name(INGEST_DECIDE_APPLY), "apply");
    assert_string_equal(ingest_decision_name(INGEST_DECIDE_REACK), "reack");
    assert_string_equal(ingest_decision_name(INGEST_DECIDE_GAP), "gap");
    assert_string_equal(ingest_decision_name(INGEST_DECIDE_EQUIVOCATION),
                        "equivocation");
    assert_string_equal(ingest_decision_name(INGEST_DECIDE_CHAIN_BROKEN),
                        "chain_broken");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_batch),
        cmocka_unit_test(test_next_batch),
        cmocka_unit_test(test_partial_overlap),
        cmocka_unit_test(test_partial_overlap_from_one),
        cmocka_unit_test(test_entirely_applied),
        cmocka_unit_test(test_resend_of_last),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_gap_from_zero),
        cmocka_unit_test(test_far_ahead),
        cmocka_unit_test(test_equivocation_lowest),
        cmocka_unit_test(test_equivocation_first),
        cmocka_unit_test(test_equivocation_missing_row),
        cmocka_unit_test(test_equivocation_partial),
        cmocka_unit_test(test_chain_first_not_zero),
        cmocka_unit_test(test_chain_prev_at_applied),
        cmocka_unit_test(test_chain_prev_stored),
        cmocka_unit_test(test_chain_head),
        cmocka_unit_test(test_null_stored),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, setup_log, NULL);
}
