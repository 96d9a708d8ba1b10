/**
 * Delivery speed (issues 5 and 19), as ratios against a baseline run in the same process against the
 * same SMTP server (STARTTLS + AUTH, the test fixture): not a test, it prints.
 *
 * - drain: a backlog of BENCH_MESSAGES emails drained by one worker, against nodemailer with a pool
 *   sending the same number straight to the server (messages/s from the first arrival to the last,
 *   both sides; goal ≥ 0.80). With DATABASE_URL the worker is the real `panic-api worker` (dist/) in
 *   a process of its own, woken by NOTIFY, as in production; on PGlite it runs in the API process.
 * - time to inbox: from the request (resend-verification) to the email's arrival, against one
 *   bare SMTP send (connect, STARTTLS, AUTH, message); p50 of BENCH_SAMPLES (goal ≤ 2×).
 *
 *   npm run bench:delivery                                  # embedded PGlite in memory
 *   DATABASE_URL=postgres://…/scratch npm run bench:delivery  # a scratch database: it writes messages
 *
 * BENCH_WORKER_ARGS passes Node options to the worker's process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`);
 * BENCH_WORKER_ENV, space-separated NAME=value pairs, adds settings to it (e.g. DELIVERY_CONCURRENCY=20).
 */
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

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
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

/** Resolves with the time the n-th email arrived. */
const arrived = (n: number) =>
  new Promise<number>((resolve) => {
    const check = () => (smtp.messages.length >= n ? resolve(performance.now()) : setTimeout(check, 1));
    check();
  });
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
/**
 * Messages per second from the first arrival to the last: neither side's start-up (a pool's
 * handshakes, a process's) counts. `between` is called at both ends (the worker's CPU time).
 */
const drainRate = async (between?: () => void) => {
  const first = await arrived(1);
  between?.();
  const rate = (MESSAGES - 1) / (((await arrived(MESSAGES)) - first) / 1000);
  between?.();
  return rate;
};
/** A process's CPU time (user + system), in ms: /proc counts it in ticks of 10 ms. */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
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

smtp.messages.length = 0;
const pooled = nodemailer.createTransport({
  ...smtpTransportOptions(config),
  pool: true,
  maxConnections: config.SMTP_MAX_CONNECTIONS,
});
const baselineDone = drainRate();
await Promise.all(Array.from({ length: MESSAGES }, (_, i) => pooled.sendMail(mail(i))));
const baselineRate = await baselineDone;
pooled.close();

smtp.messages.length = 0;
const now = new Date();
// Every message carries a live code, as the service's do, so that the worker checks it before sending.
const codeId = await liveCode();
for (let i = 0; i < MESSAGES; i += 100) {
  await db.transaction().execute(async (trx) => {
    for (let j = i; j < Math.min(MESSAGES, i + 100); j++) {
      const m = mail(j);
      await enqueue(
        trx,
        {
          channel: 'email',
          recipient: m.to,
          purpose: 'email_verification',
          subject: m.subject,
          text: m.text,
          html: null,
          otp: String(100000 + j),
          expiresAt: new Date(now.getTime() + 600_000),
          codeId,
        },
        now,
        seal,
      );
    }
  });
}
const cpu: number[] = [];
const commitsBefore = config.DATABASE_URL ? await commits() : 0;
const workerDone = drainRate(() => drainer && cpu.push(cpuMs(drainer.pid!)));
const drainer = config.DATABASE_URL ? await startWorkerProcess() : undefined;
if (!drainer) api.worker.start();
const workerRate = await workerDone;
// A process's statements are counted once its connections close: each writes its statistics then.
if (drainer) await stopWorkerProcess(drainer);
const commitsPerMessage = drainer ? ((await commits()) - commitsBefore) / MESSAGES : 0;
const child = drainer && (await startWorkerProcess());

/** One account's live code (the messages of a backlog may share it: the worker only asks whether it is live). */
async function liveCode(): Promise<string> {
  const user = await db
    .insertInto('users')
    .values({
      email: `drain-${now.getTime()}@example.test`,
      phone: '+27825550100',
      first_name: 'Drain',
      last_name: 'Bench',
      password_hash: null,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const code = await db
    .insertInto('otp_codes')
    .values({
      user_id: user.id,
      purpose: 'email_verification',
      destination: 'drain@example.test',
      code_hash: 'not a code',
      expires_at: new Date(now.getTime() + 600_000),
      created_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return code.id;
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
  return worker;
}

async function stopWorkerProcess(worker: ChildProcess): Promise<void> {
  worker.kill('SIGTERM');
  await once(worker, 'exit');
}

// --- time to inbox -----------------------------------------------------------------------------
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
console.log(
  `\n${api.handle.kind}${child ? ', `panic-api worker` in a process of its own' : ', worker in the API process'}, SMTP_MAX_CONNECTIONS=${config.SMTP_MAX_CONNECTIONS}, DELIVERY_CONCURRENCY=${config.DELIVERY_CONCURRENCY}\n`,
);
console.log(
  `drain of ${MESSAGES} emails      nodemailer pooled ${baselineRate.toFixed(0)}/s, worker ${workerRate.toFixed(0)}/s, ratio ${(workerRate / baselineRate).toFixed(2)} (goal ≥ 0.80)`,
);
if (drainer)
  console.log(
    `the worker's process                CPU ${((cpu[1] - cpu[0]) / (MESSAGES - 1)).toFixed(2)} ms per message while draining, ${commitsPerMessage!.toFixed(2)} transactions per message in the database (its start-up included)`,
  );
console.log(
  `time to inbox, p50 of ${SAMPLES}  bare SMTP send ${bareP50.toFixed(1)} ms, request → inbox ${inboxP50.toFixed(1)} ms (p90 ${percentile(toInbox, 90).toFixed(1)}; the answer came at ${percentile(toAnswer, 50).toFixed(1)}), ratio ${(inboxP50 / bareP50).toFixed(2)} (goal ≤ 2)`,
);

if (child) await stopWorkerProcess(child);
await api.close();
await smtp.close();
