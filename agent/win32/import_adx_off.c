/*  import_adx_off: ADX import (../import_adx.h) on Windows, switched off.
 *
 *  agent/import_adx.c reads ADX with libxml2 (common/cds_adx.c), which
 *  deploy/windows/deps.sh does not build for Windows yet. Until it does,
 *  a .adx or .xml file is still recognised, and `import` refuses it with
 *  this message instead of reading it as CSV; CSV import is unchanged. */
#include "import_adx.h"
#include "cds_err.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool
import_is_adx(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    return dot && (strcasecmp(dot, ".adx") == 0 || strcasecmp(dot, ".xml") == 0);
}

int
import_adx_file(const submit_ctx_t *ctx, outbox_t *outbox, const char *path,
                FILE *errf, import_result_t *res, char *err, size_t errlen)
{
    (void) ctx;
    (void) outbox;
    (void) errf;
    memset(res, 0, sizeof *res);
    snprintf(err, errlen,
             "%s: ADX import is not available in the Windows build yet "
             "(libxml2 is not built for it); import the CSV export instead",
             path);
    return CDS_EUSAGE;
}
