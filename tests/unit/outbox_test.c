/*  outbox_test: the agent's durable queue: seqs strictly increasing across
 *  reopen, pushes all-or-nothing, queue_max refusal, acks delete exactly
 *  what they cover (twice is harmless), rejections and receipts recorded,
 *  renumbering keeps order and recomputes the chain, meta state; stamps
 *  follow the measured clock offset (and step back from a wrong clock)
 *  and each row records the offset its stamp used; databases of versions
 *  1 and 2 migrate; the fault hook fails writes without changing
 *  anything; several acks (outbox_apply_acks) are one transaction that
 *  records all of them, receipts and kept batches, or none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cds_db.h"
#include "cds_err.h"
#include "cds_hlc.h"
#include "cds_log.h"
#include "cds_util.h"
#include "outbox.h"
#include "outbox_sql.h"

#include <sqlite3.h>

typedef struct {
    char dir[64];
    char path[128];
    outbox_t *ob;
} fx_t;

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/outbox_test.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/agent.db", fx->dir);
    int err = 0;
    fx->ob = outbox_open(fx->path, &err);
    assert_non_null(fx->ob);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    outbox_destroy(&fx->ob);
    assert_null(fx->ob);
    outbox_destroy(&fx->ob);           /* safe on NULL */
    nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static const char *const periods[] = {"202301", "202302", "202303",
                                      "202304", "202305", "202306",
                                      "202307", "202308"};

static void
make_updates(cds_update_t *u, size_t n)
{
    memset(u, 0, n * sizeof *u);
    for (size_t i = 0; i < n; i++) {
        u[i].org_unit = "OU1";
        u[i].indicator = "CDS02";
        u[i].period = periods[i % 8];
        u[i].disagg = "default";
        u[i].value = "7";
        u[i].comment = i % 2 ? "a, b" : NULL;
        u[i].stored_by = "tester";
    }
}

static void
push_n(outbox_t *ob, size_t n)
{
    cds_update_t u[8];
    char err[256];
    assert_true(n <= 8);
    make_updates(u, n);
    assert_int_equal(outbox_push(ob, u, NULL, n, 0, err, sizeof err),
                     CDS_OK);
}

/* The stamp offset recorded with pending row seq (which must exist). */
static int64_t
stamp_offset_of(outbox_t *ob, uint64_t seq)
{
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(ob, seq, 1, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].u.seq, seq);
    int64_t off = rows[0].stamp_offset_ms;
    outbox_rows_free(&rows, n);
    return off;
}

/* Seqs 1..n, hashes and chain from 32 zero bytes, sources kept. */
static void
test_push_read_chain(void **state)
{
    fx_t *fx = *state;
    cds_update_t u[3];
    const char *src[3] = {"import:d.csv:2", "import:d.csv:3", NULL};
    char err[256];
    make_updates(u, 3);
    assert_int_equal(outbox_push(fx->ob, u, src, 3, 0, err, sizeof err),
                     CDS_OK);
    assert_int_equal(u[0].seq, 1);
    assert_int_equal(u[2].seq, 3);
    assert_true(u[1].hlc > u[0].hlc && u[2].hlc > u[1].hlc);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 1, 100, 1 << 20, &rows, &n),
                     CDS_OK);
    assert_int_equal(n, 3);
    uint8_t head[CDS_HASH_BYTES] = {0}, h[CDS_HASH_BYTES];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].u.seq, i + 1);
        assert_string_equal(rows[i].u.period, periods[i]);
        cds_update_hash(&rows[i].u, h);
        assert_memory_equal(h, rows[i].hash, CDS_HASH_BYTES);
        cds_chain_next(head, h, head);
        assert_memory_equal(head, rows[i].head, CDS_HASH_BYTES);
        assert_true(rows[i].size > 0);
    }
    assert_string_equal(rows[0].source, "import:d.csv:2");
    assert_string_equal(rows[2].source, "submit");
    assert_string_equal(rows[1].u.comment, "a, b");
    assert_null(rows[0].u.comment);
    outbox_rows_free(&rows, n);
    assert_null(rows);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.last_seq, 3);
    assert_memory_equal(m.last_head, head, CDS_HASH_BYTES);
    uint8_t at[CDS_HASH_BYTES];
    assert_int_equal(outbox_head_at(fx->ob, 3, at), CDS_OK);
    assert_memory_equal(at, head, CDS_HASH_BYTES);
    assert_int_equal(outbox_head_at(fx->ob, 0, at), CDS_OK);
    uint8_t zero[CDS_HASH_BYTES] = {0};
    assert_memory_equal(at, zero, CDS_HASH_BYTES);
    assert_int_equal(outbox_head_at(fx->ob, 99, at), CDS_ENOTFOUND);
}

/* A failure in the middle of a push leaves nothing, not even a seq. */
static void
test_push_atomic(void **state)
{
    fx_t *fx = *state;
    cds_update_t u[3];
    char err[256];
    make_updates(u, 3);
    u[2].org_unit = NULL;              /* NOT NULL constraint fails */
    assert_int_not_equal(outbox_push(fx->ob, u, NULL, 3, 0, err, sizeof err),
                         CDS_OK);
    assert_int_equal(outbox_depth(fx->ob), 0);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.last_seq, 0);
    push_n(fx->ob, 1);
    assert_int_equal(outbox_first_pending(fx->ob), 1);
}

/* Crash simulation: push, close without ack, reopen: rows still there and
 * the next seq continues. */
static void
test_seq_across_reopen(void **state)
{
    fx_t *fx = *state;
    push_n(fx->ob, 2);
    outbox_destroy(&fx->ob);
    int err = 0;
    fx->ob = outbox_open(fx->path, &err);
    assert_non_null(fx->ob);
    assert_int_equal(outbox_depth(fx->ob), 2);
    cds_update_t u[1];
    char msg[256];
    make_updates(u, 1);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 1, 0, msg, sizeof msg),
                     CDS_OK);
    assert_int_equal(u[0].seq, 3);
}

static void
test_queue_max(void **state)
{
    fx_t *fx = *state;
    cds_update_t u[2];
    char err[256] = "";
    make_updates(u, 2);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 2, 3, err, sizeof err),
                     CDS_OK);
    make_updates(u, 2);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 2, 3, err, sizeof err),
                     CDS_EFULL);
    assert_non_null(strstr(err, "queue full"));
    assert_non_null(strstr(err, "queue_max 3"));
    assert_int_equal(outbox_depth(fx->ob), 2);
    assert_int_equal(u[0].seq, 0);
}

static void
test_ack(void **state)
{
    fx_t *fx = *state;
    push_n(fx->ob, 5);
    uint8_t head3[CDS_HASH_BYTES];
    assert_int_equal(outbox_head_at(fx->ob, 3, head3), CDS_OK);
    Cdsync__Rejection rej = CDSYNC__REJECTION__INIT;
    Cdsync__Rejection *rejs[] = {&rej};
    rej.seq = 2;
    rej.code = CDS_ERANGE;
    rej.field = "value";
    rej.message = "out of range";
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.status = CDSYNC__ACK_STATUS__ACK_OK;
    a.acked_seq = 3;
    a.acked_head.data = head3;
    a.acked_head.len = CDS_HASH_BYTES;
    a.batch_first = 1;
    a.batch_last = 3;
    a.n_rejections = 1;
    a.rejections = rejs;
    a.committed_at_ms = 1234;
    const uint8_t raw[] = "signed-envelope";
    for (int twice = 0; twice < 2; twice++) {
        assert_int_equal(outbox_apply_ack(fx->ob, &a, raw, sizeof raw, 99),
                         CDS_OK);
        assert_int_equal(outbox_depth(fx->ob), 2);
        assert_int_equal(outbox_first_pending(fx->ob), 4);
    }
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.acked_seq, 3);
    assert_memory_equal(m.acked_head, head3, CDS_HASH_BYTES);
    assert_int_equal(m.last_ack_at_ms, 99);
    /* The prev_head of the next batch is still known after the delete. */
    uint8_t at[CDS_HASH_BYTES];
    assert_int_equal(outbox_head_at(fx->ob, 3, at), CDS_OK);
    assert_memory_equal(at, head3, CDS_HASH_BYTES);
}

static int
count_rejected(const outbox_rejected_t *r, void *arg)
{
    int *n = arg;
    assert_int_equal(r->u.seq, 2);
    assert_int_equal(r->code, CDS_ERANGE);
    assert_string_equal(r->field, "value");
    assert_string_equal(r->message, "out of range");
    assert_string_equal(r->u.period, "202302");
    (*n)++;
    return 0;
}

static int
count_receipts(const outbox_receipt_t *r, void *arg)
{
    int *n = arg;
    if (*n == 0) {
        assert_int_equal(r->status, CDSYNC__ACK_STATUS__ACK_OK);
        assert_int_equal(r->acked_seq, 3);
        assert_int_equal(r->committed_at_ms, 1234);
        assert_int_equal(r->envelope_len, sizeof "signed-envelope");
        assert_memory_equal(r->envelope, "signed-envelope", r->envelope_len);
    } else {
        assert_int_equal(r->status, CDSYNC__ACK_STATUS__ACK_REFUSED);
        assert_int_equal(r->error, CDS_ECHAIN);
    }
    (*n)++;
    return 0;
}

/* Rejections and receipts recorded once; a refusal deletes nothing. */
static void
test_ack_records(void **state)
{
    test_ack(state);
    fx_t *fx = *state;
    int n = 0;
    assert_int_equal(outbox_rejected_list(fx->ob, count_rejected, &n),
                     CDS_OK);
    assert_int_equal(n, 1);
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.status = CDSYNC__ACK_STATUS__ACK_REFUSED;
    a.acked_seq = 5;
    a.error = CDS_ECHAIN;
    const uint8_t raw[] = "refusal";
    assert_int_equal(outbox_apply_ack(fx->ob, &a, raw, sizeof raw, 100),
                     CDS_OK);
    assert_int_equal(outbox_depth(fx->ob), 2);
    n = 0;
    assert_int_equal(outbox_receipts_list(fx->ob, count_receipts, &n),
                     CDS_OK);
    assert_int_equal(n, 2);
}

/* Restored agent: rows >= 3 follow the aggregator's seq 10 in the same
 * order, chain recomputed from its head; last_seq never goes back. */
static void
test_renumber(void **state)
{
    fx_t *fx = *state;
    push_n(fx->ob, 5);
    uint8_t h10[CDS_HASH_BYTES];
    memset(h10, 0xab, sizeof h10);
    uint64_t count = 0;
    assert_int_equal(outbox_renumber(fx->ob, 3, 10, h10, &count), CDS_OK);
    assert_int_equal(count, 3);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 0, 100, 1 << 20, &rows, &n),
                     CDS_OK);
    assert_int_equal(n, 5);
    const uint64_t want[] = {1, 2, 11, 12, 13};
    uint8_t head[CDS_HASH_BYTES], h[CDS_HASH_BYTES];
    memcpy(head, h10, sizeof head);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].u.seq, want[i]);
        assert_string_equal(rows[i].u.period, periods[i]);
        if (i >= 2) {
            cds_update_hash(&rows[i].u, h);
            assert_memory_equal(h, rows[i].hash, CDS_HASH_BYTES);
            cds_chain_next(head, h, head);
            assert_memory_equal(head, rows[i].head, CDS_HASH_BYTES);
        }
    }
    outbox_rows_free(&rows, n);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.last_seq, 13);
    assert_memory_equal(m.last_head, head, CDS_HASH_BYTES);
    assert_int_equal(m.acked_seq, 0);   /* rows 1, 2 still to be probed */
    cds_update_t u[1];
    char err[256];
    make_updates(u, 1);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 1, 0, err, sizeof err),
                     CDS_OK);
    assert_int_equal(u[0].seq, 14);
}

/* No pending rows and the aggregator is ahead: adopt its position. */
static void
test_renumber_adopt(void **state)
{
    fx_t *fx = *state;
    uint8_t h[CDS_HASH_BYTES];
    memset(h, 7, sizeof h);
    uint64_t count = 9;
    assert_int_equal(outbox_renumber(fx->ob, 1, 20, h, &count), CDS_OK);
    assert_int_equal(count, 0);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.last_seq, 20);
    assert_int_equal(m.acked_seq, 20);
    assert_memory_equal(m.last_head, h, CDS_HASH_BYTES);
    push_n(fx->ob, 1);
    assert_int_equal(outbox_first_pending(fx->ob), 21);
}

static void
test_read_bounds_and_stats(void **state)
{
    fx_t *fx = *state;
    push_n(fx->ob, 8);
    outbox_row_t *rows;
    size_t n;
    assert_int_equal(outbox_read(fx->ob, 3, 4, 1 << 20, &rows, &n), CDS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].u.seq, 3);
    size_t one = rows[0].size;
    outbox_rows_free(&rows, n);
    /* A byte bound below one row still returns one row. */
    assert_int_equal(outbox_read(fx->ob, 1, 100, 1, &rows, &n), CDS_OK);
    assert_int_equal(n, 1);
    outbox_rows_free(&rows, n);
    assert_int_equal(outbox_read(fx->ob, 1, 100, 2 * one + one / 2, &rows,
                                 &n),
                     CDS_OK);
    assert_true(n >= 1 && n <= 3);
    size_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += rows[i].size;
    assert_true(sum <= 2 * one + one / 2);
    outbox_rows_free(&rows, n);
    assert_int_equal(outbox_read(fx->ob, 9, 100, 1 << 20, &rows, &n),
                     CDS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(outbox_depth(fx->ob), 8);
    assert_true(outbox_bytes_pending(fx->ob) >= (int64_t)(8 * 10));
    assert_true(outbox_oldest_age_ms(fx->ob, UINT64_C(1) << 50) > 0);
    assert_int_equal(outbox_oldest_age_ms(fx->ob, 0), 0);
}

static void
test_conn_state(void **state)
{
    fx_t *fx = *state;
    outbox_meta_t m;
    assert_int_equal(outbox_set_conn(fx->ob, "hello", "boom", 10), CDS_OK);
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_string_equal(m.conn_state, "hello");
    assert_string_equal(m.last_error, "boom");
    assert_int_equal(m.conn_changed_at_ms, 10);
    /* Same state, no error: nothing written (time unchanged). */
    assert_int_equal(outbox_set_conn(fx->ob, "hello", NULL, 20), CDS_OK);
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.conn_changed_at_ms, 10);
    assert_int_equal(outbox_set_conn(fx->ob, "connected", NULL, 30), CDS_OK);
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_string_equal(m.conn_state, "connected");
    assert_string_equal(m.last_error, "boom");   /* kept */
    assert_int_equal(m.conn_changed_at_ms, 30);
    assert_int_equal(m.last_error_at_ms, 10);
}

static long
wal_pages(const fx_t *fx)
{
    char wal[160];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", fx->path);
    return stat(wal, &sb) == 0 ? (long)(sb.st_size / 4096) : 0;
}

/* Beside a daemon, submit/import leave checkpoints to the daemon's helper:
 * their WAL grows past SQLite's 1,000-page auto-checkpoint (up to
 * CDS_CKPT_MAX_PAGES). The daemon side starts its helper once. */
static void
test_checkpoints(void **state)
{
    fx_t *fx = *state;
    char comment[1001], err[256];
    memset(comment, 'x', 1000);
    comment[1000] = '\0';
    outbox_defer_checkpoints(fx->ob);
    cds_update_t u[8];
    int i = 0;
    for (; i < 700 && wal_pages(fx) < 1200; i++) {
        make_updates(u, 8);
        for (int k = 0; k < 8; k++)
            u[k].comment = comment;
        assert_int_equal(outbox_push(fx->ob, u, NULL, 8, 0, err, sizeof err),
                         CDS_OK);
    }
    assert_true(wal_pages(fx) >= 1200);  /* no checkpoint at 1,000 */
    assert_int_equal(outbox_checkpoint_in_background(fx->ob), CDS_OK);
    assert_int_equal(outbox_checkpoint_in_background(fx->ob), CDS_OK);
    push_n(fx->ob, 1);                 /* wakes the helper; still works */
    assert_int_equal(outbox_depth(fx->ob), 8 * i + 1);
}

/* Stamps use wall + the stored offset: an agent whose clock is an hour
 * behind stamps the aggregator's time; a last stamp from a clock that was
 * an hour ahead is stepped back from, not continued. */
static void
test_clock_offset(void **state)
{
    fx_t *fx = *state;
    cds_update_t u[1];
    char err[256];
    outbox_meta_t m;
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.clock_offset_ms, 0);
    assert_int_equal(m.clock_offset_at_ms, 0);
    int64_t hour = 3600 * 1000;
    assert_int_equal(outbox_set_clock_offset(fx->ob, hour, 42), CDS_OK);
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.clock_offset_ms, hour);
    assert_int_equal(m.clock_offset_at_ms, 42);
    assert_int_equal(outbox_corrected_ms(&m, 1000), 1000 + hour);
    uint64_t before = cds_now_ms();
    make_updates(u, 1);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 1, 0, err, sizeof err),
                     CDS_OK);
    assert_true(cds_hlc_ms(u[0].hlc) >= before + (uint64_t)hour);
    assert_true(cds_hlc_ms(u[0].hlc) <= cds_now_ms() + (uint64_t)hour);
    /* The clock was wrong: the offset goes back to 0. The next stamp steps
     * back to the corrected time instead of running an hour ahead. */
    assert_int_equal(outbox_set_clock_offset(fx->ob, 0, 43), CDS_OK);
    make_updates(u, 1);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 1, 0, err, sizeof err),
                     CDS_OK);
    assert_true(cds_hlc_ms(u[0].hlc) <= cds_now_ms());
    /* Within the step-back bound the clock stays monotonic. */
    assert_int_equal(outbox_set_clock_offset(fx->ob, -60000, 44), CDS_OK);
    uint64_t last = u[0].hlc;
    make_updates(u, 1);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 1, 0, err, sizeof err),
                     CDS_OK);
    assert_true(u[0].hlc > last);
    /* Each row records the offset in force when it was stamped. */
    assert_int_equal(stamp_offset_of(fx->ob, 1), hour);
    assert_int_equal(stamp_offset_of(fx->ob, 2), 0);
    assert_int_equal(stamp_offset_of(fx->ob, 3), -60000);
    /* Survives a reopen. */
    outbox_destroy(&fx->ob);
    int e = 0;
    fx->ob = outbox_open(fx->path, &e);
    assert_non_null(fx->ob);
    assert_int_equal(outbox_meta(fx->ob, &m), CDS_OK);
    assert_int_equal(m.clock_offset_ms, -60000);
}

/* Create fx->dir/name as an older version would have: sql run on a new
 * database. The path goes to path. */
static void
old_db(const fx_t *fx, const char *name, const char *sql, char *path,
       size_t len)
{
    sqlite3 *db = NULL;
    snprintf(path, len, "%s/%s", fx->dir, name);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A version 1 database (before the clock offset) opens, is migrated to
 * the current version and keeps its rows; the offset starts at 0 (not
 * measured). */
static void
test_migrate_v1(void **state)
{
    fx_t *fx = *state;
    char path[160], err[256];
    old_db(fx, "v1.db", OUTBOX_SQL_MIGRATION_1 "UPDATE meta SET last_seq = 7;"
           "PRAGMA user_version = 1;", path, sizeof path);
    int e = 0;
    outbox_t *ob = outbox_open(path, &e);
    assert_non_null(ob);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(ob, &m), CDS_OK);
    assert_int_equal(m.last_seq, 7);
    assert_int_equal(m.clock_offset_ms, 0);
    assert_int_equal(m.clock_offset_at_ms, 0);
    cds_update_t u[1];
    make_updates(u, 1);
    assert_int_equal(outbox_push(ob, u, NULL, 1, 0, err, sizeof err), CDS_OK);
    assert_int_equal(u[0].seq, 8);
    assert_int_equal(stamp_offset_of(ob, 8), 0);   /* never measured */
    outbox_destroy(&ob);
}

static int
user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
                                        NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A version 2 database (offset in meta, none per row) is migrated to
 * version 3: a row already queued takes the offset in meta (what a
 * version 2 submit stamped it with), new rows record theirs. */
static void
test_migrate_v2(void **state)
{
    fx_t *fx = *state;
    char path[160], err[256];
    old_db(fx, "v2.db", OUTBOX_SQL_MIGRATION_1 OUTBOX_SQL_MIGRATION_2
           "UPDATE meta SET last_seq = 1, clock_offset_ms = -7200000;"
           "INSERT INTO outbox (seq, org_unit, indicator, period, disagg,"
           " value, deleted, followup, hlc, hash, chain_head, size,"
           " queued_at_ms, source) VALUES (1, 'OU1', 'CDS02', '202301',"
           " 'default', '7', 0, 0, 65536, zeroblob(32), zeroblob(32), 40,"
           " 1, 'submit');"
           "PRAGMA user_version = 2;", path, sizeof path);
    int e = 0;
    outbox_t *ob = outbox_open(path, &e);
    assert_non_null(ob);
    assert_int_equal(user_version(path), 9);
    outbox_meta_t mm;                  /* version 6: metadata announced */
    assert_int_equal(outbox_meta(ob, &mm), CDS_OK);
    assert_int_equal(mm.metadata_version, 0);
    assert_int_equal(mm.metadata_latest, 0);
    assert_int_equal(mm.pending_checked, 0);  /* version 8: held values */
    assert_int_equal(outbox_set_metadata_latest(ob, 3, 9), CDS_OK);
    assert_int_equal(outbox_meta(ob, &mm), CDS_OK);
    assert_int_equal(mm.metadata_latest, 3);
    assert_int_equal(mm.metadata_seen_at_ms, 9);
    /* version 7: fetched versions kept, rollback to the one before. */
    uint64_t from = 0, to = 0;
    assert_int_equal(outbox_metadata_rollback(ob, &from, &to), CDS_ENOTFOUND);
    outbox_metadata_t md = {.version = 1, .bundle = (uint8_t *)"b1",
                            .bundle_len = 2, .received_at_ms = 5,
                            .summary = "thêm 1"};
    assert_int_equal(outbox_metadata_refused(ob, "bad_signature: x", 4),
                     CDS_OK);
    assert_int_equal(outbox_metadata_put(ob, &md), CDS_OK);
    md.version = 2;
    assert_int_equal(outbox_metadata_put(ob, &md), CDS_OK);
    assert_int_equal(outbox_meta(ob, &mm), CDS_OK);
    assert_int_equal(mm.metadata_version, 2);
    assert_string_equal(mm.metadata_error, "");   /* cleared by the put */
    assert_int_equal(outbox_metadata_rollback(ob, &from, &to), CDS_OK);
    assert_int_equal(from, 2);
    assert_int_equal(to, 1);
    assert_int_equal(outbox_meta(ob, &mm), CDS_OK);
    assert_int_equal(mm.metadata_version, 1);
    assert_int_equal(mm.metadata_pinned, 3);      /* the newest announced */
    outbox_metadata_t got;
    assert_int_equal(outbox_metadata_get(ob, 1, &got), CDS_OK);
    assert_int_equal(got.bundle_len, 2);
    assert_memory_equal(got.bundle, "b1", 2);
    assert_string_equal(got.summary, "thêm 1");
    outbox_metadata_clear(&got);
    assert_int_equal(outbox_metadata_rollback(ob, &from, &to), CDS_ENOTFOUND);
    assert_int_equal(outbox_set_clock_offset(ob, 1500, 1), CDS_OK);
    cds_update_t u[1];
    make_updates(u, 1);
    assert_int_equal(outbox_push(ob, u, NULL, 1, 0, err, sizeof err), CDS_OK);
    assert_int_equal(u[0].seq, 2);
    assert_int_equal(stamp_offset_of(ob, 1), -7200000);
    assert_int_equal(stamp_offset_of(ob, 2), 1500);
    outbox_destroy(&ob);
    /* Opening again migrates nothing twice. */
    ob = outbox_open(path, &e);
    assert_non_null(ob);
    assert_int_equal(user_version(path), 9);
    outbox_destroy(&ob);
}

static int fault_code;                 /* what the hook answers */
static char fault_last[16];            /* the last write it saw */

static int
fault_hook(void *arg, const char *op)
{
    (void)arg;
    snprintf(fault_last, sizeof fault_last, "%s", op);
    return fault_code;
}

/* A failing write changes nothing; with the hook removed it works. */
static void
test_fault_hook(void **state)
{
    fx_t *fx = *state;
    cds_update_t u[2];
    char err[256];
    uint64_t count = 0;
    uint8_t head[CDS_HASH_BYTES] = {0};
    make_updates(u, 2);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 2, 0, err, sizeof err),
                     CDS_OK);
    outbox_set_fault_hook(fx->ob, fault_hook, NULL);
    fault_code = CDS_EFULL;
    make_updates(u, 1);
    assert_int_equal(outbox_push(fx->ob, u, NULL, 1, 0, err, sizeof err),
                     CDS_EFULL);
    assert_string_equal(fault_last, "push");
    Cdsync__Ack ack = CDSYNC__ACK__INIT;
    ack.status = CDSYNC__ACK_STATUS__ACK_OK;
    ack.acked_seq = 2;
    fault_code = CDS_EBUSY;
    assert_int_equal(outbox_apply_ack(fx->ob, &ack, NULL, 0, 1), CDS_EBUSY);
    assert_int_equal(outbox_renumber(fx->ob, 1, 10, head, &count),
                     CDS_EBUSY);
    assert_int_equal(outbox_set_clock_offset(fx->ob, 5, 1), CDS_EBUSY);
    assert_int_equal(outbox_set_conn(fx->ob, "x", NULL, 1), CDS_EBUSY);
    assert_int_equal(outbox_depth(fx->ob), 2);
    assert_int_equal(outbox_first_pending(fx->ob), 1);
    outbox_set_fault_hook(fx->ob, NULL, NULL);
    assert_int_equal(outbox_apply_ack(fx->ob, &ack, NULL, 0, 1), CDS_OK);
    assert_int_equal(outbox_depth(fx->ob), 0);
}

static int
count_any(const outbox_receipt_t *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

static int
count_rejected_any(const outbox_rejected_t *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

/* What is recorded: receipts, rejections, kept batches, acked_seq. */
static void
check_recorded(outbox_t *ob, int receipts, int rejected, uint64_t kept,
               uint64_t acked, size_t depth)
{
    int n = 0;
    assert_int_equal(outbox_receipts_list(ob, count_any, &n), CDS_OK);
    assert_int_equal(n, receipts);
    n = 0;
    assert_int_equal(outbox_rejected_list(ob, count_rejected_any, &n),
                     CDS_OK);
    assert_int_equal(n, rejected);
    outbox_kept_stats_t ks;
    assert_int_equal(outbox_kept_stats(ob, &ks), CDS_OK);
    assert_int_equal(ks.count, kept);
    outbox_meta_t m;
    assert_int_equal(outbox_meta(ob, &m), CDS_OK);
    assert_int_equal(m.acked_seq, acked);
    assert_int_equal(outbox_depth(ob), depth);
}

/* Three ACK_OKs (out of order, one with a rejection) with their batches'
 * envelopes: one write transaction records every receipt, the rejection,
 * the kept batches and the highest acked_seq; a failed one records
 * none of it. */
static void
test_acks_in_one_transaction(void **state)
{
    fx_t *fx = *state;
    push_n(fx->ob, 6);
    outbox_set_keep(fx->ob, 86400000, 0);
    Cdsync__Rejection rej = CDSYNC__REJECTION__INIT;
    Cdsync__Rejection *rejs[] = {&rej};
    rej.seq = 3;
    rej.code = CDS_ERANGE;
    rej.field = "value";
    rej.message = "out of range";
    Cdsync__Ack a[3];
    outbox_ack_t acks[3];
    outbox_kept_t kept[3];
    static const uint8_t raw[3][8] = {"env-3-4", "env-1-2", "env-5-6"};
    static const uint8_t env[3][6] = {"b-3-4", "b-1-2", "b-5-6"};
    const uint64_t last[3] = {4, 2, 6};
    for (int i = 0; i < 3; i++) {
        a[i] = (Cdsync__Ack)CDSYNC__ACK__INIT;
        a[i].status = CDSYNC__ACK_STATUS__ACK_OK;
        a[i].acked_seq = a[i].batch_last = last[i];
        a[i].batch_first = last[i] - 1;
        acks[i] = (outbox_ack_t){&a[i], raw[i], sizeof raw[i]};
        kept[i] = (outbox_kept_t){last[i] - 1, last[i], env[i], sizeof env[i],
                                  10, 0};
    }
    a[0].n_rejections = 1;
    a[0].rejections = rejs;
    outbox_set_fault_hook(fx->ob, fault_hook, NULL);
    fault_code = CDS_EFULL;
    uint64_t commits = cds_db_write_commits();
    assert_int_equal(outbox_apply_acks(fx->ob, acks, 3, 99, kept, 3),
                     CDS_EFULL);
    assert_string_equal(fault_last, "ack");
    assert_int_equal(cds_db_write_commits(), commits);
    check_recorded(fx->ob, 0, 0, 0, 0, 6);
    outbox_set_fault_hook(fx->ob, NULL, NULL);
    assert_int_equal(outbox_apply_acks(fx->ob, acks, 3, 99, kept, 3),
                     CDS_OK);
    assert_int_equal(cds_db_write_commits() - commits, 1);
    check_recorded(fx->ob, 3, 1, 3, 6, 0);
    outbox_kept_t k;
    assert_int_equal(outbox_kept_at(fx->ob, 3, &k), CDS_OK);
    assert_int_equal(k.envelope_len, sizeof env[0]);
    assert_memory_equal(k.envelope, env[0], sizeof env[0]);
    outbox_kept_free(&k);
}

/* Push n rows and ack them with kept batches of `per` rows each, fake
 * envelopes of `size` bytes filled with the batch's first seq, acked at
 * now_ms. */
static void
push_ack_kept(outbox_t *ob, size_t n, size_t per, size_t size,
              uint64_t now_ms)
{
    char err[256];
    cds_update_t u[16];
    outbox_kept_t k[16];
    uint8_t env[16][64];
    assert_true(n <= 16 && size <= 64);
    make_updates(u, n);
    assert_int_equal(outbox_push(ob, u, NULL, n, 0, err, sizeof err), CDS_OK);
    size_t nk = 0;
    for (size_t i = 0; i < n; i += per, nk++) {
        size_t last = i + per < n ? i + per - 1 : n - 1;
        memset(env[nk], (int)u[i].seq, size);
        k[nk] = (outbox_kept_t){u[i].seq, u[last].seq, env[nk], size,
                                now_ms - 1, 0};
    }
    Cdsync__Ack ack = CDSYNC__ACK__INIT;
    ack.status = CDSYNC__ACK_STATUS__ACK_OK;
    ack.acked_seq = u[n - 1].seq;
    assert_int_equal(outbox_apply_ack_keeping(ob, &ack, NULL, 0, now_ms, k,
                                              nk),
                     CDS_OK);
}

static int
count_kept(const outbox_kept_t *k, void *arg)
{
    (void)k;
    (*(int *)arg)++;
    return 0;
}

/* An ack keeps the exact envelopes it covers, after the rows left the
 * outbox; stats, lookup by seq, contiguous coverage and listing agree. */
static void
test_kept_after_ack(void **state)
{
    fx_t *fx = *state;
    outbox_set_keep(fx->ob, 1000000, 0);
    push_ack_kept(fx->ob, 6, 2, 40, 5000);          /* 1-2, 3-4, 5-6 */
    assert_int_equal(outbox_depth(fx->ob), 0);
    outbox_kept_stats_t s;
    assert_int_equal(outbox_kept_stats(fx->ob, &s), CDS_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.first_seq, 1);
    assert_int_equal(s.last_seq, 6);
    assert_int_equal(s.bytes, 120);
    assert_int_equal(s.oldest_acked_at_ms, 5000);
    outbox_kept_t k;
    assert_int_equal(outbox_kept_at(fx->ob, 4, &k), CDS_OK);
    assert_int_equal(k.first_seq, 3);
    assert_int_equal(k.last_seq, 4);
    assert_int_equal(k.envelope_len, 40);
    assert_int_equal(k.envelope[0], 3);
    assert_int_equal(k.envelope[39], 3);
    assert_int_equal(k.sent_at_ms, 4999);
    outbox_kept_free(&k);
    assert_int_equal(outbox_kept_at(fx->ob, 7, &k), CDS_ENOTFOUND);
    assert_int_equal(outbox_kept_from(fx->ob, 6), 1);
    int n = 0;
    assert_int_equal(outbox_kept_list(fx->ob, 2, 3, count_kept, &n), CDS_OK);
    assert_int_equal(n, 2);
    /* A batch not covered by the ack is not kept. */
    outbox_kept_t extra = {7, 9, (const uint8_t *)"x", 1, 1, 0};
    Cdsync__Ack ack = CDSYNC__ACK__INIT;
    ack.status = CDSYNC__ACK_STATUS__ACK_OK;
    ack.acked_seq = 6;
    assert_int_equal(outbox_apply_ack_keeping(fx->ob, &ack, NULL, 0, 6000,
                                              &extra, 1),
                     CDS_OK);
    assert_int_equal(outbox_kept_stats(fx->ob, &s), CDS_OK);
    assert_int_equal(s.count, 3);
}

/* Pruned oldest first: by the age of the ack, then by bytes; a hole in
 * the kept range stops what can be resent. Keeping off stores nothing. */
static void
test_kept_prune(void **state)
{
    fx_t *fx = *state;
    outbox_kept_stats_t s;
    outbox_set_keep(fx->ob, 600000, 0);             /* 10 min */
    push_ack_kept(fx->ob, 4, 2, 50, 100000);        /* 1-2, 3-4 */
    push_ack_kept(fx->ob, 4, 2, 50, 130000);        /* 5-6, 7-8: no prune
                                                     * (< 1 min since) */
    push_ack_kept(fx->ob, 2, 1, 50, 480000);        /* 9, 10 */
    push_ack_kept(fx->ob, 2, 1, 50, 720000);        /* 11, 12: the first
                                                     * two are too old */
    assert_int_equal(outbox_kept_stats(fx->ob, &s), CDS_OK);
    assert_int_equal(s.count, 6);
    assert_int_equal(s.first_seq, 5);
    assert_int_equal(outbox_kept_from(fx->ob, 12), 5);
    uint64_t pruned = 0;
    assert_int_equal(outbox_kept_prune(fx->ob, 720000, 600000, 220, &pruned),
                     CDS_OK);
    assert_int_equal(pruned, 2);                    /* 300 -> 200 bytes */
    assert_int_equal(outbox_kept_stats(fx->ob, &s), CDS_OK);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.first_seq, 9);
    assert_int_equal(s.bytes, 200);
    assert_int_equal(outbox_kept_prune(fx->ob, 2000000, 600000, 0, &pruned),
                     CDS_OK);
    assert_int_equal(pruned, 4);                    /* all too old */
    assert_int_equal(outbox_kept_from(fx->ob, 12), 0);
    outbox_set_keep(fx->ob, 0, 0);
    push_ack_kept(fx->ob, 2, 1, 50, 2100000);
    assert_int_equal(outbox_kept_stats(fx->ob, &s), CDS_OK);
    assert_int_equal(s.count, 0);
}

/* Exports by file: open until an ack covers their range. */
static void
test_carried(void **state)
{
    fx_t *fx = *state;
    outbox_carried_t c;
    push_n(fx->ob, 5);
    assert_int_equal(outbox_carried_open(fx->ob, &c), CDS_OK);
    assert_int_equal(c.exports, 0);
    assert_int_equal(outbox_carried_add(fx->ob, 1, 3, 1, 0, "/m/a.cds", 7),
                     CDS_OK);
    assert_int_equal(outbox_carried_add(fx->ob, 1, 5, 2, 0, "/m/b.cds", 9),
                     CDS_OK);
    assert_int_equal(outbox_carried_open(fx->ob, &c), CDS_OK);
    assert_int_equal(c.exports, 2);
    assert_int_equal(c.first_seq, 1);
    assert_int_equal(c.last_seq, 5);
    assert_string_equal(c.file, "/m/b.cds");
    assert_int_equal(c.at_ms, 9);
    uint8_t head3[CDS_HASH_BYTES];
    assert_int_equal(outbox_head_at(fx->ob, 3, head3), CDS_OK);
    Cdsync__Ack a = CDSYNC__ACK__INIT;
    a.status = CDSYNC__ACK_STATUS__ACK_OK;
    a.acked_seq = 3;
    a.acked_head.data = head3;
    a.acked_head.len = CDS_HASH_BYTES;
    a.batch_first = 1;
    a.batch_last = 3;
    assert_int_equal(outbox_apply_ack(fx->ob, &a, NULL, 0, 10), CDS_OK);
    assert_int_equal(outbox_carried_open(fx->ob, &c), CDS_OK);
    assert_int_equal(c.exports, 1);    /* a.cds is fully acked */
    assert_string_equal(c.file, "/m/b.cds");
}

int
main(void)
{
    cds_log_init("outbox_test", CDS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_read_chain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_push_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_across_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renumber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renumber_adopt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_bounds_and_stats, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acks_in_one_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_after_ack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kept_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_carried, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
