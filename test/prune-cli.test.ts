/**
 * `panic-api prune [--dry-run] [--json]`, run as the real command in a child process against a
 * PGlite folder and a database on the PostgreSQL server, holding rows made 40 days ago.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordLoginFailure } from '../src/accounts/login-throttle.ts';
import { openDatabase, type DbOptions } from '../src/platform/db/client.ts';
import { migrateToLatest } from '../src/platform/db/migrations.ts';
import { claimDue, enqueue, recordOutcome } from '../src/delivery/outbox.ts';
import { createMessageSeal } from '../src/delivery/sealed-body.ts';
import { DEV_OTP_SECRET } from '../src/config/secrets.ts';
import { runCli } from './support/cli.ts';
import { freePort } from './support/net.ts';
import { createTestDatabase, pgAvailable } from './support/pg.ts';

const DAY = 86_400_000;
// A child that opens PGlite on a loaded 2-core machine can take a while.
const CHILD_MS = 90_000;

/** A final message and a forgotten login failure, both 40 days old, and a message still queued. */
async function seed(where: DbOptions): Promise<void> {
  const handle = await openDatabase(where);
  try {
    await migrateToLatest(handle.db);
    const then = new Date(Date.now() - 40 * DAY);
    const message = (recipient: string) =>
      handle.db.transaction().execute((trx) =>
        enqueue(
          trx,
          {
            userId: randomUUID(),
            channel: 'email',
            recipient,
            purpose: 'email_verification',
            subject: 's',
            text: 't',
            html: null,
            otp: '123456',
            expiresAt: then,
          },
          then,
          createMessageSeal(DEV_OTP_SECRET),
        ),
      );
    await message('sent@example.test');
    const [sent] = await claimDue(handle.db, 'email', then, 60, 10);
    await recordOutcome(handle.db, sent, { status: 'sent', providerId: 'p-1' }, then, false);
    await message('queued@example.test');
    await recordLoginFailure(handle.db, 'guessed@example.test', then, 5);
  } finally {
    await handle.close();
  }
}

/** The person's table: the headline, then each table's count and rule. */
function assertTable(stdout: string, headline: string): void {
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines[0], headline);
  assert.equal(lines.length, 7, 'a headline and one line per table');
  assert.match(
    stdout,
    /^ {2}messages {8}1 {2}final \(not queued or sending\) for more than MESSAGE_RETENTION_DAYS \(30 days\)$/m,
  );
  assert.match(stdout, /^ {2}login_failures {2}1 {2}/m);
  assert.match(stdout, /^ {2}users {11}0 {2}accounts never verified/m);
}

async function recipients(where: DbOptions): Promise<string[]> {
  const handle = await openDatabase(where);
  try {
    return (await handle.db.selectFrom('messages').select('recipient').execute()).map((m) => m.recipient);
  } finally {
    await handle.close();
  }
}

// Children are slow to start on a loaded machine, and the rules are tested on both databases in
// retention.test.ts: the command's whole run is tested once, on the server when there is one.
const db = (await pgAvailable()) ? 'postgres' : 'pglite';

describe(`panic-api prune (${db})`, () => {
  let tmp: string;
  let drop: (() => Promise<void>) | undefined;
  let where: DbOptions;
  let env: Record<string, string>;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'panic-prune-'));
    if (db === 'postgres') {
      const pg = await createTestDatabase();
      drop = pg.drop;
      where = { url: pg.url };
    } else {
      where = { dataDir: join(tmp, 'data') };
    }
    await seed(where);
    env = {
      APP_ENV: 'test',
      LOG_LEVEL: 'silent',
      ...(where.url ? { DATABASE_URL: where.url } : { DATA_DIR: where.dataDir! }),
      API_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    };
  });
  after(async () => {
    await drop?.();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('--dry-run --json counts and removes nothing; prune removes exactly that and says so; queued messages stay', {
    timeout: 4 * CHILD_MS,
  }, async () => {
    const expected = {
      messages: 1,
      refresh_tokens: 0,
      sessions: 0,
      otp_codes: 0,
      otp_long_codes: 0,
      login_failures: 1,
      webhook_deliveries: 0,
      account_events: 0,
      users: 0,
    };
    const dry = await runCli(['prune', '--dry-run', '--json'], env, CHILD_MS);
    assert.equal(dry.code, 0, dry.stderr);
    const report = JSON.parse(dry.stdout);
    assert.deepEqual(report, { dry_run: true, removed: expected });
    assert.deepEqual(Object.keys(report.removed), [
      'messages',
      'refresh_tokens',
      'sessions',
      'otp_codes',
      'otp_long_codes',
      'login_failures',
      'webhook_deliveries',
      'account_events',
      'users',
    ]);

    const run = await runCli(['prune'], env, CHILD_MS);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'Removed 2 rows.', 'the dry run had removed nothing');
    assert.equal(lines.length, 10, 'a headline and one line per table');
    assert.match(
      run.stdout,
      /^ {2}messages {12}1 {2}final \(not queued or sending\) for more than MESSAGE_RETENTION_DAYS \(30 days\)$/m,
    );
    assert.match(run.stdout, /^ {2}login_failures {6}1 {2}/m);
    assert.match(run.stdout, /^ {2}users {15}0 {2}accounts never verified/m);
    assert.deepEqual(await recipients(where), ['queued@example.test']);

    const again = await runCli(['prune', '--dry-run'], env, CHILD_MS);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Dry run: 0 rows would be removed; nothing was removed\.\n {2}messages {12}0 {2}/);
  });
});

describe('panic-api prune, embedded database', () => {
  it('refuses (exit 1) while a server answers at API_BASE_URL (it holds the folder and prunes it itself), and a folder with no database', {
    timeout: 2 * CHILD_MS,
  }, async () => {
    const dataDir = join(tmpdir(), `panic-prune-none-${process.pid}`);
    const server: Server = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const busy = await runCli(['prune'], { APP_ENV: 'test', DATA_DIR: dataDir, API_BASE_URL: base }, CHILD_MS);
      assert.equal(busy.code, 1);
      assert.match(
        busy.stderr,
        new RegExp(`^A panic-api server answers at ${base.replace(/\./g, '\\.')}: .* prunes every 10 minutes itself`),
      );
    } finally {
      server.close();
    }
    const empty = await runCli(
      ['prune'],
      { APP_ENV: 'test', DATA_DIR: dataDir, API_BASE_URL: `http://127.0.0.1:${await freePort()}` },
      CHILD_MS,
    );
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^No database in DATA_DIR=.*: nothing to prune/);
    assert.equal(existsSync(dataDir), false, 'and none was made');
  });
});

describe('panic-api prune: wrong arguments', () => {
  it('a wrong option or setting exits 2 with the usage line, before opening anything', {
    timeout: 2 * CHILD_MS,
  }, async () => {
    const env = { APP_ENV: 'test', DATA_DIR: join(tmpdir(), 'panic-prune-never-opened') };
    const bad = await runCli(['prune', '--dry'], env, CHILD_MS);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /'--dry'/);
    assert.match(bad.stderr, /^Usage: panic-api prune \[--dry-run\] \[--json\]$/m);
    const setting = await runCli(['prune', '--dry-run'], { ...env, MESSAGE_RETENTION_DAYS: '0' }, CHILD_MS);
    assert.equal(setting.code, 2);
    assert.match(setting.stderr, /MESSAGE_RETENTION_DAYS/);
    assert.equal(existsSync(env.DATA_DIR), false);
  });
});
