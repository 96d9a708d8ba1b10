/**
 * Receipts and failover attacked: receipts signed by a provider but naming what is not that
 * provider's, or carrying text the database cannot hold; forged receipts made to cost the service
 * (thousands of fields to parse and sort, a flood from one address); a number chosen to trip the
 * primary's breaker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, type ApiResponse } from './support/api.ts';
import { databaseKinds, startStack, type Stack } from './support/stack.ts';
import { channelState } from './support/delivery-state.ts';
import { startHttpSmsServer, type HttpSmsFixture } from './support/sms.ts';
import { clientFrom, type Client } from './support/clients.ts';
import { twilioSignature } from '../src/http/webhook-signatures.ts';
import {
  acceptedSms,
  postRaw as post,
  postSigned,
  signAsTwilio,
  TWILIO_STATUS_PATH as TWILIO_PATH,
} from './support/receipts.ts';

const PUBLIC_URL = 'https://panic.example.test';
const SMS_PATH = '/api/v1/webhooks/sms/status';
const SMS_SECRET = 'attack-sms-webhook-secret-0123456789';
const EMAIL_SECRET = 'attack-email-webhook-secret-0123456789';

const signedJson = (stack: Stack, path: string, value: unknown, secret: string) =>
  postSigned(stack, path, JSON.stringify(value), secret);

const FORM = 'application/x-www-form-urlencoded';
/** A Twilio form from `client`, signed as Twilio signs it with `token` (any token but the account's is a forgery). */
const twilioFrom = (client: Client, fields: Record<string, string>, token: string) =>
  client.api('POST', TWILIO_PATH, new URLSearchParams(fields).toString(), undefined, {
    'content-type': FORM,
    'x-twilio-signature': signAsTwilio(`${PUBLIC_URL}${TWILIO_PATH}`, fields, token),
  });

/**
 * This process's CPU (user + system, ms) for each kind of request: the median of n, the kinds taken in
 * turn so that a collection or a timer of the service weighs on none alone; and the answers by status.
 */
async function cpuMedians<K extends string>(n: number, kinds: Record<K, () => Promise<ApiResponse>>) {
  const samples = new Map<K, { ms: number[]; statuses: number[] }>();
  for (let i = 0; i < n; i++) {
    for (const [kind, send] of Object.entries(kinds) as Array<[K, () => Promise<ApiResponse>]>) {
      const start = process.cpuUsage();
      const { status } = await send();
      const used = process.cpuUsage(start);
      const s = samples.get(kind) ?? { ms: [], statuses: [] };
      s.ms.push((used.user + used.system) / 1000);
      s.statuses.push(status);
      samples.set(kind, s);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(
    [...samples].map(([kind, s]) => [kind, { ms: median(s.ms), statuses: [...new Set(s.statuses)] }]),
  ) as Record<K, { ms: number; statuses: number[] }>;
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
      const { row } = await acceptedSms(stack, 'attack');
      assert.match(row.provider_id ?? '', /^SM/, 'sent through Twilio');
      const forged = await signedJson(
        stack,
        SMS_PATH,
        { id: row.provider_id, status: 'failed', error_message: 'forged by the other provider' },
        SMS_SECRET,
      );
      assert.equal(forged.status, 404, forged.text);
      const stored = await stack.runtime.services.db
        .selectFrom('messages')
        .select(['status', 'last_error'])
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      assert.equal(stored.status, 'sent');
      assert.equal(stored.last_error, null);
    });

    it('a signed receipt nested thousands of levels deep is a 400 (413 past the 8 KiB a receipt may be), never a 500', async () => {
      for (const [depth, status] of [
        [4_000, 400],
        [20_000, 413],
      ]) {
        const body = '['.repeat(depth) + ']'.repeat(depth);
        for (const [path, secret] of [
          [SMS_PATH, SMS_SECRET],
          ['/api/v1/webhooks/email/events', EMAIL_SECRET],
        ]) {
          const res = await postSigned(stack, path, body, secret);
          assert.equal(res.status, status, `${path} depth ${depth}: ${res.status} ${res.text.slice(0, 200)}`);
        }
        const nested = `{"id":"x","status":"sent","error_code":${'['.repeat(depth)}${']'.repeat(depth)}}`;
        const res = await postSigned(stack, SMS_PATH, nested, SMS_SECRET);
        assert.equal(res.status, status, `nested field depth ${depth}: ${res.status} ${res.text.slice(0, 200)}`);
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
        await signedJson(
          stack,
          '/api/v1/webhooks/email/events',
          { provider_id: '<a\u0000@b>', event: 'bounced' },
          EMAIL_SECRET,
        ),
      ];
      assert.deepEqual(
        answers.map((a) => a.status),
        [400, 400, 400, 400],
        answers.map((a) => a.text).join('\n'),
      );
      assert.ok(answers.every((a) => errorCode(a) === 'validation_error'));
      const stored = await stack.runtime.services.db
        .selectFrom('messages')
        .select('status')
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      assert.equal(stored.status, 'sent');
    });

    it('a forged Twilio receipt of 32,000 fields, or of 4,000 in 8 KiB, is a 413 for at most 3x the CPU of a small forged one', async (t) => {
      const fields = {
        MessageSid: 'SM0123456789abcdef0123456789abcdef',
        MessageStatus: 'delivered',
        AccountSid: stack.sms.accountSid,
      };
      // the body of the issue: 32,000 one-letter fields in 64 KB, the service's body limit
      const huge = Array.from({ length: 32_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('&');
      // as many fields as fit in 8 KiB
      const many = 'a&'.repeat(4_000);
      const forge = (client: Client, form: string) =>
        client.api('POST', TWILIO_PATH, form, undefined, {
          'content-type': FORM,
          'x-twilio-signature': 'Zm9yZ2VkIGJ5IGFuIGF0dGFja2VyIQ==',
        });
      // each kind from its own address: none spends another's budget of forged receipts
      const small = clientFrom(stack.baseUrl, '127.0.18.11');
      const hugeFrom = clientFrom(stack.baseUrl, '127.0.18.12');
      const manyFrom = clientFrom(stack.baseUrl, '127.0.18.13');
      const smallForm = new URLSearchParams(fields).toString();
      const cpu = await cpuMedians(21, {
        small: () => forge(small, smallForm),
        huge: () => forge(hugeFrom, huge),
        many: () => forge(manyFrom, many),
      });
      const figures = `small forged ${cpu.small.ms.toFixed(2)} ms, 32,000 fields ${cpu.huge.ms.toFixed(2)} ms, 4,000 fields ${cpu.many.ms.toFixed(2)} ms of CPU each (medians)`;
      t.diagnostic(figures);
      assert.deepEqual([cpu.small.statuses, cpu.huge.statuses, cpu.many.statuses], [[403], [413], [413]], figures);
      assert.ok(cpu.huge.ms <= 3 * cpu.small.ms, figures);
      assert.ok(cpu.many.ms <= 3 * cpu.small.ms, figures);
    });

    it('forged receipts from one address: 403 while its budget of 30 a minute lasts, then 429 with Retry-After; another address has its own, and a genuine receipt still lands', async () => {
      const { row } = await acceptedSms(stack, 'attack-budget');
      const attacker = clientFrom(stack.baseUrl, '127.0.18.21');
      const forgery = { MessageSid: row.provider_id!, MessageStatus: 'failed', AccountSid: stack.sms.accountSid };
      const statuses = new Map<number, number>();
      let retryAfter: string | null = null;
      for (let i = 0; i < 100; i++) {
        // the three routes share one budget: every third is a forged JSON receipt
        const res =
          i % 3 === 2
            ? await attacker.api('POST', SMS_PATH, { id: row.provider_id!, status: 'failed' }, undefined, {
                'x-signature': `sha256=${'0'.repeat(64)}`,
              })
            : await twilioFrom(attacker, forgery, `guessed-token-${i}`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
      }
      assert.deepEqual(
        Object.fromEntries(statuses),
        { 403: 30, 429: 70 },
        'forged receipts refused with 403 (their signature checked), then 429',
      );
      assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After: ${retryAfter}`);

      const neighbour = await twilioFrom(clientFrom(stack.baseUrl, '127.0.19.21'), forgery, 'guessed-token');
      assert.equal(neighbour.status, 403, 'another address spends its own budget');

      // Twilio's receipt, from the same address (a provider behind the attacker's NAT or proxy): it spends nothing and is never refused
      const genuine = await twilioFrom(
        attacker,
        { MessageSid: row.provider_id!, MessageStatus: 'delivered', AccountSid: stack.sms.accountSid },
        stack.sms.authToken,
      );
      assert.equal(genuine.status, 200, genuine.text);
      assert.equal(genuine.body.status, 'delivered');
      assert.equal(
        (await twilioFrom(attacker, forgery, 'guessed-token')).status,
        429,
        'a genuine receipt does not refill the budget',
      );
      const stored = await stack.runtime.services.db
        .selectFrom('messages')
        .select('status')
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      assert.equal(stored.status, 'delivered', 'no forgery changed the message');
    });
  });
}

const ADMIN_TOKEN = 'attack-admin-token-0123456789abcdef';

describe('failover attacked: a code asked for a number in a region the Twilio account may not text', () => {
  let stack: Stack;
  let fallback: HttpSmsFixture;
  before(async () => {
    fallback = await startHttpSmsServer();
    stack = await startStack({
      env: {
        ADMIN_TOKEN,
        SMS_FALLBACK_PROVIDER: 'http',
        SMS_FALLBACK_API_URL: fallback.url,
        SMS_FALLBACK_API_KEY: fallback.apiKey,
      },
    });
  });
  after(async () => {
    await stack?.close();
    await fallback?.close();
  });

  it("21408 (geo permissions, decided by the To number anyone may choose) sends that code through the fallback but leaves Twilio's breaker closed for everyone else", async () => {
    stack.sms.failWith = {
      status: 400,
      code: 21408,
      message: 'Permission to send an SMS has not been enabled for the region indicated by the To number',
    };
    const chosen = (await acceptedSms(stack, 'attack-geo', 15_000)).phone;
    assert.ok(
      fallback.messages.some((m) => m.to === chosen),
      'the refused number still gets its code, through the fallback',
    );
    const twilio = (await channelState(stack, 'sms', ADMIN_TOKEN)).breakers![0];
    assert.equal(twilio.provider, 'twilio');
    assert.equal(
      twilio.state,
      'closed',
      'one number in a region the account may not text says nothing about the account',
    );
    // the next person's code goes to Twilio as before
    stack.sms.failWith = undefined;
    const requests = stack.sms.requests;
    const { row: next } = await acceptedSms(stack, 'attack-geo', 15_000);
    assert.ok(stack.sms.requests > requests, 'Twilio is asked again');
    assert.match(next.provider_id ?? '', /^SM/);
  });
});
