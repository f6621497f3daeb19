/*  dashboard: the district dashboard page (deploy/dashboard/index.html, one
 *  self-contained file: no CDN, no external asset, works with no internet)
 *  served at GET / and GET /dashboard on the shared HTTP server, and
 *  beside it, when present, the login page (login.html at /login.html)
 *  and the session script (session.js at /session.js, account.h).
 *
 *  Invariant: the page carries no data; it asks the token-protected /api/
 *  routes (api.h) with the login session's cookie or the token the user
 *  types, so serving it needs neither. The file is read once at start (bounded by DASHBOARD_MAX). */
#ifndef AGG_DASHBOARD_H
#define AGG_DASHBOARD_H

#include "http.h"
#include <stddef.h>

#define DASHBOARD_MAX (1u << 20)       /* bytes of index.html */

/* Read path (index.html) and add the routes (before http_start); the page
 * is freed by http_destroy. CDS_OK; CDS_ENOTFOUND when the file does not
 * exist (no dashboard installed); CDS_EIO/CDS_ETOOBIG with err. */
int dashboard_routes_add(http_t *http, const char *path, char *err,
                         size_t errlen);

#endif
