/**
 * The account event log (issue 22, part 1): each flow writes its event in the transaction of its change
 * (present with the change, absent when either fails at commit); the admin's and the person's pages,
 * by keyset across thousands of events; `panic-api events`; retention.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  databaseKinds,
  person,
  phoneCodeAsked,
  randomMobile,
  registered,
  startStack,
  verifiedLogin,
  type Stack,
} from './support/stack.ts';
import { breakingOnPurpose, errorCode, expectStatus, type ApiResponse } from './support/api.ts';
import { runCli } from './support/cli.ts';
import type { AccountEventType } from '../src/shared/vocabulary.ts';

const ADMIN_TOKEN = 'events-admin-token-0123456789abcdef-0123';
const START = Date.parse('2031-03-01T08:00:00.000Z');
const DAY = 86_400_000;

for (const db of await databaseKinds()) {
  describe(`account event log (${db})`, () => {
    let stack: Stack;
    let now = START;
    before(async () => {
      stack = await startStack({
        db,
        clock: () => new Date(now),
        env: { ADMIN_TOKEN, LOGIN_MAX_FAILURES: '3' },
      });
    });
    after(() => stack.close());

    const q = () => stack.runtime.services.db;
    /** An account's events, oldest first, as stored. */
    const eventsOf = (userId: string) =>
      q()
        .selectFrom('account_events')
        .select(['type', 'actor', 'network', 'user_agent', 'facts'])
        .where('user_id', '=', userId)
        .orderBy('seq')
        .execute();
    const idOf = async (email: string) =>
      (await q().selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    const admin = (query: string) => stack.api('GET', `/api/v1/admin/events?${query}`, undefined, ADMIN_TOKEN);

    it('every flow writes its event with its change: who, from which network and user agent, and the facts', async () => {
      const p = person('ev-walk');
      const ua = { 'user-agent': 'EventsTest/1.0 (walk-through)' };
      expectStatus(await stack.api('POST', '/api/v1/auth/register', p, undefined, ua), 201);
      expectStatus(await stack.api('POST', '/api/v1/auth/register', { ...p, first_name: 'Other' }, undefined, ua), 201);
      const code = await stack.emailCode(p.email, 2);
      expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code }), 200);
      const wrong = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: 'not the password' });
      assert.equal(wrong.status, 401);
      const first = expectStatus(
        await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }, undefined, ua),
        200,
      );
      const second = expectStatus(
        await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }),
        200,
      );
      // the phone: verified, then replaced by a new number
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', {}, first.access_token), 200);
      const sms1 = await stack.smsCode(p.phone);
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: sms1 }, first.access_token), 200);
      const newPhone = randomMobile();
      expectStatus(
        await stack.api(
          'POST',
          '/api/v1/users/verify-phone',
          { phone: newPhone, password: p.password },
          first.access_token,
        ),
        200,
      );
      const sms2 = await stack.smsCode(newPhone);
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: sms2 }, first.access_token), 200);
      // a rotated refresh token presented again ends its session
      const rotated = expectStatus(
        await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: second.refresh_token }),
        200,
      );
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: second.refresh_token })).status,
        401,
      );
      expectStatus(
        await stack.api('POST', '/api/v1/auth/logout', { refresh_token: first.refresh_token }, first.access_token),
        200,
      );
      expectStatus(await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }), 200);
      const resetCode = await stack.emailCode(p.email, 3);
      const newPassword = 'a brand new passphrase';
      const reset = expectStatus(
        await stack.api('POST', '/api/v1/auth/reset-password', {
          email: p.email,
          otp: resetCode,
          new_password: newPassword,
        }),
        200,
      );

      const userId = await idOf(p.email);
      const events = await eventsOf(userId);
      assert.deepEqual(
        events.map((e) => e.type),
        [
          'registered',
          'registered',
          'email_verified',
          'login_failed',
          'login_succeeded',
          'login_succeeded',
          'phone_verified',
          'phone_changed',
          'refresh_reuse_detected',
          'session_revoked',
          'password_reset',
          'login_succeeded',
        ] satisfies AccountEventType[],
      );
      const [reg1, reg2, verified, failed, login1, login2, phoneVerified, phoneChanged, reuse, revoked] = events;
      assert.deepEqual(reg1, {
        type: 'registered',
        actor: 'user',
        network: '127.0.0.0/24',
        user_agent: ua['user-agent'],
        facts: { email: p.email, phone: p.phone, replaced: false },
      });
      assert.equal(reg2.facts.replaced, true, 'a pending registration replaced says so');
      assert.deepEqual(verified.facts, { email: p.email });
      assert.deepEqual(failed.facts, { reason: 'wrong_password' });
      assert.equal(login1.facts.method, 'password');
      assert.equal(login1.facts.new_network, true, 'the first sign-in from this network is new');
      assert.equal(login2.facts.new_network, false);
      assert.equal(login1.user_agent, ua['user-agent']);
      assert.deepEqual(phoneVerified.facts, { phone: p.phone });
      assert.deepEqual(phoneChanged.facts, { phone: newPhone, previous_phone: p.phone });
      assert.equal(reuse.actor, 'system', 'the service ended the session');
      assert.equal(revoked.facts.reason, 'logout');
      assert.ok(events.every((e) => e.network === '127.0.0.0/24'));

      // never a code, a password or a token
      const stored = JSON.stringify(events);
      for (const secret of [
        p.password,
        newPassword,
        code,
        sms1,
        sms2,
        resetCode,
        first.access_token,
        first.refresh_token,
        second.refresh_token,
        rotated.refresh_token,
        reset.access_token,
        reset.refresh_token,
      ])
        assert.ok(!stored.includes(secret), `an event holds ${secret.slice(0, 12)}…`);
    });

    it('failed sign-ins arm the throttle (login_throttled, by the system), and an unlock code lifts it (unlocked)', async () => {
      const { person: p } = await verifiedLogin(stack, 'ev-throttle');
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: `wrong ${i}` })).status,
          401,
        );
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password })).status,
        429,
      );
      expectStatus(await stack.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: p.email }), 200);
      const code = await stack.emailCode(p.email, 2);
      expectStatus(await stack.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: p.email, otp: code }), 200);
      const events = await eventsOf(await idOf(p.email));
      assert.deepEqual(
        events.slice(3).map((e) => [e.type, e.actor]),
        [
          ['login_failed', 'user'],
          ['login_failed', 'user'],
          ['login_failed', 'user'],
          ['login_throttled', 'system'],
          ['unlocked', 'user'],
        ],
      );
      assert.deepEqual(events[6].facts, { blocked_seconds: 30 });
    });

    it('a reset code for an unverified address proves it: email_verified, then password_reset', async () => {
      const { p, userId } = await registered(stack, 'ev-reset-unverified');
      expectStatus(await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }), 200);
      const otp = await stack.emailCode(p.email, 2);
      expectStatus(
        await stack.api('POST', '/api/v1/auth/reset-password', { email: p.email, otp, new_password: 'chosen at last' }),
        200,
      );
      assert.deepEqual(
        (await eventsOf(userId)).map((e) => [e.type, e.facts]),
        [
          ['registered', { email: p.email, phone: p.phone, replaced: false }],
          ['email_verified', { email: p.email }],
          ['password_reset', { sessions_ended: 0 }],
          [
            'login_succeeded',
            { method: 'password', session_id: (await eventsOf(userId))[3].facts.session_id, new_network: true },
          ],
        ],
      );
    });

    it('a sign-in for an email with no account writes no event (and costs the same writes, undone)', async () => {
      const before = await q().selectFrom('account_events').select(sql<number>`count(*)::int`.as('n')).execute();
      const ghost = person('ev-ghost').email;
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await stack.api('POST', '/api/v1/auth/login', { email: ghost, password: 'whatever' })).status,
          401,
        );
      const after = await q().selectFrom('account_events').select(sql<number>`count(*)::int`.as('n')).execute();
      assert.equal(after[0].n, before[0].n);
    });

    it('a number verified on another account: phone_taken, and no event for the account that lost', async () => {
      const winner = await phoneCodeAsked(stack, 'ev-taken-a');
      const otp = await stack.smsCode(winner.person.phone);
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp }, winner.tokens.access_token), 200);
      const loser = await verifiedLogin(stack, 'ev-taken-b');
      const token = loser.tokens.access_token;
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', { phone: winner.person.phone }, token), 200);
      const code = await stack.smsCode(winner.person.phone, 2);
      const taken = await stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, token);
      assert.equal(taken.status, 409, taken.text);
      assert.equal(errorCode(taken), 'phone_taken');
      const types = (await eventsOf(await idOf(loser.person.email))).map((e) => e.type);
      assert.ok(!types.includes('phone_verified') && !types.includes('phone_changed'), types.join());
    });

    describe('an event exists exactly when its change does: either failing at commit takes both', () => {
      let triggers = 0;
      /**
       * A constraint trigger, deferred to commit, that fails the transaction writing a matching row of
       * `table`: at commit, every statement of the transaction has run, whatever their order.
       */
      async function failAtCommit(table: string, ops: string, when: string): Promise<() => Promise<void>> {
        const name = `test_fail_at_commit_${++triggers}`;
        await sql
          .raw(
            `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'test: this transaction fails at commit'; END $$`,
          )
          .execute(q());
        await sql
          .raw(
            `CREATE CONSTRAINT TRIGGER ${name} AFTER ${ops} ON ${table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`,
          )
          .execute(q());
        const mended = breakingOnPurpose(stack.baseUrl);
        return async () => {
          mended();
          await sql.raw(`DROP TRIGGER ${name} ON ${table}`).execute(q());
          await sql.raw(`DROP FUNCTION ${name}()`).execute(q());
        };
      }

      interface Ready {
        email: string;
        id?: string;
        act(): Promise<ApiResponse>;
        changed(): Promise<boolean>;
      }
      interface Flow {
        type: AccountEventType;
        /** What the flow answers when nothing fails. */
        answers: number;
        /** The change's table, the operations and the row (NEW or OLD) of the trigger that fails it. */
        change: { table: string; ops: string; when: (r: Ready) => string };
        prepare(): Promise<Ready>;
      }
      const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
      const signedIn = async (tag: string) => {
        const { person: p, tokens } = await verifiedLogin(stack, tag);
        return { p, tokens, id: await idOf(p.email) };
      };
      const sessionsOf = (id: string) => q().selectFrom('sessions').selectAll().where('user_id', '=', id).execute();
      const failuresOf = (email: string) =>
        q().selectFrom('login_failures').selectAll().where('email', '=', email).executeTakeFirst();
      const user = (id: string) => q().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      const login = (email: string, password: string) => stack.api('POST', '/api/v1/auth/login', { email, password });

      /** The account's password hash replaced: a reset's change, and a password change's. */
      const passwordHashUpdate: Flow['change'] = {
        table: 'users',
        ops: 'UPDATE',
        when: (r) => `NEW.id = ${lit(r.id!)} AND NEW.password_hash IS DISTINCT FROM OLD.password_hash`,
      };

      const flows: Flow[] = [
        {
          type: 'registered',
          answers: 201,
          change: { table: 'users', ops: 'INSERT', when: (r) => `NEW.email = ${lit(r.email)}` },
          async prepare() {
            const p = person('ev-fail-reg');
            return {
              email: p.email,
              act: () => stack.api('POST', '/api/v1/auth/register', p),
              changed: async () =>
                (await q().selectFrom('users').select('id').where('email', '=', p.email).executeTakeFirst()) !==
                undefined,
            };
          },
        },
        {
          type: 'email_verified',
          answers: 200,
          change: {
            table: 'users',
            ops: 'UPDATE',
            when: (r) => `NEW.id = ${lit(r.id!)} AND NEW.email_verified_at IS NOT NULL`,
          },
          async prepare() {
            const { p, userId, code } = await registered(stack, 'ev-fail-verify');
            return {
              email: p.email,
              id: userId,
              act: () => stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code }),
              changed: async () => (await user(userId)).email_verified_at !== null,
            };
          },
        },
        {
          type: 'login_succeeded',
          answers: 200,
          change: { table: 'sessions', ops: 'INSERT', when: (r) => `NEW.user_id = ${lit(r.id!)}` },
          async prepare() {
            const { p, id } = await signedIn('ev-fail-login');
            const before = (await sessionsOf(id)).length;
            return {
              email: p.email,
              id,
              act: () => login(p.email, p.password),
              changed: async () => (await sessionsOf(id)).length > before,
            };
          },
        },
        {
          type: 'login_failed',
          answers: 401,
          change: { table: 'login_failures', ops: 'INSERT OR UPDATE', when: (r) => `NEW.email = ${lit(r.email)}` },
          async prepare() {
            const { p, id } = await signedIn('ev-fail-wrong');
            return {
              email: p.email,
              id,
              act: () => login(p.email, 'not the password'),
              changed: async () => (await failuresOf(p.email)) !== undefined,
            };
          },
        },
        {
          type: 'login_throttled',
          answers: 401,
          change: {
            table: 'login_failures',
            ops: 'UPDATE',
            when: (r) => `NEW.email = ${lit(r.email)} AND NEW.blocked_until IS NOT NULL`,
          },
          async prepare() {
            const { p, id } = await signedIn('ev-fail-throttle');
            for (let i = 0; i < 2; i++) assert.equal((await login(p.email, `wrong ${i}`)).status, 401);
            return {
              email: p.email,
              id,
              act: () => login(p.email, 'wrong again'),
              changed: async () => (await failuresOf(p.email))?.blocked_until != null,
            };
          },
        },
        {
          type: 'unlocked',
          answers: 200,
          change: { table: 'login_failures', ops: 'DELETE', when: (r) => `OLD.email = ${lit(r.email)}` },
          async prepare() {
            const { p, id } = await signedIn('ev-fail-unlock');
            for (let i = 0; i < 3; i++) await login(p.email, `wrong ${i}`);
            expectStatus(await stack.api('POST', '/api/v1/auth/request-unlock-otp', { identifier: p.email }), 200);
            const code = await stack.emailCode(p.email, 2);
            return {
              email: p.email,
              id,
              act: () => stack.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: p.email, otp: code }),
              changed: async () => (await failuresOf(p.email)) === undefined,
            };
          },
        },
        {
          type: 'phone_verified',
          answers: 200,
          change: {
            table: 'users',
            ops: 'UPDATE',
            when: (r) => `NEW.id = ${lit(r.id!)} AND NEW.phone_verified_at IS NOT NULL`,
          },
          async prepare() {
            const { person: p, tokens } = await phoneCodeAsked(stack, 'ev-fail-phone');
            const otp = await stack.smsCode(p.phone);
            const id = await idOf(p.email);
            return {
              email: p.email,
              id,
              act: () => stack.api('POST', '/api/v1/users/verify-otp', { otp }, tokens.access_token),
              changed: async () => (await user(id)).phone_verified_at !== null,
            };
          },
        },
        {
          type: 'password_reset',
          answers: 200,
          change: passwordHashUpdate,
          async prepare() {
            const { p, id } = await signedIn('ev-fail-reset');
            expectStatus(await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }), 200);
            const otp = await stack.emailCode(p.email, 2);
            const hash = (await user(id)).password_hash;
            return {
              email: p.email,
              id,
              act: () =>
                stack.api('POST', '/api/v1/auth/reset-password', { email: p.email, otp, new_password: 'another one!' }),
              changed: async () => (await user(id)).password_hash !== hash,
            };
          },
        },
        {
          type: 'session_revoked',
          answers: 200,
          change: {
            table: 'sessions',
            ops: 'UPDATE',
            when: (r) => `NEW.user_id = ${lit(r.id!)} AND NEW.revoked_at IS NOT NULL`,
          },
          async prepare() {
            const { p, tokens, id } = await signedIn('ev-fail-logout');
            return {
              email: p.email,
              id,
              act: () =>
                stack.api('POST', '/api/v1/auth/logout', { refresh_token: tokens.refresh_token }, tokens.access_token),
              changed: async () => (await sessionsOf(id)).some((s) => s.revoked_at !== null),
            };
          },
        },
        {
          type: 'refresh_reuse_detected',
          answers: 401,
          change: {
            table: 'sessions',
            ops: 'UPDATE',
            when: (r) => `NEW.user_id = ${lit(r.id!)} AND NEW.revoked_at IS NOT NULL`,
          },
          async prepare() {
            const { p, tokens, id } = await signedIn('ev-fail-reuse');
            expectStatus(await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token }), 200);
            return {
              email: p.email,
              id,
              act: () => stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token }),
              changed: async () => (await sessionsOf(id)).some((s) => s.revoked_at !== null),
            };
          },
        },
        {
          type: 'password_changed',
          answers: 200,
          change: passwordHashUpdate,
          async prepare() {
            const { p, tokens, id } = await signedIn('ev-fail-change');
            const hash = (await user(id)).password_hash;
            return {
              email: p.email,
              id,
              act: () =>
                stack.api(
                  'POST',
                  '/api/v1/users/me/password',
                  { current_password: p.password, new_password: 'changed, not reset' },
                  tokens.access_token,
                ),
              changed: async () => (await user(id)).password_hash !== hash,
            };
          },
        },
        {
          type: 'email_changed',
          answers: 200,
          change: {
            table: 'users',
            ops: 'UPDATE',
            when: (r) => `NEW.id = ${lit(r.id!)} AND NEW.email IS DISTINCT FROM OLD.email`,
          },
          async prepare() {
            const { p, tokens, id } = await signedIn('ev-fail-email');
            const email = person('ev-fail-email-new').email;
            const token = tokens.access_token;
            expectStatus(
              await stack.api('POST', '/api/v1/users/me/email', { email, password: p.password }, token),
              200,
            );
            const otp = await stack.emailCode(email);
            return {
              email: p.email,
              id,
              act: () => stack.api('POST', '/api/v1/users/me/email/verify', { otp }, token),
              changed: async () => (await user(id)).email === email,
            };
          },
        },
        {
          type: 'code_sent_by_support',
          answers: 200,
          change: {
            table: 'otp_codes',
            ops: 'INSERT',
            when: (r) => `NEW.user_id = ${lit(r.id!)} AND NEW.purpose = 'login'`,
          },
          async prepare() {
            const { p, id } = await signedIn('ev-fail-support-code');
            const codes = () => q().selectFrom('otp_codes').select('id').where('user_id', '=', id).execute();
            const before = (await codes()).length;
            return {
              email: p.email,
              id,
              act: () =>
                stack.api(
                  'POST',
                  `/api/v1/admin/users/${id}/codes`,
                  { purpose: 'login', channel: 'email' },
                  ADMIN_TOKEN,
                ),
              changed: async () => (await codes()).length > before,
            };
          },
        },
        {
          type: 'suppression_lifted',
          answers: 200,
          change: { table: 'suppressions', ops: 'DELETE', when: (r) => `OLD.address = ${lit(r.email)}` },
          async prepare() {
            const { p, id } = await signedIn('ev-fail-lift');
            const suppressed = () =>
              q().selectFrom('suppressions').select('address').where('address', '=', p.email).executeTakeFirst();
            await q()
              .insertInto('suppressions')
              .values({
                address: p.email,
                kind: 'complaint',
                reason: 'spam',
                message_id: null,
                created_at: new Date(now),
              })
              .execute();
            return {
              email: p.email,
              id,
              act: () =>
                stack.api(
                  'DELETE',
                  `/api/v1/admin/suppressions/${encodeURIComponent(p.email)}`,
                  undefined,
                  ADMIN_TOKEN,
                ),
              changed: async () => (await suppressed()) === undefined,
            };
          },
        },
      ];

      /** The newest event's seq: what a flow's act adds comes after it. */
      const lastSeq = async () =>
        (
          await q()
            .selectFrom('account_events')
            .select(sql<string>`coalesce(max(seq), 0)::text`.as('n'))
            .executeTakeFirstOrThrow()
        ).n;
      /** The flow's events of its type since `since`: by the account, or (a registration rolled back) by its address. */
      const eventsOfType = async (flow: Flow, r: Ready, since: string) =>
        q()
          .selectFrom('account_events')
          .select('seq')
          .where('type', '=', flow.type)
          .where('seq', '>', since)
          .where((eb) =>
            r.id ? eb('user_id', '=', r.id) : eb(sql<string>`facts->>'email'`, '=', r.email.toLowerCase()),
          )
          .execute();

      for (const flow of flows) {
        it(`${flow.type}: when its change fails at commit, no event; when its event does, no change`, async () => {
          for (const failing of ['change', 'event'] as const) {
            const ready = await flow.prepare();
            const since = await lastSeq();
            const drop =
              failing === 'change'
                ? await failAtCommit(flow.change.table, flow.change.ops, flow.change.when(ready))
                : await failAtCommit(
                    'account_events',
                    'INSERT',
                    `NEW.type = ${lit(flow.type)} AND ${ready.id ? `NEW.user_id = ${lit(ready.id)}` : `NEW.facts->>'email' = ${lit(ready.email)}`}`,
                  );
            try {
              const res = await ready.act();
              assert.equal(res.status, 500, `${failing} failing: ${res.text}`);
            } finally {
              await drop();
            }
            assert.deepEqual(await eventsOfType(flow, ready, since), [], `${failing} failing: no ${flow.type} event`);
            assert.equal(await ready.changed(), false, `${failing} failing: no change`);
          }
          // and with nothing failing, both
          const ready = await flow.prepare();
          const since = await lastSeq();
          const res = await ready.act();
          assert.equal(res.status, flow.answers, res.text);
          assert.equal((await eventsOfType(flow, ready, since)).length, 1, `one ${flow.type} event`);
          assert.equal(await ready.changed(), true);
        });
      }
    });

    it('GET /users/me/events shows the person their own events only, newest first, in pages', async () => {
      const a = await signInTwice('ev-own-a');
      const b = await signInTwice('ev-own-b');
      const mine = expectStatus(
        await stack.api('GET', '/api/v1/users/me/events?limit=3', undefined, a.tokens.access_token),
        200,
      );
      assert.equal(mine.events.length, 3);
      assert.ok(mine.next_cursor);
      const rest = expectStatus(
        await stack.api(
          'GET',
          `/api/v1/users/me/events?limit=50&cursor=${mine.next_cursor}`,
          undefined,
          a.tokens.access_token,
        ),
        200,
      );
      assert.equal(rest.next_cursor, null);
      const all = [...mine.events, ...rest.events];
      const aId = await idOf(a.person.email);
      assert.ok(
        all.every((e) => e.user_id === aId),
        'only their own',
      );
      assert.deepEqual(
        all.map((e) => e.type),
        ['login_succeeded', 'login_succeeded', 'email_verified', 'registered'],
      );
      assert.deepEqual(Object.keys(all[0]).sort(), [
        'actor',
        'at',
        'facts',
        'id',
        'network',
        'type',
        'user_agent',
        'user_id',
      ]);
      const bIds = (await eventsOf(await idOf(b.person.email))).length;
      assert.equal(bIds, 4);
      const logins = expectStatus(
        await stack.api('GET', '/api/v1/users/me/events?type=login_succeeded', undefined, b.tokens.access_token),
        200,
      );
      assert.equal(logins.events.length, 2);
      assert.equal(logins.events[1].facts.new_network, true);
      assert.equal(logins.events[0].facts.new_network, false);
      assert.equal((await stack.api('GET', '/api/v1/users/me/events')).status, 401);
    });

    async function signInTwice(tag: string) {
      const account = await verifiedLogin(stack, tag);
      const again = await stack.api('POST', '/api/v1/auth/login', {
        email: account.person.email,
        password: account.person.password,
      });
      return { person: account.person, tokens: expectStatus(again, 200) };
    }

    it('the admin log pages by keyset across thousands of events: newest first, none twice or missed, filters kept', async () => {
      const userId = randomUUID();
      const N = 3000;
      const TYPES = ['login_succeeded', 'login_failed', 'session_revoked'];
      // two events an instant, instants 7 µs apart: many events share a millisecond, so a cursor
      // rounded to one would skip or repeat them
      await sql`
        INSERT INTO account_events (user_id, type, actor, at, network, facts)
        SELECT ${userId}::uuid, (ARRAY[${sql.join(TYPES)}])[1 + g % 3], 'user',
          timestamptz '2030-06-01T00:00:00Z' + (g / 2) * interval '7 microseconds', '198.51.100.0/24',
          jsonb_build_object('n', g)
        FROM generate_series(1, ${N}) AS g`.execute(q());
      const expected = (
        await q()
          .selectFrom('account_events')
          .select('id')
          .where('user_id', '=', userId)
          .orderBy('at', 'desc')
          .orderBy('seq', 'desc')
          .execute()
      ).map((r) => r.id);
      assert.equal(expected.length, N);

      const pageThrough = async (query: string, limit: number, duringPage?: (page: number) => Promise<void>) => {
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; ; page++) {
          const res = await admin(`user=${userId}&limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
          const body = expectStatus(res, 200);
          assert.ok(body.events.length <= limit);
          seen.push(...body.events.map((e) => e.id));
          await duringPage?.(page);
          cursor = body.next_cursor;
          if (!cursor) return seen;
          assert.ok(page < 1000, 'pages end');
        }
      };
      // new events arriving while support pages do not move the pages already asked for
      const all = await pageThrough('', 100, async (page) => {
        if (page === 4)
          await sql`INSERT INTO account_events (user_id, type, actor, at) VALUES (${userId}::uuid, 'login_failed', 'user', timestamptz '2030-06-02T00:00:00Z')`.execute(
            q(),
          );
      });
      assert.equal(all.length, N);
      assert.equal(new Set(all).size, N, 'no event twice');
      assert.deepEqual(all, expected, 'newest first, no gap');

      const since = '2030-06-01T00:00:00.002100Z';
      const sinceCount = await q()
        .selectFrom('account_events')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('user_id', '=', userId)
        .where('type', '=', 'login_failed')
        .where('at', '>=', new Date(since))
        .executeTakeFirstOrThrow();
      const filtered = await pageThrough(`&type=login_failed&since=${since}`, 500);
      assert.equal(filtered.length, sinceCount.n);
      assert.ok(sinceCount.n > 500 && sinceCount.n < 1000, `${sinceCount.n}`);
      assert.deepEqual(
        filtered,
        (
          await q()
            .selectFrom('account_events')
            .select('id')
            .where('user_id', '=', userId)
            .where('type', '=', 'login_failed')
            .where('at', '>=', new Date(since))
            .orderBy('at', 'desc')
            .orderBy('seq', 'desc')
            .execute()
        ).map((r) => r.id),
      );
    });

    it('the admin log finds an account by email or phone, and refuses what it cannot read', async () => {
      const { person: p } = await verifiedLogin(stack, 'ev-admin');
      const byEmail = expectStatus(await admin(`user=${encodeURIComponent(p.email.toUpperCase())}`), 200);
      const byPhone = expectStatus(await admin(`user=${encodeURIComponent(p.phone)}`), 200);
      assert.deepEqual(
        byEmail.events.map((e) => e.type),
        ['login_succeeded', 'email_verified', 'registered'],
      );
      assert.deepEqual(byPhone, byEmail);
      assert.equal(errorCode(await admin('user=nobody-at-all@example.test')), 'not_found');
      assert.equal(errorCode(await admin('cursor=not-a-cursor')), 'validation_error');
      assert.equal(errorCode(await admin('type=made_up')), 'validation_error');
      assert.equal(errorCode(await admin('since=yesterday')), 'validation_error');
      assert.equal((await stack.api('GET', '/api/v1/admin/events')).status, 401);
    });

    it('`panic-api events EMAIL` answers "who signed in to my account"', { timeout: 60_000 }, async () => {
      const { person: p } = await verifiedLogin(stack, 'ev-cli');
      const run = await runCli(['events', p.email], { ADMIN_TOKEN, API_BASE_URL: stack.baseUrl });
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split('\n');
      assert.match(lines[0], /^TIME\s+EVENT\s+BY\s+NETWORK\s+FACTS\s+USER AGENT$/);
      assert.match(lines[1], /login_succeeded\s+user\s+127\.0\.0\.0\/24\s+method=password .*new_network=true/);
      assert.match(lines.at(-1)!, /registered\s+user/);
      const json = await runCli(['events', p.email, '--type', 'registered', '--json'], {
        ADMIN_TOKEN,
        API_BASE_URL: stack.baseUrl,
      });
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(
        (JSON.parse(json.stdout) as { events: Array<{ type: string }> }).events.map((e) => e.type),
        ['registered'],
      );
      const nobody = await runCli(['events', 'nobody-here@example.test'], { ADMIN_TOKEN, API_BASE_URL: stack.baseUrl });
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /No account has this email address or phone number/);
      const noToken = await runCli(['events', p.email], { API_BASE_URL: stack.baseUrl });
      assert.equal(noToken.code, 1);
      assert.match(noToken.stderr, /Set ADMIN_TOKEN/);
    });

    it('retention removes events older than ACCOUNT_EVENT_RETENTION_DAYS and keeps the rest', async () => {
      const { person: p } = await verifiedLogin(stack, 'ev-retention');
      const id = await idOf(p.email);
      now += 200 * DAY;
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password }), 200);
      now += 166 * DAY;
      const removed = await stack.runtime.maintenance.runOnce();
      assert.ok(removed.account_events >= 3, `removed ${removed.account_events}`);
      assert.deepEqual(
        (await eventsOf(id)).map((e) => e.type),
        ['login_succeeded'],
      );
    });
  });
}
