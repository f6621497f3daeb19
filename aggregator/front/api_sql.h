/*  api_sql: the SQL of api.c, the bearer tokens (STYLE.md "SQLite"). The
 *  api_token table is created by STORE_SQL_MIGRATION_ADMIN (store_sql.h). */
#ifndef AGG_API_SQL_H
#define AGG_API_SQL_H

/* A name (or hash) taken inserts nothing: api.c says so. */
#define API_SQL_TOKEN_ADD                                                    \
    "INSERT INTO api_token(name, hash, created_at_ms)"                       \
    " VALUES (:name, :hash, :now) ON CONFLICT DO NOTHING"
#define API_SQL_TOKEN_LIST                                                   \
    "SELECT name, created_at_ms, revoked_at_ms, last_used_ms"                \
    " FROM api_token ORDER BY name"
/* PostgreSQL: names in byte order, as on SQLite (store.h). */
#define API_SQL_TOKEN_LIST_PG API_SQL_TOKEN_LIST STORE_SQL_BYTE_ORDER
#define API_SQL_TOKEN_REVOKE                                                 \
    "UPDATE api_token SET revoked_at_ms = :now"                              \
    " WHERE name = :name AND revoked_at_ms IS NULL"
#define API_SQL_TOKEN_CHECK                                                  \
    "SELECT id FROM api_token WHERE hash = :hash AND revoked_at_ms IS NULL"
#define API_SQL_TOKEN_USED                                                   \
    "UPDATE api_token SET last_used_ms = :now WHERE id = :id"

/* The org-unit tree and the merge mapping for the dashboard's picker
 * (/api/orgunits): read-only, through store_read. */
#define API_SQL_ORGUNITS                                                     \
    "SELECT code, name, parent, valid_from, valid_to FROM orgunit"           \
    " ORDER BY code"
#define API_SQL_ORGUNITS_PG API_SQL_ORGUNITS STORE_SQL_BYTE_ORDER
#define API_SQL_ORGMAP                                                       \
    "SELECT old, new, from_day, note FROM orgunit_map ORDER BY new, old"
#define API_SQL_ORGMAP_PG                                                    \
    "SELECT old, new, from_day, note FROM orgunit_map"                       \
    " ORDER BY new COLLATE \"C\", old COLLATE \"C\""

#endif
