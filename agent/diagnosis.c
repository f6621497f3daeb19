/*  diagnosis: see diagnosis.h. The probe is hand-written (a socket, a
 *  non-blocking connect, one poll): no Debian library reports why a TCP
 *  connect fails without blocking on name resolution. */
#include "diagnosis.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

struct diagnosis {
    const char *endpoint;              /* borrowed */
    diagnosis_probe_fn probe;          /* why nobody answers */
    void *probe_arg;
    bool tcp_up;                       /* this attempt reached CONNECTED */
    bool hs_ok;                        /* ... and its handshake succeeded */
    bool hs_told;                      /* ... a handshake failure was told */
    bool unreachable_told;             /* probed since the last CONNECTED */
    char detail[128];                  /* the last detail told */
};

diagnosis_t *
diagnosis_new(const char *endpoint, diagnosis_probe_fn probe, void *arg)
{
    diagnosis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->endpoint = endpoint;
    self->probe = probe;
    self->probe_arg = arg;
    return self;
}

void
diagnosis_destroy(diagnosis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void
diagnosis_redial(diagnosis_t *self)
{
    self->tcp_up = self->hs_ok = self->hs_told = false;
}

/* The words for a refused handshake. */
static void
handshake_detail(diagnosis_t *self, uint16_t ev, uint32_t value)
{
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        snprintf(self->detail, sizeof self->detail, "handshake failed (%s)",
                 zmq_strerror((int)value));
    else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        snprintf(self->detail, sizeof self->detail,
                 "refused by the aggregator (ZAP status %u)",
                 (unsigned)value);
    else
        snprintf(self->detail, sizeof self->detail,
                 "handshake protocol error 0x%x", (unsigned)value);
}

/* CONNECT_RETRIED: nobody answered this attempt (probe once per run). */
static int
on_retried(diagnosis_t *self, session_link_t *link, const char **detail)
{
    int tell = 0;
    if (!self->tcp_up) {
        *link = SESSION_LINK_UNREACHABLE;
        *detail = NULL;                /* same story: no probe each retry */
        if (!self->unreachable_told) {
            self->probe(self->probe_arg, self->endpoint, self->detail,
                        sizeof self->detail);
            self->unreachable_told = true;
            *detail = self->detail;
        }
        tell = 1;
    }
    diagnosis_redial(self);
    return tell;
}

/* DISCONNECTED: a link that was up went down, or the server closed
 * during the handshake. */
static int
on_disconnected(diagnosis_t *self, session_link_t *link, const char **detail)
{
    int tell = 0;
    if (self->hs_ok) {
        *link = SESSION_LINK_DOWN;
        tell = 1;
    } else if (self->tcp_up && !self->hs_told) {
        *link = SESSION_LINK_HANDSHAKE_FAILED;
        snprintf(self->detail, sizeof self->detail,
                 "connection closed during the handshake");
        *detail = self->detail;
        tell = 1;
    }
    self->hs_ok = false;
    return tell;
}

int
diagnosis_on_event(diagnosis_t *self, uint16_t ev, uint32_t value,
                   session_link_t *link, const char **detail)
{
    *detail = NULL;
    switch (ev) {
    case ZMQ_EVENT_CONNECTED:
        self->tcp_up = true;
        self->unreachable_told = false;
        self->hs_ok = self->hs_told = false;
        return 0;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        self->hs_ok = true;
        *link = SESSION_LINK_UP;
        return 1;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        handshake_detail(self, ev, value);
        self->hs_told = true;
        *link = SESSION_LINK_HANDSHAKE_FAILED;
        *detail = self->detail;
        return 1;
    case ZMQ_EVENT_DISCONNECTED:
        return on_disconnected(self, link, detail);
    case ZMQ_EVENT_CONNECT_RETRIED:
        return on_retried(self, link, detail);
    default:
        return 0;
    }
}

/* "tcp://host:port" -> host (brackets of an IPv6 literal removed).
 * -1 when endpoint is not tcp:// or host does not fit. */
static int
tcp_host(const char *endpoint, char *host, size_t len, const char **port)
{
    const char *colon = strrchr(endpoint, ':');
    if (strncmp(endpoint, "tcp://", 6) != 0 || !colon
        || colon - endpoint - 6 >= (long)len)
        return -1;
    snprintf(host, len, "%.*s", (int)(colon - endpoint - 6), endpoint + 6);
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n);
        host[n - 2] = '\0';
    }
    *port = colon + 1;
    return 0;
}

/* errno of a non-blocking connect to ai, 0 when it connected. */
static int
connect_errno(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0)
        return errno;
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        struct pollfd p = {fd, POLLOUT, 0};
        socklen_t el = sizeof e;
        if (e == EINPROGRESS)
            e = poll(&p, 1, DIAGNOSIS_PROBE_MS) == 1
                        && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0
                    ? e : ETIMEDOUT;
    }
    close(fd);
    return e;
}

void
diagnosis_probe_tcp(void *arg, const char *endpoint, char *buf, size_t len)
{
    char host[256];
    const char *port = NULL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    (void)arg;
    snprintf(buf, len, "no connection (refused, no route or timed out)");
    if (tcp_host(endpoint, host, sizeof host, &port) != 0
        || getaddrinfo(host, port, &hints, &ai) != 0)
        return;
    int e = connect_errno(ai);
    if (e)
        snprintf(buf, len, "%s", strerror(e));
    else                               /* it answers now: a blip */
        snprintf(buf, len, "no connection (answers again now)");
    freeaddrinfo(ai);
}
