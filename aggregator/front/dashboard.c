/*  dashboard: serve the dashboard page. See dashboard.h. */
#include "dashboard.h"

#include "cds_err.h"
#include "cds_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *html;                        /* the page (owned) */
    size_t len;
    const char *type;                  /* its content type (static) */
} page_t;

static void
on_page(http_req_t *req, void *ctx)
{
    const page_t *p = ctx;
    http_reply_text(req, 200, p->type, p->html, p->len);
}

static void
page_free(void *ctx)
{
    page_t *p = ctx;
    free(p->html);
    free(p);
}

/* Read path into a page served at the given routes. CDS_OK,
 * CDS_ENOTFOUND (no file) or an error with a message in err. */
static int
page_add(http_t *http, const char *path, const char *type,
         const char *const *routes, size_t n_routes, char *err,
         size_t errlen)
{
    page_t *p = calloc(1, sizeof *p);
    if (!p)
        return CDS_ENOMEM;
    int rc = cds_read_file(path, DASHBOARD_MAX, &p->html, &p->len);
    if (rc != CDS_OK) {
        bool absent = rc == CDS_EIO && errno == ENOENT;
        snprintf(err, errlen, "%s: %s", path, rc == CDS_ETOOBIG
                 ? "larger than 1 MiB" : strerror(errno));
        free(p);
        return absent ? CDS_ENOTFOUND : rc;
    }
    p->type = type;
    if (http_cleanup_add(http, page_free, p) != 0) {
        page_free(p);
        return CDS_ERROR;
    }
    for (size_t i = 0; i < n_routes; i++)
        if (http_route_add(http, "GET", routes[i], on_page, p) != 0) {
            snprintf(err, errlen, "HTTP route table full");
            return CDS_ERROR;
        }
    return CDS_OK;
}

int
dashboard_routes_add(http_t *http, const char *path, char *err,
                     size_t errlen)
{
    static const char *const main_routes[] = { "/", "/dashboard" };
    static const struct { const char *file, *type, *route; } beside[] = {
        { "login.html", "text/html; charset=utf-8", "/login.html" },
        { "session.js", "text/javascript; charset=utf-8", "/session.js" },
    };
    int rc = page_add(http, path, "text/html; charset=utf-8", main_routes, 2,
                      err, errlen);
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int) (slash - path + 1) : 0;
    for (size_t i = 0; rc == CDS_OK && i < 2; i++) {
        char other[4096];              /* beside index.html, optional */
        snprintf(other, sizeof other, "%.*s%s", dir, path, beside[i].file);
        rc = page_add(http, other, beside[i].type, &beside[i].route, 1, err,
                      errlen);
        if (rc == CDS_ENOTFOUND)
            rc = CDS_OK;
    }
    return rc;
}
