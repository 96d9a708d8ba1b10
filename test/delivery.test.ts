import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './support/net.ts';
import { holdingSmtp, startSmtpServer } from './support/smtp.ts';
import { person, phoneCodeAsked, startStack, type Stack } from './support/stack.ts';
import { channelState } from './support/delivery-state.ts';
import { messageReaching, newestMessage } from './support/outbox-rows.ts';
import { waitUntil } from './support/wait.ts';
import { runCli } from './support/cli.ts';

const finalRow = (stack: Stack, recipient: string) =>
  messageReaching(stack, recipient, ['sent', 'failed', 'captured'], 15_000);

describe('delivery: retries, permanent and temporary failures', () => {
  it('retries until an SMTP server that comes up late accepts the mail', async () => {
    const port = await freePort();
    const stack = await startStack({ env: { SMTP_PORT: String(port) } });
    const late = { close: async () => {} };
    try {
      const p = person('late');
      assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
      const queued = await waitUntil(
        async () => {
          const row = await newestMessage(stack, p.email);
          return row?.status === 'queued' && row.attempts >= 1 ? row : undefined;
        },
        { what: 'a failed first attempt' },
      );
      assert.match(queued.last_error ?? '', /ECONNREFUSED|ECONNECTION|connect/i);
      const server = await startSmtpServer({ port });
      late.close = server.close;
      const mail = await server.waitFor(p.email, { timeoutMs: 15_000 });
      const row = await finalRow(stack, p.email);
      assert.equal(row.status, 'sent');
      assert.ok(row.attempts >= 2);
      assert.ok(row.provider_id, 'the SMTP message id is kept');
      const otp = mail.text.match(/\b(\d{6})\b/)![1];
      assert.equal((await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp })).status, 200);
    } finally {
      await stack.close();
      await late.close();
    }
  });

  it('a send that outlasts its lease is not claimed again by the worker sending it', async (t) => {
    let now = Date.now();
    const hold = holdingSmtp();
    const stack = await startStack({
      clock: () => new Date(now),
      smtp: { beforeAccept: hold.beforeAccept },
      env: { DELIVERY_LEASE_SECONDS: '1' },
    });
    t.after(async () => {
      hold.release();
      await stack.close();
    });
    const [first, second] = [person('lease-first'), person('lease-second')];
    assert.equal((await stack.api('POST', '/api/v1/auth/register', first)).status, 201);
    await waitUntil(() => stack.smtp.dataReceived >= 1, { what: 'the first mail held by the server' });
    now += 60_000; // the lease of the send in flight runs out
    assert.equal((await stack.api('POST', '/api/v1/auth/register', second)).status, 201);
    // The claim that took the second message saw the first one's lease run out.
    await waitUntil(() => stack.smtp.dataReceived >= 2, { what: 'the second mail held by the server' });
    assert.equal((await newestMessage(stack, first.email))?.attempts, 1, 'the first message was claimed once');
    hold.release();
    await Promise.all([stack.smtp.waitFor(first.email), stack.smtp.waitFor(second.email)]);
    const row = await finalRow(stack, first.email);
    assert.deepEqual([row.status, row.attempts], ['sent', 1], 'its outcome was recorded: nobody took its lease over');
    assert.equal(stack.smtp.dataReceived, 2, 'each mail sent once');
  });

  describe('SMTP answers', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        smtp: { rejectRecipients: /^bounce/, tempFailRecipients: /^busy/ },
        env: { DELIVERY_MAX_ATTEMPTS: '3' },
      });
    });
    after(() => stack.close());

    it("a 5xx for the recipient fails at once, with the server's words kept", async () => {
      const p = { ...person(), email: `bounce.${Date.now()}@example.test` };
      await stack.api('POST', '/api/v1/auth/register', p);
      const row = await finalRow(stack, p.email);
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 1);
      assert.match(row.last_error!, /550/);
      assert.match(row.last_error!, /Mailbox unavailable/);
    });

    it('a 4xx is retried, then fails after DELIVERY_MAX_ATTEMPTS with the reason', async () => {
      const p = { ...person(), email: `busy.${Date.now()}@example.test` };
      await stack.api('POST', '/api/v1/auth/register', p);
      const row = await finalRow(stack, p.email);
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 3);
      assert.match(row.last_error!, /451/);
    });

    it('outside development a final message keeps no readable code', async () => {
      const p = person('redact');
      await stack.api('POST', '/api/v1/auth/register', p);
      const code = await stack.emailCode(p.email);
      const row = await finalRow(stack, p.email);
      assert.equal(row.status, 'sent');
      assert.equal(row.otp, null);
      assert.equal(row.body_html, null);
      assert.ok(!row.body_text.includes(code));
      const bounced = { ...person(), email: `bounce.redact.${Date.now()}@example.test` };
      await stack.api('POST', '/api/v1/auth/register', bounced);
      const failed = await finalRow(stack, bounced.email);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.otp, null);
    });
  });

  describe('Twilio answers', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ env: { DELIVERY_MAX_ATTEMPTS: '4' } });
    });
    after(() => stack.close());

    const phoneCodeRequest = async (tag: string) => (await phoneCodeAsked(stack, tag)).person;

    it("a 400 from the API fails at once with Twilio's message", async () => {
      stack.sms.failWith = { status: 400, code: 21211, message: "The 'To' number is not a valid phone number." };
      try {
        const p = await phoneCodeRequest('tw400');
        const row = await finalRow(stack, p.phone);
        assert.equal(row.status, 'failed');
        assert.equal(row.attempts, 1);
        assert.match(row.last_error!, /400/);
        assert.match(row.last_error!, /not a valid phone number/);
      } finally {
        stack.sms.failWith = undefined;
      }
    });

    it('a 429 or 500 is retried and succeeds once the API recovers', async () => {
      stack.sms.failWith = { status: 429, message: 'Too Many Requests' };
      const p = await phoneCodeRequest('tw429');
      await waitUntil(
        async () =>
          ((await newestMessage(stack, p.phone))?.attempts ?? 0) >= 1 &&
          (await newestMessage(stack, p.phone))?.status === 'queued',
        { what: 'a retry' },
      );
      stack.sms.failWith = { status: 500, message: 'Internal' };
      await waitUntil(async () => ((await newestMessage(stack, p.phone))?.attempts ?? 0) >= 2, {
        what: 'a second attempt',
      });
      stack.sms.failWith = undefined;
      const row = await finalRow(stack, p.phone);
      assert.equal(row.status, 'sent');
      assert.match(row.provider_id!, /^SM/);
      assert.ok(await stack.smsCode(p.phone));
    });
  });
});

describe('operations: metrics and the delivery log', () => {
  let stack: Stack;
  const ADMIN = 'admin-token-for-tests-0123456789';
  before(async () => {
    stack = await startStack({ env: { ADMIN_TOKEN: ADMIN } });
  });
  after(() => stack.close());

  const metric = (text: string, name: string, labels: string) => {
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('counts codes issued, verified and refused, messages sent, and send latency', async () => {
    // Outside development /metrics is the operator's: the admin token (or a separate METRICS_PORT).
    const scrape = () => fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const before = await (await scrape()).text();
    const p = person('metrics');
    await stack.api('POST', '/api/v1/auth/register', p);
    const otp = await stack.emailCode(p.email);
    await stack.api('POST', '/api/v1/auth/verify-account', {
      email: p.email,
      otp: otp === '000000' ? '111111' : '000000',
    });
    await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp });
    await finalRow(stack, p.email);
    const res = await scrape();
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const text = await res.text();
    const delta = (name: string, labels: string) => metric(text, name, labels) - metric(before, name, labels);
    assert.equal(delta('panic_otp_issued_total', 'purpose="email_verification"'), 1);
    assert.equal(delta('panic_otp_checked_total', 'purpose="email_verification",result="verified"'), 1);
    assert.equal(delta('panic_otp_checked_total', 'purpose="email_verification",result="otp_invalid"'), 1);
    assert.equal(delta('panic_messages_total', 'channel="email",status="sent"'), 1);
    assert.equal(delta('panic_delivery_send_seconds_count', 'channel="email",provider="smtp",outcome="sent"'), 1);
    assert.match(text, /^panic_delivery_queue_depth \d+$/m);
  });

  it('the delivery log needs the admin token and never shows bodies or codes', async () => {
    const p = person('log');
    await stack.api('POST', '/api/v1/auth/register', p);
    const code = await stack.emailCode(p.email);
    await finalRow(stack, p.email);
    assert.equal((await stack.api('GET', `/api/v1/admin/messages?to=${p.email}`)).status, 401);
    assert.equal((await stack.api('GET', `/api/v1/admin/messages?to=${p.email}`, undefined, 'wrong')).status, 401);
    const log = await stack.api(
      'GET',
      `/api/v1/admin/messages?to=${encodeURIComponent(p.email.toUpperCase())}`,
      undefined,
      ADMIN,
    );
    assert.equal(log.status, 200, log.text);
    assert.equal(log.body.messages.length, 1);
    const [m] = log.body.messages;
    assert.equal(m.status, 'sent');
    assert.equal(m.channel, 'email');
    assert.equal(m.purpose, 'email_verification');
    assert.ok(!log.text.includes(code));
    assert.ok(!('body_text' in m) && !('otp' in m));
    const none = await stack.api(
      'GET',
      `/api/v1/admin/messages?to=${encodeURIComponent(p.email)}&status=failed`,
      undefined,
      ADMIN,
    );
    assert.equal(none.status, 200, none.text);
    assert.equal(none.body.messages.length, 0);
    assert.equal((await stack.api('GET', '/api/v1/admin/messages?status=lost', undefined, ADMIN)).status, 400);
  });

  it('`panic-api messages` prints the delivery log of the running server, with reasons', async () => {
    const p = person('cli-log');
    await stack.api('POST', '/api/v1/auth/register', p);
    await finalRow(stack, p.email);
    const env = { API_BASE_URL: stack.baseUrl, ADMIN_TOKEN: ADMIN };
    const human = await runCli(['messages', '--to', p.email], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      new RegExp(`email\\s+${p.email.replace(/[.]/g, '\\.')}\\s+email_verification\\s+SENT after 1 attempt`),
    );
    assert.match(human.stdout, /provider id: /);
    const json = await runCli(['messages', '--to', p.email, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, 'sent');
    const noToken = await runCli(['messages', '--to', p.email], { API_BASE_URL: stack.baseUrl });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /ADMIN_TOKEN/);
    const wrong = await runCli(['messages', '--to', p.email], { ...env, ADMIN_TOKEN: 'not-the-token' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /admin token/i);
    const down = await runCli(['messages', '--to', p.email], {
      ...env,
      API_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /is not running/);
  });

  it('the delivery state names each channel, its last success and queue depth', async () => {
    const email = await channelState(stack, 'email', ADMIN);
    const sms = await channelState(stack, 'sms', ADMIN);
    assert.equal(email.state, 'configured');
    assert.equal(email.provider, 'smtp');
    assert.ok(email.last_success_at);
    assert.equal(typeof email.queue_depth, 'number');
    assert.equal(sms.provider, 'twilio');
    const text = JSON.stringify([email, sms]);
    assert.ok(!text.includes(stack.smtp.password) && !text.includes(stack.sms.authToken));
  });
});

describe('operations endpoints without ADMIN_TOKEN', () => {
  it('do not exist', async () => {
    const stack = await startStack();
    try {
      assert.equal((await stack.api('GET', '/api/v1/admin/messages')).status, 404);
      assert.equal((await stack.api('GET', '/api/v1/admin/delivery', undefined, 'anything')).status, 404);
    } finally {
      await stack.close();
    }
  });

  it('report placeholder SMS credentials by name', async () => {
    const stack = await startStack({
      env: {
        ADMIN_TOKEN: 'admin-token-for-tests-0123456789',
        SMS_ACCOUNT_SID: 'YOUR_ACCOUNT_SID',
        SMS_API_KEY: 'your-real-sms-api-key',
      },
    });
    try {
      const sms = await channelState(stack, 'sms', 'admin-token-for-tests-0123456789');
      assert.equal(sms.state, 'placeholder');
      assert.match(sms.problem ?? '', /SMS credentials are placeholder values/);
      assert.match(sms.problem ?? '', /SMS_ACCOUNT_SID/);
    } finally {
      await stack.close();
    }
  });
});
