/*  migrate: copy the SQLite store into a new one, check it equal (see
 *  migrate.h for the steps and what an interruption leaves).
 *
 *  Where the writes are: this file only reads (the source's schema and
 *  rows, the destination's catalog and rows for the checks); every write
 *  to the destination goes through store_copy_rows / store_copy_identities,
 *  a self-contained block at the end of store.c. So the layers rule that
 *  only store writes the core tables (tests/tools/layers.py rule 6) holds
 *  without an exception, and the copy cannot bypass it by building its
 *  INSERTs from table names where the check does not see them. */
#include "migrate.h"

#include "audit.h"
#include "backup.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_pg.h"
#include "cds_sql.h"
#include "cds_util.h"
#include "commitmark.h"
#include "store.h"
#include "table.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* PostgreSQL: the rows of a digest read through a cursor, a page at a time. */
#define FETCH_PAGE "FETCH 10000 FROM migrate_scan"

_Static_assert(MIGRATE_DIGEST_BYTES == crypto_generichash_BYTES,
               "migrate.h names the BLAKE2b-256 size");

/* One table of the source. */
typedef struct {
    char *name;
    char **cols;
    int n_cols;
    char **deps;                        /* tables its foreign keys name */
    int n_deps;
    int late, key;                      /* store_copy_table_t's */
    bool placed;
    int64_t rows;
    uint64_t bytes;
    double secs;
    uint8_t sum[crypto_generichash_BYTES];   /* source digest */
} mtable_t;

typedef struct {
    const migrate_opts_t *o;
    store_t *src, *dst;
    mtable_t *t;                        /* in copy order once sorted */
    size_t n;
    char *where;                        /* destination, password hidden */
    bool verified;                      /* verify ran on the copy */
    char *msg;
    size_t msglen;
} migrate_t;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
fail(migrate_t *m, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(migrate_t *m, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->msg, m->msglen, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- the source's schema ------------------------------------------------ */

static int
add_str(char ***v, int *n, const char *s)
{
    char **p = realloc(*v, (size_t) (*n + 1) * sizeof **v);
    if (!p)
        return CDS_ENOMEM;
    *v = p;
    if (!(p[*n] = strdup(s ? s : "")))
        return CDS_ENOMEM;
    (*n)++;
    return CDS_OK;
}

/* Columns (in order) and the single integer primary key, if any. */
static int
read_columns(cds_sql_t *db, mtable_t *t, int *pk_count)
{
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "SELECT name, pk, upper(type) FROM pragma_table_info(:t)"
            " ORDER BY cid", 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":t", t->name);
    int rc, code = CDS_OK;
    t->key = -1;
    *pk_count = 0;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        if (cds_sql_col_int(st, 1) > 0) {
            (*pk_count)++;
            const char *type = cds_sql_col_text(st, 2);
            if (type && strcmp(type, "INTEGER") == 0)
                t->key = t->n_cols;
        }
        code = add_str(&t->cols, &t->n_cols, cds_sql_col_text(st, 0));
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}

/* Foreign keys: the tables named (deps), and a column naming its own
 * table (late). */
static int
read_foreign_keys(cds_sql_t *db, mtable_t *t)
{
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "SELECT \"table\", \"from\" FROM pragma_foreign_key_list(:t)", 0);
    if (!st)
        return CDS_ERROR;
    cds_sql_bind_text(st, ":t", t->name);
    int rc, code = CDS_OK;
    t->late = -1;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        const char *to = cds_sql_col_text(st, 0);
        const char *from = cds_sql_col_text(st, 1);
        if (to && strcmp(to, t->name) != 0) {
            code = add_str(&t->deps, &t->n_deps, to);
            continue;
        }
        for (int i = 0; from && i < t->n_cols; i++)
            if (strcmp(t->cols[i], from) == 0)
                t->late = i;
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}

/* Every table of the source (sqlite_schema), with columns and keys. */
static int
read_tables(migrate_t *m)
{
    cds_sql_t *db = store_sql(m->src);
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", 0);
    if (!st)
        return CDS_ERROR;
    int rc, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        mtable_t *p = realloc(m->t, (m->n + 1) * sizeof *p);
        if (!p) {
            code = CDS_ENOMEM;
            break;
        }
        m->t = p;
        mtable_t *t = memset(&m->t[m->n++], 0, sizeof *t);
        int pks = 0;
        if (!(t->name = strdup(cds_sql_col_text(st, 0))))
            code = CDS_ENOMEM;
        if (code == CDS_OK)
            code = read_columns(db, t, &pks);
        if (code == CDS_OK)
            code = read_foreign_keys(db, t);
        if (code == CDS_OK && t->late >= 0 && (pks != 1 || t->key < 0))
            code = fail(m, CDS_EUSAGE, "table %s refers to itself without a "
                        "single integer primary key: not copyable", t->name);
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    return code;
}

static bool
placed(const migrate_t *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return m->t[i].placed;
    return true;                        /* not a table of ours: no order */
}

/* Foreign-key order: a table after every table it refers to. */
static int
sort_tables(migrate_t *m)
{
    mtable_t *out = malloc(m->n * sizeof *out);
    if (!out && m->n)
        return CDS_ENOMEM;
    size_t k = 0;
    while (k < m->n) {
        size_t before = k;
        for (size_t i = 0; i < m->n; i++) {
            mtable_t *t = &m->t[i];
            bool ready = !t->placed;
            for (int d = 0; ready && d < t->n_deps; d++)
                ready = placed(m, t->deps[d]);
            if (ready) {
                t->placed = true;
                out[k++] = *t;
            }
        }
        if (k == before) {
            free(out);
            return fail(m, CDS_EUSAGE, "the source's foreign keys form a "
                        "cycle: no copy order");
        }
    }
    free(m->t);
    m->t = out;
    return CDS_OK;
}

/* ---- the destination ----------------------------------------------------- */

/* Tables a fresh store already holds rows in, written by its own schema
 * (commitmark_sql.h: the store's random id, counter 0), with the count of
 * rows that would be data; the copy replaces those rows (store.h
 * store_copy_table_t.replace). */
static const struct {
    const char *table, *data_sql;
} seeded[] = {
    { "commit_mark", "SELECT count(*) FROM commit_mark WHERE counter <> 0" },
};

static int
seeded_index(const char *table)
{
    for (size_t i = 0; i < sizeof seeded / sizeof seeded[0]; i++)
        if (strcmp(seeded[i].table, table) == 0)
            return (int) i;
    return -1;
}

/* How to empty the destination: the commands, for a refusal. */
static void
how_to_empty(migrate_t *m, char *buf, size_t len)
{
    cds_sql_t *db = store_sql(m->dst);
    if (cds_sql_backend(db) != CDS_SQL_POSTGRESQL) {
        snprintf(buf, len, "delete the file %s (and its -wal and -shm "
                 "files), then run migrate-store again", cds_sql_where(db));
        return;
    }
    cds_sql_stmt_t *st = cds_sql_prepare(
        db, "SELECT current_database(), current_user", 0);
    if (st && cds_sql_step(st) == CDS_SQL_ROW)
        snprintf(buf, len, "connect to another database of the server "
                 "(e.g. psql -d postgres), run DROP DATABASE \"%s\"; CREATE "
                 "DATABASE \"%s\" OWNER \"%s\"; then run migrate-store again",
                 cds_sql_col_text(st, 0), cds_sql_col_text(st, 0),
                 cds_sql_col_text(st, 1));
    else
        snprintf(buf, len, "drop and create the database again, then run "
                 "migrate-store again");
    cds_sql_finalize(&st);
}

/* 1 if the destination has table name, 0 if not, or a negative code. */
static int
dst_has(cds_sql_t *db, const char *name)
{
    cds_sql_stmt_t *st = cds_sql_prepare2(
        db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
            " AND name = :t",
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_name = :t", 0);
    if (!st)
        return -CDS_ERROR;
    cds_sql_bind_text(st, ":t", name);
    int rc = cds_sql_step(st);
    int r = rc == CDS_SQL_ROW ? cds_sql_col_int64(st, 0) > 0 : -rc;
    cds_sql_finalize(&st);
    return r;
}

/* Rows of table name in db into *n (data rows only for a seeded one). */
static int
count_rows(cds_sql_t *db, const char *name, int64_t *n)
{
    char sql[256];
    int s = seeded_index(name);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", name);
    cds_sql_stmt_t *st = cds_sql_prepare(db, s >= 0 ? seeded[s].data_sql
                                                    : sql, 0);
    int rc = st ? cds_sql_step(st) : CDS_ERROR;
    *n = rc == CDS_SQL_ROW ? cds_sql_col_int64(st, 0) : 0;
    cds_sql_finalize(&st);
    return rc == CDS_SQL_ROW ? CDS_OK : rc;
}

/* Every source table known to the destination, and empty there. */
static int
check_destination(migrate_t *m)
{
    /* Both at the program's schema: store_open refuses a source at
     * another version read-only, and migrates the destination to it (on
     * PostgreSQL a whole schema in one step: its version numbers are not
     * SQLite's, so they are not compared). */
    int code;
    for (size_t i = 0; i < m->n; i++) {
        int has = dst_has(store_sql(m->dst), m->t[i].name);
        int64_t rows = 0;
        if (has < 0)
            return fail(m, -has, "%s: cannot read its tables", m->where);
        if (!has)
            return fail(m, CDS_EBADVALUE, "table %s of the source is unknown "
                        "to %s: nothing copied", m->t[i].name, m->where);
        if ((code = count_rows(store_sql(m->dst), m->t[i].name, &rows)))
            return fail(m, code, "%s: cannot count %s", m->where, m->t[i].name);
        if (rows) {
            char how[512];
            how_to_empty(m, how, sizeof how);
            return fail(m, CDS_EBADVALUE, "%s already holds data (table %s: "
                        "%lld rows): migrate-store copies into an empty store "
                        "only. If an interrupted migrate-store left it, %s",
                        m->where, m->t[i].name, (long long) rows, how);
        }
    }
    return CDS_OK;
}

/* ---- copy ---------------------------------------------------------------- */

/* SELECT "a", "b" FROM "t" into a malloc'd string. */
static char *
select_cols(const char *table, const char *const *cols, int n)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f)
        return NULL;
    fputs("SELECT ", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", cols[i]);
    fprintf(f, " FROM \"%s\"", table);
    if (fclose(f) != 0) {
        free(sql);
        return NULL;
    }
    return sql;
}

static char *
select_sql(const mtable_t *t)
{
    return select_cols(t->name, (const char *const *) t->cols, t->n_cols);
}

static void
progress(const char *table, int64_t rows, void *arg)
{
    migrate_t *m = arg;
    if (m->o->progress) {
        fprintf(m->o->progress, "migrate-store: %s: %lld rows copied\n",
                table, (long long) rows);
        fflush(m->o->progress);
    }
}

static int
copy_table(migrate_t *m, mtable_t *t)
{
    char *sql = select_sql(t);
    cds_sql_stmt_t *src = sql ? cds_sql_prepare(store_sql(m->src), sql, 0)
                              : NULL;
    free(sql);
    if (!src)
        return fail(m, CDS_ERROR, "cannot read table %s of the source",
                    t->name);
    store_copy_table_t ct = { t->name, (const char *const *) t->cols,
                              t->n_cols, t->late, t->key,
                              seeded_index(t->name) >= 0 };
    double t0 = now_s();
    int code = store_copy_rows(m->dst, &ct, src, m->o->batch, progress, m,
                               &t->rows, &t->bytes);
    t->secs = now_s() - t0;
    cds_sql_finalize(&src);
    if (code != CDS_OK) {
        char how[512];
        how_to_empty(m, how, sizeof how);
        return fail(m, code, "copying table %s into %s failed after %lld "
                    "rows (%s); the rows committed so far stay: %s",
                    t->name, m->where, (long long) t->rows,
                    cds_strerror(code), how);
    }
    return CDS_OK;
}

/* ---- digests ------------------------------------------------------------- */

static void
hash_u64(crypto_generichash_state *h, char tag, uint64_t v)
{
    uint8_t b[9] = { (uint8_t) tag };
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t) (v >> (8 * i));
    crypto_generichash_update(h, b, sizeof b);
}

/* One row's typed values into sum (+= BLAKE2b-256 of them). */
static void
digest_row(cds_sql_stmt_t *st, int n, uint8_t sum[crypto_generichash_BYTES])
{
    crypto_generichash_state h;
    uint8_t row[crypto_generichash_BYTES];
    crypto_generichash_init(&h, NULL, 0, sizeof row);
    for (int i = 0; i < n; i++) {
        int type = cds_sql_col_type(st, i);
        double d = type == CDS_SQL_FLOAT ? cds_sql_col_double(st, i) : 0;
        int64_t v = type == CDS_SQL_INTEGER ? cds_sql_col_int64(st, i) : 0;
        if (type == CDS_SQL_FLOAT && d >= -9.2e18 && d <= 9.2e18
            && d == (double) (int64_t) d) {
            type = CDS_SQL_INTEGER;     /* 3.0 and 3 digest alike */
            v = (int64_t) d;
        }
        if (type == CDS_SQL_INTEGER)
            hash_u64(&h, 'I', (uint64_t) v);
        else if (type == CDS_SQL_FLOAT) {
            uint64_t bits;
            memcpy(&bits, &d, sizeof bits);
            hash_u64(&h, 'F', bits);
        } else if (type == CDS_SQL_TEXT || type == CDS_SQL_BLOB) {
            const void *p = type == CDS_SQL_TEXT
                                ? (const void *) cds_sql_col_text(st, i)
                                : cds_sql_col_blob(st, i);
            size_t len = cds_sql_col_bytes(st, i);
            hash_u64(&h, type == CDS_SQL_TEXT ? 'T' : 'B', len);
            if (len)
                crypto_generichash_update(&h, p, len);
        } else
            hash_u64(&h, 'N', 0);
    }
    crypto_generichash_final(&h, row, sizeof row);
    sodium_add(sum, row, sizeof row);
}

/* On PostgreSQL the rows are read through a cursor, a FETCH_PAGE at a
 * time (cds_sql holds a whole result). */
int
migrate_digest(cds_sql_t *db, const char *table, const char *const *cols,
               int n, uint8_t sum[MIGRATE_DIGEST_BYTES], int64_t *rows)
{
    bool pg = cds_sql_backend(db) == CDS_SQL_POSTGRESQL;
    char *sel = select_cols(table, cols, n), *decl = NULL;
    memset(sum, 0, crypto_generichash_BYTES);
    *rows = 0;
    if (!sel || (pg && asprintf(&decl, "DECLARE migrate_scan NO SCROLL "
                                "CURSOR FOR %s", sel) < 0)) {
        free(sel);
        return CDS_ENOMEM;
    }
    int code = cds_sql_begin_read(db);
    if (code == CDS_OK && pg)
        code = cds_sql_exec(db, decl);
    cds_sql_stmt_t *st = code != CDS_OK ? NULL
                         : cds_sql_prepare(db, pg ? FETCH_PAGE : sel, 0);
    int rc = st ? CDS_SQL_ROW : CDS_ERROR;
    for (int64_t page = 1; st && page > 0;) {
        page = 0;
        while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
            digest_row(st, n, sum);
            (*rows)++;
            page++;
        }
        if (!pg || rc != CDS_SQL_DONE)
            break;                      /* a FETCH of no row: the end */
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_finalize(&st);
    cds_sql_rollback(db);               /* read only: nothing to keep */
    free(sel);
    free(decl);
    return code;
}

static void
hex16(const uint8_t *b, char out[17])
{
    sodium_bin2hex(out, 17, b, 8);
}

/* Count and digest of every table on both sides. */
static int
check_copy(migrate_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        mtable_t *t = &m->t[i];
        uint8_t d[crypto_generichash_BYTES];
        int64_t ns = 0, nd = 0;
        const char *const *cols = (const char *const *) t->cols;
        int code = migrate_digest(store_sql(m->src), t->name, cols, t->n_cols,
                                  t->sum, &ns);
        if (code == CDS_OK)
            code = migrate_digest(store_sql(m->dst), t->name, cols,
                                  t->n_cols, d, &nd);
        if (code != CDS_OK)
            return fail(m, code, "reading table %s for the check failed (%s)",
                        t->name, cds_strerror(code));
        char hs[17], hd[17];
        hex16(t->sum, hs);
        hex16(d, hd);
        if (ns != nd || ns != t->rows || memcmp(t->sum, d, sizeof d) != 0)
            return fail(m, CDS_ECORRUPT, "table %s differs after the copy: "
                        "source %lld rows, digest %s; copy %lld rows, digest "
                        "%s", t->name, (long long) ns, hs, (long long) nd, hd);
    }
    return CDS_OK;
}

/* ---- after the copy ------------------------------------------------------ */

/* `verify` on the copy: its problems printed to out. */
static int
verify_copy(migrate_t *m)
{
    audit_summary_t sum;
    m->verified = true;
    int code = audit_run(m->dst, m->o->agg_pk, m->o->out, &sum);
    if (code != CDS_OK)
        return fail(m, code, "verify on %s failed to run (%s)", m->where,
                    cds_strerror(code));
    fprintf(m->o->out, "verify %s: %llu batches, %llu history rows, %llu "
            "values checked; %llu problem%s\n", m->where,
            (unsigned long long) sum.batches, (unsigned long long) sum.history,
            (unsigned long long) sum.values, (unsigned long long) sum.problems,
            sum.problems == 1 ? "" : "s");
    if (sum.problems)
        return fail(m, CDS_EBADVALUE, "verify found %llu problems on the "
                    "copy (listed above)", (unsigned long long) sum.problems);
    return CDS_OK;
}

/* The destination's commit mark: a fresh one from the copied row. */
static int
mark_copy(migrate_t *m)
{
    /* Where the daemon will look for it: beside the SQLite file; for a
     * server, beside <state_dir>/aggregator.db, the source's path (the
     * mark file of the source is then replaced by the copy's: same db_id
     * and counter, and a return to the source after the daemon acked more
     * on the copy is refused as behind, as it should be). */
    const char *base = cds_sql_backend(store_sql(m->dst)) == CDS_SQL_SQLITE
                           ? NULL : m->o->from;
    commitmark_t *mark = commitmark_new(m->dst, base);
    commitmark_state_t st = COMMITMARK_OK;
    char msg[1536] = "";
    int code = mark ? commitmark_check(mark, &st, msg, sizeof msg)
                    : CDS_ENOMEM;
    /* Run as root, the new files must stay the service user's. */
    if (code == CDS_OK && m->o->owner_like) {
        backup_own_like(commitmark_path(mark), m->o->owner_like);
        if (!base)
            backup_own_like(m->o->to, m->o->owner_like);
    }
    bool runnable = commitmark_state_runs(st);
    if (code == CDS_OK && runnable)
        fprintf(m->o->out, "commit mark %s: %s (%s): the aggregator starts "
                "on the copy\n", commitmark_path(mark),
                st == COMMITMARK_OK ? "matches the copy"
                                    : "written for the copy",
                commitmark_state_name(st));
    if (code == CDS_OK && !runnable)
        code = fail(m, CDS_EBADVALUE, "%s; the copy is complete, but the "
                    "aggregator will refuse it until you run `accept-restore` "
                    "with store = %s (an older mark file from an earlier "
                    "copy?)", msg, m->where);
    else if (code != CDS_OK)
        code = fail(m, code, "commit mark of %s: %s", m->where,
                    cds_strerror(code));
    commitmark_destroy(&mark);
    return code;
}

static void
summary(migrate_t *m)
{
    static const char *const head[] = { "table", "rows", "bytes", "seconds",
                                        "digest" };
    table_t *tb = table_new(head, 5);
    int64_t rows = 0;
    for (size_t i = 0; tb && i < m->n; i++) {
        const mtable_t *t = &m->t[i];
        char r[24], b[24], s[24], h[17];
        snprintf(r, sizeof r, "%lld", (long long) t->rows);
        snprintf(b, sizeof b, "%llu", (unsigned long long) t->bytes);
        snprintf(s, sizeof s, "%.2f", t->secs);
        hex16(t->sum, h);
        const char *cells[] = { t->name, r, b, s, h };
        table_add(tb, cells);
        rows += t->rows;
    }
    if (tb)
        table_print(tb, m->o->out);
    table_destroy(&tb);
    bool pg = cds_sql_backend(store_sql(m->dst)) == CDS_SQL_POSTGRESQL;
    fprintf(m->o->out,
            "copied %zu tables, %lld rows into %s; counts and digests equal, "
            "%s.\nNext: set `store = %s` in [aggregator] of "
            "aggregator.ini%s, start the aggregator, and keep %s untouched "
            "as the way back.\n",
            m->n, (long long) rows, m->where,
            m->verified ? "verify clean" : "verify NOT run (see above)",
            m->where, pg ? " (with the real password where *** stands)" : "",
            m->o->from);
}

/* ---- the command --------------------------------------------------------- */

static int
open_both(migrate_t *m)
{
    int code = CDS_OK;
    if (cds_sql_is_server(m->o->from))
        return fail(m, CDS_EUSAGE, "the configured store is a server "
                    "already: migrate-store copies the SQLite store");
    if (!cds_sql_is_server(m->o->to) && strcmp(m->o->to, m->o->from) == 0)
        return fail(m, CDS_EUSAGE, "--to names the source store itself");
    m->src = store_open(m->o->from, CDS_DB_READONLY, &code);
    if (!m->src)
        return fail(m, code, "%s: cannot open the source store (%s)%s",
                    m->o->from, cds_strerror(code),
                    code == CDS_EVERSION ? "; an older schema: `run` the "
                    "aggregator once to migrate it, stop it, then copy" : "");
    m->dst = store_open(m->o->to, 0, &code);
    if (!m->dst)
        return fail(m, code, "%s: cannot open the destination (%s)%s",
                    m->where, cds_strerror(code),
                    code == CDS_EBUSY ? ": is the server running and "
                    "reachable?" : code == CDS_EPERM ? ": login refused"
                    : code == CDS_EUSAGE ? ": not a usable URL or path" : "");
    return CDS_OK;
}

static int
migrate_run(migrate_t *m)
{
    int code = open_both(m);
    if (code == CDS_OK)
        code = read_tables(m);
    if (code == CDS_OK)
        code = sort_tables(m);
    if (code == CDS_OK)
        code = check_destination(m);
    int rc = code == CDS_OK ? cds_sql_begin_read(store_sql(m->src)) : code;
    for (size_t i = 0; rc == CDS_OK && i < m->n; i++)
        rc = copy_table(m, &m->t[i]);
    if (code == CDS_OK)
        cds_sql_rollback(store_sql(m->src));
    if (rc == CDS_OK && (rc = store_copy_identities(m->dst)) != CDS_OK)
        rc = fail(m, rc, "setting the id sequences of %s failed", m->where);
    if (rc == CDS_OK)
        rc = check_copy(m);
    if (rc == CDS_OK)
        rc = verify_copy(m);
    if (rc == CDS_OK)
        rc = mark_copy(m);
    if (rc == CDS_OK)
        summary(m);
    return rc;
}

int
migrate_store(const migrate_opts_t *o, char *msg, size_t msglen)
{
    migrate_t m = { .o = o, .msg = msg, .msglen = msglen };
    msg[0] = '\0';
    m.where = cds_sql_is_server(o->to) ? cds_pg_redact(o->to) : strdup(o->to);
    if (!m.where)
        return fail(&m, CDS_ENOMEM, "out of memory");
    if (sodium_init() < 0)
        return fail(&m, CDS_ERROR, "libsodium failed to start");
    int code = migrate_run(&m);
    if (code != CDS_OK && !msg[0])
        fail(&m, code, "%s", cds_strerror(code));
    store_destroy(&m.dst);
    store_destroy(&m.src);
    for (size_t i = 0; i < m.n; i++) {
        for (int c = 0; c < m.t[i].n_cols; c++)
            free(m.t[i].cols[c]);
        for (int d = 0; d < m.t[i].n_deps; d++)
            free(m.t[i].deps[d]);
        free(m.t[i].cols);
        free(m.t[i].deps);
        free(m.t[i].name);
    }
    free(m.t);
    free(m.where);
    return code;
}
