/*  rule_fuzz: the rule expression parser (cds_rule.h) on arbitrary text.
 *  A parsed expression must evaluate without a crash, with every code it
 *  names valid ([A-Z0-9_], 1..64 bytes), and parse again from the same
 *  text to the same codes. */
#include "cds_rule.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Codes starting with A have a value (their length), others none. */
static bool
look(void *ctx, const char *code, double *out)
{
    (void) ctx;
    *out = (double) strlen(code);
    return code[0] == 'A';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char err[256];
    cds_expr_t *e = cds_expr_parse(s, err, sizeof err);
    if (e) {
        double v;
        (void) cds_expr_eval(e, look, NULL, &v);
        cds_expr_t *again = cds_expr_parse(s, err, sizeof err);
        if (!again || cds_expr_ncodes(again) != cds_expr_ncodes(e))
            abort();
        for (size_t i = 0; i < cds_expr_ncodes(e); i++) {
            const char *c = cds_expr_code(e, i);
            size_t n = strlen(c);
            if (n == 0 || n > 64 || strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_") != n
                || strcmp(c, cds_expr_code(again, i)) != 0)
                abort();
        }
        cds_expr_destroy(&again);
    } else if (!err[0]) {
        abort();               /* a refusal always says why */
    }
    cds_expr_destroy(&e);
    free(s);
    return 0;
}
