/*  cds_service: what a daemon owes its service manager (systemd).
 *
 *  Readiness: cds_service_ready() sends READY=1 and a STATUS= line once the
 *  daemon serves (units are Type=notify). Watchdog: when systemd set
 *  WATCHDOG_USEC (WatchdogSec=), the main loop bounds its poll timeout with
 *  cds_service_poll_ms() and calls cds_service_tick() every turn, which
 *  sends WATCHDOG=1 every half period: a loop stuck anywhere (database,
 *  deadlock) stops the pings and systemd restarts the daemon. Reload: on
 *  SIGHUP (cds_signal.h) the same tick re-reads the configuration exactly
 *  as at start (same argv, so flags still beat the file). A file that
 *  does not parse, or a bad log level, changes nothing (event=reload
 *  result=failed). Otherwise: the log level applies; every changed key of
 *  the daemon's section is logged, a restart key (cds_service_on_reload)
 *  at warn "requires restart" against the value the daemon started with,
 *  and is not applied; then the program's reload function applies what it
 *  can live (catalog, thresholds...), keeping the running thing for any
 *  part that fails; event=reload result=ok|partial ends it. No connection
 *  drops. Without NOTIFY_SOCKET every notification is a no-op.
 *  All functions are for the main thread only. */
#ifndef CDS_SERVICE_H
#define CDS_SERVICE_H

#include "cds_config.h"

#include <stddef.h>

/* What a reload re-reads: the program's option table, its argv (borrowed:
 * main's, valid for the process's life), the default config path and the
 * log level key. Harmless for one-shot commands: SIGHUP is only caught
 * from cds_service_ready() on (before, it still ends the process). */
void cds_service_set_reload(const cds_option_t *options, size_t n_options,
                            int argc, char **argv, const char *default_path,
                            const char *level_key);
/* The program's part of a reload, on the main thread inside
 * cds_service_tick() (its loop's safe point), with the freshly parsed
 * configuration (borrowed for the call). 0, or -1 when a part could not
 * be applied (it logged which and kept the running one). */
typedef int (cds_reload_fn)(const cds_config_t *fresh, void *arg);
/* Keys only a restart applies (NULL-terminated array, borrowed, NULL:
 * none) and the program's reload function (NULL: log level only). Call
 * with NULLs before what arg points to goes away. */
void cds_service_on_reload(const char *const *restart_keys,
                           cds_reload_fn *fn, void *arg);
/* READY=1 and STATUS=<status>; reads the watchdog period; catches SIGHUP
 * (cds_signal_catch_reload) when a reload source was set, and parses the
 * configuration the daemon starts with (restart keys compare to it). Call after
 * cds_signal_install(), when the loop is about to start. */
void cds_service_ready(const char *status);
/* STATUS=<status> (a short state line for `systemctl status`). */
void cds_service_status(const char *status);
/* STOPPING=1: the stop is under way (logged "stopping" too by callers). */
void cds_service_stopping(void);
/* Once per loop turn: a pending SIGHUP reload, a watchdog ping when due. */
void cds_service_tick(void);
/* timeout_ms (-1: none) cut to the next watchdog ping. */
long cds_service_poll_ms(long timeout_ms);

#endif
