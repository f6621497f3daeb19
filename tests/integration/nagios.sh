#!/bin/bash
# Monitoring conventions from real processes: `health --nagios` (plugin
# first line with perfdata, one line per agent, exit 0/2, usage and
# configuration errors exit 3 UNKNOWN, an older schema exit 3 and never
# migrated), and read-only use by a monitoring user (uid nobody) of a
# database it cannot write (db 0444, state dir 0555): `health` and agent
# `status` answer and change nothing; agent `status` with no database
# exits 3 and creates nothing.
. "$(dirname "$0")/lib.sh"
echo "1..36"
agg_init agg
echo "silent_after_ms = 2000" >> "$T/agg/aggregator.ini"
agent_init a1 27901
agent_init a2 27904
agent_init a3 27913
for a in a1 a2 a3; do echo "heartbeat_ms = 300" >> "$T/$a/agent.ini"; done
agg_start agg
for a in a1 a2 a3; do agent_start $a; done
# /metrics from the start: every refusal reason at 0, process_* series.
http_url() {
    PORT=$(sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/agg/log" | tail -1)
    URL=http://127.0.0.1:$PORT
}
check "the HTTP listener is up" wait_for 10 grep -q event=http_listening "$T/agg/log"
http_url
curl -fsS "$URL/metrics" > "$T/metrics.txt"
check "/metrics passes promtool check metrics" sh -c "promtool check metrics < '$T/metrics.txt'"
check "refusal reasons exist at 0 before any refusal" \
    grep -qx 'cdsync_messages_refused_total{reason="malformed"} 0' "$T/metrics.txt"
expect_eq "process_* series present" \
    "$(grep -cE '^process_(start_time_seconds|resident_memory_bytes|open_fds|cpu_seconds_total) [0-9.e+]+$' "$T/metrics.txt")" 4
start=$(awk '$1 == "process_start_time_seconds" { printf "%d", $2 }' "$T/metrics.txt")
check "process_start_time_seconds is the aggregator's start (within 60 s)" \
    sh -c "[ \$(( $(date +%s) - $start )) -ge 0 ] && [ \$(( $(date +%s) - $start )) -lt 60 ]"
nagios() { agg agg health --nagios 2>/dev/null; }
nagios_rc() { nagios > /dev/null; echo $?; }
first_is() { [ "$(nagios | head -1)" = "$1" ]; }
PERF="skewed=0;;; lagging=0;;; rejecting=0;;;"

check "all agents connected: CDSYNC OK, exit 0" wait_for 15 first_is \
    "CDSYNC OK - 3 agents OK | ok=3;;; $PERF silent=0;;; ahead=0;;; revoked=0;;;"
expect_eq "exit 0 when OK" "$(nagios_rc)" 0
out=$(nagios)
expect_eq "one line per agent after the first" \
    "$(echo "$out" | tail -n +2 | grep -c '^OK: Xã .* (.*) last seen ')" 3
check "no '|' after the first line (Nagios would read it as perfdata)" \
    sh -c "! echo \"\$1\" | tail -n +2 | grep -q '|'" _ "$out"

agent_stop a3
check "a stopped agent: CDSYNC CRITICAL - 1 silent" wait_for 15 first_is \
    "CDSYNC CRITICAL - 1 silent | ok=2;;; $PERF silent=1;;; ahead=0;;; revoked=0;;;"
expect_eq "exit 2 when critical" "$(nagios_rc)" 2
check "the silent commune is named" sh -c \
    "\"$AGG\" -c \"$T/agg/aggregator.ini\" health --nagios | grep -q '^SILENT: Xã Mỹ Thạnh Đông '"
agent_stop a2
agg agg revoke "$(cat "$T/a2/pubid")" > /dev/null
check "silent and revoked, both counted in the summary" wait_for 10 first_is \
    "CDSYNC CRITICAL - 1 silent, 1 revoked | ok=1;;; $PERF silent=1;;; ahead=0;;; revoked=1;;;"

# Usage and configuration errors: UNKNOWN (3) with --nagios, not CRITICAL.
out=$(agg agg health --nagios --format json 2>/dev/null); rc=$?
expect_eq "--nagios with --format json: exit 3" "$rc" 3
check "... and a CDSYNC UNKNOWN line on stdout" \
    sh -c "echo \"\$1\" | grep -q '^CDSYNC UNKNOWN - health: '" _ "$out"
agg agg health --nagios --no-such-option > /dev/null 2>&1
expect_eq "unknown option with --nagios: exit 3" "$?" 3
agg agg health --no-such-option > /dev/null 2>&1
expect_eq "unknown option without --nagios: still exit 2 (usage)" "$?" 2
agg agg helth --nagios > /dev/null 2>&1
expect_eq "a misspelt command with --nagios: exit 3" "$?" 3
out=$("$AGG" -c "$T/missing.ini" health --nagios 2>/dev/null); rc=$?
expect_eq "missing config with --nagios: exit 3" "$rc" 3
check "... and says which file" \
    sh -c "echo \"\$1\" | grep -q '^CDSYNC UNKNOWN - .*missing.ini'" _ "$out"

# A database at an older schema: UNKNOWN, and left as it was.
mkdir -p "$T/old/state"
sqlite3 "$(agg_db agg)" ".backup '$T/old/state/aggregator.db'"
v=$(sqlq "$T/old/state/aggregator.db" "PRAGMA user_version;")
sqlite3 "$T/old/state/aggregator.db" "PRAGMA user_version=$((v - 1));"
sed "s#^state_dir = .*#state_dir = $T/old/state#" "$T/agg/aggregator.ini" \
    > "$T/old/aggregator.ini"
out=$("$AGG" -c "$T/old/aggregator.ini" health --nagios 2>/dev/null); rc=$?
expect_eq "older schema: exit 3" "$rc" 3
check "... says the schema is not this program's" \
    sh -c "echo \"\$1\" | grep -q '^CDSYNC UNKNOWN - .*schema'" _ "$out"
expect_eq "... and is not migrated" \
    "$(sqlq "$T/old/state/aggregator.db" "PRAGMA user_version;")" $((v - 1))

# A monitoring user (uid nobody) that cannot write: db 0444, dir 0555.
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
chmod 755 "$T" "$T/agg" "$T/a1"
db=$(agg_db agg)
chmod 700 "$T/agg/state"
out=$($AS_NOBODY "$AGG" -c "$T/agg/aggregator.ini" health --nagios 2>&1); rc=$?
expect_eq "state dir 0700: nobody gets UNKNOWN (3)" "$rc" 3
check "... naming the database it cannot open" \
    sh -c "echo \"\$1\" | grep -q '^CDSYNC UNKNOWN - .*aggregator.db: cannot open'" _ "$out"
chmod 555 "$T/agg/state"; chmod 444 "$db"
out=$($AS_NOBODY "$AGG" -c "$T/agg/aggregator.ini" health --nagios 2>&1); rc=$?
expect_eq "db 0444, dir 0555, daemon running: nobody reads health (exit 2)" "$rc" 2
check "... the same first line as root" \
    sh -c "[ \"\$(echo \"\$1\" | head -1)\" = \"\$2\" ]" _ "$out" "$(nagios | head -1)"
agg_stop agg
sum=$(sha256sum < "$db")
check "daemon stopped (no -wal left): nobody still reads health (exit 2)" \
    sh -c "[ ! -e '$db-wal' ] && $AS_NOBODY '$AGG' -c '$T/agg/aggregator.ini' health --nagios > /dev/null 2>&1; [ \$? = 2 ]"
expect_eq "... and the aggregator database is unchanged" "$(sha256sum < "$db")" "$sum"

# agent status read-only, daemon running: needs to read agent.lock too
# (0600 as created: "not running" to anyone else), here 0444 (docs: 0640).
adb=$(agent_db a1)
chmod 555 "$T/a1/state"; chmod 444 "$adb" "$T/a1/state/agent.lock"
out=$($AS_NOBODY "$AGENT" -c "$T/a1/agent.ini" status 2>&1); rc=$?
expect_eq "agent status as nobody, daemon running: exit 0" "$rc" 0
check "... and it sees the daemon running" \
    sh -c "echo \"\$1\" | grep -q '^daemon: *running'" _ "$out"
# a stopped agent (no daemon holds its WAL)
agent_stop a1
asum=$(sha256sum < "$adb")
out=$($AS_NOBODY "$AGENT" -c "$T/a1/agent.ini" status 2>&1); rc=$?
expect_eq "agent status as nobody on a 0444 db: the verdict (2: not running)" "$rc" 2
expect_eq "... the agent database is unchanged" "$(sha256sum < "$adb")" "$asum"
chmod 700 "$T/a1/state"; chmod 600 "$adb"

# agent status with no database: exit 3, nothing created.
sed "s#^state_dir = .*#state_dir = $T/none/state#" "$T/a1/agent.ini" > "$T/none.ini"
out=$("$AGENT" -c "$T/none.ini" status 2>&1); rc=$?
expect_eq "agent status without a database: exit 3" "$rc" 3
check "... says there is no agent database at its path" \
    sh -c "echo \"\$1\" | grep -qF 'no agent database at $T/none/state/agent.db'" _ "$out"
check "... and creates neither the database nor its directory" \
    test ! -e "$T/none"
chmod 700 "$T/agg/state"; chmod 600 "$db"
exit $FAILED
