// Browser tests of the web UI against the real `retention serve` on the demo data set.
// Run: tests/e2e/run.sh (or `node --test tests/e2e/` once `npm install` ran in tests/e2e).
// Screenshots go to test-output/e2e/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { TOKENS, launch, newPage, openAs, screenshot, unexpectedErrors } from './lib/browser.js';
import { apiCall, startServer } from './lib/server.js';

const CARS = 1; // "Cars 2026": no consent yet; private phase ended 10 days ago
const BIRDS = 2; // "Birds 2026": consented, deletions over the coming weeks
const OPEN = 4; // "Open Leaderboard": public phase still running

let server;
let browser;

const api = (token, method, path, body) => apiCall(server.url, token, method, path, body);

async function consentViaApi(id, consent) {
  const res = await api(TOKENS.host, 'POST', `/api/challenges/${id}/update-retention-consent/`, { consent });
  assert.equal(res.status, 200, `set consent=${consent} on ${id}: ${JSON.stringify(res.body)}`);
}

async function hasConsentViaApi(id) {
  const res = await api(TOKENS.host, 'GET', `/api/challenges/${id}/retention-consent-status/`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.has_consent;
}

function assertNoErrors(page, allowed = []) {
  assert.deepEqual(unexpectedErrors(page, allowed), [], 'console errors on the page');
}

async function expectText(locator, expected) {
  await locator.waitFor();
  // Poll until the text matches (the page updates asynchronously).
  const deadline = Date.now() + 10_000;
  let text;
  while (Date.now() < deadline) {
    text = (await locator.textContent())?.trim();
    if (expected instanceof RegExp ? expected.test(text) : text === expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`expected ${expected} but the text is ${JSON.stringify(text)}`);
}

async function expectAttr(locator, name, value) {
  const deadline = Date.now() + 10_000;
  let current;
  while (Date.now() < deadline) {
    current = await locator.getAttribute(name);
    if (current === value) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`expected ${name}=${value} but it is ${current}`);
}

const byId = (page, id) => page.locator(`[data-testid="${id}"]`);

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** WCAG 2 A/AA problems that axe-core finds on the page (test-only library, injected here). */
async function accessibilityViolations(page) {
  // Evaluated through the DevTools protocol, so a strict Content-Security-Policy does not block it.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(fs.readFileSync(axePath, 'utf8'));
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
  });
}

describe('retention web UI', { concurrency: false }, () => {
  before(async () => {
    server = await startServer();
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the binary serves the page and its assets', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'javascript'], ['/style.css', 'text/css']]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') || '', new RegExp(type), path);
    }
  });

  test('sign in with a token, stay signed in on reload, sign out', async () => {
    const page = await newPage(browser.context);
    await page.goto(`${server.url}/`);
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await byId(page, 'signin-form').waitFor();
    assert.equal(new URL(page.url()).hash, '#/signin');
    await screenshot(page, 'signin');

    // A wrong token is refused with a message (the 401 itself is logged by the browser).
    await byId(page, 'token-input').fill('not-a-token');
    await byId(page, 'signin-submit').click();
    await expectText(byId(page, 'signin-error'), /not accepted/);

    await byId(page, 'token-input').fill(TOKENS.host);
    await byId(page, 'signin-submit').click();
    await byId(page, 'challenge-list').waitFor();
    await expectText(byId(page, 'current-user'), 'alice');
    const titles = await page.locator('[data-testid="challenge-link"] .challenge-title').allTextContents();
    for (const t of ['Cars 2026', 'Birds 2026', 'Speech 2025', 'Open Leaderboard']) {
      assert.ok(titles.includes(t), `${t} listed in ${titles}`);
    }
    assert.equal(await page.evaluate(() => localStorage.getItem('retention.token')), TOKENS.host);
    await screenshot(page, 'challenges-host');

    await page.reload();
    await byId(page, 'challenge-list').waitFor();
    await expectText(byId(page, 'current-user'), 'alice');

    await byId(page, 'signout').click();
    await byId(page, 'signin-form').waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('retention.token')), null);
    assertNoErrors(page, [/status of 401/]);
    await page.close();
  });

  test('host gives consent through the dialog; a reload keeps it', async () => {
    assert.equal(await hasConsentViaApi(CARS), false, 'Cars 2026 starts without consent');
    const page = await openAs(browser.context, server.url, TOKENS.host, `#/challenges/${CARS}`);
    const toggle = byId(page, 'consent-toggle');
    await expectText(byId(page, 'consent-status'), 'Retention consent: not provided');
    assert.equal(await toggle.getAttribute('role'), 'switch');
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    await screenshot(page, 'challenge-1-no-consent');

    await toggle.click();
    const dialog = byId(page, 'consent-dialog');
    await dialog.waitFor();
    const text = await dialog.textContent();
    for (const words of ['input files', 'stdout', 'stderr', 'result and metadata files', 'scores', 'leaderboards',
      'after each private phase ends', '14 days', 'withdraw consent at any time']) {
      assert.ok(text.includes(words), `the dialog explains "${words}": ${text}`);
    }
    await byId(page, 'consent-notes-input').fill('Approved by the lab (e2e)');
    await screenshot(page, 'consent-dialog-grant');
    await byId(page, 'dialog-confirm').click();

    await expectText(byId(page, 'consent-status'), 'Retention consent: active');
    await expectAttr(toggle, 'aria-checked', 'true');
    assert.equal(await dialog.isVisible(), false, 'the dialog closed');
    await expectText(byId(page, 'consent-by'), 'alice');
    await expectText(byId(page, 'consent-notes'), 'Approved by the lab (e2e)');
    assert.equal(await hasConsentViaApi(CARS), true);
    // The forecast fills in: the private phase ended 10 days ago, so a scheduled sweep of the
    // next weeks deletes its files.
    const runs = await page.locator('[data-testid="forecast-sweep"]').evaluateAll(
      (els) => els.map((e) => Number(e.dataset.submissions)));
    assert.ok(runs.reduce((a, b) => a + b, 0) > 0, `forecast after consent: ${runs}`);
    await screenshot(page, 'challenge-1-consent-active');

    await page.reload();
    await expectText(byId(page, 'consent-status'), 'Retention consent: active');
    await expectAttr(byId(page, 'consent-toggle'), 'aria-checked', 'true');
    assertNoErrors(page);
    await page.close();
  });

  test('Cancel (button or Escape) changes nothing; the switch works from the keyboard', async () => {
    assert.equal(await hasConsentViaApi(BIRDS), true);
    const page = await openAs(browser.context, server.url, TOKENS.host, `#/challenges/${BIRDS}`);
    const toggle = byId(page, 'consent-toggle');
    const dialog = byId(page, 'consent-dialog');
    await expectText(byId(page, 'consent-status'), 'Retention consent: active');

    await toggle.click();
    await dialog.waitFor();
    assert.match(await byId(page, 'consent-dialog-title').textContent(), /Withdraw/);
    await screenshot(page, 'consent-dialog-withdraw');
    await byId(page, 'dialog-cancel').click();
    await dialog.waitFor({ state: 'hidden' });

    // Keyboard: focus the switch, Space opens the dialog, Escape closes it.
    await toggle.focus();
    await page.keyboard.press('Space');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await toggle.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'consent-toggle',
      'focus returns to the switch');

    await expectText(byId(page, 'consent-status'), 'Retention consent: active');
    assert.equal(await toggle.getAttribute('aria-checked'), 'true');
    assert.equal(await hasConsentViaApi(BIRDS), true, 'the API still says consent is active');
    assertNoErrors(page);
    await page.close();
  });

  test('host withdraws consent through the dialog', async () => {
    await consentViaApi(CARS, true);
    const page = await openAs(browser.context, server.url, TOKENS.host, `#/challenges/${CARS}`);
    await expectText(byId(page, 'consent-status'), 'Retention consent: active');
    await byId(page, 'consent-toggle').click();
    await byId(page, 'consent-dialog').waitFor();
    assert.match(await byId(page, 'consent-dialog').textContent(), /cancelled at once/);
    await byId(page, 'dialog-confirm').click();
    await expectText(byId(page, 'consent-status'), 'Retention consent: not provided');
    await expectAttr(byId(page, 'consent-toggle'), 'aria-checked', 'false');
    assert.equal(await hasConsentViaApi(CARS), false);
    // Nothing is scheduled any more.
    await expectText(byId(page, 'next-deletion-date'), /none/);
    const runs = await page.locator('[data-testid="forecast-sweep"]').evaluateAll(
      (els) => els.map((e) => Number(e.dataset.submissions)));
    assert.ok(runs.length > 0, 'the sweep is still scheduled');
    assert.equal(runs.reduce((a, b) => a + b, 0), 0, `forecast after withdrawal: ${runs}`);
    await screenshot(page, 'challenge-1-withdrawn');
    assertNoErrors(page);
    await page.close();
  });

  test('a failing request puts the switch back and shows the error; no double submit', async () => {
    await consentViaApi(CARS, false);
    const page = await openAs(browser.context, server.url, TOKENS.host, `#/challenges/${CARS}`);
    let calls = 0;
    let release;
    const gate = new Promise((r) => { release = r; });
    await page.route('**/api/challenges/*/update-retention-consent/', async (route) => {
      calls += 1;
      await gate;
      await route.fulfill({ status: 500, contentType: 'application/json', body: '{"error": "Injected failure (e2e)"}' });
    });
    const toggle = byId(page, 'consent-toggle');
    await expectText(byId(page, 'consent-status'), 'Retention consent: not provided');
    await toggle.click();
    await byId(page, 'dialog-confirm').click();

    // Loading state while the request runs: the confirm button is disabled and the switch busy.
    await expectAttr(byId(page, 'dialog-confirm'), 'aria-busy', 'true');
    assert.equal(await byId(page, 'dialog-confirm').isDisabled(), true);
    assert.equal(await toggle.getAttribute('aria-busy'), 'true');
    await byId(page, 'consent-pending').waitFor();
    // A second click (forced past the disabled state) and Enter do not send a second request.
    await page.evaluate(() => {
      const b = document.querySelector('[data-testid="dialog-confirm"]');
      b.click();
      b.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    });
    await screenshot(page, 'consent-pending');
    release();

    await expectText(byId(page, 'error-message'), /Injected failure \(e2e\)/);
    await expectAttr(toggle, 'aria-checked', 'false');
    assert.equal(await toggle.getAttribute('aria-busy'), null);
    await expectText(byId(page, 'consent-status'), 'Retention consent: not provided');
    assert.equal(await byId(page, 'consent-dialog').isVisible(), false);
    assert.equal(calls, 1, 'exactly one request was sent');
    assert.equal(await hasConsentViaApi(CARS), false);
    await screenshot(page, 'consent-error');
    assertNoErrors(page, [/status of 500/]);
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    await page.close();
  });

  test("a participant's list shows the challenges they take part in", async () => {
    // bob has submissions in the demo challenges; the contract's role "participant" marks them.
    const res = await api(TOKENS.participant, 'GET', '/api/challenges');
    assert.equal(res.status, 200);
    const birds = res.body.challenges.find((c) => c.id === BIRDS);
    assert.ok(birds, `GET /api/challenges as bob lists Birds 2026: ${JSON.stringify(res.body)}`);
    assert.equal(birds.role, 'participant');
    assert.equal(birds.is_host, false);
    const page = await openAs(browser.context, server.url, TOKENS.participant, '#/');
    await page.locator(`[data-testid="challenge-item"][data-challenge-id="${BIRDS}"]`).waitFor();
    await expectText(page.locator(`[data-testid="challenge-item"][data-challenge-id="${BIRDS}"] [data-testid="challenge-role"]`), 'participant');
    await screenshot(page, 'challenges-participant');
    assertNoErrors(page);
    await page.close();
  });

  test('a participant sees the status but no switch', async () => {
    const page = await openAs(browser.context, server.url, TOKENS.participant, '#/');
    await expectText(byId(page, 'current-user'), 'bob');
    await page.goto(`${server.url}/#/challenges/${BIRDS}`);
    await expectText(byId(page, 'consent-status'), 'Retention consent: active');
    await byId(page, 'consent-readonly-note').waitFor();
    assert.equal(await byId(page, 'consent-toggle').count(), 0);
    assert.equal(await byId(page, 'admin-card').count(), 0);
    assert.equal(await byId(page, 'consent-by').count(), 0, 'who consented is for hosts and admins');
    assert.equal(await byId(page, 'nav-admin').isVisible(), false);
    await screenshot(page, 'challenge-2-participant');
    assertNoErrors(page);
    await page.close();
  });

  test('the chart shows the forecast of the API (challenge 2)', async () => {
    const res = await api(TOKENS.host, 'GET', `/api/challenges/${BIRDS}/forecast?weeks=12`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const page = await openAs(browser.context, server.url, TOKENS.host, `#/challenges/${BIRDS}`);
    await byId(page, 'forecast-chart').waitFor();
    // One row per scheduled sweep run: what that run deletes (issue 13).
    const bars = await page.locator('[data-testid="forecast-sweep"]').evaluateAll((els) => els.map((e) => ({
      run_at: e.dataset.runAt, submissions: Number(e.dataset.submissions), bytes: Number(e.dataset.bytes),
      width: Number(e.querySelector('.bar-bytes').getAttribute('width')),
    })));
    const expected = res.body.sweeps.map((r) => ({ run_at: r.run_at, submissions: r.submissions, bytes: r.bytes }));
    assert.deepEqual(bars.map(({ width, ...rest }) => rest), expected);
    assert.ok(expected.some((r) => r.submissions > 0), 'the demo schedules deletions in the coming weeks');
    // The per-run figures add up to the weeks' and to the total the API gives.
    assert.equal(expected.reduce((a, r) => a + r.submissions, 0), res.body.weeks.reduce((a, w) => a + w.submissions, 0));
    assert.equal(expected.reduce((a, r) => a + r.submissions, 0), res.body.total_submissions);
    // The next deletion names the sweep that acts, as retention-info says.
    const info = await api(TOKENS.host, 'GET', `/api/challenges/${BIRDS}/retention-info/`);
    assert.ok(info.body.next_deletion_sweep, JSON.stringify(info.body));
    await expectText(byId(page, 'next-deletion-date'), new RegExp(`deleted by the sweep of ${info.body.next_deletion_sweep.slice(0, 10)}`));
    // Bars are proportional: the biggest week has the longest bar, an empty week none.
    const max = Math.max(...bars.map((b) => b.bytes));
    for (const b of bars) {
      if (b.bytes === 0) assert.equal(b.width, 0);
      if (b.bytes === max) assert.equal(b.width, Math.max(...bars.map((x) => x.width)));
    }
    await expectText(byId(page, 'forecast-total'), new RegExp(`^${res.body.total_submissions} submissions`));
    await screenshot(page, 'challenge-2-host');
    assertNoErrors(page);
    await page.close();
  });

  test('a host searches a submission, keeps it with a reason, and the counts and forecast follow', async () => {
    // The first submission the scheduled sweeps would delete (R10: keep takes it out at once).
    const list = await api(TOKENS.host, 'GET', `/api/challenges/${BIRDS}/submissions?limit=500`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const due = list.body.submissions.filter((x) => x.retention_eligible_date && !x.kept && !x.is_artifact_deleted)
      .sort((a, b) => a.retention_eligible_date.localeCompare(b.retention_eligible_date))[0];
    assert.ok(due, 'the demo has a scheduled submission');
    const before = (await api(TOKENS.host, 'GET', `/api/challenges/${BIRDS}/forecast?weeks=12`)).body;
    assert.ok(before.total_submissions > 0);
    const page = await openAs(browser.context, server.url, TOKENS.host, `#/challenges/${BIRDS}`);
    await byId(page, 'keep-card').waitFor();
    const keptBefore = Number(await byId(page, 'count-kept').textContent());
    await expectText(byId(page, 'forecast-total'), new RegExp(`^${before.total_submissions} submissions`));
    await byId(page, 'keep-query').fill(String(due.id));
    await byId(page, 'keep-search').click();
    const row = page.locator(`[data-testid="keep-row"][data-submission-id="${due.id}"]`);
    await row.waitFor();
    assert.equal(await page.locator('[data-testid="keep-row"]').count(), 1, 'the search finds that one');
    // Without a reason nothing is sent.
    await row.locator('[data-testid="keep-set"]').click();
    await expectText(byId(page, 'keep-error'), 'Give a reason first.');
    await byId(page, 'keep-reason').fill('figure in the paper');
    await row.locator('[data-testid="keep-set"]').click();
    await expectText(byId(page, 'count-kept'), String(keptBefore + 1));
    const after = (await api(TOKENS.host, 'GET', `/api/challenges/${BIRDS}/forecast?weeks=12`)).body;
    assert.equal(after.total_submissions, before.total_submissions - 1);
    assert.equal(after.kept_submissions, before.kept_submissions + 1);
    await expectText(byId(page, 'forecast-total'), new RegExp(`^${after.total_submissions} submissions?`));
    await expectText(byId(page, 'forecast-kept'), new RegExp(`^${after.kept_submissions} submissions? kept`));
    // The search shows it kept, with its reason.
    await byId(page, 'keep-query').fill(String(due.id));
    await byId(page, 'keep-search').click();
    await expectText(page.locator(`[data-testid="keep-row"][data-submission-id="${due.id}"] [data-testid="keep-state"]`), 'kept: figure in the paper');
    assertNoErrors(page);
    await page.close();
    // Back as it was for the other tests.
    const released = await api(TOKENS.host, 'POST', `/api/challenges/${BIRDS}/submissions/${due.id}/release`, { reason: 'test done' });
    assert.equal(released.status, 200, JSON.stringify(released.body));
  });

  test('an admin sets an override with a reason and sees it in the audit view', async () => {
    const page = await openAs(browser.context, server.url, TOKENS.admin, `#/challenges/${BIRDS}`);
    await byId(page, 'admin-card').waitFor();
    await expectText(byId(page, 'audit-verified'), /verified/);
    assert.equal(await byId(page, 'audit-verified').getAttribute('data-ok'), 'true');
    assert.equal(await byId(page, 'consent-toggle').count(), 0, 'only hosts give or withdraw consent');

    // The reason is required: nothing is sent without one.
    let sent = 0;
    page.on('request', (r) => { if (r.url().endsWith('/override')) sent += 1; });
    await byId(page, 'override-days').fill('60');
    await byId(page, 'override-submit').click();
    await expectText(byId(page, 'override-error'), /reason is required/);
    assert.equal(sent, 0);

    const reason = 'e2e: review board asked for 60 days';
    await byId(page, 'override-reason').fill(reason);
    await byId(page, 'override-submit').click();
    await expectText(byId(page, 'retention-days'), '60');
    await expectText(byId(page, 'override-current'), /60 days/);
    await byId(page, 'audit-table').waitFor();
    const audit = await byId(page, 'audit-table').textContent();
    assert.ok(audit.includes(reason), `the audit view shows the reason: ${audit}`);
    const info = await api(TOKENS.admin, 'GET', `/api/challenges/${BIRDS}/retention-info/`);
    assert.equal(info.body.current_policies.log_retention_days_override, 60);
    await expectText(byId(page, 'audit-verified'), /verified/);
    await screenshot(page, 'challenge-2-admin-override');

    // The ledger downloads as CSV.
    const [download] = await Promise.all([page.waitForEvent('download'), byId(page, 'audit-csv').click()]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    assert.ok(csv.includes(reason), `the CSV has the override: ${csv.slice(0, 500)}`);

    // Clear it again (also with a reason).
    await byId(page, 'override-reason').fill('e2e: back to the default');
    await byId(page, 'override-clear').click();
    await expectText(byId(page, 'retention-days'), '30');
    assertNoErrors(page);
    await page.close();
  });

  test('an admin sets a phase policy with a reason and clears it again', async () => {
    const page = await openAs(browser.context, server.url, TOKENS.admin, `#/challenges/${BIRDS}`);
    await byId(page, 'phase-policy-form').waitFor();
    const before = await api(TOKENS.admin, 'GET', `/api/challenges/${BIRDS}/retention-info/`);
    const phase = before.body.phases.find((p) => !p.is_public && p.end_date);
    assert.ok(phase, 'the demo challenge has a private phase with an end date');
    await byId(page, 'phase-policy-phase').selectOption(String(phase.id));
    await byId(page, 'phase-policy-mode').selectOption('days');
    await byId(page, 'phase-policy-days').fill('45');
    // The reason is required: nothing is sent without one.
    let sent = 0;
    page.on('request', (r) => { if (r.url().endsWith('/policy')) sent += 1; });
    await byId(page, 'phase-policy-submit').click();
    await expectText(byId(page, 'phase-policy-error'), /reason is required/);
    assert.equal(sent, 0);
    await byId(page, 'phase-policy-reason').fill('e2e: short phase');
    await byId(page, 'phase-policy-submit').click();
    await expectText(byId(page, 'phases-table'), /phase: 45 days/);
    const info = await api(TOKENS.admin, 'GET', `/api/challenges/${BIRDS}/retention-info/`);
    assert.equal(info.body.phases.find((p) => p.id === phase.id).retention_days, 45);

    await byId(page, 'phase-policy-phase').selectOption(String(phase.id));
    await byId(page, 'phase-policy-mode').selectOption('clear');
    await byId(page, 'phase-policy-reason').fill('e2e: back');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/policy')),
      byId(page, 'phase-policy-submit').click(),
    ]);
    assert.equal(answer.status(), 200);
    const after = await api(TOKENS.admin, 'GET', `/api/challenges/${BIRDS}/retention-info/`);
    assert.equal(after.body.phases.find((p) => p.id === phase.id).retention_days, null);
    assertNoErrors(page);
    await page.close();
  });

  test('an admin sets and releases a legal hold, and runs a job by hand', async () => {
    const page = await openAs(browser.context, server.url, TOKENS.admin, `#/challenges/${OPEN}`);
    await expectText(byId(page, 'hold-status'), /Not on hold/);
    await byId(page, 'hold-reason').fill('e2e: legal request');
    await byId(page, 'hold-submit').click();
    await expectText(byId(page, 'hold-status'), /On legal hold/);
    await byId(page, 'challenge-hold').waitFor();
    const info = await api(TOKENS.admin, 'GET', `/api/challenges/${OPEN}/retention-info/`);
    assert.equal(info.body.current_policies.legal_hold, true);
    await byId(page, 'hold-reason').fill('e2e: request closed');
    await byId(page, 'hold-submit').click();
    await expectText(byId(page, 'hold-status'), /Not on hold/);

    await page.goto(`${server.url}/#/admin`);
    await byId(page, 'jobs-table').waitFor();
    const names = await page.locator('[data-testid="job-row"]').evaluateAll((els) => els.map((e) => e.dataset.job));
    for (const name of ['cleanup_expired_submission_artifacts', 'weekly_retention_notifications_and_consent_log',
      'update_submission_retention_dates', 'reconcile_log_retention']) {
      assert.ok(names.includes(name), `${name} in ${names}`);
    }
    await page.locator('[data-testid="job-run"][data-job="update_submission_retention_dates"]').click();
    await byId(page, 'confirm-dialog').waitFor();
    await byId(page, 'confirm-ok').click();
    await expectText(byId(page, 'job-result'), /update_submission_retention_dates/);
    const lastRun = page.locator('[data-testid="job-row"][data-job="update_submission_retention_dates"] [data-testid="job-last-run"]');
    assert.notEqual((await lastRun.textContent()).trim(), 'never');
    await expectText(byId(page, 'audit-verified'), /verified/);
    await screenshot(page, 'admin-jobs');
    assertNoErrors(page);
    await page.close();
  });

  test('no console errors on any page, for every role', async () => {
    const pages = {
      host: ['#/', ...[1, 2, 3, 4].map((id) => `#/challenges/${id}`)],
      participant: ['#/', `#/challenges/${CARS}`, `#/challenges/${BIRDS}`],
      admin: ['#/', ...[1, 2, 3, 4].map((id) => `#/challenges/${id}`), '#/admin'],
    };
    for (const [role, hashes] of Object.entries(pages)) {
      const page = await openAs(browser.context, server.url, TOKENS[role], hashes[0]);
      for (const hash of hashes) {
        await page.goto(`${server.url}/${hash}`);
        await page.reload();
        // A list (or its empty state), the admin page, or a challenge page.
        await page.locator(hash === '#/' ? '[data-testid="challenge-list"], [data-testid="challenge-empty"]'
          : hash === '#/admin' ? '[data-testid="admin-page"]' : '[data-testid="consent-status"]').first().waitFor();
        await page.waitForLoadState('networkidle');
      }
      assert.deepEqual(unexpectedErrors(page), [], `console errors as ${role}`);
      await page.close();
    }
  });

  test('readable on a phone: no horizontal scroll', async () => {
    const check = async (page, name) => {
      await page.waitForLoadState('networkidle');
      const { scroll, width } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth, width: window.innerWidth,
      }));
      assert.ok(scroll <= width, `${name}: page is ${scroll}px wide in a ${width}px viewport`);
      await screenshot(page, `phone-${name}`);
    };
    for (const [role, hash, name] of [
      ['host', '#/', 'challenges'],
      ['host', `#/challenges/${BIRDS}`, 'challenge-2-host'],
      ['admin', `#/challenges/${BIRDS}`, 'challenge-2-admin'],
      ['admin', '#/admin', 'admin'],
    ]) {
      const page = await openAs(browser.context, server.url, TOKENS[role], '#/');
      await page.setViewportSize({ width: 375, height: 740 });
      await page.goto(`${server.url}/${hash}`);
      await byId(page, hash === '#/' ? 'challenge-list' : hash === '#/admin' ? 'admin-page' : 'consent-status').waitFor();
      await check(page, name);
      if (name === 'challenge-2-host') {
        await byId(page, 'consent-toggle').click();
        await byId(page, 'consent-dialog').waitFor();
        await check(page, 'consent-dialog');
        await byId(page, 'dialog-cancel').click();
      }
      assertNoErrors(page);
      await page.close();
    }
  });

  test('accessible: no WCAG 2 A/AA violations found by axe-core', async () => {
    for (const [role, hash, ready, name] of [
      [null, '#/signin', 'signin-form', 'sign-in'],
      ['host', '#/', 'challenge-list', 'challenges'],
      ['host', `#/challenges/${BIRDS}`, 'forecast-chart', 'challenge page (host)'],
      ['participant', `#/challenges/${BIRDS}`, 'consent-status', 'challenge page (participant)'],
      ['admin', `#/challenges/${BIRDS}`, 'audit-verified', 'challenge page (admin)'],
      ['admin', '#/admin', 'jobs-table', 'admin page'],
    ]) {
      let page;
      if (role) {
        page = await openAs(browser.context, server.url, TOKENS[role], hash);
      } else {
        page = await newPage(browser.context);
        await page.goto(`${server.url}/`);
        await page.evaluate(() => localStorage.clear());
        await page.reload();
      }
      await byId(page, ready).waitFor();
      await page.waitForLoadState('networkidle');
      assert.deepEqual(await accessibilityViolations(page), [], name);
      if (name === 'challenge page (host)') {
        await byId(page, 'consent-toggle').click();
        await byId(page, 'consent-dialog').waitFor();
        assert.deepEqual(await accessibilityViolations(page), [], 'consent dialog');
        await byId(page, 'dialog-cancel').click();
      }
      assertNoErrors(page);
      await page.close();
    }
  });
});
