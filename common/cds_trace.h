/*  cds_trace: per-update timestamps for measurement (issue 19 item 2,
 *  docs/PERFORMANCE.md "One update, step by step").
 *
 *  Off unless the environment variable CDS_TRACE names a file when the
 *  process first asks (cds_trace_on). When on, each cds_trace call
 *  appends one line to that file with a single write(2) on an O_APPEND
 *  descriptor, so several processes (the agent, the aggregator, the
 *  bench's loader) can share one file without interleaving lines:
 *
 *      US EVENT key=value ...
 *
 *  US is CLOCK_MONOTONIC in microseconds: on Linux that clock is one for
 *  the whole machine, so times of two processes on one host subtract.
 *  Events and their fields are listed where they are emitted (agent
 *  sender.c / session.c, aggregator server.c, tests/bench/bench_agents.c)
 *  and read by tests/bench/trace_steps.py.
 *
 *  Cost when off: cds_trace_on() is one test of a static once the first
 *  call has looked at the environment; callers test it before formatting.
 *  The first call must not race with another thread's (each user calls it
 *  from its one sending/writing thread). Not for production: a failed
 *  write is ignored, nothing is rotated. */
#ifndef CDS_TRACE_H
#define CDS_TRACE_H

#include <stdbool.h>
#include <stdint.h>

/* True when CDS_TRACE named a file that could be opened (looked at once;
 * a file that cannot be opened is said once on stderr, tracing off). */
bool cds_trace_on(void);
/* CLOCK_MONOTONIC now, in microseconds (the unit of every trace time). */
uint64_t cds_trace_us(void);
/* Append "US EVENT fmt...\n" with US = cds_trace_us(); nothing when off.
 * event is a snake_case token; fmt gives space-separated key=value. */
void cds_trace(const char *event, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
