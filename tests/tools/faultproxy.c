/*  faultproxy: a TCP relay on 127.0.0.1 that injects network faults between
 *  an agent and the aggregator, for the fault-injection suite (tests/fault).
 *
 *      faultproxy --listen PORT --target PORT [--control FILE] [--seed N]
 *
 *  Writes "ready" on stdout once listening. On SIGHUP it re-reads FILE:
 *  whitespace-separated key=value settings, every key absent = off:
 *    down=1          partition: every relayed connection is reset and new
 *                    ones are refused (0 heals);
 *    drop_down=1     one-way loss: bytes from the aggregator (acks, hello
 *                    answers) are discarded while requests still flow; when
 *                    it is switched off, connections that lost bytes are
 *                    reset (see below);
 *    drop_up=1       the same for bytes towards the aggregator;
 *    delay_ms=N      every chunk is held N ms (plus jitter_ms=M random);
 *    loss=P          with probability P a chunk is held as a lost TCP
 *                    segment would be: one retransmission timeout (200 ms
 *                    doubling to 1.6 s) — TCP never delivers a hole;
 *    reset_bytes=N   each connection is reset after a random 1..N bytes
 *                    towards the aggregator: a reset in the middle of a
 *                    batch, repeated on every new connection;
 *    reset_prob=P    with probability P per chunk, reset the connection.
 *  SIGUSR1 / SIGUSR2: down / up (as linkproxy). SIGTERM: print counters to
 *  stderr ("faultproxy: connections=... resets=... dropped_bytes=...").
 *
 *  Why no byte duplication or reordering: TCP delivers a byte stream in
 *  order, and ZeroMQ frames it (ZMTP length-prefixed frames). Duplicating
 *  or reordering bytes inside one connection is not something a network can
 *  do to TCP; it would only be a stream corruption that ZMTP rejects by
 *  closing the connection. The duplicates a real network causes for cdsync
 *  are application resends after a lost ack or a reset: reset_bytes and
 *  drop_down produce exactly those. Likewise bytes discarded one way leave
 *  a hole in the stream, which in reality TCP would retransmit until the
 *  connection times out; the proxy models that timeout by resetting the
 *  connection when the drop ends.
 *
 *  Hand-written because netem is not available on our machines and no
 *  packaged relay injects these faults. Bounded: 256 connections, 1 MiB
 *  queued per direction. Randomness: rand_r seeded by --seed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 256
#define QUEUE_MAX (1u << 20)
#define CHUNK 16384

typedef struct chunk {
    struct chunk *next;
    uint64_t due;              /* monotonic ms when it may be written */
    size_t len, off;
    char data[];
} chunk_t;

typedef struct {
    int fd[2];                 /* 0: client (agent) side, 1: target side */
    chunk_t *head[2], *tail[2]; /* head[i]: read from fd[i], to fd[1-i] */
    size_t queued[2];
    uint64_t up_bytes, reset_at; /* reset after reset_at bytes upward */
    bool lost_bytes;           /* bytes were dropped: stream has a hole */
} pair_t;

typedef struct {
    int down, drop_down, drop_up, delay_ms, jitter_ms, reset_bytes;
    double loss, reset_prob;
} settings_t;

static volatile sig_atomic_t want_reload, want_down, want_up, want_exit;
static settings_t S;
static unsigned seed = 1;
static unsigned long n_conn, n_reset, n_dropped, n_delayed;

static void
on_sig(int s)
{
    if (s == SIGHUP)
        want_reload = 1;
    else if (s == SIGUSR1)
        want_down = 1;
    else if (s == SIGUSR2)
        want_up = 1;
    else
        want_exit = 1;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double
rnd01(void)
{
    return rand_r(&seed) / ((double)RAND_MAX + 1);
}

/* Settings file: key=value words; unknown keys are reported, not fatal. */
static void
load_settings(const char *path)
{
    settings_t s = {0};
    FILE *f = path ? fopen(path, "r") : NULL;
    char word[128];
    while (f && fscanf(f, "%127s", word) == 1) {
        char *eq = strchr(word, '=');
        if (!eq) {
            fprintf(stderr, "faultproxy: %s: \"%s\": expected key=value\n", path, word);
            continue;
        }
        *eq++ = '\0';
        if (!strcmp(word, "down")) s.down = atoi(eq);
        else if (!strcmp(word, "drop_down")) s.drop_down = atoi(eq);
        else if (!strcmp(word, "drop_up")) s.drop_up = atoi(eq);
        else if (!strcmp(word, "delay_ms")) s.delay_ms = atoi(eq);
        else if (!strcmp(word, "jitter_ms")) s.jitter_ms = atoi(eq);
        else if (!strcmp(word, "reset_bytes")) s.reset_bytes = atoi(eq);
        else if (!strcmp(word, "loss")) s.loss = atof(eq);
        else if (!strcmp(word, "reset_prob")) s.reset_prob = atof(eq);
        else
            fprintf(stderr, "faultproxy: %s: unknown key \"%s\"\n", path, word);
    }
    if (f)
        fclose(f);
    S = s;
    fprintf(stderr, "faultproxy: settings down=%d drop_down=%d drop_up=%d "
            "delay_ms=%d jitter_ms=%d loss=%.3f reset_bytes=%d reset_prob=%.3f\n",
            S.down, S.drop_down, S.drop_up, S.delay_ms, S.jitter_ms, S.loss,
            S.reset_bytes, S.reset_prob);
}

static int
listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 512)) {
        perror("faultproxy: listen");
        close(fd);
        return -1;
    }
    return fd;
}

static int
connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
reset_close(int fd)
{
    struct linger l = {1, 0};  /* RST, like a dropped line */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void
drop_pair(pair_t **pp)
{
    pair_t *p = *pp;
    reset_close(p->fd[0]);
    reset_close(p->fd[1]);
    for (int i = 0; i < 2; i++)
        while (p->head[i]) {
            chunk_t *c = p->head[i];
            p->head[i] = c->next;
            free(c);
        }
    free(p);
    *pp = NULL;
    n_reset++;
}

/* When may a chunk read now leave? Delay, jitter and TCP-like loss. */
static uint64_t
due_time(uint64_t now)
{
    uint64_t d = (uint64_t)S.delay_ms;
    if (S.jitter_ms > 0)
        d += (uint64_t)(rnd01() * S.jitter_ms);
    if (S.loss > 0 && rnd01() < S.loss) {
        uint64_t rto = 200;
        while (rto < 1600 && rnd01() < S.loss)
            rto *= 2;
        d += rto;
        n_delayed++;
    }
    return now + d;
}

/* Read from side i into its queue; -1 when the pair must be dropped. */
static int
read_side(pair_t *p, int i, uint64_t now)
{
    char buf[CHUNK];
    ssize_t n = read(p->fd[i], buf, sizeof buf);
    if (n <= 0)
        return -1;
    if (S.reset_prob > 0 && rnd01() < S.reset_prob) {
        fprintf(stderr, "faultproxy: injected reset (random)\n");
        return -1;
    }
    if (i == 0 && S.reset_bytes > 0) {
        if (!p->reset_at)
            p->reset_at = 1 + (uint64_t)(rnd01() * S.reset_bytes);
        p->up_bytes += (uint64_t)n;
        if (p->up_bytes >= p->reset_at) {
            size_t keep = (size_t)(n - (ssize_t)(p->up_bytes - p->reset_at));
            n = (ssize_t)keep; /* forward up to the reset point, then RST */
            fprintf(stderr, "faultproxy: injected reset after %llu bytes\n",
                    (unsigned long long)p->reset_at);
            p->reset_at = UINT64_MAX;
        }
    }
    if ((i == 1 && S.drop_down) || (i == 0 && S.drop_up)) {
        n_dropped += (unsigned long)n;
        p->lost_bytes = true;
        return 0;
    }
    chunk_t *c = malloc(sizeof *c + (size_t)n);
    if (!c)
        return -1;
    *c = (chunk_t){NULL, due_time(now), (size_t)n, 0};
    memcpy(c->data, buf, (size_t)n);
    if (p->tail[i])
        p->tail[i]->next = c;
    else
        p->head[i] = c;
    p->tail[i] = c;
    p->queued[i] += (size_t)n;
    return 0;
}

/* Write due chunks of queue i to the other side; -1 on error. */
static int
write_side(pair_t *p, int i, uint64_t now)
{
    while (p->head[i] && p->head[i]->due <= now) {
        chunk_t *c = p->head[i];
        ssize_t n = write(p->fd[1 - i], c->data + c->off, c->len - c->off);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->off += (size_t)n;
        p->queued[i] -= (size_t)n;
        if (c->off < c->len)
            return 0;
        p->head[i] = c->next;
        if (!p->head[i])
            p->tail[i] = NULL;
        free(c);
    }
    return 0;
}

static void
apply_settings(pair_t **pairs, int *lfd, int lport)
{
    for (int i = 0; i < MAX_PAIRS; i++) {
        if (!pairs[i])
            continue;
        bool hole = pairs[i]->lost_bytes && !S.drop_down && !S.drop_up;
        if (S.down || hole)
            drop_pair(&pairs[i]);
    }
    if (S.down && *lfd >= 0) {
        close(*lfd);
        *lfd = -1;
    } else if (!S.down && *lfd < 0)
        *lfd = listen_on(lport);
}

static void
accept_one(pair_t **pairs, int lfd, int tport)
{
    int c = accept(lfd, NULL, NULL), slot = -1;
    for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
        if (!pairs[i])
            slot = i;
    int t = (c >= 0 && slot >= 0) ? connect_to(tport) : -1;
    if (t < 0) {
        if (c >= 0)
            reset_close(c);
        return;
    }
    pairs[slot] = calloc(1, sizeof(pair_t));
    if (!pairs[slot]) {
        reset_close(c);
        reset_close(t);
        return;
    }
    pairs[slot]->fd[0] = c;
    pairs[slot]->fd[1] = t;
    n_conn++;
}

static int
poll_timeout(pair_t **pairs, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < MAX_PAIRS; i++)
        for (int s = 0; pairs[i] && s < 2; s++)
            if (pairs[i]->head[s] && pairs[i]->head[s]->due < next)
                next = pairs[i]->head[s]->due;
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

static void
step(pair_t **pairs, int *lfd, int tport)
{
    static struct pollfd pf[1 + 2 * MAX_PAIRS];
    int n = 0;
    uint64_t now = now_ms();
    pf[n++] = (struct pollfd){*lfd, POLLIN, 0};
    for (int i = 0; i < MAX_PAIRS; i++)
        for (int s = 0; s < 2; s++) {
            pair_t *p = pairs[i];
            short ev = 0;
            if (p && p->queued[s] < QUEUE_MAX)
                ev |= POLLIN;
            if (p && p->head[1 - s] && p->head[1 - s]->due <= now)
                ev |= POLLOUT;
            pf[n++] = (struct pollfd){p ? p->fd[s] : -1, ev, 0};
        }
    if (poll(pf, n, poll_timeout(pairs, now)) < 0)
        return;
    now = now_ms();
    if (*lfd >= 0 && (pf[0].revents & POLLIN))
        accept_one(pairs, *lfd, tport);
    for (int i = 0; i < MAX_PAIRS; i++) {
        int bad = 0;
        for (int s = 0; pairs[i] && s < 2 && !bad; s++)
            if (pf[1 + 2 * i + s].revents & (POLLIN | POLLHUP | POLLERR))
                bad = read_side(pairs[i], s, now);
        for (int s = 0; pairs[i] && s < 2 && !bad; s++)
            bad = write_side(pairs[i], s, now);
        if (pairs[i] && !bad && pairs[i]->reset_at == UINT64_MAX
            && !pairs[i]->head[0])
            bad = -1;          /* forwarded up to the reset point */
        if (pairs[i] && bad)
            drop_pair(&pairs[i]);
    }
}

int
main(int argc, char **argv)
{
    int lport = 0, tport = 0;
    const char *ctl = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen")) lport = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--target")) tport = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--control")) ctl = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = (unsigned)atol(argv[i + 1]);
    }
    if (!lport || !tport) {
        fprintf(stderr, "usage: faultproxy --listen PORT --target PORT "
                "[--control FILE] [--seed N]\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    load_settings(ctl);
    int lfd = listen_on(lport);
    if (lfd < 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    static pair_t *pairs[MAX_PAIRS];
    while (!want_exit) {
        if (want_reload || want_down || want_up) {
            if (want_reload)
                load_settings(ctl);
            if (want_down)
                S.down = 1;
            if (want_up)
                S.down = 0;
            want_reload = want_down = want_up = 0;
            apply_settings(pairs, &lfd, lport);
        }
        step(pairs, &lfd, tport);
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (pairs[i])
            drop_pair(&pairs[i]);
    fprintf(stderr, "faultproxy: connections=%lu resets=%lu dropped_bytes=%lu "
            "lost_segments=%lu\n", n_conn, n_reset, n_dropped, n_delayed);
    return 0;
}
