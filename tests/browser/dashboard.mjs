// Headless Chromium walk through the dashboard as a district officer
// (run by tests/integration/dashboard.sh). Env: BASE_URL, TOKEN, DATA (dir
// with the CLI's answers for the same data: wide.json, rollup.json,
// compl.json, history.json, wide300.json, trend.json), INDS, OUT_DIR
// (screenshots, report.pdf). Every expected string on screen is computed
// here from the CLI's raw values (Intl vi-VN for numbers, UTC+7 by hand
// for times), never copied from the page. Prints TAP lines numbered from
// FIRST (the shell printed the plan).
import { chromium } from "playwright-core";
import { readFileSync, writeFileSync } from "node:fs";

const env = process.env;
let n = Number(env.FIRST || 1);
let failed = 0;
const ok = (cond, name) => {
  console.log((cond ? "ok " : "not ok ") + n++ + " - " + name);
  if (!cond) failed++;
};
const load = (f) => JSON.parse(readFileSync(env.DATA + "/" + f, "utf8"));
const wide = load("wide.json"), roll = load("rollup.json"), compl = load("compl.json");
const hist = load("history.json"), wide300 = load("wide300.json"), trend = load("trend.json");
const inds = env.INDS.split(",");
const ratio = new Set(roll.rows.filter((r) => r.aggregation === "RATIO").map((r) => r.indicator));
const names = Object.fromEntries(roll.rows.map((r) => [r.indicator, r.name]));
// vi-VN: 31.141 and 86,14 % (a no-break space before %)
const vi = (v, d) => new Intl.NumberFormat("vi-VN", { maximumFractionDigits: d }).format(v);
// a share always with two decimals (docs/HTTP.md): 73,00 % beside 75,99 %
const pct = (v) => new Intl.NumberFormat("vi-VN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v) + "\u00a0%";
const fmt = (c, v) => v === null || v === undefined ? ""
  : ratio.has(c) ? pct(Number(v)) : vi(Number(v), 2);
// Vietnam is UTC+7 all year: "2026-12-03T03:27:16.038Z" -> "03/12/2026 10:27:16"
const vnTime = (iso) => {
  const d = new Date(Date.parse(iso.replace(/Z\+\d+$/, "Z")) + 7 * 3600e3);
  const p = (x) => String(x).padStart(2, "0");
  return p(d.getUTCDate()) + "/" + p(d.getUTCMonth() + 1) + "/" + d.getUTCFullYear() + " " +
         p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) + ":" + p(d.getUTCSeconds());
};
const vnToday = () => {
  const d = new Date(Date.now() + 7 * 3600e3);
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() };
};

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless"],
});
const shot = (page, name, full) => page.screenshot({ path: env.OUT_DIR + "/" + name + ".png", fullPage: !!full });
const text = (page, sel) => page.textContent(sel);
let page = null;
try {
  page = await browser.newPage({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(env.BASE_URL + "/");
  ok((await text(page, "#t_title")).includes("chuyển đổi số") &&
     (await text(page, "#v_prog")) === "Tiến độ báo cáo", "page served, Vietnamese by default");

  // A wrong token: a Vietnamese error, not "401: ..."
  await page.fill("#token", "cdst_" + "x".repeat(43));
  await page.dispatchEvent("#token", "change");
  await page.waitForSelector("#msg:not(:empty)", { timeout: 10000 });
  const e401 = await text(page, "#msg");
  ok(/mã truy cập/i.test(e401) && !/401|unauthori/i.test(e401), "wrong token: Vietnamese error (" + e401.slice(0, 50) + "…)");
  await page.fill("#token", env.TOKEN);
  await page.dispatchEvent("#token", "change");
  await page.waitForFunction(() => document.querySelector("#ou_btn").textContent !== "…" &&
                             document.querySelector("#msg").textContent === "", null, { timeout: 10000 });

  // The unit tree: "duc hue" finds the district by its accented name.
  await page.click("#ou_btn");
  await page.fill("#ou_search", "duc hue");
  const found = await page.$$eval("#ou_tree span[data-code]", (s) => s.map((x) => x.textContent));
  const merged = await page.$eval("#ou_tree span[data-code='27925-2025'] + .old", (x) => x.textContent);
  ok(found.includes("Huyện Đức Huệ") && found.includes("Xã Đức Huệ") && !found.includes("Xã Mỹ Bình") &&
     merged.includes("sáp nhập từ") && merged.includes("Xã Bình Hòa Nam") && merged.includes("01/07/2025"),
     "tree search without accents: 'duc hue' finds Huyện Đức Huệ and Xã Đức Huệ (" + merged + ")");
  await shot(page, "0-chon-don-vi-1366");
  await page.click("#ou_tree span[data-code='801']");
  ok((await text(page, "#ou_btn")) === "Huyện Đức Huệ", "unit picked by name");

  // The period in words, relative first (quý trước), then Quý 2/2025.
  await page.selectOption("#pe_rel", "last_quarter");
  const t = vnToday(), q = Math.ceil(t.m / 3);
  const lq = q === 1 ? [t.y - 1, 4] : [t.y, q - 1];
  ok(await page.inputValue("#pe_type") === "quarter" && +(await page.inputValue("#pe_year")) === lq[0] &&
     +(await page.inputValue("#pe_num")) === lq[1], "relative period: quý trước = Quý " + lq[1] + "/" + lq[0]);
  await page.selectOption("#pe_year", "2025");
  await page.selectOption("#pe_num", "2");

  // Indicators by name; an empty choice: a Vietnamese message, no request.
  await page.click("#ind_btn");
  await page.click("#ind_none");
  await page.click("#load");
  ok((await text(page, "#msg")) === "Hãy chọn ít nhất một chỉ tiêu.", "no indicator chosen: Vietnamese message");
  await page.click("#ind_btn");
  for (const c of inds) await page.check("#ind_list input[value='" + c + "']");
  await page.click("#t_title");
  await page.click("#load");
  await page.waitForSelector("#grid tr.total", { timeout: 10000 });
  await shot(page, "1-tong-hop-1366");

  // Tổng hợp: names, vi-VN numbers, totals = rollup.
  const heads = await page.$$eval("#grid th", (t) => t.map((x) => x.textContent));
  ok(inds.every((c, i) => heads[i + 1].startsWith(names[c])) && !heads.some((h) => inds.some((c) => h.includes(c))),
     "column headers are indicator names, no codes");
  const got = await page.$$eval("#grid tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const total = got.pop();
  let same = got.length === wide.rows.length, sample = "";
  wide.rows.forEach((r, i) => {
    const row = got[i] || [];
    const cells = wide.indicators.map((c) => fmt(c, r.values[c]));
    same = same && row[0] === r.orgUnitName && JSON.stringify(row.slice(1, -1)) === JSON.stringify(cells);
    if (i === 0) sample = cells.join(" | ");
  });
  ok(same, "rows = query --wide, names and vi-VN numbers (" + wide.rows.length + " communes: " + sample + ")");
  const want = inds.map((c) => fmt(c, roll.rows.find((r) => r.indicator === c).value));
  ok(total[0] === "Tổng cộng Huyện Đức Huệ" && JSON.stringify(total.slice(1, -1)) === JSON.stringify(want),
     "total row = rollup (" + want.join(" | ") + ")");
  ok(want.some((v) => /^\d{1,3}(\.\d{3})+$/.test(v)) && want.some((v) => /^\d+,\d+\u00a0%$/.test(v)),
     "totals read 23.292-style and 86,14 %-style");
  ok(await page.$$eval("td.missing", (x) => x.length) > 0, "missing values marked");
  // A derived ratio entered against its counts (dashboard.sh plants 99.9):
  // the cell shows the counts' value (the row check above), a mark and
  // the entered value in its tooltip; query --wide's "entered" names it.
  const er = wide.rows.find((r) => r.entered && r.entered.HGD_CAPQUANG);
  const ents = await page.$$eval("#grid td.entered", (x) => x.map((td) =>
    [td.dataset.ou, td.dataset.de, td.title, getComputedStyle(td, "::after").content]));
  ok(er && ents.length === 1 && ents[0][0] === er.orgUnit && ents[0][1] === "HGD_CAPQUANG" &&
     ents[0][2].includes(fmt("HGD_CAPQUANG", er.entered.HGD_CAPQUANG)) && ents[0][3].includes("⚠") &&
     fmt("HGD_CAPQUANG", er.values.HGD_CAPQUANG) !== fmt("HGD_CAPQUANG", er.entered.HGD_CAPQUANG),
     "derived ratio: the counts' " + (er ? fmt("HGD_CAPQUANG", er.values.HGD_CAPQUANG) : "?") +
     " shown, the ignored entered value marked (" + (ents[0] || [])[2] + ")");

  // Lịch sử: click a commune's cell.
  await page.click("#grid td.cell[data-ou='27898'][data-de='HGD_TONG']");
  await page.waitForSelector("#history tr:nth-child(2)", { timeout: 10000 });
  const hrows = await page.$$eval("#history tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const htitle = await text(page, "#hist_title");
  const hOk = hrows.length === hist.rows.length && hist.rows.every((r, i) =>
    hrows[i][0] === vnTime(r.hlc_time) && hrows[i][1] === vnTime(r.received) && hrows[i][3] === fmt("HGD_TONG", r.new) &&
    hrows[i][5] === r.stored_by && (r.signature !== "verified" || hrows[i][7] === "Hợp lệ"));
  ok(hOk && htitle.includes("Tổng số hộ gia đình") && htitle.includes("Thị trấn Đông Thành") && htitle.includes("Quý 2/2025"),
     "history: names, Vietnam times (" + (hrows[0] || [])[0] + "), values = history command");
  const states = hrows.map((r) => r[4]).join(" / ");
  ok(/Đã ghi nhận \(đang dùng\)/.test(states) && !/applied|superseded|verified/.test(states),
     "history statuses in Vietnamese (" + states + ")");
  await shot(page, "4-lich-su-1366");

  // Tiến độ báo cáo = completeness.
  await page.click("#v_prog");
  await page.waitForSelector("#prog tr:nth-child(2)");
  const cards = await text(page, "#prog_cards");
  const overdue = compl.rows.filter((r) => r.overdue).length;
  ok(cards.includes(vi(compl.unitsComplete, 0) + "/" + vi(compl.units, 0) + " (" + pct(compl.unitsPercent) + ")") &&
     cards.includes("16/07/2025") && cards.includes("Quá hạn, chưa đủ" + overdue),
     "progress cards = completeness (" + cards.replace(/\s+/g, " ").slice(0, 90) + "…)");
  const prow = await page.$$eval("#prog tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const notRep = compl.rows.filter((r) => r.status === "missing").map((r) => r.orgunitname);
  ok(notRep.length > 0 && notRep.every((nm) => prow.some((r) => r[0] === nm && r[1] === "Chưa báo cáo")) &&
     prow.every((r) => !/^\d{5}/.test(r[0])), "units not reported listed by name: " + notRep.join(", "));
  // ... and how to reach them: the contact of `completeness` (contacts.csv)
  // on each unit that still owes values, with tel: and mailto: links.
  const owing = compl.rows.filter((r) => r.status !== "complete");
  const cells = await page.$$eval("#prog tr", (trs) => trs.slice(1).map((tr) => {
    const td = tr.querySelector("td.contact");
    return { unit: tr.querySelector("td").textContent, text: td ? td.textContent : null,
             links: td ? [...td.querySelectorAll("a")].map((a) => a.getAttribute("href")) : [] };
  }));
  const contactOk = (r) => {
    const c = cells.find((x) => x.unit === r.orgunitname);
    return c && c.text.includes(r.contact_name) && c.text.includes(r.contact_phone) &&
      c.text.includes(r.contact_email) && c.links.includes("tel:" + r.contact_phone.replace(/[^0-9+]/g, "")) &&
      c.links.includes("mailto:" + r.contact_email);
  };
  ok(owing.length > 0 && owing.every((r) => r.contact_name) && owing.every(contactOk) &&
     compl.rows.filter((r) => r.status === "complete").every((r) =>
       !r.contact_name && (cells.find((x) => x.unit === r.orgunitname) || {}).text === ""),
     "who has not reported and how to reach them: " +
     owing.map((r) => r.orgunitname + " — " + r.contact_name + " " + r.contact_phone).slice(0, 2).join("; "));
  await shot(page, "2-tien-do-1366");

  // Chỉ tiêu kế hoạch: the ranking of `rank`, attainment in vi-VN, lights in words.
  const rank = load("rank.json");
  await page.click("#v_target");
  await page.selectOption("#tg_ind", "HGD_CAPQUANG");
  await page.waitForSelector("#rank tr:nth-child(2)");
  const rrows = await page.$$eval("#rank tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const word = { met: "Đạt", close: "Gần đạt", behind: "Chưa đạt" };
  ok(rank.ranked > 0 && rrows.length === rank.rows.length && rank.rows.every((r, i) =>
       rrows[i][0] === String(r.rank ?? "") && rrows[i][1] === r.name &&
       rrows[i][4] === (r.attainment === null ? "" : pct(r.attainment)) &&
       rrows[i][5] === (r.state ? word[r.state] : "")) &&
     (await text(page, "#tg_title")).includes("Tỷ lệ hộ gia đình có đường Internet"),
     "targets view = rank (" + rank.ranked + " ranked; first " + rrows[0].slice(0, 6).join(" | ") + ")");
  await shot(page, "2b-chi-tieu-1366");

  // Chất lượng số liệu = validate: the commune by name, the rule in words.
  const dq = load("validate.json");
  await page.click("#v_quality");
  await page.waitForSelector("#quality tr:nth-child(2)");
  const qrows = await page.$$eval("#quality tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  // errors first, then the warnings, each in validate's order
  const dqRows = dq.rows.filter((r) => r.severity === "error").concat(dq.rows.filter((r) => r.severity !== "error"));
  const bad = dqRows.findIndex((r) => r.code === "DSTT_SMARTPHONE_LE_TONG" && r.org_unit === "27904");
  ok(bad >= 0 && qrows.length === dq.rows.length && qrows[bad][0] === "Xã Mỹ Thạnh Bắc" && qrows[bad][1] === "Sai quy tắc kiểm tra" &&
     qrows[bad][2] === "Lỗi" && qrows[bad][3] === dqRows[bad].description && qrows[bad][4].includes(vi(9999, 0)) &&
     qrows.every((r, i) => r[3] === (dqRows[i].description || dqRows[i].code)) &&
     !qrows.some((r) => /\b(rule|error|warning|outlier)\b/.test(r.join(" "))),
     "data quality = validate, in words (" + (qrows[bad] || []).slice(0, 5).join(" | ") + ")");
  await shot(page, "2c-chat-luong-1366");

  // Xu hướng: titled, sorted, values in vi-VN, 4 quarters = rollup.
  await page.click("#v_trend");
  await page.selectOption("#tr_ind", "HGD_TONG");
  await page.waitForFunction(() => document.querySelectorAll("#chart_pe .bar:not(.axis)").length === 8);
  const bars = await page.$$eval("#chart .bar:not(.axis)", (b) => b.map((x) =>
    [x.querySelector(".lbl").textContent, x.querySelector(".val").textContent]));
  const sorted = wide.rows.filter((r) => r.values.HGD_TONG !== null)
    .sort((a, b) => b.values.HGD_TONG - a.values.HGD_TONG).map((r) => [r.orgUnitName, fmt("HGD_TONG", r.values.HGD_TONG)]);
  ok(JSON.stringify(bars) === JSON.stringify(sorted) && (await text(page, "#chart h3")).startsWith("Tổng số hộ gia đình"),
     "chart by commune: title, names, values, highest first (" + bars.length + " bars)");
  const pbars = await page.$$eval("#chart_pe .bar:not(.axis)", (b) => b.map((x) =>
    [x.querySelector(".lbl").textContent, x.querySelector(".val").textContent]));
  ok(trend.every((p) => pbars.some(([l, v]) => l === "Quý " + p.period.slice(5) + "/" + p.period.slice(0, 4) &&
     v === fmt("HGD_TONG", p.value))) && (await text(page, "#chart_pe")).includes("Giá trị (hộ)"),
     "chart by period: quarters in words, totals = rollup, axis labelled");
  await shot(page, "3-xu-huong-1366", true);

  // Official report; print shows only it, on A4.
  await page.click("#v_report");
  await page.fill("#r_signer", "Nguyễn Văn An");
  await page.fill("#r_no", "15/BC-UBND");
  const rep = await text(page, "#report");
  const dd = String(t.d).padStart(2, "0"), mm = String(t.m).padStart(2, "0");
  ok(rep.includes("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM") && rep.includes("Độc lập - Tự do - Hạnh phúc") &&
     rep.includes("UBND HUYỆN ĐỨC HUỆ") && rep.includes("Số: 15/BC-UBND") &&
     rep.includes("Đức Huệ, ngày " + dd + " tháng " + mm + " năm " + t.y) && rep.includes("BÁO CÁO") &&
     rep.includes("Nguyễn Văn An"), "report heading: nation, issuer, number, place and date, signer");
  const rtotal = await page.$$eval("#report_table tr.total td", (t) => t.map((x) => x.textContent));
  ok(JSON.stringify(rtotal.slice(2)) === JSON.stringify(want) &&
     (await text(page, "#report_notes")).includes(notRep[0]), "report table totals = rollup, notes name the late units");
  await shot(page, "5-bao-cao-1366", true);
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#r_xlsx")]);
  await dl.saveAs(env.OUT_DIR + "/report.xlsx");
  const xlsx = readFileSync(env.OUT_DIR + "/report.xlsx");
  ok(dl.suggestedFilename() === "cdsync-801-2025Q2.xlsx" && xlsx.subarray(0, 2).toString() === "PK",
     "Excel button: the aggregator's .xlsx report downloaded (" + xlsx.length + " bytes)");
  await page.emulateMedia({ media: "print" });
  ok(!(await page.isVisible("#controls")) && !(await page.isVisible("#token")) && await page.isVisible("#report"),
     "print media: only the report (no form, token or buttons)");
  await page.pdf({ path: env.OUT_DIR + "/report.pdf", preferCSSPageSize: true, printBackground: true });
  await page.emulateMedia({ media: "screen" });

  // Vận hành: machines in words, local times, no raw keys or epoch ms.
  await page.click("#v_ops");
  await page.waitForSelector("#health tr:nth-child(2)", { timeout: 10000 });
  const ops = await text(page, "#page_ops");
  ok(ops.includes("Bình thường") && ops.includes("Máy chủ cdsyncHoạt động bình thường") && /\d\d\/\d\d\/\d{4} \d\d:\d\d/.test(ops) && ops.includes("Xã Mỹ Quý Đông") &&
     ops.includes("Danh mục") && !/last_seen|worst_severity|_ms|\d{13}/.test(ops),
     "operations view in words with local times (and the metadata column)");
  await shot(page, "6-van-hanh-1366");

  // Errors clear stale content: a revoked-like token, then Xem.
  await page.click("#v_sum");
  await page.fill("#token", "cdst_" + "y".repeat(43));
  await page.click("#load");
  await page.waitForSelector("#msg:not(:empty)");
  ok((await page.$$eval("#grid tr", (x) => x.length)) === 0 && (await text(page, "#history")) === "" &&
     (await text(page, "#chart")) === "" && /mã truy cập/i.test(await text(page, "#msg")),
     "after an error no earlier table, chart or history stays on screen");
  // A slow answer: the loading state shows until it arrives (the rollup
  // answer is held here until the check is done, not timed).
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route("**/api/rollup?*", async (route) => { await held; await route.continue(); });
  await page.fill("#token", env.TOKEN);
  await page.click("#load");
  await page.waitForSelector("#loading:not(.hidden)");
  const loading = await text(page, "#loading");
  const emptyWhileLoading = (await page.$$eval("#grid tr", (x) => x.length)) === 0;
  release();
  await page.waitForSelector("#grid tr.total");
  await page.unroute("**/api/rollup?*");
  ok(loading === "Đang tải…" && emptyWhileLoading && (await text(page, "#msg")) === "" &&
     !(await page.isVisible("#loading")), "loading state while waiting, then the table; error message gone");

  // The phone: 390 px wide, nothing cut off.
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "1-tong-hop-390");
  const w390 = await page.evaluate(() => document.documentElement.scrollWidth);
  ok(w390 <= 390, "390 px: page fits, the table scrolls inside its box (" + w390 + " px)");
  await page.click("#v_trend");
  await page.waitForSelector("#chart .bar");
  await shot(page, "3-xu-huong-390", true);
  const cw = await page.$eval("#chart", (c) => [c.scrollWidth, c.clientWidth]);
  ok(cw[0] <= cw[1] && (await page.evaluate(() => document.documentElement.scrollWidth)) <= 390,
     "390 px: chart not cut off (" + cw.join("/") + ")");

  // A commune made by the 2025 merger, for a quarter before it: the rows
  // are its predecessors and the total is rollup's for the new commune.
  const mwide = load("merged.json"), mroll = load("merged_rollup.json");
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.click("#v_sum");
  await page.click("#ou_btn");
  await page.fill("#ou_search", "xa duc hue");
  await page.click("#ou_tree span[data-code='27925-2025']");
  await page.click("#load");
  await page.waitForSelector("#grid tr.total, #msg:not(:empty)", { timeout: 10000 });
  const mmsg = await text(page, "#msg");
  const mrows = await page.$$eval("#grid tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const mtotal = mrows.pop();
  ok(mwide.rows.length >= 2 && JSON.stringify(mrows.map((r) => r[0])) === JSON.stringify(mwide.rows.map((r) => r.orgUnitName)) &&
     mtotal[0] === "Tổng cộng Xã Đức Huệ" && (await text(page, "#summary")).includes("trước ngày sáp nhập 01/07/2025") &&
     mtotal[1 + inds.indexOf("HGD_TONG")] === fmt("HGD_TONG", mroll.rows[0].value),
     "merged commune: its predecessors' rows (" + mrows.map((r) => r[0]).join(", ") + ") and rollup's total" + mmsg);
  await shot(page, "1-tong-hop-xa-sap-nhap-1366");
  await page.click("#v_trend");

  // 300 communes: top 20 by default, all 300 on demand, sorted, readable.
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.click("#ou_btn");
  await page.fill("#ou_search", "thu nghiem");
  await page.click("#ou_tree span[data-code='899']");
  await page.click("#ind_btn");
  await page.click("#ind_none");
  await page.check("#ind_list input[value='HGD_TONG']");
  await page.click("#t_title");
  await page.click("#load");
  await page.waitForSelector("#chart .bar:not(.axis)", { timeout: 20000 });
  const v300 = wide300.rows.map((r) => [r.orgUnitName, Number(r.values.HGD_TONG)])
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0], "vi"));
  let b300 = await page.$$eval("#chart .bar:not(.axis) .lbl", (b) => b.map((x) => x.textContent));
  ok(b300.length === 20 && b300[0] === v300[0][0], "300 communes: top 20 shown first (" + b300[0] + ")");
  await shot(page, "3-xu-huong-300-top20", true);
  await page.selectOption("#tr_n", "all");
  await page.waitForFunction(() => document.querySelectorAll("#chart .bar:not(.axis)").length === 300);
  b300 = await page.$$eval("#chart .bar:not(.axis) .lbl", (b) => b.map((x) => x.textContent));
  const hts = await page.$$eval("#chart .bar:not(.axis)", (b) => b.map((x) => x.getBoundingClientRect().height));
  ok(JSON.stringify(b300) === JSON.stringify(v300.map((x) => x[0])) && Math.min(...hts) >= 16,
     "300 communes: all bars, sorted, each row at least 16 px high (no smearing)");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "3-xu-huong-300-390");
  ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "300 communes fit a phone's width");
  await page.setViewportSize({ width: 1366, height: 768 });

  // English as a switch.
  await page.selectOption("#lang", "en");
  ok((await text(page, "#t_ou")) === "Org unit" && (await text(page, "#v_sum")) === "Summary", "English switch");
  await page.click("#v_sum");
  await shot(page, "7-summary-english-1366");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  ok(width <= 1366, "fits a 1366-wide screen (" + width + " px)");
  ok(errors.length === 0, "no script errors (" + errors.join("; ") + ")");
  writeFileSync(env.OUT_DIR + "/done", "ok\n");
} catch (e) {
  ok(false, "browser run: " + e.message.split("\n")[0]);
  if (page) await shot(page, "failure", true).catch(() => {});
} finally {
  await browser.close();
  writeFileSync(env.DATA + "/tap_last", String(n - 1) + "\n");   /* the shell numbers on */
}
process.exit(failed ? 1 : 0);
