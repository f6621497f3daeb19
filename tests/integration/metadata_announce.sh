#!/bin/bash
# Metadata announced on the link (issue 20, step 2a): the HelloAnswer and
# the HeartbeatAnswer carry the aggregator's newest published metadata
# version; the agent records it and `status` shows it; its heartbeats say
# which version it uses, and the aggregator's `health` shows it. A publish while an
# agent is connected reaches it within one heartbeat interval (a bounded
# wait on the agent's status, no sleep); an agent offline during the
# publish learns it at its first hello.
. "$(dirname "$0")/lib.sh"
echo "1..13"
HB_MS=1500
agg_init agg
agg_start agg
agent_init a1 27901
agent_init a2 27898
echo "heartbeat_ms = $HB_MS" >> "$T/a1/agent.ini"
agent_start a1

latest() { agent "$1" status --json 2>/dev/null | jq -r '.metadata.latest'; }
latest_is() { [ "$(latest "$1")" = "$2" ]; }
connected() { [ "$(agent "$1" status --json 2>/dev/null | jq -r .state)" = sending ] || agent "$1" status 2>/dev/null | grep -q '^connection:  connected'; }
acked() { [ "$(sqlq "$(agent_db "$1")" 'SELECT acked_seq FROM meta')" -ge "$2" ]; }

# A value sent and acked: the link works both ways before the publish.
printf 'dataelement,period,orgunit,value,storedby,comment\nNTM8_4,2025,27901,true,xa,\n' > "$T/v.csv"
agent a1 import "$T/v.csv" > /dev/null
sed 's/27901/27898/' "$T/v.csv" > "$T/v2.csv"
agent a2 import "$T/v2.csv" > /dev/null     # a2 offline, one value queued
check "a1 connected: its value acked" wait_for 15 acked a1 1
expect_eq "nothing published: status --json metadata.latest 0" "$(latest a1)" 0
check "... text: configured files in use" grep -q '^metadata:    configured files in use$' <<< "$(agent a1 status)"

m=$T/m1; mkdir -p "$m"
cp "$TOP/deploy/catalog.csv" "$TOP/deploy/orgunits.csv" "$TOP/deploy/orgunit_map.csv" "$m/"
agg agg metadata publish "$m" --yes > /dev/null 2>&1
expect_eq "version 1 published" "$(aggq agg 'SELECT max(version) FROM metadata_version')" 1
# One heartbeat interval plus one second for the answer and the poll.
t0=$(date +%s%N)
check "connected a1 told within one heartbeat interval" wait_for $(( HB_MS / 1000 + 1 )) latest_is a1 1
diag "told after $(( ($(date +%s%N) - t0) / 1000000 )) ms (heartbeat_ms $HB_MS)"
in_use_is() { [ "$(agent "$1" status --json 2>/dev/null | jq -r .metadata.in_use)" = "$2" ]; }
check "... and fetched (metadata_fetch.sh): version 1 in use" wait_for 15 in_use_is a1 1
check "... logged" grep -q 'metadata_announced.*latest=1 in_use=0' "$T/a1/log"
check "... status text: version 1 in use" grep -q '^metadata:    version 1 in use' <<< "$(agent a1 status)"
behind() { [ "$(agg agg health --format json | jq -r '.[] | select(.label == "a1") | "\(.metadata_version) \(.metadata_latest)"')" = "1 1" ]; }
check "aggregator health: a1 on 1 (its heartbeat after the fetch), latest 1" wait_for 15 behind

# a2 was offline during the publish: its first hello tells it.
expect_eq "offline a2: not told yet" "$(latest a2)" 0
agent_start a2
check "a2 told at its first hello" wait_for 15 latest_is a2 1
check "... and its queued value acked" wait_for 15 acked a2 1

# Version 2 while both run: a1 (short heartbeat) follows.
sed 's/Commune has telecom\/internet service/Commune has telecom and internet/' "$m/catalog.csv" > "$T/c2" && mv "$T/c2" "$m/catalog.csv"
agg agg metadata publish "$m" --yes > /dev/null 2>&1
check "version 2: a1 told within one heartbeat interval" wait_for $(( HB_MS / 1000 + 1 )) latest_is a1 2
agent_stop a1; agent_stop a2; agg_stop agg
exit $FAILED
