/*  cds_log: logfmt lines on stderr.
 *  Or in a rotating file (cds_log_to_file), put on fd 2 itself: a rotation
 *  points fd 2 at the null device while it renames (Windows refuses to
 *  rename a file the CRT holds open), then at the fresh file, under
 *  file_lock, which also serialises the writes.
 *  Each line is formatted into one bounded buffer (LINE_MAX_BYTES) and
 *  written with a single write(2), so lines from different threads do not
 *  interleave. An over-long line is cut at a UTF-8 boundary, an open quote is
 *  closed and " truncated=true" appended: logging never fails or aborts. */
#include "cds_log.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define QUOTE_SLOTS 8
#define QUOTE_SLOT_BYTES 1024
#define TRUNC_TAIL "\" truncated=true\n" /* worst case: closes a quote */
#define RATE_SLOTS 64          /* distinct lines tracked at once */
#define REPEAT_ROOM 32         /* " repeated=18446744073709551615" */
#define PRIO_BYTES 3           /* "<3>": the syslog priority for journald */

/* Set once by cds_log_init() before threads start, read-only afterwards. */
static const char *log_program = "cdsync";
static _Atomic cds_log_level_t log_min_level = CDS_LOG_INFO;
static bool log_to_journal;

/* syslog priorities (LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR) by level. */
static const char *const level_prios[] = {"<7>", "<6>", "<4>", "<3>"};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Rate limiting of identical lines: a small table keyed by a hash of the
 * line without its timestamp; a collision only merges two lines' counts.
 * FNV-1a by hand: a non-cryptographic key for a 64-slot table, on every
 * log call, where a libsodium hash would cost ten times more. */
typedef struct {
    uint64_t key;                      /* 0: free */
    uint64_t window_start;             /* mono ms */
    unsigned written;                  /* lines written in the window */
    uint64_t suppressed;               /* lines not written in it */
} rate_slot_t;

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static rate_slot_t rate_slots[RATE_SLOTS];
static unsigned rate_burst = 5;
static unsigned rate_window_ms = 10000;

void
cds_log_set_rate(unsigned burst, unsigned window_ms)
{
    pthread_mutex_lock(&rate_lock);
    rate_burst = burst;
    rate_window_ms = window_ms;
    memset(rate_slots, 0, sizeof rate_slots);
    pthread_mutex_unlock(&rate_lock);
}

static uint64_t
line_key(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* true: write the line; *repeated: lines suppressed before it. The slot of
 * the oldest window is reused when the table is full. */
static bool
rate_allow(const char *line, size_t n, uint64_t *repeated)
{
    const char *p = memchr(line, ' ', n);  /* skip "ts=..." */
    uint64_t key = p ? line_key(p, n - (size_t)(p - line)) : 1;
    uint64_t now = cds_mono_ms();
    bool allow = true;
    *repeated = 0;
    pthread_mutex_lock(&rate_lock);
    if (rate_burst > 0) {
        rate_slot_t *s = NULL, *oldest = &rate_slots[0];
        for (int i = 0; i < RATE_SLOTS && !s; i++) {
            if (rate_slots[i].key == key)
                s = &rate_slots[i];
            else if (rate_slots[i].window_start < oldest->window_start)
                oldest = &rate_slots[i];
        }
        if (!s) {
            s = oldest;
            memset(s, 0, sizeof *s);
            s->key = key;
            s->window_start = now;
        }
        if (now - s->window_start >= rate_window_ms) {
            *repeated = s->suppressed;
            s->window_start = now;
            s->written = 0;
            s->suppressed = 0;
        }
        if (s->written < rate_burst)
            s->written++;
        else {
            s->suppressed++;
            allow = false;
        }
    }
    pthread_mutex_unlock(&rate_lock);
    return allow;
}

void
cds_log_init(const char *program, cds_log_level_t min_level)
{
    log_program = program ? program : "cdsync";
    log_min_level = min_level;
    log_to_journal = cds_log_stderr_is_journal();
}

void
cds_log_set_level(cds_log_level_t min_level)
{
    log_min_level = min_level;
}

/* sd-journal's rule (systemd.exec(5), $JOURNAL_STREAM): the variable holds
 * "<st_dev>:<st_ino>" of the stream systemd connected; it is only ours if
 * fd 2 is still that very file (a child may inherit the variable with its
 * stderr redirected elsewhere). */
bool
cds_log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    int used = 0;
    struct stat st;

    if (!env || sscanf(env, "%llu:%llu%n", &dev, &ino, &used) != 2
        || env[used] != '\0' || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev
        && (unsigned long long)st.st_ino == ino;
}

int
cds_log_level_parse(const char *name, cds_log_level_t *out)
{
    for (int i = 0; name && i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (cds_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* Cut line (n bytes, already > room) so it ends on a whole UTF-8 character
 * and any quoted value is closed; returns the new length with tail added. */
static size_t
truncate_line(char *line, size_t room)
{
    size_t n = room - sizeof TRUNC_TAIL;
    bool in_quote = false, escaped = false;

    while (n > 0 && ((unsigned char)line[n] & 0xC0) == 0x80)
        n--; /* do not split a multibyte character */
    for (size_t i = 0; i < n; i++) {
        if (escaped)
            escaped = false;
        else if (line[i] == '\\' && in_quote)
            escaped = true;
        else if (line[i] == '"')
            in_quote = !in_quote;
    }
    if (escaped)
        n--; /* nor an escape sequence */
    const char *tail = in_quote ? TRUNC_TAIL : &TRUNC_TAIL[1];
    size_t tlen = strlen(tail);
    memcpy(line + n, tail, tlen + 1);
    return n + tlen;
}

/* The rotating file of cds_log_to_file; file_path[0] == 0: plain stderr. */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static char file_path[1024];
static unsigned long long file_max, file_size;
static unsigned file_keep;

#ifdef _WIN32
#define NULL_DEVICE "NUL"
#else
#define NULL_DEVICE "/dev/null"
#endif

/* Open path for append and put it on fd 2; its size in *size. */
static int
file_attach(const char *path, unsigned long long *size)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || dup2(fd, STDERR_FILENO) != STDERR_FILENO) {
        int e = errno;
        close(fd);
        return errno = e, -1;
    }
    close(fd);
    *size = (unsigned long long)st.st_size;
    return 0;
}

/* path.(keep-1) -> path.keep ... path -> path.1, then a fresh path. */
static void
file_rotate(void)
{
    char from[1040], to[1040];
    int null_fd = open(NULL_DEVICE, O_WRONLY);
    if (null_fd >= 0) {                /* let go of the file first */
        dup2(null_fd, STDERR_FILENO);
        close(null_fd);
    }
    if (file_keep == 0) {              /* nothing kept: empty it */
        int fd = open(file_path, O_WRONLY | O_TRUNC);
        if (fd >= 0)
            close(fd);
    }
    for (unsigned i = file_keep; i >= 1; i--) {
        snprintf(to, sizeof to, "%s.%u", file_path, i);
        if (i == 1)
            snprintf(from, sizeof from, "%s", file_path);
        else
            snprintf(from, sizeof from, "%s.%u", file_path, i - 1);
        if (rename(from, to) != 0 && errno != ENOENT)
            break;                     /* keep appending to path */
    }
    file_attach(file_path, &file_size);
}

int
cds_log_to_file(const char *path, unsigned long long max_bytes,
                unsigned keep)
{
    unsigned long long size = 0;
    if (strlen(path) >= sizeof file_path)
        return errno = ENAMETOOLONG, -1;
    if (file_attach(path, &size) != 0)
        return -1;
    pthread_mutex_lock(&file_lock);
    snprintf(file_path, sizeof file_path, "%s", path);
    file_max = max_bytes;
    file_keep = keep;
    file_size = size;
    log_to_journal = false;
    pthread_mutex_unlock(&file_lock);
    return 0;
}

static void
write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report it */
        p += w;
        n -= (size_t)w;
    }
}

void
cds_log(cds_log_level_t level, const char *event, const char *fmt, ...)
{
    char buf[PRIO_BYTES + LINE_MAX_BYTES];
    char *line = buf + PRIO_BYTES;     /* the priority goes in front */
    const size_t line_size = LINE_MAX_BYTES;
    char ts[32];
    int saved_errno = errno; /* callers log, then report errno */

    if (level < log_min_level)
        return;
    if ((unsigned)level > CDS_LOG_ERROR)
        level = CDS_LOG_ERROR;
    int n = snprintf(line, line_size, "ts=%s level=%s prog=%s event=%s",
                     cds_format_time(ts, sizeof ts, cds_now_ms()),
                     level_names[level], log_program, event ? event : "-");
    if (n >= 0 && (size_t)n < line_size - 1 && fmt && fmt[0]) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, fmt);
        int m = vsnprintf(line + n, line_size - (size_t)n, fmt, ap);
        va_end(ap);
        n = m < 0 ? m : m == 0 ? n - 1 : n + m; /* no pairs: no space */
        if (m == 0)
            line[n] = '\0';
    }
    size_t len;
    if (n < 0)
        len = strlen(line);
    else if ((size_t)n + 1 >= line_size) /* +1: the newline must fit */
        len = truncate_line(line, line_size);
    else
        len = (size_t)n;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    uint64_t repeated = 0;
    if (!rate_allow(line, len, &repeated)) {
        errno = saved_errno;
        return;
    }
    if (repeated && len + REPEAT_ROOM < line_size) {
        int r = snprintf(line + len, line_size - len, " repeated=%llu",
                         (unsigned long long)repeated);
        if (r > 0)
            len += (size_t)r;
    }
    line[len++] = '\n';
    line[len] = '\0';
    pthread_mutex_lock(&file_lock);
    if (log_to_journal) {
        memcpy(buf, level_prios[level], PRIO_BYTES);
        write_all(buf, PRIO_BYTES + len);
    } else
        write_all(line, len);
    if (file_path[0] && (file_size += len) >= file_max)
        file_rotate();
    pthread_mutex_unlock(&file_lock);
    errno = saved_errno;
}

/* Escape of c inside quotes, or NULL when c goes through as is. */
static const char *
escape_of(unsigned char c, char tmp[5])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    }
    if (c < 0x20 || c == 0x7F) {
        snprintf(tmp, 5, "\\x%02x", c);
        return tmp;
    }
    return NULL;
}

static bool
needs_quote(const char *s)
{
    if (!s[0])
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7F)
            return true;
    return false;
}

/* Values longer than a slot are cut (at a UTF-8 boundary) and end in "...". */
const char *
cds_logq(const char *s)
{
    static _Thread_local char slots[QUOTE_SLOTS][QUOTE_SLOT_BYTES];
    static _Thread_local unsigned next;
    char *out = slots[next++ % QUOTE_SLOTS];
    const size_t room = QUOTE_SLOT_BYTES - 5; /* '"', "...", '"' would fit */
    size_t n = 0;
    char tmp[5];

    if (!s)
        s = "";
    if (!needs_quote(s)) {
        snprintf(out, QUOTE_SLOT_BYTES, "%s", s);
        if (strlen(s) >= QUOTE_SLOT_BYTES) {
            size_t cut = QUOTE_SLOT_BYTES - 4;
            while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80)
                cut--;
            memcpy(out + cut, "...", 4);
        }
        return out;
    }
    out[n++] = '"';
    for (const char *p = s; *p; p++) {
        const char *esc = escape_of((unsigned char)*p, tmp);
        size_t elen = esc ? strlen(esc) : 1;
        if (n + elen > room) {
            if (((unsigned char)*p & 0xC0) == 0x80) {
                /* stopped mid-character: drop its first bytes too */
                while (n > 1 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
                    n--;
                if (n > 1 && ((unsigned char)out[n - 1] & 0xC0) == 0xC0)
                    n--;
            }
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        if (esc)
            memcpy(out + n, esc, elen);
        else
            out[n] = *p;
        n += elen;
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}
