#!/usr/bin/python3
"""views_data.py: the province-scale data set of `make bench` phase
"views" (issue 16 item 5, docs/PERFORMANCE.md "Dashboard views").

    views_data.py CATALOG OUTDIR COMMUNES

writes OUTDIR/orgunits.csv (VN > one province "90" > districts of 30
communes > COMMUNES communes) and OUTDIR/values.csv, a DHIS2 CSV for
`cdsync-aggregator import`: every entered indicator of CATALOG (all but
the RATIO ones, which the aggregator computes) for every commune over
two years in the indicator's own period type (8 quarters 2024Q1..2025Q4,
24 months, 2 years). Each numerator is at most its denominator, as the
rules demand. One commune in 20 has not reported 2025Q4 (nor its months,
nor 2025), so completeness has units to list. Deterministic (seeded).
Prints the number of values on stdout."""
import csv
import random
import sys


def periods(ptype):
    if ptype == "Quarterly":
        return ["%dQ%d" % (y, q) for y in (2024, 2025) for q in range(1, 5)]
    if ptype == "Monthly":
        return ["%d%02d" % (y, m) for y in (2024, 2025) for m in range(1, 13)]
    return ["2024", "2025"]


def late(pe):
    return pe in ("2025Q4", "2025", "202510", "202511", "202512")


def units(out, communes):
    """orgunits.csv; returns the commune codes."""
    codes = []
    with open(out + "/orgunits.csv", "w", encoding="utf-8") as f:
        f.write("code,name,parent,valid_from,valid_to\n"
                "VN,Việt Nam,,,\n90,Tỉnh Thử Nghiệm,VN,,\n")
        for d in range((communes + 29) // 30):
            f.write("90%02d,Huyện Thử Nghiệm %d,90,,\n" % (d + 1, d + 1))
        for c in range(communes):
            code = "9%04d" % (c + 1)
            codes.append(code)
            f.write("%s,Xã Thử Nghiệm %d,90%02d,,\n" % (code, c + 1, c // 30 + 1))
    return codes


def main():
    catalog, out, communes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(catalog, encoding="utf-8") as f:
        inds = list(csv.DictReader(f))
    # a numerator's denominator: from the RATIO rows
    denom = {r["numerator"]: r["denominator"] for r in inds
             if r["aggregation"] == "RATIO" and r["numerator"]}
    entered = [r for r in inds if r["aggregation"] != "RATIO"]
    # denominators first, so numerators can be bounded by them
    entered.sort(key=lambda r: r["code"] in denom)
    rnd = random.Random(16)
    n = 0
    with open(out + "/values.csv", "w", encoding="utf-8") as f:
        f.write("dataelement,period,orgunit,value\n")
        for ou in units(out, communes):
            if int(ou[1:]) % 20 == 7:
                skip = late
            else:
                skip = lambda pe: False
            got = {}
            for r in entered:
                for pe in periods(r["period_type"]):
                    if skip(pe):
                        continue
                    if r["value_type"] == "BOOLEAN":
                        v = "true" if rnd.random() < 0.8 else "false"
                    elif r["code"] in denom:
                        top = got.get((denom[r["code"]], pe), 100)
                        v = str(int(top * rnd.uniform(0.3, 1.0)))
                    else:
                        v = str(rnd.randint(200, 6000))
                    got[(r["code"], pe)] = int(v) if v.isdigit() else 0
                    f.write("%s,%s,%s,%s\n" % (r["code"], pe, ou, v))
                    n += 1
    print(n)


if __name__ == "__main__":
    main()
