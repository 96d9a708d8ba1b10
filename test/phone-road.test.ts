/**
 * Issue 11, the road: one phone code moves to the next channel when one fails, on a signed receipt or
 * a refusal at once, after PHONE_FALLBACK_AFTER_SECONDS with no receipt (the clock moved, not slept),
 * or when the person asks; never twice on one channel, never after the code was used. Providers are the
 * fixtures that speak Twilio's Messages (SMS and WhatsApp) and Calls APIs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { codeIn, startStack, verifiedLogin, type Stack } from './support/stack.ts';
import {
  startTwilioWhatsAppServer,
  twilioWhatsAppEnv,
  whatsAppStatusFields,
  type TwilioWhatsAppFixture,
} from './support/whatsapp.ts';
import { startTwilioVoiceServer, type TwilioVoiceFixture } from './support/twilio-voice.ts';
import { postTwilioStatus } from './support/twilio-status.ts';
import { waitUntil } from './support/wait.ts';
import { errorCode, expectStatus } from './support/api.ts';
import { PHONE_CHANNELS, type PhoneChannel } from '../src/shared/vocabulary.ts';
import { startHttpSmsServer } from './support/sms.ts';
import { TWILIO_STATUS_PATH } from '../src/delivery/channels/twilio.ts';

const PUBLIC_URL = 'https://panic.example';
const WHATSAPP_FROM = '+14155238886';
const VOICE_FROM = '+27100000001';

interface Road {
  stack: Stack;
  twilio: TwilioWhatsAppFixture;
  voice: TwilioVoiceFixture;
  /** Moves the service's clock on. */
  advance(seconds: number): void;
}

async function startRoad(env: Record<string, string> = {}): Promise<Road> {
  const twilio = await startTwilioWhatsAppServer({ senders: [`whatsapp:${WHATSAPP_FROM}`] });
  const voice = await startTwilioVoiceServer({ accountSid: twilio.accountSid, authToken: twilio.authToken });
  let offset = 0;
  const stack = await startStack({
    clock: () => new Date(Date.now() + offset),
    env: {
      PUBLIC_URL,
      SMS_PROVIDER: 'twilio',
      SMS_API_URL: twilio.messagesUrl,
      SMS_ACCOUNT_SID: twilio.accountSid,
      SMS_API_KEY: twilio.authToken,
      SMS_FROM: '+27100000000',
      ...twilioWhatsAppEnv(twilio, WHATSAPP_FROM),
      VOICE_PROVIDER: 'twilio',
      VOICE_FROM,
      VOICE_API_URL: voice.callsUrl,
      PHONE_CHANNELS: 'sms,whatsapp,voice',
      PHONE_FALLBACK_AFTER_SECONDS: '30',
      ...env,
    },
  });
  return {
    stack,
    twilio,
    voice,
    advance: (seconds) => {
      offset += seconds * 1000;
    },
  };
}

const closeRoad = async (r: Road) => {
  await r.stack.close();
  await Promise.all([r.twilio.close(), r.voice.close()]);
};

/** Twilio's signed StatusCallback for a message the fixture took. */
const receipt = (r: Road, fields: Record<string, string>) =>
  postTwilioStatus(`${PUBLIC_URL}${TWILIO_STATUS_PATH}`, fields, r.twilio.authToken, {
    postTo: `${r.stack.baseUrl}${TWILIO_STATUS_PATH}`,
  });

const smsFields = (sid: string, to: string, status: string, errorCode?: string) => ({
  AccountSid: 'AC',
  MessageSid: sid,
  SmsSid: sid,
  MessageStatus: status,
  SmsStatus: status,
  To: to,
  From: '+27100000000',
  ApiVersion: '2010-04-01',
  ...(errorCode ? { ErrorCode: errorCode } : {}),
});

/** A signed-in person whose verify-phone was asked for (with `channel` when given): the answer and the code sent. */
async function askedPhone(r: Road, tag: string, channel?: PhoneChannel) {
  const { person: p, tokens } = await verifiedLogin(r.stack, tag);
  const asked = await r.stack.api(
    'POST',
    '/api/v1/users/verify-phone',
    channel ? { channel } : {},
    tokens.access_token,
  );
  assert.equal(asked.status, 200, asked.text);
  return { p, token: tokens.access_token, asked };
}

/** A signed-in person whose phone is verified by its SMS code; the SMS delivered, so its road stops there. */
async function verifiedPhone(r: Road, tag: string) {
  const { p, token } = await askedPhone(r, tag);
  const sms = await r.twilio.waitFor(p.phone);
  expectStatus(await r.stack.api('POST', '/api/v1/users/verify-otp', { otp: codeIn(sms.body!) }, token), 200);
  await waitUntil(async () => (await messagesOf(r, p.phone)).length === 2 || undefined, {
    what: 'the waiting WhatsApp message',
  });
  assert.equal((await receipt(r, smsFields(sms.sid, p.phone, 'delivered'))).status, 200);
  return { p, token };
}

const status = async (r: Road, token: string) =>
  expectStatus(await r.stack.api('GET', '/api/v1/users/verify-phone/status', undefined, token), 200);

const messagesOf = (r: Road, phone: string) =>
  r.stack.runtime.services.db
    .selectFrom('messages')
    .select(['channel', 'status', 'code_id', 'purpose'])
    .where('recipient', '=', phone)
    .orderBy('created_at')
    .execute();

const loginMessagesOf = async (r: Road, phone: string) =>
  (await messagesOf(r, phone)).filter((m) => m.purpose === 'login');

describe('the road of a phone code', () => {
  let r: Road;
  before(async () => {
    r = await startRoad();
  });
  after(() => closeRoad(r));

  it('an SMS answered undelivered by a signed receipt goes out by WhatsApp within a second with the same code, which verifies; no call is made', async () => {
    const { p, token } = await askedPhone(r, 'road-undelivered');
    const sms = await r.twilio.waitFor(p.phone);
    assert.equal(sms.channel, 'sms');
    const code = sms.body!.match(/\b(\d{6})\b/)![1];
    // with receipts, WhatsApp waits its turn
    const waiting = await waitUntil(
      async () => {
        const s = await status(r, token);
        return s.next_move_at ? s : undefined;
      },
      { what: 'the next move scheduled' },
    );
    assert.deepEqual(waiting.can_ask, ['whatsapp', 'voice']);
    const started = Date.now();
    const landed = await receipt(r, smsFields(sms.sid, p.phone, 'undelivered', '30006'));
    assert.equal(landed.status, 200, await landed.text());
    const wa = await r.twilio.waitFor(`whatsapp:${p.phone}`, { timeoutMs: 1000 });
    assert.ok(Date.now() - started < 1000, 'within a second of the carrier report');
    assert.deepEqual(wa.contentVariables, { '1': code }, 'the same code');
    const s = await status(r, token);
    assert.deepEqual(
      s.channels.map((c) => [c.channel, c.status]),
      [
        ['sms', 'undelivered'],
        ['whatsapp', 'sent'],
      ],
    );
    const verified = await r.stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, token);
    assert.equal(verified.status, 200, verified.text);
    const kept = await r.stack.runtime.services.db
      .selectFrom('otp_codes')
      .select('sealed_code')
      .where('destination', '=', p.phone)
      .executeTakeFirstOrThrow();
    assert.equal(kept.sealed_code, null, "a used code's text is not kept");
    // WhatsApp's own timer would call next: past it, the used code sends nothing
    r.advance(120);
    await waitUntil(
      async () => {
        const rows = await messagesOf(r, p.phone);
        return rows.find((m) => m.channel === 'voice')?.status === 'withdrawn' || undefined;
      },
      { what: 'the waiting call withdrawn' },
    );
    assert.equal(r.voice.calls.filter((c) => c.to === p.phone).length, 0, 'no call made');
    const metrics = await r.stack.runtime.services.metrics.registry.metrics();
    assert.match(metrics, /panic_phone_verified_total\{first_channel="sms",channel="whatsapp",calling_code="27"\} 1/);
    assert.match(metrics, /panic_phone_moves_total\{from="sms",to="whatsapp",reason="refused"\} 1/);
  });

  it('no receipt within PHONE_FALLBACK_AFTER_SECONDS: the code goes by the next channel (the clock moved, not slept); a delivery before it withdraws the move', async () => {
    const { p } = await askedPhone(r, 'road-timer');
    const sms = await r.twilio.waitFor(p.phone);
    const code = sms.body!.match(/\b(\d{6})\b/)![1];
    await waitUntil(async () => (await messagesOf(r, p.phone)).length === 2 || undefined, {
      what: 'the waiting WhatsApp message',
    });
    assert.equal(r.twilio.messages.filter((m) => m.to === `whatsapp:${p.phone}`).length, 0, 'not before its time');
    r.advance(31);
    const wa = await r.twilio.waitFor(`whatsapp:${p.phone}`);
    assert.deepEqual(wa.contentVariables, { '1': code });
    // the road says why: on the SMS, "moved to WhatsApp: no delivery receipt within 30 s"
    const moved = await waitUntil(
      () =>
        r.stack.runtime.services.db
          .selectFrom('message_events')
          .innerJoin('messages', 'messages.id', 'message_events.message_id')
          .select('message_events.error')
          .where('messages.recipient', '=', p.phone)
          .where('message_events.kind', '=', 'moved')
          .executeTakeFirst(),
      { what: 'the moved event' },
    );
    assert.equal(moved.error, 'to WhatsApp: no delivery receipt within 30 s');
    assert.match(
      await r.stack.runtime.services.metrics.registry.metrics(),
      /panic_phone_moves_total\{from="sms",to="whatsapp",reason="no_receipt"\} 1/,
    );

    // another person: the SMS is delivered within the window, so WhatsApp never goes
    const other = await askedPhone(r, 'road-delivered');
    const delivered = await r.twilio.waitFor(other.p.phone);
    await waitUntil(async () => (await messagesOf(r, other.p.phone)).length === 2 || undefined, {
      what: 'the waiting WhatsApp message',
    });
    assert.equal((await receipt(r, smsFields(delivered.sid, other.p.phone, 'delivered'))).status, 200);
    const rows = await messagesOf(r, other.p.phone);
    assert.deepEqual(
      rows.map((m) => [m.channel, m.status]),
      [
        ['sms', 'delivered'],
        ['whatsapp', 'withdrawn'],
      ],
    );
    r.advance(31);
    const s = await status(r, other.token);
    assert.equal(s.next_move_at, null);
    assert.equal(r.twilio.messages.filter((m) => m.to === `whatsapp:${other.p.phone}`).length, 0);
  });

  it('the person asks for a call: the Twiml reads the live code digit by digit; a second call for the same code is 429', async () => {
    const { p, token } = await askedPhone(r, 'road-ask');
    const sms = await r.twilio.waitFor(p.phone);
    const code = sms.body!.match(/\b(\d{6})\b/)![1];
    const asked = await r.stack.api('POST', '/api/v1/users/verify-phone', { channel: 'voice' }, token);
    assert.equal(asked.status, 200, asked.text);
    assert.equal(expectStatus(asked, 200).channel, 'voice');
    const call = await r.voice.waitFor(p.phone);
    assert.equal(call.from, VOICE_FROM);
    assert.ok(call.twiml?.includes(code.split('').join(', ')), call.twiml);
    const again = await r.stack.api('POST', '/api/v1/users/verify-phone', { channel: 'voice' }, token);
    assert.equal(again.status, 429, again.text);
    assert.ok(Number(again.headers.get('retry-after')) > 0);
    assert.equal(r.voice.calls.filter((c) => c.to === p.phone).length, 1, 'one call per code');
    assert.equal(
      (await r.stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, token)).status,
      200,
      'the code the call read verifies',
    );
  });

  it("WhatsApp first (ZA's road in PHONE_CHANNELS_BY_COUNTRY): a failed receipt (63003, not on WhatsApp) moves the code to SMS at once", async () => {
    // the country's own road: PHONE_CHANNELS stays sms for the rest of the world
    const first = await startRoad({ PHONE_CHANNELS: 'sms', PHONE_CHANNELS_BY_COUNTRY: 'ZA=whatsapp,sms,voice;NA=sms' });
    try {
      const { p, token } = await askedPhone(first, 'road-wa-first');
      const wa = await first.twilio.waitFor(`whatsapp:${p.phone}`);
      const fields = whatsAppStatusFields(wa, first.twilio.accountSid, 'failed', 63003);
      assert.equal((await receipt(first, fields)).status, 200);
      const sms = await first.twilio.waitFor(p.phone, { timeoutMs: 1000 });
      assert.equal(sms.channel, 'sms');
      assert.ok(sms.body!.includes(wa.contentVariables!['1']), 'the same code');
      const s = await status(first, token);
      assert.equal(s.channels[0].status, 'failed');
      assert.match(s.channels[0].hint, /WhatsApp/);
    } finally {
      await closeRoad(first);
    }
  });

  it('a sign-in code asked by phone takes the road: its SMS answered undelivered goes out by WhatsApp, and that code signs in; a call asked for reads one that signs in too', async () => {
    const { p } = await verifiedPhone(r, 'road-login');
    const asked = expectStatus(await r.stack.api('POST', '/api/v1/auth/otp', { phone: p.phone }), 200);
    assert.equal(asked.channel, 'sms');
    const sms = await r.twilio.waitFor(p.phone, { count: 2 });
    const code = codeIn(sms.body!);
    await waitUntil(async () => (await loginMessagesOf(r, p.phone)).length === 2 || undefined, {
      what: 'the sign-in code waiting on WhatsApp',
    });
    assert.equal((await receipt(r, smsFields(sms.sid, p.phone, 'undelivered', '30006'))).status, 200);
    const wa = await r.twilio.waitFor(`whatsapp:${p.phone}`, { timeoutMs: 1000 });
    assert.deepEqual(wa.contentVariables, { '1': code }, 'the same code');
    assert.deepEqual(
      (await loginMessagesOf(r, p.phone)).slice(0, 2).map((m) => [m.channel, m.status]),
      [
        ['sms', 'undelivered'],
        ['whatsapp', 'sent'],
      ],
      "then a call waits for WhatsApp's receipt",
    );
    const signedIn = expectStatus(
      await r.stack.api('POST', '/api/v1/auth/otp/verify', { phone: p.phone, otp: code }),
      200,
    );
    assert.equal(signedIn.token_type, 'bearer');
    assert.ok(signedIn.refresh_token);

    // the person names a channel, as road-ask does: a call reads a sign-in code, which signs in (a sign-in
    // ask is answered alike for every number, so it sends a new code rather than moving a live one)
    assert.equal(
      expectStatus(await r.stack.api('POST', '/api/v1/auth/otp', { phone: p.phone, channel: 'voice' }), 200).channel,
      'voice',
    );
    const call = await r.voice.waitFor(p.phone);
    const read = call
      .twiml!.match(/(\d), (\d), (\d), (\d), (\d), (\d)/)!
      .slice(1)
      .join('');
    expectStatus(await r.stack.api('POST', '/api/v1/auth/otp/verify', { phone: p.phone, otp: read }), 200);
  });

  it('a landline (fixed-line to libphonenumber) skips SMS and WhatsApp: its code is read by a call', async () => {
    const { tokens } = await verifiedLogin(r.stack, 'road-landline');
    const landline = '+27115551234';
    const asked = await r.stack.api('POST', '/api/v1/users/verify-phone', { phone: landline }, tokens.access_token);
    assert.equal(expectStatus(asked, 200).channel, 'voice');
    const call = await r.voice.waitFor(landline);
    assert.match(call.twiml ?? '', /(\d, ){5}\d/);
    assert.equal(r.twilio.messages.filter((m) => m.to.endsWith(landline)).length, 0, 'no SMS, no WhatsApp');
    const s = await status(r, tokens.access_token);
    assert.deepEqual(s.can_ask, [], 'a call is all a landline takes');
  });

  it('a premium-rate number is refused on every channel before anything is sent', async () => {
    const { tokens } = await verifiedLogin(r.stack, 'road-premium');
    const before = { messages: r.twilio.messages.length, calls: r.voice.calls.length };
    const premium = '+27862123456';
    const answers = [];
    for (const channel of [undefined, ...PHONE_CHANNELS]) {
      const a = await r.stack.api(
        'POST',
        '/api/v1/users/verify-phone',
        { phone: premium, ...(channel ? { channel } : {}) },
        tokens.access_token,
      );
      answers.push([channel ?? 'first', a.status, errorCode(a)]);
    }
    assert.deepEqual(
      answers.filter(([, s]) => s !== 400),
      [],
      'every channel refused',
    );
    assert.ok(answers.every(([, , code]) => code === 'phone_not_allowed'));
    assert.deepEqual({ messages: r.twilio.messages.length, calls: r.voice.calls.length }, before, 'nothing sent');
  });
});

describe('the voice brake', () => {
  it('holds past VOICE_MAX_PER_HOUR calls: the third person asking for a call gets 429, and no third call is made', async () => {
    const r = await startRoad({ VOICE_MAX_PER_HOUR: '2', PHONE_CHANNELS: 'voice,sms' });
    try {
      const answers: number[] = [];
      for (const tag of ['brake-1', 'brake-2', 'brake-3']) {
        const { tokens } = await verifiedLogin(r.stack, tag);
        const a = await r.stack.api('POST', '/api/v1/users/verify-phone', { channel: 'voice' }, tokens.access_token);
        answers.push(a.status);
      }
      assert.deepEqual(answers, [200, 200, 429]);
      await waitUntil(async () => r.voice.calls.length === 2 || undefined, { what: 'two calls' });
      // the road skips a braked call: the next person's code goes by SMS, its road's next channel
      const { person: p, tokens } = await verifiedLogin(r.stack, 'brake-4');
      const a = await r.stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token);
      assert.equal(a.status, 200, a.text);
      assert.equal(expectStatus(a, 200).channel, 'sms');
      await r.twilio.waitFor(p.phone);
      assert.equal(r.voice.calls.length, 2, 'no third call');
    } finally {
      await closeRoad(r);
    }
  });
});

describe('a channel whose every provider is paused', () => {
  it('SMS by two providers, both failing until both breakers open: the code goes by WhatsApp at once, while the SMS waits for its providers', async () => {
    const whatsapp = await startTwilioWhatsAppServer();
    const fallback = await startHttpSmsServer({ failWith: { status: 503 } });
    const stack = await startStack({
      env: {
        SMS_FALLBACK_PROVIDER: 'http',
        SMS_FALLBACK_API_URL: fallback.url,
        SMS_FALLBACK_API_KEY: fallback.apiKey,
        SMS_FALLBACK_FROM: 'Panic',
        WHATSAPP_PROVIDER: 'twilio',
        WHATSAPP_FROM,
        WHATSAPP_TEMPLATE: 'HX0123456789abcdef0123456789abcdef',
        WHATSAPP_API_URL: whatsapp.messagesUrl,
        WHATSAPP_API_KEY: whatsapp.authToken,
        PHONE_CHANNELS: 'sms,whatsapp',
        // the SMS never runs out of attempts here: only the breakers can move its code
        DELIVERY_MAX_ATTEMPTS: '100',
      },
    });
    try {
      stack.sms.failWith = { status: 503, code: 20503 };
      const { person: p, tokens } = await verifiedLogin(stack, 'road-breakers');
      const asked = await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token);
      assert.equal(expectStatus(asked, 200).channel, 'sms');
      const wa = await whatsapp.waitFor(`whatsapp:${p.phone}`, { timeoutMs: 10_000 });
      const breakers = stack.runtime.channels.sms as unknown as { breakers(): Array<{ state: string }> };
      assert.deepEqual(
        breakers.breakers().map((b) => b.state),
        ['open', 'open'],
      );
      const sms = await stack.runtime.services.db
        .selectFrom('messages')
        .select('status')
        .where('recipient', '=', p.phone)
        .where('channel', '=', 'sms')
        .executeTakeFirstOrThrow();
      assert.ok(['queued', 'sending'].includes(sms.status), `the SMS still waits for its providers (${sms.status})`);
      // the code WhatsApp carries is the one the account's code checks
      const verified = await stack.api(
        'POST',
        '/api/v1/users/verify-otp',
        { otp: wa.contentVariables!['1'] },
        tokens.access_token,
      );
      assert.equal(verified.status, 200, verified.text);
    } finally {
      await stack.close();
      await Promise.all([whatsapp.close(), fallback.close()]);
    }
  });
});
