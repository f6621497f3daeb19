/*  audit_sql: the SQL of `cdsync-aggregator verify` (audit.c), kept
 *  together. Runs on a read-only connection; temp.exp (a TEMP table, which
 *  a read-only connection may write) holds what the kept signed batches
 *  say, one row per (agent, seq, batch). The texts run on SQLite and
 *  PostgreSQL alike; a NAME_PG beside one is its PostgreSQL text. */
#ifndef AGG_AUDIT_SQL_H
#define AGG_AUDIT_SQL_H

#include "store.h"                     /* STORE_SQL_STATUS_NOW */

#define AUDIT_SQL_CREATE                                                     \
    "CREATE TEMP TABLE IF NOT EXISTS exp ("                                  \
    " agent_id INTEGER NOT NULL, seq INTEGER NOT NULL,"                      \
    " batch_id INTEGER NOT NULL, hash BLOB NOT NULL, head BLOB NOT NULL,"    \
    " org_unit TEXT, indicator TEXT, period TEXT, disagg TEXT, value TEXT,"  \
    " deleted INTEGER, comment TEXT, stored_by TEXT, followup INTEGER,"      \
    " hlc INTEGER, shift INTEGER, recv INTEGER,"                             \
    " PRIMARY KEY (agent_id, seq, batch_id)) WITHOUT ROWID;"    \
    "DELETE FROM temp.exp;"
/* PostgreSQL: its own types, no WITHOUT ROWID; the temp schema is implicit
 * (unqualified exp finds the temp table first on both, as below). A
 * PostgreSQL READ ONLY transaction refuses CREATE, even of a temp table. */
#define AUDIT_SQL_CREATE_PG                                                  \
    "CREATE TEMP TABLE IF NOT EXISTS exp ("                                  \
    " agent_id BIGINT NOT NULL, seq BIGINT NOT NULL,"                        \
    " batch_id BIGINT NOT NULL, hash BYTEA NOT NULL, head BYTEA NOT NULL,"   \
    " org_unit TEXT, indicator TEXT, period TEXT, disagg TEXT, value TEXT,"  \
    " deleted BIGINT, comment TEXT, stored_by TEXT, followup BIGINT,"        \
    " hlc BIGINT, shift BIGINT, recv BIGINT,"                                \
    " PRIMARY KEY (agent_id, seq, batch_id));"                               \
    "DELETE FROM exp;"

#define AUDIT_SQL_BATCHES                                                    \
    "SELECT b.id, b.agent_id, b.first_seq, b.last_seq, b.envelope,"          \
    " a.sign_pk, a.fpr, b.received_at_ms, b.clock_shift_ms"                  \
    " FROM batch b JOIN agent a ON a.id = b.agent_id"       \
    " ORDER BY b.id"

#define AUDIT_SQL_EXP_INSERT                                                 \
    "INSERT INTO exp(agent_id, seq, batch_id, hash, head,"                   \
    " org_unit, indicator, period, disagg, value, deleted, comment,"         \
    " stored_by, followup, hlc, shift, recv) VALUES (:agent_id, :seq,"       \
    " :batch_id, :hash, :head, :org_unit, :indicator, :period, :disagg,"     \
    " :value, :deleted, :comment, :stored_by, :followup, :hlc, :shift,"      \
    " :recv) ON CONFLICT (agent_id, seq, batch_id) DO UPDATE SET"            \
    " hash = excluded.hash, head = excluded.head,"                           \
    " org_unit = excluded.org_unit, indicator = excluded.indicator,"         \
    " period = excluded.period, disagg = excluded.disagg,"                   \
    " value = excluded.value, deleted = excluded.deleted,"                   \
    " comment = excluded.comment, stored_by = excluded.stored_by,"           \
    " followup = excluded.followup, hlc = excluded.hlc,"                     \
    " shift = excluded.shift, recv = excluded.recv"

#define AUDIT_SQL_AGENTS                                                     \
    "SELECT id, fpr, applied_seq, applied_head FROM agent ORDER BY id"

/* One agent's history beside what its kept batches say. Columns:
 * 0 seq, 1 batch_id, 2 content_hash, 3 chain_head, 4..13 fields
 * (org_unit, indicator, period, disagg, value, deleted, comment,
 * stored_by, followup, hlc), 14 in_batch, 15 hash, 16 head, 17..26 the
 * batch's fields in the same order, 27 effective stamp (NULL before
 * effective stamps), 28 status, 29 message, 30 the batch's clock shift,
 * 31 its arrival time. */
#define AUDIT_SQL_LOG_VS_EXP                                                 \
    "SELECT l.seq, l.batch_id, l.content_hash, l.chain_head,"                \
    " l.org_unit, l.indicator, l.period, l.disagg, l.value, l.deleted,"      \
    " l.comment, l.stored_by, l.followup, l.hlc,"                            \
    " CASE WHEN e.seq IS NOT NULL THEN 1 ELSE 0 END, e.hash, e.head,"        \
    " e.org_unit, e.indicator, e.period, e.disagg, e.value, e.deleted,"      \
    " e.comment, e.stored_by, e.followup, e.hlc,"                            \
    " l.eff_hlc, " STORE_SQL_STATUS_NOW("l") ", l.message, e.shift, e.recv"  \
    " FROM update_log l LEFT JOIN exp e ON e.agent_id = l.agent_id"          \
    " AND e.seq = l.seq AND e.batch_id = l.batch_id"                         \
    " WHERE l.agent_id = :agent_id ORDER BY l.seq"

/* The current values the signed batches imply (last writer wins by
 * (effective hlc, agent_pk, seq) over updates applied in history, content
 * taken from the batches, effective stamps from history, checked against
 * the batches by check_history) beside datavalue. Columns: 0..3 key, 4
 * expected present, 5..10 expected value, deleted, comment, stored_by,
 * followup, effective hlc, 11 expected agent fpr, 12 expected seq, 13
 * expected signed hlc, 14 stored present, 15..20 stored fields, 21 stored
 * agent fpr, 22 stored seq, 23 stored signed hlc. */
#define AUDIT_SQL_VALUES                                                     \
    "WITH applied AS (SELECT e.*, a.sign_pk AS agent_pk, a.fpr AS fpr,"      \
    "  coalesce(l.eff_hlc, e.hlc) AS eff"                                    \
    "  FROM update_log l JOIN exp e ON e.agent_id = l.agent_id"              \
    "  AND e.seq = l.seq AND e.batch_id = l.batch_id"                        \
    "  JOIN agent a ON a.id = l.agent_id"                                    \
    "  WHERE " STORE_SQL_STATUS_NOW("l") " = 0),"                            \
    " win AS (SELECT *, row_number() OVER (PARTITION BY org_unit, indicator,"\
    "  period, disagg ORDER BY eff DESC, agent_pk DESC, seq DESC) AS rn"     \
    "  FROM applied),"                                                       \
    " best AS (SELECT * FROM win WHERE rn = 1)"                              \
    " SELECT b.org_unit, b.indicator, b.period, b.disagg, 1, b.value,"       \
    " b.deleted, b.comment, b.stored_by, b.followup, b.eff, b.fpr, b.seq,"   \
    " b.hlc, CASE WHEN d.org_unit IS NOT NULL THEN 1 ELSE 0 END,"            \
    " d.value, d.deleted, d.comment,"                                        \
    " d.stored_by, d.followup, d.hlc, da.fpr, d.agent_seq,"                  \
    " coalesce(d.signed_hlc, d.hlc)"                                         \
    " FROM best b LEFT JOIN datavalue d ON d.org_unit = b.org_unit"          \
    " AND d.indicator = b.indicator AND d.period = b.period"                 \
    " AND d.disagg = b.disagg LEFT JOIN agent da ON da.id = d.agent_id"      \
    " UNION ALL"                                                             \
    " SELECT d.org_unit, d.indicator, d.period, d.disagg, 0, NULL, NULL,"    \
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, d.value, d.deleted,"      \
    " d.comment, d.stored_by, d.followup, d.hlc, da.fpr, d.agent_seq,"       \
    " coalesce(d.signed_hlc, d.hlc)"                                         \
    " FROM datavalue d LEFT JOIN agent da ON da.id = d.agent_id"             \
    " WHERE NOT EXISTS (SELECT 1 FROM best b WHERE b.org_unit = d.org_unit"  \
    " AND b.indicator = d.indicator AND b.period = d.period"                 \
    " AND b.disagg = d.disagg)"                                              \
    " ORDER BY 1, 2, 3, 4"

/* The same update (agent, key, hlc, value and the other fields) in history
 * under more than one seq: an agent that queued one change twice, or a
 * replay that got new seqs. The content hash covers the seq, so it cannot
 * match; hlc is per agent strictly increasing for distinct changes, so an
 * equal (key, hlc, content) is the same change. Cost: one sort of
 * update_log (GROUP BY), fine for an operator command. */
#define AUDIT_SQL_DUPLICATES_WITH(GROUP_CONCAT)                              \
    "SELECT a.fpr, " GROUP_CONCAT "(CAST(l.seq AS TEXT), ','), count(*),"    \
    " l.org_unit, l.indicator, l.period, l.disagg, l.hlc, l.value"           \
    " FROM update_log l JOIN agent a ON a.id = l.agent_id"                   \
    " GROUP BY l.agent_id, l.org_unit, l.indicator, l.period, l.disagg,"     \
    " l.hlc, l.value, l.deleted, l.comment, l.stored_by, l.followup, a.fpr"  \
    " HAVING count(*) > 1 ORDER BY a.fpr, min(l.seq)"
#define AUDIT_SQL_DUPLICATES AUDIT_SQL_DUPLICATES_WITH("group_concat")
/* PostgreSQL has no group_concat: string_agg, the same arguments. */
#define AUDIT_SQL_DUPLICATES_PG AUDIT_SQL_DUPLICATES_WITH("string_agg")

#endif
