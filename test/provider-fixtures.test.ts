/** The provider fixtures of issue 20 speak the documented shapes (docs/providers-issue-20.md), checked with fetch alone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { closeServer, listen, readBody } from './support/http-fixture.ts';
import { postTwilioStatus } from './support/twilio-status.ts';
import { callStatusFields, startTwilioVoiceServer } from './support/twilio-voice.ts';
import {
  getMetaSubscription,
  metaStatus,
  metaStatusWebhook,
  postMetaWebhook,
  startMetaWhatsAppServer,
  startTwilioWhatsAppServer,
  whatsAppStatusFields,
} from './support/whatsapp.ts';

interface Received {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Stands where the service's webhook routes will: records each request; answers Meta's challenge for `verify-me`. */
async function startReceiver() {
  const received: Received[] = [];
  const { server, base } = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', base);
    received.push({ method: req.method ?? '', url, headers: req.headers, body: await readBody(req) });
    const q = url.searchParams;
    const challenge = q.get('hub.mode') === 'subscribe' && q.get('hub.verify_token') === 'verify-me';
    res.writeHead(challenge || req.method === 'POST' ? 200 : 403, { 'content-type': 'text/plain' });
    res.end(challenge ? q.get('hub.challenge') : '');
  });
  return { url: `${base}/hook`, received, close: () => closeServer(server) };
}

/** Twilio's rule, from its security documentation: base64 HMAC-SHA1 of the URL followed by each field's name and value, by name. */
function twilioSignatureOf(url: string, form: URLSearchParams, authToken: string): string {
  const data = [...form.keys()].sort().reduce((acc, name) => acc + name + form.get(name), url);
  return createHmac('sha1', authToken).update(data).digest('base64');
}

/** Meta's rule: `sha256=` and the hex HMAC-SHA256 of the raw body with the app secret, compared in constant time. */
function metaSignatureVerifies(body: string, header: string | undefined, appSecret: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const postForm = (url: string, auth: string, form: URLSearchParams) =>
  fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });

test('Twilio voice fixture: a call as Calls.json takes it, its refusals, the numbers list, a signed status callback', async (t) => {
  const voice = await startTwilioVoiceServer({
    numbers: [{ phoneNumber: '+27105550100', capabilities: { voice: true, sms: false, mms: false, fax: false } }],
  });
  const receiver = await startReceiver();
  t.after(() => Promise.all([voice.close(), receiver.close()]));
  const auth = basic(voice.accountSid, voice.authToken);
  const twiml = '<Response><Say language="en-ZA" voice="Polly.Ayanda-Neural">1, 2, 3, 4, 5, 6</Say></Response>';
  const form = new URLSearchParams({ To: '+27821234567', From: '+27105550100', Twiml: twiml, Timeout: '30' });
  form.set('StatusCallback', receiver.url);
  form.append('StatusCallbackEvent', 'initiated');
  form.append('StatusCallbackEvent', 'completed');

  const created = await postForm(voice.callsUrl, auth, form);
  assert.equal(created.status, 201);
  const call = (await created.json()) as Record<string, unknown>;
  assert.match(String(call.sid), /^CA[0-9a-f]{32}$/);
  assert.equal(call.status, 'queued');
  assert.equal(call.direction, 'outbound-api');
  assert.equal(call.to, '+27821234567');
  assert.equal(call.uri, `/2010-04-01/Accounts/${voice.accountSid}/Calls/${call.sid}.json`);
  const recorded = await voice.waitFor('+27821234567');
  assert.equal(recorded.sid, call.sid);
  assert.equal(recorded.twiml, twiml);
  assert.deepEqual(recorded.statusCallbackEvents, ['initiated', 'completed']);
  assert.equal(recorded.timeout, 30);

  const refused = async (response: Promise<Response>, status: number, code: number) => {
    const r = await response;
    assert.equal(r.status, status);
    const body = (await r.json()) as { code: number; message: string; more_info: string; status: number };
    assert.equal(body.code, code);
    assert.equal(body.status, status);
    assert.equal(body.more_info, `https://www.twilio.com/docs/errors/${code}`);
    return body.message;
  };
  await refused(postForm(voice.callsUrl, basic(voice.accountSid, 'wrong'), form), 401, 20003);
  await refused(
    postForm(voice.callsUrl, auth, new URLSearchParams({ From: '+27105550100', Twiml: twiml })),
    400,
    21201,
  );
  await refused(postForm(voice.callsUrl, auth, new URLSearchParams({ To: '+27821234567', Twiml: twiml })), 400, 21213);
  await refused(postForm(voice.callsUrl, auth, new URLSearchParams({ To: '+27821234567', From: '+1' })), 400, 21200);
  const long = new URLSearchParams({ To: '+27821234567', From: '+27105550100', Twiml: 'x'.repeat(4001) });
  await refused(postForm(voice.callsUrl, auth, long), 400, 21200);
  voice.refuse.set('+23599000000', { status: 400, code: 21215 });
  const geo = new URLSearchParams({ To: '+23599000000', From: '+27105550100', Twiml: twiml });
  assert.match(await refused(postForm(voice.callsUrl, auth, geo), 400, 21215), /not authorized to call \+23599000000/);
  assert.equal(voice.calls.length, 1);

  const numbers = async (phone: string) => {
    const r = await fetch(`${voice.numbersUrl}?PhoneNumber=${encodeURIComponent(phone)}`, {
      headers: { authorization: auth },
    });
    assert.equal(r.status, 200);
    return (
      (await r.json()) as { incoming_phone_numbers: { phone_number: string; capabilities: { voice: boolean } }[] }
    ).incoming_phone_numbers;
  };
  assert.deepEqual(
    (await numbers('+27105550100')).map((n) => [n.phone_number, n.capabilities.voice]),
    [['+27105550100', true]],
  );
  assert.deepEqual(await numbers('+27105550199'), []);

  const fields = callStatusFields(recorded, voice.accountSid, 'no-answer', { sequenceNumber: 1 });
  assert.equal((await postTwilioStatus(recorded.statusCallback!, fields, voice.authToken)).status, 200);
  const [got] = receiver.received;
  const sent = new URLSearchParams(got.body);
  assert.equal(got.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(got.headers['x-twilio-signature'], twilioSignatureOf(receiver.url, sent, voice.authToken));
  assert.notEqual(got.headers['x-twilio-signature'], twilioSignatureOf(receiver.url, sent, 'another-token'));
  assert.equal(sent.get('CallSid'), recorded.sid);
  assert.equal(sent.get('CallStatus'), 'no-answer');
  assert.equal(sent.get('CallbackSource'), 'call-progress-events');
});

test('Twilio WhatsApp fixture: a template on whatsapp: addresses, SMS on the same URL, refusals, a signed receipt, senders', async (t) => {
  const wa = await startTwilioWhatsAppServer({ senders: ['whatsapp:+27105550100'] });
  const receiver = await startReceiver();
  t.after(() => Promise.all([wa.close(), receiver.close()]));
  const auth = basic(wa.accountSid, wa.authToken);
  const template = (to: string, sender: Record<string, string>) =>
    new URLSearchParams({
      To: to,
      ...sender,
      ContentSid: 'HX0123456789abcdef0123456789abcdef',
      ContentVariables: JSON.stringify({ 1: '123456' }),
      StatusCallback: receiver.url,
    });

  const created = await postForm(
    wa.messagesUrl,
    auth,
    template('whatsapp:+27821234567', { From: 'whatsapp:+27105550100' }),
  );
  assert.equal(created.status, 201);
  const answer = (await created.json()) as Record<string, unknown>;
  assert.match(String(answer.sid), /^SM[0-9a-f]{32}$/);
  assert.equal(answer.status, 'queued');
  assert.equal(answer.error_code, null);
  const message = await wa.waitFor('whatsapp:+27821234567');
  assert.equal(message.channel, 'whatsapp');
  assert.deepEqual(message.contentVariables, { 1: '123456' });

  const viaService = await postForm(
    wa.messagesUrl,
    auth,
    template('whatsapp:+27821234568', { MessagingServiceSid: 'MG0123456789abcdef0123456789abcdef' }),
  );
  assert.equal(((await viaService.json()) as { status: string }).status, 'accepted');
  const sms = await postForm(
    wa.messagesUrl,
    auth,
    new URLSearchParams({ To: '+27821234567', From: '+27105550100', Body: 'x' }),
  );
  assert.equal(sms.status, 201);
  assert.equal((await wa.waitFor('+27821234567')).channel, 'sms');

  const noContent = await postForm(
    wa.messagesUrl,
    auth,
    new URLSearchParams({ To: '+27821234567', From: '+27105550100' }),
  );
  assert.equal(noContent.status, 400);
  assert.equal(((await noContent.json()) as { code: number }).code, 21602);
  wa.refuse.set('whatsapp:+27820000001', { status: 400, code: 21610 });
  const optedOut = await postForm(
    wa.messagesUrl,
    auth,
    template('whatsapp:+27820000001', { From: 'whatsapp:+27105550100' }),
  );
  assert.equal(optedOut.status, 400);
  assert.deepEqual(await optedOut.json(), {
    code: 21610,
    message: 'Attempt to send to unsubscribed recipient',
    more_info: 'https://www.twilio.com/docs/errors/21610',
    status: 400,
  });
  assert.equal(wa.messages.length, 3);

  const fields = whatsAppStatusFields(message, wa.accountSid, 'failed', 63016);
  assert.equal((await postTwilioStatus(message.statusCallback!, fields, wa.authToken)).status, 200);
  const sent = new URLSearchParams(receiver.received[0].body);
  assert.equal(receiver.received[0].headers['x-twilio-signature'], twilioSignatureOf(receiver.url, sent, wa.authToken));
  assert.equal(sent.get('MessageSid'), message.sid);
  assert.equal(sent.get('MessageStatus'), 'failed');
  assert.equal(sent.get('ErrorCode'), '63016');
  assert.equal(sent.get('ChannelToAddress'), '+27821234567');

  const senders = await fetch(`${wa.sendersUrl}?Channel=whatsapp`, { headers: { authorization: auth } });
  assert.equal(senders.status, 200);
  const listed = (await senders.json()) as { senders: { sender_id: string; status: string }[] };
  assert.deepEqual(
    listed.senders.map((s) => [s.sender_id, s.status]),
    [['whatsapp:+27105550100', 'ONLINE']],
  );
  assert.equal((await fetch(wa.sendersUrl, { headers: { authorization: basic(wa.accountSid, 'x') } })).status, 401);
});

test('Meta Cloud API fixture: an authentication template, refusals as Graph answers them, template and number reads', async (t) => {
  const meta = await startMetaWhatsAppServer({
    templates: [
      { name: 'panic_code', language: 'en_US', status: 'APPROVED' },
      { name: 'panic_code', language: 'af', status: 'PENDING' },
    ],
  });
  t.after(() => meta.close());
  const bearer = { authorization: `Bearer ${meta.accessToken}`, 'content-type': 'application/json' };
  const authTemplate = (to: string, language = 'en_US', button = true) => ({
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'template',
    template: {
      name: 'panic_code',
      language: { code: language },
      components: [
        { type: 'body', parameters: [{ type: 'text', text: '123456' }] },
        ...(button
          ? [{ type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: '123456' }] }]
          : []),
      ],
    },
  });
  const post = (body: unknown, headers: Record<string, string> = bearer) =>
    fetch(meta.messagesUrl, { method: 'POST', headers, body: JSON.stringify(body) });

  const sent = await post(authTemplate('27821234567'));
  assert.equal(sent.status, 200);
  const answer = (await sent.json()) as {
    messaging_product: string;
    contacts: { input: string; wa_id: string }[];
    messages: { id: string }[];
  };
  assert.equal(answer.messaging_product, 'whatsapp');
  assert.deepEqual(answer.contacts, [{ input: '27821234567', wa_id: '27821234567' }]);
  assert.match(answer.messages[0].id, /^wamid\./);
  const recorded = await meta.waitFor('27821234567');
  assert.equal(recorded.id, answer.messages[0].id);
  assert.deepEqual([recorded.bodyParams, recorded.buttonParams], [['123456'], ['123456']]);

  type GraphError = {
    error: { message: string; type: string; code: number; error_subcode?: number; fbtrace_id: string };
  };
  const graphError = async (response: Promise<Response>, status: number, code: number) => {
    const r = await response;
    assert.equal(r.status, status);
    const body = (await r.json()) as GraphError & { error: { error_data?: { messaging_product: string } } };
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.fbtrace_id, 'string');
    return body.error;
  };
  assert.equal(
    (await graphError(post(authTemplate('27821234567'), { ...bearer, authorization: 'Bearer expired' }), 401, 190))
      .type,
    'OAuthException',
  );
  await graphError(post(authTemplate('27821234567', 'af')), 404, 132001);
  await graphError(post(authTemplate('27821234567', 'en_US', false)), 400, 132000);
  meta.refuse.set('27820000002', { status: 400, code: 131026 });
  const undeliverable = await graphError(post(authTemplate('27820000002')), 400, 131026);
  assert.equal(undeliverable.message, '(#131026) Message Undeliverable');
  assert.equal(meta.messages.length, 1);

  const templates = await fetch(`${meta.templatesUrl}?name=panic_code`, { headers: bearer });
  assert.equal(templates.status, 200);
  const list = (await templates.json()) as { data: { name: string; language: string; status: string }[] };
  assert.deepEqual(
    list.data.map((d) => [d.language, d.status]),
    [
      ['en_US', 'APPROVED'],
      ['af', 'PENDING'],
    ],
  );
  const phone = await fetch(`${meta.phoneNumberUrl}?fields=verified_name,quality_rating`, { headers: bearer });
  assert.deepEqual(await phone.json(), {
    verified_name: 'Panic System',
    quality_rating: 'GREEN',
    id: meta.phoneNumberId,
  });
  const unknown = await graphError(fetch(`${meta.graphUrl}/999/message_templates`, { headers: bearer }), 400, 100);
  assert.equal(unknown.error_subcode, 33);
});

test('Meta webhook helpers: statuses signed X-Hub-Signature-256 verify with the app secret; the subscription check', async (t) => {
  const meta = await startMetaWhatsAppServer();
  const receiver = await startReceiver();
  t.after(() => Promise.all([meta.close(), receiver.close()]));
  await fetch(meta.messagesUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${meta.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      messaging_product: 'whatsapp',
      to: '+27821234567',
      type: 'template',
      template: {
        name: 'panic_code',
        language: { code: 'en_US' },
        components: [
          { type: 'body', parameters: [{ type: 'text', text: '654321' }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: '654321' }] },
        ],
      },
    }),
  });
  const message = await meta.waitFor('+27821234567');

  const payload = metaStatusWebhook(meta, [metaStatus(message, 'failed', 131026)]);
  assert.equal((await postMetaWebhook(receiver.url, payload, 'app-secret')).status, 200);
  const [got] = receiver.received;
  assert.equal(got.headers['content-type'], 'application/json');
  const signature = got.headers['x-hub-signature-256'] as string;
  assert.ok(metaSignatureVerifies(got.body, signature, 'app-secret'));
  assert.ok(!metaSignatureVerifies(got.body, signature, 'another-secret'));
  const body = JSON.parse(got.body);
  assert.equal(body.object, 'whatsapp_business_account');
  const value = body.entry[0].changes[0].value;
  assert.equal(body.entry[0].changes[0].field, 'messages');
  assert.equal(value.metadata.phone_number_id, meta.phoneNumberId);
  assert.deepEqual(
    [value.statuses[0].id, value.statuses[0].status, value.statuses[0].recipient_id, value.statuses[0].errors[0].code],
    [message.id, 'failed', '27821234567', 131026],
  );

  const subscribed = await getMetaSubscription(receiver.url, { verifyToken: 'verify-me', challenge: '1158201444' });
  assert.equal(subscribed.status, 200);
  assert.equal(await subscribed.text(), '1158201444');
  const asked = receiver.received[1].url.searchParams;
  assert.deepEqual(
    [asked.get('hub.mode'), asked.get('hub.verify_token'), asked.get('hub.challenge')],
    ['subscribe', 'verify-me', '1158201444'],
  );
  assert.equal((await getMetaSubscription(receiver.url, { verifyToken: 'wrong' })).status, 403);
});
