// What the browser scripts (drive.mjs, admin.mjs) share: their required settings, their checks
// and the Chromium they launch (Debian's, headless, in a throwaway profile).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Without these the browser phones home (updates, sync, QUIC probes) and, with no network here,
// floods the log with refused connections.
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** The environment variable `name`; `script` stops with exit code 2 when it is not set. */
export function required(script, name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${script}: set ${name}`);
    process.exit(2);
  }
  return value;
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/**
 * Chromium in a fresh profile (`profilePrefix` names its folder) at `viewport`, English in UTC;
 * `options` adds to playwright's. `close()` ends the browser and removes the profile.
 */
export async function launch(profilePrefix, viewport, options = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    deviceScaleFactor: 1,
    locale: "en-GB",
    timezoneId: "UTC",
    ...options,
  });
  const close = async () => {
    try {
      await context.close();
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  };
  return { context, close };
}
