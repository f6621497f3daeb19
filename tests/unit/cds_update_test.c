/*  cds_update_test: content hash (known answer against an independent
 *  encoding), sensitivity to every field, chain, field checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>

#include <sodium.h>
#include <string.h>

#include "cds_err.h"
#include "cds_update.h"

static cds_update_t
sample(void)
{
    cds_update_t u = {
        .seq = 42,
        .org_unit = "VN-LA-DH-X1",
        .indicator = "CDS01",
        .period = "2023Q1",
        .disagg = "default",
        .value = "12.5",
        .comment = "Nhập từ bảng tính",
        .stored_by = "nguyen.van.a",
        .deleted = false,
        .followup = true,
        .hlc = 0x0123456789abcdefull,
    };
    return u;
}

/* Independent one-shot encoding of the header's canonical form. */
static size_t
put(uint8_t *b, size_t off, const void *p, size_t n)
{
    memcpy(b + off, p, n);
    return off + n;
}

static size_t
put_le(uint8_t *b, size_t off, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[off + i] = (uint8_t) (v >> (8 * i));
    return off + (size_t) n;
}

static size_t
put_str(uint8_t *b, size_t off, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    off = put_le(b, off, n, 4);
    return put(b, off, s ? s : "", n);
}

static void
reference_hash(const cds_update_t *u, uint8_t out[32])
{
    uint8_t b[4096];
    size_t off = put(b, 0, "cdsync-update/1", 15);
    off = put_le(b, off, u->seq, 8);
    const char *s[] = { u->org_unit, u->indicator, u->period, u->disagg,
                        u->value, u->comment, u->stored_by };
    for (int i = 0; i < 7; i++)
        off = put_str(b, off, s[i]);
    b[off++] = u->deleted ? 1 : 0;
    b[off++] = u->followup ? 1 : 0;
    off = put_le(b, off, u->hlc, 8);
    if (u->created_ms || u->updated_ms) {    /* fields 12, 13 */
        off = put_le(b, off, u->created_ms, 8);
        off = put_le(b, off, u->updated_ms, 8);
    }
    crypto_generichash(out, 32, b, off, NULL, 0);
}

static void
test_hash_known_answer(void **state)
{
    cds_update_t u = sample();
    uint8_t h[32], want[32];
    cds_update_hash(&u, h);
    reference_hash(&u, want);
    assert_memory_equal(h, want, 32);
    /* frozen: computed once with Python's hashlib.blake2b over the same
     * encoding; a change here breaks every stored chain */
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, 32);
    assert_string_equal(hex, "64a02764eff595909f392fe548081a69"
                             "193023b4a08acd04a6abb91386c95747");
    uint8_t zero[32] = { 0 }, head[32];
    cds_chain_next(zero, h, head);
    sodium_bin2hex(hex, sizeof hex, head, 32);
    assert_string_equal(hex, "a79821f142464d9a123acdbb05056951"
                             "f89685fefcc59ac2a13228f9e1c604f0");
    /* NULL optional text hashes as "" */
    u.comment = NULL;
    cds_update_hash(&u, h);
    u.comment = "";
    cds_update_hash(&u, want);
    assert_memory_equal(h, want, 32);
}

/* The source times (fields 12, 13) are hashed only when given: without
 * them the frozen hash above is unchanged (every older agent's update);
 * with them the hash is the reference encoding with both appended. */
static void
test_hash_source_times(void **state)
{
    (void) state;
    cds_update_t u = sample();
    uint8_t h[32], want[32], plain[32];
    cds_update_hash(&u, plain);
    u.updated_ms = 1743581700000;            /* 2025-04-02T08:15:00Z */
    cds_update_hash(&u, h);
    reference_hash(&u, want);
    assert_memory_equal(h, want, 32);
    assert_memory_not_equal(h, plain, 32);
    u.created_ms = 1743465600000;
    cds_update_hash(&u, want);
    assert_memory_not_equal(h, want, 32);    /* created counts too */
    u.created_ms = u.updated_ms = 0;
    cds_update_hash(&u, h);
    assert_memory_equal(h, plain, 32);
}

static void
expect_changed(const cds_update_t *u, const uint8_t base[32])
{
    uint8_t h[32];
    cds_update_hash(u, h);
    assert_memory_not_equal(h, base, 32);
}

static void
test_hash_covers_every_field(void **state)
{
    cds_update_t base = sample(), u;
    uint8_t h0[32];
    cds_update_hash(&base, h0);
#define CHANGE(stmt) do { u = base; stmt; expect_changed(&u, h0); } while (0)
    CHANGE(u.seq = 43);
    CHANGE(u.org_unit = "VN-LA-DH-X2");
    CHANGE(u.indicator = "CDS02");
    CHANGE(u.period = "2023Q2");
    CHANGE(u.disagg = "male");
    CHANGE(u.value = "12.50");
    CHANGE(u.comment = "Nhập từ bảng tính.");
    CHANGE(u.stored_by = "nguyen.van.b");
    CHANGE(u.deleted = true);
    CHANGE(u.followup = false);
    CHANGE(u.hlc ^= 1);
    CHANGE(u.created_ms = 1743552000000);
    CHANGE(u.updated_ms = 1743552000000);
    CHANGE((u.created_ms = 1, u.updated_ms = 2));
    /* length prefixes: moving a byte across a field boundary matters */
    CHANGE((u.org_unit = "VN-LA-DH-X1C", u.indicator = "DS01"));
#undef CHANGE
    uint8_t again[32];
    cds_update_hash(&base, again);
    assert_memory_equal(again, h0, 32);      /* deterministic */
}

static void
test_chain(void **state)
{
    uint8_t zero[32] = { 0 }, h1[32], h2[32], a[32], b[32], c[32];
    cds_update_t u = sample();
    cds_update_hash(&u, h1);
    u.seq = 43;
    cds_update_hash(&u, h2);

    cds_chain_next(zero, h1, a);
    cds_chain_next(a, h2, a);                /* out aliases prev */
    cds_chain_next(zero, h1, b);
    cds_chain_next(b, h2, c);
    assert_memory_equal(a, c, 32);           /* deterministic */

    cds_chain_next(zero, h2, b);
    cds_chain_next(b, h1, b);
    assert_memory_not_equal(a, b, 32);       /* order matters */

    uint8_t m[14 + 64], want[32];            /* the documented encoding */
    memcpy(m, "cdsync-chain/1", 14);
    memcpy(m + 14, zero, 32);
    memcpy(m + 46, h1, 32);
    crypto_generichash(want, 32, m, sizeof m, NULL, 0);
    cds_chain_next(zero, h1, b);
    assert_memory_equal(b, want, 32);
}

static void
expect_bad(const cds_update_t *u, int code, const char *field)
{
    const char *f = NULL;
    assert_int_equal(cds_update_check_fields(u, &f), code);
    assert_non_null(f);
    assert_string_equal(f, field);
}

static void
test_check_fields(void **state)
{
    cds_update_t u = sample();
    const char *f = "x";
    char code64[65], code65[66], val[CDS_MAX_VALUE + 2], by[CDS_MAX_STORED_BY + 2];
    assert_int_equal(cds_update_check_fields(&u, &f), CDS_OK);
    assert_null(f);
    u.comment = NULL;
    u.stored_by = NULL;
    assert_int_equal(cds_update_check_fields(&u, NULL), CDS_OK);

    memset(code64, 'A', 64);
    code64[64] = '\0';
    memset(code65, 'A', 65);
    code65[65] = '\0';
    u = sample();
    u.indicator = code64;
    assert_int_equal(cds_update_check_fields(&u, &f), CDS_OK);

    u = sample(); u.org_unit = "";         expect_bad(&u, CDS_EBADFIELD, "orgunit");
    u = sample(); u.org_unit = NULL;       expect_bad(&u, CDS_EBADFIELD, "orgunit");
    u = sample(); u.indicator = "CDS 01";  expect_bad(&u, CDS_EBADFIELD, "dataelement");
    u = sample(); u.indicator = code65;    expect_bad(&u, CDS_ETOOBIG, "dataelement");
    u = sample(); u.period = "";           expect_bad(&u, CDS_EBADFIELD, "period");
    u = sample(); u.period = "2023\tQ1";   expect_bad(&u, CDS_EBADFIELD, "period");
    u = sample(); u.disagg = "nữ";         expect_bad(&u, CDS_EBADFIELD,
                                                      "categoryoptioncombo");
    u = sample(); u.disagg = NULL;         expect_bad(&u, CDS_EBADFIELD,
                                                      "categoryoptioncombo");

    memset(val, 'v', CDS_MAX_VALUE + 1);
    val[CDS_MAX_VALUE + 1] = '\0';
    u = sample(); u.value = val;           expect_bad(&u, CDS_ETOOBIG, "value");
    val[CDS_MAX_VALUE] = '\0';
    assert_int_equal(cds_update_check_fields(&u, NULL), CDS_OK);
    u = sample(); u.value = "\xc3\x28";    expect_bad(&u, CDS_EBADFIELD, "value");
    u = sample(); u.comment = "ok \xe0\x80\xaf"; /* overlong '/' */
    expect_bad(&u, CDS_EBADFIELD, "comment");
    u = sample(); u.comment = val;         /* 1024 bytes: at the bound */
    assert_int_equal(cds_update_check_fields(&u, NULL), CDS_OK);
    u = sample(); u.stored_by = "\xed\xa0\x80"; /* surrogate */
    expect_bad(&u, CDS_EBADFIELD, "storedby");
    memset(by, 'b', CDS_MAX_STORED_BY + 1);
    by[CDS_MAX_STORED_BY + 1] = '\0';
    u = sample(); u.stored_by = by;        expect_bad(&u, CDS_ETOOBIG, "storedby");
}

/* The test vectors printed in docs/PROTOCOL.md "Worked example" (computed
 * there by an independent Python script): an implementation in another
 * language checks itself against the same hex. A change here is a change
 * of the wire protocol. */
static void
hex32(const uint8_t h[32], char out[65])
{
    sodium_bin2hex(out, 65, h, 32);
}

static void
test_protocol_vectors(void **state)
{
    (void) state;
    const uint64_t hlc = 1767225600000ull << 16; /* 2026-01-01T00:00:00Z */
    cds_update_t u1 = {
        .seq = 1, .org_unit = "27901", .indicator = "TO_CNSCD",
        .period = "2025Q2", .disagg = "default", .value = "7",
        .comment = NULL, .stored_by = "can.bo.a1", .hlc = hlc,
    };
    cds_update_t u2 = {
        .seq = 2, .org_unit = "27901", .indicator = "NTM8_4",
        .period = "2025", .disagg = "default", .value = "true",
        .comment = "T\xe1\xbb\x95 \xe1\xba\xa5p 3", /* "Tổ ấp 3" */
        .stored_by = "can.bo.a1", .followup = true, .hlc = hlc | 1,
    };
    uint8_t h1[32], h2[32], head[32] = { 0 };
    char hex[65];
    cds_update_hash(&u1, h1);
    hex32(h1, hex);
    assert_string_equal(hex, "17a40faa63511e56833bacc7e988b34e"
                             "09261abb272d14bc54ac6fb2b282559e");
    cds_update_hash(&u2, h2);
    hex32(h2, hex);
    assert_string_equal(hex, "c1d3502e1b7158049b09a27f885ab05b"
                             "f754f000533ef0ea69dac89774c37f2a");
    cds_chain_next(head, h1, head);
    hex32(head, hex);
    assert_string_equal(hex, "48741ae267dc34fb20b8fc3c1ef5f972"
                             "c7492e4b890110429db41d375fee0f2e");
    cds_chain_next(head, h2, head);
    hex32(head, hex);
    assert_string_equal(hex, "955891a1e44ad04c74d9c79aafa3e662"
                             "1c8df41728b55af5bd612c3412de33ae");
    u1.comment = "";               /* "" on the wire hashes as absent */
    cds_update_hash(&u1, h2);
    assert_memory_equal(h1, h2, 32);
}

/* Control bytes (0x01-0x1F, 0x7F) in every text field: refused, naming
 * the field; a comment keeps TAB, LF and CR. */
static void
test_control_bytes(void **state)
{
    static const unsigned char ctl[] = { 0x01, 0x07, 0x08, '\t', '\n', 0x0b,
                                         0x0c, '\r', 0x1b, 0x1f, 0x7f };
    for (size_t i = 0; i < sizeof ctl; i++) {
        char s[8];
        snprintf(s, sizeof s, "a%cb", ctl[i]);
        bool ws = ctl[i] == '\t' || ctl[i] == '\n' || ctl[i] == '\r';
        cds_update_t u;
        u = sample(); u.org_unit = s;   expect_bad(&u, CDS_EBADFIELD, "orgunit");
        u = sample(); u.indicator = s;  expect_bad(&u, CDS_EBADFIELD, "dataelement");
        u = sample(); u.period = s;     expect_bad(&u, CDS_EBADFIELD, "period");
        u = sample(); u.disagg = s;     expect_bad(&u, CDS_EBADFIELD,
                                                   "categoryoptioncombo");
        u = sample(); u.value = s;      expect_bad(&u, CDS_EBADFIELD, "value");
        u = sample(); u.stored_by = s;  expect_bad(&u, CDS_EBADFIELD, "storedby");
        u = sample(); u.comment = s;
        if (ws)
            assert_int_equal(cds_update_check_fields(&u, NULL), CDS_OK);
        else
            expect_bad(&u, CDS_EBADFIELD, "comment");
    }
    /* the old outside-check cases: ESC and CR/LF in stored_by */
    cds_update_t u = sample();
    u.stored_by = "nurse\x1b[2J";
    expect_bad(&u, CDS_EBADFIELD, "storedby");
    u.stored_by = "nurse\r\nforged line";
    expect_bad(&u, CDS_EBADFIELD, "storedby");
    u = sample();
    u.comment = "line 1\r\nline 2\tend";
    assert_int_equal(cds_update_check_fields(&u, NULL), CDS_OK);
}

/* What a refused update's history row keeps: fields over their bound and
 * fields not valid UTF-8 are dropped (NULL), every other field stays; each
 * field is found again by the name cds_update_check_fields reports. */
static void
test_drop_unkept(void **state)
{
    (void) state;
    char big[CDS_MAX_COMMENT + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cds_update_t u = sample();
    assert_int_equal(cds_update_drop_unkept(&u), 0);
    assert_string_equal(u.value, sample().value);
    u.comment = "\xc3\x28 broken";
    u.stored_by = "\xff";
    u.value = "Lê Thị Hoa";           /* valid UTF-8: kept */
    u.org_unit = big;                 /* over CDS_MAX_CODE */
    const char *field = NULL;
    assert_int_not_equal(cds_update_check_fields(&u, &field), CDS_OK);
    assert_int_equal(cds_update_drop_unkept(&u), 3);
    assert_null(u.comment);
    assert_null(u.stored_by);
    assert_null(u.org_unit);
    assert_string_equal(u.value, "Lê Thị Hoa");
    assert_string_equal(u.indicator, sample().indicator);
    u = sample();
    assert_ptr_equal(cds_update_field(&u, "orgunit"), u.org_unit);
    assert_ptr_equal(cds_update_field(&u, "dataelement"), u.indicator);
    assert_ptr_equal(cds_update_field(&u, "categoryoptioncombo"), u.disagg);
    assert_ptr_equal(cds_update_field(&u, "storedby"), u.stored_by);
    assert_ptr_equal(cds_update_field(&u, "comment"), u.comment);
    assert_null(cds_update_field(&u, "nosuch"));
    assert_null(cds_update_field(&u, NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_answer),
        cmocka_unit_test(test_hash_covers_every_field),
        cmocka_unit_test(test_hash_source_times),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_check_fields),
        cmocka_unit_test(test_protocol_vectors),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_drop_unkept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
