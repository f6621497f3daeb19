/*  csv_import_fuzz: `cdsync-agent import` on arbitrary bytes: the DHIS2
 *  dataValueSet reader (common/cds_dvs.c: CSV by libcsv with header
 *  detection or DHIS2's positions, JSON by jansson), header matching, every row's validation against
 *  deploy/catalog.csv ($CDS_FUZZ_CATALOG), all-or-nothing queueing into a
 *  real outbox database. */
#include "cds_catalog.h"
#include "cds_err.h"
#include "fuzz_util.h"
#include "import.h"
#include "outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static outbox_t *ob;
static cds_catalog_t *cat;

static void
init(void)
{
    char err[256];
    int e = 0;
    const char *p = getenv("CDS_FUZZ_CATALOG");
    (void) fuzz_path("unused");
    cat = cds_catalog_load(p ? p : "deploy/catalog.csv", err, sizeof err);
    ob = outbox_open(fuzz_path("agent.db"), &e);
    if (!cat || !ob)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ob)
        init();
    const char *path = fuzz_file("in.csv", data, size);
    submit_ctx_t ctx = { .catalog = cat, .org_units = "27901,27904,801",
                         .stored_by = "fuzz", .queue_max = 0,
                         .state_dir = NULL };
    import_result_t res;
    char err[512];
    FILE *devnull = fopen("/dev/null", "w");
    (void) import_file(&ctx, ob, path, devnull, &res, err, sizeof err);
    fclose(devnull);
    return 0;
}
