/*  cds_sql: one statement interface over the two stores the aggregator
 *  can run on, the embedded SQLite file (cds_db) and a PostgreSQL server
 *  (cds_pg). Modules write their SQL once, in the subset both speak
 *  (docs/POSTGRESQL.md "Writing SQL for both"), and run it through this
 *  interface; where one text cannot serve both, cds_sql_prepare2 takes
 *  the PostgreSQL text beside the SQLite one.
 *
 *  Why not use one of the existing abstraction libraries: Debian packages
 *  libdbi and SOCI, but neither keeps SQLite's named parameters and
 *  statement reuse at the cost the ingest hot path needs, and neither
 *  knows our durability check (cds_pg) or busy handling (cds_db). This
 *  layer is a thin switch over the two drivers we already have.
 *
 *  The model is SQLite's: prepare, bind by name, step row by row, read
 *  columns, reset. On PostgreSQL:
 *    - `:name`, `@name`, `?NNN` and `?` parameters are rewritten to `$n`
 *      outside quotes and comments (`::` casts are left alone); a name
 *      used twice is one parameter;
 *    - integers, doubles and text go as text-format parameters whose type
 *      the server infers from where they stand (write CAST(:x AS BIGINT)
 *      where it cannot: `:x IS NULL`, `SELECT :x`); blobs go as binary
 *      bytea;
 *    - the first step runs the statement and holds its whole result
 *      (statements can nest, as on SQLite; a report reading a million rows
 *      holds them: page such reads with LIMIT);
 *    - a statement prepared CDS_SQL_PERSIST is prepared on the server once
 *      per connection (again after a reconnect), with the parameter types
 *      of its first execution; others are parsed at each execution;
 *    - a lost connection is found at the next cds_sql_begin or step
 *      outside a transaction and restored there (cds_pg_reconnect);
 *      inside a transaction the step fails CDS_EBUSY and the caller rolls
 *      back and retries, as on SQLITE_BUSY.
 *  One difference callers must know: after a failed statement a
 *  PostgreSQL transaction accepts nothing but ROLLBACK (or ROLLBACK TO a
 *  savepoint), where SQLite goes on. Code that tries a statement and
 *  recovers from its failure inside a transaction must wrap it in a
 *  savepoint.
 *
 *  Return values: cds_sql_step gives CDS_SQL_ROW or CDS_SQL_DONE, or a
 *  cds_err code (already logged with the SQL); everything else returning
 *  int gives CDS_OK or a cds_err code. Reading a column of a NULL gives
 *  0, 0.0 or NULL. One thread owns a connection and its statements. */
#ifndef CDS_SQL_H
#define CDS_SQL_H

#include "cds_db.h"
#include "cds_pg.h"
#include <stddef.h>
#include <stdint.h>

typedef struct cds_sql cds_sql_t;
typedef struct cds_sql_stmt cds_sql_stmt_t;

typedef enum { CDS_SQL_SQLITE = 1, CDS_SQL_POSTGRESQL = 2 } cds_sql_backend_t;

/* cds_sql_step results besides cds_err codes (SQLite's numbers). */
#define CDS_SQL_ROW 100
#define CDS_SQL_DONE 101

/* Column types (SQLite's numbers). */
enum {
    CDS_SQL_INTEGER = 1,
    CDS_SQL_FLOAT = 2,
    CDS_SQL_TEXT = 3,
    CDS_SQL_BLOB = 4,
    CDS_SQL_NULL = 5
};

/* Open flags: read-only (never creates or migrates; cds_db, cds_pg). */
#define CDS_SQL_READONLY 0x1
/* Prepare flags: keep the statement prepared on the server (hot path). */
#define CDS_SQL_PERSIST 0x1

/* The schema of one database in both dialects: sqlite[i] / pg[i] move
 * version i to i+1 (cds_db_open / cds_pg_connect). The counts may
 * differ: a backend that began later starts at a whole schema. */
typedef struct {
    const char *const *sqlite;
    int n_sqlite;
    const char *const *pg;
    int n_pg;
} cds_sql_schema_t;

/* 1 if where names a PostgreSQL server (postgresql:// or postgres://
 * URL, or a conninfo string with host= or dbname=), else 0 (a file). */
int cds_sql_is_server(const char *where);

/* Open where (a file path, or a server as above) and migrate it with
 * schema. NULL on failure with *err set (cds_db_open / cds_pg_connect
 * codes), logged. */
cds_sql_t *cds_sql_open(const char *where, const cds_sql_schema_t *schema,
                        int flags, int *err);
/* Close; statements must be finalized first. Sets *self_p to NULL. */
void cds_sql_close(cds_sql_t **self_p);
cds_sql_backend_t cds_sql_backend(const cds_sql_t *self);
/* The path, or the URL without its password: for logs and messages. */
const char *cds_sql_where(const cds_sql_t *self);
/* The SQLite connection (NULL on PostgreSQL) / the PostgreSQL one (NULL
 * on SQLite), for what only one backend has (online backup, page
 * counts, system identifier). */
cds_db_t *cds_sql_sqlite(cds_sql_t *self);
cds_pg_t *cds_sql_pg(cds_sql_t *self);

/* Run SQL without parameters or results (several statements allowed). */
int cds_sql_exec(cds_sql_t *self, const char *sql);
/* A write transaction (SQLite BEGIN IMMEDIATE; PostgreSQL BEGIN with the
 * durability check) / a read transaction seeing one snapshot (SQLite
 * BEGIN; PostgreSQL BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY). */
int cds_sql_begin(cds_sql_t *self);
int cds_sql_begin_read(cds_sql_t *self);
/* CDS_OK only when the transaction is durable (see cds_pg_commit: a
 * COMMIT whose answer was lost is CDS_EBUSY, outcome unknown). */
int cds_sql_commit(cds_sql_t *self);
/* Nothing to do outside a transaction. */
int cds_sql_rollback(cds_sql_t *self);
/* Schema version the database is at. */
int cds_sql_version(cds_sql_t *self, int *version);
/* Transactions committed with at least one row changed, by every
 * connection of this process, on either backend: one durable write each. */
uint64_t cds_sql_write_commits(void);

/* Prepare sql (CDS_SQL_PERSIST or 0). NULL on failure, logged with the
 * SQL. cds_sql_prepare2 runs pg_sql instead on PostgreSQL (NULL: sql). */
cds_sql_stmt_t *cds_sql_prepare(cds_sql_t *self, const char *sql, int flags);
cds_sql_stmt_t *cds_sql_prepare2(cds_sql_t *self, const char *sql,
                                 const char *pg_sql, int flags);
/* Free; sets *st_p to NULL. Safe on NULL. */
void cds_sql_finalize(cds_sql_stmt_t **st_p);
/* The connection a statement belongs to. */
cds_sql_t *cds_sql_conn(cds_sql_stmt_t *st);

/* Bind by parameter name (with its ':'); a name the statement does not
 * have is a programmer error (assert). Text NULL binds NULL. Copies,
 * except the _ref forms: the caller keeps those bytes unchanged until
 * cds_sql_reset (the ingest hot path, docs/PERFORMANCE.md). */
void cds_sql_bind_int64(cds_sql_stmt_t *st, const char *name, int64_t v);
void cds_sql_bind_double(cds_sql_stmt_t *st, const char *name, double v);
void cds_sql_bind_text(cds_sql_stmt_t *st, const char *name, const char *s);
void cds_sql_bind_text_ref(cds_sql_stmt_t *st, const char *name,
                           const char *s);
void cds_sql_bind_blob(cds_sql_stmt_t *st, const char *name, const void *p,
                       size_t n);
void cds_sql_bind_blob_ref(cds_sql_stmt_t *st, const char *name,
                           const void *p, size_t n);
void cds_sql_bind_null(cds_sql_stmt_t *st, const char *name);
/* 1 if the statement has parameter name, else 0. */
int cds_sql_has_param(cds_sql_stmt_t *st, const char *name);

/* Next row: CDS_SQL_ROW, CDS_SQL_DONE, or a cds_err code (logged). A
 * step after DONE runs the statement again, as SQLite does. */
int cds_sql_step(cds_sql_stmt_t *st);
/* Step to the end expecting no row: CDS_OK or a cds_err code. */
int cds_sql_run(cds_sql_stmt_t *st);
/* cds_sql_run for a statement whose rows and changes the caller does
 * not read (the ingest hot path). On PostgreSQL, inside a write
 * transaction and for a CDS_SQL_PERSIST statement, it is sent in libpq
 * pipeline mode without waiting for the answer (cds_pg_flush): CDS_OK
 * then means "sent", and a failure of it is returned by the next call
 * that talks to the server on this connection (step, exec, begin,
 * commit: a COMMIT is never sent after a failed one; rollback logs it),
 * in place of running that call; it counts as a row changed. Elsewhere,
 * and always on SQLite, it is cds_sql_run. Bindings may be reset or
 * reused once it returns. */
int cds_sql_run_deferred(cds_sql_stmt_t *st);
/* Back to the start, bindings cleared (result dropped). */
void cds_sql_reset(cds_sql_stmt_t *st);
/* Rows inserted, updated or deleted by the statement's last run. */
int64_t cds_sql_changes(cds_sql_stmt_t *st);

/* Columns of the current row. Text and blobs stay valid until the next
 * step or reset. */
int cds_sql_col_count(cds_sql_stmt_t *st);
int cds_sql_col_type(cds_sql_stmt_t *st, int i);
int64_t cds_sql_col_int64(cds_sql_stmt_t *st, int i);
int cds_sql_col_int(cds_sql_stmt_t *st, int i);
double cds_sql_col_double(cds_sql_stmt_t *st, int i);
const char *cds_sql_col_text(cds_sql_stmt_t *st, int i);
const void *cds_sql_col_blob(cds_sql_stmt_t *st, int i);
size_t cds_sql_col_bytes(cds_sql_stmt_t *st, int i);

#endif
