/*  dbsize_sql: the SQL of aggregator/core/dbsize.c (STYLE.md "SQLite"),
 *  run once per scrape. A NAME_PG beside a text is its PostgreSQL text. */
#ifndef AGG_DBSIZE_SQL_H
#define AGG_DBSIZE_SQL_H

/* Pages of the reject table and its indexes (dbstat: SQLite's own page
 * accounting, built into Debian's libsqlite3). */
#define DBSIZE_SQL_REJECT_BYTES                                              \
    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE aggregate = 1"        \
    " AND name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'reject')"
/* PostgreSQL: the table's heap, TOAST and indexes (no dbstat there). */
#define DBSIZE_SQL_REJECT_BYTES_PG "SELECT pg_total_relation_size('reject')"
#define DBSIZE_SQL_REJECT_ROWS "SELECT count(*) FROM reject"

#endif
