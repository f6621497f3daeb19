/*  knock_sql: the SQL of aggregator/core/knock.c (the table is created by
 *  STORE_SQL_MIGRATION_KNOCK, store_sql.h). */
#ifndef AGG_KNOCK_SQL_H
#define AGG_KNOCK_SQL_H

/* Groups seen since :since, latest first, with the agent the key was
 * enrolled as (revoked, or replaced by rotation) and its org units. A key
 * enrolled since it knocked is admitted now: left out. */
#define KNOCK_SQL_LIST_WITH(UNITS)                                           \
    "SELECT k.curve_pk, k.address, k.code, k.first_ms, k.last_ms, k.count,"  \
    " a.fpr, coalesce(a.label, ''), coalesce(a.replaced_by, 0),"             \
    " coalesce((" UNITS "), '')"                                             \
    " FROM knock k LEFT JOIN agent a ON length(k.curve_pk) = 32"             \
    "  AND a.curve_pk = k.curve_pk"                                          \
    " WHERE k.last_ms >= :since"                                             \
    "  AND (a.id IS NULL OR coalesce(a.revoked_at_ms, 0) != 0)"              \
    " ORDER BY k.last_ms DESC, k.address LIMIT :limit"
#define KNOCK_SQL_LIST                                                       \
    KNOCK_SQL_LIST_WITH("SELECT group_concat(org_unit, ',') FROM"            \
    " (SELECT org_unit FROM agent_orgunit WHERE agent_id = a.id"             \
    " ORDER BY org_unit) AS u")
/* PostgreSQL has no group_concat: string_agg, ordered by its argument. */
#define KNOCK_SQL_LIST_PG                                                    \
    KNOCK_SQL_LIST_WITH("SELECT string_agg(org_unit, ',' ORDER BY org_unit)" \
    " FROM agent_orgunit WHERE agent_id = a.id")

#endif
