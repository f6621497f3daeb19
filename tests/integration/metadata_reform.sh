#!/bin/bash
# Issue 20 "Done when", with real processes: the 2025 reform published as
# a metadata version while 11 agents (the 11 old communes of Đức Huệ,
# ../shared/reference/vn-cds-indicators.md section 3) are connected.
#   version 1  the old units (no validity end, no merge map), deploy's
#              catalog and data sets
#   version 2  the reform: deploy/orgunits.csv and orgunit_map.csv (11 old
#              communes -> 4 new ones from 2025-07-01), two indicators
#              added (NTM8_5, NTM8_6), one retired (NTM8_1, no stored value)
#   version 3  a small change, first served tampered (one byte changed
#              after signing: the fault build's CDS_TEST_METADATA=tamper,
#              as metadata_fetch.sh, which also covers another key)
#   version 4  the operator's rollback: version 2's files published again
#   version 5  version 3's change again, after one commune rolled back on
#              its own PC (`cdsync-agent metadata rollback`)
# Checked: all 11 connected agents on version 2 within one heartbeat
# interval (bounded wait, no sleep); the district's agent, offline during
# the publish, on it at its reconnect; health (text and JSON) and /metrics
# name the one behind, and the alert appears under a clock two days on
# (libfaketime on the `health` command: the time behind is measured from
# the publication on the aggregator's clock, never the agent's); the
# tampered version refused by every agent, each keeping version 2; the
# rollback reaches all; the agent's `status` and its local page's
# /api/state show the version; an agent rolled back on its PC is shown
# behind until the next version; at the end health and /metrics show none
# behind.
. "$(dirname "$0")/lib.sh"
echo "1..26"
HB_MS=2000
FPAGG=$BUILD/fp/cdsync-aggregator
OLD="27898 27901 27904 27907 27910 27913 27916 27919 27922 27925 27928"
agg_init agg
i=0
for ou in $OLD 801; do
    i=$((i + 1))
    agent_init "a$i" "$ou" || exit 1
    echo "heartbeat_ms = $HB_MS" >> "$T/a$i/agent.ini"
done
COMMUNES="a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11"
json() { agent "$1" status --json 2>/dev/null | jq -r ".metadata.$2"; }
# All of the named agents logged the update to version $1 (cheap: no
# process per agent per poll).
all_updated() {
    local v=$1 n; shift
    for n in "$@"; do grep -q "metadata_updated version=$v " "$T/$n/log" || return 1; done
}
all_refused() {
    local n; for n in "$@"; do grep -q 'metadata_refused' "$T/$n/log" || return 1; done
}
in_use_all() {
    local v=$1 n bad=""; shift
    for n in "$@"; do [ "$(json "$n" in_use)" = "$v" ] || bad="$bad $n"; done
    [ -z "$bad" ] || { diag "not on version $v:$bad"; return 1; }
}
# health --format json: "label version" of agents not on the latest.
behind_list() {
    agg agg health --format json 2>/dev/null \
        | jq -r '.[] | select(.metadata_version < .metadata_latest) | .label' | sort | tr '\n' ' '
}
behind_is() { [ "$(behind_list)" = "$1" ]; }

# Version 1: the units before the reform.
m1=$T/m1; m2=$T/m2; mkdir -p "$m1" "$m2"
cp "$TOP/deploy/catalog.csv" "$TOP/deploy/datasets.csv" "$TOP/deploy/rules.csv" "$m1/"
grep -v -- '-2025,' "$TOP/deploy/orgunits.csv" | sed 's/,2025-06-30$/,/' > "$m1/orgunits.csv"
head -1 "$TOP/deploy/orgunit_map.csv" > "$m1/orgunit_map.csv"   # no merge yet
agg agg metadata publish "$m1" --yes > "$T/p1.out" 2>&1
expect_eq "version 1 (before the reform) published" "$(aggq agg 'SELECT max(version) FROM metadata_version')" 1

# Version 2: the reform.
cp "$TOP/deploy/orgunits.csv" "$TOP/deploy/orgunit_map.csv" "$TOP/deploy/rules.csv" "$m2/"
{ grep -v '^NTM8_1,' "$TOP/deploy/catalog.csv"
  grep '^NTM8_3,' "$TOP/deploy/catalog.csv" | sed 's/^NTM8_3,[^,]*,[^,]*,/NTM8_5,Xã có nền tảng số dùng chung,Commune uses the shared digital platform,/'
  grep '^NTM8_3,' "$TOP/deploy/catalog.csv" | sed 's/^NTM8_3,[^,]*,[^,]*,/NTM8_6,Xã có tổ công nghệ số trên nền tảng số,Digital team on the shared platform,/'
} > "$m2/catalog.csv"
sed 's/,NTM8_1 NTM8_2 NTM8_3 NTM8_4,/,NTM8_2 NTM8_3 NTM8_4 NTM8_5 NTM8_6,/' "$TOP/deploy/datasets.csv" > "$m2/datasets.csv"

agg_start agg
for n in $COMMUNES a12; do agent_start "$n"; done
check "all 12 agents on version 1" wait_for 30 all_updated 1 $COMMUNES a12
# The aggregator knows a12 is on 1 (a heartbeat said so) before it goes.
a12_on_1() { [ "$(agg agg health --format json | jq -r '.[] | select(.label == "a12") | .metadata_version')" = 1 ]; }
wait_for 20 a12_on_1 || diag "a12's heartbeat naming version 1 not seen"
agent_stop a12                          # the district's PC is off

t0=$(date +%s%N)
agg agg metadata publish "$m2" --yes > "$T/p2.out" 2>&1
check "version 2 (the reform) published: catalog thêm 2, đổi 0, bỏ 1" \
    grep -q "catalog.csv: added 2, changed 0, retired 1 (thêm 2, đổi 0, bỏ 1)" "$T/p2.out"
check "11 connected agents on version 2 within one heartbeat interval" \
    wait_for $(( HB_MS / 1000 + 1 )) all_updated 2 $COMMUNES
diag "all 11 on it after $(( ($(date +%s%N) - t0) / 1000000 )) ms (heartbeat_ms $HB_MS)"
check "... status --json of each: in use 2" in_use_all 2 $COMMUNES
check "... the officer's sentence: thêm 2, đổi 0, bỏ 1" \
    grep -q 'Danh mục chỉ tiêu đã cập nhật lên phiên bản 2: thêm 2, đổi 0, bỏ 1' "$T/a1/log"
check "... a commune's copy holds its new commune (27901 -> 27907-2025)" \
    bash -c "'$AGENT' -c '$T/a2/agent.ini' metadata show orgunit_map.csv | grep -q '^27901,27907-2025,'"

check "health: only the offline district agent is behind" wait_for 20 behind_is "a12 "
agg agg health > "$T/h.txt"
check "health text: its version and the newest, in words" \
    grep -q "1, behind [0-9]* \(s\|min\) (current 2)" "$T/h.txt"
check "... summary: 11 on it, 1 on an older version (no alert yet)" \
    grep -qx "metadata: current version 2; 11 agents on it, 1 on an older version" "$T/h.txt"
http_url() { PORT=$(sed -n 's/.*event=http_listening listen=127.0.0.1:\([0-9]*\).*/\1/p' "$T/agg/log" | tail -1); }
http_url
metric() { curl -fsS "http://127.0.0.1:$PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
expect_eq "/metrics: 1 behind, 0 alerts" "$(metric cdsync_agents_metadata_behind) $(metric cdsync_agents_metadata_behind_alert)" "1 0"
# Two days on (the aggregator's clock, as a `health` run sees it): the
# agent behind since the publish is an alert; a threshold of 3 days is not.
if ft +2d true 2>/dev/null; then
    # (nobody SILENT for this run: the alert alone makes the exit 1)
    ft +2d "$AGG" -c "$T/agg/aggregator.ini" --silent-after-ms 604800000 health > "$T/h2.txt"; rc=$?
    check "two days later: the alert (health exit 1), 1 behind for more than 24 h" \
        bash -c "[ $rc = 1 ] && grep -q '1, behind 2 days 0 h: ALERT (current 2)' '$T/h2.txt' && grep -q '(1 behind for more than 24 h: ALERT)' '$T/h2.txt'"
    rc3=$(ft +2d "$AGG" -c "$T/agg/aggregator.ini" --metadata-behind-after-ms 259200000 health --format json | jq '[.[] | select(.metadata_alert)] | length')
    expect_eq "... with metadata_behind_after_ms = 3 days: no alert" "$rc3" 0
else
    ok "# SKIP no libfaketime"; ok "# SKIP no libfaketime"
fi

# The district's agent reconnects: version 2 at its first hello.
agent_start a12
check "offline agent on version 2 after reconnecting" wait_for 15 all_updated 2 a12

# Version 3 served tampered: refused by every agent, version 2 kept.
sed 's/Commune has telecom\/internet service/Commune has telecom and internet/' "$m2/catalog.csv" > "$T/c3"
m3=$T/m3; cp -r "$m2" "$m3"; mv "$T/c3" "$m3/catalog.csv"
if [ -x "$FPAGG" ]; then
    agg_stop agg
    agg agg metadata publish "$m3" --yes > /dev/null 2>&1
    CDS_TEST_METADATA=tamper "$FPAGG" -c "$T/agg/aggregator.ini" run >> "$T/agg/log" 2>&1 &
    agg_PID=$!; PIDS="$PIDS $agg_PID"
    check "tampered version 3 refused by all 12 agents" wait_for 30 all_refused $COMMUNES a12
    check "... each keeps version 2" in_use_all 2 $COMMUNES a12
    agg_stop agg
else
    ok "# SKIP no fault build ($FPAGG): make fault-build"; ok "# SKIP no fault build"
    agg_stop agg
    agg agg metadata publish "$m3" --yes > /dev/null 2>&1
fi

# Rollback: version 2's files published again (version 4); all take it.
agg agg metadata publish "$m2" --yes > "$T/p4.out" 2>&1
check "rollback published as version 4: version 3's change undone" \
    grep -q "catalog.csv: added 0, changed 1, retired 0" "$T/p4.out"
agg_start agg
check "all 12 agents on version 4" wait_for 30 all_updated 4 $COMMUNES a12
check "... status text names it" grep -q '^metadata:    version 4 in use' <<< "$(agent a1 status)"

# The officer's page (a2: Xã Mỹ Quý Đông) says which version it checks with.
agent_page_state a2 "$T/state.json" || diag "a2's page did not open"
expect_eq "local page /api/state: version 4 in use, 4 the newest" \
    "$(jq -r '.sync.metadata | "\(.in_use) \(.latest)"' "$T/state.json")" "4 4"

# One commune rolls back on its own PC: the operator sees it behind; the
# next version published (version 3's change, served intact) brings it on.
agent a1 metadata rollback > "$T/rb.out" 2>&1
check "a1's own rollback: version 2 in use again" grep -q 'version 2 in use again (was 4)' "$T/rb.out"
check "... health names a1 behind" wait_for 20 behind_is "a1 "
agg agg metadata publish "$m3" --yes > /dev/null 2>&1
check "version 5 published: all 12 agents on it, a1 too" wait_for 30 all_updated 5 $COMMUNES a12

check "at the end health shows none behind" wait_for 20 behind_is ""
check "... its summary says so" grep -qx "metadata: current version 5; all 12 agents on it" <<< "$(agg agg health)"
http_url
expect_eq "... /metrics: latest 5, 0 behind, 0 alerts" \
    "$(metric cdsync_metadata_latest_version) $(metric cdsync_agents_metadata_behind) $(metric cdsync_agents_metadata_behind_alert)" "5 0 0"
for n in $COMMUNES a12; do agent_stop "$n"; done
agg_stop agg
exit $FAILED
