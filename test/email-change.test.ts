/**
 * A safe change of email (issue 21), over the real SMTP server: a code to the new address, the switch
 * with it, the notice to the old address; a signed-in stranger who asks for an address held by another
 * account learns nothing before they prove its inbox; the password under the login throttle, and a
 * sign-in code for an account without one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiResponse, assertRateLimited, errorCode, expectStatus } from './support/api.ts';
import {
  databaseKinds,
  outboxDrained,
  person,
  registered,
  startStack,
  verifiedLogin,
  wrongCode,
  type Stack,
} from './support/stack.ts';
import { runCli } from './support/cli.ts';
import { EVEN_ANSWER_MS } from '../src/accounts/even-answer.ts';
import { sendCode } from '../src/otp/send-code.ts';
import { startSession } from '../src/accounts/sessions.ts';
import { maskEmail } from '../src/shared/addresses.ts';

const START = Date.parse('2031-05-04T10:00:00.000Z');
const SUPPORT_URL = 'https://help.panic.example.co.za/account';
/** The long code in an email, as the footer shows it. */
const LONG_CODE = /\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b/;

/** Status and the exact bytes of the body. */
const answer = (r: ApiResponse) => ({ status: r.status, text: r.text });

const purposesTo = async (stack: Stack, recipient: string) =>
  (
    await stack.runtime.services.db
      .selectFrom('messages')
      .select('purpose')
      .where('recipient', '=', recipient.toLowerCase())
      .orderBy('created_at')
      .execute()
  ).map((m) => m.purpose);

/** The mail to `to` that has `subject` in it, once it arrived. */
async function mailTo(stack: Stack, to: string, count: number, subject: RegExp) {
  await stack.smtp.waitFor(to, { count });
  const mail = stack.smtp.messages.filter((m) => m.envelopeTo.includes(to.toLowerCase()) && subject.test(m.subject));
  assert.equal(mail.length, 1, `one mail "${subject}" to ${to}: ${mail.map((m) => m.subject).join(', ')}`);
  return mail[0];
}

/** A sign-in code emailed to the account's address, as POST /auth/otp will send it (issued here by the domain). */
async function emailedLoginCode(stack: Stack, account: { id: string; email: string }, count: number) {
  await sendCode(stack.runtime.services, {
    userId: account.id,
    purpose: 'login',
    channel: 'email',
    destination: account.email,
    now: stack.runtime.services.clock(),
  });
  return stack.emailCode(account.email, count);
}

for (const db of await databaseKinds()) {
  describe(`changing the account's email (${db})`, () => {
    let stack: Stack;
    const now = START;
    before(async () => {
      stack = await startStack({ db, clock: () => new Date(now), env: { SUPPORT_URL } });
    });
    after(() => stack?.close());

    const ask = (token: string, body: { email: string; password?: string; otp?: string }) =>
      stack.api('POST', '/api/v1/users/me/email', body, token);
    const confirm = (token: string, otp: string) => stack.api('POST', '/api/v1/users/me/email/verify', { otp }, token);

    it('end to end: a code to the new address, the switch with it, the notice to the old one; the old address signs in no more, and can register anew', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'change');
      const next = person('moved').email;
      // a reset code in the old inbox, asked before the switch: it must not work for the account once it moved
      expectStatus(await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }), 200);
      const reset = await mailTo(stack, p.email, 2, /Reset/i);

      const asked = expectStatus(await ask(tokens.access_token, { email: next, password: p.password }), 200);
      assert.equal(asked.channel, 'email');
      assert.equal(asked.expires_at, new Date(START + 600_000).toISOString());
      const sent = await mailTo(stack, next, 1, /Confirm your new email address/);
      assert.ok(LONG_CODE.test(sent.text), 'the long code comes with the email, as with every email');
      // until the code comes back, the old address is the account's
      assert.equal(
        expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, tokens.access_token), 200).email,
        p.email,
      );
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }), 200);

      const code = await stack.emailCode(next, 1);
      const wrong = await confirm(tokens.access_token, wrongCode(code));
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(errorCode(wrong), 'otp_invalid');
      const done = expectStatus(await confirm(tokens.access_token, code), 200);
      assert.equal(done.user.email, next);
      assert.equal(done.user.email_verified, true);

      // the notice: to the old address, the new one masked, when, the support link, and no code
      const notice = await mailTo(stack, p.email, 3, /Your email address was changed/);
      // (the HTML's words: its styles have six-digit colours)
      for (const body of [notice.text, notice.html.replace(/<[^>]*>/g, '')]) {
        assert.ok(body.includes(maskEmail(next)), `the masked new address (${maskEmail(next)}) in:\n${body}`);
        assert.ok(!body.includes(next), 'never the whole new address');
        assert.ok(body.includes('2031-05-04 10:00 UTC'), 'when');
        assert.ok(body.includes(SUPPORT_URL), 'the support link');
        assert.doesNotMatch(body, /\b\d{6}\b/, 'no code');
        assert.doesNotMatch(body, LONG_CODE, 'no long code');
      }
      const row = await stack.runtime.services.db
        .selectFrom('messages')
        .select(['otp', 'code_id', 'expires_at'])
        .where('recipient', '=', p.email)
        .where('purpose', '=', 'email_changed')
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { otp: null, code_id: null, expires_at: null }, 'a message that carries no code');

      // sessions stay; the old address no longer signs in, the new one does
      assert.equal(
        expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, tokens.access_token), 200).email,
        next,
      );
      const old = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(old.status, 401, old.text);
      assert.equal(errorCode(old), 'invalid_credentials');
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: next, password: p.password }), 200);
      // the code the old inbox was sent before the switch ended with it: short and long alike
      for (const otp of [reset.text.match(/\b(\d{6})\b/)![1], reset.text.match(LONG_CODE)![0]]) {
        const used = await stack.api('POST', '/api/v1/auth/reset-password', {
          email: next,
          otp,
          new_password: 'whoever reads the old inbox',
        });
        assert.equal(used.status, 400, used.text);
        assert.equal(errorCode(used), 'otp_invalid');
      }

      // the old address is free: it can be registered anew, and verified by its inbox
      expectStatus(await stack.api('POST', '/api/v1/auth/register', { ...p, phone: person().phone }), 201);
      const fresh = await stack.smtp.waitFor(p.email, { count: 4 });
      assert.match(fresh.subject, /Verify your email address/);
      expectStatus(
        await stack.api('POST', '/api/v1/auth/verify-account', {
          email: p.email,
          otp: fresh.text.match(/\b(\d{6})\b/)![1],
        }),
        200,
      );
    });

    it('the own address is email_unchanged, any case; nothing pending to verify is otp_invalid', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'same');
      const same = await ask(tokens.access_token, { email: p.email.toUpperCase(), password: p.password });
      assert.equal(same.status, 400, same.text);
      assert.equal(errorCode(same), 'email_unchanged');
      const nothing = await confirm(tokens.access_token, '123456');
      assert.equal(nothing.status, 400, nothing.text);
      assert.equal(errorCode(nothing), 'otp_invalid');
      assert.deepEqual(await purposesTo(stack, p.email), ['email_verification']);
      // neither password nor code, or both: a 400 a client can act on
      for (const body of [{ email: person().email }, { email: person().email, password: p.password, otp: '123456' }]) {
        const r = await ask(tokens.access_token, body);
        assert.equal(r.status, 400, r.text);
        assert.equal(errorCode(r), 'validation_error');
      }
    });

    it('a wrong password is 401 and counts on the login throttle of the account address; a sign-in code is the way past it, and the switch lifts it', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'throttled');
      const { id } = expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, tokens.access_token), 200);
      const next = person('throttled-new').email;
      for (let i = 0; i < 5; i++) {
        const r = await ask(tokens.access_token, { email: next, password: `not it ${i}` });
        assert.equal(r.status, 401, r.text);
        assert.equal(errorCode(r), 'invalid_credentials');
      }
      // the fifth failure armed the throttle: the right password waits, here and at login alike
      assertRateLimited(await ask(tokens.access_token, { email: next, password: p.password }), 30);
      assertRateLimited(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }), 30);
      assert.deepEqual(await purposesTo(stack, next), [], 'nothing was sent');

      const login = await emailedLoginCode(stack, { id, email: p.email }, 2);
      expectStatus(await ask(tokens.access_token, { email: next, otp: login }), 200);
      expectStatus(await confirm(tokens.access_token, await stack.emailCode(next, 1)), 200);
      const left = await stack.runtime.services.db
        .selectFrom('login_failures')
        .select('email')
        .where('email', 'in', [p.email, next])
        .execute();
      assert.deepEqual(left, [], "the old address's failures went with the switch");
    });

    it('an account without a password proves itself with a sign-in code', async () => {
      const p = person('codeonly');
      const { password: _none, ...withoutPassword } = p;
      const reg = expectStatus(await stack.api('POST', '/api/v1/users/register', withoutPassword), 200);
      expectStatus(
        await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: await stack.emailCode(p.email) }),
        200,
      );
      const { access_token } = await startSession(
        stack.runtime.services,
        reg.user.id,
        { method: 'code', requester: { network: '127.0.0.0/24' } },
        new Date(now),
      );
      const next = person('codeonly-new').email;
      const guessed = await ask(access_token, { email: next, password: 'no password to match' });
      assert.equal(guessed.status, 401, guessed.text);
      assert.equal(errorCode(guessed), 'invalid_credentials');
      assert.match(guessed.body.error.message, /"otp"/, 'says what to send instead');

      const code = await emailedLoginCode(stack, { id: reg.user.id, email: p.email }, 2);
      const wrong = await ask(access_token, { email: next, otp: wrongCode(code) });
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(errorCode(wrong), 'otp_invalid');
      expectStatus(await ask(access_token, { email: next, otp: code }), 200);
      const again = await ask(access_token, { email: person().email, otp: code });
      assert.equal(errorCode(again), 'otp_invalid', 'a sign-in code is used once');
      const moved = expectStatus(await confirm(access_token, await stack.emailCode(next, 1)), 200);
      assert.equal(moved.user.email, next);
      await mailTo(stack, p.email, 3, /Your email address was changed/);
    });

    it('an address whose registration nobody verified goes to the account that proves its inbox; that registration is removed', async () => {
      const pending = await registered(stack, 'pending-held');
      const { person: p, tokens } = await verifiedLogin(stack, 'prover');
      expectStatus(await ask(tokens.access_token, { email: pending.p.email, password: p.password }), 200);
      const moved = expectStatus(await confirm(tokens.access_token, await stack.emailCode(pending.p.email, 2)), 200);
      assert.equal(moved.user.email, pending.p.email);
      const gone = await stack.runtime.services.db
        .selectFrom('users')
        .select('id')
        .where('id', '=', pending.userId)
        .executeTakeFirst();
      assert.equal(gone, undefined, 'the pending registration is gone');
      // its verification code verifies nothing now
      const stale = await stack.api('POST', '/api/v1/auth/verify-account', {
        email: pending.p.email,
        otp: pending.code,
      });
      assert.equal(errorCode(stale), 'otp_invalid');
    });
  });

  describe(`a signed-in stranger learns nothing about an address held by another account (${db})`, () => {
    let stack: Stack;
    before(async () => {
      // time stands still: expires_at and Retry-After cannot differ between answers
      stack = await startStack({
        db,
        clock: () => new Date(START),
        env: { OTP_RESEND_COOLDOWN_SECONDS: '60', OTP_MAX_SENDS_PER_HOUR: '1000' },
      });
    });
    after(() => stack?.close());

    it('asked for a verified, a pending and a free address: the same answers in the same sequence, each held to the even floor; each address is sent the code, nothing else, and only a right code hears email_taken', async () => {
      // the owner's registration spent the held mailbox's cooldown of codes sent: nothing the answers show
      const owner = await verifiedLogin(stack, 'held-owner');
      const pending = await registered(stack, 'held-pending');
      const stranger = await verifiedLogin(stack, 'stranger');
      const { id } = expectStatus(
        await stack.api('GET', '/api/v1/auth/me', undefined, stranger.tokens.access_token),
        200,
      );
      // Proved by sign-in codes, whose check costs a query where a password costs a hash longer than the
      // floor: so the stopwatch reads the even floor itself, and an answer that skipped it would show.
      let mailed = 1;
      const signInCode = () => emailedLoginCode(stack, { id, email: stranger.person.email }, ++mailed);
      const targets = { verified: owner.person.email, pending: pending.p.email, free: person('free').email };
      const sequences: Record<string, Array<ApiResponse & { started: number; ended: number }>> = {};
      for (const [kind, email] of Object.entries(targets)) {
        sequences[kind] = [];
        // the ask, the same ask again (the asker's cooldown), and again in another spelling of the mailbox
        for (const spelling of [email, email, email.toUpperCase()]) {
          const otp = await signInCode();
          const started = performance.now();
          const r = await stack.api(
            'POST',
            '/api/v1/users/me/email',
            { email: spelling, otp },
            stranger.tokens.access_token,
          );
          const ended = performance.now();
          assert.ok(
            ended - started >= EVEN_ANSWER_MS,
            `${kind}: answered after ${(ended - started).toFixed(1)} ms, before the even floor`,
          );
          sequences[kind].push({ ...r, started, ended });
        }
      }
      const [first, second, third] = sequences.verified;
      assert.equal(first.status, 200, first.text);
      assertRateLimited(second, 60);
      assertRateLimited(third, 60);
      for (const [kind, sequence] of Object.entries(sequences)) {
        sequence.forEach((r, i) => {
          assert.deepEqual(answer(r), answer(sequences.verified[i]), `${kind}, answer ${i + 1}`);
          if (i === 0) return;
          // Retry-After is the cooldown left since this asker's first ask for the address, whatever
          // the address: the seconds between (the sign-in codes come by mail) and nothing else
          const elapsed = [(r.started - sequence[0].ended) / 1000, (r.ended - sequence[0].started) / 1000];
          const retry = Number(r.headers.get('retry-after'));
          assert.ok(
            retry >= Math.ceil(60 - elapsed[1]) && retry <= Math.ceil(60 - elapsed[0]),
            `${kind}, answer ${i + 1}: Retry-After ${retry} after ${elapsed.map((e) => e.toFixed(2)).join('–')} s`,
          );
        });
      }

      // Each address got the one code (the proof of the inbox, which every address gets alike), and
      // nothing else: the verified owner's account and inbox hear of no stranger's ask.
      const held = await mailTo(stack, targets.verified, 2, /Confirm your new email address/);
      await mailTo(stack, targets.pending, 2, /Confirm your new email address/);
      await mailTo(stack, targets.free, 1, /Confirm your new email address/);
      await outboxDrained(stack);
      assert.deepEqual(await purposesTo(stack, targets.verified), ['email_verification', 'email_change']);
      assert.deepEqual(await purposesTo(stack, targets.pending), ['email_verification', 'email_change']);
      assert.deepEqual(await purposesTo(stack, targets.free), ['email_change']);

      // A wrong code answers alike whichever address waits; only the inbox's code (here the held
      // address's long code, as its owner would have it) learns that the address is taken.
      const wrong = await stack.api(
        'POST',
        '/api/v1/users/me/email/verify',
        { otp: '000000' },
        stranger.tokens.access_token,
      );
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(errorCode(wrong), 'otp_invalid');
      const taken = await stack.api(
        'POST',
        '/api/v1/users/me/email/verify',
        { otp: held.text.match(LONG_CODE)![0] },
        stranger.tokens.access_token,
      );
      assert.equal(taken.status, 409, taken.text);
      assert.equal(errorCode(taken), 'email_taken');
      const me = expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, stranger.tokens.access_token), 200);
      assert.equal(me.email, stranger.person.email, "the stranger's account kept its address");
      const owned = expectStatus(await stack.api('GET', '/api/v1/auth/me', undefined, owner.tokens.access_token), 200);
      assert.equal(owned.email, owner.person.email);
      await outboxDrained(stack);
      assert.ok(!(await purposesTo(stack, targets.verified)).includes('email_changed'));
      assert.ok(!(await purposesTo(stack, stranger.person.email)).includes('email_changed'), 'no switch, no notice');
    });
  });
}

describe('panic-api change-email', () => {
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), 'panic-change-email-'));
    env = { API_BASE_URL: stack.baseUrl, PANIC_API_SESSION_FILE: join(dir, 'session.json') };
  });
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('NEW sends the code, --code moves the account there and the saved session follows', {
    timeout: 90_000,
  }, async () => {
    const { person: p } = await verifiedLogin(stack, 'cli-change');
    const next = person('cli-moved').email;
    const login = await runCli(['login', p.email, '--password', p.password], env);
    assert.equal(login.code, 0, login.stderr);

    const wrong = await runCli(['change-email', next, '--password', 'not the password'], env);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stderr.trim(), /^The password is wrong\. \(invalid_credentials, HTTP 401\)$/);
    const failures = await stack.runtime.services.db
      .selectFrom('login_failures')
      .select('failures')
      .where('email', '=', p.email)
      .executeTakeFirstOrThrow();
    assert.equal(failures.failures, 1, 'a wrong password is sent once, never again after a refresh');

    const asked = await runCli(['change-email', next, '--password', p.password], env);
    assert.equal(asked.code, 0, asked.stderr);
    assert.ok(asked.stdout.includes(`A code was sent to ${next}`), asked.stdout);
    assert.ok(asked.stdout.includes('then run: panic-api change-email --code CODE'), asked.stdout);

    const moved = await runCli(['change-email', '--code', await stack.emailCode(next)], env);
    assert.equal(moved.code, 0, moved.stderr);
    assert.ok(moved.stdout.includes(`The account's email is now ${next}`), moved.stdout);
    assert.equal(JSON.parse(readFileSync(env.PANIC_API_SESSION_FILE, 'utf8')).email, next);

    const neither = await runCli(['change-email'], env);
    assert.equal(neither.code, 2, neither.stderr);
    assert.match(neither.stderr, /Usage: panic-api change-email \[NEW\]/);
  });
});
