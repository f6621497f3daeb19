/*  account: the officers' logins on the HTTP server, beside the machines'
 *  bearer tokens (api.h). docs/ADMIN.md "Accounts", docs/SECURITY.md.
 *
 *  Accounts (table account, STORE_SQL_MIGRATION_ACCOUNT) are made by
 *  `cdsync-aggregator user add NAME --role ROLE [--org-unit OU]`; the
 *  password is kept only as libsodium's crypto_pwhash_str (argon2id,
 *  interactive limits: about 0.1 s and 64 MiB per check) and is never
 *  logged or printed. A role is one of viewer, district_admin,
 *  province_admin, operator (HTTP_ROLE_*); org_unit is the root of the
 *  subtree the account sees ("" = every unit). Disabling keeps the row.
 *
 *  Routes (account_routes_add):
 *    POST /api/login   {"name": ..., "password": ...} -> 200 {"name",
 *                      "role", "org_unit", "csrf"} and the session cookie
 *    POST /api/logout  ends the session, clears the cookie
 *    GET  /api/me      who the request is (and the CSRF token of a session)
 *  The auth hook (http_set_auth) accepts a bearer token (a machine, every
 *  role, no scope) or the session cookie.
 *
 *  Sessions live in the HTTP thread's memory only (that thread alone
 *  touches them: no lock): a restart logs everyone out, the price of
 *  never writing from the HTTP thread's read-only connection. The id is
 *  32 random bytes (randombytes_buf), base64url in cookie cdsync_session
 *  (HttpOnly; SameSite=Strict; Path=/; Max-Age = the absolute limit;
 *  Secure when the request came from a proxy on 127.0.0.1 saying
 *  X-Forwarded-Proto: https); only its BLAKE2b hash is kept. A session
 *  ends after idle_s without a request, max_s after the login, at logout,
 *  or when its account is disabled (checked on every request, so a role
 *  or scope change applies at once).
 *
 *  CSRF: a state-changing request (any method but GET/HEAD) carried by a
 *  session must send header X-CSRF-Token equal to the session's token
 *  (given by login and /api/me; a synchronizer token another site cannot
 *  read); bearer-token requests are exempt (a browser never adds the
 *  header by itself). Login itself has no session yet: it must be JSON
 *  (a cross-site form cannot send application/json without a CORS
 *  preflight we never answer) and is refused when Sec-Fetch-Site says
 *  cross-site or Origin names another host.
 *
 *  Rate limit: after max_failures failed logins for one account name, or
 *  ACCOUNT_PEER_FACTOR times as many from one client address (an office
 *  behind one NAT address has several officers), within
 *  ACCOUNT_FAIL_WINDOW_MS, logins for it
 *  are refused (429, Vietnamese message) until the window ends, even with
 *  the right password; a success clears the account's count. */
#ifndef AGG_ACCOUNT_H
#define AGG_ACCOUNT_H

#include "http.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ACCOUNT_SESSIONS_MAX 1024      /* live sessions (oldest evicted) */
#define ACCOUNT_FAILS_MAX 1024         /* rate-limit slots */
#define ACCOUNT_FAIL_WINDOW_MS (15 * 60 * 1000)
#define ACCOUNT_PEER_FACTOR 4         /* address limit = 4 x account's */
#define ACCOUNT_PASSWORD_MIN 8         /* bytes */
#define ACCOUNT_PASSWORD_MAX 256
#define ACCOUNT_COOKIE "cdsync_session"

typedef struct {
    long idle_s;                       /* > 0 */
    long max_s;                        /* > 0 */
    long max_failures;                 /* > 0 */
} account_limits_t;

/* Install the auth hook and the login routes on http (before
 * http_start). The context is freed by http_destroy. CDS_OK or
 * CDS_ENOMEM / CDS_ERROR (table full) with a message in err. */
int account_routes_add(http_t *http, const account_limits_t *lim,
                       char *err, size_t errlen);

/* The HTTP_ROLE_* of a role name, 0 when unknown. */
unsigned account_role_parse(const char *name);

/* Create account NAME. CDS_OK; CDS_EUSAGE (bad name, role, password or a
 * taken name), CDS_EUNKNOWNORGUNIT (org_unit not in the org-unit table)
 * with a message in err; or a database error. org_unit NULL or "": every
 * unit. */
int account_add(store_t *store, const char *name, const char *role,
                const char *org_unit, const char *password, uint64_t now_ms,
                char *err, size_t errlen);
/* Set NAME's password. CDS_OK, CDS_EUSAGE (bad password), CDS_ENOTFOUND
 * (no such enabled account) or a database error. */
int account_passwd(store_t *store, const char *name, const char *password,
                   uint64_t now_ms, char *err, size_t errlen);
/* Disable NAME (its sessions end at their next request). CDS_OK or
 * CDS_ENOTFOUND (unknown or disabled already). */
int account_disable(store_t *store, const char *name, uint64_t now_ms);
/* Print every account: name, role, org unit, created, disabled. */
int account_list(store_t *store, FILE *out);

#endif
