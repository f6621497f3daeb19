#!/bin/bash
# Running as a service (docs/OPERATIONS.md "systemd"): one aggregator per
# database.
. "$(dirname "$0")/lib.sh"
echo "1..4"
port=$((20000 + $$ % 20000))
agg_init agg "tcp://127.0.0.1:$port"
agg_start agg
check "aggregator starts" wait_for 10 grep -q "event=started" "$T/agg/log"

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
