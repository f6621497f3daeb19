/*  badpeer: a hostile or broken agent, for integration tests only.
 *
 *  Sends one crafted message (or a short exchange) to an aggregator and
 *  prints the answer on one line, so a shell test can check that every kind
 *  of bad input is refused with its reason code while good agents carry on:
 *      badpeer ENDPOINT SERVER_PUBID KEYFILE CASE [ORG_UNIT]
 *  Output: "hello applied=N", "ack STATUS ERROR acked=N rejections=a,b",
 *  "refused ERROR", or "noreply". Exit 0 when the exchange ran, 2 on usage,
 *  3 on a local failure.
 *
 *  Transport: CURVE like a real agent (server key from SERVER_PUBID, our
 *  key pair from KEYFILE), except: case "nocurve" sends a good batch over
 *  a plain (NULL mechanism) connection; with BADPEER_TRANSPORT_KEY=FILE the
 *  CURVE key pair comes from another identity file than the signing key
 *  (a batch signed by A over a connection authenticated as B).
 *
 *  Resource cases (tests/integration/fd_flood.sh, frame_flood.sh):
 *      badpeer flood HOST:PORT N SECONDS
 *  opens N plain TCP connections and holds them idle for SECONDS (no
 *  greeting, no key: what anyone on the network can do), reopening those
 *  the server closes; prints "flood opened=N reopened=K". Case "frames"
 *  (enrolled key) sends messages of $BADPEER_FRAMES frames (default 64)
 *  of $BADPEER_FRAME_BYTES (default 4 MiB) until $BADPEER_TOTAL bytes
 *  (default 1 GiB) are queued; prints "frames sent=BYTES".
 *  Case "knock" (tests/integration/knocking.sh) sends nothing: it opens
 *  a new CURVE connection, waits for its handshake to fail, and again,
 *  until $BADPEER_COUNT (default 200) were made (each one a handshake the
 *  aggregator refuses: unknown or revoked key, or a wrong SERVER_PUBID)
 *  or 60 s passed; prints "knock connected=N".
 *
 *  The update of the batch cases (default TO_CNSCD 2025Q2 = 5) takes
 *  $BADPEER_INDICATOR, $BADPEER_PERIOD and $BADPEER_VALUE when set, and
 *  the batch is stamped Batch.catalog_version = $BADPEER_CATALOG_VERSION
 *  (default "": tests/integration/metadata_versions.sh). */
#include "cds_codec.h"
#include "cds_err.h"
#include "cds_id.h"
#include "cds_update.h"
#include "cds_util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    void *ctx;                          /* ZeroMQ context */
    void *sock;                         /* DEALER to the aggregator */
    cds_identity_t *id;                 /* our (maybe unenrolled) identity */
    uint8_t server[CDS_PK_BYTES];       /* aggregator signing key */
    uint64_t applied;                   /* aggregator's applied seq for us */
    uint8_t head[CDS_HASH_BYTES];       /* chain head at applied */
    const char *org_unit;               /* org unit for crafted updates */
} peer_t;

static int
send_bytes(peer_t *p, const uint8_t *buf, size_t len)
{
    return zmq_send(p->sock, buf, len, 0) == (int) len ? 0 : -1;
}

/* Wait up to 5 s for one reply; returns decoded envelope or NULL. */
static Cdsync__Envelope *
recv_reply(peer_t *p)
{
    zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, p->sock, 0) < 0)
        return NULL;
    Cdsync__Envelope *env = NULL;
    int rc = cds_envelope_decode(zmq_msg_data(&m), zmq_msg_size(&m), &env);
    zmq_msg_close(&m);
    if (rc != CDS_OK)
        return NULL;
    if (memcmp(env->signer.data, p->server, CDS_PK_BYTES) != 0 ||
        cds_envelope_verify(env, cds_identity_sign_pk(p->id)) != CDS_OK) {
        fprintf(stderr, "badpeer: reply not signed by the aggregator\n");
        cds_msg_free(env);
        return NULL;
    }
    return env;
}

static int
seal_send(peer_t *p, Cdsync__Kind kind, const ProtobufCMessage *msg,
          int corrupt_sig)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cds_envelope_seal_msg(p->id, kind, p->server, msg, &buf, &len))
        return -1;
    if (corrupt_sig) /* the signature is the last field: flip its last byte */
        buf[len - 1] ^= 0x5a;
    int rc = send_bytes(p, buf, len);
    free(buf);
    return rc;
}

static int
do_hello(peer_t *p)
{
    Cdsync__Hello h = CDSYNC__HELLO__INIT;
    h.version = CDS_PROTOCOL_VERSION;
    h.agent.data = (uint8_t *) cds_identity_sign_pk(p->id);
    h.agent.len = CDS_PK_BYTES;
    if (seal_send(p, CDSYNC__KIND__KIND_HELLO, &h.base, 0))
        return -1;
    Cdsync__Envelope *env = recv_reply(p);
    if (!env)
        return 1;
    int err = 0;
    Cdsync__HelloAnswer *a = cds_msg_decode(&cdsync__hello_answer__descriptor,
                                            env->body.data, env->body.len,
                                            &err);
    cds_msg_free(env);
    if (!a)
        return -1;
    if (a->error) {
        printf("refused %s\n", cds_strerror(a->error));
        cds_msg_free(a);
        return 2;
    }
    p->applied = a->applied_seq;
    memset(p->head, 0, sizeof p->head);
    if (a->applied_head.len == CDS_HASH_BYTES)
        memcpy(p->head, a->applied_head.data, CDS_HASH_BYTES);
    cds_msg_free(a);
    return 0;
}

static int print_ack(peer_t *p);

/* Send a one-update batch with seq and print the answer. */
static int
send_update(peer_t *p, uint64_t seq, const uint8_t prev[CDS_HASH_BYTES],
            const cds_update_t *u0, const uint8_t *agent_pk, int corrupt_sig)
{
    cds_update_t u = *u0;
    u.seq = seq;
    u.hlc = cds_now_ms() << 16;
    uint8_t h[CDS_HASH_BYTES], head[CDS_HASH_BYTES];
    cds_update_hash(&u, h);
    cds_chain_next(prev, h, head);
    Cdsync__Update pu = CDSYNC__UPDATE__INIT;
    cds_update_to_pb(&u, &pu);
    Cdsync__Update *ups[1] = {&pu};
    Cdsync__Batch b = CDSYNC__BATCH__INIT;
    b.version = CDS_PROTOCOL_VERSION;
    b.agent.data = (uint8_t *) agent_pk;
    b.agent.len = CDS_PK_BYTES;
    b.first_seq = b.last_seq = seq;
    b.prev_head.data = (uint8_t *) prev;
    b.prev_head.len = CDS_HASH_BYTES;
    b.head.data = head;
    b.head.len = CDS_HASH_BYTES;
    b.n_updates = 1;
    b.updates = ups;
    const char *cv = getenv("BADPEER_CATALOG_VERSION");
    if (cv)
        b.catalog_version = (char *) cv;
    if (seal_send(p, CDSYNC__KIND__KIND_BATCH, &b.base, corrupt_sig))
        return -1;
    return print_ack(p);
}

/* Wait for the answer to a batch and print it on one line. */
static int
print_ack(peer_t *p)
{
    Cdsync__Envelope *env = recv_reply(p);
    if (!env) {
        printf("noreply\n");
        return 0;
    }
    int err = 0;
    Cdsync__Ack *a = cds_msg_decode(&cdsync__ack__descriptor, env->body.data,
                                    env->body.len, &err);
    cds_msg_free(env);
    if (!a)
        return -1;
    static const char *st[] = {"ok", "gap", "retry", "refused"};
    printf("ack %s %s acked=%llu rejections=", a->status < 4 ? st[a->status] : "?",
           cds_strerror((int) a->error), (unsigned long long) a->acked_seq);
    for (size_t i = 0; i < a->n_rejections; i++)
        printf("%s%s", i ? "," : "", cds_strerror((int) a->rejections[i]->code));
    printf("\n");
    if (a->status == CDSYNC__ACK_STATUS__ACK_OK && a->acked_head.len == CDS_HASH_BYTES) {
        p->applied = a->acked_seq;
        memcpy(p->head, a->acked_head.data, CDS_HASH_BYTES);
    }
    cds_msg_free(a);
    return 0;
}

static int
send_raw_case(peer_t *p, const char *c)
{
    size_t len = strcmp(c, "oversized") == 0 ? (5u << 20) : 200;
    uint8_t *buf = malloc(len);
    if (!buf)
        return -1;
    randombytes_buf(buf, len);
    int rc = send_bytes(p, buf, len);
    free(buf);
    if (rc)
        return -1;
    Cdsync__Envelope *env = recv_reply(p);
    printf(env ? "reply\n" : "noreply\n");
    cds_msg_free(env);
    return 0;
}

/* "replay": send the envelope in $BADPEER_FILE byte for byte (a batch
 * captured from the aggregator's batch table) and print the answer. */
static int
replay_case(peer_t *p)
{
    const char *path = getenv("BADPEER_FILE");
    char *data = NULL;
    size_t len = 0;
    if (!path || cds_read_file(path, CDS_MAX_MSG_BYTES, &data, &len) != CDS_OK) {
        fprintf(stderr, "badpeer: replay needs BADPEER_FILE\n");
        return -1;
    }
    int rc = send_bytes(p, (const uint8_t *) data, len);
    free(data);
    return rc ? -1 : print_ack(p);
}

static size_t
env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? (size_t) strtoull(v, NULL, 10) : dflt;
}

/* "frames": many-frame messages, which the protocol forbids, until
 * $BADPEER_TOTAL bytes are queued (each send waits at most 10 s). */
static int
frames_case(peer_t *p)
{
    size_t frames = env_size("BADPEER_FRAMES", 64);
    size_t fbytes = env_size("BADPEER_FRAME_BYTES", 4u << 20);
    size_t total = env_size("BADPEER_TOTAL", (size_t) 1 << 30), sent = 0;
    int hwm = 1, timeo = 10000;
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(p->sock, ZMQ_LINGER, &timeo, sizeof timeo); /* deliver */
    zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &timeo, sizeof timeo);
    uint8_t *buf = malloc(fbytes ? fbytes : 1);
    if (!buf || frames == 0)
        return -1;
    randombytes_buf(buf, fbytes);
    while (sent < total) {
        for (size_t f = 0; f < frames && sent < total; f++) {
            int last = f + 1 == frames || sent + fbytes >= total;
            if (zmq_send(p->sock, buf, fbytes, last ? 0 : ZMQ_SNDMORE) < 0)
                goto out;
            sent += fbytes;
        }
    }
out:
    free(buf);
    printf("frames sent=%zu\n", sent);
    return 0;
}

/* One plain TCP connection to addr (non-blocking: a full accept queue must
 * not stall the flood); -1 on failure. */
static int
tcp_open(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *) addr, sizeof *addr) != 0
        && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* badpeer flood HOST:PORT N SECONDS */
static int
flood_main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char host[64];
    const char *colon = argc == 5 ? strrchr(argv[2], ':') : NULL;
    int n = argc == 5 ? atoi(argv[3]) : 0, secs = argc == 5 ? atoi(argv[4]) : 0;
    if (!colon || (size_t) (colon - argv[2]) >= sizeof host || n <= 0
        || n > 100000 || secs <= 0) {
        fprintf(stderr, "usage: badpeer flood HOST:PORT N SECONDS\n");
        return 2;
    }
    memcpy(host, argv[2], (size_t) (colon - argv[2]));
    host[colon - argv[2]] = '\0';
    a.sin_port = htons((uint16_t) atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return 2;
    struct pollfd *fds = calloc((size_t) n, sizeof *fds);
    if (!fds)
        return 3;
    int opened = 0, reopened = 0;
    for (int i = 0; i < n; i++) {
        fds[i].fd = tcp_open(&a);
        fds[i].events = POLLIN;
        opened += fds[i].fd >= 0;
    }
    printf("flood opened=%d\n", opened);
    fflush(stdout);
    time_t end = time(NULL) + secs;
    while (time(NULL) < end) {
        int again = 0;
        if (poll(fds, (nfds_t) n, 100) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            char junk[256];
            if (fds[i].fd >= 0 && !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            /* Closed by the server (or never opened): hold another. */
            if (fds[i].fd >= 0 && read(fds[i].fd, junk, sizeof junk) > 0)
                continue;      /* its greeting: ignore, stay idle */
            if (fds[i].fd >= 0)
                close(fds[i].fd);
            fds[i].fd = tcp_open(&a);
            reopened += fds[i].fd >= 0;
            again = 1;
        }
        if (again) {           /* a refusing server: do not spin */
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < n; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    free(fds);
    printf("flood reopened=%d\n", reopened);
    return 0;
}

/* "sigflood": $BADPEER_COUNT (100) batches with a bad signature, each
 * carrying a value of $BADPEER_PAD (60000) bytes, one after another
 * (each waits for its answer, so the aggregator has recorded it).
 * Prints "flood sent=N replies=M". */
static int
flood_case(peer_t *p)
{
    const char *cs = getenv("BADPEER_COUNT"), *ps = getenv("BADPEER_PAD");
    long count = cs ? atol(cs) : 100, pad = ps ? atol(ps) : 60000;
    if (count <= 0 || pad <= 0 || pad > (3L << 20))
        return -1;
    char *value = malloc((size_t) pad + 1);
    if (!value)
        return -1;
    long replies = 0;
    for (long i = 0; i < count; i++) {
        /* different bytes every time: the digests differ */
        for (long k = 0; k < pad; k++)
            value[k] = (char) ('a' + (i + k) % 26);
        value[pad] = '\0';
        cds_update_t u = {.org_unit = p->org_unit, .indicator = "TO_CNSCD",
                          .period = "2025Q2", .disagg = "default",
                          .value = value, .stored_by = "flood",
                          .seq = p->applied + 1,
                          .hlc = cds_now_ms() << 16};
        Cdsync__Update pu = CDSYNC__UPDATE__INIT;
        cds_update_to_pb(&u, &pu);
        Cdsync__Update *ups[1] = {&pu};
        Cdsync__Batch b = CDSYNC__BATCH__INIT;
        b.version = CDS_PROTOCOL_VERSION;
        b.agent.data = (uint8_t *) cds_identity_sign_pk(p->id);
        b.agent.len = CDS_PK_BYTES;
        b.first_seq = b.last_seq = u.seq;
        b.prev_head.data = p->head;
        b.prev_head.len = CDS_HASH_BYTES;
        b.head.data = p->head;
        b.head.len = CDS_HASH_BYTES;
        b.n_updates = 1;
        b.updates = ups;
        if (seal_send(p, CDSYNC__KIND__KIND_BATCH, &b.base, 1)) {
            free(value);
            return -1;
        }
        Cdsync__Envelope *env = recv_reply(p);
        replies += env != NULL;
        cds_msg_free(env);
    }
    free(value);
    printf("flood sent=%ld replies=%ld\n", count, replies);
    return 0;
}

static int
run_case(peer_t *p, const char *c)
{
    if (!strcmp(c, "replay"))
        return replay_case(p);
    if (!strcmp(c, "frames"))
        return frames_case(p);
    if (!strcmp(c, "garbage") || !strcmp(c, "oversized"))
        return send_raw_case(p, c);
    /* "blind": no hello, a good batch at seq 1 straight away; "forge":
     * the same with a signature that does not verify (a peer naming a
     * key whose secret it lacks). */
    bool blind = strcmp(c, "blind") == 0 || strcmp(c, "forge") == 0;
    int rc = blind ? 0 : do_hello(p);
    if (blind)
        c = strcmp(c, "forge") == 0 ? "bad_sig" : "good";
    if (rc == 1) {
        printf("noreply\n");
        return 0;
    }
    if (!strcmp(c, "sigflood") && rc == 0)
        return flood_case(p);
    if (!strcmp(c, "hello") || rc == 2) {
        if (rc == 0)
            printf("hello applied=%llu\n", (unsigned long long) p->applied);
        return rc < 0 ? rc : 0;
    }
    if (rc)
        return rc;
    cds_update_t u = {.org_unit = p->org_unit, .indicator = "TO_CNSCD",
                      .period = "2025Q2", .disagg = "default", .value = "5",
                      .stored_by = "badpeer"};
    if (getenv("BADPEER_INDICATOR"))
        u.indicator = getenv("BADPEER_INDICATOR");
    if (getenv("BADPEER_PERIOD"))
        u.period = getenv("BADPEER_PERIOD");
    if (getenv("BADPEER_VALUE"))
        u.value = getenv("BADPEER_VALUE");
    const uint8_t *me = cds_identity_sign_pk(p->id);
    uint64_t next = p->applied + 1;
    if (!strcmp(c, "good"))
        return send_update(p, next, p->head, &u, me, 0);
    if (!strcmp(c, "bad_sig"))
        return send_update(p, next, p->head, &u, me, 1);
    if (!strcmp(c, "gap"))
        return send_update(p, next + 5, p->head, &u, me, 0);
    if (!strcmp(c, "key_mismatch")) {
        uint8_t other[CDS_PK_BYTES];
        randombytes_buf(other, sizeof other);
        return send_update(p, next, p->head, &u, other, 0);
    }
    if (!strcmp(c, "unknown_indicator"))
        u.indicator = "CDS99";
    else if (!strcmp(c, "bad_period"))
        u.period = "2025Q5";
    else if (!strcmp(c, "out_of_range")) {
        u.indicator = "HGD_CAPQUANG";
        u.value = "140";
    } else if (!strcmp(c, "bad_utf8"))
        u.comment = "\xc3\x28 broken";
    else if (!strcmp(c, "equivocation")) {
        uint8_t prev[CDS_HASH_BYTES];
        memcpy(prev, p->head, sizeof prev);
        if (send_update(p, next, prev, &u, me, 0))
            return -1;
        u.value = "6"; /* same seq, other content */
        return send_update(p, next, prev, &u, me, 0);
    } else if (strcmp(c, "org_unit")) {
        fprintf(stderr, "badpeer: unknown case %s\n", c);
        return 2;
    }
    return send_update(p, next, p->head, &u, me, 0);
}

/* CURVE client keys: ours, or those of $BADPEER_TRANSPORT_KEY. */
static int
curve_client(void *sock, const uint8_t server_curve[CDS_PK_BYTES],
             const cds_identity_t *id)
{
    const char *other = getenv("BADPEER_TRANSPORT_KEY");
    cds_identity_t *tid = NULL;
    int err = 0;
    if (other && other[0]) {
        tid = cds_identity_load(other, &err, NULL, 0);
        if (!tid) {
            fprintf(stderr, "badpeer: cannot load %s\n", other);
            return -1;
        }
        id = tid;
    }
    int rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_curve,
                            CDS_PK_BYTES)
             | zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY,
                              cds_identity_curve_pk(id), CDS_PK_BYTES)
             | zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY,
                              cds_identity_curve_sk(id), CDS_PK_BYTES);
    cds_identity_destroy(&tid);
    return rc ? -1 : 0;
}

/* One knock: a new socket connects, and we wait (10 s at most) for the
 * handshake to fail. 1 when a connection was made and its failure seen
 * (an attempt we gave up on never reached the aggregator's ZAP handler:
 * it must not be counted as a knock with our key), 0 not, -1 failure. */
static int
knock_once(void *ctx, const uint8_t *curve, const cds_identity_t *id,
           const char *endpoint, int n)
{
    char ep[64];
    int linger = 0, connected = 0;
    snprintf(ep, sizeof ep, "inproc://badpeer-knock-%d", n);
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
    if (curve_client(sock, curve, id) != 0
        || zmq_socket_monitor(sock, ep, ZMQ_EVENT_CONNECTED
                              | ZMQ_EVENT_DISCONNECTED
                              | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                              | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                              | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0
        || zmq_connect(mon, ep) != 0 || zmq_connect(sock, endpoint) != 0) {
        zmq_close(mon);
        zmq_close(sock);
        return -1;
    }
    uint64_t end = cds_mono_ms() + 10000;
    bool done = false;
    while (!done && cds_mono_ms() < end) {
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        uint8_t head[6] = {0};
        int more = 0;
        size_t ml = sizeof more;
        zmq_recv(mon, head, sizeof head, 0);
        zmq_getsockopt(mon, ZMQ_RCVMORE, &more, &ml);
        char addr[256];
        if (more)
            zmq_recv(mon, addr, sizeof addr, 0);
        uint16_t ev;
        memcpy(&ev, head, 2);
        if (ev == ZMQ_EVENT_CONNECTED)
            connected = 1;
        else
            done = true;
    }
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(sock);
    zmq_close(mon);
    return connected && done;
}

/* Case "knock": $BADPEER_COUNT handshakes, one socket each (see the top;
 * libzmq stops reconnecting a socket whose handshake ZAP refused). */
static int
knock(void *ctx, const uint8_t *curve, const cds_identity_t *id,
      const char *endpoint)
{
    const char *env = getenv("BADPEER_COUNT");
    long want = env ? atol(env) : 200, got = 0;
    uint64_t end = cds_mono_ms() + 60000;
    for (int n = 0; got < want && cds_mono_ms() < end; n++) {
        int rc = knock_once(ctx, curve, id, endpoint, n);
        if (rc < 0)
            return -1;
        got += rc;
    }
    printf("knock connected=%ld\n", got);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "flood") == 0)
        return flood_main(argc, argv);
    if (argc < 5) {
        fprintf(stderr, "usage: badpeer ENDPOINT SERVER_PUBID KEYFILE CASE [ORG_UNIT]\n"
                        "cases: hello good blind bad_sig gap key_mismatch unknown_indicator\n"
                        "       bad_period out_of_range bad_utf8 equivocation org_unit\n"
                        "       garbage oversized nocurve replay (BADPEER_FILE=envelope)\n"
                        "       frames (BADPEER_FRAMES, BADPEER_FRAME_BYTES, BADPEER_TOTAL)\n"
                        "   or: badpeer flood HOST:PORT N SECONDS\n"
                        "       sigflood (BADPEER_COUNT, BADPEER_PAD) forge\n"
                        "       knock (BADPEER_COUNT connections, nothing sent)\n"
                        "env BADPEER_TRANSPORT_KEY=FILE: CURVE keys of FILE\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 3;
    peer_t p = {.org_unit = argc > 5 ? argv[5] : "27901"};
    uint8_t curve[CDS_PK_BYTES];
    int err = 0;
    if (cds_pubid_parse(argv[2], p.server, curve) != CDS_OK) {
        fprintf(stderr, "badpeer: bad server identity\n");
        return 2;
    }
    p.id = cds_identity_load(argv[3], &err, NULL, 0);
    if (!p.id) {
        fprintf(stderr, "badpeer: cannot load %s: %s\n", argv[3], cds_strerror(err));
        return 3;
    }
    p.ctx = zmq_ctx_new();
    p.sock = zmq_socket(p.ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(p.sock, ZMQ_LINGER, &linger, sizeof linger);
    const char *c = argv[4];
    if (strcmp(c, "nocurve") == 0)
        c = "good";
    else if (curve_client(p.sock, curve, p.id) != 0) {
        cds_identity_destroy(&p.id);
        return 3;
    }
    int rc = strcmp(c, "knock") == 0 ? knock(p.ctx, curve, p.id, argv[1])
             : zmq_connect(p.sock, argv[1]) == 0 ? run_case(&p, c)
                                                 : -1;
    zmq_close(p.sock);
    zmq_ctx_term(p.ctx);
    cds_identity_destroy(&p.id);
    if (rc < 0)
        fprintf(stderr, "badpeer: %s failed\n", argv[4]);
    return rc < 0 ? 3 : rc;
}
