/*  account_sql: the SQL of account.c, the officers' logins (STYLE.md
 *  "SQLite"). The account table is created by STORE_SQL_MIGRATION_ACCOUNT
 *  and STORE_ACCOUNT_SQL_PG_SCHEMA (store_sql.h). */
#ifndef AGG_ACCOUNT_SQL_H
#define AGG_ACCOUNT_SQL_H

/* A name taken inserts nothing: account.c says so. */
#define ACCOUNT_SQL_ADD                                                      \
    "INSERT INTO account(name, pwhash, role, org_unit, created_at_ms,"       \
    " changed_at_ms) VALUES (:name, :pwhash, :role, :ou, :now, :now)"        \
    " ON CONFLICT DO NOTHING"
#define ACCOUNT_SQL_PASSWD                                                   \
    "UPDATE account SET pwhash = :pwhash, changed_at_ms = :now"              \
    " WHERE name = :name AND disabled_at_ms IS NULL"
#define ACCOUNT_SQL_DISABLE                                                  \
    "UPDATE account SET disabled_at_ms = :now, changed_at_ms = :now"         \
    " WHERE name = :name AND disabled_at_ms IS NULL"
#define ACCOUNT_SQL_LIST                                                     \
    "SELECT name, role, org_unit, created_at_ms, disabled_at_ms"             \
    " FROM account ORDER BY name"
/* PostgreSQL: names in byte order, as on SQLite (store.h). */
#define ACCOUNT_SQL_LIST_PG ACCOUNT_SQL_LIST STORE_SQL_BYTE_ORDER
#define ACCOUNT_SQL_GET                                                      \
    "SELECT pwhash, role, org_unit, disabled_at_ms FROM account"             \
    " WHERE name = :name"
#define ACCOUNT_SQL_UNIT_EXISTS "SELECT 1 FROM orgunit WHERE code = :ou"
#endif
