#!/usr/bin/python3
"""Validate a cdsync export against DHIS2's dataValueSet formats.

usage: dhis2_validate.py json|csv FILE

Checks what DHIS2's readers (JsonDataValueSetReader, CsvDataValueSetReader
by column position) need: the field names in DHIS2's order (JSON: the
members of DataValue as JsonDataValueSetWriter writes them, with
"deleted" optional last; CSV: the 10 or 11 columns of its header), the
types (ids and value strings, followup and deleted booleans; CSV
"true"/"false"), a DHIS2 period identifier (not the ADX start/duration,
which DHIS2 reads only inside ADX XML), ISO 8601 times and created <=
lastUpdated. Prints one line per problem and exits 1 if any; prints the
number of values checked otherwise."""
import csv
import json
import re
import sys

JSON_KEYS = ["dataElement", "period", "orgUnit", "categoryOptionCombo",
             "attributeOptionCombo", "value", "storedBy", "created",
             "lastUpdated", "comment", "followup"]
CSV_HEADER = ["dataelement", "period", "orgunit", "categoryoptioncombo",
              "attributeoptioncombo", "value", "storedby", "lastupdated",
              "comment", "followup"]
PERIOD = re.compile(
    r"^\d{4}(\d{2}|\d{4}|Q[1-4]|S[12]|W\d{1,2}|BiW\d{1,2}|\d{2}B"
    r"|(Wed|Thu|Sat|Sun)W\d{1,2}|April(S[12])?|July|Oct|Nov(Q[1-4]|S[12])?)?$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def check_value(where, v, problems):
    for k in ("dataElement", "period", "orgUnit", "categoryOptionCombo",
              "attributeOptionCombo", "value", "storedBy", "created",
              "lastUpdated", "comment"):
        if not isinstance(v.get(k), str):
            problems.append(f"{where}: {k}: not a string: {v.get(k)!r}")
    for k in ("followup", "deleted"):
        if k in v and not isinstance(v[k], bool):
            problems.append(f"{where}: {k}: not a boolean: {v[k]!r}")
    if not PERIOD.match(str(v.get("period"))):
        problems.append(f"{where}: period: not a DHIS2 period id: {v.get('period')!r}")
    for k in ("created", "lastUpdated"):
        if not TIME.match(str(v.get(k))):
            problems.append(f"{where}: {k}: not ISO 8601 UTC: {v.get(k)!r}")
    if str(v.get("created")) > str(v.get("lastUpdated")):
        problems.append(f"{where}: created after lastUpdated")


def check_json(path, problems):
    doc = json.load(open(path, encoding="utf-8"))
    if list(doc) != ["dataValues"]:
        problems.append(f"{path}: members {list(doc)}, expected dataValues")
    for i, v in enumerate(doc["dataValues"]):
        keys = list(v)
        if keys not in (JSON_KEYS, JSON_KEYS + ["deleted"]):
            problems.append(f"{path}: dataValues[{i}]: members {keys}")
        check_value(f"{path}: dataValues[{i}]", v, problems)
    return len(doc["dataValues"])


def check_csv(path, problems):
    rows = list(csv.reader(open(path, encoding="utf-8-sig", newline="")))
    head = rows[0]
    if head not in (CSV_HEADER, CSV_HEADER + ["deleted"]):
        problems.append(f"{path}: header {head}")
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(head):
            problems.append(f"{path}:{n}: {len(r)} cells, header {len(head)}")
            continue
        v = dict(zip(JSON_KEYS[:7] + ["lastUpdated", "comment", "followup",
                                      "deleted"], r))
        v["created"] = v["lastUpdated"]
        for k in ("followup", "deleted"):
            if k in v:
                if v[k] not in ("true", "false"):
                    problems.append(f"{path}:{n}: {k}: {v[k]!r}")
                v[k] = v[k] == "true"
        check_value(f"{path}:{n}", v, problems)
    return len(rows) - 1


def main():
    kind, path = sys.argv[1], sys.argv[2]
    problems = []
    n = (check_json if kind == "json" else check_csv)(path, problems)
    for p in problems:
        print(p)
    if not problems:
        print(n)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
