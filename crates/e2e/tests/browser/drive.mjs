// Drives the web demo in Debian's headless Chromium with playwright-core (no downloaded browser).
// Run by crates/e2e/tests/browser/main.rs, which starts the real api and worker first; by hand:
//
//   DEMO_URL=http://127.0.0.1:8000/demo/ SCENARIO=socket node crates/e2e/tests/browser/drive.mjs
//
// Environment:
//   DEMO_URL    the demo page (required)
//   SCENARIO    "socket": phone-sized, the socket carries every step; then a second recipe
//               (the list shows it first) and a video that is not a recipe (the failed card).
//               "polling": desktop-sized, the gateway has sockets off; the card is reached by
//               long-polling.
//   ARTIFACTS   folder for the screenshots (default artifacts/browser)
//   CHROMIUM    the browser (default /usr/bin/chromium)
// Exit code 0 when every check passed; the first failed check is printed with the page state.

import { mkdirSync } from "node:fs";
import path from "node:path";

import { check, launch, required } from "./chromium.mjs";

const DEMO_URL = required("drive.mjs", "DEMO_URL");
const SCENARIO = process.env.SCENARIO || "socket";
const ARTIFACTS = path.resolve(process.env.ARTIFACTS || "artifacts/browser");
const STEP_TIMEOUT = 30_000;

const VIDEOS = {
  pasta: { url: "https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424", language: "en", times: true },
  kaiserschmarrn: { url: "https://www.tiktok.com/@kochen.mit.lena/video/7326497432544955876", language: "de" },
  // The rule-based extractor finds its ingredients in the transcript, but no numbered steps.
  pancakes: { url: "https://www.tiktok.com/@brunchbydan/video/7339557630099983671", language: "en", minSteps: 0 },
  dance: { url: "https://www.tiktok.com/@jess.daily.vlogs/video/7352260452192298766", language: "en" },
};

const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 860 },
};

function log(message) {
  console.log(`[browser ${SCENARIO}] ${message}`);
}

/** Records, inside the page, every state and bar value the card goes through. */
function recorder() {
  // `armed` once the card is reset for a new task, so the previous task's values are not counted.
  window.__seen = { states: [], bar: [], csp: [], armed: false };
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__seen.csp.push(`${event.violatedDirective} ${event.blockedURI}`);
  });
  const start = () => {
    const card = document.getElementById("card");
    const bar = document.getElementById("bar");
    if (!card || !bar) return;
    const push = (list, value) => {
      if (value !== null && value !== undefined && list.at(-1) !== value) list.push(value);
    };
    // Old values too: several updates may land before the observer runs.
    new MutationObserver((records) => {
      const seen = window.__seen;
      if (!seen.armed) {
        if (card.dataset.state !== "connecting") return;
        seen.armed = true;
        push(seen.states, "connecting");
        return;
      }
      for (const record of records) {
        if (record.oldValue === null) continue;
        if (record.attributeName === "data-state") push(seen.states, record.oldValue);
        if (record.attributeName === "aria-valuenow") push(seen.bar, Number(record.oldValue));
      }
      push(seen.states, card.dataset.state);
      const now = bar.getAttribute("aria-valuenow");
      if (now !== null) push(seen.bar, Number(now));
    }).observe(card, {
      attributes: true,
      attributeOldValue: true,
      subtree: true,
      attributeFilter: ["data-state", "aria-valuenow"],
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}

/** The whole page, and the task card alone (`-card.png`, what the README shows). */
async function shot(page, name) {
  const file = path.join(ARTIFACTS, `${SCENARIO}-${name}.png`);
  const options = { animations: "disabled", caret: "hide" };
  await page.screenshot({ ...options, path: file, fullPage: true });
  await page.locator("#task").screenshot({ ...options, path: file.replace(/\.png$/, "-card.png") });
  log(`screenshots ${path.relative(process.cwd(), file)} (and -card.png)`);
}

async function seen(page) {
  return page.evaluate(() => ({
    states: [...window.__seen.states],
    bar: [...window.__seen.bar],
    csp: [...window.__seen.csp],
  }));
}

async function resetSeen(page) {
  await page.evaluate(() => {
    window.__seen.states = [];
    window.__seen.bar = [];
    window.__seen.armed = false;
  });
}

/** Submits a video and waits until the card follows the new task (not the previous one). */
async function submit(page, video) {
  await page.fill("#url", video.url);
  await page.fill("#language", video.language);
  await resetSeen(page);
  const previous = (await page.getAttribute("#card", "data-task-id")) ?? "";
  await page.click("#submit");
  await page.waitForFunction(
    (before) => {
      const card = document.getElementById("card");
      return !document.getElementById("task").hidden && card.dataset.taskId && card.dataset.taskId !== before;
    },
    previous,
    { timeout: STEP_TIMEOUT },
  );
}

/** Submits a recipe video and follows it to the recipe card; returns what the card went through. */
async function followToRecipe(page, video, { progressShot } = {}) {
  await submit(page, video);
  if (progressShot) {
    // The processing card, with the bar part-way (step 2 or 3 of 5).
    await page.waitForSelector('#card[data-state="processing"] #bar[aria-valuenow="40"], #card[data-state="processing"] #bar[aria-valuenow="60"]', {
      timeout: STEP_TIMEOUT,
    });
    await shot(page, progressShot);
    const bar = page.locator("#bar");
    check((await bar.getAttribute("role")) === "progressbar", "the bar has role=progressbar");
    check((await bar.getAttribute("aria-valuemin")) === "0", "aria-valuemin");
    check((await bar.getAttribute("aria-valuemax")) === "100", "aria-valuemax");
    check(/^Step [1-5] of 5 · \d+%$/.test(await page.textContent("#meta")), "the meta line says 'Step N of 5 · NN%'");
    check((await page.getAttribute("#status", "aria-live")) === "polite", "the status text is a polite live region");
  }
  await page.waitForSelector('#card[data-state="ready"] .recipe', { timeout: STEP_TIMEOUT });
  const record = await seen(page);
  log(`states ${record.states.join(" → ")}; bar ${record.bar.join(" → ")}`);
  check(record.states.at(-1) === "ready", "the card ends ready");
  check(record.states.includes("processing"), "the card showed the processing state");
  for (let i = 1; i < record.bar.length; i += 1) {
    check(record.bar[i] >= record.bar[i - 1], `the bar never goes back: ${record.bar.join(", ")}`);
  }
  check(record.bar.some((v) => v > 0 && v < 100), `the bar stopped part-way at least once: ${record.bar.join(", ")}`);
  check(record.bar.at(-1) === 100, "the bar ends full");
  check((await page.getAttribute("#bar", "aria-valuenow")) === "100", "aria-valuenow is 100 at the end");
  await checkRecipeCard(page, video);
  return record;
}

async function checkRecipeCard(page, video) {
  const card = page.locator("#recipe-slot .recipe");
  const title = (await card.locator(".recipe-title").textContent()).trim();
  check(title.length > 3, "the recipe has a title");
  check(/saved|processed/i.test(await page.textContent("#status-main")), "the status says the recipe was saved");
  const facts = await card.locator(".facts").textContent();
  check(/Servings/.test(facts), `servings are shown: ${facts}`);
  if (video.times) check(/Prep|Cook|Total/.test(facts), `times are shown: ${facts}`);
  const ingredients = await card.locator(".ingredients li").count();
  const steps = await card.locator(".steps li").count();
  check(ingredients >= 3, `ingredients are listed (${ingredients})`);
  const minSteps = video.minSteps ?? 2;
  check(steps >= minSteps, `steps are listed (${steps})`);
  if (!steps) check(await card.locator(".hint").count(), "a recipe without steps says so");
  const link = card.locator(".source a");
  const href = await link.getAttribute("href");
  const videoId = video.url.split("/").at(-1);
  check(href?.includes(videoId), `the source link points at the video: ${href}`);
  check((await link.getAttribute("rel"))?.includes("noopener"), "the source link is rel=noopener");
  return title;
}

/** The card's servings stepper scales the lines (2 -> 3 servings) and the units toggle converts them. */
async function checkServingsAndUnits(page) {
  const card = "#recipe-slot";
  const lines = () => page.locator(`${card} .ingredients li`).allTextContents();
  check((await page.textContent(`${card} .servings-count`)).trim() === "2 servings", "the stepper starts at 2");
  await page.click(`${card} [aria-label="More servings"]`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim() === "3 servings", `${card} .servings-count`);
  const scaled = await lines();
  check(scaled.includes("6 Stk. Eier (Gr. M)"), `4 eggs for 2 become 6 for 3: ${scaled.join(" | ")}`);
  check(scaled.some((line) => /^375 ml Milch/.test(line)), `250 ml milk become 375 ml: ${scaled.join(" | ")}`);
  await page.click(`${card} [data-units="us"]`);
  await page.waitForSelector(`${card} [data-units="us"][aria-checked="true"]`);
  const us = await lines();
  check(us.some((line) => /Tassen? \(375 ml\) Milch/.test(line)), `US units show the milk in cups: ${us.join(" | ")}`);
  await page.click(`${card} [data-units="written"]`);
  await page.waitForSelector(`${card} [data-units="written"][aria-checked="true"]`);
  check((await lines()).includes("6 Stk. Eier (Gr. M)"), "back to the units as written, still for 3");
}

async function signIn(page) {
  await page.waitForSelector('body[data-ready="true"]');
  check((await page.textContent("#who")).includes("Not signed in"), "a new visitor is not signed in");
  await page.click("#mint");
  await page.waitForSelector('body[data-signed-in="true"]', { timeout: STEP_TIMEOUT });
  check((await page.textContent("#who")).startsWith("User "), "the header shows the user");
}

async function run() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const viewport = SCENARIO === "polling" ? VIEWPORTS.desktop : VIEWPORTS.phone;
  const { context, close } = await launch("relay-chromium-", viewport, { reducedMotion: "no-preference" });
  const problems = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      // With sockets off the refused handshake (404) and its probe are expected.
      const expected =
        SCENARIO === "polling" &&
        (/WebSocket connection to .* failed/.test(message.text()) || /status of 404/.test(message.text()));
      if (!expected) problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    await page.addInitScript(recorder);

    log(`opening ${DEMO_URL} at ${viewport.width}×${viewport.height}`);
    const response = await page.goto(DEMO_URL, { waitUntil: "load" });
    check(response?.status() === 200, `the page loads (HTTP ${response?.status()})`);
    check(/default-src 'none'/.test(response.headers()["content-security-policy"] ?? ""), "the page has its CSP");
    await signIn(page);

    if (SCENARIO === "socket") {
      const record = await followToRecipe(page, VIDEOS.pasta, { progressShot: "progress" });
      check(
        JSON.stringify(record.bar) === JSON.stringify([20, 40, 60, 80, 100]),
        `over the socket the bar shows every step: ${record.bar.join(", ")}`,
      );
      check(record.states.slice(-3).join(" ") === "queued processing ready", `states: ${record.states.join(", ")}`);
      const transports = await page.getAttribute("#card", "data-transports");
      check(transports === "connecting socket", `the socket carried the task without polling: ${transports}`);
      await shot(page, "ready");
      const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      check(scrollWidth <= viewport.width, `no sideways scrolling on a phone (${scrollWidth} px)`);

      // A second recipe: the list shows the newest first.
      const first = (await page.textContent("#recipe-slot .recipe-title")).trim();
      await followToRecipe(page, VIDEOS.pancakes);
      const second = (await page.textContent("#recipe-slot .recipe-title")).trim();
      await page.waitForFunction(() => document.querySelectorAll("#recipe-list > li").length >= 2);
      const listed = await page.locator("#recipe-list .item-title").allTextContents();
      check(listed[0] === second && listed[1] === first, `the list is newest first: ${listed.join(" | ")}`);
      await page.click("#recipe-list li:first-child summary");
      await page.waitForSelector("#recipe-list li:first-child .recipe .ingredients li");

      // A video that is not a recipe: the failed card with its retry button.
      await submit(page, VIDEOS.dance);
      await page.waitForSelector('#card[data-state="failed"]', { timeout: STEP_TIMEOUT });
      check((await page.textContent("#status-details")).includes("not_a_recipe"), "the error code is shown");
      check(await page.isVisible("#retry"), "the failed card offers a retry");
      await page.locator("#task").scrollIntoViewIfNeeded();
      await shot(page, "failed");
    } else {
      const record = await followToRecipe(page, VIDEOS.kaiserschmarrn, { progressShot: "progress" });
      const transports = (await page.getAttribute("#card", "data-transports")).split(" ");
      check(transports.includes("polling") && !transports.includes("socket"), `polling only: ${transports}`);
      check(record.states.at(-1) === "ready", "ready by polling");
      await page.waitForSelector("#recipe-list > li");
      const lines = await page.locator("#recipe-slot .ingredients li").allTextContents();
      check(lines.includes("4 Stk. Eier (Gr. M)"), `one line per ingredient, as written: ${lines.join(" | ")}`);
      await shot(page, "ready");
      await checkServingsAndUnits(page);
    }

    const final = await seen(page);
    check(final.csp.length === 0, `no Content-Security-Policy violations: ${final.csp.join("; ")}`);
    check(problems.length === 0, `no errors in the page: ${problems.join("; ")}`);
    log("all checks passed");
  } catch (error) {
    try {
      const page = context.pages()[0];
      if (page) {
        await page.screenshot({ path: path.join(ARTIFACTS, `${SCENARIO}-failure.png`), fullPage: true });
        const state = await page.evaluate(() => ({
          card: document.getElementById("card")?.dataset,
          status: document.getElementById("status")?.innerText,
          submit: document.getElementById("submit-message")?.innerText,
          signin: document.getElementById("signin-message")?.innerText,
          seen: window.__seen,
        }));
        console.error(`page state: ${JSON.stringify(state)}`);
      }
    } catch {
      // The page itself may be what failed.
    }
    if (problems.length) console.error(`page problems: ${problems.join("; ")}`);
    throw error;
  } finally {
    await close();
  }
}

run().catch((error) => {
  console.error(`[browser ${SCENARIO}] ${error.stack || error}`);
  process.exit(1);
});
