/*  admin: option handling of the district-admin commands. See admin.h. */
#include "admin.h"

#include "account.h"
#include "api.h"
#include "attain.h"

#include "cds_catalog.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_util.h"
#include "carried.h"
#include "central.h"
#include "commitmark.h"
#include "completeness.h"
#include "dhis2push.h"
#include "export.h"
#include "history.h"
#include "official.h"
#include "ingest.h"
#include "orgmap.h"
#include "rank.h"
#include "rollup.h"
#include "store.h"

#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* What each command gets: the options, the open store, operands. */
typedef struct {
    const cds_config_t *cfg;   /* parsed options (borrowed) */
    store_t *store;            /* open database (borrowed) */
    const char *identity_path; /* the aggregator's identity file */
    const char *db_path;       /* the store's path (commit mark base) */
    char **args;               /* operands after the command */
    int n_args;
    FILE *out;       /* results */
    FILE *errf;      /* per-row problems (import) */
    uint64_t now_ms; /* wall clock */
} admin_ctx_t;

static const char *const deadline_keys[COMPLETENESS_TYPES] = {
    "aggregator.deadline_daily", "aggregator.deadline_weekly",
    "aggregator.deadline_monthly", "aggregator.deadline_quarterly",
    "aggregator.deadline_sixmonthly", "aggregator.deadline_yearly",
};

static const char *
get(const admin_ctx_t *c, const char *key)
{
    return cds_config_get(c->cfg, key);
}

/* The single --org-unit, or NULL; CDS_EUSAGE when given twice. */
static int
one_org_unit(const admin_ctx_t *c, const char **ou, char *err, size_t errlen)
{
    const char **ous = NULL;
    size_t n = cds_config_get_all(c->cfg, "command.org_unit", &ous);
    *ou = n ? ous[0] : NULL;
    if (n > 1) {
        snprintf(err, errlen, "at most one --org-unit");
        return CDS_EUSAGE;
    }
    return CDS_OK;
}

static int
report_format(const admin_ctx_t *c, report_format_t *f, char *err,
              size_t errlen)
{
    if (report_format_parse(get(c, "command.format"), f) == 0)
        return CDS_OK;
    snprintf(err, errlen, "format: \"%s\": expected table, csv or json",
             get(c, "command.format"));
    return CDS_EUSAGE;
}

static cds_catalog_t *
load_catalog(const admin_ctx_t *c, int *code, char *err, size_t errlen)
{
    cds_catalog_t *cat = cds_catalog_load(get(c, "aggregator.catalog"), err,
                                          errlen);
    *code = cat ? CDS_OK : CDS_EMALFORMED;
    return cat;
}

/* ---- --bom -------------------------------------------------------------- */

int
admin_bom_begin(const cds_config_t *cfg, bool csv, admin_bom_t *b,
                FILE **out, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (!cds_config_get_bool(cfg, "command.bom"))
        return CDS_OK;
    if (!csv) {
        snprintf(err, errlen, "--bom: only with --format csv (a BOM tells "
                 "Excel the CSV is UTF-8)");
        return CDS_EUSAGE;
    }
    b->dest = *out;
    b->mem = open_memstream(&b->buf, &b->len);
    if (!b->mem)
        return CDS_ENOMEM;
    *out = b->mem;
    return CDS_OK;
}

int
admin_bom_end(admin_bom_t *b, bool ok)
{
    int rc = CDS_OK;
    if (!b->mem)
        return CDS_OK;
    if (fclose(b->mem) != 0)
        rc = CDS_ENOMEM;
    if (rc == CDS_OK && ok) {
        fputs("\xEF\xBB\xBF", b->dest);
        fwrite(b->buf, 1, b->len, b->dest);
        rc = fflush(b->dest) == 0 ? CDS_OK : CDS_EIO;
    }
    free(b->buf);
    memset(b, 0, sizeof *b);
    return rc;
}

/* fn with c->out buffered behind a BOM when --bom (CSV only). */
static int
with_bom(admin_ctx_t *c, report_format_t f,
         int (*fn)(admin_ctx_t *, char *, size_t), char *err, size_t errlen)
{
    admin_bom_t b;
    int rc = admin_bom_begin(c->cfg, f == REPORT_CSV, &b, &c->out, err,
                             errlen);
    if (rc != CDS_OK)
        return rc;
    rc = fn(c, err, errlen);
    int rc2 = admin_bom_end(&b, rc == CDS_OK);
    return rc != CDS_OK ? rc : rc2;
}

/* What rollup and rank compute with: the mapping refreshed, the catalog,
 * its rollup rules and the targets file (attain.h; NULL when none). */
typedef struct {
    cds_catalog_t *cat;
    rollup_rules_t *rules;
    cds_targets_t *targets;
} figure_meta_t;

static void
figure_meta_free(figure_meta_t *m)
{
    cds_targets_destroy(&m->targets);
    rollup_rules_destroy(&m->rules);
    cds_catalog_destroy(&m->cat);
}

static int
figure_meta_load(admin_ctx_t *c, figure_meta_t *m, char *err, size_t errlen)
{
    int rc = orgmap_refresh(c->cfg, c->store, err, errlen);
    if (rc == CDS_OK)
        m->cat = load_catalog(c, &rc, err, errlen);
    if (rc == CDS_OK
        && !(m->rules = rollup_rules_load(get(c, "aggregator.catalog"), err,
                                          errlen)))
        rc = CDS_EMALFORMED;
    if (rc == CDS_OK)
        rc = attain_targets_load(c->cfg, m->cat, &m->targets, err, errlen);
    return rc;
}

static int
do_rollup(admin_ctx_t *c, char *err, size_t errlen)
{
    const char *ou = NULL, **inds = NULL;
    report_format_t f;
    figure_meta_t m = { 0 };
    int rc = one_org_unit(c, &ou, err, errlen);
    if (rc == CDS_OK)
        rc = report_format(c, &f, err, errlen);
    size_t n = cds_config_get_all(c->cfg, "command.indicator", &inds);
    if (rc == CDS_OK && (!ou || !get(c, "command.period"))) {
        snprintf(err, errlen, "rollup needs --org-unit and --period");
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK)
        rc = figure_meta_load(c, &m, err, errlen);
    if (rc == CDS_OK)      /* target columns appended when m.targets */
        rc = rollup_run_targets(c->store, m.cat, m.rules, m.targets, ou,
                                get(c, "command.period"), inds, n, f, c->out,
                                err, errlen);
    figure_meta_free(&m);
    return rc;
}

/* rank --org-unit OU --indicator DE --period PE (rank.h). */
static int
do_rank(admin_ctx_t *c, char *err, size_t errlen)
{
    const char **inds = NULL;
    rank_opts_t o = { .period = get(c, "command.period") };
    report_format_t f;
    figure_meta_t m = { 0 };
    int rc = one_org_unit(c, &o.org_unit, err, errlen);
    if (rc == CDS_OK)
        rc = report_format(c, &f, err, errlen);
    if (rc == CDS_OK
        && cds_config_get_all(c->cfg, "command.indicator", &inds) > 1) {
        snprintf(err, errlen, "exactly one --indicator");
        rc = CDS_EUSAGE;
    }
    o.indicator = inds ? inds[0] : NULL;
    if (rc == CDS_OK)
        rc = figure_meta_load(c, &m, err, errlen);
    o.catalog = m.cat;
    o.rules = m.rules;
    o.targets = m.targets;
    if (rc == CDS_OK)
        rc = rank_run(c->store, &o, f, c->out, err, errlen);
    figure_meta_free(&m);
    return rc;
}

static int
deadlines(const admin_ctx_t *c, completeness_opts_t *o, char *err,
          size_t errlen)
{
    for (int i = 0; i < COMPLETENESS_TYPES; i++) {
        long v = 0;
        if (cds_config_get_long(c->cfg, deadline_keys[i], &v, err, errlen)
                != CDS_OK
            || v < 0 || v > 3660) {
            snprintf(err, errlen, "%s: \"%s\": expected 0..3660 days",
                     deadline_keys[i] + strlen("aggregator."),
                     get(c, deadline_keys[i]));
            return CDS_EUSAGE;
        }
        o->deadline_days[i] = (int) v;
    }
    return CDS_OK;
}

static int
do_completeness(admin_ctx_t *c, char *err, size_t errlen)
{
    completeness_opts_t o = { .period = get(c, "command.period"),
                              .now_ms = c->now_ms };
    report_format_t f;
    int rc = one_org_unit(c, &o.org_unit, err, errlen);
    if (rc == CDS_OK)
        rc = report_format(c, &f, err, errlen);
    if (rc == CDS_OK)
        rc = deadlines(c, &o, err, errlen);
    o.n_indicators = cds_config_get_all(c->cfg, "command.indicator",
                                        (const char ***) &o.indicators);
    if (rc == CDS_OK)
        rc = orgmap_refresh(c->cfg, c->store, err, errlen);
    cds_catalog_t *cat = rc == CDS_OK ? load_catalog(c, &rc, err, errlen)
                                      : NULL;
    o.catalog = cat;
    cds_datasets_t *ds = NULL;
    if (rc == CDS_OK)
        rc = completeness_datasets(c->cfg, cat, &ds, err, errlen);
    o.datasets = ds;
    cds_contacts_t *contacts = NULL;
    if (rc == CDS_OK)
        rc = completeness_contacts(c->cfg, &contacts, err, errlen);
    o.contacts = contacts;
    if (rc == CDS_OK)
        rc = completeness_run(c->store, &o, f, c->out, err, errlen);
    cds_contacts_destroy(&contacts);
    cds_datasets_destroy(&ds);
    cds_catalog_destroy(&cat);
    return rc;
}

static cds_identity_t *
load_identity(const admin_ctx_t *c, int *code, char *err, size_t errlen)
{
    cds_identity_t *id = cds_identity_load(c->identity_path, code, err,
                                           errlen);
    if (!id && *code != CDS_EPERM)
        *code = CDS_EMALFORMED;
    return id;
}

static int
do_history(admin_ctx_t *c, char *err, size_t errlen)
{
    const char *ou = NULL, **inds = NULL;
    report_format_t f;
    int rc = one_org_unit(c, &ou, err, errlen);
    if (rc == CDS_OK)
        rc = report_format(c, &f, err, errlen);
    if (rc == CDS_OK
        && cds_config_get_all(c->cfg, "command.indicator", &inds) != 1) {
        snprintf(err, errlen, "history needs exactly one --indicator");
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK)          /* the merge rule's units (history.h) */
        rc = orgmap_refresh(c->cfg, c->store, err, errlen);
    cds_identity_t *id = rc == CDS_OK ? load_identity(c, &rc, err, errlen)
                                      : NULL;
    if (rc == CDS_OK)
        rc = history_run(c->store, cds_identity_sign_pk(id), ou, inds[0],
                         get(c, "command.period"), f, c->out, err, errlen);
    cds_identity_destroy(&id);
    return rc;
}

/* --id-scheme code|uid|name and --id-map FILE (cds_idmap.h): *ids NULL
 * for codes; uid needs the map; name takes one (overrides) or none;
 * code takes none. */
static int
idmap_opt(admin_ctx_t *c, cds_idmap_t **ids, bool *names, char *err,
               size_t errlen)
{
    const char *map = get(c, "command.id_map");
    bool uid;
    *ids = NULL;
    int rc = cds_idmap_option(get(c, "command.id_scheme"), map, &uid, names,
                              err, errlen);
    if (rc != CDS_OK)
        return rc;
    if (map && !uid && !*names) {
        snprintf(err, errlen, "id-map: only with --id-scheme uid or name");
        return CDS_EUSAGE;
    }
    if (map && !(*ids = cds_idmap_load(map, uid ? CDS_IDMAP_UID
                                                 : CDS_IDMAP_NAME,
                                        err, errlen)))
        return CDS_EBADFIELD;
    return CDS_OK;
}

/* What export and push-dhis2 share: the selection (query's filters,
 * merged-in units in scope), --include-deleted, the ids and the catalog
 * (names for csv; derived ratios left out, export.h) into o. The caller
 * frees *ids and *cat whatever the result. */
static int
export_selection(admin_ctx_t *c, export_opts_t *o, cds_idmap_t **ids,
                 cds_catalog_t **cat, char *err, size_t errlen)
{
    o->filter.subtree = !cds_config_get_bool(c->cfg, "command.no_subtree");
    o->include_deleted = cds_config_get_bool(c->cfg,
                                             "command.include_deleted");
    int rc = idmap_opt(c, ids, &o->names, err, errlen);
    o->ids = *ids;
    if (rc == CDS_OK)
        rc = one_org_unit(c, &o->filter.org_unit, err, errlen);
    o->filter.n_indicators = cds_config_get_all(
        c->cfg, "command.indicator", (const char ***) &o->filter.indicators);
    o->filter.period = get(c, "command.period");
    o->filter.from = get(c, "command.from");
    o->filter.to = get(c, "command.to");
    if (rc == CDS_OK)          /* merged-in units are in scope (query.h) */
        rc = orgmap_refresh(c->cfg, c->store, err, errlen);
    if (rc == CDS_OK)
        *cat = load_catalog(c, &rc, err, errlen);
    o->catalog = *cat;
    return rc;
}

static int
do_export(admin_ctx_t *c, char *err, size_t errlen)
{
    export_opts_t o = { .bom = cds_config_get_bool(c->cfg, "command.bom"),
                        .adx_periods = cds_config_get_bool(
                            c->cfg, "command.adx_periods") };
    const char *fmt = get(c, "command.format");
    if (!fmt || strcmp(fmt, "table") == 0)
        fmt = "dhis2-json";    /* the shared default is "table" */
    if (export_format_parse(fmt, &o.format) != CDS_OK) {
        snprintf(err, errlen, "format: \"%s\": expected dhis2-json, "
                 "dhis2-csv, csv or adx", fmt);
        return CDS_EUSAGE;
    }
    cds_idmap_t *ids = NULL;
    cds_catalog_t *cat = NULL;
    int rc = export_selection(c, &o, &ids, &cat, err, errlen);
    cds_datasets_t *ds = NULL; /* the ADX groups' dataSet (export_adx.h) */
    if (rc == CDS_OK && o.format == EXPORT_ADX)
        rc = completeness_datasets(c->cfg, cat, &ds, err, errlen);
    o.datasets = ds;
    if (rc == CDS_OK)
        rc = export_run(c->store, &o, c->out, err, errlen);
    cds_datasets_destroy(&ds);
    cds_catalog_destroy(&cat);
    cds_idmap_destroy(&ids);
    return rc;
}

/* A whole-number option (--chunk, --timeout) as a long, def when unset;
 * its range is the command's to check. CDS_OK or CDS_EUSAGE naming it. */
static int
long_opt(admin_ctx_t *c, const char *key, long def, long *v, char *err,
         size_t errlen)
{
    const char *s = get(c, key);
    char *end = NULL;
    *v = s ? strtol(s, &end, 10) : def;
    if (s && (!*s || *end)) {
        snprintf(err, errlen, "%s: \"%s\": expected a number",
                 strchr(key, '.') + 1, s);
        return CDS_EUSAGE;
    }
    return CDS_OK;
}

/* push-dhis2 (dhis2push.h): export's selection and ids, then the push. */
/* The values of data set code only (datasets.csv, when configured): its
 * indicators, or of --indicator those it holds — DHIS2 files values of a
 * data set under it, and an indicator outside it would come back as a
 * conflict. Without datasets.csv, everything the filters select. */
static int
push_data_set_scope(const cds_datasets_t *ds, const char *code,
                    query_opts_t *f, char *err, size_t errlen)
{
    size_t n = 0;
    const char *const *ind = ds ? cds_datasets_indicators(ds, code, &n, NULL)
                                : NULL;
    if (!ds)
        return CDS_OK;
    if (!ind) {
        snprintf(err, errlen, "data-set: \"%s\" is not in datasets.csv "
                 "(its data sets: %s%s)", code,
                 cds_datasets_size(ds) ? cds_datasets_code(ds, 0) : "none",
                 cds_datasets_size(ds) > 1 ? ", ..." : "");
        return CDS_ENOTFOUND;
    }
    for (size_t i = 0; i < f->n_indicators; i++) {
        size_t j = 0;
        while (j < n && strcmp(ind[j], f->indicators[i]) != 0)
            j++;
        if (j == n) {
            snprintf(err, errlen, "indicator: \"%s\" is not in data set "
                     "%s (datasets.csv)", f->indicators[i], code);
            return CDS_EUSAGE;
        }
    }
    if (f->n_indicators == 0) {
        f->indicators = ind;
        f->n_indicators = n;
    }
    return CDS_OK;
}

static int
do_push_dhis2(admin_ctx_t *c, char *err, size_t errlen)
{
    export_opts_t x = { .format = EXPORT_DHIS2_JSON };
    dhis2push_opts_t o = {
        .url = get(c, "command.url"),
        .data_set = get(c, "command.data_set"),
        .credentials = get(c, "command.credentials"),
        .auth = get(c, "command.auth"),
        .import_strategy = get(c, "command.import_strategy"),
        .ca_file = get(c, "command.ca_file"),
        .dry_run = cds_config_get_bool(c->cfg, "command.dry_run"),
        .all = cds_config_get_bool(c->cfg, "command.all"),
        .now_ms = c->now_ms };
    cds_idmap_t *ids = NULL;
    cds_catalog_t *cat = NULL;
    int rc = long_opt(c, "command.chunk", 500, &o.chunk, err, errlen);
    if (rc == CDS_OK)
        rc = long_opt(c, "command.timeout", 60, &o.timeout_s, err, errlen);
    if (rc == CDS_OK)
        rc = export_selection(c, &x, &ids, &cat, err, errlen);
    cds_datasets_t *ds = NULL;
    if (rc == CDS_OK)
        rc = completeness_datasets(c->cfg, cat, &ds, err, errlen);
    if (rc == CDS_OK && o.data_set)
        rc = push_data_set_scope(ds, o.data_set, &x.filter, err, errlen);
    if (rc == CDS_OK)
        rc = dhis2push_run(c->store, &x, &o, c->out, err, errlen);
    cds_datasets_destroy(&ds);
    cds_catalog_destroy(&cat);
    cds_idmap_destroy(&ids);
    return rc;
}

/* Our identity, the catalog and an ingester over them (the write path of
 * import and import-batches). NULL with *rc on failure; free all three. */
static ingest_t *
load_ingest(const admin_ctx_t *c, cds_identity_t **id, cds_catalog_t **cat,
            int *rc, char *err, size_t errlen)
{
    *id = load_identity(c, rc, err, errlen);
    *cat = *id ? load_catalog(c, rc, err, errlen) : NULL;
    ingest_t *ing = *cat ? ingest_new(c->store, *id, *cat) : NULL;
    if (*cat && !ing)
        *rc = CDS_ENOMEM;
    return ing;
}

static int
do_import(admin_ctx_t *c, char *err, size_t errlen)
{
    if (c->n_args != 1) {
        snprintf(err, errlen, "import: exactly one FILE expected");
        return CDS_EUSAGE;
    }
    cds_dvs_header_t header;
    if (cds_dvs_header_flags(cds_config_get_bool(c->cfg, "command.header"),
                             cds_config_get_bool(c->cfg, "command.no_header"),
                             &header) != 0) {
        snprintf(err, errlen, "import: --header and --no-header together");
        return CDS_EUSAGE;
    }
    cds_identity_t *id = NULL;
    cds_catalog_t *cat = NULL;
    cds_idmap_t *ids = NULL;
    bool names = false;
    int rc = idmap_opt(c, &ids, &names, err, errlen);
    ingest_t *ing = rc == CDS_OK ? load_ingest(c, &id, &cat, &rc, err, errlen)
                                 : NULL;
    if (rc == CDS_OK && names) {       /* the names export would write */
        cds_idmap_t *m = export_names_map(c->store, ids, cat, &rc);
        cds_idmap_destroy(&ids);
        ids = m;
    }
    central_result_t res;
    if (rc == CDS_OK)
        rc = central_import_file(c->store, ing, id, cat, c->args[0], header,
                                 ids, c->now_ms, c->errf, &res, err, errlen);
    if (rc == CDS_OK)
        fprintf(c->out, "imported %zu row(s): %zu applied, %zu rejected, "
                "central seq %llu..%llu\n", res.rows, res.applied,
                res.rejected, (unsigned long long) res.first_seq,
                (unsigned long long) res.last_seq);
    ingest_destroy(&ing);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&id);
    cds_idmap_destroy(&ids);
    return rc;
}

/* The heading options of `report` (official.h; NULL: the default). */
static void
report_heading(const admin_ctx_t *c, official_opts_t *o)
{
    o->issuer = get(c, "command.unit_name");
    o->number = get(c, "command.number");
    o->place = get(c, "command.place");
    o->date = get(c, "command.date");
    o->title = get(c, "command.title");
    o->signer = get(c, "command.signer");
    o->signer_title = get(c, "command.signer_title");
    o->bom = cds_config_get_bool(c->cfg, "command.bom");
    o->now_ms = c->now_ms;
}

/* report --org-unit OU --period PE --out FILE: the file is written beside
 * FILE and renamed into place, never over an existing file unless
 * --force. */
static int
do_report(admin_ctx_t *c, char *err, size_t errlen)
{
    official_opts_t o = { .period = get(c, "command.period") };
    const char *fmt = get(c, "command.format"), *path = get(c, "command.out");
    char tmp[PATH_MAX] = "";
    report_heading(c, &o);
    int rc = one_org_unit(c, &o.org_unit, err, errlen);
    if (!fmt || strcmp(fmt, "table") == 0)
        fmt = "xlsx";                  /* the shared default is "table" */
    if (rc == CDS_OK && official_format_parse(fmt, &o.format) != 0) {
        snprintf(err, errlen, "format: \"%s\": expected xlsx or csv", fmt);
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK && (!o.org_unit || !o.period || !path || !path[0])) {
        snprintf(err, errlen, "report needs --org-unit, --period and --out");
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK && o.bom && o.format != OFFICIAL_CSV) {
        snprintf(err, errlen, "--bom: only with --format csv (an .xlsx "
                 "holds its text as UTF-8 already)");
        rc = CDS_EUSAGE;
    }
    o.n_indicators = cds_config_get_all(c->cfg, "command.indicator",
                                        (const char ***) &o.indicators);
    bool force = cds_config_get_bool(c->cfg, "command.force");
    if (rc == CDS_OK && !force && access(path, F_OK) == 0) {
        snprintf(err, errlen, "%s: already exists; choose a new file name "
                 "or --force", path);
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK)
        rc = orgmap_refresh(c->cfg, c->store, err, errlen);
    cds_catalog_t *cat = rc == CDS_OK ? load_catalog(c, &rc, err, errlen)
                                      : NULL;
    rollup_rules_t *rules = cat ? rollup_rules_load(
                                      get(c, "aggregator.catalog"), err,
                                      errlen)
                                : NULL;
    if (cat && !rules)
        rc = CDS_EMALFORMED;
    if (rc == CDS_OK)
        rc = cds_temp_beside(path, tmp, sizeof tmp, err, errlen);
    if (rc == CDS_OK)
        rc = official_write(c->store, cat, rules, &o, tmp, err, errlen);
    if (rc == CDS_OK)
        rc = cds_publish_file(tmp, path, force, err, errlen);
    else if (tmp[0])
        unlink(tmp);
    if (rc == CDS_OK)
        fprintf(c->out, "report written to %s\n", path);
    rollup_rules_destroy(&rules);
    cds_catalog_destroy(&cat);
    return rc;
}

/* The commit mark must allow acks (as `run` checks at start): a store
 * behind its mark waits for accept-restore. */
static commitmark_t *
open_mark(admin_ctx_t *c, int *rc, char *err, size_t errlen)
{
    commitmark_state_t st = COMMITMARK_OK;
    char msg[1536] = "";
    commitmark_t *mark = commitmark_new(c->store, c->db_path);
    *rc = mark ? commitmark_check(mark, &st, msg, sizeof msg) : CDS_ENOMEM;
    if (*rc == CDS_OK && !commitmark_state_runs(st)) {
        snprintf(err, errlen, "%s", msg);
        *rc = CDS_ECORRUPT;
    }
    if (*rc != CDS_OK)
        commitmark_destroy(&mark);
    return mark;
}

/* import-batches FILE [--receipt OUT]: a commune's batches carried by
 * hand, applied through ingest; the signed receipts written to OUT
 * (default FILE.receipt). */
static int
do_import_batches(admin_ctx_t *c, char *err, size_t errlen)
{
    char def[4096];
    const char *out = get(c, "command.receipt");
    if (c->n_args != 1) {
        snprintf(err, errlen, "usage: import-batches FILE [--receipt OUT]");
        return CDS_EUSAGE;
    }
    if (!out && (size_t)snprintf(def, sizeof def, "%s.receipt", c->args[0])
                    < sizeof def)
        out = def;
    int rc = CDS_OK;
    cds_identity_t *id = NULL;
    cds_catalog_t *cat = NULL;
    ingest_t *ing = load_ingest(c, &id, &cat, &rc, err, errlen);
    commitmark_t *mark = ing ? open_mark(c, &rc, err, errlen) : NULL;
    carried_result_t res;
    if (mark)
        rc = carried_import(c->store, ing, mark, id, c->args[0], out,
                            c->now_ms, c->out, &res, err, errlen);
    if (rc == CDS_OK)
        fprintf(c->out, "imported %zu batch(es) of agent %s (\"%s\"), seq "
                "%llu..%llu: %zu update(s) applied, %zu rejected, %zu "
                "already held; receipt written to %s: carry it back to the "
                "commune (cdsync-agent import-receipt)\n", res.batches,
                res.fpr, res.label, (unsigned long long)res.first_seq,
                (unsigned long long)res.last_seq, res.applied, res.rejected,
                res.old, out);
    commitmark_destroy(&mark);
    ingest_destroy(&ing);
    cds_catalog_destroy(&cat);
    cds_identity_destroy(&id);
    return rc;
}

/* token add NAME | token list | token revoke NAME */
static int
do_token(admin_ctx_t *c, char *err, size_t errlen)
{
    const char *verb = c->n_args > 0 ? c->args[0] : "";
    char token[API_TOKEN_LEN + 1];
    int rc;
    if (strcmp(verb, "list") == 0 && c->n_args == 1)
        return api_token_list(c->store, c->out);
    if (c->n_args != 2 || (strcmp(verb, "add") != 0
                           && strcmp(verb, "revoke") != 0)) {
        snprintf(err, errlen, "token add NAME | token list | token revoke "
                 "NAME");
        return CDS_EUSAGE;
    }
    if (strcmp(verb, "revoke") == 0) {
        rc = api_token_revoke(c->store, c->args[1], c->now_ms);
        if (rc == CDS_ENOTFOUND)
            snprintf(err, errlen, "no active token named \"%s\"",
                     c->args[1]);
        else if (rc == CDS_OK)
            fprintf(c->out, "revoked token %s\n", c->args[1]);
        return rc;
    }
    rc = api_token_add(c->store, c->args[1], c->now_ms, token, sizeof token,
                       err, errlen);
    if (rc == CDS_OK)
        fprintf(c->out, "%s\n# token \"%s\": shown once, only its hash is "
                "kept; use it as \"Authorization: Bearer <token>\"\n", token,
                c->args[1]);
    sodium_memzero(token, sizeof token);
    return rc;
}

/* One line of f into buf without its newline; false at EOF or when
 * longer than buf. */
static bool
read_line(FILE *f, char *buf, size_t len)
{
    if (!fgets(buf, (int) len, f))
        return false;
    size_t n = strcspn(buf, "\r\n");
    bool whole = buf[n] != '\0' || feof(f);
    buf[n] = '\0';
    return whole;
}

/* Ask on the terminal (fd 0) with echo off. */
static bool
ask_hidden(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return false;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    /* echo off before the prompt: what is typed after it is kept */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fputs(prompt, stderr);
    fflush(stderr);
    bool ok = read_line(stdin, buf, len);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fputc('\n', stderr);
    return ok;
}

/* The new password: the first line of stdin with --password-stdin, else
 * asked twice on the terminal without echo. Never printed or logged. */
static int
read_password(const admin_ctx_t *c, char *pw, size_t len, char *err,
              size_t errlen)
{
    char again[ACCOUNT_PASSWORD_MAX + 2];
    if (cds_config_get_bool(c->cfg, "command.password_stdin")) {
        if (read_line(stdin, pw, len))
            return CDS_OK;
        snprintf(err, errlen, "--password-stdin: no line on stdin, or "
                 "longer than %d bytes", ACCOUNT_PASSWORD_MAX);
        return CDS_EUSAGE;
    }
    if (!isatty(STDIN_FILENO)) {
        snprintf(err, errlen, "stdin is not a terminal: give the password "
                 "with --password-stdin");
        return CDS_EUSAGE;
    }
    bool ok = ask_hidden("Password: ", pw, len)
              && ask_hidden("Password again: ", again, sizeof again)
              && strcmp(pw, again) == 0;
    sodium_memzero(again, sizeof again);
    if (!ok)
        snprintf(err, errlen, "the two passwords differ (or input ended)");
    return ok ? CDS_OK : CDS_EUSAGE;
}

static int
user_add(admin_ctx_t *c, const char *name, char *err, size_t errlen)
{
    char pw[ACCOUNT_PASSWORD_MAX + 2];
    const char *ou = NULL;
    int rc = one_org_unit(c, &ou, err, errlen);
    if (rc == CDS_OK && !account_role_parse(get(c, "command.role"))) {
        snprintf(err, errlen, "user add needs --role viewer|district_admin|"
                 "province_admin|operator");
        rc = CDS_EUSAGE;
    }
    if (rc == CDS_OK)
        rc = read_password(c, pw, sizeof pw, err, errlen);
    if (rc == CDS_OK)
        rc = account_add(c->store, name, get(c, "command.role"), ou, pw,
                         c->now_ms, err, errlen);
    sodium_memzero(pw, sizeof pw);
    if (rc == CDS_OK)
        fprintf(c->out, "added user %s (%s, %s)\n", name,
                get(c, "command.role"), ou && ou[0] ? ou : "all units");
    return rc;
}

/* user add NAME --role R [--org-unit OU] | user passwd NAME |
 * user disable NAME | user list */
static int
do_user(admin_ctx_t *c, char *err, size_t errlen)
{
    const char *verb = c->n_args > 0 ? c->args[0] : "";
    char pw[ACCOUNT_PASSWORD_MAX + 2];
    int rc;
    if (strcmp(verb, "list") == 0 && c->n_args == 1)
        return account_list(c->store, c->out);
    if (c->n_args != 2 || (strcmp(verb, "add") != 0
                           && strcmp(verb, "passwd") != 0
                           && strcmp(verb, "disable") != 0)) {
        snprintf(err, errlen, "user add NAME --role ROLE [--org-unit OU] | "
                 "user passwd NAME | user disable NAME | user list");
        return CDS_EUSAGE;
    }
    if (strcmp(verb, "add") == 0)
        return user_add(c, c->args[1], err, errlen);
    if (strcmp(verb, "disable") == 0) {
        rc = account_disable(c->store, c->args[1], c->now_ms);
        if (rc == CDS_ENOTFOUND)
            snprintf(err, errlen, "no enabled user named \"%s\"",
                     c->args[1]);
        else if (rc == CDS_OK)
            fprintf(c->out, "disabled user %s\n", c->args[1]);
        return rc;
    }
    rc = read_password(c, pw, sizeof pw, err, errlen);
    if (rc == CDS_OK)
        rc = account_passwd(c->store, c->args[1], pw, c->now_ms, err,
                            errlen);
    sodium_memzero(pw, sizeof pw);
    if (rc == CDS_OK)
        fprintf(c->out, "changed the password of user %s\n", c->args[1]);
    return rc;
}

/* Run one of the do_* on the database cds_cli opened (CDS_CLI_DB); a
 * failure is "NAME: message" with the exit code of docs/cli.md. report:
 * the command prints a report_t (--format table|csv|json; --bom). */
static int
admin_call(cds_cli_t *cli, int (*fn)(admin_ctx_t *, char *, size_t),
           bool report)
{
    admin_ctx_t ctx = {.cfg = cli->cfg,
                       .store = cli->db,
                       .identity_path = cli->identity,
                       .db_path = cli->db_path,
                       .args = cli->args,
                       .n_args = cli->n_args,
                       .out = stdout,
                       .errf = stderr,
                       .now_ms = cds_now_ms()};
    char err[1024] = "";
    report_format_t f;
    int code = report ? report_format(&ctx, &f, err, sizeof err) : CDS_OK;
    if (code == CDS_OK)
        code = report ? with_bom(&ctx, f, fn, err, sizeof err)
                      : fn(&ctx, err, sizeof err);
    return code == CDS_OK
               ? 0
               : cds_cli_fail(cds_exit_code(code), "%s: %s", cli->cmd->name,
                              err[0] ? err : cds_strerror(code));
}

int
admin_rollup(cds_cli_t *cli)
{
    return admin_call(cli, do_rollup, true);
}

int
admin_rank(cds_cli_t *cli)
{
    return admin_call(cli, do_rank, true);
}

int
admin_completeness(cds_cli_t *cli)
{
    return admin_call(cli, do_completeness, true);
}

int
admin_history(cds_cli_t *cli)
{
    return admin_call(cli, do_history, true);
}

int
admin_export(cds_cli_t *cli)
{
    return admin_call(cli, do_export, false);
}

int
admin_push_dhis2(cds_cli_t *cli)
{
    return admin_call(cli, do_push_dhis2, false);
}

int
admin_import(cds_cli_t *cli)
{
    return admin_call(cli, do_import, false);
}

int
admin_import_batches(cds_cli_t *cli)
{
    return admin_call(cli, do_import_batches, false);
}

int
admin_token(cds_cli_t *cli)
{
    return admin_call(cli, do_token, false);
}

int
admin_report(cds_cli_t *cli)
{
    return admin_call(cli, do_report, false);
}

int
admin_user(cds_cli_t *cli)
{
    return admin_call(cli, do_user, false);
}
