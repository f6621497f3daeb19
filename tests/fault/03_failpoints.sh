#!/bin/bash
# Scenario 3: a crash exactly between commit and ack, just before the
# commit, and between the commit and its commit-mark write (aggregator), and
# exactly between sending and recording (agent: batch sent but not yet
# recorded in flight; ack received but not yet recorded in the outbox).
# Uses the failpoint build ($BUILD/fp, make fault-build): CDS_FAILPOINT=name:n
# makes the process _exit(137) at the n-th pass through that line.
. "$(dirname "$0")/lib.sh"
AGG=$BUILD/fp/cdsync-aggregator; AGENT=$BUILD/fp/cdsync-agent
[ -x "$AGG" ] && [ -x "$AGENT" ] || { echo "not ok 1 - failpoint build missing: make fault-build"; exit 1; }
OUS=(x 27907 27910 27913)
agg_init agg
for i in 1 2 3; do
    fagent_init "a$i" "${OUS[$i]}" || not_ok "init a$i"
    gen_csv "$T/a$i.csv" "${OUS[$i]}" $((300 * FAULT_SCALE)) 0 "$i"
    fimport "a$i" "$T/a$i.csv" > /dev/null || not_ok "import a$i"
done
db=$(agg_db agg)
dead() { ! kill -0 "$1" 2>/dev/null; }
# crashed PID LOG: the process died by the failpoint (status 137 + message).
crashed() {
    wait_for 30 dead "$1" || return 1
    wait "$1"; st=$?
    [ "$st" = 137 ] && grep -q "failpoint: crashing here" "$2"
}

for a in $FAGENTS; do agent_start "$a"; done
for hit in 1 2 4; do
    CDS_FAILPOINT=agg_after_commit:$hit agg_start agg
    if crashed "$agg_PID" "$T/agg/log"; then fault "aggregator crashed after commit $hit, before its acks"
    else not_ok "aggregator did not crash at agg_after_commit:$hit"; fi
done
ok "aggregator crashed 3 times between commit and ack"
# And just before the commit: nothing of that group may have been acked.
for hit in 1 3; do
    CDS_FAILPOINT=agg_before_commit:$hit agg_start agg
    if crashed "$agg_PID" "$T/agg/log"; then fault "aggregator crashed before commit $hit"
    else not_ok "aggregator did not crash at agg_before_commit:$hit"; fi
done
# After the commit, before the commit mark is written (commitmark.h): the
# next start finds the database ahead of the mark, rewrites the mark (no
# refusal: nothing of that group was acked) and carries on.
for r in 1 2; do                 # new rows: an acking group is due
    gen_csv "$T/a1-m$r.csv" "${OUS[1]}" 50 $((r * 41)) 9
    fimport a1 "$T/a1-m$r.csv" > /dev/null || not_ok "import a1 m$r"
    CDS_FAILPOINT=agg_before_mark:1 agg_start agg
    if crashed "$agg_PID" "$T/agg/log"; then fault "aggregator crashed after a commit, before its commit mark"
    else not_ok "aggregator did not crash at agg_before_mark:1"; fi
done
agg_start agg
check "outboxes drain after commit-ack crashes" wait_for 60 drained_all
check "the mark was behind the database and was repaired, not refused" \
    grep -q 'event=commit_mark state=repaired' "$T/agg/log"
for a in $FAGENTS; do agent_stop "$a"; done

# Agent side: small batches; before each round new data, then every agent
# crashes right after sending a batch, or right after an ack arrived but
# before it is recorded in the outbox.
for a in $FAGENTS; do echo "batch_max = 50" >> "$T/$a/agent.ini"; done
crashes=0; round=0
for fp in agent_after_send:1 agent_after_send:3 agent_before_ack_record:1 agent_before_ack_record:2; do
    round=$((round + 1))
    for i in 1 2 3; do
        gen_csv "$T/b$i-$round.csv" "${OUS[$i]}" $((300 * FAULT_SCALE)) $((round * 1000)) "$i"
        fimport "a$i" "$T/b$i-$round.csv" > /dev/null || not_ok "import b$i-$round"
    done
    for a in $FAGENTS; do
        CDS_FAILPOINT=$fp agent_start "$a"
        eval "pid=\$${a}_PID"
        if crashed "$pid" "$T/$a/log"; then crashes=$((crashes + 1)); fault "agent $a crashed at $fp"
        else diag "agent $a did not crash at $fp"; fi
    done
done
expect_eq "agents crashed 12 times between sending and recording" "$crashes" 12
for a in $FAGENTS; do agent_start "$a"; done
check "outboxes drain after agent crashes" wait_for 60 drained_all
expect_eq "history holds every update" "$(aggq agg "SELECT count(*) FROM update_log;")" $((4500 * FAULT_SCALE + 100))
check "no reject was raised (resends were re-acked, not equivocations)" \
    [ "$(aggq agg "SELECT count(*) FROM reject;")" = 0 ]
for a in $FAGENTS; do agent_stop "$a"; done
agg_stop agg
run_checker
echo "1..$TESTNO"
