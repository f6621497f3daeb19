/*  livestate: the running daemon's connection state in a small file beside
 *  the database, <state_dir>/agent.state, for `status`.
 *
 *  Why a file and not only meta: when the agent cannot write its database
 *  (disk full, another writer holding the lock) it cannot write
 *  meta.conn_state either, and status would show a stale "connected". The
 *  file is created at its full size when the daemon starts and then only
 *  overwritten in place (pwrite of the same LIVESTATE_BYTES at offset 0):
 *  no block is allocated after start, so a full disk cannot refuse it.
 *  No fsync: it describes a running daemon; after a crash status says
 *  "not running" from the lock and ignores the file.
 *
 *  Format: one line "<state>\t<since_ms>\t<error>\n", padded with spaces
 *  to LIVESTATE_BYTES. */
#ifndef AGENT_LIVESTATE_H
#define AGENT_LIVESTATE_H

#include <stdint.h>

#define LIVESTATE_BYTES 512

typedef struct {
    char state[32];                    /* "connected", "local_write_failed" */
    uint64_t since_ms;                 /* wall ms when it changed */
    char error[400];                   /* "" when none */
} livestate_t;

/* Create (or reuse) <state_dir>/agent.state at its full size. The fd to
 * keep for livestate_write, or -1 (logged: status falls back to meta). */
int livestate_open(const char *state_dir);
/* Overwrite the file with state, error (NULL: "") and since_ms. 0 or -1. */
int livestate_write(int fd, const char *state, const char *error,
                    uint64_t since_ms);
/* Write state and error (NULL: "") with since_ms only when they differ
 * from *last, the record last written (zeroed before the first call;
 * updated on a successful write): the session tells its state again at
 * every backoff, the file takes one write per change. 0 (written or
 * unchanged) or -1. */
int livestate_update(int fd, livestate_t *last, const char *state,
                     const char *error, uint64_t since_ms);
/* Read <state_dir>/agent.state. 0, or -1 when absent or unreadable. */
int livestate_read(const char *state_dir, livestate_t *out);

#endif
