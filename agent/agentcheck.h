/*  agentcheck: `cdsync-agent --check-config` (like `nginx -t`): check
 *  everything `run` (and submit/import/status) need from the parsed
 *  configuration without starting: every [agent] value in range, the
 *  identity file (0600, ours, it loads), the aggregator's endpoint and
 *  key, catalog.csv (every bad row named), the state directory writable.
 *  Read-only: it never creates, migrates or connects (cds_check.h). */
#ifndef AGENT_AGENTCHECK_H
#define AGENT_AGENTCHECK_H

#include "cds_config.h"

#include <stdio.h>

/* The ranges of the [agent] numbers, shared with main.c so `run` and the
 * check accept the same values. The first AGENTCHECK_RUN_KEYS are run's
 * sender settings in main.c's order (run_config). */
typedef struct {
    const char *key;
    long long lo, hi;     /* long is 32 bits on Windows */
} agentcheck_range_t;
#define AGENTCHECK_RUN_KEYS 8
#define AGENTCHECK_N_RANGES 13
/* Index of agent.keep_days (agent.keep_max_mb follows). */
#define AGENTCHECK_KEEP_DAYS 11
extern const agentcheck_range_t agentcheck_ranges[AGENTCHECK_N_RANGES];

/* Check cfg (identity: the resolved identity path) and print one line per
 * problem to out. The number of problems (0: `run` would start). */
size_t agentcheck_run(const cds_config_t *cfg, const char *identity,
                      FILE *out);

#endif
