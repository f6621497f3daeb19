#!/bin/bash
# The command-line contract of docs/cli.md, for both programs: the man
# pages' OPTIONS are what the option tables give (tests/tools/gen_man.sh),
# every command --help lists has a man entry, a bad config value exits 3
# and an unknown flag 2 in both, and a busy listen port is named (exit 4);
# the dispatcher of common/cds_cli.c: one version, unknown commands, no
# operands where the table says so.
. "$(dirname "$0")/lib.sh"
echo "1..28"

# expect_fail NAME WANT_STATUS PATTERN CMD...: fails with status, stderr matches.
expect_fail() {
    name=$1; want=$2; pat=$3; shift 3
    "$@" > "$T/out" 2> "$T/err"; st=$?
    if [ "$st" = "$want" ] && grep -q -- "$pat" "$T/err"; then ok "$name"
    else not_ok "$name (status $st, stderr: $(head -c 300 "$T/err"))"; fi
}

mkdir -p "$T/man"
sh "$TOP/tests/tools/gen_man.sh" "$BUILD" "$T/man"
for prog in cdsync-agent cdsync-aggregator; do
    if diff -u "$TOP/docs/man/$prog.1" "$T/man/$prog.1" > "$T/man.diff"; then
        ok "$prog.1 OPTIONS are the option table's"
    else
        not_ok "$prog.1 differs from its option table (run tests/tools/gen_man.sh build): $(head -c 600 "$T/man.diff")"
    fi
done

# Commands: the lines of --help's "commands:" block indented by two.
for prog in cdsync-agent cdsync-aggregator; do
    missing=""
    cmds=$("$BUILD/$prog" --help | awk '/^commands:/ { on = 1; next }
        /^options/ { on = 0 } on && /^  [a-z]/ { print $1 }' | sort -u)
    for c in $cmds; do
        esc=$(printf '%s' "$c" | sed 's/-/\\\\-/g')
        grep -Eq "^\.BR? (\\\\fB)?$esc( |\"|\$)" "$TOP/docs/man/$prog.1" \
            || missing="$missing $c"
    done
    expect_eq "$prog.1 has every command of --help ($(echo $cmds | wc -w))" \
        "$missing" ""
done

# A bad value in the config file: 3 in both, naming the key and the value.
mkdir -p "$T/bad"
cat > "$T/bad/agent.ini" <<INI
[agent]
state_dir = $T/bad/agent
server_key = cds1:x
batch_max = lots
INI
cat > "$T/bad/aggregator.ini" <<INI
[aggregator]
state_dir = $T/bad/agg
catalog = $CATALOG
orgunits = $ORGUNITS
group_max = lots
INI
expect_fail "agent: bad INI number exits 3, names key and value" 3 \
    'batch_max.*lots' "$AGENT" -c "$T/bad/agent.ini" run
expect_fail "aggregator: bad INI number exits 3, names key and value" 3 \
    'group_max.*lots' "$AGG" -c "$T/bad/aggregator.ini" run
printf '[agent]\nstate_dir = %s\nlog_level = loud\n' "$T/bad/agent" \
    > "$T/bad/agent2.ini"
printf '[aggregator]\nstate_dir = %s\nlog_level = loud\n' "$T/bad/agg" \
    > "$T/bad/aggregator2.ini"
expect_fail "agent: bad log_level exits 3" 3 'log_level.*loud' \
    "$AGENT" -c "$T/bad/agent2.ini" status
expect_fail "aggregator: bad log_level exits 3" 3 'log_level.*loud' \
    "$AGG" -c "$T/bad/aggregator2.ini" agents

# An unknown flag: 2 in both, naming it.
expect_fail "agent: unknown flag exits 2" 2 'no-such-flag' \
    "$AGENT" -c "$T/bad/agent.ini" --no-such-flag status
expect_fail "aggregator: unknown flag exits 2" 2 'no-such-flag' \
    "$AGG" -c "$T/bad/aggregator.ini" --no-such-flag agents

# A busy port: something else holds 127.0.0.1:PORT.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
import time; time.sleep(600)' "$T/port" > /dev/null 2>&1 &
# (the holder lives until cleanup kills it, at most 10 minutes)
PIDS="$PIDS $!"
if wait_for 10 test -s "$T/port"; then
    PORT=$(cat "$T/port")
    agg_init busy "tcp://127.0.0.1:$PORT"
    expect_fail "busy port: run exits 4 naming endpoint and cause" 4 \
        "run: cannot listen on tcp://127.0.0.1:$PORT: Address already in use" \
        timeout 60 "$AGG" -c "$T/busy/aggregator.ini" run
    if grep -q 'internal' "$T/err"; then not_ok "busy port: not \"internal\""
    else ok "busy port: not \"internal\""; fi
    # The HTTP port busy: runtime too (it was 3 with no cause).
    sed -i "s|^listen = .*|listen = ipc://$T/busy.sock|; s|^http_listen = .*|http_listen = 127.0.0.1:$PORT|" \
        "$T/busy/aggregator.ini"
    expect_fail "busy HTTP port: run exits 4 naming endpoint and cause" 4 \
        "run: cannot listen on http 127.0.0.1:$PORT: Address already in use" \
        timeout 60 "$AGG" -c "$T/busy/aggregator.ini" run
else
    not_ok "busy port: the port holder did not start"
    not_ok "busy port: not \"internal\""
    not_ok "busy HTTP port: the port holder did not start"
fi

# docs/cli.md, cited by both programs' sources, exists.
check "docs/cli.md exists" test -s "$TOP/docs/cli.md"

# pubid prints again what keygen printed (the runbook compares it with the
# agents' server_key); no identity yet: 3; an argument: usage, 2.
agg_init pk
agent_init pka 27901 pk
expect_eq "aggregator pubid = what keygen printed" "$(agg pk pubid)" "$(cat "$T/pk/pubid")"
expect_eq "agent pubid = what keygen printed" "$(agent pka pubid)" "$(cat "$T/pka/pubid")"
mkdir -p "$T/nokey"
printf '[aggregator]\nstate_dir = %s/nokey/a\n' "$T" > "$T/nokey/a.ini"
printf '[agent]\nstate_dir = %s/nokey/g\n' "$T" > "$T/nokey/g.ini"
"$AGG" -c "$T/nokey/a.ini" pubid 2>/dev/null; a=$?
"$AGENT" -c "$T/nokey/g.ini" pubid 2>/dev/null; g=$?
expect_eq "pubid without an identity: exit 3 in both" "$a $g" "3 3"
agg pk pubid extra 2>/dev/null; a=$?; agent pka pubid extra 2>/dev/null; g=$?
expect_eq "pubid with an argument: usage, exit 2 in both" "$a $g" "2 2"

# A command beside a daemon that has just created its database (`run`
# started and `import` at once, as make demo's merged commune does): the
# file exists, not migrated yet. `status` says so once (3, no error log
# line repeating it); `import` migrates it, queues and logs no error (it
# looked read-only for a fetched metadata version first: agent/main.c
# use_fetched).
rm -f "$T/pka/state/agent.db-wal" "$T/pka/state/agent.db-shm"
: > "$T/pka/state/agent.db"
expect_fail "status, database not migrated yet: 3, says what migrates it" 3 \
    'database schema is not this program.s (older: `cdsync-agent run` migrates it' \
    agent pka status
if grep -q 'level=error' "$T/err"; then not_ok "... and no error log line beside it: $(grep -m1 'level=error' "$T/err")"
else ok "... and no error log line beside it"; fi
printf '%s\n' dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup,deleted \
    HGD_TONG,2025Q1,27901,,,1234,,,,, > "$T/pka.csv"
agent pka import "$T/pka.csv" > "$T/out" 2> "$T/err"; st=$?
expect_eq "import, database not migrated yet: migrated and queued" \
    "$st $(cat "$T/out")" "0 queued 1 updates (seq 1..1)"
if grep -q 'level=error' "$T/err"; then not_ok "... and no error logged: $(grep -m1 'level=error' "$T/err")"
else ok "... and no error logged"; fi

# One version (common/cds_version.h): both programs print it, and it is
# the top entry of the Debian changelog.
deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$TOP/deploy/debian/changelog")
expect_eq "--version: both programs, the changelog's version" \
    "$("$AGENT" --version) / $("$AGG" --version)" \
    "cdsync-agent $deb / cdsync-aggregator $deb"

# An unknown command: usage (2), named, then the command list on stderr,
# the same in both (common/cds_cli.c).
for prog in cdsync-agent cdsync-aggregator; do
    expect_fail "$prog: an unknown command exits 2 and names it" 2 \
        "^$prog: unknown command \"frobnicate\" (see --help)" \
        "$BUILD/$prog" -c /dev/null frobnicate
    n=$(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/' "$T/err" | wc -l)
    want=$("$BUILD/$prog" --help | awk '/^commands:/ { on = 1; next }
        /^options/ { on = 0 } on && /^  [a-z]/' | wc -l)
    expect_eq "$prog: ... and lists the $want commands of --help" "$n" "$want"
done

# A district-admin command is a table entry like the others: an operand
# where none is taken is refused before the database is opened (no db).
mkdir -p "$T/adm"
printf '[aggregator]\nstate_dir = %s/adm/a\n' "$T" > "$T/adm/a.ini"
expect_fail "rollup with an operand: usage, 2, said once" 2 \
    '^cdsync-aggregator: rollup: no arguments expected$' \
    "$AGG" -c "$T/adm/a.ini" rollup extra
