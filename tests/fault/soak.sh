#!/bin/bash
# make soak DURATION=seconds: mixed load with faults for a given time
# (agents import continuously through the fault proxy; every few seconds
# one fault at random: agent kill -9, connection resets, one-way ack loss,
# partition, aggregator SIGSTOP). The aggregator and agent m1 are never
# restarted, so their memory (RSS) and open descriptors are sampled all
# along: the run fails if the last third's maximum exceeds the first
# third's by more than 50% + 8 MB (RSS) or 16 descriptors, or if the
# checker finds anything lost, duplicated or corrupted.
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-600}
proxied_setup 4 27898 27901 || not_ok "setup"
agg_start agg
for a in $FAGENTS; do agent_start "$a"; done
m1=$a1_PID; end=$(($(date +%s) + DURATION)); round=0
: > "$T/samples"
while [ "$(date +%s)" -lt "$end" ]; do
    round=$((round + 1))
    load "$round" 200
    case $(rnd 6) in
    0) v=a$((2 + $(rnd 3))); agent_kill9 "$v"; fault "kill -9 $v"; agent_start "$v" ;;
    1) proxy_set reset_prob=0.05; fault "random resets"; sleep 2; proxy_set ;;
    2) proxy_set drop_down=1; fault "acks lost 2 s"; sleep 2; proxy_set ;;
    3) proxy_set down=1; fault "partition 2 s"; sleep 2; proxy_set ;;
    4) kill -STOP "$agg_PID"; fault "aggregator SIGSTOP 2 s"; sleep 2; kill -CONT "$agg_PID" ;;
    5) proxy_set delay_ms=100 jitter_ms=200 loss=0.05; fault "delay and loss 3 s"; sleep 3; proxy_set ;;
    esac
    sleep 1
    echo "$(date +%s) $(rss_kb "$agg_PID") $(fds "$agg_PID") $(rss_kb "$m1") $(fds "$m1")" >> "$T/samples"
done
check "outboxes drain after the soak" wait_for 120 drained_all
n=$(wc -l < "$T/samples")
cp "$T/samples" "${SOAK_SAMPLES:-/dev/null}" 2>/dev/null
read -r r0 f0 r1 f1 <<< "$(head -n $((n / 3 + 1)) "$T/samples" | awk '{if ($2>a) a=$2; if ($3>b) b=$3; if ($4>c) c=$4; if ($5>d) d=$5} END {print a, b, c, d}')"
read -r s0 g0 s1 g1 <<< "$(tail -n $((n / 3 + 1)) "$T/samples" | awk '{if ($2>a) a=$2; if ($3>b) b=$3; if ($4>c) c=$4; if ($5>d) d=$5} END {print a, b, c, d}')"
diag "aggregator RSS ${r0} -> ${s0} kB, fds $f0 -> $g0; agent m1 RSS ${r1} -> ${s1} kB, fds $f1 -> $g1 ($n samples)"
check "aggregator memory bounded" [ "$s0" -le $((r0 * 3 / 2 + 8192)) ]
check "aggregator descriptors bounded" [ "$g0" -le $((f0 + 16)) ]
check "agent memory bounded" [ "$s1" -le $((r1 * 3 / 2 + 8192)) ]
check "agent descriptors bounded" [ "$g1" -le $((f1 + 16)) ]
finish "soak: no loss, no duplicate"
