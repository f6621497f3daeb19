/*  central_sql: the SQL of central.c (STYLE.md "SQLite"). */
#ifndef AGG_CENTRAL_SQL_H
#define AGG_CENTRAL_SQL_H

/* Highest effective stamp of any current value: a central correction
 * must be newer than it. Not update_log.hlc: signed stamps can be far
 * ahead (clamped, ingest.h) and the aggregator's own are not clamped. */
#define CENTRAL_SQL_MAX_HLC "SELECT coalesce(max(hlc), 0) FROM datavalue"
/* Top-level org units (the aggregator's own subtree is all of them). */
#define CENTRAL_SQL_ROOTS                                                    \
    "SELECT code FROM orgunit WHERE parent IS NULL ORDER BY code"
/* PostgreSQL: codes in byte order, as on SQLite (store.h). */
#define CENTRAL_SQL_ROOTS_PG CENTRAL_SQL_ROOTS STORE_SQL_BYTE_ORDER

#endif
