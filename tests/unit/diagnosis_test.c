/*  diagnosis_test: the socket monitor's events of each dial become the
 *  link events the session hears, with the probe asked once per run of
 *  failed connects (a fake probe counts the calls); the real TCP probe
 *  tells "Connection refused" from a port that answers, on loopback, and
 *  gives generic text for what it must not resolve. No sleeps: every
 *  probe here is answered at once by the loopback stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "cds_log.h"
#include "diagnosis.h"

static unsigned probes;                /* fake_probe calls */

static void
fake_probe(void *arg, const char *endpoint, char *buf, size_t len)
{
    (void)arg;
    probes++;
    snprintf(buf, len, "probe %u of %s", probes, endpoint);
}

/* Feed ev; must tell want with detail want_detail (NULL: none). */
static void
told(diagnosis_t *d, uint16_t ev, uint32_t value, session_link_t want,
     const char *want_detail)
{
    session_link_t link = (session_link_t)-1;
    const char *detail = "unset";
    assert_int_equal(diagnosis_on_event(d, ev, value, &link, &detail), 1);
    assert_int_equal(link, want);
    if (want_detail)
        assert_string_equal(detail, want_detail);
    else
        assert_null(detail);
}

static void
silent(diagnosis_t *d, uint16_t ev, uint32_t value)
{
    session_link_t link;
    const char *detail;
    assert_int_equal(diagnosis_on_event(d, ev, value, &link, &detail), 0);
}

/* Nobody answers: probed once, then "the same story" per retry; a
 * connection in between starts a new story (probed again). */
static void
test_unreachable(void **state)
{
    (void)state;
    probes = 0;
    diagnosis_t *d = diagnosis_new("tcp://192.0.2.1:7701", fake_probe, NULL);
    assert_non_null(d);
    told(d, ZMQ_EVENT_CONNECT_RETRIED, 500, SESSION_LINK_UNREACHABLE,
         "probe 1 of tcp://192.0.2.1:7701");
    told(d, ZMQ_EVENT_CONNECT_RETRIED, 1000, SESSION_LINK_UNREACHABLE, NULL);
    told(d, ZMQ_EVENT_CONNECT_RETRIED, 2000, SESSION_LINK_UNREACHABLE, NULL);
    assert_int_equal(probes, 1);
    silent(d, ZMQ_EVENT_CONNECTED, 0);
    told(d, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0, SESSION_LINK_UP, NULL);
    told(d, ZMQ_EVENT_DISCONNECTED, 0, SESSION_LINK_DOWN, NULL);
    /* The retry that ends the attempt which had connected says nothing
     * (the session heard "down"); the next is a new story. */
    silent(d, ZMQ_EVENT_CONNECT_RETRIED, 500);
    told(d, ZMQ_EVENT_CONNECT_RETRIED, 500, SESSION_LINK_UNREACHABLE,
         "probe 2 of tcp://192.0.2.1:7701");
    assert_int_equal(probes, 2);
    silent(d, ZMQ_EVENT_LISTENING, 0);            /* not ours to tell */
    diagnosis_destroy(&d);
    assert_null(d);
    diagnosis_destroy(&d);             /* safe on NULL */
}

/* A refused handshake is told once with its reason; a server that just
 * closes during the handshake (it cannot decrypt our HELLO: a wrong
 * server_key) is a refused handshake too; a connection that closes after
 * a refusal adds nothing. */
static void
test_handshake_failed(void **state)
{
    (void)state;
    probes = 0;
    diagnosis_t *d = diagnosis_new("tcp://192.0.2.1:7701", fake_probe, NULL);
    silent(d, ZMQ_EVENT_CONNECTED, 0);
    told(d, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400,
         SESSION_LINK_HANDSHAKE_FAILED,
         "refused by the aggregator (ZAP status 400)");
    silent(d, ZMQ_EVENT_DISCONNECTED, 0);
    diagnosis_redial(d);
    silent(d, ZMQ_EVENT_CONNECTED, 0);
    told(d, ZMQ_EVENT_DISCONNECTED, 0, SESSION_LINK_HANDSHAKE_FAILED,
         "connection closed during the handshake");
    diagnosis_redial(d);
    silent(d, ZMQ_EVENT_CONNECTED, 0);
    told(d, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x10000011,
         SESSION_LINK_HANDSHAKE_FAILED, "handshake protocol error 0x10000011");
    diagnosis_redial(d);
    silent(d, ZMQ_EVENT_CONNECTED, 0);
    session_link_t link;
    const char *detail = NULL;
    assert_int_equal(diagnosis_on_event(d, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                                        EPROTO, &link, &detail), 1);
    assert_int_equal(link, SESSION_LINK_HANDSHAKE_FAILED);
    assert_non_null(strstr(detail, "handshake failed ("));
    /* A redial forgets the attempt: its close is no second story. */
    diagnosis_redial(d);
    silent(d, ZMQ_EVENT_DISCONNECTED, 0);
    assert_int_equal(probes, 0);
    diagnosis_destroy(&d);
}

/* A loopback port: listening (fd returned) or just closed (-1, *port
 * still names it). */
static int
loopback_port(bool listen_on, unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    if (listen_on) {
        assert_int_equal(listen(fd, 4), 0);
        return fd;
    }
    close(fd);
    return -1;
}

static void
test_probe_tcp(void **state)
{
    (void)state;
    char ep[64], buf[128];
    unsigned port;
    int fd = loopback_port(false, &port);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    diagnosis_probe_tcp(NULL, ep, buf, sizeof buf);
    assert_string_equal(buf, "Connection refused");
    fd = loopback_port(true, &port);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    diagnosis_probe_tcp(NULL, ep, buf, sizeof buf);
    assert_string_equal(buf, "no connection (answers again now)");
    close(fd);
    /* Not resolved, not tcp: generic words. */
    diagnosis_probe_tcp(NULL, "tcp://aggregator.example:7701", buf,
                        sizeof buf);
    assert_string_equal(buf, "no connection (refused, no route or timed out)");
    diagnosis_probe_tcp(NULL, "ipc:///run/cdsync/agg.sock", buf, sizeof buf);
    assert_string_equal(buf, "no connection (refused, no route or timed out)");
}

int
main(void)
{
    cds_log_init("diagnosis_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_handshake_failed),
        cmocka_unit_test(test_probe_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
