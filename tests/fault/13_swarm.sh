#!/bin/bash
# Scenario 13: 1,000 simulated agents (one process, build/tools/swarm,
# each with its own identity, CURVE connection and hash chain) ingesting
# when the aggregator is killed and restarted: all reconnect at once, all
# must drain, none may starve. Enrolment of the 1,000 keys is in bulk,
# through the aggregator's store (the SQLite file or the PostgreSQL URL).
# Short form: 1,000 agents x 20 updates; FAULT_SCALE multiplies updates.
. "$(dirname "$0")/lib.sh"
NS=${SWARM_N:-1000}; ROWS=$((20 * FAULT_SCALE))
agg_init agg
fagent_init a1 27925 || not_ok "init a1"          # a real agent beside them
mkdir -p "$T/swarm"
t0=$(date +%s)
check "$NS identities enrolled in bulk" "$BUILD/tools/swarm" enroll "$(agg_store agg)" "$T/swarm" "$NS" 27925
diag "enrolment took $(($(date +%s) - t0)) s"
agg_start agg
agent_start a1
load 1 $((200 * FAULT_SCALE))
"$BUILD/tools/swarm" run "$agg_EP" "$(cat "$T/agg/pubid")" "$T/swarm" "$NS" "$ROWS" 27925 \
    $((150 * FAULT_SCALE)) "$T/swarm.sql" > "$T/swarm.out" 2> "$T/swarm.err" &
sp=$!; PIDS="$PIDS $sp"
quarter() { [ "$(applied)" -ge $((NS * ROWS / 4)) ]; }
wait_for 60 quarter
agg_kill9 agg; fault "aggregator kill -9 at $(applied) applied with $NS agents connected"
agg_start agg
t1=$(date +%s)
wait "$sp"; st=$?
diag "$(cat "$T/swarm.out") ($(($(date +%s) - t1)) s after the restart)"
expect_eq "all $NS simulated agents drained after the restart" "$st" 0
check "the real agent drained too" wait_for 60 outbox_empty a1
{ echo "BEGIN;"; cat "$T/swarm.sql"; echo "COMMIT;"; } | sqlite3 "$T/acked.db"
finish "1,000 agents reconnecting: all drained, no loss, no duplicate"
