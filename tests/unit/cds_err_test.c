/*  cds_err_test: names are stable, unique, round-trip; retry classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "cds_err.h"

/* Names are part of what operators filter on: pin them. */
static void
test_names_are_stable(void **state)
{
    static const char *expected[CDS__COUNT] = {
        "ok",
        "internal",
        "io",
        "no_memory",
        "too_big",
        "malformed",
        "bad_version",
        "bad_signature",
        "unknown_key",
        "revoked",
        "key_mismatch",
        "org_unit_not_allowed",
        "unknown_indicator",
        "unknown_org_unit",
        "bad_period",
        "bad_value",
        "out_of_range",
        "bad_field",
        "equivocation",
        "chain_broken",
        "busy",
        "full",
        "corrupt",
        "permissions",
        "not_found",
        "future_timestamp",
        "usage",
        "bad_seq",
        "org_unit_closed",
        "period_locked",
    };
    assert_int_equal(CDS__COUNT, 30);
    for (int i = 0; i < CDS__COUNT; i++)
        assert_string_equal(cds_strerror(i), expected[i]);
    assert_string_equal(cds_strerror(CDS_EBADSIG), "bad_signature");
    assert_string_equal(cds_strerror(-1), "unknown");
    assert_string_equal(cds_strerror(CDS__COUNT), "unknown");
}

static void
test_round_trip_and_unique(void **state)
{
    for (int i = 0; i < CDS__COUNT; i++) {
        assert_int_equal(cds_err_from_name(cds_strerror(i)), i);
        for (int j = i + 1; j < CDS__COUNT; j++)
            assert_string_not_equal(cds_strerror(i), cds_strerror(j));
    }
    assert_int_equal(cds_err_from_name("unknown"), -1);
    assert_int_equal(cds_err_from_name("Bad_Signature"), -1);
    assert_int_equal(cds_err_from_name(""), -1);
    assert_int_equal(cds_err_from_name(NULL), -1);
}

static void
test_describe(void **state)
{
    for (int i = 0; i < CDS__COUNT; i++) {
        const char *s = cds_err_describe(i);
        assert_non_null(s);
        assert_true(strlen(s) > 3);
        assert_int_equal(s[strlen(s) - 1], '.');
    }
    assert_non_null(strstr(cds_err_describe(CDS_EBADSIG), "signature"));
    assert_string_not_equal(cds_err_describe(CDS_EBUSY),
                            cds_err_describe(CDS_EFULL));
    assert_non_null(cds_err_describe(999));
    assert_non_null(cds_err_describe(-5));
}

static void
test_retryable(void **state)
{
    int n = 0;
    for (int i = 0; i < CDS__COUNT; i++)
        n += cds_err_retryable(i);
    assert_int_equal(n, 4);
    assert_true(cds_err_retryable(CDS_EBUSY));
    assert_true(cds_err_retryable(CDS_EFULL));
    assert_true(cds_err_retryable(CDS_EIO));
    assert_true(cds_err_retryable(CDS_ENOMEM));
    assert_false(cds_err_retryable(CDS_OK));
    assert_false(cds_err_retryable(CDS_EBADSIG));
    assert_false(cds_err_retryable(CDS_ECORRUPT));
    assert_false(cds_err_retryable(-1));
}

/* docs/cli.md: one mapping for both programs. */
static void
test_exit_code(void **state)
{
    assert_int_equal(cds_exit_code(CDS_OK), 0);
    assert_int_equal(cds_exit_code(CDS_EUSAGE), 2);
    assert_int_equal(cds_exit_code(CDS_EPERM), 3);
    assert_int_equal(cds_exit_code(CDS_ERROR), 4);
    assert_int_equal(cds_exit_code(CDS_EIO), 4);
    assert_int_equal(cds_exit_code(CDS_ECORRUPT), 4);
    assert_int_equal(cds_exit_code(CDS_EBUSY), 4);
    assert_int_equal(cds_exit_code(CDS_EBADVALUE), 1);
    assert_int_equal(cds_exit_code(CDS_EUNKNOWNINDICATOR), 1);
    assert_int_equal(cds_exit_code(CDS_ENOTFOUND), 1);
    assert_int_equal(cds_exit_code(-1), 4);
    assert_int_equal(cds_exit_code(CDS__COUNT), 4);
    for (int i = 0; i < CDS__COUNT; i++) {
        int x = cds_exit_code(i);
        assert_true(x >= 0 && x <= 4);
        assert_true((x == 0) == (i == CDS_OK));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_stable),
        cmocka_unit_test(test_round_trip_and_unique),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_exit_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
