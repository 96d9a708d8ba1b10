/**
 * A crowd served, not shed (issue 19, part 4). On a scratch database of the PostgreSQL server, with
 * the service's default settings (PASSWORD_HASH_CONCURRENCY = the CPU count, REQUEST_TIMEOUT_SECONDS
 * 10) and its default per-IP limits, which stay on: every request comes on a connection of its own
 * from a loopback address of its own, as a town's phones would, sent by bench/crowd-clients.ts in a
 * process of its own (node:http, reading only the status and Retry-After).
 *
 * 1. The crowd: BENCH_CROWD (300) sign-ups at once, BENCH_ROUNDS (3) times, each against argon2 alone
 *    (@node-rs/argon2, same parameters) doing the hashes that round's crowd caused, at the same
 *    concurrency, in the same process, right after it. Goal: all 201, crowd ≤ 1.3 × argon2 alone.
 * 2. The flood: three times the logins the timeout has room for (unknown emails), at once: those
 *    past the timeout get 503 with Retry-After at once; GET /health p50 beside it against idle.
 *
 * Not a test: it prints. All traffic goes to 127.0.0.0/8 and every loop stops by itself.
 *
 *   npm run bench:crowd             # needs PostgreSQL at 127.0.0.1:5432 (or TEST_PG_URL)
 *   PASSWORD_HASH_CONCURRENCY=4 npm run bench:crowd
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hash, verify } from '@node-rs/argon2';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRuntime } from '../src/runtime/create-runtime.ts';
import { createMigratedDatabase } from '../test/support/pg.ts';
import type { Job, Sent } from './crowd-clients.ts';

const run = promisify(execFile);

const CROWD = Number(process.env.BENCH_CROWD ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const GOAL = 1.3;

const database = await createMigratedDatabase();
const config = loadConfig({
  APP_ENV: 'test',
  LOG_LEVEL: 'silent',
  DATABASE_URL: database.url,
  DELIVERY_WORKER: 'off',
  // Unset: the default (the CPU count); set, to see where the time goes.
  PASSWORD_HASH_CONCURRENCY: process.env.PASSWORD_HASH_CONCURRENCY,
});
const runtime = await createRuntime({ config, logger: createLogger(config) });
// A backlog for the whole flood (the kernel's somaxconn caps it): with the default 511, connections
// past it wait for the client's SYN retries (1 s, 3 s, 7 s), and the flood would time TCP, not the gate.
const base = await runtime.app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
const services = runtime.services;

// The hashes the crowd caused, counted as they end (a refused one caused none).
const caused = { hash: 0, verify: 0 };
const passwords = services.passwords;
services.passwords = {
  ...passwords,
  hash: async (password) => {
    const hashed = await passwords.hash(password);
    caused.hash += 1;
    return hashed;
  },
  verify: async (hashed, password) => {
    const ok = await passwords.verify(hashed, password);
    caused.verify += 1;
    return ok;
  },
  hashAndCompare: async (password, stored) => {
    const both = await passwords.hashAndCompare(password, stored);
    if (both.hashed !== null) caused.hash += 1;
    caused.verify += 1;
    return both;
  },
};

const CLIENTS = fileURLToPath(new URL('./crowd-clients.ts', import.meta.url));
let network = 0;
/** count requests of a kind at once, sent by the phones' process: their answers, its CPU, and this one's meanwhile. */
async function fromPhones(kind: Job['kind'], count: number, tag: string) {
  const job: Job = { base, kind, count, network, tag };
  network += kind === 'login' ? Math.ceil(count / 250) : count;
  const cpu = process.cpuUsage();
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLIENTS, JSON.stringify(job)], {
    maxBuffer: 1 << 28,
  });
  const spent = process.cpuUsage(cpu);
  return { ...(JSON.parse(stdout) as Sent), serviceCpuMs: (spent.user + spent.system) / 1000 };
}

const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
const p = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const spread = (xs: number[]) => (xs.length ? `p50 ${ms(p(xs, 0.5))}, max ${ms(Math.max(...xs))}` : 'none');
const counts = (statuses: number[]) =>
  [...new Set(statuses)]
    .sort()
    .map((s) => `${statuses.filter((x) => x === s).length} × ${s}`)
    .join(', ');

/** CPU (user + system, every thread of this process) spent by work(), in ms, and its wall time. */
async function timed<T>(work: () => Promise<T>) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const spent = process.cpuUsage(cpu);
  return { result, wallMs: performance.now() - started, cpuMs: (spent.user + spent.system) / 1000 };
}

/** CPU (ms) each PostgreSQL backend of the scratch database has spent, by pid (Linux's /proc, ticks of 10 ms). */
async function postgresCpu(): Promise<Map<number, number>> {
  const { rows } = await sql<{
    pid: number;
  }>`select pid from pg_stat_activity where datname = current_database()`.execute(services.db);
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // ended meanwhile, or another machine's server
    }
  }
  return cpu;
}
const postgresSince = async (before: Map<number, number>) =>
  [...(await postgresCpu())].reduce((sum, [pid, ms]) => sum + ms - (before.get(pid) ?? 0), 0);

/** argon2 alone: `hashes` hashes and `verifies` verifications, `concurrency` at once. */
async function argon2Alone(hashes: number, verifies: number, concurrency: number) {
  const stored = await hash('the stored password');
  let next = 0;
  return timed(() =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < hashes + verifies; i = next++) {
          if (i < hashes) await hash(`a password of ${i}`);
          else await verify(stored, 'not the stored password');
        }
      }),
    ),
  );
}

const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
const health = () =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now();
    http
      .get(`${base}/health`, { agent: probe }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - started));
      })
      .on('error', reject);
  });
/** GET /health one after another, 10 ms apart, until stop() says so (at least `least`); their times. */
async function healthWhile(stop: () => boolean, least = 30): Promise<number[]> {
  const times: number[] = [];
  while (times.length < least || !stop()) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    times.push(await health());
  }
  return times;
}

console.log(
  `bench:crowd on PostgreSQL, Node ${process.version}, PASSWORD_HASH_CONCURRENCY ${config.PASSWORD_HASH_CONCURRENCY}, REQUEST_TIMEOUT_SECONDS ${config.REQUEST_TIMEOUT_SECONDS}; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

// Warm up: connections, the JIT, the decoy hash, and the gate's first measured hashes.
await fromPhones('sign-up', 4, 'warm');
for (let i = 0; i < 10; i++) await health();

// What a request costs before any work of its own (a connection, the HTTP exchange), on each side:
// GET /health from as many addresses at once.
const bare = await fromPhones('health', CROWD, 'bare');
console.log(
  `${CROWD} × GET /health at once, each on a connection of its own: ${counts(bare.answers.map((a) => a.status))} in ${ms(bare.wallMs)}; ` +
    `CPU a request: the service ${(bare.serviceCpuMs / CROWD).toFixed(1)} ms, the phones ${(bare.cpuMs / CROWD).toFixed(1)} ms`,
);

const ratios: number[] = [];
let hashRate = 0;
for (let round = 1; round <= ROUNDS; round++) {
  caused.hash = 0;
  caused.verify = 0;
  const elu = performance.eventLoopUtilization();
  const pgBefore = await postgresCpu();
  const crowd = await fromPhones('sign-up', CROWD, `r${round}`);
  const loop = performance.eventLoopUtilization(elu).utilization;
  const pgMs = await postgresSince(pgBefore);
  const { hash: hashes, verify: verifies } = caused;
  const alone = await argon2Alone(hashes, verifies, config.PASSWORD_HASH_CONCURRENCY);
  hashRate = (hashes + verifies) / (alone.wallMs / 1000);
  const ratio = crowd.wallMs / alone.wallMs;
  ratios.push(ratio);
  const beyond = (crowd.serviceCpuMs - alone.cpuMs) / CROWD;
  // Were the 2 cores the only limit, the crowd would take all its CPU over theirs: argon2's, the
  // service's beyond it (HTTP, queries, the driver), PostgreSQL's, the phones'.
  const bound = (crowd.serviceCpuMs + pgMs + crowd.cpuMs) / alone.cpuMs;
  console.log(
    `crowd ${round}: ${CROWD} sign-ups at once: ${counts(crowd.answers.map((a) => a.status))} in ${ms(crowd.wallMs)} ` +
      `(answers ${spread(crowd.answers.map((a) => a.ms))}; event loop busy ${(loop * 100).toFixed(0)} %; ` +
      `CPU: the service ${ms(crowd.serviceCpuMs)}, ${beyond.toFixed(1)} ms a sign-up beyond argon2's, PostgreSQL ${(pgMs / CROWD).toFixed(1)} ms, the phones ${(crowd.cpuMs / CROWD).toFixed(1)} ms; ` +
      `CPU-bound ratio ${bound.toFixed(2)}); ` +
      `argon2 alone, the same ${hashes} hashes + ${verifies} verifications at ${config.PASSWORD_HASH_CONCURRENCY} at once: ` +
      `${ms(alone.wallMs)} (CPU ${ms(alone.cpuMs)}); crowd / argon2 alone = ${ratio.toFixed(2)}`,
  );
}
const median = p(ratios, 0.5);
console.log(
  `crowd / argon2 alone, median of ${ROUNDS}: ${median.toFixed(2)} (goal ≤ ${GOAL}: ${median <= GOAL ? 'met' : 'NOT met'})`,
);

// The flood: three times what the timeout has room for, at the rate argon2 alone just showed.
const flood = Math.ceil(3 * config.REQUEST_TIMEOUT_SECONDS * hashRate);
const idle = await healthWhile(() => true);
let done = false;
const beside = healthWhile(() => done);
const answered = await fromPhones('login', flood, 'flood');
done = true;
const besideFlood = await beside;
const refused = answered.answers.filter((a) => a.status === 503);
const served = answered.answers.filter((a) => a.status === 401);
const retries = refused.map((a) => Number(a.retryAfter));
console.log(
  `flood: ${flood} logins at once (3 × ${config.REQUEST_TIMEOUT_SECONDS} s × ${hashRate.toFixed(0)} hashes/s): ` +
    `${counts(answered.answers.map((a) => a.status))} in ${ms(answered.wallMs)}; 503 answered ${spread(refused.map((a) => a.connectedMs))} ` +
    `after the connection was accepted (${spread(refused.map((a) => a.ms))} after sending), Retry-After ` +
    `${retries.length ? `${Math.min(...retries)}-${Math.max(...retries)} s` : 'none'}; 401 answered ${spread(served.map((a) => a.connectedMs))} ` +
    `after the connection was accepted`,
);
const idleP50 = p(idle, 0.5);
const floodP50 = p(besideFlood, 0.5);
console.log(
  `GET /health p50: idle ${idleP50.toFixed(2)} ms, beside the flood ${floodP50.toFixed(2)} ms (${(floodP50 / idleP50).toFixed(1)}×, ${besideFlood.length} probes); load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

probe.destroy();
await runtime.close();
await database.drop();
