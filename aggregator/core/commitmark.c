/*  commitmark: the database's commit counter and its sidecar mark file.
 *  See commitmark.h for the contract and the file format; every SQL text
 *  lives in commitmark_sql.h. */
#include "commitmark.h"
#include "commitmark_sql.h"

#include "cds_err.h"
#include "cds_log.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Its schema step (store.h; store.c lists it in version order). */
const char commitmark_migration[] = COMMITMARK_SQL_MIGRATION;
#ifdef COMMITMARK_SQL_PG_SCHEMA             /* branch pgsql */
/* Its part of the one PostgreSQL migration (store.h). */
const char commitmark_pg_schema[] = COMMITMARK_SQL_PG_SCHEMA;
#endif

#define MAGIC "CDSMARK1"
#define MAGIC_LEN 8
#define SLOT_BYTES 64
#define SLOT_BODY 32                   /* magic, id, counter: hashed */
#define SLOT_STRIDE 512                /* slots in different sectors */

enum {
    ST_GET, ST_HAS_DATA, ST_BUMP, ST_EVENT_ADD, ST_PENDING_ALL, ST_PENDING_GET,
    ST_PENDING_DEL, ST_LOSS_ADD, ST_EVENTS, ST_LOSSES,
    ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    [ST_GET] = COMMITMARK_SQL_GET,
    [ST_HAS_DATA] = COMMITMARK_SQL_HAS_DATA,
    [ST_BUMP] = COMMITMARK_SQL_BUMP,
    [ST_EVENT_ADD] = COMMITMARK_SQL_EVENT_ADD,
    [ST_PENDING_ALL] = COMMITMARK_SQL_PENDING_ALL,
    [ST_PENDING_GET] = COMMITMARK_SQL_PENDING_GET,
    [ST_PENDING_DEL] = COMMITMARK_SQL_PENDING_DEL,
    [ST_LOSS_ADD] = COMMITMARK_SQL_LOSS_ADD,
    [ST_EVENTS] = COMMITMARK_SQL_EVENTS,
    [ST_LOSSES] = COMMITMARK_SQL_LOSSES,
};

static const char *const state_names[] = {
    [COMMITMARK_OK] = "ok", [COMMITMARK_CREATED] = "created",
    [COMMITMARK_ADOPTED] = "adopted",
    [COMMITMARK_REPAIRED] = "repaired", [COMMITMARK_BEHIND] = "behind",
    [COMMITMARK_FOREIGN] = "foreign", [COMMITMARK_DAMAGED] = "damaged",
};

struct commitmark {
    store_t *store;                    /* borrowed: agent writes */
    cds_db_t *db;                      /* borrowed, the store's */
    sqlite3_stmt *st[ST__COUNT];       /* prepared once, reset after use */
    char path[4096];                   /* <db>.commitmark */
    int fd;                            /* mark file, open from
                                        * commitmark_check on: a later
                                        * EMFILE cannot stop acks */
    commitmark_record_t rec;           /* id and last bumped counter */
    bool bumped;                       /* rec.counter not yet in the file */
};

/* ---- the file ---------------------------------------------------------- */

static void
slot_encode(const commitmark_record_t *rec, uint8_t out[SLOT_BYTES])
{
    memset(out, 0, SLOT_BYTES);
    memcpy(out, MAGIC, MAGIC_LEN);
    memcpy(out + MAGIC_LEN, rec->db_id, COMMITMARK_ID_BYTES);
    for (int i = 0; i < 8; i++)        /* little-endian, whatever the host */
        out[MAGIC_LEN + COMMITMARK_ID_BYTES + i] =
            (uint8_t) (rec->counter >> (8 * i));
    crypto_generichash(out + SLOT_BODY, SLOT_BYTES - SLOT_BODY, out,
                       SLOT_BODY, NULL, 0);
}

/* 1 and *rec when the slot is valid, 0 otherwise. */
static int
slot_decode(const uint8_t in[SLOT_BYTES], commitmark_record_t *rec)
{
    uint8_t sum[SLOT_BYTES - SLOT_BODY];
    crypto_generichash(sum, sizeof sum, in, SLOT_BODY, NULL, 0);
    if (memcmp(in, MAGIC, MAGIC_LEN) != 0
        || sodium_memcmp(sum, in + SLOT_BODY, sizeof sum) != 0)
        return 0;
    memcpy(rec->db_id, in + MAGIC_LEN, COMMITMARK_ID_BYTES);
    rec->counter = 0;
    for (int i = 7; i >= 0; i--)
        rec->counter = (rec->counter << 8)
                       | in[MAGIC_LEN + COMMITMARK_ID_BYTES + i];
    return 1;
}

int
commitmark_file_read(const char *path, commitmark_record_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CDS_ENOTFOUND : CDS_EIO;
    int rc = CDS_ECORRUPT, found = 0;
    for (int s = 0; s < 2; s++) {
        uint8_t buf[SLOT_BYTES];
        commitmark_record_t r;
        ssize_t n = pread(fd, buf, sizeof buf, (off_t) s * SLOT_STRIDE);
        if (n < 0) {
            rc = CDS_EIO;
            break;
        }
        if (n == SLOT_BYTES && slot_decode(buf, &r)
            && (!found || r.counter > out->counter)) {
            *out = r;
            found = 1;
            rc = CDS_OK;
        }
    }
    close(fd);
    return rc;
}

/* Open (creating 0600) the file at path; -1 on failure. */
static int
open_mark(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 && cds_fsync_dir(path) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Write rec into its slot (both: into both), then fdatasync. */
static int
write_slots(int fd, const commitmark_record_t *rec, bool both)
{
    uint8_t buf[SLOT_BYTES];
    slot_encode(rec, buf);
    for (int s = 0; s < 2; s++) {
        if (!both && s != (int) (rec->counter % 2))
            continue;
        if (pwrite(fd, buf, sizeof buf, (off_t) s * SLOT_STRIDE)
            != (ssize_t) sizeof buf)
            return CDS_EIO;
    }
    return fdatasync(fd) == 0 ? CDS_OK : CDS_EIO;
}

static int
file_put(const char *path, const commitmark_record_t *rec, bool both)
{
    int fd = open_mark(path);
    if (fd < 0)
        return CDS_EIO;
    int rc = write_slots(fd, rec, both);
    close(fd);
    return rc;
}

int
commitmark_file_write(const char *path, const commitmark_record_t *rec)
{
    return file_put(path, rec, false);
}

/* ---- the object -------------------------------------------------------- */

commitmark_t *
commitmark_new(store_t *store)
{
    commitmark_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    cds_db_t *db = store_db(store);
    self->store = store;
    self->db = db;
    self->fd = -1;
    int n = snprintf(self->path, sizeof self->path, "%s" COMMITMARK_SUFFIX,
                     cds_db_path(db));
    if (n < 0 || (size_t) n >= sizeof self->path || sodium_init() < 0)
        goto fail;
    for (int i = 0; i < ST__COUNT; i++)
        if (!(self->st[i] = cds_db_prepare(db, sql_text[i])))
            goto fail;
    return self;
fail:
    commitmark_destroy(&self);
    return NULL;
}

void
commitmark_destroy(commitmark_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    commitmark_t *self = *self_p;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(self->st[i]);
    if (self->fd >= 0)
        close(self->fd);
    free(self);
    *self_p = NULL;
}

const char *
commitmark_path(const commitmark_t *self)
{
    return self->path;
}

int
commitmark_db_get(commitmark_t *self, commitmark_record_t *out)
{
    sqlite3_stmt *st = self->st[ST_GET];
    int rc = sqlite3_step(st);
    int code = CDS_OK;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == COMMITMARK_ID_BYTES) {
        memcpy(out->db_id, sqlite3_column_blob(st, 0), COMMITMARK_ID_BYTES);
        out->counter = (uint64_t) sqlite3_column_int64(st, 1);
    } else
        code = rc == SQLITE_ROW || rc == SQLITE_DONE
                   ? CDS_ECORRUPT
                   : cds_db_fail(self->db, "commit_mark");
    cds_stmt_done(st);
    return code;
}

const char *
commitmark_state_name(commitmark_state_t state)
{
    return (unsigned) state < COMMITMARK__COUNT ? state_names[state]
                                                : "unknown";
}

/* The operator sentence for a refused state. */
static void
refusal(const commitmark_t *self, commitmark_state_t st,
        const commitmark_record_t *d, const commitmark_record_t *m,
        char *msg, size_t len)
{
    const char *db = cds_db_path(self->db);
    const char *fix = " Refusing to run. To accept this state and continue: "
                      "cdsync-aggregator accept-restore [--note TEXT] "
                      "(see `restores` afterwards for the agents whose "
                      "acknowledged updates are missing).";
    if (st == COMMITMARK_BEHIND)
        snprintf(msg, len, "%s: database commit counter %llu is behind the "
                 "commit mark %llu in %s: the last %llu acknowledged group "
                 "commit(s) are missing. Probably the write-ahead log was "
                 "truncated (a crash on storage that lost writes) or the "
                 "database was restored from an older copy; updates already "
                 "acknowledged to agents may be missing.%s", db,
                 (unsigned long long) d->counter,
                 (unsigned long long) m->counter, self->path,
                 (unsigned long long) (m->counter - d->counter), fix);
    else if (st == COMMITMARK_FOREIGN)
        snprintf(msg, len, "%s: the commit mark %s (counter %llu) belongs "
                 "to another database (this one: counter %llu): the "
                 "database was replaced or re-created; updates acknowledged "
                 "by the old one may be missing.%s", db, self->path,
                 (unsigned long long) m->counter,
                 (unsigned long long) d->counter, fix);
    else
        snprintf(msg, len, "%s: the commit mark %s is damaged (no valid "
                 "record): cannot tell whether acknowledged updates are "
                 "missing (database counter %llu).%s", db, self->path,
                 (unsigned long long) d->counter, fix);
}

/* Compare a mark that was read with the database. */
static commitmark_state_t
compare(const commitmark_record_t *d, const commitmark_record_t *m)
{
    if (sodium_memcmp(d->db_id, m->db_id, COMMITMARK_ID_BYTES) != 0)
        return COMMITMARK_FOREIGN;
    if (d->counter < m->counter)
        return COMMITMARK_BEHIND;
    return d->counter > m->counter ? COMMITMARK_REPAIRED : COMMITMARK_OK;
}

/* 1 when the database holds a batch, 0 when not, negative on error. */
static int
has_data(commitmark_t *self)
{
    sqlite3_stmt *st = self->st[ST_HAS_DATA];
    int rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) != 0
                             : -cds_db_fail(self->db, "commit_mark data");
    cds_stmt_done(st);
    return v;
}

/* Create (new file) or rewrite (repair) the mark; the operator sentence. */
static int
mark_fix(commitmark_t *self, commitmark_state_t st,
         const commitmark_record_t *d, const commitmark_record_t *m,
         char *msg, size_t msglen)
{
    if (file_put(self->path, d, st != COMMITMARK_REPAIRED) != CDS_OK)
        return CDS_EIO;
    const char *db = cds_db_path(self->db);
    if (st == COMMITMARK_CREATED)
        snprintf(msg, msglen, "%s: new commit mark %s", db, self->path);
    else if (st == COMMITMARK_ADOPTED)
        snprintf(msg, msglen, "%s: holds data but had no commit mark "
                 "(first start since the upgrade, or the mark was deleted): "
                 "created %s at counter %llu; a rollback before now cannot "
                 "be detected", db, self->path,
                 (unsigned long long) d->counter);
    else
        snprintf(msg, msglen, "%s: database counter %llu ahead of the mark "
                 "%llu (a stop between commit and mark; nothing of it was "
                 "acknowledged): mark rewritten", db,
                 (unsigned long long) d->counter,
                 (unsigned long long) m->counter);
    return CDS_OK;
}

/* Keep the mark file open for the daemon's life: opened once at start,
 * while descriptors are plentiful, so a peer that exhausts them later
 * (idle connections) cannot make the write before an ack fail. */
static int
keep_open(commitmark_t *self)
{
    if (self->fd < 0)
        self->fd = open_mark(self->path);
    if (self->fd >= 0)
        return CDS_OK;
    cds_log(CDS_LOG_ERROR, "commit_mark_failed", "path=%s error=%s",
            cds_logq(self->path), cds_logq(strerror(errno)));
    return CDS_EIO;
}

int
commitmark_check(commitmark_t *self, commitmark_state_t *state, char *msg,
                 size_t msglen)
{
    commitmark_record_t d, m;
    msg[0] = '\0';
    int rc = commitmark_db_get(self, &d);
    if (rc != CDS_OK)
        return rc;
    self->rec = d;
    rc = commitmark_file_read(self->path, &m);
    if (rc == CDS_EIO)
        return rc;
    int data = rc == CDS_ENOTFOUND ? has_data(self) : 0;
    if (data < 0)
        return -data;
    *state = rc == CDS_ENOTFOUND
                 ? (data || d.counter ? COMMITMARK_ADOPTED : COMMITMARK_CREATED)
             : rc == CDS_ECORRUPT ? COMMITMARK_DAMAGED : compare(&d, &m);
    if (*state == COMMITMARK_CREATED || *state == COMMITMARK_ADOPTED
        || *state == COMMITMARK_REPAIRED) {
        rc = mark_fix(self, *state, &d, &m, msg, msglen);
        return rc == CDS_OK ? keep_open(self) : rc;
    }
    if (*state != COMMITMARK_OK) {
        refusal(self, *state, &d, &m, msg, msglen);
        return CDS_OK;
    }
    return keep_open(self);
}

int
commitmark_bump(commitmark_t *self)
{
    sqlite3_stmt *st = self->st[ST_BUMP];
    int rc = sqlite3_step(st);
    int code = CDS_OK;
    if (rc == SQLITE_ROW
        && sqlite3_column_bytes(st, 0) == COMMITMARK_ID_BYTES) {
        memcpy(self->rec.db_id, sqlite3_column_blob(st, 0),
               COMMITMARK_ID_BYTES);
        self->rec.counter = (uint64_t) sqlite3_column_int64(st, 1);
        self->bumped = true;
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        code = cds_db_fail(self->db, "commit_mark bump");
    cds_stmt_done(st);
    return code;
}

int
commitmark_sync(commitmark_t *self)
{
    if (!self->bumped)
        return CDS_OK;
    if (self->fd < 0)          /* not checked at start (unit tests) */
        self->fd = open_mark(self->path);
    int rc = self->fd < 0 ? CDS_EIO : write_slots(self->fd, &self->rec, false);
    int e = errno;
    if (rc == CDS_OK) {
        self->bumped = false;
        return CDS_OK;
    }
    /* What a peer can cause (no descriptor, no memory) or what passes
     * (disk full) is worth a retry; anything else is the disk failing. */
    if (e == EMFILE || e == ENFILE || e == ENOMEM || e == EINTR
        || e == EAGAIN)
        rc = CDS_EBUSY;
    else if (e == ENOSPC || e == EDQUOT)
        rc = CDS_EFULL;
    cds_log(CDS_LOG_ERROR, "commit_mark_failed",
            "path=%s counter=%llu error=%s", cds_logq(self->path),
            (unsigned long long) self->rec.counter, cds_logq(strerror(e)));
    return rc;
}

/* ---- accept-restore ---------------------------------------------------- */

/* The restore_event row and every agent's pending comparison. */
static int
record_event(commitmark_t *self, commitmark_state_t state,
             const commitmark_record_t *d, const commitmark_record_t *m,
             bool have_mark, const char *note, int64_t now_ms,
             int64_t *event_id)
{
    sqlite3_stmt *st = self->st[ST_EVENT_ADD];
    cds_bind_int64(st, ":now", now_ms);
    cds_bind_text(st, ":reason", commitmark_state_name(state));
    cds_bind_int64(st, ":db_counter", (int64_t) d->counter);
    if (have_mark) {
        cds_bind_int64(st, ":mark_counter", (int64_t) m->counter);
        cds_bind_blob(st, ":mark_db_id", m->db_id, COMMITMARK_ID_BYTES);
    }
    cds_bind_text(st, ":note", note ? note : "");
    int rc = sqlite3_step(st);
    cds_stmt_done(st);
    if (rc != SQLITE_DONE)
        return cds_db_fail(self->db, "restore_event");
    *event_id = sqlite3_last_insert_rowid(cds_db_handle(self->db));
    st = self->st[ST_PENDING_ALL];
    cds_bind_int64(st, ":event", *event_id);
    rc = sqlite3_step(st);
    cds_stmt_done(st);
    return rc == SQLITE_DONE ? CDS_OK : cds_db_fail(self->db, "restore_pending");
}

int
commitmark_accept(commitmark_t *self, commitmark_state_t state,
                  const char *note, int64_t now_ms, int64_t *event_id)
{
    commitmark_record_t d, m;
    int rc = commitmark_db_get(self, &d);
    if (rc != CDS_OK)
        return rc;
    bool have_mark = commitmark_file_read(self->path, &m) == CDS_OK;
    rc = cds_db_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = record_event(self, state, &d, &m, have_mark, note, now_ms,
                      event_id);
    rc = rc == CDS_OK ? cds_db_commit(self->db) : rc;
    if (rc != CDS_OK) {
        cds_db_rollback(self->db);
        return rc;
    }
    /* Both slots: a stale slot of a higher or foreign mark must not win. */
    rc = file_put(self->path, &d, true);
    if (rc != CDS_OK)
        return rc;
    self->rec = d;
    cds_log(CDS_LOG_WARN, "restore_accepted",
            "restore=%lld reason=%s db_counter=%llu mark_counter=%lld "
            "note=%s", (long long) *event_id, commitmark_state_name(state),
            (unsigned long long) d.counter,
            have_mark ? (long long) m.counter : -1LL,
            cds_logq(note ? note : ""));
    return CDS_OK;
}

/* ---- hellos after a restore -------------------------------------------- */

/* Record agent's lost range and continue its chain at (seq, head). */
static int
record_loss(commitmark_t *self, store_agent_t *agent, int64_t event,
            uint64_t seq, const uint8_t *head, int64_t now_ms)
{
    sqlite3_stmt *st = self->st[ST_LOSS_ADD];
    cds_bind_int64(st, ":event", event);
    cds_bind_int64(st, ":id", agent->id);
    cds_bind_int64(st, ":first", (int64_t) agent->applied_seq + 1);
    cds_bind_int64(st, ":last", (int64_t) seq);
    cds_bind_int64(st, ":now", now_ms);
    int rc = sqlite3_step(st);
    cds_stmt_done(st);
    if (rc != SQLITE_DONE)
        return cds_db_fail(self->db, "restore_loss");
    int code = store_agent_advance(self->store, agent->id, seq, head);
    if (code != CDS_OK)
        return code;
    cds_log(CDS_LOG_ERROR, "acked_updates_lost",
            "agent=%s label=%s first=%llu last=%llu restore=%lld note=%s",
            agent->fpr, cds_logq(agent->label),
            (unsigned long long) agent->applied_seq + 1,
            (unsigned long long) seq, (long long) event,
            cds_logq("acknowledged before the restore, missing from the "
                     "database; the agent no longer holds them"));
    agent->applied_seq = seq;
    memcpy(agent->applied_head, head, CDS_HASH_BYTES);
    return CDS_OK;
}

/* The pending comparison of agent: 1 with event and applied seq, 0 none. */
static int
pending_take(commitmark_t *self, int64_t agent_id, int64_t *event,
             uint64_t *applied)
{
    sqlite3_stmt *st = self->st[ST_PENDING_GET];
    cds_bind_int64(st, ":id", agent_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *event = sqlite3_column_int64(st, 0);
        *applied = (uint64_t) sqlite3_column_int64(st, 1);
    }
    cds_stmt_done(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -cds_db_fail(self->db, "pending");
    st = self->st[ST_PENDING_DEL];
    cds_bind_int64(st, ":id", agent_id);
    rc = sqlite3_step(st);
    cds_stmt_done(st);
    return rc == SQLITE_DONE ? 1 : -cds_db_fail(self->db, "pending delete");
}

int
commitmark_hello(commitmark_t *self, store_agent_t *agent,
                 uint64_t acked_seq, const uint8_t *acked_head,
                 size_t head_len, int64_t now_ms, uint64_t *lost_first,
                 uint64_t *lost_last)
{
    int64_t event = 0;
    uint64_t applied_then = 0;
    *lost_first = *lost_last = 0;
    int got = pending_take(self, agent->id, &event, &applied_then);
    if (got < 0)
        return -got;
    if (acked_seq <= agent->applied_seq)
        return CDS_OK;
    if (got == 1 && applied_then == agent->applied_seq
        && head_len == CDS_HASH_BYTES) {
        *lost_first = agent->applied_seq + 1;
        *lost_last = acked_seq;
        return record_loss(self, agent, event, acked_seq, acked_head, now_ms);
    }
    cds_log(CDS_LOG_WARN, "agent_ahead",
            "agent=%s label=%s applied=%llu acked_seq=%llu note=%s",
            agent->fpr, cds_logq(agent->label),
            (unsigned long long) agent->applied_seq,
            (unsigned long long) acked_seq,
            cds_logq("the agent holds acks for updates this database does "
                     "not have; it cannot send newer ones (see "
                     "accept-restore)"));
    return CDS_OK;
}

/* ---- restores listing -------------------------------------------------- */

static int
print_events(commitmark_t *self, FILE *f)
{
    sqlite3_stmt *st = self->st[ST_EVENTS];
    int rc;
    char when[64];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long mark = sqlite3_column_int64(st, 4);
        char mk[32] = "none";
        if (mark >= 0)
            snprintf(mk, sizeof mk, "%lld", mark);
        fprintf(f, "restore %lld at %s reason=%s database_counter=%lld "
                "mark_counter=%s agents_not_yet_seen=%lld note=\"%s\"\n",
                (long long) sqlite3_column_int64(st, 0),
                cds_format_time(when, sizeof when,
                                (uint64_t) sqlite3_column_int64(st, 1)),
                (const char *) sqlite3_column_text(st, 2),
                (long long) sqlite3_column_int64(st, 3),
                mk,
                (long long) sqlite3_column_int64(st, 6),
                (const char *) sqlite3_column_text(st, 5));
    }
    cds_stmt_done(st);
    return rc == SQLITE_DONE ? CDS_OK : cds_db_fail(self->db, "restores");
}

int
commitmark_print(commitmark_t *self, FILE *f)
{
    int code = print_events(self, f);
    if (code != CDS_OK)
        return code;
    sqlite3_stmt *st = self->st[ST_LOSSES];
    int rc;
    char when[64];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fprintf(f, "lost restore=%lld agent=%s label=\"%s\" seq=%lld..%lld "
                "found=%s\n", (long long) sqlite3_column_int64(st, 0),
                (const char *) sqlite3_column_text(st, 1),
                (const char *) sqlite3_column_text(st, 2),
                (long long) sqlite3_column_int64(st, 3),
                (long long) sqlite3_column_int64(st, 4),
                cds_format_time(when, sizeof when,
                                (uint64_t) sqlite3_column_int64(st, 5)));
    cds_stmt_done(st);
    return rc == SQLITE_DONE ? CDS_OK : cds_db_fail(self->db, "losses");
}
