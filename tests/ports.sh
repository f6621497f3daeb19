# TCP ports for test harnesses that must name a port before the process
# that listens on it starts (PostgreSQL's -p, the bench's aggregators and
# Mosquitto). Sourced by tests/pg/pg.sh and tests/bench/bench.sh.
#
# Why bands: tests run side by side (tests/run.sh TEST_JOBS) and the kernel
# hands out ephemeral ports (every connect(), and bind to port 0, which
# tests/integration/lib.sh free_port uses) from ip_local_port_range. A port
# checked free in that range, or in a range another harness draws from,
# can be taken between the check and the listen; the listener that loses
# exits ("Address already in use") while a probe of the port still gets an
# answer, from the winner. CI's ASan run lost the bench's 20-agent row that
# way. So each harness draws from its own band, outside the ephemeral
# range: "below", the 12,000 ports under it, is PostgreSQL's; "above", the
# ports over it, is the bench's. Within a band a harness still checks the
# port is free and still retries a failed start (pg_start), and
# `listens` tells whose listener answers.

# port_in_use PORT: some TCP socket of this network namespace (listening or
# connected, IPv4 or IPv6) has PORT as its local port.
port_in_use() {
    awk -v h="$(printf ':%04X' "$1")" \
        'FNR > 1 && substr($2, length($2) - 4) == h { f = 1; exit } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# band_port BAND [TAKEN]: a port of BAND (below|above the ephemeral range)
# that nothing holds now and TAKEN (a file, one port a line: those already
# handed out but perhaps not yet listened on) does not list; appended to
# TAKEN. Exit 1 when 200 draws found none.
band_port() {
    local lo hi a b p i
    read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null \
        || { lo=32768; hi=60999; }
    case $1 in
    below) a=$((lo - 12000)); b=$((lo - 1)) ;;
    above) a=$((hi + 1)); b=65535 ;;
    *) echo "band_port: unknown band '$1'" >&2; return 2 ;;
    esac
    # an ephemeral range reaching (nearly) 65535 leaves no room above it:
    # then the bench takes the 12,000 under PostgreSQL's
    if [ "$1" = above ] && [ $((b - a)) -lt 1000 ]; then
        a=$((lo - 24000)); b=$((lo - 12001))
    fi
    [ "$a" -lt 1024 ] && a=1024
    # an ephemeral range from (nearly) 1024 to 65535 leaves no band outside
    # it: then draw from one inside it, as before the bands, and rely on
    # the checks below and on the harness's retry of a failed start
    if [ $((b - a)) -lt 1000 ]; then
        echo "band_port: no room for band $1 outside $lo-$hi; drawing inside it" >&2
        case $1 in below) a=20000; b=29999 ;; *) a=40000; b=49999 ;; esac
    fi
    for i in $(seq 1 200); do
        p=$((a + (RANDOM * 32768 + RANDOM) % (b - a + 1)))
        port_in_use "$p" && continue
        if [ -n "${2:-}" ]; then
            grep -qx "$p" "$2" 2>/dev/null && continue
            echo "$p" >> "$2"
        fi
        echo "$p"
        return 0
    done
    return 1
}

# listens PID PORT: PID's own socket listens on PORT. A probe that connects
# cannot tell our listener from another process's.
listens() {
    local inode
    inode=$(awk -v h="$(printf ':%04X' "$2")" \
        'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { print $10; exit }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    [ -n "$inode" ] && ls -l "/proc/$1/fd" 2>/dev/null | grep -qF "socket:[$inode]"
}
