/**
 * Outages of PostgreSQL and Redis, made real with a TCP proxy between the service and each server
 * (test/support/fault-proxy.ts): connections reset, or a blackhole that swallows every byte. During
 * one, every request answers quickly (503 for the database, in-memory limits for Redis); after it,
 * the service is back by itself; at no point does the process see an uncaught error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { ConfigError, loadConfig } from '../src/config/settings.ts';
import { isDatabaseUnavailable } from '../src/platform/db/unavailable.ts';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.ts';
import { PG_ADMIN_URL, pgAvailable } from './support/pg.ts';
import { skipUnlessRedis } from './support/redis.ts';
import { randomPerson, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { waitUntil } from './support/wait.ts';

/**
 * An unhandled 'error' event would kill this process (the stack runs in it): count them instead,
 * for the whole file (node:test reports one from a stack started in a before hook only as a warning).
 */
const uncaught: unknown[] = [];
const countUncaught = (err: unknown) => uncaught.push(err);
process.on('uncaughtException', countUncaught);
process.on('unhandledRejection', countUncaught);
const assertNoUncaught = () =>
  assert.deepEqual(
    uncaught.map((e) => String((e as Error)?.stack ?? e)),
    [],
    'no uncaught exception or rejection',
  );

/** How long each fault lasts: a few seconds, enough for several rounds of requests. */
const OUTAGE_MS = 3000;
/** A request still unanswered after this counts as hung (and the test goes on). */
const HUNG_MS = OUTAGE_MS + 1500;

interface Answer {
  what: string;
  status: number | 'hung';
  code?: string;
  retryAfter: string | null;
  ms: number;
}

async function timedCall(
  stack: Stack,
  method: string,
  path: string,
  opts: { body?: unknown; ip?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.ip) headers['x-forwarded-for'] = opts.ip;
  const what = `${method} ${path}`;
  const started = performance.now();
  try {
    const res = await fetch(`${stack.baseUrl}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(HUNG_MS),
    });
    const text = await res.text();
    const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    return {
      what,
      status: res.status,
      code,
      retryAfter: res.headers.get('retry-after'),
      ms: performance.now() - started,
    };
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError') throw err;
    return { what, status: 'hung', retryAfter: null, ms: performance.now() - started };
  }
}

/** Runs `round` (some requests) again and again for OUTAGE_MS, at most `maxRounds` times. */
async function duringOutage(round: () => Promise<Answer[]>, maxRounds: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  const end = Date.now() + OUTAGE_MS;
  for (let i = 0; i < maxRounds && (i === 0 || Date.now() < end); i++) {
    answers.push(...(await round()));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const left = end - Date.now();
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  return answers;
}

const summary = (answers: Answer[]) =>
  answers.map((a) => `${a.what} ${a.status} ${a.code ?? ''} ${Math.round(a.ms)} ms`).join('\n');
/** e.g. "33 answers (503 service_unavailable ×22, 503 not_ready ×11), slowest 1012 ms", for the log. */
function figures(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const kind = `${a.status} ${a.code ?? ''}`.trim();
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const kinds = [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
  return `${answers.length} answers (${kinds}), slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms`;
}

describe('DB_QUERY_TIMEOUT_MS', () => {
  it('defaults to 5000 ms and refuses what is not a sensible number of milliseconds', () => {
    assert.equal(loadConfig({}).DB_QUERY_TIMEOUT_MS, 5000);
    assert.equal(loadConfig({ DB_QUERY_TIMEOUT_MS: '1000' }).DB_QUERY_TIMEOUT_MS, 1000);
    for (const bad of ['0', '-1', 'soon', '1.5', '99999999']) {
      assert.throws(
        () => loadConfig({ DB_QUERY_TIMEOUT_MS: bad }),
        (err: Error) => err instanceof ConfigError && /DB_QUERY_TIMEOUT_MS/.test(err.message),
        bad,
      );
    }
  });
});

const QUERY_TIMEOUT_MS = 1000;
/**
 * A request waits for one connection or one query at most; the margin is its own work (register
 * hashes the password first) on a busy machine.
 */
const DB_BOUND_MS = QUERY_TIMEOUT_MS + 1000;

const pgSkip = (await pgAvailable()) ? false : `PostgreSQL does not answer at ${PG_ADMIN_URL}`;

/** One service through one proxy for every fault: it must come through each of them, one after another. */
describe('PostgreSQL outages (through a fault proxy)', { skip: pgSkip, timeout: 240_000 }, () => {
  let proxy: FaultProxy;
  let stack: Stack;
  let known: Awaited<ReturnType<typeof verifiedLogin>>;
  before(async () => {
    proxy = await startFaultProxy(Number(new URL(PG_ADMIN_URL).port || 5432));
    stack = await startStack({
      db: 'postgres',
      databaseUrl: proxy.via,
      env: { DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) },
    });
    known = await verifiedLogin(stack, 'pg-outage');
  });
  after(async () => {
    // Whatever happened, end every connection through the proxy so nothing hangs on a dead one.
    proxy?.setMode('reset');
    proxy?.setMode('pass');
    await stack?.close();
    await proxy?.close();
  });

  for (const mode of ['reset', 'blackhole'] as const) {
    it(`${mode}: every request answers 503 service_unavailable within the query timeout, then the service recovers by itself`, {
      timeout: 60_000,
    }, async () => {
      const logsBefore = stack.logs.length;
      // A query in flight when the connection goes: its client is checked out, out of the pool's care.
      const inFlight = sql`SELECT pg_sleep(2)`.execute(stack.runtime.handle.db).then(
        () => assert.fail('a query in flight answered through the outage'),
        (err: Error) => ({ err, at: performance.now() }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      let answers: Answer[];
      let outageStart = 0;
      try {
        proxy.setMode(mode);
        outageStart = performance.now();
        answers = await duringOutage(
          () =>
            Promise.all([
              timedCall(stack, 'POST', '/api/v1/auth/register', { body: randomPerson(`pg-${mode}`) }),
              timedCall(stack, 'POST', '/api/v1/auth/login', {
                body: { email: known.person.email, password: known.person.password },
              }),
              timedCall(stack, 'GET', '/health/ready'),
            ]),
          20,
        );
      } finally {
        proxy.setMode('pass');
      }

      console.log(`PostgreSQL ${mode}: ${figures(answers)}`);
      const lost = await inFlight;
      assert.ok(isDatabaseUnavailable(lost.err), `the query in flight failed as an outage: ${lost.err.message}`);
      assert.ok(lost.at - outageStart < DB_BOUND_MS, `the query in flight failed within ${DB_BOUND_MS} ms`);
      for (const a of answers.filter((a) => a.what !== 'GET /health/ready')) {
        assert.ok(
          a.status === 503 && a.code === 'service_unavailable' && a.retryAfter === '5',
          `503 service_unavailable with Retry-After:\n${summary(answers)}`,
        );
      }
      for (const a of answers.filter((a) => a.what === 'GET /health/ready')) {
        assert.ok(
          a.status === 503 && a.code === 'not_ready',
          `/health/ready 503 during the outage:\n${summary(answers)}`,
        );
      }
      assert.ok(
        answers.every((a) => a.ms < DB_BOUND_MS),
        `every answer within ${DB_BOUND_MS} ms:\n${summary(answers)}`,
      );
      const logs = stack.logs.slice(logsBefore);
      assert.ok(
        logs.some((l) => l.includes('"level":40') && l.includes('the database does not answer')),
        'the outage is in the log as warnings',
      );

      await waitUntil(async () => (await timedCall(stack, 'GET', '/health/ready')).status === 200, {
        timeoutMs: 10_000,
        what: '/health/ready 200 after the outage',
      });
      // Register, the worker emailing the code, verify and login: the whole flow, without a restart.
      await verifiedLogin(stack, `pg-${mode}-after`);
      assertNoUncaught();
    });
  }
});

const REDIS_URL = 'redis://127.0.0.1:6379';
/** The Redis command timeout (200 ms), and the machine being busy (other tests run on it too). */
const REDIS_BOUND_MS = 200 + 800;
const IP_LIMIT = 5;
const randomIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
/** Where the IP limiter counts the requests to unmatched routes from `ip`. */
const ipKey = (ip: string) => `panic:ip:unmatched:${ip}`;

const redisSkip = await skipUnlessRedis();

describe('Redis outages (through a fault proxy)', { skip: redisSkip, timeout: 240_000 }, () => {
  let proxy: FaultProxy;
  let stack: Stack;
  /** Straight to Redis, to see where the limits are counted. */
  let direct: Redis;
  const miss = (ip: string) => timedCall(stack, 'GET', '/no-such-page', { ip });
  before(async () => {
    proxy = await startFaultProxy(6379);
    direct = new Redis(REDIS_URL, { lazyConnect: true });
    await direct.connect();
    stack = await startStack({
      env: { REDIS_URL: proxy.via(REDIS_URL), TRUST_PROXY: 'true', RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT) },
    });
    const ip = randomIp();
    assert.equal((await miss(ip)).status, 404);
    assert.equal(await direct.get(ipKey(ip)), '1', 'counted in Redis before the outages');
  });
  after(async () => {
    proxy?.setMode('reset');
    proxy?.setMode('pass');
    await stack?.close();
    await proxy?.close();
    direct?.disconnect();
  });

  for (const mode of ['blackhole', 'reset'] as const) {
    it(`${mode}: limits are counted in memory without waiting on Redis, and go back to Redis by themselves`, {
      timeout: 60_000,
    }, async () => {
      const logsBefore = stack.logs.length;
      const ips: string[] = [];
      let answers: Answer[];
      try {
        proxy.setMode(mode);
        // Each round: a fresh address spends its whole budget, and one more is refused.
        answers = await duringOutage(async () => {
          const ip = randomIp();
          ips.push(ip);
          const round: Answer[] = [];
          for (let i = 0; i <= IP_LIMIT; i++) round.push(await miss(ip));
          return round;
        }, 15);
      } finally {
        proxy.setMode('pass');
      }

      console.log(`Redis ${mode}: ${figures(answers)}`);
      assert.ok(
        answers.every((a) => a.ms < REDIS_BOUND_MS),
        `every answer within ${REDIS_BOUND_MS} ms:\n${summary(answers)}`,
      );
      for (let r = 0; r < answers.length; r += IP_LIMIT + 1) {
        assert.deepEqual(
          answers.slice(r, r + IP_LIMIT + 1).map((a) => a.status),
          [...Array(IP_LIMIT).fill(404), 429],
          `limits still counted (in memory) during the outage:\n${summary(answers)}`,
        );
      }
      for (const ip of ips) assert.equal(await direct.exists(ipKey(ip)), 0, 'nothing reached Redis during the outage');

      // Back: a fresh address is counted in Redis again, without a restart.
      await waitUntil(
        async () => {
          const ip = randomIp();
          await miss(ip);
          return (await direct.get(ipKey(ip))) === '1';
        },
        { timeoutMs: 10_000, intervalMs: 200, what: 'limits counted in Redis again' },
      );
      // A line when Redis is lost and one when it is back, not one per reconnect attempt (a busy
      // machine may drop the connection once more on its own).
      const lines = stack.logs.slice(logsBefore).filter((l) => l.includes('"msg":"Redis'));
      assert.ok(
        stack.logs.some((l) => l.includes('"level":40') && l.includes('Redis is not answering')),
        'a warning when Redis is lost',
      );
      assert.ok(
        lines.length <= 4 && /Redis is back/.test(lines.at(-1) ?? ''),
        `a line when it is back, and few in all:\n${lines.join('')}`,
      );
      assertNoUncaught();
    });
  }
});
