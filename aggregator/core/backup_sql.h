/*  backup_sql: the SQL of aggregator/core/backup.c (STYLE.md "SQLite"). One
 *  read, on the snapshot connection: what the manifest records about the
 *  copy (commit_mark is commitmark_sql.h's table). */
#ifndef AGG_BACKUP_SQL_H
#define AGG_BACKUP_SQL_H

/* SQLite only: a backup is a copy of the SQLite file (the backup API, a
 * user_version pragma); a PostgreSQL store is backed up by pg_dump. */
#define BACKUP_SQL_FACTS                                                     \
    "SELECT db_id, counter,"                                                 \
    " (SELECT user_version FROM pragma_user_version)"                        \
    " FROM commit_mark WHERE id = 1"
/* SQLite only: the schema version of a database file (a copy's). */
#define BACKUP_SQL_FILE_VERSION "PRAGMA user_version"

#endif
