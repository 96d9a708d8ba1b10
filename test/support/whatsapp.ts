/**
 * WhatsApp's two roads as local servers (docs/providers-issue-20.md has the sources):
 * - Twilio's Messages API with `whatsapp:+E164` addresses and an approved template (`ContentSid`,
 *   `ContentVariables`); it takes plain SMS (`Body`) on the same URL as Twilio does, and lists the
 *   account's WhatsApp senders (GET /v2/Channels/Senders). sms.ts's fixture cannot serve it: it requires
 *   a `Body`.
 * - Meta's WhatsApp Cloud API (Graph API): template messages, the template and phone-number reads a
 *   doctor makes, and the webhook Meta sends (statuses signed X-Hub-Signature-256, the GET subscription
 *   check).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  basicAuth,
  closeServer,
  type Counts,
  listen,
  readBody,
  readForm,
  rfc2822,
  sendJson,
  type TwilioRefusal,
  twilioAccountRoute,
  twilioError,
  type WaitOpts,
  withCounts,
} from './http-fixture.ts';
import { signBody } from './receipts.ts';
import { TWILIO_TEST_ACCOUNT_SID } from './sms.ts';
import { waitForMessage } from './wait.ts';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

// ---------------------------------------------------------------- Twilio Messages API (WhatsApp and SMS)

export interface TwilioWhatsAppMessage {
  sid: string;
  /** As sent: `whatsapp:+E164` for WhatsApp, `+E164` for SMS. */
  to: string;
  channel: 'whatsapp' | 'sms';
  from?: string;
  messagingServiceSid?: string;
  body?: string;
  /** The approved template (`HX…`). */
  contentSid?: string;
  /** `ContentVariables` parsed, e.g. `{ "1": "123456" }`; undefined when absent or not JSON. */
  contentVariables?: Record<string, string>;
  statusCallback?: string;
  /** Every field as sent. */
  form: Record<string, string>;
}

export interface TwilioWhatsAppFixture extends Counts {
  /** full URL of POST …/Accounts/{Sid}/Messages.json */
  messagesUrl: string;
  /** full URL of GET /v2/Channels/Senders (Twilio serves it from messaging.twilio.com) */
  sendersUrl: string;
  accountSid: string;
  authToken: string;
  messages: TwilioWhatsAppMessage[];
  /** Every valid message is refused with this; may be changed at any time. */
  failWith: TwilioRefusal | undefined;
  /** Messages to these addresses (`To` as sent) are refused with their refusal, e.g. 21610 for an opted-out one. */
  refuse: Map<string, TwilioRefusal>;
  /** The account's WhatsApp senders (`whatsapp:+E164`) GET /v2/Channels/Senders lists; may be changed at any time. */
  senders: string[];
  waitFor(to: string, opts?: WaitOpts): Promise<TwilioWhatsAppMessage>;
  close(): Promise<void>;
}

/** The settings that send WhatsApp through a Twilio fixture, from `from` (one of its senders), with an approved template. */
export function twilioWhatsAppEnv(
  fixture: Pick<TwilioWhatsAppFixture, 'messagesUrl'>,
  from: string,
): Record<string, string> {
  return {
    WHATSAPP_PROVIDER: 'twilio',
    WHATSAPP_FROM: from,
    WHATSAPP_TEMPLATE: 'HX0123456789abcdef0123456789abcdef',
    WHATSAPP_API_URL: fixture.messagesUrl,
  };
}

/** The messages Twilio answers with for the refusals a message can meet when it is created. */
const MESSAGE_REFUSALS: Record<number, (to: string) => string> = {
  21211: (to) => `The 'To' number ${to} is not a valid phone number.`,
  21408: (to) => `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`,
  21610: () => 'Attempt to send to unsubscribed recipient',
  21614: (to) => `'To' number ${to} is not a valid mobile number`,
  20429: () => 'Too Many Requests',
  20500: () => 'An internal server error has occurred',
  20503: () => 'Service unavailable',
};

export interface TwilioWhatsAppOptions {
  accountSid?: string;
  authToken?: string;
  failWith?: TwilioRefusal;
  senders?: string[];
}

export async function startTwilioWhatsAppServer(opts: TwilioWhatsAppOptions = {}): Promise<TwilioWhatsAppFixture> {
  const { accountSid = TWILIO_TEST_ACCOUNT_SID, authToken = 'twilio-test-token' } = opts;
  const messages: TwilioWhatsAppMessage[] = [];
  const accountPath = `/2010-04-01/Accounts/${accountSid}`;

  const { server, base, counts } = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/Channels/Senders' && req.method === 'GET') return listSenders(req, res, url);
    if (twilioAccountRoute(req, res, { accountSid, authToken }, { '/Messages.json': 'POST' }) === undefined) return;

    const form = await readForm(req);
    const to = form.get('To');
    const from = form.get('From') ?? undefined;
    const messagingServiceSid = form.get('MessagingServiceSid') ?? undefined;
    const body = form.get('Body') ?? undefined;
    const contentSid = form.get('ContentSid') ?? undefined;
    if (!to) return sendJson(res, 400, twilioError(400, 21604, "A 'To' phone number is required."));
    if (!from && !messagingServiceSid) {
      return sendJson(res, 400, twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required."));
    }
    if (!body && !contentSid && !form.get('MediaUrl')) {
      return sendJson(res, 400, twilioError(400, 21602, 'Message body is required.'));
    }
    const refusal = fixture.refuse.get(to) ?? fixture.failWith;
    if (refusal) {
      const message = refusal.message ?? MESSAGE_REFUSALS[refusal.code]?.(to) ?? `Error ${refusal.code}`;
      return sendJson(res, refusal.status, twilioError(refusal.status, refusal.code, message));
    }

    const sid = `SM${hex(16)}`;
    messages.push({
      sid,
      to,
      channel: to.startsWith('whatsapp:') ? 'whatsapp' : 'sms',
      from,
      messagingServiceSid,
      body,
      contentSid,
      contentVariables: parseVariables(form.get('ContentVariables')),
      statusCallback: form.get('StatusCallback') ?? undefined,
      form: Object.fromEntries(form),
    });
    const now = rfc2822();
    // A message created through a Messaging Service starts `accepted`, one from a sender `queued`.
    sendJson(res, 201, {
      sid,
      account_sid: accountSid,
      messaging_service_sid: messagingServiceSid ?? null,
      status: messagingServiceSid ? 'accepted' : 'queued',
      to,
      from: from ?? null,
      body: body ?? '',
      num_segments: messagingServiceSid ? '0' : '1',
      num_media: '0',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      price: null,
      price_unit: null,
      error_code: null,
      error_message: null,
      date_created: now,
      date_updated: now,
      date_sent: null,
      uri: `${accountPath}/Messages/${sid}.json`,
      subresource_uris: { media: `${accountPath}/Messages/${sid}/Media.json` },
    });
  });

  function listSenders(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const auth = basicAuth(req);
    if (!auth || auth.user !== accountSid || auth.pass !== authToken) {
      sendJson(res, 401, twilioError(401, 20003, 'Authenticate'));
      return;
    }
    const channel = url.searchParams.get('Channel');
    const found = fixture.senders.filter((s) => channel === null || s.startsWith(`${channel}:`));
    sendJson(res, 200, {
      senders: found.map((senderId) => ({
        sid: `XE${createHash('md5').update(senderId).digest('hex')}`,
        status: 'ONLINE',
        sender_id: senderId,
        url: `https://messaging.twilio.com/v2/Channels/Senders/${senderId}`,
      })),
      meta: { page: 0, page_size: 20, key: 'senders', url: url.href, next_page_url: null, previous_page_url: null },
    });
  }

  const fixture = withCounts<TwilioWhatsAppFixture>(
    {
      messagesUrl: `${base}${accountPath}/Messages.json`,
      sendersUrl: `${base}/v2/Channels/Senders`,
      accountSid,
      authToken,
      messages,
      failWith: opts.failWith,
      refuse: new Map(),
      senders: opts.senders ?? [],
      waitFor: (to, o) => waitForMessage(messages, (m) => m.to === to, `Twilio message to ${to}`, o),
      close: () => closeServer(server),
    },
    counts,
  );
  return fixture;
}

function parseVariables(raw: string | null): Record<string, string> | undefined {
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw) as Record<string, string>;
  } catch {
    return undefined;
  }
}

/**
 * The form of Twilio's StatusCallback for a WhatsApp message (as captured from Twilio in public code):
 * `MessageStatus` `sent`, `delivered`, `read`, `failed` or `undelivered`, with `ErrorCode` on a failure.
 * Post it with twilio-status.ts's postTwilioStatus.
 */
export function whatsAppStatusFields(
  message: TwilioWhatsAppMessage,
  accountSid: string,
  status: 'sent' | 'delivered' | 'read' | 'failed' | 'undelivered',
  errorCode?: number,
): Record<string, string> {
  const fields: Record<string, string> = {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    ChannelInstallSid: `XE${'0'.repeat(32)}`,
    ChannelPrefix: 'whatsapp',
    ChannelToAddress: message.to.replace(/^whatsapp:/, ''),
    From: message.from ?? 'whatsapp:+14155238886',
    MessageSid: message.sid,
    MessageStatus: status,
    SmsSid: message.sid,
    SmsStatus: status,
    To: message.to,
  };
  if (errorCode !== undefined) fields.ErrorCode = String(errorCode);
  return fields;
}

// ---------------------------------------------------------------- Meta's WhatsApp Cloud API (Graph API)

export type MetaTemplateStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED';

export interface MetaTemplate {
  name: string;
  /** Meta's template language code, e.g. `en_US`, `af`, `zu`. */
  language: string;
  status: MetaTemplateStatus;
  category?: 'AUTHENTICATION' | 'UTILITY' | 'MARKETING';
}

/** A template message as the Cloud API received it. */
export interface MetaMessage {
  /** The `wamid.…` the answer gave. */
  id: string;
  to: string;
  template: string;
  language: string;
  /** The body component's text parameters (an authentication template has one: the code). */
  bodyParams: string[];
  /** The copy-code button's text parameters (the code again). */
  buttonParams: string[];
  payload: unknown;
}

/** A refusal the Cloud API answers instead of accepting: its HTTP status and Meta's error code. */
export interface MetaRefusal {
  status: number;
  code: number;
  title?: string;
  details?: string;
}

export interface MetaWhatsAppFixture extends Counts {
  /** Graph API root with version, e.g. `http://127.0.0.1:port/v21.0` */
  graphUrl: string;
  /** full URL of POST /{phone_number_id}/messages */
  messagesUrl: string;
  /** full URL of GET /{waba_id}/message_templates */
  templatesUrl: string;
  /** full URL of GET /{phone_number_id} */
  phoneNumberUrl: string;
  accessToken: string;
  phoneNumberId: string;
  wabaId: string;
  displayPhoneNumber: string;
  messages: MetaMessage[];
  /** What the template reads and the message sends find; may be changed at any time. */
  templates: MetaTemplate[];
  /** Every valid message is refused with this; may be changed at any time. */
  failWith: MetaRefusal | undefined;
  /** Messages to these numbers (`to` as sent) are refused with their refusal, e.g. 131026 for one not on WhatsApp. */
  refuse: Map<string, MetaRefusal>;
  waitFor(to: string, opts?: WaitOpts): Promise<MetaMessage>;
  close(): Promise<void>;
}

/** Meta's titles and HTTP statuses for the codes a send can meet (the error-codes page, docs/providers-issue-20.md). */
const META_ERRORS: Record<number, [number, string]> = {
  100: [400, 'Invalid parameter'],
  368: [403, 'Temporarily blocked for policies violations'],
  130429: [400, 'Rate limit hit'],
  131000: [500, 'Something went wrong'],
  131026: [400, 'Message Undeliverable'],
  131030: [400, 'Recipient phone number not in allowed list'],
  131047: [400, 'Re-engagement message'],
  131049: [400, 'This message was not delivered to maintain healthy ecosystem engagement.'],
  131056: [400, '(Business Account, Consumer Account) pair rate limit hit'],
  132000: [400, 'Number of parameters does not match the expected number of params'],
  132001: [404, 'Template name does not exist in the translation'],
  132015: [400, 'Template is Paused'],
};

/** Meta's error body: `{error: {message, type, code, error_data: {messaging_product, details}, fbtrace_id}}`. */
export function metaError(code: number, title?: string, details?: string, type = 'OAuthException') {
  const text = title ?? META_ERRORS[code]?.[1] ?? `Error ${code}`;
  return {
    error: {
      message: `(#${code}) ${text}`,
      type,
      code,
      error_data: { messaging_product: 'whatsapp', details: details ?? text },
      fbtrace_id: `A${hex(11)}`,
    },
  };
}

const badToken = () => ({
  error: {
    message: 'Invalid OAuth access token - Cannot parse access token',
    type: 'OAuthException',
    code: 190,
    fbtrace_id: `A${hex(11)}`,
  },
});

/** Graph's answer for an id it does not know (or may not read): 400, code 100, subcode 33. */
const unknownObject = (method: string, id: string) => ({
  error: {
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    type: 'GraphMethodException',
    code: 100,
    error_subcode: 33,
    fbtrace_id: `A${hex(11)}`,
  },
});

export interface MetaWhatsAppOptions {
  accessToken?: string;
  phoneNumberId?: string;
  wabaId?: string;
  displayPhoneNumber?: string;
  apiVersion?: string;
  templates?: MetaTemplate[];
  failWith?: MetaRefusal;
}

export async function startMetaWhatsAppServer(opts: MetaWhatsAppOptions = {}): Promise<MetaWhatsAppFixture> {
  const {
    accessToken = 'meta-test-token',
    phoneNumberId = '106540352242922',
    wabaId = '102290129340398',
    displayPhoneNumber = '15550783881',
    apiVersion = 'v21.0',
  } = opts;
  const messages: MetaMessage[] = [];

  const { server, base, counts } = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/v\d+\.\d+\/([^/]+)(?:\/([a-z_]+))?$/.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${accessToken}`) return sendJson(res, 401, badToken());
    const [id, edge] = [m?.[1] ?? '', m?.[2]];
    if (req.method === 'POST' && id === phoneNumberId && edge === 'messages') return send(req, res);
    if (req.method === 'GET' && id === wabaId && edge === 'message_templates') return listTemplates(res, url);
    if (req.method === 'GET' && id === phoneNumberId && edge === undefined) return readPhoneNumber(res, url);
    sendJson(res, 400, unknownObject(req.method ?? 'GET', id));
  });

  async function send(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, metaError(100, 'Invalid parameter', 'The request body is not valid JSON.'));
    }
    const to = typeof payload.to === 'string' ? payload.to : '';
    if (payload.messaging_product !== 'whatsapp' || !to || payload.type !== 'template') {
      return sendJson(res, 400, metaError(100, 'Invalid parameter', 'messaging_product, to and type are required.'));
    }
    const tpl = (payload.template ?? {}) as {
      name?: string;
      language?: { code?: string };
      components?: { type?: string; sub_type?: string; index?: string; parameters?: { text?: string }[] }[];
    };
    const name = tpl.name ?? '';
    const language = tpl.language?.code ?? '';
    const known = fixture.templates.find((t) => t.name === name && t.language === language);
    if (known?.status === 'PAUSED') return refuse(res, { status: 400, code: 132015 });
    if (known?.status !== 'APPROVED') {
      return refuse(res, {
        status: 404,
        code: 132001,
        details: `template name (${name}) does not exist in ${language}`,
      });
    }
    const params = (type: string) =>
      (tpl.components ?? [])
        .filter((c) => c.type === type && (type === 'body' || (c.sub_type === 'url' && c.index === '0')))
        .flatMap((c) => (c.parameters ?? []).map((p) => p.text ?? ''));
    const bodyParams = params('body');
    const buttonParams = params('button');
    // An authentication template with a copy-code button takes the code twice: once in the body, once in the button.
    if (bodyParams.length !== 1 || buttonParams.length !== 1) {
      return refuse(res, {
        status: 400,
        code: 132000,
        details: `body: number of localizable_params (${bodyParams.length}) does not match the expected number of params (1)`,
      });
    }
    const refusal = fixture.refuse.get(to) ?? fixture.failWith;
    if (refusal) return refuse(res, refusal);

    const id = `wamid.${randomBytes(30).toString('base64')}`;
    messages.push({ id, to, template: name, language, bodyParams, buttonParams, payload });
    sendJson(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: to.replace(/\D/g, '') }],
      messages: [{ id, message_status: 'accepted' }],
    });
  }

  function refuse(res: ServerResponse, r: MetaRefusal): void {
    sendJson(res, r.status, metaError(r.code, r.title, r.details));
  }

  function listTemplates(res: ServerResponse, url: URL): void {
    const name = url.searchParams.get('name');
    const found = fixture.templates.filter((t) => name === null || t.name === name);
    sendJson(res, 200, {
      data: found.map((t, i) => ({
        name: t.name,
        language: t.language,
        status: t.status,
        category: t.category ?? 'AUTHENTICATION',
        id: String(1_000_000_000_000 + i),
        components: [
          { type: 'BODY', text: '*{{1}}* is your verification code. For your security, do not share this code.' },
          { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Copy code' }] },
        ],
      })),
      paging: { cursors: { before: 'QVFIUk', after: 'QVFIUl' } },
    });
  }

  function readPhoneNumber(res: ServerResponse, url: URL): void {
    const all: Record<string, unknown> = {
      verified_name: 'Panic System',
      code_verification_status: 'VERIFIED',
      display_phone_number: displayPhoneNumber,
      quality_rating: 'GREEN',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
      name_status: 'APPROVED',
    };
    const fields = url.searchParams.get('fields')?.split(',') ?? Object.keys(all).filter((f) => f !== 'name_status');
    sendJson(res, 200, {
      ...Object.fromEntries(fields.filter((f) => f in all).map((f) => [f, all[f]])),
      id: phoneNumberId,
    });
  }

  const graphUrl = `${base}/${apiVersion}`;
  const fixture = withCounts<MetaWhatsAppFixture>(
    {
      graphUrl,
      messagesUrl: `${graphUrl}/${phoneNumberId}/messages`,
      templatesUrl: `${graphUrl}/${wabaId}/message_templates`,
      phoneNumberUrl: `${graphUrl}/${phoneNumberId}`,
      accessToken,
      phoneNumberId,
      wabaId,
      displayPhoneNumber,
      messages,
      templates: opts.templates ?? [{ name: 'panic_code', language: 'en_US', status: 'APPROVED' }],
      failWith: opts.failWith,
      refuse: new Map(),
      waitFor: (to, o) => waitForMessage(messages, (m) => m.to === to, `WhatsApp (Meta) message to ${to}`, o),
      close: () => closeServer(server),
    },
    counts,
  );
  return fixture;
}

// ---------------------------------------------------------------- Meta's webhook, as Meta sends it

export type MetaStatusValue = 'sent' | 'delivered' | 'read' | 'failed';

/** One entry of a webhook's `statuses` array; a `failed` one carries `errors`. */
export interface MetaStatus {
  id: string;
  status: MetaStatusValue;
  timestamp: string;
  recipient_id: string;
  errors?: { code: number; title: string; message: string; error_data: { details: string } }[];
}

/** The status of a message the fixture accepted; `errorCode` makes it a failure with Meta's title for it. */
export function metaStatus(message: MetaMessage, status: MetaStatusValue, errorCode?: number): MetaStatus {
  const entry: MetaStatus = {
    id: message.id,
    status,
    timestamp: String(Math.floor(Date.now() / 1000)),
    recipient_id: message.to.replace(/\D/g, ''),
  };
  if (errorCode !== undefined) {
    const title = META_ERRORS[errorCode]?.[1] ?? `Error ${errorCode}`;
    entry.errors = [{ code: errorCode, title, message: title, error_data: { details: title } }];
  }
  return entry;
}

/** The `messages` webhook body carrying statuses for the fixture's business number. */
export function metaStatusWebhook(fixture: MetaWhatsAppFixture, statuses: MetaStatus[]) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: fixture.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: fixture.displayPhoneNumber, phone_number_id: fixture.phoneNumberId },
              statuses,
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

/** POSTs a webhook body as Meta does: JSON, `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. */
export function postMetaWebhook(
  url: string,
  payload: unknown,
  appSecret: string,
  opts: { signature?: string } = {},
): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': opts.signature ?? signBody(body, appSecret) },
    body,
  });
}

/** Meta's subscription check: GET with `hub.mode`, `hub.verify_token` and `hub.challenge`; a subscriber answers the challenge. */
export function getMetaSubscription(
  url: string,
  opts: { verifyToken: string; challenge?: string; mode?: string },
): Promise<Response> {
  const target = new URL(url);
  target.searchParams.set('hub.mode', opts.mode ?? 'subscribe');
  target.searchParams.set('hub.verify_token', opts.verifyToken);
  target.searchParams.set('hub.challenge', opts.challenge ?? String(randomBytes(4).readUInt32BE()));
  return fetch(target);
}
