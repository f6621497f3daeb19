#!/bin/bash
# push-dhis2 against tests/tools/fake_dhis2.py, a local service that
# implements DHIS2's documented request (POST /api/dataValueSets with
# dryRun, importStrategy, idScheme; JSON; basic or ApiToken login) and
# import summaries (the ImportSummary of DHIS2 <= 2.37 and the 2.38+
# WebMessage around it, conflicts with and without indexes). Checked:
# counts reported; each conflict named by data element, org unit, period
# and value with DHIS2's message, exit 1; a 500 mid-run stops the run and
# the next run sends only what was not taken; a run after success sends
# nothing, a changed value is sent alone, --all sends everything; a 401
# exits 3; a service that never answers is given up after --timeout; a dry
# run stores nothing; a credentials file readable by others, a URL holding
# credentials and plain http to another host are refused before any
# request; the secret is in no log, no output and not in the argv; an
# ERROR import (a data set DHIS2 does not know) exits 1 recording nothing;
# https to a self-signed certificate is refused unless --ca-file names it.
. "$(dirname "$0")/lib.sh"
echo "1..43"
FAKE="/usr/bin/python3 $TOP/tests/tools/fake_dhis2.py"
TOKEN=d2pat_Zx8QJm3LhP0aT7ckWq1R2s9Y4vBnE6uD1234567890
agg_init agg
# Six values in three units of 2024Q1 (and one of another period).
cat > "$T/seed.json" <<'EOF'
{"dataValues": [
 {"dataElement": "TO_CNSCD", "period": "2024Q1", "orgUnit": "27898", "value": "3"},
 {"dataElement": "TO_CNSCD_TV", "period": "2024Q1", "orgUnit": "27898", "value": "30"},
 {"dataElement": "TO_CNSCD", "period": "2024Q1", "orgUnit": "27901", "value": "4"},
 {"dataElement": "TO_CNSCD_TV", "period": "2024Q1", "orgUnit": "27901", "value": "41"},
 {"dataElement": "TO_CNSCD", "period": "2024Q1", "orgUnit": "27904", "value": "5"},
 {"dataElement": "TO_CNSCD_TV", "period": "2024Q1", "orgUnit": "27904", "value": "52"},
 {"dataElement": "TO_CNSCD", "period": "2024Q2", "orgUnit": "27904", "value": "6"}
]}
EOF
agg agg import "$T/seed.json" > "$T/seed.out" 2>&1
expect_eq "seed values imported" "$?" 0
printf '%s\n' "$TOKEN" > "$T/token"; chmod 600 "$T/token"
printf 'admin:district\n' > "$T/basic"; chmod 600 "$T/basic"

FPID=""
# fake NAME ARGS...: start a fake DHIS2 (its log $T/NAME.log), URL in $URL.
fake() {
    local n=$1; shift
    [ -n "$FPID" ] && { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; }
    : > "$T/$n.log"
    $FAKE --log "$T/$n.log" "$@" > "$T/$n.port" 2> "$T/$n.err" &
    FPID=$!; PIDS="$PIDS $FPID"
    wait_for 10 test -s "$T/$n.port" || not_ok "fake DHIS2 $n started"
    URL=http://127.0.0.1:$(head -1 "$T/$n.port")
}
push() { agg agg push-dhis2 --url "$URL" --data-set CDS_XA_QUY --period 2024Q1 "$@"; }
nreq() { grep -c . "$T/$1.log"; }
# keys LOG FIRST LAST: the value keys sent by requests FIRST..LAST, sorted.
keys() { jq -r --argjson a "$2" --argjson b "$3" \
    'select(.n >= $a and .n <= $b) | .keys[]' "$T/$1.log" | LC_ALL=C sort; }
taken() { aggq agg "SELECT count(*) FROM dhis2_push WHERE target = '$URL'"; }

# --- a 500 mid-run, then the rest -------------------------------------------
fake f1 --token "$TOKEN" --script 2:500
push --credentials "$T/token" --chunk 2 > "$T/p1.out" 2> "$T/p1.err"
rc=$?
diag "$(cat "$T/p1.out" "$T/p1.err")"
expect_eq "500 on the second request: run stops, exit 4, named" \
    "$rc $(grep -c 'HTTP 500' "$T/p1.err") $(nreq f1)" "4 1 2"
expect_eq "... the first request's two values recorded as taken" "$(taken)" 2
expect_eq "first request: counts reported (imported 2)" \
    "$(grep -c '^  SUCCESS: imported 2, updated 0, ignored 0, deleted 0, conflicts 0' "$T/p1.out")" 1
expect_eq "documented query: dryRun=false, CREATE_AND_UPDATE, idScheme=CODE, JSON, ApiToken" \
    "$(jq -r 'select(.n == 1) | "\(.query.dryRun) \(.query.importStrategy) \(.query.idScheme) \(.ctype) \(.auth) \(.dataSet)"' "$T/f1.log")" \
    "false CREATE_AND_UPDATE CODE application/json ApiToken CDS_XA_QUY"
push --credentials "$T/token" --chunk 2 > "$T/p2.out" 2> "$T/p2.err"
rc=$?
diag "$(cat "$T/p2.out" "$T/p2.err")"
expect_eq "re-run after the failure: exit 0, 2 already taken, 4 to send" \
    "$rc $(grep -c '6 values selected, 2 already taken as they are .*, 4 to send in 2 requests' "$T/p2.out")" "0 1"
keys f1 1 1 > "$T/k1"; keys f1 3 4 > "$T/k34"
expect_eq "... the rest only: no value sent twice, all six sent" \
    "$(LC_ALL=C comm -12 "$T/k1" "$T/k34" | wc -l) $(cat "$T/k1" "$T/k34" | LC_ALL=C sort -u | wc -l)" "0 6"
expect_eq "... the 2024Q2 value is not sent (--period)" "$(grep -c 2024Q2 "$T/k34")" 0
expect_eq "six values recorded as taken" "$(taken)" 6
push --credentials "$T/token" --chunk 2 > "$T/p3.out" 2>&1
expect_eq "run after success: exit 0, sends nothing" \
    "$? $(nreq f1) $(grep -c '0 to send in 0 requests' "$T/p3.out")" "0 4 1"
printf 'dataelement,period,orgunit,value\nTO_CNSCD_TV,2024Q1,27901,44\n' > "$T/chg.csv"
agg agg import "$T/chg.csv" > /dev/null 2>&1
push --credentials "$T/token" --chunk 2 > "$T/p4.out" 2>&1
expect_eq "a changed value is sent alone, DHIS2 counts it updated" \
    "$? $(nreq f1) $(keys f1 5 5) $(grep -c '^  SUCCESS: imported 0, updated 1,' "$T/p4.out")" \
    "0 5 TO_CNSCD_TV|2024Q1|27901|default|default 1"
push --credentials "$T/token" --chunk 10 --all > "$T/p5.out" 2>&1
expect_eq "--all sends everything again in one request, DHIS2 ignores the same values" \
    "$? $(nreq f1) $(keys f1 6 6 | wc -l) $(grep -c '^  SUCCESS: imported 0, updated 0, ignored 6' "$T/p5.out")" "0 6 6 1"

# --- conflicts: 2.38+ WebMessage (409, indexes) --------------------------------
fake f2 --token "$TOKEN" --shape new --refuse TO_CNSCD_TV
push --credentials "$T/token" --chunk 4 > "$T/c1.out" 2> "$T/c1.err"
rc=$?
diag "$(cat "$T/c1.out" "$T/c1.err")"
expect_eq "conflicts: exit 1, said in words" \
    "$rc $(grep -c 'DHIS2 refused values (2 conflicts' "$T/c1.err")" "1 1"
expect_eq "each refused value named with DHIS2's message" \
    "$(grep -Ec '^  conflict: data element TO_CNSCD_TV, org unit 27(898|901|904), period 2024Q1, value "[0-9]*": Data element not found or not accessible: TO_CNSCD_TV' "$T/c1.out")" 3
check "... the value itself" grep -q 'org unit 27901, period 2024Q1, value "44"' "$T/c1.out"
expect_eq "counts of the 409 WARNING summaries (imported 3, ignored 3)" \
    "$(grep -c '^  WARNING: imported [0-9]*, updated 0, ignored [0-9]*, deleted 0, conflicts 1' "$T/c1.out") $(grep -c 'imported 3, updated 0, ignored 3, deleted 0, conflicts 2; 3 values recorded' "$T/c1.out")" "2 1"
expect_eq "only the values taken are recorded for this target" "$(taken)" 3
push --credentials "$T/token" --chunk 4 > "$T/c2.out" 2>&1
expect_eq "re-run sends only the refused three (still refused: exit 1)" \
    "$? $(keys f2 3 3 | grep -c '^TO_CNSCD_TV|') $(keys f2 3 3 | wc -l)" "1 3 3"
expect_eq "a run row per request, with its outcome" \
    "$(aggq agg "SELECT status || ':' || sent || ':' || coalesce(conflicts, -1) FROM dhis2_push_run WHERE target = '$URL' ORDER BY id" | tr '\n' ' ')" \
    "CONFLICTS:4:1 CONFLICTS:2:1 CONFLICTS:3:1 "

# --- conflicts: the ImportSummary of DHIS2 <= 2.37, basic login ---------------
fake f3 --user admin:district --shape old --refuse TO_CNSCD
push --credentials "$T/basic" --auth basic > "$T/o1.out" 2> "$T/o1.err"
rc=$?
diag "$(cat "$T/o1.out")"
expect_eq "old shape: exit 1; conflicts matched by object to the values" \
    "$rc $(grep -Ec '^  conflict: data element TO_CNSCD, org unit 27(898|901|904), period 2024Q1, value "[0-9]*": Data element not found' "$T/o1.out")" "1 3"
expect_eq "old shape: counts (imported 3, ignored 3, conflicts 1)" \
    "$(grep -c '^  WARNING: imported 3, updated 0, ignored 3, deleted 0, conflicts 1' "$T/o1.out")" 1
expect_eq "basic login sent as Basic" "$(jq -r .auth "$T/f3.log")" Basic

# --- an ERROR import: a data set DHIS2 does not know ---------------------------
fake f7 --token "$TOKEN" --shape new --unknown-data-set CDS_XA_QUY
push --credentials "$T/token" > "$T/e.out" 2> "$T/e.err"
rc=$?
diag "$(cat "$T/e.out")"
expect_eq "ERROR import: exit 1, the conflict said, nothing recorded" \
    "$rc $(grep -c '^  ERROR: imported 0' "$T/e.out") $(grep -c '^  conflict: CDS_XA_QUY: Data set not found or not accessible (names no value of this request' "$T/e.out") $(taken)" \
    "1 1 1 0"

# --- TLS is checked: a self-signed certificate is refused ------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$T/tls.key" -out "$T/tls.crt" > /dev/null 2>&1
fake f8 --token "$TOKEN" --tls "$T/tls.crt" "$T/tls.key"
URL=https://127.0.0.1:$(head -1 "$T/f8.port")
push --credentials "$T/token" > "$T/tls.out" 2> "$T/tls.err"
rc=$?
diag "$(cat "$T/tls.err")"
expect_eq "https to a self-signed certificate: refused (exit 4), no request reached it" \
    "$rc $(grep -ci 'certificate' "$T/tls.err") $(nreq f8)" "4 1 0"
push --credentials "$T/token" --ca-file "$T/tls.crt" > "$T/tls2.out" 2>&1
expect_eq "... with --ca-file naming its certificate: pushed over TLS" \
    "$? $(nreq f8) $(grep -c '^  SUCCESS: imported 6,' "$T/tls2.out")" "0 1 1"

# --- 401, timeout, dry run ---------------------------------------------------
fake f4 --token d2pat_someoneelse0000000000000000000000000000
push --credentials "$T/token" > "$T/u.out" 2> "$T/u.err"
expect_eq "401: exit 3, credentials refused, nothing recorded" \
    "$? $(grep -c 'HTTP 401 (credentials refused)' "$T/u.err") $(taken)" "3 1 0"
fake f5 --token "$TOKEN" --script 1:hang --hang 30
start=$(date +%s)
"$AGG" -c "$T/agg/aggregator.ini" push-dhis2 --url "$URL" --data-set CDS_XA_QUY \
    --period 2024Q1 --credentials "$T/token" --timeout 2 > "$T/t.out" 2> "$T/t.err" &
ppid=$!
wait_for 10 grep -q hang "$T/f5.log"
tr '\0' ' ' < "/proc/$ppid/cmdline" > "$T/argv" 2>/dev/null
wait "$ppid"; rc=$?
took=$(($(date +%s) - start))
diag "$(cat "$T/t.err") (${took}s)"
expect_eq "no answer: given up after --timeout, exit 4, named" \
    "$rc $(grep -c 'no answer in time' "$T/t.err") $([ "$took" -lt 15 ] && echo bounded)" "4 1 bounded"
check "argv of the running push holds the file name, not the secret" \
    sh -c "grep -q -- '--credentials' '$T/argv' && ! grep -q '$TOKEN' '$T/argv'"
expect_eq "... nothing recorded" "$(taken)" 0
fake f6 --token "$TOKEN"
push --credentials "$T/token" --dry-run > "$T/d.out" 2>&1
expect_eq "dry run: dryRun=true sent, counts reported, nothing recorded" \
    "$? $(jq -r .query.dryRun "$T/f6.log") $(grep -c '^  SUCCESS: imported 6,' "$T/d.out") $(taken)" "0 true 1 0"
push --credentials "$T/token" --import-strategy UPDATE > "$T/s.out" 2>&1
expect_eq "--import-strategy sent; after a dry run every value is sent" \
    "$? $(jq -r 'select(.n == 2) | "\(.query.importStrategy) \(.keys | length)"' "$T/f6.log")" "0 UPDATE 6"
# --id-scheme uid: ids and the data set from the map, idScheme=UID.
{ echo kind,code,uid; echo dataset,CDS_XA_QUY,Ds8aaaaaaaa
  echo dataelement,TO_CNSCD,DeCnscdaaaa; echo dataelement,TO_CNSCD_TV,DeCnscdTvaa
  echo orgunit,27898,Ou27898aaaa; echo orgunit,27901,Ou27901aaaa
  echo orgunit,27904,Ou27904aaaa; echo catoptcombo,default,HllvX50cXC0
} > "$T/ids.csv"
push --credentials "$T/token" --id-scheme uid --id-map "$T/ids.csv" --org-unit 27901 > "$T/i.out" 2>&1
expect_eq "--id-scheme uid: idScheme=UID, dataSet and ids mapped" \
    "$? $(jq -r 'select(.n == 3) | "\(.query.idScheme) \(.dataSet) \(.keys | sort | join(" "))"' "$T/f6.log")" \
    "0 UID Ds8aaaaaaaa DeCnscdTvaa|2024Q1|Ou27901aaaa|HllvX50cXC0|HllvX50cXC0 DeCnscdaaaa|2024Q1|Ou27901aaaa|HllvX50cXC0|HllvX50cXC0"

# --- refused before any request ---------------------------------------------
n0=$(nreq f6)
chmod 644 "$T/token"
push --credentials "$T/token" > /dev/null 2> "$T/perm.err"
expect_eq "credentials file readable by others: exit 3, chmod named, no request" \
    "$? $(grep -c 'readable by group or others (mode 0644); run: chmod 600' "$T/perm.err") $(nreq f6)" "3 1 $n0"
chmod 600 "$T/token"
agg agg push-dhis2 --url "http://admin:district@127.0.0.1:1" --data-set CDS_XA_QUY --credentials "$T/token" > /dev/null 2> "$T/ui.err"
expect_eq "credentials in the URL: refused (exit 2)" \
    "$? $(grep -c 'not taken on the command line' "$T/ui.err")" "2 1"
agg agg push-dhis2 --url "http://dhis2.example.org" --data-set CDS_XA_QUY --credentials "$T/token" > /dev/null 2> "$T/h.err"
expect_eq "plain http to another host: refused (exit 2)" \
    "$? $(grep -c 'use https' "$T/h.err")" "2 1"
printf 'd2pat_x\n' > "$T/tok2"; chmod 600 "$T/tok2"
push --credentials "$T/tok2" --auth basic > /dev/null 2> "$T/ab.err"
expect_eq "--auth basic with a token file: refused, the secret not shown" \
    "$? $(grep -c 'expected USER:PASSWORD' "$T/ab.err") $(grep -c d2pat_x "$T/ab.err")" "1 1 0"
push --data-set CDS_XA_QUY > /dev/null 2> "$T/nc.err"
expect_eq "no --credentials: usage (exit 2)" "$?" 2
push --credentials "$T/token" --import-strategy MERGE > /dev/null 2> "$T/is.err"
expect_eq "unknown --import-strategy: usage (exit 2)" "$?" 2
push --credentials "$T/token" --data-set NO_SUCH_SET > /dev/null 2> "$T/ds.err"
expect_eq "a data set not in datasets.csv: refused, named, no request" \
    "$? $(grep -c '"NO_SUCH_SET" is not in datasets.csv' "$T/ds.err") $(nreq f6)" "1 1 $n0"
push --credentials "$T/token" --indicator TTHC_TONG > /dev/null 2> "$T/di.err"
expect_eq "an --indicator outside the data set: usage, named" \
    "$? $(grep -c '"TTHC_TONG" is not in data set CDS_XA_QUY' "$T/di.err")" "2 1"

# --- what every request looked like; secrets nowhere ----------------------------
expect_eq "the fake DHIS2 saw no malformed request" \
    "$(cat "$T"/f[1-8].log | jq -r 'select(.bad) | .bad' | wc -l)" 0
expect_eq "no request body carried the secret" \
    "$(cat "$T"/f[1-8].log | jq -r 'select(.raw_has_secret) | .n' | wc -l)" 0
expect_eq "the secret is in no output or log of push-dhis2" \
    "$(cat "$T"/*.out "$T"/*.err | grep -c -e "$TOKEN" -e district)" 0
check "the password is in no output either (basic)" \
    sh -c "! grep -q 'admin:district' $T/o1.out $T/o1.err"
expect_eq "pushes were recorded in the store, never a secret" \
    "$(aggq agg "SELECT count(*) FROM dhis2_push_run WHERE target LIKE '%district%' OR message LIKE '%$TOKEN%'")" 0
exit $FAILED
