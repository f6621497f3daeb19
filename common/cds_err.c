/*  cds_err: names, sentences and retry class of the cds_err_t codes.
 *  The table is indexed by code; its order must follow cds_err.h exactly
 *  (the unit test checks every name round-trips). */
#include "cds_err.h"

#include <string.h>

typedef struct {
    const char *name;     /* stable snake_case name, seen by operators */
    const char *sentence; /* one human sentence */
} err_info_t;

static const err_info_t errors[CDS__COUNT] = {
    [CDS_OK] = {"ok", "Success."},
    [CDS_ERROR] = {"internal", "Internal error; see the log for details."},
    [CDS_EIO] = {"io", "A file or database read or write failed."},
    [CDS_ENOMEM] = {"no_memory", "Out of memory."},
    [CDS_ETOOBIG] = {"too_big", "Input is over a size or count limit."},
    [CDS_EMALFORMED] = {"malformed", "Input bytes do not decode."},
    [CDS_EVERSION] = {"bad_version", "Unsupported protocol or schema version."},
    [CDS_EBADSIG] = {"bad_signature", "The signature does not verify."},
    [CDS_EUNKNOWNKEY] = {"unknown_key", "The signing key is not enrolled."},
    [CDS_EREVOKED] = {"revoked", "The signing key has been revoked."},
    [CDS_EKEYMISMATCH] = {"key_mismatch",
                          "The batch names a different key than its signer."},
    [CDS_ENOTALLOWED] = {"org_unit_not_allowed",
                         "The key is not enrolled for this org unit."},
    [CDS_EUNKNOWNINDICATOR] = {"unknown_indicator",
                               "The indicator code is not in the catalog."},
    [CDS_EUNKNOWNORGUNIT] = {"unknown_org_unit", "The org unit is not known."},
    [CDS_EBADPERIOD] = {"bad_period",
                        "The period is not valid for the indicator."},
    [CDS_EBADVALUE] = {"bad_value",
                       "The value does not fit the indicator's type."},
    [CDS_ERANGE] = {"out_of_range",
                    "The value is outside the indicator's bounds."},
    [CDS_EBADFIELD] = {"bad_field",
                       "A field is empty, too long or not valid UTF-8."},
    [CDS_EEQUIVOCATION] =
        {"equivocation",
         "The same sequence number was resent with other content."},
    [CDS_ECHAIN] = {"chain_broken", "The hash chain does not continue."},
    [CDS_EBUSY] = {"busy", "Busy; try again later."},
    [CDS_EFULL] = {"full", "Disk or queue is full; try again later."},
    [CDS_ECORRUPT] = {"corrupt", "The database failed an integrity check."},
    [CDS_EPERM] =
        {"permissions",
         "File permissions are wrong (a secret is readable by others)."},
    [CDS_ENOTFOUND] = {"not_found", "Not found."},
    /* No longer sent (clamped instead, aggregator/core/ingest.h); kept so old
     * history rows and old peers still read. */
    [CDS_EFUTURE] = {"future_timestamp",
                     "The timestamp is too far in the future."},
    [CDS_EUSAGE] = {"usage", "Bad command line or configuration."},
    [CDS_EBADSEQ] = {"bad_seq",
                     "The sequence range is inconsistent with its updates."},
    [CDS_EUNITCLOSED] = {"org_unit_closed",
                         "The org unit does not exist in this period."},
    [CDS_ELOCKED] = {"period_locked",
                     "The period was approved: the value is held until an "
                     "admin accepts or refuses it."},
};

const char *
cds_strerror(int code)
{
    if (code < 0 || code >= CDS__COUNT)
        return "unknown";
    return errors[code].name;
}

const char *
cds_err_describe(int code)
{
    if (code < 0 || code >= CDS__COUNT)
        return "Unknown error code.";
    return errors[code].sentence;
}

bool
cds_err_retryable(int code)
{
    return code == CDS_EBUSY || code == CDS_EFULL || code == CDS_EIO ||
           code == CDS_ENOMEM;
}

int
cds_err_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < CDS__COUNT; i++)
        if (strcmp(errors[i].name, name) == 0)
            return i;
    return -1;
}

int
cds_exit_code(int code)
{
    switch (code) {
    case CDS_OK:
        return CDS_EXIT_OK;
    case CDS_EUSAGE:
        return CDS_EXIT_USAGE;
    case CDS_EPERM:
        return CDS_EXIT_CONFIG;
    case CDS_ERROR: case CDS_EIO: case CDS_ENOMEM: case CDS_EBUSY:
    case CDS_EFULL: case CDS_ECORRUPT: case CDS_EVERSION:
        return CDS_EXIT_RUNTIME;
    default:
        /* Every other code names something wrong in what was given (a
         * value, a key, a file's content, an id): bad input. Out of range
         * is our bug, not the user's. */
        return code > 0 && code < CDS__COUNT ? CDS_EXIT_INPUT
                                             : CDS_EXIT_RUNTIME;
    }
}
