/*  backup_test: the daemon lock (a second taker is refused with CDS_EBUSY,
 *  released on close), backup_make (four files 0600, no overwrite without
 *  force, never onto the live database), backup_restore (a changed byte or
 *  a manifest without its fields refused with nothing changed; the restored
 *  copy in place with the replaced file's mode, the old one kept, a mark
 *  written ahead of the copy when none existed, an existing mark left
 *  alone, a backup of a newer schema refused), backup_before_migrate (a
 *  restorable set before an upgrade, none when current) and backup_own_like;
 *  a PostgreSQL store refused by backup and restore with a message naming
 *  PostgreSQL's tools and no password, nothing written. Every public
 *  function of backup.h runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testdir.h"
#include "backup.h"
#include "cds_err.h"
#include "commitmark.h"
#include "store.h"

typedef struct {
    char dir[64];
    char db[128], id[128], cat[128], file[128], p[256];
    backup_opts_t o;
    char msg[2048];
} fx_t;

static char *
path(fx_t *fx, const char *a, const char *b)
{
    snprintf(fx->p, sizeof fx->p, "%s%s", a, b);
    return fx->p;
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/cds-backup.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->db, sizeof fx->db, "%s/aggregator.db", fx->dir);
    snprintf(fx->id, sizeof fx->id, "%s/aggregator.key", fx->dir);
    snprintf(fx->cat, sizeof fx->cat, "%s/catalog.csv", fx->dir);
    snprintf(fx->file, sizeof fx->file, "%s/bk.db", fx->dir);
    int err = 0;
    store_t *s = store_open(fx->db, 0, &err);
    assert_non_null(s);
    store_destroy(&s);
    assert_int_equal(cds_identity_generate(fx->id, "agg"), CDS_OK);
    FILE *f = fopen(fx->cat, "w");
    fputs("uid,name\n", f);
    fclose(f);
    fx->o = (backup_opts_t) { .db_path = fx->db, .identity_path = fx->id,
                              .catalog_path = fx->cat, .file = fx->file };
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
test_lock(void **state)
{
    fx_t *fx = *state;
    int code = CDS_ERROR;
    int a = backup_lock_try(fx->db, &code);
    assert_true(a >= 0);
    assert_int_equal(code, CDS_OK);
    assert_int_equal(backup_lock_try(fx->db, &code), -1);
    assert_int_equal(code, CDS_EBUSY);
    close(a);
    a = backup_lock_try(fx->db, &code);
    assert_true(a >= 0);
    close(a);
    assert_int_equal(backup_own_like(fx->cat, fx->db), 0);
}

static void
test_make(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(backup_make(&fx->o, fx->msg, sizeof fx->msg), CDS_OK);
    const char *sfx[] = { "", ".identity", ".catalog.csv", ".manifest" };
    struct stat st;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(stat(path(fx, fx->file, sfx[i]), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    assert_int_equal(backup_make(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_EUSAGE);
    assert_non_null(strstr(fx->msg, "--force"));
    fx->o.force = true;
    assert_int_equal(backup_make(&fx->o, fx->msg, sizeof fx->msg), CDS_OK);
    fx->o.file = fx->db;
    assert_int_equal(backup_make(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_EUSAGE);
    assert_non_null(strstr(fx->msg, "live database"));
}

static void
test_postgresql_store(void **state)
{
    fx_t *fx = *state;
    fx->o.store = "postgresql://cdsync:s3cret@127.0.0.1:5432/cds";
    assert_int_equal(backup_make(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_EUSAGE);
    assert_non_null(strstr(fx->msg, "back it up with PostgreSQL's tools"));
    assert_non_null(strstr(fx->msg, "pg_dump"));
    assert_null(strstr(fx->msg, "s3cret"));
    struct stat st;
    assert_int_not_equal(stat(path(fx, fx->file, ".manifest"), &st), 0);
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_EUSAGE);
    assert_non_null(strstr(fx->msg, "restore it with PostgreSQL's tools"));
    assert_int_equal(backup_before_migrate(&fx->o, 1000, fx->msg,
                                           sizeof fx->msg), CDS_OK);
    assert_string_equal(fx->msg, "");
}

/* Flip one byte of the file at p. */
static void
flip(const char *p, off_t at)
{
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c = 0;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0xff;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void
test_restore(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(backup_make(&fx->o, fx->msg, sizeof fx->msg), CDS_OK);
    assert_int_equal(chmod(fx->db, 0640), 0);
    /* A changed byte: refused, the live file as it was. */
    flip(fx->file, 200);
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_ECORRUPT);
    assert_non_null(strstr(fx->msg, "differs"));
    assert_int_equal(access(path(fx, fx->db, ".pre-restore"), F_OK), -1);
    flip(fx->file, 200);
    /* No mark: one written ahead of the copy (run will refuse). */
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_OK);
    struct stat st;
    assert_int_equal(stat(fx->db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(access(path(fx, fx->db, ".pre-restore"), F_OK), 0);
    commitmark_record_t m;
    assert_int_equal(commitmark_file_read(path(fx, fx->db, ".commitmark"),
                                          &m), CDS_OK);
    assert_int_equal(m.counter, 1);
    /* An existing mark is left alone. */
    m.counter = 9;
    assert_int_equal(commitmark_file_write(fx->p, &m), CDS_OK);
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_OK);
    assert_int_equal(commitmark_file_read(fx->p, &m), CDS_OK);
    assert_int_equal(m.counter, 9);
    /* A backup from a newer program (downgrade): refused. */
    FILE *f = fopen(path(fx, fx->file, ".manifest"), "a");
    fprintf(f, "schema_version=%d\n", store_schema_version() + 1);
    fclose(f);
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_EVERSION);
    assert_non_null(strstr(fx->msg, "newer than this program"));
    /* A manifest without its fields. */
    f = fopen(path(fx, fx->file, ".manifest"), "w");
    fputs("format=cdsync-aggregator-backup 1\n", f);
    fclose(f);
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_ECORRUPT);
    unlink(fx->p);
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_ENOTFOUND);
}

/* user_version of the database at p. */
static int
schema_of(const char *p)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void
set_schema(const char *p, int v)
{
    sqlite3 *db = NULL;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Before an upgrade: nothing for a current or absent database; a full,
 * restorable set at <db>.pre-vN for an older one; an error (so no
 * migration) when it cannot be written. */
static void
test_before_migrate(void **state)
{
    fx_t *fx = *state;
    int n = store_schema_version();
    char pre[160];
    snprintf(pre, sizeof pre, "%s.pre-v%d", fx->db, n);
    assert_int_equal(backup_before_migrate(&fx->o, n, fx->msg,
                                           sizeof fx->msg), CDS_OK);
    assert_string_equal(fx->msg, "");
    assert_int_equal(access(pre, F_OK), -1);
    set_schema(fx->db, n - 1);
    assert_int_equal(backup_before_migrate(&fx->o, n, fx->msg,
                                           sizeof fx->msg), CDS_OK);
    assert_non_null(strstr(fx->msg, pre));
    assert_int_equal(schema_of(pre), n - 1);
    char want[64];
    snprintf(want, sizeof want, "schema_version=%d\n", n - 1);
    FILE *f = fopen(path(fx, pre, ".manifest"), "r");
    assert_non_null(f);
    char line[256];
    bool found = false;
    while (fgets(line, sizeof line, f))
        found |= strcmp(line, want) == 0;
    fclose(f);
    assert_true(found);
    /* A second attempt (the first migration failed) replaces it. */
    assert_int_equal(backup_before_migrate(&fx->o, n, fx->msg,
                                           sizeof fx->msg), CDS_OK);
    /* The restore of that set is accepted by this program. */
    fx->o.file = pre;
    assert_int_equal(backup_restore(&fx->o, fx->msg, sizeof fx->msg),
                     CDS_OK);
    assert_int_equal(schema_of(fx->db), n - 1);
    /* Cannot be written: an error, and the caller does not migrate. */
    assert_int_equal(unlink(pre), 0);
    assert_int_equal(mkdir(pre, 0700), 0);
    assert_int_not_equal(backup_before_migrate(&fx->o, n, fx->msg,
                                               sizeof fx->msg), CDS_OK);
    assert_true(fx->msg[0] != '\0');
    assert_int_equal(rmdir(pre), 0);
    /* No database yet: nothing to keep. */
    fx->o.db_path = path(fx, fx->dir, "/none.db");
    assert_int_equal(backup_before_migrate(&fx->o, n, fx->msg,
                                           sizeof fx->msg), CDS_OK);
    assert_string_equal(fx->msg, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_make, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_migrate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgresql_store, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
