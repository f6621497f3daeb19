#!/bin/bash
# Paired runs of `make bench` rows on two builds (issue 14: "the SQLite
# figures must not regress (paired runs)"). The machine is shared and its
# load drifts by more than the differences we look for, so the two builds
# run interleaved, A B A B ..., each run the same bench.sh (this tree's)
# with only BUILD changed: drift falls on both sides alike, and each pair's
# ratio B/A is taken minutes apart.
#
#   bash tests/bench/paired.sh BUILD_A BUILD_B [PAIRS]     (default 3 pairs)
#
#   BENCH_ONLY   phases run (default "limits e2e"); BENCH_PG default 0
#                (the SQLite rows; 1 adds the PostgreSQL ones)
#   BENCH_REPS   runs per figure inside each bench run (default 1)
#   PAIRED_ROWS  rows compared (default "1a 1b 2-1 2-10 2-100")
#   PAIRED_OUT   directory keeping every run's table (default: a temp dir,
#                removed)
#   BENCH_SCALE, BENCH_TMP, ...: passed to bench.sh as they are.
#
# Prints, per row: the median of A's runs, of B's, and the median, lowest
# and highest of the per-pair ratios B/A (for a rate, < 1 means B is
# slower), then every run's figure. BUILD_A/B are build directories holding
# cdsync-agent, cdsync-aggregator and bench/ (make all-tests in each tree).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: paired.sh BUILD_A BUILD_B [PAIRS]" >&2; exit 2; }
A=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
PAIRS=${3:-3}
case "$PAIRS" in '' | *[!0-9]*) echo "paired.sh: PAIRS '$PAIRS' is not a number" >&2; exit 2 ;; esac
ROWS=${PAIRED_ROWS:-1a 1b 2-1 2-10 2-100}
OUT=${PAIRED_OUT:-}
if [ -z "$OUT" ]; then
    OUT=$(mktemp -d "${BENCH_TMP:-/tmp}/cdsync-paired.XXXXXX") || exit 2
    trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT" || exit 2
# bash reads a script as it runs it: an edit of bench.sh during the ~30
# minutes of a paired run would break the run in progress. Every run uses
# a copy taken now (bench.sh finds pg.sh and ports.sh beside it, under
# tests/).
mkdir -p "$OUT/tree/tests/bench" "$OUT/tree/tests/pg" \
    && cp "$TOP/tests/bench/bench.sh" "$OUT/tree/tests/bench/" \
    && cp "$TOP/tests/pg/pg.sh" "$OUT/tree/tests/pg/" \
    && cp "$TOP/tests/ports.sh" "$OUT/tree/tests/" || exit 2

# run SIDE I BUILD: one bench run; its rows in $OUT/SIDE.I.tsv.
run() {
    echo "paired: run $2 of $PAIRS, $1 ($3), $(date -u +%H:%M:%S)" >&2
    BUILD=$3 BENCH_ONLY=${BENCH_ONLY:-limits e2e} BENCH_PG=${BENCH_PG:-0} \
        BENCH_REPS=${BENCH_REPS:-1} BENCH_OUT=$OUT/$1.$2 \
        bash "$OUT/tree/tests/bench/bench.sh" > /dev/null 2> "$OUT/$1.$2.log" \
        || echo "paired: run $1.$2 failed, see $OUT/$1.$2.log" >&2
}
for i in $(seq 1 "$PAIRS"); do run A "$i" "$A"; run B "$i" "$B"; done

echo "A = $A"
echo "B = $B"
echo "$PAIRS pairs, interleaved A B; BENCH_ONLY=${BENCH_ONLY:-limits e2e} BENCH_SCALE=${BENCH_SCALE:-1} BENCH_REPS=${BENCH_REPS:-1}"
for id in $ROWS; do
    for i in $(seq 1 "$PAIRS"); do
        a=$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$OUT/A.$i.tsv" 2>/dev/null)
        b=$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$OUT/B.$i.tsv" 2>/dev/null)
        echo "$id ${a:-FAIL} ${b:-FAIL}"
    done
done | awk '
    function med(s,   n, v, i, j, t) {
        n = split(s, v, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j] + 0 < v[j - 1] + 0; j--) {
            t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        if (n == 0) return "FAIL"
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    function num(x) { return x ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ }
    { if (!($1 in seen)) { seen[$1] = 1; order[++nid] = $1 }
      runs[$1] = runs[$1] " " $2 "/" $3
      if (num($2)) as[$1] = as[$1] " " $2
      if (num($3)) bs[$1] = bs[$1] " " $3
      if (num($2) && num($3) && $2 != 0) {
          r = $3 / $2; rs[$1] = rs[$1] " " r
          if (!($1 in lo) || r < lo[$1]) lo[$1] = r
          if (!($1 in hi) || r > hi[$1]) hi[$1] = r } }
    END {
        printf "%-8s %12s %12s %9s %9s %9s   %s\n", "row", "A median", "B median",
            "B/A med", "B/A min", "B/A max", "runs A/B"
        for (k = 1; k <= nid; k++) { id = order[k]
            printf "%-8s %12s %12s %9s %9s %9s  %s\n", id, med(as[id]), med(bs[id]),
                (id in lo) ? sprintf("%.3f", med(rs[id])) : "FAIL",
                (id in lo) ? sprintf("%.3f", lo[id]) : "-",
                (id in hi) ? sprintf("%.3f", hi[id]) : "-", runs[id] } }'
