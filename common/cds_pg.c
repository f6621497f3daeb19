/*  cds_pg: open, check and migrate PostgreSQL connections (libpq).
 *  The durability check lives in check_durable(); all schema changes go
 *  through migrate(); the single-writer lock (cds_pg_writer_lock) is
 *  taken by writer_try(), again after a reconnect (writer_relock) and
 *  before a BEGIN while lost (writer_check); every failure is logged
 *  once here as event=pg_error
 *  with the redacted URL, the step, the SQLSTATE and the server's message.
 *  See cds_pg.h for the contract. */
#include "cds_pg.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"

#include <assert.h>
#include <endian.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 64            /* per statement; more is a programmer error */
#define CONNECT_TIMEOUT "10"     /* seconds, unless the URL says otherwise */
/* pg_advisory_xact_lock key of migrations: "cdsy" in ASCII. Any process
 * migrating this database takes it, so two never apply one migration. */
#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(1667527545)"
#define SQLSTATE_LOST "08006"    /* connection_failure: no server answer */
/* Pipelined statements held before their answers are read: a full queue
 * is read at once (bounds the answers libpq buffers; they are ~20 bytes). */
#define PIPE_MAX 4096

/* PostgreSQL type OIDs (server/catalog/pg_type.dat; stable since 7.x). */
enum { OID_BYTEA = 17, OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701 };

typedef struct {
    char *name;                  /* server-side statement name */
    char *sql;
    int n;                       /* parameter count */
    Oid types[MAX_PARAMS];
} stmt_t;

struct cds_pg {
    PGconn *conn;                /* owned */
    char *url;                   /* as given (holds the password) */
    char *shown;                 /* url redacted: what logs show */
    int flags;                   /* CDS_PG_* */
    stmt_t *stmts;               /* prepared, for cds_pg_reconnect */
    int n_stmts;
    char sqlstate[6];            /* of the last failure, "" if none */
    unsigned generation;         /* bumped by every cds_pg_reconnect */
    bool writer;                 /* cds_pg_writer_lock taken once: keep it */
    atomic_int writer_lost;      /* writer, and this session lacks it */
    uint64_t lost_logged_ms;     /* last pg_writer_lock_lost line */
    int n_piped;                 /* sent in pipeline mode, answers unread */
    const char *piped_sql[PIPE_MAX];   /* their SQL, for the log */
};

/* ---- URL redaction ------------------------------------------------------ */

/* Replace s[from, to) with "***" in the malloc'ed *buf. */
static int
splice_stars(char **buf, size_t from, size_t to)
{
    size_t len = strlen(*buf);
    char *out = malloc(len - (to - from) + 4);
    if (!out)
        return -1;
    memcpy(out, *buf, from);
    memcpy(out + from, "***", 3);
    memcpy(out + from + 3, *buf + to, len - to + 1);
    free(*buf);
    *buf = out;
    return 0;
}

/* password=VALUE in a URL query (ends at '&') or a conninfo (ends at a
 * space unless quoted): every occurrence, after position start. */
static int
redact_key(char **buf, size_t start, bool uri)
{
    for (size_t at = start;;) {
        char *hit = strstr(*buf + at, "password");
        if (!hit)
            return 0;
        size_t k = (size_t) (hit - *buf) + 8;
        while ((*buf)[k] == ' ')
            k++;
        if ((*buf)[k] != '=') {
            at = k;
            continue;
        }
        k++;
        while (!uri && (*buf)[k] == ' ')
            k++;
        size_t end = k;
        bool quoted = !uri && (*buf)[k] == '\'';
        for (end += quoted; (*buf)[end]; end++) {
            char c = (*buf)[end];
            if (quoted ? c == '\'' && (*buf)[end - 1] != '\\'
                       : (uri ? c == '&' : c == ' '))
                break;
        }
        end += quoted && (*buf)[end];
        if (splice_stars(buf, k, end) != 0)
            return -1;
        at = k + 3;
    }
}

char *
cds_pg_redact(const char *url)
{
    char *buf = strdup(url ? url : "");
    if (!buf)
        return NULL;
    bool uri = !strncmp(buf, "postgresql://", 13) || !strncmp(buf, "postgres://", 11);
    size_t start = 0;
    if (uri) {
        size_t auth = strstr(buf, "://") - buf + 3;
        size_t end = auth + strcspn(buf + auth, "/?");
        char *at = memrchr(buf + auth, '@', end - auth);
        char *colon = at ? memchr(buf + auth, ':', (size_t) (at - buf) - auth)
                         : NULL;
        if (colon && splice_stars(&buf, (size_t) (colon - buf) + 1,
                                  (size_t) (at - buf)) != 0) {
            free(buf);
            return NULL;
        }
        start = auth;
    }
    if (redact_key(&buf, start, uri) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- errors --------------------------------------------------------------- */

int
cds_pg_errcode(const char *st)
{
    if (!st || !*st)
        return CDS_EBUSY;                        /* no answer: connection lost */
    if (!strcmp(st, "40001") || !strcmp(st, "40P01")   /* serialization, deadlock */
        || !strcmp(st, "55P03") || !strcmp(st, "57014") /* lock, statement timeout */
        || !strcmp(st, "53300") || !strncmp(st, "57P0", 4) /* conns; shutdown */
        || !strncmp(st, "08", 2))                /* connection exception */
        return CDS_EBUSY;
    if (!strcmp(st, "53100"))
        return CDS_EFULL;                        /* disk_full */
    if (!strcmp(st, "53200"))
        return CDS_ENOMEM;
    if (!strncmp(st, "58", 2))
        return CDS_EIO;                          /* system_error, io_error */
    if (!strncmp(st, "XX00", 4) && (st[4] == '1' || st[4] == '2'))
        return CDS_ECORRUPT;                     /* data/index corrupted */
    if (!strncmp(st, "28", 2) || !strcmp(st, "42501"))
        return CDS_EPERM;                        /* auth; insufficient privilege */
    return CDS_ERROR;
}

const char *
cds_pg_sqlstate(const cds_pg_t *self)
{
    return self->sqlstate;
}

/* Keep the failure's SQLSTATE (SQLSTATE_LOST when the server gave none
 * because the connection is gone), log it, return its cds_err code. */
static int
log_fail(cds_pg_t *self, const PGresult *res, const char *what,
         const char *sql)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!st && PQstatus(self->conn) == CONNECTION_BAD)
        st = SQLSTATE_LOST;
    snprintf(self->sqlstate, sizeof self->sqlstate, "%s", st ? st : "");
    int code = st ? cds_pg_errcode(st) : CDS_ERROR;
    char msg[512];
    snprintf(msg, sizeof msg, "%s",
             res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                              : PQerrorMessage(self->conn));
    msg[strcspn(msg, "\n")] = '\0';
    cds_log(CDS_LOG_ERROR, "pg_error",
            "url=%s what=%s code=%s sqlstate=%s msg=%s%s%s",
            cds_logq(self->shown), cds_logq(what), cds_strerror(code),
            self->sqlstate[0] ? self->sqlstate : "none", cds_logq(msg),
            sql ? " sql=" : "", sql ? cds_logq(sql) : "");
    return code;
}

/* CDS_OK for a successful result (freed unless kept in *keep), else the
 * logged failure's code (result freed). */
static int
finish(cds_pg_t *self, PGresult *res, const char *what, const char *sql,
       PGresult **keep)
{
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = CDS_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = log_fail(self, res, what, sql);
    else
        self->sqlstate[0] = '\0';
    if (rc == CDS_OK && keep)
        *keep = res;
    else
        PQclear(res);
    return rc;
}

/* ---- durability ------------------------------------------------------------ */

/* res: one row (fsync, synchronous_commit). CDS_OK when a COMMIT that
 * returned is on the server's disk; else CDS_EUSAGE, logged. "local"
 * is refused too: with a synchronous standby configured it acks before
 * the standby has the commit, and failing over to that standby then loses
 * acked rows; "remote_write" / "remote_apply" flush locally as "on" does. */
static int
check_durable(cds_pg_t *self, const PGresult *res)
{
    const char *fs = PQgetvalue(res, 0, 0), *sc = PQgetvalue(res, 0, 1);
    if (!strcmp(fs, "on") && (!strcmp(sc, "on") || !strcmp(sc, "remote_write")
                              || !strcmp(sc, "remote_apply")))
        return CDS_OK;
    cds_log(CDS_LOG_ERROR, "pg_not_durable",
            "url=%s fsync=%s synchronous_commit=%s msg=%s",
            cds_logq(self->shown), cds_logq(fs), cds_logq(sc),
            cds_logq("refusing to run: a COMMIT would not be on disk when "
                     "it returns, so acks would lie; set fsync = on and "
                     "synchronous_commit = on for this role and database"));
    return CDS_EUSAGE;
}

#define DURABLE_SQL                                                          \
    "SELECT current_setting('fsync'), current_setting('synchronous_commit')"

static int
durable_query(cds_pg_t *self, const char *sql)
{
    PGresult *res = NULL;
    int rc = finish(self, PQexec(self->conn, sql), "durability_check", sql,
                    &res);
    if (rc != CDS_OK)
        return rc;
    rc = PQntuples(res) == 1 && PQnfields(res) == 2 ? check_durable(self, res)
                                                     : CDS_ERROR;
    PQclear(res);
    return rc;
}

/* ---- statements ----------------------------------------------------------- */

int
cds_pg_result(cds_pg_t *self, PGresult *res, const char *what,
              const char *sql, PGresult **keep)
{
    return finish(self, res, what, sql, keep);
}

unsigned
cds_pg_generation(const cds_pg_t *self)
{
    return self->generation;
}

int
cds_pg_exec(cds_pg_t *self, const char *sql)
{
    int rc = cds_pg_flush(self);
    if (rc != CDS_OK)
        return rc;
    return finish(self, PQexec(self->conn, sql), "exec", sql, NULL);
}

static Oid
type_oid(cds_pg_type_t t)
{
    switch (t) {
    case CDS_PG_TEXT: return OID_TEXT;
    case CDS_PG_INT8: return OID_INT8;
    case CDS_PG_FLOAT8: return OID_FLOAT8;
    case CDS_PG_BYTEA: return OID_BYTEA;
    default: return 0;                            /* NULL: server infers */
    }
}

static int
prepare_stmt(cds_pg_t *self, const stmt_t *s)
{
    int rc = cds_pg_flush(self);
    if (rc != CDS_OK)
        return rc;
    return finish(self, PQprepare(self->conn, s->name, s->sql, s->n, s->types),
                  "prepare", s->sql, NULL);
}

int
cds_pg_prepare(cds_pg_t *self, const char *name, const char *sql, int n,
               const cds_pg_type_t *types)
{
    assert(n >= 0 && n <= MAX_PARAMS && "too many parameters");
    stmt_t *grown = realloc(self->stmts, (self->n_stmts + 1) * sizeof *grown);
    if (!grown)
        return CDS_ENOMEM;
    self->stmts = grown;
    stmt_t *s = &grown[self->n_stmts];
    *s = (stmt_t) {.name = strdup(name), .sql = strdup(sql), .n = n};
    if (!s->name || !s->sql) {
        free(s->name);
        free(s->sql);
        return CDS_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        s->types[i] = type_oid(types[i]);
    int rc = prepare_stmt(self, s);
    if (rc == CDS_OK)
        self->n_stmts++;
    else {
        free(s->name);
        free(s->sql);
    }
    return rc;
}

/* libpq's parallel arrays for n params; numbers in network byte order in
 * num[] (binary format: no formatting or parsing on either side). */
typedef struct {
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    Oid types[MAX_PARAMS];
    uint64_t num[MAX_PARAMS];
} wire_t;

static void
to_wire(wire_t *w, const cds_pg_param_t *p, int n)
{
    assert(n >= 0 && n <= MAX_PARAMS && "too many parameters");
    for (int i = 0; i < n; i++) {
        w->types[i] = type_oid(p[i].type);
        w->formats[i] = p[i].type != CDS_PG_TEXT;
        w->lengths[i] = 0;
        switch (p[i].type) {
        case CDS_PG_NULL: w->values[i] = NULL; break;
        case CDS_PG_TEXT: w->values[i] = p[i].p; break;
        case CDS_PG_BYTEA:
            w->values[i] = p[i].len ? p[i].p : "";
            w->lengths[i] = p[i].len;
            break;
        case CDS_PG_INT8:
        case CDS_PG_FLOAT8: {
            uint64_t v;
            if (p[i].type == CDS_PG_INT8)
                v = (uint64_t) p[i].i;
            else
                memcpy(&v, &p[i].d, sizeof v);
            w->num[i] = htobe64(v);
            w->values[i] = (const char *) &w->num[i];
            w->lengths[i] = 8;
            break;
        }
        }
    }
}

int
cds_pg_run(cds_pg_t *self, const char *name, const cds_pg_param_t *params,
           int n, PGresult **res)
{
    int rc = cds_pg_flush(self);
    if (rc != CDS_OK)
        return rc;
    wire_t w;
    to_wire(&w, params, n);
    return finish(self, PQexecPrepared(self->conn, name, n, w.values,
                                       w.lengths, w.formats, 0),
                  "run", name, res);
}

int
cds_pg_query(cds_pg_t *self, const char *sql, const cds_pg_param_t *params,
             int n, PGresult **res)
{
    int rc = cds_pg_flush(self);
    if (rc != CDS_OK)
        return rc;
    wire_t w;
    to_wire(&w, params, n);
    return finish(self, PQexecParams(self->conn, sql, n, w.types, w.values,
                                     w.lengths, w.formats, 0),
                  "query", sql, res);
}

/* ---- pipelined statements ------------------------------------------------ */

/* The answers of one pipelined statement, up to the NULL that ends them.
 * rc: the earlier statements' outcome; the first failure is the one
 * logged and returned (the server skipped the rest: PIPELINE_ABORTED). */
static int
pipe_take(cds_pg_t *self, const char *sql, int rc)
{
    PGresult *res = PQgetResult(self->conn);
    if (!res)                          /* no answer: the connection is gone */
        return rc != CDS_OK ? rc : log_fail(self, NULL, "pipeline", sql);
    if (rc != CDS_OK || PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
        PQclear(res);
    else
        rc = finish(self, res, "pipeline", sql, NULL);
    while (PQstatus(self->conn) == CONNECTION_OK
           && (res = PQgetResult(self->conn)) != NULL)
        PQclear(res);
    return rc;
}

/* The Sync's answer, then out of pipeline mode. */
static int
pipe_end(cds_pg_t *self, int rc)
{
    if (PQstatus(self->conn) != CONNECTION_OK)
        return rc != CDS_OK ? rc : log_fail(self, NULL, "pipeline", NULL);
    PGresult *res = PQgetResult(self->conn);
    bool synced = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
    PQclear(res);
    if ((!synced || !PQexitPipelineMode(self->conn)) && rc == CDS_OK)
        rc = log_fail(self, NULL, "pipeline", NULL);
    return rc;
}

int
cds_pg_flush(cds_pg_t *self)
{
    if (self->n_piped == 0)
        return CDS_OK;
    int n = self->n_piped, rc = CDS_OK;
    self->n_piped = 0;
    if (!PQpipelineSync(self->conn))
        return log_fail(self, NULL, "pipeline", NULL);
    for (int i = 0; i < n && PQstatus(self->conn) == CONNECTION_OK; i++)
        rc = pipe_take(self, self->piped_sql[i], rc);
    return pipe_end(self, rc);
}

int
cds_pg_send_prepared(cds_pg_t *self, const char *name, int n,
                     const char *const *values, const int *lengths,
                     const int *formats, const char *sql)
{
    int rc = self->n_piped == PIPE_MAX ? cds_pg_flush(self) : CDS_OK;
    if (rc != CDS_OK)
        return rc;
    if (PQpipelineStatus(self->conn) == PQ_PIPELINE_OFF
        && !PQenterPipelineMode(self->conn))
        return log_fail(self, NULL, "pipeline", sql);
    if (PQsendQueryPrepared(self->conn, name, n, values, lengths, formats, 0)) {
        self->piped_sql[self->n_piped++] = sql;
        return CDS_OK;
    }
    rc = log_fail(self, NULL, "pipeline", sql);
    if (self->n_piped > 0)
        (void) cds_pg_flush(self);     /* what went before: read, dropped */
    else if (PQstatus(self->conn) == CONNECTION_OK)
        (void) PQexitPipelineMode(self->conn);
    return rc;
}

/* ---- transactions ------------------------------------------------------- */

static int writer_check(cds_pg_t *self);

int
cds_pg_begin(cds_pg_t *self)
{
    int rc = cds_pg_flush(self);
    if (rc == CDS_OK)
        rc = writer_check(self);
    if (rc != CDS_OK)
        return rc;
    rc = durable_query(self, "BEGIN; " DURABLE_SQL);
    if (rc != CDS_OK)
        cds_pg_rollback(self);
    return rc;
}

int
cds_pg_commit(cds_pg_t *self)
{
    int rc = cds_pg_flush(self);   /* a pipelined failure: no COMMIT */
    if (rc != CDS_OK)
        return rc;
    PGresult *res = PQexec(self->conn, "COMMIT");
    /* A COMMIT of a failed transaction answers COMMAND_OK with tag
     * "ROLLBACK": nothing was committed, so it must not count as done. */
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK
        && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        cds_log(CDS_LOG_ERROR, "pg_error", "url=%s what=commit code=%s msg=%s",
                cds_logq(self->shown), cds_strerror(CDS_ERROR),
                cds_logq("transaction had failed; COMMIT rolled back"));
        PQclear(res);
        return CDS_ERROR;
    }
    return finish(self, res, "commit", NULL, NULL);
}

int
cds_pg_rollback(cds_pg_t *self)
{
    (void) cds_pg_flush(self);     /* rolled back anyway: logged only */
    PGTransactionStatusType t = PQtransactionStatus(self->conn);
    if (t == PQTRANS_IDLE || t == PQTRANS_UNKNOWN)
        return CDS_OK;
    return finish(self, PQexec(self->conn, "ROLLBACK"), "rollback", NULL, NULL);
}

/* ---- migrations ----------------------------------------------------------- */

#define VERSION_TABLE                                                        \
    "CREATE TABLE IF NOT EXISTS schema_version ("                            \
    " id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);"     \
    "INSERT INTO schema_version VALUES (1, 0) ON CONFLICT (id) DO NOTHING"
#define VERSION_GET "SELECT version FROM schema_version WHERE id = 1"

/* The schema version into *v; a missing table (read-only open of an
 * empty database) is version 0. */
static int
version_get(cds_pg_t *self, int *v)
{
    PGresult *res = PQexec(self->conn, VERSION_GET);
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (st && !strcmp(st, "42P01") && (self->flags & CDS_PG_READONLY)) {
        PQclear(res);                            /* undefined_table */
        *v = 0;
        return CDS_OK;
    }
    int rc = finish(self, res, "schema_version", VERSION_GET, &res);
    if (rc != CDS_OK)
        return rc;
    int64_t x = 0;
    rc = PQntuples(res) == 1 && cds_pg_get_int64(res, 0, 0, &x) == 0
             ? CDS_OK : CDS_ECORRUPT;
    *v = (int) x;
    PQclear(res);
    return rc;
}

/* Apply migration i (version i -> i+1) in its own transaction, under the
 * advisory lock; the version is read again inside: another process may
 * have applied it meanwhile. i < 0: only make sure the table exists.
 * The same steps as cds_db.c's migrate_one on purpose (one migration
 * contract for both stores); kept apart because each step is a different
 * library call with a different error type. */
static int
migrate_one(cds_pg_t *self, const char *sql, int i)
{
    char bump[96];
    int version = 0, rc;

    if ((rc = cds_pg_begin(self)) != CDS_OK)
        return rc;
    if ((rc = cds_pg_exec(self, MIGRATE_LOCK)) != CDS_OK
        || (i < 0 && (rc = cds_pg_exec(self, VERSION_TABLE)) != CDS_OK)
        || (rc = version_get(self, &version)) != CDS_OK)
        goto out;
    if (i < 0 || version > i)
        return cds_pg_commit(self);
    snprintf(bump, sizeof bump,
             "UPDATE schema_version SET version = %d WHERE id = 1", i + 1);
    if ((rc = cds_pg_exec(self, sql)) != CDS_OK
        || (rc = cds_pg_exec(self, bump)) != CDS_OK)
        goto out;
    if ((rc = cds_pg_commit(self)) == CDS_OK)
        cds_log(CDS_LOG_INFO, "pg_migrated", "url=%s version=%d",
                cds_logq(self->shown), i + 1);
out:
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "pg_migration_failed", "url=%s migration=%d",
                cds_logq(self->shown), i + 1);
        cds_pg_rollback(self);
    }
    return rc;
}

static int
migrate(cds_pg_t *self, const char *const *migrations, int n)
{
    int version = 0, rc;
    bool ro = self->flags & CDS_PG_READONLY;

    if (!ro && (rc = migrate_one(self, NULL, -1)) != CDS_OK)
        return rc;
    if ((rc = version_get(self, &version)) != CDS_OK)
        return rc;
    if (version > n || (version < n && ro)) {
        cds_log(CDS_LOG_ERROR, "pg_version", "url=%s version=%d supported=%d "
                "msg=%s", cds_logq(self->shown), version, n,
                cds_logq(version > n ? "database is newer than this program"
                                     : "read-only open of an unmigrated "
                                       "database; run the daemon once"));
        return CDS_EVERSION;
    }
    for (int i = version; i < n; i++)
        if ((rc = migrate_one(self, migrations[i], i)) != CDS_OK)
            return rc;
    return CDS_OK;
}

/* ---- connections ---------------------------------------------------------- */

/* Why a connection attempt failed, asked of the server with PQping
 * (libpq gives no SQLSTATE for a failed login): CDS_EUSAGE when libpq
 * made no attempt (a bad port, an unknown option) or the server answered
 * and refused us without a password involved (no such database or role,
 * no pg_hba.conf line); CDS_EPERM when it refused the password; CDS_EBUSY
 * when it did not answer or is starting or shutting down: retry. Known
 * gap: "too many clients" answers the ping as a running server and comes
 * out as EPERM/EUSAGE instead of busy. */
static int
connect_reason(cds_pg_t *self, const char *const *keys,
               const char *const *vals)
{
    switch (PQpingParams(keys, vals, 1)) {
    case PQPING_NO_ATTEMPT:
        return CDS_EUSAGE;
    case PQPING_OK:
        return PQconnectionNeedsPassword(self->conn)
                       || PQconnectionUsedPassword(self->conn)
                   ? CDS_EPERM : CDS_EUSAGE;
    default:
        return CDS_EBUSY;
    }
}

/* A failed connection attempt: classified (connect_reason), logged. */
static int
connect_fail(cds_pg_t *self, const char *const *keys, const char *const *vals)
{
    int code = connect_reason(self, keys, vals);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(self->conn));
    for (char *c = msg; *c; c++)        /* libpq's message has newlines */
        if (*c == '\n')
            *c = ' ';
    cds_log(CDS_LOG_ERROR, "pg_error", "url=%s what=connect code=%s msg=%s",
            cds_logq(self->shown), cds_strerror(code), cds_logq(msg));
    snprintf(self->sqlstate, sizeof self->sqlstate, SQLSTATE_LOST);
    return code;
}

/* NULL when the port option (a comma-separated list) holds only numbers
 * 1..65535 or is unset; else why not. libpq checks it only when it
 * connects, and a failure then would look like an unreachable server. */
static const char *
bad_port(const PQconninfoOption *o)
{
    for (; o->keyword; o++) {
        if (strcmp(o->keyword, "port") != 0 || !o->val)
            continue;
        for (const char *p = o->val; *p;) {
            char *end = NULL;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 65535 || (*end && *end != ','))
                return "port is not a number 1..65535";
            p = *end ? end + 1 : end;
        }
    }
    return NULL;
}

/* CDS_OK when url parses as a conninfo or URL; else CDS_EUSAGE, logged
 * (libpq's reason only when the URL holds no password it could echo). */
static int
check_url(cds_pg_t *self)
{
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(self->url, &perr);
    const char *why = o ? bad_port(o) : NULL;
    PQconninfoFree(o);
    if (o && !why)
        return CDS_OK;
    bool secret = strcmp(self->url, self->shown) != 0;
    if (perr)
        perr[strcspn(perr, "\n")] = '\0';
    if (!why)
        why = perr && !secret ? perr : "not a PostgreSQL URL";
    cds_log(CDS_LOG_ERROR, "pg_error", "url=%s what=parse code=%s msg=%s",
            cds_logq(self->shown), cds_strerror(CDS_EUSAGE), cds_logq(why));
    PQfreemem(perr);
    return CDS_EUSAGE;
}

/* libpq's notices (NOTICE: relation already exists, skipping) would go
 * to stderr unformatted: into our log at debug level instead. */
static void
on_notice(void *arg, const char *msg)
{
    cds_pg_t *self = arg;
    char line[256];
    snprintf(line, sizeof line, "%s", msg);
    line[strcspn(line, "\n")] = '\0';
    cds_log(CDS_LOG_DEBUG, "pg_notice", "url=%s msg=%s",
            cds_logq(self->shown), cds_logq(line));
}

/* Connection keywords: earlier ones are defaults the expanded URL
 * (dbname, expand_dbname = 1) overrides. */
#define CONN_PARAMS(self)                                                    \
    const char *keys[] = {"connect_timeout", "dbname",                       \
                          "fallback_application_name", NULL};                \
    const char *vals[] = {CONNECT_TIMEOUT, (self)->url, "cdsync", NULL}

static int
open_conn(cds_pg_t *self)
{
    CONN_PARAMS(self);
    self->conn = PQconnectdbParams(keys, vals, 1);
    if (!self->conn)
        return CDS_ENOMEM;
    PQsetNoticeProcessor(self->conn, on_notice, self);
    if (PQstatus(self->conn) != CONNECTION_OK)
        return connect_fail(self, keys, vals);
    return durable_query(self, DURABLE_SQL);
}

cds_pg_t *
cds_pg_connect(const char *url, const char *const *migrations,
               int n_migrations, int flags, int *err)
{
    cds_pg_t *self = calloc(1, sizeof *self);
    int rc = CDS_ENOMEM;

    if (!self || !(self->url = strdup(url)) || !(self->shown = cds_pg_redact(url)))
        goto out;
    self->flags = flags;
    if ((rc = check_url(self)) == CDS_OK && (rc = open_conn(self)) == CDS_OK)
        rc = migrate(self, migrations, n_migrations);
out:
    if (rc == CDS_ENOMEM)
        cds_log(CDS_LOG_ERROR, "pg_error", "what=connect code=no_memory");
    if (rc != CDS_OK)
        cds_pg_destroy(&self);
    if (err)
        *err = rc;
    return self;
}

/* ---- the single-writer lock ------------------------------------------- */

#define WRITER_KEY_S "1667527543"
#define WRITER_TRY "SELECT pg_try_advisory_lock(" WRITER_KEY_S ")"
/* Who holds it, as far as this role may see (pg_stat_activity shows
 * other roles' sessions without their address). */
#define WRITER_HOLDER                                                        \
    "SELECT 'server pid ' || l.pid || coalesce(', client '"                  \
    " || coalesce(host(a.client_addr), 'local socket')"                      \
    " || ', application ' || quote_literal(a.application_name)"              \
    " || ', connected since ' || to_char(a.backend_start AT TIME ZONE 'UTC',"\
    " 'YYYY-MM-DD HH24:MI:SS') || ' UTC', '')"                               \
    " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"         \
    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"         \
    " AND l.objid = " WRITER_KEY_S " AND l.objsubid = 1 AND l.database ="    \
    " (SELECT oid FROM pg_database WHERE datname = current_database())"
#define LOST_LOG_EVERY_MS 60000

/* One round trip: CDS_OK taken, CDS_EBUSY held by another session (its
 * description into holder[len] when holder), else a logged code. */
static int
writer_try(cds_pg_t *self, char *holder, size_t len)
{
    PGresult *res = NULL;
    int rc = finish(self, PQexec(self->conn, WRITER_TRY), "writer_lock",
                    WRITER_TRY, &res);
    if (rc != CDS_OK)
        return rc;
    rc = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t")
             ? CDS_OK : CDS_EBUSY;
    PQclear(res);
    if (rc == CDS_EBUSY && holder && len) {
        holder[0] = '\0';
        res = PQexec(self->conn, WRITER_HOLDER);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
            snprintf(holder, len, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return rc;
}

int
cds_pg_writer_lock(cds_pg_t *self, char *holder, size_t len)
{
    int rc = cds_pg_flush(self);
    if (rc == CDS_OK)
        rc = writer_try(self, holder, len);
    if (rc == CDS_OK)
        self->writer = true;
    return rc;
}

int
cds_pg_writer_lost(const cds_pg_t *self)
{
    return atomic_load(&((cds_pg_t *) self)->writer_lost);
}

/* default_transaction_read_only on or off: a session without the lock
 * refuses even a write outside cds_pg_begin (SQLSTATE 25006). */
static void
writer_read_only(cds_pg_t *self, bool on)
{
    const char *sql = on ? "SET default_transaction_read_only = on"
                         : "SET default_transaction_read_only = off";
    finish(self, PQexec(self->conn, sql), "writer_read_only", sql, NULL);
}

static void
writer_log_lost(cds_pg_t *self, const char *holder)
{
    self->lost_logged_ms = cds_mono_ms();
    cds_log(CDS_LOG_ERROR, "pg_writer_lock_lost",
            "url=%s key=" WRITER_KEY_S " holder=%s msg=%s",
            cds_logq(self->shown), cds_logq(holder[0] ? holder : "unknown"),
            cds_logq("another session holds the single-writer lock of this "
                     "database: NOT WRITING (every message is answered "
                     "retry) until it is free again. If the holder is "
                     "another cdsync-aggregator, two daemons are pointed at "
                     "one database: stop one. If it is this daemon's lost "
                     "session, the server frees it when it notices"));
}

/* After a reconnect: the new session takes the lock, or the connection
 * is marked lost (logged, session read-only). */
static void
writer_relock(cds_pg_t *self)
{
    char holder[256] = "";
    atomic_store(&self->writer_lost, 1);
    int rc = writer_try(self, holder, sizeof holder);
    if (rc == CDS_OK) {
        atomic_store(&self->writer_lost, 0);
        return;
    }
    if (rc == CDS_EBUSY) {
        writer_read_only(self, true);
        writer_log_lost(self, holder);
    }
}

/* Before every BEGIN: CDS_OK when this connection may write (no writer
 * lock asked for, or held); else the lock is tried again: taken back
 * (session writable again, logged), or CDS_EBUSY / a failure. */
static int
writer_check(cds_pg_t *self)
{
    if (!self->writer || !atomic_load(&self->writer_lost))
        return CDS_OK;
    char holder[256] = "";
    int rc = writer_try(self, holder, sizeof holder);
    if (rc == CDS_EBUSY
        && cds_mono_ms() - self->lost_logged_ms >= LOST_LOG_EVERY_MS)
        writer_log_lost(self, holder);
    if (rc != CDS_OK)
        return rc;
    writer_read_only(self, false);
    atomic_store(&self->writer_lost, 0);
    cds_log(CDS_LOG_WARN, "pg_writer_lock_retaken", "url=%s msg=%s",
            cds_logq(self->shown),
            cds_logq("the single-writer lock is held again: writing"));
    return CDS_OK;
}

int
cds_pg_reconnect(cds_pg_t *self)
{
    CONN_PARAMS(self);
    self->generation++;
    self->n_piped = 0;             /* PQreset ends pipeline mode too */
    PQreset(self->conn);
    if (PQstatus(self->conn) != CONNECTION_OK)
        return connect_fail(self, keys, vals);
    int rc = durable_query(self, DURABLE_SQL);
    for (int i = 0; rc == CDS_OK && i < self->n_stmts; i++)
        rc = prepare_stmt(self, &self->stmts[i]);
    if (rc == CDS_OK)
        cds_log(CDS_LOG_INFO, "pg_reconnected", "url=%s",
                cds_logq(self->shown));
    if (rc == CDS_OK && self->writer)
        writer_relock(self);     /* the old session's lock went with it */
    return rc;
}

void
cds_pg_destroy(cds_pg_t **self_p)
{
    cds_pg_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    PQfinish(self->conn);
    for (int i = 0; i < self->n_stmts; i++) {
        free(self->stmts[i].name);
        free(self->stmts[i].sql);
    }
    free(self->stmts);
    if (self->url)
        memset(self->url, 0, strlen(self->url));  /* holds the password */
    free(self->url);
    free(self->shown);
    free(self);
    *self_p = NULL;
}

PGconn *
cds_pg_handle(cds_pg_t *self)
{
    return self->conn;
}

const char *
cds_pg_url(const cds_pg_t *self)
{
    return self->shown;
}

/* ---- results -------------------------------------------------------------- */

int
cds_pg_get_int64(const PGresult *res, int r, int c, int64_t *out)
{
    if (PQgetisnull(res, r, c))
        return -1;
    char *end = NULL;
    const char *s = PQgetvalue(res, r, c);
    long long v = strtoll(s, &end, 10);
    if (end == s || *end)
        return -1;
    *out = v;
    return 0;
}

int
cds_pg_get_bytea(const PGresult *res, int r, int c, uint8_t **out,
                 size_t *len)
{
    if (PQgetisnull(res, r, c))
        return -1;
    unsigned char *raw = PQunescapeBytea(
        (const unsigned char *) PQgetvalue(res, r, c), len);
    if (!raw)
        return -1;
    /* PQunescapeBytea's memory is libpq's (PQfreemem); callers free(). */
    *out = malloc(*len ? *len : 1);
    if (*out)
        memcpy(*out, raw, *len);
    PQfreemem(raw);
    return *out ? 0 : -1;
}
