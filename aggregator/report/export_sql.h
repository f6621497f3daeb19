/*  export_sql: the SQL of export.c (STYLE.md "SQLite"). The org units in
 *  scope come from QUERY_SCOPE_CTE, the filter and order from
 *  QUERY_SQL_LIVE_IN_SCOPE (query.h, which export.c includes). */
#ifndef AGG_EXPORT_SQL_H
#define AGG_EXPORT_SQL_H

#include "store.h"                     /* STORE_SQL_STATUS_NOW */

/* Like QUERY_SQL_LONG, plus created: the source system's created the
 * current value carried, else the time the key was first stored; and the
 * source system's lastUpdated it carried (NULL: none, the stamp is); and
 * deleted. */
#define EXPORT_SQL_EXPORT_WITH(JSON_TEXTS, C)                                \
    EXPORT_SQL_SELECT                                                        \
    QUERY_SQL_IN_SCOPE(" WHERE d.deleted = 0 AND", JSON_TEXTS, C)
/* The same with the deleted values (export --include-deleted). */
#define EXPORT_SQL_EXPORT_ALL_WITH(JSON_TEXTS, C)                            \
    EXPORT_SQL_SELECT QUERY_SQL_IN_SCOPE(" WHERE", JSON_TEXTS, C)
#define EXPORT_SQL_SELECT                                                    \
    QUERY_SCOPE_CTE                                                          \
    "SELECT d.org_unit, coalesce(o.name, ''), d.indicator, d.period,"        \
    " d.disagg, d.value, coalesce(d.stored_by, ''), d.hlc,"                  \
    " coalesce(d.comment, ''), d.followup,"                                  \
    " coalesce(d.created_ms, (SELECT min(received_at_ms) FROM update_log u"  \
    "  WHERE u.org_unit = d.org_unit AND u.indicator = d.indicator"          \
    "  AND u.period = d.period AND u.disagg = d.disagg AND " STORE_SQL_STATUS_NOW("u") " = 0)),"\
    " d.updated_ms, d.deleted"                                               \
    " FROM datavalue d LEFT JOIN orgunit o ON o.code = d.org_unit"
#define EXPORT_SQL_EXPORT EXPORT_SQL_EXPORT_WITH(STORE_SQL_JSON_TEXTS, "")
/* PostgreSQL: the JSON array read by its json functions, text in byte
 * order as on SQLite (store.h). */
#define EXPORT_SQL_EXPORT_PG                                                 \
    EXPORT_SQL_EXPORT_WITH(STORE_SQL_JSON_TEXTS_PG, STORE_SQL_BYTE_ORDER)
#define EXPORT_SQL_EXPORT_ALL                                                \
    EXPORT_SQL_EXPORT_ALL_WITH(STORE_SQL_JSON_TEXTS, "")
#define EXPORT_SQL_EXPORT_ALL_PG                                             \
    EXPORT_SQL_EXPORT_ALL_WITH(STORE_SQL_JSON_TEXTS_PG, STORE_SQL_BYTE_ORDER)

/* Every org unit's name, for --id-scheme name (cds_idmap.h): both
 * dialects. */
#define EXPORT_SQL_UNIT_NAMES "SELECT code, coalesce(name, '') FROM orgunit"

#endif
