/**
 * A second provider per channel: the primary Twilio fixture failing as Twilio fails, the generic SMS
 * provider (or a second SMTP server) taking the next attempt, and the circuit breaker that skips a
 * failing provider.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpSmsServer, startTwilioServer, type HttpSmsFixture, type TwilioFixture } from './support/sms.ts';
import { postTwilioReceipt, signAsTwilio, TWILIO_STATUS_PATH } from './support/receipts.ts';
import { startSmtpServer, type SmtpFixture } from './support/smtp.ts';
import { freePort } from './support/net.ts';
import { person, phoneCodeAsked, startStack, type Stack } from './support/stack.ts';
import { channelState } from './support/delivery-state.ts';
import { expectStatus } from './support/api.ts';
import { waitUntil } from './support/wait.ts';

const ADMIN_TOKEN = 'failover-admin-token-0123456789abcdef';

/** A stack whose SMS falls back to a generic HTTP provider, started before the describe's tests and closed after them. */
function withFallback(): { stack: Stack; fallback: HttpSmsFixture } {
  const fx = {} as { stack: Stack; fallback: HttpSmsFixture };
  before(async () => {
    fx.fallback = await startHttpSmsServer();
    fx.stack = await startStack({
      env: {
        ADMIN_TOKEN,
        SMS_FALLBACK_PROVIDER: 'http',
        SMS_FALLBACK_API_URL: fx.fallback.url,
        SMS_FALLBACK_API_KEY: fx.fallback.apiKey,
      },
    });
  });
  after(async () => {
    await fx.stack?.close();
    await fx.fallback?.close();
  });
  return fx;
}

/** A verified account asks for a phone code; answers its phone. */
const askSmsCode = async (stack: Stack) => (await phoneCodeAsked(stack, 'failover')).person.phone;

async function finalMessage(stack: Stack, recipient: string) {
  return waitUntil(
    async () => {
      const [m] = expectStatus(
        await stack.api('GET', `/api/v1/admin/messages?to=${encodeURIComponent(recipient)}`, undefined, ADMIN_TOKEN),
        200,
      ).messages;
      return m && !['queued', 'sending'].includes(m.status) ? m : undefined;
    },
    { timeoutMs: 15_000, what: `a final message to ${recipient}` },
  );
}

const twilioPosts = (stack: Stack) => stack.sms.messages.length;

describe('SMS failover: the primary answers 500', () => {
  const fx = withFallback();

  it('the next attempt goes through the fallback; the events name each provider', async () => {
    fx.stack.sms.failWith = { status: 500 };
    const phone = await askSmsCode(fx.stack);
    await fx.fallback.waitFor(phone);
    const m = await finalMessage(fx.stack, phone);
    assert.equal(m.status, 'sent');
    const steps = m.events.map(
      (e: { kind: string; provider: string | null; provider_status: number | null }) =>
        `${e.kind}:${e.provider ?? ''}:${e.provider_status ?? ''}`,
    );
    assert.deepEqual(steps, ['queued::', 'attempt_failed:twilio:500', 'sent:http:']);
    assert.equal(m.provider_id, fx.fallback.messages.find((x) => x.to === phone)!.id);
  });

  it('after 3 failures in a row the breaker opens: the primary is skipped (no request reaches it), the state shows in /admin/delivery and in metrics', async () => {
    fx.stack.sms.failWith = { status: 500 };
    const sentBefore = fx.fallback.messages.length;
    for (let i = 0; i < 2; i++) await fx.fallback.waitFor(await askSmsCode(fx.stack));
    const breakers = (await channelState(fx.stack, 'sms', ADMIN_TOKEN)).breakers!;
    const twilio = breakers.find((b) => b.provider === 'twilio');
    assert.equal(twilio?.state, 'open', JSON.stringify(breakers));
    assert.equal(twilio.role, 'primary');
    assert.ok(Date.parse(twilio.open_until ?? '') > Date.now());
    assert.deepEqual(
      breakers.map((b) => `${b.provider}:${b.state}`),
      ['twilio:open', 'http:closed'],
    );

    const requestsBefore = fx.stack.sms.requests;
    const phone = await askSmsCode(fx.stack);
    await fx.fallback.waitFor(phone);
    assert.equal(fx.stack.sms.requests, requestsBefore, 'nothing was tried on the open primary');
    const m = await finalMessage(fx.stack, phone);
    assert.deepEqual(
      m.events.map((e: { kind: string }) => e.kind),
      ['queued', 'sent'],
      'the first attempt went to the fallback',
    );
    assert.equal(fx.fallback.messages.length, sentBefore + 3);
    const metrics = await fx.stack.runtime.services.metrics.registry.metrics();
    assert.match(metrics, /^panic_provider_breaker_open\{channel="sms",provider="twilio"\} 1$/m);
    assert.match(metrics, /^panic_provider_breaker_open\{channel="sms",provider="http"\} 0$/m);
  });
});

describe('SMS failover: the primary refuses the account (20003, authentication) or the number (21211)', () => {
  const fx = withFallback();

  it('an invalid number (21211) is final: it ends failed and is retried nowhere', async () => {
    fx.stack.sms.failWith = { status: 400, code: 21211 };
    const phone = await askSmsCode(fx.stack);
    const m = await finalMessage(fx.stack, phone);
    assert.equal(m.status, 'failed');
    assert.equal(m.attempts, 1);
    assert.equal(fx.fallback.messages.filter((x) => x.to === phone).length, 0);
    const twilio = (await channelState(fx.stack, 'sms', ADMIN_TOKEN)).breakers![0];
    assert.equal(twilio.state, 'closed', 'a refused number says nothing about the provider');
  });

  it('20003 opens the primary at once: this code goes out through the fallback, and the next one straight there', async () => {
    fx.stack.sms.failWith = { status: 401, code: 20003, message: 'Authenticate' };
    const phone = await askSmsCode(fx.stack);
    await fx.fallback.waitFor(phone);
    const m = await finalMessage(fx.stack, phone);
    assert.equal(m.status, 'sent');
    const failed = m.events.find((e) => e.kind === 'attempt_failed');
    assert.equal(failed?.provider_code, '20003');
    assert.match(failed.diagnosis?.cause ?? '', /authentication failed/);
    const posts = twilioPosts(fx.stack);
    const requests = fx.stack.sms.requests;
    const next = await askSmsCode(fx.stack);
    await fx.fallback.waitFor(next);
    assert.equal(fx.stack.sms.requests, requests, 'the refused account is not asked again');
    assert.equal(twilioPosts(fx.stack), posts);
    const twilio = (await channelState(fx.stack, 'sms', ADMIN_TOKEN)).breakers![0];
    assert.equal(twilio.state, 'open');
    assert.ok(
      Date.parse(twilio.open_until ?? '') - Date.now() > 5 * 60_000,
      'an account refusal keeps it open for minutes',
    );
  });
});

describe('email failover: the primary SMTP server is not reachable', () => {
  let stack: Stack;
  let second: SmtpFixture;
  before(async () => {
    second = await startSmtpServer();
    stack = await startStack({
      env: {
        ADMIN_TOKEN,
        SMTP_PORT: String(await freePort()),
        SMTP_FALLBACK_SERVER: second.host,
        SMTP_FALLBACK_PORT: String(second.port),
        SMTP_FALLBACK_USERNAME: second.username,
        SMTP_FALLBACK_PASSWORD: second.password,
      },
    });
  });
  after(async () => {
    await stack?.close();
    await second?.close();
  });

  it('the code reaches the second server; the events say smtp failed, smtp-fallback sent', async () => {
    const p = person('smtp-failover');
    assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
    await second.waitFor(p.email, { timeoutMs: 15_000 });
    const m = await finalMessage(stack, p.email);
    assert.equal(m.status, 'sent');
    assert.deepEqual(
      m.events.map((e: { kind: string; provider: string | null }) => `${e.kind}:${e.provider ?? ''}`),
      ['queued:', 'attempt_failed:smtp', 'sent:smtp-fallback'],
    );
    assert.equal(stack.smtp.messages.length, 0);
  });
});

describe('SMS failover from one Twilio account to another', () => {
  const PUBLIC_URL = 'https://panic.example.test';
  let stack: Stack;
  let second: TwilioFixture;
  before(async () => {
    second = await startTwilioServer();
    stack = await startStack({
      env: {
        ADMIN_TOKEN,
        PUBLIC_URL,
        SMS_FALLBACK_PROVIDER: 'twilio',
        SMS_FALLBACK_API_URL: second.messagesUrl,
        SMS_FALLBACK_ACCOUNT_SID: second.accountSid,
        SMS_FALLBACK_API_KEY: second.authToken,
        SMS_FALLBACK_FROM: '+15005550007',
      },
    });
  });
  after(async () => {
    await stack?.close();
    await second?.close();
  });

  it("the second account's signed receipt reaches the message it sent (it answered 404: the message was sent by 'twilio-fallback')", async () => {
    stack.sms.failWith = { status: 500 };
    const phone = await askSmsCode(stack);
    const sent = await second.waitFor(phone);
    assert.equal((await finalMessage(stack, phone)).status, 'sent');
    const fields = { MessageSid: sent.sid, MessageStatus: 'delivered', AccountSid: second.accountSid, To: phone };
    const url = `${PUBLIC_URL}${TWILIO_STATUS_PATH}`;
    const answer = await postTwilioReceipt(stack, fields, signAsTwilio(url, fields, second.authToken));
    assert.equal(answer.status, 200, answer.text);
    assert.equal((await finalMessage(stack, phone)).status, 'delivered');
  });
});
