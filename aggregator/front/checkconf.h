/*  checkconf: `cdsync-aggregator --check-config` (like `nginx -t`): check
 *  everything `run` needs from the parsed configuration without starting:
 *  every [aggregator] value in range, the identity file (0600, ours, it
 *  loads), catalog.csv and orgunits.csv (every bad row named), the
 *  orgunit map and dashboard when configured, the state directory
 *  writable, the ZeroMQ and HTTP endpoints well formed. Read-only: it
 *  never creates, migrates or binds anything (cds_check.h). */
#ifndef AGG_CHECKCONF_H
#define AGG_CHECKCONF_H

#include "cds_config.h"

#include <stdbool.h>
#include <stdio.h>

/* The range `run` accepts for the integer key (an [aggregator] key), so
 * the check and a SIGHUP reload (reload.c) agree: true with *lo, *hi;
 * false for a key that is not an integer setting. */
bool checkconf_range(const char *key, long *lo, long *hi);

/* Check cfg (identity: the resolved identity path) and print one line per
 * problem to out. The number of problems (0: `run` would start). */
size_t checkconf_run(const cds_config_t *cfg, const char *identity,
                     FILE *out);

#endif
