#!/bin/bash
# One meaning for every signed byte: a second, independent decoder (Google
# protobuf in Python, tests/python/decode_check.py) reads the batches a real
# aggregator kept, recomputes every content hash and the chain from the
# documented layout, and must agree with what the aggregator stored. A
# tampered copy must be caught. The agent refuses control bytes in text
# fields with file, line and field.
. "$(dirname "$0")/lib.sh"
echo "1..10"
# Debian's python3-protobuf lives in /usr/bin/python3's dist-packages; a
# python3 earlier on PATH (pyenv, venv) may not see it.
PY=""
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import google.protobuf' 2>/dev/null; then PY=$p; break; fi
done
if ! command -v protoc >/dev/null || [ -z "$PY" ]; then
    for i in 1 2 3 4 5 6 7 8 9 10; do echo "ok $i - # SKIP protoc or python3-protobuf missing (deploy/deps.sh)"; done
    exit 0
fi
agg_init agg
agent_init a1 27901
agg_start agg
agent_start a1

agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q2 --value 7 \
    --comment "$(printf 'Tổ ấp 3\r\nmới lập\tok')" --stored-by "cán bộ Lê" > /dev/null &&
agent a1 submit --org-unit 27901 --indicator NTM8_4 --period 2024 --value có --followup > /dev/null &&
agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q1 --delete > /dev/null
check "submits with multi-line comment, followup, delete accepted" [ $? = 0 ]
gen_csv "$T/rows.csv" 27901 60
check "import of 60 rows accepted" agent a1 import "$T/rows.csv"
# DHIS2 created/lastUpdated travel as Update fields 12, 13 and enter the
# content hash: the independent decoder must agree on both.
printf 'de,pe,ou,co,ao,value,strby,lstupd,cmt,flwup,del,created\nTO_CNSCD,2024Q4,27901,,,3,x,2025-04-02T08:15:00.000+0000,,,,2025-04-01\n' > "$T/times.csv"
check "import of a row with created/lastupdated accepted" agent a1 import "$T/times.csv"

# control bytes are refused by the agent itself, naming file, line, field
printf 'dataelement,period,orgunit,value,storedby\nTO_CNSCD,2025Q3,27901,5,nurse\033[2J\n' > "$T/esc.csv"
out=$(agent a1 import "$T/esc.csv" 2>&1); rc=$?
diag "$out"
check "import with ESC in storedby refused" [ $rc != 0 ]
check "... naming file, line 2 and storedby" \
    sh -c 'printf "%s" "$1" | grep -q "esc.csv:2" && printf "%s" "$1" | grep -q storedby' _ "$out"
out=$(agent a1 submit --org-unit 27901 --indicator TO_CNSCD --period 2025Q3 \
      --value 5 --stored-by "$(printf 'a\r\nb')" 2>&1); rc=$?
diag "$out"
check "submit with CR/LF in stored_by refused, naming storedby" \
    sh -c '[ "$1" != 0 ] && printf "%s" "$2" | grep -q storedby' _ "$rc" "$out"

check "outbox drains" wait_for 30 outbox_empty a1
agg_stop agg

db=$(agg_db agg)
out=$("$PY" "$TOP/tests/python/decode_check.py" "$db" "$TOP/proto/cdsync.proto" "$T" 2>&1); rc=$?
diag "$out"
check "independent decoder agrees with every stored hash, head and field" [ $rc = 0 ]
expect_eq "... over all 64 updates" \
    "$(printf '%s\n' "$out" | sed -n 's/.* \([0-9]*\) history rows.*/\1/p')" 64

# The check can fail: a copy whose stored hash of one update was altered
# (the append-only trigger dropped first, as an attacker would).
cp "$db" "$T/tampered.db"
sqlite3 "$T/tampered.db" "DROP TRIGGER update_log_no_update; UPDATE update_log SET content_hash = zeroblob(32) WHERE seq = 5;"
out=$("$PY" "$TOP/tests/python/decode_check.py" "$T/tampered.db" "$TOP/proto/cdsync.proto" "$T" 2>&1); rc=$?
diag "$out"
check "a tampered content hash is reported" \
    sh -c '[ "$1" = 1 ] && printf "%s" "$2" | grep -q "seq 5: content_hash"' _ "$rc" "$out"
