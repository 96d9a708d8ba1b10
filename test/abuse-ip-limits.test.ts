import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes, randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { ConfigError, loadConfig } from '../src/config/settings.ts';
import { databaseKinds, person, startStack, type Stack } from './support/stack.ts';
import { skipUnlessRedis } from './support/redis.ts';

// The attacks of issue 7, items 1 (path respelling), 2 (forged X-Forwarded-For), 8 (hash flood) and
// 11 (slow bodies), each with a count of what got through.

const IP_BUDGET = 5;
const EXPENSIVE_BUDGET = 3;
const LIMITS = {
  RATE_LIMIT_IP_PER_MINUTE: String(IP_BUDGET),
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: String(EXPENSIVE_BUDGET),
};

// Client addresses are random so that Redis counters of an earlier run (kept 60 s) never meet this one's.
const hex16 = () => randomInt(0, 0x10000).toString(16);
const randomV4 = () => `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
// (The fourth group stays below ffff so that the neighbouring /64 exists.)
const randomV6Prefix = () => `2001:db8:${hex16()}:${randomInt(0, 0xffff).toString(16)}`;

interface Answer {
  status: number;
  code?: string;
  retryAfter: string | null;
  text: string;
}

function answerOf(status: number, text: string, retryAfter: string | null | undefined): Answer {
  let code: string | undefined;
  try {
    code = JSON.parse(text)?.error?.code;
  } catch {
    // not JSON
  }
  return { status, code, retryAfter: retryAfter ?? null, text };
}

/** A request through fetch, with X-Forwarded-For when given ('' sends the header empty). */
async function send(
  stack: Stack,
  method: string,
  path: string,
  opts: { xff?: string; body?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.xff !== undefined) headers['x-forwarded-for'] = opts.xff;
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return answerOf(res.status, await res.text(), res.headers.get('retry-after'));
}

const portOf = (stack: Stack) => Number(new URL(stack.baseUrl).port);

/** One request written by hand on a fresh socket (for request lines fetch will not write). */
function raw(stack: Stack, requestLine: string, opts: { xff?: string; body?: unknown } = {}): Promise<Answer> {
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body);
  const head = [
    requestLine,
    'Host: x',
    'Connection: close',
    ...(body ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`] : []),
    ...(opts.xff !== undefined ? [`X-Forwarded-For: ${opts.xff}`] : []),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(portOf(stack), '127.0.0.1', () => socket.write(`${head.join('\r\n')}\r\n\r\n${body}`));
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${requestLine}`)));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const status = Number(text.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
      const retryAfter = text.match(/\r\nretry-after: *(\S+)/i)?.[1] ?? null;
      resolve(answerOf(status, text.slice(text.indexOf('\r\n\r\n') + 4), retryAfter));
    });
  });
}

/** Answers that were not refused by a limit; every refusal must be a proper 429 rate_limited with Retry-After. */
function through(answers: Answer[]): Answer[] {
  for (const a of answers.filter((x) => x.status === 429)) {
    assert.equal(a.code, 'rate_limited', a.text);
    const retry = Number(a.retryAfter);
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After: ${a.retryAfter}`);
  }
  return answers.filter((a) => a.status !== 429);
}

const junkRefresh = { refresh_token: 'not-a-refresh-token-but-long-enough-to-pass-the-schema' };

/** Requests over node:http with keep-alive (lighter than fetch, so the flood is the server's load, not the client's). */
function httpCall(
  stack: Stack,
  agent: http.Agent,
  method: string,
  path: string,
  body?: unknown,
  xff?: string,
): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: portOf(stack),
        method,
        path,
        agent,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...(xff ? { 'x-forwarded-for': xff } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve(answerOf(res.statusCode ?? 0, text, res.headers['retry-after'] as string | undefined)),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** p50 of n sequential GET /health, one every 10 ms, so the sample spans the flood rather than a burst of it. */
async function healthP50(stack: Stack, agent: http.Agent, n = 30): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const t0 = performance.now();
    const res = await httpCall(stack, agent, 'GET', '/health');
    times.push(performance.now() - t0);
    assert.equal(res.status, 200, res.text);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}

/**
 * /health p50 while `attackers` attackers each send their next request as soon as the last is answered
 * (as a load tool does; bounded at 2000 each), and every answer they got, with the time it took.
 */
async function p50BesideFlood(
  stack: Stack,
  probe: http.Agent,
  attackers: number,
  request: (i: number) => Promise<Answer>,
) {
  let stop = false;
  let sent = 0;
  const flood = Array.from({ length: attackers }, async () => {
    const answers: Array<Answer & { ms: number }> = [];
    for (let i = 0; i < 2000 && !stop; i++) {
      const started = performance.now();
      const answer = await request(sent++).catch((err: Error) => answerOf(0, `request failed: ${err.message}`, null));
      answers.push({ ...answer, ms: performance.now() - started });
    }
    return answers;
  });
  let p50: number;
  try {
    p50 = await healthP50(stack, probe);
  } finally {
    stop = true;
  }
  return { p50, answers: (await Promise.all(flood)).flat() };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Measured on the 2-core development machine with other test runs beside it (this test, 10 runs): with
// PASSWORD_HASH_CONCURRENCY=1, /health p50 beside the login flood of 20 attackers was 42-150x its idle p50
// on PGlite and 13-36x on PostgreSQL; the bounds are 1.6x and 2x the worst seen. Most of it is what any
// flood of 20 connections costs: the same attackers sending junk refresh tokens (no hashing) slowed /health
// about as much on PGlite. Without the gate (concurrency 1024) it was 90-172x on PGlite and 8-35x on
// PostgreSQL: on this machine (libuv hashes at most 4 at once anyway) the ratio does not tell the gate's
// absence apart, the 503 assertions do. With the gate shedding by time (issue 19) the flood needs 60
// attackers and REQUEST_TIMEOUT_SECONDS=1 to pass the time (FLOOD_ATTACKERS); beside them (8 runs, other
// engineers' work loading the machine to 4-7) it was 38-130x on PGlite and 24-64x on PostgreSQL, where
// the old flood of 20 gave 20-28x beside the same load: closer to the bounds, which stay.
const IDLE_RATIO_BOUND = { pglite: 240, postgres: 75 };

/**
 * The hash flood's stack has REQUEST_TIMEOUT_SECONDS=1, the shortest, so that a line past it takes the
 * fewest connections: a login waits while its expected wait fits in 0.75 s, about 37 logins at 20 ms a
 * hash and PASSWORD_HASH_CONCURRENCY=1. 60 attackers always in flight keep a line of 1.2 s or more
 * (more on a slower or busier machine): past the timeout itself, past twice the wait let in (the old
 * gate shed past 4 in line). The rest of them churn through 503s, and more attackers would measure
 * what their connections cost /health (about in proportion to their number), not the hashes.
 */
const FLOOD_ATTACKERS = 60;

interface SuiteOptions {
  /** Junk X-Forwarded-For falls back to the socket peer (127.0.0.1): not with Redis, whose counters outlive a run. */
  junk: boolean;
  slowBody: boolean;
}

/** Items 1, 2 and 11 against a stack behind a trusted "proxy" (the socket peer 127.0.0.1). */
function ipBudgetSuite(
  label: string,
  stackEnv: Record<string, string>,
  db: 'pglite' | 'postgres',
  opts: SuiteOptions,
  skip: string | false = false,
) {
  describe(`abuse behind a trusted proxy: respelled paths, aliases, forged X-Forwarded-For, floods (${label})`, () => {
    let stack: Stack;
    before(async () => {
      if (skip) return;
      stack = await startStack({ db, env: { ...LIMITS, ...stackEnv } });
    });
    after(() => stack?.close());

    it(`the percent-encoded path and an absolute URL in the request line spend the plain path's 'auth' budget: ${IP_BUDGET} of 20 get through`, {
      skip,
    }, async () => {
      const xff = randomV4();
      const spellings: Array<() => Promise<Answer>> = [
        () => send(stack, 'POST', '/api/v1/auth/refresh', { xff, body: junkRefresh }),
        () => send(stack, 'POST', '/api/v1/%61uth/refresh', { xff, body: junkRefresh }),
        () => raw(stack, 'POST http://x/api/v1/auth/refresh HTTP/1.1', { xff, body: junkRefresh }),
        () => raw(stack, 'POST http://x/api/v1/%61uth/%72efresh HTTP/1.1', { xff, body: junkRefresh }),
      ];
      const answers: Answer[] = [];
      for (let i = 0; i < 20; i++) answers.push(await spellings[i % spellings.length]());
      const passed = through(answers);
      // Each spelling reached the refresh route (not a 404), so each is a real attempt at it.
      for (const a of passed) assert.deepEqual([a.status, a.code], [401, 'invalid_refresh_token'], a.text);
      assert.equal(passed.length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
      assert.deepEqual(
        answers.slice(0, 4).map((a) => a.status),
        [401, 401, 401, 401],
        'every spelling routes to /auth/refresh',
      );
    });

    it("the /users/register and /users/me aliases spend the 'auth' budget, not the 'users' one", { skip }, async () => {
      const xff = randomV4();
      const register = () => send(stack, 'POST', '/api/v1/users/register', { xff, body: person('alias') });
      const me = () => send(stack, 'GET', '/api/v1/users/me', { xff });
      const refresh = () => send(stack, 'POST', '/api/v1/auth/refresh', { xff, body: junkRefresh });
      const answers: Answer[] = [];
      for (const call of [me, register, me, register, me, refresh, me, register, refresh]) answers.push(await call());
      assert.deepEqual(
        answers.slice(0, 5).map((a) => a.status),
        [401, 200, 401, 200, 401],
        answers.map((a) => a.text).join('\n'),
      );
      assert.equal(through(answers).length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
      // The 'users' family still has its own budget for this client.
      const users = await send(stack, 'POST', '/api/v1/users/verify-phone', { xff, body: {} });
      assert.equal(users.status, 401, users.text);
    });

    it(`unmatched paths share one bucket of their own (${IP_BUDGET} of 20 answered) and do not spend 'auth'`, {
      skip,
    }, async () => {
      const xff = randomV4();
      const paths = (i: number) =>
        [
          `/api/v1/auth/nope-${i}`,
          `/api/v1/probe${i}/x`,
          `/wp-login.php?${i}`,
          '/API/v1/auth/refresh',
          '/api/v1/auth/refresh/',
        ][i % 5];
      const answers: Answer[] = [];
      for (let i = 0; i < 20; i++) answers.push(await send(stack, 'POST', paths(i), { xff, body: junkRefresh }));
      const passed = through(answers);
      for (const a of passed) assert.deepEqual([a.status, a.code], [404, 'not_found'], a.text);
      assert.equal(passed.length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
      // The 'auth' budget is whole: the 404s did not spend it.
      const auth: Answer[] = [];
      for (let i = 0; i < IP_BUDGET + 1; i++)
        auth.push(await send(stack, 'POST', '/api/v1/auth/refresh', { xff, body: junkRefresh }));
      assert.deepEqual(
        auth.map((a) => a.status),
        [...Array(IP_BUDGET).fill(401), 429],
      );
      through(auth);
    });

    // /health/ready's own budget (it costs two queries) is test/abuse-small-levers.test.ts.
    it('/health is never limited, and /health/ready spends a budget of its own, even for a client whose other budgets are spent', {
      skip,
    }, async () => {
      const xff = randomV4();
      const refused: Answer[] = [];
      for (let i = 0; i < IP_BUDGET + 3; i++)
        refused.push(await send(stack, 'POST', '/api/v1/auth/refresh', { xff, body: junkRefresh }));
      assert.equal(through(refused).length, IP_BUDGET);
      for (let i = 0; i < 30; i++) {
        const path = i % 10 === 9 ? '/health/ready' : '/health';
        const res = await send(stack, 'GET', path, { xff });
        assert.equal(res.status, 200, `${path}: ${res.text}`);
      }
    });

    it(`RATE_LIMIT_EXPENSIVE_PER_MINUTE=${EXPENSIVE_BUDGET}: register, login, reset-password, verify-unlock-otp and the register alias together get ${EXPENSIVE_BUDGET} through per IP; resend-verification is not counted in it`, {
      skip,
    }, async () => {
      const expensive = (xff: string) => [
        () => send(stack, 'POST', '/api/v1/auth/register', { xff, body: person('exp') }),
        () =>
          send(stack, 'POST', '/api/v1/auth/login', {
            xff,
            body: { email: person('exp').email, password: 'whatever it is' },
          }),
        () =>
          send(stack, 'POST', '/api/v1/auth/reset-password', {
            xff,
            body: { email: person('exp').email, otp: '123456', new_password: 'a new long secret' },
          }),
        () =>
          send(stack, 'POST', '/api/v1/auth/verify-unlock-otp', {
            xff,
            body: { identifier: person('exp').email, otp: '123456' },
          }),
        () => send(stack, 'POST', '/api/v1/users/register', { xff, body: person('exp') }),
      ];
      const resend = (xff: string) =>
        send(stack, 'POST', '/api/v1/auth/resend-verification', { xff, body: { email: person('cheap').email } });

      // 12 expensive requests, every kind: 3 get through though the per-family budget allows 5.
      const a = randomV4();
      const flood: Answer[] = [];
      for (let i = 0; i < 12; i++) flood.push(await expensive(a)[i % 5]());
      const passed = through(flood);
      assert.equal(passed.length, EXPENSIVE_BUDGET, `answers: ${flood.map((x) => x.status).join(' ')}`);
      assert.deepEqual(
        passed.map((x) => x.status),
        [201, 401, 400],
        passed.map((x) => x.text).join('\n'),
      );

      // Cheap requests first do not shrink the expensive budget.
      const b = randomV4();
      assert.deepEqual([(await resend(b)).status, (await resend(b)).status], [200, 200]);
      const afterCheap: Answer[] = [];
      for (let i = 0; i < 4; i++) afterCheap.push(await expensive(b)[(i + 1) % 5]());
      assert.equal(
        through(afterCheap).length,
        EXPENSIVE_BUDGET,
        `answers: ${afterCheap.map((x) => x.status).join(' ')}`,
      );

      // And a client whose expensive budget is spent still gets a cheap request through.
      const c = randomV4();
      const spent: Answer[] = [];
      for (let i = 0; i < EXPENSIVE_BUDGET + 1; i++) spent.push(await expensive(c)[(i + 2) % 5]());
      assert.equal(through(spent).length, EXPENSIVE_BUDGET);
      const cheap = await resend(c);
      assert.equal(cheap.status, 200, cheap.text);
    });

    it(`distinct client addresses in X-Forwarded-For get distinct budgets; forged entries left of the client's do not (${IP_BUDGET} of 20)`, {
      skip,
    }, async () => {
      const clients = [randomV4(), randomV4(), randomV4(), randomV4()];
      for (const xff of clients) {
        const answers: Answer[] = [];
        for (let i = 0; i < IP_BUDGET + 2; i++)
          answers.push(await send(stack, 'POST', '/api/v1/auth/refresh', { xff, body: junkRefresh }));
        assert.equal(through(answers).length, IP_BUDGET, `${xff}: ${answers.map((a) => a.status).join(' ')}`);
      }
      // The attacker writes a fresh address in front of its own on every request: the proxy appends
      // the real one on the right, and only that one counts.
      const real = randomV4();
      const forged: Answer[] = [];
      for (let i = 0; i < 20; i++)
        forged.push(
          await send(stack, 'POST', '/api/v1/auth/refresh', { xff: `${randomV4()}, ${real}`, body: junkRefresh }),
        );
      assert.equal(through(forged).length, IP_BUDGET, `answers: ${forged.map((a) => a.status).join(' ')}`);
    });

    it(`IPv6 clients count per /64 (${IP_BUDGET} of 20 from two addresses of one /64), and IPv4-mapped IPv6 counts as the IPv4 address`, {
      skip,
    }, async () => {
      const prefix = randomV6Prefix();
      const sameNet = [`${prefix}::1`, `${prefix}:ffff::9`, `${prefix}:1234:5678:9abc:def0`];
      const answers: Answer[] = [];
      for (let i = 0; i < 20; i++)
        answers.push(await send(stack, 'POST', '/api/v1/auth/refresh', { xff: sameNet[i % 3], body: junkRefresh }));
      assert.equal(through(answers).length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
      // The neighbouring /64 is another subscriber with its own budget.
      const [g1, g2, g3, g4] = prefix.split(':').slice(0, 4);
      const neighbour = `${g1}:${g2}:${g3}:${(parseInt(g4, 16) + 1).toString(16)}::1`;
      assert.equal(
        (await send(stack, 'POST', '/api/v1/auth/refresh', { xff: neighbour, body: junkRefresh })).status,
        401,
      );

      const v4 = randomV4();
      const mapped: Answer[] = [];
      for (let i = 0; i < 10; i++)
        mapped.push(
          await send(stack, 'POST', '/api/v1/auth/refresh', { xff: i % 2 ? v4 : `::ffff:${v4}`, body: junkRefresh }),
        );
      assert.equal(through(mapped).length, IP_BUDGET, `answers: ${mapped.map((a) => a.status).join(' ')}`);
    });

    if (opts.junk) {
      it(`X-Forwarded-For values that are not addresses fall back to the socket peer's budget: ${IP_BUDGET} of 20 get through`, {
        skip,
      }, async () => {
        const junk = (i: number) =>
          [
            'not-an-ip',
            '',
            'unknown',
            `junk-${i}`,
            '999.1.1.1',
            '1.2.3.4.5',
            'fe80::zz',
            `_${randomBytes(4).toString('hex')}`,
          ][i % 8];
        const answers: Answer[] = [];
        for (let i = 0; i < 20; i++)
          answers.push(await send(stack, 'POST', '/api/v1/auth/refresh', { xff: junk(i), body: junkRefresh }));
        assert.equal(through(answers).length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
        // It was the peer's own budget: a request without the header is refused too.
        const plain = await send(stack, 'POST', '/api/v1/auth/refresh', { body: junkRefresh });
        assert.equal(plain.status, 429, plain.text);
      });
    }

    if (opts.slowBody) {
      it('REQUEST_TIMEOUT_SECONDS=2: a body trickled a byte every 500 ms loses its connection within 3.5 s; the next client is served', {
        skip,
      }, async () => {
        const xff = randomV4();
        const started = Date.now();
        const socket = connect(portOf(stack), '127.0.0.1');
        let answer = '';
        let sent = 0;
        const closed = new Promise<{ at: number; how: string }>((resolve) => {
          socket.on('data', (d) => (answer += d));
          socket.on('error', (err) => resolve({ at: Date.now(), how: `error ${(err as NodeJS.ErrnoException).code}` }));
          socket.on('close', () => resolve({ at: Date.now(), how: 'close' }));
        });
        socket.write(
          `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Forwarded-For: ${xff}\r\n\r\n`,
        );
        // Time is the subject here: one byte every 500 ms, for at most 6 s (then the test gives up).
        const trickle = setInterval(() => {
          if (socket.destroyed || Date.now() - started > 6000) return void socket.destroy();
          socket.write('{"email":"slow@example.test","password":"x"}'.charAt(sent++) || ' ');
        }, 500);
        const end = await closed;
        clearInterval(trickle);
        const elapsed = end.at - started;
        assert.ok(elapsed <= 3500, `the connection was still open after ${elapsed} ms (${sent} bytes trickled)`);
        // Closed by the timeout, not refused at once.
        assert.ok(elapsed >= 1900, `closed after only ${elapsed} ms (${end.how}): ${answer}`);
        assert.ok(answer === '' || /^HTTP\/1\.1 408 /.test(answer), `answer: ${answer}`);

        const next = await send(stack, 'POST', '/api/v1/auth/login', {
          xff: randomV4(),
          body: { email: person('after').email, password: 'whatever it is' },
        });
        assert.deepEqual([next.status, next.code], [401, 'invalid_credentials'], next.text);
      });
    }
  });
}

const kinds = await databaseKinds();
// Stacks whose behaviour never touches the database run on the quicker one at hand.
const quickDb = kinds.includes('postgres') ? 'postgres' : 'pglite';
const redisSkip = await skipUnlessRedis();

for (const db of kinds) {
  ipBudgetSuite(`TRUST_PROXY=1, ${db}`, { TRUST_PROXY: '1', REQUEST_TIMEOUT_SECONDS: '2' }, db, {
    junk: true,
    slowBody: db === kinds[0],
  });
}
ipBudgetSuite(
  `TRUST_PROXY=127.0.0.1, Redis`,
  { TRUST_PROXY: '127.0.0.1', REDIS_URL: 'redis://127.0.0.1:6379' },
  quickDb,
  { junk: false, slowBody: false },
  redisSkip,
);

for (const db of kinds) {
  describe(`item 8, a hash flood (TRUST_PROXY=1, ${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        db,
        env: { ...LIMITS, TRUST_PROXY: '1', REQUEST_TIMEOUT_SECONDS: '1', PASSWORD_HASH_CONCURRENCY: '1' },
      });
    });
    after(() => stack?.close());

    it(`a hash flood past the time REQUEST_TIMEOUT_SECONDS=1 leaves, by ${FLOOD_ATTACKERS} concurrent attackers (a fresh forged address per login): past PASSWORD_HASH_CONCURRENCY=1 logins answer 503 with Retry-After at once, never 500; /health p50 stays under ${IDLE_RATIO_BOUND[db]}x its idle p50`, async (t) => {
      const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const attacker = new http.Agent({ keepAlive: true, maxSockets: FLOOD_ATTACKERS });
      try {
        // A botnet: every login from another address, so the per-IP budgets never stop it.
        const login = (i: number) =>
          httpCall(
            stack,
            attacker,
            'POST',
            '/api/v1/auth/login',
            { email: `nobody.${randomBytes(6).toString('hex')}.${i}@example.test`, password: 'whatever it is' },
            randomV4(),
          );
        // Warm up: connections, the decoy hash of unknown addresses, the JIT.
        assert.equal((await login(0)).status, 401);
        for (let i = 0; i < 10; i++) await httpCall(stack, probe, 'GET', '/health');

        const idle = await healthP50(stack, probe);
        const flood = await p50BesideFlood(stack, probe, FLOOD_ATTACKERS, login);
        const count = (s: number) => flood.answers.filter((a) => a.status === s).length;
        const ratio = flood.p50 / idle;
        const waited = median(flood.answers.filter((a) => a.status === 401).map((a) => a.ms));
        const refused = median(flood.answers.filter((a) => a.status === 503).map((a) => a.ms));
        t.diagnostic(
          `/health p50 idle ${idle.toFixed(2)} ms, beside ${flood.answers.length} logins (${count(401)}x401 ${count(503)}x503) ${flood.p50.toFixed(2)} ms: ${ratio.toFixed(1)}x; login p50 ${waited?.toFixed(0)} ms when checked, ${refused?.toFixed(0)} ms when refused`,
        );

        assert.deepEqual(
          flood.answers.filter((a) => a.status !== 401 && a.status !== 503).map((a) => `${a.status} ${a.text}`),
          [],
        );
        assert.ok(count(401) > 0, 'no login was checked');
        assert.ok(count(503) > 0, `no login was shed: ${count(401)}x401`);
        for (const a of flood.answers.filter((x) => x.status === 503)) {
          assert.equal(a.code, 'service_unavailable', a.text);
          const retry = Number(a.retryAfter);
          assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After: ${a.retryAfter}`);
        }
        // At once: a refused login does not wait in the line that a checked one waits in.
        assert.ok(
          refused < waited / 2,
          `a refused login took ${refused.toFixed(0)} ms (p50), a checked one ${waited.toFixed(0)} ms`,
        );
        assert.ok(
          ratio < IDLE_RATIO_BOUND[db],
          `/health p50 beside the logins ${flood.p50.toFixed(2)} ms is ${ratio.toFixed(1)}x the idle ${idle.toFixed(2)} ms`,
        );
      } finally {
        probe.destroy();
        attacker.destroy();
      }
    });
  });
}

/**
 * Sign-ups at once past PASSWORD_HASH_CONCURRENCY=1, with the default REQUEST_TIMEOUT_SECONDS (10): their
 * line (20 × two hashes, under a second here, 6 s on a machine 7 times slower) fits in its three
 * quarters, where the old gate held four in line and refused the rest.
 */
const CROWD = 20;

describe(`a crowd is served, not shed (${quickDb})`, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ db: quickDb, env: { ...LIMITS, TRUST_PROXY: '1', PASSWORD_HASH_CONCURRENCY: '1' } });
  });
  after(() => stack?.close());

  it(`${CROWD} sign-ups at once past PASSWORD_HASH_CONCURRENCY=1 all answer 201`, async () => {
    // Each from its own forged address, so that only the hash gate could refuse one.
    const answers = await Promise.all(
      Array.from({ length: CROWD }, () =>
        send(stack, 'POST', '/api/v1/auth/register', { xff: randomV4(), body: person('crowd') }),
      ),
    );
    assert.deepEqual(
      answers.filter((a) => a.status !== 201).map((a) => `${a.status} ${a.text}`),
      [],
    );
  });
});

describe(`TRUST_PROXY unset, and a proxy list, against forged X-Forwarded-For (${quickDb})`, () => {
  let unset: Stack;
  let list: Stack;
  before(async () => {
    // One after the other, so that a stack that fails to start never leaves the other running.
    unset = await startStack({ db: quickDb, env: { ...LIMITS } });
    list = await startStack({ db: quickDb, env: { ...LIMITS, TRUST_PROXY: '127.0.0.1' } });
  });
  after(() => Promise.all([unset?.close(), list?.close()]));

  it(`TRUST_PROXY unset: 20 requests each forging a fresh X-Forwarded-For share one budget (${IP_BUDGET} get through)`, async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++)
      answers.push(await send(unset, 'POST', '/api/v1/auth/refresh', { xff: randomV4(), body: junkRefresh }));
    assert.equal(through(answers).length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
  });

  it(`TRUST_PROXY=127.0.0.1: distinct forwarded clients get distinct budgets, junk values fall back to the peer's (${IP_BUDGET} of 20)`, async () => {
    for (const xff of [randomV4(), `${randomV6Prefix()}::7`]) {
      const answers: Answer[] = [];
      for (let i = 0; i < IP_BUDGET + 2; i++)
        answers.push(await send(list, 'POST', '/api/v1/auth/refresh', { xff, body: junkRefresh }));
      assert.equal(through(answers).length, IP_BUDGET, `${xff}: ${answers.map((a) => a.status).join(' ')}`);
    }
    const junk = (i: number) => ['not-an-ip', '', `junk-${i}`, '300.1.2.3', `${randomV4()}, not-an-ip-${i}`][i % 5];
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++)
      answers.push(await send(list, 'POST', '/api/v1/auth/refresh', { xff: junk(i), body: junkRefresh }));
    assert.equal(through(answers).length, IP_BUDGET, `answers: ${answers.map((a) => a.status).join(' ')}`);
  });
});

describe('TRUST_PROXY in the configuration', () => {
  const secrets = { JWT_SECRET: randomBytes(24).toString('hex'), OTP_SECRET: randomBytes(24).toString('hex') };

  it('TRUST_PROXY=true is refused in production with a ConfigError naming TRUST_PROXY; a hop count or a list is accepted', () => {
    assert.throws(
      () => loadConfig({ APP_ENV: 'production', TRUST_PROXY: 'true', ...secrets }),
      (err: unknown) => err instanceof ConfigError && /TRUST_PROXY/.test(err.message),
    );
    assert.equal(loadConfig({ APP_ENV: 'production', TRUST_PROXY: '1', ...secrets }).TRUST_PROXY, 1);
    assert.deepEqual(
      loadConfig({ APP_ENV: 'production', TRUST_PROXY: '10.0.0.0/8, 192.0.2.7', ...secrets }).TRUST_PROXY,
      ['10.0.0.0/8', '192.0.2.7'],
    );
  });

  it('TRUST_PROXY=true is accepted in test and development', () => {
    assert.equal(loadConfig({ APP_ENV: 'test', TRUST_PROXY: 'true' }).TRUST_PROXY, true);
    assert.equal(loadConfig({ APP_ENV: 'development', TRUST_PROXY: 'true' }).TRUST_PROXY, true);
  });

  for (const bad of ['10.0.0.0/99', 'not-a-proxy', '10.0.0.1,bogus', '192.0.2.300']) {
    it(`a malformed list (${bad}) is refused with a ConfigError naming TRUST_PROXY`, () => {
      for (const APP_ENV of ['production', 'test']) {
        assert.throws(
          () => loadConfig({ APP_ENV, TRUST_PROXY: bad, ...secrets }),
          (err: unknown) =>
            err instanceof ConfigError &&
            /TRUST_PROXY/.test(err.message) &&
            err.message.includes(bad.split(',').pop()!),
        );
      }
    });
  }
});
