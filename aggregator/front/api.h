/*  api: the district-admin HTTP JSON API on the shared HTTP server
 *  (http.h, docs/HTTP.md), and its bearer tokens.
 *
 *  Routes (all GET, all need "Authorization: Bearer <token>" or an
 *  officer's login session (account.h: roles viewer, district and province
 *  admin; an account scoped to a subtree gets 403 for a unit outside it and
 *  its root when it names none); arguments in the query string, lists
 *  comma-separated):
 *    /api/query         org_unit, no_subtree, indicator, period, from, to,
 *                       wide, format=json|csv            (query.h)
 *    /api/rollup        org_unit, period, indicator      (rollup.h;
 *                       target columns with a targets file, attain.h)
 *    /api/rank          org_unit, indicator (one), period, format=json|csv
 *                                                        (rank.h)
 *    /api/completeness  org_unit, period, indicator      (completeness.h)
 *    /api/history       org_unit, indicator, period      (history.h)
 *    /api/export        query's filters, format=dhis2-json|dhis2-csv|csv,
 *                       adx_periods                      (export.h)
 *    /api/report        org_unit, period, indicator, format=xlsx|csv, bom,
 *                       unit_name, number, place, date, title, signer,
 *                       signer_title (UTF-8, <= API_MAX_TEXT bytes)
 *                                                        (official.h)
 *    /api/validate      org_unit, period: rules, derived ratios and
 *                       outliers of the subtree             (validate.h)
 *  Answers are the same documents the CLI prints with --format json (or
 *  CSV; /api/report: the file `report --out` writes). bom=1 starts a CSV
 *  answer of /api/query, /api/export and /api/report with a UTF-8 BOM.
 *  Errors are {"error": "..."}: 400 bad argument, 401 no or bad token
 *  (http.c), 403 role or scope (Vietnamese message), 404 nothing found,
 *  413 answer over API_MAX_ANSWER, 503 query over its cost budget, 500
 *  otherwise.
 *
 *  Bounds: each argument <= API_MAX_ARG bytes of printable ASCII (the
 *  indicator list <= API_MAX_LIST_ARG, a whole catalog), at most
 *  API_MAX_LIST indicators; every request runs under a cost budget
 *  (store_read_limit: API_MAX_STEPS virtual-machine steps on SQLite, each
 *  statement at most API_MAX_MS and the request under it on PostgreSQL)
 *  so no request can hold the HTTP thread for long; ingest runs on its
 *  own connection and thread and is never blocked by a reader (WAL; on
 *  PostgreSQL, MVCC).
 *
 *  Tokens: `token add NAME` prints "cdst_" + 43 base64url characters (32
 *  random bytes) once; only BLAKE2b-256 of the token (crypto_generichash)
 *  is stored (api_token.hash), so the database never holds a usable token.
 *  A request's token is hashed and looked up; revoked tokens are refused.
 *  Tokens are never logged. */
#ifndef AGG_API_H
#define AGG_API_H

#include "cds_config.h"
#include "http.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define API_MAX_ARG 128                /* bytes of one query argument */
#define API_MAX_LIST_ARG 4096          /* bytes of the indicator list */
#define API_MAX_LIST 64                /* indicators in one request */
#define API_MAX_TEXT 256               /* bytes of a report heading text */
#define API_MAX_STEPS 200000000L       /* SQLite VM steps per request */
#define API_MAX_MS 10000               /* PostgreSQL: ms per request */
#define API_MAX_ANSWER (32u << 20)     /* bytes of one answer */
#define API_TOKEN_LEN 48               /* "cdst_" + 43 chars */

/* Register the routes and the token hook on http (before http_start).
 * Reads from cfg: catalog, targets, identity (path given), deadlines;
 * a bad targets file is refused here (the daemon does not start);
 * refreshes the
 * org-unit mapping in the database at db_path. The context is freed by
 * http_destroy. CDS_OK or a code with a message in err. */
int api_routes_add(http_t *http, const cds_config_t *cfg,
                   const char *db_path, const char *identity_path,
                   char *err, size_t errlen);

/* Create token NAME (unique; printable, <= 64 bytes) and write the token
 * into out (API_TOKEN_LEN + 1 bytes), shown once. CDS_OK; CDS_EUSAGE
 * (bad or taken name) with a message in err; or a database error. */
int api_token_add(store_t *store, const char *name, uint64_t now_ms,
                  char *out, size_t outlen, char *err, size_t errlen);
/* Print every token: name, created, revoked, never the hash. */
int api_token_list(store_t *store, FILE *out);
/* Revoke token NAME. CDS_OK or CDS_ENOTFOUND (unknown or already revoked). */
int api_token_revoke(store_t *store, const char *name, uint64_t now_ms);
/* 1 when token is a valid, unrevoked token, 0 if not, negative cds_err. */
int api_token_check(store_t *store, const char *token);

#endif
