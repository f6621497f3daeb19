// Headless Chromium test of corrections and approval on the dashboard
// (issue 16 item 4; run by tests/integration/dashboard_approval.sh). Env:
// BASE_URL, ADMIN and VIEWER (account names), PASSWORD, SUBMIT (a shell
// script: the commune's agent sends a value and waits for its ack),
// OUT_DIR (screenshots). TAP lines numbered from FIRST.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";

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

async function loginAndLoad(name) {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(env.BASE_URL + "/login.html");
  await page.fill("#name", name);
  await page.fill("#password", env.PASSWORD);
  await Promise.all([page.waitForURL(env.BASE_URL + "/"), page.click("#go")]);
  await page.waitForSelector("#who", { timeout: 10000 });
  await page.waitForFunction(() => document.querySelector("#ou_btn").textContent !== "…", null, { timeout: 10000 });
  await page.click("#ou_btn");
  await page.click("#ou_tree span[data-code='801']");
  await page.selectOption("#pe_type", "quarter");
  await page.selectOption("#pe_year", "2025");
  await page.selectOption("#pe_num", "1");
  await page.click("#load");
  await page.waitForSelector("#grid tr.total", { timeout: 10000 });
  return page;
}
const cell = (page) => page.textContent("#grid td.cell[data-ou='27901'][data-de='HGD_TONG']");

try {
  const page = await loginAndLoad(env.ADMIN);
  page.on("dialog", (d) => d.accept("xã báo lại đúng"));
  await page.waitForSelector("#approve_box:not(.hidden) #approvals button.ap[data-ds='CDS_XA_QUY']", { timeout: 10000 });
  ok((await page.textContent("#approvals")).includes("Chưa duyệt"), "admin: the quarter's data set, not approved yet");
  await page.click("#approvals button.ap[data-ds='CDS_XA_QUY']");
  await page.waitForFunction(() => document.querySelector("#approvals").textContent.includes("Đã duyệt (" ), null,
                             { timeout: 10000 });
  ok((await page.textContent("#approvals")).includes("Đã duyệt (" + env.ADMIN), "approve button: approved, by whom");
  await page.screenshot({ path: env.OUT_DIR + "/1-da-duyet.png", fullPage: true });

  execFileSync("bash", [env.SUBMIT, "2222"]);          // the commune sends after approval
  await page.click("#load");
  await page.waitForSelector("#pending button.pd[data-act='accept']", { timeout: 10000 });
  ok((await cell(page)) === "1.000" && (await page.textContent("#pending")).includes("2.222"),
     "locked: the table keeps 1.000, the commune's 2.222 is pending");
  await page.screenshot({ path: env.OUT_DIR + "/2-cho-duyet.png", fullPage: true });
  await page.click("#pending button.pd[data-act='accept']");
  await page.waitForFunction(() => document.querySelector(
    "#grid td.cell[data-ou='27901'][data-de='HGD_TONG']")?.textContent === "2.222", null, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelector("#pending").textContent.includes("Không có thay đổi"),
                             null, { timeout: 10000 });
  ok((await cell(page)) === "2.222", "accept: applied, nothing pending");

  await page.click("#grid td.cell[data-ou='27901'][data-de='HGD_TONG']");
  await page.waitForSelector("#edit_box:not(.hidden)", { timeout: 10000 });
  await page.fill("#e_value", "2300");
  await page.click("#e_save");
  ok((await page.textContent("#e_msg")) === "Cần nhập giá trị và lý do.", "edit: a reason is required");
  await page.fill("#e_reason", "đếm thiếu thôn 3");
  await page.click("#e_save");
  await page.waitForFunction(() => document.querySelector("#e_msg").textContent.startsWith("Đã sửa"), null,
                             { timeout: 10000 });
  const hist = await page.textContent("#history");
  ok(hist.includes("đếm thiếu thôn 3") && hist.includes(env.ADMIN) && hist.includes("Kỳ đã duyệt"),
     "edit: the correction in history with who and why; the held value shown as such");
  await page.screenshot({ path: env.OUT_DIR + "/3-sua-so-lieu.png", fullPage: true });

  const viewer = await loginAndLoad(env.VIEWER);
  ok(await viewer.isHidden("#approve_box"), "viewer: no approval panel");
  await viewer.click("#grid td.cell[data-ou='27901'][data-de='HGD_TONG']");
  await viewer.waitForSelector("#history tr", { timeout: 10000 });
  ok(await viewer.isHidden("#edit_box") && (await cell(page)) !== null, "viewer: no edit box");
} catch (e) {
  ok(false, "browser step: " + e.message.split("\n")[0]);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
