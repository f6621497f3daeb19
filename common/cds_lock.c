#include "cds_lock.h"
#include "cds_err.h"
#include "cds_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int
cds_lock_take(const char *path, int *fd)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int e = 0;
    if (f < 0)
        e = errno;
    else if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        close(f);
        if (e == EWOULDBLOCK)
            return CDS_EBUSY;
    }
    if (e) {
        cds_log(CDS_LOG_ERROR, "lock_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(e)));
        return CDS_EIO;
    }
    *fd = f;
    return CDS_OK;
}
