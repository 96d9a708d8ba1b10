/**
 * kill -9 of a worker mid-delivery loses nothing (issue 22), against the REAL process: `serve` sends
 * the webhooks of three accounts to a receiver that takes them but whose answers never come back;
 * the process is killed with SIGKILL while they are in flight; a new process on the same data (a
 * PGlite folder, or a PostgreSQL database) takes them over once their lease runs out. Every event
 * arrives, signed, each once by its webhook-id (the ones in flight twice, which is why receivers keep
 * the id), in order per account.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { createTestDatabase, pgAvailable } from './support/pg.ts';
import { copyMigratedFolder } from './support/pglite-template.ts';
import { startSmtpServer } from './support/smtp.ts';
import { api, exitOf, report, startServe, stopChildrenAfter, type Child } from './support/child.ts';
import { codeIn, person, smtpEnv } from './support/stack.ts';
import { newWebhookSecret, startWebhookReceiver } from './support/webhook-receiver.ts';
import { waitUntil } from './support/wait.ts';

const TEST_TIMEOUT_MS = 300_000;

type DbKind = 'pglite' | 'postgres';
const kinds: DbKind[] = ['pglite'];
if (await pgAvailable()) kinds.push('postgres');

/** The data the children run on, and its webhook rows' statuses (PGlite: only while no child has it open). */
async function openStore(
  t: TestContext,
  kind: DbKind,
): Promise<{ env: Record<string, string>; statuses(): Promise<Array<{ status: string; n: number }>> }> {
  const query = 'SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status ORDER BY status';
  if (kind === 'postgres') {
    const database = await createTestDatabase();
    t.after(() => database.drop());
    return {
      env: { DATABASE_URL: database.url },
      async statuses() {
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          return (await client.query<{ status: string; n: number }>(query)).rows;
        } finally {
          await client.end();
        }
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'panic-webhook-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await copyMigratedFolder(dir);
  return {
    env: { DATA_DIR: dir },
    async statuses() {
      const db = await PGlite.create(dir);
      try {
        return (await db.query<{ status: string; n: number }>(query)).rows;
      } finally {
        await db.close();
      }
    },
  };
}

for (const kind of kinds) {
  describe(`webhooks survive kill -9, real process (${kind})`, () => {
    it('SIGKILL mid-delivery: after a restart every event arrives, each once by its id, in order per account', {
      timeout: TEST_TIMEOUT_MS,
    }, async (t) => {
      const secret = newWebhookSecret();
      const receiver = await startWebhookReceiver(secret);
      t.after(() => receiver.close());
      receiver.mode = 'swallow';
      const smtp = await startSmtpServer();
      t.after(() => smtp.close());
      const store = await openStore(t, kind);
      const started: Child[] = [];
      stopChildrenAfter(t, started);
      const env = {
        JWT_SECRET: 'webhook-crash-test-jwt-secret-0123456789abcdef',
        OTP_SECRET: 'webhook-crash-test-otp-secret-0123456789abcdef',
        RATE_LIMIT_IP_PER_MINUTE: '100000',
        RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000',
        DELIVERY_LEASE_SECONDS: '3',
        DELIVERY_POLL_MS: '100',
        DELIVERY_RETRY_BASE_SECONDS: '0.1',
        WEBHOOK_TIMEOUT_SECONDS: '2',
        WEBHOOK_URLS: receiver.url,
        WEBHOOK_SECRET: secret,
        ...store.env,
        ...smtpEnv(smtp),
      };
      const first = await startServe(`serve #1 (${kind})`, env);
      started.push(first);
      const people = [0, 1, 2].map((i) => person(`wh-crash-${i}`));
      for (const p of people) {
        const reg = await api(first, 'POST', '/api/v1/auth/register', p);
        assert.equal(reg.status, 201, reg.text + report(first));
        const mail = await smtp.waitFor(p.email, { timeoutMs: 30_000 });
        const ver = await api(first, 'POST', '/api/v1/auth/verify-account', { email: p.email, otp: codeIn(mail.text) });
        assert.equal(ver.status, 200, ver.text + report(first));
      }
      // each account's first webhook taken by the receiver, its answer held: all three in flight
      await waitUntil(() => receiver.holding === 3, { timeoutMs: 30_000, what: 'three webhooks in flight' }).catch(
        (err) => {
          throw new Error(`${(err as Error).message}${report(first)}`);
        },
      );
      first.proc.kill('SIGKILL');
      assert.equal((await exitOf(first, 30_000)).signal, 'SIGKILL');
      const inFlight = new Set(receiver.accepted.map((a) => a.id));
      assert.ok(inFlight.size >= 3, `${inFlight.size} taken before the kill`);
      const left = await store.statuses();
      assert.deepEqual(
        left.find((s) => s.status === 'sending'),
        { status: 'sending', n: 3 },
        `the killed process left its claims behind: ${JSON.stringify(left)}`,
      );

      receiver.mode = 'up';
      const second = await startServe(`serve #2 (${kind})`, env);
      started.push(second);
      await receiver.waitForUnique(6, 60_000).catch((err) => {
        throw new Error(`${(err as Error).message}${report(second)}`);
      });
      second.proc.kill('SIGTERM');
      assert.deepEqual(await exitOf(second, 60_000), { code: 0, signal: null }, report(second));

      const unique = receiver.unique();
      assert.equal(unique.length, 6);
      assert.ok(
        receiver.arrivals.every((a) => a.verified),
        'every request verified by standardwebhooks',
      );
      assert.ok(receiver.accepted.length > unique.length, 'the ones in flight came again, under the same id');
      for (const id of inFlight) assert.ok(receiver.accepted.filter((a) => a.id === id).length >= 2, id);
      const byAccount = new Map<string, string[]>();
      for (const { payload } of unique)
        byAccount.set(payload.data.user_id, [...(byAccount.get(payload.data.user_id) ?? []), payload.type]);
      assert.equal(byAccount.size, 3);
      for (const types of byAccount.values()) assert.deepEqual(types, ['user.registered', 'user.email_verified']);
      assert.deepEqual(await store.statuses(), [{ status: 'delivered', n: 6 }]);
    });
  });
}
