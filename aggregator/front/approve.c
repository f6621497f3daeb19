/*  approve: admins' corrections, approvals and held values, from the
 *  command line and the dashboard. See approve.h for the design. */
#include "approve.h"

#include "approval.h"
#include "central.h"
#include "completeness.h"
#include "ingest.h"
#include "quality.h"
#include "report.h"
#include "store.h"

#include "cds_catalog.h"
#include "cds_dataset.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_period.h"
#include "cds_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 1024                /* bytes of a reason */

/* What the operations need; store is a writer connection. */
typedef struct {
    store_t *store;
    cds_catalog_t *cat;
    cds_datasets_t *ds;                /* NULL: none configured */
    cds_identity_t *id;
    ingest_t *ing;                     /* over store, made at first use */
} ops_t;

static void
ops_clear(ops_t *o)
{
    ingest_destroy(&o->ing);
    cds_identity_destroy(&o->id);
    cds_datasets_destroy(&o->ds);
    cds_catalog_destroy(&o->cat);
}

/* Catalog, data sets and identity from the configuration. */
static int
ops_load(ops_t *o, const cds_config_t *cfg, const char *identity_path,
         char *err, size_t errlen)
{
    int code = CDS_OK;
    o->cat = cds_catalog_load(cds_config_get(cfg, "aggregator.catalog"), err,
                              errlen);
    if (!o->cat)
        return CDS_EMALFORMED;
    code = completeness_datasets(cfg, o->cat, &o->ds, err, errlen);
    if (code != CDS_OK)
        return code;
    o->id = cds_identity_load(identity_path, &code, err, errlen);
    return o->id ? CDS_OK : code ? code : CDS_EMALFORMED;
}

static int
unit_known(ops_t *o, const char *ou, char *err, size_t errlen)
{
    int k = store_orgunit_exists(o->store, ou);
    if (k < 0)
        return -k;
    if (k == 0) {
        snprintf(err, errlen, "org unit \"%s\": not in the org-unit list", ou);
        return CDS_EUNKNOWNORGUNIT;
    }
    return CDS_OK;
}

/* Approve or unapprove; the data set must exist and pe be of its type. */
static int
ops_set(ops_t *o, const char *dataset, const char *ou, const char *pe,
        bool approve, const char *actor, const char *reason, char *err,
        size_t errlen)
{
    size_t n = 0;
    cds_period_type_t type;
    cds_period_t p;
    const char *const *ind = o->ds ? cds_datasets_indicators(o->ds, dataset,
                                                             &n, &type)
                                   : NULL;
    if (!ind) {
        snprintf(err, errlen, "data set \"%s\": not in the data sets file",
                 dataset);
        return CDS_EUSAGE;
    }
    if (cds_period_parse(pe, &p) != CDS_OK || p.type != type) {
        snprintf(err, errlen, "period \"%s\": not a %s period of data set "
                 "%s", pe, cds_period_type_name(type), dataset);
        return CDS_EBADPERIOD;
    }
    int rc = unit_known(o, ou, err, errlen);
    if (rc == CDS_OK)
        rc = approval_change(o->store, dataset, ind, n, ou, pe, approve,
                             actor, reason, (int64_t) cds_now_ms(), err,
                             errlen);
    if (rc == CDS_OK)
        cds_log(CDS_LOG_INFO, approve ? "approved" : "unapproved",
                "data_set=%s org_unit=%s period=%s actor=%s", dataset, ou,
                pe, cds_logq(actor));
    return rc;
}

/* A held value's acceptance, recorded in the correction's transaction. */
typedef struct {
    int64_t id;
    const char *actor, *reason;
} accept_t;

static int
accept_then(store_t *store, const central_result_t *res, void *arg,
            char *err, size_t errlen)
{
    const accept_t *a = arg;
    if (res->rejected) {
        snprintf(err, errlen, "held value %lld fails validation now; "
                 "refuse it", (long long) a->id);
        return CDS_EBADVALUE;
    }
    return approval_decide(store, a->id, true, a->actor, a->reason,
                           (int64_t) cds_now_ms());
}

/* One value entered centrally (stored_by: the actor; comment: the
 * reason); acc (may be NULL): the held value it accepts, answered in the
 * same transaction. */
static int
ops_correct(ops_t *o, cds_update_t *u, accept_t *acc, char *err,
            size_t errlen)
{
    if (!cds_catalog_find(o->cat, u->indicator)) {
        snprintf(err, errlen, "indicator \"%s\": not in the catalog",
                 u->indicator);
        return CDS_EUNKNOWNINDICATOR;
    }
    cds_period_t p;
    if (cds_period_parse(u->period, &p) != CDS_OK) {
        snprintf(err, errlen, "period \"%s\": not a DHIS2 period", u->period);
        return CDS_EBADPERIOD;
    }
    int rc = unit_known(o, u->org_unit, err, errlen);
    if (rc == CDS_OK && !o->ing && !(o->ing = ingest_new(o->store, o->id,
                                                         o->cat)))
        rc = CDS_ENOMEM;
    central_result_t res;
    if (rc == CDS_OK)
        rc = central_correct(o->store, o->ing, o->id, u, cds_now_ms(),
                             acc ? accept_then : NULL, acc, &res, err,
                             errlen);
    if (rc == CDS_OK && res.rejected) {
        snprintf(err, errlen, "value \"%s\" for %s %s %s was rejected by "
                 "validation (its history row says why)", u->value,
                 u->org_unit, u->indicator, u->period);
        rc = CDS_EBADVALUE;
    }
    if (rc == CDS_OK)
        cds_log(CDS_LOG_INFO, "corrected", "org_unit=%s indicator=%s "
                "period=%s actor=%s central_seq=%llu", u->org_unit,
                u->indicator, u->period, cds_logq(u->stored_by),
                (unsigned long long) res.last_seq);
    return rc;
}

/* Accept (apply its value as a correction) or refuse held value id, of
 * root's subtree (""/NULL: any). */
static int
ops_decide(ops_t *o, int64_t id, bool accept, const char *root,
           const char *actor, const char *reason, char *err, size_t errlen)
{
    approval_held_t *h = NULL;
    size_t n = 0;
    int rc = approval_held_list(o->store, NULL, false, id, &h, &n);
    if (rc == CDS_OK && (n != 1 || approval_in_subtree(o->store, root,
                                                       h->org_unit) != 1)) {
        snprintf(err, errlen, "held value %lld: no such value%s",
                 (long long) id, root && root[0] ? " in your units" : "");
        rc = CDS_ENOTFOUND;
    }
    if (rc == CDS_OK && h->decided) {
        snprintf(err, errlen, "held value %lld: %s already by %s",
                 (long long) id, h->decided > 0 ? "accepted" : "refused",
                 h->actor);
        rc = CDS_EBADVALUE;
    }
    char comment[REASON_MAX + 128];
    snprintf(comment, sizeof comment, "chấp nhận giá trị chờ duyệt #%lld "
             "(agent %s seq %llu): %s", (long long) id, h ? h->fpr : "",
             h ? (unsigned long long) h->seq : 0ULL, reason ? reason : "");
    cds_update_t u = { .org_unit = h ? h->org_unit : "",
                       .indicator = h ? h->indicator : "",
                       .period = h ? h->period : "",
                       .disagg = h ? h->disagg : "", .value = h ? h->value
                                                                : "",
                       .deleted = h && h->deleted, .stored_by = actor,
                       .comment = comment };
    accept_t acc = { id, actor, reason };
    if (rc == CDS_OK && accept)        /* one transaction: value + answer */
        rc = ops_correct(o, &u, &acc, err, errlen);
    else if (rc == CDS_OK)
        rc = approval_decide(o->store, id, false, actor, reason,
                             (int64_t) cds_now_ms());
    approval_held_free(h, n);
    return rc;
}

/* ---- command line ------------------------------------------------------- */

static int
cli_done(cds_cli_t *cli, int rc, const char *err)
{
    return rc == CDS_OK ? 0
                        : cds_cli_fail(cds_exit_code(rc), "%s: %s",
                                       cli->cmd->name,
                                       err[0] ? err : cds_strerror(rc));
}

static int
cli_set(cds_cli_t *cli, bool approve)
{
    char err[1024] = "";
    const char *ds = cds_config_get(cli->cfg, "command.data_set");
    const char *pe = cds_config_get(cli->cfg, "command.period");
    const char **ous = NULL;
    ops_t o = { .store = cli->db };
    int rc = CDS_OK;
    const char *note = cds_config_get(cli->cfg, "command.note");
    if (!ds || !pe || cds_config_get_all(cli->cfg, "command.org_unit", &ous)
                          != 1 || (!approve && (!note || !note[0]))) {
        snprintf(err, sizeof err, "needs --data-set, one --org-unit and "
                 "--period%s", approve ? "" : ", and --note WHY");
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK)
        rc = ops_load(&o, cli->cfg, cli->identity, err, sizeof err);
    if (rc == CDS_OK)
        rc = ops_set(&o, ds, ous[0], pe, approve, quality_cli_actor(), note,
                     err, sizeof err);
    if (rc == CDS_OK)
        printf("%s %s %s: %s\n", ds, ous[0], pe,
               approve ? "approved" : "unapproved");
    ops_clear(&o);
    return cli_done(cli, rc, err);
}

int
approve_cli_approve(cds_cli_t *cli)
{
    return cli_set(cli, true);
}

int
approve_cli_unapprove(cds_cli_t *cli)
{
    return cli_set(cli, false);
}

static const char *
decision_word(const approval_held_t *h)
{
    return h->decided > 0 ? "accepted" : h->decided < 0 ? "refused"
                                                        : "pending";
}

static int
cli_list(cds_cli_t *cli, char *err, size_t errlen)
{
    static const char *const head[] = {
        "id", "org_unit", "indicator", "period", "value", "current",
        "agent", "seq", "held_at", "state", "by", "reason",
    };
    report_format_t f;
    if (report_format_parse(cds_config_get(cli->cfg, "command.format"), &f)) {
        snprintf(err, errlen, "format: expected table, csv or json");
        return CDS_EUSAGE;
    }
    const char **ous = NULL;
    size_t nou = cds_config_get_all(cli->cfg, "command.org_unit", &ous);
    approval_held_t *h = NULL;
    size_t n = 0;
    int rc = approval_held_list(cli->db, nou ? ous[0] : NULL,
                                !cds_config_get_bool(cli->cfg, "command.all"),
                                0, &h, &n);
    report_t *rep = rc == CDS_OK ? report_new(f, head, "issssssissss", 12)
                                 : NULL;
    for (size_t i = 0; rep && i < n; i++) {
        char id[24], seq[24], at[40];
        snprintf(id, sizeof id, "%lld", (long long) h[i].id);
        snprintf(seq, sizeof seq, "%llu", (unsigned long long) h[i].seq);
        cds_format_time(at, sizeof at, (uint64_t) h[i].at_ms);
        const char *cells[12] = {
            id, h[i].org_unit, h[i].indicator, h[i].period, h[i].value,
            h[i].current, h[i].fpr, seq, at, decision_word(&h[i]),
            h[i].actor, h[i].reason,
        };
        report_add(rep, cells);
    }
    if (rep)
        report_print(rep, stdout, json_object(), NULL);
    else if (rc == CDS_OK)
        rc = CDS_ENOMEM;
    report_destroy(&rep);
    approval_held_free(h, n);
    return rc;
}

int
approve_cli_pending(cds_cli_t *cli)
{
    char err[1024] = "";
    const char *verb = cli->n_args >= 1 ? cli->args[0] : "";
    bool accept = strcmp(verb, "accept") == 0;
    if (strcmp(verb, "list") == 0 && cli->n_args == 1)
        return cli_done(cli, cli_list(cli, err, sizeof err), err);
    char *end = NULL;
    long long id = cli->n_args == 2 ? strtoll(cli->args[1], &end, 10) : 0;
    const char *note = cds_config_get(cli->cfg, "command.note");
    if ((!accept && strcmp(verb, "refuse") != 0) || id <= 0 || *end
        || (!accept && (!note || !note[0]))) {
        snprintf(err, sizeof err, "pending list [--org-unit OU] [--all] | "
                 "pending accept ID [--note WHY] | pending refuse ID "
                 "--note WHY");
        return cli_done(cli, CDS_EUSAGE, err);
    }
    ops_t o = { .store = cli->db };
    int rc = ops_load(&o, cli->cfg, cli->identity, err, sizeof err);
    if (rc == CDS_OK)
        rc = ops_decide(&o, id, accept, NULL, quality_cli_actor(), note, err,
                        sizeof err);
    if (rc == CDS_OK)
        printf("held value %lld: %s\n", id, accept ? "accepted" : "refused");
    ops_clear(&o);
    return cli_done(cli, rc, err);
}

/* ---- HTTP --------------------------------------------------------------- */

typedef struct {
    ops_t o;                           /* o.store: the writer, lazily */
    char *db_path;
} web_t;

static void
web_free(void *p)
{
    web_t *w = p;
    ops_clear(&w->o);
    store_destroy(&w->o.store);
    free(w->db_path);
    free(w);
}

/* The writer connection, opened at the first write. */
static store_t *
web_store(web_t *w)
{
    int code = 0;
    if (!w->o.store)
        w->o.store = store_open(w->db_path, 0, &code);
    return w->o.store;
}

static const char *
actor_of(http_req_t *req)
{
    const http_principal_t *p = http_req_principal(req);
    return p && p->name[0] ? p->name : "machine";
}

static const char *
root_of(http_req_t *req)
{
    const http_principal_t *p = http_req_principal(req);
    return p && !p->machine ? p->org_unit : "";
}

/* The body as a JSON object, or NULL with the reply set. */
static json_t *
body_object(http_req_t *req)
{
    size_t len = 0;
    const uint8_t *b = http_req_body(req, &len);
    json_t *j = b ? json_loadb((const char *) b, len, 0, NULL) : NULL;
    if (json_is_object(j))
        return j;
    json_decref(j);
    http_reply_error(req, 400, "Nội dung yêu cầu phải là một đối tượng JSON "
                     "(request body: a JSON object expected).");
    return NULL;
}

/* A string member: "" when absent; false (reply set) when it is not a
 * string or longer than max bytes. */
static bool
member(http_req_t *req, json_t *j, const char *key, size_t max,
       const char **out)
{
    json_t *v = json_object_get(j, key);
    *out = json_is_string(v) ? json_string_value(v) : "";
    if ((!v || json_is_string(v)) && strlen(*out) <= max)
        return true;
    char msg[160];
    snprintf(msg, sizeof msg, "Trường \"%s\" không hợp lệ (field \"%s\": "
             "a string of at most %zu bytes).", key, key, max);
    http_reply_error(req, 400, msg);
    return false;
}

/* Each name in keys must be a non-empty member. */
static bool
required(http_req_t *req, const char *const *keys, const char **vals,
         size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!vals[i][0]) {
            char msg[160];
            snprintf(msg, sizeof msg, "Thiếu \"%s\" (field \"%s\" is "
                     "required).", keys[i], keys[i]);
            http_reply_error(req, 400, msg);
            return false;
        }
    return true;
}

/* ou in the account's subtree; false with the reply set. */
static bool
in_scope(http_req_t *req, web_t *w, const char *ou)
{
    int in = approval_in_subtree(w->o.store, root_of(req), ou);
    if (in == 1)
        return true;
    char msg[400];
    snprintf(msg, sizeof msg, "Tài khoản %s chỉ được sửa và duyệt đơn vị %s "
             "và các đơn vị trực thuộc, không được sửa %s.", actor_of(req),
             root_of(req), ou);
    http_reply_error(req, in == 0 ? 403 : 503,
                     in == 0 ? msg : "database not available");
    return false;
}

/* ok (200) or the error: 404 not found, bad_value as conflict (409 for a
 * state, 400 for a value), other input errors 400, else 500. */
static void
reply_code(http_req_t *req, int rc, const char *err, json_t *ok,
           unsigned conflict)
{
    if (rc == CDS_OK) {
        http_reply_json(req, 200, ok);
        return;
    }
    json_decref(ok);
    unsigned status = 500;
    if (rc == CDS_ENOTFOUND)
        status = 404;
    else if (rc == CDS_EBADVALUE)
        status = conflict;
    else if (rc == CDS_EUSAGE || rc == CDS_EBADPERIOD || rc == CDS_ERANGE
             || rc == CDS_EUNKNOWNORGUNIT || rc == CDS_EUNKNOWNINDICATOR
             || rc == CDS_EBADFIELD || rc == CDS_EMALFORMED)
        status = 400;
    http_reply_error(req, status, err[0] ? err : cds_strerror(rc));
}

static void
on_correct(http_req_t *req, void *ctx)
{
    static const char *const keys[] = {"org_unit", "indicator", "period",
                                       "reason"};
    web_t *w = ctx;
    const char *v[4], *value, *disagg;
    char err[1024] = "";
    json_t *j = body_object(req);
    bool ok = j;
    for (size_t i = 0; ok && i < 4; i++)
        ok = member(req, j, keys[i], i < 3 ? 128 : REASON_MAX, &v[i]);
    ok = ok && member(req, j, "value", 50000, &value)
         && member(req, j, "disagg", 128, &disagg) && required(req, keys, v, 4);
    bool deleted = ok && json_is_true(json_object_get(j, "deleted"));
    if (ok && !web_store(w))
        http_reply_error(req, 503, "database not available");
    else if (ok && in_scope(req, w, v[0])) {
        cds_update_t u = { .org_unit = v[0], .indicator = v[1],
                           .period = v[2], .comment = v[3],
                           .disagg = disagg[0] ? disagg : "default",
                           .value = deleted ? "" : value, .deleted = deleted,
                           .stored_by = actor_of(req) };
        int rc = ops_correct(&w->o, &u, NULL, err, sizeof err);
        reply_code(req, rc, err, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}",
                                           "org_unit", v[0], "indicator",
                                           v[1], "period", v[2], "value",
                                           u.value, "by", u.stored_by,
                                           "reason", v[3]), 400);
    }
    json_decref(j);
}

static void
on_set(http_req_t *req, web_t *w, bool approve)
{
    static const char *const keys[] = {"data_set", "org_unit", "period",
                                       "reason"};
    const char *v[4];
    char err[1024] = "";
    json_t *j = body_object(req);
    bool ok = j;
    for (size_t i = 0; ok && i < 4; i++)
        ok = member(req, j, keys[i], i < 3 ? 128 : REASON_MAX, &v[i]);
    ok = ok && required(req, keys, v, approve ? 3 : 4);
    if (ok && !web_store(w))
        http_reply_error(req, 503, "database not available");
    else if (ok && in_scope(req, w, v[1])) {
        int rc = ops_set(&w->o, v[0], v[1], v[2], approve, actor_of(req),
                         v[3], err, sizeof err);
        reply_code(req, rc, err, json_pack("{s:s,s:s,s:s,s:b,s:s}",
                                           "data_set", v[0], "org_unit",
                                           v[1], "period", v[2], "approved",
                                           approve, "by", actor_of(req)),
                   409);
    }
    json_decref(j);
}

static void
on_approve(http_req_t *req, void *ctx)
{
    on_set(req, ctx, true);
}

static void
on_unapprove(http_req_t *req, void *ctx)
{
    on_set(req, ctx, false);
}

static void
on_decide(http_req_t *req, web_t *w, bool accept)
{
    static const char *const keys[] = {"reason"};
    const char *reason;
    char err[1024] = "";
    json_t *j = body_object(req);
    json_t *id = j ? json_object_get(j, "id") : NULL;
    bool ok = j && member(req, j, "reason", REASON_MAX, &reason)
              && (accept || required(req, keys, &reason, 1));
    if (ok && (!json_is_integer(id) || json_integer_value(id) <= 0)) {
        http_reply_error(req, 400, "Thiếu \"id\" (field \"id\": the held "
                         "value's number).");
        ok = false;
    }
    if (ok && !web_store(w))
        http_reply_error(req, 503, "database not available");
    else if (ok) {
        int64_t n = (int64_t) json_integer_value(id);
        int rc = ops_decide(&w->o, n, accept, root_of(req), actor_of(req),
                            reason, err, sizeof err);
        reply_code(req, rc, err, json_pack("{s:I,s:s,s:s}", "id",
                                           (json_int_t) n, "state",
                                           accept ? "accepted" : "refused",
                                           "by", actor_of(req)), 409);
    }
    json_decref(j);
}

static void
on_accept(http_req_t *req, void *ctx)
{
    on_decide(req, ctx, true);
}

static void
on_refuse(http_req_t *req, void *ctx)
{
    on_decide(req, ctx, false);
}

/* ?org_unit (default: the account's root) checked against the scope on
 * the read connection; NULL with the reply set. */
static const char *
read_root(http_req_t *req, store_t **store)
{
    const char *ou = http_req_arg(req, "org_unit");
    const char *root = root_of(req);
    *store = http_req_store(req);
    if (!*store) {
        http_reply_error(req, 503, "database not available");
        return NULL;
    }
    if (!ou || !ou[0])
        return root;
    if (approval_in_subtree(*store, root, ou) == 1)
        return ou;
    char msg[400];
    snprintf(msg, sizeof msg, "Tài khoản %s chỉ được xem đơn vị %s và các "
             "đơn vị trực thuộc, không được xem %s.", actor_of(req), root,
             ou);
    http_reply_error(req, 403, msg);
    return NULL;
}

static json_t *
held_json(const approval_held_t *h)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:I,s:I,"
                     "s:s,s:s,s:s,s:I}",
                     "id", (json_int_t) h->id, "org_unit", h->org_unit,
                     "indicator", h->indicator, "disagg", h->disagg,
                     "period", h->period, "value", h->value, "deleted",
                     h->deleted, "current", h->current, "stored_by",
                     h->stored_by, "agent", h->fpr, "seq",
                     (json_int_t) h->seq, "held_at_ms", (json_int_t) h->at_ms,
                     "state", decision_word(h), "by", h->actor, "reason",
                     h->reason, "decided_at_ms", (json_int_t) h->decided_ms);
}

static void
on_pending(http_req_t *req, void *ctx)
{
    store_t *store;
    const char *root = read_root(req, &store);
    if (!root)
        return;
    const char *all = http_req_arg(req, "all");
    approval_held_t *h = NULL;
    size_t n = 0;
    int rc = approval_held_list(store, root, !(all && strcmp(all, "1") == 0),
                                0, &h, &n);
    json_t *rows = json_array();
    for (size_t i = 0; rc == CDS_OK && i < n; i++)
        json_array_append_new(rows, held_json(&h[i]));
    approval_held_free(h, n);
    reply_code(req, rc, "", json_pack("{s:o}", "pending", rows), 409);
}

/* The data sets one may approve: [{code, name, period_type,
 * indicators}]. */
static json_t *
data_sets_json(const web_t *w)
{
    json_t *a = json_array();
    size_t n = w->o.ds ? cds_datasets_size(w->o.ds) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *code = cds_datasets_code(w->o.ds, i);
        cds_period_type_t type;
        size_t k = 0;
        const char *const *ind = cds_datasets_indicators(w->o.ds, code, &k,
                                                         &type);
        json_t *inds = json_array();
        for (size_t j = 0; j < k; j++)
            json_array_append_new(inds, json_string(ind[j]));
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:o}", "code", code,
                                           "name", cds_datasets_name(w->o.ds,
                                                                     i),
                                           "period_type",
                                           cds_period_type_name(type),
                                           "indicators", inds));
    }
    return a;
}

static void
on_approvals(http_req_t *req, void *ctx)
{
    store_t *store;
    const char *root = read_root(req, &store);
    if (!root)
        return;
    approval_row_t *r = NULL;
    size_t n = 0;
    int rc = approval_list(store, root, http_req_arg(req, "period"), &r, &n);
    json_t *rows = json_array();
    for (size_t i = 0; rc == CDS_OK && i < n; i++)
        json_array_append_new(rows, json_pack(
            "{s:s,s:s,s:s,s:b,s:s,s:s,s:I}", "data_set", r[i].dataset,
            "org_unit", r[i].org_unit, "period", r[i].period, "approved",
            r[i].approved, "by", r[i].actor, "reason", r[i].reason,
            "at_ms", (json_int_t) r[i].at_ms));
    approval_list_free(r, n);
    reply_code(req, rc, "", json_pack("{s:o,s:o}", "approvals", rows,
                                      "data_sets", data_sets_json(ctx)),
               409);
}

#define ADMINS (HTTP_ROLE_DISTRICT | HTTP_ROLE_PROVINCE)

int
approve_routes_add(http_t *http, const cds_config_t *cfg,
                   const char *db_path, const char *identity_path,
                   char *err, size_t errlen)
{
    web_t *w = calloc(1, sizeof *w);
    if (!w || !(w->db_path = strdup(db_path))) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return CDS_ENOMEM;
    }
    int rc = ops_load(&w->o, cfg, identity_path, err, errlen);
    if (rc != CDS_OK || http_cleanup_add(http, web_free, w) != 0) {
        web_free(w);
        return rc != CDS_OK ? rc : CDS_ERROR;
    }
    if (http_route_add_roles(http, "POST", "/api/correct", on_correct, w,
                             ADMINS) != 0
        || http_route_add_roles(http, "POST", "/api/approve", on_approve, w,
                                ADMINS) != 0
        || http_route_add_roles(http, "POST", "/api/unapprove", on_unapprove,
                                w, ADMINS) != 0
        || http_route_add_roles(http, "POST", "/api/pending/accept",
                                on_accept, w, ADMINS) != 0
        || http_route_add_roles(http, "POST", "/api/pending/refuse",
                                on_refuse, w, ADMINS) != 0
        || http_route_add_roles(http, "GET", "/api/pending", on_pending, w,
                                ADMINS) != 0
        || http_route_add_roles(http, "GET", "/api/approvals", on_approvals,
                                w, HTTP_ROLES_DATA) != 0) {
        snprintf(err, errlen, "the route table is full");
        return CDS_ERROR;
    }
    return CDS_OK;
}
