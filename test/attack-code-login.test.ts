/**
 * Sign in with a code (issue 21 §1), attacked as a stranger with many networks would (each client
 * binds its own 127.N.x.x address: its own /24): each test counts what got through.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { mailboxKey } from '../src/shared/addresses.ts';
import { onNetwork, type Client } from './support/clients.ts';
import { type ApiResponse, errorCode, expectStatus } from './support/api.ts';
import {
  codeIn,
  databaseKinds,
  outboxDrained,
  randomMobile,
  startStack,
  wrongCode,
  type Stack,
} from './support/stack.ts';
import { account, ghostEmail } from './support/owners.ts';
import { startTwilioVoiceServer, type TwilioVoiceFixture } from './support/twilio-voice.ts';

const WAIT = { timeoutMs: 15_000 };
/** The default hourly cap, the cooldown off so that no test waits. */
const LIMITS = { OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_MAX_SENDS_PER_HOUR: '5' };
const DAY_MS = 86_400_000;

/** The long code of a mail (its groups of four), as its reader sees it. */
const longCodeIn = (text: string): string => {
  const match = text.match(/\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b/);
  if (!match) throw new Error(`no long code in: ${text}`);
  return match[0];
};

const mailsTo = (s: Stack, address: string) =>
  s.smtp.messages.filter((m) => m.envelopeTo.some((to) => mailboxKey(to) === mailboxKey(address)));
/** Wrong guesses the service weighed against a live code of the account in the day before `now` (every purpose). */
const guessesWeighed = async (s: Stack, userId: string, now: number) =>
  (
    await s.runtime.services.db
      .selectFrom('otp_codes')
      .select('failures')
      .where('user_id', '=', userId)
      .where(sql<boolean>`failures_since > ${new Date(now - DAY_MS)}`)
      .execute()
  ).reduce((sum, row) => sum + row.failures, 0);
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
      if (door === 'login') weighedFirst = await guessesWeighed(s, victim.id, now);
    }
    const weighed = await guessesWeighed(s, victim.id, now);
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
    expectStatus(
      await net.api('POST', '/api/v1/users/verify-phone', { phone: newNumber, password: a.password }, aToken),
      200,
    );
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

describe('a stranger denying one person by asking sign-in codes from many networks', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ env: { ...LIMITS, OTP_MAX_FAILURES_PER_DAY: '20' } });
  });
  after(() => s.close());

  const textsTo = (phone: string) => s.sms.messages.filter((m) => m.to === phone).length;

  it("8 networks ask 6 sign-in codes each by email and by phone: each network's 6th is its own 429; the person still resets, signs in with a long code, unlocks, verifies a new number and signs in with the password; only their own SMS code is held back for the hour", async () => {
    const victim = await account(s, { phoneVerified: true });
    const answers: number[] = [];
    for (let n = 0; n < 8; n++) {
      const stranger = onNetwork(s.baseUrl, 50 + n);
      for (let i = 0; i < 6; i++) {
        answers.push((await stranger.api('POST', '/api/v1/auth/otp', { email: victim.email })).status);
        answers.push((await stranger.api('POST', '/api/v1/auth/otp', { phone: victim.phone })).status);
      }
    }
    assert.deepEqual(
      { 200: answers.filter((a) => a === 200).length, 429: answers.filter((a) => a === 429).length },
      { 200: 80, 429: 16 },
    );
    await outboxDrained(s, WAIT.timeoutMs);
    const strangersMails = mailsTo(s, victim.email).length;
    assert.equal(strangersMails, 5 + 7, "the hour's 5, then each other network's first");
    assert.equal(textsTo(victim.phone), 5, "the account's hour of SMS to its verified number");

    const home = onNetwork(s.baseUrl, 60);
    const chosen = 'the owner chose this';
    // A reset: the home network's first code to the inbox this hour.
    expectStatus(await home.api('POST', '/api/v1/auth/forgot-password', { email: victim.email }), 200);
    const reset = await mail(s, victim.email, strangersMails + 1);
    expectStatus(
      await home.api('POST', '/api/v1/auth/reset-password', {
        email: victim.email,
        otp: codeIn(reset.text),
        new_password: chosen,
      }),
      200,
    );
    // A sign-in code asked next from home is not sent (its first is spent), but the newest sign-in email strangers had sent works.
    expectStatus(await home.api('POST', '/api/v1/auth/otp', { email: victim.email }), 200);
    await outboxDrained(s, WAIT.timeoutMs);
    assert.equal(mailsTo(s, victim.email).length, strangersMails + 1);
    const newestLogin = mailsTo(s, victim.email)
      .filter((m) => /Sign in with a code/.test(m.subject))
      .at(-1)!;
    const signedIn = expectStatus(
      await home.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: longCodeIn(newestLogin.text) }),
      200,
    );
    // A new number: its own budgets, untouched.
    const newNumber = randomMobile();
    expectStatus(
      await home.api(
        'POST',
        '/api/v1/users/verify-phone',
        { phone: newNumber, password: chosen },
        signedIn.access_token,
      ),
      200,
    );
    await s.sms.waitFor(newNumber, WAIT);
    // From the person's phone (another network): an unlock by email arrives and signs in with the password.
    const mobile = onNetwork(s.baseUrl, 61);
    expectStatus(
      await mobile.api('POST', '/api/v1/auth/request-unlock-otp', {
        identifier: victim.email,
        delivery_method: 'email',
      }),
      200,
    );
    const unlock = await mail(s, victim.email, strangersMails + 2);
    expectStatus(
      await mobile.api('POST', '/api/v1/auth/verify-unlock-otp', {
        identifier: victim.email,
        otp: codeIn(unlock.text),
        password: chosen,
      }),
      200,
    );
    expectStatus(await mobile.api('POST', '/api/v1/auth/login', { email: victim.email, password: chosen }), 200);
    // What strangers can spend: the SMS of the hour to the verified number (SECURITY.md, what is left to a stranger).
    expectStatus(await mobile.api('POST', '/api/v1/auth/otp', { phone: victim.phone }), 200);
    await outboxDrained(s, WAIT.timeoutMs);
    assert.equal(textsTo(victim.phone), 5, "the person's own SMS sign-in code waits for the hour");
  });

  it('4 networks spend the day of guesses on sign-in codes by SMS (4 SMS, 20 guesses): the short code by SMS is refused for the day, the long code of an email signs in', async () => {
    const victim = await account(s, { phoneVerified: true });
    for (let n = 0; n < 4; n++) {
      const stranger = onNetwork(s.baseUrl, 70 + n);
      expectStatus(await stranger.api('POST', '/api/v1/auth/otp', { phone: victim.phone }), 200);
      const code = codeIn((await s.sms.waitFor(victim.phone, { ...WAIT, count: n + 1 })).body);
      for (let i = 1; i <= 5; i++)
        assert.equal(
          errorCode(
            await stranger.api('POST', '/api/v1/auth/otp/verify', { phone: victim.phone, otp: wrongCode(code, i) }),
          ),
          'otp_invalid',
        );
    }
    assert.equal(await guessesWeighed(s, victim.id, Date.now()), 20);
    const owner = onNetwork(s.baseUrl, 80);
    expectStatus(await owner.api('POST', '/api/v1/auth/otp', { phone: victim.phone }), 200);
    const sms = codeIn((await s.sms.waitFor(victim.phone, { ...WAIT, count: 5 })).body);
    assert.equal(
      errorCode(await owner.api('POST', '/api/v1/auth/otp/verify', { phone: victim.phone, otp: sms })),
      'otp_invalid',
      'the right SMS code, the day spent: an SMS has no long code',
    );
    expectStatus(await owner.api('POST', '/api/v1/auth/otp', { email: victim.email }), 200);
    const text = (await mail(s, victim.email, 1)).text;
    assert.equal(
      errorCode(await owner.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: codeIn(text) })),
      'otp_invalid',
    );
    expectStatus(
      await owner.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: longCodeIn(text) }),
      200,
    );
  });
});

describe('CODE_LOGIN=email: the phone half is off everywhere', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ env: { ...LIMITS, CODE_LOGIN: 'email' } });
  });
  after(() => s.close());

  it('5 networks ask sign-in codes by phone (any channel, any number) and verify the right code by the phone: 0 of 21 answered but 403, no SMS sent; the email half signs in', async () => {
    const victim = await account(s, { phoneVerified: true });
    const answers: ApiResponse[] = [];
    for (let n = 0; n < 5; n++) {
      const stranger = onNetwork(s.baseUrl, 90 + n);
      answers.push(await stranger.api('POST', '/api/v1/auth/otp', { phone: victim.phone }));
      answers.push(await stranger.api('POST', '/api/v1/auth/otp', { phone: victim.phone, channel: 'sms' }));
      answers.push(await stranger.api('POST', '/api/v1/auth/otp', { phone: randomMobile() }));
      answers.push(await stranger.api('POST', '/api/v1/auth/otp/verify', { phone: victim.phone, otp: '123456' }));
    }
    const owner = onNetwork(s.baseUrl, 99);
    expectStatus(await owner.api('POST', '/api/v1/auth/otp', { email: victim.email }), 200);
    const text = (await mail(s, victim.email, 1)).text;
    answers.push(await owner.api('POST', '/api/v1/auth/otp/verify', { phone: victim.phone, otp: codeIn(text) }));
    assert.deepEqual(
      answers.map((a) => [a.status, errorCode(a)]),
      answers.map(() => [403, 'code_login_disabled']),
    );
    await outboxDrained(s, WAIT.timeoutMs);
    assert.equal(s.sms.messages.length, 0, 'no SMS');
    expectStatus(await owner.api('POST', '/api/v1/auth/otp/verify', { email: victim.email, otp: codeIn(text) }), 200);
  });
});

/** Time stands still in the enumeration stacks, so expires_at cannot differ between answers. */
const FIXED = new Date('2031-05-04T10:00:00.000Z');

for (const db of await databaseKinds()) {
  describe(`sign in with a code tells no stranger on any network which addresses have accounts (${db})`, () => {
    let s: Stack;
    before(async () => {
      s = await startStack({ db, clock: () => new Date(FIXED), env: LIMITS });
    });
    after(() => s.close());

    /** Status, body and Retry-After: what a stranger reads of an answer. */
    const read = (r: ApiResponse) => ({
      status: r.status,
      text: r.text,
      retry: Number(r.headers.get('retry-after') ?? -1),
    });
    type Read = ReturnType<typeof read>;
    /** The answers of one address that a stranger could tell from those of the unknown one. */
    const differing = (seen: Read[], unknown: Read[]) =>
      seen.flatMap((a, i) => {
        const u = unknown[i];
        // Retry-After counts down in real seconds, and on a loaded machine the kinds' asks are up to a
        // second or two apart; another limit would show minutes, or no header at all.
        return a.status !== u.status || a.text !== u.text || Math.abs(a.retry - u.retry) > 2
          ? [{ answer: i, seen: a, unknown: u }]
          : [];
      });

    it('6 networks ask 7 sign-in codes each and guess 4 codes each, interleaved, for verified, unverified and unknown emails and phones: 0 answers differ from the unknown address, in status, body or Retry-After; only the verified ones are sent codes', async () => {
      // Each kind next to the unknown one it is compared with: asked in this order, round after round.
      const kinds = {
        verifiedEmail: { email: (await account(s, { withPassword: false })).email },
        unknownEmail: { email: ghostEmail() },
        pendingEmail: { email: (await account(s, { emailVerified: false, withPassword: false })).email },
        verifiedPhone: { phone: (await account(s, { phoneVerified: true, withPassword: false })).phone },
        unknownPhone: { phone: randomMobile() },
        unprovenPhone: { phone: (await account(s, { withPassword: false })).phone },
        pendingAccountPhone: {
          phone: (await account(s, { emailVerified: false, phoneVerified: true, withPassword: false })).phone,
        },
      } as const;
      type Kind = keyof typeof kinds;
      const names = Object.keys(kinds) as Kind[];
      const seen = Object.fromEntries(names.map((k) => [k, [] as Read[]])) as Record<Kind, Read[]>;
      for (let n = 0; n < 6; n++) {
        const stranger = onNetwork(s.baseUrl, 100 + n);
        for (let i = 0; i < 7; i++)
          for (const k of names) seen[k].push(read(await stranger.api('POST', '/api/v1/auth/otp', kinds[k])));
        for (const otp of ['000000', '123456', '999999', 'K7QM-3XJD-9TWP-R2HB'])
          for (const k of names)
            seen[k].push(read(await stranger.api('POST', '/api/v1/auth/otp/verify', { ...kinds[k], otp })));
      }
      assert.deepEqual(
        seen.unknownEmail.slice(0, 8).map((a) => a.status),
        [200, 200, 200, 200, 200, 429, 429, 400],
        'the hourly cap of asks, then otp_invalid',
      );
      const differ = Object.fromEntries(
        names.map((k) => [k, differing(seen[k], 'email' in kinds[k] ? seen.unknownEmail : seen.unknownPhone)]),
      );
      assert.deepEqual(
        Object.fromEntries(names.map((k) => [k, differ[k].length])),
        Object.fromEntries(names.map((k) => [k, 0])),
        JSON.stringify(differ),
      );
      await outboxDrained(s, WAIT.timeoutMs);
      const loginMessages = async (to: string) =>
        (
          await s.runtime.services.db
            .selectFrom('messages')
            .select('id')
            .where('recipient', '=', to)
            .where('purpose', '=', 'login')
            .execute()
        ).length;
      const sent = Object.fromEntries(
        await Promise.all(
          names.map(async (k) => {
            const id = kinds[k];
            return [k, (await loginMessages('email' in id ? id.email : id.phone)) > 0];
          }),
        ),
      );
      assert.deepEqual(sent, {
        verifiedEmail: true,
        pendingEmail: false,
        unknownEmail: false,
        verifiedPhone: true,
        unprovenPhone: false,
        pendingAccountPhone: false,
        unknownPhone: false,
      });
    });
  });
}
