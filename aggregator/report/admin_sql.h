/*  admin_sql: the SQL of the district-admin commands (orgmap, rollup,
 *  completeness, history, export, token), kept together with named
 *  parameters (STYLE.md "SQLite"). Tables: store_sql.h, migration 2
 *  (orgunit_map, api_token, update_log_key). Each command prepares the
 *  statements it needs once per run and resets them after every step. */
#ifndef AGG_ADMIN_SQL_H
#define AGG_ADMIN_SQL_H

/* ---- org-unit mapping --------------------------------------------------- */
#define ADMIN_SQL_MAP_CLEAR "DELETE FROM orgunit_map"
#define ADMIN_SQL_MAP_INSERT                                                 \
    "INSERT INTO orgunit_map(old, new, from_day, note)"                      \
    " VALUES (:old, :new, :from_day, :note)"
#define ADMIN_SQL_OU_GET                                                     \
    "SELECT name, valid_from, valid_to FROM orgunit WHERE code = :code"

/* The units whose values make up :ou's figure: :ou's subtree, plus every
 * unit mapped into a unit of it (orgunit_map, followed transitively, with
 * their own subtrees). until = the earliest mapping date on the way (day
 * number): a mapped-in unit counts only for periods starting before it;
 * NULL = no limit (reached through the tree alone). Only leaves (units
 * without children) report. UNION stops cycles: (code, until) pairs are
 * finite because until only decreases. */
#define ADMIN_SQL_SOURCES_CTE                                                \
    "WITH RECURSIVE src(code, until) AS ("                                   \
    " SELECT :ou, NULL"                                                      \
    " UNION SELECT o.code, s.until FROM orgunit o JOIN src s"                \
    "  ON o.parent = s.code"                                                 \
    " UNION SELECT m.old, CASE WHEN s.until IS NULL OR m.from_day < s.until" \
    "  THEN m.from_day ELSE s.until END"                                     \
    "  FROM orgunit_map m JOIN src s ON m.new = s.code),"                    \
    " leaf(code, until) AS ("                                                \
    "  SELECT code, CASE WHEN max(until IS NULL) THEN NULL"                  \
    "  ELSE max(until) END FROM src"                                         \
    "  WHERE NOT EXISTS (SELECT 1 FROM orgunit c WHERE c.parent = src.code)" \
    "  GROUP BY code) "
/* Leaves expected to report for [:start, :end]: valid on some day of it,
 * and (mapped-in units) the range starts before their mapping date. */
#define ADMIN_SQL_SOURCES                                                    \
    ADMIN_SQL_SOURCES_CTE                                                    \
    "SELECT l.code, o.name, coalesce(o.valid_from, -2147483648),"            \
    " coalesce(o.valid_to, 2147483647), coalesce(l.until, 2147483647)"       \
    " FROM leaf l JOIN orgunit o ON o.code = l.code"                         \
    " WHERE (o.valid_from IS NULL OR o.valid_from <= :end)"                  \
    " AND (o.valid_to IS NULL OR o.valid_to >= :start)"                      \
    " AND (l.until IS NULL OR :start < l.until)"                             \
    " ORDER BY l.code"
/* Live default-disagg values of :indicators (JSON array) for the source
 * leaves, with periods inside [:start, :end]. */
#define ADMIN_SQL_SOURCE_VALUES                                              \
    ADMIN_SQL_SOURCES_CTE                                                    \
    "SELECT d.org_unit, d.indicator, d.period, d.period_start,"              \
    " d.period_end, d.num, d.value FROM datavalue d"                         \
    " JOIN leaf l ON l.code = d.org_unit"                                    \
    " WHERE d.deleted = 0 AND d.disagg = 'default'"                          \
    " AND d.indicator IN (SELECT value FROM json_each(:indicators))"         \
    " AND d.period_start >= :start AND d.period_end <= :end"                 \
    " AND (l.until IS NULL OR d.period_start < l.until)"

/* ---- completeness ------------------------------------------------------- */
/* One key's current live value and when its applied updates arrived:
 * first arrival (for lateness) and last arrival ("last reported"). */
#define ADMIN_SQL_REPORTED                                                   \
    "SELECT d.value, (SELECT min(received_at_ms) FROM update_log u"          \
    "  WHERE u.org_unit = d.org_unit AND u.indicator = d.indicator"          \
    "  AND u.period = d.period AND u.status = 0),"                           \
    " (SELECT max(received_at_ms) FROM update_log u"                         \
    "  WHERE u.org_unit = d.org_unit AND u.indicator = d.indicator"          \
    "  AND u.period = d.period AND u.status = 0)"                            \
    " FROM datavalue d WHERE d.org_unit = :ou AND d.indicator = :de"         \
    " AND d.period = :pe AND d.disagg = 'default' AND d.deleted = 0"

/* ---- history ------------------------------------------------------------ */
/* Every update ever received for one key, in last-writer-wins order (the
 * order the merge ranks them), with the agent and the batch it came in. */
#define ADMIN_SQL_HISTORY                                                    \
    "SELECT u.seq, u.status, coalesce(u.field, ''), coalesce(u.message, ''),"\
    " u.value, u.deleted, coalesce(u.comment, ''),"                          \
    " coalesce(u.stored_by, ''), u.followup, u.hlc, u.received_at_ms,"       \
    " u.batch_id, u.content_hash, a.fpr, a.label, a.sign_pk, b.envelope,"    \
    " u.disagg"                                                              \
    " FROM update_log u JOIN agent a ON a.id = u.agent_id"                   \
    " JOIN batch b ON b.id = u.batch_id"                                     \
    " WHERE u.org_unit = :ou AND u.indicator = :de AND u.period = :pe"       \
    " AND (:disagg IS NULL OR u.disagg = :disagg)"                           \
    " ORDER BY u.hlc, a.sign_pk, u.seq"

/* ---- export / import ---------------------------------------------------- */
/* Like STORE_SQL_QUERY_LONG, plus the time the key was first stored
 * (created) and the agent's fingerprint. */
#define ADMIN_SQL_EXPORT                                                     \
    STORE_SQL_SCOPE_CTE                                                      \
    "SELECT d.org_unit, coalesce(o.name, ''), d.indicator, d.period,"        \
    " d.disagg, d.value, coalesce(d.stored_by, ''), d.hlc,"                  \
    " coalesce(d.comment, ''), d.followup,"                                  \
    " (SELECT min(received_at_ms) FROM update_log u"                         \
    "  WHERE u.org_unit = d.org_unit AND u.indicator = d.indicator"          \
    "  AND u.period = d.period AND u.disagg = d.disagg AND u.status = 0)"    \
    " FROM datavalue d LEFT JOIN orgunit o ON o.code = d.org_unit"           \
    " WHERE d.deleted = 0 AND d.org_unit IN (SELECT code FROM scope)"        \
    " AND (:indicators IS NULL OR d.indicator IN"                            \
    "      (SELECT value FROM json_each(:indicators)))"                      \
    " AND (:start IS NULL OR d.period_start >= :start)"                      \
    " AND (:end IS NULL OR d.period_end <= :end)"                            \
    " ORDER BY d.org_unit, d.indicator, d.period_start, d.period, d.disagg"
/* Highest effective stamp of any current value: a central correction
 * must be newer than it. Not update_log.hlc: signed stamps can be far
 * ahead (clamped, ingest.h) and the aggregator's own are not clamped. */
#define ADMIN_SQL_MAX_HLC "SELECT coalesce(max(hlc), 0) FROM datavalue"
/* Top-level org units (the aggregator's own subtree is all of them). */
#define ADMIN_SQL_ROOTS                                                      \
    "SELECT code FROM orgunit WHERE parent IS NULL ORDER BY code"

/* ---- API tokens --------------------------------------------------------- */
#define ADMIN_SQL_TOKEN_ADD                                                  \
    "INSERT INTO api_token(name, hash, created_at_ms)"                       \
    " VALUES (:name, :hash, :now)"
#define ADMIN_SQL_TOKEN_LIST                                                 \
    "SELECT name, created_at_ms, revoked_at_ms, last_used_ms"                \
    " FROM api_token ORDER BY name"
#define ADMIN_SQL_TOKEN_REVOKE                                               \
    "UPDATE api_token SET revoked_at_ms = :now"                              \
    " WHERE name = :name AND revoked_at_ms IS NULL"
#define ADMIN_SQL_TOKEN_CHECK                                                \
    "SELECT id FROM api_token WHERE hash = :hash AND revoked_at_ms IS NULL"
#define ADMIN_SQL_TOKEN_USED                                                 \
    "UPDATE api_token SET last_used_ms = :now WHERE id = :id"

#endif
