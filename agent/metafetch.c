/*  metafetch: checking and storing a fetched metadata version
 *  (metafetch.h). The loaders take paths, so the files are checked from
 *  a private temporary directory that is removed on every path. */
#include "metafetch.h"

#include "cdsync.pb-c.h"
#include "cds_catalog.h"
#include "cds_codec.h"
#include "cds_csv.h"
#include "cds_dataset.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "cds_rule.h"
#include "cds_sign.h"
#include "cds_util.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The names a version may hold (aggregator/front/metadata.c's table). */
static const char *const known[] = { "catalog.csv", "datasets.csv",
                                     "orgunit_map.csv", "orgunits.csv",
                                     "rules.csv", "targets.csv" };
#define N_KNOWN (sizeof known / sizeof known[0])

static bool
known_name(const char *name)
{
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(name, known[i]) == 0)
            return true;
    return false;
}

void
metafetch_cleanup(const char *dir)
{
    char path[512];
    for (size_t i = 0; i < N_KNOWN; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, known[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

/* Every file: known name, once, hash matches. */
static int
check_files(const Cdsync__MetadataBundle *b, char *why, size_t len)
{
    if (b->format != 1 || b->version == 0) {
        snprintf(why, len, "bundle format %u version %llu", b->format,
                 (unsigned long long)b->version);
        return CDS_EMALFORMED;
    }
    for (size_t i = 0; i < b->n_files; i++) {
        const Cdsync__MetadataFile *f = b->files[i];
        uint8_t h[32];
        crypto_generichash(h, sizeof h, f->content.data, f->content.len,
                           NULL, 0);
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= strcmp(b->files[j]->name, f->name) == 0;
        if (!known_name(f->name) || dup || f->blake2b.len != sizeof h
            || sodium_memcmp(h, f->blake2b.data, sizeof h) != 0) {
            snprintf(why, len, "file \"%.60s\": %s", f->name,
                     !known_name(f->name) ? "not a metadata file"
                     : dup ? "listed twice" : "hash does not match");
            return CDS_EMALFORMED;
        }
    }
    return CDS_OK;
}

/* Write b's files into a new private directory dir. */
static int
write_files(const Cdsync__MetadataBundle *b, char *dir, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, len, "%s/cdsync-meta.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return CDS_EIO;
    for (size_t i = 0; i < b->n_files; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, b->files[i]->name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        const ProtobufCBinaryData *c = &b->files[i]->content;
        bool ok = fd >= 0 && write(fd, c->data, c->len) == (ssize_t)c->len;
        if (fd >= 0 && close(fd) != 0)
            ok = false;
        if (!ok) {
            metafetch_cleanup(dir);
            return CDS_EIO;
        }
    }
    return CDS_OK;
}

static bool
present(const Cdsync__MetadataBundle *b, const char *name)
{
    for (size_t i = 0; i < b->n_files; i++)
        if (strcmp(b->files[i]->name, name) == 0)
            return true;
    return false;
}

/* The loaders, as for the configured files. */
static int
load_all(const Cdsync__MetadataBundle *b, const char *dir, char *why,
         size_t len)
{
    char path[512], err[400] = "";
    snprintf(path, sizeof path, "%s/catalog.csv", dir);
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/orgunits.csv", dir);
    cds_orgunits_t *ous = cat ? cds_orgunits_load(path, err, sizeof err)
                              : NULL;
    bool ok = cat && ous;
    if (ok && present(b, "datasets.csv")) {
        snprintf(path, sizeof path, "%s/datasets.csv", dir);
        cds_datasets_t *ds = cds_datasets_load(path, cat, ous, err,
                                               sizeof err);
        ok = ds != NULL;
        cds_datasets_destroy(&ds);
    }
    if (ok && present(b, "rules.csv")) {
        snprintf(path, sizeof path, "%s/rules.csv", dir);
        cds_rules_t *r = cds_rules_load(path, cat, err, sizeof err);
        ok = r != NULL;
        cds_rules_destroy(&r);
    }
    cds_orgunits_destroy(&ous);
    cds_catalog_destroy(&cat);
    if (ok)
        return CDS_OK;
    /* name the file, not the temporary directory */
    const char *rel = strncmp(err, dir, strlen(dir)) == 0
                          ? err + strlen(dir) + 1 : err;
    snprintf(why, len, "%s", rel);
    return CDS_EMALFORMED;
}

/* ---- the change in words -------------------------------------------------- */

typedef struct {
    char **key, **text;
    size_t n;
} rows_t;

static void
rows_free(rows_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->key[i]);
        free(r->text[i]);
    }
    free(r->key);
    free(r->text);
}

/* The catalog rows of b by code, each with its whole record. */
static void
catalog_rows(const Cdsync__MetadataBundle *b, rows_t *r)
{
    char err[200];
    const Cdsync__MetadataFile *f = NULL;
    for (size_t i = 0; b && i < b->n_files; i++)
        if (strcmp(b->files[i]->name, "catalog.csv") == 0)
            f = b->files[i];
    cds_csv_t *csv = f ? cds_csv_open_mem(f->content.data, f->content.len,
                                          f->name, err, sizeof err)
                       : NULL;
    if (!csv || cds_csv_read_header(csv, err, sizeof err) != 0) {
        cds_csv_destroy(&csv);
        return;
    }
    int code = cds_csv_column(csv, "code");
    while (cds_csv_next(csv, err, sizeof err) == 1) {
        char text[4096] = "";
        size_t used = 0;
        for (size_t i = 0; i < cds_csv_count(csv) && used < sizeof text; i++)
            used += (size_t)snprintf(text + used, sizeof text - used,
                                     "%s\x1f", cds_csv_field(csv, i));
        char **k = realloc(r->key, (r->n + 1) * sizeof *k);
        if (k)
            r->key = k;
        char **t = realloc(r->text, (r->n + 1) * sizeof *t);
        if (t)
            r->text = t;
        if (!k || !t)
            break;
        r->key[r->n] = strdup(cds_csv_get(csv, code));
        r->text[r->n] = strdup(text);
        if (!r->key[r->n] || !r->text[r->n])
            break;
        r->n++;
    }
    cds_csv_destroy(&csv);
}

static ssize_t
row_find(const rows_t *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->key[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

/* "thêm A, đổi C, bỏ R" of the new catalog against the old (NULL: none). */
static void
summarize(const Cdsync__MetadataBundle *old, const Cdsync__MetadataBundle *b,
          char *out, size_t len)
{
    rows_t o = { 0 }, n = { 0 };
    catalog_rows(old, &o);
    catalog_rows(b, &n);
    size_t add = 0, chg = 0, del = 0;
    for (size_t i = 0; i < n.n; i++) {
        ssize_t j = row_find(&o, n.key[i]);
        add += j < 0;
        chg += j >= 0 && strcmp(o.text[j], n.text[i]) != 0;
    }
    for (size_t i = 0; i < o.n; i++)
        del += row_find(&n, o.key[i]) < 0;
    snprintf(out, len, "thêm %zu, đổi %zu, bỏ %zu", add, chg, del);
    rows_free(&o);
    rows_free(&n);
}

/* ---- apply ----------------------------------------------------------------- */

/* The decoded bundle of the version in use, NULL when none. */
static Cdsync__MetadataBundle *
in_use(outbox_t *ob)
{
    outbox_meta_t m;
    outbox_metadata_t cur;
    int err = CDS_OK;
    if (outbox_meta(ob, &m) != CDS_OK || m.metadata_version == 0
        || outbox_metadata_get(ob, m.metadata_version, &cur) != CDS_OK)
        return NULL;
    Cdsync__MetadataBundle *b = cds_msg_decode(
        &cdsync__metadata_bundle__descriptor, cur.bundle, cur.bundle_len,
        &err);
    outbox_metadata_clear(&cur);
    return b;
}

/* Every check of metafetch.h, in order; *out the decoded bundle. */
static int
verify(const uint8_t agg_pk[CDS_PK_BYTES], const uint8_t own_pk[CDS_PK_BYTES],
       const uint8_t *bundle, size_t len, const uint8_t *sig, size_t sig_len,
       Cdsync__MetadataBundle **out, char *why, size_t whylen)
{
    int err = CDS_OK;
    char dir[256];
    *out = NULL;
    if (len == 0 || len > METAFETCH_MAX_BYTES) {
        snprintf(why, whylen, "bundle of %zu bytes (1..%u)", len,
                 METAFETCH_MAX_BYTES);
        return CDS_ETOOBIG;
    }
    if (sig_len != CDS_SIG_BYTES
        || cds_sign_verify(agg_pk, CDSYNC__KIND__KIND_METADATA, own_pk,
                           bundle, len, sig) != CDS_OK) {
        snprintf(why, whylen, "signature does not verify with the "
                 "aggregator's key (server_key) for this agent");
        return CDS_EBADSIG;
    }
    *out = cds_msg_decode(&cdsync__metadata_bundle__descriptor, bundle, len,
                          &err);
    if (!*out) {
        snprintf(why, whylen, "bundle does not decode");
        return err;
    }
    int rc = check_files(*out, why, whylen);
    if (rc == CDS_OK && (rc = write_files(*out, dir, sizeof dir)) != CDS_OK)
        snprintf(why, whylen, "cannot write a temporary directory");
    if (rc == CDS_OK) {
        rc = load_all(*out, dir, why, whylen);
        metafetch_cleanup(dir);
    }
    return rc;
}

static int
refused(outbox_t *ob, int rc, const char *why, uint64_t now_ms, char *msg,
        size_t msglen)
{
    snprintf(msg, msglen, "%s: %s", cds_strerror(rc), why);
    (void)outbox_metadata_refused(ob, msg, now_ms);   /* before the log:
                                                       * status shows it */
    cds_log(CDS_LOG_ERROR, "metadata_refused", "error=%s why=%s",
            cds_strerror(rc), cds_logq(why));
    return rc;
}

int
metafetch_apply(outbox_t *ob, const uint8_t agg_pk[CDS_PK_BYTES],
                const uint8_t own_pk[CDS_PK_BYTES], const uint8_t *bundle,
                size_t len, const uint8_t *sig, size_t sig_len,
                uint64_t now_ms, char *msg, size_t msglen)
{
    char why[600] = "", words[120];
    Cdsync__MetadataBundle *b = NULL;
    int rc = verify(agg_pk, own_pk, bundle, len, sig, sig_len, &b, why,
                    sizeof why);
    if (rc != CDS_OK) {
        cds_msg_free(b);
        return refused(ob, rc, why, now_ms, msg, msglen);
    }
    Cdsync__MetadataBundle *old = in_use(ob);
    summarize(old, b, words, sizeof words);
    outbox_metadata_t m = { .version = b->version, .bundle = (uint8_t *)bundle,
                            .bundle_len = len, .received_at_ms = now_ms,
                            .summary = words };
    memcpy(m.signature, sig, CDS_SIG_BYTES);
    rc = outbox_metadata_put(ob, &m);
    snprintf(msg, msglen, "Danh mục chỉ tiêu đã cập nhật lên phiên bản "
             "%llu: %s", (unsigned long long)b->version, words);
    if (rc == CDS_OK)
        cds_log(CDS_LOG_WARN, "metadata_updated", "version=%llu from=%llu "
                "change=%s message=%s", (unsigned long long)b->version,
                (unsigned long long)(old ? old->version : 0), cds_logq(words),
                cds_logq(msg));
    else
        snprintf(why, sizeof why, "cannot store it");
    cds_msg_free(old);
    cds_msg_free(b);
    return rc == CDS_OK ? CDS_OK : refused(ob, rc, why, now_ms, msg, msglen);
}

int
metafetch_materialize(outbox_t *ob, char *dir, size_t len)
{
    Cdsync__MetadataBundle *b = in_use(ob);
    if (!b)
        return CDS_ENOTFOUND;
    int rc = write_files(b, dir, len);
    cds_msg_free(b);
    return rc;
}

/* ---- the `metadata` command ------------------------------------------------ */

int
metafetch_show(outbox_t *ob, const char *file, FILE *out)
{
    outbox_meta_t m;
    outbox_metadata_t cur;
    char t[64];
    int rc = outbox_meta(ob, &m);
    if (rc == CDS_OK && m.metadata_version == 0)
        rc = CDS_ENOTFOUND;
    if (rc == CDS_OK)
        rc = outbox_metadata_get(ob, m.metadata_version, &cur);
    if (rc != CDS_OK)
        return rc;
    int err = CDS_OK;
    Cdsync__MetadataBundle *b = cds_msg_decode(
        &cdsync__metadata_bundle__descriptor, cur.bundle, cur.bundle_len,
        &err);
    rc = b ? CDS_ENOTFOUND : err;
    for (size_t i = 0; b && file && i < b->n_files; i++)
        if (strcmp(b->files[i]->name, file) == 0) {
            fwrite(b->files[i]->content.data, 1, b->files[i]->content.len,
                   out);
            rc = CDS_OK;
        }
    if (b && !file) {
        fprintf(out, "version %llu in use, fetched %s: %s\n",
                (unsigned long long)cur.version,
                cds_format_time(t, sizeof t, cur.received_at_ms),
                cur.summary);
        for (size_t i = 0; i < b->n_files; i++)
            fprintf(out, "  %-16s %zu bytes\n", b->files[i]->name,
                    b->files[i]->content.len);
        rc = CDS_OK;
    }
    cds_msg_free(b);
    outbox_metadata_clear(&cur);
    return rc;
}

int
metafetch_rollback(outbox_t *ob, FILE *out)
{
    uint64_t from = 0, to = 0;
    int rc = outbox_metadata_rollback(ob, &from, &to);
    if (rc != CDS_OK)
        return rc;
    fprintf(out, "metadata: version %llu in use again (was %llu); version "
            "%llu is not fetched again, a newer one is / đã quay lại phiên "
            "bản %llu\n", (unsigned long long)to, (unsigned long long)from,
            (unsigned long long)from, (unsigned long long)to);
    cds_log(CDS_LOG_WARN, "metadata_rollback", "from=%llu to=%llu",
            (unsigned long long)from, (unsigned long long)to);
    return CDS_OK;
}
