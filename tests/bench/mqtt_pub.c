/*  mqtt_pub: one publisher of the Mosquitto pipeline (issue 7, item 8):
 *  publishes N generated updates (bench_util.h rows START.., org unit OU)
 *  at QoS 1 to TOPIC, as fast as the broker takes them (RATE 0) or at
 *  RATE messages/s, then waits for every PUBACK (10 minutes at most).
 *
 *    mqtt_pub HOST PORT TOPIC OU N RATE START
 *  Payload: "T_NS|OU|indicator|period|value;comment;stored_by", T_NS the
 *  wall clock just before publish (mqtt_sink measures latency from it).
 *  Exit 0 when all N were acknowledged by the broker. */
#include "bench_util.h"
#include <mosquitto.h>
#include <stdatomic.h>

static _Atomic size_t g_acked;

static void
on_publish(struct mosquitto *m, void *arg, int mid)
{
    (void) m; (void) arg; (void) mid;
    atomic_fetch_add(&g_acked, 1);
}

static int
publish_all(struct mosquitto *m, const char *topic, const char *ou, size_t n,
            double rate, uint64_t start)
{
    char payload[512];
    bench_row_t r;
    uint64_t t0 = bench_mono_ns(), step = rate > 0 ? (uint64_t) (1e9 / rate)
                                                   : 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t due = t0 + k * step, now = bench_mono_ns();
        if (due > now) {
            struct timespec ts = { (time_t) ((due - now) / 1000000000u),
                                   (long) ((due - now) % 1000000000u) };
            nanosleep(&ts, NULL);
        }
        bench_row(&r, start + k);
        int len = snprintf(payload, sizeof payload, "%llu|%s|%s|%s|%s;%s;%s",
                           (unsigned long long) bench_wall_ns(), ou,
                           r.indicator, r.period, r.value, r.comment, "bench");
        if (mosquitto_publish(m, NULL, topic, len, payload, 1, false) != 0)
            return 1;
    }
    uint64_t deadline = bench_mono_ns() + 600000000000u;
    while (atomic_load(&g_acked) < n && bench_mono_ns() < deadline) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return atomic_load(&g_acked) < n;
}

int
main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: mqtt_pub HOST PORT TOPIC OU N RATE START\n");
        return 2;
    }
    char id[64];
    snprintf(id, sizeof id, "cdsync-bench-pub-%s-%s", argv[4], argv[7]);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    int rc = m ? 0 : 1;
    if (m) {
        mosquitto_publish_callback_set(m, on_publish);
        mosquitto_max_inflight_messages_set(m, 100);
    }
    if (rc == 0 && (mosquitto_connect(m, argv[1], atoi(argv[2]), 60) != 0
                    || mosquitto_loop_start(m) != 0))
        rc = 1;
    if (rc == 0)
        rc = publish_all(m, argv[3], argv[4], strtoul(argv[5], NULL, 10),
                         strtod(argv[6], NULL), strtoull(argv[7], NULL, 10));
    if (rc != 0)
        fprintf(stderr, "mqtt_pub %s: failed (%zu acked)\n", argv[4],
                atomic_load(&g_acked));
    if (m) {
        mosquitto_disconnect(m);
        mosquitto_loop_stop(m, false);
        mosquitto_destroy(m);
    }
    mosquitto_lib_cleanup();
    return rc;
}
