/*  metaver: published versions' catalogs (metaver.h). Loaded from the
 *  metadata_version rows through store_metadata_each; each bundle's
 *  signature is checked as metaserve.c checks the one it serves. */
#include "metaver.h"

#include "cdsync.pb-c.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_sign.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t version;
    cds_catalog_t *cat;                /* owned */
} metaver_entry_t;

struct metaver {
    metaver_entry_t *e;                /* oldest first */
    size_t n;
    int64_t latest;                    /* highest stored version */
};

typedef struct {
    metaver_t *set;
    const uint8_t *pk;
    int err;
} load_ctx_t;

/* The catalog of one stored version, or NULL (logged). */
static cds_catalog_t *
version_catalog(const store_metadata_t *m, const uint8_t *pk)
{
    char err[512] = "";
    if (sodium_memcmp(m->signer, pk, CDS_PK_BYTES) != 0
        || cds_sign_verify(pk, CDSYNC__KIND__KIND_METADATA, pk, m->bundle,
                           m->bundle_len, m->signature) != CDS_OK) {
        cds_log(CDS_LOG_WARN, "metadata_version_skipped", "version=%lld "
                "reason=%s", (long long) m->version,
                cds_logq("does not verify with this aggregator's key"));
        return NULL;
    }
    int code = CDS_OK;
    Cdsync__MetadataBundle *b = cds_msg_decode(
        &cdsync__metadata_bundle__descriptor, m->bundle, m->bundle_len, &code);
    cds_catalog_t *cat = NULL;
    for (size_t i = 0; b && i < b->n_files && !cat; i++)
        if (strcmp(b->files[i]->name, "catalog.csv") == 0)
            cat = cds_catalog_parse("catalog.csv",
                                    (const char *) b->files[i]->content.data,
                                    b->files[i]->content.len, err,
                                    sizeof err);
    cds_msg_free(b);
    if (!cat)
        cds_log(CDS_LOG_WARN, "metadata_version_skipped", "version=%lld "
                "reason=%s", (long long) m->version,
                cds_logq(err[0] ? err : "no catalog.csv that decodes"));
    return cat;
}

static int
load_one(const store_metadata_t *m, void *arg)
{
    load_ctx_t *c = arg;
    if (m->version > c->set->latest)
        c->set->latest = m->version;
    cds_catalog_t *cat = version_catalog(m, c->pk);
    if (!cat)
        return 0;
    metaver_entry_t *e = realloc(c->set->e, (c->set->n + 1) * sizeof *e);
    if (!e) {
        cds_catalog_destroy(&cat);
        c->err = CDS_ENOMEM;
        return 1;
    }
    c->set->e = e;
    e[c->set->n++] = (metaver_entry_t) { m->version, cat };
    return 0;
}

int
metaver_load(store_t *store, const uint8_t id_pk[CDS_PK_BYTES],
             metaver_t **out)
{
    *out = NULL;
    load_ctx_t c = { calloc(1, sizeof *c.set), id_pk, CDS_OK };
    if (!c.set)
        return CDS_ENOMEM;
    int rc = store_metadata_each(store, load_one, &c);
    if (rc == 1)
        rc = c.err;
    if (rc != CDS_OK) {
        metaver_destroy(&c.set);
        return rc;
    }
    *out = c.set;
    return CDS_OK;
}

void
metaver_destroy(metaver_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metaver_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        cds_catalog_destroy(&self->e[i].cat);
    free(self->e);
    free(self);
    *self_p = NULL;
}

const cds_catalog_t *
metaver_find(const metaver_t *self, const char *catalog_version,
             int64_t *version)
{
    *version = 0;
    for (size_t i = self ? self->n : 0; catalog_version && i-- > 0;)
        if (strcmp(cds_catalog_version(self->e[i].cat), catalog_version)
            == 0) {
            *version = self->e[i].version;
            return self->e[i].cat;
        }
    return NULL;
}

int64_t
metaver_latest(const metaver_t *self)
{
    return self ? self->latest : 0;
}

size_t
metaver_count(const metaver_t *self)
{
    return self ? self->n : 0;
}
