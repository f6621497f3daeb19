#!/bin/bash
# Issue 4 "Done when": health states from real processes (SILENT within the
# threshold and back to OK, LAGGING after a backlog, REJECTING with its
# reason), the Nagios exit statuses of `health` and agent `status`, /metrics
# through promtool with counters equal to the database, and `rejects
# show/retry` on every reject reason this run produces. Small thresholds.
. "$(dirname "$0")/lib.sh"
echo "1..63"
SILENT_MS=3000
BADPEER=$BUILD/tools/badpeer
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
cat >> "$T/agg/aggregator.ini" <<INI
http_listen = 127.0.0.1:0
silent_after_ms = $SILENT_MS
lagging_after_ms = 1500
rejecting_ratio = 0.5
rejecting_min = 3
INI
# A newer catalog (one more indicator) that only agent "bad" has at first.
NEWCAT=$T/catalog_new.csv
cp "$CATALOG" "$NEWCAT"
echo 'CDS_NEW,Chỉ tiêu mới,New indicator,files,INTEGER,SUM,Monthly,0,,,,test,SUM' >> "$NEWCAT"
agent_init good 27901
agent_init lag 27904
agent_init bad 27913
for a in good bad; do echo "heartbeat_ms = 300" >> "$T/$a/agent.ini"; done
echo "heartbeat_ms = 2500" >> "$T/lag/agent.ini"
cat >> "$T/lag/agent.ini" <<INI
status_backlog_ms = 1000
status_disconnected_ms = 60000
INI
sed -i "s#^catalog = .*#catalog = $NEWCAT#" "$T/bad/agent.ini"
cat >> "$T/good/agent.ini" <<INI
status_backlog_ms = 1000
status_disconnected_ms = 1000
INI
agg_start agg
for a in good lag bad; do agent_start $a; done
db=$(agg_db agg)
FPR() { agg agg agents --json | jq -r ".[] | select(.label == \"$1\") | .fingerprint"; }
state_of() { agg agg health --format json | jq -r ".[] | select(.label == \"$1\") | .state"; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
health_rc() { agg agg health > /dev/null 2>&1; echo $?; }
health_is() { [ "$(health_rc)" = "$1" ]; }

check "every agent OK once connected: health exits 0" wait_for 15 health_is 0
agent good submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 7 > /dev/null
check "agent status exits 0 when connected and the queue is healthy" \
    wait_for 10 sh -c "\"$AGENT\" -c \"$T/good/agent.ini\" status > /dev/null"
heartbeats_over() { [ "$(aggq agg 'SELECT coalesce(sum(heartbeats_total),0) FROM agent_health')" -gt "$1" ]; }
check "heartbeats are recorded" wait_for 10 heartbeats_over 3

# HTTP port (127.0.0.1:0 = any): the aggregator logs what it bound.
http_url() {
    PORT=$(sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/agg/log" | tail -1)
    URL=http://127.0.0.1:$PORT
}
http_url
expect_eq "/healthz answers ok" "$(curl -fsS "$URL/healthz")" "ok"
expect_eq "/livez answers ok" "$(curl -fsS "$URL/livez")" "ok"
TOK=$(agg agg token add monitoring | head -1)
expect_eq "/api/health without a token is 401" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/health")" 401
expect_eq "/api/health lists every agent" "$(curl -fsS -H "Authorization: Bearer $TOK" "$URL/api/health" | jq '.agents | length')" 3
expect_eq "unknown path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" 404

# --- SILENT within the threshold, and back -----------------------------
start=$(date +%s%3N)
agent_stop good
check "a stopped agent turns SILENT" wait_for 15 state_is good SILENT
took=$(( $(date +%s%3N) - start ))
check "... within silent_after_ms + 1 s (took ${took} ms)" [ "$took" -le $((SILENT_MS + 1000)) ]
expect_eq "health exits 2 (critical) while an agent is SILENT" "$(health_rc)" 2
agent good status > /dev/null 2>&1
expect_eq "agent status exits 2 when the daemon is not running" "$?" 2
agent good submit --org-unit 27901 --indicator TTHC_TONG --period 202502 --value 8 > /dev/null
agent_start good
check "it is OK again after it returns" wait_for 15 state_is good OK
check "and its backlog was delivered" wait_for 10 outbox_empty good

# --- REJECTING with the reason ------------------------------------------
for m in 01 02 03 04; do
    agent bad submit --org-unit 27913 --indicator CDS_NEW --period 2025$m --value 1 > /dev/null
done
check "a stream of invalid values makes it REJECTING" wait_for 15 state_is bad REJECTING
check "health shows the reason" sh -c "\"$AGG\" -c \"$T/agg/aggregator.ini\" health | grep 'REJECTING' | grep -q unknown_indicator"
# "lag" heartbeats every 2.5 s against a 3 s silence threshold: on a loaded
# machine one late heartbeat makes it SILENT (critical) for a moment, so the
# warning is awaited (bounded), not sampled once.
health_is() { [ "$(health_rc)" = "$1" ]; }
check "health exits 1 (warning) when the worst is REJECTING" wait_for 10 health_is 1
check "agent status exits 1 when rejected values are listed" wait_for 10 sh -c "
    \"$AGENT\" -c \"$T/bad/agent.ini\" status > /dev/null 2>&1; [ \$? = 1 ]"

# --- LAGGING after a backlog ----------------------------------------------
agg_stop agg
agent lag submit --org-unit 27904 --indicator TTHC_TONG --period 202501 --value 3 > /dev/null
lag_age() { agent lag status --json 2>/dev/null | jq '.queue.oldest_pending_age_ms'; }
check "backlog builds while the aggregator is down" wait_for 10 sh -c "[ \$(\"$AGENT\" -c \"$T/lag/agent.ini\" status --json | jq .queue.oldest_pending_age_ms) -gt 2000 ]"
agent lag status > /dev/null 2>&1
expect_eq "agent status exits 1 with a backlog (daemon running)" "$?" 1
lag_json=$(agent lag status --json 2>/dev/null)
expect_eq "status --json carries the same verdict" \
    "$(printf '%s' "$lag_json" | jq -r '"\(.health.code) \(.health.state)"')" "1 WARNING"
check "... with its reason (Vietnamese by default)" sh -c "printf '%s' '$lag_json' | jq -r .health.why | grep -q 'có giá trị chờ gửi đã [0-9]* giây'"
acc_before=$(aggq agg "SELECT sum(accepted_total) FROM agent_health")
agg_start agg
check "an agent delivering an old backlog is LAGGING" wait_for 15 state_is lag LAGGING
check "... and OK once its heartbeat reports an empty queue" wait_for 15 state_is lag OK
check "the HTTP server is back after the restart" wait_for 10 sh -c "[ \$(grep -c event=http_listening '$T/agg/log') = 2 ]"
check "health figures survive a restart" [ "$(aggq agg "SELECT sum(accepted_total) FROM agent_health")" -ge "$acc_before" ]

# --- rejects: whole messages from a hostile peer --------------------------
agent_init evil 27916          # only badpeer speaks with its key
SRV=$(cat "$T/agg/pubid")
EVIL=$T/evil/state/agent.key
bp() { "$BADPEER" "$agg_EP" "$SRV" "$EVIL" "$1" ${2:-} > /dev/null 2>&1; }
bp hello; bp bad_sig; bp key_mismatch; bp equivocation 27916; bp garbage
bp oversized; bp bad_period 27916; bp out_of_range 27916; bp org_unit 27901
bp bad_utf8 27916
# A revoked key: its messages are refused (revoked) and it shows REVOKED.
agent_init gone 27919
agg agg revoke "$(cat "$T/gone/pubid")" > /dev/null
"$BADPEER" "$agg_EP" "$SRV" "$T/gone/state/agent.key" hello > /dev/null 2>&1
check "a revoked agent is REVOKED" state_is gone REVOKED
expect_eq "health exits 2 (critical) with a REVOKED agent" "$(health_rc)" 2
n_msg=$(aggq agg "SELECT count(*) FROM reject")
check "hostile messages were recorded ($n_msg)" [ "$n_msg" -ge 3 ]
diag "message reasons: $(aggq agg "SELECT group_concat(code) FROM (SELECT DISTINCT code FROM reject ORDER BY code) AS x")"

# --- /metrics: promtool, and counters equal the database -------------------
http_url
curl -fsS "$URL/metrics" > "$T/metrics.txt"
check "/metrics answers the exposition" grep -q '^cdsync_build_info{version=' "$T/metrics.txt"
check "/metrics passes promtool check metrics" sh -c "promtool check metrics < '$T/metrics.txt'"
metric() { awk -v n="$1" '$1 == n { print $2 }' "$T/metrics.txt"; }
# An update's status now (store.h STORE_SQL_STATUS_NOW): update_log keeps
# the one it arrived with, a retry that applied it is an update_status row.
SNOW="coalesce((SELECT s.status FROM update_status s WHERE s.agent_id = u.agent_id AND s.seq = u.seq ORDER BY s.id DESC LIMIT 1), u.status)"
expect_eq "cdsync_updates_applied_total equals the database" \
    "$(metric cdsync_updates_applied_total)" "$(aggq agg "SELECT count(*) FROM update_log u WHERE $SNOW = 0")"
expect_eq "cdsync_updates_rejected_total equals the database" \
    "$(metric cdsync_updates_rejected_total)" "$(aggq agg "SELECT count(*) FROM update_log WHERE status != 0")"
refused_sum=$(awk '$1 ~ /^cdsync_messages_refused_total/ { s += $2 } END { print s + 0 }' "$T/metrics.txt")
expect_eq "cdsync_messages_refused_total sums to the reject table" "$refused_sum" "$n_msg"
expect_eq "per-reason counts match (bad_signature)" \
    "$(metric 'cdsync_messages_refused_total{reason="bad_signature"}')" \
    "$(aggq agg "SELECT count(*) FROM reject WHERE code = 7")"
expect_eq "agents by state cover every agent" \
    "$(awk '$1 ~ /^cdsync_agents\{/ { s += $2 } END { print s }' "$T/metrics.txt")" 5
# The figures of the SQLite file (size, WAL, dbstat pages, free disk of
# its directory) only mean something with a SQLite store: with PostgreSQL
# the server owns the files (CDS_TEST_STORE, tests/integration/lib.sh).
if [ "$CDS_TEST_STORE" = sqlite ]; then
    # (a checkpoint may grow the file between the scrape and stat: 1 MiB slack)
    check "cdsync_db_size_bytes is the database file's size" sh -c \
        "d=\$(( $(metric cdsync_db_size_bytes) - \$(stat -c %s '$db') )); [ \${d#-} -lt 1048576 ] && [ $(metric cdsync_db_size_bytes) -gt 0 ]"
    check "cdsync_db_wal_size_bytes is there (WAL mode)" [ "$(metric cdsync_db_wal_size_bytes)" -gt 0 ]
    expect_eq "cdsync_rejects_stored_bytes equals the reject table's pages" \
        "$(metric cdsync_rejects_stored_bytes)" \
        "$(sqlq "$db" "SELECT sum(pgsize) FROM dbstat WHERE aggregate = 1 AND name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'reject')")"
    free_kb=$(df -Pk "$(dirname "$db")" | awk 'NR == 2 { print $4 }')
    check "cdsync_disk_free_bytes is df's free space (within 64 MiB)" sh -c \
        "d=\$(( $(metric cdsync_disk_free_bytes) / 1024 - $free_kb )); [ \${d#-} -lt 65536 ]"
fi
check "cdsync_db_commits_total counts write transactions" [ "$(metric cdsync_db_commits_total)" -gt 0 ]
hb=$(metric cdsync_heartbeats_total)
check "... fewer than the heartbeats (held, written together: $(metric cdsync_db_commits_total) for $hb)" \
    [ "$(metric cdsync_db_commits_total)" -lt "$hb" ]

# --- rejects list / show / retry on every reason ---------------------------
check "rejects lists the unknown_indicator updates" sh -c \
    "\"$AGG\" -c \"$T/agg/aggregator.ini\" rejects --reason unknown_indicator | grep -c ':' | grep -q 4"
expect_eq "rejects --format json --agent bad" \
    "$(agg agg rejects --format json --agent bad | jq 'length')" 4
fail_show=""; fail_retry=""
for id in $(aggq agg "SELECT id FROM reject ORDER BY id"); do
    reason=$(aggq agg "SELECT code FROM reject WHERE id = $id")
    name=$(agg agg rejects --format json | jq -r ".[] | select(.id == \"$id\") | .reason")
    agg agg rejects show "$id" > "$T/show.$id" 2>&1 && grep -q "^reason: *$name" "$T/show.$id" || fail_show="$fail_show $id"
    before=$(aggq agg "SELECT count(*) FROM reject")
    agg agg rejects retry "$id" > "$T/retry.$id" 2>&1; rc=$?
    after=$(aggq agg "SELECT count(*) FROM reject")
    [ $rc = 1 ] && grep -q "still refused: $name" "$T/retry.$id" && [ "$before" = "$after" ] \
        || fail_retry="$fail_retry $id:$rc"
done
check "rejects show decodes every kept message and names its reason" [ -z "$fail_show" ]
check "rejects retry refuses each again, unchanged cause, no new row" [ -z "$fail_retry" ]
check "show decodes the envelope and signer" grep -q '^signer: ' "$T/show.$(aggq agg "SELECT min(id) FROM reject WHERE code = 7")"
expect_eq "each retry is recorded on its row" \
    "$(aggq agg "SELECT count(*) FROM reject WHERE retried_at_ms IS NULL")" 0

BAD=$(FPR bad); EVILF=$(FPR evil)
seq1=$(aggq agg "SELECT min(seq) FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'bad' AND status = 12")
agg agg rejects show "$BAD:$seq1" > "$T/ushow" 2>&1
check "rejects show FPR:SEQ explains a rejected update" grep -q "^reason: *unknown_indicator" "$T/ushow"
agg agg rejects retry "$BAD:$seq1" > /dev/null 2>&1
expect_eq "retry with the old catalog: still rejected (exit 1)" "$?" 1
sed -i "s#^catalog = .*#catalog = $NEWCAT#" "$T/agg/aggregator.ini"
agg agg rejects retry "$BAD:$seq1" > "$T/uretry" 2>&1
expect_eq "retry after the catalog update applies it (exit 0)" "$?" 0
expect_eq "the value is now in the consolidated table" \
    "$(aggq agg "SELECT value FROM datavalue WHERE org_unit = '27913' AND indicator = 'CDS_NEW' AND period = '202501'")" 1
# The log row keeps the reason it arrived with (history is append-only);
# the retry is one update_status row: applied, from that reason.
ustatus() { aggq agg "SELECT u.status, s.status, s.from_status, CASE WHEN s.at_ms > 0 THEN 1 ELSE 0 END FROM update_log u JOIN agent a ON a.id = u.agent_id JOIN update_status s ON s.agent_id = u.agent_id AND s.seq = u.seq WHERE a.label = 'bad' AND u.seq = $seq1"; }
expect_eq "the log row is unchanged and the retry is recorded beside it" \
    "$(ustatus)" "12|0|12|1"
agg agg rejects retry "$BAD:$seq1" > "$T/uretry2" 2>&1
check "a second retry has no effect (exactly once)" \
    sh -c 'grep -q "already applied" "$1" && [ "$2" = "12|0|12|1" ]' _ "$T/uretry2" "$(ustatus)"
bad_upd=""
for s in $(aggq agg "SELECT seq FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'evil' AND status != 0"); do
    code=$(aggq agg "SELECT status FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'evil' AND seq = $s")
    name=$(agg agg rejects --format json --agent evil | jq -r ".[] | select(.id == \"$EVILF:$s\") | .reason")
    agg agg rejects show "$EVILF:$s" | grep -q "^reason: *$name" || bad_upd="$bad_upd show:$s"
    agg agg rejects retry "$EVILF:$s" > /dev/null 2>&1; rc=$?
    now=$(aggq agg "SELECT $SNOW FROM update_log u JOIN agent a ON a.id = u.agent_id WHERE a.label = 'evil' AND seq = $s")
    [ "$rc:$now" = "1:$code" ] || bad_upd="$bad_upd retry:$s:$rc:$now"
done
diag "update reasons: $(aggq agg "SELECT group_concat(status) FROM (SELECT DISTINCT status FROM update_log WHERE status != 0 ORDER BY status) AS x")"
check "show and retry of each still-invalid update reason change nothing${bad_upd:+ (failed:$bad_upd)}" [ -z "$bad_upd" ]
curl -fsS "$URL/metrics" > "$T/metrics.txt"
expect_eq "applied counter follows the retry" \
    "$(metric cdsync_updates_applied_total)" "$(aggq agg "SELECT count(*) FROM update_log u WHERE $SNOW = 0")"

# --- half-open link: a frozen aggregator stops answering heartbeats --------
conn_of() { sqlq "$(agent_db "$1")" "SELECT conn_state FROM meta;"; }
conn_is() { [ "$(conn_of "$1")" = "$2" ]; }
kill -STOP "$agg_PID"
check "an unanswered heartbeat is noticed by the agent" \
    wait_for 15 grep -q "event=heartbeat_timeout" "$T/good/log"
check "... which leaves the connected state (back to hello/backoff)" \
    wait_for 5 sh -c "! [ \"\$(sqlite3 '$(agent_db good)' 'SELECT conn_state FROM meta')\" = connected ]"
kill -CONT "$agg_PID"
check "and is connected again once the aggregator answers" wait_for 20 conn_is good connected

# --- deploy/: alert rules and dashboard ------------------------------------
check "alert rules pass promtool check rules" promtool check rules "$TOP/deploy/prometheus/cdsync-alerts.yml"
check "alert rules fire as their unit tests say (promtool test rules)" \
    sh -c "cd '$TOP/deploy/prometheus' && promtool test rules cdsync-alerts.test.yml"
check "the Grafana dashboard is valid JSON with panels" \
    sh -c "jq -e '.panels | length > 5' '$TOP/deploy/grafana/cdsync-dashboard.json'"
missing=""
for name in $(cat "$TOP/deploy/prometheus/cdsync-alerts.yml" "$TOP/deploy/grafana/cdsync-dashboard.json" \
              | grep -o 'cdsync_[a-z_]*' | sort -u); do
    base=${name%_bucket}               # a histogram's series: its TYPE line
    # The SQLite file's own gauges: a PostgreSQL store's WAL and disk are
    # the server's, watched with its own tools (docs/OPERATIONS.md).
    [ "$CDS_TEST_STORE" = pg ] && case $name in
        cdsync_db_wal_size_bytes|cdsync_disk_free_bytes) continue ;; esac
    grep -q "^# TYPE $name " "$T/metrics.txt" \
        || { [ "$base" != "$name" ] && grep -q "^# TYPE $base histogram" "$T/metrics.txt"; } \
        || missing="$missing $name"
done
check "every metric the rules and dashboard use is exported${missing:+ (missing:$missing)}" [ -z "$missing" ]
