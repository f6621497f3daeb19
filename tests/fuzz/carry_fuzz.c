/*  carry_fuzz: the carry file reader (common/cds_carry.h) past its
 *  checksum: the input, after the magic line, gets a valid BLAKE2b-256
 *  appended, so the summary, header and record parsing see every shape
 *  (a file whose checksum fails stops before them). */
#include "cds_carry.h"
#include "cds_err.h"
#include "fuzz_util.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t m = sizeof CDS_CARRY_MAGIC - 1;
    uint8_t *buf = malloc(m + size + CDS_CARRY_SUM_BYTES);
    char err[512];
    if (!buf)
        return 0;
    memcpy(buf, CDS_CARRY_MAGIC, m);
    if (size)
        memcpy(buf + m, data, size);
    crypto_generichash(buf + m + size, CDS_CARRY_SUM_BYTES, buf, m + size,
                       NULL, 0);
    const char *path = fuzz_file("f.cds", buf, m + size + CDS_CARRY_SUM_BYTES);
    free(buf);
    for (int kind = 1; kind <= 2; kind++) {
        cds_carry_t *c = NULL;
        if (cds_carry_read(path, (Cdsync__CarryKind)kind, &c, err,
                           sizeof err) == CDS_OK) {
            for (size_t i = 0; i < c->n; i++)
                if (c->env_len[i] == 0 || c->env[i] < c->data
                    || c->env[i] + c->env_len[i] > c->data + c->len)
                    abort();
            cds_carry_destroy(&c);
        }
        if (c)
            abort();
    }
    return 0;
}
