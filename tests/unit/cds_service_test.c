/*  cds_service_test: notifications reach $NOTIFY_SOCKET (a datagram socket
 *  of the test stands in for systemd), the watchdog is pinged on time, and
 *  SIGHUP reloads the log level from the file, logs changed keys, warns
 *  "requires restart" for restart keys and runs the program's part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds_config.h"
#include "cds_log.h"
#include "cds_service.h"
#include "cds_signal.h"
#include "cds_util.h"

#ifdef _WIN32
/* Windows: no systemd and no SIGHUP. The service reports to the SCM
 * itself (agent/win32/service_win32.c, tests/windows/windows_agent.sh);
 * here every notification is a no-op, the poll timeout passes through
 * unchanged without a watchdog, and a tick never reloads. */
static const cds_option_t options[] = {
    {"test.log_level", "log-level", 0, "LEVEL", "info", "log level"},
};

static void
test_no_systemd(void **state)
{
    (void) state;
    char *argv[] = {"test", NULL};
    unsetenv("WATCHDOG_USEC");
    cds_service_set_reload(options, 1, 1, argv, NULL, "test.log_level");
    assert_int_equal(cds_signal_install(), 0);
    cds_service_ready("serving");
    cds_service_status("still serving");
    assert_int_equal(cds_service_poll_ms(-1), -1);
    assert_int_equal(cds_service_poll_ms(250), 250);
    cds_signal_catch_reload();
    cds_service_tick();
    assert_false(cds_signal_stop_requested());
    cds_service_stopping();
    cds_service_on_reload(NULL, NULL, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_systemd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
#include <sys/socket.h>
#include <sys/un.h>

static char dir[] = "/tmp/cds_service_test.XXXXXX";
static char sock_path[96], ini_path[96];
static int sock = -1;

static const cds_option_t options[] = {
    {"test.log_level", "log-level", 0, "LEVEL", "info", "log level"},
};

/* Next datagram within timeout_ms into buf; false on timeout. */
static bool
receive(char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {sock, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    ssize_t n = recv(sock, buf, len - 1, 0);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

static int
setup(void **state)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_non_null(mkdtemp(dir));
    snprintf(sock_path, sizeof sock_path, "%s/notify", dir);
    snprintf(ini_path, sizeof ini_path, "%s/test.ini", dir);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(sock >= 0);
    assert_int_equal(bind(sock, (struct sockaddr *)&a, sizeof a), 0);
    setenv("NOTIFY_SOCKET", sock_path, 1);
    return 0;
}

static int
teardown(void **state)
{
    close(sock);
    unsetenv("NOTIFY_SOCKET");
    unlink(sock_path);
    unlink(ini_path);
    rmdir(dir);
    return 0;
}

static void
write_ini(const char *level)
{
    FILE *f = fopen(ini_path, "w");
    assert_non_null(f);
    fprintf(f, "[test]\nlog_level = %s\n", level);
    fclose(f);
}

/* READY=1 with the status, then a WATCHDOG=1 per half period: poll_ms
 * never lets the loop sleep past the next ping. */
static void
test_ready_and_watchdog(void **state)
{
    char buf[512];
    setenv("WATCHDOG_USEC", "100000", 1);           /* ping every 50 ms */
    cds_service_ready("serving tcp://127.0.0.1:1");
    unsetenv("WATCHDOG_USEC");
    assert_true(receive(buf, sizeof buf, 2000));
    assert_string_equal(buf, "READY=1\nSTATUS=serving tcp://127.0.0.1:1");
    assert_true(receive(buf, sizeof buf, 2000));
    assert_string_equal(buf, "WATCHDOG=1");
    assert_true(cds_service_poll_ms(-1) <= 50);
    assert_true(cds_service_poll_ms(10) <= 10);
    for (int pings = 0; pings < 3;) {
        uint64_t deadline = cds_mono_ms() + 2000;
        long ms = cds_service_poll_ms(-1);
        assert_true(ms >= 0 && ms <= 50);
        usleep((useconds_t)ms * 1000);              /* the loop's poll */
        cds_service_tick();
        if (receive(buf, sizeof buf, 0)) {
            assert_string_equal(buf, "WATCHDOG=1");
            pings++;
        }
        assert_true(cds_mono_ms() < deadline);
    }
    cds_service_status("idle");
    assert_true(receive(buf, sizeof buf, 2000));
    assert_string_equal(buf, "STATUS=idle");
    cds_service_stopping();
    assert_true(receive(buf, sizeof buf, 2000));
    assert_string_equal(buf, "STOPPING=1");
}

/* "@name": the abstract namespace (systemd's own socket may be one). */
static void
test_abstract_socket(void **state)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char name[64], buf[64];
    snprintf(name, sizeof name, "@cds_service_test.%d", (int)getpid());
    memcpy(a.sun_path, name, strlen(name));
    a.sun_path[0] = '\0';
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path)
                                      + strlen(name))), 0);
    setenv("NOTIFY_SOCKET", name, 1);
    cds_service_status("abstract");
    setenv("NOTIFY_SOCKET", sock_path, 1);
    struct pollfd p = {s, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "STATUS=abstract");
    close(s);
}

/* SIGHUP: the process lives and the file's level applies at the next
 * tick; a bad file keeps the running level. Observed through stderr. */
static void
test_sighup_reloads_level(void **state)
{
    char *argv[] = {"cds_service_test", "-c", ini_path, NULL};
    char log_path[128], *out = NULL;
    snprintf(log_path, sizeof log_path, "%s/stderr", dir);
    int fd = dup(STDERR_FILENO);                     /* cds_log: write(2) */
    int cap = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && cap >= 0);
    assert_int_equal(dup2(cap, STDERR_FILENO), STDERR_FILENO);
    close(cap);

    cds_log_init("cds_service_test", CDS_LOG_INFO);
    assert_int_equal(cds_signal_install(), 0);
    cds_signal_reset();
    cds_service_set_reload(options, 1, 3, argv, NULL, "test.log_level");
    cds_service_ready("x");                          /* catches SIGHUP */
    write_ini("debug");
    raise(SIGHUP);
    cds_service_tick();
    cds_log(CDS_LOG_DEBUG, "after_reload", NULL);
    write_ini("loud");
    raise(SIGHUP);
    cds_service_tick();
    cds_log(CDS_LOG_DEBUG, "level_kept", NULL);

    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    assert_int_equal(cds_read_file(log_path, 1 << 20, &out, NULL), 0);
    unlink(log_path);
    assert_non_null(strstr(out, "event=reload result=ok log_level=debug"));
    assert_non_null(strstr(out, "event=after_reload"));
    assert_non_null(strstr(out, "event=reload result=failed"));
    assert_non_null(strstr(out, "event=level_kept"));
    free(out);
    cds_log_init("cds_service_test", CDS_LOG_INFO);
    cds_signal_reset();
}

static const cds_option_t options3[] = {
    {"test.log_level", "log-level", 0, "LEVEL", "info", "log level"},
    {"test.addr", "addr", 0, "A", NULL, "needs a restart"},
    {"test.limit", "limit", 0, "N", NULL, "applied live"},
};
static const char *const restart3[] = {"test.addr", NULL};

static void
write_ini3(const char *addr, const char *limit)
{
    FILE *f = fopen(ini_path, "w");
    assert_non_null(f);
    fprintf(f, "[test]\nlog_level = info\naddr = %s\nlimit = %s\n", addr,
            limit);
    fclose(f);
}

typedef struct {
    char limit[16];                    /* what the last call saw */
    int calls, result;                 /* what it returns */
} seen_t;

static int
apply3(const cds_config_t *fresh, void *arg)
{
    seen_t *seen = arg;
    snprintf(seen->limit, sizeof seen->limit, "%s",
             cds_config_get(fresh, "test.limit"));
    seen->calls++;
    return seen->result;
}

/* A changed restart key is warned about (against the start value, each
 * time) and a live one logged; the program's part gets the new file and
 * its failure makes the reload "partial". */
static void
test_reload_restart_and_live_keys(void **state)
{
    char *argv[] = {"cds_service_test", "-c", ini_path, NULL};
    char log_path[128], *out = NULL;
    seen_t seen = {.result = 0};
    snprintf(log_path, sizeof log_path, "%s/stderr3", dir);
    int fd = dup(STDERR_FILENO);
    int cap = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && cap >= 0);
    assert_int_equal(dup2(cap, STDERR_FILENO), STDERR_FILENO);
    close(cap);

    cds_log_init("cds_service_test", CDS_LOG_INFO);
    assert_int_equal(cds_signal_install(), 0);
    cds_signal_reset();
    write_ini3("A", "1");
    cds_service_set_reload(options3, 3, 3, argv, NULL, "test.log_level");
    cds_service_on_reload(restart3, apply3, &seen);
    cds_service_ready("x");
    write_ini3("B", "2");
    raise(SIGHUP);
    cds_service_tick();
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.limit, "2");
    seen.result = -1;
    raise(SIGHUP);
    cds_service_tick();
    assert_int_equal(seen.calls, 2);
    cds_service_on_reload(NULL, NULL, NULL);

    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    assert_int_equal(cds_read_file(log_path, 1 << 20, &out, NULL), 0);
    unlink(log_path);
    const char *warn = "level=warn prog=cds_service_test "
                       "event=reload_requires_restart key=addr running=A "
                       "configured=B";
    char *first = strstr(out, warn);
    assert_non_null(first);
    assert_non_null(strstr(first + 1, warn));          /* warned again */
    assert_non_null(strstr(out, "event=reload_changed key=limit old=1 "
                                "new=2"));
    assert_null(strstr(out, "event=reload_changed key=addr"));
    assert_non_null(strstr(out, "event=reload result=ok log_level=info "
                                "changed=1 restart_needed=1"));
    assert_non_null(strstr(out, "event=reload result=partial log_level=info "
                                "changed=0 restart_needed=1"));
    free(out);
    cds_log_init("cds_service_test", CDS_LOG_INFO);
    cds_signal_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_and_watchdog),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_sighup_reloads_level),
        cmocka_unit_test(test_reload_restart_and_live_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
#endif
