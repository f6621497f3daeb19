/*  cds_failpoint: crash points for the fault-injection suite, compiled only
 *  into test builds (make FAILPOINTS=1, which defines CDS_FAILPOINTS and
 *  builds under build/fp). In every other build CDS_FAILPOINT() is empty and
 *  the environment is never read.
 *
 *  In a test build, CDS_FAILPOINT=name[:n] in the environment makes the
 *  process die at the n-th (default 1st) pass through CDS_FAILPOINT("name"),
 *  with _exit(137) — no atexit handlers, no flush, no SQLite close: what a
 *  kill -9 at exactly that line would leave. Invariant: a failpoint never
 *  changes behaviour except by ending the process. */
#ifndef CDS_FAILPOINT_H
#define CDS_FAILPOINT_H

#ifdef CDS_FAILPOINTS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Die here if the environment names this failpoint and its count is due. */
static inline void
cds_failpoint_hit(const char *name)
{
    static int hits;
    const char *e = getenv("CDS_FAILPOINT");
    size_t len = strlen(name);
    if (!e || strncmp(e, name, len) != 0 || (e[len] != '\0' && e[len] != ':'))
        return;
    int n = e[len] == ':' ? atoi(e + len + 1) : 1;
    if (++hits < (n > 0 ? n : 1))
        return;
    static const char msg[] = "failpoint: crashing here\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(137);
    _exit(137);
}
#define CDS_FAILPOINT(name) cds_failpoint_hit(name)
#else
#define CDS_FAILPOINT(name) ((void)0)
#endif

#endif
