#!/bin/bash
# Done-when 1: values submitted at two agents appear exactly once each in
# `query`, with the right types, over TCP on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
echo "1..10"
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
agent_init a1 27901
agent_init a2 27904
agg_start agg
agent_start a1
agent_start a2

agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null &&
agent a1 submit --org-unit 27901 --indicator NTM8_4 --period 2024 --value có > /dev/null &&
agent a2 submit --org-unit 27904 --indicator TO_CNSCD --period 2025Q2 --value 4 --comment "Tổ ấp 3, mới lập" > /dev/null &&
agent a2 submit --org-unit 27904 --indicator HGD_CAPQUANG_SO --period 2025Q2 --value 1850 > /dev/null
check "four submits accepted" [ $? = 0 ]

check "agent a1 outbox drains" wait_for 20 outbox_empty a1
check "agent a2 outbox drains" wait_for 20 outbox_empty a2

out=$(agg agg query --org-unit 801 --format csv)
diag "$out"
n=$(printf '%s\n' "$out" | tail -n +2 | grep -c .)
expect_eq "exactly four values in the district" "$n" 4
json=$(agg agg query --org-unit 801 --format json)
# Types: integers are canonical integers, booleans are "true".
expect_eq "boolean canonicalised" \
    "$(printf '%s\n' "$out" | grep ',NTM8_4,' | grep -c ',true,')" 1
expect_eq "integer value kept" \
    "$(printf '%s\n' "$out" | grep '^27904,.*,TO_CNSCD,' | grep -c ',4,')" 1
expect_eq "history has each update once" \
    "$(aggq agg "SELECT count(*), count(DISTINCT agent_id || ':' || seq) FROM update_log;")" "4|4"
expect_eq "json output has the 4 values" "$(printf '%s' "$json" | jq '.dataValues | length')" 4

# An idle, connected agent has no timer running (it blocks in zmq_poll), so
# a value submitted now can only leave because `submit` woke the daemon.
agent a1 submit --org-unit 27901 --indicator TO_CNSCD_TV --period 2025Q2 --value 41 > /dev/null
check "a running daemon is woken by submit and sends at once" wait_for 5 outbox_empty a1
# The wake is best effort. With the daemon's wake socket gone (as when a
# wake is lost under load), a connected daemon must still find the row by
# itself: it re-checks its outbox every few seconds.
rm -f "$T/a2/state/wake.sock"
agent a2 submit --org-unit 27904 --indicator TO_CNSCD_TV --period 2025Q2 --value 17 > /dev/null
check "a row whose wake was lost is still sent" wait_for 30 outbox_empty a2
