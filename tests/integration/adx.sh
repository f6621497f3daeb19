#!/bin/bash
# ADX (issue 17 item 3): `export --format adx` validates against our own
# ADX schema (tests/integration/adx.xsd, written from the profile's
# description), imports into a fresh aggregator and, through an agent's
# `import FILE.adx` and the wire, into another one with the same values;
# a file written the way DHIS2 documents ADX imports at both ends; bad
# values are refused naming file:line and the value, nothing applied;
# hostile XML (billion laughs, external entity, huge attribute, deep
# nesting) is refused with a clear message; --adx-periods is refused
# with the DHIS2 JSON/CSV formats.
. "$(dirname "$0")/lib.sh"
echo "1..33"
XSD=$TOP/tests/integration/adx.xsd
no_http() { grep -q '^http_listen =$' "$T/$1/aggregator.ini" || echo "http_listen =" >> "$T/$1/aggregator.ini"; }
agg_init agg; no_http agg

cat > "$T/fix.csv" <<'CSV'
dataelement,period,orgunit,value,storedby,comment
HGD_TONG,2025Q1,27901,1000,huyen,"ghi chú <&> ""biên bản"" 12/4"
HGD_CAPQUANG_SO,2025Q1,27901,900,huyen,
TTHC_TONG,202503,27901,12,huyen,
NTM8_1,2024,27901,true,huyen,
HGD_TONG,2025Q1,27904,200,huyen,
CSV
out=$(agg agg import "$T/fix.csv")
check "values imported centrally" grep -q "5 applied, 0 rejected" <<< "$out"

agg agg export --format adx > "$T/export.adx"
diag "$(head -c 600 "$T/export.adx")"
check "export validates against the ADX schema" \
    xmllint --noout --nonet --schema "$XSD" "$T/export.adx"
expect_eq "one group per data set, org unit and period" \
    "$(xmllint --xpath 'count(//*[local-name()="group"])' "$T/export.adx")" 4
expect_eq "quarter as ADX period under its data set" \
    "$(xmllint --xpath 'string(//*[local-name()="group"][@orgUnit="27901"][@period="2025-01-01/P3M"]/@dataSet)' "$T/export.adx")" \
    "CDS_XA_QUY"
expect_eq "BOOLEAN as DHIS2 writes it: value 0, the value in the annotation" \
    "$(xmllint --xpath 'string(//*[@dataElement="NTM8_1"]/@value)' "$T/export.adx")/$(xmllint --xpath 'string(//*[@dataElement="NTM8_1"]/*)' "$T/export.adx")" \
    "0/true"
expect_eq "comment as annotation, escaped by the writer" \
    "$(xmllint --xpath 'string(//*[@orgUnit="27901"]/*[@dataElement="HGD_TONG"]/*)' "$T/export.adx")" \
    'ghi chú <&> "biên bản" 12/4'

# round trip through a fresh aggregator's central import
agg_init fresh; no_http fresh
out=$(agg fresh import "$T/export.adx")
check "ADX imports into a fresh aggregator" grep -q "5 applied, 0 rejected" <<< "$out"
strip='[.dataValues[] | del(.created, .lastUpdated, .storedBy)] | sort_by(.orgUnit, .dataElement, .period)'
agg agg export --format dhis2-json > "$T/a.json"
agg fresh export --format dhis2-json > "$T/b.json"
expect_eq "round trip: the same values and comments" \
    "$(jq -c "$strip" "$T/a.json")" "$(jq -c "$strip" "$T/b.json")"
agg fresh export --format adx > "$T/export2.adx"
expect_eq "round trip: the same ADX document (but its export time)" \
    "$(grep -v '<adx ' "$T/export.adx" | md5sum)" "$(grep -v '<adx ' "$T/export2.adx" | md5sum)"

# an agent imports the ADX file and delivers it to a third aggregator
agg_init far; no_http far
agent_init a1 27901 far
agg agg export --format adx --org-unit 27901 --no-subtree > "$T/commune.adx"
out=$(agent a1 import "$T/commune.adx")
check "agent queues the ADX file" grep -q "queued 4 updates" <<< "$out"
agg_start far
agent_start a1
check "agent outbox drains" wait_for 20 outbox_empty a1
agg far export --format adx > "$T/far.adx"
expect_eq "agent round trip: the same ADX groups and values" \
    "$(grep -v '<adx ' "$T/commune.adx" | md5sum)" "$(grep -v '<adx ' "$T/far.adx" | md5sum)"
agent_stop a1

# a file written the way DHIS2's documentation shows ADX
cat > "$T/dhis2.adx" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<adx xmlns="urn:ihe:qrph:adx:2015"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     exported="2025-07-15T08:30:00Z">
  <group orgUnit="27904" period="2025-04-01/P3M" completeDate="2025-07-10"
         dataSet="CDS_XA_QUY">
    <dataValue dataElement="HGD_TONG" value="320"/>
    <dataValue dataElement="HGD_CAPQUANG_SO" value="20">
      <annotation>theo báo cáo quý II</annotation>
    </dataValue>
  </group>
  <group orgUnit="27904" period="2025-06-01/P1M" dataSet="DVC_THANG">
    <dataValue dataElement="TTHC_TONG" value="7"/>
  </group>
  <group orgUnit="27904" period="2024-01-01/P1Y" dataSet="NTM_TC8">
    <dataValue dataElement="NTM8_2" value="0"><annotation>true</annotation></dataValue>
  </group>
</adx>
XML
check "the DHIS2-style file is valid against the schema" \
    xmllint --noout --nonet --schema "$XSD" "$T/dhis2.adx"
out=$(agg fresh import "$T/dhis2.adx")
check "DHIS2-style ADX imports at the aggregator" grep -q "4 applied, 0 rejected" <<< "$out"
expect_eq "its values, period and annotation kept" \
    "$(agg fresh export --format dhis2-json --org-unit 27904 --period 2025Q2 | jq -r '[.dataValues[] | "\(.dataElement)=\(.value):\(.comment)"] | sort | join(" ")')" \
    "HGD_CAPQUANG_SO=20:theo báo cáo quý II HGD_TONG=320: TTHC_TONG=7:"
sed 's/27904/27901/' "$T/dhis2.adx" > "$T/dhis2-commune.xml"
out=$(agent a1 import "$T/dhis2-commune.xml")
check "DHIS2-style ADX (.xml) imports at the agent" grep -q "queued 4 updates" <<< "$out"

# bad values: named by file:line and value, nothing applied
cat > "$T/bad.adx" <<'XML'
<adx xmlns="urn:ihe:qrph:adx:2015">
  <group orgUnit="27904" period="2025-01-01/P3M" dataSet="CDS_XA_QUY">
    <dataValue dataElement="HGD_TONG" value="5"/>
    <dataValue dataElement="NO_SUCH" value="5"/>
    <dataValue dataElement="HGD_CAPQUANG_SO" SEX="F" value="5"/>
  </group>
  <group orgUnit="99999" period="2025-01-01/P3M" dataSet="CDS_XA_QUY">
    <dataValue dataElement="HGD_TONG" value="5"/>
  </group>
  <group orgUnit="27904" period="2025-01-02/P3M" dataSet="CDS_XA_QUY">
    <dataValue dataElement="HGD_TONG" value="5"/>
  </group>
</adx>
XML
before=$(agg fresh export --format dhis2-json | md5sum)
agg fresh import "$T/bad.adx" > /dev/null 2> "$T/bad.err"
rc=$?
diag "$(cat "$T/bad.err")"
expect_eq "bad values: exit 1, each named by line" \
    "$rc $(grep -c 'bad.adx:4: .*NO_SUCH' "$T/bad.err") $(grep -c 'bad.adx:5: .*SEX=F' "$T/bad.err") $(grep -c 'bad.adx:8: orgunit' "$T/bad.err") $(grep -c 'bad.adx:11: period' "$T/bad.err")" \
    "1 1 1 1 1"
expect_eq "bad values: nothing applied" "$(agg fresh export --format dhis2-json | md5sum)" "$before"
depth=$(agent_depth a1)
sed 's/27904/27901/' "$T/bad.adx" > "$T/bad-commune.adx"
agent a1 import "$T/bad-commune.adx" > /dev/null 2> "$T/bada.err"
rc=$?
diag "$(cat "$T/bada.err")"
expect_eq "agent: bad values refused by line, nothing queued" \
    "$rc $(grep -c 'bad-commune.adx:4: .*NO_SUCH' "$T/bada.err") $(grep -c 'bad-commune.adx:5: .*SEX=F' "$T/bada.err") $(agent_depth a1)" \
    "1 1 1 $depth"

# import_both FILE: at the aggregator and the agent; exit codes in rc1
# and rc2, standard error in $T/FILE.err1 and $T/FILE.err2
import_both() {
    agg fresh import "$T/$1" > /dev/null 2> "$T/$1.err1"; rc1=$?
    agent a1 import "$T/$1" > /dev/null 2> "$T/$1.err2"; rc2=$?
    diag "$1: $(head -3 "$T/$1.err1" "$T/$1.err2" | tr '\n' ' ')"
}

# an attribute option combination, a BOOLEAN without its annotation
cat > "$T/aoc.adx" <<'XML'
<adx xmlns="urn:ihe:qrph:adx:2015">
  <group orgUnit="27901" period="2024-01-01/P1Y" dataSet="NTM_TC8"
         attributeOptionCombo="NguonNSNN">
    <dataValue dataElement="NTM8_3" value="0"><annotation>true</annotation></dataValue>
  </group>
  <group orgUnit="27901" period="2024-01-01/P1Y" dataSet="NTM_TC8">
    <dataValue dataElement="NTM8_4" value="1"/>
  </group>
</adx>
XML
import_both aoc.adx
aoc='aoc.adx:4: attributeOptionCombo: "NguonNSNN"'
expect_eq "attribute option combination refused at both ends, by line" \
    "$rc1 $rc2 $(grep -c "$aoc" "$T/aoc.adx.err1") $(grep -c "$aoc" "$T/aoc.adx.err2")" \
    "1 1 1 1"
expect_eq "agent: a BOOLEAN without its annotation named" \
    "$(grep -c 'aoc.adx:7: value: NTM8_4 takes its value from an <annotation>' "$T/aoc.adx.err2")" 1

# hostile XML
cat > "$T/laughs.adx" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE adx [
 <!ENTITY a "aaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
 <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="27901" period="2025-01-01/P3M" dataSet="X">
<dataValue dataElement="HGD_TONG" value="1"><annotation>&i;</annotation></dataValue></group></adx>
XML
cat > "$T/xxe.adx" <<'XML'
<?xml version="1.0"?>
<!DOCTYPE adx [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>
<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="27901" period="2025-01-01/P3M" dataSet="X">
<dataValue dataElement="HGD_TONG" value="1"><annotation>&x;</annotation></dataValue></group></adx>
XML
{ printf '<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="27901" period="2025-01-01/P3M" dataSet="'
  head -c 100000 /dev/zero | tr '\0' 'A'
  printf '"><dataValue dataElement="HGD_TONG" value="1"/></group></adx>\n'; } > "$T/huge.adx"
{ printf '<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="27901" period="2025-01-01/P3M" dataSet="X"><dataValue dataElement="HGD_TONG" value="1"><annotation>'
  for i in $(seq 1 5000); do printf '<x>'; done; printf '\n'; } > "$T/deep.adx"
hostile() {   # FILE PATTERN: refused at both ends with that message
    local f=$1 pat=$2
    import_both "$f"
    [ "$rc1" = 1 ] && [ "$rc2" = 1 ] && grep -q "$f:[0-9]*: .*$pat" "$T/$f.err1" \
        && grep -q "$f:[0-9]*: .*$pat" "$T/$f.err2"
}
check "billion laughs refused (DOCTYPE at line 2)" hostile laughs.adx "DOCTYPE is not allowed"
check "... named at its line" grep -q "laughs.adx:2: a DOCTYPE" "$T/laughs.adx.err1"
check "external entity refused (DOCTYPE), /etc/passwd never read" hostile xxe.adx "DOCTYPE is not allowed"
check "huge attribute refused" hostile huge.adx "longer than 4096 bytes"
check "deep nesting refused" hostile deep.adx "nested deeper than"
expect_eq "hostile files: nothing applied or queued" \
    "$(agg fresh export --format dhis2-json | md5sum) $(agent_depth a1)" "$before $depth"

agg agg export --format dhis2-json --adx-periods > /dev/null 2> "$T/adxp.err"
expect_eq "--adx-periods with dhis2-json: usage error naming --format adx" \
    "$? $(grep -c 'format adx' "$T/adxp.err")" "2 1"

# The DHIS2-style file with DHIS2 UIDs (tests/integration/dhis2/uid.adx,
# its map dhis2/uid-map.csv: dataSet, orgUnit, dataElement and the
# default attribute/category option combination as UIDs) imports with
# --id-scheme uid --id-map at both ends as the code version does; an id
# the map lacks is refused naming file:line, the attribute and the id.
U=$TOP/tests/integration/dhis2
agg_init cx; no_http cx; agg_init ux; no_http ux
agg cx import "$T/dhis2.adx" > /dev/null 2>&1
out=$(agg ux import --id-scheme uid --id-map "$U/uid-map.csv" "$U/uid.adx" 2>&1)
diag "$out"
check "central: the UID ADX file imports with the map" grep -q "4 applied, 0 rejected" <<< "$out"
vals='[.dataValues[] | del(.created, .lastUpdated)] | sort_by(.dataElement, .period)'
expect_eq "central: the same values, comments and units as the code version" \
    "$(agg ux export | jq -c "$vals")" "$(agg cx export | jq -c "$vals")"
agent_init ac 27901 far; agent_init au 27901 far
sed 's/OuCommune04/OuCommune01/' "$U/uid.adx" > "$T/uid-commune.adx"
agent ac import "$T/dhis2-commune.xml" > /dev/null 2>&1
out=$(agent au import --id-scheme uid --id-map "$U/uid-map.csv" "$T/uid-commune.adx" 2>&1)
diag "$out"
check "agent: the UID ADX file queues with the map" grep -q "queued 4 updates" <<< "$out"
# (stored_by: each agent's own, ADX has no storedBy)
ob='SELECT org_unit, indicator, period, disagg, value, deleted, comment,
    followup FROM outbox ORDER BY 2, 3;'
expect_eq "agent: the same rows as the code version" \
    "$(sqlq "$(agent_db au)" "$ob")" "$(sqlq "$(agent_db ac)" "$ob")"
sed 's/"DeHgdTong01"/"fbfJHSPpUQD"/' "$T/uid-commune.adx" > "$T/uidbad.adx"
agg ux import --id-scheme uid --id-map "$U/uid-map.csv" "$T/uidbad.adx" > /dev/null 2> "$T/ub1.err"
rc1=$?
agent au import --id-scheme uid --id-map "$U/uid-map.csv" "$T/uidbad.adx" > /dev/null 2> "$T/ub2.err"
rc2=$?
diag "$(cat "$T/ub1.err" "$T/ub2.err")"
ub="uidbad.adx:7: dataElement: \"fbfJHSPpUQD\": no row in id map $U/uid-map.csv"
expect_eq "an id the map lacks: refused at both ends by line, attribute and id; nothing queued" \
    "$rc1 $rc2 $(grep -Fc "$ub" "$T/ub1.err") $(grep -Fc "$ub" "$T/ub2.err") $(agent_depth au)" \
    "1 1 1 1 4"
