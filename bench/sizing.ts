/**
 * Database size per million users, on the PostgreSQL server (README, "Sizing"): not a test, it prints.
 *
 * BENCH_PEOPLE people go through the whole service as an app does (register, verify the email, sign in
 * on two devices, each with its user agent and network, refresh, verify the phone by SMS, a wrong
 * password, a password reset asked for and not used), with a webhook endpoint that takes every
 * webhook, so every row is one the service wrote itself; each row is then copied BENCH_COPIES times
 * with fresh keys, and the tables, with their indexes, are measured per row. The projection applies
 * the retention rules (README, "Retention") to the usage written in USAGE.
 *
 *   npm run bench:sizing     # needs the PostgreSQL server of the tests (TEST_PG_URL)
 */
import { sql } from 'kysely';
import { expectStatus } from '../test/support/api.ts';
import { outboxDrained, registered, startStack } from '../test/support/stack.ts';
import { newWebhookSecret, startWebhookReceiver } from '../test/support/webhook-receiver.ts';
import { waitUntil } from '../test/support/wait.ts';
import { RETENTION_TABLES, type RetentionTable } from '../src/platform/db/retention.ts';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 100);
const COPIES = Number(process.env.BENCH_COPIES ?? 200);

/** The two devices each person signs in on: user agents of about 120 characters (at most 200 are kept). */
const DEVICES = [
  'Mozilla/5.0 (Linux; Android 14; SM-A546E Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) PanicApp/3.2.1',
  'PanicApp/3.2.1 (com.panic.app; build:3210; iOS 17.4.1) Alamofire/5.9.1 Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X)',
];
/** Each device's address, through the one proxy the service trusts: an IPv4 /24 for one, an IPv6 /48 for the other. */
const addressOf = (n: number, device: number) =>
  device === 0 ? `41.13.${n % 250}.${(n * 7) % 250}` : `2c0f:f4c0:${(n + 1).toString(16)}:1::${device}`;

/** A table measured apart from the retention rules: a message's events go with their message. */
type Measured = RetentionTable | 'message_events';

/**
 * Rows kept per user at steady state under the retention rules, for users who each sign in on two
 * devices that refresh daily and get three messages a month (registration, login trouble, a new phone).
 * message_events' rows per user is three times the events per message the service wrote (set below).
 */
const USAGE: Record<Measured, { perUser: number; why: string }> = {
  users: { perUser: 1, why: 'every account; unverified ones go after 72 h' },
  sessions: { perUser: 2, why: 'two devices, each refreshing within 30 days' },
  refresh_tokens: { perUser: 4, why: "per session the token in use and yesterday's used one" },
  messages: { perUser: 3, why: 'three messages a month, kept 30 days (MESSAGE_RETENTION_DAYS)' },
  message_events: { perUser: 0, why: "those messages' delivery events, which go with their message" },
  otp_codes: { perUser: 0.1, why: "codes alive or counting today's wrong guesses" },
  otp_long_codes: { perUser: 0.01, why: 'emails of the last hour whose long code is unused' },
  login_failures: { perUser: 0.05, why: 'addresses with failed logins within a day' },
  account_events: {
    perUser: 100,
    why: 'about 8 a month (the changes and sign-ins of the three codes, a sign-in on a new device, a wrong password, a logout), kept 365 days (ACCOUNT_EVENT_RETENTION_DAYS)',
  },
  webhook_deliveries: {
    perUser: 0.2,
    why: 'per endpoint, the webhooks of 30 days (MESSAGE_RETENTION_DAYS): 3 for each account registered (5 % of accounts a month), one for a changed phone or email (1 account in 20 a month)',
  },
};
const TABLES: Measured[] = [...RETENTION_TABLES, 'message_events'];

const secret = newWebhookSecret();
const receiver = await startWebhookReceiver(secret);
const stack = await startStack({
  db: 'postgres',
  env: {
    LOG_LEVEL: 'silent',
    TRUST_PROXY: '1',
    WEBHOOK_URLS: `${receiver.url.replace(/\/$/, '')}/hooks/panic`,
    WEBHOOK_SECRET: secret,
  },
});
const db = stack.runtime.services.db;
try {
  for (let i = 0; i < PEOPLE; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, PEOPLE - i) }, async (_, k) => {
        const n = i + k;
        const from = (device: number) => ({
          'user-agent': DEVICES[device],
          'x-forwarded-for': addressOf(n, device),
        });
        const { p, code } = await registered(stack, `size${n}`);
        expectStatus(await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: code }), 200);
        const signIns = [];
        for (const device of [0, 1]) {
          const login = await stack.api(
            'POST',
            '/api/v1/auth/login',
            { email: p.email, password: p.password },
            undefined,
            from(device),
          );
          const { refresh_token } = expectStatus(login, 200);
          const refreshed = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token }, undefined, from(device));
          signIns.push(expectStatus(refreshed, 200).access_token);
        }
        expectStatus(await stack.api('POST', '/api/v1/users/verify-phone', {}, signIns[0], from(0)), 200);
        const otp = await stack.smsCode(p.phone);
        expectStatus(await stack.api('POST', '/api/v1/users/verify-otp', { otp }, signIns[0], from(0)), 200);
        await stack.api(
          'POST',
          '/api/v1/auth/login',
          { email: p.email, password: 'not the password' },
          undefined,
          from(1),
        );
        expectStatus(
          await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email }, undefined, from(1)),
          200,
        );
        await stack.emailCode(p.email, 2);
      }),
    );
  }
  // every message and webhook in its final state (a message's body redacted as outside development)
  await outboxDrained(stack);
  await waitUntil(
    async () => {
      const { rows } = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'delivered'`.execute(db);
      return rows[0].n === 0;
    },
    { timeoutMs: 30_000, what: 'every webhook delivered' },
  );
  await Promise.all([stack.runtime.worker.stop(), stack.runtime.webhooks.stop()]);

  // Copies with fresh keys: the unique columns get a copy number, references follow their rows.
  const map = (name: string, select: string) => sql.raw(`CREATE TEMP TABLE ${name} AS ${select}`).execute(db);
  await map('umap', `SELECT u.id AS old, gen_random_uuid() AS new, g FROM users u, generate_series(1, ${COPIES}) g`);
  await map(
    'smap',
    'SELECT s.id AS old, gen_random_uuid() AS new, m.new AS user_new, m.g FROM sessions s JOIN umap m ON m.old = s.user_id',
  );
  await map(
    'cmap',
    'SELECT c.id AS old, gen_random_uuid() AS new, m.new AS user_new, m.g FROM otp_codes c JOIN umap m ON m.old = c.user_id',
  );
  await map(
    'mmap',
    'SELECT t.id AS old, gen_random_uuid() AS new, m.new AS user_new, m.g FROM messages t JOIN umap m ON m.old = t.user_id',
  );
  await map(
    'emap',
    `SELECT e.seq AS old, nextval(pg_get_serial_sequence('account_events', 'seq')) AS new, m.new AS user_new, m.g FROM account_events e JOIN umap m ON m.old = e.user_id`,
  );
  const { rows: unowned } = await sql<{
    n: number;
  }>`SELECT (SELECT count(*) FROM messages WHERE user_id IS NULL) + (SELECT count(*) FROM messages WHERE waits_for IS NOT NULL) AS n`.execute(
    db,
  );
  if (Number(unowned[0].n))
    throw new Error('a message without its account, or waiting for another: the copies would miss it');
  await sql`CREATE TEMP SEQUENCE phones`.execute(db);

  /** Copies `from`'s rows (aliased t) into `table`, each column as it is unless `overrides` says; an identity `seq` given by the map. */
  const copy = async (table: string, from: string, overrides: Record<string, string>, skip: string[] = []) => {
    const { rows } = await sql<{
      column_name: string;
    }>`SELECT column_name FROM information_schema.columns WHERE table_name = ${table} AND table_schema = 'public' ORDER BY ordinal_position`.execute(
      db,
    );
    const names = rows.map((r) => r.column_name).filter((c) => !skip.includes(c));
    const exprs = names.map((c) => overrides[c] ?? `t.${c}`);
    const overriding = 'seq' in overrides ? 'OVERRIDING SYSTEM VALUE' : '';
    await sql
      .raw(`INSERT INTO ${table} (${names.join(', ')}) ${overriding} SELECT ${exprs.join(', ')} FROM ${from}`)
      .execute(db);
  };
  await copy('users', 'users t JOIN umap m ON m.old = t.id', {
    id: 'm.new',
    email: `m.g || '.' || t.email`,
    phone: `'+2782' || lpad(nextval('phones')::text, 7, '0')`,
  });
  await copy('sessions', 'sessions t JOIN smap m ON m.old = t.id', { id: 'm.new', user_id: 'm.user_new' });
  await copy('refresh_tokens', 'refresh_tokens t JOIN smap m ON m.old = t.session_id', {
    token_hash: `encode(sha256((t.token_hash || m.g)::bytea), 'hex')`,
    session_id: 'm.new',
  });
  await copy('otp_codes', 'otp_codes t JOIN cmap m ON m.old = t.id', { id: 'm.new', user_id: 'm.user_new' });
  await copy('otp_long_codes', 'otp_long_codes t JOIN umap m ON m.old = t.user_id', {
    id: 'gen_random_uuid()',
    user_id: 'm.new',
  });
  await copy(
    'messages',
    'messages t JOIN mmap m ON m.old = t.id LEFT JOIN cmap c ON c.old = t.code_id AND c.g = m.g',
    // a code used and removed leaves its messages' code_id behind: a fresh one keeps them apart
    {
      id: 'm.new',
      user_id: 'm.user_new',
      recipient: `m.g || '.' || t.recipient`,
      code_id: 'CASE WHEN t.code_id IS NULL THEN NULL ELSE coalesce(c.new, gen_random_uuid()) END',
    },
  );
  await copy('message_events', 'message_events t JOIN mmap m ON m.old = t.message_id', { message_id: 'm.new' }, ['id']);
  await copy('login_failures', `login_failures t, generate_series(1, ${COPIES}) g`, { email: `g || '.' || t.email` });
  await copy('account_events', 'account_events t JOIN emap m ON m.old = t.seq', {
    seq: 'm.new',
    id: 'gen_random_uuid()',
    user_id: 'm.user_new',
  });
  await copy('webhook_deliveries', 'webhook_deliveries t JOIN emap m ON m.old = t.event_seq', {
    id: 'gen_random_uuid()',
    event_seq: 'm.new',
    user_id: 'm.user_new',
  });
  await sql`VACUUM ANALYZE`.execute(db);

  const measured = async (table: string) => {
    const { rows } = await sql<{
      n: number;
      bytes: string;
    }>`SELECT count(*)::int AS n, pg_total_relation_size(${table}::regclass)::text AS bytes FROM ${sql.table(table)}`.execute(
      db,
    );
    return { n: rows[0].n, perRow: Number(rows[0].bytes) / Math.max(1, rows[0].n) };
  };
  const perMessage = (await measured('message_events')).n / Math.max(1, (await measured('messages')).n);
  USAGE.message_events.perUser = Number((USAGE.messages.perUser * perMessage).toFixed(1));
  USAGE.message_events.why += ` (${perMessage.toFixed(1)} a message)`;

  let total = 0;
  console.log(`${PEOPLE} people through the service, each row copied ${COPIES}×, measured on PostgreSQL\n`);
  console.log(
    '| table | rows measured | bytes per row (table + indexes) | rows kept per user | because | per million users |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const table of TABLES) {
    const { n, perRow } = await measured(table);
    const perMillion = perRow * USAGE[table].perUser * 1e6;
    total += perMillion;
    console.log(
      `| ${table} | ${n} | ${perRow.toFixed(0)} | ${USAGE[table].perUser} | ${USAGE[table].why} | ${(perMillion / 2 ** 20).toFixed(0)} MiB |`,
    );
  }
  console.log(`| all | | | | | ${(total / 2 ** 30).toFixed(2)} GiB |`);
} finally {
  await stack.close();
  await receiver.close();
}
