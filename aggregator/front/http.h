/*  http: the aggregator's small HTTP server (libmicrohttpd): a route table
 *  that other modules fill before start, JSON helpers, bounded requests and
 *  a bearer-token hook. docs/HTTP.md says how to add a route.
 *
 *  Threading: libmicrohttpd runs ONE internal polling thread
 *  (MHD_USE_INTERNAL_POLLING_THREAD, no thread per connection), and every
 *  handler runs on it. That thread owns its own read-only SQLite connection
 *  (opened on first use: http_req_store), so the ingest thread's writer
 *  connection is never shared. libmicrohttpd owns the thread, so the
 *  zactor pipe contract does not apply: http_destroy stops the daemon and
 *  waits for the thread.
 *
 *  Invariants: the route table is immutable once http_start returned (only
 *  the HTTP thread reads it afterwards); a request body over body_max bytes
 *  is answered 413 without reaching a handler; a route added with
 *  http_route_add_auth/_roles reaches its handler only when the auth hook
 *  accepted the request (a bearer token or a login cookie, account.h; else
 *  401 or the hook's reply) and the principal's role is in the route's
 *  mask (else 403); every handler that sets no reply is answered 500.
 *  Nothing here logs a token, password or session id. */
#ifndef AGG_HTTP_H
#define AGG_HTTP_H

#include "store.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_ROUTES_MAX 64             /* table size */
#define HTTP_BODY_MAX_DEFAULT (64u * 1024u)

typedef struct http http_t;
typedef struct http_req http_req_t;    /* one request, valid in a handler */

/* Who a request is: set by the auth hook (http_req_set_principal). A
 * machine (bearer token) has every role and no scope; an account (session
 * cookie, account.h) has one role and, unless org_unit is "", sees only
 * that unit's subtree. */
enum {
    HTTP_ROLE_VIEWER = 1u << 0,        /* read the figures */
    HTTP_ROLE_DISTRICT = 1u << 1,      /* district admin */
    HTTP_ROLE_PROVINCE = 1u << 2,      /* province admin */
    HTTP_ROLE_OPERATOR = 1u << 3,      /* health of the system */
};
#define HTTP_ROLES_DATA                                                      \
    (HTTP_ROLE_VIEWER | HTTP_ROLE_DISTRICT | HTTP_ROLE_PROVINCE)
#define HTTP_ROLES_ALL (HTTP_ROLES_DATA | HTTP_ROLE_OPERATOR)
typedef struct {
    bool machine;                      /* bearer token */
    unsigned role;                     /* one HTTP_ROLE_* (machine: all) */
    char name[65];                     /* account or token name */
    char org_unit[129];                /* scope root; "" = everything */
} http_principal_t;

/* A route handler: read the request, set exactly one reply with an
 * http_reply_* call. Runs on the HTTP thread. */
typedef void (http_handler_fn)(http_req_t *req, void *ctx);
/* Auth hook: true when the request (token: its bearer token, never NULL,
 * may be "") may call this route; it then sets the principal (none set:
 * a machine, every role). On false it
 * may set a reply (else 401). Runs on the HTTP thread. */
typedef bool (http_auth_fn)(http_req_t *req, const char *token, void *ctx);

typedef struct {
    const char *listen;                /* "127.0.0.1:7780"; port 0: any */
    const char *db_path;               /* the store (aggregator.db or a
                                        * PostgreSQL URL), opened read-only */
    size_t body_max;                   /* request body bound; 0: default */
} http_config_t;

/* Parse listen ("HOST:PORT", IPv4 literal) into *addr: 0, or -1 with
 * "http_listen: ..." in err. Binds nothing (also --check-config). */
struct sockaddr_in;
int http_parse_listen(const char *listen, struct sockaddr_in *addr,
                      char *err, size_t errlen);
/* Parse cfg->listen ("HOST:PORT", IPv4 literal) and prepare; nothing
 * listens yet. NULL with a message in err. cfg strings are copied. */
http_t *http_new(const http_config_t *cfg, char *err, size_t errlen);
/* Stop the daemon (waits for its thread), close the connection, free;
 * sets *self_p to NULL. Safe on NULL. */
void http_destroy(http_t **self_p);

/* Add a route before http_start: method "GET"/"POST"/..., path exact or
 * ending in "/ *" without the space (prefix match), ctx borrowed. 0, or -1
 * when the table is full or the server already started. */
int http_route_add(http_t *self, const char *method, const char *path,
                   http_handler_fn *fn, void *ctx);
/* The same, for a route that needs the auth hook to accept the request;
 * any role may call it. */
int http_route_add_auth(http_t *self, const char *method, const char *path,
                        http_handler_fn *fn, void *ctx);
/* The same, for the roles in mask (HTTP_ROLE_*) only: another role is
 * answered 403 with a Vietnamese message. */
int http_route_add_roles(http_t *self, const char *method, const char *path,
                         http_handler_fn *fn, void *ctx, unsigned roles);
/* Install the bearer-token hook (before http_start). Without one, every
 * auth route answers 401. */
void http_set_auth(http_t *self, http_auth_fn *fn, void *ctx);
/* Call fn(ctx) in http_destroy after the thread stopped and before the
 * read-only connection closes: finalize statements prepared on
 * http_req_store there. Up to HTTP_ROUTES_MAX; 0 or -1 when full. */
int http_cleanup_add(http_t *self, void (*fn)(void *ctx), void *ctx);

/* Bind and start the thread. CDS_OK or CDS_EIO (logged). */
int http_start(http_t *self);
/* Port actually bound (after http_start), 0 if not started. */
uint16_t http_port(const http_t *self);

/* ---- inside a handler ------------------------------------------------- */
const char *http_req_method(const http_req_t *req);
/* Path without the query string. */
const char *http_req_path(const http_req_t *req);
/* Query-string argument or NULL. Borrowed. */
const char *http_req_arg(http_req_t *req, const char *name);
/* Request header or NULL. Borrowed. */
const char *http_req_header(http_req_t *req, const char *name);
/* Cookie NAME of the request or NULL. Borrowed. */
const char *http_req_cookie(http_req_t *req, const char *name);
/* The peer's IPv4 address as text into buf; "" when unknown. */
void http_req_peer(http_req_t *req, char *buf, size_t len);
/* Set by the auth hook; NULL on a route without auth. Borrowed. */
void http_req_set_principal(http_req_t *req, const http_principal_t *p);
const http_principal_t *http_req_principal(const http_req_t *req);
/* The body (bounded by body_max; not NUL-terminated) and its length. */
const uint8_t *http_req_body(const http_req_t *req, size_t *len);
/* The HTTP thread's read-only store (opened on first use) or NULL when
 * the database cannot be opened (logged). Borrowed: never close it. */
store_t *http_req_store(http_req_t *req);

/* Reply with a JSON document (takes the reference of body). */
void http_reply_json(http_req_t *req, unsigned status, json_t *body);
/* Reply with text (copied) and a content type. */
void http_reply_text(http_req_t *req, unsigned status,
                     const char *content_type, const char *text, size_t len);
/* Add a header to the reply set (after an http_reply_* call). */
void http_reply_header(http_req_t *req, const char *name, const char *value);
/* Reply {"error": message} with status. */
void http_reply_error(http_req_t *req, unsigned status, const char *message);

#endif
