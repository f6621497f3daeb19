#!/bin/sh
# Build every tests/fuzz/<target>_fuzz.c with clang + libFuzzer + ASan +
# UBSan and run each for FUZZ_SECONDS (default 60) on a corpus seeded from
# valid messages and files. Exits non-zero if any target crashes, leaks or
# trips a sanitizer; the reproducer is kept in build/fuzz/artifacts/.
#   FUZZ_SECONDS=20 sh tests/fuzz/run.sh [target ...]
# Each crash found must become a unit test (see docs/SECURITY.md).
set -eu
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-60}
FCC=${FUZZ_CC:-clang-14}
OUT=build/fuzz
PKGS="libczmq libzmq libprotobuf-c libsodium sqlite3 inih jansson libpq libxml-2.0"
mkdir -p "$OUT/obj" "$OUT/artifacts" "$OUT/seeds"
make --no-print-directory build/proto/cdsync.pb-c.h build/libcdsync.a >/dev/null
CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
-fno-sanitize-recover=all -D_GNU_SOURCE -std=gnu11 -Icommon -Ibuild/proto \
-Iagent -Itests/fuzz -DCDS_DATADIR=\"/usr/local/share/cdsync\" \
$(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lcsv -lm"

# The library code once, instrumented for coverage (fuzzer-no-link).
objs=""
for src in common/*.c build/proto/cdsync.pb-c.c agent/import.c \
           agent/import_adx.c agent/submit.c agent/entrycheck.c \
           agent/outbox.c; do
    o=$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ]; then
        # shellcheck disable=SC2086
        $FCC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$o"
    fi
    objs="$objs $o"
done

# Seeds: valid messages (seedgen) and the shipped files.
cc -D_GNU_SOURCE -std=gnu11 -Icommon -Ibuild/proto tests/fuzz/seedgen.c \
    build/libcdsync.a $LIBS -o "$OUT/seedgen"
"$OUT/seedgen" "$OUT/seeds"
mkdir -p "$OUT/seeds/config" "$OUT/seeds/catalog" "$OUT/seeds/csv_import"
cp deploy/agent.ini deploy/aggregator.ini "$OUT/seeds/config/"
cp deploy/catalog.csv "$OUT/seeds/catalog/"
mkdir -p "$OUT/seeds/targets" && cp deploy/targets.csv "$OUT/seeds/targets/"
cat > "$OUT/seeds/csv_import/ok.csv" <<CSV
dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup,deleted
TTHC_TONG,202501,27901,,,12,can.bo,,"ghi chú, một",false,false
HGD_CAPQUANG,2025Q1,27904,default,,87.5,,,,true,
NTM8_4,2024,27901,,,có,,,,,
TTHC_TONG,202502,27901,,,,,,,,true
CSV
printf 'orgunit;value\n"unterminated,1\n' > "$OUT/seeds/csv_import/bad.csv"
# The DHIS2 corpus: abbreviated and absent headers, JSON single-form.
cp tests/integration/dhis2/* "$OUT/seeds/csv_import/"
# adx_import: a good document (numbers, a BOOLEAN in its annotation, a
# comment, a category attribute) and a DOCTYPE one (cds_adx.h)
mkdir -p "$OUT/seeds/adx_import"
cat > "$OUT/seeds/adx_import/ok.adx" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<adx xmlns="urn:ihe:qrph:adx:2015" exported="2025-04-02T00:00:00Z">
  <group dataSet="CDS_XA_QUY" orgUnit="27901" period="2025-01-01/P3M">
    <dataValue dataElement="HGD_TONG" value="1000"><annotation>ghi chú</annotation></dataValue>
    <dataValue dataElement="HGD_CAPQUANG_SO" SEX="F" value="900"/>
  </group>
  <group dataSet="NTM_TC8" orgUnit="27904" period="2024-01-01/P1Y">
    <dataValue dataElement="NTM8_1" value="0"><annotation>true</annotation></dataValue>
  </group>
</adx>
XML
printf '<!DOCTYPE adx [<!ENTITY a "b">]><adx xmlns="urn:ihe:qrph:adx:2015">&a;</adx>' \
    > "$OUT/seeds/adx_import/doctype.adx"
# rule: expressions in both operand forms (cds_rule.h)
mkdir -p "$OUT/seeds/rule"
printf 'HGD_CAPQUANG_SO * 100 / HGD_TONG' > "$OUT/seeds/rule/ratio"
printf '#{A1} - (-2.5e1 + #{B_2}) / (A3 * 4)' > "$OUT/seeds/rule/dhis2"
# carry: a batches file after its magic line, without its checksum (the
# harness adds both): summary, header (version 1, kind 1, two 32-byte
# keys, count 1), one 3-byte record.
mkdir -p "$OUT/seeds/carry"
{ printf 'summary-bytes 4\nabc\n\112\000\000\000\010\001\020\001\032\040'
  head -c 32 /dev/zero; printf '\042\040'; head -c 32 /dev/zero
  printf '\110\001\003\000\000\000xyz'; } > "$OUT/seeds/carry/one"

targets=${*:-$(ls tests/fuzz/*_fuzz.c | sed 's#tests/fuzz/##; s#_fuzz\.c##')}
failed=""
for t in $targets; do
    # shellcheck disable=SC2086
    $FCC $CFLAGS -fsanitize=fuzzer "tests/fuzz/${t}_fuzz.c" $objs $LIBS \
        -o "$OUT/${t}_fuzz"
    seeds=$OUT/seeds/$t
    mkdir -p "$OUT/corpus/$t" "$seeds"
    echo "fuzz: $t for ${SECS}s"
    if ! CDS_FUZZ_CATALOG=deploy/catalog.csv \
        "$OUT/${t}_fuzz" -max_total_time="$SECS" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/${t}-" \
        "$OUT/corpus/$t" "$seeds" > "$OUT/$t.log" 2>&1; then
        echo "fuzz: $t FAILED (log: $OUT/$t.log)"
        grep -A30 'ERROR\|runtime error' "$OUT/$t.log" | head -40
        failed="$failed $t"
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' \
            "$OUT/$t.log" | tail -1 | sed "s/^/fuzz: $t: /"
    fi
done
[ -z "$failed" ] || { echo "fuzz: failed:$failed"; exit 1; }
echo "fuzz: all targets clean"
