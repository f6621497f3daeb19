/*  cds_db: the one place SQLite connections are opened and configured.
 *
 *  Every connection gets: journal_mode=WAL, synchronous=FULL ("committed"
 *  survives a power cut), foreign_keys=ON, a busy handler (retries every
 *  0.1-1 ms for up to 5 s; no mutex: SQLITE_OPEN_NOMUTEX), and its schema
 *  migrated forward with PRAGMA user_version: migrations[i] moves version i
 *  to i+1, all pending ones in one transaction (another process sees the
 *  old schema or the new, never one between). A database newer than the
 *  program is refused. Writers use BEGIN IMMEDIATE so a busy database is found at
 *  BEGIN, not halfway through a transaction. One thread owns a connection. */
#ifndef CDS_DB_H
#define CDS_DB_H

#include <sqlite3.h>
#include <stdint.h>

typedef struct cds_db cds_db_t;

/* Open read-only (query, health, status): never creates or migrates (an
 * older schema is CDS_EVERSION). A reader that cannot create the -shm
 * file while no -wal file exists (monitoring user, no writer running)
 * opens the file immutable (cds_db.c needs_immutable). */
#define CDS_DB_READONLY 0x1
/* The caller explains a schema of another version itself (CDS_EVERSION:
 * a command's own message, or an expected case such as a database its
 * daemon has just created and not yet migrated): not logged here. */
#define CDS_DB_QUIET_VERSION 0x2

/* Open or create path, set pragmas, run migrations. NULL on failure with
 * *err set (CDS_EIO, CDS_ECORRUPT, CDS_EVERSION) and a message logged. */
cds_db_t *cds_db_open(const char *path, const char *const *migrations,
                      int n_migrations, int flags, int *err);
/* Close (finalizes nothing: callers finalize their statements first). */
void cds_db_close(cds_db_t **self_p);
/* Borrowed handle. */
sqlite3 *cds_db_handle(cds_db_t *self);
/* Path the database was opened with (borrowed). */
const char *cds_db_path(const cds_db_t *self);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Return CDS_OK or a cds_err code
 * (CDS_EBUSY, CDS_EFULL, CDS_EIO, CDS_ECORRUPT), logged. */
int cds_db_begin(cds_db_t *self);
int cds_db_commit(cds_db_t *self);
int cds_db_rollback(cds_db_t *self);
/* Transactions that cds_db_commit committed with at least one row
 * changed, by every connection of this process since it started: each is
 * one synced write of the WAL (synchronous=FULL). An empty BEGIN .. COMMIT
 * writes nothing and is not counted. */
uint64_t cds_db_write_commits(void);
/* Run SQL without results. CDS_OK or a cds_err code (logged). */
int cds_db_exec(cds_db_t *self, const char *sql);
/* Give back what an idle process holds: the connection's unused page
 * cache (sqlite3_db_release_memory) and the heap's free pages (glibc
 * malloc_trim; nothing elsewhere). For a daemon with nothing to do; the
 * pages are read again when work comes. */
void cds_db_release_memory(cds_db_t *self);
/* Prepare a statement kept for the connection's life (SQLITE_PREPARE_
 * PERSISTENT). NULL on failure (logged with the SQL). */
sqlite3_stmt *cds_db_prepare(cds_db_t *self, const char *sql);
/* The same for a statement used a few times and finalized soon. Every
 * statement bound with cds_bind_* must come from one of these two (the
 * bind cache is told of each new statement). */
sqlite3_stmt *cds_db_prepare_once(cds_db_t *self, const char *sql);
/* Map an SQLite result code to a cds_err code. */
int cds_db_errcode(int sqlite_rc);
/* Log the connection's last error with the step that failed; returns the
 * mapped cds_err code. */
int cds_db_fail(cds_db_t *self, const char *what);

/* Bind helpers by parameter name (":name"); a missing name is a
 * programmer error (assert). text NULL binds NULL. */
void cds_bind_text(sqlite3_stmt *st, const char *name, const char *text);
void cds_bind_int64(sqlite3_stmt *st, const char *name, int64_t v);
void cds_bind_double(sqlite3_stmt *st, const char *name, double v);
void cds_bind_blob(sqlite3_stmt *st, const char *name, const void *p,
                   int n);
void cds_bind_null(sqlite3_stmt *st, const char *name);
/* Like cds_bind_text / cds_bind_blob but without SQLite's private copy:
 * the caller keeps the bytes unchanged until cds_stmt_done(st). For the
 * ingest hot path, where the copies (malloc, memcpy, free per column)
 * cost about 10 % of the instructions per update (docs/PERFORMANCE.md). */
void cds_bind_text_ref(sqlite3_stmt *st, const char *name, const char *text);
void cds_bind_blob_ref(sqlite3_stmt *st, const char *name, const void *p,
                       int n);
/* sqlite3_reset + sqlite3_clear_bindings. */
void cds_stmt_done(sqlite3_stmt *st);

/* Run PRAGMA quick_check. CDS_OK or CDS_ECORRUPT (message logged). */
int cds_db_quick_check(cds_db_t *self);

#endif
