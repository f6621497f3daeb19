#!/bin/bash
# Published metadata (issue 20, step 1): `metadata publish DIR` checks the
# files as a whole against the store, shows the diff in words, asks (or
# --yes), and stores a version signed by the aggregator's key; `metadata
# list/show/diff` read the history; a tampered version is found by its
# signature. Every expected count is worked out by hand below from the
# edits this script makes to copies of deploy/*.csv.
. "$(dirname "$0")/lib.sh"
echo "1..40"
agg_init agg
grep -q '^http_listen' "$T/agg/aggregator.ini" || echo "http_listen =" >> "$T/agg/aggregator.ini"
m=$T/m1
mkdir -p "$m"
cp "$TOP/deploy/catalog.csv" "$TOP/deploy/orgunits.csv" "$TOP/deploy/orgunit_map.csv" "$m/"

agg agg metadata publish "$m" < /dev/null > "$T/out" 2> "$T/err"
expect_eq "not a terminal, no --yes: exit 2" "$?" 2
check "... and says to add --yes" grep -q -- "add --yes" "$T/err"
expect_eq "... nothing stored" "$(aggq agg "SELECT count(*) FROM metadata_version")" 0

out=$(agg agg metadata publish "$m" --yes 2>&1)
diag "$out"
# deploy/catalog.csv: 42 lines = header + 41 indicators; orgunits.csv and
# orgunit_map.csv counted the same way (lines minus the header).
ncat=$(( $(grep -c '' "$m/catalog.csv") - 1 ))
nou=$(( $(grep -c '' "$m/orgunits.csv") - 1 ))
check "version 1: every catalog row added" grep -q "catalog.csv: added $ncat, changed 0, retired 0" <<< "$out"
check "version 1: every org unit added" grep -q "orgunits.csv: added $nou, changed 0" <<< "$out"
check "version 1 published" grep -q "published version 1" <<< "$out"

out=$(agg agg metadata publish "$m" --yes 2>&1)
check "same files again: nothing to publish" grep -q "version 1 is current; nothing to publish" <<< "$out"
expect_eq "... still one version" "$(aggq agg "SELECT count(*) FROM metadata_version")" 1

# A stored value for NTM8_4 at 27901 (central import: the store's only
# writer besides ingest).
printf 'dataelement,period,orgunit,value,storedby,comment\nNTM8_4,2025,27901,true,huyen,\n' > "$T/v.csv"
agg agg import "$T/v.csv" > /dev/null

# Removing an indicator with stored values is refused, nothing stored.
m2=$T/m2; cp -r "$m" "$m2"
grep -v '^NTM8_4,' "$m/catalog.csv" > "$m2/catalog.csv"
agg agg metadata publish "$m2" --yes > "$T/out" 2> "$T/err"
expect_eq "indicator in use removed: exit 1" "$?" 1
check "... names the indicator and its stored value" grep -q "indicator NTM8_4 has 1 stored values" "$T/err"

# Its value type changed: refused too.
sed 's/^\(NTM8_4,.*\),BOOLEAN,COUNT_TRUE,/\1,TEXT,NONE,/' "$m/catalog.csv" > "$m2/catalog.csv"
agg agg metadata publish "$m2" --yes > "$T/out" 2> "$T/err"
check "value_type of an indicator in use changed: refused" grep -q "value_type: indicator NTM8_4 has 1 stored values as BOOLEAN; it cannot become TEXT" "$T/err"

# A merge-map row naming a unit not in orgunits.csv: refused with file:line.
cp "$m/catalog.csv" "$m2/catalog.csv"
echo '27898,NOWHERE,2025-07-01,typo' >> "$m2/orgunit_map.csv"
line=$(grep -c '' "$m2/orgunit_map.csv")
agg agg metadata publish "$m2" --yes > "$T/out" 2> "$T/err"
check "merge map to an unknown unit: file:line: column named" grep -q "orgunit_map.csv:$line: new: not a unit of orgunits.csv" "$T/err"
expect_eq "... still one version" "$(aggq agg "SELECT count(*) FROM metadata_version")" 1

# A merge-map date that is not YYYY-MM-DD: refused, named.
cp "$m/orgunit_map.csv" "$m2/orgunit_map.csv"
echo '27901,27898-2025,20250701,no dashes' >> "$m2/orgunit_map.csv"
line=$(grep -c '' "$m2/orgunit_map.csv")
agg agg metadata publish "$m2" --yes > "$T/out" 2> "$T/err"
check "merge map date not YYYY-MM-DD: refused with file:line" grep -q "orgunit_map.csv:$line: from: expected YYYY-MM-DD" "$T/err"

# Version 2: two indicators added (copies of NTM8_3 as NEW_A, NEW_B), one
# changed (NTM8_2's English name), one retired (NTM8_1, no stored value).
cp "$m/orgunit_map.csv" "$m2/orgunit_map.csv"
{ grep -v '^NTM8_1,' "$m/catalog.csv" | sed 's/^\(NTM8_2,.*\),Commune has telecom\/internet service,/\1,Commune has telecom and internet,/'
  grep '^NTM8_3,' "$m/catalog.csv" | sed 's/^NTM8_3,/NEW_A,/'
  grep '^NTM8_3,' "$m/catalog.csv" | sed 's/^NTM8_3,/NEW_B,/'; } > "$m2/catalog.csv"
out=$(agg agg metadata publish "$m2" --yes 2>&1)
diag "$out"
check "version 2 diff: catalog added 2, changed 1, retired 1" grep -q "catalog.csv: added 2, changed 1, retired 1 (thêm 2, đổi 1, bỏ 1)" <<< "$out"
check "... names them" grep -q "retired / bỏ: NTM8_1" <<< "$out"
check "... other files unchanged, not listed" bash -c '! grep -q "orgunits.csv" <<< "$1"' _ "$out"
expect_eq "list: two versions" "$(agg agg metadata list | wc -l)" 2
expect_eq "list: version 2 says what changed" "$(agg agg metadata list | awk '$1 == 2' | grep -c 'catalog.csv: added 2, changed 1, retired 1')" 1

# Version 3: NTM8_4 (1 stored value) retired in favour of NTM8_4B, which
# names it in a new column `replaces`: allowed. The new, empty column
# changes no row: catalog added 1 (NTM8_4B), changed 0, retired 1.
m3=$T/m3; cp -r "$m2" "$m3"
{ awk 'NR == 1 { print $0 ",replaces"; next } !/^NTM8_4,/ { print $0 "," }' "$m2/catalog.csv"
  grep '^NTM8_4,' "$m2/catalog.csv" | sed 's/^NTM8_4,/NTM8_4B,/; s/$/,NTM8_4/'; } > "$m3/catalog.csv"
out=$(agg agg metadata publish "$m3" --yes 2>&1)
diag "$out"
check "retired with a named successor: published as version 3" grep -q "published version 3" <<< "$out"
check "... saying so" grep -q "NTM8_4: retired, replaced by NTM8_4B (its 1 stored values stay under NTM8_4)" <<< "$out"
check "... diff: added 1, changed 0, retired 1" grep -q "catalog.csv: added 1, changed 0, retired 1" <<< "$out"

agg agg metadata show 2 catalog.csv > "$T/shown.csv"
check "show 2 catalog.csv: the bytes published" cmp -s "$T/shown.csv" "$m2/catalog.csv"
check "diff 1 2 says what publish said" grep -q "catalog.csv: added 2, changed 1, retired 1" <<< "$(agg agg metadata diff 1 2)"

# migrate-store carries the versions, signatures intact (SQLite source
# only: migrate-store copies from SQLite; a new SQLite file as target).
if [ "$CDS_TEST_STORE" = pg ]; then
    ok "# SKIP migrate-store copies from a SQLite store"
else
    agg agg migrate-store --to "$T/copy.db" > /dev/null 2>&1
    expect_eq "migrate-store: the copy has the 3 versions, signatures good" \
        "$(agg agg --store "$T/copy.db" metadata list 2>/dev/null | grep -vc 'BAD SIGNATURE')" 3
fi

# Tampering: one byte of the stored bundle flipped (the triggers are the
# database's guard against mistakes, not against its owner: drop them).
hex=$(aggq agg "SELECT hex(bundle) FROM metadata_version WHERE version = 3")
pos=40; c=${hex:$pos:1}; f=$(printf '%X' $(( 0x$c ^ 1 )))
bad=${hex:0:$pos}$f${hex:$((pos + 1))}
if [ "$CDS_TEST_STORE" = pg ]; then
    aggq agg "ALTER TABLE metadata_version DISABLE TRIGGER USER; UPDATE metadata_version SET bundle = $(blob "$bad") WHERE version = 3" > /dev/null
else
    sqlq "$(agg_db agg)" "DROP TRIGGER metadata_version_no_update; UPDATE metadata_version SET bundle = X'$bad' WHERE version = 3" > /dev/null
fi
check "tampered version: show says BAD" grep -q "signature: BAD" <<< "$(agg agg metadata show 3 2>&1)"
check "... the others still good" grep -q "signature: good" <<< "$(agg agg metadata show 2 2>&1)"
agg agg metadata publish "$m" --yes > "$T/out" 2> "$T/err"
check "... and publish refuses to build on it" grep -q "version 3 in the store does not verify" "$T/err"

# Signed by another key: a second aggregator's store gets, as its version
# 2, agg's version 1 (a good signature, by agg's key, not agg2's).
agg_init agg2
echo "http_listen =" >> "$T/agg2/aggregator.ini"
agg agg2 metadata publish "$m" --yes > /dev/null 2>&1
expect_eq "agg2 has its own version 1" "$(aggq agg2 "SELECT count(*) FROM metadata_version")" 1
row=$(aggq agg "SELECT published_ms, hex(bundle), hex(signature), hex(signer) FROM metadata_version WHERE version = 1")
IFS='|' read -r ms b s k <<< "$row"
aggq agg2 "INSERT INTO metadata_version VALUES (2, $ms, $(blob "$b"), $(blob "$s"), $(blob "$k"), 'foreign')" > /dev/null
agg agg2 metadata publish "$m2" --yes > "$T/out" 2> "$T/err"
expect_eq "signed by another key: publish exits 1" "$?" 1
check "... saying the current version does not verify with its key" grep -q "version 2 in the store does not verify with this aggregator's key" "$T/err"

# At a terminal (script(1) gives the command one): asks y/N; N stores
# nothing, y publishes.
agg_init agg3
echo "http_listen =" >> "$T/agg3/aggregator.ini"
if ! command -v script > /dev/null; then
    for i in 1 2 3; do ok "# SKIP script(1) missing"; done
else
    cmd="$AGG -c $T/agg3/aggregator.ini metadata publish $m"
    out=$(printf 'n\n' | script -qec "$cmd" /dev/null 2>&1)
    check "terminal: asks y/N" grep -q "Publish as version 1? / Phát hành phiên bản 1? \[y/N\]" <<< "$out"
    expect_eq "... N: nothing stored" "$(aggq agg3 "SELECT count(*) FROM metadata_version")" 0
    printf 'y\n' | script -qec "$cmd" /dev/null > /dev/null 2>&1
    expect_eq "... y: version 1 stored" "$(aggq agg3 "SELECT count(*) FROM metadata_version")" 1
fi

# rules.csv and targets.csv: their loaders check them against the new
# catalog and org units. deploy/rules.csv has 13 lines (header + 12
# rules), deploy/targets.csv 12 (header + 11 targets).
agg_init agg4
echo "http_listen =" >> "$T/agg4/aggregator.ini"
m4=$T/m4; cp -r "$m" "$m4"
cp "$TOP/deploy/rules.csv" "$TOP/deploy/targets.csv" "$m4/"
echo 'R_BAD,Sai,NOPE_X,<=,HSCV_TONG,error,high,' >> "$m4/rules.csv"
agg agg4 metadata publish "$m4" --yes > "$T/out" 2> "$T/err"
expect_eq "a rule naming an indicator not in the catalog: exit 1" "$?" 1
check "... named by file:line (14)" grep -q "rules.csv:14:" "$T/err"
cp "$TOP/deploy/rules.csv" "$m4/"
out=$(agg agg4 metadata publish "$m4" --yes 2>&1)
check "rules.csv carried: added 12 (new file)" grep -q "rules.csv: added 12, changed 0, retired 0 (thêm 12, đổi 0, bỏ 0) (new file)" <<< "$out"
check "targets.csv carried: added 11 (new file)" grep -q "targets.csv: added 11, changed 0, retired 0 (thêm 11, đổi 0, bỏ 0) (new file)" <<< "$out"

# datasets.csv is checked against the new catalog too: a data set still
# naming an indicator the version does not have (retired, or a typo) is
# refused with file:line, nothing stored.
n4=$(aggq agg4 "SELECT count(*) FROM metadata_version")
cp "$TOP/deploy/datasets.csv" "$m4/"
echo 'DS_BAD,Sai,Yearly,31,NTM8_1 NOPE_Y,leaves:VN' >> "$m4/datasets.csv"
agg agg4 metadata publish "$m4" --yes > "$T/out" 2> "$T/err"
expect_eq "a data set naming an indicator not in the catalog: exit 1, nothing stored" \
    "$? $(aggq agg4 "SELECT count(*) FROM metadata_version")" "1 $n4"
check "... named by file:line ($(grep -c . "$m4/datasets.csv")) and the code" \
    grep -q "datasets.csv:$(grep -c . "$m4/datasets.csv"):.*NOPE_Y" "$T/err"
exit $FAILED
