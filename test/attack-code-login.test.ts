/**
 * Sign in with a code (issue 21 §1), attacked as a stranger with many networks would (each client
 * binds its own 127.N.x.x address: its own /24): each test counts what got through.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { mailboxKey } from '../src/shared/addresses.ts';
import { onNetwork, type Client } from './support/clients.ts';
import { type ApiResponse, errorCode, expectStatus } from './support/api.ts';
import { codeIn, outboxDrained, randomMobile, startStack, wrongCode, type Stack } from './support/stack.ts';
import { startTwilioVoiceServer, type TwilioVoiceFixture } from './support/twilio-voice.ts';

const WAIT = { timeoutMs: 15_000 };
/** The default hourly cap, the cooldown off so that no test waits. */
const LIMITS = { OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_MAX_SENDS_PER_HOUR: '5' };
const tag = () => randomBytes(4).toString('hex');
const DAY_MS = 86_400_000;

/** The long code of a mail (its groups of four), as its reader sees it. */
const longCodeIn = (text: string): string => {
  const match = text.match(/\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b/);
  if (!match) throw new Error(`no long code in: ${text}`);
  return match[0];
};

interface Owner {
  id: string;
  email: string;
  phone: string;
  password: string;
}

/**
 * An account written straight into the database, so that no registration mail or SMS spends the
 * hour's sends of its inbox or number: its email verified unless `emailVerified: false`, its phone
 * verified when `phoneVerified`.
 */
async function account(
  s: Stack,
  { emailVerified = true, phoneVerified = false, phone = randomMobile() } = {},
): Promise<Owner> {
  const p = { email: `owner.${tag()}@example.test`, phone, password: 'correct horse battery' };
  const now = s.runtime.services.clock();
  const { id } = await s.runtime.services.db
    .insertInto('users')
    .values({
      email: p.email,
      phone: p.phone,
      first_name: 'Lindiwe',
      last_name: 'Zulu',
      password_hash: await s.runtime.services.passwords.hash(p.password),
      email_verified_at: emailVerified ? now : null,
      phone_verified_at: phoneVerified ? now : null,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id, ...p };
}

const mailsTo = (s: Stack, address: string) =>
  s.smtp.messages.filter((m) => m.envelopeTo.some((to) => mailboxKey(to) === mailboxKey(address)));
/** The newest mail to address, once there are `count`. */
const mail = (s: Stack, address: string, count: number) => s.smtp.waitFor(address, { ...WAIT, count });

describe('codes by voice call take the phone budgets that codes by SMS take', () => {
  let s: Stack;
  let voice: TwilioVoiceFixture;
  before(async () => {
    voice = await startTwilioVoiceServer();
    s = await startStack({
      env: {
        ...LIMITS,
        VOICE_PROVIDER: 'twilio',
        VOICE_FROM: '+27100000001',
        VOICE_API_URL: voice.callsUrl,
        PHONE_CHANNELS: 'sms,voice',
      },
    });
  });
  after(async () => {
    await s?.close();
    await voice?.close();
  });

  it('12 networks ask a sign-in code and an unlock code by voice for one verified number: the number is reached as often as SMS_MAX_PER_ACCOUNT_PER_HOUR allows SMS (before: 12 times, one call per network)', async () => {
    const byVoice = await account(s, { phoneVerified: true });
    const bySms = await account(s, { phoneVerified: true });
    const answers: ApiResponse[] = [];
    for (let n = 0; n < 12; n++) {
      const stranger = onNetwork(s.baseUrl, 10 + n);
      for (const [victim, channel] of [
        [byVoice, 'voice'],
        [bySms, 'sms'],
      ] as const) {
        answers.push(await stranger.api('POST', '/api/v1/auth/otp', { phone: victim.phone, channel }));
        answers.push(
          await stranger.api('POST', '/api/v1/auth/request-unlock-otp', {
            identifier: victim.phone,
            delivery_method: channel,
          }),
        );
      }
    }
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
    );
    await outboxDrained(s, WAIT.timeoutMs);
    // What rang or reached each phone: calls and SMS (an unlock by "voice" takes the number's road: SMS first).
    const reached = (phone: string) =>
      voice.calls.filter((c) => c.to === phone).length + s.sms.messages.filter((m) => m.to === phone).length;
    assert.equal(reached(bySms.phone), 5, 'by SMS: the account hour of SMS to its verified number');
    assert.equal(reached(byVoice.phone), 5, `by voice: ${reached(byVoice.phone)} calls and SMS to one number`);
  });
});

describe('guessing the codes that sign in', () => {
  let now = Date.now();
  let s: Stack;
  before(async () => {
    s = await startStack({ clock: () => new Date(now), env: { ...LIMITS, OTP_MAX_FAILURES_PER_DAY: '20' } });
  });
  after(() => s.close());

  /** Wrong guesses the service weighed against a live code of the account, this day (every purpose). */
  const guessesWeighed = async (userId: string) =>
    (
      await s.runtime.services.db
        .selectFrom('otp_codes')
        .select(['purpose', 'failures'])
        .where('user_id', '=', userId)
        .where(sql<boolean>`failures_since > ${new Date(now - DAY_MS)}`)
        .execute()
    ).reduce((sum, row) => sum + row.failures, 0);

  it('10 networks ask fresh sign-in codes and 10 others fresh reset codes, 5 wrong guesses each: the account is guessed at OTP_MAX_FAILURES_PER_DAY times a day in all (before: 20 at each door, 40); its owner still signs in with a long code', async () => {
    const victim = await account(s);
    let mails = 0;
    let weighedFirst = 0;
    for (const [door, first] of [
      ['login', 0],
      ['reset', 20],
    ] as const) {
      for (let n = 0; n < 10; n++) {
        const stranger = onNetwork(s.baseUrl, first + n);
        if (door === 'login')
          expectStatus(await stranger.api('POST', '/api/v1/auth/otp', { email: victim.email }), 200);
        else expectStatus(await stranger.api('POST', '/api/v1/auth/forgot-password', { email: victim.email }), 200);
        const code = codeIn((await mail(s, victim.email, ++mails)).text);
        for (let i = 1; i <= 5; i++) {
          const guess = wrongCode(code, i);
          const r =
            door === 'login'
              ? await stranger.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: guess })
              : await stranger.api('POST', '/api/v1/auth/reset-password', {
                  email: victim.email,
                  otp: guess,
                  new_password: 'attacker chose this',
                });
          assert.equal(errorCode(r), 'otp_invalid');
        }
      }
      if (door === 'login') weighedFirst = await guessesWeighed(victim.id);
    }
    const weighed = await guessesWeighed(victim.id);
    assert.equal(weighedFirst, 20, 'the sign-in codes alone: 20 guesses over 4 codes, then none weighed');
    assert.equal(weighed, 20, `${weighed} guesses a day at codes that sign in`);

    // The owner, who reads the inbox, is not locked out: each email's long code signs in.
    const owner = onNetwork(s.baseUrl, 200);
    expectStatus(await owner.api('POST', '/api/v1/auth/forgot-password', { email: victim.email }), 200);
    const reset = await mail(s, victim.email, ++mails);
    assert.equal(
      errorCode(
        await owner.api('POST', '/api/v1/auth/reset-password', {
          email: victim.email,
          otp: codeIn(reset.text),
          new_password: 'owner chose this one',
        }),
      ),
      'otp_invalid',
      'the short reset code: the day is spent',
    );
    expectStatus(
      await owner.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: longCodeIn(reset.text),
        new_password: 'owner chose this one',
      }),
      200,
    );
    const owner2 = onNetwork(s.baseUrl, 201);
    expectStatus(await owner2.api('POST', '/api/v1/auth/otp', { email: victim.email }), 200);
    const login = await mail(s, victim.email, ++mails);
    assert.equal(
      errorCode(await owner2.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: codeIn(login.text) })),
      'otp_invalid',
    );
    expectStatus(
      await owner2.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: longCodeIn(login.text) }),
      200,
    );
    now += DAY_MS + 1000;
  });
});

describe('what a sign-in code signs in to', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ env: LIMITS });
  });
  after(() => s.close());

  const signIn = (client: Client, id: { email: string } | { phone: string }, otp: string) =>
    client.api('POST', '/api/v1/auth/otp/verify', { ...id, otp });
  const emailOf = async (client: Client, r: Awaited<ReturnType<typeof signIn>>) =>
    expectStatus(await client.api('GET', '/api/v1/auth/me', undefined, expectStatus(r, 200).access_token), 200).email;

  it('a number that moved from account A to account B: a fresh code signs in B; the code sent to it while it was A’s signs in nobody, by any name of A (before: A, by its new number)', async () => {
    const net = onNetwork(s.baseUrl, 30);
    const moved = randomMobile();
    const a = await account(s, { phone: moved, phoneVerified: true });
    expectStatus(await net.api('POST', '/api/v1/auth/otp', { phone: moved }), 200);
    const codeToA = codeIn((await s.sms.waitFor(moved, WAIT)).body);

    // A moves to a new number; the old one is B's now, proven by B.
    const newNumber = randomMobile();
    const aToken = expectStatus(await net.api('POST', '/api/v1/auth/login', a), 200).access_token;
    expectStatus(await net.api('POST', '/api/v1/users/verify-phone', { phone: newNumber }, aToken), 200);
    const aOtp = codeIn((await s.sms.waitFor(newNumber, WAIT)).body);
    expectStatus(await net.api('POST', '/api/v1/users/verify-otp', { otp: aOtp }, aToken), 200);
    const b = await account(s, { phone: moved });
    const bNet = onNetwork(s.baseUrl, 31);
    const bToken = expectStatus(await bNet.api('POST', '/api/v1/auth/login', b), 200).access_token;
    expectStatus(await bNet.api('POST', '/api/v1/users/verify-phone', {}, bToken), 200);
    const bOtp = codeIn((await s.sms.waitFor(moved, { ...WAIT, count: 2 })).body);
    expectStatus(await bNet.api('POST', '/api/v1/users/verify-otp', { otp: bOtp }, bToken), 200);

    // The code that went to the number while it was A's.
    const stale = [
      await signIn(net, { phone: moved }, codeToA),
      await signIn(net, { phone: newNumber }, codeToA),
      await signIn(net, { email: a.email }, codeToA),
    ];
    assert.deepEqual(
      stale.map((r) => r.status),
      [400, 400, 400],
      `signed in: ${stale.filter((r) => r.status === 200).length}`,
    );
    assert.ok(stale.every((r) => errorCode(r) === 'otp_invalid'));

    // A fresh code to the number goes to B, and signs in B.
    expectStatus(await bNet.api('POST', '/api/v1/auth/otp', { phone: moved }), 200);
    const codeToB = codeIn((await s.sms.waitFor(moved, { ...WAIT, count: 3 })).body);
    assert.equal(await emailOf(bNet, await signIn(bNet, { phone: moved }, codeToB)), b.email);
  });

  it('no code of one purpose does the work of another: sign-in codes (short and long) at reset, unlock and verify-account, reset and unlock codes at sign-in, 0 of 12 accepted; each at its own door, 3 of 3', async () => {
    const net = onNetwork(s.baseUrl, 40);
    const victim = await account(s);
    let mails = 0;
    const codes = async (path: '/api/v1/auth/otp' | '/api/v1/auth/forgot-password') => {
      expectStatus(await net.api('POST', path, { email: victim.email }), 200);
      const text = (await mail(s, victim.email, ++mails)).text;
      return { short: codeIn(text), long: longCodeIn(text) };
    };
    const login = await codes('/api/v1/auth/otp');
    const reset = await codes('/api/v1/auth/forgot-password');
    expectStatus(
      await net.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: victim.email, delivery_method: 'email' }),
      200,
    );
    const unlockText = (await mail(s, victim.email, ++mails)).text;
    const unlock = { short: codeIn(unlockText), long: longCodeIn(unlockText) };
    const { email, password } = victim;
    const crossed: ApiResponse[] = [];
    for (const otp of [login.short, login.long]) {
      crossed.push(await net.api('POST', '/api/v1/auth/reset-password', { email, otp, new_password: 'not this one' }));
      crossed.push(await net.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: email, otp, password }));
      crossed.push(await net.api('POST', '/api/v1/auth/verify-account', { email, otp }));
    }
    for (const otp of [reset.short, reset.long, unlock.short, unlock.long])
      crossed.push(await net.api('POST', '/api/v1/auth/otp/verify', { email, otp }));
    assert.deepEqual(
      crossed.map((r) => r.status),
      crossed.map(() => 400),
      `accepted: ${crossed.filter((r) => r.status === 200).length}`,
    );
    assert.ok(crossed.every((r) => errorCode(r) === 'otp_invalid'));
    // Each at its own door.
    expectStatus(await net.api('POST', '/api/v1/auth/otp/verify', { email, otp: login.short }), 200);
    expectStatus(
      await net.api('POST', '/api/v1/auth/reset-password', { email, otp: reset.short, new_password: 'a new one here' }),
      200,
    );
    expectStatus(
      await net.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: email, otp: unlock.short }),
      200,
    );
  });
});
