/**
 * The locale and template change attacked: odd ids on the dev inbox's preview, odd Accept-Language
 * headers and PATCH bodies, templates from TEMPLATES_DIR that recurse or reach outside it, names that
 * push an SMS past one segment, and names in the HTML email. Each test is the attack and what must hold.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/settings.ts';
import { createComposer } from '../src/messages/compose.ts';
import { loadComposer } from '../src/messages/load.ts';
import { smsLength } from '../src/messages/sms-length.ts';
import { checkTemplates } from '../src/messages/template-checks.ts';
import { loadTemplates, partsOf, TemplateError } from '../src/messages/templates.ts';
import { LOCALE_CODES } from '../src/shared/locales.ts';
import { PURPOSES, type OtpPurpose } from '../src/shared/vocabulary.ts';
import { checkTemplateFiles } from '../src/cli/doctor/templates.ts';
import { Name } from '../src/http/schemas.ts';
import { errorCode } from './support/api.ts';
import { person, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { waitUntil } from './support/wait.ts';
import { launchChromium, skipWithoutChromium } from './support/chromium.ts';
import { capturedFor, DEV_ENV } from './support/dev-inbox.ts';
import { templatesDir } from './support/templates.ts';

const settings = (env: Record<string, string> = {}) =>
  loadConfig({ PUBLIC_URL: 'https://panic.example.co.za', ...env });

describe('attack: dev inbox preview', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: DEV_ENV });
  });
  after(() => stack.close());

  it('an id the uuid format passes but PostgreSQL does not read (urn:uuid:…) is a 4xx, not a 500', async () => {
    for (const id of [
      'urn:uuid:00000000-0000-0000-0000-000000000000',
      'not-a-uuid',
      '00000000-0000-0000-0000-000000000000',
      '%00',
      '..%2F..%2Fdev%2Finbox',
    ]) {
      const res = await stack.request('GET', `/dev/inbox/messages/${id}/html`);
      assert.ok(res.status >= 400 && res.status < 500, `${id}: ${res.status} ${res.text}`);
    }
  });

  it('the preview is sandboxed, framed only by its own origin, and its HTML is the escaped email', async () => {
    const p = { ...person('preview'), first_name: "O'Neil", last_name: 'Smith' };
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const row = await capturedFor(stack, p.email, 'email_verification');
    assert.equal(row.has_html, true);
    const res = await fetch(`${stack.baseUrl}/dev/inbox/messages/${row.id}/html`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /(^|; )sandbox(;|$)/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.doesNotMatch(csp, /script-src/);
    const html = await res.text();
    assert.ok(html.includes('O&#39;Neil'), 'the name is escaped in the HTML part');
  });
});

describe('attack: registration and PATCH /users/me inputs', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const register = (p: object, acceptLanguage?: string) =>
    fetch(`${stack.baseUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage }),
      },
      body: JSON.stringify(p),
    });

  it('odd Accept-Language headers never fail a registration', async () => {
    const headers = [
      'af;q=0',
      '*;q=0',
      'zu;q=abc, af;q=-1',
      ';;;,,,;q=',
      'af'.padEnd(8000, 'x'),
      Array.from({ length: 1200 }, (_, i) => `x${i};q=0.${i % 10}`).join(','),
      'af-ZA-'.repeat(1000),
      '__proto__, constructor, hasOwnProperty',
      'zu;q=1.0000000001',
      'en;q=0, af;q=0, zu;q=0',
    ];
    for (const h of headers) {
      const res = await register(person('al'), h);
      assert.equal(res.status, 201, `${h.slice(0, 40)}: ${res.status} ${await res.text()}`);
    }
  });

  it('a <script> name is refused at registration (it never reaches a template)', async () => {
    const res = await register({ ...person('xss'), first_name: '<script>alert(1)</script>' });
    assert.equal(res.status, 400);
  });

  it('odd PATCH /users/me bodies and content types are 4xx, never a 500, and change nothing', async () => {
    const { access_token: token } = (await verifiedLogin(stack, 'patch-odd')).tokens;
    const bodies: Array<[string, string]> = [
      ['application/json', '[]'],
      ['application/json', 'null'],
      ['application/json', '"af"'],
      ['application/json', '{"locale":null}'],
      ['application/json', '{"locale":["af"]}'],
      ['application/json', '{"locale":{"toString":"af"}}'],
      ['application/json', '{"locale":"af","__proto__":{"locale":"zu"}}'],
      ['application/json', '{"constructor":{"prototype":{"locale":"zu"}}}'],
      ['application/json', '{"locale":"__proto__"}'],
      ['application/json', '{"locale":"hasOwnProperty"}'],
      ['application/json', '{"locale":"af-' + 'a'.repeat(100) + '"}'],
      ['application/json', ''],
      ['application/json', '{'],
      ['text/plain', 'af'],
      ['application/x-www-form-urlencoded', 'locale=af'],
    ];
    for (const [type, body] of bodies) {
      const res = await fetch(`${stack.baseUrl}/api/v1/users/me`, {
        method: 'PATCH',
        headers: { 'content-type': type, authorization: `Bearer ${token}` },
        body,
      });
      const text = await res.text();
      assert.ok(res.status >= 400 && res.status < 500, `${type} ${body.slice(0, 40)}: ${res.status} ${text}`);
    }
    const me = await stack.api('GET', '/api/v1/auth/me', undefined, token);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.locale, 'en');
    const other = await stack.api('PATCH', '/api/v1/users/me', { locale: 'af' }, 'not-a-token');
    assert.equal(other.status, 401);
    assert.equal(errorCode(other), 'unauthorized');
  });
});

describe('attack: the dev inbox preview with DEV_INBOX_TOKEN', () => {
  let stack: Stack;
  const TOKEN = 'dev-inbox-token-for-attack-tests-0123456789';
  before(async () => {
    stack = await startStack({ env: { ...DEV_ENV, DEV_INBOX_TOKEN: TOKEN } });
  });
  after(() => stack.close());

  it('needs the token (header or query) even from this machine, and a wrong one is refused', async () => {
    const p = person('preview-token');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const list = (token: string) =>
      fetch(`${stack.baseUrl}/dev/inbox/messages?to=${encodeURIComponent(p.email)}`, {
        headers: { 'x-dev-inbox-token': token },
      });
    const row = await waitUntil(
      async () =>
        ((await (await list(TOKEN)).json()).messages as Array<{ id: string; status: string }>).find(
          (m) => m.status === 'captured',
        ),
      {
        timeoutMs: 10_000,
        what: 'captured email',
      },
    );
    const url = `${stack.baseUrl}/dev/inbox/messages/${row.id}/html`;
    assert.equal((await fetch(url)).status, 403);
    assert.equal((await fetch(`${url}?token=${TOKEN.slice(0, -1)}x`)).status, 403);
    assert.equal((await fetch(url, { headers: { 'x-dev-inbox-token': TOKEN.slice(0, -1) } })).status, 403);
    assert.equal((await fetch(`${url}?token=${TOKEN}`)).status, 200);
    assert.equal((await fetch(url, { headers: { 'x-dev-inbox-token': TOKEN } })).status, 200);
  });
});

describe('attack: an unknown address and a known one in another locale answer alike', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  it('resend-verification, forgot-password and request-unlock-otp give the same status, body and headers', async () => {
    const p = { ...person('alike'), locale: 'zu' };
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const ask = (path: string, body: object) =>
      fetch(`${stack.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept-language': 'af' },
        body: JSON.stringify(body),
      });
    const shape = async (res: Response) => {
      const body = await res.json();
      const headers = [...res.headers.keys()]
        .filter(
          (h) =>
            ![
              'date',
              'content-length',
              'x-request-id',
              'ratelimit-reset',
              'x-ratelimit-reset',
              'ratelimit-remaining',
              'x-ratelimit-remaining',
            ].includes(h),
        )
        .sort();
      return { status: res.status, message: body.message, keys: Object.keys(body).sort(), headers };
    };
    const unknown = `nobody.${Date.now()}@example.test`;
    for (const [path, known, other] of [
      ['/api/v1/auth/resend-verification', { email: p.email }, { email: unknown }],
      ['/api/v1/auth/forgot-password', { email: p.email }, { email: unknown }],
      ['/api/v1/auth/request-unlock-otp', { identifier: p.email }, { identifier: unknown }],
    ] as const) {
      assert.deepEqual(await shape(await ask(path, known)), await shape(await ask(path, other)), path);
    }
  });
});

describe('attack: the dev inbox preview outside development', () => {
  let stack: Stack;
  const ADMIN = 'admin-token-for-attack-tests-0123456789';
  before(async () => {
    stack = await startStack({ env: { ADMIN_TOKEN: ADMIN } });
  });
  after(() => stack.close());

  it('is a 404 when APP_ENV is not development', async () => {
    const res = await stack.request('GET', '/dev/inbox/messages/00000000-0000-0000-0000-000000000000/html');
    assert.equal(res.status, 404);
  });

  it('the admin delivery log reads a urn:uuid: id as a 4xx too (the same format flaw)', async () => {
    const res = await stack.api(
      'GET',
      '/api/v1/admin/messages/urn:uuid:00000000-0000-0000-0000-000000000000',
      undefined,
      ADMIN,
    );
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
  });
});

describe('attack: operator templates', () => {
  it('a partial that includes itself stops the start with a TemplateError and is a doctor fail line, not a crash', () => {
    const dir = templatesDir({ 'partials/footer.txt': 'again {{> footer}}\n' });
    assert.throws(() => loadComposer(settings({ TEMPLATES_DIR: dir })), TemplateError);
    const check = checkTemplateFiles(settings({ TEMPLATES_DIR: dir }));
    assert.equal(check?.status, 'fail', check?.finding);
    assert.match(check!.finding, /footer/);
    // two partials that include each other, from an SMS
    const mutual = templatesDir({
      'partials/ping.txt': '{{> pong}}',
      'partials/pong.txt': '{{> ping}}',
      'phone_verification/sms.txt': '{{code}} {{> ping}}',
    });
    assert.throws(() => loadComposer(settings({ TEMPLATES_DIR: mutual })), TemplateError);
    assert.equal(checkTemplateFiles(settings({ TEMPLATES_DIR: mutual }))?.status, 'fail');
  });

  it('an SMS that names the person is warned of when a name the API takes pushes it past one segment', () => {
    const dir = templatesDir({
      'phone_verification/sms.txt': '{{first_name}}, {{code}} is your code for {{app_name}}. Never share it.',
    });
    const config = settings({ TEMPLATES_DIR: dir });
    const composer = createComposer(loadTemplates(dir), config);
    // a name registration accepts (letters, ’): one character outside GSM-7 makes the SMS UCS-2
    const name = 'Ŋgcobo’s Dlamini-Zuma Thandiwe Nomvula Nokuthula';
    assert.match(
      name,
      new RegExp((Name as unknown as { pattern: string }).pattern, 'u'),
      'registration takes the name',
    );
    const m = composer.compose('phone_verification', 'sms', {
      code: '123456',
      expiresInMinutes: 10,
      firstName: name,
      locale: 'en',
    });
    const sent = smsLength(m.text).segments;
    const warned = checkTemplates(loadTemplates(dir), config).some(
      (p) => p.file.endsWith('phone_verification/sms.txt') && /segments/.test(p.problem),
    );
    assert.ok(sent === 1 || warned, `the SMS goes out in ${sent} segments and doctor says nothing`);
    assert.match(checkTemplateFiles(config)!.finding, /with a 64-letter first name outside GSM-7/);
  });

  it("a link in TEMPLATES_DIR to a file outside it is not read (a writer of the folder cannot mail out the server's files)", () => {
    const outside = mkdtempSync(join(tmpdir(), 'panic-attack-secret-'));
    writeFileSync(join(outside, 'secret.env'), 'OTP_SECRET=hunter2-outside-the-templates {{code}}\n');
    mkdirSync(join(outside, 'unlock'));
    writeFileSync(join(outside, 'unlock', 'sms.txt'), 'SECRET-FOLDER {{code}}');
    const dir = templatesDir({
      'password_reset/email.text.txt': '{{code}}\n{{> footer}}\n',
      'kept/sms.txt': 'KEPT {{code}}',
    });
    mkdirSync(join(dir, 'partials'));
    symlinkSync(join(outside, 'secret.env'), join(dir, 'partials', 'footer.txt'));
    symlinkSync(join(outside, 'unlock'), join(dir, 'unlock'));
    // a link that stays inside (how a Kubernetes ConfigMap is mounted) is still read
    mkdirSync(join(dir, 'phone_verification'));
    symlinkSync(join(dir, 'kept', 'sms.txt'), join(dir, 'phone_verification', 'sms.txt'));
    const config = settings({ TEMPLATES_DIR: dir });
    const composer = loadComposer(config);
    const reset = composer.compose('password_reset', 'email', { code: '123456', expiresInMinutes: 10, locale: 'en' });
    assert.doesNotMatch(reset.text, /hunter2/);
    const unlock = composer.compose('unlock', 'sms', { code: '123456', expiresInMinutes: 10, locale: 'en' });
    assert.doesNotMatch(unlock.text, /SECRET-FOLDER/);
    const phone = composer.compose('phone_verification', 'sms', { code: '123456', expiresInMinutes: 10, locale: 'en' });
    assert.match(phone.text, /^KEPT 123456/);
    assert.match(checkTemplateFiles(config)!.finding, /footer\.txt: ignored: .*outside/);
  });

  it('the built-in SMS stay one GSM-7 segment whatever name and locale an attacker brings (default code length)', () => {
    const config = settings({ ANDROID_APP_HASH: 'FA+9qCX9VSu' });
    const composer = createComposer(loadTemplates(), config);
    for (const purpose of Object.keys(PURPOSES) as OtpPurpose[]) {
      if (!(PURPOSES[purpose].channels as readonly string[]).includes('sms')) continue;
      assert.ok(partsOf('sms').length === 1);
      for (const locale of LOCALE_CODES) {
        for (const firstName of [undefined, 'Ж'.repeat(64), 'Ŋgcobo’s']) {
          const m = composer.compose(purpose, 'sms', {
            code: '9'.repeat(config.OTP_LENGTH),
            expiresInMinutes: 10,
            firstName,
            locale,
          });
          assert.deepEqual(
            [smsLength(m.text).encoding, smsLength(m.text).segments],
            ['GSM-7', 1],
            `${purpose} ${locale}: ${m.text}`,
          );
        }
      }
    }
  });
});

describe("attack: script in an email's HTML, previewed in the dev inbox", { skip: skipWithoutChromium }, () => {
  let stack: Stack;
  before(async () => {
    const dir = templatesDir({
      'email_verification/email.html':
        '<p id="code">{{code}}</p><script>document.title = "pwned"; try { parent.document.title = "pwned"; } catch (e) {}</script>' +
        '<img src="data:," onerror="document.title = \'pwned\'"><form id="f" action="/dev/inbox/messages"><button>go</button></form>\n',
    });
    stack = await startStack({ env: { ...DEV_ENV, TEMPLATES_DIR: dir } });
  });
  after(() => stack.close());

  it("runs no script, in the inbox page's frame or opened on its own", { timeout: 60_000 }, async () => {
    const p = person('preview-script');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    const row = await capturedFor(stack, p.email, 'email_verification');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${stack.baseUrl}/dev/inbox?to=${encodeURIComponent(p.email)}`);
      const card = page.locator('li.msg', { hasText: p.email });
      await card.locator('details.preview summary').click();
      const frame = card.frameLocator('iframe');
      await frame.getByText(row.otp!, { exact: true }).waitFor({ timeout: 10_000 });
      await page.waitForTimeout(300);
      assert.notEqual(await page.title(), 'pwned');
      const inner = page.frames().find((f) => f.url().includes('/html'))!;
      assert.notEqual(await inner.title(), 'pwned', 'no script ran in the frame');

      const alone = await browser.newPage();
      await alone.goto(`${stack.baseUrl}/dev/inbox/messages/${row.id}/html`);
      await alone.waitForTimeout(300);
      assert.notEqual(await alone.title(), 'pwned', 'no script ran with the preview opened on its own');
    } finally {
      await browser.close();
    }
  });
});
