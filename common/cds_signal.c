#include "cds_signal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static int pipe_fd[2] = {-1, -1};

static void
wake(void)
{
    int saved = errno;                 /* handlers must not clobber errno */
    if (pipe_fd[1] >= 0) {
        char c = 1;
        /* Full pipe: already readable, which is all we need. */
        if (write(pipe_fd[1], &c, 1) < 0)
            (void) 0;
    }
    errno = saved;
}

static void
on_signal(int sig)
{
    (void) sig;
    stop_flag = 1;
    wake();
}

int
cds_signal_install(void)
{
    if (pipe_fd[0] < 0 && pipe2(pipe_fd, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;                   /* no SA_RESTART: also wake with EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return 0;
}

static void
on_hangup(int sig)
{
    (void) sig;
    reload_flag = 1;
    wake();
}

void
cds_signal_catch_reload(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hangup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGHUP, &sa, NULL);
}

/* Drain first, then take the flag: a SIGHUP between the two is still
 * taken now (its byte only costs one spurious wake-up), never lost. */
bool
cds_signal_take_reload(void)
{
    char buf[64];
    if (!reload_flag)
        return false;
    if (!stop_flag && pipe_fd[0] >= 0)
        while (read(pipe_fd[0], buf, sizeof buf) > 0)
            ;
    reload_flag = 0;
    return true;
}

int
cds_signal_fd(void)
{
    return pipe_fd[0];
}

bool
cds_signal_stop_requested(void)
{
    return stop_flag != 0;
}

void
cds_signal_request_stop(void)
{
    stop_flag = 1;
    wake();
}

void
cds_signal_reset(void)
{
    char buf[64];
    stop_flag = 0;
    reload_flag = 0;
    if (pipe_fd[0] >= 0)
        while (read(pipe_fd[0], buf, sizeof buf) > 0)
            ;
}
