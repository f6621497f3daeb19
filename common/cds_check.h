/*  cds_check: the findings of --check-config (both programs).
 *
 *  Each check looks at one configured thing the way `run` would use it
 *  and writes one line per problem to the collector's stream, naming the
 *  key (or file:line) and the offending value, then goes on: the
 *  operator sees every problem at once, not the first. Invariant: nothing
 *  here creates, opens for writing, migrates or binds anything; files are
 *  only stat()ed, access()ed or read. */
#ifndef CDS_CHECK_H
#define CDS_CHECK_H

#include "cds_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *out;                 /* one line per problem */
    size_t problems;           /* lines written so far */
} cds_check_t;

/* Write one problem line ("KEY: what is wrong"). */
void cds_check_problem(cds_check_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* key's integer value within lo..hi: true with *out, else a problem. */
bool cds_check_long(cds_check_t *c, const cds_config_t *cfg,
                    const char *key, long long lo, long long hi,
                    long long *out);
/* key's log level parses (debug|info|warn|error). */
void cds_check_log_level(cds_check_t *c, const cds_config_t *cfg,
                         const char *key);
/* path is a regular file this user can read. */
bool cds_check_readable(cds_check_t *c, const char *key, const char *path);
/* A secret key file: regular, readable, no group/other permission bits
 * (0600 or stricter) and owned by this user (the daemon's). */
bool cds_check_secret(cds_check_t *c, const char *key, const char *path);
/* An identity file: cds_check_secret, then it loads (cds_identity_load). */
void cds_check_identity(cds_check_t *c, const char *key, const char *path);
/* The directory that holds db_name: exists (or `run` can create it: its
 * nearest existing ancestor is writable) and is writable and searchable
 * by this user; db_name in it, if present, is readable and writable. */
void cds_check_state_dir(cds_check_t *c, const char *key, const char *dir,
                         const char *db_name);
/* A ZeroMQ endpoint as `run` binds (bind) or connects to it:
 * tcp://HOST:PORT (bind: HOST may be * or an interface, PORT may be *)
 * or ipc://PATH (bind: PATH's directory exists). Syntax only. */
void cds_check_endpoint(cds_check_t *c, const char *key, const char *ep,
                        bool bind);

#endif
