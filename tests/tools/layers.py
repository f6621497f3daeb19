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
WRITE = re.compile(r"\b(INSERT(?:\s+OR\s+[A-Z]+)?\s+INTO|UPDATE|DELETE\s+FROM|"
                   r"REPLACE\s+INTO)\s+(?:main\.)?(%s)\b"
                   % "|".join(CORE_TABLES))


def module(name):
    base = os.path.basename(name)
    # common's modules are cds_*: cds_sql.h is module cds_sql's header (the
    # SQL interface), not the SQL of a module "cds".
    suffixes = (".c", ".h") if base.startswith("cds_") else \
        ("_sql.h", ".c", ".h")
    for suffix in suffixes:
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
    """Files by path -> (layer, [included names]); problems of rule 1."""
    files, problems = {}, []
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
            if path not in CORE_WRITERS:
                core_writes(path, text, problems)
    return files, problems


def core_writes(path, text, problems):
    """Rule 6: an SQL write to a core table outside store."""
    sql = JOIN.sub("", COMMENT.sub(" ", text))
    for m in WRITE.finditer(sql):
        problems.append("%s: writes %s (%s): only store writes the core "
                        "tables" % (path, m.group(2),
                                    " ".join(m.group(0).split())))


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
            if inc.endswith("_sql.h") and not inc.startswith("cds_") \
                    and module(inc) != src:
                problems.append("%s includes %s: the SQL of module %s is "
                                "its own" % (path, inc, module(inc)))
            dst = module(inc)
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
          "include, no foreign SQL, no core-table write outside store" % (
              len(files), ", ".join("%s %d" % (l, per[l]) for l in
                                    ("common", "agent", "core", "report",
                                     "front") if l in per),
              sum(len(v) for v in graph.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
