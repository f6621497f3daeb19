#!/bin/bash
# SIGHUP reload (docs/OPERATIONS.md "systemd: readiness, watchdog,
# reload"): a changed catalog is swapped in live (an indicator the
# aggregator refused before is accepted after, over the same connection),
# a broken catalog is refused loudly and the running one kept, a changed
# endpoint is reported "requires restart" and not applied, a live setting
# is applied and logged, new health thresholds reach /metrics (a commune
# that never spoke turns SILENT once silent_after_ms is lowered) and bad
# ones are refused with the running ones kept. The agent's TCP connection (its 4-tuple) and its
# session (no new hello) survive every reload.
. "$(dirname "$0")/lib.sh"
echo "1..28"
# A port with nothing on it or the next one (other tests run beside us).
port=$(free_port)
for _ in $(seq 50); do
    ss -Htan "( sport = :$port or sport = :$((port + 1)) or dport = :$port )" | grep -q . || break
    port=$((port + 2))
done
agg_init agg "tcp://127.0.0.1:$port"
agent_init a1 27901
agent_init ghost 27904      # enrolled, never runs: SILENT by threshold only
count_in() { grep -c -- "$2" "$1" 2>/dev/null || true; }
# The agent's established connection to the aggregator: "local peer".
conn() { ss -Htnp state established "( dport = :$port )" | grep "pid=$a1_PID," | awk '{print $3, $4}'; }
# Values of indicator $1 the aggregator stored.
stored() { aggq agg "SELECT count(*) FROM datavalue WHERE indicator='$1';"; }
stored_is() { [ "$(stored RELOAD_NEW)" = "$1" ]; }
rejected() { agg agg rejects --reason unknown_indicator 2>/dev/null | grep -c RELOAD_NEW || true; }
rejected_some() { [ "$(rejected)" -ge 1 ]; }
submit() { agent a1 submit --org-unit 27901 --indicator "$1" --period "$2" --value "$3"; }

# A catalog with one more indicator, and one with a broken row.
cp "$CATALOG" "$T/new.csv"
echo "RELOAD_NEW,Chỉ số mới,New indicator,n,INTEGER,SUM,Monthly,0,,,,test,SUM" >> "$T/new.csv"
cp "$T/new.csv" "$T/broken.csv"
echo "BROKEN ROW,x,x,n,NOTATYPE,SUM,Monthly,,,,,test,SUM" >> "$T/broken.csv"
broken_line=$(wc -l < "$T/broken.csv")

agg_start agg
agent_start a1
check "aggregator starts" wait_for 10 grep -q "event=started" "$T/agg/log"
submit TTHC_TONG 202401 5 > /dev/null
check "agent syncs before any reload" wait_for 20 outbox_empty a1
connected() { [ -n "$(conn)" ]; }
check "the agent is connected over TCP" wait_for 10 connected
before=$(conn)
hellos=$(count_in "$T/a1/log" "event=hello_sent")
diag "connection: $before, hellos: $hellos"

# 1. The agent learns RELOAD_NEW first: the aggregator (old catalog)
#    refuses it per update.
sed -i "s|^catalog = .*|catalog = $T/new.csv|" "$T/a1/agent.ini"
kill -HUP "$a1_PID"
check "agent reloads its catalog" \
    wait_for 10 grep -q "event=catalog_loaded.*new.csv" "$T/a1/log"
check "agent: reload result=ok" wait_for 10 grep -q "event=reload result=ok" "$T/a1/log"
submit RELOAD_NEW 202401 7 > /dev/null
check "agent delivers it" wait_for 20 outbox_empty a1
check "the aggregator, on its old catalog, refuses RELOAD_NEW" \
    wait_for 10 rejected_some
expect_eq "... and stores none of it" "$(stored RELOAD_NEW)" 0

# 2. The aggregator reloads the catalog: RELOAD_NEW is accepted after.
sed -i "s|^catalog = .*|catalog = $T/new.csv|" "$T/agg/aggregator.ini"
kill -HUP "$agg_PID"
check "aggregator swaps the catalog in" \
    wait_for 10 grep -q "event=catalog_reloaded.*indicators=$(($(wc -l < "$T/new.csv") - 1))" "$T/agg/log"
check "aggregator logs the changed key" \
    grep -q "event=reload_changed key=catalog" "$T/agg/log"
submit RELOAD_NEW 202402 8 > /dev/null
check "RELOAD_NEW is accepted after the reload" wait_for 20 stored_is 1

# 3. A broken catalog: refused with file:line, the running one kept.
sed -i "s|^catalog = .*|catalog = $T/broken.csv|" "$T/agg/aggregator.ini"
kill -HUP "$agg_PID"
check "a broken catalog is refused, naming file:line" \
    wait_for 10 grep -q "event=reload_refused what=catalog error=\"$T/broken.csv:$broken_line:" "$T/agg/log"
check "... and the reload says partial" wait_for 10 grep -q "event=reload result=partial" "$T/agg/log"
submit RELOAD_NEW 202403 9 > /dev/null
check "the daemon still serves with the last good catalog" \
    wait_for 20 stored_is 2

# 4. A changed endpoint needs a restart: warned, not applied; a live
#    setting is applied and logged.
sed -i "s|^listen = .*|listen = tcp://127.0.0.1:$((port + 1))|" "$T/agg/aggregator.ini"
echo "max_clock_skew_ms = 600000" >> "$T/agg/aggregator.ini"
kill -HUP "$agg_PID"
check "a changed listen is reported: requires restart" \
    wait_for 10 grep -q "level=warn.*event=reload_requires_restart key=listen.*requires restart: listen" "$T/agg/log"
check "a live setting is applied and logged" \
    grep -q "event=reload_changed key=max_clock_skew_ms old=300000 new=600000" "$T/agg/log"
submit RELOAD_NEW 202404 10 > /dev/null
check "still serving on the old endpoint" wait_for 20 stored_is 3
check "nothing listens on the new endpoint" \
    sh -c "! ss -Htln '( sport = :$((port + 1)) )' | grep -q ."

# 5. The agent: a broken catalog refused (version kept), a changed server
#    reported "requires restart", and it keeps sending where it was.
sed -i "s|^catalog = .*|catalog = $T/broken.csv|; s|^server = .*|server = tcp://127.0.0.1:$((port + 1))|" "$T/a1/agent.ini"
kill -HUP "$a1_PID"
check "agent: a broken catalog is refused, naming file:line" \
    wait_for 10 grep -q "event=reload_refused what=catalog error=\"$T/broken.csv:$broken_line:" "$T/a1/log"
check "agent: a changed server is reported: requires restart" \
    wait_for 10 grep -q "level=warn.*event=reload_requires_restart key=server" "$T/a1/log"
agent a1 --catalog "$T/new.csv" submit --org-unit 27901 --indicator RELOAD_NEW \
    --period 202405 --value 11 > /dev/null
check "agent still sends to the running server" wait_for 20 stored_is 4

# 6. Health thresholds are live: /metrics counts the never-seen commune
#    SILENT once silent_after_ms drops from 5 min to 1 s; a bad ratio is
#    refused and the thresholds in force stay.
http=$(sed -n 's/.*event=http_listening listen=\(127.0.0.1:[0-9]*\).*/\1/p' "$T/agg/log" | tail -1)
silent() { curl -fsS "http://$http/metrics" | sed -n 's/^cdsync_agents{state="SILENT"} //p'; }
expect_eq "before: no commune SILENT under the 5 min threshold" "$(silent)" 0
echo "silent_after_ms = 1000" >> "$T/agg/aggregator.ini"
kill -HUP "$agg_PID"
silent_some() { [ "$(silent)" -ge 1 ]; }
check "after the reload /metrics counts it SILENT" wait_for 10 silent_some
echo "rejecting_ratio = 2" >> "$T/agg/aggregator.ini"
kill -HUP "$agg_PID"
check "a bad threshold is refused, naming it" \
    wait_for 10 grep -q 'event=reload_refused what=thresholds error="rejecting_ratio: \\"2\\": expected 0..1"' "$T/agg/log"
check "... and the thresholds in force stay" silent_some

# The connection and the session lived through every reload.
expect_eq "same TCP connection after 7 reloads" "$(conn)" "$before"
expect_eq "no new hello from the agent" "$(count_in "$T/a1/log" "event=hello_sent")" "$hellos"
check "both still run" kill -0 "$agg_PID" "$a1_PID"
