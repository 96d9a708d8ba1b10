/**
 * Delivery speed of issue 8, as ratios against a baseline run in the same process against the same
 * SMTP server (STARTTLS + AUTH, the test fixture): not a test, it prints.
 *
 * - drain: a backlog of BENCH_MESSAGES emails drained by one worker, against nodemailer with a pool
 *   sending the same number straight to the server (messages/s; goal ≥ 0.60).
 * - time to inbox: from the request (resend-verification) to the email's arrival, against one
 *   bare SMTP send (connect, STARTTLS, AUTH, message); p50 of BENCH_SAMPLES (goal ≤ 2×). With
 *   DATABASE_URL the worker runs in a runtime of its own, as `panic-api worker` does, woken by NOTIFY.
 *
 *   npm run bench:delivery                                  # embedded PGlite in memory
 *   DATABASE_URL=postgres://…/scratch npm run bench:delivery  # a scratch database: it writes messages
 */
import nodemailer from 'nodemailer';
import { loadConfig } from '../src/config/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.ts';
import { enqueue } from '../src/delivery/outbox.ts';
import { smtpTransportOptions } from '../src/delivery/channels/smtp.ts';
import { startSmtpServer } from '../test/support/smtp.ts';
import { smtpEnv } from '../test/support/stack.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);

const smtp = await startSmtpServer();
const config = loadConfig({
  APP_ENV: 'test',
  LOG_LEVEL: 'silent',
  DATABASE_URL: process.env.DATABASE_URL,
  DATA_DIR: 'memory://',
  ...smtpEnv(smtp),
  RATE_LIMIT_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: '1000000',
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_MAX_SENDS_PER_HOUR: '10000',
});
const logger = createLogger(config);
const api = await createRuntime({ config, logger });
// On a server database the worker is another runtime (another process's worth of connections).
const workerRuntime: Runtime = config.DATABASE_URL ? await createRuntime({ config, logger }) : api;
const base = await api.app.listen({ port: 0, host: '127.0.0.1' });
const { db } = api.services;

const arrived = (n: number) =>
  new Promise<void>((resolve) => {
    const check = () => (smtp.messages.length >= n ? resolve() : setTimeout(check, 2));
    check();
  });
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

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
let started = performance.now();
await Promise.all(Array.from({ length: MESSAGES }, (_, i) => pooled.sendMail(mail(i))));
const baselineRate = MESSAGES / ((performance.now() - started) / 1000);
pooled.close();

smtp.messages.length = 0;
const now = new Date();
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
        },
        now,
        api.services.seal,
      );
    }
  });
}
started = performance.now();
workerRuntime.worker.start();
await arrived(MESSAGES);
const workerRate = MESSAGES / ((performance.now() - started) / 1000);

// --- time to inbox -----------------------------------------------------------------------------
const bare: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const once = nodemailer.createTransport(smtpTransportOptions(config));
  const t = performance.now();
  await once.sendMail(mail(i));
  bare.push(performance.now() - t);
  once.close();
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
  const inbox = arrived(before + 1).then(() => performance.now() - sent);
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
  `\n${api.handle.kind}${config.DATABASE_URL ? ', worker in a runtime of its own' : ', worker in the API process'}, SMTP_MAX_CONNECTIONS=${config.SMTP_MAX_CONNECTIONS}, DELIVERY_CONCURRENCY=${config.DELIVERY_CONCURRENCY}\n`,
);
console.log(
  `drain of ${MESSAGES} emails      nodemailer pooled ${baselineRate.toFixed(0)}/s, worker ${workerRate.toFixed(0)}/s, ratio ${(workerRate / baselineRate).toFixed(2)} (goal ≥ 0.60)`,
);
console.log(
  `time to inbox, p50 of ${SAMPLES}  bare SMTP send ${bareP50.toFixed(1)} ms, request → inbox ${inboxP50.toFixed(1)} ms (p90 ${percentile(toInbox, 90).toFixed(1)}; the answer came at ${percentile(toAnswer, 50).toFixed(1)}), ratio ${(inboxP50 / bareP50).toFixed(2)} (goal ≤ 2)`,
);

if (workerRuntime !== api) await workerRuntime.close();
await api.close();
await smtp.close();
