/**
 * "Logs never contain a code, a password or a token" (APP_ENV=test behaves as production): every flow
 * runs through the real service, every secret it used is collected, and the log is searched for them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '../src/platform/logger.ts';
import { parseLogLines } from './support/logs.ts';
import { person, startStack, type Stack } from './support/stack.ts';

const parse = parseLogLines;

/** Distinctive, so a hit in the log can only be a leak. */
const secretPassword = (tag: string) => `pw-${tag}-${randomBytes(9).toString('base64url')}`;

describe('the log holds no secret (APP_ENV=test)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  /** Every secret used, with a label so a failure names what leaked. */
  const secrets = new Map<string, string>();
  const codes = new Map<string, string>();
  const keep = (label: string, value: string) => {
    assert.ok(value && value.length >= 8, `${label} looks like a secret: ${value}`);
    secrets.set(label, value);
  };
  const keepCode = (label: string, code: string) => {
    assert.match(code, /^\d{6}$/, label);
    codes.set(label, code);
  };

  /** Finds each secret in the raw log text; codes only as a whole number, not inside a longer one (timestamps). */
  function leaks(text: string): string[] {
    const found: string[] = [];
    for (const [label, value] of secrets) if (text.includes(value)) found.push(`${label} (${value})`);
    for (const [label, code] of codes)
      if (new RegExp(`(?<![0-9])${code}(?![0-9])`).test(text)) found.push(`${label} (${code})`);
    return found;
  }

  it('runs every flow (register, verify, login, refresh, phone, forgot/reset, unlock, password change, logout) and logs none of its secrets', async () => {
    const p = { ...person('logs'), password: secretPassword('register') };
    keep('registration password', p.password);
    const reg = await stack.api('POST', '/api/v1/auth/register', p);
    assert.equal(reg.status, 201, reg.text);
    const emailCode = await stack.emailCode(p.email, 1);
    keepCode('email verification code', emailCode);

    // a wrong code first (the failure path logs too), then the right one
    const wrong = await stack.api('POST', '/api/v1/auth/verify-account', {
      email: p.email,
      otp: emailCode === '999999' ? '999998' : '999999',
    });
    assert.equal(wrong.status, 400);
    assert.equal(
      (await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: emailCode })).status,
      200,
    );

    const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
    assert.equal(login.status, 200, login.text);
    keep('access token (login)', login.body.access_token);
    keep('refresh token (login)', login.body.refresh_token);
    keep('access token signature (login)', login.body.access_token.split('.')[2]);

    const refreshed = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: login.body.refresh_token });
    assert.equal(refreshed.status, 200, refreshed.text);
    keep('access token (refresh)', refreshed.body.access_token);
    keep('refresh token (refresh)', refreshed.body.refresh_token);
    // the dead refresh token, reused: the refusal is logged, the token is not (and the session ends)
    assert.equal(
      (await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: login.body.refresh_token })).status,
      401,
    );
    const relogin = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
    assert.equal(relogin.status, 200, relogin.text);
    keep('access token (login again)', relogin.body.access_token);
    keep('refresh token (login again)', relogin.body.refresh_token);
    const access = relogin.body.access_token;

    assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, access)).status, 200);
    const phoneSend = await stack.api('POST', '/api/v1/users/verify-phone', {}, access);
    assert.equal(phoneSend.status, 200, phoneSend.text);
    const smsCode = await stack.smsCode(p.phone, 1);
    keepCode('phone verification code', smsCode);
    const phoneOk = await stack.api('POST', '/api/v1/users/verify-otp', { otp: smsCode }, access);
    assert.equal(phoneOk.status, 200, phoneOk.text);

    assert.equal((await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email })).status, 200);
    const resetCode = await stack.emailCode(p.email, 2);
    keepCode('password reset code', resetCode);
    const newPassword = secretPassword('reset');
    keep('new password (reset)', newPassword);
    const reset = await stack.api('POST', '/api/v1/auth/reset-password', {
      email: p.email,
      otp: resetCode,
      new_password: newPassword,
    });
    assert.equal(reset.status, 200, reset.text);

    for (let i = 0; i < 5; i++) {
      const wrongPassword = secretPassword(`wrong${i}`);
      keep(`wrong password #${i + 1}`, wrongPassword);
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: wrongPassword })).status,
        401,
      );
    }
    const throttled = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: newPassword });
    assert.equal(throttled.status, 429, throttled.text);
    assert.equal(
      (await stack.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: p.phone, delivery_method: 'sms' }))
        .status,
      200,
    );
    const unlockCode = await stack.smsCode(p.phone, 2);
    keepCode('unlock code', unlockCode);
    const unlocked = await stack.api('POST', '/api/v1/auth/verify-unlock-otp', {
      identifier: p.phone,
      otp: unlockCode,
    });
    assert.equal(unlocked.status, 200, unlocked.text);

    const again = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: newPassword });
    assert.equal(again.status, 200, again.text);
    keep('access token (after reset)', again.body.access_token);
    keep('refresh token (after reset)', again.body.refresh_token);
    // a password change: a wrong current password (a failed sign-in), then the right one
    const wrongCurrent = secretPassword('wrong-current');
    keep('wrong current password', wrongCurrent);
    const changedPassword = secretPassword('changed');
    keep('new password (change)', changedPassword);
    const change = (current_password: string) =>
      stack.api(
        'POST',
        '/api/v1/users/me/password',
        { current_password, new_password: changedPassword },
        again.body.access_token,
      );
    assert.equal((await change(wrongCurrent)).status, 401);
    assert.equal((await change(newPassword)).status, 200);
    const out = await stack.api(
      'POST',
      '/api/v1/auth/logout',
      { refresh_token: again.body.refresh_token },
      again.body.access_token,
    );
    assert.equal(out.status, 200, out.text);
    // the revoked access token, refused
    assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, again.body.access_token)).status, 401);

    // an unverified account: its first code and the resent one
    const q = { ...person('logs-resend'), password: secretPassword('unverified') };
    keep('password of the unverified account', q.password);
    assert.equal((await stack.api('POST', '/api/v1/users/register', q)).status, 200);
    keepCode('first verification code of the unverified account', await stack.emailCode(q.email, 1));
    assert.equal((await stack.api('POST', '/api/v1/auth/resend-verification', { email: q.email })).status, 200);
    keepCode('resent verification code', await stack.emailCode(q.email, 2));
    // a correct password on the unverified account answers 403: the refusal is logged, not the password
    assert.equal((await stack.api('POST', '/api/v1/auth/login', { email: q.email, password: q.password })).status, 403);

    // a password in a body that fails validation
    const invalidBodyPassword = secretPassword('invalid-body');
    keep('password in a refused body', invalidBodyPassword);
    assert.equal(
      (await stack.api('POST', '/api/v1/auth/login', { email: 'not-an-email', password: invalidBodyPassword })).status,
      400,
    );
    // and in a body that is not even JSON
    const brokenJsonPassword = secretPassword('broken-json');
    keep('password in broken JSON', brokenJsonPassword);
    assert.equal(
      (await stack.request('POST', '/api/v1/auth/login', `{"email": "${p.email}", "password": "${brokenJsonPassword}"`))
        .status,
      400,
    );

    const lines = parse(stack.logs);
    // The log is not empty: every request was logged (so the search below searched something).
    const urls = lines.filter((l) => l.msg === 'incoming request').map((l) => l.req?.url ?? '');
    for (const path of [
      '/api/v1/auth/register',
      '/api/v1/auth/verify-account',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/users/verify-phone',
      '/api/v1/users/verify-otp',
      '/api/v1/auth/reset-password',
      '/api/v1/auth/verify-unlock-otp',
      '/api/v1/users/me/password',
      '/api/v1/auth/logout',
    ]) {
      assert.ok(
        urls.some((u) => u.startsWith(path)),
        `a request line for ${path} is in the log`,
      );
    }
    assert.ok(
      lines.filter((l) => l.msg === 'request completed').length >= urls.length - 1,
      'completed requests are logged',
    );
    assert.ok(
      lines.some((l) => l.msg === 'message sent'),
      'the worker logged its deliveries',
    );
    assert.ok(codes.size >= 6 && secrets.size >= 15, `collected ${codes.size} codes and ${secrets.size} other secrets`);

    assert.deepEqual(leaks(stack.logs.join('')), [], 'secrets found in the log');
    // No fallback line either: APP_ENV=test never logs a code.
    assert.ok(!lines.some((l) => /with OTP/i.test(l.msg ?? '')), 'no "with OTP" line in test');
  });

  it('a password or token sent in a query string or a header is not logged', async () => {
    const before = stack.logs.length;
    const queryPassword = secretPassword('query');
    const queryToken = `tok-${randomBytes(16).toString('hex')}`;
    const headerPassword = secretPassword('header');
    const bearer = `bearer-${randomBytes(16).toString('hex')}`;
    const p = person('logs-query');

    const res = await fetch(
      `${stack.baseUrl}/api/v1/auth/login?password=${encodeURIComponent(queryPassword)}&email=${encodeURIComponent(p.email)}`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-password': headerPassword,
          authorization: `Bearer ${bearer}`,
        },
        body: JSON.stringify({ email: p.email, password: 'x' }),
      },
    );
    assert.equal(res.status, 401);
    await res.text();
    const me = await fetch(`${stack.baseUrl}/api/v1/auth/me?access_token=${queryToken}`, {
      headers: { 'x-api-key': headerPassword, cookie: `session=${bearer}` },
    });
    assert.equal(me.status, 401);
    await me.text();
    // an unknown path with a secret in its query string (the 404 path logs too)
    const nowhere = await fetch(`${stack.baseUrl}/api/v1/nowhere?token=${queryToken}`);
    assert.equal(nowhere.status, 404);
    await nowhere.text();

    const text = stack.logs.slice(before).join('');
    const lines = parse(stack.logs.slice(before));
    const urls = lines.filter((l) => l.msg === 'incoming request').map((l) => l.req?.url ?? '');
    assert.ok(
      urls.some((u) => u.startsWith('/api/v1/auth/login')),
      `the login request was logged: ${urls.join(', ')}`,
    );
    assert.ok(
      urls.some((u) => u.startsWith('/api/v1/auth/me')),
      'the /me request was logged',
    );
    assert.ok(
      urls.some((u) => u.startsWith('/api/v1/nowhere')),
      'the unknown path was logged',
    );
    for (const [label, value] of [
      ['password in the query string', queryPassword],
      ['token in the query string', queryToken],
      ['password in a header', headerPassword],
      ['Bearer token in the Authorization header', bearer],
    ]) {
      assert.ok(!text.includes(value) && !text.includes(encodeURIComponent(value)), `${label} is in the log: ${text}`);
    }
  });
});

describe("the service's logger", () => {
  // The service logs requests (and the errors of requests) through this logger: what it keeps of a
  // request, and what it censors in any line, decide whether a secret in a header or a body gets out.
  it('keeps headers and the body out of a request it logs, and censors secret fields wherever a line has them', () => {
    const out: string[] = [];
    const logger = createLogger(
      { APP_ENV: 'test', LOG_LEVEL: 'info' },
      new Writable({ write: (chunk, _enc, done) => done(void out.push(chunk.toString())) }),
    );
    const secrets: string[] = [];
    const secret = (tag: string) => {
      const value = secretPassword(tag);
      secrets.push(value);
      return value;
    };
    const code = String(100_000 + (randomBytes(3).readUIntBE(0, 3) % 900_000));

    const request = {
      method: 'POST',
      url: `/api/v1/auth/login?password=${secret('query')}`,
      headers: {
        authorization: `Bearer ${secret('auth')}`,
        cookie: `session=${secret('cookie')}`,
        'x-password': secret('x-password'),
      },
      body: { password: secret('body') },
    };
    logger.error({ req: request, err: { message: 'boom', params: [secret('param')] } }, 'request errored');
    logger.info(
      {
        password: secret('password'),
        new_password: secret('new-password'),
        otp: code,
        otp_code: code,
        token: secret('token'),
        access_token: secret('access'),
        refresh_token: secret('refresh'),
        body: { password: secret('nested-password'), otp: code, refresh_token: secret('nested-refresh') },
        res: { headers: { 'set-cookie': `session=${secret('set-cookie')}` } },
      },
      'fields',
    );

    const [errored, fields] = parse(out);
    assert.deepEqual(
      errored.req,
      { method: 'POST', url: '/api/v1/auth/login?password=[redacted]' },
      'the request line keeps method and path only',
    );
    assert.equal(fields.password, '[redacted]', 'a censored field is still named');
    const text = out.join('');
    for (const value of secrets) assert.ok(!text.includes(value), `${value} is in the log: ${text}`);
    assert.doesNotMatch(text, new RegExp(`(?<![0-9])${code}(?![0-9])`), 'the code is in the log');
  });
});
