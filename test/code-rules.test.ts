import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { startSession } from '../src/accounts/sessions.ts';
import { waitUntil } from './support/wait.ts';
import { type ApiResponse, assertRateLimited, errorCode } from './support/api.ts';
import { databaseKinds, person, startStack, registered, verifiedLogin, type Stack } from './support/stack.ts';
import { skipUnlessRedis } from './support/redis.ts';

const START = Date.parse('2031-05-04T10:00:00.000Z');

for (const db of await databaseKinds()) {
  describe(`code rules: length, lifetime, replacement, storage, purpose (${db})`, () => {
    let stack: Stack;
    let now = START;
    before(async () => {
      stack = await startStack({ db, clock: () => new Date(now), env: { OTP_LENGTH: '8', OTP_TTL_SECONDS: '120' } });
    });
    after(() => stack.close());

    const otpRow = (userId: string, purpose: 'email_verification' | 'phone_verification' | 'password_reset') =>
      stack.runtime.services.db
        .selectFrom('otp_codes')
        .selectAll()
        .where('user_id', '=', userId)
        .where('purpose', '=', purpose)
        .executeTakeFirstOrThrow();

    it('OTP_LENGTH=8 makes 8-digit codes, by email and by SMS', async () => {
      const { code } = await registered(stack, 'len');
      assert.match(code, /^\d{8}$/);
      const { person: p, tokens } = await verifiedLogin(stack, 'len-sms');
      assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token)).status, 200);
      const sms = await stack.sms.waitFor(p.phone);
      assert.match(sms.body, /\b\d{8}\b/);
      assert.doesNotMatch(sms.body, /\b\d{6}\b/);
      assert.match(await stack.smsCode(p.phone), /^\d{8}$/);
    });

    it('OTP_TTL_SECONDS=120 answers expires_in_minutes: 2 and an expires_at 120 s ahead, and the message says so', async () => {
      const { p, reg } = await registered(stack, 'ttl');
      assert.equal(reg.body.verification.expires_in_minutes, 2);
      assert.equal(reg.body.verification.expires_at, new Date(now + 120_000).toISOString());
      const resend = await stack.api('POST', '/api/v1/auth/resend-verification', { email: p.email });
      assert.equal(resend.status, 200, resend.text);
      assert.equal(resend.body.expires_in_minutes, 2);
      assert.equal(resend.body.expires_at, new Date(now + 120_000).toISOString());
      const mail = await stack.smtp.waitFor(p.email);
      assert.match(mail.text, /expires in 2 minutes/);
    });

    it('a code works until OTP_TTL_SECONDS have passed, then is refused (otp_invalid: verify-account hides why)', async () => {
      const early = await registered(stack, 'exp-early');
      const late = await registered(stack, 'exp-late');
      now += 119_000;
      const inTime = await stack.api('POST', '/api/v1/auth/verify-account', { email: early.p.email, otp: early.code });
      assert.equal(inTime.status, 200, inTime.text);
      now += 2_000;
      const expired = await stack.api('POST', '/api/v1/auth/verify-account', { email: late.p.email, otp: late.code });
      assert.equal(expired.status, 400, expired.text);
      // An unknown address can only ever get otp_invalid, so a known one gets it too (issue 4, item 6).
      assert.equal(expired.body.error.code, 'otp_invalid');
      const row = await otpRow(late.userId, 'email_verification');
      assert.equal(row.consumed_at, null);
      // A new code then works.
      assert.equal((await stack.api('POST', '/api/v1/auth/resend-verification', { email: late.p.email })).status, 200);
      const fresh = await stack.emailCode(late.p.email, 2);
      const ok = await stack.api('POST', '/api/v1/auth/verify-account', { email: late.p.email, otp: fresh });
      assert.equal(ok.status, 200, ok.text);
    });

    it('a new code kills the old one: one live code per user and purpose', async () => {
      const { p, code: first, userId } = await registered(stack, 'replace');
      let second = first;
      for (let n = 2; second === first; n++) {
        const res = await stack.api('POST', '/api/v1/auth/resend-verification', { email: p.email });
        assert.equal(res.status, 200, res.text);
        second = await stack.emailCode(p.email, n);
      }
      const rows = await stack.runtime.services.db
        .selectFrom('otp_codes')
        .select('id')
        .where('user_id', '=', userId)
        .where('purpose', '=', 'email_verification')
        .execute();
      assert.equal(rows.length, 1);
      const old = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: first });
      assert.equal(old.status, 400);
      assert.equal(old.body.error.code, 'otp_invalid');
      const ok = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: second });
      assert.equal(ok.status, 200, ok.text);
    });

    it('the database never holds a code in clear: otp_codes keeps an HMAC-SHA256, messages are redacted once sent', async () => {
      const { p, code, userId } = await registered(stack, 'hash');
      const row = await otpRow(userId, 'email_verification');
      assert.match(row.code_hash, /^[0-9a-f]{64}$/, 'a hex SHA-256 digest');
      assert.notEqual(row.code_hash, code);
      assert.ok(!row.code_hash.includes(code));
      assert.ok(!JSON.stringify(row).includes(code), 'no column of the row holds the code');
      // Keyed with OTP_SECRET and bound to purpose and destination: not a bare hash of the code.
      const hmac = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');
      const secret = stack.runtime.config.OTP_SECRET;
      assert.equal(row.code_hash, hmac(secret, `email_verification\u0000${p.email}\u0000${code}`));
      assert.notEqual(row.code_hash, hmac(secret, code));
      assert.notEqual(row.code_hash, hmac('', code));

      // The outbox row of that code is redacted once delivered (APP_ENV=test is not development).
      const msg = await waitUntil(
        () =>
          stack.runtime.services.db
            .selectFrom('messages')
            .selectAll()
            .where('recipient', '=', p.email)
            .where('status', '=', 'sent')
            .executeTakeFirst(),
        { what: 'the message to be recorded as sent' },
      );
      assert.equal(msg.otp, null);
      assert.ok(!JSON.stringify(msg).includes(code), 'the sent message row holds no code');
    });

    it('a code for one purpose does not verify another: email vs phone, email verification vs password reset', async () => {
      const { p, code: emailCode, userId } = await registered(stack, 'purpose');
      // A session for the still unverified account, so it can ask for a phone code too.
      const { access_token } = await startSession(
        stack.runtime.services,
        userId,
        { method: 'password', requester: { network: '127.0.0.0/24' } },
        new Date(now),
      );
      assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, access_token)).status, 200);
      const phoneCode = await stack.smsCode(p.phone);
      assert.equal((await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email })).status, 200);
      const resetCode = await stack.emailCode(p.email, 2);
      assert.equal(
        new Set([emailCode, phoneCode, resetCode]).size,
        3,
        'three different codes (a 1e-8 coincidence otherwise)',
      );

      const refused = async (res: Promise<ApiResponse>, what: string) => {
        const r = await res;
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(errorCode(r), 'otp_invalid', what);
      };
      await refused(
        stack.api('POST', '/api/v1/users/verify-otp', { otp: emailCode }, access_token),
        'email code as phone code',
      );
      await refused(
        stack.api('POST', '/api/v1/users/verify-otp', { otp: resetCode }, access_token),
        'reset code as phone code',
      );
      await refused(
        stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: phoneCode }),
        'phone code as email code',
      );
      await refused(
        stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: resetCode }),
        'reset code as email code',
      );
      await refused(
        stack.api('POST', '/api/v1/auth/reset-password', {
          email: p.email,
          otp: emailCode,
          new_password: 'a new long secret',
        }),
        'email code as reset code',
      );
      await refused(
        stack.api('POST', '/api/v1/auth/reset-password', {
          email: p.email,
          otp: phoneCode,
          new_password: 'a new long secret',
        }),
        'phone code as reset code',
      );

      // Each still works where it belongs.
      const phone = await stack.api('POST', '/api/v1/users/verify-otp', { otp: phoneCode }, access_token);
      assert.equal(phone.status, 200, phone.text);
      assert.equal(phone.body.phone_verified, true);
      assert.equal(phone.body.user.email_verified, false, 'a phone code verified no email');
      const email = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: emailCode });
      assert.equal(email.status, 200, email.text);
      const reset = await stack.api('POST', '/api/v1/auth/reset-password', {
        email: p.email,
        otp: resetCode,
        new_password: 'a new long secret',
      });
      assert.equal(reset.status, 200, reset.text);
    });
  });

  describe(`per-IP rate limit per route family (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db, env: { RATE_LIMIT_IP_PER_MINUTE: '3' } });
    });
    after(() => stack.close());

    it('RATE_LIMIT_IP_PER_MINUTE=3: the 4th /api/v1/auth request is 429 with Retry-After; /health still answers', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await stack.api('POST', '/api/v1/auth/resend-verification', { email: person('ip').email });
        assert.equal(res.status, 200, res.text);
      }
      const fourth = await stack.api('POST', '/api/v1/auth/login', {
        email: person('ip').email,
        password: 'whatever it is',
      });
      assertRateLimited(fourth, 60);
      assertRateLimited(await stack.api('POST', '/api/v1/auth/resend-verification', { email: person('ip').email }), 60);
      for (let i = 0; i < 5; i++) {
        const health = await stack.api('GET', '/health');
        assert.equal(health.status, 200, health.text);
      }
      assert.equal((await stack.api('GET', '/health/ready')).status, 200);
      // Another family has its own budget (the /users/me alias is not another family: it spends /auth's).
      const users = await stack.api('POST', '/api/v1/users/verify-phone', {});
      assert.equal(users.status, 401, users.text);
    });
  });
}

const redisSkip = await skipUnlessRedis();

describe('resend cooldown shared through Redis by two service instances', () => {
  const skip = redisSkip;
  let a: Stack;
  let b: Stack;
  before(async () => {
    if (skip) return;
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', OTP_RESEND_COOLDOWN_SECONDS: '60' };
    // One after the other: two PGlites starting at once hold the event loop past Fastify's plugin timeout.
    a = await startStack({ env });
    b = await startStack({ env });
  });
  after(() => Promise.all([a?.close(), b?.close()]));

  it('the second instance answers 429 for an address the first just sent to', { skip }, async () => {
    const email = `redis.${randomBytes(8).toString('hex')}@example.test`;
    const first = await a.api('POST', '/api/v1/auth/resend-verification', { email });
    assert.equal(first.status, 200, first.text);
    const second = await b.api('POST', '/api/v1/auth/resend-verification', { email });
    assertRateLimited(second, 60);
    // The same instance agrees, and another address is not held up on either.
    assertRateLimited(await a.api('POST', '/api/v1/auth/forgot-password', { email }), 60);
    const other = `redis.${randomBytes(8).toString('hex')}@example.test`;
    assert.equal((await b.api('POST', '/api/v1/auth/resend-verification', { email: other })).status, 200);
  });
});
