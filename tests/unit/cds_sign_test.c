/*  cds_sign_test: domain-separated signatures bind kind, recipient, body
 *  and signer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_err.h"
#include "cds_id.h"
#include "cds_sign.h"

static char dir[] = "/tmp/cds_sign_test.XXXXXX";
static char path_a[256], path_b[256];
static cds_identity_t *agent, *agg, *other;  /* other: another signer */

static cds_identity_t *
make_identity(char *path, size_t len, const char *name)
{
    int err = -1;
    snprintf(path, len, "%s/%s.key", dir, name);
    if (cds_identity_generate(path, name) != CDS_OK)
        return NULL;
    return cds_identity_load(path, &err, NULL, 0);
}

static int
setup(void **state)
{
    char path_o[256];
    if (!mkdtemp(dir))
        return -1;
    agent = make_identity(path_a, sizeof path_a, "agent");
    agg = make_identity(path_b, sizeof path_b, "agg");
    other = make_identity(path_o, sizeof path_o, "other");
    unlink(path_o);
    return agent && agg && other ? 0 : -1;
}

static int
teardown(void **state)
{
    cds_identity_destroy(&agent);
    cds_identity_destroy(&agg);
    cds_identity_destroy(&other);
    unlink(path_a);
    unlink(path_b);
    return rmdir(dir);
}

static void
test_sign_verify_and_binding(void **state)
{
    uint8_t body[300], sig[CDS_SIG_BYTES];
    const uint8_t *apk = cds_identity_sign_pk(agent);
    const uint8_t *rpk = cds_identity_sign_pk(agg);
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t) (i * 7);
    assert_int_equal(cds_sign_body(agent, 3, rpk, body, sizeof body, sig),
                     CDS_OK);
    assert_int_equal(cds_sign_verify(apk, 3, rpk, body, sizeof body, sig),
                     CDS_OK);
    /* other kind, other recipient, other signer */
    assert_int_equal(cds_sign_verify(apk, 4, rpk, body, sizeof body, sig),
                     CDS_EBADSIG);
    assert_int_equal(cds_sign_verify(apk, 3, cds_identity_sign_pk(other), body,
                                     sizeof body, sig),
                     CDS_EBADSIG);
    assert_int_equal(cds_sign_verify(cds_identity_sign_pk(other), 3, rpk, body,
                                     sizeof body, sig),
                     CDS_EBADSIG);
    /* any flipped body bit, a truncated body, a flipped signature bit */
    for (size_t i = 0; i < sizeof body; i += 37) {
        body[i] ^= 0x10;
        assert_int_equal(cds_sign_verify(apk, 3, rpk, body, sizeof body, sig),
                         CDS_EBADSIG);
        body[i] ^= 0x10;
    }
    assert_int_equal(cds_sign_verify(apk, 3, rpk, body, sizeof body - 1, sig),
                     CDS_EBADSIG);
    sig[5] ^= 1;
    assert_int_equal(cds_sign_verify(apk, 3, rpk, body, sizeof body, sig),
                     CDS_EBADSIG);
    sig[5] ^= 1;
    assert_int_equal(cds_sign_verify(apk, 3, rpk, body, sizeof body, sig),
                     CDS_OK);
    /* kinds are one byte: 259 must not alias 3 */
    assert_int_equal(cds_sign_verify(apk, 259, rpk, body, sizeof body, sig),
                     CDS_EBADSIG);
    assert_int_equal(cds_sign_verify(apk, -1, rpk, body, sizeof body, sig),
                     CDS_EBADSIG);
}

/* The signed bytes are exactly "cdsync/1" NUL || kind || recipient || body. */
static void
test_signed_layout(void **state)
{
    const uint8_t body[] = { 'h', 'i', 0, 1 };
    uint8_t sig[CDS_SIG_BYTES], msg[9 + 1 + 32 + sizeof body];
    const uint8_t *rpk = cds_identity_sign_pk(agg);
    assert_int_equal(cds_sign_body(agent, 4, rpk, body, sizeof body, sig),
                     CDS_OK);
    memcpy(msg, "cdsync/1", 9);
    msg[9] = 4;
    memcpy(msg + 10, rpk, 32);
    memcpy(msg + 42, body, sizeof body);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg,
                                                 cds_identity_sign_pk(agent)),
                     0);
    /* the plain body alone does not verify: the context is bound */
    assert_int_not_equal(crypto_sign_verify_detached(
                             sig, body, sizeof body,
                             cds_identity_sign_pk(agent)),
                         0);
}

static void
test_empty_body(void **state)
{
    uint8_t sig[CDS_SIG_BYTES];
    const uint8_t *apk = cds_identity_sign_pk(agent);
    const uint8_t *rpk = cds_identity_sign_pk(agg);
    assert_int_equal(cds_sign_body(agent, 1, rpk, NULL, 0, sig), CDS_OK);
    assert_int_equal(cds_sign_verify(apk, 1, rpk, NULL, 0, sig), CDS_OK);
    assert_int_equal(cds_sign_verify(apk, 2, rpk, NULL, 0, sig), CDS_EBADSIG);
    assert_int_not_equal(cds_sign_body(agent, 256, rpk, NULL, 0, sig), CDS_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_and_binding),
        cmocka_unit_test(test_signed_layout),
        cmocka_unit_test(test_empty_body),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
