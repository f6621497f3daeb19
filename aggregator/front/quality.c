/*  quality: `validate` and its configuration. See quality.h. */
#include "quality.h"

#include "cds_err.h"
#include "cds_period.h"
#include "cds_util.h"
#include "followup.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
rules_path(const cds_config_t *cfg, char *buf, size_t len, bool *explicit)
{
    return cds_rules_path(cds_config_get(cfg, "aggregator.rules"),
                          cds_config_get(cfg, "aggregator.catalog"), buf, len,
                          explicit);
}

int
quality_rules_load(const cds_config_t *cfg, const cds_catalog_t *cat,
                   cds_rules_t **out, char *err, size_t errlen)
{
    char path[4096];
    bool explicit;
    *out = NULL;
    int rc = rules_path(cfg, path, sizeof path, &explicit);
    if (rc != CDS_OK || (!explicit && access(path, F_OK) != 0))
        return rc;             /* no rules shipped: none to check */
    *out = cds_rules_load(path, cat, err, errlen);
    return *out ? CDS_OK : CDS_EMALFORMED;
}

static int
get_double(const cds_config_t *cfg, const char *key, double hi, double *out,
           char *err, size_t errlen)
{
    const char *s = cds_config_get(cfg, key);
    char *end = NULL;
    *out = s ? strtod(s, &end) : -1;
    if (s && *s && !*end && *out >= 0 && *out <= hi)
        return CDS_OK;
    snprintf(err, errlen, "%s: \"%s\": expected a number 0..%g",
             key + strlen("aggregator."), s ? s : "", hi);
    return CDS_EUSAGE;
}

int
quality_opts(const cds_config_t *cfg, validate_opts_t *o, char *err,
             size_t errlen)
{
    double periods;
    int rc = get_double(cfg, "aggregator.outlier_periods",
                        VALIDATE_MAX_PERIODS, &periods, err, errlen);
    if (rc == CDS_OK && periods != (int) periods) {
        snprintf(err, errlen, "outlier_periods: \"%s\": expected a whole "
                 "number", cds_config_get(cfg, "aggregator.outlier_periods"));
        rc = CDS_EUSAGE;
    }
    o->periods = (int) periods;
    if (rc == CDS_OK)
        rc = get_double(cfg, "aggregator.outlier_z", 1000, &o->z, err,
                        errlen);
    if (rc == CDS_OK)
        rc = get_double(cfg, "aggregator.outlier_pct", 1e9, &o->pct, err,
                        errlen);
    return rc;
}

void
quality_check(cds_check_t *c, const cds_config_t *cfg)
{
    char path[4096], err[512];
    bool explicit;
    validate_opts_t o;
    if (quality_opts(cfg, &o, err, sizeof err) != CDS_OK)
        cds_check_problem(c, "%s", err);
    if (rules_path(cfg, path, sizeof path, &explicit) != CDS_OK
        || (!explicit && access(path, F_OK) != 0))
        return;
    if (!cds_check_readable(c, "aggregator.rules", path))
        return;
    cds_catalog_t *cat = cds_catalog_load(cds_config_get(cfg,
                                          "aggregator.catalog"), err,
                                          sizeof err);
    /* a bad catalog is reported by its own check; rules then unchecked
     * against it */
    c->problems += cds_rules_check(path, cat, c->out);
    cds_catalog_destroy(&cat);
}

static int
validate(cds_cli_t *cli, size_t *violations, char *err, size_t errlen)
{
    const cds_config_t *cfg = cli->cfg;
    const char **ous = NULL;
    const char *pe = cds_config_get(cfg, "command.period");
    size_t n = cds_config_get_all(cfg, "command.org_unit", &ous);
    report_format_t f;
    validate_opts_t o;
    if (n != 1 || !pe) {
        snprintf(err, errlen, "validate needs one --org-unit and --period");
        return CDS_EUSAGE;
    }
    if (report_format_parse(cds_config_get(cfg, "command.format"), &f)) {
        snprintf(err, errlen, "format: \"%s\": expected table, csv or json",
                 cds_config_get(cfg, "command.format"));
        return CDS_EUSAGE;
    }
    int rc = quality_opts(cfg, &o, err, errlen);
    if (rc != CDS_OK)
        return CDS_EPERM;      /* a key of [aggregator]: exit 3 */
    cds_catalog_t *cat = cds_catalog_load(cds_config_get(cfg,
                                          "aggregator.catalog"), err, errlen);
    cds_rules_t *rules = NULL;
    report_t *rep = NULL;
    rc = !cat ? CDS_EPERM : quality_rules_load(cfg, cat, &rules, err, errlen);
    if (rc == CDS_EMALFORMED)
        rc = CDS_EPERM;
    if (rc == CDS_OK)
        rc = validate_compute(cli->db, cat, rules, ous[0], pe, &o, f, &rep,
                              err, errlen);
    if (rc == CDS_OK) {
        *violations = report_rows(rep);
        char footer[128];
        snprintf(footer, sizeof footer, "%zu violation%s", *violations,
                 *violations == 1 ? "" : "s");
        report_print(rep, stdout, json_pack("{sssssi}", "orgUnit", ous[0],
                                            "period", pe, "violations",
                                            (int) *violations), footer);
    }
    report_destroy(&rep);
    cds_rules_destroy(&rules);
    cds_catalog_destroy(&cat);
    return rc;
}

int
quality_validate(cds_cli_t *cli)
{
    char err[1024] = "";
    size_t violations = 0;
    int rc = validate(cli, &violations, err, sizeof err);
    if (rc != CDS_OK)
        return cds_cli_fail(cds_exit_code(rc), "%s: %s", cli->cmd->name,
                            err[0] ? err : cds_strerror(rc));
    return violations ? 1 : 0;
}

const char *
quality_cli_actor(void)
{
    const char *who = getenv("SUDO_USER");
    if (!who || !*who)
        who = getenv("USER");
    return who && *who ? who : "unknown";
}

/* The cell of --org-unit, --indicator, --period, each checked. */
static int
followup_cell(cds_cli_t *cli, const char **ou, const char **de,
              const char **pe, char *err, size_t errlen)
{
    const char **ous = NULL, **des = NULL;
    *pe = cds_config_get(cli->cfg, "command.period");
    if (cds_config_get_all(cli->cfg, "command.org_unit", &ous) != 1
        || cds_config_get_all(cli->cfg, "command.indicator", &des) != 1
        || !*pe) {
        snprintf(err, errlen, "followup needs one --org-unit, --indicator "
                 "and --period");
        return CDS_EUSAGE;
    }
    *ou = ous[0];
    *de = des[0];
    cds_period_t p;
    if (cds_period_parse(*pe, &p) != CDS_OK) {
        snprintf(err, errlen, "period \"%s\": not a DHIS2 period", *pe);
        return CDS_EBADPERIOD;
    }
    cds_catalog_t *cat = cds_catalog_load(cds_config_get(cli->cfg,
                                          "aggregator.catalog"), err, errlen);
    if (!cat)
        return CDS_EPERM;
    bool known = cds_catalog_find(cat, *de) != NULL;
    cds_catalog_destroy(&cat);
    if (!known) {
        snprintf(err, errlen, "indicator \"%s\": not in the catalog", *de);
        return CDS_EUNKNOWNINDICATOR;
    }
    int rc = validate_ou_exists(cli->db, *ou);
    if (rc == CDS_ENOTFOUND)
        snprintf(err, errlen, "org unit \"%s\": not in the org-unit list",
                 *ou);
    return rc;
}

static int
followup_print(cds_cli_t *cli, const char *ou, const char *de,
               const char *pe, char *err, size_t errlen)
{
    static const char *const head[] = {"action", "note", "actor", "at"};
    report_format_t f;
    if (report_format_parse(cds_config_get(cli->cfg, "command.format"), &f)) {
        snprintf(err, errlen, "format: \"%s\": expected table, csv or json",
                 cds_config_get(cli->cfg, "command.format"));
        return CDS_EUSAGE;
    }
    followup_entry_t *e = NULL;
    size_t n = 0;
    int rc = followup_history(cli->db, ou, de, pe, &e, &n);
    report_t *rep = rc == CDS_OK ? report_new(f, head, "ssss", 4) : NULL;
    for (size_t i = 0; rep && i < n; i++) {
        char at[40];
        cds_format_time(at, sizeof at, (uint64_t) e[i].at_ms);
        const char *cells[4] = {e[i].flag ? "set" : "clear", e[i].note,
                                e[i].actor, at};
        report_add(rep, cells);
    }
    if (rep)
        report_print(rep, stdout, json_pack("{ssssssso}", "orgUnit", ou,
                                            "indicator", de, "period", pe,
                                            "followup", json_boolean(
                                                n && e[n - 1].flag)), NULL);
    else if (rc == CDS_OK)
        rc = CDS_ENOMEM;
    report_destroy(&rep);
    followup_history_free(e, n);
    return rc;
}

static int
followup(cds_cli_t *cli, char *err, size_t errlen)
{
    const char *verb = cli->n_args == 1 ? cli->args[0] : "";
    const char *ou, *de, *pe;
    bool set = strcmp(verb, "set") == 0, clear = strcmp(verb, "clear") == 0;
    if (!set && !clear && strcmp(verb, "history") != 0) {
        snprintf(err, errlen, "followup set|clear|history --org-unit OU "
                 "--indicator DE --period PE [--note TEXT]");
        return CDS_EUSAGE;
    }
    int rc = followup_cell(cli, &ou, &de, &pe, err, errlen);
    if (rc != CDS_OK || (!set && !clear))
        return rc == CDS_OK ? followup_print(cli, ou, de, pe, err, errlen)
                            : rc;
    rc = followup_change(cli->db, ou, de, pe, set,
                         cds_config_get(cli->cfg, "command.note"),
                         quality_cli_actor(), (int64_t) cds_now_ms(), err,
                         errlen);
    if (rc == CDS_OK)
        printf("%s %s %s: follow-up %s\n", ou, de, pe,
               set ? "set" : "cleared");
    return rc;
}

int
quality_followup(cds_cli_t *cli)
{
    char err[1024] = "";
    int rc = followup(cli, err, sizeof err);
    if (rc != CDS_OK)
        return cds_cli_fail(cds_exit_code(rc), "%s: %s", cli->cmd->name,
                            err[0] ? err : cds_strerror(rc));
    return 0;
}
