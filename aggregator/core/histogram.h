/*  histogram: a Prometheus histogram of durations (seconds) with fixed
 *  buckets from 0.5 ms to 5 s, fed by one thread and read by another.
 *
 *  Invariant: every observation lands in exactly one bucket (the first
 *  whose bound is >= it, or +Inf); the rendered _bucket series are the
 *  cumulative sums of those counts, and _count is the +Inf bucket, so a
 *  scrape always satisfies Prometheus' rule "le=+Inf equals _count" even
 *  while the writer observes. _sum may lag the buckets by the one
 *  observation in flight. Counts live in relaxed atomics: no lock, and the
 *  reader never stalls the writer (cost measured in docs/OPERATIONS.md
 *  "Latency histograms"). */
#ifndef AGG_HISTOGRAM_H
#define AGG_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

typedef struct histogram histogram_t;

/* New, all counts 0. name and help are borrowed (string literals). NULL
 * on allocation failure. */
histogram_t *histogram_new(const char *name, const char *help);
/* Free; sets *self_p to NULL. Safe on NULL. */
void histogram_destroy(histogram_t **self_p);
/* Count one duration of ns nanoseconds. Safe on NULL (does nothing). */
void histogram_observe_ns(histogram_t *self, uint64_t ns);
/* Observations so far (the +Inf bucket). 0 on NULL. */
uint64_t histogram_count(const histogram_t *self);
/* Write # HELP, # TYPE, the _bucket{le=...} series, _sum and _count in
 * the text exposition format 0.0.4. Nothing on NULL. */
void histogram_render(const histogram_t *self, FILE *out);

#endif
