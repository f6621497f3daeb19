/*  submit: validate one update typed by the commune officer and queue it
 *  durably; also the validation and daemon wake-up shared with `import`.
 *
 *  Invariant: nothing reaches the outbox that the agent itself can tell is
 *  wrong: the value is canonical for its indicator's type and within its
 *  bounds (cds_catalog_check_update), the period parses, and the org unit is
 *  one of the agent's configured org_units. With the org-unit file
 *  (agent.orgunits) the unit must exist in the period (cds_orgunit_open_in:
 *  org_unit_closed); with data sets (agent.datasets) the indicator must be
 *  in a data set of the unit for the period's type (org_unit_not_allowed,
 *  the message names the data set's file:line). Deletions pass both, so a
 *  value kept before them can still be removed. The aggregator re-checks
 *  the lifetime (not the data sets); this check is for instant feedback,
 *  not for trust.
 *
 *  Wake-up: after a commit the daemon (if running) is nudged through a
 *  ZeroMQ PUSH to ipc://<state_dir>/wake.sock, best effort: a missed wake
 *  delays sending, never loses data (the rows are already durable). */
#ifndef AGENT_SUBMIT_H
#define AGENT_SUBMIT_H

#include "cds_catalog.h"
#include "cds_rule.h"
#include "cds_dataset.h"
#include "cds_idmap.h"
#include "cds_orgunit.h"
#include "cds_update.h"
#include "outbox.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What validation and queueing need; everything borrowed. */
typedef struct {
    const cds_catalog_t *catalog;      /* indicator catalog */
    const char *org_units;             /* comma-separated allowed codes */
    const cds_orgunits_t *orgunits;    /* NULL: lifetimes not checked */
    const char *orgunits_path;         /* for messages */
    const cds_datasets_t *datasets;    /* NULL: data sets not checked */
    const char *stored_by;             /* default "stored by" (may be NULL) */
    uint64_t queue_max;                /* refuse beyond this depth; 0: none */
    const char *state_dir;             /* wake.sock lives here; NULL: none */
    const cds_rules_t *rules;          /* agent.rules; NULL: none */
    FILE *warn;                        /* entry warnings (entrycheck.h);
                                        * NULL: no entry check */
    const cds_idmap_t *ids;            /* import: DHIS2 ids -> codes
                                        * (cds_idmap.h); NULL: codes */
} submit_ctx_t;

/* True when code is one of the comma-separated codes in list (spaces
 * around codes ignored). */
bool submit_org_unit_allowed(const char *list, const char *code);

/* Complete and validate u in place: disagg defaults to "default",
 * stored_by to ctx->stored_by, the value is replaced by its canonical text
 * (written into canon, CDS_MAX_VALUE + 1 bytes, which must outlive u).
 * CDS_OK, or a cds_err code with *field (static) and a message in err that
 * names the offending value. */
int submit_check(const submit_ctx_t *ctx, cds_update_t *u, char *canon,
                 size_t canon_len, const char **field, char *err,
                 size_t errlen);

/* Validate u, queue it (u->seq, u->hlc set) and wake the daemon. CDS_OK;
 * a validation code with "field: problem" in err; CDS_EFULL or a database
 * code with a message in err. */
int submit_update(const submit_ctx_t *ctx, outbox_t *outbox, cds_update_t *u,
                  char *err, size_t errlen);

/* Nudge a running daemon (see above). Never fails; waits at most 1 s. */
void submit_wake(const char *state_dir);

#endif
