/*  catalog_fuzz: the indicator catalog loader (UTF-8 CSV, types, bounds,
 *  ratios), then canonicalisation of a few values by every indicator. */
#include "cds_catalog.h"
#include "cds_err.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("catalog.csv", data, size);
    char err[512], canon[CDS_MAX_VALUE + 1];
    double num;
    static const char *const values[] = { "1", "0", "-3.5", "100", "có",
                                          "true", "", "1e309" };
    cds_catalog_t *cat = cds_catalog_load(path, err, sizeof err);
    if (!cat)
        return 0;
    (void) cds_catalog_version(cat);
    for (size_t i = 0; i < cds_catalog_size(cat); i++) {
        const cds_indicator_t *ind = cds_catalog_at(cat, i);
        if (cds_catalog_find(cat, ind->code) == NULL)
            abort();
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
            (void) cds_value_canonical(ind, values[v], canon, sizeof canon,
                                       &num, err, sizeof err);
    }
    cds_catalog_destroy(&cat);
    return 0;
}
