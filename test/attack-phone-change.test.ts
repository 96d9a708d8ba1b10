/**
 * The attack on the account's verified phone (SECURITY.md, "Export and erasure"): a stolen access
 * token puts its own number on the account (verify-phone, then verify-otp) and keeps signing in by
 * phone code after the session ends. A verified phone now moves only with the password or a sign-in
 * code sent to the account's email; a first phone, or the same number again, needs neither.
 * Each finding is counted as `{ …: what got through }`: the assertion holds the count after the fix.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode, expectStatus } from './support/api.ts';
import { databaseKinds, randomMobile, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { failed, noTerminal, ok, runAtTerminal, runCli } from './support/cli.ts';

const LOGIN_MAX_FAILURES = 3;
const VERIFY_PHONE = '/api/v1/users/verify-phone';

for (const db of await databaseKinds()) {
  describe(`the attack on the account's verified phone (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        db,
        env: { LOGIN_MAX_FAILURES: String(LOGIN_MAX_FAILURES), OTP_RESEND_COOLDOWN_SECONDS: '0' },
      });
    });
    after(async () => stack?.close());

    /** Messages (codes) the service queued to this number, whatever became of them. */
    const sentTo = async (phone: string) =>
      Number(
        (
          await stack.runtime.services.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('recipient', '=', phone)
            .executeTakeFirstOrThrow()
        ).n,
      );
    /** A signed-in account, its email and its phone verified: the phone its first, which takes no proof. */
    const phoneVerified = async (tag: string) => {
      const { person: p, tokens } = await verifiedLogin(stack, tag);
      const token = tokens.access_token;
      expectStatus(await stack.api('POST', VERIFY_PHONE, {}, token), 200);
      expectStatus(
        await stack.api('POST', '/api/v1/users/verify-otp', { otp: await stack.smsCode(p.phone) }, token),
        200,
      );
      return { p, token };
    };
    /** The code a number gets next, `count` messages to it then. */
    const moveTo = async (token: string, phone: string, count = 1) => {
      const otp = await stack.smsCode(phone, count);
      return expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp }, token), 200).user;
    };

    it('a stolen access token alone moves no verified phone: no code to its number, no sign-in by it', async () => {
      const { p, token: stolen } = await phoneVerified('victim');
      const thief = randomMobile();
      const found = { codesToThiefNumber: 0, signInsByThiefNumber: 0 };
      const asked = await stack.api('POST', VERIFY_PHONE, { phone: thief }, stolen);
      if (asked.status === 200) await moveTo(stolen, thief);
      else {
        assert.deepEqual([asked.status, errorCode(asked)], [403, 'proof_required']);
        assert.match(
          asked.text,
          /password.*sign-in code sent to the account's email/,
          'the refusal says what proves it',
        );
      }
      found.codesToThiefNumber = await sentTo(thief);
      // the session ended, the thief signs in by a code to the number
      expectStatus(await stack.api('POST', '/api/v1/auth/otp', { phone: thief }), 200);
      if ((await sentTo(thief)) > found.codesToThiefNumber) {
        const signIn = { phone: thief, otp: await stack.smsCode(thief, found.codesToThiefNumber + 1) };
        if ((await stack.api('POST', '/api/v1/auth/otp/verify', signIn)).status === 200) found.signInsByThiefNumber++;
      }
      // before the fix: { codesToThiefNumber: 1, signInsByThiefNumber: 1 }
      assert.deepEqual(found, { codesToThiefNumber: 0, signInsByThiefNumber: 0 });
      const me = expectStatus(await stack.api('GET', '/api/v1/users/me', undefined, stolen), 200);
      assert.deepEqual([me.phone, me.phone_verified], [p.phone, true], 'the account keeps its phone');
    });

    it('the person moves it with the password, or with a sign-in code sent to the email; the same number again takes nothing', async () => {
      const { p, token } = await phoneVerified('owner');
      expectStatus(await stack.api('POST', VERIFY_PHONE, { phone: p.phone }, token), 200);
      const first = randomMobile();
      expectStatus(await stack.api('POST', VERIFY_PHONE, { phone: first, password: p.password }, token), 200);
      assert.equal((await moveTo(token, first)).phone, first);

      // the new number is the verified one now: moving it again takes proof again
      const second = randomMobile();
      assert.equal(errorCode(await stack.api('POST', VERIFY_PHONE, { phone: second }, token)), 'proof_required');
      expectStatus(await stack.api('POST', '/api/v1/auth/otp', { email: p.email }), 200);
      const emailed = await stack.emailCode(p.email, 2);
      expectStatus(await stack.api('POST', VERIFY_PHONE, { phone: second, otp: emailed }, token), 200);
      assert.equal((await moveTo(token, second)).phone, second);

      // a code sent to the phone proves nothing more than the session (it moves with it)
      const third = randomMobile();
      expectStatus(await stack.api('POST', '/api/v1/auth/otp', { phone: second }), 200);
      const byPhone = { phone: third, otp: await stack.smsCode(second, 2) };
      assert.equal(errorCode(await stack.api('POST', VERIFY_PHONE, byPhone, token)), 'otp_invalid');
      assert.equal(await sentTo(third), 0);
    });

    it('a wrong password is invalid_credentials, counted on the login throttle, and sends nothing', async () => {
      const { p, token } = await phoneVerified('guessed');
      const next = randomMobile();
      for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
        const guess = await stack.api('POST', VERIFY_PHONE, { phone: next, password: `guess ${i}` }, token);
        assert.deepEqual([guess.status, errorCode(guess)], [401, 'invalid_credentials']);
      }
      const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.deepEqual([login.status, errorCode(login)], [429, 'rate_limited'], 'the guesses armed the login throttle');
      const right = await stack.api('POST', VERIFY_PHONE, { phone: next, password: p.password }, token);
      assert.equal(errorCode(right), 'rate_limited', 'nor are more guesses taken here');
      assert.equal(await sentTo(next), 0);
    });

    it('a number verified on another account is answered like a free one, with and without the proof', async () => {
      const { p, token } = await phoneVerified('asker');
      const other = await phoneVerified('other');
      const free = randomMobile();
      const shape = (r: { status: number; body: unknown }) => {
        const { phone: _, expires_at: __, ...rest } = r.body as Record<string, unknown>;
        return [r.status, JSON.stringify(rest).replace(/\+\d+/g, 'N')];
      };
      const ask = (phone: string, proof = {}) => stack.api('POST', VERIFY_PHONE, { phone, ...proof }, token);
      assert.deepEqual(shape(await ask(other.p.phone)), shape(await ask(free)));
      const proof = { password: p.password };
      assert.deepEqual(shape(await ask(other.p.phone, proof)), shape(await ask(free, proof)));
    });

    it('both fields at once is a validation_error', async () => {
      const { p, token } = await phoneVerified('both');
      const both = { phone: randomMobile(), password: p.password, otp: '123456' };
      assert.equal(errorCode(await stack.api('POST', VERIFY_PHONE, both, token)), 'validation_error');
    });

    it('panic-api verify-phone --phone: refused without proof, sent with --password, the password asked at a terminal', {
      timeout: 90_000,
    }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'panic-phone-change-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const env = { API_BASE_URL: stack.baseUrl, PANIC_API_SESSION_FILE: join(dir, 'session.json') };
      const { p } = await phoneVerified('cli-phone');
      ok(await runCli(['login', p.email, '--password', p.password], env), 'login');
      const next = randomMobile();
      failed(await runCli(['verify-phone', '--phone', next], env), /\(proof_required, HTTP 403\)$/);
      ok(await runCli(['verify-phone', '--phone', next, '--password', p.password, '--json'], env), 'verify-phone');
      assert.equal(await sentTo(next), 1);
      if (noTerminal) return t.skip(noTerminal);
      const asked = randomMobile();
      const run = await runAtTerminal(['verify-phone', '--phone', asked, '--json'], env, [['Password:', p.password]]);
      assert.equal(run.code, 0, run.screen);
      assert.equal(await sentTo(asked), 1);
    });
  });
}
