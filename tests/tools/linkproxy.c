/*  linkproxy: a TCP relay on 127.0.0.1 that can cut and restore a link.
 *
 *      linkproxy LISTEN_PORT TARGET_PORT
 *  SIGUSR1: link down (every relayed connection is reset and new ones are
 *  refused, as when a commune's line drops). SIGUSR2: link up again.
 *  SIGTERM/SIGINT: exit. Writes "ready" on stdout once listening.
 *  Written by hand because netem is not available on our machines and no
 *  packaged relay takes link up/down commands; the fault-injection suite
 *  grows this into loss, delay and resets. Bounded: 64 connections, 64 KiB
 *  buffered per direction. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define BUF_BYTES 65536

typedef struct {
    int fd[2];                  /* 0: client side, 1: target side */
    char buf[2][BUF_BYTES];     /* buf[i]: bytes read from fd[i] to write */
    size_t len[2];              /* pending bytes in buf[i] */
} pair_t;

static volatile sig_atomic_t want_down, want_up, want_exit;
static void on_sig(int s)
{
    if (s == SIGUSR1)
        want_down = 1;
    else if (s == SIGUSR2)
        want_up = 1;
    else
        want_exit = 1;
}

static int
listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *) &a, sizeof a) || listen(fd, 64)) {
        perror("linkproxy: listen");
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
    if (connect(fd, (struct sockaddr *) &a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
reset_close(int fd)
{
    struct linger l = {1, 0}; /* RST, like a dropped line */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void
drop_pair(pair_t **pp)
{
    reset_close((*pp)->fd[0]);
    reset_close((*pp)->fd[1]);
    free(*pp);
    *pp = NULL;
}

/* Move bytes for one pair; returns -1 when either side is finished. */
static int
pump(pair_t *p, const struct pollfd *pf)
{
    for (int i = 0; i < 2; i++) {
        if ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) && p->len[i] < BUF_BYTES) {
            ssize_t n = read(p->fd[i], p->buf[i] + p->len[i], BUF_BYTES - p->len[i]);
            if (n <= 0)
                return -1;
            p->len[i] += (size_t) n;
        }
        if (p->len[i] > 0) {
            ssize_t n = write(p->fd[1 - i], p->buf[i], p->len[i]);
            if (n < 0 && errno != EAGAIN)
                return -1;
            if (n > 0) {
                memmove(p->buf[i], p->buf[i] + n, p->len[i] - (size_t) n);
                p->len[i] -= (size_t) n;
            }
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: linkproxy LISTEN_PORT TARGET_PORT\n");
        return 2;
    }
    int lport = atoi(argv[1]), tport = atoi(argv[2]);
    signal(SIGUSR1, on_sig);
    signal(SIGUSR2, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(lport);
    if (lfd < 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    pair_t *pairs[MAX_PAIRS] = {0};
    while (!want_exit) {
        if (want_down) {
            want_down = 0;
            for (int i = 0; i < MAX_PAIRS; i++)
                if (pairs[i])
                    drop_pair(&pairs[i]);
            if (lfd >= 0)
                close(lfd);
            lfd = -1;
            fprintf(stderr, "linkproxy: link down\n");
        }
        if (want_up) {
            want_up = 0;
            if (lfd < 0)
                lfd = listen_on(lport);
            fprintf(stderr, "linkproxy: link up\n");
        }
        struct pollfd pf[1 + 2 * MAX_PAIRS];
        int n = 0;
        pf[n++] = (struct pollfd){lfd, POLLIN, 0}; /* fd -1 is ignored */
        for (int i = 0; i < MAX_PAIRS; i++)
            for (int s = 0; s < 2; s++)
                pf[n++] = (struct pollfd){pairs[i] ? pairs[i]->fd[s] : -1,
                                          POLLIN, 0};
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (lfd >= 0 && (pf[0].revents & POLLIN)) {
            int c = accept(lfd, NULL, NULL), slot = -1;
            for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
                if (!pairs[i])
                    slot = i;
            int t = (c >= 0 && slot >= 0) ? connect_to(tport) : -1;
            if (t < 0) {
                if (c >= 0)
                    reset_close(c);
            } else {
                pairs[slot] = calloc(1, sizeof(pair_t));
                pairs[slot]->fd[0] = c;
                pairs[slot]->fd[1] = t;
            }
        }
        for (int i = 0; i < MAX_PAIRS; i++)
            if (pairs[i] && pump(pairs[i], &pf[1 + 2 * i]) < 0)
                drop_pair(&pairs[i]);
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (pairs[i])
            drop_pair(&pairs[i]);
    return 0;
}
