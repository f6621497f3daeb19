/*  validate_sql: the SQL of validate.c (STYLE.md "SQLite"). */
#ifndef AGG_VALIDATE_SQL_H
#define AGG_VALIDATE_SQL_H

#include "store.h"                     /* STORE_SQL_BYTE_ORDER */

#define VALIDATE_SQL_OU_EXISTS "SELECT 1 FROM orgunit WHERE code = :ou"

/* The numeric values of :ou and every unit below it (the org-unit tree,
 * not the merge mapping: a violation is shown where it was entered)
 * for the periods inside [:from, :to]; validate.c keeps the asked period
 * and its earlier ones of the same type. */
#define VALIDATE_SQL_VALUES_WITH(C)                                          \
    "WITH RECURSIVE sub(code) AS (SELECT CAST(:ou AS TEXT)"                  \
    " UNION SELECT o.code FROM orgunit o JOIN sub s ON o.parent = s.code)"   \
    " SELECT d.org_unit, d.indicator, d.period, d.num"                       \
    " FROM datavalue d JOIN sub ON sub.code = d.org_unit"                    \
    " WHERE d.deleted = 0 AND d.disagg = 'default' AND d.num IS NOT NULL"    \
    " AND d.period_start >= :from AND d.period_end <= :to"                   \
    " ORDER BY d.org_unit" C ", d.indicator" C ", d.period_start"
#define VALIDATE_SQL_VALUES VALIDATE_SQL_VALUES_WITH("")
#define VALIDATE_SQL_VALUES_PG VALIDATE_SQL_VALUES_WITH(STORE_SQL_BYTE_ORDER)

#endif
