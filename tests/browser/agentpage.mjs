// Headless Chromium on the commune officer's page (run by
// tests/integration/agent_page.sh, which left one value in each state).
// Env: LOGIN_URL (the one-time link `cdsync-agent open` printed), PERIOD
// (the current quarter), CSV (a file with two bad rows), OUT_DIR
// (screenshots), DATA (tap_last), FIRST (TAP number to start at).
// Prints 11 TAP lines.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

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
const shot = (page, name, full) => page.screenshot({ path: env.OUT_DIR + "/" + name + ".png", fullPage: !!full });
let page = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(env.LOGIN_URL);
  await page.waitForSelector("#values tbody tr");
  const stateText = async (ind, ou) =>
    (await page.textContent(`#values tr[data-ind="${ind}"][data-ou="${ou}"] td:last-child`)).trim();
  const rec = await stateText("HGD_TONG", "27907-2025");
  const rcpt = await page.getAttribute(`#values tr[data-ind="HGD_TONG"][data-ou="27907-2025"] a`, "href");
  // no org-unit file here: the office above is "cấp trên" (the level above)
  ok(rec.startsWith("Cấp trên đã nhận") && /biên nhận số \d+/.test(rec) && /^\/receipt\?id=\d+$/.test(rcpt || "") &&
     (await page.textContent("#sync h2")).trim() === "Đồng bộ với cấp trên",
     "received: 'Cấp trên đã nhận' with its biên nhận (" + rec + "); 'Đồng bộ với cấp trên'");
  const ref = await stateText("HGD_TONG", "27907");
  ok(ref.startsWith("Bị từ chối: ") && ref.includes("2025-06-30"), "refused and why (" + ref + ")");
  ok((await stateText("TO_CNSCD", "27907-2025")) === "Đã gửi bằng USB, chờ biên nhận", "sent (by USB)");
  // names first, the code under them: the officer reads names
  const indCell = await page.innerText(`#values tr[data-ind="HGD_TONG"][data-ou="27907-2025"] td:nth-child(2)`);
  const head = await page.innerText("#forms h3");
  const peCell = await page.innerText(`#values tr[data-ind="HGD_TONG"][data-ou="27907-2025"] td:nth-child(3)`);
  const [py, pq] = env.PERIOD.split("Q");
  ok(indCell.trim() === "Tổng số hộ gia đình\nHGD_TONG" && head.trim() === "27907-2025" &&
     peCell.trim() === "Quý " + pq + "/" + py + "\n" + env.PERIOD,
     "every value by its indicator's name and its period in words, codes under them (" + indCell.replace("\n", " | ") +
     "; " + peCell.replace("\n", " | ") + "); a unit without a name once (" + head + ")");
  ok((await stateText("HGD_CAPQUANG_SO", "27907-2025")) === "Đã xếp hàng, chờ gửi", "queued");
  const why = (await page.textContent("#syncwhy")).trim();
  ok(why.startsWith("Cần làm: ") && why.length > 12, "not syncing: the reason and what to do (" + why + ")");
  await shot(page, "1-states-vi", true);
  // the parts docs/AGENT.md shows: sync, files, every value's state
  await page.locator("#sync").screenshot({ path: env.OUT_DIR + "/0-sync-vi.png" });
  await page.locator("section:has(#values)").screenshot({ path: env.OUT_DIR + "/4-values-vi.png" });
  // the printable biên nhận behind the link: the values it covers, by name
  const rp = await ctx.newPage();         /* the same session cookie */
  await rp.setViewportSize({ width: 900, height: 700 });
  await rp.goto(new URL(rcpt, env.LOGIN_URL).href);
  const rrows = await rp.$$eval("table:nth-of-type(2) tr", (trs) => trs.slice(1).map((tr) => tr.innerText));
  await rp.screenshot({ path: env.OUT_DIR + "/5-bien-nhan-vi.png", fullPage: true });
  ok(rrows.length === 2 && rrows.some((x) => x.includes("Tổng số hộ gia đình") && x.includes("đã nhận")) &&
     rrows.some((x) => x.includes("đơn vị không còn tồn tại")), "the biên nhận lists the values it covers (" + rrows.join(" | ").replace(/\s+/g, " ") + ")");
  await rp.close();

  // Validation as the officer types: the message names the field and value.
  const inp = `#forms input[data-ou="27907-2025"][data-ind="TO_CNSCD"]`;
  await page.fill(inp, "3,5");
  await page.waitForSelector(`${inp}.bad`, { timeout: 5000 });
  const msg = (await page.textContent(`${inp} + .msg`)).trim();
  ok(msg.startsWith("Giá trị không hợp lệ (value «3,5»"), "typing a bad value: " + msg);
  await page.fill(inp, "5");
  await page.waitForSelector(`${inp}:not(.bad)`, { timeout: 5000 });
  // a rule broken: accepted, with the rule's warning (fewer households
  // than the 800 with fibre still queued)
  const fib = `#forms input[data-ou="27907-2025"][data-ind="HGD_TONG"]`;
  await page.fill(fib, "100");
  await page.waitForSelector(`${fib} + .msg.warn`, { timeout: 5000 });
  const w = (await page.textContent(`${fib} + .msg`)).trim();
  ok(w.startsWith("Cảnh báo (vẫn gửi được): ") && w.includes("HGD_CAPQUANG_LE_TONG") && !w.includes("queued anyway"),
     "a broken rule warns while typing: " + w);

  // CSV upload: every bad row named by line.
  await page.setInputFiles("#csv", env.CSV);
  await page.waitForSelector("#notice ul.rows li", { timeout: 5000 });
  const rows = await page.$$eval("#notice ul.rows li", (ls) => ls.map((l) => l.textContent));
  const base = env.CSV.split("/").pop();      /* a Vietnamese file name */
  ok(rows.length === 2 && rows[0].startsWith(base + ":2: value") && rows[1].startsWith(base + ":3: period") &&
     (await page.textContent("#notice p")).includes("có 2 dòng sai"), "CSV errors by line: " + rows.join(" | "));
  await shot(page, "2-validation-vi", true);

  // English switch; the login link used again is refused.
  await page.click("#lang");
  await page.waitForSelector("html[lang=en]");      /* no eval: the page's CSP */
  await page.waitForSelector("#values tbody tr");
  await shot(page, "3-states-en", true);
  const en = (await stateText("HGD_CAPQUANG_SO", "27907-2025"));
  const p2 = await browser.newPage();
  const resp = await p2.goto(env.LOGIN_URL);
  const body = await p2.textContent("body");
  ok(en === "Queued, waiting to be sent" && resp.status() === 403 && body.includes("đã được dùng") &&
     errors.length === 0, "English switch; the reused link refused (" + resp.status() + "); no script errors " + errors.join("; "));
} catch (e) {
  ok(false, "browser run: " + e.message.split("\n")[0]);
  if (page) await shot(page, "failure", true).catch(() => {});
} finally {
  await browser.close();
  writeFileSync(env.DATA + "/tap_last", String(n - 1) + "\n");
}
process.exit(failed ? 1 : 0);
