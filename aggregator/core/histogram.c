/*  histogram: see histogram.h. Hand-written: Debian packages no Prometheus
 *  client library for C (bookworm has prometheus-cpp, C++ only, which
 *  would bring its own HTTP server and registry; we already serve
 *  /metrics from libmicrohttpd). A histogram is an array of counters and
 *  a sum, rendered as text, which needs no more than this. */
#include "histogram.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Upper bounds in nanoseconds: 0.5 ms .. 5 s, about 2.5x apart. A group
 * commit with fsync takes 1-20 ms on a disk, an ack a few ms more; the
 * top buckets catch a starved disk or a writer held by a lock. */
static const uint64_t bound_ns[] = {
    500000ull, 1000000ull, 2500000ull, 5000000ull, 10000000ull,
    25000000ull, 50000000ull, 100000000ull, 250000000ull, 500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull,
};
#define N_BOUNDS (sizeof bound_ns / sizeof bound_ns[0])

struct histogram {
    const char *name, *help;           /* borrowed literals */
    atomic_uint_fast64_t bucket[N_BOUNDS + 1]; /* per bucket, last: +Inf */
    atomic_uint_fast64_t sum_ns;       /* sum of observations */
};

histogram_t *
histogram_new(const char *name, const char *help)
{
    histogram_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->name = name;
    self->help = help;
    for (size_t i = 0; i <= N_BOUNDS; i++)
        atomic_init(&self->bucket[i], 0);
    atomic_init(&self->sum_ns, 0);
    return self;
}

void
histogram_destroy(histogram_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void
histogram_observe_ns(histogram_t *self, uint64_t ns)
{
    if (!self)
        return;
    size_t i = 0;
    while (i < N_BOUNDS && ns > bound_ns[i])
        i++;
    atomic_fetch_add_explicit(&self->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->sum_ns, ns, memory_order_relaxed);
}

uint64_t
histogram_count(const histogram_t *self)
{
    uint64_t n = 0;
    for (size_t i = 0; self && i <= N_BOUNDS; i++)
        n += atomic_load_explicit(&self->bucket[i], memory_order_relaxed);
    return n;
}

void
histogram_render(const histogram_t *self, FILE *out)
{
    if (!self)
        return;
    fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", self->name,
            self->help, self->name);
    uint64_t cum = 0;
    for (size_t i = 0; i <= N_BOUNDS; i++) {
        cum += atomic_load_explicit(&self->bucket[i], memory_order_relaxed);
        if (i < N_BOUNDS)
            fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", self->name,
                    (double) bound_ns[i] / 1e9, (unsigned long long) cum);
        else
            fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", self->name,
                    (unsigned long long) cum);
    }
    uint64_t sum = atomic_load_explicit(&self->sum_ns, memory_order_relaxed);
    fprintf(out, "%s_sum %.9f\n%s_count %llu\n", self->name,
            (double) sum / 1e9, self->name, (unsigned long long) cum);
}
