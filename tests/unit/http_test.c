/*  http_test: the route table over real loopback HTTP: exact and prefix
 *  routes, 404 / 405, query arguments, bounded bodies (413), the bearer
 *  hook (401 without it or with a wrong token), JSON and text replies, the
 *  HTTP thread's read-only store, cleanup hooks, and the operator routes of
 *  metrics.h (/healthz, /metrics, /api/health). Every public function of
 *  http.h is called. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testdir.h"
#include "cds_err.h"
#include "cds_log.h"
#include "http.h"
#include "metrics.h"
#include "progress.h"
#include "store.h"

typedef struct {
    char dir[64];
    char path[128];
    http_t *http;
    int cleaned;                       /* cleanup hook calls */
} fx_t;


/* One request over a fresh connection; the whole response into buf. */
static int
request(uint16_t port, const char *head, const char *body, char *buf,
        size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof a), 0);
    char req[4096];
    int n = snprintf(req, sizeof req, "%sConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s", head,
                     body ? strlen(body) : 0, body ? body : "");
    assert_int_equal(write(fd, req, (size_t) n), n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < len && (r = read(fd, buf + got, len - got - 1)) > 0)
        got += (size_t) r;
    buf[got] = '\0';
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

static const char *
body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    return p ? p + 4 : "";
}

static void
on_hello(http_req_t *req, void *ctx)
{
    const char *who = http_req_arg(req, "who");
    json_t *o = json_pack("{s:s, s:s, s:s}", "hello", who ? who : "world",
                          "path", http_req_path(req), "method",
                          http_req_method(req));
    http_reply_json(req, 200, o);
}

static void
on_echo(http_req_t *req, void *ctx)
{
    size_t len = 0;
    const uint8_t *b = http_req_body(req, &len);
    const char *ct = http_req_header(req, "Content-Type");
    http_reply_text(req, 200, ct ? ct : "text/plain", (const char *) b, len);
}

static void
on_secret(http_req_t *req, void *ctx)
{
    http_reply_error(req, 418, (const char *) ctx);
}

static void
on_nothing(http_req_t *req, void *ctx)
{
}

static void
on_db(http_req_t *req, void *ctx)
{
    store_t *s = http_req_store(req);
    store_agent_t a;
    int rc = s ? store_agent_find_fpr(s, "none", &a) : CDS_EIO;
    http_reply_text(req, 200, "text/plain", cds_strerror(rc),
                    strlen(cds_strerror(rc)));
}

static bool
auth(http_req_t *req, const char *token, void *ctx)
{
    return strcmp(token, (const char *) ctx) == 0;
}

/* Token "viewer" is an account with the viewer role, scoped to 801. */
static bool
auth_roles(http_req_t *req, const char *token, void *ctx)
{
    http_principal_t p = { .role = HTTP_ROLE_VIEWER, .name = "v",
                           .org_unit = "801" };
    if (strcmp(token, "viewer") != 0)
        return false;
    http_req_set_principal(req, &p);
    return true;
}

static void
on_who(http_req_t *req, void *ctx)
{
    const http_principal_t *p = http_req_principal(req);
    http_reply_text(req, 200, "text/plain", p->org_unit, strlen(p->org_unit));
    http_reply_header(req, "X-Who", p->name);
}

static void
cleanup(void *ctx)
{
    ((fx_t *) ctx)->cleaned++;
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/http_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/agg.db", fx->dir);
    int e = 0;
    store_t *s = store_open(fx->path, 0, &e);  /* create + migrate */
    assert_non_null(s);
    store_destroy(&s);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    http_destroy(&fx->http);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
test_bad_listen(void **state)
{
    char err[256];
    http_config_t c = { .listen = "localhost:80" };
    assert_null(http_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "IPv4"));
    c.listen = "127.0.0.1";
    assert_null(http_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "HOST:PORT"));
    c.listen = "127.0.0.1:99999";
    assert_null(http_new(&c, err, sizeof err));
    http_t *h = NULL;
    http_destroy(&h);                  /* safe on NULL */
}

static void
test_routes(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[8192];
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = fx->path,
                        .body_max = 64 };
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    http_t *h = fx->http;
    assert_int_equal(http_port(h), 0);
    assert_int_equal(http_route_add(h, "GET", "/hello", on_hello, NULL), 0);
    assert_int_equal(http_route_add(h, "GET", "/api/v/*", on_hello, NULL), 0);
    assert_int_equal(http_route_add(h, "POST", "/echo", on_echo, NULL), 0);
    assert_int_equal(http_route_add(h, "GET", "/nothing", on_nothing, NULL),
                     0);
    assert_int_equal(http_route_add(h, "GET", "/db", on_db, NULL), 0);
    assert_int_equal(http_route_add_auth(h, "GET", "/secret", on_secret,
                                         "teapot"), 0);
    assert_int_equal(http_cleanup_add(h, cleanup, fx), 0);
    assert_int_equal(http_start(h), CDS_OK);
    uint16_t port = http_port(h);
    assert_true(port > 0);
    /* The table is closed once started. */
    assert_int_equal(http_route_add(h, "GET", "/late", on_hello, NULL), -1);

    assert_int_equal(request(port, "GET /hello?who=x%20y HTTP/1.1\r\n", NULL,
                             buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "application/json"));
    json_t *o = json_loads(body_of(buf), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "hello")),
                        "x y");
    assert_string_equal(json_string_value(json_object_get(o, "method")),
                        "GET");
    json_decref(o);
    assert_int_equal(request(port, "GET /api/v/27901 HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_non_null(strstr(body_of(buf), "/api/v/27901"));
    assert_int_equal(request(port, "GET /nope HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 404);
    assert_int_equal(request(port, "DELETE /hello HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 405);
    assert_int_equal(request(port, "POST /echo HTTP/1.1\r\nContent-Type: "
                             "text/x-test\r\n", "ping", buf, sizeof buf),
                     200);
    assert_string_equal(body_of(buf), "ping");
    assert_non_null(strstr(buf, "text/x-test"));
    assert_int_equal(request(port, "POST /echo HTTP/1.1\r\n",
                             "0123456789012345678901234567890123456789"
                             "0123456789012345678901234567890123456789",
                             buf, sizeof buf), 413);
    assert_int_equal(request(port, "GET /nothing HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 500);
    assert_int_equal(request(port, "GET /db HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_string_equal(body_of(buf), "not_found");
    /* No hook: 401 even with a token. */
    assert_int_equal(request(port, "GET /secret HTTP/1.1\r\nAuthorization: "
                             "Bearer k\r\n", NULL, buf, sizeof buf), 401);
    http_destroy(&fx->http);
    assert_null(fx->http);
    assert_int_equal(fx->cleaned, 1);
}

/* The raw request target is checked before libmicrohttpd decodes it:
 * "%00" used to cut the path, so "/healthz%00/../x" was served as
 * "/healthz". NUL and control bytes (raw or encoded, also in the query)
 * and "." / ".." segments answer 400 and never reach a handler. */
/* A route's role mask: the principal's role outside it is 403 before
 * the handler; inside it the handler sees the principal. */
static void
test_roles(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[4096];
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = fx->path };
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    http_set_auth(fx->http, auth_roles, NULL);
    assert_int_equal(http_route_add_roles(fx->http, "GET", "/ops", on_who,
                                          NULL, HTTP_ROLE_OPERATOR), 0);
    assert_int_equal(http_route_add_roles(fx->http, "GET", "/data", on_who,
                                          NULL, HTTP_ROLES_DATA), 0);
    assert_int_equal(http_start(fx->http), CDS_OK);
    uint16_t port = http_port(fx->http);
    assert_int_equal(request(port, "GET /ops HTTP/1.1\r\nAuthorization: "
                             "Bearer viewer\r\n", NULL, buf, sizeof buf),
                     403);
    assert_non_null(strstr(body_of(buf), "role not allowed"));
    assert_int_equal(request(port, "GET /data HTTP/1.1\r\nAuthorization: "
                             "Bearer viewer\r\n", NULL, buf, sizeof buf),
                     200);
    assert_string_equal(body_of(buf), "801");
    assert_non_null(strstr(buf, "X-Who: v"));
    assert_int_equal(request(port, "GET /data HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 401);
}

static void
test_bad_paths(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[8192];
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = fx->path };
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    assert_int_equal(http_route_add(fx->http, "GET", "/hello", on_hello,
                                    NULL), 0);
    assert_int_equal(http_route_add(fx->http, "GET", "/api/v/*", on_hello,
                                    NULL), 0);
    assert_int_equal(http_start(fx->http), CDS_OK);
    uint16_t port = http_port(fx->http);
    static const char *const bad[] = {
        "/%00/etc/passwd", "/hello%00/../../x", "/hello%00", "/api/v/../x",
        "/api/v/%2e%2E/x", "/api/v/./x", "/api/v/..", "/api/v/x%2f..%2fy",
        "/hello?who=a%00b", "/hello?who=%0a", "/hello%7f", "/hello%1b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char head[256];
        snprintf(head, sizeof head, "GET %s HTTP/1.1\r\n", bad[i]);
        int status = request(port, head, NULL, buf, sizeof buf);
        if (status != 400)
            fail_msg("%s answered %d, expected 400", bad[i], status);
        assert_null(strstr(body_of(buf), "hello"));
    }
    static const char *const good[] = {
        "/hello", "/hello?who=a%20b", "/api/v/a.b", "/api/v/...",
        "/api/v/..x", "/api/v/x..",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char head[256];
        snprintf(head, sizeof head, "GET %s HTTP/1.1\r\n", good[i]);
        int status = request(port, head, NULL, buf, sizeof buf);
        if (status != 200)
            fail_msg("%s answered %d, expected 200", good[i], status);
    }
}

/* A failed lazy open of the HTTP thread's database (EMFILE, file not
 * there yet) is retried by the next request, not kept for ever. */
static void
test_db_reopen(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[8192], later[160];
    snprintf(later, sizeof later, "%s/later.db", fx->dir);
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = later };
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    assert_int_equal(http_route_add(fx->http, "GET", "/db", on_db, NULL), 0);
    assert_int_equal(http_start(fx->http), CDS_OK);
    uint16_t port = http_port(fx->http);
    assert_int_equal(request(port, "GET /db HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_string_equal(body_of(buf), cds_strerror(CDS_EIO));
    int e = 0;
    store_t *s = store_open(later, 0, &e);
    assert_non_null(s);
    store_destroy(&s);
    assert_int_equal(request(port, "GET /db HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_string_equal(body_of(buf), "not_found");
}

static void
test_auth_hook(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[4096];
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = fx->path };
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    http_set_auth(fx->http, auth, "s3cret");
    assert_int_equal(http_route_add_auth(fx->http, "GET", "/secret",
                                         on_secret, "teapot"), 0);
    assert_int_equal(http_start(fx->http), CDS_OK);
    uint16_t port = http_port(fx->http);
    assert_int_equal(request(port, "GET /secret HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 401);
    assert_int_equal(request(port, "GET /secret HTTP/1.1\r\nAuthorization: "
                             "Bearer wrong\r\n", NULL, buf, sizeof buf), 401);
    assert_int_equal(request(port, "GET /secret HTTP/1.1\r\nAuthorization: "
                             "Bearer s3cret\r\n", NULL, buf, sizeof buf),
                     418);
    assert_non_null(strstr(body_of(buf), "\"error\":\"teapot\""));
}

static void
test_operator_routes(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[16384];
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = fx->path };
    metrics_t m = { .top_n = 5, .version = "t" };
    health_thresholds_default(&m.th);
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    http_set_auth(fx->http, auth, "s3cret");
    assert_int_equal(metrics_routes_add(fx->http, &m), 0);
    assert_int_equal(http_start(fx->http), CDS_OK);
    uint16_t port = http_port(fx->http);
    assert_int_equal(request(port, "GET /healthz HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_string_equal(body_of(buf), "ok\n");
    assert_int_equal(request(port, "GET /metrics HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
    assert_non_null(strstr(body_of(buf), "cdsync_updates_applied_total 0"));
    /* /api/health needs the token like every /api/ route; /healthz and
     * /metrics (above) do not */
    assert_int_equal(request(port, "GET /api/health HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 401);
    assert_int_equal(request(port, "GET /api/health HTTP/1.1\r\n"
                             "Authorization: Bearer wrong\r\n", NULL, buf,
                             sizeof buf), 401);
    assert_int_equal(request(port, "GET /api/health HTTP/1.1\r\n"
                             "Authorization: Bearer s3cret\r\n", NULL, buf,
                             sizeof buf), 200);
    json_t *o = json_loads(body_of(buf), 0, NULL);
    assert_int_equal(json_array_size(json_object_get(o, "agents")), 0);
    assert_int_equal(json_integer_value(json_object_get(o,
                                                        "worst_severity")),
                     0);
    json_decref(o);
    http_destroy(&fx->http);           /* finalizes the route's statements */
    assert_null(m.health);
}

/* /healthz answers 503 naming a stuck writer (progress.h; a bound of 0
 * makes any waiting message stuck at once), /livez stays 200, and a
 * commit brings /healthz back. */
static void
test_healthz_writer_stuck(void **state)
{
    fx_t *fx = *state;
    char err[256], buf[16384];
    http_config_t c = { .listen = "127.0.0.1:0", .db_path = fx->path };
    progress_t *p = progress_new(0);
    metrics_t m = { .top_n = 5, .version = "t", .progress = p };
    health_thresholds_default(&m.th);
    fx->http = http_new(&c, err, sizeof err);
    assert_non_null(fx->http);
    assert_int_equal(metrics_routes_add(fx->http, &m), 0);
    assert_int_equal(http_start(fx->http), CDS_OK);
    uint16_t port = http_port(fx->http);
    assert_int_equal(request(port, "GET /healthz HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    for (int i = 0; i < 40; i++)
        progress_received(p);
    assert_int_equal(request(port, "GET /healthz HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 503);
    assert_non_null(strstr(body_of(buf), "writer stuck for "));
    assert_non_null(strstr(body_of(buf), " s, 40 messages waiting\n"));
    assert_int_equal(request(port, "GET /livez HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_string_equal(body_of(buf), "ok\n");
    assert_int_equal(request(port, "GET /metrics HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    assert_non_null(strstr(body_of(buf), "cdsync_writer_stuck 1\n"));
    assert_non_null(strstr(body_of(buf),
                           "cdsync_writer_waiting_messages 40\n"));
    progress_committed(p, progress_now_ns(), 0);
    assert_int_equal(request(port, "GET /healthz HTTP/1.1\r\n", NULL, buf,
                             sizeof buf), 200);
    http_destroy(&fx->http);
    progress_destroy(&p);
}

int
main(void)
{
    cds_log_init("http_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_routes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_healthz_writer_stuck, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
