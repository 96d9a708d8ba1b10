import { randomBytes, randomInt } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/settings.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createRuntime, type Runtime } from '../../src/runtime/create-runtime.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { readAnswer, serveContract, type TypedApi, type UntypedApi } from './api.ts';
import { createTestDatabase, pgAvailable } from './pg.ts';
import { borrowMigratedDatabase } from './pglite-template.ts';
import { startTwilioServer, type TwilioFixture } from './sms.ts';
import { startSmtpServer, type SmtpFixture, type SmtpOptions } from './smtp.ts';
import { waitUntil } from './wait.ts';

export type DbKind = 'pglite' | 'postgres';

/** PGlite always; the PostgreSQL server whenever it answers (always in CI, where its absence fails). */
export async function databaseKinds(): Promise<DbKind[]> {
  return (await pgAvailable()) ? ['pglite', 'postgres'] : ['pglite'];
}

/** The settings that point the service at an SMTP fixture (self-signed certificate allowed). */
export function smtpEnv(smtp: SmtpFixture): Record<string, string> {
  return {
    SMTP_SERVER: smtp.host,
    SMTP_PORT: String(smtp.port),
    SMTP_USERNAME: smtp.username,
    SMTP_PASSWORD: smtp.password,
    SMTP_TLS_REJECT_UNAUTHORIZED: 'false',
    FROM_EMAIL: 'Panic System <no-reply@panic.test>',
  };
}

/** The settings that point the service at a Twilio fixture. */
export function twilioEnv(sms: TwilioFixture): Record<string, string> {
  return {
    SMS_PROVIDER: 'twilio',
    SMS_API_URL: sms.messagesUrl,
    SMS_ACCOUNT_SID: sms.accountSid,
    SMS_API_KEY: sms.authToken,
    SMS_FROM: '+15005550006',
  };
}

export interface Stack {
  baseUrl: string;
  runtime: Runtime;
  smtp: SmtpFixture;
  sms: TwilioFixture;
  /** Every log line the service wrote, as text. */
  logs: string[];
  /** A call of the contract, typed by it (test/support/api.ts). */
  api: TypedApi;
  /** Any other call: routes outside the contract, bodies it refuses on purpose. */
  request: UntypedApi;
  /** The code in the newest email to `to` (waits for count such mails). */
  emailCode(to: string, count?: number): Promise<string>;
  smsCode(to: string, count?: number): Promise<string>;
  close(): Promise<void>;
}

export interface StackOptions {
  db?: DbKind;
  env?: Record<string, string>;
  clock?: Clock;
  /** Leave the worker stopped (tests that drive delivery by hand). */
  noWorker?: boolean;
  smtp?: SmtpOptions;
  /** Rewrites the fresh PostgreSQL database's URL the service gets (e.g. through a fault proxy). */
  databaseUrl?: (url: string) => string;
}

/** A code of the same length that is certainly not `code` (a different one for each salt below 10^length). */
export const wrongCode = (code: string, salt = 1): string =>
  String((Number(code) + salt) % 10 ** code.length).padStart(code.length, '0');

/** The first code-like run of digits in a message. */
export const codeIn = (text: string): string => {
  const match = text.match(/\b(\d{4,10})\b/);
  if (!match) throw new Error(`no code in message: ${text}`);
  return match[1];
};

/**
 * The whole service on a random port, with a real SMTP server (STARTTLS + AUTH) and a Twilio-speaking
 * HTTP server as its providers, on PGlite in memory or a fresh database on the PostgreSQL server.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const smtp = await startSmtpServer(opts.smtp);
  const sms = await startTwilioServer();
  const pgdb = opts.db === 'postgres' ? await createTestDatabase() : undefined;
  const config = loadConfig({
    APP_ENV: 'test',
    LOG_LEVEL: 'info',
    ...(pgdb ? { DATABASE_URL: opts.databaseUrl?.(pgdb.url) ?? pgdb.url } : { DATA_DIR: 'memory://' }),
    ...smtpEnv(smtp),
    ...twilioEnv(sms),
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    OTP_MAX_SENDS_PER_HOUR: '1000',
    DELIVERY_POLL_MS: '50',
    DELIVERY_RETRY_BASE_SECONDS: '0.05',
    ...opts.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  // An in-memory database is one borrowed (emptied) from an earlier stack of this process, if any.
  const borrowed = !config.DATABASE_URL && config.DATA_DIR === 'memory://' ? await borrowMigratedDatabase() : undefined;
  const fixtures = async () => {
    await Promise.all([smtp.close(), sms.close(), borrowed?.giveBack()]);
    await pgdb?.drop();
  };
  let runtime: Runtime;
  let address: string;
  try {
    runtime = await createRuntime({
      config,
      logger: createLogger(config, sink),
      clock: opts.clock,
      database: borrowed?.handle,
    });
  } catch (err) {
    await fixtures();
    throw err;
  }
  try {
    if (!opts.noWorker) {
      runtime.worker.start();
      runtime.webhooks.start();
    }
    address = await runtime.app.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    // A stack that fails to start must not keep the test process alive with its timers and sockets.
    await runtime.close();
    await fixtures();
    throw err;
  }

  serveContract(address, () => runtime.app.swagger());
  const request: UntypedApi = async (method, path, body, token, extra = {}) => {
    const headers: Record<string, string> = { ...extra };
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${address}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return readAnswer(res, { method, url: `${address}${path}` });
  };

  return {
    baseUrl: address,
    runtime,
    smtp,
    sms,
    logs,
    api: request as TypedApi,
    request,
    emailCode: async (to, count) => codeIn((await smtp.waitFor(to, { count })).text),
    smsCode: async (to, count) => codeIn((await sms.waitFor(to, { count })).body),
    async close() {
      await runtime.close();
      await fixtures();
    },
  };
}

let seq = 0;
/** A fresh identity per call, so tests never collide on email or phone. */
export function person(tag = 'user') {
  seq += 1;
  const n = String((Date.now() + seq) % 10_000_000).padStart(7, '0');
  return {
    email: `${tag}.${seq}.${n}@example.test`,
    phone: `+2782${n}`,
    first_name: 'Thandi',
    last_name: 'Mokoena',
    password: 'correct horse battery',
  };
}

/** A random ZA mobile number: person()'s numbers repeat across runs, and Redis keeps its counters between runs. */
export const randomMobile = (): string => `+2782${String(randomInt(10_000_000)).padStart(7, '0')}`;

/** person() with a random email and phone, for tests whose counters (Redis) outlive a run. */
export function randomPerson(tag = 'user') {
  return { ...person(tag), email: `${tag}.${randomBytes(6).toString('hex')}@example.test`, phone: randomMobile() };
}

/**
 * An account inserted as it stands (email and phone verified at `at`, or neither), never sent a code,
 * without a password: registering through the API would spend the cooldowns a test is about.
 */
export async function insertedAccount<P extends ReturnType<typeof person>>(
  stack: Stack,
  p: P,
  at: Date,
  verified: boolean,
): Promise<P> {
  await stack.runtime.services.db
    .insertInto('users')
    .values({
      email: p.email,
      phone: p.phone,
      first_name: p.first_name,
      last_name: p.last_name,
      password_hash: null,
      email_verified_at: verified ? at : null,
      phone_verified_at: verified ? at : null,
      created_at: at,
      updated_at: at,
    })
    .execute();
  return p;
}

/** Registers an account (its email not verified yet): the person, the answer, the account's id and the code mailed. */
export async function registered(stack: Stack, tag?: string) {
  const p = person(tag);
  const reg = await stack.api('POST', '/api/v1/auth/register', p);
  if (reg.status !== 201) throw new Error(`register failed: ${reg.text}`);
  return { p, reg, userId: reg.body.user.id, code: await stack.emailCode(p.email) };
}

/** Registers and verifies an account, and logs it in. */
export async function verifiedLogin(stack: Stack, tag?: string) {
  const { p, code: otp } = await registered(stack, tag);
  const ver = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp });
  if (ver.status !== 200) throw new Error(`verify failed: ${ver.text}`);
  const login = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
  if (login.status !== 200) throw new Error(`login failed: ${login.text}`);
  return { person: p, tokens: login.body };
}

/** A verified account, logged in, asks for a code to its phone (POST /users/verify-phone answered 200). */
export async function phoneCodeAsked(stack: Stack, tag?: string) {
  const account = await verifiedLogin(stack, tag);
  const asked = await stack.api('POST', '/api/v1/users/verify-phone', {}, account.tokens.access_token);
  if (asked.status !== 200) throw new Error(`verify-phone failed: ${asked.text}`);
  return account;
}

/** A verified account, logged in, whose phone is verified too (by the SMS code it was sent). */
export async function phoneVerified(stack: Stack, tag?: string) {
  const account = await phoneCodeAsked(stack, tag);
  const otp = await stack.smsCode(account.person.phone);
  const ok = await stack.api('POST', '/api/v1/users/verify-otp', { otp }, account.tokens.access_token);
  if (ok.status !== 200) throw new Error(`verify-otp failed: ${ok.text}`);
  return account;
}

/** Waits until the outbox has nothing left to deliver: after this, what reached the fixtures is final. */
export async function outboxDrained(stack: Stack, timeoutMs = 15_000): Promise<void> {
  await waitUntil(
    async () => {
      const row = await stack.runtime.services.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('status', 'in', ['queued', 'sending'])
        .executeTakeFirstOrThrow();
      return Number(row.n) === 0;
    },
    { timeoutMs, what: 'the outbox to drain' },
  );
}
