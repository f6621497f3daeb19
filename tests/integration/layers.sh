#!/bin/bash
# The layers of docs/DESIGN.md "Layers", checked by tests/tools/layers.py:
# no include cycle between modules, no include from a lower layer into a
# higher one (common < core < report < front; agent: common only), no
# module including another's *_sql.h, no source outside a layer folder,
# no SQL write to a core table (agent, batch, update_log, update_status,
# datavalue) outside store.c and store_sql.h (the storage boundary,
# docs/DESIGN.md), and its read side: no backend call (sqlite3_*,
# cds_db_*, store_db) outside the files layers.py lists, and core tables
# read only through store_read (issue 14).
# The checker is first shown to fail on small synthetic trees that break
# each rule, then run on the real tree; and the compiler's side (the
# Makefile's per-layer -I) is shown to refuse an upward include.
. "$(dirname "$0")/lib.sh"
echo "1..16"
PY=/usr/bin/python3
LAYERS=$TOP/tests/tools/layers.py

# tree DIR: a minimal well-layered tree (one module per layer).
tree() {
    rm -rf "$1"; mkdir -p "$1"/common "$1"/agent "$1"/aggregator/core \
        "$1"/aggregator/report "$1"/aggregator/front
    echo '#include "cds_util.h"' > "$1"/common/cds_util.c
    : > "$1"/common/cds_util.h
    printf '#include "cds_util.h"\n' > "$1"/agent/outbox.h
    printf '#include "store.h"\n#include "store_sql.h"\n' > "$1"/aggregator/core/store.c
    printf '#include "cds_util.h"\n' > "$1"/aggregator/core/store.h
    : > "$1"/aggregator/core/store_sql.h
    printf '#include "store.h"\n/* not UPDATE agent: a comment */\n' \
        > "$1"/aggregator/report/query.h
    printf '#define W "UPDATE agent SET label = :l"\n' >> "$1"/aggregator/core/store_sql.h
    printf '#include "query.h"\n#include "store.h"\n' > "$1"/aggregator/front/main.c
    # The read side: a core read through store_read, via a macro of
    # store.h named inside the module's own SQL macro.
    printf '#define NOW(u) "(SELECT s FROM update_status WHERE id = " u ")"\n' \
        >> "$1"/aggregator/core/store.h
    printf '#define Q "SELECT 1 WHERE x = " NOW("1")\n' \
        > "$1"/aggregator/report/query_sql.h
    printf '#include "query_sql.h"\nst = store_read(s, Q, NULL);\n' \
        > "$1"/aggregator/report/query.c
}
# expect_bad NAME PATTERN DIR: the checker exits 1 and says PATTERN.
expect_bad() {
    "$PY" "$LAYERS" "$3" > "$T/out" 2>&1; st=$?
    if [ "$st" = 1 ] && grep -q -- "$2" "$T/out"; then ok "$1"
    else not_ok "$1 (status $st: $(head -c 400 "$T/out"))"; fi
}

tree "$T/good"
check "a well-layered synthetic tree passes" "$PY" "$LAYERS" "$T/good"

tree "$T/cycle"
printf '#include "query.h"\n' > "$T/cycle/aggregator/report/rollup.h"
printf '#include "rollup.h"\n' > "$T/cycle/aggregator/report/query.c"
printf '#include "query.h"\n' > "$T/cycle/aggregator/report/rollup.c"
expect_bad "a cycle is named" \
    'include cycle: query -> rollup -> query (rollup in aggregator/report/query.c' \
    "$T/cycle"

tree "$T/up"
printf '#include "query.h"\n' >> "$T/up/aggregator/core/store.c"
expect_bad "core including a report header fails" \
    'aggregator/core/store.c includes aggregator/report/query.h: core may not include report' \
    "$T/up"

tree "$T/agent"
printf '#include "store.h"\n' >> "$T/agent/agent/outbox.h"
expect_bad "the agent including an aggregator header fails" \
    'agent/outbox.h includes aggregator/core/store.h: agent may not include core' \
    "$T/agent"

tree "$T/sql"
printf '#include "store_sql.h"\n' > "$T/sql/aggregator/report/query.c"
expect_bad "a module including another's SQL fails" \
    'aggregator/report/query.c includes store_sql.h: the SQL of module store is its own' \
    "$T/sql"

tree "$T/write"
printf '#define X "DELETE FROM datavalue"\n' > "$T/write/aggregator/report/query.c"
expect_bad "a core-table write outside store fails" \
    'aggregator/report/query.c: writes datavalue (DELETE FROM datavalue): only store writes the core tables' \
    "$T/write"

tree "$T/split"
printf '#define Y "INSERT OR IGNORE INTO" \\\n    " update_log(seq) VALUES (1)"\n' \
    > "$T/split/aggregator/core/health_sql.h"
expect_bad "a write split over string literals is seen" \
    'aggregator/core/health_sql.h: writes update_log (INSERT OR IGNORE INTO update_log)' \
    "$T/split"

tree "$T/backend"
printf 'x = store_db(s);\n' >> "$T/backend/aggregator/report/query.c"
expect_bad "a backend call outside the listed files fails" \
    'aggregator/report/query.c: calls store_db (line 3)' "$T/backend"

tree "$T/bare"
printf 'st = cds_sql_prepare(store_sql(s),\n    Q, 0);\n' \
    >> "$T/bare/aggregator/report/query.c"
expect_bad "a core read not passed to store_read fails (through two macros)" \
    'aggregator/report/query.c:4: reads a core table (Q) in cds_sql_prepare()' \
    "$T/bare"

tree "$T/literal"
printf 'st = cds_sql_prepare(db, "SELECT v"\n  " FROM datavalue", 0);\n' \
    >> "$T/literal/aggregator/report/query.c"
expect_bad "a core read in split literals is seen" \
    'aggregator/report/query.c:3: reads a core table (FROM datavalue) in cds_sql_prepare()' \
    "$T/literal"

tree "$T/loose"
: > "$T/loose/aggregator/ingest_decide.c"
expect_bad "a source outside the layer folders fails" \
    'aggregator/ingest_decide.c: not in a layer folder' "$T/loose"

"$PY" "$LAYERS" "$TOP" > "$T/real" 2>&1; st=$?
diag "$(cat "$T/real")"
expect_eq "the real tree: no cycle, no upward include, no foreign SQL, no core-table write outside store" "$st" 0

# The compiler's side: a core file compiles with core's -I only, so an
# upward include does not build (the Makefile's LAYER_INC).
# inc_of OBJ: the project's -I flags in the command that builds OBJ.
inc_of() { make -s -n -B -C "$TOP" BUILD="$BUILD" "$BUILD/obj/$1" 2>/dev/null \
    | grep -- "-c ${1%.o}.c" | tr ' ' '\n' | grep -E '^-I(agent|aggregator)' \
    | tr '\n' ' ' | sed 's/ $//'; }
inc=$(inc_of aggregator/core/store.o)
expect_eq "core objects see core headers only" "$inc" "-Iaggregator/core"
expect_eq "agent objects see agent headers only" \
    "$(inc_of agent/outbox.o)" "-Iagent"
printf '#include "query.h"\n' > "$T/up.c"
if (cd "$TOP" && cc -fsyntax-only -Icommon -I"$BUILD/proto" $inc "$T/up.c") \
    > "$T/cc" 2>&1; then
    not_ok "a core file including query.h compiled"
else
    check "a core file including query.h does not compile" \
        grep -q 'query.h: No such file' "$T/cc"
fi
