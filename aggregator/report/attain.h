/*  attain: a figure against its target (cds_target.h) for the reports:
 *  which target applies to a unit of the org-unit table, the attainment
 *  and the traffic-light state, as report cells; and the targets file
 *  named by the configuration.
 *
 *  Configuration: aggregator.targets names the file; unset, targets.csv
 *  beside the catalog is used when it exists (none: no target columns,
 *  today's reports). A file that is named or present but bad is an error
 *  "path:line: column: problem". Reads only. */
#ifndef AGG_ATTAIN_H
#define AGG_ATTAIN_H

#include "cds_catalog.h"
#include "cds_config.h"
#include "cds_target.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>

/* Column names appended to a report when targets are loaded. */
#define ATTAIN_COLS 5
extern const char *const attain_header[ATTAIN_COLS];
/* Their report type letters. */
#define ATTAIN_TYPES "nnsss"

/* A figure against its target. */
typedef struct {
    const cds_target_t *t;     /* the row that applies, NULL: none */
    bool has_pct;              /* attainment computed */
    double pct;                /* attainment in % */
    cds_target_state_t state;  /* when has_pct */
    char reason[160];          /* why there is no attainment, or "" */
} attain_t;

/* Text cells for attain_header (target, attainment, state, source,
 * target_note) into cells, using bufs (2 x 32 bytes). */
typedef struct {
    char target[32], pct[32];
} attain_bufs_t;
void attain_cells(const attain_t *a, attain_bufs_t *bufs,
                  const char *cells[ATTAIN_COLS]);

/* The targets file of cfg (see above): CDS_OK with *out NULL when there
 * is none; CDS_EMALFORMED with the message in err. catalog checks the
 * indicators; the units are checked against aggregator.orgunits. */
int attain_targets_load(const cds_config_t *cfg, const cds_catalog_t *catalog,
                        cds_targets_t **out, char *err, size_t errlen);
/* The path attain_targets_load would read into buf ("" when none: the
 * default file does not exist). Returns buf. */
char *attain_targets_path(const cds_config_t *cfg, char *buf, size_t len);

/* ou and its ancestors from the org-unit table, nearest first, into a
 * malloc'd array of malloc'd strings (*chain, *n; free with
 * attain_chain_free). CDS_OK, CDS_EUNKNOWNORGUNIT, or a database error. */
int attain_chain(store_t *store, const char *ou, char ***chain, size_t *n);
void attain_chain_free(char **chain, size_t n);

/* Judge a figure of indicator ind for the unit of chain in period:
 * value (has: there is one), units: the units a BOOLEAN count is out of.
 * Always fills *out (reason says what is missing). */
void attain_judge(const cds_targets_t *targets, const cds_indicator_t *ind,
                  const char *const *chain, size_t n, const char *period,
                  bool has, double value, double units, attain_t *out);

/* The chain of the last unit asked (rows come ordered by unit, so one
 * read per unit). Zero-initialise; free with attain_cache_free. */
typedef struct {
    char *ou;                  /* unit of chain (owned), NULL: none */
    char **chain;              /* attain_chain's answer */
    size_t n;
} attain_cache_t;
void attain_cache_free(attain_cache_t *c);

/* Judge one stored value (canonical text, cds_catalog.h) of indicator
 * code for unit ou in period: a BOOLEAN "true"/"false" is 1/0 of one
 * unit; TEXT and indicators the catalog does not hold have no target.
 * Fills *out; CDS_OK or a database error. */
int attain_value(store_t *store, const cds_targets_t *targets,
                 const cds_catalog_t *catalog, attain_cache_t *cache,
                 const char *ou, const char *code, const char *period,
                 const char *value, attain_t *out);

#endif
