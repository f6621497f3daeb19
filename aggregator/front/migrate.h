/*  migrate: `cdsync-aggregator migrate-store --to WHERE`: copy the
 *  configured SQLite store into a new, empty store (a PostgreSQL URL, or
 *  another SQLite file), prove the copy equal, and say what to do next.
 *
 *  Steps (the daemon stopped: the caller holds the daemon lock):
 *   1. the source opened read-only (store_open, CDS_DB_READONLY: an older
 *      schema is refused, `run` migrates it first); its tables listed from
 *      sqlite_schema, their columns and foreign keys from pragma_table_info
 *      and pragma_foreign_key_list, never by hand: a module's new table is
 *      copied without a change here;
 *   2. the destination opened through store_open (which creates its schema
 *      at the program's version); refused when its schema version is not
 *      the source's, when a source table is unknown to it, or when any of
 *      those tables holds a row (named with its count);
 *   3. every table copied in foreign-key order through store_copy_rows
 *      (store.h: store stays the only writer of the core tables), ids
 *      preserved, blobs byte-exact, MIGRATE_BATCH rows per transaction,
 *      progress on stderr; then store_copy_identities (PostgreSQL
 *      sequences past the copied ids);
 *   4. checks: per table the row count and a digest computed the same way
 *      on both sides: BLAKE2b-256 of each row's typed values (integers as
 *      int64, integral doubles as integers, others as their bits, text and
 *      blobs with their length; booleans read as 0/1), summed modulo 2^256
 *      over the rows (sodium_add): a multiset digest, so it needs no
 *      ORDER BY, which would sort text by the server's collation on
 *      PostgreSQL and bytewise on SQLite; then audit_run (`verify`) on the
 *      destination store;
 *   5. the commit mark of the destination: commitmark_check records a
 *      fresh mark for the copied commit_mark row (same db_id and counter
 *      as the source, so the mark describes the new store and the daemon
 *      accepts it); a stale mark that disagrees is reported with the
 *      `accept-restore` step;
 *   6. a per-table summary (rows, bytes, seconds, digest) and the next
 *      steps. The password of a URL is never printed (cds_pg_redact).
 *
 *  Interrupted (killed, server lost): the batches committed so far stay in
 *  the destination, and a second run refuses it as not empty, printing the
 *  exact commands that empty it (DROP/CREATE DATABASE, or the file to
 *  delete); then run migrate-store again. The source is never written.
 *  Why batches rather than one transaction: progress and bounded server
 *  memory on a million-row history; the refusal makes the half-filled case
 *  explicit instead of silent. */
#ifndef AGG_MIGRATE_H
#define AGG_MIGRATE_H

#include "cds_id.h"
#include "cds_sql.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MIGRATE_BATCH 10000             /* rows per destination transaction */
#define MIGRATE_DIGEST_BYTES 32         /* crypto_generichash_BYTES */

typedef struct {
    const char *from;                   /* the SQLite store (a path) */
    const char *to;                     /* destination: URL or path */
    const char *owner_like;             /* a new mark file gets this file's
                                         * owner (run as root); NULL: none */
    const uint8_t *agg_pk;              /* CDS_PK_BYTES: `verify`'s key */
    int batch;                          /* rows per transaction */
    FILE *out;                          /* summary and next steps */
    FILE *progress;                     /* progress lines (stderr) */
} migrate_opts_t;

/* Run the steps above. CDS_OK when the copy is complete, equal and
 * verified. Else a cds_err code with one operator sentence in msg:
 * CDS_EUSAGE (bad destination URL or the source itself), CDS_EBADVALUE
 * (destination not empty, of another schema version, or lacking a table;
 * a verify problem on the copy), CDS_ECORRUPT (a count or digest differs),
 * or a database / I/O error (server unreachable: CDS_EBUSY). */
int migrate_store(const migrate_opts_t *o, char *msg, size_t msglen);

/* The digest of step 4 of columns cols[0..n) (identifiers) of table in db,
 * read in one snapshot, and its row count: equal on both backends for the
 * same rows in any order. CDS_OK or a database error. */
int migrate_digest(cds_sql_t *db, const char *table, const char *const *cols,
                   int n, uint8_t sum[MIGRATE_DIGEST_BYTES], int64_t *rows);

#endif
