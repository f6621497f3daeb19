// `make bench` phase 9 (tests/bench/bench.sh): the dashboard's views as
// an officer sees them, timed in headless Chromium (playwright-core) on the
// province-scale data set: from the click to the view's table or chart on
// screen (API calls + drawing). Env: BASE_URL, TOKEN, OU (the province),
// YEAR and QUARTER, CELL (a commune code for the history), REPS, CHROMIUM.
// Each rep loads the page anew and walks every view once; prints one line
// per rep and view: "VIEW SECONDS" (the shell takes medians). A view that
// does not appear within 30 s prints "VIEW FAIL".
import { chromium } from "playwright-core";

const env = process.env;
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless"],
});
const T = 30000;

// click sel, then wait for done (a selector or a function): seconds.
async function timed(page, name, act, done) {
  const t0 = performance.now();
  try {
    await act();
    if (typeof done === "string") await page.waitForSelector(done, { timeout: T });
    else await page.waitForFunction(done, null, { timeout: T });
    console.log(name + " " + ((performance.now() - t0) / 1000).toFixed(4));
  } catch (e) {
    console.log(name + " FAIL");
    console.error("views_bench: " + name + ": " + e.message.split("\n")[0]);
  }
}

async function walk(page) {
  await timed(page, "page-start", () => page.goto(env.BASE_URL + "/"), "#token");
  await page.fill("#token", env.TOKEN);
  await timed(page, "page-login", () => page.dispatchEvent("#token", "change"),
    () => document.querySelector("#ou_btn").textContent !== "…" && document.querySelector("#msg").textContent === "");
  await page.click("#ou_btn");
  await page.click("#ou_tree span[data-code='" + env.OU + "']");
  await page.selectOption("#pe_year", env.YEAR);
  await page.selectOption("#pe_num", env.QUARTER);
  await page.click("#ind_btn");
  await page.click("#ind_all");
  await page.click("#t_title");
  await timed(page, "page-summary", () => page.click("#load"), "#grid tr.total");
  await timed(page, "page-reporting", () => page.click("#v_prog"), "#prog tr:nth-child(2)");
  await timed(page, "page-targets", async () => { await page.click("#v_target"); await page.selectOption("#tg_ind", "HSCV_ONLINE"); },
    "#rank tr:nth-child(2)");
  await timed(page, "page-quality", () => page.click("#v_quality"), "#quality tr:nth-child(2)");
  await timed(page, "page-trend", async () => { await page.click("#v_trend"); await page.selectOption("#tr_ind", "HGD_CAPQUANG"); },
    () => document.querySelectorAll("#chart_pe .bar:not(.axis)").length === 8 &&
          document.querySelectorAll("#chart .bar:not(.axis)").length > 0);
  await page.click("#v_sum");
  await timed(page, "page-history", () => page.click("#grid td.cell[data-ou='" + env.CELL + "'][data-de='HGD_TONG']"),
    "#history tr:nth-child(2)");
  await timed(page, "page-operations", () => page.click("#v_ops"), "#ops_cards .card, #ops_cards p");
}

let rc = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  for (let r = 0; r < Number(env.REPS || 3); r++) await walk(page);
} catch (e) {
  console.error("views_bench: " + e.message);
  rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
