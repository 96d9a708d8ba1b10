/**
 * The delivery worker under the faults of issue 8: a hung SMTP server beside a working SMS provider,
 * a shutdown with sends in flight, a lease taken over by another worker, a worker in another process
 * woken by NOTIFY instead of its poll, and one pool of SMTP connections for many messages.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.ts';
import { createLogger } from '../src/platform/logger.ts';
import { sendCode } from '../src/otp/send-code.ts';
import { claimDue, recordOutcome, recordOutcomes } from '../src/delivery/outbox.ts';
import { addSeconds } from '../src/shared/clock.ts';
import { holdingSmtp } from './support/smtp.ts';
import { waitUntil } from './support/wait.ts';
import { databaseKinds, randomPerson, startStack, type Stack, type StackOptions } from './support/stack.ts';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.ts';
import { PG_ADMIN_URL } from './support/pg.ts';
import { enqueue } from '../src/delivery/outbox.ts';

/** Registers someone (its email code queued) and answers the account's id and phone. */
async function registered(stack: Stack, tag: string) {
  const p = randomPerson(tag);
  const reg = await stack.api('POST', '/api/v1/auth/register', p);
  assert.equal(reg.status, 201, reg.text);
  return { ...p, id: reg.body.user.id as string, phone: reg.body.user.phone as string };
}

const statusOf = async (stack: Stack, recipient: string) =>
  stack.runtime.services.db
    .selectFrom('messages')
    .selectAll()
    .where('recipient', '=', recipient)
    .executeTakeFirstOrThrow();

for (const db of await databaseKinds()) {
  describe(`delivery worker (${db})`, () => {
    describe('an SMTP server that hangs', () => {
      const smtpHold = holdingSmtp();
      let stack: Stack;
      before(async () => {
        stack = await startStack({
          db,
          smtp: { beforeAccept: smtpHold.beforeAccept },
          env: { SHUTDOWN_TIMEOUT_SECONDS: '1' },
        });
      });
      after(async () => {
        smtpHold.release();
        await stack?.close();
      });

      it('holds up no SMS: a code for a phone arrives while every email is stuck in flight', async () => {
        const people = [];
        for (let i = 0; i < 3; i++) people.push(await registered(stack, `hung-smtp-${i}`));
        await waitUntil(() => stack.smtp.dataReceived >= 3, { what: 'three emails in flight' });
        const started = performance.now();
        const someone = people[0];
        await sendCode(stack.runtime.services, {
          userId: someone.id,
          purpose: 'phone_verification',
          channel: 'sms',
          destination: someone.phone,
          now: new Date(),
        });
        await stack.sms.waitFor(someone.phone, { timeoutMs: 3000 });
        const ms = performance.now() - started;
        assert.equal(stack.smtp.messages.length, 0, 'no email was accepted: they are all still held');
        assert.ok(ms < 2000, `the SMS took ${ms.toFixed(0)} ms behind the hung emails`);
      });

      it('SHUTDOWN_TIMEOUT_SECONDS=1: stop() returns within the deadline and the emails in flight go back to the queue', async () => {
        const p = await registered(stack, 'deadline');
        await waitUntil(async () => (await statusOf(stack, p.email)).status === 'sending', {
          what: 'the email in flight',
        });
        const started = performance.now();
        const stopped = await Promise.race([
          stack.runtime.worker.stop().then(() => 'stopped'),
          new Promise((r) => setTimeout(r, 8000, 'still waiting')),
        ]);
        const ms = performance.now() - started;
        assert.equal(stopped, 'stopped', 'stop() waited for a send that never ends');
        assert.ok(ms < 2500, `stop() took ${ms.toFixed(0)} ms with a 1 s deadline`);
        const row = await statusOf(stack, p.email);
        assert.equal(row.status, 'queued', 'back in the queue for the next worker');
        assert.equal(row.lease_until, null);
        assert.equal(row.lease_token, null);
        const kept = stack.runtime.services.seal.open(row);
        assert.ok(kept.body_text.includes(kept.otp ?? '-'), 'the body (with its code) is kept for the next try');
      });
    });

    describe('leases', () => {
      let stack: Stack;
      before(async () => {
        stack = await startStack({ db, noWorker: true });
      });
      after(() => stack?.close());

      it('a worker whose lease ran out cannot record an outcome over the worker that took the message over', async () => {
        const p = await registered(stack, 'lease');
        const { db: kdb, config } = stack.runtime.services;
        const t0 = new Date();
        const [mine] = await claimDue(kdb, 'email', t0, config.DELIVERY_LEASE_SECONDS, 10);
        assert.equal(mine?.recipient, p.email);
        assert.deepEqual(
          await claimDue(kdb, 'email', t0, config.DELIVERY_LEASE_SECONDS, 10),
          [],
          "a leased message is nobody else's",
        );
        const later = addSeconds(t0, config.DELIVERY_LEASE_SECONDS + 1);
        const [theirs] = await claimDue(kdb, 'email', later, config.DELIVERY_LEASE_SECONDS, 10);
        assert.equal(theirs?.id, mine.id, 'the lease ran out: another worker takes the message over');
        assert.notEqual(theirs.lease_token, mine.lease_token);

        assert.equal(
          await recordOutcome(kdb, mine, { status: 'failed', reason: 'late and stale' }, later, false),
          false,
        );
        assert.equal(await recordOutcome(kdb, theirs, { status: 'sent', providerId: 'theirs' }, later, false), true);
        assert.equal(
          await recordOutcome(kdb, mine, { status: 'failed', reason: 'late and stale' }, later, false),
          false,
        );
        const row = await statusOf(stack, p.email);
        assert.equal(row.status, 'sent');
        assert.equal(row.provider_id, 'theirs');
        assert.equal(row.last_error, null);
      });

      it('one statement of outcomes writes those whose claim holds, each with its event, and not the one taken over', async () => {
        const people = [];
        for (let i = 0; i < 3; i++) people.push(await registered(stack, `batch-${i}`));
        const { db: kdb, config } = stack.runtime.services;
        const t0 = new Date();
        const mine = await claimDue(kdb, 'email', t0, config.DELIVERY_LEASE_SECONDS, 10);
        const byRecipient = (email: string) => mine.find((m) => m.recipient === email)!;
        const [sent, retried, lost] = people.map((p) => byRecipient(p.email));
        const later = addSeconds(t0, config.DELIVERY_LEASE_SECONDS + 1);
        // another worker takes `lost` over once its lease ran out; its other two are claimed by nobody
        await kdb.updateTable('messages').set({ lease_until: t0 }).where('id', '!=', lost.id).execute();
        const [theirs] = await claimDue(kdb, 'email', later, config.DELIVERY_LEASE_SECONDS, 10, [sent.id, retried.id]);
        assert.equal(theirs?.id, lost.id);

        const tried = { provider: 'smtp', durationMs: 12 };
        const held = await recordOutcomes(
          kdb,
          [
            { message: sent, outcome: { status: 'sent', providerId: 'p-sent', attempt: tried } },
            {
              message: retried,
              outcome: { status: 'queued', reason: 'SMTP 451', retryAt: addSeconds(later, 30), attempt: tried },
            },
            { message: lost, outcome: { status: 'failed', reason: 'late and stale', attempt: tried } },
          ],
          later,
          false,
        );
        assert.deepEqual(held, [true, true, false]);
        const rowOf = (p: { email: string }) => statusOf(stack, p.email);
        const [a, b, c] = await Promise.all(people.map(rowOf));
        assert.deepEqual([a.status, a.provider_id, a.last_error, a.otp], ['sent', 'p-sent', null, null]);
        assert.equal(a.body_text, '[redacted after delivery]');
        assert.deepEqual([b.status, b.last_error, b.lease_token], ['queued', 'SMTP 451', null]);
        assert.equal(b.next_attempt_at.getTime(), addSeconds(later, 30).getTime());
        assert.ok(b.otp, 'a message to retry keeps its code');
        assert.deepEqual([c.status, c.lease_token], ['sending', theirs.lease_token], 'the taken-over claim is theirs');
        const events = await kdb
          .selectFrom('message_events')
          .select(['message_id', 'kind', 'status', 'provider_id', 'error', 'duration_ms'])
          .where('message_id', 'in', [sent.id, retried.id, lost.id])
          .where('kind', '!=', 'queued')
          .orderBy('message_id')
          .execute();
        assert.deepEqual(
          events.sort((x, y) => (x.kind < y.kind ? -1 : 1)),
          [
            {
              message_id: retried.id,
              kind: 'attempt_failed',
              status: 'queued',
              provider_id: null,
              error: 'SMTP 451',
              duration_ms: 12,
            },
            { message_id: sent.id, kind: 'sent', status: 'sent', provider_id: 'p-sent', error: null, duration_ms: 12 },
          ],
        );
      });
    });

    describe('wake-up without polling (DELIVERY_POLL_MS=60000)', () => {
      const env = { DELIVERY_POLL_MS: '60000' };
      let stack: Stack;
      let other: Runtime | undefined;
      before(async () => {
        stack = await startStack({ db, env, noWorker: db === 'postgres' });
        if (db === 'postgres') {
          // Another process's worker on the same database: only a NOTIFY can reach it.
          other = await createRuntime({
            config: stack.runtime.config,
            logger: createLogger({ ...stack.runtime.config, LOG_LEVEL: 'silent' }),
          });
          other.worker.start();
        }
      });
      after(async () => {
        await other?.close();
        await stack?.close();
      });

      it(`a registration's email arrives within a second of the answer${db === 'postgres' ? ', sent by the worker of another runtime' : ''}`, async () => {
        // A first email opens the pooled SMTP connection (TLS, AUTH) and puts the worker's first claim
        // and its LISTEN behind it; what follows measures the wake-up alone.
        await stack.smtp.waitFor((await registered(stack, 'wake-warm-up')).email, { timeoutMs: 30_000 });
        for (let i = 0; i < 3; i++) {
          const p = await registered(stack, `wake-${i}`);
          const answered = performance.now();
          await stack.smtp.waitFor(p.email, { timeoutMs: 5000 });
          const ms = performance.now() - answered;
          const sendMs = stack.logs.filter((l) => l.includes('message sent')).map((l) => JSON.parse(l).ms);
          assert.ok(
            ms < 1000,
            `email ${i} arrived ${ms.toFixed(0)} ms after the answer (sends took ${sendMs.join(', ')} ms): the worker waited for its poll`,
          );
        }
      });
    });

    describe('one pool of SMTP connections', () => {
      let stack: Stack;
      const opts: StackOptions = { db, env: { SMTP_MAX_CONNECTIONS: '3', DELIVERY_CONCURRENCY: '10' } };
      before(async () => {
        stack = await startStack(opts);
      });
      after(() => stack?.close());

      it('20 emails travel over at most SMTP_MAX_CONNECTIONS=3 connections, each delivered once', async () => {
        const before = stack.smtp.connections;
        const people = [];
        for (let i = 0; i < 20; i++) people.push(await registered(stack, `pool-${i}`));
        for (const p of people) await stack.smtp.waitFor(p.email);
        const opened = stack.smtp.connections - before;
        assert.ok(opened >= 1 && opened <= 3, `${opened} connections for 20 emails`);
        for (const p of people)
          assert.equal(stack.smtp.messages.filter((m) => m.envelopeTo.includes(p.email)).length, 1);
      });

      it('SMS reach the provider over a kept-alive connection, not a new one each', async () => {
        const before = stack.sms.connections;
        for (let i = 0; i < 10; i++) {
          const p = await registered(stack, `sms-keepalive-${i}`);
          await sendCode(stack.runtime.services, {
            userId: p.id,
            purpose: 'phone_verification',
            channel: 'sms',
            destination: p.phone,
            now: new Date(),
          });
          await stack.sms.waitFor(p.phone);
        }
        const opened = stack.sms.connections - before;
        assert.ok(opened >= 1 && opened <= 2, `${opened} connections for 10 SMS sent one after another`);
      });
    });
  });
}

describe('exactly once through a database cut longer than a lease, with 30 emails in flight (postgres)', {
  skip: !(await databaseKinds()).includes('postgres') && 'PostgreSQL does not answer',
}, () => {
  const smtpHold = holdingSmtp();
  const LEASE_SECONDS = 4;
  /** The service's clock: the cut outlasts the leases when the test moves it on, not by waiting. */
  let ahead = 0;
  let proxy: FaultProxy;
  let stack: Stack;
  before(async () => {
    proxy = await startFaultProxy(Number(new URL(PG_ADMIN_URL).port || 5432));
    stack = await startStack({
      db: 'postgres',
      databaseUrl: proxy.via,
      clock: () => new Date(Date.now() + ahead),
      smtp: { beforeAccept: smtpHold.beforeAccept },
      // Before lease tokens, a send whose outcome could not be written was claimed again when its
      // lease ran out, and went out twice.
      env: {
        DELIVERY_CONCURRENCY: '30',
        SMTP_MAX_CONNECTIONS: '30',
        DELIVERY_LEASE_SECONDS: String(LEASE_SECONDS),
        DB_QUERY_TIMEOUT_MS: '1000',
      },
    });
  });
  after(async () => {
    smtpHold.release();
    proxy?.setMode('pass');
    await stack?.close();
    await proxy?.close();
  });

  it('the sends finish during the cut; their outcomes are written when it ends; every email is delivered once', async () => {
    const now = new Date();
    const to = Array.from({ length: 30 }, (_, i) => `once-${i}.${randomPerson().email}`);
    await stack.runtime.services.db.transaction().execute(async (trx) => {
      for (const recipient of to) {
        await enqueue(
          trx,
          {
            userId: randomUUID(),
            channel: 'email',
            recipient,
            purpose: 'email_verification',
            subject: 'Your code',
            text: 'Your code is 123456.',
            html: null,
            otp: '123456',
            expiresAt: new Date(now.getTime() + 600_000),
          },
          now,
          stack.runtime.services.seal,
        );
      }
    });
    await waitUntil(() => stack.smtp.dataReceived >= 30, { timeoutMs: 15_000, what: '30 emails in flight' });
    proxy.setMode('reset');
    smtpHold.release(); // every send succeeds now, while no outcome can be written
    await waitUntil(() => stack.smtp.messages.length >= 30, { what: 'the 30 sends to finish' });
    // Every outcome the worker could not write, as its warnings name them.
    const unwritten = () =>
      new Set(
        stack.logs
          .map((l) => JSON.parse(l) as { msg?: string; message_ids?: string[] })
          .filter((l) => l.msg?.startsWith('could not record a delivery outcome'))
          .flatMap((l) => l.message_ids ?? []),
      );
    await waitUntil(() => unwritten().size >= 30, {
      timeoutMs: 15_000,
      what: '30 outcomes the cut kept from the database',
    });
    ahead += (LEASE_SECONDS + 1) * 1000; // the cut outlasts every lease: a claim may now take their messages
    proxy.setMode('pass');
    const rows = () =>
      stack.runtime.services.db
        .selectFrom('messages')
        .select(['recipient', 'status'])
        .where('recipient', 'in', to)
        .execute();
    // A message claimed again would be 'sending' until its second copy had reached the server, so
    // once every one is 'sent', every copy that will ever leave has arrived.
    await waitUntil(async () => (await rows()).every((r) => r.status === 'sent'), {
      timeoutMs: 20_000,
      what: 'every outcome written after the cut',
    });
    assert.equal((await rows()).length, 30);
    const copies = to.map((address) => stack.smtp.messages.filter((m) => m.envelopeTo.includes(address)).length);
    assert.deepEqual(
      copies,
      to.map(() => 1),
      `emails per recipient: ${copies.join(' ')}`,
    );
  });
});
