#!/bin/bash
# Scenario 14: a keyless descriptor flood during a run with agents. The
# aggregator runs under RLIMIT_NOFILE 256; a peer without any key holds
# 600 idle TCP connections to its ZeroMQ port (reopening those the server
# closes) while 4 agents import, two of them (re)connecting during the
# flood (one started late, one kill -9'd and restarted). Three agents
# connect (hello only) before the flood, so the first batch and the
# first commit-mark write fall inside it. The aggregator must never exit
# (on main it exited 4 at that write, EMFILE), every agent must drain
# while the flood is still held, every update arrives once, nothing is
# lost. The flood is held until the agents have drained (at most FLOOD_S:
# 60 s short form, FAULT_SCALE=4: 240 s), then stopped: how fast the
# machine is decides how long the flood lasts, never whether the check
# holds.
. "$(dirname "$0")/lib.sh"
FLOOD_S=$((60 * FAULT_SCALE))
AGG_PORT=$(free_port)
agg_init agg "tcp://127.0.0.1:$AGG_PORT"
for i in 1 2 3 4; do fagent_init "a$i" "$([ $i -le 2 ] && echo 27922 || echo 27925)" || not_ok "init a$i"; done
( ulimit -n 256 && exec "$AGG" -c "$T/agg/aggregator.ini" run >> "$T/agg/log" 2>&1 ) &
agg_PID=$!; PIDS="$PIDS $agg_PID"
for a in a1 a2 a3; do agent_start "$a"; done
hellos() { for a in a1 a2 a3; do grep -q "event=synced" "$T/$a/log" || return 1; done; }
check "three agents connected (hello answered), no batch yet" wait_for 30 hellos
"$BUILD/tools/badpeer" flood "127.0.0.1:$AGG_PORT" 600 "$FLOOD_S" > "$T/flood.out" &
FP=$!; PIDS="$PIDS $FP"
fault "600 idle keyless connections until the agents drained, at most $FLOOD_S s (aggregator fd limit 256)"
held() { [ "$(ss -Htn state established "( dport = :$AGG_PORT )" | wc -l)" -ge 300 ]; }
check "the flood holds more connections than the aggregator has fds" wait_for 10 held
agent_start a4; fault "a4 connects for the first time during the flood"
for r in 1 2 3; do
    load $r $((200 * FAULT_SCALE))
    [ $r = 2 ] && { agent_kill9 a2; agent_start a2; fault "a2 kill -9 and reconnect during the flood"; }
    alive=1; kill -0 "$agg_PID" 2>/dev/null || alive=0
    [ $alive = 1 ] || break
done
check "the aggregator runs throughout the flood" kill -0 "$agg_PID"
check "outboxes drain while the flood is held" wait_for $((FLOOD_S - 10)) drained_all
check "... and the flood was still held then" kill -0 "$FP"
kill -TERM "$FP" 2>/dev/null; wait "$FP" 2>/dev/null
diag "$(tr '\n' ' ' < "$T/flood.out")"
load 5 $((100 * FAULT_SCALE))
check "outboxes drain after the flood" wait_for 60 drained_all
check "the aggregator never exited" kill -0 "$agg_PID"
check "its log stays under 256 KiB" test "$(wc -c < "$T/agg/log")" -lt 262144
finish "fd flood: no loss, no duplicate, run never exits"
