/*  cds_update: content hash, hash chain and field checks. See
 *  cds_update.h for the exact hashed encoding. */
#include "cds_update.h"
#include "cds_err.h"
#include "cds_util.h"

#include <assert.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

#define UPDATE_CONTEXT "cdsync-update/1"   /* hashed without its NUL */
#define CHAIN_CONTEXT "cdsync-chain/1"

/* sodium_init is idempotent and fails only without a random source,
 * which hashing does not need. */
static void
sodium_ready(void)
{
    if (sodium_init() < 0) {
        /* nothing to do: BLAKE2b works regardless */
    }
}

static void
hash_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t) (v >> (8 * i));
    crypto_generichash_update(st, b, sizeof b);
}

/* u32le(len) || bytes; NULL hashes as "". Lengths are far below 4 GiB
 * for anything that passed the CDS_MAX_MSG_BYTES bound. */
static void
hash_str(crypto_generichash_state *st, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t) ((uint32_t) len >> (8 * i));
    crypto_generichash_update(st, b, sizeof b);
    if (len > 0)
        crypto_generichash_update(st, (const uint8_t *) s, len);
}

void
cds_update_hash(const cds_update_t *u, uint8_t out[CDS_HASH_BYTES])
{
    crypto_generichash_state st;
    uint8_t flags[2] = { u->deleted ? 1 : 0, u->followup ? 1 : 0 };
    sodium_ready();
    crypto_generichash_init(&st, NULL, 0, CDS_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *) UPDATE_CONTEXT,
                              strlen(UPDATE_CONTEXT));
    hash_u64(&st, u->seq);
    hash_str(&st, u->org_unit);
    hash_str(&st, u->indicator);
    hash_str(&st, u->period);
    hash_str(&st, u->disagg);
    hash_str(&st, u->value);
    hash_str(&st, u->comment);
    hash_str(&st, u->stored_by);
    crypto_generichash_update(&st, flags, sizeof flags);
    hash_u64(&st, u->hlc);
    if (u->created_ms || u->updated_ms) {  /* fields 12, 13: see .h */
        hash_u64(&st, u->created_ms);
        hash_u64(&st, u->updated_ms);
    }
    crypto_generichash_final(&st, out, CDS_HASH_BYTES);
}

void
cds_chain_next(const uint8_t prev[CDS_HASH_BYTES],
               const uint8_t h[CDS_HASH_BYTES], uint8_t out[CDS_HASH_BYTES])
{
    crypto_generichash_state st;
    sodium_ready();
    crypto_generichash_init(&st, NULL, 0, CDS_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *) CHAIN_CONTEXT,
                              strlen(CHAIN_CONTEXT));
    crypto_generichash_update(&st, prev, CDS_HASH_BYTES);
    crypto_generichash_update(&st, h, CDS_HASH_BYTES);
    crypto_generichash_final(&st, out, CDS_HASH_BYTES); /* out may be prev */
}

/* Key fields: non-empty, at most CDS_MAX_CODE bytes, printable ASCII
 * without spaces (codes end up in CSV exports and URLs). */
static int
check_code(const char *s)
{
    size_t len = s ? strnlen(s, CDS_MAX_CODE + 1) : 0;
    if (len == 0)
        return CDS_EBADFIELD;
    if (len > CDS_MAX_CODE)
        return CDS_ETOOBIG;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e)
            return CDS_EBADFIELD;
    return CDS_OK;
}

/* A C0 control byte or DEL: 0x01-0x1F, 0x7F (NUL never gets here: the
 * wire walker refuses it, cds_codec.h). They reach terminals and CSV
 * files through `history`, `query` and exports, so text fields refuse
 * them; a comment may hold TAB, LF and CR (multi-line notes). */
static bool
control_byte(unsigned char c, bool multiline)
{
    if (multiline && (c == '\t' || c == '\n' || c == '\r'))
        return false;
    return c < 0x20 || c == 0x7f;
}

/* Free text: may be NULL or empty, at most max bytes, valid UTF-8, no
 * control bytes (but TAB LF CR when multiline). */
static int
check_text(const char *s, size_t max, bool multiline)
{
    size_t len = s ? strnlen(s, max + 1) : 0;
    if (len > max)
        return CDS_ETOOBIG;
    for (size_t i = 0; i < len; i++)
        if (control_byte((unsigned char) s[i], multiline))
            return CDS_EBADFIELD;
    return len == 0 || cds_utf8_valid(s, len) ? CDS_OK : CDS_EBADFIELD;
}

int
cds_update_check_fields(const cds_update_t *u, const char **field)
{
    assert(u);
    /* DHIS2 CSV column names: the CLI reports them to the officer. */
    const struct {
        const char *name, *value;
        size_t max;            /* 0: a code (check_code) */
        bool multiline;        /* TAB LF CR allowed */
    } f[] = {
        { "orgunit", u->org_unit, 0, false },
        { "dataelement", u->indicator, 0, false },
        { "period", u->period, 0, false },
        { "categoryoptioncombo", u->disagg, 0, false },
        { "value", u->value, CDS_MAX_VALUE, false },
        { "comment", u->comment, CDS_MAX_COMMENT, true },
        { "storedby", u->stored_by, CDS_MAX_STORED_BY, false },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        int rc = f[i].max == 0 ? check_code(f[i].value)
                               : check_text(f[i].value, f[i].max,
                                            f[i].multiline);
        if (rc != CDS_OK) {
            if (field)
                *field = f[i].name;
            return rc;
        }
    }
    if (field)
        *field = NULL;
    return CDS_OK;
}

/* Drop *s when a history row cannot keep it: over max bytes, or not valid
 * UTF-8 (PostgreSQL's text refuses such bytes, and every reader of the
 * history expects text). */
static int
drop_if_unkept(const char **s, size_t max)
{
    if (!*s)
        return 0;
    size_t len = strnlen(*s, max + 1);
    if (len <= max && cds_utf8_valid(*s, len))
        return 0;
    *s = NULL;
    return 1;
}

int
cds_update_drop_unkept(cds_update_t *u)
{
    return drop_if_unkept(&u->org_unit, CDS_MAX_CODE)
           + drop_if_unkept(&u->indicator, CDS_MAX_CODE)
           + drop_if_unkept(&u->period, CDS_MAX_CODE)
           + drop_if_unkept(&u->disagg, CDS_MAX_CODE)
           + drop_if_unkept(&u->value, CDS_MAX_VALUE)
           + drop_if_unkept(&u->comment, CDS_MAX_COMMENT)
           + drop_if_unkept(&u->stored_by, CDS_MAX_STORED_BY);
}

const char *
cds_update_field(const cds_update_t *u, const char *name)
{
    const struct { const char *name, *value; } f[] = {
        { "orgunit", u->org_unit }, { "dataelement", u->indicator },
        { "period", u->period }, { "categoryoptioncombo", u->disagg },
        { "value", u->value }, { "comment", u->comment },
        { "storedby", u->stored_by },
    };
    for (size_t i = 0; name && i < sizeof f / sizeof f[0]; i++)
        if (strcmp(f[i].name, name) == 0)
            return f[i].value;
    return NULL;
}
