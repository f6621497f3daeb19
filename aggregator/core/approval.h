/*  approval: an admin approves a data set for an org unit and a period
 *  (DHIS2's data approval, docs/ADMIN.md "Approval"); an approved period
 *  is locked: an agent's later value for one of its cells is held, not
 *  applied, until an admin accepts or refuses it.
 *
 *  Every approve and unapprove is a row of table approval (who, when,
 *  why), never edited; the state of (data set, unit, period) is its
 *  latest row. Approving locks the data set's indicators for the period
 *  in the unit and every unit below it (table approval_lock, derived:
 *  its rows go at unapprove). A cell locked by two approvals (a district
 *  and one of its communes) keeps the first lock: unapproving the first
 *  unlocks it even while the second stands (documented limit).
 *
 *  Ingest (ingest.c) asks approval_any once per batch and, when some cell
 *  is locked, approval_locked per update of another agent than the
 *  aggregator itself: a locked update gets history status
 *  CDS_ELOCKED (period_locked), is acked to the agent as such with the
 *  reason, and is kept in table held (approval_hold). Central corrections
 *  (the aggregator's own signed batches, central.h) are not held: they
 *  are the admins' own entries, and accepting a held value is one of
 *  them. held_decision keeps the answer: at most one per held value.
 *
 *  Tables and SQL: approval_sql.h; this module writes only its own
 *  tables and reads the core ones through store_read. */
#ifndef AGG_APPROVAL_H
#define AGG_APPROVAL_H

#include "cds_codec.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Approve (approve true) or unapprove (dataset, ou, pe) with indicators
 * ind[0..n) (the data set's), by actor for reason, in one transaction.
 * Approving an approved one or unapproving one that is not: CDS_EBADVALUE
 * with a message in err, nothing written. CDS_OK or a database error. */
int approval_change(store_t *store, const char *dataset,
                    const char *const *ind, size_t n, const char *ou,
                    const char *pe, bool approve, const char *actor,
                    const char *reason, int64_t now_ms, char *err,
                    size_t errlen);

/* 1 when any cell is locked, 0 when none; negative: a database error. */
int approval_any(store_t *store);
/* 1 when (ou, de, pe) is locked, with the approval's id in *approval_id
 * and "period_locked ..." words in why; 0 when not; negative: a database
 * error (-code). */
int approval_locked(store_t *store, const char *ou, const char *de,
                    const char *pe, int64_t *approval_id, char *why,
                    size_t whylen);
/* Keep agent_id's update u (seq u->seq) held under approval_id. A held
 * (agent, seq) kept already is left as it is. CDS_OK or a db error. */
int approval_hold(store_t *store, int64_t agent_id, const cds_update_t *u,
                  int64_t approval_id, int64_t now_ms);

/* 1 with its id in *held_id when agent_id's update seq was held, 0 when
 * not; negative: a database error. A held value is answered only with
 * approval_decide (`pending`), never by `rejects retry` (ingest.c). */
int approval_held_of(store_t *store, int64_t agent_id, uint64_t seq,
                     int64_t *held_id);

/* One held value with its decision (strings owned; approval_held_free). */
typedef struct {
    int64_t id;
    char *org_unit, *indicator, *disagg, *period, *value, *stored_by;
    char *fpr, *actor, *reason, *current;  /* actor/reason "" undecided;
                                            * current: the table's value
                                            * now ("" none) */
    bool deleted;
    uint64_t seq;
    int64_t at_ms;
    int decided;               /* 0 undecided, 1 accepted, -1 refused */
    int64_t decided_ms;
} approval_held_t;

/* Held values of root's subtree (NULL/"": all), undecided only when
 * open, or just held value id (id > 0), oldest first. CDS_OK (maybe
 * none) or a database error. */
int approval_held_list(store_t *store, const char *root, bool open,
                       int64_t id, approval_held_t **out, size_t *n);
void approval_held_free(approval_held_t *h, size_t n);
/* Record the decision on held value id. CDS_OK or a database error
 * (the held_decision key refuses a second answer: CDS_ERROR). */
int approval_decide(store_t *store, int64_t id, bool accepted,
                    const char *actor, const char *reason, int64_t now_ms);

/* One (data set, unit, period) with its latest action. */
typedef struct {
    char *dataset, *org_unit, *period, *actor, *reason;
    bool approved;
    int64_t at_ms;
} approval_row_t;
/* The latest action of every (data set, unit, period) of root's subtree
 * (NULL/"": all) and period pe (NULL/"": any). CDS_OK or a db error. */
int approval_list(store_t *store, const char *root, const char *pe,
                  approval_row_t **out, size_t *n);
void approval_list_free(approval_row_t *r, size_t n);

/* 1 when ou is root or below it (root NULL/"": everything), 0 when not;
 * negative: a database error. The scope check of every HTTP route for an
 * account scoped to a subtree (api.c, approve.c). */
int approval_in_subtree(store_t *store, const char *root, const char *ou);

#endif
