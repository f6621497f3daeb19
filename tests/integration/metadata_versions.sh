#!/bin/bash
# Values stamped with an older published metadata version (issue 20 item
# 3, the aggregator's half): a batch whose Batch.catalog_version is the
# catalog of a published version is checked against that version, and
# history names the version. Version 1: the deploy files. Version 2
# retires NTM8_3 (replaced by NTM8_9) and becomes the aggregator's
# configured catalog. An agent still on version 1 (a1: a value queued
# offline under version 1, released by `metadata rollback`; bp: a peer
# pinned to version 1) sends NTM8_3: accepted, history says version 1. A
# value of NTM8_3 stamped version 2, or with no published stamp, is
# refused unknown_indicator, as the configured catalog says. (JSON: an
# empty cell, the configured catalog, is null.)
. "$(dirname "$0")/lib.sh"
echo "1..16"
BADPEER=$BUILD/tools/badpeer
agg_init agg
agent_init a1 27901
agent_init bp 27913
agg_start agg
SRV=$(cat "$T/agg/pubid")
# The version string of a catalog file (cds_catalog_version): the first
# 16 bytes of its BLAKE2b-256, in hex.
catver() { b2sum -l 256 "$1" | cut -c1-32; }

m=$T/m; mkdir -p "$m"
cp "$TOP/deploy/catalog.csv" "$TOP/deploy/orgunits.csv" "$TOP/deploy/orgunit_map.csv" \
   "$TOP/deploy/datasets.csv" "$m/"
agg agg metadata publish "$m" --yes > /dev/null 2>&1
h1=$(catver "$m/catalog.csv")
json() { agent a1 status --json 2>/dev/null | jq -r "$1"; }
in_use_is() { [ "$(json .metadata.in_use)" = "$1" ]; }
agent_start a1
check "a1 fetched version 1" wait_for 15 in_use_is 1
agent_stop a1
check "offline, under version 1: NTM8_3 2025 queued" \
    agent a1 submit --org-unit 27901 --indicator NTM8_3 --period 2025 --value true

# Version 2: NTM8_3 retired, NTM8_9 replaces it (column replaces).
meta_retire_ntm8_3 "$m"
agg agg metadata publish "$m" --yes > "$T/pub.out" 2>&1
expect_eq "version 2 published" "$(aggq agg 'SELECT max(version) FROM metadata_version')" 2
h2=$(catver "$m/catalog.csv")
# The operator makes version 2 the configured catalog and restarts.
agg_stop agg
sed -i "s|^catalog = .*|catalog = $m/catalog.csv|" "$T/agg/aggregator.ini"
agg_start agg
loaded() { grep -q 'event=metadata_versions_loaded latest=2 versions=2' "$T/agg/log"; }
check "the aggregator loaded both published versions at start" wait_for 15 loaded

bp() { BADPEER_INDICATOR=NTM8_3 BADPEER_PERIOD=2025 BADPEER_VALUE=true \
       BADPEER_CATALOG_VERSION=$1 "$BADPEER" "$agg_EP" "$SRV" "$T/bp/state/agent.key" good 27913; }
expect_eq "stamped version 1: NTM8_3 accepted" "$(bp "$h1")" "ack ok ok acked=1 rejections="
expect_eq "stamped version 2: NTM8_3 refused" "$(bp "$h2")" "ack ok ok acked=2 rejections=unknown_indicator"
expect_eq "no stamp: the configured catalog (version 2), refused" "$(bp "")" "ack ok ok acked=3 rejections=unknown_indicator"
expect_eq "a stamp never published: the configured catalog, refused" \
    "$(bp 0123456789abcdef0123456789abcdef)" "ack ok ok acked=4 rejections=unknown_indicator"
rows() { aggq agg "SELECT seq || ':' || status || ':' || coalesce(CAST(meta_version AS TEXT), '-')
                   FROM update_log WHERE org_unit = '$1' ORDER BY seq" | paste -sd ' '; }
expect_eq "update_log.meta_version: 1, 2, none, none" "$(rows 27913)" "1:0:1 2:12:2 3:12:- 4:12:-"
expect_eq "the version 1 value is stored" \
    "$(aggq agg "SELECT value FROM datavalue WHERE org_unit = '27913' AND indicator = 'NTM8_3'")" true

h=$(agg agg history --org-unit 27913 --indicator NTM8_3 --period 2025 --format json)
expect_eq "history --format json names the version of each row" \
    "$(jq -r '[.rows[] | "\(.seq)=\(.metadata_version)"] | join(" ")' <<< "$h")" "1=1 2=2 3=null 4=null"
agg agg history --org-unit 27913 --indicator NTM8_3 --period 2025 > "$T/hist.txt"
check "history text has the metadata_version column" grep -q 'metadata_version' "$T/hist.txt"

# The real agent: version 2 holds its queued value; a rollback to version 1
# releases it, stamped version 1, and the aggregator takes it.
agent_start a1
held_n() { [ "$(json '.held | length')" = "$1" ]; }
check "a1 on version 2 holds the NTM8_3 value" wait_for 15 held_n 1
agent a1 metadata rollback > "$T/rb.out"
check "rollback to version 1" grep -q 'version 1 in use again (was 2)' "$T/rb.out"
arrived() { [ "$(aggq agg "SELECT count(*) FROM update_log WHERE org_unit = '27901'")" -ge 1 ]; }
check "... the value arrives" wait_for 15 arrived
expect_eq "... accepted, checked with version 1" "$(rows 27901)" "1:0:1"
agent_stop a1; agg_stop agg
exit $FAILED
