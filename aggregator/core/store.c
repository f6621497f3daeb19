/*  store: the consolidated database. See store.h for the schema and the
 *  invariant; every SQL text lives in store_sql.h. Every statement runs
 *  through cds_sql (SQLite file or PostgreSQL server), prepared once per
 *  connection; the hot ones bind the caller's bytes without copies
 *  (cds_sql_bind_*_ref), so SQLite pays what it paid before cds_sql. */
#include "store.h"

#include "cds_codec.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "store_sql.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <string.h>

/* Weak: a build whose module lacks its PostgreSQL part (branch pgsql not
 * merged) still links, and refuses a PostgreSQL store (pg_schema). */
#pragma weak health_pg_schema
#pragma weak commitmark_pg_schema

static const char *const migrations[] = {
    STORE_SQL_MIGRATION_1,
    STORE_SQL_MIGRATION_ADMIN,
    health_migration,                  /* health.h, `rejects retry` */
    STORE_SQL_MIGRATION_ROTATE,        /* agent.replaced_by (key rotation) */
    commitmark_migration,              /* commit counter (commitmark.h) */
    STORE_SQL_MIGRATION_NO_PERIOD_INDEX, /* unused index (issue 7) */
    STORE_SQL_MIGRATION_REJECT_BOUNDS, /* digests, per-peer raw bound */
    STORE_SQL_MIGRATION_EFF_HLC,       /* effective stamps (clock skew) */
    STORE_SQL_MIGRATION_KNOCK,         /* refused handshakes, grouped */
    STORE_SQL_MIGRATION_APPEND_ONLY,   /* update_status; no history edits */
    followup_migration,                /* followup.h: admin follow-up flag */
    STORE_SQL_MIGRATION_ACCOUNT,       /* officers' logins (account.h) */
    STORE_SQL_MIGRATION_METADATA,      /* published metadata (issue 20) */
    health_metadata_migration,         /* agents' metadata version */
    approval_migration,                /* approval.h: data approval, held */
    STORE_SQL_MIGRATION_META_VERSION,  /* update_log.meta_version */
    STORE_SQL_MIGRATION_SOURCE_TIMES,  /* source created/lastUpdated */
    STORE_SQL_MIGRATION_NARROW,        /* fewer bytes per update (18) */
    STORE_SQL_MIGRATION_DHIS2_PUSH,    /* push-dhis2's log (19) */
};

/* PostgreSQL migrations after the whole schema (pg_schema() is pg[0]):
 * pg[i] moves a PostgreSQL database from version i to i+1. */
static const char *const pg_migrations[] = {
    followup_pg_schema,                /* follow-up log (SQLite 11) */
    STORE_ACCOUNT_SQL_PG_SCHEMA,       /* accounts (SQLite 12) */
    METADATA_SQL_PG_SCHEMA,            /* published metadata (SQLite 13) */
    health_metadata_pg_schema,         /* agents' metadata (SQLite 14) */
    approval_pg_schema,                /* data approval (SQLite 15) */
    STORE_META_VERSION_SQL_PG_SCHEMA,  /* update_log.meta_version (16) */
    STORE_SOURCE_TIMES_SQL_PG_SCHEMA,  /* source times (SQLite 17) */
    STORE_NARROW_SQL_PG_SCHEMA,        /* fewer bytes (SQLite 18) */
    STORE_DHIS2_PUSH_SQL_PG_SCHEMA,    /* push-dhis2's log (SQLite 19) */
};
#define N_PG (1 + sizeof pg_migrations / sizeof pg_migrations[0])

/* Statements prepared once at open; index into store->st[]. */
enum {
    ST_ORGUNIT_UPSERT, ST_ORGUNIT_EXISTS, ST_ALLOWED,
    ST_AGENT_BY_PK, ST_AGENT_BY_FPR, ST_AGENT_ALL, ST_AGENT_INSERT,
    ST_AGENT_RELABEL, ST_AGENT_REVOKE, ST_AGENT_ADVANCE, ST_AGENT_SEEN,
    ST_UNITS_CLEAR, ST_UNITS_ADD, ST_UNITS_OF,
    ST_BATCH_INSERT, ST_LOG_GET, ST_LOG_INSERT, ST_MERGE, ST_REJECT_INSERT,
    ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_AGENT_BY_CURVE, ST_AGENT_REPLACED, ST_AGENT_SUCCESSOR,
    ST_REJECT_RAW_COUNT, ST_REJECT_PRUNE, ST_LOG_EFF,
    ST_KNOCK_UPSERT, ST_KNOCK_PRUNE, ST_AGENT_SEEN_MAX, ST_STATUS_ADD,
    ST_METADATA_LATEST,
    ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    [ST_ORGUNIT_UPSERT] = STORE_SQL_ORGUNIT_UPSERT,
    [ST_ORGUNIT_EXISTS] = STORE_SQL_ORGUNIT_EXISTS,
    [ST_ALLOWED] = STORE_SQL_ALLOWED,
    [ST_AGENT_BY_PK] = STORE_SQL_AGENT_BY_PK,
    [ST_AGENT_BY_FPR] = STORE_SQL_AGENT_BY_FPR,
    [ST_AGENT_ALL] = STORE_SQL_AGENT_ALL,
    [ST_AGENT_INSERT] = STORE_SQL_AGENT_INSERT,
    [ST_AGENT_RELABEL] = STORE_SQL_AGENT_RELABEL,
    [ST_AGENT_REVOKE] = STORE_SQL_AGENT_REVOKE,
    [ST_AGENT_ADVANCE] = STORE_SQL_AGENT_ADVANCE,
    [ST_AGENT_SEEN] = STORE_SQL_AGENT_SEEN,
    [ST_UNITS_CLEAR] = STORE_SQL_UNITS_CLEAR,
    [ST_UNITS_ADD] = STORE_SQL_UNITS_ADD,
    [ST_UNITS_OF] = STORE_SQL_UNITS_OF,
    [ST_BATCH_INSERT] = STORE_SQL_BATCH_INSERT,
    [ST_LOG_GET] = STORE_SQL_LOG_GET,
    [ST_LOG_INSERT] = STORE_SQL_LOG_INSERT,
    [ST_MERGE] = STORE_SQL_MERGE,
    [ST_REJECT_INSERT] = STORE_SQL_REJECT_INSERT,
    [ST_SAVEPOINT] = STORE_SQL_SAVEPOINT,
    [ST_RELEASE] = STORE_SQL_RELEASE,
    [ST_ROLLBACK_TO] = STORE_SQL_ROLLBACK_TO,
    [ST_AGENT_BY_CURVE] = STORE_SQL_AGENT_BY_CURVE,
    [ST_AGENT_REPLACED] = STORE_SQL_AGENT_REPLACED,
    [ST_AGENT_SUCCESSOR] = STORE_SQL_AGENT_SUCCESSOR,
    [ST_REJECT_RAW_COUNT] = STORE_SQL_REJECT_RAW_COUNT,
    [ST_REJECT_PRUNE] = STORE_SQL_REJECT_PRUNE,
    [ST_LOG_EFF] = STORE_SQL_LOG_EFF,
    [ST_KNOCK_UPSERT] = STORE_SQL_KNOCK_UPSERT,
    [ST_KNOCK_PRUNE] = STORE_SQL_KNOCK_PRUNE,
    [ST_AGENT_SEEN_MAX] = STORE_SQL_AGENT_SEEN_MAX,
    [ST_STATUS_ADD] = STORE_SQL_STATUS_ADD,
    [ST_METADATA_LATEST] = STORE_SQL_METADATA_LATEST,
};

/* PostgreSQL texts where the SQLite one cannot serve (store_sql.h
 * *_PG); NULL: the same text. */
static const char *const sql_pg[ST__COUNT] = {
    [ST_AGENT_INSERT] = STORE_SQL_AGENT_INSERT_PG,
    [ST_BATCH_INSERT] = STORE_SQL_BATCH_INSERT_PG,
};

/* Text a peer's bytes may have shaped (a reason quoting a field, an
 * address): NULL unless valid UTF-8. PostgreSQL refuses text that is not
 * UTF-8, which would fail the whole group and make the agent retry for
 * ever; the kept signed batch or raw reject still holds the bytes. */
static const char *
text_or_null(const char *s)
{
    return s && cds_utf8_valid(s, strlen(s)) ? s : NULL;
}

struct store {
    cds_sql_t *sql;                     /* owned connection */
    char *where;                        /* as opened (may hold a password) */
    cds_sql_stmt_t *st[ST__COUNT];      /* prepared once, reset after use */
    int reject_raw_per_hour;            /* raw bytes kept per peer per hour */
    int64_t reject_retention_ms;        /* 0: rejects kept for ever */
    uint64_t reject_min_free;           /* bytes; below: digests only */
    int64_t free_checked_ms;            /* last statvfs, 0 never */
    bool free_low;                      /* ... found under the floor */
    int64_t pruned_ms;                  /* last opportunistic prune */
    int64_t knock_pruned_ms;            /* last prune of knock rows */
};

int
store_schema_version(void)
{
    return (int) (sizeof migrations / sizeof migrations[0]);
}

const char *const *
store_migrations(void)
{
    return migrations;
}

/* PostgreSQL: one migration, the whole schema at the current version,
 * assembled from the modules' parts in the order of migrations[]
 * (store_sql.h, health.c, commitmark.c). Built once (stores are opened
 * by several threads: the ZAP handler, HTTP), never freed. */
static char *pg_text;
static pthread_once_t pg_text_once = PTHREAD_ONCE_INIT;

static void
pg_schema_build(void)
{
    const char *const parts[] = { STORE_SQL_PG_SCHEMA, health_pg_schema,
                                  commitmark_pg_schema };
    size_t n = 1;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i]) {       /* a module without its PostgreSQL part */
            cds_log(CDS_LOG_ERROR, "store_open_failed", "message=%s",
                    cds_logq("this build has no complete PostgreSQL schema"));
            return;
        }
        n += strlen(parts[i]);
    }
    char *t = malloc(n);
    if (!t)
        return;
    t[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        strcat(t, parts[i]);
    pg_text = t;
}

static const char *
pg_schema(void)
{
    pthread_once(&pg_text_once, pg_schema_build);
    return pg_text;
}

/* Open the connection with the schema of its backend. */
static cds_sql_t *
open_sql(const char *where, int flags, int *err)
{
    /* PostgreSQL 1: the schema of SQLite version 10 (pg_schema); then
     * pg_migrations[]. */
    const char *pg[N_PG] = { NULL };
    cds_sql_schema_t schema = {
        migrations, (int) (sizeof migrations / sizeof migrations[0]),
        pg, 0 };
    if (cds_sql_is_server(where)) {
        if (!(pg[0] = pg_schema())) {
            *err = CDS_EUSAGE;
            return NULL;
        }
        for (size_t i = 1; i < N_PG; i++)
            pg[i] = pg_migrations[i - 1];
        schema.n_pg = (int) N_PG;
    }
    return cds_sql_open(where, &schema, flags, err);
}

/* Prepare every statement (CDS_SQL_PERSIST: prepared once per
 * connection, also on the server). A read-only connection prepares the
 * writes too: every statement is valid SQL on a migrated database. */
static int
prepare_all(store_t *self)
{
    for (int i = 0; i < ST__COUNT; i++) {
        self->st[i] = cds_sql_prepare2(self->sql, sql_text[i], sql_pg[i],
                                       CDS_SQL_PERSIST);
        if (!self->st[i])
            return CDS_ERROR;
    }
    return CDS_OK;
}

store_t *
store_open(const char *where, int flags, int *err)
{
    store_t *self = calloc(1, sizeof *self);
    if (!self || !(self->where = strdup(where ? where : ""))) {
        free(self);
        *err = CDS_ENOMEM;
        return NULL;
    }
    self->reject_raw_per_hour = STORE_REJECT_RAW_PER_HOUR;
    self->reject_retention_ms =
        (int64_t) STORE_REJECT_RETENTION_DAYS * 86400000;
    self->reject_min_free = (uint64_t) STORE_REJECT_MIN_FREE_MB << 20;
    self->sql = open_sql(where, flags, err);
    if (!self->sql) {
        store_destroy(&self);
        return NULL;
    }
    /* Up to 64 MiB of page cache instead of SQLite's 2 MiB: once the
     * indexes outgrow the cache every merge re-reads their pages from the
     * WAL (pread was 13 % of the writer thread's time in a 1,000,000-update
     * catch-up, docs/PERFORMANCE.md). Pages are only taken as used.
     * PostgreSQL: the server's shared_buffers are the operator's. */
    if ((cds_sql_backend(self->sql) == CDS_SQL_SQLITE
         && cds_sql_exec(self->sql, STORE_SQL_CACHE_SIZE) != CDS_OK)
        || prepare_all(self) != CDS_OK) {
        *err = CDS_ERROR;
        store_destroy(&self);
        return NULL;
    }
    return self;
}

void
store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    for (int i = 0; i < ST__COUNT; i++)
        cds_sql_finalize(&self->st[i]);
    cds_sql_close(&self->sql);
    free(self->where);
    free(self);
    *self_p = NULL;
}

int
store_writer_lock(store_t *self, char *holder, size_t len)
{
    if (len)
        holder[0] = '\0';
    cds_pg_t *pg = cds_sql_pg(self->sql);
    return pg ? cds_pg_writer_lock(pg, holder, len) : CDS_OK;
}

bool
store_writer_lost(store_t *self)
{
    cds_pg_t *pg = cds_sql_pg(self->sql);
    return pg && cds_pg_writer_lost(pg);
}

cds_db_t *
store_db(store_t *self)
{
    return cds_sql_sqlite(self->sql);
}

cds_sql_t *
store_sql(store_t *self)
{
    return self->sql;
}

int
store_quick_check(store_t *self)
{
    cds_db_t *db = cds_sql_sqlite(self->sql);
    return db ? cds_db_quick_check(db) : CDS_OK;
}

cds_ckpt_t *
store_ckpt_new(store_t *self, int pages, int max_pages)
{
    cds_db_t *db = cds_sql_sqlite(self->sql);
    return db ? cds_ckpt_new(db, pages, max_pages) : NULL;
}

const char *
store_where(store_t *self)
{
    return cds_sql_where(self->sql);
}

const char *
store_location(store_t *self)
{
    return self->where;
}

const char *
store_display(const char *where, char *buf, size_t len)
{
    char *r = where && cds_sql_is_server(where) ? cds_pg_redact(where) : NULL;
    snprintf(buf, len, "%s",
             r ? r : where && !cds_sql_is_server(where)
                         ? where : "(PostgreSQL server)");
    free(r);
    return buf;
}

/* Step a statement that returns no row (or rows nobody reads); reset it.
 * CDS_OK or the step's cds_err code (logged with the SQL). */
static int
run(cds_sql_stmt_t *st)
{
    int rc = cds_sql_run(st);
    cds_sql_reset(st);
    return rc;
}

/* run a write whose answer nobody reads; on PostgreSQL it is pipelined
 * inside the group's transaction (cds_sql_run_deferred): one round trip
 * per message instead of one per statement (docs/POSTGRESQL.md "Round
 * trips"). A failure comes back from the next statement. */
static int
run_deferred(cds_sql_stmt_t *st)
{
    int rc = cds_sql_run_deferred(st);
    cds_sql_reset(st);
    return rc;
}

/* run, and the rows it changed into *changes. */
static int
run_changes(cds_sql_stmt_t *st, int64_t *changes)
{
    int rc = cds_sql_run(st);
    *changes = rc == CDS_OK ? cds_sql_changes(st) : 0;
    cds_sql_reset(st);
    return rc;
}

/* run an INSERT and give the id of the row it made: the RETURNING row on
 * PostgreSQL (the _PG texts), SQLite's last insert rowid otherwise. */
static int
run_insert(store_t *self, cds_sql_stmt_t *st, int64_t *id)
{
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW) {
        *id = cds_sql_col_int64(st, 0);
        rc = cds_sql_run(st);
    } else if (rc == CDS_SQL_DONE) {
        cds_db_t *db = cds_sql_sqlite(self->sql);
        *id = db ? sqlite3_last_insert_rowid(cds_db_handle(db)) : 0;
        rc = db ? CDS_OK : CDS_ERROR;   /* PG: RETURNING gave no row */
    }
    cds_sql_reset(st);
    return rc;
}

int
store_savepoint(store_t *self)
{
    return run(self->st[ST_SAVEPOINT]);
}

int
store_release(store_t *self)
{
    return run(self->st[ST_RELEASE]);
}

int
store_rollback_to(store_t *self)
{
    int code = run(self->st[ST_ROLLBACK_TO]);
    if (code == CDS_OK)
        code = store_release(self);
    return code;
}

int
store_orgunits_load(store_t *self, const cds_orgunits_t *ous)
{
    cds_sql_stmt_t *st = self->st[ST_ORGUNIT_UPSERT];
    for (size_t i = 0; i < cds_orgunits_size(ous); i++) {
        const cds_orgunit_t *o = cds_orgunits_at(ous, i);
        cds_sql_bind_text(st, ":code", o->code);
        cds_sql_bind_text(st, ":name", o->name);
        cds_sql_bind_text(st, ":parent", o->parent);
        if (o->valid_from != INT32_MIN)
            cds_sql_bind_int64(st, ":valid_from", o->valid_from);
        if (o->valid_to != INT32_MAX)
            cds_sql_bind_int64(st, ":valid_to", o->valid_to);
        int code = run(st);
        if (code != CDS_OK)
            return code;
    }
    return CDS_OK;
}

/* Step a statement expected to return at most one row: 1 row, 0 none,
 * negative cds_err on error. Resets it. */
static int
exists(cds_sql_stmt_t *st)
{
    int rc = cds_sql_step(st);
    int result = rc == CDS_SQL_ROW ? 1 : 0;
    if (rc != CDS_SQL_ROW && rc != CDS_SQL_DONE)
        result = -rc;
    cds_sql_reset(st);
    return result;
}

int
store_orgunit_exists(store_t *self, const char *code)
{
    cds_sql_stmt_t *st = self->st[ST_ORGUNIT_EXISTS];
    cds_sql_bind_text(st, ":code", code);
    return exists(st);
}

int
store_orgunit_span(store_t *self, const char *code, int32_t *from,
                   int32_t *to, char *name, size_t namelen)
{
    cds_sql_stmt_t *st = self->st[ST_ORGUNIT_EXISTS];
    cds_sql_bind_text(st, ":code", code);
    int rc = cds_sql_step(st);
    int result = rc == CDS_SQL_ROW ? 1 : rc == CDS_SQL_DONE ? 0 : -rc;
    if (result == 1) {
        *from = cds_sql_col_type(st, 1) == CDS_SQL_NULL
            ? INT32_MIN : (int32_t) cds_sql_col_int64(st, 1);
        *to = cds_sql_col_type(st, 2) == CDS_SQL_NULL
            ? INT32_MAX : (int32_t) cds_sql_col_int64(st, 2);
        const char *nm = cds_sql_col_text(st, 3);
        if (name)
            snprintf(name, namelen, "%s", nm ? nm : "");
    }
    cds_sql_reset(st);
    return result;
}

int
store_agent_allowed(store_t *self, int64_t agent_id, const char *org_unit)
{
    cds_sql_stmt_t *st = self->st[ST_ALLOWED];
    cds_sql_bind_text(st, ":ou", org_unit);
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    return exists(st);
}

/* Copy a blob column of exactly n bytes into out; zeros otherwise. */
static void
column_blob(cds_sql_stmt_t *st, int col, uint8_t *out, size_t n)
{
    const void *p = cds_sql_col_blob(st, col);
    size_t len = cds_sql_col_bytes(st, col);
    if (p && len == n)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

static void
column_text(cds_sql_stmt_t *st, int col, char *out, size_t len)
{
    const char *s = cds_sql_col_text(st, col);
    snprintf(out, len, "%s", s ? s : "");
}

/* Fill out from a row of STORE_SQL_AGENT_COLS. */
static void
agent_from_row(cds_sql_stmt_t *st, store_agent_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = cds_sql_col_int64(st, 0);
    column_blob(st, 1, out->sign_pk, CDS_PK_BYTES);
    column_blob(st, 2, out->curve_pk, CDS_PK_BYTES);
    column_text(st, 3, out->pubid, sizeof out->pubid);
    column_text(st, 4, out->fpr, sizeof out->fpr);
    column_text(st, 5, out->label, sizeof out->label);
    out->enrolled_at_ms = cds_sql_col_int64(st, 6);
    out->revoked_at_ms = cds_sql_col_int64(st, 7);
    out->applied_seq = (uint64_t) cds_sql_col_int64(st, 8);
    column_blob(st, 9, out->applied_head, CDS_HASH_BYTES);
    out->last_seen_ms = cds_sql_col_int64(st, 10);
    out->last_eff_hlc = (uint64_t) cds_sql_col_int64(st, 11);
}

static int
agent_one(store_t *self, cds_sql_stmt_t *st, store_agent_t *out)
{
    int rc = cds_sql_step(st);
    int code = CDS_OK;
    if (rc == CDS_SQL_ROW)
        agent_from_row(st, out);
    else if (rc == CDS_SQL_DONE)
        code = CDS_ENOTFOUND;
    else
        code = rc;
    cds_sql_reset(st);
    return code;
}

int
store_agent_find(store_t *self, const uint8_t pk[CDS_PK_BYTES],
                 store_agent_t *out)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_BY_PK];
    cds_sql_bind_blob(st, ":pk", pk, CDS_PK_BYTES);
    return agent_one(self, st, out);
}

int
store_agent_find_fpr(store_t *self, const char *fpr, store_agent_t *out)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_BY_FPR];
    cds_sql_bind_text(st, ":fpr", fpr);
    return agent_one(self, st, out);
}

int
store_agent_replaced(store_t *self, int64_t old_id, int64_t new_id)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_REPLACED];
    cds_sql_bind_int64(st, ":old", old_id);
    cds_sql_bind_int64(st, ":new", new_id);
    return run(st);
}

int
store_agent_successor(store_t *self, int64_t old_id, char *fpr, size_t len)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_SUCCESSOR];
    cds_sql_bind_int64(st, ":old", old_id);
    int rc = cds_sql_step(st);
    int code = CDS_OK;
    fpr[0] = '\0';
    if (rc == CDS_SQL_ROW) {
        const char *t = cds_sql_col_text(st, 0);
        snprintf(fpr, len, "%s", t ? t : "");
    } else if (rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_reset(st);
    return code;
}

int
store_agent_find_curve(store_t *self, const uint8_t curve_pk[CDS_PK_BYTES],
                       store_agent_t *out)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_BY_CURVE];
    cds_sql_bind_blob(st, ":curve_pk", curve_pk, CDS_PK_BYTES);
    return agent_one(self, st, out);
}

static int
agent_set_units(store_t *self, int64_t id, const char *const *units,
                size_t n)
{
    cds_sql_stmt_t *st = self->st[ST_UNITS_CLEAR];
    cds_sql_bind_int64(st, ":id", id);
    int code = run(st);
    for (size_t i = 0; code == CDS_OK && i < n; i++) {
        st = self->st[ST_UNITS_ADD];
        cds_sql_bind_int64(st, ":id", id);
        cds_sql_bind_text(st, ":ou", units[i]);
        code = run(st);
    }
    return code;
}

int
store_agent_enroll(store_t *self, const uint8_t sign_pk[CDS_PK_BYTES],
                   const uint8_t curve_pk[CDS_PK_BYTES], const char *label,
                   const char *const *units, size_t n, int64_t now_ms,
                   int64_t *id)
{
    char pubid[CDS_PUBID_LEN], fpr[CDS_FPR_LEN];
    cds_pubid_format(sign_pk, curve_pk, pubid, sizeof pubid);
    cds_fingerprint(sign_pk, fpr);
    store_agent_t old;
    int code = store_agent_find(self, sign_pk, &old);
    cds_sql_stmt_t *st;
    if (code == CDS_OK) {
        st = self->st[ST_AGENT_RELABEL];
        cds_sql_bind_int64(st, ":id", old.id);
        *id = old.id;
    } else if (code == CDS_ENOTFOUND) {
        st = self->st[ST_AGENT_INSERT];
        cds_sql_bind_blob(st, ":pk", sign_pk, CDS_PK_BYTES);
        cds_sql_bind_text(st, ":fpr", fpr);
        cds_sql_bind_int64(st, ":now", now_ms);
    } else
        return code;
    cds_sql_bind_blob(st, ":curve_pk", curve_pk, CDS_PK_BYTES);
    cds_sql_bind_text(st, ":pubid", pubid);
    cds_sql_bind_text(st, ":label", label ? label : "");
    code = st == self->st[ST_AGENT_INSERT] ? run_insert(self, st, id)
                                           : run(st);
    if (code != CDS_OK)
        return code;
    return agent_set_units(self, *id, units, n);
}

int
store_agent_revoke(store_t *self, int64_t id, int64_t now_ms)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_REVOKE];
    cds_sql_bind_int64(st, ":id", id);
    cds_sql_bind_int64(st, ":now", now_ms);
    return run(st);
}

int
store_agent_advance(store_t *self, int64_t id, uint64_t seq,
                    const uint8_t head[CDS_HASH_BYTES])
{
    return store_agent_advance_eff(self, id, seq, head, 0);
}

int
store_agent_advance_eff(store_t *self, int64_t id, uint64_t seq,
                        const uint8_t head[CDS_HASH_BYTES], uint64_t last_eff)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_ADVANCE];
    if (last_eff)
        cds_sql_bind_int64(st, ":eff", (int64_t) last_eff);
    cds_sql_bind_int64(st, ":id", id);
    cds_sql_bind_int64(st, ":seq", (int64_t) seq);
    cds_sql_bind_blob(st, ":head", head, CDS_HASH_BYTES);
    return run(st);
}

int
store_agent_seen(store_t *self, int64_t id, int64_t now_ms)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_SEEN];
    cds_sql_bind_int64(st, ":id", id);
    cds_sql_bind_int64(st, ":now", now_ms);
    return run(st);
}

int
store_agent_seen_max(store_t *self, int64_t id, int64_t now_ms)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_SEEN_MAX];
    cds_sql_bind_int64(st, ":id", id);
    cds_sql_bind_int64(st, ":now", now_ms);
    return run(st);
}

int
store_agents_each(store_t *self, store_agent_fn *fn, void *arg)
{
    cds_sql_stmt_t *st = self->st[ST_AGENT_ALL];
    int rc, code = CDS_OK;
    /* Rows are copied out before fn runs; fn may use other statements
     * (store_agent_units) but not this one. */
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        store_agent_t a;
        agent_from_row(st, &a);
        if (fn(&a, arg) != 0)
            break;
    }
    if (rc != CDS_SQL_ROW && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_reset(st);
    return code;
}

int
store_agent_units(store_t *self, int64_t id, char *buf, size_t len)
{
    cds_sql_stmt_t *st = self->st[ST_UNITS_OF];
    size_t used = 0;
    int rc, code = CDS_OK;
    buf[0] = '\0';
    cds_sql_bind_int64(st, ":id", id);
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        const char *ou = cds_sql_col_text(st, 0);
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
                         ou ? ou : "");
        if (w < 0 || (size_t) w >= len - used) {
            code = CDS_ETOOBIG;
            break;
        }
        used += (size_t) w;
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_reset(st);
    return code;
}

int
store_batch_add(store_t *self, int64_t agent_id, uint64_t first,
                uint64_t last, int64_t now_ms, const uint8_t *envelope,
                size_t len, int64_t *batch_id)
{
    return store_batch_add_shift(self, agent_id, first, last, now_ms, 0,
                                 envelope, len, batch_id);
}

int
store_batch_add_shift(store_t *self, int64_t agent_id, uint64_t first,
                      uint64_t last, int64_t now_ms, int64_t shift_ms,
                      const uint8_t *envelope, size_t len, int64_t *batch_id)
{
    cds_sql_stmt_t *st = self->st[ST_BATCH_INSERT];
    cds_sql_bind_int64(st, ":shift", shift_ms);
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":first", (int64_t) first);
    cds_sql_bind_int64(st, ":last", (int64_t) last);
    cds_sql_bind_int64(st, ":now", now_ms);
    /* No copy of up to 4 MiB: run_insert is done with it before we
     * return. */
    cds_sql_bind_blob_ref(st, ":envelope", envelope, len);
    return run_insert(self, st, batch_id);
}

int
store_log_get(store_t *self, int64_t agent_id, uint64_t seq,
              uint8_t hash[CDS_HASH_BYTES], uint8_t head[CDS_HASH_BYTES],
              int *status, char *field, size_t field_len, char *message,
              size_t message_len)
{
    cds_sql_stmt_t *st = self->st[ST_LOG_GET];
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) seq);
    int rc = cds_sql_step(st);
    int code = CDS_OK;
    if (rc == CDS_SQL_ROW) {
        column_blob(st, 0, hash, CDS_HASH_BYTES);
        column_blob(st, 1, head, CDS_HASH_BYTES);
        *status = cds_sql_col_int(st, 2);
        if (field)
            column_text(st, 3, field, field_len);
        if (message)
            column_text(st, 4, message, message_len);
    } else if (rc == CDS_SQL_DONE)
        code = CDS_ENOTFOUND;
    else
        code = rc;
    cds_sql_reset(st);
    return code;
}

/* Bind the update fields shared by update_log and datavalue. Without
 * copies (cds_bind_*_ref): every caller steps and resets the statement
 * (run) before it returns, while u is still alive. */
static void
bind_update(cds_sql_stmt_t *st, const cds_update_t *u)
{
    cds_sql_bind_text_ref(st, ":org_unit", u->org_unit);
    cds_sql_bind_text_ref(st, ":indicator", u->indicator);
    cds_sql_bind_text_ref(st, ":period", u->period);
    cds_sql_bind_text_ref(st, ":disagg", u->disagg);
    cds_sql_bind_text_ref(st, ":value", u->deleted ? "" : (u->value ? u->value : ""));
    cds_sql_bind_int64(st, ":deleted", u->deleted);
    cds_sql_bind_text_ref(st, ":comment", u->comment);
    cds_sql_bind_text_ref(st, ":stored_by", u->stored_by);
    cds_sql_bind_int64(st, ":followup", u->followup);
    cds_sql_bind_int64(st, ":hlc", (int64_t) u->hlc);
    const char *names[] = {":created_ms", ":updated_ms"};
    uint64_t times[] = {u->created_ms, u->updated_ms};
    for (int i = 0; i < 2; i++)               /* NULL: not given */
        if (times[i])
            cds_sql_bind_int64(st, names[i], (int64_t) times[i]);
        else
            cds_sql_bind_null(st, names[i]);
}

int
store_log_add(store_t *self, int64_t agent_id, int64_t batch_id,
              const cds_update_t *u, const uint8_t hash[CDS_HASH_BYTES],
              const uint8_t head[CDS_HASH_BYTES], int status,
              const char *field, const char *message, int64_t now_ms)
{
    return store_log_add_eff(self, agent_id, batch_id, u, u->hlc, hash,
                             head, status, field, message, now_ms);
}

int
store_log_add_eff(store_t *self, int64_t agent_id, int64_t batch_id,
                  const cds_update_t *u, uint64_t eff_hlc,
                  const uint8_t hash[CDS_HASH_BYTES],
                  const uint8_t head[CDS_HASH_BYTES], int status,
                  const char *field, const char *message, int64_t now_ms)
{
    return store_log_add_ver(self, agent_id, batch_id, u, eff_hlc, hash,
                             head, status, field, message, now_ms, 0);
}

int
store_log_add_ver(store_t *self, int64_t agent_id, int64_t batch_id,
                  const cds_update_t *u, uint64_t eff_hlc,
                  const uint8_t hash[CDS_HASH_BYTES],
                  const uint8_t head[CDS_HASH_BYTES], int status,
                  const char *field, const char *message, int64_t now_ms,
                  int64_t meta_version)
{
    cds_sql_stmt_t *st = self->st[ST_LOG_INSERT];
    if (meta_version > 0)
        cds_sql_bind_int64(st, ":meta", meta_version);
    else
        cds_sql_bind_null(st, ":meta");
    cds_sql_bind_int64(st, ":eff", (int64_t) eff_hlc);
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) u->seq);
    cds_sql_bind_int64(st, ":batch_id", batch_id);
    cds_sql_bind_blob_ref(st, ":hash", hash, CDS_HASH_BYTES);
    cds_sql_bind_blob_ref(st, ":head", head, CDS_HASH_BYTES);
    cds_sql_bind_int64(st, ":status", status);
    cds_sql_bind_text_ref(st, ":field", text_or_null(field));
    cds_sql_bind_text_ref(st, ":message", text_or_null(message));
    cds_sql_bind_int64(st, ":now", now_ms);
    /* A refused update keeps no field over its bound or not valid UTF-8
     * (store.h): the kept batch already holds those bytes once. */
    cds_update_t kept = *u;
    if (status != 0)
        cds_update_drop_unkept(&kept);
    bind_update(st, &kept);
    return run_deferred(st);
}

int
store_log_eff(store_t *self, int64_t agent_id, uint64_t seq, uint64_t *eff)
{
    cds_sql_stmt_t *st = self->st[ST_LOG_EFF];
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) seq);
    int rc = cds_sql_step(st);
    int code = rc == CDS_SQL_ROW    ? CDS_OK
               : rc == CDS_SQL_DONE ? CDS_ENOTFOUND
                                   : rc;
    if (rc == CDS_SQL_ROW)
        *eff = (uint64_t) cds_sql_col_int64(st, 0);
    cds_sql_reset(st);
    return code;
}

int
store_log_retried(store_t *self, int64_t agent_id, uint64_t seq,
                  int64_t now_ms, bool *changed)
{
    cds_sql_stmt_t *st = self->st[ST_STATUS_ADD];
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":seq", (int64_t) seq);
    cds_sql_bind_int64(st, ":status", 0);
    cds_sql_bind_int64(st, ":now", now_ms);
    cds_sql_bind_text(st, ":note", "rejects retry");
    int64_t n = 0;
    int code = run_changes(st, &n);
    *changed = code == CDS_OK && n == 1;
    return code;
}

int
store_merge(store_t *self, const cds_update_t *u, double num,
            const uint8_t agent_pk[CDS_PK_BYTES], int64_t agent_id,
            int32_t period_start, int32_t period_end, int64_t now_ms)
{
    return store_merge_eff(self, u, u->hlc, num, agent_pk, agent_id,
                           period_start, period_end, now_ms);
}

int
store_merge_eff(store_t *self, const cds_update_t *u, uint64_t eff_hlc,
                double num, const uint8_t agent_pk[CDS_PK_BYTES],
                int64_t agent_id, int32_t period_start, int32_t period_end,
                int64_t now_ms)
{
    cds_sql_stmt_t *st = self->st[ST_MERGE];
    bind_update(st, u);
    cds_sql_bind_int64(st, ":eff", (int64_t) eff_hlc);
    if (u->deleted)
        cds_sql_bind_null(st, ":num");
    else
        cds_sql_bind_double(st, ":num", num);
    cds_sql_bind_blob_ref(st, ":agent_pk", agent_pk, CDS_PK_BYTES);
    cds_sql_bind_int64(st, ":agent_id", agent_id);
    cds_sql_bind_int64(st, ":agent_seq", (int64_t) u->seq);
    cds_sql_bind_int64(st, ":period_start", period_start);
    cds_sql_bind_int64(st, ":period_end", period_end);
    cds_sql_bind_int64(st, ":now", now_ms);
    return run_deferred(st);
}

void
store_set_reject_bounds(store_t *self, int raw_per_hour,
                        int64_t retention_ms, uint64_t min_free_bytes)
{
    self->reject_raw_per_hour = raw_per_hour < 0 ? 0 : raw_per_hour;
    self->reject_retention_ms = retention_ms < 0 ? 0 : retention_ms;
    self->reject_min_free = min_free_bytes;
    self->free_checked_ms = 0;
}

/* Free bytes on the database's file system under the floor? statvfs at
 * most once a second: a flood records thousands of rejects a second.
 * PostgreSQL: the server's disk is not ours to see; never low (its own
 * monitoring and the raw quota bound the table there). */
static bool
disk_low(store_t *self, int64_t now_ms)
{
    cds_db_t *db = cds_sql_sqlite(self->sql);
    if (self->reject_min_free == 0 || !db)
        return false;
    if (self->free_checked_ms && now_ms >= self->free_checked_ms
        && now_ms - self->free_checked_ms < 1000)
        return self->free_low;
    char dir[4096];
    const char *path = cds_db_path(db);
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int) (slash - path + (slash == path)),
                 path);
    struct statvfs vfs;
    self->free_checked_ms = now_ms;
    self->free_low = statvfs(dir, &vfs) == 0
                     && (uint64_t) vfs.f_bavail * vfs.f_frsize
                            < self->reject_min_free;
    return self->free_low;
}

/* Keep this reject's raw bytes? Under the peer's hourly quota and above
 * the free-space floor. 1 yes, 0 no, negative: -(database error). */
static int
keep_raw(store_t *self, int64_t now_ms, const uint8_t *agent_pk)
{
    if (self->reject_raw_per_hour <= 0 || disk_low(self, now_ms))
        return 0;
    cds_sql_stmt_t *st = self->st[ST_REJECT_RAW_COUNT];
    if (agent_pk)
        cds_sql_bind_blob_ref(st, ":agent_pk", agent_pk, CDS_PK_BYTES);
    cds_sql_bind_int64(st, ":since", now_ms - 3600000);
    cds_sql_bind_int64(st, ":n", self->reject_raw_per_hour);
    int rc = cds_sql_step(st);
    int keep = rc == CDS_SQL_ROW
                   ? cds_sql_col_int(st, 0) < self->reject_raw_per_hour
                   : -rc;
    cds_sql_reset(st);
    return keep;
}

int
store_reject_prune(store_t *self, int64_t cutoff_ms, int64_t *deleted)
{
    cds_sql_stmt_t *st = self->st[ST_REJECT_PRUNE];
    cds_sql_bind_int64(st, ":cutoff", cutoff_ms);
    cds_sql_bind_int64(st, ":n", STORE_PRUNE_STEP);
    int64_t n = 0;
    int code = run_changes(st, &n);
    if (deleted)
        *deleted = n;
    return code;
}

int
store_knock_prune(store_t *self, int64_t cutoff_ms, int64_t *deleted)
{
    cds_sql_stmt_t *st = self->st[ST_KNOCK_PRUNE];
    cds_sql_bind_int64(st, ":cutoff", cutoff_ms);
    int64_t n = 0;
    int code = run_changes(st, &n);
    if (deleted)
        *deleted = n;
    return code;
}

int
store_knock_add(store_t *self, const uint8_t *curve_pk, const char *address,
                int code, int64_t first_ms, int64_t last_ms, uint64_t count)
{
    cds_sql_stmt_t *st = self->st[ST_KNOCK_UPSERT];
    cds_sql_bind_blob(st, ":pk", curve_pk ? curve_pk : (const uint8_t *) "",
                  curve_pk ? CDS_PK_BYTES : 0);
    cds_sql_bind_text(st, ":address", text_or_null(address));
    cds_sql_bind_int64(st, ":code", code);
    cds_sql_bind_int64(st, ":first", first_ms);
    cds_sql_bind_int64(st, ":last", last_ms);
    cds_sql_bind_int64(st, ":count", (int64_t) count);
    int rc = run(st);
    /* The table holds one row per key and address, so pruning it whole
     * once a minute (with the reject retention) is cheap. */
    if (rc == CDS_OK && self->reject_retention_ms
        && last_ms - self->knock_pruned_ms >= 60000) {
        self->knock_pruned_ms = last_ms;
        rc = store_knock_prune(self, last_ms - self->reject_retention_ms,
                               NULL);
    }
    return rc;
}

/* Once a minute at most, in the transaction recording a reject: the
 * table only grows through rejects, so pruning when one arrives keeps it
 * bounded without a timer of its own. */
static int
prune_now_and_then(store_t *self, int64_t now_ms)
{
    if (self->reject_retention_ms == 0
        || (self->pruned_ms && now_ms >= self->pruned_ms
            && now_ms - self->pruned_ms < 60000))
        return CDS_OK;
    self->pruned_ms = now_ms;
    int64_t n = 0;
    int code = store_reject_prune(self, now_ms - self->reject_retention_ms,
                                  &n);
    if (code == CDS_OK && n > 0)
        cds_log(CDS_LOG_INFO, "rejects_pruned", "rows=%lld older_than_ms=%lld",
                (long long) n, (long long) self->reject_retention_ms);
    return code;
}

int
store_reject_add_kind(store_t *self, int64_t now_ms, const uint8_t *agent_pk,
                      int kind, int code, const char *field,
                      const char *message, uint64_t first, uint64_t last,
                      uint64_t seq, const uint8_t *raw, size_t raw_len)
{
    int rc = prune_now_and_then(self, now_ms);
    int keep = rc == CDS_OK && raw ? keep_raw(self, now_ms, agent_pk) : 0;
    if (keep < 0)
        return -keep;
    if (rc != CDS_OK)
        return rc;
    cds_sql_stmt_t *st = self->st[ST_REJECT_INSERT];
    cds_sql_bind_int64(st, ":now", now_ms);
    if (agent_pk)
        cds_sql_bind_blob(st, ":agent_pk", agent_pk, CDS_PK_BYTES);
    cds_sql_bind_int64(st, ":code", code);
    cds_sql_bind_text(st, ":field", text_or_null(field));
    cds_sql_bind_text(st, ":message", text_or_null(message));
    if (first)
        cds_sql_bind_int64(st, ":first", (int64_t) first);
    if (last)
        cds_sql_bind_int64(st, ":last", (int64_t) last);
    if (seq)
        cds_sql_bind_int64(st, ":seq", (int64_t) seq);
    if (kind)
        cds_sql_bind_int64(st, ":kind", kind);
    if (raw) {
        /* The digest of every byte received, kept or not: the operator can
         * tell one repeated message from many different ones. */
        uint8_t digest[CDS_HASH_BYTES];
        crypto_generichash(digest, sizeof digest, raw, raw_len, NULL, 0);
        cds_sql_bind_blob(st, ":raw_digest", digest, sizeof digest);
        cds_sql_bind_int64(st, ":raw_size", (int64_t) raw_len);
        /* A message over the size bound is kept only in part: enough to
         * see what it was, not enough for a flood to fill the disk. */
        if (keep)
            cds_sql_bind_blob_ref(st, ":raw", raw,
                              (raw_len > CDS_MAX_MSG_BYTES
                                         ? CDS_REJECT_KEEP_BYTES : raw_len));
    }
    return run(st);
}

int
store_reject_add(store_t *self, int64_t now_ms, const uint8_t *agent_pk,
                 int code, const char *field, const char *message,
                 uint64_t first, uint64_t last, uint64_t seq,
                 const uint8_t *raw, size_t raw_len)
{
    return store_reject_add_kind(self, now_ms, agent_pk, 0, code, field,
                                 message, first, last, seq, raw, raw_len);
}

/* ---- reading the core tables (store.h "reading the core tables") -------- */
/* Included here, not at the top, so this block stays one piece (issue 14:
 * the rest of this file is being moved to cds_sql at the same time). */
#include "cds_util.h"
#include <ctype.h>
#include <strings.h>

#define READ_STEP_EVERY 10000          /* SQLite VM steps between checks */

/* Words that change data or schema, or take locks: never in a read. */
static const char *const write_words[] = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "TRUNCATE",
    "CREATE", "DROP", "ALTER", "GRANT", "REVOKE", "COPY", "LOCK", "CALL",
    "PRAGMA", "ATTACH", "DETACH", "VACUUM", "REINDEX", "ANALYZE", "SET",
};

/* Past a quoted string, identifier or comment starting at s (s itself
 * when none starts there). */
static const char *
read_skip_quoted(const char *s)
{
    if (*s == '\'' || *s == '"') {
        char q = *s++;
        while (*s && !(*s == q && s[1] != q))
            s += *s == q ? 2 : 1;
        return *s ? s + 1 : s;
    }
    if (s[0] == '-' && s[1] == '-')
        return s + strcspn(s, "\n");
    if (s[0] == '/' && s[1] == '*') {
        const char *e = strstr(s + 2, "*/");
        return e ? e + 2 : s + strlen(s);
    }
    return s;
}

/* NULL when sql is one reading statement (store_read), else what is
 * wrong with it (a static string; word receives the offending word). */
static const char *
read_text_problem(const char *sql, char *word, size_t len)
{
    bool first = true;
    for (const char *s = sql; *s;) {
        const char *q = read_skip_quoted(s);
        if (q != s || isspace((unsigned char) *s) || *s == '(' || *s == ')') {
            s = q != s ? q : s + 1;
            continue;
        }
        if (*s == ';')
            return "more than one statement";
        size_t n = 0;
        while (isalnum((unsigned char) s[n]) || s[n] == '_')
            n++;
        snprintf(word, len, "%.*s", (int) (n ? n : 1), s);
        if (first && strcasecmp(word, "SELECT") && strcasecmp(word, "WITH")
            && strcasecmp(word, "VALUES"))
            return "not a SELECT";
        first = false;
        for (size_t i = 0; n && i < sizeof write_words / sizeof *write_words;
             i++)
            if (!strcasecmp(word, write_words[i]))
                return "a data-modifying word";
        s += n ? n : 1;
    }
    return first ? "empty" : NULL;
}

/* SQLite's own verdict on sql (prepared, asked, dropped). */
static bool
read_lite_readonly(store_t *self, const char *sql)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *h = cds_db_handle(cds_sql_sqlite(self->sql));
    bool ro = sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && st
              && sqlite3_stmt_readonly(st);
    sqlite3_finalize(st);
    return ro;
}

static cds_sql_stmt_t *
read_refused(const char *sql, const char *why, const char *word)
{
    cds_log(CDS_LOG_ERROR, "store_read_refused", "why=%s word=%s sql=%s",
            cds_logq(why), cds_logq(word), cds_logq(sql));
    return NULL;
}

cds_sql_stmt_t *
store_read(store_t *self, const char *sql, const char *pg_sql)
{
    char word[32] = "";
    const char *why = read_text_problem(sql, word, sizeof word);
    if (why)
        return read_refused(sql, why, word);
    /* Both texts, whichever backend runs: a PG-only mistake shows up in
     * the SQLite tests too. */
    if (pg_sql && (why = read_text_problem(pg_sql, word, sizeof word)))
        return read_refused(pg_sql, why, word);
    if (cds_sql_backend(self->sql) == CDS_SQL_SQLITE
        && !read_lite_readonly(self, sql)) {
        cds_sql_stmt_t *st = cds_sql_prepare(self->sql, sql, 0);
        if (!st)
            return NULL;               /* does not prepare: logged */
        cds_sql_finalize(&st);
        return read_refused(sql, "writes (sqlite3_stmt_readonly)", "");
    }
    return cds_sql_prepare2(self->sql, sql, pg_sql, 0);
}

int
store_read_begin(store_t *self)
{
    return cds_sql_begin_read(self->sql);
}

void
store_read_end(store_t *self)
{
    (void) cds_sql_rollback(self->sql);   /* nothing to keep: a read */
}

static int
read_progress(void *p)
{
    store_limit_t *lim = p;
    if (--lim->left_ > 0)
        return 0;
    lim->exceeded = true;
    return 1;                          /* interrupt the statement */
}

int
store_read_limit(store_t *self, store_limit_t *lim)
{
    lim->exceeded = false;
    lim->start_ms_ = (int64_t) cds_mono_ms();
    if (cds_sql_backend(self->sql) == CDS_SQL_SQLITE) {
        lim->left_ = lim->steps / READ_STEP_EVERY;
        sqlite3_progress_handler(cds_db_handle(cds_sql_sqlite(self->sql)),
                                 READ_STEP_EVERY, read_progress, lim);
        return CDS_OK;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %lld",
             (long long) (lim->ms > 0 ? lim->ms : 1));
    return cds_sql_exec(self->sql, sql);
}

void
store_read_unlimit(store_t *self, store_limit_t *lim)
{
    if (cds_sql_backend(self->sql) == CDS_SQL_SQLITE) {
        sqlite3_progress_handler(cds_db_handle(cds_sql_sqlite(self->sql)), 0,
                                 NULL, NULL);
        return;
    }
    if ((int64_t) cds_mono_ms() - lim->start_ms_ >= lim->ms)
        lim->exceeded = true;
    (void) cds_sql_exec(self->sql, "RESET statement_timeout");
}

/* ---- Whole-store copy (`migrate-store`, store.h) -------------------------
 * A block of its own (merges apart from the rest of store): every statement
 * here is built from the names of the table being copied, checked to be
 * plain identifiers, so its SQL cannot be a constant of store_sql.h. It
 * runs only through cds_sql, on either backend. */

#include "cds_failpoint.h"   /* here, not above: the block merges alone */

#define COPY_MAX_COLS 256              /* columns of one copied table */

static bool
copy_ident_ok(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z')
                || (*s >= 'a' && *s <= 'z')))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z')
              || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* 1 if every name of t is an identifier and late/key make sense. */
static bool
copy_table_ok(const store_copy_table_t *t)
{
    if (!copy_ident_ok(t->name) || t->n_cols < 1 || t->n_cols > COPY_MAX_COLS
        || t->late >= t->n_cols
        || (t->late >= 0 && (t->key < 0 || t->key >= t->n_cols
                             || t->key == t->late)))
        return false;
    for (int i = 0; i < t->n_cols; i++)
        if (!copy_ident_ok(t->cols[i]))
            return false;
    return true;
}

/* INSERT INTO "t" ("a", "b") VALUES (:c0, :c1): malloc'd, NULL on ENOMEM. */
static char *
copy_insert_sql(const store_copy_table_t *t)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f)
        return NULL;
    fprintf(f, "INSERT INTO \"%s\" (", t->name);
    for (int i = 0; i < t->n_cols; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", t->cols[i]);
    fputs(") VALUES (", f);
    for (int i = 0; i < t->n_cols; i++)
        fprintf(f, "%s:c%d", i ? ", " : "", i);
    fputc(')', f);
    if (fclose(f) != 0) {
        free(sql);
        return NULL;
    }
    return sql;
}

/* Bind column i of src's row as :c<i> of dst, with its own type; returns
 * the payload bytes of text and blobs. An empty blob stays an empty blob. */
static uint64_t
copy_bind(cds_sql_stmt_t *dst, cds_sql_stmt_t *src, int i, bool null)
{
    /* One fixed address per name: cds_db caches parameter indexes by the
     * name's pointer (as for literals). */
    static char names[COPY_MAX_COLS][16];
    const char *name = names[i];
    snprintf(names[i], sizeof names[i], ":c%d", i);
    int type = null ? CDS_SQL_NULL : cds_sql_col_type(src, i);
    char num[32];
    /* PostgreSQL: numbers as untyped text, which the server reads as the
     * column's type (bigint, integer, boolean from 0/1, double precision:
     * %.17g reads back the same double); a typed bigint would not go into
     * a boolean column. SQLite: typed, as stored. */
    if ((type == CDS_SQL_INTEGER || type == CDS_SQL_FLOAT)
        && cds_sql_backend(cds_sql_conn(dst)) == CDS_SQL_POSTGRESQL) {
        if (type == CDS_SQL_INTEGER)
            snprintf(num, sizeof num, "%lld",
                     (long long) cds_sql_col_int64(src, i));
        else
            snprintf(num, sizeof num, "%.17g", cds_sql_col_double(src, i));
        cds_sql_bind_text(dst, name, num);
    } else if (type == CDS_SQL_INTEGER)
        cds_sql_bind_int64(dst, name, cds_sql_col_int64(src, i));
    else if (type == CDS_SQL_FLOAT)
        cds_sql_bind_double(dst, name, cds_sql_col_double(src, i));
    else if (type == CDS_SQL_TEXT) {
        const char *s = cds_sql_col_text(src, i);
        cds_sql_bind_text(dst, name, s ? s : "");
        return s ? strlen(s) : 0;
    } else if (type == CDS_SQL_BLOB) {
        const void *p = cds_sql_col_blob(src, i);
        size_t n = cds_sql_col_bytes(src, i);
        cds_sql_bind_blob(dst, name, p ? p : "", n);
        return n;
    } else
        cds_sql_bind_null(dst, name);
    return 0;
}

/* The self-referencing values held back (store_copy_table_t.late). */
typedef struct {
    int64_t (*kv)[2];                 /* key, value */
    size_t n, cap;
} copy_late_t;

/* Insert src's current row; hold its late value back. */
static int
copy_row(cds_sql_stmt_t *ins, cds_sql_stmt_t *src,
         const store_copy_table_t *t, copy_late_t *late, uint64_t *bytes)
{
    for (int i = 0; i < t->n_cols; i++)
        *bytes += copy_bind(ins, src, i, i == t->late);
    if (t->late >= 0 && cds_sql_col_type(src, t->late) != CDS_SQL_NULL) {
        if (late->n == late->cap) {
            size_t cap = late->cap ? late->cap * 2 : 64;
            void *p = realloc(late->kv, cap * sizeof *late->kv);
            if (!p)
                return CDS_ENOMEM;
            late->kv = p;
            late->cap = cap;
        }
        late->kv[late->n][0] = cds_sql_col_int64(src, t->key);
        late->kv[late->n++][1] = cds_sql_col_int64(src, t->late);
    }
    int code = cds_sql_run(ins);
    cds_sql_reset(ins);
    return code;
}

/* UPDATE "t" SET "late" = :v WHERE "key" = :k for every held value, in
 * one transaction. */
static int
copy_late_apply(store_t *self, const store_copy_table_t *t,
                const copy_late_t *late)
{
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = :v WHERE \"%s\" = :k",
             t->name, t->cols[t->late], t->cols[t->key]);
    cds_sql_stmt_t *st = cds_sql_prepare(self->sql, sql, 0);
    int code = st ? cds_sql_begin(self->sql) : CDS_ERROR;
    for (size_t i = 0; code == CDS_OK && i < late->n; i++) {
        cds_sql_bind_int64(st, ":k", late->kv[i][0]);
        cds_sql_bind_int64(st, ":v", late->kv[i][1]);
        code = cds_sql_run(st);
        cds_sql_reset(st);
    }
    if (st && code == CDS_OK)
        code = cds_sql_commit(self->sql);
    cds_sql_finalize(&st);
    return code;
}

/* Begin a copy transaction; the first one of a replace deletes the
 * table's seeded rows (*cleared then set). */
static int
copy_begin(store_t *self, const store_copy_table_t *t, bool *cleared)
{
    int code = cds_sql_begin(self->sql);
    if (code != CDS_OK || !t->replace || *cleared)
        return code;
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", t->name);
    *cleared = true;
    return cds_sql_exec(self->sql, sql);
}

/* The row loop of store_copy_rows: batch rows per transaction. */
static int
copy_loop(store_t *self, const store_copy_table_t *t, cds_sql_stmt_t *ins,
          cds_sql_stmt_t *src, int batch, store_copy_progress_fn *progress,
          void *arg, copy_late_t *late, int64_t *rows, uint64_t *bytes)
{
    int rc, code = CDS_OK, in_tx = 0;
    bool cleared = false;
    while ((rc = cds_sql_step(src)) == CDS_SQL_ROW) {
        if (!in_tx && (code = copy_begin(self, t, &cleared)) != CDS_OK)
            return code;
        if ((code = copy_row(ins, src, t, late, bytes)) != CDS_OK)
            return code;
        (*rows)++;
        if (++in_tx < batch)
            continue;
        if ((code = cds_sql_commit(self->sql)) != CDS_OK)
            return code;
        CDS_FAILPOINT("migrate_commit");   /* killed mid-copy (test) */
        in_tx = 0;
        if (progress)
            progress(t->name, *rows, arg);
    }
    if (rc != CDS_SQL_DONE)
        return rc;
    if (!in_tx && t->replace && !cleared) {        /* nothing to copy */
        if ((code = copy_begin(self, t, &cleared)) != CDS_OK)
            return code;
        in_tx = 1;
    }
    if (!in_tx || (code = cds_sql_commit(self->sql)) != CDS_OK)
        return code;
    CDS_FAILPOINT("migrate_commit");
    if (progress)
        progress(t->name, *rows, arg);
    return code;
}

int
store_copy_rows(store_t *self, const store_copy_table_t *t,
                cds_sql_stmt_t *src, int batch,
                store_copy_progress_fn *progress, void *arg, int64_t *rows,
                uint64_t *bytes)
{
    *rows = 0;
    *bytes = 0;
    if (!copy_table_ok(t) || batch < 1)
        return CDS_EUSAGE;
    char *sql = copy_insert_sql(t);
    if (!sql)
        return CDS_ENOMEM;
    cds_sql_stmt_t *ins = cds_sql_prepare(self->sql, sql, CDS_SQL_PERSIST);
    free(sql);
    if (!ins)
        return CDS_ERROR;
    copy_late_t late = { 0 };
    int code = copy_loop(self, t, ins, src, batch, progress, arg, &late, rows,
                         bytes);
    cds_sql_finalize(&ins);
    if (code == CDS_OK && late.n)
        code = copy_late_apply(self, t, &late);
    if (code != CDS_OK)
        cds_sql_rollback(self->sql);
    free(late.kv);
    cds_sql_reset(src);
    return code;
}

/* PostgreSQL: setval of one identity/serial column past its greatest. */
static int
copy_setval(store_t *self, const char *table, const char *col)
{
    if (!copy_ident_ok(table) || !copy_ident_ok(col))
        return CDS_EUSAGE;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'),"
             " coalesce(max(\"%s\"), 0) + 1, false) FROM \"%s\"",
             table, col, col, table);
    cds_sql_stmt_t *st = cds_sql_prepare(self->sql, sql, 0);
    int code = st ? cds_sql_run(st) : CDS_ERROR;
    cds_sql_finalize(&st);
    return code;
}

int
store_copy_identities(store_t *self)
{
    if (cds_sql_backend(self->sql) != CDS_SQL_POSTGRESQL)
        return CDS_OK;
    cds_sql_stmt_t *st = cds_sql_prepare(
        self->sql,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
        " AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')"
        " ORDER BY table_name, column_name",
        0);
    if (!st)
        return CDS_ERROR;
    int rc, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW)
        code = copy_setval(self, cds_sql_col_text(st, 0),
                           cds_sql_col_text(st, 1));
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}

/* ---- published metadata (store.h) -------------------------------------- */

/* Each blob copied before the next is read: on PostgreSQL cds_sql keeps
 * one unescaped blob per statement. */
static int
meta_from_row(cds_sql_stmt_t *st, store_metadata_t *m)
{
    memset(m, 0, sizeof *m);
    m->version = cds_sql_col_int64(st, 0);
    m->published_ms = cds_sql_col_int64(st, 1);
    const void *p = cds_sql_col_blob(st, 2);
    size_t n = cds_sql_col_bytes(st, 2);
    if (!(m->bundle = malloc(n ? n : 1)))
        return CDS_ENOMEM;
    if (n)
        memcpy(m->bundle, p, n);
    m->bundle_len = n;
    p = cds_sql_col_blob(st, 3);
    int code = p && cds_sql_col_bytes(st, 3) == CDS_SIG_BYTES
        ? CDS_OK : CDS_EMALFORMED;
    if (!code)
        memcpy(m->signature, p, CDS_SIG_BYTES);
    p = code ? NULL : cds_sql_col_blob(st, 4);
    if (!code && (!p || cds_sql_col_bytes(st, 4) != CDS_PK_BYTES))
        code = CDS_EMALFORMED;
    if (!code)
        memcpy(m->signer, p, CDS_PK_BYTES);
    const char *sum = cds_sql_col_text(st, 5);
    if (!code && !(m->summary = strdup(sum ? sum : "")))
        code = CDS_ENOMEM;
    if (code)
        store_metadata_clear(m);
    return code;
}

void
store_metadata_clear(store_metadata_t *m)
{
    free(m->bundle);
    free(m->summary);
    m->bundle = NULL;
    m->summary = NULL;
}

int
store_metadata_latest(store_t *self, int64_t *version)
{
    cds_sql_stmt_t *st = self->st[ST_METADATA_LATEST]; /* every heartbeat */
    int rc = cds_sql_step(st);
    *version = rc == CDS_SQL_ROW ? cds_sql_col_int64(st, 0) : 0;
    cds_sql_reset(st);
    return rc == CDS_SQL_ROW ? CDS_OK : rc;
}

int
store_metadata_get(store_t *self, int64_t version, store_metadata_t *out)
{
    cds_sql_stmt_t *st = cds_sql_prepare(self->sql, STORE_SQL_METADATA_GET, 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_int64(st, ":version", version);
    int rc = cds_sql_step(st);
    int code = rc == CDS_SQL_ROW ? meta_from_row(st, out)
             : rc == CDS_SQL_DONE ? CDS_ENOTFOUND : rc;
    cds_sql_finalize(&st);
    return code;
}

int
store_metadata_each(store_t *self, store_metadata_fn *fn, void *arg)
{
    cds_sql_stmt_t *st = cds_sql_prepare(self->sql, STORE_SQL_METADATA_LIST,
                                         0);
    if (!st)
        return CDS_ERROR;
    int rc, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        store_metadata_t m;
        if ((code = meta_from_row(st, &m)) == CDS_OK) {
            code = fn(&m, arg);
            store_metadata_clear(&m);
        }
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}

/* In one transaction: the version must be the next one (a concurrent
 * publish loses with CDS_EBUSY and nothing written). */
int
store_metadata_add(store_t *self, const store_metadata_t *m)
{
    int code = cds_sql_begin(self->sql);
    if (code != CDS_OK)
        return code;
    int64_t latest = 0;
    code = store_metadata_latest(self, &latest);
    if (code == CDS_OK && m->version != latest + 1)
        code = CDS_EBUSY;
    cds_sql_stmt_t *st = code == CDS_OK
        ? cds_sql_prepare(self->sql, STORE_SQL_METADATA_ADD, 0) : NULL;
    if (code == CDS_OK && !st)
        code = CDS_ERROR;
    if (code == CDS_OK) {
        cds_sql_bind_int64(st, ":version", m->version);
        cds_sql_bind_int64(st, ":ms", m->published_ms);
        cds_sql_bind_blob(st, ":bundle", m->bundle, m->bundle_len);
        cds_sql_bind_blob(st, ":sig", m->signature, CDS_SIG_BYTES);
        cds_sql_bind_blob(st, ":signer", m->signer, CDS_PK_BYTES);
        cds_sql_bind_text(st, ":summary", m->summary);
        code = cds_sql_run(st);
    }
    cds_sql_finalize(&st);
    if (code == CDS_OK)
        return cds_sql_commit(self->sql);
    (void) cds_sql_rollback(self->sql);
    return code;
}

int
store_codes_in_use(store_t *self, bool units, store_code_fn *fn, void *arg)
{
    cds_sql_stmt_t *st = cds_sql_prepare(
        self->sql, units ? STORE_SQL_UNITS_IN_USE : STORE_SQL_INDICATORS_IN_USE,
        0);
    if (!st)
        return CDS_ERROR;
    int rc, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        const char *c = cds_sql_col_text(st, 0);
        code = fn(c ? c : "", cds_sql_col_int64(st, 1), arg);
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}
