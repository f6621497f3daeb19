/*  commitmark: the database's commit counter and its sidecar mark file.
 *  See commitmark.h for the contract and the file format; every SQL text
 *  lives in commitmark_sql.h. */
#include "commitmark.h"
#include "commitmark_sql.h"

#include "cds_err.h"
#include "cds_sql.h"
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
const char commitmark_pg_schema[] = COMMITMARK_SQL_PG_SCHEMA;  /* store.h */

#define MAGIC1 "CDSMARK1"             /* SQLite: no server facts */
#define MAGIC2 "CDSMARK2"             /* PostgreSQL: with them */
#define MAGIC_LEN 8
#define SUM_BYTES 32                   /* BLAKE2b-256 of the body */
#define BODY1 32                       /* magic, id, counter */
#define BODY2 112                      /* + system id, timeline, oid, name */
#define SLOT_MAX (BODY2 + SUM_BYTES)
#define SLOT_STRIDE 512                /* slots in different sectors */
#define OFF_COUNTER (MAGIC_LEN + COMMITMARK_ID_BYTES)
#define OFF_SYSID (OFF_COUNTER + 8)
#define OFF_TLI (OFF_SYSID + 8)
#define OFF_OID (OFF_TLI + 4)
#define OFF_NAME (OFF_OID + 4)

/* Its own tables, on the store's connection; the reads of agent and batch
 * are store_read statements (struct commitmark). */
enum {
    ST_GET, ST_BUMP, ST_EVENT_ADD, ST_PENDING_PUT, ST_PENDING_GET,
    ST_PENDING_DEL, ST_LOSS_ADD, ST_EVENTS,
    ST_SERVER,                         /* PostgreSQL only */
    ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    [ST_GET] = COMMITMARK_SQL_GET,
    [ST_BUMP] = COMMITMARK_SQL_BUMP,
    /* RETURNING id on both (SQLite >= 3.35): no last insert rowid */
    [ST_EVENT_ADD] = COMMITMARK_SQL_EVENT_ADD_PG,
    [ST_PENDING_PUT] = COMMITMARK_SQL_PENDING_PUT,
    [ST_PENDING_GET] = COMMITMARK_SQL_PENDING_GET,
    [ST_PENDING_DEL] = COMMITMARK_SQL_PENDING_DEL,
    [ST_LOSS_ADD] = COMMITMARK_SQL_LOSS_ADD,
    [ST_EVENTS] = COMMITMARK_SQL_EVENTS,
    [ST_SERVER] = COMMITMARK_SQL_SERVER_PG,
};

static const char *const state_names[] = {
    [COMMITMARK_OK] = "ok", [COMMITMARK_CREATED] = "created",
    [COMMITMARK_ADOPTED] = "adopted",
    [COMMITMARK_REPAIRED] = "repaired", [COMMITMARK_BEHIND] = "behind",
    [COMMITMARK_FOREIGN] = "foreign", [COMMITMARK_DAMAGED] = "damaged",
    [COMMITMARK_OTHER_CLUSTER] = "other_cluster",
    [COMMITMARK_MOVED] = "moved",
};

struct commitmark {
    store_t *store;                    /* borrowed: agent reads, writes */
    cds_sql_t *db;                     /* borrowed, the store's */
    cds_sql_stmt_t *st[ST__COUNT];     /* prepared once, reset after use */
    cds_sql_stmt_t *has_data, *agents, *losses; /* store_read, the same */
    char path[4096];                   /* <base>.commitmark */
    int fd;                            /* mark file, open from
                                        * commitmark_check on: a later
                                        * EMFILE cannot stop acks */
    commitmark_record_t rec;           /* id and last bumped counter,
                                        * with the server's facts */
    bool bumped;                       /* rec.counter not yet in the file */
    commitmark_record_t mark;          /* what the file holds (PostgreSQL
                                        * rechecks against it) */
    bool have_mark;                    /* mark known (checked at start) */
    unsigned gen;                      /* cds_pg_generation checked */
    int verdict;                       /* of that check: CDS_OK or
                                        * CDS_ECORRUPT (refused) */
};

/* ---- the file ---------------------------------------------------------- */

static void
put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)        /* little-endian, whatever the host */
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* rec into out: the SQLite slot, or with server facts the PostgreSQL
 * one. Its length. */
static size_t
slot_encode(const commitmark_record_t *rec, uint8_t out[SLOT_MAX])
{
    bool pg = rec->system_id != 0;
    size_t body = pg ? BODY2 : BODY1;
    memset(out, 0, SLOT_MAX);
    memcpy(out, pg ? MAGIC2 : MAGIC1, MAGIC_LEN);
    memcpy(out + MAGIC_LEN, rec->db_id, COMMITMARK_ID_BYTES);
    put_le(out + OFF_COUNTER, rec->counter, 8);
    if (pg) {
        put_le(out + OFF_SYSID, rec->system_id, 8);
        put_le(out + OFF_TLI, rec->timeline, 4);
        put_le(out + OFF_OID, rec->db_oid, 4);
        memcpy(out + OFF_NAME, rec->db_name,
               strnlen(rec->db_name, COMMITMARK_DBNAME_BYTES - 1));
    }
    crypto_generichash(out + body, SUM_BYTES, out, body, NULL, 0);
    return body + SUM_BYTES;
}

/* 1 and *rec when the n bytes at in are a valid slot, 0 otherwise. */
static int
slot_decode(const uint8_t *in, size_t n, commitmark_record_t *rec)
{
    bool pg = n >= BODY2 + SUM_BYTES && memcmp(in, MAGIC2, MAGIC_LEN) == 0;
    size_t body = pg ? BODY2 : BODY1;
    uint8_t sum[SUM_BYTES];
    if (!pg && (n < BODY1 + SUM_BYTES || memcmp(in, MAGIC1, MAGIC_LEN) != 0))
        return 0;
    crypto_generichash(sum, sizeof sum, in, body, NULL, 0);
    if (sodium_memcmp(sum, in + body, sizeof sum) != 0)
        return 0;
    memset(rec, 0, sizeof *rec);
    memcpy(rec->db_id, in + MAGIC_LEN, COMMITMARK_ID_BYTES);
    rec->counter = get_le(in + OFF_COUNTER, 8);
    if (pg) {
        rec->system_id = get_le(in + OFF_SYSID, 8);
        rec->timeline = (uint32_t) get_le(in + OFF_TLI, 4);
        rec->db_oid = (uint32_t) get_le(in + OFF_OID, 4);
        memcpy(rec->db_name, in + OFF_NAME, COMMITMARK_DBNAME_BYTES - 1);
    }
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
        uint8_t buf[SLOT_MAX];
        commitmark_record_t r;
        ssize_t n = pread(fd, buf, sizeof buf, (off_t) s * SLOT_STRIDE);
        if (n < 0) {
            rc = CDS_EIO;
            break;
        }
        if (slot_decode(buf, (size_t) n, &r)
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
    uint8_t buf[SLOT_MAX];
    size_t len = slot_encode(rec, buf);
    for (int s = 0; s < 2; s++) {
        if (!both && s != (int) (rec->counter % 2))
            continue;
        if (pwrite(fd, buf, len, (off_t) s * SLOT_STRIDE) != (ssize_t) len)
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
commitmark_new(store_t *store, const char *base)
{
    cds_sql_t *db = store_sql(store);
    bool pg = cds_sql_backend(db) == CDS_SQL_POSTGRESQL;
    if (!base && pg) {
        cds_log(CDS_LOG_ERROR, "commit_mark_failed", "store=%s error=%s",
                cds_logq(cds_sql_where(db)),
                cds_logq("a PostgreSQL store needs a local path for its "
                         "commit mark"));
        return NULL;
    }
    commitmark_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->db = db;
    self->fd = -1;
    int n = snprintf(self->path, sizeof self->path, "%s" COMMITMARK_SUFFIX,
                     base ? base : cds_sql_where(db));
    if (n < 0 || (size_t) n >= sizeof self->path || sodium_init() < 0)
        goto fail;
    for (int i = 0; i < ST__COUNT; i++)
        if ((i != ST_SERVER || pg)
            && !(self->st[i] = cds_sql_prepare(db, sql_text[i], 0)))
            goto fail;
    self->has_data = store_read(store, COMMITMARK_SQL_HAS_DATA, NULL);
    self->agents = store_read(store, COMMITMARK_SQL_AGENTS_LIVE, NULL);
    self->losses = store_read(store, COMMITMARK_SQL_LOSSES, NULL);
    if (self->has_data && self->agents && self->losses)
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
        cds_sql_finalize(&self->st[i]);
    cds_sql_finalize(&self->has_data);
    cds_sql_finalize(&self->agents);
    cds_sql_finalize(&self->losses);
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

/* PostgreSQL: the server's facts into *out (commitmark.h). */
static int
server_get(commitmark_t *self, commitmark_record_t *out)
{
    cds_sql_stmt_t *st = self->st[ST_SERVER];
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW) {
        out->system_id = (uint64_t) cds_sql_col_int64(st, 0);
        out->timeline = (uint32_t) cds_sql_col_int64(st, 1);
        out->db_oid = (uint32_t) cds_sql_col_int64(st, 2);
        const char *name = cds_sql_col_text(st, 3);
        snprintf(out->db_name, sizeof out->db_name, "%s", name ? name : "");
    }
    cds_sql_reset(st);
    if (rc == CDS_SQL_ROW && out->system_id == 0)
        return CDS_ECORRUPT;           /* 0 means "no facts" in the file */
    return rc == CDS_SQL_ROW ? CDS_OK : rc == CDS_SQL_DONE ? CDS_ECORRUPT : rc;
}

int
commitmark_db_get(commitmark_t *self, commitmark_record_t *out)
{
    cds_sql_stmt_t *st = self->st[ST_GET];
    int rc = cds_sql_step(st);
    int code = CDS_OK;
    memset(out, 0, sizeof *out);
    if (rc == CDS_SQL_ROW && cds_sql_col_bytes(st, 0) == COMMITMARK_ID_BYTES) {
        memcpy(out->db_id, cds_sql_col_blob(st, 0), COMMITMARK_ID_BYTES);
        out->counter = (uint64_t) cds_sql_col_int64(st, 1);
    } else
        code = rc == CDS_SQL_ROW || rc == CDS_SQL_DONE ? CDS_ECORRUPT : rc;
    cds_sql_reset(st);
    if (code == CDS_OK && self->st[ST_SERVER])
        code = server_get(self, out);
    return code;
}

const char *
commitmark_state_name(commitmark_state_t state)
{
    return (unsigned) state < COMMITMARK__COUNT ? state_names[state]
                                                : "unknown";
}

bool
commitmark_state_runs(commitmark_state_t state)
{
    return state == COMMITMARK_OK || state == COMMITMARK_CREATED
           || state == COMMITMARK_ADOPTED || state == COMMITMARK_REPAIRED
           || state == COMMITMARK_MOVED;
}

/* PostgreSQL: why a database is behind its mark, from the server's facts
 * (commitmark.h); SQLite: the storage or an older copy. */
static const char *
behind_cause(const commitmark_record_t *d, const commitmark_record_t *m,
             char *buf, size_t len)
{
    if (!d->system_id)
        return "Probably the write-ahead log was truncated (a crash on "
               "storage that lost writes) or the database was restored from "
               "an older copy";
    if (m->system_id && d->timeline != m->timeline)
        snprintf(buf, len, "The server is on timeline %u, the mark was "
                 "written on timeline %u: a failover to a replica that "
                 "lacked the last acknowledged commits, or a point-in-time "
                 "recovery (base backup) to a point before them",
                 d->timeline, m->timeline);
    else if (m->system_id && d->db_oid != m->db_oid)
        snprintf(buf, len, "The database was re-created (OID %u, was %u): "
                 "a dump older than the last acknowledged commit was "
                 "reloaded", d->db_oid, m->db_oid);
    else
        snprintf(buf, len, "The server is an older copy: a base backup "
                 "or a replica that lacked the last acknowledged commits, "
                 "or its storage lost committed writes (fsync)");
    return buf;
}

/* The operator sentence for a refused state: where, what was found, and
 * the one way on. */
static void
refusal(const commitmark_t *self, commitmark_state_t st,
        const commitmark_record_t *d, const commitmark_record_t *m,
        char *msg, size_t len)
{
    char why[512];
    int at = snprintf(msg, len, "%s: ", cds_sql_where(self->db));
    size_t n = at > 0 && (size_t) at < len ? (size_t) at : 0;
    char *what = msg + n;
    size_t wlen = len - n;
    if (st == COMMITMARK_BEHIND)
        snprintf(what, wlen, "database commit counter %llu is behind "
                 "the commit mark %llu in %s: the last %llu acknowledged "
                 "group commit(s) are missing. %s; updates already "
                 "acknowledged to agents may be missing.",
                 (unsigned long long) d->counter,
                 (unsigned long long) m->counter, self->path,
                 (unsigned long long) (m->counter - d->counter),
                 behind_cause(d, m, why, sizeof why));
    else if (st == COMMITMARK_OTHER_CLUSTER)
        snprintf(what, wlen, "the commit mark %s (counter %llu) was "
                 "written on another PostgreSQL cluster (system identifier "
                 "%llu, database %s; this server: %llu, database %s, counter "
                 "%llu): the URL reaches a server that is not the primary "
                 "or a replica of the one the mark knew, or the database was "
                 "reloaded into another cluster; updates acknowledged on "
                 "the old one may be missing.", self->path,
                 (unsigned long long) m->counter,
                 (unsigned long long) m->system_id, m->db_name,
                 (unsigned long long) d->system_id, d->db_name,
                 (unsigned long long) d->counter);
    else if (st == COMMITMARK_FOREIGN)
        snprintf(what, wlen, "the commit mark %s (counter %llu) "
                 "belongs to another database (this one: counter %llu): the "
                 "database was replaced or re-created; updates acknowledged "
                 "by the old one may be missing.", self->path,
                 (unsigned long long) m->counter,
                 (unsigned long long) d->counter);
    else
        snprintf(what, wlen, "the commit mark %s is damaged (no valid "
                 "record): cannot tell whether acknowledged updates are "
                 "missing (database counter %llu).", self->path,
                 (unsigned long long) d->counter);
    n = strlen(msg);
    snprintf(msg + n, len - n, " Refusing to run. To accept this state and "
             "continue: cdsync-aggregator accept-restore [--note TEXT] (see "
             "`restores` afterwards for the agents whose acknowledged "
             "updates are missing).");
}

/* PostgreSQL: does the server the mark knew differ from d's (timeline,
 * database re-created or renamed, or a mark without server facts)? */
static bool
server_moved(const commitmark_record_t *d, const commitmark_record_t *m)
{
    return d->system_id
           && (!m->system_id || d->timeline != m->timeline
               || d->db_oid != m->db_oid
               || strcmp(d->db_name, m->db_name) != 0);
}

/* Compare a mark that was read with the database. */
static commitmark_state_t
compare(const commitmark_record_t *d, const commitmark_record_t *m)
{
    if (sodium_memcmp(d->db_id, m->db_id, COMMITMARK_ID_BYTES) != 0)
        return COMMITMARK_FOREIGN;
    if (d->system_id && m->system_id && d->system_id != m->system_id)
        return COMMITMARK_OTHER_CLUSTER;
    if (d->counter < m->counter)
        return COMMITMARK_BEHIND;
    if (d->counter > m->counter)
        return COMMITMARK_REPAIRED;
    return server_moved(d, m) ? COMMITMARK_MOVED : COMMITMARK_OK;
}

/* What moved (server_moved), for the log and the operator. */
static void
describe_move(const commitmark_record_t *d, const commitmark_record_t *m,
              char *buf, size_t len)
{
    if (!m->system_id)
        snprintf(buf, len, "the mark did not record the server");
    else if (d->timeline != m->timeline)
        snprintf(buf, len, "timeline %u -> %u: a failover or a "
                 "point-in-time recovery to a point after the last "
                 "acknowledged commit", m->timeline, d->timeline);
    else
        snprintf(buf, len, "database %s (OID %u) -> %s (OID %u): re-created "
                 "from a dump taken after the last acknowledged commit, or "
                 "renamed", m->db_name, m->db_oid, d->db_name, d->db_oid);
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "; now system identifier %llu, timeline %u, "
             "database %s (OID %u)", (unsigned long long) d->system_id,
             d->timeline, d->db_name, d->db_oid);
}

/* 1 when the database holds a batch, 0 when not, negative on error. */
static int
has_data(commitmark_t *self)
{
    cds_sql_stmt_t *st = self->has_data;
    int rc = cds_sql_step(st);
    int v = rc == CDS_SQL_ROW ? cds_sql_col_int(st, 0) != 0
            : rc == CDS_SQL_DONE ? -CDS_ECORRUPT : -rc;
    cds_sql_reset(st);
    return v;
}

/* Create (new file) or rewrite (repair, moved) the mark; the operator
 * sentence. */
static int
mark_fix(commitmark_t *self, commitmark_state_t st,
         const commitmark_record_t *d, const commitmark_record_t *m,
         char *msg, size_t msglen)
{
    if (file_put(self->path, d, st != COMMITMARK_REPAIRED) != CDS_OK)
        return CDS_EIO;
    const char *db = cds_sql_where(self->db);
    char moved[512] = "";
    if ((st == COMMITMARK_REPAIRED || st == COMMITMARK_MOVED)
        && server_moved(d, m))
        describe_move(d, m, moved, sizeof moved);
    if (st == COMMITMARK_CREATED)
        snprintf(msg, msglen, "%s: new commit mark %s", db, self->path);
    else if (st == COMMITMARK_ADOPTED)
        snprintf(msg, msglen, "%s: holds data but had no commit mark "
                 "(first start since the upgrade, or the mark was deleted): "
                 "created %s at counter %llu; a rollback before now cannot "
                 "be detected", db, self->path,
                 (unsigned long long) d->counter);
    else if (st == COMMITMARK_MOVED)
        snprintf(msg, msglen, "%s: commit counter %llu intact (nothing "
                 "acknowledged is missing), but the server moved (%s): mark "
                 "%s rewritten", db, (unsigned long long) d->counter, moved,
                 self->path);
    else
        snprintf(msg, msglen, "%s: database counter %llu ahead of the mark "
                 "%llu (a stop between commit and mark; nothing of it was "
                 "acknowledged): mark rewritten%s%s", db,
                 (unsigned long long) d->counter,
                 (unsigned long long) m->counter, *moved ? "; " : "", moved);
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

/* The mark is known to hold rec: later reconnects compare against it. */
static void
mark_known(commitmark_t *self, const commitmark_record_t *rec)
{
    cds_pg_t *pg = cds_sql_pg(self->db);
    self->mark = *rec;
    self->have_mark = true;
    self->gen = pg ? cds_pg_generation(pg) : 0;
    self->verdict = CDS_OK;
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
    if (!commitmark_state_runs(*state)) {
        refusal(self, *state, &d, &m, msg, msglen);
        return CDS_OK;
    }
    if (*state != COMMITMARK_OK) {
        rc = mark_fix(self, *state, &d, &m, msg, msglen);
        if (rc != CDS_OK)
            return rc;
    }
    mark_known(self, &d);
    return keep_open(self);
}

/* PostgreSQL, first after every reconnect (a new connection generation):
 * the server behind the URL may be another one now (commitmark.h).
 * CDS_OK (the mark takes a new timeline or database OID), CDS_ECORRUPT
 * (refused: logged), or a database or file error (checked again next
 * time). */
static int
recheck(commitmark_t *self)
{
    cds_pg_t *pg = cds_sql_pg(self->db);
    if (!pg || !self->have_mark || cds_pg_generation(pg) == self->gen)
        return self->verdict;
    commitmark_record_t d, m = self->mark;
    int rc = commitmark_db_get(self, &d);
    if (rc != CDS_OK)
        return rc;
    commitmark_state_t st = compare(&d, &m);
    char msg[1536];
    if (!commitmark_state_runs(st)) {
        refusal(self, st, &d, &m, msg, sizeof msg);
        cds_log(CDS_LOG_ERROR, "commit_mark_refused", "state=%s message=%s",
                commitmark_state_name(st), cds_logq(msg));
        self->gen = cds_pg_generation(pg);
        return self->verdict = CDS_ECORRUPT;
    }
    if (server_moved(&d, &m)) {
        describe_move(&d, &m, msg, sizeof msg);
        commitmark_record_t now = d;
        now.counter = m.counter;       /* what was acked: the file's */
        if (file_put(self->path, &now, true) != CDS_OK)
            return CDS_EIO;
        cds_log(CDS_LOG_WARN, "commit_mark_moved", "store=%s counter=%llu "
                "message=%s", cds_logq(cds_sql_where(self->db)),
                (unsigned long long) d.counter, cds_logq(msg));
        self->mark = now;
    }
    self->rec.system_id = d.system_id;  /* the next sync records them */
    self->rec.timeline = d.timeline;
    self->rec.db_oid = d.db_oid;
    memcpy(self->rec.db_name, d.db_name, sizeof d.db_name);
    self->gen = cds_pg_generation(pg);
    return self->verdict = CDS_OK;
}

int
commitmark_bump(commitmark_t *self)
{
    int rc = recheck(self);
    if (rc == CDS_OK && self->st[ST_SERVER] && !self->rec.system_id)
        rc = server_get(self, &self->rec);  /* not checked (tests, tools):
                                             * the mark still gets them */
    if (rc != CDS_OK)
        return rc;
    cds_sql_stmt_t *st = self->st[ST_BUMP];
    rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW
        && cds_sql_col_bytes(st, 0) == COMMITMARK_ID_BYTES) {
        memcpy(self->rec.db_id, cds_sql_col_blob(st, 0),
               COMMITMARK_ID_BYTES);
        self->rec.counter = (uint64_t) cds_sql_col_int64(st, 1);
        self->bumped = true;
        rc = cds_sql_step(st);
    }
    cds_sql_reset(st);
    if (rc == CDS_SQL_DONE)
        return CDS_OK;
    return rc == CDS_SQL_ROW ? CDS_ECORRUPT : rc;
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
        self->mark = self->rec;
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

/* A restore_pending row for every agent not revoked: its next hello is
 * compared with its applied seq now. In the caller's transaction. */
static int
pending_all(commitmark_t *self, int64_t event_id)
{
    cds_sql_stmt_t *ag = self->agents, *put = self->st[ST_PENDING_PUT];
    int rc = CDS_SQL_DONE, code = CDS_OK;
    while (code == CDS_OK && (rc = cds_sql_step(ag)) == CDS_SQL_ROW) {
        cds_sql_bind_int64(put, ":id", cds_sql_col_int64(ag, 0));
        cds_sql_bind_int64(put, ":event", event_id);
        cds_sql_bind_int64(put, ":applied", cds_sql_col_int64(ag, 1));
        code = cds_sql_run(put);
        cds_sql_reset(put);
    }
    if (code == CDS_OK && rc != CDS_SQL_DONE)
        code = rc;
    cds_sql_reset(ag);
    return code;
}

/* The restore_event row and every agent's pending comparison. */
static int
record_event(commitmark_t *self, commitmark_state_t state,
             const commitmark_record_t *d, const commitmark_record_t *m,
             bool have_mark, const char *note, int64_t now_ms,
             int64_t *event_id)
{
    cds_sql_stmt_t *st = self->st[ST_EVENT_ADD];
    cds_sql_bind_int64(st, ":now", now_ms);
    cds_sql_bind_text(st, ":reason", commitmark_state_name(state));
    cds_sql_bind_int64(st, ":db_counter", (int64_t) d->counter);
    if (have_mark) {
        cds_sql_bind_int64(st, ":mark_counter", (int64_t) m->counter);
        cds_sql_bind_blob(st, ":mark_db_id", m->db_id, COMMITMARK_ID_BYTES);
    } else {
        cds_sql_bind_null(st, ":mark_counter");
        cds_sql_bind_null(st, ":mark_db_id");
    }
    cds_sql_bind_text(st, ":note", note ? note : "");
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW) {
        *event_id = cds_sql_col_int64(st, 0);
        rc = cds_sql_step(st);
    }
    cds_sql_reset(st);
    if (rc != CDS_SQL_DONE)
        return rc == CDS_SQL_ROW ? CDS_ECORRUPT : rc;
    return pending_all(self, *event_id);
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
    rc = cds_sql_begin(self->db);
    if (rc != CDS_OK)
        return rc;
    rc = record_event(self, state, &d, &m, have_mark, note, now_ms,
                      event_id);
    rc = rc == CDS_OK ? cds_sql_commit(self->db) : rc;
    if (rc != CDS_OK) {
        cds_sql_rollback(self->db);
        return rc;
    }
    /* Both slots: a stale slot of a higher or foreign mark must not win. */
    rc = file_put(self->path, &d, true);
    if (rc != CDS_OK)
        return rc;
    self->rec = d;
    mark_known(self, &d);
    cds_log(CDS_LOG_WARN, "restore_accepted",
            "restore=%lld reason=%s db_counter=%llu mark_counter=%lld "
            "note=%s", (long long) *event_id, commitmark_state_name(state),
            (unsigned long long) d.counter,
            have_mark ? (long long) m.counter : -1LL,
            cds_logq(note ? note : ""));
    return CDS_OK;
}

/* ---- hellos after a restore -------------------------------------------- */

/* Record the range agent's restored database lacks (applied + 1 ..
 * missing_last, restore_loss) and, when head is not NULL, continue its
 * chain at (skip_to, head): the seqs up to skip_to are lost for good. */
static int
record_loss(commitmark_t *self, store_agent_t *agent, int64_t event,
            uint64_t missing_last, uint64_t skip_to, const uint8_t *head,
            int64_t now_ms)
{
    cds_sql_stmt_t *st = self->st[ST_LOSS_ADD];
    cds_sql_bind_int64(st, ":event", event);
    cds_sql_bind_int64(st, ":id", agent->id);
    cds_sql_bind_int64(st, ":first", (int64_t) agent->applied_seq + 1);
    cds_sql_bind_int64(st, ":last", (int64_t) missing_last);
    cds_sql_bind_int64(st, ":now", now_ms);
    int rc = cds_sql_run(st);
    cds_sql_reset(st);
    if (rc != CDS_OK || !head)
        return rc;
    int code = store_agent_advance(self->store, agent->id, skip_to, head);
    if (code != CDS_OK)
        return code;
    cds_log(CDS_LOG_ERROR, "acked_updates_lost",
            "agent=%s label=%s first=%llu last=%llu restore=%lld note=%s",
            agent->fpr, cds_logq(agent->label),
            (unsigned long long) agent->applied_seq + 1,
            (unsigned long long) skip_to, (long long) event,
            cds_logq("acknowledged before the restore, missing from the "
                     "database; the agent no longer holds them"));
    agent->applied_seq = skip_to;
    memcpy(agent->applied_head, head, CDS_HASH_BYTES);
    return CDS_OK;
}

/* The pending comparison of agent: 1 with event and applied seq, 0 none. */
static int
pending_take(commitmark_t *self, int64_t agent_id, int64_t *event,
             uint64_t *applied)
{
    cds_sql_stmt_t *st = self->st[ST_PENDING_GET];
    cds_sql_bind_int64(st, ":id", agent_id);
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW) {
        *event = cds_sql_col_int64(st, 0);
        *applied = (uint64_t) cds_sql_col_int64(st, 1);
    }
    cds_sql_reset(st);
    if (rc != CDS_SQL_ROW)
        return rc == CDS_SQL_DONE ? 0 : -rc;
    st = self->st[ST_PENDING_DEL];
    cds_sql_bind_int64(st, ":id", agent_id);
    rc = cds_sql_run(st);
    cds_sql_reset(st);
    return rc == CDS_OK ? 1 : -rc;
}

int
commitmark_hello(commitmark_t *self, store_agent_t *agent,
                 uint64_t acked_seq, const uint8_t *acked_head,
                 size_t head_len, int64_t now_ms, uint64_t *lost_first,
                 uint64_t *lost_last)
{
    commitmark_hello_t h = { acked_seq, acked_head, head_len, 0, NULL, 0 };
    uint64_t resend_from;
    return commitmark_hello_kept(self, agent, &h, now_ms, lost_first,
                                 lost_last, &resend_from);
}

/* The seq from which h's kept batches can rebuild agent's chain: 0 when
 * none are kept; at most applied + 1 (the chain continues from the head
 * the database holds); above it only with the head before it. */
static uint64_t
recover_from(const store_agent_t *agent, const commitmark_hello_t *h)
{
    if (h->kept_from == 0 || h->kept_from > h->acked_seq)
        return 0;
    if (h->kept_from <= agent->applied_seq + 1)
        return agent->applied_seq + 1;
    return h->kept_prev_head_len == CDS_HASH_BYTES ? h->kept_from : 0;
}

static void
log_resend(const store_agent_t *agent, uint64_t from, uint64_t to,
           int64_t event)
{
    cds_log(CDS_LOG_WARN, "acked_updates_resend",
            "agent=%s label=%s first=%llu last=%llu restore=%lld note=%s",
            agent->fpr, cds_logq(agent->label), (unsigned long long) from,
            (unsigned long long) to, (long long) event,
            cds_logq("missing from the database; the agent resends its "
                     "kept signed batches"));
}

int
commitmark_hello_kept(commitmark_t *self, store_agent_t *agent,
                      const commitmark_hello_t *h, int64_t now_ms,
                      uint64_t *lost_first, uint64_t *lost_last,
                      uint64_t *resend_from)
{
    int64_t event = 0;
    uint64_t applied_then = 0;
    *lost_first = *lost_last = *resend_from = 0;
    int got = pending_take(self, agent->id, &event, &applied_then);
    if (got < 0)
        return -got;
    if (h->acked_seq <= agent->applied_seq)
        return CDS_OK;
    uint64_t from = recover_from(agent, h);
    if (got == 1 && applied_then == agent->applied_seq
        && h->head_len == CDS_HASH_BYTES) {
        *lost_first = agent->applied_seq + 1;
        *lost_last = from ? from - 1 : h->acked_seq;
        *resend_from = from;
        if (*lost_last < *lost_first)
            *lost_first = *lost_last = 0;
        if (from)
            log_resend(agent, from, h->acked_seq, event);
        if (from == agent->applied_seq + 1)   /* nothing to skip */
            return record_loss(self, agent, event, h->acked_seq,
                               h->acked_seq, NULL, now_ms);
        return record_loss(self, agent, event, h->acked_seq, *lost_last,
                           from ? h->kept_prev_head : h->acked_head,
                           now_ms);
    }
    if (from == agent->applied_seq + 1) {
        *resend_from = from;           /* a resend goes on (or a restored
                                        * database nobody accepted) */
        return CDS_OK;
    }
    cds_log(CDS_LOG_WARN, "agent_ahead",
            "agent=%s label=%s applied=%llu acked_seq=%llu note=%s",
            agent->fpr, cds_logq(agent->label),
            (unsigned long long) agent->applied_seq,
            (unsigned long long) h->acked_seq,
            cds_logq("the agent holds acks for updates this database does "
                     "not have; it cannot send newer ones (see "
                     "accept-restore)"));
    return CDS_OK;
}

/* ---- restores listing -------------------------------------------------- */

static int
print_events(commitmark_t *self, FILE *f)
{
    cds_sql_stmt_t *st = self->st[ST_EVENTS];
    int rc;
    char when[64];
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        long long mark = cds_sql_col_int64(st, 4);
        char mk[32] = "none";
        if (mark >= 0)
            snprintf(mk, sizeof mk, "%lld", mark);
        fprintf(f, "restore %lld at %s reason=%s database_counter=%lld "
                "mark_counter=%s agents_not_yet_seen=%lld note=\"%s\"\n",
                (long long) cds_sql_col_int64(st, 0),
                cds_format_time(when, sizeof when,
                                (uint64_t) cds_sql_col_int64(st, 1)),
                cds_sql_col_text(st, 2),
                (long long) cds_sql_col_int64(st, 3),
                mk,
                (long long) cds_sql_col_int64(st, 6),
                cds_sql_col_text(st, 5));
    }
    cds_sql_reset(st);
    return rc == CDS_SQL_DONE ? CDS_OK : rc;
}

int
commitmark_print(commitmark_t *self, FILE *f)
{
    int code = print_events(self, f);
    if (code != CDS_OK)
        return code;
    cds_sql_stmt_t *st = self->losses;
    int rc;
    char when[64];
    while ((rc = cds_sql_step(st)) == CDS_SQL_ROW) {
        long long first = cds_sql_col_int64(st, 3);
        long long last = cds_sql_col_int64(st, 4);
        long long back = cds_sql_col_int64(st, 6);
        long long applied = cds_sql_col_int64(st, 7);
        fprintf(f, "lost restore=%lld agent=%s label=\"%s\" seq=%lld..%lld "
                "found=%s recovered=%lld not_recovered=%lld%s\n",
                (long long) cds_sql_col_int64(st, 0),
                cds_sql_col_text(st, 1), cds_sql_col_text(st, 2), first,
                last, cds_format_time(when, sizeof when,
                                      (uint64_t) cds_sql_col_int64(st, 5)),
                back, last - first + 1 - back,
                applied >= last ? "" : " (resend in progress)");
    }
    cds_sql_reset(st);
    return rc == CDS_SQL_DONE ? CDS_OK : rc;
}
