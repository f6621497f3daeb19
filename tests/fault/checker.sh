#!/bin/sh
# checker.sh: the independent checker of the fault-injection suite.
#
#   checker.sh AGG_DB ACKED_DB CLI_ACKED [AGENT_DB...]
#
# ACKED_DB holds table acked(label, seq, hash, org_unit, indicator, period,
# disagg, value, deleted, hlc), pending(label, seq, hash) (outbox rows at
# the end) and renumbered(label): every update an agent committed to its
# outbox, captured by a trigger inside the agent database in the same
# transaction as the insert (tests/fault/lib.sh installs it and harvests
# it), with renumbering (restored agents) followed. CLI_ACKED holds lines
# "LABEL FIRST LAST": the seq ranges the agent CLI printed as "queued".
# Requires, and prints row by row what breaks it:
#   - every CLI-acknowledged seq is in the captured set (the CLI acked
#     nothing it did not commit);
#   - no (agent, seq) with two contents among what agents queued;
#   - captured set == aggregator history (update_log joined to agent.label):
#     nothing lost (LOST: in neither history nor outbox; UNDELIVERED: still
#     in the outbox), nothing stored that no agent queued;
#   - content hashes equal; no (agent, seq) twice in history;
#   - datavalue == last-writer-wins replay of the accepted history, ordered
#     by (effective hlc, agent_pk, agent_seq) (docs/DESIGN.md "Clock skew");
#   - PRAGMA integrity_check is "ok" on every database (SQLite ones: with
#     a PostgreSQL store, the aggregator's is not checked this way);
#   - every agent outbox is empty (drained).
# Ends with one line "# checker: ..." of figures; exits 1 on any problem.
#
# AGG_DB may be a postgresql:// URL (CDS_TEST_STORE=pg): the aggregator's
# agent, update_log and datavalue tables are then copied, row for row and
# byte for byte (bytea as X'..' literals), into a SQLite file in a
# consistent snapshot (one REPEATABLE READ transaction), and the same
# checks run on that copy: one checker, whichever the backend.
set -u
[ $# -ge 3 ] || { echo "usage: checker.sh AGG_DB|URL ACKED_DB CLI_ACKED [AGENT_DB...]" >&2; exit 2; }
agg=$1 acked=$2 cli=$3; shift 3
W=$(mktemp -d /tmp/cdsync-check.XXXXXX)
trap 'rm -rf "$W"' EXIT
PSQL=${PG_BIN:+$PG_BIN/}psql

# pg_copy URL TABLE...: one SQLite script creating and filling TABLE from
# the PostgreSQL database (column types: bigint/integer -> INTEGER, bytea
# -> BLOB, double -> REAL, else TEXT).
pg_copy() {
    url=$1; shift
    { echo "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ;"
      for t in "$@"; do
        printf '%s\n' "SELECT 'CREATE TABLE $t(' || string_agg(column_name || ' ' || CASE
          WHEN data_type IN ('bigint', 'integer', 'smallint', 'boolean') THEN 'INTEGER'
          WHEN data_type = 'bytea' THEN 'BLOB'
          WHEN data_type IN ('double precision', 'real', 'numeric') THEN 'REAL'
          ELSE 'TEXT' END, ', ' ORDER BY ordinal_position) || ');'
          FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '$t';"
        printf '%s\n' "SELECT 'SELECT ''INSERT INTO $t VALUES ('' || ' || string_agg(CASE
          WHEN data_type = 'bytea' THEN 'CASE WHEN ' || quote_ident(column_name) || ' IS NULL THEN ''NULL'' ELSE ''X'''''' || encode(' || quote_ident(column_name) || ', ''hex'') || '''''''' END'
          WHEN data_type = 'boolean' THEN 'coalesce(CAST(CAST(' || quote_ident(column_name) || ' AS INTEGER) AS TEXT), ''NULL'')'
          ELSE 'quote_nullable(' || quote_ident(column_name) || ')' END, ' || '','' || ' ORDER BY ordinal_position)
          || ' || '');'' FROM $t;' FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = '$t' \\gexec"
      done
      echo "COMMIT;"; } | "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$url" -f -
}
case "$agg" in
postgresql://* | postgres://*)
    aggurl=$agg; agg=$W/pg-copy.db
    { echo "BEGIN;"; pg_copy "$aggurl" agent update_log datavalue || echo "SELECT raise(FAIL);"
      echo "COMMIT;"; } > "$W/pg-copy.sql"
    if ! sqlite3 -batch "$agg" < "$W/pg-copy.sql" > "$W/pg-copy.err" 2>&1 \
            || grep -q 'raise' "$W/pg-copy.sql"; then
        echo "# checker: cannot copy the aggregator's tables from PostgreSQL:"
        head -5 "$W/pg-copy.err" | sed 's/^/#   /'; exit 1
    fi ;;
*) aggurl="" ;;
esac
bad=0
q() { sqlite3 -batch -noheader -cmd ".timeout 5000" "$W/c.db" "$@"; }
# report TITLE SQL: print up to 20 offending rows under a title, count them.
report() {
    n=$(q "ATTACH '$agg' AS g; ATTACH '$acked' AS k; SELECT count(*) FROM ($2);" 2>&1)
    case "$n" in
    '' | *[!0-9]*)             # the query itself failed: that is a problem
        echo "# checker: $1: cannot check: $n"; bad=$((bad + 1)); n=1 ;;
    esac
    if [ "$n" != 0 ]; then
        bad=$((bad + n))
        echo "# checker: $1: $n row(s)"
        q "ATTACH '$agg' AS g; ATTACH '$acked' AS k; $2 LIMIT 20;" | sed 's/^/#   /'
    fi
    eval "n_$3=\${n:-0}"
}

# What agents queued, keyed by the aggregator's agent id (index on the
# history's primary key order, so every comparison below is a lookup).
q "ATTACH '$agg' AS g; ATTACH '$acked' AS k;
   CREATE TABLE m AS SELECT a.*, ag.id AS agent_id FROM k.acked a
     LEFT JOIN g.agent ag ON ag.label = a.label;
   CREATE INDEX m_key ON m(agent_id, seq); CREATE INDEX m_label ON m(label, seq);" || { echo "# checker: cannot read $agg / $acked"; exit 1; }

# The CLI acknowledgements, as a table.
q "CREATE TABLE cli(label TEXT, first INTEGER, last INTEGER);"
if [ -s "$cli" ]; then
    awk '{print $1 "," $2 "," $3}' "$cli" > "$W/cli.csv"
    q ".mode csv" ".import '$W/cli.csv' cli"
fi

report "CLI acked but never committed (label|seq)" \
    "WITH RECURSIVE s(label, seq, last) AS (SELECT label, first, last FROM main.cli
       UNION ALL SELECT label, seq + 1, last FROM s WHERE seq < last)
     SELECT s.label, s.seq FROM s WHERE NOT EXISTS
       (SELECT 1 FROM main.m a WHERE a.label = s.label AND a.seq = s.seq)
       AND s.label NOT IN (SELECT label FROM k.renumbered)" cli
report "queued twice with different content (label|seq|hashes)" \
    "SELECT label, seq, count(*) FROM k.acked GROUP BY label, seq HAVING count(*) > 1" dupq
notin="(a.agent_id IS NULL OR NOT EXISTS
       (SELECT 1 FROM g.update_log u WHERE u.agent_id = a.agent_id AND u.seq = a.seq))"
inbox="EXISTS (SELECT 1 FROM k.pending p WHERE p.label = a.label AND p.seq = a.seq)"
# Ranges the aggregator itself recorded as lost after an accepted restore
# (restore_loss, scenario 10): missing on purpose, counted apart.
q "ATTACH '$acked' AS k; SELECT 1 FROM k.excused LIMIT 0;" 2>/dev/null \
    || q "ATTACH '$acked' AS k; CREATE TABLE k.excused(label TEXT, first INTEGER, last INTEGER);"
excused="EXISTS (SELECT 1 FROM k.excused x WHERE x.label = a.label AND a.seq BETWEEN x.first AND x.last)"
report "LOST: queued, in neither aggregator history nor outbox (label|seq|ou|indicator|period|value)" \
    "SELECT a.label, a.seq, a.org_unit, a.indicator, a.period, a.value FROM main.m a
     WHERE $notin AND NOT $inbox AND NOT $excused" lost
n_excused=$(q "ATTACH '$agg' AS g; ATTACH '$acked' AS k; SELECT count(*) FROM main.m a
     WHERE $notin AND NOT $inbox AND $excused;")
[ "$n_excused" = 0 ] || echo "# checker: EXCUSED: $n_excused row(s) missing in ranges the aggregator recorded as lost (restore_loss)"
report "UNDELIVERED: queued, still in the outbox at the end (label|seq|ou|indicator|period|value)" \
    "SELECT a.label, a.seq, a.org_unit, a.indicator, a.period, a.value FROM main.m a
     WHERE $notin AND $inbox" undelivered
report "PHANTOM: in history, never queued by an agent (label|seq|ou|indicator|period|value)" \
    "SELECT ag.label, u.seq, u.org_unit, u.indicator, u.period, u.value
     FROM g.update_log u JOIN g.agent ag ON ag.id = u.agent_id
     WHERE u.agent_id IN (SELECT DISTINCT agent_id FROM main.m) AND NOT EXISTS
       (SELECT 1 FROM main.m a WHERE a.agent_id = u.agent_id AND a.seq = u.seq)" phantom
report "CORRUPT: content hash differs (label|seq|queued|stored)" \
    "SELECT a.label, a.seq, hex(a.hash), hex(u.content_hash) FROM main.m a
     JOIN g.update_log u ON u.agent_id = a.agent_id AND u.seq = a.seq
     WHERE u.content_hash != a.hash" corrupt
report "DUPLICATED: (agent, seq) twice in history (agent_id|seq|n)" \
    "SELECT agent_id, seq, count(*) FROM g.update_log GROUP BY agent_id, seq HAVING count(*) > 1" dup

# Last-writer-wins replay of the accepted history against datavalue.
lww="SELECT org_unit, indicator, period, disagg, value, deleted, hlc, agent_seq, sign_pk FROM (
       SELECT u.org_unit, u.indicator, u.period, u.disagg, u.value, u.deleted,
              coalesce(u.eff_hlc, u.hlc) AS hlc,
              u.seq AS agent_seq, ag.sign_pk, row_number() OVER (
                PARTITION BY u.org_unit, u.indicator, u.period, u.disagg
                ORDER BY coalesce(u.eff_hlc, u.hlc) DESC, ag.sign_pk DESC, u.seq DESC) AS rn
       FROM g.update_log u JOIN g.agent ag ON ag.id = u.agent_id WHERE u.status = 0)
     WHERE rn = 1"
cur="SELECT d.org_unit, d.indicator, d.period, d.disagg, d.value, d.deleted, d.hlc, d.agent_seq, da.sign_pk
     FROM g.datavalue d JOIN g.agent da ON da.id = d.agent_id"
report "TABLE: replay says, datavalue lacks (ou|indicator|period|disagg|value|deleted|hlc|seq)" \
    "SELECT org_unit, indicator, period, disagg, value, deleted, hlc, agent_seq FROM ($lww EXCEPT $cur)" lww1
report "TABLE: datavalue has, replay does not (ou|indicator|period|disagg|value|deleted|hlc|seq)" \
    "SELECT org_unit, indicator, period, disagg, value, deleted, hlc, agent_seq FROM ($cur EXCEPT $lww)" lww2

# (A PostgreSQL store has no integrity_check; its copy is not the store.)
for db in "$agg" "$@"; do
    [ -n "$aggurl" ] && [ "$db" = "$agg" ] && continue
    r=$(sqlite3 -batch -noheader -cmd ".timeout 5000" "$db" "PRAGMA integrity_check;" 2>&1 | tr '\n' ' ')
    if [ "$r" != "ok " ]; then
        bad=$((bad + 1)); echo "# checker: integrity_check $db: $r"
    fi
done
for db in "$@"; do
    r=$(sqlite3 -batch -noheader -cmd ".timeout 5000" "$db" \
        "SELECT count(*) || ' rows, seq ' || ifnull(min(seq), '-') || '..' || ifnull(max(seq), '-') FROM outbox;" 2>&1)
    case "$r" in
    "0 rows"*) ;;
    *) bad=$((bad + 1)); echo "# checker: outbox not drained: $db: $r" ;;
    esac
done

n_acked=$(q "ATTACH '$acked' AS k; SELECT count(*) FROM k.acked;")
n_hist=$(q "ATTACH '$agg' AS g; SELECT count(*) FROM g.update_log;")
echo "# checker: queued $n_acked, history $n_hist, lost $n_lost, excused $n_excused, undelivered $n_undelivered, duplicated $((n_dup + n_dupq)), phantom $n_phantom, corrupt $n_corrupt, table $((n_lww1 + n_lww2)), cli $n_cli, problems $bad"
[ "$bad" = 0 ]
