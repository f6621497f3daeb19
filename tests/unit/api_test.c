/*  api_test: bearer tokens: shown once in the documented shape, stored
 *  only as a hash, checked, listed without secrets, revoked. (The routes
 *  are exercised over real HTTP in tests/integration/admin_api.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin_fixture.h"
#include "api.h"
#include "cds_sql.h"

static void
test_tokens(void **state)
{
    (void) state;
    afx_t *fx = afx_new(NULL, NULL, "");
    char tok[API_TOKEN_LEN + 1], tok2[API_TOKEN_LEN + 1], err[256];
    assert_int_equal(api_token_add(fx->store, "dashboard", 1000, tok,
                                   sizeof tok, err, sizeof err), CDS_OK);
    assert_int_equal(strlen(tok), API_TOKEN_LEN);
    assert_memory_equal(tok, "cdst_", 5);
    assert_int_equal(api_token_add(fx->store, "dashboard", 1001, tok2,
                                   sizeof tok2, err, sizeof err), CDS_EUSAGE);
    assert_int_equal(api_token_add(fx->store, "has space", 1001, tok2,
                                   sizeof tok2, err, sizeof err), CDS_EUSAGE);
    assert_int_equal(api_token_add(fx->store, "excel", 1002, tok2,
                                   sizeof tok2, err, sizeof err), CDS_OK);
    assert_string_not_equal(tok, tok2);
    assert_int_equal(api_token_check(fx->store, tok), 1);
    assert_int_equal(api_token_check(fx->store, tok2), 1);
    char bad[API_TOKEN_LEN + 1];
    strcpy(bad, tok);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    assert_int_equal(api_token_check(fx->store, bad), 0);
    assert_int_equal(api_token_check(fx->store, ""), 0);
    assert_int_equal(api_token_check(fx->store, NULL), 0);
    /* the token text is nowhere in the database */
    cds_sql_stmt_t *st = cds_sql_prepare2(
        store_sql(fx->store),
        "SELECT count(*) FROM api_token"
        " WHERE instr(CAST(hash AS TEXT), :t) OR length(hash) != 32",
        "SELECT count(*) FROM api_token"
        " WHERE position(convert_to(CAST(:t AS TEXT), 'UTF8') IN hash) > 0"
        " OR length(hash) != 32", 0);
    assert_non_null(st);
    cds_sql_bind_text(st, ":t", tok + 5);
    assert_int_equal(cds_sql_step(st), CDS_SQL_ROW);
    assert_int_equal(cds_sql_col_int(st, 0), 0);
    cds_sql_finalize(&st);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(api_token_list(fx->store, out), CDS_OK);
    fclose(out);
    assert_non_null(strstr(buf, "dashboard"));
    assert_null(strstr(buf, tok + 5));
    free(buf);
    assert_int_equal(api_token_revoke(fx->store, "dashboard", 2000), CDS_OK);
    assert_int_equal(api_token_check(fx->store, tok), 0);
    assert_int_equal(api_token_check(fx->store, tok2), 1);
    assert_int_equal(api_token_revoke(fx->store, "dashboard", 2001),
                     CDS_ENOTFOUND);
    assert_int_equal(api_token_revoke(fx->store, "nope", 2001),
                     CDS_ENOTFOUND);
    afx_destroy(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_tokens) };
    return teststore_main("api", tests, sizeof tests / sizeof *tests);
}
