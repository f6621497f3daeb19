#!/bin/bash
# `make install` names the installed paths whatever the order of `make` and
# `make install PREFIX=...`: the compiled-in defaults (--help), the example
# INIs and the units; configs are installed only when absent; `make
# uninstall` removes what install put and keeps an edited config.
# Builds in a copy of $BUILD's objects under $T (build/ is not touched):
# only the two mains are recompiled when the paths change.
. "$(dirname "$0")/lib.sh"
echo "1..24"
B=$T/build
R=$T/root
mk() { make -C "$TOP" --no-print-directory BUILD="$B" "$@" >> "$T/make.log" 2>&1; }
# Copy the library objects (mtimes kept) so the plain make below is cheap;
# without them it builds everything. Objects of a sanitizer build are only
# reused when this make gets the same SANITIZE (from `make test`).
mkdir -p "$B/obj"
reuse=1
case "$BUILD" in */san) case "${MAKEFLAGS:-}" in *SANITIZE=*) ;; *) reuse= ;; esac ;; esac
if [ -n "$reuse" ]; then
    for d in agent aggregator common proto; do
        [ -d "$BUILD/obj/$d" ] && cp -a "$BUILD/obj/$d" "$B/obj/"
    done
    [ -d "$BUILD/proto" ] && cp -a "$BUILD/proto" "$B/"
    cp -a "$BUILD"/lib*.a "$BUILD"/paths.stamp "$B/" 2>/dev/null
fi

# 1. make, then make install PREFIX=/usr (the order that used to break).
check "plain make" mk all
check "plain make: /usr/local compiled in" \
    sh -c "'$B/cdsync-aggregator' --help | grep -q /usr/local/share/cdsync/catalog.csv"
before=$(stat -c %y "$B/cdsync-agent" "$B/obj/agent/main.o")
check "make again" mk all
expect_eq "unchanged paths: nothing rebuilt" \
    "$(stat -c %y "$B/cdsync-agent" "$B/obj/agent/main.o")" "$before"
check "make install PREFIX=/usr DESTDIR" mk install PREFIX=/usr DESTDIR="$R"
help_agg=$("$R/usr/bin/cdsync-aggregator" --help 2>&1)
help_agent=$("$R/usr/bin/cdsync-agent" --help 2>&1)
check "aggregator: default config /etc/cdsync/aggregator.ini" \
    grep -q 'default /etc/cdsync/aggregator.ini' <<< "$help_agg"
check "aggregator: catalog /usr/share/cdsync/catalog.csv" \
    grep -q ' /usr/share/cdsync/catalog.csv' <<< "$help_agg"
check "agent: default config /etc/cdsync/agent.ini" \
    grep -q '/etc/cdsync/agent.ini' <<< "$help_agent"
check "agent: catalog /usr/share/cdsync/catalog.csv" \
    grep -q ' /usr/share/cdsync/catalog.csv' <<< "$help_agent"
check "man page: catalog default /usr/share/cdsync" \
    grep -q '/usr/share/cdsync/catalog.csv' "$R/usr/share/man/man1/cdsync-agent.1"
expect_eq "no /usr/local in the installed binaries, man pages, text files" \
    "$(grep -rl /usr/local "$R" | sed "s|^$R||" | tr '\n' ' ')" ""
check "unit ExecStart: /usr/bin, -c /etc/cdsync" \
    grep -q '^ExecStart=/usr/bin/cdsync-agent -c /etc/cdsync/agent.ini run' \
    "$R/usr/lib/systemd/system/cdsync-agent.service"
check "config names /usr/share/cdsync" \
    grep -q '^orgunits = /usr/share/cdsync/orgunits.csv' "$R/etc/cdsync/aggregator.ini"
check "example INI names /usr/share/cdsync" \
    grep -q '^catalog = /usr/share/cdsync/catalog.csv' "$R/usr/share/cdsync/examples/agent.ini"
check "sysusers.d and tmpfiles.d installed" test -s "$R/usr/lib/sysusers.d/cdsync.conf" \
    -a -s "$R/usr/lib/tmpfiles.d/cdsync-agent.conf"
check "prometheus rules and grafana dashboard installed" \
    test -s "$R/usr/share/cdsync/prometheus/cdsync-alerts.yml" \
    -a -s "$R/usr/share/cdsync/grafana/cdsync-dashboard.json"

# 2. An edited config survives a second install, and uninstall.
echo "; edited by the admin" >> "$R/etc/cdsync/agent.ini"
check "second install" mk install PREFIX=/usr DESTDIR="$R"
check "install kept the edited agent.ini" \
    grep -q '^; edited by the admin' "$R/etc/cdsync/agent.ini"
check "make uninstall" mk uninstall PREFIX=/usr DESTDIR="$R"
expect_eq "uninstall leaves only the edited config" \
    "$(cd "$R" && find . -type f | tr '\n' ' ')" "./etc/cdsync/agent.ini "
check "uninstall removed /usr/share/cdsync" test ! -e "$R/usr/share/cdsync"

# 3. Another PREFIX and SYSCONFDIR: rebuilt and named everywhere.
R2=$T/root2
check "install PREFIX=/opt/cds SYSCONFDIR=/opt/cds/etc" \
    mk install PREFIX=/opt/cds SYSCONFDIR=/opt/cds/etc DESTDIR="$R2"
check "agent --help: /opt/cds/etc/cdsync/agent.ini" sh -c \
    "'$R2/opt/cds/bin/cdsync-agent' --help | grep -q /opt/cds/etc/cdsync/agent.ini"
check "unit: /opt/cds/bin, -c /opt/cds/etc/cdsync" \
    grep -q '^ExecStart=/opt/cds/bin/cdsync-aggregator -c /opt/cds/etc/cdsync/aggregator.ini run' \
    "$R2/opt/cds/lib/systemd/system/cdsync-aggregator.service"
