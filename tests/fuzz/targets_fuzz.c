/*  targets_fuzz: the targets loader (cds_target.h) on arbitrary bytes,
 *  without a catalog or org-unit list (every code accepted, so more rows
 *  get past the keys), then every row's lookup, attainment and state. */
#include "cds_target.h"
#include "fuzz_util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("targets.csv", data, size);
    char err[512];
    static const double values[] = { 0, 1, 45.5, 100, 1e308 };
    cds_targets_t *t = cds_targets_load(path, NULL, NULL, err, sizeof err);
    if (!t)
        return 0;
    for (size_t i = 0; i < cds_targets_size(t); i++) {
        const cds_target_t *r = cds_targets_at(t, i);
        const char *chain[] = { r->org_unit, "VN" };
        if (!r->subtree
            && cds_targets_find(t, r->indicator, r->year, chain, 2) == NULL)
            abort();           /* its own row must be found */
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            double pct = 0;
            if (cds_target_attainment(r, CDS_VT_NUMBER, values[v], 1, &pct))
                (void) cds_target_state_name(cds_target_state(r, pct));
        }
    }
    cds_targets_destroy(&t);
    return 0;
}
