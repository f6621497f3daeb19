/*  dbsize: how much room the aggregator's database takes and has: the
 *  database file, its WAL, the reject table (with its indexes) and the
 *  space left on the database's filesystem. On PostgreSQL: the database
 *  (pg_database_size) and the reject table (pg_total_relation_size:
 *  heap, TOAST, indexes); the WAL and the disk are the server's, not
 *  known here (-1: left out of /metrics). For /metrics
 *  (cdsync_db_size_bytes, cdsync_db_wal_size_bytes,
 *  cdsync_rejects_stored_bytes, cdsync_disk_free_bytes) and `prune`.
 *
 *  Invariant: reads only (stat, statvfs and SQLite's dbstat table; the
 *  size functions on PostgreSQL), on any connection, read-only ones
 *  included. On SQLite the reject figure reads every page of that table: its cost grows with the table, which the reject
 *  retention bounds (docs/OPERATIONS.md "Retention"). */
#ifndef AGG_DBSIZE_H
#define AGG_DBSIZE_H

#include "cds_sql.h"
#include <stdint.h>

typedef struct {
    int64_t db_bytes;                  /* database file (PostgreSQL: the
                                        * database); -1 unknown */
    int64_t wal_bytes;                 /* its -wal file; 0 when none;
                                        * -1 unknown (PostgreSQL) */
    int64_t rejects_bytes;             /* pages of reject + its indexes */
    int64_t rejects_rows;              /* rows of reject */
    int64_t disk_free_bytes;           /* free to us on its filesystem;
                                        * -1 unknown */
} dbsize_t;

/* Fill *out for the database behind db. CDS_OK, or a database error for
 * the reject figures (the file figures are filled whatever happens). */
int dbsize_read(cds_sql_t *db, dbsize_t *out);

#endif
