#!/bin/bash
# Scenario 16: an agent restored from an old backup probes the aggregator
# while another process holds its database's write lock (BEGIN IMMEDIATE):
# the probe matches but the match cannot be recorded (SQLITE_BUSY). The
# agent must back off and probe again, never fall back to renumbering the
# rows the aggregator holds (their content would be applied under two
# seqs). The lock is held until the checks below have seen the agent
# back off and `status` report it (at most HOLD_S, a bound, not a timing
# the test relies on).
. "$(dirname "$0")/lib.sh"
HOLD_S=180
agg_init agg
fagent_init a1 27922 || not_ok "init a1"
agg_start agg
agent_start a1
N=$((200 * FAULT_SCALE))
backup_pending a1 27922 "$N"
check "pending rows delivered after the backup" wait_for 60 outbox_empty a1
restore_backup a1
# Another writer takes the lock and keeps it while the agent probes.
python3 -c 'import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE"); print("locked", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end and not os.path.exists(sys.argv[3]):
    time.sleep(0.1)
c.execute("COMMIT")' \
    "$(agent_db a1)" "$HOLD_S" "$T/release" > "$T/holder.out" 2>&1 &
HOLDER=$!; PIDS="$PIDS $HOLDER"
check "another writer holds the agent's database" wait_for 15 grep -q locked "$T/holder.out"
fault "agent database locked during the probe"
agent_start a1
# The first failure of the episode is logged at warn (whichever step it
# was), each retry's step in its backoff line.
check "the probe's match cannot be recorded (busy)" wait_for 90 grep -q 'event=backoff .*reason="record_probe: busy"' "$T/a1/log"
agent a1 --lang en status > "$T/status.out" 2>&1; st=$?
diag "status: $(grep health "$T/status.out")"
expect_eq "status exits 2 while the database is locked" "$st" 2
check "status says the database is locked, by another program" grep -q "database locked: another program holds" "$T/status.out"
expect_eq "one warn line for the episode" "$(grep -c 'level=warn .*event=local_write_failed' "$T/a1/log")" 1
touch "$T/release"; wait "$HOLDER" 2>/dev/null; diag "lock released"
check "every outbox drains after the lock" wait_for 60 drained_all
check "the restored rows were matched, not renumbered" sh -c "grep -q 'event=probe_matched' '$T/a1/log' && ! grep -q 'event=renumbered' '$T/a1/log'"
no_content_twice
finish "database locked during the probe: no loss, no duplicate"
