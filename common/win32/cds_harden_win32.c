/*  cds_harden on Windows: see ../cds_harden.h for the contract.
 *
 *  A crashing Windows program writes a dump only where Windows Error
 *  Reporting's LocalDumps key asks for one (off by default) and otherwise
 *  shows a dialog a service cannot answer. The process asks for neither:
 *  no fault dialogs (SetErrorMode). Whether an administrator configured
 *  LocalDumps is not read, so core_possible answers false: a gap noted in
 *  docs/WINDOWS.md. */
#include "cds_harden.h"

#include "cds_compat.h"
#include "cds_err.h"

int
cds_harden_process(void)
{
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    return CDS_OK;
}

bool
cds_harden_core_possible(void)
{
    return false;
}
