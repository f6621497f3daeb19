/*  followup: the admin's follow-up flag on a cell (org unit, indicator,
 *  period), DHIS2's "mark for follow-up", with its history: every set and
 *  clear is a row of followup_log (who, when, why), never edited; the
 *  flag a cell has is its latest row's. The table is this module's own
 *  (followup_sql.h), written through store_sql; agents' own followup bit
 *  of an update (cds_update_t.followup) is a separate thing, kept as sent.
 *  `cdsync-aggregator followup set|clear|history` and `validate` (its
 *  followup column) use it. */
#ifndef AGG_FOLLOWUP_H
#define AGG_FOLLOWUP_H

#include "store.h"
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Set (flag true) or clear the flag with a note and the actor. Clearing
 * a cell that is not flagged, or setting one that is: CDS_EBADVALUE with
 * a message in err (nothing written). CDS_OK, or a database error. */
int followup_change(store_t *store, const char *ou, const char *de,
                    const char *pe, bool flag, const char *note,
                    const char *actor, int64_t now_ms, char *err,
                    size_t errlen);
/* The cell's flag now (false when never set). CDS_OK or a db error. */
int followup_flagged(store_t *store, const char *ou, const char *de,
                     const char *pe, bool *flag);
/* One change of the flag (strings owned; followup_history_free). */
typedef struct {
    bool flag;                 /* true: set, false: cleared */
    char *note, *actor;
    int64_t at_ms;
} followup_entry_t;

/* The cell's changes, oldest first, into a malloc'd array. CDS_OK
 * (possibly none) or a database error. */
int followup_history(store_t *store, const char *ou, const char *de,
                     const char *pe, followup_entry_t **out, size_t *n);
void followup_history_free(followup_entry_t *e, size_t n);

#endif
