/*  daemon: `cdsync-aggregator run` after its setup (daemon.c). */
#ifndef AGG_DAEMON_H
#define AGG_DAEMON_H

#include "cds_catalog.h"
#include "cds_cli.h"
#include "cds_id.h"
#include "health.h"
#include "store.h"

/* Serve until a stop: integrity check, commit mark, ingest, health, HTTP,
 * the ROUTER socket. *cat is the running catalog (a SIGHUP reload may
 * replace it). 0 or an exit code (message printed). */
int daemon_serve(cds_cli_t *cli, const cds_identity_t *id,
                 cds_catalog_t **cat, store_t *store, long group_max);
/* The soft RLIMIT_NOFILE raised to the hard one (logged; a refusal too). */
void daemon_raise_nofile(void);
/* The health thresholds of [aggregator] (also `health`'s). 0 or exit 3
 * (message printed). */
int daemon_thresholds(cds_cli_t *cli, health_thresholds_t *th);

#endif
