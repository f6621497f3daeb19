/*  page: see page.h. The HTML is agent/page.html, compiled in (xxd). */
#include "page.h"

#include "entrycheck.h"
#include "import.h"
#include "livestate.h"
#include "receipt_verify.h"
#include "recheck.h"

#include "cds_carry.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_period.h"
#include "cds_util.h"
#include "page_html.h"

#include <arpa/inet.h>
#ifndef _WIN32
#include <dlfcn.h>
#endif
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_HEX 65                   /* 32 random bytes in hex + NUL */
#define PAGE_VALUES_MAX 20000          /* values listed on the page */

struct page {
    page_config_t cfg;
    struct sockaddr_in addr;
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu;                /* login token vs the page thread */
    char login[TOKEN_HEX];             /* "" when none usable */
    uint64_t login_until_ms;
    char session[TOKEN_HEX];           /* "" until a login */
    char csrf[TOKEN_HEX];
};

typedef struct {
    page_t *page;
    struct MHD_Connection *conn;
    const char *method, *path;
    char *body;                        /* NUL-terminated upload */
    size_t len;
    bool too_big;
    struct MHD_Response *resp;
    unsigned status;
} req_t;

/* libmicrohttpd is loaded by `open` only (dlopen): linked, it would bring
 * GnuTLS and its libraries into every agent process, and the idle `run`
 * daemon grew by 2.6 MiB of RSS (docs/PERFORMANCE.md "Agent footprint").
 * The types come from microhttpd.h, so a call cannot disagree with it.
 * On Windows it is linked in (static, built without TLS by
 * deploy/windows/deps.sh: the page is on 127.0.0.1 only), and the table
 * holds its functions directly. */
#define MHD_SONAME "libmicrohttpd.so.12"
static struct {
    void *lib;
    __typeof__(MHD_start_daemon) *start;
    __typeof__(MHD_stop_daemon) *stop;
    __typeof__(MHD_get_daemon_info) *daemon_info;
    __typeof__(MHD_lookup_connection_value) *lookup;
    __typeof__(MHD_create_response_from_buffer) *create;
    __typeof__(MHD_add_response_header) *add_header;
    __typeof__(MHD_destroy_response) *destroy;
    __typeof__(MHD_queue_response) *queue;
    __typeof__(MHD_http_unescape) *unescape;
} mhd;

#ifdef _WIN32
static int
mhd_load(char *err, size_t errlen)
{
    (void) err, (void) errlen;
    mhd.start = MHD_start_daemon;
    mhd.stop = MHD_stop_daemon;
    mhd.daemon_info = MHD_get_daemon_info;
    mhd.lookup = MHD_lookup_connection_value;
    mhd.create = MHD_create_response_from_buffer;
    mhd.add_header = MHD_add_response_header;
    mhd.destroy = MHD_destroy_response;
    mhd.queue = MHD_queue_response;
    mhd.unescape = MHD_http_unescape;
    return 0;
}
#else
/* Resolve name into *slot; false when missing. */
static bool
mhd_sym(void *slot, const char *name)
{
    void *f = dlsym(mhd.lib, name);
    memcpy(slot, &f, sizeof f);        /* object to function pointer */
    return f != NULL;
}

static int
mhd_load(char *err, size_t errlen)
{
    if (mhd.lib)
        return 0;
    if (!(mhd.lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(err, errlen, "cannot load %s (Debian package "
                 "libmicrohttpd12): %s", MHD_SONAME, dlerror());
        return -1;
    }
    bool ok = mhd_sym(&mhd.start, "MHD_start_daemon")
              && mhd_sym(&mhd.stop, "MHD_stop_daemon")
              && mhd_sym(&mhd.daemon_info, "MHD_get_daemon_info")
              && mhd_sym(&mhd.lookup, "MHD_lookup_connection_value")
              && mhd_sym(&mhd.create, "MHD_create_response_from_buffer")
              && mhd_sym(&mhd.add_header, "MHD_add_response_header")
              && mhd_sym(&mhd.destroy, "MHD_destroy_response")
              && mhd_sym(&mhd.queue, "MHD_queue_response")
              && mhd_sym(&mhd.unescape, "MHD_http_unescape");
    if (!ok) {
        snprintf(err, errlen, "%s: %s", MHD_SONAME, dlerror());
        dlclose(mhd.lib);
        memset(&mhd, 0, sizeof mhd);
        return -1;
    }
    return 0;
}
#endif

int
page_parse_listen(const char *listen, char *err, size_t errlen)
{
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    struct in_addr a;
    if (!colon || (size_t) (colon - listen) >= sizeof host || !end || *end
        || colon[1] == '\0' || port < 0 || port > 65535) {
        snprintf(err, errlen, "http_listen: \"%s\": expected HOST:PORT such "
                 "as 127.0.0.1:7790", listen ? listen : "");
        return -1;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1
        || (ntohl(a.s_addr) >> 24) != 127) {
        snprintf(err, errlen, "http_listen: \"%s\": the officer's page "
                 "listens on a loopback address only (127.0.0.1)", listen);
        return -1;
    }
    return 0;
}

static void
random_hex(char out[TOKEN_HEX])
{
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, TOKEN_HEX, b, sizeof b);
}

/* ---- replies ---------------------------------------------------------- */

static void
reply(req_t *r, unsigned status, const char *type, const void *data,
      size_t len)
{
    if (r->resp)
        mhd.destroy(r->resp);
    r->resp = mhd.create(len, (void *) data,
                                              MHD_RESPMEM_MUST_COPY);
    r->status = status;
    if (r->resp) {
        mhd.add_header(r->resp, "Content-Type", type);
        mhd.add_header(r->resp, "Cache-Control", "no-store");
        mhd.add_header(r->resp, "X-Frame-Options", "DENY");
        mhd.add_header(r->resp, "Referrer-Policy", "no-referrer");
    }
}

static void
reply_json(req_t *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        reply(r, 500, "application/json", "{\"error\":\"hết bộ nhớ\"}", 25);
        return;
    }
    reply(r, status, "application/json", text, strlen(text));
    free(text);
}

static void
reply_error(req_t *r, unsigned status, const char *msg)
{
    reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* ---- access ----------------------------------------------------------- */

int
page_login_url(page_t *self, char *url, size_t len)
{
    const union MHD_DaemonInfo *info =
        mhd.daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &self->addr.sin_addr, host, sizeof host);
    pthread_mutex_lock(&self->mu);
    random_hex(self->login);
    self->login_until_ms = cds_now_ms() + PAGE_LOGIN_TTL_MS;
    int n = snprintf(url, len, "http://%s:%u/login?t=%s", host,
                     info ? (unsigned) info->port : 0u, self->login);
    pthread_mutex_unlock(&self->mu);
    return n > 0 && (size_t) n < len ? 0 : -1;
}

/* GET /login?t=TOKEN: once, before it expires. */
static void
on_login(req_t *r)
{
    page_t *p = r->page;
    const char *t = mhd.lookup(r->conn,
                                                MHD_GET_ARGUMENT_KIND, "t");
    pthread_mutex_lock(&p->mu);
    bool ok = t && p->login[0] && strlen(t) == strlen(p->login)
              && sodium_memcmp(t, p->login, strlen(t)) == 0
              && cds_now_ms() <= p->login_until_ms;
    p->login[0] = '\0';                /* used or tried: gone */
    if (ok) {
        random_hex(p->session);
        random_hex(p->csrf);
    }
    char cookie[160];
    snprintf(cookie, sizeof cookie, "cdsync_page=%s; Path=/; HttpOnly; "
             "SameSite=Strict", p->session);
    pthread_mutex_unlock(&p->mu);
    if (!ok) {
        static const char msg[] =
            "<!doctype html><meta charset=utf-8><title>cdsync</title>"
            "<p>Liên kết đăng nhập này đã được dùng hoặc đã hết hạn. Chạy "
            "lại <code>cdsync-agent open</code> để mở trang.</p>"
            "<p lang=en>This login link was already used or has expired: "
            "run <code>cdsync-agent open</code> again.</p>";
        reply(r, 403, "text/html; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    reply(r, 303, "text/plain", "", 0);
    mhd.add_header(r->resp, "Set-Cookie", cookie);
    mhd.add_header(r->resp, "Location", "/");
}

/* True when the request carries the session cookie (and, for a POST, the
 * CSRF header); else the reply is set. */
static bool
authorized(req_t *r)
{
    page_t *p = r->page;
    const char *c = mhd.lookup(r->conn, MHD_COOKIE_KIND,
                                                "cdsync_page");
    const char *x = mhd.lookup(r->conn, MHD_HEADER_KIND,
                                                "X-CSRF-Token");
    pthread_mutex_lock(&p->mu);
    bool in = p->session[0] && c && strlen(c) == strlen(p->session)
              && sodium_memcmp(c, p->session, strlen(c)) == 0;
    bool csrf = x && strlen(x) == strlen(p->csrf)
                && sodium_memcmp(x, p->csrf, strlen(x)) == 0;
    pthread_mutex_unlock(&p->mu);
    if (!in)
        reply_error(r, 401, "Cần đăng nhập: chạy `cdsync-agent open` để "
                    "mở trang (login required)");
    else if (strcmp(r->method, "POST") == 0 && !csrf)
        reply_error(r, 403, "Thiếu mã chống giả mạo (X-CSRF-Token): tải "
                    "lại trang (CSRF token missing)");
    return in && (strcmp(r->method, "POST") != 0 || csrf);
}

/* ---- helpers ---------------------------------------------------------- */

/* Today's day number on this PC's calendar. */
static int32_t
today(void)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    return cds_day_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The current period of type t (Quarterly when the indicator has none). */
static void
current_period(const cds_indicator_t *ind, char *out, size_t len)
{
    int32_t day = today();
    cds_period_type_t t = ind->has_period_type ? ind->period_type
                                               : CDS_PT_QUARTERLY;
    if (cds_period_of_day(t, day, out, len) != 0)
        snprintf(out, len, "%s", "");
}

/* The office the commune reports to, by name: the parent, in the org-unit
 * file, of the first configured unit that exists today (a province since
 * the 2025 reform, a district before it). "" without an org-unit file or
 * a parent: the page then says "cấp trên" (the level above). */
static const char *
above_name(const page_t *p)
{
    const cds_orgunits_t *ous = p->cfg.orgunits;
    const char *list = p->cfg.intake->org_units;
    if (!ous || !list)
        return "";
    int32_t day = today();
    const char *first = NULL;
    for (const char *c = list; *c;) {
        size_t n = strcspn(c, ", \t");
        char code[128];
        if (n > 0 && n < sizeof code) {
            memcpy(code, c, n);
            code[n] = '\0';
            const cds_orgunit_t *ou = cds_orgunits_find(ous, code);
            const cds_orgunit_t *up = ou && ou->parent
                ? cds_orgunits_find(ous, ou->parent) : NULL;
            if (up && cds_orgunit_open_in(ou->valid_from, ou->valid_to, day,
                                          day))
                return up->name;
            if (up && !first)
                first = up->name;
        }
        c += n;
        c += strspn(c, ", \t");
    }
    return first ? first : "";
}

static const char *
unit_name(const page_t *p, const char *code)
{
    const cds_orgunit_t *ou = p->cfg.orgunits
        ? cds_orgunits_find(p->cfg.orgunits, code) : NULL;
    return ou ? ou->name : code;
}

/* The form: for each configured unit the indicators it reports in the
 * current period (data sets, when the agent has them); derived RATIOs are
 * computed, never entered. */
static json_t *
form_json(const page_t *p)
{
    const submit_ctx_t *in = p->cfg.intake;
    json_t *units = json_array();
    char *list = strdup(in->org_units ? in->org_units : "");
    char *save = NULL;
    for (char *c = list ? strtok_r(list, ", \t", &save) : NULL; c;
         c = strtok_r(NULL, ", \t", &save)) {
        json_t *rows = json_array();
        for (size_t i = 0; i < cds_catalog_size(in->catalog); i++) {
            const cds_indicator_t *ind = cds_catalog_at(in->catalog, i);
            char pe[CDS_PERIOD_ID_LEN];
            cds_period_t per;
            current_period(ind, pe, sizeof pe);
            if ((ind->numerator && ind->denominator) || !pe[0]
                || cds_period_parse(pe, &per) != CDS_OK
                || (in->datasets && !cds_datasets_expects(in->datasets, c,
                                    ind->code, &per, NULL, 0)))
                continue;
            json_array_append_new(rows, json_pack(
                "{s:s,s:s,s:s,s:s,s:s,s:s}", "indicator", ind->code,
                "name_vi", ind->name_vi, "name_en", ind->name_en,
                "unit", ind->unit, "type", cds_value_type_name(ind->type),
                "period", pe));
        }
        json_array_append_new(units, json_pack("{s:s,s:s,s:o}", "code", c,
                                               "name", unit_name(p, c),
                                               "rows", rows));
    }
    free(list);
    return units;
}

/* ---- each value's state ----------------------------------------------- */

typedef struct {
    json_t *map;                       /* "ou|ind|pe|disagg" -> value */
    json_t *receipts;                  /* array of {id, first, last} */
    outbox_carried_t carried;
    uint64_t acked_seq;
    bool english;                      /* reasons in English */
} values_t;

/* Record u in state at seq unless a later seq of the key is there. */
static json_t *
value_put(values_t *v, const cds_update_t *u, const char *state)
{
    char key[600];
    snprintf(key, sizeof key, "%s|%s|%s|%s", u->org_unit, u->indicator,
             u->period, u->disagg ? u->disagg : "default");
    json_t *old = json_object_get(v->map, key);
    if (old && json_integer_value(json_object_get(old, "seq"))
                   > (json_int_t) u->seq)
        return NULL;
    if (json_object_size(v->map) >= PAGE_VALUES_MAX && !old)
        return NULL;
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:s}",
                          "org_unit", u->org_unit, "indicator", u->indicator,
                          "period", u->period, "disagg",
                          u->disagg ? u->disagg : "default", "value",
                          u->value ? u->value : "", "deleted", u->deleted,
                          "seq", (json_int_t) u->seq, "state", state);
    json_object_set_new(v->map, key, e);
    return e;
}

static int
take_receipt(const outbox_receipt_t *r, void *arg)
{
    values_t *v = arg;
    if (r->status == CDSYNC__ACK_STATUS__ACK_OK)
        json_array_append_new(v->receipts, json_pack(
            "{s:I,s:I,s:I}", "id", (json_int_t) r->id, "first",
            (json_int_t) r->first_seq, "last", (json_int_t) r->last_seq));
    return 0;
}

static json_int_t
receipt_for(const values_t *v, uint64_t seq)
{
    size_t i;
    json_t *r;
    json_array_foreach(v->receipts, i, r) {
        if ((json_int_t) seq >= json_integer_value(json_object_get(r, "first"))
            && (json_int_t) seq
                   <= json_integer_value(json_object_get(r, "last")))
            return json_integer_value(json_object_get(r, "id"));
    }
    return 0;
}

/* fn(arg, u) for each update of the kept batch k with seq in [from, to]
 * (strings borrowed for the call); a batch that does not decode has
 * none. */
static void
kept_updates(const outbox_kept_t *k, uint64_t from, uint64_t to,
             void (*fn)(void *arg, const cds_update_t *u), void *arg)
{
    Cdsync__Envelope *env = NULL;
    if (cds_envelope_decode(k->envelope, k->envelope_len, &env) != CDS_OK)
        return;
    int err = CDS_OK;
    Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor,
                                      env->body.data, env->body.len, &err);
    for (size_t i = 0; b && i < b->n_updates; i++) {
        cds_update_t u;
        cds_update_from_pb(b->updates[i], &u);
        u.seq = b->first_seq + i;
        if (u.seq > to)
            break;
        if (u.seq >= from)
            fn(arg, &u);
    }
    cds_msg_free(b);
    cds_msg_free(env);
}

static void
put_received(void *arg, const cds_update_t *u)
{
    values_t *v = arg;
    json_t *e = value_put(v, u, "received");
    if (e)
        json_object_set_new(e, "receipt", json_integer(receipt_for(v, u->seq)));
}

/* A kept batch: every update in it up to acked_seq was received. */
static int
take_kept_values(const outbox_kept_t *k, void *arg)
{
    kept_updates(k, 0, ((values_t *)arg)->acked_seq, put_received, arg);
    return 0;
}

/* What a refusal of one value means, in the officer's words; the
 * aggregator's own message (English, naming field and value) follows it
 * as the detail. */
static const char *
refusal_words(int code, bool en)
{
    switch (code) {
    case CDS_EUNITCLOSED:
        return recheck_reason_words(code, en);
    case CDS_ENOTALLOWED:
        return en ? "this PC is not enrolled to report for this unit"
                  : "máy này không được đăng ký báo cáo cho đơn vị này";
    case CDS_EUNKNOWNINDICATOR:
        return en ? "indicator not in the aggregator's catalog"
                  : "chỉ tiêu không có trong danh mục của máy chủ tổng hợp";
    case CDS_EUNKNOWNORGUNIT:
        return en ? "unit not in the aggregator's list of units"
                  : "đơn vị không có trong danh sách đơn vị của máy chủ "
                    "tổng hợp";
    case CDS_EBADPERIOD:
        return en ? "the period does not fit the indicator"
                  : "kỳ báo cáo không đúng với chỉ tiêu";
    case CDS_EBADVALUE:
        return en ? "the value does not fit the indicator's type"
                  : "giá trị không đúng kiểu của chỉ tiêu";
    case CDS_ERANGE:
        return en ? "the value is outside the indicator's bounds"
                  : "giá trị nằm ngoài giới hạn của chỉ tiêu";
    case CDS_EBADFIELD:
        return en ? "a field is empty, too long or not valid text"
                  : "một trường bị trống, quá dài hoặc sai mã ký tự";
    case CDS_EFUTURE:
        return en ? "entered at a time in the future: check this PC's clock"
                  : "thời điểm nhập ở tương lai: kiểm tra đồng hồ của máy";
    default:
        return en ? "not accepted by the aggregator"
                  : "máy chủ tổng hợp không nhận giá trị này";
    }
}

static int
take_rejected(const outbox_rejected_t *r, void *arg)
{
    values_t *v = arg;
    /* period_locked: not refused, held for the district's answer */
    json_t *e = value_put(v, &r->u,
                          r->code == CDS_ELOCKED ? "held" : "refused");
    if (e)
        json_object_set_new(e, "reason", json_sprintf(
            "%s — %s%s: %s (%s)", refusal_words(r->code, v->english),
            v->english ? "" : "chi tiết: ", r->field ? r->field : "",
            r->message ? r->message : "", cds_strerror(r->code)));
    return 0;
}

/* A value held back after a metadata change (outbox.h "Held values"). */
static int
take_held(const outbox_held_t *h, void *arg)
{
    values_t *v = arg;
    json_t *e = value_put(v, &h->row->u, "kept_back");
    if (e) {
        json_object_set_new(e, "reason", json_string(
            recheck_reason_words(h->code, v->english)));
        json_object_set_new(e, "message", json_string(h->message));
        json_object_set_new(e, "suggestion", json_string(h->suggestion));
        json_object_set_new(e, "held_id", json_integer(h->id));
    }
    return 0;
}

static int
take_pending(values_t *v, outbox_t *ob)
{
    uint64_t next = outbox_first_pending(ob);
    int rc = CDS_OK;
    while (rc == CDS_OK && next) {
        outbox_row_t *rows = NULL;
        size_t n = 0;
        rc = outbox_read(ob, next, 1000, SIZE_MAX, &rows, &n);
        for (size_t i = 0; rc == CDS_OK && i < n; i++) {
            const cds_update_t *u = &rows[i].u;
            bool carried = v->carried.exports && u->seq >= v->carried.first_seq
                           && u->seq <= v->carried.last_seq;
            json_t *e = value_put(v, u, carried ? "sent" : "queued");
            if (e && carried)
                json_object_set_new(e, "via", json_string("usb"));
            next = u->seq + 1;
        }
        outbox_rows_free(&rows, n);
        if (n == 0)
            break;
    }
    return rc;
}

/* Every value the agent knows with its state, latest seq per key. */
static json_t *
values_json(page_t *p, bool english)
{
    outbox_t *ob = p->cfg.outbox;
    outbox_meta_t m;
    values_t v = {json_object(), json_array(), {0}, 0, english};
    int rc = outbox_meta(ob, &m);
    if (rc == CDS_OK) {
        v.acked_seq = m.acked_seq;
        rc = outbox_carried_open(ob, &v.carried);
    }
    if (rc == CDS_OK)
        rc = outbox_receipts_list(ob, take_receipt, &v);
    if (rc == CDS_OK)
        rc = outbox_kept_list(ob, 1, m.acked_seq, take_kept_values, &v);
    if (rc == CDS_OK)
        rc = outbox_rejected_list(ob, take_rejected, &v);
    if (rc == CDS_OK)
        rc = outbox_held_list(ob, take_held, &v);
    if (rc == CDS_OK)
        rc = take_pending(&v, ob);
    json_t *out = json_array();
    const char *key;
    json_t *e;
    json_object_foreach(v.map, key, e) {
        /* names, as the form shows them: the officer reads names */
        const char *ou = json_string_value(json_object_get(e, "org_unit"));
        const cds_indicator_t *ind = cds_catalog_find(
            p->cfg.intake->catalog,
            json_string_value(json_object_get(e, "indicator")));
        json_object_set_new(e, "unit_name", json_string(unit_name(p, ou)));
        json_object_set_new(e, "indicator_name", json_string(
            !ind ? "" : english && ind->name_en && *ind->name_en
                            ? ind->name_en : ind->name_vi));
        json_array_append(out, e);
    }
    json_decref(v.map);
    json_decref(v.receipts);
    if (rc != CDS_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The metadata the officer's entries are checked with (docs/AGENT.md
 * "Metadata from the aggregator"): version in use (0: the configured
 * files), the newest announced, the change of the one in use in words,
 * the last refusal. */
static void
meta_json(page_t *p, const outbox_meta_t *m, json_t *o)
{
    outbox_metadata_t cur;
    const char *summary = "";
    bool have = m->metadata_version
                && outbox_metadata_get(p->cfg.outbox, m->metadata_version,
                                       &cur) == CDS_OK;
    if (have)
        summary = cur.summary;
    json_object_set_new(o, "metadata", json_pack(
        "{s:I,s:I,s:s,s:s}", "in_use", (json_int_t) m->metadata_version,
        "latest", (json_int_t) m->metadata_latest, "change", summary,
        "refused", m->metadata_error));
    if (have)
        outbox_metadata_clear(&cur);
}

/* The verdict of `status`, the last ack and the live connection state. */
static json_t *
sync_json(page_t *p, bool english)
{
    outbox_meta_t m;
    char why[1024] = "";
    const char *state = "CRITICAL";
    status_limits_t lim = p->cfg.limits;
    lim.english = english;
    lim.plain = true;
    int sev = status_severity(p->cfg.outbox, p->cfg.state_dir, &lim,
                              cds_now_ms(), why, sizeof why, &state);
    livestate_t live;
    bool have_live = livestate_read(p->cfg.state_dir, &live) == 0;
    if (outbox_meta(p->cfg.outbox, &m) != CDS_OK)
        memset(&m, 0, sizeof m);
    json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:s,s:I,s:I}", "code", sev,
                          "state", state, "why", why, "last_ack_at_ms",
                          (json_int_t) m.last_ack_at_ms, "conn",
                          have_live ? live.state : m.conn_state, "pending",
                          (json_int_t) outbox_depth(p->cfg.outbox),
                          "acked_seq", (json_int_t) m.acked_seq);
    if (o)
        meta_json(p, &m, o);
    return o;
}

/* GET /api/state[?lang=en] */
static void
on_state(req_t *r)
{
    page_t *p = r->page;
    const char *lang = mhd.lookup(r->conn,
                                                   MHD_GET_ARGUMENT_KIND,
                                                   "lang");
    bool en = lang && strcmp(lang, "en") == 0;
    json_t *values = values_json(p, en);
    if (!values) {
        reply_error(r, 500, "Không đọc được cơ sở dữ liệu của máy trạm "
                    "(agent.db): xem nhật ký");
        return;
    }
    char csrf[TOKEN_HEX];
    pthread_mutex_lock(&p->mu);
    memcpy(csrf, p->csrf, sizeof csrf);
    pthread_mutex_unlock(&p->mu);
    reply_json(r, 200, json_pack("{s:s,s:s,s:o,s:o,s:o}", "csrf", csrf,
                                 "above", above_name(p), "units",
                                 form_json(p), "values", values, "sync",
                                 sync_json(p, en)));
}

/* ---- input ------------------------------------------------------------ */

static const char *
field_vi(const char *field)
{
    static const struct { const char *f, *vi; } names[] = {
        {"value", "Giá trị"}, {"indicator", "Chỉ tiêu"},
        {"period", "Kỳ báo cáo"}, {"orgunit", "Đơn vị"},
        {"org_unit", "Đơn vị"}, {"disagg", "Phân tổ"},
        {"comment", "Ghi chú"}, {"stored_by", "Người nhập"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (field && strcmp(field, names[i].f) == 0)
            return names[i].vi;
    return field && *field ? field : "Dữ liệu";
}

/* The update in a JSON body {org_unit, indicator, period, value, delete,
 * comment}; strings borrowed from *doc. false with the reply set. */
static bool
body_update(req_t *r, json_t **doc, cds_update_t *u)
{
    json_error_t je;
    memset(u, 0, sizeof *u);
    *doc = json_loadb(r->body ? r->body : "", r->len, 0, &je);
    json_t *d = *doc;
    if (!json_is_object(d)) {
        reply_error(r, 400, "Yêu cầu không phải JSON hợp lệ (bad JSON)");
        return false;
    }
    u->org_unit = json_string_value(json_object_get(d, "org_unit"));
    u->indicator = json_string_value(json_object_get(d, "indicator"));
    u->period = json_string_value(json_object_get(d, "period"));
    u->value = json_string_value(json_object_get(d, "value"));
    u->comment = json_string_value(json_object_get(d, "comment"));
    u->deleted = json_is_true(json_object_get(d, "delete"));
    if (!u->org_unit || !u->indicator || !u->period
        || (!u->value && !u->deleted)) {
        reply_error(r, 400, "Thiếu trường: cần org_unit, indicator, period "
                    "và value (hoặc delete)");
        return false;
    }
    if (u->deleted)
        u->value = "";
    return true;
}

/* The refusal of u as a Vietnamese sentence naming field and value. */
static void
reply_refused(req_t *r, const cds_update_t *u, const char *field,
              const char *msg)
{
    char *text = NULL;
    if (asprintf(&text, "%s không hợp lệ (%s «%s», %s %s, kỳ %s): %s",
                 field_vi(field), field, u->value ? u->value : "",
                 u->indicator, u->org_unit, u->period, msg) < 0)
        text = NULL;
    reply_json(r, 400, json_pack("{s:b,s:s,s:s}", "ok", 0, "field",
                                 field ? field : "", "error",
                                 text ? text : msg));
    free(text);
}

/* POST /api/check (queue false: the rules of submit, nothing queued) and
 * POST /api/submit (queue true: exactly `submit`, the daemon woken). */
static void
take_value(req_t *r, bool queue)
{
    json_t *doc = NULL;
    cds_update_t u;
    char canon[CDS_MAX_VALUE + 1], msg[600];
    const char *field = "";
    if (!body_update(r, &doc, &u)) {
        json_decref(doc);
        return;
    }
    const submit_ctx_t *in = r->page->cfg.intake;
    const char *typed = u.value;
    char *warn = NULL;
    size_t wlen = 0;
    int rc = submit_check(in, &u, canon, sizeof canon, &field, msg,
                          sizeof msg);
    FILE *wf = rc == CDS_OK ? open_memstream(&warn, &wlen) : NULL;
    if (wf)        /* the rules' warnings (entrycheck.h), never a refusal */
        entrycheck_warn(in->catalog, in->rules, r->page->cfg.outbox, &u, 1,
                        wf);
    if (wf)
        fclose(wf);
    if (rc != CDS_OK) {
        u.value = typed;
        reply_refused(r, &u, field, msg);
    } else if (queue && (rc = submit_update(in, r->page->cfg.outbox, &u, msg,
                                            sizeof msg)) != CDS_OK) {
        char text[800];
        snprintf(text, sizeof text, "Không xếp hàng được giá trị: %s", msg);
        reply_error(r, rc == CDS_EFULL ? 503 : 500, text);
    } else
        reply_json(r, 200, json_pack("{s:b,s:I,s:s,s:s}", "ok", 1, "seq",
                                     (json_int_t) u.seq, "value", u.value,
                                     "warning", warn ? warn : ""));
    free(warn);
    json_decref(doc);
}

static void
on_check(req_t *r)
{
    take_value(r, false);
}

static void
on_submit(req_t *r)
{
    take_value(r, true);
}

/* The upload in a new file <state_dir>/<dir>/<prefix>-<ms>-<rand>.<ext>
 * (0600), its path into path. 0, or -1 with the reply set. */
static int
save_upload(req_t *r, const char *dir, const char *prefix, const char *ext,
            char *path, size_t len)
{
    char d[600];
    snprintf(d, sizeof d, "%s/%s", r->page->cfg.state_dir, dir);
    unsigned char rnd[4];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(path, len, "%s/%s-%llu-%02x%02x%02x%02x.%s", d, prefix,
             (unsigned long long) cds_now_ms(), rnd[0], rnd[1], rnd[2],
             rnd[3], ext);
    FILE *f = NULL;
    if (cds_mkdir_p(d, 0700) == 0)
        f = fopen(path, "wx");
    bool ok = f && fwrite(r->body ? r->body : "", 1, r->len, f) == r->len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        char msg[800];
        snprintf(msg, sizeof msg, "Không lưu được tệp tải lên %s: %s", path,
                 strerror(errno));
        reply_error(r, 500, msg);
        unlink(path);
        return -1;
    }
    return 0;
}

/* Replace every "tmp" in text by "name" (the file's name as uploaded). */
static json_t *
lines_renamed(char *text, const char *tmp, const char *name)
{
    json_t *out = json_array();
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char buf[1200];
        size_t tl = strlen(tmp);
        if (strncmp(l, tmp, tl) == 0)
            snprintf(buf, sizeof buf, "%s%s", name, l + tl);
        else
            snprintf(buf, sizeof buf, "%s", l);
        json_array_append_new(out, json_string(buf));
    }
    return out;
}

/* POST /api/import (body: the CSV, header X-File-Name): `import`. */
static void
on_import(req_t *r)
{
    const char *name = mhd.lookup(r->conn, MHD_HEADER_KIND,
                                                   "X-File-Name");
    char path[900], err[800], shown[256];
    snprintf(shown, sizeof shown, "%s", name ? name : "");
    mhd.unescape(shown);          /* the page sends it %-encoded */
    name = shown;
    if (!*name || strpbrk(name, "/\\")
        || !cds_utf8_valid(name, strlen(name)))
        name = "upload.csv";
    if (save_upload(r, "uploads", "import", "csv", path, sizeof path) != 0)
        return;
    char *text = NULL;
    size_t tlen = 0;
    FILE *errf = open_memstream(&text, &tlen);
    import_result_t res;
    memset(&res, 0, sizeof res);
    int rc = errf ? import_file(r->page->cfg.intake, r->page->cfg.outbox,
                                path, errf, &res, err, sizeof err)
                  : CDS_ENOMEM;
    if (errf)
        fclose(errf);
    unlink(path);
    if (rc == CDS_OK)
        reply_json(r, 200, json_pack("{s:b,s:i,s:I,s:I}", "ok", 1, "queued",
                                     (int) res.queued, "first_seq",
                                     (json_int_t) res.first_seq, "last_seq",
                                     (json_int_t) res.last_seq));
    else if (rc == CDS_EBADFIELD || rc == CDS_EMALFORMED) {
        char head[1024];           /* the file name (bounded) and the text */
        snprintf(head, sizeof head, "Tệp %s có %zu dòng sai; không nạp giá "
                 "trị nào. Sửa các dòng dưới đây rồi nạp lại:", name,
                 res.bad_rows);
        reply_json(r, 400, json_pack("{s:b,s:s,s:o}", "ok", 0, "error",
                                     head, "rows", lines_renamed(
                                         text ? text : "", path, name)));
    } else {
        char msg[1200];
        snprintf(msg, sizeof msg, "Không nạp được %s: %s", name, err);
        reply_error(r, rc == CDS_EFULL ? 503 : 500, msg);
    }
    free(text);
}

/* POST /api/export: export-batches to <state_dir>/exports/..., downloaded. */
static void
on_export(req_t *r)
{
    page_t *p = r->page;
    char dir[600], path[900], err[1024], name[80];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(name, sizeof name, "cdsync-lo-%s-%03u-seq%llu.cdsbatch", stamp,
             (unsigned) (cds_now_ms() % 1000),
             (unsigned long long) outbox_first_pending(p->cfg.outbox));
    snprintf(dir, sizeof dir, "%s/exports", p->cfg.state_dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    carry_result_t res;
    int rc = cds_mkdir_p(dir, 0700) == 0
        ? carry_export(p->cfg.outbox, &p->cfg.carry, path, cds_now_ms(), &res,
                       NULL, err, sizeof err)
        : CDS_EIO;
    if (rc == CDS_ENOTFOUND) {
        reply_error(r, 409, "Không có giá trị nào đang chờ gửi: không có gì "
                    "để xuất ra USB (nothing pending)");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    if (rc == CDS_OK && cds_read_file(path, CDS_CARRY_MAX_BYTES, &data, &len)
                            != CDS_OK)
        rc = CDS_EIO;
    if (rc != CDS_OK) {
        char msg[1200];
        snprintf(msg, sizeof msg, "Không xuất được: %s",
                 rc == CDS_EIO && !err[0] ? strerror(errno) : err);
        reply_error(r, 500, msg);
        free(data);
        return;
    }
    char disp[160];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
    reply(r, 200, "application/octet-stream", data, len);
    mhd.add_header(r->resp, "Content-Disposition", disp);
    free(data);
}

/* POST /api/receipt (body: the receipt file): import-receipt. */
static void
on_receipt_upload(req_t *r)
{
    page_t *p = r->page;
    char path[900], err[1024];
    if (save_upload(r, "uploads", "receipt", "cdsack", path, sizeof path))
        return;
    carry_result_t res;
    memset(&res, 0, sizeof res);
    int rc = carry_import_receipt(p->cfg.outbox, p->cfg.carry.id,
                                  p->cfg.server_pk, path, cds_now_ms(), &res,
                                  err, sizeof err);
    unlink(path);
    if (rc == CDS_OK) {
        reply_json(r, 200, json_pack("{s:b,s:i,s:i,s:I,s:i}", "ok", 1,
                                     "recorded", (int) res.batches, "already",
                                     (int) res.already, "acked_seq",
                                     (json_int_t) res.last_seq, "rejected",
                                     (int) res.rejected));
        return;
    }
    char msg[1400];
    snprintf(msg, sizeof msg, "Biên nhận không hợp lệ, không ghi nhận gì: %s "
             "(%s)", err, cds_strerror(rc));
    reply_error(r, rc == CDS_EIO || rc == CDS_ENOMEM ? 500 : 400, msg);
}

/* ---- the printable receipt -------------------------------------------- */

static void
html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* The values a receipt covers, as rows of the printed biên nhận: every
 * update of the kept batches in [from, to], refused ones marked. */
typedef struct {
    const page_t *p;
    FILE *f;
    uint64_t from, to;
    json_t *refused;                   /* "seq" -> code */
    size_t rows;
} receipt_rows_t;

static int
take_refused_seq(const outbox_rejected_t *r, void *arg)
{
    char k[24];
    snprintf(k, sizeof k, "%llu", (unsigned long long)r->u.seq);
    json_object_set_new(arg, k, json_integer(r->code));
    return 0;
}

static void
receipt_cell(FILE *f, const char *text, const char *code)
{
    fputs("<td>", f);
    html_escape(f, text);
    if (code && *code && strcmp(text, code) != 0) {
        fputs("<br><small>", f);
        html_escape(f, code);
        fputs("</small>", f);
    }
    fputs("</td>", f);
}

static void
put_receipt_row(void *arg, const cds_update_t *u)
{
    receipt_rows_t *rr = arg;
    const cds_indicator_t *ind = cds_catalog_find(rr->p->cfg.intake->catalog,
                                                  u->indicator);
    char pe[96], k[24];
    cds_period_words_vi(u->period, pe, sizeof pe);
    snprintf(k, sizeof k, "%llu", (unsigned long long)u->seq);
    json_t *rc = json_object_get(rr->refused, k);
    fprintf(rr->f, "<tr><td>%llu</td>", (unsigned long long)u->seq);
    receipt_cell(rr->f, unit_name(rr->p, u->org_unit), u->org_unit);
    receipt_cell(rr->f, ind ? ind->name_vi : u->indicator, u->indicator);
    receipt_cell(rr->f, *pe ? pe : u->period, u->period);
    receipt_cell(rr->f, u->deleted ? "(xoá)" : u->value ? u->value : "",
                 NULL);
    receipt_cell(rr->f, rc ? refusal_words((int)json_integer_value(rc), false)
                           : "đã nhận", NULL);
    fputs("</tr>\n", rr->f);
    rr->rows++;
}

static int
take_receipt_rows(const outbox_kept_t *k, void *arg)
{
    receipt_rows_t *rr = arg;
    kept_updates(k, rr->from, rr->to, put_receipt_row, rr);
    return 0;
}

/* GET /receipt?id=N: the stored receipt verified again and printed as a
 * biên nhận: who received what and when in words, every value it covers
 * (while its batch is kept), then the signed facts for whoever checks. */
static void
on_receipt_page(req_t *r)
{
    page_t *p = r->page;
    const char *id = mhd.lookup(r->conn,
                                                 MHD_GET_ARGUMENT_KIND, "id");
    char *end = NULL;
    long long n = id ? strtoll(id, &end, 10) : 0;
    uint8_t *env = NULL;
    size_t len = 0;
    if (!id || !*id || *end || n <= 0
        || receipt_load(p->cfg.outbox, n, &env, &len) != CDS_OK) {
        reply_error(r, 404, "Không có biên nhận số này (id)");
        return;
    }
    receipt_facts_t facts;
    char err[400], *text = NULL, *facts_text = NULL;
    size_t tlen = 0, flen = 0;
    int rc = receipt_verify(env, len, p->cfg.server_pk, NULL, &facts, err,
                            sizeof err);
    free(env);
    FILE *ff = open_memstream(&facts_text, &flen);
    if (ff) {
        if (rc == CDS_OK)
            receipt_print(&facts, ff);
        else
            fprintf(ff, "receipt NOT valid: %s\n", err);
        fclose(ff);
    }
    FILE *f = open_memstream(&text, &tlen);
    if (!f) {
        free(facts_text);
        reply_error(r, 500, "hết bộ nhớ");
        return;
    }
    fprintf(f, "<!doctype html><html lang=vi><meta charset=utf-8><title>Biên "
            "nhận số %lld</title><style>body{font-family:sans-serif;"
            "max-width:52em;margin:2em auto}pre{white-space:pre-wrap;"
            "border:1px solid #888;padding:1em;font-size:.85em}"
            "table{border-collapse:collapse;width:100%%;margin:.5em 0}"
            "th,td{border:1px solid #888;padding:.3em .5em;text-align:left;"
            "vertical-align:top}th{white-space:nowrap}small{color:#555}"
            "h2{font-size:1.1em}"
            "@media print{button{display:none}}</style>"
            "<h1>Biên nhận số %lld</h1><p>", n, n);
    if (rc != CDS_OK) {
        fputs("CẢNH BÁO: chữ ký của biên nhận này KHÔNG hợp lệ.</p>", f);
    } else {
        const char *above = above_name(p);
        uint64_t upto = facts.acked_seq < facts.last_seq ? facts.acked_seq
                                                         : facts.last_seq;
        char when[64] = "";
        struct tm tm;
        if (cds_vn_tm(facts.committed_at_ms, &tm) == 0)
            strftime(when, sizeof when, "%H:%M:%S ngày %d/%m/%Y (giờ Việt "
                     "Nam)", &tm);
        html_escape(f, *above ? above : "Cấp trên");
        fputs(" đã nhận và ký xác nhận các giá trị dưới đây (chữ ký đã được "
              "kiểm tra lại trên máy này).</p><table>", f);
        fputs("<tr><th>Máy gửi (xã)</th><td>", f);
        html_escape(f, cds_identity_label(p->cfg.carry.id));
        fprintf(f, "</td></tr><tr><th>Thời điểm ghi nhận</th><td>%s</td></tr>"
                "<tr><th>Số thứ tự giá trị</th><td>%llu đến %llu</td></tr>"
                "<tr><th>Giá trị bị từ chối</th><td>%zu</td></tr></table>",
                when, (unsigned long long)facts.first_seq,
                (unsigned long long)upto, facts.n_rejections);
        fputs("<h2>Các giá trị</h2><table><tr><th>Số</th><th>Đơn vị</th>"
              "<th>Chỉ tiêu</th><th>Kỳ</th><th>Giá trị</th>"
              "<th>Kết quả</th></tr>\n", f);
        receipt_rows_t rr = {p, f, facts.first_seq, upto, json_object(), 0};
        if (rr.refused)
            outbox_rejected_list(p->cfg.outbox, take_refused_seq,
                                 rr.refused);
        outbox_kept_list(p->cfg.outbox, rr.from, rr.to, take_receipt_rows,
                         &rr);
        json_decref(rr.refused);
        fputs("</table>", f);
        if (rr.rows == 0)
            fputs("<p>Danh sách giá trị không còn trên máy này: lô dữ liệu "
                  "đã hết thời hạn lưu (agent.keep_days); biên nhận vẫn "
                  "có giá trị.</p>", f);
    }
    fputs("<h2>Thông tin kiểm tra chữ ký</h2><pre>", f);
    html_escape(f, facts_text);
    fputs("</pre><button onclick=\"print()\">In biên nhận</button></html>",
          f);
    fclose(f);
    reply(r, 200, "text/html; charset=utf-8", text, tlen);
    free(text);
    free(facts_text);
}

/* ---- dispatch --------------------------------------------------------- */

typedef struct {
    const char *method, *path;
    void (*fn)(req_t *r);
} route_t;

static const route_t routes[] = {
    {"GET", "/api/state", on_state},
    {"POST", "/api/check", on_check},
    {"POST", "/api/submit", on_submit},
    {"POST", "/api/import", on_import},
    {"POST", "/api/export", on_export},
    {"POST", "/api/receipt", on_receipt_upload},
    {"GET", "/receipt", on_receipt_page},
};

static void
run_route(req_t *r)
{
    if (strcmp(r->path, "/login") == 0 && strcmp(r->method, "GET") == 0) {
        on_login(r);
        return;
    }
    if (!authorized(r))
        return;
    if (strcmp(r->path, "/") == 0 && strcmp(r->method, "GET") == 0) {
        reply(r, 200, "text/html; charset=utf-8", page_html,
              page_html_len);
        mhd.add_header(r->resp, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self' "
                                "'unsafe-inline'; style-src 'unsafe-inline'");
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(r->path, routes[i].path) == 0
            && strcmp(r->method, routes[i].method) == 0) {
            routes[i].fn(r);
            return;
        }
    reply_error(r, 404, "Không có trang này (not found)");
}

static void
take_upload(req_t *r, const char *data, size_t n)
{
    if (r->too_big || n > PAGE_BODY_MAX - r->len) {
        r->too_big = true;
        return;
    }
    char *b = realloc(r->body, r->len + n + 1);
    if (!b) {
        r->too_big = true;
        return;
    }
    memcpy(b + r->len, data, n);
    r->len += n;
    b[r->len] = '\0';
    r->body = b;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
    (void) version;
    req_t *r = *con_cls;
    if (!r) {                          /* headers only: set up */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->page = cls;
        r->conn = conn;
        r->method = method;
        r->path = url;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        take_upload(r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        reply_error(r, 413, "Tệp quá lớn (tối đa 4 MiB)");
    else
        run_route(r);
    if (!r->resp)
        return MHD_NO;
    enum MHD_Result rc = mhd.queue(conn, r->status, r->resp);
    mhd.destroy(r->resp);
    r->resp = NULL;
    return rc;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) cls, (void) conn, (void) toe;
    req_t *r = *con_cls;
    if (!r)
        return;
    if (r->resp)
        mhd.destroy(r->resp);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* poll(2) on POSIX (no FD_SETSIZE limit); on Windows, what the library
 * was built with (select, or WSAPoll). */
#ifdef _WIN32
#define PAGE_POLL MHD_USE_AUTO
#else
#define PAGE_POLL MHD_USE_POLL
#endif

page_t *
page_start(const page_config_t *cfg, char *err, size_t errlen)
{
    if (page_parse_listen(cfg->listen, err, errlen) != 0
        || mhd_load(err, errlen) != 0)
        return NULL;
    page_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    pthread_mutex_init(&self->mu, NULL);
    const char *colon = strrchr(cfg->listen, ':');
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int) (colon - cfg->listen),
             cfg->listen);
    errno = 0;
    self->addr.sin_family = AF_INET;
    self->addr.sin_port = htons((uint16_t) atoi(colon + 1));
    inet_pton(AF_INET, host, &self->addr.sin_addr);
    self->daemon = mhd.start(
        MHD_USE_INTERNAL_POLLING_THREAD | PAGE_POLL, 0, NULL, NULL,
        on_request, self, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *) &self->addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, self, MHD_OPTION_END);
    if (!self->daemon) {
        int e = errno;                 /* 0 on Windows: winsock's is lost */
        snprintf(err, errlen, "http_listen %s: cannot listen: %s (another "
                 "`cdsync-agent open` running? set agent.http_listen)",
                 cfg->listen, e ? strerror(e) : "address in use or not "
                 "available");
        pthread_mutex_destroy(&self->mu);
        free(self);
        return NULL;
    }
    return self;
}

void
page_destroy(page_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    page_t *self = *self_p;
    mhd.stop(self->daemon);
    pthread_mutex_destroy(&self->mu);
    sodium_memzero(self->session, sizeof self->session);
    free(self);
    *self_p = NULL;
}
