/*  SQL of dhis2push.c. Its tables dhis2_push and dhis2_push_run are
 *  created by STORE_SQL_MIGRATION_DHIS2_PUSH (store_sql.h); only this
 *  module writes them. */
#ifndef AGG_DHIS2PUSH_SQL_H
#define AGG_DHIS2PUSH_SQL_H

#define DHIS2PUSH_SQL_DIGEST                                                 \
    "SELECT digest FROM dhis2_push WHERE target = :target"                   \
    " AND data_element = :de AND period = :pe AND org_unit = :ou"            \
    " AND coc = :coc AND aoc = :aoc"
#define DHIS2PUSH_SQL_CONFIRM                                                \
    "INSERT INTO dhis2_push(target, data_element, period, org_unit, coc,"    \
    " aoc, digest, pushed_at_ms)"                                            \
    " VALUES (:target, :de, :pe, :ou, :coc, :aoc, :digest, :now)"            \
    " ON CONFLICT (target, data_element, period, org_unit, coc, aoc)"        \
    " DO UPDATE SET digest = excluded.digest,"                               \
    " pushed_at_ms = excluded.pushed_at_ms"
#define DHIS2PUSH_SQL_RUN                                                    \
    "INSERT INTO dhis2_push_run(target, data_set, period, at_ms, dry_run,"   \
    " sent, status, imported, updated, ignored, deleted, conflicts, message)"\
    " VALUES (:target, :ds, :pe, :now, :dry, :sent, :status, :imported,"     \
    " :updated, :ignored, :deleted, :conflicts, :message)"

#endif
