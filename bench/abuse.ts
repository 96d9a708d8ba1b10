/**
 * The attacker's figures of issue "4 · abuse defense", measured again against the service with its
 * default limits: what one client gets through in a fixed time; then those of issue 18, "a stranger
 * who wants to deny the service" (1)–(7), each against a service of its own. Not a test: it prints.
 * All traffic goes to 127.0.0.0/8 and every loop stops by itself.
 *
 *   npm run bench:abuse
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { loadConfig } from '../src/config/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRuntime } from '../src/runtime/create-runtime.ts';
import { startTwilioServer } from '../test/support/sms.ts';
import { startSmtpServer } from '../test/support/smtp.ts';
import { smtpEnv, twilioEnv } from '../test/support/stack.ts';
import { brakeAttack } from './abuse-brake.ts';
import { denialAttacks } from './abuse-denial.ts';
import { receiptAttack } from './abuse-receipts.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/**
 * A service of its own, with an SMTP and a Twilio fixture as its providers: the first below with its
 * default limits; issue 18's attacks each against a fresh one (its SMS counters unspent).
 */
async function target(env: Record<string, string | undefined>) {
  const smtp = await startSmtpServer();
  const twilio = await startTwilioServer();
  const settings = loadConfig({
    APP_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: process.env.DATABASE_URL,
    DATA_DIR: 'memory://',
    ...smtpEnv(smtp),
    ...twilioEnv(twilio),
    DELIVERY_POLL_MS: '50',
    ...env,
  });
  const service = await createRuntime({ config: settings, logger: createLogger(settings) });
  service.worker.start();
  const baseUrl = await service.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    baseUrl,
    smtp,
    sms: twilio,
    service,
    async close() {
      await service.close();
      await Promise.all([smtp.close(), twilio.close()]);
    },
  };
}

const first = await target({
  ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef',
  PASSWORD_HASH_CONCURRENCY: process.env.PASSWORD_HASH_CONCURRENCY,
  // The login flood below comes from 20 addresses behind this "proxy" (loopback), as a botnet would.
  TRUST_PROXY: '127.0.0.1',
  // Receipts are checked against it: without it every Twilio receipt is refused before its body is read.
  PUBLIC_URL: 'https://panic.example',
});
const { baseUrl: base, sms, service: runtime } = first;
const config = runtime.services.config;
const { db } = runtime.services;

// Each attack comes from its own address (behind the loopback "proxy"), as separate runs would.
let client = '203.0.113.1';
const post = (path: string, body: unknown, token?: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': client,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

/** Sends requests back to back for SECONDS; the statuses seen. */
async function flood(send: (i: number) => Promise<Response>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const end = Date.now() + SECONDS * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const res = await send(i);
    await res.arrayBuffer();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  }
  return statuses;
}
const show = (m: Map<number, number>) => [...m].map(([s, n]) => `${n}×${s}`).join(', ');

// A verified, logged-in account, made directly (the figures below are about what the HTTP API lets through).
const account = {
  email: 'attacker@example.test',
  phone: '+27825550100',
  first_name: 'Eve',
  last_name: 'Attacker',
  password: 'attacker password',
};
await post('/api/v1/auth/register', account);
await db.updateTable('users').set({ email_verified_at: new Date() }).where('email', '=', account.email).execute();
const { access_token: access } = (await (await post('/api/v1/auth/login', account)).json()) as { access_token: string };

const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};
report(`${runtime.handle.kind}, default limits, one client, ${SECONDS} s per attack`);

const premium = ['+449090000000', '+19005550123', '+881612345678', '+4915112345678'];
const premiumAnswers = await Promise.all(
  premium.map((phone) => post('/api/v1/users/verify-phone', { phone }, access).then((r) => r.status)),
);
report(`premium-rate, satellite and foreign numbers: answers ${premiumAnswers.join(', ')}`);

client = '203.0.113.2';
const smsBefore = sms.messages.length;
const smsFlood = await flood((i) =>
  post('/api/v1/%75sers/verify-phone', { phone: `+2782${String(1_000_000 + i).padStart(7, '0')}` }, access),
);
await new Promise((r) => setTimeout(r, 1000));
report(
  `SMS through /api/v1/%75sers/verify-phone to new numbers: ${sms.messages.length - smsBefore} SMS sent (answers: ${show(smsFlood)})`,
);

client = '203.0.113.3';
const usersBefore = await db
  .selectFrom('users')
  .select((eb) => eb.fn.countAll<number>().as('n'))
  .executeTakeFirstOrThrow();
const regFlood = await flood((i) => post('/api/v1/%61uth/register', { ...account, email: `victim${i}@example.test` }));
const usersAfter = await db
  .selectFrom('users')
  .select((eb) => eb.fn.countAll<number>().as('n'))
  .executeTakeFirstOrThrow();
report(
  `registrations through /api/v1/%61uth/register: ${Number(usersAfter.n) - Number(usersBefore.n)} accounts, as many emails (answers: ${show(regFlood)})`,
);

client = '203.0.113.4';
const adminFlood = await flood(() =>
  fetch(`${base}/api/v1/%61dmin/messages`, { headers: { authorization: 'Bearer guess', 'x-forwarded-for': client } }),
);
report(
  `admin-token guesses through /api/v1/%61dmin/messages: ${adminFlood.get(401) ?? 0} checked (answers: ${show(adminFlood)})`,
);

// The hash lever: /health latency alone, then beside 20 concurrent logins for unknown addresses.
async function healthP50(n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch(`${base}/health`)).arrayBuffer();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}
const idle = await healthP50(50);
// The flood runs in its own process, as an attacker's would: only the server's work is measured.
const FLOOD = `
  const [base, seconds] = process.argv.slice(1);
  const end = Date.now() + Number(seconds) * 1000;
  const counts = {};
  await Promise.all(Array.from({ length: 20 }, async (_, k) => {
    for (let i = 0; Date.now() < end; i++) {
      const res = await fetch(base + '/api/v1/auth/login', { method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.' + k },
        body: JSON.stringify({ email: 'nobody' + k + '.' + i + '@example.test', password: 'whatever it is' }) });
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
    }
  }));
  console.log(JSON.stringify(counts));`;
const flooder = spawn(process.execPath, ['--input-type=module', '-e', FLOOD, base, '4'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let floodOut = '';
flooder.stdout.on('data', (d) => (floodOut += d));
const floodDone = new Promise((resolve) => flooder.on('close', resolve));
await new Promise((r) => setTimeout(r, 500));
const loaded = await healthP50(50);
await floodDone;
report(
  `/health p50 idle ${idle.toFixed(2)} ms, beside 20 concurrent logins from another process ${loaded.toFixed(2)} ms ` +
    `(${(loaded / idle).toFixed(1)}×; PASSWORD_HASH_CONCURRENCY=${config.PASSWORD_HASH_CONCURRENCY}; logins by status: ${floodOut.trim()})`,
);

// Known and unknown addresses on the same-answer endpoints: medians of 50 each, interleaved.
async function median(path: string, body: (i: number) => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await (await post(path, body(i))).arrayBuffer();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[25];
}
for (const [path, field] of [
  ['/api/v1/auth/forgot-password', 'email'],
  ['/api/v1/auth/request-unlock-otp', 'identifier'],
] as const) {
  // Fresh known accounts, so no cooldown answers 429 instead.
  const known: string[] = [];
  for (let i = 0; i < 50; i++) {
    const email = `known${path.length}.${i}@example.test`;
    await db
      .insertInto('users')
      .values({
        email,
        phone: account.phone,
        first_name: 'K',
        last_name: 'N',
        password_hash: null,
        email_verified_at: new Date(),
        created_at: new Date(),
        updated_at: new Date(),
      })
      .execute();
    known.push(email);
  }
  client = `203.0.113.${path.length}`;
  const k = await median(path, (i) => ({ [field]: known[i] }));
  client = `203.0.113.${path.length + 100}`;
  const u = await median(path, (i) => ({ [field]: `unknown${path.length}.${i}@example.test` }));
  report(`${path}: median known ${k.toFixed(2)} ms, unknown ${u.toFixed(2)} ms (difference ${(k - u).toFixed(2)} ms)`);
}

// A slow body: headers, then a byte every 500 ms; how long the server keeps the connection.
const held = await new Promise<number>((resolve) => {
  const started = performance.now();
  const { port } = new URL(base);
  const socket = connect(Number(port), '127.0.0.1', () => {
    socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n',
    );
  });
  const timer = setInterval(() => socket.write('{'), 500);
  const done = () => {
    clearInterval(timer);
    resolve((performance.now() - started) / 1000);
  };
  socket.on('close', done);
  socket.on('error', () => undefined);
  setTimeout(() => socket.destroy(), 120_000);
});
report(`slow body (a byte every 500 ms): connection held ${held.toFixed(1)} s`);

for (const line of await receiptAttack(base)) report(line);
await first.close();

/**
 * Issue 18's attacks: clients told apart by their own loopback address (127.n.x.y), not a forwarded
 * one. The per-IP budgets are lifted: these attacks are about the budgets of codes, and an attacker
 * has the networks.
 */
const ATTACKER_HAS_NETWORKS = { RATE_LIMIT_IP_PER_MINUTE: '100000', RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' };
const CEILING = Number(process.env.BENCH_SMS_CEILING ?? 200);
const brakeTarget = await target({ ...ATTACKER_HAS_NETWORKS, SMS_MAX_PER_HOUR: String(CEILING) });
report(`(1), default limits but SMS_MAX_PER_HOUR=${CEILING}:`);
for (const line of await brakeAttack(
  {
    baseUrl: brakeTarget.baseUrl,
    db: brakeTarget.service.services.db,
    passwords: brakeTarget.service.services.passwords,
    sms: brakeTarget.sms,
  },
  { ceiling: CEILING },
))
  report(line);
await brakeTarget.close();

const denialTarget = await target({ ...ATTACKER_HAS_NETWORKS, OTP_RESEND_COOLDOWN_SECONDS: '0' });
report('(2)–(5), (7): default limits, the resend cooldown off (the issue waited it out):');
for (const line of await denialAttacks(denialTarget)) report(`  ${line}`);
await denialTarget.close();
