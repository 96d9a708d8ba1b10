import { Type, type Static } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../../runtime/services.ts';
import { takeReceipt, type AppliedReceipt, type ReceiptStatus } from '../../delivery/receipts.ts';
import type { SuppressionKind } from '../../delivery/suppressions.ts';
import {
  TWILIO_CALL_STATUS_PATH,
  TWILIO_STATUS_PATH,
  twilioCallStatusCallback,
  twilioStatusCallback,
} from '../../delivery/channels/twilio.ts';
import type { Config } from '../../config/settings.ts';
import { AppError } from '../../shared/errors.ts';
import type { Limiter } from '../../platform/rate-limit.ts';
import { clientBucket } from '../../shared/trust-proxy.ts';
import { errors, WRITES } from '../schemas.ts';
import { jsonBodyReader, refuseUnstorable, type BodyReader } from '../json-body.ts';
import { bodySignature, signatureMatches, twilioSignature } from '../webhook-signatures.ts';
import { sameSecret } from '../same-secret.ts';

/** Meta's webhook for WhatsApp (Cloud API): the subscription check (GET) and the statuses of our messages (POST). */
export const WHATSAPP_WEBHOOK_PATH = '/api/v1/webhooks/whatsapp';

const Answer = Type.Object({
  message_id: Type.String(),
  status: Type.String({ description: "The message's state after the receipt." }),
  changed: Type.Boolean({
    description: 'False for a repeated receipt, a late `sent`, or one after the message already had its final word.',
  }),
});
const answers = { 200: Answer, ...errors(...WRITES, 'forbidden', 'not_found') };
const tags = ['webhooks'];
/**
 * Genuine receipts come in bursts from a provider's few addresses: no general per-IP budget, but a
 * small body. Twilio's StatusCallback is under 2 KB and the others' receipts a few KB at their fields'
 * longest; past this, 413 before a byte is read as a receipt.
 */
const limits = { config: { limit: { family: null } }, bodyLimit: 8 * 1024 };
/**
 * Meta posts what a person writes to the business number to the same URL as the statuses (a text is up
 * to 4,096 characters), and retries for days what it is refused: its bodies may be as large as any the
 * service reads.
 */
const metaLimits = { ...limits, bodyLimit: 64 * 1024 };
/** Twilio posts some 20-30 fields; every one is sorted and hashed for the signature, so past this many the form is refused unparsed. */
const MAX_TWILIO_FIELDS = 64;
/** Receipts one client address may send in a minute that fail their signature (a genuine one spends nothing); past them, 429. */
const FORGED_PER_MINUTE = 30;
const FORGED_MESSAGE = 'Too many receipts with a wrong signature from your address. Retry after the time given.';

/** A receipt's answer: what it did to the message, or 404 when no accepted message has that name. */
function answer(applied: AppliedReceipt | undefined) {
  if (!applied)
    throw new AppError(
      'not_found',
      'No accepted message has that id (a receipt may reach us before the send is recorded: retry later).',
    );
  return { message_id: applied.id, status: applied.status, changed: applied.changed };
}

/**
 * In this plugin only: the body is read raw, its signature checked by `verify` before anything else,
 * and only then read as every other body is. Any other content type is 415. A body that fails its
 * signature (403) spends its sender's budget of forgeries: past it, 429.
 */
function signedBodies(
  app: FastifyInstance,
  contentType: string,
  verify: (request: FastifyRequest, raw: Buffer) => void,
  read: BodyReader,
  forged: Limiter,
) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(contentType, { parseAs: 'buffer' }, (request, raw, done) => {
    try {
      verify(request, raw as Buffer);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'forbidden')) return done(err as Error, undefined);
      forged.consume(clientBucket(request.ip, request.socket.remoteAddress), FORGED_MESSAGE).then(
        () => done(err, undefined),
        (limited: Error) => done(limited, undefined),
      );
      return;
    }
    read(request, raw as Buffer, done);
  });
}

/** Whether a form has more than `max` fields, counted by its `&` separators on the raw bytes, parsing nothing. */
function moreFieldsThan(raw: Buffer, max: number): boolean {
  let separators = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 0x26 && ++separators >= max) return true;
  return false;
}

/** Twilio's form fields, held to the same rule as JSON text (no NUL, no lone surrogate). */
const readForm: BodyReader = (_request, raw, done) => {
  try {
    const body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    refuseUnstorable(body);
    done(null, body);
  } catch (err) {
    done(err as Error);
  }
};

/**
 * A JSON body signed `<header>: sha256=<hex HMAC-SHA256 of the raw body>` with `secret`: the generic
 * provider's and the email bridge's X-Signature, Meta's X-Hub-Signature-256. `unset` says which settings
 * switch the route on.
 */
function hmacSigned(
  app: FastifyInstance,
  key: { secret: string | undefined; name: string; header?: string; unset?: string },
  forged: Limiter,
  read: BodyReader = jsonBodyReader(app),
) {
  const { secret, name, header = 'X-Signature', unset = `${name} is not set` } = key;
  signedBodies(
    app,
    'application/json',
    (request, raw) => {
      if (!secret) throw new AppError('forbidden', `Receipts are refused: ${unset}.`);
      if (!signatureMatches(request.headers[header.toLowerCase()], bodySignature(raw, secret))) {
        throw new AppError('forbidden', `${header} is not sha256=<hex HMAC-SHA256 of the body, keyed with ${name}>.`);
      }
    },
    read,
    forged,
  );
}

/** The auth tokens of every Twilio account a channel of ours sends through: any of them may sign a receipt. */
function twilioAuthTokens(
  s: Pick<
    Config,
    | 'SMS_PROVIDER'
    | 'SMS_API_KEY'
    | 'SMS_FALLBACK_PROVIDER'
    | 'SMS_FALLBACK_API_KEY'
    | 'WHATSAPP_PROVIDER'
    | 'WHATSAPP_API_KEY'
    | 'VOICE_PROVIDER'
  >,
): string[] {
  const tokens = [
    s.SMS_PROVIDER === 'twilio' ? s.SMS_API_KEY : undefined,
    s.SMS_FALLBACK_PROVIDER === 'twilio' ? s.SMS_FALLBACK_API_KEY : undefined,
    // WhatsApp and calls through Twilio use the SMS account unless WhatsApp has a key of its own
    s.WHATSAPP_PROVIDER === 'twilio' ? (s.WHATSAPP_API_KEY ?? s.SMS_API_KEY) : undefined,
    s.VOICE_PROVIDER === 'twilio' ? s.SMS_API_KEY : undefined,
  ];
  return [...new Set(tokens.filter((t): t is string => Boolean(t)))];
}

/**
 * Twilio's form posts, signed X-Twilio-Signature with one of `tokens` over the URL Twilio was given
 * (`callback(PUBLIC_URL)`, not the Host header a proxy rewrote, with the query Twilio called it with)
 * and every field it sent.
 */
function twilioSigned(
  app: FastifyInstance,
  callback: (publicUrl: string) => string,
  tokens: string[],
  publicUrl: string | undefined,
  forged: Limiter,
) {
  signedBodies(
    app,
    'application/x-www-form-urlencoded',
    (request, raw) => {
      if (!tokens.length || !publicUrl)
        throw new AppError(
          'forbidden',
          'Twilio receipts are refused: no channel goes through Twilio (SMS_PROVIDER, WHATSAPP_PROVIDER or VOICE_PROVIDER=twilio), or PUBLIC_URL is not set.',
        );
      if (moreFieldsThan(raw, MAX_TWILIO_FIELDS))
        throw new AppError('payload_too_large', `Twilio's receipts have at most ${MAX_TWILIO_FIELDS} fields.`);
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      const url = callback(publicUrl) + query;
      const fields = new URLSearchParams(raw.toString('utf8'));
      if (
        !tokens.some((token) =>
          signatureMatches(request.headers['x-twilio-signature'], twilioSignature(url, fields, token)),
        )
      ) {
        throw new AppError('forbidden', 'X-Twilio-Signature does not match.');
      }
    },
    readForm,
    forged,
  );
}

/** Twilio's MessageStatus values as our states (WhatsApp's `read` too); the ones before a final word change nothing. */
const TWILIO_STATUS: Record<string, ReceiptStatus> = {
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  canceled: 'failed',
};

/** How a Twilio call ended (CallStatus) as our states; its progress (queued, initiated, ringing, in-progress) changes nothing. */
const TWILIO_CALL_STATUS: Record<string, ReceiptStatus> = {
  // answered: the call read the code
  completed: 'delivered',
  busy: 'undelivered',
  'no-answer': 'undelivered',
  canceled: 'undelivered',
  failed: 'failed',
};

/** A WhatsApp status (Cloud API) as our state; `sent` changes nothing. */
const META_STATUS: Record<string, ReceiptStatus> = {
  delivered: 'delivered',
  read: 'delivered',
  failed: 'failed',
};

/** The provider's word for a receipt, kept when it is not ours (read, completed, busy). */
const saidUnlessOurs = (word: string, status: ReceiptStatus): string | undefined =>
  word === status || status === 'sent' ? undefined : word;

/** A Twilio message's channel: a WhatsApp receipt says so (ChannelPrefix, `whatsapp:` addresses); an SMS's does not. */
const twilioChannel = (fields: { ChannelPrefix?: string; To?: string }): 'sms' | 'whatsapp' =>
  fields.ChannelPrefix === 'whatsapp' || fields.To?.startsWith('whatsapp:') ? 'whatsapp' : 'sms';

/** A call's facts Twilio reports (how long, the SIP answer, who answered), as a receipt's reason. */
const callFacts = (f: { CallDuration?: string; SipResponseCode?: string; AnsweredBy?: string }): string | undefined =>
  [
    f.CallDuration && `CallDuration ${f.CallDuration} s`,
    f.SipResponseCode && `SipResponseCode ${f.SipResponseCode}`,
    f.AnsweredBy && `AnsweredBy ${f.AnsweredBy}`,
  ]
    .filter(Boolean)
    .join(', ') || undefined;

const Address = Type.Optional(Type.String({ maxLength: 100 }));

const MetaError = Type.Object({
  code: Type.Union([Type.Integer(), Type.String({ maxLength: 32 })]),
  title: Type.Optional(Type.String({ maxLength: 1000 })),
  message: Type.Optional(Type.String({ maxLength: 1000 })),
  error_data: Type.Optional(Type.Object({ details: Type.Optional(Type.String({ maxLength: 2000 })) })),
});
const MetaStatus = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256, description: 'The wamid.… the send was answered with.' }),
  status: Type.String({ maxLength: 32, description: 'sent, delivered, read or failed' }),
  timestamp: Type.Optional(Type.String({ maxLength: 32 })),
  recipient_id: Type.Optional(Type.String({ maxLength: 100 })),
  errors: Type.Optional(Type.Array(MetaError, { maxItems: 16 })),
});
type MetaStatus = Static<typeof MetaStatus>;
/** Only what is read: a person's messages and other fields pass unread, whatever they hold. */
const MetaWebhook = Type.Object({
  object: Type.Optional(Type.String({ maxLength: 64 })),
  entry: Type.Array(
    Type.Object({
      changes: Type.Optional(
        Type.Array(
          Type.Object({
            field: Type.Optional(Type.String({ maxLength: 64 })),
            value: Type.Optional(Type.Object({ statuses: Type.Optional(Type.Array(MetaStatus)) })),
          }),
        ),
      ),
    }),
  ),
});
const MetaAnswer = Type.Object({
  statuses: Type.Integer({ description: 'Statuses of messages the body carried.' }),
  changed: Type.Integer({ description: 'Messages they moved to a final state.' }),
  unknown: Type.Integer({
    description:
      'Statuses naming no message Meta accepted from us: answered 200 all the same, or Meta would retry them for days.',
  }),
});

/** Meta's failure as a receipt's code and words: its error code, and its details (titles are being retired). */
function metaFailure(status: MetaStatus): { errorCode?: string; reason?: string } {
  const error = status.errors?.[0];
  if (!error) return {};
  return { errorCode: String(error.code), reason: error.error_data?.details || error.message || error.title };
}

/** Providers' receipts: Twilio's StatusCallbacks (messages and calls), Meta's WhatsApp webhook, the generic SMS provider's, and email events from any mail provider's bridge. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { config: settings, makeLimiter } = services;
  // one budget for every route: a forger gains nothing by switching
  const forged = makeLimiter({ keyPrefix: 'webhook-forged', points: FORGED_PER_MINUTE, durationSeconds: 60 });
  const twilioTokens = twilioAuthTokens(settings);

  await app.register(async (scope) => {
    const twilio = scope.withTypeProvider<TypeBoxTypeProvider>();
    twilioSigned(twilio, twilioStatusCallback, twilioTokens, settings.PUBLIC_URL, forged);
    twilio.post(
      TWILIO_STATUS_PATH,
      {
        ...limits,
        schema: {
          tags,
          summary:
            "Twilio's StatusCallback for an SMS or a WhatsApp message (form fields as Twilio posts them, signed with X-Twilio-Signature)",
          description:
            'A WhatsApp message is named by `ChannelPrefix=whatsapp` or its `whatsapp:` addresses; its `read` counts as `delivered`.',
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({
            MessageSid: Type.String({ minLength: 1, maxLength: 64 }),
            MessageStatus: Type.String({ maxLength: 32 }),
            ErrorCode: Type.Optional(Type.String({ maxLength: 16 })),
            To: Address,
            From: Address,
            ChannelPrefix: Type.Optional(Type.String({ maxLength: 32 })),
            ChannelToAddress: Address,
            ChannelInstallSid: Type.Optional(Type.String({ maxLength: 64 })),
          }),
          response: answers,
        },
      },
      async (request) => {
        const { MessageSid, MessageStatus, ErrorCode } = request.body;
        const status = TWILIO_STATUS[MessageStatus] ?? 'sent';
        const applied = await takeReceipt(services, {
          channel: twilioChannel(request.body),
          provider: 'twilio',
          ref: { providerId: MessageSid },
          status,
          errorCode: ErrorCode || undefined,
          said: saidUnlessOurs(MessageStatus, status),
        });
        return answer(applied);
      },
    );
  });

  await app.register(async (scope) => {
    const calls = scope.withTypeProvider<TypeBoxTypeProvider>();
    twilioSigned(calls, twilioCallStatusCallback, twilioTokens, settings.PUBLIC_URL, forged);
    calls.post(
      TWILIO_CALL_STATUS_PATH,
      {
        ...limits,
        schema: {
          tags,
          summary:
            "Twilio's status callback for a call that reads a code (form fields as Twilio posts them, signed with X-Twilio-Signature)",
          description:
            '`completed` (answered) counts as `delivered`; `busy`, `no-answer` and `canceled` as `undelivered`; `failed` as `failed`; ' +
            'the progress before (`queued`, `initiated`, `ringing`, `in-progress`) changes nothing. ' +
            'How an unanswered call ended is kept as its code; `CallDuration`, `SipResponseCode` and `AnsweredBy` in its words.',
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({
            CallSid: Type.String({ minLength: 1, maxLength: 64 }),
            CallStatus: Type.String({ maxLength: 32 }),
            CallDuration: Type.Optional(Type.String({ maxLength: 16 })),
            SipResponseCode: Type.Optional(Type.String({ maxLength: 16 })),
            AnsweredBy: Type.Optional(Type.String({ maxLength: 32 })),
            To: Address,
            From: Address,
          }),
          response: answers,
        },
      },
      async (request) => {
        const { CallSid, CallStatus } = request.body;
        const status = TWILIO_CALL_STATUS[CallStatus] ?? 'sent';
        const unanswered = status === 'undelivered' || status === 'failed';
        const applied = await takeReceipt(services, {
          channel: 'voice',
          provider: 'twilio',
          ref: { providerId: CallSid },
          status,
          reason: callFacts(request.body),
          // how an unanswered call ended is its code (delivery/reasons.ts words each); an answered one is only said
          ...(unanswered ? { errorCode: CallStatus } : { said: saidUnlessOurs(CallStatus, status) }),
        });
        return answer(applied);
      },
    );
  });

  await app.register(async (scope) => {
    const meta = scope.withTypeProvider<TypeBoxTypeProvider>();
    const byMeta = settings.WHATSAPP_PROVIDER === 'meta';
    hmacSigned(
      meta,
      {
        secret: byMeta ? settings.WHATSAPP_APP_SECRET : undefined,
        name: 'WHATSAPP_APP_SECRET',
        header: 'X-Hub-Signature-256',
        unset: 'WHATSAPP_PROVIDER=meta and WHATSAPP_APP_SECRET are not both set',
      },
      forged,
      // a stranger's message to the business number may hold any text: only the statuses taken are checked
      jsonBodyReader(meta, { unstorable: 'pass' }),
    );
    const verifyToken = byMeta ? settings.WHATSAPP_VERIFY_TOKEN : undefined;
    meta.get(
      WHATSAPP_WEBHOOK_PATH,
      {
        ...limits,
        schema: {
          tags,
          summary: "Meta's subscription check: answers hub.challenge when hub.verify_token is WHATSAPP_VERIFY_TOKEN",
          querystring: Type.Object({
            'hub.mode': Type.Optional(Type.String({ maxLength: 32 })),
            'hub.verify_token': Type.Optional(Type.String({ maxLength: 256 })),
            'hub.challenge': Type.Optional(Type.String({ pattern: '^[0-9A-Za-z._-]{1,128}$' })),
          }),
          response: {
            200: { description: 'hub.challenge, as sent', content: { 'text/plain': { schema: Type.String() } } },
            ...errors('validation_error', 'forbidden', 'rate_limited'),
          },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const challenge = query['hub.challenge'];
        if (
          !verifyToken ||
          query['hub.mode'] !== 'subscribe' ||
          challenge === undefined ||
          !sameSecret(query['hub.verify_token'] ?? '', verifyToken)
        ) {
          // a guess at the token spends the guesser's budget of forgeries
          await forged.consume(clientBucket(request.ip, request.socket.remoteAddress), FORGED_MESSAGE);
          throw new AppError(
            'forbidden',
            verifyToken
              ? 'Not a subscription check with the verify token (hub.mode=subscribe, hub.verify_token, hub.challenge).'
              : 'The subscription check is refused: WHATSAPP_PROVIDER=meta and WHATSAPP_VERIFY_TOKEN are not both set.',
          );
        }
        return reply.type('text/plain; charset=utf-8').send(challenge);
      },
    );
    meta.post(
      WHATSAPP_WEBHOOK_PATH,
      {
        ...metaLimits,
        schema: {
          tags,
          summary:
            "Meta's WhatsApp webhook: statuses of our messages, signed X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body, key WHATSAPP_APP_SECRET>",
          description:
            '`delivered` and `read` count as `delivered`, `failed` as `failed` with its error code and details; `sent` changes nothing. ' +
            "A person's messages and other fields are ignored. Any signed body is answered 200, even one naming no message of ours.",
          body: MetaWebhook,
          response: { 200: MetaAnswer, ...errors(...WRITES, 'forbidden') },
        },
      },
      async (request) => {
        const statuses = request.body.entry.flatMap((entry) =>
          (entry.changes ?? []).flatMap((change) => (change.field === 'messages' && change.value?.statuses) || []),
        );
        refuseUnstorable(statuses);
        let changed = 0;
        let unknown = 0;
        // in the order Meta listed them: a message's first final word is the one it keeps
        for (const entry of statuses) {
          const status = META_STATUS[entry.status] ?? 'sent';
          const applied = await takeReceipt(services, {
            channel: 'whatsapp',
            provider: 'meta',
            ref: { providerId: entry.id },
            status,
            said: saidUnlessOurs(entry.status, status),
            ...(status === 'failed' ? metaFailure(entry) : {}),
          });
          if (!applied) unknown++;
          else if (applied.changed) changed++;
        }
        return { statuses: statuses.length, changed, unknown };
      },
    );
  });

  await app.register(async (scope) => {
    const sms = scope.withTypeProvider<TypeBoxTypeProvider>();
    hmacSigned(sms, { secret: settings.SMS_WEBHOOK_SECRET, name: 'SMS_WEBHOOK_SECRET' }, forged);
    sms.post(
      '/api/v1/webhooks/sms/status',
      {
        ...limits,
        schema: {
          tags,
          summary:
            "The generic SMS provider's receipt, signed X-Signature: sha256=<hex HMAC-SHA256 of the body, key SMS_WEBHOOK_SECRET>",
          body: Type.Object({
            id: Type.String({
              minLength: 1,
              maxLength: 200,
              description: "The provider's id of the message, as it answered the send.",
            }),
            status: Type.Union([
              Type.Literal('sent'),
              Type.Literal('delivered'),
              Type.Literal('undelivered'),
              Type.Literal('failed'),
            ]),
            error_code: Type.Optional(Type.String({ maxLength: 100 })),
            error_message: Type.Optional(Type.String({ maxLength: 1000 })),
          }),
          response: answers,
        },
      },
      async (request) => {
        const { id, status, error_code, error_message } = request.body;
        const applied = await takeReceipt(services, {
          channel: 'sms',
          provider: 'http',
          ref: { providerId: id },
          status,
          errorCode: error_code,
          reason: error_message,
        });
        return answer(applied);
      },
    );
  });

  await app.register(async (scope) => {
    const email = scope.withTypeProvider<TypeBoxTypeProvider>();
    hmacSigned(email, { secret: settings.EMAIL_WEBHOOK_SECRET, name: 'EMAIL_WEBHOOK_SECRET' }, forged);
    email.post(
      '/api/v1/webhooks/email/events',
      {
        ...limits,
        schema: {
          tags,
          summary:
            "A mail provider's event, bridged: signed X-Signature: sha256=<hex HMAC-SHA256 of the body, key EMAIL_WEBHOOK_SECRET>",
          description:
            'Name the message by `message_id` (our id: the X-Panic-Message-Id header of the mail) or `provider_id` (its Message-ID). ' +
            '`bounced` means a hard bounce: the address is suppressed, as after `complained`.',
          body: Type.Object({
            message_id: Type.Optional(Type.String({ maxLength: 64 })),
            provider_id: Type.Optional(Type.String({ minLength: 1, maxLength: 998 })),
            event: Type.Union([Type.Literal('delivered'), Type.Literal('bounced'), Type.Literal('complained')]),
            reason: Type.Optional(Type.String({ maxLength: 1000 })),
          }),
          response: answers,
        },
      },
      async (request) => {
        const { message_id, provider_id, event, reason } = request.body;
        if (!message_id === !provider_id)
          throw new AppError('validation_error', 'Give exactly one of message_id and provider_id.');
        const kind: SuppressionKind | undefined =
          event === 'bounced' ? 'bounce' : event === 'complained' ? 'complaint' : undefined;
        const applied = await takeReceipt(services, {
          channel: 'email',
          provider: 'smtp',
          ref: message_id ? { messageId: message_id } : { providerId: provider_id! },
          // a complaint comes from a mailbox the mail reached
          status: event === 'complained' ? 'delivered' : event,
          reason,
          suppress: kind && { kind, reason: `${event}${reason ? `: ${reason}` : ''}` },
        });
        return answer(applied);
      },
    );
  });
};
