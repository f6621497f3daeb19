/*  metafetch_test: the agent's checks of a fetched metadata version
 *  (agent/metafetch.h): a good bundle is taken into use with the change
 *  in words; a changed byte, another key's signature, no signature, a
 *  signature for another agent, a wrong file hash, an unknown file name,
 *  a catalog that does not load and an oversized bundle are each refused
 *  and recorded, and the version in use stays; rollback goes back. */
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

#include "cdsync.pb-c.h"
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_sign.h"
#include "metafetch.h"
#include "outbox.h"

static char dir[] = "/tmp/metafetch_test.XXXXXX";
static char paths[3][256], db[256];
static cds_identity_t *agent, *agg, *other;
static outbox_t *ob;

#define CAT_HEAD "code,name_vi,name_en,unit,value_type,aggregation," \
                 "period_type,min,max,numerator,denominator,source," \
                 "period_rollup\n"
#define ROW1 "NTM8_1,Bưu chính,Postal,yes/no,BOOLEAN,COUNT_TRUE,Yearly," \
             ",,,,S2,LAST\n"
#define ROW2 "NTM8_2,Viễn thông,Telecom,yes/no,BOOLEAN,COUNT_TRUE,Yearly," \
             ",,,,S2,LAST\n"
#define ROW2B "NTM8_2,Viễn thông và internet,Telecom,yes/no,BOOLEAN," \
              "COUNT_TRUE,Yearly,,,,,S2,LAST\n"
#define ROW3 "NTM8_3,Internet,Internet,yes/no,BOOLEAN,COUNT_TRUE,Yearly," \
             ",,,,S2,LAST\n"
#define OUS "code,name,parent,valid_from,valid_to\nVN,Việt Nam,,,\n" \
            "27901,Xã Mỹ Quý Đông,VN,,\n"

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
    other = make_identity(paths[2], "other");
    snprintf(db, sizeof db, "%s/agent.db", dir);
    ob = outbox_open(db, &err);
    return agent && agg && other && ob ? 0 : -1;
}

static int
teardown(void **state)
{
    outbox_destroy(&ob);
    cds_identity_destroy(&agent);
    cds_identity_destroy(&agg);
    cds_identity_destroy(&other);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A bundle of version v with catalog cat (and name2/content2 when not
 * NULL); bad_hash: the catalog's hash is not its content's. */
static uint8_t *
bundle(uint64_t v, const char *cat, const char *name2, bool bad_hash,
       size_t *len)
{
    static uint8_t h[3][32];
    const char *names[3] = { "catalog.csv", "orgunits.csv", name2 };
    const char *text[3] = { cat, OUS, "x\n" };
    Cdsync__MetadataFile f[3], *p[3];
    Cdsync__MetadataBundle b = CDSYNC__METADATA_BUNDLE__INIT;
    size_t n = name2 ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        cdsync__metadata_file__init(&f[i]);
        f[i].name = (char *) names[i];
        f[i].content.data = (uint8_t *) text[i];
        f[i].content.len = strlen(text[i]);
        crypto_generichash(h[i], 32, f[i].content.data, f[i].content.len,
                           NULL, 0);
        h[i][0] ^= bad_hash && i == 0;
        f[i].blake2b.data = h[i];
        f[i].blake2b.len = 32;
        p[i] = &f[i];
    }
    b.format = 1;
    b.version = v;
    b.n_files = n;
    b.files = p;
    return cds_msg_encode(&b.base, len);
}

/* Apply bytes signed by signer for recipient. */
static int
apply(uint8_t *bytes, size_t len, const cds_identity_t *signer,
      const cds_identity_t *recipient, size_t sig_len, char *msg)
{
    uint8_t sig[CDS_SIG_BYTES];
    assert_int_equal(cds_sign_body(signer, CDSYNC__KIND__KIND_METADATA,
                                   cds_identity_sign_pk(recipient), bytes,
                                   len, sig), CDS_OK);
    return metafetch_apply(ob, cds_identity_sign_pk(agg),
                           cds_identity_sign_pk(agent), bytes, len, sig,
                           sig_len, 1000, msg, 800);
}

static uint64_t
in_use(void)
{
    outbox_meta_t m;
    assert_int_equal(outbox_meta(ob, &m), CDS_OK);
    return m.metadata_version;
}

static void
test_refusals_keep_version(void **state)
{
    char msg[800];
    size_t len;
    uint8_t *b = bundle(1, CAT_HEAD ROW1 ROW2, NULL, false, &len);
    assert_int_equal(apply(b, len, agg, agent, CDS_SIG_BYTES, msg), CDS_OK);
    assert_non_null(strstr(msg, "phiên bản 1: thêm 2, đổi 0, bỏ 0"));
    assert_int_equal(in_use(), 1);
    free(b);

    b = bundle(2, CAT_HEAD ROW1 ROW2B ROW3, NULL, false, &len);
    uint8_t sig[CDS_SIG_BYTES];
    assert_int_equal(cds_sign_body(agg, CDSYNC__KIND__KIND_METADATA,
                                   cds_identity_sign_pk(agent), b, len, sig),
                     CDS_OK);
    b[len / 2] ^= 1;                   /* one byte changed after signing */
    assert_int_equal(metafetch_apply(ob, cds_identity_sign_pk(agg),
                                     cds_identity_sign_pk(agent), b, len,
                                     sig, sizeof sig, 2000, msg, sizeof msg),
                     CDS_EBADSIG);
    b[len / 2] ^= 1;
    assert_int_equal(apply(b, len, other, agent, CDS_SIG_BYTES, msg),
                     CDS_EBADSIG);     /* another key */
    assert_int_equal(apply(b, len, agg, agent, 0, msg), CDS_EBADSIG);
    assert_int_equal(apply(b, len, agg, other, CDS_SIG_BYTES, msg),
                     CDS_EBADSIG);     /* signed for another agent */
    assert_int_equal(in_use(), 1);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(ob, &m), CDS_OK);
    assert_non_null(strstr(m.metadata_error, "bad_signature"));
    assert_int_equal(m.metadata_error_at_ms, 1000);
    free(b);
}

static void
test_content_checks(void **state)
{
    char msg[800];
    size_t len;
    uint8_t *b = bundle(2, CAT_HEAD ROW1 ROW2B ROW3, NULL, true, &len);
    assert_int_equal(apply(b, len, agg, agent, CDS_SIG_BYTES, msg),
                     CDS_EMALFORMED);
    assert_non_null(strstr(msg, "hash does not match"));
    free(b);
    b = bundle(2, CAT_HEAD ROW1, "../evil.csv", false, &len);
    assert_int_equal(apply(b, len, agg, agent, CDS_SIG_BYTES, msg),
                     CDS_EMALFORMED);
    assert_non_null(strstr(msg, "not a metadata file"));
    free(b);
    b = bundle(2, CAT_HEAD "NTM8_1,x,x,x,NOTATYPE,SUM,Yearly,,,,,S,LAST\n",
               NULL, false, &len);
    assert_int_equal(apply(b, len, agg, agent, CDS_SIG_BYTES, msg),
                     CDS_EMALFORMED);
    assert_non_null(strstr(msg, "catalog.csv:2"));   /* not the temp dir */
    free(b);
    uint8_t *big = calloc(1, METAFETCH_MAX_BYTES + 1);
    assert_non_null(big);
    assert_int_equal(apply(big, METAFETCH_MAX_BYTES + 1, agg, agent,
                           CDS_SIG_BYTES, msg), CDS_ETOOBIG);
    free(big);
    assert_int_equal(in_use(), 1);
}

static void
test_update_and_rollback(void **state)
{
    char msg[800];
    size_t len;
    uint8_t *b = bundle(2, CAT_HEAD ROW1 ROW2B ROW3, NULL, false, &len);
    assert_int_equal(apply(b, len, agg, agent, CDS_SIG_BYTES, msg), CDS_OK);
    assert_non_null(strstr(msg, "phiên bản 2: thêm 1, đổi 1, bỏ 0"));
    assert_int_equal(in_use(), 2);
    free(b);
    char tmp[256];
    assert_int_equal(metafetch_materialize(ob, tmp, sizeof tmp), CDS_OK);
    char path[300];
    snprintf(path, sizeof path, "%s/catalog.csv", tmp);
    assert_int_equal(access(path, R_OK), 0);
    metafetch_cleanup(tmp);
    assert_int_not_equal(access(tmp, F_OK), 0);
    FILE *out = fopen("/dev/null", "w");
    assert_int_equal(metafetch_rollback(ob, out), CDS_OK);
    assert_int_equal(in_use(), 1);
    assert_int_equal(metafetch_rollback(ob, out), CDS_ENOTFOUND);
    fclose(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_keep_version),
        cmocka_unit_test(test_content_checks),
        cmocka_unit_test(test_update_and_rollback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
