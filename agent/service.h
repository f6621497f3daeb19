/*  service: `cdsync-agent service ACTION`, the agent as a Windows service.
 *
 *  On Windows (agent/win32/service_win32.c) the actions drive the Service
 *  Control Manager: install registers the service "cdsync-agent" (automatic
 *  start, LocalSystem, restarted by the SCM after a failure) whose command
 *  line is "<this exe> service run --config <absolute config path>";
 *  uninstall stops and removes it; start and stop ask the SCM and wait,
 *  bounded, until the service is RUNNING or STOPPED; status prints its
 *  state. `service run` is what the SCM starts: the daemon (`run`) with its
 *  log in a rotating file, %ProgramData%\cdsync\logs\agent.log; the SCM's
 *  stop request becomes cds_signal_request_stop(), the same graceful stop
 *  as Ctrl-C (the in-flight batch finished, the outbox closed).
 *  On Linux there is no such service: systemd runs the agent
 *  (deploy/cdsync-agent.service); every action says so and fails.
 *  Exit codes: 0 done (status: RUNNING), 1 status: installed but not
 *  running, 2 usage (and any action on Linux), 3 not installed (status,
 *  start, stop), no administrator rights, already installed, 4 the SCM or
 *  the service failed (a start that ended at once, a stop not done in
 *  time). */
#ifndef AGENT_SERVICE_H
#define AGENT_SERVICE_H

#include "cds_cli.h"

/* The `service` command; run is the daemon's handler (`run`), called by
 * `service run` on the service's thread. The exit code. */
int agent_service(cds_cli_t *cli, cds_cli_fn *run);

#endif
