/*  commitmark_test: the mark file (round trip, mode 0600, absent, a torn
 *  slot falls back to the other, both damaged), the startup comparison in
 *  each state (created, adopted, ok, repaired, behind after a rollback of
 *  the database file, foreign, damaged), bump + sync, accept-restore (event
 *  recorded, mark reset, state ok again), the hello after a restore (loss
 *  recorded once, chain continued; nothing without a pending restore) and
 *  the listing. Every public function of commitmark.h is called.
 *  The PostgreSQL slot (CDSMARK2: the server's facts) round-trips and
 *  falls back to the other slot when torn. When CDS_TEST_PG_URL names a
 *  PostgreSQL database (tests/integration/pg_commitmark.sh sets it), the
 *  backend-neutral cases run again through a store there (created, ok,
 *  bump rolled back, repaired, no descriptor left, adopted), and the
 *  server-facts cases: another cluster, a new timeline (moved), a mark
 *  without facts, behind, accept-restore; and dbsize from the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testdir.h"
#include "testpg.h"
#include "cds_err.h"
#include "cds_log.h"
#include "cds_sql.h"
#include "cds_util.h"
#include "commitmark.h"
#include "dbsize.h"
#include "store.h"

typedef struct {
    const char *where;                 /* PostgreSQL URL, NULL: SQLite */
    char dir[64];
    char path[128];                    /* aggregator.db (on PostgreSQL
                                        * the mark's base only) */
    char mark[160];                    /* its sidecar */
    store_t *store;
    commitmark_t *cm;
    int64_t agent_id;
} fx_t;


static void
fx_open(fx_t *fx)
{
    int err = CDS_OK;
    fx->store = store_open(fx->where ? fx->where : fx->path, 0, &err);
    assert_non_null(fx->store);
    fx->cm = commitmark_new(fx->store, fx->where ? fx->path : NULL);
    assert_non_null(fx->cm);
}

static void
fx_close(fx_t *fx)
{
    commitmark_destroy(&fx->cm);
    assert_null(fx->cm);
    store_destroy(&fx->store);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->where = *state;                /* prestate: a URL on PostgreSQL */
    if (fx->where)
        testpg_reset(fx->where);
    strcpy(fx->dir, "/tmp/cds-cmark.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/aggregator.db", fx->dir);
    snprintf(fx->mark, sizeof fx->mark, "%s.commitmark", fx->path);
    fx_open(fx);
    uint8_t pk[32], curve[32];
    memset(pk, 7, sizeof pk);
    memset(curve, 8, sizeof curve);
    const char *units[] = { "OU1" };
    assert_int_equal(store_agent_enroll(fx->store, pk, curve, "a1", units, 1,
                                        1000, &fx->agent_id), CDS_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    fx_close(fx);
    testdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Check the mark and return the state found (either backend). */
static commitmark_state_t
check_on(commitmark_t *cm, char *msg, size_t len)
{
    commitmark_state_t st = COMMITMARK_DAMAGED;
    assert_int_equal(commitmark_check(cm, &st, msg, len), CDS_OK);
    return st;
}

/* One group commit that acks: bump in a transaction, commit, sync. */
static void
group_on(cds_sql_t *db, commitmark_t *cm)
{
    assert_int_equal(cds_sql_begin(db), CDS_OK);
    assert_int_equal(commitmark_bump(cm), CDS_OK);
    assert_int_equal(cds_sql_commit(db), CDS_OK);
    assert_int_equal(commitmark_sync(cm), CDS_OK);
}

static commitmark_state_t
check(fx_t *fx, char *msg, size_t len)
{
    return check_on(fx->cm, msg, len);
}

static void
group(fx_t *fx)
{
    group_on(store_sql(fx->store), fx->cm);
}

static uint64_t
mark_counter(fx_t *fx)
{
    commitmark_record_t r;
    assert_int_equal(commitmark_file_read(fx->mark, &r), CDS_OK);
    return r.counter;
}

static void
test_file_round_trip(void **state)
{
    fx_t *fx = *state;
    char p[200];
    snprintf(p, sizeof p, "%s/x.commitmark", fx->dir);
    commitmark_record_t w = { .counter = 41 }, r;
    memset(w.db_id, 0xab, sizeof w.db_id);
    assert_int_equal(commitmark_file_read(p, &r), CDS_ENOTFOUND);
    assert_int_equal(commitmark_file_write(p, &w), CDS_OK);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(commitmark_file_read(p, &r), CDS_OK);
    assert_int_equal(r.counter, 41);
    assert_memory_equal(r.db_id, w.db_id, sizeof w.db_id);
    w.counter = 42;                    /* the other slot */
    assert_int_equal(commitmark_file_write(p, &w), CDS_OK);
    assert_int_equal(commitmark_file_read(p, &r), CDS_OK);
    assert_int_equal(r.counter, 42);
    /* A torn write of slot 0 (counter 42): slot 1 (41) is the mark. */
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "torn", 4, 20), 4);
    assert_int_equal(commitmark_file_read(p, &r), CDS_OK);
    assert_int_equal(r.counter, 41);
    assert_int_equal(pwrite(fd, "torn", 4, 512 + 30), 4);
    close(fd);
    assert_int_equal(commitmark_file_read(p, &r), CDS_ECORRUPT);
}

static void
test_created_ok_bump(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    assert_string_equal(commitmark_path(fx->cm), fx->mark);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_CREATED);
    assert_int_equal(mark_counter(fx), 0);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_OK);
    assert_string_equal(msg, "");
    assert_int_equal(commitmark_sync(fx->cm), CDS_OK);  /* nothing bumped */
    group(fx);
    group(fx);
    commitmark_record_t d, m;
    assert_int_equal(commitmark_db_get(fx->cm, &d), CDS_OK);
    assert_int_equal(d.counter, 2);
    assert_int_equal(mark_counter(fx), 2);
    assert_int_equal(commitmark_file_read(fx->mark, &m), CDS_OK);
    assert_memory_equal(m.db_id, d.db_id, COMMITMARK_ID_BYTES);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_OK);
    /* A bump that rolls back leaves the database and the mark alone. */
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(commitmark_bump(fx->cm), CDS_OK);
    assert_int_equal(cds_sql_rollback(store_sql(fx->store)), CDS_OK);
    assert_int_equal(commitmark_db_get(fx->cm, &d), CDS_OK);
    assert_int_equal(d.counter, 2);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_OK);
}

/* Checked at start, the mark file stays open: with every descriptor taken
 * (a peer's idle connections), a group commit still writes the mark and
 * its acks may leave. On main the file was opened at the first sync and
 * that failed with EMFILE (then `run` exited). */
static void
test_no_fds_left(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    struct rlimit was, low;
    int fds[256], n = 0;
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_CREATED);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
    low = was;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (n < 256 && (fds[n] = dup(0)) >= 0)
        n++;
    assert_true(n < 256);      /* the table is full: EMFILE */
    assert_int_equal(errno, EMFILE);
    group(fx);
    group(fx);
    while (n > 0)
        close(fds[--n]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
    assert_int_equal(mark_counter(fx), 2);
}

static void
test_repaired(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    check(fx, msg, sizeof msg);
    group(fx);
    /* Crash between COMMIT and the mark write: database 2, mark 1. */
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(commitmark_bump(fx->cm), CDS_OK);
    assert_int_equal(cds_sql_commit(store_sql(fx->store)), CDS_OK);
    assert_int_equal(mark_counter(fx), 1);
    fx_close(fx);
    fx_open(fx);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_REPAIRED);
    assert_non_null(strstr(msg, "counter 2 ahead of the mark 1"));
    assert_int_equal(mark_counter(fx), 2);
}

/* Copy file from to to (the "backup"). */
static void
copy_file(const char *from, const char *to)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(cds_read_file(from, 1 << 24, &data, &len), 0);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(data);
}

static void
test_behind_accept_and_hello(void **state)
{
    fx_t *fx = *state;
    char msg[1536], backup[200];
    check(fx, msg, sizeof msg);
    group(fx);
    /* Last night's backup, at counter 1 (closed: WAL checkpointed). */
    fx_close(fx);
    snprintf(backup, sizeof backup, "%s/backup.db", fx->dir);
    copy_file(fx->path, backup);
    fx_open(fx);
    group(fx);
    group(fx);
    /* The agent's seqs 1..5 were applied and acked after the backup. */
    uint8_t head[32];
    memset(head, 0x5a, sizeof head);
    assert_int_equal(store_agent_advance(fx->store, fx->agent_id, 5, head),
                     CDS_OK);
    fx_close(fx);
    copy_file(backup, fx->path);
    fx_open(fx);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_BEHIND);
    assert_non_null(strstr(msg, "counter 1 is behind the commit mark 3"));
    assert_non_null(strstr(msg, fx->path));
    assert_non_null(strstr(msg, "accept-restore"));
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_BEHIND);
    store_agent_t a;
    memset(&a, 0, sizeof a);
    uint8_t pk[32];
    memset(pk, 7, sizeof pk);
    assert_int_equal(store_agent_find(fx->store, pk, &a), CDS_OK);
    assert_int_equal(a.applied_seq, 0);
    uint64_t lf = 9, ll = 9;
    /* No restore accepted yet: the agent stays where it is (logged). */
    assert_int_equal(commitmark_hello(fx->cm, &a, 5, head, 32, 2000, &lf,
                                      &ll), CDS_OK);
    assert_int_equal(lf, 0);
    assert_int_equal(a.applied_seq, 0);
    int64_t ev = 0;
    assert_int_equal(commitmark_accept(fx->cm, COMMITMARK_BEHIND, "test",
                                       3000, &ev), CDS_OK);
    assert_int_equal(ev, 1);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_OK);
    assert_int_equal(mark_counter(fx), 1);
    assert_int_equal(commitmark_hello(fx->cm, &a, 5, head, 32, 4000, &lf,
                                      &ll), CDS_OK);
    assert_int_equal(lf, 1);
    assert_int_equal(ll, 5);
    assert_int_equal(a.applied_seq, 5);
    store_agent_t again;
    assert_int_equal(store_agent_find(fx->store, pk, &again), CDS_OK);
    assert_int_equal(again.applied_seq, 5);
    assert_memory_equal(again.applied_head, head, 32);
    /* Once only: a second hello ahead records nothing more. */
    assert_int_equal(commitmark_hello(fx->cm, &a, 9, head, 32, 5000, &lf,
                                      &ll), CDS_OK);
    assert_int_equal(lf, 0);
    assert_int_equal(a.applied_seq, 5);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(commitmark_print(fx->cm, f), CDS_OK);
    fclose(f);
    assert_non_null(strstr(out, "restore 1 at "));
    assert_non_null(strstr(out, "reason=behind database_counter=1 "
                                "mark_counter=3"));
    assert_non_null(strstr(out, "note=\"test\""));
    assert_non_null(strstr(out, "lost restore=1 agent="));
    assert_non_null(strstr(out, "label=\"a1\" seq=1..5"));
    free(out);
}

/* After an accepted restore an agent that keeps its signed batches from
 * applied + 1 is asked to resend them (nothing skipped); one that kept
 * them only from a later seq loses the part before (chain continued at
 * the head it gives) and resends the rest; with no restore pending, an
 * agent ahead that keeps everything is asked again (an interrupted
 * resend). `restores` counts what came back. */
static void
test_hello_kept(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    check(fx, msg, sizeof msg);
    store_agent_t a;
    uint8_t pk[32], head[32], prev[32];
    memset(pk, 7, sizeof pk);
    memset(head, 0x5a, sizeof head);
    memset(prev, 0x44, sizeof prev);
    assert_int_equal(store_agent_find(fx->store, pk, &a), CDS_OK);
    int64_t ev = 0;
    uint64_t lf = 9, ll = 9, rf = 9;
    assert_int_equal(commitmark_accept(fx->cm, COMMITMARK_OK, "t", 1000,
                                       &ev), CDS_OK);
    commitmark_hello_t h = { 5, head, 32, 1, prev, 32 };
    assert_int_equal(commitmark_hello_kept(fx->cm, &a, &h, 2000, &lf, &ll,
                                           &rf), CDS_OK);
    assert_int_equal(rf, 1);
    assert_int_equal(lf, 0);
    assert_int_equal(ll, 0);
    assert_int_equal(a.applied_seq, 0);           /* nothing skipped */
    /* Reconnected mid-resend: no restore pending, asked again. */
    assert_int_equal(commitmark_hello_kept(fx->cm, &a, &h, 2500, &lf, &ll,
                                           &rf), CDS_OK);
    assert_int_equal(rf, 1);
    /* Kept only from seq 4: 1..3 lost, the chain continues at 3. */
    assert_int_equal(commitmark_accept(fx->cm, COMMITMARK_OK, "t2", 3000,
                                       &ev), CDS_OK);
    h.kept_from = 4;
    assert_int_equal(commitmark_hello_kept(fx->cm, &a, &h, 4000, &lf, &ll,
                                           &rf), CDS_OK);
    assert_int_equal(rf, 4);
    assert_int_equal(lf, 1);
    assert_int_equal(ll, 3);
    assert_int_equal(a.applied_seq, 3);
    assert_memory_equal(a.applied_head, prev, 32);
    /* Kept from 6 (past applied 3 + 1) without the head before it: not
     * usable, nothing asked. */
    h.kept_prev_head_len = 0;
    h.kept_from = 6;
    h.acked_seq = 9;
    assert_int_equal(commitmark_hello_kept(fx->cm, &a, &h, 4500, &lf, &ll,
                                           &rf), CDS_OK);
    assert_int_equal(rf, 0);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(commitmark_print(fx->cm, f), CDS_OK);
    fclose(f);
    assert_non_null(strstr(out, "lost restore=1 agent="));
    assert_non_null(strstr(out, "seq=1..5 found="));
    assert_non_null(strstr(out, "recovered=0 not_recovered=5 (resend in "
                                "progress)"));
    free(out);
}

static void
test_foreign_and_damaged(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    check(fx, msg, sizeof msg);
    commitmark_record_t other = { .counter = 0 };
    memset(other.db_id, 0x11, sizeof other.db_id);
    unlink(fx->mark);
    assert_int_equal(commitmark_file_write(fx->mark, &other), CDS_OK);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_FOREIGN);
    assert_non_null(strstr(msg, "another database"));
    FILE *f = fopen(fx->mark, "w");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_DAMAGED);
    assert_non_null(strstr(msg, "damaged"));
    int64_t ev = 0;
    assert_int_equal(commitmark_accept(fx->cm, COMMITMARK_DAMAGED, NULL, 1,
                                       &ev), CDS_OK);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_OK);
}

static void
test_adopted(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    int64_t batch = 0;
    const uint8_t env[] = "signed envelope";
    /* A database from before the upgrade: it stored a batch, no mark. */
    assert_int_equal(store_batch_add(fx->store, fx->agent_id, 1, 1, 1000,
                                     env, sizeof env, &batch), CDS_OK);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_ADOPTED);
    assert_non_null(strstr(msg, "had no commit mark"));
    assert_int_equal(mark_counter(fx), 0);
    assert_int_equal(check(fx, msg, sizeof msg), COMMITMARK_OK);
}

static void
test_state_names(void **state)
{
    (void) state;
    assert_string_equal(commitmark_state_name(COMMITMARK_OK), "ok");
    assert_string_equal(commitmark_state_name(COMMITMARK_BEHIND), "behind");
    assert_string_equal(commitmark_state_name(COMMITMARK_DAMAGED), "damaged");
    assert_string_equal(commitmark_state_name(COMMITMARK_ADOPTED), "adopted");
    assert_string_equal(commitmark_state_name((commitmark_state_t) 99),
                        "unknown");
}

/* The PostgreSQL slot: facts round-trip; a torn newer slot falls back. */
static void
test_file_pg_slot(void **state)
{
    fx_t *fx = *state;
    commitmark_record_t r = { .counter = 7, .system_id = 0x8877665544332211ULL,
                              .timeline = 3, .db_oid = 16384 };
    memset(r.db_id, 0x5a, sizeof r.db_id);
    snprintf(r.db_name, sizeof r.db_name, "cdsync_province");
    assert_int_equal(commitmark_file_write(fx->mark, &r), CDS_OK);
    r.counter = 8;
    assert_int_equal(commitmark_file_write(fx->mark, &r), CDS_OK);
    char head[9] = "";
    FILE *f = fopen(fx->mark, "rb");
    assert_non_null(f);
    assert_int_equal(fread(head, 1, 8, f), 8);
    fclose(f);
    assert_string_equal(head, "CDSMARK2");
    commitmark_record_t back;
    assert_int_equal(commitmark_file_read(fx->mark, &back), CDS_OK);
    assert_memory_equal(&back, &r, sizeof r);
    int fd = open(fx->mark, O_WRONLY);   /* tear slot 0 (counter 8) */
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 100), 1);
    close(fd);
    assert_int_equal(commitmark_file_read(fx->mark, &back), CDS_OK);
    assert_int_equal(back.counter, 7);
    assert_int_equal(back.timeline, 3);
    assert_string_equal(back.db_name, "cdsync_province");
}

/* ---- on PostgreSQL (CDS_TEST_PG_URL) --------------------------------- */

static commitmark_state_t
pg_check(fx_t *fx, char *msg, size_t len)
{
    return check_on(fx->cm, msg, len);
}

static void
pg_group(fx_t *fx)
{
    group_on(store_sql(fx->store), fx->cm);
}

/* Write the mark as the database is now, with one fact changed. */
static void
pg_mark_with(fx_t *fx, uint64_t sysid_xor, uint32_t tli_add, bool facts)
{
    commitmark_record_t d;
    assert_int_equal(commitmark_db_get(fx->cm, &d), CDS_OK);
    d.system_id ^= sysid_xor;
    d.timeline += tli_add;
    if (!facts) {
        d.system_id = 0;
        d.timeline = d.db_oid = 0;
        d.db_name[0] = '\0';
    }
    unlink(fx->mark);
    assert_int_equal(commitmark_file_write(fx->mark, &d), CDS_OK);
}

static void
test_pg_states(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    assert_null(commitmark_new(fx->store, NULL)); /* no file beside */
    assert_string_equal(commitmark_path(fx->cm), fx->mark);
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_CREATED);
    pg_group(fx);
    pg_group(fx);
    commitmark_record_t d, m;
    assert_int_equal(commitmark_db_get(fx->cm, &d), CDS_OK);
    assert_int_equal(commitmark_file_read(fx->mark, &m), CDS_OK);
    assert_int_equal(d.counter, 2);
    assert_memory_equal(&d, &m, sizeof d);   /* facts in the mark */
    assert_true(d.system_id != 0 && d.timeline >= 1 && d.db_oid != 0);
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_OK);
    /* The bump is in the group's transaction: rolled back with it. */
    assert_int_equal(cds_sql_begin(store_sql(fx->store)), CDS_OK);
    assert_int_equal(commitmark_bump(fx->cm), CDS_OK);
    assert_int_equal(cds_sql_rollback(store_sql(fx->store)), CDS_OK);
    assert_int_equal(commitmark_db_get(fx->cm, &d), CDS_OK);
    assert_int_equal(d.counter, 2);
    pg_mark_with(fx, 1, 0, true);
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_OTHER_CLUSTER);
    assert_non_null(strstr(msg, "another PostgreSQL cluster"));
    assert_false(commitmark_state_runs(COMMITMARK_OTHER_CLUSTER));
    pg_mark_with(fx, 0, 1, true);
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_MOVED);
    assert_non_null(strstr(msg, "intact"));
    assert_non_null(strstr(msg, "timeline"));
    assert_true(commitmark_state_runs(COMMITMARK_MOVED));
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_OK);
    pg_mark_with(fx, 0, 0, false);
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_MOVED);
    assert_non_null(strstr(msg, "did not record the server"));
}

static void
test_pg_behind_accept(void **state)
{
    fx_t *fx = *state;
    char msg[1536];
    int64_t ev = 0;
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_CREATED);
    for (int i = 0; i < 3; i++)
        pg_group(fx);
    assert_int_equal(cds_sql_exec(store_sql(fx->store), "UPDATE commit_mark"
                                  " SET counter = counter - 2"), CDS_OK);
    commitmark_state_t st = pg_check(fx, msg, sizeof msg);
    assert_int_equal(st, COMMITMARK_BEHIND);
    assert_non_null(strstr(msg, "counter 1 is behind the commit mark 3"));
    assert_non_null(strstr(msg, "older copy"));
    assert_int_equal(commitmark_accept(fx->cm, st, "pg test", 5000, &ev),
                     CDS_OK);
    assert_true(ev > 0);
    assert_int_equal(pg_check(fx, msg, sizeof msg), COMMITMARK_OK);
    pg_group(fx);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(commitmark_print(fx->cm, f), CDS_OK);
    char line[512] = "";
    rewind(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_non_null(strstr(line, "reason=behind database_counter=1 "
                                 "mark_counter=3"));
}

static void
test_pg_dbsize(void **state)
{
    fx_t *fx = *state;
    dbsize_t z;
    assert_int_equal(cds_sql_exec(store_sql(fx->store), "INSERT INTO reject(at_ms, code, raw)"
        " SELECT g, 1, decode(repeat('ab', 300), 'hex')"
        " FROM generate_series(1, 50) g"), CDS_OK);
    assert_int_equal(dbsize_read(store_sql(fx->store), &z), CDS_OK);
    assert_true(z.db_bytes > 1000000);     /* an empty database is ~7 MB */
    assert_true(z.rejects_bytes >= 8192);
    assert_int_equal(z.rejects_rows, 50);
    assert_int_equal(z.wal_bytes, -1);
    assert_int_equal(z.disk_free_bytes, -1);
}

int
main(void)
{
    cds_log_init("commitmark_test", CDS_LOG_ERROR);
    const char *pg = getenv("CDS_TEST_PG_URL");
    /* Every case on the server through a store there: the
     * backend-neutral ones, then what only PostgreSQL has (the server's
     * facts, its sizes). */
#define ON_PG(f) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, \
                                                          (void *) pg)
    const struct CMUnitTest pg_tests[] = {
        ON_PG(test_created_ok_bump), ON_PG(test_repaired),
        ON_PG(test_no_fds_left), ON_PG(test_adopted),
        ON_PG(test_pg_states), ON_PG(test_pg_behind_accept),
        ON_PG(test_pg_dbsize),
    };
#undef ON_PG
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_ok_bump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fds_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_behind_accept_and_hello, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hello_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_and_damaged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_adopted, setup, teardown),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test_setup_teardown(test_file_pg_slot, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (pg && *pg)
        rc |= cmocka_run_group_tests(pg_tests, NULL, NULL);
    return rc;
}
