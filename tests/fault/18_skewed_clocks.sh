#!/bin/bash
# Scenario 18: skewed agent clocks (docs/DESIGN.md "Clock skew"). Four
# agents of one commune, daemons and imports under libfaketime at -2 h,
# +2 h, on time and +1 day, rewrite overlapping keys round after round
# while the aggregator (odd rounds) or an agent (even rounds) is killed
# (-9) at a random moment of the delivery.
# Each round writes a key at most once, by an agent chosen in turn, and
# starts after the previous one drained: "entered last in real order" is
# then the last round that wrote the key. Required: nothing lost or
# duplicated (checker), the table equals the replay by effective stamps
# (checker) AND holds, for every key, the value entered last in real
# order; verify is clean.
. "$(dirname "$0")/lib.sh"
[ -n "$FT_LIB" ] || { not_ok "libfaketime missing (deploy/deps.sh)"; exit 1; }
OU=27919
ROUNDS=$((6 * FAULT_SCALE)); KEYS=$((60 * FAULT_SCALE))
OFFS=(-2h +2h +0 +1d)
agg_init agg
for i in 1 2 3 4; do fagent_init "a$i" $OU || not_ok "init a$i"; done
agg_start agg
for i in 1 2 3 4; do ft_agent_start "a$i" "${OFFS[$((i - 1))]}"; done
# csv ROUND AGENT_INDEX: the keys agent i writes in round r: key k when
# (k + r) % 3 != 0 (two thirds of the keys each round) and (k + r) % 4 ==
# i - 1; value r * 10000 + k.
csv() {
    awk -v r="$1" -v i="$2" -v n="$KEYS" -v ou=$OU 'BEGIN {
        print "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup,deleted";
        for (k = 0; k < n; k++)
            if ((k + r) % 3 != 0 && (k + r) % 4 == i - 1)
                printf "TTHC_TONG,%d%02d,%s,,,%d,gen,,,false,false\n",
                       1900 + int(k / 12), k % 12 + 1, ou, r * 10000 + k;
    }'
}
# import under the agent's clock, recorded for the checker (fimport)
ft_fimport() {
    local out r rc
    out=$(ft "$2" "$AGENT" -c "$T/$1/agent.ini" import "$3" 2>"$T/$1.import.err"); rc=$?
    r=$(echo "$out" | sed -n 's/^queued [0-9]* updates (seq \([0-9]*\)\.\.\([0-9]*\))$/\1 \2/p')
    [ "$rc" = 0 ] && [ -n "$r" ] && echo "$1 $r" >> "$T/cli_acked"
    return $rc
}
for r in $(seq 1 "$ROUNDS"); do
    for i in 1 2 3 4; do
        csv "$r" "$i" > "$T/a$i-$r.csv"
        ft_fimport "a$i" "${OFFS[$((i - 1))]}" "$T/a$i-$r.csv" > /dev/null || not_ok "import a$i round $r"
    done
    sleep "0.$(rnd 3)$(rnd 10)"          # a random moment during delivery
    if [ $((r % 2)) = 1 ]; then
        agg_kill9 agg; fault "aggregator kill -9 in round $r"; agg_start agg
    else
        i=$((1 + $(rnd 4))); agent_kill9 "a$i"
        fault "a$i (clock ${OFFS[$((i - 1))]}) kill -9 in round $r"
        ft_agent_start "a$i" "${OFFS[$((i - 1))]}"
    fi
    check "round $r drains" wait_for 60 drained_all
done
# Expected: per key, the value of the last round that wrote it.
awk -v n="$KEYS" -v R="$ROUNDS" 'BEGIN {
    for (k = 0; k < n; k++)
        for (r = R; r >= 1; r--)
            if ((k + r) % 3 != 0) {
                printf "%d%02d|%d\n", 1900 + int(k / 12), k % 12 + 1, r * 10000 + k;
                break
            }
}' | sort > "$T/expected.txt"
aggq agg "SELECT period, value FROM datavalue WHERE indicator = 'TTHC_TONG' AND CAST(deleted AS INTEGER) = 0 ORDER BY period;" \
    | sort > "$T/table.txt"
wrong=$(comm -3 "$T/expected.txt" "$T/table.txt" | wc -l)
[ "$wrong" = 0 ] || comm -3 "$T/expected.txt" "$T/table.txt" | head -5 | sed 's/^/# expected|table: /'
expect_eq "every key holds the value entered last in real order ($KEYS keys, $ROUNDS rounds)" "$wrong" 0
expect_eq "nothing refused for its clock" \
    "$(aggq agg "SELECT count(*) FROM update_log WHERE status != 0;")" 0
agg agg verify > "$T/verify.txt" 2>&1; rc=$?
expect_eq "verify accepts the effective stamps" "$rc" 0
finish "skewed clocks: no loss, no duplicate, table = effective-stamp replay"
