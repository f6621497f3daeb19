/*  submit: see submit.h. */
#include "submit.h"

#include "entrycheck.h"

#include "cds_err.h"
#include "cds_log.h"
#include "cds_trace.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define WAKE_WAIT_MS 1000             /* a loaded machine may take a while */

bool
submit_org_unit_allowed(const char *list, const char *code)
{
    if (!list || !code || !*code)
        return false;
    size_t clen = strlen(code);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == clen && memcmp(start, code, clen) == 0)
            return true;
    }
    return false;
}

/* Lifetime and data sets (submit.h); the period already parsed once. */
static int
check_expected(const submit_ctx_t *ctx, const cds_update_t *u,
               const char **field, char *err, size_t errlen)
{
    cds_period_t p;
    if (cds_period_parse(u->period, &p) != CDS_OK)
        return CDS_OK;                 /* refused above already */
    const cds_orgunit_t *ou = ctx->orgunits
        ? cds_orgunits_find(ctx->orgunits, u->org_unit) : NULL;
    if (ou && !cds_orgunit_open_in(ou->valid_from, ou->valid_to, p.start,
                                   p.end)) {
        char msg[300];
        *field = "period";
        snprintf(err, errlen, "%s: %s (%s)", ou->name,
                 cds_orgunit_closed_msg(u->org_unit, u->period,
                                        ou->valid_from, ou->valid_to, msg,
                                        sizeof msg),
                 ctx->orgunits_path ? ctx->orgunits_path : "org units");
        return CDS_EUNITCLOSED;
    }
    if (ctx->datasets && !cds_datasets_expects(ctx->datasets, u->org_unit,
                                               u->indicator, &p, err,
                                               errlen)) {
        *field = "indicator";
        return CDS_ENOTALLOWED;
    }
    return CDS_OK;
}

int
submit_check(const submit_ctx_t *ctx, cds_update_t *u, char *canon,
             size_t canon_len, const char **field, char *err, size_t errlen)
{
    if (!u->disagg || !*u->disagg)
        u->disagg = "default";
    if ((!u->stored_by || !*u->stored_by) && ctx->stored_by
        && *ctx->stored_by)
        u->stored_by = ctx->stored_by;
    if (u->deleted) {
        u->value = "";
    } else {
        const cds_indicator_t *ind =
            u->indicator ? cds_catalog_find(ctx->catalog, u->indicator)
                         : NULL;
        if (ind) {
            double num;
            int rc = cds_value_canonical(ind, u->value ? u->value : "",
                                         canon, canon_len, &num, err,
                                         errlen);
            if (rc != CDS_OK) {
                *field = "value";
                return rc;
            }
            u->value = canon;
        }
    }
    int rc = cds_catalog_check_update(ctx->catalog, u, field, err, errlen);
    if (rc != CDS_OK)
        return rc;
    if (!submit_org_unit_allowed(ctx->org_units, u->org_unit)) {
        *field = "orgunit";
        snprintf(err, errlen,
                 "org unit \"%s\" is not in this agent's org_units (%s)",
                 u->org_unit, ctx->org_units ? ctx->org_units : "");
        return CDS_ENOTALLOWED;
    }
    return u->deleted ? CDS_OK : check_expected(ctx, u, field, err, errlen);
}

int
submit_update(const submit_ctx_t *ctx, outbox_t *outbox, cds_update_t *u,
              char *err, size_t errlen)
{
    char canon[CDS_MAX_VALUE + 1];
    char msg[512];
    const char *field = "";
    int rc = submit_check(ctx, u, canon, sizeof canon, &field, msg,
                          sizeof msg);
    if (rc != CDS_OK) {
        snprintf(err, errlen, "%s: %s", field, msg);
        return rc;
    }
    if (ctx->warn)
        entrycheck_warn(ctx->catalog, ctx->rules, outbox, u, 1, ctx->warn);
    const char *source = "submit";
    uint64_t begin = cds_trace_on() ? cds_trace_us() : 0;
    rc = outbox_push(outbox, u, &source, 1, ctx->queue_max, err, errlen);
    if (rc == CDS_OK && begin)         /* cds_trace.h: committed */
        cds_trace("submit", "seq=%llu begin=%llu", (unsigned long long)u->seq,
                  (unsigned long long)begin);
    if (rc == CDS_OK && ctx->state_dir)
        submit_wake(ctx->state_dir);
    return rc;
}

#ifdef _WIN32
/* The daemon's wake endpoint, tcp://127.0.0.1:port, read from path. */
static int
wake_endpoint(const char *path, char *endpoint, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    bool ok = fgets(endpoint, (int) len, f) != NULL
              && strncmp(endpoint, "tcp://127.0.0.1:", 16) == 0;
    fclose(f);
    endpoint[strcspn(endpoint, "\r\n")] = '\0';
    return ok ? 0 : -1;
}
#endif

void
submit_wake(const char *state_dir)
{
    char path[512], endpoint[600];
    struct stat sb;
    int n = snprintf(path, sizeof path, "%s/wake.sock", state_dir);
    if (n < 0 || (size_t)n >= sizeof path || stat(path, &sb) != 0)
        return;                 /* no daemon listening: nothing to wake */
#ifdef _WIN32
    if (wake_endpoint(path, endpoint, sizeof endpoint) != 0)
        return;                 /* wake.sock: see sender.c publish_wake */
#else
    snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
#endif
    void *ctx = zmq_ctx_new();
    if (!ctx)
        return;
    void *sock = zmq_socket(ctx, ZMQ_PUSH);
    if (sock) {
        /* IMMEDIATE: queue nothing unless the daemon's PULL is there;
         * LINGER 0: never hang at exit on a wake nobody reads. */
        int one = 1, zero = 0;
        zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one);
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(sock, endpoint) == 0) {
            zmq_pollitem_t item = {sock, 0, ZMQ_POLLOUT, 0};
            if (zmq_poll(&item, 1, WAKE_WAIT_MS) == 1
                && (item.revents & ZMQ_POLLOUT))
                zmq_send(sock, "wake", 4, ZMQ_DONTWAIT);
        }
        zmq_close(sock);
    }
    zmq_ctx_term(ctx);
}
