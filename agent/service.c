/*  service on Linux (service.h): systemd runs the agent, so every
 *  `service` action names the unit to use and fails (exit 2). The Windows
 *  service is agent/win32/service_win32.c (the Windows build leaves this
 *  file out: deploy/windows/windows.mk). */
#include "service.h"

#include "cds_err.h"

int
agent_service(cds_cli_t *cli, cds_cli_fn *run)
{
    (void) cli;
    (void) run;
    return cds_cli_fail(CDS_EXIT_USAGE,
                        "service: the Windows service only; on Linux systemd "
                        "runs the agent: install deploy/cdsync-agent.service "
                        "(`make install` does) and use `systemctl enable "
                        "--now cdsync-agent`, `systemctl stop cdsync-agent`, "
                        "`systemctl status cdsync-agent`");
}
