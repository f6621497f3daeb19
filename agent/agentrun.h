/*  agentrun: `cdsync-agent run` after its setup (agentrun.c). */
#ifndef AGENT_AGENTRUN_H
#define AGENT_AGENTRUN_H

#include "cds_config.h"
#include "cds_id.h"
#include "outbox.h"
#include "sender.h"

/* The sender's configuration from [agent], each number range-checked
 * (agentcheck.h). 0 or exit 3 (message printed). Borrows cfg's strings. */
int agentrun_config(const cds_config_t *cfg, sender_config_t *sc);
/* Send until a stop, reloading on SIGHUP. 0, or the exit code. */
int agentrun_send(sender_config_t *sc, cds_identity_t *id, outbox_t *ob);

#endif
