/*  recheck_test: the pending values checked again when the metadata
 *  version changes (agent/recheck.h, outbox.h "Held values"). Under
 *  version 1 four values are queued; version 2 retires NTM8_3 (NTM8_9
 *  replaces it) and closes 27901 on 2025-06-30 (merged into 27907-2025):
 *  the two values it refuses are held with the reason and the suggested
 *  successor, content and stamp unchanged, the two others stay pending in
 *  an unbroken chain that later pushes continue; a second check with the
 *  same version changes nothing; after a rollback to version 1 the held
 *  values are back at the end of the chain, unchanged; withdraw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdsync.pb-c.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_sign.h"
#include "cds_update.h"
#include "metafetch.h"
#include "outbox.h"
#include "recheck.h"

static char dir[] = "/tmp/recheck_test.XXXXXX";
static char paths[2][256], db[256];
static cds_identity_t *agent, *agg;
static outbox_t *ob;

#define CAT_HEAD "code,name_vi,name_en,unit,value_type,aggregation," \
                 "period_type,min,max,numerator,denominator,source," \
                 "period_rollup,replaces\n"
#define IND(c) c ",Tên,Name,yes/no,BOOLEAN,COUNT_TRUE,Yearly,,,,,S2,LAST,"
#define CAT1 CAT_HEAD IND("NTM8_1") "\n" IND("NTM8_3") "\n"
#define CAT2 CAT_HEAD IND("NTM8_1") "\n" IND("NTM8_9") "NTM8_3\n"
#define OUS_HEAD "code,name,parent,valid_from,valid_to\nVN,Việt Nam,,,\n"
#define OUS1 OUS_HEAD "27901,Xã Mỹ Quý Đông,VN,,\n" \
             "27907-2025,Xã Mỹ Quý,VN,2025-07-01,\n"
#define OUS2 OUS_HEAD "27901,Xã Mỹ Quý Đông,VN,,2025-06-30\n" \
             "27907-2025,Xã Mỹ Quý,VN,2025-07-01,\n"
#define MAP "old,new,from,note\n27901,27907-2025,2025-07-01,NQ 1682\n"

static cds_identity_t *
make_identity(char *path, const char *name)
{
    int err = -1;
    snprintf(path, 256, "%s/%s.key", dir, name);
    if (cds_identity_generate(path, name) != CDS_OK)
        return NULL;
    return cds_identity_load(path, &err, NULL, 0);
}

static int
setup(void **state)
{
    int err = 0;
    if (!mkdtemp(dir))
        return -1;
    agent = make_identity(paths[0], "agent");
    agg = make_identity(paths[1], "agg");
    snprintf(db, sizeof db, "%s/agent.db", dir);
    ob = outbox_open(db, &err);
    return agent && agg && ob ? 0 : -1;
}

static int
teardown(void **state)
{
    outbox_destroy(&ob);
    cds_identity_destroy(&agent);
    cds_identity_destroy(&agg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Version v (catalog, org units, map) signed for the agent, into use. */
static void
use_version(uint64_t v, const char *cat, const char *ous)
{
    static uint8_t h[3][32];
    const char *names[3] = { "catalog.csv", "orgunit_map.csv",
                             "orgunits.csv" };
    const char *text[3] = { cat, MAP, ous };
    Cdsync__MetadataFile f[3], *p[3];
    Cdsync__MetadataBundle b = CDSYNC__METADATA_BUNDLE__INIT;
    for (size_t i = 0; i < 3; i++) {
        cdsync__metadata_file__init(&f[i]);
        f[i].name = (char *) names[i];
        f[i].content.data = (uint8_t *) text[i];
        f[i].content.len = strlen(text[i]);
        crypto_generichash(h[i], 32, f[i].content.data, f[i].content.len,
                           NULL, 0);
        f[i].blake2b.data = h[i];
        f[i].blake2b.len = 32;
        p[i] = &f[i];
    }
    b.format = 1;
    b.version = v;
    b.n_files = 3;
    b.files = p;
    size_t len;
    uint8_t *bytes = cds_msg_encode(&b.base, &len), sig[CDS_SIG_BYTES];
    char msg[800];
    assert_int_equal(cds_sign_body(agg, CDSYNC__KIND__KIND_METADATA,
                                   cds_identity_sign_pk(agent), bytes, len,
                                   sig), CDS_OK);
    assert_int_equal(metafetch_apply(ob, cds_identity_sign_pk(agg),
                                     cds_identity_sign_pk(agent), bytes, len,
                                     sig, CDS_SIG_BYTES, 1000, msg,
                                     sizeof msg), CDS_OK);
    free(bytes);
}

static void
push(const char *de, const char *pe, const char *value)
{
    cds_update_t u = { .org_unit = "27901", .indicator = de, .period = pe,
                       .disagg = "default", .value = value };
    char err[300];
    assert_int_equal(outbox_push(ob, &u, NULL, 1, 0, err, sizeof err),
                     CDS_OK);
}

/* The pending rows as "DE/PE@seq ...", and their chain checked from
 * acked_head up to last_head. */
static void
pending_is(const char *want)
{
    outbox_row_t *rows = NULL;
    outbox_meta_t m;
    size_t n = 0, off = 0;
    char got[400] = "";
    uint8_t head[CDS_HASH_BYTES], hash[CDS_HASH_BYTES];
    assert_int_equal(outbox_meta(ob, &m), CDS_OK);
    assert_int_equal(outbox_read(ob, 1, 100, 1 << 20, &rows, &n), CDS_OK);
    memcpy(head, m.acked_head, sizeof head);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].u.seq, m.acked_seq + 1 + i);
        cds_update_hash(&rows[i].u, hash);
        cds_chain_next(head, hash, head);
        assert_memory_equal(head, rows[i].head, CDS_HASH_BYTES);
        off += (size_t)snprintf(got + off, sizeof got - off, "%s%s/%s@%llu",
                                i ? " " : "", rows[i].u.indicator,
                                rows[i].u.period,
                                (unsigned long long)rows[i].u.seq);
    }
    assert_int_equal(m.last_seq, m.acked_seq + n);
    assert_memory_equal(head, m.last_head, CDS_HASH_BYTES);
    assert_string_equal(got, want);
    outbox_rows_free(&rows, n);
}

typedef struct {
    char text[600];
    int64_t id[4];
    uint64_t hlc[4];
    size_t n;
} held_seen_t;

static int
held_fn(const outbox_held_t *h, void *arg)
{
    held_seen_t *s = arg;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%s%s/%s=%s v%llu %s [%s]",
             s->n ? "; " : "", h->row->u.indicator, h->row->u.period,
             h->row->u.value, (unsigned long long)h->version,
             cds_strerror(h->code), h->suggestion);
    s->id[s->n] = h->id;
    s->hlc[s->n++] = h->row->u.hlc;
    return 0;
}

static held_seen_t
held(void)
{
    held_seen_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(outbox_held_list(ob, held_fn, &s), CDS_OK);
    return s;
}

static void
recheck(size_t want_held, size_t want_released, uint64_t want_version)
{
    recheck_result_t r;
    assert_int_equal(recheck_pending(ob, "27901", 2000, &r), CDS_OK);
    assert_int_equal(r.version, want_version);
    assert_int_equal(r.held, want_held);
    assert_int_equal(r.released, want_released);
}

static void
test_hold_and_release(void **state)
{
    use_version(1, CAT1, OUS1);
    push("NTM8_3", "2025", "true");
    push("NTM8_1", "2026", "true");
    push("NTM8_1", "2025", "true");
    recheck(0, 0, 1);
    push("NTM8_1", "2024", "false");
    use_version(2, CAT2, OUS2);
    outbox_row_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(outbox_read(ob, 1, 2, 1 << 20, &rows, &n), CDS_OK);
    uint64_t hlc1 = rows[0].u.hlc, hlc2 = rows[1].u.hlc;
    outbox_rows_free(&rows, n);

    recheck(2, 0, 2);
    pending_is("NTM8_1/2025@1 NTM8_1/2024@2");
    held_seen_t s = held();
    assert_string_equal(s.text,
                        "NTM8_3/2025=true v2 unknown_indicator "
                        "[indicator=NTM8_9]; NTM8_1/2026=true v2 "
                        "org_unit_closed [org_unit=27907-2025]");
    assert_int_equal(s.hlc[0], hlc1);
    assert_int_equal(s.hlc[1], hlc2);
    recheck(0, 0, 0);                  /* version 2 checked already */
    push("NTM8_9", "2025", "true");   /* the chain goes on after a hold */
    pending_is("NTM8_1/2025@1 NTM8_1/2024@2 NTM8_9/2025@3");

    Cdsync__Ack ack = CDSYNC__ACK__INIT;
    ack.status = CDSYNC__ACK_STATUS__ACK_OK;
    ack.acked_seq = 3;
    assert_int_equal(outbox_apply_ack(ob, &ack, NULL, 0, 3000), CDS_OK);
    FILE *out = fopen("/dev/null", "w");
    assert_int_equal(metafetch_rollback(ob, out), CDS_OK);
    fclose(out);
    recheck(0, 2, 1);                  /* valid again: back in the chain */
    pending_is("NTM8_3/2025@4 NTM8_1/2026@5");
    assert_int_equal(held().n, 0);
    assert_int_equal(outbox_read(ob, 4, 2, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(rows[0].u.hlc, hlc1);   /* stamps unchanged */
    assert_int_equal(rows[1].u.hlc, hlc2);
    assert_string_equal(rows[1].u.value, "true");
    outbox_rows_free(&rows, n);
}

static void
test_withdraw(void **state)
{
    assert_int_equal(outbox_held_withdraw(ob, 12345), CDS_ENOTFOUND);
    assert_int_equal(outbox_metadata_rollback(ob, &(uint64_t){0},
                                              &(uint64_t){0}),
                     CDS_ENOTFOUND);  /* version 1 is the oldest kept */
    use_version(3, CAT2, OUS2);       /* both pending ones invalid again */
    recheck(2, 0, 3);
    pending_is("");
    held_seen_t s = held();
    assert_int_equal(s.n, 2);
    assert_int_equal(outbox_held_withdraw(ob, s.id[1]), CDS_OK);
    assert_int_equal(outbox_held_withdraw(ob, s.id[1]), CDS_ENOTFOUND);
    s = held();
    assert_string_equal(s.text, "NTM8_3/2025=true v3 unknown_indicator "
                                "[indicator=NTM8_9]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_and_release),
        cmocka_unit_test(test_withdraw),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
