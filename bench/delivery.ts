/**
 * Delivery speed (issues 5 and 19), as ratios against a baseline run in the same process against the
 * same SMTP server (STARTTLS + AUTH, the test fixture): not a test, it prints.
 *
 * - drain: a backlog of BENCH_MESSAGES emails drained by one worker, against nodemailer with a pool
 *   sending the same number straight to the server (messages/s from the first arrival to the last,
 *   both sides; goal ≥ 0.80). BENCH_ROUNDS rounds, each the baseline then the worker, so that a
 *   machine whose load changes weighs on both alike; the median round is the figure (the first
 *   finds both sides' code not yet compiled by V8). With DATABASE_URL the worker is the real
 *   `panic-api worker` (dist/) in a process of its own, as in production, woken by NOTIFY when a
 *   backlog is committed; on PGlite it is the API process's own.
 * - time to inbox: from the request (resend-verification) to the email's arrival, against one
 *   bare SMTP send (connect, STARTTLS, AUTH, message); p50 of BENCH_SAMPLES (goal ≤ 2×).
 *
 *   npm run bench:delivery                                  # embedded PGlite in memory
 *   DATABASE_URL=postgres://…/scratch npm run bench:delivery  # a scratch database: it writes messages
 *
 * BENCH_WORKER_ARGS passes Node options to the worker's process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`);
 * BENCH_WORKER_ENV, space-separated NAME=value pairs, adds settings to it and to the baseline
 * (e.g. DELIVERY_CONCURRENCY=20).
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import nodemailer from 'nodemailer';
import { loadConfig } from '../src/config/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRuntime } from '../src/runtime/create-runtime.ts';
import { enqueue } from '../src/delivery/outbox.ts';
import { smtpTransportOptions } from '../src/delivery/channels/smtp.ts';
import { startSmtpServer } from '../test/support/smtp.ts';
import { smtpEnv } from '../test/support/stack.ts';

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);

const smtp = await startSmtpServer();
const env = {
  APP_ENV: 'test',
  DATA_DIR: 'memory://',
  ...smtpEnv(smtp),
  RATE_LIMIT_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: '1000000',
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_MAX_SENDS_PER_HOUR: '10000',
};
const workerEnv: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_WORKER_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const config = loadConfig({ ...env, LOG_LEVEL: 'silent', DATABASE_URL: process.env.DATABASE_URL, ...workerEnv });
const logger = createLogger(config);
const api = await createRuntime({ config, logger });
const base = await api.app.listen({ port: 0, host: '127.0.0.1' });
const { db, seal } = api.services;
const onServer = Boolean(config.DATABASE_URL);

/** Resolves with the time the n-th email arrived. */
const arrived = (n: number) =>
  new Promise<number>((resolve) => {
    const check = () => (smtp.messages.length >= n ? resolve(performance.now()) : setTimeout(check, 1));
    check();
  });
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const median = (xs: number[]) => percentile(xs, 50);

/** CPU time (user + system) in ms: this process's, or another's from /proc (ticks of 10 ms). */
const cpuMs = (pid?: number) => {
  if (pid === undefined) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  }
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

interface Drain {
  /** Messages per second from the first arrival to the last, as issue 19 measured. */
  rate: number;
  /** Messages per second from the hand-off (the sendMail calls; the backlog's commit) to the last arrival. */
  whole: number;
  /** CPU ms per message of the sending process, from the hand-off to the last arrival. */
  cpu: number;
}

/**
 * One drain, timed two ways. From the first arrival leaves out each side's start, but nodemailer
 * composes every message it is handed before its first one leaves (0.2–0.5 s for 2,000 here), so it
 * leaves out part of the baseline's work too; from the hand-off counts all of both (a pool's
 * handshakes, a worker's wake-up and first claim). `handOff` begins the sending and answers the
 * moment the messages were handed over; `pid` is the sending process, when not this one.
 */
async function drain(handOff: () => Promise<number>, pid?: number): Promise<Drain> {
  smtp.messages.length = 0;
  const first = arrived(1);
  const c0 = cpuMs(pid);
  const t0 = await handOff();
  const t1 = await first;
  const t2 = await arrived(MESSAGES);
  return {
    rate: (MESSAGES - 1) / ((t2 - t1) / 1000),
    whole: MESSAGES / ((t2 - t0) / 1000),
    cpu: (cpuMs(pid) - c0) / MESSAGES,
  };
}

/** Transactions committed in the database so far (each statement outside a transaction is one). */
const commits = async () => {
  await sql`SELECT pg_stat_clear_snapshot()`.execute(db);
  const { rows } = await sql<{ n: string }>`
    SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()`.execute(db);
  return Number(rows[0].n);
};

// --- drain -------------------------------------------------------------------------------------
const mail = (i: number) => ({
  from: config.FROM_EMAIL,
  to: `drain${i}@example.test`,
  subject: 'Your code',
  text: `Your code is ${100000 + i}.`,
});

/** nodemailer's pool straight to the server, every message handed to it at once; one pool for every round, as the worker keeps its own. */
const pooled = nodemailer.createTransport({
  ...smtpTransportOptions(config),
  pool: true,
  maxConnections: config.SMTP_MAX_CONNECTIONS,
});
async function baselineDrain(): Promise<Drain> {
  let sent: Promise<unknown> = Promise.resolve();
  const result = await drain(async () => {
    const t0 = performance.now();
    sent = Promise.all(Array.from({ length: MESSAGES }, (_, i) => pooled.sendMail(mail(i))));
    return t0;
  });
  await sent;
  return result;
}

/**
 * The running worker empties a backlog of MESSAGES, committed at once (so its NOTIFY comes when all
 * are there). The outbox is vacuumed first, as autovacuum would have done between two backlogs (CI's
 * PostgreSQL runs without it): the dead entries earlier rounds leave in the index of due messages
 * would otherwise slow every claim of the next one, more with each run on the same database.
 */
async function workerDrain(pid?: number): Promise<Drain> {
  await sql`VACUUM ANALYZE messages, message_events`.execute(db);
  return drain(queueBacklog, pid);
}

/** MESSAGES emails in the outbox, each carrying a live code of its own as the service's do (the worker checks it); answers when they were committed. */
async function queueBacklog(): Promise<number> {
  const now = new Date();
  const codeIds = await liveCodes(now);
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < MESSAGES; i++) {
      const m = mail(i);
      await enqueue(
        trx,
        {
          userId: randomUUID(),
          channel: 'email',
          recipient: m.to,
          purpose: 'email_verification',
          subject: m.subject,
          text: m.text,
          html: null,
          otp: String(100000 + i),
          expiresAt: new Date(now.getTime() + 600_000),
          codeId: codeIds[i],
        },
        now,
        seal,
      );
    }
  });
  return performance.now();
}

/** A live code for each message of a backlog, each of an account of its own (a code has one email). */
async function liveCodes(now: Date): Promise<string[]> {
  const expires = new Date(now.getTime() + 600_000);
  const { rows } = await sql<{ id: string }>`
    WITH account AS (
      INSERT INTO users (email, phone, first_name, last_name, password_hash, created_at, updated_at)
      SELECT 'drain-' || ${now.getTime()}::text || '-' || g || '@example.test', '+2782' || lpad(g::text, 7, '0'),
        'Drain', 'Bench', NULL, ${now}, ${now}
      FROM generate_series(1, ${MESSAGES}::int) AS g
      RETURNING id, email
    )
    INSERT INTO otp_codes (user_id, purpose, destination, code_hash, expires_at, created_at)
    SELECT id, 'email_verification', email, 'not a code', ${expires}, ${now} FROM account
    RETURNING id`.execute(db);
  return rows.map((r) => r.id);
}

/** `panic-api worker` as production runs it (LOG_LEVEL info, its log thrown away), on the same database. */
async function startWorkerProcess(): Promise<ChildProcess> {
  const { BIN, EMPTY_CWD } = await import('../test/support/cli.ts'); // builds dist/ first
  const args = (process.env.BENCH_WORKER_ARGS ?? '').split(/\s+/).filter(Boolean);
  const worker = spawn(process.execPath, [...args, BIN, 'worker'], {
    cwd: EMPTY_CWD,
    env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info', DATABASE_URL: config.DATABASE_URL, ...workerEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  worker.on('exit', (code, signal) => {
    if (code && signal !== 'SIGTERM') console.error(`panic-api worker exited with ${code}`);
  });
  // A benchmark stopped half-way (Ctrl-C, a timeout) takes its worker with it, not leaves it running.
  process.once('exit', () => worker.kill('SIGTERM'));
  // Ready once it listens: its start-up (loading, migrating, connecting) then weighs on nothing measured.
  while (
    !(
      await sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`.execute(db)
    ).rows.length
  )
    await new Promise((r) => setTimeout(r, 50));
  return worker;
}

async function stopWorkerProcess(worker: ChildProcess): Promise<void> {
  worker.kill('SIGTERM');
  await once(worker, 'exit');
}

const drainer = onServer ? await startWorkerProcess() : undefined;
if (!drainer) api.worker.start();
const commitsBefore = onServer ? await commits() : 0;
const rounds: Array<{ baseline: Drain; worker: Drain }> = [];
for (let i = 0; i < ROUNDS; i++) {
  const baseline = await baselineDrain();
  const worker = await workerDrain(drainer?.pid);
  rounds.push({ baseline, worker });
}
pooled.close();
// A process's statements are counted once its connections close: each writes its statistics then.
if (drainer) await stopWorkerProcess(drainer);
const transactions = onServer ? ((await commits()) - commitsBefore) / (ROUNDS * MESSAGES) : 0;

// --- time to inbox -----------------------------------------------------------------------------
const child = onServer ? await startWorkerProcess() : undefined;
const bare: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const single = nodemailer.createTransport(smtpTransportOptions(config));
  const t = performance.now();
  await single.sendMail(mail(i));
  bare.push(performance.now() - t);
  single.close();
}

const person = {
  email: 'inbox@example.test',
  phone: '+27825550123',
  first_name: 'Thandi',
  last_name: 'Mokoena',
  password: 'bench password 1',
};
await fetch(`${base}/api/v1/auth/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(person),
});
await arrived(smtp.messages.length + 1);
// From the request, not the answer: the answer waits for the even-answer floor (SECURITY.md) while
// the code is already on its way, so the mail often arrives first.
const toInbox: number[] = [];
const toAnswer: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const before = smtp.messages.length;
  const sent = performance.now();
  const inbox = arrived(before + 1).then((at) => at - sent);
  const res = await fetch(`${base}/api/v1/auth/resend-verification`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: person.email }),
  });
  await res.text();
  toAnswer.push(performance.now() - sent);
  toInbox.push(await inbox);
}

const bareP50 = percentile(bare, 50);
const inboxP50 = percentile(toInbox, 50);
const ms = (x: number) => `${x.toFixed(2)} ms`;
console.log(
  `\n${api.handle.kind}${child ? ', `panic-api worker` in a process of its own' : ', worker in the API process'}, SMTP_MAX_CONNECTIONS=${config.SMTP_MAX_CONNECTIONS}, DELIVERY_CONCURRENCY=${config.DELIVERY_CONCURRENCY}\n`,
);
const ratioOf = (r: (typeof rounds)[number], key: 'rate' | 'whole') => r.worker[key] / r.baseline[key];
for (const [i, r] of rounds.entries()) {
  console.log(
    `round ${i + 1}: nodemailer pooled ${r.baseline.rate.toFixed(0)}/s (${r.baseline.whole.toFixed(0)}/s from the hand-off, CPU ${ms(r.baseline.cpu)} a message with the SMTP server's), worker ${r.worker.rate.toFixed(0)}/s (${r.worker.whole.toFixed(0)}/s${onServer ? `, its process's CPU ${ms(r.worker.cpu)} a message` : ''}), ratio ${ratioOf(r, 'rate').toFixed(2)} (${ratioOf(r, 'whole').toFixed(2)})`,
  );
}
console.log(
  `drain of ${MESSAGES} emails      median of ${ROUNDS} rounds: ratio ${median(rounds.map((r) => ratioOf(r, 'rate'))).toFixed(2)} from the first arrival, ${median(rounds.map((r) => ratioOf(r, 'whole'))).toFixed(2)} from the hand-off (goal ≥ 0.80)${onServer ? `; ${transactions.toFixed(2)} transactions a message in the database (the worker's start-up and the benchmark's own few included)` : ''}`,
);
console.log(
  `time to inbox, p50 of ${SAMPLES}  bare SMTP send ${bareP50.toFixed(1)} ms, request → inbox ${inboxP50.toFixed(1)} ms (p90 ${percentile(toInbox, 90).toFixed(1)}; the answer came at ${percentile(toAnswer, 50).toFixed(1)}), ratio ${(inboxP50 / bareP50).toFixed(2)} (goal ≤ 2)`,
);

if (child) await stopWorkerProcess(child);
await api.close();
await smtp.close();
