#!/bin/bash
# The district-admin HTTP API (issue 5, api.h): bearer tokens (shown once,
# stored hashed, revocable), the routes give what the CLI gives, and
# bad requests get a 4xx JSON error without affecting ingest.
. "$(dirname "$0")/lib.sh"
echo "1..30"
port=$(free_port)
agg_init agg
sed -i '/^http_listen/d' "$T/agg/aggregator.ini"
echo "http_listen = 127.0.0.1:$port" >> "$T/agg/aggregator.ini"
agent_init a1 27901

cat > "$T/d.csv" <<'CSV'
dataelement,period,orgunit,value
HGD_TONG,2025Q1,27901,1000
HGD_CAPQUANG_SO,2025Q1,27901,900
HGD_TONG,2025Q1,27904,100
HGD_CAPQUANG_SO,2025Q1,27904,10
CSV
agg agg import "$T/d.csv" > /dev/null
# a value then deleted, for /api/export's include_deleted
printf 'dataelement,period,orgunit,value\nHGD_TONG,2025Q2,27901,5\n' > "$T/q2.csv"
printf 'dataelement,period,orgunit,value,deleted\nHGD_TONG,2025Q2,27901,,true\n' > "$T/q2del.csv"
agg agg import "$T/q2.csv" > /dev/null && agg agg import "$T/q2del.csv" > /dev/null
tok=$(agg agg token add dashboard | head -1)
check "token printed once, cdst_ + 43 chars" [ ${#tok} = 48 ]
expect_eq "only the hash is stored" \
    "$(aggq agg "SELECT count(*) FROM api_token WHERE hash = CAST('$tok' AS BLOB) OR length(hash) != 32;")" 0
agg_start agg
agent_start a1
base="http://127.0.0.1:$port"
check "HTTP up" wait_for 10 curl -sf "$base/healthz"

code=$(curl -s -o "$T/r" -w '%{http_code}' "$base/api/rollup?org_unit=801&period=2025Q1")
expect_eq "no token: 401 JSON" "$code $(jq -r 'has("error")' "$T/r")" "401 true"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H "Authorization: Bearer cdst_wrong" "$base/api/query")
expect_eq "bad token: 401" "$code" 401

auth=(-H "Authorization: Bearer $tok")
r=$(curl -sf "${auth[@]}" "$base/api/rollup?org_unit=801&period=2025Q1&indicator=HGD_CAPQUANG")
expect_eq "rollup over HTTP: 910/1100 = 82.73 %" "$(jq -r '.rows[0].value, .rows[0].org_units' <<< "$r" | tr '\n' ' ')" "82.73 2/11 "
expect_eq "query over HTTP equals the CLI" \
    "$(curl -sf "${auth[@]}" "$base/api/query?org_unit=801&period=2025Q1" | jq -c .)" \
    "$(agg agg query --org-unit 801 --period 2025Q1 --format json | jq -c .)"
c=$(curl -sf "${auth[@]}" "$base/api/completeness?org_unit=801&period=2025Q1&indicator=HGD_TONG")
expect_eq "completeness over HTTP" "$(jq -r .unitsComplete <<< "$c")" 2
h=$(curl -sf "${auth[@]}" "$base/api/history?org_unit=27901&indicator=HGD_TONG&period=2025Q1")
expect_eq "history over HTTP, verified" "$(jq -r '.rows[0].signature' <<< "$h")" verified
e=$(curl -sf "${auth[@]}" "$base/api/export?org_unit=27901&format=dhis2-csv")
expect_eq "export over HTTP (dhis2-csv)" "$(printf '%s\n' "$e" | grep -c '^HGD_')" 2
curl -sf -D "$T/adx.hdr" -o "$T/api.adx" "${auth[@]}" "$base/api/export?org_unit=27901&format=adx"
expect_eq "export over HTTP (adx): application/adx+xml, two values" \
    "$(grep -ci '^content-type: application/adx+xml' "$T/adx.hdr") $(xmllint --xpath 'count(//*[local-name()="dataValue"])' "$T/api.adx")" "1 2"

# export's include_deleted and id_scheme: the CLI's --include-deleted and
# --id-scheme, the same files and the same refusals (400 with the reason)
for q in "format=dhis2-json&include_deleted=1:--format dhis2-json --include-deleted" \
         "format=dhis2-csv&include_deleted=1:--format dhis2-csv --include-deleted" \
         "id_scheme=name:--id-scheme name" \
         "format=dhis2-csv&id_scheme=name&include_deleted=1:--format dhis2-csv --id-scheme name --include-deleted"; do
    curl -sf "${auth[@]}" -o "$T/x.http" "$base/api/export?org_unit=27901&${q%%:*}"
    agg agg export --org-unit 27901 ${q#*:} > "$T/x.cli"
    check "export over HTTP ${q%%:*} = CLI ${q#*:}" cmp -s "$T/x.http" "$T/x.cli"
done
expect_eq "include_deleted=1: the deleted value, deleted true" \
    "$(curl -sf "${auth[@]}" "$base/api/export?org_unit=27901&include_deleted=1" | jq -r '.dataValues[] | select(.period == "2025Q2") | .deleted')" true
expect_eq "id_scheme=name: the names" \
    "$(curl -sf "${auth[@]}" "$base/api/export?org_unit=27901&id_scheme=name" | jq -r '[.dataValues[].orgUnit] | unique | join(",")')" \
    "Xã Mỹ Quý Đông"
for q in "format=adx&include_deleted=1:include-deleted: ADX has no deleted field" \
         "format=csv&id_scheme=name:id-scheme: name is written by --format dhis2-json and dhis2-csv only" \
         "id_scheme=uid:id_scheme: uid needs a map file" \
         "id_scheme=nom:id_scheme: expected code or name"; do
    code=$(curl -s -o "$T/r" -w '%{http_code}' "${auth[@]}" "$base/api/export?org_unit=27901&${q%%:*}")
    expect_eq "export ${q%%:*}: 400 with the reason" \
        "$code $(jq -r .error "$T/r" | grep -cF "${q#*:}")" "400 1"
done

# the dashboard's names: the org-unit table and the catalog, as loaded
o=$(curl -sf "${auth[@]}" "$base/api/orgunits")
expect_eq "orgunits over HTTP: every unit, names, parents, dates" \
    "$(jq -r '[(.orgUnits | length), (.orgUnits[] | select(.code == "801") | .name, .parent, .validTo, (.validFrom == null)), (.mappings | type)] | join(" ")' <<< "$o")" \
    "$(($(wc -l < "$ORGUNITS") - 1)) Huyện Đức Huệ 80 2025-06-30 true array"
i=$(curl -sf "${auth[@]}" "$base/api/indicators")
expect_eq "indicators over HTTP: the catalog in order, names and types" \
    "$(jq -r '[(.indicators | length), .indicators[0].code, (.indicators[] | select(.code == "HGD_CAPQUANG") | .name, .aggregation, .periodType, .numerator)] | join("|")' <<< "$i")" \
    "$(/usr/bin/python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))) - 1)' "$CATALOG")|NTM8_1|Tỷ lệ hộ gia đình có đường Internet cáp quang băng rộng|RATIO|Quarterly|HGD_CAPQUANG_SO"
# a whole period type's indicators in one request (over 128 bytes)
all=$(jq -r '[.indicators[] | select(.periodType == "Quarterly") | .code] | join(",")' <<< "$i")
expect_eq "indicator list of ${#all} bytes accepted, same as the CLI" \
    "$(curl -sf "${auth[@]}" "$base/api/rollup?org_unit=801&period=2025Q1&indicator=$all" | jq -c '.rows | length')" \
    "$(echo "$all" | tr ',' '\n' | grep -c .)"
code=$(curl -s -o "$T/r" -w '%{http_code}' "${auth[@]}" "$base/api/rollup?org_unit=801&period=2025Q1&indicator=$(head -c 4097 /dev/zero | tr '\0' 'A')")
expect_eq "indicator list over 4096 bytes: 400" "$code" 400

code=$(curl -s -o "$T/r" -w '%{http_code}' "${auth[@]}" "$base/api/rollup?org_unit=801&period=2025Q9")
expect_eq "bad period: 400 JSON error" "$code $(jq -r '.error' "$T/r" | grep -c period)" "400 1"
code=$(curl -s -o "$T/r" -w '%{http_code}' "${auth[@]}" "$base/api/query?org_unit=801&from=2025Q2&to=2025Q1")
expect_eq "reversed from/to: 400 naming both" \
    "$code $(jq -r '.error' "$T/r" | grep -c 'from 2025Q2 starts 2025-04-01, after --to 2025Q1')" "400 1"
long=$(head -c 300 /dev/zero | tr '\0' 'A')
code=$(curl -s -o "$T/r" -w '%{http_code}' "${auth[@]}" "$base/api/query?org_unit=$long")
expect_eq "oversized argument: 400" "$code" 400

# ingest is unaffected: the agent's value still arrives
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --value 3 > /dev/null
check "ingest still works next to the API" wait_for 20 outbox_empty a1

agg agg token revoke dashboard > /dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/api/query")
expect_eq "revoked token: 401" "$code" 401
