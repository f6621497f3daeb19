#!/usr/bin/python3
"""layers: check the include graph of common/, agent/ and aggregator/.

Usage: layers.py [TOP]   (TOP: the source tree, default the current one)

Rules (docs/DESIGN.md "Layers"), beside the Makefile's per-layer -I:
  1. every aggregator source sits in a layer folder: core/, report/ or
     front/ (a file straight in aggregator/ belongs to no layer);
  2. no layer includes a header of a layer above it:
     common < core < report < front; the agent sees common and agent only,
     and common sees only itself;
  3. no include cycle between modules (a module is a basename without .c,
     .h or _sql.h: store.c, store.h and store_sql.h are module store);
  4. a module's SQL is its own: X_sql.h is included by module X only;
  5. a header name is unique across the tree (the -I order must not
     choose between two).
  6. the storage boundary (DESIGN.md "Storage boundary"): no file but
     aggregator/core/store.c and store_sql.h holds an SQL write (INSERT,
     UPDATE, DELETE, REPLACE) to a core table (agent, batch, update_log,
     update_status, datavalue); C comments are skipped and adjacent
     string literals joined, so a statement split over lines is seen.
  7. the read side of the boundary (store.h "reading the core tables",
     issue 14): in aggregator/, no file calls a backend's own API
     (sqlite3_*, cds_db_*, cds_bind_*, cds_stmt_done, store_db) but
     those listed in BACKEND_FILES; and outside store.c the SQL that
     reads a core table (FROM/JOIN agent, batch, ...: a string literal,
     or a macro whose text, followed through the macros it names, does)
     is used only as an argument of store_read().
Prints one line per problem and exits 1 when there is any, else prints a
summary and exits 0. Hand-written: no Debian tool checks layering rules
of a C tree (include-what-you-use and cppcheck look at other things),
and the rules are a page of Python over the #include lines."""

import os
import re
import sys

LAYER_DIRS = {  # folder -> layer
    "common": "common",
    "agent": "agent",
    "aggregator/core": "core",
    "aggregator/report": "report",
    "aggregator/front": "front",
}
RANK = {"common": 0, "core": 1, "report": 2, "front": 3}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
CORE_TABLES = ("agent", "batch", "update_log", "update_status", "datavalue")
CORE_WRITERS = ("aggregator/core/store.c", "aggregator/core/store_sql.h")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
JOIN = re.compile(r'"\s*\\?\s*"')        # "..." \ <newline> "..."
READ = re.compile(r"\b(FROM|JOIN)\s+(?:main\.)?(%s)\b" % "|".join(CORE_TABLES))
# Rule 7: the one list of files allowed a backend's own API. store.c is
# the store; commitmark, backup and dbsize hold what only one backend has
# (online backup, page counts, the commit mark's file); store.h declares
# store_db until it goes.
BACKEND_FILES = (
    "aggregator/core/store.c", "aggregator/core/store.h",
    "aggregator/core/commitmark.c", "aggregator/core/backup.c",
    "aggregator/core/dbsize.c",
)
BACKEND_CALL = re.compile(r"\b(sqlite3_\w+|cds_db_\w+|cds_bind_\w+|"
                          r"cds_stmt_done|store_db)\s*\(")
DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)(\([^)]*\))?"
                    r"((?:.*\\\n)*.*)$", re.M)
STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"')
IDENT = re.compile(r"\b[A-Z_][A-Z0-9_]*\b")
WRITE = re.compile(r"\b(INSERT(?:\s+OR\s+[A-Z]+)?\s+INTO|UPDATE|DELETE\s+FROM|"
                   r"REPLACE\s+INTO)\s+(?:main\.)?(%s)\b"
                   % "|".join(CORE_TABLES))


def module(name):
    base = os.path.basename(name)
    # common/cds_sql.h is a module's own header, not the SQL of "cds".
    sql = ("_sql.h",) if not name.startswith("common/") else ()
    for suffix in sql + (".c", ".h"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def may_include(src, dst):
    """True when a file of layer src may include a header of layer dst."""
    if src == "agent":
        return dst in ("common", "agent")
    if dst == "agent":
        return False
    return RANK[dst] <= RANK[src]


def scan(top):
    """Files by path -> (layer, [included names]); problems of rules 1,
    6 and 7."""
    files, problems, texts = {}, [], {}
    agg = os.path.join(top, "aggregator")
    if os.path.isdir(agg):
        for f in sorted(os.listdir(agg)):
            if f.endswith((".c", ".h")):
                problems.append("aggregator/%s: not in a layer folder "
                                "(core/, report/ or front/)" % f)
    for folder, layer in LAYER_DIRS.items():
        d = os.path.join(top, folder)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith((".c", ".h")):
                continue
            path = folder + "/" + f
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                text = fh.read()
            inc = [m.group(1) for m in map(INCLUDE.match,
                                           text.splitlines()) if m]
            files[path] = (layer, inc)
            texts[path] = text
            if path not in CORE_WRITERS:
                core_writes(path, text, problems)
    reads(texts, problems)
    return files, problems


def core_writes(path, text, problems):
    """Rule 6: an SQL write to a core table outside store."""
    sql = JOIN.sub("", COMMENT.sub(" ", text))
    for m in WRITE.finditer(sql):
        problems.append("%s: writes %s (%s): only store writes the core "
                        "tables" % (path, m.group(2),
                                    " ".join(m.group(0).split())))


def macros(texts):
    """Every #define of the tree: name -> body (comments removed)."""
    out = {}
    for path, text in texts.items():
        for m in DEFINE.finditer(COMMENT.sub(" ", text)):
            out.setdefault(m.group(1), m.group(3))
    return out


def core_readers(defs):
    """Names of the macros whose SQL reads a core table, directly or
    through a macro they name."""
    memo = {}

    def reads(name, seen):
        if name in memo:
            return memo[name]
        if name in seen or name not in defs:
            return False
        body = defs[name]
        lits = "".join(x[1:-1] for x in STRINGS.findall(body))
        r = bool(READ.search(lits)) or any(
            reads(n, seen | {name}) for n in IDENT.findall(body)
            if n != name)
        memo[name] = r
        return r
    return {n for n in defs if reads(n, set())}


def enclosing_call(code, pos):
    """Name of the innermost call whose argument list holds pos, or None."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        c = code[i]
        if c == ")":
            depth += 1
        elif c == "(":
            if depth == 0:
                m = re.search(r"(\w+)\s*$", code[:i])
                return m.group(1) if m else None
            depth -= 1
        elif c in ";{}" and depth == 0:
            return None
    return None


def blank(m):
    """A string literal or #define line with its content as spaces."""
    t = m.group(0)
    return t[0] + re.sub(r"[^\n]", " ", t[1:-1]) + t[-1] if t[0] == '"' \
        else re.sub(r"[^\n]", " ", t)


def read_problems(path, text, readers):
    """Rule 7 in one file: backend calls; core-table reads not passed to
    store_read."""
    found = []
    code = COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    if path not in BACKEND_FILES:
        seen = {}
        for m in BACKEND_CALL.finditer(code):
            seen.setdefault(m.group(1), code.count("\n", 0, m.start()) + 1)
        if seen:
            found.append("%s: calls %s: the backend is cds_sql's and "
                         "store's (tests/tools/layers.py BACKEND_FILES)"
                         % (path, ", ".join("%s (line %d)" % kv for kv in
                                            sorted(seen.items(),
                                                   key=lambda kv: kv[1]))))
    if not path.endswith(".c") or path == "aggregator/core/store.c":
        return found
    code = DEFINE.sub(blank, code)
    flat = STRINGS.sub(blank, code)
    uses = []
    for m in re.finditer(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+', code):
        lits = "".join(x[1:-1] for x in STRINGS.findall(m.group(0)))
        r = READ.search(lits)
        if r:
            uses.append((m.start(), "%s %s" % (r.group(1), r.group(2))))
    for m in IDENT.finditer(flat):
        if m.group(0) in readers:
            uses.append((m.start(), m.group(0)))
    for pos, what in uses:
        call = enclosing_call(flat, pos)
        if call != "store_read":
            found.append("%s:%d: reads a core table (%s) %s: core tables "
                         "are read through store_read" % (
                             path, code.count("\n", 0, pos) + 1, what,
                             "in %s()" % call if call else "outside a call"))
    return found


def reads(texts, problems):
    """Rule 7 over aggregator/."""
    readers = core_readers(macros(texts))
    for path in sorted(texts):
        if path.startswith("aggregator/"):
            problems.extend(read_problems(path, texts[path], readers))


def headers(files, problems):
    """Header name -> (layer, path); rule 5."""
    where = {}
    for path, (layer, _) in files.items():
        name = os.path.basename(path)
        if not name.endswith(".h"):
            continue
        if name in where:
            problems.append("%s: same name as %s" % (path, where[name][1]))
        where[name] = (layer, path)
    return where


def check_edges(files, where, problems):
    """Rules 2 and 4; returns the module graph {module: {module: path}}."""
    graph = {}
    for path, (layer, incs) in sorted(files.items()):
        src = module(path)
        for inc in incs:
            if inc not in where:
                continue          # generated (cdsync.pb-c.h) or a test's
            dlayer, dpath = where[inc]
            if not may_include(layer, dlayer):
                problems.append("%s includes %s: %s may not include %s"
                                % (path, dpath, layer, dlayer))
            dst = module(dpath)
            if module(dpath) != dpath.rsplit("/", 1)[-1][:-2] \
                    and dst != src:
                problems.append("%s includes %s: the SQL of module %s is "
                                "its own" % (path, inc, dst))
            if dst != src:
                graph.setdefault(src, {}).setdefault(dst, path)
    return graph


def cycles(graph):
    """One cycle per strongly connected component (Tarjan, iterative)."""
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = n[0]; n[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = n[0]; n[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(set(comp))
    return [path_in(graph, comp) for comp in comps]


def path_in(graph, comp):
    """A cycle through the smallest module of comp (breadth-first)."""
    start = min(comp)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, {})):
            if w not in comp:
                continue
            if w == start:
                cyc = [v]
                while prev[cyc[-1]] is not None:
                    cyc.append(prev[cyc[-1]])
                cyc.reverse()
                return cyc + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return sorted(comp)


def main(argv):
    top = argv[1] if len(argv) > 1 else "."
    files, problems = scan(top)
    where = headers(files, problems)
    graph = check_edges(files, where, problems)
    for cyc in cycles(graph):
        via = ", ".join("%s in %s" % (b, graph[a][b])
                        for a, b in zip(cyc, cyc[1:]))
        problems.append("include cycle: %s (%s)" % (" -> ".join(cyc), via))
    for p in problems:
        print("layers: " + p)
    if problems:
        return 1
    per = {}
    for layer, _ in files.values():
        per[layer] = per.get(layer, 0) + 1
    print("layers: %d files (%s), %d module edges, no cycle, no upward "
          "include, no foreign SQL, no core-table write outside store, core "
          "tables read through store_read" % (
              len(files), ", ".join("%s %d" % (l, per[l]) for l in
                                    ("common", "agent", "core", "report",
                                     "front") if l in per),
              sum(len(v) for v in graph.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
