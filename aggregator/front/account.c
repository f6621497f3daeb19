/*  account: officers' logins, sessions, CSRF and the login rate limit.
 *  See account.h; SQL in account_sql.h. The CLI part (account_add, ...)
 *  runs on the command's writable store; the HTTP part on the HTTP
 *  thread alone, with its read-only store (http_req_store). */
#include "account.h"

#include "account_sql.h"
#include "api.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "table.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESSION_ID_BYTES 32
#define B64_LEN 44                     /* 32 bytes base64url + NUL */

typedef struct {
    bool used;
    uint8_t hash[crypto_generichash_BYTES];   /* of the cookie value */
    char csrf[B64_LEN];
    char name[65];
    uint64_t created_ms, last_ms;
} session_t;

typedef struct {
    char key[80];                      /* "u:NAME" or "a:ADDRESS" */
    unsigned count;
    uint64_t first_ms;                 /* window start */
} fail_t;

typedef struct {
    account_limits_t lim;
    session_t sessions[ACCOUNT_SESSIONS_MAX];
    fail_t fails[ACCOUNT_FAILS_MAX];
    char dummy_hash[crypto_pwhash_STRBYTES];  /* for unknown names */
} acct_t;

static const char *const role_names[] = {
    "viewer", "district_admin", "province_admin", "operator",
};

unsigned
account_role_parse(const char *name)
{
    for (unsigned i = 0; name && i < 4; i++)
        if (strcmp(name, role_names[i]) == 0)
            return 1u << i;
    return 0;
}

/* ---- the CLI side --------------------------------------------------------- */

static bool
name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

static int
hash_password(const char *password, char out[crypto_pwhash_STRBYTES],
              char *err, size_t errlen)
{
    size_t n = password ? strlen(password) : 0;
    if (n < ACCOUNT_PASSWORD_MIN || n > ACCOUNT_PASSWORD_MAX) {
        snprintf(err, errlen, "password: %d to %d bytes",
                 ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX);
        return CDS_EUSAGE;
    }
    if (crypto_pwhash_str(out, password, n,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(err, errlen, "password hashing failed (out of memory)");
        return CDS_ENOMEM;
    }
    return CDS_OK;
}

static int
unit_exists(store_t *store, const char *ou)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         ACCOUNT_SQL_UNIT_EXISTS, 0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    int step = cds_sql_step(st);
    cds_sql_finalize(&st);
    return step == CDS_SQL_ROW ? 1 : step == CDS_SQL_DONE ? 0 : -step;
}

static int
add_checks(store_t *store, const char *name, const char *role,
           const char *ou, char *err, size_t errlen)
{
    if (!name_ok(name)) {
        snprintf(err, errlen, "user name: 1-64 printable ASCII characters, "
                 "no spaces");
        return CDS_EUSAGE;
    }
    if (!account_role_parse(role)) {
        snprintf(err, errlen, "--role \"%s\": expected viewer, "
                 "district_admin, province_admin or operator",
                 role ? role : "");
        return CDS_EUSAGE;
    }
    int ex = ou[0] ? unit_exists(store, ou) : 1;
    if (ex < 0)
        return -ex;
    if (ex == 0) {
        snprintf(err, errlen, "--org-unit \"%s\": not in the org-unit "
                 "table (aggregator.orgunits)", ou);
        return CDS_EUNKNOWNORGUNIT;
    }
    return CDS_OK;
}

int
account_add(store_t *store, const char *name, const char *role,
            const char *org_unit, const char *password, uint64_t now_ms,
            char *err, size_t errlen)
{
    char h[crypto_pwhash_STRBYTES];
    const char *ou = org_unit ? org_unit : "";
    int rc = add_checks(store, name, role, ou, err, errlen);
    if (rc == CDS_OK)
        rc = hash_password(password, h, err, errlen);
    if (rc != CDS_OK)
        return rc;
    /* account is this module's table: its own statements on the
     * connection (store.h "reading the core tables"). */
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), ACCOUNT_SQL_ADD,
                                         0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":name", name);
    cds_sql_bind_text(st, ":pwhash", h);
    cds_sql_bind_text(st, ":role", role);
    cds_sql_bind_text(st, ":ou", ou);
    cds_sql_bind_int64(st, ":now", (int64_t) now_ms);
    rc = cds_sql_run(st);
    bool taken = rc == CDS_OK && cds_sql_changes(st) == 0;
    cds_sql_finalize(&st);
    if (taken) {
        snprintf(err, errlen, "user \"%s\" exists already (user passwd "
                 "changes its password)", name);
        return CDS_EUSAGE;
    }
    return rc;
}

/* Run a one-name update (passwd, disable): CDS_ENOTFOUND when no row. */
static int
update_one(store_t *store, const char *sql, const char *name,
           const char *pwhash, uint64_t now_ms)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), sql, 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":name", name);
    if (pwhash)
        cds_sql_bind_text(st, ":pwhash", pwhash);
    cds_sql_bind_int64(st, ":now", (int64_t) now_ms);
    int rc = cds_sql_run(st);
    if (rc == CDS_OK && cds_sql_changes(st) == 0)
        rc = CDS_ENOTFOUND;
    cds_sql_finalize(&st);
    return rc;
}

int
account_passwd(store_t *store, const char *name, const char *password,
               uint64_t now_ms, char *err, size_t errlen)
{
    char h[crypto_pwhash_STRBYTES];
    int rc = hash_password(password, h, err, errlen);
    if (rc == CDS_OK)
        rc = update_one(store, ACCOUNT_SQL_PASSWD, name, h, now_ms);
    if (rc == CDS_ENOTFOUND)
        snprintf(err, errlen, "no enabled user named \"%s\"", name);
    return rc;
}

int
account_disable(store_t *store, const char *name, uint64_t now_ms)
{
    return update_one(store, ACCOUNT_SQL_DISABLE, name, NULL, now_ms);
}

static void
list_row(cds_sql_stmt_t *st, table_t *t)
{
    char created[40], disabled[40] = "-";
    cds_format_time(created, sizeof created,
                    (uint64_t) cds_sql_col_int64(st, 3));
    if (cds_sql_col_type(st, 4) != CDS_SQL_NULL)
        cds_format_time(disabled, sizeof disabled,
                        (uint64_t) cds_sql_col_int64(st, 4));
    const char *ou = cds_sql_col_text(st, 2);
    const char *cells[] = { cds_sql_col_text(st, 0), cds_sql_col_text(st, 1),
                            ou && ou[0] ? ou : "(all)", created, disabled };
    table_add(t, cells);
}

int
account_list(store_t *store, FILE *out)
{
    static const char *const header[] = { "name", "role", "org_unit",
                                          "created", "disabled" };
    cds_sql_stmt_t *st = cds_sql_prepare2(store_sql(store), ACCOUNT_SQL_LIST,
                                          ACCOUNT_SQL_LIST_PG, 0);
    table_t *t = table_new(header, 5);
    int rc = st && t ? CDS_OK : CDS_ERROR, step = CDS_SQL_DONE;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW)
        list_row(st, t);
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;
    if (rc == CDS_OK)
        table_print(t, out);
    table_destroy(&t);
    cds_sql_finalize(&st);
    return rc;
}

/* ---- the HTTP side: rate limit ------------------------------------------- */

static fail_t *
fail_slot(acct_t *a, const char *kind, const char *what, uint64_t now,
          bool create)
{
    char key[80];
    snprintf(key, sizeof key, "%s:%s", kind, what);
    fail_t *free_slot = NULL, *oldest = &a->fails[0];
    for (size_t i = 0; i < ACCOUNT_FAILS_MAX; i++) {
        fail_t *f = &a->fails[i];
        if (f->count && now - f->first_ms >= ACCOUNT_FAIL_WINDOW_MS)
            f->count = 0;              /* window over */
        if (f->count && strcmp(f->key, key) == 0)
            return f;
        if (!f->count && !free_slot)
            free_slot = f;
        if (f->first_ms < oldest->first_ms)
            oldest = f;
    }
    if (!create)
        return NULL;
    fail_t *f = free_slot ? free_slot : oldest;
    snprintf(f->key, sizeof f->key, "%s", key);
    f->count = 0;
    f->first_ms = now;
    return f;
}

/* Minutes left of the lockout of name or peer, 0 when not locked. */
static long
locked_minutes(acct_t *a, const char *name, const char *peer, uint64_t now)
{
    fail_t *f[2] = { fail_slot(a, "u", name, now, false),
                     fail_slot(a, "a", peer, now, false) };
    unsigned max[2] = { (unsigned) a->lim.max_failures,
                        (unsigned) a->lim.max_failures * ACCOUNT_PEER_FACTOR };
    uint64_t until = 0;
    for (int i = 0; i < 2; i++)
        if (f[i] && f[i]->count >= max[i]
            && f[i]->first_ms + ACCOUNT_FAIL_WINDOW_MS > until)
            until = f[i]->first_ms + ACCOUNT_FAIL_WINDOW_MS;
    return until > now ? (long) ((until - now + 59999) / 60000) : 0;
}

static void
failed(acct_t *a, const char *name, const char *peer, uint64_t now)
{
    fail_t *f = fail_slot(a, "u", name, now, true);
    f->count++;
    f = fail_slot(a, "a", peer, now, true);
    f->count++;
}

/* ---- sessions ----------------------------------------------------------- */

static void
id_hash(const char *id, uint8_t out[crypto_generichash_BYTES])
{
    crypto_generichash(out, crypto_generichash_BYTES,
                       (const unsigned char *) id, strlen(id), NULL, 0);
}

static void
random_b64(char out[B64_LEN])
{
    uint8_t raw[SESSION_ID_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, B64_LEN, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static bool
expired(const acct_t *a, const session_t *s, uint64_t now)
{
    return now - s->last_ms >= (uint64_t) a->lim.idle_s * 1000u
           || now - s->created_ms >= (uint64_t) a->lim.max_s * 1000u;
}

/* The live session of the request's cookie, or NULL (an expired one is
 * dropped; *was_expired says so). */
static session_t *
session_of(acct_t *a, http_req_t *req, uint64_t now, bool *was_expired)
{
    const char *id = http_req_cookie(req, ACCOUNT_COOKIE);
    *was_expired = false;
    if (!id || strlen(id) != B64_LEN - 1)
        return NULL;
    uint8_t h[crypto_generichash_BYTES];
    id_hash(id, h);
    for (size_t i = 0; i < ACCOUNT_SESSIONS_MAX; i++) {
        session_t *s = &a->sessions[i];
        if (!s->used || sodium_memcmp(s->hash, h, sizeof h) != 0)
            continue;
        if (!expired(a, s, now))
            return s;
        sodium_memzero(s, sizeof *s);
        *was_expired = true;
        return NULL;
    }
    return NULL;
}

/* A new session for name: its cookie value into id. */
static session_t *
session_new(acct_t *a, const char *name, uint64_t now, char id[B64_LEN])
{
    session_t *slot = NULL;
    for (size_t i = 0; i < ACCOUNT_SESSIONS_MAX; i++) {
        session_t *s = &a->sessions[i];
        if (s->used && expired(a, s, now))
            sodium_memzero(s, sizeof *s);
        if (!s->used) {
            slot = s;
            break;
        }
        if (!slot || s->last_ms < slot->last_ms)
            slot = s;                  /* full: the least recently used */
    }
    sodium_memzero(slot, sizeof *slot);
    random_b64(id);
    id_hash(id, slot->hash);
    random_b64(slot->csrf);
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->created_ms = slot->last_ms = now;
    slot->used = true;
    return slot;
}

/* Set-Cookie for id (NULL: clear it). Secure behind a TLS proxy on this
 * host (X-Forwarded-Proto: https from 127.0.0.1). */
static void
set_cookie(acct_t *a, http_req_t *req, const char *id)
{
    char peer[64], v[256];
    http_req_peer(req, peer, sizeof peer);
    const char *proto = http_req_header(req, "X-Forwarded-Proto");
    bool secure = strcmp(peer, "127.0.0.1") == 0 && proto
                  && strcasecmp(proto, "https") == 0;
    snprintf(v, sizeof v, "%s=%s; Path=/; HttpOnly; SameSite=Strict; "
             "Max-Age=%ld%s", ACCOUNT_COOKIE, id ? id : "",
             id ? a->lim.max_s : 0L, secure ? "; Secure" : "");
    http_reply_header(req, "Set-Cookie", v);
    http_reply_header(req, "Cache-Control", "no-store");
}

/* ---- accounts on the HTTP thread ----------------------------------------- */

typedef struct {
    char pwhash[crypto_pwhash_STRBYTES];
    unsigned role;
    char org_unit[129];
    bool disabled;
} row_t;

/* 1 and *row when name exists, 0 when not, negative cds_err. */
static int
row_get(store_t *store, const char *name, row_t *row)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), ACCOUNT_SQL_GET,
                                         0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_text(st, ":name", name);
    int step = cds_sql_step(st);
    int rc = step == CDS_SQL_ROW ? 1 : step == CDS_SQL_DONE ? 0 : -step;
    if (rc == 1) {
        const char *h = cds_sql_col_text(st, 0), *ou = cds_sql_col_text(st, 2);
        snprintf(row->pwhash, sizeof row->pwhash, "%s", h ? h : "");
        row->role = account_role_parse(cds_sql_col_text(st, 1));
        snprintf(row->org_unit, sizeof row->org_unit, "%s", ou ? ou : "");
        row->disabled = cds_sql_col_type(st, 3) != CDS_SQL_NULL;
    }
    cds_sql_finalize(&st);
    return rc;
}

static void
principal_of(const char *name, const row_t *row, http_principal_t *p)
{
    memset(p, 0, sizeof *p);
    p->role = row->role;
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->org_unit, sizeof p->org_unit, "%s", row->org_unit);
}

static bool
safe_method(http_req_t *req)
{
    const char *m = http_req_method(req);
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static bool
auth_token(http_req_t *req, store_t *store, const char *token)
{
    if (api_token_check(store, token) != 1)
        return false;
    http_principal_t p = { .machine = true, .role = HTTP_ROLES_ALL };
    snprintf(p.name, sizeof p.name, "token");
    http_req_set_principal(req, &p);
    return true;
}

/* The auth hook: a bearer token, else the session cookie (CSRF-checked
 * on a state-changing method). */
static bool
on_auth(http_req_t *req, const char *token, void *ctx)
{
    acct_t *a = ctx;
    store_t *store = http_req_store(req);
    if (!store)
        return false;
    if (token[0])
        return auth_token(req, store, token);
    uint64_t now = cds_now_ms();
    bool was_expired = false;
    session_t *s = session_of(a, req, now, &was_expired);
    row_t row;
    int got = s ? row_get(store, s->name, &row) : 0;
    if (got < 0) {                     /* keep the session: not its fault */
        http_reply_error(req, 503, "database not available");
        return false;
    }
    if (s && (got == 0 || row.disabled || !row.role)) {
        sodium_memzero(s, sizeof *s);
        s = NULL;
    }
    if (!s) {
        if (was_expired)
            http_reply_error(req, 401, "Phiên đăng nhập đã hết hạn. Vui "
                             "lòng đăng nhập lại. (session expired)");
        return false;
    }
    const char *csrf = http_req_header(req, "X-CSRF-Token");
    if (!safe_method(req) && (!csrf || strlen(csrf) != strlen(s->csrf)
                              || sodium_memcmp(csrf, s->csrf,
                                               strlen(s->csrf)) != 0)) {
        http_reply_error(req, 403, "Thiếu hoặc sai mã chống giả mạo "
                         "(X-CSRF-Token). Hãy tải lại trang.");
        return false;
    }
    s->last_ms = now;
    http_principal_t p;
    principal_of(s->name, &row, &p);
    http_req_set_principal(req, &p);
    return true;
}

/* ---- routes ------------------------------------------------------------- */

/* Login CSRF: JSON only, not cross-site, Origin (when sent) our Host. */
static bool
login_origin_ok(http_req_t *req)
{
    const char *ct = http_req_header(req, "Content-Type");
    const char *site = http_req_header(req, "Sec-Fetch-Site");
    const char *origin = http_req_header(req, "Origin");
    const char *host = http_req_header(req, "Host");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return false;
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return false;
    if (!origin || strcmp(origin, "null") == 0)
        return !origin;
    const char *o = strstr(origin, "://");
    return o && host && strcmp(o + 3, host) == 0;
}

static void
reply_me(http_req_t *req, const http_principal_t *p, const char *csrf)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:b}", "name", p->name, "role",
                          p->machine ? "machine"
                                     : role_names[__builtin_ctz(p->role)],
                          "org_unit", p->org_unit, "machine", p->machine);
    if (j && csrf)
        json_object_set_new(j, "csrf", json_string(csrf));
    http_reply_json(req, 200, j);
}

/* name and password of a login body into the buffers; false when bad. */
static bool
login_body(http_req_t *req, char name[65], char pw[ACCOUNT_PASSWORD_MAX + 1])
{
    size_t len = 0;
    const uint8_t *body = http_req_body(req, &len);
    json_t *j = body ? json_loadb((const char *) body, len, 0, NULL) : NULL;
    const char *n = json_string_value(json_object_get(j, "name"));
    const char *p = json_string_value(json_object_get(j, "password"));
    bool ok = name_ok(n) && p && strlen(p) <= ACCOUNT_PASSWORD_MAX;
    if (ok) {
        snprintf(name, 65, "%s", n);
        snprintf(pw, ACCOUNT_PASSWORD_MAX + 1, "%s", p);
    }
    json_decref(j);                    /* jansson frees its copy */
    return ok;
}

/* 1: password right and account usable; 0: wrong (counted); -1: the
 * reply is set (disabled account, database error). */
static int
login_check(acct_t *a, http_req_t *req, store_t *store, const char *name,
            const char *pw, row_t *row)
{
    int got = row_get(store, name, row);
    if (got < 0) {
        http_reply_error(req, 503, "database not available");
        return -1;
    }
    if (got == 0 && !a->dummy_hash[0]  /* same cost for unknown names */
        && crypto_pwhash_str(a->dummy_hash, "-", 1,
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        a->dummy_hash[0] = '\0';
    const char *h = got ? row->pwhash : a->dummy_hash;
    if (!h[0] || crypto_pwhash_str_verify(h, pw, strlen(pw)) != 0 || !got)
        return 0;
    if (row->disabled || !row->role) {
        cds_log(CDS_LOG_WARN, "login_disabled", "user=%s", cds_logq(name));
        http_reply_error(req, 403, "Tài khoản đã bị khóa. Liên hệ quản trị "
                         "viên. (account disabled)");
        return -1;
    }
    return 1;
}

static void
on_login(http_req_t *req, void *ctx)
{
    acct_t *a = ctx;
    char name[65], pw[ACCOUNT_PASSWORD_MAX + 1], peer[64], id[B64_LEN];
    http_req_peer(req, peer, sizeof peer);
    store_t *store = http_req_store(req);
    uint64_t now = cds_now_ms();
    if (!login_origin_ok(req)) {
        http_reply_error(req, 403, "Yêu cầu đăng nhập không hợp lệ (cần "
                         "JSON từ chính trang này). (CSRF)");
        return;
    }
    if (!login_body(req, name, pw)) {
        http_reply_error(req, 400, "Cần tên đăng nhập và mật khẩu.");
        return;
    }
    long wait = locked_minutes(a, name, peer, now);
    row_t row = { .role = 0 };
    int ok = wait || !store ? -1 : login_check(a, req, store, name, pw, &row);
    sodium_memzero(pw, sizeof pw);
    if (wait) {
        char msg[256];
        snprintf(msg, sizeof msg, "Đăng nhập sai quá nhiều lần. Vui lòng "
                 "thử lại sau %ld phút.", wait);
        http_reply_error(req, 429, msg);
    } else if (!store) {
        http_reply_error(req, 503, "database not available");
    }
    if (ok <= 0) {
        if (ok == 0) {
            failed(a, name, peer, now);
            cds_log(CDS_LOG_WARN, "login_failed", "user=%s peer=%s",
                    cds_logq(name), peer);
            http_reply_error(req, 401, "Tên đăng nhập hoặc mật khẩu không "
                             "đúng.");
        }
        return;
    }
    fail_t *f = fail_slot(a, "u", name, now, false);
    if (f)
        f->count = 0;
    /* Its clocks start now, not at the request: the password hash above
     * takes long on a busy machine (seconds), all of it idle time. */
    session_t *s = session_new(a, name, cds_now_ms(), id);
    http_principal_t p;
    principal_of(name, &row, &p);
    cds_log(CDS_LOG_INFO, "login", "user=%s peer=%s", cds_logq(name), peer);
    reply_me(req, &p, s->csrf);
    set_cookie(a, req, id);
    sodium_memzero(id, sizeof id);
}

static void
on_logout(http_req_t *req, void *ctx)
{
    acct_t *a = ctx;
    bool was_expired = false;
    session_t *s = session_of(a, req, cds_now_ms(), &was_expired);
    if (s)
        sodium_memzero(s, sizeof *s);
    http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
    set_cookie(a, req, NULL);
}

static void
on_me(http_req_t *req, void *ctx)
{
    acct_t *a = ctx;
    bool was_expired = false;
    const http_principal_t *p = http_req_principal(req);
    session_t *s = p && !p->machine ? session_of(a, req, cds_now_ms(),
                                                 &was_expired)
                                    : NULL;
    if (!p) {
        http_reply_error(req, 401, "cần đăng nhập");
        return;
    }
    reply_me(req, p, s ? s->csrf : NULL);
    http_reply_header(req, "Cache-Control", "no-store");
}

static void
acct_free(void *p)
{
    sodium_free(p);
}

int
account_routes_add(http_t *http, const account_limits_t *lim, char *err,
                   size_t errlen)
{
    acct_t *a = sodium_malloc(sizeof *a);   /* guarded, never swapped */
    if (!a)
        return CDS_ENOMEM;
    memset(a, 0, sizeof *a);
    a->lim = *lim;
    if (http_cleanup_add(http, acct_free, a) != 0) {
        sodium_free(a);
        snprintf(err, errlen, "HTTP route table full");
        return CDS_ERROR;
    }
    http_set_auth(http, on_auth, a);
    if (http_route_add(http, "POST", "/api/login", on_login, a) != 0
        || http_route_add_auth(http, "POST", "/api/logout", on_logout, a)
               != 0
        || http_route_add_auth(http, "GET", "/api/me", on_me, a) != 0) {
        snprintf(err, errlen, "HTTP route table full");
        return CDS_ERROR;
    }
    return CDS_OK;
}
