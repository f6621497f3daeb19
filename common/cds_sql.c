/*  cds_sql: see cds_sql.h. The SQLite half forwards to cds_db and
 *  sqlite3 (the ingest hot path pays one branch a call); the PostgreSQL
 *  half keeps, per statement, the rewritten text, the parameter names in
 *  $n order, the bound values as libpq wants them, and the result of the
 *  last run with a row cursor. */
#include "cds_sql.h"

#include "cds_err.h"
#include "cds_log.h"

#include <assert.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_PARAMS 64        /* per statement; more: programmer error */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct cds_sql {
    cds_sql_backend_t backend;
    cds_db_t *db;               /* SQLite: owned */
    cds_pg_t *pg;               /* PostgreSQL: owned */
    unsigned next_name;         /* PostgreSQL: server statement names */
    bool wrote;                 /* PostgreSQL: a row changed since BEGIN */
};

/* One bound PostgreSQL parameter. */
typedef struct {
    char *name;                 /* ":name" as written (owned) */
    Oid type;                   /* 0: the server infers */
    int format;                 /* 0 text, 1 binary */
    const char *value;          /* NULL: SQL NULL */
    int length;                 /* binary only */
    char *owned;                /* value's copy when not a _ref bind */
    char num[32];               /* integers and doubles as text */
} pg_param_t;

struct cds_sql_stmt {
    cds_sql_t *conn;
    sqlite3_stmt *lite;         /* SQLite */
    int64_t changes;            /* SQLite: of the last run */
    /* PostgreSQL */
    char *sql;                  /* as the caller wrote it, for logs */
    char *pg_sql;               /* with $n parameters */
    pg_param_t params[PG_MAX_PARAMS];
    int n_params;
    char server_name[24];       /* "" unless CDS_SQL_PERSIST */
    unsigned prepared_gen;      /* cds_pg_generation at PQprepare, +1 */
    PGresult *res;              /* last run's result (owned) */
    int row;                    /* cursor: row of res now, -1 before */
    bool done;                  /* DONE returned: next step runs again */
    unsigned char *blob;        /* last column read as bytea (owned) */
    size_t blob_len;
    int blob_col;               /* its column in the current row */
};

static _Atomic uint64_t pg_commits;

/* ---- connections ---------------------------------------------------------- */

int
cds_sql_is_server(const char *where)
{
    if (!where)
        return 0;
    if (!strncmp(where, "postgresql://", 13) || !strncmp(where, "postgres://", 11))
        return 1;
    return strstr(where, "dbname=") != NULL || strstr(where, "host=") != NULL;
}

cds_sql_t *
cds_sql_open(const char *where, const cds_sql_schema_t *schema, int flags,
             int *err)
{
    cds_sql_t *self = calloc(1, sizeof *self);
    int code = CDS_ENOMEM;
    if (!self)
        goto fail;
    if (cds_sql_is_server(where)) {
        self->backend = CDS_SQL_POSTGRESQL;
        self->pg = cds_pg_connect(where, schema->pg, schema->n_pg,
                                  flags & CDS_SQL_READONLY ? CDS_PG_READONLY
                                                           : 0, &code);
    } else {
        self->backend = CDS_SQL_SQLITE;
        self->db = cds_db_open(where, schema->sqlite, schema->n_sqlite,
                               flags & CDS_SQL_READONLY ? CDS_DB_READONLY : 0,
                               &code);
    }
    if (self->pg || self->db)
        return self;
fail:
    free(self);
    if (err)
        *err = code;
    return NULL;
}

void
cds_sql_close(cds_sql_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cds_db_close(&(*self_p)->db);
    cds_pg_destroy(&(*self_p)->pg);
    free(*self_p);
    *self_p = NULL;
}

cds_sql_backend_t
cds_sql_backend(const cds_sql_t *self)
{
    return self->backend;
}

const char *
cds_sql_where(const cds_sql_t *self)
{
    return self->db ? cds_db_path(self->db) : cds_pg_url(self->pg);
}

cds_db_t *
cds_sql_sqlite(cds_sql_t *self)
{
    return self->db;
}

cds_pg_t *
cds_sql_pg(cds_sql_t *self)
{
    return self->pg;
}

/* A PostgreSQL connection found lost outside a transaction is restored
 * before the next statement; inside one the failure stands (the caller
 * rolls back and retries: the transaction is gone with the connection). */
static int
pg_alive(cds_sql_t *self)
{
    int rc = cds_pg_flush(self->pg);   /* pipelined answers first */
    if (rc != CDS_OK)
        return rc;
    PGconn *c = cds_pg_handle(self->pg);
    if (PQstatus(c) == CONNECTION_OK)
        return CDS_OK;
    return cds_pg_reconnect(self->pg);
}

int
cds_sql_exec(cds_sql_t *self, const char *sql)
{
    if (self->db)
        return cds_db_exec(self->db, sql);
    int frc = cds_pg_flush(self->pg);
    if (frc != CDS_OK)
        return frc;
    if (PQtransactionStatus(cds_pg_handle(self->pg)) == PQTRANS_IDLE
        || PQstatus(cds_pg_handle(self->pg)) != CONNECTION_OK) {
        int rc = pg_alive(self);
        if (rc != CDS_OK)
            return rc;
    }
    return cds_pg_exec(self->pg, sql);
}

int
cds_sql_begin(cds_sql_t *self)
{
    if (self->db)
        return cds_db_begin(self->db);
    int rc = pg_alive(self);
    self->wrote = false;
    return rc != CDS_OK ? rc : cds_pg_begin(self->pg);
}

int
cds_sql_begin_read(cds_sql_t *self)
{
    if (self->db)
        return cds_db_exec(self->db, "BEGIN");
    int rc = pg_alive(self);
    return rc != CDS_OK ? rc : cds_pg_exec(self->pg,
                                           "BEGIN ISOLATION LEVEL "
                                           "REPEATABLE READ READ ONLY");
}

int
cds_sql_commit(cds_sql_t *self)
{
    if (self->db)
        return cds_db_commit(self->db);
    int rc = cds_pg_commit(self->pg);
    if (rc == CDS_OK && self->wrote)   /* as cds_db counts: with a change */
        atomic_fetch_add_explicit(&pg_commits, 1, memory_order_relaxed);
    self->wrote = false;
    return rc;
}

int
cds_sql_rollback(cds_sql_t *self)
{
    if (self->db)
        return sqlite3_get_autocommit(cds_db_handle(self->db))
                   ? CDS_OK : cds_db_rollback(self->db);
    (void) cds_pg_flush(self->pg);     /* rolled back anyway */
    if (PQstatus(cds_pg_handle(self->pg)) != CONNECTION_OK)
        return CDS_OK;          /* the server dropped the transaction */
    return cds_pg_rollback(self->pg);
}

uint64_t
cds_sql_write_commits(void)
{
    return cds_db_write_commits()
           + atomic_load_explicit(&pg_commits, memory_order_relaxed);
}

int
cds_sql_version(cds_sql_t *self, int *version)
{
    cds_sql_stmt_t *st = cds_sql_prepare2(
        self, "PRAGMA user_version",
        "SELECT version FROM schema_version WHERE id = 1", 0);
    if (!st)
        return CDS_ERROR;
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW) {
        *version = cds_sql_col_int(st, 0);
        rc = CDS_OK;
    } else if (rc == CDS_SQL_DONE)
        rc = CDS_ENOTFOUND;
    cds_sql_finalize(&st);
    return rc;
}

/* ---- PostgreSQL statement text -------------------------------------------- */

static bool
ident_char(char c)
{
    return isalnum((unsigned char) c) || c == '_';
}

/* Index of parameter name (len bytes) in st, added when new; -1 when
 * there are too many. */
static int
pg_param_slot(cds_sql_stmt_t *st, const char *name, size_t len)
{
    for (int i = 0; i < st->n_params; i++)
        if (strlen(st->params[i].name) == len
            && !memcmp(st->params[i].name, name, len))
            return i;
    if (st->n_params == PG_MAX_PARAMS)
        return -1;
    st->params[st->n_params].name = strndup(name, len);
    if (!st->params[st->n_params].name)
        return -1;
    return st->n_params++;
}

/* Length of the quoted run or comment starting at s (0 if none). */
static size_t
skip_quoted(const char *s)
{
    const char *p = s;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && !(*p == q && p[1] != q))
            p += *p == q ? 2 : 1;
        return (size_t) (p - s) + (*p ? 1 : 0);
    }
    if (p[0] == '-' && p[1] == '-')
        return strcspn(s, "\n");
    if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        return e ? (size_t) (e + 2 - s) : strlen(s);
    }
    return 0;
}

/* Rewrite sql's parameters to $n into st->pg_sql. CDS_OK, CDS_ENOMEM, or
 * CDS_ETOOBIG (over PG_MAX_PARAMS). An anonymous '?' is named "?k". */
static int
pg_rewrite(cds_sql_stmt_t *st, const char *sql)
{
    size_t cap = strlen(sql) * 2 + 16, o = 0;
    char *out = malloc(cap);
    int anon = 0;
    if (!out)
        return CDS_ENOMEM;
    for (const char *p = sql; *p;) {
        size_t q = skip_quoted(p);
        if (q) {
            memcpy(out + o, p, q);
            o += q, p += q;
            continue;
        }
        bool named = (*p == ':' || *p == '@') && ident_char(p[1])
                     && !(p > sql && p[-1] == ':') && p[1] != ':';
        if (!named && *p != '?') {
            out[o++] = *p++;
            continue;
        }
        size_t len = 1;
        while (ident_char(p[len]))
            len++;
        char anon_name[16];
        const char *name = p;
        if (*p == '?' && len == 1) {
            snprintf(anon_name, sizeof anon_name, "?%d", ++anon);
            name = anon_name;
        }
        int idx = pg_param_slot(st, name, name == p ? len : strlen(name));
        if (idx < 0) {
            free(out);
            return CDS_ETOOBIG;
        }
        if (o + 8 > cap) {
            free(out);
            return CDS_ETOOBIG;
        }
        o += (size_t) snprintf(out + o, cap - o, "$%d", idx + 1);
        p += len;
    }
    out[o] = '\0';
    st->pg_sql = out;
    return CDS_OK;
}

/* ---- statements ----------------------------------------------------------- */

static cds_sql_stmt_t *
prepare_lite(cds_sql_stmt_t *st, const char *sql, int flags)
{
    st->lite = flags & CDS_SQL_PERSIST ? cds_db_prepare(st->conn->db, sql)
                                       : cds_db_prepare_once(st->conn->db, sql);
    if (st->lite)
        return st;
    free(st);
    return NULL;
}

cds_sql_stmt_t *
cds_sql_prepare2(cds_sql_t *self, const char *sql, const char *pg_sql,
                 int flags)
{
    cds_sql_stmt_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->conn = self;
    st->row = -1;
    if (self->db)
        return prepare_lite(st, sql, flags);
    const char *text = pg_sql ? pg_sql : sql;
    int rc = (st->sql = strdup(text)) ? pg_rewrite(st, text) : CDS_ENOMEM;
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "pg_error", "what=prepare code=%s sql=%s",
                cds_strerror(rc), cds_logq(text));
        cds_sql_finalize(&st);
        return NULL;
    }
    if (flags & CDS_SQL_PERSIST)
        snprintf(st->server_name, sizeof st->server_name, "cds_%u",
                 self->next_name++);
    return st;
}

cds_sql_stmt_t *
cds_sql_prepare(cds_sql_t *self, const char *sql, int flags)
{
    return cds_sql_prepare2(self, sql, NULL, flags);
}

static void
pg_clear(cds_sql_stmt_t *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->row = -1;
    st->done = false;
    PQfreemem(st->blob);
    st->blob = NULL;
}

static void
pg_unbind(pg_param_t *p)
{
    free(p->owned);
    p->owned = NULL;
    p->value = NULL;
    p->type = 0;
    p->format = 0;
    p->length = 0;
}

void
cds_sql_finalize(cds_sql_stmt_t **st_p)
{
    if (!st_p || !*st_p)
        return;
    cds_sql_stmt_t *st = *st_p;
    sqlite3_finalize(st->lite);
    if (st->conn->pg)
        (void) cds_pg_flush(st->conn->pg);
    pg_clear(st);
    if (st->server_name[0] && st->prepared_gen && st->conn->pg
        && PQstatus(cds_pg_handle(st->conn->pg)) == CONNECTION_OK
        && st->prepared_gen == cds_pg_generation(st->conn->pg) + 1) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", st->server_name);
        PQclear(PQexec(cds_pg_handle(st->conn->pg), sql));
    }
    for (int i = 0; i < st->n_params; i++) {
        pg_unbind(&st->params[i]);
        free(st->params[i].name);
    }
    free(st->sql);
    free(st->pg_sql);
    free(st);
    *st_p = NULL;
}

cds_sql_t *
cds_sql_conn(cds_sql_stmt_t *st)
{
    return st->conn;
}

/* ---- binding -------------------------------------------------------------- */

static pg_param_t *
pg_param(cds_sql_stmt_t *st, const char *name)
{
    for (int i = 0; i < st->n_params; i++)
        if (!strcmp(st->params[i].name, name)) {
            pg_unbind(&st->params[i]);
            return &st->params[i];
        }
    assert(!"no such SQL parameter");
    return NULL;
}

int
cds_sql_has_param(cds_sql_stmt_t *st, const char *name)
{
    if (st->lite)
        return sqlite3_bind_parameter_index(st->lite, name) > 0;
    for (int i = 0; i < st->n_params; i++)
        if (!strcmp(st->params[i].name, name))
            return 1;
    return 0;
}

void
cds_sql_bind_int64(cds_sql_stmt_t *st, const char *name, int64_t v)
{
    if (st->lite) {
        cds_bind_int64(st->lite, name, v);
        return;
    }
    pg_param_t *p = pg_param(st, name);
    if (!p)
        return;
    snprintf(p->num, sizeof p->num, "%lld", (long long) v);
    p->value = p->num;
    p->type = OID_INT8;
}

void
cds_sql_bind_double(cds_sql_stmt_t *st, const char *name, double v)
{
    if (st->lite) {
        cds_bind_double(st->lite, name, v);
        return;
    }
    pg_param_t *p = pg_param(st, name);
    if (!p)
        return;
    snprintf(p->num, sizeof p->num, "%.17g", v);
    p->value = p->num;
    p->type = OID_FLOAT8;
}

static void
pg_bind_bytes(cds_sql_stmt_t *st, const char *name, const void *v, size_t n,
              bool copy, bool blob)
{
    pg_param_t *p = pg_param(st, name);
    if (!p || !v)
        return;
    if (copy) {
        if (!(p->owned = malloc(n + 1))) {
            cds_log(CDS_LOG_ERROR, "pg_error", "what=bind param=%s msg=%s",
                    cds_logq(name), cds_logq("out of memory: bound NULL"));
            return;
        }
        memcpy(p->owned, v, n);
        p->owned[n] = '\0';
        v = p->owned;
    }
    p->value = v;
    if (blob) {
        p->type = OID_BYTEA;
        p->format = 1;
        p->length = (int) n;
    }
}

void
cds_sql_bind_text(cds_sql_stmt_t *st, const char *name, const char *s)
{
    if (st->lite)
        cds_bind_text(st->lite, name, s);
    else
        pg_bind_bytes(st, name, s, s ? strlen(s) : 0, true, false);
}

void
cds_sql_bind_text_ref(cds_sql_stmt_t *st, const char *name, const char *s)
{
    if (st->lite)
        cds_bind_text_ref(st->lite, name, s);
    else
        pg_bind_bytes(st, name, s, s ? strlen(s) : 0, false, false);
}

void
cds_sql_bind_blob(cds_sql_stmt_t *st, const char *name, const void *p,
                  size_t n)
{
    if (st->lite)
        cds_bind_blob(st->lite, name, p, (int) n);
    else
        pg_bind_bytes(st, name, p ? p : "", n, true, true);
}

void
cds_sql_bind_blob_ref(cds_sql_stmt_t *st, const char *name, const void *p,
                      size_t n)
{
    if (st->lite)
        cds_bind_blob_ref(st->lite, name, p, (int) n);
    else
        pg_bind_bytes(st, name, p ? p : "", n, false, true);
}

void
cds_sql_bind_null(cds_sql_stmt_t *st, const char *name)
{
    if (st->lite)
        cds_bind_null(st->lite, name);
    else
        pg_param(st, name);
}

/* ---- running -------------------------------------------------------------- */

/* Prepare st on the server for this connection generation. */
static int
pg_server_prepare(cds_sql_stmt_t *st)
{
    cds_pg_t *pg = st->conn->pg;
    Oid types[PG_MAX_PARAMS];
    for (int i = 0; i < st->n_params; i++)
        types[i] = st->params[i].type;
    int rc = cds_pg_flush(pg);
    if (rc != CDS_OK)
        return rc;
    rc = cds_pg_result(pg, PQprepare(cds_pg_handle(pg), st->server_name,
                                         st->pg_sql, st->n_params, types),
                           "prepare", st->sql, NULL);
    if (rc == CDS_OK)
        st->prepared_gen = cds_pg_generation(pg) + 1;
    return rc;
}

static int
pg_execute(cds_sql_stmt_t *st)
{
    cds_pg_t *pg = st->conn->pg;
    PGconn *c = cds_pg_handle(pg);
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS], formats[PG_MAX_PARAMS];
    Oid types[PG_MAX_PARAMS];
    int rc = cds_pg_flush(pg);
    if (rc != CDS_OK)
        return rc;
    if (PQtransactionStatus(c) == PQTRANS_IDLE || PQstatus(c) != CONNECTION_OK)
        if ((rc = pg_alive(st->conn)) != CDS_OK)
            return rc;
    for (int i = 0; i < st->n_params; i++) {
        values[i] = st->params[i].value;
        lengths[i] = st->params[i].length;
        formats[i] = st->params[i].format;
        types[i] = st->params[i].type;
    }
    PGresult *res;
    if (!st->server_name[0])
        res = PQexecParams(c, st->pg_sql, st->n_params, types, values, lengths,
                           formats, 0);
    else {
        if (st->prepared_gen != cds_pg_generation(pg) + 1
            && (rc = pg_server_prepare(st)) != CDS_OK)
            return rc;
        res = PQexecPrepared(c, st->server_name, st->n_params, values,
                             lengths, formats, 0);
    }
    rc = cds_pg_result(pg, res, "step", st->sql, &st->res);
    if (rc == CDS_OK) {
        const char *n = PQcmdTuples(st->res), *cmd = PQcmdStatus(st->res);
        st->changes = *n ? strtoll(n, NULL, 10) : 0;
        if (st->changes > 0 && strncmp(cmd, "SELECT", 6) != 0)
            st->conn->wrote = true;
    }
    return rc;
}

int
cds_sql_step(cds_sql_stmt_t *st)
{
    if (st->lite) {
        int rc = sqlite3_step(st->lite);
        if (rc == SQLITE_ROW)
            return CDS_SQL_ROW;
        if (rc == SQLITE_DONE) {
            st->changes = sqlite3_changes64(sqlite3_db_handle(st->lite));
            return CDS_SQL_DONE;
        }
        return cds_db_fail(st->conn->db, sqlite3_sql(st->lite));
    }
    PQfreemem(st->blob);
    st->blob = NULL;
    if (!st->res || st->done) {
        pg_clear(st);
        int rc = pg_execute(st);
        if (rc != CDS_OK)
            return rc;
    }
    if (++st->row < PQntuples(st->res))
        return CDS_SQL_ROW;
    st->done = true;
    return CDS_SQL_DONE;
}

int
cds_sql_run(cds_sql_stmt_t *st)
{
    int rc;
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW)
        ;
    return rc == CDS_SQL_DONE ? CDS_OK : rc;
}

/* Inside a write transaction, a persistent statement whose answer is
 * not needed goes into the pipeline; anything else runs now. */
int
cds_sql_run_deferred(cds_sql_stmt_t *st)
{
    if (st->lite || !st->server_name[0])
        return cds_sql_run(st);
    cds_pg_t *pg = st->conn->pg;
    PGconn *c = cds_pg_handle(pg);
    PGTransactionStatusType t = PQtransactionStatus(c);
    if (PQstatus(c) != CONNECTION_OK
        || (t != PQTRANS_INTRANS && t != PQTRANS_ACTIVE))
        return cds_sql_run(st);        /* autocommit, failed or lost */
    int rc;
    if (st->prepared_gen != cds_pg_generation(pg) + 1
        && (rc = pg_server_prepare(st)) != CDS_OK)
        return rc;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS], formats[PG_MAX_PARAMS];
    for (int i = 0; i < st->n_params; i++) {
        values[i] = st->params[i].value;
        lengths[i] = st->params[i].length;
        formats[i] = st->params[i].format;
    }
    pg_clear(st);
    st->changes = 0;
    rc = cds_pg_send_prepared(pg, st->server_name, st->n_params, values,
                              lengths, formats, st->sql);
    if (rc == CDS_OK)
        st->conn->wrote = true;        /* counted as a change (header) */
    return rc;
}

void
cds_sql_reset(cds_sql_stmt_t *st)
{
    if (st->lite) {
        cds_stmt_done(st->lite);
        return;
    }
    pg_clear(st);
    for (int i = 0; i < st->n_params; i++)
        pg_unbind(&st->params[i]);
}

int64_t
cds_sql_changes(cds_sql_stmt_t *st)
{
    return st->changes;
}

/* ---- columns -------------------------------------------------------------- */

static bool
pg_null(cds_sql_stmt_t *st, int i)
{
    return !st->res || st->row < 0 || st->row >= PQntuples(st->res)
           || i < 0 || i >= PQnfields(st->res)
           || PQgetisnull(st->res, st->row, i);
}

int
cds_sql_col_count(cds_sql_stmt_t *st)
{
    if (st->lite)
        return sqlite3_column_count(st->lite);
    return st->res ? PQnfields(st->res) : 0;
}

int
cds_sql_col_type(cds_sql_stmt_t *st, int i)
{
    if (st->lite)
        return sqlite3_column_type(st->lite, i);
    if (pg_null(st, i))
        return CDS_SQL_NULL;
    switch (PQftype(st->res, i)) {
    case OID_BOOL: case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
        return CDS_SQL_INTEGER;
    case OID_FLOAT4: case OID_FLOAT8:
        return CDS_SQL_FLOAT;
    case OID_NUMERIC:
        return strchr(PQgetvalue(st->res, st->row, i), '.') ? CDS_SQL_FLOAT
                                                            : CDS_SQL_INTEGER;
    case OID_BYTEA:
        return CDS_SQL_BLOB;
    default:
        return CDS_SQL_TEXT;
    }
}

int64_t
cds_sql_col_int64(cds_sql_stmt_t *st, int i)
{
    if (st->lite)
        return sqlite3_column_int64(st->lite, i);
    if (pg_null(st, i))
        return 0;
    const char *v = PQgetvalue(st->res, st->row, i);
    if (PQftype(st->res, i) == OID_BOOL)
        return *v == 't';
    if (strpbrk(v, ".eE"))              /* numeric or float: truncated */
        return (int64_t) strtod(v, NULL);
    return strtoll(v, NULL, 10);
}

int
cds_sql_col_int(cds_sql_stmt_t *st, int i)
{
    return (int) cds_sql_col_int64(st, i);
}

double
cds_sql_col_double(cds_sql_stmt_t *st, int i)
{
    if (st->lite)
        return sqlite3_column_double(st->lite, i);
    if (pg_null(st, i))
        return 0.0;
    return strtod(PQgetvalue(st->res, st->row, i), NULL);
}

const char *
cds_sql_col_text(cds_sql_stmt_t *st, int i)
{
    if (st->lite)
        return (const char *) sqlite3_column_text(st->lite, i);
    if (pg_null(st, i))
        return NULL;
    if (PQftype(st->res, i) == OID_BOOL)
        return *PQgetvalue(st->res, st->row, i) == 't' ? "1" : "0";
    return PQgetvalue(st->res, st->row, i);
}

const void *
cds_sql_col_blob(cds_sql_stmt_t *st, int i)
{
    if (st->lite)
        return sqlite3_column_blob(st->lite, i);
    if (pg_null(st, i))
        return NULL;
    if (PQftype(st->res, i) != OID_BYTEA) {
        st->blob_len = (size_t) PQgetlength(st->res, st->row, i);
        return PQgetvalue(st->res, st->row, i);
    }
    if (st->blob && st->blob_col == i)
        return st->blob;
    PQfreemem(st->blob);
    st->blob_col = i;
    st->blob = PQunescapeBytea(
        (const unsigned char *) PQgetvalue(st->res, st->row, i),
        &st->blob_len);
    return st->blob;
}

size_t
cds_sql_col_bytes(cds_sql_stmt_t *st, int i)
{
    if (st->lite)
        return (size_t) sqlite3_column_bytes(st->lite, i);
    if (pg_null(st, i))
        return 0;
    if (PQftype(st->res, i) != OID_BYTEA)
        return (size_t) PQgetlength(st->res, st->row, i);
    if (!cds_sql_col_blob(st, i))
        return 0;
    return st->blob_len;
}
