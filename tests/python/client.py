#!/usr/bin/python3
"""A cdsync agent-side client written from docs/PROTOCOL.md alone.

It proves the document is enough to interoperate: identities and the
identity file, CURVE, signed envelopes, Hello / Batch / Heartbeat, the
content hash and chain, canonical values, request ids, and the handling of
every Ack status, each checked against what the document says. Debian
packages: python3-zmq, python3-protobuf, python3-nacl, protobuf-compiler.

The protobuf module is generated at run time from proto/cdsync.proto
(`protoc --python_out`) into a temporary directory, or taken from
$CDSYNC_PB_DIR; generated code is never committed.

Commands (tests/integration/python_client.sh uses them):
  keygen   --identity FILE [--label TEXT]   write an identity, print cds1:
  pubid    --identity FILE                  load an identity, print cds1:
  vectors                                   print the document's test vectors
  scenario --identity FILE --server-key cds1:... --endpoint URL
           --catalog CSV --org-unit OU [--count N] [--batch B]
           [--receipts DIR] [--expected FILE]
      the integration scenario: prints one "step=..." line per answer and
      exits non-zero when an answer is not what the document says.
"""
import argparse
import base64
import csv
import hashlib
import math
import os
import random
import re
import stat
import struct
import subprocess
import sys
import tempfile
import time

import nacl.exceptions
import nacl.public
import nacl.signing
import zmq

MAX_MSG_BYTES = 4194304          # PROTOCOL.md "Transport"
MAX_BATCH = 1000
RETRYABLE = {2, 3, 20, 21}       # io, no_memory, busy, full
KIND = {"HELLO": 1, "HELLO_ANSWER": 2, "BATCH": 3, "ACK": 4,
        "HEARTBEAT": 5, "HEARTBEAT_ANSWER": 6, "NOTICE": 7,
        "METADATA": 8, "METADATA_REQUEST": 9, "METADATA_REPLY": 10}
MAX_METADATA_BYTES = 2 * 1024 * 1024   # PROTOCOL.md "MetadataRequest ..."
NOTICE_REVOKED = 1
ACK_NAMES = {0: "ACK_OK", 1: "ACK_GAP", 2: "ACK_RETRY", 3: "ACK_REFUSED"}
ZERO_HEAD = bytes(32)

pb = None                        # the generated cdsync_pb2 module


class ProtocolError(Exception):
    """An answer that contradicts docs/PROTOCOL.md."""


class Revoked(ProtocolError):
    """A verified Notice: our key is revoked (PROTOCOL.md "Revocation
    notice"). Nothing we send is applied any more: stop."""


def load_pb():
    """Import cdsync_pb2 from $CDSYNC_PB_DIR or generate it with protoc."""
    global pb
    pb_dir = os.environ.get("CDSYNC_PB_DIR")
    if not pb_dir:
        top = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        pb_dir = tempfile.mkdtemp(prefix="cdsync-pb.")
        subprocess.run(["protoc", "--python_out=" + pb_dir,
                        "-I", os.path.join(top, "proto"), "cdsync.proto"],
                       check=True)
    sys.path.insert(0, pb_dir)
    import cdsync_pb2
    pb = cdsync_pb2


# ---- identities (PROTOCOL.md "Identities") --------------------------------

def b64url_nopad(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def pubid(sign_pk, curve_pk):
    return "cds1:" + b64url_nopad(sign_pk + curve_pk)


def parse_pubid(s):
    """(sign_pk, curve_pk) of a cds1: string; ValueError if not one."""
    body = s[5:] if s.startswith("cds1:") else ""
    if len(body) != 86 or not re.fullmatch(r"[A-Za-z0-9_-]+", body):
        raise ValueError("not a cds1: identity: %r" % s)
    raw = base64.urlsafe_b64decode(body + "==")
    if b64url_nopad(raw) != body:        # non-zero padding bits
        raise ValueError("not canonical: %r" % s)
    return raw[:32], raw[32:]


def fingerprint(sign_pk):
    return hashlib.blake2b(sign_pk, digest_size=32).digest()[:8].hex()


class Identity:
    def __init__(self, seed, curve_sk, label=""):
        self.signing = nacl.signing.SigningKey(seed)
        self.sign_pk = bytes(self.signing.verify_key)
        self.curve = nacl.public.PrivateKey(curve_sk)
        self.curve_pk = bytes(self.curve.public_key)
        self.curve_sk = bytes(curve_sk)
        self.label = label

    def public(self):
        return pubid(self.sign_pk, self.curve_pk)

    def file_text(self):
        sign_secret = base64.b64encode(bytes(self.signing) + self.sign_pk)
        return ("# cdsync identity - SECRET, keep mode 0600\n"
                "[identity]\n"
                "label = %s\npublic = %s\nsign_secret = %s\n"
                "curve_secret = %s\n"
                % (self.label, self.public(), sign_secret.decode(),
                   base64.b64encode(self.curve_sk).decode()))

    @staticmethod
    def generate(path, label):
        if (len(label.encode()) > 128 or label != label.strip(" ")
                or ";" in label or any(ord(c) < 0x20 or c == "\x7f"
                                       for c in label)):
            raise ValueError("label: at most 128 bytes, no control "
                             "characters, ';' or edge spaces")
        ident = Identity(os.urandom(32), os.urandom(32), label)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(ident.file_text())
            f.flush()
            os.fsync(f.fileno())
        return ident

    @staticmethod
    def load(path):
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("%s: not a regular file" % path)
        if st.st_mode & 0o077:
            raise PermissionError("%s: readable by group or others; run: "
                                  "chmod 600 %s" % (path, path))
        if not 0 < st.st_size <= 4096:
            raise ValueError("%s: not an identity file" % path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        fields, section = {}, None
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                if section != "[identity]":
                    raise ValueError("%s:%d: unknown section" % (path, n))
                continue
            key, eq, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if (not eq or section != "[identity]" or key not in
                    ("label", "public", "sign_secret", "curve_secret")):
                raise ValueError("%s:%d: unknown key" % (path, n))
            if key in fields:
                raise ValueError("%s:%d: %s given twice" % (path, n, key))
            fields[key] = value
        if len(fields) != 4:
            raise ValueError("%s: missing field" % path)
        sign_secret = base64.b64decode(fields["sign_secret"], validate=True)
        curve_sk = base64.b64decode(fields["curve_secret"], validate=True)
        if len(sign_secret) != 64 or len(curve_sk) != 32:
            raise ValueError("%s: secret of the wrong length" % path)
        ident = Identity(sign_secret[:32], curve_sk, fields["label"])
        if (ident.sign_pk != sign_secret[32:]
                or (ident.sign_pk, ident.curve_pk)
                != parse_pubid(fields["public"])):
            raise ValueError("%s: public does not match the secrets" % path)
        return ident


# ---- content hash, chain (PROTOCOL.md "Content hash and hash chain") ------

def update_hash(u):
    m = bytearray(b"cdsync-update/1")
    m += struct.pack("<Q", u.seq)
    for s in (u.org_unit, u.indicator, u.period, u.disagg, u.value,
              u.comment, u.stored_by):
        b = s.encode("utf-8")
        m += struct.pack("<I", len(b)) + b
    m += bytes([1 if u.deleted else 0, 1 if u.followup else 0])
    m += struct.pack("<Q", u.hlc)
    if u.created_ms or u.last_updated_ms:   # fields 12, 13, only if given
        m += struct.pack("<QQ", u.created_ms, u.last_updated_ms)
    return hashlib.blake2b(bytes(m), digest_size=32).digest()


def chain_next(prev, h):
    return hashlib.blake2b(b"cdsync-chain/1" + prev + h,
                           digest_size=32).digest()


# ---- catalog and values (PROTOCOL.md "Values", "Batch") -------------------

class Catalog:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.version = hashlib.blake2b(data, digest_size=32).hexdigest()[:32]
        rows = csv.DictReader(data.decode("utf-8-sig").splitlines())
        self.types = {r["code"]: r["value_type"] for r in rows}


INT_RE = re.compile(r"[+-]?[0-9]+\Z")
NUM_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
BOOL_WORDS = {"true": "true", "false": "false", "1": "true", "0": "false",
              "yes": "true", "no": "false", "co": "true", "khong": "false",
              "có": "true", "không": "false", "đạt": "true",
              "không đạt": "false", "dat": "true", "khong dat": "false"}


def canonical(value_type, text):
    """Canonical text of a value, or ValueError (bounds are not checked)."""
    if value_type == "INTEGER":
        if not INT_RE.match(text):
            raise ValueError("not a whole number: %r" % text)
        n = int(text)
        if not -2**63 <= n < 2**63:
            raise ValueError("beyond 64 bits: %r" % text)
        return str(n)
    if value_type in ("NUMBER", "PERCENTAGE"):
        if not NUM_RE.match(text):
            raise ValueError("not a number: %r" % text)
        v = float(text)
        if not math.isfinite(v):
            raise ValueError("out of range: %r" % text)
        if v == 0:
            return "0"
        best = None
        for p in range(1, 18):
            s = "%.*g" % (p, v)
            if float(s) == v and (best is None or len(s) < len(best)):
                best = s
        return best
    if value_type == "BOOLEAN":
        word = BOOL_WORDS.get(text.lower())
        if word is None:
            raise ValueError("not a yes/no value: %r" % text)
        return word
    return text


# ---- the connection (PROTOCOL.md "Transport", "Envelope") -----------------

class Connection:
    def __init__(self, endpoint, ident, server_key, timeout_s=10.0):
        self.ident = ident
        self.agg_sign_pk, agg_curve_pk = parse_pubid(server_key)
        self.agg_verify = nacl.signing.VerifyKey(self.agg_sign_pk)
        self.timeout_s = timeout_s
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_MSG_BYTES)
        self.sock.setsockopt(zmq.CURVE_SERVERKEY, agg_curve_pk)
        self.sock.setsockopt(zmq.CURVE_PUBLICKEY, ident.curve_pk)
        self.sock.setsockopt(zmq.CURVE_SECRETKEY, ident.curve_sk)
        self.sock.connect(endpoint)
        self.next_id = random.getrandbits(32) << 16
        self.ignored = 0               # answers to no current request

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def signed_bytes(self, kind, recipient, body):
        return b"cdsync/1\x00" + bytes([kind]) + recipient + body

    def send(self, kind_name, msg):
        """Sign msg for the aggregator and send it as one frame."""
        kind = KIND[kind_name]
        body = msg.SerializeToString()
        sig = self.ident.signing.sign(
            self.signed_bytes(kind, self.agg_sign_pk, body)).signature
        env = pb.Envelope(version=1, kind=kind, signer=self.ident.sign_pk,
                          body=body, signature=sig)
        raw = env.SerializeToString()
        if len(raw) > MAX_MSG_BYTES:
            raise ValueError("envelope of %d bytes > %d" % (len(raw),
                                                           MAX_MSG_BYTES))
        self.sock.send(raw)

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def open(self, raw):
        """(kind, body message) of a verified answer, or None to drop."""
        try:
            env = pb.Envelope.FromString(raw)
        except Exception:
            return None
        if (env.version != 1 or env.signer != self.agg_sign_pk
                or len(env.signature) != 64):
            return None
        try:
            self.agg_verify.verify(
                self.signed_bytes(env.kind, self.ident.sign_pk, env.body),
                env.signature)
        except nacl.exceptions.BadSignatureError:
            return None
        cls = {2: pb.HelloAnswer, 4: pb.Ack, 6: pb.HeartbeatAnswer,
               7: pb.Notice, 10: pb.MetadataReply}
        if env.kind not in cls:
            return None
        try:
            msg = cls[env.kind].FromString(env.body)
        except Exception:
            return None
        if msg.version != 1:
            return None
        if env.kind != 6 and msg.agent != self.ident.sign_pk:
            return None
        return env.kind, msg

    def wait(self, kind_name, request_id):
        """The answer to request_id (verified), with its raw envelope.
        Anything else that arrives meanwhile is ignored. TimeoutError."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise TimeoutError("no answer to %s %d" % (kind_name,
                                                          request_id))
            raw = self.sock.recv()
            got = self.open(raw)
            if (got is not None and got[0] == KIND["NOTICE"]
                    and got[1].reason == NOTICE_REVOKED):
                raise Revoked("key revoked at %d ms%s" % (
                    got[1].revoked_at_ms, "; replaced by " +
                    got[1].replaced_by if got[1].replaced_by else ""))
            if (got is None or got[0] != KIND[kind_name]
                    or got[1].request_id != request_id):
                self.ignored += 1
                continue
            check_clock(got[1].clock_ms)
            return got[1], raw

    def request(self, kind_name, msg, answer_kind):
        msg.request_id = self.new_id()
        self.send(kind_name, msg)
        return self.wait(answer_kind, msg.request_id)


def fetch_metadata(conn, have=0):
    """PROTOCOL.md "MetadataRequest and MetadataReply": the bundle, its
    signature checked (kind 8, recipient = our key) before decoding, then
    every file's BLAKE2b-256. (bundle message, {name: bytes})."""
    q = pb.MetadataRequest(version=1, agent=conn.ident.sign_pk, have=have)
    ans, _ = conn.request("METADATA_REQUEST", q, "METADATA_REPLY")
    if ans.error:
        raise ProtocolError("metadata refused: %d %s" % (ans.error,
                                                         ans.message))
    if not 0 < len(ans.bundle) <= MAX_METADATA_BYTES:
        raise ProtocolError("bundle of %d bytes" % len(ans.bundle))
    try:
        conn.agg_verify.verify(conn.signed_bytes(
            KIND["METADATA"], conn.ident.sign_pk, ans.bundle), ans.signature)
    except nacl.exceptions.BadSignatureError:
        raise ProtocolError("metadata signature does not verify")
    b = pb.MetadataBundle.FromString(ans.bundle)
    files = {}
    for f in b.files:
        if hashlib.blake2b(f.content, digest_size=32).digest() != f.blake2b:
            raise ProtocolError("file %s: hash does not match" % f.name)
        files[f.name] = f.content
    return b, files


def check_clock(clock_ms):
    """Every answer carries the aggregator's clock (PROTOCOL.md "Clock")."""
    if abs(clock_ms - time.time() * 1000) > 24 * 3600 * 1000:
        raise ProtocolError("answer clock_ms %d is not the aggregator's "
                            "clock" % clock_ms)


# ---- the agent side: queue, chain, batches, acks --------------------------

class Client:
    def __init__(self, conn, catalog, receipts=None):
        self.conn = conn
        self.catalog = catalog
        self.receipts = receipts
        self.log = {}                  # seq -> (Update, hash, head)
        self.last_seq = 0
        self.acked_seq, self.acked_head = 0, b""
        self.rejected = {}             # seq -> code
        self.hlc_last = 0

    def head(self, seq):
        return ZERO_HEAD if seq == 0 else self.log[seq][2]

    def hlc(self):
        h = max(int(time.time() * 1000) << 16, self.hlc_last + 1)
        self.hlc_last = h
        return h

    def queue(self, org_unit, indicator, period, value, comment="",
              stored_by="py.client", followup=False, raw=False,
              created_ms=0, updated_ms=0):
        """Append an update (value canonicalised unless raw); created_ms,
        updated_ms: a source system's times (fields 12, 13; 0 = none)."""
        if not raw:
            value = canonical(self.catalog.types[indicator], value)
        seq = self.last_seq + 1
        u = pb.Update(seq=seq, org_unit=org_unit, indicator=indicator,
                      period=period, disagg="default", value=value,
                      comment=comment, stored_by=stored_by,
                      hlc=self.hlc(), followup=followup,
                      created_ms=created_ms, last_updated_ms=updated_ms)
        h = update_hash(u)
        self.log[seq] = (u, h, chain_next(self.head(seq - 1), h))
        self.last_seq = seq
        return seq

    def hello(self, probe=()):
        h = pb.Hello(version=1, agent=self.conn.ident.sign_pk,
                     acked_seq=self.acked_seq, acked_head=self.acked_head,
                     agent_version="py-client 1", clock_ms=int(time.time()
                                                               * 1000))
        for seq, head in probe:
            h.probe.add(seq=seq, head=head)
        for attempt in range(20):
            ans, _ = self.conn.request("HELLO", h, "HELLO_ANSWER")
            if ans.error not in RETRYABLE:
                break                  # answered, or refused for good
            time.sleep(random.uniform(0, min(5.0, 0.5 * 2 ** attempt)))
        if ans.error == 0 and ans.applied_seq > 0 and (
                len(ans.applied_head) != 32):
            raise ProtocolError("applied_head is not 32 bytes")
        return ans

    def batch(self, first, last, head=None):
        """Send first..last as one batch and return (Ack, raw)."""
        b = pb.Batch(version=1, agent=self.conn.ident.sign_pk,
                     first_seq=first, last_seq=last,
                     prev_head=self.head(first - 1),
                     head=head if head is not None else self.head(last),
                     catalog_version=self.catalog.version,
                     sent_at_ms=int(time.time() * 1000))
        b.updates.extend(self.log[s][0] for s in range(first, last + 1))
        ack, raw = self.conn.request("BATCH", b, "ACK")
        if (ack.aggregator != self.conn.agg_sign_pk
                or (ack.batch_first, ack.batch_last) != (first, last)):
            raise ProtocolError("ack names another aggregator or batch")
        return ack, raw

    def take_ack(self, ack, raw):
        """Apply an Ack per PROTOCOL.md "Ack"; return the next seq to send."""
        if ack.status == 0:                    # ACK_OK
            if ack.acked_seq > self.last_seq or ack.acked_seq < 1:
                raise ProtocolError("ACK_OK acked %d" % ack.acked_seq)
            if ack.acked_head != self.head(ack.acked_seq):
                raise ProtocolError("ACK_OK head differs from our chain")
            for r in ack.rejections:
                if r.retry or not 0 < r.seq <= ack.acked_seq:
                    raise ProtocolError("rejection %d" % r.seq)
                self.rejected[r.seq] = r.code
            self.acked_seq = max(self.acked_seq, ack.acked_seq)
            self.acked_head = self.head(self.acked_seq)
            if self.receipts:
                with open(os.path.join(self.receipts, "%08d-%d.ack" % (
                        ack.acked_seq, ack.request_id)), "wb") as f:
                    f.write(raw)
            return self.acked_seq + 1
        if ack.status == 1:                    # ACK_GAP: resend from acked+1
            if ack.error != 0 or ack.acked_seq > self.last_seq:
                raise ProtocolError("ACK_GAP acked %d" % ack.acked_seq)
            return ack.acked_seq + 1
        if ack.status == 2:                    # ACK_RETRY: back off, resend
            if ack.error not in RETRYABLE or ack.acked_seq != 0:
                raise ProtocolError("ACK_RETRY error %d" % ack.error)
            time.sleep(random.uniform(0, 0.5))
            return None
        raise ProtocolError("ACK_REFUSED error %d (%s)" % (ack.error,
                                                           ack.message))

    def sync(self, batch_max, out=None):
        """Send every queued update from acked+1, one batch at a time."""
        nxt = self.acked_seq + 1
        attempts = 0
        while self.acked_seq < self.last_seq:
            first = nxt
            last = min(self.last_seq, first + batch_max - 1)
            ack, raw = self.batch(first, last)
            if out:
                out("sync", ack)
            got = self.take_ack(ack, raw)
            if got is None:
                attempts += 1
                if attempts > 20:
                    raise ProtocolError("ACK_RETRY for ever")
                got = first
            nxt = got


# ---- the integration scenario ---------------------------------------------

def say(step, ans):
    fields = ["step=%s" % step]
    if isinstance(ans, pb.Ack):
        fields += ["status=%s" % ACK_NAMES.get(ans.status, ans.status),
                   "acked=%d" % ans.acked_seq, "error=%d" % ans.error,
                   "rejections=%s" % (",".join("%d:%d" % (r.seq, r.code)
                                               for r in ans.rejections)
                                      or "-")]
    elif isinstance(ans, pb.HelloAnswer):
        fields += ["applied=%d" % ans.applied_seq, "error=%d" % ans.error,
                   "matched=%d" % ans.probe_matched,
                   "mismatch=%d" % ans.probe_mismatch,
                   # PROTOCOL.md "Resend from": this client keeps no sent
                   # batches (kept_from 0), so it is never asked; shown.
                   "resend_from=%d" % ans.resend_from,
                   # PROTOCOL.md "Metadata": the newest published version.
                   "metadata_latest=%d" % ans.metadata_latest]
    else:
        fields += ["applied=%d" % ans.applied_seq,
                   "metadata_latest=%d" % ans.metadata_latest]
    print(" ".join(fields), flush=True)


def good_update(client, org_unit, i):
    """The i-th test value: 3 monthly indicators x months from 1900."""
    ind = ("TTHC_TONG", "TTHC_ONLINE_SO", "TTHC_ONLINE")[i % 3]
    m = i // 3
    period = "%d%02d" % (1900 + m // 12, m % 12 + 1)
    value = str((i * 37) % 1000 / 10) if i % 3 == 2 else str(i * 7 % 5000)
    comment = "Tổ ấp %d, dòng %d" % (i % 7, i) if i % 5 == 0 else ""
    # every 13th carries source times (DHIS2 created/lastUpdated): the
    # aggregator accepts it only if this hash of them is the C one.
    times = (1743465600000 + i, 1743581700000) if i % 13 == 0 else (0, 0)
    return client.queue(org_unit, ind, period, value, comment=comment,
                        followup=(i % 11 == 0), created_ms=times[0],
                        updated_ms=times[1])


def scenario(a):
    conn = Connection(a.endpoint, Identity.load(a.identity), a.server_key)
    client = Client(conn, Catalog(a.catalog), a.receipts)
    ans = client.hello()
    say("hello", ans)
    if ans.error or ans.applied_seq != 0:
        raise ProtocolError("a new agent must start at applied 0")
    for i in range(a.count):
        good_update(client, a.org_unit, i)
    client.sync(a.batch, say)
    n = client.last_seq

    # A resend of an already acked batch: re-acked, no effect.
    ack, _ = client.batch(1, min(a.batch, n))
    say("resend", ack)

    # Bad values: rejected per update, the batch itself is ACK_OK.
    client.queue(a.org_unit, "TTHC_TONG", "199901", "42")
    client.queue(a.org_unit, "TTHC_TONG", "199902", "abc", raw=True)
    client.queue(a.org_unit, "TTHC_ONLINE", "199903", "150")
    ack, raw = client.batch(n + 1, n + 3)
    say("bad_values", ack)
    client.take_ack(ack, raw)

    # A batch starting past applied + 1: ACK_GAP, then resend from acked+1.
    gap_first = client.last_seq + 1
    for i in range(a.count, a.count + 7):
        good_update(client, a.org_unit, i)
    ack, raw = client.batch(gap_first + 2, client.last_seq)
    say("gap", ack)
    nxt = client.take_ack(ack, raw)
    ack, raw = client.batch(nxt, client.last_seq)
    say("after_gap", ack)
    client.take_ack(ack, raw)

    # A batch whose head does not continue the chain: ACK_REFUSED.
    first = client.last_seq + 1
    for i in range(a.count + 7, a.count + 9):
        good_update(client, a.org_unit, i)
    ack, raw = client.batch(first, client.last_seq, head=bytes(32))
    say("bad_head", ack)
    try:
        client.take_ack(ack, raw)
        raise ProtocolError("a broken chain was not refused")
    except ProtocolError as e:
        if "ACK_REFUSED" not in str(e):
            raise
    client.sync(a.batch, say)

    # An answer to anything but the current request is ignored: a Hello
    # left unanswered, then a Heartbeat whose answer is awaited.
    h = pb.Hello(version=1, agent=conn.ident.sign_pk,
                 request_id=conn.new_id())
    conn.send("HELLO", h)
    hb = pb.Heartbeat(version=1, agent=conn.ident.sign_pk, queue_depth=0,
                      acked_seq=client.acked_seq, agent_version="py-client 1",
                      clock_ms=int(time.time() * 1000),
                      # PROTOCOL.md "Metadata": said to be on version 1.
                      metadata_version=1)
    ans, _ = conn.request("HEARTBEAT", hb, "HEARTBEAT_ANSWER")
    say("heartbeat", ans)
    print("step=ignored count=%d" % conn.ignored, flush=True)

    # The metadata version, scoped to our units and signed for our key.
    b, files = fetch_metadata(conn, have=0)
    units = sorted(row["code"] for row in csv.DictReader(
        files["orgunits.csv"].decode("utf-8").splitlines()))
    print("step=metadata version=%d files=%s units=%s" % (
        b.version, ",".join(sorted(files)), ",".join(units)), flush=True)

    # Probe: a matching and a wrong head.
    last = client.acked_seq
    ans = client.hello(probe=[(1, client.head(1)), (last, client.head(last)),
                              (2, bytes(32)), (last + 5, bytes(32))])
    say("probe", ans)
    if a.expected:
        write_expected(client, a.expected)
    conn.close()


def write_expected(client, path):
    """Applied values, one TSV line each: indicator period value comment."""
    with open(path, "w", encoding="utf-8") as f:
        for seq in sorted(client.log):
            u = client.log[seq][0]
            if seq <= client.acked_seq and seq not in client.rejected:
                f.write("%s\t%s\t%s\t%s\t%s\n" % (
                    u.indicator, u.period, u.value, u.comment, u.stored_by))


def vectors():
    """The worked example of PROTOCOL.md "Content hash and hash chain" and
    the identity test vector, computed here: the doc's hex must match."""
    hlc = 1767225600000 << 16
    u1 = pb.Update(seq=1, org_unit="27901", indicator="TO_CNSCD",
                   period="2025Q2", disagg="default", value="7",
                   stored_by="can.bo.a1", hlc=hlc)
    u2 = pb.Update(seq=2, org_unit="27901", indicator="NTM8_4",
                   period="2025", disagg="default", value="true",
                   comment="Tổ ấp 3", stored_by="can.bo.a1", followup=True,
                   hlc=hlc + 1)
    h1, h2 = update_hash(u1), update_hash(u2)
    head1 = chain_next(ZERO_HEAD, h1)
    ident = Identity(bytes(range(32)), bytes(range(32, 64)))
    for name, v in (("hash(u1)", h1.hex()), ("hash(u2)", h2.hex()),
                    ("head(1)", head1.hex()),
                    ("head(2)", chain_next(head1, h2).hex()),
                    ("public", ident.public()),
                    ("fingerprint", fingerprint(ident.sign_pk))):
        print("%s %s" % (name, v))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--identity", required=True)
    k.add_argument("--label", default="")
    s = sub.add_parser("pubid")
    s.add_argument("--identity", required=True)
    sub.add_parser("vectors")
    s = sub.add_parser("scenario")
    for opt in ("--identity", "--server-key", "--endpoint", "--catalog",
                "--org-unit"):
        s.add_argument(opt, required=True)
    s.add_argument("--count", type=int, default=250)
    s.add_argument("--batch", type=int, default=100)
    s.add_argument("--receipts")
    s.add_argument("--expected")
    a = p.parse_args()
    if a.cmd == "keygen":
        print(Identity.generate(a.identity, a.label).public())
        return 0
    if a.cmd == "pubid":
        print(Identity.load(a.identity).public())
        return 0
    load_pb()
    if a.cmd == "vectors":
        vectors()
        return 0
    if not 1 <= a.batch <= MAX_BATCH:
        p.error("--batch: 1..%d" % MAX_BATCH)
    try:
        scenario(a)
    except (ProtocolError, TimeoutError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
