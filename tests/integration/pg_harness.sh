#!/bin/bash
# The PostgreSQL test harness (tests/pg/pg.sh) works here, as whoever runs
# the tests (root in CI): a server of Debian's postgresql package starts in
# a temp dir as an unprivileged user on a free 127.0.0.1 port with fsync
# and synchronous_commit on, a database made by pg_url takes a table and a
# row over TCP with the URL's password, and pg_stop leaves no server, port
# or directory behind, nor does a test shell killed with SIGKILL.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"

if ! pg_start; then
    not_ok "pg_start: server ready"
    exit 1
fi
ok "pg_start: server ready on 127.0.0.1:$PG_PORT"
diag "start took ${PG_START_S} s (initdb + start + pg_isready)"
dir=$PG_DIR; port=$PG_PORT
pm=$(head -1 "$dir/data/postmaster.pid")
owner=$(ps -o user= -p "$pm" | tr -d ' ')
check "server runs as an unprivileged user ($owner)" \
    test -n "$owner" -a "$owner" != root
expect_eq "listens on 127.0.0.1 only" \
    "$(ss -Htanl | awk -v p=":$port" '$4 ~ p"$" { print $4 }' | sort -u | tr '\n' ' ')" \
    "127.0.0.1:$port "
expect_eq "fsync and synchronous_commit are on" \
    "$(pg_psql - -tA -c 'SHOW fsync' -c 'SHOW synchronous_commit' | tr '\n' ' ')" \
    "on on "

url=$(pg_url)
case "$url" in
    postgresql://cdsync:*@127.0.0.1:$port/t1) ok "pg_url: a new database's URL" ;;
    *) not_ok "pg_url: a new database's URL (got '$url')" ;;
esac
check "psql over TCP: create table, insert" \
    pg_psql "$url" -c "CREATE TABLE kv (k bigint PRIMARY KEY, v text NOT NULL)" \
        -c "INSERT INTO kv VALUES (42, 'forty-two')"
expect_eq "the row reads back" \
    "$(pg_psql "$url" -tA -c 'SELECT v FROM kv WHERE k = 42')" forty-two
bad=$(echo "$url" | sed 's|cdsync:[0-9a-f]*@|cdsync:wrong@|')
if pg_psql "$bad" -c 'SELECT 1' > "$T/bad.out" 2>&1; then
    not_ok "a wrong password is refused"
else
    check "a wrong password is refused" grep -q 'password authentication failed' "$T/bad.out"
fi
url2=$(pg_url)
expect_eq "a second pg_url names another database" "${url2##*/}" t2
expect_eq "a second pg_url is another, empty database" \
    "$(pg_psql "$url2" -tA -c "SELECT count(*) FROM pg_tables WHERE tablename = 'kv'")" 0

pg_stop
diag "stop took ${PG_STOP_S} s (fast shutdown + rm)"
check "pg_stop: postmaster gone" wait_for 10 sh -c "! kill -0 $pm"
check "pg_stop: port free" sh -c "! ss -Htanl | grep -q ':$port '"
check "pg_stop: directory removed" test ! -e "$dir"

# A test shell killed with SIGKILL runs no trap: the watchdog stops it.
cat > "$T/killed.sh" <<EOF
. "$TOP/tests/pg/pg.sh"
pg_start || exit 1
echo "\$PG_DIR \$PG_PORT \$(head -1 "\$PG_DIR/data/postmaster.pid")" > "$T/killed.out"
kill -9 \$\$
EOF
{ bash "$T/killed.sh" 2>> "$T/killed.err"; } 2> /dev/null  # "Killed" notice
read -r kdir kport kpm < "$T/killed.out" || true
if [ -n "${kpm:-}" ]; then
    check "SIGKILLed test shell: its server stops" wait_for 20 sh -c "! kill -0 $kpm"
    check "SIGKILLed test shell: port free, directory removed" \
        wait_for 10 sh -c "! ss -Htanl | grep -q ':$kport ' && test ! -e '$kdir'"
else
    not_ok "SIGKILLed test shell: server had started"; cat "$T/killed.err"
fi
echo "1..$TESTNO"
