#!/bin/bash
# Upgrades back up first (docs/OPERATIONS.md "Upgrades"): the first
# read-write open of a database written at an older schema (`run`,
# `enroll`, ...) writes a full backup set beside it, <db>.pre-vN, before
# migrating; when that backup cannot be written the program refuses and
# the database stays at its old schema; a database already current gets no
# new copy; the set restores to the old schema (the way back to the old
# program). The older database is made by tests/tools/olddb: this
# program's first N-1 migrations, as the previous version left it.
. "$(dirname "$0")/lib.sh"
echo "1..12"
OLDDB=$BUILD/tools/olddb
N=$("$OLDDB" 2>&1 | sed -n 's/.*(1\.\.\([0-9]*\)).*/\1/p')
diag "this program's schema version: $N"
agg_init agg
db=$(agg_db agg)
mkdir -p "$(dirname "$db")"
check "an older database is made" "$OLDDB" "$db" $((N - 1))
ver() { sqlq "$1" "PRAGMA user_version;"; }

# The backup cannot be written (a directory is in its way): no migration.
mkdir "$db.pre-v$N"
agent_init a1 27928 2> "$T/enroll.err"; rc=$?
check "enroll refuses when the backup before the upgrade fails" [ "$rc" != 0 ]
check "... saying why" grep -q "schema upgrade refused: the backup before it failed" "$T/enroll.err"
expect_eq "... and the database keeps its old schema" "$(ver "$db")" $((N - 1))
rmdir "$db.pre-v$N"

# The upgrade: backup set first, then the migration.
check "enroll on the older database succeeds" \
    agg agg enroll "$(cat "$T/a1/pubid")" --org-unit 27928 --label a1
expect_eq "the database is migrated" "$(ver "$db")" "$N"
check "a backup set was written before" \
    test -s "$db.pre-v$N" -a -s "$db.pre-v$N.identity" -a -s "$db.pre-v$N.catalog.csv" -a -s "$db.pre-v$N.manifest"
expect_eq "... holding the database at its old schema" "$(ver "$db.pre-v$N")" $((N - 1))
check "... and its manifest says so" grep -qx "schema_version=$((N - 1))" "$db.pre-v$N.manifest"

# Current database: served, no new copy at the next start.
before=$(stat -c %Y.%s "$db.pre-v$N.manifest")
agg_start agg; agent_start a1
gen_csv "$T/u.csv" 27928 20 0 0; agent a1 import "$T/u.csv" > /dev/null
check "agents sync on the upgraded database" wait_for 60 outbox_empty a1
agent_stop a1; agg_stop agg
expect_eq "no second backup for a current database" \
    "$(stat -c %Y.%s "$db.pre-v$N.manifest") $(ls "$(dirname "$db")" | grep -c '\.pre-v[0-9]*$')" "$before 1"

# The way back: the set restores the old schema for the old program.
agg agg restore "$db.pre-v$N" > "$T/restore.out" 2>&1
expect_eq "restore of the pre-upgrade set puts the old schema back" "$?:$(ver "$db")" "0:$((N - 1))"
