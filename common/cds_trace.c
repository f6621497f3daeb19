/*  cds_trace: see cds_trace.h. */
#include "cds_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int trace_fd = -2; /* -2: not looked yet, -1: off */

bool
cds_trace_on(void)
{
    if (trace_fd != -2)
        return trace_fd >= 0;
    const char *path = getenv("CDS_TRACE");
    trace_fd = -1;
    if (!path || !*path)
        return false;
    trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (trace_fd < 0)
        fprintf(stderr, "CDS_TRACE: %s: %s (tracing off)\n", path,
                strerror(errno));
    return trace_fd >= 0;
}

uint64_t
cds_trace_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
cds_trace(const char *event, const char *fmt, ...)
{
    if (!cds_trace_on())
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "%llu %s ",
                     (unsigned long long)cds_trace_us(), event);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m < (int)(sizeof line - (size_t)n - 1)
             ? m
             : (int)(sizeof line - (size_t)n - 2);
    line[n++] = '\n';
    ssize_t w = write(trace_fd, line, (size_t)n); /* one line, atomic */
    (void)w;
}
