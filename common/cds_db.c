/*  cds_db: open, configure and migrate SQLite connections.
 *  All pragmas live in configure(); all schema changes go through
 *  migrate(). Every failure is logged once here as event=db_error with the
 *  path, the step and SQLite's message. */
#include "cds_db.h"
#include "cds_util.h"
#include "cds_err.h"
#include "cds_log.h"

#include <assert.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000

struct cds_db {
    sqlite3 *db; /* owned connection */
    char *path;  /* as given to cds_db_open */
    int flags;   /* CDS_DB_* */
    uint64_t busy_since; /* mono ms of the first retry of this wait */
    sqlite3_int64 changes_at_begin; /* total_changes at cds_db_begin */
};

/* Transactions committed with a change, every connection of the process
 * (cds_db_write_commits). */
static atomic_uint_fast64_t write_commits;

/* Busy handler: retry the lock every 100 us at first, then every 1 ms,
 * until BUSY_TIMEOUT_MS. SQLite's own sqlite3_busy_timeout sleeps 1, 2, 5,
 * 10, 15, 20, 25, ... 100 ms between tries, so two writers of one file
 * (the agent recording acks while `submit` queues rows, 1,000 short
 * transactions a second) lost 25-100 ms per collision although the lock
 * was free again after well under 1 ms: that was the latency tail (see
 * docs/PERFORMANCE.md "Second pass"). Hand-written because SQLite has no
 * setting for the sleep schedule. */
static int
busy_wait(void *arg, int count)
{
    cds_db_t *self = arg;
    uint64_t now = cds_mono_ms();
    if (count == 0)
        self->busy_since = now;
    if (now - self->busy_since >= BUSY_TIMEOUT_MS)
        return 0;
    struct timespec ts = {0, count < 50 ? 100000L : 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

int
cds_db_errcode(int sqlite_rc)
{
    switch (sqlite_rc & 0xFF) { /* extended codes share the primary's byte */
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return CDS_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CDS_EBUSY;
    case SQLITE_FULL:
        return CDS_EFULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return CDS_ECORRUPT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return CDS_EIO;
    case SQLITE_NOMEM:
        return CDS_ENOMEM;
    default:
        return CDS_ERROR;
    }
}

/* Log the connection's last error; sql (may be NULL) is the statement. */
static int
log_fail(cds_db_t *self, const char *what, const char *sql)
{
    int rc = sqlite3_extended_errcode(self->db);
    int code = cds_db_errcode(rc);

    cds_log(CDS_LOG_ERROR, "db_error",
            "path=%s what=%s code=%s rc=%d msg=%s%s%s", cds_logq(self->path),
            cds_logq(what), cds_strerror(code), rc,
            cds_logq(sqlite3_errmsg(self->db)), sql ? " sql=" : "",
            sql ? cds_logq(sql) : "");
    return code == CDS_OK ? CDS_ERROR : code;
}

int
cds_db_fail(cds_db_t *self, const char *what)
{
    return log_fail(self, what, NULL);
}

int
cds_db_exec(cds_db_t *self, const char *sql)
{
    if (sqlite3_exec(self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return log_fail(self, "exec", sql);
    return CDS_OK;
}

void
cds_db_release_memory(cds_db_t *self)
{
    (void) sqlite3_db_release_memory(self->db);
#ifdef __GLIBC__
    (void) malloc_trim(0);
#endif
}

/* Run a one-row integer query (PRAGMA user_version ...) into *out. */
static int
query_int(cds_db_t *self, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int code = log_fail(self, "query", sql);
        sqlite3_finalize(st);
        return code;
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return CDS_OK;
}

/* The one place connection settings are made. Reading the schema first
 * turns a file that is not a database into CDS_ECORRUPT with its path. */
static int
configure(cds_db_t *self)
{
    int n = 0;

    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_handler(self->db, busy_wait, self);
    if (query_int(self, "SELECT count(*) FROM sqlite_schema", &n) != CDS_OK) {
        int code = cds_db_errcode(sqlite3_errcode(self->db));
        if (code == CDS_ECORRUPT)
            cds_log(CDS_LOG_ERROR, "db_corrupt", "path=%s msg=%s",
                    cds_logq(self->path),
                    cds_logq("not an SQLite database, or damaged"));
        return code == CDS_OK ? CDS_ERROR : code;
    }
    /* A read-only connection can neither set nor needs to set WAL: a
     * database written by the daemon is already in WAL mode. */
    if (!(self->flags & CDS_DB_READONLY)) {
        static const char wal[] = "PRAGMA journal_mode=WAL";
        int src = sqlite3_exec(self->db, wal, NULL, NULL, NULL);
        if ((src & 0xff) == SQLITE_BUSY)
            return CDS_EBUSY;       /* quietly: configure_and_migrate retries */
        if (src != SQLITE_OK)
            return log_fail(self, "exec", wal);
    }
    return cds_db_exec(self, "PRAGMA synchronous=FULL;"
                             "PRAGMA foreign_keys=ON;");
}

/* Apply migrations [version, n) in ONE IMMEDIATE transaction, the version
 * read again inside it (another process may have won). One transaction,
 * not one per migration: a process opening the database meanwhile (the
 * daemon starting while `enroll` creates the database) sees either the
 * old schema or the new one, never a half-migrated database at some
 * intermediate version (whose pre-upgrade backup would be refused), and a
 * failing migration leaves the database exactly as it was. */
static int
migrate_all(cds_db_t *self, const char *const *migrations, int n)
{
    char bump[64];
    int version = 0, i = 0, rc;

    if ((rc = cds_db_begin(self)) != CDS_OK)
        return rc;
    if ((rc = query_int(self, "PRAGMA user_version", &version)) != CDS_OK)
        goto out;
    for (i = version; i < n; i++) {
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", i + 1);
        if ((rc = cds_db_exec(self, migrations[i])) != CDS_OK
            || (rc = cds_db_exec(self, bump)) != CDS_OK)
            goto out;
    }
    if ((rc = cds_db_commit(self)) == CDS_OK)
        for (int v = version; v < n; v++)
            cds_log(CDS_LOG_INFO, "db_migrated", "path=%s version=%d",
                    cds_logq(self->path), v + 1);
out:
    if (rc != CDS_OK) {
        cds_log(CDS_LOG_ERROR, "db_migration_failed", "path=%s migration=%d",
                cds_logq(self->path), i + 1);
        cds_db_rollback(self);
    }
    return rc;
}

static int
migrate(cds_db_t *self, const char *const *migrations, int n)
{
    int version = 0, rc;

    if ((rc = query_int(self, "PRAGMA user_version", &version)) != CDS_OK)
        return rc;
    if (version > n || (version < n && (self->flags & CDS_DB_READONLY))) {
        if (!(self->flags & CDS_DB_QUIET_VERSION))
            cds_log(CDS_LOG_ERROR, "db_version",
                    "path=%s version=%d supported=%d msg=%s",
                    cds_logq(self->path), version, n,
                    cds_logq(version > n
                                 ? "database is newer than this program"
                                 : "read-only open of an unmigrated "
                                   "database; run the daemon once"));
        return CDS_EVERSION;
    }
    return version < n ? migrate_all(self, migrations, n) : CDS_OK;
}

/* Two processes opening a brand-new database together (a `submit` beside
 * the daemon on the first day) race for the exclusive lock that switching
 * to WAL needs, and SQLite answers BUSY there without calling the busy
 * handler. Both steps are idempotent, so retry them until the same
 * deadline the busy handler would have waited. */
static int
configure_and_migrate(cds_db_t *self, const char *const *migrations,
                      int n_migrations)
{
    uint64_t deadline = cds_mono_ms() + BUSY_TIMEOUT_MS;
    int rc;
    for (;;) {
        rc = configure(self);
        if (rc == CDS_OK)
            rc = migrate(self, migrations, n_migrations);
        if (rc != CDS_EBUSY || cds_mono_ms() >= deadline)
            return rc;
        sqlite3_sleep(10);
    }
}

/* Process-wide SQLite settings, once, before the library initialises.
 * Memory statistics off: nothing reads them (no sqlite3_status call), and
 * keeping them takes a global mutex around every allocation, 3.7 % of
 * the aggregator's instructions per update (docs/PERFORMANCE.md).
 * No initial bulk page cache: by default every connection allocates 20
 * pages at its first read (~87 KiB, all touched), which an idle agent's
 * two connections (outbox, checkpointer) never fill; pages are then
 * allocated one by one as the cache grows (issue 19). If SQLite was
 * already initialised this is refused and changes nothing. */
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static void
sqlite_config(void)
{
    (void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void) sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

/* A read-only reader that cannot create the -shm file (a monitoring user:
 * state dir 0750, no -shm left because no writer runs) cannot open a WAL
 * database, and SQLite answers "attempt to write a readonly database".
 * With no -wal file the database file holds every committed transaction
 * (a clean close checkpointed them; a crash leaves the -wal behind), so
 * such a reader opens it immutable: without locks, which is sound until a
 * writer starts; a writer only changes the file at a checkpoint, after
 * its first WAL pages, far later than the few reads of a status check. */
static bool
needs_immutable(const char *path, int flags)
{
    char side[4096], dir[4096];
    if (!(flags & CDS_DB_READONLY) || strlen(path) + 5 > sizeof side)
        return false;
    snprintf(side, sizeof side, "%s-wal", path);
    if (access(side, F_OK) == 0)
        return false;
    snprintf(side, sizeof side, "%s-shm", path);
    if (access(side, W_OK) == 0)
        return false;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    return access(slash ? dir : ".", W_OK) != 0;
}

/* "file:" URI for path with ?immutable=1; bytes other than unreserved
 * ones and '/' percent-encoded. 0, or -1 when it does not fit. */
static int
immutable_uri(char *buf, size_t len, const char *path)
{
    size_t k = (size_t) snprintf(buf, len, "file:");
    for (const unsigned char *c = (const unsigned char *) path; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
                     || (*c >= '0' && *c <= '9') || strchr("/-._~", *c);
        if (k + 4 >= len)
            return -1;
        k += (size_t) (plain ? snprintf(buf + k, len - k, "%c", *c)
                             : snprintf(buf + k, len - k, "%%%02X", *c));
    }
    return k + 13 < len ? (snprintf(buf + k, len - k, "?immutable=1"), 0)
                        : -1;
}

cds_db_t *
cds_db_open(const char *path, const char *const *migrations, int n_migrations,
            int flags, int *err)
{
    pthread_once(&config_once, sqlite_config);
    int oflags = (flags & CDS_DB_READONLY)
                     ? SQLITE_OPEN_READONLY
                     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    /* One thread owns a connection (cds_db.h): no per-call mutex, which
     * was 8 % of the aggregator's instructions per update. */
    oflags |= SQLITE_OPEN_NOMUTEX;
    cds_db_t *self = calloc(1, sizeof *self);
    int rc = CDS_ENOMEM;

    if (!self || !(self->path = strdup(path)))
        goto out;
    self->flags = flags;
    char uri[3 * 4096 + 32];
    const char *name = path;
    if (needs_immutable(path, flags)
        && immutable_uri(uri, sizeof uri, path) == 0) {
        name = uri;
        oflags |= SQLITE_OPEN_URI;
    }
    if (sqlite3_open_v2(name, &self->db, oflags, NULL) != SQLITE_OK) {
        rc = self->db ? log_fail(self, "open", NULL) : CDS_ENOMEM;
        goto out;
    }
    rc = configure_and_migrate(self, migrations, n_migrations);
out:
    if (rc != CDS_OK) {
        if (rc == CDS_ENOMEM)
            cds_log(CDS_LOG_ERROR, "db_error",
                    "path=%s what=open code=no_memory", cds_logq(path));
        cds_db_close(&self);
    }
    if (err)
        *err = rc;
    return self;
}

void
cds_db_close(cds_db_t **self_p)
{
    cds_db_t *self = self_p ? *self_p : NULL;

    if (!self)
        return;
    if (self->db && sqlite3_close(self->db) == SQLITE_BUSY) {
        cds_log(CDS_LOG_ERROR, "db_error", "path=%s what=close msg=%s",
                cds_logq(self->path), cds_logq("statements left unfinalized"));
        sqlite3_close_v2(self->db); /* closes once they are finalized */
    }
    free(self->path);
    free(self);
    *self_p = NULL;
}

sqlite3 *
cds_db_handle(cds_db_t *self)
{
    return self->db;
}

const char *
cds_db_path(const cds_db_t *self)
{
    return self->path;
}

int
cds_db_begin(cds_db_t *self)
{
    self->changes_at_begin = sqlite3_total_changes64(self->db);
    return cds_db_exec(self, "BEGIN IMMEDIATE");
}

int
cds_db_commit(cds_db_t *self)
{
    bool wrote = sqlite3_total_changes64(self->db) != self->changes_at_begin;
    int rc = cds_db_exec(self, "COMMIT");
    if (rc == CDS_OK && wrote)
        atomic_fetch_add(&write_commits, 1);
    return rc;
}

uint64_t
cds_db_write_commits(void)
{
    return atomic_load(&write_commits);
}

/* SQLite may already have rolled back (after SQLITE_FULL, IOERR, NOMEM):
 * then there is nothing to do and that is not an error. */
int
cds_db_rollback(cds_db_t *self)
{
    if (sqlite3_get_autocommit(self->db))
        return CDS_OK;
    return cds_db_exec(self, "ROLLBACK");
}

/* Bumped by every cds_db_prepare (the parameter index cache below). */
static atomic_uint stmt_gen = 1;

static sqlite3_stmt *
prepare(cds_db_t *self, const char *sql, unsigned flags)
{
    sqlite3_stmt *st = NULL;

    /* Before the statement exists: the bind cache below must not trust a
     * slot filled for a finalized statement at the same address. */
    atomic_fetch_add_explicit(&stmt_gen, 1, memory_order_release);
    if (sqlite3_prepare_v3(self->db, sql, -1, flags, &st, NULL) != SQLITE_OK) {
        log_fail(self, "prepare", sql);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *
cds_db_prepare(cds_db_t *self, const char *sql)
{
    return prepare(self, sql, SQLITE_PREPARE_PERSISTENT);
}

sqlite3_stmt *
cds_db_prepare_once(cds_db_t *self, const char *sql)
{
    return prepare(self, sql, 0);
}

/* Parameter index cache, one per thread: sqlite3_bind_parameter_index
 * compares the name with every parameter of the statement (strncmp), which
 * was 12 % of the aggregator's instructions per update (docs/PERFORMANCE.md
 * "Second pass"). Names are string literals, so (statement, name
 * pointer) is a good key. A slot is trusted only while no statement has
 * been prepared since it was filled (stmt_gen): a statement whose address
 * was reused after a finalize is always a newly prepared one, so it can
 * never hit a stale slot. Checking each hit against SQLite's own name of
 * the index instead (as before) cost a linear walk of the statement's
 * parameter list, 8 % of the instructions per update. Hand-written:
 * SQLite has no such cache. */
#define PARAM_CACHE_SLOTS 1024         /* power of two */
#define PARAM_CACHE_PROBES 4
typedef struct {
    const sqlite3_stmt *st;
    const char *name;
    unsigned gen;
    int idx;
} param_slot_t;
static __thread param_slot_t param_cache[PARAM_CACHE_SLOTS];

static int
param_index(sqlite3_stmt *st, const char *name)
{
    uint64_t h = ((uint64_t) (uintptr_t) st * 0x9E3779B97F4A7C15u)
                 ^ ((uint64_t) (uintptr_t) name * 0xC2B2AE3D27D4EB4Fu);
    unsigned gen = atomic_load_explicit(&stmt_gen, memory_order_acquire);
    size_t at = (size_t) (h >> 54) & (PARAM_CACHE_SLOTS - 1);
    param_slot_t *free_slot = NULL;
    for (int i = 0; i < PARAM_CACHE_PROBES; i++) {
        param_slot_t *slot = &param_cache[(at + i) & (PARAM_CACHE_SLOTS - 1)];
        if (slot->gen == gen && slot->st == st && slot->name == name)
            return slot->idx;
        if (!free_slot && slot->gen != gen)
            free_slot = slot;
    }
    int idx = sqlite3_bind_parameter_index(st, name);

    assert(idx > 0 && "no such SQL parameter");
    if (!free_slot)                    /* all probes live: evict the first */
        free_slot = &param_cache[at];
    *free_slot = (param_slot_t) {st, name, gen, idx};
    return idx;
}

/* Bind results other than OK are NOMEM or TOOBIG; the value stays NULL and
 * the step that follows fails on it, so logging here is enough. */
static void
check_bind(sqlite3_stmt *st, const char *name, int rc)
{
    if (rc != SQLITE_OK)
        cds_log(CDS_LOG_ERROR, "db_error", "what=bind param=%s rc=%d msg=%s",
                cds_logq(name), rc, cds_logq(sqlite3_errstr(rc)));
}

/* Text and blobs with SQLite's copy (TRANSIENT) or without (STATIC). */
static void
bind_text(sqlite3_stmt *st, const char *name, const char *text,
          sqlite3_destructor_type how)
{
    int idx = param_index(st, name);
    check_bind(st, name, text ? sqlite3_bind_text(st, idx, text, -1, how)
                              : sqlite3_bind_null(st, idx));
}

static void
bind_blob(sqlite3_stmt *st, const char *name, const void *p, int n,
          sqlite3_destructor_type how)
{
    check_bind(st, name,
               sqlite3_bind_blob(st, param_index(st, name), p, n, how));
}

void
cds_bind_text(sqlite3_stmt *st, const char *name, const char *text)
{
    bind_text(st, name, text, SQLITE_TRANSIENT);
}

void
cds_bind_text_ref(sqlite3_stmt *st, const char *name, const char *text)
{
    bind_text(st, name, text, SQLITE_STATIC);
}

void
cds_bind_blob(sqlite3_stmt *st, const char *name, const void *p, int n)
{
    bind_blob(st, name, p, n, SQLITE_TRANSIENT);
}

void
cds_bind_blob_ref(sqlite3_stmt *st, const char *name, const void *p, int n)
{
    bind_blob(st, name, p, n, SQLITE_STATIC);
}

void
cds_bind_int64(sqlite3_stmt *st, const char *name, int64_t v)
{
    check_bind(st, name, sqlite3_bind_int64(st, param_index(st, name), v));
}

void
cds_bind_double(sqlite3_stmt *st, const char *name, double v)
{
    check_bind(st, name, sqlite3_bind_double(st, param_index(st, name), v));
}

void
cds_bind_null(sqlite3_stmt *st, const char *name)
{
    check_bind(st, name, sqlite3_bind_null(st, param_index(st, name)));
}

void
cds_stmt_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Problems are logged (first few rows). A check that cannot run returns
 * the mapped cause (busy, I/O) rather than claiming corruption. */
int
cds_db_quick_check(cds_db_t *self)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, "PRAGMA quick_check", -1, &st, NULL);
    int problems = 0;

    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);
        if (!row || strcmp(row, "ok") != 0) {
            if (problems++ < 5)
                cds_log(CDS_LOG_ERROR, "db_corrupt",
                        "path=%s what=quick_check msg=%s", cds_logq(self->path),
                        cds_logq(row));
        }
        rc = SQLITE_OK;
    }
    int code = rc == SQLITE_DONE ? CDS_OK : log_fail(self, "quick_check", NULL);
    sqlite3_finalize(st);
    return problems ? CDS_ECORRUPT : code;
}
