#!/bin/bash
# Running as a service (docs/OPERATIONS.md "systemd"): readiness and
# watchdog notifications (a Python stand-in for systemd's socket), one
# aggregator per database, SIGHUP reloads the log level and kills nothing.
. "$(dirname "$0")/lib.sh"
echo "1..20"
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
agent_init a1 27901

# notify_start NAME: a listener for NAME's notifications in $T/NAME.notify.
notify_start() {
    /usr/bin/python3 "$TOP/tests/integration/notify_listen.py" \
        "$T/$1.nsock" "$T/$1.notify" &
    PIDS="$PIDS $!"
    wait_for 10 grep -q LISTENING "$T/$1.notify"
}
# count_in FILE PATTERN: lines matching (0 when none).
count_in() { grep -c -- "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count_in "$1" "$2")" -ge "$3" ]; }

# --- readiness and watchdog (Type=notify, WatchdogSec=) -------------------
# WATCHDOG_USEC=400000: a ping every 200 ms is due, so five arrive within
# a few seconds only if the idle loop (blocked in poll) wakes for them.
notify_start agg && notify_start a1
check "notification listeners up" [ -S "$T/agg.nsock" ] && [ -S "$T/a1.nsock" ]
export WATCHDOG_USEC=400000
NOTIFY_SOCKET=$T/agg.nsock; export NOTIFY_SOCKET
agg_start agg
NOTIFY_SOCKET=$T/a1.nsock
agent_start a1
unset NOTIFY_SOCKET WATCHDOG_USEC
check "aggregator starts" wait_for 10 grep -q "event=started" "$T/agg/log"
check "aggregator sends READY=1 with a STATUS" \
    wait_for 10 grep -q "^READY=1|STATUS=serving tcp://127.0.0.1:$port" "$T/agg.notify"
check "agent sends READY=1 with a STATUS" \
    wait_for 10 grep -q "^READY=1|STATUS=sending to " "$T/a1.notify"
check "aggregator pings the watchdog while idle" \
    wait_for 10 at_least "$T/agg.notify" "^WATCHDOG=1$" 5
check "agent pings the watchdog while idle" \
    wait_for 10 at_least "$T/a1.notify" "^WATCHDOG=1$" 5

# --- one aggregator per database ------------------------------------------
# A second `run` on the same state directory (another port, so only the lock
# can stop it) refuses with exit 4 and says why; the first keeps serving.
sed "s|^listen = .*|listen = tcp://127.0.0.1:$((port + 1))|" \
    "$T/agg/aggregator.ini" > "$T/agg/second.ini"
timeout 10 "$AGG" -c "$T/agg/second.ini" run > "$T/second.out" 2>&1
expect_eq "a second run on the same database exits 4" "$?" 4
check "it says another one is running" \
    grep -q "another cdsync-aggregator is already running" "$T/second.out"
check "the first one still runs" kill -0 "$agg_PID"

# --- SIGHUP: reload the log level, never die -----------------------------
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null
check "agent syncs before the reload" wait_for 20 outbox_empty a1
check "info lines logged before" grep -q "event=batch_sent" "$T/a1/log"
# Both to warn: the agent's batch_sent and the aggregator's stopping (info)
# must then be gone.
sed -i 's/^log_level = .*/log_level = warn/' "$T/agg/aggregator.ini" "$T/a1/agent.ini"
: > "$T/a1/log"
kill -HUP "$agg_PID" "$a1_PID"
check "aggregator logs the reload with the new level" \
    wait_for 10 grep -q "event=reload result=ok log_level=warn" "$T/agg/log"
check "agent logs the reload with the new level" \
    wait_for 10 grep -q "event=reload result=ok log_level=warn" "$T/a1/log"
check "both still run after SIGHUP" kill -0 "$agg_PID" "$a1_PID"
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 8 > /dev/null
check "agent keeps syncing after SIGHUP" wait_for 20 outbox_empty a1
expect_eq "the agent's info lines are gone (warn applies)" \
    "$(count_in "$T/a1/log" "event=batch_sent")" 0
# A broken file: the reload is refused loudly, the old level stays.
sed -i 's/^log_level = .*/log_level = loud/' "$T/a1/agent.ini"
kill -HUP "$a1_PID"
check "a bad log_level is refused at reload, the agent lives" \
    wait_for 10 grep -q "event=reload result=failed.*log_level" "$T/a1/log"
check "the agent still runs" kill -0 "$a1_PID"
agg_stop agg
expect_eq "aggregator stopped by TERM exits 0" "$?" 0
expect_eq "the aggregator's info lines are gone (warn applies)" \
    "$(count_in "$T/agg/log" "event=stopping")" 0
