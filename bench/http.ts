/**
 * Load benchmark of the API's hot paths, as ratios against GET /health measured in the same run
 * (same process, same machine state), so numbers compare across machines. Not a test: it prints.
 *
 *   npm run bench                       # embedded PGlite in memory
 *   DATABASE_URL=postgres://…/scratch npm run bench   # a scratch database: it writes accounts
 */
import autocannon from 'autocannon';
import { loadConfig } from '../src/config/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRuntime } from '../src/runtime/create-runtime.ts';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

const config = loadConfig({
  APP_ENV: 'test',
  LOG_LEVEL: 'silent',
  DATABASE_URL: process.env.DATABASE_URL,
  DATA_DIR: 'memory://',
  RATE_LIMIT_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: '1000000',
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_MAX_SENDS_PER_HOUR: '10000',
  DELIVERY_WORKER: 'off',
});
const runtime = await createRuntime({ config, logger: createLogger(config) });
const base = await runtime.app.listen({ port: 0, host: '127.0.0.1' });

// One verified account for the login path.
const account = {
  email: 'bench@example.test',
  phone: '+27825550123',
  first_name: 'B',
  last_name: 'M',
  password: 'bench password 1',
};
await fetch(`${base}/api/v1/auth/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(account),
});
await runtime.services.db
  .updateTable('users')
  .set({ email_verified_at: new Date() })
  .where('email', '=', account.email)
  .execute();

interface Case {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: () => unknown;
}

let n = 0;
const json = (body: unknown) => JSON.stringify(body);
const cases: Case[] = [
  { name: 'GET /health (baseline)', method: 'GET', path: '/health' },
  {
    name: 'resend-verification, unknown address',
    method: 'POST',
    path: '/api/v1/auth/resend-verification',
    body: () => ({ email: `nobody${n++}@example.test` }),
  },
  {
    name: 'register (argon2 + code + outbox row)',
    method: 'POST',
    path: '/api/v1/auth/register',
    body: () => ({ ...account, email: `new${n++}@example.test` }),
  },
  {
    name: 'login (argon2 verify + session)',
    method: 'POST',
    path: '/api/v1/auth/login',
    body: () => ({ email: account.email, password: account.password }),
  },
  {
    name: 'verify-account, wrong code (400 by design)',
    method: 'POST',
    path: '/api/v1/auth/verify-account',
    body: () => ({ email: account.email, otp: '000000' }),
  },
];

async function measure(c: Case): Promise<{ rps: number; p99: number; non2xx: number; errors: number }> {
  const result = await autocannon({
    url: `${base}${c.path}`,
    method: c.method,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: c.body ? { 'content-type': 'application/json' } : undefined,
    requests: c.body ? [{ setupRequest: (req) => ({ ...req, body: json(c.body!()) }) }] : undefined,
  });
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result['5xx'],
  };
}

const rows: { name: string; rps: number; p99: number; non2xx: number; errors: number }[] = [];
for (const c of cases) rows.push({ name: c.name, ...(await measure(c)) });
const baseline = rows[0].rps;
console.log(`\n${runtime.handle.kind}, ${CONNECTIONS} connections, ${DURATION} s each\n`);
console.log(
  `${'case'.padEnd(46)}${'req/s'.padStart(10)}${'p99 ms'.padStart(10)}${'vs baseline'.padStart(14)}${'non-2xx'.padStart(9)}${'5xx+err'.padStart(9)}`,
);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(46)}${r.rps.toFixed(0).padStart(10)}${String(r.p99).padStart(10)}${(r.rps / baseline).toFixed(3).padStart(14)}${String(r.non2xx).padStart(9)}${String(r.errors).padStart(9)}`,
  );
}
await runtime.close();
