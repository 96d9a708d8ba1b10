import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import type { ErrorBody } from './support/api.ts';
import { person, startStack, type Stack } from './support/stack.ts';
import { ROOT, runCli } from './support/cli.ts';
import { freePort } from './support/net.ts';
import { capturedFor, DEV_ENV, inbox } from './support/dev-inbox.ts';
import type { InboxRow } from '../src/dev-inbox/routes.ts';
import { launchChromium, skipWithoutChromium } from './support/chromium.ts';

/** A Content-Security-Policy header as its directives, each with its sources. */
function policy(header: string | null): Map<string, string[]> {
  const directives = (header ?? '').split(';').map((d) => d.trim().split(/\s+/));
  return new Map(directives.filter(([name]) => name).map(([name, ...sources]) => [name, sources]));
}

/**
 * What the browser refuses under a page's CSP, as it tells it: the `securitypolicyviolation` event
 * of the page, and the "Refused to …" line on the console (of the page and its frames).
 */
async function watchCsp(page: Page): Promise<string[]> {
  const refused: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) refused.push(msg.text());
  });
  await page.exposeFunction('reportCspViolation', (v: string) => refused.push(v));
  // A string, not a function: tsx's helpers do not exist inside the page.
  await page.addInitScript({
    content:
      "document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(e.violatedDirective + ' refused ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));",
  });
  return refused;
}

/** The page's styles and script by the name they are served under, with the file each is read from. */
const SOURCES = {
  'base.css': 'src/shared-page/base.css',
  'inbox.css': 'src/dev-inbox/page/inbox.css',
  'inbox.js': 'src/dev-inbox/page/inbox.js',
};

/**
 * The page's own stylesheet and the shared one apply: main's width and body's margin (a CSP that
 * blocked them would leave the browser's defaults).
 */
const styled = (page: Page) =>
  page.evaluate(() => [
    getComputedStyle(document.querySelector('main')!).maxWidth,
    getComputedStyle(document.body).margin,
  ]);

describe('dev inbox JSON (APP_ENV=development)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: DEV_ENV });
  });
  after(() => stack.close());

  it("lists a registered user's captured code, newest first, and filters by recipient in any case", async () => {
    const a = person('inbox-a');
    const b = person('inbox-b');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', a)).status, 201);
    const msgA = await capturedFor(stack, a.email, 'email_verification');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', b)).status, 201);
    const msgB = await capturedFor(stack, b.email, 'email_verification');

    assert.match(msgA.otp ?? '', /^\d{6}$/);
    assert.equal(msgA.channel, 'email');
    assert.equal(msgA.recipient, a.email);
    assert.ok(msgA.body_text.includes(msgA.otp!), 'development keeps the body with its code');
    assert.ok(msgA.last_error, 'a captured message says why it was not sent');
    assert.ok(!Number.isNaN(Date.parse(msgA.created_at)));

    const all = await inbox(stack);
    const ids = all.map((m) => m.id);
    assert.ok(ids.indexOf(msgB.id) < ids.indexOf(msgA.id), 'newest first');

    const upper = await inbox(stack, a.email.toUpperCase());
    assert.deepEqual(
      upper.map((m) => m.id),
      [msgA.id],
      'the filter ignores case and keeps only that recipient',
    );
    assert.deepEqual(await inbox(stack, 'nobody@example.test'), []);

    const verified = await stack.api('POST', '/api/v1/auth/verify-account', { email: a.email, otp: msgA.otp ?? '' });
    assert.equal(verified.status, 200, verified.text);
  });

  it('finds SMS codes by the phone number written locally', async () => {
    const p = person('inbox-sms');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const mail = await capturedFor(stack, p.email, 'email_verification');
    assert.equal(
      (await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: mail.otp ?? '' })).status,
      200,
    );
    const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
    assert.equal(login.status, 200, login.text);
    assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, login.body.access_token)).status, 200);

    const local = `0${p.phone.slice(3)}`; // +2782… → 082…
    const sms = await capturedFor(stack, local, 'phone_verification');
    assert.equal(sms.channel, 'sms');
    assert.equal(sms.recipient, p.phone);
    const ok = await stack.api('POST', '/api/v1/users/verify-otp', { otp: sms.otp ?? '' }, login.body.access_token);
    assert.equal(ok.status, 200, ok.text);
  });

  it('serves the page, its style and its script from this origin under a CSP with nothing inline, and keeps the routes out of the OpenAPI document', async () => {
    const page = await fetch(`${stack.baseUrl}/dev/inbox`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const csp = policy(page.headers.get('content-security-policy'));
    assert.deepEqual(csp.get('default-src'), ["'none'"]);
    assert.deepEqual(csp.get('script-src'), ["'self'"], 'no inline script, no eval');
    assert.deepEqual(csp.get('style-src'), ["'self'"], 'no inline style');
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
    assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /unsafe-inline|unsafe-eval/);

    const html = await page.text();
    assert.match(html, /Dev inbox/);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handler, which the CSP would block');
    for (const [element] of html.matchAll(/<script\b[^>]*>/gi)) {
      assert.match(
        element,
        /\ssrc="|type="application\/json"/,
        `${element}: a script is a file or data, never inline code`,
      );
    }
    const linked = [...html.matchAll(/<(?:script|link|img)[^>]+(?:src|href)="([^"]*)"/gi)].map((m) => m[1]);
    assert.deepEqual(
      linked,
      ['/dev/inbox/base.css', '/dev/inbox/inbox.css', '/dev/inbox/inbox.js'],
      'nothing is loaded from elsewhere',
    );
    const assets = {
      '/dev/inbox/base.css': /^text\/css/,
      '/dev/inbox/inbox.css': /^text\/css/,
      '/dev/inbox/inbox.js': /^text\/javascript/,
    };
    for (const [path, type] of Object.entries(assets)) {
      const res = await fetch(`${stack.baseUrl}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      const text = await res.text();
      const name = path.split('/').pop() as keyof typeof SOURCES;
      assert.equal(text, readFileSync(join(ROOT, SOURCES[name]), 'utf8'));
      assert.doesNotMatch(text, /innerHTML/, 'values go into the DOM as text only');
    }

    // The values the script shows beside the server's keys come as data, filled in when served.
    const data = html.match(/<script type="application\/json" id="vocabulary">([^<]*)<\/script>/);
    assert.ok(data, 'the vocabulary block');
    const vocabulary = JSON.parse(data[1]);
    assert.equal(vocabulary.purposes.email_verification, 'Email verification');
    assert.equal(vocabulary.locales.zu, 'isiZulu');
    assert.equal(typeof vocabulary.statuses.captured, 'string');

    const doc = await stack.request<{ paths: Record<string, unknown> }>('GET', '/openapi.json');
    assert.ok(!Object.keys(doc.body.paths).some((p) => p.startsWith('/dev')), 'dev routes are not documented');
  });
});

describe('dev inbox outside development (APP_ENV=test)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  it('answers 404 with the error body on every path', async () => {
    for (const path of [
      '/dev/inbox',
      '/dev/inbox/messages',
      '/dev/inbox/messages?to=a@b.co',
      '/dev/inbox/base.css',
      '/dev/inbox/inbox.css',
      '/dev/inbox/inbox.js',
    ]) {
      const res = await stack.request<ErrorBody>('GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'not_found', path);
      assert.equal(typeof res.body.error.message, 'string');
    }
  });

  it('`panic-api inbox` says the inbox exists only in development', async () => {
    const run = await runCli(['inbox'], { API_BASE_URL: stack.baseUrl });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /exists only with APP_ENV=development/);
    assert.match(run.stderr, /panic-api messages --to X/);
  });
});

// ---------------------------------------------------------------------------------------------
// The page in a real browser.

describe('dev inbox page in headless Chromium', { skip: skipWithoutChromium }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: DEV_ENV });
  });
  after(() => stack.close());

  it('shows a new code without reloading, copies it, and the copied code verifies the account', {
    timeout: 90_000,
  }, async (t) => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.baseUrl });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      const refused = await watchCsp(page);

      await page.goto(`${stack.baseUrl}/dev/inbox`);
      await page.getByText('No messages yet').waitFor({ timeout: 10_000 });
      assert.deepEqual(await styled(page), ['780px', '0px']);
      assert.ok(await page.getByText('/api/v1/auth/register').isVisible(), 'the empty state says how to get a code');
      await page.screenshot({ path: join(tmpdir(), 'panic-dev-inbox-empty.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(tmpdir(), 'panic-dev-inbox-empty-phone.png'), fullPage: true });
      await page.setViewportSize({ width: 900, height: 900 });
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

      const p = person('browser');
      const reg = await stack.api('POST', '/api/v1/auth/register', p);
      assert.equal(reg.status, 201, reg.text);

      const card = page.locator('li.msg', { hasText: p.email });
      const code = card.locator('.code');
      await code.filter({ hasText: /^\d{6}$/ }).waitFor({ timeout: 10_000 });
      const shown = (await code.textContent())!.trim();
      assert.equal(
        await page.evaluate(() => (window as unknown as { marker?: number }).marker),
        42,
        'the code appeared without a reload',
      );
      await card.locator('.badge', { hasText: 'captured' }).waitFor({ timeout: 10_000 });
      assert.match((await card.textContent()) ?? '', /Email verification/);

      await card.getByRole('button', { name: /copy/i }).click();
      await card.getByRole('button', { name: /copied/i }).waitFor({ timeout: 5000 });
      let copied: string | null;
      try {
        copied = await page.evaluate(() => navigator.clipboard.readText());
      } catch (err) {
        t.diagnostic(`clipboard not readable here (${(err as Error).message}); using the value the page exposes`);
        copied = await page.evaluate(() => document.documentElement.getAttribute('data-last-copied'));
      }
      assert.equal(copied, shown);
      t.diagnostic(
        `copied with ${await page.evaluate(() => document.documentElement.getAttribute('data-copy-method'))}`,
      );

      const ver = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: copied });
      assert.equal(ver.status, 200, ver.text);

      // A second recipient, then the filter: kept in the URL, and values are rendered as text only.
      const q = person('browser-other');
      assert.equal((await stack.api('POST', '/api/v1/auth/register', q)).status, 201);
      await page.locator('li.msg', { hasText: q.email }).waitFor({ timeout: 10_000 });
      await page.fill('#to', p.email.toUpperCase());
      await page.waitForFunction((email) => {
        const rows = document.querySelectorAll('li.msg');
        return rows.length === 1 && rows[0].textContent!.includes(email);
      }, p.email);
      assert.equal(new URL(page.url()).searchParams.get('to'), p.email.toUpperCase());
      await page.screenshot({ path: join(tmpdir(), 'panic-dev-inbox-filtered.png'), fullPage: true });

      const hostile = '<img src=x onerror="window.pwned=1">';
      await page.fill('#to', hostile);
      await page.getByText(`No messages to ${hostile}`).waitFor({ timeout: 5000 });
      await page.screenshot({ path: join(tmpdir(), 'panic-dev-inbox-no-match.png'), fullPage: true });
      assert.equal(await page.locator('main img').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);

      await page.click('#clear');
      await page.waitForFunction(() => document.querySelectorAll('li.msg').length === 2);
      assert.equal(new URL(page.url()).search, '');
      // Reopening with ?to= applies the filter at once.
      await page.goto(`${stack.baseUrl}/dev/inbox?to=${encodeURIComponent(q.email)}`);
      await page.waitForFunction((email) => {
        const rows = document.querySelectorAll('li.msg');
        return rows.length === 1 && rows[0].textContent!.includes(email);
      }, q.email);
      assert.equal(await page.inputValue('#to'), q.email);

      await page.goto(`${stack.baseUrl}/dev/inbox`);
      await page.waitForFunction(() => document.querySelectorAll('li.msg').length === 2);
      await card.getByRole('button', { name: /copy/i }).click();
      await card.getByRole('button', { name: /copied/i }).waitFor({ timeout: 5000 });
      const shot = join(tmpdir(), 'panic-dev-inbox.png');
      await page.screenshot({ path: shot, fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      const phoneShot = join(tmpdir(), 'panic-dev-inbox-phone.png');
      await page.screenshot({ path: phoneShot, fullPage: true });
      t.diagnostic(`screenshots: ${shot}, ${phoneShot}`);
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(refused, [], 'the page works under its CSP: the browser refused nothing');
      await context.close();
    } finally {
      await browser.close();
    }
  });

  it("shows the locale, and previews an email as a mail client shows it, at a phone's width and a desktop's", {
    timeout: 90_000,
  }, async (t) => {
    const p = person('preview');
    const reg = await stack.api('POST', '/api/v1/auth/register', { ...p, first_name: 'Nomsa', locale: 'zu' });
    assert.equal(reg.status, 201, reg.text);
    const msg = await capturedFor(stack, p.email, 'email_verification');
    const raw = await stack.request('GET', `/dev/inbox/messages/${msg.id}/html`);
    assert.equal(raw.status, 200);
    assert.match(
      raw.headers.get('content-security-policy') ?? '',
      /(^|; )sandbox(;|$)/,
      'no script runs in the preview, even opened on its own',
    );
    assert.match(raw.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'/);
    assert.equal(
      (await stack.request('GET', '/dev/inbox/messages/00000000-0000-4000-8000-000000000000/html')).status,
      404,
    );

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      const refused = await watchCsp(page);
      await page.goto(`${stack.baseUrl}/dev/inbox?to=${encodeURIComponent(p.email)}`);
      const card = page.locator('li.msg', { hasText: p.email });
      const badge = card.locator('.badge.locale');
      await badge.filter({ hasText: 'zu' }).waitFor({ timeout: 10_000 });
      assert.equal(await badge.getAttribute('title'), 'Written in isiZulu');

      const preview = card.locator('details.preview');
      assert.equal(await preview.locator('iframe').getAttribute('src'), null, 'loaded only when opened');
      await preview.locator('summary').click();
      const frame = card.frameLocator('iframe');
      await frame.getByText(msg.otp!, { exact: true }).waitFor({ timeout: 10_000 });
      assert.match((await frame.locator('body').textContent()) ?? '', /Sawubona Nomsa,/);
      assert.equal(await preview.locator('iframe').getAttribute('sandbox'), '');
      const phoneWidth = (await preview.locator('iframe').boundingBox())!.width;
      assert.ok(Math.abs(phoneWidth - 375) <= 1, `phone width ${phoneWidth}`);
      const phoneShot = join(tmpdir(), 'panic-dev-inbox-preview-phone.png');
      await card.screenshot({ path: phoneShot });

      await preview.getByRole('button', { name: 'Desktop' }).click();
      const desktopWidth = (await preview.locator('iframe').boundingBox())!.width;
      assert.ok(desktopWidth > 600, `desktop width ${desktopWidth}`);
      const desktopShot = join(tmpdir(), 'panic-dev-inbox-preview-desktop.png');
      await card.screenshot({ path: desktopShot });
      t.diagnostic(`screenshots: ${phoneShot}, ${desktopShot}`);
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(refused, [], 'the page and its preview frame: the browser refused nothing');
    } finally {
      await browser.close();
    }
  });

  it('the copy fallback works where the clipboard API is missing', { timeout: 60_000 }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const refused = await watchCsp(page);
      // As on a plain-http LAN address: no navigator.clipboard at all.
      // (A string, not a function: tsx's helpers do not exist inside the page.)
      await page.addInitScript({
        content:
          "Object.defineProperty(Navigator.prototype, 'clipboard', { get: function () { return undefined; }, configurable: true });",
      });
      const p = person('fallback');
      assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
      await page.goto(`${stack.baseUrl}/dev/inbox`);
      const card = page.locator('li.msg', { hasText: p.email });
      await card
        .locator('.code')
        .filter({ hasText: /^\d{6}$/ })
        .waitFor({ timeout: 10_000 });
      const shown = (await card.locator('.code').textContent())!.trim();
      await card.getByRole('button', { name: /copy/i }).click();
      await card.getByRole('button', { name: /copied/i }).waitFor({ timeout: 5000 });
      assert.equal(await page.evaluate(() => typeof navigator.clipboard), 'undefined');
      assert.equal(await page.evaluate(() => document.documentElement.getAttribute('data-copy-method')), 'execCommand');
      assert.equal(await page.evaluate(() => document.documentElement.getAttribute('data-last-copied')), shown);
      assert.deepEqual(refused, [], 'the copy fallback: the browser refused nothing');
    } finally {
      await browser.close();
    }
  });
});

describe('dev inbox page with DEV_INBOX_TOKEN, in headless Chromium', { skip: skipWithoutChromium }, () => {
  const TOKEN = 'dev-inbox-token-for-the-page-0123456789';
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { ...DEV_ENV, DEV_INBOX_TOKEN: TOKEN } });
  });
  after(() => stack.close());

  it('opened as /dev/inbox?token=…, its style and script come with the token, and without it are refused', {
    timeout: 60_000,
  }, async () => {
    for (const file of Object.keys(SOURCES)) {
      assert.equal((await fetch(`${stack.baseUrl}/dev/inbox/${file}`)).status, 403, file);
      assert.equal((await fetch(`${stack.baseUrl}/dev/inbox/${file}?token=${TOKEN}`)).status, 200, file);
    }
    const p = person('token-page');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      const refused = await watchCsp(page);
      await page.goto(`${stack.baseUrl}/dev/inbox?token=${TOKEN}`);
      await page
        .locator('li.msg', { hasText: p.email })
        .locator('.code')
        .filter({ hasText: /^\d{6}$/ })
        .waitFor({ timeout: 10_000 });
      assert.deepEqual(await styled(page), ['780px', '0px']);
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(refused, []);
    } finally {
      await browser.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The page from the compiled dist/, as the build leaves it (test/support/cli.ts has just run it) and
// the image ships it.

describe('dev inbox page of the compiled dist/', () => {
  it('is found beside the compiled module: the build copies page/ and shared-page/ to dist/', async () => {
    const compiled = pathToFileURL(join(ROOT, 'dist/dev-inbox/page.js')).href;
    const { loadInboxPage } = (await import(compiled)) as typeof import('../src/dev-inbox/page.ts');
    const page = loadInboxPage(undefined);
    assert.match(page.html, /<script type="module" src="\/dev\/inbox\/inbox\.js"><\/script>/);
    assert.deepEqual(
      page.assets.map((a) => a.name),
      Object.keys(SOURCES),
    );
    for (const asset of page.assets) {
      assert.equal(asset.body, readFileSync(join(ROOT, SOURCES[asset.name]), 'utf8'), asset.name);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// `panic-api inbox` as a child process.

describe('`panic-api inbox`', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: DEV_ENV });
  });
  after(() => stack.close());

  it('--json --to prints the code of a running development server', { timeout: 60_000 }, async () => {
    const p = person('cli');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const msg = await capturedFor(stack, p.email, 'email_verification');

    const json = await runCli(['inbox', '--json', '--to', p.email.toUpperCase()], { API_BASE_URL: stack.baseUrl });
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as InboxRow[];
    assert.equal(rows.length, 1);
    assert.equal(rows[0].recipient, p.email);
    assert.equal(rows[0].otp, msg.otp);

    const table = await runCli(['inbox', '--to', p.email], { API_BASE_URL: stack.baseUrl });
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.trimEnd().split('\n');
    assert.match(header, /^TIME\s+RECIPIENT\s+CHANNEL\s+PURPOSE\s+CODE\s+STATUS$/);
    assert.ok(
      row.includes(p.email) && row.includes(msg.otp!) && row.includes('email verification') && row.endsWith('captured'),
      row,
    );
  });

  it('against a closed port exits 1 saying the server is not running', { timeout: 60_000 }, async () => {
    const run = await runCli(['inbox', '--json', '--to', 'a@b.co'], {
      API_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is not running/);
    assert.equal(run.stdout, '');
  });
});
