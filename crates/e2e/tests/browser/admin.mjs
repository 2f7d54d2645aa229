// Drives the admin console (/admin) in Debian's headless Chromium with playwright-core. Run by
// crates/e2e/tests/browser/main.rs after it has made a dead letter and a few finished tasks;
// by hand:
//
//   ADMIN_URL=http://127.0.0.1:8000/admin ADMIN_TOKEN=... DEAD_TASK=<id> SCENARIO=phone \
//     node crates/e2e/tests/browser/admin.mjs
//
// Environment:
//   ADMIN_URL    the console (required)
//   ADMIN_TOKEN  the gateway's admin token (required; typed into the sign-in form)
//   DEAD_TASK    the id of a dead-lettered task the page must show (required)
//   SCENARIO     "phone" (390 px wide, reads only) or "desktop" (1280 px; then requeues the
//                dead letter with its button and sees the list empty)
//   ARTIFACTS    folder for the screenshots (default artifacts/browser): admin-<scenario>.png
//   CHROMIUM     the browser (default /usr/bin/chromium)

import { mkdirSync } from "node:fs";
import path from "node:path";

import { check, launch, required } from "./chromium.mjs";

const ADMIN_URL = required("admin.mjs", "ADMIN_URL");
const ADMIN_TOKEN = required("admin.mjs", "ADMIN_TOKEN");
const DEAD_TASK = required("admin.mjs", "DEAD_TASK");
const SCENARIO = process.env.SCENARIO || "phone";
const ARTIFACTS = path.resolve(process.env.ARTIFACTS || "artifacts/browser");
const STEP_TIMEOUT = 30_000;
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };

function log(message) {
  console.log(`[admin ${SCENARIO}] ${message}`);
}

async function run() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const viewport = VIEWPORTS[SCENARIO] ?? VIEWPORTS.phone;
  const { context, close } = await launch("relay-admin-chromium-", viewport);
  const problems = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on("console", (message) => {
      // The wrong token's refused requests (401) are expected.
      if (message.type() === "error" && !/status of 401/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
    });

    log(`opening ${ADMIN_URL} at ${viewport.width}×${viewport.height}`);
    const response = await page.goto(ADMIN_URL, { waitUntil: "load" });
    check(response?.status() === 200, `the page loads (HTTP ${response?.status()})`);
    check(/default-src 'none'/.test(response.headers()["content-security-policy"] ?? ""), "the page has its CSP");
    check(await page.isVisible("#signin"), "the page asks for the token first");

    // A wrong token is refused and the form stays.
    await page.fill("#token", "not-the-admin-token");
    await page.click("#token-form button[type=submit]");
    await page.waitForFunction(() => document.getElementById("signin-message").textContent.length > 0);
    check(await page.isVisible("#signin"), "a wrong token does not open the console");

    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("stat-queued").textContent));
    const stored = await page.evaluate(() => sessionStorage.getItem("relay-admin-token"));
    check(stored === ADMIN_TOKEN, "the token is kept in sessionStorage");
    const dead = await page.textContent("#stat-dead");
    check(Number(dead) >= 1, `the queue shows the dead letter: ${dead}`);
    await page.waitForSelector(`#dead li[data-task="${DEAD_TASK}"]`);
    const reason = await page.textContent(`#dead li[data-task="${DEAD_TASK}"]`);
    check(reason.includes("temporarily_unavailable"), `the dead letter shows its reason: ${reason}`);
    await page.waitForSelector("#workers li");
    check((await page.textContent("#workers")).includes("heartbeat"), "a worker with its heartbeat");
    await page.waitForSelector("#tasks li");
    const rows = await page.locator("#tasks li").count();
    check(rows >= 2, `recent tasks are listed: ${rows}`);
    await page.waitForFunction(() => document.getElementById("chart-summary").textContent.includes("last hour"));
    check((await page.textContent("#chart-summary")).includes("succeeded"), "the chart says what it counts");

    // Filters: only the failed ones.
    await page.selectOption("#filters select[name=state]", "FAILURE");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#tasks li .badge")].every((b) => b.textContent === "FAILURE"),
    );
    // One task: its event log and attempts.
    await page.click(`#tasks li[data-task="${DEAD_TASK}"]`);
    await page.waitForSelector("#detail:not([hidden]) #detail-log li");
    const events = await page.locator("#detail-log li").count();
    check(events >= 2, `the task's event log is shown: ${events} events`);
    check(await page.isVisible("#detail-requeue"), "a dead letter can be requeued from its page");
    check((await page.textContent("#detail-attempts")).includes("Claims"), "its attempts are shown");
    await page.selectOption("#filters select[name=state]", "");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#tasks li").length >= 2);

    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    check(scrollWidth <= viewport.width, `no sideways scrolling (${scrollWidth} px)`);
    await page.evaluate(() => window.scrollTo(0, 0));
    const file = path.join(ARTIFACTS, `admin-${SCENARIO}.png`);
    await page.screenshot({ path: file, fullPage: true });
    log(`screenshot ${path.relative(process.cwd(), file)}`);

    if (SCENARIO === "desktop") {
      await page.click(`#dead li[data-task="${DEAD_TASK}"] button.requeue`);
      await page.waitForFunction(
        (id) => !document.querySelector(`#dead li[data-task="${id}"]`),
        DEAD_TASK,
      );
      check((await page.textContent("#console-message")).includes("queued again"), "the requeue is confirmed");
    }

    const csp = await page.evaluate(() => window.__csp);
    check(csp.length === 0, `no Content-Security-Policy violations: ${csp.join("; ")}`);
    check(problems.length === 0, `no errors in the page: ${problems.join("; ")}`);
    log("all checks passed");
  } catch (error) {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, `admin-${SCENARIO}-failure.png`), fullPage: true }).catch(() => {});
    if (problems.length) console.error(`page problems: ${problems.join("; ")}`);
    throw error;
  } finally {
    await close();
  }
}

run().catch((error) => {
  console.error(`[admin ${SCENARIO}] ${error.stack || error}`);
  process.exit(1);
});
