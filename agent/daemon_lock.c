/*  daemon_lock: see daemon_lock.h. flock rather than a pid file: the
 *  kernel releases it with the process, so there is no stale lock to
 *  judge after a crash. */
#include "daemon_lock.h"

#include "cds_err.h"
#include "cds_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int
lock_path(const char *state_dir, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/agent.lock", state_dir);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
daemon_lock_take(const char *state_dir, int *fd)
{
    char path[512];
    if (lock_path(state_dir, path, sizeof path) != 0)
        return CDS_EIO;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0) {
        cds_log(CDS_LOG_ERROR, "lock_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        return CDS_EIO;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f);
        if (e == EWOULDBLOCK)
            return CDS_EBUSY;
        cds_log(CDS_LOG_ERROR, "lock_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(e)));
        return CDS_EIO;
    }
    *fd = f;
    return CDS_OK;
}

bool
daemon_lock_held(const char *state_dir)
{
    char path[512];
    if (lock_path(state_dir, path, sizeof path) != 0)
        return false;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return false;                  /* never ran here */
    bool held = flock(f, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(f);
    return held;
}
