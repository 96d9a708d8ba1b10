/**
 * Database size per million users, on the PostgreSQL server (README, "Sizing"): not a test, it prints.
 *
 * BENCH_PEOPLE people go through the whole service (register, verify the email, log in, refresh,
 * verify the phone by SMS), so every row is one the service wrote itself; each row is then copied
 * BENCH_COPIES times with fresh keys, and the tables, with their indexes, are measured per row. The
 * projection applies the retention rules (README, "Retention") to the usage written in USAGE.
 *
 *   npm run bench:sizing     # needs the PostgreSQL server of the tests (TEST_PG_URL)
 */
import { sql } from 'kysely';
import { expectStatus } from '../test/support/api.ts';
import { verifiedLogin, startStack } from '../test/support/stack.ts';
import { RETENTION_TABLES, type RetentionTable } from '../src/platform/db/retention.ts';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 100);
const COPIES = Number(process.env.BENCH_COPIES ?? 200);

/**
 * Rows kept per user at steady state under the retention rules, for users who each sign in on two
 * devices that refresh daily and get three messages a month (registration, login trouble, a new phone).
 */
const USAGE: Record<RetentionTable, { perUser: number; why: string }> = {
  users: { perUser: 1, why: 'every account; unverified ones go after 72 h' },
  sessions: { perUser: 2, why: 'two devices, each refreshing within 30 days' },
  refresh_tokens: { perUser: 4, why: "per session the token in use and yesterday's used one" },
  messages: { perUser: 3, why: 'three messages a month, kept 30 days (MESSAGE_RETENTION_DAYS)' },
  otp_codes: { perUser: 0.1, why: "codes alive or counting today's wrong guesses" },
  otp_long_codes: { perUser: 0.01, why: 'emails of the last hour whose long code is unused' },
  login_failures: { perUser: 0.05, why: 'addresses with failed logins within a day' },
  account_events: {
    perUser: 110,
    why: 'two sign-ins a week and a few other changes, kept a year (ACCOUNT_EVENT_RETENTION_DAYS)',
  },
  webhook_deliveries: {
    perUser: 0.1,
    why: "per endpoint, the month's few webhook kinds (registrations, verifications)",
  },
};

const stack = await startStack({ db: 'postgres', env: { LOG_LEVEL: 'silent' } });
const db = stack.runtime.services.db;
try {
  for (let i = 0; i < PEOPLE; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, PEOPLE - i) }, async (_, k) => {
        const { person, tokens } = await verifiedLogin(stack, `size${i + k}`);
        const refreshed = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token });
        const access = expectStatus(refreshed, 200).access_token;
        await stack.api('POST', '/api/v1/users/verify-phone', {}, access);
        const otp = await stack.smsCode(person.phone);
        const ok = await stack.api('POST', '/api/v1/users/verify-otp', { otp }, access);
        if (ok.status !== 200) throw new Error(`verify-otp: ${ok.text}`);
        await stack.api('POST', '/api/v1/auth/login', { email: person.email, password: 'not the password' });
      }),
    );
  }
  // every message in its final state, its body redacted as outside development
  await stack.runtime.worker.stop();

  // Copies with fresh keys: the unique columns get a copy number, references follow their rows.
  await sql`CREATE TEMP TABLE umap AS SELECT u.id AS old, gen_random_uuid() AS new, g FROM users u, generate_series(1, ${COPIES}) g`.execute(
    db,
  );
  await sql`CREATE TEMP TABLE smap AS SELECT s.id AS old, gen_random_uuid() AS new, m.new AS user_new, m.g FROM sessions s JOIN umap m ON m.old = s.user_id`.execute(
    db,
  );
  await sql`CREATE TEMP SEQUENCE phones`.execute(db);
  const copy = async (table: string, from: string, overrides: Record<string, string>) => {
    const { rows } = await sql<{
      column_name: string;
    }>`SELECT column_name FROM information_schema.columns WHERE table_name = ${table} AND table_schema = 'public' ORDER BY ordinal_position`.execute(
      db,
    );
    const names = rows.map((r) => r.column_name);
    const exprs = names.map((c) => overrides[c] ?? `t.${c}`);
    await sql.raw(`INSERT INTO ${table} (${names.join(', ')}) SELECT ${exprs.join(', ')} FROM ${from}`).execute(db);
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
  await copy('otp_codes', 'otp_codes t JOIN umap m ON m.old = t.user_id', {
    id: 'gen_random_uuid()',
    user_id: 'm.new',
  });
  await copy('messages', `messages t, generate_series(1, ${COPIES}) g`, {
    id: 'gen_random_uuid()',
    recipient: `g || '.' || t.recipient`,
  });
  await copy('login_failures', `login_failures t, generate_series(1, ${COPIES}) g`, { email: `g || '.' || t.email` });
  await sql`VACUUM ANALYZE`.execute(db);

  let total = 0;
  console.log(`${PEOPLE} people through the service, each row copied ${COPIES}×, measured on PostgreSQL\n`);
  console.log(
    '| table | rows measured | bytes per row (table + indexes) | rows kept per user | because | per million users |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const table of RETENTION_TABLES) {
    const { rows } = await sql<{
      n: number;
      bytes: string;
    }>`SELECT count(*)::int AS n, pg_total_relation_size(${table}::regclass)::text AS bytes FROM ${sql.table(table)}`.execute(
      db,
    );
    const perRow = Number(rows[0].bytes) / Math.max(1, rows[0].n);
    const perMillion = perRow * USAGE[table].perUser * 1e6;
    total += perMillion;
    console.log(
      `| ${table} | ${rows[0].n} | ${perRow.toFixed(0)} | ${USAGE[table].perUser} | ${USAGE[table].why} | ${(perMillion / 2 ** 20).toFixed(0)} MiB |`,
    );
  }
  console.log(`| all | | | | | ${(total / 2 ** 30).toFixed(2)} GiB |`);
} finally {
  await stack.close();
}
