/**
 * Issue 18 item 7, the small levers, written as the attacks with a count of what got through:
 * - /metrics on METRICS_PORT read from another interface, or without the admin token;
 * - the dev inbox read by a page of another site whose name was rebound to 127.0.0.1 (its own Host
 *   header), or through a proxy or tunnel on this machine (a forwarding header);
 * - the admin endpoints' schemas learnt without the token (400 with details instead of 401);
 * - /health/ready (two queries) flooded from one address.
 * Production's secret rules are in test/config.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { errorCode, type ApiResponse, type Method } from './support/api.ts';
import { person, startStack, type Stack } from './support/stack.ts';
import { clientFrom, onNetwork } from './support/clients.ts';
import { capturedFor, DEV_ENV } from './support/dev-inbox.ts';
import { kill, report, startServe } from './support/child.ts';
import { freePort } from './support/net.ts';
import { waitUntil } from './support/wait.ts';
import type { InboxRow } from '../src/dev-inbox/routes.ts';

const ADMIN_TOKEN = randomBytes(24).toString('hex');

const statuses = (answers: Array<{ status: number }>) => answers.map((a) => a.status).join(' ');

// ---------------------------------------------------------------------------------------------
// /metrics on METRICS_PORT: its counters move for real accounts only, so who reads them learns
// which addresses have one.

describe('METRICS_PORT of the real `panic-api serve`, with HOST=0.0.0.0 (as production defaults to)', () => {
  let metricsPort: number;
  let serve: Awaited<ReturnType<typeof startServe>>;
  before(async () => {
    metricsPort = await freePort();
    serve = await startServe('serve with METRICS_PORT', {
      DATA_DIR: 'memory://',
      HOST: '0.0.0.0',
      METRICS_PORT: String(metricsPort),
      ADMIN_TOKEN,
    });
  });
  // a serve left running would keep the lane (and npm test) from ever ending
  after(() => serve && kill(serve));

  /** GET /metrics at `host`: the status, or 0 when the connection is refused. */
  const scrape = async (host: string, token?: string): Promise<number> => {
    try {
      const res = await fetch(`http://${host}:${metricsPort}/metrics`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      await res.text();
      return res.status;
    } catch {
      return 0;
    }
  };

  it('listens on loopback only (METRICS_HOST unset): another interface of this machine is refused', async () => {
    // A listener bound to 127.0.0.1 refuses a connection to 127.0.0.2; one bound to every interface
    // (the public port here) takes it: the stand-in for the machine's other addresses.
    const publicPort = await fetch(`http://127.0.0.2:${serve.port}/health`);
    assert.equal(publicPort.status, 200, 'the public port does listen on every interface');
    const elsewhere = [await scrape('127.0.0.2'), await scrape('127.0.0.2', ADMIN_TOKEN)];
    assert.deepEqual(elsewhere, [0, 0], `answers from another interface: ${elsewhere.join(' ')}${report(serve)}`);
  });

  it('outside development it needs the admin token, on loopback too: 401 without it or with a wrong one, 200 with it', async () => {
    const answers = [
      await scrape('127.0.0.1'),
      await scrape('127.0.0.1', `${ADMIN_TOKEN}x`),
      await scrape('127.0.0.1', ADMIN_TOKEN),
    ];
    assert.deepEqual(answers, [401, 401, 200], report(serve));
  });
});

// ---------------------------------------------------------------------------------------------
// The dev inbox: every code, reset codes included.

/** The code-holding answer of one inbox request, or its refusal. */
const readsCode = (r: ApiResponse, code: string) => r.status === 200 && r.text.includes(code);

describe('dev inbox (APP_ENV=development): not for another site rebound to 127.0.0.1, nor through a proxy or tunnel', () => {
  let open: Stack;
  let guarded: Stack;
  const TOKEN = randomBytes(16).toString('hex');
  before(async () => {
    open = await startStack({ env: DEV_ENV });
    guarded = await startStack({ env: { ...DEV_ENV, DEV_INBOX_TOKEN: TOKEN } });
  });
  after(async () => {
    await open?.close();
    await guarded?.close();
  });

  const someoneWithACode = async () => {
    const p = person('rebind');
    assert.equal((await open.api('POST', '/api/v1/auth/register', p)).status, 201);
    return { email: p.email, code: (await capturedFor(open, p.email, 'email_verification')).otp! };
  };

  it('a loopback connection with a foreign Host or a forwarding header gets 403 forbidden on every path: 0 codes read', async () => {
    const { email, code } = await someoneWithACode();
    const port = new URL(open.baseUrl).port;
    const local = clientFrom(open.baseUrl, '127.0.0.1');
    const attacks: Array<[string, Record<string, string>]> = [
      // DNS rebinding: the attacker's page, its name now resolving to 127.0.0.1, sends its own name.
      ['a rebound name', { host: `rebind.attacker.example:${port}` }],
      ['a rebound name without a port', { host: 'rebind.attacker.example' }],
      ['a name that starts like localhost', { host: `localhost.attacker.example:${port}` }],
      ['a name that starts like 127.0.0.1', { host: `127.0.0.1.nip.io:${port}` }],
      // A tunnel or proxy on this machine: its socket is loopback, its client is anyone.
      ['X-Forwarded-For', { 'x-forwarded-for': '203.0.113.9' }],
      ['X-Forwarded-For: 127.0.0.1', { 'x-forwarded-for': '127.0.0.1' }],
      ['Forwarded', { forwarded: 'for=203.0.113.9;proto=https' }],
      ['X-Forwarded-Host', { 'x-forwarded-host': 'abcd.tunnel.example' }],
      ['X-Real-IP', { 'x-real-ip': '203.0.113.9' }],
    ];
    const paths = ['/dev/inbox', `/dev/inbox/messages?to=${encodeURIComponent(email)}`];
    let through = 0;
    const refusals: string[] = [];
    for (const [what, headers] of attacks) {
      for (const path of paths) {
        const r = await local.request('GET', path, undefined, undefined, headers);
        if (r.status === 200) through += 1;
        else if (r.status !== 403 || errorCode(r) !== 'forbidden' || r.text.includes(code))
          refusals.push(`${what} ${path}: ${r.status} ${r.text}`);
      }
    }
    assert.equal(through, 0, `answered 200 to ${through} of ${attacks.length * paths.length}`);
    assert.deepEqual(refusals, [], 'every refusal is 403 forbidden without the code');

    // This machine's own names, with or without a port and in any case, still read it.
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', `LOCALHOST:${port}`]) {
      assert.ok(
        readsCode(
          await local.request('GET', `/dev/inbox/messages?to=${encodeURIComponent(email)}`, undefined, undefined, {
            host,
          }),
          code,
        ),
        host,
      );
    }
  });

  it('with DEV_INBOX_TOKEN the token alone opens it (a deliberate opening: a container, a tunnel); without it, even this machine gets 403', async () => {
    const p = person('rebind-token');
    assert.equal((await guarded.api('POST', '/api/v1/auth/register', p)).status, 201);
    const port = new URL(guarded.baseUrl).port;
    const local = clientFrom(guarded.baseUrl, '127.0.0.1');
    const messages = `/dev/inbox/messages?to=${encodeURIComponent(p.email)}`;
    const withToken = { 'x-dev-inbox-token': TOKEN };
    const captured = async () =>
      (
        await local.request<{ messages: InboxRow[] }>('GET', messages, undefined, undefined, withToken)
      ).body.messages.find((m) => m.status === 'captured');
    const code = (await waitUntil(captured, { timeoutMs: 10_000, what: `the code to ${p.email} in the inbox` })).otp!;
    assert.ok(
      readsCode(
        await local.request('GET', messages, undefined, undefined, { ...withToken, host: 'dev-box.lan:8000' }),
        code,
      ),
      'a foreign Host with the token',
    );
    assert.ok(
      readsCode(
        await local.request('GET', messages, undefined, undefined, { ...withToken, 'x-forwarded-for': '203.0.113.9' }),
        code,
      ),
      'forwarded, with the token',
    );
    const without = await local.request('GET', messages, undefined, undefined, { host: `localhost:${port}` });
    assert.equal(without.status, 403, without.text);
    assert.ok(!without.text.includes(code));
  });
});

// ---------------------------------------------------------------------------------------------
// The admin endpoints and /health/ready, on one stack with a per-IP budget of 5 a minute.

const IP_BUDGET = 5;

describe(`admin token before validation, and /health/ready under a per-IP budget (RATE_LIMIT_IP_PER_MINUTE=${IP_BUDGET})`, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { ADMIN_TOKEN, RATE_LIMIT_IP_PER_MINUTE: String(IP_BUDGET) } });
  });
  after(() => stack?.close());

  // Each request its own network, so the per-IP budget is not what answers.
  let network = 10;
  const fromANewNetwork = () => onNetwork(stack.baseUrl, network++);

  const malformed: Array<[Method, string]> = [
    ['GET', '/api/v1/admin/messages?status=bogus'],
    ['GET', '/api/v1/admin/messages?limit=lots'],
    ['GET', '/api/v1/admin/why'],
    ['GET', '/api/v1/admin/messages/not-a-uuid'],
    ['DELETE', '/api/v1/admin/suppressions/ab'],
  ];

  it("without the admin token (or with a wrong one) a malformed request is 401 unauthorized, never 400 with the schema's details: 0 of 10 learn anything", async () => {
    const answers: ApiResponse[] = [];
    for (const token of [undefined, `${ADMIN_TOKEN}x`]) {
      for (const [method, path] of malformed)
        answers.push(await fromANewNetwork().request(method, path, undefined, token));
    }
    const validated = answers.filter((a) => a.status === 400);
    assert.equal(
      validated.length,
      0,
      `400 with details to a caller without the token: ${validated.map((a) => a.text).join('\n')}`,
    );
    assert.deepEqual(answers.map(errorCode), Array(answers.length).fill('unauthorized'), statuses(answers));
  });

  it('with the admin token the same requests are validated: 400 validation_error', async () => {
    for (const [method, path] of malformed) {
      const r = await fromANewNetwork().request(method, path, undefined, ADMIN_TOKEN);
      assert.deepEqual([r.status, errorCode(r)], [400, 'validation_error'], `${method} ${path}: ${r.text}`);
    }
  });

  it(`/health/ready: one address flooding it gets ${IP_BUDGET} answers then 429 with Retry-After; another address still gets 200, and /health stays 200 for the flooder`, async () => {
    const flooder = onNetwork(stack.baseUrl, 300);
    const flood: ApiResponse[] = [];
    for (let i = 0; i < 3 * IP_BUDGET; i++) flood.push(await flooder.api('GET', '/health/ready'));
    const answered = flood.filter((a) => a.status === 200).length;
    assert.equal(answered, IP_BUDGET, `the flooder's readiness probes answered: ${statuses(flood)}`);
    for (const refused of flood.slice(IP_BUDGET)) {
      assert.deepEqual([refused.status, errorCode(refused)], [429, 'rate_limited']);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'with Retry-After');
    }
    assert.equal((await onNetwork(stack.baseUrl, 301).api('GET', '/health/ready')).status, 200, 'another address');
    for (let i = 0; i < 3 * IP_BUDGET; i++)
      assert.equal((await flooder.api('GET', '/health')).status, 200, 'liveness is never limited');
  });
});
