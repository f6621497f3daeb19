/*  health_test: per-agent health figures and states from the database:
 *  counters add up per batch, heartbeats (held in memory until
 *  health_flush, which writes them in one transaction) set the reported
 *  figures and the clock offset, each state (OK, LAGGING by report and by inference,
 *  REJECTING, SILENT, REVOKED) follows its threshold, the list is worst
 *  first, figures survive reopening, and the JSON, table and metrics
 *  outputs carry them; an agent behind the newest published metadata
 *  version for more than a day is an alert. Every public function of health.h and metrics.h's
 *  metrics_render is called. On SQLite, and again on PostgreSQL when
 *  CDS_TEST_PG_URL is set (testpg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testdir.h"
#include "testpg.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_orgunit.h"
#include "health.h"
#include "metrics.h"
#include "store.h"

#define T0 1800000000000ull            /* a fixed "now" (2027) */

typedef struct {
    char dir[64];
    char path[512];                    /* file, or PostgreSQL URL */
    store_t *store;
    health_t *h;
    int64_t ids[4];
} fx_t;


static void
enroll(fx_t *fx, int i, const char *label, const char *unit)
{
    uint8_t pk[32], curve[32];
    memset(pk, i + 1, sizeof pk);
    memset(curve, i + 101, sizeof curve);
    const char *units[] = { unit };
    assert_int_equal(store_agent_enroll(fx->store, pk, curve, label, units,
                                        1, (int64_t) T0 - 1000,
                                        &fx->ids[i]), CDS_OK);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char ou[160], err[256];
    strcpy(fx->dir, "/tmp/health_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    if (testpg_is_pg(state))
        testpg_fresh(fx->path, sizeof fx->path);
    else
        snprintf(fx->path, sizeof fx->path, "%s/agg.db", fx->dir);
    snprintf(ou, sizeof ou, "%s/ou.csv", fx->dir);
    FILE *f = fopen(ou, "w");
    assert_non_null(f);
    fputs("code,name,parent\nD,Huyện,\nC1,Xã Một,D\nC2,Xã Hai,D\n"
          "C3,Xã Ba,D\nC4,\"Xã \"\"Bốn\"\"\",D\nc0,Xã Không,D\n", f);
    fclose(f);
    int e = 0;
    fx->store = store_open(fx->path, 0, &e);
    assert_non_null(fx->store);
    cds_orgunits_t *ous = cds_orgunits_load(ou, err, sizeof err);
    assert_non_null(ous);
    assert_int_equal(store_orgunits_load(fx->store, ous), CDS_OK);
    cds_orgunits_destroy(&ous);
    enroll(fx, 0, "a", "C1");
    enroll(fx, 1, "b", "C2");
    enroll(fx, 2, "c", "C3");
    enroll(fx, 3, "d", "C4");
    fx->h = health_new(fx->store);
    assert_non_null(fx->h);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    health_destroy(&fx->h);
    assert_null(fx->h);
    health_destroy(&fx->h);            /* safe on NULL */
    store_destroy(&fx->store);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
seen(fx_t *fx, int i, uint64_t at)
{
    assert_int_equal(store_agent_seen(fx->store, fx->ids[i], (int64_t) at),
                     CDS_OK);
}

static const health_agent_t *
find(const health_agent_t *list, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].label, label) == 0)
            return &list[i];
    fail_msg("agent %s not listed", label);
    return NULL;
}

static void
heartbeat(fx_t *fx, int i, uint64_t now, uint64_t depth, uint64_t oldest,
          uint64_t clock)
{
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.queue_depth = depth;
    hb.oldest_pending_ms = oldest;
    hb.bytes_pending = depth * 100;
    hb.acked_seq = 0;         /* nothing applied: 0 (above: AHEAD) */
    hb.send_errors = 2;
    hb.agent_version = "9.9";
    hb.clock_ms = clock;
    assert_int_equal(health_note_heartbeat(fx->h, fx->ids[i], now, &hb),
                     CDS_OK);
    assert_int_equal(health_flush(fx->h), CDS_OK);   /* held until now */
    seen(fx, i, now);
}

/* SKEWED from a batch's or a heartbeat's clock offset, worse than OK and
 * better than LAGGING; the offset in words; a heartbeat without clock_ms
 * leaves the offset alone. */
static void
test_skewed(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    health_thresholds_default(&th);
    assert_int_equal(th.skewed_after_ms, 300000);
    uint64_t now = T0 + 60000, ahead = (2 * 60 + 3) * 60000ull;
    /* a: batches from a clock 2 h 3 min fast; its (corrected) lag is 0 */
    assert_int_equal(health_note_batch(fx->h, fx->ids[0], now - 1000, 1, 0,
                                       0, NULL, 0, true, (int64_t) ahead),
                     CDS_OK);
    seen(fx, 0, now - 1000);
    /* b: heartbeat from a clock 2 h behind, then one without clock_ms */
    heartbeat(fx, 1, now - 2000, 0, 0, now - 2000 - 7200000);
    heartbeat(fx, 1, now - 1000, 0, 0, 0);
    /* c: 4 min off: within the bound */
    assert_int_equal(health_note_batch(fx->h, fx->ids[2], now - 1000, 1, 0,
                                       0, NULL, 0, true, -240000), CDS_OK);
    seen(fx, 2, now - 1000);
    seen(fx, 3, now - 1000);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, now, &list, &n), CDS_OK);
    assert_int_equal(find(list, n, "a")->state, HEALTH_SKEWED);
    assert_int_equal(find(list, n, "a")->clock_offset_ms, (int64_t) ahead);
    assert_int_equal(find(list, n, "b")->state, HEALTH_SKEWED);
    assert_int_equal(find(list, n, "b")->clock_offset_ms, -7200000);
    assert_int_equal(find(list, n, "c")->state, HEALTH_OK);
    assert_int_equal(health_severity(HEALTH_SKEWED), 1);
    assert_int_equal(health_worst(list, n), 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    health_print(out, list, n, now, &th);
    fclose(out);
    assert_non_null(strstr(buf, "CLOCK"));
    assert_non_null(strstr(buf, "clock 2 h 3 min ahead"));
    assert_non_null(strstr(buf, "clock 2 h 0 min behind"));
    assert_non_null(strstr(buf, "clock 4 min behind"));
    free(buf);
    free(list);
}

static void
test_names(void **state)
{
    health_thresholds_t th;
    health_thresholds_default(&th);
    assert_int_equal(th.silent_after_ms, 300000);
    assert_int_equal(th.lagging_after_ms, 3600000);
    assert_int_equal(th.rejecting_min, 5);
    assert_string_equal(health_state_name(HEALTH_OK), "OK");
    assert_string_equal(health_state_name(HEALTH_SKEWED), "SKEWED");
    assert_string_equal(health_state_name(HEALTH_REJECTING), "REJECTING");
    assert_string_equal(health_state_name(HEALTH__COUNT), "UNKNOWN");
    assert_int_equal(health_severity(HEALTH_OK), 0);
    assert_int_equal(health_severity(HEALTH_LAGGING), 1);
    assert_int_equal(health_severity(HEALTH_REJECTING), 1);
    assert_int_equal(health_severity(HEALTH_SILENT), 2);
    assert_int_equal(health_severity(HEALTH_REVOKED), 2);
    assert_int_equal(health_severity(HEALTH_AHEAD), 2);
    assert_string_equal(health_state_name(HEALTH_AHEAD), "AHEAD");
}

/* Each state from its own agent, then the order and the outputs. */
static void
test_states(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th = { .silent_after_ms = 10000,
                               .lagging_after_ms = 5000,
                               .rejecting_ratio = 0.5, .rejecting_min = 3,
                               .skewed_after_ms = 300000 };
    uint64_t now = T0 + 60000;
    /* a: healthy, two batches. */
    assert_int_equal(health_note_batch(fx->h, fx->ids[0], now - 2000, 10, 1,
                                       CDS_EBADVALUE, "value \"x\"", 100,
                                       false, 0),
                     CDS_OK);
    assert_int_equal(health_note_batch(fx->h, fx->ids[0], now - 1000, 5, 0,
                                       0, NULL, 50, false, 0), CDS_OK);
    heartbeat(fx, 0, now - 500, 0, 0, now - 500 + 1234);
    /* b: backlog reported 4 s old 2 s ago: lag 6 s > 5 s. */
    heartbeat(fx, 1, now - 2000, 12, 4000, now - 2000);
    /* c: rejects 3 of 4 updates in the hour. */
    assert_int_equal(health_note_batch(fx->h, fx->ids[2], now - 100, 1, 3,
                                       CDS_EUNKNOWNINDICATOR, "CDS_X", 10,
                                       false, 0),
                     CDS_OK);
    seen(fx, 2, now - 100);
    /* d: silent: last seen 11 s ago, with one refusal long before. */
    assert_int_equal(health_note_refused(fx->h, fx->ids[3], now - 11000,
                                         CDS_EBADSIG, "bad"), CDS_OK);
    seen(fx, 3, now - 11000);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, now, &list, &n), CDS_OK);
    assert_int_equal(n, 4);
    /* Worst first: SILENT, REJECTING, LAGGING, OK. */
    assert_string_equal(list[0].label, "d");
    assert_int_equal(list[0].state, HEALTH_SILENT);
    assert_int_equal(list[1].state, HEALTH_REJECTING);
    assert_int_equal(list[2].state, HEALTH_LAGGING);
    assert_int_equal(list[3].state, HEALTH_OK);
    assert_int_equal(health_worst(list, n), 2);
    assert_int_equal(health_worst(list + 2, 2), 1);
    assert_int_equal(health_worst(list + 3, 1), 0);
    const health_agent_t *a = find(list, n, "a");
    assert_int_equal(a->accepted_total, 15);
    assert_int_equal(a->rejected_total, 1);
    assert_int_equal(a->accepted_hour, 15);
    assert_int_equal(a->accepted_day, 15);
    assert_int_equal(a->batches_total, 2);
    assert_int_equal(a->heartbeats_total, 1);
    assert_int_equal(a->last_reject_code, CDS_EBADVALUE);
    assert_string_equal(a->last_reject_message, "value \"x\"");
    assert_int_equal(a->clock_offset_ms, 1234);
    assert_int_equal(a->send_errors, 2);
    assert_string_equal(a->version, "9.9");
    assert_string_equal(a->commune, "Xã Một");
    assert_int_equal(a->lag_ms, 0);    /* heartbeat after the batches */
    const health_agent_t *b = find(list, n, "b");
    assert_int_equal(b->lag_ms, 6000);
    assert_int_equal(b->queue_depth, 12);
    assert_int_equal(b->bytes_pending, 1200);
    const health_agent_t *c = find(list, n, "c");
    assert_int_equal(c->rejected_hour, 3);
    assert_int_equal(c->lag_ms, 10);   /* inferred from its batch */
    const health_agent_t *d = find(list, n, "d");
    assert_int_equal(d->refused_total, 1);
    assert_int_equal(d->rejected_hour, 1);

    json_t *j = health_to_json(list, n, now);
    assert_int_equal(json_array_size(j), 4);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(j, 0), "state")), "SILENT");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(j, 1), "last_reject_reason")),
                        "unknown_indicator");
    json_decref(j);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    health_print(out, list, n, now, &th);
    fclose(out);
    assert_non_null(strstr(buf, "COMMUNE"));
    assert_non_null(strstr(buf, "11 s ago"));
    assert_non_null(strstr(buf, "unknown_indicator: CDS_X"));
    assert_true(strstr(buf, "SILENT") < strstr(buf, "REJECTING"));
    free(buf);
    free(list);
}

static void
test_rejecting_threshold(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th = { .silent_after_ms = 10000,
                               .lagging_after_ms = 5000,
                               .rejecting_ratio = 0.5, .rejecting_min = 3 };
    uint64_t now = T0 + 5000;
    for (int i = 0; i < 4; i++)
        seen(fx, i, now);
    /* 2 of 2 rejected: under rejecting_min. 3 of 10: under the ratio. */
    assert_int_equal(health_note_batch(fx->h, fx->ids[0], now, 0, 2, 15, "",
                                       0, false, 0), CDS_OK);
    assert_int_equal(health_note_batch(fx->h, fx->ids[1], now, 7, 3, 15, "",
                                       0, false, 0), CDS_OK);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, now, &list, &n), CDS_OK);
    assert_int_equal(find(list, n, "a")->state, HEALTH_OK);
    assert_int_equal(find(list, n, "b")->state, HEALTH_OK);
    free(list);
    /* One more rejection each: 3 of 3, and still 4 of 11 < 50 %. */
    assert_int_equal(health_note_batch(fx->h, fx->ids[0], now, 0, 1, 15, "",
                                       0, false, 0), CDS_OK);
    assert_int_equal(health_note_batch(fx->h, fx->ids[1], now, 0, 1, 15, "",
                                       0, false, 0), CDS_OK);
    assert_int_equal(health_list(fx->h, &th, now, &list, &n), CDS_OK);
    assert_int_equal(find(list, n, "a")->state, HEALTH_REJECTING);
    assert_int_equal(find(list, n, "b")->state, HEALTH_OK);
    free(list);
    /* Two hours later the window has moved on: OK again (if not silent). */
    seen(fx, 0, now + 7200000);
    assert_int_equal(health_list(fx->h, &th, now + 7200000, &list, &n),
                     CDS_OK);
    const health_agent_t *a = find(list, n, "a");
    assert_int_equal(a->state, HEALTH_OK);
    assert_int_equal(a->rejected_hour, 0);
    assert_int_equal(a->rejected_day, 3);
    assert_int_equal(a->rejected_total, 3);
    free(list);
}

/* Never seen: SILENT after enrolment + threshold; REVOKED wins. */
static void
test_silent_revoked_persist(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    health_thresholds_default(&th);
    th.silent_after_ms = 10000;
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, T0, &list, &n), CDS_OK);
    assert_int_equal(find(list, n, "a")->state, HEALTH_OK);
    free(list);
    assert_int_equal(health_list(fx->h, &th, T0 + 20000, &list, &n), CDS_OK);
    assert_int_equal(find(list, n, "a")->state, HEALTH_SILENT);
    assert_int_equal(find(list, n, "a")->last_seen_ms, 0);
    free(list);
    assert_int_equal(store_agent_revoke(fx->store, fx->ids[1], T0), CDS_OK);
    assert_int_equal(health_note_retried(fx->h, fx->ids[2], T0), CDS_OK);
    /* Reopen: nothing forgotten. */
    health_destroy(&fx->h);
    store_destroy(&fx->store);
    int e = 0;
    fx->store = store_open(fx->path, CDS_DB_READONLY, &e);
    assert_non_null(fx->store);
    fx->h = health_new(fx->store);
    assert_non_null(fx->h);
    assert_int_equal(health_list(fx->h, &th, T0 + 20000, &list, &n), CDS_OK);
    assert_string_equal(list[0].label, "b");
    assert_int_equal(list[0].state, HEALTH_REVOKED);
    assert_int_equal(find(list, n, "c")->accepted_total, 1);
    free(list);
}

/* Heartbeats are held in memory: nothing reaches the database (no
 * write transaction) until health_flush, which writes the last figures,
 * how many there were and the last-seen time in one transaction; a
 * batch's clock offset that came after a held heartbeat is kept. */
static void
test_heartbeats_held(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    health_thresholds_default(&th);
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.queue_depth = 4;
    hb.clock_ms = T0 + 7200000;        /* 2 h ahead */
    uint64_t commits = cds_sql_write_commits();
    for (int k = 0; k < 50; k++) {
        assert_int_equal(health_note_heartbeat(fx->h, fx->ids[0],
                                               T0 + (uint64_t) k, &hb),
                         CDS_OK);
        assert_int_equal(health_note_heartbeat(fx->h, fx->ids[1],
                                               T0 + (uint64_t) k, &hb),
                         CDS_OK);
    }
    assert_int_equal(health_held(fx->h), 2);
    assert_int_equal(health_flush_due_ms(fx->h, T0), 5000);
    assert_int_equal(health_flush_due_ms(fx->h, T0 + 6000), 0);
    assert_int_equal(cds_sql_write_commits(), commits);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, T0 + 100, &list, &n), CDS_OK);
    assert_int_equal(find(list, n, "a")->heartbeats_total, 0);
    assert_int_equal(find(list, n, "a")->last_seen_ms, 0);
    free(list);
    /* b's batch offset (1 s) is newer than its held heartbeats' (2 h) */
    assert_int_equal(health_note_batch(fx->h, fx->ids[1], T0 + 60, 1, 0, 0,
                                       NULL, 0, true, 1000), CDS_OK);
    assert_int_equal(health_flush(fx->h), CDS_OK);
    assert_int_equal(cds_sql_write_commits(), commits + 1);
    assert_int_equal(health_held(fx->h), 0);
    assert_int_equal(health_flush_due_ms(fx->h, T0), -1);
    assert_int_equal(health_list(fx->h, &th, T0 + 100, &list, &n), CDS_OK);
    const health_agent_t *a = find(list, n, "a"), *b = find(list, n, "b");
    assert_int_equal(a->heartbeats_total, 50);
    assert_int_equal(a->queue_depth, 4);
    assert_int_equal(a->last_heartbeat_ms, T0 + 49);
    assert_int_equal(a->last_seen_ms, T0 + 49);
    assert_int_equal(a->clock_offset_ms, 7200000 - 49);
    assert_int_equal(b->heartbeats_total, 50);
    assert_int_equal(b->clock_offset_ms, 1000);
    free(list);
    /* nothing held: a flush writes nothing */
    assert_int_equal(health_flush(fx->h), CDS_OK);
    assert_int_equal(cds_sql_write_commits(), commits + 1);
}

/* An agent of several org units lists them, and their names, in org
 * unit order whatever the order they were enrolled in, the codes compared
 * bytewise ("c0" after "C3") on both backends: SQLite compares so, and
 * testpg.h makes PostgreSQL databases with a language's collation. */
static void
test_units_in_order(void **state)
{
    fx_t *fx = *state;
    uint8_t pk[32], curve[32];
    int64_t id = 0;
    memset(pk, 9, sizeof pk);
    memset(curve, 109, sizeof curve);
    const char *units[] = { "C3", "c0", "C1" };
    assert_int_equal(store_agent_enroll(fx->store, pk, curve, "e", units, 3,
                                        (int64_t) T0 - 1000, &id), CDS_OK);
    health_thresholds_t th;
    health_thresholds_default(&th);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, T0, &list, &n), CDS_OK);
    assert_string_equal(find(list, n, "e")->org_units, "C1,C3,c0");
    assert_string_equal(find(list, n, "e")->commune,
                        "Xã Một, Xã Ba, Xã Không");
    free(list);
}

/* AHEAD: a heartbeat reporting acks above the applied seq (a restore
 * not accepted) is critical, before SILENT, and says the fix. */
static void
test_ahead(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    health_thresholds_default(&th);
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.acked_seq = 7;
    assert_int_equal(health_note_heartbeat(fx->h, fx->ids[0], T0, &hb),
                     CDS_OK);
    assert_int_equal(health_flush(fx->h), CDS_OK);
    seen(fx, 0, T0);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, T0 + 1000, &list, &n), CDS_OK);
    assert_int_equal(list[0].state, HEALTH_AHEAD);
    assert_int_equal(health_worst(list, n), 2);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    health_print(f, list, n, T0 + 1000, &th);
    fclose(f);
    assert_non_null(strstr(text, "accept-restore --force"));
    free(text);
    free(list);
}

/* A published metadata version at published_ms (our clock). */
static void
publish(fx_t *fx, int64_t version, uint64_t published_ms)
{
    uint8_t bundle[1] = { 0 };
    store_metadata_t m = { .version = version,
                           .published_ms = (int64_t) published_ms,
                           .bundle = bundle, .bundle_len = sizeof bundle,
                           .summary = (char *) "test" };
    assert_int_equal(store_metadata_add(fx->store, &m), CDS_OK);
}

/* A heartbeat naming metadata version ver, from a clock days ahead: the
 * agent's clock never enters the time behind. */
static void
heartbeat_meta(fx_t *fx, int i, uint64_t now, uint64_t ver)
{
    Cdsync__Heartbeat hb = CDSYNC__HEARTBEAT__INIT;
    hb.metadata_version = ver;
    hb.clock_ms = now + 3 * 86400000ull;
    assert_int_equal(health_note_heartbeat(fx->h, fx->ids[i], now, &hb),
                     CDS_OK);
    assert_int_equal(health_flush(fx->h), CDS_OK);
}

static char *
render(const health_agent_t *list, size_t n, uint64_t now,
       const health_thresholds_t *th, int nagios)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (nagios)
        health_nagios(out, list, n, now);
    else
        health_print(out, list, n, now, th);
    fclose(out);
    return buf;
}

/* /metrics at now as text (caller frees). */
static char *
render_metrics(fx_t *fx, const metrics_t *m, uint64_t now)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(metrics_render(fx->h, m, now, out), CDS_OK);
    fclose(out);
    return buf;
}

#define H 3600000ull
#define NOW_META (T0 + 24 * H + 1)  /* a day and 1 ms after version 1 */

/* Versions 1 (at T0) and 2 (T0 + 2 h); at T0 + 3 h a on 2, b on 1, c on
 * its files; d never spoke; e enrolled at T0 + 20 h. Thresholds: only the
 * metadata can make a warning here. */
static void
metadata_fixture(fx_t *fx, health_thresholds_t *th)
{
    health_thresholds_default(th);
    assert_int_equal(th->metadata_behind_after_ms, 86400000);
    th->silent_after_ms = 30 * 86400000ull;
    th->skewed_after_ms = 30 * 86400000ull;
    publish(fx, 1, T0);
    publish(fx, 2, T0 + 2 * H);
    heartbeat_meta(fx, 0, T0 + 3 * H, 2);
    heartbeat_meta(fx, 1, T0 + 3 * H, 1);
    heartbeat_meta(fx, 2, T0 + 3 * H, 0);
    int64_t late = 0;
    uint8_t pk[32], curve[32];
    memset(pk, 77, sizeof pk);
    memset(curve, 78, sizeof curve);
    const char *units[] = { "c0" };
    assert_int_equal(store_agent_enroll(fx->store, pk, curve, "e", units, 1,
                                        (int64_t) (T0 + 20 * H), &late),
                     CDS_OK);
}

/* Behind the newest metadata version: since the publication of the first
 * version newer than the agent's, or its enrolment when later (our clock,
 * not the agent's); an alert past metadata_behind_after_ms (a day by
 * default). No waiting: "now" is an argument. */
static void
test_metadata_behind(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    metadata_fixture(fx, &th);
    health_agent_t *list = NULL;
    size_t n = 0, alerts = 9;
    assert_int_equal(health_list(fx->h, &th, NOW_META, &list, &n), CDS_OK);
    assert_int_equal(n, 5);
    assert_int_equal(find(list, n, "a")->metadata_behind_since_ms, 0);
    assert_false(find(list, n, "a")->metadata_alert);
    assert_int_equal(find(list, n, "b")->metadata_behind_since_ms,
                     (int64_t) (T0 + 2 * H));
    assert_int_equal(find(list, n, "b")->metadata_behind_ms, 22 * H + 1);
    assert_false(find(list, n, "b")->metadata_alert);
    assert_int_equal(find(list, n, "c")->metadata_behind_ms, 24 * H + 1);
    assert_true(find(list, n, "c")->metadata_alert);
    assert_true(find(list, n, "d")->metadata_alert);  /* no heartbeat */
    assert_int_equal(find(list, n, "e")->metadata_behind_ms, 4 * H + 1);
    assert_false(find(list, n, "e")->metadata_alert);
    assert_int_equal(find(list, n, "c")->state, HEALTH_OK);
    assert_int_equal(health_metadata_behind(list, n, &alerts), 4);
    assert_int_equal(alerts, 2);
    assert_int_equal(health_worst(list, n), 1);
    free(list);
    /* Configurable: 30 h, no alert yet; c on 2: not behind any more. */
    th.metadata_behind_after_ms = 30 * H;
    heartbeat_meta(fx, 2, NOW_META, 2);
    assert_int_equal(health_list(fx->h, &th, NOW_META, &list, &n), CDS_OK);
    assert_int_equal(health_metadata_behind(list, n, &alerts), 3);
    assert_int_equal(alerts, 0);
    assert_int_equal(health_worst(list, n), 0);
    char *text = render(list, n, NOW_META, &th, 0);
    assert_non_null(strstr(text, "2 agents on it, 3 on an older version\n"));
    free(text);
    free(list);
}

/* The same agents in the table (column, summary line), Nagios, JSON and
 * /metrics. */
static void
test_metadata_outputs(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    metadata_fixture(fx, &th);
    health_agent_t *list = NULL;
    size_t n = 0, k;
    assert_int_equal(health_list(fx->h, &th, NOW_META, &list, &n), CDS_OK);
    char *text = render(list, n, NOW_META, &th, 0);
    assert_non_null(strstr(text, "METADATA"));
    assert_non_null(strstr(text, "2 (current)"));
    assert_non_null(strstr(text, "1, behind 22 h 0 min (current 2)"));
    assert_non_null(strstr(text, "files, behind 1 day 0 h: ALERT "
                                 "(current 2)"));
    assert_non_null(strstr(text, "\nmetadata: current version 2; 1 agent "
                                 "on it, 4 on an older version (2 behind "
                                 "for more than 24 h: ALERT)\n"));
    free(text);
    text = render(list, n, NOW_META, &th, 1);
    assert_non_null(strstr(text, "CDSYNC WARNING - 2 behind the current "
                                 "metadata version for too long |"));
    free(text);
    json_t *j = health_to_json(list, n, NOW_META), *c = NULL;
    json_array_foreach(j, k, c)
        if (strcmp(json_string_value(json_object_get(c, "label")), "c") == 0)
            break;
    assert_true(json_is_true(json_object_get(c, "metadata_alert")));
    assert_int_equal(json_integer_value(json_object_get(
                         c, "metadata_behind_since_ms")), (json_int_t) T0);
    json_decref(j);
    free(list);
    metrics_t m = { .top_n = 0, .version = "1", .th = th };
    char *buf = render_metrics(fx, &m, NOW_META);
    assert_non_null(strstr(buf, "cdsync_metadata_latest_version 2\n"));
    assert_non_null(strstr(buf, "cdsync_agents_metadata_behind 4\n"));
    assert_non_null(strstr(buf, "cdsync_agents_metadata_behind_alert 2\n"));
    free(buf);
}

/* Nothing published: "-" and a summary that says so. */
static void
test_metadata_none(void **state)
{
    fx_t *fx = *state;
    health_thresholds_t th;
    health_thresholds_default(&th);
    heartbeat_meta(fx, 0, T0, 0);
    health_agent_t *list = NULL;
    size_t n = 0;
    assert_int_equal(health_list(fx->h, &th, T0 + 1000, &list, &n), CDS_OK);
    assert_int_equal(health_metadata_behind(list, n, NULL), 0);
    char *text = render(list, n, T0 + 1000, &th, 0);
    assert_non_null(strstr(text, "\nmetadata: no version published (agents "
                                 "use their configured files)\n"));
    free(text);
    free(list);
}

static void
test_metrics_render(void **state)
{
    fx_t *fx = *state;
    uint64_t now = T0 + 1000;
    for (int i = 0; i < 4; i++)
        seen(fx, i, now);
    assert_int_equal(health_note_batch(fx->h, fx->ids[0], now, 4, 1, 15,
                                       "x", 0, false, 0), CDS_OK);
    heartbeat(fx, 1, now, 3, 999999, now);
    uint8_t pk[32];
    memset(pk, 9, sizeof pk);
    assert_int_equal(store_reject_add(fx->store, (int64_t) now, pk,
                                      CDS_EBADSIG, "sig", "m", 0, 0, 0,
                                      (const uint8_t *) "r", 1), CDS_OK);
    assert_int_equal(store_reject_add(fx->store, (int64_t) now, NULL,
                                      CDS_EBADSIG, "sig", "m", 0, 0, 0,
                                      NULL, 0), CDS_OK);
    uint64_t counts[CDS__COUNT];
    assert_int_equal(health_refused_by_code(fx->h, counts, CDS__COUNT),
                     CDS_OK);
    assert_int_equal(counts[CDS_EBADSIG], 2);
    assert_int_equal(counts[CDS_EMALFORMED], 0);
    metrics_t m = { .top_n = 2, .version = "1.2" };
    health_thresholds_default(&m.th);
    m.th.lagging_after_ms = 5000;
    char *buf = render_metrics(fx, &m, now);
    assert_non_null(strstr(buf, "cdsync_build_info{version=\"1.2\"} 1\n"));
    assert_non_null(strstr(buf, "cdsync_updates_applied_total 4\n"));
    assert_non_null(strstr(buf, "cdsync_updates_rejected_total 1\n"));
    assert_non_null(strstr(buf, "# TYPE cdsync_updates_applied_total "
                                "counter\n"));
    assert_non_null(strstr(buf, "cdsync_messages_refused_total{reason="
                                "\"bad_signature\"} 2\n"));
    /* every reason exists from the start, at 0 until used */
    assert_non_null(strstr(buf, "cdsync_messages_refused_total{reason="
                                "\"malformed\"} 0\n"));
    assert_non_null(strstr(buf, "cdsync_messages_refused_total{reason="
                                "\"unknown_key\"} 0\n"));
    /* process_* from /proc/self: started in the last day, some memory,
     * some descriptors (the database's at least) */
    double start = 0, cpu = -1;
    long long rss = 0, fds = 0;
    const char *p = strstr(buf, "\nprocess_start_time_seconds ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nprocess_start_time_seconds %lf", &start), 1);
    assert_true(start > (double) time(NULL) - 86400);
    assert_true(start <= (double) time(NULL) + 1);
    p = strstr(buf, "\nprocess_resident_memory_bytes ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nprocess_resident_memory_bytes %lld", &rss),
                     1);
    assert_true(rss > 100000);
    p = strstr(buf, "\nprocess_open_fds ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nprocess_open_fds %lld", &fds), 1);
    assert_true(fds >= 4);
    p = strstr(buf, "\nprocess_cpu_seconds_total ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nprocess_cpu_seconds_total %lf", &cpu), 1);
    assert_true(cpu >= 0);
    assert_non_null(strstr(buf, "# TYPE process_cpu_seconds_total counter"));
    assert_non_null(strstr(buf, "cdsync_agents{state=\"LAGGING\"} 1\n"));
    assert_non_null(strstr(buf, "cdsync_agents{state=\"OK\"} 3\n"));
    /* Nothing published: no agent is behind. */
    assert_non_null(strstr(buf, "cdsync_metadata_latest_version 0\n"));
    assert_non_null(strstr(buf, "cdsync_agents_metadata_behind 0\n"));
    assert_non_null(strstr(buf, "cdsync_agents_metadata_behind_alert 0\n"));
    /* Per-agent series bounded by top_n ((7 gauges + 7 states) x 2). */
    size_t series = 0;
    for (p = buf; (p = strstr(p, "{agent=\"")); p++)
        series++;
    assert_int_equal(series, 28);
    /* The LAGGING agent is among them; label quotes escaped. */
    assert_non_null(strstr(buf, "commune=\"Xã Hai\",state=\"LAGGING\"} 1\n"));
    assert_non_null(strstr(buf, "commune=\"Xã Hai\",state=\"OK\"} 0\n"));
    free(buf);
    m.top_n = 10;
    buf = render_metrics(fx, &m, now);
    assert_non_null(strstr(buf, "commune=\"Xã \\\"Bốn\\\"\""));
    free(buf);
}

/* health_nagios from a list (no database): the status word of the worst
 * severity, the non-OK states counted (critical first, silent before
 * revoked), one perfdata label per
 * state (SKEWED too), one line per agent, '|' never inside a name. */
static char *
nagios_of(const health_agent_t *list, size_t n, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    *rc = health_nagios(f, list, n, T0);
    fclose(f);
    return buf;
}

static void
test_nagios(void **state)
{
    (void) state;
    health_agent_t l[11];
    memset(l, 0, sizeof l);
    int rc;
    char *out = nagios_of(l, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "CDSYNC OK - no agent enrolled | ok=0;;; "
                        "skewed=0;;; lagging=0;;; rejecting=0;;; "
                        "silent=0;;; ahead=0;;; revoked=0;;;\n");
    free(out);
    for (int i = 0; i < 11; i++) {
        snprintf(l[i].label, sizeof l[i].label, "a%d", i);
        snprintf(l[i].commune, sizeof l[i].commune, "Xã %d", i);
        l[i].last_seen_ms = (int64_t) T0 - 180000;
    }
    out = nagios_of(l, 2, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "CDSYNC OK - 2 agents OK | ok=2;;; "));
    assert_non_null(strstr(out, "\nOK: Xã 1 () last seen 3 min ago"));
    free(out);
    l[1].state = HEALTH_SKEWED;
    l[1].clock_offset_ms = 7200000;
    out = nagios_of(l, 2, &rc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "CDSYNC WARNING - 1 skewed | ok=1;;; "
                            "skewed=1;;; lagging=0;;;"));
    assert_non_null(strstr(out, "clock 2 h 0 min ahead"));
    free(out);
    l[8].state = l[9].state = HEALTH_SILENT;
    l[10].state = HEALTH_REVOKED;
    l[1].state = HEALTH_OK;
    snprintf(l[9].commune, sizeof l[9].commune, "Xã|Chín\nx");
    l[9].last_reject_code = CDS_EBADVALUE;
    snprintf(l[9].last_reject_message, sizeof l[9].last_reject_message,
             "bad | value");
    out = nagios_of(l, 11, &rc);
    assert_int_equal(rc, 2);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(out, "CDSYNC CRITICAL - 2 silent, 1 revoked | "
                        "ok=8;;; skewed=0;;; lagging=0;;; rejecting=0;;; "
                        "silent=2;;; ahead=0;;; revoked=1;;;");
    assert_non_null(strstr(nl + 1, "SILENT: Xã/Chín x ("));
    assert_non_null(strstr(nl + 1, ", last bad_value: bad / value\n"));
    assert_null(strchr(nl + 1, '|'));
    free(out);
}

int
main(void)
{
    cds_log_init("health_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_nagios),
        cmocka_unit_test_setup_teardown(test_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skewed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejecting_threshold, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_silent_revoked_persist, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_behind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metadata_outputs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metadata_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_units_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_held, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metrics_render, setup,
                                        teardown),
    };
    return testpg_run(tests, sizeof tests / sizeof tests[0]);
}
