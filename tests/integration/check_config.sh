#!/bin/bash
# --check-config (docs/cli.md): both programs check what `run` would need
# without starting: exit 0 with "configuration OK (FILE)", or exit 3 with
# every problem named on its own line; nothing is ever created.
. "$(dirname "$0")/lib.sh"
echo "1..29"
agg_init agg
ini=$T/agg/aggregator.ini
cc() { "$AGG" -c "$1" --check-config > "$T/out" 2> "$T/err"; echo $?; }
has() { grep -qF -- "$1" "$T/err"; }
# variant NAME KEY=VALUE...: a copy of the good config with keys replaced.
variant() {
    local name=$1; shift
    cp "$ini" "$T/$name.ini"
    for kv in "$@"; do
        k=${kv%%=*}; v=${kv#*=}
        sed -i "/^$k = /d" "$T/$name.ini"
        echo "$k = $v" >> "$T/$name.ini"
    done
    echo "$T/$name.ini"
}

# --- good configurations -------------------------------------------------
expect_eq "aggregator: good config exits 0" "$(cc "$ini")" 0
expect_eq "... one line: configuration OK (FILE)" "$(cat "$T/out")" "configuration OK ($ini)"
check "... and creates no database" test ! -e "$T/agg/state/aggregator.db"
fresh=$(variant fresh "state_dir=$T/fresh/state" "identity=$T/agg/state/aggregator.key")
expect_eq "a state dir run would create: OK" "$(cc "$fresh")" 0
check "... and it is not created" test ! -e "$T/fresh"

agent_init a1 27901
expect_eq "agent: good config exits 0" \
    "$("$AGENT" -c "$T/a1/agent.ini" --check-config > "$T/out" 2>&1; echo $?)" 0
expect_eq "... configuration OK (FILE)" "$(cat "$T/out")" "configuration OK ($T/a1/agent.ini)"
check "... and creates no agent database" test ! -e "$T/a1/state/agent.db"

# --- one broken thing at a time -------------------------------------------
expect_eq "bad value: exit 3" "$(cc "$(variant v1 group_max=0)")" 3
check "... named with its value" has 'group_max: "0": expected a whole number 1..1024'
expect_eq "missing catalog: exit 3" "$(cc "$(variant v2 "catalog=$T/nope.csv")")" 3
check "... named" has "catalog: $T/nope.csv: No such file or directory"
# Two bad rows: both named with file:line: column (value).
{ head -1 "$CATALOG"; echo "GOOD_1,x,x,n,INTEGER,SUM,Monthly,,,,,t,SUM"
  echo "bad code,x,x,n,INTEGER,SUM,Monthly,,,,,t,SUM"
  echo "GOOD_2,x,x,n,INTEGER,SUM,Monthly,,,,,t,SUM"
  echo "BAD_TYPE,x,x,n,NOTATYPE,SUM,Monthly,,,,,t,SUM"; } > "$T/bad.csv"
expect_eq "catalog with bad rows: exit 3" "$(cc "$(variant v3 "catalog=$T/bad.csv")")" 3
check "... the first bad row named (file:line: column, value)" has "$T/bad.csv:3: code:"
check "... and the second too, not only the first" has "$T/bad.csv:5: value_type:"
cp "$T/agg/state/aggregator.key" "$T/open.key"; chmod 644 "$T/open.key"
expect_eq "key file 0644: exit 3" "$(cc "$(variant v4 "identity=$T/open.key")")" 3
check "... named with its mode" has "identity: $T/open.key: mode 0644"
expect_eq "bad endpoint: exit 3" "$(cc "$(variant v5 "listen=tcp://127.0.0.1")")" 3
check "... named" has 'listen: "tcp://127.0.0.1": expected tcp://HOST:PORT'
expect_eq "agent: bad server endpoint: exit 3" \
    "$("$AGENT" -c "$T/a1/agent.ini" --server udp://x --check-config 2> "$T/err" > /dev/null; echo $?)" 3
check "... named (command-line flags override the file, as for run)" \
    has 'server: "udp://x": expected tcp://HOST:PORT or ipc://PATH'

# Unwritable database directory, for the daemon's user (here nobody; root
# may write anywhere): only that problem, with the rest made right for it.
chmod 755 "$T"
mkdir -p "$T/nb/ro"; cp "$T/agg/state/aggregator.key" "$T/nb/"
chown -R 65534:65534 "$T/nb"; chmod 555 "$T/nb/ro"
nb=$(variant nb "state_dir=$T/nb/ro" "identity=$T/nb/aggregator.key"); chmod 644 "$nb"
rc=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$AGG" -c "$nb" --check-config 2> "$T/err" > /dev/null; echo $?)
expect_eq "unwritable database directory: exit 3" "$rc" 3
check "... named" has "state_dir: $T/nb/ro: not writable by this user"

# a contacts file (docs/ADMIN.md "Contacts") with two bad rows: both named
# (in its own directory: not the default contacts.csv beside $T/bad.csv)
mkdir -p "$T/ct"
printf 'org_unit,name,phone,email\n27901,Lê Văn Tâm,0272-abc,\n27904,B,,b@c.example\n27904,C,,c@d.example\n' > "$T/ct/contacts.csv"
ct=$(variant ct "contacts=$T/ct/contacts.csv")
expect_eq "bad contacts file: exit 3" "$(cc "$ct")" 3
check "... every bad row named" sh -c "grep -qF '$T/ct/contacts.csv:2: phone: expected 8 to 15 digits' '$T/err' \
    && grep -qF '$T/ct/contacts.csv:4: org_unit: the same unit as line 3 (value \"27904\")' '$T/err'"
check "... and counted" has "configuration has 2 problems ($ct)"

# --- several problems at once: every one named ----------------------------
many=$(variant many group_max=0 "listen=ftp://x" "catalog=$T/bad.csv" \
       "identity=$T/open.key" log_level=chatty)
expect_eq "five things wrong: exit 3" "$(cc "$many")" 3
check "... all named" sh -c "grep -q group_max '$T/err' && grep -q listen '$T/err' \
    && grep -q '$T/bad.csv:3' '$T/err' && grep -q '$T/bad.csv:5' '$T/err' \
    && grep -q 'mode 0644' '$T/err' && grep -q log_level '$T/err'"
check "... and counted" has "configuration has 6 problems ($many)"
