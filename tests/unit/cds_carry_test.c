/*  cds_carry_test: the carry file (common/cds_carry.h): write and read
 *  back, every byte checked, bounds, kinds, targets never replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds_carry.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_util.h"

static char dir[] = "/tmp/cds_carry_test.XXXXXX";
static uint8_t agent_pk[CDS_PK_BYTES] = {1}, agg_pk[CDS_PK_BYTES] = {2};

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(dir) && sodium_init() >= 0 ? 0 : -1;
}

static void
path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static int
teardown(void **state)
{
    (void)state;
    /* the files the tests make; no rm(1) on Windows */
    static const char *const made[] = {"a.cds", "b.cds", "bad.cds", "c.cds",
                                       "link.cds"};
    char path[256];
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        path_of(path, sizeof path, made[i]);
        unlink(path);
    }
    return rmdir(dir);
}

/* A file of two fake envelopes (the format does not look inside them). */
static int
write_two(const char *path, Cdsync__CarryKind kind)
{
    uint8_t e1[] = {10, 11, 12}, e2[100];
    memset(e2, 7, sizeof e2);
    uint8_t *env[] = {e1, e2};
    size_t len[] = {sizeof e1, sizeof e2};
    char err[512];
    Cdsync__CarryHeader h = CDSYNC__CARRY_HEADER__INIT;
    h.version = CDS_CARRY_VERSION;
    h.kind = kind;
    h.agent.data = agent_pk;
    h.agent.len = CDS_PK_BYTES;
    h.aggregator.data = agg_pk;
    h.aggregator.len = CDS_PK_BYTES;
    h.label = "Xã Mỹ Quý Đông";
    return cds_carry_write(path, &h, "Tóm tắt / summary\n", env, len, 2,
                           err, sizeof err);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    char path[256], err[512];
    cds_carry_t *c = NULL;
    path_of(path, sizeof path, "a.cds");
    assert_int_equal(write_two(path, CDSYNC__CARRY_KIND__CARRY_BATCHES),
                     CDS_OK);
    assert_int_equal(cds_carry_read(path, CDSYNC__CARRY_KIND__CARRY_BATCHES,
                                    &c, err, sizeof err), CDS_OK);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->header->count, 2);
    assert_int_equal(c->env_len[0], 3);
    assert_int_equal(c->env[0][2], 12);
    assert_int_equal(c->env_len[1], 100);
    assert_string_equal(c->summary, "Tóm tắt / summary\n");
    assert_string_equal(c->header->label, "Xã Mỹ Quý Đông");
    cds_carry_destroy(&c);
    assert_null(c);
    /* The other kind is refused and says what the file is. */
    assert_int_equal(cds_carry_read(path, CDSYNC__CARRY_KIND__CARRY_RECEIPTS,
                                    &c, err, sizeof err), CDS_EMALFORMED);
    assert_non_null(strstr(err, "a batches file"));
    assert_null(c);
}

/* One flipped bit at every offset: always refused. */
static void
test_every_byte(void **state)
{
    (void)state;
    char path[256], bad[256], err[512];
    char *data = NULL;
    size_t len = 0;
    path_of(path, sizeof path, "b.cds");
    path_of(bad, sizeof bad, "bad.cds");
    assert_int_equal(write_two(path, CDSYNC__CARRY_KIND__CARRY_RECEIPTS),
                     CDS_OK);
    assert_int_equal(cds_read_file(path, 1 << 20, &data, &len), 0);
    for (size_t i = 0; i < len; i++) {
        cds_carry_t *c = NULL;
        FILE *f = fopen(bad, "wb");
        data[i] ^= 0x01;
        assert_int_equal(fwrite(data, 1, len, f), len);
        fclose(f);
        data[i] ^= 0x01;
        int rc = cds_carry_read(bad, CDSYNC__CARRY_KIND__CARRY_RECEIPTS, &c,
                                err, sizeof err);
        if (rc == CDS_OK)
            fail_msg("a flip at offset %zu was accepted", i);
        assert_null(c);
    }
    free(data);
}

static void
test_targets(void **state)
{
    (void)state;
    char path[256], link[256], err[512];
    path_of(path, sizeof path, "c.cds");
    path_of(link, sizeof link, "link.cds");
    assert_int_equal(write_two(path, CDSYNC__CARRY_KIND__CARRY_BATCHES),
                     CDS_OK);
    assert_int_equal(write_two(path, CDSYNC__CARRY_KIND__CARRY_BATCHES),
                     CDS_EUSAGE);
#ifndef _WIN32 /* symlink(2): a privilege on Windows; not made here */
    assert_int_equal(symlink("/nonexistent/target", link), 0);
    assert_int_equal(cds_carry_check_target(link, err, sizeof err),
                     CDS_EUSAGE);
    assert_non_null(strstr(err, "symbolic link"));
#else
    (void) link;
#endif
    path_of(path, sizeof path, "nodir/x.cds");
    assert_int_equal(cds_carry_check_target(path, err, sizeof err), CDS_EIO);
    path_of(path, sizeof path, "missing.cds");
    cds_carry_t *c = NULL;
    assert_int_equal(cds_carry_read(path, CDSYNC__CARRY_KIND__CARRY_BATCHES,
                                    &c, err, sizeof err), CDS_EIO);
}

static void
test_time_vn(void **state)
{
    (void)state;
    char t[64];
    /* 2026-12-02T23:00:00Z is 06:00 the next day in Viet Nam. */
    assert_string_equal(cds_carry_time_vn(t, sizeof t, 1796252400000ull),
                        "2026-12-03 06:00:00 (UTC+07:00)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_time_vn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
