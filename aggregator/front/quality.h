/*  quality: the data-quality commands and their configuration:
 *  `validate` (report/validate.h) and the rules file it reads, and
 *  `followup` (core/followup.h).
 *
 *  Keys (main.c's table): aggregator.rules (default: rules.csv beside
 *  aggregator.catalog; a default file that does not exist = no rules, an
 *  explicitly named file missing or bad = exit 3 with path:line),
 *  aggregator.outlier_periods (earlier periods, 0..60, 0: no outlier
 *  check), aggregator.outlier_z (z-score bound, 0: off),
 *  aggregator.outlier_pct (change bound in percent, 0: off). */
#ifndef AGG_QUALITY_H
#define AGG_QUALITY_H

#include "cds_catalog.h"
#include "cds_check.h"
#include "cds_cli.h"
#include "cds_config.h"
#include "cds_rule.h"
#include "validate.h"

/* The rules file configured (or the default beside the catalog) into
 * *out: NULL when no file is configured and the default is absent.
 * CDS_OK, or CDS_EMALFORMED with "path:line: column: problem" in err. */
int quality_rules_load(const cds_config_t *cfg, const cds_catalog_t *cat,
                       cds_rules_t **out, char *err, size_t errlen);
/* The outlier keys. CDS_OK or CDS_EUSAGE with "key: "value": expected
 * ..." in err. */
int quality_opts(const cds_config_t *cfg, validate_opts_t *o, char *err,
                 size_t errlen);
/* --check-config: the rules file (every bad row) and the outlier keys. */
void quality_check(cds_check_t *c, const cds_config_t *cfg);

/* validate --org-unit OU --period PE [--format table|csv|json]: exit 0
 * no violation, 1 violations (listed), else the cds_exit_code of the
 * failure. */
int quality_validate(cds_cli_t *cli);
/* followup set|clear|history --org-unit OU --indicator DE --period PE
 * [--note TEXT] [--format table|csv|json] (followup.h): the admin's
 * follow-up flag on a cell, the actor being $SUDO_USER or $USER. */
int quality_followup(cds_cli_t *cli);

/* Who acts on the command line (a follow-up flag, an approval, a held
 * value's answer): the login behind sudo, else the user, else
 * "unknown". Borrowed from the environment. */
const char *quality_cli_actor(void);

#endif
