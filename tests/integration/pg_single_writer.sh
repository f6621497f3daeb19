#!/bin/bash
# One writer per PostgreSQL database (docs/POSTGRESQL.md "One writer per
# database"): `run` takes a session-level advisory lock (key 1667527543,
# "cdsw") on its writer connection. On SQLite the file <db>.lock does it,
# but two aggregators with their own state_dir and the same `store =
# postgresql://...` would both write without it. Checked here with two
# aggregators (own state dirs, identities, endpoints) on one database:
#   - the second `run` refuses: exit 4, a message naming the database
#     (host and name, never the password) and the holder; read-only
#     commands and `enroll` on it keep working; accept-restore refuses too;
#   - the first keeps serving: an agent syncs through it;
#   - its writer session killed on the server: it reconnects, takes the
#     lock again, and syncs;
#   - its writer session killed and the lock taken by another session
#     before it reconnects: it writes nothing (the agent's row stays
#     queued, not in the database), logs pg_writer_lock_lost and /healthz
#     answers 503 naming it; the other session lets go: it takes the lock
#     back (pg_writer_lock_retaken), the row is acked, /healthz 200;
#   - once the first stops, the second starts and serves an agent.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"
echo "1..21"
pg_start || { not_ok "pg_start"; exit 1; }
trap 'cleanup; pg_stop' EXIT
url=$(pg_url)
db=${url##*/}
KEY=1667527543
pgq() { pg_psql "$url" -At -F'|' -c "$1"; }
# holder_pid: the server pid of the session holding the writer lock.
holder_pid() {
    pgq "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND classid = 0 AND objid = $KEY AND objsubid = 1"
}
http_port() { sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/$1/log" | head -1; }
healthz() { curl -s "http://127.0.0.1:$(http_port "$1")/healthz"; }
started() { grep -q 'event=started' "$T/$1/log"; }
p1=$((20000 + $$ % 20000)); p2=$((p1 + 1))
agg_init agg1 "tcp://127.0.0.1:$p1" && echo "store = $url" >> "$T/agg1/aggregator.ini"
agg_init agg2 "tcp://127.0.0.1:$p2" && echo "store = $url" >> "$T/agg2/aggregator.ini"
agent_init a1 27901 agg1
values() { pgq "SELECT count(*) FROM datavalue WHERE org_unit = '27901'"; }

agg_start agg1
check "the first aggregator starts on the database" wait_for 30 started agg1
first=$(holder_pid)
check "  and holds the writer lock (pg_locks: advisory, objid $KEY)" [ -n "$first" ]

out=$(timeout 60 "$AGG" -c "$T/agg2/aggregator.ini" run 2>&1); rc=$?
diag "$out"
expect_eq "a second run on the same database refuses, exit 4" "$rc" 4
check "  saying another aggregator writes to it, naming host and database" \
    sh -c 'echo "$1" | grep -q "run: another cdsync-aggregator is already writing to postgresql://.*@127.0.0.1:$2/$3: it holds the database.s single-writer lock (PostgreSQL advisory lock $4; server pid [0-9]*"' \
    _ "$out" "$PG_PORT" "$db" "$KEY"
check "  never showing the password" sh -c '! echo "$1" | grep -qF "$2"' _ "$out" "$PG_PASS"
expect_eq "  and the first still holds the lock" "$(holder_pid)" "$first"
out=$(agg agg2 accept-restore 2>&1); rc=$?
check "accept-restore beside the running daemon refuses too (exit 4)" \
    sh -c '[ "$1" = 4 ] && echo "$2" | grep -q "accept-restore: another cdsync-aggregator is already writing"' _ "$rc" "$out"
out=$(agg agg2 agents 2>&1); rc=$?
check "read-only commands on the second keep working (agents lists a1)" \
    sh -c '[ "$1" = 0 ] && echo "$2" | grep -q "a1"' _ "$rc" "$out"

agent_start a1
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null
check "the first keeps serving: an agent's value is acked" wait_for 30 outbox_empty a1
expect_eq "  and stored" "$(values)" 1

# The writer's session killed on the server: reconnect takes it again.
pgq "SELECT pg_terminate_backend($first)" > /dev/null
lock_moved() { h=$(holder_pid); [ -n "$h" ] && [ "$h" != "$first" ]; }
agent a1 submit --org-unit 27901 --indicator HGD_CAPQUANG_SO --period 2025Q2 --value 1850 > /dev/null
check "after its session is killed the daemon reconnects and syncs" wait_for 60 outbox_empty a1
check "  holding the lock again, on its new session" lock_moved
second=$(holder_pid)

# Killed again, and another session takes the lock before the daemon
# reconnects: it must not write. The holder is a psql fed from a fifo,
# so the test decides when it lets go.
mkfifo "$T/hold.in"
pg_psql "$url" -At < "$T/hold.in" > "$T/hold.out" 2>&1 &
hold=$!; PIDS="$PIDS $hold"
exec 3> "$T/hold.in"
echo "SELECT pg_terminate_backend($second); SELECT pg_advisory_lock($KEY); SELECT 'LOCKED';" >&3
check "another session holds the lock (the daemon's session killed)" \
    wait_for 30 grep -q LOCKED "$T/hold.out"
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --value 9 > /dev/null
check "the daemon says it lost the lock and does not write (log ERROR)" \
    wait_for 60 grep -q 'event=pg_writer_lock_lost.*holder="server pid' "$T/agg1/log"
hz=$(healthz agg1)
check "/healthz answers 503 naming it ($hz)" \
    sh -c 'echo "$1" | grep -q "^writer lock lost: another session holds the single-writer lock of postgresql://"' _ "$hz"
held_back() { [ "$(agent_depth a1)" = 1 ] && [ "$(values)" = 2 ]; }
check "  the row stays queued: not acked, not in the database" held_back
echo '\q' >&3; exec 3>&-; wait "$hold"
check "the other session lets go: the daemon takes the lock back and acks the row" \
    wait_for 60 outbox_empty a1
retaken() {
    grep -q event=pg_writer_lock_retaken "$T/agg1/log" \
        && [ "$(healthz agg1)" = ok ] && [ "$(values)" = 3 ]
}
check "  logged (pg_writer_lock_retaken), /healthz ok, the value stored" retaken

agg_stop agg1
agg_start agg2
check "once the first stops, the second starts" wait_for 30 started agg2
agent_init a2 27925 agg2
agent_start a2
agent a2 submit --org-unit 27925 --indicator TO_CNSCD --period 2025Q2 --value 5 > /dev/null
check "  and serves an agent" wait_for 30 outbox_empty a2
agg_stop agg2
check "no log line shows the password" sh -c \
    '! grep -rqF "$1" "$2"/agg1/log "$2"/agg2/log' _ "$PG_PASS" "$T"
