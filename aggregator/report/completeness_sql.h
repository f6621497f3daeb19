/*  completeness_sql: the SQL of completeness.c (STYLE.md "SQLite"). */
#ifndef AGG_COMPLETENESS_SQL_H
#define AGG_COMPLETENESS_SQL_H

#include "store.h"                     /* STORE_SQL_STATUS_NOW */

/* One key's current live value and when its applied updates arrived:
 * first arrival (for lateness) and last arrival ("last reported"). */
#define COMPLETENESS_SQL_REPORTED                                            \
    "SELECT d.value, (SELECT min(received_at_ms) FROM update_log u"          \
    "  WHERE u.org_unit = d.org_unit AND u.indicator = d.indicator"          \
    "  AND u.period = d.period AND " STORE_SQL_STATUS_NOW("u") " = 0),"      \
    " (SELECT max(received_at_ms) FROM update_log u"                         \
    "  WHERE u.org_unit = d.org_unit AND u.indicator = d.indicator"          \
    "  AND u.period = d.period AND " STORE_SQL_STATUS_NOW("u") " = 0)"       \
    " FROM datavalue d WHERE d.org_unit = :ou AND d.indicator = :de"         \
    " AND d.period = :pe AND d.disagg = 'default' AND d.deleted = 0"

#endif
