/*  enroll_test: enroll is idempotent and checks its inputs, revoke works by
 *  public identity or fingerprint and is final, agents lists as table and
 *  JSON. On SQLite, and again on PostgreSQL when CDS_TEST_PG_URL is set
 *  (testpg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdir.h"
#include "testpg.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "enroll.h"
#include "store.h"

typedef struct {
    char dir[64];
    store_t *store;
    char pubid[CDS_PUBID_LEN];
    char fpr[CDS_FPR_LEN];
} fx_t;


static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char path[128], err[256];
    int e = 0;
    strcpy(fx->dir, "/tmp/enroll_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(path, sizeof path, "%s/ou.csv", fx->dir);
    FILE *f = fopen(path, "w");
    fputs("code,name,parent\nD1,Huyện,\nC1,Xã Một,D1\nC2,Xã Hai,D1\n", f);
    fclose(f);
    cds_orgunits_t *ous = cds_orgunits_load(path, err, sizeof err);
    assert_non_null(ous);
    char url[512];
    snprintf(path, sizeof path, "%s/agg.db", fx->dir);
    fx->store = store_open(testpg_is_pg(state) ? testpg_fresh(url, sizeof url)
                                               : path, 0, &e);
    assert_non_null(fx->store);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    uint8_t spk[CDS_PK_BYTES] = { 1, 2, 3 }, cpk[CDS_PK_BYTES] = { 4, 5 };
    cds_pubid_format(spk, cpk, fx->pubid, sizeof fx->pubid);
    cds_fingerprint(spk, fx->fpr);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    store_destroy(&fx->store);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
test_enroll_idempotent_and_checked(void **state)
{
    fx_t *fx = *state;
    char err[256], *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *units[] = { "C1", "C2" };
    assert_int_equal(enroll_add(fx->store, fx->pubid, units, 2, "Xã Một", 10,
                                f, err, sizeof err), CDS_OK);
    assert_int_equal(enroll_add(fx->store, fx->pubid, units, 1, NULL, 20, f,
                                err, sizeof err), CDS_OK);
    fclose(f);
    assert_non_null(strstr(buf, fx->fpr));
    assert_non_null(strstr(buf, "org_units=C1,C2\n"));
    assert_non_null(strstr(buf, "org_units=C1\n"));
    assert_null(strstr(buf, "sign_secret"));
    free(buf);
    store_agent_t a;
    assert_int_equal(store_agent_find_fpr(fx->store, fx->fpr, &a), CDS_OK);
    assert_string_equal(a.label, "Xã Một"); /* kept without --label */
    assert_int_equal(a.enrolled_at_ms, 10);

    f = open_memstream(&buf, &len);
    const char *bad[] = { "C9" };
    assert_int_equal(enroll_add(fx->store, fx->pubid, bad, 1, NULL, 1, f, err,
                                sizeof err), CDS_EUNKNOWNORGUNIT);
    assert_non_null(strstr(err, "\"C9\""));
    assert_int_equal(enroll_add(fx->store, "cds1:nope", units, 1, NULL, 1, f,
                                err, sizeof err), CDS_EMALFORMED);
    assert_int_equal(enroll_add(fx->store, fx->pubid, units, 0, NULL, 1, f,
                                err, sizeof err), CDS_EUSAGE);
    fclose(f);
    free(buf);
    /* A failed enroll changed nothing. */
    char list[64];
    assert_int_equal(store_agent_units(fx->store, a.id, list, sizeof list),
                     CDS_OK);
    assert_string_equal(list, "C1");
}

static void
test_revoke_and_list(void **state)
{
    fx_t *fx = *state;
    char err[256], *buf = NULL;
    size_t len = 0;
    FILE *f;
    f = open_memstream(&buf, &len);
    const char *units[] = { "D1" };
    assert_int_equal(enroll_add(fx->store, fx->pubid, units, 1, "a", 1, f,
                                err, sizeof err), CDS_OK);
    assert_int_equal(enroll_revoke(fx->store, "0123456789abcdef", 5, f, err,
                                   sizeof err), CDS_ENOTFOUND);
    assert_int_equal(enroll_revoke(fx->store, "xyz", 5, f, err, sizeof err),
                     CDS_EMALFORMED);
    char upper[CDS_FPR_LEN];
    for (size_t i = 0; i < sizeof upper; i++)
        upper[i] = (char) (fx->fpr[i] >= 'a' && fx->fpr[i] <= 'f'
                               ? fx->fpr[i] - 32 : fx->fpr[i]);
    assert_int_equal(enroll_revoke(fx->store, upper, 7, f, err, sizeof err),
                     CDS_OK);
    assert_int_equal(enroll_revoke(fx->store, fx->pubid, 9, f, err,
                                   sizeof err), CDS_OK);
    /* Final: enrolling the revoked key again is refused. */
    assert_int_equal(enroll_add(fx->store, fx->pubid, units, 1, "a", 1, f,
                                err, sizeof err), CDS_EREVOKED);
    fclose(f);
    assert_non_null(strstr(buf, "revoked "));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_int_equal(enroll_list(fx->store, false, 100000, f), CDS_OK);
    fclose(f);
    assert_non_null(strstr(buf, "FINGERPRINT"));
    assert_non_null(strstr(buf, fx->fpr));
    assert_non_null(strstr(buf, "never"));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_int_equal(enroll_list(fx->store, true, 100000, f), CDS_OK);
    fclose(f);
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 1);
    json_t *o = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(o, "fingerprint")),
                        fx->fpr);
    assert_int_equal(json_integer_value(json_object_get(o, "revoked_at_ms")),
                     7);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(o, "org_units"), 0)), "D1");
    json_decref(j);
    free(buf);
}

/* enroll --replaces: new key gets the old units, old is revoked and
 * linked, in one step; bad inputs change nothing. */
static void
test_replace(void **state)
{
    fx_t *fx = *state;
    char err[256], *buf = NULL, pub2[CDS_PUBID_LEN], fpr2[CDS_FPR_LEN];
    size_t len = 0;
    uint8_t spk[CDS_PK_BYTES] = { 9, 9 }, cpk[CDS_PK_BYTES] = { 8, 8 };
    cds_pubid_format(spk, cpk, pub2, sizeof pub2);
    cds_fingerprint(spk, fpr2);
    FILE *f = open_memstream(&buf, &len);
    const char *units[] = { "C1", "C2" };
    assert_int_equal(enroll_add(fx->store, fx->pubid, units, 2, "a", 1, f,
                                err, sizeof err), CDS_OK);
    assert_int_equal(enroll_replace(fx->store, pub2, "0123456789abcdef", NULL,
                                    0, NULL, 2, f, err, sizeof err),
                     CDS_ENOTFOUND);
    assert_int_equal(enroll_replace(fx->store, fx->pubid, fx->fpr, NULL, 0,
                                    NULL, 2, f, err, sizeof err), CDS_EUSAGE);
    assert_int_equal(enroll_replace(fx->store, "cds1:x", fx->fpr, NULL, 0,
                                    NULL, 2, f, err, sizeof err),
                     CDS_EMALFORMED);
    assert_int_equal(enroll_replace(fx->store, pub2, fx->fpr, NULL, 0, NULL,
                                    3, f, err, sizeof err), CDS_OK);
    fclose(f);
    assert_non_null(strstr(buf, "replaces="));
    assert_non_null(strstr(buf, fpr2));
    free(buf);
    store_agent_t a, b;
    char list[64];
    assert_int_equal(store_agent_find_fpr(fx->store, fx->fpr, &a), CDS_OK);
    assert_int_equal(a.revoked_at_ms, 3);
    assert_int_equal(store_agent_find_fpr(fx->store, fpr2, &b), CDS_OK);
    assert_int_equal(b.revoked_at_ms, 0);
    assert_string_equal(b.label, "a");
    assert_int_equal(store_agent_units(fx->store, b.id, list, sizeof list),
                     CDS_OK);
    assert_string_equal(list, "C1,C2");
    /* The ZAP lookup by CURVE key finds each key's own row. */
    assert_int_equal(store_agent_find_curve(fx->store, cpk, &b), CDS_OK);
    assert_string_equal(b.fpr, fpr2);
}

int
main(void)
{
    cds_log_init("enroll_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enroll_idempotent_and_checked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_and_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
    };
    return testpg_run(tests, sizeof tests / sizeof tests[0]);
}
