/*  metaserve: scoping and signing the bundle an agent fetches
 *  (metaserve.h). The CSV files are read with cds_csv (the loaders'
 *  reader) and written back field by field, quoted where RFC 4180 needs
 *  it, so the agent's loaders read exactly the rows kept here. */
#include "metaserve.h"

#include "cdsync.pb-c.h"
#include "cds_codec.h"
#include "cds_csv.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_sign.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define MS_MAX_DEPTH 64                /* parent steps followed */
#define MS_UNITS_BUF 8192              /* the agent's units, comma list */

/* A growing output file; its capacity doubles (one realloc per field
 * copied a country's orgunits.csv once per field: quadratic). */
typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} out_t;

static void
put(out_t *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *p = realloc(o->buf, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* One field, quoted when it holds a comma, quote or line break. */
static void
put_field(out_t *o, const char *s, bool first)
{
    if (!first)
        put(o, ",", 1);
    if (!strpbrk(s, ",\"\r\n")) {
        put(o, s, strlen(s));
        return;
    }
    put(o, "\"", 1);
    for (const char *q = s; *q; q++)
        put(o, *q == '"' ? "\"\"" : q, *q == '"' ? 2 : 1);
    put(o, "\"", 1);
}

/* The current record (or the header), with field col replaced by repl
 * when col >= 0. */
static void
put_record(out_t *o, const cds_csv_t *csv, int col, const char *repl)
{
    size_t n = cds_csv_count(csv);
    for (size_t i = 0; i < n; i++)
        put_field(o, (int) i == col ? repl : cds_csv_field(csv, i), i == 0);
    put(o, "\n", 1);
}

/* ---- the unit tree of orgunits.csv ------------------------------------- */

typedef struct {
    char **code, **parent;             /* file order */
    size_t n, cap;
    ssize_t *up;                       /* index of parent[i], -1: none */
    bool *keep;
} tree_t;

static void
tree_free(tree_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->code[i]);
        free(t->parent[i]);
    }
    free(t->code);
    free(t->parent);
    free(t->up);
    free(t->keep);
    memset(t, 0, sizeof *t);
}

/* A data set's item: a linear scan (a data set names few units). */
static ssize_t
tree_find(const tree_t *t, const char *code)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->code[i], code) == 0)
            return (ssize_t) i;
    return -1;
}

/* Capacity doubles: a country's orgunits.csv has ~100,000 rows, and one
 * realloc per row copied the arrays each time (quadratic). */
static int
tree_add(tree_t *t, const char *code, const char *parent)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        char **c = realloc(t->code, cap * sizeof *c);
        if (c)
            t->code = c;
        char **p = realloc(t->parent, cap * sizeof *p);
        if (p)
            t->parent = p;
        if (!c || !p)
            return CDS_ENOMEM;
        t->cap = cap;
    }
    t->code[t->n] = strdup(code);
    t->parent[t->n] = strdup(parent);
    t->n++;
    return t->code[t->n - 1] && t->parent[t->n - 1] ? CDS_OK : CDS_ENOMEM;
}

typedef struct {
    const char *code;
    size_t i;
} code_ix_t;

static int
code_ix_cmp(const void *a, const void *b)
{
    return strcmp(((const code_ix_t *) a)->code, ((const code_ix_t *) b)->code);
}

/* up[i] for every unit: one sort and a binary search per unit, not a
 * scan of the whole file per step up the tree (40,000 hamlets took
 * minutes per agent that way). */
static int
tree_link(tree_t *t)
{
    code_ix_t *ix = malloc((t->n + 1) * sizeof *ix);
    t->up = malloc((t->n + 1) * sizeof *t->up);
    if (!ix || !t->up) {
        free(ix);
        return CDS_ENOMEM;
    }
    for (size_t i = 0; i < t->n; i++)
        ix[i] = (code_ix_t) { t->code[i], i };
    qsort(ix, t->n, sizeof *ix, code_ix_cmp);
    for (size_t i = 0; i < t->n; i++) {
        code_ix_t key = { t->parent[i], 0 };
        const code_ix_t *hit = t->parent[i][0]
            ? bsearch(&key, ix, t->n, sizeof *ix, code_ix_cmp) : NULL;
        t->up[i] = hit ? (ssize_t) hit->i : -1;
    }
    free(ix);
    return CDS_OK;
}

/* Is one of the comma-separated units in list? */
static bool
in_list(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t) (e - p) : strlen(p);
        if (l == n && memcmp(p, code, n) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

/* Mark the agent's units, everything below them and everything above. */
static void
tree_mark(tree_t *t, const char *units)
{
    for (size_t i = 0; i < t->n; i++) {
        ssize_t at = (ssize_t) i;
        for (int d = 0; at >= 0 && d < MS_MAX_DEPTH; d++) {
            if (in_list(units, t->code[at])) {
                t->keep[i] = true;     /* a unit of the agent or below */
                break;
            }
            at = t->up[at];
        }
        if (!in_list(units, t->code[i]))
            continue;
        at = t->up[i];
        for (int d = 0; at >= 0 && d < MS_MAX_DEPTH; d++) {
            t->keep[at] = true;        /* an ancestor */
            at = t->up[at];
        }
    }
}

/* f opened with its header as the current record (so put_record writes
 * it back as it was); cols[i]: the position of names[i], -1 if absent
 * (matched ignoring ASCII case, as cds_csv_column does). */
static cds_csv_t *
open_file(const Cdsync__MetadataFile *f, int *cols, const char *const *names,
          size_t ncols, char *why, size_t whylen)
{
    char err[300] = "";
    cds_csv_t *csv = cds_csv_open_mem(f->content.data, f->content.len,
                                      f->name, err, sizeof err);
    if (csv && cds_csv_next(csv, err, sizeof err) != 1)
        cds_csv_destroy(&csv);
    for (size_t i = 0; csv && i < ncols; i++) {
        cols[i] = -1;
        for (size_t j = 0; j < cds_csv_count(csv); j++)
            if (strcasecmp(cds_csv_field(csv, j), names[i]) == 0)
                cols[i] = (int) j;
    }
    if (!csv)
        snprintf(why, whylen, "stored %s does not parse: %s", f->name, err);
    return csv;
}

/* orgunits.csv scoped into o; the tree kept for datasets.csv. */
static int
scope_units(const Cdsync__MetadataFile *f, const char *units, tree_t *t,
            out_t *o, char *why, size_t whylen)
{
    static const char *const names[] = { "code", "parent" };
    int col[2], r;
    char err[300];
    cds_csv_t *csv = open_file(f, col, names, 2, why, whylen);
    if (!csv)
        return CDS_EMALFORMED;
    while ((r = cds_csv_next(csv, err, sizeof err)) == 1)
        if (tree_add(t, cds_csv_get(csv, col[0]), cds_csv_get(csv, col[1])))
            break;
    cds_csv_destroy(&csv);
    t->keep = calloc(t->n + 1, sizeof *t->keep);
    if (r != 0 || !t->keep || tree_link(t) != CDS_OK) {
        snprintf(why, whylen, "stored orgunits.csv: %s", r < 0 ? err : "");
        return r < 0 ? CDS_EMALFORMED : CDS_ENOMEM;
    }
    tree_mark(t, units);
    csv = open_file(f, col, names, 2, why, whylen);
    put_record(o, csv, -1, NULL);
    for (size_t i = 0; cds_csv_next(csv, err, sizeof err) == 1; i++)
        if (i < t->n && t->keep[i])
            put_record(o, csv, -1, NULL);
    cds_csv_destroy(&csv);
    return o->oom ? CDS_ENOMEM : CDS_OK;
}

/* The org_units items of a data set that name a kept unit (level:N
 * kept as is) into o2; true when any. */
static bool
kept_items(const tree_t *t, const char *items, out_t *o2)
{
    char *copy = strdup(items), *save = NULL;
    bool any = false;
    for (char *it = copy ? strtok_r(copy, " ", &save) : NULL; it;
         it = strtok_r(NULL, " ", &save)) {
        const char *colon = strchr(it, ':');
        const char *code = colon ? colon + 1 : it;
        ssize_t at = tree_find(t, code);
        bool keep = (colon && strncmp(it, "level:", 6) == 0)
                    || (at >= 0 && t->keep[at]);
        if (!keep)
            continue;
        if (any)
            put(o2, " ", 1);
        put(o2, it, strlen(it));
        any = true;
    }
    free(copy);
    return any;
}

/* datasets.csv: rows for the kept units, org_units cut to them. */
static int
scope_sets(const Cdsync__MetadataFile *f, const tree_t *t, out_t *o,
           char *why, size_t whylen)
{
    static const char *const names[] = { "org_units" };
    int col[1];
    char err[300];
    cds_csv_t *csv = open_file(f, col, names, 1, why, whylen);
    if (!csv)
        return CDS_EMALFORMED;
    put_record(o, csv, -1, NULL);
    while (cds_csv_next(csv, err, sizeof err) == 1) {
        out_t items = { 0 };
        if (kept_items(t, cds_csv_get(csv, col[0]), &items))
            put_record(o, csv, col[0], items.buf);
        o->oom |= items.oom;
        free(items.buf);
    }
    cds_csv_destroy(&csv);
    return o->oom ? CDS_ENOMEM : CDS_OK;
}

/* ---- the bundle --------------------------------------------------------- */

/* The published version, its stored signature checked with our key. */
static int
published(store_t *store, const cds_identity_t *id, store_metadata_t *m,
          Cdsync__MetadataBundle **b, char *why, size_t whylen)
{
    int64_t latest = 0;
    int rc = store_metadata_latest(store, &latest);
    if (rc == CDS_OK && latest == 0)
        rc = CDS_ENOTFOUND;
    if (rc == CDS_OK)
        rc = store_metadata_get(store, latest, m);
    if (rc != CDS_OK) {
        snprintf(why, whylen, "%s", rc == CDS_ENOTFOUND
                 ? "no metadata published" : "metadata not readable");
        return rc;
    }
    const uint8_t *me = cds_identity_sign_pk(id);
    if (sodium_memcmp(m->signer, me, CDS_PK_BYTES) != 0
        || cds_sign_verify(me, CDSYNC__KIND__KIND_METADATA, me, m->bundle,
                           m->bundle_len, m->signature) != CDS_OK) {
        snprintf(why, whylen, "stored version %lld does not verify with "
                 "this aggregator's key: not sent", (long long) latest);
        return CDS_EBADSIG;
    }
    int err = CDS_OK;
    *b = cds_msg_decode(&cdsync__metadata_bundle__descriptor, m->bundle,
                        m->bundle_len, &err);
    if (!*b)
        snprintf(why, whylen, "stored version %lld does not decode",
                 (long long) latest);
    return *b ? CDS_OK : err;
}

/* A shallow copy of a bundle whose files can be replaced: the decoded
 * message is never changed (its allocator frees what it made). */
typedef struct {
    Cdsync__MetadataBundle b;
    Cdsync__MetadataFile *f;
    Cdsync__MetadataFile **p;
    uint8_t (*hash)[32];
    out_t kept[2];                     /* orgunits.csv, datasets.csv */
} scoped_t;

static void
scoped_free(scoped_t *s)
{
    free(s->f);
    free(s->p);
    free(s->hash);
    free(s->kept[0].buf);
    free(s->kept[1].buf);
}

/* File i gets o's content, hash recomputed. */
static void
swap_content(scoped_t *s, size_t i, const out_t *o)
{
    s->f[i].content.data = (uint8_t *) (o->buf ? o->buf : "");
    s->f[i].content.len = o->len;
    crypto_generichash(s->hash[i], 32, s->f[i].content.data,
                       s->f[i].content.len, NULL, 0);
    s->f[i].blake2b.data = s->hash[i];
    s->f[i].blake2b.len = 32;
}

/* s: b with orgunits.csv and datasets.csv scoped for units. */
static int
scope(const Cdsync__MetadataBundle *b, const char *units, scoped_t *s,
      char *why, size_t whylen)
{
    tree_t t = { 0 };
    size_t n = b->n_files;
    s->b = *b;
    s->f = calloc(n + 1, sizeof *s->f);
    s->p = calloc(n + 1, sizeof *s->p);
    s->hash = calloc(n + 1, sizeof *s->hash);
    if (!s->f || !s->p || !s->hash)
        return CDS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        s->f[i] = *b->files[i];
        s->p[i] = &s->f[i];
    }
    s->b.files = s->p;
    int rc = CDS_OK;
    for (size_t i = 0; i < n && rc == CDS_OK; i++)
        if (strcmp(b->files[i]->name, "orgunits.csv") == 0) {
            rc = scope_units(b->files[i], units, &t, &s->kept[0], why,
                             whylen);
            if (rc == CDS_OK)
                swap_content(s, i, &s->kept[0]);
        }
    for (size_t i = 0; i < n && rc == CDS_OK; i++)
        if (strcmp(b->files[i]->name, "datasets.csv") == 0) {
            rc = scope_sets(b->files[i], &t, &s->kept[1], why, whylen);
            if (rc == CDS_OK)
                swap_content(s, i, &s->kept[1]);
        }
    tree_free(&t);
    return rc;
}

#ifdef CDS_FAILPOINTS
/* Test builds only (make fault-build): CDS_TEST_METADATA=tamper flips one
 * byte of the bundle after signing, =otherkey signs with a fresh key, so
 * the integration test sees the agent refuse both. */
static void
test_spoil(uint8_t *bundle, size_t len, const uint8_t agent_pk[CDS_PK_BYTES],
           uint8_t sig[CDS_SIG_BYTES])
{
    const char *e = getenv("CDS_TEST_METADATA");
    if (e && strcmp(e, "tamper") == 0 && len > 0)
        bundle[len / 2] ^= 0x01;
    if (!e || strcmp(e, "otherkey") != 0)
        return;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    size_t n = 9 + 1 + CDS_PK_BYTES + len;
    uint8_t *m = malloc(n);
    if (!m)
        return;
    memcpy(m, "cdsync/1", 9);
    m[9] = (uint8_t) CDSYNC__KIND__KIND_METADATA;
    memcpy(m + 10, agent_pk, CDS_PK_BYTES);
    memcpy(m + 10 + CDS_PK_BYTES, bundle, len);
    crypto_sign_detached(sig, NULL, m, n, sk);
    free(m);
}
#endif

int
metaserve_bundle(store_t *store, const cds_identity_t *id, int64_t agent_id,
                 const uint8_t agent_pk[CDS_PK_BYTES], uint8_t **bundle,
                 size_t *len, uint8_t sig[CDS_SIG_BYTES], uint64_t *version,
                 char *why, size_t whylen)
{
    store_metadata_t m = { 0 };
    Cdsync__MetadataBundle *b = NULL;
    scoped_t sc = { 0 };
    char units[MS_UNITS_BUF];
    *bundle = NULL;
    int rc = published(store, id, &m, &b, why, whylen);
    *version = (uint64_t) m.version;   /* 0 when nothing was read */
    if (rc == CDS_OK)
        rc = store_agent_units(store, agent_id, units, sizeof units);
    if (rc == CDS_OK)
        rc = scope(b, units, &sc, why, whylen);
    if (rc == CDS_OK) {
        *bundle = cds_msg_encode(&sc.b.base, len);
        rc = *bundle ? CDS_OK : CDS_ENOMEM;
    }
    if (rc == CDS_OK && *len > METASERVE_MAX_BYTES) {
        snprintf(why, whylen, "version %llu for this agent is %zu bytes > "
                 "%u", (unsigned long long) b->version, *len,
                 METASERVE_MAX_BYTES);
        rc = CDS_ETOOBIG;
    }
    if (rc == CDS_OK) {
        rc = cds_sign_body(id, CDSYNC__KIND__KIND_METADATA, agent_pk,
                           *bundle, *len, sig);
    }
#ifdef CDS_FAILPOINTS
    if (rc == CDS_OK)
        test_spoil(*bundle, *len, agent_pk, sig);
#endif
    if (rc != CDS_OK) {
        free(*bundle);
        *bundle = NULL;
    }
    scoped_free(&sc);
    cds_msg_free(b);
    store_metadata_clear(&m);
    return rc;
}
