/*  dhis2push: `push-dhis2`, the consolidated values posted to a DHIS2
 *  instance's /api/dataValueSets (issue 17).
 *
 *  What is sent is exactly `export --format dhis2-json` with the same
 *  filters, ids and --include-deleted (export.h writes it; this module
 *  only cuts its dataValues into requests of at most `chunk` values, each
 *  {"dataSet": DS, "dataValues": [...]}), posted with libcurl to
 *  URL/api/dataValueSets?dryRun=&importStrategy=&idScheme= as
 *  application/json. TLS is checked (peer and host name, against the
 *  system's CA store or ca_file for a DHIS2 behind a private CA) and redirects
 *  are not followed (they would carry the credentials elsewhere); plain
 *  http is refused but to the loopback address. The connection has
 *  timeout_s to be made and each request timeout_s in all; an answer
 *  over DHIS2PUSH_MAX_ANSWER bytes is cut and counted as a failure.
 *
 *  Credentials come from a file (never the command line): one line,
 *  either USER:PASSWORD (basic) or a DHIS2 personal access token d2pat_...
 *  (sent as "Authorization: ApiToken d2pat_..."); the file must be a
 *  regular file only its owner can read (mode 0600), as the identity key.
 *  No log line or message holds the secret.
 *
 *  The answer is DHIS2's import summary, either shape: the ImportSummary
 *  itself {"status", "importCount": {imported, updated, ignored,
 *  deleted}, "conflicts": [{"object", "value"}]} (DHIS2 up to 2.37) or
 *  the WebMessage around it {"httpStatus", "status", "response":
 *  {ImportSummary}} (2.38 on, HTTP 200 or 409); a conflict's "indexes"
 *  (2.38 on) name the values of the request it is about, else its
 *  "object"/"objects" ids are matched to the request's values.
 *
 *  Resumable and idempotent: after each request the values DHIS2 took
 *  (status SUCCESS or WARNING, not named by a conflict) are recorded in
 *  the store (dhis2_push: target URL, ids, digest of the value as sent),
 *  one dhis2_push_run row per request; a later run sends only the values
 *  with no row or a different digest (changed since), so after a failure
 *  it sends the rest and after a success nothing; all sends everything
 *  again (DHIS2's import is itself idempotent). dry_run records no value.
 *
 *  Result: CDS_OK when every request was answered SUCCESS/WARNING
 *  without conflicts; CDS_EBADVALUE (exit 1: DHIS2 refused values) on
 *  conflicts or an ERROR status (the rest is still sent); CDS_EPERM (exit 3) on 401/403;
 *  CDS_EIO (exit 4) on a transport failure, timeout or other HTTP status
 *  (the run stops there); CDS_EUSAGE for bad options. */
#ifndef AGG_DHIS2PUSH_H
#define AGG_DHIS2PUSH_H

#include "export.h"
#include "store.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define DHIS2PUSH_MAX_ANSWER (4u << 20)   /* bytes of one answer */
#define DHIS2PUSH_CHUNK_MAX 10000         /* values per request, at most */

typedef struct {
    const char *url;              /* DHIS2 base URL (no user:password@) */
    const char *data_set;         /* dataSet as sent (mapped by ids) */
    const char *credentials;      /* path of the credentials file */
    const char *auth;             /* "basic" | "token" | NULL: the file's */
    const char *import_strategy;  /* CREATE_AND_UPDATE (NULL), CREATE, ... */
    const char *ca_file;          /* CA certificates (PEM) to trust instead
                                   * of the system's; NULL: the system's */
    bool dry_run;                 /* dryRun=true, nothing recorded */
    bool all;                     /* send confirmed values again */
    long chunk;                   /* values per request, 1..CHUNK_MAX */
    long timeout_s;               /* connect and per-request bound */
    uint64_t now_ms;
} dhis2push_opts_t;

/* Push the values export opts x selects (format forced to dhis2-json).
 * Progress, counts and conflicts in words to out. See above for codes;
 * err holds the one-line reason of a failure. */
int dhis2push_run(store_t *store, const export_opts_t *x,
                  const dhis2push_opts_t *o, FILE *out, char *err,
                  size_t errlen);

#endif
