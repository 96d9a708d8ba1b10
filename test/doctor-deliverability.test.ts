/**
 * doctor, deeper: the Twilio account's type and status, and the From domain's SPF, DMARC and DKIM
 * records asked of a real DNS server on 127.0.0.1, all through the real `panic-api doctor --json`.
 * Still nothing is sent: no Messages POST, no mail.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Check } from '../src/cli/doctor/types.ts';
import { DNS_TIMEOUT_MS } from '../src/cli/doctor/email-dns.ts';
import { startDnsServer, type DnsFixture } from './support/dns.ts';
import { startTwilioServer, type TwilioFixture } from './support/sms.ts';
import { startSmtpServer, type SmtpFixture } from './support/smtp.ts';
import { smtpEnv, twilioEnv } from './support/stack.ts';
import { runCli } from './support/cli.ts';
import { freePort } from './support/net.ts';

const DOMAIN = 'paniq.co.za';
const SPF = 'v=spf1 include:_spf.mail.example.net ~all';
const DMARC = 'v=DMARC1; p=quarantine; rua=mailto:dmarc@paniq.co.za';
/** A DKIM key longer than one TXT string (255 bytes), as real 2048-bit keys are: the strings are joined. */
const DKIM_KEY = `p=${'A'.repeat(300)}`;

interface Report {
  ok: boolean;
  checks: Check[];
}

describe('panic-api doctor: Twilio account and the From domain in DNS', () => {
  let smtp: SmtpFixture;
  let twilio: TwilioFixture;
  let dns: DnsFixture;
  let tmp: string;
  let env: Record<string, string>;

  before(async () => {
    [smtp, twilio, dns] = await Promise.all([startSmtpServer(), startTwilioServer(), startDnsServer()]);
    tmp = mkdtempSync(join(tmpdir(), 'panic-doctor-dns-'));
    env = {
      APP_ENV: 'test',
      LOG_LEVEL: 'silent',
      // no database yet is a warning, never a failure: these tests are about SMS and email
      DATA_DIR: join(tmp, 'data'),
      API_BASE_URL: `http://127.0.0.1:${await freePort()}`,
      ...smtpEnv(smtp),
      ...twilioEnv(twilio),
      FROM_EMAIL: `Panic System <no-reply@${DOMAIN}>`,
      DKIM_SELECTOR: 's1',
      DNS_SERVERS: dns.server,
    };
  });
  after(async () => {
    await Promise.all([smtp?.close(), twilio?.close(), dns?.close()]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => {
    // every record in place, a Full active account: each test breaks one thing
    dns.mode = 'answer';
    dns.txt = {
      [DOMAIN]: [[SPF], ['google-site-verification=abc']],
      [`_dmarc.${DOMAIN}`]: [[DMARC]],
      [`s1._domainkey.${DOMAIN}`]: [['v=DKIM1; k=rsa; ', DKIM_KEY.slice(0, 200), DKIM_KEY.slice(200)]],
    };
    twilio.account = { type: 'Full', status: 'active' };
  });

  /** Runs `doctor --json` and checks that nothing was sent: one account GET at most, no SMS, no mail. */
  async function doctor(
    overrides: Record<string, string> = {},
  ): Promise<{ code: number; report: Report; byName: Record<string, Check>; endedAt: number }> {
    const before = { requests: twilio.requests, messages: twilio.messages.length, mails: smtp.messages.length };
    const run = await runCli(['doctor', '--json'], { ...env, ...overrides });
    const endedAt = Date.now();
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
    for (const c of report.checks) if (c.status !== 'ok') assert.ok(c.fix, `${c.name} has no fix`);
    assert.ok(twilio.requests - before.requests <= 1, 'only the account GET reached Twilio');
    assert.equal(twilio.messages.length, before.messages, 'no SMS was sent');
    assert.equal(smtp.messages.length, before.mails, 'no mail was sent');
    return { code: run.code, report, byName: Object.fromEntries(report.checks.map((c) => [c.name, c])), endedAt };
  }

  it('SPF, DMARC and DKIM published, a Full active Twilio account: email-dns and sms ok, email-dns right after smtp', async () => {
    const { code, report, byName } = await doctor();
    assert.equal(code, 0, JSON.stringify(report, null, 2));
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ['config', 'secrets', 'database', 'smtp', 'email-dns', 'sms', 'redis'],
    );
    const check = byName['email-dns'];
    assert.equal(check.status, 'ok', check.finding);
    assert.equal(
      check.finding,
      `${DOMAIN}: SPF "${SPF}"; DMARC p=quarantine; DKIM key at s1._domainkey.${DOMAIN}; only DNS was asked`,
    );
    assert.deepEqual(
      dns.asked
        .slice(-3)
        .map((q) => q.name)
        .sort(),
      [DOMAIN, `_dmarc.${DOMAIN}`, `s1._domainkey.${DOMAIN}`].sort(),
    );
    // a Full, active Twilio account
    assert.equal(byName.sms.status, 'ok');
    assert.match(byName.sms.finding, /the account is active \(Full\); nothing was sent/);
  });

  it('no SPF record: warn with the record to publish, naming the SMTP server', async () => {
    dns.txt[DOMAIN] = [['google-site-verification=abc']];
    const { code, byName } = await doctor();
    assert.equal(code, 0);
    const check = byName['email-dns'];
    assert.equal(check.status, 'warn');
    assert.match(check.finding, new RegExp(`no SPF record on ${DOMAIN.replaceAll('.', '\\.')}`));
    assert.match(check.finding, /DMARC p=quarantine/, 'the other records are still judged');
    assert.equal(
      check.fix,
      `Publish a TXT record on ${DOMAIN}: "v=spf1 ip4:${smtp.host} ~all" (or the include: your mail provider documents, e.g. include:_spf.google.com).`,
    );
  });

  it('two SPF records, or one ending in +all: warn', async () => {
    dns.txt[DOMAIN] = [[SPF], ['v=spf1 -all']];
    const two = (await doctor()).byName['email-dns'];
    assert.equal(two.status, 'warn');
    assert.match(two.finding, /2 SPF records on paniq\.co\.za/);
    assert.match(two.fix ?? '', /Merge the SPF records of paniq\.co\.za into one/);

    dns.txt[DOMAIN] = [['v=spf1 +all']];
    const open = (await doctor()).byName['email-dns'];
    assert.equal(open.status, 'warn');
    assert.match(open.finding, /lets every server on the internet send as paniq\.co\.za \(\+all\)/);
  });

  it('no DMARC record: warn with the record to publish at _dmarc', async () => {
    delete dns.txt[`_dmarc.${DOMAIN}`];
    const check = (await doctor()).byName['email-dns'];
    assert.equal(check.status, 'warn');
    assert.match(check.finding, /no DMARC record at _dmarc\.paniq\.co\.za/);
    assert.match(check.finding, /SPF "v=spf1/);
    assert.equal(
      check.fix,
      `Publish a TXT record on _dmarc.${DOMAIN}: "v=DMARC1; p=none; rua=mailto:dmarc-reports@${DOMAIN}" (p=none only asks for reports; move to p=quarantine once they show only your own mail).`,
    );
  });

  it('DMARC with p=none: ok, saying it only asks for reports', async () => {
    dns.txt[`_dmarc.${DOMAIN}`] = [['v=DMARC1; p=none']];
    const check = (await doctor()).byName['email-dns'];
    assert.equal(check.status, 'ok');
    assert.match(check.finding, /DMARC p=none \(reports only\)/);
  });

  it('no DKIM key for DKIM_SELECTOR: warn with the record to publish; a revoked key (empty p=) too', async () => {
    dns.txt[`s1._domainkey.${DOMAIN}`] = [];
    const missing = (await doctor()).byName['email-dns'];
    assert.equal(missing.status, 'warn');
    assert.match(missing.finding, /no DKIM key at s1\._domainkey\.paniq\.co\.za/);
    assert.match(
      missing.fix ?? '',
      /as a TXT record on s1\._domainkey\.paniq\.co\.za: "v=DKIM1; k=rsa; p=<its public key>"/,
    );

    dns.txt[`s1._domainkey.${DOMAIN}`] = [['v=DKIM1; k=rsa; p=']];
    const revoked = (await doctor()).byName['email-dns'];
    assert.equal(revoked.status, 'warn');
    assert.match(revoked.finding, /the DKIM key at s1\._domainkey\.paniq\.co\.za is revoked/);
  });

  it('every record missing: one warning with every fix', async () => {
    dns.txt = {};
    const check = (await doctor()).byName['email-dns'];
    assert.equal(check.status, 'warn');
    assert.match(check.finding, /no SPF record.*; no DMARC record.*; no DKIM key/);
    for (const record of ['"v=spf1 ', '"v=DMARC1; p=none', '"v=DKIM1; k=rsa; p='])
      assert.ok(check.fix?.includes(record), `${record} in ${check.fix}`);
  });

  it('DKIM_SELECTOR unset: DKIM is not asked about and the line says so', async () => {
    const asked = dns.asked.length;
    const check = (await doctor({ DKIM_SELECTOR: '' })).byName['email-dns'];
    assert.equal(check.status, 'ok');
    assert.match(check.finding, /DKIM not checked \(DKIM_SELECTOR not set\)/);
    assert.ok(!dns.asked.slice(asked).some((q) => q.name.includes('_domainkey')));
  });

  it('a DNS server that never answers: warn "DNS could not be asked" within the timeout, exit 0', async () => {
    dns.mode = 'silent';
    const asked = dns.asked.length;
    const { code, byName, endedAt } = await doctor();
    assert.equal(code, 0);
    const check = byName['email-dns'];
    assert.equal(check.status, 'warn');
    assert.match(check.finding, /SPF: DNS could not be asked \(ETIMEOUT: no answer within 2 s\)/);
    assert.match(check.finding, /DMARC: DNS could not be asked/);
    assert.match(check.fix ?? '', /DNS_SERVERS/);
    // the three questions wait side by side, and doctor ends soon after, long before its 10 s guard
    const waited = endedAt - dns.asked[asked].at;
    assert.ok(waited < DNS_TIMEOUT_MS + 4000, `doctor ended ${waited} ms after its first DNS question`);
  });

  it('a DNS server answering SERVFAIL: warn "DNS could not be asked", not a crash', async () => {
    dns.mode = 'servfail';
    const check = (await doctor()).byName['email-dns'];
    assert.equal(check.status, 'warn');
    assert.match(check.finding, /DNS could not be asked \(SERVFAIL/);
  });

  it('a From domain reserved for tests: no DNS question and no line outside production; a warning in production', async () => {
    const asked = dns.asked.length;
    const test = await doctor({ FROM_EMAIL: 'no-reply@panic.test' });
    assert.equal(test.byName['email-dns'], undefined);
    const production = await doctor({ FROM_EMAIL: 'no-reply@panic.test', APP_ENV: 'production' });
    assert.equal(production.byName['email-dns'].status, 'warn');
    assert.match(production.byName['email-dns'].finding, /panic\.test is reserved for tests and examples/);
    assert.equal(dns.asked.length, asked, 'nothing was asked about a reserved name');
  });

  it('SMTP not configured in development: no email-dns line, as nothing is sent by mail', async () => {
    const { code, byName } = await doctor({
      APP_ENV: 'development',
      SMTP_SERVER: '',
      SMTP_USERNAME: '',
      SMTP_PASSWORD: '',
    });
    assert.equal(code, 0);
    assert.equal(byName.smtp.status, 'warn');
    assert.equal(byName['email-dns'], undefined);
  });

  it('an invalid DNS_SERVERS or DKIM_SELECTOR: config fails naming it', async () => {
    const { code, byName } = await doctor({ DNS_SERVERS: 'dns.example.net', DKIM_SELECTOR: 's1 key' });
    assert.equal(code, 1);
    assert.equal(byName.config.status, 'fail');
    assert.match(byName.config.finding, /DNS_SERVERS: must be IP addresses/);
    assert.match(byName.config.finding, /DKIM_SELECTOR: must be a DNS label/);
  });

  it('a Twilio Trial account: sms warns that it texts only verified numbers, fix: upgrade', async () => {
    twilio.account = { type: 'Trial', status: 'active' };
    const { code, byName } = await doctor();
    assert.equal(code, 0);
    assert.equal(byName.sms.status, 'warn');
    assert.match(byName.sms.finding, /a Trial account texts only numbers verified in the Twilio console/);
    assert.match(byName.sms.fix ?? '', /Upgrade the account in the Twilio console/);
  });

  it('a suspended or closed Twilio account: sms fails with its fix, exit 1', async () => {
    twilio.account = { type: 'Full', status: 'suspended' };
    const suspended = await doctor();
    assert.equal(suspended.code, 1);
    assert.deepEqual(
      suspended.report.checks.filter((c) => c.status === 'fail').map((c) => c.name),
      ['sms'],
    );
    assert.match(suspended.byName.sms.finding, /the account is suspended: Twilio sends no SMS for it/);
    assert.match(suspended.byName.sms.fix ?? '', /reactivated/);

    twilio.account = { type: 'Trial', status: 'closed' };
    const closed = await doctor();
    assert.equal(closed.code, 1);
    assert.match(closed.byName.sms.finding, /the account is closed/);
    assert.match(closed.byName.sms.fix ?? '', /Use an active Twilio account/);
  });
});
