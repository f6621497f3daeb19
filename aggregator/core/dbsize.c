/*  dbsize: see dbsize.h. The two statements are kept together in
 *  dbsize_sql.h (STYLE.md "SQLite"): they are run once per scrape, not
 *  prepared for the connection's life. */
#include "dbsize.h"
#include "dbsize_sql.h"

#include "cds_err.h"
#include "cds_sql.h"

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
one_int(cds_sql_t *db, const char *sql, const char *pg_sql, int64_t *out)
{
    cds_sql_stmt_t *st = cds_sql_prepare2(db, sql, pg_sql, 0);
    if (!st)
        return CDS_ERROR;
    int rc = cds_sql_step(st);
    if (rc == CDS_SQL_ROW)
        *out = cds_sql_col_int64(st, 0);
    cds_sql_finalize(&st);
    return rc == CDS_SQL_ROW ? CDS_OK : rc == CDS_SQL_DONE ? CDS_ECORRUPT : rc;
}

/* PostgreSQL: the database's size as the server counts it; its WAL and
 * its disk are the server's (its administrator watches them): unknown. */
static int
pg_read(cds_sql_t *db, dbsize_t *out)
{
    out->wal_bytes = -1;
    out->disk_free_bytes = -1;
    return one_int(db, DBSIZE_SQL_DB_BYTES_PG, NULL, &out->db_bytes);
}

int
dbsize_read(cds_sql_t *db, dbsize_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = CDS_OK;
    if (cds_sql_backend(db) == CDS_SQL_POSTGRESQL) {
        out->db_bytes = -1;
        rc = pg_read(db, out);
    } else {
        char wal[4096 + 8];
        const char *path = cds_sql_where(db);
        out->db_bytes = file_bytes(path);
        snprintf(wal, sizeof wal, "%s-wal", path);
        out->wal_bytes = file_bytes(wal);
        if (out->wal_bytes < 0)
            out->wal_bytes = 0;        /* no WAL: nothing written since */
        out->disk_free_bytes = free_bytes(path);
    }
    if (rc == CDS_OK)
        rc = one_int(db, DBSIZE_SQL_REJECT_BYTES, DBSIZE_SQL_REJECT_BYTES_PG,
                     &out->rejects_bytes);
    if (rc == CDS_OK)
        rc = one_int(db, DBSIZE_SQL_REJECT_ROWS, NULL, &out->rejects_rows);
    return rc;
}
