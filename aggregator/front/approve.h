/*  approve: corrections and data approval by the admins, from the command
 *  line (`approve`, `unapprove`, `pending list|accept|refuse`) and from
 *  the dashboard (POST routes below). docs/ADMIN.md "Approval and
 *  corrections", docs/HTTP.md.
 *
 *  The operations (approve_ops_*) are one code path for both: a
 *  correction is central_correct (report/central.h: the aggregator's own
 *  signed batch through ingest, stored_by = the officer, comment = the
 *  reason); approval and held values are core/approval.h. Accepting a
 *  held value is a correction with its value ("chấp nhận #N ...") and
 *  its decision row in one transaction (a second answer, even racing,
 *  rolls back its correction too); refusing is the decision row only.
 *
 *  Routes (approve_routes_add), JSON bodies, district_admin and
 *  province_admin (and machines) only, scoped to the account's subtree,
 *  CSRF as every state-changing route (account.h):
 *    POST /api/correct   {org_unit, indicator, period, value, reason,
 *                         disagg?, deleted?}
 *    POST /api/approve   {data_set, org_unit, period, reason?}
 *    POST /api/unapprove {data_set, org_unit, period, reason}
 *    GET  /api/approvals ?org_unit&period    approvals and their state
 *    GET  /api/pending   ?org_unit&all=1     held values
 *    POST /api/pending/accept {id, reason}
 *    POST /api/pending/refuse {id, reason}
 *  Writes run on the HTTP thread over a writer connection of its own,
 *  opened at the first write (SQLite: a second writer beside ingest's,
 *  waiting on its busy timeout as `import` does; one small transaction
 *  each). The actor of every row is the account's (or token's) name. */
#ifndef AGG_APPROVE_H
#define AGG_APPROVE_H

#include "cds_cli.h"
#include "http.h"
#include <stdbool.h>
#include <stddef.h>

/* Add the routes (before http_start): the catalog, data sets and the
 * identity are loaded now (identity_path) ; db_path is opened for
 * writing at the first write. CDS_OK or an error with a message. */
int approve_routes_add(http_t *http, const cds_config_t *cfg,
                       const char *db_path, const char *identity_path,
                       char *err, size_t errlen);

/* `approve` / `unapprove --data-set DS --org-unit OU --period PE
 * [--note WHY]` and `pending list|accept ID|refuse ID [--note WHY]`. */
int approve_cli_approve(cds_cli_t *cli);
int approve_cli_unapprove(cds_cli_t *cli);
int approve_cli_pending(cds_cli_t *cli);

#endif
