/*  cds_id: identity files and public identities. See cds_id.h.
 *
 *  Secret material only ever lives in the sodium_malloc'd identity (guard
 *  pages, wiped by sodium_free) or in sodium_malloc'd scratch buffers, and
 *  never reaches a log or an error message. */
#include "cds_id.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LABEL_MAX 128          /* bytes; keeps the line under inih's 200 */
#define FILE_MAX 4096          /* an identity file is ~350 bytes */
#define PUBID_PREFIX "cds1:"
#define PUBID_B64_LEN 86       /* base64url, no padding, of 64 bytes */
#define SIGN_SK_B64 (sodium_base64_ENCODED_LEN(crypto_sign_SECRETKEYBYTES, \
                     sodium_base64_VARIANT_ORIGINAL))
#define CURVE_SK_B64 (sodium_base64_ENCODED_LEN(crypto_box_SECRETKEYBYTES, \
                      sodium_base64_VARIANT_ORIGINAL))

/* Byte arrays only: sodium_malloc does not align the returned pointer. */
struct cds_identity {
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES]; /* Ed25519 seed || pk */
    uint8_t sign_pk[CDS_PK_BYTES];               /* Ed25519 public key */
    uint8_t curve_sk[crypto_box_SECRETKEYBYTES]; /* X25519 secret */
    uint8_t curve_pk[CDS_PK_BYTES];              /* X25519 public key */
    char label[LABEL_MAX + 1];                   /* free text, NUL-ended */
};

/* Parser state for one identity file. */
typedef struct {
    cds_identity_t *id;        /* destination, sodium_malloc'd */
    uint8_t pub_sign[CDS_PK_BYTES];  /* from the public line */
    uint8_t pub_curve[CDS_PK_BYTES]; /* from the public line */
    unsigned seen;             /* bit per field already read */
    const char *bad_field;     /* first field that failed, static string */
    const char *bad_reason;    /* why, static string */
} parse_t;

/* Bits of parse_t.seen, in the order of field_names[]. */
enum { SEEN_LABEL = 1, SEEN_PUBLIC = 2, SEEN_SIGN = 4, SEEN_CURVE = 8,
       SEEN_ALL = 15 };

static void __attribute__((format(printf, 3, 4)))
set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    if (n < 0)
        errbuf[0] = '\0';      /* truncation is acceptable for a message */
}

static int
sodium_ready(void)
{
    return sodium_init() < 0 ? -1 : 0;  /* 1 (already done) is fine */
}

/* Labels go into an INI line as is: no control characters, no ';' (inih
 * inline comments), no edge spaces (inih strips them), valid UTF-8. */
static bool
label_ok(const char *label)
{
    size_t len = strnlen(label, LABEL_MAX + 1);
    if (len > LABEL_MAX || !cds_utf8_valid(label, len))
        return false;
    if (len > 0 && (label[0] == ' ' || label[len - 1] == ' '))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) label[i];
        if (c < 0x20 || c == 0x7f || c == ';')
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

/* Scratch for the file text; sodium_malloc'd because it holds secrets. */
typedef struct {
    char sign_b64[SIGN_SK_B64];
    char curve_b64[CURVE_SK_B64];
    char pubid[CDS_PUBID_LEN];
    char text[1024];
} filetext_t;

static int
render(const cds_identity_t *id, filetext_t *ft, size_t *len)
{
    sodium_bin2base64(ft->sign_b64, sizeof ft->sign_b64, id->sign_sk,
                      sizeof id->sign_sk, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(ft->curve_b64, sizeof ft->curve_b64, id->curve_sk,
                      sizeof id->curve_sk, sodium_base64_VARIANT_ORIGINAL);
    cds_pubid_format(id->sign_pk, id->curve_pk, ft->pubid, sizeof ft->pubid);
    int n = snprintf(ft->text, sizeof ft->text,
                     "# cdsync identity - SECRET, keep mode 0600\n"
                     "[identity]\n"
                     "label = %s\n"
                     "public = %s\n"
                     "sign_secret = %s\n"
                     "curve_secret = %s\n",
                     id->label, ft->pubid, ft->sign_b64, ft->curve_b64);
    if (n < 0 || (size_t) n >= sizeof ft->text)
        return -1;
    *len = (size_t) n;
    return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Make the new directory entry durable too (best effort: a failure here
 * leaves a written, fsynced file, which is still usable). */
static void
fsync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t) (slash - path) : 0;
    if (!slash)
        memcpy(dir, ".", 2);
    else if (n == 0)
        memcpy(dir, "/", 2);
    else if (n < sizeof dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void) fsync(fd);
        close(fd);
    }
}

/* Write text to a new file at path: O_EXCL, 0600, fsync. CDS_OK/CDS_EIO. */
static int
write_new_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        cds_log(CDS_LOG_ERROR, "identity_create_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        return CDS_EIO;
    }
    int rc = CDS_OK;
    if (write_all(fd, text, len) != 0 || fsync(fd) != 0) {
        cds_log(CDS_LOG_ERROR, "identity_write_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        rc = CDS_EIO;
    }
    if (close(fd) != 0 && rc == CDS_OK) {
        cds_log(CDS_LOG_ERROR, "identity_write_failed", "path=%s error=%s",
                cds_logq(path), cds_logq(strerror(errno)));
        rc = CDS_EIO;
    }
#ifdef _WIN32
    if (rc == CDS_OK && cds_win32_key_protect(path) != 0) {
        cds_log(CDS_LOG_ERROR, "identity_protect_failed", "path=%s",
                cds_logq(path));       /* 0600 is the owner-only ACL here */
        rc = CDS_EIO;
    }
#endif
    if (rc != CDS_OK)
        unlink(path);          /* ours: O_EXCL created it */
    else
        fsync_parent(path);
    return rc;
}

int
cds_identity_generate(const char *path, const char *label)
{
    if (!label)
        label = "";
    if (!label_ok(label)) {
        cds_log(CDS_LOG_ERROR, "identity_bad_label", "path=%s label=%s",
                cds_logq(path), cds_logq(label));
        return CDS_EBADFIELD;
    }
    if (sodium_ready() != 0)
        return CDS_ERROR;
    int rc = CDS_ENOMEM;
    cds_identity_t *id = sodium_malloc(sizeof *id);
    filetext_t *ft = sodium_malloc(sizeof *ft);
    if (!id || !ft)
        goto out;
    memset(id, 0, sizeof *id);
    crypto_sign_keypair(id->sign_pk, id->sign_sk);
    crypto_box_keypair(id->curve_pk, id->curve_sk);
    memcpy(id->label, label, strlen(label) + 1);
    size_t len = 0;
    rc = CDS_ERROR;
    if (render(id, ft, &len) != 0)
        goto out;
    rc = write_new_file(path, ft->text, len);
out:
    if (ft)
        sodium_free(ft);       /* wipes */
    if (id)
        sodium_free(id);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */

static int
fail_field(parse_t *p, const char *field, const char *reason)
{
    if (!p->bad_field) {
        p->bad_field = field;
        p->bad_reason = reason;
    }
    return 0;                  /* inih: error on this line */
}

/* Decode base64 (original variant) of exactly n bytes into out. */
static int
secret_decode(uint8_t *out, size_t n, const char *b64)
{
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, n, b64, strlen(b64), NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return (got == n && *end == '\0') ? 0 : -1;
}

static const char *const field_names[] = {
    "label", "public", "sign_secret", "curve_secret"
};

/* Index of a known key in field_names, or -1. */
static int
field_index(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, field_names[i]) == 0)
            return i;
    return -1;
}

static int
on_ini_pair(void *user, const char *section, const char *name,
            const char *value)
{
    parse_t *p = user;
    int idx = field_index(name);
    unsigned bit = idx < 0 ? 0 : 1u << idx;
    if (strcmp(section, "identity") != 0)
        return fail_field(p, "section", "unknown section");
    if (bit == 0)
        return fail_field(p, "key", "unknown key");
    if (p->seen & bit)
        return fail_field(p, field_names[idx], "given twice");
    p->seen |= bit;
    if (bit == SEEN_LABEL) {
        if (!label_ok(value))
            return fail_field(p, "label", "too long or control characters");
        memcpy(p->id->label, value, strlen(value) + 1);
    } else if (bit == SEEN_PUBLIC) {
        if (cds_pubid_parse(value, p->pub_sign, p->pub_curve) != CDS_OK)
            return fail_field(p, "public", "not a cds1: identity");
    } else if (bit == SEEN_SIGN) {
        if (secret_decode(p->id->sign_sk, sizeof p->id->sign_sk, value))
            return fail_field(p, "sign_secret", "not 64 bytes of base64");
    } else if (secret_decode(p->id->curve_sk, sizeof p->id->curve_sk, value)) {
        return fail_field(p, "curve_secret", "not 32 bytes of base64");
    }
    return 1;
}

/* inih copies each line into a buffer on its own stack frame (INI_USE_STACK
 * in the Debian build) that we cannot reach; once it has returned, overwrite
 * that stack region. Best effort: the compiler may place frames otherwise. */
static void __attribute__((noinline))
scrub_stack(void)
{
    unsigned char pad[4096];
    sodium_memzero(pad, sizeof pad);
}

/* Read the whole file from fd into a sodium_malloc'd NUL-ended buffer.
 * cds_read_file is not used: its malloc'd buffer would not be wiped. */
static char *
read_secret_fd(int fd, size_t size)
{
    char *buf = sodium_malloc(size + 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    if (got != size) {
        sodium_free(buf);
        return NULL;
    }
    buf[size] = '\0';
    return buf;
}

/* Derive both public keys from the secrets and compare them with the public
 * line. The Ed25519 key pair is re-derived from its seed, so a tampered seed
 * or embedded public half is caught, not only a tampered public line. */
static int
keys_consistent(cds_identity_t *id, const parse_t *p)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t pk[CDS_PK_BYTES];
    int ok = 1;
    crypto_sign_ed25519_sk_to_seed(seed, id->sign_sk);
    crypto_sign_seed_keypair(pk, sk, seed);
    if (sodium_memcmp(sk, id->sign_sk, sizeof sk) != 0
        || sodium_memcmp(pk, p->pub_sign, sizeof pk) != 0)
        ok = 0;
    crypto_sign_ed25519_sk_to_pk(id->sign_pk, id->sign_sk);
    if (crypto_scalarmult_base(pk, id->curve_sk) != 0
        || sodium_memcmp(pk, p->pub_curve, sizeof pk) != 0)
        ok = 0;
    memcpy(id->curve_pk, pk, sizeof pk);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return ok;
}

/* Parse text into id. CDS_OK or CDS_EMALFORMED with errbuf set. */
static int
parse_identity(const char *path, const char *text, cds_identity_t *id,
               char *errbuf, size_t errlen)
{
    parse_t p = { .id = id };
#ifdef CDS_INI_WIN32
    /* kernel32's INI reader (common/win32/inih/ini.h) reads the file by
     * name, after open_secret checked its ACL and size; it reports no line
     * (and keeps its own copy of the text, which is not wiped). */
    (void) text;
    int line = ini_parse_win32(path, on_ini_pair, &p, NULL, 0);
    scrub_stack();
    if (line != 0) {
        set_err(errbuf, errlen, "%s: %s: %s", path,
                p.bad_field ? p.bad_field : "syntax",
                p.bad_reason ? p.bad_reason : "not an INI line");
        return CDS_EMALFORMED;
    }
#else
    int line = ini_parse_string(text, on_ini_pair, &p);
    scrub_stack();
    if (line != 0) {
        set_err(errbuf, errlen, "%s:%d: %s: %s", path, line,
                p.bad_field ? p.bad_field : "syntax",
                p.bad_reason ? p.bad_reason : "not an INI line");
        return CDS_EMALFORMED;
    }
#endif
    if (p.seen != SEEN_ALL) {
        const char *missing = !(p.seen & SEEN_PUBLIC) ? "public"
                              : !(p.seen & SEEN_SIGN) ? "sign_secret"
                              : !(p.seen & SEEN_CURVE) ? "curve_secret"
                                                       : "label";
        set_err(errbuf, errlen, "%s: missing field %s in [identity]", path,
                missing);
        return CDS_EMALFORMED;
    }
    if (!keys_consistent(id, &p)) {
        set_err(errbuf, errlen,
                "%s: field public does not match the secret keys", path);
        return CDS_EMALFORMED;
    }
    return CDS_OK;
}

/* Open path, check it is a regular file only its owner can read, and read
 * it into a wiped-on-free buffer. NULL with *err and errbuf set. */
static char *
open_secret(const char *path, int *err, char *errbuf, size_t errlen)
{
    char *text = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        *err = CDS_EIO;
        set_err(errbuf, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = CDS_EIO;
        set_err(errbuf, errlen, "%s: not a regular file", path);
        goto out;
    }
#ifdef _WIN32
    if (cds_win32_key_private(path, errbuf, errlen) != 0) {
        *err = CDS_EPERM;              /* the ACL, with the fix: cds_acl.c */
        goto out;
    }
#else
    if (st.st_mode & 077) {
        *err = CDS_EPERM;
        set_err(errbuf, errlen,
                "%s: secret key file is readable by group or others "
                "(mode %04o); run: chmod 600 %s",
                path, (unsigned) (st.st_mode & 07777), path);
        goto out;
    }
#endif
    if (st.st_size <= 0 || st.st_size > FILE_MAX) {
        *err = CDS_EMALFORMED;
        set_err(errbuf, errlen, "%s: not an identity file (size %lld)",
                path, (long long) st.st_size);
        goto out;
    }
    text = read_secret_fd(fd, (size_t) st.st_size);
    if (!text) {
        *err = CDS_EIO;
        set_err(errbuf, errlen, "%s: short read", path);
    }
out:
    if (fd >= 0)
        close(fd);
    return text;
}

cds_identity_t *
cds_identity_load(const char *path, int *err, char *errbuf, size_t errlen)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = CDS_ERROR;
    set_err(errbuf, errlen, "%s", "");
    if (sodium_ready() != 0)
        return NULL;
    cds_identity_t *id = NULL;
    char *text = open_secret(path, err, errbuf, errlen);
    if (!text)
        goto out;
    id = sodium_malloc(sizeof *id);
    if (!id) {
        *err = CDS_ENOMEM;
        set_err(errbuf, errlen, "%s: out of memory", path);
        goto out;
    }
    memset(id, 0, sizeof *id);
    *err = parse_identity(path, text, id, errbuf, errlen);
    if (*err != CDS_OK) {
        sodium_free(id);
        id = NULL;
    }
out:
    if (text)
        sodium_free(text);     /* wipes the secret text */
    return id;
}

void
cds_identity_destroy(cds_identity_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_memzero(*self_p, sizeof **self_p);  /* sodium_free wipes too */
    sodium_free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ */
/* Accessors and public identities                                      */

const uint8_t *
cds_identity_sign_pk(const cds_identity_t *self)
{
    return self->sign_pk;
}

const uint8_t *
cds_identity_curve_pk(const cds_identity_t *self)
{
    return self->curve_pk;
}

const uint8_t *
cds_identity_curve_sk(const cds_identity_t *self)
{
    return self->curve_sk;
}

const char *
cds_identity_label(const cds_identity_t *self)
{
    return self->label;
}

void
cds_identity_public(const cds_identity_t *self, char *out, size_t len)
{
    cds_pubid_format(self->sign_pk, self->curve_pk, out, len);
}

int
cds_identity_sign(const cds_identity_t *self, const uint8_t *msg,
                  size_t len, uint8_t sig[CDS_SIG_BYTES])
{
    return crypto_sign_detached(sig, NULL, msg, len, self->sign_sk) == 0
               ? 0
               : -1;
}

void
cds_pubid_format(const uint8_t sign_pk[CDS_PK_BYTES],
                 const uint8_t curve_pk[CDS_PK_BYTES], char *out, size_t len)
{
    uint8_t both[2 * CDS_PK_BYTES];
    size_t plen = strlen(PUBID_PREFIX);
    if (len < plen + PUBID_B64_LEN + 1) {
        if (len > 0)
            out[0] = '\0';     /* caller's buffer is under CDS_PUBID_LEN */
        return;
    }
    memcpy(both, sign_pk, CDS_PK_BYTES);
    memcpy(both + CDS_PK_BYTES, curve_pk, CDS_PK_BYTES);
    memcpy(out, PUBID_PREFIX, plen);
    sodium_bin2base64(out + plen, len - plen, both, sizeof both,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
cds_pubid_parse(const char *s, uint8_t sign_pk[CDS_PK_BYTES],
                uint8_t curve_pk[CDS_PK_BYTES])
{
    uint8_t both[2 * CDS_PK_BYTES];
    size_t plen = strlen(PUBID_PREFIX), got = 0;
    const char *end = NULL;
    if (!s || strncmp(s, PUBID_PREFIX, plen) != 0
        || strnlen(s + plen, PUBID_B64_LEN + 1) != PUBID_B64_LEN)
        return CDS_EMALFORMED;
    if (sodium_init() < 0)
        return CDS_ERROR;
    /* libsodium rejects non-zero padding bits, so the string is canonical */
    if (sodium_base642bin(both, sizeof both, s + plen, PUBID_B64_LEN, NULL,
                          &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0
        || got != sizeof both || *end != '\0')
        return CDS_EMALFORMED;
    memcpy(sign_pk, both, CDS_PK_BYTES);
    memcpy(curve_pk, both + CDS_PK_BYTES, CDS_PK_BYTES);
    return CDS_OK;
}

char *
cds_fingerprint(const uint8_t sign_pk[CDS_PK_BYTES], char *out)
{
    uint8_t h[32];
    if (sodium_init() < 0) {
        /* fails only without a random source, which hashing does not need */
    }
    crypto_generichash(h, sizeof h, sign_pk, CDS_PK_BYTES, NULL, 0);
    sodium_bin2hex(out, CDS_FPR_LEN, h, 8);
    return out;
}
