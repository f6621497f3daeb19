#!/bin/bash
# A database of schema version 17 holding synced data migrates to this
# program's schema and `verify` (the signed-history check) stays clean
# (issue 19 item 4: version 18 rebuilt datavalue without agent_pk, keyed
# (org_unit, period, indicator, disagg), WITHOUT ROWID, and put period
# before indicator in update_log_key). The version-17 database is made the
# way the program of 17 would have left it: tests/tools/olddb creates its
# schema (this program's first 17 migrations), and the rows an aggregator
# of this version stored for a real agent are copied into it column by
# column, datavalue.agent_pk filled from the agent's key and signed_hlc
# always set (the program of 17 never wrote NULL there).
. "$(dirname "$0")/lib.sh"
echo "1..9"
OLDDB=$BUILD/tools/olddb
OLD=17

# Data the way an aggregator stores it: one agent, 60 updates, a second
# write of some keys (conflicts resolved by the merge), all acked.
agg_init agg
agent_init a1 27928
agg_start agg; agent_start a1
gen_csv "$T/u.csv" 27928 40 0 0; agent a1 import "$T/u.csv" > /dev/null
gen_csv "$T/v.csv" 27928 20 0 7; agent a1 import "$T/v.csv" > /dev/null
check "the agent's 60 updates are acked" wait_for 60 outbox_empty a1
agent_stop a1; agg_stop agg
cur=$(agg_db agg)
n_dv=$(sqlq "$cur" "SELECT count(*) FROM datavalue;")
dump_dv="SELECT org_unit, indicator, period, disagg, value, deleted, comment,
 stored_by, hlc, agent_id, agent_seq, updated_at_ms FROM datavalue
 ORDER BY org_unit, indicator, period, disagg;"
before=$(sqlq "$cur" "$dump_dv")

# The same rows in a database of version 17.
old=$T/old/state/aggregator.db
mkdir -p "$T/old/state"
check "a version-$OLD database is made" "$OLDDB" "$old" "$OLD"
cols() { sqlq "$old" "SELECT group_concat(name, ', ') FROM pragma_table_info('$1');"; }
sql="ATTACH '$cur' AS cur;"
for t in agent agent_orgunit orgunit batch update_log update_status; do
    c=$(cols "$t")
    sql="$sql INSERT INTO main.$t ($c) SELECT $c FROM cur.$t;"
done
c=$(cols datavalue)
s=$(echo "$c" | sed 's/\bagent_pk\b/(SELECT a.sign_pk FROM cur.agent a WHERE a.id = d.agent_id)/;
    s/\bsigned_hlc\b/coalesce(d.signed_hlc, d.hlc)/')
sql="$sql INSERT INTO main.datavalue ($c) SELECT $s FROM cur.datavalue d;"
sqlite3 -batch "$old" "$sql" > "$T/copy.err" 2>&1
check "the rows copy into it" [ $? = 0 -a ! -s "$T/copy.err" ]
expect_eq "... at version $OLD with agent_pk and the old key order" \
    "$(sqlq "$old" "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('datavalue') WHERE name = 'agent_pk';
     SELECT group_concat(name, ',') FROM pragma_index_info('update_log_key');")" \
    "$OLD
1
org_unit,indicator,period"

# The program of this version opens it read-write (the migration), then
# verifies it against the signed batches.
cp "$old" "$(agg_db agg)"
rm -f "$(agg_db agg)-wal" "$(agg_db agg)-shm" "$(agg_db agg)".commitmark
agg agg enroll "$(cat "$T/a1/pubid")" --org-unit 27928 --label a1 > "$T/enroll.out" 2>&1
check "the first read-write open migrates it" [ $? = 0 ]
N=$("$OLDDB" 2>&1 | sed -n 's/.*(1\.\.\([0-9]*\)).*/\1/p')
expect_eq "... to this program's schema, agent_pk gone" \
    "$(sqlq "$(agg_db agg)" "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('datavalue') WHERE name = 'agent_pk';")" \
    "$N
0"
expect_eq "every current value is kept, field by field" "$(sqlq "$(agg_db agg)" "$dump_dv")" "$before"
agg agg verify > "$T/verify.out" 2>&1
rc=$?; diag "$(tail -1 "$T/verify.out")"
expect_eq "verify on the migrated database: clean (exit 0)" "$rc" 0
# And ingest goes on: a later update beats the migrated value of its key
# (the merge reads the agent's key from agent now).
agg_start agg; agent_start a1
gen_csv "$T/w.csv" 27928 5 0 9; agent a1 import "$T/w.csv" > /dev/null
wait_for 60 outbox_empty a1
agent_stop a1; agg_stop agg
expect_eq "new updates merge on the migrated table ($n_dv keys, none added)" \
    "$(sqlq "$(agg_db agg)" "SELECT count(*) FROM datavalue;")" "$n_dv"
