/*  page: the commune officer's local page (docs/AGENT.md "The officer's
 *  page"), served by `cdsync-agent open` itself on 127.0.0.1 with
 *  libmicrohttpd (one internal polling thread, as the aggregator's
 *  aggregator/front/http.c; every handler runs on it, so the outbox
 *  connection is used by one thread only).
 *
 *  Why `open` and not the daemon: the one-time login token is made where
 *  it is handed to the officer (printed, or in a 0600 file in state_dir
 *  for xdg-open: never in a process list), nothing passes it to `run`; the
 *  sync daemon stays small (libmicrohttpd is dlopen'ed here only); and the
 *  page writes through the same outbox path as `submit` (submit_update,
 *  which wakes a running daemon). The page lives while `open` runs.
 *
 *  Access: `open` makes a random login token valid PAGE_LOGIN_TTL_MS and
 *  once. GET /login?t=TOKEN with it sets an HttpOnly SameSite=Strict
 *  session cookie and redirects to /; a reused or late token is refused
 *  (403), and so is the right one after any wrong try (a guess ends the
 *  link: run `open` again). Every other route needs the session cookie (else 401) and every
 *  POST also the header X-CSRF-Token equal to the session's CSRF token
 *  (handed to the page by GET /api/state; else 403). A new login ends the
 *  previous session. Listening on a non-loopback address is refused.
 *
 *  What goes in: POST /api/check and /api/submit (submit_check,
 *  submit_update: the rules of `submit`), POST /api/import (a CSV file,
 *  import_file: every bad row named, nothing queued), POST /api/receipt
 *  (carry_import_receipt). What comes out: GET /api/state (the form, each
 *  value's state, the sync verdict of `status`), POST /api/export
 *  (carry_export, the file downloaded), GET /receipt?id=N (a receipt
 *  printable as a "biên nhận"). Bad input: 400 with a Vietnamese message
 *  naming the field, line or value. */
#ifndef AGENT_PAGE_H
#define AGENT_PAGE_H

#include "carry.h"
#include "outbox.h"
#include "status.h"
#include "submit.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_LOGIN_TTL_MS (120 * 1000)  /* the one-time link expires */
#define PAGE_BODY_MAX (4u * 1024u * 1024u) /* uploads (CSV, receipts) */

/* What the page needs; everything borrowed, outliving the page. */
typedef struct {
    const char *listen;                /* "127.0.0.1:7790" */
    const submit_ctx_t *intake;        /* rules of submit/import */
    const cds_orgunits_t *orgunits;    /* names of units; may be NULL */
    outbox_t *outbox;                  /* writer, used on the page thread */
    const char *state_dir;             /* exports land in <state_dir>/exports */
    carry_opts_t carry;                /* export-batches' options */
    const uint8_t *server_pk;          /* receipts are verified with it */
    status_limits_t limits;            /* the verdict of `status` */
} page_config_t;

typedef struct page page_t;

/* 0 when listen is "HOST:PORT" with a loopback IPv4 host (127.x.x.x),
 * else -1 with "http_listen: ..." in err. Binds nothing. */
int page_parse_listen(const char *listen, char *err, size_t errlen);
/* Bind and start serving. NULL with a message in err. */
page_t *page_start(const page_config_t *cfg, char *err, size_t errlen);
/* Stop (waits for the thread), free; sets *self_p to NULL. */
void page_destroy(page_t **self_p);
/* A new one-time login URL into url ("http://127.0.0.1:PORT/login?t=");
 * the previous unused link stops working. 0 or -1. */
int page_login_url(page_t *self, char *url, size_t len);

#endif
