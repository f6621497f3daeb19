/*  dbsize: see dbsize.h. The two statements are kept together in
 *  dbsize_sql.h (STYLE.md "SQLite"): they are run once per scrape, not
 *  prepared for the connection's life. */
#include "dbsize.h"
#include "dbsize_sql.h"

#include "cds_err.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

static int64_t
file_bytes(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t) sb.st_size : -1;
}

/* Bytes an unprivileged writer may still use on path's filesystem. */
static int64_t
free_bytes(const char *path)
{
    char dir[4096];
    struct statvfs vb;
    snprintf(dir, sizeof dir, "%s", path);
    if (statvfs(dirname(dir), &vb) != 0)
        return -1;
    return (int64_t) vb.f_bavail * (int64_t) vb.f_frsize;
}

static int
one_int(cds_db_t *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(cds_db_handle(db), sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    int code = rc == SQLITE_OK ? CDS_OK : cds_db_fail(db, "dbsize");
    sqlite3_finalize(st);
    return code;
}

int
dbsize_read(cds_db_t *db, dbsize_t *out)
{
    char wal[4096 + 8];
    const char *path = cds_db_path(db);
    memset(out, 0, sizeof *out);
    out->db_bytes = file_bytes(path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    out->wal_bytes = file_bytes(wal);
    if (out->wal_bytes < 0)
        out->wal_bytes = 0;            /* no WAL: nothing written since */
    out->disk_free_bytes = free_bytes(path);
    int rc = one_int(db, DBSIZE_SQL_REJECT_BYTES, &out->rejects_bytes);
    if (rc == CDS_OK)
        rc = one_int(db, DBSIZE_SQL_REJECT_ROWS, &out->rejects_rows);
    return rc;
}
