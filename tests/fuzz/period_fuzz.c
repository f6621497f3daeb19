/*  period_fuzz: DHIS2 period identifiers and dates, parsed strictly; a
 *  parsed period must round-trip through its type name and start day, and
 *  the identifier of its start day must be the input itself (one spelling
 *  per period), in CDS_PERIOD_ID_LEN bytes. */
#include "cds_err.h"
#include "cds_period.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    cds_period_t p;
    int32_t day;
    char buf[64];
    if (cds_period_parse(s, &p) == CDS_OK) {
        cds_period_type_t t;
        if (cds_period_type_parse(cds_period_type_name(p.type), &t) != CDS_OK
            || t != p.type || p.end < p.start)
            abort();
        if (cds_period_of_day(p.type, p.start, buf, CDS_PERIOD_ID_LEN)
                != CDS_OK
            || strcmp(buf, s) != 0)
            abort();
    }
    if (cds_date_parse(s, &day) == CDS_OK)
        (void) cds_date_format(day, buf, sizeof buf);
    free(s);
    return 0;
}
