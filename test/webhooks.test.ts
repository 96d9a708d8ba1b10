/**
 * Webhooks to the platform's other services (issue 22, part 2), against a real HTTP receiver that
 * verifies every request with the `standardwebhooks` package: every verification arrives within
 * seconds, signed, its payload ids and facts only; a receiver down for a while (503, then refusing
 * connections) then up gets every event, each once by its webhook-id, in order per account; one that
 * keeps failing is given up after WEBHOOK_RETRY_HOURS and the account's next events go on; the
 * endpoint's state in /admin/delivery and the metrics; retention; the settings.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { sql } from 'kysely';
import { databaseKinds, person, randomMobile, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { expectStatus } from './support/api.ts';
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';
import { waitUntil } from './support/wait.ts';
import { loadConfig } from '../src/config/settings.ts';
import { webhookTypeOf, type AccountEventType } from '../src/shared/vocabulary.ts';

const ADMIN_TOKEN = 'webhooks-admin-token-0123456789abcdef-01';
const DAY = 86_400_000;

for (const db of await databaseKinds()) {
  describe(`webhooks to the platform's services (${db})`, () => {
    const secret = newWebhookSecret();
    let receiver: WebhookReceiver;
    let stack: Stack;
    /** The service's clock runs with real time (receivers check the signed timestamp), this far ahead. */
    let ahead = 0;
    let endpoint: string;
    before(async () => {
      receiver = await startWebhookReceiver(secret);
      endpoint = new URL(receiver.url).host + new URL(receiver.url).pathname;
      stack = await startStack({
        db,
        clock: () => new Date(Date.now() + ahead),
        env: { ADMIN_TOKEN, WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_HOURS: '1' },
      });
    });
    after(async () => {
      await receiver.close();
      await stack.close();
    });

    const q = () => stack.runtime.services.db;
    const seqOf = async (eventId: string) =>
      (await q().selectFrom('account_events').select('seq').where('id', '=', eventId).executeTakeFirstOrThrow()).seq;
    const idOf = async (email: string) =>
      (await q().selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
    /** An account's events that platform services are sent, oldest first. */
    const webhookEvents = async (userId: string) =>
      (
        await q()
          .selectFrom('account_events')
          .select(['id', 'type'])
          .where('user_id', '=', userId)
          .orderBy('seq')
          .execute()
      ).filter((e) => webhookTypeOf(e.type));
    /** What the receiver accepted for these accounts, duplicates dropped by webhook-id. */
    const acceptedFor = (userIds: string[]) =>
      receiver.unique().filter((a) => userIds.includes(a.payload.data.user_id));
    const metric = async (name: string, labels: string) => {
      const text = await stack.runtime.metrics.registry.metrics();
      const m = text.match(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm'));
      return m ? Number(m[1]) : undefined;
    };

    /** Registers, verifies the email, verifies a phone, then changes it: four webhooks. */
    async function fourChanges(tag: string) {
      const { person: p, tokens } = await verifiedLogin(stack, tag);
      const token = tokens.access_token;
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', {}, token), 200);
      const first = await stack.smsCode(p.phone);
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: first }, token), 200);
      const phone = randomMobile();
      expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', { phone, password: p.password }, token), 200);
      const second = await stack.smsCode(phone);
      expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp: second }, token), 200);
      return { p, tokens, phone, codes: [first, second], userId: await idOf(p.email) };
    }

    it('every verification reaches the receiver within seconds, signed so standardwebhooks verifies it, ids and facts only', async () => {
      const started = Date.now();
      const { p, tokens, phone, codes, userId } = await fourChanges('wh-verify');
      await waitUntil(() => acceptedFor([userId]).length === 4, { timeoutMs: 10_000, what: 'four webhooks' });
      const took = Date.now() - started;
      const got = acceptedFor([userId]);
      const events = await webhookEvents(userId);
      assert.deepEqual(
        got.map((a) => a.id),
        events.map((e) => e.id),
        'the webhook-id is the event id, in order',
      );
      const at = got.map((a) => a.payload.timestamp);
      assert.deepEqual(
        got.map((a) => ({ ...a.payload, timestamp: undefined })),
        [
          {
            type: 'user.registered',
            timestamp: undefined,
            data: { user_id: userId, email: p.email, phone: p.phone, replaced: false },
          },
          { type: 'user.email_verified', timestamp: undefined, data: { user_id: userId, email: p.email } },
          { type: 'user.phone_verified', timestamp: undefined, data: { user_id: userId, phone: p.phone } },
          {
            type: 'user.phone_changed',
            timestamp: undefined,
            data: { user_id: userId, phone, previous_phone: p.phone },
          },
        ],
      );
      assert.ok(at.every((t) => !Number.isNaN(Date.parse(t))));
      const arrivals = receiver.arrivals.filter((a) => got.some((g) => g.id === a.id));
      assert.ok(arrivals.every((a) => a.verified));
      // the check is real: another key refuses the very same request
      const other = new Webhook(newWebhookSecret());
      assert.throws(() =>
        other.verify(arrivals[0].body, {
          'webhook-id': arrivals[0].id,
          'webhook-timestamp': String(Math.floor(arrivals[0].at / 1000)),
          'webhook-signature': 'v1,AAAA',
        }),
      );
      const signIns = (
        await q()
          .selectFrom('account_events')
          .select('id')
          .where('user_id', '=', userId)
          .where('type', '=', 'login_succeeded')
          .execute()
      ).map((e) => e.id);
      assert.ok(signIns.length > 0 && !receiver.arrivals.some((a) => signIns.includes(a.id)), 'sign-ins are not sent');
      for (const secretValue of [p.password, ...codes, tokens.access_token, tokens.refresh_token, secret])
        assert.ok(
          arrivals.every((a) => !a.body.includes(secretValue)),
          `a body holds ${secretValue.slice(0, 10)}…`,
        );
      assert.ok(took < 10_000, `${took} ms`);
    });

    it('a receiver down for a while (503, then refusing connections), then up: every event once by its id, in order per account', async () => {
      receiver.mode = 'down';
      const before503 = receiver.arrivals.filter((a) => a.status === 503).length;
      const failedBefore = (await metric('panic_webhook_deliveries_total', `endpoint="${endpoint}",outcome="failed"`))!;
      // six accounts at once, their changes interleaved
      const accounts = await Promise.all([0, 1, 2].map((i) => fourChanges(`wh-down-${i}`)));
      await waitUntil(() => receiver.arrivals.filter((a) => a.status === 503).length >= before503 + 3, {
        what: 'the receiver to refuse some',
      });
      await receiver.goAway();
      const more = await Promise.all([3, 4, 5].map((i) => fourChanges(`wh-away-${i}`)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const userIds = [...accounts, ...more].map((a) => a.userId);
      assert.equal(acceptedFor(userIds).length, 0, 'nothing accepted while down');
      await waitUntil(async () => (await metric('panic_webhook_backlog', `endpoint="${endpoint}"`)) === 24, {
        what: 'the backlog gauge at 24',
      });
      assert.ok((await metric('panic_webhook_oldest_pending_seconds', `endpoint="${endpoint}"`))! > 0);
      const down = expectStatus(await stack.api('GET', '/api/v1/admin/delivery', undefined, ADMIN_TOKEN), 200);
      const state = down.webhooks.find((w) => w.endpoint === endpoint)!;
      assert.equal(state.backlog, 24);
      assert.ok(state.last_failure_at && state.last_error, JSON.stringify(state));

      await receiver.comeBack();
      receiver.mode = 'up';
      await waitUntil(() => acceptedFor(userIds).length === 24, {
        timeoutMs: 30_000,
        what: 'all 24 webhooks once the receiver is back',
      });
      for (const userId of userIds) {
        const got = acceptedFor([userId]);
        const events = await webhookEvents(userId);
        assert.deepEqual(
          got.map((a) => a.id),
          events.map((e) => e.id),
          'each event once, in the order of the account',
        );
        assert.deepEqual(
          got.map((a) => a.payload.type),
          ['user.registered', 'user.email_verified', 'user.phone_verified', 'user.phone_changed'],
        );
        // a duplicate (a lease taken over) may come again, but never out of order: an account's first
        // acceptance of each event is in its order, as checked above
      }
      assert.ok(
        (await metric('panic_webhook_deliveries_total', `endpoint="${endpoint}",outcome="failed"`))! >=
          failedBefore + 3,
      );
      await waitUntil(async () => (await metric('panic_webhook_backlog', `endpoint="${endpoint}"`)) === 0, {
        what: 'the backlog to empty',
      });
      const up = expectStatus(await stack.api('GET', '/api/v1/admin/delivery', undefined, ADMIN_TOKEN), 200);
      const after = up.webhooks.find((w) => w.endpoint === endpoint)!;
      assert.equal(after.configured, true);
      assert.equal(after.backlog, 0);
      assert.equal(after.oldest_pending_at, null);
      assert.ok(after.last_success_at && after.last_success_at >= after.last_failure_at!, JSON.stringify(after));
    });

    it("a delivery refused for WEBHOOK_RETRY_HOURS is given up, and the account's next events go on", async () => {
      receiver.mode = 'down';
      const p = person('wh-give-up');
      expectStatus(await stack.api('POST', '/api/v1/auth/register', p), 201);
      const userId = await idOf(p.email);
      await waitUntil(() => receiver.arrivals.some((a) => a.status === 503 && a.body.includes(userId)), {
        what: 'the registration refused',
      });
      const otp = await stack.emailCode(p.email);
      expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp }), 200);
      const [registeredEvent, verifiedEvent] = await webhookEvents(userId);
      // the registration's delivery an hour old (WEBHOOK_RETRY_HOURS=1), as an hour of refusals leaves it
      await q()
        .updateTable('webhook_deliveries')
        .set({ created_at: sql<Date>`created_at - interval '61 minutes'` })
        .where('user_id', '=', userId)
        .where('event_seq', '=', await seqOf(registeredEvent.id))
        .execute();
      await waitUntil(
        async () =>
          (
            await q()
              .selectFrom('webhook_deliveries')
              .select(['status', 'last_error'])
              .where('user_id', '=', userId)
              .orderBy('event_seq')
              .executeTakeFirst()
          )?.status === 'failed',
        { timeoutMs: 15_000, what: 'the registration webhook given up' },
      );
      const verifiedTried = receiver.arrivals.filter((a) => a.id === verifiedEvent.id).length;
      assert.ok(verifiedTried <= 1, 'the next event waited for the one before it');
      receiver.mode = 'up';
      await waitUntil(() => acceptedFor([userId]).length === 1, { timeoutMs: 15_000, what: 'the next event' });
      assert.equal(acceptedFor([userId])[0].id, verifiedEvent.id);
      assert.ok(!receiver.accepted.some((a) => a.id === registeredEvent.id));
      const failed = await q()
        .selectFrom('webhook_deliveries')
        .select(['status', 'last_error', 'attempts'])
        .where('user_id', '=', userId)
        .orderBy('event_seq')
        .executeTakeFirstOrThrow();
      assert.equal(failed.last_error, 'HTTP 503: down for maintenance');
      assert.ok(failed.attempts >= 2);
    });

    it('retention: delivered rows go after MESSAGE_RETENTION_DAYS; an event whose webhook still waits is kept', async () => {
      const { userId } = await fourChanges('wh-retention');
      await waitUntil(() => acceptedFor([userId]).length === 4, { what: 'delivered' });
      receiver.mode = 'down';
      const p = person('wh-retention-waiting');
      expectStatus(await stack.api('POST', '/api/v1/auth/register', p), 201);
      const waiting = await idOf(p.email);
      // the worker stopped, so a year on its next try does not give the waiting one up
      await stack.runtime.webhooks.stop();
      ahead += 400 * DAY;
      const removed = await stack.runtime.maintenance.runOnce();
      assert.ok(removed.webhook_deliveries >= 4, JSON.stringify(removed));
      const rows = await q().selectFrom('webhook_deliveries').select(['user_id', 'status']).execute();
      assert.ok(!rows.some((r) => r.user_id === userId), 'delivered rows removed');
      assert.ok(rows.some((r) => r.user_id === waiting && (r.status === 'queued' || r.status === 'sending')));
      // never verified, the account itself went with that year: its account_deleted waits behind
      assert.deepEqual(
        (await webhookEvents(waiting)).map((e) => e.type),
        ['registered', 'account_deleted'] satisfies AccountEventType[],
        'its event stays while its webhook waits',
      );
      assert.deepEqual(await webhookEvents(userId), [], 'the delivered ones went with their year');
      ahead = 0;
      stack.runtime.webhooks.start();
    });
  });
}

describe('webhook settings', () => {
  const secret = newWebhookSecret();
  const refused = (env: Record<string, string>) => {
    try {
      loadConfig({ APP_ENV: 'test', ...env });
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  };

  it('reads WEBHOOK_URLS into endpoints named by host and path, credentials apart', () => {
    const config = loadConfig({
      APP_ENV: 'test',
      WEBHOOK_URLS: 'https://user:p%40ss@hooks.example.com/panic?key=k, http://127.0.0.1:9000/',
      WEBHOOK_SECRET: secret,
    });
    assert.deepEqual(config.WEBHOOK_URLS, [
      {
        name: 'hooks.example.com/panic',
        url: 'https://hooks.example.com/panic?key=k',
        authorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}`,
      },
      { name: '127.0.0.1:9000/', url: 'http://127.0.0.1:9000/', authorization: undefined },
    ]);
    assert.deepEqual(loadConfig({ APP_ENV: 'test' }).WEBHOOK_URLS, []);
  });

  it('refuses what would not work or not be safe, naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ WEBHOOK_URLS: 'https://a.example/h' }, /WEBHOOK_SECRET: must be set with WEBHOOK_URLS/],
      [{ WEBHOOK_URLS: 'https://a.example/h', WEBHOOK_SECRET: 'not-a-secret' }, /WEBHOOK_SECRET: must be whsec_/],
      [
        { WEBHOOK_URLS: 'https://a.example/h', WEBHOOK_SECRET: `whsec_${Buffer.alloc(16).toString('base64')}` },
        /WEBHOOK_SECRET: must be whsec_ and the base64 of 24 to 64/,
      ],
      [
        { WEBHOOK_URLS: 'ftp://a.example/h', WEBHOOK_SECRET: secret },
        /WEBHOOK_URLS: a\.example\/h must be an http\(s\) URL/,
      ],
      [{ WEBHOOK_URLS: 'not a url', WEBHOOK_SECRET: secret }, /WEBHOOK_URLS: "not a url" is not a URL/],
      [
        { WEBHOOK_URLS: 'https://u:secretpw@a.example/h, https://a.example/h?x=1', WEBHOOK_SECRET: secret },
        /WEBHOOK_URLS: a\.example\/h is given twice/,
      ],
      [
        { WEBHOOK_URLS: 'https://a.example/h', WEBHOOK_SECRET: secret, DELIVERY_LEASE_SECONDS: '10' },
        /DELIVERY_LEASE_SECONDS: must be longer than WEBHOOK_TIMEOUT_SECONDS \(10\)/,
      ],
    ];
    for (const [env, problem] of cases) assert.match(refused(env) ?? 'started', problem, JSON.stringify(env));
    assert.ok(!(refused({ WEBHOOK_URLS: 'https://u:secretpw@a.example/h, ftp://x' }) ?? '').includes('secretpw'));
  });

  it('production: https only, but to this machine; the secret held to the production rule', () => {
    const prod = {
      APP_ENV: 'production',
      JWT_SECRET: 'j'.repeat(40),
      OTP_SECRET: 'o'.repeat(40),
    };
    assert.match(
      refused({ ...prod, WEBHOOK_URLS: 'http://accounts.internal/hooks', WEBHOOK_SECRET: secret }) ?? '',
      /accounts\.internal\/hooks must be https in production/,
    );
    for (const local of ['http://localhost:8080/h', 'http://127.0.0.1/h', 'http://[::1]:9/h', 'https://a.example/h'])
      assert.equal(refused({ ...prod, WEBHOOK_URLS: local, WEBHOOK_SECRET: secret }), undefined, local);
    assert.match(
      refused({ ...prod, WEBHOOK_URLS: 'https://a.example/h', WEBHOOK_SECRET: secret, ADMIN_TOKEN: secret }) ?? '',
      /ADMIN_TOKEN and WEBHOOK_SECRET are the same value/,
    );
  });
});
