/**
 * Receipts and failover attacked: receipts signed by a provider but naming what is not that
 * provider's, or carrying text the database cannot hold; a number chosen to trip the primary's breaker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { databaseKinds, errorCode, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { startHttpSmsServer, type HttpSmsFixture } from './support/sms.ts';
import { waitUntil } from './support/wait.ts';
import { twilioSignature } from '../src/http/webhook-signatures.ts';

const PUBLIC_URL = 'https://panic.example.test';
const TWILIO_PATH = '/api/v1/webhooks/twilio/status';
const SMS_PATH = '/api/v1/webhooks/sms/status';
const SMS_SECRET = 'attack-sms-webhook-secret-0123456789';
const EMAIL_SECRET = 'attack-email-webhook-secret-0123456789';

const signBody = (body: string, secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function post(stack: Stack, path: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

const signedJson = (stack: Stack, path: string, value: unknown, secret: string) => {
  const body = JSON.stringify(value);
  return post(stack, path, body, { 'content-type': 'application/json', 'x-signature': signBody(body, secret) });
};

/** A verified account asks for a phone code; answers the accepted message's row. */
async function smsSent(stack: Stack) {
  const { tokens } = await verifiedLogin(stack, 'attack');
  const phone = (await stack.api('GET', '/api/v1/users/me', undefined, tokens.access_token)).body.phone as string;
  assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token)).status, 200);
  return waitUntil(
    async () => {
      const row = await stack.runtime.ctx.db.selectFrom('messages').selectAll().where('recipient', '=', phone).orderBy('created_at', 'desc').executeTakeFirst();
      return row?.status === 'sent' ? row : undefined;
    },
    { what: 'the SMS accepted' },
  );
}

for (const db of await databaseKinds()) {
  describe(`attacks on receipts (${db})`, () => {
    let stack: Stack;
    let fallback: HttpSmsFixture;
    before(async () => {
      fallback = await startHttpSmsServer();
      // Twilio first, the generic provider second: both may post receipts
      stack = await startStack({
        db,
        env: {
          PUBLIC_URL,
          SMS_FALLBACK_PROVIDER: 'http',
          SMS_FALLBACK_API_URL: fallback.url,
          SMS_FALLBACK_API_KEY: fallback.apiKey,
          SMS_WEBHOOK_SECRET: SMS_SECRET,
          EMAIL_WEBHOOK_SECRET: EMAIL_SECRET,
        },
      });
    });
    after(async () => {
      await stack?.close();
      await fallback?.close();
    });

    it("the generic provider's signed receipt cannot mark a message Twilio sent: 404, the message stays sent", async () => {
      const row = await smsSent(stack);
      assert.match(row.provider_id ?? '', /^SM/, 'sent through Twilio');
      const forged = await signedJson(stack, SMS_PATH, { id: row.provider_id, status: 'failed', error_message: 'forged by the other provider' }, SMS_SECRET);
      assert.equal(forged.status, 404, forged.text);
      const stored = await stack.runtime.ctx.db.selectFrom('messages').select(['status', 'last_error']).where('id', '=', row.id).executeTakeFirstOrThrow();
      assert.equal(stored.status, 'sent');
      assert.equal(stored.last_error, null);
    });

    it('a signed receipt nested thousands of levels deep is a 400, never a 500', async () => {
      for (const depth of [5_000, 20_000]) {
        const body = '['.repeat(depth) + ']'.repeat(depth);
        for (const [path, secret] of [[SMS_PATH, SMS_SECRET], ['/api/v1/webhooks/email/events', EMAIL_SECRET]]) {
          const res = await post(stack, path, body, { 'content-type': 'application/json', 'x-signature': signBody(body, secret) });
          assert.equal(res.status, 400, `${path} depth ${depth}: ${res.status} ${res.text.slice(0, 200)}`);
        }
        const nested = `{"id":"x","status":"sent","error_code":${'['.repeat(depth)}${']'.repeat(depth)}}`;
        const res = await post(stack, SMS_PATH, nested, { 'content-type': 'application/json', 'x-signature': signBody(nested, SMS_SECRET) });
        assert.equal(res.status, 400, `nested field depth ${depth}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    });

    it('a signed receipt carrying a NUL character is a 400, never a 500 from the database', async () => {
      const row = await smsSent(stack);
      const url = `${PUBLIC_URL}${TWILIO_PATH}`;
      const twilio = async (fields: Record<string, string>) => {
        const form = new URLSearchParams(fields);
        return post(stack, TWILIO_PATH, form.toString(), {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioSignature(url, form, stack.sms.authToken),
        });
      };
      const answers = [
        await twilio({ MessageSid: 'SM\u0000', MessageStatus: 'delivered' }),
        await twilio({ MessageSid: row.provider_id!, MessageStatus: 'failed', ErrorCode: '3\u00000' }),
        await signedJson(stack, SMS_PATH, { id: 'x\u0000', status: 'failed' }, SMS_SECRET),
        await signedJson(stack, '/api/v1/webhooks/email/events', { provider_id: '<a\u0000@b>', event: 'bounced' }, EMAIL_SECRET),
      ];
      assert.deepEqual(answers.map((a) => a.status), [400, 400, 400, 400], answers.map((a) => a.text).join('\n'));
      assert.ok(answers.every((a) => errorCode(a) === 'validation_error'));
      const stored = await stack.runtime.ctx.db.selectFrom('messages').select('status').where('id', '=', row.id).executeTakeFirstOrThrow();
      assert.equal(stored.status, 'sent');
    });
  });
}

const ADMIN_TOKEN = 'attack-admin-token-0123456789abcdef';

describe("failover attacked: a code asked for a number in a region the Twilio account may not text", () => {
  let stack: Stack;
  let fallback: HttpSmsFixture;
  before(async () => {
    fallback = await startHttpSmsServer();
    stack = await startStack({ env: { ADMIN_TOKEN, SMS_FALLBACK_PROVIDER: 'http', SMS_FALLBACK_API_URL: fallback.url, SMS_FALLBACK_API_KEY: fallback.apiKey } });
  });
  after(async () => {
    await stack?.close();
    await fallback?.close();
  });

  it("21408 (geo permissions, decided by the To number anyone may choose) sends that code through the fallback but leaves Twilio's breaker closed for everyone else", async () => {
    stack.sms.failWith = { status: 400, code: 21408, message: 'Permission to send an SMS has not been enabled for the region indicated by the To number' };
    const chosen = (await smsSentOrFallback(stack)).phone;
    assert.ok(fallback.messages.some((m) => m.to === chosen), 'the refused number still gets its code, through the fallback');
    const delivery = await stack.api('GET', '/api/v1/admin/delivery', undefined, ADMIN_TOKEN);
    const twilio = delivery.body.channels.find((c: { channel: string }) => c.channel === 'sms').breakers[0];
    assert.equal(twilio.provider, 'twilio');
    assert.equal(twilio.state, 'closed', 'one number in a region the account may not text says nothing about the account');
    // the next person's code goes to Twilio as before
    stack.sms.failWith = undefined;
    const requests = stack.sms.requests;
    const next = await smsSentOrFallback(stack);
    assert.ok(stack.sms.requests > requests, 'Twilio is asked again');
    assert.match(next.provider_id ?? '', /^SM/);
  });
});

/** A verified account asks for a phone code; answers the message once a provider accepted it. */
async function smsSentOrFallback(stack: Stack) {
  const { tokens } = await verifiedLogin(stack, 'attack-geo');
  const phone = (await stack.api('GET', '/api/v1/users/me', undefined, tokens.access_token)).body.phone as string;
  assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token)).status, 200);
  return waitUntil(
    async () => {
      const row = await stack.runtime.ctx.db.selectFrom('messages').selectAll().where('recipient', '=', phone).orderBy('created_at', 'desc').executeTakeFirst();
      return row?.status === 'sent' ? { ...row, phone } : undefined;
    },
    { timeoutMs: 15_000, what: `the SMS to ${phone} accepted` },
  );
}
