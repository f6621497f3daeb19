/*  cds_db_test: open/configure/migrate, refusal of newer and corrupt files,
 *  read-only opens of a WAL database, transactions, busy and full
 *  databases, binds, quick_check, error mapping. On Windows the two
 *  tests that fork a second process are left out (the daemon's lock and
 *  the Wine integration test cover two processes there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#endif
#include <unistd.h>

#include "cds_db.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"
#include "testdb.h"

static char dir[] = "/tmp/cds_db_test.XXXXXX";
static char path[128]; /* fresh database file per test */
static char log_path[128];
static int saved_fd = -1;
static int test_no;

static const char *const migrations[] = {
    "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE runs (m INTEGER NOT NULL);"
    "INSERT INTO runs VALUES (1);",
    "CREATE TABLE child (id INTEGER PRIMARY KEY,"
    " item_id INTEGER NOT NULL REFERENCES item(id));"
    "INSERT INTO runs VALUES (2);",
    "ALTER TABLE item ADD COLUMN note TEXT;"
    "INSERT INTO runs VALUES (3);",
};

static void
capture_start(void)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    saved_fd = dup(STDERR_FILENO);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

static char *
capture_end(void)
{
    char *data = NULL;
    assert_int_equal(dup2(saved_fd, STDERR_FILENO), STDERR_FILENO);
    close(saved_fd);
    assert_int_equal(cds_read_file(log_path, 1 << 20, &data, NULL), CDS_OK);
    return data;
}

static int
group_setup(void **state)
{
    cds_log_init("cds_db_test", CDS_LOG_WARN); /* quiet: no db_migrated */
    if (!mkdtemp(dir))
        return -1;
    snprintf(log_path, sizeof log_path, "%s/stderr", dir);
    return 0;
}

static int
group_teardown(void **state)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
    snprintf(path, sizeof path, "%s/t%d.db", dir, ++test_no);
    return 0;
}

static cds_db_t *
open_ok(int n, int flags)
{
    int err = -1;
    cds_db_t *db = cds_db_open(path, migrations, n, flags, &err);
    assert_non_null(db);
    assert_int_equal(err, CDS_OK);
    return db;
}

static long long
query_int(cds_db_t *db, const char *sql)
{
    return testdb_int(cds_db_handle(db), sql);
}

static const char *
query_text(cds_db_t *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(cds_db_handle(db), sql, -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return buf;
}

static void
test_migrations_forward_once(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    assert_string_equal(cds_db_path(db), path);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(query_int(db, "SELECT group_concat(m) = '1,2' FROM runs"),
                     1);
    assert_int_equal(cds_db_exec(db, "INSERT INTO item(name) VALUES ('kept')"),
                     CDS_OK);
    cds_db_close(&db);
    assert_null(db);

    db = open_ok(2, 0); /* same version: nothing runs again */
    assert_int_equal(query_int(db, "SELECT count(*) FROM runs"), 2);
    cds_db_close(&db);

    db = open_ok(3, 0); /* one newer migration: only it runs */
    assert_int_equal(query_int(db, "PRAGMA user_version"), 3);
    assert_int_equal(
        query_int(db, "SELECT group_concat(m) = '1,2,3' FROM runs"), 1);
    assert_int_equal(query_int(db,
                               "SELECT count(*) FROM item WHERE name = 'kept'"
                               " AND note IS NULL"),
                     1);
    cds_db_close(&db);
    cds_db_close(&db); /* NULL: no-op */
}

/* Pending migrations apply all or nothing: a failing third migration on a
 * new database leaves it at version 0 with none of the first two's
 * tables, and another process never sees a version between. */
static void
test_migrations_all_or_nothing(void **state)
{
    static const char *const bad[] = {
        "CREATE TABLE a (x INTEGER);",
        "CREATE TABLE b (y INTEGER);",
        "CREATE TABLE a (x INTEGER);",  /* fails: a exists */
    };
    int err = -1;
    capture_start();
    cds_db_t *db = cds_db_open(path, bad, 3, 0, &err);
    char *log = capture_end();
    assert_null(db);
    assert_int_not_equal(err, CDS_OK);
    assert_non_null(strstr(log, "db_migration_failed"));
    assert_non_null(strstr(log, "migration=3"));
    assert_null(strstr(log, "db_migrated"));
    free(log);
    db = open_ok(0, 0);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master"), 0);
    cds_db_close(&db);
    db = cds_db_open(path, bad, 2, 0, &err); /* the good two: both at once */
    assert_non_null(db);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 2);
    cds_db_close(&db);
}

static void
test_newer_version_refused(void **state)
{
    cds_db_t *db = open_ok(3, 0);
    cds_db_close(&db);
    int err = -1;
    capture_start();
    db = cds_db_open(path, migrations, 2, 0, &err);
    char *log = capture_end();
    assert_null(db);
    assert_int_equal(err, CDS_EVERSION);
    assert_non_null(strstr(log, path));
    assert_non_null(strstr(log, "version=3 supported=2"));
    free(log);
    db = open_ok(3, 0); /* refusal changed nothing */
    assert_int_equal(query_int(db, "PRAGMA user_version"), 3);
    cds_db_close(&db);
}

static void
test_garbage_is_corrupt(void **state)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 2000; i++)
        fputs("this is not a database ", f);
    fclose(f);
    int err = -1;
    capture_start();
    cds_db_t *db = cds_db_open(path, migrations, 3, 0, &err);
    char *log = capture_end();
    assert_null(db);
    assert_int_equal(err, CDS_ECORRUPT);
    assert_non_null(strstr(log, "event=db_corrupt"));
    assert_non_null(strstr(log, path));
    free(log);
    capture_start();
    db = cds_db_open(path, migrations, 3, CDS_DB_READONLY, &err);
    free(capture_end());
    assert_null(db);
    assert_int_equal(err, CDS_ECORRUPT);
}

static void
test_unopenable_is_io(void **state)
{
    char missing[200];
    int err = -1;
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.db", dir);
    capture_start();
    cds_db_t *db = cds_db_open(missing, migrations, 1, 0, &err);
    char *log = capture_end();
    assert_null(db);
    assert_int_equal(err, CDS_EIO);
    assert_non_null(strstr(log, "event=db_error"));
    assert_non_null(strstr(log, missing));
    free(log);
    capture_start();
    db = cds_db_open(path, migrations, 1, CDS_DB_READONLY, &err); /* absent */
    free(capture_end());
    assert_null(db);
    assert_int_equal(err, CDS_EIO);
}

static void
test_pragmas(void **state)
{
    char buf[32];
    cds_db_t *db = open_ok(2, 0);
    assert_string_equal(query_text(db, "PRAGMA journal_mode", buf, sizeof buf),
                        "wal");
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    capture_start(); /* foreign keys are really enforced */
    int rc = cds_db_exec(db, "INSERT INTO child(item_id) VALUES (999)");
    char *log = capture_end();
    assert_int_equal(rc, CDS_ERROR);
    assert_non_null(strstr(log, "FOREIGN KEY"));
    free(log);
    cds_db_close(&db);
}

static void
test_readonly(void **state)
{
    char buf[32];
    int err = -1;
    cds_db_t *w = open_ok(2, 0);
    assert_int_equal(cds_db_exec(w, "INSERT INTO item(name) VALUES ('a')"),
                     CDS_OK);

    cds_db_t *r = open_ok(2, CDS_DB_READONLY); /* writer still open */
    assert_int_equal(query_int(r, "SELECT count(*) FROM item"), 1);
    assert_string_equal(query_text(r, "PRAGMA journal_mode", buf, sizeof buf),
                        "wal");
    assert_int_equal(query_int(r, "PRAGMA synchronous"), 2);
    assert_int_equal(query_int(r, "PRAGMA foreign_keys"), 1);
    capture_start();
    int rc = cds_db_exec(r, "INSERT INTO item(name) VALUES ('b')");
    free(capture_end());
    assert_int_not_equal(rc, CDS_OK);
    cds_db_close(&r);
    cds_db_close(&w); /* last writer gone: -wal removed */

    r = open_ok(2, CDS_DB_READONLY);
    assert_int_equal(query_int(r, "SELECT count(*) FROM item"), 1);
    cds_db_close(&r);

    capture_start(); /* read-only cannot migrate: refused */
    r = cds_db_open(path, migrations, 3, CDS_DB_READONLY, &err);
    free(capture_end());
    assert_null(r);
    assert_int_equal(err, CDS_EVERSION);
}

static void
test_transactions(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    assert_int_equal(cds_db_rollback(db), CDS_OK); /* none open: fine */
    assert_int_equal(cds_db_begin(db), CDS_OK);
    assert_int_equal(cds_db_exec(db, "INSERT INTO item(name) VALUES ('x')"),
                     CDS_OK);
    assert_int_equal(cds_db_rollback(db), CDS_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM item"), 0);
    assert_int_equal(cds_db_begin(db), CDS_OK);
    assert_int_equal(cds_db_exec(db, "INSERT INTO item(name) VALUES ('y')"),
                     CDS_OK);
    assert_int_equal(cds_db_commit(db), CDS_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM item"), 1);
    capture_start();
    int rc = cds_db_commit(db); /* nothing to commit */
    free(capture_end());
    assert_int_equal(rc, CDS_ERROR);
    cds_db_close(&db);
}

static void
test_busy(void **state)
{
    cds_db_t *a = open_ok(2, 0), *b = open_ok(2, 0);
    sqlite3_busy_timeout(cds_db_handle(b), 0); /* fail now, not in 5 s */
    assert_int_equal(cds_db_begin(a), CDS_OK);
    capture_start();
    int rc = cds_db_begin(b);
    char *log = capture_end();
    assert_int_equal(rc, CDS_EBUSY);
    assert_non_null(strstr(log, "what=exec code=busy"));
    free(log);
    assert_int_equal(cds_db_commit(a), CDS_OK);
    assert_int_equal(cds_db_begin(b), CDS_OK);
    assert_int_equal(cds_db_commit(b), CDS_OK);
    cds_db_close(&a);
    cds_db_close(&b);
}

#ifndef _WIN32      /* fork: Linux only */
/* A writer waits for another process's transaction instead of failing
 * (cds_db's busy handler retries until its 5 s deadline). */
static void
test_busy_waits(void **state)
{
    cds_db_t *b = open_ok(2, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        int err = 0;
        cds_db_t *a = cds_db_open(path, migrations, 2, 0, &err);
        int ok = a && cds_db_begin(a) == CDS_OK
                 && cds_db_exec(a, "INSERT INTO item(name) VALUES ('a')")
                        == CDS_OK;
        ssize_t w = write(fds[1], ok ? "1" : "0", 1);
        usleep(100000);                /* hold the lock: b must wait */
        ok = ok && w == 1 && cds_db_commit(a) == CDS_OK;
        cds_db_close(&a);
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, '1');          /* the child holds the write lock */
    assert_int_equal(cds_db_begin(b), CDS_OK);
    assert_int_equal(query_int(b, "SELECT count(*) FROM item"), 1);
    assert_int_equal(cds_db_commit(b), CDS_OK);
    int st = 0;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fds[0]);
    close(fds[1]);
    cds_db_close(&b);
}
#endif

/* Binding by name stays right when a statement is finalized and another
 * one, with the same parameter name at another index, is prepared (the
 * per-thread index cache must never bind the wrong parameter). */
static void
test_bind_cache(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    for (int round = 0; round < 50; round++) {
        const char *sql = round % 2 ? "SELECT :x, :y, :z" : "SELECT :z";
        int col = round % 2 ? 2 : 0;
        sqlite3_stmt *st = cds_db_prepare(db, sql);
        assert_non_null(st);
        cds_bind_int64(st, ":z", round);
        if (round % 2) {
            cds_bind_int64(st, ":x", -1);
            cds_bind_int64(st, ":y", -2);
        }
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(st, col), round);
        cds_stmt_done(st);
        sqlite3_finalize(st);
    }
    cds_db_close(&db);
}

static void
test_full(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    long long pages = query_int(db, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", pages + 4);
    assert_int_equal(cds_db_exec(db, sql), CDS_OK);
    const char *ins = "INSERT INTO item(name) VALUES (hex(randomblob(20000)))";
    capture_start();
    int rc = cds_db_exec(db, ins); /* autocommit */
    assert_int_equal(cds_db_begin(db), CDS_OK);
    int rc2 = cds_db_exec(db, ins); /* in a transaction */
    char *log = capture_end();
    assert_int_equal(rc, CDS_EFULL);
    assert_int_equal(rc2, CDS_EFULL);
    assert_non_null(strstr(log, "code=full"));
    free(log);
    assert_int_equal(cds_db_rollback(db), CDS_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM item"), 0);
    assert_true(cds_err_retryable(rc));
    cds_db_close(&db);
}

static void
test_prepare_and_bind(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    assert_int_equal(cds_db_exec(db, "CREATE TABLE v (t TEXT, i INTEGER,"
                                     " d REAL, b BLOB, n TEXT)"),
                     CDS_OK);
    sqlite3_stmt *ins =
        cds_db_prepare(db, "INSERT INTO v VALUES (:t, :i, :d, :b, :n)");
    assert_non_null(ins);
    for (int k = 0; k < 2; k++) { /* reused after done */
        cds_bind_text(ins, ":t", k ? NULL : "Hòa");
        cds_bind_int64(ins, ":i", INT64_MAX - k);
        cds_bind_double(ins, ":d", 2.5);
        cds_bind_blob(ins, ":b", "\x00\x01\x02", 3);
        cds_bind_null(ins, ":n");
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        cds_stmt_done(ins);
    }
    assert_int_equal(sqlite3_step(ins), SQLITE_DONE); /* bindings cleared */
    cds_stmt_done(ins);
    cds_stmt_done(NULL);
    sqlite3_finalize(ins);
    assert_int_equal(query_int(db, "SELECT count(*) FROM v WHERE t = 'Hòa'"
                                   " AND i = 9223372036854775807 AND d = 2.5"
                                   " AND b = x'000102' AND n IS NULL"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM v WHERE t IS NULL"
                                   " AND i = 9223372036854775806"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM v WHERE t IS NULL"
                                   " AND i IS NULL AND b IS NULL"),
                     1);
    capture_start();
    sqlite3_stmt *bad = cds_db_prepare(db, "SELEC nonsense");
    char *log = capture_end();
    assert_null(bad);
    assert_non_null(strstr(log, "what=prepare"));
    assert_non_null(strstr(log, "sql=\"SELEC nonsense\""));
    free(log);
    cds_db_close(&db);
}

static void
test_fail_logs(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    sqlite3_stmt *st =
        cds_db_prepare(db, "INSERT INTO item(name) VALUES (NULL)");
    assert_non_null(st);
    assert_int_not_equal(sqlite3_step(st), SQLITE_DONE);
    capture_start();
    int rc = cds_db_fail(db, "insert item");
    char *log = capture_end();
    cds_stmt_done(st);
    sqlite3_finalize(st);
    assert_int_equal(rc, CDS_ERROR);
    assert_non_null(strstr(log, "event=db_error"));
    assert_non_null(strstr(log, path));
    assert_non_null(strstr(log, "what=\"insert item\""));
    assert_non_null(strstr(log, "NOT NULL constraint failed"));
    free(log);
    cds_db_close(&db);
}

static void
test_quick_check(void **state)
{
    cds_db_t *db = open_ok(2, 0);
    assert_int_equal(cds_db_quick_check(db), CDS_OK);
    assert_int_equal(
        cds_db_exec(db, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL"
                        " SELECT x + 1 FROM n WHERE x < 2000)"
                        " INSERT INTO item(name) SELECT hex(randomblob(50))"
                        " FROM n"),
        CDS_OK);
    long long root = query_int(db, "SELECT rootpage FROM sqlite_schema"
                                   " WHERE name = 'item'");
    long long psize = query_int(db, "PRAGMA page_size");
    cds_db_close(&db); /* checkpointed into the main file */

    int fd = open(path, O_WRONLY); /* smash the table's root page */
    assert_true(fd >= 0);
    char junk[512];
    memset(junk, 0xA5, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, (root - 1) * psize),
                     (ssize_t)sizeof junk);
    close(fd);

    db = open_ok(2, 0); /* schema page intact: open succeeds */
    capture_start();
    int rc = cds_db_quick_check(db);
    char *log = capture_end();
    assert_int_equal(rc, CDS_ECORRUPT);
    assert_non_null(strstr(log, path));
    free(log);
    cds_db_close(&db);
}

static void
test_errcode(void **state)
{
    assert_int_equal(cds_db_errcode(SQLITE_OK), CDS_OK);
    assert_int_equal(cds_db_errcode(SQLITE_DONE), CDS_OK);
    assert_int_equal(cds_db_errcode(SQLITE_BUSY), CDS_EBUSY);
    assert_int_equal(cds_db_errcode(SQLITE_BUSY_SNAPSHOT), CDS_EBUSY);
    assert_int_equal(cds_db_errcode(SQLITE_LOCKED), CDS_EBUSY);
    assert_int_equal(cds_db_errcode(SQLITE_FULL), CDS_EFULL);
    assert_int_equal(cds_db_errcode(SQLITE_CORRUPT), CDS_ECORRUPT);
    assert_int_equal(cds_db_errcode(SQLITE_NOTADB), CDS_ECORRUPT);
    assert_int_equal(cds_db_errcode(SQLITE_IOERR), CDS_EIO);
    assert_int_equal(cds_db_errcode(SQLITE_IOERR_FSYNC), CDS_EIO);
    assert_int_equal(cds_db_errcode(SQLITE_CANTOPEN), CDS_EIO);
    assert_int_equal(cds_db_errcode(SQLITE_NOMEM), CDS_ENOMEM);
    assert_int_equal(cds_db_errcode(SQLITE_CONSTRAINT), CDS_ERROR);
    assert_int_equal(cds_db_errcode(SQLITE_ERROR), CDS_ERROR);
}

#ifndef _WIN32      /* fork: Linux only */
/* Two processes creating the same new database at once (a `submit` beside
 * the daemon on the first day) must both succeed: switching to WAL answers
 * BUSY without the busy handler, and cds_db_open retries it. */
static void
test_concurrent_first_open(void **state)
{
    (void) state;
    int failures = 0;
    for (int round = 0; round < 20; round++) {
        char p[160];
        snprintf(p, sizeof p, "%s/race%d.db", dir, round);
        pid_t kids[2];
        for (int k = 0; k < 2; k++) {
            kids[k] = fork();
            assert_true(kids[k] >= 0);
            if (kids[k] == 0) {
                int err = 0;
                cds_db_t *db = cds_db_open(p, migrations, 3, 0, &err);
                int ok = db && cds_db_exec(db, "INSERT INTO item(name)"
                                               " VALUES ('x')") == CDS_OK;
                cds_db_close(&db);
                _exit(ok ? 0 : 1);
            }
        }
        for (int k = 0; k < 2; k++) {
            int st = 0;
            assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                failures++;
        }
    }
    assert_int_equal(failures, 0);
}
#endif

/* An idle daemon gives back the page cache a catch-up filled (issue 19):
 * SQLite's own count of cache bytes falls, and the data stays readable. */
static void
test_release_memory(void **state)
{
    int used0 = 0, used1 = 0, hi = 0;
    cds_db_t *db = open_ok(2, 0);
    assert_int_equal(cds_db_exec(db, "CREATE TABLE big(b BLOB);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
        " WHERE i < 2000) INSERT INTO big SELECT randomblob(500) FROM n"),
                     CDS_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM big"), 2000);
    sqlite3_db_status(cds_db_handle(db), SQLITE_DBSTATUS_CACHE_USED, &used0,
                      &hi, 0);
    cds_db_release_memory(db);
    sqlite3_db_status(cds_db_handle(db), SQLITE_DBSTATUS_CACHE_USED, &used1,
                      &hi, 0);
    assert_true(used0 > 256 * 1024);   /* 2000 × 500 bytes were cached */
    assert_true(used1 < used0 / 4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM big"), 2000);
    cds_db_close(&db);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_migrations_forward_once),
        T(test_migrations_all_or_nothing),
        T(test_newer_version_refused),
        T(test_garbage_is_corrupt),
        T(test_unopenable_is_io),
        T(test_pragmas),
        T(test_readonly),
        T(test_transactions),
        T(test_busy),
#ifndef _WIN32
        T(test_busy_waits),
#endif
        T(test_bind_cache),
        T(test_full),
        T(test_prepare_and_bind),
        T(test_fail_logs),
        T(test_quick_check),
        T(test_errcode),
#ifndef _WIN32
        T(test_concurrent_first_open),
#endif
        T(test_release_memory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
