#!/usr/bin/python3
"""Check an official report (.xlsx, `cdsync-aggregator report`) against
`rollup --format csv`, with python3-openpyxl (Debian): the heading cells,
the unit names (not codes), every figure cell (a number, equal to the
rollup value of that row's unit, with the vi-VN number format), the total
row (the rollup of the asked unit), the frozen header and the print setup.

usage: xlsx_report_check.py REPORT.xlsx CATALOG.csv ORGUNITS.csv OU PERIOD
           ROLLUP_DIR [KEY=VALUE ...]
ROLLUP_DIR/<code>.csv holds `rollup --org-unit <code> --period PERIOD
--format csv` for OU and for each unit the report should list. KEY=VALUE:
expected heading texts: issuer, number, date_line, title, signer; and
total:<INDICATOR>=<number> for totals computed by hand.
Prints one "problem: ..." line per mismatch; exit 0 when there is none."""
import csv
import datetime
import os
import sys

import openpyxl

PCT = '#,##0.00" %"'
problems = []


def problem(msg):
    problems.append(msg)
    print("problem: " + msg)


def load_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def day(s):
    return datetime.date.fromisoformat(s) if s else None


def children(orgunits, ou, period_start, period_end):
    """Direct children of ou valid on some day of the period, by code
    (byte order, as the report sorts them)."""
    out = []
    for r in orgunits:
        if r["parent"] != ou:
            continue
        vf, vt = day(r["valid_from"]), day(r["valid_to"])
        if (vf is None or vf <= period_end) and (vt is None or vt >= period_start):
            out.append(r)
    return sorted(out, key=lambda r: r["code"].encode())


def quarter_range(period):
    """Only quarters and years are used by the test."""
    y = int(period[:4])
    if len(period) == 4:
        return datetime.date(y, 1, 1), datetime.date(y, 12, 31)
    q = int(period[5])
    start = datetime.date(y, 3 * q - 2, 1)
    end = (datetime.date(y + (q == 4), (3 * q) % 12 + 1, 1)
           - datetime.timedelta(days=1))
    return start, end


def texts(ws):
    return {c.value for row in ws.iter_rows() for c in row
            if isinstance(c.value, str)}


def check_heading(ws, expect):
    t = texts(ws)
    for s in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
              "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO", "Ghi chú:",
              "(Ký, ghi rõ họ tên, đóng dấu)"):
        if s not in t:
            problem("heading text %r missing" % s)
    if ws["C1"].value != "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM":
        problem("C1 is %r, not the national heading" % ws["C1"].value)
    if ws["C2"].value != "Độc lập - Tự do - Hạnh phúc":
        problem("C2 is %r, not the motto" % ws["C2"].value)
    if "issuer" in expect and ws["A1"].value != expect["issuer"]:
        problem("A1 (issuing unit) is %r" % ws["A1"].value)
    if "number" in expect and ws["A2"].value != expect["number"]:
        problem("A2 (number) is %r" % ws["A2"].value)
    for key in ("date_line", "title", "signer"):
        if key in expect and expect[key] not in t:
            problem("%s %r not in the sheet" % (key, expect[key]))


def header_row(ws):
    for row in ws.iter_rows():
        if row[0].value == "STT":
            return row[0].row
    problem("no header row (a cell STT in column A)")
    sys.exit(1)


def columns(ws, head, catalog):
    """Indicator code of each figure column, from its Vietnamese name."""
    by_name = {r["name_vi"]: r for r in catalog}
    cols = {}
    for c in ws[head][2:]:
        if c.value is None:
            continue
        name = c.value.rsplit(" (", 1)[0]
        if name not in by_name:
            problem("column %s header %r is no catalog name" % (c.column_letter, c.value))
            continue
        cols[c.column] = by_name[name]
    return cols


def check_figure(cell, want, ind, where):
    if want == "":
        if cell.value is not None:
            problem("%s: %r where rollup has no value" % (where, cell.value))
        return
    if not isinstance(cell.value, (int, float)) or isinstance(cell.value, bool):
        problem("%s: %r is not a number" % (where, cell.value))
        return
    if abs(cell.value - float(want)) > 0.005:
        problem("%s: %r, rollup says %s" % (where, cell.value, want))
    fmt = PCT if ind["value_type"] == "PERCENTAGE" else (
        "#,##0" if float(want) == int(float(want)) else "#,##0.00")
    if cell.number_format != fmt:
        problem("%s: number format %r, expected %r" % (where, cell.number_format, fmt))


def check_row(ws, r, cols, rollup_csv, label, where):
    values = {x["indicator"]: x["value"] for x in load_csv(rollup_csv)}
    if ws.cell(r, 2).value != label:
        problem("row %d: unit %r, expected %r" % (r, ws.cell(r, 2).value, label))
    for col, ind in cols.items():
        if ind["code"] not in values:
            problem("%s: %s not in rollup's output" % (where, ind["code"]))
            continue
        check_figure(ws.cell(r, col), values[ind["code"]], ind,
                     "%s %s (%s)" % (where, ind["code"], ws.cell(r, col).coordinate))


def check_layout(ws, head):
    below = "C%d" % (head + 1)
    if ws.freeze_panes != below:
        problem("frozen pane at %r, expected %s" % (ws.freeze_panes, below))
    if ws.print_title_rows != "$%d:$%d" % (head, head):
        problem("repeated print rows %r" % ws.print_title_rows)
    if ws.page_setup.orientation != "landscape" or str(ws.page_setup.paperSize) != "9":
        problem("page setup %r %r, expected A4 (9) landscape"
                % (ws.page_setup.orientation, ws.page_setup.paperSize))
    if ws.column_dimensions["B"].width < 20:
        problem("column B (unit names) too narrow: %r" % ws.column_dimensions["B"].width)


def main(argv):
    path, catalog, orgunits, ou, period, rdir = argv[1:7]
    expect = dict(a.split("=", 1) for a in argv[7:])
    catalog, orgunits = load_csv(catalog), load_csv(orgunits)
    ws = openpyxl.load_workbook(path).active
    check_heading(ws, expect)
    head = header_row(ws)
    check_layout(ws, head)
    cols = columns(ws, head, catalog)
    kids = children(orgunits, ou, *quarter_range(period))
    for i, unit in enumerate(kids):
        r = head + 1 + i
        if ws.cell(r, 1).value != i + 1:
            problem("row %d: STT %r" % (r, ws.cell(r, 1).value))
        check_row(ws, r, cols, os.path.join(rdir, unit["code"] + ".csv"),
                  unit["name"], unit["code"])
    total = head + 1 + len(kids)
    check_row(ws, total, cols, os.path.join(rdir, ou + ".csv"), "Tổng cộng",
              "total")
    code_col = {ind["code"]: col for col, ind in cols.items()}
    for key, want in expect.items():
        if key.startswith("total:"):
            got = ws.cell(total, code_col[key[6:]]).value
            if got is None or abs(got - float(want)) > 0.005:
                problem("total %s: %r, by hand %s" % (key[6:], got, want))
    print("checked %d rows x %d indicators, %d problem(s)"
          % (len(kids) + 1, len(cols), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
