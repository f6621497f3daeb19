/*  admin: the district admin's commands (rollup, completeness, history,
 *  export, import, token), from parsed options to printed output. main.c
 *  only opens the database and dispatches here, so the option handling of
 *  these commands lives next to them and not in the shared main.c.
 *
 *  Options read (main.c's table): command.org_unit, command.indicator
 *  (repeatable), command.period, command.from, command.to,
 *  command.no_subtree, command.format, command.bom, command.adx_periods,
 *  aggregator.catalog, aggregator.orgunits, aggregator.orgunit_map,
 *  aggregator.deadline_<type>.
 *  The org-unit mapping is reloaded from its file before every command
 *  that uses it (orgmap_refresh, orgmap.h). */
#ifndef AGG_ADMIN_H
#define AGG_ADMIN_H

#include "cds_config.h"
#include "store.h"
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const cds_config_t *cfg;           /* parsed options (borrowed) */
    store_t *store;                    /* open database (borrowed) */
    const char *identity_path;         /* the aggregator's identity file */
    char **args;                       /* operands after the command */
    int n_args;
    FILE *out;                         /* results */
    FILE *errf;                        /* per-row problems (import) */
    uint64_t now_ms;                   /* wall clock */
} admin_ctx_t;

/* Run command ("rollup", "completeness", "history", "export", "import",
 * "token"). CDS_OK, or a cds_err code with a message in err (CDS_EUSAGE
 * for bad options, CDS_EPERM/CDS_EMALFORMED for identity problems). */
int admin_run(const char *command, admin_ctx_t *ctx, char *err,
              size_t errlen);


#endif
