// The audit web UI in a real browser: Debian's headless Chromium driven by playwright-core.
// Started by tests/audit_ui.rs against a running gateway (real TLS) with seeded disclosures;
// exits non-zero on any failed expectation, page error, console error, failed request, HTTP
// error, or a token or BSN in a URL.
//
// Environment (all required):
//   AUDIT_URL      https://localhost:PORT (the audit listener)
//   SERVER_CERT    the gateway's server certificate (PEM): the browser trusts exactly its key
//   TOKEN          a privacy officer's token (pasted in the sign-in form)
//   ORG_NAME       that officer's organisation's name
//   BSN            a person the organisation received data about
//   OTHER_BSN      a person only another organisation received data about
//   ACTIVITY       the activity of those disclosures
//   PERSONS        how many person records the organisation's disclosures have (at least)
//   SUPERVISOR     the alias of the supervisor organisation (for the dev login)
//   SCREENSHOTS    where screenshots (and the printed report, PDF) go

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
};
const URL = env('AUDIT_URL');
const TOKEN = env('TOKEN');
const ORG_NAME = env('ORG_NAME');
const BSN = env('BSN');
const OTHER_BSN = env('OTHER_BSN');
const ACTIVITY = env('ACTIVITY');
const PERSONS = Number(env('PERSONS'));
const SUPERVISOR = env('SUPERVISOR');
const SHOTS = env('SCREENSHOTS');
fs.mkdirSync(SHOTS, { recursive: true });

const CHROMIUM = '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/ci/ui-deps.sh)`);
}

// Trust the gateway's own key, nothing else (no blanket ignoreHTTPSErrors): Chromium takes
// the SHA-256 of the certificate's SubjectPublicKeyInfo (it needs --user-data-dir for that).
const cert = new X509Certificate(fs.readFileSync(env('SERVER_CERT')));
const spki = createHash('sha256')
  .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
  .digest('base64');

const failures = [];
const fail = (what) => failures.push(what);
const expect = (ok, what) => {
  if (!ok) fail(what);
  return ok;
};
const shots = [];
let shotNo = 0;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'doelpoort-ui-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--ignore-certificate-errors-spki-list=${spki}`,
  ],
  viewport: { width: 1280, height: 900 },
  locale: 'nl-NL',
  timezoneId: 'Europe/Amsterdam',
  acceptDownloads: true,
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') fail(`console error: ${m.text()}`);
  });
  // A download ends its navigation as "aborted": that one is expected.
  let downloading = false;
  page.on('requestfailed', (r) => {
    if (downloading && r.failure()?.errorText === 'net::ERR_ABORTED') return;
    fail(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (u.includes(TOKEN) || u.includes(BSN) || u.includes(OTHER_BSN)) fail(`a token or BSN in a URL: ${u}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) fail(`HTTP ${r.status()} for ${r.url()}`);
  });

  const shot = async (name, options = {}) => {
    const file = path.join(SHOTS, `${String(++shotNo).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true, ...options });
    shots.push(file);
  };
  const h1 = async () => (await page.locator('h1').first().innerText()).trim();
  // Every visible form control has a label; the page is Dutch.
  const accessible = async (where) => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter((e) => e.labels.length === 0 && !e.getAttribute('aria-label'))
        .map((e) => e.name || e.id));
    expect(unlabelled.length === 0, `${where}: controls without a label: ${unlabelled}`);
    expect((await page.getAttribute('html', 'lang')) === 'nl', `${where}: html lang is not nl`);
    expect((await page.locator('h1').count()) === 1, `${where}: not exactly one h1`);
  };

  // 1. Sign in with a pasted token.
  await page.goto(`${URL}/audit/ui/`);
  expect((await h1()) === 'Aanmelden', `the start page asks to sign in (h1: ${await h1()})`);
  await accessible('sign-in');
  await page.keyboard.press('Tab');
  expect(
    (await page.evaluate(() => document.activeElement?.textContent?.trim())) === 'Direct naar de inhoud',
    'the first Tab stop is the skip link',
  );
  await shot('aanmelden');
  await page.getByLabel('Token (JWT)').fill(TOKEN);
  await page.getByRole('button', { name: 'Aanmelden', exact: true }).click();
  await page.waitForURL(`${URL}/audit/ui/`);
  expect((await h1()) === 'Overzicht', `signed in: the overview (h1: ${await h1()})`);
  const cookies = await context.cookies(`${URL}/audit/ui/`);
  const session = cookies.find((c) => c.value === TOKEN);
  expect(session && session.httpOnly && session.secure && session.sameSite === 'Strict',
    `the session cookie is HttpOnly, Secure, SameSite=Strict: ${JSON.stringify(cookies.map((c) => ({ ...c, value: '…' })))}`);
  expect(!(await page.evaluate(() => document.cookie)).includes(TOKEN), 'scripts cannot read the token');
  expect((await page.locator('.sessie').innerText()).includes(ORG_NAME), 'the header names the organisation');

  // 2. The timeline and totals.
  await accessible('overview');
  const chart = page.locator('svg#tijdlijn');
  expect(await chart.isVisible(), 'the timeline chart is shown');
  expect((await chart.locator('rect.balk').count()) >= 1, 'the chart has bars');
  expect((await page.locator('.legenda').innerText()).includes(ACTIVITY), `the legend names ${ACTIVITY}`);
  const total = Number((await page.locator('#totaal-verstrekkingen').innerText()).trim());
  expect(total >= 2, `at least 2 disclosures counted (got ${total})`);
  const refusedTotal = Number((await page.locator('#totaal-weigeringen').innerText()).trim());
  expect(refusedTotal >= 2, `at least 2 refusals counted (got ${refusedTotal})`);
  await shot('overzicht');

  // 3. Search with filters, by keyboard.
  await page.getByRole('link', { name: 'Zoeken', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/audit\/ui\/zoeken$/);
  await accessible('search');
  await page.getByLabel('Verwerkingsactiviteit').fill(ACTIVITY);
  await page.getByLabel('Soort record').selectOption('persoon');
  await page.getByLabel('Verwerkingsactiviteit').press('Enter');
  await page.waitForURL(/kind=persoon/);
  const rows = page.locator('table#resultaten tbody tr');
  const n = await rows.count();
  expect(n >= PERSONS, `the search finds the ${PERSONS} person records (got ${n})`);
  for (const row of await rows.all()) {
    const cells = await row.locator('td').allInnerTexts();
    expect(cells[1] === 'Persoon' && cells[4] === ACTIVITY && cells[2] === ORG_NAME,
      `every row is a person record under ${ACTIVITY} requested by ${ORG_NAME}: ${cells}`);
  }
  expect(await page.getByLabel('Verwerkingsactiviteit').inputValue() === ACTIVITY, 'the filter stays filled in');
  await shot('zoeken');

  // Cursor paging: pages of 2 that do not overlap.
  await page.goto(`${URL}/audit/ui/zoeken?kind=persoon&limit=2`);
  const first = await page.locator('table#resultaten tbody tr').allInnerTexts();
  await page.getByRole('link', { name: 'Volgende pagina' }).click();
  await page.waitForURL(/cursor=/);
  const second = await page.locator('table#resultaten tbody tr').allInnerTexts();
  expect(first.length === 2 && second.length >= 1, `two pages (${first.length}, ${second.length})`);
  expect(second.every((r) => !first.includes(r)), 'the second page repeats nothing of the first');

  // 4. The refusals.
  await page.getByRole('link', { name: 'Weigeringen' }).click();
  await page.waitForURL(/kind=weigering/);
  expect((await h1()) === 'Weigeringen', 'the refusals page');
  const refusals = await page.locator('table#resultaten tbody tr').allInnerTexts();
  expect(refusals.length >= 2 && refusals.every((r) => r.includes('outOfScope')),
    `the refused requests are listed with their code (${refusals.length})`);

  // 5. The anomaly signals.
  await page.getByRole('link', { name: 'Signalen' }).click();
  await page.waitForURL(/\/signalen$/);
  await accessible('signals');
  const signals = await page.locator('table#signalen tbody').innerText();
  expect(signals.includes('Veel weigeringen') && signals.includes(ORG_NAME), `a refusals signal for ${ORG_NAME}`);
  await shot('signalen');

  // 6. The inzage report for a BSN (posted), printable.
  await page.getByRole('link', { name: 'Inzage' }).click();
  await accessible('inzage form');
  await page.getByLabel('Burgerservicenummer').fill(BSN);
  await page.getByRole('button', { name: 'Toon het overzicht' }).click();
  await page.waitForURL(/\/inzage$/);
  expect((await h1()) === 'Overzicht van verstrekkingen van uw persoonsgegevens', `the report (h1: ${await h1()})`);
  const report = await page.locator('.inzage').innerText();
  expect(report.includes(`******${BSN.slice(6)}`), 'the BSN is masked but for its last three digits');
  expect(!(await page.content()).includes(BSN), 'the whole BSN is nowhere in the page');
  expect(/Verstrekkingen \(\d+\)/.test(report), 'the report lists disclosures');
  expect(report.includes(ORG_NAME), `the report names ${ORG_NAME} as recipient`);
  expect(report.includes('Wettelijke grondslag') && !report.includes('niet bewaard bij deze registerversie'),
    'the legal basis of the register version is given');
  expect(report.includes('Autoriteit Persoonsgegevens'), 'the report says where to complain');
  await shot('inzage');
  await page.emulateMedia({ media: 'print' });
  expect(!(await page.locator('header.kop').isVisible()), 'printing shows the report only');
  await shot('inzage-afdruk');
  const pdf = path.join(SHOTS, 'inzage.pdf');
  await page.pdf({ path: pdf, format: 'A4' });
  expect(fs.statSync(pdf).size > 1000, 'the report prints to PDF');
  shots.push(pdf);
  await page.emulateMedia({ media: 'screen' });

  // Tenant isolation: a person only another organisation received data about.
  await page.goto(`${URL}/audit/ui/inzage`);
  await page.getByLabel('Burgerservicenummer').fill(OTHER_BSN);
  await page.getByRole('button', { name: 'Toon het overzicht' }).click();
  await page.waitForURL(/\/inzage$/);
  expect((await page.locator('.inzage').innerText()).includes('In het logboek staan geen verstrekkingen'),
    "another organisation's disclosures are not in this organisation's report");

  // The same report as CSV.
  await page.goto(`${URL}/audit/ui/inzage`);
  await page.getByLabel('Burgerservicenummer').fill(BSN);
  downloading = true;
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download als CSV' }).click(),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  downloading = false;
  expect(csv.startsWith('tijdstip,ontvanger,') && csv.includes(ACTIVITY), 'the CSV has the disclosures');

  // 7. Integrity: for the supervisor; sign out, and in by the dev login as the supervisor.
  await page.getByRole('link', { name: 'Integriteit' }).click();
  expect((await page.locator('main').innerText()).includes('controleert de toezichthouder'),
    'a privacy officer is told who verifies the whole log');
  await page.getByRole('button', { name: 'Afmelden' }).click();
  await page.waitForURL(/aanmelding=afgemeld/);
  expect((await page.locator('main').innerText()).includes('U bent afgemeld.'), 'signed out');
  expect(!(await context.cookies(`${URL}/audit/ui/`)).some((c) => c.value === TOKEN), 'the cookie is gone');
  await page.getByLabel('Organisatie').selectOption(SUPERVISOR);
  await page.getByLabel('Rol').selectOption('supervisor');
  await page.getByRole('button', { name: 'Aanmelden als ontwikkelaar' }).click();
  await page.waitForURL(`${URL}/audit/ui/`);
  expect((await page.locator('.sessie').innerText()).includes('toezichthouder'), 'signed in as the supervisor');
  await page.getByRole('link', { name: 'Integriteit' }).click();
  await accessible('integrity');
  await page.getByRole('button', { name: 'Controleer het logboek nu' }).click();
  await page.locator('#uitkomst').waitFor();
  expect((await page.locator('#uitkomst').innerText()).includes('Het logboek is intact.'), 'the log is intact');
  const checked = Number(await page.locator('#gecontroleerd').innerText());
  expect(checked > PERSONS, `records verified: ${checked}`);
  await shot('integriteit');
} catch (e) {
  fail(`the script stopped: ${e.stack ?? e}`);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

for (const s of shots) console.log(`screenshot: ${s}`);
if (failures.length > 0) {
  console.error(`audit UI: ${failures.length} failure(s):\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('audit UI: every check passed');
