/*  rollup_sql: the SQL of rollup.c (STYLE.md "SQLite"). The source leaves
 *  come from ORGMAP_SOURCES_CTE (orgmap.h, which rollup.c
 *  includes). */
#ifndef AGG_ROLLUP_SQL_H
#define AGG_ROLLUP_SQL_H

/* Live default-disagg values of :indicators (JSON array) for the source
 * leaves, with periods inside [:start, :end]. */
#define ROLLUP_SQL_SOURCE_VALUES_WITH(SOURCES_CTE, JSON_TEXTS)              \
    SOURCES_CTE                                                              \
    "SELECT d.org_unit, d.indicator, d.period, d.period_start,"              \
    " d.period_end, d.num, d.value FROM datavalue d"                         \
    " JOIN leaf l ON l.code = d.org_unit"                                    \
    " WHERE d.deleted = 0 AND d.disagg = 'default'"                          \
    " AND d.indicator IN (" JSON_TEXTS(":indicators") ")"                    \
    " AND d.period_start >= :start AND d.period_end <= :end"                 \
    " AND (l.until IS NULL OR d.period_start < l.until)"
#define ROLLUP_SQL_SOURCE_VALUES                                             \
    ROLLUP_SQL_SOURCE_VALUES_WITH(ORGMAP_SOURCES_CTE, STORE_SQL_JSON_TEXTS)
/* PostgreSQL: one recursive term, its json functions (orgmap.h, store.h). */
#define ROLLUP_SQL_SOURCE_VALUES_PG                                          \
    ROLLUP_SQL_SOURCE_VALUES_WITH(ORGMAP_SOURCES_CTE_PG,                     \
                                  STORE_SQL_JSON_TEXTS_PG)

#endif
