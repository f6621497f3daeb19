#!/bin/bash
# Rejects are bounded on disk: an enrolled key flooding 60 KB messages with
# a bad signature gets each one refused, but past the first
# reject_raw_per_hour (20) the aggregator keeps only a digest of each, so
# the database grows by a few hundred bytes per reject, not by the
# message; `rejects show` says when only the digest is kept; `rejects
# prune` deletes old rows; a good agent keeps syncing meanwhile.
. "$(dirname "$0")/lib.sh"
echo "1..11"
BADPEER=$BUILD/tools/badpeer
agg_init agg
agent_init good 27901
agent_init evil 27913
agg_start agg
agent_start good
db=$(agg_db agg)
SRV=$(cat "$T/agg/pubid")
EVIL=$T/evil/state/agent.key
bp() { "$BADPEER" "$agg_EP" "$SRV" "$EVIL" "$@"; }
# bytes the database holds (pages in use, WAL included)
db_bytes() {
    sqlq "$db" "SELECT (p.page_count - f.freelist_count) * s.page_size FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s;"
}

expect_eq "the first 20 refused and answered" \
    "$(BADPEER_COUNT=20 BADPEER_PAD=60000 bp sigflood 27913)" "flood sent=20 replies=20"
expect_eq "... each with its raw bytes" \
    "$(sqlq "$db" "SELECT count(*) FROM reject WHERE code = 7 AND length(raw) > 60000;")" 20
before=$(db_bytes)
expect_eq "200 more refused and answered" \
    "$(BADPEER_COUNT=200 BADPEER_PAD=60000 bp sigflood 27913)" "flood sent=200 replies=200"
after=$(db_bytes)
per=$(( (after - before) / 200 ))
diag "database: $before -> $after bytes, $per bytes per reject beyond the quota (message: ~60 KB)"
check "growth per reject beyond the quota under 2 KB" [ "$per" -lt 2048 ]
expect_eq "... those keep a digest, size and kind, no raw bytes" \
    "$(sqlq "$db" "SELECT count(*) FROM reject WHERE code = 7 AND raw IS NULL AND raw_size > 60000 AND length(raw_digest) = 32 AND kind = 3;")" 200
agent good submit --org-unit 27901 --indicator TTHC_TONG --period 202501 --value 5 > /dev/null
check "a good agent keeps syncing" wait_for 20 outbox_empty good

id=$(sqlq "$db" "SELECT max(id) FROM reject WHERE raw IS NULL;")
out=$(agg agg rejects show "$id")
diag "$(printf '%s' "$out" | grep raw:)"
check "rejects show says only the digest is kept" \
    sh -c 'printf "%s" "$1" | grep -q "NOT kept, digest only"' _ "$out"
expect_eq "rejects prune --older-than 1d keeps today's rows" \
    "$(agg agg rejects prune --older-than 1d)" "0 reject rows older than 1d deleted"
# reject_retention_days = 0 means kept for ever: no --older-than, nothing
# deleted (it used to read "0d" and delete every row).
expect_eq "rejects prune with retention 0 keeps every row" \
    "$(agg agg rejects prune --reject-retention-days 0):$(sqlq "$db" "SELECT count(*) FROM reject;")" \
    "reject rows kept (reject_retention_days = 0):220"
expect_eq "rejects prune --older-than 0s deletes them" \
    "$(agg agg rejects prune --older-than 0s)" "220 reject rows older than 0s deleted"
out=$(agg agg rejects prune --older-than soon 2>&1); rc=$?
check "a bad age is a usage error" sh -c '[ "$1" = 2 ] && printf "%s" "$2" | grep -q older-than' _ "$rc" "$out"
