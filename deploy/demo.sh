#!/bin/bash
# make demo: Đức Huệ district (Long An), one aggregator and one agent per
# commune on 127.0.0.1. Enrols them, submits realistic values for recent
# periods, cuts one commune's link while it keeps submitting, restores it so
# it catches up (meanwhile: who has not reported and whom to call), then
# prints the consolidated district table, completeness
# by data set, the ranking against targets, the data-quality check, one
# commune of the 2025 merger across the year, and every agent's queue
# state. Leaves no process behind. Runs in well under a minute.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
AGENT=$BUILD/cdsync-agent
AGG=$BUILD/cdsync-aggregator
PROXY=$BUILD/tools/linkproxy
D=$(mktemp -d /tmp/cdsync-demo.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { # a loopback port nobody listens on
    p=$((30000 + ($$ + $1 * 7919) % 20000))
    while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
    echo $p
}
wait_for() { # SECONDS CMD...: poll every 100 ms until a deadline
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
depth() { sqlite3 "$D/$1/state/agent.db" "SELECT count(*) FROM outbox;" 2>/dev/null; }
drained() { [ "$(depth "$1")" = 0 ]; }

COMMUNES="27898 27901 27904 27907 27910 27913 27916 27919 27922 27925 27928"
CUT=27910      # Xã Mỹ Thạnh Tây: its line goes down during the demo
PORT=$(free_port 1)
PPORT=$(free_port 2)

say "Aggregator for Huyện Đức Huệ (801) on tcp://127.0.0.1:$PORT"
mkdir -p "$D/agg"
cat > "$D/agg/aggregator.ini" <<INI
[aggregator]
state_dir = $D/agg/state
catalog = $TOP/deploy/catalog.csv
orgunits = $TOP/deploy/orgunits.csv
listen = tcp://127.0.0.1:$PORT
log_level = warn
INI
A() { "$AGG" -c "$D/agg/aggregator.ini" "$@"; }
A keygen --label "Huyện Đức Huệ" > "$D/agg/pubid" || exit 1
"$AGG" -c "$D/agg/aggregator.ini" run 2>> "$D/agg/log" & AGG_PID=$!; PIDS="$PIDS $AGG_PID"
# Our aggregator itself listening: another program may have taken the
# port since free_port looked, and then the aggregator exits.
if ! wait_for 10 eval 'ss -Hltnp "sport = :$PORT" | grep -q "pid=$AGG_PID,"'; then
    echo "demo: the aggregator is not listening on 127.0.0.1:$PORT; its log:" >&2
    sed 's/^/  /' "$D/agg/log" >&2
    exit 1
fi
"$PROXY" "$PPORT" "$PORT" > "$D/proxy.out" 2>> "$D/proxy.log" & PROXY_PID=$!; PIDS="$PIDS $PROXY_PID"
wait_for 5 grep -q ready "$D/proxy.out" || { echo "demo: link proxy did not start" >&2; exit 1; }

say "Enrolling one agent per commune"
for c in $COMMUNES; do
    mkdir -p "$D/$c"
    ep=tcp://127.0.0.1:$PORT
    [ "$c" = "$CUT" ] && ep=tcp://127.0.0.1:$PPORT    # this one goes through the cuttable link
    cat > "$D/$c/agent.ini" <<INI
[agent]
state_dir = $D/$c/state
catalog = $TOP/deploy/catalog.csv
org_units = $c
server = $ep
server_key = $(cat "$D/agg/pubid")
backoff_max_ms = 1000
ack_timeout_ms = 2000
stored_by = can.bo.$c
log_level = warn
INI
    "$AGENT" -c "$D/$c/agent.ini" keygen --label "$c" > "$D/$c/pubid" || exit 1
    A enroll "$(cat "$D/$c/pubid")" --org-unit "$c" --label "$c" | sed 's/^/  /'
    "$AGENT" -c "$D/$c/agent.ini" run 2>> "$D/$c/log" & PIDS="$PIDS $!"
done

# Deterministic, realistic figures per commune (Long An 2023: fibre ~89 %,
# online filing ~96 %; communes of 1,500-4,500 households; 5-12 community
# digital-technology teams of 4-6 members).
values() { # commune period-quarter -> DHIS2 CSV rows
    awk -v c="$1" -v q="$2" -v y="$3" 'BEGIN {
        srand(c * 31 + q);
        hh = 1500 + int(rand() * 3000); fib = int(hh * (0.80 + rand() * 0.15));
        teams = 5 + int(rand() * 8); mem = teams * (4 + int(rand() * 3));
        ad = int(hh * 2.6); dd = int(ad * (0.90 + rand() * 0.09));
        print "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup,deleted";
        printf "HGD_TONG,%dQ%d,%s,,,%d,,,,,\n", y, q, c, hh;
        printf "HGD_CAPQUANG_SO,%dQ%d,%s,,,%d,,,,,\n", y, q, c, fib;
        printf "HGD_CAPQUANG,%dQ%d,%s,,,%.1f,,,,,\n", y, q, c, 100 * fib / hh;
        printf "TO_CNSCD,%dQ%d,%s,,,%d,,,,,\n", y, q, c, teams;
        printf "TO_CNSCD_TV,%dQ%d,%s,,,%d,,,,,\n", y, q, c, mem;
        printf "NTM8_4,%d,%s,,,%s,,,,,\n", y - 1, c, rand() < 0.9 ? "true" : "false";
    }'
}
say "Communes submit 2025 Q1 figures and the 2024 criterion 8.4 (DHIS2 CSV import)"
for c in $COMMUNES; do
    values "$c" 1 2025 > "$D/$c/q1.csv"
    values "$c" 2 2025 | grep -v '^NTM8_4' > "$D/$c/q2.csv"
    "$AGENT" -c "$D/$c/agent.ini" import "$D/$c/q1.csv" | sed "s/^/  $c: /"
done
for c in $COMMUNES; do wait_for 20 drained "$c"; done

say "The line to $CUT (Xã Mỹ Thạnh Tây) goes down; the officer keeps working"
kill -USR1 "$PROXY_PID"
for c in $COMMUNES; do
    "$AGENT" -c "$D/$c/agent.ini" import "$D/$c/q2.csv" > /dev/null
done
"$AGENT" -c "$D/$CUT/agent.ini" submit --org-unit $CUT --indicator TO_CNSCD \
    --period 2025Q2 --value 9 --comment "Thêm tổ ấp 4" | sed "s/^/  $CUT: /"
for c in $COMMUNES; do [ "$c" = "$CUT" ] || wait_for 20 drained "$c"; done
echo "  $CUT queue while offline: $(depth $CUT) updates waiting"
"$AGENT" -c "$D/$CUT/agent.ini" status | sed 's/^/  | /'

say "District table while $CUT is offline (2025Q2)"
A query --org-unit 801 --period 2025Q2 --wide --indicator HGD_TONG --indicator HGD_CAPQUANG_SO \
    --indicator HGD_CAPQUANG --indicator TO_CNSCD --indicator TO_CNSCD_TV

say "Who has not reported 2025Q2 yet, and whom to call (deploy/contacts.csv)"
A completeness --org-unit 801 --period 2025Q2 | grep -v '  complete  '

say "Line restored: $CUT catches up"
kill -USR2 "$PROXY_PID"
t0=$(date +%s%N)
wait_for 30 drained $CUT && echo "  caught up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

say "Consolidated district table, 2025Q2 (communes × indicators, with completeness)"
A query --org-unit 801 --period 2025Q2 --wide --indicator HGD_TONG --indicator HGD_CAPQUANG_SO \
    --indicator HGD_CAPQUANG --indicator TO_CNSCD --indicator TO_CNSCD_TV

say "Communes ranked by fibre households against the 2025 target (QĐ 411/QĐ-TTg: 80 %, deploy/targets.csv)"
A rank --org-unit 801 --indicator HGD_CAPQUANG --period 2025Q2
say "Data-quality check, 2025Q2: rules, entered shares vs their counts, outliers (docs/ADMIN.md)"
A validate --org-unit 801 --period 2025Q2 || echo "  (exit $?: violations to follow up)"

say "Completeness by data set, 2025Q2 (deploy/datasets.csv: what each commune owes)"
A completeness --org-unit 801 --period 2025Q2

# The 2025 reform (NQ 1682/NQ-UBTVQH15): from 1 July 2025 Xã Đông Thành
# (27898-2025) replaces TT Đông Thành, Mỹ Thạnh Tây, Mỹ Thạnh Đông and Mỹ
# Bình (deploy/orgunit_map.csv). Its new machine reports 2025Q3.
NEW=27898-2025
say "The merger: Xã Đông Thành ($NEW) reports 2025Q3 from its own machine"
mkdir -p "$D/$NEW"
sed -e "s|$D/27898/|$D/$NEW/|" -e "s|^org_units = .*|org_units = $NEW|" \
    -e "s|^stored_by = .*|stored_by = can.bo.$NEW|" "$D/27898/agent.ini" > "$D/$NEW/agent.ini"
"$AGENT" -c "$D/$NEW/agent.ini" keygen --label "$NEW" > "$D/$NEW/pubid" || exit 1
A enroll "$(cat "$D/$NEW/pubid")" --org-unit "$NEW" --label "$NEW" | sed 's/^/  /'
"$AGENT" -c "$D/$NEW/agent.ini" run 2>> "$D/$NEW/log" & PIDS="$PIDS $!"
values 27898 3 2025 | grep -v '^NTM8_4' | sed "s/,27898,/,$NEW,/" > "$D/$NEW/q3.csv"
"$AGENT" -c "$D/$NEW/agent.ini" import "$D/$NEW/q3.csv" | sed "s/^/  $NEW: /"
echo "  a value for a commune after it was merged is refused at entry:"
"$AGENT" -c "$D/27910/agent.ini" submit --org-unit 27910 --indicator TO_CNSCD \
    --period 2025Q3 --value 3 2>&1 | sed 's/^/  | /'
wait_for 20 drained "$NEW"
say "$NEW before it existed (2025Q2): its four predecessors and their total"
A query --org-unit "$NEW" --period 2025Q2 --wide --indicator HGD_TONG --indicator HGD_CAPQUANG_SO
say "$NEW over 2025 (docs/ORGUNITS.md: no commune counted twice across the merger)"
A rollup --org-unit "$NEW" --period 2025 --indicator HGD_TONG --indicator TO_CNSCD
COMMUNES="$COMMUNES $NEW"

say "Per-agent queue state"
printf '  %-10s %-8s %-12s %7s %9s  %s\n' commune daemon connection pending acked_seq "last receipt (UTC)"
for c in $COMMUNES; do
    "$AGENT" -c "$D/$c/agent.ini" status --json > "$D/$c/status.json" 2>/dev/null
    jq -r --arg c "$c" '[$c, (if .running then "running" else "stopped" end), .state,
        .queue.depth, .acked_seq,
        (if .last_ack_at_ms > 0 then (.last_ack_at_ms / 1000 | floor | todate) else "-" end)]
        | @tsv' "$D/$c/status.json" | awk -F'\t' '{ printf "  %-10s %-8s %-12s %7s %9s  %s\n", $1, $2, $3, $4, $5, $6 }'
done
queued=0
for c in $COMMUNES; do queued=$((queued + $(jq .last_seq "$D/$c/status.json"))); done
stored=$(sqlite3 "$D/agg/state/aggregator.db" "SELECT count(*) || ' ' || count(DISTINCT agent_id || ':' || seq) FROM update_log WHERE status = 0;")
if [ "$stored" = "$queued $queued" ]; then
    say "Done: all $queued updates queued by the communes are in the district's history, each exactly once"
else
    echo "demo: communes queued $queued updates, the district history holds (total distinct) $stored" >&2
    exit 1
fi
