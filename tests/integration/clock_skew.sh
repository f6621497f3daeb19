#!/bin/bash
# Last-writer-wins with wrong commune clocks (docs/DESIGN.md "Clock skew").
# Three agents of one commune, each a real process under libfaketime: slow
# (2 h behind), fast (2 h ahead) and on time, all connected, write the same
# keys in turn, each waiting for the previous write to be acked. Required:
# the aggregator keeps the value entered last in real order, also when an
# agent wrote while it was not running and delivered later; a value
# stamped 23 h ahead does not pin its key (the agent steps back from it);
# health shows the two wrong clocks SKEWED (not LAGGING) with their
# offset in words, the on-time one OK; /metrics carries the offset; a
# new agent 2 h slow whose officer enters a value before its daemon ever
# connected (raw stamp) still wins when that value was entered last, its
# stamp flagged shifted; verify accepts the database. On main before
# effective stamps this fails, and the last part before per-row stamp
# offsets (docs/RELIABILITY.md).
. "$(dirname "$0")/lib.sh"
echo "1..28"
[ -n "$FT_LIB" ] || { not_ok "libfaketime missing (deploy/deps.sh)"; exit 1; }
declare -A OFF=([slow]=-2h [fast]=+2h [ontime]=+0)
ft_start() { ft_agent_start "$1" "${OFF[$1]}"; }
OU=27898
# put AGENT PERIOD VALUE [OFFSET]: submit under the agent's clock (or
# OFFSET), then wait until the agent holds the ack when it is running.
# The submit's log goes to $T/AGENT/submit.log.
put() {
    ft "${4:-${OFF[$1]}}" "$AGENT" -c "$T/$1/agent.ini" submit --org-unit $OU \
        --indicator TO_CNSCD --period "$2" --value "$3" > /dev/null \
        2>> "$T/$1/submit.log" || return 1
    eval "pid=\${$1_PID:-}"
    [ -z "$pid" ] || wait_for 30 outbox_empty "$1"
}
val() {   # the aggregator's value of TO_CNSCD for period $1
    agg agg query --indicator TO_CNSCD --format csv \
        | awk -F, -v p="$1" 'NR > 1 && $4 == p { print $6 }'
}
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:0" >> "$T/agg/aggregator.ini"
for a in slow fast ontime; do
    agent_init $a $OU || not_ok "init $a"
    echo "heartbeat_ms = 300" >> "$T/$a/agent.ini"
done
agg_start agg
for a in slow fast ontime; do ft_start $a; done

# 1. Connected, in turn: every write beats the one before it.
seq_ok=1
n=0
for a in ontime fast slow ontime slow fast slow; do
    n=$((n + 1))
    put $a 2025Q1 $((100 + n)) || { seq_ok=0; diag "put $a failed"; }
    got=$(val 2025Q1)
    [ "$got" = $((100 + n)) ] || { seq_ok=0; diag "after $a wrote $((100 + n)): aggregator has $got"; }
done
expect_eq "connected, in turn: the last value entered wins at every step" $seq_ok 1
expect_eq "... and at the end" "$(val 2025Q1)" 107

# 2. Offline first: the agent is stopped while its officer enters a value;
# another commune machine enters a newer one; the first is started later.
for a in fast slow; do
    agent_stop $a; eval "${a}_PID="
done
put fast 2025Q2 201
put ontime 2025Q2 202
ft_start fast
check "fast, offline, delivers its older value" wait_for 30 outbox_empty fast
expect_eq "offline fast clock: the newer on-time value stays" "$(val 2025Q2)" 202
put ontime 2024Q2 301
put slow 2024Q2 302
ft_start slow
check "slow, offline, delivers its newer value" wait_for 30 outbox_empty slow
expect_eq "offline slow clock: its newer value wins on delivery" "$(val 2024Q2)" 302
put slow 2024Q3 401 && put fast 2024Q3 402 && put slow 2024Q3 403
expect_eq "both back online: still the last entered" "$(val 2024Q3)" 403

# 3. A value stamped 23 h ahead (the on-time machine's clock jumped for
# one entry) is applied at arrival time and flagged, and does not pin the
# key: the next values entered anywhere win over it.
put ontime 2024Q4 500 +23h
expect_eq "the +23 h value is applied" "$(val 2024Q4)" 500
put slow 2024Q4 501
expect_eq "... and a slow clock's later value wins over it" "$(val 2024Q4)" 501
put ontime 2024Q4 502
expect_eq "the jumped machine's next value (its clock remembers +23 h) wins in turn" "$(val 2024Q4)" 502
put fast 2024Q4 503
expect_eq "... and the fast one's after it" "$(val 2024Q4)" 503
db=$(agg_db agg)
expect_eq "only the entry's stamp 23 h ahead is flagged clamped" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE status = 0 AND field = 'hlc' AND message LIKE 'clamped: stamped 23 h % ahead of the aggregator clock%';")" 1
check "... the next entry stepped back from it (its measured offset says the clock is right)" \
    grep -q 'event=hlc_step_back' "$T/ontime/submit.log"
check "the clamp is logged" grep -q 'event=clock_skew.*clamped=1' "$T/agg/log"
expect_eq "nothing refused for its clock" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE status != 0;")" 0

# 4. Health: SKEWED with the offset in words, never LAGGING for a slow
# clock; the on-time machine OK; warning exit status; metrics.
state_of() { agg agg health --format json | jq -r ".[] | select(.label == \"$1\") | .state"; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
check "slow clock: SKEWED" wait_for 10 state_is slow SKEWED
check "fast clock: SKEWED" wait_for 10 state_is fast SKEWED
check "on time (even after its +23 h entry): OK" wait_for 10 state_is ontime OK
agg agg health > "$T/health.txt"; rc=$?
expect_eq "health exits 1 (warning) for SKEWED" $rc 1
FPR() { agg agg agents --json | jq -r ".[] | select(.label == \"$1\") | .fingerprint"; }
check "health says how far: 2 h behind" grep -Eq "clock 2 h 0 min behind .*$(FPR slow)" "$T/health.txt"
check "health says how far: 2 h ahead" grep -Eq "clock 2 h 0 min ahead .*$(FPR fast)" "$T/health.txt"
PORT=$(sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/agg/log" | tail -1)
curl -fsS "http://127.0.0.1:$PORT/metrics" > "$T/metrics.txt"
check "metric: the fast agent's offset is about +7200 s" awk -v a="$(FPR fast)" '
    index($0, "cdsync_agent_clock_offset_seconds{agent=\"" a "\"") == 1 && $NF > 7100 && $NF < 7300 { f = 1 }
    END { exit !f }' "$T/metrics.txt"
expect_eq "metric: two agents SKEWED" \
    "$(awk '$1 == "cdsync_agents{state=\"SKEWED\"}" { print $2 }' "$T/metrics.txt")" 2

# 5. Never connected, offline first: a new machine 2 h slow, enrolled,
# whose officer enters a value before its daemon ever ran (no offset
# measured: a raw stamp 2 h behind), after the on-time machine's value.
# When the daemon starts and delivers, the later entry must win: its
# batch says the time of the clock that stamped it, and the aggregator
# shifts it by the 2 h.
OFF[late]=-2h
agent_init late $OU || not_ok "init late"
put ontime 2023Q4 601
put late 2023Q4 602
ft_start late
check "never connected: delivers its offline value" wait_for 30 outbox_empty late
expect_eq "never connected, slow clock: its later value wins" "$(val 2023Q4)" 602
expect_eq "... its stamp is flagged shifted in history" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE period = '2023Q4' AND value = '602' AND field = 'hlc' AND message LIKE 'shifted: agent clock 2 h % behind the aggregator clock%';")" 1
expect_eq "... and nothing refused for its clock" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE status != 0;")" 0

agg agg verify > "$T/verify.txt" 2>&1; rc=$?
expect_eq "verify accepts the effective stamps (exit 0)" $rc 0
