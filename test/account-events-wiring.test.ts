/**
 * The account event log's later kinds (issue 22 §1), each through the HTTP API as a person or support
 * makes it: a password changed (a login_failed instead when the current one is wrong), an email changed (its webhook
 * reaching a real receiver), sessions ended one at a time, all but this one, by a reset; and support's
 * actions with the admin as actor, from the admin's network and user agent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import {
  databaseKinds,
  person,
  phoneVerified,
  randomMobile,
  startStack,
  verifiedLogin,
  type Stack,
} from './support/stack.ts';
import { errorCode, expectStatus } from './support/api.ts';
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';
import { waitUntil } from './support/wait.ts';

const ADMIN_TOKEN = 'wiring-admin-token-0123456789abcdef-01234';
const NETWORK = '127.0.0.0/24';
const PERSON_UA = { 'user-agent': 'WiringTest/1.0 (person)' };
const ADMIN_UA = { 'user-agent': 'SupportDesk/2.0 (admin)' };

for (const db of await databaseKinds()) {
  describe(`account events of the later flows (${db})`, () => {
    const secret = newWebhookSecret();
    let receiver: WebhookReceiver;
    let stack: Stack;
    before(async () => {
      receiver = await startWebhookReceiver(secret);
      stack = await startStack({ db, env: { ADMIN_TOKEN, WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: secret } });
    });
    after(async () => {
      await stack.close();
      await receiver.close();
    });

    const q = () => stack.runtime.services.db;
    const idOf = async (email: string) =>
      (await q().selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    /** The account's events after the ones it had at `skip`, oldest first. */
    const eventsOf = async (userId: string, skip = 0) =>
      (
        await q()
          .selectFrom('account_events')
          .select(['type', 'actor', 'network', 'user_agent', 'facts'])
          .where('user_id', '=', userId)
          .orderBy('seq')
          .execute()
      ).slice(skip);
    const eventCount = async (userId: string) => (await eventsOf(userId)).length;
    /** A verified account signed in once more: two sessions. */
    const twoSessions = async (tag: string) => {
      const { person: p, tokens: first } = await verifiedLogin(stack, tag);
      const second = expectStatus(
        await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }),
        200,
      );
      return { p, first, second, userId: await idOf(p.email) };
    };
    const sessionIds = async (token: string) =>
      expectStatus(await stack.api('GET', '/api/v1/users/me/sessions', undefined, token), 200).sessions;

    it('a password change writes password_changed with the sessions it ended; a wrong current password writes login_failed instead', async () => {
      const { p, first, userId } = await twoSessions('wire-pw');
      const before = await eventCount(userId);
      const change = (current_password: string) =>
        stack.api(
          'POST',
          '/api/v1/users/me/password',
          { current_password, new_password: 'a changed passphrase' },
          first.access_token,
          PERSON_UA,
        );
      assert.equal((await change('not the password')).status, 401);
      assert.deepEqual(
        (await eventsOf(userId, before)).map((e) => e.type),
        ['login_failed'],
        'a refused change is no password_changed: a failed sign-in (below)',
      );
      assert.equal(expectStatus(await change(p.password), 200).revoked, 1);
      assert.deepEqual(await eventsOf(userId, before + 1), [
        {
          type: 'password_changed',
          actor: 'user',
          network: NETWORK,
          user_agent: PERSON_UA['user-agent'],
          facts: { sessions_ended: 1 },
        },
      ]);
    });

    it('a wrong password guessed with a stolen token, at each route that asks for the current one, is a login_failed saying where, which the owner reads at /users/me/events', async () => {
      const { person: p, tokens } = await phoneVerified(stack, 'wire-guess');
      const token = tokens.access_token;
      const userId = await idOf(p.email);
      const wrong = 'a guessed password';
      const guesses = [
        {
          during: 'password_change',
          ask: ['POST', '/api/v1/users/me/password', { current_password: wrong, new_password: 'a new passphrase' }],
        },
        {
          during: 'email_change',
          ask: ['POST', '/api/v1/users/me/email', { email: person('wire-new').email, password: wrong }],
        },
        {
          during: 'phone_change',
          ask: ['POST', '/api/v1/users/verify-phone', { phone: randomMobile(), password: wrong }],
        },
        { during: 'account_deletion', ask: ['DELETE', '/api/v1/users/me', { password: wrong }] },
      ] as const;
      const since = new Date(Date.now() - 1000).toISOString();
      for (const { ask } of guesses) {
        const [method, path, body] = ask;
        const refused = await stack.api(method, path, body, token, PERSON_UA);
        assert.deepEqual([refused.status, errorCode(refused)], [401, 'invalid_credentials'], `${method} ${path}`);
      }
      const read = expectStatus(
        await stack.api('GET', `/api/v1/users/me/events?type=login_failed&since=${since}`, undefined, token),
        200,
      );
      const seen = read.events.map((e) => e.facts.during);
      const unseen = guesses.filter((g) => !seen.includes(g.during)).map((g) => g.during);
      assert.deepEqual(unseen, [], 'every wrong guess is in the log');
      assert.deepEqual(
        read.events
          .map((e) => ({ actor: e.actor, network: e.network, user_agent: e.user_agent, facts: e.facts }))
          .reverse(),
        guesses.map(({ during }) => ({
          actor: 'user',
          network: NETWORK,
          user_agent: PERSON_UA['user-agent'],
          facts: { reason: 'wrong_password', during },
        })),
        'one each, oldest last in the page',
      );
      // login_failed stays in the log, as at sign-in: no webhook for it
      const hooked = await q()
        .selectFrom('webhook_deliveries')
        .innerJoin('account_events', 'account_events.seq', 'webhook_deliveries.event_seq')
        .select('account_events.type')
        .where('account_events.user_id', '=', userId)
        .where('account_events.type', '=', 'login_failed')
        .execute();
      assert.deepEqual(hooked, []);
    });

    it('a password reset counts the sessions it ended on its password_reset event', async () => {
      const { p, userId } = await twoSessions('wire-reset');
      expectStatus(await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }), 200);
      const otp = await stack.emailCode(p.email, 2);
      const before = await eventCount(userId);
      expectStatus(
        await stack.api('POST', '/api/v1/auth/reset-password', { email: p.email, otp, new_password: 'reset it all' }),
        200,
      );
      const [reset] = await eventsOf(userId, before);
      assert.deepEqual([reset.type, reset.facts], ['password_reset', { sessions_ended: 2 }]);
    });

    it('an email change writes email_changed, and its webhook reaches the receiver with both addresses', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'wire-email');
      const userId = await idOf(p.email);
      const email = person('wire-email-new').email;
      const token = tokens.access_token;
      expectStatus(await stack.api('POST', '/api/v1/users/me/email', { email, password: p.password }, token), 200);
      const otp = await stack.emailCode(email);
      const before = await eventCount(userId);
      expectStatus(await stack.api('POST', '/api/v1/users/me/email/verify', { otp }, token, PERSON_UA), 200);
      assert.deepEqual(await eventsOf(userId, before), [
        {
          type: 'email_changed',
          actor: 'user',
          network: NETWORK,
          user_agent: PERSON_UA['user-agent'],
          facts: { email, previous_email: p.email },
        },
      ]);
      const changed = () =>
        receiver.unique().find((a) => a.payload.data.user_id === userId && a.payload.type === 'user.email_changed');
      await waitUntil(() => changed() !== undefined, { timeoutMs: 10_000, what: 'the user.email_changed webhook' });
      assert.deepEqual(changed()!.payload.data, { user_id: userId, email, previous_email: p.email });
      assert.ok(receiver.arrivals.find((a) => a.id === changed()!.id)?.verified, 'signed as standardwebhooks checks');
    });

    it('sessions ended by the person: one by its id, then every other one in one event; nothing ended, no event', async () => {
      const { p, first, second, userId } = await twoSessions('wire-sessions');
      const third = expectStatus(
        await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }),
        200,
      );
      const other = (await sessionIds(first.access_token)).find((s) => !s.current)!;
      const before = await eventCount(userId);
      expectStatus(
        await stack.api('DELETE', `/api/v1/users/me/sessions/${other.id}`, undefined, first.access_token, PERSON_UA),
        200,
      );
      const revokeOthers = () =>
        stack.api('POST', '/api/v1/users/me/sessions/revoke-others', undefined, first.access_token, PERSON_UA);
      assert.equal(expectStatus(await revokeOthers(), 200).revoked, 1);
      assert.equal(expectStatus(await revokeOthers(), 200).revoked, 0);
      const events = await eventsOf(userId, before);
      const byPerson = {
        type: 'session_revoked',
        actor: 'user',
        network: NETWORK,
        user_agent: PERSON_UA['user-agent'],
      };
      assert.deepEqual(events, [
        { ...byPerson, facts: { session_id: other.id, reason: 'revoked' } },
        { ...byPerson, facts: { sessions: 1, reason: 'revoke_others' } },
      ]);
      for (const ended of [second, third])
        assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, ended.access_token)).status, 401);
      assert.equal((await sessionIds(first.access_token)).length, 1);
    });

    describe("support's actions: the admin is the actor, from the admin's network and user agent", () => {
      const byAdmin = { actor: 'admin', network: NETWORK, user_agent: ADMIN_UA['user-agent'] };

      it('a code sent by support: code_sent_by_support, with its purpose and channel', async () => {
        const { person: p } = await verifiedLogin(stack, 'wire-support-code');
        const userId = await idOf(p.email);
        const before = await eventCount(userId);
        expectStatus(
          await stack.api(
            'POST',
            `/api/v1/admin/users/${userId}/codes`,
            { purpose: 'login', channel: 'email' },
            ADMIN_TOKEN,
            ADMIN_UA,
          ),
          200,
        );
        assert.deepEqual(await eventsOf(userId, before), [
          { type: 'code_sent_by_support', ...byAdmin, facts: { purpose: 'login', channel: 'email' } },
        ]);
        await stack.emailCode(p.email, 2);
      });

      it('every session ended by support: one session_revoked with how many; none live, no event', async () => {
        const { userId, first } = await twoSessions('wire-support-sessions');
        const before = await eventCount(userId);
        const revoke = () =>
          stack.api('POST', `/api/v1/admin/users/${userId}/sessions/revoke`, undefined, ADMIN_TOKEN, ADMIN_UA);
        assert.deepEqual(expectStatus(await revoke(), 200), { revoked: 2 });
        assert.deepEqual(expectStatus(await revoke(), 200), { revoked: 0 });
        assert.deepEqual(await eventsOf(userId, before), [
          { type: 'session_revoked', ...byAdmin, facts: { sessions: 2, reason: 'support' } },
        ]);
        assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, first.access_token)).status, 401);
      });

      it("a suppression lifted: suppression_lifted on the address's account; an address of no account, no event", async () => {
        const { person: p } = await verifiedLogin(stack, 'wire-support-lift');
        const userId = await idOf(p.email);
        const stranger = person('wire-no-account').email;
        for (const address of [p.email, stranger])
          await q()
            .insertInto('suppressions')
            .values({
              address,
              kind: 'bounce',
              reason: '550 5.1.1 no such user',
              message_id: null,
              created_at: new Date(),
            })
            .execute();
        const lift = (address: string) =>
          stack.api('DELETE', `/api/v1/admin/suppressions/${address}`, undefined, ADMIN_TOKEN, ADMIN_UA);
        const before = await eventCount(userId);
        expectStatus(await lift(encodeURIComponent(p.email.toUpperCase())), 200);
        assert.deepEqual(await eventsOf(userId, before), [
          { type: 'suppression_lifted', ...byAdmin, facts: { address: p.email } },
        ]);
        const total = async () =>
          (await q().selectFrom('account_events').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow())
            .n;
        const all = await total();
        expectStatus(await lift(encodeURIComponent(stranger)), 200);
        assert.equal(await total(), all, 'no account, no event');
        const gone = await q()
          .selectFrom('suppressions')
          .select('address')
          .where('address', 'in', [p.email, stranger])
          .execute();
        assert.deepEqual(gone, []);
      });
    });
  });
}
