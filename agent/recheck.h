/*  recheck: the pending values checked again when the metadata version in
 *  use changes (issue 20 item 3; docs/AGENT.md "Values queued under an
 *  older version").
 *
 *  With the files of the version in use (metafetch_materialize) every
 *  pending row past acked_seq and past any export not yet acked is
 *  checked with submit_check, the checks `submit` makes (catalog, the
 *  agent's org_units, the unit's lifetime, the unit's data sets):
 *    - still valid: left as it is (sent unchanged);
 *    - no longer valid: held (outbox.h "Held values") with the reason and
 *      a suggested mapping when the metadata names one: a unit closed or
 *      unknown -> "org_unit=NEW" from orgunit_map.csv (old -> new); an
 *      unknown indicator -> "indicator=NEW" from the `replaces` column of
 *      catalog.csv. Never dropped, never rewritten.
 *  Every held value is checked too: valid again (a rollback, a version
 *  that reopens it) -> back in the chain, content and stamp unchanged.
 *  One transaction (outbox_recheck_commit), then pending_checked = the
 *  version. Nothing to do when the version in use is 0 (configured
 *  files) or already checked.
 *
 *  Called by the daemon between a hello's answer and the first batch
 *  (session io.recheck): nothing is in flight then and the aggregator's
 *  position is adopted, so the renumbering cannot meet a batch it has. */
#ifndef AGENT_RECHECK_H
#define AGENT_RECHECK_H

#include "outbox.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t version;                  /* checked with, 0: nothing done */
    size_t checked;                    /* pending rows looked at */
    size_t held;                       /* of them held now */
    size_t released;                   /* held ones sent again */
} recheck_result_t;

/* Check the pending and held values against the version in use (above),
 * org_units = the agent's configured units (agent.org_units). CDS_OK
 * (res filled); CDS_EIO (the version's files cannot be read or loaded),
 * or a database error: nothing changed, logged. */
int recheck_pending(outbox_t *ob, const char *org_units, uint64_t now_ms,
                    recheck_result_t *res);

/* The held value's reason in the officer's words, Vietnamese or English
 * (en): "chỉ tiêu không còn trong danh mục" / "indicator retired". */
const char *recheck_reason_words(int code, bool en);

#endif
