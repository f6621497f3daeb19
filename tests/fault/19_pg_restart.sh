#!/bin/bash
# Scenario 19 (PostgreSQL store only: tests/run.sh runs it as
# fault/19_pg_restart@pg): the database server is restarted under the
# aggregator mid-ingest, alternately `pg_ctl restart -m fast` (sessions
# terminated, clean shutdown) and `-m immediate` (a server crash: no
# shutdown checkpoint, WAL recovery at start). Agents keep importing.
# Each batch in flight then either committed before the restart (acked,
# or acked again on resend) or not (answered RETRY, or its link lost and
# resent): nothing acked may be lost, nothing applied twice, and the
# aggregator must ride it out (reconnect), not exit. The checker decides.
. "$(dirname "$0")/lib.sh"
[ "$CDS_TEST_STORE" = pg ] || {
    echo "not ok 1 - scenario 19 needs CDS_TEST_STORE=pg (a PostgreSQL store)"; exit 1; }

NA=6; PER=$((150 * FAULT_SCALE)); ROUNDS=$((4 * FAULT_SCALE))
OUS=(27898 27901 27904 27907 27910 27913)
agg_init agg
for i in $(seq 1 $NA); do fagent_init "a$i" "${OUS[$((i % 6))]}" || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
applied_ge() { [ "$(applied)" -ge "$1" ]; }
# agents_noticed: RETRY answers and link backoffs in every agent's log.
agents_noticed() { cat "$T"/a[0-9]*/log | grep -c 'event=retry \|event=backoff '; }
total=0; alive=0
for r in $(seq 1 "$ROUNDS"); do
    mode=fast; [ $((r % 2)) = 0 ] && mode=immediate
    n0=$(applied)
    load "$r" "$PER"; total=$((total + NA * PER))
    # mid-ingest: a random share (5-55 %) of this round applied
    wait_for 60 applied_ge $((n0 + NA * PER * (5 + $(rnd 50)) / 100)) \
        || diag "round $r: ingest did not reach its mark (applied $(applied))"
    seen=$(agents_noticed)
    n=$(applied)
    if pg_restart "$mode"; then fault "PostgreSQL restart -m $mode at $n/$total applied"
    else not_ok "pg_ctl restart -m $mode"; fi
    kill -0 "$agg_PID" 2>/dev/null && alive=$((alive + 1))
    diag "round $r: agents logged $(($(agents_noticed) - seen)) retry/backoff lines so far after the restart"
done
check "all outboxes drain after the restarts" wait_for $((120 * FAULT_SCALE)) drained_all
expect_eq "the aggregator survived every restart (never exited)" \
    "$(kill -0 "$agg_PID" 2>/dev/null && echo $alive)" "$ROUNDS"
expect_eq "history holds every update" "$(applied)" "$total"
diag "agents logged $(agents_noticed) retry/backoff lines in all"
no_content_twice
finish "server restarted (fast and immediate) mid-ingest: no loss, no duplicate"
