// End-to-end tests of the web console in headless Chromium, run by scripts/browser-test
// against a real `mamori serve` with demo data.
//
// Environment (set by scripts/browser-test):
//   MAMORI_URL          the server's base URL, e.g. http://127.0.0.1:41234
//   MAMORI_LOGINS       JSON {role: {name, password}} for admin, analyst, investigator,
//                       approver and auditor
//   MAMORI_SCREENSHOTS  where to save the screenshots (default target/browser-screenshots)
//   CHROMIUM            the browser (default /usr/bin/chromium)
//
// Without MAMORI_URL only the checks that need no server run (the message catalogs).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CONSOLE = path.join(ROOT, 'crates', 'mamori-server', 'console');
const BASE = process.env.MAMORI_URL;
const LOGINS = process.env.MAMORI_LOGINS ? JSON.parse(process.env.MAMORI_LOGINS) : {};
const SHOTS = path.resolve(ROOT, process.env.MAMORI_SCREENSHOTS || 'target/browser-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NEW_PASSWORD = 'browser-test passphrase 2026';
const server = { skip: BASE ? false : 'MAMORI_URL is not set (run scripts/browser-test)' };

function readCatalog(lang) {
  return JSON.parse(fs.readFileSync(path.join(CONSOLE, 'i18n', `${lang}.json`), 'utf8'));
}
const catalogs = { en: readCatalog('en'), ja: readCatalog('ja') };

function listFiles(dir, prefix = '') {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------
// Checks without a server

test('en.json and ja.json have the same keys and no empty values', () => {
  const en = Object.keys(catalogs.en).sort();
  const ja = Object.keys(catalogs.ja).sort();
  assert.deepEqual(en.filter((k) => !catalogs.ja[k] && catalogs.ja[k] !== ''), [], 'keys only in en.json');
  assert.deepEqual(ja.filter((k) => !catalogs.en[k] && catalogs.en[k] !== ''), [], 'keys only in ja.json');
  assert.deepEqual(en, ja);
  for (const [lang, catalog] of Object.entries(catalogs)) {
    for (const [key, value] of Object.entries(catalog)) {
      assert.equal(typeof value, 'string', `${lang}.json ${key} is not a string`);
      assert.ok(value.trim().length > 0, `${lang}.json ${key} is empty`);
    }
  }
  // Placeholders must match: a {name} in one language is a {name} in the other.
  const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const key of en) {
    assert.deepEqual(placeholders(catalogs.ja[key]), placeholders(catalogs.en[key]), `placeholders of ${key}`);
  }
});

test('every message key the scripts name is in the catalogs', () => {
  const missing = [];
  for (const file of listFiles(path.join(CONSOLE, 'js'))) {
    const source = fs.readFileSync(path.join(CONSOLE, 'js', file), 'utf8');
    for (const match of source.matchAll(/\bt\(\s*'([^']+)'/g)) {
      if (!(match[1] in catalogs.en)) missing.push(`${file}: ${match[1]}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('console_assets.txt lists exactly the console files', () => {
  const listed = fs.readFileSync(path.join(ROOT, 'crates', 'mamori-server', 'src', 'console_assets.txt'), 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).sort();
  assert.deepEqual(listed, listFiles(CONSOLE));
});

test('no markup parsing, inline handlers or inline styles in the console sources', () => {
  for (const file of listFiles(CONSOLE)) {
    const source = fs.readFileSync(path.join(CONSOLE, file), 'utf8');
    if (file.endsWith('.js')) {
      assert.doesNotMatch(source, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, file);
      assert.doesNotMatch(source, /setAttribute\(\s*['"](style|on\w+)['"]/, file);
    }
    if (file.endsWith('.html')) {
      assert.doesNotMatch(source, /<script(?![^>]*\bsrc=)[^>]*>/i, `${file}: inline script`);
      assert.doesNotMatch(source, /\son\w+=|\sstyle=|<style/i, `${file}: inline handler or style`);
    }
  }
});

// ---------------------------------------------------------------------------------------
// The console against a running server

let chromium;
let browser;
const sessions = {};
const violations = [];
const failures = [];

async function newPage(locale) {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 },
    locale,
    acceptDownloads: true,
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to (execute|load|apply|evaluate)/i.test(text)) violations.push(text);
    if (message.type() === 'error' && !/Failed to load resource/.test(text)) failures.push(text);
  });
  page.on('pageerror', (error) => failures.push(`pageerror: ${error.message}`));
  return { context, page };
}

/** Waits until the page's content has loaded (no spinner left). */
async function settled(page) {
  await page.waitForFunction(() => {
    const app = document.getElementById('app');
    return app && app.dataset.route === location.hash && !document.querySelector('[data-testid=loading]');
  });
}

async function go(page, hash) {
  const url = `${BASE}/console/${hash}`;
  // Going to the URL the page is at fires no hashchange: load it afresh instead.
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await settled(page);
}

/** Signs `role` in, in a browser context of its own (replacing a one-time password if asked). */
async function signIn(role, locale = 'ja-JP') {
  const login = LOGINS[role];
  assert.ok(login, `no login for ${role} in MAMORI_LOGINS`);
  const { context, page } = await newPage(locale);
  await page.goto(`${BASE}/`);
  await page.waitForSelector('[data-testid=login-form]');
  await page.fill('[data-testid=login-name]', login.name);
  await page.fill('[data-testid=login-password]', login.password);
  await page.click('[data-testid=login-submit]');
  await page.waitForFunction(() => !location.hash.startsWith('#/login') || document.querySelector('[data-testid=login-error] .alert-box'));
  if (page.url().includes('#/login')) {
    assert.fail(`${role} could not sign in: ${await page.textContent('[data-testid=login-error]')}`);
  }
  if (page.url().includes('#/password')) {
    await settled(page);
    await shot(page, 'password', await page.evaluate(() => document.documentElement.lang));
    await page.fill('[data-testid=password-current]', login.password);
    await page.fill('[data-testid=password-new]', NEW_PASSWORD);
    await page.fill('[data-testid=password-again]', NEW_PASSWORD);
    await page.click('[data-testid=password-submit]');
    await page.waitForFunction(() => !location.hash.startsWith('#/password'));
    login.password = NEW_PASSWORD;
  }
  await settled(page);
  // Start every role in Japanese (a preference saved by an earlier run would say otherwise).
  await setLang(page, 'ja');
  sessions[role] = { context, page };
  return page;
}

async function shot(page, name, lang) {
  await settled(page).catch(() => {});
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${lang}-${name}.png`), fullPage: true });
}

async function setLang(page, lang) {
  const current = await page.evaluate(() => document.documentElement.lang);
  if (current !== lang) {
    await page.click(`[data-testid=lang-${lang}]`);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
  }
  await settled(page);
}

async function notice(page) {
  const el = await page.waitForSelector('[data-testid=notice-success], [data-testid=notice-error]');
  const testid = await el.getAttribute('data-testid');
  const text = await el.textContent();
  assert.equal(testid, 'notice-success', `expected success, got: ${text}`);
  await el.evaluate((node) => node.remove());
  return text;
}

const state = {};

before(async () => {
  if (!BASE) return;
  ({ chromium } = await import('playwright-core'));
  // Playwright starts Chromium with a fresh, temporary --user-data-dir of its own (and
  // refuses one given in args), so every run begins with an empty profile.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

test('the console is served with a strict Content-Security-Policy', server, async () => {
  const response = await fetch(`${BASE}/console/`);
  assert.equal(response.status, 200);
  const csp = response.headers.get('content-security-policy') || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const redirect = await fetch(`${BASE}/`, { redirect: 'manual' });
  assert.ok([301, 302, 303, 307, 308].includes(redirect.status), `/ answers ${redirect.status}`);
  assert.match(redirect.headers.get('location') || '', /\/console\/$/);
});

test('sign-in page in both languages; a wrong password is refused with a message', server, async () => {
  const { context, page } = await newPage('ja-JP');
  await page.goto(`${BASE}/console/`);
  await page.waitForSelector('[data-testid=login-form]');
  assert.equal(await page.textContent('.login-card h2'), catalogs.ja['login.title']);
  await shot(page, 'login', 'ja');
  await page.click('[data-testid=lang-en]');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.textContent('.login-card h2'), catalogs.en['login.title']);
  await shot(page, 'login', 'en');
  await page.fill('[data-testid=login-name]', 'nobody-here');
  await page.fill('[data-testid=login-password]', 'not the password');
  await page.click('[data-testid=login-submit]');
  await page.waitForSelector('[data-testid=login-error] .alert-box');
  assert.match(await page.textContent('[data-testid=login-error]'), /Wrong name or password/);
  // The choice is kept in this browser for the next visit.
  await page.reload();
  await page.waitForSelector('[data-testid=login-form]');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await context.close();
});

test('each role sees only its navigation', server, async () => {
  const expected = {
    admin: ['rules', 'admin'],
    analyst: ['dashboard', 'alerts', 'search', 'rules'],
    investigator: ['dashboard', 'alerts', 'cases', 'search', 'rules'],
    approver: ['approvals'],
    auditor: ['audit'],
  };
  for (const [role, items] of Object.entries(expected)) {
    const page = await signIn(role);
    const ids = await page.$$eval('[data-testid=nav] [data-testid^=nav-]', (links) => links.map((a) => a.dataset.testid.slice(4)));
    assert.deepEqual(ids, items, `navigation of ${role}`);
    assert.equal(await page.textContent('[data-testid=user-role]'), catalogs.ja[`role.${role}`]);
    assert.equal((await page.textContent('[data-testid=timezone]')).trim(), 'Asia/Tokyo');
  }
  // A page outside the role is refused by the console (and the API) without breaking.
  const page = sessions.auditor.page;
  await go(page, '#/alerts');
  assert.equal(await page.textContent('[data-testid=page-title]'), catalogs.ja['error.forbiddenTitle']);
});

test('dashboard renders charts and counts', server, async () => {
  const page = sessions.analyst.page;
  await go(page, '#/dashboard');
  await page.waitForSelector('[data-testid=chart-trend]');
  const bars = await page.$$eval('[data-testid=chart-trend] [data-testid=chart-bar]', (els) => els.length);
  assert.ok(bars > 0, 'the risk trend has bars');
  assert.ok(await page.$('[data-testid=chart-severity] [data-testid=chart-bar]'), 'alerts by severity has bars');
  assert.ok(await page.$('[data-testid=chart-departments] [data-testid=chart-bar]'), 'alerts by department has bars');
  const open = Number((await page.textContent('[data-testid=kpi-open-alerts-value]')).replace(/[^\d]/g, ''));
  assert.ok(open > 0, `open alerts: ${open}`);
  const persons = Number((await page.textContent('[data-testid=kpi-persons-value]')).replace(/[^\d]/g, ''));
  assert.ok(persons > 0, `people scored: ${persons}`);
  assert.ok((await page.$$('[data-testid=indicators-table] tbody tr')).length > 0, 'top indicators');
  assert.ok((await page.$$('[data-testid=source-health]')).length > 0, 'data-source health');
  // Rule indicators carry the rule's Japanese title (from its file), not the English one.
  const board = await page.evaluate(async () => (await fetch('/api/v1/dashboard')).json());
  const rules = board.indicators.filter((i) => i.feature.startsWith('rule:'));
  assert.ok(rules.length > 0, 'rule indicators on the demo data');
  for (const rule of rules) assert.notEqual(rule.ja, rule.en, rule.feature);
});

test('an analyst dismisses an alert with a reason', server, async () => {
  const page = sessions.analyst.page;
  await go(page, '#/alerts');
  const rows = await page.$$eval('[data-testid=alert-row]', (trs) => trs.map((tr) => ({ id: tr.dataset.id, person: tr.dataset.person })));
  assert.ok(rows.length >= 2, `open alerts: ${rows.length}`);
  // Escalate the person with the most open alerts later; dismiss one alert of someone else.
  const counts = new Map();
  for (const row of rows) counts.set(row.person, (counts.get(row.person) || 0) + 1);
  const [escalatePerson] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  const victim = rows.find((row) => row.person !== escalatePerson) || rows[rows.length - 1];
  state.escalatePerson = escalatePerson;
  state.dismissed = victim.id;

  await page.check(`[data-testid=alert-row][data-id="${victim.id}"] [data-testid=alert-check]`);
  assert.equal(await page.isVisible('[data-testid=action-bar]'), true);
  // No reason: refused before anything is sent.
  await page.click('[data-testid=action-dismiss]');
  await page.waitForSelector('[data-testid=notice-error]');
  await page.$eval('[data-testid=notice-error]', (node) => node.remove());
  await page.fill('[data-testid=dismiss-reason]', 'Approved backup to the company NAS (ticket 4711)');
  await page.click('[data-testid=action-dismiss]');
  await notice(page);
  // The queue is read again after the notice: wait for the row to go.
  await page.waitForSelector(`[data-testid=alert-row][data-id="${victim.id}"]`, { state: 'detached' });
  await settled(page);
  await go(page, '#/alerts?status=dismissed');
  const row = await page.waitForSelector(`[data-testid=alert-row][data-id="${victim.id}"]`);
  assert.match(await row.textContent(), /ticket 4711/);
});

test('the person page explains the risk and pages through the timeline', server, async () => {
  const page = sessions.analyst.page;
  await go(page, `#/persons/${state.escalatePerson}`);
  await page.waitForSelector('[data-testid=chart-risk] [data-testid=chart-point]');
  await page.waitForSelector('[data-testid=explanation]');
  await page.waitForSelector('[data-testid=person-alerts-table] tbody tr');
  await page.waitForSelector('[data-testid=timeline-table] [data-testid=event-row]');
  const first = (await page.$$('[data-testid=timeline-table] [data-testid=event-row]')).length;
  assert.ok(first > 0 && first <= 100, `first page: ${first} events`);
  if (await page.$('[data-testid=events-more]')) {
    await page.click('[data-testid=events-more]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=timeline-table] [data-testid=event-row]').length > n, first);
  }
  // Choosing another day on the chart updates the explanation.
  const points = await page.$$('[data-testid=chart-risk] [data-testid=chart-point]');
  await points[0].click();
  await page.waitForSelector('[data-testid=chart-risk] .point.selected');
  // From an alert: the activity ± 30 minutes around it.
  await page.click('[data-testid=person-alert-around]');
  await page.waitForSelector('[data-testid=around-banner]');
  await settled(page);
  // A wider window around the same moment.
  await page.click('[data-testid=around-120]');
  await page.waitForFunction(() => location.hash.includes('minutes=120'));
  await settled(page);
  assert.match(await page.textContent('[data-testid=around-banner]'), /120/);
});

test('organisation-wide search finds events', server, async () => {
  const page = sessions.analyst.page;
  await go(page, '#/search');
  await page.selectOption('[data-testid=search-kind]', 'logon');
  await page.click('[data-testid=search-submit]');
  await page.waitForSelector('[data-testid=search-results] [data-testid=event-row]');
  assert.ok((await page.$$('[data-testid=search-results] [data-testid=event-row]')).length > 0);
});

test('an investigator escalates alerts to a case and works on it', server, async () => {
  const page = sessions.investigator.page;
  await go(page, '#/alerts');
  const ids = await page.$$eval(`[data-testid=alert-row][data-person="${state.escalatePerson}"]`, (trs) => trs.map((tr) => tr.dataset.id));
  assert.ok(ids.length >= 1);
  state.caseAlerts = ids.slice(0, 3);
  for (const id of state.caseAlerts) await page.check(`[data-testid=alert-row][data-id="${id}"] [data-testid=alert-check]`);
  await page.fill('[data-testid=case-title]', 'Browser test: possible data exfiltration');
  assert.equal(await page.textContent('[data-testid=selection-count]'), catalogs.ja['alerts.selected'].replace('{count}', String(state.caseAlerts.length)));
  await page.screenshot({ path: path.join(SHOTS, 'ja-alerts-bulk.png') });
  await page.click('[data-testid=action-escalate]');
  await page.waitForFunction(() => /^#\/cases\/\d+$/.test(location.hash));
  state.caseId = Number(page.url().split('/').pop());
  await settled(page);
  assert.equal((await page.$$('[data-testid=case-alerts] tbody tr')).length, state.caseAlerts.length);
  assert.equal(await page.$('[data-testid=reveal-banner]'), null, 'not revealed yet');
  const person = await page.textContent('[data-testid=case-facts] [data-testid=person-link]');
  assert.match(person, /^P-/);

  await page.fill('[data-testid=note-text]', 'Checked the USB copies against the project list.');
  await page.click('[data-testid=note-submit]');
  await notice(page);
  await page.waitForFunction(() => /project list/.test(document.querySelector('[data-testid=notes]')?.textContent || ''));
  await settled(page);

  await page.selectOption('[data-testid=case-status-select]', 'investigating');
  await page.click('[data-testid=case-save]');
  await notice(page);
  // The notice comes before the case is read again: wait for the page to show the change
  // (on a busy machine the old header can still be there when the notice appears).
  await page.waitForFunction(
    (expected) => document.querySelector('.page-header [data-testid=case-status]')?.textContent === expected,
    catalogs.ja['case.status.investigating'],
  );
  await settled(page);

  await page.click('[data-testid=legal-hold-toggle]');
  await notice(page);
  await settled(page);
  await page.waitForSelector('[data-testid=legal-hold-chip]');
});

async function request(kind) {
  const page = sessions.investigator.page;
  await go(page, `#/cases/${state.caseId}`);
  // Too short a justification: the server's refusal is shown.
  const options = await page.$$eval(`[data-testid=${kind}-purpose] option`, (os) => os.map((o) => o.value).filter(Boolean));
  assert.ok(options.length > 0, 'declared purposes are offered');
  await page.selectOption(`[data-testid=${kind}-purpose]`, options[0]);
  await page.fill(`[data-testid=${kind}-justification]`, 'too short');
  await page.click(`[data-testid=${kind}-submit]`);
  await page.waitForSelector(`[data-testid=${kind}-error] .alert-box`);
  await page.fill(`[data-testid=${kind}-justification]`, 'Alerts show 27 files copied to USB the week before the notice period ended.');
  await page.click(`[data-testid=${kind}-submit]`);
  await notice(page);
  await page.waitForSelector(`[data-testid=${kind}-state][data-state=pending]`);
  await settled(page);
}

async function approve(kind) {
  const page = sessions.approver.page;
  await go(page, '#/approvals');
  const item = `[data-testid=approval-item][data-case-id="${state.caseId}"][data-kind="${kind}"]`;
  await page.waitForSelector(item);
  assert.match(await page.textContent(`${item} [data-testid=approval-justification]`), /27 files/);
  await page.click(`${item} [data-testid=approval-grant]`);
  await notice(page);
  await page.waitForSelector(item, { state: 'detached' });
  await settled(page);
}

test('reveal: the investigator asks, the approver grants, the investigator sees the name', server, async () => {
  await request('reveal');
  await approve('reveal');
  const page = sessions.investigator.page;
  await page.reload();
  await settled(page);
  await page.waitForSelector('[data-testid=reveal-banner]');
  const name = await page.textContent('[data-testid=case-facts] [data-testid=person-name]');
  assert.doesNotMatch(name, /^P-/, 'the real person id is shown');
  assert.match(await page.textContent('[data-testid=reveal-banner]'), new RegExp(name));
  // The name HR gives the person, next to the id, in the facts and the banner.
  const hrName = (await page.textContent('[data-testid=case-facts] [data-testid=person-hr-name]')).trim();
  assert.ok(hrName.length > 1 && !hrName.startsWith('P-'), hrName);
  assert.match(await page.textContent('[data-testid=reveal-banner]'), new RegExp(hrName));
  assert.equal(await page.getAttribute('[data-testid=reveal-state]', 'data-state'), 'granted');
});

test('the language switch translates and the choice persists after reload', server, async () => {
  const page = sessions.investigator.page;
  await go(page, `#/cases/${state.caseId}`);
  assert.equal((await page.textContent('[data-testid=nav-cases]')).trim(), catalogs.ja['nav.cases']);
  assert.equal(await page.textContent('[data-testid=card-notes] h2'), catalogs.ja['case.notes']);
  await setLang(page, 'en');
  assert.equal((await page.textContent('[data-testid=nav-cases]')).trim(), catalogs.en['nav.cases']);
  assert.equal(await page.textContent('[data-testid=card-notes] h2'), catalogs.en['case.notes']);
  await page.reload();
  await settled(page);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await page.textContent('[data-testid=card-notes] h2'), catalogs.en['case.notes']);
  const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
  assert.equal(me.lang, 'en');
  // A new sign-in elsewhere (a Japanese browser) gets the saved English too.
  const { context, page: other } = await newPage('ja-JP');
  await other.goto(`${BASE}/console/`);
  await other.waitForSelector('[data-testid=login-form]');
  await other.fill('[data-testid=login-name]', LOGINS.investigator.name);
  await other.fill('[data-testid=login-password]', LOGINS.investigator.password);
  await other.click('[data-testid=login-submit]');
  await other.waitForFunction(() => !location.hash.startsWith('#/login'));
  await settled(other);
  assert.equal(await other.evaluate(() => document.documentElement.lang), 'en');
  await context.close();
  await setLang(page, 'ja');
});

test('export: requested, granted, and the evidence bundle downloads as a ZIP', server, async () => {
  await request('export');
  await approve('export');
  const page = sessions.investigator.page;
  await page.reload();
  await settled(page);
  const link = await page.waitForSelector('[data-testid=bundle-download]');
  assert.match(await link.getAttribute('href'), new RegExp(`/api/v1/cases/${state.caseId}/bundle$`));
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const file = await download.path();
  const bytes = fs.readFileSync(file);
  assert.ok(bytes.length > 100, `bundle of ${bytes.length} bytes`);
  assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK');
});

test('the auditor sees these actions in the access log', server, async () => {
  const page = sessions.auditor.page;
  await go(page, '#/audit?limit=1000');
  const text = await page.textContent('[data-testid=audit-table]');
  for (const action of ['alerts.dismiss', 'cases.open', 'reveals.request', 'reveals.grant', 'exports.request', 'exports.grant', 'cases.export', 'cases.legal_hold']) {
    assert.ok(text.includes(action), `access log shows ${action}`);
  }
  assert.ok(text.includes(`case ${state.caseId}`), 'targets name the case');
});

test('the administrator adds a user and sees the one-time password once', server, async () => {
  const page = sessions.admin.page;
  await go(page, '#/admin');
  await page.waitForSelector('[data-testid=users-table] [data-testid=user-row]');
  const name = `console-${Date.now().toString(36)}`;
  await page.fill('[data-testid=user-name]', name);
  await page.selectOption('[data-testid=user-role-select]', 'analyst');
  await page.click('[data-testid=user-add]');
  const secret = await page.waitForSelector('[data-testid=one-time-value]');
  assert.ok((await secret.textContent()).length >= 12);
  await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid=user-row]')].some((r) => r.textContent.includes(n)), name);
  await page.waitForSelector('[data-testid=retention-table]');
  await shot(page, 'admin-new-user', 'ja');
  // After a reload the password is gone for good.
  await page.reload();
  await settled(page);
  assert.equal(await page.$('[data-testid=one-time-value]'), null);
});

test('rules: back-test before enabling', server, async () => {
  const page = sessions.admin.page;
  await go(page, '#/rules');
  const rows = await page.$$('[data-testid=rule-row]');
  assert.ok(rows.length > 0, 'rules are listed');
  // The rule with the most findings: switch it off, then on again through its back-test.
  const id = await page.$$eval('[data-testid=rule-row]', (trs) => trs
    .map((tr) => ({ id: tr.dataset.rule, findings: Number(tr.querySelector('td:nth-child(4)').textContent.replace(/[^\d]/g, '')) }))
    .sort((a, b) => b.findings - a.findings)[0].id);
  const row = `[data-testid=rule-row][data-rule="${id}"]`;
  await page.click(`${row} [data-testid=rule-enabled]`);
  await notice(page);
  await page.waitForFunction((sel) => document.querySelector(sel)?.checked === false, `${row} [data-testid=rule-enabled]`);
  await settled(page);
  await page.click(`${row} [data-testid=rule-enabled]`);
  await page.waitForSelector('[data-testid=backtest-panel] [data-testid=backtest-hits]');
  assert.ok(Number((await page.textContent('[data-testid=backtest-hits]')).replace(/[^\d]/g, '')) > 0, 'the back-test finds hits');
  assert.equal(await page.isChecked(`${row} [data-testid=rule-enabled]`), false, 'not enabled before the back-test is confirmed');
  await shot(page, 'rules-backtest', 'ja');
  await page.click('[data-testid=backtest-enable]');
  await notice(page);
  await page.waitForFunction((sel) => document.querySelector(sel)?.checked === true, `${row} [data-testid=rule-enabled]`);
  await settled(page);
});

test('screenshots of every page in both languages', server, async () => {
  const pages = [
    ['analyst', 'dashboard', '#/dashboard'],
    ['analyst', 'alerts', '#/alerts'],
    ['analyst', 'person', `#/persons/${state.escalatePerson}`],
    ['analyst', 'person-around', null],
    ['analyst', 'search', '#/search?kind=file.copy&run=1'],
    ['analyst', 'rules', '#/rules'],
    ['investigator', 'cases', '#/cases'],
    ['investigator', 'case', `#/cases/${state.caseId}`],
    ['investigator', 'account', '#/account'],
    ['approver', 'approvals', '#/approvals?status='],
    ['auditor', 'audit', '#/audit'],
    ['admin', 'admin', '#/admin'],
    ['admin', 'rules-admin', '#/rules'],
  ];
  for (const lang of ['ja', 'en']) {
    for (const [role, name, hash] of pages) {
      const { page } = sessions[role];
      if (hash) {
        await go(page, hash);
      } else {
        // The person's activity around their latest alert.
        await go(page, `#/persons/${state.escalatePerson}`);
        await page.waitForSelector('[data-testid=person-alert-around]');
        await page.click('[data-testid=person-alert-around]');
        await page.waitForSelector('[data-testid=around-banner]');
      }
      await setLang(page, lang);
      if (name === 'person' || name === 'person-around') await page.waitForSelector('[data-testid=chart-risk]');
      await shot(page, name, lang);
    }
  }
  assert.ok(fs.readdirSync(SHOTS).length >= 26);
});

test('signing out ends the session', server, async () => {
  const page = sessions.analyst.page;
  await go(page, '#/dashboard');
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login-form]');
  await page.goto(`${BASE}/console/#/alerts`);
  await page.waitForSelector('[data-testid=login-form]');
  const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
  assert.equal(me, 401);
});

test('no Content-Security-Policy violations or script errors on any page', server, () => {
  assert.deepEqual(violations, []);
  assert.deepEqual(failures, []);
});
