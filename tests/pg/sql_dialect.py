#!/usr/bin/python3
"""sql_dialect: does every SQL text of the aggregator prepare on both
backends? (docs/POSTGRESQL.md "Dialect check"; run by tests/pg/sql_dialect.sh)

Reads every object-like macro of aggregator/*/*_sql.h (their values come
from a small C program this script compiles, so the C preprocessor builds
the texts exactly as the modules get them), then:

  SQLite      a fresh database gets the migrations in store.c's order
              (migrations[]: a macro, or a `name[] = MACRO` array of a .c
              file); every statement text other than a migration is
              prepared on it (sqlite3_prepare_v2, through ctypes).
  PostgreSQL  every <MODULE>_SQL_PG_SCHEMA is run on an empty database
              (STORE first, then by name); the result is compared with
              the SQLite file (tables, columns with mapped types and NOT
              NULL, indexes, UNIQUE and foreign keys, triggers); UPDATE,
              DELETE and TRUNCATE of the append-only tables must fail
              with SQLite's message; every statement is prepared there
              (PQprepare, unnamed, no parameter types given: the server
              infers them, as common/cds_sql does), its NAME_PG variant in
              place of NAME when there is one, with :name and ? rewritten
              to $n outside quotes and comments (`::` is a cast). Then the
              inferred parameter types are checked: BIGINT, DOUBLE
              PRECISION, TEXT, BYTEA or BOOLEAN only, since cds_sql sends
              64-bit integers, doubles and text as text and blobs as bytea
              (an INTEGER parameter would overflow at 2^31; CAST it).

A text holding several statements (a ';' inside) is executed instead,
for real (temp tables the next texts use). Fragments (a macro whose text
does not start with a statement keyword: column lists, joins) and the
parts of a schema (NAME_SQL_PG_*) are skipped. A text whose comment right
above starts "SQLite only:" is not prepared on PostgreSQL (and must have
no NAME_PG). Output: TAP, one line per text and backend; a failure
names the macro and carries the server's message.

usage: sql_dialect.py --top DIR --work DIR --pg-url URL [--cflags FLAGS]
"""
import argparse
import ctypes
import ctypes.util
import glob
import os
import re
import shlex
import sqlite3
import subprocess
import sys

KEYWORDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE",
            "ALTER", "DROP", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN",
            "COMMIT", "PRAGMA")
# PostgreSQL type oids a parameter may be inferred as (pg_type.oid).
PARAM_OK = {16: "boolean", 17: "bytea", 20: "bigint", 25: "text",
            701: "double precision"}
PARAM_NAMES = {21: "smallint", 23: "integer", 700: "real", 705: "unknown",
               1700: "numeric", 1043: "varchar", 114: "json", 3802: "jsonb"}

DEFINE = re.compile(r"^#define\s+([A-Z][A-Z0-9_]*)(?=[\s\\]|$)", re.M)


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, good, what, why=""):
        self.n += 1
        if not good:
            self.failed += 1
        msg = " ".join(why.split())
        print("%sok %d - %s%s" % ("" if good else "not ", self.n, what,
                                  ": " + msg if msg else ""))
        sys.stdout.flush()


def macros(top):
    """[(file, name)] of every object-like macro of the *_sql.h files, and
    the set of those whose comment right above starts "SQLite only:"."""
    out, sqlite_only = [], set()
    for path in sorted(glob.glob(os.path.join(top, "aggregator/*/*_sql.h"))):
        with open(path) as f:
            text = f.read()
        for m in DEFINE.finditer(text):
            if m.group(1).startswith("AGG_"):       # include guards
                continue
            out.append((os.path.relpath(path, top), m.group(1)))
            before = text[:m.start()].rstrip()
            if before.endswith("*/"):
                comment = before[before.rfind("/*") + 2:]
                if comment.split()[:2] == ["SQLite", "only:"]:
                    sqlite_only.add(m.group(1))
    return out, sqlite_only


def texts(top, work, cflags, names):
    """{name: text}, the macros' values as the C preprocessor builds them."""
    src = os.path.join(work, "sql_texts.c")
    exe = os.path.join(work, "sql_texts")
    with open(src, "w") as f:
        f.write("#include <stdio.h>\n#include \"store.h\"\n"
                "#include \"query.h\"\n#include \"orgmap.h\"\n")
        for h in sorted({h for h, _ in names}):
            f.write("#include \"%s\"\n" % os.path.basename(h))
        f.write("int main(void) {\n")
        for _, n in names:
            f.write("    fputs(\"%s\", stdout); putchar(0);"
                    " fputs(%s, stdout); putchar(0);\n" % (n, n))
        f.write("    return 0;\n}\n")
    inc = ["-I" + os.path.join(top, d) for d in
           ("common", "aggregator/core", "aggregator/report",
            "aggregator/front")]
    subprocess.run(["cc", "-std=gnu11", "-o", exe, src] + inc
                   + shlex.split(cflags), check=True)
    raw = subprocess.run([exe], check=True, stdout=subprocess.PIPE).stdout
    parts = raw.decode().split("\0")
    return dict(zip(parts[0:-1:2], parts[1::2]))


def is_statement(text):
    words = text.split(None, 1)
    return bool(words) and words[0].upper() in KEYWORDS


# One lexical piece of SQL at a time: a quoted string or name (a doubled
# quote inside), a comment, a $$ body, or any other single character.
PIECE = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/"""
                   r"|\$\$.*?\$\$|::|:[A-Za-z_][A-Za-z0-9_]*|.", re.S)


def split_statements(sql):
    """The statements of sql (split at ';' outside quotes and comments)."""
    out, cur = [], []
    for piece in PIECE.findall(sql) + [";"]:
        if piece == ";":
            if "".join(cur).strip():
                out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(piece)
    return out


def to_dollar(sql):
    """:name and ? to $n outside quotes and comments (:: is a cast);
    the text and [name of $1, $2, ...]."""
    out, names = [], []
    for piece in PIECE.findall(sql):
        if piece == "?":
            names.append("?%d" % (len(names) + 1))
            piece = "$%d" % len(names)
        elif piece.startswith(":") and piece != "::":
            if piece[1:] not in names:
                names.append(piece[1:])
            piece = "$%d" % (names.index(piece[1:]) + 1)
        out.append(piece)
    return "".join(out), names


class Sqlite:
    def __init__(self, path):
        lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
        lib.sqlite3_open.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        lib.sqlite3_errmsg.restype = ctypes.c_char_p
        lib.sqlite3_errmsg.argtypes = [ctypes.c_void_p]
        lib.sqlite3_exec.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_void_p]
        lib.sqlite3_prepare_v2.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
            ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
        lib.sqlite3_finalize.argtypes = [ctypes.c_void_p]
        self.lib, self.db = lib, ctypes.c_void_p()
        if lib.sqlite3_open(path.encode(), ctypes.byref(self.db)) != 0:
            raise RuntimeError("sqlite3_open %s" % path)

    def error(self):
        return self.lib.sqlite3_errmsg(self.db).decode()

    def execute(self, sql):
        rc = self.lib.sqlite3_exec(self.db, sql.encode(), None, None, None)
        return "" if rc == 0 else self.error()

    def prepare(self, sql):
        st = ctypes.c_void_p()
        rc = self.lib.sqlite3_prepare_v2(self.db, sql.encode(), -1,
                                         ctypes.byref(st), None)
        self.lib.sqlite3_finalize(st)
        return "" if rc == 0 else self.error()


class Pg:
    OK = (1, 2)           # PGRES_COMMAND_OK, PGRES_TUPLES_OK

    def __init__(self, url):
        lib = ctypes.CDLL(ctypes.util.find_library("pq"))
        v, c = ctypes.c_void_p, ctypes.c_char_p
        for fn, res, args in (
                ("PQconnectdb", v, [c]), ("PQstatus", ctypes.c_int, [v]),
                ("PQerrorMessage", c, [v]), ("PQexec", v, [v, c]),
                ("PQprepare", v, [v, c, c, ctypes.c_int, v]),
                ("PQdescribePrepared", v, [v, c]),
                ("PQresultStatus", ctypes.c_int, [v]),
                ("PQresultErrorMessage", c, [v]),
                ("PQnparams", ctypes.c_int, [v]),
                ("PQparamtype", ctypes.c_uint, [v, ctypes.c_int]),
                ("PQntuples", ctypes.c_int, [v]),
                ("PQnfields", ctypes.c_int, [v]),
                ("PQgetvalue", c, [v, ctypes.c_int, ctypes.c_int]),
                ("PQclear", None, [v]), ("PQfinish", None, [v])):
            getattr(lib, fn).restype = res
            getattr(lib, fn).argtypes = args
        self.lib = lib
        self.conn = lib.PQconnectdb(url.encode())
        if lib.PQstatus(self.conn) != 0:
            raise RuntimeError(lib.PQerrorMessage(self.conn).decode())
        self.execute("SET client_min_messages = warning")

    def _result(self, res):
        good = self.lib.PQresultStatus(res) in self.OK
        msg = "" if good else self.lib.PQresultErrorMessage(res).decode()
        return msg or ("" if good else "failed")

    def execute(self, sql):
        res = self.lib.PQexec(self.conn, sql.encode())
        msg = self._result(res)
        self.lib.PQclear(res)
        return msg

    def rows(self, sql):
        """The rows of query sql, as tuples of strings (NULL: '')."""
        res = self.lib.PQexec(self.conn, sql.encode())
        msg = self._result(res)
        if msg:
            self.lib.PQclear(res)
            raise RuntimeError(msg)
        out = [tuple(self.lib.PQgetvalue(res, r, f).decode()
                     for f in range(self.lib.PQnfields(res)))
               for r in range(self.lib.PQntuples(res))]
        self.lib.PQclear(res)
        return out

    def prepare(self, sql):
        """'' or the error; then [param type oids]."""
        res = self.lib.PQprepare(self.conn, b"", sql.encode(), 0, None)
        msg = self._result(res)
        self.lib.PQclear(res)
        if msg:
            return msg, []
        res = self.lib.PQdescribePrepared(self.conn, b"")
        types = [self.lib.PQparamtype(res, i)
                 for i in range(self.lib.PQnparams(res))]
        self.lib.PQclear(res)
        return "", types


def migration_order(top, values):
    """The migration macros in store.c's migrations[] order."""
    with open(os.path.join(top, "aggregator/core/store.c")) as f:
        body = re.search(r"migrations\[\]\s*=\s*\{(.*?)\};", f.read(), re.S)
    arrays = {}
    for path in glob.glob(os.path.join(top, "aggregator/*/*.c")):
        with open(path) as f:
            for m in re.finditer(r"const char (\w+)\[\]\s*=\s*(\w+);",
                                 f.read()):
                arrays[m.group(1)] = m.group(2)
    out = []
    for item in re.findall(r"^\s*(\w+),", body.group(1), re.M):
        name = arrays.get(item, item)
        if name not in values:
            raise RuntimeError("migration %s: no such macro" % name)
        out.append(name)
    return out


def check_sqlite(tap, path, values, order, stmts):
    if os.path.exists(path):
        os.unlink(path)
    db = Sqlite(path)
    for i, name in enumerate(order):
        err = db.execute("BEGIN;" + values[name] + "COMMIT;")
        tap.ok(not err, "sqlite: migration %d %s" % (i + 1, name), err)
        if err:
            return
    db.execute("PRAGMA user_version = %d" % len(order))
    for name in stmts:
        sql = values[name]
        if len(split_statements(sql)) > 1:
            err = db.execute(sql)
        else:
            err = db.prepare(sql)
        tap.ok(not err, "sqlite: %s" % name, err)


SQLITE_TYPES = {"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea",
                "REAL": "double precision"}


def sqlite_layout(path):
    """{table: {column: (type, notnull)}}, indexes, uniques, fks, triggers."""
    db = sqlite3.connect(path)
    q = lambda sql, *a: db.execute(sql, a).fetchall()
    tables, uniques, fks = {}, set(), set()
    for (t,) in q("SELECT name FROM sqlite_schema WHERE type = 'table'"
                  " AND name NOT LIKE 'sqlite%'"):
        tables[t] = {c: (SQLITE_TYPES.get(ty.upper(), ty), bool(nn or pk))
                     for _, c, ty, nn, _, pk
                     in q("SELECT * FROM pragma_table_info(?)", t)}
        for _, name, _, origin, _ in q("SELECT * FROM pragma_index_list(?)",
                                       t):
            if origin == "u":
                cols = [r[2] for r in q("SELECT * FROM pragma_index_info(?)",
                                        name)]
                uniques.add((t, ",".join(sorted(cols))))
        by_id = {}
        for r in q("SELECT * FROM pragma_foreign_key_list(?)", t):
            by_id.setdefault(r[0], (r[2], []))[1].append(r[3])
        fks |= {(t, ref, ",".join(sorted(cols)))
                for ref, cols in by_id.values()}
    indexes = {r[0] for r in q("SELECT name FROM sqlite_schema WHERE"
                               " type = 'index' AND sql IS NOT NULL")}
    triggers = {r[0] for r in q("SELECT name FROM sqlite_schema"
                                " WHERE type = 'trigger'")}
    return tables, indexes, uniques, fks, triggers


PG_LAYOUT = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable"
               " FROM information_schema.columns c JOIN"
               " information_schema.tables USING (table_schema, table_name)"
               " WHERE table_schema = current_schema()"
               " AND table_type = 'BASE TABLE'",
    "indexes": "SELECT indexname FROM pg_indexes i WHERE schemaname ="
               " current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint"
               " k WHERE k.conindid = (quote_ident(i.schemaname) || '.' ||"
               " quote_ident(i.indexname))::regclass)",
    "constraints": "SELECT contype, conrelid::regclass::text,"
                   " confrelid::regclass::text, array_to_string(ARRAY("
                   "SELECT attname FROM pg_attribute WHERE attrelid ="
                   " conrelid AND attnum = ANY(conkey) ORDER BY attname), ',')"
                   " FROM pg_constraint WHERE contype IN ('u', 'f')"
                   " AND connamespace = current_schema()::regnamespace",
    "triggers": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
}


def check_layout(tap, sqlite_path, pg):
    """The PostgreSQL schema has SQLite's tables, columns (types mapped,
    NOT NULL alike), indexes, UNIQUE and FOREIGN KEY constraints and
    triggers, by name."""
    tables, indexes, uniques, fks, triggers = sqlite_layout(sqlite_path)
    pgt = {}
    for t, c, ty, nullable in pg.rows(PG_LAYOUT["columns"]):
        pgt.setdefault(t, {})[c] = (ty, nullable == "NO")
    tap.ok(set(tables) == set(pgt), "layout: the same tables",
           "sqlite only: %s; postgresql only: %s"
           % (sorted(set(tables) - set(pgt)), sorted(set(pgt) - set(tables)))
           if set(tables) != set(pgt) else "")
    for t in sorted(set(tables) & set(pgt)):
        diff = ["%s %s" % (c, tables[t].get(c, "-")) + " vs "
                + str(pgt[t].get(c, "-"))
                for c in sorted(set(tables[t]) | set(pgt[t]))
                if tables[t].get(c) != pgt[t].get(c)]
        tap.ok(not diff, "layout: table %s, its columns (type, NOT NULL)" % t,
               "; ".join(diff))
    pgi = {r[0] for r in pg.rows(PG_LAYOUT["indexes"])}
    tap.ok(indexes == pgi, "layout: the same indexes",
           "" if indexes == pgi else "sqlite %s postgresql %s"
           % (sorted(indexes), sorted(pgi)))
    cons = pg.rows(PG_LAYOUT["constraints"])
    pgu = {(t, cols) for k, t, _, cols in cons if k == "u"}
    pgf = {(t, ref, cols) for k, t, ref, cols in cons if k == "f"}
    tap.ok(uniques == pgu, "layout: the same UNIQUE constraints",
           "" if uniques == pgu else "sqlite %s postgresql %s"
           % (sorted(uniques), sorted(pgu)))
    tap.ok(fks == pgf, "layout: the same FOREIGN KEY constraints",
           "" if fks == pgf else "sqlite %s postgresql %s"
           % (sorted(fks), sorted(pgf)))
    pgtr = {r[0] for r in pg.rows(PG_LAYOUT["triggers"])}
    tap.ok(triggers <= pgtr, "layout: SQLite's triggers exist",
           "missing: %s" % sorted(triggers - pgtr) if triggers - pgtr else "")


APPEND_ONLY_ROWS = (
    "INSERT INTO agent(sign_pk, curve_pk, pubid, fpr, enrolled_at_ms)"
    " VALUES (decode(repeat('01', 32), 'hex'), decode(repeat('02', 32),"
    " 'hex'), 'p', 'f', 0)",
    "INSERT INTO batch(agent_id, first_seq, last_seq, received_at_ms,"
    " envelope) SELECT id, 1, 1, 0, '\\x00' FROM agent",
    "INSERT INTO update_log(agent_id, seq, batch_id, content_hash,"
    " chain_head, status, deleted, followup, hlc, received_at_ms)"
    " SELECT agent_id, 1, id, '\\x00', '\\x00', 0, 0, 0, 1, 0 FROM batch",
    "INSERT INTO update_status(agent_id, seq, status, from_status, at_ms)"
    " SELECT agent_id, seq, 1, 0, 0 FROM update_log")


def check_append_only(tap, pg):
    """UPDATE, DELETE and TRUNCATE of the append-only tables fail with
    SQLite's message (rows inserted and rolled back)."""
    err = pg.execute("BEGIN")
    for sql in APPEND_ONLY_ROWS:
        err = err or pg.execute(sql)
    tap.ok(not err, "append-only: a row in each table", err)
    for t, col in (("update_log", "status"), ("update_status", "status"),
                   ("batch", "last_seq")):
        for op in ("UPDATE %s SET %s = %s" % (t, col, col),
                   "DELETE FROM %s" % t, "TRUNCATE %s CASCADE" % t):
            pg.execute("SAVEPOINT s")
            got = pg.execute(op)
            pg.execute("ROLLBACK TO SAVEPOINT s")
            tap.ok("%s is append-only" % t in got,
                   "append-only: %s refused" % op.split(" SET")[0],
                   "" if got else "it succeeded")
    pg.execute("ROLLBACK")


def check_pg(tap, url, values, schemas, stmts, sqlite_only, sqlite_path):
    pg = Pg(url)
    for name in schemas:
        err = pg.execute(values[name])
        tap.ok(not err, "postgresql: schema %s" % name, err)
        if err:
            return
    check_layout(tap, sqlite_path, pg)
    check_append_only(tap, pg)
    for name in stmts:
        if name in sqlite_only:
            tap.ok(name + "_PG" not in values,
                   "postgresql: %s # SKIP SQLite only" % name)
            continue
        shown = name + "_PG" if name + "_PG" in values else name
        sql = values[shown]
        if len(split_statements(sql)) > 1:
            err = pg.execute(sql)
            tap.ok(not err, "postgresql: %s" % shown, err)
            continue
        text, params = to_dollar(sql)
        err, types = pg.prepare(text)
        bad = ["%s: %s" % (params[i], PARAM_NAMES.get(t, "oid %d" % t))
               for i, t in enumerate(types) if t not in PARAM_OK]
        if not err and bad:
            err = ("parameter type the backend-neutral layer cannot send "
                   "(CAST it): " + ", ".join(bad))
        tap.ok(not err, "postgresql: %s" % shown, err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--cflags", default="")
    a = ap.parse_args()
    tap = Tap()
    found, sqlite_only = macros(a.top)
    values = texts(a.top, a.work, a.cflags, found)
    names = [n for _, n in found]
    order = migration_order(a.top, values)
    schemas = sorted((n for n in names if n.endswith("_SQL_PG_SCHEMA")),
                     key=lambda n: (n != "STORE_SQL_PG_SCHEMA", n))
    stmts, skipped = [], []
    for n in names:
        if "_SQL_PG_" in n or "_MIGRATION" in n:      # schema parts
            continue
        if n.endswith("_PG"):
            tap.ok(n[:-3] in values, "%s has its base text %s" % (n, n[:-3]))
            continue
        (stmts if is_statement(values[n]) else skipped).append(n)
    print("# %d statements, %d migrations, %d PostgreSQL schema parts; "
          "fragments skipped: %s" % (len(stmts), len(order), len(schemas),
                                     " ".join(skipped)))
    tap.ok(bool(schemas), "a PostgreSQL schema (*_SQL_PG_SCHEMA) exists")
    path = os.path.join(a.work, "current.db")
    check_sqlite(tap, path, values, order, stmts)
    check_pg(tap, a.pg_url, values, schemas, stmts, sqlite_only, path)
    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
