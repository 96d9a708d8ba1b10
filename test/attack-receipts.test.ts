/**
 * Receipts and failover attacked: receipts signed by a provider but naming what is not that
 * provider's, or carrying text the database cannot hold; a number chosen to trip the primary's breaker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, errorCode, startStack, type Stack } from './support/stack.ts';
import { startHttpSmsServer, type HttpSmsFixture } from './support/sms.ts';
import { twilioSignature } from '../src/http/webhook-signatures.ts';
import { acceptedSms, postRaw as post, postSigned, TWILIO_STATUS_PATH as TWILIO_PATH } from './support/receipts.ts';

const PUBLIC_URL = 'https://panic.example.test';
const SMS_PATH = '/api/v1/webhooks/sms/status';
const SMS_SECRET = 'attack-sms-webhook-secret-0123456789';
const EMAIL_SECRET = 'attack-email-webhook-secret-0123456789';

const signedJson = (stack: Stack, path: string, value: unknown, secret: string) => postSigned(stack, path, JSON.stringify(value), secret);

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
      const { row } = await acceptedSms(stack, 'attack');
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
          const res = await postSigned(stack, path, body, secret);
          assert.equal(res.status, 400, `${path} depth ${depth}: ${res.status} ${res.text.slice(0, 200)}`);
        }
        const nested = `{"id":"x","status":"sent","error_code":${'['.repeat(depth)}${']'.repeat(depth)}}`;
        const res = await postSigned(stack, SMS_PATH, nested, SMS_SECRET);
        assert.equal(res.status, 400, `nested field depth ${depth}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    });

    it('a signed receipt carrying a NUL character is a 400, never a 500 from the database', async () => {
      const { row } = await acceptedSms(stack, 'attack');
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
    const chosen = (await acceptedSms(stack, 'attack-geo', 15_000)).phone;
    assert.ok(fallback.messages.some((m) => m.to === chosen), 'the refused number still gets its code, through the fallback');
    const delivery = await stack.api('GET', '/api/v1/admin/delivery', undefined, ADMIN_TOKEN);
    const twilio = delivery.body.channels.find((c: { channel: string }) => c.channel === 'sms').breakers[0];
    assert.equal(twilio.provider, 'twilio');
    assert.equal(twilio.state, 'closed', 'one number in a region the account may not text says nothing about the account');
    // the next person's code goes to Twilio as before
    stack.sms.failWith = undefined;
    const requests = stack.sms.requests;
    const { row: next } = await acceptedSms(stack, 'attack-geo', 15_000);
    assert.ok(stack.sms.requests > requests, 'Twilio is asked again');
    assert.match(next.provider_id ?? '', /^SM/);
  });
});
