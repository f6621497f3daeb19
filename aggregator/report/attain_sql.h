/*  attain_sql: the reads of attain.c (org-unit table only; no core table).
 *  ATTAIN_SQL_CHAIN: :ou, then its ancestors, nearest first. The org-unit
 *  list refuses cycles at load (cds_orgunit.h); the depth bound stops a
 *  walk anyway should a database hold one. */
#ifndef AGG_ATTAIN_SQL_H
#define AGG_ATTAIN_SQL_H

#define ATTAIN_SQL_CHAIN                                                     \
    "WITH RECURSIVE up(code, parent, d) AS ("                                \
    " SELECT code, parent, 0 FROM orgunit WHERE code = :ou"                  \
    " UNION ALL SELECT o.code, o.parent, u.d + 1 FROM orgunit o"             \
    " JOIN up u ON o.code = u.parent WHERE u.d < 64)"                        \
    " SELECT code FROM up ORDER BY d"

#endif
