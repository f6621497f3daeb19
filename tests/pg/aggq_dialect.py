"""aggq_dialect.py: do the tests' aggregator queries mean the same on
PostgreSQL as on SQLite? (tests/pg/aggq_dialect.sh runs it.)

  aggq_dialect.py TRACE PG_SUPER_SOCKDIR PG_PORT PG_SUPER PSQL

TRACE holds records "DB_PATH<TAB>SQL<NUL>" written by aggq in SQLite mode
(AGGQ_TRACE, tests/integration/lib.sh) during runs whose temp dirs were
kept (KEEP=1). Each aggregator database still on disk is copied into a
fresh PostgreSQL database, table for table (INTEGER -> bigint, BLOB ->
bytea, REAL -> double precision, else text; rows byte for byte), the
test-only compat functions of aggq_pg_compat are added, and every read
query is run on both; outputs must be equal (both as aggq prints them).
Writes and PRAGMAs are skipped. Prints one line per difference and a
summary; exits 1 on any difference.
"""
import csv
import io
import os
import re
import sqlite3
import subprocess
import sys

trace, sockdir, port, superuser, psql = sys.argv[1:6]
COMPAT = open(os.path.join(os.path.dirname(__file__), "aggq_compat.sql")).read()


def pg(db, sql, stdin=None, fmt=True):
    args = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockdir, "-p", port,
            "-U", superuser, "-d", db]
    if fmt:
        args += ["-At", "-F|"]
    if stdin is None:
        args += ["-f", "-"]
        stdin = sql
    else:
        args += ["-c", sql]
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def pgtype(decl):
    d = (decl or "").upper()
    if "INT" in d:
        return "bigint"
    if "BLOB" in d:
        return "bytea"
    if "REAL" in d or "DOUB" in d or "FLOA" in d:
        return "double precision"
    return "text"


def copy_db(path, name):
    rc, _, err = pg("postgres", 'CREATE DATABASE "%s"' % name)
    if rc:
        sys.exit("cannot create %s: %s" % (name, err))
    src = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    # Tests store invalid UTF-8 on purpose (bad input); PostgreSQL text
    # cannot hold it: such values arrive with U+FFFD in the copy.
    src.text_factory = lambda b: b.decode("utf-8", "replace")
    tables = [r[0] for r in src.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for t in tables:
        cols = [(r[1], pgtype(r[2])) for r in src.execute('PRAGMA table_info("%s")' % t)]
        ddl = 'CREATE TABLE "%s" (%s);' % (t, ", ".join('"%s" %s' % c for c in cols))
        rc, _, err = pg(name, ddl)
        if rc:
            sys.exit("%s: %s" % (ddl, err))
        buf = io.StringIO()
        w = csv.writer(buf)
        for row in src.execute('SELECT * FROM "%s"' % t):
            out = []
            for v, (_, ty) in zip(row, cols):
                if v is None:
                    out.append(None)
                elif ty == "bytea":
                    b = v if isinstance(v, bytes) else str(v).encode()
                    out.append("\\x" + b.hex())
                else:
                    out.append(v)
            w.writerow(["\\N" if v is None else v for v in out])
        rc, _, err = pg(name, "COPY \"%s\" FROM STDIN WITH (FORMAT csv, NULL '\\N')" % t,
                        stdin=buf.getvalue(), fmt=False)
        if rc:
            sys.exit("copy %s.%s: %s" % (path, t, err))
    rc, _, err = pg(name, COMPAT)
    if rc:
        sys.exit("compat: %s" % err)


def sqlite_out(path, sql):
    r = subprocess.run(["sqlite3", "-batch", "-noheader", path,
                        "PRAGMA busy_timeout=5000; " + sql], capture_output=True, text=True)
    lines = r.stdout.split("\n")[1:]
    return r.returncode, "\n".join(lines), r.stderr


recs = [r for r in open(trace, "rb").read().decode().split("\0") if r]
dbs, n, bad, skipped, seen = {}, 0, 0, 0, set()
for rec in recs:
    path, sql = rec.split("\t", 1)
    if re.match(r"\s*(INSERT|UPDATE|DELETE|PRAGMA)\b", sql, re.I) or \
            re.match(r"\s*WITH\b.*\bINSERT\b", sql, re.I | re.S):
        skipped += 1
        continue
    if (path, sql) in seen:
        continue
    seen.add((path, sql))
    if not os.path.exists(path):
        skipped += 1
        continue
    if path not in dbs:
        dbs[path] = "d%d" % (len(dbs) + 1)
        copy_db(path, dbs[path])
    n += 1
    rs, os_, es = sqlite_out(path, sql)
    rp, op, ep = pg(dbs[path], sql)
    # Without ORDER BY the row order is the engine's: compare as sets of
    # lines (the tests sort such output themselves).
    a, b = os_.strip(), op.strip()
    if not re.search(r"\bORDER\s+BY\b", sql, re.I):
        a, b = sorted(a.split("\n")), sorted(b.split("\n"))
    if rs or rp or a != b:
        bad += 1
        print("DIFF %s\n  sql: %s\n  sqlite(%d): %r %s\n  pg(%d): %r %s" % (
            path, " ".join(sql.split())[:300], rs, os_.strip()[:200], es.strip()[:200],
            rp, op.strip()[:200], ep.strip()[:300]))
# The fault checker on both: a scenario's kept dir (acked.db beside
# agg/state/aggregator.db) checked from the file and from the PostgreSQL
# copy must end with the same figures line.
checker = os.path.join(os.path.dirname(__file__), "..", "fault", "checker.sh")
nchk = 0
for path, name in dbs.items():
    t = path[:-len("/agg/state/aggregator.db")] if path.endswith("/agg/state/aggregator.db") else None
    if not t or not os.path.exists(os.path.join(t, "acked.db")):
        continue
    agents = sorted(os.path.join(t, d, "state", "agent.db") for d in os.listdir(t)
                    if os.path.exists(os.path.join(t, d, "state", "agent.db")))
    url = "postgresql:///%s?host=%s&port=%s&user=%s" % (name, sockdir, port, superuser)
    outs = []
    for src in (path, url):
        r = subprocess.run(["sh", checker, src, os.path.join(t, "acked.db"),
                            os.path.join(t, "cli_acked")] + agents, capture_output=True, text=True,
                           env=dict(os.environ, PG_BIN=os.path.dirname(psql)))
        outs.append(r.stdout.strip().split("\n")[-1] if r.stdout.strip() else "(none) " + r.stderr[:200])
    nchk += 1
    if outs[0] != outs[1]:
        bad += 1
        print("CHECKER DIFF %s\n  sqlite: %s\n  pg:     %s" % (t, outs[0], outs[1]))
    else:
        print("checker same on both: %s" % outs[0])
print("aggq_dialect: %d checker runs compared" % nchk)
print("aggq_dialect: %d databases, %d distinct queries compared, %d differ, %d writes/pragmas/gone skipped"
      % (len(dbs), n, bad, skipped))
sys.exit(1 if bad else 0)
