#!/bin/bash
# Scenario 21: the aggregator's database goes back in time. Agents sync;
# a copy of the database is taken (SQLite: the file; PostgreSQL: pg_dump);
# more updates are delivered and acked; the aggregator is killed and its
# database replaced with the older copy (SQLite: the file copied back;
# PostgreSQL: the database dropped, re-created and the dump restored).
# Startup must refuse (commit mark), `accept-restore` records it, and when
# the agents reconnect they resend the signed batches they kept after
# their acks (docs/RELIABILITY.md "Resend from"): every acked update is
# back exactly once — checker: 0 lost, 0 duplicated, 0 excused (the
# ranges the aggregator recorded as missing are excused, yet none of
# their rows may be missing). Runs on both stores (tests/run.sh PG_SET).
. "$(dirname "$0")/lib.sh"
agg_init agg
for i in 1 2; do fagent_init "a$i" 27901 || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
N=$((300 * FAULT_SCALE))
load 1 "$N"
check "first load delivered" wait_for 60 drained_all

# The copy: what a backup taken now holds.
agg_stop agg
if [ "$CDS_TEST_STORE" = pg ]; then
    url=$(agg_store agg); dbname=${url##*/}
    PGPASSWORD=$PG_PASS "$PG_BIN/pg_dump" -Fc -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_SUPER" -f "$T/old.dump" "$dbname" 2> "$T/dump.err"
    check "pg_dump of the aggregator's database" test -s "$T/old.dump"
else
    db=$(agg_db agg)
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
    cp "$db" "$T/old.db"
    check "copy of the aggregator's database" test -s "$T/old.db"
fi
agg_start agg

# Acked after the copy: the restore loses these, the agents keep them.
load 2 "$N"
check "second load delivered and acked" wait_for 60 drained_all
agg_kill9 agg
for a in $FAGENTS; do harvest "$a"; done
if [ "$CDS_TEST_STORE" = pg ]; then
    pg_psql - -c "DROP DATABASE \"$dbname\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$dbname\"" > /dev/null 2>> "$T/dump.err"
    PGPASSWORD=$PG_PASS "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_SUPER" -d "$dbname" "$T/old.dump" 2>> "$T/dump.err"
    # aggq's helper functions went with the dropped database
    rm -f "$T/agg/pg_compat"
else
    rm -f "$db-wal" "$db-shm"; cp "$T/old.db" "$db"
fi
fault "aggregator killed, its database replaced with the copy taken $N updates per agent ago"
load 3 $((N / 3))                                    # queued while it is down

"$AGG" -c "$T/agg/aggregator.ini" run > "$T/agg/refused.log" 2>&1 &
rp=$!
dead() { ! kill -0 "$rp" 2>/dev/null; }
if wait_for 30 dead; then wait "$rp"; st=$?; else kill -9 "$rp"; st=running; fi
refused() { [ "$st" != 0 ] && [ "$st" != running ]; }
check "startup refuses the older database (exit $st)" refused
check "... naming accept-restore" grep -q "accept-restore" "$T/agg/refused.log"
agg agg accept-restore --note "fault test 21" > "$T/agg/accept.out" 2>&1
check "accept-restore" grep -q "^accepted restore " "$T/agg/accept.out"
diag "accept-restore said: $(tr '\n' ' ' < "$T/agg/accept.out" | cut -c1-400)"

agg_start agg
check "outboxes drain after accept-restore" wait_for 90 drained_all
recovered() {
    agg agg restores > "$T/agg/restores.out" 2>&1 || return 1
    [ "$(grep -c '^lost .* recovered=[1-9][0-9]* not_recovered=0$' "$T/agg/restores.out")" = 2 ]
}
check "restores: each agent's missing range recovered" wait_for 30 recovered
diag "restores: $(tr '\n' ' ' < "$T/agg/restores.out" | cut -c1-500)"
resent=$(cat "$T"/a[0-9]*/log | grep -c 'event=batch_resent')
check "the agents resent kept batches ($resent)" [ "$resent" -gt 0 ]
load 4 $((N / 3))
check "agents keep syncing new updates after it" wait_for 60 drained_all
# The ranges the aggregator recorded as missing are excused by the checker;
# every row in them must nevertheless be there (excused 0).
aggq agg "SELECT a.label, l.first_seq, l.last_seq FROM restore_loss l
          JOIN agent a ON a.id = l.agent_id;" | tr '|' ' ' |
    while read -r label first last; do
        sqlite3 "$T/acked.db" "INSERT INTO excused VALUES ('$label', $first, $last);"
    done
for a in $FAGENTS; do agent_stop "$a"; done
agg_stop agg
for a in $FAGENTS; do harvest "$a"; done
out=$(PG_BIN=${PG_BIN:-} sh "$FDIR/checker.sh" "$(agg_store agg)" "$T/acked.db" "$T/cli_acked" \
          $(for a in $FAGENTS; do agent_db "$a"; done)); rc=$?
echo "$out"
check "restored aggregator: checker clean ($FAULTS faults)" [ "$rc" = 0 ]
check "every acked update back exactly once: lost 0, excused 0, duplicated 0" \
    grep -q ' lost 0, excused 0, undelivered 0, duplicated 0,' <<< "$out"
echo "$out" | tail -1 | sed "s/^# checker: /# figures: faults $FAULTS, /" >> "${FAULT_FIGURES:-/dev/null}"
echo "1..$TESTNO"
