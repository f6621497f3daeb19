/*  bench_util: helpers shared by the benchmark tools in tests/bench/ (not
 *  part of the product; `make bench` builds them into build/bench/).
 *
 *  Invariant: every tool generates the same update for the same (org unit,
 *  i), so the SQL limits, the end-to-end runs and the Mosquitto pipeline
 *  write comparable rows: key (org unit, "BI%04d" indicator, monthly period
 *  from 1900-01, "default"), a small integer value and a ~60-byte comment
 *  (about 100 bytes of non-key payload per row). The bench catalog
 *  (tests/bench/bench.sh) declares indicators BI0000..BI0999 as INTEGER. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_INDICATORS 1000          /* BI0000..BI0999 in the catalog */
#define BENCH_FIELD 96                 /* room for one generated field */

/* Text fields of one generated update. */
typedef struct {
    char indicator[24];
    char period[32];
    char value[24];
    char comment[BENCH_FIELD];
} bench_row_t;

/* Monotonic clock in nanoseconds. */
static inline uint64_t
bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Wall clock in nanoseconds (comparable across processes, `date +%s%N`). */
static inline uint64_t
bench_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Fill r with the i-th generated update (same text as bench.sh's CSV). */
static inline void
bench_row(bench_row_t *r, uint64_t i)
{
    uint64_t m = i / BENCH_INDICATORS;
    snprintf(r->indicator, sizeof r->indicator, "BI%04u",
             (unsigned) (i % BENCH_INDICATORS));
    snprintf(r->period, sizeof r->period, "%04u%02u",
             (unsigned) (1900 + m / 12), (unsigned) (m % 12 + 1));
    snprintf(r->value, sizeof r->value, "%u", (unsigned) ((i * 7) % 100000));
    snprintf(r->comment, sizeof r->comment,
             "bench row %llu, generated to give each update ~100 bytes",
             (unsigned long long) i);
}

static inline int
bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/* Sort v[0..n) and return the q-quantile (0..1), nearest rank. */
static inline uint64_t
bench_quantile(uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_u64);
    size_t k = (size_t) (q * (double) n);
    return v[k >= n ? n - 1 : k];
}

/* Peak and current resident set (KiB) of pid from /proc/PID/status;
 * -1 when unreadable. */
static inline void
bench_rss_kib(long pid, long *rss, long *hwm)
{
    char path[64], line[256];
    *rss = *hwm = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

#endif
