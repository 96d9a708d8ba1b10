/**
 * The development fallback (DESIGN.md, Delivery): with a channel not configured or failing, development
 * captures the message and logs the one line people grep for; test (= production) never does, and
 * retries instead. Also the generic HTTP SMS provider, end to end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort as closedPort } from './support/net.ts';
import type { Message } from '../src/platform/db/schema.ts';
import { parseLogLines } from './support/logs.ts';
import { DEV_ENV } from './support/dev-inbox.ts';
import { person, startStack, type Stack } from './support/stack.ts';
import { startHttpSmsServer, type HttpSmsFixture } from './support/sms.ts';
import { messagesTo, newestMessageWhen } from './support/outbox-rows.ts';
import { waitUntil } from './support/wait.ts';

const logLines = (stack: Stack) => parseLogLines(stack.logs);

/** The newest message to `recipient` once `done` holds for it. */
const messageWhen = (stack: Stack, recipient: string, done: (m: Message) => boolean, what: string) =>
  newestMessageWhen(stack, recipient, done, what, 10_000);

const EMAIL_LINE = /^SMTP server not accessible, simulating verification email to (\S+) with OTP: (\d+)$/;
const SMS_LINE = /^SMS provider not configured, simulating verification SMS to (\S+) with OTP: (\d+)$/;

/** The fallback lines for one recipient; the test asserts there is exactly one. */
const fallbackLines = (stack: Stack, pattern: RegExp, recipient: string) =>
  logLines(stack)
    .map((l) => (l.msg ?? '').match(pattern))
    .filter((m): m is RegExpMatchArray => m !== null && m[1] === recipient);

async function registerNew(stack: Stack, tag: string) {
  const p = person(tag);
  const reg = await stack.api('POST', '/api/v1/auth/register', p);
  assert.equal(reg.status, 201, reg.text);
  return p;
}

/** A new account verified with the code of its fallback line, and logged in (development only). */
async function verifiedFromFallback(stack: Stack, tag: string) {
  const p = await registerNew(stack, tag);
  const line = await waitUntil(() => fallbackLines(stack, EMAIL_LINE, p.email)[0], {
    timeoutMs: 10_000,
    what: `the fallback line for ${p.email}`,
  });
  const ver = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: line[2] });
  assert.equal(ver.status, 200, ver.text);
  const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
  assert.equal(login.status, 200, login.text);
  return { account: p, accessToken: login.body.access_token };
}

describe('development, nothing configured: codes are captured and logged once', () => {
  let stack: Stack;
  before(async () => {
    // Every provider setting startStack fills in emptied, the sender too: nothing is configured.
    stack = await startStack({ env: { ...DEV_ENV, FROM_EMAIL: '' } });
  });
  after(() => stack?.close());

  it('registering logs exactly one "SMTP server not accessible" line with the code, and the message is captured', async () => {
    assert.equal(stack.runtime.config.isDevelopment, true);
    assert.equal(stack.runtime.config.SMTP_SERVER, undefined, 'SMTP is not configured');
    const account = await registerNew(stack, 'devfallback');
    const row = await messageWhen(
      stack,
      account.email,
      (m) => m.status !== 'queued' && m.status !== 'sending',
      'a final state',
    );
    assert.equal(row.status, 'captured', `status ${row.status}, last_error ${row.last_error}`);
    assert.equal(row.channel, 'email');
    assert.match(row.last_error ?? '', /SMTP/, 'the reason is kept');
    assert.equal(row.attempts, 1, 'captured at once, no pointless retries');

    const lines = fallbackLines(stack, EMAIL_LINE, account.email);
    assert.equal(lines.length, 1, `exactly one fallback line for ${account.email}: ${JSON.stringify(lines)}`);
    const code = lines[0][2];
    assert.match(code, /^\d{6}$/);
    assert.equal(
      lines[0][0],
      `SMTP server not accessible, simulating verification email to ${account.email} with OTP: ${code}`,
    );
    assert.equal(
      stack.runtime.services.seal.open(row).otp,
      code,
      'the dev inbox keeps the same code (development keeps the body, sealed)',
    );
    assert.ok(!JSON.stringify(row).includes(code), 'the stored row holds no readable code, in development too');
    assert.equal(stack.smtp.messages.length, 0, 'no mail went anywhere');

    const ver = await stack.api('POST', '/api/v1/auth/verify-account', { email: account.email, otp: code });
    assert.equal(ver.status, 200, ver.text);
    assert.equal(ver.body.is_verified, true);
    // nothing else was logged for this address afterwards
    assert.equal(fallbackLines(stack, EMAIL_LINE, account.email).length, 1);
  });

  it('phone verification logs "SMS provider not configured, simulating verification SMS" with a code that verifies the phone', async () => {
    const { account, accessToken } = await verifiedFromFallback(stack, 'devfallback-phone');
    const send = await stack.api('POST', '/api/v1/users/verify-phone', {}, accessToken);
    assert.equal(send.status, 200, send.text);
    const row = await messageWhen(
      stack,
      account.phone,
      (m) => m.status !== 'queued' && m.status !== 'sending',
      'a final state',
    );
    assert.equal(row.status, 'captured', `status ${row.status}, last_error ${row.last_error}`);
    assert.equal(row.channel, 'sms');
    assert.match(row.last_error ?? '', /SMS_PROVIDER|not configured/);

    const lines = fallbackLines(stack, SMS_LINE, account.phone);
    assert.equal(lines.length, 1, `exactly one SMS fallback line: ${JSON.stringify(lines)}`);
    const code = lines[0][2];
    assert.match(code, /^\d{6}$/);
    assert.equal(stack.sms.messages.length, 0, 'no SMS went anywhere');

    const ver = await stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, accessToken);
    assert.equal(ver.status, 200, ver.text);
    assert.equal(ver.body.phone_verified, true);
  });
});

describe('development, SMTP on a closed port, SMS through the generic HTTP provider', () => {
  let stack: Stack;
  let httpSms: HttpSmsFixture;
  let port = 0;
  before(async () => {
    httpSms = await startHttpSmsServer();
    port = await closedPort();
    stack = await startStack({
      env: {
        APP_ENV: 'development',
        SMTP_SERVER: '127.0.0.1',
        SMTP_PORT: String(port),
        SMS_PROVIDER: 'http',
        SMS_API_URL: httpSms.url,
        SMS_API_KEY: httpSms.apiKey,
        SMS_ACCOUNT_SID: '',
        SMS_FROM: '',
      },
    });
  });
  after(async () => {
    await stack?.close();
    await httpSms?.close();
  });

  it('a failed send is captured too, with the reason kept in last_error', async () => {
    const account = await registerNew(stack, 'devclosed');
    const row = await messageWhen(
      stack,
      account.email,
      (m) => m.status !== 'queued' && m.status !== 'sending',
      'a final state',
    );
    assert.equal(row.status, 'captured', `status ${row.status}, last_error ${row.last_error}`);
    assert.match(
      row.last_error ?? '',
      /ECONNREFUSED|connect/i,
      `the connection failure is the reason: ${row.last_error}`,
    );
    assert.match(row.last_error ?? '', new RegExp(String(port)), 'it names the port it tried');

    const lines = fallbackLines(stack, EMAIL_LINE, account.email);
    assert.equal(lines.length, 1, `exactly one fallback line: ${JSON.stringify(lines)}`);
    const ver = await stack.api('POST', '/api/v1/auth/verify-account', { email: account.email, otp: lines[0][2] });
    assert.equal(ver.status, 200, ver.text);
  });

  it('SMS_PROVIDER=http delivers the phone code as JSON {to, body} with the Bearer key', async () => {
    const { account, accessToken } = await verifiedFromFallback(stack, 'devclosed-phone');
    const send = await stack.api('POST', '/api/v1/users/verify-phone', {}, accessToken);
    assert.equal(send.status, 200, send.text);

    // The fixture answers 401 without "Authorization: Bearer <key>" and 400 unless the body is JSON {to, body}.
    const sms = await httpSms.waitFor(account.phone);
    assert.equal(sms.to, account.phone, 'E.164 recipient');
    assert.match(sms.body, /never share this code/i);
    const code = sms.body.match(/\b(\d{6})\b/)?.[1];
    assert.ok(code, `a code in: ${sms.body}`);
    assert.equal(httpSms.requests, 1, 'accepted at the first request (right key, right shape)');

    const row = await messageWhen(stack, account.phone, (m) => m.status === 'sent', 'sent');
    assert.equal(row.provider_id, sms.id, 'the provider id is recorded');
    assert.equal(fallbackLines(stack, SMS_LINE, account.phone).length, 0, 'delivered for real: no fallback line');

    const ver = await stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, accessToken);
    assert.equal(ver.status, 200, ver.text);
    assert.equal(ver.body.phone_verified, true);
  });
});

describe('test (= production), SMTP on a closed port: no fallback, the message is retried', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      env: { APP_ENV: 'test', SMTP_SERVER: '127.0.0.1', SMTP_PORT: String(await closedPort()) },
    });
  });
  after(() => stack?.close());

  it('never logs the code nor captures the message; it stays queued (or failed) with the connection error', async () => {
    assert.equal(stack.runtime.config.isDevelopment, false);
    const p = await registerNew(stack, 'testclosed');
    // The code is readable in the row only while the message is in flight: take it now.
    const [first] = await messagesTo(stack, p.email);
    assert.ok(first?.otp, 'the queued message holds its code');
    const code = first.otp;

    const row = await messageWhen(
      stack,
      p.email,
      (m) => m.attempts >= 2 && m.last_error !== null && (m.status === 'queued' || m.status === 'failed'),
      'two failed attempts',
    );
    assert.ok(['queued', 'failed'].includes(row.status), `status ${row.status}`);
    assert.match(row.last_error ?? '', /ECONNREFUSED|connect/i, `the reason: ${row.last_error}`);
    if (row.status === 'queued')
      assert.ok(
        new Date(row.next_attempt_at).getTime() > new Date(row.created_at).getTime(),
        'a later attempt is planned',
      );

    const lines = logLines(stack);
    assert.ok(
      lines.some((l) => /will retry|failed/.test(l.msg ?? '')),
      'the failure is logged (without the code)',
    );
    assert.ok(
      lines.some((l) => l.msg === 'incoming request'),
      'requests are logged',
    );
    assert.equal(lines.filter((l) => /simulating|with OTP/i.test(l.msg ?? '')).length, 0, 'no fallback line in test');
    const text = stack.logs.join('');
    assert.doesNotMatch(text, new RegExp(`(?<![0-9])${code}(?![0-9])`), 'the code is nowhere in the log');

    // and the worker's next go at it (another attempt, or giving up) does not capture it either
    const later = await messageWhen(
      stack,
      p.email,
      (m) => m.status !== 'sending' && (m.attempts > row.attempts || m.status === 'failed'),
      'another attempt, or failed',
    );
    assert.ok(['queued', 'failed'].includes(later.status), `status ${later.status}`);
    assert.equal(fallbackLines(stack, EMAIL_LINE, p.email).length, 0, 'no fallback line in test');
    assert.equal(stack.smtp.messages.length, 0);
  });
});
