import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ApiResponse, assertRateLimited, errorCode } from './support/api.ts';
import {
  databaseKinds,
  insertedAccount,
  person,
  startStack,
  verifiedLogin,
  wrongCode,
  type Stack,
} from './support/stack.ts';

/** Time stands still in these stacks, so expires_at (and any "try again in N s") cannot differ between answers. */
const FIXED = new Date('2031-05-04T10:00:00.000Z');
const pinned = () => new Date(FIXED);

/** Status and the exact bytes of the body. */
const answer = (r: ApiResponse) => ({ status: r.status, text: r.text });

const messagesTo = async (stack: Stack, recipient: string) =>
  (
    await stack.runtime.services.db
      .selectFrom('messages')
      .select(['purpose'])
      .where('recipient', '=', recipient)
      .execute()
  ).map((m) => m.purpose);

for (const db of await databaseKinds()) {
  describe(`no account enumeration (${db})`, () => {
    let stack: Stack;
    let verified: Awaited<ReturnType<typeof verifiedLogin>>;
    let unverified: ReturnType<typeof person>;
    before(async () => {
      stack = await startStack({ db, clock: pinned });
      verified = await verifiedLogin(stack, 'enum-verified');
      unverified = person('enum-unverified');
      const reg = await stack.api('POST', '/api/v1/auth/register', unverified);
      assert.equal(reg.status, 201, reg.text);
      await stack.emailCode(unverified.email, 1);
    });
    after(() => stack.close());

    it('resend-verification answers byte for byte the same for a verified, an unverified and an unknown address', async () => {
      const unknown = person('enum-ghost').email;
      const [v, u, x] = [
        await stack.api('POST', '/api/v1/auth/resend-verification', { email: verified.person.email }),
        await stack.api('POST', '/api/v1/auth/resend-verification', { email: unverified.email }),
        await stack.api('POST', '/api/v1/auth/resend-verification', { email: unknown }),
      ];
      assert.equal(v.status, 200, v.text);
      assert.deepEqual(answer(u), answer(v));
      assert.deepEqual(answer(x), answer(v));
      assert.equal(v.body.expires_at, new Date(FIXED.getTime() + 600_000).toISOString());
      // The answers are the same, yet only the unverified address really got a new code.
      await stack.emailCode(unverified.email, 2);
      assert.deepEqual(await messagesTo(stack, verified.person.email), ['email_verification']);
      assert.deepEqual(await messagesTo(stack, unknown), []);
    });

    it('forgot-password answers byte for byte the same for a verified, an unverified and an unknown address', async () => {
      const unverified2 = person('enum-unverified2');
      assert.equal((await stack.api('POST', '/api/v1/auth/register', unverified2)).status, 201);
      const unknown = person('enum-ghost').email;
      const [v, u, x] = [
        await stack.api('POST', '/api/v1/auth/forgot-password', { email: verified.person.email }),
        await stack.api('POST', '/api/v1/auth/forgot-password', { email: unverified2.email }),
        await stack.api('POST', '/api/v1/auth/forgot-password', { email: unknown }),
      ];
      assert.equal(v.status, 200, v.text);
      assert.deepEqual(answer(u), answer(v));
      assert.deepEqual(answer(x), answer(v));
      assert.ok((await messagesTo(stack, verified.person.email)).includes('password_reset'));
      assert.ok((await messagesTo(stack, unverified2.email)).includes('password_reset'));
      assert.deepEqual(await messagesTo(stack, unknown), []);
    });

    it('request-unlock-otp answers the same for an existing and an unknown identifier, by email and by SMS', async () => {
      const unknownEmail = person('enum-ghost').email;
      const known = await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
        identifier: verified.person.email,
        delivery_method: 'email',
      });
      const ghost = await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
        identifier: unknownEmail,
        delivery_method: 'email',
      });
      assert.equal(known.status, 200, known.text);
      assert.deepEqual(answer(ghost), answer(known));
      assert.ok((await messagesTo(stack, verified.person.email)).includes('unlock'));
      assert.deepEqual(await messagesTo(stack, unknownEmail), []);

      // By phone: a verified number versus one no account has.
      const { person: p, tokens } = await verifiedLogin(stack, 'enum-phone');
      assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token)).status, 200);
      const code = await stack.smsCode(p.phone);
      assert.equal(
        (await stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, tokens.access_token)).status,
        200,
      );
      const unknownPhone = person('enum-ghost').phone;
      const knownSms = await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
        identifier: p.phone,
        delivery_method: 'sms',
      });
      const ghostSms = await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
        identifier: unknownPhone,
        delivery_method: 'sms',
      });
      assert.equal(knownSms.status, 200, knownSms.text);
      assert.deepEqual(answer(ghostSms), answer(knownSms));
      await stack.smsCode(p.phone, 2);
      assert.deepEqual(await messagesTo(stack, unknownPhone), []);
    });

    it('verify-account with an unknown email answers exactly what a wrong code for a known email answers', async () => {
      const code = await stack.emailCode(unverified.email);
      const wrong = await stack.api('POST', '/api/v1/auth/verify-account', {
        email: unverified.email,
        otp: wrongCode(code),
      });
      const ghost = await stack.api('POST', '/api/v1/auth/verify-account', {
        email: person('enum-ghost').email,
        otp: wrongCode(code),
      });
      const done = await stack.api('POST', '/api/v1/auth/verify-account', {
        email: verified.person.email,
        otp: wrongCode(code),
      });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error.code, 'otp_invalid');
      assert.deepEqual(answer(ghost), answer(wrong));
      assert.deepEqual(answer(done), answer(wrong), 'an already verified address answers the same too');
      // The same holds where the other codes are checked.
      const resetWrong = await stack.api('POST', '/api/v1/auth/reset-password', {
        email: verified.person.email,
        otp: wrongCode(code),
        new_password: 'another long secret',
      });
      const resetGhost = await stack.api('POST', '/api/v1/auth/reset-password', {
        email: person('enum-ghost').email,
        otp: wrongCode(code),
        new_password: 'another long secret',
      });
      assert.deepEqual(answer(resetGhost), answer(resetWrong));
      assert.equal(errorCode(resetWrong), 'otp_invalid');
      const unlockWrong = await stack.api('POST', '/api/v1/auth/verify-unlock-otp', {
        identifier: verified.person.email,
        otp: wrongCode(code),
      });
      const unlockGhost = await stack.api('POST', '/api/v1/auth/verify-unlock-otp', {
        identifier: person('enum-ghost').email,
        otp: wrongCode(code),
      });
      assert.deepEqual(answer(unlockGhost), answer(unlockWrong));
      assert.equal(errorCode(unlockWrong), 'otp_invalid');
    });

    it('login with an unknown email answers exactly what a wrong password answers, throttle included', async () => {
      const { person: p } = await verifiedLogin(stack, 'enum-login');
      const ghost = person('enum-ghost').email;
      for (let i = 0; i < 5; i++) {
        const wrong = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: `not it ${i}` });
        const unknown = await stack.api('POST', '/api/v1/auth/login', { email: ghost, password: `not it ${i}` });
        assert.equal(wrong.status, 401, wrong.text);
        assert.equal(wrong.body.error.code, 'invalid_credentials');
        assert.deepEqual(answer(unknown), answer(wrong));
      }
      const wrong = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      const unknown = await stack.api('POST', '/api/v1/auth/login', { email: ghost, password: p.password });
      assert.equal(wrong.status, 429, wrong.text);
      assert.deepEqual(answer(unknown), answer(wrong));
      assert.equal(unknown.headers.get('retry-after'), wrong.headers.get('retry-after'));
    });
  });

  describe(`send limits apply to unknown addresses too (${db})`, () => {
    let cooldown: Stack;
    let hourly: Stack;
    before(async () => {
      cooldown = await startStack({
        db,
        clock: pinned,
        env: { OTP_RESEND_COOLDOWN_SECONDS: '60', OTP_MAX_SENDS_PER_HOUR: '1000' },
      });
      hourly = await startStack({
        db,
        clock: pinned,
        env: { OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_MAX_SENDS_PER_HOUR: '2' },
      });
    });
    after(() => Promise.all([cooldown?.close(), hourly?.close()]));

    it('with a 60 s cooldown a second resend to one address is 429 with Retry-After, known or unknown alike', async () => {
      const known = await insertedAccount(cooldown, person('cool-known'), FIXED, false);
      const unknown = person('cool-ghost').email;
      const results: Record<string, ApiResponse[]> = {};
      for (const email of [known.email, unknown]) {
        const first = await cooldown.api('POST', '/api/v1/auth/resend-verification', { email });
        const second = await cooldown.api('POST', '/api/v1/auth/resend-verification', { email: email.toUpperCase() });
        assert.equal(first.status, 200, first.text);
        assertRateLimited(second, 60);
        results[email] = [first, second];
      }
      assert.deepEqual(answer(results[unknown][0]), answer(results[known.email][0]));
      assert.deepEqual(answer(results[unknown][1]), answer(results[known.email][1]));
      // The cooldown is per destination, across purposes: forgot-password to the same address waits too.
      assertRateLimited(await cooldown.api('POST', '/api/v1/auth/forgot-password', { email: unknown }), 60);
      // Only the one code was sent to the known address.
      await cooldown.emailCode(known.email, 1);
      assert.deepEqual(await messagesTo(cooldown, known.email), ['email_verification']);
      // Another address is not held up.
      assert.equal(
        (await cooldown.api('POST', '/api/v1/auth/resend-verification', { email: person('cool-other').email })).status,
        200,
      );
    });

    it('with OTP_MAX_SENDS_PER_HOUR=2 (no cooldown) the third send to one address is 429, known or unknown alike', async () => {
      const known = await insertedAccount(hourly, person('hour-known'), FIXED, false);
      const unknown = person('hour-ghost').email;
      for (const email of [known.email, unknown]) {
        const one = await hourly.api('POST', '/api/v1/auth/resend-verification', { email });
        const two = await hourly.api('POST', '/api/v1/auth/forgot-password', { email });
        const three = await hourly.api('POST', '/api/v1/auth/resend-verification', { email });
        assert.equal(one.status, 200, one.text);
        assert.equal(two.status, 200, two.text);
        assertRateLimited(three, 3600);
      }
      await hourly.emailCode(known.email, 2);
      assert.equal((await messagesTo(hourly, known.email)).length, 2);
      assert.deepEqual(await messagesTo(hourly, unknown), []);
    });
  });
}
