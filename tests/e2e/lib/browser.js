// Debian's chromium driven by playwright-core (never `npx playwright install`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { outputDir } from './server.js';

export const TOKENS = {
  admin: 'demo-admin-token',
  host: 'demo-host-token', // alice, host of challenges 1-4
  participant: 'demo-participant-token', // bob
};

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** A persistent context on a fresh profile directory; close() removes the profile. */
export async function launch(options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'retention-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    timezoneId: 'UTC',
    locale: 'en-GB',
    ...options,
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens a page that records console errors and uncaught exceptions in page.errors. */
export async function newPage(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`console: ${msg.text()} (${msg.location().url || ''})`);
  });
  page.on('pageerror', (err) => page.errors.push(`pageerror: ${err.message}`));
  return page;
}

/** Opens `hash` signed in with `token` (the token is put into localStorage first). */
export async function openAs(context, baseUrl, token, hash = '#/') {
  const page = await newPage(context);
  // Signed in from the first script on: the token is in localStorage before app.js runs (on
  // every load of this page, reloads included).
  await page.addInitScript((t) => localStorage.setItem('retention.token', t), token);
  await page.goto(`${baseUrl}/${hash}`);
  return page;
}

export async function screenshot(page, name) {
  fs.mkdirSync(outputDir, { recursive: true });
  const file = path.join(outputDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Console errors other than those matching one of `allowed` (regexps). */
export function unexpectedErrors(page, allowed = []) {
  return page.errors.filter((e) => !allowed.some((re) => re.test(e)));
}
