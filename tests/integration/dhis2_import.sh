#!/bin/bash
# DHIS2 dataValueSet files as DHIS2 writes and documents them (the corpus
# in tests/integration/dhis2/: the 11-column header with BOM, CRLF, a
# quoted comma and a quoted line break; the abbreviated header; no header
# at all, read by DHIS2's column positions; JSON in the single-form and
# list layouts; t/f booleans) imported at an agent and, the same files,
# centrally at a second aggregator: the DHIS2 export then shows every
# value with its storedBy, comment and followup intact. Option combos the
# catalog does not define are refused naming file:line: field: column and
# the value (CSV, JSON and ADX), and nothing of that file is queued. created is never after
# lastUpdated, also for a value entered offline at an agent 2 h slow.
# Exports with --include-deleted, --id-scheme uid and name (ambiguous
# names refused naming both units) pass dhis2_validate.py (DHIS2's field
# names, order, types, period ids, created <= lastUpdated); round trips
# through DHIS2 CSV and JSON are identical (storedBy, comment, followup,
# times), through ADX the values and comments.
. "$(dirname "$0")/lib.sh"
echo "1..87"
D=$(cd "$(dirname "$0")/dhis2" && pwd)
port=$((20000 + $$ % 20000))
agg_init agg "tcp://127.0.0.1:$port"
agent_init a1 27901
agg_start agg
agent_start a1

for f in long.csv abbrev.csv noheader.csv single.json list.json bool.csv; do
    agent a1 import "$D/$f" > "$T/imp.$f" 2>&1
    check "agent import $f" grep -q '^queued ' "$T/imp.$f"
done
agent a1 import "$D/disagg.csv" > "$T/dis.out" 2> "$T/dis.err"
rc=$?
diag "$(cat "$T/dis.err")"
expect_eq "option combos refused by file:line: field: column and value" \
    "$rc $(grep -c 'disagg.csv:3: categoryoptioncombo: column 4: .*"NU"' "$T/dis.err") $(grep -c 'disagg.csv:4: attributeoptioncombo: column 5: "NguonNSNN"' "$T/dis.err")" \
    "1 1 1"
agent a1 import --header "$D/noheader.csv" > /dev/null 2> "$T/ah.err"
expect_eq "agent --header on a header-less file: refused, named" \
    "$? $(grep -c 'noheader.csv:1: header: missing column "dataelement"' "$T/ah.err")" "1 1"
agent a1 import --header --no-header "$D/long.csv" > /dev/null 2>&1
expect_eq "--header with --no-header: usage (exit 2)" "$?" 2
check "agent outbox drains" wait_for 30 outbox_empty a1

# Every field of every imported row, as the DHIS2 export writes it back.
fields='[.dataValues[] | select(.orgUnit == "27901")
         | [.dataElement, .period, .categoryOptionCombo, .value, .storedBy,
            .comment, .followup] | map(tostring) | join("|")] | sort | .[]'
cat > "$T/want" <<'WANT'
HGD_CAPQUANG_SO|2024Q1|default|1850|dang.f||false
NTM8_1|2024|default|true|can.bo.a1||false
NTM8_2|2024|default|false|can.bo.a1||true
NTM8_3|2024|default|true|can.bo.a1||false
NTM8_4|2024|default|false|can.bo.a1||false
TO_CNSCD_TV|2024Q1|default|41|tran.thi.b|dòng một
dòng hai|false
TO_CNSCD_TV|2024Q3|default|45|can.bo.a1||false
TO_CNSCD_TV|2024Q4|default|50|vo.e||false
TO_CNSCD|2024Q1|default|7|nguyen.van.a|Tổ ấp 3, mới lập|true
TO_CNSCD|2024Q2|default|8|le.van.c|có "ghi chú"|true
TO_CNSCD|2024Q3|default|9|pham.d|không đầu|true
TO_CNSCD|2024Q4|default|10|vo.e|một mẫu|true
WANT
agg agg export --format dhis2-json > "$T/export.json"
jq -r "$fields" "$T/export.json" | tr -d '\r' > "$T/got"
diag "$(diff "$T/want" "$T/got")"
check "agent path: every field intact in the DHIS2 export" cmp -s "$T/want" "$T/got"
# created / lastUpdated: the file's, carried in the signed update; none
# given: created = first arrival, lastUpdated = the value's stamp.
times() { jq -r --arg de "$2" --arg pe "$3" '.dataValues[]
    | select(.orgUnit == "27901" and .dataElement == $de and .period == $pe)
    | "\(.created) \(.lastUpdated)"' "$1"; }
year=$(date -u +%Y)
expect_eq "lastUpdated from the long header's lastupdated (+0000)" \
    "$(times "$T/export.json" TO_CNSCD 2024Q1 | cut -d' ' -f2)" "2025-04-02T08:15:00.000Z"
expect_eq "lastUpdated from the abbreviated lstupd (a date)" \
    "$(times "$T/export.json" TO_CNSCD 2024Q2 | cut -d' ' -f2)" "2025-07-01T00:00:00.000Z"
expect_eq "created and lastUpdated from JSON" \
    "$(times "$T/export.json" HGD_CAPQUANG_SO 2024Q1)" "2025-04-01T00:00:00.000Z 2025-04-03T00:00:00.000Z"
expect_eq "no times in the file: cdsync's own (this year)" \
    "$(times "$T/export.json" TO_CNSCD_TV 2024Q3 | cut -c1-4,26-29)" "$year$year"
expect_eq "query shows the carried lastUpdated as export does" \
    "$(agg agg query --org-unit 27901 --period 2024Q1 --indicator TO_CNSCD --format json | jq -r '.dataValues[0].lastUpdated')" \
    "2025-04-02T08:15:00.000Z"
printf 'de,pe,ou,co,ao,value,strby,lstupd\nTO_CNSCD,2022Q1,27901,,,1,x,yesterday\n' > "$T/badt.csv"
agent a1 import "$T/badt.csv" > /dev/null 2> "$T/badt.err"
expect_eq "a lastupdated that is not a timestamp: refused by column" \
    "$? $(grep -c 'badt.csv:2: lastupdated: column 8: "yesterday": not a DHIS2 timestamp' "$T/badt.err")" "1 1"
expect_eq "nothing of the refused file arrived" \
    "$(jq '[.dataValues[] | select(.period | startswith("2023"))] | length' "$T/export.json")" 0

# The same corpus imported centrally at a second aggregator.
agg_init central
for f in long.csv abbrev.csv noheader.csv single.json list.json; do
    agg central import "$D/$f" >> "$T/central.out" 2>&1
done
sed 's/can\.bo\.a1/aggregator/' "$T/want" | grep -v '^NTM8_' > "$T/want2"
printf 'dataelement,period,orgunit,value,followup\nNTM8_1,2024,27901,t,f\nNTM8_2,2024,27901,F,T\n' > "$T/b.csv"
agg central import "$T/b.csv" >> "$T/central.out" 2>&1
printf 'NTM8_1|2024|default|true|aggregator||false\nNTM8_2|2024|default|false|aggregator||true\n' >> "$T/want2"
LC_ALL=C sort -o "$T/want2" "$T/want2"
agg central export --format dhis2-json > "$T/export2.json"
jq -r "$fields" "$T/export2.json" | tr -d "\r" | LC_ALL=C sort > "$T/got2"
diag "$(diff "$T/want2" "$T/got2")"
# sort splits the two-line comment; compare as sorted lines on both sides.
check "central import: every field intact in the DHIS2 export" cmp -s "$T/want2" "$T/got2"
expect_eq "central import: created and lastUpdated from JSON" \
    "$(times "$T/export2.json" HGD_CAPQUANG_SO 2024Q1)" "2025-04-01T00:00:00.000Z 2025-04-03T00:00:00.000Z"
agg central import "$D/disagg.csv" > /dev/null 2> "$T/cdis.err"
rc=$?
expect_eq "central import refuses option combos by column" \
    "$rc $(grep -c 'disagg.csv:3: categoryoptioncombo: column 4:' "$T/cdis.err") $(grep -c 'disagg.csv:4: attributeoptioncombo: column 5: "NguonNSNN"' "$T/cdis.err")" \
    "1 1 1"
# The same in DHIS2 JSON (single form, set-level period and org unit):
# refused by dataValues entry at both ends, nothing stored.
agent a1 import "$D/disagg.json" > /dev/null 2> "$T/jdis.err"
rc=$?
diag "$(cat "$T/jdis.err")"
expect_eq "agent: JSON option combos refused by entry, field and value" \
    "$rc $(grep -c 'disagg.json:2: categoryoptioncombo: .*"NU"' "$T/jdis.err") $(grep -c 'disagg.json:3: attributeoptioncombo: .*"NguonNSNN"' "$T/jdis.err")" \
    "1 1 1"
agg central import "$D/disagg.json" > /dev/null 2> "$T/cjdis.err"
rc=$?
diag "$(cat "$T/cjdis.err")"
expect_eq "central: both JSON option combos refused, nothing stored" \
    "$rc $(grep -c 'disagg.json:[23]: .*optioncombo' "$T/cjdis.err") $(agg central export --period 2023Q1 | jq '.dataValues | length')" \
    "1 2 0"
agg central import --header "$D/noheader.csv" > /dev/null 2> "$T/h.err"
expect_eq "--header on a header-less file: refused, no duplicate-name message" \
    "$? $(grep -c 'missing column "dataelement"' "$T/h.err") $(grep -c duplicate "$T/h.err")" "1 1 0"

# Round trip cdsync -> DHIS2 CSV -> cdsync: the export imported into a
# fresh aggregator exports the same rows, storedBy, comment, followup and
# lastupdated included.
agg agg export --format dhis2-csv > "$T/rt1.csv"
agg_init rt
agg rt import "$T/rt1.csv" > /dev/null 2> "$T/rt.err"
check "round trip: the DHIS2 CSV export imports back" [ $? = 0 ]
agg rt export --format dhis2-csv > "$T/rt2.csv"
cut8() { /usr/bin/python3 -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
print(len(rows)); [print(r) for r in sorted(rows)]' "$1"; }
expect_eq "round trip: the export holds the header and the 12 values" \
    "$(cut8 "$T/rt1.csv" | head -1)" 13
expect_eq "round trip: identical rows, lastupdated included" "$(cut8 "$T/rt1.csv")" "$(cut8 "$T/rt2.csv")"

# created <= lastUpdated always (DHIS2 reads the reverse as invalid). A
# value entered at an agent 2 h slow before its daemon ever ran arrives
# after its stamp: created (its first arrival) is later than the stamp,
# so lastUpdated is created, never earlier. Every exported value obeys it.
if [ -n "$FT_LIB" ]; then
    agent_init a2 27904
    ft -2h "$AGENT" -c "$T/a2/agent.ini" submit --org-unit 27904 \
        --indicator TO_CNSCD --period 2024Q1 --value 5 > /dev/null 2>&1
    ft_agent_start a2 -2h
    check "slow agent delivers its offline value" wait_for 30 outbox_empty a2
    agg agg export --format dhis2-json > "$T/slow.json"
    expect_eq "slow agent's value: lastUpdated = created (its arrival)" \
        "$(jq -r '.dataValues[] | select(.orgUnit == "27904")
            | (.created == .lastUpdated)' "$T/slow.json")" true
    expect_eq "no exported value has created after lastUpdated" \
        "$(jq '[.dataValues[] | select(.created > .lastUpdated)] | length' "$T/slow.json")" 0
else
    not_ok "libfaketime missing (deploy/deps.sh)"; not_ok "-"; not_ok "-"
fi

# --include-deleted: a deleted value is exported with DHIS2's deleted
# field (true) so a receiving DHIS2 removes it; default: left out. ADX
# and the spreadsheet csv have no such field: refused, nothing written.
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2024Q4 \
    --delete > /dev/null 2>&1
check "agent delete delivered" wait_for 30 outbox_empty a1
del() { jq -r '[.dataValues[] | select(.orgUnit == "27901"
    and .dataElement == "TO_CNSCD" and .period == "2024Q4")
    | (.deleted | tostring)] | join(" ")' "$1"; }
agg agg export --format dhis2-json > "$T/nodel.json"
expect_eq "default: the deleted value is not exported" "$(del "$T/nodel.json")" ""
agg agg export --format dhis2-json --include-deleted > "$T/del.json"
expect_eq "--include-deleted JSON: the value with deleted true, live ones false" \
    "$(del "$T/del.json") $(jq '[.dataValues[] | .deleted] | unique | map(tostring) | join(",")' "$T/del.json")" \
    'true "false,true"'
agg agg export --format dhis2-csv --include-deleted > "$T/del.csv"
expect_eq "--include-deleted CSV: 11th column deleted, true on that row" \
    "$(head -1 "$T/del.csv" | tr -d '\r' | cut -d, -f11) $(grep -c '^TO_CNSCD,2024Q4,27901,.*,true.$' "$T/del.csv")" \
    "deleted 1"
for f in adx csv; do
    agg agg export --format $f --include-deleted > "$T/del.$f.out" 2> "$T/del.$f.err"
    expect_eq "--include-deleted with $f: usage error, nothing written" \
        "$? $(grep -c 'include-deleted: .* has no deleted field' "$T/del.$f.err") $(wc -c < "$T/del.$f.out")" \
        "2 1 0"
done
# The receiving side: the round-trip aggregator, which holds the value,
# removes it on importing that CSV.
agg rt export --format dhis2-json > "$T/rtbefore.json"
agg rt import "$T/del.csv" > /dev/null 2> "$T/rtdel.err"
check "the --include-deleted CSV imports" [ $? = 0 ]
agg rt export --format dhis2-json > "$T/rtdel.json"
expect_eq "... and the receiving aggregator no longer has the value" \
    "$(del "$T/rtbefore.json")/$(del "$T/rtdel.json")" "null/"

# --id-scheme uid: the ids of a DHIS2 instance from --id-map (kind,code,
# uid; the default combination as catoptcombo,default).
{ echo "kind,code,uid"; echo "orgunit,27901,OuCommune01"
  echo "catoptcombo,default,HllvX50cXC0"; i=0
  for de in HGD_CAPQUANG_SO NTM8_1 NTM8_2 NTM8_3 NTM8_4 TO_CNSCD_TV; do
      i=$((i + 1)); echo "dataelement,$de,DeElement0$i"; done
} > "$T/ids.csv"
agg agg export --org-unit 27901 --id-scheme uid --id-map "$T/ids.csv" \
    > "$T/uid.out" 2> "$T/uid.err"
expect_eq "an unmapped code: exit 1 naming it, nothing written" \
    "$? $(grep -c 'no uid for dataelement "TO_CNSCD"' "$T/uid.err") $(wc -c < "$T/uid.out")" "1 1 0"
echo "dataelement,TO_CNSCD,DeElement07" >> "$T/ids.csv"
agg agg export --org-unit 27901 --id-scheme uid --id-map "$T/ids.csv" > "$T/uid.json"
expect_eq "uid scheme: every id from the map" \
    "$(jq -r '[.dataValues[] | [.orgUnit, (.dataElement | test("^DeElement0[1-7]$")), .categoryOptionCombo, .attributeOptionCombo] | map(tostring) | join(" ")] | unique | join(",")' "$T/uid.json")" \
    "OuCommune01 true HllvX50cXC0 HllvX50cXC0"
expect_eq "uid scheme: the same values as the code export" \
    "$(jq '.dataValues | length' "$T/uid.json")" \
    "$(agg agg export --org-unit 27901 | jq '.dataValues | length')"
agg agg export --format dhis2-csv --id-scheme uid --id-map "$T/ids.csv" --org-unit 27901 > "$T/uid.csv"
expect_eq "uid scheme CSV: ids from the map" \
    "$(/usr/bin/python3 -c 'import csv, sys
print(sorted({",".join(r[2:5]) for r in list(csv.reader(open(sys.argv[1], newline="")))[1:]}))' "$T/uid.csv")" \
    "['OuCommune01,HllvX50cXC0,HllvX50cXC0']"
printf 'kind,code,uid\norgunit,27901,short\n' > "$T/badids.csv"
agg agg export --id-scheme uid --id-map "$T/badids.csv" > "$T/b.out" 2> "$T/b.err"
expect_eq "a map with a bad UID: refused by file:line: column" \
    "$? $(grep -c 'badids.csv:2: uid: not a DHIS2 UID' "$T/b.err") $(wc -c < "$T/b.out")" "1 1 0"
agg agg export --id-scheme uid > /dev/null 2>&1
expect_eq "--id-scheme uid without --id-map: usage (exit 2)" "$?" 2
agg agg export --format adx --id-scheme uid --id-map "$T/ids.csv" > /dev/null 2>&1
expect_eq "--id-scheme uid with adx: usage (exit 2)" "$?" 2

# --id-scheme name (DHIS2's idScheme=NAME): the catalog's and org-unit
# table's names, exact (Vietnamese), "default" for the default
# combination; --id-map kind,code,name overrides; a name two units share
# (a pre-reform and a post-reform commune both "Xã Bình Thành") is
# refused naming both, as DHIS2 could not resolve it either.
agg agg export --org-unit 27901 --id-scheme name > "$T/name.json"
agg agg export --org-unit 27901 > "$T/code.json"
names_of() { /usr/bin/python3 - "$CATALOG" "$ORGUNITS" "$1" <<'PY'
import csv, json, sys
cat = {r["code"]: r["name_vi"] for r in csv.DictReader(open(sys.argv[1], encoding="utf-8-sig"))}
ous = {r["code"]: r["name"] for r in csv.DictReader(open(sys.argv[2], encoding="utf-8-sig"))}
for v in json.load(open(sys.argv[3]))["dataValues"]:
    print(cat[v["dataElement"]], v["period"], ous[v["orgUnit"]], v["categoryOptionCombo"],
          v["attributeOptionCombo"], v["value"], v["storedBy"], v["comment"], str(v["followup"]).lower(), sep="|")
PY
}
ids_of() { jq -r '.dataValues[] | [.dataElement, .period, .orgUnit, .categoryOptionCombo,
    .attributeOptionCombo, .value, .storedBy, .comment, .followup] | map(tostring) | join("|")' "$1"; }
expect_eq "name scheme: every id is the catalog's / org-unit table's name, values unchanged" \
    "$(ids_of "$T/name.json" | sort)" "$(names_of "$T/code.json" | sort)"
expect_eq "name scheme: exact Vietnamese names, default combination \"default\"" \
    "$(jq -r '[.dataValues[] | select(.period == "2024Q1" and .value == "7") | .dataElement, .orgUnit, .categoryOptionCombo, .attributeOptionCombo] | join("|")' "$T/name.json")" \
    "Số Tổ công nghệ số cộng đồng|Xã Mỹ Quý Đông|default|default"
agg agg export --org-unit 27901 --id-scheme name --format dhis2-csv > "$T/name.csv"
expect_eq "name scheme CSV: the same names by column" \
    "$(/usr/bin/python3 -c 'import csv, sys
print(sorted({"|".join(r[2:5]) for r in list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))[1:]}))' "$T/name.csv")" \
    "['Xã Mỹ Quý Đông|default|default']"
printf 'kind,code,name\norgunit,27901,"Mỹ Quý Đông, xã (DHIS2)"\ndataelement,TO_CNSCD,Tổ CNSCD\n' > "$T/names.csv"
agg agg export --org-unit 27901 --id-scheme name --id-map "$T/names.csv" > "$T/name2.json"
expect_eq "name scheme --id-map: the map's names override, the rest from the catalog" \
    "$(jq -r '[.dataValues[] | select(.period == "2024Q1" and .value == "7") | .dataElement, .orgUnit] | join("|")' "$T/name2.json") $(jq '[.dataValues[] | select(.dataElement == "Số thành viên Tổ công nghệ số cộng đồng")] | length' "$T/name2.json")" \
    "Tổ CNSCD|Mỹ Quý Đông, xã (DHIS2) 3"
printf 'dataelement,period,orgunit,value\nTO_CNSCD,2024Q1,27916,3\n' > "$T/bt.csv"
agg agg import "$T/bt.csv" > /dev/null 2>&1
agg agg export --org-unit 27916 --id-scheme name > "$T/amb.out" 2> "$T/amb.err"
rc=$?
diag "$(cat "$T/amb.err")"
expect_eq "name scheme: a name two units share is refused naming both, nothing written" \
    "$rc $(grep -c 'orgunit "27916" and "27868-2025" are both named "Xã Bình Thành"' "$T/amb.err") $(wc -c < "$T/amb.out")" \
    "1 1 0"
printf 'kind,code,name\norgunit,27916,Xã Bình Thành (huyện Đức Huệ cũ)\n' > "$T/names2.csv"
agg agg export --org-unit 27916 --id-scheme name --id-map "$T/names2.csv" > "$T/amb.json"
expect_eq "... and exported once the map names one of them" \
    "$(jq -r '.dataValues[0].orgUnit' "$T/amb.json")" "Xã Bình Thành (huyện Đức Huệ cũ)"
printf 'kind,code,name\norgunit,27901,Xã Mỹ Thạnh Bắc\n' > "$T/names3.csv"
agg agg export --org-unit 27901 --id-scheme name --id-map "$T/names3.csv" > /dev/null 2> "$T/amb3.err"
expect_eq "a map name that another unit already has: refused naming both" \
    "$? $(grep -c 'orgunit "27901" and "27904" are both named' "$T/amb3.err")" "1 1"
printf 'kind,code,name\norgunit,27901,\n' > "$T/badnames.csv"
agg agg export --id-scheme name --id-map "$T/badnames.csv" > /dev/null 2> "$T/bn.err"
expect_eq "a map with an empty name: refused by file:line: column" \
    "$? $(grep -c 'badnames.csv:2: name: not a DHIS2 name' "$T/bn.err")" "1 1"
for a in "--format adx --id-scheme name" "--format csv --id-scheme name" \
         "--id-scheme code --id-map $T/names.csv" "--id-scheme nom"; do
    agg agg export $a > "$T/u.out" 2>&1
    expect_eq "export $a: usage (exit 2)" "$?" 2
done

# Every export validated as DHIS2 reads it (dhis2_validate.py: field
# names and order, types, DHIS2 period ids, ISO times, created <=
# lastUpdated, deleted): codes, UIDs, names, with the deleted values.
for f in export.json del.json uid.json name.json; do
    expect_eq "DHIS2 validation of the JSON export ($f)" \
        "$(/usr/bin/python3 "$(dirname "$0")/dhis2_validate.py" json "$T/$f")" \
        "$(jq '.dataValues | length' "$T/$f")"
done
for f in rt1.csv del.csv uid.csv name.csv; do
    expect_eq "DHIS2 validation of the CSV export ($f)" \
        "$(/usr/bin/python3 "$(dirname "$0")/dhis2_validate.py" csv "$T/$f")" \
        "$(($(cut8 "$T/$f" | head -1) - 1))"
done
# and a bad one is caught: ADX periods in JSON, created after lastUpdated
jq '.dataValues[0].period = "2024-01-01/P3M" | .dataValues[1].created = "2999-01-01T00:00:00.000Z"' \
    "$T/export.json" > "$T/bad.json"
expect_eq "the validator refuses an ADX period and created after lastUpdated" \
    "$(/usr/bin/python3 "$(dirname "$0")/dhis2_validate.py" json "$T/bad.json" | grep -c 'period: not a DHIS2 period\|created after lastUpdated')" 2

# Round trip cdsync -> DHIS2 JSON -> cdsync: the corpus's values with
# storedBy, comment (a CRLF line break in one), followup, created and
# lastUpdated identical; and through ADX, the values and comments.
agg agg export --format dhis2-json > "$T/rtj1.json"
agg_init rtj
agg rtj import "$T/rtj1.json" > /dev/null 2>&1
check "round trip JSON: the export imports back" [ $? = 0 ]
agg rtj export --format dhis2-json > "$T/rtj2.json"
expect_eq "round trip JSON: identical documents, every field" \
    "$(jq -S -c . "$T/rtj2.json")" "$(jq -S -c . "$T/rtj1.json")"
expect_eq "... holding the corpus's storedBy, two-line comment and followup" \
    "$(jq -r '.dataValues[] | select(.orgUnit == "27901" and .dataElement == "TO_CNSCD_TV" and .period == "2024Q1") | [.storedBy, .comment, .followup] | map(tostring) | join("|")' "$T/rtj2.json" | tr -d '\r')" \
    "tran.thi.b|dòng một
dòng hai|false"
agg agg export --format adx > "$T/rta.adx"
agg_init rta
agg rta import "$T/rta.adx" > /dev/null 2>&1
vc='[.dataValues[] | [.dataElement, .period, .orgUnit, .value, .comment] | join("|")] | sort'
expect_eq "round trip ADX: the same values and comments" \
    "$(agg rta export | jq -c "$vc")" "$(jq -c "$vc" "$T/rtj1.json")"

# import --id-scheme uid|name (DHIS2's idScheme=UID/NAME, the reverse of
# export's): the corpus's long.csv written with DHIS2 UIDs (dhis2/uid.csv,
# its map dhis2/uid-map.csv) imports at an agent and centrally exactly as
# the code version does, storedBy, comment, followup and times included;
# an id the map lacks is refused naming file:line, the field and the id,
# nothing queued; export --id-scheme uid|name -> import with the same
# scheme -> export is identical.
M=$D/uid-map.csv
agent_init a3 27901; agent_init a4 27901
agent a3 import "$D/long.csv" > /dev/null 2>&1
agent a4 import --id-scheme uid --id-map "$M" "$D/uid.csv" > "$T/u4.out" 2> "$T/u4.err"
diag "$(cat "$T/u4.err")"
check "agent: the UID file imports with the map" grep -q '^queued 2 ' "$T/u4.out"
ob='SELECT org_unit, indicator, period, disagg, value, deleted, comment,
    stored_by, followup, created_ms, updated_ms FROM outbox ORDER BY seq;'
sqlq "$(agent_db a4)" "$ob" > "$T/u4.rows"
diag "$(cat "$T/u4.rows")"
expect_eq "agent: every field as the code version's import" \
    "$(cat "$T/u4.rows")" "$(sqlq "$(agent_db a3)" "$ob")"
expect_eq "... which holds the file's codes, storedBy, comment and followup" \
    "$(grep -c '^27901|TO_CNSCD|2024Q1|default|7|0|Tổ ấp 3, mới lập|nguyen.van.a|1|' "$T/u4.rows")" 1
sed 's/^DeToCnscdTv,/fbfJHSPpUQD,/' "$D/uid.csv" > "$T/uidbad.csv"
agent a4 import --id-scheme uid --id-map "$M" "$T/uidbad.csv" > /dev/null 2> "$T/ub.err"
rc=$?
diag "$(cat "$T/ub.err")"
expect_eq "agent: an id the map lacks refused by file:line, field and id; nothing queued" \
    "$rc $(grep -Fc "uidbad.csv:3: dataelement: column 1: \"fbfJHSPpUQD\": no row in id map $M" "$T/ub.err") $(agent_depth a4)" \
    "1 1 2"
agent a4 import "$D/uid.csv" > /dev/null 2> "$T/ucode.err"
expect_eq "agent: UIDs read as codes (no --id-scheme) are unknown, not guessed" \
    "$? $(grep -c 'uid.csv:3: dataelement: .*"DeToCnscdTv": not in the catalog' "$T/ucode.err")" "1 1"
agent a4 import --id-scheme uid "$D/uid.csv" > /dev/null 2>&1
expect_eq "agent: --id-scheme uid without a map: usage (exit 2)" "$?" 2
printf 'id_scheme = uid\nid_map = %s\n' "$M" >> "$T/a4/agent.ini"
agent a4 import "$D/uid.csv" > /dev/null 2>&1
expect_eq "agent: scheme and map set in agent.ini (the same rows again: 4 queued)" \
    "$? $(agent_depth a4)" "0 4"

agg_init cc; agg_init cu
agg cc import "$D/long.csv" > /dev/null 2>&1
agg cu import --id-scheme uid --id-map "$M" "$D/uid.csv" > "$T/cu.out" 2>&1
diag "$(cat "$T/cu.out")"
check "central: the UID file imports with the map" grep -q '2 applied, 0 rejected' "$T/cu.out"
vals='[.dataValues[] | del(.created)] | sort_by(.dataElement, .period)'
expect_eq "central: every field as the code version's import" \
    "$(agg cu export | jq -c "$vals")" "$(agg cc export | jq -c "$vals")"
agg cu import --id-scheme uid --id-map "$M" "$T/uidbad.csv" > /dev/null 2> "$T/cub.err"
expect_eq "central: an id the map lacks refused by file:line, field and id" \
    "$? $(grep -Fc "uidbad.csv:3: dataelement: column 1: \"fbfJHSPpUQD\": no row in id map $M" "$T/cub.err")" "1 1"
agg cu import --id-scheme uid "$D/uid.csv" > /dev/null 2>&1
expect_eq "central: --id-scheme uid without a map: usage (exit 2)" "$?" 2

# Round trips through the UID and name schemes (values of 27901; the map
# of the export tests above).
agg agg export --org-unit 27901 --id-scheme uid --id-map "$T/ids.csv" > "$T/rtu1.json"
agg agg export --org-unit 27901 --id-scheme uid --id-map "$T/ids.csv" --format dhis2-csv > "$T/rtu1.csv"
agg_init rtu; agg_init rtuc
agg rtu import --id-scheme uid --id-map "$T/ids.csv" "$T/rtu1.json" > /dev/null 2> "$T/rtu.err"
check "round trip uid JSON: imports back with the map" [ $? = 0 ]
agg rtu export --id-scheme uid --id-map "$T/ids.csv" > "$T/rtu2.json"
expect_eq "round trip uid JSON: identical documents, every field" \
    "$(jq -S -c . "$T/rtu2.json")" "$(jq -S -c . "$T/rtu1.json")"
agg rtuc import --id-scheme uid --id-map "$T/ids.csv" "$T/rtu1.csv" > /dev/null 2>&1
agg rtuc export --id-scheme uid --id-map "$T/ids.csv" --format dhis2-csv > "$T/rtu2.csv"
expect_eq "round trip uid CSV: identical rows ($(($(cut8 "$T/rtu1.csv" | head -1) - 1)) values)" \
    "$(cut8 "$T/rtu2.csv")" "$(cut8 "$T/rtu1.csv")"
agg agg export --org-unit 27901 --id-scheme name > "$T/rtn1.json"
agg_init rtn
agg rtn import --id-scheme name "$T/rtn1.json" > /dev/null 2> "$T/rtn.err"
diag "$(cat "$T/rtn.err")"
agg rtn export --id-scheme name > "$T/rtn2.json"
expect_eq "round trip name JSON (catalog and org-unit names): identical" \
    "$(jq -S -c . "$T/rtn2.json")" "$(jq -S -c . "$T/rtn1.json")"
agg agg export --org-unit 27901 --id-scheme name --format dhis2-csv > "$T/n.csv"
agg agg export --org-unit 27901 --format dhis2-csv > "$T/c.csv"
agent_init a5 27901; agent_init a6 27901
agent a5 import --id-scheme name "$T/n.csv" > /dev/null 2> "$T/a5.err"
diag "$(cat "$T/a5.err")"
agent a6 import "$T/c.csv" > /dev/null 2>&1
ob2='SELECT org_unit, indicator, period, disagg, value, deleted, comment,
     stored_by, followup, created_ms, updated_ms FROM outbox ORDER BY 1,2,3;'
expect_eq "agent: the name-scheme export imports by names as the code one by codes" \
    "$(sqlq "$(agent_db a5)" "$ob2")" "$(sqlq "$(agent_db a6)" "$ob2")"
printf 'dataelement,period,orgunit,value\nSố Tổ công nghệ số cộng đồng,2024Q1,Xã Bình Thành,3\n' > "$T/amb.csv"
agg rtn import --id-scheme name "$T/amb.csv" > /dev/null 2> "$T/ambi.err"
expect_eq "import by name: a name two units share refused naming both" \
    "$? $(grep -c 'amb.csv:2: orgunit: column 3: "Xã Bình Thành": names both 27916 and 27868-2025' "$T/ambi.err")" "1 1"
