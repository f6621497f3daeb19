#!/bin/bash
# Retention (docs/OPERATIONS.md "Retention"): `prune --dry-run` counts what
# is past retention and deletes nothing; `prune` deletes old rejects,
# knocks and health buckets, keeps the recent ones, and never touches the
# update history or the kept batches, also beside a running aggregator.
. "$(dirname "$0")/lib.sh"
echo "1..12"
agg_init agg
echo "reject_retention_days = 30" >> "$T/agg/aggregator.ini"
agent_init good 27901
agg_start agg
agent_start good
db=$(agg_db agg)
agent good submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 5 > /dev/null
check "an update is applied (history to keep)" wait_for 20 outbox_empty good
agent_stop good
agg_stop agg
now=$(date +%s%3N); old=$((now - 40 * 86400000)); B=$((5 * 60 * 1000))
# 3 rejects and a knock 40 days old, one of each now; health buckets of
# two days ago (289) and the current one.
buckets() { aggq agg "
    WITH RECURSIVE s(b) AS (SELECT $(( (now - 3 * 86400000) / B )) UNION ALL SELECT b + 1 FROM s WHERE b < $(( (now - 2 * 86400000) / B )))
    INSERT INTO agent_health_bucket(agent_id, bucket) SELECT 1, b FROM s WHERE true ON CONFLICT DO NOTHING;"; }
aggq agg "
    INSERT INTO reject(at_ms, code, message) VALUES ($old, 3, 'old'), ($old, 3, 'old'), ($old, 3, 'old'), ($now, 3, 'new');
    INSERT INTO knock VALUES ($(blob 01), '10.0.0.1', 2, $old, $old, 4), ($(blob 02), '10.0.0.2', 2, $now, $now, 1);
    INSERT INTO agent_health_bucket(agent_id, bucket) VALUES (1, $((now / B))) ON CONFLICT DO NOTHING;"
buckets
counts() { aggq agg "SELECT (SELECT count(*) FROM reject) || ' ' || (SELECT count(*) FROM knock) || ' ' || (SELECT count(*) FROM agent_health_bucket) || ' ' || (SELECT count(*) FROM update_log) || ' ' || (SELECT count(*) FROM batch);"; }
before=$(counts)
diag "reject knock buckets update_log batch: $before"
out=$(agg agg prune --dry-run); rc=$?
diag "$out"
expect_eq "--dry-run exits 0" "$rc" 0
check "--dry-run counts the 3 old rejects, 1 knock and 289 buckets" sh -c '
    printf "%s" "$1" | grep -q "^reject: 3 rows older than 30d to delete" &&
    printf "%s" "$1" | grep -q "^knock: 1 rows to delete" &&
    printf "%s" "$1" | grep -q "^agent_health_bucket: 289 rows older than a day to delete"' _ "$out"
expect_eq "--dry-run deletes nothing" "$(counts)" "$before"
expect_eq "reject_retention_days 0 keeps rejects (dry run)" \
    "$(agg agg prune --dry-run --reject-retention-days 0 | head -1)" "reject, knock: kept (reject_retention_days = 0)"
out=$(agg agg prune); rc=$?
diag "$out"
expect_eq "prune exits 0" "$rc" 0
check "prune reports what went" sh -c '
    printf "%s" "$1" | grep -q "^reject: 3 rows older than 30d deleted" &&
    printf "%s" "$1" | grep -q "^knock: 1 rows deleted" &&
    printf "%s" "$1" | grep -q "^agent_health_bucket: 289 rows older than a day deleted"' _ "$out"
set -- $before
expect_eq "the recent rows stay, history and batches untouched" "$(counts)" "$(($1 - 3)) $(($2 - 1)) $(($3 - 289)) $4 $5"
check "... and the history is there (one applied update)" [ "$4" -ge 1 -a "$5" -ge 1 ]
buckets
# The log holds the first run's "started" too: wait for a second one (a
# TERM before the daemon installs its handler would end it with 143).
agg_start agg
started_twice() { [ "$(grep -c event=started "$T/agg/log")" -ge 2 ]; }
check "the aggregator is serving" wait_for 10 started_twice
expect_eq "prune beside a running aggregator" \
    "$(agg agg prune | grep agent_health_bucket)" "agent_health_bucket: 289 rows older than a day deleted"
out=$(agg agg prune --older-than soon 2>&1); rc=$?
check "a bad age is a usage error" sh -c '[ "$1" = 2 ] && printf "%s" "$2" | grep -q older-than' _ "$rc" "$out"
agg_stop agg
