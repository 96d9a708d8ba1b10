/**
 * Issue 23, the support console: driven in Debian's chromium (playwright-core) against the whole
 * service with its real SMTP server and a Twilio-speaking fixture for SMS and WhatsApp. A support agent
 * signs in, finds a person by another spelling of their phone, reads the road of an SMS that was
 * undelivered and moved to WhatsApp, lifts a suppression and sees the next code arrive, ends sessions,
 * and reads the delivery health drawn from known data; each page passes axe-core with no serious
 * violation, by keyboard and at 200 % zoom. Then the attacks: no token, a wrong one, a forged cookie, a
 * change without the CSRF token, the page framed by another origin, and markup in a person's name.
 *
 * `CONSOLE_SCREENSHOTS=1` also writes the README's screenshots (docs/console-*.png).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { randomUUID } from 'node:crypto';
import { startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { startTwilioWhatsAppServer, twilioWhatsAppEnv, type TwilioWhatsAppFixture } from './support/whatsapp.ts';
import { postTwilioStatus } from './support/twilio-status.ts';
import { signBody } from './support/receipts.ts';
import { waitUntil } from './support/wait.ts';
import { launchChromium, skipWithoutChromium } from './support/chromium.ts';
import { ROOT } from './support/cli.ts';
import { TWILIO_STATUS_PATH } from '../src/delivery/channels/twilio.ts';
import { consoleKeys, issueSession, SESSION_COOKIE } from '../src/console/session.ts';
import { SIGN_IN_FAILURES } from '../src/console/routes.ts';
import type { HealthStats } from '../src/contract/health-stats.ts';
import type { WhyReport } from '../src/contract/why-report.ts';

const ADMIN_TOKEN = 'console-test-admin-token-0123456789abcdef';
const EMAIL_SECRET = 'console-test-email-webhook-secret-0123456789';
const PUBLIC_URL = 'https://panic.example';
const WHATSAPP_FROM = '+14155238886';
/** Seconds the stack's clock is moved on for the health numbers: past every message the other tests make. */
const HEALTH_DAYS_AHEAD = 10;
const screenshots = process.env.CONSOLE_SCREENSHOTS === '1';
const screenshotDir = process.env.CONSOLE_SCREENSHOT_DIR ?? join(ROOT, 'docs');

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown; failureSummary?: string }>;
}

/** axe-core's serious and critical violations of the page as it is now (WCAG 2.1 A and AA, and best practices). */
async function seriousViolations(page: Page): Promise<string[]> {
  // evaluate, not a <script>: the page's CSP rightly refuses inline script
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (...a: unknown[]) => Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/** Whether the page scrolls sideways: at 200 % zoom (half the CSS width) nothing should. */
const scrollsSideways = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);

describe('support console', { skip: skipWithoutChromium }, () => {
  let stack: Stack;
  let twilio: TwilioWhatsAppFixture;
  let browser: Browser;
  let offset = 0;
  /** Another origin, whose page frames the console. */
  let framer: Server;
  let framerUrl: string;

  before(async () => {
    twilio = await startTwilioWhatsAppServer({ senders: [`whatsapp:${WHATSAPP_FROM}`] });
    stack = await startStack({
      clock: () => new Date(Date.now() + offset),
      env: {
        ADMIN_TOKEN,
        PUBLIC_URL,
        EMAIL_WEBHOOK_SECRET: EMAIL_SECRET,
        // the attacks below come "from" other addresses through this proxy, so the browser's own stays unspent
        TRUST_PROXY: '127.0.0.1',
        SMS_PROVIDER: 'twilio',
        SMS_API_URL: twilio.messagesUrl,
        SMS_ACCOUNT_SID: twilio.accountSid,
        SMS_API_KEY: twilio.authToken,
        SMS_FROM: '+27100000000',
        ...twilioWhatsAppEnv(twilio, WHATSAPP_FROM),
        PHONE_CHANNELS: 'sms,whatsapp',
        PHONE_FALLBACK_AFTER_SECONDS: '60',
      },
    });
    browser = await launchChromium();
    framer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(
        `<!doctype html><title>Another site</title><iframe id="victim" src="${stack.baseUrl}/console/sign-in"></iframe>`,
      );
    });
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    // another origin: localhost is not 127.0.0.1 to the browser
    framerUrl = `http://localhost:${(framer.address() as { port: number }).port}/`;
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => framer?.close(resolve));
    await stack?.close();
    await twilio?.close();
  });

  /** A browser of its own (cookies apart), signed in through the sign-in page with the keyboard. */
  async function signedIn(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/console`);
    assert.match(page.url(), /\/console\/sign-in$/, 'no session: the sign-in page');
    // keyboard only: the skip link, then the token, then Enter
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the sign-in');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
    await page.keyboard.type(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${stack.baseUrl}/console`);
    return { context, page };
  }

  /** Finds a person by what is typed, and waits for their page. */
  async function find(page: Page, who: string, expect: string | RegExp) {
    await page.getByLabel('Email or phone number').fill(who);
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await page.getByRole('status').filter({ hasText: expect }).waitFor();
  }

  /** Confirms the dialog an action opens, by keyboard. */
  async function confirm(page: Page, yes: string) {
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent),
      'Cancel',
      'the focus starts on Cancel',
    );
    await dialog.getByRole('button', { name: yes }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
  }

  const shot = async (page: Page, name: string) => {
    if (screenshots) await page.screenshot({ path: join(screenshotDir, `console-${name}.png`), fullPage: true });
  };

  it('signs in with the token, finds a person by another spelling of their phone, and reads the road of an SMS undelivered and moved to WhatsApp', async () => {
    const { person: p, tokens } = await verifiedLogin(stack, 'console-road');
    const asked = await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token);
    assert.equal(asked.status, 200, asked.text);
    const sms = await twilio.waitFor(p.phone);
    // the carrier's signed report: undelivered, 30006 (a landline, or no texts)
    const receipt = await postTwilioStatus(
      `${PUBLIC_URL}${TWILIO_STATUS_PATH}`,
      {
        AccountSid: twilio.accountSid,
        MessageSid: sms.sid,
        MessageStatus: 'undelivered',
        To: p.phone,
        From: '+27100000000',
        ErrorCode: '30006',
      },
      twilio.authToken,
      { postTo: `${stack.baseUrl}${TWILIO_STATUS_PATH}` },
    );
    assert.equal(receipt.status, 200, await receipt.text());
    await twilio.waitFor(`whatsapp:${p.phone}`);
    await waitUntil(
      async () => {
        const wa = await stack.runtime.services.db
          .selectFrom('messages')
          .select('status')
          .where('recipient', '=', p.phone)
          .where('channel', '=', 'whatsapp')
          .executeTakeFirst();
        return wa?.status === 'sent';
      },
      { what: 'the WhatsApp message sent' },
    );

    const { context, page } = await signedIn();
    try {
      assert.deepEqual(await seriousViolations(page), [], 'the empty page');
      const local = `0${p.phone.slice(3, 5)} ${p.phone.slice(5, 8)} ${p.phone.slice(8)}`; // +2782… → 082 …
      await find(page, local, `Found ${p.first_name} ${p.last_name}.`);
      assert.equal(new URL(page.url()).searchParams.get('to'), local);

      const account = page.getByRole('region', { name: `${p.first_name} ${p.last_name}` });
      assert.match(await account.innerText(), new RegExp(`Email\\s+${p.email.replace(/\./g, '\\.')} verified`));
      assert.match(await account.innerText(), /Phone\s+\+27\d{9} not verified/);
      const phone = page.getByRole('region', { name: `Phone ${p.phone}` });
      const code = phone.locator('article.code').first();
      assert.match(await code.locator('h4').innerText(), /^Phone verification code/);
      assert.match(await code.locator('.road').innerText(), /SMS \(undelivered\) → WhatsApp \(sent\)/);
      const steps = (await code.locator('ol.timeline > li').allInnerTexts()).map((s) => s.replace(/\s+/g, ' '));
      const kinds = [
        /SMS · Queued for SMS/,
        /SMS · Sent: accepted by the provider \(twilio\)/,
        /SMS · Receipt \(twilio\): undelivered, code 30006/,
        /SMS · The code moved to WhatsApp/,
        /WhatsApp · Queued for WhatsApp/,
        /WhatsApp · Sent: accepted by the provider \(twilio\)/,
      ];
      for (const kind of kinds)
        assert.ok(
          steps.some((s) => kind.test(s)),
          `${kind} in the timeline: ${steps.join(' | ')}`,
        );
      const receiptStep = steps.find((s) => /Receipt/.test(s))!;
      assert.match(receiptStep, /In plain words The number is a landline, or its carrier cannot take text messages\./);
      assert.match(receiptStep, /Fix Ask the person for a mobile number\./);
      assert.match(await code.innerText(), /What the person was told: Your code was handed to WhatsApp\./);
      assert.deepEqual(await seriousViolations(page), [], 'the person found');
      await shot(page, 'person');

      // 200 % zoom is half the CSS width: everything reflows, nothing scrolls sideways
      await page.setViewportSize({ width: 640, height: 900 });
      assert.equal(await scrollsSideways(page), false);
      assert.deepEqual(await seriousViolations(page), [], 'at 200 %');
      await shot(page, 'person-200');
    } finally {
      await context.close();
    }
  });

  it('lifts a suppression after confirmation, and the next code arrives at the SMTP server; ends the sessions', async () => {
    const { person: p } = await verifiedLogin(stack, 'console-lift');
    // the person's mailbox bounced a reset: a signed bounce puts the address on the suppression list
    assert.equal((await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email })).status, 200);
    await stack.smtp.waitFor(p.email, { count: 2 });
    const reset = await waitUntil(
      () =>
        stack.runtime.services.db
          .selectFrom('messages')
          .select(['id', 'status'])
          .where('recipient', '=', p.email.toLowerCase())
          .where('purpose', '=', 'password_reset')
          .where('status', '=', 'sent')
          .executeTakeFirst(),
      { what: 'the reset sent' },
    );
    const bounce = JSON.stringify({ message_id: reset.id, event: 'bounced', reason: '550 5.2.2 mailbox full' });
    const bounced = await fetch(`${stack.baseUrl}/api/v1/webhooks/email/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signBody(bounce, EMAIL_SECRET) },
      body: bounce,
    });
    assert.equal(bounced.status, 200, await bounced.text());
    const mails = stack.smtp.messages.filter((m) => m.envelopeTo.includes(p.email)).length;

    const { context, page } = await signedIn();
    try {
      await find(page, p.email.toUpperCase(), `Found ${p.first_name}`);
      const email = page.getByRole('region', { name: `Email ${p.email.toLowerCase()}` });
      assert.match(
        await email.innerText(),
        /on the suppression list since .* after a bounce: bounced: 550 5\.2\.2 mailbox full/,
      );
      assert.match(await email.innerText(), /Use "Lift the suppression" below\./);
      assert.doesNotMatch(await email.innerText(), /api\/v1/, 'the console words its step as a button, not a route');
      await shot(page, 'suppressed');

      // Cancel changes nothing
      await email.getByRole('button', { name: 'Lift the suppression…' }).click();
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'hidden' });
      assert.ok(
        await stack.runtime.services.db
          .selectFrom('suppressions')
          .select('address')
          .where('address', '=', p.email.toLowerCase())
          .executeTakeFirst(),
      );

      await email.getByRole('button', { name: 'Lift the suppression…' }).click();
      await confirm(page, 'Lift the suppression');
      await page.getByRole('status').filter({ hasText: 'is off the suppression list' }).waitFor();
      assert.equal(
        await stack.runtime.services.db
          .selectFrom('suppressions')
          .select('address')
          .where('address', '=', p.email.toLowerCase())
          .executeTakeFirst(),
        undefined,
      );

      // a new reset code by email, as the person asks
      await page.getByLabel('Code for').selectOption('password_reset');
      await page.getByLabel('By', { exact: true }).selectOption('email');
      await page.getByRole('button', { name: 'Send a new code…' }).click();
      await confirm(page, 'Send the code');
      await page.getByRole('status').filter({ hasText: 'Sent a new password reset code by email' }).waitFor();
      const mail = await stack.smtp.waitFor(p.email, { count: mails + 1 });
      assert.match(mail.subject ?? '', /reset/i);
      // its long code (the email's groups of four): the console's timeline shows it used, on this email
      const long = mail.text.match(/\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b/)![0];
      const done = await stack.api('POST', '/api/v1/auth/reset-password', {
        email: p.email,
        otp: long,
        new_password: 'another horse battery',
      });
      assert.equal(done.status, 200, done.text);
      await find(page, p.email, `Found ${p.first_name}`);
      const newest = email.locator('article.code').first();
      assert.match(await newest.locator('h4').innerText(), /^Password reset code, .* used$/);
      assert.match(await newest.innerText(), /email · The person entered the code: it worked/);
      assert.doesNotMatch(
        await email.locator('article.code').nth(1).innerText(),
        /entered the code/,
        'not the bounced one',
      );

      // the session the reset began (it ended the others): the button ends it
      assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, done.body.access_token)).status, 200);
      await page.getByRole('button', { name: 'End all sessions…' }).click();
      await confirm(page, 'End the sessions');
      await page
        .getByRole('status')
        .filter({ hasText: /Ended \d+ session/ })
        .waitFor();
      assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, done.body.access_token)).status, 401);
      assert.deepEqual(await seriousViolations(page), []);
    } finally {
      await context.close();
    }
  });

  it('escapes a name with markup: it reads as text, and nothing of it runs', async () => {
    const { person: p } = await verifiedLogin(stack, 'console-html');
    const name = '<img src=x onerror="window.pwned=1">';
    await stack.runtime.services.db
      .updateTable('users')
      .set({ first_name: name, last_name: '<script>window.pwned=2</script>' })
      .where('email', '=', p.email)
      .execute();
    const { context, page } = await signedIn();
    try {
      await find(page, p.email, 'Found');
      const heading = page.locator('#account-title');
      assert.equal(await heading.textContent(), `${name} <script>window.pwned=2</script>`);
      assert.equal(await page.locator('#result img, #result script').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    } finally {
      await context.close();
    }
  });

  it('draws the delivery health from known data: the charts, the same numbers as tables, breakers and the queue', async () => {
    offset = HEALTH_DAYS_AHEAD * 86_400_000;
    try {
      const { db } = stack.runtime.services;
      const now = stack.runtime.services.clock();
      const hour = Math.floor(now.getTime() / 3_600_000) * 3_600_000;
      // Known messages, each with what the worker and a verification would have written.
      const known: Array<{ channel: 'sms' | 'whatsapp' | 'email'; to: string; hoursAgo: number; used: boolean }> = [
        { channel: 'sms', to: '+27821110001', hoursAgo: 2, used: true },
        { channel: 'sms', to: '+27821110002', hoursAgo: 2, used: true },
        { channel: 'sms', to: '+27821110003', hoursAgo: 2, used: false },
        { channel: 'whatsapp', to: '+27821110003', hoursAgo: 2, used: true },
        { channel: 'sms', to: '+447700900001', hoursAgo: 1, used: false },
        { channel: 'email', to: 'health.a@example.test', hoursAgo: 0, used: true },
        { channel: 'email', to: 'health.b@example.test', hoursAgo: 0, used: false },
      ];
      for (const k of known) {
        const at = new Date(hour - k.hoursAgo * 3_600_000 + 60_000);
        const m = await db
          .insertInto('messages')
          .values({
            channel: k.channel,
            recipient: k.to,
            purpose: k.channel === 'email' ? 'email_verification' : 'phone_verification',
            body_text: '[redacted]',
            status: 'sent',
            next_attempt_at: at,
            created_at: at,
            updated_at: at,
            sent_at: at,
            code_id: randomUUID(),
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        const provider = k.channel === 'email' ? 'smtp' : 'twilio';
        await db
          .insertInto('message_events')
          .values([
            { message_id: m.id, at, kind: 'queued', status: 'queued' },
            { message_id: m.id, at, kind: 'sent', status: 'sent', provider },
            ...(k.used ? [{ message_id: m.id, at, kind: 'verified' as const, status: 'sent' as const }] : []),
          ])
          .execute();
      }
      const stats = await adminGet<HealthStats>('/api/v1/admin/health-stats?range=24h');
      assert.equal(stats.buckets.length, 24);
      const series = (channel: string, calling: string | null) =>
        stats.series.find((s) => s.channel === channel && s.calling_code === calling)!;
      const tail = (xs: number[]) => xs.slice(-3);
      assert.deepEqual(tail(series('sms', '27').issued), [3, 0, 0]);
      assert.deepEqual(tail(series('sms', '27').verified), [2, 0, 0]);
      assert.deepEqual(tail(series('sms', '44').issued), [0, 1, 0]);
      assert.deepEqual(tail(series('whatsapp', '27').verified), [1, 0, 0]);
      assert.deepEqual(tail(series('email', null).issued), [0, 0, 2]);
      assert.equal(series('email', null).provider, 'smtp');
      assert.equal(
        stats.series.reduce((n, s) => n + s.issued.reduce((a, b) => a + b, 0), 0),
        known.length,
      );
      const week = await adminGet<HealthStats>('/api/v1/admin/health-stats?range=7d');
      assert.equal(week.buckets.length, 7);
      assert.equal(
        week.series.reduce((n, s) => n + s.verified.reduce((a, b) => a + b, 0), 0),
        4,
      );

      const { context, page } = await signedIn();
      try {
        await page.getByRole('link', { name: 'Delivery health' }).click();
        await page.waitForURL(`${stack.baseUrl}/console/health`);
        await page.getByRole('status').filter({ hasText: 'Numbers of the last 24 hours' }).waitFor();
        // uPlot drew the lines on its canvas: pixels of the series' colours
        const inked = await page.evaluate(() =>
          [...document.querySelectorAll('#chart-issued canvas, #chart-verified canvas')].map((c) => {
            const canvas = c as HTMLCanvasElement;
            const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
            let blue = 0;
            for (let i = 0; i < pixels.length; i += 4)
              if (pixels[i] < 40 && pixels[i + 1] > 90 && pixels[i + 1] < 140 && pixels[i + 2] > 150) blue++;
            return blue;
          }),
        );
        assert.equal(inked.length, 2);
        assert.ok(
          inked.every((n) => n > 20),
          `the first series' blue on both charts: ${inked}`,
        );
        const legend = await page.locator('#chart-issued .u-legend .u-series .u-label').allInnerTexts();
        assert.deepEqual(legend.slice(1), ['SMS', 'email', 'WhatsApp']);

        const table = async () =>
          page.evaluate(() =>
            [...document.querySelectorAll('#over-time tr')].map((tr) =>
              [...tr.children].map((c) => c.textContent ?? ''),
            ),
          );
        const rows = await table();
        assert.deepEqual(rows[0].slice(1), [
          'SMS queued',
          'SMS used',
          'email queued',
          'email used',
          'WhatsApp queued',
          'WhatsApp used',
        ]);
        assert.deepEqual(
          rows.slice(-3).map((r) => r.slice(1)),
          [
            ['3', '2', '0', '0', '1', '1'],
            ['1', '0', '0', '0', '0', '0'],
            ['0', '0', '2', '1', '0', '0'],
          ],
        );
        // by calling code
        await page.getByLabel('Lines by').selectOption('calling_code');
        assert.deepEqual((await table())[0].slice(1), [
          '+27 queued',
          '+27 used',
          'email queued',
          'email used',
          '+44 queued',
          '+44 used',
        ]);
        const breakdown = await page.locator('#breakdown tbody tr').allInnerTexts();
        assert.ok(
          breakdown.some((r) => /SMS\ttwilio\t\+27\t3\t2\t67 %/.test(r)),
          breakdown.join('\n'),
        );
        assert.match(await page.locator('#providers').innerText(), /SMS\ttwilio/);
        assert.match(await page.locator('#queue').innerText(), /Messages waiting to be sent\n?\t?\s*0/);
        await page.getByLabel('Lines by').selectOption('channel');
        assert.deepEqual(await seriousViolations(page), []);
        await shot(page, 'health');

        await page.getByLabel('Last 7 days, by day').check();
        await page.getByRole('status').filter({ hasText: 'Numbers of the last 7 days' }).waitFor();
        assert.equal((await table()).length, 8, 'a header and 7 days');
        await page.setViewportSize({ width: 640, height: 900 });
        // the page redraws after a resize settles: a table wider than its place becomes a region the keyboard can scroll
        await page.waitForFunction(() =>
          [...document.querySelectorAll('.scroll')].every(
            (b) => b.scrollWidth <= b.clientWidth || b.hasAttribute('tabindex'),
          ),
        );
        assert.equal(await scrollsSideways(page), false);
        assert.deepEqual(await seriousViolations(page), [], 'at 200 %');
        await shot(page, 'health-200');
      } finally {
        await context.close();
      }
    } finally {
      offset = 0;
    }
  });

  /** The admin API, with the token: what the console's numbers must equal. */
  async function adminGet<T>(path: string): Promise<T> {
    const res = await fetch(`${stack.baseUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as T;
  }

  describe('attacks', () => {
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const signIn = (token: string, address: string) =>
      fetch(`${stack.baseUrl}/console/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...from(address) },
        body: JSON.stringify({ token }),
      });
    const cookieFrom = (res: Response) => res.headers.get('set-cookie')!.split(';')[0];
    const withCookie = (cookie: string, init: RequestInit = {}) => ({
      ...init,
      headers: { ...(init.headers as Record<string, string>), cookie },
      redirect: 'manual' as const,
    });

    it('without a session: the pages send to the sign-in, the API answers 401, the admin token as a Bearer opens nothing here', async () => {
      for (const path of ['/console', '/console/health']) {
        const res = await fetch(`${stack.baseUrl}${path}`, { redirect: 'manual' });
        assert.equal(res.status, 303, path);
        assert.equal(res.headers.get('location'), '/console/sign-in');
      }
      for (const [method, path] of [
        ['GET', '/console/api/why?to=someone@example.test'],
        ['GET', '/console/api/health-stats'],
        ['GET', '/console/session'],
        ['POST', `/console/api/users/${randomUUID()}/sessions/revoke`],
      ]) {
        const bare = await fetch(`${stack.baseUrl}${path}`, { method });
        assert.equal(bare.status, 401, `${method} ${path}`);
        const bearer = await fetch(`${stack.baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        assert.equal(bearer.status, 401, `${method} ${path} with the Bearer token: the console takes its cookie only`);
      }
      const page = await fetch(`${stack.baseUrl}/console/sign-in`);
      assert.equal(page.status, 200);
      assert.doesNotMatch(await page.text(), /<script>|\sstyle=|\son[a-z]+=/i, 'nothing inline');
    });

    it('a wrong token is 401, and past the limit even the right one waits (429): nobody guesses faster than that', async () => {
      const address = '203.0.113.7';
      for (let i = 0; i < SIGN_IN_FAILURES; i++) {
        const wrong = await signIn(`${ADMIN_TOKEN}x`, address);
        assert.equal(wrong.status, 401);
        assert.equal(wrong.headers.get('set-cookie'), null);
      }
      const right = await signIn(ADMIN_TOKEN, address);
      assert.equal(right.status, 429);
      assert.ok(Number(right.headers.get('retry-after')) > 0);
      assert.equal(right.headers.get('set-cookie'), null);
      assert.equal((await signIn(ADMIN_TOKEN, '203.0.113.8')).status, 200, 'another address is not held up');
      assert.equal((await signIn('', '203.0.113.9')).status, 401);
    });

    it("the session cookie: HttpOnly, Secure outside development, SameSite=Strict, /console only, 30 minutes; forged, re-signed, another key's or expired: 401", async () => {
      const res = await signIn(ADMIN_TOKEN, '198.51.100.1');
      assert.equal(res.status, 200);
      const header = res.headers.get('set-cookie')!;
      const attributes = header.split(';').map((a) => a.trim().toLowerCase());
      for (const a of ['httponly', 'secure', 'samesite=strict', 'path=/console', 'max-age=1800'])
        assert.ok(attributes.includes(a), `${a} in ${header}`);
      const cookie = cookieFrom(res);
      const ok = await fetch(`${stack.baseUrl}/console/api/health-stats`, withCookie(cookie));
      assert.equal(ok.status, 200);

      const value = cookie.slice(SESSION_COOKIE.length + 1);
      const [version, expiry, id, signature] = value.split('.');
      const other = consoleKeys('another-admin-token-of-32-characters!');
      const forged = [
        `${version}.${Number(expiry) + 86_400}.${id}.${signature}`, // a longer life, the old signature
        `${version}.${expiry}.${id}x.${signature}`,
        `${version}.${expiry}.${id}.${signature.slice(0, -2)}AA`,
        issueSession(other, new Date()).value, // signed with another token's key
        `${version}.${expiry}.${id}`,
        'admin',
      ];
      for (const v of forged) {
        const r = await fetch(`${stack.baseUrl}/console/api/health-stats`, withCookie(`${SESSION_COOKIE}=${v}`));
        assert.equal(r.status, 401, v);
        const p = await fetch(`${stack.baseUrl}/console`, withCookie(`${SESSION_COOKIE}=${v}`));
        assert.equal(p.status, 303, v);
      }
      offset = 31 * 60_000;
      try {
        assert.equal(
          (await fetch(`${stack.baseUrl}/console/api/health-stats`, withCookie(cookie))).status,
          401,
          'expired',
        );
      } finally {
        offset = 0;
      }
    });

    it("a change without the CSRF token, or with another session's, is refused (403) and changes nothing", async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'console-csrf');
      const why = await adminGet<WhyReport>(`/api/v1/admin/why?to=${encodeURIComponent(p.email)}`);
      const userId = why.account!.id;
      const [mine, theirs] = [await signIn(ADMIN_TOKEN, '198.51.100.2'), await signIn(ADMIN_TOKEN, '198.51.100.3')];
      const cookie = cookieFrom(mine);
      const theirCsrf = ((await theirs.json()) as { csrf_token: string }).csrf_token;
      const myCsrf = ((await mine.json()) as { csrf_token: string }).csrf_token;
      const revoke = (headers: Record<string, string>) =>
        fetch(
          `${stack.baseUrl}/console/api/users/${userId}/sessions/revoke`,
          withCookie(cookie, { method: 'POST', headers }),
        );
      assert.equal((await revoke({})).status, 403);
      assert.equal((await revoke({ 'x-csrf-token': theirCsrf })).status, 403);
      assert.equal((await revoke({ 'x-csrf-token': '' })).status, 403);
      const codes = await fetch(
        `${stack.baseUrl}/console/api/users/${userId}/codes`,
        withCookie(cookie, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ purpose: 'login', channel: 'email' }),
        }),
      );
      assert.equal(codes.status, 403);
      const lift = await fetch(
        `${stack.baseUrl}/console/api/suppressions/${encodeURIComponent(p.email)}`,
        withCookie(cookie, { method: 'DELETE' }),
      );
      assert.equal(lift.status, 403);
      const signOut = await fetch(`${stack.baseUrl}/console/sign-out`, withCookie(cookie, { method: 'POST' }));
      assert.equal(signOut.status, 403);
      assert.equal(
        (await stack.api('GET', '/api/v1/users/me', undefined, tokens.access_token)).status,
        200,
        'still signed in',
      );
      const done = await revoke({ 'x-csrf-token': myCsrf });
      assert.equal(done.status, 200, await done.clone().text());
      assert.deepEqual(await done.json(), { revoked: 1 });
      assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, tokens.access_token)).status, 401);
    });

    it('is never framed: X-Frame-Options DENY and frame-ancestors none, and a page of another origin shows nothing of it', async () => {
      for (const path of ['/console/sign-in', '/console', '/console/api/health-stats', '/console/assets/console.css']) {
        const res = await fetch(`${stack.baseUrl}${path}`, { redirect: 'manual' });
        assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
        const csp = res.headers.get('content-security-policy') ?? '';
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'self'/, path);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, path);
      }
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(framerUrl);
        const frame = page.frames().find((f) => f !== page.mainFrame());
        assert.ok(frame, 'the frame exists');
        const inside = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
        assert.doesNotMatch(inside, /Admin token|Sign in/, 'the console did not render inside another site');
      } finally {
        await context.close();
      }
    });

    it('every script and style comes from the service itself, and the page runs under its CSP with nothing refused', async () => {
      const { context, page } = await signedIn();
      try {
        const hosts = new Set<string>();
        const refused: string[] = [];
        page.on('request', (r) => hosts.add(new URL(r.url()).origin));
        const missing: string[] = [];
        page.on('response', (r) => {
          if (['script', 'stylesheet'].includes(r.request().resourceType()) && r.status() !== 200)
            missing.push(r.url());
        });
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
        });
        await page.goto(`${stack.baseUrl}/console/health`);
        await page.getByRole('status').filter({ hasText: 'Numbers of' }).waitFor();
        await page.goto(`${stack.baseUrl}/console`);
        await page.getByRole('heading', { name: 'Find a person' }).waitFor();
        assert.deepEqual([...hosts], [stack.baseUrl]);
        assert.deepEqual(missing, [], 'every script and style the pages link is served');
        assert.deepEqual(refused, []);
        // signing out ends the cookie in this browser
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.waitForURL(`${stack.baseUrl}/console/sign-in`);
        await page.goto(`${stack.baseUrl}/console`);
        assert.match(page.url(), /\/console\/sign-in$/);
        assert.deepEqual(await seriousViolations(page), [], 'the sign-in page');
        await shot(page, 'sign-in');
      } finally {
        await context.close();
      }
    });
  });
});
