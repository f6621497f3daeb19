/*  orgmap_sql: the SQL of orgmap.c (STYLE.md "SQLite": named parameters,
 *  kept together). The orgunit_map table is created by
 *  STORE_SQL_MIGRATION_ADMIN (store_sql.h); the sources CTE the figures
 *  start from is ORGMAP_SOURCES_CTE, in orgmap.h (rollup's SQL uses it
 *  too). */
#ifndef AGG_ORGMAP_SQL_H
#define AGG_ORGMAP_SQL_H

#define ORGMAP_SQL_MAP_CLEAR "DELETE FROM orgunit_map"
/* A pair listed twice inserts nothing the second time (orgmap.c). */
#define ORGMAP_SQL_MAP_INSERT                                                \
    "INSERT INTO orgunit_map(old, new, from_day, note)"                      \
    " VALUES (:old, :new, :from_day, :note) ON CONFLICT DO NOTHING"
#define ORGMAP_SQL_OU_GET                                                    \
    "SELECT name, valid_from, valid_to FROM orgunit WHERE code = :code"

/* Leaves expected to report for [:start, :end]: valid on some day of it,
 * and (mapped-in units) the range starts before their mapping date. */
#define ORGMAP_SQL_SOURCES_WITH(SOURCES_CTE, C)                              \
    SOURCES_CTE                                                              \
    "SELECT l.code, o.name, coalesce(o.valid_from, -2147483648),"            \
    " coalesce(o.valid_to, 2147483647), coalesce(l.until, 2147483647)"       \
    " FROM leaf l JOIN orgunit o ON o.code = l.code"                         \
    " WHERE (o.valid_from IS NULL OR o.valid_from <= :end)"                  \
    " AND (o.valid_to IS NULL OR o.valid_to >= :start)"                      \
    " AND (l.until IS NULL OR :start < l.until)"                             \
    " ORDER BY l.code" C
#define ORGMAP_SQL_SOURCES ORGMAP_SQL_SOURCES_WITH(ORGMAP_SOURCES_CTE, "")
/* PostgreSQL: one recursive term (ORGMAP_SOURCES_CTE_PG, orgmap.h); codes
 * in byte order as on SQLite: rollup looks units up by strcmp (store.h). */
#define ORGMAP_SQL_SOURCES_PG                                                \
    ORGMAP_SQL_SOURCES_WITH(ORGMAP_SOURCES_CTE_PG, STORE_SQL_BYTE_ORDER)

/* (old, successor) pairs: the units an old unit was merged into, followed
 * along orgunit_map transitively, and the leaves below them. */
#define ORGMAP_SQL_SUCCESSORS                                                \
    "WITH RECURSIVE succ(root, code) AS ("                                   \
    " SELECT old, new FROM orgunit_map"                                      \
    " UNION SELECT s.root, m.new FROM succ s JOIN orgunit_map m"             \
    "  ON m.old = s.code),"                                                  \
    " down(root, code) AS (SELECT root, code FROM succ"                      \
    " UNION SELECT d.root, o.code FROM down d JOIN orgunit o"                \
    "  ON o.parent = d.code)"                                                \
    " SELECT root, code FROM down"

#endif
