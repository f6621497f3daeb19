#!/bin/bash
# The Debian packages end to end, as root on a disposable machine (CI):
# `make deb`, dpkg -i, the installed programs run as the user cdsync with
# the installed configs and state dirs, a real sync over 127.0.0.1, a local
# config edit surviving a reinstall, then dpkg --purge leaves nothing.
# NOT part of `make test`: it installs packages, creates the system user
# cdsync and writes /etc and /var/lib. Run by .ci/run.
#   DEB_DIR=build/deb  where `make deb` puts the packages
#   DEB_NO_BUILD=1     use the packages already in DEB_DIR
# Prints TAP lines like tests/integration (it uses their lib.sh helpers).
. "$(dirname "$0")/../integration/lib.sh"
AGENT=/usr/bin/cdsync-agent
AGG=/usr/bin/cdsync-aggregator
PKGS="cdsync-agent cdsync-aggregator cdsync-common"
DEB_DIR=${DEB_DIR:-build/deb}

if [ "$(id -u)" != 0 ]; then echo "deb_check: needs root" >&2; exit 2; fi
for p in $PKGS; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
        echo "deb_check: $p is installed here already; refusing to purge it" >&2
        exit 2
    fi
done
# Purge at exit whatever happened, so a failed run leaves the machine clean.
pkg_cleanup() { cleanup; dpkg --purge $PKGS > /dev/null 2>&1; }
trap pkg_cleanup EXIT
# as_cdsync CMD...: CMD as the service user. (Daemons are started with
# setpriv itself, not this function: setpriv execs, so $! is the daemon.)
as_cdsync() { setpriv --reuid=cdsync --regid=cdsync --init-groups "$@"; }

cd "$TOP" || exit 2
if [ -z "${DEB_NO_BUILD:-}" ]; then
    start=$(date +%s)
    check "make deb builds the packages (lintian: no error)" \
        sh -c "make deb > '$T/make-deb.log' 2>&1"
    diag "make deb: $(( $(date +%s) - start )) s"
fi
debs=""
for p in cdsync-common cdsync-agent cdsync-aggregator; do
    debs="$debs $(ls "$DEB_DIR"/${p}_*.deb 2>/dev/null | head -1)"
done
for f in $debs; do diag "$(basename "$f"): $(stat -c %s "$f") bytes"; done
# Libraries come from the archive when missing (apt-get install -f).
# shellcheck disable=SC2086
dpkg -i $debs > "$T/dpkg-i.log" 2>&1 ||
    apt-get install -f -y -qq --no-install-recommends >> "$T/dpkg-i.log" 2>&1
expect_eq "all three configured" \
    "$(dpkg-query -W -f='${Status}\n' $PKGS | grep -c 'install ok installed')" 3

# --- what got installed ---------------------------------------------------
check "cdsync-aggregator --version" sh -c "$AGG --version | grep -q '^cdsync-aggregator '"
check "cdsync-agent --version" sh -c "$AGENT --version | grep -q '^cdsync-agent '"
# The compiled-in defaults name the installed paths (PREFIX=/usr, /etc).
check "aggregator --help: default config /etc/cdsync/aggregator.ini" \
    sh -c "$AGG --help | grep -q 'default /etc/cdsync/aggregator.ini'"
check "aggregator --help: catalog default in /usr/share/cdsync" \
    sh -c "$AGG --help | grep -q '/usr/share/cdsync/catalog.csv'"
check "agent --help: default config /etc/cdsync/agent.ini" \
    sh -c "$AGENT --help | grep -q '/etc/cdsync/agent.ini'"
check "the installed catalog is where the programs look" \
    test -s /usr/share/cdsync/catalog.csv
check "the user cdsync exists (sysusers.d)" sh -c "id cdsync > /dev/null"
for d in /var/lib/cdsync-agent /var/lib/cdsync-aggregator; do
    expect_eq "$d: cdsync:cdsync 0750 (tmpfiles.d)" \
        "$(stat -c '%U:%G %a' "$d" 2>&1)" "cdsync:cdsync 750"
done
check "conffiles: /etc/cdsync/*.ini" sh -c \
    "dpkg-query -W -f='\${Conffiles}' cdsync-agent | grep -q /etc/cdsync/agent.ini &&
     dpkg-query -W -f='\${Conffiles}' cdsync-aggregator | grep -q /etc/cdsync/aggregator.ini"
check "installed config names /usr/share/cdsync" \
    grep -q '^catalog = /usr/share/cdsync/catalog.csv' /etc/cdsync/aggregator.ini
for u in cdsync-agent cdsync-aggregator; do
    check "$u.service enabled" \
        test -L /etc/systemd/system/multi-user.target.wants/$u.service
    check "$u.service runs /usr/bin/$u -c /etc/cdsync/" \
        grep -q "^ExecStart=/usr/bin/$u -c /etc/cdsync/" /lib/systemd/system/$u.service
done
# systemd does not run in CI containers: the units are checked offline.
if command -v systemd-analyze > /dev/null; then
    check "systemd-analyze verify: both units" sh -c \
        "systemd-analyze verify /lib/systemd/system/cdsync-agent.service \
         /lib/systemd/system/cdsync-aggregator.service > '$T/verify.log' 2>&1"
    sed 's/^/# /' "$T/verify.log"
else
    ok "systemd-analyze verify # SKIP systemd-analyze not installed"
fi

# --- --check-config on the installed configs -----------------------------
# Fresh from the package, before keygen: both say what is still to do
# (exit 3): no identity yet, and the agent's placeholder server_key.
as_cdsync "$AGENT" -c /etc/cdsync/agent.ini --check-config > "$T/cc-agent.out" 2>&1
expect_eq "agent --check-config on the fresh install: exit 3, naming the missing identity and server_key" \
    "$?:$(grep -c 'identity: /var/lib/cdsync-agent/agent.key\|server_key: ' "$T/cc-agent.out")" "3:2"
as_cdsync "$AGG" -c /etc/cdsync/aggregator.ini --check-config > "$T/cc-agg.out" 2>&1
expect_eq "aggregator --check-config on the fresh install: exit 3, naming the missing identity" \
    "$?:$(grep -c 'identity: /var/lib/cdsync-aggregator/aggregator.key' "$T/cc-agg.out")" "3:1"

# --- a real sync over loopback, as the user cdsync ------------------------
# The installed configs with only the endpoint, key and HTTP port changed;
# state, identity and catalog at their installed defaults.
chmod 0755 "$T"
port=$((20000 + $$ % 20000))
sed -e "s|^listen = .*|listen = tcp://127.0.0.1:$port|" \
    -e 's|^http_listen = .*|http_listen = 127.0.0.1:0|' \
    /etc/cdsync/aggregator.ini > "$T/aggregator.ini"
check "aggregator keygen as cdsync into /var/lib/cdsync-aggregator" sh -c \
    "setpriv --reuid=cdsync --regid=cdsync --init-groups \
     $AGG -c '$T/aggregator.ini' keygen --label district > '$T/agg.pub' 2>> '$T/cli.log'"
check "agent keygen as cdsync into /var/lib/cdsync-agent" sh -c \
    "setpriv --reuid=cdsync --regid=cdsync --init-groups \
     $AGENT -c /etc/cdsync/agent.ini keygen --label commune > '$T/agent.pub' 2>> '$T/cli.log'"
# What the commands said and what the state dirs hold, for a failure seen
# only in CI (agent keygen refused once, its key left unreadable to cdsync).
sed 's/^/# cli: /' "$T/cli.log"
ls -la /var/lib/cdsync-agent /var/lib/cdsync-aggregator 2>&1 | sed 's/^/# /'
expect_eq "aggregator.key is 0600 cdsync" \
    "$(stat -c '%U %a' /var/lib/cdsync-aggregator/aggregator.key 2>&1)" "cdsync 600"
sed -e "s|^server = .*|server = tcp://127.0.0.1:$port|" \
    -e "s|^server_key = .*|server_key = $(cat "$T/agg.pub")|" \
    -e 's|^backoff_max_ms = .*|backoff_max_ms = 1000|' \
    /etc/cdsync/agent.ini > "$T/agent.ini"
for c in aggregator agent; do
    prog=$AGG; [ $c = agent ] && prog=$AGENT
    check "$c --check-config passes once configured (keygen, endpoint, key)" \
        as_cdsync "$prog" -c "$T/$c.ini" --check-config
done
check "enroll the agent" sh -c "setpriv --reuid=cdsync --regid=cdsync --init-groups \
    $AGG -c '$T/aggregator.ini' enroll '$(cat "$T/agent.pub")' --org-unit 27901 \
    --label commune > /dev/null 2>> '$T/cli.log'"
setpriv --reuid=cdsync --regid=cdsync --init-groups "$AGG" -c "$T/aggregator.ini" run > "$T/agg.log" 2>&1 &
agg_pid=$!; PIDS="$PIDS $agg_pid"
setpriv --reuid=cdsync --regid=cdsync --init-groups "$AGENT" -c "$T/agent.ini" run > "$T/agent.log" 2>&1 &
agent_pid=$!; PIDS="$PIDS $agent_pid"
check "submit a value as cdsync" sh -c "setpriv --reuid=cdsync --regid=cdsync \
    --init-groups $AGENT -c '$T/agent.ini' submit --org-unit 27901 \
    --indicator TO_CNSCD --period 2025Q2 --value 7 > /dev/null 2>> '$T/cli.log'"
check "the agent's outbox drains" wait_for 30 sh -c \
    "[ \"\$(sqlite3 -batch -noheader /var/lib/cdsync-agent/agent.db \
       'SELECT count(*) FROM outbox;')\" = 0 ]"
out=$(as_cdsync "$AGG" -c "$T/aggregator.ini" query --org-unit 27901 --format csv \
      2>> "$T/cli.log")
printf "%s\n" "$out" | sed "s/^/# /"
expect_eq "the value arrived at the aggregator" \
    "$(printf '%s\n' "$out" | grep -c '^27901,.*TO_CNSCD,.*,7,')" 1
for p in $agent_pid $agg_pid; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
PIDS=""
check "both daemons stopped" sh -c "! kill -0 $agent_pid 2>/dev/null && ! kill -0 $agg_pid 2>/dev/null"

# --- a local edit survives a reinstall (conffile) -------------------------
echo "; local edit by deb_check" >> /etc/cdsync/agent.ini
dpkg -i --force-confold "$DEB_DIR"/cdsync-agent_*.deb > "$T/reinstall.log" 2>&1
check "reinstall keeps the edited /etc/cdsync/agent.ini" \
    grep -q '^; local edit by deb_check' /etc/cdsync/agent.ini

# --- purge leaves nothing -------------------------------------------------
for p in $PKGS; do dpkg -L "$p"; done | sort -u > "$T/owned"
check "dpkg --purge all three" sh -c "dpkg --purge $PKGS > '$T/purge.log' 2>&1"
left=""
while read -r f; do
    # Directories shared with other packages (/usr/bin, ...) stay.
    if [ -e "$f" ] && ! [ -d "$f" ]; then left="$left $f"; fi
    case "$f" in */cdsync|*/cdsync/*) [ -e "$f" ] && left="$left $f" ;; esac
done < "$T/owned"
expect_eq "no file of the packages is left" "$left" ""
for p in /etc/cdsync /var/lib/cdsync-agent /var/lib/cdsync-aggregator \
         /usr/share/cdsync /usr/share/doc/cdsync-agent \
         /etc/systemd/system/multi-user.target.wants/cdsync-agent.service \
         /etc/systemd/system/multi-user.target.wants/cdsync-aggregator.service; do
    check "purged: $p" test ! -e "$p"
done
# Debian policy leaves removing a system user optional; we keep cdsync so
# files it owned elsewhere never pass to a later user with its uid.
check "the user cdsync stays after purge (documented choice)" sh -c "id cdsync > /dev/null"
[ "$FAILED" = 0 ]
