/*  daemon: `cdsync-agent run` after its setup (daemon.c). */
#ifndef AGENT_DAEMON_H
#define AGENT_DAEMON_H

#include "cds_config.h"
#include "cds_id.h"
#include "outbox.h"
#include "sender.h"

/* The sender's configuration from [agent], each number range-checked
 * (agentcheck.h). 0 or exit 3 (message printed). Borrows cfg's strings. */
int daemon_config(const cds_config_t *cfg, sender_config_t *sc);
/* Send until a stop, reloading on SIGHUP. 0, or the exit code. */
int daemon_run(sender_config_t *sc, cds_identity_t *id, outbox_t *ob);

#endif
