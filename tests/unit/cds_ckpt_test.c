/*  cds_ckpt_test: the helper checkpoints when the writer's WAL passes its
 *  threshold, the writer checkpoints itself at the bound so the WAL stays
 *  bounded, kick/wait, and destroy gives SQLite's auto-checkpoint back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds_ckpt.h"
#include "cds_db.h"
#include "cds_err.h"
#include "testdb.h"

static char dir[] = "/tmp/cds_ckpt_test.XXXXXX";
static char path[160], wal[170];
static int test_no;

static const char *const migrations[] = {
    "CREATE TABLE item (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
};

static int
setup(void **state)
{
    (void) state;
    snprintf(path, sizeof path, "%s/t%d.db", dir, ++test_no);
    snprintf(wal, sizeof wal, "%s-wal", path);
    return 0;
}

static cds_db_t *
open_db(void)
{
    int err = 0;
    cds_db_t *db = cds_db_open(path, migrations, 1, 0, &err);
    assert_non_null(db);
    return db;
}

/* n autocommit inserts of one 4 KiB blob (about 2 WAL pages each). */
static void
insert(cds_db_t *db, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(cds_db_exec(db, "INSERT INTO item(body) "
                                         "VALUES (randomblob(4000))"),
                         CDS_OK);
}

static int64_t
query_int(cds_db_t *db, const char *sql)
{
    return testdb_int(cds_db_handle(db), sql);
}

static off_t
wal_size(void)
{
    struct stat sb;
    return stat(wal, &sb) == 0 ? sb.st_size : -1;
}

static void
test_helper_checkpoints(void **state)
{
    (void) state;
    cds_db_t *db = open_db();
    cds_ckpt_t *ck = cds_ckpt_new(db, 20, 100000);
    assert_non_null(ck);
    assert_int_equal(cds_ckpt_count(ck, NULL), 0);
    insert(db, 50);                    /* passes 20 pages: helper woken */
    assert_int_equal(cds_ckpt_wait(ck, 5000), CDS_OK);
    uint64_t by_writer = 99;
    assert_true(cds_ckpt_count(ck, &by_writer) >= 1);
    assert_int_equal(by_writer, 0);    /* never inside the writer's commit */
    /* The helper copied every frame: the log restarts at the next write,
     * so the WAL file stops growing. */
    off_t before = wal_size();
    insert(db, 5);
    assert_int_equal(cds_ckpt_wait(ck, 5000), CDS_OK);
    insert(db, 5);
    assert_true(wal_size() <= before);
    assert_int_equal(query_int(db, "SELECT count(*) FROM item"), 60);
    cds_ckpt_destroy(&ck);
    assert_null(ck);
    cds_ckpt_destroy(&ck);             /* NULL-safe */
    assert_int_equal(query_int(db, "PRAGMA wal_autocheckpoint"), 1000);
    cds_db_close(&db);
}

static void
test_writer_bound(void **state)
{
    (void) state;
    cds_db_t *db = open_db();
    /* Threshold = bound: every commit past 30 pages is checkpointed by
     * the writer itself, so the WAL never holds much more than that. */
    cds_ckpt_t *ck = cds_ckpt_new(db, 30, 30);
    assert_non_null(ck);
    off_t max = 0;
    for (int i = 0; i < 40; i++) {
        insert(db, 5);
        if (wal_size() > max)
            max = wal_size();
    }
    uint64_t by_writer = 0;
    cds_ckpt_count(ck, &by_writer);
    assert_true(by_writer >= 5);
    assert_true(max < 60 * 4200);      /* 40 x 5 x 2 pages written */
    cds_ckpt_destroy(&ck);
    cds_db_close(&db);
}

static void
test_kick_and_bad_args(void **state)
{
    (void) state;
    cds_db_t *db = open_db();
    assert_null(cds_ckpt_new(NULL, 10, 10));
    assert_null(cds_ckpt_new(db, 0, 10));
    assert_null(cds_ckpt_new(db, 10, 5));
    cds_ckpt_t *ck = cds_ckpt_new(db, 1000, 1000);
    assert_non_null(ck);
    insert(db, 3);                     /* below the threshold */
    cds_ckpt_kick(ck);
    assert_int_equal(cds_ckpt_wait(ck, 5000), CDS_OK);
    assert_true(cds_ckpt_count(ck, NULL) >= 1);
    cds_ckpt_destroy(&ck);
    cds_db_close(&db);
}

static int
group_setup(void **state)
{
    (void) state;
    return mkdtemp(dir) ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void) state;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_helper_checkpoints, setup),
        cmocka_unit_test_setup(test_writer_bound, setup),
        cmocka_unit_test_setup(test_kick_and_bad_args, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
