/*  admin: the district admin's commands (rollup, completeness, history,
 *  export, import, token), from parsed options to printed output. They are
 *  entries of main.c's command table (cds_cli.h) with CDS_CLI_DB: the
 *  dispatcher opens the database (cli->db), the handler reads the options
 *  and prints; the option handling of these commands lives next to them.
 *
 *  Options read (main.c's table): command.org_unit, command.indicator
 *  (repeatable), command.period, command.from, command.to,
 *  command.no_subtree, command.format, command.bom, command.adx_periods,
 *  aggregator.catalog, aggregator.orgunits, aggregator.orgunit_map,
 *  aggregator.targets (attain.h),
 *  aggregator.deadline_<type>.
 *  The org-unit mapping is reloaded from its file before every command
 *  that uses it (orgmap_refresh, orgmap.h). */
#ifndef AGG_ADMIN_H
#define AGG_ADMIN_H

#include "cds_cli.h"
#include "cds_config.h"
#include <stdbool.h>
#include <stdio.h>

/* Handlers of cds_cli_command_t (cli->db: the open store_t). The exit
 * code; a failure printed as "NAME: message" (docs/cli.md). */
int admin_rollup(cds_cli_t *cli);
int admin_completeness(cds_cli_t *cli);
/* rank: child units by attainment of a target (rank.h). */
int admin_rank(cds_cli_t *cli);
int admin_history(cds_cli_t *cli);
int admin_export(cds_cli_t *cli);
int admin_import(cds_cli_t *cli);
/* push-dhis2: the export's values to a DHIS2 instance (dhis2push.h). */
int admin_push_dhis2(cds_cli_t *cli);
/* import-batches FILE [--receipt OUT]: carried batches (carried.h). */
int admin_import_batches(cds_cli_t *cli);
int admin_token(cds_cli_t *cli);
/* user add/passwd/disable/list (account.h). */
int admin_user(cds_cli_t *cli);
/* report --org-unit OU --period PE --out FILE: the official report
 * (official.h) as .xlsx or CSV. */
int admin_report(cds_cli_t *cli);

/* --bom on a command that prints CSV to a stream (docs/cli.md): the
 * output is held in memory and written after the BOM only when the
 * command succeeds, so a failure prints nothing half-made. */
typedef struct {
    FILE *mem, *dest;                  /* buffer; where it goes */
    char *buf;
    size_t len;
} admin_bom_t;
/* Start: with --bom (cfg command.bom), *out is replaced by the buffer;
 * CDS_EUSAGE with a message when csv is false (--bom with another
 * format). CDS_OK; CDS_ENOMEM. */
int admin_bom_begin(const cds_config_t *cfg, bool csv, admin_bom_t *b,
                    FILE **out, char *err, size_t errlen);
/* End: when ok, the BOM and the buffer to the original stream; frees.
 * CDS_OK, CDS_EIO, CDS_ENOMEM. */
int admin_bom_end(admin_bom_t *b, bool ok);

#endif
