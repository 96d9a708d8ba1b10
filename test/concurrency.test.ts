import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ApiResponse, errorCode } from './support/api.ts';
import { databaseKinds, startStack, registered, verifiedLogin, wrongCode, type Stack } from './support/stack.ts';

const errorCodes = (responses: ApiResponse[]) => responses.map((r) => `${r.status} ${errorCode(r) ?? ''}`).sort();

for (const db of await databaseKinds()) {
  describe(`concurrent code and token use (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db, env: { OTP_MAX_ATTEMPTS: '5' } });
    });
    after(() => stack.close());

    const attemptsOf = async (userId: string, purpose: 'email_verification' | 'phone_verification') => {
      const row = await stack.runtime.services.db
        .selectFrom('otp_codes')
        .select(['attempts', 'consumed_at'])
        .where('user_id', '=', userId)
        .where('purpose', '=', purpose)
        .executeTakeFirstOrThrow();
      return row;
    };

    it('50 parallel wrong guesses count as at most OTP_MAX_ATTEMPTS, and then the right code is refused', async () => {
      const { p, code, userId } = await registered(stack, 'guess');
      const guesses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: wrongCode(code, 1 + i) }),
        ),
      );
      // verify-account is public: every refusal is otp_invalid, so a known address's code state shows nothing.
      for (const g of guesses) {
        assert.equal(g.status, 400, g.text);
        assert.equal(g.body.error.code, 'otp_invalid', g.text);
      }
      const row = await attemptsOf(userId, 'email_verification');
      assert.ok(row.attempts <= 5, `attempts counted: ${row.attempts}`);
      assert.equal(row.attempts, 5, 'only 5 guesses were really checked: the code died then');

      const right = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code });
      assert.equal(right.status, 400, right.text);
      assert.equal(right.body.error.code, 'otp_invalid', 'the dead code is refused');
      assert.equal((await attemptsOf(userId, 'email_verification')).attempts, 5);
      const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(errorCode(login), 'email_not_verified', 'the account stayed unverified');
    });

    it('4 parallel submissions of the right code verify once; the rest are otp_invalid', async () => {
      const { p, code, userId } = await registered(stack, 'double');
      const tries = await Promise.all(
        Array.from({ length: 4 }, () =>
          stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code }),
        ),
      );
      assert.deepEqual(errorCodes(tries), ['200 ', '400 otp_invalid', '400 otp_invalid', '400 otp_invalid']);
      const ok = tries.find((t) => t.status === 200)!;
      assert.equal(ok.body.is_verified, true);
      const row = await attemptsOf(userId, 'email_verification');
      assert.ok(row.consumed_at, 'the code is consumed');
      const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(login.status, 200, login.text);
    });

    it('2 parallel refreshes of one refresh token: one new pair, one 401, and the reuse ends the session', async () => {
      const { tokens } = await verifiedLogin(stack, 'race-refresh');
      const both = await Promise.all([
        stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token }),
        stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token }),
      ]);
      assert.deepEqual(both.map((r) => r.status).sort(), [200, 401], both.map((r) => r.text).join('\n'));
      const won = both.find((r) => r.status === 200)!;
      const lost = both.find((r) => r.status === 401)!;
      assert.equal(lost.body.error.code, 'invalid_refresh_token');
      assert.equal(won.body.token_type, 'bearer');
      assert.ok(won.body.access_token && won.body.refresh_token);
      assert.notEqual(won.body.refresh_token, tokens.refresh_token);
      // The loser presented a rotated token: indistinguishable from a thief's copy, so the whole session
      // ended, the winner's pair with it (OAuth 2.0 Security BCP). Logging in again starts a new one.
      assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, won.body.access_token)).status, 401);
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: won.body.refresh_token })).status,
        401,
      );
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token })).status,
        401,
      );
    });

    it('2 parallel phone verifications with the right SMS code verify once', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'race-phone');
      const send = await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token);
      assert.equal(send.status, 200, send.text);
      const code = await stack.smsCode(p.phone);
      const both = await Promise.all([
        stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, tokens.access_token),
        stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, tokens.access_token),
      ]);
      assert.deepEqual(errorCodes(both), ['200 ', '400 otp_invalid'], both.map((r) => r.text).join('\n'));
      assert.equal(both.find((r) => r.status === 200)!.body.phone_verified, true);
      const me = await stack.api('GET', '/api/v1/auth/me', undefined, tokens.access_token);
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.phone_verified, true);
    });
  });
}
