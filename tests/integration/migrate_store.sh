#!/bin/bash
# migrate-store (issue 14 item 6): a store built by real traffic (two
# agents submitting and importing through the daemon, a key rotation, a
# central import) is copied into a new store; the copy has the same rows
# (counts, digests), `verify` passes on it, the aggregator starts on it
# (commit mark) and `query` shows what it showed on the source. Refusals:
# a destination holding data (names table and count, how to empty it), a
# bad URL (exit 2), an unreachable server (exit 4), the daemon running
# (exit 4); no output shows a password. The digest itself is checked
# equal across backends by tests/unit/migrate_test.c, run here on a PG.
# The destination is a new SQLite file, and a PostgreSQL of the harness
# once the store has its PostgreSQL schema (STORE_SQL_PG_SCHEMA).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"

port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
agent_init a1 27901
agent_init a2 27904
agent_init a3 27907
agg_start agg
agent_start a1
agent_start a2
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null &&
agent a1 submit --org-unit 27901 --indicator NTM8_4 --period 2024 --value có > /dev/null &&
agent a2 submit --org-unit 27904 --indicator TO_CNSCD --period 2025Q2 --value 4 --comment "Tổ ấp 3, mới lập" > /dev/null
check "submits accepted" [ $? = 0 ]
gen_csv "$T/a1.csv" 27901 300
gen_csv "$T/a2.csv" 27904 200 0 5
agent a1 import "$T/a1.csv" > /dev/null && agent a2 import "$T/a2.csv" > /dev/null
check "imports queued" [ $? = 0 ]
check "agent a1 outbox drains" wait_for 30 outbox_empty a1
check "agent a2 outbox drains" wait_for 30 outbox_empty a2
# A rotated key: agent.replaced_by names a newer row of the same table.
agent_init a3b 27907
agg agg enroll "$(cat "$T/a3b/pubid")" --replaces "$(agg agg agents --json | jq -r '.[] | select(.label == "a3") | .fingerprint')" > /dev/null
check "key rotation recorded" [ "$(sqlq "$(agg_db agg)" "SELECT count(*) FROM agent WHERE replaced_by IS NOT NULL;")" = 1 ]
gen_csv "$T/central.csv" 27901 6 900 3
agg agg import "$T/central.csv" > /dev/null
check "central import" [ $? = 0 ]

out=$(agg agg migrate-store --to "$T/copy.db" 2>&1); rc=$?
expect_eq "refused while the daemon runs: exit 4" "$rc" 4
check "  says another aggregator is running" sh -c 'echo "$1" | grep -q "already running"' _ "$out"
agent_stop a1; agent_stop a2
agg_stop agg
before=$(agg agg query --format csv)
agg agg verify > /dev/null
check "verify passes on the source" [ $? = 0 ]

# --- copy into a new store --------------------------------------------------
# A second configuration on the copy: same identity, catalog, org units.
copy_ini() { # NAME STOREFILE_DIR
    mkdir -p "$T/$1/state"
    sed -e "s#^state_dir = .*#state_dir = $T/$1/state#" \
        -e "s#^listen = .*#listen = tcp://127.0.0.1:$((port + 1))#" \
        "$T/agg/aggregator.ini" > "$T/$1/aggregator.ini"
    echo "identity = $T/agg/state/aggregator.key" >> "$T/$1/aggregator.ini"
}
copy_ini cp
dst=$T/cp/state/aggregator.db
out=$(agg agg migrate-store --to "$dst" 2>"$T/mig.err"); rc=$?
diag "$out"
expect_eq "migrate-store exits 0" "$rc" 0
check "  progress on stderr" grep -q "update_log: .* rows copied" "$T/mig.err"
check "  summary names the tables" sh -c 'echo "$1" | grep -q "^update_log  *[0-9]"' _ "$out"
check "  verify on the copy is clean" sh -c 'echo "$1" | grep -q "verify .*; 0 problems"' _ "$out"
check "  next step: the store line" sh -c 'echo "$1" | grep -qF "store = $2"' _ "$out" "$dst"
tables=$(sqlq "$(agg_db agg)" "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name;")
diff_tables=""
for t in $tables; do
    a=$(sqlite3 "$(agg_db agg)" "SELECT * FROM \"$t\" ORDER BY 1, 2" | md5sum)
    b=$(sqlite3 "$dst" "SELECT * FROM \"$t\" ORDER BY 1, 2" | md5sum)
    [ "$a" = "$b" ] || diff_tables="$diff_tables $t"
done
expect_eq "every table has the same rows on both sides" "$diff_tables" ""
expect_eq "  envelopes byte-exact" \
    "$(sqlite3 "$dst" "SELECT hex(group_concat(hex(envelope))) FROM (SELECT envelope FROM batch ORDER BY id)" | md5sum)" \
    "$(sqlite3 "$(agg_db agg)" "SELECT hex(group_concat(hex(envelope))) FROM (SELECT envelope FROM batch ORDER BY id)" | md5sum)"
agg cp verify > /dev/null
check "verify passes on the copy" [ $? = 0 ]
expect_eq "query on the copy shows what the source showed" "$(agg cp query --format csv)" "$before"
check "the commit mark of the copy was written" [ -s "$dst.commitmark" ]
# The aggregator runs on the copy: the mark describes it, new traffic lands.
agg_start cp
check "aggregator starts on the copy" wait_for 10 grep -q '"event":"listening"\|event=listening\|listening' "$T/cp/log"
sed -i "s#^server = .*#server = tcp://127.0.0.1:$((port + 1))#" "$T/a1/agent.ini"
agent_start a1
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --value 9 > /dev/null
check "a new value reaches the copy" wait_for 30 outbox_empty a1
agent_stop a1; agg_stop cp
expect_eq "  and is in its query" "$(agg cp query --period 2025Q1 --org-unit 27901 --format csv | grep -c ',9,')" 1
check "  no commit-mark refusal in its log" sh -c '! grep -q "commit mark" "$1" || ! grep -qi "refus" "$1"' _ "$T/cp/log"

# --- killed mid-copy ----------------------------------------------------------
# The failpoint build (make fault-build) dies like kill -9 right after the
# 4th committed batch: the destination is half filled; the next run refuses
# it, naming a table and how to empty it; emptied, the copy succeeds.
FPAGG=$BUILD/fp/cdsync-aggregator
if [ -x "$FPAGG" ]; then
    half=$T/half.db
    CDS_FAILPOINT=migrate_commit:4 "$FPAGG" -c "$T/agg/aggregator.ini" migrate-store --to "$half" > /dev/null 2>"$T/half.err"; rc=$?
    expect_eq "killed after the 4th committed batch (failpoint)" "$rc" 137
    out=$(agg agg migrate-store --to "$half" 2>&1); rc=$?
    expect_eq "  the half-filled copy is refused: exit 1" "$rc" 1
    check "  naming a table with its rows and the files to delete" sh -c 'echo "$1" | grep -Eq "table [a-z_]+: [0-9]+ rows.*delete the file"' _ "$out"
    rm -f "$half" "$half-wal" "$half-shm" "$half.commitmark"
    agg agg migrate-store --to "$half" > /dev/null 2>&1
    expect_eq "  emptied as told, the copy succeeds" "$?" 0
else
    not_ok "failpoint build missing: make fault-build"
fi

# --- refusals ---------------------------------------------------------------
out=$(agg agg migrate-store --to "$dst" 2>&1); rc=$?
expect_eq "a destination holding data is refused: exit 1" "$rc" 1
check "  the message names table and count" sh -c 'echo "$1" | grep -Eq "table [a-z_]+: [0-9]+ rows"' _ "$out"
check "  and how to empty it" sh -c 'echo "$1" | grep -q "delete the file"' _ "$out"
out=$(agg agg migrate-store 2>&1); rc=$?
expect_eq "no --to: usage, exit 2" "$rc" 2
out=$(agg agg migrate-store --to "$(agg_db agg)" 2>&1); rc=$?
expect_eq "--to the source itself: exit 2" "$rc" 2

pg_start || { not_ok "pg_start"; exit 1; }
# The digest compared after the copy: equal on both backends for the same
# rows (booleans, doubles, bytea, paging through the cursor), different
# when a value, a missing or a doubled row differs (tests/unit/migrate_test.c).
out=$(CDS_TEST_PG_URL=$(pg_url) "$BUILD/tests/migrate_test" 2>&1); rc=$?
echo "$out" | grep -E '^\[ *(OK|FAILED|ERROR|LINE|PASSED) ' | sed 's/^/# /'
expect_eq "the digest is the same on SQLite and PostgreSQL" "$rc" 0
expect_eq "  both cases ran" "$(echo "$out" | grep -c '^\[       OK \]')" 2
# --- PostgreSQL -------------------------------------------------------------
if ! grep -q '^#define STORE_SQL_PG_SCHEMA' "$TOP/aggregator/core/store_sql.h"; then
    diag "SKIP the copy to PostgreSQL: the store has no PostgreSQL schema yet (STORE_SQL_PG_SCHEMA, branch pgsql)"
else
    out=$(agg agg migrate-store --to "postgresql://cdsync:$PG_PASS@127.0.0.1:$PG_PORT/nosuch?sslmode=bogus" 2>&1); rc=$?
    diag "$out"
    expect_eq "a bad URL: exit 2" "$rc" 2
    check "  the password is not shown" sh -c '! echo "$1" | grep -qF "$2"' _ "$out" "$PG_PASS"
    dead=$(pg_free_port)
    out=$(agg agg migrate-store --to "postgresql://cdsync:$PG_PASS@127.0.0.1:$dead/x?connect_timeout=2" 2>&1); rc=$?
    diag "$out"
    expect_eq "an unreachable server: exit 4" "$rc" 4
    check "  says so" sh -c 'echo "$1" | grep -q "reachable"' _ "$out"
    check "  the password is not shown" sh -c '! echo "$1" | grep -qF "$2"' _ "$out" "$PG_PASS"

    url=$(pg_url)
    out=$(agg agg migrate-store --to "$url" 2>"$T/pg.err"); rc=$?
    diag "$out"
    expect_eq "migrate-store to PostgreSQL exits 0" "$rc" 0
    check "  counts and digests equal" sh -c 'echo "$1" | grep -q "counts and digests equal"' _ "$out"
    check "  verify on the copy is clean" sh -c 'echo "$1" | grep -q "verify .*; 0 problems"' _ "$out"
    check "  the password is not shown" sh -c '! cat "$2" | grep -qF "$3" && ! echo "$1" | grep -qF "$3"' _ "$out" "$T/pg.err" "$PG_PASS"
    for t in agent batch update_log update_status datavalue reject; do
        expect_eq "  $t: same count" "$(pg_psql "$url" -Atc "SELECT count(*) FROM $t")" \
            "$(sqlq "$(agg_db agg)" "SELECT count(*) FROM $t;")"
    done
    out=$(agg agg migrate-store --to "$url" 2>&1); rc=$?
    expect_eq "a PostgreSQL store holding data is refused: exit 1" "$rc" 1
    check "  with the DROP/CREATE DATABASE to run" sh -c 'echo "$1" | grep -q "DROP DATABASE"' _ "$out"
    copy_ini pg
    echo "store = $url" >> "$T/pg/aggregator.ini"
    agg pg verify > /dev/null
    check "verify passes on the PostgreSQL copy" [ $? = 0 ]
    expect_eq "query on PostgreSQL shows what SQLite showed" "$(agg pg query --format csv)" "$before"
fi
pg_stop
echo "1..$TESTNO"
