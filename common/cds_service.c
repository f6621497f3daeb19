#include "cds_service.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_signal.h"
#include "cds_util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/socket.h>
#include <sys/un.h>
#endif

static struct {
    const cds_option_t *options;
    size_t n_options;
    int argc;
    char **argv;
    const char *default_path;
    const char *level_key;
    const char *const *restart_keys;   /* NULL-terminated, or NULL */
    cds_reload_fn *fn;                 /* the program's part, or NULL */
    void *arg;
    cds_config_t *started;             /* as parsed at ready (restart keys) */
    cds_config_t *last;                /* as last reloaded (live keys) */
} reload_src;

/* The notification protocol of sd_notify(3), which systemd documents as
 * stable for reimplementation: one datagram of "KEY=value" lines to the
 * AF_UNIX socket in $NOTIFY_SOCKET ('@': abstract namespace). Done here
 * instead of linking libsystemd, which would load it and six more
 * libraries into the agent (about 1.1 MiB of its idle RSS). A failure is
 * ignored as sd_notify's would be: systemd's timeouts report it. */
#ifdef _WIN32
/* No systemd: the Windows service reports to the service control manager
 * itself (agent/win32/service_win32.c). */
static void
notify(const char *fmt, ...)
{
    (void) fmt;
}
#else
static void
notify(const char *fmt, ...)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char msg[512];
    va_list ap;
    size_t n = path ? strlen(path) : 0;

    if (n < 2 || n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
        return;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t) len >= sizeof msg)
        return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, (size_t) len, MSG_NOSIGNAL, (struct sockaddr *) &sa,
               (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        (void) 0;
    close(fd);
}
#endif

/* WATCHDOG_USEC, when WATCHDOG_PID is unset or ours (sd_watchdog_enabled). */
static uint64_t
watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    char *end = NULL;
    if (!usec)
        return 0;
    if (pid && strtol(pid, &end, 10) != (long) getpid())
        return 0;
    unsigned long long v = strtoull(usec, &end, 10);
    return end && *end == '\0' && end != usec ? (uint64_t) v : 0;
}

static uint64_t watchdog_ms;           /* half of WATCHDOG_USEC; 0: off */
static uint64_t next_ping;             /* mono ms */

void
cds_service_set_reload(const cds_option_t *options, size_t n_options,
                       int argc, char **argv, const char *default_path,
                       const char *level_key)
{
    reload_src.options = options;
    reload_src.n_options = n_options;
    reload_src.argc = argc;
    reload_src.argv = argv;
    reload_src.default_path = default_path;
    reload_src.level_key = level_key;
    /* A new source: what was parsed for the old one no longer applies. */
    if (reload_src.last != reload_src.started)
        cds_config_destroy(&reload_src.last);
    cds_config_destroy(&reload_src.started);
    reload_src.last = NULL;
}

void
cds_service_on_reload(const char *const *restart_keys, cds_reload_fn *fn,
                      void *arg)
{
    reload_src.restart_keys = restart_keys;
    reload_src.fn = fn;
    reload_src.arg = arg;
}

/* The configuration as the program's argv gives it now. NULL with err. */
static cds_config_t *
parse_now(char *err, size_t errlen)
{
    char **rest = NULL;
    int n_rest = 0;
    bool help = false;
    cds_config_t *cfg = cds_config_new(reload_src.options,
                                       reload_src.n_options);
    int code = cfg ? cds_config_parse(cfg, reload_src.argc, reload_src.argv,
                                      1, reload_src.default_path, &help,
                                      &rest, &n_rest, err, errlen)
                   : CDS_ENOMEM;
    if (code != CDS_OK) {
        if (!cfg)
            snprintf(err, errlen, "out of memory");
        cds_config_destroy(&cfg);
    }
    return cfg;
}

static bool
is_restart_key(const char *key)
{
    for (const char *const *k = reload_src.restart_keys; k && *k; k++)
        if (strcmp(*k, key) == 0)
            return true;
    return false;
}

static bool
differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

/* Log every changed key of the daemon's section: a restart key against
 * the value the daemon started with (warn, not applied), any other
 * against the last reload. *restart receives the restart keys' count. */
static size_t
log_changes(const cds_config_t *fresh, size_t *restart)
{
    const char *dot = strchr(reload_src.level_key, '.');
    size_t plen = dot ? (size_t) (dot - reload_src.level_key) + 1 : 0;
    size_t changed = 0;
    *restart = 0;
    for (size_t i = 0; i < reload_src.n_options; i++) {
        const char *key = reload_src.options[i].key;
        if (strncmp(key, reload_src.level_key, plen) != 0)
            continue;                  /* a per-command flag */
        const char *now = cds_config_get(fresh, key);
        if (is_restart_key(key)) {
            const char *was = cds_config_get(reload_src.started, key);
            if (!differs(was, now))
                continue;
            cds_log(CDS_LOG_WARN, "reload_requires_restart",
                    "key=%s running=%s configured=%s note=\"requires restart:"
                    " %s, not applied\"", key + plen, cds_logq(was),
                    cds_logq(now), key + plen);
            (*restart)++;
        } else {
            const char *was = cds_config_get(reload_src.last, key);
            if (!differs(was, now))
                continue;
            cds_log(CDS_LOG_INFO, "reload_changed", "key=%s old=%s new=%s",
                    key + plen, cds_logq(was), cds_logq(now));
            changed++;
        }
    }
    return changed;
}

/* A fresh parse, so a file that fails leaves everything running as is;
 * otherwise the log level, the changes logged, the program's part. */
static void
reload(void)
{
    char err[512] = "";
    cds_log_level_t level;
    cds_config_t *fresh = parse_now(err, sizeof err);
    const char *name = fresh ? cds_config_get(fresh, reload_src.level_key)
                             : NULL;
    if (fresh && cds_log_level_parse(name, &level) != 0) {
        snprintf(err, sizeof err, "log_level: \"%s\": expected debug, info, "
                 "warn or error", name ? name : "");
        cds_config_destroy(&fresh);
    }
    if (!fresh) {
        cds_log(CDS_LOG_ERROR, "reload", "result=failed error=%s "
                "note=\"kept the running configuration\"", cds_logq(err));
        return;
    }
    if (!reload_src.started)           /* could not parse it at ready */
        reload_src.started = cds_config_new(reload_src.options,
                                            reload_src.n_options);
    if (!reload_src.last)
        reload_src.last = reload_src.started;
    if (!reload_src.started) {
        cds_config_destroy(&fresh);
        cds_log(CDS_LOG_ERROR, "reload", "result=failed error=%s",
                cds_logq("out of memory"));
        return;
    }
    /* The lines must show whatever the new level: info is let through
     * for them (another thread may slip one more line in). */
    cds_log_set_level(level < CDS_LOG_INFO ? level : CDS_LOG_INFO);
    size_t restart = 0, changed = log_changes(fresh, &restart);
    int rc = reload_src.fn ? reload_src.fn(fresh, reload_src.arg) : 0;
    cds_log(rc == 0 ? CDS_LOG_INFO : CDS_LOG_ERROR, "reload",
            "result=%s log_level=%s changed=%zu restart_needed=%zu",
            rc == 0 ? "ok" : "partial", cds_logq(name), changed, restart);
    cds_log_set_level(level);
    if (reload_src.last != reload_src.started)
        cds_config_destroy(&reload_src.last);
    reload_src.last = fresh;
}

void
cds_service_ready(const char *status)
{
    uint64_t usec = watchdog_usec();
    char err[512];
    if (reload_src.options && !reload_src.started)
        reload_src.started = reload_src.last = parse_now(err, sizeof err);
    if (reload_src.options)
        cds_signal_catch_reload();
    if (usec >= 2000) {
        watchdog_ms = usec / 2000;
        next_ping = cds_mono_ms() + watchdog_ms;
    }
    notify("READY=1\nSTATUS=%s", status ? status : "");
    if (watchdog_ms)
        notify("WATCHDOG=1");
}

void
cds_service_status(const char *status)
{
    notify("STATUS=%s", status ? status : "");
}

void
cds_service_stopping(void)
{
    notify("STOPPING=1");
}

void
cds_service_tick(void)
{
    if (reload_src.options && cds_signal_take_reload())
        reload();
    if (watchdog_ms && cds_mono_ms() >= next_ping) {
        notify("WATCHDOG=1");
        next_ping = cds_mono_ms() + watchdog_ms;
    }
}

long
cds_service_poll_ms(long timeout_ms)
{
    if (!watchdog_ms)
        return timeout_ms;
    uint64_t now = cds_mono_ms();
    long left = next_ping > now ? (long) (next_ping - now) : 0;
    return timeout_ms < 0 || left < timeout_ms ? left : timeout_ms;
}
