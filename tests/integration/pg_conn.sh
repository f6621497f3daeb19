#!/bin/bash
# common/cds_pg (the PostgreSQL connection layer) against a real server of
# the harness (tests/pg/pg.sh), through tests/tools/pgcheck: migrations
# are applied once and are idempotent, a newer schema is refused, the
# prepared upsert round-trips text, bytea and bigint, errors are classified
# (unique violation: permanent; killed backend: retry, then reconnect
# works), a server or session that would not make COMMIT durable is
# refused, and no log line shows the password.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"
PGC=$BUILD/tools/pgcheck
# pgc ARGS...: pgcheck, with a non-zero exit (crash, sanitizer report)
# appended to its output so the comparison fails.
pgc() { local rc; "$PGC" "$@"; rc=$?; [ "$rc" = 0 ] || echo " exit=$rc"; }

pg_start || { not_ok "pg_start"; exit 1; }
url=$(pg_url)
pw=$PG_PASS

# --- migrations ---
expect_eq "first connect migrates to version 2" \
    "$(pgc migrate "$url" 2> "$T/m1.err")" version=2
expect_eq "  both migrations logged" "$(grep -c 'event=pg_migrated' "$T/m1.err")" 2
expect_eq "second connect: same version" \
    "$(pgc migrate "$url" 2> "$T/m2.err")" version=2
expect_eq "  and nothing migrated again" "$(grep -c 'event=pg_migrated' "$T/m2.err")" 0
expect_eq "schema_version table holds 2" \
    "$(pg_psql "$url" -tA -c 'SELECT version FROM schema_version')" 2

# --- prepared upsert ---
expect_eq "prepared upsert: 2,500 rows twice, values of the 2nd pass, bytea/int8 exact" \
    "$(pgc upsert "$url" 2500 2> "$T/up.err")" \
    "rows=2500 sum=$(( 2 * 2500 * 2499 / 2 - 5 * 2500 )) readback=ok"

# --- errors ---
expect_eq "unique violation: permanent error with its SQLSTATE" \
    "$(pgc unique "$url" 2> "$T/uq.err")" \
    "unique error=internal sqlstate=23505 retry=no"
check "  logged with the URL without its password" \
    sh -c "grep -q 'event=pg_error.*sqlstate=23505' '$T/uq.err' && ! grep -q '$pw' '$T/uq.err'"

mkfifo "$T/go"
"$PGC" killed "$url" < "$T/go" > "$T/kill.out" 2> "$T/kill.err" &
kpid=$!; PIDS="$PIDS $kpid"
exec 3> "$T/go"
if wait_for 10 grep -q '^pid=' "$T/kill.out"; then
    bpid=$(sed -n 's/^pid=//p' "$T/kill.out")
    expect_eq "pg_terminate_backend from psql" \
        "$(pg_psql - -tA -c "SELECT pg_terminate_backend($bpid)")" t
else
    not_ok "pgcheck killed printed its backend pid"; cat "$T/kill.err"
fi
echo go >&3; exec 3>&-
wait "$kpid"; expect_eq "pgcheck killed exits 0" "$?" 0
expect_eq "killed connection: retry (busy)" \
    "$(grep '^after_kill' "$T/kill.out" | sed 's/sqlstate=[0-9A-Z]*/sqlstate=S/')" \
    "after_kill error=busy sqlstate=S retry=yes"
expect_eq "  reconnect restores the connection and its prepared statement" \
    "$(grep '^reconnect' "$T/kill.out")" reconnect=ok

# --- durability ---
expect_eq "SET synchronous_commit = off in the session: BEGIN refused" \
    "$(pgc setoff "$url" 2> "$T/so.err")" \
    "begin error=usage sqlstate= retry=no"
check "  logged as pg_not_durable" grep -q 'event=pg_not_durable.*synchronous_commit=off' "$T/so.err"
db=${url##*/}
pg_psql - -c "ALTER DATABASE $db SET synchronous_commit = off"
expect_eq "database with synchronous_commit = off: connect refused" \
    "$(pgc migrate "$url" 2> "$T/off.err")" \
    "connect error=usage sqlstate= retry=no"
pg_psql - -c "ALTER DATABASE $db SET synchronous_commit = local"
expect_eq "  = local refused too (a sync standby may lack acked rows)" \
    "$(pgc migrate "$url" 2>/dev/null)" "connect error=usage sqlstate= retry=no"
pg_psql - -c "ALTER DATABASE $db RESET synchronous_commit"
expect_eq "  reset: accepted again" "$(pgc migrate "$url" 2>/dev/null)" version=2

pg_psql "$url" -c "UPDATE schema_version SET version = 3"
expect_eq "database newer than the program: refused" \
    "$(pgc migrate "$url" 2> "$T/new.err")" \
    "connect error=bad_version sqlstate= retry=no"

# --- connecting ---
bad=$(echo "$url" | sed "s|:$pw@|:wrong-$pw-x@|")
expect_eq "wrong password: permissions, not retried" \
    "$(pgc migrate "$bad" 2> "$T/pw.err")" \
    "connect error=permissions sqlstate= retry=no"
check "  the message names the URL without the password" \
    sh -c "grep -q 'url=postgresql://cdsync:\*\*\*@127.0.0.1:$PG_PORT/' '$T/pw.err' && ! grep -q '$pw' '$T/pw.err'"
port=$(pg_free_port)
expect_eq "no server on the port: busy (retry)" \
    "$(pgc migrate "postgresql://cdsync:$pw@127.0.0.1:$port/x" 2>/dev/null)" \
    "connect error=busy sqlstate= retry=yes"
expect_eq "a URL that does not parse: usage" \
    "$(pgc migrate "postgresql://cdsync:$pw@127.0.0.1:$PG_PORT/x?nosuch=1" 2> "$T/parse.err")" \
    "connect error=usage sqlstate= retry=no"
check "  without echoing the password" sh -c "! grep -q '$pw' '$T/parse.err'"
expect_eq "a bad port number: usage, not retried" \
    "$(pgc migrate "postgresql://cdsync:$pw@127.0.0.1:notaport/x" 2>/dev/null)" \
    "connect error=usage sqlstate= retry=no"
expect_eq "a database that does not exist: permissions (password accepted, login refused)" \
    "$(pgc migrate "${url%/*}/nosuchdb" 2>/dev/null)" \
    "connect error=permissions sqlstate= retry=no"
expect_eq "redact: userinfo and password= parameters" \
    "$(pgc redact "postgresql://u:s3cret@h:5/d?sslmode=require&password=s3cret")" \
    "postgresql://u:***@h:5/d?sslmode=require&password=***"
expect_eq "redact: key=value form, quoted" \
    "$(pgc redact "host=h password = 'a b' user=u")" "host=h password = *** user=u"

pg_stop
echo "1..$TESTNO"
