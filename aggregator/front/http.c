/*  http: see http.h. libmicrohttpd 0.9.75, one internal polling thread. */
#include "http.h"

#include "cds_err.h"
#include "cds_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ctype.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_CONN_LIMIT 64             /* simultaneous connections */
#define HTTP_CONN_TIMEOUT_S 10         /* idle connection closed after */
#define HTTP_CONN_MEMORY (64u * 1024u) /* headers + line per connection */

typedef struct {
    char method[8];                    /* "GET" */
    char path[128];                    /* exact, or prefix before "*" */
    bool prefix;                       /* path ended in "/ *" */
    bool auth;                         /* needs the auth hook */
    unsigned roles;                    /* HTTP_ROLE_* allowed (auth) */
    http_handler_fn *fn;
    void *ctx;                         /* borrowed */
} route_t;

struct http {
    struct sockaddr_in addr;           /* where to listen */
    char db_path[4096];
    size_t body_max;
    route_t routes[HTTP_ROUTES_MAX];
    size_t n_routes;
    struct {
        void (*fn)(void *ctx);
        void *ctx;
    } cleanup[HTTP_ROUTES_MAX];        /* run before the store closes */
    size_t n_cleanup;
    http_auth_fn *auth;                /* NULL: auth routes answer 401 */
    void *auth_ctx;
    struct MHD_Daemon *daemon;         /* NULL until started */
    store_t *store;                    /* HTTP thread's, read-only, lazy:
                                        * a failed open (EMFILE) is retried
                                        * by the next request */
};

struct http_req {
    http_t *http;
    struct MHD_Connection *conn;
    const char *method, *path;
    bool bad_url;                      /* raw URL refused: 400 */
    uint8_t *body;                     /* uploaded so far (malloc'd) */
    size_t len;
    bool too_big;                      /* over body_max: 413 */
    struct MHD_Response *resp;         /* reply set by the handler */
    unsigned status;
    http_principal_t who;              /* set by the auth hook */
    bool has_who;
};

int
http_parse_listen(const char *listen, struct sockaddr_in *addr, char *err,
             size_t errlen)
{
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || (size_t) (colon - listen) >= sizeof host || !end || *end
        || colon[1] == '\0' || port < 0 || port > 65535) {
        snprintf(err, errlen, "http_listen: \"%s\": expected HOST:PORT",
                 listen ? listen : "");
        return -1;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
        snprintf(err, errlen, "http_listen: \"%s\": host must be an IPv4 "
                 "address such as 127.0.0.1", listen);
        return -1;
    }
    return 0;
}

http_t *
http_new(const http_config_t *cfg, char *err, size_t errlen)
{
    http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int n = snprintf(self->db_path, sizeof self->db_path, "%s",
                     cfg->db_path ? cfg->db_path : "");
    if (n < 0 || (size_t) n >= sizeof self->db_path) {
        snprintf(err, errlen, "db_path too long");
        free(self);
        return NULL;
    }
    self->body_max = cfg->body_max ? cfg->body_max : HTTP_BODY_MAX_DEFAULT;
    if (http_parse_listen(cfg->listen, &self->addr, err, errlen) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
http_destroy(http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon); /* joins the thread */
    for (size_t i = 0; i < self->n_cleanup; i++)
        self->cleanup[i].fn(self->cleanup[i].ctx);
    store_destroy(&self->store);       /* the thread is gone: ours now */
    free(self);
    *self_p = NULL;
}

static int
route_add(http_t *self, const char *method, const char *path,
          http_handler_fn *fn, void *ctx, bool auth, unsigned roles)
{
    if (self->daemon || self->n_routes == HTTP_ROUTES_MAX || !fn)
        return -1;
    route_t *r = &self->routes[self->n_routes];
    size_t plen = strlen(path);
    if (strlen(method) >= sizeof r->method || plen >= sizeof r->path)
        return -1;
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    if (plen >= 2 && strcmp(path + plen - 2, "/*") == 0) {
        r->prefix = true;
        r->path[plen - 1] = '\0';      /* keep the "/" */
    }
    r->auth = auth;
    r->roles = roles;
    r->fn = fn;
    r->ctx = ctx;
    self->n_routes++;
    return 0;
}

int
http_route_add(http_t *self, const char *method, const char *path,
               http_handler_fn *fn, void *ctx)
{
    return route_add(self, method, path, fn, ctx, false, 0);
}

int
http_route_add_auth(http_t *self, const char *method, const char *path,
                    http_handler_fn *fn, void *ctx)
{
    return route_add(self, method, path, fn, ctx, true, HTTP_ROLES_ALL);
}

int
http_route_add_roles(http_t *self, const char *method, const char *path,
                     http_handler_fn *fn, void *ctx, unsigned roles)
{
    return route_add(self, method, path, fn, ctx, true, roles);
}

int
http_cleanup_add(http_t *self, void (*fn)(void *ctx), void *ctx)
{
    if (self->n_cleanup == HTTP_ROUTES_MAX)
        return -1;
    self->cleanup[self->n_cleanup].fn = fn;
    self->cleanup[self->n_cleanup].ctx = ctx;
    self->n_cleanup++;
    return 0;
}

void
http_set_auth(http_t *self, http_auth_fn *fn, void *ctx)
{
    self->auth = fn;
    self->auth_ctx = ctx;
}

/* ---- request accessors and replies ------------------------------------ */

const char *
http_req_method(const http_req_t *req)
{
    return req->method;
}

const char *
http_req_path(const http_req_t *req)
{
    return req->path;
}

const char *
http_req_arg(http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

const char *
http_req_header(http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_req_cookie(http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

void
http_req_peer(http_req_t *req, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    buf[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf,
                  (socklen_t) len);
}

void
http_req_set_principal(http_req_t *req, const http_principal_t *p)
{
    req->who = *p;
    req->has_who = true;
}

const http_principal_t *
http_req_principal(const http_req_t *req)
{
    return req->has_who ? &req->who : NULL;
}

const uint8_t *
http_req_body(const http_req_t *req, size_t *len)
{
    *len = req->len;
    return req->body;
}

store_t *
http_req_store(http_req_t *req)
{
    http_t *h = req->http;
    if (!h->store) {
        int err = CDS_OK;
        h->store = store_open(h->db_path, CDS_DB_READONLY, &err);
        char where[4096];      /* never the URL's password */
        if (!h->store)         /* rate-limited by cds_log */
            cds_log(CDS_LOG_WARN, "http_db_unavailable", "path=%s error=%s",
                    cds_logq(store_display(h->db_path, where, sizeof where)),
                    cds_strerror(err));
    }
    return h->store;
}

void
http_reply_text(http_req_t *req, unsigned status, const char *content_type,
                const char *text, size_t len)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = MHD_create_response_from_buffer(len, (void *) text,
                                                MHD_RESPMEM_MUST_COPY);
    req->status = status;
    if (req->resp)
        MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
}

void
http_reply_json(http_req_t *req, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        http_reply_text(req, 500, "application/json",
                        "{\"error\":\"out of memory\"}", 25);
        return;
    }
    http_reply_text(req, status, "application/json", text, strlen(text));
    free(text);
}

void
http_reply_header(http_req_t *req, const char *name, const char *value)
{
    if (req->resp)
        MHD_add_response_header(req->resp, name, value);
}

void
http_reply_error(http_req_t *req, unsigned status, const char *message)
{
    http_reply_json(req, status, json_pack("{s:s}", "error", message));
}

/* ---- dispatch --------------------------------------------------------- */

static const route_t *
find_route(const http_t *self, const char *method, const char *path,
           bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < self->n_routes; i++) {
        const route_t *r = &self->routes[i];
        bool match = r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
                               : strcmp(path, r->path) == 0;
        if (!match)
            continue;
        *path_known = true;
        if (strcmp(method, r->method) == 0)
            return r;
    }
    return NULL;
}

/* The bearer token of the request, "" when absent. */
static const char *
bearer(http_req_t *req)
{
    const char *h = http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return "";
    return h + 7;
}

static void
run_route(http_req_t *req)
{
    bool known = false;
    const route_t *r = find_route(req->http, req->method, req->path, &known);
    if (!r) {
        http_reply_error(req, known ? 405 : 404,
                         known ? "method not allowed" : "not found");
        return;
    }
    if (r->auth && (!req->http->auth
                    || !req->http->auth(req, bearer(req),
                                        req->http->auth_ctx))) {
        if (!req->resp)
            http_reply_error(req, 401, "a valid bearer token or a login "
                             "session is required (cần đăng nhập)");
        return;
    }
    if (r->auth && req->has_who && !(req->who.role & r->roles)) {
        http_reply_error(req, 403, "Vai trò của tài khoản không được dùng "
                         "chức năng này (role not allowed)");
        return;
    }
    r->fn(req, r->ctx);
    if (!req->resp)
        http_reply_error(req, 500, "handler set no reply");
}

/* Append an upload chunk, bounded by body_max. */
static void
take_upload(http_req_t *req, const char *data, size_t n)
{
    if (req->too_big || n > req->http->body_max - req->len) {
        req->too_big = true;
        return;
    }
    uint8_t *p = realloc(req->body, req->len + n);
    if (!p) {
        req->too_big = true;
        return;
    }
    memcpy(p + req->len, data, n);
    req->body = p;
    req->len += n;
}

/* The byte at raw[*i], %-decoded (advancing *i past the escape). */
static unsigned char
url_byte(const char *raw, size_t *i)
{
    unsigned char c = (unsigned char) raw[*i];
    if (c == '%' && isxdigit((unsigned char) raw[*i + 1])
        && isxdigit((unsigned char) raw[*i + 2])) {
        char hex[3] = {raw[*i + 1], raw[*i + 2], '\0'};
        c = (unsigned char) strtoul(hex, NULL, 16);
        *i += 2;
    }
    return c;
}

/* 1 when the raw request target is refused: a NUL or control byte, raw
 * or %-encoded, anywhere (libmicrohttpd decodes %00 and the path we see
 * ends there: "/healthz%00/../x" was served as "/healthz"), or a "." or
 * ".." path segment, raw or encoded. Nothing we serve needs any of them. */
static int
url_refused(const char *raw)
{
    size_t seg_len = 0, dots = 0;
    bool in_path = true;
    for (size_t i = 0; raw[i]; i++) {
        bool escaped = raw[i] == '%';
        unsigned char c = url_byte(raw, &i);
        if (c < 0x20 || c == 0x7F)
            return 1;
        if (!in_path)
            continue;
        if (c == '/' || (c == '?' && !escaped)) {
            if (seg_len > 0 && seg_len == dots && dots <= 2)
                return 1;      /* "." or ".." */
            seg_len = dots = 0;
            in_path = c == '/';
            continue;
        }
        seg_len++;
        dots += c == '.';
    }
    return in_path && seg_len > 0 && seg_len == dots && dots <= 2;
}

/* Called with the raw request target before libmicrohttpd decodes it;
 * what we return becomes the request's context (on_request). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void) conn;
    http_req_t *req = calloc(1, sizeof *req);
    if (req) {
        req->http = cls;
        req->bad_url = !uri || url_refused(uri);
    }
    return req;
}

/* libmicrohttpd's own errors (accept failures under EMFILE, bad
 * requests) go through our logger and its rate limit, never raw stderr. */
static void
on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    cds_log(CDS_LOG_WARN, "http_error", "message=%s", cds_logq(msg));
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
    http_req_t *req = *con_cls;
    if (!req)                          /* on_uri ran out of memory */
        return MHD_NO;
    if (!req->conn) {                  /* headers only: set up */
        req->conn = conn;
        req->method = method;
        req->path = url;
        return MHD_YES;
    }
    if (*upload_size) {
        take_upload(req, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->bad_url)
        http_reply_error(req, 400, "bad request path (NUL or control "
                         "byte, or a \".\" or \"..\" segment)");
    else if (req->too_big)
        http_reply_error(req, 413, "request body too large");
    else
        run_route(req);
    if (!req->resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(conn, req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    return rc;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    http_req_t *req = *con_cls;
    if (!req)
        return;
    if (req->resp)
        MHD_destroy_response(req->resp);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

int
http_start(http_t *self)
{
    self->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, self,
        /* first: messages about the options after it go through it */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &self->addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, self,
        MHD_OPTION_END);
    char host[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &self->addr.sin_addr, host, sizeof host);
    if (!self->daemon) {
        int e = errno;                 /* bind's, for the caller's message */
        cds_log(CDS_LOG_ERROR, "http_failed", "listen=%s:%u", host,
                (unsigned) ntohs(self->addr.sin_port));
        errno = e;
        return CDS_EIO;
    }
    cds_log(CDS_LOG_INFO, "http_listening", "listen=%s:%u routes=%zu", host,
            (unsigned) http_port(self), self->n_routes);
    return CDS_OK;
}

uint16_t
http_port(const http_t *self)
{
    if (!self->daemon)
        return 0;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
