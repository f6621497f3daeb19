/*  cds_pg: the one place PostgreSQL connections are opened and checked
 *  (libpq), the PostgreSQL counterpart of cds_db.
 *
 *  Every connection is refused unless the server will make a COMMIT
 *  durable before it returns: fsync on and synchronous_commit one of on,
 *  remote_write, remote_apply (not off, not local). An ack sent after
 *  cds_pg_commit() returned CDS_OK then means what it means on SQLite
 *  with synchronous=FULL. The check is repeated in every cds_pg_begin()
 *  (same round trip as BEGIN), so a later ALTER ROLE/DATABASE ... SET, or
 *  a SET in our own SQL, cannot quietly turn it off.
 *
 *  Schema: migrations[i] moves version i to i+1, each in its own
 *  transaction, under a transaction-level advisory lock (two processes
 *  migrating at once serialise), version kept in table
 *  schema_version(id = 1, version). A database newer than the program is
 *  refused (CDS_EVERSION).
 *
 *  Errors map to the cds_err codes by SQLSTATE (cds_pg_errcode): retry
 *  (CDS_EBUSY) for serialization failure, deadlock, lock and statement
 *  timeouts, too many connections, a server shutting down, and a lost
 *  connection (cds_pg_reconnect() then restores it and its prepared
 *  statements); CDS_EFULL disk full; CDS_EIO server I/O error;
 *  CDS_ECORRUPT data corrupted; CDS_EPERM authentication or privilege;
 *  anything else (constraint violations included) CDS_ERROR, with the
 *  SQLSTATE kept for the caller (cds_pg_sqlstate). Every failure is logged
 *  once here, event=pg_error, with the URL WITHOUT its password.
 *
 *  One thread owns a connection. */
#ifndef CDS_PG_H
#define CDS_PG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cds_pg cds_pg_t;

/* Open read-only (BI, query): no migration; an older schema is
 * CDS_EVERSION; the durability check still runs (cheap, and the same
 * code path). */
#define CDS_PG_READONLY 0x1

/* Parameter types of prepared statements and queries. Integers, floats
 * and bytes go in binary (no printf/parse, no escaping); text as text. */
typedef enum {
    CDS_PG_NULL = 0,   /* SQL NULL (any type) */
    CDS_PG_TEXT,       /* text, NUL-terminated */
    CDS_PG_INT8,       /* bigint */
    CDS_PG_FLOAT8,     /* double precision */
    CDS_PG_BYTEA,      /* bytea: p, len */
} cds_pg_type_t;

typedef struct {
    cds_pg_type_t type; /* what follows */
    const void *p;      /* TEXT: the string; BYTEA: the bytes (borrowed) */
    int len;            /* BYTEA: length in bytes */
    int64_t i;          /* INT8 */
    double d;           /* FLOAT8 */
} cds_pg_param_t;

#define CDS_PG_P_NULL() ((cds_pg_param_t) {.type = CDS_PG_NULL})
#define CDS_PG_P_TEXT(s) ((cds_pg_param_t) {.type = CDS_PG_TEXT, .p = (s)})
#define CDS_PG_P_INT8(v) ((cds_pg_param_t) {.type = CDS_PG_INT8, .i = (v)})
#define CDS_PG_P_FLOAT8(v)                                                  \
    ((cds_pg_param_t) {.type = CDS_PG_FLOAT8, .d = (v)})
#define CDS_PG_P_BYTEA(b, n)                                                \
    ((cds_pg_param_t) {.type = CDS_PG_BYTEA, .p = (b), .len = (n)})

/* Connect to url (postgresql://user:pw@host:port/db?... or a key=value
 * conninfo), check durability, run migrations. NULL on failure with *err
 * set: CDS_EUSAGE (URL does not parse; durability settings refused),
 * CDS_EPERM (password or role refused), CDS_EBUSY (server unreachable or
 * not accepting connections: retry), CDS_EVERSION, or a code of
 * cds_pg_errcode; logged with the URL without its password. */
cds_pg_t *cds_pg_connect(const char *url, const char *const *migrations,
                         int n_migrations, int flags, int *err);
/* Close; frees everything; sets *self_p to NULL. Safe on NULL. */
void cds_pg_destroy(cds_pg_t **self_p);
/* Borrowed libpq handle. */
PGconn *cds_pg_handle(cds_pg_t *self);
/* The URL with its password replaced by "***" (borrowed). */
const char *cds_pg_url(const cds_pg_t *self);
/* url with any password replaced by "***": the userinfo password and a
 * password= parameter, in URL or key=value form. Caller frees; NULL on
 * no memory. */
char *cds_pg_redact(const char *url);

/* Run SQL without parameters (several statements allowed), discarding
 * results. CDS_OK or a cds_err code (logged). */
int cds_pg_exec(cds_pg_t *self, const char *sql);
/* Prepare sql as statement name, with n parameter types (types[i] not
 * CDS_PG_NULL). Kept for the connection's life and prepared again by
 * cds_pg_reconnect. CDS_OK or a cds_err code (logged with the SQL). */
int cds_pg_prepare(cds_pg_t *self, const char *name, const char *sql,
                   int n, const cds_pg_type_t *types);
/* Run prepared statement name with n params (same types as prepared, or
 * CDS_PG_NULL). With res non-NULL, *res is the result (text format) for
 * the caller to PQclear, set only on CDS_OK. CDS_OK or a cds_err code
 * (logged). */
int cds_pg_run(cds_pg_t *self, const char *name, const cds_pg_param_t *params,
               int n, PGresult **res);
/* The check every call above makes of a result res (may be NULL) that
 * the caller got from libpq itself: CDS_OK for a successful one (kept
 * in *keep if keep is non-NULL, else freed), else the logged failure's
 * code (freed). what and sql name the step in the log. */
int cds_pg_result(cds_pg_t *self, PGresult *res, const char *what,
                  const char *sql, PGresult **keep);
/* Bumped by every cds_pg_reconnect: statements prepared by hand on an
 * older generation must be prepared again (cds_sql). */
unsigned cds_pg_generation(const cds_pg_t *self);
/* Like cds_pg_run but for one unprepared statement sql. */
int cds_pg_query(cds_pg_t *self, const char *sql, const cds_pg_param_t *params,
                 int n, PGresult **res);

/* Pipelining (libpq pipeline mode; docs/POSTGRESQL.md "Round trips"):
 * cds_pg_send_prepared queues one execution of prepared statement name
 * (libpq's parallel arrays; they may be reused on return: libpq has
 * copied them) without waiting for its answer; sql names it in the log.
 * cds_pg_flush sends a Sync and reads every queued answer: CDS_OK, or
 * the code of the first that failed (logged with its SQL; the server
 * skipped the ones after it, and a transaction is then aborted as after
 * any failed statement). Every other call on the connection in this
 * header (and cds_pg_result's users: flush first) reads the queued
 * answers before it runs and returns their failure instead of running;
 * cds_pg_rollback reads them, logs a failure and rolls back. A send that
 * fails returns its code (logged). CDS_OK when nothing is queued. */
int cds_pg_send_prepared(cds_pg_t *self, const char *name, int n,
                         const char *const *values, const int *lengths,
                         const int *formats, const char *sql);
int cds_pg_flush(cds_pg_t *self);

/* BEGIN (and the durability check in the same round trip) / COMMIT /
 * ROLLBACK. cds_pg_commit returns CDS_OK only when the server answered
 * the COMMIT: with the settings checked, the transaction is on disk. A
 * COMMIT whose answer was lost with the connection is CDS_EBUSY, its
 * outcome unknown: callers must not ack it (the commit mark decides at
 * the next start). */
int cds_pg_begin(cds_pg_t *self);
int cds_pg_commit(cds_pg_t *self);
/* Nothing to do (CDS_OK) outside a transaction or on a lost connection. */
int cds_pg_rollback(cds_pg_t *self);

/* Connection lost (after a CDS_EBUSY): reconnect, check durability again,
 * prepare every statement again. CDS_OK or a cds_err code (logged). */
int cds_pg_reconnect(cds_pg_t *self);

/* The single-writer lock (docs/POSTGRESQL.md "One writer per database"):
 * a session-level advisory lock on key CDS_PG_WRITER_KEY ("cdsw" in
 * ASCII; pg_locks shows it as locktype advisory, classid 0, objid
 * 1667527543, objsubid 1), per database, which `cdsync-aggregator run`
 * holds on its writer connection for its life, so two daemons never
 * write one database. The server releases it when the session ends (a
 * stop, a crash, a lost connection). */
#define CDS_PG_WRITER_KEY 1667527543
/* Take it (pg_try_advisory_lock): CDS_OK; CDS_EBUSY when another session
 * holds it, with what the server shows of that session in holder[len]
 * ("server pid N, client ADDR, application A, connected since T"; ""
 * when it shows nothing); another code on failure (logged). From then on
 * the connection keeps it: cds_pg_reconnect takes it again on the new
 * session; when it cannot (another session holds it: another daemon, or
 * our lost session the server has not yet noticed is gone) the session
 * is made read-only (default_transaction_read_only) and cds_pg_begin
 * refuses (CDS_EBUSY: the caller answers "retry", writes nothing),
 * trying the lock again at each call, until it is taken back. The loss
 * is logged once (event=pg_writer_lock_lost, ERROR, with the holder),
 * then every minute while it lasts; the retake too
 * (pg_writer_lock_retaken). */
int cds_pg_writer_lock(cds_pg_t *self, char *holder, size_t len);
/* 1 while the connection should hold the writer lock and does not (the
 * daemon writes nothing), else 0. Safe from any thread. */
int cds_pg_writer_lost(const cds_pg_t *self);

/* Map a SQLSTATE (5 characters; NULL: no answer from the server, i.e. a
 * lost connection) to a cds_err code. */
int cds_pg_errcode(const char *sqlstate);
/* SQLSTATE of the last failure on this connection ("" if none; "08006"
 * for a lost connection). Borrowed, valid until the next call. */
const char *cds_pg_sqlstate(const cds_pg_t *self);

/* Result helpers (text format). Column values of row r, column c. */
/* 0 and *out set; -1 if NULL or not an integer. */
int cds_pg_get_int64(const PGresult *res, int r, int c, int64_t *out);
/* bytea column decoded into malloc'ed *out (caller frees), *len set; -1
 * if NULL or on no memory. */
int cds_pg_get_bytea(const PGresult *res, int r, int c, uint8_t **out,
                     size_t *len);

#endif
