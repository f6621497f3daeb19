/*  metadata: the versioned, signed metadata the aggregator publishes
 *  (issue 20, step 1): `metadata publish DIR [--yes]`, `metadata list`,
 *  `metadata show N [FILE]`, `metadata diff A B`.
 *
 *  A version is the set of metadata files found in DIR, by name, as the
 *  table in metadata.c lists them: catalog.csv, orgunits.csv and
 *  orgunit_map.csv (required), datasets.csv, rules.csv, targets.csv (when
 *  present). A file with a loader on this build is checked with it
 *  (rules.csv and targets.csv against the new catalog and org units), and
 *  the set as a whole: the merge map's codes are units of orgunits.csv
 *  and its dates are dates; every indicator and unit with stored values
 *  (store_codes_in_use) is still in the new files, or (indicators) named
 *  in the `replaces` column of a new catalog row; an indicator with
 *  stored values keeps its value_type. The diff against the current version, per file, in words
 *  (added / changed / retired rows by key column, English and
 *  Vietnamese), is printed, then the version is stored on confirmation
 *  (--yes; or y at the terminal's prompt; refused without --yes when
 *  stdin is not a terminal).
 *
 *  Canonical bytes: the cdsync.proto MetadataBundle (files sorted by
 *  name, each with its BLAKE2b-256, the previous version's bundle hash),
 *  signed with the aggregator's Ed25519 key, domain KIND_METADATA,
 *  recipient its own key (cds_sign.h). Stored in metadata_version
 *  (store.h), append-only. Nothing is half-written: a refused publish
 *  stores nothing.
 *
 *  Options read: command.yes. The identity: cli->identity. */
#ifndef AGG_METADATA_H
#define AGG_METADATA_H

#include "cds_cli.h"

/* The `metadata` command (cds_cli_command_t, CDS_CLI_DB: cli->db is the
 * open store_t). The exit code: 0; 1 refused input (each problem printed
 * "file:line: column: problem"); 2 usage; 3 identity; 4 runtime. */
int metadata_cmd(cds_cli_t *cli);

#endif
