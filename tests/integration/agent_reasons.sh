#!/bin/bash
# A commune that stops syncing says why, the causes beyond the link
# (docs/OPERATIONS.md "Why a commune does not sync"):
# (1) its key is rotated at the district (enroll --replaces) while it is
#     connected: the aggregator answers ONE signed Notice (revoked, when,
#     the replacing key), applies nothing; the agent logs it at error once,
#     keeps the notice in agent.revoked, stops dialing, and `status` says
#     CRITICAL "revoked" with the date and the new key, also from another
#     process, with the daemon stopped and after a restart (whose handshake
#     is refused; the saved notice still explains it); the officer's page
#     says it in plain Vietnamese, the time in Viet Nam time;
# (2) catalog mismatch: a value for an indicator the aggregator's catalog
#     does not have is refused unknown_indicator; `status` says "catalog
#     mismatch" naming the indicator, not a bare count;
# (3) database locked: another program holds the agent database's write
#     lock (BEGIN EXCLUSIVE) while acks arrive: `status` CRITICAL "database
#     locked" naming the file, one warn line per episode; once released the
#     queue drains and status is OK;
# (4) a saved notice is removed when the aggregator accepts the key again.
# Disk full: tests/fault/15_agent_disk_full_acks.sh (needs a tmpfs).
# Clock: tests/integration/agent_clock.sh. A forged notice (another
# signer): tests/unit/sender_test.c.
. "$(dirname "$0")/lib.sh"
echo "1..28"
agg_init agg
LOG_LEVEL=warn agent_init r1 27916
agent_init c1 27913
agent_init l1 27901
status_has() { agent "$1" --lang en status 2>/dev/null | grep -Eq "$2"; }
status_rc() { agent "$1" status > /dev/null 2>&1; echo $?; }
submit() { agent "$1" submit --org-unit "$2" --indicator "$3" --period 202401 --value "$4" > /dev/null; }
agg_start agg

# (1) rotation while connected
agent_start r1
submit r1 27916 TTHC_TONG 5
check "r1 synced before the rotation" wait_for 30 outbox_empty r1
mkdir -p "$T/r1new"
sed "s|$T/r1/|$T/r1new/|" "$T/r1/agent.ini" > "$T/r1new/agent.ini"
agent r1new keygen --label r1new > "$T/r1new/pubid"
old_fpr=$(agg agg agents --json | jq -r '.[] | select(.label == "r1") | .fingerprint')
agg agg enroll "$(cat "$T/r1new/pubid")" --replaces "$old_fpr" > /dev/null
new_fpr=$(agg agg agents --json | jq -r '.[] | select(.label == "r1" and .revoked_at_ms == null) | .fingerprint')
revoked_ms=$(agg agg agents --json | jq -r ".[] | select(.fingerprint == \"$old_fpr\") | .revoked_at_ms")
day=$(date -u -d "@$((revoked_ms / 1000))" '+%Y-%m-%d %H:%M')
diag "old $old_fpr new $new_fpr revoked $day UTC"
submit r1 27916 TTHC_TONG 6
check "status says revoked (CRITICAL) with the date" wait_for 30 \
    status_has r1 "^health: +CRITICAL \(revoked: this PC's key $old_fpr was revoked at the district on $day UTC"
agent r1 --lang en status > "$T/r1.status" 2>&1; rc=$?
diag "$(grep health "$T/r1.status")"
expect_eq "status exits 2" "$rc" 2
check "the advice names the key enrolled in its place" grep -q "enrolled key $new_fpr in its place" "$T/r1.status"
check "Vietnamese by default" sh -c "'$AGENT' -c '$T/r1/agent.ini' status | grep -q 'đã bị cấp trên thu hồi lúc $day UTC'"
check "the notice is kept in agent.revoked" test -s "$T/r1/state/agent.revoked"
check "the daemon stops dialing" wait_for 10 grep -q 'event=stopped_dialing' "$T/r1/log"
submit r1 27916 TTHC_TONG 7          # wakes the daemon: it sends nothing
check "one signed notice, logged once by the aggregator" wait_for 10 \
    sh -c "[ \$(grep -c 'event=revoked_notice agent=$old_fpr replaced_by=$new_fpr' '$T/agg/log') = 1 ]"
expect_eq "the agent logs the revocation at error once" \
    "$(grep -c 'level=error .*event=revoked revoked_at=' "$T/r1/log")" 1
expect_eq "nothing sent after the revocation is applied" \
    "$(aggq agg "SELECT group_concat(value) FROM datavalue WHERE org_unit = '27916' AND indicator = 'TTHC_TONG' AND period = '202401';")" 5
agent_stop r1
check "daemon stopped: still revoked, not just 'not running'" \
    status_has r1 "^health: +CRITICAL \(revoked: .*$day UTC"
agent_start r1
check "restarted: the handshake is refused" wait_for 30 grep -q 'event=handshake_failed' "$T/r1/log"
check "restarted: status still says revoked with the date" \
    status_has r1 "^health: +CRITICAL \(revoked: .*$day UTC"
agent_stop r1
# The officer's page (agent/page.c) says the same in plain words: the
# Vietnamese sentence alone, without the operators' "revoked: " prefix,
# the time in Viet Nam time.
port=$(free_port)
echo "http_listen = 127.0.0.1:$port" >> "$T/r1/agent.ini"
env -u DISPLAY -u WAYLAND_DISPLAY "$AGENT" -c "$T/r1/agent.ini" open > "$T/r1.open" 2>&1 &
open_pid=$!; PIDS="$PIDS $open_pid"
url=; wait_for 10 grep -q "^http://" "$T/r1.open" && url=$(grep -m1 "^http://" "$T/r1.open")
curl -s -o /dev/null -c "$T/r1.jar" "$url"
curl -s -b "$T/r1.jar" "http://127.0.0.1:$port/api/state" > "$T/r1.state"
why=$(jq -r .sync.why "$T/r1.state" 2>/dev/null)
# The revocation's time as an officer reads it: Viet Nam time (UTC+7)
day_vn=$(TZ=Asia/Ho_Chi_Minh date -d "@$((revoked_ms / 1000))" '+%H:%M ngày %d/%m/%Y')
diag "page: $why"
check "the page: CRITICAL, revoked in plain Vietnamese with the date, no state name" \
    eval '[ "$(jq -r .sync.state "$T/r1.state")" = CRITICAL ] && grep -q "^Khóa $old_fpr của máy này đã bị cấp trên thu hồi lúc $day_vn (giờ Việt Nam)" <<< "$why"'
kill -TERM "$open_pid" 2>/dev/null; wait "$open_pid" 2>/dev/null

# (2) catalog mismatch
NEWCAT=$T/catalog_c1.csv
cp "$CATALOG" "$NEWCAT"
echo 'CDS99,Chỉ tiêu mới,New indicator,files,INTEGER,SUM,Monthly,0,,,,test,SUM' >> "$NEWCAT"
sed -i "s#^catalog = .*#catalog = $NEWCAT#" "$T/c1/agent.ini"
agent_start c1
submit c1 27913 CDS99 3
check "catalog mismatch: status names it and the indicator" wait_for 30 \
    status_has c1 "^health: +WARNING \(catalog mismatch: 1 value refused for an indicator the aggregator does not know \(CDS99\)"
expect_eq "catalog mismatch: exit 1" "$(status_rc c1)" 1

# (3) database locked while acks arrive
agent_start l1
check "l1 connected" wait_for 30 status_has l1 "^health: +OK"
agent_stop l1
submit l1 27901 TTHC_TONG 11         # queued, daemon stopped
# The holder commits when $T/release appears (bounded: 3 min at most).
/usr/bin/python3 -c 'import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE"); print("locked", flush=True)
for _ in range(3600):
    if os.path.exists(sys.argv[2]): break
    time.sleep(0.05)
c.execute("COMMIT")' "$(agent_db l1)" "$T/release" > "$T/holder.out" 2>&1 &
PIDS="$PIDS $!"
check "another program holds the agent database" wait_for 15 grep -q locked "$T/holder.out"
agent_start l1
check "database locked: status says so and names the file" wait_for 60 \
    status_has l1 "^health: +CRITICAL \(database locked: another program holds $T/l1/state/agent.db"
check "the daemon keeps retrying" wait_for 60 sh -c "[ \$(grep -c 'event=backoff .*busy' '$T/l1/log') -ge 3 ]"
expect_eq "one warn line for the episode" \
    "$(grep -c 'level=warn .*event=local_write_failed' "$T/l1/log")" 1
touch "$T/release"                   # the holder commits
check "released: the queue drains" wait_for 60 outbox_empty l1
check "released: status OK again" wait_for 30 status_has l1 "^health: +OK"
check "the recovery is logged at warn" grep -q 'level=warn .*event=local_write_recovered' "$T/l1/log"

# (4) a saved notice no longer holds once the aggregator accepts the key
# (say, one restored from before the revocation): l1 gets r1's notice file;
# status says revoked until l1's daemon, restarted, is answered a Hello,
# then the file is removed and status is OK again.
agent_stop l1
cp "$T/r1/state/agent.revoked" "$T/l1/state/agent.revoked"
expect_eq "a saved notice: CRITICAL before the daemon runs" "$(status_rc l1)" 2
agent_start l1
check "accepted again: the saved notice is removed" wait_for 30 sh -c "! test -e '$T/l1/state/agent.revoked'"
check "... status OK again" wait_for 30 status_has l1 "^health: +OK"
check "... and the daemon says why" grep -q 'event=revocation_cleared' "$T/l1/log"
