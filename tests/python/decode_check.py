#!/usr/bin/env python3
"""decode_check: an independent decoder for what the aggregator kept.

Decodes every kept batch envelope of an aggregator database with Google's
protobuf runtime (not protobuf-c), recomputes each update's content hash
and the hash chain from the layout documented in common/cds_update.h and
docs/PROTOCOL.md, and compares them, and every field, with what the
aggregator stored (update_log, agent.applied_head). Any difference is one
line on stdout and exit status 1; clean is exit 0.

usage: decode_check.py DB PROTO_FILE TMPDIR
  cdsync_pb2.py is generated into TMPDIR with `protoc --python_out`.
"""
import hashlib
import importlib
import os
import sqlite3
import struct
import subprocess
import sys

UPDATE_CONTEXT = b"cdsync-update/1"
CHAIN_CONTEXT = b"cdsync-chain/1"
STRINGS = ("org_unit", "indicator", "period", "disagg", "value", "comment",
           "stored_by")


def load_pb2(proto, tmp):
    d = os.path.dirname(os.path.abspath(proto))
    subprocess.run(["protoc", "-I", d, "--python_out", tmp,
                    os.path.abspath(proto)], check=True)
    sys.path.insert(0, tmp)
    return importlib.import_module(
        os.path.splitext(os.path.basename(proto))[0] + "_pb2")


def content_hash(u):
    """BLAKE2b-256 over the canonical layout; len is the wire byte length."""
    h = hashlib.blake2b(digest_size=32)
    h.update(UPDATE_CONTEXT)
    h.update(struct.pack("<Q", u.seq))
    for name in STRINGS:
        b = getattr(u, name).encode("utf-8")
        h.update(struct.pack("<I", len(b)))
        h.update(b)
    h.update(bytes([1 if u.deleted else 0, 1 if u.followup else 0]))
    h.update(struct.pack("<Q", u.hlc))
    if u.created_ms or u.last_updated_ms:   # fields 12, 13, only if given
        h.update(struct.pack("<QQ", u.created_ms, u.last_updated_ms))
    return h.digest()


def chain_next(prev, h):
    c = hashlib.blake2b(digest_size=32)
    c.update(CHAIN_CONTEXT)
    c.update(prev)
    c.update(h)
    return c.digest()


def stored_text(v):
    return "" if v is None else v


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    db, proto, tmp = sys.argv[1:]
    pb = load_pb2(proto, tmp)
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    problems = []
    # (agent_id, seq, batch_id) -> (hash, head, update) from the batches
    signed = {}
    n_batches = n_updates = 0
    for bid, agent_id, env_bytes in con.execute(
            "SELECT id, agent_id, envelope FROM batch ORDER BY id"):
        n_batches += 1
        env = pb.Envelope()
        env.ParseFromString(env_bytes)
        if env.kind != pb.KIND_BATCH:
            problems.append("batch %d: kind %d" % (bid, env.kind))
            continue
        b = pb.Batch()
        b.ParseFromString(env.body)
        prev = b.prev_head
        for u in b.updates:
            for name in STRINGS:
                if "\0" in getattr(u, name):
                    problems.append("batch %d seq %d: NUL in %s kept"
                                    % (bid, u.seq, name))
            h = content_hash(u)
            prev = chain_next(prev, h)
            signed[(agent_id, u.seq, bid)] = (h, prev, u)
            n_updates += 1
        if prev != b.head:
            problems.append("batch %d: chain does not end at head" % bid)
    n_rows = 0
    for row in con.execute(
            "SELECT agent_id, seq, batch_id, content_hash, chain_head,"
            " status, org_unit, indicator, period, disagg, value, comment,"
            " stored_by, deleted, followup, hlc,"
            " coalesce(created_ms, 0), coalesce(updated_ms, 0)"
            " FROM update_log"):
        n_rows += 1
        agent_id, seq, bid, ch, head, status = row[:6]
        s = signed.get((agent_id, seq, bid))
        if s is None:
            problems.append("agent %d seq %d: not in its batch %d"
                            % (agent_id, seq, bid))
            continue
        h, want_head, u = s
        if ch != h:
            problems.append("agent %d seq %d: content_hash stored %s, "
                            "independent %s" % (agent_id, seq, ch.hex(),
                                                h.hex()))
        if head != want_head:
            problems.append("agent %d seq %d: chain_head differs"
                            % (agent_id, seq))
        fields = dict(zip(STRINGS, row[6:13]))
        for name in STRINGS:
            want = getattr(u, name)
            if name == "value" and u.deleted:
                want = ""
            got = stored_text(fields[name])
            # a refused too_big field is not kept in history (store.h)
            if status != 0 and got == "" and want != "":
                continue
            if got != want:
                problems.append("agent %d seq %d: %s stored %r, wire %r"
                                % (agent_id, seq, name, got, want))
        if (row[13] != int(u.deleted) or row[14] != int(u.followup)
                or row[15] != u.hlc or row[16] != u.created_ms
                or row[17] != u.last_updated_ms):
            problems.append("agent %d seq %d: flags, hlc or source times differ"
                            % (agent_id, seq))
    for agent_id, applied, applied_head in con.execute(
            "SELECT id, applied_seq, applied_head FROM agent"
            " WHERE applied_seq > 0"):
        r = con.execute("SELECT chain_head FROM update_log WHERE agent_id = ?"
                        " AND seq = ?", (agent_id, applied)).fetchone()
        if r is None or r[0] != applied_head:
            problems.append("agent %d: applied_head is not the chain head at"
                            " seq %d" % (agent_id, applied))
    for p in problems:
        print(p)
    print("# decode_check: %d batches, %d updates, %d history rows, "
          "%d problems" % (n_batches, n_updates, n_rows, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
