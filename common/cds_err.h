/*  cds_err: the one error/reason code space of cdsync.
 *
 *  The same codes are returned by library functions, written to the
 *  rejection log, and sent on the wire in Ack.rejections[].code and
 *  HelloAnswer.error, so their NUMBERS ARE PART OF THE PROTOCOL: append new
 *  codes at the end, never renumber. Each code has a stable snake_case name
 *  (what operators see and filter on) and is either transient (retry) or
 *  permanent. */
#ifndef CDS_ERR_H
#define CDS_ERR_H

#include <stdbool.h>

typedef enum {
    CDS_OK = 0,
    CDS_ERROR = 1,             /* internal error (details logged) */
    CDS_EIO = 2,               /* file or database I/O failed */
    CDS_ENOMEM = 3,
    CDS_ETOOBIG = 4,           /* over a size or count bound */
    CDS_EMALFORMED = 5,        /* bytes do not decode */
    CDS_EVERSION = 6,          /* unsupported protocol version */
    CDS_EBADSIG = 7,           /* signature does not verify */
    CDS_EUNKNOWNKEY = 8,       /* signer is not enrolled */
    CDS_EREVOKED = 9,          /* signer was revoked */
    CDS_EKEYMISMATCH = 10,     /* batch names another key than its signer */
    CDS_ENOTALLOWED = 11,      /* org unit not enrolled for this key */
    CDS_EUNKNOWNINDICATOR = 12,
    CDS_EUNKNOWNORGUNIT = 13,
    CDS_EBADPERIOD = 14,
    CDS_EBADVALUE = 15,        /* value does not fit the indicator's type */
    CDS_ERANGE = 16,           /* value outside the indicator's bounds */
    CDS_EBADFIELD = 17,        /* other field problem: length, UTF-8, empty */
    CDS_EEQUIVOCATION = 18,    /* same (agent, seq) resent with other content */
    CDS_ECHAIN = 19,           /* hash chain does not continue */
    CDS_EBUSY = 20,            /* transient: try again later */
    CDS_EFULL = 21,            /* transient: disk or queue full */
    CDS_ECORRUPT = 22,         /* database failed an integrity check */
    CDS_EPERM = 23,            /* file permissions wrong (secret readable) */
    CDS_ENOTFOUND = 24,
    CDS_EFUTURE = 25,          /* timestamp too far in the future */
    CDS_EUSAGE = 26,           /* bad command line or config */
    CDS_EBADSEQ = 27,          /* seq range inconsistent with its updates */
    CDS_EUNITCLOSED = 28,      /* org unit does not exist in the period */
    CDS_ELOCKED = 29,          /* period approved: held for an admin's review */
    CDS__COUNT
} cds_err_t;

/* Stable snake_case name of code ("bad_signature"); "unknown" if out of range. */
const char *cds_strerror(int code);
/* One human sentence describing the code. Borrowed. */
const char *cds_err_describe(int code);
/* True when the failure is transient and the sender should retry. */
bool cds_err_retryable(int code);
/* Code for a name as printed by cds_strerror(); -1 if unknown. */
int cds_err_from_name(const char *name);

/* Process exit codes shared by cdsync-agent and cdsync-aggregator
 * (docs/cli.md). `status` and `health` exit with the Nagios codes instead. */
enum {
    CDS_EXIT_OK = 0,
    CDS_EXIT_INPUT = 1,        /* the data or a named thing is wrong */
    CDS_EXIT_USAGE = 2,        /* command line: unknown flag, missing operand */
    CDS_EXIT_CONFIG = 3,       /* configuration value, identity, permissions */
    CDS_EXIT_RUNTIME = 4       /* database, I/O, memory, busy, listen */
};
/* The exit code for a command that failed with code: the one mapping both
 * programs use, so the same failure exits the same way in each. */
int cds_exit_code(int code);

#endif
