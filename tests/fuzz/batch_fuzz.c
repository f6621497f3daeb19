/*  batch_fuzz: a Batch body (what follows a verified signature) through
 *  decode and every per-update check the aggregator makes: fields, UTF-8,
 *  catalog (indicator, period, value, bounds), canonical value, hash and
 *  chain. The catalog is deploy/catalog.csv ($CDS_FUZZ_CATALOG). */
#include "cds_catalog.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_period.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cds_catalog_t *
catalog(void)
{
    static cds_catalog_t *cat;
    char err[256];
    if (!cat) {
        const char *p = getenv("CDS_FUZZ_CATALOG");
        (void) fuzz_path("unused");
        cat = cds_catalog_load(p ? p : "deploy/catalog.csv", err, sizeof err);
        if (!cat) {
            fprintf(stderr, "batch_fuzz: %s\n", err);
            abort();
        }
    }
    return cat;
}

static void
check_update(const Cdsync__Update *pb, uint8_t chain[CDS_HASH_BYTES])
{
    cds_update_t u;
    const char *field = NULL;
    char err[256], canon[CDS_MAX_VALUE + 1];
    uint8_t h[CDS_HASH_BYTES];
    double num = 0;
    cds_period_t period;
    cds_update_from_pb(pb, &u);
    cds_update_hash(&u, h);
    cds_chain_next(chain, h, chain);
    if (cds_update_check_fields(&u, &field) != CDS_OK)
        return;
    if (cds_catalog_check_update(catalog(), &u, &field, err, sizeof err)
        != CDS_OK)
        return;
    (void) cds_period_parse(u.period, &period);
    const cds_indicator_t *ind = cds_catalog_find(catalog(), u.indicator);
    if (ind && !u.deleted)
        (void) cds_value_canonical(ind, u.value, canon, sizeof canon, &num,
                                   err, sizeof err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int err = 0;
    uint8_t chain[CDS_HASH_BYTES] = { 0 };
    (void) catalog();
    Cdsync__Batch *b = cds_msg_decode(&cdsync__batch__descriptor, data, size,
                                      &err);
    if (!b)
        return 0;
    if (b->n_updates <= CDS_MAX_BATCH_UPDATES)
        for (size_t i = 0; i < b->n_updates; i++)
            check_update(b->updates[i], chain);
    cds_msg_free(b);
    return 0;
}
