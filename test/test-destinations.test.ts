/**
 * Issue 21, part 4: app-store reviewers' destinations (TEST_OTP_DESTINATIONS). A code for one is its
 * fixed code under every rule of codes, nothing reaches a provider (the real SMTP server, the
 * Twilio-speaking fixtures for SMS and calls), no SMS budget is spent and no road moves the code; each
 * use is an event of the delivery log; past TEST_OTP_VALID_UNTIL (or without it, or with it more than
 * 90 days ahead, outside development) the service refuses to start and says why.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseKinds, person, startStack, verifiedLogin, wrongCode, type Stack } from './support/stack.ts';
import { startTwilioWhatsAppServer, type TwilioWhatsAppFixture } from './support/whatsapp.ts';
import { startTwilioVoiceServer, type TwilioVoiceFixture } from './support/twilio-voice.ts';
import { messagesTo } from './support/outbox-rows.ts';
import { errorCode, expectStatus } from './support/api.ts';
import { waitUntil } from './support/wait.ts';
import { DEV_ENV, inbox } from './support/dev-inbox.ts';
import { runCli } from './support/cli.ts';
import { ConfigError, loadConfig } from '../src/config/settings.ts';
import { createRuntime } from '../src/runtime/create-runtime.ts';

const ADMIN = 'admin-token-for-tests-0123456789';
const PUBLIC_URL = 'https://panic.example';
const DAY = 86_400_000;
/** A day `days` from `at`, as TEST_OTP_VALID_UNTIL takes it. */
const dayOf = (at: number, days = 0) => new Date(at + days * DAY).toISOString().slice(0, 10);

/** The reviewers: an email typed in mixed case, and numbers each test has to itself (their send limits are per number). */
const REVIEW_EMAIL = 'Review.Team@Example.com';
const PHONES = { fixed: '+27820000001', guesses: '+27820000002', limits: '+27820000003' } as const;
const CODES = { email: '135790', fixed: '482913', guesses: '902417', limits: '660218' } as const;
const DESTINATIONS = [
  `${REVIEW_EMAIL}=${CODES.email}`,
  `${PHONES.fixed}=${CODES.fixed}`,
  `${PHONES.guesses}=${CODES.guesses}`,
  `${PHONES.limits}=${CODES.limits}`,
].join(',');

const STRONG = { JWT_SECRET: 'j'.repeat(40), OTP_SECRET: 'o'.repeat(40) };

const kinds = (events: Array<{ kind: string }>) => events.map((e) => e.kind);

for (const db of await databaseKinds()) {
  describe(`test destinations (${db})`, () => {
    let stack: Stack;
    let twilio: TwilioWhatsAppFixture;
    let voice: TwilioVoiceFixture;
    let offset = 0;
    const validUntil = dayOf(Date.now(), 30);

    before(async () => {
      // Phone codes take a road here (SMS with receipts, then a call), so a code that moved would show.
      twilio = await startTwilioWhatsAppServer();
      voice = await startTwilioVoiceServer({ accountSid: twilio.accountSid, authToken: twilio.authToken });
      stack = await startStack({
        db,
        clock: () => new Date(Date.now() + offset),
        env: {
          ADMIN_TOKEN: ADMIN,
          PUBLIC_URL,
          SMS_PROVIDER: 'twilio',
          SMS_API_URL: twilio.messagesUrl,
          SMS_ACCOUNT_SID: twilio.accountSid,
          SMS_API_KEY: twilio.authToken,
          SMS_FROM: '+27100000000',
          VOICE_PROVIDER: 'twilio',
          VOICE_FROM: '+27100000001',
          VOICE_API_URL: voice.callsUrl,
          PHONE_CHANNELS: 'sms,voice',
          PHONE_FALLBACK_AFTER_SECONDS: '30',
          // one SMS per account an hour: a test destination's codes must not spend it
          SMS_MAX_PER_ACCOUNT_PER_HOUR: '1',
          VOICE_MAX_PER_HOUR: '1',
          OTP_MAX_SENDS_PER_HOUR: '3',
          OTP_MAX_ATTEMPTS: '2',
          OTP_MAX_FAILURES_PER_DAY: '3',
          TEST_OTP_DESTINATIONS: DESTINATIONS,
          TEST_OTP_VALID_UNTIL: validUntil,
        },
      });
    });
    after(async () => {
      await stack?.close();
      await Promise.all([twilio?.close(), voice?.close()]);
    });

    const logOf = async (recipient: string) => {
      const res = await stack.api(
        'GET',
        `/api/v1/admin/messages?to=${encodeURIComponent(recipient)}`,
        undefined,
        ADMIN,
      );
      assert.equal(res.status, 200, res.text);
      return res.body.messages;
    };

    it('the start-up log says once how many there are and until when, never a code', () => {
      const lines = stack.logs.filter((l) => l.includes('test destinations'));
      assert.equal(lines.length, 1, stack.logs.join(''));
      assert.match(lines[0], new RegExp(`4 test destinations, until ${validUntil}`));
      assert.equal(JSON.parse(lines[0]).level, 30, 'info');
      for (const code of Object.values(CODES))
        assert.ok(!stack.logs.join('').includes(code), `a code in the log: ${code}`);
    });

    it('register with a test email: its code is the fixed one, nothing is mailed, captured "test destination", each use an event', async () => {
      const reviewer = { ...person('reviewer'), email: REVIEW_EMAIL };
      const { user } = expectStatus(await stack.api('POST', '/api/v1/auth/register', reviewer), 201);
      const email = REVIEW_EMAIL.toLowerCase();
      const [message] = await messagesTo(stack, email);
      assert.equal(message.status, 'captured');
      assert.equal(message.last_error, 'test destination');
      assert.equal(message.body_text, '[redacted after delivery]', 'outside development the body is not kept');
      assert.equal(message.otp, null);
      const longCodes = await stack.runtime.services.db
        .selectFrom('otp_long_codes')
        .select('id')
        .where('user_id', '=', user.id)
        .execute();
      assert.deepEqual(longCodes, [], 'no long code for an email nobody reads');

      const verified = expectStatus(
        await stack.api('POST', '/api/v1/auth/verify-account', { email: REVIEW_EMAIL, otp: CODES.email }),
        200,
      );
      assert.equal(verified.is_verified, true);

      // A real address registered after it is mailed: the worker ran, and mailed the reviewer nothing.
      const other = person('not-a-reviewer');
      expectStatus(await stack.api('POST', '/api/v1/auth/register', other), 201);
      await stack.smtp.waitFor(other.email);
      assert.deepEqual(
        stack.smtp.messages.filter((m) => m.envelopeTo.some((to) => to.toLowerCase() === email)),
        [],
        'the SMTP server received nothing for the reviewer',
      );

      const [logged] = await logOf(email);
      assert.equal(logged.status, 'captured');
      assert.equal(logged.last_error, 'test destination');
      assert.equal(logged.attempts, 0);
      assert.deepEqual(kinds(logged.events), ['test_destination', 'test_code_used']);
      assert.ok(!JSON.stringify(logged).includes(CODES.email), 'the delivery log never holds the code');
    });

    it('verify-phone to a test number typed as 082 000 0001: the fixed code, no SMS and no call, no road, no SMS budget spent', async () => {
      // The control: a real number's code is texted, and its call waits for the SMS's receipt.
      const control = await verifiedLogin(stack, 'control');
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', {}, control.tokens.access_token), 200);
      await twilio.waitFor(control.person.phone);
      await waitUntil(async () => (await messagesTo(stack, control.person.phone)).length === 2, {
        what: "the control's call waiting for its SMS's receipt",
      });

      const { tokens } = await verifiedLogin(stack, 'phone-reviewer');
      const token = tokens.access_token;
      const asked = expectStatus(
        await stack.api('POST', '/api/v1/users/verify-phone', { phone: '082 000 0001' }, token),
        200,
      );
      assert.equal(asked.phone, PHONES.fixed);
      assert.equal(asked.channel, 'sms');
      // the account's one SMS of the hour (SMS_MAX_PER_ACCOUNT_PER_HOUR=1) is still whole: a second code is no 429
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', { phone: PHONES.fixed }, token), 200);
      const status = expectStatus(await stack.api('GET', '/api/v1/users/verify-phone/status', undefined, token), 200);
      assert.equal(status.status, 'sent');
      assert.match(status.hint, /test destination/);
      assert.equal(status.next_move_at, null);

      // Past the window, the control's call is made; nothing moves the reviewer's code.
      offset += 31_000;
      await voice.waitFor(control.person.phone);
      const rows = await messagesTo(stack, PHONES.fixed);
      assert.deepEqual(
        rows.map((m) => [m.channel, m.status, m.last_error, m.waits_for]),
        [
          ['sms', 'captured', 'test destination', null],
          ['sms', 'captured', 'test destination', null],
        ],
      );
      assert.equal(twilio.messages.filter((m) => m.to.endsWith(PHONES.fixed)).length, 0, 'no SMS to the reviewer');
      assert.equal(voice.calls.filter((c) => c.to === PHONES.fixed).length, 0, 'no call to the reviewer');

      const done = expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: CODES.fixed }, token), 200);
      assert.equal(done.user.phone, PHONES.fixed);
      assert.equal(done.phone_verified, true);
      // newest first: the code used, and the one it replaced
      const [used, replaced] = await logOf(PHONES.fixed);
      assert.deepEqual(kinds(used.events), ['test_destination', 'test_code_used']);
      assert.deepEqual(kinds(replaced.events), ['test_destination']);

      // every purpose: an unlock by SMS to the number, now verified, is its fixed code too
      expectStatus(
        await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
          identifier: '082 000 0001',
          delivery_method: 'sms',
        }),
        200,
      );
      // twice: the account's SMS to its own number (SMS_MAX_PER_ACCOUNT_PER_HOUR=1) are not spent either
      expectStatus(
        await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
          identifier: PHONES.fixed,
          delivery_method: 'sms',
        }),
        200,
      );
      const unlocks = await waitUntil(
        async () => {
          const rows = (await messagesTo(stack, PHONES.fixed)).filter((m) => m.purpose === 'unlock');
          return rows.length === 2 ? rows : undefined;
        },
        { what: 'two unlock messages' },
      );
      for (const m of unlocks) assert.deepEqual([m.status, m.last_error], ['captured', 'test destination']);
      const unlocked = await stack.api('POST', '/api/v1/auth/verify-unlock-otp', {
        identifier: PHONES.fixed,
        otp: CODES.fixed,
      });
      assert.equal(expectStatus(unlocked, 200).unlocked, true);
      assert.equal(twilio.messages.filter((m) => m.to.endsWith(PHONES.fixed)).length, 0, 'still no SMS');
    });

    it('wrong guesses still count: the tries of a code and the guess budget of the day hold the fixed code too', async () => {
      const { tokens } = await verifiedLogin(stack, 'guessing-reviewer');
      const token = tokens.access_token;
      const ask = async () =>
        expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', { phone: PHONES.guesses }, token), 200);
      const guess = (otp: string) => stack.api('POST', '/api/v1/users/verify-otp', { otp }, token);
      await ask();
      for (const salt of [1, 2]) assert.equal(errorCode(await guess(wrongCode(CODES.guesses, salt))), 'otp_invalid');
      const dead = await guess(CODES.guesses);
      assert.equal(errorCode(dead), 'otp_attempts_exceeded', 'OTP_MAX_ATTEMPTS=2 wrong tries end the code');
      // a new code is the same fixed code, with its tries back, but the day's 3 guesses are nearly spent
      await ask();
      assert.equal(errorCode(await guess(wrongCode(CODES.guesses, 3))), 'otp_invalid');
      const spent = await guess(CODES.guesses);
      assert.equal(errorCode(spent), 'otp_attempts_exceeded');
      assert.match(spent.text, /Too many wrong codes in the last day/);
    });

    it('no brake is spent but the request limits stay: calls past VOICE_MAX_PER_HOUR, then 429 past OTP_MAX_SENDS_PER_HOUR', async () => {
      const { tokens } = await verifiedLogin(stack, 'busy-reviewer');
      const ask = () =>
        stack.api(
          'POST',
          '/api/v1/users/verify-phone',
          { phone: PHONES.limits, channel: 'voice' },
          tokens.access_token,
        );
      // VOICE_MAX_PER_HOUR=1: a second real call this hour would be refused by the brake
      for (let i = 0; i < 3; i++) assert.equal(expectStatus(await ask(), 200).channel, 'voice');
      const refused = await ask();
      assert.equal(refused.status, 429, refused.text);
      assert.equal(errorCode(refused), 'rate_limited');
      assert.match(refused.text, /Too many codes/);
      assert.equal(voice.calls.filter((c) => c.to === PHONES.limits).length, 0);
    });
  });
}

describe('test destinations in development', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      env: { ...DEV_ENV, TEST_OTP_DESTINATIONS: `${REVIEW_EMAIL}=${CODES.email}` },
    });
  });
  after(() => stack?.close());

  it('need no date; the dev inbox still shows the message and its code, and the log never does', async () => {
    assert.ok(stack.logs.some((l) => l.includes('1 test destination, with no end date (development)')));
    expectStatus(
      await stack.api('POST', '/api/v1/auth/register', { ...person('dev-reviewer'), email: REVIEW_EMAIL }),
      201,
    );
    const [shown] = await inbox(stack, REVIEW_EMAIL);
    assert.equal(shown.status, 'captured');
    assert.equal(shown.last_error, 'test destination');
    assert.equal(shown.otp, CODES.email);
    assert.ok(!stack.logs.join('').includes(CODES.email), 'no "simulating … with OTP" line for a test destination');
    expectStatus(
      await stack.api('POST', '/api/v1/auth/verify-account', { email: REVIEW_EMAIL, otp: CODES.email }),
      200,
    );
  });
});

describe('test destinations once TEST_OTP_VALID_UNTIL is over, the service still running', () => {
  let stack: Stack;
  let now = Date.parse('2030-06-15T23:59:00Z');
  before(async () => {
    stack = await startStack({
      clock: () => new Date(now),
      env: { TEST_OTP_DESTINATIONS: `${REVIEW_EMAIL}=${CODES.email}`, TEST_OTP_VALID_UNTIL: '2030-06-15' },
    });
  });
  after(() => stack?.close());

  it('are ordinary destinations: a code of its own is mailed, and the fixed code is refused', async () => {
    now = Date.parse('2030-06-16T00:00:00Z');
    const reviewer = { ...person('late-reviewer'), email: REVIEW_EMAIL };
    expectStatus(await stack.api('POST', '/api/v1/auth/register', reviewer), 201);
    const code = await stack.emailCode(REVIEW_EMAIL.toLowerCase());
    assert.notEqual(code, CODES.email);
    const fixed = await stack.api('POST', '/api/v1/auth/verify-account', { email: REVIEW_EMAIL, otp: CODES.email });
    assert.equal(errorCode(fixed), 'otp_invalid');
    expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: REVIEW_EMAIL, otp: code }), 200);
  });
});

describe('refusals: every one names the setting and says why', () => {
  const production = { APP_ENV: 'production', ...STRONG, TEST_OTP_DESTINATIONS: `${PHONES.fixed}=${CODES.fixed}` };

  /**
   * The runtime of these settings at `now`, refused before it opens anything (a PGlite opened and
   * closed unused would keep the test process alive with its timer).
   */
  const starting = (env: Record<string, string>, now: number) =>
    createRuntime({
      config: loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', ...env }),
      clock: () => new Date(now),
    });

  /** The ConfigError `fn` throws. */
  function refusal(fn: () => unknown): string {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    assert.fail('nothing was refused');
  }

  it('production past TEST_OTP_VALID_UNTIL (by the service clock): the service does not start', async () => {
    const now = Date.parse('2030-06-15T12:00:00Z');
    await assert.rejects(starting({ ...production, TEST_OTP_VALID_UNTIL: '2030-06-14' }, now), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /TEST_OTP_VALID_UNTIL=2030-06-14 is over/);
      assert.match(err.message, /it is now 2030-06-15T12:00:00\.000Z/);
      assert.match(err.message, /Remove TEST_OTP_DESTINATIONS/);
      assert.ok(!err.message.includes(CODES.fixed), 'never the code');
      return true;
    });
    // the last day itself still works: the date is the last day, UTC, included
    const onIt = await startStack({
      clock: () => new Date(now),
      env: { ...production, TEST_OTP_VALID_UNTIL: '2030-06-15' },
    });
    await onIt.close();
  });

  it("outside development (production and test) a date more than 90 days after the clock's today refuses the start; 90 days starts; development has no cap", async () => {
    // late in the day, UTC: "today" is the clock's UTC date, 2030-06-15
    const now = Date.parse('2030-06-15T23:30:00Z');
    const list = { TEST_OTP_DESTINATIONS: `${PHONES.fixed}=${CODES.fixed}` };
    let refused = 0;
    for (const env of [production, { APP_ENV: 'test', ...list }]) {
      // refused before anything opens; a start let through is closed and not counted
      const outcome = await starting({ ...env, TEST_OTP_VALID_UNTIL: dayOf(now, 91) }, now).then(
        (runtime) => runtime.close(),
        (err: unknown) => err,
      );
      if (outcome instanceof Error && !(outcome instanceof ConfigError)) throw outcome;
      if (!(outcome instanceof ConfigError)) continue;
      assert.equal(
        outcome.message,
        `TEST_OTP_VALID_UNTIL=2030-09-14 is more than 90 days after today (2030-06-15, UTC, by the service's clock): ` +
          `outside development (APP_ENV=${env.APP_ENV}) it is the last day of a review, at most 90 days ahead, ` +
          "since a far-off date keeps a reviewer's fixed code a way into its account long after the review. " +
          "Set TEST_OTP_VALID_UNTIL to the review's last day, 2030-09-13 at the latest (YYYY-MM-DD, UTC), and set it again for a later review; or remove TEST_OTP_DESTINATIONS.",
      );
      refused += 1;
    }
    assert.equal(refused, 2, 'a date 91 days ahead starts nothing, in production and in test');
    // 90 days ahead is a review's length: it starts, in both
    for (const env of [production, list]) {
      const onIt = await startStack({
        clock: () => new Date(now),
        env: { ...env, TEST_OTP_VALID_UNTIL: dayOf(now, 90) },
      });
      await onIt.close();
    }
    // development requires no date and caps none
    const dev = await startStack({
      clock: () => new Date(now),
      env: { ...DEV_ENV, ...list, TEST_OTP_VALID_UNTIL: '2999-12-31' },
    });
    try {
      assert.ok(
        dev.logs.some((l) => l.includes('1 test destination, until 2999-12-31')),
        dev.logs.join(''),
      );
    } finally {
      await dev.close();
    }
  });

  it('`panic-api serve` in production past the date, without it, and more than 90 days ahead, exits 2 with the sentence and no stack trace', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'panic-test-destinations-'));
    try {
      const env = { ...production, DATA_DIR: dataDir, PORT: '0' };
      const past = await runCli(['serve'], { ...env, TEST_OTP_VALID_UNTIL: dayOf(Date.now(), -1) });
      assert.equal(past.code, 2, past.stderr);
      assert.match(past.stderr, /TEST_OTP_VALID_UNTIL=\d{4}-\d\d-\d\d is over/);
      assert.doesNotMatch(past.stderr, /^\s+at /m, 'no stack trace');
      const missing = await runCli(['serve'], env);
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(missing.stderr, /TEST_OTP_DESTINATIONS is set but TEST_OTP_VALID_UNTIL is not/);
      assert.match(missing.stderr, /APP_ENV=production/);
      const farOff = await runCli(['serve'], { ...env, TEST_OTP_VALID_UNTIL: dayOf(Date.now(), 91) });
      assert.equal(farOff.code, 2, farOff.stderr);
      assert.match(
        farOff.stderr,
        /TEST_OTP_VALID_UNTIL=\d{4}-\d\d-\d\d is more than 90 days after today .*APP_ENV=production/,
      );
      assert.doesNotMatch(farOff.stderr, /^\s+at /m, 'no stack trace');
      for (const run of [past, missing, farOff])
        assert.ok(!(run.stdout + run.stderr).includes(CODES.fixed), 'never the code');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a date that is not one, in any environment', () => {
    for (const date of ['31/10/2030', '2030-02-30', 'soon']) {
      const message = refusal(() =>
        loadConfig({ TEST_OTP_DESTINATIONS: `${PHONES.fixed}=${CODES.fixed}`, TEST_OTP_VALID_UNTIL: date }),
      );
      assert.match(message, /TEST_OTP_VALID_UNTIL: must be a date, YYYY-MM-DD/);
    }
  });

  it('outside development the date is required (test too); in development a date in the past refuses too, saying why', async () => {
    const list = { TEST_OTP_DESTINATIONS: `${PHONES.fixed}=${CODES.fixed}` };
    assert.match(
      refusal(() => loadConfig({ APP_ENV: 'test', ...list })),
      /APP_ENV=test/,
    );
    assert.equal(loadConfig({ APP_ENV: 'development', ...list }).TEST_OTP_DESTINATIONS.get(PHONES.fixed), CODES.fixed);
    await assert.rejects(
      starting({ ...list, APP_ENV: 'development', TEST_OTP_VALID_UNTIL: dayOf(Date.now(), -1) }, Date.now()),
      /is over .*A date in the past means the review is over/s,
    );
  });

  it('a malformed entry is refused naming it by its place and destination, never printing a code', () => {
    const cases: Array<[string, RegExp]> = [
      [`${PHONES.fixed}=48291`, /entry 1 \(\+27820000001\): its code must be 6 digits \(OTP_LENGTH\)/],
      [`review@example.com=13579a`, /entry 1 \(review@example\.com\): its code must be 6 digits/],
      [`review@example.com=135790,${PHONES.fixed}`, /entry 2 has no "=": write destination=code/],
      ['=135790', /entry 1 has no destination/],
      ['0800=135790', /entry 1 \(0800\): "0800" is not a valid phone number/],
      ['+264811234567=135790', /entry 1 \(\+264811234567\): Numbers in NA are not accepted here/],
      [
        `Review@Example.com=135790,review@example.com=246801`,
        /entry 2 \(review@example\.com\) is the same destination as entry 1/,
      ],
      [`082 000 0001=135790,${PHONES.fixed}=246801`, /entry 2 \(\+27820000001\) is the same destination as entry 1/],
    ];
    for (const [list, expected] of cases) {
      const message = refusal(() => loadConfig({ TEST_OTP_DESTINATIONS: list }));
      assert.match(message, /TEST_OTP_DESTINATIONS: /, message);
      assert.match(message, expected, message);
      for (const code of list.matchAll(/=(\w*)/g))
        if (code[1]) assert.ok(!message.includes(code[1]), `the code ${code[1]} in: ${message}`);
    }
    assert.equal(
      loadConfig({ OTP_LENGTH: '8', TEST_OTP_DESTINATIONS: `${PHONES.fixed}=12345678` }).TEST_OTP_DESTINATIONS.size,
      1,
    );
  });
});
