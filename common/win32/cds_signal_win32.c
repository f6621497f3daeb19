/*  cds_signal on Windows: see ../cds_signal.h for the contract.
 *
 *  Windows has no SIGTERM and no pipe that zmq_poll() can wait on. Ctrl-C,
 *  Ctrl-Break, closing the console, logoff and shutdown arrive through a
 *  console control handler, on a thread of their own; the self-pipe is a
 *  UDP socket bound to 127.0.0.1 and connected to itself, which zmq_poll
 *  and WSAPoll accept. The handler sets the flag and sends one datagram,
 *  so the loop wakes whichever thread it sleeps in; the flag stays set and
 *  the datagram stays unread, so the contract's invariant holds. There is
 *  no SIGHUP: cds_signal_catch_reload does nothing and reload is never
 *  taken (a Windows service's "paramchange" control is the later place).
 *  A service (agent/win32/service_win32.c) gets its stop from the SCM,
 *  which calls cds_signal_request_stop(); in it the console's logoff and
 *  shutdown events are passed on, not taken as stops
 *  (cds_signal_service_mode). */
#include "cds_signal.h"

#include "cds_compat.h"

static volatile LONG stop_flag;
static volatile LONG service_mode;     /* cds_signal_service_mode */
static SOCKET self_sock = INVALID_SOCKET;

static void
wake(void)
{
    char c = 1;
    if (self_sock != INVALID_SOCKET)
        send(self_sock, &c, 1, 0);
}

static BOOL WINAPI
on_control(DWORD type)
{
    /* Ctrl-C, Break, close; logoff and shutdown but in a service */
    if ((type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
        && InterlockedCompareExchange(&service_mode, 0, 0))
        return FALSE;                  /* not ours: the SCM stops us */
    InterlockedExchange(&stop_flag, 1);
    wake();
    return TRUE;                       /* handled: the loop exits cleanly */
}

/* A UDP socket on 127.0.0.1 connected to its own address, non-blocking. */
static SOCKET
self_socket(void)
{
    WSADATA wsa;
    struct sockaddr_in a = {.sin_family = AF_INET};
    int len = sizeof a;
    u_long on = 1;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return INVALID_SOCKET;
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *) &a, sizeof a) != 0
        || getsockname(s, (struct sockaddr *) &a, &len) != 0
        || connect(s, (struct sockaddr *) &a, sizeof a) != 0
        || ioctlsocket(s, FIONBIO, &on) != 0) {
        if (s != INVALID_SOCKET)
            closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

int
cds_signal_install(void)
{
    if (self_sock == INVALID_SOCKET
        && (self_sock = self_socket()) == INVALID_SOCKET)
        return errno = EIO, -1;
    SetConsoleCtrlHandler(on_control, TRUE);
    return 0;
}

int
cds_signal_fd(void)
{
    return self_sock == INVALID_SOCKET ? -1 : (int) self_sock;
}

bool
cds_signal_stop_requested(void)
{
    return InterlockedCompareExchange(&stop_flag, 0, 0) != 0;
}

void
cds_signal_request_stop(void)
{
    InterlockedExchange(&stop_flag, 1);
    wake();
}

void
cds_signal_service_mode(void)
{
    InterlockedExchange(&service_mode, 1);
}

void
cds_signal_catch_reload(void)
{
}

bool
cds_signal_take_reload(void)
{
    return false;
}

void
cds_signal_reset(void)
{
    char buf[64];
    InterlockedExchange(&stop_flag, 0);
    if (self_sock != INVALID_SOCKET)
        while (recv(self_sock, buf, sizeof buf, 0) > 0)
            ;
}
