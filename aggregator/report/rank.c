/*  rank: child units by attainment (see rank.h). SQL in rank_sql.h.
 *  One rollup per child: O(children) rollups, each as costly as
 *  `rollup --org-unit CHILD`; a parent has tens of children. */
#include "rank.h"

#include "attain.h"
#include "cds_err.h"
#include "cds_period.h"
#include "orgmap.h"
#include "rank_sql.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Why a unit has no rank, in listing order after the ranked ones. */
enum { G_RANKED, G_NO_TARGET, G_NO_VALUE, G_ABSENT };

typedef struct {
    char *code, *name;         /* owned */
    int32_t from, to;          /* validity, day numbers */
    int group;                 /* G_* */
    rollup_figure_t fig;       /* its rollup, when it existed */
    attain_t a;                /* against its target */
    long long key;             /* attainment in 1/100 %, as shown */
    size_t rank;               /* G_RANKED: 1-based, ties share */
    char reason[160 + 2 + 128]; /* G_* other than G_RANKED: attain.h
                                * reason, ": ", rollup.h note */
} entry_t;

typedef struct {
    entry_t *e;
    size_t n;
} list_t;

static void
list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].code);
        free(l->e[i].name);
    }
    free(l->e);
}

static int
children(store_t *store, const char *ou, list_t *l)
{
    cds_sql_stmt_t *st = store_read(store, RANK_SQL_CHILDREN,
                                    RANK_SQL_CHILDREN_PG);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":ou", ou);
    int step = CDS_SQL_DONE, rc = CDS_OK;
    while ((step = cds_sql_step(st)) == CDS_SQL_ROW) {
        entry_t *a = realloc(l->e, (l->n + 1) * sizeof *a);
        if (!a) {
            rc = CDS_ENOMEM;
            break;
        }
        l->e = a;
        entry_t *e = memset(&l->e[l->n++], 0, sizeof *e);
        e->code = strdup(cds_sql_col_text(st, 0));
        e->name = strdup(cds_sql_col_text(st, 1));
        e->from = cds_sql_col_type(st, 2) == CDS_SQL_NULL
                      ? INT32_MIN : (int32_t) cds_sql_col_int64(st, 2);
        e->to = cds_sql_col_type(st, 3) == CDS_SQL_NULL
                    ? INT32_MAX : (int32_t) cds_sql_col_int64(st, 3);
        if (!e->code || !e->name) {
            rc = CDS_ENOMEM;
            break;
        }
    }
    if (rc == CDS_OK && step != CDS_SQL_DONE)
        rc = step;             /* logged by cds_sql */
    cds_sql_finalize(&st);
    return rc;
}

/* The child's figure and judgement; chain[1..] holds the parent's chain,
 * chain[0] is set here. */
static int
judge(store_t *store, const rank_opts_t *o, const cds_indicator_t *ind,
      const cds_period_t *p, const char **chain, size_t n, entry_t *e)
{
    char pfrom[16] = "", pto[16] = "";
    if (e->from > p->end || e->to < p->start) {
        e->group = G_ABSENT;
        if (e->from != INT32_MIN)
            cds_date_format(e->from, pfrom, sizeof pfrom);
        if (e->to != INT32_MAX)
            cds_date_format(e->to, pto, sizeof pto);
        snprintf(e->reason, sizeof e->reason, "did not exist in %s (valid "
                 "%s..%s)", o->period, pfrom, pto);
        return CDS_OK;
    }
    rollup_figure_t *figs = NULL;
    size_t nf = 0;
    char err[256];
    int rc = rollup_compute(store, o->catalog, o->rules, e->code, o->period,
                            &o->indicator, 1, &figs, &nf, err, sizeof err);
    if (rc != CDS_OK)
        return rc;
    if (nf == 1)
        e->fig = figs[0];
    free(figs);
    chain[0] = e->code;
    attain_judge(o->targets, ind, chain, n, o->period, e->fig.has_value,
                 e->fig.value, (double) e->fig.expected, &e->a);
    e->group = !e->a.t ? G_NO_TARGET : !e->a.has_pct ? G_NO_VALUE
                                                     : G_RANKED;
    snprintf(e->reason, sizeof e->reason, "%s%s%s", e->a.reason,
             e->group == G_NO_VALUE && e->fig.note[0] ? ": " : "",
             e->group == G_NO_VALUE ? e->fig.note : "");
    e->key = e->group == G_RANKED ? llround(e->a.pct * 100.0) : 0;
    return CDS_OK;
}

static int
cmp_entry(const void *x, const void *y)
{
    const entry_t *a = x, *b = y;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return strcmp(a->code, b->code);
}

/* Sort and give competition ranks: equal keys share the first's rank. */
static void
order(list_t *l)
{
    qsort(l->e, l->n, sizeof *l->e, cmp_entry);
    for (size_t i = 0; i < l->n && l->e[i].group == G_RANKED; i++)
        l->e[i].rank = i > 0 && l->e[i].key == l->e[i - 1].key
                           ? l->e[i - 1].rank : i + 1;
}

static const char *const rank_header[] = {
    "rank", "org_unit", "name", "value", "target", "attainment", "state",
    "org_units", "target_source", "reason",
};
#define RANK_COLS (sizeof rank_header / sizeof rank_header[0])

static int
add_entry(report_t *r, const entry_t *e)
{
    char rank[24] = "", v[32], units[48] = "";
    attain_bufs_t b;
    const char *ac[ATTAIN_COLS];
    attain_cells(&e->a, &b, ac);
    if (e->group == G_RANKED)
        snprintf(rank, sizeof rank, "%zu", e->rank);
    if (e->group != G_ABSENT)
        snprintf(units, sizeof units, "%zu/%zu", e->fig.covered,
                 e->fig.expected);
    const char *cells[RANK_COLS] = {
        rank, e->code, e->name,
        rollup_format(e->fig.value, e->fig.has_value, v, sizeof v),
        ac[0], ac[1], ac[2], units, ac[3],
        e->group == G_RANKED ? "" : e->reason,
    };
    return report_add(r, cells) == 0 ? CDS_OK : CDS_ENOMEM;
}

static int
print(store_t *store, const rank_opts_t *o, const list_t *l,
      report_format_t format, FILE *out)
{
    report_t *r = report_new(format, rank_header, "nssnnnssss", RANK_COLS);
    int rc = r ? CDS_OK : CDS_ENOMEM;
    size_t ranked = 0;
    for (size_t i = 0; rc == CDS_OK && i < l->n; i++) {
        rc = add_entry(r, &l->e[i]);
        ranked += l->e[i].group == G_RANKED;
    }
    if (rc == CDS_OK) {
        char name[256] = "", footer[512];
        orgmap_unit_name(store, o->org_unit, name, sizeof name);
        snprintf(footer, sizeof footer, "%s in %s %s, period %s (targets of "
                 "%d): %zu of %zu units ranked", o->indicator, o->org_unit,
                 name, o->period, cds_target_year(o->period), ranked, l->n);
        report_print(r, out,
                     json_pack("{sssssssssisisi}", "indicator", o->indicator,
                               "orgUnit", o->org_unit, "orgUnitName", name,
                               "period", o->period, "year",
                               cds_target_year(o->period), "ranked",
                               (int) ranked, "units", (int) l->n),
                     footer);
    }
    report_destroy(&r);
    return rc;
}

static int
check_opts(const rank_opts_t *o, const cds_indicator_t **ind,
           cds_period_t *p, char *err, size_t errlen)
{
    if (!o->org_unit || !o->indicator || !o->period) {
        snprintf(err, errlen, "rank needs --org-unit OU (whose child units "
                 "are ranked), --indicator DE and --period PE");
        return CDS_EUSAGE;
    }
    if (!o->targets) {
        snprintf(err, errlen, "no targets file: set aggregator.targets or "
                 "put targets.csv beside the catalog (docs/ADMIN.md "
                 "\"Targets\")");
        return CDS_EUSAGE;
    }
    if (!(*ind = cds_catalog_find(o->catalog, o->indicator))) {
        snprintf(err, errlen, "indicator \"%s\" is not in the catalog",
                 o->indicator);
        return CDS_EUNKNOWNINDICATOR;
    }
    if (cds_period_parse(o->period, p) != CDS_OK) {
        snprintf(err, errlen, "period \"%s\" is not a DHIS2 period",
                 o->period);
        return CDS_EBADPERIOD;
    }
    return CDS_OK;
}

int
rank_run(store_t *store, const rank_opts_t *o, report_format_t format,
         FILE *out, char *err, size_t errlen)
{
    const cds_indicator_t *ind = NULL;
    cds_period_t p;
    int rc = check_opts(o, &ind, &p, err, errlen);
    if (rc != CDS_OK)
        return rc;
    char **up = NULL;
    size_t nup = 0;
    list_t l = { 0 };
    if ((rc = attain_chain(store, o->org_unit, &up, &nup)) != CDS_OK) {
        if (rc == CDS_EUNKNOWNORGUNIT)
            snprintf(err, errlen, "org unit \"%s\" is not in the org-unit "
                     "list", o->org_unit);
        return rc;
    }
    const char **chain = calloc(nup + 1, sizeof *chain);
    rc = chain ? children(store, o->org_unit, &l) : CDS_ENOMEM;
    for (size_t i = 0; chain && i < nup; i++)
        chain[i + 1] = up[i];
    for (size_t i = 0; rc == CDS_OK && i < l.n; i++)
        rc = judge(store, o, ind, &p, chain, nup + 1, &l.e[i]);
    if (rc == CDS_OK) {
        order(&l);
        rc = print(store, o, &l, format, out);
    }
    free(chain);
    attain_chain_free(up, nup);
    list_free(&l);
    return rc;
}
