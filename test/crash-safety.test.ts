/**
 * Crash safety of delivery, against the REAL process (`node bin/panic-api.js serve|worker` as children):
 * - SIGKILL while a mail is in flight: after a restart on the same data (PGlite folder or PostgreSQL
 *   database) the lease runs out, the mail is sent again and its code verifies;
 * - SIGTERM while a mail is in flight: the HTTP server stops, the send finishes, the process exits 0;
 * - two worker processes on one PostgreSQL database send 500 queued SMS exactly once.
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
import { startTwilioServer } from './support/sms.ts';
import {
  accepts,
  api,
  exitOf,
  report,
  startChild,
  startServe,
  stopChildrenAfter,
  waitForLog,
  START_TIMEOUT_MS,
  type Child,
} from './support/child.ts';
import { codeIn, person, smtpEnv, twilioEnv } from './support/stack.ts';
import { waitUntil } from './support/wait.ts';

const TEST_TIMEOUT_MS = 300_000;

/** The settings of every child here: no rate limits in the way, short leases, fast polls. */
const CRASH_ENV: Record<string, string> = {
  JWT_SECRET: 'crash-safety-test-jwt-secret-0123456789abcdef',
  OTP_SECRET: 'crash-safety-test-otp-secret-0123456789abcdef',
  RATE_LIMIT_IP_PER_MINUTE: '100000',
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000',
  DELIVERY_LEASE_SECONDS: '2',
  DELIVERY_POLL_MS: '100',
};

// ------------------------------------------------------------------ fixtures

/**
 * `beforeAccept` of the SMTP fixture: while holding, every message whose data arrived waits.
 * `passThrough()` lets later messages be accepted at once and leaves the held ones held (a held
 * message of a killed process is on a dead connection: releasing it would only record a mail
 * nobody is waiting for). `release()` lets the held ones go too.
 */
function makeGate() {
  let holding = true;
  let entered = 0;
  const held: Array<() => void> = [];
  return {
    get entered() {
      return entered;
    },
    beforeAccept(): Promise<void> {
      entered++;
      if (!holding) return Promise.resolve();
      return new Promise<void>((resolve) => held.push(resolve));
    },
    passThrough() {
      holding = false;
    },
    release() {
      holding = false;
      for (const resolve of held.splice(0)) resolve();
    },
  };
}

type DbKind = 'pglite' | 'postgres';

interface MessageRow {
  status: string;
  attempts: number;
}

/** The data a service child runs on, and a way to read a message's row. */
interface Store {
  env: Record<string, string>;
  /** PostgreSQL: any time. PGlite: only while no child has the folder open. */
  emailRow(recipient: string): Promise<MessageRow | undefined>;
}

/** A fresh database on the PostgreSQL server and a client on it, both gone after the test. */
async function connectTestDatabase(t: TestContext) {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  t.after(async () => {
    await client.end().catch(() => undefined);
    await database.drop();
  });
  return { database, client };
}

async function openStore(t: TestContext, kind: DbKind): Promise<Store> {
  if (kind === 'postgres') {
    const { database, client } = await connectTestDatabase(t);
    return {
      env: { DATABASE_URL: database.url },
      async emailRow(recipient) {
        const r = await client.query<MessageRow>(
          `SELECT status, attempts FROM messages WHERE channel = 'email' AND lower(recipient) = lower($1)`,
          [recipient],
        );
        assert.ok(r.rows.length <= 1, `one message to ${recipient}, got ${r.rows.length}`);
        return r.rows[0];
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'panic-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Migrated already, as a first `serve` leaves it (initdb in the child would cost seconds of CPU).
  await copyMigratedFolder(dir);
  return {
    env: { DATA_DIR: dir },
    async emailRow(recipient) {
      const db = await PGlite.create(dir);
      try {
        const r = await db.query<MessageRow>(
          `SELECT status, attempts FROM messages WHERE channel = 'email' AND lower(recipient) = lower($1)`,
          [recipient],
        );
        assert.ok(r.rows.length <= 1, `one message to ${recipient}, got ${r.rows.length}`);
        return r.rows[0];
      } finally {
        await db.close();
      }
    },
  };
}

// ------------------------------------------------------------------ tests

const kinds: DbKind[] = ['pglite'];
if (await pgAvailable()) kinds.push('postgres');
else console.log('# PostgreSQL not reachable: crash-safety tests on the PostgreSQL server skipped');

/**
 * Starts `serve` on a fresh store with an SMTP server that holds every mail before accepting it,
 * registers a user, and returns once that user's mail is in flight (its DATA reached the server).
 */
async function registerWithSendHeld(t: TestContext, kind: DbKind, tag: string) {
  const gate = makeGate();
  const smtp = await startSmtpServer({ beforeAccept: () => gate.beforeAccept() });
  t.after(() => smtp.close());
  const store = await openStore(t, kind);
  const started: Child[] = [];
  stopChildrenAfter(t, started);
  const env = { ...CRASH_ENV, ...store.env, ...smtpEnv(smtp) };
  const child = await startServe(`serve #1 (${kind})`, env);
  started.push(child);
  const p = person(tag);
  const reg = await api(child, 'POST', '/api/v1/auth/register', p);
  assert.equal(reg.status, 201, reg.text + report(child));
  await waitUntil(() => gate.entered >= 1, { timeoutMs: 60_000, what: 'the send to reach the SMTP server' }).catch(
    (err) => {
      throw new Error(`${(err as Error).message}${report(child)}`);
    },
  );
  return { gate, smtp, store, started, env, child, p };
}

for (const kind of kinds) {
  describe(`crash safety of delivery, real process (${kind})`, () => {
    it('SIGKILL while a mail is in flight: after a restart the mail is sent and its code verifies', {
      timeout: TEST_TIMEOUT_MS,
    }, async (t) => {
      const { gate, smtp, store, started, env, child: first, p } = await registerWithSendHeld(t, kind, 'crash');
      first.proc.kill('SIGKILL');
      const killed = await exitOf(first, 30_000);
      assert.equal(killed.signal, 'SIGKILL');
      assert.equal(smtp.messages.length, 0, 'nothing was accepted before the kill');
      if (kind === 'postgres') {
        const row = await store.emailRow(p.email);
        assert.deepEqual(row, { status: 'sending', attempts: 1 }, 'the killed process left its claim behind');
      }

      // The killed attempt stays held (its connection is gone); the next one is accepted at once.
      gate.passThrough();
      const second = await startServe(`serve #2 (${kind})`, env);
      started.push(second);
      const mail = await smtp.waitFor(p.email, { timeoutMs: 60_000 }).catch((err) => {
        throw new Error(`${(err as Error).message}${report(second)}`);
      });
      assert.equal(smtp.messages.length, 1, 'exactly one mail accepted');
      assert.ok(smtp.dataReceived >= 2, `the restarted process sent again (DATA arrivals: ${smtp.dataReceived})`);

      const ver = await api(second, 'POST', '/api/v1/auth/verify-account', { email: p.email, otp: codeIn(mail.text) });
      assert.equal(ver.status, 200, ver.text + report(second));

      if (kind === 'postgres') {
        const row = await waitUntil(
          async () => {
            const r = await store.emailRow(p.email);
            return r?.status === 'sent' ? r : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'the message row to be sent' },
        );
        assert.ok(row.attempts >= 2, `attempts ${row.attempts} >= 2`);
      }

      // Stop the restarted process (gracefully: it must exit 0), then read the row (PGlite: only now).
      second.proc.kill('SIGTERM');
      const stopped = await exitOf(second, 60_000);
      assert.deepEqual(stopped, { code: 0, signal: null }, report(second));
      const row = await store.emailRow(p.email);
      assert.ok(row, 'the message row exists');
      assert.equal(row.status, 'sent');
      assert.ok(row.attempts >= 2, `attempts ${row.attempts} >= 2`);
    });

    it('SIGTERM while a mail is in flight: HTTP stops, the send finishes, the process exits 0', {
      timeout: TEST_TIMEOUT_MS,
    }, async (t) => {
      const { gate, smtp, store, child, p } = await registerWithSendHeld(t, kind, 'term');
      t.after(() => gate.release());
      const port = child.port!;

      child.proc.kill('SIGTERM');
      await waitUntil(async () => !(await accepts(port)), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the HTTP server to stop accepting',
      }).catch((err) => {
        throw new Error(`${(err as Error).message}${report(child)}`);
      });
      // HTTP closed, so the shutdown has reached the worker, which waits for the send the gate holds
      // (the mail accepted after the release below is the proof: an exit would have cut it off).
      await waitForLog(child, 'shutting down: finishing messages in flight');
      assert.ok(child.running, `the process waits for the send in flight${report(child)}`);
      assert.equal(smtp.messages.length, 0);

      gate.release();
      const exit = await exitOf(child, 60_000);
      assert.deepEqual(exit, { code: 0, signal: null }, report(child));
      assert.equal(smtp.messages.length, 1, 'the mail was accepted exactly once');
      assert.equal(smtp.dataReceived, 1, 'and sent only once');
      assert.equal(smtp.messages[0].envelopeTo[0], p.email);
      assert.equal(await accepts(port), false, 'nothing listens any more');

      const row = await store.emailRow(p.email);
      assert.deepEqual(row, { status: 'sent', attempts: 1 }, report(child));
    });
  });
}

describe('two worker processes on one PostgreSQL database', {
  skip: !kinds.includes('postgres') && 'PostgreSQL not reachable',
}, () => {
  it('send 500 queued SMS exactly once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const COUNT = 500;
    // Each worker sends from its own number. The first sends are held until both workers have one
    // in flight: both took part, whatever the machine's timing, or the queue never empties.
    const FROM = ['+15005550006', '+15005550007'];
    const holding = new Set<string>();
    let bothSending!: () => void;
    const bothInFlight = new Promise<void>((resolve) => (bothSending = resolve));
    const sms = await startTwilioServer({
      beforeAccept: async ({ from }) => {
        holding.add(from);
        if (holding.size === FROM.length) bothSending();
        await bothInFlight;
      },
    });
    t.after(() => {
      bothSending();
      return sms.close();
    });
    const { database, client } = await connectTestDatabase(t);
    const env = {
      ...CRASH_ENV,
      DATABASE_URL: database.url,
      DELIVERY_LEASE_SECONDS: '60',
      ...twilioEnv(sms),
    };
    const started: Child[] = [];
    stopChildrenAfter(t, started);

    // Migrate once first, so the workers do not race to create the schema.
    const migrate = startChild('migrate', 'migrate', env);
    started.push(migrate);
    assert.deepEqual(await exitOf(migrate, START_TIMEOUT_MS), { code: 0, signal: null }, report(migrate));

    const workers = FROM.map((from, i) => startChild(`worker ${'AB'[i]}`, 'worker', { ...env, SMS_FROM: from }));
    started.push(...workers);
    // Both poll before anything is queued, so neither gets a head start.
    await Promise.all(workers.map((w) => waitForLog(w, 'delivery worker running')));

    await client.query(
      `INSERT INTO messages (channel, recipient, purpose, body_text, otp, next_attempt_at, created_at, updated_at)
       SELECT 'sms', '+2782' || (1000000 + g)::text, 'phone_verification',
              'Your Panic System code is ' || lpad(g::text, 6, '0'), lpad(g::text, 6, '0'), now(), now(), now()
       FROM generate_series(1, $1::int) AS g`,
      [COUNT],
    );

    const pending = async () =>
      Number(
        (await client.query(`SELECT count(*)::int AS n FROM messages WHERE status IN ('queued', 'sending')`)).rows[0].n,
      );
    await waitUntil(async () => (await pending()) === 0, {
      timeoutMs: 180_000,
      intervalMs: 250,
      what: 'every message to leave the queue',
    }).catch(async (err) => {
      throw new Error(
        `${(err as Error).message} (${await pending()} pending, ${sms.requests} requests)${report(...workers)}`,
      );
    });

    // SIGTERM waits for sends in flight, so a duplicate send could not still be on its way.
    for (const w of workers) w.proc.kill('SIGTERM');
    for (const w of workers) assert.deepEqual(await exitOf(w, 60_000), { code: 0, signal: null }, report(w));

    assert.equal(sms.requests, COUNT, 'one POST per message');
    assert.equal(sms.messages.length, COUNT);
    assert.equal(new Set(sms.messages.map((m) => m.to)).size, COUNT, 'every recipient once');
    const rows = await client.query<{ status: string; attempts: number; n: number }>(
      `SELECT status, attempts, count(*)::int AS n FROM messages GROUP BY status, attempts`,
    );
    assert.deepEqual(rows.rows, [{ status: 'sent', attempts: 1, n: COUNT }]);

    // Each worker logs a line per message it sent: together all of them, each some of them.
    const sentBy = workers.map((w) => w.logLines().filter((l) => l.msg === 'message sent').length);
    t.diagnostic(`sent by worker A: ${sentBy[0]}, by worker B: ${sentBy[1]}`);
    assert.equal(sentBy[0] + sentBy[1], COUNT);
    assert.deepEqual(
      sentBy,
      FROM.map((from) => sms.messages.filter((m) => m.from === from).length),
      'what each worker logged is what arrived from its number',
    );
    assert.ok(sentBy[0] > 0 && sentBy[1] > 0, `both workers sent some (A ${sentBy[0]}, B ${sentBy[1]})`);
  });
});
