/**
 * Each person's data in their hands (issue 22, part 3): the export of an account with every kind of
 * data, and its deletion, after which neither its email addresses (the one it has, one it had, one
 * that bounced) nor its phone numbers (the one it has, the one it had) are anywhere in the database:
 * every text and JSON column of every table is searched for them. The address registers again at
 * once; a `user.deleted` webhook reaches a real receiver; support looks a person up and deletes them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, expectStatus } from './support/api.ts';
import { databaseKinds, person, startStack, wrongCode, insertedAccount, type Stack } from './support/stack.ts';
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';
import { waitUntil } from './support/wait.ts';
import { whereIs } from './support/db-search.ts';
import { enqueue } from '../src/delivery/outbox.ts';
import { sendCode } from '../src/otp/send-code.ts';
import { suppress } from '../src/delivery/suppressions.ts';
import type { PersonalData } from '../src/contract/personal-data.ts';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** A number as it is written at home: +27825550123 → "082 555 0123". */
const national = (e164: string) => parsePhoneNumberFromString(e164)!.formatNational();

const ADMIN_TOKEN = 'admin-token-for-personal-data-tests-0123456789';

for (const db of await databaseKinds()) {
  describe(`a person's data in their hands (${db})`, () => {
    let stack: Stack;
    let receiver: WebhookReceiver;
    before(async () => {
      const secret = newWebhookSecret();
      receiver = await startWebhookReceiver(secret);
      stack = await startStack({
        db,
        smtp: { rejectRecipients: /^bounce\./ },
        env: { ADMIN_TOKEN, WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: secret },
      });
    });
    after(async () => {
      await stack?.close();
      await receiver?.close();
    });

    it('the export holds every kind of data and no code, body, hash or token; the deletion leaves no address or number anywhere, and the address registers again', async () => {
      const p = {
        ...person('erase'),
        first_name: `Nomsa${[...String(Date.now() % 1e6)].map((d) => 'abcdefghij'[Number(d)]).join('')}`,
      };
      const bounced = `bounce.${p.email}`;
      const newEmail = `new.${p.email}`;
      const newPhone = p.phone.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
      const codes: string[] = [];

      // an account with a verified email and phone, then a second number, then a second address
      const reg = expectStatus(await stack.api('POST', '/api/v1/auth/register', p), 201);
      const userId = reg.user.id;
      codes.push(await stack.emailCode(p.email));
      expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: codes.at(-1)! }), 200);
      const login = (email = p.email) => stack.api('POST', '/api/v1/auth/login', { email, password: p.password });
      expectStatus(await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: 'wrong password' }), 401);
      let token = expectStatus(await login(), 200).access_token;
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', {}, token), 200);
      codes.push(await stack.smsCode(p.phone));
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: codes.at(-1)! }, token), 200);
      expectStatus(
        await stack.api('POST', '/api/v1/users/verify-phone', { phone: newPhone, password: p.password }, token),
        200,
      );
      codes.push(await stack.smsCode(newPhone));
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: codes.at(-1)! }, token), 200);
      // an address that bounces: a suppression, and errors that quote it
      expectStatus(
        await stack.api('POST', '/api/v1/users/me/email', { email: bounced, password: p.password }, token),
        200,
      );
      const bounce = await waitUntil(
        () =>
          stack.runtime.services.db
            .selectFrom('messages')
            .select(['id', 'last_error'])
            .where('recipient', '=', bounced)
            .where('status', '=', 'failed')
            .executeTakeFirst(),
        { what: 'the code to the new address to be refused' },
      );
      // as the mail provider's bounce receipt puts it there (delivery/receipts.ts)
      await suppress(
        stack.runtime.services.db,
        { address: bounced, kind: 'bounce', reason: bounce.last_error!, messageId: bounce.id },
        stack.runtime.services.clock(),
      );
      expectStatus(
        await stack.api('POST', '/api/v1/users/me/email', { email: newEmail, password: p.password }, token),
        200,
      );
      codes.push(await stack.emailCode(newEmail));
      expectStatus(await stack.api('POST', '/api/v1/users/me/email/verify', { otp: codes.at(-1)! }, token), 200);
      await stack.smtp.waitFor(p.email, { count: 2 }); // the notice to the old address
      // a message written before messages had an owner (found by its address), and one still waiting
      const services = stack.runtime.services;
      const now = services.clock();
      await services.db
        .insertInto('messages')
        .values({
          channel: 'email',
          recipient: p.email,
          purpose: 'email_verification',
          subject: 'Your code',
          body_text: `Hello ${p.first_name}, your code`,
          status: 'failed',
          last_error: `550 Mailbox unavailable: ${p.email}`,
          next_attempt_at: now,
          created_at: now,
          updated_at: now,
        })
        .execute();
      // a gateway's refusal quoting the number as it is written at home, spaced and not
      const unreachable = await services.db
        .insertInto('messages')
        .values({
          user_id: userId,
          channel: 'sms',
          recipient: p.phone,
          purpose: 'phone_verification',
          subject: null,
          body_text: 'Your code',
          status: 'failed',
          last_error: `HTTP 400: destination ${national(p.phone)} is not reachable`,
          next_attempt_at: now,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await services.db
        .insertInto('message_events')
        .values({
          message_id: unreachable.id,
          at: now,
          kind: 'attempt_failed',
          status: 'failed',
          provider: 'http',
          error: `HTTP 400: destination ${national(p.phone)} is not reachable`,
          provider_status: 400,
          provider_error: JSON.stringify({ error: `unknown subscriber ${national(p.phone).replace(/\D/g, '')}` }),
        })
        .execute();
      const waiting = await services.db.transaction().execute((trx) =>
        enqueue(
          trx,
          {
            userId,
            channel: 'sms',
            recipient: newPhone,
            purpose: 'phone_verification',
            subject: null,
            text: `Hello ${p.first_name}`,
            html: null,
            otp: '123456',
            expiresAt: new Date(now.getTime() + 600_000),
            dueAt: new Date(now.getTime() + 3_600_000),
          },
          now,
          services.seal,
        ),
      );

      // the export: every kind of data, and nothing that proves anything
      token = expectStatus(await login(newEmail), 200).access_token;
      const exported = await stack.api('GET', '/api/v1/users/me/export', undefined, token);
      const data: PersonalData = expectStatus(exported, 200);
      assert.match(String(exported.headers.get('content-disposition')), /attachment/);
      assert.equal(data.account.id, userId);
      assert.equal(data.account.email, newEmail);
      assert.equal(data.account.phone, newPhone);
      assert.equal(data.account.has_password, true);
      assert.ok(data.sessions.length >= 2, 'both sessions');
      assert.ok(data.sessions.every((s) => s.network && s.user_agent !== undefined));
      assert.deepEqual(
        new Set(data.codes.map((c) => c.purpose)),
        new Set(['email_verification', 'phone_verification', 'email_change']),
      );
      const types = new Set(data.events.map((e) => e.type));
      for (const type of ['registered', 'email_verified', 'phone_verified', 'phone_changed', 'login_failed'] as const)
        assert.ok(types.has(type), `event ${type} in ${[...types].join(', ')}`);
      const recipients = new Set(data.messages.map((m) => m.recipient));
      for (const to of [p.email, bounced, newEmail, p.phone, newPhone])
        assert.ok(recipients.has(to), `a message to ${to} in the export`);
      assert.ok(
        data.messages.some((m) => m.status === 'failed' && m.events.some((e) => e.error?.includes(bounced))),
        "the refusal in the provider's words",
      );
      assert.deepEqual(
        data.suppressions.map((s) => s.address),
        [bounced],
      );
      assert.ok(data.login_throttle === null || data.login_throttle.failures >= 0);
      for (const secret of [
        ...codes,
        '123456',
        'sealed:',
        '$argon2',
        'code_hash',
        'password_hash',
        'token_hash',
        token,
      ])
        assert.ok(!exported.text.includes(secret), `the export holds no "${secret.slice(0, 12)}"`);

      // a stolen access token alone deletes nothing: the password (or a sign-in code) is asked
      const refused = await stack.api('DELETE', '/api/v1/users/me', { password: 'not it' }, token);
      assert.equal(refused.status, 401);
      assert.equal(errorCode(refused), 'invalid_credentials');
      assert.equal(errorCode(await stack.api('DELETE', '/api/v1/users/me', {}, token)), 'validation_error');
      assert.equal(await whereIs(stack, newEmail).then((w) => w.includes('users.email ×1')), true, 'still there');

      const deleted = await stack.api('DELETE', '/api/v1/users/me', { password: p.password }, token);
      assert.equal(expectStatus(deleted, 200).deleted, true);
      assert.equal((await stack.api('GET', '/api/v1/users/me', undefined, token)).status, 401, 'its tokens die');

      const needles = [
        p.email,
        bounced,
        newEmail,
        p.phone,
        newPhone,
        p.phone.slice(1),
        newPhone.slice(1),
        national(p.phone),
        national(p.phone).replace(/\D/g, ''),
        p.first_name,
      ];
      const left = Object.fromEntries(
        (await Promise.all(needles.map(async (n) => [n, await whereIs(stack, n)] as const))).filter(
          ([, w]) => w.length,
        ),
      );
      assert.deepEqual(left, {}, 'no address, number or name is left anywhere in the database');

      // the history stays, without the person; the waiting message is cancelled
      const erased = await services.db
        .selectFrom('messages')
        .select(['id', 'status', 'recipient'])
        .where('user_id', '=', userId)
        .execute();
      assert.ok(erased.length >= 6, `the account's messages are kept (${erased.length})`);
      assert.equal(erased.find((m) => m.id === waiting)?.status, 'cancelled');
      // a number keeps its country (delivery health counts per calling code), an email nothing
      assert.deepEqual(new Set(erased.map((m) => m.recipient)), new Set(['[erased]', '+27 [erased]']));
      const events = await services.db
        .selectFrom('account_events')
        .select(['type', 'actor', 'facts'])
        .where('user_id', '=', userId)
        .orderBy('seq')
        .execute();
      assert.ok(events.length > 5, 'the events are kept until retention');
      assert.deepEqual(events.at(-1), { type: 'account_deleted', actor: 'user', facts: {} });

      // platform services hear of it
      await waitUntil(
        () => receiver.unique().some((a) => a.payload.type === 'user.deleted' && a.payload.data.user_id === userId),
        { what: 'the user.deleted webhook' },
      );

      // the address is free at once
      const again = expectStatus(await stack.api('POST', '/api/v1/auth/register', { ...p, email: newEmail }), 201);
      assert.notEqual(again.user.id, userId);
    });

    it('an account without a password is deleted with a fresh sign-in code, never with a wrong one', async () => {
      const p = await insertedAccount(stack, person('nopass'), stack.runtime.services.clock(), true);
      const services = stack.runtime.services;
      const user = await services.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', p.email)
        .executeTakeFirstOrThrow();
      const otp = async (count: number) => {
        await sendCode(services, {
          userId: user.id,
          purpose: 'login',
          channel: 'email',
          destination: p.email,
          now: services.clock(),
        });
        return stack.emailCode(p.email, count);
      };
      const code = await otp(1);
      const pair = expectStatus(await stack.api('POST', '/api/v1/auth/otp/verify', { email: p.email, otp: code }), 200);
      const deleteCode = await otp(2);
      const wrong = await stack.api('DELETE', '/api/v1/users/me', { otp: wrongCode(deleteCode) }, pair.access_token);
      assert.equal(errorCode(wrong), 'otp_invalid');
      expectStatus(await stack.api('DELETE', '/api/v1/users/me', { otp: deleteCode }, pair.access_token), 200);
      assert.deepEqual(await whereIs(stack, p.email), []);
    });

    it('accounts the service removes on its own are deleted accounts too: retention (never verified) and an email change taking a pending address', async () => {
      const services = stack.runtime.services;
      const now = services.clock();
      const lastOf = async (userId: string) =>
        services.db
          .selectFrom('account_events')
          .select(['type', 'actor', 'facts'])
          .where('user_id', '=', userId)
          .orderBy('seq', 'desc')
          .executeTakeFirst();
      // registered 100 hours ago, never verified: retention removes it (UNVERIFIED_ACCOUNT_TTL_HOURS, 72)
      const stale = await insertedAccount(stack, person('stale'), new Date(now.getTime() - 100 * 3_600_000), false);
      const staleId = (
        await services.db.selectFrom('users').select('id').where('email', '=', stale.email).executeTakeFirstOrThrow()
      ).id;
      await stack.runtime.maintenance.runOnce();
      assert.deepEqual(await lastOf(staleId), {
        type: 'account_deleted',
        actor: 'system',
        facts: { reason: 'never_verified' },
      });
      // a pending registration of an address another account then proves
      const pending = expectStatus(await stack.api('POST', '/api/v1/auth/register', person('pending')), 201);
      const mover = person('mover');
      expectStatus(await stack.api('POST', '/api/v1/auth/register', mover), 201);
      const code = await stack.emailCode(mover.email);
      expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: mover.email, otp: code }), 200);
      const token = expectStatus(
        await stack.api('POST', '/api/v1/auth/login', { email: mover.email, password: mover.password }),
        200,
      ).access_token;
      expectStatus(
        await stack.api(
          'POST',
          '/api/v1/users/me/email',
          { email: pending.user.email, password: mover.password },
          token,
        ),
        200,
      );
      const moveCode = await stack.emailCode(pending.user.email, 2);
      expectStatus(await stack.api('POST', '/api/v1/users/me/email/verify', { otp: moveCode }, token), 200);
      assert.deepEqual(await lastOf(pending.user.id), {
        type: 'account_deleted',
        actor: 'system',
        facts: { reason: 'address_proven_by_another' },
      });
      await waitUntil(
        () =>
          [staleId, pending.user.id].every((id) =>
            receiver.unique().some((a) => a.payload.type === 'user.deleted' && a.payload.data.user_id === id),
          ),
        { what: 'user.deleted for both' },
      );
    });

    it('support looks a person up by any spelling of their phone, and deletes them: the admin is the actor', async () => {
      const services = stack.runtime.services;
      const p = await insertedAccount(stack, person('support'), services.clock(), true);
      const admin = (method: 'GET' | 'DELETE', path: string, token = ADMIN_TOKEN) =>
        stack.request(method, path, undefined, token);
      const local = `0${p.phone.slice(3, 5)} ${p.phone.slice(5, 8)} ${p.phone.slice(8)}`;
      const found = await admin('GET', `/api/v1/admin/users?phone=${encodeURIComponent(local)}`);
      const { user } = expectStatus(found, 200) as { user: { id: string; email: string } };
      assert.equal(user.email, p.email);
      assert.equal(
        (await admin('GET', `/api/v1/admin/users?email=${encodeURIComponent(p.email.toUpperCase())}`)).status,
        200,
      );
      assert.equal(errorCode(await admin('GET', '/api/v1/admin/users?email=nobody%40example.test')), 'not_found');
      assert.equal(errorCode(await admin('GET', '/api/v1/admin/users')), 'validation_error');
      assert.equal(errorCode(await admin('GET', '/api/v1/admin/users?phone=12345')), 'invalid_phone');
      assert.equal((await admin('DELETE', `/api/v1/admin/users/${user.id}`, 'wrong-token')).status, 401);
      assert.equal((await admin('DELETE', `/api/v1/admin/users/${user.id}`)).status, 200);
      assert.equal(errorCode(await admin('DELETE', `/api/v1/admin/users/${user.id}`)), 'not_found');
      const last = await services.db
        .selectFrom('account_events')
        .select(['type', 'actor'])
        .where('user_id', '=', user.id)
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      assert.deepEqual(last, { type: 'account_deleted', actor: 'admin' });
      assert.deepEqual(await whereIs(stack, p.phone), []);
    });
  });
}
