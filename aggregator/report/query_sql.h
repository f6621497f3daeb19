/*  query_sql: the SQL of query.c (query.c binds; NULL parameters mean
 *  "no filter"). The org units in scope come from QUERY_SCOPE_CTE
 *  (query.h). Prepared once per run. */
#ifndef AGG_QUERY_SQL_H
#define AGG_QUERY_SQL_H

/* Long form: every live (not deleted) value in scope; :indicators is a
 * JSON array of codes or NULL; periods by [start, end] containment. */
#define QUERY_SQL_LONG_WITH(JSON_TEXTS)                                      \
    QUERY_SCOPE_CTE                                                          \
    "SELECT d.org_unit, coalesce(o.name, ''), d.indicator, d.period,"        \
    " d.disagg, d.value, coalesce(d.stored_by, ''), d.hlc,"                  \
    " coalesce(d.comment, ''), d.followup, coalesce(a.fpr, '')"              \
    " FROM datavalue d LEFT JOIN orgunit o ON o.code = d.org_unit"           \
    " LEFT JOIN agent a ON a.id = d.agent_id"                                \
    " WHERE d.deleted = 0 AND d.org_unit IN (SELECT code FROM scope)"        \
    " AND (CAST(:indicators AS TEXT) IS NULL OR d.indicator IN"              \
    "      (" JSON_TEXTS(":indicators") "))"                                 \
    " AND (CAST(:start AS BIGINT) IS NULL OR d.period_start >= :start)"      \
    " AND (CAST(:end AS BIGINT) IS NULL OR d.period_end <= :end)"            \
    " ORDER BY d.org_unit, d.indicator, d.period_start, d.period, d.disagg"
#define QUERY_SQL_LONG QUERY_SQL_LONG_WITH(STORE_SQL_JSON_TEXTS)
/* PostgreSQL: the JSON array read by its json functions (store.h). */
#define QUERY_SQL_LONG_PG QUERY_SQL_LONG_WITH(STORE_SQL_JSON_TEXTS_PG)
/* Wide form rows: leaves (units without children) in scope. */
#define QUERY_SQL_LEAVES                                                     \
    QUERY_SCOPE_CTE                                                          \
    "SELECT o.code, o.name FROM orgunit o"                                   \
    " WHERE o.code IN (SELECT code FROM scope)"                              \
    " AND NOT EXISTS (SELECT 1 FROM orgunit c WHERE c.parent = o.code)"      \
    " ORDER BY o.code"
/* Wide form cell: the live default-disagg value of one key. */
#define QUERY_SQL_CELL                                                       \
    "SELECT value FROM datavalue WHERE org_unit = :ou AND indicator = :de"   \
    " AND period = :pe AND disagg = 'default' AND deleted = 0"
/* Distinct indicators with live values (wide form without a catalog). */
#define QUERY_SQL_INDICATORS                                                 \
    "SELECT DISTINCT indicator FROM datavalue WHERE deleted = 0"             \
    " ORDER BY indicator"

#endif
