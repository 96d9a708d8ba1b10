import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ApiResponse, errorCode, expectStatus } from './support/api.ts';
import {
  databaseKinds,
  insertedAccount,
  person,
  phoneVerified,
  startStack,
  verifiedLogin,
  wrongCode,
  type Stack,
} from './support/stack.ts';

/** Time stands still in the enumeration stacks, so expires_at cannot differ between answers. */
const FIXED = new Date('2031-05-04T10:00:00.000Z');
const DAY_MS = 86_400_000;

/** Status and the exact bytes of the body. */
const answer = (r: ApiResponse) => ({ status: r.status, text: r.text, retry: r.headers.get('retry-after') });

const loginMessagesTo = async (stack: Stack, recipient: string) =>
  (
    await stack.runtime.services.db
      .selectFrom('messages')
      .select('id')
      .where('recipient', '=', recipient)
      .where('purpose', '=', 'login')
      .execute()
  ).length;

const sessionsOf = (stack: Stack, email: string) =>
  stack.runtime.services.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.method', 'sessions.user_agent', 'sessions.network'])
    .where('users.email', '=', email)
    .orderBy('sessions.created_at')
    .execute();

for (const db of await databaseKinds()) {
  describe(`sign in with a code (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db });
    });
    after(() => stack.close());

    it('by email, over the real SMTP server: the code answers a token pair, as a password login does', async () => {
      const { person: p } = await verifiedLogin(stack, 'code-email');
      const asked = expectStatus(await stack.api('POST', '/api/v1/auth/otp', { email: p.email.toUpperCase() }), 200);
      assert.equal(asked.channel, 'email');
      const code = await stack.emailCode(p.email, 2);
      const signedIn = expectStatus(
        await stack.api('POST', '/api/v1/auth/otp/verify', { email: p.email, otp: code }, undefined, {
          'user-agent': 'PanicApp/3.1 (Android 14)',
        }),
        200,
      );
      assert.equal(signedIn.token_type, 'bearer');
      assert.ok(signedIn.refresh_token);
      const me = expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, signedIn.access_token), 200);
      assert.equal(me.email, p.email);
      const sessions = await sessionsOf(stack, p.email);
      assert.deepEqual(sessions.at(-1), {
        method: 'code',
        user_agent: 'PanicApp/3.1 (Android 14)',
        network: '127.0.0.0/24',
      });
      // A code signs in once.
      assert.equal(
        errorCode(await stack.api('POST', '/api/v1/auth/otp/verify', { email: p.email, otp: code })),
        'otp_invalid',
      );
    });

    it('by phone, over the Twilio-speaking fixture, in any spelling of the number', async () => {
      const { person: p } = await phoneVerified(stack, 'code-phone');
      const national = `0${p.phone.slice(3, 5)} ${p.phone.slice(5, 8)} ${p.phone.slice(8)}`;
      const asked = expectStatus(await stack.api('POST', '/api/v1/auth/otp', { phone: national }), 200);
      assert.equal(asked.channel, 'sms');
      const code = await stack.smsCode(p.phone, 2);
      const signedIn = expectStatus(
        await stack.api('POST', '/api/v1/auth/otp/verify', { phone: p.phone, otp: code }),
        200,
      );
      expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, signedIn.access_token), 200);
      assert.equal((await sessionsOf(stack, p.email)).at(-1)?.method, 'code');
    });

    it('a code sign-in lifts no password throttle, and a password sign-in spends no sign-in code', async () => {
      const { person: p } = await verifiedLogin(stack, 'code-throttle');
      expectStatus(await stack.api('POST', '/api/v1/auth/otp', { email: p.email }), 200);
      const code = await stack.emailCode(p.email, 2);
      // A password login in between leaves the code alive.
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }), 200);
      for (let i = 0; i < 5; i++)
        expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: `wrong ${i}` }), 401);
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }), 429);
      expectStatus(await stack.api('POST', '/api/v1/auth/otp/verify', { email: p.email, otp: code }), 200);
      // The throttle still stands for passwords.
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }), 429);
    });

    it('bad input is a 400 that names the field: neither or both identifiers, a channel for an email, a bad number', async () => {
      const p = person('code-bad');
      assert.equal(errorCode(await stack.api('POST', '/api/v1/auth/otp', {})), 'validation_error');
      assert.equal(
        errorCode(await stack.api('POST', '/api/v1/auth/otp', { email: p.email, phone: p.phone })),
        'validation_error',
      );
      assert.equal(
        errorCode(await stack.api('POST', '/api/v1/auth/otp', { email: p.email, channel: 'sms' })),
        'validation_error',
      );
      assert.equal(errorCode(await stack.api('POST', '/api/v1/auth/otp', { phone: '12' })), 'validation_error');
      assert.equal(
        errorCode(await stack.api('POST', '/api/v1/auth/otp', { phone: '+2782 not a number' })),
        'invalid_phone',
      );
      assert.equal(
        errorCode(await stack.api('POST', '/api/v1/auth/otp', { phone: p.phone, channel: 'whatsapp' })),
        'validation_error',
        'WhatsApp is not configured in this stack',
      );
      assert.equal(
        errorCode(await stack.api('POST', '/api/v1/auth/otp/verify', { phone: '+2782 not a number', otp: '123456' })),
        'invalid_phone',
      );
    });
  });

  describe(`sign in with a code tells nobody which addresses have accounts (${db})`, () => {
    let stack: Stack;
    let verified: ReturnType<typeof person>;
    let unverified: ReturnType<typeof person>;
    before(async () => {
      stack = await startStack({
        db,
        clock: () => new Date(FIXED),
        env: { OTP_RESEND_COOLDOWN_SECONDS: '60', OTP_MAX_SENDS_PER_HOUR: '1000' },
      });
      // Accounts that were never sent anything, so no cooldown of their own making stands in the way.
      verified = await insertedAccount(stack, person('code-enum-verified'), FIXED, true);
      unverified = await insertedAccount(stack, person('code-enum-unverified'), FIXED, false);
    });
    after(() => stack.close());

    it('a verified, an unverified and an unknown email get the same sequence of answers, byte for byte; only the verified one gets a code', async () => {
      const ghost = person('code-enum-ghost').email;
      const sequence = async (email: string) => {
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push(answer(await stack.api('POST', '/api/v1/auth/otp', { email })));
        return answers;
      };
      const v = await sequence(verified.email);
      assert.deepEqual(
        v.map((a) => a.status),
        [200, 429, 429],
        'the cooldown answers the second and third asks',
      );
      assert.deepEqual(await sequence(unverified.email), v);
      assert.deepEqual(await sequence(ghost), v);
      await stack.emailCode(verified.email, 1);
      assert.equal(await loginMessagesTo(stack, verified.email), 1);
      assert.equal(await loginMessagesTo(stack, unverified.email), 0);
      assert.equal(await loginMessagesTo(stack, ghost), 0);
    });

    it('a verified phone, an unverified one and an unknown one get the same sequence of answers; only the verified one gets a code', async () => {
      const ghost = person('code-enum-ghost').phone;
      const sequence = async (phone: string) => {
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push(answer(await stack.api('POST', '/api/v1/auth/otp', { phone })));
        return answers;
      };
      const v = await sequence(verified.phone);
      assert.deepEqual(
        v.map((a) => a.status),
        [200, 429, 429],
      );
      assert.deepEqual(await sequence(unverified.phone), v);
      assert.deepEqual(await sequence(ghost), v);
      await stack.smsCode(verified.phone, 1);
      assert.equal(await loginMessagesTo(stack, verified.phone), 1);
      assert.equal(await loginMessagesTo(stack, unverified.phone), 0);
      assert.equal(await loginMessagesTo(stack, ghost), 0);
    });

    it('verify answers a wrong code, an unverified account and an unknown address alike: otp_invalid', async () => {
      const code = '123456';
      const [wrong, notYet, ghost] = [
        await stack.api('POST', '/api/v1/auth/otp/verify', { email: verified.email, otp: wrongCode(code) }),
        await stack.api('POST', '/api/v1/auth/otp/verify', { email: unverified.email, otp: wrongCode(code) }),
        await stack.api('POST', '/api/v1/auth/otp/verify', {
          email: person('code-enum-ghost').email,
          otp: wrongCode(code),
        }),
      ];
      assert.equal(errorCode(wrong), 'otp_invalid');
      assert.deepEqual(answer(notYet), answer(wrong));
      assert.deepEqual(answer(ghost), answer(wrong));
    });
  });
}

describe('sign-in codes follow the rules of codes', () => {
  let now = FIXED.getTime();
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      clock: () => new Date(now),
      env: { OTP_MAX_FAILURES_PER_DAY: '20', OTP_MAX_ATTEMPTS: '5', CODE_LOGIN: 'email' },
    });
  });
  after(() => stack.close());

  it('the guess budget holds across many sign-in codes: 20 wrong guesses over 4 codes, then the right 5th code is refused until the day is over', async () => {
    const { person: p } = await verifiedLogin(stack, 'code-guess');
    let mails = 1;
    const freshCode = async () => {
      expectStatus(await stack.api('POST', '/api/v1/auth/otp', { email: p.email }), 200);
      return stack.emailCode(p.email, ++mails);
    };
    const verify = (otp: string) => stack.api('POST', '/api/v1/auth/otp/verify', { email: p.email, otp });
    for (let round = 1; round <= 4; round++) {
      const code = await freshCode();
      for (let i = 0; i < 5; i++) assert.equal(errorCode(await verify(wrongCode(code, 1 + i))), 'otp_invalid');
    }
    assert.equal(errorCode(await verify(await freshCode())), 'otp_invalid', 'the right code, the day spent');
    now += DAY_MS + 1000;
    expectStatus(await verify(await freshCode()), 200);
  });

  it('CODE_LOGIN=email switches the phone half off with a code a client can act on', async () => {
    const refused = await stack.api('POST', '/api/v1/auth/otp', { phone: person('code-off').phone });
    assert.equal(refused.status, 403);
    assert.equal(errorCode(refused), 'code_login_disabled');
    // A person who signed in by code may have no password: the answer names both ways that are left.
    const { message } = (refused.body as { error: { message: string } }).error;
    assert.match(message, /ask for a code by email instead/);
    assert.match(message, /POST \/api\/v1\/auth\/forgot-password/);
    assert.equal(
      errorCode(await stack.api('POST', '/api/v1/auth/otp/verify', { phone: person('code-off').phone, otp: '123456' })),
      'code_login_disabled',
    );
  });
});
