#!/bin/bash
# /healthz names a stuck writer, /livez does not care (docs/OPERATIONS.md
# "/healthz and /livez"): another process holds the database's write lock
# (BEGIN IMMEDIATE) while an agent pushes; /healthz goes 503 "writer stuck
# for N s, M messages waiting", /livez stays 200, /metrics says so and
# still passes promtool; the lock goes, the batch is applied and /healthz
# is 200 again, with the commit and ingest histograms counting.
. "$(dirname "$0")/lib.sh"
echo "1..16"
PY=/usr/bin/python3
agg_init agg
cp "$T/agg/aggregator.ini" "$T/bad.ini"
echo "writer_stuck_after_ms = 5" >> "$T/bad.ini"
"$AGG" -c "$T/bad.ini" run > "$T/bad.out" 2>&1
expect_eq "writer_stuck_after_ms below 1000 ms: exit 3" "$?" 3
check "... naming the key and the range" grep -q 'writer_stuck_after_ms: "5": expected 1000..86400000' "$T/bad.out"
echo "writer_stuck_after_ms = 2000" >> "$T/agg/aggregator.ini"
agent_init a1 27901
echo "heartbeat_ms = 300" >> "$T/a1/agent.ini"
agg_start agg
agent_start a1
db=$(agg_db agg)
check "the HTTP listener is up" wait_for 10 grep -q event=http_listening "$T/agg/log"
PORT=$(sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/agg/log" | tail -1)
URL=http://127.0.0.1:$PORT
# status code and body of a GET, "CODE BODY"
get() { curl -s -o "$T/body" -w '%{http_code}' "$URL$1"; echo " $(cat "$T/body")"; }
code_is() { [ "$(get "$1" | cut -d' ' -f1)" = "$2" ]; }
applied() { sqlq "$db" "SELECT count(*) FROM datavalue WHERE org_unit = '27901' AND period = '202501'"; }
check "heartbeats are committed" wait_for 15 sh -c \
    "[ \$(sqlite3 '$db' 'SELECT coalesce(sum(heartbeats_total),0) FROM agent_health') -gt 1 ]"
expect_eq "/healthz answers ok while the writer progresses" "$(get /healthz)" "200 ok"

# Hold the write lock from another process until fd 3 closes.
mkfifo "$T/lockctl"
"$PY" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
c.execute("COMMIT")
print("released", flush=True)
' "$db" < "$T/lockctl" > "$T/lockout" 2>&1 &
LOCKPID=$!; PIDS="$PIDS $LOCKPID"
exec 3> "$T/lockctl"
check "another process holds the write lock" wait_for 15 grep -q locked "$T/lockout"
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 7 > /dev/null
check "/healthz answers 503 once messages wait 2 s without a commit" wait_for 30 code_is /healthz 503
reply=$(get /healthz)
diag "healthz: $reply"
check "... naming the stuck writer and what waits ('$reply')" \
    sh -c "echo '$reply' | grep -Eq '^503 writer stuck for [0-9]+ s, [1-9][0-9]* messages? waiting$'"
expect_eq "/livez stays 200 meanwhile" "$(get /livez)" "200 ok"
curl -fsS "$URL/metrics" > "$T/metrics.txt"
check "/metrics says cdsync_writer_stuck 1" grep -qx 'cdsync_writer_stuck 1' "$T/metrics.txt"
check "/metrics passes promtool check metrics while stuck" sh -c "promtool check metrics < '$T/metrics.txt'"
expect_eq "nothing was applied under the lock" "$(applied)" 0

exec 3>&-                              # the lock holder commits and exits
check "the lock is released" wait_for 15 grep -q released "$T/lockout"
check "the batch is applied once the lock is gone" wait_for 60 sh -c "[ \"\$(sqlite3 '$db' \"SELECT count(*) FROM datavalue WHERE org_unit = '27901' AND period = '202501'\")\" = 1 ]"
check "/healthz is 200 again" wait_for 30 code_is /healthz 200
curl -fsS "$URL/metrics" > "$T/metrics.txt"
count_of() { awk -v n="$1" '$1 == n { print $2 }' "$T/metrics.txt"; }
check "commit and ingest histograms counted (commits $(count_of cdsync_commit_duration_seconds_count), batches $(count_of cdsync_ingest_duration_seconds_count))" \
    sh -c "[ '$(count_of cdsync_commit_duration_seconds_count)' -gt 0 ] && [ '$(count_of cdsync_ingest_duration_seconds_count)' -gt 0 ]"
