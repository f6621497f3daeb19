/*  cds_hlc: hybrid logical clock, packed form of Kulkarni et al. 2014.
 *
 *  With l = ms and c = counter packed as (l << 16) | c, the paper's rules
 *  reduce to "the next timestamp is the largest of: wall time with counter
 *  0, last + 1 (and remote + 1 on receive)". A counter overflow carries
 *  into the ms part, which keeps the clock monotonic at the cost of
 *  running 1 ms ahead after 65536 events in one ms. 48 bits of ms last
 *  until the year 10889. Bounding how far ahead a remote clock may be is
 *  the caller's job, before cds_hlc_observe (the aggregator clamps
 *  stamps instead, aggregator/core/ingest.h "effective stamp"). */
#include "cds_hlc.h"
#include "cds_util.h"

#include <stdio.h>

#define HLC_SHIFT 16
#define HLC_MS_MAX ((UINT64_C(1) << (64 - HLC_SHIFT)) - 1)

static uint64_t
succ(uint64_t t)
{
    return t == UINT64_MAX ? t : t + 1;  /* saturate; unreachable in 8e3 y */
}

static uint64_t
from_wall(uint64_t wall_ms)
{
    return (wall_ms > HLC_MS_MAX ? HLC_MS_MAX : wall_ms) << HLC_SHIFT;
}

void
cds_hlc_init(cds_hlc_t *self, uint64_t last)
{
    self->last = last;
}

uint64_t
cds_hlc_now(cds_hlc_t *self, uint64_t wall_ms)
{
    uint64_t wall = from_wall(wall_ms), next = succ(self->last);
    self->last = wall > next ? wall : next;
    return self->last;
}

uint64_t
cds_hlc_observe(cds_hlc_t *self, uint64_t remote, uint64_t wall_ms)
{
    uint64_t wall = from_wall(wall_ms), next = succ(self->last);
    uint64_t after_remote = succ(remote);
    if (after_remote > next)
        next = after_remote;
    self->last = wall > next ? wall : next;
    return self->last;
}

uint64_t
cds_hlc_last(const cds_hlc_t *self)
{
    return self->last;
}

uint64_t
cds_hlc_ms(uint64_t hlc)
{
    return hlc >> HLC_SHIFT;
}

char *
cds_hlc_format(uint64_t hlc, char *out, size_t len)
{
    char ts[40];
    unsigned counter = (unsigned) (hlc & ((1u << HLC_SHIFT) - 1));
    cds_format_time(ts, sizeof ts, cds_hlc_ms(hlc));
    int n = counter ? snprintf(out, len, "%s+%u", ts, counter)
                    : snprintf(out, len, "%s", ts);
    if ((n < 0 || (size_t) n >= len) && len > 0)
        out[0] = '\0';         /* never hand back a truncated timestamp */
    return out;
}
