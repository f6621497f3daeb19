/*  rank_sql: the reads of rank.c (org-unit table only; no core table).
 *  RANK_SQL_CHILDREN: the child units of :ou with their validity (NULL:
 *  open), by code. */
#ifndef AGG_RANK_SQL_H
#define AGG_RANK_SQL_H

#include "store.h"

#define RANK_SQL_CHILDREN_WITH(C)                                            \
    "SELECT code, name, valid_from, valid_to FROM orgunit"                   \
    " WHERE parent = :ou ORDER BY code" C
#define RANK_SQL_CHILDREN RANK_SQL_CHILDREN_WITH("")
#define RANK_SQL_CHILDREN_PG RANK_SQL_CHILDREN_WITH(STORE_SQL_BYTE_ORDER)

#endif
