/**
 * The two new phone channels on their providers' APIs, each against its fixture (test/support/whatsapp.ts,
 * twilio-voice.ts): WhatsApp through Twilio and through Meta, calls through Twilio. The exact request,
 * the provider's id kept, refusals as final or retried DeliveryErrors with the provider's code, and
 * doctor's reads of each, which send nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { checkVoice } from '../src/cli/doctor/voice.ts';
import { checkWhatsApp } from '../src/cli/doctor/whatsapp.ts';
import { hasDoctorLine } from '../src/cli/doctor/provider-read.ts';
import { type Config, loadConfig } from '../src/config/settings.ts';
import { createChannels } from '../src/delivery/channels/index.ts';
import { metaMessagesUrl } from '../src/delivery/channels/meta-whatsapp.ts';
import { twilioWhatsAppTarget } from '../src/delivery/channels/twilio-whatsapp.ts';
import { DeliveryError } from '../src/delivery/channels/types.ts';
import { createComposer } from '../src/messages/compose.ts';
import { loadTemplates } from '../src/messages/templates.ts';
import type { Message } from '../src/platform/db/schema.ts';
import type { Locale } from '../src/shared/locales.ts';
import { TWILIO_TEST_ACCOUNT_SID } from './support/sms.ts';
import { startTwilioVoiceServer, type TwilioVoiceFixture } from './support/twilio-voice.ts';
import {
  type MetaWhatsAppFixture,
  startMetaWhatsAppServer,
  startTwilioWhatsAppServer,
  type TwilioWhatsAppFixture,
} from './support/whatsapp.ts';

const PUBLIC_URL = 'https://api.paniq.test';
const CODE = '482913';
const TEMPLATE_SID = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';
const WHATSAPP_FROM = '+14155238886';
const VOICE_FROM = '+27110001111';
const PERSON = '+27821234567';

const templates = loadTemplates();

/** A queued message as the worker hands it to the channel: opened, its words composed from the real templates. */
function messageOf(config: Config, channel: 'whatsapp' | 'voice', locale: Locale, recipient = PERSON): Message {
  const written = createComposer(templates, config).compose('phone_verification', channel, {
    code: CODE,
    expiresInMinutes: 10,
    locale,
  });
  return {
    id: randomUUID(),
    channel,
    recipient,
    purpose: 'phone_verification',
    subject: null,
    body_text: written.text,
    body_html: null,
    otp: CODE,
    locale: written.locale,
    attempts: 1,
  } as Message;
}

/** The SMS settings of a Twilio customer whose Messages URL is `messagesUrl`. */
const twilioSms = (messagesUrl: string, authToken: string) => ({
  APP_ENV: 'test',
  SMS_PROVIDER: 'twilio',
  SMS_API_URL: messagesUrl,
  SMS_ACCOUNT_SID: TWILIO_TEST_ACCOUNT_SID,
  SMS_API_KEY: authToken,
  SMS_FROM: '+15005550006',
});

/** The DeliveryError a send was refused with. */
async function refusal(send: Promise<unknown>): Promise<DeliveryError> {
  const err = await send.then(
    () => assert.fail('the send was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DeliveryError, `a DeliveryError, not ${String(err)}`);
  return err;
}

const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

describe('WhatsApp through Twilio', () => {
  let wa: TwilioWhatsAppFixture;
  /** A Twilio SMS customer who added three lines. */
  let env: Record<string, string>;
  let config: Config;
  before(async () => {
    wa = await startTwilioWhatsAppServer({ senders: [`whatsapp:${WHATSAPP_FROM}`] });
    env = {
      ...twilioSms(wa.messagesUrl, wa.authToken),
      WHATSAPP_PROVIDER: 'twilio',
      WHATSAPP_FROM,
      WHATSAPP_TEMPLATE: TEMPLATE_SID,
      PUBLIC_URL,
    };
    config = loadConfig(env);
  });
  after(() => wa?.close());

  it("a Twilio SMS customer adds three lines: the approved template goes to whatsapp:+E164 on the SMS account, with the code as its variable and the SMS status callback; Twilio's sid is kept", async () => {
    const channel = createChannels(config).whatsapp;
    assert.deepEqual(channel.status(), {
      configured: true,
      settings: {
        SMS_API_URL: 'set',
        SMS_ACCOUNT_SID: 'set',
        SMS_API_KEY: 'set',
        WHATSAPP_FROM: 'set',
        WHATSAPP_TEMPLATE: 'set',
      },
      placeholders: [],
      missing: [],
    });
    const sent = await channel.send(messageOf(config, 'whatsapp', 'en'));
    const [taken] = wa.messages;
    assert.deepEqual(taken.form, {
      To: `whatsapp:${PERSON}`,
      From: `whatsapp:${WHATSAPP_FROM}`,
      ContentSid: TEMPLATE_SID,
      ContentVariables: JSON.stringify({ 1: CODE }),
      StatusCallback: `${PUBLIC_URL}/api/v1/webhooks/twilio/status`,
    });
    assert.deepEqual(sent, { providerId: taken.sid });
    assert.match(taken.sid, /^SM[0-9a-f]{32}$/);
  });

  it('WHATSAPP_API_URL and WHATSAPP_API_KEY, when set, win over the SMS account; without PUBLIC_URL no status callback is asked', async () => {
    const own = await startTwilioWhatsAppServer({ authToken: 'whatsapp-own-token' });
    try {
      const before = wa.messages.length;
      const separate = loadConfig({
        ...twilioSms(wa.messagesUrl, wa.authToken),
        WHATSAPP_PROVIDER: 'twilio',
        WHATSAPP_FROM: `whatsapp:${WHATSAPP_FROM}`,
        WHATSAPP_TEMPLATE: TEMPLATE_SID,
        WHATSAPP_API_URL: own.messagesUrl,
        WHATSAPP_API_KEY: own.authToken,
      });
      const channel = createChannels(separate).whatsapp;
      assert.deepEqual(Object.keys(channel.status().settings).sort(), [
        'SMS_ACCOUNT_SID',
        'WHATSAPP_API_KEY',
        'WHATSAPP_API_URL',
        'WHATSAPP_FROM',
        'WHATSAPP_TEMPLATE',
      ]);
      await channel.send(messageOf(separate, 'whatsapp', 'af'));
      assert.equal(wa.messages.length, before, 'nothing went to the SMS account');
      assert.equal(own.messages.length, 1);
      assert.equal(
        own.messages[0].from,
        `whatsapp:${WHATSAPP_FROM}`,
        'a From given with its prefix is not prefixed twice',
      );
      assert.equal(own.messages[0].statusCallback, undefined);
    } finally {
      await own.close();
    }
  });

  it("without Twilio SMS, the account's URL is Twilio's for SMS_ACCOUNT_SID", () => {
    const { api, key } = twilioWhatsAppTarget(
      loadConfig({ SMS_ACCOUNT_SID: TWILIO_TEST_ACCOUNT_SID, SMS_API_KEY: 'token', WHATSAPP_PROVIDER: 'twilio' }),
    );
    assert.deepEqual(api, {
      setting: 'SMS_ACCOUNT_SID',
      url: `https://api.twilio.com/2010-04-01/Accounts/${TWILIO_TEST_ACCOUNT_SID}/Messages.json`,
    });
    assert.equal(key.setting, 'SMS_API_KEY');
  });

  it("a refusal is a DeliveryError with Twilio's code: final for an opted-out number (21610), retried when Twilio is limiting (20429)", async () => {
    const channel = createChannels(config).whatsapp;
    wa.refuse.set('whatsapp:+27821230001', { status: 400, code: 21610 });
    const stop = await refusal(channel.send(messageOf(config, 'whatsapp', 'en', '+27821230001')));
    assert.equal(stop.permanent, true);
    assert.deepEqual({ status: stop.answer.status, code: stop.answer.code }, { status: 400, code: '21610' });
    assert.match(stop.message, /unsubscribed recipient/);

    wa.refuse.set('whatsapp:+27821230002', { status: 429, code: 20429 });
    const busy = await refusal(channel.send(messageOf(config, 'whatsapp', 'en', '+27821230002')));
    assert.equal(busy.permanent, false);
    assert.deepEqual({ status: busy.answer.status, code: busy.answer.code }, { status: 429, code: '20429' });
  });

  it('doctor: the credentials and WHATSAPP_FROM as an online sender, from the Senders API; nothing is sent', async () => {
    const sent = wa.messages.length;
    const healthy = await checkWhatsApp(config);
    assert.equal(healthy.status, 'ok', healthy.finding);
    assert.equal(
      healthy.finding,
      `Twilio accepted the credentials (SMS_ACCOUNT_SID / SMS_API_KEY) and WHATSAPP_FROM ${WHATSAPP_FROM} is an online WhatsApp sender of the account; WHATSAPP_TEMPLATE is a Content SID (its approval shows in the Content Template Builder); nothing was sent`,
    );

    const stranger = await checkWhatsApp(loadConfig({ ...env, WHATSAPP_FROM: '+27110009999' }));
    assert.equal(stranger.status, 'fail');
    assert.equal(
      stranger.finding,
      `Twilio accepted the credentials (SMS_ACCOUNT_SID / SMS_API_KEY), but WHATSAPP_FROM (+27110009999) is not a WhatsApp sender of the account (its senders: whatsapp:${WHATSAPP_FROM}): Twilio refuses WhatsApp messages from it`,
    );
    assert.match(stranger.fix!, /WhatsApp senders/);

    const wrongKey = await checkWhatsApp(loadConfig({ ...env, WHATSAPP_API_KEY: 'not-the-token' }));
    assert.equal(wrongKey.status, 'fail');
    assert.equal(wrongKey.finding, 'Twilio rejected the credentials (SMS_ACCOUNT_SID / WHATSAPP_API_KEY)');

    const notSid = await checkWhatsApp(loadConfig({ ...env, WHATSAPP_TEMPLATE: 'panic_code' }));
    assert.equal(notSid.status, 'fail');
    assert.match(notSid.finding, /^WHATSAPP_TEMPLATE is not a Content SID/);

    assert.equal(wa.messages.length, sent, 'doctor sent nothing');
  });
});

describe('WhatsApp through Meta', () => {
  let meta: MetaWhatsAppFixture;
  let env: Record<string, string>;
  let config: Config;
  before(async () => {
    meta = await startMetaWhatsAppServer({
      templates: [
        { name: 'panic_code', language: 'en_US', status: 'APPROVED' },
        { name: 'panic_code', language: 'af', status: 'APPROVED' },
        { name: 'panic_code', language: 'zu', status: 'APPROVED' },
      ],
    });
    env = {
      APP_ENV: 'test',
      WHATSAPP_PROVIDER: 'meta',
      WHATSAPP_API_URL: meta.messagesUrl,
      WHATSAPP_API_KEY: meta.accessToken,
      WHATSAPP_TEMPLATE: 'panic_code',
      WHATSAPP_BUSINESS_ACCOUNT_ID: meta.wabaId,
    };
    config = loadConfig(env);
  });
  after(() => meta?.close());

  it("the authentication template in the person's language, the code in its body and its copy-code button, to the digits without '+'; the wamid is kept", async () => {
    const channel = createChannels(config).whatsapp;
    assert.equal(channel.status().configured, true);
    const sent = await channel.send(messageOf(config, 'whatsapp', 'af'));
    const [taken] = meta.messages;
    assert.deepEqual(taken.payload, {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '27821234567',
      type: 'template',
      template: {
        name: 'panic_code',
        language: { code: 'af' },
        components: [
          { type: 'body', parameters: [{ type: 'text', text: CODE }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: CODE }] },
        ],
      },
    });
    assert.deepEqual(sent, { providerId: taken.id });
    assert.match(taken.id, /^wamid\./);

    await channel.send(messageOf(config, 'whatsapp', 'zu', '+27821234568'));
    await channel.send(messageOf(config, 'whatsapp', 'en', '+27821234569'));
    assert.deepEqual(
      meta.messages.slice(1).map((m) => m.language),
      ['zu', 'en_US'],
    );
  });

  it("without WHATSAPP_API_URL the messages URL is Graph's for WHATSAPP_PHONE_NUMBER_ID; without either the channel names it", () => {
    const base = { WHATSAPP_PROVIDER: 'meta', WHATSAPP_API_KEY: 'token', WHATSAPP_TEMPLATE: 'panic_code' };
    const byId = loadConfig({ ...base, WHATSAPP_PHONE_NUMBER_ID: '106540352242922' });
    assert.equal(metaMessagesUrl(byId), 'https://graph.facebook.com/v21.0/106540352242922/messages');
    assert.equal(createChannels(byId).whatsapp.status().configured, true);
    const status = createChannels(loadConfig(base)).whatsapp.status();
    assert.deepEqual([status.configured, status.missing], [false, ['WHATSAPP_PHONE_NUMBER_ID']]);
  });

  it("Graph's refusals carry its code: not on WhatsApp (131026) and no template in the language (132001) are final, a rate limit (130429) is retried, an expired token (190) says so", async () => {
    const channel = createChannels(config).whatsapp;
    meta.refuse.set('27821230001', { status: 400, code: 131026 });
    const notOnWhatsApp = await refusal(channel.send(messageOf(config, 'whatsapp', 'en', '+27821230001')));
    assert.equal(notOnWhatsApp.permanent, true);
    assert.deepEqual(
      { status: notOnWhatsApp.answer.status, code: notOnWhatsApp.answer.code },
      { status: 400, code: '131026' },
    );
    assert.match(notOnWhatsApp.message, /^Meta API answered 400: \(#131026\) Message Undeliverable$/);

    meta.refuse.set('27821230002', { status: 400, code: 130429 });
    const limited = await refusal(channel.send(messageOf(config, 'whatsapp', 'en', '+27821230002')));
    assert.equal(limited.permanent, false, 'a rate limit answered 400 is retried');
    assert.deepEqual({ status: limited.answer.status, code: limited.answer.code }, { status: 400, code: '130429' });

    meta.templates = meta.templates.filter((t) => t.language !== 'zu');
    try {
      const noZulu = await refusal(channel.send(messageOf(config, 'whatsapp', 'zu', '+27821230003')));
      assert.equal(noZulu.permanent, true);
      assert.deepEqual({ status: noZulu.answer.status, code: noZulu.answer.code }, { status: 404, code: '132001' });
      assert.match(noZulu.message, /does not exist in zu/);
    } finally {
      meta.templates.push({ name: 'panic_code', language: 'zu', status: 'APPROVED' });
    }

    const expired = await refusal(
      createChannels(loadConfig({ ...env, WHATSAPP_API_KEY: 'expired-token' })).whatsapp.send(
        messageOf(config, 'whatsapp', 'en', '+27821230004'),
      ),
    );
    assert.equal(expired.permanent, true);
    assert.deepEqual({ status: expired.answer.status, code: expired.answer.code }, { status: 401, code: '190' });
    assert.match(expired.message, /access token \(WHATSAPP_API_KEY\) has expired or is not valid/);
  });

  it('doctor: the phone number id read with the token, the template approved per language; nothing is sent', async () => {
    const sent = meta.messages.length;
    const healthy = await checkWhatsApp(config);
    assert.equal(healthy.status, 'ok', healthy.finding);
    assert.equal(
      healthy.finding,
      'Meta accepted the token (WHATSAPP_API_KEY) and the phone number id is 15550783881 (Panic System, quality GREEN); template panic_code is APPROVED in en_US, af, zu; nothing was sent',
    );

    const saved = meta.templates;
    try {
      meta.templates = [saved[0], { name: 'panic_code', language: 'af', status: 'PENDING' }];
      const partial = await checkWhatsApp(config);
      assert.equal(partial.status, 'warn', partial.finding);
      assert.match(partial.finding, /template panic_code is APPROVED in en_US, but not in af PENDING, zu missing; /);
      assert.match(partial.fix!, /add the missing languages/);

      meta.templates = [{ name: 'panic_code_old', language: 'en_US', status: 'APPROVED' }];
      const none = await checkWhatsApp(config);
      assert.equal(none.status, 'fail');
      assert.match(
        none.finding,
        /template panic_code is approved in none of the languages codes are sent in \(en_US missing, af missing, zu missing\)/,
      );
    } finally {
      meta.templates = saved;
    }

    const noWaba = await checkWhatsApp(loadConfig({ ...env, WHATSAPP_BUSINESS_ACCOUNT_ID: '' }));
    assert.equal(noWaba.status, 'ok');
    assert.match(noWaba.finding, /the template was not checked \(set WHATSAPP_BUSINESS_ACCOUNT_ID/);

    const badToken = await checkWhatsApp(loadConfig({ ...env, WHATSAPP_API_KEY: 'expired-token' }));
    assert.equal(badToken.status, 'fail');
    assert.equal(
      badToken.finding,
      'Meta refused the access token (WHATSAPP_API_KEY): it expired or is not valid (Graph error 190)',
    );

    const otherId = await checkWhatsApp(
      loadConfig({ ...env, WHATSAPP_API_URL: meta.messagesUrl.replace(meta.phoneNumberId, '999') }),
    );
    assert.equal(otherId.status, 'fail');
    assert.equal(
      otherId.finding,
      'Meta knows no object 999 (WHATSAPP_API_URL), or the token may not read it (Graph error 100)',
    );

    const otherWaba = await checkWhatsApp(loadConfig({ ...env, WHATSAPP_BUSINESS_ACCOUNT_ID: '777' }));
    assert.equal(otherWaba.status, 'fail');
    assert.match(otherWaba.finding, /^Meta knows no object 777 \(WHATSAPP_BUSINESS_ACCOUNT_ID\)/);

    assert.equal(meta.messages.length, sent, 'doctor sent nothing');
  });
});

describe('calls through Twilio', () => {
  let voice: TwilioVoiceFixture;
  let env: Record<string, string>;
  let config: Config;
  before(async () => {
    voice = await startTwilioVoiceServer({
      numbers: [{ phoneNumber: VOICE_FROM, capabilities: { voice: true, sms: true, mms: false, fax: false } }],
    });
    // the SMS account's Messages URL: the Calls URL is derived from it
    env = {
      ...twilioSms(voice.callsUrl.replace(/Calls\.json$/, 'Messages.json'), voice.authToken),
      VOICE_PROVIDER: 'twilio',
      VOICE_FROM,
      PUBLIC_URL,
    };
    config = loadConfig(env);
  });
  after(() => voice?.close());

  /** The words a call's TwiML speaks, and the voice and language it speaks them in. */
  function said(twiml: string | undefined) {
    const m = /^<Response><Say voice="([^"]+)" language="([^"]+)">([^<]*)<\/Say><\/Response>$/.exec(twiml ?? '');
    assert.ok(m, `one <Say> in a <Response>: ${twiml}`);
    return { voice: m[1], language: m[2], words: unescapeXml(m[3]) };
  }
  const twice = (words: string, spoken: string) => words.split(spoken).length - 1;

  it("a call from VOICE_FROM reads the code digit by digit, twice, in Afrikaans with Twilio's Afrikaans voice; it rings 30 s and reports only how it ended", async () => {
    const channel = createChannels(config).voice;
    assert.equal(channel.status().configured, true);
    const message = messageOf(config, 'voice', 'af');
    const sent = await channel.send(message);
    const [call] = voice.calls;
    assert.deepEqual(sent, { providerId: call.sid });
    assert.match(call.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(call.to, PERSON);
    assert.equal(call.from, VOICE_FROM);
    assert.equal(call.statusCallback, `${PUBLIC_URL}/api/v1/webhooks/twilio/call-status`);
    assert.deepEqual(call.statusCallbackEvents, ['completed']);
    assert.equal(call.timeout, 30);
    const { voice: speaker, language, words } = said(call.twiml);
    assert.deepEqual([speaker, language], ['Google.af-ZA-Standard-A', 'af-ZA']);
    assert.equal(words, message.body_text);
    assert.match(words, /^Hallo\. /);
    assert.equal(twice(words, '4, 8, 2, 9, 1, 3'), 2, 'the code is read digit by digit, twice');
  });

  it('isiZulu has no Twilio voice: its call is written in English and read by the South African English voice, as English is', async () => {
    const channel = createChannels(config).voice;
    for (const [locale, to] of [
      ['zu', '+27821230011'],
      ['en', '+27821230012'],
    ] as const) {
      await channel.send(messageOf(config, 'voice', locale, to));
      const { voice: speaker, language, words } = said((await voice.waitFor(to)).twiml);
      assert.deepEqual([speaker, language], ['Polly.Ayanda-Neural', 'en-ZA'], locale);
      assert.match(words, /^Hello\. /, locale);
      assert.equal(twice(words, '4, 8, 2, 9, 1, 3'), 2, locale);
    }
  });

  it("the words are XML-escaped: an APP_NAME with '&', '<' and quotes stays words", async () => {
    const odd = loadConfig({ ...env, APP_NAME: `Tom & Jerry's <SOS> "1"` });
    const message = messageOf(odd, 'voice', 'en', '+27821230021');
    await createChannels(odd).voice.send(message);
    const { twiml } = await voice.waitFor('+27821230021');
    assert.match(twiml!, /This is Tom &amp; Jerry&apos;s &lt;SOS&gt; &quot;1&quot;\./);
    assert.equal(said(twiml).words, message.body_text);
  });

  it("TwiML longer than Twilio's 4000 characters is refused before anything is sent; without PUBLIC_URL no status callback is asked", async () => {
    const channel = createChannels(config).voice;
    const requests = voice.requests;
    const long = { ...messageOf(config, 'voice', 'en', '+27821230031'), body_text: 'Your code is 1. '.repeat(250) };
    const err = await refusal(channel.send(long));
    assert.equal(err.permanent, true);
    assert.match(err.message, /more than Twilio's 4000: shorten the voice template/);
    assert.equal(voice.requests, requests, 'no call was asked for');

    const quiet = loadConfig({ ...env, PUBLIC_URL: '' });
    await createChannels(quiet).voice.send(messageOf(quiet, 'voice', 'en', '+27821230032'));
    const call = await voice.waitFor('+27821230032');
    assert.equal(call.statusCallback, undefined);
    assert.deepEqual(call.statusCallbackEvents, []);
  });

  it("a refusal is a DeliveryError with Twilio's code: a country not allowed (21215) is final", async () => {
    voice.refuse.set('+882123456789', { status: 400, code: 21215 });
    const err = await refusal(createChannels(config).voice.send(messageOf(config, 'voice', 'en', '+882123456789')));
    assert.equal(err.permanent, true);
    assert.deepEqual({ status: err.answer.status, code: err.answer.code }, { status: 400, code: '21215' });
    assert.match(err.message, /Account not authorized to call \+882123456789/);
  });

  it('its status names what is missing; VOICE_API_URL wins over the SMS account', () => {
    const noFrom = createChannels(loadConfig({ ...env, VOICE_FROM: '' })).voice.status();
    assert.deepEqual([noFrom.configured, noFrom.missing], [false, ['VOICE_FROM']]);
    const own = createChannels(loadConfig({ ...env, VOICE_API_URL: voice.callsUrl })).voice.status();
    assert.deepEqual(Object.keys(own.settings), ['VOICE_API_URL', 'SMS_ACCOUNT_SID', 'SMS_API_KEY', 'VOICE_FROM']);
  });

  it('doctor: the credentials and VOICE_FROM as a voice number of the account; no call is made', async () => {
    const calls = voice.calls.length;
    const healthy = await checkVoice(config);
    assert.equal(healthy.status, 'ok', healthy.finding);
    assert.equal(
      healthy.finding,
      `Twilio accepted the credentials (SMS_ACCOUNT_SID / SMS_API_KEY) and VOICE_FROM ${VOICE_FROM} is a voice number of the account; no call was made`,
    );

    const stranger = await checkVoice(loadConfig({ ...env, VOICE_FROM: '+27110009999' }));
    assert.equal(stranger.status, 'fail');
    assert.equal(
      stranger.finding,
      'Twilio accepted the credentials (SMS_ACCOUNT_SID / SMS_API_KEY), but VOICE_FROM +27110009999 is neither a number of the account nor one of its verified caller IDs: Twilio refuses calls from it (21210)',
    );

    voice.numbers.push({
      phoneNumber: '+27110002222',
      capabilities: { voice: false, sms: true, mms: false, fax: false },
    });
    const smsOnly = await checkVoice(loadConfig({ ...env, VOICE_FROM: '+27110002222' }));
    assert.equal(smsOnly.status, 'fail');
    assert.match(smsOnly.finding, /VOICE_FROM \+27110002222 is a number of the account that cannot make calls/);

    const wrongKey = await checkVoice(loadConfig({ ...env, SMS_API_KEY: 'not-the-token' }));
    assert.equal(wrongKey.status, 'fail');
    assert.equal(wrongKey.finding, 'Twilio rejected the credentials (SMS_ACCOUNT_SID / SMS_API_KEY)');

    const otherAccount = await checkVoice(
      loadConfig({
        ...env,
        VOICE_API_URL: voice.callsUrl.replace(voice.accountSid, 'AC00000000000000000000000000000000'),
      }),
    );
    assert.equal(otherAccount.status, 'fail');
    assert.equal(
      otherAccount.finding,
      'Twilio has no such account: the Account SID in VOICE_API_URL is wrong (HTTP 404)',
    );

    assert.equal(voice.calls.length, calls, 'doctor made no call');
  });
});

describe("doctor's lines for the phone channels", () => {
  it('a line only when the provider is set or a road names the channel; a road naming one without a provider is a warning', async () => {
    assert.equal(hasDoctorLine(loadConfig({}), 'whatsapp'), false);
    assert.equal(hasDoctorLine(loadConfig({}), 'voice'), false);
    assert.equal(hasDoctorLine(loadConfig({ VOICE_PROVIDER: 'twilio' }), 'voice'), true);
    const roads = loadConfig({
      APP_ENV: 'test',
      PHONE_CHANNELS: 'sms,whatsapp',
      PHONE_CHANNELS_BY_COUNTRY: 'NA=sms,voice',
    });
    assert.equal(hasDoctorLine(roads, 'whatsapp'), true);
    assert.equal(hasDoctorLine(roads, 'voice'), true, "a country's road counts");

    const whatsapp = await checkWhatsApp(roads);
    assert.equal(whatsapp.status, 'warn');
    assert.equal(
      whatsapp.finding,
      'PHONE_CHANNELS names whatsapp, but WHATSAPP_PROVIDER is not set: no code reaches a phone by WhatsApp',
    );
    const voice = await checkVoice(roads);
    assert.equal(voice.status, 'warn');
    assert.match(voice.fix!, /VOICE_PROVIDER=twilio with VOICE_FROM/);
  });

  it('placeholder values fail before any request; settings not set fail outside development', async () => {
    const placeholder = await checkWhatsApp(
      loadConfig({
        APP_ENV: 'test',
        WHATSAPP_PROVIDER: 'meta',
        WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
        WHATSAPP_API_KEY: 'your-access-token',
        WHATSAPP_TEMPLATE: 'panic_code',
      }),
    );
    assert.equal(placeholder.status, 'fail');
    assert.equal(placeholder.finding, 'WhatsApp settings are placeholder values (WHATSAPP_API_KEY)');

    const missing = await checkVoice(loadConfig({ APP_ENV: 'test', VOICE_PROVIDER: 'twilio' }));
    assert.equal(missing.status, 'fail');
    assert.equal(
      missing.finding,
      'Voice provider twilio not fully configured (SMS_ACCOUNT_SID, SMS_API_KEY, VOICE_FROM not set): no code goes by Voice',
    );
    const inDevelopment = await checkVoice(loadConfig({ APP_ENV: 'development', VOICE_PROVIDER: 'twilio' }));
    assert.equal(inDevelopment.status, 'warn');
  });
});
