#!/bin/bash
# The aggregator's SQL on both backends (docs/POSTGRESQL.md "Dialect
# check"): tests/pg/sql_dialect.py builds every *_sql.h text with the C
# preprocessor, prepares each on a SQLite database made by the migrations
# and, on a throw-away PostgreSQL (tests/pg/pg.sh), creates the schema from
# the *_SQL_PG_SCHEMA macros, compares it with SQLite's (tables, columns,
# indexes, keys, triggers), checks the append-only triggers, and prepares
# each text (its NAME_PG variant when there is one) with :name as $n. A
# failure names the macro and carries the server's message. Then the BI
# role script (deploy/postgresql/bi-role.sql): a login in cdsync_bi reads
# the bi_* views and nothing private, and writes nothing.
. "$(dirname "$0")/../integration/lib.sh"
. "$TOP/tests/pg/pg.sh"

if ! pg_start; then
    not_ok "pg_start: server ready"
    exit 1
fi
url=$(pg_url)
cflags="-I$BUILD/proto $(pkg-config --cflags libpq 2>/dev/null)"
/usr/bin/python3 "$TOP/tests/pg/sql_dialect.py" --top "$TOP" --work "$T" \
    --pg-url "$url" --cflags "$cflags" > "$T/dialect.out" 2>&1
rc=$?
grep -v '^1\.\.' "$T/dialect.out"
# Its own failures are "not ok" lines; a crash is one here.
[ "$rc" = 0 ] || FAILED=1     # keep $T (lib.sh) for a look
[ "$rc" = 0 ] || grep -q '^not ok' "$T/dialect.out" \
    || not_ok "sql_dialect.py ran to the end (status $rc)"
[ "$rc" = 0 ] && TESTNO=$(grep -c '^ok ' "$T/dialect.out")

check "bi-role.sql runs (schema public)" \
    pg_psql "$url" -v schema=public -f "$TOP/deploy/postgresql/bi-role.sql"
check "bi-role.sql runs a second time" \
    pg_psql "$url" -v schema=public -f "$TOP/deploy/postgresql/bi-role.sql"
pw=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
check "a BI login in role cdsync_bi" \
    pg_psql "$url" -c "CREATE ROLE bi_reader LOGIN PASSWORD '$pw' IN ROLE cdsync_bi"
bi="postgresql://bi_reader:$pw@127.0.0.1:$PG_PORT/${url##*/}"
# What the views show: one live and one deleted value; updates applied,
# rejected, and rejected then applied by a retry (an update_status row).
check "fixture: an agent, a unit, values, updates" pg_psql "$url" -c "
    INSERT INTO agent(id, sign_pk, curve_pk, pubid, fpr, label, enrolled_at_ms)
      VALUES (7, decode(repeat('01', 32), 'hex'), decode(repeat('02', 32),
      'hex'), 'p', 'F7', 'Kigoma clinic', 0);
    INSERT INTO orgunit(code, name) VALUES ('OU1', 'Kigoma');
    INSERT INTO datavalue(org_unit, indicator, period, disagg, value, num,
      deleted, followup, hlc, agent_id, agent_seq, period_start,
      period_end, updated_at_ms) VALUES
      ('OU1', 'DE1', '202401', 'default', '12', 12, 0, 0, 5, 7, 1,
       19723, 19753, 1704067200000),
      ('OU1', 'DE2', '202401', 'default', '3', 3, 1, 0, 6, 7, 2,
       19723, 19753, 1704067200000);
    INSERT INTO batch(id, agent_id, first_seq, last_seq, received_at_ms,
      envelope) VALUES (1, 7, 1, 3, 0, '\\x00');
    INSERT INTO update_log(agent_id, seq, batch_id, content_hash, chain_head,
      status, org_unit, indicator, period, disagg, value, deleted, followup,
      hlc, received_at_ms) VALUES
      (7, 1, 1, '\\x00', '\\x00', 0, 'OU1', 'DE1', '202401', 'default', '12',
       0, 0, 5, 0),
      (7, 2, 1, '\\x00', '\\x00', 3, 'OU1', 'DE2', '202401', 'default', '3',
       0, 0, 6, 0),
      (7, 3, 1, '\\x00', '\\x00', 3, 'OU1', 'DE3', '202401', 'default', '1',
       0, 0, 7, 0);
    INSERT INTO update_status(agent_id, seq, status, from_status, at_ms)
      VALUES (7, 2, 0, 3, 1)"
expect_eq "bi_current_value: the live value, named, dated" \
    "$(pg_psql "$bi" -tA -F' ' -c "SELECT org_unit, org_unit_name, indicator,
        period, period_start, period_end, value, agent_label,
        updated_at AT TIME ZONE 'UTC' FROM bi_current_value")" \
    "OU1 Kigoma DE1 202401 2024-01-01 2024-01-31 12 Kigoma clinic 2024-01-01 00:00:00"
expect_eq "bi_history: applied updates, a retried one with its arrival status" \
    "$(pg_psql "$bi" -tA -F' ' -c "SELECT seq, indicator, arrival_status,
        status, agent_label FROM bi_history ORDER BY seq" | tr '\n' '|')" \
    "1 DE1 0 0 Kigoma clinic|2 DE2 3 0 Kigoma clinic|"
for q in "SELECT count(*) FROM api_token" "SELECT count(*) FROM batch" \
         "SELECT count(*) FROM account" \
         "SELECT count(*) FROM reject" \
         "INSERT INTO orgunit(code, name) VALUES ('x', 'x')" \
         "DELETE FROM datavalue"; do
    if pg_psql "$bi" -c "$q" > "$T/bi.out" 2>&1; then
        not_ok "the BI login may not: $q (it could)"
    else
        check "the BI login may not: $q" grep -q 'permission denied' "$T/bi.out"
    fi
done
check "a table the aggregator's role creates later is readable" \
    pg_psql "$url" -c "CREATE VIEW bi_later AS SELECT 1 AS one"
expect_eq "... by the BI login (default privileges)" \
    "$(pg_psql "$bi" -tA -c 'SELECT one FROM bi_later' 2>&1)" 1
pg_stop
