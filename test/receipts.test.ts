/**
 * Receipts: what a provider tells us after it accepted a message, sent as the providers send it and
 * forged as an attacker would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, expectStatus } from './support/api.ts';
import { databaseKinds, person, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import { startHttpSmsServer, type HttpSmsFixture } from './support/sms.ts';
import { newestMessage } from './support/outbox-rows.ts';
import { waitUntil } from './support/wait.ts';
import { twilioSignature } from '../src/http/webhook-signatures.ts';
import {
  acceptedSms,
  postRaw as post,
  postTwilioReceipt,
  signAsTwilio,
  signBody,
  TWILIO_STATUS_PATH as TWILIO_PATH,
} from './support/receipts.ts';

const PUBLIC_URL = 'https://panic.example.test/base';
const SMS_SECRET = 'sms-webhook-secret-0123456789abcdef';
const EMAIL_SECRET = 'email-webhook-secret-0123456789abcdef';

async function metricsText(stack: Stack): Promise<string> {
  return stack.runtime.services.metrics.registry.metrics();
}

describe("Twilio's signature rule", () => {
  it("matches Twilio's documented example (token 12345)", () => {
    const fields = new URLSearchParams({
      CallSid: 'CA1234567890ABCDE',
      Caller: '+12349013030',
      Digits: '1234',
      From: '+12349013030',
      To: '+18005551212',
    });
    assert.equal(
      twilioSignature('https://mycompany.com/myapp.php?foo=1&bar=2', fields, '12345'),
      '0/KCTR6DLpKmkAf8muzZqo1nDgQ=',
    );
  });
});

for (const db of await databaseKinds()) {
  describe(`receipts (${db})`, () => {
    let stack: Stack;
    let httpSms: HttpSmsFixture;
    let genericStack: Stack;
    before(async () => {
      stack = await startStack({ db, env: { PUBLIC_URL: `${PUBLIC_URL}/`, EMAIL_WEBHOOK_SECRET: EMAIL_SECRET } });
      httpSms = await startHttpSmsServer();
      genericStack = await startStack({
        db,
        env: {
          SMS_PROVIDER: 'http',
          SMS_API_URL: httpSms.url,
          SMS_API_KEY: httpSms.apiKey,
          SMS_WEBHOOK_SECRET: SMS_SECRET,
        },
      });
    });
    after(async () => {
      await Promise.all([stack?.close(), genericStack?.close()]);
      await httpSms?.close();
    });

    const twilioReceipt = (fields: Record<string, string>, signature: string) =>
      postTwilioReceipt(stack, fields, signature);

    it('every SMS asks Twilio for StatusCallback=<PUBLIC_URL>/api/v1/webhooks/twilio/status', async () => {
      const { phone } = await acceptedSms(stack);
      const sent = stack.sms.messages.filter((m) => m.to === phone).at(-1)!;
      assert.equal(sent.statusCallback, `${PUBLIC_URL}${TWILIO_PATH}`);
    });

    it('forged Twilio receipts answer 403 and change nothing: no signature, another token, the Host-based URL, a field changed after signing', async () => {
      const { row } = await acceptedSms(stack);
      const fields = { MessageSid: row.provider_id!, MessageStatus: 'delivered', AccountSid: stack.sms.accountSid };
      const url = `${PUBLIC_URL}${TWILIO_PATH}`;
      const attempts = [
        await post(stack, TWILIO_PATH, new URLSearchParams(fields).toString(), {
          'content-type': 'application/x-www-form-urlencoded',
        }),
        await twilioReceipt(fields, signAsTwilio(url, fields, 'another-accounts-token')),
        await twilioReceipt(fields, signAsTwilio(`${stack.baseUrl}${TWILIO_PATH}`, fields, stack.sms.authToken)),
        await twilioReceipt(
          { ...fields, MessageStatus: 'undelivered' },
          signAsTwilio(url, fields, stack.sms.authToken),
        ),
        await twilioReceipt(fields, ''),
      ];
      assert.deepEqual(
        attempts.map((a) => a.status),
        [403, 403, 403, 403, 403],
      );
      assert.ok(attempts.every((a) => errorCode(a) === 'forbidden'));
      assert.equal((await newestMessage(stack, row.recipient)).status, 'sent');
      // the same form sent as JSON is not Twilio's either
      const json = await post(stack, TWILIO_PATH, JSON.stringify(fields), {
        'content-type': 'application/json',
        'x-twilio-signature': signAsTwilio(url, fields, stack.sms.authToken),
      });
      assert.equal(json.status, 415);
    });

    it("a signed 'undelivered' with ErrorCode 30007 moves the message and keeps the code; a late 'sent' or 'delivered' changes nothing", async () => {
      const { row } = await acceptedSms(stack);
      const url = `${PUBLIC_URL}${TWILIO_PATH}`;
      const receipt = (status: string, extra: Record<string, string> = {}) => {
        const fields = {
          MessageSid: row.provider_id!,
          MessageStatus: status,
          AccountSid: stack.sms.accountSid,
          To: row.recipient,
          ...extra,
        };
        return twilioReceipt(fields, signAsTwilio(url, fields, stack.sms.authToken));
      };
      const sentFirst = await receipt('sent');
      assert.equal(sentFirst.status, 200, sentFirst.text);
      assert.deepEqual(sentFirst.body, { message_id: row.id, status: 'sent', changed: false });
      const undelivered = await receipt('undelivered', { ErrorCode: '30007', ErrorMessage: 'Carrier violation' });
      assert.deepEqual(undelivered.body, { message_id: row.id, status: 'undelivered', changed: true });
      for (const late of ['sent', 'delivered', 'undelivered']) {
        const again = await receipt(late, { ErrorCode: '30003' });
        assert.deepEqual(again.body, { message_id: row.id, status: 'undelivered', changed: false }, late);
      }
      const stored = await newestMessage(stack, row.recipient);
      assert.equal(stored.status, 'undelivered');
      assert.equal(stored.provider_error_code, '30007');
      assert.match(stored.last_error ?? '', /undelivered: code 30007/);
      const events = await stack.runtime.services.db
        .selectFrom('message_events')
        .selectAll()
        .where('message_id', '=', row.id)
        .orderBy('at')
        .orderBy('id')
        .execute();
      assert.deepEqual(
        events.map((e) => e.kind),
        ['queued', 'sent', 'receipt'],
        'one receipt event: the repeats changed nothing',
      );
      assert.equal(events[2].status, 'undelivered');
      assert.equal(events[2].provider, 'twilio');
      assert.equal(events[2].provider_code, '30007');
    });

    it("'delivered' twice counts once in panic_delivery_outcomes_total and the queued-to-delivered histogram; then a late 'sent' leaves it delivered", async () => {
      const { row } = await acceptedSms(stack);
      const url = `${PUBLIC_URL}${TWILIO_PATH}`;
      const fields = (status: string) => ({ MessageSid: row.provider_id!, MessageStatus: status });
      const series =
        /^panic_delivery_outcomes_total\{channel="sms",provider="twilio",status="delivered",destination="27"\} (\d+)$/m;
      const before = Number((await metricsText(stack)).match(series)?.[1] ?? 0);
      for (const status of ['delivered', 'delivered', 'sent']) {
        const r = await twilioReceipt(fields(status), signAsTwilio(url, fields(status), stack.sms.authToken));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.status, 'delivered');
      }
      const text = await metricsText(stack);
      assert.equal(Number(text.match(series)?.[1]), before + 1);
      assert.match(text, /^panic_queued_to_delivered_seconds_count\{channel="sms",provider="twilio"\} [1-9]/m);
      assert.equal((await newestMessage(stack, row.recipient)).status, 'delivered');
    });

    it('GET /users/verify-phone/status follows the latest SMS code: 404 before any, sent, then undelivered with the hint for the carrier code', async () => {
      const { tokens } = await verifiedLogin(stack, 'status');
      const status = () => stack.api('GET', '/api/v1/users/verify-phone/status', undefined, tokens.access_token);
      const none = await status();
      assert.equal(none.status, 404);
      assert.equal(errorCode(none), 'not_found');
      assert.equal((await stack.api('GET', '/api/v1/users/verify-phone/status')).status, 401);
      assert.equal((await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token)).status, 200);
      const sent = await waitUntil(
        async () => {
          const r = await status();
          return r.status === 200 && r.body.status === 'sent' ? r : undefined;
        },
        { what: 'the status sent' },
      );
      assert.match(sent.body.hint, /handed to the mobile network/);
      const row = await newestMessage(stack, sent.body.phone);
      const fields = { MessageSid: row.provider_id!, MessageStatus: 'undelivered', ErrorCode: '30006' };
      assert.equal(
        (await twilioReceipt(fields, signAsTwilio(`${PUBLIC_URL}${TWILIO_PATH}`, fields, stack.sms.authToken))).status,
        200,
      );
      const after = await status();
      assert.equal(after.status, 200, after.text);
      assert.equal(after.body.status, 'undelivered');
      // the hint for Twilio's 30006 from the reasons table, not only the state's
      assert.equal(after.body.hint, 'This number cannot receive text messages. Use a mobile number.');
      assert.deepEqual(Object.keys(after.body).sort(), [
        'can_ask',
        'channel',
        'channels',
        'code_expires_at',
        'hint',
        'next_move_at',
        'phone',
        'status',
        'updated_at',
      ]);
      // SMS is this service's only phone channel: the code took it, nothing waits, nothing is left to ask for
      assert.deepEqual(
        after.body.channels.map((c) => [c.channel, c.status]),
        [['sms', 'undelivered']],
      );
      assert.equal(after.body.next_move_at, null);
      assert.deepEqual(after.body.can_ask, []);
    });

    it('a signed receipt for a MessageSid we never sent answers 404', async () => {
      const fields = { MessageSid: 'SM' + '0'.repeat(32), MessageStatus: 'delivered' };
      const r = await twilioReceipt(fields, signAsTwilio(`${PUBLIC_URL}${TWILIO_PATH}`, fields, stack.sms.authToken));
      assert.equal(r.status, 404);
      assert.equal(errorCode(r), 'not_found');
    });

    it('the generic provider: a receipt signed with SMS_WEBHOOK_SECRET moves the message; a forged or unsigned one is 403; a bad status is 400', async () => {
      const { row } = await acceptedSms(genericStack);
      const sent = httpSms.messages.filter((m) => m.to === row.recipient).at(-1)!;
      assert.equal(row.provider_id, sent.id);
      const path = '/api/v1/webhooks/sms/status';
      const send = (body: string, signature?: string) =>
        post(genericStack, path, body, {
          'content-type': 'application/json',
          ...(signature === undefined ? {} : { 'x-signature': signature }),
        });
      const failed = JSON.stringify({
        id: sent.id,
        status: 'failed',
        error_code: '21614',
        error_message: 'not a mobile number',
      });
      const forged = [
        await send(failed),
        await send(failed, signBody(failed, 'guessed')),
        await send(failed, signBody(failed + ' ', SMS_SECRET)),
        await send('{"id":', signBody('{"id"', SMS_SECRET)),
      ];
      assert.deepEqual(
        forged.map((f) => f.status),
        [403, 403, 403, 403],
      );
      assert.equal((await newestMessage(genericStack, row.recipient)).status, 'sent');
      const bad = JSON.stringify({ id: sent.id, status: 'exploded' });
      assert.equal((await send(bad, signBody(bad, SMS_SECRET))).status, 400);
      const ok = await send(failed, signBody(failed, SMS_SECRET));
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body, { message_id: row.id, status: 'failed', changed: true });
      const stored = await newestMessage(genericStack, row.recipient);
      assert.equal(stored.provider_error_code, '21614');
      assert.match(stored.last_error ?? '', /not a mobile number/);
      const late = JSON.stringify({ id: sent.id, status: 'delivered' });
      assert.equal(expectStatus(await send(late, signBody(late, SMS_SECRET)), 200).status, 'failed');
    });

    it('receipts are refused (403) while their secret is not set: no Twilio receipts without PUBLIC_URL, no email events without EMAIL_WEBHOOK_SECRET', async () => {
      const body = JSON.stringify({ message_id: '00000000-0000-0000-0000-000000000000', event: 'delivered' });
      const email = await post(genericStack, '/api/v1/webhooks/email/events', body, {
        'content-type': 'application/json',
        'x-signature': signBody(body, ''),
      });
      assert.equal(email.status, 403);
      const fields = { MessageSid: 'SMx', MessageStatus: 'delivered' };
      const twilio = await post(genericStack, TWILIO_PATH, new URLSearchParams(fields).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signAsTwilio(`${genericStack.baseUrl}${TWILIO_PATH}`, fields, ''),
      });
      assert.equal(twilio.status, 403);
    });

    it('signed but malformed receipts answer 4xx with {error:{code,message}}, never 5xx', async () => {
      const bodies = [
        '',
        '{',
        'null',
        '[]',
        '"text"',
        '{"__proto__":{"status":"delivered"},"id":"x","status":"sent"}',
        JSON.stringify({ id: 42, status: 'delivered' }),
        JSON.stringify({ id: 'x'.repeat(10_000), status: 'delivered' }),
        JSON.stringify({ id: 'x', status: 'delivered', error_code: ['a'] }),
        JSON.stringify({ message_id: 'a', provider_id: 'b', event: 'delivered' }),
        JSON.stringify({ message_id: null, event: 'bounced' }),
        Buffer.from([0xff, 0xfe, 0x7b]).toString('latin1'),
      ];
      const answers = [];
      for (const [path, secret, s] of [
        ['/api/v1/webhooks/sms/status', SMS_SECRET, genericStack],
        ['/api/v1/webhooks/email/events', EMAIL_SECRET, stack],
      ] as const) {
        for (const body of bodies)
          answers.push({
            path,
            body,
            res: await post(s, path, body, {
              'content-type': 'application/json',
              'x-signature': signBody(body, secret),
            }),
          });
      }
      const twilioForms = [
        '',
        'MessageSid=',
        'MessageStatus=delivered',
        'MessageSid=SMx&MessageSid=SMy&MessageStatus=delivered',
        '%%%=%',
        'MessageSid=' + 'x'.repeat(5000) + '&MessageStatus=delivered',
      ];
      for (const form of twilioForms) {
        const fields = new URLSearchParams(form);
        const signature = twilioSignature(`${PUBLIC_URL}${TWILIO_PATH}`, fields, stack.sms.authToken);
        answers.push({
          path: TWILIO_PATH,
          body: form,
          res: await post(stack, TWILIO_PATH, form, {
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': signature,
          }),
        });
      }
      for (const { path, body, res } of answers) {
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${path} ${JSON.stringify(body).slice(0, 80)}: ${res.status} ${res.text}`,
        );
        assert.deepEqual(
          Object.keys(res.status !== 200 ? (res.body.error ?? {}) : {}).sort(),
          ['code', 'message'],
          res.text,
        );
      }
    });

    describe('email events and the suppression list', () => {
      const path = '/api/v1/webhooks/email/events';
      const event = (body: object, secret = EMAIL_SECRET) => {
        const text = JSON.stringify(body);
        return post(stack, path, text, { 'content-type': 'application/json', 'x-signature': signBody(text, secret) });
      };

      it('every mail carries X-Panic-Message-Id, its row id', async () => {
        const p = person('header');
        assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
        const mail = await stack.smtp.waitFor(p.email);
        const row = await newestMessage(stack, p.email);
        assert.match(mail.raw, new RegExp(`^X-Panic-Message-Id: ${row.id}\\r?$`, 'mi'));
      });

      it('a hard bounce suppresses the address: the next code to it ends `suppressed` and is never sent, while the public answers stay the same as for an unknown address', async () => {
        const p = person('bounce');
        assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
        await stack.smtp.waitFor(p.email);
        const first = await waitUntil(async () => {
          const r = await newestMessage(stack, p.email);
          return r.status === 'sent' ? r : undefined;
        });
        const forged = await event({ message_id: first.id, event: 'bounced' }, 'not-the-secret');
        assert.equal(forged.status, 403);
        const bounced = await event({
          message_id: first.id,
          event: 'bounced',
          reason: '550 5.1.1 mailbox does not exist',
        });
        assert.equal(bounced.status, 200, bounced.text);
        assert.deepEqual(bounced.body, { message_id: first.id, status: 'bounced', changed: true });
        const entry = await stack.runtime.services.db
          .selectFrom('suppressions')
          .selectAll()
          .where('address', '=', p.email.toLowerCase())
          .executeTakeFirst();
        assert.equal(entry?.kind, 'bounce');
        assert.match(entry?.reason ?? '', /mailbox does not exist/);

        const mailsBefore = stack.smtp.messages.filter((m) => m.envelopeTo.includes(p.email)).length;
        const known = await stack.api('POST', '/api/v1/auth/resend-verification', { email: p.email });
        const unknown = await stack.api('POST', '/api/v1/auth/resend-verification', {
          email: `nobody.${Date.now()}@example.test`,
        });
        assert.equal(known.status, 200, known.text);
        assert.equal(unknown.status, 200, unknown.text);
        const { expires_at: knownExpiry, ...knownRest } = known.body;
        const { expires_at: unknownExpiry, ...unknownRest } = unknown.body;
        assert.deepEqual(knownRest, unknownRest);
        assert.equal(typeof knownExpiry, typeof unknownExpiry);
        const next = await waitUntil(
          async () => {
            const r = await newestMessage(stack, p.email);
            return r.id !== first.id && r.status === 'suppressed' ? r : undefined;
          },
          { what: 'the next message suppressed' },
        );
        assert.match(next.last_error ?? '', /suppressed .*bounced: 550 5\.1\.1/);
        assert.equal(
          stack.smtp.messages.filter((m) => m.envelopeTo.includes(p.email)).length,
          mailsBefore,
          'nothing more reached the mailbox',
        );
        assert.match(
          await metricsText(stack),
          /^panic_delivery_outcomes_total\{channel="email",provider="smtp",status="suppressed",destination="example\.test"\} [1-9]/m,
        );
      });

      it('a complaint named by the Message-ID (brackets dropped, as providers do) marks it delivered and suppresses the address; events for unknown ids are 404, a body naming neither id is 400', async () => {
        const p = person('complaint');
        assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
        await stack.smtp.waitFor(p.email);
        const row = await waitUntil(async () => {
          const r = await newestMessage(stack, p.email);
          return r.status === 'sent' ? r : undefined;
        });
        const complained = await event({
          provider_id: row.provider_id!.replace(/^<|>$/g, ''),
          event: 'complained',
          reason: 'abuse report',
        });
        assert.equal(complained.status, 200, complained.text);
        assert.deepEqual(complained.body, { message_id: row.id, status: 'delivered', changed: true });
        const entry = await stack.runtime.services.db
          .selectFrom('suppressions')
          .selectAll()
          .where('address', '=', p.email.toLowerCase())
          .executeTakeFirst();
        assert.equal(entry?.kind, 'complaint');
        assert.equal(
          (await event({ message_id: '00000000-0000-0000-0000-000000000000', event: 'delivered' })).status,
          404,
        );
        assert.equal((await event({ message_id: 'not-a-uuid', event: 'delivered' })).status, 404);
        assert.equal((await event({ event: 'delivered' })).status, 400);
      });
    });
  });
}
