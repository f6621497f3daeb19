#!/bin/bash
# The real daemon on a PostgreSQL store (`store = postgresql://...` in
# aggregator.ini, docs/POSTGRESQL.md), an agent syncing over TCP on
# 127.0.0.1: --check-config accepts the server (and names an unreachable
# one, and one whose COMMIT is not durable), the schema is created on
# first use, submitted values are acked (outbox empty) and `query` shows
# them, a restart of the daemon keeps them and takes new ones, every
# update is in the history exactly once, and no log line or message shows
# the password. Independent of the harness's pg mode: the server comes
# from tests/pg/pg.sh and the ini line is written here.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/pg/pg.sh"
echo "1..15"
pg_start || { not_ok "pg_start"; exit 1; }
trap 'cleanup; pg_stop' EXIT
url=$(pg_url)
pgq() { pg_psql "$url" -At -F'|' -c "$1"; }
port=$(free_port)
agg_init agg "tcp://127.0.0.1:$port"
echo "store = $url" >> "$T/agg/aggregator.ini"

out=$(agg agg --check-config 2>&1); rc=$?
diag "$out"
expect_eq "--check-config accepts the reachable, durable server" "$rc" 0
bad=$(echo "$url" | sed "s/:$PG_PORT\//:1\//")
out=$(agg agg --store "$bad" --check-config 2>&1); rc=$?
diag "$out"
check "  and names an unreachable one, exit 3" \
    sh -c '[ "$1" = 3 ] && echo "$2" | grep -q "aggregator.store: .*unreachable"' _ "$rc" "$out"

out=$(agg agg --group-max 100 --check-config 2>&1); rc=$?
check "  and a group_max over 64 with it (subtransaction cache), exit 3" \
    sh -c '[ "$1" = 3 ] && echo "$2" | grep -q "aggregator.group_max: 100: over 64"' _ "$rc" "$out"
url2=$(pg_url nodurable)
pg_psql - -c "ALTER DATABASE nodurable SET synchronous_commit = off" > /dev/null
out=$(agg agg --store "$url2" --check-config 2>&1); rc=$?
diag "$out"
check "  and a server that does not make COMMIT durable, exit 3" \
    sh -c '[ "$1" = 3 ] && echo "$2" | grep -q "aggregator.store: .*synchronous_commit"' _ "$rc" "$out"

agent_init a1 27901
expect_eq "enroll created the schema on the server (ten migrations: schema, follow-up log, accounts, metadata versions, agents' metadata version, approval, update_log.meta_version, source times, narrower datavalue, push-dhis2 log)" \
    "$(pgq 'SELECT version FROM schema_version')" 10
agg_start agg
agent_start a1
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null &&
agent a1 submit --org-unit 27901 --indicator HGD_CAPQUANG_SO --period 2025Q2 --value 1850 > /dev/null
check "two submits accepted" [ $? = 0 ]
check "acked: the agent's outbox drains" wait_for 30 outbox_empty a1
expect_eq "the values are in datavalue on the server" \
    "$(pgq "SELECT count(*) FROM datavalue WHERE org_unit = '27901'")" 2
out=$(agg agg query --org-unit 27901 --format csv 2>&1)
diag "$out"
expect_eq "query shows them" \
    "$(printf '%s\n' "$out" | grep -c '^27901,.*,TO_CNSCD,.*,7,')" 1

agg_stop agg
agg_start agg
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 8 > /dev/null
check "after a restart a new value is acked" wait_for 30 outbox_empty a1
out=$(agg agg query --org-unit 27901 --format csv 2>&1)
expect_eq "  and is the current one" \
    "$(printf '%s\n' "$out" | grep -c '^27901,.*,TO_CNSCD,.*,8,')" 1
expect_eq "history holds every update exactly once" \
    "$(pgq "SELECT count(*), count(DISTINCT (agent_id, seq)) FROM update_log")" "3|3"
expect_eq "the agent's applied seq is its last" \
    "$(pgq "SELECT max(applied_seq) FROM agent")" 3
check "the daemon is still running" kill -0 "$agg_PID"
agg_stop agg
check "no log line or message shows the password" sh -c \
    '! grep -rqF "$1" "$2"/agg/log "$2"/agg/*.err "$2"/a1/log 2>/dev/null' _ "$PG_PASS" "$T"
