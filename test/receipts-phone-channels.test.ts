/**
 * Receipts of the phone's other roads: Twilio's StatusCallback for WhatsApp messages and for calls, and
 * Meta's WhatsApp webhook (its subscription check and its signed statuses), sent as each provider sends
 * them (test/support/twilio-status.ts, test/support/whatsapp.ts) and forged as an attacker would.
 *
 * The messages they name are put in the outbox as the worker leaves an accepted one (`sent`, the
 * provider's id, its `sent` event): the receipts are what is tested here, not the sends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Channel } from '../src/shared/vocabulary.ts';
import { expectStatus, readAnswer, type ApiResponse } from './support/api.ts';
import { clientFrom } from './support/clients.ts';
import { signAsTwilio, signBody } from './support/receipts.ts';
import { databaseKinds, randomMobile, startStack, type Stack } from './support/stack.ts';
import { postTwilioStatus } from './support/twilio-status.ts';
import { callStatusFields, type CallEnd, type TwilioCall } from './support/twilio-voice.ts';
import {
  getMetaSubscription,
  type MetaMessage,
  metaStatus,
  metaStatusWebhook,
  type MetaWhatsAppFixture,
  postMetaWebhook,
  startMetaWhatsAppServer,
  type TwilioWhatsAppMessage,
  whatsAppStatusFields,
} from './support/whatsapp.ts';

const PUBLIC_URL = 'https://panic.example.test';
const STATUS_PATH = '/api/v1/webhooks/twilio/status';
const CALL_PATH = '/api/v1/webhooks/twilio/call-status';
const META_PATH = '/api/v1/webhooks/whatsapp';
const ADMIN_TOKEN = 'phone-receipts-admin-token-0123456789';
/** WhatsApp's own Twilio key, not the SMS one: receipts signed with it are Twilio's too. */
const WHATSAPP_TOKEN = 'twilio-whatsapp-auth-token-0123456789';
const APP_SECRET = 'meta-app-secret-0123456789abcdef';
const VERIFY_TOKEN = 'meta-verify-token-0123456789abcdef';
const FORM = 'application/x-www-form-urlencoded';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * A message `provider` accepted on `channel` under `providerId`, as the worker leaves it: `sent`, with the
 * provider's id and its `queued` and `sent` events.
 */
async function acceptedBy(stack: Stack, channel: Channel, provider: string, providerId: string) {
  const db = stack.runtime.services.db;
  const now = new Date();
  const recipient = randomMobile();
  const { id } = await db
    .insertInto('messages')
    .values({
      channel,
      recipient,
      purpose: 'phone_verification',
      subject: null,
      body_text: 'a code the receipt never sees',
      body_html: null,
      otp: null,
      expires_at: new Date(now.getTime() + 600_000),
      status: 'sent',
      attempts: 1,
      next_attempt_at: now,
      lease_until: null,
      lease_token: null,
      last_error: null,
      provider_id: providerId,
      created_at: now,
      updated_at: now,
      sent_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const event = { message_id: id, at: now, error: null, provider_status: null, provider_code: null, duration_ms: null };
  await db
    .insertInto('message_events')
    .values([
      { ...event, kind: 'queued', status: 'queued', provider: null, provider_id: null },
      { ...event, kind: 'sent', status: 'sent', provider, provider_id: providerId },
    ])
    .execute();
  return { id, recipient };
}

/** The message as the delivery log shows it, with its events. */
async function logged(stack: Stack, id: string) {
  return expectStatus(await stack.api('GET', `/api/v1/admin/messages/${id}`, undefined, ADMIN_TOKEN), 200).message;
}

/** The receipt event of a message (the one a receipt that changed it wrote), or undefined. */
const receiptOf = async (stack: Stack, id: string) =>
  (await logged(stack, id)).events.find((e) => e.kind === 'receipt');

/** The body of a receipt's answer, which must be 200 (else the test fails with the answer's text). */
function answered<T>(res: ApiResponse<T>): T {
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** A WhatsApp message through Twilio, as the fixture records one. */
const twilioWhatsApp = (to: string): TwilioWhatsAppMessage => ({
  sid: `SM${hex(16)}`,
  to: `whatsapp:${to}`,
  channel: 'whatsapp',
  from: 'whatsapp:+14155238886',
  form: {},
});

/** A call through Twilio, as the fixture records one. */
const twilioCall = (to: string): TwilioCall => ({
  sid: `CA${hex(16)}`,
  to,
  from: '+15005550006',
  statusCallbackEvents: [],
  form: {},
});

/** Posts Twilio's form to `path` of the stack, signed over the public URL Twilio was given. */
async function twilioPost(
  stack: Stack,
  path: string,
  fields: Record<string, string>,
  token: string,
): Promise<ApiResponse<{ message_id: string; status: string; changed: boolean }>> {
  const postTo = `${stack.baseUrl}${path}`;
  return readAnswer(await postTwilioStatus(`${PUBLIC_URL}${path}`, fields, token, { postTo }), {
    method: 'POST',
    url: postTo,
  });
}

for (const db of await databaseKinds()) {
  describe(`receipts of WhatsApp and calls through Twilio (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        db,
        env: {
          PUBLIC_URL,
          ADMIN_TOKEN,
          WHATSAPP_PROVIDER: 'twilio',
          WHATSAPP_API_KEY: WHATSAPP_TOKEN,
          WHATSAPP_FROM: '+14155238886',
          WHATSAPP_TEMPLATE: `HX${hex(16)}`,
          VOICE_PROVIDER: 'twilio',
          VOICE_FROM: '+15005550006',
          // Meta's settings, while WhatsApp goes through Twilio: its webhook stays shut
          WHATSAPP_APP_SECRET: APP_SECRET,
          WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
        },
      });
    });
    after(async () => {
      await stack?.close();
    });

    it("WhatsApp's read (signed with WhatsApp's own key) makes the message delivered, and its event says read", async () => {
      const message = twilioWhatsApp(randomMobile());
      const { id } = await acceptedBy(stack, 'whatsapp', 'twilio', message.sid);
      const sent = await twilioPost(
        stack,
        STATUS_PATH,
        whatsAppStatusFields(message, stack.sms.accountSid, 'sent'),
        WHATSAPP_TOKEN,
      );
      assert.deepEqual(answered(sent), { message_id: id, status: 'sent', changed: false });

      const read = await twilioPost(
        stack,
        STATUS_PATH,
        whatsAppStatusFields(message, stack.sms.accountSid, 'read'),
        WHATSAPP_TOKEN,
      );
      assert.deepEqual(answered(read), { message_id: id, status: 'delivered', changed: true });
      const event = await receiptOf(stack, id);
      assert.equal(event?.status, 'delivered');
      assert.equal(event?.provider, 'twilio');
      assert.equal(event?.error, 'provider reported read', 'the event keeps the word WhatsApp said');
      assert.equal(event?.diagnosis, null);
      assert.equal((await logged(stack, id)).last_error, null, 'a read message has no error');
    });

    it('WhatsApp undelivered with 63003 makes the message undelivered, its event diagnosed from the reasons table', async () => {
      const message = twilioWhatsApp(randomMobile());
      const { id } = await acceptedBy(stack, 'whatsapp', 'twilio', message.sid);
      const fields = whatsAppStatusFields(message, stack.sms.accountSid, 'undelivered', 63003);
      const res = await twilioPost(stack, STATUS_PATH, fields, stack.sms.authToken);
      assert.deepEqual(answered(res), { message_id: id, status: 'undelivered', changed: true });
      const entry = await logged(stack, id);
      assert.equal(entry.status, 'undelivered');
      assert.equal(entry.last_error, 'provider reported undelivered: code 63003');
      const event = entry.events.find((e) => e.kind === 'receipt');
      assert.equal(event?.provider_code, '63003');
      assert.match(event?.diagnosis?.cause ?? '', /not a WhatsApp user/);
      assert.match(event?.diagnosis?.hint ?? '', /WhatsApp/);
    });

    it("a Twilio receipt finds the channel it names: a WhatsApp receipt for an SMS's id is a 404, the SMS's own lands", async () => {
      const sms = `SM${hex(16)}`;
      const { id } = await acceptedBy(stack, 'sms', 'twilio', sms);
      const asWhatsApp = {
        ...whatsAppStatusFields(twilioWhatsApp(randomMobile()), stack.sms.accountSid, 'failed', 63016),
        MessageSid: sms,
        SmsSid: sms,
      };
      assert.equal((await twilioPost(stack, STATUS_PATH, asWhatsApp, stack.sms.authToken)).status, 404);
      assert.equal((await logged(stack, id)).status, 'sent');
      const own = {
        MessageSid: sms,
        SmsSid: sms,
        MessageStatus: 'delivered',
        To: '+27820000000',
        From: '+15005550006',
      };
      const res = await twilioPost(stack, STATUS_PATH, own, stack.sms.authToken);
      assert.deepEqual(answered(res), { message_id: id, status: 'delivered', changed: true });
    });

    for (const [end, state] of [
      ['completed', 'delivered'],
      ['busy', 'undelivered'],
      ['no-answer', 'undelivered'],
      ['canceled', 'undelivered'],
      ['failed', 'failed'],
    ] as Array<[CallEnd, string]>) {
      it(`a call that ended ${end} makes the message ${state}; its progress before changed nothing`, async () => {
        const call = twilioCall(randomMobile());
        const { id } = await acceptedBy(stack, 'voice', 'twilio', call.sid);
        let sequence = 0;
        for (const progress of ['initiated', 'ringing', 'in-progress'] as const) {
          const res = await twilioPost(
            stack,
            CALL_PATH,
            callStatusFields(call, stack.sms.accountSid, progress, { sequenceNumber: sequence++ }),
            stack.sms.authToken,
          );
          assert.deepEqual(answered(res), { message_id: id, status: 'sent', changed: false }, progress);
        }
        const sip = end === 'failed' ? 404 : end === 'busy' ? 486 : undefined;
        const fields = callStatusFields(call, stack.sms.accountSid, end, {
          sequenceNumber: sequence,
          sipResponseCode: sip,
        });
        const res = await twilioPost(stack, CALL_PATH, fields, stack.sms.authToken);
        assert.deepEqual(answered(res), { message_id: id, status: state, changed: true });
        const event = await receiptOf(stack, id);
        assert.equal(event?.status, state);
        const facts = [end === 'completed' && 'CallDuration 12 s', sip && `SipResponseCode ${sip}`].filter(Boolean);
        if (end === 'completed') {
          assert.equal(event?.error, 'provider reported completed: CallDuration 12 s', "the call's facts are kept");
          assert.equal(event?.provider_code, null);
        } else {
          // how it ended is its code, worded by the reasons table for the operator and the person
          assert.equal(event?.error, [`provider reported ${state}`, `code ${end}`, ...facts].join(': '));
          assert.equal(event?.provider_code, end);
          assert.ok(event?.diagnosis?.hint, `${end} has a hint`);
        }
        // a late repeat of the end changes nothing
        const again = await twilioPost(stack, CALL_PATH, fields, stack.sms.authToken);
        assert.deepEqual(answered(again), { message_id: id, status: state, changed: false });
      });
    }

    it('receipts naming a call or a message nobody sent are 404 and change nothing', async () => {
      const call = twilioCall(randomMobile());
      const { id } = await acceptedBy(stack, 'voice', 'twilio', call.sid);
      const stranger = { ...call, sid: `CA${hex(16)}` };
      const res = await twilioPost(
        stack,
        CALL_PATH,
        callStatusFields(stranger, stack.sms.accountSid, 'failed'),
        stack.sms.authToken,
      );
      assert.equal(res.status, 404, res.text);
      const message = twilioWhatsApp(randomMobile());
      const unknown = await twilioPost(
        stack,
        STATUS_PATH,
        whatsAppStatusFields(message, stack.sms.accountSid, 'failed', 63003),
        WHATSAPP_TOKEN,
      );
      assert.equal(unknown.status, 404, unknown.text);
      assert.equal((await logged(stack, id)).status, 'sent');
      // a call's receipt on the messages' route finds no call either
      const crossed = await twilioPost(
        stack,
        STATUS_PATH,
        { MessageSid: call.sid, MessageStatus: 'failed' },
        stack.sms.authToken,
      );
      assert.equal(crossed.status, 404, crossed.text);
      assert.equal((await logged(stack, id)).status, 'sent');
    });

    it('forged call receipts: unsigned, a guessed token, signed over another URL or other fields: none gets through, then 429; the genuine one lands', async () => {
      const call = twilioCall(randomMobile());
      const { id } = await acceptedBy(stack, 'voice', 'twilio', call.sid);
      const failed = callStatusFields(call, stack.sms.accountSid, 'failed');
      const attacker = clientFrom(stack.baseUrl, '127.0.20.31');
      const post = (fields: Record<string, string>, signature?: string) =>
        attacker.request('POST', CALL_PATH, new URLSearchParams(fields).toString(), undefined, {
          'content-type': FORM,
          ...(signature === undefined ? {} : { 'x-twilio-signature': signature }),
        });
      const forgeries: Array<() => Promise<ApiResponse>> = [
        () => post(failed),
        () => post(failed, ''),
        () => post(failed, signAsTwilio(`${PUBLIC_URL}${CALL_PATH}`, failed, 'guessed-auth-token')),
        // the address the attacker reached, not the one Twilio was given
        () => post(failed, signAsTwilio(`${stack.baseUrl}${CALL_PATH}`, failed, stack.sms.authToken)),
        // the messages' route's URL: a status receipt's signature is not a call's
        () => post(failed, signAsTwilio(`${PUBLIC_URL}${STATUS_PATH}`, failed, stack.sms.authToken)),
        // a genuine signature of `ringing`, the status changed after
        () => {
          const ringing = callStatusFields(call, stack.sms.accountSid, 'ringing');
          return post(
            { ...ringing, CallStatus: 'failed' },
            signAsTwilio(`${PUBLIC_URL}${CALL_PATH}`, ringing, stack.sms.authToken),
          );
        },
      ];
      const statuses = new Map<number, number>();
      for (let i = 0; i < 36; i++) {
        const res = await forgeries[i % forgeries.length]();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
      assert.deepEqual(
        Object.fromEntries(statuses),
        { 403: 30, 429: 6 },
        'every forgery refused (403) while the address has forgeries left, then 429: none got through',
      );
      assert.equal((await logged(stack, id)).status, 'sent', 'no forgery changed the call');
      const genuine = await post(
        callStatusFields(call, stack.sms.accountSid, 'completed'),
        signAsTwilio(
          `${PUBLIC_URL}${CALL_PATH}`,
          callStatusFields(call, stack.sms.accountSid, 'completed'),
          stack.sms.authToken,
        ),
      );
      assert.equal(genuine.status, 200, genuine.text);
      assert.equal((await logged(stack, id)).status, 'delivered');
    });

    it("Meta's webhook is shut while WhatsApp goes through Twilio: 403 for the right verify token and for a body signed with the app secret", async () => {
      const check = await getMetaSubscription(`${stack.baseUrl}${META_PATH}`, {
        verifyToken: VERIFY_TOKEN,
        challenge: '1158201444',
      });
      assert.equal(check.status, 403);
      assert.match(await check.text(), /WHATSAPP_PROVIDER=meta/);
      const { id } = await acceptedBy(stack, 'whatsapp', 'meta', `wamid.${hex(20)}`);
      const wamid = (await logged(stack, id)).provider_id!;
      const body = {
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '1',
            changes: [
              {
                field: 'messages',
                value: { statuses: [{ id: wamid, status: 'failed', timestamp: '1', recipient_id: '27' }] },
              },
            ],
          },
        ],
      };
      const res = await postMetaWebhook(`${stack.baseUrl}${META_PATH}`, body, APP_SECRET);
      assert.equal(res.status, 403);
      assert.match(await res.text(), /WHATSAPP_PROVIDER=meta/);
      assert.equal((await logged(stack, id)).status, 'sent');
    });
  });

  describe(`Meta's WhatsApp webhook (${db})`, () => {
    let stack: Stack;
    let meta: MetaWhatsAppFixture;
    const url = () => `${stack.baseUrl}${META_PATH}`;
    /** A template message Meta accepted from us, in the outbox and as the fixture records one. */
    async function acceptedByMeta(): Promise<{ id: string; message: MetaMessage }> {
      const to = randomMobile();
      const message: MetaMessage = {
        id: `wamid.${randomBytes(30).toString('base64')}`,
        to: to.slice(1),
        template: 'panic_code',
        language: 'en_US',
        bodyParams: [],
        buttonParams: [],
        payload: null,
      };
      const { id } = await acceptedBy(stack, 'whatsapp', 'meta', message.id);
      return { id, message };
    }
    const post = async (payload: unknown, signature?: string) =>
      readAnswer<{ statuses: number; changed: number; unknown: number }>(
        await postMetaWebhook(url(), payload, APP_SECRET, { signature }),
        { method: 'POST', url: url() },
      );

    before(async () => {
      meta = await startMetaWhatsAppServer();
      stack = await startStack({
        db,
        env: {
          ADMIN_TOKEN,
          WHATSAPP_PROVIDER: 'meta',
          WHATSAPP_API_URL: meta.messagesUrl,
          WHATSAPP_API_KEY: meta.accessToken,
          WHATSAPP_PHONE_NUMBER_ID: meta.phoneNumberId,
          WHATSAPP_TEMPLATE: 'panic_code',
          WHATSAPP_APP_SECRET: APP_SECRET,
          WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
          // no PUBLIC_URL: Twilio was never given a URL, so its receipts are refused
        },
      });
    });
    after(async () => {
      await stack?.close();
      await meta?.close();
    });

    it('the subscription check: the right verify token gets hub.challenge back as text; a wrong one, or another mode, 403', async () => {
      const ok = await getMetaSubscription(url(), { verifyToken: VERIFY_TOKEN, challenge: '1158201444' });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await ok.text(), '1158201444');
      for (const opts of [
        { verifyToken: 'not-the-verify-token' },
        { verifyToken: `${VERIFY_TOKEN}x` },
        { verifyToken: '' },
        { verifyToken: VERIFY_TOKEN, mode: 'unsubscribe' },
      ]) {
        const res = await getMetaSubscription(url(), { ...opts, challenge: '99' });
        assert.equal(res.status, 403, JSON.stringify(opts));
        assert.notEqual(await res.text(), '99');
      }
    });

    it('guessing the verify token: every guess refused, then 429 from that address; another address still subscribes', async () => {
      const guesser = clientFrom(stack.baseUrl, '127.0.20.41');
      const statuses = new Map<number, number>();
      let through = 0;
      for (let i = 0; i < 40; i++) {
        const res = await guesser.request(
          'GET',
          `${META_PATH}?hub.mode=subscribe&hub.verify_token=guess-${i}&hub.challenge=${i}`,
        );
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) through++;
      }
      assert.equal(through, 0, 'no guess was answered with the challenge');
      assert.deepEqual(Object.fromEntries(statuses), { 403: 30, 429: 10 });
      const other = clientFrom(stack.baseUrl, '127.0.20.42');
      const ok = await other.request(
        'GET',
        `${META_PATH}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=7`,
      );
      assert.equal(ok.status, 200);
      assert.equal(ok.text, '7');
    });

    it('statuses: delivered and read make messages delivered (read said in the event), failed carries its code and details; sent and unknown ids change nothing, and all is 200', async () => {
      const [delivered, read, failed, pending] = await Promise.all([
        acceptedByMeta(),
        acceptedByMeta(),
        acceptedByMeta(),
        acceptedByMeta(),
      ]);
      const stranger: MetaMessage = { ...pending.message, id: `wamid.${hex(24)}` };
      const res = await post(
        metaStatusWebhook(meta, [
          metaStatus(delivered.message, 'delivered'),
          metaStatus(read.message, 'read'),
          metaStatus(failed.message, 'failed', 131026),
          metaStatus(pending.message, 'sent'),
          metaStatus(stranger, 'failed', 131026),
        ]),
      );
      assert.deepEqual(answered(res), { statuses: 5, changed: 3, unknown: 1 });

      const [d, r, f, p] = await Promise.all([delivered, read, failed, pending].map((m) => logged(stack, m.id)));
      assert.deepEqual([d.status, r.status, f.status, p.status], ['delivered', 'delivered', 'failed', 'sent']);
      const receipt = (m: typeof d) => m.events.find((e) => e.kind === 'receipt');
      assert.equal(receipt(d)?.error, null, 'a plain delivered needs no words');
      assert.equal(receipt(r)?.error, 'provider reported read');
      assert.equal(receipt(f)?.provider, 'meta');
      assert.equal(receipt(f)?.provider_code, '131026');
      assert.match(receipt(f)?.diagnosis?.cause ?? '', /not on WhatsApp/, "Meta's code worded by the reasons table");
      assert.equal(f.last_error, 'provider reported failed: code 131026: Message Undeliverable');
      assert.equal(
        p.events.some((e) => e.kind === 'receipt'),
        false,
      );

      // the same statuses again, as Meta retries: nothing changes twice
      const again = await post(
        metaStatusWebhook(meta, [metaStatus(delivered.message, 'failed', 131026), metaStatus(read.message, 'read')]),
      );
      assert.deepEqual(answered(again), { statuses: 2, changed: 0, unknown: 0 });
      assert.equal((await logged(stack, delivered.id)).status, 'delivered');
    });

    it("a person's message (whatever its text: 4,000 characters, a NUL, a lone surrogate) and other fields are ignored with 200", async () => {
      const { id, message } = await acceptedByMeta();
      const payload = metaStatusWebhook(meta, []);
      const value = payload.entry[0].changes[0].value as Record<string, unknown>;
      delete value.statuses;
      value.contacts = [{ profile: { name: 'Thandi' }, wa_id: message.to }];
      value.messages = [
        {
          from: message.to,
          id: `wamid.${hex(20)}`,
          timestamp: '1700000000',
          type: 'text',
          // Meta retries for days what is not a 200: a stranger's text must not hold the webhook up
          text: { body: `${'STOP '.repeat(800)}\u0000 \ud800` },
        },
      ];
      // another field naming our message's id: only `messages` carries statuses
      payload.entry.push({
        id: meta.wabaId,
        changes: [
          {
            field: 'message_template_status_update',
            value: { statuses: [metaStatus(message, 'failed', 131026)] } as never,
          },
        ],
      });
      const res = await post(payload);
      assert.deepEqual(answered(res), { statuses: 0, changed: 0, unknown: 0 });
      assert.equal((await logged(stack, id)).status, 'sent');

      // a status itself is held to the storable rule: a 400, never a 500 from the database
      const status = metaStatus(message, 'failed', 131026);
      status.errors![0].error_data.details = 'broken\u0000';
      const refused = await post(metaStatusWebhook(meta, [status]));
      assert.equal(refused.status, 400, refused.text);
      assert.equal((await logged(stack, id)).status, 'sent');
    });

    it('forged statuses: no signature, a wrong key, a genuine signature on another body, sha1 instead of sha256: none gets through', async () => {
      const { id, message } = await acceptedByMeta();
      const forged = metaStatusWebhook(meta, [metaStatus(message, 'failed', 131026)]);
      const genuine = JSON.stringify(metaStatusWebhook(meta, [metaStatus(message, 'sent')]));
      const attacker = clientFrom(stack.baseUrl, '127.0.20.51');
      const body = JSON.stringify(forged);
      const signatures: Array<string | undefined> = [
        undefined,
        '',
        signBody(body, 'not-the-app-secret'),
        signBody(body, VERIFY_TOKEN),
        signBody(genuine, APP_SECRET),
        signBody(body, APP_SECRET).replace('sha256=', 'sha1='),
        signBody(body, APP_SECRET).slice('sha256='.length),
        signBody(body, APP_SECRET).toUpperCase(),
      ];
      let through = 0;
      for (const signature of signatures) {
        const res = await attacker.request('POST', META_PATH, body, undefined, {
          'content-type': 'application/json',
          ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }),
        });
        if (res.status !== 403) through++;
      }
      assert.equal(through, 0, 'every forged body refused with 403');
      assert.equal((await logged(stack, id)).status, 'sent', 'no forgery changed the message');
      // Meta's own signature still lands
      assert.equal(answered(await post(forged)).changed, 1);
      assert.equal((await logged(stack, id)).status, 'failed');
    });

    it("Twilio's call receipts are refused (403) without PUBLIC_URL, however signed, naming the setting", async () => {
      const call = twilioCall(randomMobile());
      const { id } = await acceptedBy(stack, 'voice', 'twilio', call.sid);
      const fields = callStatusFields(call, stack.sms.accountSid, 'completed');
      // over a public URL the service was never told, and over the address it was reached at
      for (const signedUrl of [`${PUBLIC_URL}${CALL_PATH}`, `${stack.baseUrl}${CALL_PATH}`]) {
        const res = await stack.request('POST', CALL_PATH, new URLSearchParams(fields).toString(), undefined, {
          'content-type': FORM,
          'x-twilio-signature': signAsTwilio(signedUrl, fields, stack.sms.authToken),
        });
        assert.equal(res.status, 403, res.text);
        assert.match(res.text, /PUBLIC_URL is not set/);
      }
      assert.equal((await logged(stack, id)).status, 'sent');
    });
  });
}
