#!/bin/bash
# Scenario 9: disk full. (a) The aggregator's state directory is a small
# tmpfs (private mount namespace, unshare -rm): ingest fills it; nothing
# that was not stored may be acked (the checker would see the agents'
# deleted rows missing from history), the database stays intact, and once
# space returns (remount bigger) everything drains. (b) The agent's state
# directory is a small tmpfs: import and submit fail with a clear message
# and queue nothing partial; after space returns they work.
[ -z "${IN_MNTNS:-}" ] && exec unshare -rm env IN_MNTNS=1 bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/agg/state"
mount -t tmpfs -o size=1m tmpfs "$T/agg/state" || { not_ok "mount tmpfs"; exit 1; }
agg_init agg
for i in 1 2 3; do fagent_init "a$i" 27913 || not_ok "init a$i"; done
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
for r in 1 2 3; do load $r $((1000 * FAULT_SCALE)); done
full() { grep -q "full\|FULL" "$T/agg/log"; }
check "aggregator reports its disk full" wait_for 60 full
fault "aggregator disk full ($(df -k "$T/agg/state" | awk 'NR==2 {print $3 " kB used of " $2}'))"
sleep 2
stuck=0; for a in $FAGENTS; do [ "$(agent_depth "$a")" -gt 0 ] && stuck=$((stuck + 1)); done
check "agents keep what was not stored" [ "$stuck" -gt 0 ]
check "aggregator database intact while full" [ "$(sqlq "$(agg_db agg)" "PRAGMA quick_check;")" = ok ]
mount -o remount,size=64m "$T/agg/state"; diag "space returned"
check "outboxes drain once space returns" wait_for 90 drained_all
# (b) the agent's disk.
mkdir -p "$T/s1/state"
mount -t tmpfs -o size=400k tmpfs "$T/s1/state" || not_ok "mount agent tmpfs"
fagent_init s1 27916 || not_ok "init s1"
d0=$(agent_depth s1)
gen_csv "$T/big.csv" 27916 $((4000 * FAULT_SCALE)) 0 1
if fimport s1 "$T/big.csv" > "$T/s1.out" 2>&1; then not_ok "import onto a full disk failed"; else
    ok "import onto a full disk fails (exit status $?)"; fi
fault "agent disk full"
diag "import said: $(cat "$T/s1.import.err" | head -2 | tr '\n' ' ')"
check "the failure says the disk is full" grep -qi "full" "$T/s1.import.err"
expect_eq "nothing partial queued" "$(agent_depth s1)" "$d0"
dd if=/dev/zero of="$T/s1/state/filler" bs=1k count=1000 2>/dev/null
if fsubmit s1 --org-unit 27916 --indicator TTHC_TONG --period 202401 --value 5; then
    not_ok "submit onto a full disk failed"; else ok "submit onto a full disk fails"; fi
diag "submit said: $(cat "$T/s1.submit.err" | head -2 | tr '\n' ' ')"
rm -f "$T/s1/state/filler"
expect_eq "nothing queued by the failed submit" "$(agent_depth s1)" "$d0"
mount -o remount,size=64m "$T/s1/state"
check "import works once space returns" fimport s1 "$T/big.csv"
agent_start s1
check "agent outbox drains" wait_for 90 drained_all
finish "disk full: no loss, no duplicate, no partial"
umount "$T/s1/state" "$T/agg/state" 2>/dev/null
