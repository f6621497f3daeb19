/*  cds_signal: SIGTERM/SIGINT as a file descriptor a poll loop can wait on.
 *
 *  A daemon blocked in zmq_poll() must wake when systemd stops it. A flag
 *  plus EINTR is not enough: the process-directed signal may be delivered
 *  to one of libzmq's I/O threads, and the main thread then sleeps on.
 *  The handler therefore also writes one byte to a non-blocking self-pipe
 *  whose read end the loop polls beside its sockets: whichever thread runs
 *  the handler, the loop wakes. Invariant: once a stop was requested,
 *  cds_signal_stop_requested() stays true and the fd stays readable.
 *
 *  SIGHUP (daemons only, cds_signal_catch_reload): would kill the process
 *  by default, and systemd counts that as a clean exit that Restart=
 *  on-failure does not undo. Caught, it sets a reload flag and wakes the
 *  loop through the same pipe; the loop takes it with
 *  cds_signal_take_reload(), which also empties the pipe. */
#ifndef CDS_SIGNAL_H
#define CDS_SIGNAL_H

#include <stdbool.h>

/* Install handlers for SIGTERM and SIGINT (no SA_RESTART) and create the
 * pipe. Idempotent. 0 on success, -1 (errno set) if the pipe fails. */
int cds_signal_install(void);
/* Read end of the pipe to poll for POLLIN, or -1 before install. */
int cds_signal_fd(void);
/* True once SIGTERM/SIGINT arrived or cds_signal_request_stop() ran. */
bool cds_signal_stop_requested(void);
/* Request a stop as a signal would (tests, fatal errors). Safe anywhere,
 * including signal handlers and other threads. */
void cds_signal_request_stop(void);
/* Catch SIGHUP as a reload request (after cds_signal_install). Only for a
 * loop that calls cds_signal_take_reload: others would spin on the pipe. */
void cds_signal_catch_reload(void);
/* True once per SIGHUP burst: clears the flag and, unless a stop is
 * pending (which keeps the pipe readable), empties the pipe. */
bool cds_signal_take_reload(void);
#ifdef _WIN32
/* A Windows service process: the console's logoff and shutdown events are
 * not stop requests (a user logging off must not stop the service; the
 * SCM sends its own stop at shutdown). */
void cds_signal_service_mode(void);
#endif
/* Forget a past stop request and empty the pipe (tests run loops twice). */
void cds_signal_reset(void);

#endif
