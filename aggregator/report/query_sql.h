/*  query_sql: the SQL of query.c (query.c binds; NULL parameters mean
 *  "no filter"). The org units in scope come from QUERY_SCOPE_CTE, the
 *  long form's filter and order from QUERY_SQL_LIVE_IN_SCOPE (query.h,
 *  shared with the export). Prepared once per run. */
#ifndef AGG_QUERY_SQL_H
#define AGG_QUERY_SQL_H

/* Long form: every live (not deleted) value in scope; :indicators is a
 * JSON array of codes or NULL; periods by [start, end] containment. */
/* Column 7, lastupdated in ms: the source system's lastUpdated the
 * current value carried, else its effective stamp's wall time (hlc >> 16,
 * cds_hlc.h), as export writes it. */
#define QUERY_SQL_LONG_WITH(JSON_TEXTS, C)                                   \
    QUERY_SCOPE_CTE                                                          \
    "SELECT d.org_unit, coalesce(o.name, ''), d.indicator, d.period,"        \
    " d.disagg, d.value, coalesce(d.stored_by, ''),"                         \
    " coalesce(d.updated_ms, d.hlc / 65536),"                                \
    " coalesce(d.comment, ''), d.followup, coalesce(a.fpr, '')"              \
    " FROM datavalue d LEFT JOIN orgunit o ON o.code = d.org_unit"           \
    " LEFT JOIN agent a ON a.id = d.agent_id"                                \
    QUERY_SQL_LIVE_IN_SCOPE(JSON_TEXTS, C)
#define QUERY_SQL_LONG QUERY_SQL_LONG_WITH(STORE_SQL_JSON_TEXTS, "")
/* PostgreSQL: the JSON array read by its json functions, text in byte
 * order as on SQLite (store.h). */
#define QUERY_SQL_LONG_PG                                                    \
    QUERY_SQL_LONG_WITH(STORE_SQL_JSON_TEXTS_PG, STORE_SQL_BYTE_ORDER)
/* Wide form rows: leaves (units without children) in scope. */
#define QUERY_SQL_LEAVES_WITH(C)                                             \
    QUERY_SCOPE_CTE                                                          \
    "SELECT o.code, o.name FROM orgunit o"                                   \
    " WHERE o.code IN (SELECT code FROM scope)"                              \
    " AND NOT EXISTS (SELECT 1 FROM orgunit c WHERE c.parent = o.code)"      \
    " ORDER BY o.code" C
#define QUERY_SQL_LEAVES QUERY_SQL_LEAVES_WITH("")
/* PostgreSQL: codes in byte order, as on SQLite (store.h). */
#define QUERY_SQL_LEAVES_PG QUERY_SQL_LEAVES_WITH(STORE_SQL_BYTE_ORDER)
/* Wide form cell: the live default-disagg value of one key. */
#define QUERY_SQL_CELL                                                       \
    "SELECT value FROM datavalue WHERE org_unit = :ou AND indicator = :de"   \
    " AND period = :pe AND disagg = 'default' AND deleted = 0"
/* Distinct indicators with live values (wide form without a catalog). */
#define QUERY_SQL_INDICATORS                                                 \
    "SELECT DISTINCT indicator FROM datavalue WHERE deleted = 0"             \
    " ORDER BY indicator"
/* PostgreSQL: codes in byte order, as on SQLite (store.h); GROUP BY, as
 * DISTINCT would not sort by a collated expression. */
#define QUERY_SQL_INDICATORS_PG                                              \
    "SELECT indicator FROM datavalue WHERE deleted = 0 GROUP BY indicator"   \
    " ORDER BY indicator" STORE_SQL_BYTE_ORDER

#endif
