/*  cds_harden: process hardening for programs that hold secret keys.
 *
 *  A core dump or a ptrace attach by another process of the same user
 *  would expose the identity's secret keys (they live in sodium_malloc'd
 *  memory, wiped on destroy, but a crash dump is taken before that).
 *  Invariant: after cds_harden_process() returns CDS_OK, the process
 *  writes no core file (RLIMIT_CORE soft and hard = 0) and is not
 *  dumpable (PR_SET_DUMPABLE 0: no core, no ptrace by non-root, /proc
 *  files owned by root); both are inherited across fork. */
#ifndef CDS_HARDEN_H
#define CDS_HARDEN_H

#include <stdbool.h>

/* Disable core dumps and make the process non-dumpable. CDS_OK, or CDS_EIO
 * when either call failed (logged with the reason). */
int cds_harden_process(void);
/* True when the process can produce a core dump (for tests and `status`):
 * RLIMIT_CORE soft limit > 0 or dumpable. */
bool cds_harden_core_possible(void);

#endif
