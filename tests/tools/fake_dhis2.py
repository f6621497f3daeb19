#!/usr/bin/python3
"""A small DHIS2-like HTTP service for tests/integration/dhis2_push.sh.

It implements the one request `cdsync-aggregator push-dhis2` makes, as
DHIS2's Web API documentation describes it ("Data values" > "Sending bulks
of data values", import parameters, "Import summaries"):

  POST /api/dataValueSets?dryRun=true|false&importStrategy=...&idScheme=...
  Content-Type: application/json
  Authorization: Basic base64(user:password) | ApiToken d2pat_...
  {"dataSet": "...", "dataValues": [{"dataElement", "period", "orgUnit",
   "categoryOptionCombo", "attributeOptionCombo", "value", ...}]}

and answers with an import summary, in the shape of DHIS2 up to 2.37
(--shape old: the ImportSummary itself, HTTP 200) or 2.38 on (--shape new:
the WebMessage {"httpStatus", "httpStatusCode", "status", "message",
"response": {ImportSummary}}, HTTP 409 "Conflict" when the import has
conflicts, as DHIS2 2.38+ does). importCount counts imported (new key),
updated (other value), ignored (same value, or refused), deleted (a value
with "deleted": true); dryRun counts without storing. A value whose
dataElement is in --refuse is a conflict naming it (old: {"object",
"value"}; new: also "objects", "errorCode" E7610-style, "property",
"indexes": its positions in the request).

Failures on purpose, by request number (1-based, counted over the run of
this process), --script "3:500,5:hang,7:401": HTTP 500 with an HTML page,
no answer at all until the client gives up (hang), HTTP 401 as DHIS2
answers a bad login. Requests that do not follow the documented form
(wrong method, path, Content-Type, query parameter values, body shape,
login) are answered 400/401/404/405 and counted as "bad" in the log. A
dataSet in --unknown-data-set is answered as DHIS2 answers a data set it
does not know: status ERROR, nothing imported, one conflict naming the
data set. --tls CERT KEY serves https instead of http.

Every request is appended to --log as one JSON line: its number, query
parameters, the Authorization scheme (never the secret), the keys of the
values it carried, what was answered. Prints the port it listens on
(127.0.0.1, chosen by the system) as its first line of stdout.
"""
import argparse
import base64
import json
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STRATEGIES = {"CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE",
              "NEW_AND_UPDATES", "NEW", "UPDATES"}
SCHEMES = {"UID", "CODE", "NAME", "ATTRIBUTE"}

LOCK = threading.Lock()
STATE = {"n": 0, "values": {}}


def key_of(v):
    return "|".join(str(v.get(k, "")) for k in (
        "dataElement", "period", "orgUnit", "categoryOptionCombo",
        "attributeOptionCombo"))


def data_set_error(ds, shape):
    """DHIS2's answer to a dataSet it does not know: status ERROR, nothing
    imported, one conflict naming the data set (no value)."""
    summary = {"responseType": "ImportSummary", "status": "ERROR",
               "description": "Data set not found or not accessible",
               "importCount": {"imported": 0, "updated": 0, "ignored": 0,
                               "deleted": 0},
               "conflicts": [{"object": ds, "value":
                              "Data set not found or not accessible"}]}
    if shape == "old":
        return 200, summary
    summary["conflicts"][0].update({"objects": {"dataSet": ds},
                                    "errorCode": "E7600",
                                    "property": "dataSet"})
    return 409, {"httpStatus": "Conflict", "httpStatusCode": 409,
                 "status": "ERROR", "message": "An error occurred, please "
                 "check import summary.", "response": summary}


def summarize(values, dry, refuse, shape):
    """Import values into STATE (unless dry); the import summary."""
    count = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    conflicts = []
    by_de = {}
    for i, v in enumerate(values):
        if v.get("dataElement") in refuse:
            count["ignored"] += 1
            by_de.setdefault(v["dataElement"], []).append(i)
            continue
        k = key_of(v)
        old = STATE["values"].get(k)
        if v.get("deleted") is True:
            if old is not None:
                count["deleted"] += 1
                if not dry:
                    del STATE["values"][k]
            else:
                count["ignored"] += 1
            continue
        val = str(v.get("value"))
        if old is None:
            count["imported"] += 1
        elif old != val:
            count["updated"] += 1
        else:
            count["ignored"] += 1
        if not dry:
            STATE["values"][k] = val
    for de, idx in sorted(by_de.items()):
        c = {"object": de,
             "value": "Data element not found or not accessible: " + de}
        if shape == "new":
            c.update({"objects": {"dataElement": de}, "errorCode": "E7610",
                      "property": "dataElement", "indexes": idx})
        conflicts.append(c)
    status = "WARNING" if conflicts else "SUCCESS"
    summary = {"responseType": "ImportSummary", "status": status,
               "importOptions": {"dryRun": dry},
               "description": "Import process completed successfully",
               "importCount": count, "conflicts": conflicts,
               "dataSetComplete": "false"}
    if shape == "old":
        return 200, summary
    code = 409 if conflicts else 200
    return code, {"httpStatus": "Conflict" if conflicts else "OK",
                  "httpStatusCode": code,
                  "status": "WARNING" if conflicts else "OK",
                  "message": "One more conflicts encountered, please check "
                             "import summary." if conflicts
                             else "Import was successful.",
                  "response": summary}


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-dhis2/1"

    def log_message(self, fmt, *args):   # quiet; the JSON log says it all
        pass

    def answer(self, code, obj, ctype="application/json"):
        body = (json.dumps(obj) if ctype == "application/json"
                else obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def web_message(self, code, status, msg):
        self.answer(code, {"httpStatus": status, "httpStatusCode": code,
                           "status": "ERROR", "message": msg})

    def authorized(self):
        a = self.headers.get("Authorization", "")
        opts = self.server.opts
        if a.startswith("ApiToken "):
            return "ApiToken", opts.token and a[9:] == opts.token
        if a.startswith("Basic "):
            try:
                up = base64.b64decode(a[6:]).decode()
            except ValueError:
                return "Basic", False
            return "Basic", opts.user and up == opts.user
        return a.split(" ")[0] if a else "none", False

    def check(self, u, q, body):
        """The documented request, or (code, message) of the refusal."""
        if u.path != "/api/dataValueSets":
            return 404, "Not Found"
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype != "application/json":
            return 415, "Content-Type must be application/json"
        one = {k: v[0] for k, v in q.items() if len(v) == 1}
        if (one.get("dryRun") not in ("true", "false")
                or one.get("importStrategy") not in STRATEGIES
                or one.get("idScheme") not in SCHEMES or len(one) != len(q)):
            return 400, "bad query parameters: %s" % u.query
        if (not isinstance(body, dict) or not isinstance(
                body.get("dataValues"), list)
                or not isinstance(body.get("dataSet"), str)):
            return 400, "body is not a dataValueSet"
        for v in body["dataValues"]:
            if not all(isinstance(v.get(k), str) and v.get(k) for k in (
                    "dataElement", "period", "orgUnit")) or "value" not in v:
                return 400, "a data value without its ids or value"
        return None

    def do_GET(self):
        self.web_message(405, "Method Not Allowed", "POST only")

    def do_POST(self):
        with LOCK:
            STATE["n"] += 1
            n = STATE["n"]
        opts = self.server.opts
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        scheme, ok = self.authorized()
        rec = {"n": n, "query": {k: v[0] for k, v in q.items()},
               "auth": scheme,
               "ctype": self.headers.get("Content-Type", ""),
               "dataSet": body.get("dataSet") if isinstance(body, dict)
               else None,
               "keys": [key_of(v) for v in body.get("dataValues", [])]
               if isinstance(body, dict) else [],
               "raw_has_secret": any(s and s.encode() in raw for s in (
                   opts.token, opts.user))}
        fault = opts.faults.get(n)
        bad = self.check(u, q, body)
        if fault == "hang":
            rec["answer"] = "hang"
            self.log(rec)
            time.sleep(opts.hang)
            return
        if fault == "500":
            rec["answer"] = 500
            self.log(rec)
            self.answer(500, "<html><body>Internal Server Error</body>"
                        "</html>", "text/html")
            return
        if fault == "401" or not ok:
            rec["answer"] = 401
            self.log(rec)
            self.web_message(401, "Unauthorized",
                             "Unauthorized")
            return
        if bad:
            rec["answer"], rec["bad"] = bad[0], bad[1]
            self.log(rec)
            self.web_message(bad[0], "Bad Request", bad[1])
            return
        if body["dataSet"] in opts.unknown_data_set:
            code, summary = data_set_error(body["dataSet"], opts.shape)
            rec["answer"] = code
            self.log(rec)
            self.answer(code, summary)
            return
        with LOCK:
            code, summary = summarize(body["dataValues"],
                                      q["dryRun"][0] == "true",
                                      opts.refuse, opts.shape)
        rec["answer"] = code
        self.log(rec)
        self.answer(code, summary)

    def log(self, rec):
        with LOCK, open(self.server.opts.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--shape", choices=("old", "new"), default="new")
    ap.add_argument("--user", help="USER:PASSWORD accepted (basic)")
    ap.add_argument("--token", help="d2pat_... accepted (ApiToken)")
    ap.add_argument("--refuse", default="",
                    help="data elements answered as conflicts, a,b,...")
    ap.add_argument("--script", default="",
                    help="N:500|hang|401,... by request number")
    ap.add_argument("--unknown-data-set", default="",
                    help="data sets answered with an ERROR import, a,b,...")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                    help="serve https with this certificate and key")
    ap.add_argument("--hang", type=float, default=60.0,
                    help="seconds a hung request sleeps (then nothing)")
    opts = ap.parse_args()
    opts.refuse = set(filter(None, opts.refuse.split(",")))
    opts.unknown_data_set = set(filter(None,
                                       opts.unknown_data_set.split(",")))
    opts.faults = {}
    for item in filter(None, opts.script.split(",")):
        k, v = item.split(":")
        opts.faults[int(k)] = v
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.opts = opts
    if opts.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls[0], opts.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
