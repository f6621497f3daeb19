/*  history_test: every change of one key, in merge order, with old -> new,
 *  who, which agent, times, batch, rejections, and re-verification of the
 *  kept envelope (a tampered envelope or stored row stops verifying). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "testdb.h"                    /* TESTDB_UNGUARD */
#include "testpg.h"                    /* TESTPG_UNGUARD */

#include <jansson.h>

#include "admin_fixture.h"
#include "cds_hlc.h"
#include "cds_sql.h"
#include "history.h"

typedef struct {
    afx_t *fx;
    cds_identity_t *commune;           /* enrolled for 27901 */
} hfx_t;

#define HLC(ms) ((uint64_t) (ms) << 16)

static void
commune_send(hfx_t *h, const char *value, uint64_t ms, const char *by)
{
    cds_update_t u = { .org_unit = "27901", .indicator = "HGD_TONG",
                       .period = "2025Q1", .disagg = "default",
                       .value = value, .stored_by = by, .comment = "",
                       .hlc = HLC(ms) };
    central_result_t res = { 0 };
    char err[256] = "";
    assert_int_equal(central_apply(h->fx->store, h->fx->ingest, h->commune,
                                   cds_identity_sign_pk(h->fx->id), &u, 1,
                                   ms, &res, err, sizeof err), CDS_OK);
}

static int
setup(void **state)
{
    hfx_t *h = calloc(1, sizeof *h);
    h->fx = afx_new(NULL, NULL, NULL);
    char path[160];
    int e = 0;
    snprintf(path, sizeof path, "%s/commune.key", h->fx->dir);
    afx_key_slot(path, 1, "27901");    /* the same on both backends */
    h->commune = cds_identity_load(path, &e, NULL, 0);
    const char *units[] = { "27901" };
    int64_t id;
    assert_int_equal(store_agent_enroll(h->fx->store,
                                        cds_identity_sign_pk(h->commune),
                                        cds_identity_curve_pk(h->commune),
                                        "Xã Mỹ Quý Đông", units, 1, 1, &id),
                     CDS_OK);
    /* 1. the commune enters 1000 (April 10) */
    commune_send(h, "1000", afx_ms(2025, 4, 10, 8), "can bo A");
    /* 2. the district corrects it to 1100 (April 12) */
    assert_int_equal(afx_import(h->fx, "fix.csv",
                                "dataelement,period,orgunit,value,storedby\n"
                                "HGD_TONG,2025Q1,27901,1100,huyen\n",
                                afx_ms(2025, 4, 12, 8), NULL), CDS_OK);
    /* 3. the commune sends a negative count: rejected (min 0) */
    commune_send(h, "-5", afx_ms(2025, 4, 13, 8), "can bo B");
    *state = h;
    return 0;
}

static int
teardown(void **state)
{
    hfx_t *h = *state;
    cds_identity_destroy(&h->commune);
    afx_destroy(&h->fx);
    free(h);
    return 0;
}

static void
test_story_of_a_value(void **state)
{
    hfx_t *h = *state;
    history_entry_t *e = NULL;
    size_t n = 0;
    assert_int_equal(history_compute(h->fx->store,
                                     cds_identity_sign_pk(h->fx->id),
                                     "27901", "HGD_TONG", "2025Q1", NULL, &e,
                                     &n), CDS_OK);
    assert_int_equal(n, 3);
    char fpr[CDS_FPR_LEN], agg_fpr[CDS_FPR_LEN];
    cds_fingerprint(cds_identity_sign_pk(h->commune), fpr);
    cds_fingerprint(cds_identity_sign_pk(h->fx->id), agg_fpr);
    /* 1: "" -> 1000 by the commune */
    assert_string_equal(e[0].old_value, "");
    assert_string_equal(e[0].value, "1000");
    assert_string_equal(e[0].stored_by, "can bo A");
    assert_string_equal(e[0].fpr, fpr);
    assert_string_equal(e[0].label, "Xã Mỹ Quý Đông");
    assert_int_equal(e[0].status, 0);
    assert_int_equal(e[0].seq, 1);
    assert_int_equal(e[0].hlc, HLC(afx_ms(2025, 4, 10, 8)));
    assert_int_equal(e[0].received_ms, (int64_t) afx_ms(2025, 4, 10, 8));
    assert_true(e[0].verified);
    assert_false(e[0].current);
    /* 2: 1000 -> 1100, the central correction, current */
    assert_string_equal(e[1].old_value, "1000");
    assert_string_equal(e[1].value, "1100");
    assert_string_equal(e[1].stored_by, "huyen");
    assert_string_equal(e[1].fpr, agg_fpr);
    assert_string_equal(e[1].label, CENTRAL_LABEL);
    assert_true(e[1].verified);
    assert_true(e[1].current);
    assert_true(e[1].batch_id != e[0].batch_id);
    /* 3: rejected, value unchanged */
    assert_int_equal(e[2].status, CDS_ERANGE);
    assert_string_equal(e[2].old_value, "1100");
    assert_string_equal(e[2].value, "-5");
    assert_true(e[2].verified);
    assert_false(e[2].current);
    assert_int_equal(e[2].seq, 2);
    history_free(e, n);
}

/* The tamper tests' SQL on the store's connection: sqlite on SQLite, pg
 * on PostgreSQL, where the append-only triggers are switched off first
 * (TESTPG_UNGUARD: what an attacker with the owner's role can do). */
static void
tamper(hfx_t *h, const char *sqlite, const char *pg)
{
    cds_sql_t *db = store_sql(h->fx->store);
    assert_int_equal(cds_sql_exec(db, cds_sql_backend(db) == CDS_SQL_SQLITE
                                          ? sqlite : pg), CDS_OK);
}

static void
test_tampering_is_seen(void **state)
{
    hfx_t *h = *state;
    history_entry_t *e = NULL;
    size_t n = 0;
    /* change the last byte of the first batch's envelope (signature);
     * it is 0x00 in 1 signature of 16 (S < 2^253), so never "set to 0" */
    tamper(h, TESTDB_UNGUARD
           "UPDATE batch SET envelope ="
           " substr(envelope, 1, length(envelope)-1)"
           " || CASE WHEN substr(envelope, -1) = x'00'"
           " THEN x'01' ELSE x'00' END WHERE id = 1",
           TESTPG_UNGUARD
           "UPDATE batch SET envelope = set_byte(envelope,"
           " length(envelope) - 1, CASE WHEN get_byte(envelope,"
           " length(envelope) - 1) = 0 THEN 1 ELSE 0 END) WHERE id = 1");
    /* and change the stored history row of the correction */
    tamper(h, "UPDATE update_log SET value = '9999' WHERE batch_id = 2",
           TESTPG_UNGUARD
           "UPDATE update_log SET value = '9999' WHERE batch_id = 2");
    assert_int_equal(history_compute(h->fx->store,
                                     cds_identity_sign_pk(h->fx->id),
                                     "27901", "HGD_TONG", "2025Q1",
                                     "default", &e, &n), CDS_OK);
    assert_int_equal(n, 3);
    assert_false(e[0].verified);
    assert_false(e[1].verified);
    assert_string_equal(e[1].verify_note,
                        "stored row differs from the signed update");
    assert_true(e[2].verified);
    history_free(e, n);
    /* against another aggregator key nothing verifies */
    assert_int_equal(history_compute(h->fx->store,
                                     cds_identity_sign_pk(h->commune),
                                     "27901", "HGD_TONG", "2025Q1", NULL, &e,
                                     &n), CDS_OK);
    assert_string_equal(e[2].verify_note, "bad signature");
    history_free(e, n);
}

static void
test_run(void **state)
{
    hfx_t *h = *state;
    char *buf = NULL, err[256] = "";
    const uint8_t *pk = cds_identity_sign_pk(h->fx->id);
    AFX_CAPTURE(buf, history_run(h->fx->store, pk, "27901", "HGD_TONG",
                                 "2025Q1", REPORT_JSON, out, err,
                                 sizeof err));
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    json_t *r = json_array_get(json_object_get(j, "rows"), 1);
    assert_string_equal(json_string_value(json_object_get(r, "old")), "1000");
    assert_string_equal(json_string_value(json_object_get(r, "new")), "1100");
    assert_string_equal(json_string_value(json_object_get(r, "signature")),
                        "verified");
    assert_true(json_is_true(json_object_get(r, "current")));
    assert_string_equal(json_string_value(json_object_get(r, "received")),
                        "2025-04-12T08:00:00.000Z");
    json_decref(j);
    free(buf);
    AFX_CAPTURE(buf, history_run(h->fx->store, pk, "27901", "HGD_TONG",
                                 "2025Q1", REPORT_TABLE, out, err,
                                 sizeof err));
    assert_non_null(strstr(buf, "3 update(s) for 27901/HGD_TONG/2025Q1"));
    assert_non_null(strstr(buf, "out_of_range"));
    free(buf);
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(history_run(h->fx->store, pk, "27904", "HGD_TONG",
                                 "2025Q1", REPORT_TABLE, devnull, err,
                                 sizeof err), CDS_ENOTFOUND);
    assert_int_equal(history_run(h->fx->store, pk, NULL, "HGD_TONG",
                                 "2025Q1", REPORT_TABLE, devnull, err,
                                 sizeof err), CDS_EUSAGE);
    fclose(devnull);
}

/* stored_by from before control bytes were refused (ESC, CR/LF): every
 * form of the output shows them escaped, none prints them raw. */
static void
test_control_bytes_escaped(void **state)
{
    hfx_t *h = *state;
    char *buf = NULL, err[256] = "";
    const uint8_t *pk = cds_identity_sign_pk(h->fx->id);
    tamper(h, TESTDB_UNGUARD
           "UPDATE update_log SET stored_by = 'can bo'"
           " || char(27) || '[2J' || char(13, 10) ||"
           " 'x', comment = 'a' || char(7) || 'b'",
           TESTPG_UNGUARD
           "UPDATE update_log SET stored_by = 'can bo'"
           " || chr(27) || '[2J' || chr(13) || chr(10) ||"
           " 'x', comment = 'a' || chr(7) || 'b'");
    const report_format_t forms[] = { REPORT_TABLE, REPORT_CSV, REPORT_JSON };
    for (size_t i = 0; i < 3; i++) {
        AFX_CAPTURE(buf, history_run(h->fx->store, pk, "27901", "HGD_TONG",
                                     "2025Q1", forms[i], out, err,
                                     sizeof err));
        assert_null(strchr(buf, 0x1b));
        assert_null(strchr(buf, 0x07));
        if (forms[i] == REPORT_TABLE)
            assert_non_null(strstr(buf, "can bo\\x1b[2J\\r\\nx"));
        if (forms[i] == REPORT_CSV)        /* CR LF stay, quoted */
            assert_non_null(strstr(buf, "\"can bo\\x1b[2J\r\nx\""));
        if (forms[i] == REPORT_JSON)
            assert_non_null(strcasestr(buf, "can bo\\u001b[2J\\r\\nx"));
        free(buf);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_control_bytes_escaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_story_of_a_value, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tampering_is_seen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_run, setup, teardown),
    };
    return teststore_main("history", tests, sizeof tests / sizeof *tests);
}
