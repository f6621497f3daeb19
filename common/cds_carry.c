/*  cds_carry: see cds_carry.h for the format and its promises. */
#include "cds_carry.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VN_OFFSET_MS (7ull * 3600u * 1000u)

char *
cds_carry_time_vn(char *buf, size_t len, uint64_t ms)
{
    struct tm tm;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (cds_vn_tm(ms, &tm) == 0)
        strftime(buf, len, "%Y-%m-%d %H:%M:%S (UTC+07:00)", &tm);
    return buf;
}

int
cds_vn_tm(uint64_t ms, struct tm *tm)
{
    time_t secs = (time_t)((ms + VN_OFFSET_MS) / 1000);
    return gmtime_r(&secs, tm) ? 0 : -1;
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void
cds_carry_destroy(cds_carry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_carry_t *self = *self_p;
    cds_msg_free(self->header);
    free(self->env);
    free(self->env_len);
    free(self->env_off);
    free(self->data);
    free(self->summary_buf);
    free(self);
    *self_p = NULL;
}

/* The text part: magic line, "summary-bytes N" line, N bytes of UTF-8.
 * *pos is left after it. */
static int
read_summary(cds_carry_t *c, const char *path, size_t *pos, char *err,
             size_t errlen)
{
    size_t m = sizeof CDS_CARRY_MAGIC - 1;
    if (c->len < m || memcmp(c->data, CDS_CARRY_MAGIC, m) != 0) {
        snprintf(err, errlen, "%s: offset 0: not a cdsync carry file "
                 "(expected the line \"CDSYNC-CARRY 1\")", path);
        return CDS_EMALFORMED;
    }
    const char *line = (const char *)c->data + m;
    const char *nl = memchr(line, '\n', c->len - m < 32 ? c->len - m : 32);
    char *end = NULL;
    unsigned long n = 0;
    if (nl && strncmp(line, "summary-bytes ", 14) == 0) {
        errno = 0;
        n = strtoul(line + 14, &end, 10);
    }
    if (!nl || !end || end != nl || errno || end == line + 14) {
        snprintf(err, errlen, "%s: offset %zu: expected \"summary-bytes "
                 "N\"", path, m);
        return CDS_EMALFORMED;
    }
    *pos = (size_t)(nl - (const char *)c->data) + 1;
    if (n > CDS_CARRY_MAX_SUMMARY || n > c->len - *pos) {
        snprintf(err, errlen, "%s: offset %zu: summary-bytes %lu: over "
                 "%u or past the end of the file", path, m, n,
                 CDS_CARRY_MAX_SUMMARY);
        return CDS_ETOOBIG;
    }
    if (!cds_utf8_valid((const char *)c->data + *pos, n)
        || memchr(c->data + *pos, 0, n)) {
        snprintf(err, errlen, "%s: offset %zu: summary is not UTF-8 text",
                 path, *pos);
        return CDS_EMALFORMED;
    }
    c->summary_buf = strndup((const char *)c->data + *pos, n);
    c->summary = c->summary_buf;
    *pos += n;
    return c->summary_buf ? CDS_OK : CDS_ENOMEM;
}

/* One record at *pos: its length within bound and the file. */
static int
read_record(const cds_carry_t *c, const char *path, size_t *pos,
            size_t body_end, size_t bound, const char *what,
            const uint8_t **rec, size_t *rec_len, char *err, size_t errlen)
{
    if (body_end - *pos < 4) {
        snprintf(err, errlen, "%s: offset %zu: %s: file ends before its "
                 "length", path, *pos, what);
        return CDS_EMALFORMED;
    }
    uint32_t n = get_u32(c->data + *pos);
    if (n == 0 || n > bound || n > body_end - *pos - 4) {
        snprintf(err, errlen, "%s: offset %zu: %s: length %u (allowed "
                 "1..%zu, %zu bytes left)", path, *pos, what, n, bound,
                 body_end - *pos - 4);
        return n > bound ? CDS_ETOOBIG : CDS_EMALFORMED;
    }
    *rec = c->data + *pos + 4;
    *rec_len = n;
    *pos += 4 + (size_t)n;
    return CDS_OK;
}

/* The checksum over everything before the last CDS_CARRY_SUM_BYTES. */
static int
check_sum(const cds_carry_t *c, const char *path, char *err, size_t errlen)
{
    uint8_t sum[CDS_CARRY_SUM_BYTES];
    size_t body = c->len - CDS_CARRY_SUM_BYTES;
    char want[2 * CDS_CARRY_SUM_BYTES + 1], got[2 * CDS_CARRY_SUM_BYTES + 1];
    crypto_generichash(sum, sizeof sum, c->data, body, NULL, 0);
    if (sodium_memcmp(sum, c->data + body, sizeof sum) == 0)
        return CDS_OK;
    snprintf(err, errlen, "%s: offset %zu: checksum: file says %.16s..., "
             "its bytes give %.16s...: the file is damaged or was changed; "
             "nothing in it is used", path, body,
             cds_hex(want, c->data + body, sizeof sum),
             cds_hex(got, sum, sizeof sum));
    return CDS_ECORRUPT;
}

/* Header record: decodes, version, kind, count. */
static int
read_header(cds_carry_t *c, const char *path, size_t *pos, size_t body_end,
            Cdsync__CarryKind want, char *err, size_t errlen)
{
    const uint8_t *rec;
    size_t n, at = *pos;
    int rc = read_record(c, path, pos, body_end, CDS_CARRY_MAX_HEADER,
                         "header", &rec, &n, err, errlen);
    if (rc != CDS_OK)
        return rc;
    c->header = cds_msg_decode(&cdsync__carry_header__descriptor, rec, n,
                               &rc);
    if (!c->header) {
        snprintf(err, errlen, "%s: offset %zu: header does not decode "
                 "(%s)", path, at, cds_strerror(rc));
        return CDS_EMALFORMED;
    }
    const Cdsync__CarryHeader *h = c->header;
    if (h->version != CDS_CARRY_VERSION) {
        snprintf(err, errlen, "%s: offset %zu: header: version %u (this "
                 "program reads %d)", path, at, h->version,
                 CDS_CARRY_VERSION);
        return CDS_EVERSION;
    }
    if (h->kind != want) {
        snprintf(err, errlen, "%s: offset %zu: header: kind %d: this is %s",
                 path, at, (int)h->kind,
                 h->kind == CDSYNC__CARRY_KIND__CARRY_BATCHES
                     ? "a batches file (for the aggregator's import-batches)"
                 : h->kind == CDSYNC__CARRY_KIND__CARRY_RECEIPTS
                     ? "a receipt file (for the agent's import-receipt)"
                     : "neither a batches nor a receipt file");
        return CDS_EMALFORMED;
    }
    if (h->count > CDS_CARRY_MAX_RECORDS || h->agent.len != CDS_PK_BYTES
        || h->aggregator.len != CDS_PK_BYTES) {
        snprintf(err, errlen, "%s: offset %zu: header: count %u (at most "
                 "%u) or a key not %d bytes", path, at, h->count,
                 CDS_CARRY_MAX_RECORDS, CDS_PK_BYTES);
        return CDS_EMALFORMED;
    }
    return CDS_OK;
}

/* Every envelope record, then nothing but the checksum. */
static int
read_envelopes(cds_carry_t *c, const char *path, size_t pos, size_t body_end,
               char *err, size_t errlen)
{
    size_t n = c->header->count;
    c->env = calloc(n ? n : 1, sizeof *c->env);
    c->env_len = calloc(n ? n : 1, sizeof *c->env_len);
    c->env_off = calloc(n ? n : 1, sizeof *c->env_off);
    if (!c->env || !c->env_len || !c->env_off)
        return CDS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "envelope %zu of %zu", i + 1, n);
        c->env_off[i] = pos;
        int rc = read_record(c, path, &pos, body_end, CDS_MAX_MSG_BYTES,
                             what, &c->env[i], &c->env_len[i], err, errlen);
        if (rc != CDS_OK)
            return rc;
    }
    c->n = n;
    if (pos != body_end) {
        snprintf(err, errlen, "%s: offset %zu: %zu unexpected bytes after "
                 "the %zu envelopes the header announces", path, pos,
                 body_end - pos, n);
        return CDS_EMALFORMED;
    }
    return CDS_OK;
}

/* Whole file in memory: a regular file within the bound. */
static int
slurp(cds_carry_t *c, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    int rc = CDS_EIO;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        rc = CDS_EMALFORMED;
    } else if ((uint64_t)st.st_size > CDS_CARRY_MAX_BYTES) {
        snprintf(err, errlen, "%s: %lld bytes: over the bound of %u bytes",
                 path, (long long)st.st_size, CDS_CARRY_MAX_BYTES);
        rc = CDS_ETOOBIG;
    } else if (!(c->data = malloc((size_t)st.st_size + 1))) {
        rc = CDS_ENOMEM;
    } else {
        ssize_t got = 0;
        size_t want = (size_t)st.st_size;
        while (c->len < want
               && (got = read(fd, c->data + c->len, want - c->len)) > 0)
            c->len += (size_t)got;
        rc = c->len == want && got >= 0 ? CDS_OK : CDS_EIO;
        if (rc != CDS_OK)
            snprintf(err, errlen, "%s: short read: %s", path,
                     got < 0 ? strerror(errno) : "file changed");
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int
cds_carry_read(const char *path, Cdsync__CarryKind want, cds_carry_t **out,
               char *err, size_t errlen)
{
    cds_carry_t *c = calloc(1, sizeof *c);
    size_t pos = 0;
    int rc = c ? slurp(c, path, err, errlen) : CDS_ENOMEM;
    *out = NULL;
    if (rc == CDS_OK && c->len < sizeof CDS_CARRY_MAGIC + CDS_CARRY_SUM_BYTES) {
        snprintf(err, errlen, "%s: %zu bytes: too short for a carry file",
                 path, c->len);
        rc = CDS_EMALFORMED;
    }
    /* The checksum first: a damaged file is named as such, whatever
     * byte was changed, and no field of it is trusted. */
    if (rc == CDS_OK && memcmp(c->data, CDS_CARRY_MAGIC,
                               sizeof CDS_CARRY_MAGIC - 1) == 0)
        rc = check_sum(c, path, err, errlen);
    size_t body_end = c && c->len > CDS_CARRY_SUM_BYTES
                          ? c->len - CDS_CARRY_SUM_BYTES : 0;
    if (rc == CDS_OK)
        rc = read_summary(c, path, &pos, err, errlen);
    if (rc == CDS_OK)
        rc = read_header(c, path, &pos, body_end, want, err, errlen);
    if (rc == CDS_OK)
        rc = read_envelopes(c, path, pos, body_end, err, errlen);
    if (rc == CDS_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    if (rc != CDS_OK)
        cds_carry_destroy(&c);
    *out = c;
    return rc;
}

int
cds_carry_check_target(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (!path || !*path) {
        snprintf(err, errlen, "no output file given");
        return CDS_EUSAGE;
    }
    if (lstat(path, &st) == 0) {
        snprintf(err, errlen, "%s: already exists%s; choose a new file name "
                 "(nothing is ever overwritten)", path,
                 S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
        return CDS_EUSAGE;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CDS_EIO;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: directory %s: %s", path, dir,
                 errno ? strerror(errno) : "not a directory");
        return CDS_EIO;
    }
    return CDS_OK;
}

/* The file's bytes before the checksum: text part, header, envelopes. */
static uint8_t *
build(Cdsync__CarryHeader *h, const char *summary, uint8_t *const *env,
      const size_t *env_len, size_t n, size_t *len, int *rc)
{
    size_t slen = strlen(summary), hlen, total;
    char line[64];
    h->count = (uint32_t)n;
    hlen = cdsync__carry_header__get_packed_size(h);
    int ll = snprintf(line, sizeof line, "summary-bytes %zu\n", slen);
    total = sizeof CDS_CARRY_MAGIC - 1 + (size_t)ll + slen + 4 + hlen
            + CDS_CARRY_SUM_BYTES;
    for (size_t i = 0; i < n; i++)
        total += 4 + env_len[i];
    *rc = CDS_ETOOBIG;
    if (n > CDS_CARRY_MAX_RECORDS || slen > CDS_CARRY_MAX_SUMMARY
        || hlen > CDS_CARRY_MAX_HEADER || total > CDS_CARRY_MAX_BYTES)
        return NULL;
    uint8_t *buf = malloc(total), *p = buf;
    *rc = CDS_ENOMEM;
    if (!buf)
        return NULL;
    memcpy(p, CDS_CARRY_MAGIC, sizeof CDS_CARRY_MAGIC - 1);
    p += sizeof CDS_CARRY_MAGIC - 1;
    memcpy(p, line, (size_t)ll);
    p += ll;
    memcpy(p, summary, slen);
    p += slen;
    put_u32(p, (uint32_t)hlen);
    p += 4 + cdsync__carry_header__pack(h, p + 4);
    for (size_t i = 0; i < n; i++) {
        put_u32(p, (uint32_t)env_len[i]);
        memcpy(p + 4, env[i], env_len[i]);
        p += 4 + env_len[i];
    }
    crypto_generichash(p, CDS_CARRY_SUM_BYTES, buf, (size_t)(p - buf), NULL,
                       0);
    *len = total;
    *rc = CDS_OK;
    return buf;
}

/* Temporary file beside path, written and synced. */
static int
write_temp(const char *path, const uint8_t *buf, size_t len, char *tmp,
           size_t tmplen, char *err, size_t errlen)
{
    snprintf(tmp, tmplen, "%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);   /* O_CREAT|O_EXCL: no symlink */
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        return CDS_EIO;
    }
    size_t done = 0;
    ssize_t w = 0;
    while (done < len && (w = write(fd, buf + done, len - done)) > 0)
        done += (size_t)w;
    int rc = done == len && fchmod(fd, 0644) == 0 && fsync(fd) == 0
                 ? CDS_OK : CDS_EIO;
    if (rc != CDS_OK)
        snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == CDS_OK) {
        snprintf(err, errlen, "%s: close failed: %s", tmp, strerror(errno));
        rc = CDS_EIO;
    }
    return rc;
}

int
cds_carry_write(const char *path, Cdsync__CarryHeader *h,
                const char *summary, uint8_t *const *env,
                const size_t *env_len, size_t n, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    size_t len = 0;
    int rc = cds_carry_check_target(path, err, errlen);
    if (rc != CDS_OK)
        return rc;
    uint8_t *buf = build(h, summary, env, env_len, n, &len, &rc);
    if (!buf) {
        snprintf(err, errlen, "%s: %s (at most %u envelopes, %u bytes)",
                 path, rc == CDS_ETOOBIG ? "too big for one file"
                                         : "out of memory",
                 CDS_CARRY_MAX_RECORDS, CDS_CARRY_MAX_BYTES);
        return rc;
    }
    rc = write_temp(path, buf, len, tmp, sizeof tmp, err, errlen);
    free(buf);
    if (rc == CDS_OK)
        rc = cds_publish_file(tmp, path, false, err, errlen);
    else if (tmp[0])
        unlink(tmp);
    return rc;
}
