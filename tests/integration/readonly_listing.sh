#!/bin/bash
# The aggregator's listings (agents, query, rejects) open the database
# read-only, as health does: a monitoring user in the service's group
# (db 0640, dir 0750) runs them beside the daemon, and they never write
# or migrate the database (docs/cli.md, docs/OPERATIONS.md).
. "$(dirname "$0")/lib.sh"
echo "1..11"
agg_init agg
agent_init a1 27901
agg_start agg
agent_start a1
agent a1 submit --org-unit 27901 --indicator TTHC_TONG --period 202401 --value 42 > /dev/null
check "agent syncs a value" wait_for 20 outbox_empty a1

# A monitoring user: uid nobody, in the database's group, no write bit.
chmod 755 "$T" "$T/agg"
db=$(agg_db agg)
chgrp -R 65534 "$T/agg/state"; chmod 750 "$T/agg/state"; chmod 640 "$db"
[ -e "$db-wal" ] && chmod 640 "$db-wal" "$db-shm"
MON="setpriv --reuid=65534 --regid=65534 --clear-groups"
mon() { $MON "$AGG" -c "$T/agg/aggregator.ini" "$@"; }
check "agents as the monitoring user, daemon running" \
    sh -c "$MON '$AGG' -c '$T/agg/aggregator.ini' agents | grep -q a1"
check "query as the monitoring user" \
    sh -c "$MON '$AGG' -c '$T/agg/aggregator.ini' query --indicator TTHC_TONG --format csv | grep -q 42"
expect_eq "rejects as the monitoring user" "$(mon rejects > /dev/null 2>&1; echo $?)" 0

# Daemon stopped: the listings change nothing in the file.
agg_stop agg
sum=$(sha256sum < "$db")
expect_eq "agents, daemon stopped" "$(mon agents > /dev/null 2>&1; echo $?)" 0
expect_eq "query, daemon stopped" "$(mon query > /dev/null 2>&1; echo $?)" 0
expect_eq "rejects, daemon stopped" "$(mon rejects > /dev/null 2>&1; echo $?)" 0
expect_eq "... and the database is unchanged" "$(sha256sum < "$db")" "$sum"

# An older schema is reported, never migrated, even by root.
v=$(sqlq "$db" "PRAGMA user_version;")
sqlite3 "$db" "PRAGMA user_version=$((v - 1));"
"$AGG" -c "$T/agg/aggregator.ini" query > /dev/null 2> "$T/err"
expect_eq "query on an older schema: exit 3" "$?" 3
check "... says so" grep -q "schema is not this program's" "$T/err"
expect_eq "... and does not migrate it" "$(sqlq "$db" "PRAGMA user_version;")" $((v - 1))
