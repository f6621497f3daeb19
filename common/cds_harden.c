/*  cds_harden: see cds_harden.h. */
#include "cds_harden.h"

#include "cds_err.h"
#include "cds_log.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int
cds_harden_process(void)
{
    int rc = CDS_OK;
    struct rlimit zero = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &zero) != 0) {
        cds_log(CDS_LOG_WARN, "harden_failed", "what=rlimit_core error=%s",
                cds_logq(strerror(errno)));
        rc = CDS_EIO;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        cds_log(CDS_LOG_WARN, "harden_failed", "what=dumpable error=%s",
                cds_logq(strerror(errno)));
        rc = CDS_EIO;
    }
    return rc;
}

bool
cds_harden_core_possible(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0)
        return true;
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;
}
