/**
 * Messages in three languages from template files: every built-in template in every locale renders
 * with its code and within its limits, an operator's TEMPLATES_DIR overrides them file by file (and a
 * broken one stops the start), names are escaped in HTML, every SMS fits one GSM-7 segment with the
 * lines that let phones fill the code in, and an account's locale comes from the body, from
 * Accept-Language or from PATCH /users/me.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/settings.ts';
import { LOCALE_CODES, type Locale } from '../src/shared/locales.ts';
import { createComposer } from '../src/messages/compose.ts';
import { loadComposer } from '../src/messages/load.ts';
import { smsLength } from '../src/messages/sms-length.ts';
import { checkTemplates } from '../src/messages/template-checks.ts';
import { loadTemplates, partsOf, TemplateError } from '../src/messages/templates.ts';
import { checkTemplateFiles } from '../src/cli/doctor/templates.ts';
import { PURPOSES, type Channel, type OtpPurpose } from '../src/shared/vocabulary.ts';
import { errorCode, expectStatus, type RequestBody } from './support/api.ts';
import { person, startStack, type Stack } from './support/stack.ts';
import { launchChromium, skipWithoutChromium } from './support/chromium.ts';
import { templatesDir } from './support/templates.ts';

const PUBLIC_URL = 'https://panic.example.co.za';
const APP_HASH = 'FA+9qCX9VSu';
const SUPPORT_URL = 'https://help.panic.example.co.za/codes';
/** Chrome's WebOTP parser (content/browser/sms/sms_parser.cc), matched anywhere in the message. */
const CHROME_OTP = /(?:^|\s)@([a-zA-Z0-9.-]+) #([^#\s]+)(?: @([a-zA-Z0-9.-]+))?/;

const settings = (env: Record<string, string> = {}) =>
  loadConfig({ PUBLIC_URL, ANDROID_APP_HASH: APP_HASH, SUPPORT_URL, ...env });

/** Every (purpose, channel) the service sends a code for. */
const SENT = (Object.keys(PURPOSES) as OtpPurpose[]).flatMap((purpose) =>
  PURPOSES[purpose].channels.map((channel): [OtpPurpose, Channel] => [purpose, channel]),
);

describe('built-in templates', () => {
  const config = settings();
  const templates = loadTemplates();
  const composer = createComposer(templates, config);

  it('exist for every purpose, channel, part and locale, in that locale (none falls back to English but a call in isiZulu, which no voice speaks)', () => {
    for (const [purpose, channel] of SENT) {
      for (const part of partsOf(channel)) {
        for (const locale of LOCALE_CODES) {
          const found = templates.find(purpose, part, locale);
          const writtenIn = part === 'voice' && locale === 'zu' ? 'en' : locale;
          assert.equal(found?.locale, writtenIn, `${purpose} ${part} ${locale}: ${found?.file}`);
          assert.equal(found.override, false);
        }
      }
    }
  });

  it('have no problem doctor would report, with or without PUBLIC_URL and the app hash', () => {
    assert.deepEqual(checkTemplates(templates, config), []);
    assert.deepEqual(checkTemplates(templates, loadConfig({})), []);
  });

  for (const locale of LOCALE_CODES) {
    it(`render every message in ${locale} with its code, the name, one-line subjects and one-segment SMS`, () => {
      const english = (purpose: OtpPurpose, channel: Channel) =>
        composer.compose(purpose, channel, { code: '482913', expiresInMinutes: 10, firstName: 'Thandi', locale: 'en' });
      for (const [purpose, channel] of SENT) {
        const m = composer.compose(purpose, channel, {
          code: '482913',
          expiresInMinutes: 10,
          firstName: 'Thandi',
          locale,
        });
        assert.equal(m.locale, locale);
        if (channel === 'voice') {
          // digit by digit, twice, one line for <Say>; isiZulu has no voice, so the call speaks English
          assert.equal(m.writtenIn, locale === 'zu' ? 'en' : locale);
          assert.equal(m.text.split('4, 8, 2, 9, 1, 3').length - 1, 2, m.text);
          assert.doesNotMatch(m.text, /482913|\n/);
          assert.deepEqual([m.subject, m.html], [null, null]);
          continue;
        }
        if (locale !== 'en')
          assert.notEqual(m.text, english(purpose, channel).text, `${purpose} ${channel} is translated`);
        if (channel === 'whatsapp') {
          assert.deepEqual([m.subject, m.html], [null, null]);
          assert.match(m.text, /^\*482913\* /, 'the code first, as the authentication template writes it');
          assert.match(m.text, /\b10\b/, 'the minutes it is valid');
          continue;
        }
        if (channel === 'sms') {
          assert.equal(m.subject, null);
          assert.equal(m.html, null);
          assert.match(m.text, /^482913 /, 'the code comes first in an SMS');
          const length = smsLength(m.text);
          assert.deepEqual(
            [length.encoding, length.segments],
            ['GSM-7', 1],
            `${purpose} ${locale}: ${length.characters} characters\n${m.text}`,
          );
          assert.ok(length.characters <= 160);
          const lines = m.text.split('\n');
          assert.equal(lines.at(-1), '@panic.example.co.za #482913', 'the origin-bound line is the last line');
          assert.equal(lines.at(-2), APP_HASH, 'the SMS Retriever hash is in the message');
          assert.deepEqual(CHROME_OTP.exec(m.text)?.slice(1, 3), ['panic.example.co.za', '482913']);
          continue;
        }
        assert.ok(
          m.subject && !/[\r\n]/.test(m.subject) && m.subject.length <= 78,
          `${purpose} ${locale} subject: ${m.subject}`,
        );
        assert.match(m.subject, /^Panic System: /);
        for (const body of [m.text, m.html!]) {
          assert.match(body, /482913/);
          assert.match(body, /Thandi/);
          assert.match(body, /\b10\b/, 'the minutes it is valid');
          assert.ok(body.includes(SUPPORT_URL), 'SUPPORT_URL is given');
        }
        assert.match(m.html!, new RegExp(`<html lang="${locale}">`));
        // the code alone in its cell: a tap or a double-click selects exactly the code
        assert.match(m.html!, />482913<\/td>/);
        const links = [...m.html!.matchAll(/href="([^"]*)"/g)].map((x) => x[1]);
        assert.deepEqual([...new Set(links)], [SUPPORT_URL], 'no link but SUPPORT_URL');
        assert.doesNotMatch(
          m.html!,
          /<script|<link|<img|<form|@media|class=/i,
          'inline styles only, nothing to load or run',
        );
      }
    });
  }

  it('the email-changed notice, in every language: the masked new address, when, the support link, and no code', () => {
    const at = new Date('2031-05-04T10:00:00.000Z');
    const english = composer.composeNotice('email_changed', 'email', {
      maskedEmail: 'n***@example.org',
      changedAt: at,
      firstName: 'Thandi',
      locale: 'en',
    });
    for (const locale of LOCALE_CODES) {
      const m = composer.composeNotice('email_changed', 'email', {
        maskedEmail: 'n***@example.org',
        changedAt: at,
        firstName: 'Thandi',
        locale,
      });
      assert.equal(m.writtenIn, locale);
      if (locale !== 'en') assert.notEqual(m.text, english.text, `${locale} is translated`);
      assert.match(m.subject!, /^Panic System: /);
      for (const body of [m.text, m.html!]) {
        assert.ok(body.includes('n***@example.org'), body);
        assert.ok(body.includes('2031-05-04 10:00 UTC'), body);
        assert.ok(body.includes(SUPPORT_URL), body);
        assert.match(body, /Thandi/);
      }
      assert.doesNotMatch(m.text, /\d{6}/, 'no code');
      assert.match(m.html!, new RegExp(`<html lang="${locale}">`));
      const links = [...m.html!.matchAll(/href="([^"]*)"/g)].map((x) => x[1]);
      assert.deepEqual([...new Set(links)], [SUPPORT_URL], 'no link but SUPPORT_URL');
    }
    // without SUPPORT_URL it still says where to turn
    const bare = createComposer(templates, loadConfig({})).composeNotice('email_changed', 'email', {
      maskedEmail: 'n***@example.org',
      changedAt: at,
      locale: 'en',
    });
    assert.match(bare.text, /contact Panic System support at once/);
    assert.doesNotMatch(bare.html!, /href=/);
  });

  it('English keeps the words the earlier messages had', () => {
    const m = composer.compose('email_verification', 'email', { code: '482913', expiresInMinutes: 2, locale: 'en' });
    assert.equal(m.subject, 'Panic System: Verify your email address');
    assert.match(m.text, /^Hello,\n/);
    assert.match(m.text, /It expires in 2 minutes\. Never share this code/);
  });

  it('a name is HTML-escaped in the HTML part and left as written in the text part', () => {
    const name = `<img src=x onerror=alert(1)> "O'Neil" & co`;
    const m = composer.compose('password_reset', 'email', {
      code: '482913',
      expiresInMinutes: 10,
      firstName: name,
      locale: 'af',
    });
    assert.ok(!m.html!.includes('<img'), m.html!);
    assert.ok(m.html!.includes('&lt;img src=x onerror=alert(1)&gt; &quot;O&#39;Neil&quot; &amp; co'), m.html!);
    assert.ok(m.text.includes(`Hallo ${name},`));
  });

  it('without PUBLIC_URL or the hash an SMS is the template alone', () => {
    const plain = createComposer(templates, loadConfig({}));
    const m = plain.compose('unlock', 'sms', { code: '482913', expiresInMinutes: 10, locale: 'zu' });
    assert.equal(m.text.split('\n').length, 1);
    assert.doesNotMatch(m.text, /@|FA\+9/);
  });
});

describe('TEMPLATES_DIR', () => {
  it('replaces the built-in templates file by file; a part it lacks in a locale comes from the built-in one, then English', () => {
    const dir = templatesDir({
      'phone_verification/sms.txt': '{{code}}: {{app_name}} phone code ({{expires_in_minutes}} min).\n',
      'email_verification/email.subject.af.txt': 'Welkom by {{app_name}}\n',
      'partials/footer.html':
        '<p>Only from {{app_name}}.{{#support_url}} <a href="{{support_url}}">Help</a>{{/support_url}}</p>\n',
    });
    const config = settings({ TEMPLATES_DIR: dir, APP_NAME: 'Ubuntu Alert' });
    const composer = loadComposer(config);
    const sms = composer.compose('phone_verification', 'sms', { code: '111222', expiresInMinutes: 10, locale: 'en' });
    assert.equal(sms.text, `111222: Ubuntu Alert phone code (10 min).\n${APP_HASH}\n@panic.example.co.za #111222`);
    // the built-in Afrikaans SMS still wins over the operator's English one for an Afrikaans account
    assert.match(
      composer.compose('phone_verification', 'sms', { code: '111222', expiresInMinutes: 10, locale: 'af' }).text,
      /^111222 is jou Ubuntu Alert-kode/,
    );
    const af = composer.compose('email_verification', 'email', { code: '111222', expiresInMinutes: 10, locale: 'af' });
    assert.equal(af.subject, 'Welkom by Ubuntu Alert');
    // a partial overrides every message that uses it, in every locale that has no partial of its own
    assert.match(
      composer.compose('unlock', 'email', { code: '111222', expiresInMinutes: 10, locale: 'en' }).html!,
      /<p>Only from Ubuntu Alert\. <a href="https:\/\/help/,
    );
    assert.doesNotMatch(af.html!, /Only from/, 'Afrikaans keeps its own built-in footer');
    // doctor: the override is fine, and says the built-in translations still apply
    const check = checkTemplateFiles(config)!;
    assert.equal(check.status, 'warn', check.finding);
    assert.match(
      check.finding,
      /phone_verification\/sms\.txt: applies to English only: phone_verification\/sms\.af\.txt, phone_verification\/sms\.zu\.txt still come from the built-in templates/,
    );
  });

  it('a template without the code, with an unknown variable or a missing partial stops the start, and doctor names each', () => {
    const dir = templatesDir({
      'email_verification/email.text.txt': 'Hello {{frist_name}}, welcome.\n',
      'unlock/sms.zu.txt': '{{> nothing}} {{code}}\n',
    });
    const config = settings({ TEMPLATES_DIR: dir });
    assert.throws(
      () => loadComposer(config),
      (err: Error) => {
        assert.ok(err instanceof TemplateError);
        assert.match(err.message, /email_verification\/email\.text\.txt: unknown variable \{\{frist_name\}\}/);
        assert.match(
          err.message,
          /email_verification\/email\.text\.txt: the code \(\{\{code\}\}\) is not in the message it renders/,
        );
        assert.match(err.message, /unlock\/sms\.zu\.txt: no partial \{\{> nothing\}\}/);
        return true;
      },
    );
    const check = checkTemplateFiles(config)!;
    assert.equal(check.status, 'fail');
    assert.match(
      check.finding,
      /^The service will not start with these templates: email_verification\/email\.text\.txt: unknown variable/,
    );
  });

  it('a notice template that shows a code (a variable of codes, or a partial that does) stops the start', () => {
    const dir = templatesDir({
      'email_changed/email.text.txt': 'Changed to {{masked_email}}. {{code}}\n',
      'email_changed/email.af.html': '<p>{{masked_email}}</p>{{> footer}}\n',
    });
    assert.throws(
      () => loadComposer(settings({ TEMPLATES_DIR: dir })),
      (err: Error) => {
        assert.ok(err instanceof TemplateError);
        assert.match(
          err.message,
          /email_changed\/email\.text\.txt: \{\{code\}\} would be empty: a notice carries no code/,
        );
        assert.match(
          err.message,
          /email_changed\/email\.af\.html: \{\{expires_in_minutes\}\}, \{\{long_code\}\} would be empty: a notice carries no code/,
        );
        return true;
      },
    );
  });

  it('a template that does not parse, or a folder that does not exist, stops the start', () => {
    const broken = templatesDir({ 'unlock/email.html': '<p>{{#code}}{{code}}</p>\n' });
    assert.throws(
      () => loadComposer(settings({ TEMPLATES_DIR: broken })),
      /unlock\/email\.html: Unclosed section "code"/,
    );
    assert.throws(() => loadComposer(settings({ TEMPLATES_DIR: join(broken, 'nope') })), TemplateError);
    assert.equal(checkTemplateFiles(settings({ TEMPLATES_DIR: broken }))!.status, 'fail');
  });

  it('doctor warns of an SMS over one segment (with this configuration) and of files the layout ignores', () => {
    const dir = templatesDir({
      'phone_verification/sms.txt': `{{code}} ${'is your code to verify your phone number '.repeat(3)}`,
      'unlock/sms.fr.txt': '{{code}}',
      'unlock/email.htm': '{{code}}',
      'signup/sms.txt': '{{code}}',
    });
    const check = checkTemplateFiles(settings({ TEMPLATES_DIR: dir }))!;
    assert.equal(check.status, 'warn', check.finding);
    assert.match(check.finding, /phone_verification\/sms\.txt: the SMS is 1\d\d characters: 2 segments, each billed/);
    assert.match(check.finding, /unlock\/sms\.fr\.txt: ignored: no messages are written in "fr"/);
    assert.match(check.finding, /unlock\/email\.htm: ignored: not a template name/);
    assert.match(check.finding, /signup: ignored: no such purpose/);
    // an accented letter outside GSM-7 makes the SMS UCS-2, 70 characters a segment
    const accented = templatesDir({
      'phone_verification/sms.af.txt':
        '{{code}} is jou kode. Moenie dit met iemand deel nie, sê ons vir jou: dit is net vir jou bedoel.',
    });
    assert.match(
      checkTemplateFiles(settings({ TEMPLATES_DIR: accented }))!.finding,
      /135 characters in UCS-2: 3 segments \(a character outside GSM-7/,
    );
    // the built-in templates alone: no line unless something is wrong with them
    assert.equal(checkTemplateFiles(settings()), undefined);
    const long = checkTemplateFiles(
      settings({
        APP_NAME: 'The Panic Button Emergency Network Co.',
        PUBLIC_URL: 'https://accounts.emergency-response.panic-system.co.za',
        OTP_LENGTH: '10',
      }),
    )!;
    assert.equal(long.status, 'warn');
    assert.match(long.finding, /built-in phone_verification\/sms\.zu\.txt: the SMS is 2\d\d characters: 2 segments/);
  });
});

describe('locale of an account', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { PUBLIC_URL, ANDROID_APP_HASH: APP_HASH } });
  });
  after(() => stack.close());

  const register = (body: RequestBody<'POST', '/api/v1/auth/register'>, acceptLanguage?: string) =>
    stack.api(
      'POST',
      '/api/v1/auth/register',
      body,
      undefined,
      acceptLanguage ? { 'accept-language': acceptLanguage } : {},
    );

  it('comes from the body, which wins over Accept-Language; the email arrives in it, headed Auto-Submitted', async () => {
    const p = person('locale-body');
    const reg = await register({ ...p, locale: 'af-ZA' }, 'zu, en;q=0.5');
    assert.equal(reg.status, 201, reg.text);
    assert.equal(reg.body.user.locale, 'af');
    const mail = await stack.smtp.waitFor(p.email);
    assert.equal(mail.subject, 'Panic System: Bevestig jou e-posadres');
    assert.match(
      mail.text,
      /^Hallo Thandi,\n\nJou kode om jou e-posadres vir Panic System te bevestig is:\n\n {4}\d{6}\n/,
    );
    assert.match(mail.html, /<html lang="af">/);
    assert.match(mail.raw, /^Auto-Submitted: auto-generated\r$/m);
    assert.match(mail.raw, /^Content-Language: af\r$/m);
  });

  it('comes from Accept-Language when the body has none (q-values and regions honoured), else DEFAULT_LOCALE', async () => {
    const cases: Array<[string | undefined, Locale]> = [
      ['fr-FR, zu-ZA;q=0.9, af;q=0.8', 'zu'],
      ['en-GB;q=0.4, af;q=0.7', 'af'],
      ['fr, de', 'en'],
      ['*', 'en'],
      [undefined, 'en'],
    ];
    for (const [header, expected] of cases) {
      const p = person('locale-header');
      const reg = await register(p, header);
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.body.user.locale, expected, `Accept-Language: ${header}`);
    }
    const p = person('locale-zu');
    assert.equal((await register(p, 'zu')).status, 201);
    assert.equal((await stack.smtp.waitFor(p.email)).subject, 'Panic System: Qinisekisa ikheli lakho le-imeyili');
  });

  it('a language no message is written in is a 400 locale_not_supported, and no account is made', async () => {
    const p = person('locale-fr');
    const reg = await register({ ...p, locale: 'fr' });
    assert.equal(reg.status, 400, reg.text);
    assert.equal(errorCode(reg), 'locale_not_supported');
    assert.match(reg.body.error.message, /en \(English\), af \(Afrikaans\), zu \(isiZulu\)/);
    const junk = await register({ ...p, locale: 'af"><script>' });
    assert.equal(junk.status, 400);
    assert.equal(errorCode(junk), 'validation_error');
    assert.equal((await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password })).status, 401);
  });

  it('PATCH /users/me changes it: me shows it and the next SMS comes in it', async () => {
    const p = person('locale-patch');
    assert.equal((await register(p, 'en')).status, 201);
    const otp = await stack.emailCode(p.email);
    assert.equal((await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp })).status, 200);
    const { access_token: token } = expectStatus(
      await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }),
      200,
    );

    assert.equal((await stack.api('PATCH', '/api/v1/users/me', { locale: 'zu' })).status, 401);
    const refused = await stack.api('PATCH', '/api/v1/users/me', { locale: 'xh' }, token);
    assert.equal(errorCode(refused), 'locale_not_supported');
    const extra = await stack.request('PATCH', '/api/v1/users/me', { locale: 'zu', first_name: 'Eve' }, token);
    assert.equal(extra.status, 400, 'a field the route would ignore is refused, not dropped');
    assert.equal((await stack.request('PATCH', '/api/v1/users/me', {}, token)).status, 400);

    const changed = await stack.api('PATCH', '/api/v1/users/me', { locale: 'ZU' }, token);
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.body.locale, 'zu');
    assert.equal(expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, token), 200).locale, 'zu');

    assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, token)).status, 200);
    const sms = await stack.sms.waitFor(p.phone);
    assert.match(sms.body, /^\d{6} yikhodi yakho ye-Panic System yokuqinisekisa inombolo yefoni\./);
    const lines = sms.body.split('\n');
    assert.equal(lines.at(-2), APP_HASH);
    assert.equal(lines.at(-1), `@panic.example.co.za #${sms.body.slice(0, 6)}`);
    assert.equal(smsLength(sms.body).segments, 1);
  });
});

describe('DEFAULT_LOCALE', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { DEFAULT_LOCALE: 'zu' } });
  });
  after(() => stack.close());

  it('is the locale of an account that named none', async () => {
    const p = person('default-zu');
    const reg = await stack.api('POST', '/api/v1/auth/register', p);
    assert.equal(reg.status, 201, reg.text);
    assert.equal(reg.body.user.locale, 'zu');
    assert.match((await stack.smtp.waitFor(p.email)).text, /^Sawubona Thandi,/);
  });
});

describe('the HTML email in headless Chromium', { skip: skipWithoutChromium }, () => {
  it('holds one column from a small phone to a desktop, with the code readable and selected by one click', {
    timeout: 60_000,
  }, async (t) => {
    const composer = createComposer(loadTemplates(), settings());
    const m = composer.compose('password_reset', 'email', {
      code: '482913',
      expiresInMinutes: 10,
      firstName: 'Pieter-Jan',
      locale: 'af',
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const shots: string[] = [];
      for (const width of [320, 375, 600, 1024]) {
        await page.setViewportSize({ width, height: 800 });
        await page.setContent(m.html!);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${width} px: ${overflow} px wider than the screen`);
        const code = page.getByText('482913', { exact: true });
        const box = (await code.boundingBox())!;
        assert.ok(
          box.x >= 0 && box.x + box.width <= width,
          `${width} px: the code box is cut off (${JSON.stringify(box)})`,
        );
        const size = await code.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
        assert.ok(size >= 28, `the code is large (${size} px)`);
        const card = (await page.locator('table[role=presentation]').nth(1).boundingBox())!;
        assert.ok(card.width <= 600, `one column of at most 600 px (${card.width})`);
        await code.click();
        assert.equal(
          await page.evaluate(() => window.getSelection()?.toString()),
          '482913',
          'one click selects exactly the code',
        );
        const shot = join(tmpdir(), `panic-email-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        shots.push(shot);
      }
      t.diagnostic(`screenshots: ${shots.join(', ')}`);
    } finally {
      await browser.close();
    }
  });
});
