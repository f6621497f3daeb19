/*  official_sql: the SQL of official.c (STYLE.md "SQLite"). */
#ifndef AGG_OFFICIAL_SQL_H
#define AGG_OFFICIAL_SQL_H

/* The direct children of :ou valid on some day of [:start, :end], by code
 * (byte order on both stores, as rollup's units). */
#define OFFICIAL_SQL_CHILDREN_WITH(C)                                        \
    "SELECT code, name FROM orgunit WHERE parent = :ou"                      \
    " AND (valid_from IS NULL OR valid_from <= :end)"                        \
    " AND (valid_to IS NULL OR valid_to >= :start)"                          \
    " ORDER BY code" C
#define OFFICIAL_SQL_CHILDREN OFFICIAL_SQL_CHILDREN_WITH("")
#define OFFICIAL_SQL_CHILDREN_PG OFFICIAL_SQL_CHILDREN_WITH(" COLLATE \"C\"")

#endif
