/**
 * Issue 21: the sessions a person sees and ends. Each device signs in from a network of its own
 * (test/support/clients.ts) with its own User-Agent; the clock is injected, so "last used" moves only
 * when the test moves it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { errorCode, expectStatus } from './support/api.ts';
import { onNetwork, type Client } from './support/clients.ts';
import { databaseKinds, registered, startStack, type Stack } from './support/stack.ts';

const START = Date.parse('2031-06-01T08:00:00.000Z');
const NEW_PASSWORD = 'a passphrase of my own';

interface Tokens {
  access_token: string;
  refresh_token: string;
}

for (const db of await databaseKinds()) {
  describe(`sessions a person sees and ends (${db})`, () => {
    let stack: Stack;
    let now = START;
    let network = 0;
    before(async () => {
      stack = await startStack({ db, clock: () => new Date(now) });
    });
    after(() => stack.close());

    /** A device on a network of its own, host 7 in it (so its address is not its network's). */
    const device = (): Client => onNetwork(stack.baseUrl, ++network, 7);

    /** A verified account, not signed in anywhere yet. */
    async function account(tag: string) {
      const { p, code } = await registered(stack, tag);
      expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code }), 200);
      return p;
    }

    /** Signs in from `from` with its User-Agent, a second after the last sign-in (so each is newer). */
    async function signIn(email: string, password: string, from: Client, userAgent: string): Promise<Tokens> {
      now += 1000;
      const res = await from.api('POST', '/api/v1/auth/login', { email, password }, undefined, {
        'user-agent': userAgent,
      });
      return expectStatus(res, 200);
    }

    const list = async (t: Tokens) =>
      expectStatus(await stack.api('GET', '/api/v1/users/me/sessions', undefined, t.access_token), 200).sessions;
    /** The id of the session these tokens belong to, as its own list marks it. */
    const idOf = async (t: Tokens) => {
      const mine = (await list(t)).filter((s) => s.current);
      assert.equal(mine.length, 1, 'exactly one session is the current one');
      return mine[0].id;
    };
    const refresh = (t: Tokens) => stack.api('POST', '/api/v1/auth/refresh', { refresh_token: t.refresh_token });
    const me = (t: Tokens) => stack.api('GET', '/api/v1/users/me', undefined, t.access_token);
    const end = (t: Tokens, id: string) =>
      stack.api('DELETE', `/api/v1/users/me/sessions/${id}`, undefined, t.access_token);

    it('lists every live session with its device, its network (never the address), how it began, the newest use first', async () => {
      const p = await account('devices');
      const laptop = device();
      const phone = device();
      const a = await signIn(p.email, p.password, laptop, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
      const laptopAt = new Date(now).toISOString();
      const b = await signIn(p.email, p.password, phone, 'PanicApp/3.1 (Android 15)');
      const longAgent = `LongAgent/${'x'.repeat(300)}`;
      const c = await signIn(p.email, p.password, device(), longAgent);

      const res = await stack.api('GET', '/api/v1/users/me/sessions', undefined, a.access_token);
      const sessions = expectStatus(res, 200).sessions;
      assert.equal(sessions.length, 3);
      const [third, second, first] = sessions;
      assert.deepEqual(
        [first.current, second.current, third.current],
        [true, false, false],
        'the laptop asked: its session is the current one',
      );
      assert.equal(first.user_agent, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
      assert.equal(second.user_agent, 'PanicApp/3.1 (Android 15)');
      assert.equal(third.user_agent, longAgent.slice(0, 200), 'a User-Agent is kept to 200 characters');
      assert.equal(first.network, laptop.address.replace(/\.7$/, '.0/24'));
      assert.equal(second.network, phone.address.replace(/\.7$/, '.0/24'));
      for (const address of [laptop.address, phone.address])
        assert.ok(!res.text.includes(address), `the whole address ${address} is never shown`);
      for (const s of sessions) {
        assert.equal(s.method, 'password');
        assert.equal(s.created_at, s.last_used_at, 'not refreshed yet: last used when it began');
      }
      assert.equal(first.created_at, laptopAt);
      assert.ok(first.created_at < second.created_at && second.created_at < third.created_at);

      // Each device sees the same list with its own session marked.
      assert.equal((await list(b)).find((s) => s.current)?.id, second.id);
      assert.equal(await idOf(c), third.id);
    });

    it('a refresh moves last_used_at (and the order), never created_at', async () => {
      const p = await account('last-used');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      const b = await signIn(p.email, p.password, device(), 'Device B');
      const before = await list(a);
      assert.deepEqual(
        before.map((s) => s.user_agent),
        ['Device B', 'Device A'],
      );

      now += 60_000;
      const a2 = expectStatus(await refresh(a), 200);
      const after = await list(b);
      assert.deepEqual(
        after.map((s) => s.user_agent),
        ['Device A', 'Device B'],
        'A was used last',
      );
      assert.equal(after[0].last_used_at, new Date(now).toISOString());
      assert.equal(after[0].created_at, before[1].created_at);
      assert.equal(after[1].last_used_at, before[0].last_used_at, "B's time did not move");
      assert.equal(await idOf(a2), after[0].id, 'the refreshed pair is the same session');
    });

    it('one session ended: its refresh token and access token are refused at once, the other session goes on', async () => {
      const p = await account('revoke-one');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      const b = await signIn(p.email, p.password, device(), 'Device B');
      const bId = await idOf(b);

      const ended = expectStatus(await end(a, bId), 200);
      assert.equal(ended.current, false);

      const refused = await refresh(b);
      assert.equal(refused.status, 401, refused.text);
      assert.equal(errorCode(refused), 'invalid_refresh_token');
      assert.equal(errorCode(await me(b)), 'unauthorized', 'its access token is refused too');
      expectStatus(await refresh(a), 200);
      assert.deepEqual(
        (await list(a)).map((s) => s.id),
        [await idOf(a)],
      );

      const again = await end(a, bId);
      assert.equal(again.status, 404, again.text);
      assert.equal(errorCode(again), 'session_not_found', 'an ended session is not found');
      const malformed = await end(a, 'not-a-session-id');
      assert.equal(malformed.status, 400, malformed.text);
      assert.equal(errorCode(malformed), 'validation_error');
    });

    it('ending the current session is a logout', async () => {
      const p = await account('revoke-self');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      const ended = expectStatus(await end(a, await idOf(a)), 200);
      assert.equal(ended.current, true);
      assert.equal(errorCode(await me(a)), 'unauthorized');
      assert.equal(errorCode(await refresh(a)), 'invalid_refresh_token');
    });

    it('revoke-others ends every session but the one asking', async () => {
      const p = await account('revoke-others');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      const others = [
        await signIn(p.email, p.password, device(), 'Device B'),
        await signIn(p.email, p.password, device(), 'Device C'),
      ];
      const res = await stack.api('POST', '/api/v1/users/me/sessions/revoke-others', undefined, a.access_token);
      assert.equal(expectStatus(res, 200).revoked, 2);
      for (const t of others) assert.equal(errorCode(await refresh(t)), 'invalid_refresh_token');
      const a2 = expectStatus(await refresh(a), 200);
      assert.equal((await list(a2)).length, 1);
      const alone = await stack.api('POST', '/api/v1/users/me/sessions/revoke-others', undefined, a2.access_token);
      assert.equal(expectStatus(alone, 200).revoked, 0);
    });

    it("a person neither sees nor ends another's session: it answers as an id that does not exist", async () => {
      const alice = await account('alice');
      const bob = await account('bob');
      const a = await signIn(alice.email, alice.password, device(), 'Alice phone');
      const b = await signIn(bob.email, bob.password, device(), 'Bob phone');
      const aliceId = await idOf(a);

      assert.deepEqual(
        (await list(b)).map((s) => s.user_agent),
        ['Bob phone'],
      );
      const theirs = await end(b, aliceId);
      const unknown = await end(b, randomUUID());
      assert.equal(theirs.status, 404, theirs.text);
      assert.equal(errorCode(theirs), 'session_not_found');
      assert.deepEqual(theirs.body, unknown.body, 'the same answer as an unknown id');

      expectStatus(await me(a), 200);
      expectStatus(await refresh(a), 200);
    });

    it('a password change ends every other session, keeps this one; the new password signs in, the old does not', async () => {
      const p = await account('change');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      const others = [
        await signIn(p.email, p.password, device(), 'Device B'),
        await signIn(p.email, p.password, device(), 'Device C'),
      ];
      const change = (current_password: string, new_password: string) =>
        stack.api('POST', '/api/v1/users/me/password', { current_password, new_password }, a.access_token);

      const short = await change(p.password, 'short');
      assert.equal(short.status, 400, 'the rules of registration');
      assert.equal(errorCode(short), 'validation_error');
      const wrong = await change('not the password', NEW_PASSWORD);
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(errorCode(wrong), 'invalid_credentials');
      for (const t of others) expectStatus(await me(t), 200);

      assert.equal(expectStatus(await change(p.password, NEW_PASSWORD), 200).revoked, 2);
      for (const t of others) {
        assert.equal(errorCode(await refresh(t)), 'invalid_refresh_token');
        assert.equal(errorCode(await me(t)), 'unauthorized');
      }
      expectStatus(await me(a), 200);
      expectStatus(await refresh(a), 200);

      const old = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(errorCode(old), 'invalid_credentials');
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: NEW_PASSWORD }), 200);
    });

    it('a wrong current password is a failed sign-in on the login throttle: an access token guesses no faster', async () => {
      const p = await account('change-throttle');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      const change = (current_password: string) =>
        stack.api(
          'POST',
          '/api/v1/users/me/password',
          { current_password, new_password: NEW_PASSWORD },
          a.access_token,
        );
      for (let i = 0; i < stack.runtime.config.LOGIN_MAX_FAILURES; i++)
        assert.equal(errorCode(await change(`guess ${i}`)), 'invalid_credentials');

      const blocked = await change(p.password);
      assert.equal(blocked.status, 429, 'even the right password waits');
      assert.equal(errorCode(blocked), 'rate_limited');
      const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(errorCode(login), 'rate_limited', "the guesses were counted on the account's sign-in throttle");

      now += 31_000;
      expectStatus(await change(p.password), 200);
    });

    it('an account without a password is told how to set one', async () => {
      const p = await account('no-password');
      const a = await signIn(p.email, p.password, device(), 'Device A');
      // As after a sign-in by code into an account registered without a password.
      await stack.runtime.services.db
        .updateTable('users')
        .set({ password_hash: null })
        .where('email', '=', p.email.toLowerCase())
        .execute();
      const res = await stack.api(
        'POST',
        '/api/v1/users/me/password',
        { current_password: p.password, new_password: NEW_PASSWORD },
        a.access_token,
      );
      assert.equal(res.status, 409, res.text);
      assert.equal(errorCode(res), 'password_not_set');
      assert.match(res.text, /POST \/api\/v1\/auth\/forgot-password/);
    });
  });
}
