#!/bin/bash
# Availability: idle TCP connections to the ZeroMQ port (no greeting, no
# key: anyone on the network can open them) beyond the aggregator's
# descriptor limit. The aggregator runs under RLIMIT_NOFILE 256 (soft and
# hard) and the flood holds 600 connections, reopening those the server
# closes. Checks: the daemon keeps running; an agent that was connected
# before the flood gets its FIRST batch acked while the flood is held (the
# commit mark's first write: on main it failed with EMFILE and `run`
# exited 4); an agent that connects during the flood syncs (connguard's
# pending cap and descriptor reserve; on main accept failed with EMFILE);
# both sync after it; /healthz answers 200; the log stays small.
. "$(dirname "$0")/lib.sh"
echo "1..11"
BADPEER=$BUILD/tools/badpeer
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
agent_init good 27901
agent_init late 27904
# Under the low limit (a subshell, so only the daemon gets it).
( ulimit -n 256 && exec "$AGG" -c "$T/agg/aggregator.ini" run >> "$T/agg/log" 2>&1 ) &
agg_PID=$!; PIDS="$PIDS $agg_PID"
http_port() { sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/agg/log" | head -1; }
has_port() { test -n "$(http_port)"; }
check "aggregator up" wait_for 10 has_port
HP=$(http_port)
healthz() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$HP/healthz"; }
submit() { agent "$1" submit --org-unit "$2" --indicator TTHC_TONG --period "$3" --value 1 > /dev/null; }
for a in good late; do agent "$a" receipts > /dev/null 2>&1; done
agent_start good
check "the first agent is connected (hello answered), no batch yet" \
    wait_for 20 grep -q "event=synced" "$T/good/log"

"$BADPEER" flood "127.0.0.1:$port" 600 25 > "$T/flood.out" &
FP=$!; PIDS="$PIDS $FP"
wait_for 10 grep -q opened= "$T/flood.out"
diag "$(cat "$T/flood.out")"
# Past the limit: more connections established to the port than the
# daemon has descriptors (the kernel completes them in the accept queue).
held() { [ "$(ss -Htn state established "( dport = :$port )" | wc -l)" -ge 300 ]; }
check "the flood holds more connections than the daemon has fds" wait_for 10 held
submit good 27901 202501
check "its first batch is acked while 600 idle connections are held" \
    wait_for 15 outbox_empty good
agent_start late
submit late 27904 202501
check "an agent connecting during the flood syncs" wait_for 15 outbox_empty late
wait "$FP"
diag "$(tail -1 "$T/flood.out")"
check "the aggregator is still running" kill -0 "$agg_PID"
submit good 27901 202502
submit late 27904 202502
check "the first agent syncs after the flood" wait_for 20 outbox_empty good
check "the second agent syncs after the flood" wait_for 20 outbox_empty late
expect_eq "/healthz answers 200 after the flood" "$(healthz)" 200
refused=$(grep -c "event=connection_refused" "$T/agg/log")
diag "log: $(wc -c < "$T/agg/log") bytes, $refused connection_refused lines"
check "the guard cut connections (logged)" test "$refused" -ge 1
# 25 s of flood: a few lines per distinct event per 10 s window get
# through; 256 KiB is far above that and far below a flood.
check "the log stays under 256 KiB" test "$(wc -c < "$T/agg/log")" -lt 262144
