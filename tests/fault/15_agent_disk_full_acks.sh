#!/bin/bash
# Scenario 15: a commune's disk fills while acks arrive. The agent's state
# directory is a small tmpfs (private mount namespace, unshare -rm); rows
# are queued while the aggregator is down, the WAL is truncated and the
# disk filled, then the aggregator starts: it applies and acks, the agent
# cannot record the acks. It must not renumber (no update content under
# two seqs), must back off (a bounded Hello rate, not hundreds per second),
# `status` must say CRITICAL "cannot write its database" (in Vietnamese by
# default: "không ghi được cơ sở dữ liệu"; not OK), and once
# space returns everything drains with nothing lost or duplicated.
[ -z "${IN_MNTNS:-}" ] && exec unshare -rm env IN_MNTNS=1 bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
agg_init agg
mkdir -p "$T/a1/state"
mount -t tmpfs -o size=2m tmpfs "$T/a1/state" || { not_ok "mount tmpfs"; exit 1; }
fagent_init a1 27913 || not_ok "init a1"
agent_start a1                                   # aggregator down: backs off
N=$((300 * FAULT_SCALE))
gen_csv "$T/A.csv" 27913 "$N" 0 1; fimport a1 "$T/A.csv" > /dev/null || not_ok "import"
sqlite3 -cmd ".timeout 5000" "$(agent_db a1)" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
dd if=/dev/zero of="$T/a1/state/filler" bs=4k 2>/dev/null   # until ENOSPC
fault "agent disk full ($(df -k "$T/a1/state" | awk 'NR==2 {print $4 " kB free"}'))"
agg_start agg
check "acks arrive and cannot be recorded" wait_for 30 grep -q 'event=ack_not_recorded\|event=local_write_failed' "$T/a1/log"
h0=$(hellos a1); sleep 10; h1=$(hellos a1)
diag "Hellos while the disk is full: $((h1 - h0)) in 10 s"
check "the agent backs off (< 40 Hellos in 10 s)" [ $((h1 - h0)) -lt 40 ]
agent a1 status > "$T/status.out" 2>&1; st=$?
diag "status: $(grep health "$T/status.out")"
expect_eq "status exits 2 (critical) while acks cannot be recorded" "$st" 2
check "status names the cause (Vietnamese by default)" grep -q "không ghi được cơ sở dữ liệu, biên nhận chưa được lưu" "$T/status.out"
agent a1 --lang en status > "$T/status.en" 2>&1
check "status says the local disk is full, with the free space (and in English)" \
    eval 'grep -Eq "local disk full: the disk holding .*/a1/state is full \([0-9]+ kB free\)" "$T/status.en" && grep -q "cannot write its database, acks not recorded" "$T/status.en"'
check "nothing renumbered" sh -c "! grep -q 'event=renumbered' '$T/a1/log'"
rm -f "$T/a1/state/filler"; diag "space returned"
check "the outbox drains once space returns" wait_for 60 drained_all
check "status no longer critical" wait_for 20 sh -c "\"$AGENT\" -c \"$T/a1/agent.ini\" status > /dev/null 2>&1; [ \$? -lt 2 ]"
no_content_twice
finish "agent disk full while acks arrive: no loss, no duplicate"
umount "$T/a1/state" 2>/dev/null
