#!/usr/bin/python3
"""trace_steps: where one update's submit -> ack recorded time goes.

Reads a CDS_TRACE file (common/cds_trace.h) written by the bench's loader
(`submit`), the agent (`agent_wake`, `agent_read`, `agent_sent`,
`agent_ack`, `agent_recorded`) and the aggregator (`agg_batch`), all on
one machine's CLOCK_MONOTONIC in microseconds, follows every submitted
update through them and prints, per step, p50 and p99 in ms:

    step p50_ms p99_ms n mean_ms

(the means add up to the total's mean; the p50s need not)

Steps (each from the previous event that update went through):
  outbox     submit begin -> committed in the outbox (its fsync)
  wake       committed -> the agent's turn that read it began: the last
             wake frame (agent_wake) or ack recorded (agent_recorded,
             after which the agent refills its window) before the read;
             0 when that came before the commit (read in the same pass)
  read       that -> the batch holding it read from the outbox
  send       read -> sent on the DEALER
  net        sent -> received by the aggregator's ROUTER reader
  writer     received -> taken by the writer (BEGIN, verification)
  commit     taken -> COMMIT returned (apply + the group's fsync)
  mark       COMMIT -> commit mark synced
  reply      mark -> the group's replies sent
  back       replies sent -> ack verified by the agent
  record     ack verified -> ack recorded in the outbox (its fsync)
  total      submit begin -> ack recorded
then read_after_ack: the share of updates read after an ack recorded
rather than after a wake frame (they waited for the agent's previous
batch, or its wake frame was drained earlier), and updates_per_batch.
Usage: trace_steps.py TRACE [SKIP_FIRST_S]  (SKIP_FIRST_S: ignore the
updates submitted in the first seconds, start-up; default 0.5).
Exit 1 when no update could be followed end to end."""
import bisect
import sys

STEPS = ["outbox", "wake", "read", "send", "net", "writer", "commit",
         "mark", "reply", "back", "record", "total"]


def parse(path):
    ev = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 2 or not p[0].isdigit():
                continue
            kv = dict(x.split("=", 1) for x in p[2:] if "=" in x)
            ev.append((int(p[0]), p[1], {k: int(v) for k, v in kv.items()
                                         if v.isdigit()}))
    ev.sort(key=lambda e: e[0])
    return ev


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


class Ranges:
    """Events carrying first/last: the first one at or after t covering s."""

    def __init__(self, evs):
        self.evs = evs

    def find(self, s, t, key_lo="first", key_hi="last"):
        for (u, _, kv) in self.evs:
            if u >= t and kv.get(key_lo, 0) <= s <= kv.get(key_hi, -1):
                return u, kv
        return None, None


def follow(ev, skip_us):
    by = {}
    for e in ev:
        by.setdefault(e[1], []).append(e)
    subs = by.get("submit", [])
    if not subs:
        return None, 0, 0
    t0 = subs[0][2].get("begin", subs[0][0]) + skip_us
    wakes = [u for (u, _, _) in by.get("agent_wake", [])]
    recs = [(u, kv["acked"]) for (u, _, kv) in by.get("agent_recorded", [])]
    rec_t = [u for (u, _) in recs]
    reads = by.get("agent_read", [])
    # Scan pointers: events are in time order, seqs grow with time.
    idx = {k: 0 for k in ("agent_read", "agent_sent", "agg_batch",
                          "agent_ack")}
    steps = {k: [] for k in STEPS}
    after_ack = batches = 0
    for (tc, _, kv) in subs:
        s, tb = kv["seq"], kv.get("begin", tc)
        if tb < t0:
            continue
        found = {}
        for k in idx:
            lst = by.get(k, [])
            i = idx[k]
            while i < len(lst) and lst[i][2].get("last", 1 << 62) < s:
                i += 1
            idx[k] = i
            j = i
            while j < len(lst) and not (lst[j][2].get("first", 0) <= s
                                        <= lst[j][2].get("last", -1)):
                j += 1
            found[k] = lst[j] if j < len(lst) else None
        r, sn, ag, ak = (found["agent_read"], found["agent_sent"],
                         found["agg_batch"], found["agent_ack"])
        if None in (r, sn, ag, ak):
            continue
        # What made the agent read it: the last wake frame or ack recorded
        # (which refills the window) before the read.
        k = bisect.bisect_right(wakes, r[0]) - 1
        q = bisect.bisect_right(rec_t, r[0]) - 1
        tw = wakes[k] if k >= 0 else 0
        ta = rec_t[q] if q >= 0 else 0
        if ta > tw:
            after_ack += 1
        w = max(tw, ta, tc)
        j = bisect.bisect_left(rec_t, ak[0])
        while j < len(recs) and recs[j][1] < s:
            j += 1
        if j >= len(recs):
            continue
        rc = recs[j][0]
        a = ag[2]
        t = [tb, tc, w, r[0], sn[0], a["recv"], a["take"],
             a["commit"], a["mark"], a["reply"], ak[0], rc]
        for n, name in enumerate(STEPS[:-1]):
            steps[name].append(max(0, t[n + 1] - t[n]) / 1000.0)
        steps["total"].append((rc - tb) / 1000.0)
        if r[2]["first"] == s:
            batches += 1
    return steps, after_ack, batches


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    skip = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    steps, after_ack, batches = follow(parse(sys.argv[1]), int(skip * 1e6))
    n = len(steps["total"]) if steps else 0
    if not n:
        print("trace_steps: no update followed from submit to ack recorded",
              file=sys.stderr)
        return 1
    for name in STEPS:
        xs = steps[name]
        print("%s %.3f %.3f %d %.3f" % (name, quantile(xs, 0.5),
                                        quantile(xs, 0.99), len(xs),
                                        sum(xs) / len(xs)))
    print("read_after_ack %.3f %d" % (after_ack / n, n))
    print("updates_per_batch %.2f %d" % (n / max(batches, 1), batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
