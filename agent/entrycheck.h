/*  entrycheck: data-quality warnings at entry (submit and import), before
 *  the values are queued. Warnings only: the values are queued anyway
 *  (the commune may be right, or finish its form later; the district's
 *  `cdsync-aggregator validate` lists what remains).
 *
 *  The agent knows only its own values that are still in its outbox, so
 *  per org unit and period of the new values it looks at: the pending
 *  outbox values of that unit and period, then the new ones over them
 *  (a later value of a key replaces an earlier; a delete removes it).
 *  Over that set:
 *    - a value entered for a derived ratio (a catalog RATIO with
 *      numerator and denominator) is ignored by the district: warned,
 *      with the counts' ratio when both counts are in the set;
 *    - every rule of agent.rules (cds_rule.h) whose indicators all have
 *      a value in the set is evaluated; a failing one is warned with its
 *      code, description and both sides' values. A derived ratio with
 *      both counts reads as their ratio, as at the aggregator.
 *  Lines go to the stream given, each "warning: OU PE: ...": the first
 *  ENTRYCHECK_MAX_LISTED, then "warning: ... and N more". */
#ifndef AGENT_ENTRYCHECK_H
#define AGENT_ENTRYCHECK_H

#include "cds_catalog.h"
#include "cds_config.h"
#include "cds_rule.h"
#include "cds_update.h"
#include "outbox.h"
#include <stddef.h>
#include <stdio.h>

#define ENTRYCHECK_MAX_LISTED 100      /* warnings printed before "... and" */

/* Warn about u[0..n) (already checked by submit_check) to warn. Returns
 * the number of warnings; a database problem reading the outbox only
 * means fewer values are looked at. */
size_t entrycheck_warn(const cds_catalog_t *cat, const cds_rules_t *rules,
                       outbox_t *outbox, const cds_update_t *u, size_t n,
                       FILE *warn);

/* agent.rules, else rules.csv beside agent.catalog (absent: *out NULL).
 * CDS_OK, or CDS_EMALFORMED with "path:line: column: problem" in err. */
int entrycheck_rules_load(const cds_config_t *cfg, const cds_catalog_t *cat,
                          cds_rules_t **out, char *err, size_t errlen);
/* --check-config: the rules file's problems to out; their number. */
size_t entrycheck_check(const cds_config_t *cfg, FILE *out);

#endif
