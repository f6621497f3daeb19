/*  cds_util: clocks, hex (libsodium), whole-file reads, UTF-8 checks,
 *  mkdir -p and human-readable times. */
#include "cds_util.h"
#include "cds_err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t
clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
cds_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

uint64_t
cds_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

char *
cds_hex(char *out, const uint8_t *in, size_t n)
{
    return sodium_bin2hex(out, 2 * n + 1, in, n);
}

/* On failure out may hold a partial decode; callers must not use it. */
int
cds_unhex(uint8_t *out, size_t n, const char *hex)
{
    size_t bin_len = 0;

    if (!hex || strlen(hex) != 2 * n)
        return -1;
    if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin_len, NULL) != 0)
        return -1;
    return bin_len == n ? 0 : -1;
}

/* Reads until EOF rather than trusting st_size: the file may grow, or be a
 * pipe. At most max+1 bytes are ever buffered. */
static int
read_fd(int fd, size_t max, char **data, size_t *len)
{
    size_t cap = 4096, used = 0;
    size_t limit = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2; /* room for NUL */
    char *buf = malloc(cap);

    if (!buf)
        return CDS_ENOMEM;
    for (;;) {
        if (used + 1 >= cap) {
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            char *nbuf = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nbuf) {
                free(buf);
                return ncap > cap ? CDS_ENOMEM : CDS_ETOOBIG;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + used, cap - used - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            free(buf);
            errno = saved;
            return CDS_EIO;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used > max) {
            free(buf);
            return CDS_ETOOBIG;
        }
    }
    buf[used] = '\0';
    *data = buf;
    if (len)
        *len = used;
    return CDS_OK;
}

int
cds_read_file(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *data = NULL;
    if (len)
        *len = 0;
    if (fd < 0)
        return CDS_EIO;
    int rc = read_fd(fd, max, data, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Length of the sequence led by byte c, or 0 if c cannot lead one. */
static int
utf8_seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0; /* continuation, C0/C1 overlong, > U+10FFFF */
}

/* Decode one code point from s[0..len); returns its length, or 0 when
 * ill-formed. Hand-written: neither libsodium nor SQLite exports a strict
 * UTF-8 validator. Follows RFC 3629 / Unicode table 3-7. */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    int n = utf8_seq_len(s[0]);

    if (n == 0 || (size_t)n > len)
        return 0;
    if (n == 1) {
        *cp = s[0];
        return 1;
    }
    uint32_t c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0; /* overlong, out of range or surrogate */
    *cp = c;
    return (size_t)n;
}

bool
cds_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;

    while (i < len) {
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static bool
is_combining(uint32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
           (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F);
}

/* Ill-formed bytes count one column each, as a terminal shows U+FFFD. */
size_t
cds_utf8_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, width = 0;
    uint32_t cp;

    while (i < len) {
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            width++;
            i++;
            continue;
        }
        if (!is_combining(cp))
            width++;
        i += n;
    }
    return width;
}

static int
mkdir_one(const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int
cds_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0) {
        errno = ENOENT;
        return -1;
    }
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    char *p = buf + 1;
#ifdef _WIN32
    /* "C:/...": the drive is there (_mkdir("C:") fails); '\\' separates */
    if (n >= 3 && buf[1] == ':' && (buf[2] == '/' || buf[2] == '\\'))
        p = buf + 3;
#endif
    for (; *p; p++) {
#ifdef _WIN32
        if (*p != '/' && *p != '\\')
            continue;
#else
        if (*p != '/')
            continue;
#endif
        char sep = *p;
        *p = '\0';
        int rc = mkdir_one(buf, mode);
        *p = sep;
        if (rc != 0)
            return -1;
    }
    return mkdir_one(buf, mode);
}

char *
cds_format_age(char *buf, size_t len, uint64_t ms)
{
    uint64_t s = ms / 1000;

    if (len == 0)
        return buf;
    if (s == 0)
        snprintf(buf, len, "just now");
    else if (s < 60)
        snprintf(buf, len, "%llu s ago", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%llu min ago", (unsigned long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, len, "%llu h ago", (unsigned long long)(s / 3600));
    else
        snprintf(buf, len, "%llu day%s ago", (unsigned long long)(s / 86400),
                 s / 86400 == 1 ? "" : "s");
    return buf; /* snprintf truncates safely when len is short */
}

char *
cds_format_span(char *buf, size_t len, uint64_t ms)
{
    uint64_t s = ms / 1000, m = s / 60, h = m / 60, d = h / 24;
    if (len == 0)
        return buf;
    if (s < 60)
        snprintf(buf, len, "%llu s", (unsigned long long) s);
    else if (m < 60)
        snprintf(buf, len, "%llu min", (unsigned long long) m);
    else if (h < 24)
        snprintf(buf, len, "%llu h %llu min", (unsigned long long) h,
                 (unsigned long long) (m % 60));
    else
        snprintf(buf, len, "%llu day%s %llu h", (unsigned long long) d,
                 d == 1 ? "" : "s", (unsigned long long) (h % 24));
    return buf;
}

/* A buffer too short for the whole stamp gets "" rather than a prefix
 * that could be mistaken for a time. */
char *
cds_format_time(char *buf, size_t len, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char date[32];

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (!gmtime_r(&secs, &tm) ||
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return buf;
    int n = snprintf(buf, len, "%s.%03uZ", date, (unsigned)(ms % 1000));
    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
    return buf;
}

char *
cds_ctl_escape(const char *s, bool keep_ws)
{
    if (!s)
        s = "";
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char) *p;
        bool ws = c == '\t' || c == '\n' || c == '\r';
        n += c >= 0x20 && c != 0x7f ? 1 : ws ? (keep_ws ? 1 : 2) : 4;
    }
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char) *p;
        bool ws = c == '\t' || c == '\n' || c == '\r';
        if ((c >= 0x20 && c != 0x7f) || (ws && keep_ws))
            *o++ = (char) c;
        else if (ws) {
            *o++ = '\\';
            *o++ = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        } else
            o += snprintf(o, 5, "\\x%02x", c);
    }
    *o = '\0';
    return out;
}

int
cds_fsync_dir(const char *path)
{
    char copy[PATH_MAX];
    int n = snprintf(copy, sizeof copy, "%s", path);
    if (n < 0 || (size_t) n >= sizeof copy) {
        errno = ENAMETOOLONG;
        return -1;
    }
#ifdef _WIN32
    return cds_win32_fsync_dir(dirname(copy));   /* no open() of a dir */
#endif
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int
cds_temp_beside(const char *path, char *tmp, size_t tmplen, char *err,
                size_t errlen)
{
    int n = snprintf(tmp, tmplen, "%s.tmp-XXXXXX", path);
    int fd = n > 0 && (size_t) n < tmplen ? mkostemp(tmp, O_CLOEXEC) : -1;
    if (fd < 0 || fchmod(fd, 0644) != 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        tmp[0] = '\0';
        return CDS_EIO;
    }
    close(fd);
    return CDS_OK;
}

/* fsync a file by name. 0 or -1 with errno. */
static int
fsync_path(const char *path)
{
#ifdef _WIN32
    int fd = open(path, O_RDWR | O_CLOEXEC);   /* FlushFileBuffers: write access */
#else
    int fd = open(path, O_RDONLY | O_CLOEXEC);
#endif
    if (fd < 0)
        return -1;
    int rc = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return rc;
}

int
cds_publish_file(const char *tmp, const char *path, bool replace, char *err,
                 size_t errlen)
{
    int rc = CDS_OK;
    if (fsync_path(tmp) != 0)
        rc = CDS_EIO;
    else if (replace ? rename(tmp, path) == 0
                     : renameat2(AT_FDCWD, tmp, AT_FDCWD, path,
                                 RENAME_NOREPLACE) == 0)
        return cds_fsync_dir(path) == 0 ? CDS_OK
                                        : (unlink(path), CDS_EIO);
    else if (!replace && errno == EINVAL && link(tmp, path) == 0)
        rc = unlink(tmp) == 0 && cds_fsync_dir(path) == 0 ? CDS_OK : CDS_EIO;
    else
        rc = errno == EEXIST ? CDS_EUSAGE : CDS_EIO;
    if (rc != CDS_OK)
        snprintf(err, errlen, "%s: %s", path, rc == CDS_EUSAGE
                 ? "already exists; choose a new file name" : strerror(errno));
    if (rc != CDS_OK)
        unlink(tmp);
    return rc;
}
