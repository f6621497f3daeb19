#!/bin/bash
# Done-when 7: bad input at the CLI gets a clear message naming file, line
# and field, a non-zero exit, and nothing queued.
. "$(dirname "$0")/lib.sh"
echo "1..22"
agg_init agg
agent_init a1 27901

# expect_fail NAME WANT_STATUS PATTERN CMD...: fails with status, stderr matches.
expect_fail() {
    name=$1; want=$2; pat=$3; shift 3
    "$@" > "$T/out" 2> "$T/err"; st=$?
    if [ "$st" = "$want" ] && grep -q -- "$pat" "$T/err"; then ok "$name"
    else not_ok "$name (status $st, stderr: $(head -c 300 "$T/err"))"; fi
}
# The Windows service's command on Linux: names the systemd unit, exit 2.
expect_fail "service on Linux points to the systemd unit" 2 \
    'deploy/cdsync-agent.service' agent a1 service install
H=dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup,deleted

expect_fail "unknown indicator (submit)" 1 'CDS99' \
    agent a1 submit --org-unit 27901 --indicator CDS99 --period 2025Q2 --value 1
expect_fail "wrong value type (submit)" 1 'abc' \
    agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value abc
expect_fail "percentage out of range" 1 '140' \
    agent a1 submit --org-unit 27901 --indicator HGD_CAPQUANG --period 2025Q2 --value 140
expect_fail "bad period" 1 '2025Q5' \
    agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q5 --value 1
expect_fail "org unit not this agent's" 1 '27904' \
    agent a1 submit --org-unit 27904 --indicator TO_CNSCD --period 2025Q2 --value 1
expect_fail "missing required flag is a usage error" 2 'indicator' \
    agent a1 submit --org-unit 27901 --period 2025Q2 --value 1

printf '%s\n' "$H" "TO_CNSCD,2025Q2,27901,,,5,,,,," "CDS99,2025Q2,27901,,,5,,,,," \
    "TO_CNSCD,2025Q1,27901,,,x7,,,,," > "$T/bad.csv"
expect_fail "import names the unknown indicator with file:line" 1 'bad.csv:3:.*CDS99' \
    agent a1 import "$T/bad.csv"
grep -q 'bad.csv:4:.*value' "$T/err"
check "import also names the second bad row (line 4, value)" [ $? = 0 ]
printf '%s\n' "$H" "TO_CNSCD,2025Q2,27901,,,5,,,\"unterminated,," > "$T/quote.csv"
expect_fail "malformed CSV line" 1 'quote.csv:2' agent a1 import "$T/quote.csv"
printf '%s\n' "period,orgunit,value" "2025Q2,27901,5" > "$T/nohdr.csv"
expect_fail "missing dataelement column" 1 'dataelement' agent a1 import "$T/nohdr.csv"
expect_fail "unreadable file" 1 'nosuch.csv' agent a1 import "$T/nosuch.csv"

chmod 644 "$T/a1/state/agent.key"
expect_fail "key file readable by others is refused with the fix" 3 'chmod 600' \
    timeout 20 "$AGENT" -c "$T/a1/agent.ini" run
chmod 600 "$T/a1/state/agent.key"

expect_eq "nothing was queued by any failure" "$(agent_depth a1)" 0

printf '%s\n' "$H" "TO_CNSCD,2025Q2,27901,,,5,,,,," "NTM8_1,2024,27901,,,không,,,,," > "$T/good.csv"
agent a1 import "$T/good.csv" > "$T/out" 2>&1
check "a good file is queued" [ $? = 0 ]
expect_eq "two rows queued" "$(agent_depth a1)" 2
expect_eq "boolean stored canonically" \
    "$(sqlq "$(agent_db a1)" "SELECT value FROM outbox WHERE indicator='NTM8_1';")" false
check "submit of one good value succeeds" \
    agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --value 3

# A reversed --from/--to matched nothing in silence; now it is a usage
# error naming both ends and their dates (2025Q2 starts 1 April, 2025Q1
# ends 31 March), refused before the store is opened.
expect_fail "query with --from after --to is refused" 2 \
    '--from 2025Q2 starts 2025-04-01, after --to 2025Q1 ends 2025-03-31' \
    agg agg query --from 2025Q2 --to 2025Q1
expect_fail "export with --from after --to is refused" 2 \
    '--from 2025W2 starts 2025-01-06, after --to 2025W1 ends 2025-01-05' \
    agg agg export --from 2025W2 --to 2025W1
expect_fail "a misspelt DHIS2 period is named" 1 'from: "2025aprilS1"' \
    agg agg query --from 2025aprilS1
# every DHIS2 period type is understood: FinancialApril to FinancialNov
# (the store exists: the export above created it)
check "query --from 2024April --to 2025Nov runs" \
    agg agg query --from 2024April --to 2025Nov --format csv
