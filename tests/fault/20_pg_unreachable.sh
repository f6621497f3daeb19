#!/bin/bash
# Scenario 20 (PostgreSQL store only: tests/run.sh runs it as
# fault/20_pg_unreachable@pg): the database server is gone for a while
# (stopped) while agents have rows to send. The aggregator must keep
# serving: it answers their batches ACK_RETRY (the store's `busy`,
# docs/POSTGRESQL.md "Errors"), acks nothing it could not commit, and
# does not exit. The server comes back (same port, same data): every
# agent catches up, nothing lost, nothing applied twice (the checker).
. "$(dirname "$0")/lib.sh"
[ "$CDS_TEST_STORE" = pg ] || {
    echo "not ok 1 - scenario 20 needs CDS_TEST_STORE=pg (a PostgreSQL store)"; exit 1; }

NA=4; PER=$((200 * FAULT_SCALE))
OUS=(27898 27901 27904 27907)
agg_init agg
for i in $(seq 1 $NA); do fagent_init "a$i" "${OUS[$((i % 4))]}" || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
load 1 "$PER"
check "round 1 delivered with the server up" wait_for 60 drained_all
n1=$(applied)
expect_eq "round 1 applied" "$n1" $((NA * PER))

# retries: ACK_RETRY answers the agents logged (agent/session.c "retry").
retries() { cat "$T"/a[0-9]*/log | grep -c 'event=retry '; }
retries_over() { [ "$(retries)" -gt "$1" ]; }
r0=$(retries)
pg_halt fast && fault "PostgreSQL server stopped under the aggregator"
load 2 "$PER"
# Waits on what the agents are told, not on time: first RETRY, then two
# more (the agents back off and resend; the server stays down meanwhile).
check "the aggregator answers RETRY while the database is down" \
    wait_for 60 retries_over "$r0"
check "... and keeps answering it (agents resend after backoff)" \
    wait_for 60 retries_over $((r0 + 2))
check "the aggregator is still running without its database" kill -0 "$agg_PID"
if drained_all; then not_ok "nothing acked while the database is down (an outbox drained)"
else ok "nothing acked while the database is down (outboxes still hold round 2)"; fi
diag "retries answered during the outage: $(($(retries) - r0))"

check "PostgreSQL server back on port $PG_PORT" pg_resume
check "every agent catches up once it is back" wait_for $((120 * FAULT_SCALE)) drained_all
expect_eq "history holds every update" "$(applied)" $((2 * NA * PER))
check "the aggregator is still the same process" kill -0 "$agg_PID"
no_content_twice
finish "server unreachable mid-ingest: RETRY, then catch-up; no loss, no duplicate"
