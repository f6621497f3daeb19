/*  knock: who keeps knocking. The refused handshakes grouped by auth.c in
 *  the knock table (store_knock_add), as `cdsync-aggregator health` shows
 *  them after the agents (docs/OPERATIONS.md "Health"): an unknown key, a
 *  revoked key (with the commune it was enrolled for), or, when the
 *  handshake failed before any key was known (wrong server key, no CURVE),
 *  only the peer address. Read-only: works on a read-only store. Listing
 *  them changes no exit code (Nagios semantics stay those of the agents). */
#ifndef AGG_KNOCK_H
#define AGG_KNOCK_H

#include "cds_id.h"
#include "store.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KNOCK_WINDOW_MS (24 * 3600 * 1000LL) /* "still knocking" */
#define KNOCK_LIST_MAX 200                     /* rows listed at most */

typedef struct {
    bool has_key;                      /* false: failed before ZAP */
    char curve_hex[2 * CDS_PK_BYTES + 1]; /* client CURVE key, "" if none */
    char address[64];                  /* peer address, "unknown" */
    int code;                          /* CDS_EUNKNOWNKEY, CDS_EREVOKED,
                                        * CDS_EMALFORMED */
    uint64_t first_ms, last_ms, count;
    bool has_agent;                    /* key was enrolled once */
    char fpr[CDS_FPR_LEN];             /* that agent, "" if none */
    char label[128];
    char org_units[256];               /* "801,802", "" */
    bool replaced;                     /* rotated to a new key */
} knock_row_t;

/* The groups last seen at or after since_ms, latest first, at most
 * KNOCK_LIST_MAX. *out is malloc'd (caller frees; NULL when none), *n
 * entries. CDS_OK or a database / memory error. */
int knock_list(store_t *store, int64_t since_ms, knock_row_t **out,
               size_t *n);
/* "revoked key", "unknown key", "handshake failed". Borrowed. */
const char *knock_reason(int code);
/* Append one object per row to the JSON array arr ("knock": true, then
 * key, agent, commune, address, count, first/last seen): its objects
 * have no "label" or "state", so selectors over the agents are
 * unaffected. CDS_OK or CDS_ENOMEM. */
int knock_to_json(json_t *arr, const knock_row_t *list, size_t n,
                  uint64_t now_ms);
/* A heading and one aligned line per row; nothing when n is 0. */
void knock_print(FILE *out, const knock_row_t *list, size_t n,
                 uint64_t now_ms);

#endif
