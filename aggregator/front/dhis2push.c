/*  dhis2push: `push-dhis2`. See dhis2push.h. The values are export's
 *  DHIS2 JSON (export_run into memory, read back with jansson), never a
 *  second writer; the requests go out with libcurl; what DHIS2 confirmed
 *  is recorded through store_sql in this module's own tables
 *  (dhis2push_sql.h). */
#include "dhis2push.h"

#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "dhis2push_sql.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREDS_MAX 1024                 /* bytes of the credentials file */
#define DIGEST_HEX (2 * 16 + 1)

typedef struct {
    char line[CREDS_MAX];              /* USER:PASSWORD or d2pat_... */
    bool token;
} creds_t;

typedef struct {
    long imported, updated, ignored, deleted, conflicts;
} counts_t;

typedef struct {
    store_t *store;
    const dhis2push_opts_t *o;
    const char *data_set;              /* as sent (mapped by ids) */
    const char *period;                /* for the run rows ("" if none) */
    const char *id_scheme;             /* "CODE" or "UID" */
    char *endpoint;                    /* URL/api/dataValueSets?... */
    creds_t creds;
    FILE *out;
    counts_t total;
    size_t requests, confirmed;
} push_t;

typedef struct {
    char *buf;
    size_t len;
    bool over;                         /* over DHIS2PUSH_MAX_ANSWER */
} answer_t;

static const char *const id_keys[5] = { "dataElement", "orgUnit", "period",
                                        "categoryOptionCombo",
                                        "attributeOptionCombo" };

static const char *
vstr(json_t *v, const char *key)
{
    const char *s = json_string_value(json_object_get(v, key));
    return s ? s : "";
}

/* ---- credentials -------------------------------------------------------- */

/* Read path (regular, owner-only, one line) into c. CDS_OK; CDS_EPERM
 * (mode); CDS_EIO; CDS_EMALFORMED naming the problem, never the secret. */
static int
creds_read(const char *path, creds_t *c, char *err, size_t errlen)
{
    struct stat st;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "credentials: %s: %s", path ? path : "(none)",
                 !path ? "--credentials FILE is required"
                 : fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return path ? CDS_EIO : CDS_EUSAGE;
    }
    if (st.st_mode & 077) {
        close(fd);
        snprintf(err, errlen, "credentials: %s is readable by group or "
                 "others (mode %04o); run: chmod 600 %s", path,
                 (unsigned) (st.st_mode & 07777), path);
        return CDS_EPERM;
    }
    ssize_t n = read(fd, c->line, sizeof c->line - 1);
    close(fd);
    if (n < 0 || (size_t) n >= sizeof c->line - 1) {
        snprintf(err, errlen, "credentials: %s: %s", path,
                 n < 0 ? strerror(errno) : "over 1022 bytes");
        return n < 0 ? CDS_EIO : CDS_EMALFORMED;
    }
    c->line[n] = '\0';
    c->line[strcspn(c->line, "\r\n")] = '\0';
    return CDS_OK;
}

/* The file's line as basic (USER:PASSWORD) or token (d2pat_...), checked
 * against --auth when given. */
static int
creds_load(const char *path, const char *auth, creds_t *c, char *err,
           size_t errlen)
{
    int rc = creds_read(path, c, err, errlen);
    if (rc != CDS_OK)
        return rc;
    if (auth && strcmp(auth, "basic") != 0 && strcmp(auth, "token") != 0) {
        snprintf(err, errlen, "auth: \"%s\": expected basic or token", auth);
        return CDS_EUSAGE;
    }
    c->token = strncmp(c->line, "d2pat_", 6) == 0;
    bool basic_ok = strchr(c->line, ':') && c->line[0] != ':';
    const char *want = auth ? auth : c->token ? "token" : "basic";
    if (strcmp(want, "token") == 0 ? !c->token : !basic_ok) {
        snprintf(err, errlen, "credentials: %s: expected %s on its first "
                 "line", path, strcmp(want, "token") == 0
                     ? "a DHIS2 personal access token (d2pat_...)"
                     : "USER:PASSWORD");
        return CDS_EMALFORMED;
    }
    c->token = strcmp(want, "token") == 0;
    return CDS_OK;
}

/* ---- the request -------------------------------------------------------- */

/* https, or http to the loopback only; no user:password@ in it. */
static int
url_check(const char *url, char *err, size_t errlen)
{
    const char *host = !url ? NULL
        : strncmp(url, "https://", 8) == 0 ? url + 8
        : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!host) {
        snprintf(err, errlen, "url: \"%s\": expected https://HOST[/PATH] "
                 "(the DHIS2 base URL)", url ? url : "");
        return CDS_EUSAGE;
    }
    size_t hl = strcspn(host, "/?#");
    if (memchr(host, '@', hl)) {
        snprintf(err, errlen, "url: credentials are not taken on the "
                 "command line; put them in --credentials FILE");
        return CDS_EUSAGE;
    }
    bool loop = strncmp(host, "127.0.0.1", 9) == 0
                || strncmp(host, "localhost", 9) == 0
                || strncmp(host, "[::1]", 5) == 0;
    if (url[4] == ':' && !loop) {
        snprintf(err, errlen, "url: \"%s\": plain http would send the "
                 "credentials and the figures unencrypted; use https",
                 url);
        return CDS_EUSAGE;
    }
    return CDS_OK;
}

static int
endpoint_build(push_t *p, char *err, size_t errlen)
{
    const dhis2push_opts_t *o = p->o;
    const char *is = o->import_strategy ? o->import_strategy
                                        : "CREATE_AND_UPDATE";
    static const char *const ok[] = { "CREATE_AND_UPDATE", "CREATE",
                                      "UPDATE", "DELETE" };
    bool known = false;
    for (size_t i = 0; i < 4; i++)
        known = known || strcmp(is, ok[i]) == 0;
    if (!known) {
        snprintf(err, errlen, "import-strategy: \"%s\": expected "
                 "CREATE_AND_UPDATE, CREATE, UPDATE or DELETE", is);
        return CDS_EUSAGE;
    }
    size_t n = strlen(o->url);
    while (n && o->url[n - 1] == '/')
        n--;
    return asprintf(&p->endpoint, "%.*s/api/dataValueSets?dryRun=%s"
                    "&importStrategy=%s&idScheme=%s", (int) n, o->url,
                    o->dry_run ? "true" : "false", is, p->id_scheme) < 0
               ? CDS_ENOMEM : CDS_OK;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    answer_t *a = arg;
    size_t k = size * nmemb;
    if (a->len + k > DHIS2PUSH_MAX_ANSWER) {
        a->over = true;
        return 0;                      /* curl stops: CURLE_WRITE_ERROR */
    }
    char *nb = realloc(a->buf, a->len + k + 1);
    if (!nb)
        return 0;
    memcpy(nb + a->len, ptr, k);
    a->len += k;
    nb[a->len] = '\0';
    a->buf = nb;
    return k;
}

/* The handle's options: TLS checked (curl's default, kept), no redirect,
 * http(s) only, bounded time, the credentials. */
static int
post_setup(CURL *h, const push_t *p, struct curl_slist **hdr, answer_t *a)
{
    char auth[CREDS_MAX + 32];
    *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    *hdr = *hdr ? curl_slist_append(*hdr, "Accept: application/json") : NULL;
    if (*hdr && p->creds.token) {
        snprintf(auth, sizeof auth, "Authorization: ApiToken %s",
                 p->creds.line);
        struct curl_slist *n = curl_slist_append(*hdr, auth);
        sodium_memzero(auth, sizeof auth);
        *hdr = n ? n : (curl_slist_free_all(*hdr), NULL);
    }
    if (!*hdr)
        return CDS_ENOMEM;
    curl_easy_setopt(h, CURLOPT_URL, p->endpoint);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdr);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, p->o->timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, p->o->timeout_s);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cdsync-aggregator push-dhis2");
    if (p->o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, p->o->ca_file);
    if (!p->creds.token) {
        char *colon = strchr(p->creds.line, ':');
        char user[CREDS_MAX];
        snprintf(user, sizeof user, "%.*s", (int) (colon - p->creds.line),
                 p->creds.line);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, user);   /* curl copies */
        curl_easy_setopt(h, CURLOPT_PASSWORD, colon + 1);
        sodium_memzero(user, sizeof user);
    }
    return CDS_OK;
}

/* POST body; the answer into a, the HTTP status into *http. CDS_OK when
 * an HTTP answer came (any status); CDS_EIO with the reason in err. */
static int
post(const push_t *p, const char *body, answer_t *a, long *http, char *err,
     size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    int rc = h ? post_setup(h, p, &hdr, a) : CDS_ENOMEM;
    if (rc == CDS_OK) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
        if (cc != CURLE_OK) {
            snprintf(err, errlen, "%s: %s", p->o->url,
                     a->over ? "answer over 4 MiB, cut"
                     : cc == CURLE_OPERATION_TIMEDOUT
                         ? "no answer in time (--timeout)"
                         : curl_easy_strerror(cc));
            rc = CDS_EIO;
        }
    }
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

/* ---- the answer --------------------------------------------------------- */

/* The ImportSummary in root: root itself (DHIS2 <= 2.37) or its
 * "response" (the 2.38+ WebMessage). NULL: neither. */
static json_t *
summary_of(json_t *root)
{
    json_t *r = json_object_get(root, "response");
    if (json_is_object(r) && json_is_object(json_object_get(r, "importCount")))
        return r;
    return json_is_object(json_object_get(root, "importCount")) ? root
                                                                : NULL;
}

static long
count_of(json_t *sum, const char *key)
{
    return (long) json_integer_value(
        json_object_get(json_object_get(sum, "importCount"), key));
}

/* Does value v carry id (any of its five ids)? */
static bool
value_has(json_t *v, const char *id)
{
    for (int k = 0; k < 5; k++)
        if (strcmp(vstr(v, id_keys[k]), id) == 0)
            return true;
    return false;
}

static void
say_value(push_t *p, json_t *v, const char *msg)
{
    fprintf(p->out, "  conflict: data element %s, org unit %s, period %s, "
            "value \"%s\"%s: %s\n", vstr(v, "dataElement"),
            vstr(v, "orgUnit"), vstr(v, "period"), vstr(v, "value"),
            json_is_true(json_object_get(v, "deleted")) ? " (deleted)" : "",
            msg);
}

/* Mark in refused[] the values of chunk conflict c is about and name
 * them: its "indexes" (2.38+), else the values carrying its "object" or
 * one of its "objects" ids; one naming none refuses the whole request. */
static void
conflict_mark(push_t *p, json_t *c, json_t *chunk, bool *refused)
{
    const char *msg = json_string_value(json_object_get(c, "value"));
    msg = msg ? msg : "(no message)";
    size_t n = json_array_size(chunk), hit = 0, i;
    json_t *idx = json_object_get(c, "indexes"), *x;
    json_array_foreach(idx, i, x) {
        json_int_t k = json_integer_value(x);
        if (json_is_integer(x) && k >= 0 && (size_t) k < n) {
            refused[k] = true, hit++;
            say_value(p, json_array_get(chunk, (size_t) k), msg);
        }
    }
    const char *obj = json_string_value(json_object_get(c, "object"));
    json_t *objs = json_object_get(c, "objects");
    for (i = 0; !hit && i < n; i++) {
        json_t *v = json_array_get(chunk, i);
        bool match = obj && value_has(v, obj);
        const char *key;
        json_t *o;
        json_object_foreach(objs, key, o)
            match = match || (json_is_string(o)
                               && value_has(v, json_string_value(o)));
        if (match)
            refused[i] = true, say_value(p, v, msg);
    }
    for (i = 0; i < n && !hit; i++)
        hit = refused[i];
    if (!hit) {
        fprintf(p->out, "  conflict: %s: %s (names no value of this "
                "request: none of its %zu values is recorded as taken)\n",
                obj ? obj : "(no object)", msg, n);
        for (i = 0; i < n; i++)
            refused[i] = true;
    }
}

/* Read answer (HTTP status http) of a request of chunk: counts into c,
 * conflicts named and marked. CDS_OK (SUCCESS/WARNING, no conflict),
 * CDS_EBADVALUE (conflicts or ERROR: *error when nothing was taken),
 * CDS_EPERM (401/403), CDS_EIO (no import summary). */
static int
answer_read(push_t *p, const answer_t *a, long http, json_t *chunk,
            bool *refused, counts_t *c, bool *error, char *err,
            size_t errlen)
{
    json_t *root = a->buf ? json_loadb(a->buf, a->len, 0, NULL) : NULL;
    json_t *sum = root ? summary_of(root) : NULL;
    int rc = CDS_OK;
    if (http == 401 || http == 403 || !sum || (http != 200 && http != 409)) {
        const char *m = json_string_value(json_object_get(root, "message"));
        snprintf(err, errlen, "%s: HTTP %ld%s%s%s", p->o->url, http,
                 http == 401 ? " (credentials refused)"
                 : http == 403 ? " (not allowed to import data values)"
                 : !sum ? ", no import summary in the answer" : "",
                 m ? ": " : "", m ? m : "");
        json_decref(root);
        return http == 401 || http == 403 ? CDS_EPERM : CDS_EIO;
    }
    const char *st = json_string_value(json_object_get(sum, "status"));
    *error = !st || strcmp(st, "ERROR") == 0;
    *c = (counts_t) { count_of(sum, "imported"), count_of(sum, "updated"),
                      count_of(sum, "ignored"), count_of(sum, "deleted"),
                      (long) json_array_size(json_object_get(sum,
                                                             "conflicts")) };
    fprintf(p->out, "  %s: imported %ld, updated %ld, ignored %ld, "
            "deleted %ld, conflicts %ld\n", st ? st : "(no status)",
            c->imported, c->updated, c->ignored, c->deleted, c->conflicts);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(sum, "conflicts"), i, x)
        conflict_mark(p, x, chunk, refused);
    if (*error || c->conflicts)
        rc = CDS_EBADVALUE;
    json_decref(root);
    return rc;
}

/* ---- what was taken ----------------------------------------------------- */

/* 16-byte BLAKE2b of v as sent (compact, keys sorted), hex. */
static int
digest(json_t *v, char hex[DIGEST_HEX])
{
    unsigned char d[16];
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return CDS_ENOMEM;
    crypto_generichash(d, sizeof d, (const unsigned char *) s, strlen(s),
                       NULL, 0);
    free(s);
    sodium_bin2hex(hex, DIGEST_HEX, d, sizeof d);
    return CDS_OK;
}

static void
bind_key(cds_sql_stmt_t *st, const push_t *p, json_t *v)
{
    static const char *const names[5] = { ":de", ":ou", ":pe", ":coc",
                                          ":aoc" };
    cds_sql_bind_text(st, ":target", p->o->url);
    for (int k = 0; k < 5; k++)
        cds_sql_bind_text(st, names[k], vstr(v, id_keys[k]));
}

/* Is v recorded as taken by this target, as it is now? 1, 0, or -code. */
static int
taken(push_t *p, cds_sql_stmt_t *st, json_t *v)
{
    char hex[DIGEST_HEX];
    if (digest(v, hex) != CDS_OK)
        return -CDS_ENOMEM;
    bind_key(st, p, v);
    int step = cds_sql_step(st), r;
    r = step == CDS_SQL_ROW ? strcmp(cds_sql_col_text(st, 0), hex) == 0
        : step == CDS_SQL_DONE ? 0 : -step;
    cds_sql_reset(st);
    return r;
}

/* The values of all not yet taken (every one with o->all) into *pend. */
static int
pending(push_t *p, json_t *all, json_t **pend, size_t *skipped)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(p->store),
                                         DHIS2PUSH_SQL_DIGEST, 0);
    *pend = json_array();
    int rc = st && *pend ? CDS_OK : CDS_ERROR;
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        int t = rc == CDS_OK && !p->o->all ? taken(p, st, v) : 0;
        if (t < 0)
            rc = -t;
        else if (t)
            (*skipped)++;
        else if (rc == CDS_OK && json_array_append(*pend, v) != 0)
            rc = CDS_ENOMEM;
    }
    cds_sql_finalize(&st);
    return rc;
}

/* One transaction: the values of chunk DHIS2 took (not refused; none on
 * ERROR, a failure or a dry run) and the request's run row. */
static int
record(push_t *p, json_t *chunk, const bool *refused, bool took,
       const char *status, const counts_t *c, const char *msg)
{
    cds_sql_t *sql = store_sql(p->store);
    cds_sql_stmt_t *up = cds_sql_prepare(sql, DHIS2PUSH_SQL_CONFIRM, 0);
    cds_sql_stmt_t *run = cds_sql_prepare(sql, DHIS2PUSH_SQL_RUN, 0);
    int rc = up && run ? cds_sql_begin(sql) : CDS_ERROR;
    size_t i;
    json_t *v;
    char hex[DIGEST_HEX];
    json_array_foreach(chunk, i, v) {
        if (rc != CDS_OK || !took || p->o->dry_run || refused[i])
            continue;
        bind_key(up, p, v);
        rc = digest(v, hex);
        cds_sql_bind_text(up, ":digest", hex);
        cds_sql_bind_int64(up, ":now", (int64_t) p->o->now_ms);
        rc = rc == CDS_OK ? cds_sql_run(up) : rc;
        cds_sql_reset(up);
        p->confirmed += rc == CDS_OK;
    }
    if (rc == CDS_OK) {
        cds_sql_bind_text(run, ":target", p->o->url);
        cds_sql_bind_text(run, ":ds", p->data_set);
        cds_sql_bind_text(run, ":pe", p->period);
        cds_sql_bind_int64(run, ":now", (int64_t) p->o->now_ms);
        cds_sql_bind_int64(run, ":dry", p->o->dry_run);
        cds_sql_bind_int64(run, ":sent", (int64_t) json_array_size(chunk));
        cds_sql_bind_text(run, ":status", status);
        const long n[5] = { c->imported, c->updated, c->ignored, c->deleted,
                            c->conflicts };
        static const char *const k[5] = { ":imported", ":updated",
                                          ":ignored", ":deleted",
                                          ":conflicts" };
        for (int j = 0; j < 5; j++)
            cds_sql_bind_int64(run, k[j], n[j]);
        cds_sql_bind_text(run, ":message", msg);
        rc = cds_sql_run(run);
    }
    rc = rc == CDS_OK ? cds_sql_commit(sql) : (cds_sql_rollback(sql), rc);
    cds_sql_finalize(&up);
    cds_sql_finalize(&run);
    return rc;
}

/* ---- the run ------------------------------------------------------------ */

/* Request no of of: chunk posted, its answer read, reported, recorded. */
static int
push_chunk(push_t *p, json_t *chunk, size_t no, size_t of, char *err,
           size_t errlen)
{
    size_t n = json_array_size(chunk);
    json_t *body = json_pack("{sssO}", "dataSet", p->data_set, "dataValues",
                             chunk);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    bool *refused = calloc(n ? n : 1, sizeof *refused), error = false;
    answer_t a = { 0 };
    counts_t c = { 0 };
    long http = 0;
    int rc = text && refused ? CDS_OK : CDS_ENOMEM;
    fprintf(p->out, "request %zu/%zu: %zu values%s\n", no, of, n,
            p->o->dry_run ? " (dry run)" : "");
    fflush(p->out);
    if (rc == CDS_OK)
        rc = post(p, text, &a, &http, err, errlen);
    if (rc == CDS_OK)
        rc = answer_read(p, &a, http, chunk, refused, &c, &error, err,
                         errlen);
    p->requests++;
    p->total.imported += c.imported, p->total.updated += c.updated;
    p->total.ignored += c.ignored, p->total.deleted += c.deleted;
    p->total.conflicts += c.conflicts;
    bool took = rc == CDS_OK || (rc == CDS_EBADVALUE && !error);
    const char *status = rc == CDS_OK ? "OK"
                         : rc == CDS_EBADVALUE ? (error ? "ERROR"
                                                        : "CONFLICTS")
                                               : "FAILED";
    int wr = record(p, chunk, refused, took, status, &c,
                    took ? "" : err);
    cds_log(rc == CDS_OK ? CDS_LOG_INFO : CDS_LOG_WARN, "dhis2_push",
            "url=%s request=%zu values=%zu status=%s http=%ld",
            cds_logq(p->o->url), no, n, status, http);
    if (wr != CDS_OK) {
        snprintf(err, errlen, "recording what DHIS2 took failed (%s): the "
                 "next run sends this request's values again",
                 cds_strerror(wr));
        rc = wr;
    }
    free(a.buf);
    free(refused);
    free(text);
    json_decref(body);
    return rc;
}

/* export's DHIS2 JSON of x (export.h), its dataValues into *vals. */
static int
export_values(store_t *store, const export_opts_t *x, json_t **root,
              char *err, size_t errlen)
{
    export_opts_t xo = *x;
    xo.format = EXPORT_DHIS2_JSON;
    xo.bom = false;
    xo.adx_periods = false;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return CDS_ENOMEM;
    int rc = export_run(store, &xo, mem, err, errlen);
    if (fclose(mem) != 0 && rc == CDS_OK)
        rc = CDS_ENOMEM;
    *root = rc == CDS_OK ? json_loadb(buf, len, 0, NULL) : NULL;
    if (rc == CDS_OK && !json_is_array(json_object_get(*root,
                                                       "dataValues")))
        rc = CDS_ERROR;                /* our own writer: a bug */
    free(buf);
    return rc;
}

/* Options and credentials checked; the dataSet id mapped by x->ids. */
static int
push_prepare(push_t *p, const export_opts_t *x, char *err, size_t errlen)
{
    const dhis2push_opts_t *o = p->o;
    int rc = url_check(o->url, err, errlen);
    if (rc == CDS_OK && (!o->data_set || !o->data_set[0])) {
        snprintf(err, errlen, "data-set: required (the DHIS2 data set the "
                 "values are sent under)");
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK && (o->chunk < 1 || o->chunk > DHIS2PUSH_CHUNK_MAX
                         || o->timeout_s < 1 || o->timeout_s > 3600)) {
        snprintf(err, errlen, "chunk: 1..%d values and timeout: 1..3600 s "
                 "(got %ld and %ld)", DHIS2PUSH_CHUNK_MAX, o->chunk,
                 o->timeout_s);
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK && x->names) {    /* export --id-scheme name */
        snprintf(err, errlen, "id-scheme: \"name\": push-dhis2 sends codes "
                 "or UIDs (names need not be unique in DHIS2; use "
                 "--id-scheme uid --id-map FILE)");
        rc = CDS_EUSAGE;
    }
    p->data_set = o->data_set;
    if (rc == CDS_OK && x->ids
        && !(p->data_set = cds_idmap_get(x->ids, "dataset", o->data_set))) {
        snprintf(err, errlen, "id-map: no uid for dataset \"%s\" "
                 "(--id-scheme uid); add a row dataset,%s,UID",
                 o->data_set, o->data_set);
        rc = CDS_ENOTFOUND;
    }
    p->id_scheme = x->ids ? "UID" : "CODE";
    p->period = x->filter.period ? x->filter.period : "";
    if (rc == CDS_OK)
        rc = endpoint_build(p, err, errlen);
    if (rc == CDS_OK)
        rc = creds_load(o->credentials, o->auth, &p->creds, err, errlen);
    return rc;
}

/* Every request of pend in turn; a transport or permission failure stops
 * the run, conflicts do not. */
static int
push_all(push_t *p, json_t *pend, char *err, size_t errlen)
{
    size_t n = json_array_size(pend), chunk = (size_t) p->o->chunk;
    size_t of = (n + chunk - 1) / chunk;
    int worst = CDS_OK;
    for (size_t i = 0; i < of; i++) {
        json_t *part = json_array();
        for (size_t j = i * chunk; part && j < n && j < (i + 1) * chunk; j++)
            json_array_append(part, json_array_get(pend, j));
        int rc = part ? push_chunk(p, part, i + 1, of, err, errlen)
                      : CDS_ENOMEM;
        json_decref(part);
        if (rc != CDS_OK && rc != CDS_EBADVALUE)
            return rc;
        worst = worst == CDS_OK ? rc : worst;
    }
    if (worst == CDS_EBADVALUE)
        snprintf(err, errlen, "DHIS2 refused values (%ld conflicts, above); "
                 "they are not recorded as taken and are sent again by "
                 "the next run", p->total.conflicts);
    return worst;
}

int
dhis2push_run(store_t *store, const export_opts_t *x,
              const dhis2push_opts_t *o, FILE *out, char *err, size_t errlen)
{
    push_t p = { .store = store, .o = o, .out = out };
    json_t *root = NULL, *pend = NULL;
    size_t skipped = 0;
    int rc = push_prepare(&p, x, err, errlen);
    if (rc == CDS_OK)
        rc = export_values(store, x, &root, err, errlen);
    json_t *all = json_object_get(root, "dataValues");
    if (rc == CDS_OK)
        rc = pending(&p, all, &pend, &skipped);
    if (rc == CDS_OK) {
        size_t n = json_array_size(pend);
        fprintf(out, "push-dhis2: %s: %zu values selected, %zu already "
                "taken as they are (not sent%s), %zu to send in %zu "
                "requests%s\n", o->url, json_array_size(all), skipped,
                skipped ? "; --all sends them" : "", n,
                (n + (size_t) o->chunk - 1) / (size_t) o->chunk,
                o->dry_run ? " (dry run: DHIS2 checks, stores nothing)" : "");
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = push_all(&p, pend, err, errlen);
        curl_global_cleanup();
        fprintf(out, "push-dhis2: %zu requests: imported %ld, updated %ld, "
                "ignored %ld, deleted %ld, conflicts %ld; %zu values "
                "recorded as taken\n", p.requests, p.total.imported,
                p.total.updated, p.total.ignored, p.total.deleted,
                p.total.conflicts, p.confirmed);
    }
    sodium_memzero(&p.creds, sizeof p.creds);
    free(p.endpoint);
    json_decref(pend);
    json_decref(root);
    return rc;
}
