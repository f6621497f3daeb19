/*  backup: `backup FILE`, `restore FILE` and the daemon lock. See
 *  backup.h for the file set and the contract. */
#include "backup.h"
#include "backup_sql.h"
#include "commitmark.h"
#include "store.h"

#include "cds_err.h"
#include "cds_pg.h"
#include "cds_sql.h"
#include "cds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_FORMAT "cdsync-aggregator-backup 1"
#define STEP_PAGES 1024                /* pages per backup step */
#define BUSY_TRIES 1000                /* x 10 ms */
#define PATH_MAX_LEN 4096

/* ---- small file helpers ------------------------------------------------ */

/* "<a><b>" into out; -1 when too long. */
static int
join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX_LEN, "%s%s", a, b);
    return n < 0 || n >= PATH_MAX_LEN ? -1 : 0;
}

/* fsync path and set its mode. 0 or -1 (errno). */
static int
sync_file(const char *path, mode_t mode)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fchmod(fd, mode) == 0 && fsync(fd) == 0 ? 0 : -1;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Copy src to dst (created 0600, truncated), fsynced. 0 or -1 (errno). */
static int
copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = out < 0 ? -1 : 0;
    char buf[65536];
    ssize_t n = 0;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t) n) != n)
            rc = -1;
    if (n < 0 || (rc == 0 && (fchmod(out, 0600) != 0 || fsync(out) != 0)))
        rc = -1;
    int e = errno;
    close(in);
    if (out >= 0)
        close(out);
    errno = e;
    return rc;
}

/* SHA-256 of a file as hex (65 bytes). 0 or -1 (errno). */
static int
sha256_file(const char *path, char hex[2 * crypto_hash_sha256_BYTES + 1])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536], sum[crypto_hash_sha256_BYTES];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        crypto_hash_sha256_update(&st, buf, (unsigned long long) n);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    crypto_hash_sha256_final(&st, sum);
    cds_hex(hex, sum, sizeof sum);
    return 0;
}

/* ---- the daemon lock and ownership ------------------------------------- */

int
backup_own_like(const char *path, const char *ref)
{
    struct stat r, p;
    if (stat(ref, &r) != 0 || stat(path, &p) != 0)
        return -1;
    if (p.st_uid == r.st_uid && p.st_gid == r.st_gid)
        return 0;
    return chown(path, r.st_uid, r.st_gid);
}

int
backup_lock_try(const char *db_path, int *code)
{
    char path[PATH_MAX_LEN];
    *code = CDS_EIO;
    if (join(path, db_path, BACKUP_LOCK_SUFFIX) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            *code = CDS_EBUSY;
        close(fd);
        return -1;
    }
    /* Root taking it first must not lock the service user out: owned
     * like the database, or its directory before there is one. */
    char dir[PATH_MAX_LEN];
    snprintf(dir, sizeof dir, "%s", db_path);
    if (geteuid() == 0 && backup_own_like(path, db_path) != 0)
        backup_own_like(path, dirname(dir));
    *code = CDS_OK;
    return fd;
}

/* ---- backup ------------------------------------------------------------ */

/* What the manifest says about the copied database. */
typedef struct {
    char db_id[2 * COMMITMARK_ID_BYTES + 1];
    long long counter;
    int schema;
} db_facts_t;

/* Copy src (open, inside a read transaction) into a new database at dst
 * in steps of STEP_PAGES: the read transaction pins one snapshot, so a
 * writer never restarts the copy and is never blocked by it (WAL). */
static int
copy_db(sqlite3 *src, const char *dst, char *msg, size_t msglen)
{
    sqlite3 *out = NULL;
    int rc = sqlite3_open_v2(dst, &out, SQLITE_OPEN_READWRITE
                             | SQLITE_OPEN_CREATE, NULL);
    sqlite3_backup *b = rc == SQLITE_OK
                            ? sqlite3_backup_init(out, "main", src, "main")
                            : NULL;
    if (b) {
        /* Busy only while another connection holds a lock it must not
         * (we are inside our read transaction): bounded, ~10 s. */
        int busy = 0;
        do {
            rc = sqlite3_backup_step(b, STEP_PAGES);
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                sqlite3_sleep(10);
        } while (rc == SQLITE_OK
                 || ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                     && ++busy < BUSY_TRIES));
        int fin = sqlite3_backup_finish(b);
        rc = rc == SQLITE_DONE ? fin : rc;
    } else
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK)
        snprintf(msg, msglen, "%s: copy failed: %s (%s)", dst,
                 sqlite3_errstr(rc), out ? sqlite3_errmsg(out) : "no memory");
    if (sqlite3_close(out) != SQLITE_OK && rc == SQLITE_OK)
        rc = SQLITE_ERROR;
    return rc == SQLITE_OK ? CDS_OK : CDS_EIO;
}

/* Database id, commit counter, schema version from the snapshot. */
static int
read_facts(sqlite3 *db, db_facts_t *f)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, BACKUP_SQL_FACTS, -1, &st, NULL)
                 == SQLITE_OK
             && sqlite3_step(st) == SQLITE_ROW
             && sqlite3_column_bytes(st, 0) == COMMITMARK_ID_BYTES;
    if (ok) {
        cds_hex(f->db_id, sqlite3_column_blob(st, 0), COMMITMARK_ID_BYTES);
        f->counter = sqlite3_column_int64(st, 1);
        f->schema = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    return ok ? CDS_OK : CDS_ECORRUPT;
}

/* The database into tmp (a consistent snapshot) and its facts. Not
 * through cds_db_open: that migrates, and a backup must copy the database
 * as it is, read-only, whatever version wrote it. */
static int
snapshot(const char *db_path, const char *tmp, db_facts_t *f, char *msg,
         size_t msglen)
{
    sqlite3 *src = NULL;
    int rc = sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(src, 5000);
    if (rc != SQLITE_OK
        || sqlite3_exec(src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(msg, msglen, "%s: cannot open: %s", db_path,
                 src ? sqlite3_errmsg(src) : "out of memory");
        sqlite3_close(src);
        return CDS_EIO;
    }
    int code = read_facts(src, f);  /* also starts the read transaction */
    if (code != CDS_OK)
        snprintf(msg, msglen, "%s: not an aggregator database (no "
                 "commit_mark)", db_path);
    else
        code = copy_db(src, tmp, msg, msglen);
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(src);
    return code;
}

/* The names of a backup set: [0] database, [1] identity, [2] catalog,
 * [3] manifest; their manifest names are the suffixes. */
static const char *const part_suffix[4] = { "", ".identity", ".catalog.csv",
                                            ".manifest" };
static const char *const part_name[3] = { "database", "identity",
                                          "catalog" };

typedef struct {
    char final[4][PATH_MAX_LEN];
    char tmp[4][PATH_MAX_LEN];
    char sum[3][2 * crypto_hash_sha256_BYTES + 1];
} parts_t;

static int
parts_init(parts_t *p, const char *file)
{
    for (int i = 0; i < 4; i++)
        if (join(p->final[i], file, part_suffix[i]) != 0
            || join(p->tmp[i], p->final[i], ".tmp") != 0)
            return -1;
    return 0;
}

static void
parts_unlink_tmp(const parts_t *p)
{
    for (int i = 0; i < 4; i++)
        unlink(p->tmp[i]);
}

/* The manifest text into its tmp file, fsynced, 0600. */
static int
write_manifest(const parts_t *p, const db_facts_t *f)
{
    FILE *m = fopen(p->tmp[3], "w");
    if (!m)
        return -1;
    char when[64];
    fprintf(m, "format=%s\ndatabase_id=%s\ncommit_counter=%lld\n"
            "schema_version=%d\ncreated=%s\n", MANIFEST_FORMAT, f->db_id,
            f->counter, f->schema, cds_format_time(when, sizeof when,
                                                  cds_now_ms()));
    for (int i = 0; i < 3; i++)
        fprintf(m, "sha256 %s %s\n", part_name[i], p->sum[i]);
    int rc = fflush(m) == 0 && fsync(fileno(m)) == 0 ? 0 : -1;
    if (fclose(m) != 0)
        rc = -1;
    return rc == 0 ? sync_file(p->tmp[3], 0600) : -1;
}

/* Identity and catalog copies, digests of the three, the manifest. */
static int
write_rest(const backup_opts_t *o, parts_t *p, const db_facts_t *f,
           char *msg, size_t msglen)
{
    const char *src[3] = { NULL, o->identity_path, o->catalog_path };
    for (int i = 1; i < 3; i++)
        if (copy_file(src[i], p->tmp[i]) != 0) {
            snprintf(msg, msglen, "%s: cannot copy to %s: %s", src[i],
                     p->tmp[i], strerror(errno));
            return CDS_EIO;
        }
    for (int i = 0; i < 3; i++)
        if (sha256_file(p->tmp[i], p->sum[i]) != 0) {
            snprintf(msg, msglen, "%s: %s", p->tmp[i], strerror(errno));
            return CDS_EIO;
        }
    if (write_manifest(p, f) != 0) {
        snprintf(msg, msglen, "%s: %s", p->tmp[3], strerror(errno));
        return CDS_EIO;
    }
    return CDS_OK;
}

/* Every tmp onto its name, the manifest last, then the directory. */
static int
publish(const parts_t *p, char *msg, size_t msglen)
{
    for (int i = 0; i < 4; i++)
        if (rename(p->tmp[i], p->final[i]) != 0) {
            snprintf(msg, msglen, "%s: %s", p->final[i], strerror(errno));
            return CDS_EIO;
        }
    if (cds_fsync_dir(p->final[0]) != 0) {
        snprintf(msg, msglen, "%s: directory sync: %s", p->final[0],
                 strerror(errno));
        return CDS_EIO;
    }
    return CDS_OK;
}

/* A PostgreSQL store: what to do instead (backup.h). 1 when refused. */
static int
pg_refused(const backup_opts_t *o, bool backup, char *msg, size_t msglen)
{
    if (!o->store || !cds_sql_is_server(o->store))
        return 0;
    char *url = cds_pg_redact(o->store);
    snprintf(msg, msglen, "the store is the PostgreSQL database %s: %s "
             "with PostgreSQL's tools (base backups with WAL archiving for "
             "point-in-time recovery, or pg_dump / pg_restore)%s%s%s; after "
             "a restore `run` refuses until `accept-restore` "
             "(docs/POSTGRESQL.md \"When the store goes back in time\")",
             url ? url : "(URL)", backup ? "back it up" : "restore it",
             backup ? " and keep a copy of the identity file " : "",
             backup && o->identity_path ? o->identity_path : "",
             backup ? " with them, encrypted" : "");
    free(url);
    return 1;
}

int
backup_make(const backup_opts_t *o, char *msg, size_t msglen)
{
    parts_t p;
    db_facts_t f;
    msg[0] = '\0';
    if (pg_refused(o, true, msg, msglen))
        return CDS_EUSAGE;
    if (sodium_init() < 0 || parts_init(&p, o->file) != 0) {
        snprintf(msg, msglen, "%s: path too long", o->file);
        return CDS_EUSAGE;
    }
    struct stat a, b;
    if (stat(p.final[0], &a) == 0 && stat(o->db_path, &b) == 0
        && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        snprintf(msg, msglen, "%s is the live database; back it up "
                 "elsewhere", o->file);
        return CDS_EUSAGE;
    }
    if (!o->force && access(p.final[0], F_OK) == 0) {
        snprintf(msg, msglen, "%s exists; refusing to overwrite it "
                 "(--force to replace)", o->file);
        return CDS_EUSAGE;
    }
    parts_unlink_tmp(&p);
    int code = snapshot(o->db_path, p.tmp[0], &f, msg, msglen);
    if (code == CDS_OK && sync_file(p.tmp[0], 0600) != 0) {
        snprintf(msg, msglen, "%s: %s", p.tmp[0], strerror(errno));
        code = CDS_EIO;
    }
    if (code == CDS_OK)
        code = write_rest(o, &p, &f, msg, msglen);
    if (code == CDS_OK)
        code = publish(&p, msg, msglen);
    if (code != CDS_OK) {
        parts_unlink_tmp(&p);
        return code;
    }
    snprintf(msg, msglen, "backup %s: database %s commit counter %lld "
             "schema %d; with %s%s, %s%s, manifest %s%s", o->file, f.db_id,
             f.counter, f.schema, o->file, part_suffix[1], o->file,
             part_suffix[2], o->file, part_suffix[3]);
    return CDS_OK;
}

/* PRAGMA user_version of path, opened read-only (not through cds_db_open,
 * which migrates); -1 when there is no such file or it cannot be read. */
static int
peek_schema(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (access(path, F_OK) != 0)
        return -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_busy_timeout(db, 5000) == SQLITE_OK
        && sqlite3_prepare_v2(db, BACKUP_SQL_FILE_VERSION, -1, &st, NULL)
               == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

int
backup_before_migrate(const backup_opts_t *o, int target_schema, char *msg,
                      size_t msglen)
{
    msg[0] = '\0';
    if (o->store && cds_sql_is_server(o->store))
        return CDS_OK;                 /* the server's own backups */
    int v = peek_schema(o->db_path);
    if (v <= 0 || v >= target_schema)
        return CDS_OK;               /* new, current, or newer (refused) */
    char file[PATH_MAX_LEN];
    if (snprintf(file, sizeof file, "%s.pre-v%d", o->db_path, target_schema)
        >= (int) sizeof file) {
        snprintf(msg, msglen, "%s: path too long", o->db_path);
        return CDS_EUSAGE;
    }
    backup_opts_t b = *o;
    b.file = file;
    b.force = true;        /* an earlier attempt's copy: this one is newer */
    int code = backup_make(&b, msg, msglen);
    if (code == CDS_OK)
        for (int i = 0; i < 4; i++) {
            char part[PATH_MAX_LEN];
            if (join(part, file, part_suffix[i]) == 0)
                (void) backup_own_like(part, o->db_path);
        }
    return code;
}

/* ---- restore ----------------------------------------------------------- */

/* What restore needs from the manifest. */
typedef struct {
    char sum[3][2 * crypto_hash_sha256_BYTES + 1];
    uint8_t db_id[COMMITMARK_ID_BYTES];
    unsigned long long counter;
    int schema;                        /* PRAGMA user_version of the copy */
    int have;                          /* bit per field found */
} manifest_t;

/* One "key=value" or "sha256 NAME HEX" line. */
static void
manifest_line(manifest_t *m, const char *line)
{
    char name[32], hex[80];
    if (sscanf(line, "sha256 %31s %79s", name, hex) == 2
        && strlen(hex) == 2 * crypto_hash_sha256_BYTES)
        for (int i = 0; i < 3; i++)
            if (strcmp(name, part_name[i]) == 0) {
                memcpy(m->sum[i], hex, sizeof m->sum[i]);
                m->have |= 1 << i;
            }
    if (sscanf(line, "database_id=%79s", hex) == 1
        && cds_unhex(m->db_id, COMMITMARK_ID_BYTES, hex) == 0)
        m->have |= 8;
    if (sscanf(line, "commit_counter=%llu", &m->counter) == 1)
        m->have |= 16;
    if (strcmp(line, "format=" MANIFEST_FORMAT) == 0)
        m->have |= 32;
    if (sscanf(line, "schema_version=%d", &m->schema) == 1)
        m->have |= 64;
}

static int
manifest_read(const char *path, manifest_t *m, char *msg, size_t msglen)
{
    char *text = NULL;
    size_t len = 0;
    memset(m, 0, sizeof *m);
    if (cds_read_file(path, 1 << 16, &text, &len) != CDS_OK) {
        snprintf(msg, msglen, "%s: cannot read the manifest: %s", path,
                 strerror(errno));
        return CDS_ENOTFOUND;
    }
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        manifest_line(m, l);
    free(text);
    if ((m->have & 0x7b) == 0x7b)
        return CDS_OK;
    snprintf(msg, msglen, "%s: not a complete cdsync-aggregator backup "
             "manifest (format, database_id, commit_counter, "
             "schema_version, sha256 of the database and identity "
             "expected)", path);
    return CDS_ECORRUPT;
}

/* The digest of part i of the backup against the manifest. */
static int
verify_part(const parts_t *p, const manifest_t *m, int i, char *msg,
            size_t msglen)
{
    char sum[2 * crypto_hash_sha256_BYTES + 1];
    if (sha256_file(p->final[i], sum) != 0) {
        snprintf(msg, msglen, "%s: %s", p->final[i], strerror(errno));
        return CDS_ENOTFOUND;
    }
    if (strcmp(sum, m->sum[i]) == 0)
        return CDS_OK;
    snprintf(msg, msglen, "%s: sha256 %s differs from the manifest's %s: "
             "the backup is damaged or was changed; nothing restored",
             p->final[i], sum, m->sum[i]);
    return CDS_ECORRUPT;
}

/* Owner and mode the file put at dst gets: those of the file it
 * replaces, else 0600 and the owner of its directory. */
static int
target_owner(const char *dst, struct stat *out)
{
    if (stat(dst, out) == 0)
        return 0;
    char copy[PATH_MAX_LEN];
    snprintf(copy, sizeof copy, "%s", dst);
    if (errno != ENOENT || stat(dirname(copy), out) != 0)
        return -1;
    out->st_mode = 0600;
    return 0;
}

/* Keep the file at dst (and with_wal its -wal) under dst.pre-restore:
 * linked, so dst stays in place until the rename replaces it. */
static int
keep_old(const char *dst, bool with_wal)
{
    char old[PATH_MAX_LEN], wal[PATH_MAX_LEN], owal[PATH_MAX_LEN];
    if (join(old, dst, ".pre-restore") != 0 || join(wal, dst, "-wal") != 0
        || join(owal, old, "-wal") != 0)
        return -1;
    unlink(old);
    unlink(owal);
    if (link(dst, old) != 0 && errno != ENOENT)
        return -1;
    if (!with_wal)
        return 0;
    /* The old WAL must not be replayed onto the restored file. */
    if ((link(wal, owal) != 0 && errno != ENOENT)
        || (unlink(wal) != 0 && errno != ENOENT))
        return -1;
    if (join(wal, dst, "-shm") != 0 || (unlink(wal) != 0 && errno != ENOENT))
        return -1;
    return 0;
}

/* Copy src to dst.tmp with the owner and mode of what it replaces, keep
 * the old one, rename over dst, sync the directory. */
static int
install(const char *src, const char *dst, bool is_db, char *msg,
        size_t msglen)
{
    char tmp[PATH_MAX_LEN];
    struct stat st;
    if (join(tmp, dst, ".restore-tmp") != 0 || target_owner(dst, &st) != 0
        || copy_file(src, tmp) != 0
        || (geteuid() == 0 && chown(tmp, st.st_uid, st.st_gid) != 0)
        || sync_file(tmp, st.st_mode & 07777) != 0
        || keep_old(dst, is_db) != 0 || rename(tmp, dst) != 0
        || cds_fsync_dir(dst) != 0) {
        snprintf(msg, msglen, "%s: cannot put %s in place: %s", dst, src,
                 strerror(errno));
        unlink(tmp);
        return CDS_EIO;
    }
    return CDS_OK;
}

/* No mark beside the restored database: write one one ahead of it, so
 * `run` refuses ("behind its commit mark") until accept-restore makes
 * every agent's next hello compared (else a commune holding acks the
 * database lacks would be stuck). 1 written, 0 a mark exists, -1. */
static int
mark_if_none(const char *db_path, const manifest_t *m)
{
    char path[PATH_MAX_LEN];
    commitmark_record_t rec;
    if (join(path, db_path, COMMITMARK_SUFFIX) != 0)
        return -1;
    int rc = commitmark_file_read(path, &rec);
    if (rc != CDS_ENOTFOUND)
        return rc == CDS_EIO ? -1 : 0;
    memcpy(rec.db_id, m->db_id, COMMITMARK_ID_BYTES);
    rec.counter = m->counter + 1;
    if (commitmark_file_write(path, &rec) != CDS_OK)
        return -1;
    return backup_own_like(path, db_path) == 0 ? 1 : -1;
}

int
backup_restore(const backup_opts_t *o, char *msg, size_t msglen)
{
    parts_t p;
    manifest_t m;
    msg[0] = '\0';
    if (pg_refused(o, false, msg, msglen))
        return CDS_EUSAGE;
    if (sodium_init() < 0 || parts_init(&p, o->file) != 0) {
        snprintf(msg, msglen, "%s: path too long", o->file);
        return CDS_EUSAGE;
    }
    int code = manifest_read(p.final[3], &m, msg, msglen);
    if (code == CDS_OK && m.schema > store_schema_version()) {
        snprintf(msg, msglen, "%s: schema version %d is newer than this "
                 "program's %d (a backup made after an upgrade): install "
                 "that version to restore it; nothing restored", o->file,
                 m.schema, store_schema_version());
        code = CDS_EVERSION;
    }
    if (code == CDS_OK)
        code = verify_part(&p, &m, 0, msg, msglen);
    if (code == CDS_OK && o->with_identity)
        code = verify_part(&p, &m, 1, msg, msglen);
    if (code == CDS_OK)
        code = install(p.final[0], o->db_path, true, msg, msglen);
    if (code == CDS_OK && o->with_identity)
        code = install(p.final[1], o->identity_path, false, msg, msglen);
    if (code != CDS_OK)
        return code;
    int marked = mark_if_none(o->db_path, &m);
    if (marked < 0) {
        snprintf(msg, msglen, "%s: restored, but cannot write its commit "
                 "mark: %s", o->db_path, strerror(errno));
        return CDS_EIO;
    }
    snprintf(msg, msglen, "restored %s (commit counter %llu) to %s%s%s; the "
             "replaced database is kept as %s.pre-restore. %s`run` will "
             "refuse until `accept-restore --note TEXT` records the restore; "
             "afterwards agents resend the signed batches they kept and "
             "`restores` lists per agent what came back and what was lost.",
             o->file, m.counter, o->db_path,
             o->with_identity ? " and the identity to " : "",
             o->with_identity ? o->identity_path : "", o->db_path,
             marked ? "No commit mark existed: one was written ahead of the "
                      "restored database so that " : "If anything was "
             "acknowledged after the backup, ");
    return CDS_OK;
}
