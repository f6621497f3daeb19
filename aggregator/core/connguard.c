/*  connguard: per-connection bounds of the ROUTER socket. See connguard.h.
 *  Cost: the tick reads /proc/self/statm (one pread on a descriptor kept
 *  open); a sweep is two syscalls per connection (TCP_INFO, SIOCINQ), run
 *  every CONNGUARD_SWEEP_MS or when RSS grew: ~20 ms at 10,000 agents. */
#include "connguard.h"

#include "cds_log.h"
#include "cds_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define TABLE_MAX (1u << 20)           /* fds tracked at most */
#define FLOOR_STEP 512                 /* bytes per sweep a connection's
                                        * allowance may creep (ZMTP pings:
                                        * ~10 B/s); see sweep_one */
/* On the wire a frame of n bytes is a CURVE MESSAGE command ("\x07MESSAGE",
 * 8-byte nonce, 16-byte MAC, 1 flag byte: n + 33) in a ZMTP frame (2-byte
 * header up to 255 bytes, else 9). Exact, so no peer earns credit. */
#define CURVE_OVERHEAD 33
#define wire_bytes(n) \
    ((uint64_t) (n) + CURVE_OVERHEAD + ((n) + CURVE_OVERHEAD < 256 ? 2 : 9))

enum { FREE = 0, PENDING, LIVE };

/* What is logged, each at most once per LOG_WINDOW_MS, then counted: a
 * flood must not flood the log, and cds_log's own limiter only merges
 * identical lines. */
enum { R_CAP, R_RESERVE, R_HELD, R_MULTIPART, R_ACCEPT, R__COUNT };
static const char *const reason_names[R__COUNT] = {
    "pending_handshakes_over_cap", "fd_reserve", "held_bytes_over_bound",
    "multipart_message", "accept_failed",
};
#define LOG_WINDOW_MS 10000

typedef struct {
    uint8_t state;                     /* FREE, PENDING, LIVE */
    uint64_t seq;                      /* accept order: newest = largest */
    struct sockaddr_storage peer;      /* at accept, to re-check the fd */
    socklen_t peer_len;
    uint64_t received;                 /* bytes the server got from it */
    uint64_t floor;                    /* allowance for pings etc. */
} conn_t;

struct connguard {
    pthread_mutex_t mu;                /* table, counts */
    conn_t *table;                     /* indexed by fd */
    unsigned size;                     /* table slots */
    unsigned hi;                       /* 1 + highest fd tracked */
    unsigned open, pending;            /* tracked, of which pending */
    unsigned max_pending;
    uint64_t seq;                      /* accepts seen */
    int statm_fd, fd_dir;              /* kept open from start */
    long page;                         /* bytes per page */
    rlim_t fd_limit;                   /* soft RLIMIT_NOFILE */
    atomic_uint_fast64_t refused;      /* connections shut down */
    atomic_long headroom;              /* free fds, -1 unknown */
    atomic_bool stop;
    bool accept_failed;                /* since the last tick */
    uint64_t log_start;                /* mono ms of the log window */
    unsigned log_count[R__COUNT];      /* events in the window */
    pthread_t thread;
    bool started;
};

/* ---- the table (under mu) --------------------------------------------- */

static conn_t *
slot(connguard_t *self, int fd)
{
    return fd >= 0 && (unsigned) fd < self->size ? &self->table[fd] : NULL;
}

static void
forget(connguard_t *self, conn_t *c)
{
    if (c->state == PENDING)
        self->pending--;
    if (c->state != FREE)
        self->open--;
    memset(c, 0, sizeof *c);
}

/* Still the connection we accepted? libzmq may have closed the fd and the
 * number been reused; the peer's address and port tell. */
static bool
same_peer(int fd, const conn_t *c)
{
    struct sockaddr_storage now;
    socklen_t len = sizeof now;
    if (getpeername(fd, (struct sockaddr *) &now, &len) != 0)
        return false;
    return len == c->peer_len && memcmp(&now, &c->peer, len) == 0;
}

/* Log the first event of reason r in the window; count the others. */
static void
note(connguard_t *self, int r, const char *detail)
{
    if (self->log_count[r]++ > 0)
        return;
    cds_log(CDS_LOG_WARN, r == R_ACCEPT ? "accept_failed"
                                         : "connection_refused",
            "reason=%s %s pending=%u open=%u fd_headroom=%ld",
            reason_names[r], detail, self->pending, self->open,
            atomic_load(&self->headroom));
}

/* End of a log window: one line per reason with how many there were. */
static void
note_window(connguard_t *self, uint64_t now)
{
    if (now - self->log_start < LOG_WINDOW_MS)
        return;
    for (int r = 0; r < R__COUNT; r++)
        if (self->log_count[r] > 1)
            cds_log(CDS_LOG_WARN, "connections_refused_summary",
                    "reason=%s count=%u window_ms=%d", reason_names[r],
                    self->log_count[r], LOG_WINDOW_MS);
    memset(self->log_count, 0, sizeof self->log_count);
    self->log_start = now;
}

/* Shut down fd (libzmq sees EOF and closes it) and forget it. */
static void
cut(connguard_t *self, int fd, int reason, uint64_t bytes)
{
    conn_t *c = slot(self, fd);
    if (!c || c->state == FREE)
        return;
    if (same_peer(fd, c) && shutdown(fd, SHUT_RDWR) == 0) {
        char detail[64];
        atomic_fetch_add(&self->refused, 1);
        snprintf(detail, sizeof detail, "held_bytes=%llu",
                 (unsigned long long) bytes);
        note(self, reason, detail);
    }
    forget(self, c);
}

/* ---- counting ----------------------------------------------------------- */

/* Open descriptors, from /proc/self/fd (kept open: works under EMFILE). */
static long
count_fds(connguard_t *self)
{
    char buf[8192];
    long n = 0;
    if (self->fd_dir < 0 || lseek(self->fd_dir, 0, SEEK_SET) != 0)
        return -1;
    for (;;) {
        long got = syscall(SYS_getdents64, self->fd_dir, buf, sizeof buf);
        if (got <= 0)
            return got < 0 ? -1 : n - 2;   /* "." and ".." */
        for (long off = 0; off < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            n++;
            off += reclen;
        }
    }
}

static uint64_t
rss_bytes(connguard_t *self)
{
    char buf[128];
    unsigned long size = 0, res = 0;
    ssize_t n = self->statm_fd >= 0 ? pread(self->statm_fd, buf,
                                            sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &res) != 2)
        return 0;
    return (uint64_t) res * (uint64_t) self->page;
}

/* ---- the guard thread -------------------------------------------------- */

/* The newest pending connection, -1 when none. O(hi). */
static int
newest_pending(connguard_t *self)
{
    int best = -1;
    for (unsigned fd = 0; fd < self->hi; fd++)
        if (self->table[fd].state == PENDING
            && (best < 0 || self->table[fd].seq > self->table[best].seq))
            best = (int) fd;
    return best;
}

/* Pending cap and descriptor reserve. */
static void
enforce_pending(connguard_t *self)
{
    long free_fds = self->fd_limit == RLIM_INFINITY
                        ? LONG_MAX
                        : (long) self->fd_limit - count_fds(self);
    atomic_store(&self->headroom, free_fds);
    long short_by = CONNGUARD_FD_RESERVE - free_fds;
    if (short_by > 0 && self->pending == 0)   /* cds_log limits: same line */
        cds_log(CDS_LOG_WARN, "fd_headroom_low", "reserve=%d",
                CONNGUARD_FD_RESERVE);
    while (self->pending > 0
           && (self->pending > self->max_pending || short_by-- > 0)) {
        int fd = newest_pending(self);
        if (fd < 0)
            break;
        cut(self, fd, self->pending > self->max_pending ? R_CAP : R_RESERVE,
            0);
    }
}

/* What libzmq holds for the connection fd, and the verdict. */
static void
sweep_one(connguard_t *self, int fd)
{
    conn_t *c = &self->table[fd];
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int unread = 0;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0
        || len < offsetof(struct tcp_info, tcpi_bytes_received)
                     + sizeof ti.tcpi_bytes_received
        || ioctl(fd, SIOCINQ, &unread) != 0 || !same_peer(fd, c))
        return;
    uint64_t in = ti.tcpi_bytes_received - (uint64_t) unread;
    uint64_t held = in > c->received ? in - c->received : 0;
    /* The handshake and the peer's ZMTP pings are bytes we never receive
     * as messages; the allowance creeps by FLOOR_STEP per sweep at most,
     * so a slow message cannot hide in it for long. */
    if (held <= c->floor + FLOOR_STEP && held > c->floor)
        c->floor = held;
    if (held > c->floor + CONNGUARD_PEER_BYTES)
        cut(self, fd, R_HELD, held - c->floor);
}

static void
sweep(connguard_t *self)
{
    for (unsigned fd = 0; fd < self->hi; fd++)
        if (self->table[fd].state != FREE)
            sweep_one(self, (int) fd);
}

static void *
guard_main(void *arg)
{
    connguard_t *self = arg;
    uint64_t base = rss_bytes(self), last_sweep = cds_mono_ms();
    uint64_t last_enforce = 0;
    struct timespec tick = {0, CONNGUARD_TICK_MS * 1000000L};
    while (!atomic_load(&self->stop)) {
        nanosleep(&tick, NULL);
        uint64_t rss = rss_bytes(self), now = cds_mono_ms();
        bool grown = rss > base + CONNGUARD_RSS_TRIGGER;
        pthread_mutex_lock(&self->mu);
        if (grown || now - last_sweep >= CONNGUARD_SWEEP_MS) {
            sweep(self);
            last_sweep = now;
        }
        /* Pending cap and headroom: every tick when over the cap or
         * accept failed, else every 200 ms (counting fds is O(fds)). */
        if (self->pending > self->max_pending || self->accept_failed
            || now - last_enforce >= 200) {
            enforce_pending(self);
            last_enforce = now;
            self->accept_failed = false;
        }
        note_window(self, now);
        pthread_mutex_unlock(&self->mu);
        if (grown || rss < base)
            base = rss_bytes(self);
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------- */

connguard_t *
connguard_new(unsigned max_pending)
{
    connguard_t *self = calloc(1, sizeof *self);
    struct rlimit rl;
    if (!self)
        return NULL;
    self->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    self->fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    self->page = sysconf(_SC_PAGESIZE);
    self->max_pending = max_pending ? max_pending : CONNGUARD_PENDING_DEFAULT;
    self->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur
                                                         : RLIM_INFINITY;
    self->size = self->fd_limit == RLIM_INFINITY || self->fd_limit > TABLE_MAX
                     ? TABLE_MAX : (unsigned) self->fd_limit;
    atomic_init(&self->headroom, -1);
    /* calloc'd: pages of fds never used are never touched. */
    self->table = calloc(self->size, sizeof *self->table);
    pthread_mutex_init(&self->mu, NULL);
    if (!self->table || self->statm_fd < 0 || self->fd_dir < 0) {
        cds_log(CDS_LOG_ERROR, "connguard_failed", "error=%s",
                cds_logq(strerror(errno)));
        goto fail;
    }
    if (pthread_create(&self->thread, NULL, guard_main, self) != 0)
        goto fail;
    self->started = true;
    cds_log(CDS_LOG_INFO, "connguard", "max_pending=%u fd_limit=%llu "
            "fd_reserve=%d peer_bytes=%u", self->max_pending,
            (unsigned long long) self->fd_limit, CONNGUARD_FD_RESERVE,
            CONNGUARD_PEER_BYTES);
    return self;
fail:
    connguard_destroy(&self);
    return NULL;
}

void
connguard_destroy(connguard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    connguard_t *self = *self_p;
    if (self->started) {
        atomic_store(&self->stop, true);
        pthread_join(self->thread, NULL);
    }
    if (self->statm_fd >= 0)
        close(self->statm_fd);
    if (self->fd_dir >= 0)
        close(self->fd_dir);
    pthread_mutex_destroy(&self->mu);
    free(self->table);
    free(self);
    *self_p = NULL;
}

static void
accepted(connguard_t *self, int fd)
{
    conn_t *c = slot(self, fd);
    if (!c)
        return;
    forget(self, c);           /* a stale entry: its close event was lost */
    c->peer_len = sizeof c->peer;
    if (getpeername(fd, (struct sockaddr *) &c->peer, &c->peer_len) != 0)
        return;                /* already gone */
    c->state = PENDING;
    c->seq = ++self->seq;
    self->open++;
    self->pending++;
    if ((unsigned) fd >= self->hi)
        self->hi = (unsigned) fd + 1;
}

bool
connguard_peer(connguard_t *self, int fd, char *buf, size_t len)
{
    bool ok = false;
    if (!self || len == 0)
        return false;
    pthread_mutex_lock(&self->mu);
    conn_t *c = slot(self, fd);
    if (c && c->state != FREE)
        ok = getnameinfo((struct sockaddr *) &c->peer, c->peer_len, buf,
                         (socklen_t) len, NULL, 0, NI_NUMERICHOST) == 0;
    pthread_mutex_unlock(&self->mu);
    return ok;
}

void
connguard_event(connguard_t *self, uint16_t event, uint32_t value)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    if (event == ZMQ_EVENT_ACCEPTED)
        accepted(self, (int) value);
    else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED) {
        conn_t *c = slot(self, (int) value);
        if (c)
            forget(self, c);
    } else if (event == ZMQ_EVENT_ACCEPT_FAILED) {
        char detail[96];
        self->accept_failed = true;
        snprintf(detail, sizeof detail, "error=%s",
                 cds_logq(strerror((int) value)));
        note(self, R_ACCEPT, detail);
    }
    pthread_mutex_unlock(&self->mu);
}

void
connguard_frame(connguard_t *self, int fd, size_t bytes)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    conn_t *c = slot(self, fd);
    if (c && c->state != FREE) {
        if (c->state == PENDING)
            self->pending--;
        c->state = LIVE;
        c->received += wire_bytes(bytes);
    }
    pthread_mutex_unlock(&self->mu);
}

void
connguard_kick(connguard_t *self, int fd)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    cut(self, fd, R_MULTIPART, 0);
    pthread_mutex_unlock(&self->mu);
}

uint64_t
connguard_refused(const connguard_t *self)
{
    return self ? atomic_load(&((connguard_t *) self)->refused) : 0;
}

long
connguard_fd_headroom(const connguard_t *self)
{
    return self ? atomic_load(&((connguard_t *) self)->headroom) : -1;
}

void
connguard_counts(const connguard_t *self, unsigned *open, unsigned *pending)
{
    connguard_t *g = (connguard_t *) self;
    *open = *pending = 0;
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    *open = g->open;
    *pending = g->pending;
    pthread_mutex_unlock(&g->mu);
}
