/*  cds_hlc: hybrid logical clock (Kulkarni et al. 2014).
 *
 *  A timestamp is a uint64: (wall milliseconds << 16) | counter. It never
 *  goes backwards for one clock, even if the wall clock does, and stays
 *  close to wall time, so "last writer wins" means what people expect. The
 *  caller persists cds_hlc_last() and restores it with cds_hlc_init() so
 *  the clock is monotonic across restarts. */
#ifndef CDS_HLC_H
#define CDS_HLC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t last;             /* highest timestamp issued or seen */
} cds_hlc_t;

/* Start from a persisted last value (0 for a new clock). */
void cds_hlc_init(cds_hlc_t *self, uint64_t last);
/* New timestamp for a local event at wall time wall_ms. */
uint64_t cds_hlc_now(cds_hlc_t *self, uint64_t wall_ms);
/* Merge a timestamp received from a peer; returns the new local time. */
uint64_t cds_hlc_observe(cds_hlc_t *self, uint64_t remote, uint64_t wall_ms);
/* Highest timestamp so far. */
uint64_t cds_hlc_last(const cds_hlc_t *self);
/* Wall milliseconds part of a timestamp. */
uint64_t cds_hlc_ms(uint64_t hlc);
/* "2026-11-28T05:13:47.123Z+3" (counter after '+', omitted when 0). */
char *cds_hlc_format(uint64_t hlc, char *out, size_t len);

#endif
