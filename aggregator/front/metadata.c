/*  metadata: publishing versions of the metadata files (metadata.h).
 *
 *  The file table below is the one place that says which files make a
 *  version, which are required, which columns key a row for the diff,
 *  and which loader checks a file on its own; a new metadata file plugs in
 *  with one row (a NULL check: carried and diffed, not yet checked). The
 *  checks of the set as a whole (references between files, codes with
 *  stored values) are in check_whole. A version's bytes are the packed
 *  MetadataBundle; every diff is computed from bundle bytes, so `metadata
 *  diff` on history shows what `publish` showed. */
#include "metadata.h"

#include "cdsync.pb-c.h"
#include "cds_catalog.h"
#include "cds_dataset.h"
#include "cds_csv.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_orgunit.h"
#include "cds_period.h"
#include "cds_rule.h"
#include "cds_target.h"
#include "cds_sign.h"
#include "cds_util.h"
#include "store.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define META_FILE_MAX (16u << 20)      /* bytes in one metadata file */
#define META_SHOW_CODES 8              /* codes named per diff line */
#define META_HASH 32                   /* BLAKE2b-256 */

/* A file's own check: the number of problems printed to out. */
typedef size_t (meta_check_fn)(const char *path, void *out);
/* A check against the new catalog and org units (check_whole). */
typedef size_t (meta_with_fn)(const char *path, const cds_catalog_t *cat,
                              const cds_orgunits_t *ous, void *out);

typedef struct {
    const char *name;                  /* file name in DIR */
    bool required;
    const char *key;                   /* key columns, comma separated */
    meta_check_fn *check;              /* NULL: no own loader */
    meta_with_fn *with;                /* NULL: no cross-file loader */
} meta_file_t;

static size_t
rules_with(const char *path, const cds_catalog_t *cat,
           const cds_orgunits_t *ous, void *out)
{
    return cds_rules_check(path, cat, out);
}

static size_t
targets_with(const char *path, const cds_catalog_t *cat,
             const cds_orgunits_t *ous, void *out)
{
    return cds_targets_check(path, cat, ous, out);
}

/* Sorted by name: the bundle's order. orgunit_map.csv is checked in
 * check_whole (check_map); datasets.csv, rules.csv and targets.csv against
 * the new catalog (and org units): a retired indicator still named in a
 * data set is refused there. */
static const meta_file_t files[] = {
    { "catalog.csv", true, "code", cds_catalog_check, NULL },
    { "datasets.csv", false, "code", NULL, cds_datasets_check },
    { "orgunit_map.csv", true, "old,new", NULL, NULL },
    { "orgunits.csv", true, "code", cds_orgunits_check, NULL },
    { "rules.csv", false, "code", NULL, rules_with },
    { "targets.csv", false, "indicator,org_unit,year", NULL, targets_with },
};
#define N_FILES (sizeof files / sizeof files[0])

/* ---- rows keyed for the diff -------------------------------------------- */

typedef struct {
    char *key;                         /* key columns' values, \x1f joined */
    char *text;                        /* non-empty column=value, by name */
} row_t;

typedef struct {
    row_t *r;
    size_t n;
} rows_t;

static void
rows_free(rows_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->r[i].key);
        free(rs->r[i].text);
    }
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
}

static int
row_cmp(const void *a, const void *b)
{
    return strcmp(((const row_t *) a)->key, ((const row_t *) b)->key);
}

/* Append s (and sep) to a growing malloc'd string. */
static int
cat(char **buf, size_t *len, const char *s, const char *sep)
{
    size_t add = strlen(s) + strlen(sep);
    char *p = realloc(*buf, *len + add + 1);
    if (!p)
        return CDS_ENOMEM;
    sprintf(p + *len, "%s%s", s, sep);
    *buf = p;
    *len += add;
    return CDS_OK;
}

/* A file's header: names and, sorted by name, their positions. */
typedef struct {
    char **name;                       /* by position (owned) */
    size_t *order;                     /* positions sorted by name */
    size_t n;
} hdr_t;

static const hdr_t *sort_hdr;          /* for order_cmp (one thread) */

static int
order_cmp(const void *a, const void *b)
{
    return strcasecmp(sort_hdr->name[*(const size_t *) a],
                      sort_hdr->name[*(const size_t *) b]);
}

static void
hdr_free(hdr_t *h)
{
    for (size_t i = 0; h->name && i < h->n; i++)
        free(h->name[i]);
    free(h->name);
    free(h->order);
}

/* The current record as the header. */
static int
hdr_read(cds_csv_t *csv, hdr_t *h)
{
    h->n = cds_csv_count(csv);
    h->name = calloc(h->n + 1, sizeof *h->name);
    h->order = calloc(h->n + 1, sizeof *h->order);
    if (!h->name || !h->order)
        return CDS_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        h->order[i] = i;
        if (!(h->name[i] = strdup(cds_csv_field(csv, i))))
            return CDS_ENOMEM;
    }
    sort_hdr = h;
    qsort(h->order, h->n, sizeof *h->order, order_cmp);
    return CDS_OK;
}

/* Field of the current record under column name, "" when none. */
static const char *
field(cds_csv_t *csv, const hdr_t *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0) {
            const char *v = cds_csv_field(csv, i);
            return v ? v : "";
        }
    return "";
}

/* Key and text of the current record. */
static int
row_make(cds_csv_t *csv, const hdr_t *h, const char *keys, row_t *r)
{
    size_t kl = 0, tl = 0;
    int code = CDS_OK;
    r->key = r->text = NULL;
    char kbuf[256];
    snprintf(kbuf, sizeof kbuf, "%s", keys);
    for (char *save, *k = strtok_r(kbuf, ",", &save); k && !code;
         k = strtok_r(NULL, ",", &save)) {
        if (r->key)
            code = cat(&r->key, &kl, "/", "");
        if (!code)
            code = cat(&r->key, &kl, field(csv, h, k), "");
    }
    for (size_t i = 0; i < h->n && !code; i++) {
        const char *v = cds_csv_field(csv, h->order[i]);
        if (!v || !v[0])
            continue;                  /* a new empty column: no change */
        code = cat(&r->text, &tl, h->name[h->order[i]], "=");
        if (!code)
            code = cat(&r->text, &tl, v, "\n");
    }
    if (!code && !r->text)
        code = cat(&r->text, &tl, "", "");
    return code;
}

/* Parse a file's bytes into rows sorted by key. */
static int
rows_parse(const uint8_t *data, size_t len, const char *name,
           const char *keys, rows_t *out, char *err, size_t errlen)
{
    out->r = NULL;
    out->n = 0;
    cds_csv_t *csv = cds_csv_open_mem(data, len, name, err, errlen);
    if (!csv)
        return CDS_EMALFORMED;
    hdr_t h = { 0 };
    int rc = cds_csv_next(csv, err, errlen);
    int code = rc <= 0 ? CDS_EMALFORMED : hdr_read(csv, &h);
    while (!code && (rc = cds_csv_next(csv, err, errlen)) != 0) {
        row_t *p = rc < 0 ? NULL : realloc(out->r, (out->n + 1) * sizeof *p);
        if (!p) {
            code = rc < 0 ? CDS_EMALFORMED : CDS_ENOMEM;
            break;
        }
        out->r = p;
        code = row_make(csv, &h, keys, &p[out->n]);
        out->n++;
    }
    hdr_free(&h);
    cds_csv_destroy(&csv);
    if (code)
        rows_free(out);
    else if (out->n)                   /* a file of no rows: r is NULL */
        qsort(out->r, out->n, sizeof *out->r, row_cmp);
    return code;
}

/* ---- the diff in words -------------------------------------------------- */

typedef struct {
    size_t n[3];                       /* added, changed, retired */
    char *codes[3];                    /* the first META_SHOW_CODES each */
    size_t len[3];
} diff_t;

static void
diff_free(diff_t *d)
{
    for (int i = 0; i < 3; i++)
        free(d->codes[i]);
}

static int
diff_note(diff_t *d, int what, const char *key)
{
    if (d->n[what]++ >= META_SHOW_CODES)
        return d->n[what] == META_SHOW_CODES + 1
            ? cat(&d->codes[what], &d->len[what], ", ...", "") : CDS_OK;
    return cat(&d->codes[what], &d->len[what], d->len[what] ? ", " : "",
               key[0] ? key : "(empty)");
}

/* Walk two key-sorted row sets. */
static int
diff_rows(const rows_t *a, const rows_t *b, diff_t *d)
{
    size_t i = 0, j = 0;
    int code = CDS_OK;
    memset(d, 0, sizeof *d);
    while (!code && (i < a->n || j < b->n)) {
        int c = i == a->n ? 1 : j == b->n ? -1
              : strcmp(a->r[i].key, b->r[j].key);
        if (c < 0)
            code = diff_note(d, 2, a->r[i++].key);
        else if (c > 0)
            code = diff_note(d, 0, b->r[j++].key);
        else {
            if (strcmp(a->r[i].text, b->r[j].text) != 0)
                code = diff_note(d, 1, b->r[j].key);
            i++;
            j++;
        }
    }
    return code;
}

/* A file of a bundle by name, or NULL. */
static const Cdsync__MetadataFile *
bundle_file(const Cdsync__MetadataBundle *b, const char *name)
{
    for (size_t i = 0; b && i < b->n_files; i++)
        if (strcmp(b->files[i]->name, name) == 0)
            return b->files[i];
    return NULL;
}

static const char *const what_en[3] = { "added", "changed", "retired" };
static const char *const what_vi[3] = { "thêm", "đổi", "bỏ" };

/* One line per file that differs between a and b (a may be NULL: the
 * first version), to out and appended to *sum; *changed counts them. */
static int
diff_file(const meta_file_t *f, const Cdsync__MetadataBundle *a,
          const Cdsync__MetadataBundle *b, FILE *out, char **sum,
          size_t *sl, int *changed)
{
    const Cdsync__MetadataFile *fa = bundle_file(a, f->name);
    const Cdsync__MetadataFile *fb = bundle_file(b, f->name);
    if (!fa && !fb)
        return CDS_OK;
    if (fa && fb && fa->content.len == fb->content.len
        && memcmp(fa->content.data, fb->content.data, fb->content.len) == 0)
        return CDS_OK;
    rows_t ra = { 0 }, rb = { 0 };
    char err[512] = "";
    diff_t d;
    int code = fa ? rows_parse(fa->content.data, fa->content.len, f->name,
                               f->key, &ra, err, sizeof err) : CDS_OK;
    if (!code && fb)
        code = rows_parse(fb->content.data, fb->content.len, f->name,
                          f->key, &rb, err, sizeof err);
    if (!code && !(code = diff_rows(&ra, &rb, &d))) {
        char line[256];
        snprintf(line, sizeof line, "%s: added %zu, changed %zu, retired %zu"
                 " (thêm %zu, đổi %zu, bỏ %zu)%s", f->name, d.n[0], d.n[1],
                 d.n[2], d.n[0], d.n[1], d.n[2], !fb ? " (file removed)"
                 : !fa ? " (new file)" : "");
        fprintf(out, "%s\n", line);
        for (int w = 0; w < 3; w++)
            if (d.n[w])
                fprintf(out, "  %s / %s: %s\n", what_en[w], what_vi[w],
                        d.codes[w]);
        code = cat(sum, sl, *sl ? "; " : "", "");
        if (!code)
            code = cat(sum, sl, line, "");
        diff_free(&d);
        (*changed)++;
    } else if (code == CDS_EMALFORMED)
        fprintf(stderr, "%s\n", err);
    rows_free(&ra);
    rows_free(&rb);
    return code;
}

/* Diff every file of the table; the summary (malloc'd) into *sum. */
static int
diff_bundles(const Cdsync__MetadataBundle *a, const Cdsync__MetadataBundle *b,
             FILE *out, char **sum, int *changed)
{
    size_t sl = 0;
    int code = CDS_OK;
    *sum = NULL;
    *changed = 0;
    for (size_t i = 0; i < N_FILES && !code; i++)
        code = diff_file(&files[i], a, b, out, sum, &sl, changed);
    if (!code && !*changed) {
        fprintf(out, "no change / không thay đổi\n");
        code = cat(sum, &sl, "no change", "");
    }
    return code;
}

/* ---- a new version from DIR --------------------------------------------- */

typedef struct {
    Cdsync__MetadataBundle b;
    Cdsync__MetadataFile f[N_FILES];
    Cdsync__MetadataFile *fp[N_FILES];
    uint8_t hash[N_FILES][META_HASH];
    uint8_t prev[META_HASH];
    char *data[N_FILES];
} draft_t;

static void
draft_free(draft_t *d)
{
    for (size_t i = 0; i < N_FILES; i++)
        free(d->data[i]);
}

/* Read the table's files from dir; every file problem printed. */
static int
draft_read(draft_t *d, const char *dir)
{
    int bad = 0;
    memset(d, 0, sizeof *d);
    cdsync__metadata_bundle__init(&d->b);
    d->b.format = 1;
    d->b.files = d->fp;
    for (size_t i = 0; i < N_FILES; i++) {
        char path[4096];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        int code = cds_read_file(path, META_FILE_MAX, &d->data[i], &len);
        if (code == CDS_EIO && !files[i].required && access(path, F_OK))
            continue;
        if (code) {
            fprintf(stderr, "%s: %s\n", path, code == CDS_ETOOBIG
                    ? "over 16 MiB" : "cannot read (required)");
            bad++;
            continue;
        }
        if (files[i].check && files[i].check(path, stderr))
            bad++;
        Cdsync__MetadataFile *f = &d->f[d->b.n_files];
        cdsync__metadata_file__init(f);
        f->name = (char *) files[i].name;
        f->content.data = (uint8_t *) d->data[i];
        f->content.len = len;
        crypto_generichash(d->hash[i], META_HASH, f->content.data, len,
                           NULL, 0);
        f->blake2b.data = d->hash[i];
        f->blake2b.len = META_HASH;
        d->fp[d->b.n_files++] = f;
    }
    return bad ? CDS_EMALFORMED : CDS_OK;
}

/* One row of orgunit_map.csv: both codes units of ous, from a date. */
static size_t
check_map_row(cds_csv_t *csv, const char *path, const cds_orgunits_t *ous)
{
    static const char *const cols[2] = { "old", "new" };
    char err[512];
    size_t bad = 0;
    int32_t day;
    for (int c = 0; c < 2; c++) {
        const char *v = cds_csv_get(csv, cds_csv_column(csv, cols[c]));
        if (cds_orgunits_find(ous, v))
            continue;
        cds_csv_error(err, sizeof err, path, cds_csv_line(csv), cols[c],
                      "not a unit of orgunits.csv", v);
        fprintf(stderr, "%s\n", err);
        bad++;
    }
    const char *from = cds_csv_get(csv, cds_csv_column(csv, "from"));
    if (cds_date_parse(from, &day) != CDS_OK) {
        cds_csv_error(err, sizeof err, path, cds_csv_line(csv), "from",
                      "expected YYYY-MM-DD", from);
        fprintf(stderr, "%s\n", err);
        bad++;
    }
    return bad;
}

/* orgunit_map.csv as a whole: every row (check_map_row). */
static size_t
check_map(const char *dir, const cds_orgunits_t *ous)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/orgunit_map.csv", dir);
    cds_csv_t *csv = cds_csv_open(path, err, sizeof err);
    size_t bad = 0;
    if (!csv || cds_csv_read_header(csv, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        cds_csv_destroy(&csv);
        return 1;
    }
    int rc;
    while ((rc = cds_csv_next(csv, err, sizeof err)) > 0)
        bad += check_map_row(csv, path, ous);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        bad++;
    }
    cds_csv_destroy(&csv);
    return bad;
}

typedef struct {
    const cds_catalog_t *cat;
    const cds_orgunits_t *ous;
    const char *dir;
    rows_t prev_cat;                   /* previous catalog, keyed by code */
    rows_t repl;                       /* new catalog, keyed by replaces */
    size_t bad;
} whole_t;

/* Column col of the row keyed key in rs (row text), into buf; NULL when
 * no such row or column. */
static const char *
row_field(const rows_t *rs, const char *key, const char *col, char *buf,
          size_t len)
{
    row_t k = { (char *) key, NULL };
    const row_t *r = rs->n && key[0]
        ? bsearch(&k, rs->r, rs->n, sizeof k, row_cmp) : NULL;
    char name[64];
    snprintf(name, sizeof name, "%s=", col);
    for (const char *p = r ? r->text : NULL; p; p = strchr(p, '\n')) {
        p += *p == '\n';
        if (strncasecmp(p, name, strlen(name)) == 0) {
            p += strlen(name);
            snprintf(buf, len, "%.*s", (int) strcspn(p, "\n"), p);
            return buf;
        }
    }
    return NULL;
}

static int
indicator_in_use(const char *code, int64_t rows, void *arg)
{
    whole_t *w = arg;
    const cds_indicator_t *ind = cds_catalog_find(w->cat, code);
    char t[64];
    const char *pt = ind ? row_field(&w->prev_cat, code, "value_type", t,
                                     sizeof t) : NULL;
    char by[128];
    if (!ind && row_field(&w->repl, code, "code", by, sizeof by)) {
        printf("%s: retired, replaced by %s (its %lld stored values stay "
               "under %s) / thay bằng %s\n", code, by, (long long) rows,
               code, by);
        return 0;
    }
    if (!ind)
        fprintf(stderr, "%s/catalog.csv: code: indicator %s has %lld stored "
                "values and is not in the new catalog (keep its row, or name "
                "it in the replaces column of its successor)\n",
                w->dir, code, (long long) rows);
    else if (pt && strcasecmp(pt, cds_value_type_name(ind->type)) != 0)
        fprintf(stderr, "%s/catalog.csv: value_type: indicator %s has %lld "
                "stored values as %s; it cannot become %s (publish a new "
                "code instead)\n", w->dir, code, (long long) rows, pt,
                cds_value_type_name(ind->type));
    else
        return 0;
    w->bad++;
    return 0;
}

static int
unit_in_use(const char *code, int64_t rows, void *arg)
{
    whole_t *w = arg;
    if (cds_orgunits_find(w->ous, code))
        return 0;
    fprintf(stderr, "%s/orgunits.csv: code: unit %s has %lld stored values "
            "and is not in the new list (keep it, with valid_to and a row "
            "in orgunit_map.csv)\n", w->dir, code, (long long) rows);
    w->bad++;
    return 0;
}

/* The set as a whole (the files load on their own: draft_read). */
static int
check_whole(store_t *store, const char *dir, const draft_t *d,
            const Cdsync__MetadataBundle *prev)
{
    char path[4096], err[1024];
    whole_t w = { .dir = dir };
    snprintf(path, sizeof path, "%s/catalog.csv", dir);
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/orgunits.csv", dir);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    int code = cat && ous ? CDS_OK : CDS_EMALFORMED;
    const Cdsync__MetadataFile *pc = bundle_file(prev, "catalog.csv");
    if (!code && pc)
        code = rows_parse(pc->content.data, pc->content.len, "catalog.csv",
                          "code", &w.prev_cat, err, sizeof err);
    const Cdsync__MetadataFile *nc = bundle_file(&d->b, "catalog.csv");
    if (!code && nc)
        code = rows_parse(nc->content.data, nc->content.len, "catalog.csv",
                          "replaces", &w.repl, err, sizeof err);
    w.cat = cat;
    w.ous = ous;
    for (size_t i = 0; !code && i < N_FILES; i++)
        if (files[i].with && bundle_file(&d->b, files[i].name)) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
            w.bad += files[i].with(path, cat, ous, stderr);
        }
    if (!code) {
        w.bad += check_map(dir, ous);
        code = store_codes_in_use(store, false, indicator_in_use, &w);
    }
    if (!code)
        code = store_codes_in_use(store, true, unit_in_use, &w);
    if (!code && w.bad)
        code = CDS_EMALFORMED;
    rows_free(&w.prev_cat);
    rows_free(&w.repl);
    cds_catalog_destroy(&cat);
    cds_orgunits_destroy(&ous);
    return code;
}

/* The current version (0: none) and its unpacked bundle (*b NULL when
 * none). Its signature is checked against the aggregator's key. */
static int
current(store_t *store, const uint8_t pk[CDS_PK_BYTES], store_metadata_t *m,
        Cdsync__MetadataBundle **b)
{
    int64_t v = 0;
    int code = store_metadata_latest(store, &v);
    memset(m, 0, sizeof *m);
    *b = NULL;
    if (code || v == 0)
        return code;
    if ((code = store_metadata_get(store, v, m)))
        return code;
    if (cds_sign_verify(pk, CDSYNC__KIND__KIND_METADATA, pk, m->bundle,
                        m->bundle_len, m->signature) != CDS_OK) {
        fprintf(stderr, "metadata: version %lld in the store does not verify "
                "with this aggregator's key\n", (long long) v);
        return CDS_EBADSIG;
    }
    *b = cdsync__metadata_bundle__unpack(NULL, m->bundle_len, m->bundle);
    return *b ? CDS_OK : CDS_EMALFORMED;
}

/* y at a terminal, or --yes. 0: go; else the exit code (printed). */
static int
confirm(cds_cli_t *cli, int64_t version)
{
    if (cds_config_get_bool(cli->cfg, "command.yes"))
        return 0;
    if (!isatty(STDIN_FILENO))
        return cds_cli_fail(CDS_EXIT_USAGE, "metadata publish: stdin is not "
                            "a terminal: add --yes to publish version %lld",
                            (long long) version);
    printf("Publish as version %lld? / Phát hành phiên bản %lld? [y/N] ",
           (long long) version, (long long) version);
    fflush(stdout);
    char line[32];
    if (fgets(line, sizeof line, stdin)
        && (line[0] == 'y' || line[0] == 'Y' || line[0] == 'c'
            || line[0] == 'C'))
        return 0;
    return cds_cli_fail(CDS_EXIT_INPUT, "metadata publish: not confirmed; "
                        "nothing stored");
}

/* Sign and store d as version v. */
static int
store_draft(store_t *store, const cds_identity_t *id, draft_t *d,
            int64_t v, char *summary)
{
    d->b.version = (uint64_t) v;
    d->b.published_ms = cds_now_ms();
    size_t len = cdsync__metadata_bundle__get_packed_size(&d->b);
    store_metadata_t m = { .version = v,
                           .published_ms = (int64_t) d->b.published_ms,
                           .bundle = malloc(len ? len : 1),
                           .bundle_len = len, .summary = summary };
    if (!m.bundle)
        return CDS_ENOMEM;
    cdsync__metadata_bundle__pack(&d->b, m.bundle);
    const uint8_t *pk = cds_identity_sign_pk(id);
    memcpy(m.signer, pk, CDS_PK_BYTES);
    int code = cds_sign_body(id, CDSYNC__KIND__KIND_METADATA, pk, m.bundle,
                             len, m.signature);
    if (!code)
        code = store_metadata_add(store, &m);
    free(m.bundle);
    return code;
}

/* ---- the commands ------------------------------------------------------- */

static cds_identity_t *
identity(cds_cli_t *cli)
{
    char err[512] = "";
    int code = CDS_OK;
    cds_identity_t *id = cds_identity_load(cli->identity, &code, err,
                                           sizeof err);
    if (!id)
        cds_cli_fail(CDS_EXIT_CONFIG, "%s", err[0] ? err : cli->identity);
    return id;
}

/* After the checks and the diff: confirm, sign, store. */
static int
publish_go(cds_cli_t *cli, const cds_identity_t *id, draft_t *d,
           int64_t v, char *sum)
{
    int rc = confirm(cli, v);
    if (rc)
        return rc;
    int code = store_draft(cli->db, id, d, v, sum);
    if (code)
        return cds_cli_fail(cds_exit_code(code), "metadata publish: %s%s",
                            cds_strerror(code), code == CDS_EBUSY
                            ? " (another version was published meanwhile;"
                              " run again)" : "");
    char fpr[CDS_FPR_LEN];
    printf("published version %lld, signed by %s / đã phát hành phiên bản "
           "%lld\n", (long long) v,
           cds_fingerprint(cds_identity_sign_pk(id), fpr), (long long) v);
    return 0;
}

/* Read, check and diff dir against prev (m: its row); then publish_go. */
static int
publish_dir(cds_cli_t *cli, const cds_identity_t *id, const char *dir,
            const store_metadata_t *m, const Cdsync__MetadataBundle *prev)
{
    draft_t d;
    char *sum = NULL;
    int changed = 0, rc = 0;
    int code = draft_read(&d, dir);
    if (!code)
        code = check_whole(cli->db, dir, &d, prev);
    if (!code && m->bundle) {
        crypto_generichash(d.prev, META_HASH, m->bundle, m->bundle_len,
                           NULL, 0);
        d.b.previous.data = d.prev;
        d.b.previous.len = META_HASH;
    }
    if (!code)
        code = diff_bundles(prev, &d.b, stdout, &sum, &changed);
    if (code == CDS_EMALFORMED)
        rc = cds_cli_fail(CDS_EXIT_INPUT, "metadata publish: %s refused; "
                          "nothing stored", dir);
    else if (code)
        rc = cds_cli_fail(cds_exit_code(code), "metadata publish: %s",
                          cds_strerror(code));
    else if (!changed)
        printf("version %lld is current; nothing to publish\n",
               (long long) m->version);
    else
        rc = publish_go(cli, id, &d, m->version + 1, sum);
    free(sum);
    draft_free(&d);
    return rc;
}

static int
publish(cds_cli_t *cli, const char *dir)
{
    cds_identity_t *id = identity(cli);
    if (!id)
        return CDS_EXIT_CONFIG;
    store_metadata_t m;
    Cdsync__MetadataBundle *prev = NULL;
    int rc, code = current(cli->db, cds_identity_sign_pk(id), &m, &prev);
    rc = code ? cds_cli_fail(cds_exit_code(code), "metadata publish: %s",
                             cds_strerror(code))
              : publish_dir(cli, id, dir, &m, prev);
    cdsync__metadata_bundle__free_unpacked(prev, NULL);
    store_metadata_clear(&m);
    cds_identity_destroy(&id);
    return rc;
}

/* The bundle of a stored row, its signature checked against its signer
 * (the key that published it; `show` names it). NULL when bad. */
static Cdsync__MetadataBundle *
row_bundle(const store_metadata_t *m, bool *good)
{
    *good = cds_sign_verify(m->signer, CDSYNC__KIND__KIND_METADATA,
                            m->signer, m->bundle, m->bundle_len,
                            m->signature) == CDS_OK;
    return cdsync__metadata_bundle__unpack(NULL, m->bundle_len, m->bundle);
}

static int
list_one(const store_metadata_t *m, void *arg)
{
    bool good;
    char when[64];
    Cdsync__MetadataBundle *b = row_bundle(m, &good);
    printf("%-4lld %s  %zu files  %s%s\n", (long long) m->version,
           cds_format_time(when, sizeof when, (uint64_t) m->published_ms),
           b ? b->n_files : 0, good && b ? "" : "[BAD SIGNATURE] ",
           m->summary);
    cdsync__metadata_bundle__free_unpacked(b, NULL);
    return 0;
}

/* Version text: a positive number. */
static int64_t
parse_version(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return *s && !*end && v > 0 ? v : -1;
}

/* Load version text s. 0 or the exit code (printed). */
static int
load(cds_cli_t *cli, const char *s, store_metadata_t *m,
     Cdsync__MetadataBundle **b, bool *good)
{
    int64_t v = parse_version(s);
    if (v < 0)
        return cds_cli_fail(CDS_EXIT_USAGE, "metadata: version: not a "
                            "positive number (\"%s\")", s);
    int code = store_metadata_get(cli->db, v, m);
    if (code)
        return cds_cli_fail(cds_exit_code(code), "metadata: version %lld: %s",
                            (long long) v, code == CDS_ENOTFOUND
                            ? "not published" : cds_strerror(code));
    if (!(*b = row_bundle(m, good))) {
        store_metadata_clear(m);
        return cds_cli_fail(CDS_EXIT_RUNTIME, "metadata: version %lld: "
                            "bundle does not decode", (long long) v);
    }
    return 0;
}

static void
show_bundle(const store_metadata_t *m, const Cdsync__MetadataBundle *b,
            bool good)
{
    char when[64], fpr[CDS_FPR_LEN], hex[2 * META_HASH + 1];
    printf("version:   %lld\npublished: %s\nsigner:    %s\nsignature: %s\n"
           "change:    %s\nfiles:\n", (long long) m->version,
           cds_format_time(when, sizeof when, (uint64_t) m->published_ms),
           cds_fingerprint(m->signer, fpr), good ? "good" : "BAD",
           m->summary);
    for (size_t i = 0; i < b->n_files; i++) {
        const Cdsync__MetadataFile *f = b->files[i];
        printf("  %-16s %8zu bytes  blake2b %s\n", f->name, f->content.len,
               f->blake2b.len == META_HASH
               ? cds_hex(hex, f->blake2b.data, META_HASH) : "?");
    }
}

/* show N: the version; show N FILE: that file's bytes, as published. */
static int
show(cds_cli_t *cli)
{
    store_metadata_t m;
    Cdsync__MetadataBundle *b;
    bool good;
    int rc = load(cli, cli->args[1], &m, &b, &good);
    if (rc)
        return rc;
    const Cdsync__MetadataFile *f = cli->n_args == 3
        ? bundle_file(b, cli->args[2]) : NULL;
    if (cli->n_args == 2)
        show_bundle(&m, b, good);
    else if (!f)
        rc = cds_cli_fail(CDS_EXIT_INPUT, "metadata show: version %lld has "
                          "no file \"%s\"", (long long) m.version,
                          cli->args[2]);
    else
        fwrite(f->content.data, 1, f->content.len, stdout);
    cdsync__metadata_bundle__free_unpacked(b, NULL);
    store_metadata_clear(&m);
    return rc;
}

static int
diff(cds_cli_t *cli)
{
    store_metadata_t ma, mb;
    Cdsync__MetadataBundle *a, *b;
    bool ga, gb;
    char *sum = NULL;
    int changed, rc = load(cli, cli->args[1], &ma, &a, &ga);
    if (rc)
        return rc;
    if (!(rc = load(cli, cli->args[2], &mb, &b, &gb))) {
        int code = diff_bundles(a, b, stdout, &sum, &changed);
        if (code)
            rc = cds_cli_fail(cds_exit_code(code), "metadata diff: %s",
                              cds_strerror(code));
        free(sum);
        cdsync__metadata_bundle__free_unpacked(b, NULL);
        store_metadata_clear(&mb);
    }
    cdsync__metadata_bundle__free_unpacked(a, NULL);
    store_metadata_clear(&ma);
    return rc;
}

int
metadata_cmd(cds_cli_t *cli)
{
    const char *sub = cli->n_args ? cli->args[0] : "";
    if (strcmp(sub, "publish") == 0 && cli->n_args == 2)
        return publish(cli, cli->args[1]);
    if (strcmp(sub, "list") == 0 && cli->n_args == 1) {
        int code = store_metadata_each(cli->db, list_one, NULL);
        return code ? cds_cli_fail(cds_exit_code(code), "metadata list: %s",
                                   cds_strerror(code)) : 0;
    }
    if (strcmp(sub, "show") == 0 && (cli->n_args == 2 || cli->n_args == 3))
        return show(cli);
    if (strcmp(sub, "diff") == 0 && cli->n_args == 3)
        return diff(cli);
    return cds_cli_fail(CDS_EXIT_USAGE, "metadata: usage: metadata publish "
                        "DIR [--yes] | list | show N [FILE] | diff A B");
}
