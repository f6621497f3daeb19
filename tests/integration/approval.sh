#!/bin/bash
# Corrections and data approval by the admins (issue 16 item 4, approve.h,
# approval.h), from the outside: a district admin corrects a commune's
# value through the signed central path (who and why in history), approves
# a data set for a unit and period; the period is locked, so an agent's
# later value is held (acked as period_locked, not applied) until the
# admin refuses or accepts it; unapproving opens the period again. Roles,
# scope and CSRF are enforced; the CLI does the same for operators.
. "$(dirname "$0")/lib.sh"
echo "1..47"
port=$(free_port)
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:$port" >> "$T/agg/aggregator.ini"
agent_init a1 27901
aport=$(free_port)
echo "http_listen = 127.0.0.1:$aport" >> "$T/a1/agent.ini"
pw='mật-khẩu-đủ-dài'
printf '%s\n' "$pw" | agg agg user add huyen --role district_admin --org-unit 801 --password-stdin > /dev/null
printf '%s\n' "$pw" | agg agg user add khoa --role viewer --org-unit 801 --password-stdin > /dev/null
agg_start agg
agent_start a1
base="http://127.0.0.1:$port"
check "HTTP up" wait_for 10 curl -sf "$base/healthz"

login() {
    curl -s -o "$T/r" -c "$T/jar.$1" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data "$(jq -cn --arg n "$1" --arg p "$pw" '{name: $n, password: $p}')" "$base/api/login"
}
# post NAME PATH JSON [curl args]: with NAME's cookie and CSRF token.
post() {
    local n=$1 path=$2 body=$3; shift 3
    curl -s -o "$T/r" -b "$T/jar.$n" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H "X-CSRF-Token: $(cat "$T/csrf.$n")" "$@" --data "$body" "$base$path"
}
get() { curl -s -o "$T/r" -b "$T/jar.$1" -w '%{http_code}' "$base$2"; }
value() {   # the stored value of 27901 HGD_TONG 2025Q1
    curl -s -b "$T/jar.huyen" "$base/api/query?org_unit=27901&no_subtree=1&indicator=HGD_TONG&period=2025Q1" \
        | jq -r '.dataValues[0].value'
}
submit() {  # the agent enters VALUE and it reaches the aggregator
    agent a1 submit --org-unit 27901 --indicator HGD_TONG --period 2025Q1 --value "$1" > /dev/null \
        && wait_for 20 outbox_empty a1
}
expect_eq "logins" "$(login huyen)$(jq -r .csrf "$T/r" > "$T/csrf.huyen")$(login khoa)" 200200
jq -r .csrf "$T/r" > "$T/csrf.khoa"

check "the agent's first value arrives" submit 1000
expect_eq "... and is applied" "$(value)" 1000

fix='{"org_unit":"27901","indicator":"HGD_TONG","period":"2025Q1","value":"1234","reason":"số hộ đếm trùng"}'
expect_eq "correct: a viewer is refused (403)" "$(post khoa /api/correct "$fix")" 403
expect_eq "correct: without the CSRF token refused" \
    "$(curl -s -o "$T/r" -b "$T/jar.huyen" -w '%{http_code}' -H 'Content-Type: application/json' --data "$fix" "$base/api/correct")" 403
expect_eq "correct: without a reason 400" \
    "$(post huyen /api/correct '{"org_unit":"27901","indicator":"HGD_TONG","period":"2025Q1","value":"5"}')" 400
expect_eq "correct: outside the account's district 403" \
    "$(post huyen /api/correct '{"org_unit":"80","indicator":"HGD_TONG","period":"2025Q1","value":"5","reason":"x"}')" 403
expect_eq "correct: unknown indicator 400" \
    "$(post huyen /api/correct '{"org_unit":"27901","indicator":"NOPE","period":"2025Q1","value":"5","reason":"x"}')" 400
expect_eq "correct: the district admin's correction applied" "$(post huyen /api/correct "$fix") $(value)" "200 1234"
get huyen '/api/history?org_unit=27901&indicator=HGD_TONG&period=2025Q1' > /dev/null
expect_eq "history: the correction with who and why, signature verified" \
    "$(jq -r '[.rows[] | select(.new == "1234")][0] | [.stored_by, .comment, .signature] | @tsv' "$T/r")" \
    "$(printf 'huyen\tsố hộ đếm trùng\tverified')"

ap='{"data_set":"CDS_XA_QUY","org_unit":"801","period":"2025Q1"}'
expect_eq "approve: a viewer is refused" "$(post khoa /api/approve "$ap")" 403
expect_eq "approve: bad period type for the data set 400" \
    "$(post huyen /api/approve '{"data_set":"CDS_XA_QUY","org_unit":"801","period":"202501"}')" 400
expect_eq "approve: unknown data set 400" \
    "$(post huyen /api/approve '{"data_set":"NOPE","org_unit":"801","period":"2025Q1"}')" 400
expect_eq "approve: another district 403" \
    "$(post huyen /api/approve '{"data_set":"CDS_XA_QUY","org_unit":"80","period":"2025Q1"}')" 403
expect_eq "approve: the district for the quarter" "$(post huyen /api/approve "$ap")" 200
expect_eq "approve: twice is a conflict (409)" "$(post huyen /api/approve "$ap")" 409
expect_eq "approvals: listed with who (viewer may read)" \
    "$(get khoa '/api/approvals?period=2025Q1') $(jq -r '.approvals[0] | [.data_set, .org_unit, .approved, .by] | @tsv' "$T/r")" \
    "$(printf '200 CDS_XA_QUY\t801\ttrue\thuyen')"

check "locked: the agent's later value is acked" submit 999
expect_eq "locked: ... and not applied" "$(value)" 1234
expect_eq "locked: held as a pending change" \
    "$(get huyen /api/pending) $(jq -r '.pending[] | [.id, .value, .current, .state] | @tsv' "$T/r")" \
    "$(printf '200 1\t999\t1234\tpending')"
expect_eq "locked: the viewer cannot see pending changes" "$(get khoa /api/pending)" 403
get huyen '/api/history?org_unit=27901&indicator=HGD_TONG&period=2025Q1' > /dev/null
check "locked: history shows the agent's value as period_locked" \
    bash -c "jq -e '[.rows[] | select(.new == \"999\" and .status == \"period_locked\")] | length == 1' '$T/r' > /dev/null"
check "locked: the commune sees why in its status" \
    grep -q 'period_locked.*approved for 801 by huyen.*kỳ đã duyệt' <<< "$(agent a1 status 2>&1)"
# the commune's own page (agent/page.c): the value's state says why
env -u DISPLAY -u WAYLAND_DISPLAY "$AGENT" -c "$T/a1/agent.ini" open > "$T/open.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q "^http://" "$T/open.out"
curl -s -o /dev/null -c "$T/ajar" "$(grep -m1 '^http://' "$T/open.out")"
expect_eq "the commune's page: the value's state is held (not refused)" \
    "$(curl -s -b "$T/ajar" "http://127.0.0.1:$aport/api/state" | jq -r '.values[] | select(.indicator == "HGD_TONG" and .period == "2025Q1") | .state')" \
    held
expect_eq "refuse: without a reason 400" "$(post huyen /api/pending/refuse '{"id":1}')" 400
expect_eq "refuse: a viewer is refused" "$(post khoa /api/pending/refuse '{"id":1,"reason":"x"}')" 403
expect_eq "refuse: with a reason" "$(post huyen /api/pending/refuse '{"id":1,"reason":"đã duyệt, số cũ đúng"}') $(value)" "200 1234"
expect_eq "refuse: a second answer is a conflict" "$(post huyen /api/pending/accept '{"id":1}')" 409

check "locked: another value held" submit 888
expect_eq "accept: applied" "$(post huyen /api/pending/accept '{"id":2,"reason":"xã báo lại đúng"}') $(value)" "200 888"
get huyen '/api/history?org_unit=27901&indicator=HGD_TONG&period=2025Q1' > /dev/null
expect_eq "accept: in history as the admin's entry naming the held value" \
    "$(jq -r '[.rows[] | select(.new == "888" and .status == "applied")][0] | .stored_by + " " + (.comment | test("#2.*xã báo lại đúng") | tostring)' "$T/r")" \
    "huyen true"
expect_eq "pending: all, with the decisions and who" \
    "$(get huyen '/api/pending?all=1') $(jq -r '[.pending[] | .state + ":" + .by] | join(" ")' "$T/r")" \
    "200 refused:huyen accepted:huyen"

expect_eq "unapprove: without a reason 400" "$(post huyen /api/unapprove "$ap")" 400
expect_eq "unapprove: with a reason" \
    "$(post huyen /api/unapprove '{"data_set":"CDS_XA_QUY","org_unit":"801","period":"2025Q1","reason":"xã xin sửa"}')" 200
check "unlocked: the agent's value" submit 777
expect_eq "unlocked: ... is applied again" "$(value)" 777
rid=$(agg agg rejects | awk '/seq 2\.\.2/ {print $1}')
out=$(agg agg rejects retry "$rid" 2>&1)
check "rejects retry does not apply a held value (refused here)" grep -q "held value 1 .*pending accept|refuse" <<< "$out"
expect_eq "... the table keeps the commune's newer value" "$(value)" 777

# the same from the command line (operators)
expect_eq "cli approve" "$(USER=vanhanh agg agg approve --data-set CDS_XA_QUY --org-unit 27901 --period 2025Q1 --note 'chốt số')" \
    "CDS_XA_QUY 27901 2025Q1: approved"
check "cli: a value held" submit 555
expect_eq "cli pending list" "$(agg agg pending list --format csv | tail -n +2 | cut -d, -f1,5,6,10)" "3,555,777,pending"
expect_eq "cli pending accept" "$(USER=vanhanh agg agg pending accept 3 --note 'đúng') $(value)" "held value 3: accepted 555"
out=$(agg agg pending refuse 3 --note x 2>&1; echo "rc=$?")
check "cli: a decided value cannot be answered again" grep -q "already by vanhanh.*rc=1" <<< "$(tr '\n' ' ' <<< "$out")"
out=$(agg agg approve --data-set CDS_XA_QUY --org-unit 27901 --period 2025-01 2>&1; echo "rc=$?")
check "cli: a bad period is refused, naming it" grep -q '"2025-01"' <<< "$out"
out=$(agg agg unapprove --data-set CDS_XA_QUY --org-unit 27901 --period 2025Q1 2>&1; echo "rc=$?")
check "cli: unapprove without --note is a usage error (2)" grep -q "note WHY.*rc=2" <<< "$(tr '\n' ' ' <<< "$out")"
check "approvals are append-only" bash -c "! aggq agg \"UPDATE approval SET actor = 'x';\" 2>/dev/null"
