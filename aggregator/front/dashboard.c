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
} page_t;

static void
on_page(http_req_t *req, void *ctx)
{
    const page_t *p = ctx;
    http_reply_text(req, 200, "text/html; charset=utf-8", p->html, p->len);
}

static void
page_free(void *ctx)
{
    page_t *p = ctx;
    free(p->html);
    free(p);
}

int
dashboard_routes_add(http_t *http, const char *path, char *err,
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
    if (http_cleanup_add(http, page_free, p) != 0) {
        page_free(p);
        return CDS_ERROR;
    }
    if (http_route_add(http, "GET", "/", on_page, p) != 0
        || http_route_add(http, "GET", "/dashboard", on_page, p) != 0) {
        snprintf(err, errlen, "HTTP route table full");
        return CDS_ERROR;
    }
    return CDS_OK;
}
