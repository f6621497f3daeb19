// Headless Chromium test of the dashboard (run by tests/integration/dashboard.sh).
// Env: BASE_URL, TOKEN, EXPECTED (file: `query --wide --format json` output),
// OU, PERIOD, INDS, OUT_DIR (screenshots, download). Prints TAP lines
// numbered from FIRST (the shell printed the plan).
import { chromium } from "playwright-core";
import { readFileSync, writeFileSync } from "node:fs";

const env = process.env;
let n = Number(env.FIRST || 1);
let failed = 0;
const ok = (cond, name) => {
  console.log((cond ? "ok " : "not ok ") + n++ + " - " + name);
  if (!cond) failed++;
};

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 },
                                       acceptDownloads: true });
  await page.goto(env.BASE_URL + "/");
  ok((await page.textContent("#t_title")).includes("chuyển đổi số"),
     "page served, Vietnamese by default");
  await page.fill("#token", env.TOKEN);
  await page.fill("#ou", env.OU);
  await page.fill("#period", env.PERIOD);
  await page.fill("#inds", env.INDS);
  await page.click("#load");
  await page.waitForSelector("#grid tr.district", { timeout: 10000 });
  await page.screenshot({ path: env.OUT_DIR + "/table.png", fullPage: true });

  // The table equals `query --wide` for the same data.
  const want = JSON.parse(readFileSync(env.EXPECTED, "utf8"));
  const got = await page.$$eval("#grid tr", (trs) => trs.slice(1).map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const district = got.pop();
  let same = got.length === want.rows.length;
  want.rows.forEach((r, i) => {
    const row = got[i] || [];
    const cells = want.indicators.map((c) => r.values[c] ?? "");
    same = same && row[0] === r.orgUnit + " " + r.orgUnitName &&
           JSON.stringify(row.slice(1, -1)) === JSON.stringify(cells) &&
           row[row.length - 1] === r.reported;
  });
  ok(same, "table equals query --wide (" + want.rows.length + " org units)");
  ok(district[0].startsWith("Toàn đơn vị") && district.slice(1).some((v) => v !== ""),
     "rolled-up district row shown");
  const missing = await page.$$eval("td.missing", (x) => x.length);
  ok(missing > 0, "missing values coloured (" + missing + ")");

  // The chart: one indicator across communes and the last 4 periods.
  await page.waitForSelector("#chart rect title", { state: "attached", timeout: 10000 });
  const bars = await page.$$eval("#chart title", (t) => t.length);
  ok(bars === Number(env.CHART_BARS) && bars > want.rows.filter((r) =>
       r.values[want.indicators[0]] !== null).length,
     "chart: a bar per commune and period of the last 4 (" + bars + ")");

  // Click a cell: its history.
  await page.click("td.cell:not(.missing)");
  await page.waitForSelector("#history tr:nth-child(2)", { timeout: 10000 });
  const hist = await page.textContent("#history");
  ok(hist.includes("verified"), "history opens, signature verified");
  await page.screenshot({ path: env.OUT_DIR + "/history.png", fullPage: true });

  // Export download.
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#x_json")]);
  const file = env.OUT_DIR + "/export.json";
  await dl.saveAs(file);
  const vals = JSON.parse(readFileSync(file, "utf8")).dataValues;
  ok(Array.isArray(vals) && vals.length > 0 && "dataElement" in vals[0],
     "DHIS2 JSON export downloaded (" + (vals ? vals.length : 0) + " values)");

  // English switch and the health page.
  await page.selectOption("#lang", "en");
  ok((await page.textContent("#t_ou")) === "Org unit", "English switch");
  await page.click("#tab_health");
  await page.waitForSelector("#health tr", { timeout: 10000 });
  await page.screenshot({ path: env.OUT_DIR + "/health.png", fullPage: true });
  ok(await page.isVisible("#health"), "health page shown");
  ok((await page.textContent("#health")).includes("worst_severity"),
     "health page shows /api/health's answer (sent with the token)");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  ok(width <= 1366, "fits a 1366-wide screen (" + width + " px)");
  writeFileSync(env.OUT_DIR + "/done", "ok\n");
} catch (e) {
  ok(false, "browser run: " + e.message.split("\n")[0]);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
