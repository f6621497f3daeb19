/*  api: admin routes on the HTTP server and bearer tokens. See api.h; SQL
 *  in api_sql.h (API_SQL_TOKEN_*). Handlers run on the HTTP thread
 *  with its read-only connection (http_req_store). */
#include "api.h"

#include "approval.h"

#include "api_sql.h"
#include "attain.h"
#include "cds_catalog.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_period.h"
#include "cds_util.h"
#include "completeness.h"
#include "export.h"
#include "history.h"
#include "official.h"
#include "orgmap.h"
#include "quality.h"
#include "query.h"
#include "rank.h"
#include "rollup.h"
#include "table.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    cds_catalog_t *catalog;            /* owned */
    rollup_rules_t *rules;             /* owned */
    cds_targets_t *targets;            /* owned; NULL: no targets file */
    cds_datasets_t *datasets;          /* owned; NULL: none configured */
    cds_contacts_t *contacts;          /* owned; NULL: none configured */
    uint8_t agg_pk[CDS_PK_BYTES];      /* recipient of every batch */
    int deadline_days[COMPLETENESS_TYPES];
    cds_rules_t *dq_rules;             /* owned; NULL: no rules file */
    validate_opts_t dq_opts;           /* outlier keys */
} api_t;

/* One request's parsed arguments (pointers into req or list). */
typedef struct {
    const char *org_unit, *period, *from, *to, *format;
    const char *id_scheme;             /* /api/export: code|name */
    bool no_subtree, wide, adx, bom, include_deleted;
    char list_buf[API_MAX_LIST_ARG + 1]; /* indicator argument, split */
    const char *inds[API_MAX_LIST];
    size_t n_inds;
    official_opts_t heading;           /* /api/report: the heading texts */
} args_t;

/* ---- tokens ------------------------------------------------------------- */

static void
token_hash(const char *token, uint8_t out[crypto_generichash_BYTES])
{
    crypto_generichash(out, crypto_generichash_BYTES,
                       (const unsigned char *) token, strlen(token), NULL, 0);
}

/* Run one prepared write/read statement to completion; the row callback
 * may be NULL. Returns CDS_OK or the db error. */
static int
step_all(cds_sql_stmt_t *st, void (*row)(cds_sql_stmt_t *, void *),
         void *arg)
{
    int step;
    while ((step = cds_sql_step(st)) == CDS_SQL_ROW)
        if (row)
            row(st, arg);
    return step == CDS_SQL_DONE ? CDS_OK : step;   /* logged by cds_sql */
}

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

int
api_token_add(store_t *store, const char *name, uint64_t now_ms, char *out,
              size_t outlen, char *err, size_t errlen)
{
    uint8_t raw[32], hash[crypto_generichash_BYTES];
    if (!name_ok(name)) {
        snprintf(err, errlen, "token name: 1-64 printable ASCII characters, "
                 "no spaces");
        return CDS_EUSAGE;
    }
    if (outlen < API_TOKEN_LEN + 1)
        return CDS_ERROR;
    randombytes_buf(raw, sizeof raw);
    memcpy(out, "cdst_", 5);
    sodium_bin2base64(out + 5, outlen - 5, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    token_hash(out, hash);
    /* api_token is this module's table: its own statements on the
     * connection (store.h "reading the core tables"). */
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store), API_SQL_TOKEN_ADD,
                                         0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":name", name);
    cds_sql_bind_blob(st, ":hash", hash, sizeof hash);
    cds_sql_bind_int64(st, ":now", (int64_t) now_ms);
    int rc = cds_sql_run(st);
    bool taken = rc == CDS_OK && cds_sql_changes(st) == 0;
    cds_sql_finalize(&st);
    if (taken || rc != CDS_OK)
        sodium_memzero(out, outlen);
    if (taken) {
        snprintf(err, errlen, "token name \"%s\" exists already (revoke "
                 "it or choose another name)", name);
        return CDS_EUSAGE;
    }
    return rc;
}

static void
list_row(cds_sql_stmt_t *st, void *arg)
{
    char created[40], revoked[40] = "", used[40] = "";
    cds_format_time(created, sizeof created,
                    (uint64_t) cds_sql_col_int64(st, 1));
    if (cds_sql_col_type(st, 2) != CDS_SQL_NULL)
        cds_format_time(revoked, sizeof revoked,
                        (uint64_t) cds_sql_col_int64(st, 2));
    if (cds_sql_col_type(st, 3) != CDS_SQL_NULL)
        cds_format_time(used, sizeof used,
                        (uint64_t) cds_sql_col_int64(st, 3));
    const char *cells[] = { cds_sql_col_text(st, 0),
                            created, revoked[0] ? revoked : "-" };
    (void) used;
    table_add(arg, cells);
}

int
api_token_list(store_t *store, FILE *out)
{
    static const char *const header[] = { "name", "created", "revoked" };
    cds_sql_stmt_t *st = cds_sql_prepare2(store_sql(store), API_SQL_TOKEN_LIST,
                                          API_SQL_TOKEN_LIST_PG, 0);
    table_t *t = table_new(header, 3);
    int rc = st && t ? step_all(st, list_row, t) : CDS_ERROR;
    if (rc == CDS_OK)
        table_print(t, out);
    table_destroy(&t);
    cds_sql_finalize(&st);
    return rc;
}

int
api_token_revoke(store_t *store, const char *name, uint64_t now_ms)
{
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         API_SQL_TOKEN_REVOKE, 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":name", name);
    cds_sql_bind_int64(st, ":now", (int64_t) now_ms);
    int rc = step_all(st, NULL, NULL);
    if (rc == CDS_OK && cds_sql_changes(st) == 0)
        rc = CDS_ENOTFOUND;
    cds_sql_finalize(&st);
    return rc;
}

int
api_token_check(store_t *store, const char *token)
{
    uint8_t hash[crypto_generichash_BYTES];
    if (!token || strlen(token) != API_TOKEN_LEN
        || strncmp(token, "cdst_", 5) != 0)
        return 0;
    token_hash(token, hash);
    cds_sql_stmt_t *st = cds_sql_prepare(store_sql(store),
                                         API_SQL_TOKEN_CHECK, 0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_blob(st, ":hash", hash, sizeof hash);
    int step = cds_sql_step(st);
    int rc = step == CDS_SQL_ROW ? 1 : step == CDS_SQL_DONE ? 0 : -step;
    cds_sql_finalize(&st);
    return rc;
}

/* ---- request plumbing --------------------------------------------------- */

/* A query argument, checked: NULL when absent; *bad set when present but
 * too long or not printable ASCII. */
static const char *
arg_max(http_req_t *req, const char *name, size_t max, bool *bad)
{
    const char *v = http_req_arg(req, name);
    if (!v)
        return NULL;
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) v[i] < 0x20 || (unsigned char) v[i] > 0x7e)
            *bad = true;
    if (n == 0 || n > max)
        *bad = true;
    return *bad ? NULL : v;
}

static const char *
arg(http_req_t *req, const char *name, bool *bad)
{
    return arg_max(req, name, API_MAX_ARG, bad);
}

static bool
flag(http_req_t *req, const char *name)
{
    const char *v = http_req_arg(req, name);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

/* Parse the common arguments; false (400 sent) on a bad one. */
static bool
parse_args(http_req_t *req, args_t *a)
{
    bool bad = false;
    memset(a, 0, sizeof *a);
    a->org_unit = arg(req, "org_unit", &bad);
    a->period = arg(req, "period", &bad);
    a->from = arg(req, "from", &bad);
    a->to = arg(req, "to", &bad);
    a->format = arg(req, "format", &bad);
    a->no_subtree = flag(req, "no_subtree");
    a->wide = flag(req, "wide");
    a->adx = flag(req, "adx_periods");
    a->bom = flag(req, "bom");
    a->include_deleted = flag(req, "include_deleted");
    a->id_scheme = arg(req, "id_scheme", &bad);
    const char *list = arg_max(req, "indicator", API_MAX_LIST_ARG, &bad);
    if (!bad && list) {
        snprintf(a->list_buf, sizeof a->list_buf, "%s", list);
        for (char *save = NULL, *t = strtok_r(a->list_buf, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (a->n_inds == API_MAX_LIST) {
                bad = true;
                break;
            }
            a->inds[a->n_inds++] = t;
        }
    }
    if (bad)
        http_reply_error(req, 400, "bad argument: each at most 128 "
                         "printable ASCII bytes (the indicator list 4096), "
                         "at most 64 indicators");
    return !bad;
}

/* A heading text of /api/report: UTF-8 without control bytes, at most
 * API_MAX_TEXT bytes; NULL when absent; *bad set when not acceptable. */
static const char *
text_arg(http_req_t *req, const char *name, bool *bad)
{
    const char *v = http_req_arg(req, name);
    size_t n = v ? strlen(v) : 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
            *bad = true;
    if (n == 0 || n > API_MAX_TEXT || !cds_utf8_valid(v, n))
        *bad = true;
    return *bad ? NULL : v;
}

/* parse_args, and the heading texts of /api/report. */
static bool
parse_report_args(http_req_t *req, args_t *a)
{
    bool bad = false;
    if (!parse_args(req, a))
        return false;
    official_opts_t *o = &a->heading;
    o->issuer = text_arg(req, "unit_name", &bad);
    o->number = text_arg(req, "number", &bad);
    o->place = text_arg(req, "place", &bad);
    o->date = text_arg(req, "date", &bad);
    o->title = text_arg(req, "title", &bad);
    o->signer = text_arg(req, "signer", &bad);
    o->signer_title = text_arg(req, "signer_title", &bad);
    if (bad)
        http_reply_error(req, 400, "bad argument: unit_name, number, place, "
                         "date, title, signer, signer_title: UTF-8 text "
                         "without control characters, each at most 256 "
                         "bytes");
    return !bad;
}

static unsigned
status_for(int code)
{
    switch (code) {
    case CDS_EUSAGE: case CDS_EBADPERIOD: case CDS_EUNKNOWNORGUNIT:
    case CDS_EUNKNOWNINDICATOR: case CDS_EBADFIELD:
        return 400;
    case CDS_ENOTFOUND:
        return 404;
    default:
        return 500;
    }
}

/* Run fn into a buffer under the cost budget (store_read_limit), then
 * answer. */
typedef int (api_run_fn)(const api_t *api, store_t *store, const args_t *a,
                         FILE *out, char *err, size_t errlen);

static void
answer(http_req_t *req, const api_t *api, const args_t *a, api_run_fn *fn,
       const char *content_type)
{
    store_t *store = http_req_store(req);
    if (!store) {
        http_reply_error(req, 503, "database not available");
        return;
    }
    store_limit_t lim = { .steps = API_MAX_STEPS, .ms = API_MAX_MS };
    char *buf = NULL, err[512] = "";
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        http_reply_error(req, 500, "out of memory");
        return;
    }
    int code = store_read_limit(store, &lim);
    if (code == CDS_OK) {
        code = fn(api, store, a, out, err, sizeof err);
        store_read_unlimit(store, &lim);
    }
    fclose(out);
    if (lim.exceeded)
        http_reply_error(req, 503, "query over its cost budget: narrow the "
                         "org unit, period or indicators");
    else if (code != CDS_OK)
        http_reply_error(req, status_for(code), err[0] ? err
                                                       : cds_strerror(code));
    else if (len > API_MAX_ANSWER)
        http_reply_error(req, 413, "answer too large: narrow the request");
    else
        http_reply_text(req, 200, content_type, buf, len);
    free(buf);
}

/* ---- routes ------------------------------------------------------------- */

static query_opts_t
filter_of(const args_t *a)
{
    query_opts_t q = { .org_unit = a->org_unit, .subtree = !a->no_subtree,
                       .indicators = a->inds, .n_indicators = a->n_inds,
                       .period = a->period, .from = a->from, .to = a->to,
                       .wide = a->wide };
    return q;
}

static int
run_query(const api_t *api, store_t *store, const args_t *a, FILE *out,
          char *err, size_t errlen)
{
    query_opts_t q = filter_of(a);
    q.catalog = api->catalog;
    q.rules = api->rules;              /* the wide total row */
    q.targets = a->wide ? NULL : api->targets;
    q.datasets = api->datasets;
    q.format = a->format && strcmp(a->format, "csv") == 0 ? QUERY_CSV
                                                           : QUERY_JSON;
    if (a->bom && q.format == QUERY_CSV)
        fputs("\xEF\xBB\xBF", out);    /* the answer is dropped on error */
    return query_run(store, &q, out, err, errlen);
}

static int
run_rollup(const api_t *api, store_t *store, const args_t *a, FILE *out,
           char *err, size_t errlen)
{
    if (!a->org_unit || !a->period) {
        snprintf(err, errlen, "rollup needs org_unit and period");
        return CDS_EUSAGE;
    }
    return rollup_run_targets(store, api->catalog, api->rules, api->targets,
                              a->org_unit, a->period, a->inds, a->n_inds,
                              REPORT_JSON, out, err, errlen);
}

static int
run_rank(const api_t *api, store_t *store, const args_t *a, FILE *out,
         char *err, size_t errlen)
{
    if (a->n_inds != 1) {
        snprintf(err, errlen, "rank needs exactly one indicator");
        return CDS_EUSAGE;
    }
    rank_opts_t o = { .org_unit = a->org_unit, .indicator = a->inds[0],
                      .period = a->period, .catalog = api->catalog,
                      .rules = api->rules, .targets = api->targets };
    report_format_t f = REPORT_JSON;
    if (a->format && strcmp(a->format, "csv") == 0)
        f = REPORT_CSV;
    return rank_run(store, &o, f, out, err, errlen);
}

static int
run_completeness(const api_t *api, store_t *store, const args_t *a,
                 FILE *out, char *err, size_t errlen)
{
    completeness_opts_t o = { .org_unit = a->org_unit, .period = a->period,
                              .indicators = a->inds,
                              .n_indicators = a->n_inds,
                              .catalog = api->catalog,
                              .datasets = api->datasets,
                              .now_ms = cds_now_ms(),
                              .contacts = api->contacts };
    memcpy(o.deadline_days, api->deadline_days, sizeof o.deadline_days);
    return completeness_run(store, &o, REPORT_JSON, out, err, errlen);
}

static int
run_history(const api_t *api, store_t *store, const args_t *a, FILE *out,
            char *err, size_t errlen)
{
    if (a->n_inds != 1) {
        snprintf(err, errlen, "history needs exactly one indicator");
        return CDS_EUSAGE;
    }
    return history_run(store, api->agg_pk, a->org_unit, a->inds[0],
                       a->period, REPORT_JSON, out, err, errlen);
}

/* id_scheme: code or name as `export --id-scheme` (export.h); uid needs
 * a map file, which a request does not name (docs/ADMIN.md). */
static int
export_scheme(const args_t *a, export_opts_t *o, char *err, size_t errlen)
{
    if (!a->id_scheme || strcmp(a->id_scheme, "code") == 0)
        return CDS_OK;
    if (strcmp(a->id_scheme, "name") == 0) {
        o->names = true;
        return CDS_OK;
    }
    snprintf(err, errlen, strcmp(a->id_scheme, "uid") == 0
             ? "id_scheme: uid needs a map file of UIDs, which the HTTP "
               "export does not take; use `cdsync-aggregator export "
               "--id-scheme uid --id-map FILE`"
             : "id_scheme: expected code or name");
    return CDS_EUSAGE;
}

static int
run_export(const api_t *api, store_t *store, const args_t *a, FILE *out,
           char *err, size_t errlen)
{
    export_opts_t o = { .filter = filter_of(a), .adx_periods = a->adx,
                        .bom = a->bom, .catalog = api->catalog,
                        .datasets = api->datasets,
                        .include_deleted = a->include_deleted };
    o.filter.wide = false;
    if (export_format_parse(a->format ? a->format : "dhis2-json", &o.format)
        != CDS_OK) {
        snprintf(err, errlen, "format: expected dhis2-json, dhis2-csv, "
                 "csv or adx");
        return CDS_EUSAGE;
    }
    int rc = export_scheme(a, &o, err, errlen);
    return rc == CDS_OK ? export_run(store, &o, out, err, errlen) : rc;
}

/* The report is written by libxlsxwriter to a file: a private temporary
 * one, copied into the answer and removed. */
static int
run_report(const api_t *api, store_t *store, const args_t *a, FILE *out,
           char *err, size_t errlen)
{
    official_opts_t o = a->heading;
    char path[] = "/tmp/cdsync-report-XXXXXX", *data = NULL;
    size_t len = 0;
    o.org_unit = a->org_unit;
    o.period = a->period;
    o.indicators = a->inds;
    o.n_indicators = a->n_inds;
    o.bom = a->bom;
    o.now_ms = cds_now_ms();
    if (!a->org_unit || !a->period || official_format_parse(
            a->format ? a->format : "xlsx", &o.format) != 0) {
        snprintf(err, errlen, "report needs org_unit and period; format: "
                 "xlsx or csv");
        return CDS_EUSAGE;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file: %m");
        return CDS_EIO;
    }
    close(fd);
    int rc = official_write(store, api->catalog, api->rules, &o, path, err,
                            errlen);
    if (rc == CDS_OK && cds_read_file(path, API_MAX_ANSWER, &data, &len)
                            != 0) {
        snprintf(err, errlen, "report too large: narrow the request");
        rc = CDS_EIO;
    }
    unlink(path);
    if (rc == CDS_OK)
        fwrite(data, 1, len, out);
    free(data);
    return rc;
}

static int
run_validate(const api_t *api, store_t *store, const args_t *a, FILE *out,
             char *err, size_t errlen)
{
    report_t *rep = NULL;
    if (!a->org_unit || !a->period) {
        snprintf(err, errlen, "validate needs org_unit and period");
        return CDS_EUSAGE;
    }
    int rc = validate_compute(store, api->catalog, api->dq_rules,
                              a->org_unit, a->period, &api->dq_opts,
                              REPORT_JSON, &rep, err, errlen);
    if (rc == CDS_ENOTFOUND)
        rc = CDS_EUNKNOWNORGUNIT;      /* a bad argument: 400 */
    if (rc == CDS_OK)
        report_print(rep, out, json_pack("{sssssi}", "orgUnit", a->org_unit,
                                         "period", a->period, "violations",
                                         (int) report_rows(rep)), NULL);
    report_destroy(&rep);
    return rc;
}

/* ---- names for the dashboard: units, mapping, indicators ---------------- */

/* A day-number column as "YYYY-MM-DD", or JSON null. */
static json_t *
day_json(cds_sql_stmt_t *st, int col)
{
    char buf[16];
    if (cds_sql_col_type(st, col) == CDS_SQL_NULL)
        return json_null();
    return json_string(cds_date_format((int32_t) cds_sql_col_int64(st, col),
                                       buf, sizeof buf));
}

static json_t *
text_json(cds_sql_stmt_t *st, int col)
{
    const char *s = cds_sql_col_text(st, col);
    return s ? json_string(s) : json_null();
}

static void
unit_row(cds_sql_stmt_t *st, void *arg)
{
    json_array_append_new(arg, json_pack("{s:o, s:o, s:o, s:o, s:o}",
        "code", text_json(st, 0), "name", text_json(st, 1),
        "parent", text_json(st, 2), "validFrom", day_json(st, 3),
        "validTo", day_json(st, 4)));
}

static void
map_row(cds_sql_stmt_t *st, void *arg)
{
    json_array_append_new(arg, json_pack("{s:o, s:o, s:o, s:o}",
        "old", text_json(st, 0), "new", text_json(st, 1),
        "from", day_json(st, 2), "note", text_json(st, 3)));
}

/* Every row of one read-only statement into arr. */
static int
read_rows(store_t *store, const char *sql, const char *pg_sql,
          void (*row)(cds_sql_stmt_t *, void *), json_t *arr)
{
    cds_sql_stmt_t *st = store_read(store, sql, pg_sql);
    int rc = st && arr ? step_all(st, row, arr) : CDS_ERROR;
    cds_sql_finalize(&st);
    return rc;
}

/* {"orgUnits": [{code, name, parent, validFrom, validTo}], "mappings":
 * [{old, new, from, note}]}: the whole table, for the tree picker. */
static int
run_orgunits(const api_t *api, store_t *store, const args_t *a, FILE *out,
             char *err, size_t errlen)
{
    json_t *units = json_array(), *maps = json_array();
    int rc = read_rows(store, API_SQL_ORGUNITS, API_SQL_ORGUNITS_PG,
                       unit_row, units);
    if (rc == CDS_OK)
        rc = read_rows(store, API_SQL_ORGMAP, API_SQL_ORGMAP_PG, map_row,
                       maps);
    json_t *o = json_pack("{s:o, s:o}", "orgUnits", units, "mappings", maps);
    if (rc == CDS_OK && (!o || json_dumpf(o, out, JSON_INDENT(1)) != 0))
        rc = CDS_ENOMEM;
    json_decref(o);
    return rc;
}

static json_t *
indicator_json(const cds_indicator_t *d)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "code", d->code,
        "name", d->name_vi, "nameEn", d->name_en, "unit", d->unit,
        "valueType", cds_value_type_name(d->type),
        "aggregation", cds_agg_name(d->agg));
    json_object_set_new(o, "periodType", d->has_period_type
        ? json_string(cds_period_type_name(d->period_type)) : json_null());
    json_object_set_new(o, "numerator", d->numerator
                        ? json_string(d->numerator) : json_null());
    json_object_set_new(o, "denominator", d->denominator
                        ? json_string(d->denominator) : json_null());
    return o;
}

/* {"version": ..., "indicators": [...]}: the catalog, in its order. */
static int
run_indicators(const api_t *api, store_t *store, const args_t *a,
               FILE *out, char *err, size_t errlen)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < cds_catalog_size(api->catalog); i++)
        json_array_append_new(arr,
                              indicator_json(cds_catalog_at(api->catalog, i)));
    json_t *o = json_pack("{s:s, s:o}", "version",
                          cds_catalog_version(api->catalog), "indicators",
                          arr);
    int rc = o && json_dumpf(o, out, JSON_INDENT(1)) == 0 ? CDS_OK
                                                           : CDS_ENOMEM;
    json_decref(o);
    return rc;
}

static const char *
csv_or_json(const args_t *a)
{
    if (a->format && strcmp(a->format, "adx") == 0)
        return "application/adx+xml";  /* ADX's media type, as DHIS2's */
    return a->format && strstr(a->format, "csv") ? "text/csv; charset=utf-8"
                                                 : "application/json";
}

/* An account scoped to a subtree (account.h) asks for its own units
 * only: no org_unit means its root; another unit is 403. false when the
 * reply is set. */
static bool
scope_ok(http_req_t *req, args_t *a)
{
    const http_principal_t *p = http_req_principal(req);
    if (!p || !p->org_unit[0])
        return true;
    if (!a->org_unit) {
        a->org_unit = p->org_unit;     /* lives as long as req */
        return true;
    }
    store_t *store = http_req_store(req);
    int in = store ? approval_in_subtree(store, p->org_unit, a->org_unit) : -1;
    if (in == 1)
        return true;
    char msg[512];
    if (in == 0)
        snprintf(msg, sizeof msg, "Tài khoản %s chỉ được xem đơn vị %s và "
                 "các đơn vị trực thuộc, không được xem %s.", p->name,
                 p->org_unit, a->org_unit);
    http_reply_error(req, in == 0 ? 403 : 503, in == 0
                     ? msg : "database not available");
    return false;
}

#define HANDLER(name, fn)                                                    \
    static void                                                              \
    name(http_req_t *req, void *ctx)                                         \
    {                                                                        \
        args_t a;                                                            \
        if (parse_args(req, &a) && scope_ok(req, &a))                        \
            answer(req, ctx, &a, fn, csv_or_json(&a));                       \
    }
HANDLER(on_query, run_query)
HANDLER(on_rollup, run_rollup)
HANDLER(on_rank, run_rank)
HANDLER(on_completeness, run_completeness)
HANDLER(on_history, run_history)
HANDLER(on_export, run_export)
HANDLER(on_validate, run_validate)
HANDLER(on_orgunits, run_orgunits)
HANDLER(on_indicators, run_indicators)

static void
on_report(http_req_t *req, void *ctx)
{
    args_t a;
    if (parse_report_args(req, &a) && scope_ok(req, &a))
        answer(req, ctx, &a, run_report,
               a.format && strcmp(a.format, "csv") == 0
                   ? "text/csv; charset=utf-8"
                   : "application/vnd.openxmlformats-officedocument"
                     ".spreadsheetml.sheet");
}

static void
api_free(void *p)
{
    api_t *api = p;
    cds_catalog_destroy(&api->catalog);
    cds_datasets_destroy(&api->datasets);
    cds_contacts_destroy(&api->contacts);
    rollup_rules_destroy(&api->rules);
    cds_targets_destroy(&api->targets);
    cds_rules_destroy(&api->dq_rules);
    free(api);
}

/* Catalog, rules, our public key, deadlines, mapping refreshed. */
static int
api_load(api_t *api, const cds_config_t *cfg, const char *db_path,
         const char *identity_path, char *err, size_t errlen)
{
    static const char *const keys[COMPLETENESS_TYPES] = {
        "aggregator.deadline_daily", "aggregator.deadline_weekly",
        "aggregator.deadline_monthly", "aggregator.deadline_quarterly",
        "aggregator.deadline_sixmonthly", "aggregator.deadline_yearly",
    };
    const char *cat = cds_config_get(cfg, "aggregator.catalog");
    int code = CDS_OK;
    if (!(api->catalog = cds_catalog_load(cat, err, errlen))
        || !(api->rules = rollup_rules_load(cat, err, errlen)))
        return CDS_EMALFORMED;
    if ((code = attain_targets_load(cfg, api->catalog, &api->targets, err,
                                    errlen)) != CDS_OK
        || (code = quality_rules_load(cfg, api->catalog, &api->dq_rules, err,
                                      errlen)) != CDS_OK
        || (code = quality_opts(cfg, &api->dq_opts, err, errlen)) != CDS_OK
        || (code = completeness_datasets(cfg, api->catalog, &api->datasets,
                                         err, errlen)) != CDS_OK
        || (code = completeness_contacts(cfg, &api->contacts, err, errlen))
               != CDS_OK)
        return code;
    cds_identity_t *id = cds_identity_load(identity_path, &code, err, errlen);
    if (!id)
        return code ? code : CDS_EMALFORMED;
    memcpy(api->agg_pk, cds_identity_sign_pk(id), CDS_PK_BYTES);
    cds_identity_destroy(&id);
    for (int i = 0; i < COMPLETENESS_TYPES; i++) {
        long v = 0;
        if (cds_config_get_long(cfg, keys[i], &v, err, errlen) != CDS_OK
            || v < 0 || v > 3660)
            return CDS_EUSAGE;
        api->deadline_days[i] = (int) v;
    }
    store_t *store = store_open(db_path, 0, &code);
    if (!store)
        return code;
    code = orgmap_refresh(cfg, store, err, errlen);
    store_destroy(&store);
    return code;
}

#define DATA HTTP_ROLES_DATA            /* every role but operator */

int
api_routes_add(http_t *http, const cds_config_t *cfg, const char *db_path,
               const char *identity_path, char *err, size_t errlen)
{
    api_t *api = calloc(1, sizeof *api);
    if (!api)
        return CDS_ENOMEM;
    int rc = api_load(api, cfg, db_path, identity_path, err, errlen);
    if (rc != CDS_OK || http_cleanup_add(http, api_free, api) != 0) {
        api_free(api);
        return rc != CDS_OK ? rc : CDS_ERROR;
    }
    if (http_route_add_roles(http, "GET", "/api/query", on_query, api, DATA)
               != 0
        || http_route_add_roles(http, "GET", "/api/rollup", on_rollup, api,
                                DATA) != 0
        || http_route_add_roles(http, "GET", "/api/rank", on_rank, api,
                                DATA) != 0
        || http_route_add_roles(http, "GET", "/api/completeness",
                                on_completeness, api, DATA) != 0
        || http_route_add_roles(http, "GET", "/api/history", on_history, api,
                                DATA) != 0
        || http_route_add_roles(http, "GET", "/api/export", on_export, api,
                                DATA) != 0
        || http_route_add_roles(http, "GET", "/api/report", on_report, api,
                                DATA) != 0
        || http_route_add_roles(http, "GET", "/api/validate", on_validate,
                                api, DATA) != 0
        || http_route_add_roles(http, "GET", "/api/orgunits", on_orgunits,
                                api, DATA) != 0
        || http_route_add_roles(http, "GET", "/api/indicators",
                                on_indicators, api, DATA) != 0) {
        snprintf(err, errlen, "HTTP route table full");
        return CDS_ERROR;
    }
    return CDS_OK;
}
