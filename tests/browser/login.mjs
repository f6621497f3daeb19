// Headless Chromium test of the login page and the session (run by
// tests/integration/dashboard_login.sh). Env: BASE_URL, USER_NAME, PASSWORD,
// OTHER_OU (a unit outside the account's scope), OUT_DIR (screenshots).
// Prints TAP lines numbered from FIRST (the shell printed the plan).
import { chromium } from "playwright-core";

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
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(env.BASE_URL + "/login.html");
  await page.fill("#name", env.USER_NAME);
  await page.fill("#password", "sai-mat-khau-roi");
  await page.click("#go");
  await page.waitForFunction(() => document.getElementById("msg").textContent !== "");
  ok((await page.textContent("#msg")).includes("không đúng"),
     "wrong password: Vietnamese message on the page");
  await page.screenshot({ path: env.OUT_DIR + "/login-failed.png" });

  await page.fill("#name", env.USER_NAME);
  await page.fill("#password", env.PASSWORD);
  await Promise.all([page.waitForURL(env.BASE_URL + "/"), page.click("#go")]);
  await page.waitForSelector("#who", { timeout: 10000 });
  ok((await page.textContent("#who")).includes(env.USER_NAME),
     "logged in: the dashboard shows who");
  const cookies = await page.context().cookies();
  const c = cookies.find((x) => x.name === "cdsync_session");
  ok(c && c.httpOnly && c.sameSite === "Strict",
     "session cookie is HttpOnly and SameSite=Strict");
  ok(await page.evaluate(() => document.cookie.indexOf("cdsync_session") < 0),
     "the page's script cannot read the session cookie");
  const own = await page.evaluate(async () =>
    (await fetch("/api/rollup?org_unit=801&period=2025Q1")).status);
  ok(own === 200, "the session reads its district (" + own + ")");
  const other = await page.evaluate(async (ou) =>
    (await fetch("/api/query?org_unit=" + ou)).status, env.OTHER_OU);
  ok(other === 403, "another unit is refused (" + other + ")");
  await page.screenshot({ path: env.OUT_DIR + "/logged-in.png" });

  await Promise.all([page.waitForURL(env.BASE_URL + "/login.html"),
                     page.click("#logout")]);
  const after = await page.evaluate(async () => (await fetch("/api/me")).status);
  ok(after === 401, "after logout the session is gone (" + after + ")");
} catch (e) {
  ok(false, "browser step: " + e.message.split("\n")[0]);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
