import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Check } from '../src/cli/doctor/types.ts';
import { createMigratedDatabase, createTestDatabase, pgAvailable } from './support/pg.ts';
import { copyMigratedFolder } from './support/pglite-template.ts';
import { startTwilioServer, type TwilioFixture } from './support/sms.ts';
import { startTwilioVoiceServer } from './support/twilio-voice.ts';
import { startMetaWhatsAppServer } from './support/whatsapp.ts';
import { startSmtpServer, type SmtpFixture } from './support/smtp.ts';
import { smtpEnv, startStack, twilioEnv } from './support/stack.ts';
import { runCli } from './support/cli.ts';
import { freePort as closedPort } from './support/net.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD_TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Report {
  ok: boolean;
  checks: Check[];
}

describe('panic-api doctor', () => {
  let smtp: SmtpFixture;
  let twilio: TwilioFixture;
  let tmp: string;
  let deadPort: number;
  /** A healthy test setup; each test breaks one thing. */
  let healthy: Record<string, string>;
  /** The embedded database: a migrated PGlite folder. */
  let pglite: Record<string, string>;
  /** Everything of `healthy` but its database. */
  let services: Record<string, string>;
  let server: { url: string; drop(): Promise<void> } | undefined;

  before(async () => {
    smtp = await startSmtpServer();
    twilio = await startTwilioServer();
    tmp = mkdtempSync(join(tmpdir(), 'panic-doctor-'));
    deadPort = await closedPort();
    // a real, migrated PGlite folder for the database check to open
    pglite = { DATA_DIR: join(tmp, 'data') };
    await copyMigratedFolder(pglite.DATA_DIR);
    // The tests not about the database use a migrated one on the PostgreSQL server when there is one:
    // a doctor child opening PGlite spends twice the CPU of one asking the server.
    if (await pgAvailable()) server = await createMigratedDatabase();
    services = {
      APP_ENV: 'test',
      LOG_LEVEL: 'silent',
      API_BASE_URL: `http://127.0.0.1:${deadPort}`,
      ...smtpEnv(smtp),
      ...twilioEnv(twilio),
    };
    healthy = { ...services, ...(server ? { DATABASE_URL: server.url } : pglite) };
  });
  after(async () => {
    await Promise.all([smtp?.close(), twilio?.close(), server?.drop()]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs `doctor --json`, checks the output is exactly the JSON report and holds no secret value. */
  async function doctor(
    env: Record<string, string>,
  ): Promise<{ code: number | null; report: Report; byName: Record<string, Check> }> {
    const run = await runCli(['doctor', '--json'], env);
    let report: Report;
    try {
      report = JSON.parse(run.stdout) as Report;
    } catch {
      throw new Error(
        `doctor --json did not print JSON (exit ${run.code})\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
      );
    }
    assert.deepEqual(Object.keys(report).sort(), ['checks', 'ok']);
    assert.equal(report.ok, run.code === 0, 'ok matches the exit code');
    for (const secret of [smtp.password, twilio.authToken, 'wrong-password', 'wrong-token']) {
      assert.ok(!run.stdout.includes(secret), `the output holds a secret value: ${secret}`);
    }
    for (const c of report.checks) {
      assert.ok(['ok', 'warn', 'fail'].includes(c.status), JSON.stringify(c));
      assert.ok(c.finding.length > 0);
      if (c.status !== 'ok') assert.ok(c.fix, `${c.name} has no fix`);
    }
    return { code: run.code, report, byName: Object.fromEntries(report.checks.map((c) => [c.name, c])) };
  }

  const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => c.name);

  it('healthy setup (PGlite): every check ok or warn, exit 0, and no mail or SMS sent', async () => {
    const before = { twilioRequests: twilio.requests, mails: smtp.messages.length };
    const { code, report, byName } = await doctor({ ...services, ...pglite, REDIS_URL: 'redis://127.0.0.1:6379' });
    assert.equal(code, 0, JSON.stringify(report, null, 2));
    assert.deepEqual(failures(report), []);
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ['config', 'secrets', 'database', 'smtp', 'sms', 'redis'],
    );
    assert.equal(byName.config.status, 'ok');
    assert.equal(byName.database.status, 'ok', byName.database.finding);
    assert.match(byName.database.finding, /migrated/);
    // the fixture's certificate is self-signed, so verification is off: a warning, but TLS and AUTH worked
    assert.match(byName.smtp.finding, /STARTTLS, login accepted/);
    assert.equal(byName.sms.status, 'ok', byName.sms.finding);
    assert.match(byName.sms.finding, /Twilio accepted the credentials/);
    assert.ok(['ok', 'warn'].includes(byName.redis.status));
    // nothing was sent: one GET of the account resource, no Messages POST, no mail
    assert.equal(twilio.requests - before.twilioRequests, 1, 'only the account GET reached Twilio');
    assert.equal(twilio.messages.length, 0);
    assert.equal(smtp.messages.length, before.mails);
    assert.equal(smtp.messages.length, 0);
  });

  it('WhatsApp by Meta and calls by Twilio: a line each after sms, both ok, and no message sent nor call made', async () => {
    const meta = await startMetaWhatsAppServer();
    const voice = await startTwilioVoiceServer({
      authToken: twilio.authToken,
      numbers: [{ phoneNumber: '+27110001111', capabilities: { voice: true, sms: false, mms: false, fax: false } }],
    });
    try {
      const { code, report, byName } = await doctor({
        ...healthy,
        PHONE_CHANNELS: 'whatsapp,sms,voice',
        WHATSAPP_PROVIDER: 'meta',
        WHATSAPP_API_URL: meta.messagesUrl,
        WHATSAPP_API_KEY: meta.accessToken,
        WHATSAPP_TEMPLATE: 'panic_code',
        VOICE_PROVIDER: 'twilio',
        VOICE_API_URL: voice.callsUrl,
        VOICE_FROM: '+27110001111',
      });
      assert.equal(code, 0, JSON.stringify(report, null, 2));
      assert.deepEqual(
        report.checks.map((c) => c.name),
        ['config', 'secrets', 'database', 'smtp', 'sms', 'whatsapp', 'voice', 'redis'],
      );
      assert.equal(byName.whatsapp.status, 'ok', byName.whatsapp.finding);
      assert.match(byName.whatsapp.finding, /^Meta accepted the token \(WHATSAPP_API_KEY\)/);
      assert.equal(byName.voice.status, 'ok', byName.voice.finding);
      assert.match(
        byName.voice.finding,
        /VOICE_FROM \+27110001111 is a voice number of the account; no call was made$/,
      );
      assert.ok(!JSON.stringify(report).includes(meta.accessToken), 'the access token is not in the report');
      assert.deepEqual([meta.messages.length, voice.calls.length], [0, 0]);
    } finally {
      await Promise.all([meta.close(), voice.close()]);
    }
  });

  it('healthy setup on a PostgreSQL server: database ok', async (t) => {
    if (!(await pgAvailable())) return t.skip('PostgreSQL not available');
    const pgdb = await createTestDatabase();
    t.after(() => pgdb.drop());
    const env = { ...healthy, DATABASE_URL: pgdb.url };
    const fresh = await doctor(env);
    assert.equal(fresh.byName.database.status, 'warn', 'not migrated yet');
    assert.match(fresh.byName.database.finding, /migrations are pending/);
    assert.match(fresh.byName.database.fix ?? '', /panic-api migrate/);
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const { code, byName } = await doctor(env);
    assert.equal(code, 0);
    assert.equal(byName.database.status, 'ok', byName.database.finding);
    assert.match(byName.database.finding, /^PostgreSQL at postgres:\/\/.* answers and is migrated/);
  });

  it('SMTP on a closed port: fail "not reachable", exit 1', async () => {
    const { code, report, byName } = await doctor({ ...healthy, SMTP_PORT: String(deadPort) });
    assert.equal(code, 1);
    assert.deepEqual(failures(report), ['smtp']);
    assert.match(
      byName.smtp.finding,
      new RegExp(`SMTP server not reachable at 127\\.0\\.0\\.1:${deadPort} \\(ECONNREFUSED`),
    );
    assert.match(byName.smtp.fix ?? '', /SMTP_SERVER and SMTP_PORT/);
    assert.match(byName.smtp.fix ?? '', /firewall/);
  });

  it('SMTP (STARTTLS + AUTH) with a wrong password: fail naming the username or password, exit 1', async () => {
    const failuresBefore = smtp.authFailures;
    const { code, report, byName } = await doctor({ ...healthy, SMTP_PASSWORD: 'wrong-password' });
    assert.equal(code, 1);
    assert.deepEqual(failures(report), ['smtp']);
    assert.match(byName.smtp.finding, /SMTP server refused the username or password \(535 /);
    assert.match(byName.smtp.fix ?? '', /SMTP_USERNAME and SMTP_PASSWORD/);
    assert.equal(smtp.authFailures, failuresBefore + 1, 'the server really saw one AUTH attempt');
  });

  it('SMTP with a self-signed certificate and verification on: fail naming TLS and the certificate', async () => {
    const { code, report, byName } = await doctor({ ...healthy, SMTP_TLS_REJECT_UNAUTHORIZED: 'true' });
    assert.equal(code, 1);
    assert.deepEqual(failures(report), ['smtp']);
    assert.match(
      byName.smtp.finding,
      /TLS handshake failed: the server's certificate is not trusted \(self-signed certificate/,
    );
    assert.match(byName.smtp.fix ?? '', /SMTP_TLS_REJECT_UNAUTHORIZED=false only for a named test server/);
  });

  it('placeholder SMS values from the old guide: fail "SMS credentials are placeholder values", nothing contacted', async () => {
    const guide = {
      SMS_PROVIDER: 'twilio',
      SMS_ACCOUNT_SID: 'YOUR_ACCOUNT_SID',
      SMS_API_KEY: 'your-real-sms-api-key',
      SMS_API_URL: 'https://api.twilio.com/2010-04-01/Accounts/YOUR_ACCOUNT_SID/Messages.json',
    };
    const { code, report, byName } = await doctor({ ...healthy, ...guide });
    assert.equal(code, 1);
    assert.deepEqual(failures(report), ['sms']);
    assert.match(
      byName.sms.finding,
      /^SMS credentials are placeholder values \(SMS_API_URL, SMS_ACCOUNT_SID, SMS_API_KEY\)$/,
    );

    // the same placeholders aimed at the local Twilio server prove that nothing is contacted
    const requests = twilio.requests;
    const local = await doctor({
      ...healthy,
      ...guide,
      SMS_API_URL: twilio.messagesUrl.replace(twilio.accountSid, 'YOUR_ACCOUNT_SID'),
    });
    assert.equal(local.code, 1);
    assert.match(local.byName.sms.finding, /SMS credentials are placeholder values/);
    assert.equal(twilio.requests, requests, 'doctor contacted the SMS provider');
    assert.equal(twilio.messages.length, 0);
  });

  it('Twilio refusing the credentials: fail "Twilio rejected the credentials", still nothing sent', async () => {
    const { code, byName } = await doctor({ ...healthy, SMS_API_KEY: 'wrong-token' });
    assert.equal(code, 1);
    assert.equal(byName.sms.finding, 'Twilio rejected the credentials (SMS_ACCOUNT_SID / SMS_API_KEY)');
    assert.equal(twilio.messages.length, 0);
  });

  it('SMS unset and SMTP unset in development: warnings, exit 0', async () => {
    const { DATABASE_URL, DATA_DIR } = healthy;
    const dev: Record<string, string> = {
      APP_ENV: 'development',
      LOG_LEVEL: 'silent',
      DATABASE_URL,
      DATA_DIR,
      API_BASE_URL: healthy.API_BASE_URL,
    };
    const { code, byName } = await doctor(dev);
    assert.equal(code, 0);
    assert.equal(byName.smtp.status, 'warn');
    assert.equal(byName.smtp.finding, 'SMTP not configured: codes go to the dev inbox and the log');
    assert.equal(byName.sms.status, 'warn');
    assert.match(byName.sms.finding, /^SMS provider not configured/);
    assert.equal(byName.secrets.status, 'warn');
    assert.match(byName.secrets.finding, /using development secrets/);
  });

  it('production with development secrets and no SMS provider: fail, exit 1', async () => {
    const { code, report, byName } = await doctor({
      ...healthy,
      APP_ENV: 'production',
      SMS_PROVIDER: '',
      JWT_SECRET: 'short',
    });
    assert.equal(code, 1);
    assert.deepEqual(failures(report).sort(), ['secrets', 'sms']);
    assert.equal(byName.config.status, 'ok');
    assert.match(byName.secrets.finding, /JWT_SECRET is shorter than 32 characters, OTP_SECRET is not set/);
    assert.ok(!JSON.stringify(report).includes('"short"'));
    assert.equal(byName.sms.finding, 'SMS provider not configured (SMS_PROVIDER not set): no SMS code can be sent');
  });

  it('production with TRUST_PROXY=true (and development secrets): config fails naming TRUST_PROXY, as the service would refuse to start', async () => {
    const { code, byName } = await doctor({ ...healthy, APP_ENV: 'production', TRUST_PROXY: 'true' });
    assert.equal(code, 1);
    assert.equal(byName.config.status, 'fail');
    assert.match(byName.config.finding, /TRUST_PROXY=true trusts whatever X-Forwarded-For a client sends/);
    assert.match(byName.config.fix ?? '', /TRUST_PROXY/);
  });

  it('test destinations: a warning after secrets naming them (never their codes) and their last day; a failure once it is over, or outside development more than 90 days ahead', async () => {
    const list = { TEST_OTP_DESTINATIONS: '+27820000001=482913,Review@Example.com=135790' };
    // within the 90 days outside development allows, by the clock doctor reads
    const lastDay = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const listed = await doctor({ ...healthy, ...list, TEST_OTP_VALID_UNTIL: lastDay });
    assert.equal(listed.code, 0, JSON.stringify(listed.report, null, 2));
    assert.deepEqual(listed.report.checks.map((c) => c.name).slice(0, 3), ['config', 'secrets', 'test-destinations']);
    const line = listed.byName['test-destinations'];
    assert.equal(line.status, 'warn');
    assert.equal(
      line.finding,
      `2 test destinations get a fixed code and are sent nothing, until ${lastDay} (that day included, UTC): +27820000001, review@example.com (codes not shown)`,
    );
    assert.match(line.fix ?? '', /remove TEST_OTP_DESTINATIONS once it is over/);
    const over = await doctor({ ...healthy, ...list, TEST_OTP_VALID_UNTIL: '2020-01-31' });
    assert.equal(over.code, 1);
    assert.equal(over.byName['test-destinations'].status, 'fail');
    assert.match(
      over.byName['test-destinations'].finding,
      /^TEST_OTP_VALID_UNTIL=2020-01-31 is over .*TEST_OTP_DESTINATIONS lists \+27820000001, review@example\.com \(codes not shown\): the service refuses to start$/,
    );
    assert.match(over.byName['test-destinations'].fix ?? '', /Remove TEST_OTP_DESTINATIONS/);
    // a date further off than a review (APP_ENV=test): a failure, in the words the service refuses with
    const farOff = await doctor({ ...healthy, ...list, TEST_OTP_VALID_UNTIL: '2999-12-31' });
    assert.equal(farOff.code, 1);
    assert.equal(farOff.byName['test-destinations'].status, 'fail');
    assert.match(
      farOff.byName['test-destinations'].finding,
      /^TEST_OTP_VALID_UNTIL=2999-12-31 is more than 90 days after today \(\d{4}-\d\d-\d\d, UTC, by the service's clock\): outside development \(APP_ENV=test\).*: the service refuses to start$/,
    );
    assert.match(
      farOff.byName['test-destinations'].fix ?? '',
      /^Set TEST_OTP_VALID_UNTIL to the review's last day, \d{4}-\d\d-\d\d at the latest/,
    );
    for (const run of [listed, over, farOff]) {
      const text = JSON.stringify(run.report);
      for (const code of ['482913', '135790']) assert.ok(!text.includes(code), `doctor printed the code ${code}`);
    }
    // without the list, no line
    assert.equal((await doctor(healthy)).byName['test-destinations'], undefined);
  });

  it('an invalid setting: config fails naming the variable and the rest is skipped', async () => {
    const { code, report, byName } = await doctor({ ...healthy, SMTP_PORT: 'five-eight-seven' });
    assert.equal(code, 1);
    assert.equal(byName.config.status, 'fail');
    assert.match(byName.config.finding, /SMTP_PORT/);
    assert.deepEqual(
      report.checks.slice(1).map((c) => c.finding),
      Array(5).fill('Not checked: the configuration is invalid'),
    );
  });

  it('PGlite with a server running: asks its /health/ready and leaves the data folder alone', async (t) => {
    const stack = await startStack();
    t.after(() => stack.close());
    const untouched = join(tmp, 'never-created');
    const { byName } = await doctor({ ...services, DATA_DIR: untouched, API_BASE_URL: stack.baseUrl });
    assert.equal(byName.database.status, 'ok', byName.database.finding);
    assert.match(byName.database.finding, /reports its database ready and migrated/);
    assert.ok(!existsSync(untouched), 'doctor created or opened the data folder of a running server');
  });

  it('human output: a table with ✅ / ❌, "fix:" lines and a summary', async () => {
    const run = await runCli(['doctor'], { ...healthy, SMTP_PORT: String(deadPort) });
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.split('\n');
    assert.ok(
      lines.some((l) => /^✅ config\s+All settings are valid/.test(l)),
      run.stdout,
    );
    const smtpLine = lines.findIndex((l) => /^❌ smtp\s+SMTP server not reachable/.test(l));
    assert.ok(smtpLine >= 0, run.stdout);
    assert.match(lines[smtpLine + 1], /^\s+fix: Check SMTP_SERVER and SMTP_PORT/);
    assert.ok(
      lines.some((l) => l.startsWith('⚠️')),
      'the self-signed test server warns',
    );
    assert.match(
      run.stdout,
      /\d+ ok, \d+ warnings?, 1 failed: codes will not be delivered until the ❌ lines are fixed\./,
    );
    assert.ok(!run.stdout.trimStart().startsWith('{'));
    assert.ok(!run.stdout.includes(smtp.password));

    const bad = await runCli(['doctor', '--jsno'], healthy);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option '--jsno'/i);
    assert.match(bad.stderr, /^Usage: panic-api doctor \[--json\]$/m);
  });
});
