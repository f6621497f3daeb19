/*  attain: targets in the reports (see attain.h). SQL in attain_sql.h. */
#include "attain.h"

#include "attain_sql.h"
#include "cds_err.h"
#include "cds_orgunit.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const attain_header[ATTAIN_COLS] = {
    "target", "attainment", "state", "target_source", "target_note",
};

void
attain_cells(const attain_t *a, attain_bufs_t *bufs,
             const char *cells[ATTAIN_COLS])
{
    bufs->target[0] = bufs->pct[0] = '\0';
    if (a->t)                  /* as rollup_format: 60, not 60.00 */
        snprintf(bufs->target, sizeof bufs->target,
                 a->t->target == (double) (long long) a->t->target
                     ? "%.0f" : "%.2f", a->t->target);
    if (a->has_pct)
        snprintf(bufs->pct, sizeof bufs->pct, "%.2f", a->pct);
    cells[0] = bufs->target;
    cells[1] = bufs->pct;
    cells[2] = a->has_pct ? cds_target_state_name(a->state) : "";
    cells[3] = a->t ? a->t->source_vi : "";
    cells[4] = a->reason;
}

char *
attain_targets_path(const cds_config_t *cfg, char *buf, size_t len)
{
    const char *path = cds_config_get(cfg, "aggregator.targets");
    if (path && path[0]) {
        snprintf(buf, len, "%s", path);
        return buf;
    }
    const char *cat = cds_config_get(cfg, "aggregator.catalog");
    char *copy = strdup(cat ? cat : ".");
    buf[0] = '\0';
    if (!copy)
        return buf;
    int n = snprintf(buf, len, "%s/targets.csv", dirname(copy));
    free(copy);
    if (n < 0 || (size_t) n >= len || access(buf, F_OK) != 0)
        buf[0] = '\0';         /* no default file: the feature is off */
    return buf;
}

int
attain_targets_load(const cds_config_t *cfg, const cds_catalog_t *catalog,
                    cds_targets_t **out, char *err, size_t errlen)
{
    char path[4096];
    *out = NULL;
    if (!attain_targets_path(cfg, path, sizeof path)[0])
        return CDS_OK;
    const char *ou_path = cds_config_get(cfg, "aggregator.orgunits");
    cds_orgunits_t *ous = ou_path ? cds_orgunits_load(ou_path, err, errlen)
                                  : NULL;
    if (ou_path && !ous)
        return CDS_EMALFORMED;
    *out = cds_targets_load(path, catalog, ous, err, errlen);
    cds_orgunits_destroy(&ous);
    return *out ? CDS_OK : CDS_EMALFORMED;
}

void
attain_chain_free(char **chain, size_t n)
{
    for (size_t i = 0; chain && i < n; i++)
        free(chain[i]);
    free(chain);
}

int
attain_chain(store_t *store, const char *ou, char ***chain, size_t *n)
{
    *chain = NULL;
    *n = 0;
    cds_sql_stmt_t *st = store_read(store, ATTAIN_SQL_CHAIN, NULL);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    int step = CDS_SQL_DONE, rc = CDS_OK;
    while (rc == CDS_OK && (step = cds_sql_step(st)) == CDS_SQL_ROW) {
        char **a = realloc(*chain, (*n + 1) * sizeof *a);
        char *s = strdup(cds_sql_col_text(st, 0));
        if (!a || !s) {
            free(s);
            if (a)
                *chain = a;
            rc = CDS_ENOMEM;
            break;
        }
        *chain = a;
        (*chain)[(*n)++] = s;
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;             /* logged by cds_sql */
    cds_sql_finalize(&st);
    if (rc == CDS_OK && *n == 0)
        rc = CDS_EUNKNOWNORGUNIT;
    if (rc != CDS_OK) {
        attain_chain_free(*chain, *n);
        *chain = NULL;
        *n = 0;
    }
    return rc;
}

void
attain_judge(const cds_targets_t *targets, const cds_indicator_t *ind,
             const char *const *chain, size_t n, const char *period,
             bool has, double value, double units, attain_t *out)
{
    int year = cds_target_year(period);
    memset(out, 0, sizeof *out);
    out->t = cds_targets_find(targets, ind->code, year, chain, n);
    if (!out->t)
        snprintf(out->reason, sizeof out->reason, "no target for %s in %d",
                 ind->code, year);
    else if (!has)
        snprintf(out->reason, sizeof out->reason, "no value for %s",
                 period);
    else if (!(out->has_pct = cds_target_attainment(out->t, ind->type, value,
                                                    units, &out->pct)))
        snprintf(out->reason, sizeof out->reason, "no unit expected to "
                 "answer in %s", period);
    else
        out->state = cds_target_state(out->t, out->pct);
}

void
attain_cache_free(attain_cache_t *c)
{
    attain_chain_free(c->chain, c->n);
    free(c->ou);
    memset(c, 0, sizeof *c);
}

int
attain_value(store_t *store, const cds_targets_t *targets,
             const cds_catalog_t *catalog, attain_cache_t *cache,
             const char *ou, const char *code, const char *period,
             const char *value, attain_t *out)
{
    const cds_indicator_t *ind = catalog ? cds_catalog_find(catalog, code)
                                         : NULL;
    memset(out, 0, sizeof *out);
    if (!ind || ind->type == CDS_VT_TEXT)
        return CDS_OK;         /* no target can apply: empty cells */
    if (!cache->ou || strcmp(cache->ou, ou) != 0) {
        attain_cache_free(cache);
        int rc = attain_chain(store, ou, &cache->chain, &cache->n);
        if (rc != CDS_OK && rc != CDS_EUNKNOWNORGUNIT)
            return rc;
        if (!(cache->ou = strdup(ou)))
            return CDS_ENOMEM;
    }
    char *end = NULL;
    double v = ind->type == CDS_VT_BOOLEAN ? strcmp(value, "true") == 0
                                           : strtod(value, &end);
    bool has = ind->type == CDS_VT_BOOLEAN || (end && end != value && !*end);
    attain_judge(targets, ind, (const char *const *) cache->chain, cache->n,
                 period, has, v, 1, out);
    return CDS_OK;
}
