# Helpers of the fault-injection suite, on top of tests/integration/lib.sh.
# Source from a scenario:  . "$(dirname "$0")/lib.sh"
#   FAULT_SCALE (default 1: the short form inside `make test`; `make chaos`
#   sets more) multiplies counts and durations; SEED seeds every random
#   choice (printed, re-runnable: SEED=n bash tests/fault/NN_x.sh).
. "$(dirname "$0")/../integration/lib.sh"
FDIR=$TOP/tests/fault
# The aggregator's HTTP endpoint is not under test here, and its fixed
# default port would collide between parallel runs: switch it off.
eval "$(declare -f agg_init | sed '1s/^agg_init/_it_agg_init/')"
agg_init() {
    _it_agg_init "$@" || return 1
    grep -q '^http_listen' "$T/${1:-agg}/aggregator.ini" \
        || echo "http_listen =" >> "$T/${1:-agg}/aggregator.ini"
}
FAULT_SCALE=${FAULT_SCALE:-1}
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
FAULTS=0                         # faults injected by this scenario
diag "seed $SEED (re-run: SEED=$SEED FAULT_SCALE=$FAULT_SCALE bash $0)"
sqlite3 "$T/acked.db" "CREATE TABLE acked(label TEXT, seq INTEGER, hash BLOB,
    org_unit TEXT, indicator TEXT, period TEXT, disagg TEXT, value TEXT,
    deleted INTEGER, hlc INTEGER, UNIQUE (label, seq, hash));
    CREATE TABLE renumbered(label TEXT);
    CREATE TABLE pending(label TEXT, seq INTEGER, hash BLOB);
    CREATE TABLE excused(label TEXT, first INTEGER, last INTEGER);"
: > "$T/cli_acked"
FAGENTS=""

fault() { FAULTS=$((FAULTS + 1)); diag "fault $FAULTS: $*"; }
# rnd N: a seeded random number in 0..N-1.
rnd() { echo $((RANDOM % $1)); }

# fagent_init NAME OU [AGG]: agent_init, then a trigger in the agent's own
# database records every committed outbox row (and follows renumbering)
# in table fault_shadow, in the same transaction: the checker's view of
# "queued", independent of the sender.
fagent_init() {
    agent_init "$@" || return 1
    agent "$1" receipts > /dev/null 2>&1 # creates and migrates agent.db
    # (status is read-only: it never creates one)
    sqlite3 -cmd ".timeout 5000" "$(agent_db "$1")" "
      CREATE TABLE IF NOT EXISTS fault_shadow(seq INTEGER, hash BLOB,
        org_unit TEXT, indicator TEXT, period TEXT, disagg TEXT, value TEXT,
        deleted INTEGER, hlc INTEGER);
      CREATE TRIGGER IF NOT EXISTS fault_shadow_ins AFTER INSERT ON outbox BEGIN
        INSERT INTO fault_shadow VALUES (NEW.seq, NEW.hash, NEW.org_unit,
          NEW.indicator, NEW.period, NEW.disagg, NEW.value, NEW.deleted, NEW.hlc);
      END;
      CREATE TRIGGER IF NOT EXISTS fault_shadow_move AFTER UPDATE OF seq ON outbox BEGIN
        UPDATE fault_shadow SET seq = NEW.seq, hash = NEW.hash
          WHERE seq = OLD.seq AND hash = OLD.hash;
      END;" > /dev/null || return 1
    FAGENTS="$FAGENTS $1"
}

# fimport NAME FILE: import; records the seq range the CLI acknowledged.
fimport() {
    local out r rc
    out=$(agent "$1" import "$2" 2>"$T/$1.import.err"); rc=$?
    r=$(echo "$out" | sed -n 's/^queued [0-9]* updates (seq \([0-9]*\)\.\.\([0-9]*\))$/\1 \2/p')
    [ "$rc" = 0 ] && [ -n "$r" ] && echo "$1 $r" >> "$T/cli_acked"
    return $rc
}
# fsubmit NAME ARGS...: submit one value; records the acknowledged seq.
fsubmit() {
    local n=$1 out s rc; shift
    out=$(agent "$n" submit "$@" 2>"$T/$n.submit.err"); rc=$?
    s=$(echo "$out" | sed -n 's/^queued seq \([0-9]*\)$/\1/p')
    [ "$rc" = 0 ] && [ -n "$s" ] && echo "$n $s $s" >> "$T/cli_acked"
    return $rc
}

# harvest NAME [DB]: copy what the agent's database says it queued.
harvest() {
    local hdb=${2:-$(agent_db "$1")}
    sqlite3 -cmd ".timeout 5000" "$T/acked.db" "ATTACH '$hdb' AS a;
      INSERT OR IGNORE INTO acked SELECT '$1', seq, hash, org_unit, indicator,
        period, disagg, value, deleted, hlc FROM a.fault_shadow WHERE seq > 0;
      DELETE FROM pending WHERE label = '$1';
      INSERT INTO pending SELECT '$1', seq, hash FROM a.outbox;" > /dev/null
}

# run_checker [LABEL]: harvest every agent, run the checker, one TAP line.
run_checker() {
    local dbs="" a out rc
    for a in $FAGENTS; do harvest "$a"; dbs="$dbs $(agent_db "$a")"; done
    # shellcheck disable=SC2086
    out=$(PG_BIN=${PG_BIN:-} sh "$FDIR/checker.sh" "$(agg_store agg)" "$T/acked.db" "$T/cli_acked" $dbs); rc=$?
    echo "$out"
    check "checker: ${1:-no loss, no duplicates, no corruption} ($FAULTS faults)" [ "$rc" = 0 ]
    echo "$out" | tail -1 | sed "s/^# checker: /# figures: faults $FAULTS, /" >> "${FAULT_FIGURES:-/dev/null}"
}

# drained_all: every fault agent's outbox is empty.
drained_all() { for a in $FAGENTS; do outbox_empty "$a" || return 1; done; }

# A free TCP port on 127.0.0.1 (the kernel picks; small race accepted).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + $(rnd 20000)))
}

# proxy_start AGG_PORT: a faultproxy in front of the aggregator; sets
# PROXY_PORT, PROXY_PID, PROXY_CTL (control file: see faultproxy.c).
proxy_start() {
    PROXY_PORT=$(free_port); PROXY_CTL=$T/proxy.ctl
    : > "$PROXY_CTL"
    "$BUILD/tools/faultproxy" --listen "$PROXY_PORT" --target "$1" \
        --control "$PROXY_CTL" --seed "$SEED" > "$T/proxy.out" 2>> "$T/proxy.log" &
    PROXY_PID=$!; PIDS="$PIDS $PROXY_PID"
    wait_for 10 grep -q ready "$T/proxy.out"
}
# proxy_set 'loss_up=0.1 delay_ms=50 ...': apply settings (SIGHUP re-reads).
proxy_set() { echo "$*" > "$PROXY_CTL.new" && mv "$PROXY_CTL.new" "$PROXY_CTL" && kill -HUP "$PROXY_PID"; }

# proxied_setup NAGENTS OU...: an aggregator on tcp 127.0.0.1:AGG_PORT, a
# fault proxy in front of it, and agents a1..aN (org units taken in turn
# from the list) that reach it only through the proxy.
proxied_setup() {
    na=$1; shift
    AGG_PORT=$(free_port)
    agg_init agg "tcp://127.0.0.1:$AGG_PORT" || return 1
    proxy_start "$AGG_PORT" || return 1
    agg_EP=tcp://127.0.0.1:$PROXY_PORT
    ous=("$@")
    for i in $(seq 1 "$na"); do
        fagent_init "a$i" "${ous[$(((i - 1) % ${#ous[@]}))]}" || return 1
    done
    agg_EP=tcp://127.0.0.1:$AGG_PORT
}
# load ROUND PER: every fault agent imports PER new rows (keys overlap
# between agents sharing an org unit; values differ per round).
load() {
    # local: callers loop over agents in $a too (scenario 2 restarts "$a"
    # after a load; a global $a restarted the wrong agent).
    local i=0 a ou
    for a in $FAGENTS; do
        i=$((i + 1))
        ou=$(sed -n 's/^org_units = //p' "$T/$a/agent.ini")
        gen_csv "$T/$a-$1.csv" "$ou" "$2" $(($1 * 37)) $((i * 11 + $1))
        fimport "$a" "$T/$a-$1.csv" > /dev/null || not_ok "import $a round $1"
    done
}
applied() { aggq agg "SELECT count(*) FROM update_log;" 2>/dev/null || echo 0; }
# rss_kb PID / fds PID: memory and descriptors of a process.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# finish: stop everything, run the checker, print the trailing plan.
finish() {
    for a in $FAGENTS; do agent_stop "$a"; done
    agg_stop agg
    run_checker "$@"
    echo "1..$TESTNO"
}
# no_content_twice: the aggregator's history holds no update content (same
# agent, key, value and HLC: renumbering keeps the HLC) under two seqs: an
# agent renumbered rows the aggregator already held.
no_content_twice() {
    local n
    n=$(aggq agg "SELECT count(*) FROM (SELECT 1 FROM update_log
          GROUP BY agent_id, hlc, org_unit, indicator, period, disagg, value,
          deleted HAVING count(*) > 1) AS x;")
    expect_eq "no update content under two seqs in the history" "$n" 0
}
# hellos NAME: Hellos the agent has sent so far (its log).
hellos() { grep -c 'event=hello_sent' "$T/$1/log" 2>/dev/null || echo 0; }
# backup_pending NAME OU N: NAME delivers N rows, queues N more while
# stopped, has its database backed up to $T/backup.db with those pending,
# and runs again (the backup of scenarios 12, 16, 17).
backup_pending() {
    gen_csv "$T/A.csv" "$2" "$3" 0 1; fimport "$1" "$T/A.csv" > /dev/null
    check "first rows delivered" wait_for 60 outbox_empty "$1"
    agent_stop "$1"
    gen_csv "$T/B.csv" "$2" "$3" "$3" 1; fimport "$1" "$T/B.csv" > /dev/null
    sqlite3 "$(agent_db "$1")" ".backup '$T/backup.db'"
    agent_start "$1"
}
# restore_backup NAME: stop NAME, harvest what it queued, and put
# $T/backup.db in place of its database (the disk died).
restore_backup() {
    agent_stop "$1"; harvest "$1"
    rm -f "$(agent_db "$1")" "$(agent_db "$1")-wal" "$(agent_db "$1")-shm"
    cp "$T/backup.db" "$(agent_db "$1")"; fault "$1 database restored from an old backup"
}
