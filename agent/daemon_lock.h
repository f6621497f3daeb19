/*  daemon_lock: one `run` daemon per state directory, by flock(2) on
 *  <state_dir>/agent.lock.
 *
 *  Invariant: while a daemon runs it holds an exclusive lock on the file;
 *  the kernel drops it when the process ends, however it ends, so a crash
 *  never leaves a stale lock and nothing is ever written to the file.
 *  `status` and the admin commands ask daemon_lock_held to tell "running"
 *  from "not running". */
#ifndef AGENT_DAEMON_LOCK_H
#define AGENT_DAEMON_LOCK_H

#include <stdbool.h>

/* Take the lock (non-blocking). CDS_OK with *fd to keep open while
 * running (closing it releases the lock); CDS_EBUSY when another daemon
 * holds it; CDS_EIO (logged with the path). */
int daemon_lock_take(const char *state_dir, int *fd);
/* True when a daemon holds the lock of state_dir. */
bool daemon_lock_held(const char *state_dir);

#endif
